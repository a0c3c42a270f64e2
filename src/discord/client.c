/* The Discord client glue (see client.h): REST GET /gateway/bot -> gateway, on a loop thread. */
#include "discord/client.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "discord/api.h"
#include "discord/discord_int.h"

#define SUB       "discord"
#define CALLS_MAX 4096

typedef struct call {
  struct call *next;
  void (*fn)(rest *r, void *user);
  void *user;
} call;

struct discord_client {
  uv_loop_t loop;
  bool loop_ok;
  rest *rest;
  gateway *gw;
  queue *events;
  uv_async_t async;
  uv_timer_t retry;
  pthread_t th;
  bool thread_started;
  char *token;
  char *status, *activity;
  uint32_t intents;
  int shard_id, shard_count;
  bool compress;
  unsigned retry_ms;
  pthread_mutex_t mu; /* guards the fields below */
  pthread_cond_t cv;  /* signalled when an event is queued, the queue closes, or on a wake-up */
  uint64_t notes;     /* events queued (and closes) so far: a waiter compares it */
  bool woken;         /* discord_client_wake was called since the last wait returned */
  bool drained;       /* STOPPED was taken: nothing more will come */
  bool stop_req, stopping, closed;
  call *calls, *calls_tail;
  size_t n_calls;
};

/* Something for the consumer: an event was queued or the queue closed (the gateway's notify). */
static void notify(void *user) {
  discord_client *dc = user;
  pthread_mutex_lock(&dc->mu);
  dc->notes++;
  pthread_cond_signal(&dc->cv);
  pthread_mutex_unlock(&dc->mu);
}

static void push_stopped(discord_client *dc, bool fatal, const char *msg) {
  discord_event *ev = discord__event_stopped(0, fatal, msg);
  if (ev && queue_try_push(dc->events, ev) != 0) {
    discord_event_free(queue_try_pop(dc->events)); /* full: the consumer must learn we stopped */
    if (queue_try_push(dc->events, ev) != 0) discord_event_free(ev);
  }
  queue_close(dc->events);
  notify(dc);
}

static void on_gateway_bot(const rest_result *res, void *user);

static void ask_gateway(discord_client *dc) {
  if (api_gateway_bot(dc->rest, on_gateway_bot, dc) != 0) {
    char msg[600];
    snprintf(msg, sizeof msg, "cannot ask Discord for the gateway URL: %s", err_msg());
    LOG_E(SUB, "%s", msg);
    push_stopped(dc, true, msg);
  }
}

static void on_retry(uv_timer_t *t) { ask_gateway(t->data); }

static void on_gateway_bot(const rest_result *res, void *user) {
  discord_client *dc = user;
  pthread_mutex_lock(&dc->mu);
  bool stopping = dc->stopping;
  pthread_mutex_unlock(&dc->mu);
  if (stopping) return; /* STOPPED is pushed by the stop path */
  api_gateway_info gi;
  if (res->err || api_gateway_info_parse(res->json, &gi) != 0) {
    const char *why = res->err ? res->message : err_msg();
    if (res->status == 401 || res->status == 403) {
      char msg[700];
      snprintf(
          msg, sizeof msg,
          "Discord refused the bot token (HTTP %d on GET /gateway/bot): copy a fresh token from "
          "the Developer Portal (Applications > your app > Bot > Reset Token) into DISCORD_TOKEN "
          "or the file named by discord.token_file.",
          res->status);
      LOG_E(SUB, "%s", msg);
      push_stopped(dc, true, msg);
      return;
    }
    dc->retry_ms = dc->retry_ms ? (dc->retry_ms * 2 > 60000 ? 60000 : dc->retry_ms * 2) : 1000;
    LOG_W(SUB, "%s; trying again in %u s", why, dc->retry_ms / 1000);
    uv_timer_start(&dc->retry, on_retry, dc->retry_ms, 0);
    return;
  }
  gateway_options o = {0};
  o.url = gi.url;
  o.token = dc->token;
  o.intents = dc->intents;
  o.shard_id = dc->shard_id;
  o.shard_count = dc->shard_count > 0 ? dc->shard_count : (gi.shards > 0 ? gi.shards : 1);
  o.compress = dc->compress;
  o.status = dc->status;
  o.activity = dc->activity;
  o.limit.total = gi.session_total;
  o.limit.remaining = gi.session_remaining;
  o.limit.reset_after_ms = gi.session_reset_after_ms;
  o.limit.max_concurrency = gi.max_concurrency;
  o.events = dc->events;
  o.notify = notify;
  o.notify_user = dc;
  if (o.shard_id >= o.shard_count) {
    char msg[300];
    snprintf(msg, sizeof msg,
             "discord.shard_id %d is not below the shard count %d: set discord.shard_id lower or "
             "discord.shard_count higher.",
             o.shard_id, o.shard_count);
    LOG_E(SUB, "%s", msg);
    push_stopped(dc, true, msg);
    return;
  }
  LOG_I(SUB, "gateway %s, shard %d of %d, %d of %d session starts left", gi.url, o.shard_id,
        o.shard_count, gi.session_remaining, gi.session_total);
  gateway *gw = NULL;
  if (gateway_new(&dc->loop, &o, &gw) != 0 || gateway_start(gw) != 0) {
    char msg[600];
    snprintf(msg, sizeof msg, "cannot start the gateway: %s", err_msg());
    LOG_E(SUB, "%s", msg);
    gateway_destroy(gw);
    push_stopped(dc, true, msg);
    return;
  }
  __atomic_store_n(&dc->gw, gw, __ATOMIC_RELEASE);
}

static void on_async(uv_async_t *a) {
  discord_client *dc = a->data;
  pthread_mutex_lock(&dc->mu);
  call *list = dc->calls;
  dc->calls = dc->calls_tail = NULL;
  dc->n_calls = 0;
  bool stop = dc->stop_req && !dc->stopping;
  if (stop) dc->stopping = true;
  pthread_mutex_unlock(&dc->mu);
  while (list) {
    call *n = list->next;
    if (!stop) list->fn(dc->rest, list->user);
    mem_free(list);
    list = n;
  }
  if (!stop) return;
  uv_timer_stop(&dc->retry);
  if (dc->gw)
    gateway_stop(dc->gw); /* queues STOPPED and closes the shared queue when done */
  else
    push_stopped(dc, false, "stopped before the gateway connected");
  rest_destroy(dc->rest); /* cancels pending calls; its handles close as the loop runs on */
  dc->rest = NULL;
  pthread_mutex_lock(&dc->mu);
  dc->closed = true;
  pthread_mutex_unlock(&dc->mu);
  uv_close((uv_handle_t *)&dc->async, NULL);
  uv_close((uv_handle_t *)&dc->retry, NULL);
}

static void *loop_main(void *arg) {
  discord_client *dc = arg;
  ask_gateway(dc);
  uv_run(&dc->loop, UV_RUN_DEFAULT);
  return NULL;
}

int discord_client_new(const cfg *c, const char *token, discord_client **out) {
  *out = NULL;
  if (!token || !*token)
    return err_set(MIMIC_EAUTH, "no bot token: set DISCORD_TOKEN or discord.token_file");
  discord_client *dc = mem_calloc(1, sizeof *dc);
  if (!dc) return err_set(MIMIC_ENOMEM, "out of memory creating the Discord client");
  int rc = 0;
  pthread_mutex_init(&dc->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&dc->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (uv_loop_init(&dc->loop) != 0) {
    rc = err_set(MIMIC_EIO, "cannot create the I/O loop");
    goto fail;
  }
  dc->loop_ok = true;
  dc->token = mem_strdup(token);
  dc->status = mem_strdup(cfg_str(c, CFG_DISCORD_STATUS));
  dc->activity = mem_strdup(cfg_str(c, CFG_DISCORD_ACTIVITY));
  dc->events = queue_new(8192);
  if (!dc->token || !dc->status || !dc->activity || !dc->events) {
    rc = err_set(MIMIC_ENOMEM, "out of memory creating the Discord client");
    goto fail;
  }
  if (strcmp(dc->status, "online") && strcmp(dc->status, "idle") && strcmp(dc->status, "dnd") &&
      strcmp(dc->status, "invisible")) {
    rc = err_set(MIMIC_EINVAL, "discord.status must be online, idle, dnd or invisible, not '%.20s'",
                 dc->status);
    goto fail;
  }
  dc->intents = (uint32_t)cfg_int(c, CFG_DISCORD_INTENTS);
  dc->shard_id = (int)cfg_int(c, CFG_DISCORD_SHARD_ID);
  dc->shard_count = (int)cfg_int(c, CFG_DISCORD_SHARD_COUNT);
  dc->compress = cfg_bool(c, CFG_DISCORD_COMPRESS);
  if (dc->shard_count > 0 && dc->shard_id >= dc->shard_count) {
    rc = err_set(MIMIC_EINVAL, "discord.shard_id %d must be below discord.shard_count %d",
                 dc->shard_id, dc->shard_count);
    goto fail;
  }
  rest_opts ro;
  if ((rc = rest_opts_from_cfg(c, dc->token, &ro)) != 0) goto fail;
  if ((rc = rest_new(&dc->loop, &ro, &dc->rest)) != 0) goto fail;
  uv_async_init(&dc->loop, &dc->async, on_async);
  uv_timer_init(&dc->loop, &dc->retry);
  dc->async.data = dc->retry.data = dc;
  log_add_secret(dc->token);
  *out = dc;
  return 0;
fail:
  if (dc->rest) {
    rest_destroy(dc->rest);
    uv_run(&dc->loop, UV_RUN_DEFAULT);
  }
  if (dc->loop_ok) uv_loop_close(&dc->loop);
  queue_destroy(dc->events);
  mem_free(dc->token);
  mem_free(dc->status);
  mem_free(dc->activity);
  pthread_cond_destroy(&dc->cv);
  pthread_mutex_destroy(&dc->mu);
  mem_free(dc);
  return rc;
}

int discord_client_start(discord_client *dc) {
  if (dc->thread_started) return err_set(MIMIC_EINVAL, "the Discord client was already started");
  if (pthread_create(&dc->th, NULL, loop_main, dc) != 0)
    return err_set(MIMIC_EIO, "cannot start the I/O loop thread");
  dc->thread_started = true;
  return 0;
}

discord_event *discord_client_next_event(discord_client *dc, long timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  if (timeout_ms > 0) {
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
  }
  pthread_mutex_lock(&dc->mu);
  for (;;) {
    uint64_t seen = dc->notes;
    pthread_mutex_unlock(&dc->mu);
    discord_event *ev = queue_try_pop(dc->events);
    pthread_mutex_lock(&dc->mu);
    if (ev) {
      if (ev->type == DISCORD_EV_STOPPED) dc->drained = true;
      pthread_mutex_unlock(&dc->mu);
      return ev;
    }
    if (dc->woken || dc->drained) {
      dc->woken = false;
      break;
    }
    if (dc->notes != seen) continue; /* queued while we looked: look again */
    if (timeout_ms == 0) break;
    int rc = timeout_ms < 0 ? pthread_cond_wait(&dc->cv, &dc->mu)
                            : pthread_cond_timedwait(&dc->cv, &dc->mu, &until);
    if (rc == ETIMEDOUT && dc->notes == seen && !dc->woken) break;
  }
  pthread_mutex_unlock(&dc->mu);
  return NULL;
}

void discord_client_wake(discord_client *dc) {
  pthread_mutex_lock(&dc->mu);
  dc->woken = true;
  pthread_cond_signal(&dc->cv);
  pthread_mutex_unlock(&dc->mu);
}

int discord_client_call(discord_client *dc, void (*fn)(rest *r, void *user), void *user) {
  call *cl = mem_alloc(sizeof *cl);
  if (!cl) return err_set(MIMIC_ENOMEM, "out of memory queuing a Discord call");
  cl->next = NULL;
  cl->fn = fn;
  cl->user = user;
  pthread_mutex_lock(&dc->mu);
  if (dc->stop_req || dc->closed || dc->n_calls >= CALLS_MAX) {
    bool busy = !dc->stop_req && !dc->closed;
    pthread_mutex_unlock(&dc->mu);
    mem_free(cl);
    return busy ? err_set(MIMIC_EBUSY, "%d Discord calls already wait for the I/O loop", CALLS_MAX)
                : err_set(MIMIC_ECANCELLED, "the Discord client is stopping");
  }
  if (dc->calls_tail)
    dc->calls_tail->next = cl;
  else
    dc->calls = cl;
  dc->calls_tail = cl;
  dc->n_calls++;
  uv_async_send(&dc->async);
  pthread_mutex_unlock(&dc->mu);
  return 0;
}

int discord_client_presence(discord_client *dc, const char *status, const char *activity) {
  /* The gateway exists only once GET /gateway/bot answered; it is never freed before destroy. */
  gateway *gw = __atomic_load_n(&dc->gw, __ATOMIC_ACQUIRE);
  if (!gw) return err_set(MIMIC_EBUSY, "not connected to the gateway yet");
  return gateway_update_presence(gw, status, activity);
}

void discord_client_stop(discord_client *dc) {
  if (!dc) return;
  pthread_mutex_lock(&dc->mu);
  if (!dc->closed && !dc->stop_req) {
    dc->stop_req = true;
    uv_async_send(&dc->async);
  }
  pthread_mutex_unlock(&dc->mu);
}

void discord_client_destroy(discord_client *dc) {
  if (!dc) return;
  if (dc->thread_started) {
    discord_client_stop(dc);
    pthread_join(dc->th, NULL);
  } else {
    /* Never started: close everything on this thread. */
    rest_destroy(dc->rest);
    uv_close((uv_handle_t *)&dc->async, NULL);
    uv_close((uv_handle_t *)&dc->retry, NULL);
    uv_run(&dc->loop, UV_RUN_DEFAULT);
  }
  gateway_destroy(dc->gw);
  uv_loop_close(&dc->loop);
  discord_event *ev;
  while ((ev = queue_try_pop(dc->events)) != NULL) discord_event_free(ev);
  queue_destroy(dc->events);
  while (dc->calls) {
    call *n = dc->calls->next;
    mem_free(dc->calls);
    dc->calls = n;
  }
  if (dc->token) memset(dc->token, 0, strlen(dc->token));
  mem_free(dc->token);
  mem_free(dc->status);
  mem_free(dc->activity);
  pthread_cond_destroy(&dc->cv);
  pthread_mutex_destroy(&dc->mu);
  mem_free(dc);
}
