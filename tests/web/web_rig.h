/* Test rig for the dashboard: the Discord doubles (tests/double), a private folder with a config
 * file and a database, the password set through `mimic dashboard passwd` (standard input), the
 * dashboard itself on a free loopback port, and a small HTTP client (libcurl) that keeps the
 * session cookie and every byte it received, so tests can check that no answer ever held the
 * token. Header-only, like the other test helpers. */
#ifndef MIMIC_TEST_WEB_RIG_H
#define MIMIC_TEST_WEB_RIG_H
#include <curl/curl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "discord/gw_double.h"
#include "discord/rest_double.h"

#define RIG_TOKEN    "tok-SECRETSECRET-0123456789abcdef"
#define RIG_PASSWORD "correct horse battery staple"
#define RIG_MTOKEN   "metrics-SECRET-token-0123456789"

typedef struct web_rig {
  char dir[64], conf[128], db[160];
  gwd gw;
  rest_double rd;
  bool doubles;
  pid_t pid;
  int err_fd;
  int port;
  char base[128];   /* "http://127.0.0.1:PORT" (or https and another host under TLS) */
  bool insecure;    /* TLS with a self-signed certificate: do not verify it */
  char cookie[160]; /* "mimic_session=..." */
  char csrf[80];
  buf seen; /* every header and body received */
} web_rig;

/* Set before web_rig_start to start the dashboard without DISCORD_TOKEN (a first run). */
static bool rig_without_token;

typedef struct web_resp {
  long status;
  buf head, body;
} web_resp;

static size_t rig_write(char *p, size_t sz, size_t n, void *user) {
  buf *b = user;
  if (buf_append(b, p, sz * n)) return 0;
  return sz * n;
}

static inline void web_resp_free(web_resp *r) {
  buf_free(&r->head);
  buf_free(&r->body);
}

/* One request. body NULL: GET (or method). csrf: send the rig's token. Extra headers NULL-ended. */
static inline int rig_http(web_rig *r, const char *method, const char *path, const char *body,
                           bool with_cookie, bool csrf, const char *const *headers, web_resp *out) {
  memset(out, 0, sizeof *out);
  buf_init(&out->head, 1 << 20);
  buf_init(&out->body, 8 << 20);
  CURL *c = curl_easy_init();
  if (!c) return -1;
  char url[512];
  snprintf(url, sizeof url, "%s%s", r->base, path);
  if (r->insecure) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L); /* send "../" as written */
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, rig_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &out->body);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, rig_write);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &out->head);
  /* An event stream never ends: read what is there for a moment. */
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, strncmp(path, "/api/events", 11) == 0 ? 3000L : 20000L);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  struct curl_slist *h = NULL;
  char line[300];
  if (body) h = curl_slist_append(h, "Content-Type: application/json");
  if (with_cookie && r->cookie[0]) {
    snprintf(line, sizeof line, "Cookie: %s", r->cookie);
    h = curl_slist_append(h, line);
  }
  if (csrf) {
    snprintf(line, sizeof line, "X-CSRF-Token: %s", r->csrf);
    h = curl_slist_append(h, line);
  }
  for (size_t i = 0; headers && headers[i]; i++) h = curl_slist_append(h, headers[i]);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  if (buf_putc(&out->head, 0) || buf_putc(&out->body, 0)) return -1;
  out->head.len--;
  out->body.len--;
  if (buf_append(&r->seen, out->head.data, out->head.len) ||
      buf_append(&r->seen, out->body.data, out->body.len))
    return -1;
  return rc == CURLE_OK || rc == CURLE_OPERATION_TIMEDOUT ? 0 : -1;
}

/* Status of a request whose answer is not needed. */
static inline long rig_status(web_rig *r, const char *method, const char *path, const char *body,
                              bool with_cookie, bool csrf) {
  web_resp x;
  if (rig_http(r, method, path, body, with_cookie, csrf, NULL, &x)) {
    web_resp_free(&x);
    return -1;
  }
  long s = x.status;
  web_resp_free(&x);
  return s;
}

/* The Set-Cookie value for mimic_session in a response's headers ("" if none). */
static inline void rig_cookie_of(const web_resp *x, char *out, size_t cap) {
  out[0] = 0;
  const char *p = strstr(x->head.data, "Set-Cookie: mimic_session=");
  if (!p) return;
  p += strlen("Set-Cookie: ");
  size_t n = strcspn(p, ";\r\n");
  if (n >= cap) n = cap - 1;
  memcpy(out, p, n);
  out[n] = 0;
}

/* Logs in with password; keeps the cookie and CSRF token. Returns the HTTP status. */
static inline long rig_login(web_rig *r, const char *password) {
  char body[256];
  snprintf(body, sizeof body, "{\"password\":\"%s\"}", password);
  web_resp x;
  if (rig_http(r, "POST", "/api/login", body, true, false, NULL, &x)) {
    web_resp_free(&x);
    return -1;
  }
  if (x.status == 200) {
    rig_cookie_of(&x, r->cookie, sizeof r->cookie);
    const char *c = strstr(x.body.data, "\"csrf\":\"");
    if (c) {
      c += 8;
      size_t n = strcspn(c, "\"");
      if (n < sizeof r->csrf) {
        memcpy(r->csrf, c, n);
        r->csrf[n] = 0;
      }
    }
  }
  long s = x.status;
  web_resp_free(&x);
  return s;
}

static inline int rig_sh(const char *cmd) {
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Reads the dashboard's stderr until it names its address ("dashboard on http://H:P/"), or 20 s
 * pass; returns the port and copies "http://H:P" to base. The text read goes to said (may be NULL).
 */
static inline int rig_read_port(web_rig *r, char *said, size_t said_cap) {
  char acc[8192];
  size_t got = 0;
  acc[0] = 0;
  uint64_t deadline = clock_mono_ms() + 20000;
  int port = 0;
  while (got < sizeof acc - 1 && !port) {
    long left = (long)(deadline - clock_mono_ms());
    struct pollfd p = {r->err_fd, POLLIN, 0};
    if (left <= 0 || poll(&p, 1, (int)left) <= 0) break;
    ssize_t k = read(r->err_fd, acc + got, sizeof acc - 1 - got);
    if (k <= 0) break;
    got += (size_t)k;
    acc[got] = 0;
    const char *at = strstr(acc, "dashboard on ");
    const char *end = at ? strstr(at, "/\n") : NULL;
    if (!end) continue;
    at += strlen("dashboard on ");
    const char *colon = end;
    while (colon > at && *colon != ':') colon--;
    int64_t v = 0;
    char num[8] = {0};
    for (int i = 0; i < 6 && colon[1 + i] >= '0' && colon[1 + i] <= '9'; i++) num[i] = colon[1 + i];
    if (str_to_i64(num, &v) == 0 && v > 0) {
      port = (int)v;
      snprintf(r->base, sizeof r->base, "%.*s", (int)(end - at), at);
    }
  }
  if (said) snprintf(said, said_cap, "%s", acc);
  if (!port) fprintf(stdout, "  dashboard said: %s\n", acc);
  return port;
}

/* Sets everything up. with_doubles: the bot can connect to the doubles. extra_conf: more config
 * lines (may be NULL). Returns 0, 1 to SKIP (node or the binary missing), -1 on failure. */
static inline int web_rig_start_with(web_rig *r, bool with_doubles, const char *extra_conf,
                                     const char *const *args, char *said, size_t said_cap) {
  memset(r, 0, sizeof *r);
  buf_init(&r->seen, 64 << 20);
  const char *bin = getenv("MIMIC_BIN");
  if (!bin || access(bin, X_OK) != 0) return 1;
  snprintf(r->dir, sizeof r->dir, "/tmp/mimic-web-XXXXXX");
  if (!mkdtemp(r->dir)) return -1;
  snprintf(r->conf, sizeof r->conf, "%s/mimic.conf", r->dir);
  snprintf(r->db, sizeof r->db, "%s/data/mimic.db", r->dir);
  char api[160] = "http://127.0.0.1:1/api/v10";
  if (with_doubles) {
    if (gwd_start(&r->gw,
                  "{\"connections\":[[{\"hello\":1000},{\"expect\":\"identify\"},{\"ready\":{}},"
                  "{\"wait_heartbeats\":100000}]]}",
                  NULL) != 0)
      return 1;
    char cfg_json[256];
    snprintf(cfg_json, sizeof cfg_json,
             "{\"token\":\"" RIG_TOKEN "\",\"gateway_url\":\"ws://127.0.0.1:%d\"}", r->gw.port);
    if (rd_start(&r->rd, cfg_json) != 0) {
      gwd_stop(&r->gw);
      return 1;
    }
    r->doubles = true;
    snprintf(api, sizeof api, "%s", r->rd.base);
  }
  FILE *f = fopen(r->conf, "w");
  if (!f) return -1;
  fprintf(f,
          "[data]\ndir = %s/data\n[discord]\napi = %s\n[engine]\nmodel = %s/none.gguf\n"
          "threads = 1\n[web]\nmetrics_token = " RIG_MTOKEN
          "\n[dashboard]\nstop_timeout_s = 20\n%s",
          r->dir, api, r->dir, extra_conf ? extra_conf : "");
  fclose(f);
  chmod(r->conf, 0600);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "echo '" RIG_PASSWORD "' | %s dashboard passwd --config %s >/dev/null",
           bin, r->conf);
  if (rig_sh(cmd) != 0) return -1;
  int pfd[2];
  if (pipe(pfd) != 0) return -1;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, pfd[1], 2);
  posix_spawn_file_actions_addclose(&fa, pfd[0]);
  char *argv[16] = {(char *)bin, "dashboard", "--config", r->conf};
  int na = 4;
  if (!args) {
    argv[na++] = "--listen";
    argv[na++] = "127.0.0.1:0";
  }
  for (int i = 0; args && args[i] && na < 15; i++) argv[na++] = (char *)args[i];
  argv[na] = NULL;
  if (!rig_without_token) setenv("DISCORD_TOKEN", RIG_TOKEN, 1);
  int rc = posix_spawn(&r->pid, bin, &fa, NULL, argv, environ);
  unsetenv("DISCORD_TOKEN");
  posix_spawn_file_actions_destroy(&fa);
  close(pfd[1]);
  if (rc != 0) {
    close(pfd[0]);
    return -1;
  }
  r->err_fd = pfd[0];
  r->port = rig_read_port(r, said, said_cap);
  return r->port > 0 ? 0 : -1;
}

static inline int web_rig_start(web_rig *r, bool with_doubles, const char *extra_conf) {
  return web_rig_start_with(r, with_doubles, extra_conf, NULL, NULL, 0);
}

/* Stops the dashboard (SIGTERM: it stops the bot gracefully) and returns its exit status. */
static inline int web_rig_stop(web_rig *r) {
  int st = -1;
  if (r->pid > 0) {
    kill(r->pid, SIGTERM);
    /* Drain its stderr so it never blocks on a full pipe while stopping. */
    char tmp[4096];
    while (read(r->err_fd, tmp, sizeof tmp) > 0) {}
    waitpid(r->pid, &st, 0);
    close(r->err_fd);
    r->pid = 0;
  }
  if (r->doubles) {
    rd_stop(&r->rd);
    gwd_stop(&r->gw);
  }
  char cmd[200];
  snprintf(cmd, sizeof cmd, "rm -rf %s", r->dir);
  if (r->dir[0]) rig_sh(cmd);
  buf_free(&r->seen);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Polls GET path until its body contains want (or timeout_ms pass). */
static inline bool rig_wait_for(web_rig *r, const char *path, const char *want, int timeout_ms) {
  uint64_t deadline = clock_mono_ms() + (uint64_t)timeout_ms;
  while (clock_mono_ms() < deadline) {
    web_resp x;
    bool found = rig_http(r, "GET", path, NULL, true, false, NULL, &x) == 0 &&
                 strstr(x.body.data, want) != NULL;
    web_resp_free(&x);
    if (found) return true;
    clock_sleep_ms(100);
  }
  return false;
}

#endif
