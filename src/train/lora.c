/* LoRA's adapter term in the forward pass, y += s * (A x~) B^T (+ bias), computed in the engine's
 * order without the engine's general float product: with rank 16 that product is one
 * multiply-add deep per lane, so the engine's packing and sixteen-lane reduction (made for deep
 * products) cost more than the arithmetic; here the products, the tree and the two adds run in
 * registers, eight outputs at a time. Not here: the A product (qmat_mul), the backward pass
 * (model.c's lin_bwd through the GEMM).
 *
 * The order, restated from the engine (llm/gemm_float.c, llm/kernels_int.h): qmat_mul of an F32
 * matrix whose rows are a multiple of 4 and width a multiple of 16 (the tiled order) gives output
 * (t, o) sixteen lane accumulators, lane l a chain of fused multiply-adds from +0 over k = 16 i +
 * l, reduced as llm__hsum16 does: t_l = a_l + a_(l+8), u_l = t_l + t_(l+4), (u_0 + u_2) + (u_1 +
 * u_3). model.c then adds s times that to y, then the bias, each rounded on its own. Other shapes
 * go through qmat_mul (train__lora_add returns false). tests/train/test_grad.c checks both
 * versions against qmat_mul and the adds. */
#include <math.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "train/train_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

typedef struct lora_job {
  int T, out, r;
  const float *ax, *B, *bias;
  float s;
  float *y;
  const float *bt; /* B lane by lane for the AVX2 version: group g of 8 outputs at bt + g * 8 r,
                      value k of output 8 g + q at [k * 8 + q]; NULL: the reference runs */
} lora_job;

static float hsum16(const float a[16]) {
  float t[8], u[4];
  for (int l = 0; l < 8; l++) t[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; l++) u[l] = t[l] + t[l + 4];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

/* Rows [t0, t1), outputs [o0, o1): the reference. */
static void lora_rows_c(const lora_job *j, int t0, int t1, int o0, int o1) {
  for (int t = t0; t < t1; t++) {
    const float *x = j->ax + (size_t)t * j->r;
    float *y = j->y + (size_t)t * j->out;
    for (int o = o0; o < o1; o++) {
      const float *w = j->B + (size_t)o * j->r;
      float a[16] = {0};
      for (int i = 0; i < j->r; i += 16)
        for (int l = 0; l < 16; l++) a[l] = fmaf(w[i + l], x[i + l], a[l]);
      float p = j->s * hsum16(a);
      y[o] = y[o] + p;
      if (j->bias) y[o] = y[o] + j->bias[o];
    }
  }
}

#ifdef HAVE_X86
/* Rows [t0, t1), outputs [0, o8) (a multiple of 8): row by row, each group of eight outputs'
 * sixteen lane vectors (one output per float) formed and reduced in the tree's order, so y streams
 * through once in order (visiting eight rows at a time per group missed the cache on y: most of the
 * time) and the lane-major weights come from L2. The adds are separate instructions: this file is
 * built as ISO C, which contracts nothing. */
__attribute__((target("avx2,fma"))) static void lora_rows_avx2(const lora_job *j, int t0, int t1,
                                                               int o8) {
  int r = j->r;
  __m256 sv = _mm256_set1_ps(j->s);
  for (int t = t0; t < t1; t++) {
    const float *x = j->ax + (size_t)t * r;
    float *yt = j->y + (size_t)t * j->out;
    for (int og = 0; og < o8; og += 8) {
      const float *wt = j->bt + (size_t)og * r;
      __m256 a[16];
      for (int l = 0; l < 16; l++)
        a[l] = _mm256_fmadd_ps(_mm256_loadu_ps(wt + l * 8), _mm256_broadcast_ss(x + l),
                               _mm256_setzero_ps());
      for (int i = 16; i < r; i += 16)
        for (int l = 0; l < 16; l++)
          a[l] = _mm256_fmadd_ps(_mm256_loadu_ps(wt + (i + l) * 8), _mm256_broadcast_ss(x + i + l),
                                 a[l]);
      for (int l = 0; l < 8; l++) a[l] = _mm256_add_ps(a[l], a[l + 8]);
      for (int l = 0; l < 4; l++) a[l] = _mm256_add_ps(a[l], a[l + 4]);
      __m256 p = _mm256_add_ps(_mm256_add_ps(a[0], a[2]), _mm256_add_ps(a[1], a[3]));
      __m256 v = _mm256_add_ps(_mm256_loadu_ps(yt + og), _mm256_mul_ps(sv, p));
      if (j->bias) v = _mm256_add_ps(v, _mm256_loadu_ps(j->bias + og));
      _mm256_storeu_ps(yt + og, v);
    }
  }
}
#endif

/* Blocks of LORA_ROWS rows [b, e): all outputs. */
#define LORA_ROWS 8

static void lora_chunk(void *arg, int64_t b, int64_t e) {
  const lora_job *j = arg;
  int t0 = (int)b * LORA_ROWS, t1 = (int)e * LORA_ROWS < j->T ? (int)e * LORA_ROWS : j->T;
  int o8 = 0;
#ifdef HAVE_X86
  if (j->bt) {
    o8 = j->out / 8 * 8;
    lora_rows_avx2(j, t0, t1, o8);
  }
#endif
  if (o8 < j->out) lora_rows_c(j, t0, t1, o8, j->out);
}

bool train__lora_add(compute_pool *pool, int T, int out, int r, const float *ax, const float *B,
                     float s, const float *bias, float *y) {
  if (r <= 0 || r % 16 || r > TRAIN_MAX_RANK || out <= 0 || out % 4) return false;
  MIMIC_ASSERT(T >= 0 && ax && B && y);
  lora_job j = {T, out, r, ax, B, bias, s, y, NULL};
  float *bt = NULL;
  int o8 = out / 8 * 8;
  if (train__use_avx2() && o8 > 0) {
    bt = mem_alloc((size_t)o8 * (size_t)r * sizeof(float));
    if (!bt) return false; /* qmat_mul's way then */
    for (int og = 0; og < o8; og += 8)
      for (int k = 0; k < r; k++)
        for (int q = 0; q < 8; q++) bt[(size_t)og * r + k * 8 + q] = B[(size_t)(og + q) * r + k];
    j.bt = bt;
  }
  int64_t blocks = (T + LORA_ROWS - 1) / LORA_ROWS;
  int nth = compute_pool_threads(pool);
  compute_pool_for(pool, blocks, (blocks + 4 * nth - 1) / (4 * nth), lora_chunk, &j);
  mem_free(bt);
  return true;
}
