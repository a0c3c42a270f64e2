/* `mimic run` end to end against both doubles: the REST double answers GET /gateway/bot with the
 * gateway double's URL; mimic identifies, stores what the gateway delivers, answers a mention
 * through the local engine and REST, and on SIGINT closes with 1000 and exits 0. With a token the
 * REST double refuses, mimic exits 1 with a sentence about the token. */
#include "gw_double.h"
#include "rest_double.h"
#include "store/store.h"
#include "test.h"

static char store_env[128];

/* Removes a test database with its WAL and shared-memory files. */
static void remove_db(const char *path) {
  char side[160];
  unlink(path);
  snprintf(side, sizeof side, "%s-wal", path);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", path);
  unlink(side);
}

/* Runs mimic run with the given token against the REST double on rest_port; returns its pid and
 * the fd of its stderr. */
static char model_env[1100] = "MIMIC_ENGINE_MODEL=/nonexistent/model.gguf";

static pid_t mimic_start(const char *token, int rest_port, int *err_fd) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin || access(bin, X_OK) != 0) return 0;
  char api[128], tok[128];
  snprintf(api, sizeof api, "MIMIC_DISCORD_API=http://127.0.0.1:%d/api/v10", rest_port);
  snprintf(tok, sizeof tok, "DISCORD_TOKEN=%s", token);
  /* A private database, and no model: the bot stores what it sees and answers commands only. */
  char *envp[] = {api,       tok,       "MIMIC_CONFIG=/dev/null",    "MIMIC_LOG_LEVEL=info",
                  store_env, model_env, "MIMIC_ENGINE_MAX_TOKENS=6", "MIMIC_ENGINE_THREADS=1",
                  NULL};
  int pfd[2];
  if (pipe(pfd) != 0) return 0;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  char *argv[] = {(char *)bin, "run", NULL};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, bin, &fa, NULL, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (rc != 0) {
    close(pfd[0]);
    return 0;
  }
  *err_fd = pfd[0];
  return pid;
}

/* Reads fd to EOF (at most cap-1 bytes kept). */
static void read_all(int fd, char *out, size_t cap) {
  size_t got = 0;
  struct pollfd p = {fd, POLLIN, 0};
  while (poll(&p, 1, 20000) > 0) {
    char tmp[4096];
    ssize_t r = read(fd, tmp, sizeof tmp);
    if (r <= 0) break;
    size_t k = (size_t)r < cap - 1 - got ? (size_t)r : cap - 1 - got;
    memcpy(out + got, tmp, k);
    got += k;
  }
  out[got] = 0;
  close(fd);
}

static int wait_exit(pid_t pid) {
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

TEST(run_connects_logs_and_stops_on_sigint) {
  char db_path[] = "/tmp/mimic-run-db-XXXXXX";
  int dbfd = mkstemp(db_path);
  REQUIRE(dbfd >= 0);
  close(dbfd);
  unlink(db_path);
  snprintf(store_env, sizeof store_env, "MIMIC_STORE_PATH=%s", db_path);
  gwd d;
  if (gwd_start(&d,
                "{\"connections\":[[{\"hello\":300},{\"expect\":\"identify\"},{\"ready\":{}},"
                "{\"dispatch\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"5\",\"channel_id\":\"6\","
                "\"content\":\"hi\","
                "\"author\":{\"id\":\"7\",\"username\":\"ana\"}}},{\"wait_heartbeats\":1}]]}",
                NULL) != 0)
    SKIP("node or the gateway double unavailable");
  char cfg_json[256];
  snprintf(cfg_json, sizeof cfg_json,
           "{\"token\":\"tok-0123456789abcdef\",\"gateway_url\":\"ws://127.0.0.1:%d\"}", d.port);
  rest_double rd;
  if (rd_start(&rd, cfg_json) != 0) {
    gwd_stop(&d);
    SKIP("the REST double is unavailable");
  }
  int err_fd = -1;
  pid_t mpid = mimic_start("tok-0123456789abcdef", rd.port, &err_fd);
  REQUIRE(mpid > 0);
  CHECK(gwd_wait(&d, "recv", 1, 0, 1, GW_WAIT_MS) >= 1); /* identified, READY sent, heartbeating */
  kill(mpid, SIGINT);
  char err[16384];
  read_all(err_fd, err, sizeof err);
  CHECK_INT(wait_exit(mpid), 0);
  CHECK(strstr(err, "READY as mimic") != NULL);
  /* The message the gateway delivered reached the store, exactly as sent. */
  store *db = NULL;
  CHECK_OK(store_open(store_env + strlen("MIMIC_STORE_PATH="), &db));
  store_msg_list l = {0};
  if (db) CHECK_OK(store_msg_get(db, 5, &l));
  CHECK_INT(l.n, 1);
  if (l.n == 1) CHECK_STR(l.items[0].content, "hi");
  store_msg_list_free(&l);
  store_close(db);
  CHECK(strstr(err, "tok-0123456789abcdef") == NULL); /* the token never reaches the log */
  CHECK(gwd_wait(&d, "close", -1, 0, 1, GW_WAIT_MS) == 1);
  json_t *log = gwd_log(&d);
  CHECK_INT(jv_int(gwd_find(log, "close", -1, 0, 0), "code", 0), 1000);
  json_t *id = gwd_find(log, "recv", 2, 0, 0);
  CHECK_STR(jv_str(json_object_get(id, "d"), "token", ""), "tok-0123456789abcdef");
  CHECK(strstr(jv_str(gwd_find(log, "connect", -1, 0, 0), "path", ""), "compress=zlib-stream") !=
        NULL);
  json_decref(log);
  rd_stop(&rd);
  gwd_stop(&d);
  remove_db(db_path);
}

TEST(run_with_a_refused_token_explains) {
  rest_double rd;
  if (rd_start(&rd, "{\"token\":\"the-right-token-123\"}") != 0)
    SKIP("node or the REST double unavailable");
  int err_fd = -1;
  pid_t mpid = mimic_start("a-wrong-token-4567", rd.port, &err_fd);
  REQUIRE(mpid > 0);
  char err[16384];
  read_all(err_fd, err, sizeof err);
  CHECK_INT(wait_exit(mpid), 1);
  CHECK(strstr(err, "Developer Portal") != NULL);
  CHECK(strstr(err, "a-wrong-token-4567") == NULL);
  rd_stop(&rd);
}

static json_t *find_post(json_t *log, const char *path) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "method", ""), "POST") == 0 && strcmp(jv_str(e, "path", ""), path) == 0)
      return e;
  }
  return NULL;
}

/* The whole bot through the real binary: a mention arrives over the gateway, the local engine
 * answers on the tiny Qwen2 model, and the reply goes out through REST as a reply to the message,
 * pinging nobody but its author, after a typing indicator. */
TEST(run_answers_a_mention_through_rest) {
  char model[1024];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", model, sizeof model))
    SKIP("../shared/testdata is absent");
  snprintf(model_env, sizeof model_env, "MIMIC_ENGINE_MODEL=%s", model);
  char db_path[] = "/tmp/mimic-run-db-XXXXXX";
  int dbfd = mkstemp(db_path);
  REQUIRE(dbfd >= 0);
  close(dbfd);
  unlink(db_path);
  snprintf(store_env, sizeof store_env, "MIMIC_STORE_PATH=%s", db_path);
  gwd d;
  if (gwd_start(&d,
                "{\"connections\":[[{\"hello\":300},{\"expect\":\"identify\"},{\"ready\":{}},"
                "{\"dispatch\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"5\",\"channel_id\":\"6\","
                "\"guild_id\":\"300\",\"content\":\"<@1000> hey what's up @everyone\","
                "\"mentions\":[{\"id\":\"1000\",\"username\":\"mimic\",\"bot\":true}],"
                "\"author\":{\"id\":\"7\",\"username\":\"ana\"}}},{\"wait_heartbeats\":400}]]}",
                NULL) != 0)
    SKIP("node or the gateway double unavailable");
  char cfg_json[512];
  snprintf(cfg_json, sizeof cfg_json,
           "{\"token\":\"tok-0123456789abcdef\",\"gateway_url\":\"ws://127.0.0.1:%d\","
           "\"seed\":{\"guilds\":[{\"id\":\"300\",\"channels\":[{\"id\":\"6\"}]}]}}",
           d.port);
  rest_double rd;
  if (rd_start(&rd, cfg_json) != 0) {
    gwd_stop(&d);
    SKIP("the REST double is unavailable");
  }
  int err_fd = -1;
  pid_t mpid = mimic_start("tok-0123456789abcdef", rd.port, &err_fd);
  REQUIRE(mpid > 0);
  /* Wait (bounded) for the reply to reach the REST double. */
  json_t *log = NULL, *post = NULL;
  for (uint64_t deadline = clock_mono_ms() + 60000; clock_mono_ms() < deadline;) {
    json_decref(log);
    log = rd_log(&rd);
    if ((post = find_post(log, "/api/v10/channels/6/messages")) != NULL) break;
    clock_sleep_ms(50);
  }
  kill(mpid, SIGINT);
  char err[16384];
  read_all(err_fd, err, sizeof err);
  CHECK_INT(wait_exit(mpid), 0);
  REQUIRE(post != NULL);
  json_t *body = json_object_get(post, "body");
  char *am = jv_dump_compact(json_object_get(body, "allowed_mentions"));
  CHECK_STR(am, "{\"parse\":[],\"replied_user\":true}");
  free(am);
  CHECK_STR(jv_str(json_object_get(body, "message_reference"), "message_id", ""), "5");
  CHECK(strlen(jv_str(body, "content", "")) > 0);
  CHECK(find_post(log, "/api/v10/channels/6/typing") != NULL);
  CHECK(strstr(err, "tok-0123456789abcdef") == NULL);
  json_decref(log);
  rd_stop(&rd);
  gwd_stop(&d);
  remove_db(db_path);
  snprintf(model_env, sizeof model_env, "MIMIC_ENGINE_MODEL=/nonexistent/model.gguf");
}

int main(void) {
  RUN(run_connects_logs_and_stops_on_sigint);
  RUN(run_answers_a_mention_through_rest);
  RUN(run_with_a_refused_token_explains);
  TEST_MAIN_END();
}
