/* `mimic run`: the bot. Until the Discord runtime lands this checks configuration and token. */
#include <stdio.h>

#include "cli/cli.h"

int cmd_run(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  char *tok = cfg_token(c);
  if (!tok) {
    cli_error("%s", err_msg());
    cfg_destroy(c);
    return 1;
  }
  cli_error("the Discord runtime is not built yet (issue 2)");
  mem_free(tok);
  cfg_destroy(c);
  return 1;
}
