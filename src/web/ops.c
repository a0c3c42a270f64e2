/* The operational endpoints (web_int.h, web.h): /healthz (the process answers), /readyz (the
 * gateway is connected and the model loaded, read from the registry's gauges, else 503 saying
 * which is missing) and /metrics (the registry with the process gauges refreshed, in Prometheus'
 * text format; beyond loopback only with the bearer token). Also the small loopback HTTP client
 * and sample reader the dashboard uses on the bot's own /metrics. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/metrics.h"
#include "web/web_int.h"

#define METRICS_PAGE_MAX (4 * 1024 * 1024)

void web__ops_process_gauges(void) {
  static double last_cpu;
  static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
  long page = sysconf(_SC_PAGESIZE), tck = sysconf(_SC_CLK_TCK);
  FILE *f = fopen("/proc/self/statm", "r");
  if (f) {
    unsigned long size = 0, rss = 0;
    if (fscanf(f, "%lu %lu", &size, &rss) == 2) {
      metrics_gauge_set("mimic_process_resident_memory_bytes", "Resident memory of the process.",
                        NULL, NULL, (double)rss * (double)page);
      metrics_gauge_set("mimic_process_virtual_memory_bytes", "Virtual memory of the process.",
                        NULL, NULL, (double)size * (double)page);
    }
    fclose(f);
  }
  f = fopen("/proc/self/stat", "r");
  if (f) {
    char line[2048];
    if (fgets(line, sizeof line, f)) {
      /* Fields after the command name (which may hold spaces), from field 3 on. */
      const char *p = strrchr(line, ')');
      unsigned long utime = 0, stime = 0;
      long threads = 0;
      unsigned long long start = 0;
      if (p &&
          sscanf(p + 2,
                 "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %ld "
                 "%*d %llu",
                 &utime, &stime, &threads, &start) == 4 &&
          tck > 0) {
        double cpu = (double)(utime + stime) / (double)tck;
        pthread_mutex_lock(&mu);
        if (cpu > last_cpu) {
          metrics_count("mimic_process_cpu_seconds_total", "CPU time used by the process.", NULL,
                        NULL, cpu - last_cpu);
          last_cpu = cpu;
        }
        pthread_mutex_unlock(&mu);
        metrics_gauge_set("mimic_process_threads", "Threads of the process.", NULL, NULL,
                          (double)threads);
      }
    }
    fclose(f);
  }
}

void web__ops_healthz(web_req *r) {
  web__send(r, 200, "text/plain; charset=utf-8", "ok\n", 3, false, NULL);
}

void web__ops_readyz(web_req *r) {
  bool gw = metrics_value("mimic_gateway_connected", NULL, NULL, 0) == 1;
  bool model = metrics_value("mimic_model_loaded", NULL, NULL, 0) == 1;
  if (gw && model) {
    web__send(r, 200, "text/plain; charset=utf-8", "ready\n", 6, false, NULL);
    return;
  }
  char why[160];
  snprintf(why, sizeof why, "not ready:%s%s\n", gw ? "" : " the gateway is not connected;",
           model ? "" : " no model is loaded;");
  web__send(r, 503, "text/plain; charset=utf-8", why, strlen(why), false, NULL);
}

void web__ops_metrics(web_req *r, const char *token) {
  if (!r->loopback) {
    const char *auth = web__header(r, "Authorization");
    if (!token || !*token) {
      web__send(r, 403, "text/plain; charset=utf-8",
                "metrics beyond loopback need web.metrics_token\n", 47, false, NULL);
      return;
    }
    if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !web__secure_eq(auth + 7, token)) {
      const char *h[] = {"WWW-Authenticate", "Bearer realm=\"mimic\"", NULL};
      web__send(r, 401, "text/plain; charset=utf-8", "bearer token required\n", 22, false, h);
      return;
    }
  }
  web__ops_process_gauges();
  buf b;
  buf_init(&b, METRICS_PAGE_MAX);
  if (metrics_render(&b)) {
    web__send(r, 500, "text/plain; charset=utf-8", err_msg(), strlen(err_msg()), false, NULL);
    err_clear();
  } else {
    web__send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len,
              false, NULL);
  }
  buf_free(&b);
}

/* ---- `mimic run`'s server ---- */

typedef struct ops_ctx {
  char *token;
  web_server *srv;
} ops_ctx;

static void ops_free(void *user) {
  ops_ctx *c = user;
  mem_free(c->token);
  mem_free(c);
}

static void ops_handle(web_req *r, void *user) {
  ops_ctx *c = user;
  if (strcmp(r->method, "GET") != 0 && strcmp(r->method, "HEAD") != 0) {
    web__send_error(r, 405, "only GET");
    return;
  }
  if (strcmp(r->url, "/healthz") == 0)
    web__ops_healthz(r);
  else if (strcmp(r->url, "/readyz") == 0)
    web__ops_readyz(r);
  else if (strcmp(r->url, "/metrics") == 0)
    web__ops_metrics(r, c->token);
  else
    web__send(r, 404, "text/plain; charset=utf-8", "not found\n", 10, false, NULL);
}

int web_ops_start(const char *listen, const char *metrics_token, web_server **out) {
  *out = NULL;
  ops_ctx *c = xcalloc(1, sizeof *c);
  c->token = metrics_token ? xstrdup(metrics_token) : NULL;
  web_http_opts o = {
      .listen = listen, .handler = ops_handle, .user = c, .free_user = ops_free, .threads = false};
  int rc = web__http_start(&o, &c->srv);
  if (rc) {
    mem_free(c->token);
    mem_free(c);
    return rc;
  }
  char host[256];
  int port;
  bool loop;
  if (web__addr_parse(listen, host, sizeof host, &port, &loop)) err_clear();
  LOG_I("web", "serving /healthz /readyz /metrics on http://%s%s%s:%d",
        strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", web_server_port(c->srv));
  *out = c->srv;
  return 0;
}

/* ---- the dashboard's view of the bot's /metrics ---- */

int web__http_get_local(int port, const char *path, char *out, size_t cap, int timeout_ms) {
  out[0] = 0;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return err_set(MIMIC_EIO, "socket: %s", strerror(errno));
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int rc = MIMIC_ENET;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    rc = err_set(MIMIC_ENET, "the bot's endpoint on port %d does not answer", port);
    goto out;
  }
  char req[512];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1:%d\r\n\r\n", path, port);
  if (write(fd, req, (size_t)n) != n) {
    rc = err_set(MIMIC_ENET, "cannot ask the bot's endpoint");
    goto out;
  }
  size_t got = 0;
  for (;;) {
    struct pollfd pf = {.fd = fd, .events = POLLIN};
    int pr = poll(&pf, 1, timeout_ms);
    if (pr < 0 && errno == EINTR) continue;
    if (pr <= 0) {
      rc = err_set(MIMIC_ETIMEOUT, "the bot's endpoint did not answer in time");
      goto out;
    }
    ssize_t k = read(fd, out + got, cap - 1 - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
    if (got == cap - 1) break;
  }
  out[got] = 0;
  int status = 0;
  if (sscanf(out, "HTTP/%*d.%*d %d", &status) != 1) {
    rc = err_set(MIMIC_EPROTO, "the bot's endpoint answered something that is not HTTP");
    goto out;
  }
  char *body = strstr(out, "\r\n\r\n");
  if (body) memmove(out, body + 4, strlen(body + 4) + 1);
  rc = status;
out:
  close(fd);
  return rc;
}

double web__prom_value(const char *page, const char *name, const char *label_value, char *label_out,
                       size_t cap) {
  size_t nl = strlen(name);
  for (const char *p = page; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
    if (*p == '#' || strncmp(p, name, nl) != 0 || (p[nl] != '{' && p[nl] != ' ')) continue;
    const char *end = strchr(p, '\n');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    char line[1024];
    if (len >= sizeof line) continue;
    memcpy(line, p, len);
    line[len] = 0;
    char lv[256] = "";
    if (line[nl] == '{') {
      const char *q = strchr(line + nl, '"');
      const char *qe = q ? strchr(q + 1, '"') : NULL;
      if (q && qe && (size_t)(qe - q - 1) < sizeof lv) {
        memcpy(lv, q + 1, (size_t)(qe - q - 1));
        lv[qe - q - 1] = 0;
      }
    }
    if (label_value && strcmp(lv, label_value) != 0) continue;
    const char *sp = strrchr(line, ' ');
    if (!sp) continue;
    if (label_out) str_lcpy(label_out, lv, cap);
    return strtod(sp + 1, NULL);
  }
  return NAN;
}
