/* The engine's scheduler (the "local" llm_backend) over llm_lm, the few operations it needs from a
 * model and its tokenizer. engine.c owns the request queue, the KV slot table, the worker thread,
 * prompt chunking, batched decoding, sampling and the text stream; engine_local.c binds llm_lm to
 * model.h + tokenizer.h, and tests bind it to a small fake model so scheduling is checked exactly
 * and fast. Internal to the llm layer (the bot uses backend.h). */
#ifndef MIMIC_LLM_ENGINE_H
#define MIMIC_LLM_ENGINE_H
#include <stdbool.h>
#include <stdint.h>

#include "llm/backend.h"

/* Positions a slot needs at the least (a prompt and a reply); llm_engine_new refuses fewer. */
#define LLM_ENGINE_MIN_CTX 8

typedef struct llm_lm_item {
  int slot;
  int32_t token;
  void *lora; /* from lora_load, or NULL */
  float scale;
  float *logits; /* n_vocab floats to fill */
} llm_lm_item;

/* One slot's work in a mixed step (llm_lm.step): bring the slot to hold exactly toks[0..n)
 * (append false, as prepare) or append toks[0..n) to it (append true, as decode_batch). */
typedef struct llm_lm_step {
  int slot;
  const int32_t *toks;
  int n;
  bool append;
  void *lora;
  float scale;
  float *logits; /* n_vocab floats after the last token, or NULL */
  int n_eval;    /* out: tokens evaluated */
} llm_lm_step;

/* Every function is called from the engine thread only, except lora_load / lora_free (any thread,
 * under the engine's adapter lock) and destroy (once, at the end). */
typedef struct llm_lm {
  void *self;
  int n_vocab;
  int n_ctx; /* positions per slot */
  int n_slots;
  bool batched; /* decode_batch reads the weights once for all items (else it loops) */
  /* Renders and tokenizes a request's prompt (chat template for messages; special tokens parsed
   * for a raw prompt, never inside message contents). *ids: caller frees with mem_free. */
  int (*render)(void *self, const llm_request *r, int32_t **ids, size_t *n);
  /* The bytes of a token for the text stream (control tokens: n = 0). */
  const char *(*piece)(void *self, int32_t id, size_t *n);
  bool (*is_eog)(void *self, int32_t id);
  /* The tokens the slot's KV cache holds (borrowed). */
  const int32_t *(*slot_tokens)(void *self, int slot, int *n);
  /* Makes the slot hold exactly toks[0..n) (reusing the common prefix computed with the same
   * adapter and scale), fills logits (may be NULL) after the last one, says how many it evaluated.
   */
  int (*prepare)(void *self, int slot, const int32_t *toks, int n, void *lora, float scale,
                 float *logits, int *n_eval);
  /* Appends one token to each item's slot (distinct slots) and fills its logits. */
  int (*decode_batch)(void *self, const llm_lm_item *items, int n);
  /* Optional: every item's work in one pass that reads the weights once for all slots (distinct),
   * each item's results the same bits as alone. On a bad item nothing is evaluated, *failed is its
   * index (else -1). When set, the engine runs each turn's prompt chunks and decoding through it;
   * when NULL, through prepare (one chunk per turn) and decode_batch. */
  int (*step)(void *self, llm_lm_step *items, int n, int *failed);
  int (*lora_load)(void *self, const char *path, void **lora);
  void (*lora_free)(void *self, void *lora);
  void (*destroy)(void *self);
} llm_lm;

typedef struct llm_engine_opts {
  int batch;     /* prompt tokens per chunk; 0 = 512 */
  int queue_max; /* requests waiting (not yet started) before MIMIC_EBUSY; 0 = 64 */
} llm_engine_opts;

/* Starts the engine thread over lm (copied; lm->self is owned from here on, and destroyed with the
 * backend or on failure). Every operation but lora_load / lora_free / destroy must be set (an
 * assertion). Returns 0 and the backend, MIMIC_EINVAL naming the size that cannot work (an empty
 * vocabulary, no slot, a context under LLM_ENGINE_MIN_CTX positions) or MIMIC_ENOMEM. */
int llm_engine_new(const llm_lm *lm, const llm_engine_opts *o, llm_backend **out) MIMIC_MUST;

/* 64-bit FNV-1a of a slot key (0 is never returned: it means "no key"). */
uint64_t llm_engine_key(const char *slot_key);

#endif
