/* Time zones from the system's tz database: reads a TZif file (RFC 8536, versions 1 to 4) and its
 * POSIX TZ footer, and answers "what is the UTC offset at this instant" and "when is the next
 * change". It is what the scheduler needs to place local times exactly across daylight-saving
 * changes, without touching the process-wide TZ variable (so it is thread-safe), and it is not a
 * formatter: times shown to people stay ISO-8601 UTC.
 *
 * Zones are read from $TZDIR or /usr/share/zoneinfo (Debian's `tzdata`). "UTC" (and "Etc/UTC")
 * work even without the database. A zone is immutable after loading and may be shared by threads.
 */
#ifndef MIMIC_BASE_TZ_H
#define MIMIC_BASE_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct tz_zone tz_zone;

/* Caps on what a TZif file may declare (outside input: a hostile file must not allocate much). */
#define TZ_FILE_MAX   (1u << 20)
#define TZ_TRANS_MAX  4096
#define TZ_TYPES_MAX  256
#define TZ_FOOTER_MAX 128

/* Loads the IANA zone `name` ("America/New_York"). Names are checked (letters, digits, '_', '-',
 * '+', '/'; no "..", no leading '/'), so a name from a guild's settings cannot read other files.
 * On failure *out is NULL and err_msg() says why ("unknown time zone 'Mars/Base'"). Caller frees
 * with tz_free. */
int tz_load(const char *name, tz_zone **out) MIMIC_MUST;

/* Parses TZif bytes (the contents of a zone file); `name` only labels the zone and its errors.
 * Returns MIMIC_EFORMAT with one sentence for anything malformed or over the caps. */
int tz_parse(const void *data, size_t n, const char *name, tz_zone **out) MIMIC_MUST;

/* Parses a POSIX TZ string ("EST5EDT,M3.2.0,M11.1.0", "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0") as a
 * zone of its own. */
int tz_parse_posix(const char *spec, tz_zone **out) MIMIC_MUST;

void tz_free(tz_zone *z);

/* The zone's name as loaded. Borrowed. */
const char *tz_name(const tz_zone *z);

/* UTC offset in seconds (east positive: New York in winter is -18000) at Unix time t. */
int32_t tz_offset_at(const tz_zone *z, int64_t t);

/* The first change of offset strictly after t: its instant and the offsets before and after.
 * Returns 0, or MIMIC_ENOTFOUND when the zone never changes again. */
int tz_next_change(const tz_zone *z, int64_t t, int64_t *at, int32_t *before, int32_t *after);

/* Local wall-clock time, in seconds since 1970-01-01T00:00 local (civil seconds, no zone), for a
 * Unix time: t + tz_offset_at(z, t). */
int64_t tz_local(const tz_zone *z, int64_t t);

/* The Unix times at which the wall clock reads `local` (civil seconds as above), in increasing
 * order: none when a spring-forward change skips it, two when a fall-back change repeats it.
 * Returns the count (0..2) and writes up to two instants. When it returns 0, *gap_end (if not NULL)
 * is the instant the skipped stretch ends: the first instant whose wall-clock time is after
 * `local`. */
int tz_instants(const tz_zone *z, int64_t local, int64_t out[2], int64_t *gap_end);

#endif
