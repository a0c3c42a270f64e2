/* Bounded MPMC queue (mutex + two condition variables) and a worker pool (see queue.h). A lock-free
 * ring would be faster, but the queue carries whole requests (a generation, an embedding), so its
 * cost is noise next to the work it hands over. */
#include "base/queue.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/alloc.h"

struct queue {
  pthread_mutex_t mu;
  pthread_cond_t not_empty, not_full;
  void **items;
  size_t cap, head, len;
  bool closed;
};

queue *queue_new(size_t capacity) {
  if (capacity == 0) capacity = 1;
  queue *q = mem_calloc(1, sizeof *q);
  if (!q) return NULL;
  q->items = mem_calloc(capacity, sizeof *q->items);
  if (!q->items) {
    mem_free(q);
    return NULL;
  }
  q->cap = capacity;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->not_empty, NULL);
  pthread_cond_init(&q->not_full, NULL);
  return q;
}

void queue_destroy(queue *q) {
  if (!q) return;
  pthread_mutex_destroy(&q->mu);
  pthread_cond_destroy(&q->not_empty);
  pthread_cond_destroy(&q->not_full);
  mem_free(q->items);
  mem_free(q);
}

static void put(queue *q, void *item) {
  q->items[(q->head + q->len) % q->cap] = item;
  q->len++;
  pthread_cond_signal(&q->not_empty);
}

static void *take(queue *q) {
  void *it = q->items[q->head];
  q->head = (q->head + 1) % q->cap;
  q->len--;
  pthread_cond_signal(&q->not_full);
  return it;
}

int queue_try_push(queue *q, void *item) {
  pthread_mutex_lock(&q->mu);
  int rc = 0;
  if (q->closed)
    rc = MIMIC_ECANCELLED;
  else if (q->len == q->cap)
    rc = MIMIC_EBUSY;
  else
    put(q, item);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int queue_push(queue *q, void *item) {
  pthread_mutex_lock(&q->mu);
  while (!q->closed && q->len == q->cap) pthread_cond_wait(&q->not_full, &q->mu);
  int rc = q->closed ? MIMIC_ECANCELLED : 0;
  if (!rc) put(q, item);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

void *queue_pop(queue *q) {
  pthread_mutex_lock(&q->mu);
  while (!q->closed && q->len == 0) pthread_cond_wait(&q->not_empty, &q->mu);
  void *it = q->len ? take(q) : NULL;
  pthread_mutex_unlock(&q->mu);
  return it;
}

void *queue_pop_timeout(queue *q, long timeout_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_sec += timeout_ms / 1000;
  ts.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (ts.tv_nsec >= 1000000000L) {
    ts.tv_sec++;
    ts.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&q->mu);
  while (!q->closed && q->len == 0)
    if (pthread_cond_timedwait(&q->not_empty, &q->mu, &ts) == ETIMEDOUT) break;
  void *it = q->len ? take(q) : NULL;
  pthread_mutex_unlock(&q->mu);
  return it;
}

void *queue_try_pop(queue *q) {
  pthread_mutex_lock(&q->mu);
  void *it = q->len ? take(q) : NULL;
  pthread_mutex_unlock(&q->mu);
  return it;
}

size_t queue_len(queue *q) {
  pthread_mutex_lock(&q->mu);
  size_t n = q->len;
  pthread_mutex_unlock(&q->mu);
  return n;
}

void queue_close(queue *q) {
  pthread_mutex_lock(&q->mu);
  q->closed = true;
  pthread_cond_broadcast(&q->not_empty);
  pthread_cond_broadcast(&q->not_full);
  pthread_mutex_unlock(&q->mu);
}

struct pool {
  queue *q;
  pthread_t *threads;
  int n;
  pool_fn fn;
  void *user;
};

static void *worker(void *arg) {
  pool *p = arg;
  void *job;
  while ((job = queue_pop(p->q)) != NULL) p->fn(job, p->user);
  return NULL;
}

pool *pool_new(int nthreads, size_t queue_cap, pool_fn fn, void *user) {
  if (nthreads < 1) nthreads = 1;
  pool *p = xcalloc(1, sizeof *p);
  p->q = queue_new(queue_cap);
  if (!p->q) {
    free(p);
    return NULL;
  }
  p->fn = fn;
  p->user = user;
  p->threads = xcalloc((size_t)nthreads, sizeof *p->threads);
  for (int i = 0; i < nthreads; i++) {
    if (pthread_create(&p->threads[i], NULL, worker, p) != 0) break;
    p->n++;
  }
  if (p->n == 0) {
    queue_destroy(p->q);
    free(p->threads);
    free(p);
    return NULL;
  }
  return p;
}

int pool_submit(pool *p, void *job) { return queue_try_push(p->q, job); }

void pool_destroy(pool *p) {
  if (!p) return;
  queue_close(p->q);
  for (int i = 0; i < p->n; i++) pthread_join(p->threads[i], NULL);
  queue_destroy(p->q);
  free(p->threads);
  free(p);
}
