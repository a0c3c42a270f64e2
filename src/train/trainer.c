/* The training run behind `mimic train`: builds the model (LoRA over a base, or from scratch),
 * loads and packs the data, then loops optimizer steps of `accum` packed sequences each (SFT: mean
 * NLL over the step's target tokens; DPO/ORPO: mean pair loss), with validation every N steps,
 * checkpoints every K steps (plus the adapter/model written next to them), a CSV log, a progress
 * bar, and a loss-curve SVG at the end. Everything random derives from the seed and the step
 * number, so a resumed run continues exactly where the checkpoint left it. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
#include "base/str.h"
#include "train/train_int.h"

/* ---- Preference losses ----------------------------------------------------------------------- */

static double log_sigmoid(double x) { return x >= 0 ? -log1p(exp(-x)) : x - log1p(exp(x)); }
static double sigmoid(double x) { return x >= 0 ? 1.0 / (1.0 + exp(-x)) : exp(x) / (1.0 + exp(x)); }

double train_pref_loss(train_stage stage, double beta, double pc, double pr, double rc, double rr,
                       int nc, int nr, double *dpc, double *dpr) {
  if (stage == TRAIN_ORPO) {
    double a = pc / (nc > 0 ? nc : 1), b = pr / (nr > 0 ? nr : 1);
    /* mean log-probs are < 0; keep log1p(-e^x) finite at the edge */
    if (a > -1e-7) a = -1e-7;
    if (b > -1e-7) b = -1e-7;
    double lo = (a - b) - (log1p(-exp(a)) - log1p(-exp(b)));
    double fa = 1.0 / (1.0 - exp(a)), fb = 1.0 / (1.0 - exp(b));
    double s = sigmoid(-lo);
    double da = -1.0 - beta * s * fa, db = beta * s * fb;
    *dpc = da / (nc > 0 ? nc : 1);
    *dpr = db / (nr > 0 ? nr : 1);
    return -a - beta * log_sigmoid(lo);
  }
  double z = beta * ((pc - rc) - (pr - rr));
  double s = sigmoid(-z);
  *dpc = -beta * s;
  *dpr = beta * s;
  return -log_sigmoid(z);
}

/* ---- The run --------------------------------------------------------------------------------- */

typedef struct hist {
  double *step, *val;
  size_t n, cap;
} hist;

static void hist_add(hist *h, double step, double v) {
  if (h->n == h->cap) {
    h->cap = h->cap ? 2 * h->cap : 256;
    h->step = xrealloc(h->step, h->cap * sizeof *h->step);
    h->val = xrealloc(h->val, h->cap * sizeof *h->val);
  }
  h->step[h->n] = step;
  h->val[h->n++] = v;
}

static void hist_free(hist *h) {
  mem_free(h->step);
  mem_free(h->val);
}

typedef struct run {
  const train_run_opts *o;
  train_run_opts d; /* o with defaults filled */
  train_model *m;
  train_data *data, *valid;
  train_optim *opt;
  train_pack *packs;
  uint32_t **ids; /* item ids packed in each pack */
  train_pack vpack;
  uint32_t *order;
  uint64_t epoch;
  size_t cursor;
  float *ref, *vref; /* DPO: reference sums (chosen, rejected) per pair; vref points into ref */
  size_t n_ref;
  float *logp, *dl;
  int64_t total;
  char ckpt[1024], csv[1024], svg[1024], fp[1024];
  hist tr, va;
  double flops;
} run;

static void path_or(char *dst, size_t cap, const char *given, const char *out, const char *suffix) {
  if (given)
    snprintf(dst, cap, "%s", given);
  else
    snprintf(dst, cap, "%s%s", out, suffix);
}

/* The next pack of training items, moving to a new epoch (and a new order) at the end of one. */
static void next_pack(run *r, int k) {
  train_pack *p = &r->packs[k];
  size_t n = train_data_items(r->data);
  if (r->cursor >= n) {
    r->epoch++;
    r->cursor = 0;
    mem_free(r->order);
    r->order = train_data_order(r->data, r->d.seed, r->epoch);
  }
  size_t c0 = r->cursor;
  int items = train_pack_fill(p, r->data, r->order, n, &r->cursor);
  for (int i = 0; i < items; i++) r->ids[k][i] = r->order[c0 + (size_t)i];
}

/* Sum of log-probs over a segment's target rows [s, e). */
static double seg_sum(const train_pack *p, const float *logp, int s, int e, int *n) {
  double sum = 0;
  *n = 0;
  for (int t = s; t < e; t++)
    if (p->tgt[t] >= 0) sum += logp[t], (*n)++;
  return sum;
}

static int seg_end(const train_pack *p, int i) {
  return i + 1 < p->n_items ? p->item_seg[i + 1] : p->T;
}

/* Reference sums for every pair of d under the current (initial) policy. */
static int dpo_reference(run *r, const train_data *d, float *ref) {
  size_t n = train_data_items(d);
  uint32_t *ord = xalloc((n ? n : 1) * sizeof *ord);
  for (size_t i = 0; i < n; i++) ord[i] = (uint32_t)i;
  size_t cur = 0;
  int rc = 0;
  while (cur < n && !rc) {
    size_t c0 = cur;
    int items = train_pack_fill(&r->vpack, d, ord, n, &cur);
    if ((rc = train_model_forward(r->m, &r->vpack.b, r->logp, NULL))) break;
    for (int k = 0; k < items; k++) {
      int nc, nr;
      ref[2 * (c0 + k)] = (float)seg_sum(&r->vpack, r->logp, r->vpack.item_seg[2 * k],
                                         seg_end(&r->vpack, 2 * k), &nc);
      ref[2 * (c0 + k) + 1] = (float)seg_sum(&r->vpack, r->logp, r->vpack.item_seg[2 * k + 1],
                                             seg_end(&r->vpack, 2 * k + 1), &nr);
    }
  }
  mem_free(ord);
  return rc;
}

/* Loss over the pack after a forward pass; fills r->dl scaled by 1/denom when grad. For pairs,
 * *acc counts pairs the policy prefers the chosen answer of (relative to the reference). */
static double pack_loss(run *r, const train_pack *p, const uint32_t *ids, const float *ref,
                        double denom, bool grad, int *acc) {
  double loss = 0;
  if (grad) memset(r->dl, 0, (size_t)p->T * sizeof *r->dl);
  if (r->d.stage == TRAIN_SFT) {
    for (int t = 0; t < p->T; t++)
      if (p->tgt[t] >= 0) {
        loss -= r->logp[t];
        if (grad) r->dl[t] = (float)(-1.0 / denom);
      }
    return loss / denom;
  }
  for (int k = 0; k < p->n_items / 2; k++) {
    int sc = p->item_seg[2 * k], ec = seg_end(p, 2 * k), sr = p->item_seg[2 * k + 1],
        er = seg_end(p, 2 * k + 1);
    int nc, nr;
    double pc = seg_sum(p, r->logp, sc, ec, &nc), pr = seg_sum(p, r->logp, sr, er, &nr);
    double rc = ref ? ref[2 * (size_t)ids[k]] : 0, rr = ref ? ref[2 * (size_t)ids[k] + 1] : 0;
    double dpc, dpr;
    loss += train_pref_loss(r->d.stage, r->d.beta, pc, pr, rc, rr, nc, nr, &dpc, &dpr) / denom;
    if (acc && (pc - rc) - (pr - rr) > 0) (*acc)++;
    if (grad) {
      for (int t = sc; t < ec; t++)
        if (p->tgt[t] >= 0) r->dl[t] = (float)(dpc / denom);
      for (int t = sr; t < er; t++)
        if (p->tgt[t] >= 0) r->dl[t] = (float)(dpr / denom);
    }
  }
  return loss;
}

/* Mean validation loss over at most eval_batches sequences (NAN without a validation set). */
static int evaluate(run *r, double *out) {
  *out = NAN;
  if (!r->valid) return 0;
  size_t n = train_data_items(r->valid);
  uint32_t *ord = xalloc((n ? n : 1) * sizeof *ord);
  uint32_t *ids = xalloc((size_t)r->d.seq_len * sizeof *ids);
  for (size_t i = 0; i < n; i++) ord[i] = (uint32_t)i;
  size_t cur = 0;
  double sum = 0, denom = 0;
  int rc = 0;
  for (int b = 0; b < r->d.eval_batches && cur < n; b++) {
    size_t c0 = cur;
    int items = train_pack_fill(&r->vpack, r->valid, ord, n, &cur);
    for (int i = 0; i < items; i++) ids[i] = (uint32_t)(c0 + (size_t)i);
    if ((rc = train_model_forward(r->m, &r->vpack.b, r->logp, NULL))) break;
    if (r->d.stage == TRAIN_SFT) {
      sum += pack_loss(r, &r->vpack, ids, NULL, 1.0, false, NULL);
      denom += r->vpack.n_target;
    } else {
      sum += pack_loss(r, &r->vpack, ids, r->vref, 1.0, false, NULL);
      denom += items;
    }
  }
  mem_free(ord);
  mem_free(ids);
  if (!rc && denom > 0) *out = sum / denom;
  return rc;
}

/* ---- Log, SVG, progress ---------------------------------------------------------------------- */

static const char csv_header[] =
    "step,epoch,lr,loss,val_loss,grad_norm,tokens,tok_per_s,elapsed_s\n";

/* Keeps the rows up to step `upto` of an existing log (a resumed run rewrites what came after its
 * checkpoint) and loads them into the history. */
static int csv_open(run *r, int64_t upto, FILE **out) {
  FILE *old = upto > 0 ? fopen(r->csv, "r") : NULL;
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", r->csv);
  FILE *f = fopen(tmp, "w");
  if (!f) {
    if (old) fclose(old);
    return err_set(MIMIC_EIO, "%s: cannot write the training log: %s", tmp, strerror(errno));
  }
  fputs(csv_header, f);
  if (old) {
    char line[512];
    while (fgets(line, sizeof line, old)) {
      double step, ep, lr, loss;
      char val[64] = "";
      if (sscanf(line, "%lf,%lf,%lf,%lf,%63[^,]", &step, &ep, &lr, &loss, val) < 4 ||
          step > (double)upto)
        continue;
      fputs(line, f);
      hist_add(&r->tr, step, loss);
      double v;
      if (val[0] && str_to_double(val, &v) == 0) hist_add(&r->va, step, v);
    }
    fclose(old);
  }
  fflush(f);
  if (rename(tmp, r->csv) != 0) {
    fclose(f);
    return err_set(MIMIC_EIO, "%s: cannot write the training log: %s", r->csv, strerror(errno));
  }
  *out = f;
  return 0;
}

static void svg_curve(FILE *f, const hist *h, double x0, double x1, double y0, double y1,
                      const char *color, bool dots) {
  if (!h->n) return;
  const double W = 560, H = 300, L = 60, T = 30;
  if (!dots)
    fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", color);
  size_t stride = h->n > 2000 ? h->n / 2000 : 1;
  for (size_t i = 0; i < h->n; i += stride) {
    double x = L + (x1 > x0 ? (h->step[i] - x0) / (x1 - x0) : 0.5) * W;
    double y = T + (y1 > y0 ? (y1 - h->val[i]) / (y1 - y0) : 0.5) * H;
    if (dots)
      fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", x, y, color);
    else
      fprintf(f, "%.1f,%.1f ", x, y);
  }
  if (!dots) fprintf(f, "\"/>\n");
}

static int write_svg(const run *r) {
  char tmp[1100];
  snprintf(tmp, sizeof tmp, "%s.tmp", r->svg);
  FILE *f = fopen(tmp, "w");
  if (!f) return err_set(MIMIC_EIO, "%s: cannot write the loss curve: %s", tmp, strerror(errno));
  double x0 = 1e300, x1 = -1e300, y0 = 1e300, y1 = -1e300;
  const hist *hs[2] = {&r->tr, &r->va};
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < hs[k]->n; i++) {
      if (!isfinite(hs[k]->val[i])) continue;
      x0 = fmin(x0, hs[k]->step[i]), x1 = fmax(x1, hs[k]->step[i]);
      y0 = fmin(y0, hs[k]->val[i]), y1 = fmax(y1, hs[k]->val[i]);
    }
  if (x0 > x1) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
  if (y1 - y0 < 1e-9) y1 = y0 + 1;
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"640\" height=\"380\" "
             "font-family=\"sans-serif\" "
             "font-size=\"12\">\n<rect width=\"640\" height=\"380\" fill=\"white\"/>\n");
  fprintf(f, "<text x=\"320\" y=\"18\" text-anchor=\"middle\">mimic train: %s loss</text>\n",
          r->d.stage == TRAIN_SFT   ? "SFT"
          : r->d.stage == TRAIN_DPO ? "DPO"
                                    : "ORPO");
  fprintf(f, "<path d=\"M60 30 V330 H620\" fill=\"none\" stroke=\"#333\"/>\n");
  for (int k = 0; k <= 4; k++) {
    double y = 30 + 300.0 * k / 4, v = y1 - (y1 - y0) * k / 4;
    fprintf(f, "<text x=\"55\" y=\"%.0f\" text-anchor=\"end\">%.3g</text>\n", y + 4, v);
    fprintf(f, "<path d=\"M60 %.0f H620\" stroke=\"#eee\"/>\n", y);
  }
  fprintf(f,
          "<text x=\"60\" y=\"348\">step %.0f</text><text x=\"620\" y=\"348\" "
          "text-anchor=\"end\">step %.0f</text>\n",
          x0, x1);
  svg_curve(f, &r->tr, x0, x1, y0, y1, "#1f77b4", false);
  svg_curve(f, &r->va, x0, x1, y0, y1, "#d62728", r->va.n < 3);
  if (r->va.n >= 3) svg_curve(f, &r->va, x0, x1, y0, y1, "#d62728", true);
  fprintf(f, "<text x=\"70\" y=\"370\" fill=\"#1f77b4\">training</text>"
             "<text x=\"150\" y=\"370\" fill=\"#d62728\">validation</text>\n</svg>\n");
  bool ok = fflush(f) == 0 && !ferror(f);
  fclose(f);
  if (!ok || rename(tmp, r->svg) != 0)
    return err_set(MIMIC_EIO, "%s: cannot write the loss curve", r->svg);
  return 0;
}

static void fmt_eta(double s, char *out, size_t cap) {
  if (!isfinite(s) || s < 0) s = 0;
  long t = (long)(s + 0.5);
  if (t >= 3600)
    snprintf(out, cap, "%ldh%02ldm", t / 3600, (t / 60) % 60);
  else
    snprintf(out, cap, "%ldm%02lds", t / 60, t % 60);
}

/* ---- Setup ----------------------------------------------------------------------------------- */

static train_run_opts defaults(const train_run_opts *o) {
  train_run_opts d = *o;
  if (d.seq_len <= 0) d.seq_len = 512;
  if (d.accum <= 0) d.accum = 1;
  if (!(d.epochs > 0)) d.epochs = 1;
  if (d.eval_batches <= 0) d.eval_batches = 20;
  if (d.ckpt_every < 0)
    d.ckpt_every = 0;
  else if (d.ckpt_every == 0)
    d.ckpt_every = 50;
  if (!(d.beta > 0)) d.beta = 0.1f;
  if (!d.seed) d.seed = 1;
  return d;
}

static void fingerprint(run *r) {
  const train_run_opts *d = &r->d;
  const train_optim_opts *op = train_optim_opts_get(r->opt);
  const llm_hparams *hp = train_model_hparams(r->m);
  snprintf(r->fp, sizeof r->fp,
           "stage=%d model=%s/%s L%d E%d H%d/%d F%d V%d lora=%d/%g/%g/%x seq=%d accum=%d "
           "steps=%lld lr=%g/%g "
           "warmup=%lld wd=%g clip=%g beta=%g seed=%llu items=%zu",
           (int)d->stage, d->from_scratch ? "scratch" : "lora", hp->arch_name, hp->n_layer,
           hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_vocab,
           d->from_scratch ? 0 : d->lora.rank, (double)d->lora.alpha, (double)d->lora.dropout,
           d->lora.targets, d->seq_len, d->accum, (long long)r->total, (double)op->lr,
           (double)op->min_lr, (long long)op->warmup, (double)op->weight_decay, (double)op->clip,
           (double)d->beta, (unsigned long long)d->seed, train_data_items(r->data));
}

static int64_t count_steps(run *r) {
  if (r->d.steps > 0) return r->d.steps;
  size_t n = train_data_items(r->data);
  uint32_t *ord = train_data_order(r->data, r->d.seed, 0);
  size_t cur = 0;
  int64_t packs = 0;
  while (cur < n) {
    train_pack_fill(&r->vpack, r->data, ord, n, &cur);
    packs++;
  }
  mem_free(ord);
  double steps = ceil(r->d.epochs * (double)packs / r->d.accum);
  return steps < 1 ? 1 : (int64_t)steps;
}

static void run_free(run *r) {
  if (r->packs)
    for (int k = 0; k < r->d.accum; k++) train_pack_free(&r->packs[k]);
  if (r->ids)
    for (int k = 0; k < r->d.accum; k++) mem_free(r->ids[k]);
  mem_free(r->packs);
  mem_free(r->ids);
  train_pack_free(&r->vpack);
  mem_free(r->order);
  mem_free(r->ref);
  mem_free(r->logp);
  mem_free(r->dl);
  hist_free(&r->tr);
  hist_free(&r->va);
  train_optim_destroy(r->opt);
  train_data_destroy(r->data);
  train_data_destroy(r->valid);
  train_model_destroy(r->m);
}

static int save_all(run *r, int64_t step) {
  train_ckpt st = {step, r->epoch, r->cursor, r->fp};
  int rc = train_ckpt_save(r->ckpt, r->m, r->opt, &st, r->ref, r->n_ref);
  if (!rc) rc = train_model_export(r->m, r->d.out);
  return rc;
}

int train_run(const train_run_opts *o, train_result *res) {
  run R;
  memset(&R, 0, sizeof R);
  run *r = &R;
  r->o = o;
  r->d = defaults(o);
  memset(res, 0, sizeof *res);
  res->val_loss = NAN;
  FILE *csv = NULL;
  int rc = 0;
  if (!r->d.out || !r->d.data)
    return err_set(MIMIC_EINVAL, "training needs a data file and an output path");
  if (!r->d.from_scratch && !r->d.base)
    return err_set(MIMIC_EINVAL,
                   "LoRA training needs a base model (--base M.gguf), or use --from-scratch");
  if (r->d.from_scratch && r->d.stage != TRAIN_SFT)
    return err_set(MIMIC_EINVAL,
                   "DPO and ORPO run as LoRA over a model (give the SFT model as --base)");
  if (r->d.accum > 1024)
    return err_set(MIMIC_EINVAL, "--accum %d is over the cap of 1024", r->d.accum);
  path_or(r->ckpt, sizeof r->ckpt, r->d.ckpt, r->d.out, ".ckpt");
  path_or(r->csv, sizeof r->csv, r->d.log_csv, r->d.out, ".csv");
  path_or(r->svg, sizeof r->svg, r->d.svg, r->d.out, ".svg");

  if (r->d.from_scratch)
    rc = train_model_new_scratch(&r->d.scratch, r->d.seed, r->d.seq_len, r->d.pool, &r->m);
  else
    rc = train_model_new_lora(r->d.base, &r->d.lora, r->d.seed, r->d.seq_len, r->d.pool, &r->m);
  if (rc) goto out;
  bool pairs = r->d.stage != TRAIN_SFT;
  const tokenizer *tk = train_model_tokenizer(r->m);
  if ((rc = train_data_load(r->d.data, tk, pairs, r->d.seq_len, &r->data))) goto out;
  if (r->d.valid && (rc = train_data_load(r->d.valid, tk, pairs, r->d.seq_len, &r->valid)))
    goto out;
  LOG_I("train", "%s: %zu %s, %llu tokens (%llu with a loss)", r->d.data, train_data_items(r->data),
        pairs ? "pairs" : "samples", (unsigned long long)r->data->n_tokens,
        (unsigned long long)r->data->n_target);
  if ((rc = train_pack_init(&r->vpack, r->d.seq_len))) goto out;
  r->packs = xcalloc((size_t)r->d.accum, sizeof *r->packs);
  r->ids = xcalloc((size_t)r->d.accum, sizeof *r->ids);
  for (int k = 0; k < r->d.accum; k++) {
    if ((rc = train_pack_init(&r->packs[k], r->d.seq_len))) goto out;
    r->ids[k] = xalloc((size_t)r->d.seq_len * sizeof **r->ids);
  }
  r->logp = xalloc((size_t)r->d.seq_len * sizeof *r->logp);
  r->dl = xalloc((size_t)r->d.seq_len * sizeof *r->dl);
  r->total = count_steps(r);
  train_optim_opts oo = r->d.optim;
  oo.total = r->total;
  if ((rc = train_optim_new(r->m, &oo, &r->opt))) goto out;
  fingerprint(r);

  /* Resume, or start: DPO's reference log-probs come from the policy as it is now (the SFT
   * adapter given with --init, or the base), once. */
  int64_t step = 0;
  r->order = train_data_order(r->data, r->d.seed, 0);
  size_t n_ref = 0;
  if (r->d.stage == TRAIN_DPO) {
    /* one vector: (chosen, rejected) per training pair, then per validation pair */
    size_t ntr = train_data_items(r->data), nva = r->valid ? train_data_items(r->valid) : 0;
    n_ref = r->n_ref = 2 * (ntr + nva);
    r->ref = xcalloc(n_ref, sizeof *r->ref);
    if (r->valid) r->vref = r->ref + 2 * ntr;
  }
  bool resumed = false;
  if (r->d.resume && access(r->ckpt, F_OK) == 0) {
    train_ckpt st = {0, 0, 0, r->fp};
    if ((rc = train_ckpt_load(r->ckpt, r->m, r->opt, &st, r->ref, n_ref))) goto out;
    step = st.step;
    r->epoch = st.epoch;
    r->cursor = (size_t)st.cursor;
    mem_free(r->order);
    r->order = train_data_order(r->data, r->d.seed, r->epoch);
    resumed = true;
    LOG_I("train", "resumed from %s at step %lld (epoch %llu, item %zu)", r->ckpt, (long long)step,
          (unsigned long long)r->epoch, r->cursor);
  } else if (r->d.resume) {
    LOG_I("train", "%s does not exist yet: starting from the beginning", r->ckpt);
  }
  if (r->ref && !resumed) {
    if ((rc = dpo_reference(r, r->data, r->ref))) goto out;
    if (r->vref && (rc = dpo_reference(r, r->valid, r->vref))) goto out;
  }
  if ((rc = csv_open(r, resumed ? step : 0, &csv))) goto out;

  uint64_t t_start = clock_mono_ns();
  int64_t session = 0;
  double loss = NAN, val = NAN;
  while (step < r->total) {
    /* one optimizer step: pack, count, forward + backward each sequence */
    double denom = 0;
    uint64_t toks = 0;
    for (int k = 0; k < r->d.accum; k++) {
      next_pack(r, k);
      denom += pairs ? r->packs[k].n_items / 2 : r->packs[k].n_target;
      toks += (uint64_t)r->packs[k].T;
    }
    if (denom <= 0) denom = 1;
    train_model_zero_grad(r->m);
    loss = 0;
    int acc = 0;
    for (int k = 0; k < r->d.accum; k++) {
      train_pack *p = &r->packs[k];
      p->b.dropout_key =
          (r->d.seed * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)step << 16) ^ (uint64_t)k ^ 1;
      if ((rc = train_model_forward(r->m, &p->b, r->logp, NULL))) goto out;
      loss += pack_loss(r, p, r->ids[k], r->ref, denom, true, &acc);
      train_model_backward(r->m, &p->b, r->dl);
      r->flops += train_model_flops(r->m, p->T, p->n_target);
    }
    double gn = 0;
    double lr = train_lr_at(train_optim_opts_get(r->opt), step);
    rc = train_optim_step(r->opt, r->m, &gn);
    if (rc) {
      err_prefix(rc, "step %lld (loss %g)", (long long)step + 1, loss);
      goto out;
    }
    step++;
    session++;
    res->tokens += toks;
    if (session == 1) res->first_loss = loss;
    hist_add(&r->tr, (double)step, loss);
    bool eval_now =
        r->valid && ((r->d.eval_every > 0 && step % r->d.eval_every == 0) || step == r->total);
    if (eval_now) {
      if ((rc = evaluate(r, &val))) goto out;
      hist_add(&r->va, (double)step, val);
    }
    double el = (double)(clock_mono_ns() - t_start) / 1e9;
    double tps = el > 0 ? (double)res->tokens / el : 0;
    char vs[32] = "";
    if (eval_now) snprintf(vs, sizeof vs, "%.6g", val);
    fprintf(csv, "%lld,%.4f,%.6g,%.6g,%s,%.4g,%llu,%.1f,%.2f\n", (long long)step,
            (double)r->epoch + (double)r->cursor / (double)train_data_items(r->data), lr, loss, vs,
            gn, (unsigned long long)res->tokens, tps, el);
    fflush(csv);
    double eta = (double)(r->total - step) * el / (double)session;
    char etas[32];
    fmt_eta(eta, etas, sizeof etas);
    char accs[48] = "";
    if (pairs) snprintf(accs, sizeof accs, " acc %.2f", denom > 0 ? acc / denom : 0);
    char vbuf[40] = "";
    if (isfinite(val)) snprintf(vbuf, sizeof vbuf, " val %.4f", val);
    if (r->d.progress) {
      int width = 24, fill = (int)((double)width * (double)step / (double)r->total);
      char bar[32];
      for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
      bar[width] = '\0';
      fprintf(stderr, "\rstep %lld/%lld [%s] loss %.4f%s%s | %.0f tok/s | ETA %s   ",
              (long long)step, (long long)r->total, bar, loss, vbuf, accs, tps, etas);
      fflush(stderr);
    } else if (step % 10 == 0 || step == r->total || session == 1) {
      LOG_I("train", "step %lld/%lld loss %.4f%s%s lr %.3g | %.0f tok/s | ETA %s", (long long)step,
            (long long)r->total, loss, vbuf, accs, lr, tps, etas);
    }
    if ((r->d.ckpt_every > 0 && step % r->d.ckpt_every == 0) && step < r->total &&
        (rc = save_all(r, step)))
      goto out;
    if (r->d.stop_after > 0 && session >= r->d.stop_after) break;
  }
  if (r->d.progress) fputc('\n', stderr);
  res->seconds = (double)(clock_mono_ns() - t_start) / 1e9;
  res->steps = step;
  res->loss = loss;
  res->val_loss = r->va.n ? r->va.val[r->va.n - 1] : NAN;
  res->tokens_per_s = res->seconds > 0 ? (double)res->tokens / res->seconds : 0;
  res->gflops = res->seconds > 0 ? r->flops / res->seconds / 1e9 : 0;
  res->finished = step >= r->total;
  if (res->finished) {
    if ((rc = train_model_export(r->m, r->d.out))) goto out;
    train_ckpt st = {step, r->epoch, r->cursor, r->fp};
    if ((rc = train_ckpt_save(r->ckpt, r->m, r->opt, &st, r->ref, r->n_ref))) goto out;
    if ((rc = write_svg(r))) goto out;
    LOG_I("train", "done: %lld steps, loss %.4f%s, wrote %s (log %s, curve %s)", (long long)step,
          loss, isfinite(res->val_loss) ? "" : "", r->d.out, r->csv, r->svg);
  }
out:
  if (csv) fclose(csv);
  run_free(r);
  return rc;
}
