/* Benchmark of the REST scheduler: (1) the limiter's cost per request (rl_acquire + rl_complete,
 * no network) and the cost of re-asking for a request that must wait; (2) the request rate the
 * client achieves against the REST double compared with what the double's limits allow.
 * Run: cmake --build build --target bench && build/bench_rest_sched  (part 2 needs node). */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "discord/rest.h"
#include "discord/rest_double.h"

static void bench_limiter(void) {
  enum { ROUTES = 1000, N = 2000000 };
  rl_opts o;
  rl_opts_default(&o);
  o.global_limit = 1000000000;
  rl *r = rl_new(&o);
  static rl_route rt[ROUTES];
  for (int i = 0; i < ROUTES; i++) {
    char p[64];
    snprintf(p, sizeof p, "/channels/%d/messages", 100000 + i);
    if (rl_route_parse("POST", p, &rt[i]) != 0) return;
  }
  rl_headers h;
  rl_headers_init(&h);
  const char *lines[] = {"X-RateLimit-Limit: 1000000\r\n", "X-RateLimit-Remaining: 999999\r\n",
                         "X-RateLimit-Reset-After: 100000\r\n", "X-RateLimit-Bucket: abc\r\n"};
  for (int i = 0; i < 4; i++) rl_headers_parse_line(&h, lines[i], strlen(lines[i]));
  uint64_t t0 = clock_mono_ns(), granted = 0;
  for (int i = 0; i < N; i++) {
    rl_ticket t;
    uint64_t now = 1000 + (uint64_t)i / 1000;
    if (rl_acquire(r, &rt[i % ROUTES], now, &t) == 0) {
      granted++;
      rl_complete(r, &t, &rt[i % ROUTES], 200, &h, now);
    }
  }
  double ns = (double)(clock_mono_ns() - t0) / N;
  printf("limiter: %.0f ns per request (acquire + complete, %d routes, %llu granted)\n", ns, ROUTES,
         (unsigned long long)granted);
  /* a bucket that is empty: what each pump pays per waiting request */
  rl_ticket t;
  rl_headers e;
  rl_headers_init(&e);
  const char *el[] = {"X-RateLimit-Limit: 5\r\n", "X-RateLimit-Remaining: 0\r\n",
                      "X-RateLimit-Reset-After: 100\r\n"};
  for (int i = 0; i < 3; i++) rl_headers_parse_line(&e, el[i], strlen(el[i]));
  rl_route w;
  if (rl_route_parse("POST", "/channels/1/messages", &w) != 0 || rl_acquire(r, &w, 5000, &t) != 0)
    return;
  rl_complete(r, &t, &w, 200, &e, 5000);
  t0 = clock_mono_ns();
  int64_t sum = 0;
  for (int i = 0; i < N; i++) sum += rl_acquire(r, &w, 5001, &t);
  printf("limiter: %.0f ns per re-ask of a waiting request (answer %lld ms)\n",
         (double)(clock_mono_ns() - t0) / N, (long long)(sum / N));
  rl_destroy(r);
}

typedef struct tally {
  int ok, failed;
} tally;
static void cb(const rest_result *res, void *user) {
  tally *t = user;
  if (res->err)
    t->failed++;
  else
    t->ok++;
}

static void bench_double(void) {
  rest_double d;
  if (rd_start(&d, "{\"buckets\": {\"POST /channels/{channel_id}/messages\": {\"limit\": 5, "
                   "\"window_ms\": 500}},"
                   "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"10\"}, "
                   "{\"id\": \"11\"}, {\"id\": \"12\"}, {\"id\": \"13\"}]}]}}") != 0) {
    printf("double: skipped (node missing)\n");
    return;
  }
  uv_loop_t loop;
  uv_loop_init(&loop);
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  rest *r = NULL;
  if (rest_new(&loop, &o, &r) != 0) return;
  enum { N = 400 };
  tally t = {0};
  json_t *body = json_pack("{s:s}", "content", "bench");
  for (int i = 0; i < N; i++) {
    char p[64];
    snprintf(p, sizeof p, "/channels/%d/messages", 10 + i % 4);
    if (rest_request(r, "POST", p, body, cb, &t) != 0) break;
  }
  json_decref(body);
  uint64_t t0 = clock_mono_ms();
  uv_run(&loop, UV_RUN_DEFAULT);
  double s = (double)(clock_mono_ms() - t0) / 1000.0;
  rl_stats st;
  rest_stats(r, &st);
  rest_destroy(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  json_t *log = rd_log(&d);
  size_t empty = rd_count(log, NULL, "hit_empty", true);
  json_decref(log);
  rd_stop(&d);
  /* 4 channels x 5 per 500 ms = 40/s; the first request per channel also learns the bucket */
  printf("double: %d requests in %.2f s = %.1f/s of an allowed 40/s (%.0f%%), %d failed, %zu hit "
         "an empty bucket, %llu 429s\n",
         t.ok, s, t.ok / s, 100.0 * (t.ok / s) / 40.0, t.failed, empty,
         (unsigned long long)st.r429);
}

int main(void) {
  log_set_level(LOG_ERROR);
  bench_limiter();
  bench_double();
  return 0;
}
