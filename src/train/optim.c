/* AdamW with gradient clipping and a warmup + cosine schedule. The moments live here, one pair per
 * trainable tensor of the model, so a checkpoint can save and restore them exactly. Not here: how
 * the gradients were accumulated (the trainer averages them before calling train_optim_step). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "train/train_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

struct train_optim {
  train_optim_opts o;
  int n;
  float **m, **v;
  int64_t t;
};

static train_optim_opts opts_default(const train_optim_opts *in) {
  train_optim_opts o = {0};
  if (in) o = *in;
  if (!(o.lr > 0)) o.lr = 1e-3f;
  if (!(o.min_lr >= 0) || o.min_lr == 0) o.min_lr = o.lr / 10;
  if (!(o.beta1 > 0)) o.beta1 = 0.9f;
  if (!(o.beta2 > 0)) o.beta2 = 0.999f;
  if (!(o.eps > 0)) o.eps = 1e-8f;
  if (!(o.weight_decay >= 0)) o.weight_decay = 0;
  if (!(o.clip >= 0)) o.clip = 1.0f;
  if (o.warmup < 0) o.warmup = 0;
  if (o.total < 1) o.total = 1;
  return o;
}

double train_lr_at(const train_optim_opts *in, int64_t step) {
  train_optim_opts o = opts_default(in);
  if (step < o.warmup) return (double)o.lr * (double)(step + 1) / (double)o.warmup;
  double span = (double)(o.total - o.warmup);
  double p = span > 0 ? (double)(step - o.warmup) / span : 1.0;
  if (p > 1) p = 1;
  return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + cos(3.14159265358979323846 * p));
}

int train_optim_new(const train_model *cm, const train_optim_opts *in, train_optim **out) {
  train_model *m = (train_model *)cm;
  train_optim *o = xcalloc(1, sizeof *o);
  o->o = opts_default(in);
  o->n = train_model_n_params(m);
  o->m = xcalloc((size_t)o->n + 1, sizeof *o->m);
  o->v = xcalloc((size_t)o->n + 1, sizeof *o->v);
  for (int i = 0; i < o->n; i++) {
    size_t n = train_model_param(m, i)->n;
    o->m[i] = mem_calloc(n, sizeof(float));
    o->v[i] = mem_calloc(n, sizeof(float));
    if (!o->m[i] || !o->v[i]) {
      train_optim_destroy(o);
      *out = NULL;
      return err_set(MIMIC_ENOMEM, "out of memory for the optimizer state");
    }
  }
  *out = o;
  return 0;
}

void train_optim_destroy(train_optim *o) {
  if (!o) return;
  for (int i = 0; i < o->n; i++) {
    mem_free(o->m[i]);
    mem_free(o->v[i]);
  }
  mem_free(o->m);
  mem_free(o->v);
  mem_free(o);
}

int64_t train_optim_steps(const train_optim *o) { return o->t; }
void train_optim_set_steps(train_optim *o, int64_t t) { o->t = t; }
const train_optim_opts *train_optim_opts_get(const train_optim *o) { return &o->o; }

float *train_optim_moment(train_optim *o, int i, int which) {
  if (i < 0 || i >= o->n) return NULL;
  return which ? o->v[i] : o->m[i];
}

/* The scalar reference; the AVX2 loop below does the same operations in the same order (no fused
 * multiply-adds: C11 mode contracts nothing), so both give the same bits. */
static void adamw_scalar(size_t n, float *w, const float *gr, float *mm, float *vv,
                         const train_adamw *a) {
  for (size_t k = 0; k < n; k++) {
    float g = gr[k] * a->clip;
    mm[k] = a->b1 * mm[k] + (1.0f - a->b1) * g;
    vv[k] = a->b2 * vv[k] + (1.0f - a->b2) * g * g;
    float mh = mm[k] * a->b1h, vh = sqrtf(vv[k] * a->b2h) + a->eps;
    w[k] = w[k] * a->keep - a->lr * mh / vh;
  }
}

#ifdef HAVE_X86
__attribute__((target("avx2"))) static void adamw_avx2(size_t n, float *w, const float *gr,
                                                       float *mm, float *vv, const train_adamw *a) {
  __m256 clip = _mm256_set1_ps(a->clip), b1 = _mm256_set1_ps(a->b1), b2 = _mm256_set1_ps(a->b2);
  __m256 c1 = _mm256_set1_ps(1.0f - a->b1), c2 = _mm256_set1_ps(1.0f - a->b2);
  __m256 b1h = _mm256_set1_ps(a->b1h), b2h = _mm256_set1_ps(a->b2h), eps = _mm256_set1_ps(a->eps);
  __m256 keep = _mm256_set1_ps(a->keep), lr = _mm256_set1_ps(a->lr);
  size_t k = 0;
  for (; k + 8 <= n; k += 8) {
    __m256 g = _mm256_mul_ps(_mm256_loadu_ps(gr + k), clip);
    __m256 m = _mm256_add_ps(_mm256_mul_ps(b1, _mm256_loadu_ps(mm + k)), _mm256_mul_ps(c1, g));
    __m256 v = _mm256_add_ps(_mm256_mul_ps(b2, _mm256_loadu_ps(vv + k)),
                             _mm256_mul_ps(_mm256_mul_ps(c2, g), g));
    _mm256_storeu_ps(mm + k, m);
    _mm256_storeu_ps(vv + k, v);
    __m256 mh = _mm256_mul_ps(m, b1h);
    __m256 vh = _mm256_add_ps(_mm256_sqrt_ps(_mm256_mul_ps(v, b2h)), eps);
    __m256 wk = _mm256_mul_ps(_mm256_loadu_ps(w + k), keep);
    _mm256_storeu_ps(w + k, _mm256_sub_ps(wk, _mm256_div_ps(_mm256_mul_ps(lr, mh), vh)));
  }
  adamw_scalar(n - k, w + k, gr + k, mm + k, vv + k, a);
}
#endif

void train__adamw(size_t n, float *w, const float *g, float *m, float *v, const train_adamw *a) {
#ifdef HAVE_X86
  if (strcmp(train__gemm_kernel(), "scalar") != 0) {
    adamw_avx2(n, w, g, m, v, a);
    return;
  }
#endif
  adamw_scalar(n, w, g, m, v, a);
}

int train_optim_step(train_optim *o, train_model *m, double *grad_norm) {
  double ss = 0;
  for (int i = 0; i < o->n; i++) {
    const train_param *p = train_model_param(m, i);
    for (size_t k = 0; k < p->n; k++) ss += (double)p->g[k] * p->g[k];
  }
  double norm = sqrt(ss);
  if (grad_norm) *grad_norm = norm;
  if (!isfinite(norm))
    return err_set(MIMIC_ERANGE, "the gradient is not finite (norm %g); update skipped", norm);
  float clip = 1.0f;
  if (o->o.clip > 0 && norm > o->o.clip) clip = (float)(o->o.clip / norm);
  float lr = (float)train_lr_at(&o->o, o->t);
  o->t++;
  float b1 = o->o.beta1, b2 = o->o.beta2;
  float b1h = (float)(1.0 / (1.0 - pow(b1, (double)o->t))),
        b2h = (float)(1.0 / (1.0 - pow(b2, (double)o->t)));
  for (int i = 0; i < o->n; i++) {
    train_param *p = train_model_param(m, i);
    float *mm = o->m[i], *vv = o->v[i];
    float keep = p->decay ? 1.0f - lr * o->o.weight_decay : 1.0f;
    train_adamw a = {clip, b1, b2, b1h, b2h, o->o.eps, keep, lr};
    train__adamw(p->n, p->w, p->g, mm, vv, &a);
  }
  return 0;
}
