/* Tensor types: the table of block sizes for every ggml type id a GGUF file may hold, and (for the
 * types mimic computes with) scalar reference conversion of rows to and from float. The formats are
 * those of ggml (ggml-common.h), written from their specification (block layouts in
 * docs/internals/kernels.md, "Formats"). Not here: dot products and matmul
 * (kernels.c). */
#include "llm/quant.h"

#include <math.h>
#include <string.h>

#include "llm/kernels_int.h"

/* Sizes for every type id in use by ggml, including the ones mimic cannot compute with, so that the
 * reader can validate (and `mimic model info` can describe) any file. Removed ids stay empty. */
static const tensor_type_info type_table[TT_COUNT] = {
    [TT_F32] = {"F32", 1, 4, true},       [TT_F16] = {"F16", 1, 2, true},
    [TT_Q4_0] = {"Q4_0", 32, 18, true},   [TT_Q4_1] = {"Q4_1", 32, 20, true},
    [TT_Q5_0] = {"Q5_0", 32, 22, true},   [TT_Q5_1] = {"Q5_1", 32, 24, true},
    [TT_Q8_0] = {"Q8_0", 32, 34, true},   [TT_Q8_1] = {"Q8_1", 32, 36, false},
    [TT_Q2_K] = {"Q2_K", 256, 84, true},  [TT_Q3_K] = {"Q3_K", 256, 110, true},
    [TT_Q4_K] = {"Q4_K", 256, 144, true}, [TT_Q5_K] = {"Q5_K", 256, 176, true},
    [TT_Q6_K] = {"Q6_K", 256, 210, true}, [TT_Q8_K] = {"Q8_K", 256, 292, true},
    [16] = {"IQ2_XXS", 256, 66, false},   [17] = {"IQ2_XS", 256, 74, false},
    [18] = {"IQ3_XXS", 256, 98, false},   [19] = {"IQ1_S", 256, 50, false},
    [20] = {"IQ4_NL", 32, 18, false},     [21] = {"IQ3_S", 256, 110, false},
    [22] = {"IQ2_S", 256, 82, false},     [23] = {"IQ4_XS", 256, 136, false},
    [24] = {"I8", 1, 1, false},           [25] = {"I16", 1, 2, false},
    [26] = {"I32", 1, 4, false},          [27] = {"I64", 1, 8, false},
    [28] = {"F64", 1, 8, false},          [29] = {"IQ1_M", 256, 56, false},
    [TT_BF16] = {"BF16", 1, 2, true},     [34] = {"TQ1_0", 256, 54, false},
    [35] = {"TQ2_0", 256, 66, false},     [39] = {"MXFP4", 32, 17, false},
};

tensor_type_info tensor_type_get(int type) {
  tensor_type_info none = {NULL, 0, 0, false};
  if (type < 0 || type >= TT_COUNT || !type_table[type].name) return none;
  return type_table[type];
}

size_t tensor_row_bytes(tensor_type type, int64_t n) {
  tensor_type_info ti = tensor_type_get((int)type);
  if (!ti.name || n < 0) return 0;
  return (size_t)(n / ti.block) * ti.block_bytes;
}

/* ---- Dequantization (scalar reference) ------------------------------------------------------ */

/* Scale and min of sub-block j (0..7) of a Q4_K/Q5_K block: 6 bits each, packed into 12 bytes. */
static inline void scale_min_k4(int j, const uint8_t *q, uint8_t *sc, uint8_t *m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

/* The 16 signed 6-bit scales of a Q3_K block (stored biased by 32). */
static void scales_q3_K(const uint8_t *s, int8_t out[16]) {
  for (int i = 0; i < 16; i++) {
    int lo = i < 8 ? s[i] & 0xF : s[i - 8] >> 4;
    int hi = (s[8 + i % 4] >> (2 * (i / 4))) & 3;
    out[i] = (int8_t)((lo | (hi << 4)) - 32);
  }
}

static void deq_q4_0(const blk_q4_0 *b, float *y) {
  float d = fp16_to_f32(b->d);
  for (int j = 0; j < 16; j++) {
    y[j] = (float)((b->qs[j] & 0xF) - 8) * d;
    y[j + 16] = (float)((b->qs[j] >> 4) - 8) * d;
  }
}

static void deq_q4_1(const blk_q4_1 *b, float *y) {
  float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m);
  for (int j = 0; j < 16; j++) {
    y[j] = (float)(b->qs[j] & 0xF) * d + m;
    y[j + 16] = (float)(b->qs[j] >> 4) * d + m;
  }
}

static inline uint32_t load_u32(const uint8_t *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}

static void deq_q5_0(const blk_q5_0 *b, float *y) {
  float d = fp16_to_f32(b->d);
  uint32_t qh = load_u32(b->qh);
  for (int j = 0; j < 16; j++) {
    int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
    y[j] = (float)(((b->qs[j] & 0xF) | (h0 << 4)) - 16) * d;
    y[j + 16] = (float)(((b->qs[j] >> 4) | (h1 << 4)) - 16) * d;
  }
}

static void deq_q5_1(const blk_q5_1 *b, float *y) {
  float d = fp16_to_f32(b->d), m = fp16_to_f32(b->m);
  uint32_t qh = load_u32(b->qh);
  for (int j = 0; j < 16; j++) {
    int h0 = (qh >> j) & 1, h1 = (qh >> (j + 16)) & 1;
    y[j] = (float)((b->qs[j] & 0xF) | (h0 << 4)) * d + m;
    y[j + 16] = (float)((b->qs[j] >> 4) | (h1 << 4)) * d + m;
  }
}

static void deq_q8_0(const blk_q8_0 *b, float *y) {
  float d = fp16_to_f32(b->d);
  for (int j = 0; j < 32; j++) y[j] = (float)b->qs[j] * d;
}

/* Q2_K and Q3_K: element i = 128h + 32j + k lives in qs[32h + k] at bit 2j; its scale is
 * 16-element sub-block i/16. */
static void deq_q2_K(const blk_q2_K *b, float *y) {
  float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
  for (int i = 0; i < QK_K; i++) {
    int h = i / 128, j = (i % 128) / 32, k = i % 32;
    int q = (b->qs[32 * h + k] >> (2 * j)) & 3;
    uint8_t sc = b->scales[i / 16];
    y[i] = d * (float)(sc & 0xF) * (float)q - dmin * (float)(sc >> 4);
  }
}

static void deq_q3_K(const blk_q3_K *b, float *y) {
  float d = fp16_to_f32(b->d);
  int8_t sc[16];
  scales_q3_K(b->scales, sc);
  for (int i = 0; i < QK_K; i++) {
    int h = i / 128, j = (i % 128) / 32, k = i % 32;
    int q = (b->qs[32 * h + k] >> (2 * j)) & 3;
    if (!(b->hmask[k] & (1 << (4 * h + j)))) q -= 4;
    y[i] = d * (float)sc[i / 16] * (float)q;
  }
}

/* Q4_K and Q5_K: element 64c + l (l < 32) is the low nibble of qs[32c + l] (sub-block 2c), element
 * 64c + 32 + l the high nibble (sub-block 2c + 1); Q5_K's fifth bit is qh[l] bit 2c / 2c + 1. */
static void deq_q4_K(const blk_q4_K *b, float *y) {
  float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
  for (int c = 0; c < 4; c++) {
    uint8_t s1, m1, s2, m2;
    scale_min_k4(2 * c, b->scales, &s1, &m1);
    scale_min_k4(2 * c + 1, b->scales, &s2, &m2);
    float d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
    for (int l = 0; l < 32; l++) {
      y[64 * c + l] = d1 * (float)(b->qs[32 * c + l] & 0xF) - mm1;
      y[64 * c + 32 + l] = d2 * (float)(b->qs[32 * c + l] >> 4) - mm2;
    }
  }
}

static void deq_q5_K(const blk_q5_K *b, float *y) {
  float d = fp16_to_f32(b->d), dmin = fp16_to_f32(b->dmin);
  for (int c = 0; c < 4; c++) {
    uint8_t s1, m1, s2, m2;
    scale_min_k4(2 * c, b->scales, &s1, &m1);
    scale_min_k4(2 * c + 1, b->scales, &s2, &m2);
    float d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
    for (int l = 0; l < 32; l++) {
      int lo = (b->qs[32 * c + l] & 0xF) | (((b->qh[l] >> (2 * c)) & 1) << 4);
      int hi = (b->qs[32 * c + l] >> 4) | (((b->qh[l] >> (2 * c + 1)) & 1) << 4);
      y[64 * c + l] = d1 * (float)lo - mm1;
      y[64 * c + 32 + l] = d2 * (float)hi - mm2;
    }
  }
}

/* Q6_K: in half h (128 elements), element 32g + l takes 4 low bits from ql[64h + 32(g&1) + l]
 * (low nibble for g < 2, high for g >= 2), 2 high bits from qh[32h + l] at bit 2g; scale i/16. */
static inline int q6_value(const blk_q6_K *b, int i) {
  int h = i / 128, g = (i % 128) / 32, l = i % 32;
  int lo = b->ql[64 * h + 32 * (g & 1) + l];
  lo = g < 2 ? lo & 0xF : lo >> 4;
  int hi = (b->qh[32 * h + l] >> (2 * g)) & 3;
  return (lo | (hi << 4)) - 32;
}

static void deq_q6_K(const blk_q6_K *b, float *y) {
  float d = fp16_to_f32(b->d);
  for (int i = 0; i < QK_K; i++) y[i] = d * (float)b->scales[i / 16] * (float)q6_value(b, i);
}

static void deq_q8_K(const blk_q8_K *b, float *y) {
  for (int i = 0; i < QK_K; i++) y[i] = b->d * (float)b->qs[i];
}

void quant_dequant_row(tensor_type type, const void *src, float *dst, int64_t n) {
  const uint8_t *p = src;
  tensor_type_info ti = tensor_type_get((int)type);
  if (!ti.supported) return;
  int64_t nb = n / ti.block;
  switch (type) {
  case TT_F32: memcpy(dst, src, (size_t)n * 4); return;
  case TT_F16:
    for (int64_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      dst[i] = fp16_to_f32(h);
    }
    return;
  case TT_BF16:
    for (int64_t i = 0; i < n; i++) {
      uint16_t h;
      memcpy(&h, p + 2 * i, 2);
      dst[i] = bf16_to_f32(h);
    }
    return;
  default: break;
  }
  for (int64_t i = 0; i < nb; i++) {
    const void *b = p + (size_t)i * ti.block_bytes;
    float *y = dst + i * ti.block;
    switch (type) {
    case TT_Q4_0: deq_q4_0(b, y); break;
    case TT_Q4_1: deq_q4_1(b, y); break;
    case TT_Q5_0: deq_q5_0(b, y); break;
    case TT_Q5_1: deq_q5_1(b, y); break;
    case TT_Q8_0: deq_q8_0(b, y); break;
    case TT_Q2_K: deq_q2_K(b, y); break;
    case TT_Q3_K: deq_q3_K(b, y); break;
    case TT_Q4_K: deq_q4_K(b, y); break;
    case TT_Q5_K: deq_q5_K(b, y); break;
    case TT_Q6_K: deq_q6_K(b, y); break;
    case TT_Q8_K: deq_q8_K(b, y); break;
    default: return;
    }
  }
}

/* ---- Quantization (scalar reference) -------------------------------------------------------
 * The 32-element formats use ggml's reference recipes (scale from the largest magnitude, or from
 * min/max). The K-quants fit each sub-block by a small search: for ~20 candidate scales around the
 * min/max one, round to the grid, then refit scale (and min) by least squares and keep the fit with
 * the least squared error. The per-sub-block scales are then themselves quantized (6, 4 or 8 bits)
 * against the super-block scale, and the values re-rounded with the scales actually stored. This
 * is not bit-identical to llama.cpp's quantizer (which weights the error by importance), but it is
 * the same family of fits, and every block it writes is valid for any reader of the format. */

static inline int nearest(float x) { return (int)lrintf(x); }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Fits x (n values) as scale * q + min with q in [0, nmax], scale >= 0, min <= 0. */
static void fit_affine(const float *x, int n, int nmax, float *scale, float *minv) {
  float lo = x[0], hi = x[0];
  for (int i = 1; i < n; i++) {
    if (x[i] < lo) lo = x[i];
    if (x[i] > hi) hi = x[i];
  }
  if (lo > 0) lo = 0;
  if (hi <= lo) {
    *scale = 0;
    *minv = lo;
    return;
  }
  float best_s = (hi - lo) / (float)nmax, best_m = lo, best_err = 0;
  for (int i = 0; i < n; i++) {
    float q = (float)clampi(nearest((x[i] - lo) / best_s), 0, nmax), e = best_s * q + lo - x[i];
    best_err += e * e;
  }
  for (int step = -10; step <= 10; step++) {
    float iscale = ((float)nmax + 0.1f * (float)step) / (hi - lo);
    double sq = 0, sqq = 0, sx = 0, sqx = 0;
    int q[QK_K];
    for (int i = 0; i < n; i++) {
      q[i] = clampi(nearest(iscale * (x[i] - lo)), 0, nmax);
      sq += q[i];
      sqq += (double)q[i] * q[i];
      sx += x[i];
      sqx += (double)q[i] * x[i];
    }
    double det = n * sqq - sq * sq;
    if (det <= 0) continue;
    double s = (n * sqx - sq * sx) / det, m = (sqq * sx - sq * sqx) / det;
    if (m > 0) {
      m = 0;
      s = sqq > 0 ? sqx / sqq : 0;
    }
    if (s <= 0) continue;
    float err = 0;
    for (int i = 0; i < n; i++) {
      float e = (float)s * (float)q[i] + (float)m - x[i];
      err += e * e;
    }
    if (err < best_err) {
      best_err = err;
      best_s = (float)s;
      best_m = (float)m;
    }
  }
  *scale = best_s;
  *minv = best_m;
}

/* Fits x (n values) as scale * q with q in [-nmax, nmax - 1]; scale may be negative. */
static float fit_symmetric(const float *x, int n, int nmax) {
  float amax = 0, max = 0;
  for (int i = 0; i < n; i++)
    if (fabsf(x[i]) > amax) {
      amax = fabsf(x[i]);
      max = x[i];
    }
  if (amax == 0) return 0;
  float best_s = max / -(float)nmax;
  double best_score = -1;
  for (int step = -9; step <= 9; step++) {
    float iscale = -((float)nmax + 0.1f * (float)step) / max;
    double sqq = 0, sqx = 0;
    for (int i = 0; i < n; i++) {
      int q = clampi(nearest(iscale * x[i]), -nmax, nmax - 1);
      sqq += (double)q * q;
      sqx += (double)q * x[i];
    }
    if (sqq <= 0) continue;
    double score = sqx * sqx / sqq; /* error = sum x^2 - score */
    if (score > best_score) {
      best_score = score;
      best_s = (float)(sqx / sqq);
    }
  }
  return best_s;
}

static void q_q4_0(const float *x, blk_q4_0 *b) {
  float amax = 0, max = 0;
  for (int j = 0; j < QK; j++)
    if (fabsf(x[j]) > amax) {
      amax = fabsf(x[j]);
      max = x[j];
    }
  float d = max / -8, id = d != 0 ? 1.0f / d : 0;
  b->d = f32_to_fp16(d);
  for (int j = 0; j < 16; j++) {
    int q0 = clampi((int)(x[j] * id + 8.5f), 0, 15),
        q1 = clampi((int)(x[j + 16] * id + 8.5f), 0, 15);
    b->qs[j] = (uint8_t)(q0 | (q1 << 4));
  }
}

static void q_q4_1(const float *x, blk_q4_1 *b) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < QK; j++) {
    lo = fminf(lo, x[j]);
    hi = fmaxf(hi, x[j]);
  }
  float d = (hi - lo) / 15, id = d != 0 ? 1.0f / d : 0;
  b->d = f32_to_fp16(d);
  b->m = f32_to_fp16(lo);
  for (int j = 0; j < 16; j++) {
    int q0 = clampi((int)((x[j] - lo) * id + 0.5f), 0, 15);
    int q1 = clampi((int)((x[j + 16] - lo) * id + 0.5f), 0, 15);
    b->qs[j] = (uint8_t)(q0 | (q1 << 4));
  }
}

static void q_q5_0(const float *x, blk_q5_0 *b) {
  float amax = 0, max = 0;
  for (int j = 0; j < QK; j++)
    if (fabsf(x[j]) > amax) {
      amax = fabsf(x[j]);
      max = x[j];
    }
  float d = max / -16, id = d != 0 ? 1.0f / d : 0;
  b->d = f32_to_fp16(d);
  uint32_t qh = 0;
  for (int j = 0; j < 16; j++) {
    int q0 = clampi((int)(x[j] * id + 16.5f), 0, 31),
        q1 = clampi((int)(x[j + 16] * id + 16.5f), 0, 31);
    b->qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= (uint32_t)(q0 >> 4) << j;
    qh |= (uint32_t)(q1 >> 4) << (j + 16);
  }
  memcpy(b->qh, &qh, 4);
}

static void q_q5_1(const float *x, blk_q5_1 *b) {
  float lo = x[0], hi = x[0];
  for (int j = 1; j < QK; j++) {
    lo = fminf(lo, x[j]);
    hi = fmaxf(hi, x[j]);
  }
  float d = (hi - lo) / 31, id = d != 0 ? 1.0f / d : 0;
  b->d = f32_to_fp16(d);
  b->m = f32_to_fp16(lo);
  uint32_t qh = 0;
  for (int j = 0; j < 16; j++) {
    int q0 = clampi((int)((x[j] - lo) * id + 0.5f), 0, 31);
    int q1 = clampi((int)((x[j + 16] - lo) * id + 0.5f), 0, 31);
    b->qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
    qh |= (uint32_t)(q0 >> 4) << j;
    qh |= (uint32_t)(q1 >> 4) << (j + 16);
  }
  memcpy(b->qh, &qh, 4);
}

static void q_q8_0(const float *x, blk_q8_0 *b) {
  float amax = 0;
  for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
  float d = amax / 127, id = d != 0 ? 1.0f / d : 0;
  b->d = f32_to_fp16(d);
  for (int j = 0; j < QK; j++) b->qs[j] = (int8_t)clampi(nearest(x[j] * id), -127, 127);
}

/* Q8_0 for activations, as ggml's AVX2 quantizer computes it (llama.cpp's reference logits came
 * from it): the multiplier is 127 / amax rather than 1 / d, and halves round to even. */
static void q_q8_0_act(const float *x, blk_q8_0 *b) {
  float amax = 0;
  for (int j = 0; j < QK; j++) amax = fmaxf(amax, fabsf(x[j]));
  float id = amax != 0 ? 127.0f / amax : 0;
  b->d = f32_to_fp16(amax / 127);
  for (int j = 0; j < QK; j++) b->qs[j] = (int8_t)clampi(nearest(x[j] * id), -127, 127);
}

static void q_q8_K(const float *x, blk_q8_K *b) {
  float amax = 0, max = 0;
  for (int j = 0; j < QK_K; j++)
    if (fabsf(x[j]) > amax) {
      amax = fabsf(x[j]);
      max = x[j];
    }
  memset(b, 0, sizeof *b);
  if (amax == 0) return;
  float iscale = -127.0f / max;
  for (int j = 0; j < QK_K; j++) b->qs[j] = (int8_t)clampi(nearest(iscale * x[j]), -128, 127);
  for (int g = 0; g < 16; g++) {
    int s = 0;
    for (int j = 0; j < 16; j++) s += b->qs[16 * g + j];
    b->bsums[g] = (int16_t)s;
  }
  b->d = 1 / iscale;
}

/* Affine K-quants: fits the nsub sub-blocks, quantizes their scales and mins to `bits` bits against
 * d and dmin, and returns the final integer values in L (0..nmax) and the scales in sc/mn. */
static void kquant_affine(const float *x, int nsub, int nmax, int smax, float *d_out,
                          float *dmin_out, uint8_t *sc, uint8_t *mn, uint8_t *L) {
  int sub = QK_K / nsub;
  float s[16], m[16], max_s = 0, max_m = 0;
  for (int j = 0; j < nsub; j++) {
    float mv;
    fit_affine(x + j * sub, sub, nmax, &s[j], &mv);
    m[j] = -mv;
    max_s = fmaxf(max_s, s[j]);
    max_m = fmaxf(max_m, m[j]);
  }
  float d = fp16_to_f32(f32_to_fp16(max_s / (float)smax)),
        dmin = fp16_to_f32(f32_to_fp16(max_m / (float)smax));
  for (int j = 0; j < nsub; j++) {
    sc[j] = (uint8_t)(d > 0 ? clampi(nearest(s[j] / d), 0, smax) : 0);
    mn[j] = (uint8_t)(dmin > 0 ? clampi(nearest(m[j] / dmin), 0, smax) : 0);
    float ds = d * sc[j], dm = dmin * mn[j];
    for (int i = 0; i < sub; i++)
      L[j * sub + i] = (uint8_t)(ds > 0 ? clampi(nearest((x[j * sub + i] + dm) / ds), 0, nmax) : 0);
  }
  *d_out = d;
  *dmin_out = dmin;
}

/* Symmetric K-quants (Q3_K, Q6_K): sub-blocks of 16; scales quantized to [-smax, smax - 1]. */
static float kquant_symmetric(const float *x, int nmax, int smax, int8_t *sc, int8_t *L) {
  float s[16], amax = 0, max = 0;
  for (int j = 0; j < 16; j++) {
    s[j] = fit_symmetric(x + 16 * j, 16, nmax);
    if (fabsf(s[j]) > amax) {
      amax = fabsf(s[j]);
      max = s[j];
    }
  }
  if (amax == 0) {
    memset(sc, 0, 16);
    memset(L, 0, QK_K);
    return 0;
  }
  float iscale = -(float)smax / max;
  float d = fp16_to_f32(f32_to_fp16(1 / iscale));
  for (int j = 0; j < 16; j++) {
    sc[j] = (int8_t)clampi(nearest(iscale * s[j]), -smax, smax - 1);
    float ds = d * sc[j];
    for (int i = 0; i < 16; i++)
      L[16 * j + i] = (int8_t)(ds != 0 ? clampi(nearest(x[16 * j + i] / ds), -nmax, nmax - 1) : 0);
  }
  return d;
}

static void pack_scales_k4(const uint8_t *sc, const uint8_t *mn, uint8_t *q) {
  memset(q, 0, 12);
  for (int j = 0; j < 8; j++) {
    if (j < 4) {
      q[j] |= sc[j] & 63;
      q[j + 4] |= mn[j] & 63;
    } else {
      q[j + 4] = (uint8_t)((sc[j] & 0xF) | ((mn[j] & 0xF) << 4));
      q[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
      q[j] |= (uint8_t)((mn[j] >> 4) << 6);
    }
  }
}

static void q_q4_K(const float *x, blk_q4_K *b) {
  uint8_t sc[8], mn[8], L[QK_K];
  float d, dmin;
  kquant_affine(x, 8, 15, 63, &d, &dmin, sc, mn, L);
  b->d = f32_to_fp16(d);
  b->dmin = f32_to_fp16(dmin);
  pack_scales_k4(sc, mn, b->scales);
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++)
      b->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
}

static void q_q5_K(const float *x, blk_q5_K *b) {
  uint8_t sc[8], mn[8], L[QK_K];
  float d, dmin;
  kquant_affine(x, 8, 31, 63, &d, &dmin, sc, mn, L);
  b->d = f32_to_fp16(d);
  b->dmin = f32_to_fp16(dmin);
  pack_scales_k4(sc, mn, b->scales);
  memset(b->qh, 0, sizeof b->qh);
  for (int c = 0; c < 4; c++)
    for (int l = 0; l < 32; l++) {
      int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
      b->qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
      b->qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
    }
}

static void q_q2_K(const float *x, blk_q2_K *b) {
  uint8_t sc[16], mn[16], L[QK_K];
  float d, dmin;
  kquant_affine(x, 16, 3, 15, &d, &dmin, sc, mn, L);
  b->d = f32_to_fp16(d);
  b->dmin = f32_to_fp16(dmin);
  for (int j = 0; j < 16; j++) b->scales[j] = (uint8_t)(sc[j] | (mn[j] << 4));
  memset(b->qs, 0, sizeof b->qs);
  for (int i = 0; i < QK_K; i++) {
    int h = i / 128, j = (i % 128) / 32, k = i % 32;
    b->qs[32 * h + k] |= (uint8_t)(L[i] << (2 * j));
  }
}

static void q_q3_K(const float *x, blk_q3_K *b) {
  int8_t sc[16], L[QK_K];
  b->d = f32_to_fp16(kquant_symmetric(x, 4, 32, sc, L));
  memset(b->scales, 0, sizeof b->scales);
  for (int i = 0; i < 16; i++) {
    int v = sc[i] + 32; /* 0..63 */
    if (i < 8)
      b->scales[i] |= (uint8_t)(v & 0xF);
    else
      b->scales[i - 8] |= (uint8_t)((v & 0xF) << 4);
    b->scales[8 + i % 4] |= (uint8_t)((v >> 4) << (2 * (i / 4)));
  }
  memset(b->qs, 0, sizeof b->qs);
  memset(b->hmask, 0, sizeof b->hmask);
  for (int i = 0; i < QK_K; i++) {
    int h = i / 128, j = (i % 128) / 32, k = i % 32, v = L[i] + 4; /* 0..7 */
    b->qs[32 * h + k] |= (uint8_t)((v & 3) << (2 * j));
    if (v > 3) b->hmask[k] |= (uint8_t)(1 << (4 * h + j));
  }
}

static void q_q6_K(const float *x, blk_q6_K *b) {
  int8_t sc[16], L[QK_K];
  b->d = f32_to_fp16(kquant_symmetric(x, 32, 128, sc, L));
  memcpy(b->scales, sc, 16);
  memset(b->ql, 0, sizeof b->ql);
  memset(b->qh, 0, sizeof b->qh);
  for (int i = 0; i < QK_K; i++) {
    int h = i / 128, g = (i % 128) / 32, l = i % 32, v = L[i] + 32; /* 0..63 */
    int qi = 64 * h + 32 * (g & 1) + l;
    b->ql[qi] |= (uint8_t)(g < 2 ? (v & 0xF) : (v & 0xF) << 4);
    b->qh[32 * h + l] |= (uint8_t)((v >> 4) << (2 * g));
  }
}

int quant_row(tensor_type type, const float *src, void *dst, int64_t n) {
  tensor_type_info ti = tensor_type_get((int)type);
  if (!ti.supported)
    return err_set(MIMIC_EUNSUPPORTED, "cannot quantize to type %s",
                   ti.name ? ti.name : "(unknown)");
  if (n < 0 || n % ti.block)
    return err_set(MIMIC_EINVAL, "row of %lld is not a multiple of the %s block size %d",
                   (long long)n, ti.name, ti.block);
  for (int64_t i = 0; i < n; i++)
    if (!isfinite(src[i]))
      return err_set(MIMIC_EINVAL, "cannot quantize to %s: element %lld is not finite", ti.name,
                     (long long)i);
  llm__quant_row_unchecked(type, src, dst, n);
  return 0;
}

void llm__quant_row_unchecked(tensor_type type, const float *src, void *dst, int64_t n) {
  tensor_type_info ti = tensor_type_get((int)type);
  uint8_t *p = dst;
  switch (type) {
  case TT_F32: memcpy(dst, src, (size_t)n * 4); return;
  case TT_F16:
    for (int64_t i = 0; i < n; i++) {
      uint16_t h = f32_to_fp16(src[i]);
      memcpy(p + 2 * i, &h, 2);
    }
    return;
  case TT_BF16:
    for (int64_t i = 0; i < n; i++) {
      uint16_t h = f32_to_bf16(src[i]);
      memcpy(p + 2 * i, &h, 2);
    }
    return;
  default: break;
  }
  int64_t nb = n / ti.block;
  for (int64_t i = 0; i < nb; i++) {
    void *b = p + (size_t)i * ti.block_bytes;
    const float *x = src + i * ti.block;
    switch (type) {
    case TT_Q4_0: q_q4_0(x, b); break;
    case TT_Q4_1: q_q4_1(x, b); break;
    case TT_Q5_0: q_q5_0(x, b); break;
    case TT_Q5_1: q_q5_1(x, b); break;
    case TT_Q8_0: q_q8_0(x, b); break;
    case TT_Q2_K: q_q2_K(x, b); break;
    case TT_Q3_K: q_q3_K(x, b); break;
    case TT_Q4_K: q_q4_K(x, b); break;
    case TT_Q5_K: q_q5_K(x, b); break;
    case TT_Q6_K: q_q6_K(x, b); break;
    case TT_Q8_K: q_q8_K(x, b); break;
    default: return;
    }
  }
}

/* The same two activation quantizers in AVX2, bit for bit: |x| maxima in vectors, products with
 * the same float multiplier, and vcvtps2dq rounding halves to even like lrintf() in the default
 * rounding mode. A decode step quantizes a few activation rows per matrix on one thread while the
 * others wait, so this is on the critical path (about 2% of a step in scalar code). */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

__attribute__((target("avx2"))) static inline float amax8(__m256 m) {
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  return _mm_cvtss_f32(h);
}

/* 8 floats times mul, rounded to int32 (halves to even). */
__attribute__((target("avx2"))) static inline __m256i round8(const float *x, __m256 mul) {
  return _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x), mul));
}

/* 32 int32 (in 4 vectors, element order) to int8 with saturation, in element order. */
__attribute__((target("avx2"))) static inline void pack32(int8_t *dst, __m256i a, __m256i b,
                                                          __m256i c, __m256i d) {
  __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
  __m256i q = _mm256_packs_epi16(ab, cd);
  q = _mm256_permutevar8x32_epi32(q, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
  _mm256_storeu_si256((__m256i *)(void *)dst, q);
}

__attribute__((target("avx2"))) static void q8_0_act_avx2(const float *x, blk_q8_0 *b, int64_t nb) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < nb; i++, x += QK) {
    __m256 m = _mm256_andnot_ps(sign, _mm256_loadu_ps(x));
    for (int k = 8; k < QK; k += 8)
      m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
    float amax = amax8(m);
    float id = amax != 0 ? 127.0f / amax : 0;
    b[i].d = f32_to_fp16(amax / 127);
    __m256 mul = _mm256_set1_ps(id);
    pack32(b[i].qs, round8(x, mul), round8(x + 8, mul), round8(x + 16, mul), round8(x + 24, mul));
  }
}

__attribute__((target("avx2"))) static void q8_K_act_avx2(const float *x, blk_q8_K *b, int64_t nb) {
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t i = 0; i < nb; i++, x += QK_K) {
    __m256 m = _mm256_setzero_ps();
    for (int k = 0; k < QK_K; k += 8)
      m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + k)));
    float amax = amax8(m);
    if (amax == 0) {
      memset(&b[i], 0, sizeof b[i]);
      continue;
    }
    /* The reference keeps the first element of largest magnitude, with its sign (bounded: a NaN
     * matches nothing). */
    int first = 0;
    while (first < QK_K - 1 && fabsf(x[first]) != amax) first++;
    float iscale = -127.0f / x[first];
    __m256 mul = _mm256_set1_ps(iscale);
    for (int k = 0; k < QK_K; k += 32) {
      __m256i q0 = round8(x + k, mul), q1 = round8(x + k + 8, mul), q2 = round8(x + k + 16, mul),
              q3 = round8(x + k + 24, mul);
      pack32(b[i].qs + k, q0, q1, q2, q3);
      /* bsums of the two groups of 16: sums of int32 lanes (exact), 8 + 8 values each. */
      __m256i s01 = _mm256_add_epi32(q0, q1), s23 = _mm256_add_epi32(q2, q3);
      __m256i h = _mm256_hadd_epi32(s01, s23); /* pairs, 128-bit halves apart */
      h = _mm256_hadd_epi32(h, h);
      __m128i g = _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
      b[i].bsums[k / 16] = (int16_t)_mm_cvtsi128_si32(g);
      b[i].bsums[k / 16 + 1] = (int16_t)_mm_extract_epi32(g, 1);
    }
    b[i].d = 1 / iscale;
  }
}

/* Called from every pool thread: __builtin_cpu_supports reads the CPU model the runtime filled in
 * at start-up, so there is no lazily cached flag to race on. */
static bool act_avx2(void) { return __builtin_cpu_supports("avx2"); }
#endif

void llm__quant_act_row(tensor_type type, const float *src, void *dst, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (type == TT_Q8_0 && act_avx2()) {
    q8_0_act_avx2(src, dst, n / QK);
    return;
  }
  if (type == TT_Q8_K && act_avx2()) {
    q8_K_act_avx2(src, dst, n / QK_K);
    return;
  }
#endif
  llm__quant_act_row_ref(type, src, dst, n);
}

void llm__quant_act_row_ref(tensor_type type, const float *src, void *dst, int64_t n) {
  if (type != TT_Q8_0) {
    llm__quant_row_unchecked(type, src, dst, n);
    return;
  }
  for (int64_t i = 0; i < n / QK; i++) q_q8_0_act(src + i * QK, (blk_q8_0 *)dst + i);
}
