/* A long command's row in the jobs table (cli/job.h). */
#include "cli/job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"
#include "store/jobs.h"

void cli_job_open(cli_job *j, const char *db_path, const char *kind) {
  *j = (cli_job){0};
  str_lcpy(j->kind, kind, sizeof j->kind);
  if (!db_path || !*db_path) return;
  const char *env = getenv("MIMIC_JOB_ID");
  int rc = fs_mkdirs_for(db_path);
  if (!rc) rc = store_open(db_path, &j->db);
  if (!rc && env && *env) {
    rc = str_to_i64(env, &j->id);
    if (rc) rc = err_set(MIMIC_EINVAL, "MIMIC_JOB_ID is not a job id");
  } else if (!rc) {
    rc = store_job_add(j->db, kind, STORE_JOB_RUNNING, (int64_t)getpid(), &j->id);
  }
  if (!rc) rc = store_job_progress(j->db, j->id, (int64_t)getpid(), 0, 0, NAN, "starting", NULL);
  if (rc) {
    LOG_W(j->kind, "progress will not be recorded in the database: %s", err_msg());
    err_clear();
    store_close(j->db);
    j->db = NULL;
  }
}

void cli_job_step(cli_job *j, int64_t done, int64_t total, double loss, const char *msg,
                  const char *log_path) {
  if (!j->db) return;
  uint64_t now = clock_mono_ms();
  if (done != total && now - j->step_ms < 250) return;
  j->step_ms = now;
  if (store_job_progress(j->db, j->id, (int64_t)getpid(), done, total, loss, msg, log_path)) {
    LOG_W(j->kind, "progress not recorded in the database: %s", err_msg());
    err_clear();
  }
}

void cli_job_close(cli_job *j, int rc) {
  if (!j->db) return;
  const char *why = err_msg();
  if (store_job_finish(j->db, j->id, rc ? STORE_JOB_FAILED : STORE_JOB_DONE,
                       !rc           ? "finished"
                       : why && *why ? why
                                     : "failed (see the command's output)")) {
    LOG_W(j->kind, "the run's end was not recorded in the database: %s", err_msg());
    err_clear();
  }
  store_close(j->db);
  j->db = NULL;
}
