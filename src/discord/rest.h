/* The Discord REST client: asynchronous HTTP on a libuv loop through libcurl's multi-socket API,
 * every request passed through the rate limiter (ratelimit.h) and queued until it may be sent,
 * retried on 429 and 5xx, and answered through one callback with the parsed JSON or an error.
 * It speaks HTTP and JSON for the rest of the discord layer (api.h builds the typed calls); the bot
 * layer never sees it. It is not a general HTTP client: it only talks to one Discord API base URL.
 *
 * Thread-safety: a rest object belongs to the thread running its loop; call it only from there.
 * Secrets: the token is sent only in the Authorization header; it never appears in a log line or an
 * error message, and neither do webhook or interaction tokens in paths (see rl_route.display). */
#ifndef MIMIC_DISCORD_REST_H
#define MIMIC_DISCORD_REST_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/config.h"
#include "base/err.h"
#include "discord/ratelimit.h"

#define REST_BODY_MAX_DEFAULT                                                                      \
  (8u << 20) /* cap on a response body (a 100-message page is ~1 MiB)                              \
              */
#define REST_URL_MAX 2048

typedef struct rest_opts {
  const char *base_url;    /* "https://discord.com/api/v10" (no trailing slash needed); copied */
  const char *token;       /* bot token, copied; NULL or "" sends no Authorization header */
  const char *ua_url;      /* URL shown in "User-Agent: DiscordBot (URL, version)"; copied */
  long timeout_ms;         /* one attempt, end to end (default 15000) */
  long connect_timeout_ms; /* default 5000 */
  size_t body_max;         /* response body cap (default REST_BODY_MAX_DEFAULT) */
  int max_retries;         /* retries after 5xx or a network failure (default 3) */
  int max_429;             /* retries after 429 per request (default 10) */
  uint64_t backoff_ms;     /* first retry delay after a 5xx, doubled each time (default 500) */
  size_t queue_max;        /* queued requests before rest_request answers MIMIC_EBUSY (10000) */
  rl_opts rl;              /* the limiter's settings (rl_opts_default) */
} rest_opts;

void rest_opts_default(rest_opts *o);

/* Fills o from the configuration (discord.api, discord.user_agent_url) and the given token
 * (borrowed: o points into c and token, which must outlive the rest_new call). Checks the base URL
 * with rest_base_url_check. Returns 0 or MIMIC_EINVAL. */
int rest_opts_from_cfg(const cfg *c, const char *token, rest_opts *o) MIMIC_MUST;

/* Accepts https:// URLs, and http:// only for a loopback host (127.0.0.0/8, [::1], localhost), so
 * the token never travels unencrypted off the machine. Returns 0 or MIMIC_EINVAL with a sentence
 * naming the problem. */
int rest_base_url_check(const char *url) MIMIC_MUST;

/* The outcome of one request, valid only during the callback (copy what you keep; json_incref the
 * JSON to hold it). On success err is 0 and json is the parsed body (NULL for 204 No Content). On
 * failure err is a MIMIC_E* code, message says what happened (never NULL then), and for HTTP errors
 * status is set, code is Discord's JSON error code (0 when the body had none) and json is the error
 * body when it was JSON. */
typedef struct rest_result {
  int err;
  int status;          /* HTTP status, 0 when no response arrived */
  int code;            /* Discord error code ("code" in the error body), 0 if none */
  const char *message; /* NULL on success */
  json_t *json;        /* borrowed */
  int attempts;        /* how many times it was sent */
} rest_result;

/* Called exactly once per accepted request, on the loop thread, never from inside rest_request.
 * It may start new requests. With err MIMIC_ECANCELLED when the client is destroyed first. */
typedef void (*rest_cb)(const rest_result *res, void *user);

typedef struct rest rest;

/* Creates a client on `loop`, or on a loop of its own when loop is NULL (then rest_call_sync can
 * drive it). Returns 0 and *out, or MIMIC_EINVAL (bad base URL) / MIMIC_ENET (curl setup failed).
 */
int rest_new(uv_loop_t *loop, const rest_opts *o, rest **out) MIMIC_MUST;

/* Cancels every queued and in-flight request (their callbacks run with MIMIC_ECANCELLED) and
 * releases the client. With a caller's loop, the last handles close asynchronously: run the loop
 * (uv_run) afterwards until it has nothing left to do. Never call it from inside a rest callback:
 * stop from a separate loop callback (a uv_async or timer). Accepts NULL. */
void rest_destroy(rest *r);

/* Queues `method path` (path relative to the base URL, starting with '/', query included) with an
 * optional JSON body (borrowed; serialised now). Returns 0 (cb will be called once), or an error
 * (cb will never be called): MIMIC_EINVAL (bad path), MIMIC_EBUSY (queue full), MIMIC_ECANCELLED
 * (client shutting down). */
int rest_request(rest *r, const char *method, const char *path, const json_t *body, rest_cb cb,
                 void *user) MIMIC_MUST;

/* A file uploaded with a request (multipart/form-data: the JSON body goes as "payload_json", each
 * file as "files[i]", which the body's "attachments" array refers to by index). */
typedef struct rest_file {
  const char *name;         /* file name shown in Discord: 1-255 bytes, no '/', '\\', '"', CR, LF */
  const char *content_type; /* NULL or "": application/octet-stream */
  const void *data;
  size_t size;
} rest_file;

#define REST_FILES_MAX  10          /* files per message (Discord's limit) */
#define REST_UPLOAD_MAX (25u << 20) /* bytes per request, all files together */

/* rest_request with files: every file is copied now, so the caller's buffers may go at once. A
 * retry sends the same form again. Errors as rest_request, plus MIMIC_EINVAL (more than
 * REST_FILES_MAX files, a bad name) and MIMIC_ERANGE (over REST_UPLOAD_MAX). n_files 0 is
 * rest_request. */
int rest_request_files(rest *r, const char *method, const char *path, const json_t *body,
                       const rest_file *files, size_t n_files, rest_cb cb, void *user) MIMIC_MUST;

/* Blocking convenience for command-line tools: sends one request on a client created with its own
 * loop (rest_new(NULL, ...)) and runs that loop until the answer. On success returns 0 and *out is
 * the body (caller json_decrefs; NULL for 204). On failure returns the error with err_msg() set.
 * status and code (optional) receive the HTTP status and Discord code either way. */
int rest_call_sync(rest *r, const char *method, const char *path, const json_t *body, json_t **out,
                   int *status, int *code) MIMIC_MUST;

/* The loop the client runs on. */
uv_loop_t *rest_loop(rest *r);

/* Requests queued and in flight. */
size_t rest_pending(const rest *r);

/* The limiter's counters. */
void rest_stats(rest *r, rl_stats *out);

#endif
