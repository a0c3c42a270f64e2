/* Internals shared by the training files: the float GEMM every matrix product of training goes
 * through (forward, backward, LoRA), and the forward/backward kernels of the decoder's other
 * operations, each with its shapes stated. All F32, row-major, threaded over a compute_pool (which
 * may be NULL: single-threaded). Results never depend on the number of threads: every output
 * element is summed by one thread in a fixed order. Not a public header: other layers use train.h.
 */
#ifndef MIMIC_TRAIN_TRAIN_INT_H
#define MIMIC_TRAIN_TRAIN_INT_H
#include <stdbool.h>
#include <stdint.h>

#include "base/rng.h"
#include "llm/model.h"
#include "llm/quant.h"
#include "train/train.h"

/* ---- GEMM ------------------------------------------------------------------------------------
 * An operand is a logical matrix: element (i, k) is p[i*ld + k], or p[k*ld + i] when t (stored
 * transposed). The B operand may instead be a read-only weight matrix q (rows = out, cols = in, any
 * supported type, dequantized on the fly in block-aligned tiles, as QLoRA does): logical B is q
 * itself (K = q->rows, N = q->cols) when !t, or q transposed (K = q->cols, N = q->rows) when t. */
typedef struct train_mat {
  const float *p;
  int64_t ld;
  bool t;
  const qmat *q; /* B only */
} train_mat;

/* C (M, N) = alpha * A (M, K) · B (K, N), or C += ... when acc. C rows have stride ldc. */
void train__gemm(compute_pool *pool, int64_t M, int64_t N, int64_t K, train_mat A, train_mat B,
                 float alpha, float *C, int64_t ldc, bool acc);
/* Which micro-kernel runs: "avx512", "avx2" or "scalar" (the best the CPU has; MIMIC_KERNELS=scalar
 * or avx2 forces a lower one). */
const char *train__gemm_kernel(void);
/* Whether the step's AVX2 passes run (ops.c, lora.c): the GEMM's kernels are not the scalar ones.
 */
bool train__use_avx2(void);
/* Tests: switch to a kernel by name; false when the CPU lacks it. Not thread-safe. */
bool train__gemm_set_kernel(const char *name);

/* ---- Dequantizing a weight row (dequant.c): n values (a whole number of blocks) of src into dst,
 * the same floats as quant_dequant_row; AVX2 for Q5_0, Q8_0, Q4_K and Q6_K where the CPU has it
 * (train__dequant_fast says whether type has it), else that function. The GEMM's forced "scalar"
 * kernel keeps quant_dequant_row itself. */
void train__dequant_row(tensor_type type, const void *src, float *dst, int64_t n);
bool train__dequant_fast(tensor_type type);

/* ---- LoRA's adapter term as the engine adds it (lora.c): y (T, out) = y + s * (ax (T, r) B^T),
 * then + bias (out) when not NULL, each add rounded on its own, the product in the engine's tiled
 * float order, so the bits are qmat_mul's of an F32 B followed by those adds. Returns false and
 * does nothing unless r is a multiple of 16 (at most TRAIN_MAX_RANK) and out of 4 (the shapes
 * whose order it restates). AVX2 where the GEMM kernel is not forced to scalar; both give the same
 * bits. */
bool train__lora_add(compute_pool *pool, int T, int out, int r, const float *ax, const float *B,
                     float s, const float *bias, float *y);

/* ---- RMSNorm: y (T, n) = x / sqrt(mean(x^2) + eps) * w, as model.c computes it (squares summed in
 * double). rstd (T) receives 1 / sqrt(mean + eps) for the backward pass. */
void train__rmsnorm_fwd(int T, int n, const float *x, const float *w, float eps, float *y,
                        float *rstd);
/* dx (T, n) += d/dx; dw (n) += d/dw when dw is not NULL. */
void train__rmsnorm_bwd(int T, int n, const float *x, const float *w, const float *rstd,
                        const float *dy, float *dx, float *dw);

/* ---- RoPE (exactly as llm/model.c, NEOX or NORM pairing by the hparams): cs (T, n_rot) holds
 * cos/sin pairs for each row's position; x (T, n_heads * head_dim) is rotated in place. The
 * backward pass rotates the gradient by the opposite angle. */
void train__rope_cache(const llm_hparams *hp, const float *freq_factors, const int32_t *pos, int T,
                       float *cs);
void train__rope(const llm_hparams *hp, int T, int n_heads, const float *cs, float *x,
                 bool backward);

/* ---- Causal GQA attention over packed samples: row t attends to rows seg[t]..t (seg[t] = the
 * first row of t's sample, so samples never see each other). q (T, nh*hd), k and v (T, nkv*hd),
 * out (T, nh*hd); lse (T, nh) receives each softmax's log-sum-exp for the backward pass, which
 * recomputes the probabilities instead of storing T*T of them. */
typedef struct train_attn {
  int T, n_head, n_head_kv, head_dim;
  const int32_t *seg;
} train_attn;
void train__attn_fwd(compute_pool *pool, const train_attn *a, const float *q, const float *k,
                     const float *v, float *out, float *lse);
/* dq (T, nh*hd), dk, dv (T, nkv*hd) are overwritten. scratch: train__attn_scratch(a) floats. */
void train__attn_bwd(compute_pool *pool, const train_attn *a, const float *q, const float *k,
                     const float *v, const float *out, const float *lse, const float *dout,
                     float *dq, float *dk, float *dv, float *scratch);
size_t train__attn_scratch(const train_attn *a);

/* ---- SwiGLU: h (n) = silu(g) * u; backward: dg, du (n) overwritten from dh (du may be dh itself:
 * each element of dh is read before its du is written). */
void train__swiglu_fwd(int64_t n, const float *g, const float *u, float *h);
/* h again for the backward pass: AVX2 with the polynomial exponential (within ~2e-7 of the
 * forward's libm expf) where the GEMM kernel is not forced to scalar, else train__swiglu_fwd. */
void train__swiglu_bwd_h(int64_t n, const float *g, const float *u, float *h);
void train__swiglu_bwd(int64_t n, const float *g, const float *u, const float *dh, float *dg,
                       float *du);

/* ---- Activations kept for the backward pass at 16 bits: T rows of n floats x as IEEE halves h,
 * each row multiplied by a power of two (inv[t] receives its inverse) that brings its largest
 * magnitude under 2^15, so no finite value overflows; relative error 2^-11 down to 2^-38 below the
 * row's largest value (2^-24 below it for rows under 2^-85, whose scale is capped at 2^100).
 * half_get writes inv[t] * h back as floats. F16C where the CPU has it and the GEMM kernel is not
 * forced to scalar; both give the same bits. */
void train__half_put(compute_pool *pool, int T, int n, const float *x, uint16_t *h, float *inv);
void train__half_get(compute_pool *pool, int T, int n, const uint16_t *h, const float *inv,
                     float *y);

/* ---- Exponentials (AVX2 where the GEMM kernel is not forced to scalar): sum of exp(z - mx), and
 * z = scale * exp(z - sub) in place. */
double train__sum_exp(const float *z, int64_t n, float mx);
void train__exp_scale(float *z, int64_t n, float sub, float scale);
/* train__sum_exp(z, n, mx), then train__exp_scale(z, n, mx, scale), in one pass (each exponential
 * computed once): the same sum and the same z, bit for bit. */
double train__sum_exp_scale(float *z, int64_t n, float mx, float scale);

/* ---- Cross-entropy pieces over one logits row z (V): returns log p(target) and, when dz is not
 * NULL, writes dz = dlogp * (onehot(target) - softmax(z)) (the gradient of dlogp * log p). */
double train__logp_row(const float *z, int V, int target, float dlogp, float *dz);

/* ---- Seedable RNG: base's generator (base/rng.h), its state saved in checkpoints. */
typedef prng train_rng;
static inline void train__rng_seed(train_rng *r, uint64_t seed) { prng_seed(r, seed); }
static inline uint64_t train__rng_next(train_rng *r) { return prng_next(r); }
static inline double train__rng_uniform(train_rng *r) { return prng_uniform(r); } /* [0, 1) */
float train__rng_normal(train_rng *r); /* standard normal (Box-Muller) */

/* ---- One AdamW update of n weights (optim.c): g scaled by clip, moments m and v updated, w
 * decayed by keep and moved by lr * m^ / (sqrt(v^) + eps) with the bias corrections b1h, b2h. AVX2
 * where the GEMM kernel is not forced to scalar; both give the same bits. */
typedef struct train_adamw {
  float clip, b1, b2, b1h, b2h, eps, keep, lr;
} train_adamw;
void train__adamw(size_t n, float *w, const float *g, float *m, float *v, const train_adamw *a);

/* ---- Model fields the file code needs (model.c). */
int train__model_n_ctx(const train_model *m);
const gguf_file *train__model_vocab_file(const train_model *m); /* NULL: built-in vocabulary */
float train__model_lora_alpha(const train_model *m);
void train__model_set_lora_alpha(train_model *m, float alpha); /* rescales every adapted matrix */
/* Tests: the lm head's block of vocabulary columns (a positive multiple of 64, at most the
 * vocabulary; the default keeps a block of logits under 2 Mi floats). */
void train__model_set_head_block(train_model *m, int vb);

/* ---- The built-in byte-level vocabulary (vocab.c). */
int train__vocab_size(void);
int train__vocab_builtin(tokenizer **out) MIMIC_MUST;
void train__vocab_write(gguf_writer *w); /* every tokenizer.* key, chat template included */

#endif
