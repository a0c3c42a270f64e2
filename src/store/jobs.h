/* Long jobs' progress (fetch, prepare, train, eval) as rows a job updates while it runs, so the
 * dashboard, !status and the terminal's progress bars read one truth. A row says what runs, how
 * far it is (done of total steps), its last loss, and how it ended. Rows are written by the job's
 * own process (`mimic train` through cli/progress.c) or by whoever started it (the dashboard marks
 * a child that died without saying so). */
#ifndef MIMIC_STORE_JOBS_H
#define MIMIC_STORE_JOBS_H
#include <stdint.h>

#include "base/base.h"
#include "store/store.h"

#define STORE_JOB_TEXT_MAX 512 /* bytes kept of a job's message and log path */

typedef enum {
  STORE_JOB_QUEUED = 0, /* created by the starter, the process has not reported yet */
  STORE_JOB_RUNNING,
  STORE_JOB_DONE,
  STORE_JOB_FAILED,
  STORE_JOB_CANCELLED
} store_job_state;

typedef struct store_job {
  int64_t id;
  char kind[32]; /* "fetch", "prepare", "train", "eval" */
  store_job_state state;
  int64_t pid;
  int64_t started_ms, updated_ms, finished_ms; /* finished_ms 0 while running */
  int64_t done, total;                         /* steps; total 0 when unknown */
  double loss;                                 /* last training loss; NAN when none */
  char message[STORE_JOB_TEXT_MAX];            /* last status line or the error */
  char log_path[STORE_JOB_TEXT_MAX];           /* the job's CSV log (train: the loss curve) */
} store_job;

/* "queued", "running", "done", "failed", "cancelled". */
const char *store_job_state_name(store_job_state st);

/* Adds a job row in state (QUEUED or RUNNING) and returns its id. */
int store_job_add(store *s, const char *kind, store_job_state state, int64_t pid,
                  int64_t *id) MIMIC_MUST;
/* Records progress: done of total steps (total 0: unknown), loss (NAN: unchanged), a message (NULL:
 * unchanged) and log_path (NULL: unchanged); sets the state RUNNING and the pid when pid > 0.
 * MIMIC_ENOTFOUND when no such job. */
int store_job_progress(store *s, int64_t id, int64_t pid, int64_t done, int64_t total, double loss,
                       const char *message, const char *log_path) MIMIC_MUST;
/* Ends a job (DONE, FAILED or CANCELLED) with a message (NULL: unchanged). A job already ended
 * keeps its first ending (the child's own word beats the starter's guess). */
int store_job_finish(store *s, int64_t id, store_job_state state, const char *message) MIMIC_MUST;
/* Reads one job. MIMIC_ENOTFOUND when none. */
int store_job_get(store *s, int64_t id, store_job *out) MIMIC_MUST;
/* Calls fn for the newest jobs first, at most limit. fn returning non-zero stops with that code. */
typedef int (*store_job_fn)(const store_job *j, void *user);
int store_job_each(store *s, int limit, store_job_fn fn, void *user) MIMIC_MUST;

#endif
