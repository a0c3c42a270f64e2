/* Schedules: standard 5-field cron expressions and "every N minutes/hours" intervals, and the exact
 * next fire time in a time zone. It computes instants only; claiming runs, jitter and jobs belong
 * to the scheduler that uses it.
 *
 * Grammar (Vixie cron): minute hour day-of-month month day-of-week, each a list of `*`, `N`, `N-M`,
 * with an optional `/STEP`; months JAN..DEC and days SUN..SAT by name (case-insensitive); day 7 is
 * Sunday too. `@hourly`, `@daily` (`@midnight`), `@weekly`, `@monthly`, `@yearly` (`@annually`).
 * When both day fields are restricted (neither starts with `*`) a day matches if EITHER does, else
 * both must. Intervals: `@every 15m`, `@every 2h`, `every 30 minutes`, `every 1 hour`; they count
 * elapsed time from the Unix epoch, so they ignore the zone.
 *
 * Daylight-saving rules (as Vixie cron): an expression whose hour field is a fixed list fires at
 * fixed local times: a time a spring-forward change skips fires once, at the first instant after
 * the gap; a time a fall-back change repeats fires once, at its first occurrence. An expression
 * whose hour field is `*` or a step follows elapsed time: skipped wall-clock times do not fire,
 * repeated ones fire at both instants (hourly stays hourly). */
#ifndef MIMIC_BASE_CRON_H
#define MIMIC_BASE_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "base/tz.h"

#define CRON_EXPR_MAX 256 /* longest expression accepted */

typedef struct cron_expr {
  uint64_t minutes;          /* bit m for minute m (0..59) */
  uint32_t hours;            /* bit h (0..23) */
  uint32_t mdays;            /* bit d (1..31) */
  uint16_t months;           /* bit m (1..12) */
  uint8_t wdays;             /* bit d (0..6, Sunday 0) */
  bool mday_star, wday_star; /* the field started with '*' (Vixie's AND/OR rule) */
  bool elapsed;              /* hour field is '*' or a step: follow elapsed time across changes */
  int64_t every_s;           /* > 0: an interval of that many seconds instead of the fields */
} cron_expr;

/* Parses `text`. On error returns MIMIC_EINVAL with one sentence ("cron: minute 60 is out of range
 * 0-59 in '60 * * * *'"). */
int cron_parse(const char *text, cron_expr *out) MIMIC_MUST;

/* The first fire time strictly after Unix time `after` (seconds) in zone z (NULL: UTC). Returns
 * MIMIC_ENOTFOUND when the expression never fires (`0 0 30 2 *`) within 400 years. */
int cron_next(const cron_expr *e, const tz_zone *z, int64_t after, int64_t *next) MIMIC_MUST;

#endif
