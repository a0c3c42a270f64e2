/* Sentence embeddings: BERT-family encoders (bge-small/base/large, all-MiniLM) read from GGUF as
 * llama.cpp's ecosystem ships them, run on llm's GGUF reader, kernels and thread pool.
 *
 * Contract:
 * - embed_open loads the encoder or fails with one sentence (unsupported architectures are refused
 *   by name; a file whose shapes disagree with its metadata is refused, nothing half-loaded).
 * - embed_texts / embed_tokens write n rows of embed_dim() floats, row i for input i, pooled as the
 *   file says (bert.pooling_type: CLS or mean) and L2-normalised unless normalize is false. Inputs
 *   longer than embed_max_tokens() are truncated (texts) or refused (tokens).
 * - A model is used by one thread at a time; it runs its own work on `threads` workers. */
#ifndef MIMIC_EMBED_EMBED_H
#define MIMIC_EMBED_EMBED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct embed_model embed_model;

typedef struct embed_opts {
  int threads;   /* 0: the machine's cores */
  int max_batch; /* texts evaluated together; 0: a default */
} embed_opts;

/* NULL with err_msg() set on failure. opts may be NULL (defaults). */
embed_model *embed_open(const char *path, const embed_opts *opts);
void embed_close(embed_model *m);

int embed_dim(const embed_model *m);          /* width of one output row (384 for bge-small) */
int embed_max_tokens(const embed_model *m);   /* the encoder's context (512 for bge) */
const char *embed_name(const embed_model *m); /* general.name or the file's base name */

/* 0 or a negative MIMIC_E* code. out holds n * embed_dim(m) floats. */
int embed_texts(embed_model *m, const char *const *texts, size_t n, bool normalize, float *out);
int embed_tokens(embed_model *m, const int32_t *ids, size_t n_ids, bool normalize, float *out);

/* Cosine of two rows of width dim (the dot product when both are normalised). */
float embed_cosine(const float *a, const float *b, int dim);

#endif
