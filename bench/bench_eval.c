/* Style-metric throughput: messages per second for each metric and for eval_compare_sets (with the
 * copy rate against a training set ten times larger), on synthetic Discord-like messages built from
 * a fixed word list with emoji and casing (deterministic). Shows that evaluation costs nothing next
 * to generation.
 *
 *   bench_eval [--n 20000]
 * Not run by ctest (build with `cmake --build build --target bench`). */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "eval/eval.h"
#include "llm/sampler.h"

static const char *const words[] = {"lol",
                                    "ngl",
                                    "fr",
                                    "bruh",
                                    "the",
                                    "raid",
                                    "tonight",
                                    "patch",
                                    "nerfed",
                                    "goose",
                                    "LETS",
                                    "GOOO",
                                    "honestly",
                                    "i",
                                    "think",
                                    "that",
                                    "is",
                                    "kinda",
                                    "mid",
                                    "but",
                                    "ok",
                                    "waht",
                                    "teh",
                                    "cat",
                                    "pizza",
                                    "\xF0\x9F\x98\xAD",
                                    "\xF0\x9F\x94\xA5",
                                    "\xE2\x9C\xA8",
                                    "!!!",
                                    "...",
                                    "Actually,",
                                    "the",
                                    "document",
                                    "is",
                                    "eleven",
                                    "pages.",
                                    "caf\xC3\xA9",
                                    "na\xC3\xAFve",
                                    ":kekw:",
                                    "@owl",
                                    "yeah",
                                    "same",
                                    "wait",
                                    "what",
                                    "no",
                                    "way"};

static char **make(size_t n, uint64_t seed) {
  prng r;
  prng_seed(&r, seed);
  char **v = xcalloc(n, sizeof *v);
  for (size_t i = 0; i < n; i++) {
    buf b;
    buf_init(&b, 0);
    int k = 1 + (int)(prng_next(&r) % 14);
    for (int j = 0; j < k; j++)
      if ((j && buf_putc(&b, ' ')) ||
          buf_puts(&b, words[prng_next(&r) % (sizeof words / sizeof *words)]))
        break;
    v[i] = buf_steal(&b);
  }
  return v;
}

static void drop(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) mem_free(v[i]);
  mem_free(v);
}

static double now_s(void) { return (double)clock_mono_ns() / 1e9; }

int main(int argc, char **argv) {
  size_t n = 20000;
  for (int i = 1; i + 1 < argc; i += 2) {
    uint64_t x;
    if (strcmp(argv[i], "--n") == 0 && !str_to_u64(argv[i + 1], &x) && x > 0 && x <= 1000000)
      n = (size_t)x;
  }
  char **a = make(n, 1), **b = make(n, 2), **t = make(10 * n, 3);
  const char *const *A = (const char *const *)a, *const *B = (const char *const *)b,
                    *const *T = (const char *const *)t;
  double t0, d;
  eval_style st;
  eval_compare c;
  printf("%zu messages per set (training set %zu)\n", n, 10 * n);
  t0 = now_s();
  if (eval_style_compute(A, n, &st)) return 1;
  d = now_s() - t0;
  printf("style profile      %8.3f s  %10.0f msg/s\n", d, (double)n / d);
  t0 = now_s();
  double cs;
  if (eval_tfidf_cosine(A, n, B, n, &cs)) return 1;
  d = now_s() - t0;
  printf("tf-idf cosine      %8.3f s  %10.0f msg/s\n", d, 2.0 * (double)n / d);
  t0 = now_s();
  double r;
  size_t k;
  if (eval_copy_rate(A, n, T, 10 * n, 20, &r, &k)) return 1;
  d = now_s() - t0;
  printf("copy rate          %8.3f s  %10.0f msg/s (generated + training)\n", d,
         11.0 * (double)n / d);
  t0 = now_s();
  if (eval_compare_sets(A, n, B, n, T, 10 * n, 20, &c)) return 1;
  d = now_s() - t0;
  printf("compare_sets (all) %8.3f s  %10.0f msg/s\n", d, 12.0 * (double)n / d);
  drop(a, n);
  drop(b, n);
  drop(t, 10 * n);
  return 0;
}
