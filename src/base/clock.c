/* Clocks (see clock.h). */
#include "base/clock.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

uint64_t clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t clock_mono_ms(void) { return clock_mono_ns() / 1000000ull; }

int64_t clock_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_iso8601(int64_t unix_ms, char out[32]) {
  time_t secs = (time_t)(unix_ms >= 0 ? unix_ms / 1000 : (unix_ms - 999) / 1000);
  int ms = (int)(unix_ms - (int64_t)secs * 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  /* Years are clamped to four digits so the text always fits in 32 bytes. */
  int year = tm.tm_year + 1900;
  year = year < 0 ? 0 : year > 9999 ? 9999 : year;
  snprintf(out, 32, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", year, (tm.tm_mon + 1) % 100,
           tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100, tm.tm_sec % 100, ms % 1000);
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (!isdigit((unsigned char)**p)) return -1;
    v = v * 10 + (**p - '0');
    (*p)++;
  }
  *out = v;
  return 0;
}

/* Howard Hinnant's civil algorithms (proleptic Gregorian). */
int64_t clock_days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void clock_civil_from_days(int64_t z, int *y, int *m, int *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

int clock_parse_iso8601(const char *s, int64_t *unix_ms) {
  const char *p = s;
  int Y, M, D, h = 0, mi = 0, sec = 0;
  if (digits(&p, 4, &Y) || *p++ != '-' || digits(&p, 2, &M) || *p++ != '-' || digits(&p, 2, &D))
    goto bad;
  if (*p == 'T' || *p == ' ') {
    p++;
    if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi)) goto bad;
    if (*p == ':') {
      p++;
      if (digits(&p, 2, &sec)) goto bad;
    }
  }
  int64_t ms = 0;
  if (*p == '.' || *p == ',') {
    p++;
    int nd = 0;
    int64_t scale = 100;
    while (isdigit((unsigned char)*p)) {
      if (nd < 3) ms += (*p - '0') * scale;
      scale /= 10;
      nd++;
      p++;
    }
    if (nd == 0 || nd > 9) goto bad;
  }
  int64_t off_min = 0;
  if (*p == 'Z' || *p == 'z')
    p++;
  else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1, oh, om = 0;
    p++;
    if (digits(&p, 2, &oh)) goto bad;
    if (*p == ':') p++;
    if (isdigit((unsigned char)*p) && digits(&p, 2, &om)) goto bad;
    off_min = sign * (oh * 60 + om);
  }
  if (*p) goto bad;
  if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60) goto bad;
  int64_t days = clock_days_from_civil(Y, M, D);
  *unix_ms = ((days * 86400 + h * 3600 + mi * 60 + sec) - off_min * 60) * 1000 + ms;
  return 0;
bad:
  return err_set(MIMIC_EFORMAT, "bad timestamp '%.40s' (expected ISO-8601)", s);
}

void clock_sleep_ms(uint64_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}
