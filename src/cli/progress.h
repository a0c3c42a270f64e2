/* The terminal and file side of a training run: a train_progress_fn that draws a progress bar on
 * stderr (or logs a line every 10 steps), writes the CSV log one row per step, and writes the
 * loss-curve SVG when the run ends; and the run as `mimic train` and `mimic demo` start it. The
 * train layer computes; this file shows. */
#ifndef MIMIC_CLI_PROGRESS_H
#define MIMIC_CLI_PROGRESS_H
#include <stdbool.h>

#include "train/train.h"

typedef struct cli_progress cli_progress;

/* A reporter writing the CSV log to csv and the loss curve to svg (both required), with a bar on
 * stderr when bar (else a log line every 10 steps). Files are opened on the run's BEGIN event: a
 * resumed run keeps the log's rows up to its checkpoint and rewrites the rest. Caller destroys. */
cli_progress *cli_progress_new(const char *csv, const char *svg, bool bar);
void cli_progress_destroy(cli_progress *p); /* accepts NULL */

/* The train_progress_fn; user is the cli_progress. Errors: MIMIC_EIO when a file cannot be
 * written (the run stops). */
int cli_progress_report(const train_progress *ev, void *user);

/* Whether a bar line is on the screen unfinished (an error message then needs a newline first). */
bool cli_progress_mid_line(const cli_progress *p);

/* How cli_train_run shows a run: the CSV log and the loss curve (NULL: "<out>.csv", "<out>.svg")
 * and whether to draw a bar. */
typedef struct cli_train_show {
  const char *log_csv;
  const char *svg;
  bool bar;
  const char
      *db_path; /* the store whose jobs table gets the run's progress (NULL: none); the row is
                 * $MIMIC_JOB_ID when the starter (the dashboard) made one, else a new one */
} cli_train_show;

/* Runs a training as `mimic train` does: a reporter on show's files, a bar when show->bar, a
 * compute pool of threads (0: one per core), then one
 * line on stdout with the outcome ("trained N steps: loss ..."; "stopped at the deadline ...";
 * "already finished ..." for a resumed run with nothing left to do). o's on_progress is set here.
 * Returns train_run's code after printing its error (res is then undefined). */
int cli_train_run(train_run_opts *o, const cli_train_show *show, int threads, train_result *res);

#endif
