/* Time zones: a TZif reader (RFC 8536) and the POSIX TZ rules of its footer. The table of past
 * transitions answers for the instants it covers; the footer's rule answers after the table ends
 * (Debian's "fat" files list transitions up to 2037, "slim" ones stop at the last rule change). */
#include "base/tz.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/fs.h"
#include "base/str.h"

#define DAY          86400
#define OFFSET_LIMIT (26 * 3600) /* larger UTC offsets than any zone has ever used are refused */

/* One POSIX transition rule: Jn (1..365, February 29 never counted), n (0..365), or Mm.w.d. */
typedef struct posix_rule {
  char kind; /* 'J', 'N' or 'M' */
  int n, m, w, d;
  int32_t time; /* seconds after local midnight, in the time in force before the change */
} posix_rule;

typedef struct posix_tz {
  int32_t std_off, dst_off; /* east of UTC, seconds */
  bool has_dst;
  posix_rule start, end;
} posix_tz;

struct tz_zone {
  char name[64];
  size_t n;        /* transitions in the table */
  int64_t *times;  /* n instants, strictly increasing */
  int32_t *offs;   /* offset in force from times[i] */
  int32_t first;   /* offset before times[0] (time type 0) */
  bool has_footer; /* the POSIX rule applies after the table */
  posix_tz footer;
};

/* ---- POSIX TZ strings ------------------------------------------------------------------------ */

static int parse_name(const char **p) {
  const char *s = *p;
  size_t len = 0;
  if (*s == '<') {
    s++;
    while (s[len] && s[len] != '>') {
      char c = s[len];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '+' || c == '-'))
        return -1;
      len++;
    }
    if (s[len] != '>' || len < 3) return -1;
    *p = s + len + 1;
    return 0;
  }
  while ((s[len] >= 'A' && s[len] <= 'Z') || (s[len] >= 'a' && s[len] <= 'z')) len++;
  if (len < 3) return -1;
  *p = s + len;
  return 0;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; the value as written (POSIX offsets are west-positive).
 */
static int parse_hms(const char **p, int max_h, int32_t *out) {
  const char *s = *p;
  int sign = 1;
  if (*s == '+' || *s == '-') sign = *s++ == '-' ? -1 : 1;
  int part[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    if (i > 0) {
      if (*s != ':') break;
      s++;
    }
    if (*s < '0' || *s > '9') return -1;
    int v = 0, digits = 0;
    while (*s >= '0' && *s <= '9' && digits < 3) v = v * 10 + (*s++ - '0'), digits++;
    if (*s >= '0' && *s <= '9') return -1;
    part[i] = v;
  }
  if (part[0] > max_h || part[1] > 59 || part[2] > 59) return -1;
  *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
  *p = s;
  return 0;
}

static int parse_int(const char **p, int lo, int hi, int *out) {
  const char *s = *p;
  if (*s < '0' || *s > '9') return -1;
  int v = 0;
  while (*s >= '0' && *s <= '9') {
    v = v * 10 + (*s++ - '0');
    if (v > hi) return -1;
  }
  if (v < lo) return -1;
  *out = v;
  *p = s;
  return 0;
}

static int parse_rule(const char **p, posix_rule *r) {
  const char *s = *p;
  memset(r, 0, sizeof *r);
  if (*s == 'J') {
    s++;
    r->kind = 'J';
    if (parse_int(&s, 1, 365, &r->n)) return -1;
  } else if (*s == 'M') {
    s++;
    r->kind = 'M';
    if (parse_int(&s, 1, 12, &r->m) || *s++ != '.' || parse_int(&s, 1, 5, &r->w) || *s++ != '.' ||
        parse_int(&s, 0, 6, &r->d))
      return -1;
  } else {
    r->kind = 'N';
    if (parse_int(&s, 0, 365, &r->n)) return -1;
  }
  r->time = 2 * 3600;
  if (*s == '/' && (s++, parse_hms(&s, 167, &r->time))) return -1;
  *p = s;
  return 0;
}

static int posix_parse(const char *spec, posix_tz *tz) {
  const char *s = spec;
  int32_t v;
  memset(tz, 0, sizeof *tz);
  if (parse_name(&s) || parse_hms(&s, 24, &v)) return -1;
  tz->std_off = -v;
  if (!*s) return 0;
  if (parse_name(&s)) return -1;
  tz->has_dst = true;
  tz->dst_off = tz->std_off + 3600;
  if (*s && *s != ',') {
    if (parse_hms(&s, 24, &v)) return -1;
    tz->dst_off = -v;
  }
  if (!*s) { /* no rule: POSIX leaves it to the implementation; use the current US rule */
    tz->start = (posix_rule){'M', 0, 3, 2, 0, 7200};
    tz->end = (posix_rule){'M', 0, 11, 1, 0, 7200};
    return 0;
  }
  if (*s++ != ',' || parse_rule(&s, &tz->start) || *s++ != ',' || parse_rule(&s, &tz->end) || *s)
    return -1;
  return 0;
}

static bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int64_t rule_day(const posix_rule *r, int y) {
  int64_t jan1 = clock_days_from_civil(y, 1, 1);
  if (r->kind == 'J') return jan1 + r->n - 1 + (leap_year(y) && r->n >= 60);
  if (r->kind == 'N') return jan1 + r->n;
  int64_t first = clock_days_from_civil(y, r->m, 1);
  int wd_first = (int)(((first % 7) + 11) % 7); /* 1970-01-01 was a Thursday (4) */
  int64_t day = first + (r->d - wd_first + 7) % 7 + (int64_t)(r->w - 1) * 7;
  int64_t next_month =
      r->m == 12 ? clock_days_from_civil(y + 1, 1, 1) : clock_days_from_civil(y, r->m + 1, 1);
  while (day >= next_month) day -= 7;
  return day;
}

typedef struct change {
  int64_t at;
  int32_t off; /* in force from `at` */
} change;

/* The footer's changes in years y-1..y+1, in time order. */
static int posix_changes(const posix_tz *tz, int y, change out[6]) {
  int k = 0;
  for (int yy = y - 1; yy <= y + 1; yy++) {
    out[k++] = (change){rule_day(&tz->start, yy) * DAY + tz->start.time - tz->std_off, tz->dst_off};
    out[k++] = (change){rule_day(&tz->end, yy) * DAY + tz->end.time - tz->dst_off, tz->std_off};
  }
  for (int i = 1; i < k; i++) /* insertion sort of six */
    for (int j = i; j > 0 && out[j].at < out[j - 1].at; j--) {
      change c = out[j];
      out[j] = out[j - 1];
      out[j - 1] = c;
    }
  return k;
}

static int year_of(int64_t t) {
  int y, m, d;
  int64_t days = t >= 0 ? t / DAY : -((-t + DAY - 1) / DAY);
  clock_civil_from_days(days, &y, &m, &d);
  return y;
}

static int32_t posix_offset_at(const posix_tz *tz, int64_t t) {
  if (!tz->has_dst) return tz->std_off;
  change c[6];
  int k = posix_changes(tz, year_of(t + tz->std_off), c);
  /* Before the first change of the window the offset is the one the last change of the year
   * before set; the window starts a whole year early, so that is the standard or daylight offset
   * that c[0] replaces. */
  int32_t off = c[0].off == tz->dst_off ? tz->std_off : tz->dst_off;
  for (int i = 0; i < k && c[i].at <= t; i++) off = c[i].off;
  return off;
}

static int posix_next_change(const posix_tz *tz, int64_t t, change *out) {
  if (!tz->has_dst || tz->std_off == tz->dst_off) return -1;
  for (int extra = 0; extra < 3; extra++) {
    change c[6];
    int k = posix_changes(tz, year_of(t + tz->std_off) + extra, c);
    for (int i = 0; i < k; i++)
      if (c[i].at > t && posix_offset_at(tz, c[i].at - 1) != c[i].off) {
        *out = c[i];
        return 0;
      }
  }
  return -1;
}

/* ---- TZif ------------------------------------------------------------------------------------ */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

typedef struct tzif_counts {
  uint32_t isut, isstd, leap, time, type, chars;
} tzif_counts;

static int read_header(const unsigned char *p, size_t n, size_t at, tzif_counts *c, char *version) {
  if (n - at < 44 || memcmp(p + at, "TZif", 4) != 0) return -1;
  *version = (char)p[at + 4];
  const unsigned char *q = p + at + 20;
  *c = (tzif_counts){be32(q), be32(q + 4), be32(q + 8), be32(q + 12), be32(q + 16), be32(q + 20)};
  return 0;
}

static uint64_t block_size(const tzif_counts *c, int tsize) {
  return (uint64_t)c->time * tsize + c->time + (uint64_t)c->type * 6 + c->chars +
         (uint64_t)c->leap * (tsize + 4) + c->isstd + c->isut;
}

static int bad(const char *name, const char *why) {
  return err_set(MIMIC_EFORMAT, "time zone '%s': %s", name, why);
}

int tz_parse(const void *data, size_t n, const char *name, tz_zone **out) {
  const unsigned char *p = data;
  *out = NULL;
  if (n > TZ_FILE_MAX) return bad(name, "file too large for a zone");
  tzif_counts c;
  char version;
  if (read_header(p, n, 0, &c, &version)) return bad(name, "not a TZif file");
  int tsize = 4;
  size_t at = 44;
  if (version >= '2') {
    uint64_t skip = block_size(&c, 4);
    if (skip > n - at) return bad(name, "truncated");
    at += (size_t)skip;
    if (read_header(p, n, at, &c, &version)) return bad(name, "second header missing");
    at += 44;
    tsize = 8;
  }
  if (c.type == 0 || c.type > TZ_TYPES_MAX || c.time > TZ_TRANS_MAX || c.chars == 0 ||
      c.chars > 4096 || c.leap > TZ_TRANS_MAX || (c.isstd && c.isstd != c.type) ||
      (c.isut && c.isut != c.type))
    return bad(name, "counts out of range");
  if (block_size(&c, tsize) > n - at) return bad(name, "truncated");
  const unsigned char *times = p + at, *idx = times + (size_t)c.time * tsize;
  const unsigned char *types = idx + c.time;
  int32_t type_off[TZ_TYPES_MAX];
  for (uint32_t i = 0; i < c.type; i++) {
    int32_t off = (int32_t)be32(types + i * 6);
    if (off < -OFFSET_LIMIT || off > OFFSET_LIMIT) return bad(name, "UTC offset out of range");
    if (types[i * 6 + 4] > 1 || types[i * 6 + 5] >= c.chars) return bad(name, "bad time type");
    type_off[i] = off;
  }
  tz_zone *z = mem_calloc(1, sizeof *z);
  if (!z) return err_set(MIMIC_ENOMEM, "time zone '%s': out of memory", name);
  str_lcpy(z->name, name, sizeof z->name);
  z->first = type_off[0];
  if (c.time) {
    z->times = mem_alloc(c.time * sizeof *z->times);
    z->offs = mem_alloc(c.time * sizeof *z->offs);
    if (!z->times || !z->offs) {
      tz_free(z);
      return err_set(MIMIC_ENOMEM, "time zone '%s': out of memory", name);
    }
  }
  for (uint32_t i = 0; i < c.time; i++) {
    int64_t t = tsize == 8 ? be64(times + (size_t)i * 8) : (int32_t)be32(times + (size_t)i * 4);
    if (idx[i] >= c.type || (i > 0 && t <= z->times[i - 1])) {
      tz_free(z);
      return bad(name, "transitions out of order");
    }
    z->times[i] = t;
    z->offs[i] = type_off[idx[i]];
  }
  z->n = c.time;
  at += (size_t)block_size(&c, tsize);
  if (tsize == 8 && at < n) { /* footer: "\n" POSIX-TZ "\n" */
    const char *f = (const char *)p + at;
    size_t left = n - at;
    const char *end = left > 1 ? memchr(f + 1, '\n', left - 1) : NULL;
    if (f[0] != '\n' || !end || (size_t)(end - f - 1) >= TZ_FOOTER_MAX) {
      tz_free(z);
      return bad(name, "malformed footer");
    }
    char spec[TZ_FOOTER_MAX];
    memcpy(spec, f + 1, (size_t)(end - f - 1));
    spec[end - f - 1] = 0;
    if (spec[0]) {
      if (posix_parse(spec, &z->footer)) {
        tz_free(z);
        return bad(name, "unreadable POSIX TZ footer");
      }
      z->has_footer = true;
    }
  }
  *out = z;
  return 0;
}

int tz_parse_posix(const char *spec, tz_zone **out) {
  *out = NULL;
  posix_tz tz;
  if (strlen(spec) >= TZ_FOOTER_MAX || posix_parse(spec, &tz))
    return err_set(MIMIC_EFORMAT, "'%s' is not a POSIX TZ string (e.g. EST5EDT,M3.2.0,M11.1.0)",
                   spec);
  tz_zone *z = mem_calloc(1, sizeof *z);
  if (!z) return err_set(MIMIC_ENOMEM, "time zone '%s': out of memory", spec);
  str_lcpy(z->name, spec, sizeof z->name);
  z->has_footer = true;
  z->footer = tz;
  z->first = tz.std_off;
  *out = z;
  return 0;
}

static bool name_ok(const char *name) {
  size_t len = strlen(name);
  if (len == 0 || len >= 64 || name[0] == '/' || strstr(name, "..")) return false;
  for (const char *s = name; *s; s++) {
    char c = *s;
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '+' || c == '/'))
      return false;
  }
  return true;
}

int tz_load(const char *name, tz_zone **out) {
  *out = NULL;
  if (!name_ok(name)) return err_set(MIMIC_EINVAL, "'%s' is not a time zone name", name);
  const char *dir = getenv("TZDIR");
  char path[512];
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", name);
  char *data = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, TZ_FILE_MAX, &data, &n);
  if (rc) {
    if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC")) {
      rc = tz_parse_posix("UTC0", out);
      if (!rc) str_lcpy((*out)->name, name, sizeof(*out)->name);
      return rc;
    }
    return err_set(MIMIC_ENOTFOUND, "unknown time zone '%s' (no %s; is tzdata installed?)", name,
                   path);
  }
  rc = tz_parse(data, n, name, out);
  mem_free(data);
  return rc;
}

void tz_free(tz_zone *z) {
  if (!z) return;
  mem_free(z->times);
  mem_free(z->offs);
  mem_free(z);
}

const char *tz_name(const tz_zone *z) { return z->name; }

int32_t tz_offset_at(const tz_zone *z, int64_t t) {
  if (z->n == 0) return z->has_footer ? posix_offset_at(&z->footer, t) : z->first;
  if (t < z->times[0]) return z->first;
  if (t >= z->times[z->n - 1] && z->has_footer) return posix_offset_at(&z->footer, t);
  size_t lo = 0, hi = z->n; /* the last i with times[i] <= t */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (z->times[mid] <= t)
      lo = mid;
    else
      hi = mid;
  }
  return z->offs[lo];
}

int tz_next_change(const tz_zone *z, int64_t t, int64_t *at, int32_t *before, int32_t *after) {
  size_t lo = 0, hi = z->n; /* the first i with times[i] > t */
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (z->times[mid] <= t)
      lo = mid + 1;
    else
      hi = mid;
  }
  for (size_t i = lo; i < z->n; i++) { /* skip entries that change only the abbreviation */
    int32_t prev = tz_offset_at(z, z->times[i] - 1);
    if (z->offs[i] != prev) {
      *at = z->times[i], *before = prev, *after = z->offs[i];
      return 0;
    }
  }
  if (z->has_footer) {
    change c;
    int64_t from = z->n && t < z->times[z->n - 1] ? z->times[z->n - 1] : t;
    if (!posix_next_change(&z->footer, from, &c)) {
      *at = c.at, *before = tz_offset_at(z, c.at - 1), *after = c.off;
      return 0;
    }
  }
  return MIMIC_ENOTFOUND;
}

int64_t tz_local(const tz_zone *z, int64_t t) { return t + tz_offset_at(z, t); }

int tz_instants(const tz_zone *z, int64_t local, int64_t out[2], int64_t *gap_end) {
  /* Offsets that can be in force within 30 hours of the wall-clock time: the one at the start of
   * that window and the one after each change inside it. Each offset o that maps back onto itself
   * (the offset at local - o is o) gives one instant. */
  int64_t lo = local - 30 * 3600, hi = local + 30 * 3600;
  int32_t offs[16];
  change changes[16];
  int noffs = 0, nchanges = 0;
  offs[noffs++] = tz_offset_at(z, lo);
  int64_t t = lo, at;
  int32_t before, after;
  while (nchanges < 15 && !tz_next_change(z, t, &at, &before, &after) && at <= hi) {
    changes[nchanges++] = (change){at, after};
    offs[noffs++] = after;
    t = at;
  }
  int count = 0;
  for (int i = 0; i < noffs; i++) {
    bool seen = false;
    for (int j = 0; j < i; j++) seen |= offs[j] == offs[i];
    if (seen) continue;
    int64_t u = local - offs[i];
    if (tz_offset_at(z, u) != offs[i]) continue;
    if (count < 2)
      out[count++] = u;
    else if (u < out[1])
      out[1] = u;
    if (count == 2 && out[1] < out[0]) {
      int64_t s = out[0];
      out[0] = out[1];
      out[1] = s;
    }
  }
  if (count == 0 && gap_end) {
    *gap_end = local - offs[0];
    for (int i = 0; i < nchanges; i++) {
      int32_t prev = i ? changes[i - 1].off : offs[0];
      if (changes[i].at + prev <= local && local < changes[i].at + changes[i].off) {
        *gap_end = changes[i].at;
        break;
      }
    }
  }
  return count;
}
