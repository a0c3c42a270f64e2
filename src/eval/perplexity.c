/* Held-out perplexity through mimic's own forward pass: each sample is rendered with the model's
 * chat template, the context is evaluated once, and the assistant turn's tokens are scored from the
 * logits of the tokens before them (log-softmax in double precision). Base and adapter runs share
 * the model and context. Not here: generation (the CLI uses llm_backend) or training loss. */
#include <math.h>
#include <string.h>

#include "base/base.h"
#include "eval/eval.h"
#include "llm/chat.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "llm/quant.h"
#include "llm/tokenizer.h"

double eval_ppl_value(double nll, int64_t tokens) {
  return tokens > 0 ? exp(nll / (double)tokens) : NAN;
}

void eval_ppl_free(eval_ppl *p) {
  if (!p) return;
  mem_free(p->authors);
  memset(p, 0, sizeof *p);
}

static eval_ppl_author *author_of(eval_ppl *p, const char *reply) {
  char name[64];
  if (!eval_speaker(reply, name, sizeof name)) str_lcpy(name, "(unnamed)", sizeof name);
  for (size_t i = 0; i < p->n_authors; i++)
    if (strcmp(p->authors[i].name, name) == 0) return &p->authors[i];
  if (p->n_authors == EVAL_MAX_AUTHORS) {
    eval_ppl_author *o = &p->authors[EVAL_MAX_AUTHORS - 1];
    str_lcpy(o->name, "(others)", sizeof o->name);
    return o;
  }
  if (!p->authors) p->authors = xcalloc(EVAL_MAX_AUTHORS, sizeof *p->authors);
  eval_ppl_author *a = &p->authors[p->n_authors++];
  str_lcpy(a->name, name, sizeof a->name);
  return a;
}

/* Logit rows held at once while scoring a reply (bounds memory at EVAL_ROWS * n_vocab floats). */
#define EVAL_ROWS 64

/* -log softmax(row)[id] in double precision. */
static double nll_of(const float *row, int n_vocab, int32_t id) {
  float mx = row[0];
  for (int i = 1; i < n_vocab; i++)
    if (row[i] > mx) mx = row[i];
  double s = 0;
  for (int i = 0; i < n_vocab; i++) s += exp((double)row[i] - (double)mx);
  return log(s) + (double)mx - (double)row[id];
}

/* Scores ids[p..e) given ids[0..p) (p >= 1). Returns the summed NLL through *nll. */
static int score(llm_ctx *ctx, const int32_t *ids, int p, int e, const llm_lora *lora, float scale,
                 int n_vocab, float *last, float *rows, double *nll) {
  int rc;
  *nll = 0;
  if ((rc = llm_forward(ctx, 0, ids, p, 0, lora, scale, last, LLM_LOGITS_LAST))) return rc;
  *nll += nll_of(last, n_vocab, ids[p]);
  int k = e - p - 1; /* tokens fed to predict ids[p+1..e), in chunks of EVAL_ROWS */
  for (int off = 0; off < k; off += EVAL_ROWS) {
    int c = k - off < EVAL_ROWS ? k - off : EVAL_ROWS;
    if ((rc = llm_forward(ctx, 0, ids + p + off, c, p + off, lora, scale, rows, LLM_LOGITS_ALL)))
      return rc;
    for (int t = 0; t < c; t++)
      *nll += nll_of(rows + (size_t)t * (size_t)n_vocab, n_vocab, ids[p + off + 1 + t]);
  }
  return 0;
}

int eval_perplexity(const eval_ppl_opts *o, const eval_dataset *ds, eval_ppl *base,
                    eval_ppl *tuned) {
  memset(base, 0, sizeof *base);
  if (tuned) memset(tuned, 0, sizeof *tuned);
  llm_model *m = NULL;
  llm_lora *lora = NULL;
  tokenizer *tok = NULL;
  compute_pool *cpool = NULL;
  llm_ctx *ctx = NULL;
  float *last = NULL, *rows = NULL;
  chat_msg *cm = NULL;
  int32_t *pre = NULL, *full = NULL;
  int rc;
  if ((rc = llm_model_load(o->model_path, &m))) goto out;
  if (o->lora_path && *o->lora_path && (rc = llm_lora_load(m, o->lora_path, &lora))) goto out;
  if ((rc = tok_load(llm_model_gguf(m), &tok))) {
    rc = err_prefix(rc, "%s", o->model_path);
    goto out;
  }
  const llm_hparams *hp = llm_model_hparams(m);
  chat_family fam = chat_choose(tok, NULL);
  int n_ctx = o->n_ctx > 0
                  ? o->n_ctx
                  : (hp->n_ctx_train > 0 && hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096);
  cpool = compute_pool_new(o->threads);
  llm_ctx_params cp = {.n_ctx = n_ctx, .n_slots = 1, .n_batch = 256, .pool = cpool};
  if ((rc = llm_ctx_new(m, &cp, &ctx))) goto out;
  int nv = hp->n_vocab;
  last = xalloc((size_t)nv * sizeof *last);
  rows = xalloc((size_t)EVAL_ROWS * (size_t)nv * sizeof *rows);
  cm = xcalloc(EVAL_MAX_TURNS, sizeof *cm);
  for (size_t i = 0; i < ds->n; i++) {
    const eval_sample *s = &ds->s[i];
    for (size_t k = 0; k < s->n; k++)
      cm[k] = (chat_msg){.role = s->turns[k].role, .content = s->turns[k].content};
    size_t np = 0, nf = 0;
    mem_free(pre);
    mem_free(full);
    pre = full = NULL;
    if ((rc = chat_encode(tok, fam, cm, s->n - 1, true, &pre, &np)) ||
        (rc = chat_encode(tok, fam, cm, s->n, false, &full, &nf))) {
      rc = err_prefix(rc, "sample %zu", i + 1);
      goto out;
    }
    if (np == 0 || nf <= np || memcmp(pre, full, np * sizeof *pre) != 0) {
      rc = err_set(MIMIC_EUNSUPPORTED,
                   "sample %zu: the chat template does not render the reply after "
                   "the generation prompt, so its tokens cannot be isolated",
                   i + 1);
      goto out;
    }
    size_t e = nf; /* score through the end-of-turn token, not the newline after it */
    for (size_t t = np; t < nf; t++)
      if (tok_is_eog(tok, full[t])) {
        e = t + 1;
        break;
      }
    if (e > (size_t)n_ctx) {
      base->skipped++;
      if (tuned) tuned->skipped++;
      continue;
    }
    const char *reply = s->turns[s->n - 1].content;
    for (int pass = 0; pass < (lora && tuned ? 2 : 1); pass++) {
      eval_ppl *P = pass ? tuned : base;
      double nll;
      if ((rc = score(ctx, full, (int)np, (int)e, pass ? lora : NULL,
                      o->lora_scale > 0 ? o->lora_scale : 1, nv, last, rows, &nll))) {
        rc = err_prefix(rc, "sample %zu", i + 1);
        goto out;
      }
      int64_t nt = (int64_t)(e - np);
      P->nll += nll;
      P->tokens += nt;
      P->samples++;
      eval_ppl_author *a = author_of(P, reply);
      a->nll += nll;
      a->tokens += nt;
      a->samples++;
    }
    if (o->progress) o->progress(i + 1, ds->n, o->user);
  }
out:
  mem_free(pre);
  mem_free(full);
  mem_free(cm);
  mem_free(last);
  mem_free(rows);
  llm_ctx_destroy(ctx);
  compute_pool_destroy(cpool);
  tok_destroy(tok);
  llm_lora_destroy(lora);
  llm_model_destroy(m);
  if (rc) {
    eval_ppl_free(base);
    eval_ppl_free(tuned);
  }
  return rc;
}
