/* The encoder's element-wise operations, computed as llama.cpp's CPU backend computes them, so
 * that mimic's vectors carry llama.cpp's bits: LayerNorm (ggml_norm, then * weight + bias) and
 * GELU (ggml_gelu: the tanh form looked up in a table of every half-precision value). Each has a
 * portable version and an AVX2/F16C one that gives the same bits. Not here: matrix products
 * (llm's qmat_mul) or the attention (forward.c). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "embed/embed_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

/* A 16-lane register reduced as _mm512_reduce_add_ps does: halves, quarters, then
 * ((l0 + l2) + (l1 + l3)); the order of llm's kernels (llm__hsum16) and of ggml's AVX-512 loops. */
static float hsum16(const float a[16]) {
  float t[8], u[4];
  for (int l = 0; l < 8; l++) t[l] = a[l] + a[l + 8];
  for (int l = 0; l < 4; l++) u[l] = t[l] + t[l + 4];
  return (u[0] + u[2]) + (u[1] + u[3]);
}

/* ggml_norm_f32 in an AVX-512 build: the mean from a double sum rounded to float and divided in
 * float; the centred values stored, their squares summed 16 at a time (each run reduced as
 * hsum16, added in double), the n % 16 left one by one in double; variance = sum / n rounded to
 * float; then y *= 1 / sqrtf(variance + eps). build_norm then multiplies by the weight and adds the
 * bias as two separate operations (two roundings, no fused multiply-add). */
static void norm_row(float *x, int n, const float *w, const float *b, float eps) {
  double s = 0;
  for (int i = 0; i < n; i++) s += (double)x[i];
  float mean = (float)s / (float)n;
  double v = 0;
  int i = 0;
  for (; i + 15 < n; i += 16) {
    float sq[16];
    for (int l = 0; l < 16; l++) {
      float d = x[i + l] - mean;
      x[i + l] = d;
      sq[l] = d * d;
    }
    v += (double)hsum16(sq);
  }
  for (; i < n; i++) {
    float d = x[i] - mean;
    x[i] = d;
    float sq = d * d;
    v += (double)sq;
  }
  float variance = (float)(v / n);
  float scale = 1.0f / sqrtf(variance + eps);
  for (int k = 0; k < n; k++) {
    float y = x[k] * scale;
    y = y * w[k];
    x[k] = y + b[k];
  }
}

void embed__layer_norm(float *x, int64_t T, int n, const float *w, const float *b, float eps) {
  for (int64_t t = 0; t < T; t++) norm_row(x + t * n, n, w, b, eps);
}

/* ggml_gelu_f32: 0.5 x (1 + tanh(sqrt(2/pi) x (1 + 0.044715 x^2))), the inner 1 + a x x fused as
 * a C compiler contracts it. */
static float gelu_f32(float x) {
  const float a = 0.044715f, s2pi = 0.79788456080286535587989211986876f;
  return 0.5f * x * (1.0f + tanhf(s2pi * x * fmaf(a * x, x, 1.0f)));
}

void embed__gelu_table(embed_model *m) {
  enum { N = 65536 };
  uint16_t *h = xalloc(N * sizeof *h);
  float *f = xalloc(N * sizeof *f);
  for (int i = 0; i < N; i++) h[i] = (uint16_t)i;
  quant_dequant_row(TT_F16, h, f, N);
  for (int i = 0; i < N; i++) {
    float g = gelu_f32(f[i]);
    f[i] = isfinite(g) ? g : 0.0f; /* Inf and NaN halves: never looked up (see embed__gelu) */
  }
  if (quant_row(TT_F16, f, h, N)) memset(h, 0, N * sizeof *h); /* cannot fail: all finite */
  mem_free(f);
  m->gelu_table = h;
}

/* The portable path: in chunks, values in (-10, 10) rounded to half, looked up, widened. */
static void gelu_plain(const uint16_t *table, float *x, int64_t n) {
  enum { CH = 256 };
  float tmp[CH];
  uint16_t h[CH];
  for (int64_t i = 0; i < n; i += CH) {
    int c = (int)(n - i < CH ? n - i : CH);
    for (int k = 0; k < c; k++) {
      float v = x[i + k];
      tmp[k] = (v > -10.0f && v < 10.0f) ? v : 0.0f;
    }
    if (quant_row(TT_F16, tmp, h, c)) return; /* cannot fail: every value is finite */
    for (int k = 0; k < c; k++) h[k] = table[h[k]];
    quant_dequant_row(TT_F16, h, tmp, c);
    for (int k = 0; k < c; k++) {
      float v = x[i + k];
      x[i + k] = v <= -10.0f ? 0.0f : v >= 10.0f ? v : v != v ? v : tmp[k];
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,f16c"))) static void gelu_f16c(const uint16_t *table, float *x,
                                                           int64_t n) {
  int64_t i = 0;
  const __m256 lo = _mm256_set1_ps(-10.0f), hi = _mm256_set1_ps(10.0f);
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    uint16_t h[8];
    _mm_storeu_si128((__m128i *)h, _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    for (int k = 0; k < 8; k++) h[k] = table[h[k]];
    __m256 g = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)h));
    g = _mm256_blendv_ps(g, v, _mm256_cmp_ps(v, hi, _CMP_GE_OQ));
    g = _mm256_blendv_ps(g, _mm256_setzero_ps(), _mm256_cmp_ps(v, lo, _CMP_LE_OQ));
    g = _mm256_blendv_ps(g, v, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
    _mm256_storeu_ps(x + i, g);
  }
  if (i < n) gelu_plain(table, x + i, n - i);
}
#endif

void embed__gelu(const embed_model *m, float *x, int64_t n) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (m->fast) {
    gelu_f16c(m->gelu_table, x, n);
    return;
  }
#endif
  gelu_plain(m->gelu_table, x, n);
}
