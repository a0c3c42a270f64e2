/* AVX2+FMA+F16C four-weight-row dots for generation (vec_dot4w_fn, one activation row): Q4_K's
 * gemv order, Q4_0's repacked orders, Q5_K, Q6_K and Q8_0, with their row streams prefetched. Each
 * output has the bits of the type's one-row reference (kernels.c): the same integer sums, the same
 * fused multiply-adds, the same lane reduction. Not the prompt kernels (dot4, dot4x4, packed
 * strips). */
#include "llm/kernels_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "llm/kernels_avx2_int.h"

/* Software prefetch distance (bytes) along each of the four row streams (mm_rows_w4 runs them
 * over long runs of consecutive rows): the hardware prefetcher alone follows four streams more
 * slowly than one (Q4_K on the development machine: 22 GB/s without, 26-27 with 2048 bytes ahead;
 * docs/internals/kernels.md). */
#define GV_PF 2048

/* Q6_K, four weight rows. Per row and super-block the one-row kernel's integer lanes: group g of
 * half h (values 128h + 32g ..) is (ql & 0xF or ql >> 4) | ((qh >> 2g) & 3) << 4, here with the
 * two high bits moved to bits 4-5 by one shift and one mask ((qh << 4), (qh << 2), qh, (qh >> 2),
 * each & 0x30: the 16-bit shifts move bits across bytes only into the masked-off bits), against
 * the activation through vpmaddubsw, then vpmaddwd by the group's scale words [sc(2j) x8 |
 * sc(2j + 1) x8]; the +32 storage bias off each lane as 32 (sc(2k) bsums(2k) + sc(2k+1)
 * bsums(2k+1)). The sixteen scales are widened once per super-block and row: one vpmaddwd of them
 * gives the bias, a qword permute gives each half's eight, one vpshufb each group's pair. The
 * activation's bsums and the rows' d dy are loaded once for the four rows. The one-row kernel
 * took one stream at a time: 1.3-1.8x slower per byte (bench_kernels T=1, one thread, medians). */
TGT static void dot4w_q6_K(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q6_K *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q6_K *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF), m30 = _mm256_set1_epi8(0x30);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK_K; b++) {
    const int8_t *aq = y[b].qs;
    __m256i bs = _mm256_loadu_si256((const __m256i *)y[b].bsums);
    __m128 d = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, y[b].d);
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      const blk_q6_K *xb = &x[r][b];
      const char *pf = (const char *)xb + GV_PF;
      _mm_prefetch(pf, _MM_HINT_T0);
      _mm_prefetch(pf + 64, _MM_HINT_T0);
      _mm_prefetch(pf + 128, _MM_HINT_T0);
      _mm_prefetch(pf + 192, _MM_HINT_T0);
      __m256i sc = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)xb->scales));
      __m256i bias = _mm256_slli_epi32(_mm256_madd_epi16(sc, bs), 5);
      __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 2
      for (int h = 0; h < 2; h++) {
        __m256i sch = h ? _mm256_permute4x64_epi64(sc, 0xEE) : _mm256_permute4x64_epi64(sc, 0x44);
        __m256i ql0 = _mm256_loadu_si256((const __m256i *)(xb->ql + 64 * h));
        __m256i ql1 = _mm256_loadu_si256((const __m256i *)(xb->ql + 64 * h + 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(xb->qh + 32 * h));
        __m256i q[4] = {_mm256_or_si256(_mm256_and_si256(ql0, m4),
                                        _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
                        _mm256_or_si256(_mm256_and_si256(ql1, m4),
                                        _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), m4),
                                        _mm256_and_si256(qh, m30)),
                        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), m4),
                                        _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30))};
#pragma GCC unroll 4
        for (int g = 0; g < 4; g++) {
          __m256i p = _mm256_maddubs_epi16(
              q[g], _mm256_loadu_si256((const __m256i *)(aq + 128 * h + 32 * g)));
          __m256i scv = _mm256_shuffle_epi8(
              sch, _mm256_set_m128i(_mm_set1_epi16((short)(0x0302 + 0x0404 * g)),
                                    _mm_set1_epi16((short)(0x0100 + 0x0404 * g))));
          isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, scv));
          __asm__("" : "+x"(isum)); /* one chain (GCC otherwise reassociates and spills) */
        }
      }
      isum = _mm256_sub_epi32(isum, bias);
      acc[r] = _mm256_fmadd_ps(w4_lane(d, r), _mm256_cvtepi32_ps(isum), acc[r]);
    }
  }
  for (int r = 0; r < 4; r++) out[r] = hsum_ps(acc[r]);
}

/* Q5_K, four weight rows: per row the one-row kernel's lanes (dot_q5_K in kernels_avx2.c: chunk c
 * is sub-blocks 2c and 2c + 1, low and high nibbles with qh bits 2c and 2c + 1 as 16, scaled by
 * vpmaddwd with the scale word), one fused multiply-add per super-block on 8 lanes; the mins as
 * one exact integer per super-block and row (one vpmaddwd of the mins' words by the activation's
 * sub-block sums per row, the four rows gathered by a hadd tree), on one float per row as the
 * reference's summ. */
TGT static void dot4w_q5_K(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q5_K *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q5_K *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m128i mins_w =
      _mm_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  __m128 summ = _mm_setzero_ps();
  for (int64_t b = 0; b < n / QK_K; b++) {
    const int8_t *aq = y[b].qs;
    __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[b].bsums),
                                _mm_loadu_si128((const __m128i *)(y[b].bsums + 8)));
    float dy = y[b].d;
    __m128 d = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, dy);
    __m128 dm = w4_scales(x[0][b].dmin, x[1][b].dmin, x[2][b].dmin, x[3][b].dmin, -dy);
    __m128i mv[4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      const blk_q5_K *xb = &x[r][b];
      const char *pf = (const char *)xb + GV_PF;
      _mm_prefetch(pf, _MM_HINT_T0);
      _mm_prefetch(pf + 64, _MM_HINT_T0);
      _mm_prefetch(pf + 128, _MM_HINT_T0);
      __m256i s8 = k4_scales2(xb->scales);
      __m256i qh = _mm256_loadu_si256((const __m256i *)xb->qh);
      __m256i isum = _mm256_setzero_si256();
#pragma GCC unroll 4
      for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(xb->qs + 32 * c));
        __m256i lo = _mm256_or_si256(_mm256_and_si256(q, m4), bit_to_16(qh, 2 * c));
        __m256i hi = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4),
                                     bit_to_16(qh, 2 * c + 1));
        __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)(aq + 64 * c)));
        __m256i phi =
            _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(aq + 64 * c + 32)));
        /* words sc(2c), sc(2c + 1), zero-extended from the scale bytes */
        __m256i s0 = _mm256_shuffle_epi8(s8, _mm256_set1_epi16((short)(0xFF00 + 2 * c)));
        __m256i s1 = _mm256_shuffle_epi8(s8, _mm256_set1_epi16((short)(0xFF00 + 2 * c + 1)));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(plo, s0));
        isum = _mm256_add_epi32(isum, _mm256_madd_epi16(phi, s1));
        __asm__("" : "+x"(isum)); /* one chain (GCC otherwise reassociates and spills) */
      }
      mv[r] = _mm_madd_epi16(_mm_shuffle_epi8(_mm256_castsi256_si128(s8), mins_w), bs);
      acc[r] = _mm256_fmadd_ps(w4_lane(d, r), _mm256_cvtepi32_ps(isum), acc[r]);
    }
    __m128i m = _mm_hadd_epi32(_mm_hadd_epi32(mv[0], mv[1]), _mm_hadd_epi32(mv[2], mv[3]));
    summ = _mm_fmadd_ps(dm, _mm_cvtepi32_ps(m), summ);
  }
  float sm[4];
  _mm_storeu_ps(sm, summ);
  for (int r = 0; r < 4; r++) out[r] = hsum_ps(acc[r]) + sm[r];
}

/* Q8_0, four weight rows: per row the one-row dot's chain (dot_i8's sign trick, one fused
 * multiply-add per block on 8 lanes), the activation block loaded once for the four, and the four
 * row streams prefetched, one line per row and block (a block is 34 bytes, so no line is passed
 * over). */
TGT static void dot4w_q8_0(const void *w, size_t wstride, const void *a, int64_t n, float out[4]) {
  const blk_q8_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q8_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                   _mm256_setzero_ps()};
  for (int64_t b = 0; b < n / QK; b++) {
    __m256i ay = _mm256_loadu_si256((const __m256i *)y[b].qs);
    __m128 s = w4_scales(x[0][b].d, x[1][b].d, x[2][b].d, x[3][b].d, _cvtsh_ss(y[b].d));
#pragma GCC unroll 4
    for (int r = 0; r < 4; r++) {
      _mm_prefetch((const char *)&x[r][b] + GV_PF, _MM_HINT_T0);
      __m256i xq = _mm256_loadu_si256((const __m256i *)x[r][b].qs);
      __m256i p = _mm256_madd_epi16(
          _mm256_maddubs_epi16(_mm256_sign_epi8(xq, xq), _mm256_sign_epi8(ay, xq)), ones);
      acc[r] = _mm256_fmadd_ps(w4_lane(s, r), _mm256_cvtepi32_ps(p), acc[r]);
    }
  }
  for (int r = 0; r < 4; r++) out[r] = hsum_ps(acc[r]);
}

/* Two rows' Q4_K / Q5_K scales and mins at once: k4_scales2 with row p's 12-byte packing in the
 * low 128-bit lane and row q's in the high one (every step works within a lane). */
TGT static inline __m256i gv_k4_scales2(const uint8_t *p, const uint8_t *q) {
  return k4_unpack(
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)p)),
                              _mm_loadu_si128((const __m128i *)q), 1));
}

/* One row's values 64p .. 64p + 63 of a Q4_K block against the activation aq (its 64p-th value):
 * the pair sums of sub-block 2p (low nibbles) and 2p + 1 (high nibbles) by vpmaddubsw, merged into
 * words that alternate the two sub-blocks (an unpack of each pair added; at most 2 x 3840 in
 * magnitude). */
TGT static inline __m256i gv_q4_K_pair(const uint8_t *qs, const int8_t *aq, __m256i m4) {
  __m256i q = _mm256_loadu_si256((const __m256i *)qs);
  __m256i lo = _mm256_and_si256(q, m4), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m4);
  __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)aq));
  __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(aq + 32)));
  return _mm256_add_epi16(_mm256_unpacklo_epi16(plo, phi), _mm256_unpackhi_epi16(plo, phi));
}

/* One row's block against the activation: the four merged groups folded once more, so that vA's
 * words cycle through sub-blocks [0 2 1 3] and vB's through [4 6 5 7] (at most 4 x 3840). */
TGT static inline void gv_q4_K_row(const blk_q4_K *xb, const int8_t *aq, __m256i m4, __m256i *vA,
                                   __m256i *vB) {
  __m256i u0 = gv_q4_K_pair(xb->qs, aq, m4), u1 = gv_q4_K_pair(xb->qs + 32, aq + 64, m4);
  __m256i u2 = gv_q4_K_pair(xb->qs + 64, aq + 128, m4);
  __m256i u3 = gv_q4_K_pair(xb->qs + 96, aq + 192, m4);
  *vA = _mm256_add_epi16(_mm256_unpacklo_epi16(u0, u1), _mm256_unpackhi_epi16(u0, u1));
  *vB = _mm256_add_epi16(_mm256_unpacklo_epi16(u2, u3), _mm256_unpackhi_epi16(u2, u3));
}

/* Q4_K gemv order (llm_order), four weight rows: the same exact integers per super-block and row
 * as the one-row kernel (the values' sum I and the mins' sum M), one fused multiply-add each per
 * row and super-block, in the same order. Integer sums are exact in any grouping, so the values'
 * products are summed in 16 bits before the scales are applied (at most 8 x 3840 = 30720 in
 * magnitude, so nothing saturates): per row the 64-value groups are merged (gv_q4_K_row), and the
 * two rows of a pair have their 128-bit lanes added, giving one register per pair and half
 * (sub-blocks 0-3 or 4-7) in which each 128-bit lane is one row. The scales are then applied by
 * two vpmaddwd per pair of rows and block (the one-row kernel spends 8 vpshufb and 8 vpmaddwd
 * per row). The pair's scales and mins are unpacked in one register (row a in the low lane, row c
 * in the high one), and a vphaddd tree gives [I0 M0 I2 M2 | I1 M1 I3 M3], which one fused
 * multiply-add takes with the four rows' d and dmin (adjacent halves at the head of each block, one
 * vcvtph2ps). callgrind, 1.5B shape, one thread: 8% fewer instructions in the Q4_K products than
 * the kernel before (scales by vpshufb and vpmaddwd per sub-block, two accumulators). */
TGT static void dot4w_q4_K_gemv(const void *w, size_t wstride, const void *a, int64_t n,
                                float out[4]) {
  const blk_q4_K *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_K *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_K *y = a;
  const __m256i m4 = _mm256_set1_epi8(0xF);
  const __m256i mins_w =
      _mm256_setr_epi8(8, -1, 9, -1, 10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1, 8, -1, 9, -1,
                       10, -1, 11, -1, 12, -1, 13, -1, 14, -1, 15, -1);
  /* scale words for vA's sub-blocks [0 2 1 3] and vB's [4 6 5 7], zero-extended */
  const __m256i sc_a = _mm256_set1_epi64x((long long)0xFF03FF01FF02FF00ULL),
                sc_b = _mm256_set1_epi64x((long long)0xFF07FF05FF06FF04ULL);
  __m256 acc = _mm256_setzero_ps(); /* the chains of [I0 M0 I2 M2 | I1 M1 I3 M3] */
  for (int64_t b = 0; b < n / QK_K; b++) {
    __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)y[b].bsums),
                                _mm_loadu_si128((const __m128i *)(y[b].bsums + 8)));
    __m256i bs2 = _mm256_broadcastsi128_si256(bs);
    /* [d0, dmin0, d2, dmin2, d1, dmin1, d3, dmin3] as halves, each times dy */
    __m128i d02 = _mm_unpacklo_epi32(_mm_loadu_si32(&x[0][b].d), _mm_loadu_si32(&x[2][b].d));
    __m128i d13 = _mm_unpacklo_epi32(_mm_loadu_si32(&x[1][b].d), _mm_loadu_si32(&x[3][b].d));
    __m256 dall =
        _mm256_mul_ps(_mm256_cvtph_ps(_mm_unpacklo_epi64(d02, d13)), _mm256_set1_ps(y[b].d));
    __m256i s[2];
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
      const blk_q4_K *xa = &x[2 * h][b], *xc = &x[2 * h + 1][b];
      const char *pa = (const char *)xa + GV_PF, *pc = (const char *)xc + GV_PF;
      _mm_prefetch(pa, _MM_HINT_T0);
      _mm_prefetch(pa + 48, _MM_HINT_T0);
      _mm_prefetch(pa + 96, _MM_HINT_T0);
      _mm_prefetch(pc, _MM_HINT_T0);
      _mm_prefetch(pc + 48, _MM_HINT_T0);
      _mm_prefetch(pc + 96, _MM_HINT_T0);
      __m256i s2 = gv_k4_scales2(xa->scales, xc->scales);
      __m256i mv = _mm256_madd_epi16(_mm256_shuffle_epi8(s2, mins_w), bs2);
      __m256i va, vb, vc, vd;
      gv_q4_K_row(xa, y[b].qs, m4, &va, &vb);
      gv_q4_K_row(xc, y[b].qs, m4, &vc, &vd);
      __m256i ha = _mm256_add_epi16(_mm256_permute2x128_si256(va, vc, 0x20),
                                    _mm256_permute2x128_si256(va, vc, 0x31));
      __m256i hb = _mm256_add_epi16(_mm256_permute2x128_si256(vb, vd, 0x20),
                                    _mm256_permute2x128_si256(vb, vd, 0x31));
      __m256i is = _mm256_add_epi32(_mm256_madd_epi16(ha, _mm256_shuffle_epi8(s2, sc_a)),
                                    _mm256_madd_epi16(hb, _mm256_shuffle_epi8(s2, sc_b)));
      s[h] = _mm256_hadd_epi32(is, mv); /* [I I M M] partials: row a low lane, row c high */
    }
    __m256i im = _mm256_hadd_epi32(s[0], s[1]);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(im), dall, acc);
  }
  float f[8];
  _mm256_storeu_ps(f, acc);
  out[0] = f[0] - f[1];
  out[1] = f[4] - f[5];
  out[2] = f[2] - f[3];
  out[3] = f[6] - f[7];
}

/* The four rows' scales d(w) of block b (x: the rows' block arrays), as halves in the low 64 bits
 * (the rest junk): word-unpacks of 16-byte loads at the blocks' starts, in vector registers. */
TGT static inline __m128i q4_0_d4(const blk_q4_0 *const x[4], int64_t b) {
  __m128i d01 = _mm_unpacklo_epi16(_mm_loadu_si128((const __m128i *)&x[0][b]),
                                   _mm_loadu_si128((const __m128i *)&x[1][b]));
  __m128i d23 = _mm_unpacklo_epi16(_mm_loadu_si128((const __m128i *)&x[2][b]),
                                   _mm_loadu_si128((const __m128i *)&x[3][b]));
  return _mm_unpacklo_epi32(d01, d23);
}

/* Blocks b and b + 1 of the four rows: s, their exact integer sums as floats, and d, their scales
 * d(w) d(a), both as [rows 0-3 of b | rows 0-3 of b + 1] (b + 1 == b: the same block twice). */
TGT __attribute__((always_inline)) static inline void q4_0_pair(const blk_q4_0 *const x[4],
                                                                const blk_q8_0 *y, int64_t b0,
                                                                int64_t b1, bool pf, __m256 *s,
                                                                __m256 *d) {
  const __m256i m4 = _mm256_set1_epi8(0xF), eight = _mm256_set1_epi8(8),
                ones = _mm256_set1_epi16(1);
  __m256i alo = _mm256_loadu2_m128i((const __m128i *)y[b1].qs, (const __m128i *)y[b0].qs);
  __m256i ahi =
      _mm256_loadu2_m128i((const __m128i *)(y[b1].qs + 16), (const __m128i *)(y[b0].qs + 16));
  __m256i a8 = _mm256_add_epi16(_mm256_maddubs_epi16(eight, alo), _mm256_maddubs_epi16(eight, ahi));
  __m256i p[4];
#pragma GCC unroll 4
  for (int r = 0; r < 4; r++) {
    if (pf) _mm_prefetch((const char *)&x[r][b0] + GV_PF, _MM_HINT_T0);
    __m256i v = _mm256_loadu2_m128i((const __m128i *)x[r][b1].qs, (const __m128i *)x[r][b0].qs);
    __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
    __m256i q = _mm256_add_epi16(_mm256_maddubs_epi16(lo, alo), _mm256_maddubs_epi16(hi, ahi));
    p[r] = _mm256_madd_epi16(_mm256_sub_epi16(q, a8), ones);
  }
  __m256i sum = _mm256_hadd_epi32(_mm256_hadd_epi32(p[0], p[1]), _mm256_hadd_epi32(p[2], p[3]));
  *s = _mm256_cvtepi32_ps(sum);
  __m256 dw = _mm256_cvtph_ps(_mm_unpacklo_epi64(q4_0_d4(x, b0), q4_0_d4(x, b1)));
  __m128i dyh = _mm_unpacklo_epi16(_mm_loadu_si128((const __m128i *)&y[b0]),
                                   _mm_loadu_si128((const __m128i *)&y[b1]));
  __m256 dy = _mm256_permutevar8x32_ps(_mm256_castps128_ps256(_mm_cvtph_ps(dyh)),
                                       _mm256_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1));
  *d = _mm256_mul_ps(dw, dy);
}

/* Both halves of a pair into the four rows' chains: block b's, then block b + 1's. */
TGT static inline __m128 q4_0_fma2(__m256 s, __m256 d, __m128 acc) {
  acc = _mm_fmadd_ps(_mm256_castps256_ps128(s), _mm256_castps256_ps128(d), acc);
  return _mm_fmadd_ps(_mm256_extractf128_ps(s, 1), _mm256_extractf128_ps(d, 1), acc);
}

/* Q4_0's repacked orders (gemv and gemm alike: one fused multiply-add per block of its exact
 * integer sum), four weight rows. The one-block kernel reduced each row's block sum across lanes
 * on its own; here each register holds one row's two blocks (b in the low 128-bit lane, b + 1 in
 * the high), its low nibbles against [a(b) 0..15 | a(b+1) 0..15] and its high ones against
 * [a(b) 16..31 | a(b+1) 16..31] (two vpmaddubsw added in int16: at most 2 x 3840 in magnitude),
 * less 8 times the activation's pair sums, widened by vpmaddwd; one vphaddd tree takes the four
 * rows' registers to [rows 0-3 of b | rows 0-3 of b + 1], every lane a whole block's exact sum.
 * The eight scales d(w) are one vcvtph2ps, times [d(a,b) x4 | d(a,b+1) x4]; then block b's fused
 * multiply-add on the four rows' chains, then block b + 1's: the reference's order. Four blocks a
 * loop (one prefetch per row stream); an odd last block goes through a pair step with itself as
 * the second block, whose half is dropped. Hot in cache, one thread: 1.3x the one-block kernel's
 * bytes per second (docs/internals/kernels.md). */
TGT static void dot4w_q4_0_repacked(const void *w, size_t wstride, const void *a, int64_t n,
                                    float out[4]) {
  const blk_q4_0 *x[4];
  for (int r = 0; r < 4; r++) x[r] = (const blk_q4_0 *)((const uint8_t *)w + wstride * (size_t)r);
  const blk_q8_0 *y = a;
  int64_t nb = n / QK, b = 0;
  __m128 acc = _mm_setzero_ps();
  __m256 s, d;
  for (; b + 4 <= nb; b += 4) { /* 72 bytes a row: one prefetch each */
    q4_0_pair(x, y, b, b + 1, true, &s, &d);
    acc = q4_0_fma2(s, d, acc);
    q4_0_pair(x, y, b + 2, b + 3, false, &s, &d);
    acc = q4_0_fma2(s, d, acc);
  }
  for (; b + 2 <= nb; b += 2) {
    q4_0_pair(x, y, b, b + 1, false, &s, &d);
    acc = q4_0_fma2(s, d, acc);
  }
  if (b < nb) {
    q4_0_pair(x, y, b, b, false, &s, &d);
    acc = _mm_fmadd_ps(_mm256_castps256_ps128(s), _mm256_castps256_ps128(d), acc);
  }
  _mm_storeu_ps(out, acc);
}

vec_dot4w_fn llm__dot4w_gemv_order_avx2(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  if (t == TT_Q4_0) return dot4w_q4_0_repacked;
  return t == TT_Q4_K && o == LLM_ORDER_GEMV ? dot4w_q4_K_gemv : NULL;
}

vec_dot4w_fn llm__dot4w_gemv_avx2(tensor_type t) {
  switch (t) {
  case TT_Q6_K: return dot4w_q6_K;
  case TT_Q8_0: return dot4w_q8_0;
  case TT_Q5_K: return dot4w_q5_K;
  default: return NULL;
  }
}

#else
vec_dot4w_fn llm__dot4w_gemv_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
vec_dot4w_fn llm__dot4w_gemv_order_avx2(tensor_type t, llm_order o) {
  (void)t;
  (void)o;
  return NULL;
}
#endif
