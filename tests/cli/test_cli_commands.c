/* Tests for `mimic commands`: `list --json` prints, offline and without a token, exactly the array
 * a sync sends (same hash as the bot's definitions); `sync` against the REST double registers
 * them once and then only when they changed (the hash recorded in the database), per guild with
 * --guild; `clear` sends an empty array and makes the next sync send again. The real binary
 * (MIMIC_BIN); the double needs node (SKIP without). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "bot/bot.h"
#include "discord/commands.h"
#include "discord/rest_double.h"
#include "test.h"

#define TOKEN "good-token-1234567890abcdefgh"

static const char *bin;
static char db[64];

static int run(const char *env, const char *args, char *out, size_t cap) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "env -u DISCORD_TOKEN -u MIMIC_CONFIG %s %s commands %s 2>&1", env, bin,
           args);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* PUTs to a commands route in the double's log; *guild_puts: those to a guild's route; last:
 * how many commands the last one carried. */
static size_t puts_of(const rest_double *d, size_t *guild_puts, size_t *last) {
  json_t *log = rd_log(d);
  size_t i, n = 0;
  json_t *e;
  *guild_puts = 0;
  json_array_foreach(log, i, e) {
    const char *path = jv_str(e, "path", "");
    if (strcmp(jv_str(e, "method", ""), "PUT") != 0 || !strstr(path, "/commands")) continue;
    n++;
    if (strstr(path, "/guilds/")) (*guild_puts)++;
    *last = json_array_size(json_object_get(e, "body"));
  }
  json_decref(log);
  return n;
}

TEST(list_json_is_the_exact_array_offline) {
  if (!bin) SKIP("MIMIC_BIN not set");
  static char out[1 << 18];
  CHECK_INT(run("", "list --json", out, sizeof out), 0);
  json_t *printed = jv_parse(out, strlen(out), "list --json");
  REQUIRE(printed != NULL);
  discord_command defs[BOT_COMMANDS_MAX];
  size_t n = bot_commands(defs, BOT_COMMANDS_MAX);
  json_t *want = discord_commands_json(defs, n);
  char h1[17], h2[17];
  discord_commands_hash(printed, h1);
  discord_commands_hash(want, h2);
  CHECK_STR(h1, h2);
  CHECK(json_equal(printed, want));
  json_decref(printed);
  json_decref(want);
  CHECK_INT(run("", "list", out, sizeof out), 0);
  CHECK(strstr(out, "/setrate") != NULL);
  CHECK(strstr(out, "definitions hash") != NULL);
}

TEST(sync_registers_only_when_the_definitions_changed) {
  if (!bin) SKIP("MIMIC_BIN not set");
  rest_double d;
  if (rd_start(&d, "{\"token\": \"" TOKEN "\"}") != 0) SKIP("node or the double is missing");
  unlink(db);
  char env[512];
  snprintf(env, sizeof env, "DISCORD_TOKEN=" TOKEN " MIMIC_DISCORD_API=%s MIMIC_STORE_PATH=%s",
           d.base, db);
  static char out[65536];
  size_t g = 0, last = 0;
  CHECK_INT(run(env, "sync", out, sizeof out), 0);
  CHECK(strstr(out, "registered") != NULL);
  CHECK(strstr(out, TOKEN) == NULL);
  CHECK_INT(puts_of(&d, &g, &last), 1);
  discord_command defs[BOT_COMMANDS_MAX];
  CHECK_INT(last, bot_commands(defs, BOT_COMMANDS_MAX));
  /* nothing changed: nothing is sent */
  CHECK_INT(run(env, "sync", out, sizeof out), 0);
  CHECK(strstr(out, "unchanged") != NULL);
  CHECK_INT(puts_of(&d, &g, &last), 1);
  /* a guild is registered on its own, once */
  CHECK_INT(run(env, "sync --guild 81384788765712384", out, sizeof out), 0);
  CHECK_INT(run(env, "sync --guild 81384788765712384", out, sizeof out), 0);
  CHECK_INT(puts_of(&d, &g, &last), 2);
  CHECK_INT(g, 1);
  /* --force sends anyway */
  CHECK_INT(run(env, "sync --force", out, sizeof out), 0);
  CHECK_INT(puts_of(&d, &g, &last), 3);
  /* clear: an empty array, and the next sync sends again */
  CHECK_INT(run(env, "clear", out, sizeof out), 0);
  CHECK_INT(puts_of(&d, &g, &last), 4);
  CHECK_INT(last, 0);
  CHECK_INT(run(env, "sync", out, sizeof out), 0);
  CHECK_INT(puts_of(&d, &g, &last), 5);
  CHECK(last > 10);
  /* a refused token: a clear error, no PUT */
  char bad[512];
  snprintf(bad, sizeof bad,
           "DISCORD_TOKEN=wrong-token-1234567890abcdef MIMIC_DISCORD_API=%s MIMIC_STORE_PATH=%s",
           d.base, db);
  CHECK(run(bad, "sync --force", out, sizeof out) != 0);
  CHECK_INT(puts_of(&d, &g, &last), 5);
  rd_stop(&d);
  unlink(db);
  char side[96];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (bin && access(bin, X_OK) != 0) bin = NULL;
  snprintf(db, sizeof db, "/tmp/mimic_cmds_%d.db", (int)getpid());
  RUN(list_json_is_the_exact_array_offline);
  RUN(sync_registers_only_when_the_definitions_changed);
  TEST_MAIN_END();
}
