/* Helpers shared by the subcommands: configuration loading and error printing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

void cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("mimic: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

cfg *cli_config_load(const char *path) {
  if (!path) path = getenv("MIMIC_CONFIG");
  if (!path && access("mimic.conf", F_OK) == 0) path = "mimic.conf";
  cfg *c = cfg_new();
  if (path && cfg_load_file(c, path)) goto fail;
  if (cfg_load_env(c)) goto fail;
  log_level lv;
  if (log_level_parse(cfg_str(c, CFG_LOG_LEVEL), &lv)) goto fail;
  log_set_level(lv);
  log_set_trace(cfg_str(c, CFG_LOG_TRACE));
  const char *tok = cfg_str(c, CFG_DISCORD_TOKEN);
  if (*tok) log_add_secret(tok);
  return c;
fail:
  cli_error("%s", err_msg());
  cfg_destroy(c);
  return NULL;
}
