/* The generic front of llm_backend (see backend.h): request checks and deep copies, the registry of
 * live jobs behind cancel-by-id and the synchronous wrapper over submit. The backends (engine.c
 * for local, backend_openai.c) sit above this file and call into it through backend_impl.h;
 * backend_factory.c, above them, picks one from the configuration. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "llm/backend_impl.h"

void llm_request_init(llm_request *r) {
  memset(r, 0, sizeof *r);
  llm_sampling_default(&r->sampling);
  r->max_tokens = 160;
  r->adapter_scale = -1;
}

void llm_request_from_config(llm_request *r, const cfg *c) {
  r->sampling.temperature = (float)cfg_num(c, CFG_ENGINE_TEMPERATURE);
  r->sampling.top_k = (int)cfg_int(c, CFG_ENGINE_TOP_K);
  r->sampling.top_p = (float)cfg_num(c, CFG_ENGINE_TOP_P);
  r->sampling.min_p = (float)cfg_num(c, CFG_ENGINE_MIN_P);
  r->sampling.repeat_penalty = (float)cfg_num(c, CFG_ENGINE_REPEAT_PENALTY);
  int64_t n = cfg_int(c, CFG_ENGINE_REPEAT_LAST_N);
  r->sampling.repeat_last_n = (int)(n > LLM_REPEAT_MAX ? LLM_REPEAT_MAX : n);
  r->max_tokens = (int)cfg_int(c, CFG_ENGINE_MAX_TOKENS);
}

static int check_name(const char *what, const char *s) {
  if (s && strlen(s) > LLM_NAME_MAX)
    return err_set(MIMIC_ERANGE, "request: %s is longer than %d bytes", what, LLM_NAME_MAX);
  return 0;
}

int llm_request_check(const llm_request *r) {
  int rc;
  if (r->n_messages > LLM_MAX_MESSAGES)
    return err_set(MIMIC_ERANGE, "request: %zu messages (at most %d)", r->n_messages,
                   LLM_MAX_MESSAGES);
  if (r->n_messages && !r->messages) return err_set(MIMIC_EINVAL, "request: messages missing");
  if (!r->n_messages && (!r->prompt || !*r->prompt))
    return err_set(MIMIC_EINVAL, "request: give messages or a prompt");
  size_t total = r->prompt && !r->n_messages ? strlen(r->prompt) : 0;
  for (size_t i = 0; i < r->n_messages; i++) {
    const llm_message *m = &r->messages[i];
    if (!m->role || !*m->role)
      return err_set(MIMIC_EINVAL, "request: message %zu has no role", i + 1);
    if ((rc = check_name("a role", m->role)) || (rc = check_name("a speaker name", m->name)))
      return rc;
    total +=
        strlen(m->role) + (m->name ? strlen(m->name) : 0) + (m->content ? strlen(m->content) : 0);
  }
  if (total > LLM_PROMPT_MAX)
    return err_set(MIMIC_ERANGE, "request: prompt of %zu bytes (at most %u)", total,
                   LLM_PROMPT_MAX);
  if (r->max_tokens < 1 || r->max_tokens > LLM_MAX_TOKENS)
    return err_set(MIMIC_EINVAL, "request: max_tokens must be between 1 and %d", LLM_MAX_TOKENS);
  if (r->min_tokens < 0 || r->min_tokens > r->max_tokens)
    return err_set(MIMIC_EINVAL, "request: min_tokens must be between 0 and max_tokens");
  if (!(r->adapter_scale <= 16))
    return err_set(MIMIC_EINVAL, "request: adapter_scale must be <= 16");
  if ((rc = check_name("the adapter name", r->adapter)) ||
      (rc = check_name("the slot key", r->slot_key)))
    return rc;
  if (r->n_stop && !r->stop) return err_set(MIMIC_EINVAL, "request: stop strings missing");
  if (r->n_image_urls > LLM_MAX_IMAGES)
    return err_set(MIMIC_ERANGE, "request: %zu images (at most %d)", r->n_image_urls,
                   LLM_MAX_IMAGES);
  if (r->n_image_urls && !r->image_urls) return err_set(MIMIC_EINVAL, "request: images missing");
  for (size_t i = 0; i < r->n_image_urls; i++) {
    const char *u = r->image_urls[i];
    if (!u || (strncmp(u, "https://", 8) != 0 && strncmp(u, "data:image/", 11) != 0))
      return err_set(MIMIC_EINVAL, "request: image %zu is not an https: or data:image/ URL", i + 1);
    if (strlen(u) > LLM_IMAGE_URL_MAX)
      return err_set(MIMIC_ERANGE, "request: image %zu is over %u bytes", i + 1, LLM_IMAGE_URL_MAX);
  }
  llm_stop st; /* the same checks the generation will apply, done now so submit fails early */
  if ((rc = llm_stop_init(&st, r->stop, r->n_stop))) return err_prefix(rc, "request");
  llm_stop_free(&st);
  if ((rc = llm_sampling_check(&r->sampling))) return err_prefix(rc, "request");
  return 0;
}

const char *llm_finish_name(llm_finish f) {
  switch (f) {
  case LLM_FINISH_STOP: return "stop";
  case LLM_FINISH_LENGTH: return "length";
  case LLM_FINISH_EOG: return "eog";
  case LLM_FINISH_CANCELLED: return "cancelled";
  case LLM_FINISH_ERROR: return "error";
  default: return "none";
  }
}

void llm_result_free(llm_result *r) {
  if (!r) return;
  mem_free(r->text);
  r->text = NULL;
  r->text_len = 0;
}

void llm_result_destroy(llm_result *r) {
  llm_result_free(r);
  mem_free(r);
}

llm_result *llm__result_new(void) {
  llm_result *r = xcalloc(1, sizeof *r);
  r->text = xstrdup("");
  return r;
}

int llm__result_error(llm_result *res, int code) {
  res->finish = LLM_FINISH_ERROR;
  res->error = code;
  str_lcpy(res->error_msg, err_msg(), sizeof res->error_msg);
  return code;
}

void llm__result_take_text(llm_result *res, llm_stop *st) {
  mem_free(res->text);
  res->text_len = st->text.len;
  res->text = buf_steal(&st->text);
  if (!res->text) res->text = xstrdup(""); /* buf_steal is documented never NULL; belt and braces */
}

/* ---- jobs ---- */

static void job_free(llm_job *j) {
  if (!j) return;
  for (size_t i = 0; i < j->req.n_messages; i++) {
    mem_free((char *)j->msgs[i].role);
    mem_free((char *)j->msgs[i].name);
    mem_free((char *)j->msgs[i].content);
  }
  mem_free(j->msgs);
  for (size_t i = 0; i < j->req.n_stop; i++) mem_free(j->stops[i]);
  mem_free(j->stops);
  for (size_t i = 0; i < j->req.n_image_urls; i++) mem_free(j->images[i]);
  mem_free(j->images);
  mem_free((char *)j->req.prompt);
  mem_free((char *)j->req.adapter);
  mem_free((char *)j->req.slot_key);
  mem_free(j);
}

/* Copies s, repairing invalid UTF-8; NULL stays NULL. Sets *oom on allocation failure. */
static char *dup_text(const char *s, bool *oom) {
  if (!s) return NULL;
  size_t n = strlen(s);
  char *d = utf8_valid(s, n) ? mem_strndup(s, n) : utf8_repair(s, n);
  if (!d) *oom = true;
  return d;
}

static llm_job *job_copy(const llm_request *r) {
  bool oom = false;
  llm_job *j = mem_calloc(1, sizeof *j);
  if (!j) return NULL;
  j->req = *r;
  j->req.messages = NULL;
  j->req.n_messages = 0;
  j->req.stop = NULL;
  j->req.n_stop = 0;
  j->req.image_urls = NULL;
  j->req.n_image_urls = 0;
  j->req.prompt = r->n_messages ? NULL : dup_text(r->prompt, &oom);
  j->req.adapter = dup_text(r->adapter && *r->adapter ? r->adapter : NULL, &oom);
  j->req.slot_key = dup_text(r->slot_key && *r->slot_key ? r->slot_key : NULL, &oom);
  if (r->n_messages) {
    j->msgs = mem_calloc(r->n_messages, sizeof *j->msgs);
    if (!j->msgs) goto fail;
    j->req.messages = j->msgs;
    for (size_t i = 0; i < r->n_messages; i++) {
      j->req.n_messages = i + 1;
      j->msgs[i].role = dup_text(r->messages[i].role, &oom);
      j->msgs[i].name =
          dup_text(r->messages[i].name && *r->messages[i].name ? r->messages[i].name : NULL, &oom);
      j->msgs[i].content = dup_text(r->messages[i].content ? r->messages[i].content : "", &oom);
      if (oom) goto fail;
    }
  }
  if (r->n_stop) {
    j->stops = mem_calloc(r->n_stop, sizeof *j->stops);
    if (!j->stops) goto fail;
    for (size_t i = 0; i < r->n_stop; i++) {
      j->req.n_stop = i + 1;
      j->stops[i] = dup_text(r->stop[i] ? r->stop[i] : "", &oom);
      if (oom) goto fail;
    }
    j->req.stop = (const char *const *)j->stops;
  }
  if (r->n_image_urls) {
    j->images = mem_calloc(r->n_image_urls, sizeof *j->images);
    if (!j->images) goto fail;
    for (size_t i = 0; i < r->n_image_urls; i++) {
      j->req.n_image_urls = i + 1;
      j->images[i] = mem_strdup(r->image_urls[i] ? r->image_urls[i] : "");
      if (!j->images[i]) goto fail;
    }
    j->req.image_urls = (const char *const *)j->images;
  }
  if (oom) goto fail;
  atomic_init(&j->cancel, 0);
  return j;
fail:
  job_free(j);
  return NULL;
}

void llm__backend_init(llm_backend *b, const llm_backend_ops *ops) {
  b->ops = ops;
  pthread_mutex_init(&b->mu, NULL);
  b->jobs = NULL;
  b->next_id = 1;
  b->completed = b->gen_tokens = 0;
  b->closing = false;
}

bool llm__job_cancelled(llm_job *job) { return atomic_load(&job->cancel) != 0; }
void llm__job_cancel(llm_job *job) { atomic_store(&job->cancel, 1); }

int llm__job_emit(void *jp, const char *text, size_t n) {
  llm_job *job = jp;
  if (llm__job_cancelled(job)) return 1;
  if (job->on_token && job->on_token(job->user, text, n)) {
    llm__job_cancel(job);
    return 1;
  }
  return 0;
}

static void unlink_job(llm_backend *b, llm_job *j) {
  if (j->prev)
    j->prev->next = j->next;
  else
    b->jobs = j->next;
  if (j->next) j->next->prev = j->prev;
  j->prev = j->next = NULL;
}

void llm__job_finish(llm_job *job, llm_result *res) {
  llm_backend *b = job->b;
  if (res->finish == LLM_FINISH_NONE) res->finish = LLM_FINISH_CANCELLED;
  pthread_mutex_lock(&b->mu);
  unlink_job(b, job);
  b->completed++;
  b->gen_tokens += (uint64_t)(res->gen_tokens > 0 ? res->gen_tokens : 0);
  pthread_mutex_unlock(&b->mu);
  LOG_D("engine", "job %llu: %s, %d prompt tokens (%d cached), %d generated in %.0f ms",
        (unsigned long long)job->id, llm_finish_name(res->finish), res->prompt_tokens,
        res->cached_tokens, res->gen_tokens, res->prompt_ms + res->gen_ms);
  llm_done_cb done = job->on_done;
  void *user = job->user;
  job_free(job);
  done(user, res);
}

int llm_backend_submit(llm_backend *b, const llm_request *req, llm_token_cb on_token,
                       llm_done_cb on_done, void *user, uint64_t *id) {
  if (id) *id = 0;
  if (!on_done) return err_set(MIMIC_EINVAL, "llm_backend_submit: on_done is required");
  int rc = llm_request_check(req);
  if (rc) return rc;
  llm_job *j = job_copy(req);
  if (!j) return err_set(MIMIC_ENOMEM, "out of memory copying a generation request");
  j->b = b;
  j->on_token = on_token;
  j->on_done = on_done;
  j->user = user;
  j->t_submit_ns = clock_mono_ns();
  pthread_mutex_lock(&b->mu);
  if (b->closing) {
    pthread_mutex_unlock(&b->mu);
    job_free(j);
    return err_set(MIMIC_ECANCELLED, "the %s backend is shutting down", b->ops->name);
  }
  j->id = b->next_id++;
  j->next = b->jobs;
  if (b->jobs) b->jobs->prev = j;
  b->jobs = j;
  uint64_t jid = j->id;
  pthread_mutex_unlock(&b->mu);
  /* The job is registered before the backend sees it, so a cancel racing with the start finds it.
   * After a successful ops->submit the job may already be finished and freed: use jid only. */
  rc = b->ops->submit(b, j);
  if (rc) {
    pthread_mutex_lock(&b->mu);
    unlink_job(b, j);
    pthread_mutex_unlock(&b->mu);
    job_free(j);
    return rc;
  }
  if (id) *id = jid;
  return 0;
}

int llm_backend_cancel(llm_backend *b, uint64_t id) {
  pthread_mutex_lock(&b->mu);
  llm_job *j = b->jobs;
  while (j && j->id != id) j = j->next;
  if (j) llm__job_cancel(j);
  pthread_mutex_unlock(&b->mu);
  if (!j)
    return err_set(MIMIC_ENOTFOUND, "no running generation with id %llu", (unsigned long long)id);
  return 0;
}

/* ---- synchronous wrapper ---- */

typedef struct waiter {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool done;
  llm_result *res;
} waiter;

static void waiter_done(void *user, llm_result *res) {
  waiter *w = user;
  pthread_mutex_lock(&w->mu);
  w->res = res;
  w->done = true;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

typedef struct sync_user {
  waiter w;
  llm_token_cb on_token;
  void *user;
} sync_user;

static int sync_token(void *user, const char *text, size_t n) {
  sync_user *s = user;
  return s->on_token ? s->on_token(s->user, text, n) : 0;
}

static void sync_done(void *user, llm_result *res) { waiter_done(&((sync_user *)user)->w, res); }

int llm_backend_generate(llm_backend *b, const llm_request *req, llm_token_cb on_token, void *user,
                         llm_result *out) {
  memset(out, 0, sizeof *out);
  sync_user s = {.on_token = on_token, .user = user};
  pthread_mutex_init(&s.w.mu, NULL);
  pthread_cond_init(&s.w.cv, NULL);
  int rc = llm_backend_submit(b, req, sync_token, sync_done, &s, NULL);
  if (rc) {
    out->text = xstrdup("");
    llm__result_error(out, rc);
    goto out;
  }
  pthread_mutex_lock(&s.w.mu);
  while (!s.w.done) pthread_cond_wait(&s.w.cv, &s.w.mu);
  pthread_mutex_unlock(&s.w.mu);
  *out = *s.w.res;
  mem_free(s.w.res);
  if (out->finish == LLM_FINISH_ERROR) {
    rc = out->error ? out->error : MIMIC_EIO;
    err_set(rc, "%s", out->error_msg);
  }
out:
  pthread_mutex_destroy(&s.w.mu);
  pthread_cond_destroy(&s.w.cv);
  return rc;
}

int llm_backend_adapter_load(llm_backend *b, const char *name, const char *path, float scale) {
  if (!name) name = "";
  if (strlen(name) > LLM_NAME_MAX)
    return err_set(MIMIC_ERANGE, "adapter name longer than %d bytes", LLM_NAME_MAX);
  if (!b->ops->adapter_load)
    return err_set(MIMIC_EUNSUPPORTED, "the %s backend does not load adapters", b->ops->name);
  return b->ops->adapter_load(b, name, path, scale);
}

void llm_backend_stats_get(llm_backend *b, llm_backend_stats *out) {
  memset(out, 0, sizeof *out);
  if (b->ops->stats) b->ops->stats(b, out);
  pthread_mutex_lock(&b->mu);
  out->completed = b->completed;
  out->gen_tokens = b->gen_tokens;
  pthread_mutex_unlock(&b->mu);
}

const char *llm_backend_name(const llm_backend *b) { return b->ops->name; }

void llm_backend_destroy(llm_backend *b) {
  if (!b) return;
  pthread_mutex_lock(&b->mu);
  b->closing = true;
  for (llm_job *j = b->jobs; j; j = j->next) llm__job_cancel(j);
  pthread_mutex_unlock(&b->mu);
  b->ops->shutdown(b);
  pthread_mutex_destroy(&b->mu);
  b->ops->free(b);
}
