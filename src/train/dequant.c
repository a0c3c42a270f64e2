/* Dequantizing weight rows into floats for the training GEMM's B panels: AVX2 versions of the
 * engine's quant_dequant_row for the types a Q4_K_M/Q8_0 base is made of (Q5_0, Q8_0, Q4_K,
 * Q6_K), chosen at run time, giving the same floats (each value is the engine's product of the same
 * factors in the same order; the float conversions are exact). Every other type, and CPUs without
 * AVX2, use quant_dequant_row itself. Not a quantizer: the block layouts are GGUF's, read only. */
#include <string.h>

#include "train/train_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#ifdef HAVE_X86
/* GGUF's block layouts (ggml-common.h), byte for byte. */
typedef struct {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
} dq_q5_0;
typedef struct {
  uint16_t d;
  int8_t qs[32];
} dq_q8_0;
typedef struct {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
} dq_q4_K;
typedef struct {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
} dq_q6_K;
_Static_assert(sizeof(dq_q5_0) == 22 && sizeof(dq_q8_0) == 34, "q5_0/q8_0 layout");
_Static_assert(sizeof(dq_q4_K) == 144 && sizeof(dq_q6_K) == 210, "q4_K/q6_K layout");

#define DQ_TARGET __attribute__((target("avx2,fma,f16c")))

/* y[0..32) = d * (float)q for 32 signed bytes q. */
DQ_TARGET static inline void store32(__m256i q, __m256 d, float *y) {
  __m128i lo = _mm256_castsi256_si128(q), hi = _mm256_extracti128_si256(q, 1);
  _mm256_storeu_ps(y, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo)), d));
  _mm256_storeu_ps(
      y + 8, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8))), d));
  _mm256_storeu_ps(y + 16, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi)), d));
  _mm256_storeu_ps(
      y + 24, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8))), d));
}

DQ_TARGET static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Q5_0: element j (< 16) is the low nibble of qs[j], element j + 16 the high one; bit 4 of element
 * e is bit e of qh; value (q - 16) * d. */
DQ_TARGET static void deq_q5_0_avx2(const dq_q5_0 *b, float *y) {
  __m128i qs = _mm_loadu_si128((const __m128i *)b->qs), m4 = _mm_set1_epi8(0xF);
  __m256i nib = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(qs, 4), m4), _mm_and_si128(qs, m4));
  uint32_t qh;
  memcpy(&qh, b->qh, 4);
  /* byte e takes byte e/8 of qh, then tests bit e%8 */
  __m256i bytes = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh),
                                      _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                        0x0101010101010101, 0x0000000000000000));
  __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
  __m256i hb = _mm256_and_si256(_mm256_cmpeq_epi8(_mm256_and_si256(bytes, bit), bit),
                                _mm256_set1_epi8(0x10));
  __m256i q = _mm256_sub_epi8(_mm256_or_si256(nib, hb), _mm256_set1_epi8(16));
  store32(q, _mm256_set1_ps(h2f(b->d)), y);
}

DQ_TARGET static void deq_q8_0_avx2(const dq_q8_0 *b, float *y) {
  store32(_mm256_loadu_si256((const __m256i *)b->qs), _mm256_set1_ps(h2f(b->d)), y);
}

/* Q6_K: in half h (128 elements), element 32g + l takes 4 low bits from ql[64h + 32(g&1) + l]
 * (low nibble for g < 2, high for g >= 2) and 2 high bits from qh[32h + l] at bit 2g; value
 * (d * scale[i/16]) * (q - 32). */
DQ_TARGET static void deq_q6_K_avx2(const dq_q6_K *b, float *y) {
  float d = h2f(b->d);
  __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3), o32 = _mm256_set1_epi8(32);
  for (int h = 0; h < 2; h++) {
    __m256i l0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
    __m256i l1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
    __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));
    __m256i lo[4] = {_mm256_and_si256(l0, m4), _mm256_and_si256(l1, m4),
                     _mm256_and_si256(_mm256_srli_epi16(l0, 4), m4),
                     _mm256_and_si256(_mm256_srli_epi16(l1, 4), m4)};
    for (int g = 0; g < 4; g++) {
      __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m3);
      __m256i q = _mm256_sub_epi8(_mm256_or_si256(lo[g], _mm256_slli_epi16(hi, 4)), o32);
      int i0 = 128 * h + 32 * g;
      float *yy = y + i0;
      __m128i q0 = _mm256_castsi256_si128(q), q1 = _mm256_extracti128_si256(q, 1);
      __m256 s0 = _mm256_set1_ps(d * (float)b->scales[i0 / 16]);
      __m256 s1 = _mm256_set1_ps(d * (float)b->scales[i0 / 16 + 1]);
      _mm256_storeu_ps(yy, _mm256_mul_ps(s0, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q0))));
      _mm256_storeu_ps(yy + 8, _mm256_mul_ps(s0, _mm256_cvtepi32_ps(
                                                     _mm256_cvtepi8_epi32(_mm_srli_si128(q0, 8)))));
      _mm256_storeu_ps(yy + 16, _mm256_mul_ps(s1, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(q1))));
      _mm256_storeu_ps(
          yy + 24,
          _mm256_mul_ps(s1, _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(q1, 8)))));
    }
  }
}

/* Q4_K's 6-bit scale and min of sub-block j (0..7). */
static inline void q4k_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

/* Q4_K: chunk c (64 elements) is the low then the high nibbles of qs[32c..32c+32); value
 * (d * sc) * q - dmin * m, a product then a difference (no fused multiply-add, as the engine). */
DQ_TARGET static void deq_q4_K_avx2(const dq_q4_K *b, float *y) {
  float d = h2f(b->d), dmin = h2f(b->dmin);
  __m256i m4 = _mm256_set1_epi8(0xF);
  for (int c = 0; c < 4; c++) {
    uint8_t s1, mn1, s2, mn2;
    q4k_scale_min(2 * c, b->scales, &s1, &mn1);
    q4k_scale_min(2 * c + 1, b->scales, &s2, &mn2);
    __m256i qs = _mm256_loadu_si256((const __m256i *)(b->qs + 32 * c));
    __m256i nib[2] = {_mm256_and_si256(qs, m4), _mm256_and_si256(_mm256_srli_epi16(qs, 4), m4)};
    __m256 dd[2] = {_mm256_set1_ps(d * s1), _mm256_set1_ps(d * s2)};
    __m256 mm[2] = {_mm256_set1_ps(dmin * mn1), _mm256_set1_ps(dmin * mn2)};
    for (int half = 0; half < 2; half++) {
      __m128i lo = _mm256_castsi256_si128(nib[half]), hi = _mm256_extracti128_si256(nib[half], 1);
      __m128i parts[4] = {lo, _mm_srli_si128(lo, 8), hi, _mm_srli_si128(hi, 8)};
      for (int k = 0; k < 4; k++) {
        __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(parts[k]));
        _mm256_storeu_ps(y + 64 * c + 32 * half + 8 * k,
                         _mm256_sub_ps(_mm256_mul_ps(dd[half], v), mm[half]));
      }
    }
  }
}

static bool dq_has_avx2(void) {
  static int has = -1; /* benign race: every thread computes the same answer */
  if (has < 0)
    has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
          __builtin_cpu_supports("f16c");
  return has == 1;
}
#endif

bool train__dequant_fast(tensor_type type) {
#ifdef HAVE_X86
  if (!dq_has_avx2()) return false;
  return type == TT_Q5_0 || type == TT_Q8_0 || type == TT_Q4_K || type == TT_Q6_K;
#else
  (void)type;
  return false;
#endif
}

void train__dequant_row(tensor_type type, const void *src, float *dst, int64_t n) {
#ifdef HAVE_X86
  if (train__dequant_fast(type)) {
    const uint8_t *p = src;
    switch (type) {
    case TT_Q5_0:
      for (int64_t i = 0; i < n / 32; i++) deq_q5_0_avx2((const dq_q5_0 *)p + i, dst + 32 * i);
      return;
    case TT_Q8_0:
      for (int64_t i = 0; i < n / 32; i++) deq_q8_0_avx2((const dq_q8_0 *)p + i, dst + 32 * i);
      return;
    case TT_Q4_K:
      for (int64_t i = 0; i < n / 256; i++) deq_q4_K_avx2((const dq_q4_K *)p + i, dst + 256 * i);
      return;
    case TT_Q6_K:
      for (int64_t i = 0; i < n / 256; i++) deq_q6_K_avx2((const dq_q6_K *)p + i, dst + 256 * i);
      return;
    default: break;
    }
  }
#endif
  quant_dequant_row(type, src, dst, n);
}
