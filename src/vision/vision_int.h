/* Internals shared by the vision layer's files: the resolved weights of a projector file. Not a
 * public header: other layers use vision.h. */
#ifndef MIMIC_VISION_VISION_INT_H
#define MIMIC_VISION_VISION_INT_H
#include <stdatomic.h>
#include <stdbool.h>

#include "llm/gguf.h"
#include "llm/quant.h"
#include "vision/vision.h"

typedef struct vis_layer {
  const float *ln1_w, *ln1_b, *ln2_w, *ln2_b; /* n_embd each */
  qmat q, k, v, o;                            /* (n_embd, n_embd) */
  const float *q_b, *k_b, *v_b, *o_b;         /* n_embd each */
  qmat up, down;                              /* (n_ff, n_embd), (n_embd, n_ff) */
  const float *up_b, *down_b;
} vis_layer;

struct vis_model {
  gguf_file *f;
  vis_hparams hp;
  qmat patch; /* (n_embd, 3 * patch^2) as F16 (llama.cpp rounds the convolution to fp16) */
  const float *patch_b; /* n_embd */
  const float *pos;     /* (n_patches, n_embd) */
  vis_layer *layers;
  const float *post_w, *post_b; /* n_embd */
  qmat fc;                      /* (proj_dim, n_embd * scale^2), no bias */
  void **owned;                 /* buffers converted at load */
  int n_owned;
};

/* vis_model_load over a caller-owned buffer that outlives the model (the fuzz target); name is
 * what errors call the file. */
int vis__model_load_memory(const void *data, size_t n, const char *name, vis_model **out);
/* vis_preprocess, with slices false: the overview tile only (as a file without
 * preproc_image_size), whatever the file asks. */
int vis__preprocess(const vis_model *m, const vis_image *img, bool slices, vis_tiles *out);
/* vis_embed with the same choice, stopping between tiles with MIMIC_ECANCELLED once *cancel
 * (may be NULL) is set. */
int vis__embed(const vis_model *m, compute_pool *pool, const vis_image *img, bool slices,
               const atomic_bool *cancel, float **embd, int *n_rows, vis_tiles *tiles);

/* GELU's fp16 tables (encoder_fast.c): entry i is fp16(gelu(half i)) by quant.h's conversions,
 * tanh form or quick; 65,536 entries and one more, zero, so a 32-bit gather at the last one stays
 * inside. */
const uint16_t *vis__gelu_table(bool tanh_form);

/* The fast path's kernels besides the weight products (encoder_fast.c). simd: AVX2+FMA+F16C
 * when the CPU has them, else portable C; vis__fast_simd says whether to ask (the CPU has them
 * and MIMIC_KERNELS does not force scalar). */
bool vis__fast_simd(void);
/* Softmax of x * scale in place, as ggml_soft_max_ext without a mask (sum in double): the scalar
 * path's, and the fast path's portable kernel. */
void vis__softmax_scalar(float *x, int n, float scale);
/* GELU through the table, x in place: the bits of the scalar path's gelu_row. */
void vis__gelu_fast(float *x, int64_t n, bool tanh_form, bool simd);
/* A (P, E) = softmax(scale * Q K^T) V per head (nh heads of E / nh columns each; Q, K, V (P, E)),
 * in blocks of queries over the pool. Errors: MIMIC_ENOMEM. */
int vis__attention_fast(compute_pool *pool, const float *Q, const float *K, const float *V,
                        float *A, int P, int E, int nh, float scale, bool simd);

/* Where the encoder's time goes (bench_vision --profile): the process's CPU seconds (all threads)
 * per phase, added up over every tile encoded while a table is set (NULL stops it). For benchmarks
 * only: one table for the process, so set it only while a single encoder runs. */
typedef enum {
  VIS_PROF_PATCH, /* im2col and the patch convolution */
  VIS_PROF_NORM,  /* the layer norms */
  VIS_PROF_QKV,   /* q, k, v projections */
  VIS_PROF_ATTN,  /* attention: head split, scores, softmax, weighted values */
  VIS_PROF_OUT,   /* the attention output projection */
  VIS_PROF_UP,    /* ffn_up */
  VIS_PROF_GELU,  /* GELU */
  VIS_PROF_DOWN,  /* ffn_down */
  VIS_PROF_ADD,   /* biases and residual adds */
  VIS_PROF_PROJ,  /* pixel shuffle and the projector */
  VIS_PROF_COUNT
} vis_prof_phase;
extern const char *const vis__prof_names[VIS_PROF_COUNT];
void vis__profile(double *sec);

#endif
