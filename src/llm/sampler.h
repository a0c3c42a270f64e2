/* Token sampling: repetition penalty, top-k, top-p, min-p and temperature over one row of logits,
 * with a seeded PRNG so a seed reproduces a generation exactly, across runs and machines.
 * Semantics follow llama.cpp's default chain (penalties -> top-k -> top-p -> min-p -> temperature
 * -> draw); temperature <= 0 is greedy. Not here: stop strings and UTF-8 completion of the text
 * stream (see stop.h), or which tokens end a generation (the tokenizer knows them). */
#ifndef MIMIC_LLM_SAMPLER_H
#define MIMIC_LLM_SAMPLER_H
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

/* A seed meaning "pick one from the clock" (the generation is then not reproducible). */
#define LLM_SEED_RANDOM UINT64_MAX
/* Largest repetition window (tokens); config caps repeat_last_n to this. */
#define LLM_REPEAT_MAX 100000

typedef struct llm_sampling {
  float temperature;    /* <= 0: greedy (argmax after penalties) */
  int top_k;            /* keep the k most likely tokens; 0 = off */
  float top_p;          /* keep the smallest prefix whose mass reaches p; >= 1 = off */
  float min_p;          /* drop tokens with p < p_max * min_p; 0 = off */
  float repeat_penalty; /* 1 = off; > 1 discourages tokens seen in the last repeat_last_n */
  int repeat_last_n;    /* window of the penalty, in tokens; 0 = off */
  uint64_t seed;        /* LLM_SEED_RANDOM for a clock seed */
} llm_sampling;

/* Fills p with mimic's defaults (the engine.* defaults in config_keys.c: temp 0.8, top-k 40,
 * top-p 0.95, min-p 0.05, penalty 1.1 over 64 tokens, random seed). */
void llm_sampling_default(llm_sampling *p);
/* Checks the ranges (temperature 0..100, top_k >= 0, top_p 0..1, min_p 0..1, penalty > 0,
 * window 0..LLM_REPEAT_MAX). Returns 0 or MIMIC_EINVAL naming the field. */
int llm_sampling_check(const llm_sampling *p) MIMIC_MUST;

/* The sampler draws from base's generator (base/rng.h: xoshiro256** seeded through splitmix64), so
 * a seed gives the same tokens on every platform. */

/* ---- Sampler ---------------------------------------------------------------------------------
 * One per generation (or per KV slot, reset between generations). Not thread-safe: one thread at a
 * time. Work memory is sized by n_vocab once, so sampling allocates nothing per token. */
typedef struct llm_cand {
  int32_t id;
  float logit; /* after penalties (and temperature, in the final distribution) */
  float p;     /* probability in the final distribution */
} llm_cand;

typedef struct llm_sampler llm_sampler;

/* Creates a sampler for a vocabulary of n_vocab (1..16M) tokens with the given parameters (copied,
 * checked with llm_sampling_check). Returns 0 and *out, MIMIC_EINVAL or MIMIC_ENOMEM. */
int llm_sampler_new(const llm_sampling *p, int n_vocab, llm_sampler **out) MIMIC_MUST;
void llm_sampler_destroy(llm_sampler *s); /* accepts NULL */
/* Forgets the penalty history and reseeds with p->seed (or the clock for LLM_SEED_RANDOM). */
void llm_sampler_reset(llm_sampler *s);
/* Adds a token to the repetition history (prompt tokens too, if they should be penalised).
 * Out-of-range ids are ignored. */
void llm_sampler_accept(llm_sampler *s, int32_t token);
/* The seed actually in use (after LLM_SEED_RANDOM was resolved), so a generation can be replayed.
 */
uint64_t llm_sampler_seed(const llm_sampler *s);

/* The final distribution for one row of n_vocab logits (not modified): penalties, truncation and
 * temperature applied, probabilities normalised, most likely first. *out points into the sampler
 * (borrowed until the next call); *n >= 1. NaN logits count as -inf. Greedy gives one candidate. */
void llm_sampler_dist(llm_sampler *s, const float *logits, const llm_cand **out, size_t *n);
/* Draws one token from llm_sampler_dist's distribution. Does not accept it (call
 * llm_sampler_accept with the token the engine keeps). */
int32_t llm_sampler_sample(llm_sampler *s, const float *logits);

/* Plain argmax of a row (first index on ties); n > 0. */
int32_t llm_argmax(const float *logits, int n);

#endif
