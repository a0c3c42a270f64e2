/* Pooling a sequence's final hidden states into one vector (bert.pooling_type: the [CLS] row, or
 * the mean of every row), the optional L2 normalisation, and the cosine of two vectors. Not here:
 * the forward pass that makes the rows (forward.c). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "embed/embed_int.h"

/* Mean: llama.cpp multiplies the transposed hidden states by a column of 1/len (ggml_mul_mat), so
 * the sum follows its float matmul's order for that shape; qmat_mul on an F32 matrix takes the same
 * order. */
void embed__pool(const embed_model *m, const float *hidden, int len, float *out) {
  int d = m->n_embd;
  if (m->pooling == EMBED_POOL_CLS || len == 1) {
    memcpy(out, hidden, (size_t)d * sizeof *out);
    return;
  }
  float *tmp = xalloc(((size_t)d + 1) * (size_t)len * sizeof *tmp);
  float *ht = tmp, *div = tmp + (size_t)d * len;
  for (int t = 0; t < len; t++)
    for (int i = 0; i < d; i++) ht[(size_t)i * len + t] = hidden[(size_t)t * d + i];
  for (int t = 0; t < len; t++) div[t] = 1.0f / (float)len;
  qmat w = {.type = TT_F32, .rows = d, .cols = len, .data = ht, .row_bytes = (size_t)len * 4};
  qmat_mul(NULL, &w, div, out, 1);
  mem_free(tmp);
}

/* As llama.cpp's common_embd_normalize (Euclidean): the sum of squares in double, each value
 * multiplied by 1 / sqrt(sum) in double. */
void embed__normalize(float *v, int n) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += (double)v[i] * v[i];
  double norm = sum > 0.0 ? 1.0 / sqrt(sum) : 0.0;
  for (int i = 0; i < n; i++) v[i] = (float)(v[i] * norm);
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
