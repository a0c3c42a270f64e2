/* Logging (see log.h). One mutex serialises formatting, redaction and the write of each line. */
#include "base/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/clock.h"
#include "base/str.h"

#define LOG_LINE_MAX    8192
#define LOG_MAX_SECRETS 8
#define LOG_MAX_TRACE   32

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static log_level log_threshold = LOG_INFO;
static char *log_secrets[LOG_MAX_SECRETS];
static int log_nsecrets;
static char log_trace[LOG_MAX_TRACE][32];
static int log_ntrace;
static int log_trace_all;
static FILE *log_file;
static log_sink_fn log_sink;
static void *log_sink_user;

static const char *level_names[] = {"ERROR", "WARN", "INFO", "DEBUG", "TRACE"};

void log_set_level(log_level lv) { log_threshold = lv; }

int log_level_parse(const char *s, log_level *out) {
  static const char *names[] = {"error", "warn", "info", "debug", "trace"};
  for (int i = 0; i < 5; i++)
    if (str_ieq(s, names[i])) {
      *out = (log_level)i;
      return 0;
    }
  return err_set(MIMIC_EINVAL, "unknown log level '%s' (use error, warn, info, debug or trace)", s);
}

void log_set_trace(const char *subsystems) {
  pthread_mutex_lock(&log_mu);
  log_ntrace = 0;
  log_trace_all = 0;
  const char *p = subsystems ? subsystems : "";
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n > 0 && n < sizeof log_trace[0] && log_ntrace < LOG_MAX_TRACE) {
      memcpy(log_trace[log_ntrace], p, n);
      log_trace[log_ntrace][n] = 0;
      if (strcmp(log_trace[log_ntrace], "all") == 0) log_trace_all = 1;
      log_ntrace++;
    }
    p += n;
    if (*p == ',') p++;
  }
  pthread_mutex_unlock(&log_mu);
}

bool log_enabled(log_level lv, const char *subsys) {
  if (lv <= log_threshold) return true;
  if (lv != LOG_TRACE && lv != LOG_DEBUG) return false;
  if (log_trace_all) return true;
  for (int i = 0; i < log_ntrace; i++)
    if (subsys && strcmp(log_trace[i], subsys) == 0) return true;
  return false;
}

void log_set_file(FILE *f) {
  pthread_mutex_lock(&log_mu);
  log_file = f;
  pthread_mutex_unlock(&log_mu);
}

void log_set_sink(log_sink_fn fn, void *user) {
  pthread_mutex_lock(&log_mu);
  log_sink = fn;
  log_sink_user = user;
  pthread_mutex_unlock(&log_mu);
}

void log_add_secret(const char *secret) {
  if (!secret || strlen(secret) < 8) return;
  pthread_mutex_lock(&log_mu);
  if (log_nsecrets < LOG_MAX_SECRETS) log_secrets[log_nsecrets++] = xstrdup(secret);
  pthread_mutex_unlock(&log_mu);
}

void log_reset(void) {
  pthread_mutex_lock(&log_mu);
  for (int i = 0; i < log_nsecrets; i++) free(log_secrets[i]);
  log_nsecrets = 0;
  log_file = NULL;
  log_sink = NULL;
  log_ntrace = 0;
  log_trace_all = 0;
  log_threshold = LOG_INFO;
  pthread_mutex_unlock(&log_mu);
}

/* Replaces every registered secret in line (in place; the replacement is never longer). */
static void redact(char *line) {
  static const char mark[] = "[redacted]";
  for (int i = 0; i < log_nsecrets; i++) {
    size_t sl = strlen(log_secrets[i]);
    char *hit;
    while ((hit = strstr(line, log_secrets[i])) != NULL) {
      size_t ml = sizeof mark - 1 < sl ? sizeof mark - 1 : sl;
      memcpy(hit, mark, ml);
      memmove(hit + ml, hit + sl, strlen(hit + sl) + 1);
    }
  }
}

void log_write(log_level lv, const char *subsys, const char *fmt, ...) {
  if (!log_enabled(lv, subsys)) return;
  char line[LOG_LINE_MAX];
  char ts[32];
  clock_iso8601(clock_wall_ms(), ts);
  int off = snprintf(line, sizeof line, "%s %-5s %s: ", ts, level_names[lv], subsys ? subsys : "-");
  if (off < 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line + off, sizeof line - (size_t)off - 1, fmt, ap);
  va_end(ap);
  /* Control characters from outside input would let a message forge log lines. */
  for (char *p = line + off; *p; p++)
    if ((unsigned char)*p < 0x20 && *p != '\t') *p = ' ';
  pthread_mutex_lock(&log_mu);
  redact(line);
  size_t n = strlen(line);
  line[n] = '\n';
  fwrite(line, 1, n + 1, stderr);
  if (log_file) {
    fwrite(line, 1, n + 1, log_file);
    fflush(log_file);
  }
  line[n] = 0;
  if (log_sink) log_sink(lv, line, log_sink_user);
  pthread_mutex_unlock(&log_mu);
}
