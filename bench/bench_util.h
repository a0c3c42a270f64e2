/* Small helpers the kernel benchmarks share: picking names from a comma-separated list, and
 * repeatable random floats. */
#ifndef MIMIC_BENCH_UTIL_H
#define MIMIC_BENCH_UTIL_H
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* name is one of the comma-separated list's entries, any case (a NULL list holds every name). */
static inline bool bench_listed(const char *list, const char *name) {
  if (!list) return true;
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *e = strchr(p, ',');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    if (len == n && strncasecmp(p, name, n) == 0) return true;
    if (!e) break;
    p = e + 1;
  }
  return false;
}

/* Uniform in [-1, 1), from one xorshift64 sequence per program (the same numbers every run). */
static uint64_t bench_rng_state = 88172645463325252ull;
static inline float bench_frand(void) {
  bench_rng_state ^= bench_rng_state << 13;
  bench_rng_state ^= bench_rng_state >> 7;
  bench_rng_state ^= bench_rng_state << 17;
  return (float)((bench_rng_state >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}
#endif
