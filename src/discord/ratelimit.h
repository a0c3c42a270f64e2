/* Discord REST rate limiting as pure logic: no I/O, no clock of its own (every call takes `now` in
 * monotonic milliseconds), so the whole model is unit-testable. It decides whether a request may be
 * sent now and learns from response headers; the REST client (rest.c) does the sending and
 * queueing. The model and its decisions are described in docs/internals/ratelimits.md.
 *
 * Thread-safety: none; one rl belongs to the I/O loop thread. */
#ifndef MIMIC_DISCORD_RATELIMIT_H
#define MIMIC_DISCORD_RATELIMIT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define RL_ROUTE_MAX  256 /* longest route template / display string, including the NUL */
#define RL_MAJOR_MAX  96  /* longest major-parameter string, including the NUL */
#define RL_BUCKET_MAX 64  /* longest X-RateLimit-Bucket id kept, including the NUL */

/* rl_acquire's answer when the request must wait for an in-flight request on the same bucket to
 * finish (first request on a route whose limits are not known yet, or a bucket whose remaining
 * requests are all in flight). The caller re-asks after any response arrives. */
#define RL_WAIT_RESPONSE INT64_MAX

/* A request's route, split the way Discord's limits are: `tmpl` is the method and the path with
 * every id replaced ("POST /channels/{channel_id}/messages/{id}"), `major` holds the top-level
 * resource the limit is scoped to ("channel_id=123", "guild_id=4", "webhook_id=5/3f2a9c1e" where
 * the suffix is a hash of the webhook token, "interaction_id=6", or "" for unscoped routes),
 * `display` is the method and path without query and with every token replaced by {token}: safe to
 * log. */
typedef struct rl_route {
  char tmpl[RL_ROUTE_MAX];
  char major[RL_MAJOR_MAX];
  char display[RL_ROUTE_MAX];
  bool global_exempt; /* interaction callbacks are not bound by the global limit */
} rl_route;

/* Parses method ("GET") and path ("/channels/1/messages?limit=100", relative to the API base).
 * Returns 0, or MIMIC_EINVAL (path not starting with '/', or a route longer than the caps). */
int rl_route_parse(const char *method, const char *path, rl_route *out) MIMIC_MUST;

typedef enum { RL_SCOPE_NONE = 0, RL_SCOPE_USER, RL_SCOPE_GLOBAL, RL_SCOPE_SHARED } rl_scope;

/* The rate-limit facts of one response. Fields are set only when the header was present and valid.
 */
typedef struct rl_headers {
  bool has_limit, has_remaining, has_reset_after, has_retry_after;
  bool global; /* X-RateLimit-Global: true (429 only) */
  int64_t limit, remaining;
  uint64_t reset_after_ms; /* X-RateLimit-Reset-After, rounded up to ms */
  uint64_t retry_after_ms; /* Retry-After header (seconds), or the body's retry_after (rest.c) */
  rl_scope scope;          /* X-RateLimit-Scope */
  char bucket[RL_BUCKET_MAX];
  int malformed; /* count of rate-limit headers present but unparseable (ignored) */
} rl_headers;

void rl_headers_init(rl_headers *h);
/* Feeds one raw header line ("X-RateLimit-Remaining: 4\r\n", not necessarily NUL-terminated).
 * Lines that are not rate-limit headers are ignored; a rate-limit header with a malformed or
 * out-of-range value is ignored and counted in h->malformed. Never fails, never reads past n. */
void rl_headers_parse_line(rl_headers *h, const char *line, size_t n);

typedef struct rl_opts {
  int global_limit;           /* requests per global window (Discord: 50 per second) */
  uint64_t global_window_ms;  /* 1000: counted from the answer of the request limit places back */
  int invalid_stop;           /* stop sending once this many invalid requests in the window
                                 (default 8000, well under Cloudflare's 10,000) */
  uint64_t invalid_window_ms; /* 600000 (10 minutes) */
  size_t max_buckets;         /* idle buckets are evicted past this many (default 20000) */
} rl_opts;

/* Fills the defaults above. */
void rl_opts_default(rl_opts *o);

typedef struct rl rl;
typedef struct rl_bucket rl_bucket;

/* A reservation: which bucket and which global slot it was counted against. Held by value by the
 * caller between rl_acquire and rl_complete/rl_release. */
typedef struct rl_ticket {
  rl_bucket *bucket;
  int gslot; /* its slot in the global window, -1 when exempt */
  uint32_t gseq;
} rl_ticket;

/* Creates a limiter (o NULL = defaults). Never NULL (allocation failure aborts: tiny fixed size).
 */
rl *rl_new(const rl_opts *o);
void rl_destroy(rl *r); /* accepts NULL */

/* May a request on this route be sent at now_ms? Returns 0 and reserves a slot (global and bucket)
 * storing the ticket in *ticket, which must later be given to exactly one of rl_complete or
 * rl_release. Otherwise returns the milliseconds to wait before asking again (> 0), or
 * RL_WAIT_RESPONSE; nothing is reserved then. Never schedules into a bucket known to be empty. */
int64_t rl_acquire(rl *r, const rl_route *rt, uint64_t now_ms, rl_ticket *ticket);

/* A response arrived for a reserved request: learns the bucket id, limit, remaining and reset from
 * h, applies a 429 (scope user/shared: the bucket waits retry_after; global: every request waits),
 * and counts 401/403/429 (except shared-scope 429s) as invalid requests. */
void rl_complete(rl *r, const rl_ticket *ticket, const rl_route *rt, int status,
                 const rl_headers *h, uint64_t now_ms);

/* A reserved request got no response (network error, cancelled): frees its bucket slot. Its
 * global slot stays counted (the request may have reached Discord) as if answered at now_ms. */
void rl_release(rl *r, const rl_ticket *ticket, uint64_t now_ms);

/* Counters for logs, /metrics and tests. */
typedef struct rl_stats {
  uint64_t acquired; /* reservations granted */
  uint64_t waits;    /* rl_acquire answers that said wait */
  uint64_t r429;     /* 429 responses seen (any scope) */
  uint64_t r429_shared;
  uint64_t invalid_total;
  int invalid_window; /* invalid requests inside the current window */
  size_t buckets;     /* buckets held */
} rl_stats;
void rl_stats_get(rl *r, uint64_t now_ms, rl_stats *out);

#endif
