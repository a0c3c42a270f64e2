/* Memory read bandwidth for the benchmarks' "percentage of the bandwidth bound": the best of a few
 * streaming reads of a large float array, split over a compute pool's threads. Header-only so each
 * benchmark stays one file. */
#ifndef MIMIC_BENCH_BW_H
#define MIMIC_BENCH_BW_H
#include <stddef.h>

#include "base/base.h"
#include "llm/quant.h"

#define BENCH_BW_THREADS 256

typedef struct bench_bw_job {
  const float *data;
  size_t n;
  double sums[BENCH_BW_THREADS];
} bench_bw_job;

/* Sums a slice with four independent 8-lane accumulators: with AVX2 loads the memory sets the
 * pace (a plain float loop measured ~21 GB/s per core here, AVX2 loads ~35). */
static inline double bench_bw_sum(const float *d, size_t lo, size_t hi) {
  float acc[32] = {0};
  for (size_t i = lo; i + 32 <= hi; i += 32)
    for (int k = 0; k < 32; k++) acc[k] += d[i + k];
  double s = 0;
  for (int k = 0; k < 32; k++) s += acc[k];
  return s;
}
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
__attribute__((target("avx2"))) static inline double bench_bw_sum_avx2(const float *d, size_t lo,
                                                                       size_t hi) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (size_t i = lo; i + 32 <= hi; i += 32) {
    a0 = _mm256_add_ps(a0, _mm256_loadu_ps(d + i));
    a1 = _mm256_add_ps(a1, _mm256_loadu_ps(d + i + 8));
    a2 = _mm256_add_ps(a2, _mm256_loadu_ps(d + i + 16));
    a3 = _mm256_add_ps(a3, _mm256_loadu_ps(d + i + 24));
  }
  float o[8];
  _mm256_storeu_ps(o, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
  double s = 0;
  for (int k = 0; k < 8; k++) s += o[k];
  return s;
}
#endif

static inline void bench_bw_worker(int ith, int nth, void *arg) {
  bench_bw_job *j = arg;
  size_t per = j->n / (size_t)nth, lo = per * (size_t)ith, hi = ith == nth - 1 ? j->n : lo + per;
  lo &= ~(size_t)31;
#if defined(__x86_64__) && defined(__GNUC__)
  j->sums[ith % BENCH_BW_THREADS] = __builtin_cpu_supports("avx2")
                                        ? bench_bw_sum_avx2(j->data, lo, hi)
                                        : bench_bw_sum(j->data, lo, hi);
#else
  j->sums[ith % BENCH_BW_THREADS] = bench_bw_sum(j->data, lo, hi);
#endif
}

/* Best of reps streaming reads over `bytes` with every thread of cpool (NULL: this thread only):
 * bytes/s. */
static inline double bench_read_bandwidth(compute_pool *cpool, size_t bytes, int reps) {
  size_t n = bytes / sizeof(float);
  float *data = xalloc(n * sizeof *data);
  for (size_t i = 0; i < n; i++) data[i] = (float)(i & 1023);
  bench_bw_job j = {data, n, {0}};
  double best = 0;
  for (int rep = 0; rep < reps; rep++) {
    uint64_t t0 = clock_mono_ns();
    if (cpool)
      compute_pool_run(cpool, bench_bw_worker, &j);
    else
      bench_bw_worker(0, 1, &j);
    double bw = (double)(n * sizeof *data) / ((double)(clock_mono_ns() - t0) / 1e9);
    if (bw > best) best = bw;
  }
  mem_free(data);
  return best;
}

#endif
