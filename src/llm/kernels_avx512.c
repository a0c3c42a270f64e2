/* AVX-512 (F, BW, VL, VNNI) kernel set: 512-bit float dots and VNNI (vpdpbusd) integer dots for
 * Q4_0, Q8_0, Q4_K, Q5_K and Q6_K. Types not here fall back to the AVX2 set, then the reference.
 * Compiled with per-function target attributes; only called after kernels.c has checked the CPU. */
#include "llm/kernels_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

TGT static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

TGT static float dot_f32(const void *w, const void *a, int64_t n) {
  const float *x = w, *y = a;
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), s1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

TGT static float dot_f16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))),
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i))), s0);
    s1 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i + 16))),
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i + 16))), s1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; i++) s += fp16_to_f32(x[i]) * fp16_to_f32(y[i]);
  return s;
}

TGT static inline __m512 load_bf16(const uint16_t *p) {
  __m512i v = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
  return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

TGT static float dot_bf16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(load_bf16(x + i), load_bf16(y + i), s0);
    s1 = _mm512_fmadd_ps(load_bf16(x + i + 16), load_bf16(y + i + 16), s1);
  }
  float s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
  for (; i < n; i++) s += bf16_to_f32(x[i]) * bf16_to_f32(y[i]);
  return s;
}

/* 32 signed x signed byte products summed into 8 int32 lanes, via |x| and sign(y, x). */
TGT static inline __m256i dot_i8(__m256i x, __m256i y) {
  return _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(x), _mm256_sign_epi8(y, x));
}

TGT static float dot_q8_0(const void *w, const void *a, int64_t n) {
  const blk_q8_0 *x = w, *y = a;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)x[b].qs), _mm256_loadu_si256((const __m256i *)y[b].qs));
    __m256 d = _mm256_set1_ps(fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum256(acc);
}

TGT static float dot_q4_0(const void *w, const void *a, int64_t n) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m128i q = _mm_loadu_si128((const __m128i *)x[b].qs);
    __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4);
    __m256i ay = _mm256_loadu_si256((const __m256i *)y[b].qs);
    /* sum (q - 8) * a = sum q * a - sum 8 * a, both as unsigned x signed VNNI dots */
    __m256i p = _mm256_sub_epi32(_mm256_dpbusd_epi32(_mm256_setzero_si256(), v, ay),
                                 _mm256_dpbusd_epi32(_mm256_setzero_si256(), eight, ay));
    __m256 d = _mm256_set1_ps(fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum256(acc);
}

static inline void unpack_k4(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; j++) {
    sc[j] = q[j] & 63;
    mn[j] = q[j + 4] & 63;
    sc[j + 4] = (uint8_t)((q[j + 8] & 0xF) | ((q[j] >> 6) << 4));
    mn[j + 4] = (uint8_t)((q[j + 8] >> 4) | ((q[j + 4] >> 6) << 4));
  }
}

static inline int mins_dot(const uint8_t mn[8], const int16_t *bsums) {
  int s = 0;
  for (int j = 0; j < 8; j++) s += mn[j] * (bsums[2 * j] + bsums[2 * j + 1]);
  return s;
}

TGT static inline __m512i cat256(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* 16 int32 lanes: the first 8 hold scale s0, the last 8 s1. */
TGT static inline __m512i scale_pair(int s0, int s1) {
  return cat256(_mm256_set1_epi32(s0), _mm256_set1_epi32(s1));
}

/* Q4_K: each 32-byte chunk of qs holds 64 values (low nibbles then high nibbles) that line up with
 * 64 consecutive activation bytes, so one 512-bit VNNI dot covers two sub-blocks. */
TGT static float dot_q4_K(const void *w, const void *a, int64_t n) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m512 acc = _mm512_setzero_ps();
  float mins = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint8_t sc[8], mn[8];
    unpack_k4(x[b].scales, sc, mn);
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
      __m512i v = cat256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
      __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_loadu_si512(y[b].qs + 64 * c));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p, scale_pair(sc[2 * c], sc[2 * c + 1])));
    }
    float dd = fp16_to_f32(x[b].d) * y[b].d;
    acc = _mm512_fmadd_ps(_mm512_set1_ps(dd), _mm512_cvtepi32_ps(isum), acc);
    mins += fp16_to_f32(x[b].dmin) * y[b].d * (float)mins_dot(mn, y[b].bsums);
  }
  return _mm512_reduce_add_ps(acc) - mins;
}

TGT static float dot_q5_K(const void *w, const void *a, int64_t n) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m512i b16 = _mm512_set1_epi8(16);
  __m512 acc = _mm512_setzero_ps();
  float mins = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint8_t sc[8], mn[8];
    unpack_k4(x[b].scales, sc, mn);
    __m256i qh = _mm256_loadu_si256((const __m256i *)x[b].qh);
    __m512i qhh = cat256(qh, qh);
    __m512i isum = _mm512_setzero_si512();
    for (int c = 0; c < 4; c++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
      __m512i v = cat256(_mm256_and_si256(q, m4), _mm256_and_si256(_mm256_srli_epi16(q, 4), m4));
      __m512i bits = cat256(_mm256_set1_epi8((char)(1 << (2 * c))), _mm256_set1_epi8((char)(2 << (2 * c))));
      v = _mm512_mask_add_epi8(v, _mm512_test_epi8_mask(qhh, bits), v, b16);
      __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), v, _mm512_loadu_si512(y[b].qs + 64 * c));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p, scale_pair(sc[2 * c], sc[2 * c + 1])));
    }
    float dd = fp16_to_f32(x[b].d) * y[b].d;
    acc = _mm512_fmadd_ps(_mm512_set1_ps(dd), _mm512_cvtepi32_ps(isum), acc);
    mins += fp16_to_f32(x[b].dmin) * y[b].d * (float)mins_dot(mn, y[b].bsums);
  }
  return _mm512_reduce_add_ps(acc) - mins;
}

/* Q6_K: two 32-value groups per 512-bit dot; the 4 int32 lanes of each 16-value sub-block get
 * that sub-block's scale. The +32 storage bias is removed through the activation block sums. */
TGT static float dot_q6_K(const void *w, const void *a, int64_t n) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
  const __m128i rep4 = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i sc8 = _mm_loadu_si128((const __m128i *)x[b].scales);
    __m512i isum = _mm512_setzero_si512();
    for (int h = 0; h < 2; h++) {
      __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h));
      __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h + 32));
      __m256i qh = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
      __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, m4), _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
      __m256i q1 = _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
      __m256i q2 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
      __m256i q3 = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
      __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), cat256(q0, q1), _mm512_loadu_si512(y[b].qs + 128 * h));
      __m512i p23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), cat256(q2, q3), _mm512_loadu_si512(y[b].qs + 128 * h + 64));
      __m512i s01 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc8, _mm_add_epi8(rep4, _mm_set1_epi8((char)(8 * h)))));
      __m512i s23 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc8, _mm_add_epi8(rep4, _mm_set1_epi8((char)(8 * h + 4)))));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p01, s01));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p23, s23));
    }
    int bias = 0;
    for (int g = 0; g < 16; g++) bias += x[b].scales[g] * y[b].bsums[g];
    float dd = fp16_to_f32(x[b].d) * y[b].d;
    __m512i corr = _mm512_castsi128_si512(_mm_cvtsi32_si128(-32 * bias)); /* lane 0 only */
    corr = _mm512_maskz_mov_epi32(1, corr);
    acc = _mm512_fmadd_ps(_mm512_set1_ps(dd), _mm512_cvtepi32_ps(_mm512_add_epi32(isum, corr)), acc);
  }
  return _mm512_reduce_add_ps(acc);
}

vec_dot_fn llm__dot_avx512(tensor_type t) {
  switch (t) {
    case TT_F32: return dot_f32;
    case TT_F16: return dot_f16;
    case TT_BF16: return dot_bf16;
    case TT_Q4_0: return dot_q4_0;
    case TT_Q8_0: return dot_q8_0;
    case TT_Q4_K: return dot_q4_K;
    case TT_Q5_K: return dot_q5_K;
    case TT_Q6_K: return dot_q6_K;
    default: return NULL;
  }
}

#else
vec_dot_fn llm__dot_avx512(tensor_type t) {
  (void)t;
  return NULL;
}
#endif
