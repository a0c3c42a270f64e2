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

#endif
