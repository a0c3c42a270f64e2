/* String helpers (see str.h). */
#include "base/str.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static int only_space(const char *p) {
  while (isspace((unsigned char)*p)) p++;
  return *p == 0;
}

int str_to_i64(const char *s, int64_t *out) {
  if (!s) return MIMIC_EINVAL;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (end == s || !only_space(end))
    return err_set(MIMIC_EINVAL, "'%.40s' is not a whole number", s);
  if (errno == ERANGE) return err_set(MIMIC_ERANGE, "'%.40s' is out of range", s);
  *out = v;
  return 0;
}

int str_to_u64(const char *s, uint64_t *out) {
  if (!s) return MIMIC_EINVAL;
  while (isspace((unsigned char)*s)) s++;
  if (*s == '-') return err_set(MIMIC_EINVAL, "'%.40s' must not be negative", s);
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (end == s || !only_space(end))
    return err_set(MIMIC_EINVAL, "'%.40s' is not a whole number", s);
  if (errno == ERANGE) return err_set(MIMIC_ERANGE, "'%.40s' is out of range", s);
  *out = v;
  return 0;
}

int str_to_double(const char *s, double *out) {
  if (!s) return MIMIC_EINVAL;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || !only_space(end) || isnan(v))
    return err_set(MIMIC_EINVAL, "'%.40s' is not a number", s);
  if (errno == ERANGE || isinf(v)) return err_set(MIMIC_ERANGE, "'%.40s' is out of range", s);
  *out = v;
  return 0;
}

int str_to_bool(const char *s, bool *out) {
  static const char *yes[] = {"1", "true", "yes", "on"}, *no[] = {"0", "false", "no", "off"};
  for (int i = 0; i < 4; i++) {
    if (str_ieq(s, yes[i])) {
      *out = true;
      return 0;
    }
    if (str_ieq(s, no[i])) {
      *out = false;
      return 0;
    }
  }
  return err_set(MIMIC_EINVAL, "'%.40s' is not a boolean (use true or false)", s);
}

size_t str_lcpy(char *dst, const char *src, size_t cap) {
  size_t n = strlen(src);
  if (cap) {
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(dst, src, k);
    dst[k] = 0;
  }
  return n;
}

bool str_starts_with(const char *s, const char *prefix) {
  return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_ends_with(const char *s, const char *suffix) {
  size_t a = strlen(s), b = strlen(suffix);
  return a >= b && memcmp(s + a - b, suffix, b) == 0;
}

char *str_trim(char *s) {
  char *p = s;
  while (isspace((unsigned char)*p)) p++;
  size_t n = strlen(p);
  while (n && isspace((unsigned char)p[n - 1])) n--;
  memmove(s, p, n);
  s[n] = 0;
  return s;
}

bool str_ieq(const char *a, const char *b) {
  if (!a || !b) return false;
  while (*a && *b)
    if (tolower((unsigned char)*a++) != tolower((unsigned char)*b++)) return false;
  return *a == *b;
}
