/* AVX-512 (F, BW, VL, VNNI) kernel set: 512-bit F16/BF16 dots, VNNI (vpdpbusd) integer dots for
 * Q4_0, Q8_0, Q4_K, Q5_K and Q6_K, four-activation-row dots for the K-quants and four-weight-row
 * dots for the 32-value formats. Types and shapes not here fall back to the AVX2 set (F32, whose
 * reference order is one 16-lane chain, and the rest), then to the reference.
 * Compiled with per-function target attributes; only called after kernels.c has checked the CPU. */
#include <math.h>

#include "llm/kernels_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define TGT __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))

/* Block scales through F16C rather than the portable bit-twiddling conversion. */
TGT static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

TGT static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* One 16-lane chain, the scalar reference's order (kernels.c): bit-identical to it. */
TGT static float dot_f16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  __m512 s0 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    s0 = _mm512_fmadd_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))),
                         _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(y + i))), s0);
  float s = _mm512_reduce_add_ps(s0);
  for (; i < n; i++) s = fmaf(fp16_to_f32(x[i]), fp16_to_f32(y[i]), s);
  return s;
}

/* BF16 pairs (kernels.c): lane l holds values 2l and 2l + 1 of each run of 32, the odd one (the
 * high half of its 32 bits) added first. */
TGT static float dot_bf16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  const __m512i hi = _mm512_set1_epi32((int)0xFFFF0000u);
  __m512 s0 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m512i vx = _mm512_loadu_si512(x + i), vy = _mm512_loadu_si512(y + i);
    s0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(vx, hi)),
                         _mm512_castsi512_ps(_mm512_and_si512(vy, hi)), s0);
    s0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(vx, 16)),
                         _mm512_castsi512_ps(_mm512_slli_epi32(vy, 16)), s0);
  }
  float s = _mm512_reduce_add_ps(s0);
  for (; i < n; i++) s = fmaf(bf16_to_f32(x[i]), bf16_to_f32(y[i]), s);
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
    __m256i p = dot_i8(_mm256_loadu_si256((const __m256i *)x[b].qs),
                       _mm256_loadu_si256((const __m256i *)y[b].qs));
    __m256 d = _mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d));
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
    __m256 d = _mm256_set1_ps(h2f(x[b].d) * h2f(y[b].d));
    acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(p), acc);
  }
  return hsum256(acc);
}

TGT static inline __m512i cat256(__m256i lo, __m256i hi) {
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Q6_K: two 32-value groups per 512-bit dot; the 4 int32 lanes of each 16-value sub-block get
 * that sub-block's scale; q6_fold brings the lanes to the reference's 8. */
/* Lanes l and l + 8 of a Q6_K product hold what lane l of the reference holds; folded, less the
 * +32 storage bias per lane (32 x scale x activation sums of sub-blocks 2l and 2l + 1). */
TGT static inline __m256i q6_fold(__m512i isum, __m128i sc8, const int16_t *bsums) {
  __m256i i8 = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
  __m256i bias =
      _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc8), _mm256_loadu_si256((const __m256i *)bsums));
  return _mm256_sub_epi32(i8, _mm256_slli_epi32(bias, 5));
}

TGT static float dot_q6_K(const void *w, const void *a, int64_t n) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
  const __m128i rep4 = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
  __m256 acc = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i sc8 = _mm_loadu_si128((const __m128i *)x[b].scales);
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h));
      __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h + 32));
      __m256i qh = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
      __m256i q0 = _mm256_or_si256(_mm256_and_si256(ql0, m4),
                                   _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4));
      __m256i q1 =
          _mm256_or_si256(_mm256_and_si256(ql1, m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4));
      __m256i q2 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4));
      __m256i q3 =
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4));
      __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), cat256(q0, q1),
                                        _mm512_loadu_si512(y[b].qs + 128 * h));
      __m512i p23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), cat256(q2, q3),
                                        _mm512_loadu_si512(y[b].qs + 128 * h + 64));
      __m512i s01 = _mm512_cvtepi8_epi32(
          _mm_shuffle_epi8(sc8, _mm_add_epi8(rep4, _mm_set1_epi8((char)(8 * h)))));
      __m512i s23 = _mm512_cvtepi8_epi32(
          _mm_shuffle_epi8(sc8, _mm_add_epi8(rep4, _mm_set1_epi8((char)(8 * h + 4)))));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p01, s01));
      isum = _mm512_add_epi32(isum, _mm512_mullo_epi32(p23, s23));
    }
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * y[b].d),
                          _mm256_cvtepi32_ps(q6_fold(isum, sc8, y[b].bsums)), acc);
  }
  return hsum256(acc);
}

/* ---- Four activation rows at once (prompt processing): each weight block is loaded and decoded
 * once and used for four activation rows held in registers. Q4_K, Q5_K and Q6_K gain over the AVX2
 * set. */

TGT static void dot4_q6_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q6_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
  const __m256i rep8 = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i sc8 = _mm_loadu_si128((const __m128i *)x[b].scales);
    __m256i scb = _mm256_broadcastsi128_si256(sc8);
    __m512i isum[4] = {_mm512_setzero_si512(), _mm512_setzero_si512(), _mm512_setzero_si512(),
                       _mm512_setzero_si512()};
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h));
      __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x[b].ql + 64 * h + 32));
      __m256i qh = _mm256_loadu_si256((const __m256i *)(x[b].qh + 32 * h));
      __m512i v01 = cat256(
          _mm256_or_si256(_mm256_and_si256(ql0, m4),
                          _mm256_slli_epi16(_mm256_and_si256(qh, m3), 4)),
          _mm256_or_si256(_mm256_and_si256(ql1, m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), m3), 4)));
      __m512i v23 = cat256(
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), m3), 4)),
          _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                          _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), m3), 4)));
      /* Scale words: 8 per 16-value sub-block, sub-blocks 8h..8h + 3 (v01), 8h + 4..8h + 7 (v23).
       */
      __m512i s01 = _mm512_cvtepi8_epi16(
          _mm256_shuffle_epi8(scb, _mm256_add_epi8(rep8, _mm256_set1_epi8((char)(8 * h)))));
      __m512i s23 = _mm512_cvtepi8_epi16(
          _mm256_shuffle_epi8(scb, _mm256_add_epi8(rep8, _mm256_set1_epi8((char)(8 * h + 4)))));
#pragma GCC unroll 4
      for (int k = 0; k < 4; k++) {
        __m512i p01 = _mm512_maddubs_epi16(v01, _mm512_loadu_si512(y[k][b].qs + 128 * h));
        __m512i p23 = _mm512_maddubs_epi16(v23, _mm512_loadu_si512(y[k][b].qs + 128 * h + 64));
        isum[k] = _mm512_add_epi32(
            isum[k], _mm512_add_epi32(_mm512_madd_epi16(p01, s01), _mm512_madd_epi16(p23, s23)));
      }
    }
    float d = h2f(x[b].d);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * y[k][b].d),
                               _mm256_cvtepi32_ps(q6_fold(isum[k], sc8, y[k][b].bsums)), acc[k]);
  }
  for (int k = 0; k < 4; k++) out[k] = hsum256(acc[k]);
}

/* Q4_K's 6-bit scales and mins of one block as four words of four bytes: scales 0-3, 4-7, mins 0-3,
 * 4-7 (the 12-byte packing of kernels_int.h unpacked with 32-bit masks, not byte by byte). */
static inline void k4_scales(const uint8_t *q, uint32_t out[4]) {
  uint32_t a0, a1, a2;
  memcpy(&a0, q, 4);
  memcpy(&a1, q + 4, 4);
  memcpy(&a2, q + 8, 4);
  out[0] = a0 & 0x3F3F3F3Fu;
  out[1] = (a2 & 0x0F0F0F0Fu) | (((a0 >> 6) & 0x03030303u) << 4);
  out[2] = a1 & 0x3F3F3F3Fu;
  out[3] = ((a2 >> 4) & 0x0F0F0F0Fu) | (((a1 >> 6) & 0x03030303u) << 4);
}

/* One Q4_K block's 32-value chunk c as 64 bytes: the low nibbles of its 32 bytes (sub-block 2c),
 * then the high nibbles (sub-block 2c + 1), which is the order of activation bytes 64c..64c+63,
 * so activations are used as loaded. */
TGT static inline __m512i k4_chunk(const uint8_t *qs, int c) {
  const __m256i m4 = _mm256_set1_epi8(0xF);
  __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * c));
  __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  return _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
}

/* Scale words for the four 64-value chunks of a block in activation order: for chunk c, words 0-15
 * (values 0-31) scale sub-block 2c, words 16-31 sub-block 2c + 1 (s8: the scales in bytes 0-7).
 * Scaling maddubs's int16 pair sums with vpmaddwd costs less than vpdpbusd + vpmulld: the
 * four-row Q4_K dot went from 129 to 175 GFLOP/s in cache. */
TGT static inline void k4_scale_words(__m128i s8, __m512i out[4]) {
  __m512i sw = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(s8));
  for (int c = 0; c < 4; c++) {
    __m512i idx = _mm512_inserti64x4(_mm512_set1_epi16((short)(2 * c)),
                                     _mm256_set1_epi16((short)(2 * c + 1)), 1);
    out[c] = _mm512_permutexvar_epi16(idx, sw);
  }
}

/* Q4_K x Q8_K, one row. Each 64-byte load of weights holds two 32-value chunks; its low nibbles
 * pair with activation bytes 0-31 and 64-95 of the 128 it covers, its high nibbles with 32-63 and
 * 96-127, so two 128-bit-lane shuffles of the activation line them up for vpdpbusd. Each 16-lane
 * product then covers two sub-blocks (lanes 0-7 and 8-15), scaled by a permuted scale vector. */
TGT static float dot_q4_K(const void *w, const void *a, int64_t n) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  const __m512i m4 = _mm512_set1_epi8(0xF);
  /* Lane halves -> sub-block: low nibbles of load h cover sub-blocks 4h and 4h+2, high 4h+1, 4h+3.
   */
  const __m512i i_lo0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
  const __m512i i_hi0 = _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m512i i_lo1 = _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6);
  const __m512i i_hi1 = _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7);
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  __m256 acc = _mm256_setzero_ps(), accm = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint32_t sm[4];
    k4_scales(x[b].scales, sm);
    __m128i s8 = _mm_setr_epi32((int)sm[0], (int)sm[1], (int)sm[2], (int)sm[3]);
    __m512i sc = _mm512_cvtepu8_epi32(s8); /* lanes 0-7: scales; 8-15: mins (unused here) */
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m512i q = _mm512_loadu_si512(x[b].qs + 64 * h);
      __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
      __m512i y0 = _mm512_loadu_si512(y[b].qs + 128 * h),
              y1 = _mm512_loadu_si512(y[b].qs + 128 * h + 64);
      __m512i ylo = _mm512_shuffle_i64x2(y0, y1, 0x44), yhi = _mm512_shuffle_i64x2(y0, y1, 0xEE);
      __m512i plo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ylo);
      __m512i phi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, yhi);
      isum = _mm512_add_epi32(
          isum, _mm512_mullo_epi32(plo, _mm512_permutexvar_epi32(h ? i_lo1 : i_lo0, sc)));
      isum = _mm512_add_epi32(
          isum, _mm512_mullo_epi32(phi, _mm512_permutexvar_epi32(h ? i_hi1 : i_hi0, sc)));
    }
    /* Lanes l and l + 8 together hold what lane l of the AVX2 kernel holds (integer sums are
     * exact), so the float steps below, and the result, are bit-identical to it. */
    __m256i i8 = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
    float dy = y[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(i8), acc);
    __m256i m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(s8, 8), dup));
    __m256i mins = _mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)y[b].bsums));
    accm = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].dmin) * dy), _mm256_cvtepi32_ps(mins), accm);
  }
  return hsum256(acc) - hsum256(accm);
}

/* Q4_K x Q8_K, four activation rows: each weight block is decoded once into four chunks of nibbles
 * in activation order (k4_chunk), so the activations need no shuffles, and multiplied with the four
 * rows (measured faster here than dot_q4_K's shuffled activations, which win for one row). The
 * lanes fold as in dot_q4_K: bit-identical to it and to the AVX2 kernels, row by row. */
TGT static void dot4_q4_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q4_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  __m256 acc[4], accm[4];
  for (int k = 0; k < 4; k++) acc[k] = accm[k] = _mm256_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint32_t sm[4];
    k4_scales(x[b].scales, sm);
    __m128i s8 = _mm_setr_epi32((int)sm[0], (int)sm[1], (int)sm[2], (int)sm[3]);
    __m512i scw[4], nib[4];
    k4_scale_words(s8, scw);
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) nib[c] = k4_chunk(x[b].qs, c);
    __m256i m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(s8, 8), dup));
    float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      const int8_t *yq = y[k][b].qs;
      __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int c = 0; c < 4; c++) {
        __m512i p = _mm512_maddubs_epi16(nib[c], _mm512_loadu_si512(yq + 64 * c));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, scw[c]));
      }
      __m256i i8 =
          _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
      float dy = y[k][b].d;
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * dy), _mm256_cvtepi32_ps(i8), acc[k]);
      __m256i mins = _mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)y[k][b].bsums));
      accm[k] = _mm256_fmadd_ps(_mm256_set1_ps(dmin * dy), _mm256_cvtepi32_ps(mins), accm[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum256(acc[k]) - hsum256(accm[k]);
}

/* The integer sum of a Q5_K block's mins against the activation's 16-value sums (the reference's
 * one integer per super-block; exact, so the order of the additions does not matter). */
TGT static inline int k5_mins(__m128i s8, const int16_t *bsums) {
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  __m256i m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(s8, 8), dup));
  __m256i p = _mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)bsums));
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

/* Q5_K x Q8_K, one row: dot_q4_K's layout (64-byte weight loads, activations paired by two
 * shuffles, one vpdpbusd per 64 bytes) with the fifth bits added as 16 under a byte mask: qh is
 * loaded into both 256-bit halves, and for load h the low nibbles take bit 4h (bytes 0-31) and
 * 4h + 2 (bytes 32-63) of qh[l], the high nibbles 4h + 1 and 4h + 3 (vptestmb + masked vpaddb).
 * The mins are one integer per block on a scalar float chain, as in the reference. */
TGT static float dot_q5_K(const void *w, const void *a, int64_t n) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  const __m512i m4 = _mm512_set1_epi8(0xF), b16 = _mm512_set1_epi8(16);
  const __m512i sel_lo = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(4), 1);
  const __m512i sel_hi = _mm512_inserti64x4(_mm512_set1_epi8(2), _mm256_set1_epi8(8), 1);
  const __m512i i_lo0 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2);
  const __m512i i_hi0 = _mm512_setr_epi32(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m512i i_lo1 = _mm512_setr_epi32(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6);
  const __m512i i_hi1 = _mm512_setr_epi32(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7);
  __m256 acc = _mm256_setzero_ps();
  float summ = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint32_t sm[4];
    k4_scales(x[b].scales, sm);
    __m128i s8 = _mm_setr_epi32((int)sm[0], (int)sm[1], (int)sm[2], (int)sm[3]);
    __m512i sc = _mm512_cvtepu8_epi32(s8); /* lanes 0-7: scales; 8-15: mins (unused here) */
    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[b].qh));
    __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      __m512i q = _mm512_loadu_si512(x[b].qs + 64 * h);
      __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
      __mmask64 klo = _mm512_test_epi8_mask(qh, h ? _mm512_slli_epi16(sel_lo, 4) : sel_lo);
      __mmask64 khi = _mm512_test_epi8_mask(qh, h ? _mm512_slli_epi16(sel_hi, 4) : sel_hi);
      lo = _mm512_mask_add_epi8(lo, klo, lo, b16);
      hi = _mm512_mask_add_epi8(hi, khi, hi, b16);
      __m512i y0 = _mm512_loadu_si512(y[b].qs + 128 * h),
              y1 = _mm512_loadu_si512(y[b].qs + 128 * h + 64);
      __m512i ylo = _mm512_shuffle_i64x2(y0, y1, 0x44), yhi = _mm512_shuffle_i64x2(y0, y1, 0xEE);
      __m512i plo = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, ylo);
      __m512i phi = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi, yhi);
      isum = _mm512_add_epi32(
          isum, _mm512_mullo_epi32(plo, _mm512_permutexvar_epi32(h ? i_lo1 : i_lo0, sc)));
      isum = _mm512_add_epi32(
          isum, _mm512_mullo_epi32(phi, _mm512_permutexvar_epi32(h ? i_hi1 : i_hi0, sc)));
    }
    __m256i i8 = _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
    float dy = y[b].d;
    acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[b].d) * dy), _mm256_cvtepi32_ps(i8), acc);
    summ = fmaf(-dy * h2f(x[b].dmin), (float)k5_mins(s8, y[b].bsums), summ);
  }
  return hsum256(acc) + summ;
}

/* Q5_K x Q8_K, four activation rows: as dot4_q4_K (each block decoded once into four 64-byte
 * chunks in activation order), the fifth bits of chunk c (qh bits 2c, 2c + 1) added under a
 * mask. */
TGT static void dot4_q5_K(const void *w, const void *a, size_t stride, int64_t n, float out[4]) {
  const blk_q5_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  const __m512i b16 = _mm512_set1_epi8(16);
  const __m512i sel = _mm512_inserti64x4(_mm512_set1_epi8(1), _mm256_set1_epi8(2), 1);
  __m256 acc[4];
  float summ[4];
  for (int k = 0; k < 4; k++) {
    acc[k] = _mm256_setzero_ps();
    summ[k] = 0;
  }
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint32_t sm[4];
    k4_scales(x[b].scales, sm);
    __m128i s8 = _mm_setr_epi32((int)sm[0], (int)sm[1], (int)sm[2], (int)sm[3]);
    __m512i scw[4], nib[4];
    k4_scale_words(s8, scw);
    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[b].qh));
#pragma GCC unroll 4
    for (int c = 0; c < 4; c++) {
      __mmask64 k5 = _mm512_test_epi8_mask(qh, _mm512_slli_epi16(sel, 2 * c));
      nib[c] = k4_chunk(x[b].qs, c);
      nib[c] = _mm512_mask_add_epi8(nib[c], k5, nib[c], b16);
    }
    float d = h2f(x[b].d), dmin = h2f(x[b].dmin);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      const int8_t *yq = y[k][b].qs;
      __m512i isum = _mm512_setzero_si512();
#pragma GCC unroll 4
      for (int c = 0; c < 4; c++) {
        __m512i p = _mm512_maddubs_epi16(nib[c], _mm512_loadu_si512(yq + 64 * c));
        isum = _mm512_add_epi32(isum, _mm512_madd_epi16(p, scw[c]));
      }
      __m256i i8 =
          _mm256_add_epi32(_mm512_castsi512_si256(isum), _mm512_extracti64x4_epi64(isum, 1));
      float dy = y[k][b].d;
      acc[k] = _mm256_fmadd_ps(_mm256_set1_ps(d * dy), _mm256_cvtepi32_ps(i8), acc[k]);
      summ[k] = fmaf(-dy * dmin, (float)k5_mins(s8, y[k][b].bsums), summ[k]);
    }
  }
  for (int k = 0; k < 4; k++) out[k] = hsum256(acc[k]) + summ[k];
}

vec_dot4_fn llm__dot4_avx512(tensor_type t) {
  switch (t) {
  case TT_Q4_K: return dot4_q4_K;
  case TT_Q5_K: return dot4_q5_K;
  case TT_Q6_K: return dot4_q6_K;
  default: return NULL;
  }
}

vec_dot_fn llm__dot_avx512(tensor_type t) {
  switch (t) {
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

/* ---- Four weight rows at once (generation) for the 32-value formats. A one-row dot there is one
 * chain of dependent FMAs (one per block, the reference's order), bound by the FMA latency; four
 * rows give four chains. Two rows share a 512-bit register: byte quarters are [row 0 values 0-15,
 * row 1 values 0-15, row 0 values 16-31, row 1 values 16-31], against the activation laid out as
 * [a0-15, a0-15, a16-31, a16-31]. vpdpbusd's dword lanes then hold the reference lanes of both rows
 * (row 0: lanes 0-3 and 8-11; row 1: 4-7 and 12-15), each exact, so the per-lane FMAs are the
 * reference's; w4_hsum puts a row's lanes back in order before hsum8. */

/* The activation block as [a0-15, a0-15, a16-31, a16-31]. */
TGT static inline __m512i w4_act(const int8_t *qs) {
  __m512i y = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)qs));
  return _mm512_shuffle_i64x2(y, y, 0x50);
}

/* The 16-byte nibble fields of two rows' blocks p0, p1 as [p0 & 15, p1 & 15, p0 >> 4, p1 >> 4]:
 * each row's values in the order above. */
TGT static inline __m512i w4_nibbles(const uint8_t *p0, const uint8_t *p1) {
  __m256i t =
      _mm256_set_m128i(_mm_loadu_si128((const __m128i *)p1), _mm_loadu_si128((const __m128i *)p0));
  __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(t), _mm256_srli_epi16(t, 4), 1);
  return _mm512_and_si512(z, _mm512_set1_epi8(0xF));
}

/* Four halves (block scales of four rows) times the activation's scale dy, as four floats, and
 * spread to the lane layout above: rows 0 and 1 in s01, rows 2 and 3 in s23. */
TGT static inline void w4_scales(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3, float dy,
                                 __m512 *s01, __m512 *s23) {
  uint64_t hh = h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
  __m128 s = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)hh)), _mm_set1_ps(dy));
  const __m512i i01 = _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
  const __m512i i23 = _mm512_setr_epi32(2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 2, 3, 3, 3, 3);
  *s01 = _mm512_permutexvar_ps(i01, _mm512_castps128_ps512(s));
  *s23 = _mm512_permutexvar_ps(i23, _mm512_castps128_ps512(s));
}

/* Row r (0 or 1) of a two-row accumulator, reduced as hsum8 reduces the reference's 8 lanes. */
TGT static inline float w4_hsum(__m512 acc, int r) {
  const __m512i i0 = _mm512_setr_epi32(0, 1, 2, 3, 8, 9, 10, 11, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m512i i1 = _mm512_setr_epi32(4, 5, 6, 7, 12, 13, 14, 15, 0, 0, 0, 0, 0, 0, 0, 0);
  return hsum256(_mm512_castps512_ps256(_mm512_permutexvar_ps(r ? i1 : i0, acc)));
}

/* Q4_0, four weight rows: sum (q - 8) a is one vpdpbusd of q (unsigned) started from -8 sum a. */
TGT static void dot4w_q4_0(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q4_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  const __m512i eight = _mm512_set1_epi8(8);
  __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m512i ay = w4_act(y[b].qs);
    __m512i neg8 = _mm512_sub_epi32(_mm512_setzero_si512(),
                                    _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, ay));
    __m512 s01, s23;
    w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, h2f(y[b].d), &s01, &s23);
    __m512i p01 = _mm512_dpbusd_epi32(neg8, w4_nibbles(x[0][b].qs, x[1][b].qs), ay);
    __m512i p23 = _mm512_dpbusd_epi32(neg8, w4_nibbles(x[2][b].qs, x[3][b].qs), ay);
    acc01 = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(p01), acc01);
    acc23 = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(p23), acc23);
  }
  out[0] = w4_hsum(acc01, 0);
  out[1] = w4_hsum(acc01, 1);
  out[2] = w4_hsum(acc23, 0);
  out[3] = w4_hsum(acc23, 1);
}

/* The fifth bits of two rows' Q5 blocks (qh0, qh1: bit j is value j's) as a byte mask in the
 * w4_nibbles layout. */
TGT static inline __mmask64 w4_high(const uint8_t *qh0, const uint8_t *qh1) {
  uint32_t h0, h1;
  memcpy(&h0, qh0, 4);
  memcpy(&h1, qh1, 4);
  uint32_t lo = (h0 & 0xFFFFu) | (h1 << 16), hi = (h0 >> 16) | (h1 & 0xFFFF0000u);
  return _cvtu64_mask64(lo | (uint64_t)hi << 32);
}

/* The 5-bit values (0..31) of two rows' Q5_0 / Q5_1 blocks in the w4_nibbles layout. */
TGT static inline __m512i w4_q5(const uint8_t *qs0, const uint8_t *qh0, const uint8_t *qs1,
                                const uint8_t *qh1) {
  __m512i z = w4_nibbles(qs0, qs1);
  return _mm512_mask_add_epi8(z, w4_high(qh0, qh1), z, _mm512_set1_epi8(16));
}

/* Row r's result of a two-row pair of accumulators (d part, m part), as the reference adds them. */
TGT static inline float w4_hsum2(__m512 acc, __m512 accm, int r) {
  return w4_hsum(acc, r) + w4_hsum(accm, r);
}

/* Q5_0, four weight rows: values 0..31 in vpdpbusd, started from -16 sum a. */
TGT static void dot4w_q5_0(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q5_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q5_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  const __m512i sixteen = _mm512_set1_epi8(16);
  __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m512i ay = w4_act(y[b].qs);
    __m512i neg16 = _mm512_sub_epi32(_mm512_setzero_si512(),
                                     _mm512_dpbusd_epi32(_mm512_setzero_si512(), sixteen, ay));
    __m512 s01, s23;
    w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, h2f(y[b].d), &s01, &s23);
    __m512i p01 =
        _mm512_dpbusd_epi32(neg16, w4_q5(x[0][b].qs, x[0][b].qh, x[1][b].qs, x[1][b].qh), ay);
    __m512i p23 =
        _mm512_dpbusd_epi32(neg16, w4_q5(x[2][b].qs, x[2][b].qh, x[3][b].qs, x[3][b].qh), ay);
    acc01 = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(p01), acc01);
    acc23 = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(p23), acc23);
  }
  out[0] = w4_hsum(acc01, 0);
  out[1] = w4_hsum(acc01, 1);
  out[2] = w4_hsum(acc23, 0);
  out[3] = w4_hsum(acc23, 1);
}

/* Q4_1 / Q5_1, four weight rows: unsigned values in vpdpbusd for the d part; the m part is the
 * activation's lane sums (one vpdpbusd of ones per block, shared by the rows) on a second pair of
 * accumulators, as the reference keeps them. */
#define W4_Q_1(NAME, BLK, VALUES)                                                                  \
  TGT static void NAME(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {    \
    const BLK *x[4];                                                                               \
    for (int r = 0; r < 4; r++) x[r] = (const BLK *)((const uint8_t *)w + wstride * (size_t)r);    \
    const blk_q8_0 *y = a;                                                                         \
    const __m512i ones = _mm512_set1_epi8(1);                                                      \
    __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();                               \
    __m512 accm01 = _mm512_setzero_ps(), accm23 = _mm512_setzero_ps();                             \
    for (int64_t b = 0; b < n / QK; b++) {                                                         \
      __m512i ay = w4_act(y[b].qs);                                                                \
      __m512 sa = _mm512_cvtepi32_ps(_mm512_dpbusd_epi32(_mm512_setzero_si512(), ones, ay));       \
      float dy = h2f(y[b].d);                                                                      \
      __m512 s01, s23, m01, m23;                                                                   \
      w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, dy, &s01, &s23);                       \
      w4_scales(x[0][b].m, x[1][b].m, x[2][b].m, x[3][b].m, dy, &m01, &m23);                       \
      __m512i p01 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), VALUES(0, 1), ay);                 \
      __m512i p23 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), VALUES(2, 3), ay);                 \
      acc01 = _mm512_fmadd_ps(s01, _mm512_cvtepi32_ps(p01), acc01);                                \
      acc23 = _mm512_fmadd_ps(s23, _mm512_cvtepi32_ps(p23), acc23);                                \
      accm01 = _mm512_fmadd_ps(m01, sa, accm01);                                                   \
      accm23 = _mm512_fmadd_ps(m23, sa, accm23);                                                   \
    }                                                                                              \
    out[0] = w4_hsum2(acc01, accm01, 0);                                                           \
    out[1] = w4_hsum2(acc01, accm01, 1);                                                           \
    out[2] = w4_hsum2(acc23, accm23, 0);                                                           \
    out[3] = w4_hsum2(acc23, accm23, 1);                                                           \
  }
#define Q4_1_VALUES(r0, r1) w4_nibbles(x[r0][b].qs, x[r1][b].qs)
#define Q5_1_VALUES(r0, r1) w4_q5(x[r0][b].qs, x[r0][b].qh, x[r1][b].qs, x[r1][b].qh)
W4_Q_1(dot4w_q4_1, blk_q4_1, Q4_1_VALUES)
W4_Q_1(dot4w_q5_1, blk_q5_1, Q5_1_VALUES)

/* Q8_0, four weight rows. Here a 64-byte register holds two rows' blocks as stored, against the
 * activation block in both halves, so lanes 0-7 are row 0's reference lanes and 8-15 row 1's. The
 * weights go in as unsigned bytes w + 128, the excess coming off through vpdpbusd's start value
 * -128 sum a. */
TGT static inline __m512 w8_scales(__m128 s, int r) {
  const __m512i i01 = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  return _mm512_permutexvar_ps(_mm512_add_epi32(i01, _mm512_set1_epi32(r)),
                               _mm512_castps128_ps512(s));
}

TGT static inline __m256 high256(__m512 v) {
  return _mm256_castsi256_ps(_mm512_extracti64x4_epi64(_mm512_castps_si512(v), 1));
}

TGT static void dot4w_q8_0(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q8_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q8_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  const __m512i bias = _mm512_set1_epi8((char)0x80);
  __m512 acc01 = _mm512_setzero_ps(), acc23 = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m512i ay = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)y[b].qs));
    __m512i neg = _mm512_sub_epi32(_mm512_setzero_si512(),
                                   _mm512_dpbusd_epi32(_mm512_setzero_si512(), bias, ay));
    uint64_t hh = x[0][b].d | (uint64_t)x[1][b].d << 16 | (uint64_t)x[2][b].d << 32 |
                  (uint64_t)x[3][b].d << 48;
    __m128 s = _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)hh)), _mm_set1_ps(h2f(y[b].d)));
    __m512i w01 =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[0][b].qs)),
                           _mm256_loadu_si256((const __m256i *)x[1][b].qs), 1);
    __m512i w23 =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)x[2][b].qs)),
                           _mm256_loadu_si256((const __m256i *)x[3][b].qs), 1);
    __m512i p01 = _mm512_dpbusd_epi32(neg, _mm512_xor_si512(w01, bias), ay);
    __m512i p23 = _mm512_dpbusd_epi32(neg, _mm512_xor_si512(w23, bias), ay);
    acc01 = _mm512_fmadd_ps(w8_scales(s, 0), _mm512_cvtepi32_ps(p01), acc01);
    acc23 = _mm512_fmadd_ps(w8_scales(s, 2), _mm512_cvtepi32_ps(p23), acc23);
  }
  out[0] = hsum256(_mm512_castps512_ps256(acc01));
  out[1] = hsum256(high256(acc01));
  out[2] = hsum256(_mm512_castps512_ps256(acc23));
  out[3] = hsum256(high256(acc23));
}

vec_dot4w_fn llm__dot4w_avx512(tensor_type t) {
  switch (t) {
  case TT_Q4_0: return dot4w_q4_0;
  case TT_Q4_1: return dot4w_q4_1;
  case TT_Q5_0: return dot4w_q5_0;
  case TT_Q5_1: return dot4w_q5_1;
  case TT_Q8_0: return dot4w_q8_0;
  default: return NULL;
  }
}

/* ---- The repacked orders (llm_order) ----------------------------------------------------------
 *
 * As in the AVX2 set: exact integer sums in any order, then only the scalar references' fused
 * multiply-adds (kernels.c), with four outputs (four weight rows, or four activation rows) in the
 * four lanes of one register. A Q4_K block is decoded as in dot_q4_K (two 64-byte loads, the
 * activation shuffled to match), scaled with vpmaddwd / vpdpwssd, so one 16-lane sum holds two
 * pairs of sub-blocks (lanes 0-7 and 8-15). */

/* For a, b, c, d: 128-bit lane L of the result is [sum of lane L of a, of b, of c, of d]. */
TGT static inline __attribute__((always_inline)) __m512i lane_sums4(__m512i a, __m512i b, __m512i c,
                                                                    __m512i d) {
  __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
  __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
  return _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
}

/* The four 128-bit lanes of z added. */
TGT static inline __attribute__((always_inline)) __m128i lanes_add(__m512i z) {
  __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* [sum of the 8 lanes of v0, ... of v3]. */
TGT static inline __attribute__((always_inline)) __m128i rk_hsum4(__m256i v0, __m256i v1,
                                                                  __m256i v2, __m256i v3) {
  __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(v0, v1), _mm256_hadd_epi32(v2, v3));
  return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* A Q4_K block for rk_dot: nib[2h] the low nibbles of bytes 64h..64h+63 (sub-blocks 4h and 4h + 2),
 * nib[2h + 1] the high ones (4h + 1, 4h + 3); scw the matching scale words; m16 the mins as words,
 * each twice (for the activation's 16 sums). */
TGT static inline __attribute__((always_inline)) void rk_weights(const blk_q4_K *x, __m512i nib[4],
                                                                 __m512i scw[4], __m256i *m16) {
  const __m512i m4 = _mm512_set1_epi8(0xF);
  const __m128i dup = _mm_setr_epi8(0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
  uint32_t sm[4];
  k4_scales(x->scales, sm);
  __m128i s8 = _mm_setr_epi32((int)sm[0], (int)sm[1], (int)sm[2], (int)sm[3]);
  __m512i sw = _mm512_castsi256_si512(_mm256_cvtepu8_epi16(s8));
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) {
    __m512i q = _mm512_loadu_si512(x->qs + 64 * h);
    nib[2 * h] = _mm512_and_si512(q, m4);
    nib[2 * h + 1] = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    scw[2 * h] =
        _mm512_permutexvar_epi16(_mm512_inserti64x4(_mm512_set1_epi16((short)(4 * h)),
                                                    _mm256_set1_epi16((short)(4 * h + 2)), 1),
                                 sw);
    scw[2 * h + 1] =
        _mm512_permutexvar_epi16(_mm512_inserti64x4(_mm512_set1_epi16((short)(4 * h + 1)),
                                                    _mm256_set1_epi16((short)(4 * h + 3)), 1),
                                 sw);
  }
  *m16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(_mm_srli_si128(s8, 8), dup));
}

/* An activation block's bytes lined up with rk_weights: act[2h] values 128h + 0..31 and
 * 128h + 64..95, act[2h + 1] 128h + 32..63 and 128h + 96..127. */
TGT static inline __attribute__((always_inline)) void rk_act(const int8_t *qs, __m512i act[4]) {
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++) {
    __m512i y0 = _mm512_loadu_si512(qs + 128 * h), y1 = _mm512_loadu_si512(qs + 128 * h + 64);
    act[2 * h] = _mm512_shuffle_i64x2(y0, y1, 0x44);
    act[2 * h + 1] = _mm512_shuffle_i64x2(y0, y1, 0xEE);
  }
}

/* A[h]: lanes 0-7 sum to pair 2h's sc S + sc S, lanes 8-15 to pair 2h + 1's. */
TGT static inline __attribute__((always_inline)) void
rk_dot(const __m512i nib[4], const __m512i scw[4], const __m512i act[4], __m512i A[2]) {
#pragma GCC unroll 2
  for (int h = 0; h < 2; h++)
    A[h] = _mm512_dpwssd_epi32(
        _mm512_madd_epi16(_mm512_maddubs_epi16(nib[2 * h], act[2 * h]), scw[2 * h]),
        _mm512_maddubs_epi16(nib[2 * h + 1], act[2 * h + 1]), scw[2 * h + 1]);
}

/* The float steps of four outputs (lanes) of a super-block, from their rk_dot sums A[k] and mins
 * terms mv[k] (lane j: m(j) B(j)), with d and dm the four rounded scale products. */
TGT static inline __attribute__((always_inline)) void rk_steps(__m512i A[4][2], const __m256i mv[4],
                                                               __m128 d, __m128 dm, bool gemm,
                                                               __m128 *acc, __m128 *accm) {
  if (gemm) {
    __m512i z1 = lane_sums4(A[0][0], A[1][0], A[2][0], A[3][0]);
    __m512i z2 = lane_sums4(A[0][1], A[1][1], A[2][1], A[3][1]);
    /* 128-bit lane p of P: pair p of the four outputs */
    __m512i P = _mm512_add_epi32(_mm512_shuffle_i32x4(z1, z2, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_i32x4(z1, z2, _MM_SHUFFLE(3, 1, 3, 1)));
    __m512 Pf = _mm512_cvtepi32_ps(P);
    *acc = _mm_fmadd_ps(_mm512_castps512_ps128(Pf), d, *acc);
    *acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(Pf, 1), d, *acc);
    *acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(Pf, 2), d, *acc);
    *acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(Pf, 3), d, *acc);
    /* after the hadds: [out0 P0, out0 P1, out1 P0, out1 P1 | the same for P2, P3] */
    __m256i h01 = _mm256_hadd_epi32(mv[0], mv[1]), h23 = _mm256_hadd_epi32(mv[2], mv[3]);
    __m256i lo = _mm256_unpacklo_epi32(h01, h23), hi = _mm256_unpackhi_epi32(h01, h23);
    __m256 m02 = _mm256_cvtepi32_ps(_mm256_unpacklo_epi32(lo, hi));
    __m256 m13 = _mm256_cvtepi32_ps(_mm256_unpackhi_epi32(lo, hi));
    *accm = _mm_fmadd_ps(_mm256_castps256_ps128(m02), dm, *accm);
    *accm = _mm_fmadd_ps(_mm256_castps256_ps128(m13), dm, *accm);
    *accm = _mm_fmadd_ps(_mm256_extractf128_ps(m02, 1), dm, *accm);
    *accm = _mm_fmadd_ps(_mm256_extractf128_ps(m13, 1), dm, *accm);
  } else {
    __m512i I = lane_sums4(_mm512_add_epi32(A[0][0], A[0][1]), _mm512_add_epi32(A[1][0], A[1][1]),
                           _mm512_add_epi32(A[2][0], A[2][1]), _mm512_add_epi32(A[3][0], A[3][1]));
    *acc = _mm_fmadd_ps(_mm_cvtepi32_ps(lanes_add(I)), d, *acc);
    *accm = _mm_fmadd_ps(_mm_cvtepi32_ps(rk_hsum4(mv[0], mv[1], mv[2], mv[3])), dm, *accm);
  }
}

/* Four halves times dy, as four floats (each product rounded, as the reference's). */
TGT static inline __attribute__((always_inline)) __m128
rk_scales(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3, float dy) {
  uint64_t hh = h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
  return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)hh)), _mm_set1_ps(dy));
}

/* Q4_K, four weight rows against one activation row (generation). */
TGT static inline __attribute__((always_inline)) void
q4_K_rows4(const void *w, size_t wstride, const void *a, int64_t n, float out[4], bool gemm) {
  const blk_q4_K *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_K *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_K *y = a;
  __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m512i act[4], A[4][2];
    __m256i mv[4], bs = _mm256_loadu_si256((const __m256i *)y[b].bsums);
    rk_act(y[b].qs, act);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m512i nib[4], scw[4];
      __m256i m16;
      rk_weights(&x[r][b], nib, scw, &m16);
      rk_dot(nib, scw, act, A[r]);
      mv[r] = _mm256_madd_epi16(m16, bs);
    }
    float dy = y[b].d;
    __m128 d = rk_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, dy);
    __m128 dm = rk_scales(x[0][b].dmin, x[1][b].dmin, x[2][b].dmin, x[3][b].dmin, dy);
    rk_steps(A, mv, d, dm, gemm, &acc, &accm);
  }
  _mm_storeu_ps(out, _mm_sub_ps(acc, accm));
}

TGT static void dot4w_q4_K_gemv(const void *w, size_t wstride, const void *a, int64_t n,
                                float out[4]) {
  q4_K_rows4(w, wstride, a, n, out, false);
}

TGT static void dot4w_q4_K_gemm(const void *w, size_t wstride, const void *a, int64_t n,
                                float out[4]) {
  q4_K_rows4(w, wstride, a, n, out, true);
}

/* Q4_K gemm order, one weight row against four activation rows (prompts): the block is decoded
 * once for the four. */
TGT static void dot4_q4_K_gemm(const void *w, const void *a, size_t stride, int64_t n,
                               float out[4]) {
  const blk_q4_K *x = w;
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) y[k] = (const blk_q8_K *)((const uint8_t *)a + stride * (size_t)k);
  __m128 acc = _mm_setzero_ps(), accm = _mm_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m512i nib[4], scw[4], A[4][2];
    __m256i m16, mv[4];
    rk_weights(&x[b], nib, scw, &m16);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
      __m512i act[4];
      rk_act(y[k][b].qs, act);
      rk_dot(nib, scw, act, A[k]);
      mv[k] = _mm256_madd_epi16(m16, _mm256_loadu_si256((const __m256i *)y[k][b].bsums));
    }
    __m128 dy = _mm_setr_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d);
    __m128 d = _mm_mul_ps(_mm_set1_ps(h2f(x[b].d)), dy);
    __m128 dm = _mm_mul_ps(_mm_set1_ps(h2f(x[b].dmin)), dy);
    rk_steps(A, mv, d, dm, true, &acc, &accm);
  }
  _mm_storeu_ps(out, _mm_sub_ps(acc, accm));
}

/* Q4_0, four weight rows: vpdpbusd as in dot4w_q4_0 (row 0 in lanes 0-3 and 8-11 of p01, row 1
 * in 4-7 and 12-15), the rows' block sums gathered for two blocks at a time. */
TGT static inline __attribute__((always_inline)) void
q4_0_rows4(const blk_q4_0 *const x[4], const blk_q8_0 *y, int64_t b, __m512i *p01, __m512i *p23) {
  __m512i ay = w4_act(y[b].qs);
  __m512i neg8 = _mm512_sub_epi32(
      _mm512_setzero_si512(), _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8(8), ay));
  *p01 = _mm512_dpbusd_epi32(neg8, w4_nibbles(x[0][b].qs, x[1][b].qs), ay);
  *p23 = _mm512_dpbusd_epi32(neg8, w4_nibbles(x[2][b].qs, x[3][b].qs), ay);
}

TGT static inline __attribute__((always_inline)) __m128 q4_0_scales(const blk_q4_0 *const x[4],
                                                                    const blk_q8_0 *y, int64_t b) {
  return rk_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, h2f(y[b].d));
}

TGT static void dot4w_q4_0_repacked(const void *w, size_t wstride, const void *a, int64_t n,
                                    float out[4]) {
  const blk_q4_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  __m128 acc = _mm_setzero_ps();
  int64_t nb = n / QK, b = 0;
  for (; b + 2 <= nb; b += 2) {
    __m512i a01, a23, b01, b23;
    q4_0_rows4(x, y, b, &a01, &a23);
    q4_0_rows4(x, y, b + 1, &b01, &b23);
    /* 128-bit lanes 0 and 2 of z: [row 0, row 2 of block b, the same of b + 1] (parts), 1 and 3:
     * rows 1 and 3 */
    __m512i z = lane_sums4(a01, a23, b01, b23);
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
    __m128i l0 = _mm256_castsi256_si128(h), l1 = _mm256_extracti128_si256(h, 1);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi32(l0, l1)), q4_0_scales(x, y, b), acc);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_unpackhi_epi32(l0, l1)), q4_0_scales(x, y, b + 1), acc);
  }
  if (b < nb) {
    __m512i a01, a23, zero = _mm512_setzero_si512();
    q4_0_rows4(x, y, b, &a01, &a23);
    __m512i z = lane_sums4(a01, a23, zero, zero);
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(z), _mm512_extracti64x4_epi64(z, 1));
    __m128i l0 = _mm256_castsi256_si128(h), l1 = _mm256_extracti128_si256(h, 1);
    acc = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_unpacklo_epi32(l0, l1)), q4_0_scales(x, y, b), acc);
  }
  _mm_storeu_ps(out, acc);
}

/* ---- Four weight rows x four activation rows (prompts), the gemm order: the 16 outputs in the
 * 16 lanes of one register, so each float step is one 512-bit fused multiply-add, and each weight
 * and activation block is decoded once per tile (llama.cpp's own gemm has this shape). */

/* Lane l's index l, as 16 dwords. */
TGT static inline __attribute__((always_inline)) __m512i lane_iota(void) {
  return _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

/* Q4_K gemm order, 4x4. Lane 4 r + q (weight row r, activation row q) while summing: the rk_dot
 * sums of row r against the four activation rows are gathered by lane_sums4 (128-bit lane L,
 * position q), then two rows' results by pairs of 128-bit shuffles, as in rk_steps. The mins term
 * is one vpmaddwd per pair: words (m(2p), m(2p+1)) of row r against (B(2p), B(2p+1)) of activation
 * row q, B(j) the sum of sub-block j's two 16-value sums. Transposed to out[4 q + r] at the end. */
TGT static void dot4x4_q4_K_gemm(const void *w, size_t wstride, const void *a, size_t astride,
                                 int64_t n, float out[16]) {
  const blk_q4_K *x[4];
  const blk_q8_K *y[4];
  for (int k = 0; k < 4; k++) {
    x[k] = (const blk_q4_K *)((const uint8_t *)w + wstride * (size_t)k);
    y[k] = (const blk_q8_K *)((const uint8_t *)a + astride * (size_t)k);
  }
  const __m512i l = lane_iota(), three = _mm512_set1_epi32(3);
  const __m512i lr = _mm512_srli_epi32(l, 2), lq = _mm512_and_si512(l, three);
  /* activation pair sums after vpackssdw: pair p of row q is dword 4 (2 (q & 1) + (p >> 1)) +
   * 2 (q >> 1) + (p & 1) */
  const __m512i bq =
      _mm512_add_epi32(_mm512_slli_epi32(_mm512_and_si512(lq, _mm512_set1_epi32(1)), 3),
                       _mm512_slli_epi32(_mm512_srli_epi32(lq, 1), 1));
  __m512i im[4], ib[4];
  for (int p = 0; p < 4; p++) {
    im[p] = _mm512_add_epi32(_mm512_slli_epi32(lr, 2), _mm512_set1_epi32(p));
    ib[p] = _mm512_add_epi32(bq, _mm512_set1_epi32(4 * (p >> 1) + (p & 1)));
  }
  const __m512i ones = _mm512_set1_epi16(1), idm = _mm512_add_epi32(lr, _mm512_set1_epi32(4));
  __m512 acc = _mm512_setzero_ps(), accm = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m512i act[4][4], S[2][2], z[2][2];
    uint64_t mins[4];
#pragma GCC unroll 4
    for (int q = 0; q < 4; q++) rk_act(y[q][b].qs, act[q]);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      __m512i nib[4], scw[4], A[4][2];
      __m256i m16;
      uint32_t sm[4];
      k4_scales(x[r][b].scales, sm);
      mins[r] = sm[2] | (uint64_t)sm[3] << 32;
      rk_weights(&x[r][b], nib, scw, &m16);
#pragma GCC unroll 4
      for (int q = 0; q < 4; q++) rk_dot(nib, scw, act[q], A[q]);
      for (int h = 0; h < 2; h++) {
        z[r & 1][h] = lane_sums4(A[0][h], A[1][h], A[2][h], A[3][h]);
        if (r & 1) /* [row r - 1 pair 2h, its pair 2h + 1, row r pair 2h, its pair 2h + 1] */
          S[r >> 1][h] = _mm512_add_epi32(_mm512_shuffle_i32x4(z[0][h], z[1][h], 0x88),
                                          _mm512_shuffle_i32x4(z[0][h], z[1][h], 0xDD));
      }
    }
    __m512i P[4];
    for (int h = 0; h < 2; h++) {
      P[2 * h] = _mm512_shuffle_i32x4(S[0][h], S[1][h], 0x88);
      P[2 * h + 1] = _mm512_shuffle_i32x4(S[0][h], S[1][h], 0xDD);
    }
    /* mins: words 8 r + j */
    __m512i mw = _mm512_cvtepu8_epi16(_mm256_setr_epi64x((long long)mins[0], (long long)mins[1],
                                                         (long long)mins[2], (long long)mins[3]));
    __m512i b01 = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[0][b].bsums)),
        _mm256_loadu_si256((const __m256i *)y[1][b].bsums), 1);
    __m512i b23 = _mm512_inserti64x4(
        _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[2][b].bsums)),
        _mm256_loadu_si256((const __m256i *)y[3][b].bsums), 1);
    __m512i bw = _mm512_packs_epi32(_mm512_madd_epi16(b01, ones), _mm512_madd_epi16(b23, ones));
    uint64_t hd = x[0][b].d | (uint64_t)x[1][b].d << 16 | (uint64_t)x[2][b].d << 32 |
                  (uint64_t)x[3][b].d << 48;
    uint64_t hm = x[0][b].dmin | (uint64_t)x[1][b].dmin << 16 | (uint64_t)x[2][b].dmin << 32 |
                  (uint64_t)x[3][b].dmin << 48;
    __m512 dx = _mm512_castps256_ps512(
        _mm256_cvtph_ps(_mm_set_epi64x((long long)hm, (long long)hd))); /* d 0-3, dmin 4-7 */
    __m512 dy = _mm512_permutexvar_ps(
        lq, _mm512_castps128_ps512(_mm_setr_ps(y[0][b].d, y[1][b].d, y[2][b].d, y[3][b].d)));
    __m512 d = _mm512_mul_ps(_mm512_permutexvar_ps(lr, dx), dy);
    __m512 dm = _mm512_mul_ps(_mm512_permutexvar_ps(idm, dx), dy);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(P[p]), d, acc);
#pragma GCC unroll 4
    for (int p = 0; p < 4; p++) {
      __m512i M = _mm512_madd_epi16(_mm512_permutexvar_epi32(im[p], mw),
                                    _mm512_permutexvar_epi32(ib[p], bw));
      accm = _mm512_fmadd_ps(_mm512_cvtepi32_ps(M), dm, accm);
    }
  }
  /* lane 4 q + r of the result is lane 4 r + q of the sums */
  __m512i it = _mm512_add_epi32(_mm512_slli_epi32(lq, 2), lr);
  _mm512_storeu_ps(out, _mm512_permutexvar_ps(it, _mm512_sub_ps(acc, accm)));
}

/* Q4_0 (either order), 4x4, lane 4 q + r throughout: no gather trees. The four rows' nibbles sit
 * in the 128-bit lanes of lo (values 0-15) and hi (16-31), the activation rows' bytes in those of
 * al and ah; step k feeds each lane row r's dword k (vpermd) against row q's (vpshufd), so one
 * vpdpbusd per 4 values adds into the 16 sums, started from -8 times the activation row's sum. */
#define X4_STEP(k)                                                                                 \
  do {                                                                                             \
    s = _mm512_dpbusd_epi32(s, _mm512_permutexvar_epi32(iw[k], lo),                                \
                            _mm512_shuffle_epi32(al, (_MM_PERM_ENUM)((k)*0x55)));                  \
    s = _mm512_dpbusd_epi32(s, _mm512_permutexvar_epi32(iw[k], hi),                                \
                            _mm512_shuffle_epi32(ah, (_MM_PERM_ENUM)((k)*0x55)));                  \
  } while (0)

TGT static void dot4x4_q4_0_repacked(const void *w, size_t wstride, const void *a, size_t astride,
                                     int64_t n, float out[16]) {
  const blk_q4_0 *x[4];
  const blk_q8_0 *y[4];
  for (int k = 0; k < 4; k++) {
    x[k] = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)k);
    y[k] = (const blk_q8_0 *)((const uint8_t *)a + astride * (size_t)k);
  }
  const __m512i l = lane_iota(), three = _mm512_set1_epi32(3);
  const __m512i lr4 = _mm512_slli_epi32(_mm512_and_si512(l, three), 2),
                lq = _mm512_srli_epi32(l, 2);
  __m512i iw[4]; /* lane 4 q + r: dword k of 128-bit lane r */
  for (int k = 0; k < 4; k++) iw[k] = _mm512_add_epi32(lr4, _mm512_set1_epi32(k));
  const __m512i m4 = _mm512_set1_epi8(0xF), eight = _mm512_set1_epi8(8);
  __m512 acc = _mm512_setzero_ps();
  for (int64_t b = 0; b < n / QK; b++) {
    __m512i q = _mm512_castsi128_si512(_mm_loadu_si128((const __m128i *)x[0][b].qs));
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)x[1][b].qs), 1);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)x[2][b].qs), 2);
    q = _mm512_inserti32x4(q, _mm_loadu_si128((const __m128i *)x[3][b].qs), 3);
    __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
    __m512i y01 =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[0][b].qs)),
                           _mm256_loadu_si256((const __m256i *)y[1][b].qs), 1);
    __m512i y23 =
        _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)y[2][b].qs)),
                           _mm256_loadu_si256((const __m256i *)y[3][b].qs), 1);
    __m512i al = _mm512_shuffle_i64x2(y01, y23, 0x88), ah = _mm512_shuffle_i64x2(y01, y23, 0xDD);
    __m512i e =
        _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, al), eight, ah);
    e = _mm512_add_epi32(e, _mm512_shuffle_epi32(e, (_MM_PERM_ENUM)0x4E));
    e = _mm512_add_epi32(e, _mm512_shuffle_epi32(e, (_MM_PERM_ENUM)0xB1));
    __m512i s = _mm512_sub_epi32(_mm512_setzero_si512(), e);
    X4_STEP(0);
    X4_STEP(1);
    X4_STEP(2);
    X4_STEP(3);
    uint64_t hx = x[0][b].d | (uint64_t)x[1][b].d << 16 | (uint64_t)x[2][b].d << 32 |
                  (uint64_t)x[3][b].d << 48;
    uint64_t hy = y[0][b].d | (uint64_t)y[1][b].d << 16 | (uint64_t)y[2][b].d << 32 |
                  (uint64_t)y[3][b].d << 48;
    __m512 dx = _mm512_broadcast_f32x4(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)hx)));
    __m512 dy = _mm512_permutexvar_ps(
        lq, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)hy))));
    acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dx, dy), acc);
  }
  _mm512_storeu_ps(out, acc);
}
#undef X4_STEP

vec_dot_fn llm__dot_order_avx512(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL; /* the AVX2 one-row kernels serve the few rows left over from groups of four */
}

vec_dot4w_fn llm__dot4w_order_avx512(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  if (t == TT_Q4_0) return dot4w_q4_0_repacked;
  if (t == TT_Q4_K) return o == LLM_ORDER_GEMM ? dot4w_q4_K_gemm : dot4w_q4_K_gemv;
  return NULL;
}

vec_dot4_fn llm__dot4_order_avx512(tensor_type t, llm_order o) {
  return t == TT_Q4_K && o == LLM_ORDER_GEMM ? dot4_q4_K_gemm : NULL;
}

vec_dot4x4_fn llm__dot4x4_order_avx512(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  if (t == TT_Q4_0) return dot4x4_q4_0_repacked;
  return t == TT_Q4_K && o == LLM_ORDER_GEMM ? dot4x4_q4_K_gemm : NULL;
}

#else
vec_dot4w_fn llm__dot4w_avx512(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot_fn llm__dot_avx512(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot4_fn llm__dot4_avx512(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot_fn llm__dot_order_avx512(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
vec_dot4w_fn llm__dot4w_order_avx512(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
vec_dot4_fn llm__dot4_order_avx512(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
vec_dot4x4_fn llm__dot4x4_order_avx512(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
#endif
