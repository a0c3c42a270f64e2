/* The compute pool: a fixed team of threads that runs the kernels' parallel sections (matrix
 * products, attention heads, quantization). The caller of a section is its thread 0; the other
 * threads spin briefly after a section, then sleep, so back-to-back sections (hundreds per decode
 * step) do not pay a wake-up each, and an idle pool costs nothing. Not here: how work is split
 * (the callers choose rows, heads or chunks) and the kernels themselves (quant.h).
 *
 * Contract shared by every function below:
 *  - one caller at a time per pool: a section must end before the next starts (no nesting), so
 *    give each thread that computes (each engine worker, the trainer) its own pool; a second
 *    caller is a programming error and aborts (MIMIC_ASSERT);
 *  - a NULL pool is valid everywhere and means "one thread, the caller";
 *  - results must not depend on which thread did which part: a section's work function may only
 *    write what its index range or thread index owns, so the same inputs give the same bits
 *    whatever the thread count. */
#ifndef MIMIC_LLM_COMPUTE_POOL_H
#define MIMIC_LLM_COMPUTE_POOL_H
#include <stdint.h>

typedef struct compute_pool compute_pool;

/* Starts n_threads - 1 worker threads (the caller is the other one); n_threads <= 0 means one per
 * online core, and at most 256 are used. Never NULL (allocation aborts, as xcalloc does): when the
 * system refuses a thread, the pool runs with the threads it has (a warning is logged) and
 * compute_pool_threads says how many. Caller destroys. */
compute_pool *compute_pool_new(int n_threads);
/* Stops and joins the workers. Accepts NULL. Not while a section runs. */
void compute_pool_destroy(compute_pool *p);
/* Threads in a section, the caller included (1 for a NULL pool). */
int compute_pool_threads(const compute_pool *p);

/* Runs fn(ith, nth, arg) on every thread of the pool (ith in [0, nth), nth =
 * compute_pool_threads) and returns when all have returned. The caller runs ith 0. For work split
 * by thread index, where each thread must take part. */
void compute_pool_run(compute_pool *p, void (*fn)(int ith, int nth, void *arg), void *arg);

/* Runs fn(arg, begin, end) over the items [0, n) in chunks of `chunk` items (the last may be
 * shorter; chunk < 1 counts as 1), each chunk claimed by whichever pool thread is free first. The
 * caller takes part and waits only for threads that joined the section: a thread the OS has not
 * scheduled yet is not waited for (its share is done by the others), which keeps a decode step fast
 * on a busy machine. Every item is covered by exactly one call; which thread makes it varies, so fn
 * must not depend on it. n <= 0 does nothing. */
void compute_pool_for(compute_pool *p, int64_t n, int64_t chunk,
                      void (*fn)(void *arg, int64_t begin, int64_t end), void *arg);

/* As compute_pool_for, with chunks that shrink as the items run out (guided self-scheduling): a
 * claim takes the items left over twice the thread count, in whole multiples of `unit` items (unit
 * < 1 counts as 1), and never less than one unit; on one thread (or a NULL pool) fn runs once over
 * all n items. The threads of a section finish within about one unit of each other while the first
 * chunks stay long: for work where each chunk's start costs something (a matrix product's row
 * streams) and the threads' speeds differ (one thread's memory traffic slows the other, or the OS
 * takes a core away for a while). */
void compute_pool_for_guided(compute_pool *p, int64_t n, int64_t unit,
                             void (*fn)(void *arg, int64_t begin, int64_t end), void *arg);

#endif
