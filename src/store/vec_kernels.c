/* The kernels of vector search (see vectors.h): the exact float-by-int8 dot product, the
 * int8-by-int8 integer dot product of the prefilter, the query's quantization with its error
 * terms, and the per-row bound that makes the prefilter safe. Each kernel has a scalar reference
 * beside its AVX2 twin; the AVX2 ones are chosen at run time. */
#include <math.h>
#include <string.h>

#include "store/vectors.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VEC_X86 1
#endif

/* ---- float query . int8 row (the exact score) ---- */

float store_vec_dot_scalar(const float *q, const int8_t *r, int dim) {
  /* Eight partial sums (the AVX2 kernel keeps 32, summed in another order: both are checked
   * against a float64 reference). */
  float acc[8] = {0};
  int i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += q[i + l] * (float)r[i + l];
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < dim; i++) sum += q[i] * (float)r[i];
  return sum;
}

#ifdef VEC_X86
/* q (dim floats) . r (dim int8): int8 widened to int32 then float, FMA into four 8-lane
 * accumulators (32 elements per step, so the FMA latency is hidden). */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *q, const int8_t *r,
                                                          int dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m128i b0 = _mm_loadu_si128((const __m128i *)(r + i));
    __m128i b1 = _mm_loadu_si128((const __m128i *)(r + i + 16));
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b0)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
                           _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b0, 8))), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16),
                           _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b1)), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24),
                           _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b1, 8))), acc3);
  }
  __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  for (; i + 8 <= dim; i += 8) {
    __m128i b = _mm_loadl_epi64((const __m128i *)(r + i));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), acc);
  }
  __m128 lo = _mm256_castps256_ps128(acc), hi = _mm256_extractf128_ps(acc, 1);
  __m128 s4 = _mm_add_ps(lo, hi);
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  float sum = _mm_cvtss_f32(s1);
  for (; i < dim; i++) sum += q[i] * (float)r[i];
  return sum;
}

/* q (dim int8) . r (dim int8), exact: the sign trick (|q| unsigned times r carrying q's sign)
 * lets vpmaddubsw multiply and add pairs into int16 (at most 2 * 127 * 127 = 32258, so it never
 * saturates), vpmaddwd widens the pairs to int32. Two accumulators, 64 elements a step. */
__attribute__((target("avx2"))) static int32_t idot_avx2(const int8_t *q, const int8_t *r,
                                                         int dim) {
  const __m256i one = _mm256_set1_epi16(1);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  int i = 0;
  for (; i + 64 <= dim; i += 64) {
    __m256i q0 = _mm256_loadu_si256((const __m256i *)(q + i));
    __m256i q1 = _mm256_loadu_si256((const __m256i *)(q + i + 32));
    __m256i r0 = _mm256_loadu_si256((const __m256i *)(r + i));
    __m256i r1 = _mm256_loadu_si256((const __m256i *)(r + i + 32));
    __m256i p0 = _mm256_maddubs_epi16(_mm256_abs_epi8(q0), _mm256_sign_epi8(r0, q0));
    __m256i p1 = _mm256_maddubs_epi16(_mm256_abs_epi8(q1), _mm256_sign_epi8(r1, q1));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, one));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, one));
  }
  for (; i + 32 <= dim; i += 32) {
    __m256i q0 = _mm256_loadu_si256((const __m256i *)(q + i));
    __m256i r0 = _mm256_loadu_si256((const __m256i *)(r + i));
    __m256i p0 = _mm256_maddubs_epi16(_mm256_abs_epi8(q0), _mm256_sign_epi8(r0, q0));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, one));
  }
  __m256i acc = _mm256_add_epi32(acc0, acc1);
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
  __m128i s1 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 1));
  int32_t sum = _mm_cvtsi128_si32(s1);
  for (; i < dim; i++) sum += (int32_t)q[i] * r[i];
  return sum;
}
#endif

bool store_vec_simd(void) {
#ifdef VEC_X86
  static int have = -1;
  if (have < 0) {
    __builtin_cpu_init();
    have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return have;
#else
  return false;
#endif
}

float store_vec_dot(const float *q, const int8_t *r, int dim) {
#ifdef VEC_X86
  if (store_vec_simd()) return dot_avx2(q, r, dim);
#endif
  return store_vec_dot_scalar(q, r, dim);
}

/* ---- int8 query . int8 row (the prefilter) ---- */

int32_t store_vec_idot_scalar(const int8_t *q, const int8_t *r, int dim) {
  int32_t sum = 0;
  for (int i = 0; i < dim; i++) sum += (int32_t)q[i] * r[i];
  return sum;
}

int32_t store_vec_idot(const int8_t *q, const int8_t *r, int dim) {
#ifdef VEC_X86
  if (store_vec_simd()) return idot_avx2(q, r, dim);
#endif
  return store_vec_idot_scalar(q, r, dim);
}

#ifdef VEC_X86
__attribute__((target("avx2"))) static void idot_rows_avx2(const int8_t *q, const int8_t *rows,
                                                           size_t n, int dim, int32_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = idot_avx2(q, rows + i * (size_t)dim, dim);
}
#endif

void store_vec_idot_rows(const int8_t *q, const int8_t *rows, size_t n, int dim, int32_t *out) {
#ifdef VEC_X86
  if (store_vec_simd()) {
    idot_rows_avx2(q, rows, n, dim, out);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++) out[i] = store_vec_idot_scalar(q, rows + i * (size_t)dim, dim);
}

/* ---- the bound ---- */

void store_vec_row_norms(const int8_t *r, int dim, int32_t *l1, float *l2) {
  int64_t a = 0, s = 0;
  for (int i = 0; i < dim; i++) {
    int v = r[i];
    a += v < 0 ? -v : v;
    s += (int64_t)v * v;
  }
  *l1 = (int32_t)a;
  /* sqrt of an exact integer, rounded up to the next float so the bound stays an upper one. */
  *l2 = nextafterf((float)sqrt((double)s), INFINITY);
}

void store_vec_query_prep(const float *q, int dim, int8_t *q8, store_vec_qerr *e) {
  float step;
  store_vec_quantize(q, dim, q8, &step);
  double emax = 0, e2 = 0, qmax = 0;
  for (int i = 0; i < dim; i++) {
    /* step * q8[i] is exact in double (a float times a small integer). */
    double d = fabs((double)q[i] - (double)step * q8[i]);
    emax = d > emax ? d : emax;
    e2 += d * d;
    qmax = fabs((double)q[i]) > qmax ? fabs((double)q[i]) : qmax;
  }
  /* Roundings of these double sums are ~1e-16 relative: one part in 1e9 more covers them. */
  const double up = 1 + 1e-9;
  e->step = step;
  e->emax = emax * up;
  e->e2 = sqrt(e2) * up;
  /* The float kernel's rounding: any order of dim - 1 additions of exact (FMA) or once-rounded
   * products, then the product with the row scale: within gamma(dim + 2) * sum |q_i r_i| (Higham,
   * Accuracy and Stability, 3.1), and sum |q_i r_i| <= max|q| * sum |r_i|. */
  double u = ldexp(1.0, -24), nu = (dim + 2) * u;
  e->round = qmax * (nu / (1 - nu)) * up;
}
