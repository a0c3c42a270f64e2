/* AVX2 packed eight-row strips (llm_gemm8) for the weight types in the plain order (llm__dot's
 * order: each output's eight float lanes, reduced at the end): Q6_K, Q5_K, Q8_0 and Q5_0. The
 * repacked orders' strips (Q4_K, Q4_0) are in kernels_avx2.c. Each output has exactly the bits of
 * llm__dot_order_scalar(t, LLM_ORDER_PLAIN) (tests/llm/test_kernels.c); the packing does, once per
 * strip, the work the four-row dots (llm__dot4) repeat for every four tokens. Called only after
 * kernels.c has checked the CPU; compiled with per-function target attributes. */
#include <string.h>

#include "llm/kernels_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include "llm/kernels_avx2_int.h"

/* ---- Q6_K ------------------------------------------------------------------------------------
 *
 * The plain order keeps the values on the reference's lanes (element e of a 32-value group on
 * lane e % 32 / 4), so the strip is eight rows one after the other, not interleaved: what the
 * packing saves is the decoding. A row's super-block is stored as its 256 values already unpacked
 * (0..63, element order), its scales as words ready for one vpshufb per group, and -32 x its
 * scales as words: the +32 storage bias then comes off by starting each lane's integer sum at
 * -32 (sc(2k) bsums(2k) + sc(2k + 1) bsums(2k + 1)) (the reference subtracts the same integer at
 * the end; the sums are exact, so the order of integer additions is free). */
typedef struct {
  uint8_t q[QK_K];        /* the values 0..63 in element order */
  int16_t sc[2][16];      /* half h: scales 8h..8h+7 as words, in both 128-bit halves */
  int16_t nsc[QK_K / 16]; /* -32 x scale i */
  float d;
} q6_K_p;

/* Super-blocks per pass: the strip's and the four activations' part of a pass (4 x 8 x 356 +
 * 4 x 4 x 292 bytes) stay in L1 while each of the eight rows goes over it. */
#define Q6_CHUNK 4

TGT static size_t pack8_q6_K_bytes(int64_t n) { return (size_t)(n / QK_K) * 8 * sizeof(q6_K_p); }

TGT static void pack8_q6_K(const void *w, size_t wstride, int64_t n, void *dst) {
  const __m256i m4 = _mm256_set1_epi8(0xF), m3 = _mm256_set1_epi8(3);
  q6_K_p *o = dst;
  for (int64_t b = 0; b < n / QK_K; b++)
    for (int r = 0; r < 8; r++, o++) {
      const blk_q6_K *x = (const blk_q6_K *)((const uint8_t *)w + wstride * (size_t)r) + b;
      for (int h = 0; h < 2; h++) {
        __m256i ql0 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h));
        __m256i ql1 = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * h + 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * h));
        __m256i lo[4] = {ql0, ql1, _mm256_srli_epi16(ql0, 4), _mm256_srli_epi16(ql1, 4)};
        for (int g = 0; g < 4; g++) {
          __m256i hi2 = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * g), m3);
          __m256i v = _mm256_or_si256(_mm256_and_si256(lo[g], m4), _mm256_slli_epi16(hi2, 4));
          _mm256_storeu_si256((__m256i *)(o->q + 128 * h + 32 * g), v);
        }
        for (int i = 0; i < 8; i++) o->sc[h][i] = o->sc[h][i + 8] = x->scales[8 * h + i];
      }
      for (int i = 0; i < QK_K / 16; i++) o->nsc[i] = (int16_t)(-32 * x->scales[i]);
      o->d = h2f(x->d);
    }
}

TGT static void gemm8_q6_K(const void *packed, const void *a, size_t astride, int64_t n,
                           float out[32]) {
  const q6_K_p *x = packed;
  const blk_q8_K *y0 = a, *y1 = (const blk_q8_K *)((const uint8_t *)a + astride),
                 *y2 = (const blk_q8_K *)((const uint8_t *)a + 2 * astride),
                 *y3 = (const blk_q8_K *)((const uint8_t *)a + 3 * astride);
  int64_t nb = n / QK_K;
  __m256 acc[8][4]; /* [row][activation] */
  for (int r = 0; r < 8; r++)
    for (int k = 0; k < 4; k++) acc[r][k] = _mm256_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += Q6_CHUNK) {
    int64_t b1 = b0 + Q6_CHUNK < nb ? b0 + Q6_CHUNK : nb;
    for (int r = 0; r < 8; r++) {
      __m256 f0 = acc[r][0], f1 = acc[r][1], f2 = acc[r][2], f3 = acc[r][3];
      for (int64_t b = b0; b < b1; b++) {
        const q6_K_p *p = &x[8 * b + r];
        __m256i nsc = _mm256_loadu_si256((const __m256i *)p->nsc);
#define Q6_BIAS(y) _mm256_madd_epi16(nsc, _mm256_loadu_si256((const __m256i *)(y)[b].bsums))
        __m256i i0 = Q6_BIAS(y0), i1 = Q6_BIAS(y1), i2 = Q6_BIAS(y2), i3 = Q6_BIAS(y3);
#undef Q6_BIAS
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
          __m256i sch = _mm256_loadu_si256((const __m256i *)p->sc[h]);
#pragma GCC unroll 4
          for (int g = 0; g < 4; g++) {
            int e = 128 * h + 32 * g;
            __m256i qv = _mm256_loadu_si256((const __m256i *)(p->q + e));
            __m256i scv = q6_K_scale_pair(sch, g);
#define Q6_STEP(i, y)                                                                              \
  i = _mm256_add_epi32(                                                                            \
      i, _mm256_madd_epi16(                                                                        \
             _mm256_maddubs_epi16(qv, _mm256_loadu_si256((const __m256i *)((y)[b].qs + e))), scv))
            Q6_STEP(i0, y0);
            Q6_STEP(i1, y1);
            Q6_STEP(i2, y2);
            Q6_STEP(i3, y3);
#undef Q6_STEP
            /* one chain per sum: GCC otherwise reassociates them and spills the products */
            __asm__("" : "+x"(i0), "+x"(i1), "+x"(i2), "+x"(i3));
          }
        }
        __m256 dw = _mm256_set1_ps(p->d);
        /* the reference's d is y.d x d(x), one float product */
        f0 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y0[b].d), dw), _mm256_cvtepi32_ps(i0), f0);
        f1 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y1[b].d), dw), _mm256_cvtepi32_ps(i1), f1);
        f2 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y2[b].d), dw), _mm256_cvtepi32_ps(i2), f2);
        f3 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y3[b].d), dw), _mm256_cvtepi32_ps(i3), f3);
      }
      acc[r][0] = f0;
      acc[r][1] = f1;
      acc[r][2] = f2;
      acc[r][3] = f3;
    }
  }
  for (int r = 0; r < 8; r++)
    for (int k = 0; k < 4; k++) out[8 * k + r] = hsum_ps(acc[r][k]);
}

static const llm_gemm8 gemm8_q6_K_set = {pack8_q6_K_bytes, pack8_q6_K, gemm8_q6_K};

/* ---- Q5_K ------------------------------------------------------------------------------------
 *
 * As Q6_K: the reference's lanes, the rows one after the other, the values stored unpacked (0..31,
 * element order) and the scales as words (one per 32 values: one `vpshufb` per group). The mins
 * are the reference's one integer per super-block, m(k) (B(2k) + B(2k + 1)) summed over k (exact),
 * on one float chain per output: here the four activation rows' integers come out of one `hadd`
 * tree and their chains are the four lanes of one register. */
typedef struct {
  uint8_t q[QK_K]; /* the values 0..31 in element order */
  int16_t sc[16];  /* scales 0..7 as words, in both 128-bit halves */
  int16_t mn[16];  /* mins 0..7, each twice: against the activation's B(2k), B(2k + 1) */
  float d, dmin;
} q5_K_p;

TGT static size_t pack8_q5_K_bytes(int64_t n) { return (size_t)(n / QK_K) * 8 * sizeof(q5_K_p); }

TGT static void pack8_q5_K(const void *w, size_t wstride, int64_t n, void *dst) {
  const __m256i m4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
  q5_K_p *o = dst;
  for (int64_t b = 0; b < n / QK_K; b++)
    for (int r = 0; r < 8; r++, o++) {
      const blk_q5_K *x = (const blk_q5_K *)((const uint8_t *)w + wstride * (size_t)r) + b;
      __m256i qh = _mm256_loadu_si256((const __m256i *)x->qh);
      for (int c = 0; c < 4; c++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * c));
        __m256i hlo = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4);
        __m256i hhi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4);
        _mm256_storeu_si256((__m256i *)(o->q + 64 * c),
                            _mm256_or_si256(_mm256_and_si256(q, m4), hlo));
        _mm256_storeu_si256((__m256i *)(o->q + 64 * c + 32),
                            _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(q, 4), m4), hhi));
      }
      const uint8_t *k = x->scales;
      for (int j = 0; j < 8; j++) {
        int sc = j < 4 ? k[j] & 63 : (k[j + 4] & 0xF) | ((k[j - 4] >> 6) << 4);
        int mn = j < 4 ? k[j + 4] & 63 : (k[j + 4] >> 4) | ((k[j] >> 6) << 4);
        o->sc[j] = o->sc[j + 8] = (int16_t)sc;
        o->mn[2 * j] = o->mn[2 * j + 1] = (int16_t)mn;
      }
      o->d = h2f(x->d);
      o->dmin = h2f(x->dmin);
    }
}

TGT static void gemm8_q5_K(const void *packed, const void *a, size_t astride, int64_t n,
                           float out[32]) {
  const q5_K_p *x = packed;
  const blk_q8_K *y0 = a, *y1 = (const blk_q8_K *)((const uint8_t *)a + astride),
                 *y2 = (const blk_q8_K *)((const uint8_t *)a + 2 * astride),
                 *y3 = (const blk_q8_K *)((const uint8_t *)a + 3 * astride);
  int64_t nb = n / QK_K;
  __m256 acc[8][4]; /* [row][activation] */
  __m128 summ[8];   /* [row]: the four activations' mins chains */
  for (int r = 0; r < 8; r++) {
    for (int k = 0; k < 4; k++) acc[r][k] = _mm256_setzero_ps();
    summ[r] = _mm_setzero_ps();
  }
  for (int64_t b0 = 0; b0 < nb; b0 += Q6_CHUNK) {
    int64_t b1 = b0 + Q6_CHUNK < nb ? b0 + Q6_CHUNK : nb;
    for (int r = 0; r < 8; r++) {
      __m256 f0 = acc[r][0], f1 = acc[r][1], f2 = acc[r][2], f3 = acc[r][3];
      __m128 sm = summ[r];
      for (int64_t b = b0; b < b1; b++) {
        const q5_K_p *p = &x[8 * b + r];
        __m256i sch = _mm256_loadu_si256((const __m256i *)p->sc);
        __m256i i0 = _mm256_setzero_si256(), i1 = i0, i2 = i0, i3 = i0;
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
          int e = 32 * g;
          __m256i qv = _mm256_loadu_si256((const __m256i *)(p->q + e));
          __m256i scv = _mm256_shuffle_epi8(sch, _mm256_set1_epi16((short)(0x0100 + 0x0202 * g)));
#define Q5_STEP(i, y)                                                                              \
  i = _mm256_add_epi32(                                                                            \
      i, _mm256_madd_epi16(                                                                        \
             _mm256_maddubs_epi16(qv, _mm256_loadu_si256((const __m256i *)((y)[b].qs + e))), scv))
          Q5_STEP(i0, y0);
          Q5_STEP(i1, y1);
          Q5_STEP(i2, y2);
          Q5_STEP(i3, y3);
#undef Q5_STEP
          __asm__("" : "+x"(i0), "+x"(i1), "+x"(i2), "+x"(i3)); /* one chain each */
        }
        __m256 dw = _mm256_set1_ps(p->d);
        f0 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y0[b].d), dw), _mm256_cvtepi32_ps(i0), f0);
        f1 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y1[b].d), dw), _mm256_cvtepi32_ps(i1), f1);
        f2 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y2[b].d), dw), _mm256_cvtepi32_ps(i2), f2);
        f3 =
            _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(y3[b].d), dw), _mm256_cvtepi32_ps(i3), f3);
        /* mins: the four activations' integers, then fmaf(-dy x dmin, mins, summ) in four lanes */
        __m256i mnv = _mm256_loadu_si256((const __m256i *)p->mn);
#define Q5_MINS(y) _mm256_madd_epi16(mnv, _mm256_loadu_si256((const __m256i *)(y)[b].bsums))
        __m256i h = _mm256_hadd_epi32(_mm256_hadd_epi32(Q5_MINS(y0), Q5_MINS(y1)),
                                      _mm256_hadd_epi32(Q5_MINS(y2), Q5_MINS(y3)));
#undef Q5_MINS
        __m128i m = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
        __m128 ndy = _mm_setr_ps(-y0[b].d, -y1[b].d, -y2[b].d, -y3[b].d);
        sm = _mm_fmadd_ps(_mm_mul_ps(ndy, _mm_set1_ps(p->dmin)), _mm_cvtepi32_ps(m), sm);
      }
      acc[r][0] = f0;
      acc[r][1] = f1;
      acc[r][2] = f2;
      acc[r][3] = f3;
      summ[r] = sm;
    }
  }
  for (int r = 0; r < 8; r++) {
    float s4[4];
    _mm_storeu_ps(s4, summ[r]);
    for (int k = 0; k < 4; k++) out[8 * k + r] = hsum_ps(acc[r][k]) + s4[k];
  }
}

static const llm_gemm8 gemm8_q5_K_set = {pack8_q5_K_bytes, pack8_q5_K, gemm8_q5_K};

/* ---- Q8_0 and Q5_0 ---------------------------------------------------------------------------
 *
 * Both are 32 signed values per block against Q8_0 activations, one float lane per four values.
 * Here the lanes are the eight rows: register g of a block holds lane g (values 4g..4g+3) of the
 * eight rows, so one broadcast activation word meets all eight, and lane g's float accumulator is
 * one register per activation; the reference's final reduction of a row's eight lanes becomes
 * seven vertical additions for eight rows. The values are stored as they are and as magnitudes,
 * for the sign trick the one-row kernels use (|w| x sign(a, w) in vpmaddubsw: pairs within
 * 2 x 128 x 127, exact in 16 bits). */
typedef struct {
  int8_t w[8][32];   /* [group g][4 r + i]: row r's value 4 g + i */
  uint8_t aw[8][32]; /* the same, magnitudes */
  float d[8];        /* row r's scale */
} q8_x8;

/* Blocks per pass: the strip's part (32 x 544 bytes) stays in L1 for the four activations. */
#define Q8_CHUNK 32

TGT static size_t pack8_q8_bytes(int64_t n) { return (size_t)(n / QK) * sizeof(q8_x8); }

/* v[r]: row r's 32 values in element order -> the strip block's w and aw. */
TGT static inline void store_x8(__m256i v[8], q8_x8 *o) {
  transpose8_epi32(v);
  for (int g = 0; g < 8; g++) {
    _mm256_storeu_si256((__m256i *)o->w[g], v[g]);
    _mm256_storeu_si256((__m256i *)o->aw[g], _mm256_abs_epi8(v[g]));
  }
}

TGT static void pack8_q8_0(const void *w, size_t wstride, int64_t n, void *dst) {
  q8_x8 *o = dst;
  for (int64_t b = 0; b < n / QK; b++, o++) {
    __m256i v[8];
    for (int r = 0; r < 8; r++) {
      const blk_q8_0 *x = (const blk_q8_0 *)((const uint8_t *)w + wstride * (size_t)r) + b;
      v[r] = _mm256_loadu_si256((const __m256i *)x->qs);
      o->d[r] = h2f(x->d);
    }
    store_x8(v, o);
  }
}

/* A Q5_0 block's values ((nibble | fifth bit << 4) - 16, element j < 16 from the low nibble of
 * qs[j] and bit j of qh, j + 16 from the high nibble and bit j + 16) in element order. */
TGT static inline __m256i q5_0_values(const blk_q5_0 *x) {
  __m128i q = _mm_loadu_si128((const __m128i *)x->qs);
  __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0xF));
  /* byte j takes qh's byte j / 8; OR-ing every bit but j % 8 makes it all ones iff bit j % 8 is
   * set */
  const __m256i pick = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                        2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  __m256i hb = _mm256_shuffle_epi8(_mm256_set1_epi32(load_i32(x->qh)), pick);
  hb = _mm256_or_si256(hb, _mm256_set1_epi64x(0x7FBFDFEFF7FBFDFELL));
  hb = _mm256_and_si256(_mm256_cmpeq_epi8(hb, _mm256_set1_epi8(-1)), _mm256_set1_epi8(0x10));
  return _mm256_sub_epi8(_mm256_or_si256(nib, hb), _mm256_set1_epi8(16));
}

TGT static void pack8_q5_0(const void *w, size_t wstride, int64_t n, void *dst) {
  q8_x8 *o = dst;
  for (int64_t b = 0; b < n / QK; b++, o++) {
    __m256i v[8];
    for (int r = 0; r < 8; r++) {
      const blk_q5_0 *x = (const blk_q5_0 *)((const uint8_t *)w + wstride * (size_t)r) + b;
      v[r] = q5_0_values(x);
      o->d[r] = h2f(x->d);
    }
    store_x8(v, o);
  }
}

TGT static void gemm8_q8(const void *packed, const void *a, size_t astride, int64_t n,
                         float out[32]) {
  const q8_x8 *x = packed;
  const __m256i ones = _mm256_set1_epi16(1);
  int64_t nb = n / QK;
  __m256 acc[4][8]; /* [activation][lane g]: lane g of the eight rows */
  for (int k = 0; k < 4; k++)
    for (int g = 0; g < 8; g++) acc[k][g] = _mm256_setzero_ps();
  for (int64_t b0 = 0; b0 < nb; b0 += Q8_CHUNK) {
    int64_t b1 = b0 + Q8_CHUNK < nb ? b0 + Q8_CHUNK : nb;
    for (int k = 0; k < 4; k++) {
      const blk_q8_0 *y = (const blk_q8_0 *)((const uint8_t *)a + astride * (size_t)k);
      __m256 A0 = acc[k][0], A1 = acc[k][1], A2 = acc[k][2], A3 = acc[k][3], A4 = acc[k][4],
             A5 = acc[k][5], A6 = acc[k][6], A7 = acc[k][7];
      for (int64_t b = b0; b < b1; b++) {
        const q8_x8 *xb = &x[b];
        /* the reference's d is d(x) x d(y), one float product */
        __m256 d = _mm256_mul_ps(_mm256_loadu_ps(xb->d), _mm256_set1_ps(h2f(y[b].d)));
#define Q8_STEP(g, A)                                                                              \
  do {                                                                                             \
    __m256i av = _mm256_set1_epi32(load_i32(y[b].qs + 4 * (g)));                                   \
    __m256i sy = _mm256_sign_epi8(av, _mm256_loadu_si256((const __m256i *)xb->w[g]));              \
    __m256i p = _mm256_maddubs_epi16(_mm256_loadu_si256((const __m256i *)xb->aw[g]), sy);          \
    A = _mm256_fmadd_ps(_mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones)), d, A);                     \
  } while (0)
        Q8_STEP(0, A0);
        Q8_STEP(1, A1);
        Q8_STEP(2, A2);
        Q8_STEP(3, A3);
        Q8_STEP(4, A4);
        Q8_STEP(5, A5);
        Q8_STEP(6, A6);
        Q8_STEP(7, A7);
#undef Q8_STEP
      }
      acc[k][0] = A0;
      acc[k][1] = A1;
      acc[k][2] = A2;
      acc[k][3] = A3;
      acc[k][4] = A4;
      acc[k][5] = A5;
      acc[k][6] = A6;
      acc[k][7] = A7;
    }
  }
  /* llm__hsum8 per row: ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)) */
  for (int k = 0; k < 4; k++) {
    __m256 t0 = _mm256_add_ps(acc[k][0], acc[k][4]), t1 = _mm256_add_ps(acc[k][1], acc[k][5]);
    __m256 t2 = _mm256_add_ps(acc[k][2], acc[k][6]), t3 = _mm256_add_ps(acc[k][3], acc[k][7]);
    _mm256_storeu_ps(out + 8 * k, _mm256_add_ps(_mm256_add_ps(t0, t2), _mm256_add_ps(t1, t3)));
  }
}

static const llm_gemm8 gemm8_q8_0_set = {pack8_q8_bytes, pack8_q8_0, gemm8_q8};
static const llm_gemm8 gemm8_q5_0_set = {pack8_q8_bytes, pack8_q5_0, gemm8_q8};

const llm_gemm8 *llm__gemm8_plain_avx2(tensor_type t) {
  switch (t) {
  case TT_Q6_K: return &gemm8_q6_K_set;
  case TT_Q5_K: return &gemm8_q5_K_set;
  case TT_Q8_0: return &gemm8_q8_0_set;
  case TT_Q5_0: return &gemm8_q5_0_set;
  default: return NULL;
  }
}

#else
const llm_gemm8 *llm__gemm8_plain_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
#endif
