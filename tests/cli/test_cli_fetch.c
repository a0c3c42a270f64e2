/* Tests for `mimic fetch` as a user runs it: the real binary (MIMIC_BIN) against the REST double,
 * configured through the environment. Checks the summary, the unreadable channel report, the
 * incremental second run, Ctrl-C (SIGINT) stopping cleanly with the next run finishing the job,
 * bad arguments, and that a refused token is reported without ever being printed. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "discord/rest_double.h"
#include "store/store.h"
#include "test.h"

#define SCENARIO                                                                                   \
  "{\"token\": \"good-token-123\", \"buckets\": {\"GET /channels/{channel_id}/messages\": "        \
  "{\"limit\": 4, \"window_ms\": 100}}, \"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": ["   \
  "{\"id\": \"10\", \"name\": \"general\", \"messages\": 1500},"                                   \
  "{\"id\": \"11\", \"name\": \"news\", \"type\": 5, \"messages\": 420},"                          \
  "{\"id\": \"13\", \"name\": \"secret\", \"messages\": 5, \"forbidden\": true},"                  \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"10\", \"name\": \"thr\", \"messages\": "        \
  "80}]}]}}"

static const char *bin;

/* Runs `mimic ARGS` with the double's address, a token and a database in the environment,
 * capturing stdout+stderr into out; returns the exit status. */
static int run(const rest_double *d, const char *db, const char *token, const char *args, char *out,
               size_t cap) {
  char cmd[2048];
  snprintf(
      cmd, sizeof cmd,
      "MIMIC_CONFIG=/dev/null MIMIC_DISCORD_API=%s DISCORD_TOKEN=%s MIMIC_STORE_PATH=%s %s %s 2>&1",
      d->base, token, db, bin, args);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int64_t stored(const char *db) {
  store *s = NULL;
  int64_t n = -1;
  if (store_open(db, &s) == 0 && store_msg_count(s, 0, &n) != 0) n = -1;
  store_close(s);
  return n;
}

static void remove_db(const char *db) {
  char p[96];
  unlink(db);
  snprintf(p, sizeof p, "%s-wal", db);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", db);
  unlink(p);
}

static long page_requests(const rest_double *d) {
  FILE *f = fopen(d->log_path, "r");
  if (!f) return 0;
  long n = 0;
  char *l = NULL;
  size_t cap = 0;
  while (getline(&l, &cap, f) > 0)
    if (strstr(l, "\"route\":\"GET /channels/{channel_id}/messages\",")) n++;
  free(l);
  fclose(f);
  return n;
}

TEST(fetch_summary_incremental_and_errors) {
  if (!bin) SKIP("MIMIC_BIN not set");
  rest_double d;
  if (rd_start(&d, SCENARIO) != 0) SKIP("node or the double is missing");
  char db[64];
  snprintf(db, sizeof db, "/tmp/mimic_cli_fetch_%d.db", (int)getpid());
  remove_db(db);
  static char out[65536];
  CHECK_INT(run(&d, db, "good-token-123", "fetch", out, sizeof out), 0);
  CHECK(strstr(out, "fetched 2,000 messages (2,000 new) from 4 channels and threads in 1 guild") !=
        NULL);
  CHECK(strstr(out, "unreadable #secret (13)") != NULL);
  CHECK(strstr(out, "Missing Access") != NULL);
  CHECK(strstr(out, "good-token-123") == NULL);
  CHECK_INT(stored(db), 2000);
  if (test_failed_checks) printf("%s\n", out);
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, NULL, "hit_empty", true), 0);
  CHECK_INT(rd_count(log, NULL, "global_exceeded", true), 0);
  json_decref(log);

  /* the second run fetches only what is new: here nothing */
  CHECK_INT(run(&d, db, "good-token-123", "fetch --quiet", out, sizeof out), 0);
  CHECK(strstr(out, "fetched 0 messages (0 new)") != NULL);
  CHECK(strstr(out, "3 done (3 had nothing new), 1 unreadable") != NULL);

  /* a refused token: a clear sentence, exit 1, and the token never printed */
  CHECK_INT(run(&d, db, "bad-token-456", "fetch", out, sizeof out), 1);
  CHECK(strstr(out, "DISCORD_TOKEN") != NULL);
  CHECK(strstr(out, "bad-token-456") == NULL);
  CHECK(strstr(out, "fetched 0 messages") == NULL); /* no summary of a run that never started */

  /* bad arguments */
  CHECK_INT(run(&d, db, "good-token-123", "fetch --guild abc", out, sizeof out), 2);
  CHECK(strstr(out, "not a guild id") != NULL);
  CHECK_INT(run(&d, db, "good-token-123", "fetch --concurrency 0", out, sizeof out), 2);
  CHECK_INT(run(&d, db, "good-token-123", "fetch --bogus", out, sizeof out), 2);
  CHECK(strstr(out, "usage: mimic fetch") != NULL);
  /* a guild the bot is not in is reported; the run still succeeds */
  CHECK_INT(run(&d, db, "good-token-123", "fetch --guild 1,777", out, sizeof out), 0);
  CHECK(strstr(out, "guild 777: the bot is not a member") != NULL);
  remove_db(db);
  rd_stop(&d);
}

TEST(ctrl_c_stops_cleanly_and_the_next_run_finishes) {
  if (!bin) SKIP("MIMIC_BIN not set");
  rest_double d;
  if (rd_start(&d, SCENARIO) != 0) SKIP("node or the double is missing");
  char db[64], env_api[160], env_db[96];
  snprintf(db, sizeof db, "/tmp/mimic_cli_fetch_int_%d.db", (int)getpid());
  remove_db(db);
  snprintf(env_api, sizeof env_api, "MIMIC_DISCORD_API=%s", d.base);
  snprintf(env_db, sizeof env_db, "MIMIC_STORE_PATH=%s", db);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      dup2(fd, 2);
    }
    char *argv[] = {(char *)bin, "fetch", "--concurrency", "1", NULL};
    char *envp[] = {env_api, env_db, "DISCORD_TOKEN=good-token-123", "MIMIC_CONFIG=/dev/null",
                    NULL};
    execve(bin, argv, envp);
    _exit(127);
  }
  int status = 0;
  bool exited = false;
  while (page_requests(&d) < 3) {
    if (waitpid(pid, &status, WNOHANG) == pid) {
      exited = true;
      break;
    }
    usleep(500);
  }
  REQUIRE(!exited);
  kill(pid, SIGINT);
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 1); /* stopped, not killed by the signal */
  int64_t first = stored(db);
  CHECK(first >= 0 && first < 2000);
  static char out[65536];
  CHECK_INT(run(&d, db, "good-token-123", "fetch --quiet", out, sizeof out), 0);
  CHECK_INT(stored(db), 2000);
  char want[96];
  snprintf(want, sizeof want, "(%lld new)", (long long)(2000 - first));
  CHECK(strstr(out, want) != NULL);
  remove_db(db);
  rd_stop(&d);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (bin && access(bin, X_OK) != 0) bin = NULL;
  RUN(fetch_summary_incremental_and_errors);
  RUN(ctrl_c_stops_cleanly_and_the_next_run_finishes);
  TEST_MAIN_END();
}
