/* A long command's row in the jobs table (store/jobs.h): what the dashboard, !status and the
 * terminal's bars read as one truth. A command started by the dashboard finds its row in
 * $MIMIC_JOB_ID; one started by hand adds its own. A database that cannot be written costs the
 * row (a log line), never the command. */
#ifndef MIMIC_CLI_JOB_H
#define MIMIC_CLI_JOB_H
#include <stdint.h>

#include "store/store.h"

typedef struct cli_job {
  store *db;        /* NULL: no row is kept */
  int64_t id;       /* the row */
  uint64_t step_ms; /* monotonic time of the last progress write */
  char kind[16];
} cli_job;

/* Opens the store at db_path (NULL or "": no row) and takes or adds the row of a `kind` run. */
void cli_job_open(cli_job *j, const char *db_path, const char *kind);
/* done of total units (total 0: unknown), loss (NAN: none), a short message, a log file (may be
 * NULL). Written at most four times a second, and always when done == total. */
void cli_job_step(cli_job *j, int64_t done, int64_t total, double loss, const char *msg,
                  const char *log_path);
/* Records the end (rc 0: done, else failed with err_msg()) and closes the store. */
void cli_job_close(cli_job *j, int rc);

#endif
