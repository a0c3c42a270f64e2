/* Benchmark of the history fetcher against the REST double: the page rate it achieves compared with
 * what the double's rate limits allow, in two regimes — per-channel buckets the limit (few
 * channels) and the global limit the limit (many channels) — and the messages per second stored.
 * The achieved rate is measured on the double's side (arrival times of the page requests in its
 * log, first to last), so discovery requests before the first page do not count against it.
 * Run: cmake --build build --target bench && build/bench_fetch [--quick]   (needs node) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "discord/rest.h"
#include "discord/rest_double.h"
#include "store/store.h"

typedef struct scenario {
  const char *name;
  int channels, messages; /* per channel */
  int limit, window_ms;   /* the page route's bucket, per channel */
  int concurrency;
} scenario;

static void run(const scenario *sc) {
  char text[65536];
  int n = snprintf(text, sizeof text,
                   "{\"buckets\": {\"GET /channels/{channel_id}/messages\": {\"limit\": %d, "
                   "\"window_ms\": %d}}, \"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [",
                   sc->limit, sc->window_ms);
  for (int i = 0; i < sc->channels; i++)
    n += snprintf(text + n, sizeof text - (size_t)n, "%s{\"id\": \"%d\", \"messages\": %d}",
                  i ? ", " : "", 100 + i, sc->messages);
  snprintf(text + n, sizeof text - (size_t)n, "]}]}}");
  rest_double d;
  if (rd_start(&d, text) != 0) {
    printf("%s: skipped (node or the double is missing)\n", sc->name);
    return;
  }
  char path[64];
  snprintf(path, sizeof path, "/tmp/mimic_bench_fetch_%d.db", (int)getpid());
  unlink(path);
  store *s = NULL;
  rest *r = NULL;
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  o.token = "bench";
  if (store_open(path, &s) || rest_new(NULL, &o, &r)) {
    printf("%s: setup failed: %s\n", sc->name, err_msg());
    goto out;
  }
  collect_fetch_opts fo;
  collect_fetch_opts_default(&fo);
  fo.concurrency = sc->concurrency;
  fo.threads = false;
  collect_fetch_stats st;
  uint64_t t0 = clock_mono_ns();
  if (collect_fetch_run(s, r, &fo, &st)) {
    printf("%s: fetch failed: %s\n", sc->name, err_msg());
    goto out;
  }
  double secs = (double)(clock_mono_ns() - t0) / 1e9;
  /* What the limits allow: the time the double's windows need at least for these requests, from
   * the first page on. Per channel: ceil(pages / limit) windows, the last one entered at its start;
   * globally (50 per second, every route counted): ceil(requests / 50) seconds likewise. */
  json_t *log = rd_log(&d);
  double first = -1, last = -1;
  long pages = 0, all = 0, per[256] = {0};
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    double t = jv_num(e, "t", 0);
    bool page = strcmp(jv_str(e, "route", ""), "GET /channels/{channel_id}/messages") == 0;
    if (page && first < 0) first = t;
    if (first < 0) continue;
    if (getenv("BENCH_TIMELINE")) printf("    %8.1f ms  %s\n", t - first, jv_str(e, "path", ""));
    all++;
    if (!page) continue;
    last = t;
    pages++;
    const char *pth = jv_str(e, "path", "");
    const char *c = strstr(pth, "/channels/");
    long ch = c ? strtol(c + 10, NULL, 10) - 100 : -1;
    if (ch >= 0 && ch < 256) per[ch]++;
  }
  size_t empty = rd_count(log, NULL, "hit_empty", true),
         global = rd_count(log, NULL, "global_exceeded", true);
  json_decref(log);
  double ideal_b = 0;
  for (int c = 0; c < sc->channels && c < 256; c++) {
    double t = (double)((per[c] + sc->limit - 1) / sc->limit - 1) * sc->window_ms;
    if (t > ideal_b) ideal_b = t;
  }
  double ideal_g = (double)((all + 49) / 50 - 1) * 1000.0;
  double ideal = ideal_b > ideal_g ? ideal_b : ideal_g;
  double took = last - first;
  printf("%s: %d channels x %d messages, bucket %d per %d ms, concurrency %d\n", sc->name,
         sc->channels, sc->messages, sc->limit, sc->window_ms, sc->concurrency);
  printf("  %ld pages (%ld requests in all) in %.2f s; the limits allow them in %.2f s (%s limit): "
         "%.1f%% of the allowed rate\n",
         pages, all, took / 1000.0, ideal / 1000.0, ideal_b > ideal_g ? "bucket" : "global",
         took > 0 ? 100.0 * ideal / took : 0);
  printf("  %lld messages stored in %.2f s end to end: %.0f msg/s; the store was busy %.2f s "
         "(%.0f msg/s while writing); 429s: %zu bucket, %zu global\n",
         (long long)st.inserted, secs, (double)st.inserted / secs, st.store_seconds,
         st.store_seconds > 0 ? (double)st.inserted / st.store_seconds : 0, empty, global);
out:
  rest_destroy(r);
  store_close(s);
  unlink(path);
  char p2[80];
  snprintf(p2, sizeof p2, "%s-wal", path);
  unlink(p2);
  snprintf(p2, sizeof p2, "%s-shm", path);
  unlink(p2);
  rd_stop(&d);
}

int main(int argc, char **argv) {
  bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
  log_set_level(LOG_WARN);
  scenario bucket = {"bucket-bound", 4, quick ? 1500 : 4000, 5, 1000, 8};
  scenario global = {"global-bound", 16, quick ? 800 : 2500, 5, 1000, 16};
  run(&bucket);
  run(&global);
  return 0;
}
