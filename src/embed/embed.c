/* Placeholder until the encoder lands (issue 13): every open fails with one sentence, so callers
 * take their full-text-only path. */
#include "embed/embed.h"

#include <math.h>

#include "base/err.h"

embed_model *embed_open(const char *path, const embed_opts *opts) {
  (void)opts;
  err_set(MIMIC_EUNSUPPORTED, "%s: sentence encoders are not built into this mimic yet", path);
  return NULL;
}

void embed_close(embed_model *m) { (void)m; }
int embed_dim(const embed_model *m) { return m ? 0 : 0; }
int embed_max_tokens(const embed_model *m) { return m ? 0 : 0; }
const char *embed_name(const embed_model *m) { return m ? "" : ""; }

int embed_texts(embed_model *m, const char *const *texts, size_t n, bool normalize, float *out) {
  (void)m, (void)texts, (void)n, (void)normalize, (void)out;
  return err_set(MIMIC_EUNSUPPORTED, "no sentence encoder loaded");
}

int embed_tokens(embed_model *m, const int32_t *ids, size_t n_ids, bool normalize, float *out) {
  (void)m, (void)ids, (void)n_ids, (void)normalize, (void)out;
  return err_set(MIMIC_EUNSUPPORTED, "no sentence encoder loaded");
}

float embed_cosine(const float *a, const float *b, int dim) {
  double ab = 0, aa = 0, bb = 0;
  for (int i = 0; i < dim; i++) {
    ab += (double)a[i] * b[i];
    aa += (double)a[i] * a[i];
    bb += (double)b[i] * b[i];
  }
  return (aa > 0 && bb > 0) ? (float)(ab / sqrt(aa * bb)) : 0.0f;
}
