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
  /* log.file, rotated and pruned; a file that cannot be opened leaves the log on stderr only */
  if (*cfg_str(c, CFG_LOG_FILE)) {
    log_file_opts lo = {.path = cfg_str(c, CFG_LOG_FILE),
                        .max_bytes = cfg_int(c, CFG_LOG_MAX_FILE_MB) << 20,
                        .retention_days = (int)cfg_int(c, CFG_LOG_RETENTION_DAYS)};
    if (log_file_open(&lo)) LOG_W("log", "%s; logging to stderr only", err_msg());
  }
  if (cfg_bool(c, CFG_LOG_HASH_USER_IDS)) {
    char salt[4096];
    snprintf(salt, sizeof salt, "%s/log.salt", cfg_str(c, CFG_DATA_DIR));
    if (log_user_key_load(salt)) goto fail; /* never log ids in clear when asked not to */
  }
  return c;
fail:
  cli_error("%s", err_msg());
  cfg_destroy(c);
  return NULL;
}
