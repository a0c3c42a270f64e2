/* The scheduler: fires persisted jobs (store/schedule.h) at the instants their cron expressions
 * name in their time zones (base/cron.h), exactly once across restarts and processes. A tick looks
 * at the jobs that are due, claims each run in the store (the claim is what makes a run happen at
 * most once, even with two processes on one database), then calls the caller's run function.
 *
 * Timing: a run fires at its instant plus a jitter of 0..job.jitter_s seconds, fixed per (job,
 * instant) so a restart keeps it. A run whose fire time passed more than SCHED_GRACE_MS ago was
 * missed (mimic was down): policy "skip" records it as skipped and moves on to the next instant
 * after now; policy "once" fires the latest missed instant once, then moves on. A run that was
 * claimed and then interrupted by a crash is not repeated (at most once; its row stays "running").
 *
 * Pure of Discord and the engine: what a job does is the run function's business. Not
 * thread-safe: one thread ticks a scheduler. */
#ifndef MIMIC_BOT_SCHEDULER_H
#define MIMIC_BOT_SCHEDULER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/schedule.h"
#include "store/store.h"

#define SCHED_GRACE_MS  (5 * 60 * 1000) /* later than this after its fire time, a run is missed */
#define SCHED_ZONES_MAX 64              /* zones kept loaded */

typedef struct scheduler scheduler;

/* What a run did: 0 done ("ok"), SCHED_RUN_SKIPPED when it chose not to post (quiet hours, a cap,
 * a dead channel: "skipped"), or a negative MIMIC_E* code ("failed"). detail[cap] takes one line.
 */
#define SCHED_RUN_SKIPPED 1
typedef int (*sched_run_fn)(void *user, const store_sched_job *job, int64_t scheduled_ms,
                            char *detail, size_t cap);

/* A scheduler on store s (borrowed; it must outlive the scheduler), claiming as `tag` (a process
 * name for the runs table, e.g. "run:12345"). */
int sched_new(store *s, const char *tag, scheduler **out) MIMIC_MUST;
void sched_destroy(scheduler *sc);

/* The first instant of job j strictly after after_ms (Unix ms), from its expression and zone.
 * MIMIC_EINVAL / MIMIC_ENOTFOUND with one sentence for a bad expression or zone. */
int sched_next_instant(scheduler *sc, const store_sched_job *j, int64_t after_ms,
                       int64_t *next_ms) MIMIC_MUST;

/* The fire time of j's run at scheduled_ms: the instant plus its fixed jitter. */
int64_t sched_fire_time(const store_sched_job *j, int64_t scheduled_ms);

/* Fires every run due at now_ms (Unix ms): claims it, calls run, records the outcome. Jobs with a
 * bad expression are disabled with a log line. Returns the number of runs fired (>= 0) or a
 * negative store error. */
int sched_tick(scheduler *sc, int64_t now_ms, sched_run_fn run, void *user);

/* Runs job `name` now, outside its schedule (`mimic schedule run`, `/drop`): a run claimed at
 * now_ms that does not move the job's next instant. */
int sched_run_now(scheduler *sc, const char *name, int64_t now_ms, sched_run_fn run,
                  void *user) MIMIC_MUST;

#endif
