/* The AVX2+FMA+F16C set of the float-weight product (gemm_float.c): a 6 x 16 micro-kernel (twelve
 * 8-lane accumulators, two weight loads and six broadcasts per step) and the conversions through
 * F16C. Each accumulator lane is one (token, weight row, reference lane) chain, so the bits are the
 * portable set's (tests/llm/test_gemm_float.c). */
#include "llm/kernels_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>

#include "llm/kernels_avx2_int.h"

_Static_assert(GF_MR == 6 && GF_NR == 16, "the micro-kernel is 6 x 16");

/* Activations are prefetched GF_PF floats ahead (they stream from L2 or L3; the weights' lane
 * panel is in L1 or L2 and streams in order). */
#define GF_PF 192

TGT static void kern_avx2(const float *wp, const float *xp, int64_t D, float *out, int acc) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  if (acc) {
    c00 = _mm256_loadu_ps(out), c01 = _mm256_loadu_ps(out + 8);
    c10 = _mm256_loadu_ps(out + 16), c11 = _mm256_loadu_ps(out + 24);
    c20 = _mm256_loadu_ps(out + 32), c21 = _mm256_loadu_ps(out + 40);
    c30 = _mm256_loadu_ps(out + 48), c31 = _mm256_loadu_ps(out + 56);
    c40 = _mm256_loadu_ps(out + 64), c41 = _mm256_loadu_ps(out + 72);
    c50 = _mm256_loadu_ps(out + 80), c51 = _mm256_loadu_ps(out + 88);
  }
#define STEP(t, a0, a1)                                                                            \
  b = _mm256_broadcast_ss(xp + t);                                                                 \
  a0 = _mm256_fmadd_ps(w0, b, a0);                                                                 \
  a1 = _mm256_fmadd_ps(w1, b, a1)
#define STEPS                                                                                      \
  do {                                                                                             \
    __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), b;                              \
    STEP(0, c00, c01);                                                                             \
    STEP(1, c10, c11);                                                                             \
    STEP(2, c20, c21);                                                                             \
    STEP(3, c30, c31);                                                                             \
    STEP(4, c40, c41);                                                                             \
    STEP(5, c50, c51);                                                                             \
    wp += 16;                                                                                      \
    xp += 6;                                                                                       \
  } while (0)
  int64_t s = 0;
  for (; s + 8 <= D; s += 8) { /* 8 steps: 48 activations, three cache lines */
    _mm_prefetch((const char *)(xp + GF_PF), _MM_HINT_T0);
    _mm_prefetch((const char *)(xp + GF_PF + 16), _MM_HINT_T0);
    _mm_prefetch((const char *)(xp + GF_PF + 32), _MM_HINT_T0);
    STEPS;
    STEPS;
    STEPS;
    STEPS;
    STEPS;
    STEPS;
    STEPS;
    STEPS;
  }
  for (; s < D; s++) STEPS;
#undef STEPS
#undef STEP
  _mm256_storeu_ps(out, c00);
  _mm256_storeu_ps(out + 8, c01);
  _mm256_storeu_ps(out + 16, c10);
  _mm256_storeu_ps(out + 24, c11);
  _mm256_storeu_ps(out + 32, c20);
  _mm256_storeu_ps(out + 40, c21);
  _mm256_storeu_ps(out + 48, c30);
  _mm256_storeu_ps(out + 56, c31);
  _mm256_storeu_ps(out + 64, c40);
  _mm256_storeu_ps(out + 72, c41);
  _mm256_storeu_ps(out + 80, c50);
  _mm256_storeu_ps(out + 88, c51);
}

/* The panel of rows src[0, nr) (row_bytes apart; rows nr..15 zero), lane by lane (gemm_float.c's
 * layout: lane l, step s, row q at wp[(l D + s) 16 + q]). Each step's 16 rows x 16 k values are a
 * 16 x 16 block to transpose: four 8 x 8 transposes of values converted straight from the rows
 * (F16: F16C; BF16: a shift for the even values, a mask for the odd ones; F32: as loaded). */
TGT static void pack_avx2(tensor_type t, const void *src, size_t row_bytes, int nr, int64_t D,
                          float *wp) {
  const uint8_t *base = src;
  const int64_t ls = D * GF_NR; /* floats from one lane to the next */
  for (int h = 0; h < 2; h++) { /* rows 8h .. 8h + 7 */
    const uint8_t *rp[8];
    int n = nr - 8 * h < 0 ? 0 : nr - 8 * h > 8 ? 8 : nr - 8 * h;
    for (int q = 0; q < 8; q++) rp[q] = base + (size_t)(8 * h + (q < n ? q : 0)) * row_bytes;
    float *dst = wp + 8 * h;
    if (t == TT_BF16) {
      const __m256i odd = _mm256_set1_epi32((int)0xFFFF0000u);
      for (int64_t m = 0; m < D / 2; m++)
        for (int kh = 0; kh < 2; kh++) { /* k = 32 m + 16 kh ..: lanes 8 kh .. 8 kh + 7 */
          __m256i e[8], o[8];
          for (int q = 0; q < 8; q++) {
            if (q < n) {
              __m256i v = _mm256_loadu_si256(
                  (const __m256i *)(rp[q] + (size_t)(32 * m + 16 * kh) * sizeof(uint16_t)));
              o[q] = _mm256_and_si256(v, odd);
              e[q] = _mm256_slli_epi32(v, 16);
            } else {
              o[q] = e[q] = _mm256_setzero_si256();
            }
          }
          transpose8_epi32(o);
          transpose8_epi32(e);
          for (int i = 0; i < 8; i++) {
            float *d = dst + (8 * kh + i) * ls + 2 * m * GF_NR;
            _mm256_storeu_si256((__m256i *)d, o[i]);           /* step 2 m: the odd k */
            _mm256_storeu_si256((__m256i *)(d + GF_NR), e[i]); /* step 2 m + 1: the even k */
          }
        }
    } else {
      for (int64_t s = 0; s < D; s++)
        for (int kh = 0; kh < 2; kh++) { /* k = 16 s + 8 kh ..: lanes 8 kh .. 8 kh + 7 */
          __m256i v[8];
          int64_t k = 16 * s + 8 * kh;
          for (int q = 0; q < 8; q++) {
            if (q >= n)
              v[q] = _mm256_setzero_si256();
            else if (t == TT_F16)
              v[q] = _mm256_castps_si256(_mm256_cvtph_ps(
                  _mm_loadu_si128((const __m128i *)(rp[q] + (size_t)k * sizeof(uint16_t)))));
            else
              v[q] = _mm256_loadu_si256((const __m256i *)(rp[q] + (size_t)k * sizeof(float)));
          }
          transpose8_epi32(v);
          for (int i = 0; i < 8; i++)
            _mm256_storeu_si256((__m256i *)(dst + (8 * kh + i) * ls + s * GF_NR), v[i]);
        }
    }
  }
}

/* F16C rounds to nearest even, as f32_to_fp16 does, over every finite value, infinities and
 * subnormals included (a NaN stays a NaN, its payload aside). */
TGT static void act_avx2(tensor_type t, const float *src, float *dst, int64_t n) {
  int64_t i = 0;
  if (t == TT_F16)
    for (; i + 8 <= n; i += 8)
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(src + i),
                                                                _MM_FROUND_TO_NEAREST_INT)));
  if (t == TT_BF16) { /* f32_to_bf16 (nearest even; a NaN made quiet) and back, 8 at a time */
    const __m256i abs = _mm256_set1_epi32(0x7FFFFFFF), inf = _mm256_set1_epi32(0x7F800000);
    const __m256i hi = _mm256_set1_epi32((int)0xFFFF0000u), one = _mm256_set1_epi32(1);
    const __m256i bias = _mm256_set1_epi32(0x7FFF), quiet = _mm256_set1_epi32(0x00400000);
    for (; i + 8 <= n; i += 8) {
      __m256i u = _mm256_loadu_si256((const __m256i *)(src + i));
      __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, bias),
                                   _mm256_and_si256(_mm256_srli_epi32(u, 16), one));
      __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs), inf);
      r = _mm256_blendv_epi8(r, _mm256_or_si256(u, quiet), nan);
      _mm256_storeu_si256((__m256i *)(dst + i), _mm256_and_si256(r, hi));
    }
  }
  for (; i < n; i++)
    dst[i] = t == TT_F32   ? src[i]
             : t == TT_F16 ? fp16_to_f32(f32_to_fp16(src[i]))
                           : bf16_to_f32(f32_to_bf16(src[i]));
}

/* llm__hsum16's tree across the lanes, 8 outputs per register: (a_l + a_l+8), then + the one four
 * lanes on, then (u0 + u2) + (u1 + u3). */
TGT static void reduce_avx2(const float *part, float *out) {
  enum { N = GF_MR * GF_NR };
  for (int i = 0; i < N; i += 8) {
    __m256 t[8], u[4];
    for (int l = 0; l < 8; l++)
      t[l] =
          _mm256_add_ps(_mm256_loadu_ps(part + l * N + i), _mm256_loadu_ps(part + (l + 8) * N + i));
    for (int l = 0; l < 4; l++) u[l] = _mm256_add_ps(t[l], t[l + 4]);
    _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_add_ps(u[0], u[2]), _mm256_add_ps(u[1], u[3])));
  }
}

static const llm_gemm_ops ops_avx2 = {"avx2", kern_avx2, pack_avx2, act_avx2, reduce_avx2};

const llm_gemm_ops *llm__gemm_ops_avx2(void) {
  __builtin_cpu_init();
  if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return NULL;
  unsigned a, b, c, d; /* F16C: CPUID.1:ECX bit 29 */
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29)) ? &ops_avx2 : NULL;
}

#else
const llm_gemm_ops *llm__gemm_ops_avx2(void) { return NULL; }
#endif
