/* Logging with levels and per-subsystem tracing. Lines go to stderr (and optionally a file) as
 * "2026-11-21T10:00:00.123Z INFO  gateway: text". Registered secrets (the bot token) are replaced
 * by
 * "[redacted]" in every line before it is written, so no code path can leak them through the log.
 * Thread-safe: one line is one write. */
#ifndef MIMIC_BASE_LOG_H
#define MIMIC_BASE_LOG_H
#include <stdbool.h>
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
