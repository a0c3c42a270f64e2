/* AdamW with gradient clipping and a warmup + cosine schedule. The moments live here, one pair per
 * trainable tensor of the model, so a checkpoint can save and restore them exactly. Not here: how
 * the gradients were accumulated (the trainer averages them before calling train_optim_step). */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "train/train_int.h"

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
    for (size_t k = 0; k < p->n; k++) {
      float g = p->g[k] * clip;
      mm[k] = b1 * mm[k] + (1.0f - b1) * g;
      vv[k] = b2 * vv[k] + (1.0f - b2) * g * g;
      float mh = mm[k] * b1h, vh = sqrtf(vv[k] * b2h) + o->o.eps;
      p->w[k] = p->w[k] * keep - lr * mh / vh;
    }
  }
  return 0;
}
