/* Whole-file tools over GGUF models: quantization presets (which type each tensor gets, following
 * llama.cpp's presets), quantizing a file, and writing a model of real shape with random weights
 * for benchmarks. Not here: the per-row formats (quant.h) or loading models for inference. */
#ifndef MIMIC_LLM_QUANTIZE_H
#define MIMIC_LLM_QUANTIZE_H
#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "llm/gguf.h"
#include "llm/quant.h"

typedef enum {
  QP_F32,
  QP_F16,
  QP_BF16,
  QP_Q8_0,
  QP_Q4_0,
  QP_Q4_K_M,
  QP_Q5_K_M,
  QP_Q6_K
} quant_preset;

/* Parses "f32", "f16", "bf16", "q8_0", "q4_0", "q4_k_m", "q5_k_m", "q6_k" (case-insensitive).
 * MIMIC_EINVAL with the list of valid names otherwise. */
int quant_preset_parse(const char *s, quant_preset *out) MIMIC_MUST;
const char *quant_preset_name(quant_preset p);
/* general.file_type value llama.cpp writes for the preset (e.g. 15 for Q4_K_M). */
uint32_t quant_preset_file_type(quant_preset p);

/* The type a tensor gets under preset p (llama.cpp's rules): only weights with >= 2 dimensions
 * (not norms, not position/token-type embeddings) are converted; output.weight (or
 * token_embd.weight when there is no output.weight) gets Q6_K; under the K_M presets attn_v and
 * ffn_down get Q6_K on the layers use_more_bits() picks; rows not a multiple of 256 fall back to
 * Q5_0/Q5_1/Q8_0, rows not a multiple of 32 stay F32. n_layer: the model's block count; has_output:
 * output.weight exists. */
tensor_type quant_preset_pick(quant_preset p, const char *name, int n_dims, const int64_t *ne,
                              int n_layer, bool has_output);

/* Quantizes every tensor of in to preset p and writes out atomically (metadata copied; file_type
 * and quantization_version set). Rows are converted in parallel on pool (may be NULL). */
int gguf_quantize(const char *in, const char *out, quant_preset p, compute_pool *pool) MIMIC_MUST;

/* A random model of real shape (qwen2 or llama), for benchmarks and tests. Weights are uniform
 * random with std 0.02 (norm weights 1), quantized to preset; the tokenizer (every tokenizer.* key)
 * is copied from tokenizer_path and fixes the vocabulary size (unless o->vocab pads it). */
typedef struct random_model_opts {
  const char *arch; /* "qwen2" (q/k/v biases, tied embeddings) or "llama" (untied) */
  int width, layers, heads, kv_heads, ff, ctx;
  uint64_t seed;
  quant_preset preset;
  const char *tokenizer_path;
  int vocab; /* 0: the tokenizer's size; larger: padded with control tokens <|mimic_pad_N|>
              * (benchmarks that need a real model's lm head, e.g. Qwen2.5's 151936, from a smaller
              * vocabulary) */
} random_model_opts;

int gguf_make_random(const random_model_opts *o, const char *out, compute_pool *pool) MIMIC_MUST;

#endif
