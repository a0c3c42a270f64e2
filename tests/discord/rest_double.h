/* Test helper: starts tests/double/rest_double.js (the Discord REST double) with a scenario,
 * reads its port, loads its JSON-lines request log, and stops it. Header-only (static functions)
 * so each test executable stays one file. Tests SKIP when node is not installed. */
#ifndef MIMIC_TEST_REST_DOUBLE_H
#define MIMIC_TEST_REST_DOUBLE_H
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "double/node_double.h"

typedef struct rest_double {
  pid_t pid;
  int port;
  char cfg_path[64];
  char log_path[64];
  char base[96]; /* "http://127.0.0.1:PORT/api/v10" */
} rest_double;

static inline const char *rd_script(char *out, size_t cap) {
  const char *src = getenv("MIMIC_SRC");
  if (src) {
    snprintf(out, cap, "%s/tests/double/rest_double.js", src);
  } else { /* __FILE__ is tests/discord/rest_double.h */
    snprintf(out, cap, "%s", __FILE__);
    char *p = strstr(out, "tests/discord/rest_double.h");
    if (!p) return NULL;
    snprintf(p, cap - (size_t)(p - out), "tests/double/rest_double.js");
  }
  return access(out, R_OK) == 0 ? out : NULL;
}

static inline int rd_have_node(void) { return system("node --version >/dev/null 2>&1") == 0; }

/* Starts the double with `scenario` (a JSON object text without the "log" field, which is added).
 * Returns 0, or -1 when node or the script is missing (the caller SKIPs). */
static inline int rd_start(rest_double *d, const char *scenario) {
  char script[1024];
  memset(d, 0, sizeof *d);
  if (!rd_script(script, sizeof script) || !rd_have_node()) return -1;
  snprintf(d->cfg_path, sizeof d->cfg_path, "/tmp/mimic_rd_cfg_XXXXXX");
  int fd = mkstemp(d->cfg_path);
  if (fd < 0) return -1;
  snprintf(d->log_path, sizeof d->log_path, "%s.log", d->cfg_path);
  FILE *f = fdopen(fd, "w");
  const char *brace = strchr(scenario, '{');
  if (!brace) brace = "{}";
  bool empty = strspn(brace + 1, " \t\r\n") == strlen(brace + 1) - 1;
  fprintf(f, "{\"log\": \"%s\"%s%s", d->log_path, empty ? "" : ", ", brace + 1);
  fclose(f);
  const char *args[] = {d->cfg_path, NULL};
  d->port = nd_spawn(script, args, &d->pid);
  if (d->port <= 0) return -1;
  snprintf(d->base, sizeof d->base, "http://127.0.0.1:%d/api/v10", d->port);
  return 0;
}

static inline void rd_stop(rest_double *d) {
  nd_stop(&d->pid);
  unlink(d->cfg_path);
  unlink(d->log_path);
}

/* Loads the request log as a JSON array (caller json_decrefs). Lines are written synchronously by
 * the double before it answers, so everything answered so far is there. */
static inline json_t *rd_log(const rest_double *d) {
  json_t *arr = json_array();
  FILE *f = fopen(d->log_path, "r");
  if (!f) return arr;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    json_t *e = jv_parse(line, (size_t)n, "double log");
    if (e) json_array_append_new(arr, e);
  }
  free(line);
  fclose(f);
  return arr;
}

/* Entries whose "route" equals route (or all when NULL). */
static inline size_t rd_count(const json_t *log, const char *route, const char *field, bool value) {
  size_t i, n = 0;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (route && strcmp(jv_str(e, "route", ""), route) != 0) continue;
    if (field && jv_bool(e, field, false) != value) continue;
    n++;
  }
  return n;
}

#endif
