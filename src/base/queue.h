/* Bounded multi-producer multi-consumer queue of pointers, and a worker pool on top of it.
 * The I/O loop pushes work with queue_try_push (never blocks); workers block in queue_pop.
 * Results travel back to the loop through the caller's own queue plus a uv_async wake-up. */
#ifndef MIMIC_BASE_QUEUE_H
#define MIMIC_BASE_QUEUE_H
#include <stdbool.h>
#include <stddef.h>
#include "base/err.h"

typedef struct queue queue;

queue *queue_new(size_t capacity); /* NULL on OOM */
void queue_destroy(queue *q);      /* items still inside are not freed */
/* Returns 0, MIMIC_EBUSY when full, MIMIC_ECANCELLED after close. Never blocks. */
int queue_try_push(queue *q, void *item) MIMIC_MUST;
/* Blocks while full; returns 0 or MIMIC_ECANCELLED after close. */
int queue_push(queue *q, void *item) MIMIC_MUST;
/* Blocks until an item or close. Returns NULL once closed and empty. */
void *queue_pop(queue *q);
/* Waits at most timeout_ms; NULL on timeout or closed-and-empty. */
void *queue_pop_timeout(queue *q, long timeout_ms);
void *queue_try_pop(queue *q);
size_t queue_len(queue *q);
/* Wakes every waiter; pushes fail afterwards, pops drain what is left. */
void queue_close(queue *q);

typedef void (*pool_fn)(void *job, void *user);
typedef struct pool pool;
/* Starts n threads that call fn(job, user) for each job pushed. */
pool *pool_new(int nthreads, size_t queue_cap, pool_fn fn, void *user);
int pool_submit(pool *p, void *job) MIMIC_MUST; /* never blocks; MIMIC_EBUSY when full */
/* Closes the queue, lets workers finish queued jobs, joins them. */
void pool_destroy(pool *p);

#endif
