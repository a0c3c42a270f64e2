/* Forward and backward kernels of the decoder's non-GEMM operations (RMSNorm, RoPE, causal GQA
 * attention over packed samples, SwiGLU, the cross-entropy of one row) and the seedable RNG. The
 * forward halves compute exactly what llm/model.c computes, so a trained model and the engine agree
 * on logits; the backward halves are checked against finite differences (tests/train/test_grad.c).
 * Not here: matrix products (gemm.c) or how the pieces form a model (model.c). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "llm/vexp.h"
#include "train/train_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

/* ---- RMSNorm --------------------------------------------------------------------------------- */

void train__rmsnorm_fwd(int T, int n, const float *x, const float *w, float eps, float *y,
                        float *rstd) {
  MIMIC_ASSERT(T >= 0 && n > 0);
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * n;
    float *yt = y + (size_t)t * n;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += (double)(xt[i] * xt[i]);
    float mean = (float)(sum / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++) yt[i] = (xt[i] * scale) * w[i];
    rstd[t] = scale;
  }
}

/* With g = dy * w and r = rstd: y_i = x_i r w_i, dr/dx_j = -r^3 x_j / n, so
 * dx_j = r g_j - r^3 x_j mean(g . x). */
void train__rmsnorm_bwd(int T, int n, const float *x, const float *w, const float *rstd,
                        const float *dy, float *dx, float *dw) {
  MIMIC_ASSERT(T >= 0 && n > 0);
  for (int t = 0; t < T; t++) {
    const float *xt = x + (size_t)t * n, *dyt = dy + (size_t)t * n;
    float *dxt = dx + (size_t)t * n;
    float r = rstd[t];
    double gx = 0;
    for (int i = 0; i < n; i++) gx += (double)dyt[i] * w[i] * xt[i];
    float c = (float)(gx / n) * r * r * r;
    for (int i = 0; i < n; i++) dxt[i] += r * dyt[i] * w[i] - c * xt[i];
    if (dw)
      for (int i = 0; i < n; i++) dw[i] += dyt[i] * xt[i] * r;
  }
}

/* ---- RoPE ------------------------------------------------------------------------------------ */

void train__rope_cache(const llm_hparams *hp, const float *freq_factors, const int32_t *pos, int T,
                       float *cs) {
  MIMIC_ASSERT(hp->n_rot > 0 && hp->n_rot % 2 == 0 && hp->n_rot <= hp->head_dim);
  float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->n_rot);
  for (int t = 0; t < T; t++) {
    float *c = cs + (size_t)t * hp->n_rot;
    float theta = (float)pos[t];
    for (int i0 = 0; i0 < hp->n_rot; i0 += 2) {
      float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
      float th = hp->rope_freq_scale * (theta / ff);
      c[i0] = cosf(th);
      c[i0 + 1] = sinf(th);
      theta *= theta_scale;
    }
  }
}

void train__rope(const llm_hparams *hp, int T, int n_heads, const float *cs, float *x,
                 bool backward) {
  int n_rot = hp->n_rot, hd = hp->head_dim;
  MIMIC_ASSERT(n_rot > 0 && n_rot % 2 == 0 && n_rot <= hd && n_heads > 0);
  float sgn = backward ? -1.0f : 1.0f;
  for (int t = 0; t < T; t++) {
    const float *c = cs + (size_t)t * n_rot;
    for (int h = 0; h < n_heads; h++) {
      float *v = x + ((size_t)t * n_heads + h) * hd;
      if (hp->rope_type == LLM_ROPE_NEOX) {
        int half = n_rot / 2;
        for (int i = 0; i < half; i++) {
          float co = c[2 * i], si = sgn * c[2 * i + 1];
          float x0 = v[i], x1 = v[i + half];
          v[i] = x0 * co - x1 * si;
          v[i + half] = x0 * si + x1 * co;
        }
      } else {
        for (int i0 = 0; i0 < n_rot; i0 += 2) {
          float co = c[i0], si = sgn * c[i0 + 1];
          float x0 = v[i0], x1 = v[i0 + 1];
          v[i0] = x0 * co - x1 * si;
          v[i0 + 1] = x0 * si + x1 * co;
        }
      }
    }
  }
}

/* ---- Vector helpers of attention: a scalar reference and AVX2+FMA versions, picked with the
 * GEMM's kernel (MIMIC_KERNELS=scalar or train__gemm_set_kernel("scalar") forces the reference). */

typedef struct vec_ops {
  float (*dot)(const float *a, const float *b, int n);
  float (*dot2)(const float *a, const float *b, const float *c, const float *d, int n, float *cd);
  void (*axpy)(float *y, float a, const float *x, int n);
  /* s[i] = dot(q, k + i ks, n) * scale for i < m */
  void (*scores)(const float *q, const float *k, size_t ks, int m, int n, float scale, float *s);
  /* axpy(o, w[i], v + i vs, n) for i < m in order */
  void (*axpys)(const float *w, const float *v, size_t vs, int m, int n, float *o);
  /* d[i] = dot2(q, k + i ks, dO, v + i ks, n, &dp[i]) * scale for i < m */
  void (*scores2)(const float *q, const float *k, const float *dO, const float *v, size_t ks, int m,
                  int n, float scale, float *d, float *dp);
} vec_ops;

static float dot_scalar(const float *a, const float *b, int n) {
  float d = 0;
  for (int i = 0; i < n; i++) d += a[i] * b[i];
  return d;
}

/* a.b, and c.d into *cd */
static float dot2_scalar(const float *a, const float *b, const float *c, const float *d, int n,
                         float *cd) {
  float x = 0, y = 0;
  for (int i = 0; i < n; i++) {
    x += a[i] * b[i];
    y += c[i] * d[i];
  }
  *cd = y;
  return x;
}

static void axpy_scalar(float *y, float a, const float *x, int n) {
  for (int i = 0; i < n; i++) y[i] += a * x[i];
}

static void scores_scalar(const float *q, const float *k, size_t ks, int m, int n, float scale,
                          float *s) {
  for (int i = 0; i < m; i++) s[i] = dot_scalar(q, k + i * ks, n) * scale;
}

static void axpys_scalar(const float *w, const float *v, size_t vs, int m, int n, float *o) {
  for (int i = 0; i < m; i++) axpy_scalar(o, w[i], v + i * vs, n);
}

static void scores2_scalar(const float *q, const float *k, const float *dO, const float *v,
                           size_t ks, int m, int n, float scale, float *d, float *dp) {
  for (int i = 0; i < m; i++) d[i] = dot2_scalar(q, k + i * ks, dO, v + i * ks, n, &dp[i]) * scale;
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma"))) static inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/* n a multiple of 8 (the caller checks) */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b, int n) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
  }
  if (i < n) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
  return hsum256(_mm256_add_ps(s0, s1));
}

__attribute__((target("avx2,fma"))) static float
dot2_avx2(const float *a, const float *b, const float *c, const float *d, int n, float *cd) {
  __m256 x = _mm256_setzero_ps(), y = x;
  for (int i = 0; i < n; i += 8) {
    x = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), x);
    y = _mm256_fmadd_ps(_mm256_loadu_ps(c + i), _mm256_loadu_ps(d + i), y);
  }
  *cd = hsum256(y);
  return hsum256(x);
}

__attribute__((target("avx2,fma"))) static void axpy_avx2(float *y, float a, const float *x,
                                                          int n) {
  __m256 va = _mm256_set1_ps(a);
  for (int i = 0; i < n; i += 8)
    _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
}
/* scores_scalar's contract with dot_avx2's arithmetic (its two chains, its sum: the same bits),
 * four keys at a time: q's vectors are loaded once for the four, and the four keys' chains run
 * side by side instead of one short dependent chain per call. n a multiple of 8. */
__attribute__((target("avx2,fma"))) static void
scores_avx2(const float *q, const float *k, size_t ks, int m, int n, float scale, float *s) {
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    const float *k0 = k + i * ks, *k1 = k0 + ks, *k2 = k1 + ks, *k3 = k2 + ks;
    __m256 a0 = _mm256_setzero_ps(), b0 = a0, a1 = a0, b1 = a0, a2 = a0, b2 = a0, a3 = a0, b3 = a0;
    int e = 0;
    for (; e + 16 <= n; e += 16) {
      __m256 q0 = _mm256_loadu_ps(q + e), q1 = _mm256_loadu_ps(q + e + 8);
      a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k0 + e), a0);
      b0 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k0 + e + 8), b0);
      a1 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k1 + e), a1);
      b1 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k1 + e + 8), b1);
      a2 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k2 + e), a2);
      b2 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k2 + e + 8), b2);
      a3 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k3 + e), a3);
      b3 = _mm256_fmadd_ps(q1, _mm256_loadu_ps(k3 + e + 8), b3);
    }
    if (e < n) {
      __m256 q0 = _mm256_loadu_ps(q + e);
      a0 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k0 + e), a0);
      a1 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k1 + e), a1);
      a2 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k2 + e), a2);
      a3 = _mm256_fmadd_ps(q0, _mm256_loadu_ps(k3 + e), a3);
    }
    s[i] = hsum256(_mm256_add_ps(a0, b0)) * scale;
    s[i + 1] = hsum256(_mm256_add_ps(a1, b1)) * scale;
    s[i + 2] = hsum256(_mm256_add_ps(a2, b2)) * scale;
    s[i + 3] = hsum256(_mm256_add_ps(a3, b3)) * scale;
  }
  for (; i < m; i++) s[i] = dot_avx2(q, k + i * ks, n) * scale;
}

/* axpys_scalar's contract with axpy_avx2's arithmetic (one fused multiply-add per value and key,
 * keys in order: the same bits), o held in registers 64 floats at a time instead of loaded and
 * stored for every key. n a multiple of 8. */
__attribute__((target("avx2,fma"))) static void axpys_avx2(const float *w, const float *v,
                                                           size_t vs, int m, int n, float *o) {
  int c = 0;
  for (; c + 64 <= n; c += 64) {
    __m256 o0 = _mm256_loadu_ps(o + c), o1 = _mm256_loadu_ps(o + c + 8);
    __m256 o2 = _mm256_loadu_ps(o + c + 16), o3 = _mm256_loadu_ps(o + c + 24);
    __m256 o4 = _mm256_loadu_ps(o + c + 32), o5 = _mm256_loadu_ps(o + c + 40);
    __m256 o6 = _mm256_loadu_ps(o + c + 48), o7 = _mm256_loadu_ps(o + c + 56);
    for (int i = 0; i < m; i++) {
      const float *x = v + i * vs + c;
      __m256 a = _mm256_set1_ps(w[i]);
      o0 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x), o0);
      o1 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 8), o1);
      o2 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 16), o2);
      o3 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 24), o3);
      o4 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 32), o4);
      o5 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 40), o5);
      o6 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 48), o6);
      o7 = _mm256_fmadd_ps(a, _mm256_loadu_ps(x + 56), o7);
    }
    _mm256_storeu_ps(o + c, o0);
    _mm256_storeu_ps(o + c + 8, o1);
    _mm256_storeu_ps(o + c + 16, o2);
    _mm256_storeu_ps(o + c + 24, o3);
    _mm256_storeu_ps(o + c + 32, o4);
    _mm256_storeu_ps(o + c + 40, o5);
    _mm256_storeu_ps(o + c + 48, o6);
    _mm256_storeu_ps(o + c + 56, o7);
  }
  if (c < n) /* the last n % 64 floats key by key */
    for (int i = 0; i < m; i++) axpy_avx2(o + c, w[i], v + i * vs + c, n - c);
}

/* scores2_scalar's contract with dot2_avx2's arithmetic (one chain each, its sums: the same bits),
 * four keys at a time, q and dO loaded once for the four. n a multiple of 8. */
__attribute__((target("avx2,fma"))) static void scores2_avx2(const float *q, const float *k,
                                                             const float *dO, const float *v,
                                                             size_t ks, int m, int n, float scale,
                                                             float *d, float *dp) {
  int i = 0;
  for (; i + 4 <= m; i += 4) {
    const float *k0 = k + i * ks, *k1 = k0 + ks, *k2 = k1 + ks, *k3 = k2 + ks;
    const float *v0 = v + i * ks, *v1 = v0 + ks, *v2 = v1 + ks, *v3 = v2 + ks;
    __m256 x0 = _mm256_setzero_ps(), y0 = x0, x1 = x0, y1 = x0, x2 = x0, y2 = x0, x3 = x0, y3 = x0;
    for (int e = 0; e < n; e += 8) {
      __m256 qa = _mm256_loadu_ps(q + e), da = _mm256_loadu_ps(dO + e);
      x0 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k0 + e), x0);
      y0 = _mm256_fmadd_ps(da, _mm256_loadu_ps(v0 + e), y0);
      x1 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k1 + e), x1);
      y1 = _mm256_fmadd_ps(da, _mm256_loadu_ps(v1 + e), y1);
      x2 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k2 + e), x2);
      y2 = _mm256_fmadd_ps(da, _mm256_loadu_ps(v2 + e), y2);
      x3 = _mm256_fmadd_ps(qa, _mm256_loadu_ps(k3 + e), x3);
      y3 = _mm256_fmadd_ps(da, _mm256_loadu_ps(v3 + e), y3);
    }
    dp[i] = hsum256(y0);
    d[i] = hsum256(x0) * scale;
    dp[i + 1] = hsum256(y1);
    d[i + 1] = hsum256(x1) * scale;
    dp[i + 2] = hsum256(y2);
    d[i + 2] = hsum256(x2) * scale;
    dp[i + 3] = hsum256(y3);
    d[i + 3] = hsum256(x3) * scale;
  }
  for (; i < m; i++) d[i] = dot2_avx2(q, k + i * ks, dO, v + i * ks, n, &dp[i]) * scale;
}
#endif

static vec_ops vec_pick(int n) {
  vec_ops v = {dot_scalar, dot2_scalar, axpy_scalar, scores_scalar, axpys_scalar, scores2_scalar};
#ifdef HAVE_X86
  if (n % 8 == 0 && train__use_avx2())
    v = (vec_ops){dot_avx2, dot2_avx2, axpy_avx2, scores_avx2, axpys_avx2, scores2_avx2};
#else
  (void)n;
#endif
  return v;
}

/* ---- Attention ------------------------------------------------------------------------------- */

typedef struct attn_job {
  const train_attn *a;
  const float *q, *k, *v, *out, *lse, *dout;
  float *o, *lse_out, *dq, *dk, *dv;
  float *scratch;
  int n_slices;
  vec_ops vo;
} attn_job;

/* Forward rows (t, h) split over threads, scores softmaxed as model.c does (max subtracted, exp sum
 * in double; the exponentials through train__exp_scale: the AVX2 polynomial, 2e-7 from expf).
 * Scratch scores live on the stack in chunks of the row. */
static void attn_fwd_worker(int ith, int nth, void *arg) {
  const attn_job *j = arg;
  const train_attn *a = j->a;
  int hd = a->head_dim, nh = a->n_head, group = a->n_head / a->n_head_kv;
  size_t qd = (size_t)nh * hd, kvd = (size_t)a->n_head_kv * hd;
  float scale = 1.0f / sqrtf((float)hd);
  float *s = j->scratch + (size_t)ith * a->T;
  int total = a->T * nh;
  for (int item = ith; item < total; item += nth) {
    int t = item / nh, h = item % nh, kvh = h / group;
    int p0 = a->seg[t];
    MIMIC_DASSERT(p0 >= 0 && p0 <= t);
    const float *q = j->q + (size_t)t * qd + (size_t)h * hd;
    int m = t + 1 - p0;
    j->vo.scores(q, j->k + (size_t)p0 * kvd + (size_t)kvh * hd, kvd, m, hd, scale, s + p0);
    float mx = -INFINITY;
    for (int p = p0; p <= t; p++)
      if (s[p] > mx) mx = s[p];
    train__exp_scale(s + p0, m, mx, 1.0f); /* s = exp(s - mx), AVX2 where it can */
    double sum = 0;
    for (int p = p0; p <= t; p++) sum += s[p];
    float inv = (float)(1.0 / sum);
    for (int p = p0; p <= t; p++) s[p] *= inv; /* the weights of the values */
    float *o = j->o + (size_t)t * qd + (size_t)h * hd;
    memset(o, 0, (size_t)hd * sizeof *o);
    j->vo.axpys(s + p0, j->v + (size_t)p0 * kvd + (size_t)kvh * hd, kvd, m, hd, o);
    j->lse_out[(size_t)t * nh + h] = mx + (float)log(sum);
  }
}

/* The attention's shape contract (GQA: query heads share kv heads evenly). */
static void attn_check(const train_attn *a) {
  MIMIC_ASSERT(a->T > 0 && a->head_dim > 0 && a->n_head_kv > 0);
  MIMIC_ASSERT(a->n_head >= a->n_head_kv && a->n_head % a->n_head_kv == 0);
  MIMIC_ASSERT(a->seg != NULL);
}

size_t train__attn_scratch(const train_attn *a) {
  /* Per slice: dk and dv partial sums (T, kvd) each; slices are fixed (not per thread) so the
   * reduction order never depends on the thread count. */
  size_t kvd = (size_t)a->n_head_kv * a->head_dim;
  return 8 * 2 * (size_t)a->T * kvd;
}

void train__attn_fwd(compute_pool *pool, const train_attn *a, const float *q, const float *k,
                     const float *v, float *out, float *lse) {
  float stack[4096];
  attn_check(a);
  float *scr = NULL;
  int nth = pool ? compute_pool_threads(pool) : 1;
  size_t need = (size_t)nth * a->T;
  float *s = need <= sizeof stack / sizeof stack[0] ? stack : (scr = xalloc(need * sizeof(float)));
  attn_job j = {
      a, q, k, v, NULL, NULL, NULL, out, lse, NULL, NULL, NULL, s, 0, vec_pick(a->head_dim)};
  if (pool)
    compute_pool_run(pool, attn_fwd_worker, &j);
  else
    attn_fwd_worker(0, 1, &j);
  mem_free(scr);
}

/* Keys per run of the backward pass's exponentials. */
#define ATTN_RUN 16

/* Backward for the rows of one slice of queries: with p the recomputed probabilities,
 * dp_s = dO . v_s, D = dO . O, ds_s = p_s (dp_s - D); dq = scale sum ds_s k_s,
 * dk_s += scale ds_s q, dv_s += p_s dO. dk/dv go to the slice's own partial buffers. */
static void attn_bwd_worker(int ith, int nth, void *arg) {
  const attn_job *j = arg;
  const train_attn *a = j->a;
  int T = a->T, hd = a->head_dim, nh = a->n_head, group = a->n_head / a->n_head_kv;
  size_t qd = (size_t)nh * hd, kvd = (size_t)a->n_head_kv * hd;
  float scale = 1.0f / sqrtf((float)hd);
  for (int sl = ith; sl < j->n_slices; sl += nth) {
    float *pdk = j->scratch + (size_t)sl * 2 * (size_t)T * kvd;
    float *pdv = pdk + (size_t)T * kvd;
    memset(pdk, 0, 2 * (size_t)T * kvd * sizeof(float));
    int t0 = (int)((int64_t)T * sl / j->n_slices), t1 = (int)((int64_t)T * (sl + 1) / j->n_slices);
    for (int t = t0; t < t1; t++) {
      int p0 = a->seg[t];
      MIMIC_DASSERT(p0 >= 0 && p0 <= t);
      for (int h = 0; h < nh; h++) {
        int kvh = h / group;
        const float *q = j->q + (size_t)t * qd + (size_t)h * hd;
        const float *o = j->out + (size_t)t * qd + (size_t)h * hd;
        const float *dO = j->dout + (size_t)t * qd + (size_t)h * hd;
        float *dq = j->dq + (size_t)t * qd + (size_t)h * hd;
        float lse = j->lse[(size_t)t * nh + h];
        float D = j->vo.dot(dO, o, hd);
        memset(dq, 0, (size_t)hd * sizeof *dq);
        /* keys in runs of ATTN_RUN: the run's scores, their exponentials in one vector pass
         * (train__exp_scale), then its gradients while its keys and values are still in L1 */
        for (int r0 = p0; r0 <= t; r0 += ATTN_RUN) {
          int n = t + 1 - r0 < ATTN_RUN ? t + 1 - r0 : ATTN_RUN;
          float pr[ATTN_RUN], dp[ATTN_RUN], ds[ATTN_RUN];
          const float *kr = j->k + (size_t)r0 * kvd + (size_t)kvh * hd;
          j->vo.scores2(q, kr, dO, j->v + (size_t)r0 * kvd + (size_t)kvh * hd, kvd, n, hd, scale,
                        pr, dp);
          train__exp_scale(pr, n, lse, 1.0f); /* pr = exp(d scale - lse) */
          for (int i = 0; i < n; i++) ds[i] = pr[i] * (dp[i] - D) * scale;
          j->vo.axpys(ds, kr, kvd, n, hd, dq); /* dq += ds_i k_i, keys in order */
          for (int i = 0; i < n; i++) {
            int p = r0 + i;
            float *dk = pdk + (size_t)p * kvd + (size_t)kvh * hd;
            float *dv = pdv + (size_t)p * kvd + (size_t)kvh * hd;
            j->vo.axpy(dk, ds[i], q, hd);
            j->vo.axpy(dv, pr[i], dO, hd);
          }
        }
      }
    }
  }
}

typedef struct reduce_job {
  float *dk, *dv;
  const float *scratch;
  size_t n, stride;
  int n_slices;
} reduce_job;

static void attn_reduce_worker(int ith, int nth, void *arg) {
  const reduce_job *r = arg;
  size_t per = (r->n + (size_t)nth - 1) / (size_t)nth, i0 = per * (size_t)ith;
  size_t i1 = i0 + per < r->n ? i0 + per : r->n;
  for (size_t i = i0; i < i1; i++) {
    float sk = 0, sv = 0;
    for (int sl = 0; sl < r->n_slices; sl++) {
      const float *p = r->scratch + (size_t)sl * r->stride;
      sk += p[i];
      sv += p[r->n + i];
    }
    r->dk[i] = sk;
    r->dv[i] = sv;
  }
}

void train__attn_bwd(compute_pool *pool, const train_attn *a, const float *q, const float *k,
                     const float *v, const float *out, const float *lse, const float *dout,
                     float *dq, float *dk, float *dv, float *scratch) {
  attn_check(a);
  MIMIC_ASSERT(scratch != NULL);
  size_t kvd = (size_t)a->n_head_kv * a->head_dim;
  int n_slices = a->T < 8 ? a->T : 8;
  attn_job j = {
      a, q, k, v, out, lse, dout, NULL, NULL, dq, dk, dv, scratch, n_slices, vec_pick(a->head_dim)};
  if (pool)
    compute_pool_run(pool, attn_bwd_worker, &j);
  else
    attn_bwd_worker(0, 1, &j);
  reduce_job r = {dk, dv, scratch, (size_t)a->T * kvd, 2 * (size_t)a->T * kvd, n_slices};
  if (pool)
    compute_pool_run(pool, attn_reduce_worker, &r);
  else
    attn_reduce_worker(0, 1, &r);
}

/* ---- Exponentials over rows (the lm head's softmax, SwiGLU's backward): AVX2 with a Cephes-style
 * polynomial (relative error ~2e-7 over the range used), scalar expf as the reference. */

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static double sum_exp_avx2(const float *z, int64_t n,
                                                               float mx) {
  __m256 m = _mm256_set1_ps(mx), acc = _mm256_setzero_ps();
  double sum = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    acc = _mm256_add_ps(acc, llm_vexp_avx2(_mm256_sub_ps(_mm256_loadu_ps(z + i), m)));
    if ((i & 1023) == 1016) { /* fold into the double every 128 vectors */
      sum += hsum256(acc);
      acc = _mm256_setzero_ps();
    }
  }
  sum += hsum256(acc);
  for (; i < n; i++) sum += expf(z[i] - mx);
  return sum;
}

__attribute__((target("avx2,fma"))) static void exp_scale_avx2(float *z, int64_t n, float sub,
                                                               float scale) {
  __m256 m = _mm256_set1_ps(sub), sc = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(z + i,
                     _mm256_mul_ps(sc, llm_vexp_avx2(_mm256_sub_ps(_mm256_loadu_ps(z + i), m))));
  for (; i < n; i++) z[i] = scale * expf(z[i] - sub);
}

/* sum_exp_avx2 and exp_scale_avx2 (sub = mx) in one pass: each exponential computed once, the
 * same vectors, the same sum in the same order, the same stores. */
__attribute__((target("avx2,fma"))) static double sum_exp_scale_avx2(float *z, int64_t n, float mx,
                                                                     float scale) {
  __m256 m = _mm256_set1_ps(mx), sc = _mm256_set1_ps(scale), acc = _mm256_setzero_ps();
  double sum = 0;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 e = llm_vexp_avx2(_mm256_sub_ps(_mm256_loadu_ps(z + i), m));
    acc = _mm256_add_ps(acc, e);
    _mm256_storeu_ps(z + i, _mm256_mul_ps(sc, e));
    if ((i & 1023) == 1016) {
      sum += hsum256(acc);
      acc = _mm256_setzero_ps();
    }
  }
  sum += hsum256(acc);
  for (; i < n; i++) {
    float e = expf(z[i] - mx);
    sum += e;
    z[i] = scale * e;
  }
  return sum;
}

__attribute__((target("avx2,fma"))) static void
swiglu_bwd_avx2(int64_t n, const float *g, const float *u, const float *dh, float *dg, float *du) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gv = _mm256_loadu_ps(g + i), d = _mm256_loadu_ps(dh + i);
    __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, llm_vexp_avx2(_mm256_sub_ps(zero, gv))));
    _mm256_storeu_ps(du + i, _mm256_mul_ps(d, _mm256_mul_ps(gv, s)));
    __m256 t = _mm256_fmadd_ps(gv, _mm256_sub_ps(one, s), one);
    _mm256_storeu_ps(dg + i,
                     _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, _mm256_loadu_ps(u + i)), s), t));
  }
  for (; i < n; i++) {
    float s = 1.0f / (1.0f + expf(-g[i])), d = dh[i];
    du[i] = d * (g[i] * s);
    dg[i] = d * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

__attribute__((target("avx2,fma"))) static void swiglu_avx2(int64_t n, const float *g,
                                                            const float *u, float *h) {
  const __m256 one = _mm256_set1_ps(1.0f), zero = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gv = _mm256_loadu_ps(g + i);
    __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, llm_vexp_avx2(_mm256_sub_ps(zero, gv))));
    _mm256_storeu_ps(h + i, _mm256_mul_ps(_mm256_mul_ps(gv, s), _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
#endif

bool train__use_avx2(void) {
#ifdef HAVE_X86
  return strcmp(train__gemm_kernel(), "scalar") != 0;
#else
  return false;
#endif
}

double train__sum_exp(const float *z, int64_t n, float mx) {
#ifdef HAVE_X86
  if (train__use_avx2()) return sum_exp_avx2(z, n, mx);
#endif
  double sum = 0;
  for (int64_t i = 0; i < n; i++) sum += expf(z[i] - mx);
  return sum;
}

double train__sum_exp_scale(float *z, int64_t n, float mx, float scale) {
#ifdef HAVE_X86
  if (train__use_avx2()) return sum_exp_scale_avx2(z, n, mx, scale);
#endif
  double sum = 0;
  for (int64_t i = 0; i < n; i++) {
    float e = expf(z[i] - mx);
    sum += e;
    z[i] = scale * e;
  }
  return sum;
}

void train__exp_scale(float *z, int64_t n, float sub, float scale) {
#ifdef HAVE_X86
  if (train__use_avx2()) {
    exp_scale_avx2(z, n, sub, scale);
    return;
  }
#endif
  for (int64_t i = 0; i < n; i++) z[i] = scale * expf(z[i] - sub);
}

/* ---- SwiGLU ---------------------------------------------------------------------------------- */

/* The forward stays on libm's expf as before, so the forward pass does not move away from the
 * engine's logits. */
void train__swiglu_fwd(int64_t n, const float *g, const float *u, float *h) {
  for (int64_t i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void train__swiglu_bwd_h(int64_t n, const float *g, const float *u, float *h) {
#ifdef HAVE_X86
  if (train__use_avx2()) {
    swiglu_avx2(n, g, u, h);
    return;
  }
#endif
  train__swiglu_fwd(n, g, u, h);
}

/* silu'(g) = s (1 + g (1 - s)) with s = sigmoid(g). */
void train__swiglu_bwd(int64_t n, const float *g, const float *u, const float *dh, float *dg,
                       float *du) {
#ifdef HAVE_X86
  if (train__use_avx2()) {
    swiglu_bwd_avx2(n, g, u, dh, dg, du);
    return;
  }
#endif
  for (int64_t i = 0; i < n; i++) {
    float s = 1.0f / (1.0f + expf(-g[i]));
    float si = g[i] * s, d = dh[i];
    du[i] = d * si;
    dg[i] = d * u[i] * s * (1.0f + g[i] * (1.0f - s));
  }
}

/* ---- Activations kept at 16 bits ------------------------------------------------------------- */

/* The power-of-two scale 2^k that brings a row's largest magnitude `mx` under 2^15 (so no finite
 * value overflows a half), and its inverse; a zero row or one with an infinity keeps scale 1. NaNs
 * are ignored by the max and stay NaNs through the conversion (an infinity stays one), for the
 * optimizer's non-finite check to see. */
static void half_scale(float mx, float *sc, float *inv) {
  int e = 0, k = 0;
  if (mx > 0 && isfinite(mx)) {
    (void)frexpf(mx, &e); /* mx = f 2^e, f in [0.5, 1) */
    k = 15 - e;
    if (k > 100) k = 100; /* tiny rows: stay within float range both ways */
  }
  *sc = ldexpf(1.0f, k);
  *inv = ldexpf(1.0f, -k);
}

typedef struct half_job {
  int n;
  const float *x;
  float *y;
  uint16_t *h;
  float *inv;
} half_job;

#ifdef HAVE_X86
__attribute__((target("avx2,fma,f16c"))) static void half_put_avx2(void *arg, int64_t b,
                                                                   int64_t e) {
  const half_job *j = arg;
  const __m256 abs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
  for (int64_t t = b; t < e; t++) {
    const float *x = j->x + t * j->n;
    uint16_t *h = j->h + t * j->n;
    __m256 m = _mm256_setzero_ps();
    int i = 0;
    for (; i + 8 <= j->n; i += 8) m = _mm256_max_ps(m, _mm256_and_ps(abs, _mm256_loadu_ps(x + i)));
    float mx = hmax256(m);
    for (; i < j->n; i++) mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
    float sc;
    half_scale(mx, &sc, &j->inv[t]);
    __m256 s = _mm256_set1_ps(sc);
    for (i = 0; i + 8 <= j->n; i += 8)
      _mm_storeu_si128((__m128i *)(h + i), _mm256_cvtps_ph(_mm256_mul_ps(s, _mm256_loadu_ps(x + i)),
                                                           _MM_FROUND_TO_NEAREST_INT));
    for (; i < j->n; i++) h[i] = quant_f32_to_fp16(sc * x[i]);
  }
}

__attribute__((target("avx2,fma,f16c"))) static void half_get_avx2(void *arg, int64_t b,
                                                                   int64_t e) {
  const half_job *j = arg;
  for (int64_t t = b; t < e; t++) {
    const uint16_t *h = j->h + t * j->n;
    float *y = j->y + t * j->n;
    __m256 s = _mm256_set1_ps(j->inv[t]);
    int i = 0;
    for (; i + 8 <= j->n; i += 8)
      _mm256_storeu_ps(
          y + i, _mm256_mul_ps(s, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i)))));
    for (; i < j->n; i++) y[i] = j->inv[t] * quant_fp16_to_f32(h[i]);
  }
}
#endif

static void half_put_scalar(void *arg, int64_t b, int64_t e) {
  const half_job *j = arg;
  for (int64_t t = b; t < e; t++) {
    const float *x = j->x + t * j->n;
    uint16_t *h = j->h + t * j->n;
    float mx = 0, sc;
    for (int i = 0; i < j->n; i++) mx = fabsf(x[i]) > mx ? fabsf(x[i]) : mx;
    half_scale(mx, &sc, &j->inv[t]);
    for (int i = 0; i < j->n; i++) h[i] = quant_f32_to_fp16(sc * x[i]);
  }
}

static void half_get_scalar(void *arg, int64_t b, int64_t e) {
  const half_job *j = arg;
  for (int64_t t = b; t < e; t++)
    for (int i = 0; i < j->n; i++)
      j->y[t * j->n + i] = j->inv[t] * quant_fp16_to_f32(j->h[t * j->n + i]);
}

static bool use_f16c(void) {
#ifdef HAVE_X86
  return strcmp(train__gemm_kernel(), "scalar") != 0 && __builtin_cpu_supports("f16c");
#else
  return false;
#endif
}

void train__half_put(compute_pool *pool, int T, int n, const float *x, uint16_t *h, float *inv) {
  MIMIC_ASSERT(T >= 0 && n > 0);
  half_job j = {n, x, NULL, h, inv};
  void (*fn)(void *, int64_t, int64_t) = half_put_scalar;
#ifdef HAVE_X86
  if (use_f16c()) fn = half_put_avx2;
#endif
  compute_pool_for(pool, T, 16, fn, &j);
}

void train__half_get(compute_pool *pool, int T, int n, const uint16_t *h, const float *inv,
                     float *y) {
  MIMIC_ASSERT(T >= 0 && n > 0);
  half_job j = {n, NULL, y, (uint16_t *)h, (float *)inv};
  void (*fn)(void *, int64_t, int64_t) = half_get_scalar;
#ifdef HAVE_X86
  if (use_f16c()) fn = half_get_avx2;
#endif
  compute_pool_for(pool, T, 16, fn, &j);
}

/* ---- Cross-entropy of one row ---------------------------------------------------------------- */

double train__logp_row(const float *z, int V, int target, float dlogp, float *dz) {
  MIMIC_ASSERT(V > 0 && target >= 0 && target < V);
  float mx = -INFINITY;
  for (int i = 0; i < V; i++)
    if (z[i] > mx) mx = z[i];
  double sum = 0;
  for (int i = 0; i < V; i++) sum += exp((double)(z[i] - mx));
  double lse = mx + log(sum);
  if (dz) {
    for (int i = 0; i < V; i++) dz[i] = -dlogp * (float)exp((double)z[i] - lse);
    dz[target] += dlogp;
  }
  return (double)z[target] - lse;
}

/* ---- RNG ------------------------------------------------------------------------------------- */

float train__rng_normal(train_rng *r) {
  double u1 = train__rng_uniform(r), u2 = train__rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}
