/* The training run behind `mimic train`: builds the model (LoRA over a base, or from scratch),
 * loads and packs the data, then loops optimizer steps of `accum` packed sequences each (SFT: mean
 * NLL over the step's target tokens; DPO/ORPO: mean pair loss), with validation every N steps and
 * checkpoints every K steps (plus the adapter/model written next to them). Everything random
 * derives from the seed and the step number, so a resumed run continues exactly where the
 * checkpoint left it. Not here: showing progress, the CSV log and the loss curve (the caller's
 * progress callback; cli/progress.c), loading an adapter to start from or writing one (export.c).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/log.h"
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
  char ckpt[1024], fp[1024];
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

/* Sends one event to the caller's callback, if any. */
static int report(const run *r, const train_progress *p) {
  return r->d.on_progress ? r->d.on_progress(p, r->d.progress_user) : 0;
}

static double epoch_at(const run *r) {
  size_t n = train_data_items(r->data);
  return (double)r->epoch + (n ? (double)r->cursor / (double)n : 0);
}

/* Whether the run should stop at this step boundary (deadline or the caller's stop callback). */
static train_stop stop_now(const run *r) {
  if (r->d.deadline_ns && clock_mono_ns() >= r->d.deadline_ns) return TRAIN_STOP_DEADLINE;
  if (r->d.stop && r->d.stop(r->d.stop_user)) return TRAIN_STOP_ASKED;
  return TRAIN_STOP_NONE;
}

/* Seconds to the last step at this session's pace, or to the deadline when that comes first. */
static double eta_at(const run *r, int64_t step, int64_t session, double elapsed) {
  double eta = (double)(r->total - step) * elapsed / (double)session;
  if (r->d.deadline_ns) {
    uint64_t now = clock_mono_ns();
    double left = r->d.deadline_ns > now ? (double)(r->d.deadline_ns - now) / 1e9 : 0;
    if (left < eta) eta = left;
  }
  return eta;
}

/* Builds the model the options ask for; a LoRA run starting from an adapter loads it here (the
 * model knows nothing of files: export.c reads them into it). */
static int build_model(run *r) {
  int rc;
  if (r->d.from_scratch)
    return train_model_new_scratch(&r->d.scratch, r->d.seed, r->d.seq_len, r->d.pool, &r->m);
  if ((rc = train_model_new_lora(r->d.base, &r->d.lora, r->d.seed, r->d.seq_len, r->d.pool, &r->m)))
    return rc;
  if (r->d.lora.init && (rc = train_model_load_adapter(r->m, r->d.lora.init))) return rc;
  return 0;
}

int train_run(const train_run_opts *o, train_result *res) {
  run R;
  memset(&R, 0, sizeof R);
  run *r = &R;
  r->o = o;
  r->d = defaults(o);
  memset(res, 0, sizeof *res);
  res->val_loss = NAN;
  res->loss = NAN;
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

  if ((rc = build_model(r))) goto out;
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
    if (step >= r->total) {
      /* nothing left to do: say so rather than report a session of zero steps */
      res->steps = step;
      res->finished = true;
      res->already_finished = true;
      goto out;
    }
    LOG_I("train", "resumed from %s at step %lld (epoch %llu, item %zu)", r->ckpt, (long long)step,
          (unsigned long long)r->epoch, r->cursor);
  } else if (r->d.resume) {
    LOG_I("train", "%s does not exist yet: starting from the beginning", r->ckpt);
  }
  if (r->ref && !resumed) {
    if ((rc = dpo_reference(r, r->data, r->ref))) goto out;
    if (r->vref && (rc = dpo_reference(r, r->valid, r->vref))) goto out;
  }
  train_progress ev = {.ev = TRAIN_EV_BEGIN,
                       .stage = r->d.stage,
                       .step = step,
                       .total = r->total,
                       .resumed = resumed,
                       .epoch = epoch_at(r),
                       .lr = NAN,
                       .loss = NAN,
                       .grad_norm = NAN,
                       .val_loss = NAN,
                       .accuracy = NAN};
  if ((rc = report(r, &ev))) goto out;

  uint64_t t_start = clock_mono_ns();
  int64_t session = 0;
  double loss = NAN, val = NAN;
  bool val_at_step = false; /* the last step ran a validation */
  train_stop stopped = TRAIN_STOP_NONE;
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
      if (r->d.stage == TRAIN_SFT) {
        /* dlogp does not depend on the log-probs: the backward pass computes them, saving the
         * lm head's forward product (train_model_backward_logp) */
        if ((rc = train_model_forward(r->m, &p->b, NULL, NULL))) goto out;
        for (int t = 0; t < p->T; t++) r->dl[t] = p->tgt[t] >= 0 ? (float)(-1.0 / denom) : 0.0f;
        train_model_backward_logp(r->m, &p->b, r->dl, r->logp);
        loss += pack_loss(r, p, r->ids[k], r->ref, denom, false, &acc);
      } else {
        if ((rc = train_model_forward(r->m, &p->b, r->logp, NULL))) goto out;
        loss += pack_loss(r, p, r->ids[k], r->ref, denom, true, &acc);
        train_model_backward(r->m, &p->b, r->dl);
      }
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
    if (step < r->total && r->d.stop_after <= 0) stopped = stop_now(r);
    /* validation at its interval and at the last step (not at an early stop: its time is up) */
    val_at_step =
        r->valid && ((r->d.eval_every > 0 && step % r->d.eval_every == 0) || step == r->total);
    double v = NAN;
    if (val_at_step) {
      if ((rc = evaluate(r, &v))) goto out;
      val = v;
    }
    double el = (double)(clock_mono_ns() - t_start) / 1e9;
    ev = (train_progress){.ev = TRAIN_EV_STEP,
                          .stage = r->d.stage,
                          .step = step,
                          .total = r->total,
                          .session = session,
                          .resumed = resumed,
                          .epoch = epoch_at(r),
                          .lr = lr,
                          .loss = loss,
                          .grad_norm = gn,
                          .val_loss = v,
                          .accuracy = pairs ? acc / denom : NAN,
                          .tokens = res->tokens,
                          .tokens_per_s = el > 0 ? (double)res->tokens / el : 0,
                          .elapsed_s = el,
                          .eta_s = eta_at(r, step, session, el)};
    if ((rc = report(r, &ev))) goto out;
    if (stopped != TRAIN_STOP_NONE) break;
    if ((r->d.ckpt_every > 0 && step % r->d.ckpt_every == 0) && step < r->total &&
        (rc = save_all(r, step)))
      goto out;
    if (r->d.stop_after > 0 && session >= r->d.stop_after) {
      stopped = TRAIN_STOP_AFTER;
      break;
    }
  }
  res->seconds = (double)(clock_mono_ns() - t_start) / 1e9;
  res->steps = step;
  res->loss = loss;
  res->val_loss = val;
  res->tokens_per_s = res->seconds > 0 ? (double)res->tokens / res->seconds : 0;
  res->gflops = res->seconds > 0 ? r->flops / res->seconds / 1e9 : 0;
  res->finished = step >= r->total;
  res->stopped = res->finished ? TRAIN_STOP_NONE : stopped;
  if (res->stopped == TRAIN_STOP_AFTER) goto out; /* as if killed: nothing more is written */
  if ((rc = save_all(r, step))) goto out;
  ev.ev = TRAIN_EV_END;
  ev.stopped = res->stopped;
  ev.val_loss = val_at_step ? val : NAN;
  if ((rc = report(r, &ev))) goto out;
  LOG_I("train", "%s: %lld steps, loss %.4f, wrote %s", res->finished ? "done" : "stopped early",
        (long long)step, loss, r->d.out);
out:
  run_free(r);
  return rc;
}
