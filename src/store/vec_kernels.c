/* The kernels of vector search (see vectors.h): the exact float-by-int8 dot product, the rows'
 * int8 form and bit planes, the prefilter's integer dot of an int8 query with a row's high plane,
 * the query's quantization with its error terms, and each row's bound terms. Each kernel has a
 * scalar reference beside its AVX2 twin; the AVX2 ones are chosen at run time. */
#include <math.h>
#include <string.h>

#include "store/vectors.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VEC_X86 1
#endif

/* ---- a row to int8 with its scale ---- */

void store_vec_quantize(const float *v, int dim, int8_t *q, float *scale) {
  float mx = 0;
  for (int i = 0; i < dim; i++) mx = fmaxf(mx, fabsf(v[i]));
  if (mx == 0) {
    memset(q, 0, (size_t)dim);
    *scale = 0;
    return;
  }
  float s = mx / 127.0f, inv = 127.0f / mx;
  for (int i = 0; i < dim; i++) {
    float x = roundf(v[i] * inv);
    q[i] = (int8_t)(x > 127 ? 127 : x < -127 ? -127 : x);
  }
  *scale = s;
}

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

/* ---- the prefilter: bit planes, the coarse integer dot, the bound ---- */

size_t store_vec_plane_bytes(int dim) { return (size_t)(dim + 63) / 64 * 32; }

/* Element i of a row sits in block i / 64, byte i % 32, low nibble for i % 64 < 32, else high. */
void store_vec_planes(const int8_t *r, int dim, uint8_t *hi, uint8_t *lo) {
  size_t pb = store_vec_plane_bytes(dim);
  memset(hi, 0x88, pb); /* padding: u = 8 (h = 0), l = 0 */
  memset(lo, 0, pb);
  for (int i0 = 0; i0 < dim; i0 += 64) {
    uint8_t *h = hi + i0 / 2, *l = lo + i0 / 2;
    for (int j = 0; j < 32 && i0 + j < dim; j++) {
      unsigned a = (unsigned)(r[i0 + j] + 128); /* 16 u + l, u = floor(r / 16) + 8 */
      unsigned b = i0 + 32 + j < dim ? (unsigned)(r[i0 + 32 + j] + 128) : 0x80;
      h[j] = (uint8_t)((a >> 4) | (b & 0xF0));
      l[j] = (uint8_t)((a & 0xF) | (b & 0xF) << 4);
    }
  }
}

void store_vec_unplanes_scalar(const uint8_t *hi, const uint8_t *lo, int dim, int8_t *r) {
  for (int i = 0; i < dim; i++) {
    size_t at = (size_t)(i / 64) * 32 + (size_t)(i % 32);
    int shift = i % 64 < 32 ? 0 : 4;
    unsigned b = ((hi[at] >> shift) & 0xF) << 4 | ((lo[at] >> shift) & 0xF);
    r[i] = (int8_t)((int)b - 128);
  }
}

int32_t store_vec_cdot_scalar(const int8_t *q8, const uint8_t *hi, int dim) {
  int32_t sum = 0;
  for (int i = 0; i < dim; i++) {
    size_t at = (size_t)(i / 64) * 32 + (size_t)(i % 32);
    sum += q8[i] * ((hi[at] >> (i % 64 < 32 ? 0 : 4)) & 0xF);
  }
  return sum;
}

#ifdef VEC_X86
/* sum q8[i] * u[i] over whole 64-element blocks (q8 zero past dim): vpmaddubsw takes the nibbles
 * as unsigned (0..15) against the signed query, a pair at most 2 * 15 * 127 = 3810, so the two
 * halves of a block add in int16 (7620) before vpmaddwd widens them. */
__attribute__((target("avx2"))) static int32_t cdot_avx2(const int8_t *q8, const uint8_t *hi,
                                                         size_t blocks) {
  const __m256i one = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(0x0F);
  __m256i acc0 = _mm256_setzero_si256(), acc1 = _mm256_setzero_si256();
  size_t b = 0;
  for (; b + 2 <= blocks; b += 2) {
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(hi + b * 32));
    __m256i x1 = _mm256_loadu_si256((const __m256i *)(hi + b * 32 + 32));
    __m256i p0 = _mm256_add_epi16(
        _mm256_maddubs_epi16(_mm256_and_si256(x0, m4),
                             _mm256_loadu_si256((const __m256i *)(q8 + b * 64))),
        _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(x0, 4), m4),
                             _mm256_loadu_si256((const __m256i *)(q8 + b * 64 + 32))));
    __m256i p1 = _mm256_add_epi16(
        _mm256_maddubs_epi16(_mm256_and_si256(x1, m4),
                             _mm256_loadu_si256((const __m256i *)(q8 + b * 64 + 64))),
        _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(x1, 4), m4),
                             _mm256_loadu_si256((const __m256i *)(q8 + b * 64 + 96))));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, one));
    acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(p1, one));
  }
  for (; b < blocks; b++) {
    __m256i x0 = _mm256_loadu_si256((const __m256i *)(hi + b * 32));
    __m256i p0 = _mm256_add_epi16(
        _mm256_maddubs_epi16(_mm256_and_si256(x0, m4),
                             _mm256_loadu_si256((const __m256i *)(q8 + b * 64))),
        _mm256_maddubs_epi16(_mm256_and_si256(_mm256_srli_epi16(x0, 4), m4),
                             _mm256_loadu_si256((const __m256i *)(q8 + b * 64 + 32))));
    acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(p0, one));
  }
  __m256i acc = _mm256_add_epi32(acc0, acc1);
  __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256(acc, 1));
  __m128i s2 = _mm_add_epi32(s4, _mm_unpackhi_epi64(s4, s4));
  __m128i s1 = _mm_add_epi32(s2, _mm_shuffle_epi32(s2, 1));
  return _mm_cvtsi128_si32(s1);
}

__attribute__((target("avx2"))) static void cdot_rows_avx2(const int8_t *q8, const uint8_t *hi,
                                                           size_t n, int dim, int32_t *out) {
  size_t pb = store_vec_plane_bytes(dim);
  for (size_t i = 0; i < n; i++) out[i] = cdot_avx2(q8, hi + i * pb, pb / 32);
}

/* Byte b of a block: (hi nibble << 4 | lo nibble) ^ 0x80 is the int8 value. */
__attribute__((target("avx2"))) static void unplanes_avx2(const uint8_t *hi, const uint8_t *lo,
                                                          int dim, int8_t *r) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), top = _mm256_set1_epi8((char)0xF0),
                sign = _mm256_set1_epi8((char)0x80);
  int i = 0;
  for (; i + 64 <= dim; i += 64) {
    __m256i x = _mm256_loadu_si256((const __m256i *)(hi + i / 2));
    __m256i y = _mm256_loadu_si256((const __m256i *)(lo + i / 2));
    __m256i a =
        _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(x, 4), top), _mm256_and_si256(y, m4));
    __m256i b =
        _mm256_or_si256(_mm256_and_si256(x, top), _mm256_and_si256(_mm256_srli_epi16(y, 4), m4));
    _mm256_storeu_si256((__m256i *)(r + i), _mm256_xor_si256(a, sign));
    _mm256_storeu_si256((__m256i *)(r + i + 32), _mm256_xor_si256(b, sign));
  }
  if (i < dim) {
    int8_t tail[64];
    store_vec_unplanes_scalar(hi + i / 2, lo + i / 2, dim - i, tail);
    memcpy(r + i, tail, (size_t)(dim - i));
  }
}
#endif

void store_vec_unplanes(const uint8_t *hi, const uint8_t *lo, int dim, int8_t *r) {
#ifdef VEC_X86
  if (store_vec_simd()) {
    unplanes_avx2(hi, lo, dim, r);
    return;
  }
#endif
  store_vec_unplanes_scalar(hi, lo, dim, r);
}

int32_t store_vec_cdot(const int8_t *q8, const uint8_t *hi, int dim) {
#ifdef VEC_X86
  if (store_vec_simd()) return cdot_avx2(q8, hi, store_vec_plane_bytes(dim) / 32);
#endif
  return store_vec_cdot_scalar(q8, hi, dim);
}

void store_vec_cdot_rows(const int8_t *q8, const uint8_t *hi, size_t n, int dim, int32_t *out) {
#ifdef VEC_X86
  if (store_vec_simd()) {
    cdot_rows_avx2(q8, hi, n, dim, out);
    return;
  }
#endif
  size_t pb = store_vec_plane_bytes(dim);
  for (size_t i = 0; i < n; i++) out[i] = store_vec_cdot_scalar(q8, hi + i * pb, dim);
}

/* Rounded up to the next float, so a norm stays an upper bound. */
static float up_f(double x) {
  float f = (float)x;
  return (double)f >= x ? f : nextafterf(f, INFINITY);
}

void store_vec_row_terms(const int8_t *r, int dim, store_vec_rowb *t) {
  int64_t a = 0, m1 = 0, m2 = 0, c2 = 0; /* m and c doubled, so all are integers */
  for (int i = 0; i < dim; i++) {
    int v = r[i], b = v + 128, m = 2 * (b & ~15) - 256 + 15, c = 2 * (b & 15) - 15;
    a += v < 0 ? -v : v;
    m1 += m < 0 ? -m : m;
    m2 += m * m;
    c2 += c * c;
  }
  t->l1 = (int32_t)a;
  t->m1 = up_f((double)m1 / 2);
  t->m2 = up_f(sqrt((double)m2) / 2 * (1 + 1e-15));
  t->c2 = up_f(sqrt((double)c2) / 2 * (1 + 1e-15));
}

void store_vec_query_prep(const float *q, int dim, int8_t *q8, store_vec_qerr *e) {
  float step;
  memset(q8, 0, store_vec_plane_bytes(dim) * 2);
  store_vec_quantize(q, dim, q8, &step);
  double emax = 0, e2 = 0, qmax = 0, n1 = 0, n2 = 0;
  int64_t sum = 0;
  for (int i = 0; i < dim; i++) {
    /* step * q8[i] is exact in double (a float times a small integer). */
    double d = fabs((double)q[i] - (double)step * q8[i]), a = fabs((double)q[i]);
    emax = d > emax ? d : emax;
    e2 += d * d;
    qmax = a > qmax ? a : qmax;
    n1 += a;
    n2 += a * a;
    sum += q8[i];
  }
  /* Roundings of these double sums are ~1e-16 relative per term: one part in 1e9 covers them. */
  const double up = 1 + 1e-9;
  e->step = step;
  e->sum = sum;
  e->emax = emax * up;
  e->e2 = sqrt(e2) * up;
  e->n1 = n1 * up;
  e->n2 = sqrt(n2) * up;
  /* The float kernel's rounding: any order of dim - 1 additions of exact (FMA) or once-rounded
   * products, then the product with the row scale: within gamma(dim + 2) * sum |q_i r_i| (Higham,
   * Accuracy and Stability of Numerical Algorithms, 3.1), and sum |q_i r_i| <= max|q| sum |r_i|. */
  double u = ldexp(1.0, -24), nu = (dim + 2) * u;
  e->round = qmax * (nu / (1 - nu)) * up;
}
