/* The Discord gateway client: the connection state machine (connect -> Hello -> Identify or Resume
 * -> READY -> dispatch), heartbeats with the initial jitter and ACK tracking (a missed ACK means a
 * zombie connection: close and resume), reconnect with backoff, op 7 / op 9, the close-code table
 * (fatal codes stop with one sentence telling the user what to fix), the outgoing rate limit
 * (120 per 60 s per connection, 4096-byte payloads) and the identify budget.
 *
 * Threads: the gateway lives on one libuv loop (the I/O loop) and does all its work there; it never
 * calls into the bot. Typed events (discord.h) are handed over through a bounded queue that any
 * thread may pop with gateway_next_event(), so a slow handler can never delay a heartbeat.
 * The state machine is described in docs/internals/gateway.md. */
#ifndef MIMIC_DISCORD_GATEWAY_H
#define MIMIC_DISCORD_GATEWAY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/err.h"
#include "discord/discord.h"

#define GATEWAY_VERSION           10
#define GATEWAY_SEND_MAX          4096  /* bytes per payload we send (larger: close 4002) */
#define GATEWAY_SEND_LIMIT        120   /* payloads per connection ... */
#define GATEWAY_SEND_WINDOW_MS    60000 /* ... per this window */
#define GATEWAY_HEARTBEAT_RESERVE 5     /* of the 120, kept for heartbeats */

/* session_start_limit from GET /gateway/bot. total == 0 means unknown (assume 1000 left). */
typedef struct gateway_session_limit {
  int total;
  int remaining;
  int64_t reset_after_ms;
  int max_concurrency; /* identifies allowed per 5 s; 0 means 1 */
} gateway_session_limit;

typedef struct gateway_options {
  const char *url;   /* gateway URL from GET /gateway/bot, e.g. "wss://gateway.discord.gg";
                        any query is replaced by ?v=10&encoding=json[&compress=zlib-stream] */
  const char *token; /* opaque bot token; copied, registered as a log secret, never logged */
  uint32_t intents;
  int shard_id;
  int shard_count;      /* 0: send no shard field */
  bool compress;        /* zlib-stream transport compression */
  const char *status;   /* presence: "online", "idle", "dnd", "invisible"; NULL: online */
  const char *activity; /* custom status text; NULL or "": none */
  gateway_session_limit limit;
  /* Tuning; 0 takes the default. Tests shorten these. */
  unsigned backoff_base_ms;        /* 1000: first retry after a failed connection */
  unsigned backoff_max_ms;         /* 60000 */
  unsigned identify_window_ms;     /* 5000: max_concurrency identifies per window */
  unsigned hello_timeout_ms;       /* 20000 */
  unsigned invalid_session_min_ms; /* 1000: wait after op 9 before identifying again ... */
  unsigned invalid_session_max_ms; /* 5000: ... drawn at random in [min, max] */
  unsigned connect_timeout_ms;     /* 15000: TCP + TLS + upgrade */
  size_t max_frame;                /* WS_FRAME_MAX */
  size_t max_message;              /* WS_MESSAGE_MAX */
  size_t max_inflate;              /* ZSTREAM_OUT_MAX */
  size_t event_queue_cap;          /* 8192 events waiting for the bot */
  const char *ca_file;             /* extra trust anchors for wss:// (tests) */
  struct queue *events;            /* deliver into this queue (borrowed; the gateway closes it when
                                      it stops); NULL: the gateway makes and owns its own */
  /* Called on the loop thread after each event is queued and after the queue is closed, so a
   * consumer can wait on its own condition (events and other wake-ups together). NULL: none.
   * Must be quick and must not call into the gateway. */
  void (*notify)(void *notify_user);
  void *notify_user;
} gateway_options;

typedef enum gateway_state {
  GATEWAY_IDLE = 0,    /* created, not started */
  GATEWAY_CONNECTING,  /* TCP/TLS/upgrade in progress */
  GATEWAY_HELLO,       /* open, waiting for op 10 Hello */
  GATEWAY_IDENTIFYING, /* Identify sent, waiting for READY */
  GATEWAY_RESUMING,    /* Resume sent, waiting for RESUMED */
  GATEWAY_READY,       /* receiving dispatches */
  GATEWAY_BACKOFF,     /* disconnected, waiting to reconnect */
  GATEWAY_STOPPING,    /* closing on request */
  GATEWAY_STOPPED      /* done: fatal close code or stop; handles closed */
} gateway_state;

typedef struct gateway_stats {
  gateway_state state;
  int64_t seq;       /* last sequence number received */
  uint64_t connects; /* WebSocket connections opened (upgrade done) */
  uint64_t identifies;
  uint64_t resumes;
  uint64_t heartbeats;   /* sent */
  uint64_t acks;         /* received */
  uint64_t zombies;      /* connections closed for a missed ACK */
  uint64_t events;       /* typed events queued */
  uint64_t dropped;      /* typed events dropped: queue full */
  uint64_t malformed;    /* payloads that were not valid JSON or not gateway-shaped */
  uint64_t sent;         /* payloads sent */
  uint64_t send_delayed; /* payloads held back by the rate limiter */
  int64_t latency_ms;    /* last heartbeat -> ACK time, -1 before the first */
  int identify_remaining;
} gateway_stats;

typedef struct gateway gateway;

/* Creates a gateway bound to loop (handles are initialised on it; nothing connects yet).
 * Errors: MIMIC_EINVAL (no URL or token, bad shard numbers, unknown status), MIMIC_ENOMEM.
 * Call from the loop's thread (or before the loop runs). */
int gateway_new(uv_loop_t *loop, const gateway_options *opt, gateway **out) MIMIC_MUST;

/* Starts connecting. Loop thread only. Errors: MIMIC_EINVAL when already started. */
int gateway_start(gateway *gw) MIMIC_MUST;

/* Asks the gateway to close (code 1000: the session ends and the bot goes offline) and release
 * its handles; a STOPPED event (fatal = false) is queued last. Any thread; returns at once. */
void gateway_stop(gateway *gw);

/* Pops the next typed event, waiting at most timeout_ms (< 0: forever). NULL on timeout, or once
 * the gateway has stopped and every event was taken. Caller frees with discord_event_free.
 * Any thread. */
discord_event *gateway_next_event(gateway *gw, long timeout_ms);

/* Changes the presence (op 3), or the one sent with the next Identify when not connected.
 * status as in gateway_options; activity NULL or "" clears it. Any thread. Errors: MIMIC_EINVAL. */
int gateway_update_presence(gateway *gw, const char *status, const char *activity) MIMIC_MUST;

/* A consistent snapshot of the counters. Any thread. */
gateway_stats gateway_get_stats(gateway *gw);

/* "READY", "BACKOFF", ... never NULL. */
const char *gateway_state_name(gateway_state s);

/* The sentence shown for a close code (fatal ones say what to fix in the Developer Portal or the
 * config), and whether Discord lets us reconnect after it. */
const char *gateway_close_text(int code, bool *reconnect);

/* Frees the gateway and any events still queued. Call on the loop's thread once the loop has
 * stopped running (after gateway_stop, or when never started): handles still open are closed and
 * the loop is run until they are. Accepts NULL. */
void gateway_destroy(gateway *gw);

#endif
