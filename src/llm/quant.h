/* Tensor types: block layouts, dequantization, quantization, and the matrix kernels the model
 * uses. Every fast (SIMD) kernel has a scalar reference kept forever; the variant is chosen at run
 * time from the CPU's features (AVX-512/VNNI, AVX2+FMA, scalar). Activations that meet a quantized
 * weight are quantized the way the format intends (Q8_0 for Q4_0/Q4_1/Q5_x/Q8_0, Q8_K for the
 * K-quants), and rounded to F16/BF16 for those weights, matching llama.cpp's reference numbers. */
#ifndef MIMIC_LLM_QUANT_H
#define MIMIC_LLM_QUANT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "base/err.h"
#include "llm/compute_pool.h"
#include "llm/gguf.h"

/* IEEE binary16 <-> binary32, exact, round-to-nearest-even on the way down, total over every value
 * (infinities and NaN included), as F16C and ggml's reference; bfloat16 likewise (a NaN stays a
 * quiet NaN). Inline: kernels call them per element. */
static inline float quant_fp16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
  if (exp == 0x1F) {
    bits = sign | 0x7F800000u | (man << 13);
  } else if (exp) {
    bits = sign | ((exp + 112) << 23) | (man << 13);
  } else if (man) { /* subnormal: normalise */
    int e = -1;
    do {
      man <<= 1;
      e++;
    } while (!(man & 0x400));
    bits = sign | ((uint32_t)(112 - e) << 23) | ((man & 0x3FF) << 13);
  } else {
    bits = sign;
  }
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t quant_f32_to_fp16(float f) {
  uint32_t x;
  memcpy(&x, &f, 4);
  uint32_t sign = (x >> 16) & 0x8000, ax = x & 0x7FFFFFFFu;
  if (ax >= 0x7F800000u) return (uint16_t)(sign | 0x7C00 | (ax > 0x7F800000u ? 0x200 : 0));
  if (ax >= 0x477FF000u) return (uint16_t)(sign | 0x7C00); /* rounds to >= 65520: infinity */
  if (ax < 0x38800000u) {                                  /* result is subnormal or zero */
    if (ax < 0x33000000u) return (uint16_t)sign;           /* < half the smallest subnormal */
    uint32_t e = ax >> 23, m = (ax & 0x7FFFFF) | 0x800000;
    uint32_t shift = 126 - e; /* 14..24 */
    uint32_t r = m >> shift, rem = m & ((1u << shift) - 1), halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (r & 1))) r++;
    return (uint16_t)(sign | r);
  }
  uint32_t r = ((ax - 0x38000000u) >> 13), rem = ax & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++;
  return (uint16_t)(sign | r);
}

static inline float quant_bf16_to_f32(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

static inline uint16_t quant_f32_to_bf16(float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 64); /* quiet NaN */
  return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

typedef struct tensor_type_info {
  const char *name;   /* "Q4_K" */
  int block;          /* elements per block (1 for F32/F16/BF16) */
  size_t block_bytes; /* bytes per block */
  bool supported;     /* mimic can compute with it */
} tensor_type_info;

/* Info for a type id (any value; unknown ids give {NULL,0,0,false}). */
tensor_type_info tensor_type_get(int type);
/* Bytes of one row of n elements (n must be a multiple of the block size). */
size_t tensor_row_bytes(tensor_type type, int64_t n);

/* Converts n elements (a multiple of the block size) of row src to float. */
void quant_dequant_row(tensor_type type, const void *src, float *dst, int64_t n);
/* Quantizes n floats into dst (row_bytes(type, n) bytes). Supported for every type above. */
int quant_row(tensor_type type, const float *src, void *dst, int64_t n) MIMIC_MUST;

/* A read-only weight matrix W of shape (rows=out, cols=in), each row contiguous in its type. */
typedef struct qmat {
  tensor_type type;
  int64_t rows, cols;
  const void *data;
  size_t row_bytes;
} qmat;

/* y (T, rows) = x (T, cols) · W^T, in float. x rows are contiguous (stride cols); y rows have
 * stride rows. Activations are quantized to W's companion type internally (scratch: a
 * per-calling-thread buffer, freed at thread exit). Rows of W are split over the pool (may be NULL:
 * single thread); every y element is computed by one thread, so results do not depend on the thread
 * count. With several activation rows each decoded weight block is reused across them: four rows
 * at a time, Q4_K/Q4_0 in packed eight-row strips from 32 rows, float weights (F32/F16/BF16) in
 * packed register tiles from 16 rows (docs/internals/kernels.md); every path gives the same bits.
 * Unsupported W types leave y untouched. */
void qmat_mul(compute_pool *p, const qmat *w, const float *x, float *y, int64_t T);
/* y[k] = x · w[k]^T for n matrices with the same number of columns, in one parallel section (the
 * activations are converted once when the matrices share a companion type, e.g. q/k/v or gate/up
 * of a layer), which saves a pool synchronisation per matrix. Same contract as qmat_mul otherwise;
 * results are identical to n qmat_mul calls. */
void qmat_mul_multi(compute_pool *p, int n, const qmat *const *w, const float *x, float *const *y,
                    int64_t T);

/* ggml's untiled float dot of x and y (n values), as an AVX-512 build of llama.cpp computes
 * ggml_vec_dot_f32: four 16-lane chains of fused multiply-adds over runs of 64, then the n % 64
 * left added one rounded product at a time. The order llama.cpp's attention scores take (q . k,
 * where the keys are a permuted view); the selected kernel set's version, the same bits on every
 * set. For encoders outside llm that follow llama.cpp's graphs (embed/). */
float qmat_dot_f32(const float *x, const float *y, int64_t n);

/* Which kernel set was selected ("avx512vnni", "avx2", "scalar"); MIMIC_KERNELS=scalar|avx2 in
 * the environment forces a lower one (tests use it to compare variants). */
const char *qmat_kernels_name(void);

#endif
