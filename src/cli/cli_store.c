/* Opening the store for a subcommand: the database named by store.path, creating its folder. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "store/store.h"

/* mkdir -p for the folders of path (not the last component). */
static int make_parents(const char *path) {
  char tmp[4096];
  if (str_lcpy(tmp, path, sizeof tmp) >= sizeof tmp) return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
    *p = '/';
  }
  return 0;
}

struct store *cli_store_open(const cfg *c) {
  const char *path = cfg_str(c, "store.path");
  if (strcmp(path, ":memory:") != 0 && make_parents(path) != 0) {
    cli_error("%s: cannot create its folder: %s", path, strerror(errno));
    return NULL;
  }
  store *s = NULL;
  if (store_open(path, &s)) {
    cli_error("%s", err_msg());
    return NULL;
  }
  return s;
}
