/* The engine: the scheduler behind the "local" llm_backend (see engine.h and
 * docs/internals/engine.md). One engine thread owns the model context. Each turn of its loop:
 *   1. moves newly submitted requests from the queue into the pending list;
 *   2. admits pending requests to KV slots (a request with a slot key goes back to the slot that
 *      key used last, so its conversation's prefix is reused; otherwise an idle slot, the least
 *      recently used first), renders and tokenizes their prompts;
 *   3. evaluates ONE prompt chunk (at most `batch` tokens) of one admitted request, round robin, so
 *      a long prompt delays running generations by one chunk at most;
 *   4. advances every generating request by one token in one batched forward pass.
 * When the binding has a mixed step (llm_lm.step), 3 and 4 are one pass instead: every generating
 * request's next token and the next chunk of as many prompts as fit `batch` rows (at least one,
 * starting round robin; a chunk that does not fit takes the rows left in whole fours), so prompts
 * arriving together share the weight reads with each other and with decoding, as llama-server's
 * continuous batching does. Each item's results are the bits it would get alone. Cancellation is
 * checked every turn. Matrix work inside the model runs on its compute pool. */
#include "llm/engine.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/base.h"
#include "base/hash.h"
#include "llm/backend_impl.h"

typedef struct adapter {
  char *name;
  void *lora;
  float scale;
  int refs; /* the table's reference (while current) + one per job using it */
  struct adapter *next;
} adapter;

typedef struct eslot {
  uint64_t key; /* conversation it last served; 0 = none */
  bool busy;
  uint64_t used; /* tick of its last admission (LRU) */
} eslot;

typedef enum { EJ_PENDING = 0, EJ_PROMPT, EJ_GEN } ej_state;

typedef struct ejob {
  llm_job *job;
  adapter *ad; /* holds a reference; NULL = no adapter */
  float scale;
  uint64_t key;
  ej_state state;
  int slot;
  int32_t *prompt;
  int n_prompt, n_done, n_evaluated;
  llm_sampler *smp;
  llm_stop stop;
  bool stop_ok;
  float *logits;
  int n_gen;
  int32_t next_tok; /* mixed steps: the token being decoded */
  int chunk_end;    /* mixed steps: the prompt prefix this turn's chunk brings the slot to */
  uint64_t t_admit, t_gen;
  llm_result *res;
  struct ejob *next;
} ejob;

typedef struct engine {
  llm_backend base;
  llm_lm lm;
  int batch, queue_max;
  queue *q;
  pthread_t thread;
  bool thread_started;
  atomic_int waiting; /* submitted, not yet admitted */
  atomic_int running; /* admitted, not finished */
  pthread_mutex_t ad_mu;
  adapter *adapters;
  /* engine thread only: */
  eslot *slots;
  ejob *pending, *active; /* singly linked, in arrival order */
  uint64_t tick;
  int32_t *eog;
  int n_eog;
  llm_lm_item *items;
  llm_lm_step *steps;
  ejob **batch_jobs;
  uint64_t rr; /* round robin over prompt chunks */
} engine;

uint64_t llm_engine_key(const char *s) {
  if (!s || !*s) return 0;
  uint64_t h = hash_fnv64(s, strlen(s));
  return h ? h : 1;
}

/* ---- adapters (any thread, under ad_mu) ---- */

static void adapter_unref(engine *e, adapter *a) {
  if (!a) return;
  pthread_mutex_lock(&e->ad_mu);
  bool last = --a->refs == 0;
  pthread_mutex_unlock(&e->ad_mu);
  if (!last) return;
  e->lm.lora_free(e->lm.self, a->lora);
  mem_free(a->name);
  mem_free(a);
}

static int eng_adapter_load(llm_backend *b, const char *name, const char *path, float scale) {
  engine *e = (engine *)b;
  if (!e->lm.lora_load) return err_set(MIMIC_EUNSUPPORTED, "this model does not take adapters");
  if (!(scale >= 0 && scale <= 16))
    return err_set(MIMIC_EINVAL, "%s: adapter scale must be between 0 and 16", path);
  void *lora = NULL;
  int rc = e->lm.lora_load(e->lm.self, path, &lora);
  if (rc) return rc;
  adapter *a = xcalloc(1, sizeof *a);
  a->name = xstrdup(name);
  a->lora = lora;
  a->scale = scale;
  a->refs = 1;
  pthread_mutex_lock(&e->ad_mu);
  adapter *old = NULL, **pp = &e->adapters;
  for (; *pp; pp = &(*pp)->next)
    if (strcmp((*pp)->name, name) == 0) {
      old = *pp;
      *pp = old->next;
      break;
    }
  a->next = e->adapters;
  e->adapters = a;
  pthread_mutex_unlock(&e->ad_mu);
  adapter_unref(e, old); /* freed now, or when the last running job that uses it ends */
  LOG_I("engine", "adapter '%s' loaded from %s (scale %.2f)%s", *name ? name : "(default)", path,
        (double)scale, old ? ", replacing the previous one" : "");
  return 0;
}

/* Finds the adapter a request names and takes a reference. "" / NULL = the default one, if any. */
static int adapter_get(engine *e, const char *name, adapter **out) {
  *out = NULL;
  const char *want = name ? name : "";
  pthread_mutex_lock(&e->ad_mu);
  adapter *a = e->adapters;
  while (a && strcmp(a->name, want) != 0) a = a->next;
  if (a) a->refs++;
  pthread_mutex_unlock(&e->ad_mu);
  if (!a && *want) return err_set(MIMIC_ENOTFOUND, "no adapter named '%s' is loaded", want);
  *out = a;
  return 0;
}

/* ---- jobs ---- */

static void ejob_free(engine *e, ejob *ej) {
  adapter_unref(e, ej->ad);
  llm_sampler_destroy(ej->smp);
  if (ej->stop_ok) llm_stop_free(&ej->stop);
  mem_free(ej->prompt);
  mem_free(ej->logits);
  if (ej->res) llm_result_destroy(ej->res);
  mem_free(ej);
}

static int eng_submit(llm_backend *b, llm_job *job) {
  engine *e = (engine *)b;
  if (atomic_fetch_add(&e->waiting, 1) >= e->queue_max) {
    atomic_fetch_sub(&e->waiting, 1);
    return err_set(MIMIC_EBUSY, "the generation queue is full (%d waiting); try again later",
                   e->queue_max);
  }
  ejob *ej = xcalloc(1, sizeof *ej);
  ej->job = job;
  ej->slot = -1;
  ej->key = llm_engine_key(job->req.slot_key);
  int rc = adapter_get(e, job->req.adapter, &ej->ad);
  if (!rc) {
    ej->scale = !ej->ad ? 0 : job->req.adapter_scale >= 0 ? job->req.adapter_scale : ej->ad->scale;
    rc = queue_try_push(e->q, ej);
    if (rc)
      rc = err_set(rc == MIMIC_EBUSY ? MIMIC_EBUSY : MIMIC_ECANCELLED, "the local engine %s",
                   rc == MIMIC_EBUSY ? "queue is full; try again later" : "is shutting down");
  }
  if (rc) {
    atomic_fetch_sub(&e->waiting, 1);
    ej->job = NULL;
    ejob_free(e, ej);
  }
  return rc;
}

static void eng_stats(llm_backend *b, llm_backend_stats *out) {
  engine *e = (engine *)b;
  out->queued = atomic_load(&e->waiting);
  out->running = atomic_load(&e->running);
  out->slots = e->lm.n_slots;
}

/* Ends a job (engine thread): flushes its text, fills the result and hands it to on_done. */
static void unlink_active(engine *e, ejob *ej) {
  ejob **pp = &e->active;
  while (*pp && *pp != ej) pp = &(*pp)->next;
  if (*pp) *pp = ej->next;
  ej->next = NULL;
}

static void append(ejob **list, ejob *ej) {
  ej->next = NULL;
  while (*list) list = &(*list)->next;
  *list = ej;
}

static void finish(engine *e, ejob *ej, llm_finish f) {
  if (ej->state != EJ_PENDING) unlink_active(e, ej);
  llm_result *res = ej->res ? ej->res : llm__result_new();
  ej->res = NULL;
  if (f == LLM_FINISH_ERROR && res->finish != LLM_FINISH_ERROR) llm__result_error(res, MIMIC_EIO);
  if (f != LLM_FINISH_ERROR) res->finish = f;
  if (ej->stop_ok) {
    if (f == LLM_FINISH_EOG || f == LLM_FINISH_LENGTH) {
      int rc = llm_stop_finish(&ej->stop, llm__job_emit, ej->job);
      if (rc == MIMIC_ECANCELLED)
        res->finish = LLM_FINISH_CANCELLED;
      else if (rc < 0)
        llm__result_error(res, rc);
    }
    llm__result_take_text(res, &ej->stop);
  }
  uint64_t now = clock_mono_ns();
  res->gen_tokens = ej->n_gen;
  if (ej->t_admit) {
    uint64_t tg = ej->t_gen ? ej->t_gen : now;
    res->prompt_ms = (double)(tg - ej->t_admit) / 1e6;
    res->gen_ms = ej->t_gen ? (double)(now - ej->t_gen) / 1e6 : 0;
    if (res->prompt_ms > 0) res->prompt_tps = ej->n_evaluated / (res->prompt_ms / 1e3);
    if (res->gen_ms > 0) res->gen_tps = ej->n_gen / (res->gen_ms / 1e3);
  } else {
    res->queue_ms = (double)(now - ej->job->t_submit_ns) / 1e6;
  }
  if (ej->slot >= 0) {
    MIMIC_ASSERT(ej->slot < e->lm.n_slots && e->slots[ej->slot].busy);
    e->slots[ej->slot].busy = false;
    atomic_fetch_sub(&e->running, 1);
  } else {
    MIMIC_ASSERT(ej->state == EJ_PENDING); /* only admitted jobs hold a slot */
    atomic_fetch_sub(&e->waiting, 1);
  }
  llm_job *job = ej->job;
  ejob_free(e, ej);
  llm__job_finish(job, res);
}

static void fail(engine *e, ejob *ej, int code) {
  if (!ej->res) ej->res = llm__result_new();
  llm__result_error(ej->res, code);
  finish(e, ej, LLM_FINISH_ERROR);
}

/* Picks a slot for the job, or -1 when it must wait (its conversation's slot is busy, or every
 * slot is). */
static int pick_slot(engine *e, uint64_t key) {
  int n = e->lm.n_slots, best = -1;
  if (key)
    for (int s = 0; s < n; s++)
      if (e->slots[s].key == key) return e->slots[s].busy ? -1 : s;
  for (int s = 0; s < n; s++) {
    if (e->slots[s].busy) continue;
    if (best < 0 || e->slots[s].used < e->slots[best].used) best = s;
  }
  return best;
}

/* Renders the prompt; when it leaves too little room to answer, drops the oldest non-system
 * messages until it fits (the bot sends more history than needed rather than too little). */
static int render_fitting(engine *e, ejob *ej) {
  const llm_request *r = &ej->job->req;
  int room = r->max_tokens < e->lm.n_ctx / 4 ? r->max_tokens : e->lm.n_ctx / 4;
  int budget = e->lm.n_ctx - room;
  llm_request sub = *r;
  llm_message *msgs = NULL;
  size_t first = 0;
  int rc;
  for (;;) {
    size_t n = 0;
    int32_t *ids = NULL;
    if ((rc = e->lm.render(e->lm.self, &sub, &ids, &n))) break;
    if (n == 0) {
      mem_free(ids);
      rc = err_set(MIMIC_EINVAL, "the prompt is empty after tokenization");
      break;
    }
    if ((int64_t)n <= budget) {
      ej->prompt = ids;
      ej->n_prompt = (int)n;
      break;
    }
    mem_free(ids);
    /* Drop the oldest message after any leading system messages; keep at least the last one. */
    size_t lead = 0;
    while (lead < r->n_messages && strcmp(r->messages[lead].role, "system") == 0) lead++;
    if (first < lead) first = lead;
    if (r->n_messages == 0 || first + 1 >= r->n_messages) {
      rc = err_set(MIMIC_ERANGE,
                   "the prompt is %zu tokens; the context holds %d (with %d left to answer)", n,
                   e->lm.n_ctx, room);
      break;
    }
    first++;
    if (!msgs) msgs = xcalloc(r->n_messages, sizeof *msgs);
    size_t k = 0;
    for (size_t i = 0; i < lead; i++) msgs[k++] = r->messages[i];
    for (size_t i = first; i < r->n_messages; i++) msgs[k++] = r->messages[i];
    sub.messages = msgs;
    sub.n_messages = k;
  }
  if (!rc && sub.n_messages != r->n_messages)
    LOG_D("engine", "job %llu: dropped %zu old messages to fit the context",
          (unsigned long long)ej->job->id, r->n_messages - sub.n_messages);
  mem_free(msgs);
  return rc;
}

/* Bytes of tokens ids[0..n) concatenated into *out (caller frees), with the offset where each token
 * starts in offs[0..n] (offs[n] = total). Stops at the first token that renders nothing (a control
 * token such as an end-of-turn marker is matched by id, never by bytes) or once max bytes are
 * reached; returns how many tokens were taken. */
static int token_bytes(engine *e, const int32_t *ids, int n, size_t max, char **out, size_t *offs) {
  buf b;
  buf_init(&b, 0);
  int k = 0;
  offs[0] = 0;
  for (; k < n && b.len < max; k++) {
    size_t len = 0;
    const char *p = e->lm.piece(e->lm.self, ids[k], &len);
    if (!p || len == 0 || buf_append(&b, p, len)) break;
    offs[k + 1] = b.len;
  }
  *out = buf_steal(&b);
  return k;
}

/* Bytes compared per attempt when the prompt and the slot disagree on ids (a few replies). */
#define ALIGN_WINDOW 2048

/* At a point where the slot's tokens a[0..na) and the prompt's p[0..np) differ, finds the longest
 * stretch that spells the same bytes in both and ends on a token boundary in both: *g tokens of a
 * and *k of p. Both 0 when they disagree at once. */
static void align_bytes(engine *e, const int32_t *a, int na, const int32_t *p, int np, int *g,
                        int *k) {
  *g = *k = 0;
  if (na > ALIGN_WINDOW) na = ALIGN_WINDOW; /* a token has at least one byte */
  if (np > ALIGN_WINDOW) np = ALIGN_WINDOW;
  size_t *oa = xalloc((size_t)(na + 1) * sizeof *oa), *op = xalloc((size_t)(np + 1) * sizeof *op);
  char *sa = NULL, *sp = NULL;
  na = token_bytes(e, a, na, ALIGN_WINDOW, &sa, oa);
  np = token_bytes(e, p, np, ALIGN_WINDOW, &sp, op);
  size_t common = 0;
  while (common < oa[na] && common < op[np] && sa[common] == sp[common]) common++;
  for (int i = 1, j = 1; i <= na && oa[i] <= common; i++) {
    while (j <= np && op[j] < oa[i]) j++;
    if (j <= np && op[j] == oa[i]) {
      *g = i;
      *k = j;
    }
  }
  mem_free(sa);
  mem_free(sp);
  mem_free(oa);
  mem_free(op);
}

/* A conversation's earlier replies come back as text inside the new prompt, and re-tokenizing that
 * text need not give the ids the model generated, which would end the cached prefix inside the
 * first reply. So the prompt is matched against what the slot holds by id and, where the ids
 * differ, by bytes: a stretch that spells the same text in both is taken with the slot's ids. The
 * prompt's text is unchanged (it is the same bytes, tokenized the way the model itself produced
 * them), the same request against the same slot always gives the same ids, and the slot's cache
 * covers the whole conversation so far. */
static void align_with_slot(engine *e, ejob *ej, int slot) {
  int held = 0;
  const int32_t *have = e->lm.slot_tokens(e->lm.self, slot, &held);
  const int32_t *p = ej->prompt;
  int n = ej->n_prompt, i = 0, j = 0, spliced = 0;
  int32_t *out = NULL;
  int n_out = 0;
  for (;;) {
    while (i < held && j < n && have[i] == p[j]) {
      if (out) out[n_out++] = p[j];
      i++;
      j++;
    }
    if (i == held || j == n) break;
    int g, k;
    align_bytes(e, have + i, held - i, p + j, n - j, &g, &k);
    if (g == 0) break;
    if (!out) { /* the prompt may grow by (g - k) per splice: size for the worst case */
      out = xalloc(((size_t)n + (size_t)held) * sizeof *out);
      memcpy(out, p, (size_t)j * sizeof *out);
      n_out = j;
    }
    memcpy(out + n_out, have + i, (size_t)g * sizeof *out);
    n_out += g;
    i += g;
    j += k;
    spliced += g;
  }
  if (!out) return;
  memcpy(out + n_out, p + j, (size_t)(n - j) * sizeof *out);
  n_out += n - j;
  int room = ej->job->req.max_tokens < e->lm.n_ctx / 4 ? ej->job->req.max_tokens : e->lm.n_ctx / 4;
  if (n_out > e->lm.n_ctx - room) { /* more tokens than the fitted prompt: keep the plain one */
    mem_free(out);
    return;
  }
  LOG_T(
      "engine",
      "job %llu: %d tokens taken from the slot where re-tokenized text differed (%d -> %d tokens)",
      (unsigned long long)ej->job->id, spliced, n, n_out);
  mem_free(ej->prompt);
  ej->prompt = out;
  ej->n_prompt = n_out;
}

/* Admits a pending job to a slot. Returns 1 admitted, 0 must wait, or finishes it on error (-1). */
static int admit(engine *e, ejob *ej) {
  MIMIC_ASSERT(ej->state == EJ_PENDING && ej->slot < 0);
  int s = pick_slot(e, ej->key);
  if (s < 0) return 0;
  MIMIC_ASSERT(s < e->lm.n_slots && !e->slots[s].busy);
  e->slots[s].busy = true;
  e->slots[s].key = ej->key;
  e->slots[s].used = ++e->tick;
  ej->slot = s;
  atomic_fetch_sub(&e->waiting, 1);
  atomic_fetch_add(&e->running, 1);
  ej->t_admit = clock_mono_ns();
  ej->res = llm__result_new();
  ej->res->queue_ms = (double)(ej->t_admit - ej->job->t_submit_ns) / 1e6;
  const llm_request *r = &ej->job->req;
  int rc;
  if ((rc = render_fitting(e, ej))) goto fail;
  align_with_slot(e, ej, s);
  if ((rc = llm_sampler_new(&r->sampling, e->lm.n_vocab, &ej->smp))) goto fail;
  ej->res->seed = llm_sampler_seed(ej->smp);
  if ((rc = llm_stop_init(&ej->stop, r->stop, r->n_stop))) goto fail;
  ej->stop_ok = true;
  ej->logits = mem_alloc((size_t)e->lm.n_vocab * sizeof *ej->logits);
  if (!ej->logits) {
    rc = err_set(MIMIC_ENOMEM, "out of memory for the logits of a %d-token vocabulary",
                 e->lm.n_vocab);
    goto fail;
  }
  /* The penalty window sees the end of the prompt too, as llama-server does. */
  int from = ej->n_prompt - r->sampling.repeat_last_n;
  for (int i = from < 0 ? 0 : from; i < ej->n_prompt; i++)
    llm_sampler_accept(ej->smp, ej->prompt[i]);
  /* Start chunking after the prefix the slot already holds. */
  int held = 0;
  const int32_t *have = e->lm.slot_tokens(e->lm.self, s, &held);
  int cp = 0;
  while (cp < held && cp < ej->n_prompt && have[cp] == ej->prompt[cp]) cp++;
  ej->n_done = cp;
  ej->state = EJ_PROMPT;
  ej->res->prompt_tokens = ej->n_prompt;
  return 1;
fail:
  fail(e, ej, rc);
  return -1;
}

/* Evaluates the next chunk of a job's prompt. */
static void prompt_chunk(engine *e, ejob *ej) {
  MIMIC_ASSERT(ej->state == EJ_PROMPT && ej->slot >= 0 && ej->n_done <= ej->n_prompt);
  int k = ej->n_done + e->batch;
  if (k > ej->n_prompt || ej->n_done == ej->n_prompt) k = ej->n_prompt;
  bool last = k == ej->n_prompt;
  int ev = 0;
  void *lora = ej->ad ? ej->ad->lora : NULL;
  int rc = e->lm.prepare(e->lm.self, ej->slot, ej->prompt, k, lora, ej->scale,
                         last ? ej->logits : NULL, &ev);
  if (rc) {
    err_prefix(rc, "evaluating the prompt");
    fail(e, ej, rc);
    return;
  }
  ej->n_evaluated += ev;
  ej->n_done = k;
  if (last) {
    ej->state = EJ_GEN;
    ej->t_gen = clock_mono_ns();
    ej->res->cached_tokens = ej->n_prompt - ej->n_evaluated;
  }
}

/* Samples the next token of a generating job. Returns 1 when the token must be decoded (the job
 * goes on), 0 when the job finished. */
static int gen_token(engine *e, ejob *ej, int32_t *tok) {
  MIMIC_ASSERT(ej->state == EJ_GEN && ej->slot >= 0);
  const llm_request *r = &ej->job->req;
  if (ej->n_gen < r->min_tokens)
    for (int i = 0; i < e->n_eog; i++) ej->logits[e->eog[i]] = -INFINITY;
  int32_t t = llm_sampler_sample(ej->smp, ej->logits);
  llm_sampler_accept(ej->smp, t);
  if (e->lm.is_eog(e->lm.self, t)) {
    finish(e, ej, LLM_FINISH_EOG);
    return 0;
  }
  ej->n_gen++;
  size_t n = 0;
  const char *p = e->lm.piece(e->lm.self, t, &n);
  int rc = llm_stop_feed(&ej->stop, p ? p : "", p ? n : 0, llm__job_emit, ej->job);
  if (rc == 1) {
    finish(e, ej, LLM_FINISH_STOP);
    return 0;
  }
  if (rc == MIMIC_ECANCELLED) {
    finish(e, ej, LLM_FINISH_CANCELLED);
    return 0;
  }
  if (rc < 0) {
    fail(e, ej, rc);
    return 0;
  }
  if (ej->n_gen >= r->max_tokens) {
    finish(e, ej, LLM_FINISH_LENGTH);
    return 0;
  }
  *tok = t;
  return 1;
}

/* A prompt job's next chunk in a mixed step: the prefix it brings the slot to, and the rows it
 * costs (a fully cached prompt still evaluates its last token for the logits). */
static int chunk_end(const engine *e, const ejob *ej, int *rows) {
  int k = ej->n_done + e->batch;
  if (k > ej->n_prompt || ej->n_done == ej->n_prompt) k = ej->n_prompt;
  *rows = k - ej->n_done > 0 ? k - ej->n_done : 1;
  return k;
}

/* Steps 3 and 4 as one pass (llm_lm.step; see the file comment). */
static void step_mixed(engine *e) {
  int n = 0, rows = 0;
  for (ejob *ej = e->active, *nx; ej; ej = nx) {
    nx = ej->next;
    if (ej->state != EJ_GEN || !gen_token(e, ej, &ej->next_tok)) continue; /* or finished */
    MIMIC_ASSERT(n < e->lm.n_slots);                                       /* one job per slot */
    e->steps[n] = (llm_lm_step){.slot = ej->slot,
                                .toks = &ej->next_tok,
                                .n = 1,
                                .append = true,
                                .lora = ej->ad ? ej->ad->lora : NULL,
                                .scale = ej->scale,
                                .logits = ej->logits};
    e->batch_jobs[n++] = ej;
    rows++;
  }
  int n_prompt = 0;
  for (ejob *ej = e->active; ej; ej = ej->next) n_prompt += ej->state == EJ_PROMPT;
  if (n_prompt) { /* whole chunks, from the round robin's turn on, while they fit batch rows */
    uint64_t first = e->rr++ % (uint64_t)n_prompt;
    bool took = false;
    for (int k = 0; k < n_prompt; k++) {
      uint64_t want = (first + (uint64_t)k) % (uint64_t)n_prompt;
      ejob *ej = e->active;
      for (uint64_t i = 0;; ej = ej->next)
        if (ej->state == EJ_PROMPT && i++ == want) break;
      int cost = 0;
      ej->chunk_end = chunk_end(e, ej, &cost);
      if (took && rows + cost > e->batch) {
        /* A chunk that does not fit takes the rows left, in whole fours: pieces that start four
         * rows apart keep each row's matrix order (a repacked weight's four-row groups), so the
         * split costs no bits (tests/llm/test_mixed.c). */
        int room = (e->batch - rows) & ~3;
        if (e->batch % 4 || room < 4 || cost <= room || ej->n_done == ej->n_prompt) continue;
        ej->chunk_end = ej->n_done + room;
        cost = room;
      }
      took = true;
      rows += cost;
      MIMIC_ASSERT(n < e->lm.n_slots);
      e->steps[n] = (llm_lm_step){.slot = ej->slot,
                                  .toks = ej->prompt,
                                  .n = ej->chunk_end,
                                  .lora = ej->ad ? ej->ad->lora : NULL,
                                  .scale = ej->scale,
                                  .logits = ej->chunk_end == ej->n_prompt ? ej->logits : NULL};
      e->batch_jobs[n++] = ej;
    }
  }
  while (n > 0) {
    int failed = -1;
    int rc = e->lm.step(e->lm.self, e->steps, n, &failed);
    if (!rc) break;
    if (failed < 0 || failed >= n) { /* not one item's fault: every job of the step ends */
      err_prefix(rc, "evaluating");
      for (int i = 0; i < n; i++) fail(e, e->batch_jobs[i], rc);
      return;
    }
    /* That item ends; nothing was evaluated, so the others run again without it. */
    err_prefix(rc, e->steps[failed].append ? "decoding" : "evaluating the prompt");
    fail(e, e->batch_jobs[failed], rc);
    n--;
    memmove(e->steps + failed, e->steps + failed + 1, (size_t)(n - failed) * sizeof *e->steps);
    memmove(e->batch_jobs + failed, e->batch_jobs + failed + 1,
            (size_t)(n - failed) * sizeof *e->batch_jobs);
  }
  for (int i = 0; i < n; i++) {
    ejob *ej = e->batch_jobs[i];
    if (e->steps[i].append) continue;
    ej->n_evaluated += e->steps[i].n_eval;
    ej->n_done = ej->chunk_end;
    if (ej->n_done == ej->n_prompt) {
      ej->state = EJ_GEN;
      ej->t_gen = clock_mono_ns();
      ej->res->cached_tokens = ej->n_prompt - ej->n_evaluated;
    }
  }
}

/* One turn of the loop (see the file comment). Every function that may end a job (finish, fail)
 * also unlinks it from the active list, so loops save `next` first. */
static void step(engine *e) {
  /* 2. Cancelled pending jobs end now; the rest are admitted in arrival order when a slot frees. */
  ejob **pp = &e->pending;
  while (*pp) {
    ejob *ej = *pp;
    if (llm__job_cancelled(ej->job)) {
      *pp = ej->next;
      finish(e, ej, LLM_FINISH_CANCELLED);
      continue;
    }
    ejob *nx = ej->next;
    int a = admit(e, ej);
    if (a == 0) {
      pp = &ej->next;
      continue;
    }
    *pp = nx; /* admitted (1) or already finished with an error (-1) */
    if (a == 1) append(&e->active, ej);
  }
  /* Cancelled running jobs end now. */
  for (ejob *ej = e->active, *nx; ej; ej = nx) {
    nx = ej->next;
    if (llm__job_cancelled(ej->job)) finish(e, ej, LLM_FINISH_CANCELLED);
  }
  if (e->lm.step) {
    step_mixed(e);
    return;
  }
  /* 3. One prompt chunk, round robin over the jobs still reading their prompt. */
  int n_prompt = 0;
  for (ejob *ej = e->active; ej; ej = ej->next) n_prompt += ej->state == EJ_PROMPT;
  if (n_prompt) {
    uint64_t pick = e->rr++ % (uint64_t)n_prompt;
    for (ejob *ej = e->active; ej; ej = ej->next)
      if (ej->state == EJ_PROMPT && pick-- == 0) {
        prompt_chunk(e, ej); /* may end it: do not touch ej afterwards */
        break;
      }
  }
  /* 4. One token for every generating job, decoded together. Jobs that just finished their
   * prompt sample from the prompt's logits. */
  int n = 0;
  for (ejob *ej = e->active, *nx; ej; ej = nx) {
    nx = ej->next;
    if (ej->state != EJ_GEN) continue;
    int32_t t;
    if (!gen_token(e, ej, &t)) continue; /* finished */
    MIMIC_ASSERT(n < e->lm.n_slots);     /* one generating job per slot */
    e->items[n] = (llm_lm_item){.slot = ej->slot,
                                .token = t,
                                .lora = ej->ad ? ej->ad->lora : NULL,
                                .scale = ej->scale,
                                .logits = ej->logits};
    e->batch_jobs[n++] = ej;
  }
  if (n == 0) return;
  int rc = e->lm.decode_batch(e->lm.self, e->items, n);
  if (rc) {
    err_prefix(rc, "decoding");
    for (int i = 0; i < n; i++) fail(e, e->batch_jobs[i], rc);
  }
}

static void *engine_main(void *arg) {
  engine *e = arg;
  for (;;) {
    bool idle = !e->pending && !e->active;
    ejob *ej = idle ? queue_pop(e->q) : queue_try_pop(e->q);
    if (!ej && idle) break; /* closed and drained */
    for (; ej; ej = queue_try_pop(e->q)) append(&e->pending, ej);
    step(e);
  }
  return NULL;
}

static void eng_shutdown(llm_backend *b) {
  engine *e = (engine *)b;
  queue_close(e->q); /* every job was marked cancelled by llm_backend_destroy */
  if (e->thread_started) pthread_join(e->thread, NULL);
  e->thread_started = false;
}

static void eng_free(llm_backend *b) {
  engine *e = (engine *)b;
  MIMIC_ASSERT(!e->thread_started && !e->pending && !e->active); /* after eng_shutdown */
  while (e->adapters) {
    adapter *a = e->adapters;
    e->adapters = a->next;
    adapter_unref(e, a);
  }
  if (e->lm.destroy) e->lm.destroy(e->lm.self);
  queue_destroy(e->q);
  pthread_mutex_destroy(&e->ad_mu);
  mem_free(e->slots);
  mem_free(e->eog);
  mem_free(e->items);
  mem_free(e->steps);
  mem_free(e->batch_jobs);
  mem_free(e);
}

static const llm_backend_ops eng_ops = {
    .name = "local",
    .submit = eng_submit,
    .adapter_load = eng_adapter_load,
    .stats = eng_stats,
    .shutdown = eng_shutdown,
    .free = eng_free,
};

int llm_engine_new(const llm_lm *lm, const llm_engine_opts *o, llm_backend **out) {
  *out = NULL;
  /* A binding without its operations is a programming error; sizes come from the model file. */
  MIMIC_ASSERT(lm->render && lm->piece && lm->is_eog && lm->slot_tokens && lm->prepare &&
               lm->decode_batch);
  int bad = 0;
  if (lm->n_vocab < 1)
    bad = err_set(MIMIC_EINVAL, "engine: the model has an empty vocabulary");
  else if (lm->n_slots < 1)
    bad = err_set(MIMIC_EINVAL, "engine: %d slots (at least 1)", lm->n_slots);
  else if (lm->n_ctx < LLM_ENGINE_MIN_CTX)
    bad = err_set(MIMIC_EINVAL,
                  "engine: a context of %d positions is too small for a prompt and a reply (at "
                  "least %d)",
                  lm->n_ctx, LLM_ENGINE_MIN_CTX);
  if (bad) {
    if (lm->destroy) lm->destroy(lm->self);
    return bad;
  }
  engine *e = xcalloc(1, sizeof *e);
  llm__backend_init(&e->base, &eng_ops);
  e->lm = *lm;
  e->batch = o && o->batch > 0 ? o->batch : 512;
  e->queue_max = o && o->queue_max > 0 ? o->queue_max : 64;
  pthread_mutex_init(&e->ad_mu, NULL);
  atomic_init(&e->waiting, 0);
  atomic_init(&e->running, 0);
  /* The queue only carries jobs to the engine thread; eng_submit enforces queue_max itself. */
  e->q = queue_new((size_t)e->queue_max + 1);
  e->slots = xcalloc((size_t)lm->n_slots, sizeof *e->slots);
  e->items = xcalloc((size_t)lm->n_slots, sizeof *e->items);
  e->steps = xcalloc((size_t)lm->n_slots, sizeof *e->steps);
  e->batch_jobs = xcalloc((size_t)lm->n_slots, sizeof *e->batch_jobs);
  int rc = 0;
  if (!e->q) {
    rc = err_set(MIMIC_ENOMEM, "engine: out of memory for the request queue");
    goto fail;
  }
  for (int32_t t = 0; t < lm->n_vocab; t++)
    if (lm->is_eog(lm->self, t)) {
      e->eog = xrealloc(e->eog, (size_t)(e->n_eog + 1) * sizeof *e->eog);
      e->eog[e->n_eog++] = t;
    }
  if (pthread_create(&e->thread, NULL, engine_main, e)) {
    rc = err_set(MIMIC_ENOMEM, "engine: cannot start the engine thread");
    goto fail;
  }
  e->thread_started = true;
  *out = &e->base;
  return 0;
fail:
  pthread_mutex_destroy(&e->base.mu);
  eng_free(&e->base);
  return rc;
}
