/* Scheduler benchmark: the cost of one tick with many jobs on a real database file (WAL).
 * 10,000 jobs (cron expressions of every shape, in a dozen zones) are stored; then, minute by
 * simulated minute over a day, each tick lists the due jobs, claims and fires them (the run
 * function does nothing) and moves each to its next instant. Prints p50/p99/max of the tick with
 * no job due (most minutes) and of all ticks, and the cost per fired run. Goal: < 1 ms per tick.
 * Also: cron_next alone, per call, over the same expressions.
 * Usage: bench_sched [JOBS] (default 10000); BENCH_MEM=1 uses an in-memory database. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/cron.h"
#include "bot/scheduler.h"
#include "store/schedule.h"

static const char *const exprs[] = {
    "0 10 * * *",   "*/15 * * * *", "0 */6 * * *", "30 2 * * *", "0 0 * * 0",  "0 9 1 * *",
    "0 23 * * 1-5", "@every 2h",    "0 12 13 * 5", "45 1 * * *", "0 0 29 2 *", "17 4 * * sat,sun"};
static const char *const zones[] = {"UTC",
                                    "America/New_York",
                                    "Europe/London",
                                    "Australia/Lord_Howe",
                                    "Asia/Kolkata",
                                    "America/Sao_Paulo",
                                    "Europe/Berlin",
                                    "Asia/Tokyo",
                                    "Pacific/Auckland",
                                    "America/Los_Angeles",
                                    "Africa/Cairo",
                                    "America/St_Johns"};
#define NZ (sizeof zones / sizeof zones[0])
#define NE (sizeof exprs / sizeof exprs[0])

static int nothing(void *u, const store_sched_job *j, int64_t t, char *d, size_t c) {
  (void)u, (void)j, (void)t, (void)d, (void)c;
  return 0;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n) {
  if (n == 0) return;
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  printf("%-34s n %5d  p50 %8.3f ms  p99 %8.3f ms  max %8.3f ms\n", what, n, v[n / 2],
         v[(int)((double)n * 0.99)], v[n - 1]);
}

int main(int argc, char **argv) {
  int jobs = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 10000;
  if (jobs < 1) jobs = 10000;
  char path[] = "/tmp/bench_sched_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return 1;
  close(fd);
  unlink(path);
  bool mem = getenv("BENCH_MEM") != NULL;
  store *s;
  if (store_open(mem ? ":memory:" : path, &s)) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  if (store_tx_begin(s)) return 1;
  for (int i = 0; i < jobs; i++) {
    store_sched_job j;
    memset(&j, 0, sizeof j);
    snprintf(j.name, sizeof j.name, "job%05d", i);
    str_lcpy(j.kind, "digest", sizeof j.kind);
    str_lcpy(j.expr, exprs[i % NE], sizeof j.expr);
    str_lcpy(j.tz, zones[(i / NE) % NZ], sizeof j.tz);
    j.enabled = true;
    j.jitter_s = i % 3 ? 0 : 120;
    if (store_sched_add(s, &j)) return 1;
  }
  if (store_tx_commit(s)) return 1;
  scheduler *sc;
  if (sched_new(s, "bench", &sc)) return 1;
  int64_t t0 = 1796601600000LL;                        /* 2026-12-07T00:00:00Z */
  if (sched_tick(sc, t0, nothing, NULL) < 0) return 1; /* first instants */

  int minutes = 24 * 60;
  double *idle = malloc(sizeof(double) * (size_t)minutes),
         *all = malloc(sizeof(double) * (size_t)minutes);
  int n_idle = 0, n_all = 0;
  long fired = 0;
  double fire_ms = 0;
  for (int m = 1; m <= minutes; m++) {
    uint64_t a = clock_mono_ns();
    int f = sched_tick(sc, t0 + m * 60000LL, nothing, NULL);
    double ms = (double)(clock_mono_ns() - a) / 1e6;
    if (f < 0) {
      fprintf(stderr, "tick: %s\n", err_msg());
      return 1;
    }
    all[n_all++] = ms;
    if (f == 0)
      idle[n_idle++] = ms;
    else
      fired += f, fire_ms += ms;
  }
  printf("scheduler, %d jobs, %s database, one simulated day (1440 ticks)\n", jobs,
         mem ? "in-memory" : "file (WAL)");
  report("tick, nothing due", idle, n_idle);
  report("tick, all", all, n_all);
  if (fired)
    printf("%-34s %ld runs, %.3f ms per fired run (claim + finish)\n", "fired", fired,
           fire_ms / (double)fired);

  /* cron_next alone */
  cron_expr e[NE];
  tz_zone *z[NZ];
  for (size_t i = 0; i < NE; i++)
    if (cron_parse(exprs[i], &e[i])) return 1;
  for (size_t i = 0; i < NZ; i++)
    if (tz_load(zones[i], &z[i])) z[i] = NULL;
  int calls = 200000;
  uint64_t a = clock_mono_ns();
  int64_t t = t0 / 1000, sink = 0;
  for (int i = 0; i < calls; i++) {
    int64_t nx;
    if (cron_next(&e[i % NE], z[(i / NE) % NZ], t + i * 37, &nx) == 0) sink += nx & 1;
  }
  printf("%-34s %.2f us per call (%d calls, sink %lld)\n", "cron_next",
         (double)(clock_mono_ns() - a) / 1e3 / calls, calls, (long long)sink);
  for (size_t i = 0; i < NZ; i++) tz_free(z[i]);
  free(idle), free(all);
  sched_destroy(sc);
  store_close(s);
  if (!mem) {
    unlink(path);
    char side[64];
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
  }
  return 0;
}
