/* Internals shared by the encoder's files: the loaded model (load.c), the forward pass over a
 * packed batch (forward.c), the element-wise operations as ggml computes them (ops.c) and the
 * pooling (pool.c). Not a public header: other layers use embed.h. */
#ifndef MIMIC_EMBED_EMBED_INT_H
#define MIMIC_EMBED_EMBED_INT_H
#include <stdbool.h>
#include <stdint.h>

#include "embed/embed.h"
#include "llm/compute_pool.h"
#include "llm/gguf.h"
#include "llm/quant.h"
#include "llm/tokenizer.h"

#define EMBED_MAX_HEAD_DIM  256 /* attention head width the forward pass accepts */
#define EMBED_MAX_CTX       8192
#define EMBED_DEFAULT_BATCH 64   /* texts per forward pass when opts->max_batch is 0 */
#define EMBED_PASS_TOKENS   2048 /* tokens per forward pass (a longer single text runs alone) */

/* bert.pooling_type, as llama.cpp numbers it. */
typedef enum {
  EMBED_POOL_NONE = 0,
  EMBED_POOL_MEAN = 1,
  EMBED_POOL_CLS = 2,
  EMBED_POOL_LAST = 3,
  EMBED_POOL_RANK = 4
} embed_pool;

typedef struct embed_layer {
  qmat q, k, v, o, up, down; /* rows = out, cols = in */
  const float *bq, *bk, *bv, *bo, *bup, *bdown;
  const float *attn_norm_w, *attn_norm_b; /* attn_output_norm: after the attention residual */
  const float *out_norm_w, *out_norm_b;   /* layer_output_norm: after the FFN residual */
} embed_layer;

struct embed_model {
  gguf_file *f;
  tokenizer *tok;
  compute_pool *pool;
  char *name;
  int n_embd, n_layer, n_head, head_dim, n_ff, n_ctx, n_vocab;
  float eps;
  embed_pool pooling;
  int max_batch;
  qmat tok_embd, pos_embd; /* (n_vocab, n_embd), (n_ctx, n_embd) */
  const float *type_row0;  /* row 0 of token_types (every token is "sentence A"), or NULL */
  const float *embd_norm_w, *embd_norm_b;
  embed_layer *layers;
  void **owned; /* 1-D tensors converted to F32 at load */
  int n_owned;
  uint16_t *gelu_table; /* ggml's GELU on every half-precision value (65536) */
  bool fast;            /* the SIMD element-wise paths (false under MIMIC_KERNELS=scalar) */
  float *work;          /* the forward pass's activations, kept between calls (grown on demand) */
  size_t work_cap;      /* floats in work */
};

/* One packed forward pass: n_seq sequences, sequence s = tokens[off[s] .. off[s + 1]). Writes the
 * final hidden state of every token into hidden (off[n_seq] x n_embd). 0 or a negative code. */
int embed__forward(embed_model *m, const int32_t *tokens, const int *off, int n_seq, float *hidden);

/* ggml_norm followed by * w + b, on each of the T rows of x (n wide), in place. */
void embed__layer_norm(float *x, int64_t T, int n, const float *w, const float *b, float eps);
/* ggml's GELU (the tanh form, through its half-precision table) on n values in place. */
void embed__gelu(const embed_model *m, float *x, int64_t n);
/* Builds m->gelu_table. */
void embed__gelu_table(embed_model *m);

/* Pools sequence rows hidden[0..len) (n_embd wide) into out as the model says. */
void embed__pool(const embed_model *m, const float *hidden, int len, float *out);
/* Scales v (n values) to unit L2 length; a zero vector stays zero. */
void embed__normalize(float *v, int n);

#endif
