/* Scheduled jobs and their runs: what the scheduler (bot/) fires, persisted so that a restart
 * neither loses nor repeats a run. A run is identified by (job, scheduled instant) and claimed by
 * inserting that row: whichever process inserts it first owns the run, so two processes on one
 * database can never both fire it.
 *
 * Not here: cron arithmetic (base/cron.h), what a job kind does and guild switches (bot/). Times
 * are Unix milliseconds, UTC; the scheduled instant is the schedule's exact time, before jitter. */
#ifndef MIMIC_STORE_SCHEDULE_H
#define MIMIC_STORE_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define SCHED_NAME_MAX   64
#define SCHED_KIND_MAX   32
#define SCHED_EXPR_MAX   256
#define SCHED_TZ_MAX     64
#define SCHED_PARAMS_MAX 4096

typedef enum {
  SCHED_MISSED_SKIP = 0, /* runs missed while down are dropped; the next one is in the future */
  SCHED_MISSED_ONCE = 1  /* the latest missed run fires once at start, then the schedule goes on */
} sched_missed;

typedef struct store_sched_job {
  int64_t id;                    /* 0 until stored */
  char name[SCHED_NAME_MAX];     /* unique, case-insensitive */
  char kind[SCHED_KIND_MAX];     /* which job function runs it */
  uint64_t guild_id, channel_id; /* 0: not bound to one */
  char expr[SCHED_EXPR_MAX];     /* cron expression or interval (base/cron.h) */
  char tz[SCHED_TZ_MAX];         /* IANA zone the expression is read in */
  sched_missed missed;
  int jitter_s; /* a run fires up to this many seconds after its instant */
  bool enabled;
  char params[SCHED_PARAMS_MAX]; /* JSON object for the job function */
  int64_t next_ms;               /* the next scheduled instant; 0: not computed yet */
  int64_t last_ms;               /* the last claimed instant; 0: never ran */
} store_sched_job;

typedef struct store_sched_run {
  int64_t job_id, scheduled_ms, claimed_ms, finished_ms; /* finished_ms 0 while running */
  char claimed_by[64];
  char status[16]; /* running, ok, failed, skipped */
  char detail[256];
} store_sched_run;

/* Adds a job (j->id is set). MIMIC_EINVAL when the name exists or a field is empty or too long. */
int store_sched_add(store *s, store_sched_job *j) MIMIC_MUST;
/* Updates every field but id, by id. MIMIC_ENOTFOUND when there is no such job. */
int store_sched_update(store *s, const store_sched_job *j) MIMIC_MUST;
/* Removes a job and its runs. MIMIC_ENOTFOUND when there is none of that name. */
int store_sched_remove(store *s, const char *name) MIMIC_MUST;
int store_sched_get(store *s, const char *name, store_sched_job *out) MIMIC_MUST;

typedef int (*store_sched_job_fn)(const store_sched_job *j, void *user);
/* Calls fn for every job by name (only enabled ones with next_ms <= due_ms when due_ms > 0);
 * stops early when fn returns nonzero and returns that. */
int store_sched_each(store *s, int64_t due_ms, store_sched_job_fn fn, void *user) MIMIC_MUST;

/* Claims the run of job_id at scheduled_ms for `by` (a process tag) and moves the job's next_ms to
 * next_ms, in one transaction. *claimed is false when the run was already claimed (by anyone, in
 * any process) or the job is gone; then nothing changes. */
int store_sched_claim(store *s, int64_t job_id, int64_t scheduled_ms, int64_t next_ms,
                      const char *by, bool *claimed) MIMIC_MUST;
/* Records how a claimed run ended (status "ok", "failed" or "skipped", detail one line). */
int store_sched_finish(store *s, int64_t job_id, int64_t scheduled_ms, const char *status,
                       const char *detail) MIMIC_MUST;
/* Sets a job's next_ms without claiming (computing the first instant, or skipping missed runs). */
int store_sched_set_next(store *s, int64_t job_id, int64_t next_ms) MIMIC_MUST;

typedef int (*store_sched_run_fn)(const store_sched_run *r, void *user);
/* The latest `limit` runs of a job, newest first. */
int store_sched_runs(store *s, int64_t job_id, int limit, store_sched_run_fn fn,
                     void *user) MIMIC_MUST;

/* How many runs of jobs bound to guild_id (0: any) whose kind is one of kinds[0..n_kinds) (n_kinds
 * 0: any kind) ended "ok" at an instant since since_ms: the daily cap's count of posts. */
int store_sched_count_ok(store *s, uint64_t guild_id, int64_t since_ms, const char *const *kinds,
                         size_t n_kinds, int64_t *n) MIMIC_MUST;

/* Deletes finished runs scheduled before before_ms (a minute-by-minute job writes 1,440 a day);
 * *n (may be NULL): how many. A job's last run is kept whatever its age. */
int store_sched_prune(store *s, int64_t before_ms, int64_t *n) MIMIC_MUST;

#endif
