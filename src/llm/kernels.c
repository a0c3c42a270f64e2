/* Matrix kernels: the scalar reference dot products of every supported weight type with its
 * companion activation type, the run-time choice of a SIMD kernel set, and qmat_mul (activation
 * quantization + rows of W split over the compute pool). The SIMD variants live in
 * kernels_avx2.c and kernels_avx512.c; each is checked against the reference here
 * (tests/llm/test_kernels.c). Not here: the block formats themselves (quant.c). */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "llm/compute_pool.h"
#include "llm/profile.h"
#include "llm/kernels_int.h"

tensor_type llm__act_type(tensor_type w) {
  switch (w) {
  case TT_F32:
  case TT_F16:
  case TT_BF16: return w;
  case TT_Q4_0:
  case TT_Q4_1:
  case TT_Q5_0:
  case TT_Q5_1:
  case TT_Q8_0: return TT_Q8_0;
  default: return TT_Q8_K;
  }
}

/* ---- Scalar reference dot products ------------------------------------------------------------
 *
 * The quantized dots sum in one fixed order, the order of ggml's AVX2 kernels (llama.cpp's
 * reference logits were computed with it, and in a quantized model a last-bit difference can round
 * an activation to the neighbouring int8 and move the logits by ~1e-2; docs/internals/model.md).
 * Per block (32 values) or super-block (256), the integer products go into 8 lanes, element e into
 * lane (e % 32) / 4, exactly; each lane then meets the block's float scale in a fused multiply-add
 * on its own float accumulator; the 8 accumulators are reduced pairwise at the end (hsum8). Every
 * SIMD variant reproduces these bits (tests/llm/test_kernels.c), so the kernel set never changes a
 * result. fmaf() gives the same bits with or without FMA hardware. */

static inline void lanes_fma(float acc[8], float d, const int32_t lane[8]) {
  for (int k = 0; k < 8; k++) acc[k] = fmaf(d, (float)lane[k], acc[k]);
}

/* Float dots in the order of llama.cpp's tiled matrix multiplication in an AVX-512 build: one
 * 16-lane chain of fused multiply-adds over the multiple-of-16 part, reduced with llm__hsum16; a
 * tail of n % 16 values (never there for the shapes that use this order, llm__dot_for) is added
 * after, one fused product at a time. */
static float dot_f32(const void *w, const void *a, int64_t n) {
  const float *x = w, *y = a;
  float acc[16] = {0};
  int64_t n16 = n & ~(int64_t)15;
  for (int64_t i = 0; i < n16; i += 16)
    for (int k = 0; k < 16; k++) acc[k] = fmaf(x[i + k], y[i + k], acc[k]);
  float s = llm__hsum16(acc);
  for (int64_t i = n16; i < n; i++) s = fmaf(x[i], y[i], s);
  return s;
}

static float dot_f16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  float acc[16] = {0};
  int64_t n16 = n & ~(int64_t)15;
  for (int64_t i = 0; i < n16; i += 16)
    for (int k = 0; k < 16; k++)
      acc[k] = fmaf(fp16_to_f32(x[i + k]), fp16_to_f32(y[i + k]), acc[k]);
  float s = llm__hsum16(acc);
  for (int64_t i = n16; i < n; i++) s = fmaf(fp16_to_f32(x[i]), fp16_to_f32(y[i]), s);
  return s;
}

/* The untiled order (llm__dot_f32_untiled). F16 converts both sides to float first and, as
 * ggml_vec_dot_f16 does, sums in double from the reduction on (a tail only if n % 64). */
static float dot_f32_untiled(const void *w, const void *a, int64_t n) {
  return llm__dot_f32_untiled(w, a, n);
}

static float dot_f16_untiled(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  float c[4][16] = {{0}};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 16; l++)
        c[j][l] = fmaf(fp16_to_f32(x[i + 16 * j + l]), fp16_to_f32(y[i + 16 * j + l]), c[j][l]);
  for (int l = 0; l < 16; l++) c[0][l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l]);
  double s = llm__hsum16(c[0]);
  for (; i < n; i++) s += (double)(fp16_to_f32(x[i]) * fp16_to_f32(y[i]));
  return (float)s;
}

/* BF16 in the order of the tiled matmul of an AVX-512 build with BF16 dot instructions
 * (vdpbf16ps): 16 lanes, each taking a pair of neighbouring values per run of 32, the odd one
 * first; every bf16 x bf16 product is exact in float, so each step is a fused multiply-add. */
static float dot_bf16(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  float acc[16] = {0};
  int64_t n32 = n & ~(int64_t)31;
  for (int64_t i = 0; i < n32; i += 32)
    for (int l = 0; l < 16; l++) {
      acc[l] = fmaf(bf16_to_f32(x[i + 2 * l + 1]), bf16_to_f32(y[i + 2 * l + 1]), acc[l]);
      acc[l] = fmaf(bf16_to_f32(x[i + 2 * l]), bf16_to_f32(y[i + 2 * l]), acc[l]);
    }
  float s = llm__hsum16(acc);
  for (int64_t i = n32; i < n; i++) s = fmaf(bf16_to_f32(x[i]), bf16_to_f32(y[i]), s);
  return s;
}

/* 32-value blocks against Q8_0: lane k holds values 4k..4k+3 (v: the weight values as ints). */
static inline void q32_lanes(const int v[QK], const int8_t *qa, int32_t lane[8]) {
  for (int k = 0; k < 8; k++) {
    lane[k] = 0;
    for (int i = 4 * k; i < 4 * k + 4; i++) lane[k] += v[i] * qa[i];
  }
}

static float dot_q4_0(const void *w, const void *a, int64_t n) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  float acc[8] = {0};
  for (int64_t b = 0; b < n / QK; b++) {
    int v[QK];
    int32_t lane[8];
    for (int j = 0; j < 16; j++) {
      v[j] = (x[b].qs[j] & 0xF) - 8;
      v[j + 16] = (x[b].qs[j] >> 4) - 8;
    }
    q32_lanes(v, y[b].qs, lane);
    lanes_fma(acc, fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d), lane);
  }
  return llm__hsum8(acc);
}

static void q5_ints(const uint8_t qs[16], const uint8_t qh4[4], int off, int v[QK]) {
  uint32_t qh;
  memcpy(&qh, qh4, 4);
  for (int j = 0; j < 16; j++) {
    v[j] = ((qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4)) - off;
    v[j + 16] = ((qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4)) - off;
  }
}

static float dot_q5_0(const void *w, const void *a, int64_t n) {
  const blk_q5_0 *x = w;
  const blk_q8_0 *y = a;
  float acc[8] = {0};
  for (int64_t b = 0; b < n / QK; b++) {
    int v[QK];
    int32_t lane[8];
    q5_ints(x[b].qs, x[b].qh, 16, v);
    q32_lanes(v, y[b].qs, lane);
    lanes_fma(acc, fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d), lane);
  }
  return llm__hsum8(acc);
}

static float dot_q8_0(const void *w, const void *a, int64_t n) {
  const blk_q8_0 *x = w, *y = a;
  float acc[8] = {0};
  for (int64_t b = 0; b < n / QK; b++) {
    int v[QK];
    int32_t lane[8];
    for (int j = 0; j < QK; j++) v[j] = x[b].qs[j];
    q32_lanes(v, y[b].qs, lane);
    lanes_fma(acc, fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d), lane);
  }
  return llm__hsum8(acc);
}

/* Q4_1 / Q5_1 (offset m): the d-part as above, the m-part as lanes of activation sums on a second
 * set of accumulators; the result is llm__hsum8(acc) + llm__hsum8(accm). */
static inline void q_1_block(const int v[QK], float dw, float mw, const blk_q8_0 *y, float acc[8],
                             float accm[8]) {
  static const int ones[QK] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                               1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  int32_t lane[8], asum[8];
  q32_lanes(v, y->qs, lane);
  q32_lanes(ones, y->qs, asum);
  float dy = fp16_to_f32(y->d);
  lanes_fma(acc, dw * dy, lane);
  lanes_fma(accm, mw * dy, asum);
}

static float dot_q4_1(const void *w, const void *a, int64_t n) {
  const blk_q4_1 *x = w;
  const blk_q8_0 *y = a;
  float acc[8] = {0}, accm[8] = {0};
  for (int64_t b = 0; b < n / QK; b++) {
    int v[QK];
    for (int j = 0; j < 16; j++) {
      v[j] = x[b].qs[j] & 0xF;
      v[j + 16] = x[b].qs[j] >> 4;
    }
    q_1_block(v, fp16_to_f32(x[b].d), fp16_to_f32(x[b].m), &y[b], acc, accm);
  }
  return llm__hsum8(acc) + llm__hsum8(accm);
}

static float dot_q5_1(const void *w, const void *a, int64_t n) {
  const blk_q5_1 *x = w;
  const blk_q8_0 *y = a;
  float acc[8] = {0}, accm[8] = {0};
  for (int64_t b = 0; b < n / QK; b++) {
    int v[QK];
    q5_ints(x[b].qs, x[b].qh, 0, v);
    q_1_block(v, fp16_to_f32(x[b].d), fp16_to_f32(x[b].m), &y[b], acc, accm);
  }
  return llm__hsum8(acc) + llm__hsum8(accm);
}

/* Super-blocks: lane (e % 32) / 4 of sc(e) * q(e) * a(e), with the integer weight values and their
 * sub-block scales given per element. */
static inline void k_lanes(const int v[QK_K], const int sc[QK_K], const int8_t *qa,
                           int32_t lane[8]) {
  for (int k = 0; k < 8; k++) lane[k] = 0;
  for (int e = 0; e < QK_K; e++) lane[(e % 32) / 4] += sc[e] * v[e] * qa[e];
}

/* Q2_K: the mins first, as 8 lanes (lane k: sub-blocks 2k and 2k + 1), then the values. */
static float dot_q2_K(const void *w, const void *a, int64_t n) {
  const blk_q2_K *x = w;
  const blk_q8_K *y = a;
  float acc[8] = {0};
  for (int64_t b = 0; b < n / QK_K; b++) {
    int v[QK_K], sc[QK_K];
    int32_t lane[8], mins[8];
    for (int i = 0; i < QK_K; i++) {
      int h = i / 128, j = (i % 128) / 32, k = i % 32;
      v[i] = (x[b].qs[32 * h + k] >> (2 * j)) & 3;
      sc[i] = x[b].scales[i / 16] & 0xF;
    }
    for (int k = 0; k < 8; k++)
      mins[k] = (x[b].scales[2 * k] >> 4) * y[b].bsums[2 * k] +
                (x[b].scales[2 * k + 1] >> 4) * y[b].bsums[2 * k + 1];
    k_lanes(v, sc, y[b].qs, lane);
    lanes_fma(acc, -y[b].d * fp16_to_f32(x[b].dmin), mins);
    lanes_fma(acc, y[b].d * fp16_to_f32(x[b].d), lane);
  }
  return llm__hsum8(acc);
}

static float dot_q3_K(const void *w, const void *a, int64_t n) {
  const blk_q3_K *x = w;
  const blk_q8_K *y = a;
  float acc[8] = {0};
  for (int64_t b = 0; b < n / QK_K; b++) {
    float tmp[QK_K];
    int v[QK_K], one[QK_K];
    int32_t lane[8];
    /* Dequantize with d = 1 to get sc * q exactly as small integers. */
    blk_q3_K unit = x[b];
    unit.d = 0x3C00; /* 1.0 in half precision */
    quant_dequant_row(TT_Q3_K, &unit, tmp, QK_K);
    for (int i = 0; i < QK_K; i++) {
      v[i] = (int)tmp[i];
      one[i] = 1;
    }
    k_lanes(v, one, y[b].qs, lane);
    lanes_fma(acc, y[b].d * fp16_to_f32(x[b].d), lane);
  }
  return llm__hsum8(acc);
}

static void unpack_scales_k4(const uint8_t *q, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      sc[j] = q[j] & 63;
      mn[j] = q[j + 4] & 63;
    } else {
      sc[j] = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
      mn[j] = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
  }
}

/* Values and per-element scales of a Q4_K / Q5_K super-block (qh NULL for Q4_K). */
static void k45_values(const uint8_t *qs, const uint8_t *qh, const uint8_t sc[8], int v[QK_K],
                       int s[QK_K]) {
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++) {
      int lo = qs[32 * c + l] & 0xF, hi = qs[32 * c + l] >> 4;
      if (qh) {
        lo |= ((qh[l] >> (2 * c)) & 1) << 4;
        hi |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
      }
      v[64 * c + l] = lo;
      v[64 * c + 32 + l] = hi;
      s[64 * c + l] = sc[2 * c];
      s[64 * c + 32 + l] = sc[2 * c + 1];
    }
}

/* The mins of a Q4_K / Q5_K super-block as 8 lanes: lane k is sub-block k (32 values). */
static inline void k4_min_lanes(const uint8_t mn[8], const int16_t *bsums, int32_t m8[8]) {
  for (int k = 0; k < 8; k++) m8[k] = mn[k] * (bsums[2 * k] + bsums[2 * k + 1]);
}

/* Q4_K: values on 8 lanes; the mins on 8 lanes of their own, subtracted at the end. */
static float dot_q4_K(const void *w, const void *a, int64_t n) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float acc[8] = {0}, accm[8] = {0};
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint8_t sc[8], mn[8];
    int v[QK_K], s[QK_K];
    int32_t lane[8], m8[8];
    unpack_scales_k4(x[b].scales, sc, mn);
    k45_values(x[b].qs, NULL, sc, v, s);
    k_lanes(v, s, y[b].qs, lane);
    k4_min_lanes(mn, y[b].bsums, m8);
    lanes_fma(acc, fp16_to_f32(x[b].d) * y[b].d, lane);
    lanes_fma(accm, fp16_to_f32(x[b].dmin) * y[b].d, m8);
  }
  return llm__hsum8(acc) - llm__hsum8(accm);
}

/* Q5_K: values on 8 lanes; the mins summed to one integer per super-block, accumulated on one
 * float. */
static float dot_q5_K(const void *w, const void *a, int64_t n) {
  const blk_q5_K *x = w;
  const blk_q8_K *y = a;
  float acc[8] = {0}, summ = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    uint8_t sc[8], mn[8];
    int v[QK_K], s[QK_K];
    int32_t lane[8], m8[8], mins = 0;
    unpack_scales_k4(x[b].scales, sc, mn);
    k45_values(x[b].qs, x[b].qh, sc, v, s);
    k_lanes(v, s, y[b].qs, lane);
    k4_min_lanes(mn, y[b].bsums, m8);
    for (int k = 0; k < 8; k++) mins += m8[k];
    summ = fmaf(-y[b].d * fp16_to_f32(x[b].dmin), (float)mins, summ);
    lanes_fma(acc, y[b].d * fp16_to_f32(x[b].d), lane);
  }
  return llm__hsum8(acc) + summ;
}

/* Q6_K: the values as stored (0..63) on the 8 lanes; the +32 storage bias comes off each lane as
 * 32 x (scale x activation sum) of sub-blocks 2k and 2k + 1 (lane k), before the scale. */
static float dot_q6_K(const void *w, const void *a, int64_t n) {
  const blk_q6_K *x = w;
  const blk_q8_K *y = a;
  float acc[8] = {0};
  for (int64_t b = 0; b < n / QK_K; b++) {
    int v[QK_K], s[QK_K];
    int32_t lane[8];
    for (int i = 0; i < QK_K; i++) {
      int h = i / 128, q = (i % 128) / 32, l = i % 32;
      int lo = x[b].ql[64 * h + 32 * (q & 1) + l];
      lo = q < 2 ? lo & 0xF : lo >> 4;
      v[i] = lo | (((x[b].qh[32 * h + l] >> (2 * q)) & 3) << 4);
      s[i] = x[b].scales[i / 16];
    }
    k_lanes(v, s, y[b].qs, lane);
    for (int k = 0; k < 8; k++)
      lane[k] -= 32 * (x[b].scales[2 * k] * y[b].bsums[2 * k] +
                       x[b].scales[2 * k + 1] * y[b].bsums[2 * k + 1]);
    lanes_fma(acc, y[b].d * fp16_to_f32(x[b].d), lane);
  }
  return llm__hsum8(acc);
}

/* ---- The repacked orders (llm_order) ----------------------------------------------------------
 *
 * llama.cpp's x86 kernels for repacked Q4_0 / Q4_K weights work on eight weight rows at once, one
 * row per SIMD lane, so each output has one float accumulator and no lane reduction. Their integer
 * sums are exact, so only the float steps below decide the bits. */

/* Q4_K super-block pair p (values 64p..64p+63, sub-blocks 2p and 2p + 1): I[p] = sc(2p) S(2p) +
 * sc(2p+1) S(2p+1) with S a sub-block's integer dot with the activation, and M[p] the same with
 * the mins and the activation sums. Exact. */
static void q4_K_pair_sums(const blk_q4_K *x, const blk_q8_K *y, int32_t I[4], int32_t M[4]) {
  uint8_t sc[8], mn[8];
  unpack_scales_k4(x->scales, sc, mn);
  for (int p = 0; p < 4; p++) {
    int32_t s0 = 0, s1 = 0;
    for (int l = 0; l < 32; l++) {
      s0 += (x->qs[32 * p + l] & 0xF) * y->qs[64 * p + l];
      s1 += (x->qs[32 * p + l] >> 4) * y->qs[64 * p + 32 + l];
    }
    I[p] = sc[2 * p] * s0 + sc[2 * p + 1] * s1;
    M[p] = mn[2 * p] * (y->bsums[4 * p] + y->bsums[4 * p + 1]) +
           mn[2 * p + 1] * (y->bsums[4 * p + 2] + y->bsums[4 * p + 3]);
  }
}

/* Q4_K, gemv order: per super-block one fused multiply-add of the whole integer sum with the
 * rounded product d(w) d(a), and one of the mins sum with dmin(w) d(a) on an accumulator of its
 * own, subtracted at the end. */
static float dot_q4_K_gemv(const void *w, const void *a, int64_t n) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    int32_t I[4], M[4];
    q4_K_pair_sums(&x[b], &y[b], I, M);
    float d = fp16_to_f32(x[b].d) * y[b].d, dm = fp16_to_f32(x[b].dmin) * y[b].d;
    acc = fmaf((float)(I[0] + I[1] + I[2] + I[3]), d, acc);
    accm = fmaf((float)(M[0] + M[1] + M[2] + M[3]), dm, accm);
  }
  return acc - accm;
}

/* Q4_K, gemm order: the same, one fused multiply-add per 64 values (pair), in order. */
static float dot_q4_K_gemm(const void *w, const void *a, int64_t n) {
  const blk_q4_K *x = w;
  const blk_q8_K *y = a;
  float acc = 0, accm = 0;
  for (int64_t b = 0; b < n / QK_K; b++) {
    int32_t I[4], M[4];
    q4_K_pair_sums(&x[b], &y[b], I, M);
    float d = fp16_to_f32(x[b].d) * y[b].d, dm = fp16_to_f32(x[b].dmin) * y[b].d;
    for (int p = 0; p < 4; p++) {
      acc = fmaf((float)I[p], d, acc);
      accm = fmaf((float)M[p], dm, accm);
    }
  }
  return acc - accm;
}

/* Q4_0 (gemv and gemm alike): one fused multiply-add per block of its whole integer sum. */
static float dot_q4_0_repacked(const void *w, const void *a, int64_t n) {
  const blk_q4_0 *x = w;
  const blk_q8_0 *y = a;
  float acc = 0;
  for (int64_t b = 0; b < n / QK; b++) {
    int32_t s = 0;
    for (int j = 0; j < 16; j++)
      s += ((x[b].qs[j] & 0xF) - 8) * y[b].qs[j] + ((x[b].qs[j] >> 4) - 8) * y[b].qs[j + 16];
    acc = fmaf((float)s, fp16_to_f32(x[b].d) * fp16_to_f32(y[b].d), acc);
  }
  return acc;
}

vec_dot_fn llm__dot_order_scalar(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return llm__dot_scalar(t);
  if (t == TT_Q4_0) return dot_q4_0_repacked;
  if (t == TT_Q4_K) return o == LLM_ORDER_GEMM ? dot_q4_K_gemm : dot_q4_K_gemv;
  return NULL;
}

vec_dot_fn llm__dot_scalar(tensor_type t) {
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

/* ggml_vec_dot_bf16 with BF16 dot instructions: two such 16-lane pair chains, over the first and
 * second 32 of each run of 64, each reduced with llm__hsum16 and added to a double in turn; the
 * tail in double. */
static float dot_bf16_untiled(const void *w, const void *a, int64_t n) {
  const uint16_t *x = w, *y = a;
  float c[2][16] = {{0}};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int h = 0; h < 2; h++)
      for (int l = 0; l < 16; l++) {
        const uint16_t *xp = x + i + 32 * h + 2 * l, *yp = y + i + 32 * h + 2 * l;
        c[h][l] = fmaf(bf16_to_f32(xp[1]), bf16_to_f32(yp[1]), c[h][l]);
        c[h][l] = fmaf(bf16_to_f32(xp[0]), bf16_to_f32(yp[0]), c[h][l]);
      }
  double s = 0;
  s += (double)llm__hsum16(c[0]);
  s += (double)llm__hsum16(c[1]);
  for (; i < n; i++) s += (double)(bf16_to_f32(x[i]) * bf16_to_f32(y[i]));
  return (float)s;
}

vec_dot_fn llm__dot_untiled_scalar(tensor_type t) {
  switch (t) {
  case TT_F32: return dot_f32_untiled;
  case TT_F16: return dot_f16_untiled;
  case TT_BF16: return dot_bf16_untiled;
  default: return NULL;
  }
}

/* ---- Kernel selection ---- */

enum { LEVEL_SCALAR, LEVEL_AVX2, LEVEL_AVX512 };
static int kernel_level;
static vec_dot_fn dot_table[TT_COUNT], untiled_table[TT_COUNT];
static vec_dot4_fn dot4_table[TT_COUNT];
static vec_dot4w_fn dot4w_table[TT_COUNT];
/* The repacked orders: [0] GEMV, [1] GEMM. */
static vec_dot_fn order_table[2][TT_COUNT];
static vec_dot4w_fn order4w_table[2][TT_COUNT];
static vec_dot4_fn order4_table[2][TT_COUNT];
static vec_dot4x4_fn order4x4_table[2][TT_COUNT];
static const llm_gemm8 *gemm8_table[2][TT_COUNT];
static const llm_gemm8 *gemm8_plain_table[TT_COUNT]; /* the plain order's strips */
static pthread_once_t kernels_once = PTHREAD_ONCE_INIT;

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
/* F16C (CPUID.1:ECX bit 29), read directly: clang 14's __builtin_cpu_supports has no "f16c". */
static int has_f16c(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static int cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
      __builtin_cpu_supports("fma") && has_f16c())
    return LEVEL_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c())
    return LEVEL_AVX2;
#endif
  return LEVEL_SCALAR;
}

static void kernels_init(void) {
  int level = cpu_level();
  const char *force = getenv("MIMIC_KERNELS");
  if (force && *force) {
    int want = strcmp(force, "scalar") == 0       ? LEVEL_SCALAR
               : strcmp(force, "avx2") == 0       ? LEVEL_AVX2
               : strcmp(force, "avx512vnni") == 0 ? LEVEL_AVX512
                                                  : -1;
    if (want < 0)
      LOG_W("llm", "MIMIC_KERNELS=%s is not one of scalar, avx2, avx512vnni; ignored", force);
    else if (want < level)
      level = want;
  }
  kernel_level = level;
  for (int t = 0; t < TT_COUNT; t++) {
    vec_dot_fn f = NULL;
    if (level >= LEVEL_AVX512) f = llm__dot_avx512((tensor_type)t);
    if (!f && level >= LEVEL_AVX2) f = llm__dot_avx2((tensor_type)t);
    if (!f) f = llm__dot_scalar((tensor_type)t);
    dot_table[t] = f;
    vec_dot_fn u = level >= LEVEL_AVX2 ? llm__dot_untiled_avx2((tensor_type)t) : NULL;
    untiled_table[t] = u ? u : llm__dot_untiled_scalar((tensor_type)t);
    /* A higher set's dot4w beats a lower set's dot4 (AVX-512 Q4_0 four weight rows against AVX2
     * four activation rows: 235 vs 125 GFLOP/s at T=512, 2 threads), so a set that has either
     * stops the search for dot4. */
    vec_dot4_fn f4 = NULL;
    vec_dot4w_fn f4w = NULL;
    if (level >= LEVEL_AVX512) {
      f4 = llm__dot4_avx512((tensor_type)t);
      f4w = llm__dot4w_avx512((tensor_type)t);
    }
    if (level >= LEVEL_AVX2) {
      if (!f4 && !f4w) f4 = llm__dot4_avx2((tensor_type)t);
      /* the K-quants' AVX2 four-row dots (kernels_avx2_gemv.c) were measured against the AVX2
       * one-row dots only: where an AVX-512 one-row dot serves the type, it keeps generation */
      bool kept = level >= LEVEL_AVX512 && llm__dot_avx512((tensor_type)t) &&
                  llm__dot4w_gemv_avx2((tensor_type)t);
      if (!f4w && !kept) f4w = llm__dot4w_avx2((tensor_type)t);
    }
    dot4_table[t] = f4;
    dot4w_table[t] = f4w;
    /* AVX2's plain-order strips where the AVX-512 set has no four-row kernel of its own */
    bool own512 = level >= LEVEL_AVX512 &&
                  (llm__dot4_avx512((tensor_type)t) || llm__dot4w_avx512((tensor_type)t));
    gemm8_plain_table[t] = level >= LEVEL_AVX2 && !own512
                               ? llm__gemm8_order_avx2((tensor_type)t, LLM_ORDER_PLAIN)
                               : NULL;
    for (int o = 0; o < 2; o++) {
      llm_order ord = o ? LLM_ORDER_GEMM : LLM_ORDER_GEMV;
      vec_dot_fn g = NULL;
      vec_dot4w_fn g4 = NULL;
      order4_table[o][t] =
          level >= LEVEL_AVX512 ? llm__dot4_order_avx512((tensor_type)t, ord) : NULL;
      vec_dot4x4_fn g16 =
          level >= LEVEL_AVX512 ? llm__dot4x4_order_avx512((tensor_type)t, ord) : NULL;
      /* AVX2's packed strips where no AVX-512 4x4 kernel serves the type (measured on AVX2 only) */
      gemm8_table[o][t] =
          !g16 && level >= LEVEL_AVX2 ? llm__gemm8_order_avx2((tensor_type)t, ord) : NULL;
      if (!g16 && level >= LEVEL_AVX2) g16 = llm__dot4x4_order_avx2((tensor_type)t, ord);
      order4x4_table[o][t] = g16;
      if (level >= LEVEL_AVX512) {
        g = llm__dot_order_avx512((tensor_type)t, ord);
        g4 = llm__dot4w_order_avx512((tensor_type)t, ord);
      }
      if (level >= LEVEL_AVX2) {
        if (!g) g = llm__dot_order_avx2((tensor_type)t, ord);
        if (!g4) g4 = llm__dot4w_order_avx2((tensor_type)t, ord);
      }
      order_table[o][t] = g ? g : llm__dot_order_scalar((tensor_type)t, ord);
      order4w_table[o][t] = g4;
    }
  }
}

const char *qmat_kernels_name(void) {
  pthread_once(&kernels_once, kernels_init);
  return kernel_level == LEVEL_AVX512 ? "avx512vnni"
         : kernel_level == LEVEL_AVX2 ? "avx2"
                                      : "scalar";
}

float qmat_dot_f32(const float *x, const float *y, int64_t n) {
  return llm__dot_untiled(TT_F32)(x, y, n);
}

vec_dot_fn llm__dot(tensor_type t) {
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? dot_table[t] : NULL;
}

vec_dot_fn llm__dot_untiled(tensor_type t) {
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? untiled_table[t] : NULL;
}

bool llm__untiled(const qmat *w) {
  switch (w->type) {
  case TT_F32:
  case TT_F16: return w->rows % 4 || w->cols % 16;
  case TT_BF16: return w->rows % 4 || w->cols % 32;
  default: return false;
  }
}

vec_dot_fn llm__dot_for(const qmat *w) {
  return llm__untiled(w) ? llm__dot_untiled(w->type) : llm__dot(w->type);
}

vec_dot4_fn llm__dot4(tensor_type t) {
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? dot4_table[t] : NULL;
}

vec_dot4w_fn llm__dot4w(tensor_type t) {
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? dot4w_table[t] : NULL;
}

bool llm__repacked(const qmat *w) {
  return (w->type == TT_Q4_0 || w->type == TT_Q4_K) && w->rows % 8 == 0;
}

int64_t llm__gemm_tokens(int64_t T) { return T > 3 ? T - T % 4 : 0; }

vec_dot_fn llm__dot_order(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return llm__dot(t);
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? order_table[o == LLM_ORDER_GEMM][t] : NULL;
}

vec_dot4w_fn llm__dot4w_order(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return llm__dot4w(t);
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? order4w_table[o == LLM_ORDER_GEMM][t] : NULL;
}

vec_dot4_fn llm__dot4_order(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return llm__dot4(t);
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? order4_table[o == LLM_ORDER_GEMM][t] : NULL;
}

vec_dot4x4_fn llm__dot4x4_order(tensor_type t, llm_order o) {
  if (o == LLM_ORDER_PLAIN) return NULL;
  pthread_once(&kernels_once, kernels_init);
  return (unsigned)t < TT_COUNT ? order4x4_table[o == LLM_ORDER_GEMM][t] : NULL;
}

const llm_gemm8 *llm__gemm8_order(tensor_type t, llm_order o) {
  pthread_once(&kernels_once, kernels_init);
  if (o == LLM_ORDER_PLAIN) return (unsigned)t < TT_COUNT ? gemm8_plain_table[t] : NULL;
  return (unsigned)t < TT_COUNT ? gemm8_table[o == LLM_ORDER_GEMM][t] : NULL;
}

/* ---- qmat_mul -------------------------------------------------------------------------------- */

/* Per-calling-thread scratch blocks (activations, attention scores), freed at thread exit. */
typedef struct scratch {
  void *p[LLM_SCRATCH_COUNT];
  size_t cap[LLM_SCRATCH_COUNT];
} scratch;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;

static void scratch_free(void *v) {
  scratch *s = v;
  if (s)
    for (int i = 0; i < LLM_SCRATCH_COUNT; i++) mem_free(s->p[i]);
  mem_free(s);
}
static void scratch_init(void) { (void)pthread_key_create(&scratch_key, scratch_free); }

void *llm__scratch(llm_scratch_kind which, size_t n) {
  pthread_once(&scratch_once, scratch_init);
  scratch *s = pthread_getspecific(scratch_key);
  if (!s) {
    s = xcalloc(1, sizeof *s);
    (void)pthread_setspecific(scratch_key, s);
  }
  if (s->cap[which] < n) {
    mem_free(s->p[which]);
    s->cap[which] = n + n / 4;
    s->p[which] = xalloc(s->cap[which]);
  }
  return s->p[which];
}

void llm__scratch_release(void) {
  pthread_once(&scratch_once, scratch_init);
  scratch *s = pthread_getspecific(scratch_key);
  scratch_free(s);
  (void)pthread_setspecific(scratch_key, NULL);
}

/* Up to MM_MAX_W matrices sharing the input x, run as one parallel section: their rows are
 * concatenated into one range that the pool splits into chunks. */
#define MM_MAX_W 4

typedef struct mm_job {
  int n_w;
  const qmat *w[MM_MAX_W];
  float *y[MM_MAX_W];
  /* The kernels of matrix k: [0] for tokens t < t4[k], [1] for the rest (llm__gemm_tokens: a
   * repacked weight's gemm and gemv orders; the same kernel twice for the others, whose t4 is T).
   * dot4 serves groups of four tokens below t4, and dot4x4 (a repacked weight's gemm order) groups
   * of four tokens by four rows there. */
  vec_dot_fn dot[MM_MAX_W][2];
  vec_dot4_fn dot4[MM_MAX_W];
  vec_dot4x4_fn dot4x4[MM_MAX_W];
  const llm_gemm8 *gemm8[MM_MAX_W]; /* packed eight-row strips for tokens below t4, or NULL */
  vec_dot4w_fn dot4w[MM_MAX_W][2];
  int64_t t4[MM_MAX_W];
  int64_t row0[MM_MAX_W + 1]; /* first row of each matrix in the concatenated range */
  const float *x;
  int64_t T, cols;
  tensor_type at;
  uint8_t *act;
  size_t arow;
} mm_job;

/* Converts x rows [b, e) into the activation type. */
static void mm_quantize(void *arg, int64_t b, int64_t e) {
  mm_job *j = arg;
  for (int64_t t = b; t < e; t++)
    llm__quant_act_row(j->at, j->x + t * j->cols, j->act + (size_t)t * j->arow, j->cols);
}

/* Rows [r0, r1) of matrix k through dot4w, for every activation row: four weight rows at a time,
 * taken from four runs of consecutive rows (rows g + i, g + i + q, g + i + 2q, g + i + 3q), so
 * memory is read as four long sequential streams. Four adjacent rows instead are four streams that
 * each end after a few dozen cache lines, which the hardware prefetcher does not follow; the longer
 * the runs, the closer to streaming speed (measurements in docs/internals/kernels.md). A group of
 * 4q rows (about 4 MM_STREAM_BYTES) is run against every activation row before the next, so for
 * T > 1 it is reused from cache. */
#define MM_STREAM_BYTES (128 * 1024)

static void mm_rows_w4(const mm_job *j, int k, int64_t r0, int64_t r1) {
  const qmat *w = j->w[k];
  const uint8_t *wd = w->data;
  size_t rb = w->row_bytes;
  int64_t run = (int64_t)(MM_STREAM_BYTES / rb) + 1;
  for (int64_t g = r0; g < r1; g += 4 * run) {
    int64_t q = r1 - g >= 4 * run ? run : (r1 - g) / 4, ge = g + 4 * run < r1 ? g + 4 * run : r1;
    for (int64_t t = 0; t < j->T; t++) {
      const uint8_t *a = j->act + (size_t)t * j->arow;
      float *yt = j->y[k] + t * w->rows;
      int s = t < j->t4[k] ? 0 : 1;
      for (int64_t i = 0; i < q; i++) {
        float o[4];
        j->dot4w[k][s](wd + (size_t)(g + i) * rb, (size_t)q * rb, a, w->cols, o);
        for (int m = 0; m < 4; m++) yt[g + i + m * q] = o[m];
      }
      for (int64_t r = g + 4 * q; r < ge; r++)
        yt[r] = j->dot[k][s](wd + (size_t)r * rb, a, w->cols);
    }
  }
}

/* Rows [r0, r1) of matrix k: a tile of W rows is run against every activation row, so each weight
 * row is read from memory once and then reused from cache for all T activation rows. Groups of four
 * activation rows go through dot4 where the type has one, the rest through dot4w (four weight rows,
 * in cache after the first activation row) or dot. Under four activation rows, a type with dot4w
 * goes to mm_rows_w4 instead (long streams; no reuse to keep in L1). Each output is the same kernel
 * arithmetic whichever path computes it. */
#define MM_TILE_ROWS 16

/* Rows [r0, r1) (a multiple of 8 of them), the groups of four tokens below t4, through the packed
 * strips: each tile's strips are packed once into this thread's scratch, then run against every
 * group of four activation rows (both strips in turn, so the group is read from memory once per
 * tile). */
static void mm_rows_packed(const mm_job *j, int k, int64_t r0, int64_t r1) {
  const qmat *w = j->w[k];
  const llm_gemm8 *g8 = j->gemm8[k];
  size_t sb = g8->bytes(w->cols), rb = w->row_bytes;
  uint8_t *buf = llm__scratch(LLM_SCRATCH_PACK, sb * (MM_TILE_ROWS / 8));
  for (int64_t rt = r0; rt < r1; rt += MM_TILE_ROWS) {
    int ns = (int)((r1 - rt < MM_TILE_ROWS ? r1 - rt : MM_TILE_ROWS) / 8);
    for (int s = 0; s < ns; s++)
      g8->pack((const uint8_t *)w->data + (size_t)(rt + 8 * s) * rb, rb, w->cols, buf + sb * s);
    for (int64_t t = 0; t + 4 <= j->t4[k]; t += 4) {
      const uint8_t *a = j->act + (size_t)t * j->arow;
      for (int s = 0; s < ns; s++) {
        float o[32];
        g8->gemm(buf + sb * s, a, j->arow, w->cols, o);
        for (int q = 0; q < 4; q++)
          memcpy(j->y[k] + (t + q) * w->rows + rt + 8 * s, o + 8 * q, 8 * sizeof *o);
      }
    }
  }
}

/* Packed strips pay for themselves from this many groups of four gemm tokens on. */
#define MM_PACK_MIN_GROUPS 8

static void mm_rows(const mm_job *j, int k, int64_t r0, int64_t r1) {
  const qmat *w = j->w[k];
  int64_t rows = w->rows;
  float *y = j->y[k];
  const uint8_t *wd = w->data;
  int64_t t4 = j->t4[k];
  vec_dot4_fn dot4 = j->T >= 4 ? j->dot4[k] : NULL;
  vec_dot4x4_fn dot4x4 = j->T >= 4 ? j->dot4x4[k] : NULL;
  if (j->T < 4 && j->dot4w[k][t4 > 0 ? 0 : 1]) { /* all T tokens use one of the two sets */
    mm_rows_w4(j, k, r0, r1);
    return;
  }
  /* Rows [r0, rp) have their gemm tokens done by the packed strips; the loop below does the rest.
   */
  int64_t rp = r0;
  if (j->gemm8[k] && t4 >= 4 * MM_PACK_MIN_GROUPS) {
    rp = r0 + (r1 - r0) / 8 * 8;
    if (rp > r0) mm_rows_packed(j, k, r0, rp);
  }
  for (int64_t rt = r0, re; rt < r1; rt = re) {
    re = rt + MM_TILE_ROWS < r1 ? rt + MM_TILE_ROWS : r1;
    if (re > rp && rt < rp) re = rp; /* a tile straddling rp: its packed part first */
    /* packed rows' tokens from the last group of four on (a plain weight's t4 is T, any count) */
    int64_t t = rt < rp ? t4 / 4 * 4 : 0;
    if (dot4 || dot4x4)
      for (; t + 4 <= t4; t += 4) {
        const uint8_t *a = j->act + (size_t)t * j->arow;
        int64_t r = rt;
        if (dot4x4)
          for (; r + 4 <= re; r += 4) {
            float o[16];
            dot4x4(wd + (size_t)r * w->row_bytes, w->row_bytes, a, j->arow, w->cols, o);
            for (int q = 0; q < 4; q++) memcpy(y + (t + q) * rows + r, o + 4 * q, 4 * sizeof *o);
          }
        for (; r < re; r++) { /* rows left over from groups of four: a chunk's edge */
          float o[4];
          if (dot4)
            dot4(wd + (size_t)r * w->row_bytes, a, j->arow, w->cols, o);
          else
            for (int q = 0; q < 4; q++)
              o[q] = j->dot[k][0](wd + (size_t)r * w->row_bytes, a + (size_t)q * j->arow, w->cols);
          for (int q = 0; q < 4; q++) y[(t + q) * rows + r] = o[q];
        }
      }
    for (; t < j->T; t++) {
      const uint8_t *a = j->act + (size_t)t * j->arow;
      float *yt = y + t * rows;
      int s = t < t4 ? 0 : 1;
      vec_dot_fn dot = j->dot[k][s];
      vec_dot4w_fn dot4w = j->dot4w[k][s];
      int64_t r = rt;
      if (dot4w)
        for (; r + 4 <= re; r += 4)
          dot4w(wd + (size_t)r * w->row_bytes, w->row_bytes, a, w->cols, yt + r);
      for (; r < re; r++) yt[r] = dot(wd + (size_t)r * w->row_bytes, a, w->cols);
    }
  }
}

/* One chunk [b, e) of the concatenated rows. */
static void mm_chunk(void *arg, int64_t b, int64_t e) {
  const mm_job *j = arg;
  MIMIC_DASSERT(b >= 0 && b < e && e <= j->row0[j->n_w]);
  for (int k = 0; k < j->n_w; k++) {
    int64_t lo = b > j->row0[k] ? b : j->row0[k], hi = e < j->row0[k + 1] ? e : j->row0[k + 1];
    if (lo >= hi) continue;
    uint64_t t0 = LLM_PROF_T0();
    mm_rows(j, k, lo - j->row0[k], hi - j->row0[k]);
    if (t0) llm__prof_mm_busy(j->w[k]->type, llm__prof_now() - t0);
  }
}

/* Chunk size for n rows on nth threads and T >= 4 tokens: two chunks per thread, in whole tiles, so
 * a thread the OS holds back leaves half its share to the others. Many equal fine chunks cost more
 * than they balance where each chunk's start restarts the hardware prefetch streams
 * (docs/internals/kernels.md, "Threads and tiling"); generation (T < 4) takes guided chunks instead
 * (mm_unit_rows). A prompt (MM_PACK_MIN_GROUPS groups of four tokens or more) reuses each tile from
 * cache for every token, so a chunk's start costs it little, and it takes eight chunks per thread:
 * a section ends when its last chunk does, and chunks of rows of different types (q/k/v with a Q6_K
 * v) or different speed leave the other threads waiting up to a chunk. */
static int64_t mm_chunk_rows(int64_t n, int nth, int64_t T) {
  int64_t c = n / ((int64_t)nth * (T >= 4 * MM_PACK_MIN_GROUPS ? 8 : 2));
  c = (c + MM_TILE_ROWS - 1) / MM_TILE_ROWS * MM_TILE_ROWS;
  return c < MM_TILE_ROWS ? MM_TILE_ROWS : c;
}

/* Generation (T < 4) hands out its rows in chunks that shrink as they run out
 * (compute_pool_for_guided), down to a unit of about MM_UNIT_BYTES of weights in whole tiles. With
 * two fixed chunks per thread a section ended when its slower thread did: equal chunks took 5-10%
 * longer on one thread than on the other (the other's memory traffic, the OS), and at 2 threads on
 * the 1.5B shape the threads waited 4-7 ms of a 55-65 ms token; guided, 2-3 ms, at the same busy
 * time (a chunk's start restarts four row streams: about a microsecond). */
#define MM_UNIT_BYTES (64 * 1024)

static int64_t mm_unit_rows(const mm_job *j) {
  size_t bytes = 0;
  for (int k = 0; k < j->n_w; k++) bytes += (size_t)j->w[k]->rows * j->w[k]->row_bytes;
  int64_t rows = j->row0[j->n_w],
          unit = (int64_t)((double)MM_UNIT_BYTES * (double)rows / (double)bytes);
  unit = (unit + MM_TILE_ROWS - 1) / MM_TILE_ROWS * MM_TILE_ROWS;
  return unit < MM_TILE_ROWS ? MM_TILE_ROWS : unit;
}

void qmat_mul_multi(compute_pool *p, int n, const qmat *const *w, const float *x, float *const *y,
                    int64_t T) {
  llm__qmat_mul_split(p, n, w, x, y, T, -1);
}

void llm__qmat_mul_split(compute_pool *p, int n, const qmat *const *w, const float *x,
                         float *const *y, int64_t T, int64_t t4) {
  if (T <= 0 || n <= 0) return;
  MIMIC_ASSERT(w && x && y && t4 >= -1 && t4 <= T && (t4 < 0 || t4 % 4 == 0));
  if (llm__gemm_float(p, n, w, x, y, T, qmat_kernels_name(), llm__scratch))
    return; /* gemm_float.c */
  if (n > MM_MAX_W) {
    for (int k = 0; k < n; k++) llm__qmat_mul_split(p, 1, &w[k], x, &y[k], T, t4);
    return;
  }
  mm_job j = {.n_w = 0, .x = x, .T = T, .cols = w[0]->cols, .at = llm__act_type(w[0]->type)};
  for (int k = 0; k < n; k++) {
    if (w[k]->cols != j.cols || llm__act_type(w[k]->type) != j.at) { /* not shareable: one by one */
      for (int q = 0; q < n; q++) llm__qmat_mul_split(p, 1, &w[q], x, &y[q], T, t4);
      return;
    }
    vec_dot_fn dot = llm__dot_for(w[k]);
    if (!dot || w[k]->rows <= 0) continue; /* unsupported types leave y untouched */
    /* A qmat whose row size disagrees with its shape was built wrong: every row read would be off.
     */
    MIMIC_ASSERT(w[k]->data && y[k] && w[k]->cols > 0 &&
                 w[k]->row_bytes == tensor_row_bytes(w[k]->type, w[k]->cols));
    int i = j.n_w++;
    j.w[i] = w[k];
    j.y[i] = y[k];
    if (llm__repacked(w[k])) {
      j.t4[i] = t4 < 0 ? llm__gemm_tokens(T) : t4;
      j.dot[i][0] = llm__dot_order(w[k]->type, LLM_ORDER_GEMM);
      j.dot[i][1] = llm__dot_order(w[k]->type, LLM_ORDER_GEMV);
      j.dot4[i] = llm__dot4_order(w[k]->type, LLM_ORDER_GEMM);
      j.dot4x4[i] = llm__dot4x4_order(w[k]->type, LLM_ORDER_GEMM);
      j.gemm8[i] = llm__gemm8_order(w[k]->type, LLM_ORDER_GEMM);
      j.dot4w[i][0] = llm__dot4w_order(w[k]->type, LLM_ORDER_GEMM);
      j.dot4w[i][1] = llm__dot4w_order(w[k]->type, LLM_ORDER_GEMV);
    } else {
      j.t4[i] = T;
      j.dot[i][0] = j.dot[i][1] = dot;
      /* the multi-row kernels keep the tiled order: an untiled float matrix goes row by row */
      bool untiled = llm__untiled(w[k]);
      j.dot4[i] = untiled ? NULL : llm__dot4(w[k]->type);
      j.dot4w[i][0] = j.dot4w[i][1] = untiled ? NULL : llm__dot4w(w[k]->type);
      j.gemm8[i] = untiled ? NULL : llm__gemm8_order(w[k]->type, LLM_ORDER_PLAIN);
    }
    j.row0[i + 1] = j.row0[i] + w[k]->rows;
  }
  if (!j.n_w) return;
  j.arow = tensor_row_bytes(j.at, j.cols);
  int nth = compute_pool_threads(p);
  if (j.at == TT_F32) {
    j.act = (uint8_t *)x; /* used read-only */
  } else {
    j.act = llm__scratch(LLM_SCRATCH_ACT, j.arow * (size_t)T);
    uint64_t t0 = LLM_PROF_T0();
    compute_pool_for(T == 1 ? NULL : p, T, (T + nth * 4 - 1) / (nth * 4), mm_quantize, &j);
    if (t0) llm__prof_wall(LLM_PROF_ACT_QUANT, t0);
  }
  int64_t total = j.row0[j.n_w];
  uint64_t t0 = LLM_PROF_T0();
  if (T < 4) {
    compute_pool_for_guided(p, total, mm_unit_rows(&j), mm_chunk, &j);
  } else {
    compute_pool_for(p, total, mm_chunk_rows(total, nth, T), mm_chunk, &j);
  }
  if (t0) {
    llm__prof_wall(LLM_PROF_MATMUL, t0);
    llm__prof_par(t0, nth);
  }
}

void qmat_mul(compute_pool *p, const qmat *w, const float *x, float *y, int64_t T) {
  qmat_mul_multi(p, 1, &w, x, &y, T);
}
