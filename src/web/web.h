/* The web layer: the operational endpoints (/healthz, /readyz, /metrics) that `mimic run` serves
 * when web.listen is set, and the dashboard (`mimic dashboard`): an HTTP(S) server on
 * libmicrohttpd that serves the pages and their JSON API, and supervises the bot as a child
 * process (`mimic run`). It knows the bot only through the store, the child's output and the
 * child's own /metrics; it never links the bot. See docs/dashboard.md and docs/metrics.md. */
#ifndef MIMIC_WEB_WEB_H
#define MIMIC_WEB_WEB_H
#include <stdbool.h>

#include "base/base.h"
#include "store/store.h"

typedef struct web_server web_server;

/* Serves /healthz, /readyz and /metrics on listen ("host:port"; port 0 picks a free one) on a
 * thread of its own. Readiness is read from the metrics registry: the gauges
 * mimic_gateway_connected and mimic_model_loaded must both be 1. metrics_token (NULL: none) is the
 * bearer token /metrics asks of clients beyond loopback (without one they are refused). Logs
 * "web: serving /healthz /readyz /metrics on http://HOST:PORT", which the dashboard reads.
 * Errors: MIMIC_EINVAL (a bad address), MIMIC_EIO (the port cannot be bound). */
int web_ops_start(const char *listen, const char *metrics_token, web_server **out) MIMIC_MUST;
/* Stops a server and frees it. Accepts NULL. */
void web_server_stop(web_server *s);
/* The port a server listens on. */
int web_server_port(const web_server *s);

typedef struct web_dashboard_opts {
  cfg *config;             /* borrowed: the dashboard's and the bot's configuration */
  const char *config_path; /* passed to the bot and the jobs as --config; edited by the settings
                            * page (NULL: none; settings are then read-only) */
  const char *listen;      /* "host:port" (NULL: dashboard.listen) */
  const char *tls_cert, *tls_key; /* PEM files (NULL: dashboard.tls_cert / tls_key) */
  bool allow_remote;              /* may listen beyond loopback (TLS required) */
  const char *assets_dir; /* the pages and scripts (NULL: found beside the binary or installed) */
  const char *self_exe;   /* the mimic binary for the bot and jobs (NULL: /proc/self/exe) */
  volatile int *stop;     /* set non-zero (a signal) to stop the bot and return */
} web_dashboard_opts;

/* Runs the dashboard until *stop: serves the UI, starts the bot when dashboard.autostart, restarts
 * it when it crashes (backoff 1 s doubling to 5 min), and on return stops it gracefully (SIGTERM,
 * SIGKILL after dashboard.stop_timeout_s). Refuses to start without a password (set by `mimic
 * dashboard passwd`) and, beyond loopback, without allow_remote and TLS. Errors: MIMIC_EINVAL,
 * MIMIC_EAUTH, MIMIC_EIO, MIMIC_EDB, each with a sentence. */
int web_dashboard_run(const web_dashboard_opts *o) MIMIC_MUST;

/* Stores the dashboard's password as an Argon2id hash (the store's settings, scope "web").
 * Passwords shorter than WEB_PASSWORD_MIN bytes are refused (MIMIC_EINVAL). */
#define WEB_PASSWORD_MIN 10
int web_password_set(store *s, const char *password) MIMIC_MUST;
/* Whether a password has been set. */
bool web_password_exists(store *s);

#endif
