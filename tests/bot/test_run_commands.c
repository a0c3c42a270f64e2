/* `mimic run` registers the slash commands at READY only when they changed: against both doubles,
 * a first run sends one bulk overwrite (PUT /applications/{app}/commands) and records its hash in
 * the database; a second run on the same database sends nothing. SKIPs without node or MIMIC_BIN.
 */
#include "bot/bot.h"
#include "discord/gw_double.h"
#include "discord/rest_double.h"
#include "store/store.h"
#include "test.h"

#define TOKEN "tok-0123456789abcdef"

static char store_env[128];

static pid_t mimic_start(int rest_port) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin || access(bin, X_OK) != 0) return 0;
  char api[128];
  snprintf(api, sizeof api, "MIMIC_DISCORD_API=http://127.0.0.1:%d/api/v10", rest_port);
  char *envp[] = {api,
                  "DISCORD_TOKEN=" TOKEN,
                  "MIMIC_CONFIG=/dev/null",
                  "MIMIC_LOG_LEVEL=error",
                  store_env,
                  "MIMIC_ENGINE_MODEL=/nonexistent/model.gguf",
                  NULL};
  char *argv[] = {(char *)bin, "run", NULL};
  pid_t pid = 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  int rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  return rc == 0 ? pid : 0;
}

static int stop(pid_t pid) {
  kill(pid, SIGINT);
  int st = 0;
  uint64_t deadline = clock_mono_ms() + 20000;
  while (waitpid(pid, &st, WNOHANG) == 0) {
    if (clock_mono_ms() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &st, 0);
      return -1;
    }
    clock_sleep_ms(10);
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static size_t commands_puts(const rest_double *rd) {
  json_t *log = rd_log(rd);
  size_t i, n = 0;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "method", ""), "PUT") == 0 &&
        strcmp(jv_str(e, "path", ""), "/api/v10/applications/1000/commands") == 0)
      n++;
  }
  json_decref(log);
  return n;
}

/* Waits (bounded) until the database holds the commands' hash (have_msg 0) or message have_msg. */
static bool wait_db(const char *path, uint64_t have_msg) {
  for (uint64_t deadline = clock_mono_ms() + 20000; clock_mono_ms() < deadline;
       clock_sleep_ms(50)) {
    store *db = NULL;
    if (store_open(path, &db)) {
      err_clear();
      continue;
    }
    bool ok = false;
    if (have_msg) {
      store_msg_list l = {0};
      ok = store_msg_get(db, have_msg, &l) == 0 && l.n == 1;
      store_msg_list_free(&l);
    } else {
      char h[17];
      ok = bot_commands_hash_get(db, 1000, 0, h) == 0 && h[0];
    }
    err_clear();
    store_close(db);
    if (ok) return true;
  }
  return false;
}

TEST(run_registers_the_commands_once_and_again_only_when_changed) {
  char db_path[] = "/tmp/mimic-cmds-db-XXXXXX";
  int dbfd = mkstemp(db_path);
  REQUIRE(dbfd >= 0);
  close(dbfd);
  unlink(db_path);
  snprintf(store_env, sizeof store_env, "MIMIC_STORE_PATH=%s", db_path);
  gwd d;
  if (gwd_start(&d,
                "{\"connections\":["
                "[{\"hello\":300},{\"expect\":\"identify\"},{\"ready\":{}},"
                "{\"wait_heartbeats\":400}],"
                "[{\"hello\":300},{\"expect\":\"identify\"},{\"ready\":{}},"
                "{\"dispatch\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"6\",\"channel_id\":\"6\","
                "\"content\":\"after ready\",\"author\":{\"id\":\"7\",\"username\":\"ana\"}}},"
                "{\"wait_heartbeats\":400}]]}",
                NULL) != 0)
    SKIP("node or the gateway double unavailable");
  char cfg_json[256];
  snprintf(cfg_json, sizeof cfg_json,
           "{\"token\":\"" TOKEN "\",\"app_id\":\"1000\",\"gateway_url\":\"ws://127.0.0.1:%d\"}",
           d.port);
  rest_double rd;
  if (rd_start(&rd, cfg_json) != 0) {
    gwd_stop(&d);
    SKIP("the REST double is unavailable");
  }
  pid_t p1 = mimic_start(rd.port);
  if (!p1) {
    rd_stop(&rd);
    gwd_stop(&d);
    SKIP("MIMIC_BIN not set");
  }
  /* registered (the database is created and migrated by then: only now may the test open it),
   * and its hash recorded */
  for (uint64_t deadline = clock_mono_ms() + 20000;
       commands_puts(&rd) == 0 && clock_mono_ms() < deadline;)
    clock_sleep_ms(20);
  CHECK(wait_db(db_path, 0));
  CHECK_INT(stop(p1), 0);
  CHECK_INT(commands_puts(&rd), 1);
  /* the same definitions on the next start: READY is handled (the message after it is stored),
   * nothing is sent */
  pid_t p2 = mimic_start(rd.port);
  REQUIRE(p2 > 0);
  CHECK(wait_db(db_path, 6));
  CHECK_INT(stop(p2), 0);
  CHECK_INT(commands_puts(&rd), 1);
  rd_stop(&rd);
  gwd_stop(&d);
  char side[64];
  unlink(db_path);
  snprintf(side, sizeof side, "%s-wal", db_path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db_path);
  unlink(side);
}

int main(void) {
  RUN(run_registers_the_commands_once_and_again_only_when_changed);
  TEST_MAIN_END();
}
