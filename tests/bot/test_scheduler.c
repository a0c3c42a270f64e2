/* The scheduler with a fake clock: runs fire once at their instants (in the job's zone), jitter is
 * fixed per run, missed runs follow the job's policy, a restart neither loses nor repeats a run,
 * and a process killed at random moments and restarted leaves exactly one run per instant. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h>

#include "base/base.h"
#include "bot/scheduler.h"
#include "test.h"

static char tmpdir[] = "/tmp/mimic_schedbot_XXXXXX";

static int64_t at(const char *iso) {
  int64_t ms = 0;
  if (clock_parse_iso8601(iso, &ms)) return -1;
  return ms;
}

typedef struct runs {
  int n;
  int64_t when[64];
  int fd; /* when >= 0, one byte per run is written there */
  int answer;
} runs;

static int record(void *user, const store_sched_job *j, int64_t scheduled_ms, char *detail,
                  size_t cap) {
  (void)j;
  runs *r = user;
  if (r->n < 64) r->when[r->n] = scheduled_ms;
  r->n++;
  snprintf(detail, cap, "run %d", r->n);
  if (r->fd >= 0 && write(r->fd, "x", 1) != 1) return MIMIC_EIO;
  return r->answer;
}

static store_sched_job job(const char *name, const char *expr, const char *tz) {
  store_sched_job j;
  memset(&j, 0, sizeof j);
  str_lcpy(j.name, name, sizeof j.name);
  str_lcpy(j.kind, "digest", sizeof j.kind);
  str_lcpy(j.expr, expr, sizeof j.expr);
  str_lcpy(j.tz, tz, sizeof j.tz);
  j.enabled = true;
  return j;
}

static int last_status(const store_sched_run *r, void *user) {
  str_lcpy(user, r->status, 16);
  return 1;
}

TEST(daily_in_a_zone_fires_once) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  store_sched_job j = job("digest", "0 10 * * *", "UTC");
  REQUIRE(store_sched_add(s, &j) == 0);
  scheduler *sc;
  REQUIRE(sched_new(s, "test", &sc) == 0);
  runs r = {.fd = -1};
  CHECK_INT(sched_tick(sc, at("2026-12-07T09:00:00Z"), record, &r), 0); /* first instant computed */
  store_sched_job got;
  REQUIRE(store_sched_get(s, "digest", &got) == 0);
  CHECK(got.next_ms == at("2026-12-07T10:00:00Z"));
  CHECK_INT(sched_tick(sc, at("2026-12-07T09:59:59Z"), record, &r), 0);
  CHECK_INT(sched_tick(sc, at("2026-12-07T10:00:00Z"), record, &r), 1);
  CHECK_INT(sched_tick(sc, at("2026-12-07T10:00:30Z"), record, &r), 0);
  CHECK_INT(r.n, 1);
  CHECK(r.when[0] == at("2026-12-07T10:00:00Z"));
  /* A restart (a new scheduler on the same store) does not repeat it. */
  sched_destroy(sc);
  REQUIRE(sched_new(s, "test2", &sc) == 0);
  CHECK_INT(sched_tick(sc, at("2026-12-07T10:01:00Z"), record, &r), 0);
  CHECK_INT(sched_tick(sc, at("2026-12-08T10:00:10Z"), record, &r), 1);
  CHECK_INT(r.n, 2);
  char status[16] = "";
  CHECK_INT(store_sched_runs(s, j.id, 1, last_status, status), 1);
  CHECK_STR(status, "ok");
  sched_destroy(sc);
  store_close(s);
}

TEST(zone_and_dst) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  scheduler *sc;
  REQUIRE(sched_new(s, "test", &sc) == 0);
  store_sched_job j = job("night", "30 2 * * *", "America/New_York");
  int64_t next;
  if (sched_next_instant(sc, &j, at("2026-03-07T12:00:00Z"), &next)) {
    sched_destroy(sc);
    store_close(s);
    SKIP("tzdata is not installed");
  }
  CHECK(next == at("2026-03-08T07:00:00Z")); /* 02:30 is skipped: 03:00 EDT */
  store_sched_job bad = job("bad", "30 2 * * *", "Mars/Base");
  CHECK(sched_next_instant(sc, &bad, 0, &next) != 0);
  sched_destroy(sc);
  store_close(s);
}

TEST(jitter_is_fixed_and_bounded) {
  store_sched_job j = job("j", "0 * * * *", "UTC");
  j.id = 7;
  j.jitter_s = 600;
  int64_t t = at("2026-12-07T10:00:00Z");
  int64_t f = sched_fire_time(&j, t);
  CHECK(f >= t && f <= t + 600000);
  CHECK(f == sched_fire_time(&j, t));
  bool differs = false;
  for (int h = 1; h < 24; h++)
    differs |= sched_fire_time(&j, t + h * 3600000LL) - h * 3600000LL != f;
  CHECK(differs); /* not the same offset every hour */
  j.jitter_s = 0;
  CHECK(sched_fire_time(&j, t) == t);
}

TEST(missed_runs_follow_the_policy) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  store_sched_job skip = job("skip", "0 * * * *", "UTC"), once = job("once", "0 * * * *", "UTC");
  once.missed = SCHED_MISSED_ONCE;
  REQUIRE(store_sched_add(s, &skip) == 0 && store_sched_add(s, &once) == 0);
  scheduler *sc;
  REQUIRE(sched_new(s, "test", &sc) == 0);
  runs r = {.fd = -1};
  CHECK_INT(sched_tick(sc, at("2026-12-07T09:30:00Z"), record, &r), 0);
  /* Down for three days: "skip" records one skipped run; "once" runs the latest instant once. */
  CHECK_INT(sched_tick(sc, at("2026-12-10T09:30:00Z"), record, &r), 1);
  CHECK_INT(r.n, 1);
  CHECK(r.when[0] == at("2026-12-10T09:00:00Z"));
  char status[16] = "";
  CHECK_INT(store_sched_runs(s, skip.id, 1, last_status, status), 1);
  CHECK_STR(status, "skipped");
  store_sched_job got;
  REQUIRE(store_sched_get(s, "skip", &got) == 0);
  CHECK(got.next_ms == at("2026-12-10T10:00:00Z"));
  REQUIRE(store_sched_get(s, "once", &got) == 0);
  CHECK(got.next_ms == at("2026-12-10T10:00:00Z"));
  /* Then both go on as usual. */
  CHECK_INT(sched_tick(sc, at("2026-12-10T10:00:01Z"), record, &r), 2);
  sched_destroy(sc);
  store_close(s);
}

TEST(outcomes_and_bad_jobs) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  store_sched_job j = job("quiet", "*/5 * * * *", "UTC"), bad = job("bad", "61 * * * *", "UTC");
  REQUIRE(store_sched_add(s, &j) == 0 && store_sched_add(s, &bad) == 0);
  scheduler *sc;
  REQUIRE(sched_new(s, "test", &sc) == 0);
  runs r = {.fd = -1, .answer = SCHED_RUN_SKIPPED};
  CHECK_INT(sched_tick(sc, at("2026-12-07T10:01:00Z"), record, &r), 0);
  store_sched_job got;
  REQUIRE(store_sched_get(s, "bad", &got) == 0);
  CHECK(!got.enabled); /* a bad expression disables the job */
  CHECK_INT(sched_tick(sc, at("2026-12-07T10:05:00Z"), record, &r), 1);
  char status[16] = "";
  CHECK_INT(store_sched_runs(s, j.id, 1, last_status, status), 1);
  CHECK_STR(status, "skipped");
  r.answer = MIMIC_EIO;
  CHECK_INT(sched_tick(sc, at("2026-12-07T10:10:00Z"), record, &r), 1);
  CHECK_INT(store_sched_runs(s, j.id, 1, last_status, status), 1);
  CHECK_STR(status, "failed");
  /* Run now: outside the schedule, the next instant unchanged. */
  REQUIRE(store_sched_get(s, "quiet", &got) == 0);
  int64_t next = got.next_ms;
  r.answer = 0;
  CHECK_OK(sched_run_now(sc, "quiet", at("2026-12-07T10:11:00Z"), record, &r));
  REQUIRE(store_sched_get(s, "quiet", &got) == 0);
  CHECK(got.next_ms == next);
  CHECK_INT(sched_run_now(sc, "nope", at("2026-12-07T10:11:00Z"), record, &r), MIMIC_ENOTFOUND);
  sched_destroy(sc);
  store_close(s);
}

/* A child ticks an every-minute job through 120 simulated minutes, writing a byte per run; the
 * parent kills it (SIGKILL) after a few runs, again and again, then lets one finish. Every instant
 * has exactly one run row: none lost from the ledger, none repeated. */
#define MINUTES 120
static void ticker(const char *path, int fd, int64_t base) {
  store *s;
  scheduler *sc;
  if (store_open(path, &s) || sched_new(s, "child", &sc)) _exit(3);
  runs r = {.fd = fd};
  for (int k = 0; k <= MINUTES; k++)
    if (sched_tick(sc, base + k * 60000LL, record, &r) < 0) _exit(4);
  sched_destroy(sc);
  store_close(s);
  _exit(0);
}

TEST(kill_and_restart) {
  char path[256];
  snprintf(path, sizeof path, "%s/kill.db", tmpdir);
  store *s;
  REQUIRE(store_open(path, &s) == 0);
  store_sched_job j = job("minutely", "* * * * *", "UTC");
  REQUIRE(store_sched_add(s, &j) == 0);
  store_close(s);
  int64_t base = at("2026-12-07T00:00:00Z");
  uint64_t seed = 12345;
  for (int round = 0; round < 8; round++) {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(fds[0]);
      ticker(path, fds[1], base);
    }
    close(fds[1]);
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    int want = round < 7 ? 1 + (int)(seed >> 33) % 12 : 1 << 30; /* runs to wait for */
    char c;
    int got = 0;
    while (got < want && read(fds[0], &c, 1) == 1) got++;
    if (round < 7) kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    close(fds[0]);
    if (round == 7) CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  REQUIRE(store_open(path, &s) == 0);
  sqlite3_stmt *st = NULL;
  int rows = -1, distinct = -1;
  if (sqlite3_prepare_v2(store_db(s),
                         "SELECT count(*), count(DISTINCT scheduled_ms), min(scheduled_ms), "
                         "max(scheduled_ms) FROM sched_runs",
                         -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    rows = sqlite3_column_int(st, 0);
    distinct = sqlite3_column_int(st, 1);
    CHECK(sqlite3_column_int64(st, 2) == base + 60000);
    CHECK(sqlite3_column_int64(st, 3) == base + MINUTES * 60000LL);
  }
  sqlite3_finalize(st);
  CHECK_INT(rows, MINUTES);
  CHECK_INT(distinct, MINUTES);
  store_close(s);
}

int main(void) {
  if (!mkdtemp(tmpdir)) return 1;
  RUN(daily_in_a_zone_fires_once);
  RUN(zone_and_dst);
  RUN(jitter_is_fixed_and_bounded);
  RUN(missed_runs_follow_the_policy);
  RUN(outcomes_and_bad_jobs);
  RUN(kill_and_restart);
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
  TEST_MAIN_END();
}
