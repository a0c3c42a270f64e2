/* Metrics registry benchmark: the cost of one instrumentation point (counter with a label,
 * histogram observation) from 1 and from T threads at once (one mutex for the registry), and the
 * time to render a page of F families. The bot records a handful of metrics per reply, so anything
 * under a microsecond per update is noise next to a generation.
 * Usage: bench_metrics [N updates per thread] [T threads] (defaults 1000000, 4). */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/base.h"
#include "base/metrics.h"

static long n_updates = 1000000;

static void *worker(void *arg) {
  (void)arg;
  static const char *const outcomes[] = {"sent", "empty", "error", "cancelled"};
  for (long i = 0; i < n_updates; i++) {
    metrics_count("mimic_replies_total", "Generations, by outcome.", "outcome", outcomes[i & 3], 1);
    metrics_observe("mimic_reply_latency_seconds", "Latency.", METRICS_SECONDS_BOUNDS, 12, NULL,
                    NULL, (double)(i % 1000) / 100.0);
  }
  return NULL;
}

static double run(int threads) {
  pthread_t th[64];
  uint64_t t0 = clock_mono_ns();
  for (int i = 0; i < threads; i++)
    if (pthread_create(&th[i], NULL, worker, NULL) != 0) return -1;
  for (int i = 0; i < threads; i++) pthread_join(th[i], NULL);
  return (double)(clock_mono_ns() - t0) / (double)(n_updates * threads * 2);
}

int main(int argc, char **argv) {
  int threads = 4;
  if (argc > 1) n_updates = strtol(argv[1], NULL, 10);
  if (argc > 2) threads = (int)strtol(argv[2], NULL, 10);
  if (threads < 1 || threads > 64 || n_updates < 1) {
    fprintf(stderr, "usage: bench_metrics [N] [T (1-64)]\n");
    return 2;
  }
  printf("1 thread:   %.1f ns per update\n", run(1));
  printf("%d threads: %.1f ns per update (all threads together)\n", threads, run(threads));
  for (int f = 0; f < 60; f++) {
    char name[64];
    snprintf(name, sizeof name, "mimic_bench_%d_total", f);
    for (int s = 0; s < 8; s++) {
      char v[16];
      snprintf(v, sizeof v, "s%d", s);
      metrics_count(name, "bench family", "k", v, 1);
    }
  }
  buf b;
  buf_init(&b, 0);
  uint64_t t0 = clock_mono_ns();
  int reps = 200;
  for (int i = 0; i < reps; i++) {
    buf_reset(&b);
    if (metrics_render(&b)) return 1;
  }
  printf("render: %.1f us for a %zu-byte page (62 families)\n",
         (double)(clock_mono_ns() - t0) / 1000.0 / reps, b.len);
  buf_free(&b);
  metrics_reset();
  return 0;
}
