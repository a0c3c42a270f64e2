/* Logging with levels and per-subsystem tracing. Lines go to stderr (and optionally a file) as
 * "2026-11-21T10:00:00.123Z INFO  gateway: text". Registered secrets (the bot token) are replaced
 * by
 * "[redacted]" in every line before it is written, so no code path can leak them through the log.
 * Thread-safe: one line is one write. */
#ifndef MIMIC_BASE_LOG_H
#define MIMIC_BASE_LOG_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "base/err.h"

typedef enum { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE } log_level;

/* Sets the threshold (default LOG_INFO). */
void log_set_level(log_level lv);
/* Parses "error|warn|info|debug|trace"; returns 0 or MIMIC_EINVAL. */
int log_level_parse(const char *s, log_level *out) MIMIC_MUST;
/* Enables TRACE for a comma-separated list of subsystems ("gateway,rest"; "all" for every one),
 * regardless of the level threshold. */
void log_set_trace(const char *subsystems);
bool log_enabled(log_level lv, const char *subsys);
/* Also append lines to this stream (not closed by log). NULL stops. */
void log_set_file(FILE *f);
/* Adds a string to be redacted from every line (copied; strings shorter than 8 bytes are ignored).
 */
void log_add_secret(const char *secret);
/* Drops all secrets and the file; tests call it between cases. */
void log_reset(void);
/* Receives each finished line (after redaction), e.g. for the dashboard's log stream. */
typedef void (*log_sink_fn)(log_level lv, const char *line, void *user);
void log_set_sink(log_sink_fn fn, void *user);

/* ---- log files with rotation and retention ---- */

typedef struct log_file_opts {
  const char *path;   /* the live file ("data/logs/mimic.log"; folders made with mode 0700) */
  int64_t max_bytes;  /* rotated when a line would take it past this size; 0: no size limit */
  int retention_days; /* rotated files from more than this many days ago are deleted; 0: kept */
} log_file_opts;

/* Appends every line to o->path (mode 0600) besides stderr, rotating it at midnight UTC and past
 * max_bytes: the live file is renamed to PATH.YYYY-MM-DD (the day its lines are from; .1, .2, ...
 * when a day has several) and a new one is started. Rotated files older than retention_days are
 * deleted now and at each rotation. Several processes may share one path: a process that finds
 * the file renamed by another reopens it instead of rotating again. Replaces an earlier log file.
 * Returns 0 or MIMIC_EIO naming the file. Thread-safe. */
int log_file_open(const log_file_opts *o) MIMIC_MUST;
/* Stops writing the log file (log_reset does too). */
void log_file_close(void);
/* Deletes the rotated files of path (PATH.YYYY-MM-DD[.N]) whose day is more than days before
 * now_ms's day. Returns how many it deleted. log_file_open calls it; exposed for tests. */
int log_file_prune(const char *path, int days, int64_t now_ms);

/* The wall clock of timestamps and rotation (Unix ms); NULL restores the real one. For tests. */
void log_set_clock(int64_t (*now_ms)(void));

/* ---- user ids ---- */

/* With a key, a user id in a line (a Discord id of 15 to 20 digits right after "user", "users",
 * "user_id", "author", "member", "by" or "from", or inside a "<@...>" mention) is written as
 * "u-" and 12 hex digits of a keyed hash (SipHash-2-4) instead: the same person gets the same tag
 * on one install, and the tag cannot be turned back into the id without the key. Code that logs a
 * user id writes it as "user %llu" to be covered. NULL turns hashing off. */
void log_set_user_key(const uint8_t key[16]);
/* Reads the 16-byte key from path, creating it (mode 0600, from the system's random source) when
 * it does not exist, and turns hashing on. Returns 0 or MIMIC_EIO naming the file. */
int log_user_key_load(const char *path) MIMIC_MUST;
/* The tag log lines show for id with the current key ("u-" + 12 hex digits), for looking a person
 * up in hashed logs; the decimal id when hashing is off. */
void log_user_tag(uint64_t id, char out[24]);

void log_write(log_level lv, const char *subsys, const char *fmt, ...) MIMIC_PRINTF(3, 4);

#define LOG_E(sub, ...) log_write(LOG_ERROR, sub, __VA_ARGS__)
#define LOG_W(sub, ...) log_write(LOG_WARN, sub, __VA_ARGS__)
#define LOG_I(sub, ...) log_write(LOG_INFO, sub, __VA_ARGS__)
#define LOG_D(sub, ...)                                                                            \
  do {                                                                                             \
    if (log_enabled(LOG_DEBUG, sub)) log_write(LOG_DEBUG, sub, __VA_ARGS__);                       \
  } while (0)
#define LOG_T(sub, ...)                                                                            \
  do {                                                                                             \
    if (log_enabled(LOG_TRACE, sub)) log_write(LOG_TRACE, sub, __VA_ARGS__);                       \
  } while (0)

#endif
