/* Internals shared by quant.c, kernels.c and the SIMD kernel files: the block layouts of the
 * quantized formats (ggml-compatible byte for byte), half/bfloat conversions, and the vec-dot
 * signatures. Not a public header: the model code uses quant.h. */
#ifndef MIMIC_LLM_KERNELS_INT_H
#define MIMIC_LLM_KERNELS_INT_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "llm/quant.h"

#define QK   32  /* elements per block of the 32-element formats */
#define QK_K 256 /* elements per super-block of the K-quants */

/* All blocks are packed byte structs (2-byte alignment at most), so arrays of them match the files.
 */
typedef struct {
  uint16_t d;
  uint8_t qs[16];
} blk_q4_0;
typedef struct {
  uint16_t d, m;
  uint8_t qs[16];
} blk_q4_1;
typedef struct {
  uint16_t d;
  uint8_t qh[4];
  uint8_t qs[16];
} blk_q5_0;
typedef struct {
  uint16_t d, m;
  uint8_t qh[4];
  uint8_t qs[16];
} blk_q5_1;
typedef struct {
  uint16_t d;
  int8_t qs[32];
} blk_q8_0;
typedef struct {
  uint8_t scales[16];
  uint8_t qs[64];
  uint16_t d, dmin;
} blk_q2_K;
typedef struct {
  uint8_t hmask[32];
  uint8_t qs[64];
  uint8_t scales[12];
  uint16_t d;
} blk_q3_K;
typedef struct {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qs[128];
} blk_q4_K;
typedef struct {
  uint16_t d, dmin;
  uint8_t scales[12];
  uint8_t qh[32];
  uint8_t qs[128];
} blk_q5_K;
typedef struct {
  uint8_t ql[128];
  uint8_t qh[64];
  int8_t scales[16];
  uint16_t d;
} blk_q6_K;
typedef struct {
  float d;
  int8_t qs[256];
  int16_t bsums[16];
} blk_q8_K;

_Static_assert(sizeof(blk_q4_0) == 18, "q4_0");
_Static_assert(sizeof(blk_q4_1) == 20, "q4_1");
_Static_assert(sizeof(blk_q5_0) == 22, "q5_0");
_Static_assert(sizeof(blk_q5_1) == 24, "q5_1");
_Static_assert(sizeof(blk_q8_0) == 34, "q8_0");
_Static_assert(sizeof(blk_q2_K) == 84, "q2_K");
_Static_assert(sizeof(blk_q3_K) == 110, "q3_K");
_Static_assert(sizeof(blk_q4_K) == 144, "q4_K");
_Static_assert(sizeof(blk_q5_K) == 176, "q5_K");
_Static_assert(sizeof(blk_q6_K) == 210, "q6_K");
_Static_assert(sizeof(blk_q8_K) == 292, "q8_K");

/* The half/bfloat conversions under the kernels' short names (quant.h has them for every layer). */
static inline float fp16_to_f32(uint16_t h) { return quant_fp16_to_f32(h); }
static inline uint16_t f32_to_fp16(float f) { return quant_f32_to_fp16(f); }
static inline float bf16_to_f32(uint16_t h) { return quant_bf16_to_f32(h); }
static inline uint16_t f32_to_bf16(float f) { return quant_f32_to_bf16(f); }

/* ((a0+a4)+(a2+a6)) + ((a1+a5)+(a3+a7)): an 8-lane register reduced the way the kernels and
 * llama.cpp's AVX2 code reduce one, so scalar code that keeps 8 lanes gives the same bits. */
static inline float llm__hsum8(const float a[8]) {
  float b0 = a[0] + a[4], b1 = a[1] + a[5], b2 = a[2] + a[6], b3 = a[3] + a[7];
  return (b0 + b2) + (b1 + b3);
}

/* A 16-lane register reduced as _mm512_reduce_add_ps does (both GCC's and clang's): halves added,
 * then quarters, then ((l0+l2)+(l1+l3)) of what is left. llama.cpp's AVX-512 build reduces its
 * 16-lane float accumulators this way; its reference logits carry that order. */
static inline float llm__hsum16(const float a[16]) {
  float t[8], u[4];
  for (int l = 0; l < 8; l++) t[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; l++) u[l] = t[l] + t[l + 4];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

/* ggml_vec_dot_f32 of an AVX-512 build: four 16-lane chains of fused multiply-adds over runs of 64
 * values (run r, value 16 j + l on chain j, lane l), combined as (c0 + c2) + (c1 + c3), reduced
 * with llm__hsum16; the n % 64 values left are added to that in float, each product rounded
 * first (not fused). llama.cpp's attention scores and its untiled float matmuls (a LoRA B of
 * rank 8 is all tail). */
static inline __attribute__((always_inline)) float llm__dot_f32_untiled(const float *x,
                                                                        const float *y, int64_t n) {
  float c[4][16] = {{0}};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64)
    for (int j = 0; j < 4; j++)
      for (int l = 0; l < 16; l++) c[j][l] = fmaf(x[i + 16 * j + l], y[i + 16 * j + l], c[j][l]);
  for (int l = 0; l < 16; l++) c[0][l] = (c[0][l] + c[2][l]) + (c[1][l] + c[3][l]);
  float s = llm__hsum16(c[0]);
  for (; i < n; i++) {
    float p = x[i] * y[i]; /* its own statement: no compiler may fuse it with the sum */
    s += p;
  }
  return s;
}

/* quant_row without argument checks (n a multiple of the block; non-finite input gives garbage,
 * never undefined behaviour). Used for activations on the hot path. */
void llm__quant_row_unchecked(tensor_type type, const float *src, void *dst, int64_t n);
/* The same for activation rows (the companion types of llm__act_type): Q8_0 follows ggml's
 * activation quantizer, which rounds a few values differently from its weight quantizer. */
void llm__quant_act_row(tensor_type type, const float *src, void *dst, int64_t n);
/* Its scalar reference; llm__quant_act_row gives the same bytes on every CPU (test_quant). */
void llm__quant_act_row_ref(tensor_type type, const float *src, void *dst, int64_t n);

/* Dot product of one weight row (n elements of the weight type) with one activation row already
 * converted to the weight's companion type (llm__act_type). */
typedef float (*vec_dot_fn)(const void *w, const void *a, int64_t n);

/* The activation type a weight type's dot product takes: F32, F16, BF16, Q8_0 or Q8_K. */
tensor_type llm__act_type(tensor_type wtype);
/* Scalar reference dot for weight type t (NULL if unsupported). */
vec_dot_fn llm__dot_scalar(tensor_type t);

/* The selected (fastest allowed) dot for weight type t; NULL if unsupported. */
vec_dot_fn llm__dot(tensor_type t);
/* Dot for a weight matrix w (rows x cols of w->type): llm__dot, except for the float types, whose
 * order follows the shape as llama.cpp's does. Its tiled matrix multiplication (the reference
 * logits' order) takes float weights whose row count is a multiple of 4 and whose width is a
 * multiple of 16 (BF16: 32): one 16-lane chain per output, reduced as llm__hsum16 (llm__dot).
 * Other shapes (a vocabulary of 151,665 rows, a LoRA B of rank 8) go through its untiled dot
 * (llm__untiled true, llm__dot_untiled). */
vec_dot_fn llm__dot_for(const qmat *w);
bool llm__untiled(const qmat *w);
/* ggml's untiled float dots (ggml_vec_dot_f32/f16/bf16 in an AVX-512 build; for F32
 * llm__dot_f32_untiled). NULL for the other types. */
vec_dot_fn llm__dot_untiled(tensor_type t);
vec_dot_fn llm__dot_untiled_scalar(tensor_type t);

/* Per-thread scratch memory, one block of each kind, grown on demand and kept for the next call
 * (never shrunk); freed at thread exit, or now by llm__scratch_release. */
typedef enum {
  LLM_SCRATCH_ACT,
  LLM_SCRATCH_ATTN,
  LLM_SCRATCH_PACK, /* packed weight strips (llm_gemm8) */
  LLM_SCRATCH_GEMM, /* gemm_float.c: a thread's weight panel and partial sums */
  LLM_SCRATCH_COUNT
} llm_scratch_kind;
void *llm__scratch(llm_scratch_kind which, size_t n);
void llm__scratch_release(void);

/* Dots of one weight row with four activation rows a, a + stride, a + 2 stride, a + 3 stride
 * (bytes) into out[0..3]: the weight block is decoded once for all four (prompt processing). */
typedef void (*vec_dot4_fn)(const void *w, const void *a, size_t stride, int64_t n, float out[4]);
/* The selected four-row dot for weight type t, or NULL (then qmat_mul uses vec_dot per row). */
vec_dot4_fn llm__dot4(tensor_type t);

/* Dots of four weight rows w, w + wstride, w + 2 wstride, w + 3 wstride (bytes) with one
 * activation row a into out[0..3] (generation). For the 32-value formats: their one-row dot is one
 * chain of dependent fused multiply-adds, one per 32 values (the reference's order), so it is bound
 * by the FMA latency, not by memory; four rows are four independent chains. */
typedef void (*vec_dot4w_fn)(const void *w, size_t wstride, const void *a, int64_t n, float out[4]);
/* The selected four-weight-row dot for weight type t, or NULL (then qmat_mul uses vec_dot). */
vec_dot4w_fn llm__dot4w(tensor_type t);

/* Dots of four weight rows w + r wstride with four activation rows a + q astride (bytes, r and q
 * 0..3) into out[4 q + r]: a tile of 16 outputs, each weight block and activation block decoded
 * once for it (prompts). out + 4 q is activation row q's four outputs, in weight-row order. */
typedef void (*vec_dot4x4_fn)(const void *w, size_t wstride, const void *a, size_t astride,
                              int64_t n, float out[16]);

/* Packed strips of eight weight rows (prompts): pack copies rows w + r wstride (r 0..7) of n
 * values into dst (bytes(n) of them) in the layout gemm takes; gemm then computes those rows'
 * dots with four activation rows a + q astride into out[8 q + r], each with the bits of the
 * order's scalar reference (llm__dot_order_scalar). The packing is paid once per strip and
 * repaid over a prompt's tokens. */
typedef struct llm_gemm8 {
  size_t (*bytes)(int64_t n);
  void (*pack)(const void *w, size_t wstride, int64_t n, void *dst);
  void (*gemm)(const void *packed, const void *a, size_t astride, int64_t n, float out[32]);
} llm_gemm8;

/* The float order of a weight's products. llama.cpp's x86 build "repacks" Q4_0 and Q4_K weights
 * whose row count is a multiple of 8 at load and multiplies them with kernels of their own order
 * (docs/internals/kernels.md): with T tokens in one product, the first T - T % 4 go through its
 * gemm when T > 3, the others through its gemv. Q4_K's two orders differ (gemv: one fused
 * multiply-add per 256 values on the super-block's exact integer sum; gemm: one per 64 values);
 * Q4_0's are the same (one per 32 values). Every other weight is PLAIN (llm__dot). */
typedef enum { LLM_ORDER_PLAIN, LLM_ORDER_GEMV, LLM_ORDER_GEMM } llm_order;
/* True when w is a weight llama.cpp repacks (Q4_0 / Q4_K with rows % 8 == 0). */
bool llm__repacked(const qmat *w);
/* How many leading tokens of a T-token product with a repacked weight take the GEMM order (the
 * first T - T % 4 when T > 3, else none); the rest take GEMV. */
int64_t llm__gemm_tokens(int64_t T);
/* qmat_mul_multi with the split chosen by the caller: tokens [0, t4) take a repacked weight's GEMM
 * order and the rest its GEMV order; t4 is a multiple of 4 in [0, T], or -1 for
 * llm__gemm_tokens(T) (what qmat_mul_multi does). Lets rows of several conversations share one
 * product while each keeps the order it would have alone (model.c, llm_forward_mixed). Other
 * weights do not depend on the split. */
void llm__qmat_mul_split(compute_pool *p, int n, const qmat *const *w, const float *x,
                         float *const *y, int64_t T, int64_t t4);
/* Scalar reference of an order for weight type t (PLAIN: llm__dot_scalar); NULL if none. */
vec_dot_fn llm__dot_order_scalar(tensor_type t, llm_order o);
/* The selected dot and four-weight-row dot of an order (PLAIN: llm__dot, llm__dot4w). */
vec_dot_fn llm__dot_order(tensor_type t, llm_order o);
vec_dot4w_fn llm__dot4w_order(tensor_type t, llm_order o);
/* The selected four-activation-row dot of an order (PLAIN: llm__dot4), or NULL. */
vec_dot4_fn llm__dot4_order(tensor_type t, llm_order o);
/* The selected 4x4 dot of a repacked order, or NULL (PLAIN: always NULL). Each output has the
 * bits of llm__dot_order_scalar(t, o). */
vec_dot4x4_fn llm__dot4x4_order(tensor_type t, llm_order o);
/* The selected packed eight-row kernels of an order, or NULL (then dot4x4, or for PLAIN dot4).
 * PLAIN strips exist where the AVX-512 set has no four-row kernel for the type. */
const llm_gemm8 *llm__gemm8_order(tensor_type t, llm_order o);

/* Kernel sets. Each returns NULL for a type it does not accelerate. */
vec_dot_fn llm__dot_avx2(tensor_type t);
vec_dot_fn llm__dot_untiled_avx2(tensor_type t);
vec_dot_fn llm__dot_avx512(tensor_type t);
vec_dot4_fn llm__dot4_avx2(tensor_type t);
vec_dot4_fn llm__dot4_avx512(tensor_type t);
vec_dot4w_fn llm__dot4w_avx2(tensor_type t);
/* The AVX2 four-weight-row dots of kernels_avx2_gemv.c (Q5_K, Q6_K, Q8_0), NULL for others. */
vec_dot4w_fn llm__dot4w_gemv_avx2(tensor_type t);
/* Its four-weight-row dots of the repacked orders (Q4_K gemv, Q4_0), NULL for the others. */
vec_dot4w_fn llm__dot4w_gemv_order_avx2(tensor_type t, llm_order o);
vec_dot4w_fn llm__dot4w_avx512(tensor_type t);
/* The repacked orders (GEMV / GEMM) of a set; NULL where the set has none. */
vec_dot_fn llm__dot_order_avx2(tensor_type t, llm_order o);
vec_dot_fn llm__dot_order_avx512(tensor_type t, llm_order o);
vec_dot4w_fn llm__dot4w_order_avx2(tensor_type t, llm_order o);
vec_dot4w_fn llm__dot4w_order_avx512(tensor_type t, llm_order o);
vec_dot4_fn llm__dot4_order_avx512(tensor_type t, llm_order o);
vec_dot4x4_fn llm__dot4x4_order_avx2(tensor_type t, llm_order o);
const llm_gemm8 *llm__gemm8_order_avx2(tensor_type t, llm_order o);
/* The plain order's strips (Q6_K, Q5_K, Q8_0, Q5_0: kernels_avx2_gemm8.c), reached through
 * llm__gemm8_order_avx2(t, LLM_ORDER_PLAIN). */
const llm_gemm8 *llm__gemm8_plain_avx2(tensor_type t);
vec_dot4x4_fn llm__dot4x4_order_avx512(tensor_type t, llm_order o);

/* Float weights (F32, F16, BF16, tiled shapes) with many activation rows: a packed, register-tiled
 * product with the tiled order's bits (gemm_float.c). A set is its micro-kernel and conversions:
 * kern: out[GF_MR][GF_NR] = for each of GF_MR tokens and GF_NR weight rows, one fused multiply-add
 * chain over the D steps of wp (D x GF_NR floats) and xp (D x GF_MR floats), from zero (acc 0)
 * or from out's values (acc 1: a chain continued across chunks of steps);
 * pack: a panel of weight rows src[0, nr) (row_bytes apart, nr <= GF_NR; rows nr.. zero) to
 * float, lane l's step s of row q at wp[(l D + s) GF_NR + q], the step's k as the tiled order
 * gives it to lane l (F32/F16: 16 s + l; BF16: 32 (s / 2) + 2 l, plus 1 for even s);
 * act: an activation row rounded to type t's companion and back;
 * reduce: out[GF_MR x GF_NR] = the sixteen lanes' outputs part[l][GF_MR x GF_NR] reduced as
 * llm__hsum16 reduces a register. */
#define GF_MR 6
#define GF_NR 16
typedef struct llm_gemm_ops {
  const char *name;
  void (*kern)(const float *wp, const float *xp, int64_t D, float *out, int acc);
  void (*pack)(tensor_type t, const void *src, size_t row_bytes, int nr, int64_t D, float *wp);
  void (*act)(tensor_type t, const float *src, float *dst, int64_t n);
  void (*reduce)(const float *part, float *out);
} llm_gemm_ops;
typedef enum { LLM_GEMM_PORTABLE, LLM_GEMM_AVX2 } llm_gemm_set;
/* A set by name, or NULL where this CPU or build lacks it. */
const llm_gemm_ops *llm__gemm_ops(llm_gemm_set which);
const llm_gemm_ops *llm__gemm_ops_avx2(void);
/* y[k] = x . w[k]^T as qmat_mul_multi, through the set for kernel level `level`
 * (qmat_kernels_name), with scratch memory from `scratch` (llm__scratch; passed in, so that
 * gemm_float.c calls nothing of kernels.c); false (nothing written) when it does not apply: too few
 * rows T, a type other than F32/F16/BF16, an untiled shape (llm__untiled), matrices of different
 * types or widths, or no set for this level. llm__gemm_float_with takes the set (tests); it ignores
 * the minimum T. */
typedef void *(*llm_scratch_fn)(llm_scratch_kind which, size_t n);
bool llm__gemm_float(compute_pool *pool, int n, const qmat *const *w, const float *x,
                     float *const *y, int64_t T, const char *level, llm_scratch_fn scratch);
bool llm__gemm_float_with(const llm_gemm_ops *ops, llm_scratch_fn scratch, compute_pool *pool,
                          int n, const qmat *const *w, const float *x, float *const *y, int64_t T);

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* llm__dot_f32_untiled in AVX2, the same bits: the four 16-lane chains as eight named 8-lane
 * registers (an array of them went to the stack once inlined into the attention). The AVX2 set's
 * untiled F32 dot, and the attention's scores. */
__attribute__((target("avx2,fma"))) static inline float
llm__dot_f32_untiled_avx2(const float *x, const float *y, int64_t n) {
  __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) {
#define UNTILED_FMA(c, r)                                                                          \
  c = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * r), _mm256_loadu_ps(y + i + 8 * r), c)
    UNTILED_FMA(c0, 0);
    UNTILED_FMA(c1, 1);
    UNTILED_FMA(c2, 2);
    UNTILED_FMA(c3, 3);
    UNTILED_FMA(c4, 4);
    UNTILED_FMA(c5, 5);
    UNTILED_FMA(c6, 6);
    UNTILED_FMA(c7, 7);
#undef UNTILED_FMA
  }
  __m256 lo = _mm256_add_ps(_mm256_add_ps(c0, c4), _mm256_add_ps(c2, c6));
  __m256 hi = _mm256_add_ps(_mm256_add_ps(c1, c5), _mm256_add_ps(c3, c7));
  __m256 t = _mm256_add_ps(lo, hi);
  __m128 u = _mm_add_ps(_mm256_castps256_ps128(t), _mm256_extractf128_ps(t, 1));
  u = _mm_add_ps(u, _mm_movehl_ps(u, u));
  float s = _mm_cvtss_f32(_mm_add_ss(u, _mm_movehdup_ps(u)));
  for (; i < n; i++) {
    float p = x[i] * y[i];
    s += p;
  }
  return s;
}
#endif

/* The forward-pass profile's hooks (profile.h), for model.c and kernels.c. Each use is guarded by
 * LLM_PROF_ON, a relaxed load, so a profile that is off costs one branch. t0 values come from
 * llm__prof_now (0 when the profile is off). */
#include <stdatomic.h>
extern atomic_int llm__prof_on;
#define LLM_PROF_ON() (atomic_load_explicit(&llm__prof_on, memory_order_relaxed) != 0)
#define LLM_PROF_T0() (LLM_PROF_ON() ? llm__prof_now() : 0)
uint64_t llm__prof_now(void);
void llm__prof_wall(int cat, uint64_t t0);       /* wall time since t0 to category cat */
void llm__prof_mm_busy(int type, uint64_t ns);   /* a thread's busy time in a matrix kernel */
void llm__prof_attn_busy(uint64_t ns);           /* a thread's busy time in attention */
void llm__prof_par(uint64_t t0, int nth);        /* a parallel section since t0 on nth threads */
void llm__prof_forward(uint64_t t0, int tokens); /* a forward pass since t0 */

#endif
