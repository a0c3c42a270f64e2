/* Clocks: monotonic for durations and timeouts, wall clock for timestamps shown to people. */
#ifndef MIMIC_BASE_CLOCK_H
#define MIMIC_BASE_CLOCK_H
#include <stdint.h>

uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
int64_t clock_wall_ms(void); /* Unix epoch milliseconds */
/* Formats Unix ms as ISO-8601 UTC with milliseconds ("2026-11-21T10:00:00.123Z") into out[32]. */
void clock_iso8601(int64_t unix_ms, char out[32]);
/* Parses ISO-8601 "YYYY-MM-DDTHH:MM:SS[.f{0,9}][Z|+hh:mm]" into Unix ms; returns 0 or
 * MIMIC_EFORMAT. */
int clock_parse_iso8601(const char *s, int64_t *unix_ms);
void clock_sleep_ms(uint64_t ms);
/* Calendar arithmetic on the proleptic Gregorian calendar, independent of any time zone: days since
 * 1970-01-01 for a date (m 1..12, d 1..31), and back. */
int64_t clock_days_from_civil(int y, int m, int d);
void clock_civil_from_days(int64_t days, int *y, int *m, int *d);

#endif
