/* Bot overhead benchmark: the bot's own cost, with the engine replaced by a trivial fake, on a
 * real database file (WAL). Measures, p50/p99 over N mentions:
 *   in:  MESSAGE_CREATE received -> generation submitted (memory, router, prompt, submit), and
 *        the whole event with the store write that follows the submit;
 *   out: completion queued -> send action called (post-processing, send, statistics);
 * and the throughput of the whole loop with 50 busy channels (the fake engine answering from its
 * own thread, completions coming back through the wake callback). Goal: under 5 ms p99.
 * Usage: bench_bot [N] (default 2000); BENCH_MEM=1 uses an in-memory database (no disk). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot/bot_harness.h"
#include "bot/fake_backend.h"
#include "store/store.h"

#define SELF     1000
#define CHANNELS 50

static uint64_t t_sent;
static int sends;
static int b_send(void *u, const bot_send *m) {
  (void)u, (void)m;
  t_sent = clock_mono_ns();
  sends++;
  return 0;
}
static int b_typing(void *u, uint64_t ch) {
  (void)u, (void)ch;
  return 0;
}

static pthread_mutex_t wmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wcv = PTHREAD_COND_INITIALIZER;
static int woken;
static void wake(void *u) {
  (void)u;
  pthread_mutex_lock(&wmu);
  woken = 1;
  pthread_cond_signal(&wcv);
  pthread_mutex_unlock(&wmu);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void report(const char *what, double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  printf("%-44s p50 %7.3f ms   p99 %7.3f ms   max %7.3f ms\n", what, v[n / 2],
         v[(int)((double)n * 0.99)], v[n - 1]);
}

static void history(bot *b, uint64_t *id, int per_channel) {
  for (int c = 0; c < CHANNELS; c++)
    for (int i = 0; i < per_channel; i++) {
      h_msg hm;
      h_message(&hm, ++*id, 100 + (uint64_t)c, 1,
                (h_user){20 + (uint64_t)(i % 7), "someone", false},
                "just some ordinary chat text to fill the channel's memory, nothing special");
      if (bot_handle_event(b, &hm.ev)) err_clear();
    }
}

int main(int argc, char **argv) {
  int n = 2000;
  if (argc > 1) {
    int64_t v;
    if (str_to_i64(argv[1], &v) || v < 10 || v > 1000000) {
      fprintf(stderr, "usage: bench_bot [N >= 10]\n");
      return 2;
    }
    n = (int)v;
  }
  log_set_level(LOG_ERROR);
  char db[64];
  snprintf(db, sizeof db, "/tmp/mimic_bench_bot_%d.db", (int)getpid());
  store *s = NULL;
  if (store_open(getenv("BENCH_MEM") ? ":memory:" : db, &s)) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  cfg *c = cfg_new();
  if (cfg_set(c, "bot.response_rate", "0", CFG_SRC_FILE) ||
      cfg_set(c, "bot.user_flood_per_min", "0", CFG_SRC_FILE) ||
      cfg_set(c, "bot.queue_max", "1000", CFG_SRC_FILE))
    return 1;
  bot_actions act = {.send = b_send, .typing = b_typing};
  double *in = xcalloc((size_t)n, sizeof *in), *out = xcalloc((size_t)n, sizeof *out);
  double *whole = xcalloc((size_t)n, sizeof *whole);
  uint64_t id = 1000000;

  /* 1. Latencies, one mention at a time, on channels with a full memory. */
  fake_backend *f = fake_new(false);
  f->dflt = "a short reply, like people write here";
  bot_opts o = {.config = c, .db = s, .backend = &f->base, .actions = &act, .seed = 1};
  bot *b = NULL;
  if (bot_new(&o, &b) || h_ready(b, SELF, "mimic")) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  history(b, &id, 12);
  for (int i = 0; i < n; i++) {
    h_msg hm;
    h_message(&hm, ++id, 100 + (uint64_t)(i % CHANNELS), 1, (h_user){20, "someone", false},
              "<@1000> what do you think about that?");
    h_mention(&hm, SELF);
    uint64_t t0 = clock_mono_ns();
    if (bot_handle_event(b, &hm.ev)) err_clear();
    uint64_t t_end = clock_mono_ns();
    in[i] = (double)(f->last_submit_ns - t0) / 1e6;
    whole[i] = (double)(t_end - t0) / 1e6;
    fake_release(f, 1);
    int before = sends;
    uint64_t t1 = clock_mono_ns();
    bot_poll(b);
    out[i] = sends > before ? (double)(t_sent - t1) / 1e6 : -1;
  }
  printf("bot overhead, %d mentions over %d channels (fake engine, WAL file database)\n", n,
         CHANNELS);
  report("MESSAGE_CREATE -> generation submitted", in, n);
  report("completion -> send action", out, n);
  report("whole MESSAGE_CREATE (with the store write)", whole, n);
  bot_destroy(b);
  llm_backend_destroy(&f->base);

  /* 2. Throughput: 50 channels all busy, the engine answering at once from its own thread. */
  f = fake_new(true);
  o.backend = &f->base;
  o.wake = wake;
  if (bot_new(&o, &b) || h_ready(b, SELF, "mimic")) return 1;
  sends = 0;
  uint64_t t0 = clock_mono_ns();
  int fed = 0;
  while (sends < n) {
    /* Keep every channel busy: a new mention wherever the queue has room. */
    while (fed < n && bot_inflight(b) < 2 * CHANNELS) {
      h_msg hm;
      h_message(&hm, ++id, 100 + (uint64_t)(fed % CHANNELS), 1, (h_user){21, "other", false},
                "<@1000> and you?");
      h_mention(&hm, SELF);
      if (bot_handle_event(b, &hm.ev)) err_clear();
      fed++;
    }
    if (fed == n && bot_inflight(b) == 0) break; /* some engagement was dropped */
    pthread_mutex_lock(&wmu);
    while (!woken) pthread_cond_wait(&wcv, &wmu);
    woken = 0;
    pthread_mutex_unlock(&wmu);
    bot_poll(b);
  }
  double secs = (double)(clock_mono_ns() - t0) / 1e9;
  printf("%-44s %.0f replies/s (%d replies in %.2f s)\n", "throughput, 50 busy channels",
         sends / secs, sends, secs);
  bot_destroy(b);
  llm_backend_destroy(&f->base);
  store_close(s);
  cfg_destroy(c);
  mem_free(in);
  mem_free(out);
  mem_free(whole);
  unlink(db);
  char side[80];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  return 0;
}
