/* The metrics registry (metrics.h): a fixed table of families under one mutex, each with up to
 * METRICS_SERIES_MAX series keyed by one label value. Fixed sizes keep every update allocation-free
 * once its series exists, and bound what a label value from outside (a rate-limit bucket) can
 * cost: the series past the cap share one "other" series. */
#include "base/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"

typedef enum { M_COUNTER, M_GAUGE, M_HISTOGRAM } mtype;

typedef struct series {
  char value[METRICS_NAME_MAX];
  double v;                            /* counter or gauge value; histogram sum */
  double count;                        /* histogram observations */
  double buckets[METRICS_BUCKETS_MAX]; /* histogram: observations <= bounds[i] (not cumulative) */
} series;

typedef struct family {
  char name[METRICS_NAME_MAX];
  char label[METRICS_NAME_MAX]; /* "" without a label */
  char *help;
  mtype type;
  double bounds[METRICS_BUCKETS_MAX];
  size_t n_bounds;
  series *s; /* METRICS_SERIES_MAX, allocated with the family */
  size_t n;
} family;

const double METRICS_SECONDS_BOUNDS[12] = {0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static family fams[METRICS_FAMILIES_MAX];
static size_t n_fams;
static bool warned_full, warned_clash;

static family *find(const char *name) {
  for (size_t i = 0; i < n_fams; i++)
    if (strcmp(fams[i].name, name) == 0) return &fams[i];
  return NULL;
}

/* The family, created on first use; NULL when it clashes with an existing one or the table is
 * full. Called with mu held. */
static family *get(const char *name, const char *help, mtype type, const char *label,
                   const double *bounds, size_t n_bounds) {
  if (!label) label = "";
  family *f = find(name);
  if (f) {
    if (f->type != type || strcmp(f->label, label) != 0) {
      if (!warned_clash) LOG_W("metrics", "%s used with another type or label; ignored", name);
      warned_clash = true;
      return NULL;
    }
    return f;
  }
  if (n_fams == METRICS_FAMILIES_MAX || strlen(name) >= METRICS_NAME_MAX ||
      strlen(label) >= METRICS_NAME_MAX) {
    if (!warned_full) LOG_W("metrics", "%s: registry full or name too long; not recorded", name);
    warned_full = true;
    return NULL;
  }
  f = &fams[n_fams++];
  memset(f, 0, sizeof *f);
  str_lcpy(f->name, name, sizeof f->name);
  str_lcpy(f->label, label, sizeof f->label);
  f->help = xstrdup(help ? help : "");
  f->type = type;
  if (n_bounds > METRICS_BUCKETS_MAX) n_bounds = METRICS_BUCKETS_MAX;
  for (size_t i = 0; i < n_bounds; i++) f->bounds[i] = bounds[i];
  f->n_bounds = n_bounds;
  f->s = xcalloc(METRICS_SERIES_MAX, sizeof *f->s);
  return f;
}

static series *series_get(family *f, const char *value) {
  if (!value || !*f->label) value = "";
  for (size_t i = 0; i < f->n; i++)
    if (strcmp(f->s[i].value, value) == 0) return &f->s[i];
  if (f->n >= METRICS_SERIES_MAX - 1) { /* the last slot is "other" */
    value = "other";
    for (size_t i = 0; i < f->n; i++)
      if (strcmp(f->s[i].value, value) == 0) return &f->s[i];
  }
  series *s = &f->s[f->n++];
  str_lcpy(s->value, value, sizeof s->value);
  return s;
}

static void update(const char *name, const char *help, mtype type, const char *label,
                   const char *value, const double *bounds, size_t n_bounds, double v, bool add) {
  if (!name || isnan(v)) return;
  pthread_mutex_lock(&mu);
  family *f = get(name, help, type, label, bounds, n_bounds);
  if (f) {
    series *s = series_get(f, value);
    if (type == M_HISTOGRAM) {
      s->count += 1;
      s->v += v;
      for (size_t i = 0; i < f->n_bounds; i++)
        if (v <= f->bounds[i]) {
          s->buckets[i] += 1;
          break;
        }
    } else if (add) {
      s->v += v;
    } else {
      s->v = v;
    }
  }
  pthread_mutex_unlock(&mu);
}

void metrics_count(const char *name, const char *help, const char *label, const char *value,
                   double v) {
  if (v < 0) return; /* counters only go up */
  update(name, help, M_COUNTER, label, value, NULL, 0, v, true);
}

void metrics_gauge_set(const char *name, const char *help, const char *label, const char *value,
                       double v) {
  update(name, help, M_GAUGE, label, value, NULL, 0, v, false);
}

void metrics_gauge_add(const char *name, const char *help, const char *label, const char *value,
                       double v) {
  update(name, help, M_GAUGE, label, value, NULL, 0, v, true);
}

void metrics_observe(const char *name, const char *help, const double *bounds, size_t n_bounds,
                     const char *label, const char *value, double v) {
  update(name, help, M_HISTOGRAM, label, value, bounds, n_bounds, v, true);
}

double metrics_value(const char *name, const char *label, const char *value, double dflt) {
  double r = dflt;
  pthread_mutex_lock(&mu);
  family *f = find(name);
  if (f && strcmp(f->label, label ? label : "") == 0) {
    if (!value || !*f->label) value = "";
    for (size_t i = 0; i < f->n; i++)
      if (strcmp(f->s[i].value, value) == 0) r = f->type == M_HISTOGRAM ? f->s[i].count : f->s[i].v;
  }
  pthread_mutex_unlock(&mu);
  return r;
}

/* A number as Prometheus reads it: integers without a fraction, +Inf/-Inf/NaN spelt its way. */
static int put_num(buf *out, double v) {
  if (isnan(v)) return buf_puts(out, "NaN");
  if (isinf(v)) return buf_puts(out, v > 0 ? "+Inf" : "-Inf");
  if (v == floor(v) && fabs(v) < 1e15) return buf_printf(out, "%.0f", v);
  char t[40];
  snprintf(t, sizeof t, "%.15g", v); /* the shortest spelling that reads back as v */
  if (strtod(t, NULL) != v) snprintf(t, sizeof t, "%.17g", v);
  return buf_puts(out, t);
}

/* A label value escaped as the format asks: backslash, double quote and newline. */
static int put_label_value(buf *out, const char *s) {
  int rc = 0;
  for (; *s && !rc; s++) {
    if (*s == '\\')
      rc = buf_puts(out, "\\\\");
    else if (*s == '"')
      rc = buf_puts(out, "\\\"");
    else if (*s == '\n')
      rc = buf_puts(out, "\\n");
    else
      rc = buf_putc(out, *s);
  }
  return rc;
}

/* HELP text escapes backslash and newline only. */
static int put_help(buf *out, const char *s) {
  int rc = 0;
  for (; *s && !rc; s++) {
    if (*s == '\\')
      rc = buf_puts(out, "\\\\");
    else if (*s == '\n')
      rc = buf_puts(out, "\\n");
    else
      rc = buf_putc(out, *s);
  }
  return rc;
}

/* name{label="value",le="bound"} v */
static int put_sample(buf *out, const char *name, const char *suffix, const family *f,
                      const series *s, const char *le, double v) {
  int rc = buf_printf(out, "%s%s", name, suffix);
  bool lab = *f->label != 0;
  if (!rc && (lab || le)) rc = buf_putc(out, '{');
  if (!rc && lab) {
    rc = buf_printf(out, "%s=\"", f->label);
    if (!rc) rc = put_label_value(out, s->value);
    if (!rc) rc = buf_putc(out, '"');
  }
  if (!rc && le) rc = buf_printf(out, "%sle=\"%s\"", lab ? "," : "", le);
  if (!rc && (lab || le)) rc = buf_putc(out, '}');
  if (!rc) rc = buf_putc(out, ' ');
  if (!rc) rc = put_num(out, v);
  if (!rc) rc = buf_putc(out, '\n');
  return rc;
}

static int render_family(buf *out, const family *f) {
  static const char *const types[] = {"counter", "gauge", "histogram"};
  int rc = buf_printf(out, "# HELP %s ", f->name);
  if (!rc) rc = put_help(out, f->help);
  if (!rc) rc = buf_printf(out, "\n# TYPE %s %s\n", f->name, types[f->type]);
  for (size_t i = 0; i < f->n && !rc; i++) {
    const series *s = &f->s[i];
    if (f->type != M_HISTOGRAM) {
      rc = put_sample(out, f->name, "", f, s, NULL, s->v);
      continue;
    }
    double cum = 0;
    for (size_t b = 0; b < f->n_bounds && !rc; b++) {
      char le[40];
      buf lb;
      buf_init_fixed(&lb, le, sizeof le);
      cum += s->buckets[b];
      if (put_num(&lb, f->bounds[b])) str_lcpy(le, "0", sizeof le);
      rc = put_sample(out, f->name, "_bucket", f, s, le, cum);
    }
    if (!rc) rc = put_sample(out, f->name, "_bucket", f, s, "+Inf", s->count);
    if (!rc) rc = put_sample(out, f->name, "_sum", f, s, NULL, s->v);
    if (!rc) rc = put_sample(out, f->name, "_count", f, s, NULL, s->count);
  }
  return rc;
}

int metrics_render(buf *out) {
  int rc = 0;
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < n_fams && !rc; i++) rc = render_family(out, &fams[i]);
  pthread_mutex_unlock(&mu);
  return rc ? err_set(rc, "metrics: the page outgrew its buffer") : 0;
}

void metrics_reset(void) {
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < n_fams; i++) {
    mem_free(fams[i].help);
    mem_free(fams[i].s);
  }
  n_fams = 0;
  warned_full = warned_clash = false;
  pthread_mutex_unlock(&mu);
}
