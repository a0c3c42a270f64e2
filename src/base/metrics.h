/* The process's metrics registry: counters, gauges and histograms with at most one label each,
 * rendered in Prometheus' text exposition format (version 0.0.4). Families are created on first use
 * by name, so an instrumentation point is one line and needs no set-up:
 *   metrics_count("mimic_replies_total", "Replies sent, by outcome.", "outcome", "sent", 1);
 * Names follow Prometheus' conventions (the mimic_ prefix, the unit in the name, _total on
 * counters); the registry does not police them, tests/web checks the rendered page.
 * It is not the bot's statistics (bot/stats.c keeps those in the store for !status and the
 * dashboard's charts): metrics live in memory and end with the process.
 * Thread-safe: every call takes one mutex; none allocates after a series exists. */
#ifndef MIMIC_BASE_METRICS_H
#define MIMIC_BASE_METRICS_H
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define METRICS_FAMILIES_MAX 128 /* families in one process; more are refused (logged once) */
#define METRICS_SERIES_MAX   64  /* label values per family; more are folded into "other" */
#define METRICS_BUCKETS_MAX  16  /* histogram bucket bounds */
#define METRICS_NAME_MAX     96  /* bytes of a name, a label name or a label value */

/* Adds v (>= 0) to a counter. label and value name the series (both NULL for a family without a
 * label). The family is created with help on first use; a later call with another type or label
 * name is ignored (and logged once). */
void metrics_count(const char *name, const char *help, const char *label, const char *value,
                   double v);
/* Sets a gauge's series to v. */
void metrics_gauge_set(const char *name, const char *help, const char *label, const char *value,
                       double v);
/* Adds v (may be negative) to a gauge's series. */
void metrics_gauge_add(const char *name, const char *help, const char *label, const char *value,
                       double v);
/* Records one observation v in a histogram. bounds are the buckets' upper bounds, ascending, at
 * most METRICS_BUCKETS_MAX (the +Inf bucket is implied); they are read on first use only. */
void metrics_observe(const char *name, const char *help, const double *bounds, size_t n_bounds,
                     const char *label, const char *value, double v);
/* Bucket bounds in seconds for reply latency and generation time: 50 ms to 2 min. */
extern const double METRICS_SECONDS_BOUNDS[12];

/* The current value of a counter's or gauge's series (a histogram: its count), or dflt when the
 * family or series does not exist. For /readyz and the tests. */
double metrics_value(const char *name, const char *label, const char *value, double dflt);

/* Appends every family to out in the text exposition format, families in creation order.
 * Errors: MIMIC_ENOMEM / MIMIC_ERANGE from buf (out's limit). */
int metrics_render(buf *out) MIMIC_MUST;

/* Drops every family (tests). */
void metrics_reset(void);

#endif
