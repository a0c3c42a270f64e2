/* Internals shared by the web layer's files. Not public.
 *
 * The files form a stack, bottom first (each calls only the ones beneath it):
 *   ring.c        the bot's output lines and the dashboard's notices, numbered, for SSE
 *   supervisor.c  the bot as a child process: start, graceful stop, kill, restart with backoff
 *   http.c        the libmicrohttpd server: listening, request bodies, responses with the security
 *                 headers, the client's address; dispatches to a handler set by the layer above
 *   auth.c        the password (Argon2id), sessions in cookies, login throttling
 *   csrf.c        the per-session CSRF token and its check
 *   static.c      files under the assets folder and Debian's /usr/share/javascript
 *   sse.c         the Server-Sent Events stream of the ring
 *   ops.c         /healthz, /readyz, /metrics (process gauges, the registry, the child's page)
 *   conf.c        edits of the config file (the settings page)
 *   api.c         the JSON API behind the pages (sessions, CSRF, the bot, logs, statistics, live
 *                 settings, jobs, privacy, settings)
 *   setup.c       the first run: `mimic setup` as a job with the token the page sends
 *   content.c     the API of the personas, lore and schedule pages (the store's public headers;
 *                 changes that the CLI makes run as `mimic ...` jobs through api.c)
 *   dashboard.c   the route table, web_dashboard_run */
#ifndef MIMIC_WEB_WEB_INT_H
#define MIMIC_WEB_WEB_INT_H
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/base.h"
#include "store/store.h"
#include "web/web.h"

#define WEB_BODY_MAX        (256 * 1024)         /* bytes of a request body */
#define WEB_UPLOAD_MAX      (32 * 1024 * 1024)   /* bytes of an upload (a card, a lore file) */
#define WEB_RING_LINES      4000                 /* lines of bot output kept for the log page */
#define WEB_LINE_MAX        2048                 /* bytes kept of one output line */
#define WEB_SESSIONS_MAX    64                   /* live sessions; the oldest is dropped past it */
#define WEB_SESSION_TTL_MS  (12LL * 3600 * 1000) /* idle sessions expire */
#define WEB_SESSION_LIFE_MS (7LL * 24 * 3600 * 1000) /* and any session a week after its login */
#define WEB_ID_HEX          64 /* hex digits of a session id or CSRF token (32 bytes) */

/* ---- ring.c ---- */
typedef enum { WEB_LINE_LOG = 0, WEB_LINE_NOTICE } web_line_kind;
typedef struct web_ring web_ring;
web_ring *web__ring_new(void);
void web__ring_destroy(web_ring *r);
/* Appends a line (copied, capped at WEB_LINE_MAX, invalid UTF-8 replaced) and wakes the readers. */
void web__ring_push(web_ring *r, web_line_kind kind, const char *line, size_t n);
/* Copies the first line numbered > after into out (cap bytes), with its number and kind; waits up
 * to wait_ms for one. Returns 1 when a line was copied, 0 on timeout, -1 once closed. Lines pushed
 * out of the ring are skipped (their numbers are gone). */
int web__ring_next(web_ring *r, uint64_t after, uint64_t *seq, web_line_kind *kind, char *out,
                   size_t cap, int wait_ms);
/* The number of the newest line (0 when none). */
uint64_t web__ring_last(web_ring *r);
/* Wakes every reader for good (shutdown). */
void web__ring_close(web_ring *r);

/* ---- supervisor.c ---- */
typedef enum {
  WEB_BOT_STOPPED = 0,
  WEB_BOT_STARTING,
  WEB_BOT_RUNNING,
  WEB_BOT_STOPPING,
  WEB_BOT_BACKOFF,
  WEB_BOT_ERROR
} web_bot_state;
typedef struct web_sup web_sup;
typedef struct web_sup_status {
  web_bot_state state;
  pid_t pid;
  int64_t started_ms;    /* wall clock when the child started (0: none) */
  int restarts;          /* crashes restarted in a row */
  int64_t next_start_ms; /* BACKOFF: when the next try is due */
  int last_exit;         /* last exit status (-signal when killed) */
  char last_error[256];  /* why it last stopped unexpectedly ("" if it did not) */
  int ops_port;          /* the child's /metrics port (0: not known yet) */
} web_sup_status;
/* A supervisor running exe with args (copied, NULL-terminated) and extra environment entries
 * ("K=V", NULL-terminated; may be NULL). The child's stdout and stderr go to ring line by line. */
web_sup *web__sup_new(const char *exe, char *const *args, char *const *env, web_ring *ring,
                      int stop_timeout_s);
/* Stops the child (gracefully, as web__sup_stop) and frees. */
void web__sup_destroy(web_sup *s);
int web__sup_start(web_sup *s) MIMIC_MUST; /* MIMIC_EBUSY when already running */
/* SIGTERM, then SIGKILL after the stop timeout (on the supervisor's thread; returns at once). */
int web__sup_stop(web_sup *s) MIMIC_MUST;
int web__sup_restart(web_sup *s) MIMIC_MUST;
/* Sends a signal to the running child (SIGHUP: reload live settings). MIMIC_ENOTFOUND when none. */
int web__sup_signal(web_sup *s, int sig) MIMIC_MUST;
void web__sup_status(web_sup *s, web_sup_status *out);
const char *web__bot_state_name(web_bot_state st);
/* Runs `exe args...` as a job child whose output goes to ring; calls done(user, exit status) on
 * the supervisor's thread when it ends. Returns its pid or a negative code. */
typedef void (*web_job_done_fn)(void *user, pid_t pid, int status);
pid_t web__sup_spawn_job(web_sup *s, char *const *args, char *const *env, web_job_done_fn done,
                         void *user);

/* ---- http.c ---- */
/* Whether url takes an upload (a body up to WEB_UPLOAD_MAX): /api/personas/import, /api/lore/upload
 * (query string included or not). */
bool web__upload_url(const char *url);
typedef struct web_req web_req;
typedef struct web_server web_server;
struct MHD_Connection;
struct MHD_Response;
/* The request as the handlers see it. */
struct web_req {
  web_server *srv;
  struct MHD_Connection *conn;
  const char *method, *url;
  char *body; /* NUL-terminated; "" when none */
  size_t body_len;
  bool loopback; /* the client is on 127.0.0.0/8 or ::1 */
  bool answered;
  void *session; /* set by auth once checked */
};
typedef void (*web_handler_fn)(web_req *r, void *user);
typedef struct web_http_opts {
  const char *listen;
  const char *tls_cert_pem, *tls_key_pem; /* both or neither: PEM text (borrowed for the call) */
  web_handler_fn handler;
  /* Whether a request to an upload URL may send a body up to WEB_UPLOAD_MAX; asked with its
   * headers, before the body (req.body is ""). NULL: always. Otherwise the body is dropped. */
  bool (*upload_ok)(web_req *r, void *user);
  void *user;
  void (*free_user)(void *user); /* called by web_server_stop (may be NULL) */
  bool threads; /* one thread per connection (long SSE responses); else one polling thread */
} web_http_opts;
int web__http_start(const web_http_opts *o, web_server **out) MIMIC_MUST;
bool web__http_tls(const web_server *s);
/* Parses "host:port" into a printable host and port; loopback says whether it is 127/8 or ::1. */
int web__addr_parse(const char *listen, char *host, size_t cap, int *port,
                    bool *loopback) MIMIC_MUST;
const char *web__header(web_req *r, const char *name);
/* The client's address as text ("127.0.0.1"). */
void web__client(web_req *r, char *out, size_t cap);
const char *web__cookie(web_req *r, const char *name);
const char *web__query(web_req *r, const char *name);
/* Sends a response with the security headers (CSP, nosniff, frame-ancestors, no-referrer,
 * no-store unless cacheable). extra_headers: "Name", "value" pairs, NULL-terminated (may be NULL).
 */
void web__send(web_req *r, int status, const char *ctype, const void *data, size_t n,
               bool cacheable, const char *const *extra_headers);
void web__send_json(web_req *r, int status, json_t *v); /* takes ownership of v */
void web__send_error(web_req *r, int status, const char *message);
void web__redirect(web_req *r, const char *location);
/* Queues a prepared MHD response with the security headers (takes ownership). */
void web__send_response(web_req *r, int status, struct MHD_Response *resp, bool cacheable);

/* ---- auth.c ---- */
typedef struct web_auth web_auth;
web_auth *web__auth_new(void);
void web__auth_destroy(web_auth *a);
/* Checks the password against the stored hash (db locked by the caller). Throttled per client
 * address: after 5 failures a client waits 2^(n-5) s (capped at 15 min); after 20 failures in a
 * row from anyone every login waits 2^(n-20) s (capped at 1 min); one check at a time per client
 * and two overall (else MIMIC_EBUSY, retry in 1 s). *retry_s says how long when refused. Returns 0
 * (new session id in sid, CSRF token in csrf), MIMIC_EAUTH (wrong), MIMIC_EBUSY (throttled),
 * MIMIC_ENOTFOUND (no password set). */
int web__auth_login(web_auth *a, store *db, pthread_mutex_t *db_mu, const char *client,
                    const char *password, char sid[WEB_ID_HEX + 1], char csrf[WEB_ID_HEX + 1],
                    int *retry_s) MIMIC_MUST;
/* The session named by the request's cookie (refreshed), with its CSRF token copied; false when
 * none or expired. */
bool web__auth_session(web_auth *a, web_req *r, char csrf[WEB_ID_HEX + 1]);
void web__auth_logout(web_auth *a, web_req *r);
/* Reads the stored password hash; when it differs from the one seen last time (`mimic dashboard
 * passwd` while the dashboard runs), every session ends. The dashboard calls it every few seconds.
 */
void web__auth_watch_password(web_auth *a, store *db, pthread_mutex_t *db_mu);
/* The Set-Cookie value for sid (secure adds Secure); an empty sid clears the cookie. */
void web__auth_cookie(const char *sid, bool secure, char *out, size_t cap);
/* Fills out with n random bytes as hex (2n+1 bytes), from getrandom. */
int web__random_hex(char *out, size_t n_bytes) MIMIC_MUST;
/* Constant-time equality of two NUL-terminated strings. */
bool web__secure_eq(const char *a, const char *b);
/* The password hash's helpers (auth.c), for web_password_set. */
int web__hash_password(const char *password, char *out, size_t cap) MIMIC_MUST;

/* ---- csrf.c ---- */
/* Whether a state-changing request carries the session's token (X-CSRF-Token) and a same-origin
 * Origin header when one is sent. Answers 403 itself and returns false otherwise. */
bool web__csrf_ok(web_req *r, const char *csrf);

/* ---- static.c ---- */
/* Finds the assets folder: dir when given, else $MIMIC_WEB_ASSETS, <exe dir>/../web/static,
 * <exe dir>/../share/mimic/web, /usr/share/mimic/web. Returns a copy (caller frees) or NULL. */
char *web__assets_find(const char *dir, const char *self_exe);
/* Serves path (the URL without its /static or /vendor prefix) from root, refusing any segment that
 * is not a plain name ("..", hidden files) and, when confine, a real path (symlinks resolved)
 * outside root. 404 when missing. */
void web__static_serve(web_req *r, const char *root, const char *path, bool confine);

/* ---- sse.c ---- */
/* Streams ring lines after `after` (Last-Event-ID or ?after=) as Server-Sent Events: "log" and
 * "notice" events whose id is the line number, a comment every 15 s to keep proxies open. */
void web__sse_serve(web_req *r, web_ring *ring, uint64_t after);

/* ---- ops.c ---- */
/* Process gauges (RSS, CPU seconds, threads, start time) set into the registry. */
void web__ops_process_gauges(void);
/* /healthz, /readyz and /metrics of this process; metrics beyond loopback need the token. */
void web__ops_healthz(web_req *r);
void web__ops_readyz(web_req *r);
void web__ops_metrics(web_req *r, const char *token);
/* GETs http://127.0.0.1:port/path into out (cap, NUL-terminated), waiting at most timeout_ms.
 * Returns the HTTP status or a negative code. */
int web__http_get_local(int port, const char *path, char *out, size_t cap, int timeout_ms);
/* The value of a sample line "name{...} v" or "name v" in a Prometheus page (first match; with
 * label_value, the series whose only label has that value); NAN when absent. With label_out, copies
 * the first series' label value. */
double web__prom_value(const char *page, const char *name, const char *label_value, char *label_out,
                       size_t cap);

/* ---- conf.c ---- */
/* Sets key = value in the config file at path, keeping every other line (comments included): the
 * key's line is replaced, or a "[section]" block is appended. The edited file must load (else the
 * old one is kept and the load's error returned). value may not hold a newline or '"'.
 * Errors: MIMIC_EINVAL, MIMIC_EIO. */
int web__conf_set(const char *path, const char *key, const char *value) MIMIC_MUST;

/* ---- api.c ---- */
/* What the dashboard's handlers share. */
typedef struct web_dash {
  cfg *config;       /* borrowed; read-only after start */
  char *config_path; /* NULL: none */
  char *self_exe, *assets;
  store *db; /* the dashboard's connection, under db_mu */
  pthread_mutex_t db_mu;
  web_auth *auth;
  web_ring *ring;
  web_sup *sup;
  bool tls;
  int64_t started_ms;
} web_dash;
/* Handles /api/... (path without "/api"); session is whether the request is logged in and csrf its
 * token. Answers 401 itself for a missing session where one is needed, 403 for a change without
 * the CSRF token. Returns false, without answering, for a path it does not know (content.c's,
 * or none). */
bool web__api(web_dash *d, web_req *r, const char *path, bool session, const char *csrf);
/* The job-ended callback of the supervisor (records the end in the jobs table). */
void web__api_job_done(void *user, pid_t pid, int status);
/* Runs `mimic CMD...` (argv NULL-terminated, argv[0] "mimic"; the caller adds --config) as a job
 * recorded in the jobs table under kind, with extra environment entries env ("K=V", may be NULL);
 * its end is recorded, shown as a notice, and, with poke, the running bot is sent SIGHUP. Returns 0
 * with *id set, or a negative code with a sentence. */
int web__api_run_job(web_dash *d, const char *kind, char *const *argv, char *const *env, bool poke,
                     int64_t *id) MIMIC_MUST;
/* Sends {"ok":true,"message":...} / the error message of err_msg() with status (and clears it). */
void web__api_ok(web_req *r, const char *message);
void web__api_fail(web_req *r, int status);
/* The request body as a JSON object (400 answered and NULL when it is not one). */
json_t *web__api_body(web_req *r);

/* ---- setup.c ---- */
/* Whether the bot would find a token: the config file as it is now (re-read: the first run rewrites
 * it) with the environment over it (DISCORD_TOKEN, discord.token_file). */
bool web__setup_token_set(web_dash *d);
/* Handles the first run's API (/setup); returns false when path is not its. Only after web__api
 * returned false: the session and CSRF token are checked. */
bool web__setup_api(web_dash *d, web_req *r, const char *path, bool get, bool post);

/* ---- content.c ---- */
/* Handles the personas, lore and schedule API (path without "/api"); returns false when path is
 * none of theirs. Only after web__api returned false: the session and CSRF token are checked. */
bool web__content_api(web_dash *d, web_req *r, const char *path, bool get, bool post);

#endif
