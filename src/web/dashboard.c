/* The dashboard (web.h): the route table over the API, the pages and the static files, and
 * web_dashboard_run, which checks the security rules before it listens (a password is set;
 * beyond loopback only with --allow-remote and TLS), starts the supervisor and waits for *stop.
 * Pages need a session (else a redirect to /login), the API answers 401 without one; the login
 * page, its script and style, /healthz, /readyz and /metrics are open (/metrics beyond loopback
 * needs web.metrics_token). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/metrics.h"
#include "web/web_int.h"

#define VENDOR_ROOT "/usr/share/javascript"

static const char *const pages[] = {"status",   "logs",     "stats",    "live",
                                    "personas", "lore",     "training", "schedule",
                                    "privacy",  "settings", "setup",    NULL};

typedef struct dash_srv {
  web_dash *d;
  char *metrics_token;
} dash_srv;

/* The dashboard's /readyz: the bot's own answer, or 503 when it is not running. */
static void dash_readyz(web_dash *d, web_req *r) {
  web_sup_status s;
  web__sup_status(d->sup, &s);
  char page[8192];
  int st = s.state == WEB_BOT_RUNNING && s.ops_port > 0
               ? web__http_get_local(s.ops_port, "/readyz", page, sizeof page, 1000)
               : 0;
  if (st <= 0) {
    err_clear();
    snprintf(page, sizeof page, "not ready: the bot is %s\n", web__bot_state_name(s.state));
    st = 503;
  }
  web__send(r, st == 200 ? 200 : 503, "text/plain; charset=utf-8", page, strlen(page), false, NULL);
}

/* The dashboard's /metrics: its own supervisor gauges, then the bot's page when it runs. */
static void dash_metrics(dash_srv *ds, web_req *r) {
  web_dash *d = ds->d;
  if (!r->loopback) {
    const char *auth = web__header(r, "Authorization");
    const char *tok = ds->metrics_token;
    if (!tok || !*tok || !auth || strncmp(auth, "Bearer ", 7) != 0 ||
        !web__secure_eq(auth + 7, tok)) {
      const char *h[] = {"WWW-Authenticate", "Bearer realm=\"mimic\"", NULL};
      web__send(r, 401, "text/plain; charset=utf-8", "bearer token required\n", 22, false, h);
      return;
    }
  }
  web_sup_status s;
  web__sup_status(d->sup, &s);
  metrics_gauge_set("mimic_dashboard_bot_running", "1 while the supervised bot runs.", NULL, NULL,
                    s.state == WEB_BOT_RUNNING);
  metrics_gauge_set("mimic_dashboard_bot_restarts", "Crash restarts in a row.", NULL, NULL,
                    s.restarts);
  buf b;
  buf_init(&b, 4 * 1024 * 1024);
  int rc = metrics_render(&b);
  if (!rc && s.state == WEB_BOT_RUNNING && s.ops_port > 0) {
    char *page = xalloc(2 * 1024 * 1024);
    if (web__http_get_local(s.ops_port, "/metrics", page, 2 * 1024 * 1024, 2000) == 200)
      rc = buf_puts(&b, page);
    err_clear();
    mem_free(page);
  }
  if (rc) {
    err_clear();
    web__send(r, 500, "text/plain", "metrics too large\n", 18, false, NULL);
  } else {
    web__send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len,
              false, NULL);
  }
  buf_free(&b);
}

static bool is_page(const char *name) {
  for (size_t i = 0; pages[i]; i++)
    if (strcmp(pages[i], name) == 0) return true;
  return false;
}

static void dash_handle(web_req *r, void *user) {
  dash_srv *ds = user;
  web_dash *d = ds->d;
  const char *u = r->url;
  bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
  char csrf[WEB_ID_HEX + 1] = "";
  bool session = web__auth_session(d->auth, r, csrf);

  if (strncmp(u, "/api/", 5) == 0) {
    bool post = strcmp(r->method, "POST") == 0;
    if (!web__api(d, r, u + 4, session, csrf) && !web__setup_api(d, r, u + 4, get, post) &&
        !web__content_api(d, r, u + 4, get, post))
      web__send_error(r, 404, "no such API");
    return;
  }
  if (!get) {
    web__send_error(r, 405, "only GET here");
    return;
  }
  if (strcmp(u, "/healthz") == 0) {
    web__ops_healthz(r);
  } else if (strcmp(u, "/readyz") == 0) {
    dash_readyz(d, r);
  } else if (strcmp(u, "/metrics") == 0) {
    dash_metrics(ds, r);
  } else if (strcmp(u, "/login") == 0) {
    web__static_serve(r, d->assets, "login.html", true);
  } else if (strncmp(u, "/static/js/", 11) == 0 || strncmp(u, "/static/css/", 12) == 0) {
    web__static_serve(r, d->assets, u + 8, true);
  } else if (strncmp(u, "/vendor/chart.js/", 17) == 0 ||
             strncmp(u, "/vendor/bootstrap5/", 19) == 0) {
    web__static_serve(r, VENDOR_ROOT, u + 8, false);
  } else if (!session) {
    web__redirect(r, "/login");
  } else if (strcmp(u, "/") == 0) {
    /* A new owner without a bot token lands on the first run. */
    web__redirect(r, web__setup_token_set(d) ? "/status" : "/setup");
  } else if (strncmp(u, "/reports/", 9) == 0) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/reports", cfg_str(d->config, CFG_DATA_DIR));
    web__static_serve(r, dir, u + 9, true);
  } else if (is_page(u + 1)) {
    char file[64];
    snprintf(file, sizeof file, "%s.html", u + 1);
    web__static_serve(r, d->assets, file, true);
  } else {
    web__send(r, 404, "text/plain; charset=utf-8", "not found\n", 10, false, NULL);
  }
}

/* An upload (up to WEB_UPLOAD_MAX bytes) is taken only from a session with its CSRF token. */
static bool dash_upload_ok(web_req *r, void *user) {
  dash_srv *ds = user;
  char csrf[WEB_ID_HEX + 1] = "";
  const char *tok = web__header(r, "X-CSRF-Token");
  bool ok = strcmp(r->method, "POST") == 0 && web__auth_session(ds->d->auth, r, csrf) && tok &&
            *csrf && web__secure_eq(tok, csrf);
  memset(csrf, 0, sizeof csrf);
  return ok;
}

static void dash_srv_free(void *user) {
  dash_srv *ds = user;
  mem_free(ds->metrics_token);
  mem_free(ds);
}

int web_dashboard_run(const web_dashboard_opts *o) {
  web_dash d;
  memset(&d, 0, sizeof d);
  d.config = o->config;
  d.started_ms = clock_wall_ms();
  pthread_mutex_init(&d.db_mu, NULL);
  char *cert = NULL, *key = NULL;
  web_server *srv = NULL;
  int rc;
  const char *listen = o->listen ? o->listen : cfg_str(o->config, CFG_DASHBOARD_LISTEN);
  const char *cert_path = o->tls_cert ? o->tls_cert : cfg_str(o->config, CFG_DASHBOARD_TLS_CERT);
  const char *key_path = o->tls_key ? o->tls_key : cfg_str(o->config, CFG_DASHBOARD_TLS_KEY);
  char host[256];
  int port;
  bool loopback;
  if ((rc = web__addr_parse(listen, host, sizeof host, &port, &loopback))) goto out;
  if (!*cert_path != !*key_path) {
    rc = err_set(MIMIC_EINVAL, "TLS needs both a certificate and a key (--tls-cert, --tls-key)");
    goto out;
  }
  bool tls = *cert_path != 0;
  if (!loopback && !o->allow_remote) {
    rc = err_set(MIMIC_EINVAL,
                 "%s is not a loopback address: the dashboard controls the bot's token and "
                 "people's data, so listening beyond this machine needs --allow-remote and TLS "
                 "(--tls-cert, --tls-key)",
                 listen);
    goto out;
  }
  if (!loopback && !tls) {
    rc =
        err_set(MIMIC_EINVAL, "listening beyond loopback needs TLS: give --tls-cert and --tls-key");
    goto out;
  }
  size_t n;
  if (tls && ((rc = fs_read_file(cert_path, 1 << 20, &cert, &n)) ||
              (rc = fs_read_file(key_path, 1 << 20, &key, &n))))
    goto out;
  const char *db_path = cfg_str(o->config, CFG_STORE_PATH);
  if ((rc = fs_mkdirs_for(db_path)) || (rc = store_open(db_path, &d.db))) goto out;
  if (!web_password_exists(d.db)) {
    rc =
        err_set(MIMIC_EAUTH, "no dashboard password yet: set one with `mimic dashboard passwd%s%s`",
                o->config_path ? " --config " : "", o->config_path ? o->config_path : "");
    goto out;
  }
  d.assets = web__assets_find(o->assets_dir, o->self_exe);
  if (!d.assets) {
    rc = err_set(MIMIC_ENOTFOUND,
                 "the dashboard's pages were not found (web/static beside the build, "
                 "/usr/share/mimic/web, or MIMIC_WEB_ASSETS)");
    goto out;
  }
  d.config_path = o->config_path ? xstrdup(o->config_path) : NULL;
  d.self_exe = xstrdup(o->self_exe ? o->self_exe : "/proc/self/exe");
  d.tls = tls;
  d.auth = web__auth_new();
  d.ring = web__ring_new();
  /* The bot: `mimic run` with the same config; its /metrics on a free loopback port unless the
   * config names one (the port is read from its log line). */
  char *args[5] = {"mimic", "run", NULL, NULL, NULL};
  if (d.config_path) {
    args[2] = "--config";
    args[3] = d.config_path;
  }
  char *env[2] = {NULL, NULL};
  if (!*cfg_str(o->config, CFG_WEB_LISTEN)) env[0] = "MIMIC_WEB_LISTEN=127.0.0.1:0";
  d.sup = web__sup_new(d.self_exe, args, env, d.ring,
                       (int)cfg_int(o->config, CFG_DASHBOARD_STOP_TIMEOUT_S));
  dash_srv *ds = xcalloc(1, sizeof *ds);
  ds->d = &d;
  const char *mt = cfg_str(o->config, CFG_WEB_METRICS_TOKEN);
  ds->metrics_token = *mt ? xstrdup(mt) : NULL;
  web_http_opts ho = {.listen = listen,
                      .tls_cert_pem = cert,
                      .tls_key_pem = key,
                      .handler = dash_handle,
                      .upload_ok = dash_upload_ok,
                      .user = ds,
                      .free_user = dash_srv_free,
                      .threads = true};
  if ((rc = web__http_start(&ho, &srv))) {
    dash_srv_free(ds);
    goto out;
  }
  LOG_I("web", "dashboard on %s://%s%s%s:%d/", tls ? "https" : "http", strchr(host, ':') ? "[" : "",
        host, strchr(host, ':') ? "]" : "", web_server_port(srv));
  if (cfg_bool(o->config, CFG_DASHBOARD_AUTOSTART) && web__sup_start(d.sup)) {
    LOG_W("web", "the bot did not start: %s", err_msg());
    err_clear();
  }
  web__auth_watch_password(d.auth, d.db, &d.db_mu);
  for (int tick = 1; !*o->stop; tick++) {
    clock_sleep_ms(200);
    if (tick % 10 == 0) web__auth_watch_password(d.auth, d.db, &d.db_mu); /* every 2 s */
  }
  LOG_I("web", "dashboard stopping; stopping the bot gracefully");
  rc = 0;
out:
  if (d.ring) web__ring_close(d.ring); /* ends the log streams, so the server can stop */
  web_server_stop(srv);
  if (d.sup) web__sup_destroy(d.sup); /* stops the bot: SIGTERM, SIGKILL after the timeout */
  web__ring_destroy(d.ring);
  web__auth_destroy(d.auth);
  store_close(d.db);
  pthread_mutex_destroy(&d.db_mu);
  mem_free(d.assets);
  mem_free(d.config_path);
  mem_free(d.self_exe);
  if (key) memset(key, 0, strlen(key));
  mem_free(cert);
  mem_free(key);
  return rc;
}
