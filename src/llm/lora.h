/* LoRA adapters in llama.cpp's adapter GGUF format (general.type=adapter, adapter.type=lora,
 * adapter.lora.alpha; tensors "<base tensor name>.lora_a" {n_in, r} and ".lora_b" {r, n_out}),
 * mapped read-only beside a base model and applied at request time as y += scale * B(A x), so any
 * number of adapters can share one base and each forward call names its own (model.h). Not here:
 * training adapters (train/). */
#ifndef MIMIC_LLM_LORA_H
#define MIMIC_LLM_LORA_H
#include <stdbool.h>

#include "base/err.h"
#include "llm/model.h"

#define LLM_LORA_MAX_RANK 1024

/* Opens the adapter at path and checks it against base: architecture, every tensor's base weight
 * exists, shapes agree, both halves present, ranks within LLM_LORA_MAX_RANK. Adapters on
 * token_embd are refused (MIMIC_EUNSUPPORTED); *_norm tensors are ignored as llama.cpp does.
 * Errors name the file and tensor. base must outlive the adapter. Caller destroys. */
int llm_lora_load(const llm_model *base, const char *path, llm_lora **out) MIMIC_MUST;
void llm_lora_destroy(llm_lora *l); /* accepts NULL */

float llm_lora_alpha(const llm_lora *l);   /* 0 when the file has none */
int llm_lora_rank(const llm_lora *l);      /* largest rank over its tensors */
int llm_lora_n_adapted(const llm_lora *l); /* number of adapted weight matrices */
const llm_model *llm_lora_base(const llm_lora *l);
/* The effective multiplier for a user scale: user_scale * alpha / rank (user_scale when alpha is
 * 0), per llama.cpp, with rank the tensor pair's own rank. */
float llm_lora_scale(float alpha, int rank, float user_scale);

#endif
