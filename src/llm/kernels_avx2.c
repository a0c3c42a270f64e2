/* AVX2+FMA+F16C kernel set: dot products of weight rows (F32, F16, BF16, every 32-value format,
 * Q2_K to Q6_K) with activation rows in the companion type, some also four rows at a time. Compiled
 * with per-function target attributes (never -march=native), and only called after kernels.c has
 * checked the CPU. Every kernel sums in the reference's order (kernels.c) and is bit-identical to
 * it. */
#include <math.h>

#include "llm/kernels_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include "llm/kernels_avx2_int.h"

/* Block scales through F16C rather than the portable bit-twiddling conversion. */

/* Sum of products of 32 signed bytes x and y, as 8 int32 lanes. */
TGT static inline __m256i dot_i8(__m256i x, __m256i y) {
  __m256i ax = _mm256_sign_epi8(x, x), sy = _mm256_sign_epi8(y, x);
  return _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), _mm256_set1_epi16(1));
}

/* Sum of products of 32 unsigned bytes u (< 128) and signed bytes y, as 16 int16 lanes (pairs). */
TGT static inline __m256i dot_u8_i16(__m256i u, __m256i y) { return _mm256_maddubs_epi16(u, y); }

/* Half h (128 values) of a Q6_K super-block as four vectors of 6-bit values 0..63, 32 each in
 * element order. */
TGT static inline void unpack_q6_K_half(const blk_q6_K *x, int h, __m256i q[4]) {
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
  __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
  __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
  __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
  __m256i lo[4] = {ql0, ql1, _mm256_srli_epi16(ql0, 4), _mm256_srli_epi16(ql1, 4)};
#pragma GCC unroll 4
  for (int g = 0; g < 4; g++)
    q[g] =
        _mm256_or_si256(_mm256_and_si256(lo[g], m4),
                        _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m3), 4));
}

/* The 16-lane chain of the scalar reference (kernels.c) as two 8-lane halves, reduced as
 * llm__hsum16: bit-identical to it. */
TGT static inline float hsum16_ps(__m256 lo, __m256 hi) { return hsum_ps(_mm256_add_ps(lo, hi)); }

TGT static float dot_f32(const void *w, const void *a, int64_t n) {
  const float *x = w, *y = a;
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), s1);
  }
  float s = hsum16_ps(s0, s1);
  for (; i < n; i++) s = fmaf(x[i], y[i], s);
  return s;
}

TGT static inline __m256 load_f16(const uint16_t *p) {
  return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

TGT static float dot_f16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(load_f16(x + i), load_f16(y + i), s0);
    s1 = _mm256_fmadd_ps(load_f16(x + i + 8), load_f16(y + i + 8), s1);
  }
  float s = hsum16_ps(s0, s1);
  for (; i < n; i++) s = fmaf(fp16_to_f32(x[i]), fp16_to_f32(y[i]), s);
  return s;
}

/* The untiled order (llm__dot_f32_untiled): four 16-lane chains as eight 8-lane registers. */
TGT static float dot_f32_untiled(const void *w, const void *a, int64_t n) {
  return llm__dot_f32_untiled_avx2(w, a, n);
}

TGT static float dot_f16_untiled(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m256 c[8];
  for (int q = 0; q < 8; q++) c[q] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int q = 0; q < 8; q++)
      c[q] = _mm256_fmadd_ps(load_f16(x + i + 8 * q), load_f16(y + i + 8 * q), c[q]);
  __m256 lo = _mm256_add_ps(_mm256_add_ps(c[0], c[4]), _mm256_add_ps(c[2], c[6]));
  __m256 hi = _mm256_add_ps(_mm256_add_ps(c[1], c[5]), _mm256_add_ps(c[3], c[7]));
  double s = hsum16_ps(lo, hi);
  for (; i < n; i++) s += (double)(fp16_to_f32(x[i]) * fp16_to_f32(y[i]));
  return (float)s;
}

/* BF16 pairs (kernels.c): 16 values as 8 float lanes of pairs, lane l holding values 2l and
 * 2l + 1; the pair's odd value is the high half of its 32 bits, the even one the low half. One
 * step adds the odd product, then the even one, as vdpbf16ps. */
TGT static inline __m256 bf16_odd(__m256i v) {
  return _mm256_castsi256_ps(_mm256_and_si256(v, _mm256_set1_epi32((int)0xFFFF0000u)));
}
TGT static inline __m256 bf16_even(__m256i v) {
  return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}
TGT static inline __m256 bf16_pairs(const uint16_t *x, const uint16_t *y, __m256 acc) {
  __m256i vx = _mm256_loadu_si256((const __m256i *)x), vy = _mm256_loadu_si256((const __m256i *)y);
  acc = _mm256_fmadd_ps(bf16_odd(vx), bf16_odd(vy), acc);
  return _mm256_fmadd_ps(bf16_even(vx), bf16_even(vy), acc);
}

TGT static float dot_bf16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = bf16_pairs(x + i, y + i, s0);
    s1 = bf16_pairs(x + i + 16, y + i + 16, s1);
  }
  float s = hsum16_ps(s0, s1);
  for (; i < n; i++) s = fmaf(bf16_to_f32(x[i]), bf16_to_f32(y[i]), s);
  return s;
}

TGT static float dot_bf16_untiled(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m256 c[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                 _mm256_setzero_ps()};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int q = 0; q < 4; q++) c[q] = bf16_pairs(x + i + 16 * q, y + i + 16 * q, c[q]);
  double s = 0;
  s += (double)hsum16_ps(c[0], c[1]);
  s += (double)hsum16_ps(c[2], c[3]);
  for (; i < n; i++) s += (double)(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
  return (float)s;
}

/* The float types against four activation rows (prompts): four independent 16-lane chains, each
 * in the one-row kernels' order, so each output has exactly their bits and the chains' latency
 * overlaps. */
#define F_DOT4(name, T, LOAD)                                                                      \
  TGT static void name(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {     \
    const T *x = w;                                                                                \
    const T *y[4];                                                                                 \
    for (int r = 0; r < 4; r++) y[r] = (const T *)(const void *)((const char *)a + r * stride);    \
    __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, lo2 = lo0, lo3 = lo0, hi0 = lo0, hi1 = lo0,       \
           hi2 = lo0, hi3 = lo0;                                                                   \
    int64_t i = 0;                                                                                 \
    for (; i + 16 <= n; i += 16) {                                                                 \
      __m256 wl = LOAD(x + i), wh = LOAD(x + i + 8);                                               \
      lo0 = _mm256_fmadd_ps(wl, LOAD(y[0] + i), lo0);                                              \
      hi0 = _mm256_fmadd_ps(wh, LOAD(y[0] + i + 8), hi0);                                          \
      lo1 = _mm256_fmadd_ps(wl, LOAD(y[1] + i), lo1);                                              \
      hi1 = _mm256_fmadd_ps(wh, LOAD(y[1] + i + 8), hi1);                                          \
      lo2 = _mm256_fmadd_ps(wl, LOAD(y[2] + i), lo2);                                              \
      hi2 = _mm256_fmadd_ps(wh, LOAD(y[2] + i + 8), hi2);                                          \
      lo3 = _mm256_fmadd_ps(wl, LOAD(y[3] + i), lo3);                                              \
      hi3 = _mm256_fmadd_ps(wh, LOAD(y[3] + i + 8), hi3);                                          \
    }                                                                                              \
    out[0] = hsum16_ps(lo0, hi0);                                                                  \
    out[1] = hsum16_ps(lo1, hi1);                                                                  \
    out[2] = hsum16_ps(lo2, hi2);                                                                  \
    out[3] = hsum16_ps(lo3, hi3);                                                                  \
    for (; i < n; i++)                                                                             \
      for (int r = 0; r < 4; r++) out[r] = fmaf(TO_F32_##T(x[i]), TO_F32_##T(y[r][i]), out[r]);    \
  }
#define TO_F32_float(v)    (v)
#define TO_F32_uint16_t(v) fp16_to_f32(v)
F_DOT4(dot4_f32, float, _mm256_loadu_ps)
F_DOT4(dot4_f16, uint16_t, load_f16)
#undef F_DOT4
#undef TO_F32_float
#undef TO_F32_uint16_t

/* Four weight rows against one activation row (generation): the same four chains with the roles
 * swapped, so a row's one-row chain is not bound by the FMA latency. */
#define F_DOT4W(name, T, LOAD)                                                                     \
  TGT static void name(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {    \
    const T *y = a;                                                                                \
    const T *x[4];                                                                                 \
    for (int r = 0; r < 4; r++) x[r] = (const T *)(const void *)((const char *)w + r * wstride);   \
    __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, lo2 = lo0, lo3 = lo0, hi0 = lo0, hi1 = lo0,       \
           hi2 = lo0, hi3 = lo0;                                                                   \
    int64_t i = 0;                                                                                 \
    for (; i + 16 <= n; i += 16) {                                                                 \
      __m256 al = LOAD(y + i), ah = LOAD(y + i + 8);                                               \
      lo0 = _mm256_fmadd_ps(LOAD(x[0] + i), al, lo0);                                              \
      hi0 = _mm256_fmadd_ps(LOAD(x[0] + i + 8), ah, hi0);                                          \
      lo1 = _mm256_fmadd_ps(LOAD(x[1] + i), al, lo1);                                              \
      hi1 = _mm256_fmadd_ps(LOAD(x[1] + i + 8), ah, hi1);                                          \
      lo2 = _mm256_fmadd_ps(LOAD(x[2] + i), al, lo2);                                              \
      hi2 = _mm256_fmadd_ps(LOAD(x[2] + i + 8), ah, hi2);                                          \
      lo3 = _mm256_fmadd_ps(LOAD(x[3] + i), al, lo3);                                              \
      hi3 = _mm256_fmadd_ps(LOAD(x[3] + i + 8), ah, hi3);                                          \
    }                                                                                              \
    out[0] = hsum16_ps(lo0, hi0);                                                                  \
    out[1] = hsum16_ps(lo1, hi1);                                                                  \
    out[2] = hsum16_ps(lo2, hi2);                                                                  \
    out[3] = hsum16_ps(lo3, hi3);                                                                  \
    for (; i < n; i++)                                                                             \
      for (int r = 0; r < 4; r++) out[r] = fmaf(TO_F32_##T(x[r][i]), TO_F32_##T(y[i]), out[r]);    \
  }
#define TO_F32_float(v)    (v)
#define TO_F32_uint16_t(v) fp16_to_f32(v)
F_DOT4W(dot4w_f32, float, _mm256_loadu_ps)
F_DOT4W(dot4w_f16, uint16_t, load_f16)
#undef F_DOT4W
#undef TO_F32_float
#undef TO_F32_uint16_t

TGT static void dot4w_bf16(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const uint16_t *y = a;
  const uint16_t *x[4];
  for (int r = 0; r < 4; r++)
    x[r] = (const uint16_t *)(const void *)((const char *)w + r * wstride);
  __m256 lo[4], hi[4];
  for (int r = 0; r < 4; r++) lo[r] = hi[r] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i al = _mm256_loadu_si256((const __m256i *)(y + i)),
            ah = _mm256_loadu_si256((const __m256i *)(y + i + 16));
    __m256 alo = bf16_odd(al), ale = bf16_even(al), aho = bf16_odd(ah), ahe = bf16_even(ah);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m256i wl = _mm256_loadu_si256((const __m256i *)(x[r] + i)),
              wh = _mm256_loadu_si256((const __m256i *)(x[r] + i + 16));
      lo[r] = _mm256_fmadd_ps(bf16_even(wl), ale, _mm256_fmadd_ps(bf16_odd(wl), alo, lo[r]));
      hi[r] = _mm256_fmadd_ps(bf16_even(wh), ahe, _mm256_fmadd_ps(bf16_odd(wh), aho, hi[r]));
    }
  }
  for (int r = 0; r < 4; r++) {
    out[r] = hsum16_ps(lo[r], hi[r]);
    for (int64_t k = i; k < n; k++) out[r] = fmaf(bf16_to_f32(x[r][k]), bf16_to_f32(y[k]), out[r]);
  }
}

TGT static void dot4_bf16(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const uint16_t *x = w;
  const uint16_t *y[4];
  for (int r = 0; r < 4; r++) y[r] = (const uint16_t *)(const void *)((const char *)a + r * stride);
  __m256 lo[4], hi[4];
  for (int r = 0; r < 4; r++) lo[r] = hi[r] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i wl = _mm256_loadu_si256((const __m256i *)(x + i)),
            wh = _mm256_loadu_si256((const __m256i *)(x + i + 16));
    __m256 wlo = bf16_odd(wl), wle = bf16_even(wl), who = bf16_odd(wh), whe = bf16_even(wh);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m256i al = _mm256_loadu_si256((const __m256i *)(y[r] + i)),
              ah = _mm256_loadu_si256((const __m256i *)(y[r] + i + 16));
      lo[r] = _mm256_fmadd_ps(wle, bf16_even(al), _mm256_fmadd_ps(wlo, bf16_odd(al), lo[r]));
      hi[r] = _mm256_fmadd_ps(whe, bf16_even(ah), _mm256_fmadd_ps(who, bf16_odd(ah), hi[r]));
    }
  }
  for (int r = 0; r < 4; r++) {
    out[r] = hsum16_ps(lo[r], hi[r]);
    for (int64_t k = i; k < n; k++) out[r] = fmaf(bf16_to_f32(x[k]), bf16_to_f32(y[r][k]), out[r]);
  }
}

TGT static float dot_q8_0(const void *w, const void *a, int64_t n) {
  const blk_q8_0 *x = w, *y = a;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)x[b].qs),
                       _mm256_loadu_si256((const __m256i *)y[b].qs));
    __m256 d = _mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc);
}

TGT static float dot_q4_0(const void *w, const void *a, int64_t n) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m128i q = _mm_loadu_si128((const __m128i *)x[b].qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(q, 4), q); /* low nibbles: 0..15, high: 16..31 */
    v = _mm256_sub_epi8(_mm256_and_si256(v, m4), eight);
    __m256i p = dot_i8(v, _mm256_loadu_si256((const __m256i *)y[b].qs));
    __m256 d = _mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc);
}

/* A Q4_K / Q5_K block's 6-bit scales (bytes 0-7) and mins (8-15), unpacked with 32-bit masks
 * from the 12-byte packing of kernels_int.h. */
TGT static inline __m128i k4_scales(const uint8_t *q) {
  uint32_t a0, a1, a2;
  memcpy(&a0, q, 4);
  memcpy(&a1, q + 4, 4);
  memcpy(&a2, q + 8, 4);
  return _mm_setr_epi32(
      (int)(a0 & 0x3F3F3F3Fu), (int)((a2 & 0x0F0F0F0Fu) | (((a0 >> 6) & 0x03030303u) << 4)),
      (int)(a1 & 0x3F3F3F3Fu), (int)(((a2 >> 4) & 0x0F0F0F0Fu) | (((a1 >> 6) & 0x03030303u) << 4)));
}

/* The mins term of a Q4_K block as the reference's 8 lanes: lane k is m(k) (bsums(2k) +
 * bsums(2k+1)), the mins in bytes 8-15 of s8. */
TGT static inline __m256i k4_mins(__m128i s8, const int16_t *bsums) {
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  __m256i m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(s8, 8), dup));
  return _mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)bsums));
}

/* The integer sum of a Q5_K block's mins (bytes 8-15 of s8) against the activation's 16-value
 * sums: the reference's one integer per super-block (exact, so the order of additions is free). */
TGT static inline int k5_mins(__m128i s8, const int16_t *bsums) {
  __m256i p = k4_mins(s8, bsums);
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

/* One 64-value chunk c of a Q5_K block, values 0..31: sub-block 2c (low nibbles, qh bit 2c) and
 * 2c + 1 (high nibbles, qh bit 2c + 1). */
TGT static inline void k5_chunk(const blk_q5_K *x, __m256i qh, int c, __m256i *lo, __m256i *hi) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
  *lo = _mm256_or_si256(_mm256_and_si256(q, m4), bit_to_16(qh, 2 * c));
  *hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), bit_to_16(qh, 2 * c + 1));
}

/* Q5_K: the scales as words in both 128-bit halves, one vpshufb per sub-block broadcasts one. */
TGT static float dot_q5_K(const void *w, const void *a, int64_t n) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  __m256 acc = _mm256_setzero_ps();
  float summ = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i s8 = k4_scales(x[b].scales);
    __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(s8));
    __m256i qh = _mm256_loadu_si256((const __m256i *)x[b].qh);
    __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
      __m256i lo, hi;
      k5_chunk(&x[b], qh, c, &lo, &hi);
      __m256i plo = dot_u8_i16(lo, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c)));
      __m256i phi = dot_u8_i16(hi, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c + 32)));
      __m256i s0 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0404 * c)));
      __m256i s1 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0302 + 0x0404 * c)));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, s0));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, s1));
    }
    float dy = y[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(isum), acc);
    summ = fmaf(-dy * h2f(x[b].dmin), (float)k5_mins(s8, y[b].bsums), summ);
  }
  return hsum_ps(acc) + summ;
}

/* Q4_K: as dot_q5_K without the fifth bits (the scales broadcast by vpshufb, not by a word
 * broadcast from memory per sub-block: 45 -> 62 GFLOP/s in cache). */
TGT static float dot_q4_K(const void *w, const void *a, int64_t n) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i s8 = k4_scales(x[b].scales);
    __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(s8));
    __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      __m256i plo = dot_u8_i16(lo, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c)));
      __m256i phi = dot_u8_i16(hi, _mm256_loadu_si256((const __m256i *)(y[b].qs + 64 * c + 32)));
      __m256i s0 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0404 * c)));
      __m256i s1 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0302 + 0x0404 * c)));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, s0));
      isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, s1));
    }
    float dy = y[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(isum), acc);
    accm = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].dmin) * dy),
                           _mm256_cvtepi32_ps(k4_mins(s8, y[b].bsums)), accm);
  }
  return hsum_ps(acc) - hsum_ps(accm);
}

/* The Q6_K scale words of group g (0..3) of half h, [sc(8h + 2g) x8 | sc(8h + 2g + 1) x8], from
 * sch = the half's eight scales as words in both 128-bit lanes (q6_K_scales_half): one shuffle
 * instead of two broadcasts and an insert per group. */
TGT static inline __m256i q6_K_scales_half(const int8_t *scales, int h) {
  __m128i w = _mm_cvtepi8_epi16(_mm_loadl_epi64((const __m128i *)(scales + 8 * h)));
  return _mm256_broadcastsi128_si256(w);
}

/* Q6_K values are stored biased by 32; the bias comes off each lane through the activation block
 * sums: lane k loses 32 * (sc_2k * bsums_2k + sc_2k+1 * bsums_2k+1), as in the reference. */
TGT static float dot_q6_K(const void *w, const void *a, int64_t n) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i q[4];
      unpack_q6_K_half(&x[b], h, q);
      __m256i sch = q6_K_scales_half(x[b].scales, h);
#pragma GCC unroll 4
      for (int g = 0; g < 4; g++) {
        __m256i p =
            dot_u8_i16(q[g], _mm256_loadu_si256((const __m256i *)(y[b].qs + 128 * h + 32 * g)));
        __m256i scv = q6_K_scale_pair(sch, g);
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scv));
      }
    }
    __m256i bias =
        _mm256_madd_epi16(_mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[b].scales)),
                          _mm256_loadu_si256((const __m256i *)y[b].bsums));
    isum = _mm256_sub_epi32(isum, _mm256_slli_epi32(bias, 5));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * y[b].d), _mm256_cvtepi32_ps(isum), acc);
  }
  return hsum_ps(acc);
}

/* Scale words for one 32-value group j of half h of a Q2_K / Q3_K block: sub-block 8h + 2j in the
 * low 128 bits (values k < 16), 8h + 2j + 1 in the high 128 bits; sch holds words 8h..8h + 7 in
 * both halves. */
TGT static inline __m256i k23_scale(__m256i sch, int j) {
  return _mm256_shuffle_epi8(sch, _mm256_set_m128i(_mm_set1_epi16((short)(0x0302 + 0x0404 * j)),
                                                   _mm_set1_epi16((short)(0x0100 + 0x0404 * j))));
}

/* The 16 sub-block scales of a block (words, sub-blocks 0-7 in the low 128 bits, 8-15 high) as the
 * words 8h..8h + 7 in both halves. */
TGT static inline __m256i k23_half(__m256i sc16, int h) {
  return h ? _mm256_permute4x64_epi64(sc16, 0xEE) : _mm256_permute4x64_epi64(sc16, 0x44);
}

/* Q2_K's sub-block scales (low nibbles) as words. */
TGT static inline __m256i q2k_scales(const blk_q2_K *x) {
  __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
  return _mm256_cvtepu8_epi16(_mm_and_si128(sc8, _mm_set1_epi8(0xF)));
}

/* Q2_K's mins term as the reference's 8 lanes: lane k is m(2k) bsums(2k) + m(2k+1) bsums(2k+1). */
TGT static inline __m256i q2k_mins(const blk_q2_K *x, const int16_t *bsums) {
  __m128i sc8 = _mm_loadu_si128((const __m128i *)x->scales);
  __m256i m16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), _mm_set1_epi8(0xF)));
  return _mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)bsums));
}

/* Q2_K x Q8_K: element 128h + 32j + k is bits 2j, 2j + 1 of qs[32h + k] (16-bit shifts keep them
 * in their byte), 0..3, unsigned in maddubs; the mins lanes go in first, as in the reference. */
TGT static float dot_q2_K(const void *w, const void *a, int64_t n) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i sc16 = q2k_scales(&x[b]), isum = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i sch = k23_half(sc16, h);
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
        __m256i p =
            dot_u8_i16(v, _mm256_loadu_si256((const __m256i *)(y[b].qs + 128 * h + 32 * j)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, k23_scale(sch, j)));
      }
    }
    float dy = y[b].d;
    __m256i mins = q2k_mins(&x[b], y[b].bsums);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(-dy * h2f(x[b].dmin)), _mm256_cvtepi32_ps(mins), acc);
    acc = _mm256_fmadd_ps(_mm256_set1_ps(dy * h2f(x[b].d)), _mm256_cvtepi32_ps(isum), acc);
  }
  return hsum_ps(acc);
}

/* Q3_K's 16 signed 6-bit scales (stored biased by 32) as words: the low four bits of scale i are a
 * nibble of bytes 0-7 (low nibbles for i < 8, high for i >= 8), the top two bits a bit pair of
 * bytes 8-11 (byte 8 + i % 4, pair i / 4), unpacked four scales per 32-bit word. */
TGT static inline __m256i q3k_scales(const uint8_t *s) {
  uint32_t a0, a1, a2;
  memcpy(&a0, s, 4);
  memcpy(&a1, s + 4, 4);
  memcpy(&a2, s + 8, 4);
  const uint32_t m4 = 0x0F0F0F0Fu, m2 = 0x03030303u;
  __m128i sc = _mm_setr_epi32((int)((a0 & m4) | ((a2 & m2) << 4)),
                              (int)((a1 & m4) | (((a2 >> 2) & m2) << 4)),
                              (int)(((a0 >> 4) & m4) | (((a2 >> 4) & m2) << 4)),
                              (int)(((a1 >> 4) & m4) | (((a2 >> 6) & m2) << 4)));
  return _mm256_cvtepi8_epi16(_mm_sub_epi8(sc, _mm_set1_epi8(32)));
}

/* 4 where bit c of a byte of nh (the complement of Q3_K's hmask) is set, else 0: the 4 that comes
 * off a value whose high bit is clear (16-bit shifts of at most 5 keep the bit in its byte). */
TGT static inline __m256i q3k_low4(__m256i nh, int c) {
  __m256i t = c >= 2 ? _mm256_srli_epi16(nh, c - 2) : _mm256_slli_epi16(nh, 2 - c);
  return _mm256_and_si256(t, _mm256_set1_epi8(4));
}

/* Q3_K x Q8_K: value = (2 bits of qs as in Q2_K) - 4 unless hmask[k] bit 4h + j is set, in -4..3.
 * maddubs takes the 2-bit part and the 4 separately, their int16 pair sums subtracted (within
 * int16), then the signed scales by madd: each lane's integer sum is exact. */
TGT static float dot_q3_K(const void *w, const void *a, int64_t n) {
  const blk_q3_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i sc16 = q3k_scales(x[b].scales), isum = _mm256_setzero_si256();
    __m256i nh =
        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x[b].hmask), _mm256_set1_epi8(-1));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i sch = k23_half(sc16, h);
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
        __m256i ay = _mm256_loadu_si256((const __m256i *)(y[b].qs + 128 * h + 32 * j));
        __m256i p = _mm256_sub_epi16(dot_u8_i16(v, ay), dot_u8_i16(q3k_low4(nh, 4 * h + j), ay));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, k23_scale(sch, j)));
      }
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(y[b].d * h2f(x[b].d)), _mm256_cvtepi32_ps(isum), acc);
  }
  return hsum_ps(acc);
}

/* ---- Four activation rows at once (prompt processing): each weight block is loaded and decoded
 * once and used for four activation rows. */

TGT static void dot4_q8_0(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q8_0 *x = w;
  const blk_q8_0 *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_0 *)((const uint8_t *)a + stride * (size_t)k);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i wv = _mm256_loadu_si256((const __m256i *)x[b].qs), ax = _mm256_sign_epi8(wv, wv);
    float dw = h2f(x[b].d);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      __m256i sy = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)y[k][b].qs), wv);
      __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(ax, sy), ones);
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(y[k][b].d)), _mm256_cvtepi32_ps(p), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

TGT static void dot4_q4_0(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_0 *)((const uint8_t *)a + stride * (size_t)k);
  const __m256i m4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m128i q = _mm_loadu_si128((const __m128i *)x[b].qs);
    __m256i v =
        _mm256_sub_epi8(_mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), m4), eight);
    float dw = h2f(x[b].d);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      __m256i p = dot_i8(v, _mm256_loadu_si256((const __m256i *)y[k][b].qs));
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(y[k][b].d)), _mm256_cvtepi32_ps(p), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

TGT static void dot4_q4_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q4_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  __m256 accm[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                    _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i s8 = k4_scales(x[b].scales);
    __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(s8));
    __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
    for (int c = 0; c < 4; c++) {
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * c));
      __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      __m256i s0 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0404 * c)));
      __m256i s1 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0302 + 0x0404 * c)));
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) {
        __m256i plo = dot_u8_i16(lo, _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 64 * c)));
        __m256i phi =
            dot_u8_i16(hi, _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 64 * c + 32)));
        isum[k] = _mm256_add_epi32(
            isum[k], _mm256_add_epi32(_mm256_madd_epi16(plo, s0), _mm256_madd_epi16(phi, s1)));
      }
    }
    float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * y[k][b].d), _mm256_cvtepi32_ps(isum[k]), acc[k]);
      accm[k] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * y[k][b].d),
                                _mm256_cvtepi32_ps(k4_mins(s8, y[k][b].bsums)), accm[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]) - hsum_ps(accm[k]);
}

TGT static void dot4_q5_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q5_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  __m256 acc[4];
  float summ[4];
  for (int k = 0; k < 4; k++) {
    acc[k] = _mm256_setzero_ps();
    summ[k] = 0;
  }
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i s8 = k4_scales(x[b].scales);
    __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(s8));
    __m256i qh = _mm256_loadu_si256((const __m256i *)x[b].qh);
    __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
      __m256i lo, hi;
      k5_chunk(&x[b], qh, c, &lo, &hi);
      __m256i s0 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0404 * c)));
      __m256i s1 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0302 + 0x0404 * c)));
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) {
        __m256i plo = dot_u8_i16(lo, _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 64 * c)));
        __m256i phi =
            dot_u8_i16(hi, _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 64 * c + 32)));
        isum[k] = _mm256_add_epi32(
            isum[k], _mm256_add_epi32(_mm256_madd_epi16(plo, s0), _mm256_madd_epi16(phi, s1)));
      }
    }
    float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      float dy = y[k][b].d;
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * dy), _mm256_cvtepi32_ps(isum[k]), acc[k]);
      summ[k] = fmaf(-dy * dmin, (float)k5_mins(s8, y[k][b].bsums), summ[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]) + summ[k];
}

TGT static void dot4_q2_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q2_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i sc16 = q2k_scales(&x[b]);
    __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i sch = k23_half(sc16, h);
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3), sc = k23_scale(sch, j);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
          __m256i p =
              dot_u8_i16(v, _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 128 * h + 32 * j)));
          isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(p, sc));
        }
      }
    }
    float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      float dy = y[k][b].d;
      __m256i mins = q2k_mins(&x[b], y[k][b].bsums);
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(-dy * dmin), _mm256_cvtepi32_ps(mins), acc[k]);
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dy * d), _mm256_cvtepi32_ps(isum[k]), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

TGT static void dot4_q3_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q3_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  const __m256i m3 = _mm256_set1_epi8(3);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i sc16 = q3k_scales(x[b].scales);
    __m256i nh =
        _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)x[b].hmask), _mm256_set1_epi8(-1));
    __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i sch = k23_half(sc16, h);
      __m256i q = _mm256_loadu_si256((const __m256i *)(x[b].qs + 32 * h));
#pragma GCC unroll 4
      for (int j = 0; j < 4; j++) {
        __m256i v = _mm256_and_si256(_mm256_srli_epi16(q, 2 * j), m3);
        __m256i l4 = q3k_low4(nh, 4 * h + j), sc = k23_scale(sch, j);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
          __m256i ay = _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 128 * h + 32 * j));
          __m256i p = _mm256_sub_epi16(dot_u8_i16(v, ay), dot_u8_i16(l4, ay));
          isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(p, sc));
        }
      }
    }
    float d = h2f(x[b].d);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(y[k][b].d * d), _mm256_cvtepi32_ps(isum[k]), acc[k]);
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

TGT static void dot4_q6_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q6_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i isum[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),
                       _mm256_setzero_si256()};
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i q[4];
      unpack_q6_K_half(&x[b], h, q);
      __m256i sch = q6_K_scales_half(x[b].scales, h);
#pragma GCC unroll 4
      for (int g = 0; g < 4; g++) {
        __m256i scv = q6_K_scale_pair(sch, g);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
          __m256i p = dot_u8_i16(
              q[g], _mm256_loadu_si256((const __m256i *)(y[k][b].qs + 128 * h + 32 * g)));
          isum[k] = _mm256_add_epi32(isum[k], _mm256_madd_epi16(p, scv));
        }
        /* one chain per sum: GCC otherwise reassociates them and spills every product */
        __asm__("" : "+x"(isum[0]), "+x"(isum[1]), "+x"(isum[2]), "+x"(isum[3]));
      }
    }
    float d = h2f(x[b].d);
    __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)x[b].scales));
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      __m256i bias = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)y[k][b].bsums));
      __m256i tot = _mm256_sub_epi32(isum[k], _mm256_slli_epi32(bias, 5));
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * y[k][b].d), _mm256_cvtepi32_ps(tot), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

/* The 32 fifth bits of a Q5 block as bytes 0x10 (bit set) or 0 (clear), element j in byte j. */
TGT static inline __m256i q5_high(const uint8_t qh4[4]) {
  uint32_t qh;
  memcpy(&qh, qh4, 4);
  /* Byte j takes qh's byte j / 8; OR-ing every bit but j % 8 makes it all ones iff bit j % 8 is
   * set. */
  const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m256i t = _mm256_shuffle_epi8(_mm256_set1_epi32((int)qh), pick);
  t = _mm256_or_si256(t, _mm256_set1_epi64x(0x7FBFDFEFF7FBFDFEll));
  t = _mm256_cmpeq_epi8(t, _mm256_set1_epi8(-1));
  return _mm256_and_si256(t, _mm256_set1_epi8(0x10));
}

/* The 32 nibbles of a Q4_0 / Q4_1 block, 0..15, element j in byte j. */
TGT static inline __m256i q4_values(const uint8_t qs[16]) {
  __m128i q = _mm_loadu_si128((const __m128i *)qs);
  return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0xF));
}

/* The 32 5-bit values of a Q5_0 / Q5_1 block, 0..31, element j in byte j. */
TGT static inline __m256i q5_values(const uint8_t qs[16], const uint8_t qh[4]) {
  __m128i q = _mm_loadu_si128((const __m128i *)qs);
  __m256i v = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0xF));
  return _mm256_or_si256(v, q5_high(qh));
}

TGT static float dot_q5_0(const void *w, const void *a, int64_t n) {
  const blk_q5_0 *x = w;
  const blk_q8_0 *y = a;
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i v = _mm256_sub_epi8(q5_values(x[b].qs, x[b].qh), _mm256_set1_epi8(16));
    __m256i p = dot_i8(v, _mm256_loadu_si256((const __m256i *)y[b].qs));
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d)), _mm256_cvtepi32_ps(p), acc);
  }
  return hsum_ps(acc);
}

TGT static void dot4_q5_0(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q5_0 *x = w;
  const blk_q8_0 *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_0 *)((const uint8_t *)a + stride * (size_t)k);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i v = _mm256_sub_epi8(q5_values(x[b].qs, x[b].qh), _mm256_set1_epi8(16));
    float dw = h2f(x[b].d);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      __m256i p = dot_i8(v, _mm256_loadu_si256((const __m256i *)y[k][b].qs));
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(dw * h2f(y[k][b].d)), _mm256_cvtepi32_ps(p), acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum_ps(acc[k]);
}

/* Q4_1 / Q5_1: unsigned values (< 16 / < 32) meet the int8 activations in maddubs directly; the
 * m term uses the activation's lane sums, from maddubs against ones. */
#define DOT_Q_1(NAME, BLK, VALUES)                                                                 \
  TGT static float NAME(const void *w, const void *a, int64_t n) {                                 \
    const BLK *x = w;                                                                              \
    const blk_q8_0 *y = a;                                                                         \
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);                      \
    __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();                                  \
    for (int64_t b = 0; b < n / QK; b++) {                                                         \
      __m256i yq = _mm256_loadu_si256((const __m256i *)y[b].qs);                                   \
      __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(VALUES(x[b]), yq), ones16);               \
      __m256i sy = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, yq), ones16);                     \
      float dy = h2f(y[b].d);                                                                      \
      acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(p), acc);         \
      accm = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].m) * dy), _mm256_cvtepi32_ps(sy), accm);      \
    }                                                                                              \
    return hsum_ps(acc) + hsum_ps(accm);                                                           \
  }
#define Q4_1_VALUES(blk) q4_values((blk).qs)
#define Q5_1_VALUES(blk) q5_values((blk).qs, (blk).qh)
DOT_Q_1(dot_q4_1, blk_q4_1, Q4_1_VALUES)
DOT_Q_1(dot_q5_1, blk_q5_1, Q5_1_VALUES)

vec_dot4_fn llm__dot4_avx2(tensor_type t) {
  switch (t) {
  case TT_F32: return dot4_f32;
  case TT_F16: return dot4_f16;
  case TT_BF16: return dot4_bf16;
  case TT_Q4_0: return dot4_q4_0;
  case TT_Q5_0: return dot4_q5_0;
  case TT_Q8_0: return dot4_q8_0;
  case TT_Q2_K: return dot4_q2_K;
  case TT_Q3_K: return dot4_q3_K;
  case TT_Q4_K: return dot4_q4_K;
  case TT_Q5_K: return dot4_q5_K;
  case TT_Q6_K: return dot4_q6_K;
  default: return NULL;
  }
}

vec_dot_fn llm__dot_untiled_avx2(tensor_type t) {
  switch (t) {
  case TT_F32: return dot_f32_untiled;
  case TT_F16: return dot_f16_untiled;
  case TT_BF16: return dot_bf16_untiled;
  default: return NULL;
  }
}

vec_dot_fn llm__dot_avx2(tensor_type t) {
  switch (t) {
  case TT_F32: return dot_f32;
  case TT_F16: return dot_f16;
  case TT_BF16: return dot_bf16;
  case TT_Q4_0: return dot_q4_0;
  case TT_Q4_1: return dot_q4_1;
  case TT_Q5_0: return dot_q5_0;
  case TT_Q5_1: return dot_q5_1;
  case TT_Q8_0: return dot_q8_0;
  case TT_Q2_K: return dot_q2_K;
  case TT_Q3_K: return dot_q3_K;
  case TT_Q4_K: return dot_q4_K;
  case TT_Q5_K: return dot_q5_K;
  case TT_Q6_K: return dot_q6_K;
  default: return NULL;
  }
}

/* ---- Four weight rows at once (generation) for the 32-value formats. A one-row dot there is one
 * chain of dependent FMAs (one per block, the reference's order), bound by the FMA latency; four
 * rows give four chains, and the activation block is loaded (and its sums formed) once for all. */

/* Q4_0: the nibbles as unsigned bytes in maddubs; the -8 comes off the int16 pair sums as
 * maddubs(8, a), formed once per block (the pair sums stay within int16, the lanes exact). */
TGT static void dot4w_q4_0(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q4_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  const __m256i eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi16(1);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i ay = _mm256_loadu_si256((const __m256i *)y[b].qs);
    __m256i a8 = _mm256_maddubs_epi16(eight, ay);
    __m128 s = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, h2f(y[b].d));
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q4_values(x[r][b].qs), ay), a8);
      __m256i p = _mm256_madd_epi16(p16, ones);
      acc[r] = _mm256_fmadd_ps(w4_lane(s, r), _mm256_cvtepi32_ps(p), acc[r]);
    }
  }
  for (int r = 0; r < 4; r++) out[r] = hsum_ps(acc[r]);
}

/* Q5_0: values 0..31 in maddubs, less maddubs(16, a) per pair (within int16). */
TGT static void dot4w_q5_0(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q5_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q5_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  const __m256i sixteen = _mm256_set1_epi8(16), ones = _mm256_set1_epi16(1);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i ay = _mm256_loadu_si256((const __m256i *)y[b].qs);
    __m256i a16 = _mm256_maddubs_epi16(sixteen, ay);
    __m128 s = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, h2f(y[b].d));
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m256i v = q5_values(x[r][b].qs, x[r][b].qh);
      __m256i p = _mm256_madd_epi16(_mm256_sub_epi16(_mm256_maddubs_epi16(v, ay), a16), ones);
      acc[r] = _mm256_fmadd_ps(w4_lane(s, r), _mm256_cvtepi32_ps(p), acc[r]);
    }
  }
  for (int r = 0; r < 4; r++) out[r] = hsum_ps(acc[r]);
}

/* Q4_1 / Q5_1: as DOT_Q_1, the activation's lane sums formed once for the four rows. */
#define W4_Q_1(NAME, BLK, VALUES)                                                                  \
  TGT static void NAME(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {    \
    const BLK *x[4];                                                                               \
    for (int r = 0; r < 4; r++) x[r] = (const BLK *)((const uint8_t *)w + wstride * (size_t)r);    \
    const blk_q8_0 *y = a;                                                                         \
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);                      \
    __m256 acc[4], accm[4];                                                                        \
    for (int r = 0; r < 4; r++) acc[r] = accm[r] = _mm256_setzero_ps();                            \
    for (int64_t b = 0; b < n / QK; b++) {                                                         \
      __m256i ay = _mm256_loadu_si256((const __m256i *)y[b].qs);                                   \
      __m256 sa = _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(ones8, ay), ones16));  \
      float dy = h2f(y[b].d);                                                                      \
      __m128 s = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, dy);                        \
      __m128 m = w4_scales(x[0][b].m, x[1][b].m, x[2][b].m, x[3][b].m, dy);                        \
      _Pragma("GCC unroll 4") for (int r = 0; r < 4; r++) {                                        \
        __m256i p = _mm256_madd_epi16(_mm256_maddubs_epi16(VALUES(x[r][b]), ay), ones16);          \
        acc[r] = _mm256_fmadd_ps(w4_lane(s, r), _mm256_cvtepi32_ps(p), acc[r]);                    \
        accm[r] = _mm256_fmadd_ps(w4_lane(m, r), sa, accm[r]);                                     \
      }                                                                                            \
    }                                                                                              \
    for (int r = 0; r < 4; r++) out[r] = hsum_ps(acc[r]) + hsum_ps(accm[r]);                       \
  }
W4_Q_1(dot4w_q4_1, blk_q4_1, Q4_1_VALUES)
W4_Q_1(dot4w_q5_1, blk_q5_1, Q5_1_VALUES)

vec_dot4w_fn llm__dot4w_avx2(tensor_type t) {
  switch (t) {
  case TT_F32: return dot4w_f32;
  case TT_F16: return dot4w_f16;
  case TT_BF16: return dot4w_bf16;
  case TT_Q4_0: return dot4w_q4_0;
  case TT_Q4_1: return dot4w_q4_1;
  case TT_Q5_0: return dot4w_q5_0;
  case TT_Q5_1: return dot4w_q5_1;
  default: return llm__dot4w_gemv_avx2(t);
  }
}

/* ---- The repacked orders (llm_order): one float accumulator per output, lanes = weight rows ----
 *
 * The integer sums are exact, so they may be formed in any order; only the fused multiply-adds of
 * the scalar references (kernels.c) are kept, one per 256 values (Q4_K gemv), 64 (Q4_K gemm) or 32
 * (Q4_0) on one accumulator per output. Four weight rows make four independent chains in the four
 * lanes of one register, and the four rows' integer sums come out of one hadd tree in those lanes.
 */

/* [sum of the 8 lanes of v0, ... of v3]. */
TGT static inline __m128i hsum4_epi32(__m256i v0, __m256i v1, __m256i v2, __m256i v3) {
  __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Pair p (values 64p..64p+63) of a Q4_K super-block against the activation's bytes aq: 8 int32
 * lanes that sum to sc(2p) S(2p) + sc(2p+1) S(2p+1) (sc16: the 8 scales as int16, twice). */
TGT static inline __m256i q4_K_pair(const uint8_t *qs, const int8_t *aq, __m256i sc16, int p) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * p));
  __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  __m256i plo = dot_u8_i16(lo, _mm256_loadu_si256((const __m256i *)(aq + 64 * p)));
  __m256i phi = dot_u8_i16(hi, _mm256_loadu_si256((const __m256i *)(aq + 64 * p + 32)));
  __m256i s0 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0404 * p)));
  __m256i s1 = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0302 + 0x0404 * p)));
  return _mm256_add_epi32(_mm256_madd_epi16(plo, s0), _mm256_madd_epi16(phi, s1));
}

/* Q4_K gemm order, four weight rows: per super-block the rows' pair sums I (v, 8 lanes each) and
 * mins terms (mv, lane j: m(j) B(j)), then one fused multiply-add per pair. */
TGT static void dot4w_q4_K_gemm(const void *w, size_t wstride, const void *a, int64_t n,
                                float out[4]) {
  const blk_q4_K *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_K *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_K *y = a;
  __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i v[4][4], mv[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m128i s8 = k4_scales(x[r][b].scales);
      __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(s8));
#pragma GCC unroll 4
      for (int p = 0; p < 4; p++) v[r][p] = q4_K_pair(x[r][b].qs, y[b].qs, sc16, p);
      mv[r] = k4_mins(s8, y[b].bsums);
    }
    float dy = y[b].d;
    __m128 d = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, dy);
    __m128 dm = w4_scales(x[0][b].dmin, x[1][b].dmin, x[2][b].dmin, x[3][b].dmin, dy);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++)
      acc = _mm_fmadd_ps(_mm_cvtepi32_ps(hsum4_epi32(v[0][p], v[1][p], v[2][p], v[3][p])), d, acc);
    /* lane j of mv[r] is m(j) B(j): the pairs' sums of the four rows, transposed to rows in
     * lanes: after the hadds, [row0 P0, row0 P1, row1 P0, row1 P1 | the same for P2, P3]. */
    __m256i h01 = _mm256_hadd_epi32(mv[0], mv[1]), h23 = _mm256_hadd_epi32(mv[2], mv[3]);
    __m256i lo = _mm256_unpacklo_epi32(h01, h23), hi = _mm256_unpackhi_epi32(h01, h23);
    __m256i m02 = _mm256_unpacklo_epi32(lo, hi), m13 = _mm256_unpackhi_epi32(lo, hi);
    __m128i mp[4] = {_mm256_castsi256_si128(m02), _mm256_castsi256_si128(m13),
                     _mm256_extracti128_si256(m02, 1), _mm256_extracti128_si256(m13, 1)};
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) accm = _mm_fmadd_ps(_mm_cvtepi32_ps(mp[p]), dm, accm);
  }
  _mm_storeu_ps(out, _mm_sub_ps(acc, accm));
}

/* The activation's sub-block sums B(j) = bsums(2j) + bsums(2j + 1) as 8 words. */
TGT static inline __m128i q8_K_bsums8(const int16_t *bsums) {
  return _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)bsums),
                        _mm_loadu_si128((const __m128i *)(bsums + 8)));
}

/* Q4_K gemm order, 4x4 (prompts): each weight row's pair is decoded once for the four activation
 * rows, as in dot4_q4_K; per (row r, pair p) the four activations' 8-lane sums go through one hadd
 * tree to [q0..q3 | q0..q3] (the two 128-bit halves' sums), and two rows' trees add up, halves
 * swapped, to lanes 4 r' + q of one register (r' = r % 2; rows 0, 1 in A, rows 2, 3 in B). The
 * mins: per pair one vpmaddwd of the (m(2p), m(2p + 1)) words of two rows against the four
 * activations' (B(2p), B(2p + 1)), B the sub-block sums, already in that layout. */
TGT static void dot4x4_q4_K_gemm(const void *w, size_t wstride, const void *a, size_t astride,
                                 int64_t n, float out[16]) {
  const blk_q4_K *x[4];
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) {
    x[k] = (const blk_q4_K *)((const uint8_t *)w + wstride * (size_t)k);
    y[k] = (const blk_q8_K *)((const uint8_t *)a + astride * (size_t)k);
  }
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i lo_rows = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i hi_rows = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  __m256 accm[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m256i s8[4], h[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      s8[r] = k4_scales2(x[r][b].scales);
#pragma GCC unroll 4
      for (int p = 0; p < 4; p++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(x[r][b].qs + 32 * p));
        __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
        __m256i s0 = _mm256_shuffle_epi8(s8[r], _mm256_set1_epi16((short)(0xFF00 + 2 * p)));
        __m256i s1 = _mm256_shuffle_epi8(s8[r], _mm256_set1_epi16((short)(0xFF00 + 2 * p + 1)));
        __m256i v[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
          const int8_t *aq = y[k][b].qs + 64 * p;
          __m256i plo = dot_u8_i16(lo, _mm256_loadu_si256((const __m256i *)aq));
          __m256i phi = dot_u8_i16(hi, _mm256_loadu_si256((const __m256i *)(aq + 32)));
          v[k] = _mm256_add_epi32(_mm256_madd_epi16(plo, s0), _mm256_madd_epi16(phi, s1));
        }
        h[r][p] = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
      }
    }
    /* (B(2p), B(2p + 1)) of activation q in dword q, for both halves */
    __m128i bs[4], bp[4];
    for (int k = 0; k < 4; k++) bs[k] = q8_K_bsums8(y[k][b].bsums);
    __m128i t0 = _mm_unpacklo_epi32(bs[0], bs[1]), t1 = _mm_unpacklo_epi32(bs[2], bs[3]);
    __m128i t2 = _mm_unpackhi_epi32(bs[0], bs[1]), t3 = _mm_unpackhi_epi32(bs[2], bs[3]);
    bp[0] = _mm_unpacklo_epi64(t0, t1);
    bp[1] = _mm_unpackhi_epi64(t0, t1);
    bp[2] = _mm_unpacklo_epi64(t2, t3);
    bp[3] = _mm_unpackhi_epi64(t2, t3);
    __m256i sm[2] = {_mm256_blend_epi32(s8[0], s8[1], 0xF0),
                     _mm256_blend_epi32(s8[2], s8[3], 0xF0)};
    __m128 dy = _mm_setr_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
    __m256 dy8 = _mm256_set_m128(dy, dy);
    __m128 dw = _mm_cvtph_ps(_mm_setr_epi16((short)x[0][b].d, (short)x[1][b].d, (short)x[2][b].d,
                                            (short)x[3][b].d, 0, 0, 0, 0));
    __m128 dmw = _mm_cvtph_ps(_mm_setr_epi16((short)x[0][b].dmin, (short)x[1][b].dmin,
                                             (short)x[2][b].dmin, (short)x[3][b].dmin, 0, 0, 0, 0));
    __m256 d[2], dm[2];
    d[0] = _mm256_mul_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(dw), lo_rows), dy8);
    d[1] = _mm256_mul_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(dw), hi_rows), dy8);
    dm[0] = _mm256_mul_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(dmw), lo_rows), dy8);
    dm[1] = _mm256_mul_ps(_mm256_permutevar8x32_ps(_mm256_castps128_ps256(dmw), hi_rows), dy8);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
      __m256i b2 = _mm256_set_m128i(bp[p], bp[p]);
      __m256i mi = _mm256_set1_epi32((int)(0xFF09FF08u + 0x00020002u * (unsigned)p));
#pragma GCC unroll 2
      for (int g = 0; g < 2; g++) {
        __m256i i0 = h[2 * g][p], i1 = h[2 * g + 1][p];
        __m256i I = _mm256_add_epi32(_mm256_permute2x128_si256(i0, i1, 0x20),
                                     _mm256_permute2x128_si256(i0, i1, 0x31));
        __m256i M = _mm256_madd_epi16(_mm256_shuffle_epi8(sm[g], mi), b2);
        acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(I), d[g], acc[g]);
        accm[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(M), dm[g], accm[g]);
      }
    }
  }
  float o[16]; /* lane 4 r + q */
  _mm256_storeu_ps(o, _mm256_sub_ps(acc[0], accm[0]));
  _mm256_storeu_ps(o + 8, _mm256_sub_ps(acc[1], accm[1]));
  for (int q = 0; q < 4; q++)
    for (int r = 0; r < 4; r++) out[4 * q + r] = o[4 * r + q];
}

/* Q4_K gemm order, packed strips of eight rows (prompts). A strip is unpacked once into
 * q4_K_x8 blocks: per sub-block j, eight vectors g whose dword r holds row r's values 32 j + 4 g ..
 * + 3 as bytes 0..15, so one vpmaddubsw against an activation's four bytes broadcast gives the
 * eight rows' products side by side (lanes are rows: no horizontal sums), summed in words over
 * the sub-block (8 x 2 x 15 x 128 < 2^15: exact) and scaled by one vpmaddwd with the rows' scale
 * words. The integers are the reference's (q4_K_pair_sums) and so is each output's float order:
 * per block, per pair p, one fused multiply-add of I(p) with d(w) d(a), one of M(p) with
 * dmin(w) d(a), subtracted at the end. Against dot4x4_q4_K_gemm, about half the multiply
 * instructions per weight; the unpacking is repaid over the prompt's tokens. */
typedef struct {
  uint8_t q[8][8][32]; /* [sub-block j][group g][4 r + i]: row r's value 32 j + 4 g + i */
  int16_t sc[8][16];   /* [sub-block j][2 r], [2 r + 1]: row r's scale of sub-block j */
  int16_t mn[4][16];   /* [pair p][2 r], [2 r + 1]: row r's mins of sub-blocks 2 p, 2 p + 1 */
  float d[8], dm[8];   /* row r's d and dmin */
} q4_K_x8;

TGT static size_t pack8_q4_K_bytes(int64_t n) { return (size_t)(n / QK_K) * sizeof(q4_K_x8); }

TGT static void pack8_q4_K(const void *w, size_t wstride, int64_t n, void *dst) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  q4_K_x8 *o = dst;
  for (int64_t b = 0; b < n / QK_K; b++, o++) {
    const blk_q4_K *x[8];
    for (int r = 0; r < 8; r++)
      x[r] = (const blk_q4_K *)((const uint8_t *)w + wstride * (size_t)r) + b;
    for (int p = 0; p < 4; p++) { /* sub-blocks 2p (low nibbles) and 2p + 1 (high) */
      __m256i lo[8], hi[8];
      for (int r = 0; r < 8; r++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(x[r]->qs + 32 * p));
        lo[r] = _mm256_and_si256(q, m4);
        hi[r] = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
      }
      transpose8_epi32(lo);
      transpose8_epi32(hi);
      for (int g = 0; g < 8; g++) {
        _mm256_storeu_si256((__m256i *)o->q[2 * p][g], lo[g]);
        _mm256_storeu_si256((__m256i *)o->q[2 * p + 1][g], hi[g]);
      }
    }
    for (int r = 0; r < 8; r++) {
      uint8_t sc[8], mn[8];
      const uint8_t *qs = x[r]->scales;
      for (int j = 0; j < 8; j++) { /* unpack_scales_k4 */
        if (j < 4) {
          sc[j] = qs[j] & 63;
          mn[j] = qs[j + 4] & 63;
        } else {
          sc[j] = (uint8_t)((qs[j + 4] & 0xF) | ((qs[j - 4] >> 6) << 4));
          mn[j] = (uint8_t)((qs[j + 4] >> 4) | ((qs[j] >> 6) << 4));
        }
      }
      for (int j = 0; j < 8; j++) o->sc[j][2 * r] = o->sc[j][2 * r + 1] = sc[j];
      for (int p = 0; p < 4; p++) {
        o->mn[p][2 * r] = mn[2 * p];
        o->mn[p][2 * r + 1] = mn[2 * p + 1];
      }
      o->d[r] = h2f(x[r]->d);
      o->dm[r] = h2f(x[r]->dmin);
    }
  }
}

/* One sub-block of one strip (w: its eight vectors) against four activations' 32 bytes:
 * the word sums per row pair, S[k] for activation k. Named registers, not arrays, so the
 * compiler keeps all of them in registers. */
#define Q4K_BCAST(p, g) _mm256_set1_epi32(load_i32((p) + 4 * (g)))

TGT static inline __attribute__((always_inline)) void
q4_K_x8_sub1(const uint8_t *w, const uint8_t *a0, const uint8_t *a1, const uint8_t *a2,
             const uint8_t *a3, __m256i S[4]) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
#pragma GCC unroll 8
  for (int g = 0; g < 8; g++) {
    __m256i wv = _mm256_loadu_si256((const __m256i *)(w + 32 * g));
    s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(wv, Q4K_BCAST(a0, g)));
    s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(wv, Q4K_BCAST(a1, g)));
    s2 = _mm256_add_epi16(s2, _mm256_maddubs_epi16(wv, Q4K_BCAST(a2, g)));
    s3 = _mm256_add_epi16(s3, _mm256_maddubs_epi16(wv, Q4K_BCAST(a3, g)));
    /* Each sum stays one chain: without this GCC reassociates the integer adds into trees and
     * keeps every product alive at once, spilling most of them (a quarter more instructions). */
    __asm__("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3));
  }
  S[0] = s0;
  S[1] = s1;
  S[2] = s2;
  S[3] = s3;
}

TGT static void gemm8_q4_K(const void *packed, const void *a, size_t astride, int64_t n,
                           float out[32]) {
  const q4_K_x8 *x = packed;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + astride * (size_t)k);
  __m256 acc[4], accm[4];
  for (int k = 0; k < 4; k++) acc[k] = accm[k] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    const q4_K_x8 *xb = &x[b];
    __m256 dw = _mm256_loadu_ps(xb->d), dmw = _mm256_loadu_ps(xb->dm);
    for (int p = 0; p < 4; p++) {
      __m256i I[4];
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        int j = 2 * p + h;
        __m256i S[4];
        q4_K_x8_sub1(xb->q[j][0], (const uint8_t *)y[0][b].qs + 32 * j,
                     (const uint8_t *)y[1][b].qs + 32 * j, (const uint8_t *)y[2][b].qs + 32 * j,
                     (const uint8_t *)y[3][b].qs + 32 * j, S);
        __m256i scv = _mm256_loadu_si256((const __m256i *)xb->sc[j]);
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
          __m256i t = _mm256_madd_epi16(S[k], scv);
          I[k] = h ? _mm256_add_epi32(I[k], t) : t;
        }
      }
      __m256i mnv = _mm256_loadu_si256((const __m256i *)xb->mn[p]);
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) {
        const int16_t *bs = y[k][b].bsums + 4 * p; /* B(2p), B(2p + 1) */
        int32_t bp = (int32_t)(uint16_t)(int16_t)(bs[0] + bs[1]) |
                     (int32_t)((uint32_t)(uint16_t)(int16_t)(bs[2] + bs[3]) << 16);
        __m256i M = _mm256_madd_epi16(mnv, _mm256_set1_epi32(bp));
        __m256 dy = _mm256_set1_ps(y[k][b].d);
        acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(I[k]), _mm256_mul_ps(dw, dy), acc[k]);
        accm[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(M), _mm256_mul_ps(dmw, dy), accm[k]);
      }
    }
  }
  for (int k = 0; k < 4; k++) _mm256_storeu_ps(out + 8 * k, _mm256_sub_ps(acc[k], accm[k]));
}

static const llm_gemm8 gemm8_q4_K_set = {pack8_q4_K_bytes, pack8_q4_K, gemm8_q4_K};

/* Q4_0 (the repacked order: one fused multiply-add per block on its exact sum), packed strips of
 * eight rows as for Q4_K. The weights are stored as signed values q - 8 and the activation bytes
 * shifted to unsigned a + 128 (an xor of the broadcast word), so vpmaddubsw takes them as they
 * are: (a + 128)(q - 8) = a (q - 8) + 128 (q - 8), and the row's 128 Σ(q - 8) is taken off once
 * per block (stored with the strip). Words stay exact: 8 x 2 x 255 x 8 = 32640 < 2^15. */
typedef struct {
  int8_t q[8][32]; /* [group g][4 r + i]: row r's value 4 g + i, minus 8 */
  int32_t corr[8]; /* row r's 128 Σ (q - 8) */
  float d[8];
} q4_0_x8;

TGT static size_t pack8_q4_0_bytes(int64_t n) { return (size_t)(n / QK) * sizeof(q4_0_x8); }

TGT static void pack8_q4_0(const void *w, size_t wstride, int64_t n, void *dst) {
  const __m256i eight = _mm256_set1_epi8(8), ones = _mm256_set1_epi8(1);
  q4_0_x8 *o = dst;
  for (int64_t b = 0; b < n / QK; b++, o++) {
    __m256i v[8];
    for (int r = 0; r < 8; r++) {
      const blk_q4_0 *x = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)r) + b;
      v[r] = _mm256_sub_epi8(q4_values(x->qs), eight);
      /* Σ (q - 8) over the block, times 128 */
      __m256i s16 = _mm256_maddubs_epi16(ones, v[r]);
      __m256i s32 = _mm256_madd_epi16(s16, _mm256_set1_epi16(1));
      __m128i t = _mm_add_epi32(_mm256_castsi256_si128(s32), _mm256_extracti128_si256(s32, 1));
      t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4E));
      t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xB1));
      o->corr[r] = 128 * _mm_cvtsi128_si32(t);
      o->d[r] = h2f(x->d);
    }
    transpose8_epi32(v);
    for (int g = 0; g < 8; g++) _mm256_storeu_si256((__m256i *)o->q[g], v[g]);
  }
}

TGT static void gemm8_q4_0(const void *packed, const void *a, size_t astride, int64_t n,
                           float out[32]) {
  const q4_0_x8 *x = packed;
  const blk_q8_0 *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_0 *)((const uint8_t *)a + astride * (size_t)k);
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[4];
  for (int k = 0; k < 4; k++) acc[k] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    const q4_0_x8 *xb = &x[b];
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
#pragma GCC unroll 8
    for (int g = 0; g < 8; g++) {
      __m256i wv = _mm256_loadu_si256((const __m256i *)xb->q[g]);
#define Q40_BCAST(k)                                                                               \
  _mm256_set1_epi32(                                                                               \
      (int32_t)((uint32_t)load_i32((const uint8_t *)y[k][b].qs + 4 * g) ^ 0x80808080u))
      s0 = _mm256_add_epi16(s0, _mm256_maddubs_epi16(Q40_BCAST(0), wv));
      s1 = _mm256_add_epi16(s1, _mm256_maddubs_epi16(Q40_BCAST(1), wv));
      s2 = _mm256_add_epi16(s2, _mm256_maddubs_epi16(Q40_BCAST(2), wv));
      s3 = _mm256_add_epi16(s3, _mm256_maddubs_epi16(Q40_BCAST(3), wv));
#undef Q40_BCAST
      __asm__("" : "+x"(s0), "+x"(s1), "+x"(s2), "+x"(s3)); /* one chain each */
    }
    __m256i corr = _mm256_loadu_si256((const __m256i *)xb->corr);
    __m256 dw = _mm256_loadu_ps(xb->d);
    __m256i S[4] = {s0, s1, s2, s3};
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      __m256i sum = _mm256_sub_epi32(_mm256_madd_epi16(S[k], ones), corr);
      __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(h2f(y[k][b].d)));
      acc[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(sum), d, acc[k]);
    }
  }
  for (int k = 0; k < 4; k++) _mm256_storeu_ps(out + 8 * k, acc[k]);
}

static const llm_gemm8 gemm8_q4_0_set = {pack8_q4_0_bytes, pack8_q4_0, gemm8_q4_0};

const llm_gemm8 *llm__gemm8_order_avx2(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return llm__gemm8_plain_avx2(t); /* kernels_avx2_gemm8.c */
  if (o != LLM_ORDER_GEMM) return NULL;
  return t == TT_Q4_K ? &gemm8_q4_K_set : t == TT_Q4_0 ? &gemm8_q4_0_set : NULL;
}

/* One row: the four pair sums of a super-block from one hadd tree, then the reference's steps. */
TGT static inline float q4_K_row(const void *w, const void *a, int64_t n, bool gemm) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i s8 = k4_scales(x[b].scales);
    __m256i sc16 = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(s8));
    __m256i v[4];
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) v[p] = q4_K_pair(x[b].qs, y[b].qs, sc16, p);
    __m256i mv = k4_mins(s8, y[b].bsums), z = _mm256_setzero_si256();
    int32_t I[4], M[4];
    _mm_storeu_si128((__m128i *)I, hsum4_epi32(v[0], v[1], v[2], v[3]));
    /* hadd(mv, 0): lanes 0, 1 then 4, 5 are the pair sums P0, P1, P2, P3 */
    __m256i h = _mm256_hadd_epi32(mv, z);
    M[0] = _mm256_extract_epi32(h, 0);
    M[1] = _mm256_extract_epi32(h, 1);
    M[2] = _mm256_extract_epi32(h, 4);
    M[3] = _mm256_extract_epi32(h, 5);
    float d = h2f(x[b].d) * y[b].d, dm = h2f(x[b].dmin) * y[b].d;
    if (gemm) {
      for (int p = 0; p < 4; p++) {
        acc = fmaf((float)I[p], d, acc);
        accm = fmaf((float)M[p], dm, accm);
      }
    } else {
      acc = fmaf((float)(I[0] + I[1] + I[2] + I[3]), d, acc);
      accm = fmaf((float)(M[0] + M[1] + M[2] + M[3]), dm, accm);
    }
  }
  return acc - accm;
}

TGT static float dot_q4_K_gemv(const void *w, const void *a, int64_t n) {
  return q4_K_row(w, a, n, false);
}

TGT static float dot_q4_K_gemm(const void *w, const void *a, int64_t n) {
  return q4_K_row(w, a, n, true);
}

/* Q4_0 block sums of one row against the activation block ay (a8 = maddubs(8, ay)): 8 lanes. */
TGT static inline __m256i q4_0_block(const uint8_t qs[16], __m256i ay, __m256i a8) {
  __m256i p16 = _mm256_sub_epi16(_mm256_maddubs_epi16(q4_values(qs), ay), a8);
  return _mm256_madd_epi16(p16, _mm256_set1_epi16(1));
}

/* Four halves (fp16) as floats, in the low 128 bits. */
TGT static inline __m128 h4_to_ps(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3) {
  uint64_t hh = h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
  return _mm_cvtph_ps(_mm_cvtsi64_si128((long long)hh));
}

/* Q4_0 (both orders), 4x4 (prompts): per weight row r the unsigned nibbles against the four
 * activations (maddubs, vpmaddwd by ones), one hadd tree per row to [q0..q3 | q0..q3] (the two
 * 128-bit halves' sums), two rows' trees added, halves swapped, into lanes 4 r' + q (rows 0, 1 in
 * A, rows 2, 3 in B); the -8 comes off once per activation, as 8 times its block sum gathered the
 * same way. One FMA per block and output, as the reference. */
TGT static void dot4x4_q4_0_repacked(const void *w, size_t wstride, const void *a, size_t astride,
                                     int64_t n, float out[16]) {
  const blk_q4_0 *x[4];
  const blk_q8_0 *y[4];
  for (int k = 0; k < 4; k++) {
    x[k] = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)k);
    y[k] = (const blk_q8_0 *)((const uint8_t *)a + astride * (size_t)k);
  }
  const __m256i ones = _mm256_set1_epi16(1), eight = _mm256_set1_epi8(8);
  const __m256i lo_rows = _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1);
  const __m256i hi_rows = _mm256_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3);
  __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i ay[4], h[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) ay[k] = _mm256_loadu_si256((const __m256i *)y[k][b].qs);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m256i v = q4_values(x[r][b].qs), p[4];
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) p[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(v, ay[k]), ones);
      h[r] = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
    }
    __m256i s8[4];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) s8[k] = _mm256_madd_epi16(_mm256_maddubs_epi16(eight, ay[k]), ones);
    __m256i e = _mm256_hadd_epi32(_mm256_hadd_epi32(s8[0], s8[1]), _mm256_hadd_epi32(s8[2], s8[3]));
    e = _mm256_add_epi32(e, _mm256_permute2x128_si256(e, e, 0x01)); /* [8 A(q) | 8 A(q)] */
    __m128 dy4 = h4_to_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
    __m256 dy = _mm256_set_m128(dy4, dy4);
    __m256 dw = _mm256_castps128_ps256(h4_to_ps(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d));
    __m256 d[2] = {_mm256_mul_ps(_mm256_permutevar8x32_ps(dw, lo_rows), dy),
                   _mm256_mul_ps(_mm256_permutevar8x32_ps(dw, hi_rows), dy)};
#pragma GCC unroll 2
    for (int g = 0; g < 2; g++) {
      __m256i i0 = h[2 * g], i1 = h[2 * g + 1];
      __m256i I = _mm256_add_epi32(_mm256_permute2x128_si256(i0, i1, 0x20),
                                   _mm256_permute2x128_si256(i0, i1, 0x31));
      acc[g] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(I, e)), d[g], acc[g]);
    }
  }
  float o[16]; /* lane 4 r + q */
  _mm256_storeu_ps(o, acc[0]);
  _mm256_storeu_ps(o + 8, acc[1]);
  for (int q = 0; q < 4; q++)
    for (int r = 0; r < 4; r++) out[4 * q + r] = o[4 * r + q];
}

TGT static float dot_q4_0_repacked(const void *w, const void *a, int64_t n) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  const __m256i eight = _mm256_set1_epi8(8);
  float acc = 0;
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i ay = _mm256_loadu_si256((const __m256i *)y[b].qs);
    __m256i p = q4_0_block(x[b].qs, ay, _mm256_maddubs_epi16(eight, ay));
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    acc = fmaf((float)_mm_cvtsi128_si32(s), h2f(x[b].d) * h2f(y[b].d), acc);
  }
  return acc;
}

vec_dot_fn llm__dot_order_avx2(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  if (t == TT_Q4_0) return dot_q4_0_repacked;
  if (t == TT_Q4_K) return o == LLM_ORDER_GEMM ? dot_q4_K_gemm : dot_q4_K_gemv;
  return NULL;
}

vec_dot4w_fn llm__dot4w_order_avx2(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  if (t == TT_Q4_0) return llm__dot4w_gemv_order_avx2(t, o);
  if (t == TT_Q4_K) return o == LLM_ORDER_GEMM ? dot4w_q4_K_gemm : llm__dot4w_gemv_order_avx2(t, o);
  return NULL;
}

vec_dot4x4_fn llm__dot4x4_order_avx2(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  if (t == TT_Q4_0) return dot4x4_q4_0_repacked;
  return t == TT_Q4_K && o == LLM_ORDER_GEMM ? dot4x4_q4_K_gemm : NULL;
}

#else
const llm_gemm8 *llm__gemm8_order_avx2(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
vec_dot4w_fn llm__dot4w_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot_fn llm__dot_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot_fn llm__dot_untiled_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot4_fn llm__dot4_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot_fn llm__dot_order_avx2(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
vec_dot4w_fn llm__dot4w_order_avx2(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
vec_dot4x4_fn llm__dot4x4_order_avx2(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
#endif
