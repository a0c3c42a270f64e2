/* The gateway state machine (see gateway.h and docs/internals/gateway.md). Everything here runs on
 * the loop thread except gateway_stop, gateway_next_event, gateway_update_presence and
 * gateway_get_stats, which cross threads through a mutex, a uv_async wake-up and the event queue.
 */
#include "base/metrics.h"
#include "discord/gateway.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <string.h>

#include "discord/discord_int.h"
#include "discord/ws.h"
#include "discord/zstream.h"

#define SUB          "gateway"
#define OUTQ_MAX     8
#define STATUS_MAX   16
#define ACTIVITY_MAX 128
#define DAY_MS       (24ull * 3600 * 1000)
#define CLIENT_CLOSE 4000 /* "any code besides 1000 or 1001" keeps the session resumable */

/* ---- close codes ------------------------------------------------------------------------------
 */

typedef struct close_entry {
  int code;
  bool reconnect;
  const char *text;
} close_entry;

static const close_entry close_table[] = {
    {4000, true, "Discord reported an unknown error; reconnecting"},
    {4001, true, "Discord did not recognise an opcode mimic sent; reconnecting"},
    {4002, true, "Discord could not decode a payload mimic sent; reconnecting"},
    {4003, true, "Discord received a payload before Identify; reconnecting"},
    {4004, false,
     "Discord rejected the bot token (close code 4004, authentication failed): copy a "
     "fresh token from the Developer Portal (Applications > your app > Bot > Reset Token) "
     "into DISCORD_TOKEN or the file named by discord.token_file."},
    {4005, true, "Discord says the session was already identified; reconnecting"},
    {4007, true, "Discord rejected the resume sequence number; starting a new session"},
    {4008, true, "Discord rate-limited the gateway connection; reconnecting"},
    {4009, true, "the gateway session timed out; starting a new session"},
    {4010, false,
     "Discord says the shard is invalid (close code 4010): set discord.shard_id below "
     "discord.shard_count, or set discord.shard_count to 0 to use Discord's recommended count."},
    {4011, false,
     "Discord requires sharding for this bot (close code 4011): it is in too many servers "
     "for one connection, so set discord.shard_count to 0 (Discord's recommendation) or "
     "higher and run one mimic per shard."},
    {4012, false,
     "Discord rejected the gateway API version (close code 4012): this mimic speaks v10 and "
     "must be updated."},
    {4013, false,
     "Discord rejected the intents (close code 4013, invalid intents): discord.intents holds "
     "a bit that is not a gateway intent; go back to the default 38401."},
    {4014, false,
     "Discord refused a privileged intent (close code 4014, disallowed intents): in the "
     "Developer Portal open Applications > your app > Bot and enable MESSAGE CONTENT INTENT "
     "(and SERVER MEMBERS or PRESENCE INTENT if discord.intents asks for them), or remove "
     "those bits from discord.intents."},
};

const char *gateway_close_text(int code, bool *reconnect) {
  for (size_t i = 0; i < sizeof close_table / sizeof close_table[0]; i++)
    if (close_table[i].code == code) {
      if (reconnect) *reconnect = close_table[i].reconnect;
      return close_table[i].text;
    }
  /* 1000-range codes, codes Discord may add later, and drops without a code (1006): resume. */
  if (reconnect) *reconnect = true;
  return "the gateway connection ended; reconnecting";
}

const char *gateway_state_name(gateway_state s) {
  static const char *const n[] = {"IDLE",  "CONNECTING", "HELLO",    "IDENTIFYING", "RESUMING",
                                  "READY", "BACKOFF",    "STOPPING", "STOPPED"};
  return (unsigned)s < sizeof n / sizeof n[0] ? n[s] : "UNKNOWN";
}

/* ---- rate limiter (pure) ----------------------------------------------------------------------
 */

void gw__rl_reset(gw_ratelimit *r) { r->head = r->n = 0; }

static void rl_prune(gw_ratelimit *r, uint64_t now) {
  while (r->n && r->t[r->head] + GATEWAY_SEND_WINDOW_MS <= now) {
    r->head = (r->head + 1) % GATEWAY_SEND_LIMIT;
    r->n--;
  }
}

uint64_t gw__rl_wait(gw_ratelimit *r, uint64_t now, bool heartbeat) {
  rl_prune(r, now);
  size_t budget = heartbeat ? GATEWAY_SEND_LIMIT : GATEWAY_SEND_LIMIT - GATEWAY_HEARTBEAT_RESERVE;
  if (r->n < budget) return 0;
  /* The (n - budget)th oldest send must leave the window first. */
  uint64_t t = r->t[(r->head + (r->n - budget)) % GATEWAY_SEND_LIMIT];
  return t + GATEWAY_SEND_WINDOW_MS - now;
}

void gw__rl_record(gw_ratelimit *r, uint64_t now) {
  rl_prune(r, now);
  if (r->n == GATEWAY_SEND_LIMIT) { /* never happens when callers obey gw__rl_wait */
    r->head = (r->head + 1) % GATEWAY_SEND_LIMIT;
    r->n--;
  }
  r->t[(r->head + r->n) % GATEWAY_SEND_LIMIT] = now;
  r->n++;
}

/* ---- the gateway ------------------------------------------------------------------------------
 */

enum { ACT_NONE = 0, ACT_RESUME, ACT_IDENTIFY };

struct gateway {
  uv_loop_t *loop;
  char *base_url;
  char *token;
  uint32_t intents;
  int shard_id, shard_count;
  bool compress;
  char status[STATUS_MAX];
  char activity[ACTIVITY_MAX + 1];
  gateway_options o; /* tunables (pointers in it are not used after gateway_new) */
  char *ca_file;

  gateway_state state;
  bool started;
  ws_conn *ws;
  zstream *z;
  uv_timer_t hb_timer, retry_timer, send_timer;
  uv_async_t async;
  int handles_pending;
  bool handles_closing; /* guarded by mu */
  bool destroying;

  pthread_mutex_t mu; /* guards the requests below, handles_closing and st */
  bool stop_req, presence_req;
  char req_status[STATUS_MAX];
  char req_activity[ACTIVITY_MAX + 1];
  gateway_stats st;

  queue *events;
  bool own_events;

  /* session */
  char session_id[128];
  char resume_url[512];
  int64_t seq;
  bool has_seq;

  /* this connection */
  uint64_t hb_interval;
  bool ack_pending;
  uint64_t hb_sent_at;
  bool reached_ready;
  int action;            /* what to do when the connection ends (ACT_*; NONE: decide by code) */
  uint64_t action_delay; /* least wait before reconnecting for that action */
  bool action_exact;     /* reconnect after exactly action_delay (op 9), no failure backoff */
  unsigned failures;     /* consecutive connections that ended before READY/RESUMED */
  gw_ratelimit rl;
  char *outq[OUTQ_MAX];
  int outq_n;

  /* identify budget */
  int id_total, id_remaining;
  uint64_t id_reset_at;
  int max_conc;
  uint64_t id_times[16];
  int id_n;

  prng rng; /* jitter and backoff only, nothing secret */
};

static double rnd01(gateway *gw) { return prng_uniform(&gw->rng); }

static uint64_t now_ms(gateway *gw) { return uv_now(gw->loop); }

static void set_state(gateway *gw, gateway_state s) {
  if (gw->state == s) return;
  LOG_D(SUB, "state %s -> %s", gateway_state_name(gw->state), gateway_state_name(s));
  gw->state = s;
  metrics_gauge_set("mimic_gateway_connected", "1 while the gateway session is ready.", NULL, NULL,
                    s == GATEWAY_READY);
  pthread_mutex_lock(&gw->mu);
  gw->st.state = s;
  pthread_mutex_unlock(&gw->mu);
}

#define STAT_ADD(gw, field, v)                                                                     \
  do {                                                                                             \
    pthread_mutex_lock(&(gw)->mu);                                                                 \
    (gw)->st.field += (v);                                                                         \
    pthread_mutex_unlock(&(gw)->mu);                                                               \
  } while (0)

#define STAT_SET(gw, field, v)                                                                     \
  do {                                                                                             \
    pthread_mutex_lock(&(gw)->mu);                                                                 \
    (gw)->st.field = (v);                                                                          \
    pthread_mutex_unlock(&(gw)->mu);                                                               \
  } while (0)

static bool status_valid(const char *s) {
  return s && (strcmp(s, "online") == 0 || strcmp(s, "idle") == 0 || strcmp(s, "dnd") == 0 ||
               strcmp(s, "invisible") == 0);
}

static void activity_copy(char *dst, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n > ACTIVITY_MAX) n = utf8_floor(src, n, ACTIVITY_MAX);
  if (n) memcpy(dst, src, n);
  dst[n] = 0;
}

/* ---- events to the bot ------------------------------------------------------------------------
 */

static void push_event(gateway *gw, discord_event *ev) {
  if (queue_try_push(gw->events, ev) == 0) {
    STAT_ADD(gw, events, 1);
    if (gw->o.notify) gw->o.notify(gw->o.notify_user);
    return;
  }
  STAT_ADD(gw, dropped, 1);
  LOG_W(SUB, "the bot is not keeping up: dropped %s (seq %lld) because %zu events are waiting",
        discord_event_name(ev->type), (long long)ev->seq, queue_len(gw->events));
  discord_event_free(ev);
}

/* ---- stopping ---------------------------------------------------------------------------------
 */

static void on_handle_closed(uv_handle_t *h) {
  gateway *gw = h->data;
  gw->handles_pending--;
}

static void close_handles(gateway *gw) {
  pthread_mutex_lock(&gw->mu);
  bool already = gw->handles_closing;
  gw->handles_closing = true;
  pthread_mutex_unlock(&gw->mu);
  if (already) return;
  uv_handle_t *hs[] = {(uv_handle_t *)&gw->hb_timer, (uv_handle_t *)&gw->retry_timer,
                       (uv_handle_t *)&gw->send_timer, (uv_handle_t *)&gw->async};
  for (size_t i = 0; i < sizeof hs / sizeof hs[0]; i++) {
    gw->handles_pending++;
    uv_close(hs[i], on_handle_closed);
  }
}

/* Ends the gateway for good: queues STOPPED (last), closes the queue and every handle. */
static void finish(gateway *gw, bool fatal, int code, const char *msg) {
  if (gw->state == GATEWAY_STOPPED) return;
  set_state(gw, GATEWAY_STOPPED);
  if (fatal)
    LOG_E(SUB, "%s", msg);
  else
    LOG_I(SUB, "%s", msg);
  discord_event *ev = discord__event_stopped(code, fatal, msg);
  if (ev) {
    if (queue_try_push(gw->events, ev) != 0) {
      /* Full: make room by dropping the oldest event, so the consumer always learns we stopped. */
      discord_event_free(queue_try_pop(gw->events));
      STAT_ADD(gw, dropped, 1);
      if (queue_try_push(gw->events, ev) != 0) discord_event_free(ev);
    }
  }
  queue_close(gw->events);
  if (gw->o.notify) gw->o.notify(gw->o.notify_user);
  close_handles(gw);
}

/* ---- sending ----------------------------------------------------------------------------------
 */

static void on_send_timer(uv_timer_t *t);

static int send_raw(gateway *gw, const char *s, size_t n) {
  if (!gw->ws) return err_set(MIMIC_EIO, "the gateway is not connected");
  int rc = ws_conn_send(gw->ws, WS_OP_TEXT, s, n);
  if (rc) {
    LOG_W(SUB, "send failed: %s", err_msg());
    return rc;
  }
  gw__rl_record(&gw->rl, now_ms(gw));
  STAT_ADD(gw, sent, 1);
  return 0;
}

/* Serialises and sends payload (taking its reference) through the size cap and the rate limiter:
 * a payload over the limit waits in a short queue (never a heartbeat: those are reserved room). */
static int send_payload(gateway *gw, json_t *payload, bool heartbeat, const char *what) {
  char *s = jv_dump_compact(payload);
  json_decref(payload);
  if (!s) return err_set(MIMIC_ENOMEM, "out of memory serialising a gateway payload");
  size_t n = strlen(s);
  int rc = 0;
  if (n > GATEWAY_SEND_MAX) {
    rc = err_set(MIMIC_ERANGE, "%s payload of %zu bytes exceeds Discord's %d-byte limit; not sent",
                 what, n, GATEWAY_SEND_MAX);
    LOG_W(SUB, "%s", err_msg());
    free(s);
    return rc;
  }
  LOG_T(SUB, "send %s (%zu bytes)", what, n);
  uint64_t wait = gw__rl_wait(&gw->rl, now_ms(gw), heartbeat);
  if (wait == 0 && gw->outq_n == 0) {
    rc = send_raw(gw, s, n);
    free(s);
    return rc;
  }
  if (heartbeat) {
    free(s);
    return err_set(MIMIC_EBUSY, "heartbeat skipped: the send rate limit is exhausted");
  }
  if (gw->outq_n == OUTQ_MAX) {
    free(s);
    return err_set(MIMIC_EBUSY, "%s dropped: %d payloads already wait for the send rate limit",
                   what, OUTQ_MAX);
  }
  gw->outq[gw->outq_n++] = s;
  STAT_ADD(gw, send_delayed, 1);
  LOG_D(SUB, "%s held %llu ms by the send rate limit", what, (unsigned long long)wait);
  if (!uv_is_active((uv_handle_t *)&gw->send_timer))
    uv_timer_start(&gw->send_timer, on_send_timer, wait ? wait : 1, 0);
  return 0;
}

static void outq_clear(gateway *gw) {
  for (int i = 0; i < gw->outq_n; i++) free(gw->outq[i]);
  gw->outq_n = 0;
}

static void on_send_timer(uv_timer_t *t) {
  gateway *gw = t->data;
  while (gw->outq_n) {
    uint64_t wait = gw__rl_wait(&gw->rl, now_ms(gw), false);
    if (wait) {
      uv_timer_start(&gw->send_timer, on_send_timer, wait, 0);
      return;
    }
    char *s = gw->outq[0];
    memmove(gw->outq, gw->outq + 1, (size_t)(gw->outq_n - 1) * sizeof *gw->outq);
    gw->outq_n--;
    (void)send_raw(gw, s, strlen(s));
    free(s);
  }
}

static json_t *presence_json(const char *status, const char *activity) {
  json_t *acts = json_array();
  if (activity && *activity)
    json_array_append_new(
        acts, json_pack("{s:s, s:i, s:s}", "name", "Custom Status", "type", 4, "state", activity));
  return json_pack("{s:n, s:o, s:s, s:b}", "since", "activities", acts, "status", status, "afk", 0);
}

static void send_heartbeat(gateway *gw) {
  json_t *p =
      json_pack("{s:i, s:o}", "op", 1, "d", gw->has_seq ? json_integer(gw->seq) : json_null());
  gw->ack_pending = true;
  gw->hb_sent_at = now_ms(gw);
  if (send_payload(gw, p, true, "heartbeat") == 0) STAT_ADD(gw, heartbeats, 1);
}

/* ---- identify budget --------------------------------------------------------------------------
 */

/* Milliseconds until an Identify is allowed by the daily budget and max_concurrency. */
static uint64_t identify_wait(gateway *gw) {
  uint64_t now = now_ms(gw);
  if (gw->id_reset_at && now >= gw->id_reset_at) {
    gw->id_remaining = gw->id_total;
    gw->id_reset_at = now + DAY_MS;
  }
  if (gw->id_remaining <= 0) return gw->id_reset_at > now ? gw->id_reset_at - now : 1;
  int in_window = 0;
  uint64_t oldest = UINT64_MAX;
  for (int i = 0; i < gw->id_n; i++)
    if (gw->id_times[i] + gw->o.identify_window_ms > now) {
      in_window++;
      if (gw->id_times[i] < oldest) oldest = gw->id_times[i];
    }
  if (in_window >= gw->max_conc) return oldest + gw->o.identify_window_ms - now;
  return 0;
}

static void identify_record(gateway *gw) {
  uint64_t now = now_ms(gw);
  if (gw->id_n == (int)(sizeof gw->id_times / sizeof gw->id_times[0])) {
    memmove(gw->id_times, gw->id_times + 1, sizeof gw->id_times - sizeof gw->id_times[0]);
    gw->id_n--;
  }
  gw->id_times[gw->id_n++] = now;
  gw->id_remaining--;
  STAT_SET(gw, identify_remaining, gw->id_remaining);
}

static void send_identify(gateway *gw) {
  json_t *props =
      json_pack("{s:s, s:s, s:s}", "os", "linux", "browser", "mimic", "device", "mimic");
  json_t *d = json_pack("{s:s, s:o, s:I, s:i, s:b, s:o}", "token", gw->token, "properties", props,
                        "intents", (json_int_t)gw->intents, "large_threshold", 250, "compress", 0,
                        "presence", presence_json(gw->status, gw->activity));
  if (gw->shard_count > 0)
    json_object_set_new(d, "shard", json_pack("[i, i]", gw->shard_id, gw->shard_count));
  identify_record(gw);
  set_state(gw, GATEWAY_IDENTIFYING);
  LOG_I(SUB, "identifying (shard %d of %d, intents %u; %d identifies left today)", gw->shard_id,
        gw->shard_count ? gw->shard_count : 1, gw->intents, gw->id_remaining);
  if (send_payload(gw, json_pack("{s:i, s:o}", "op", 2, "d", d), false, "identify") == 0)
    STAT_ADD(gw, identifies, 1);
}

static void send_resume(gateway *gw) {
  json_t *d = json_pack("{s:s, s:s, s:I}", "token", gw->token, "session_id", gw->session_id, "seq",
                        (json_int_t)(gw->has_seq ? gw->seq : 0));
  set_state(gw, GATEWAY_RESUMING);
  LOG_I(SUB, "resuming the session after sequence %lld", (long long)gw->seq);
  if (send_payload(gw, json_pack("{s:i, s:o}", "op", 6, "d", d), false, "resume") == 0)
    STAT_ADD(gw, resumes, 1);
  metrics_count("mimic_gateway_resumes_total", "Gateway session resumes sent.", NULL, NULL, 1);
}

/* ---- connection lifecycle ---------------------------------------------------------------------
 */

static void connect_now(gateway *gw);
static void on_ws_open(ws_conn *c, void *user);
static void on_ws_message(ws_conn *c, void *user, bool binary, const uint8_t *data, size_t len);
static void on_ws_closed(ws_conn *c, void *user, int code, const char *reason, const char *why);

static void on_retry_timer(uv_timer_t *t) { connect_now(t->data); }

static void clear_session(gateway *gw) {
  gw->session_id[0] = 0;
  gw->resume_url[0] = 0;
  gw->has_seq = false;
  gw->seq = 0;
}

static void schedule_reconnect(gateway *gw, uint64_t min_delay) {
  uint64_t d = 0;
  if (gw->failures > 0) {
    unsigned shift = gw->failures - 1 > 16 ? 16 : gw->failures - 1;
    d = (uint64_t)gw->o.backoff_base_ms << shift;
    if (d > gw->o.backoff_max_ms) d = gw->o.backoff_max_ms;
    d = d / 2 + (uint64_t)(rnd01(gw) * (double)(d / 2)); /* jitter in [d/2, d) */
  }
  if (d < min_delay) d = min_delay;
  if (!gw->session_id[0]) {
    uint64_t w = identify_wait(gw);
    if (w > d) {
      if (gw->id_remaining <= 0)
        LOG_W(SUB,
              "the daily identify budget from Discord is used up; waiting %llu minutes before "
              "starting a new session",
              (unsigned long long)(w / 60000));
      d = w;
    }
  }
  set_state(gw, GATEWAY_BACKOFF);
  LOG_I(SUB, "reconnecting in %llu ms (%s)", (unsigned long long)d,
        gw->session_id[0] ? "resume" : "new session");
  uv_timer_start(&gw->retry_timer, on_retry_timer, d, 0);
}

/* After op 9: reconnect in exactly `d` ms, already stretched to the identify budget by the op 9
 * handler, so the wait it logged is the wait that happens. */
static void schedule_reconnect_exact(gateway *gw, uint64_t d) {
  set_state(gw, GATEWAY_BACKOFF);
  uv_timer_start(&gw->retry_timer, on_retry_timer, d, 0);
}

/* Ends the current connection so that `act` follows (our own close code keeps the session). */
static void request_reconnect(gateway *gw, int act, uint64_t delay, const char *reason) {
  uv_timer_stop(&gw->hb_timer);
  if (!gw->ws) return;
  gw->action = act;
  gw->action_delay = delay;
  if (ws_conn_is_open(gw->ws))
    ws_conn_close(gw->ws, CLIENT_CLOSE, reason);
  else
    ws_conn_abort(gw->ws, reason);
}

/* The connect URL: base without its query, plus ?v=10&encoding=json[&compress=zlib-stream]. */
static int build_url(buf *b, const char *base, bool compress) {
  size_t n = strcspn(base, "?#");
  int rc = buf_append(b, base, n);
  const char *host = rc ? NULL : strstr(b->data, "://");
  if (!rc && (!host || !strchr(host + 3, '/'))) rc = buf_putc(b, '/');
  if (!rc)
    rc = buf_printf(b, "?v=%d&encoding=json%s", GATEWAY_VERSION,
                    compress ? "&compress=zlib-stream" : "");
  return rc;
}

static void connect_now(gateway *gw) {
  if (gw->state == GATEWAY_STOPPING || gw->state == GATEWAY_STOPPED) return;
  bool resume = gw->session_id[0] && gw->resume_url[0];
  if (!gw->session_id[0] && identify_wait(gw) > 0) {
    /* A new session is not allowed yet (daily budget or max_concurrency): wait offline rather
     * than hold a connection open without identifying. */
    schedule_reconnect(gw, 0);
    return;
  }
  buf url;
  buf_init(&url, 1024);
  if (build_url(&url, resume ? gw->resume_url : gw->base_url, gw->compress)) buf_free(&url);
  zstream_destroy(gw->z);
  gw->z = NULL;
  if (gw->compress && !(gw->z = zstream_new(0, gw->o.max_inflate))) {
    buf_free(&url);
    gw->failures++;
    schedule_reconnect(gw, 0);
    return;
  }
  gw->reached_ready = false;
  gw->ack_pending = false;
  gw->action = ACT_NONE;
  gw->action_delay = 0;
  gw->action_exact = false;
  gw__rl_reset(&gw->rl);
  outq_clear(gw);
  ws_options wo = {.max_frame = gw->o.max_frame,
                   .max_message = gw->o.max_message,
                   .timeout_ms = gw->o.connect_timeout_ms,
                   .ca_file = gw->ca_file,
                   .user_agent =
                       "DiscordBot (https://github.com/mimic-bot/mimic, " MIMIC_VERSION ")"};
  ws_callbacks cb = {on_ws_open, on_ws_message, on_ws_closed};
  set_state(gw, GATEWAY_CONNECTING);
  LOG_D(SUB, "connecting to %s", url.data ? url.data : "");
  int rc = url.data ? ws_conn_open(gw->loop, url.data, &wo, &cb, gw, &gw->ws) : MIMIC_ENOMEM;
  buf_free(&url);
  if (rc == 0) return;
  if (resume) {
    /* A bad resume_gateway_url: forget it and resume through the main URL. */
    LOG_W(SUB, "cannot use the resume URL Discord gave (%s); resuming through the main URL",
          err_msg());
    gw->resume_url[0] = 0;
    gw->failures++;
    schedule_reconnect(gw, 0);
    return;
  }
  char msg[600];
  snprintf(msg, sizeof msg, "cannot connect to the Discord gateway: %s", err_msg());
  finish(gw, true, 0, msg);
}

static void on_hello_timeout(uv_timer_t *t) {
  gateway *gw = t->data;
  LOG_W(SUB, "no Hello from the gateway within %u ms; reconnecting", gw->o.hello_timeout_ms);
  request_reconnect(gw, ACT_RESUME, 0, "no hello");
}

static void on_ws_open(ws_conn *c, void *user) {
  (void)c;
  gateway *gw = user;
  STAT_ADD(gw, connects, 1);
  metrics_count("mimic_gateway_connects_total", "Gateway connections opened (reconnects included).",
                NULL, NULL, 1);
  set_state(gw, GATEWAY_HELLO);
  uv_timer_start(&gw->retry_timer, on_hello_timeout, gw->o.hello_timeout_ms, 0);
}

static void on_ws_closed(ws_conn *c, void *user, int code, const char *reason, const char *why) {
  (void)c;
  (void)reason;
  gateway *gw = user;
  gw->ws = NULL;
  zstream_destroy(gw->z);
  gw->z = NULL;
  outq_clear(gw);
  if (gw->destroying) return;
  uv_timer_stop(&gw->hb_timer);
  uv_timer_stop(&gw->retry_timer);
  uv_timer_stop(&gw->send_timer);
  if (gw->state == GATEWAY_STOPPING) {
    finish(gw, false, 0, "disconnected from the Discord gateway");
    return;
  }
  if (gw->state == GATEWAY_STOPPED) return;
  int act = gw->action;
  uint64_t delay = gw->action_delay;
  if (act == ACT_NONE) {
    bool reconnect = true;
    const char *text = gateway_close_text(code, &reconnect);
    if (!reconnect) {
      finish(gw, true, code, text);
      return;
    }
    if (code == 4007 || code == 4009) {
      clear_session(gw);
      act = ACT_IDENTIFY;
    } else {
      act = ACT_RESUME;
    }
    LOG_W(SUB, "%s (%s)", text, why);
  } else {
    LOG_D(SUB, "connection closed: %s", why);
  }
  /* A new session that Discord itself asked for (op 9) waits exactly what the op 9 line said: the
   * server answered, so the outage's failure count must not stretch the wait. The count is kept
   * (not reset) until a READY or RESUMED proves the new session works. */
  if (gw->action_exact) {
    gw->action_exact = false;
    schedule_reconnect_exact(gw, delay);
    return;
  }
  if (!gw->reached_ready) gw->failures++;
  schedule_reconnect(gw, delay);
}

/* ---- receiving --------------------------------------------------------------------------------
 */

static void on_heartbeat_timer(uv_timer_t *t) {
  gateway *gw = t->data;
  if (!gw->ws) return;
  if (gw->ack_pending) {
    STAT_ADD(gw, zombies, 1);
    LOG_W(SUB,
          "no heartbeat ACK within %llu ms: the connection is a zombie; reconnecting to resume",
          (unsigned long long)gw->hb_interval);
    request_reconnect(gw, ACT_RESUME, 0, "heartbeat ACK missed");
    return;
  }
  send_heartbeat(gw);
}

static void on_identify_timer(uv_timer_t *t) {
  gateway *gw = t->data;
  if (gw->state != GATEWAY_HELLO || !gw->ws) return;
  uint64_t w = identify_wait(gw);
  if (w) {
    uv_timer_start(&gw->retry_timer, on_identify_timer, w, 0);
    return;
  }
  send_identify(gw);
}

static void on_hello(gateway *gw, const json_t *d) {
  int64_t iv = jv_int(d, "heartbeat_interval", 0);
  if (iv < 10 || iv > 600000) {
    STAT_ADD(gw, malformed, 1);
    LOG_W(SUB, "Hello with an unusable heartbeat_interval (%lld); reconnecting", (long long)iv);
    request_reconnect(gw, ACT_RESUME, 0, "bad hello");
    return;
  }
  uv_timer_stop(&gw->retry_timer); /* the Hello timeout */
  gw->hb_interval = (uint64_t)iv;
  gw->ack_pending = false;
  /* First heartbeat after interval * jitter (jitter in [0, 1)), then every interval. */
  uint64_t first = (uint64_t)((double)iv * rnd01(gw));
  uv_timer_start(&gw->hb_timer, on_heartbeat_timer, first, (uint64_t)iv);
  LOG_D(SUB, "Hello: heartbeat every %lld ms, first in %llu ms", (long long)iv,
        (unsigned long long)first);
  if (gw->session_id[0]) {
    send_resume(gw);
    return;
  }
  uint64_t w = identify_wait(gw);
  if (w)
    uv_timer_start(&gw->retry_timer, on_identify_timer, w, 0);
  else
    send_identify(gw);
}

static void on_dispatch(gateway *gw, const char *t, const json_t *d, int64_t seq) {
  if (strcmp(t, "READY") == 0) {
    const char *sid = jv_str(d, "session_id", "");
    const char *rurl = jv_str(d, "resume_gateway_url", "");
    str_lcpy(gw->session_id, sid, sizeof gw->session_id);
    ws_url u;
    if (*rurl && strlen(rurl) < sizeof gw->resume_url && ws_url_parse(rurl, &u) == 0)
      str_lcpy(gw->resume_url, rurl, sizeof gw->resume_url);
    else
      gw->resume_url[0] = 0;
    gw->reached_ready = true;
    gw->failures = 0;
    set_state(gw, GATEWAY_READY);
    const json_t *user = json_object_get(d, "user");
    LOG_I(SUB, "READY as %s (shard %d of %d)", jv_str(user, "username", "?"), gw->shard_id,
          gw->shard_count ? gw->shard_count : 1);
  } else if (strcmp(t, "RESUMED") == 0) {
    gw->reached_ready = true;
    gw->failures = 0;
    set_state(gw, GATEWAY_READY);
    LOG_I(SUB, "session resumed at sequence %lld", (long long)gw->seq);
  }
  discord_event *ev = NULL;
  if (discord__event_parse(t, d, seq, &ev) != 0) {
    STAT_ADD(gw, malformed, 1);
    LOG_W(SUB, "dropped %s (seq %lld): %s", t, (long long)seq, err_msg());
    return;
  }
  if (!ev) {
    LOG_T(SUB, "ignored dispatch %s", t);
    return;
  }
  ev->shard_id = gw->shard_id;
  push_event(gw, ev);
}

static void on_payload(gateway *gw, json_t *v) {
  const json_t *opv = json_object_get(v, "op");
  if (!json_is_object(v) || !json_is_integer(opv)) {
    STAT_ADD(gw, malformed, 1);
    LOG_W(SUB, "ignored a gateway payload without an integer op");
    return;
  }
  int64_t op = json_integer_value(opv);
  const json_t *d = json_object_get(v, "d");
  switch (op) {
  case 0: {
    const json_t *s = json_object_get(v, "s");
    const char *t = jv_str(v, "t", NULL);
    if (json_is_integer(s)) {
      gw->seq = json_integer_value(s);
      gw->has_seq = true;
      STAT_SET(gw, seq, gw->seq);
    }
    if (!t) {
      STAT_ADD(gw, malformed, 1);
      LOG_W(SUB, "ignored a dispatch without an event name");
      return;
    }
    LOG_T(SUB, "recv %s seq %lld", t, (long long)gw->seq);
    on_dispatch(gw, t, d, json_is_integer(s) ? json_integer_value(s) : 0);
    break;
  }
  case 1:
    LOG_D(SUB, "the gateway asked for a heartbeat");
    send_heartbeat(gw);
    break;
  case 7:
    LOG_I(SUB, "Discord asked for a reconnect (op 7); resuming");
    request_reconnect(gw, ACT_RESUME, 0, "reconnect requested");
    break;
  case 9:
    if (json_is_true(d) && gw->session_id[0]) {
      LOG_I(SUB, "invalid session (op 9), resumable; resuming");
      request_reconnect(gw, ACT_RESUME, 0, "invalid session");
    } else {
      uint64_t lo = gw->o.invalid_session_min_ms, hi = gw->o.invalid_session_max_ms;
      uint64_t wait = lo + (uint64_t)(rnd01(gw) * (double)(hi > lo ? hi - lo : 0));
      uint64_t budget = identify_wait(gw);
      if (budget > wait) wait = budget;
      LOG_I(SUB, "invalid session (op 9); starting a new session in %llu ms",
            (unsigned long long)wait);
      clear_session(gw);
      request_reconnect(gw, ACT_IDENTIFY, wait, "invalid session");
      gw->action_exact = gw->ws != NULL;
    }
    break;
  case 10: on_hello(gw, d); break;
  case 11:
    gw->ack_pending = false;
    pthread_mutex_lock(&gw->mu);
    gw->st.acks++;
    gw->st.latency_ms = (int64_t)(now_ms(gw) - gw->hb_sent_at);
    pthread_mutex_unlock(&gw->mu);
    break;
  default: LOG_D(SUB, "ignored op %lld", (long long)op); break;
  }
}

static void on_ws_message(ws_conn *c, void *user, bool binary, const uint8_t *data, size_t len) {
  (void)c;
  gateway *gw = user;
  const char *p = (const char *)data;
  size_t n = len;
  if (binary) {
    if (!gw->z) {
      STAT_ADD(gw, malformed, 1);
      LOG_W(SUB, "ignored a binary message on an uncompressed connection");
      return;
    }
    int rc = zstream_feed(gw->z, data, len, &p, &n);
    if (rc < 0) {
      STAT_ADD(gw, malformed, 1);
      LOG_W(SUB, "%s; reconnecting", err_msg());
      request_reconnect(gw, ACT_RESUME, 0, "decompression failed");
      return;
    }
    if (rc == 0) return;
  }
  /* One message may hold several payloads back to back (several flushes in one frame). */
  size_t off = 0;
  while (off < n && gw->state != GATEWAY_STOPPED) {
    while (off < n && (p[off] == ' ' || p[off] == '\n' || p[off] == '\r' || p[off] == '\t')) off++;
    if (off == n) break;
    json_error_t e;
    json_t *v = json_loadb(p + off, n - off, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &e);
    if (!v) {
      STAT_ADD(gw, malformed, 1);
      LOG_W(SUB, "ignored a malformed gateway payload (%zu bytes): line %d column %d: %s", n - off,
            e.line, e.column, e.text);
      break;
    }
    off += e.position ? (size_t)e.position : n - off;
    on_payload(gw, v);
    json_decref(v);
  }
}

/* ---- cross-thread requests --------------------------------------------------------------------
 */

static void do_stop(gateway *gw) {
  if (gw->state == GATEWAY_STOPPING || gw->state == GATEWAY_STOPPED) return;
  uv_timer_stop(&gw->hb_timer);
  uv_timer_stop(&gw->retry_timer);
  uv_timer_stop(&gw->send_timer);
  set_state(gw, GATEWAY_STOPPING);
  if (gw->ws) {
    /* 1000: the session ends and the bot shows offline, as a shutdown should. */
    ws_conn_close(gw->ws, WS_CLOSE_NORMAL, "shutting down");
    return;
  }
  finish(gw, false, 0, "the gateway was stopped");
}

static void on_async(uv_async_t *a) {
  gateway *gw = a->data;
  pthread_mutex_lock(&gw->mu);
  bool stop = gw->stop_req, presence = gw->presence_req;
  gw->presence_req = false;
  if (presence) {
    str_lcpy(gw->status, gw->req_status, sizeof gw->status);
    str_lcpy(gw->activity, gw->req_activity, sizeof gw->activity);
  }
  pthread_mutex_unlock(&gw->mu);
  if (stop) {
    do_stop(gw);
    return;
  }
  if (presence && gw->state == GATEWAY_READY)
    (void)send_payload(
        gw, json_pack("{s:i, s:o}", "op", 3, "d", presence_json(gw->status, gw->activity)), false,
        "presence update");
}

void gateway_stop(gateway *gw) {
  if (!gw) return;
  pthread_mutex_lock(&gw->mu);
  if (!gw->handles_closing) {
    gw->stop_req = true;
    uv_async_send(&gw->async);
  }
  pthread_mutex_unlock(&gw->mu);
}

int gateway_update_presence(gateway *gw, const char *status, const char *activity) {
  if (!status) status = "online";
  if (!status_valid(status))
    return err_set(MIMIC_EINVAL, "presence status '%.20s' must be online, idle, dnd or invisible",
                   status);
  pthread_mutex_lock(&gw->mu);
  str_lcpy(gw->req_status, status, sizeof gw->req_status);
  activity_copy(gw->req_activity, activity);
  if (!gw->handles_closing) {
    gw->presence_req = true;
    uv_async_send(&gw->async);
  }
  pthread_mutex_unlock(&gw->mu);
  return 0;
}

discord_event *gateway_next_event(gateway *gw, long timeout_ms) {
  if (timeout_ms < 0) return queue_pop(gw->events);
  return queue_pop_timeout(gw->events, timeout_ms);
}

gateway_stats gateway_get_stats(gateway *gw) {
  pthread_mutex_lock(&gw->mu);
  gateway_stats s = gw->st;
  pthread_mutex_unlock(&gw->mu);
  return s;
}

/* ---- life -------------------------------------------------------------------------------------
 */

int gateway_new(uv_loop_t *loop, const gateway_options *o, gateway **out) {
  *out = NULL;
  if (!o || !o->url || !*o->url)
    return err_set(MIMIC_EINVAL, "no gateway URL: ask GET /gateway/bot for one");
  if (!o->token || !*o->token)
    return err_set(MIMIC_EINVAL, "no bot token: set DISCORD_TOKEN or discord.token_file");
  if (o->shard_count < 0 || o->shard_id < 0 ||
      (o->shard_count > 0 && o->shard_id >= o->shard_count))
    return err_set(MIMIC_EINVAL,
                   "shard %d of %d is impossible: discord.shard_id must be below "
                   "discord.shard_count",
                   o->shard_id, o->shard_count);
  if (o->status && !status_valid(o->status))
    return err_set(MIMIC_EINVAL, "presence status '%.20s' must be online, idle, dnd or invisible",
                   o->status);
  ws_url u;
  int rc = ws_url_parse(o->url, &u);
  if (rc) return err_prefix(rc, "gateway URL");
  gateway *gw = mem_calloc(1, sizeof *gw);
  if (!gw) return err_set(MIMIC_ENOMEM, "out of memory creating the gateway");
  gw->loop = loop;
  gw->o = *o;
  if (!gw->o.backoff_base_ms) gw->o.backoff_base_ms = 1000;
  if (!gw->o.backoff_max_ms) gw->o.backoff_max_ms = 60000;
  if (!gw->o.identify_window_ms) gw->o.identify_window_ms = 5000;
  if (!gw->o.hello_timeout_ms) gw->o.hello_timeout_ms = 20000;
  if (!gw->o.invalid_session_min_ms) gw->o.invalid_session_min_ms = 1000;
  if (!gw->o.invalid_session_max_ms) gw->o.invalid_session_max_ms = 5000;
  if (gw->o.invalid_session_max_ms < gw->o.invalid_session_min_ms)
    gw->o.invalid_session_max_ms = gw->o.invalid_session_min_ms;
  if (!gw->o.event_queue_cap) gw->o.event_queue_cap = 8192;
  gw->base_url = mem_strdup(o->url);
  gw->token = mem_strdup(o->token);
  gw->ca_file = o->ca_file ? mem_strdup(o->ca_file) : NULL;
  gw->own_events = o->events == NULL;
  gw->events = o->events ? o->events : queue_new(gw->o.event_queue_cap);
  if (!gw->base_url || !gw->token || (o->ca_file && !gw->ca_file) || !gw->events) {
    if (gw->own_events) queue_destroy(gw->events);
    mem_free(gw->base_url);
    mem_free(gw->token);
    mem_free(gw->ca_file);
    mem_free(gw);
    return err_set(MIMIC_ENOMEM, "out of memory creating the gateway");
  }
  gw->o.url = gw->o.token = gw->o.status = gw->o.activity = gw->o.ca_file = NULL;
  gw->o.events = NULL;
  log_add_secret(gw->token);
  gw->intents = o->intents;
  gw->shard_id = o->shard_id;
  gw->shard_count = o->shard_count;
  gw->compress = o->compress;
  str_lcpy(gw->status, o->status ? o->status : "online", sizeof gw->status);
  activity_copy(gw->activity, o->activity);
  gw->id_total = o->limit.total > 0 ? o->limit.total : 1000;
  gw->id_remaining = o->limit.total > 0 ? o->limit.remaining : 1000;
  uint64_t now = uv_now(loop);
  gw->id_reset_at =
      now + (o->limit.total > 0 && o->limit.reset_after_ms > 0 ? (uint64_t)o->limit.reset_after_ms
                                                               : DAY_MS);
  gw->max_conc = o->limit.max_concurrency > 0 ? o->limit.max_concurrency : 1;
  if (gw->max_conc > 16) gw->max_conc = 16;
  gw->st.latency_ms = -1;
  gw->st.identify_remaining = gw->id_remaining;
  uint64_t seed;
  if (RAND_bytes((unsigned char *)&seed, sizeof seed) != 1) seed = clock_mono_ns();
  prng_seed(&gw->rng, seed);
  pthread_mutex_init(&gw->mu, NULL);
  uv_timer_init(loop, &gw->hb_timer);
  uv_timer_init(loop, &gw->retry_timer);
  uv_timer_init(loop, &gw->send_timer);
  uv_async_init(loop, &gw->async, on_async);
  gw->hb_timer.data = gw->retry_timer.data = gw->send_timer.data = gw->async.data = gw;
  *out = gw;
  return 0;
}

int gateway_start(gateway *gw) {
  if (gw->started) return err_set(MIMIC_EINVAL, "the gateway was already started");
  gw->started = true;
  connect_now(gw);
  return 0;
}

void gateway_destroy(gateway *gw) {
  if (!gw) return;
  gw->destroying = true;
  if (gw->ws) ws_conn_abort(gw->ws, "gateway destroyed");
  close_handles(gw);
  while (gw->handles_pending > 0 || gw->ws) uv_run(gw->loop, UV_RUN_ONCE);
  if (gw->own_events) {
    discord_event *ev;
    while ((ev = queue_try_pop(gw->events)) != NULL) discord_event_free(ev);
    queue_destroy(gw->events);
  }
  zstream_destroy(gw->z);
  outq_clear(gw);
  pthread_mutex_destroy(&gw->mu);
  mem_free(gw->base_url);
  if (gw->token) memset(gw->token, 0, strlen(gw->token));
  mem_free(gw->token);
  mem_free(gw->ca_file);
  mem_free(gw);
}
