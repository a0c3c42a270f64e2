/* Kill and resume: the history fetcher runs in a child process that is killed (SIGKILL) at random
 * moments — between pages, while requests are in flight, while a page is being committed — then run
 * again, several times, and finally to the end. The store must then hold exactly the double's
 * messages (nothing lost, nothing extra), and the runs together may have asked for no more pages
 * than one full fetch plus, per kill and channel, the page in flight and the one waiting for the
 * store (a re-run continues, it does not start over). The seed is printed; MIMIC_TEST_SEED=N
 * repeats a run. */
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <time.h>

#include "fetch_helpers.h"
#include "test.h"

#define CONCURRENCY 3

/* 4 channels of 600, an active thread of 250 and an archived one of 120. */
#define SCENARIO                                                                                   \
  "{\"buckets\": {\"GET /channels/{channel_id}/messages\": {\"limit\": 5, \"window_ms\": 100}}, "  \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": ["                                        \
  "{\"id\": \"10\", \"messages\": 600}, {\"id\": \"11\", \"messages\": 600},"                      \
  "{\"id\": \"12\", \"messages\": 600}, {\"id\": \"13\", \"type\": 5, \"messages\": 600},"         \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"10\", \"messages\": 250},"                      \
  "{\"id\": \"21\", \"type\": 11, \"parent_id\": \"11\", \"archived\": true, \"messages\": 120}"   \
  "]}]}}"

/* One full fetch: each channel's full pages plus its final short page. */
#define PAGES_NEEDED (4 * 7 + 3 + 2)

static const char *needle = "\"route\":\"GET /channels/{channel_id}/messages\",";

/* Page requests the double answered (not the 429s a fresh process can run into: it does not know
 * what the killed one used of the rate limits). */
static long count_pages(const rest_double *d) {
  FILE *f = fopen(d->log_path, "r");
  if (!f) return 0;
  long n = 0;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0)
    if (strstr(line, needle) && strstr(line, "\"status\":200")) n++;
  free(line);
  fclose(f);
  return n;
}

/* The child: one fetch run against the double into the database at path. */
static void child_run(const rest_double *d, const char *path) {
  log_set_level(getenv("MIMIC_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
  store *s = NULL;
  if (store_open(path, &s)) _exit(3);
  rest *r = fh_rest(d, "tok");
  if (!r) _exit(4);
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  o.concurrency = CONCURRENCY;
  collect_fetch_stats st;
  int rc = collect_fetch_run(s, r, &o, &st);
  rest_destroy(r);
  store_close(s);
  _exit(rc ? 1 : 0);
}

static uint64_t rng_state;
static unsigned rnd(unsigned n) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (unsigned)(rng_state % n);
}

TEST(kill_at_random_moments_then_resume) {
  rest_double d;
  if (rd_start(&d, SCENARIO) != 0) SKIP("node or the double is missing");
  const char *env = getenv("MIMIC_TEST_SEED");
  uint64_t seed = env ? strtoull(env, NULL, 10) : (uint64_t)time(NULL);
  printf("     seed %llu\n", (unsigned long long)seed);
  rng_state = seed * 2654435761u + 1;
  char path[64];
  store *s0 = fh_store(path); /* create the schema, then close: no connection crosses a fork */
  REQUIRE(s0);
  store_close(s0);

  int kills = 0, finished_early = 0;
  for (int round = 0; round < 8; round++) {
    long target = count_pages(&d) + 1 + (long)rnd(10);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) child_run(&d, path);
    int status = 0;
    bool exited = false;
    /* wait for the child to reach its kill point (a number of page requests seen by the double) */
    while (count_pages(&d) < target) {
      if (waitpid(pid, &status, WNOHANG) == pid) {
        exited = true;
        break;
      }
      usleep(500);
    }
    if (exited) {
      CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
      finished_early++;
      break;
    }
    usleep(rnd(4000)); /* anywhere: mid-request, mid-commit, between pages */
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    kills++;
  }
  printf("     %d kills\n", kills);
  CHECK(kills > 0);
  /* the last run goes to the end */
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) child_run(&d, path);
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  store *s = NULL;
  REQUIRE(store_open(path, &s) == 0);
  int64_t expected = 0;
  CHECK_INT(fh_compare(s, &d, NULL, 0, &expected), 0);
  CHECK_INT(expected, 4 * 600 + 250 + 120);
  CHECK_INT(fh_stored_total(s), expected);
  sqlite3_stmt *st = NULL;
  REQUIRE(sqlite3_prepare_v2(store_db(s), "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0), "ok");
  sqlite3_finalize(st);
  /* every channel's cursor is complete */
  uint64_t ids[] = {10, 11, 12, 13, 20, 21};
  for (size_t i = 0; i < 6; i++) {
    store_fetch_state fs;
    CHECK_OK(store_fetch_state_get(s, ids[i], &fs));
    CHECK(fs.complete);
  }
  /* resumed, not restarted: at most the pages in flight or queued at each kill were asked twice */
  long pages = count_pages(&d);
  printf("     %ld page requests for %d pages\n", pages, PAGES_NEEDED);
  CHECK(pages >= PAGES_NEEDED);
  CHECK(pages <= PAGES_NEEDED + (long)kills * CONCURRENCY * 2);
  json_t *log = rd_log(&d);
  printf("     429s after restarts: %zu bucket, %zu global\n",
         rd_count(log, NULL, "hit_empty", true), rd_count(log, NULL, "global_exceeded", true));
  if (getenv("MIMIC_TEST_VERBOSE")) {
    size_t i;
    json_t *e;
    json_array_foreach(log, i, e) printf("     %s\n", jv_str(e, "path", ""));
  }
  json_decref(log);
  store_close(s);
  fh_store_remove(path);
  rd_stop(&d);
}

int main(void) {
  RUN(kill_at_random_moments_then_resume);
  TEST_MAIN_END();
}
