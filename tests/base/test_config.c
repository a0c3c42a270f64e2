/* Tests for configuration: precedence, validation, the shipped example, and the token file. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

static void write_file(const char *path, const char *text, mode_t mode) {
  FILE *f = fopen(path, "w");
  fputs(text, f);
  fclose(f);
  chmod(path, mode);
}

TEST(defaults_file_env_live_precedence) {
  char path[] = "/tmp/mimic_cfg_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  write_file(path, "# comment\n[bot]\nresponse_rate = 0.5   # half\nprefix = \"? #\"\n", 0600);
  cfg *c = cfg_new();
  CHECK_NEAR(cfg_num(c, "bot.response_rate"), 0.05, 1e-12);
  CHECK_INT(cfg_source_of(c, "bot.response_rate"), CFG_SRC_DEFAULT);
  CHECK_OK(cfg_load_file(c, path));
  CHECK_NEAR(cfg_num(c, "bot.response_rate"), 0.5, 1e-12);
  CHECK_STR(cfg_str(c, "bot.prefix"), "? #");
  CHECK_INT(cfg_source_of(c, "bot.response_rate"), CFG_SRC_FILE);
  setenv("MIMIC_BOT_RESPONSE_RATE", "0.25", 1);
  CHECK_OK(cfg_load_env(c));
  unsetenv("MIMIC_BOT_RESPONSE_RATE");
  CHECK_NEAR(cfg_num(c, "bot.response_rate"), 0.25, 1e-12);
  CHECK_INT(cfg_source_of(c, "bot.response_rate"), CFG_SRC_ENV);
  CHECK_OK(cfg_set(c, "bot.response_rate", "1", CFG_SRC_LIVE));
  CHECK_NEAR(cfg_num(c, "bot.response_rate"), 1.0, 1e-12);
  cfg_unset_live(c, "bot.response_rate");
  CHECK_NEAR(cfg_num(c, "bot.response_rate"), 0.25, 1e-12);
  cfg_destroy(c);
  unlink(path);
}

TEST(bad_values_are_clear_errors) {
  cfg *c = cfg_new();
  CHECK_INT(cfg_set(c, "bot.response_rate", "2", CFG_SRC_LIVE), MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "between 0 and 1") != NULL);
  CHECK_INT(cfg_set(c, "bot.response_rate", "lots", CFG_SRC_LIVE), MIMIC_EINVAL);
  CHECK_INT(cfg_set(c, "bot.no_such_key", "1", CFG_SRC_LIVE), MIMIC_ENOTFOUND);
  char path[] = "/tmp/mimic_cfg_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  write_file(path, "[engine]\nthreads = many\n", 0600);
  CHECK(cfg_load_file(c, path) != 0);
  CHECK(strstr(err_msg(), ":2:") != NULL);
  setenv("MIMIC_ENGINE_CTX", "-5", 1);
  CHECK(cfg_load_env(c) != 0);
  CHECK(strstr(err_msg(), "MIMIC_ENGINE_CTX") != NULL);
  unsetenv("MIMIC_ENGINE_CTX");
  cfg_destroy(c);
  unlink(path);
}

/* Issue 19: the message was formatted into the buffer it was read from ("bot.response_rate:
 * bot.response_rate: er"). */
TEST(errors_are_not_garbled) {
  err_set(MIMIC_EINVAL, "'abc' is not a number");
  CHECK_INT(err_set(MIMIC_EINVAL, "%s: %s", "bot.response_rate", err_msg()), MIMIC_EINVAL);
  CHECK_STR(err_msg(), "bot.response_rate: 'abc' is not a number");
  CHECK_INT(err_prefix(MIMIC_EIO, "%s (%s)", "ctx", err_msg()), MIMIC_EIO);
  CHECK_STR(err_msg(), "ctx (bot.response_rate: 'abc' is not a number): bot.response_rate: 'abc' "
                       "is not a number");
  cfg *c = cfg_new();
  setenv("MIMIC_BOT_RESPONSE_RATE", "abc", 1);
  CHECK_INT(cfg_load_env(c), MIMIC_EINVAL);
  unsetenv("MIMIC_BOT_RESPONSE_RATE");
  CHECK_STR(
      err_msg(),
      "environment variable MIMIC_BOT_RESPONSE_RATE: bot.response_rate: 'abc' is not a number");
  CHECK_INT(cfg_set(c, "engine.threads", "many", CFG_SRC_LIVE), MIMIC_EINVAL);
  CHECK_STR(err_msg(), "engine.threads: 'many' is not a whole number");
  cfg_destroy(c);
}

TEST(shipped_example_loads) {
  const char *src = getenv("MIMIC_SRC");
  if (!src) SKIP("MIMIC_SRC not set");
  char path[4096];
  snprintf(path, sizeof path, "%s/mimic.conf.example", src);
  cfg *c = cfg_new();
  CHECK_OK(cfg_load_file(c, path));
  CHECK_STR(cfg_str(c, "log.level"), "info");
  cfg_destroy(c);
}

TEST(token_file_must_be_private) {
  unsetenv("DISCORD_TOKEN");
  char path[] = "/tmp/mimic_tok_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  cfg *c = cfg_new();
  char *t = cfg_token(c);
  CHECK(t == NULL);
  CHECK(strstr(err_msg(), "DISCORD_TOKEN") != NULL);
  write_file(path, "abc.def.ghi\n", 0644);
  CHECK_OK(cfg_set(c, "discord.token_file", path, CFG_SRC_FILE));
  t = cfg_token(c);
  CHECK(t == NULL);
  CHECK(strstr(err_msg(), "chmod 600") != NULL);
  chmod(path, 0600);
  t = cfg_token(c);
  CHECK_STR(t, "abc.def.ghi");
  mem_free(t);
  setenv("DISCORD_TOKEN", "from-env-token", 1);
  CHECK_OK(cfg_load_env(c));
  t = cfg_token(c);
  CHECK_STR(t, "from-env-token");
  mem_free(t);
  unsetenv("DISCORD_TOKEN");
  cfg_destroy(c);
  unlink(path);
}

int main(void) {
  RUN(defaults_file_env_live_precedence);
  RUN(bad_values_are_clear_errors);
  RUN(errors_are_not_garbled);
  RUN(shipped_example_loads);
  RUN(token_file_must_be_private);
  TEST_MAIN_END();
}
