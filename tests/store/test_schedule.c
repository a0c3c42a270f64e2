/* Scheduled jobs and runs: the job table's contract, and exclusive claims, including two processes
 * racing for the same runs on one database file. */
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/schedule.h"
#include "test.h"

static char tmpdir[] = "/tmp/mimic_sched_XXXXXX";

static store_sched_job job(const char *name) {
  store_sched_job j;
  memset(&j, 0, sizeof j);
  snprintf(j.name, sizeof j.name, "%s", name);
  snprintf(j.kind, sizeof j.kind, "digest");
  snprintf(j.expr, sizeof j.expr, "0 10 * * *");
  snprintf(j.tz, sizeof j.tz, "Europe/London");
  j.enabled = true;
  j.guild_id = 42;
  return j;
}

static int count_job(const store_sched_job *j, void *user) {
  (void)j;
  (*(int *)user)++;
  return 0;
}

TEST(jobs) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  store_sched_job a = job("Daily digest"), b = job("memes");
  b.next_ms = 5000;
  CHECK_OK(store_sched_add(s, &a));
  CHECK_OK(store_sched_add(s, &b));
  CHECK(a.id > 0 && b.id > a.id);
  store_sched_job dup = job("DAILY DIGEST"); /* names are case-insensitive */
  CHECK_INT(store_sched_add(s, &dup), MIMIC_EINVAL);
  store_sched_job empty = job("x");
  empty.expr[0] = 0;
  CHECK_INT(store_sched_add(s, &empty), MIMIC_EINVAL);
  store_sched_job got;
  CHECK_OK(store_sched_get(s, "daily digest", &got));
  CHECK_STR(got.tz, "Europe/London");
  CHECK_STR(got.params, "{}");
  CHECK(got.guild_id == 42 && got.enabled && got.missed == SCHED_MISSED_SKIP);
  int n = 0;
  CHECK_OK(store_sched_each(s, 0, count_job, &n));
  CHECK_INT(n, 2);
  n = 0; /* due at 6000: only memes (the digest's next_ms is 0: not computed, so due too) */
  CHECK_OK(store_sched_each(s, 6000, count_job, &n));
  CHECK_INT(n, 2);
  n = 0;
  CHECK_OK(store_sched_each(s, 4000, count_job, &n));
  CHECK_INT(n, 1);
  got.enabled = false;
  CHECK_OK(store_sched_update(s, &got));
  n = 0;
  CHECK_OK(store_sched_each(s, 6000, count_job, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_sched_remove(s, "memes"));
  CHECK_INT(store_sched_remove(s, "memes"), MIMIC_ENOTFOUND);
  CHECK_INT(store_sched_get(s, "memes", &got), MIMIC_ENOTFOUND);
  store_close(s);
}

static int last_run(const store_sched_run *r, void *user) {
  *(store_sched_run *)user = *r;
  return 1;
}

TEST(claims) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  store_sched_job a = job("digest");
  REQUIRE(store_sched_add(s, &a) == 0);
  bool won;
  CHECK_OK(store_sched_claim(s, a.id, 1000, 2000, "p1", &won));
  CHECK(won);
  CHECK_OK(store_sched_claim(s, a.id, 1000, 2000, "p2", &won));
  CHECK(!won); /* the same run twice: refused */
  store_sched_job got;
  CHECK_OK(store_sched_get(s, "digest", &got));
  CHECK(got.next_ms == 2000 && got.last_ms == 1000);
  CHECK_OK(store_sched_finish(s, a.id, 1000, "ok", "posted 1 message"));
  store_sched_run r;
  memset(&r, 0, sizeof r);
  CHECK_INT(store_sched_runs(s, a.id, 10, last_run, &r), 1);
  CHECK_STR(r.status, "ok");
  CHECK_STR(r.claimed_by, "p1");
  CHECK(r.finished_ms > 0);
  CHECK_OK(store_sched_claim(s, 999, 1000, 2000, "p1", &won));
  CHECK(!won);                               /* no such job */
  CHECK_OK(store_sched_remove(s, "digest")); /* runs go with their job */
  store_close(s);
}

/* Two processes claim the same 200 runs as fast as they can: every run is won exactly once. */
TEST(two_processes) {
  char path[256];
  snprintf(path, sizeof path, "%s/race.db", tmpdir);
  store *s;
  REQUIRE(store_open(path, &s) == 0);
  store_sched_job a = job("race");
  REQUIRE(store_sched_add(s, &a) == 0);
  store_close(s);
  int fds[2][2];
  pid_t pid[2];
  for (int p = 0; p < 2; p++) {
    REQUIRE(pipe(fds[p]) == 0);
    pid[p] = fork();
    REQUIRE(pid[p] >= 0);
    if (pid[p] == 0) {
      close(fds[p][0]);
      store *c;
      if (store_open(path, &c)) _exit(3);
      int wins = 0;
      for (int i = 0; i < 200; i++) {
        bool won;
        if (store_sched_claim(c, a.id, 1000 * (int64_t)(i + 1), 1000 * (int64_t)(i + 2),
                              p ? "b" : "a", &won))
          _exit(4);
        wins += won;
      }
      store_close(c);
      if (write(fds[p][1], &wins, sizeof wins) != (ssize_t)sizeof wins) _exit(5);
      _exit(0);
    }
    close(fds[p][1]);
  }
  int total = 0;
  for (int p = 0; p < 2; p++) {
    int wins = -1, status = 0;
    CHECK(read(fds[p][0], &wins, sizeof wins) == (ssize_t)sizeof wins);
    close(fds[p][0]);
    waitpid(pid[p], &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    total += wins;
  }
  CHECK_INT(total, 200);
  REQUIRE(store_open(path, &s) == 0);
  sqlite3_stmt *st = NULL;
  int rows = -1;
  if (sqlite3_prepare_v2(store_db(s), "SELECT count(*) FROM sched_runs", -1, &st, NULL) ==
          SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    rows = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  CHECK_INT(rows, 200);
  store_close(s);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  RUN(jobs);
  RUN(claims);
  RUN(two_processes);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
  TEST_MAIN_END();
}
