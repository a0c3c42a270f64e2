/* A scripted llm_backend for the bot's tests and benchmark (tests only, never shipped). Jobs are
 * held until the test releases them (fake_release, on the test's thread, so the order of events
 * is exact), or answered at once by a worker thread in auto mode. Cancelled jobs are always
 * finished by the worker, as the real engine does, so bot_destroy's wait ends. It records what
 * the bot asked for: the last prompt, submits, and any overlap of two jobs with one slot key
 * (one generation per channel). Replies come from a script; "!ERR" makes a failed generation. */
#ifndef MIMIC_TESTS_FAKE_BACKEND_H
#define MIMIC_TESTS_FAKE_BACKEND_H
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "llm/backend_impl.h"

#define FAKE_MAX        512
#define FAKE_SCRIPT_MAX 16

typedef struct fake_backend {
  llm_backend base; /* first: the llm_backend the bot gets */
  pthread_mutex_t mu;
  pthread_cond_t cv;      /* work for the worker (submit, cancel polling, stop) */
  pthread_cond_t idle_cv; /* n_held changed */
  pthread_t th;
  bool stop, auto_reply;
  llm_job *held[FAKE_MAX];
  size_t n_held;
  size_t capacity; /* 0 = FAKE_MAX; MIMIC_EBUSY beyond */
  const char *script[FAKE_SCRIPT_MAX];
  size_t n_script, next_script;
  const char *dflt; /* reply once the script is used up */
  int submits, overlaps, finished, cancelled;
  size_t max_held;
  char last_prompt[16384];
  char last_key[64];
  char last_stops[512];
  size_t last_n_images; /* the request's image_urls */
  char last_image[64];  /* the first one's first bytes */
  uint64_t last_seed;
  uint64_t last_submit_ns; /* clock_mono_ns() at the last submit */
  int last_max_tokens;
  float last_temperature;
  char last_adapter[128]; /* the request's adapter name ("" none) and scale */
  float last_adapter_scale;
  bool accept_adapters; /* llm_backend_adapter_load succeeds (recorded) instead of refusing */
  int adapter_loads;
  char last_adapter_path[256];
} fake_backend;

static const char *fake__next_text(fake_backend *f) {
  if (f->next_script < f->n_script) return f->script[f->next_script++];
  return f->dflt ? f->dflt : "sure thing";
}

/* Finishes one job (not under the lock). */
static inline void fake__finish(fake_backend *f, llm_job *j, const char *text) {
  (void)f;
  llm_result *r = llm__result_new();
  if (llm__job_cancelled(j)) {
    r->finish = LLM_FINISH_CANCELLED;
  } else if (text && strncmp(text, "!ERR", 4) == 0) {
    r->finish = LLM_FINISH_ERROR;
    r->error = MIMIC_EIO;
    str_lcpy(r->error_msg, "the fake engine failed on purpose", sizeof r->error_msg);
  } else {
    mem_free(r->text);
    r->text = xstrdup(text ? text : "");
    r->text_len = strlen(r->text);
    r->finish = LLM_FINISH_EOG;
    r->gen_tokens = (int)(r->text_len / 4 + 1);
    r->prompt_tokens = 40;
    r->gen_ms = 1;
  }
  llm__job_finish(j, r);
}

static inline void fake__remove(fake_backend *f, size_t i) {
  memmove(f->held + i, f->held + i + 1, (f->n_held - i - 1) * sizeof *f->held);
  f->n_held--;
  pthread_cond_broadcast(&f->idle_cv);
}

static void *fake__worker(void *arg) {
  fake_backend *f = arg;
  pthread_mutex_lock(&f->mu);
  while (!f->stop) {
    bool did = false;
    for (size_t i = 0; i < f->n_held; i++) {
      llm_job *j = f->held[i];
      if (!llm__job_cancelled(j) && !f->auto_reply) continue;
      const char *text = llm__job_cancelled(j) ? NULL : fake__next_text(f);
      if (llm__job_cancelled(j)) f->cancelled++;
      f->finished++;
      fake__remove(f, i);
      pthread_mutex_unlock(&f->mu);
      fake__finish(f, j, text);
      pthread_mutex_lock(&f->mu);
      did = true;
      break;
    }
    if (did) continue;
    /* Cancel is a flag on the job with no signal, so the worker looks again every 2 ms while jobs
     * are held; with nothing held it sleeps until a submit. */
    if (f->n_held) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_nsec += 2000000;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&f->cv, &f->mu, &ts);
    } else {
      pthread_cond_wait(&f->cv, &f->mu);
    }
  }
  pthread_mutex_unlock(&f->mu);
  return NULL;
}

static inline int fake__submit(llm_backend *b, llm_job *job) {
  fake_backend *f = (fake_backend *)b;
  pthread_mutex_lock(&f->mu);
  size_t cap = f->capacity ? f->capacity : FAKE_MAX;
  if (f->n_held >= cap || f->stop) {
    pthread_mutex_unlock(&f->mu);
    return err_set(MIMIC_EBUSY, "the fake engine's queue is full");
  }
  const char *key = job->req.slot_key ? job->req.slot_key : "";
  for (size_t i = 0; i < f->n_held; i++) {
    const char *k = f->held[i]->req.slot_key;
    if (*key && k && strcmp(k, key) == 0) f->overlaps++;
  }
  str_lcpy(f->last_key, key, sizeof f->last_key);
  size_t o = 0;
  f->last_prompt[0] = 0;
  for (size_t i = 0; i < job->req.n_messages; i++) {
    const llm_message *m = &job->req.messages[i];
    int w = snprintf(f->last_prompt + o, sizeof f->last_prompt - o, "%s|%s|%s\n", m->role,
                     m->name ? m->name : "", m->content);
    if (w < 0 || (size_t)w >= sizeof f->last_prompt - o) break;
    o += (size_t)w;
  }
  f->last_stops[0] = 0;
  o = 0;
  for (size_t i = 0; i < job->req.n_stop; i++) {
    int w = snprintf(f->last_stops + o, sizeof f->last_stops - o, "[%s]", job->req.stop[i]);
    if (w < 0 || (size_t)w >= sizeof f->last_stops - o) break;
    o += (size_t)w;
  }
  f->last_n_images = job->req.n_image_urls;
  str_lcpy(f->last_image, job->req.n_image_urls ? job->req.image_urls[0] : "",
           sizeof f->last_image);
  f->last_seed = job->req.sampling.seed;
  f->last_submit_ns = clock_mono_ns();
  f->last_max_tokens = job->req.max_tokens;
  f->last_temperature = job->req.sampling.temperature;
  str_lcpy(f->last_adapter, job->req.adapter ? job->req.adapter : "", sizeof f->last_adapter);
  f->last_adapter_scale = job->req.adapter_scale;
  f->held[f->n_held++] = job;
  if (f->n_held > f->max_held) f->max_held = f->n_held;
  f->submits++;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  return 0;
}

static inline int fake__adapter(llm_backend *b, const char *name, const char *path, float scale) {
  fake_backend *f = (fake_backend *)b;
  (void)name, (void)scale;
  if (!f->accept_adapters) return err_set(MIMIC_EUNSUPPORTED, "the fake engine has no adapters");
  pthread_mutex_lock(&f->mu);
  f->adapter_loads++;
  str_lcpy(f->last_adapter_path, path, sizeof f->last_adapter_path);
  pthread_mutex_unlock(&f->mu);
  return 0;
}

static inline void fake__stats(llm_backend *b, llm_backend_stats *out) {
  fake_backend *f = (fake_backend *)b;
  pthread_mutex_lock(&f->mu);
  out->queued = 0;
  out->running = (int)f->n_held;
  out->slots = 8;
  pthread_mutex_unlock(&f->mu);
}

static inline void fake__shutdown(llm_backend *b) {
  fake_backend *f = (fake_backend *)b;
  pthread_mutex_lock(&f->mu);
  f->stop = true;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->th, NULL);
  while (f->n_held) {
    llm_job *j = f->held[0];
    fake__remove(f, 0);
    llm__job_cancel(j);
    fake__finish(f, j, NULL);
  }
}

static inline void fake__free(llm_backend *b) {
  fake_backend *f = (fake_backend *)b;
  pthread_cond_destroy(&f->cv);
  pthread_cond_destroy(&f->idle_cv);
  mem_free(f);
}

static const llm_backend_ops fake_ops = {"fake",      fake__submit,   fake__adapter,
                                         fake__stats, fake__shutdown, fake__free};

static fake_backend *fake_new(bool auto_reply) {
  fake_backend *f = xcalloc(1, sizeof *f);
  llm__backend_init(&f->base, &fake_ops);
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  pthread_cond_init(&f->idle_cv, NULL);
  f->auto_reply = auto_reply;
  pthread_create(&f->th, NULL, fake__worker, f);
  return f;
}

/* Script of replies, in order ("!ERR" = a failed generation); then dflt. */
static inline void fake_script(fake_backend *f, const char *const *texts, size_t n) {
  pthread_mutex_lock(&f->mu);
  for (size_t i = 0; i < n && i < FAKE_SCRIPT_MAX; i++) f->script[i] = texts[i];
  f->n_script = n < FAKE_SCRIPT_MAX ? n : FAKE_SCRIPT_MAX;
  f->next_script = 0;
  pthread_mutex_unlock(&f->mu);
}

static inline size_t fake_held(fake_backend *f) {
  pthread_mutex_lock(&f->mu);
  size_t n = f->n_held;
  pthread_mutex_unlock(&f->mu);
  return n;
}

/* Finishes up to n of the oldest held jobs that are not cancelled, on the caller's thread (their
 * on_done runs here). Returns how many. */
static inline int fake_release(fake_backend *f, int n) {
  int done = 0;
  while (done < n) {
    pthread_mutex_lock(&f->mu);
    llm_job *j = NULL;
    for (size_t i = 0; i < f->n_held; i++)
      if (!llm__job_cancelled(f->held[i])) {
        j = f->held[i];
        fake__remove(f, i);
        break;
      }
    const char *text = j ? fake__next_text(f) : NULL;
    if (j) f->finished++;
    pthread_mutex_unlock(&f->mu);
    if (!j) break;
    fake__finish(f, j, text);
    done++;
  }
  return done;
}

/* Waits until the worker has finished every cancelled job (held ones that are not cancelled
 * stay). */
static inline void fake_wait_cancelled(fake_backend *f) {
  pthread_mutex_lock(&f->mu);
  for (;;) {
    bool any = false;
    for (size_t i = 0; i < f->n_held; i++)
      if (llm__job_cancelled(f->held[i])) any = true;
    if (!any) break;
    pthread_cond_signal(&f->cv);
    pthread_cond_wait(&f->idle_cv, &f->mu);
  }
  pthread_mutex_unlock(&f->mu);
}

#endif
