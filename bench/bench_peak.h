/* The machine's FMA peak for the benchmarks' "% of peak": every thread of a compute pool runs a
 * tight loop of twelve independent fused multiply-add chains (enough to cover the latency on both
 * FMA ports) at once; best of five. */
#ifndef MIMIC_BENCH_PEAK_H
#define MIMIC_BENCH_PEAK_H
#include <time.h>

#include "llm/compute_pool.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

typedef struct bench_peak_job {
  long iters;
  int wide; /* 0: AVX2, 1: AVX-512 */
  float sink[256];
} bench_peak_job;

#if defined(__x86_64__)
/* The chains in named registers (an array here would make the compiler keep them in memory). */
#define BENCH_FMA12(T, fma, set1)                                                                  \
  T a0 = set1(0.f), a1 = set1(1.f), a2 = set1(2.f), a3 = set1(3.f), a4 = set1(4.f),                \
    a5 = set1(5.f);                                                                                \
  T a6 = set1(6.f), a7 = set1(7.f), a8 = set1(8.f), a9 = set1(9.f), a10 = set1(10.f),              \
    a11 = set1(11.f);                                                                              \
  T x = set1(0.999999f), y = set1(1e-7f);                                                          \
  for (long k = 0; k < iters; k++) {                                                               \
    a0 = fma(a0, x, y), a1 = fma(a1, x, y), a2 = fma(a2, x, y), a3 = fma(a3, x, y);                \
    a4 = fma(a4, x, y), a5 = fma(a5, x, y), a6 = fma(a6, x, y), a7 = fma(a7, x, y);                \
    a8 = fma(a8, x, y), a9 = fma(a9, x, y), a10 = fma(a10, x, y), a11 = fma(a11, x, y);            \
  }

__attribute__((target("avx2,fma"))) static inline float bench_fma_loop_avx2(long iters) {
  BENCH_FMA12(__m256, _mm256_fmadd_ps, _mm256_set1_ps)
  __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                           _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx512f"))) static inline float bench_fma_loop_avx512(long iters) {
  BENCH_FMA12(__m512, _mm512_fmadd_ps, _mm512_set1_ps)
  __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                           _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  return _mm512_reduce_add_ps(s);
}
#undef BENCH_FMA12
#endif

static inline void bench_peak_worker(int ith, int nth, void *arg) {
  (void)nth;
  bench_peak_job *j = arg;
#if defined(__x86_64__)
  j->sink[ith] = j->wide ? bench_fma_loop_avx512(j->iters) : bench_fma_loop_avx2(j->iters);
#else
  j->sink[ith] = 0;
#endif
}

/* GFLOP/s of every thread of p running `iters` steps of the loop at once (wide: AVX-512 instead of
 * AVX2; the caller checks the CPU has it), best of five. */
static inline double bench_fma_peak(compute_pool *p, int wide, long iters) {
  bench_peak_job j = {.iters = iters, .wide = wide};
  double best = 0;
  for (int r = 0; r < 5; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    compute_pool_run(p, bench_peak_worker, &j);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double t = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    double flops = (double)iters * 12 * (wide ? 16 : 8) * 2 * compute_pool_threads(p);
    if (flops / t > best) best = flops / t;
  }
  return best / 1e9;
}
#endif
