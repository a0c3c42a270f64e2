/* The compute pool: a fixed team of threads for the kernels' parallel sections. The caller is
 * thread 0 of every section; the other threads spin briefly after each section (a decode step runs
 * hundreds of sections back to back, and waking a sleeping thread costs tens of microseconds), then
 * sleep on a condition variable so an idle pool costs nothing. Not here: work splitting (callers). */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "llm/quant.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

/* About 10-50 microseconds of spinning before sleeping. */
#define POOL_SPIN 4000

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
  atomic_uint gen;      /* bumped once per section */
  atomic_int pending;   /* workers still running the current section */
  atomic_int stop;
  void (*fn)(int ith, int nth, void *arg);
  void *arg;
};

static void *pool_main(void *v) {
  pool_thread *t = v;
  compute_pool *p = t->pool;
  unsigned seen = 0;
  for (;;) {
    int spins = 0;
    while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop) && spins++ < POOL_SPIN) cpu_relax();
    if (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) {
      pthread_mutex_lock(&p->mu);
      while (atomic_load(&p->gen) == seen && !atomic_load(&p->stop)) pthread_cond_wait(&p->cv_work, &p->mu);
      pthread_mutex_unlock(&p->mu);
    }
    if (atomic_load(&p->stop)) break;
    seen = atomic_load(&p->gen);
    p->fn(t->ith, p->n, p->arg);
    if (atomic_fetch_sub(&p->pending, 1) == 1) {
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
  atomic_init(&p->gen, 0);
  atomic_init(&p->pending, 0);
  atomic_init(&p->stop, 0);
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

void compute_pool_run(compute_pool *p, void (*fn)(int ith, int nth, void *arg), void *arg) {
  if (!p || p->n <= 1) {
    fn(0, 1, arg);
    return;
  }
  p->fn = fn;
  p->arg = arg;
  atomic_store(&p->pending, p->n - 1);
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->gen, 1);
  pthread_cond_broadcast(&p->cv_work);
  pthread_mutex_unlock(&p->mu);
  fn(0, p->n, arg);
  int spins = 0;
  while (atomic_load(&p->pending) > 0 && spins++ < POOL_SPIN) cpu_relax();
  if (atomic_load(&p->pending) > 0) {
    pthread_mutex_lock(&p->mu);
    while (atomic_load(&p->pending) > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
  }
}
