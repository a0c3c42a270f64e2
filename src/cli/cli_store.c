/* Opening the store for a subcommand: the database named by store.path, creating its folder. */
#include <string.h>

#include "cli/cli.h"
#include "store/store.h"

struct store *cli_store_open(const cfg *c) {
  const char *path = cfg_str(c, CFG_STORE_PATH);
  if (strcmp(path, ":memory:") != 0 && fs_mkdirs_for(path) != 0) {
    cli_error("%s", err_msg());
    return NULL;
  }
  store *s = NULL;
  if (store_open(path, &s)) {
    cli_error("%s", err_msg());
    return NULL;
  }
  return s;
}
