/* Cron expressions: the parser, the search for the next matching wall-clock minute, and the mapping
 * of wall-clock minutes to instants across daylight-saving changes (the rules in cron.h). */
#include "base/cron.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"

#define DAY 86400

typedef struct field_spec {
  const char *what;
  int lo, hi;
  const char *const *names; /* names[i] is value lo + i, or NULL */
} field_spec;

static const char *const month_names[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                          "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const day_names[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

static const field_spec fields[5] = {
    {"minute", 0, 59, NULL},          {"hour", 0, 23, NULL},
    {"day of month", 1, 31, NULL},    {"month", 1, 12, month_names},
    {"day of week", 0, 7, day_names},
};

static int fail(const char *text, const char *fmt, ...) MIMIC_PRINTF(2, 3);
static int fail(const char *text, const char *fmt, ...) {
  char why[160];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof why, fmt, ap);
  va_end(ap);
  return err_set(MIMIC_EINVAL, "cron: %s in '%s'", why, text);
}

/* A number or (for months and days) a three-letter name. */
static int value(const char **p, const field_spec *f, int *out) {
  const char *s = *p;
  if (isdigit((unsigned char)*s)) {
    int v = 0;
    while (isdigit((unsigned char)*s)) {
      v = v * 10 + (*s++ - '0');
      if (v > 1000) return -1;
    }
    *p = s, *out = v;
    return 0;
  }
  if (f->names && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
      isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
    int n = f == &fields[3] ? 12 : 7;
    for (int i = 0; i < n; i++)
      if (tolower((unsigned char)s[0]) == f->names[i][0] &&
          tolower((unsigned char)s[1]) == f->names[i][1] &&
          tolower((unsigned char)s[2]) == f->names[i][2]) {
        *p = s + 3, *out = (f == &fields[3] ? 1 : 0) + i;
        return 0;
      }
  }
  return -1;
}

/* One field (the text between spaces, NUL-terminated in `tok`) into a bit set. */
static int parse_field(const char *text, const char *tok, const field_spec *f, uint64_t *bits,
                       bool *star) {
  *bits = 0;
  *star = tok[0] == '*';
  const char *s = tok;
  for (;;) {
    int lo, hi, step = 1;
    if (*s == '*') {
      s++;
      lo = f->lo, hi = f == &fields[4] ? 6 : f->hi;
    } else {
      if (value(&s, f, &lo))
        return fail(text, "%s field '%s' is not a number or name", f->what, tok);
      hi = lo;
      if (*s == '-') {
        s++;
        if (value(&s, f, &hi)) return fail(text, "bad range in %s field '%s'", f->what, tok);
      }
      if (lo < f->lo || lo > f->hi || hi < f->lo || hi > f->hi)
        return fail(text, "%s %d is out of range %d-%d", f->what,
                    lo < f->lo || lo > f->hi ? lo : hi, f->lo, f->hi);
      if (hi < lo) return fail(text, "%s range %d-%d runs backwards", f->what, lo, hi);
    }
    if (*s == '/') {
      s++;
      if (!isdigit((unsigned char)*s) || value(&s, f, &step) || step < 1 || step > f->hi + 1)
        return fail(text, "bad step in %s field '%s'", f->what, tok);
      if (lo == hi && !*star) hi = f == &fields[4] ? 6 : f->hi; /* "5/15" means 5-59/15 */
    }
    for (int v = lo; v <= hi; v += step) *bits |= 1ull << (f == &fields[4] && v == 7 ? 0 : v);
    if (*s == ',') {
      s++;
      continue;
    }
    if (*s) return fail(text, "unexpected '%s' in %s field", s, f->what);
    return 0;
  }
}

static int parse_every(const char *text, const char *s, cron_expr *out) {
  while (*s == ' ') s++;
  long n = 0;
  if (!isdigit((unsigned char)*s)) return fail(text, "an interval needs a number");
  while (isdigit((unsigned char)*s)) {
    n = n * 10 + (*s++ - '0');
    if (n > 100000) return fail(text, "interval too long");
  }
  while (*s == ' ') s++;
  int64_t unit = 0;
  static const struct {
    const char *word;
    int64_t secs;
  } units[] = {{"m", 60},       {"min", 60}, {"mins", 60},   {"minute", 60},
               {"minutes", 60}, {"h", 3600}, {"hour", 3600}, {"hours", 3600}};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(s, units[i].word)) unit = units[i].secs;
  if (!unit) return fail(text, "the interval's unit must be minutes or hours");
  if (n < 1) return fail(text, "an interval must be at least 1");
  out->every_s = n * unit;
  return 0;
}

int cron_parse(const char *text, cron_expr *out) {
  memset(out, 0, sizeof *out);
  size_t len = strlen(text);
  if (len == 0 || len >= CRON_EXPR_MAX)
    return err_set(MIMIC_EINVAL, "cron: expression is empty or longer than %d bytes",
                   CRON_EXPR_MAX - 1);
  char buf[CRON_EXPR_MAX];
  size_t k = 0;
  for (size_t i = 0; i < len; i++)
    buf[k++] = (char)(text[i] == '\t' ? ' ' : tolower((unsigned char)text[i]));
  buf[k] = 0;
  char *s = buf;
  while (*s == ' ') s++;
  while (k > 0 && buf[k - 1] == ' ') buf[--k] = 0;
  if (!strncmp(s, "@every ", 7)) return parse_every(text, s + 7, out);
  if (!strncmp(s, "every ", 6)) return parse_every(text, s + 6, out);
  static const struct {
    const char *name, *expr;
  } macros[] = {{"@hourly", "0 * * * *"},  {"@daily", "0 0 * * *"},   {"@midnight", "0 0 * * *"},
                {"@weekly", "0 0 * * 0"},  {"@monthly", "0 0 1 * *"}, {"@yearly", "0 0 1 1 *"},
                {"@annually", "0 0 1 1 *"}};
  if (*s == '@') {
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
      if (!strcmp(s, macros[i].name)) {
        int rc = cron_parse(macros[i].expr, out);
        return rc;
      }
    return fail(text, "unknown shortcut '%s'", s);
  }
  char *tok[5];
  int n = 0;
  while (*s) {
    if (n == 5) return fail(text, "more than five fields");
    tok[n++] = s;
    while (*s && *s != ' ') s++;
    if (*s) *s++ = 0;
    while (*s == ' ') s++;
  }
  if (n != 5) return fail(text, "expected five fields (minute hour day month weekday), got %d", n);
  uint64_t bits[5];
  bool star[5];
  for (int i = 0; i < 5; i++) {
    int rc = parse_field(text, tok[i], &fields[i], &bits[i], &star[i]);
    if (rc) return rc;
  }
  out->minutes = bits[0];
  out->hours = (uint32_t)bits[1];
  out->mdays = (uint32_t)bits[2];
  out->months = (uint16_t)bits[3];
  out->wdays = (uint8_t)bits[4];
  out->mday_star = star[2];
  out->wday_star = star[4];
  out->elapsed = tok[1][0] == '*' || strchr(tok[1], '/') != NULL;
  return 0;
}

static int days_in_month(int y, int m) {
  static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0) ? 29 : dm[m - 1];
}

static bool day_matches(const cron_expr *e, int64_t days, int mday) {
  bool md = e->mdays >> mday & 1;
  bool wd = e->wdays >> (int)(((days % 7) + 11) % 7) & 1; /* 1970-01-01 was a Thursday */
  if (e->mday_star || e->wday_star) return md && wd;
  return md || wd;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

/* The first wall-clock minute >= local (civil seconds) that the fields match, or -1 when none does
 * within 400 years (the Gregorian cycle: if no date matches by then, none ever will). */
static int64_t next_local(const cron_expr *e, int64_t local) {
  int64_t t = floor_div(local + 59, 60) * 60;
  int64_t limit = t + (int64_t)400 * 366 * DAY;
  while (t < limit) {
    int64_t days = floor_div(t, DAY);
    int y, m, d;
    clock_civil_from_days(days, &y, &m, &d);
    int secs = (int)(t - days * DAY), h = secs / 3600, mi = secs / 60 % 60;
    if (!(e->months >> m & 1)) {
      t = (clock_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1)) * DAY;
      continue;
    }
    if (d > days_in_month(y, m) || !day_matches(e, days, d)) {
      t = (days + 1) * DAY;
      continue;
    }
    if (!(e->hours >> h & 1)) {
      t = days * DAY + (int64_t)(h + 1) * 3600;
      continue;
    }
    if (!(e->minutes >> mi & 1)) {
      t += 60;
      continue;
    }
    return t;
  }
  return -1;
}

int cron_next(const cron_expr *e, const tz_zone *z, int64_t after, int64_t *next) {
  if (e->every_s > 0) {
    *next = (floor_div(after, e->every_s) + 1) * e->every_s;
    return 0;
  }
  /* Walk matching wall-clock minutes from three hours before `after`'s wall-clock time (a fall-back
   * change can put a later instant at an earlier wall-clock time), map each to its instants, and
   * keep the smallest instant after `after`. Once the walk is more than three hours of wall clock
   * past the best candidate, nothing later can be earlier. */
  const int64_t window = 3 * 3600;
  int64_t start = (z ? tz_local(z, after) : after) - window;
  int64_t best = 0, best_local = 0;
  bool found = false;
  for (int64_t l = start;; l += 60) {
    l = next_local(e, l);
    if (l < 0) break;
    if (found && l > best_local + window) break;
    int64_t inst[2], gap_end = 0;
    int n = 1;
    if (z)
      n = tz_instants(z, l, inst, &gap_end);
    else
      inst[0] = l;
    if (n == 0 && !e->elapsed) inst[0] = gap_end, n = 1; /* fixed time skipped: right after it */
    if (n == 2 && !e->elapsed) n = 1;                    /* fixed time repeated: the first */
    for (int i = 0; i < n; i++)
      if (inst[i] > after && (!found || inst[i] < best)) {
        best = inst[i], best_local = l, found = true;
      }
  }
  if (!found) return err_set(MIMIC_ENOTFOUND, "cron: the expression never fires");
  *next = best;
  return 0;
}
