/* The on-demand backend (backend.h: llm_backend_ondemand_new): a backend in front of the real one
 * that loads it on first use and destroys it after a stretch without requests, so an idle bot
 * gives its model's memory back to the system. Jobs are handed to the real backend as they are
 * (its ops->submit), so cancel, streaming and results are exactly the real backend's; only their
 * completion callback passes through here, to count what is in flight and when the last request
 * ended. One thread of its own loads the model (requests never wait on the caller's thread) and,
 * unless manual, unloads it when idle. Not here: how a model is loaded (engine_local.c). */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend_impl.h"

typedef struct od_adapter {
  char *name, *path;
  float scale;
} od_adapter;

/* The job's own callbacks, kept while the job passes through the real backend. */
typedef struct tramp {
  struct od *od;
  llm_token_cb on_token;
  llm_done_cb on_done;
  void *user;
} tramp;

typedef struct od {
  llm_backend base; /* first: the front's llm_backend */
  llm_ondemand_opts o;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* wakes the thread: a load is wanted, work ended, closing */
  pthread_t th;
  bool th_started;
  llm_model_state state;
  llm_backend *inner; /* the real backend while LOADED */
  llm_job **pending;  /* jobs waiting for the load */
  size_t n_pending, cap_pending;
  int active;      /* jobs accepted and not finished */
  int64_t last_ms; /* clock time of the last submit or finish */
  od_adapter *adapters;
  size_t n_adapters;
  bool closing;
} od;

static int64_t od_now(od *d) {
  return d->o.now_ms ? d->o.now_ms(d->o.clock_user) : (int64_t)clock_mono_ms();
}

/* ---- the jobs' callbacks ---- */

static int tr_token(void *user, const char *text, size_t n) {
  tramp *t = user;
  return t->on_token ? t->on_token(t->user, text, n) : 0;
}

static void tr_done(void *user, llm_result *res) {
  tramp *t = user;
  od *d = t->od;
  llm_done_cb done = t->on_done;
  void *duser = t->user;
  mem_free(t);
  /* Counted as ended before the caller hears of it, so a caller that goes on to check for
   * idleness sees it ended. The real backend outlives this call (destroying it joins this
   * thread), so d does too. */
  pthread_mutex_lock(&d->mu);
  d->active--;
  d->last_ms = od_now(d);
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  done(duser, res);
}

/* Routes the job's callbacks through a tramp (so its end is counted). */
static void job_wrap(od *d, llm_job *job) {
  tramp *t = xcalloc(1, sizeof *t);
  *t = (tramp){.od = d, .on_token = job->on_token, .on_done = job->on_done, .user = job->user};
  job->on_token = job->on_token ? tr_token : NULL;
  job->on_done = tr_done;
  job->user = t;
}

static void job_unwrap(llm_job *job) {
  tramp *t = job->user;
  job->on_token = t->on_token;
  job->on_done = t->on_done;
  job->user = t->user;
  mem_free(t);
}

/* Ends a job that never reached the real backend: cancelled, or with code and err_msg(). */
static void job_fail(llm_job *job, int code) {
  llm_result *res = llm__result_new();
  if (code == MIMIC_ECANCELLED || llm__job_cancelled(job))
    res->finish = LLM_FINISH_CANCELLED;
  else
    llm__result_error(res, code);
  llm__job_finish(job, res);
}

/* ---- loading and unloading ---- */

/* Loads the real backend (lock not held). */
static int od_load(od *d, llm_backend **out) {
  uint64_t t0 = clock_mono_ns();
  int rc = d->o.load(d->o.user, out);
  if (rc) return rc;
  LOG_I("engine", "model loaded in %.1f s", (double)(clock_mono_ns() - t0) / 1e9);
  return 0;
}

/* Loads the remembered adapters into a freshly loaded backend (lock held, so none is added
 * meanwhile). One that no longer loads is dropped with a warning; the model still serves. */
static void apply_adapters(od *d, llm_backend *inner) {
  for (size_t i = 0; i < d->n_adapters;) {
    od_adapter *a = &d->adapters[i];
    if (llm_backend_adapter_load(inner, a->name, a->path, a->scale) == 0) {
      i++;
      continue;
    }
    LOG_W("engine", "adapter '%s' not loaded again: %s", a->name, err_msg());
    mem_free(a->name);
    mem_free(a->path);
    d->adapters[i] = d->adapters[--d->n_adapters];
  }
}

/* Runs a load for the jobs waiting (thread). Called and returns with the lock held. */
static void od_load_pending(od *d) {
  pthread_mutex_unlock(&d->mu);
  llm_backend *inner = NULL;
  int rc = od_load(d, &inner);
  char why[256] = "";
  if (rc) {
    str_lcpy(why, err_msg(), sizeof why);
    LOG_E("engine", "loading the model failed: %s", why);
  }
  pthread_mutex_lock(&d->mu);
  if (inner) apply_adapters(d, inner);
  d->inner = inner;
  d->state = inner ? LLM_MODEL_LOADED : LLM_MODEL_UNLOADED;
  llm_job **jobs = d->pending;
  size_t n = d->n_pending;
  d->pending = NULL;
  d->n_pending = d->cap_pending = 0;
  pthread_mutex_unlock(&d->mu);
  for (size_t i = 0; i < n; i++) {
    llm_job *job = jobs[i];
    int jrc = rc;
    if (!jrc && llm__job_cancelled(job)) jrc = MIMIC_ECANCELLED;
    if (!jrc) jrc = inner->ops->submit(inner, job);
    if (jrc) {
      if (rc) err_set(rc, "%s", why);
      job_fail(job, jrc);
    }
  }
  mem_free(jobs);
  pthread_mutex_lock(&d->mu);
}

/* Takes the real backend out when idle past the limit (lock held); the caller destroys *out with
 * the lock released. */
static bool take_idle(od *d, llm_backend **out) {
  *out = NULL;
  if (d->state != LLM_MODEL_LOADED || d->active > 0 || d->o.idle_unload_ms <= 0) return false;
  int64_t idle = od_now(d) - d->last_ms;
  if (idle < d->o.idle_unload_ms) return false;
  *out = d->inner;
  d->inner = NULL;
  d->state = LLM_MODEL_UNLOADED;
  LOG_I("engine", "unloading the model after %lld s idle", (long long)(idle / 1000));
  return true;
}

/* Destroys the real backend and hands freed heap back to the system (the model's mapping goes
 * with llm_model_destroy's munmap; malloc_trim returns the KV cache and buffers glibc kept). */
static void release(llm_backend *inner) {
  llm_backend_destroy(inner);
  malloc_trim(0);
}

static void *od_thread(void *p) {
  od *d = p;
  pthread_mutex_lock(&d->mu);
  while (!d->closing) {
    if (d->state == LLM_MODEL_LOADING) {
      od_load_pending(d);
      continue;
    }
    llm_backend *gone;
    if (!d->o.manual && take_idle(d, &gone)) {
      pthread_mutex_unlock(&d->mu);
      release(gone);
      pthread_mutex_lock(&d->mu);
      continue;
    }
    if (!d->o.manual && d->state == LLM_MODEL_LOADED && d->active == 0 && d->o.idle_unload_ms > 0) {
      /* Sleep until the idle limit (by the monotonic clock; the check above uses d's clock). */
      int64_t left = d->last_ms + d->o.idle_unload_ms - od_now(d);
      if (left < 1) left = 1;
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_sec += left / 1000;
      ts.tv_nsec += (left % 1000) * 1000000L;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&d->cv, &d->mu, &ts);
    } else {
      pthread_cond_wait(&d->cv, &d->mu);
    }
  }
  pthread_mutex_unlock(&d->mu);
  return NULL;
}

/* ---- the backend operations ---- */

static int od_submit(llm_backend *b, llm_job *job) {
  od *d = (od *)b;
  job_wrap(d, job);
  pthread_mutex_lock(&d->mu);
  if (d->closing) {
    pthread_mutex_unlock(&d->mu);
    job_unwrap(job);
    return err_set(MIMIC_ECANCELLED, "the engine is shutting down");
  }
  d->active++;
  d->last_ms = od_now(d);
  if (d->state == LLM_MODEL_LOADED) {
    llm_backend *inner = d->inner; /* stays: nothing unloads while active > 0 */
    pthread_mutex_unlock(&d->mu);
    int rc = inner->ops->submit(inner, job);
    if (rc) {
      job_unwrap(job);
      pthread_mutex_lock(&d->mu);
      d->active--;
      pthread_mutex_unlock(&d->mu);
    }
    return rc;
  }
  if (d->n_pending == d->cap_pending) {
    d->cap_pending = d->cap_pending ? d->cap_pending * 2 : 8;
    d->pending = xrealloc(d->pending, d->cap_pending * sizeof *d->pending);
  }
  d->pending[d->n_pending++] = job;
  if (d->state == LLM_MODEL_UNLOADED) {
    d->state = LLM_MODEL_LOADING;
    LOG_I("engine", "loading the model for a request");
  }
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  return 0;
}

static int od_adapter_load(llm_backend *b, const char *name, const char *path, float scale) {
  od *d = (od *)b;
  pthread_mutex_lock(&d->mu);
  /* Loaded now when the model is in memory; remembered for every later load either way. While
   * loading, the load itself picks it up from the list after the model. The list is kept under
   * the lock, so the adapter load of a loaded model runs under it too (it is short). */
  int rc = 0;
  if (d->state == LLM_MODEL_LOADED)
    rc = llm_backend_adapter_load(d->inner, name, path, scale);
  else if (access(path, R_OK) != 0) /* checked fully when the model loads */
    rc = err_set(MIMIC_ENOTFOUND, "%s: cannot read the adapter: %s", path, strerror(errno));
  if (!rc) {
    size_t i = 0;
    while (i < d->n_adapters && strcmp(d->adapters[i].name, name) != 0) i++;
    if (i == d->n_adapters) {
      d->adapters = xrealloc(d->adapters, (d->n_adapters + 1) * sizeof *d->adapters);
      d->adapters[d->n_adapters++] = (od_adapter){.name = xstrdup(name)};
    } else {
      mem_free(d->adapters[i].path);
    }
    d->adapters[i].path = xstrdup(path);
    d->adapters[i].scale = scale;
  }
  pthread_mutex_unlock(&d->mu);
  return rc;
}

static void od_stats(llm_backend *b, llm_backend_stats *out) {
  od *d = (od *)b;
  pthread_mutex_lock(&d->mu);
  if (d->state == LLM_MODEL_LOADED && d->inner->ops->stats) d->inner->ops->stats(d->inner, out);
  out->queued += (int)d->n_pending;
  if (!out->slots) out->slots = d->o.slots;
  pthread_mutex_unlock(&d->mu);
}

static void od_shutdown(llm_backend *b) {
  od *d = (od *)b;
  pthread_mutex_lock(&d->mu);
  d->closing = true;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
  if (d->th_started) pthread_join(d->th, NULL);
  /* The thread is gone: what waits for a load is cancelled, what runs ends with the real one. */
  for (size_t i = 0; i < d->n_pending; i++) job_fail(d->pending[i], MIMIC_ECANCELLED);
  d->n_pending = 0;
  llm_backend_destroy(d->inner);
  d->inner = NULL;
}

static void od_free(llm_backend *b) {
  od *d = (od *)b;
  for (size_t i = 0; i < d->n_adapters; i++) {
    mem_free(d->adapters[i].name);
    mem_free(d->adapters[i].path);
  }
  mem_free(d->adapters);
  mem_free(d->pending);
  if (d->o.user_free) d->o.user_free(d->o.user);
  pthread_mutex_destroy(&d->mu);
  pthread_cond_destroy(&d->cv);
  mem_free(d);
}

static const llm_backend_ops od_ops = {.name = "local",
                                       .submit = od_submit,
                                       .adapter_load = od_adapter_load,
                                       .stats = od_stats,
                                       .shutdown = od_shutdown,
                                       .free = od_free};

int llm_backend_ondemand_new(const llm_ondemand_opts *o, llm_backend **out) {
  *out = NULL;
  MIMIC_ASSERT(o->load);
  od *d = xcalloc(1, sizeof *d);
  llm__backend_init(&d->base, &od_ops);
  d->o = *o;
  pthread_mutex_init(&d->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&d->cv, &ca);
  pthread_condattr_destroy(&ca);
  d->state = LLM_MODEL_UNLOADED;
  int rc = 0;
  if (o->preload) {
    if ((rc = od_load(d, &d->inner))) goto fail;
    d->state = LLM_MODEL_LOADED;
  }
  d->last_ms = od_now(d);
  if (pthread_create(&d->th, NULL, od_thread, d) != 0) {
    rc = err_set(MIMIC_ENOMEM, "cannot start the engine's loader thread");
    goto fail;
  }
  d->th_started = true;
  *out = &d->base;
  return 0;
fail:
  llm_backend_destroy(d->inner);
  d->inner = NULL;
  pthread_mutex_destroy(&d->base.mu);
  od_free(&d->base);
  return rc;
}

llm_model_state llm_backend_model_state(llm_backend *b) {
  if (!b || b->ops != &od_ops) return LLM_MODEL_LOADED;
  od *d = (od *)b;
  pthread_mutex_lock(&d->mu);
  llm_model_state s = d->state;
  pthread_mutex_unlock(&d->mu);
  return s;
}

const char *llm_model_state_name(llm_model_state s) {
  switch (s) {
  case LLM_MODEL_LOADED: return "loaded";
  case LLM_MODEL_UNLOADED: return "unloaded";
  case LLM_MODEL_LOADING: return "loading";
  }
  return "?";
}

bool llm_backend_idle_check(llm_backend *b) {
  if (!b || b->ops != &od_ops) return false;
  od *d = (od *)b;
  llm_backend *gone;
  pthread_mutex_lock(&d->mu);
  bool yes = !d->closing && take_idle(d, &gone);
  pthread_mutex_unlock(&d->mu);
  if (yes) release(gone);
  return yes;
}
