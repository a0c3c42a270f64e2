/* Tests for configuration: precedence, validation, the shipped example, and the token file. */
#include <ctype.h>
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
  CHECK_NEAR(cfg_num(c, CFG_BOT_RESPONSE_RATE), 0.05, 1e-12);
  CHECK_INT(cfg_source_of(c, CFG_BOT_RESPONSE_RATE), CFG_SRC_DEFAULT);
  CHECK_OK(cfg_load_file(c, path));
  CHECK_NEAR(cfg_num(c, CFG_BOT_RESPONSE_RATE), 0.5, 1e-12);
  CHECK_STR(cfg_str(c, CFG_BOT_PREFIX), "? #");
  CHECK_INT(cfg_source_of(c, CFG_BOT_RESPONSE_RATE), CFG_SRC_FILE);
  setenv("MIMIC_BOT_RESPONSE_RATE", "0.25", 1);
  CHECK_OK(cfg_load_env(c));
  unsetenv("MIMIC_BOT_RESPONSE_RATE");
  CHECK_NEAR(cfg_num(c, CFG_BOT_RESPONSE_RATE), 0.25, 1e-12);
  CHECK_INT(cfg_source_of(c, CFG_BOT_RESPONSE_RATE), CFG_SRC_ENV);
  CHECK_OK(cfg_set(c, "bot.response_rate", "1", CFG_SRC_LIVE));
  CHECK_NEAR(cfg_num(c, CFG_BOT_RESPONSE_RATE), 1.0, 1e-12);
  cfg_unset_live(c, "bot.response_rate");
  CHECK_NEAR(cfg_num(c, CFG_BOT_RESPONSE_RATE), 0.25, 1e-12);
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
  CHECK_STR(cfg_str(c, CFG_LOG_LEVEL), "info");
  cfg_destroy(c);
}

/* If line (a line of the example, '#' and spaces already skipped) is "name = ...", copies name. */
static bool example_key(const char *line, char *name, size_t cap) {
  size_t n = 0;
  while ((line[n] >= 'a' && line[n] <= 'z') || line[n] == '_') n++;
  const char *p = line + n;
  while (*p == ' ') p++;
  if (!n || *p != '=' || n >= cap) return false;
  memcpy(name, line, n);
  name[n] = 0;
  return true;
}

/* Every key of the table is documented in mimic.conf.example (set or commented out), and the
 * example's commented-out lines, uncommented, load too: the example and the table cannot drift. */
TEST(example_documents_every_key) {
  const char *src = getenv("MIMIC_SRC");
  if (!src) SKIP("MIMIC_SRC not set");
  char path[4096], line[1024], section[64] = "", name[64], full[160];
  snprintf(path, sizeof path, "%s/mimic.conf.example", src);
  FILE *f = fopen(path, "r");
  REQUIRE(f != NULL);
  char out[] = "/tmp/mimic_cfg_XXXXXX";
  int fd = mkstemp(out);
  REQUIRE(fd >= 0);
  FILE *w = fdopen(fd, "w");
  int n = 0;
  for (const cfg_key *k = cfg_keys(); k->name; k++) n++;
  bool *found = calloc((size_t)n, 1);
  while (fgets(line, sizeof line, f)) {
    const char *p = line;
    if (*p == '[') {
      snprintf(section, sizeof section, "%.*s", (int)strcspn(p + 1, "]"), p + 1);
      fputs(line, w);
      continue;
    }
    while (*p == '#' || *p == ' ') p++;
    if (!example_key(p, name, sizeof name)) continue;
    fputs(p, w);
    snprintf(full, sizeof full, "%s.%s", section, name);
    const cfg_key *k = cfg_key_find(full);
    if (!k) TEST_FAIL_("mimic.conf.example names %s, which is not in the key table", full);
    if (k) found[k - cfg_keys()] = true;
  }
  fclose(f);
  fclose(w);
  for (int i = 0; i < n; i++)
    if (!found[i]) TEST_FAIL_("%s is not documented in mimic.conf.example", cfg_keys()[i].name);
  free(found);
  cfg *c = cfg_new();
  CHECK_OK(cfg_load_file(c, out));
  cfg_destroy(c);
  unlink(out);
  CHECK(cfg_key_find("web.enabled") == NULL); /* no dashboard yet: not offered */
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

/* Makes a fresh folder under /tmp; path must hold 64 bytes. */
static void temp_dir(char *path) {
  snprintf(path, 64, "/tmp/mimic_cfgd_XXXXXX");
  REQUIRE(mkdtemp(path) != NULL);
}

static void rm_rf(const char *dir) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  CHECK(system(cmd) == 0);
}

TEST(folders_are_not_files) {
  unsetenv("DISCORD_TOKEN");
  char dir[64];
  temp_dir(dir);
  cfg *c = cfg_new();
  CHECK_INT(cfg_load_file(c, dir), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "is a folder, not a config file") != NULL);
  CHECK_OK(cfg_set(c, "discord.token_file", dir, CFG_SRC_FILE));
  chmod(dir, 0700); /* neither "readable by other users" nor "empty": a folder */
  CHECK(cfg_token(c) == NULL);
  CHECK(strstr(err_msg(), "names a folder") != NULL);
  chmod(dir, 0755);
  CHECK(cfg_token(c) == NULL);
  CHECK(strstr(err_msg(), "names a folder") != NULL);
  cfg_destroy(c);
  rm_rf(dir);
}

TEST(token_in_a_readable_config_file_is_refused) {
  unsetenv("DISCORD_TOKEN");
  char dir[64], path[128];
  temp_dir(dir);
  snprintf(path, sizeof path, "%s/mimic.conf", dir);
  write_file(path, "[discord]\ntoken = abc.def.ghi\n", 0644);
  cfg *c = cfg_new();
  CHECK_INT(cfg_load_file(c, path), MIMIC_EAUTH);
  CHECK(strstr(err_msg(), "mimic.conf:2: discord.token is in a config file that other users") !=
        NULL);
  CHECK(strstr(err_msg(), "DISCORD_TOKEN") != NULL);
  CHECK(strstr(err_msg(), "discord.token_file") != NULL);
  cfg_destroy(c);
  c = cfg_new();
  chmod(path, 0600);
  CHECK_OK(cfg_load_file(c, path));
  char *t = cfg_token(c);
  CHECK_STR(t, "abc.def.ghi");
  mem_free(t);
  cfg_destroy(c);
  write_file(path, "[discord]\ntoken =\napi = http://127.0.0.1:1\n", 0644); /* no token: fine */
  c = cfg_new();
  CHECK_OK(cfg_load_file(c, path));
  cfg_destroy(c);
  rm_rf(dir);
}

TEST(relative_paths_are_from_the_config_folder) {
  char dir[64], path[128], want[256];
  temp_dir(dir);
  snprintf(path, sizeof path, "%s/mimic.conf", dir);
  write_file(path,
             "data.dir = state\nlog.file = ./mimic.log\n[engine]\nmodel = models/base.gguf\n"
             "adapter = /abs/lora.gguf\nbackend = local\n",
             0600);
  cfg *c = cfg_new();
  CHECK_STR(cfg_str(c, CFG_STORE_PATH), "data/mimic.db");
  CHECK_OK(cfg_load_file(c, path));
  snprintf(want, sizeof want, "%s/state", dir);
  CHECK_STR(cfg_str(c, CFG_DATA_DIR), want);
  snprintf(want, sizeof want, "%s/state/mimic.db", dir); /* data.dir moves the database */
  CHECK_STR(cfg_str(c, CFG_STORE_PATH), want);
  CHECK_INT(cfg_source_of(c, CFG_STORE_PATH), CFG_SRC_DEFAULT);
  snprintf(want, sizeof want, "%s/mimic.log", dir);
  CHECK_STR(cfg_str(c, CFG_LOG_FILE), want);
  snprintf(want, sizeof want, "%s/models/base.gguf", dir);
  CHECK_STR(cfg_str(c, CFG_ENGINE_MODEL), want);
  CHECK_STR(cfg_str(c, CFG_ENGINE_ADAPTER), "/abs/lora.gguf");
  CHECK_STR(cfg_str(c, CFG_ENGINE_BACKEND), "local"); /* not a path */
  setenv("MIMIC_DATA_DIR", "/srv/mimic", 1);          /* the environment is from the cwd */
  CHECK_OK(cfg_load_env(c));
  unsetenv("MIMIC_DATA_DIR");
  CHECK_STR(cfg_str(c, CFG_STORE_PATH), "/srv/mimic/mimic.db");
  cfg_destroy(c);
  /* store.path set: data.dir does not move it. "." is the file's own folder. */
  write_file(path, "store.path = db/chat.db\ndata.dir = .\n", 0600);
  c = cfg_new();
  CHECK_OK(cfg_load_file(c, path));
  CHECK_STR(cfg_str(c, CFG_DATA_DIR), dir);
  snprintf(want, sizeof want, "%s/db/chat.db", dir);
  CHECK_STR(cfg_str(c, CFG_STORE_PATH), want);
  cfg_destroy(c);
  rm_rf(dir);
}

TEST(check_refuses_what_cannot_work) {
  cfg *c = cfg_new();
  CHECK_INT(cfg_set(c, "bot.admins", "alice", CFG_SRC_FILE), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "bot.admins: 'alice' is not a Discord id") != NULL);
  CHECK_INT(cfg_set(c, "bot.admins", "123, @bob", CFG_SRC_FILE), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "'@bob'") != NULL);
  CHECK_INT(cfg_set(c, "discord.guilds", "0", CFG_SRC_FILE), MIMIC_EINVAL);
  CHECK_OK(cfg_set(c, "bot.admins", " 123456789012345678 , 42,", CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "bot.channels", "", CFG_SRC_FILE));
  CHECK_INT(cfg_set(c, "discord.intents", "0", CFG_SRC_FILE), MIMIC_ERANGE);
  char path[] = "/tmp/mimic_cfg_XXXXXX";
  int fd = mkstemp(path);
  close(fd);
  write_file(path, "[bot]\nprefix = !\nprefix = ?\n", 0600);
  CHECK_INT(cfg_load_file(c, path), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), ":3: bot.prefix is set twice (first on line 2)") != NULL);
  write_file(path, "bot.cooldown_s = 5\n[bot]\ncooldown_s = 6\n", 0600);
  CHECK_INT(cfg_load_file(c, path), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "set twice") != NULL);
  write_file(path, "\xEF\xBB\xBF[bot]\nprefix = ?\nadmins =   # nobody yet\n",
             0600); /* a BOM, as Notepad writes */
  CHECK_OK(cfg_load_file(c, path));
  CHECK_STR(cfg_str(c, CFG_BOT_PREFIX), "?");
  CHECK_STR(cfg_str(c, CFG_BOT_ADMINS), "");
  cfg_destroy(c);
  unlink(path);
}

/* The whole path: `mimic config check` with a bad environment value prints one clean sentence. */
TEST(config_check_prints_clean_errors) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) SKIP("MIMIC_BIN not set");
  char cmd[4096], out[4096];
  snprintf(cmd, sizeof cmd,
           "MIMIC_CONFIG=/dev/null MIMIC_BOT_RESPONSE_RATE=abc '%s' config check 2>&1", bin);
  FILE *p = popen(cmd, "r");
  REQUIRE(p != NULL);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  CHECK(pclose(p) != 0);
  CHECK(strstr(out, "environment variable MIMIC_BOT_RESPONSE_RATE: bot.response_rate: 'abc' is "
                    "not a number\n") != NULL);
  CHECK(strstr(out, "bot.response_rate: bot.response_rate") == NULL);
}

/* config_ids.h and the table agree: every handle has its row, and each row's handle is its name in
 * upper case with '.' as '_' (the row records the handle's spelling, "CFG_" #id). */
TEST(handles_match_the_table) {
  int n = 0;
  for (const cfg_key *k = cfg_keys(); k->name; k++) n++;
  CHECK_INT(n, CFG__COUNT);
  for (int i = 0; i < CFG__COUNT; i++) {
    const cfg_key *k = cfg_key_get((cfg_id)i);
    REQUIRE(k->name != NULL);
    char want[80] = "CFG_";
    size_t j = 4;
    for (const char *p = k->name; *p && j + 1 < sizeof want; p++)
      want[j++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    want[j] = 0;
    CHECK_STR(k->handle, want);
    CHECK_INT(cfg_key_id(k), i);
    CHECK(cfg_key_find(k->name) == k);
  }
  CHECK_STR(cfg_key_get(CFG_BOT_RESPONSE_RATE)->name, "bot.response_rate");
  cfg *c = cfg_new();
  CHECK_OK(cfg_set(c, "bot.response_rate", "0.5", CFG_SRC_FILE));
  CHECK_NEAR(cfg_num(c, CFG_BOT_RESPONSE_RATE), 0.5, 1e-12);
  CHECK_INT(cfg_source_of(c, CFG_BOT_RESPONSE_RATE), CFG_SRC_FILE);
  CHECK_INT(cfg_int(c, CFG_ENGINE_CTX), 4096);
  CHECK(cfg_bool(c, CFG_DISCORD_COMPRESS));
  CHECK_STR(cfg_str(c, CFG_BOT_PREFIX), "!");
  cfg_destroy(c);
}

/* Defaults and bounds come from the table, for code that must not repeat them. */
TEST(defaults_and_bounds_from_the_table) {
  CHECK_INT(cfg_key_default_int(CFG_COLLECT_WINDOW), 10);
  CHECK_NEAR(cfg_key_default_num(CFG_COLLECT_VALID_FRAC), 0.05, 1e-12);
  CHECK(!cfg_key_default_bool(CFG_COLLECT_REQUIRE_CONSENT));
  CHECK_STR(cfg_key_default(CFG_DISCORD_TOKEN), "");
  CHECK_STR(cfg_key_default(CFG_ENGINE_MODEL), "models/base.gguf");
  double lo = 0, hi = 0;
  CHECK(cfg_key_bounds(CFG_COLLECT_WINDOW, &lo, &hi));
  CHECK_NEAR(lo, 2, 0);
  CHECK_NEAR(hi, 64, 0);
  CHECK(!cfg_key_bounds(CFG_BOT_PREFIX, &lo, &hi));
  CHECK_OK(cfg_key_check(CFG_COLLECT_WINDOW, "64"));
  CHECK_INT(cfg_key_check(CFG_COLLECT_WINDOW, "99"), MIMIC_ERANGE);
  CHECK_STR(err_msg(), "collect.window must be between 2 and 64, not 99");
  CHECK_INT(cfg_key_check(CFG_COLLECT_VALID_FRAC, "x"), MIMIC_EINVAL);
  CHECK_STR(err_msg(), "collect.valid_frac: 'x' is not a number");
  CHECK_INT(cfg_key_check(CFG_BOT_ADMINS, "me"), MIMIC_EINVAL);
  /* Every default passes its own key's check. */
  for (int i = 0; i < CFG__COUNT; i++)
    if (cfg_key_get((cfg_id)i)->dflt)
      CHECK_OK(cfg_key_check((cfg_id)i, cfg_key_default((cfg_id)i)));
}

int main(void) {
  RUN(defaults_file_env_live_precedence);
  RUN(bad_values_are_clear_errors);
  RUN(errors_are_not_garbled);
  RUN(shipped_example_loads);
  RUN(example_documents_every_key);
  RUN(token_file_must_be_private);
  RUN(folders_are_not_files);
  RUN(token_in_a_readable_config_file_is_refused);
  RUN(relative_paths_are_from_the_config_folder);
  RUN(check_refuses_what_cannot_work);
  RUN(config_check_prints_clean_errors);
  RUN(handles_match_the_table);
  RUN(defaults_and_bounds_from_the_table);
  TEST_MAIN_END();
}
