/* Small string helpers, including the checked number parsers that replace atoi/strtol misuse
 * (the lint bans atoi, sprintf, strcpy, strcat, strtok, gets). */
#ifndef MIMIC_BASE_STR_H
#define MIMIC_BASE_STR_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

/* Whole-string parsers: leading/trailing spaces allowed, anything else is MIMIC_EINVAL; out of
 * range is MIMIC_ERANGE. *out is written only on success. */
int str_to_i64(const char *s, int64_t *out) MIMIC_MUST;
int str_to_u64(const char *s, uint64_t *out) MIMIC_MUST;
int str_to_double(const char *s, double *out) MIMIC_MUST;
int str_to_bool(const char *s, bool *out) MIMIC_MUST; /* 1/0 true/false yes/no on/off */

/* Copies at most cap-1 bytes and NUL-terminates (cap > 0); returns strlen(src). */
size_t str_lcpy(char *dst, const char *src, size_t cap);
bool str_starts_with(const char *s, const char *prefix);
bool str_ends_with(const char *s, const char *suffix);
/* Trims ASCII whitespace in place; returns s. */
char *str_trim(char *s);
/* Case-insensitive ASCII equality. */
bool str_ieq(const char *a, const char *b);

#endif
