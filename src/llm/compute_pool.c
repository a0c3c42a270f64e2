/* The compute pool (compute_pool.h): a fixed team of threads for the kernels' parallel sections.
 * The caller is thread 0 of every section; the other threads spin briefly after each section (a
 * decode step runs hundreds of sections back to back, and waking a sleeping thread costs tens of
 * microseconds), then sleep on a condition variable. Not here: work splitting (the callers). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "llm/compute_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* About 10-50 microseconds of spinning before sleeping. */
#define POOL_SPIN 4000

/* The section word: generation in bits 32..63, then flags, then the number of workers inside a
 * compute_pool_for section. One atomic word, so a worker that wakes late sees which section is
 * current, what kind it is and whether it may still join, all at once. */
#define SECT_GEN(s) ((uint32_t)((s) >> 32))
#define SECT_RUN    ((uint64_t)1 << 31) /* compute_pool_run: every thread takes part */
#define SECT_CLOSED                                                                                \
  ((uint64_t)1 << 30) /* compute_pool_for: all chunks claimed, no more joining                     \
                       */
#define SECT_COUNT(s) ((s) & (((uint64_t)1 << 30) - 1))

typedef struct pool_thread {
  struct compute_pool *pool;
  int ith;
  pthread_t th;
} pool_thread;

struct compute_pool {
  int n;
  pool_thread *threads; /* n - 1 workers */
  pthread_mutex_t mu;
  pthread_cond_t cv_work, cv_done;
  _Atomic uint64_t sect;
  atomic_int pending; /* compute_pool_run: workers still running the current section */
  atomic_int stop;
  atomic_bool busy; /* a section is running: a second caller breaks the one-caller contract */
  void (*fn)(int ith, int nth, void *arg);
  void (*for_fn)(void *arg, int64_t begin, int64_t end);
  void *arg;
  int64_t for_n, for_chunk;
  int64_t for_div; /* compute_pool_for_guided: a claim takes the items left / for_div; 0: fixed */
  _Atomic int64_t next; /* compute_pool_for: first item not yet claimed */
};

/* Claims chunks of the current compute_pool_for section until none is left: chunks of for_chunk
 * items, or (guided) the items left over for_div, in whole multiples of for_chunk. */
static void for_claim(compute_pool *p) {
  int64_t n = p->for_n, chunk = p->for_chunk, div = p->for_div;
  for (;;) {
    int64_t b, e;
    if (!div) {
      b = atomic_fetch_add(&p->next, chunk);
      if (b >= n) break;
      e = b + chunk < n ? b + chunk : n;
    } else {
      b = atomic_load(&p->next);
      do {
        if (b >= n) return;
        int64_t c = (n - b) / div;
        c = c <= chunk ? chunk : (c + chunk - 1) / chunk * chunk;
        e = c < n - b ? b + c : n;
      } while (!atomic_compare_exchange_weak(&p->next, &b, e));
    }
    p->for_fn(p->arg, b, e);
  }
}

static void *pool_main(void *v) {
  pool_thread *t = v;
  compute_pool *p = t->pool;
  uint32_t seen = 0;
  for (;;) {
    int spins = 0;
    while (SECT_GEN(atomic_load(&p->sect)) == seen && !atomic_load(&p->stop) && spins++ < POOL_SPIN)
      cpu_relax();
    if (SECT_GEN(atomic_load(&p->sect)) == seen && !atomic_load(&p->stop)) {
      pthread_mutex_lock(&p->mu);
      while (SECT_GEN(atomic_load(&p->sect)) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->cv_work, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) break;
    uint64_t s = atomic_load(&p->sect);
    seen = SECT_GEN(s);
    if (s & SECT_RUN) {
      /* The caller waits for every worker, so this section's fn and arg cannot change under us. */
      p->fn(t->ith, p->n, p->arg);
      if (atomic_fetch_sub(&p->pending, 1) == 1) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
      }
      continue;
    }
    /* Join unless the section is closed or already over (then the caller did our share). */
    bool joined = false;
    while (SECT_GEN(s) == seen && !(s & (SECT_CLOSED | SECT_RUN)))
      if (atomic_compare_exchange_weak(&p->sect, &s, s + 1)) {
        joined = true;
        break;
      }
    if (!joined) continue;
    for_claim(p);
    uint64_t left = atomic_fetch_sub(&p->sect, 1);
    if (SECT_COUNT(left) == 1 && (left & SECT_CLOSED)) {
      pthread_mutex_lock(&p->mu);
      pthread_cond_signal(&p->cv_done);
      pthread_mutex_unlock(&p->mu);
    }
  }
  return NULL;
}

compute_pool *compute_pool_new(int n_threads) {
  if (n_threads <= 0) {
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    n_threads = nc > 0 ? (int)nc : 1;
  }
  if (n_threads > 256) n_threads = 256;
  compute_pool *p = xcalloc(1, sizeof *p);
  p->n = n_threads;
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv_work, NULL);
  pthread_cond_init(&p->cv_done, NULL);
  atomic_init(&p->sect, 0);
  atomic_init(&p->pending, 0);
  atomic_init(&p->stop, 0);
  atomic_init(&p->busy, false);
  atomic_init(&p->next, 0);
  p->threads = xcalloc((size_t)n_threads, sizeof *p->threads);
  for (int i = 1; i < n_threads; i++) {
    pool_thread *t = &p->threads[i - 1];
    t->pool = p;
    t->ith = i;
    if (pthread_create(&t->th, NULL, pool_main, t) != 0) {
      /* Run with the threads we have rather than fail: the work split adapts to p->n. */
      LOG_W("llm", "compute pool: could only start %d of %d threads", i, n_threads);
      p->n = i;
      break;
    }
  }
  return p;
}

void compute_pool_destroy(compute_pool *p) {
  if (!p) return;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->stop, 1);
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
  for (int i = 1; i < p->n; i++) pthread_join(p->threads[i - 1].th, NULL);
  pthread_cond_destroy(&p->cv_work);
  pthread_cond_destroy(&p->cv_done);
  pthread_mutex_destroy(&p->mu);
  mem_free(p->threads);
  mem_free(p);
}

int compute_pool_threads(const compute_pool *p) { return p ? p->n : 1; }

/* Publishes a new section (generation + 1, with flags) and wakes sleeping workers. */
static void sect_open(compute_pool *p, uint64_t flags) {
  uint64_t gen = SECT_GEN(atomic_load(&p->sect)) + 1u;
  pthread_mutex_lock(&p->mu);
  atomic_store(&p->sect, ((uint64_t)(uint32_t)gen << 32) | flags);
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
}

void compute_pool_run(compute_pool *p, void (*fn)(int ith, int nth, void *arg), void *arg) {
  if (!p || p->n <= 1) {
    fn(0, 1, arg);
    return;
  }
  MIMIC_ASSERT(!atomic_exchange(&p->busy, true)); /* one caller at a time, no nesting */
  p->fn = fn;
  p->arg = arg;
  atomic_store(&p->pending, p->n - 1);
  sect_open(p, SECT_RUN);
  fn(0, p->n, arg);
  int spins = 0;
  while (atomic_load(&p->pending) > 0 && spins++ < POOL_SPIN) cpu_relax();
  if (atomic_load(&p->pending) > 0) {
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
  atomic_store(&p->busy, false);
}

/* The body of compute_pool_for and compute_pool_for_guided (div 0: fixed chunks). */
static void pool_for(compute_pool *p, int64_t n, int64_t chunk, int64_t div,
                     void (*fn)(void *arg, int64_t begin, int64_t end), void *arg) {
  if (n <= 0) return;
  if (chunk < 1) chunk = 1;
  if (!p || p->n <= 1 || n <= chunk) {
    if (div) /* guided, one thread: nothing to balance, one call */
      fn(arg, 0, n);
    else
      for (int64_t b = 0; b < n; b += chunk) fn(arg, b, b + chunk < n ? b + chunk : n);
    return;
  }
  MIMIC_ASSERT(!atomic_exchange(&p->busy, true)); /* one caller at a time, no nesting */
  p->for_fn = fn;
  p->arg = arg;
  p->for_n = n;
  p->for_chunk = chunk;
  p->for_div = div;
  atomic_store(&p->next, 0);
  sect_open(p, 0);
  for_claim(p);
  /* Close: workers that have not joined yet never will; wait only for those inside. */
  uint64_t s = atomic_fetch_or(&p->sect, SECT_CLOSED) | SECT_CLOSED;
  int spins = 0;
  while (SECT_COUNT(s) > 0 && spins++ < POOL_SPIN) {
    cpu_relax();
    s = atomic_load(&p->sect);
  }
  if (SECT_COUNT(s) > 0) {
    pthread_mutex_lock(&p->mu);
    while (SECT_COUNT(atomic_load(&p->sect)) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
  atomic_store(&p->busy, false);
}

void compute_pool_for(compute_pool *p, int64_t n, int64_t chunk,
                      void (*fn)(void *arg, int64_t begin, int64_t end), void *arg) {
  pool_for(p, n, chunk, 0, fn, arg);
}

void compute_pool_for_guided(compute_pool *p, int64_t n, int64_t unit,
                             void (*fn)(void *arg, int64_t begin, int64_t end), void *arg) {
  pool_for(p, n, unit, 2 * (int64_t)compute_pool_threads(p), fn, arg);
}
