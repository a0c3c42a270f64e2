/* The forward-pass profile (profile.h): process-wide counters added to with relaxed atomics by the
 * hooks in model.c and kernels.c (kernels_int.h declares them). A handful of clock reads per
 * operation and per chunk of a matrix product, and nothing at all when the profile is off. */
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "llm/compute_pool.h"
#include "llm/kernels_int.h"
#include "llm/profile.h"

atomic_int llm__prof_on;
static _Atomic uint64_t wall[LLM_PROF_COUNT], mm_busy[TT_COUNT], attn_busy, par_avail, forwards,
    tokens;

void llm_profile_enable(bool on) { atomic_store(&llm__prof_on, on ? 1 : 0); }
bool llm_profile_enabled(void) { return atomic_load_explicit(&llm__prof_on, memory_order_relaxed); }

void llm_profile_reset(void) {
  for (int i = 0; i < LLM_PROF_COUNT; i++) atomic_store(&wall[i], 0);
  for (int i = 0; i < TT_COUNT; i++) atomic_store(&mm_busy[i], 0);
  atomic_store(&attn_busy, 0);
  atomic_store(&par_avail, 0);
  atomic_store(&forwards, 0);
  atomic_store(&tokens, 0);
}

void llm_profile_read(llm_profile *out) {
  memset(out, 0, sizeof *out);
  for (int i = 0; i < LLM_PROF_COUNT; i++) out->wall_ns[i] = atomic_load(&wall[i]);
  for (int i = 0; i < TT_COUNT; i++) out->mm_busy_ns[i] = atomic_load(&mm_busy[i]);
  out->attn_busy_ns = atomic_load(&attn_busy);
  out->par_avail_ns = atomic_load(&par_avail);
  out->forwards = atomic_load(&forwards);
  out->tokens = atomic_load(&tokens);
}

const char *llm_profile_cat_name(llm_prof_cat c) {
  static const char *const names[LLM_PROF_COUNT] = {
      "embedding", "norms",  "act. quantize", "matmul", "rope + kv store",
      "attention", "swiglu", "adds",          "forward"};
  return (unsigned)c < LLM_PROF_COUNT ? names[c] : "?";
}

uint64_t llm__prof_now(void) { return clock_mono_ns(); }

void llm__prof_wall(int cat, uint64_t t0) {
  atomic_fetch_add_explicit(&wall[cat], clock_mono_ns() - t0, memory_order_relaxed);
}

void llm__prof_mm_busy(int type, uint64_t ns) {
  atomic_fetch_add_explicit(&mm_busy[type], ns, memory_order_relaxed);
}

void llm__prof_attn_busy(uint64_t ns) {
  atomic_fetch_add_explicit(&attn_busy, ns, memory_order_relaxed);
}

void llm__prof_par(uint64_t t0, int nth) {
  atomic_fetch_add_explicit(&par_avail, (clock_mono_ns() - t0) * (uint64_t)nth,
                            memory_order_relaxed);
}

void llm__prof_forward(uint64_t t0, int n_tokens) {
  llm__prof_wall(LLM_PROF_FORWARD, t0);
  atomic_fetch_add_explicit(&forwards, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&tokens, (uint64_t)n_tokens, memory_order_relaxed);
}

/* ---- Read bandwidth ------------------------------------------------------------------------ */

#define BW_THREADS 256

typedef struct bw_job {
  const float *data;
  size_t n;
  double sums[BW_THREADS];
} bw_job;

/* Sums a slice with four independent 8-lane accumulators: with AVX2 loads the memory sets the
 * pace (a plain float loop measured ~21 GB/s per core here, AVX2 loads ~35). */
static double bw_sum(const float *d, size_t lo, size_t hi) {
  float acc[32] = {0};
  for (size_t i = lo; i + 32 <= hi; i += 32)
    for (int k = 0; k < 32; k++) acc[k] += d[i + k];
  double s = 0;
  for (int k = 0; k < 32; k++) s += acc[k];
  return s;
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2"))) static double bw_sum_avx2(const float *d, size_t lo, size_t hi) {
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

static void bw_worker(int ith, int nth, void *arg) {
  bw_job *j = arg;
  size_t per = j->n / (size_t)nth, lo = per * (size_t)ith, hi = ith == nth - 1 ? j->n : lo + per;
  lo &= ~(size_t)31;
#if defined(__x86_64__) && defined(__GNUC__)
  j->sums[ith % BW_THREADS] =
      __builtin_cpu_supports("avx2") ? bw_sum_avx2(j->data, lo, hi) : bw_sum(j->data, lo, hi);
#else
  j->sums[ith % BW_THREADS] = bw_sum(j->data, lo, hi);
#endif
}

double llm_read_bandwidth(compute_pool *cpool, size_t bytes, int reps) {
  size_t n = bytes / sizeof(float);
  float *data = xalloc(n * sizeof *data);
  for (size_t i = 0; i < n; i++) data[i] = (float)(i & 1023);
  bw_job j = {data, n, {0}};
  double best = 0;
  for (int rep = 0; rep < reps; rep++) {
    uint64_t t0 = clock_mono_ns();
    if (cpool)
      compute_pool_run(cpool, bw_worker, &j);
    else
      bw_worker(0, 1, &j);
    double bw = (double)(n * sizeof *data) / ((double)(clock_mono_ns() - t0) / 1e9);
    if (bw > best) best = bw;
  }
  mem_free(data);
  return best;
}
