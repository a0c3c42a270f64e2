/* Internals shared by model.c and lora.c: the resolved weights of a model and an adapter. Not a
 * public header: other layers use model.h and lora.h. */
#ifndef MIMIC_LLM_MODEL_INT_H
#define MIMIC_LLM_MODEL_INT_H
#include <stdint.h>

#include "llm/lora.h"
#include "llm/model.h"

/* The adaptable weight matrices of one layer, in a fixed order. */
enum { LLM_W_Q, LLM_W_K, LLM_W_V, LLM_W_O, LLM_W_GATE, LLM_W_UP, LLM_W_DOWN, LLM_W_COUNT };
/* The GGUF name of weight w ("attn_q", ..., "ffn_down"). Inline, so that lora.c, which matches
 * adapter tensors by these names, does not call back into model.c (model.c calls lora.c). */
static inline const char *llm__w_name(int w) {
  static const char *const names[LLM_W_COUNT] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                                 "ffn_gate", "ffn_up", "ffn_down"};
  return w >= 0 && w < LLM_W_COUNT ? names[w] : "";
}

typedef struct llm_layer {
  const float *attn_norm, *ffn_norm; /* n_embd each */
  const float *bias[LLM_W_COUNT];    /* optional biases (qwen2: q, k, v); NULL when absent */
  qmat w[LLM_W_COUNT];               /* rows = out, cols = in */
} llm_layer;

struct llm_model {
  gguf_file *f;
  llm_hparams hp;
  qmat tok_embd; /* (n_vocab, n_embd) */
  qmat output;   /* (n_vocab, n_embd); the same as tok_embd when tied */
  const float *output_norm;
  const float *output_bias; /* may be NULL */
  const float *rope_freqs;  /* n_rot / 2 factors, may be NULL */
  llm_layer *layers;
  void **owned; /* 1-D tensors converted to F32 at load (non-F32 or misaligned) */
  int n_owned;
  size_t bytes_per_token;
};

/* One adapted matrix: A (rank, n_in) and B (n_out, rank); a.data == NULL when not adapted. */
typedef struct llm_lora_pair {
  qmat a, b;
  int rank;
} llm_lora_pair;

struct llm_lora {
  gguf_file *f;
  const llm_model *base;
  uint64_t id; /* unique per load, so slots never mistake a new adapter for an old one */
  float alpha;
  int max_rank;
  int n_adapted;
  llm_lora_pair *pairs; /* [n_layer * LLM_W_COUNT] */
  llm_lora_pair output; /* lm head (untied models only) */
};

/* The pair adapting layer il's matrix w (il == -1: the lm head), or NULL when not adapted. */
const llm_lora_pair *llm__lora_pair(const llm_lora *l, int il, int w);

/* Tests: context c's attention runs the portable worker (the same bits as the CPU's own, which
 * tests/llm/test_attention.c checks through this). */
void llm__ctx_plain_attention(llm_ctx *c);

#endif
