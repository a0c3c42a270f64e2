/* The style-embedding cosine: real and generated replies to the same contexts through a sentence
 * encoder (embed/), compared pair by pair and as two centroids. Not here: loading the encoder (the
 * caller opens it from embed.model) or the other style metrics (metrics.c). */
#include <math.h>

#include "base/alloc.h"
#include "embed/embed.h"
#include "eval/eval.h"

int eval_embed_cosine(embed_model *m, const char *const *real, const char *const *gen, size_t n,
                      double *pair, double *centroid, double *mean) {
  *pair = *centroid = *mean = NAN;
  if (!n) return 0;
  if (n > EVAL_MAX_ITEMS)
    return err_set(MIMIC_ERANGE, "%zu replies to embed (at most %u)", n, EVAL_MAX_ITEMS);
  int d = embed_dim(m);
  float *vr = mem_alloc(n * (size_t)d * sizeof *vr), *vg = mem_alloc(n * (size_t)d * sizeof *vg);
  double *cr = mem_calloc((size_t)d, sizeof *cr), *cg = mem_calloc((size_t)d, sizeof *cg);
  int rc = 0;
  if (!vr || !vg || !cr || !cg) {
    rc = err_set(MIMIC_ENOMEM, "out of memory for %zu embeddings", 2 * n);
    goto out;
  }
  if ((rc = embed_texts(m, real, n, true, vr)) || (rc = embed_texts(m, gen, n, true, vg))) goto out;
  double sum = 0;
  for (size_t i = 0; i < n; i++) {
    const float *a = vr + i * (size_t)d, *b = vg + i * (size_t)d;
    sum += embed_cosine(a, b, d);
    for (int k = 0; k < d; k++) {
      cr[k] += a[k];
      cg[k] += b[k];
    }
  }
  double ab = 0, aa = 0, bb = 0;
  for (int k = 0; k < d; k++) {
    ab += cr[k] * cg[k];
    aa += cr[k] * cr[k];
    bb += cg[k] * cg[k];
  }
  *pair = sum / (double)n;
  *centroid = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 0.0;
  *mean = (*pair + *centroid) / 2;
out:
  mem_free(vr);
  mem_free(vg);
  mem_free(cr);
  mem_free(cg);
  return rc;
}
