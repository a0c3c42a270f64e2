/* A checking parser of Prometheus' text exposition format (0.0.4), written for the tests from the
 * format's description, independent of base/metrics.c: metric and label names, escapes in label
 * values, numbers (+Inf, -Inf, NaN), one HELP and TYPE per family before its samples, and for
 * histograms cumulative buckets ending in le="+Inf" equal to _count. Returns the number of samples,
 * or -1 with the offending line in err. */
#ifndef MIMIC_TEST_PROM_PARSE_H
#define MIMIC_TEST_PROM_PARSE_H
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROM_FAMS 256

typedef struct prom_fam {
  char name[128], type[16];
  bool help, samples;
  double last_bucket; /* histogram: the running bucket count of the current series */
  char series[512];   /* histogram: the labels (less le) of the current series */
  double inf;         /* histogram: the +Inf bucket of the current series */
} prom_fam;

static bool prom_name_ok(const char *s, size_t n) {
  if (n == 0) return false;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

static bool prom_num(const char *s, double *v) {
  if (strcmp(s, "+Inf") == 0) return *v = INFINITY, true;
  if (strcmp(s, "-Inf") == 0) return *v = -INFINITY, true;
  if (strcmp(s, "NaN") == 0) return *v = NAN, true;
  char *end;
  *v = strtod(s, &end);
  return end != s && *end == 0;
}

static prom_fam *prom_find(prom_fam *f, int n, const char *name, size_t len) {
  for (int i = 0; i < n; i++)
    if (strlen(f[i].name) == len && strncmp(f[i].name, name, len) == 0) return &f[i];
  return NULL;
}

/* The family a sample belongs to: its name, or a histogram's name less _bucket/_sum/_count. */
static prom_fam *prom_family_of(prom_fam *f, int n, const char *name, size_t len,
                                const char **suffix) {
  *suffix = "";
  prom_fam *x = prom_find(f, n, name, len);
  if (x) return x;
  static const char *const sfx[] = {"_bucket", "_sum", "_count"};
  for (int i = 0; i < 3; i++) {
    size_t k = strlen(sfx[i]);
    if (len > k && strncmp(name + len - k, sfx[i], k) == 0) {
      x = prom_find(f, n, name, len - k);
      if (x && strcmp(x->type, "histogram") == 0) {
        *suffix = sfx[i];
        return x;
      }
    }
  }
  return NULL;
}

static int prom_parse(const char *text, const char *prefix, char *err, size_t cap) {
  static prom_fam fams[PROM_FAMS];
  int nf = 0, samples = 0;
  memset(fams, 0, sizeof fams);
  const char *p = text;
  char line[2048];
  while (*p) {
    size_t len = strcspn(p, "\n");
    if (len >= sizeof line) return snprintf(err, cap, "line too long"), -1;
    memcpy(line, p, len);
    line[len] = 0;
    p += len + (p[len] == '\n');
    if (!len) continue;
    if (line[0] == '#') {
      char kw[8], name[128];
      int off = 0;
      if (sscanf(line, "# %7s %127s %n", kw, name, &off) < 2) continue; /* a plain comment */
      if (strcmp(kw, "HELP") && strcmp(kw, "TYPE")) continue;
      if (!prom_name_ok(name, strlen(name))) return snprintf(err, cap, "bad name: %s", line), -1;
      if (prefix && strncmp(name, prefix, strlen(prefix)) != 0)
        return snprintf(err, cap, "not %s-prefixed: %s", prefix, line), -1;
      prom_fam *f = prom_find(fams, nf, name, strlen(name));
      if (!f) {
        if (nf == PROM_FAMS) return snprintf(err, cap, "too many families"), -1;
        f = &fams[nf++];
        snprintf(f->name, sizeof f->name, "%s", name);
      } else if (f->samples) {
        return snprintf(err, cap, "HELP/TYPE after samples: %s", line), -1;
      }
      if (strcmp(kw, "HELP") == 0) {
        if (f->help) return snprintf(err, cap, "second HELP: %s", line), -1;
        f->help = true;
      } else {
        const char *t = line + off;
        if (f->type[0]) return snprintf(err, cap, "second TYPE: %s", line), -1;
        if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
            strcmp(t, "summary") && strcmp(t, "untyped"))
          return snprintf(err, cap, "bad type: %s", line), -1;
        snprintf(f->type, sizeof f->type, "%s", t);
      }
      continue;
    }
    /* name{labels} value */
    size_t nlen = strcspn(line, "{ ");
    if (!prom_name_ok(line, nlen)) return snprintf(err, cap, "bad sample name: %s", line), -1;
    const char *suffix;
    prom_fam *f = prom_family_of(fams, nf, line, nlen, &suffix);
    if (!f || !f->type[0]) return snprintf(err, cap, "sample before its TYPE: %s", line), -1;
    f->samples = true;
    const char *q = line + nlen;
    char labels[512] = "", le[64] = "";
    size_t ll = 0;
    if (*q == '{') {
      q++;
      while (*q && *q != '}') {
        size_t kl = strcspn(q, "=");
        if (!prom_name_ok(q, kl) || q[kl] != '=' || q[kl + 1] != '"')
          return snprintf(err, cap, "bad label: %s", line), -1;
        bool is_le = kl == 2 && strncmp(q, "le", 2) == 0;
        const char *key = q;
        q += kl + 2;
        char val[256];
        size_t vl = 0;
        while (*q && *q != '"') {
          if (*q == '\\') {
            q++;
            if (*q != '\\' && *q != '"' && *q != 'n')
              return snprintf(err, cap, "bad escape: %s", line), -1;
          }
          if (vl < sizeof val - 1) val[vl++] = *q;
          q++;
        }
        if (*q != '"') return snprintf(err, cap, "unterminated label: %s", line), -1;
        val[vl] = 0;
        q++;
        if (is_le)
          snprintf(le, sizeof le, "%s", val);
        else
          ll += (size_t)snprintf(labels + ll, sizeof labels - ll, "%.*s=%s,", (int)kl, key, val);
        if (*q == ',') q++;
      }
      if (*q != '}') return snprintf(err, cap, "unterminated labels: %s", line), -1;
      q++;
    }
    if (*q != ' ') return snprintf(err, cap, "no value: %s", line), -1;
    q++;
    char vs[64];
    size_t vsl = strcspn(q, " ");
    if (vsl >= sizeof vs) return snprintf(err, cap, "bad value: %s", line), -1;
    memcpy(vs, q, vsl);
    vs[vsl] = 0;
    double v;
    if (!prom_num(vs, &v)) return snprintf(err, cap, "bad value: %s", line), -1;
    if (strcmp(f->type, "counter") == 0 && !(v >= 0))
      return snprintf(err, cap, "negative counter: %s", line), -1;
    if (strcmp(f->type, "counter") == 0 && strlen(f->name) > 6 &&
        strcmp(f->name + strlen(f->name) - 6, "_total") != 0)
      return snprintf(err, cap, "counter without _total: %s", line), -1;
    if (strcmp(suffix, "_bucket") == 0) {
      double b;
      if (!le[0] || !prom_num(le, &b)) return snprintf(err, cap, "bucket without le: %s", line), -1;
      if (strcmp(f->series, labels) != 0) {
        snprintf(f->series, sizeof f->series, "%s", labels);
        f->last_bucket = 0;
      }
      if (v < f->last_bucket) return snprintf(err, cap, "buckets not cumulative: %s", line), -1;
      f->last_bucket = v;
      if (isinf(b)) f->inf = v;
    } else if (strcmp(suffix, "_count") == 0) {
      if (strcmp(f->series, labels) != 0 || v != f->inf)
        return snprintf(err, cap, "_count differs from the +Inf bucket: %s", line), -1;
    }
    samples++;
  }
  return samples;
}

#endif
