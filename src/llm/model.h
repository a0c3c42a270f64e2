/* Model architectures (qwen2, llama): hyper-parameters and weights resolved over a mapped GGUF file
 * (nothing is copied or converted at load), the run-state context with its KV cache slots (one per
 * conversation), and the forward pass: tokens in, logits out, optionally through a LoRA adapter
 * (lora.h). Not here: tokenization (tokenizer.h), sampling (sampler.h), request scheduling
 * (engine).
 *
 * Threads: a loaded llm_model and llm_lora are read-only and may be shared by any number of
 * contexts on any threads. An llm_ctx is used by one thread at a time; its matrix work runs on the
 * compute_pool it was given. */
#ifndef MIMIC_LLM_MODEL_H
#define MIMIC_LLM_MODEL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "llm/gguf.h"
#include "llm/quant.h"

typedef enum { LLM_ARCH_QWEN2 = 0, LLM_ARCH_LLAMA = 1 } llm_arch;

/* How RoPE pairs the values of a head (gguf-engine-facts 1.5): NORM rotates consecutive pairs
 * (x[2i], x[2i+1]) (llama); NEOX rotates (x[i], x[i + n_rot/2]) (qwen2). */
typedef enum { LLM_ROPE_NORM = 0, LLM_ROPE_NEOX = 2 } llm_rope_type;

/* Caps on what a model file may ask for (a hostile file cannot make a context allocate more). */
#define LLM_MAX_LAYERS   1024
#define LLM_MAX_EMBD     65536
#define LLM_MAX_HEADS    1024
#define LLM_MAX_HEAD_DIM 1024
#define LLM_MAX_VOCAB    (1 << 22)
#define LLM_MAX_FF       (1 << 20)
#define LLM_MAX_CTX      (1 << 20)

typedef struct llm_hparams {
  llm_arch arch;
  char arch_name[16]; /* "qwen2", "llama" */
  int n_vocab;        /* rows of token_embd.weight */
  int n_ctx_train;    /* <arch>.context_length */
  int n_embd;
  int n_layer;
  int n_head;
  int n_head_kv; /* defaults to n_head */
  int head_dim;  /* <arch>.attention.key_length, default n_embd / n_head */
  int n_ff;
  int n_rot; /* rotated dims per head (<arch>.rope.dimension_count, default head_dim) */
  llm_rope_type rope_type; /* fixed per architecture, not stored in GGUF */
  float rope_freq_base;    /* default 10000 */
  float rope_freq_scale;   /* 1 / linear scaling factor (1 when none) */
  float rms_eps;
  bool has_rope_freqs; /* Llama-3 rope_freqs.weight present (divides each pair's frequency) */
  bool has_qkv_bias;
  bool tied_embeddings; /* no output.weight: the lm head is token_embd.weight */
} llm_hparams;

typedef struct llm_model llm_model;
typedef struct llm_lora llm_lora; /* lora.h */
typedef struct llm_ctx llm_ctx;

/* Opens path (mmap, read-only), reads the hyper-parameters and resolves every weight, checking
 * names, shapes and types. No tensor data is read or copied at load, so cold start is the cost of
 * validating the GGUF header. Unsupported architectures are refused by name (MIMIC_EUNSUPPORTED);
 * a missing or mis-shaped tensor is MIMIC_EFORMAT naming the tensor. Caller destroys. */
int llm_model_load(const char *path, llm_model **out) MIMIC_MUST;
void llm_model_destroy(llm_model *m); /* accepts NULL */

const llm_hparams *llm_model_hparams(const llm_model *m);
/* The underlying file (for the tokenizer and chat template). Borrowed; lives as long as m. */
const gguf_file *llm_model_gguf(const llm_model *m);
/* Bytes of weights read to generate one token (all layers + lm head + one embedding row): the
 * numerator of the memory-bandwidth bound. */
size_t llm_model_bytes_per_token(const llm_model *m);

/* ---- Contexts: run-state memory and the KV cache ---------------------------------------------
 * A context owns n_slots KV regions of n_ctx positions each (F32, the reference precision), and one
 * block of scratch memory for n_batch tokens carved into activation buffers. Each slot remembers
 * the tokens whose K/V it holds and the adapter (and scale) they were computed with. KV memory is
 * allocated zeroed and lazily committed by the OS, so unused slots cost address space, not RAM. */
/* Element type of the KV cache. F32 is the reference precision (what llama.cpp's reference logits
 * in the test data were computed with); F16 halves the cache's memory (llama.cpp's own default),
 * with logits typically within 1e-3 relative of F32. */
typedef enum { LLM_KV_F32 = 0, LLM_KV_F16 = 1 } llm_kv_type;

typedef struct llm_ctx_params {
  int n_ctx;           /* positions per slot; 0 = min(n_ctx_train, 4096) */
  int n_slots;         /* 0 = 1 */
  int n_batch;         /* tokens per forward chunk (longer inputs are split); 0 = 256 */
  compute_pool *pool;  /* borrowed, must outlive the context; NULL = single-threaded */
  llm_kv_type kv_type; /* LLM_KV_F32 (0, the default) or LLM_KV_F16 */
} llm_ctx_params;

int llm_ctx_new(const llm_model *m, const llm_ctx_params *p, llm_ctx **out) MIMIC_MUST;
void llm_ctx_destroy(llm_ctx *c); /* accepts NULL */
int llm_ctx_n_ctx(const llm_ctx *c);
/* Bytes of one slot's KV cache (K and V, every layer and position), as allocated. */
size_t llm_ctx_kv_bytes(const llm_ctx *c);
int llm_ctx_n_slots(const llm_ctx *c);
const llm_model *llm_ctx_model(const llm_ctx *c);
/* Tokens evaluated by every forward call on this context so far (tests count prefix reuse). */
uint64_t llm_ctx_tokens_evaluated(const llm_ctx *c);

typedef enum {
  LLM_LOGITS_NONE = 0, /* logits may be NULL */
  LLM_LOGITS_LAST = 1, /* logits holds n_vocab floats: the row after the last token */
  LLM_LOGITS_ALL = 2   /* logits holds n * n_vocab floats, row t after token t (reference layout) */
} llm_logits_mode;

/* The low-level forward pass over one slot: evaluates tokens[0..n) at positions pos0..pos0+n-1,
 * attending to the slot's cached positions < pos0 (whatever was there is kept; positions >= pos0
 * are overwritten). The slot's recorded sequence becomes its first pos0 tokens followed by tokens.
 * lora (may be NULL) is applied at lora_scale (scale = lora_scale * alpha / rank) to every
 * projection it adapts. Errors: MIMIC_EINVAL (bad slot, token id out of range, pos0 beyond the
 * slot's recorded length), MIMIC_ERANGE (pos0 + n > n_ctx), MIMIC_EINVAL (lora made for another
 * model). On error the slot's recorded length is cut to pos0 (its cache may hold a partial
 * evaluation). */
int llm_forward(llm_ctx *c, int slot, const int32_t *tokens, int n, int pos0, const llm_lora *lora,
                float lora_scale, float *logits, llm_logits_mode mode) MIMIC_MUST;

/* What a slot records at a position whose input was an embedding row (llm_forward_embd): never a
 * token id, so prefix reuse stops there. */
#define LLM_TOKEN_EMBD (-1)

/* llm_forward with input rows given as embeddings instead of token ids: embd holds n rows of
 * n_embd floats (e.g. a vision projector's image rows), used in place of the token embedding at
 * positions pos0..pos0+n-1. The slot records LLM_TOKEN_EMBD there, so llm_slot_prepare reuses no
 * prefix past them and a context shift that would re-evaluate them fails (MIMIC_ERANGE). Errors
 * and logits as llm_forward. */
int llm_forward_embd(llm_ctx *c, int slot, const float *embd, int n, int pos0, const llm_lora *lora,
                     float lora_scale, float *logits, llm_logits_mode mode) MIMIC_MUST;

/* ---- Slots: one per conversation ------------------------------------------------------------ */

/* Finds the slot tagged key; if none, takes an empty slot or evicts the least recently used one
 * (clearing it) and tags it. *reused tells whether the slot already belonged to key. */
int llm_slot_acquire(llm_ctx *c, uint64_t key, int *slot, bool *reused) MIMIC_MUST;
void llm_slot_clear(llm_ctx *c, int slot);
int llm_slot_n_past(const llm_ctx *c, int slot);            /* tokens held */
const int32_t *llm_slot_tokens(const llm_ctx *c, int slot); /* borrowed, n_past of them */
/* Tokens at the start of the slot kept by a context shift (e.g. the system prompt); default 0. */
void llm_slot_set_keep(llm_ctx *c, int slot, int n_keep);

/* Brings the slot to hold exactly tokens[0..n): keeps the longest common prefix with what it holds
 * (only when it was computed with the same adapter and scale) and evaluates the rest. When
 * logits_last (n_vocab floats) is given, at least the last token is evaluated to fill it; with
 * logits_last NULL a fully cached prompt evaluates nothing (prompt chunking).
 * *n_evaluated (may be NULL) receives how many tokens were evaluated. n must fit the context:
 * MIMIC_ERANGE when n > n_ctx (the caller trims its prompt). */
int llm_slot_prepare(llm_ctx *c, int slot, const int32_t *tokens, int n, const llm_lora *lora,
                     float lora_scale, float *logits_last, int *n_evaluated) MIMIC_MUST;

/* Appends tokens to the slot and evaluates them (generation steps). When the window would
 * overflow, the slot is shifted first: the n_keep first tokens stay, the oldest half of the rest is
 * dropped, and the remaining tokens are re-evaluated at their new positions (exact: the slot then
 * equals a fresh evaluation of the shortened sequence). logits_last may be NULL. */
int llm_slot_decode(llm_ctx *c, int slot, const int32_t *tokens, int n, const llm_lora *lora,
                    float lora_scale, float *logits_last) MIMIC_MUST;

/* ---- Batched decoding ------------------------------------------------------------------------
 * One new token for each of several slots in one pass: the activations are stacked so every
 * weight matrix is read once per step for all of them; attention and LoRA run per item. Each item
 * is appended to its slot as by llm_slot_decode (including the context shift); slots must be
 * distinct. Results equal per-slot llm_slot_decode calls. */
typedef struct llm_batch_item {
  int slot;
  int32_t token;
  const llm_lora *lora; /* may be NULL */
  float lora_scale;
  float *logits; /* n_vocab floats, may be NULL */
} llm_batch_item;

int llm_forward_batch(llm_ctx *c, const llm_batch_item *items, int n_items) MIMIC_MUST;

/* ---- Mixed steps: prompts and decoding of several slots in one pass -------------------------
 * Each item either brings its slot to hold exactly tokens[0..n) (append false: what
 * llm_slot_prepare does, reusing the common prefix computed with the same adapter and scale) or
 * appends tokens[0..n) to it (append true: what llm_slot_decode does, with the context shift).
 * Every token to evaluate, of every item, goes through the layers together (split into chunks of
 * the context's n_batch rows), so each weight matrix is read once per chunk for all slots; each
 * row attends only to its own slot's positions up to its own. The results, logits and caches, are
 * the same bits as the per-item calls in any order. Slots must be distinct.
 * logits (n_vocab floats, may be NULL) receives the row after the item's last token; as with
 * llm_slot_prepare, an item whose tokens are all cached evaluates its last one again only when it
 * asks for logits. n_evaluated (out) counts the tokens evaluated for the item.
 * Errors: every item is checked before anything is evaluated; on the first bad one (slot, lora,
 * token id, size, a context shift that cannot be made) the call returns its error, *failed (may
 * be NULL) is its index and no item was evaluated, though context shifts of earlier items may have
 * been made (they are what the same items' next call would do). *failed is -1 otherwise. */
typedef struct llm_mixed_item {
  int slot;
  const int32_t *tokens; /* borrowed for the call */
  int n;
  bool append;
  const llm_lora *lora; /* may be NULL */
  float lora_scale;
  float *logits;   /* n_vocab floats, may be NULL */
  int n_evaluated; /* out */
} llm_mixed_item;

int llm_forward_mixed(llm_ctx *c, llm_mixed_item *items, int n_items, int *failed) MIMIC_MUST;

/* ---- Building blocks for other encoders (embed/) -------------------------------------------
 * Softmax of w[0..n) in place, as llama.cpp's AVX-512 CPU build computes ggml_soft_max over a row
 * that is already scaled and masked: the maximum subtracted, the exps of every whole run of 16
 * values by ggml's vector exp (each run summed as _mm512_reduce_add_ps does) and of the n % 16 left
 * by libm's expf, the sum in double, then every value times (float)(1 / sum). Thread-safe. */
void llm_softmax_row(float *w, int n);

#endif
