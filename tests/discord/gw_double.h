/* Test rig for the gateway: spawns tests/double/gateway_double.js (Node + Debian's ws) with a
 * scenario, runs mimic's gateway against it on a libuv loop in its own thread (the I/O loop), and
 * lets the test wait on typed events and on the double's JSON-lines log, always with timeouts.
 * Header-only so every test_gateway*.c can include it. */
#ifndef MIMIC_TEST_GW_DOUBLE_H
#define MIMIC_TEST_GW_DOUBLE_H
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "double/node_double.h"
#include "discord/gateway.h"

typedef struct gwd {
  pid_t pid;
  int port;
  char scenario[64];
  char log[64];
} gwd;

/* Starts the double with scenario (JSON text). Returns 0, or -1 when Node or the double cannot be
 * started (the caller SKIPs). */
static inline int gwd_start(gwd *d, const char *scenario, const char **extra_args) {
  memset(d, 0, sizeof *d);
  const char *src = getenv("MIMIC_SRC");
  char script[1024];
  snprintf(script, sizeof script, "%s/tests/double/gateway_double.js", src ? src : ".");
  if (access(script, R_OK) != 0) return -1;
  snprintf(d->scenario, sizeof d->scenario, "/tmp/mimic-gws-XXXXXX");
  int fd = mkstemp(d->scenario);
  if (fd < 0) return -1;
  size_t n = strlen(scenario);
  if (write(fd, scenario, n) != (ssize_t)n) {
    close(fd);
    return -1;
  }
  close(fd);
  snprintf(d->log, sizeof d->log, "/tmp/mimic-gwl-XXXXXX");
  fd = mkstemp(d->log);
  if (fd < 0) return -1;
  close(fd);
  const char *args[12] = {d->scenario, d->log};
  int k = 2;
  for (int i = 0; extra_args && extra_args[i] && k < 11; i++) args[k++] = extra_args[i];
  args[k] = NULL;
  d->port = nd_spawn(script, args, &d->pid);
  return d->port > 0 ? 0 : -1;
}

static inline void gwd_stop(gwd *d) {
  nd_stop(&d->pid);
  if (d->scenario[0]) unlink(d->scenario);
  if (d->log[0]) unlink(d->log);
}

/* The double's log so far as a JSON array (caller json_decref). Never NULL. */
static inline json_t *gwd_log(const gwd *d) {
  json_t *arr = json_array();
  FILE *f = fopen(d->log, "rb");
  if (!f) return arr;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (line[n - 1] != '\n') break; /* a line still being written */
    json_t *v = json_loadb(line, (size_t)n, 0, NULL);
    if (v) json_array_append_new(arr, v);
  }
  free(line);
  fclose(f);
  return arr;
}

/* Number of log entries matching ev (or "recv" with that op when op >= 0) on connection conn
 * (-1: any). */
static inline int gwd_count_in(const json_t *log, const char *ev, int op, int conn) {
  int c = 0;
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "ev", ""), ev) != 0) continue;
    if (op >= 0 && jv_int(e, "op", -100) != op) continue;
    if (conn >= 0 && jv_int(e, "conn", -1) != conn) continue;
    c++;
  }
  return c;
}

/* Polls the log until at least `want` entries match, or timeout_ms passes. Returns the count. */
static inline int gwd_wait(const gwd *d, const char *ev, int op, int conn, int want,
                           long timeout_ms) {
  uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
  for (;;) {
    json_t *log = gwd_log(d);
    int c = gwd_count_in(log, ev, op, conn);
    json_decref(log);
    if (c >= want || clock_mono_ms() >= deadline) return c;
    clock_sleep_ms(10);
  }
}

/* The k-th (0-based) entry matching, borrowed from log; NULL when absent. */
static inline json_t *gwd_find(const json_t *log, const char *ev, int op, int conn, int k) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "ev", ""), ev) != 0) continue;
    if (op >= 0 && jv_int(e, "op", -100) != op) continue;
    if (conn >= 0 && jv_int(e, "conn", -1) != conn) continue;
    if (k-- == 0) return e;
  }
  return NULL;
}

/* ---- the gateway side -------------------------------------------------------------------------
 */

typedef struct rig {
  gwd d;
  uv_loop_t loop;
  gateway *gw;
  pthread_t th;
  bool running;
} rig;

static inline void *rig_loop(void *arg) {
  rig *r = arg;
  if (gateway_start(r->gw) != 0) return NULL;
  uv_run(&r->loop, UV_RUN_DEFAULT);
  return NULL;
}

/* The most a test waits for something the double or the gateway must do: a bound on a failure,
 * not a sleep (every wait returns as soon as its event arrives), generous because under ASan on a
 * loaded 2-core machine the Node double can take seconds to answer. */
#define GW_WAIT_MS 30000

#define TEST_TOKEN "test-token-ABCDEFGHIJKLMNOP.qrstu"

/* Fast defaults for tests; the caller may adjust o before rig_go. */
static inline void rig_options(rig *r, gateway_options *o, char *url, size_t cap, bool compress) {
  memset(o, 0, sizeof *o);
  snprintf(url, cap, "ws://127.0.0.1:%d", r->d.port);
  o->url = url;
  o->token = TEST_TOKEN;
  o->intents = 37377;
  o->compress = compress;
  o->backoff_base_ms = 40;
  o->backoff_max_ms = 400;
  o->identify_window_ms = 20;
  o->invalid_session_min_ms = 50;
  o->invalid_session_max_ms = 100;
  o->hello_timeout_ms = 3000;
  o->connect_timeout_ms = 3000;
}

static inline int rig_go(rig *r, const gateway_options *o) {
  uv_loop_init(&r->loop);
  if (gateway_new(&r->loop, o, &r->gw) != 0) {
    uv_loop_close(&r->loop);
    return -1;
  }
  if (pthread_create(&r->th, NULL, rig_loop, r) != 0) return -1;
  r->running = true;
  return 0;
}

static inline void rig_end(rig *r) {
  if (r->gw) {
    gateway_stop(r->gw);
    if (r->running) pthread_join(r->th, NULL);
    gateway_destroy(r->gw);
    r->gw = NULL;
    uv_loop_close(&r->loop);
  }
  gwd_stop(&r->d);
}

/* Pops events until one of type t arrives (others are freed and counted in *skipped when given).
 * NULL on timeout or when the gateway stopped first (then *stopped holds STOPPED if wanted). */
static inline discord_event *rig_wait(rig *r, discord_event_type t, long timeout_ms) {
  uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
  for (;;) {
    long left = (long)(deadline - clock_mono_ms());
    if (left <= 0) return NULL;
    discord_event *ev = gateway_next_event(r->gw, left);
    if (!ev) return NULL;
    if (ev->type == t) return ev;
    bool stop = ev->type == DISCORD_EV_STOPPED;
    discord_event_free(ev);
    if (stop) return NULL;
  }
}

/* Scenarios in tests are written with ' for " to stay readable; this turns them back (caller
 * frees). */
static inline char *gwd_squote(const char *s) {
  char *d = xstrdup(s);
  for (char *p = d; *p; p++)
    if (*p == '\'') *p = '"';
  return d;
}

/* Starts double + gateway for a test (scenario in ' quotes); SKIPs the calling test when Node is
 * unavailable. `tweak` may adjust the gateway_options `o` before the gateway starts. Needs test.h.
 */
#define RIG_START(r, scen, compress, tweak)                                                        \
  rig r;                                                                                           \
  memset(&r, 0, sizeof r);                                                                         \
  do {                                                                                             \
    char *s_ = gwd_squote(scen);                                                                   \
    int rc_ = gwd_start(&r.d, s_, NULL);                                                           \
    mem_free(s_);                                                                                  \
    if (rc_ != 0) SKIP("node or tests/double/gateway_double.js unavailable");                      \
  } while (0);                                                                                     \
  gateway_options o;                                                                               \
  char url[128];                                                                                   \
  rig_options(&r, &o, url, sizeof url, compress);                                                  \
  tweak;                                                                                           \
  REQUIRE(rig_go(&r, &o) == 0)

#endif
