/* The bot object: event handling, the per-channel generation queue, completions, typing, sending
 * and recording (see bot.h). Commands are in admin.c, statistics in stats.c. Everything here runs
 * on the bot thread except on_done, which only appends to the completion list and wakes the loop.
 */
#include "bot/bot_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bot/reply.h"
#include "collect/collect.h"

/* ---- small helpers ------------------------------------------------------------------------------
 */

int64_t bot__now(bot *b) { return b->now_fn ? b->now_fn(b->clock_user) : clock_wall_ms(); }

/* xorshift64*: rolls and seeds; quality is ample for coin flips. */
static uint64_t rng_next(bot *b) {
  uint64_t x = b->rng;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  b->rng = x;
  return x * 0x2545F4914F6CDD1DULL;
}

static double rng_roll(bot *b) { return (double)(rng_next(b) >> 11) / 9007199254740992.0; }

static void parse_id_set(map_u64 *m, const char *list) {
  map_free(m);
  map_init(m);
  const char *p = list ? list : "";
  while (*p) {
    while (*p == ',' || *p == ' ' || *p == '\t') p++;
    char tmp[32];
    size_t n = 0;
    while (*p && *p != ',' && n < sizeof tmp - 1) tmp[n++] = *p++;
    while (*p && *p != ',') p++;
    tmp[n] = 0;
    uint64_t id;
    if (n && str_to_u64(tmp, &id) == 0 && id)
      map_put(m, id, (void *)1);
    else
      err_clear();
  }
}

/* The name people see: the server nickname, else the global display name, else the username. */
static const char *shown_name(const discord_message *m) {
  if (m->has_member && m->member.nick[0]) return m->member.nick;
  if (m->author.global_name[0]) return m->author.global_name;
  if (m->author.username[0]) return m->author.username;
  return "someone";
}

static bot_chan *chan_get(bot *b, uint64_t id) {
  bot_chan *c = map_get(&b->chans, id);
  if (!c) {
    c = xcalloc(1, sizeof *c);
    c->id = id;
    c->typing_ms = INT64_MIN / 2;
    map_put(&b->chans, id, c);
  }
  return c;
}

void bot__say(bot *b, uint64_t channel_id, uint64_t reply_to, const char *text) {
  if (!b->act.send) return;
  bot_send s = {.channel_id = channel_id, .text = text, .reply_to = reply_to};
  if (b->act.send(b->act.user, &s))
    LOG_W("bot", "channel %" PRIu64 ": could not send a command answer: %s", channel_id, err_msg());
}

/* ---- settings -----------------------------------------------------------------------------------
 */

void bot_settings_apply(bot *b) {
  const cfg *c = b->cfg;
  router_params p = {
      .rate = cfg_num(c, CFG_BOT_RESPONSE_RATE),
      .active_boost = cfg_num(c, CFG_BOT_ACTIVE_BOOST),
      .active_window_ms = cfg_int(c, CFG_BOT_ACTIVE_WINDOW_S) * 1000,
      .cooldown_ms = cfg_int(c, CFG_BOT_COOLDOWN_S) * 1000,
      .flood_per_min = (int)cfg_int(c, CFG_BOT_USER_FLOOD_PER_MIN),
      .keywords = cfg_str(c, CFG_BOT_KEYWORDS),
      .allow_bots = cfg_str(c, CFG_BOT_ALLOW_BOTS),
      .channels = cfg_str(c, CFG_BOT_CHANNELS),
  };
  if (b->router)
    router_set_params(b->router, &p);
  else
    b->router = router_new(b->self_id, &p);
  parse_id_set(&b->admins, cfg_str(c, CFG_BOT_ADMINS));
  const char *pre = cfg_str(c, CFG_BOT_PREFIX);
  str_lcpy(b->prefix, pre && *pre ? pre : "!", sizeof b->prefix);
  b->queue_max = (size_t)cfg_int(c, CFG_BOT_QUEUE_MAX);
  b->context_messages = (int)cfg_int(c, CFG_BOT_CONTEXT_MESSAGES);
  b->bot_turns_max = (int)cfg_int(c, CFG_BOT_BOT_TURNS_MAX);
  int mem_msgs = b->context_messages > 10 ? b->context_messages : 10;
  if (b->mem)
    memory_set_limits(b->mem, mem_msgs, cfg_int(c, CFG_BOT_MEMORY_TTL_S) * 1000);
  else
    b->mem = memory_new(mem_msgs, cfg_int(c, CFG_BOT_MEMORY_TTL_S) * 1000);
}

static int restore_setting(const char *scope, const char *key, const char *value, int64_t updated,
                           void *user) {
  (void)scope;
  (void)updated;
  bot *b = user;
  if (!cfg_key_find(key)) {
    LOG_W("bot", "live setting %s is not a known key any more; ignored", key);
    return 0;
  }
  if (cfg_set(b->cfg, key, value, CFG_SRC_LIVE)) {
    LOG_W("bot", "live setting %s = \"%s\" is no longer valid (%s); ignored", key, value,
          err_msg());
    err_clear();
  }
  return 0;
}

int bot_setting_set(bot *b, const char *key, const char *value) {
  const cfg_key *k = cfg_key_find(key);
  if (!k) return err_set(MIMIC_EINVAL, "%s is not a setting", key);
  if (k->secret) return err_set(MIMIC_EINVAL, "%s cannot be set live", key);
  int rc = cfg_set(b->cfg, key, value, CFG_SRC_LIVE);
  if (rc) return rc;
  rc = store_setting_set(b->db, "", key, value);
  if (rc)
    return err_prefix(rc, "%s was applied but not saved (it will not survive a restart)", key);
  bot_settings_apply(b);
  LOG_I("bot", "live setting %s = %s", key, value);
  return 0;
}

/* ---- privacy ------------------------------------------------------------------------------------
 */

static void drop_user_jobs(bot *b, uint64_t user);

static void set_ignored(bot *b, uint64_t user, uint32_t flags) {
  bool ign = (flags & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) != 0;
  if (ign)
    map_put(&b->ignored, user, (void *)(uintptr_t)flags);
  else
    map_del(&b->ignored, user);
  if (b->router) router_set_ignored_user(b->router, user, ign);
  if (ign && b->mem) memory_forget_user(b->mem, user);
  if (ign) drop_user_jobs(b, user);
}

int bot__privacy_refresh(bot *b, uint64_t user_id) {
  uint32_t flags = 0;
  int rc = store_user_flags(b->db, user_id, &flags);
  if (rc) return rc;
  set_ignored(b, user_id, flags);
  return 0;
}

int bot_privacy_reload(bot *b, uint64_t user_id) { return bot__privacy_refresh(b, user_id); }

static int load_flag(uint64_t user, uint32_t flag, const char *reason, int64_t set_ms, void *u) {
  (void)reason;
  (void)set_ms;
  bot *b = u;
  uintptr_t have = (uintptr_t)map_get(&b->ignored, user);
  if (flag & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT))
    set_ignored(b, user, (uint32_t)have | flag);
  return 0;
}

/* ---- construction -------------------------------------------------------------------------------
 */

int bot_new(const bot_opts *o, bot **out) {
  *out = NULL;
  if (!o || !o->config || !o->db)
    return err_set(MIMIC_EINVAL, "bot: a config and a store are required");
  bot *b = xcalloc(1, sizeof *b);
  b->cfg = o->config;
  b->db = o->db;
  b->backend = o->backend;
  if (o->actions) b->act = *o->actions;
  b->wake = o->wake;
  b->wake_user = o->wake_user;
  b->now_fn = o->now_ms;
  b->clock_user = o->clock_user;
  b->rng = o->seed ? o->seed : (clock_mono_ns() ^ 0x9E3779B97F4A7C15ULL);
  if (!b->rng) b->rng = 1;
  b->persona = xstrdup(o->persona ? o->persona : "");
  b->model_name = xstrdup(o->model_name ? o->model_name : cfg_str(b->cfg, CFG_ENGINE_MODEL));
  b->adapter_name =
      xstrdup(o->adapter_name ? o->adapter_name : cfg_str(b->cfg, CFG_ENGINE_ADAPTER));
  map_init(&b->chans);
  map_init(&b->ignored);
  map_init(&b->admins);
  pthread_mutex_init(&b->done_mu, NULL);
  pthread_cond_init(&b->done_cv, NULL);
  b->started_ms = bot__now(b);
  b->last_prune_ms = b->last_stats_prune_ms = b->started_ms;

  int rc = store_setting_each(b->db, "", restore_setting, b);
  if (rc) goto fail;
  bot_settings_apply(b);
  rc = store_user_flag_each(b->db, load_flag, b);
  if (rc) goto fail;
  *out = b;
  return 0;
fail:
  rc = err_prefix(rc, "starting the bot");
  bot_destroy(b);
  return rc;
}

static void job_free(bot_job *j) {
  if (!j) return;
  llm_result_destroy(j->res);
  mem_free(j);
}

/* Moves the completion list out under the lock. */
static bot_job *take_done(bot *b) {
  pthread_mutex_lock(&b->done_mu);
  bot_job *j = b->done_head;
  b->done_head = b->done_tail = NULL;
  pthread_mutex_unlock(&b->done_mu);
  return j;
}

void bot_destroy(bot *b) {
  if (!b) return;
  /* Cancel what runs, then wait until every callback has fired: the backend promises exactly one
   * on_done per accepted submit, and cancelled jobs finish promptly. */
  size_t it = 0;
  void *v;
  while (map_next(&b->chans, &it, NULL, &v)) {
    bot_chan *c = v;
    if (c->running) {
      c->running->cancelled = true;
      if (b->backend && llm_backend_cancel(b->backend, c->running->llm_id)) err_clear();
    }
    for (bot_job *j = c->head, *n; j; j = n) {
      n = j->next;
      job_free(j);
    }
    c->head = c->tail = NULL;
  }
  size_t waiting = b->n_callbacks;
  while (waiting > 0) {
    pthread_mutex_lock(&b->done_mu);
    while (!b->done_head) pthread_cond_wait(&b->done_cv, &b->done_mu);
    bot_job *j = b->done_head;
    b->done_head = b->done_tail = NULL;
    pthread_mutex_unlock(&b->done_mu);
    while (j) {
      bot_job *n = j->next;
      job_free(j);
      waiting--;
      j = n;
    }
  }
  it = 0;
  while (map_next(&b->chans, &it, NULL, &v)) mem_free(v);
  map_free(&b->chans);
  map_free(&b->ignored);
  map_free(&b->admins);
  router_destroy(b->router);
  memory_destroy(b->mem);
  pthread_mutex_destroy(&b->done_mu);
  pthread_cond_destroy(&b->done_cv);
  mem_free(b->persona);
  mem_free(b->model_name);
  mem_free(b->adapter_name);
  mem_free(b);
}

size_t bot_inflight(const bot *b) { return b->n_pending + b->n_running; }
uint64_t bot_self_id(const bot *b) { return b->self_id; }

/* ---- rendering messages for memory --------------------------------------------------------------
 */

typedef struct name_ctx {
  bot *b;
  store_user u;
  store_channel c;
} name_ctx;

static const char *lookup_name(char kind, uint64_t id, void *user) {
  name_ctx *n = user;
  if (kind == 'u') {
    if (id == n->b->self_id && n->b->self_name[0]) return n->b->self_name;
    if (store_user_get(n->b->db, id, &n->u) == 0) return store_user_shown(&n->u);
  } else if (kind == 'c') {
    if (store_channel_get(n->b->db, id, &n->c) == 0 && n->c.name[0]) return n->c.name;
  }
  err_clear();
  return NULL;
}

/* The text the model sees for a message: markup rendered as names, attachments named. */
static char *render_text(bot *b, const char *content, const discord_message *m) {
  buf out;
  buf_init(&out, MEMORY_TEXT_MAX * 2);
  name_ctx nc = {.b = b};
  /* Memory keeps 8 KiB of a message: render no more than that (a cut mention is copied as is). */
  char *cut = NULL;
  size_t cl = content ? strlen(content) : 0;
  if (cl > MEMORY_TEXT_MAX) {
    size_t k = MEMORY_TEXT_MAX;
    while (k > 0 && ((unsigned char)content[k] & 0xC0) == 0x80) k--;
    cut = mem_strndup(content, k);
    if (cut) content = cut;
  }
  if (collect_render(content ? content : "", lookup_name, &nc, &out)) {
    err_clear();
    buf_reset(&out);
    if (buf_puts(&out, content ? content : "")) err_clear();
  }
  if (m) {
    for (size_t i = 0; i < m->n_attachments && i < 4; i++)
      if (buf_printf(&out, "%s[attachment: %s]", out.len ? " " : "", m->attachments[i].filename))
        err_clear();
  }
  mem_free(cut);
  return buf_steal(&out);
}

/* Refills a channel's memory from the store after a restart or an expiry (messages younger than
 * the TTL), so the bot remembers what was said just before it came back. */
static void memory_refill(bot *b, uint64_t channel_id, uint64_t before_id) {
  if (memory_known(b->mem, channel_id, b->persona)) return;
  memory_mark_known(b->mem, channel_id, b->persona);
  store_msg_list l = {0};
  size_t want = (size_t)(b->context_messages > 10 ? b->context_messages : 10);
  if (store_msg_recent(b->db, channel_id, before_id, want, &l)) {
    LOG_W("bot", "channel %" PRIu64 ": could not read recent messages: %s", channel_id, err_msg());
    err_clear();
    return;
  }
  int64_t ttl = cfg_int(b->cfg, CFG_BOT_MEMORY_TTL_S) * 1000, now = bot__now(b);
  for (size_t i = 0; i < l.n; i++) {
    const store_msg *m = &l.items[i];
    if (ttl > 0 && now - m->ts_ms >= ttl) continue;
    if (map_get(&b->ignored, m->author_id)) continue;
    bool self = m->author_id == b->self_id;
    char *text = render_text(b, m->content, NULL);
    memory_add(b->mem, channel_id, b->persona, m->id, m->author_id, m->ts_ms, self,
               self ? b->self_name : m->author_shown, text);
    mem_free(text);
  }
  store_msg_list_free(&l);
}

/* ---- the queue
 * ----------------------------------------------------------------------------------- */

static void on_done(void *user, llm_result *res) {
  bot_job *j = user;
  bot *b = j->b;
  j->res = res;
  j->next = NULL;
  pthread_mutex_lock(&b->done_mu);
  if (b->done_tail)
    b->done_tail->next = j;
  else
    b->done_head = j;
  b->done_tail = j;
  pthread_cond_signal(&b->done_cv); /* bot_destroy may be waiting */
  /* Woken under the lock: once it is released, bot_destroy may free the bot (and the runtime
   * its wake handle), so nothing of either may be touched after the unlock. */
  if (b->wake) b->wake(b->wake_user);
  pthread_mutex_unlock(&b->done_mu);
}

static void unlink_pending(bot *b, bot_chan *c, bot_job *j) {
  bot_job **pp = &c->head;
  bot_job *prev = NULL;
  while (*pp && *pp != j) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  if (!*pp) return;
  *pp = j->next;
  if (c->tail == j) c->tail = prev;
  j->next = NULL;
  c->n_pending--;
  b->n_pending--;
}

/* Drops a job that will not be answered, recording why; the router forgets the message so its
 * cooldown charge is refunded. */
static void job_drop(bot *b, bot_job *j, const char *outcome, const char *why) {
  router_forget(b->router, j->channel_id, j->message_id);
  if (strcmp(outcome, "skipped") == 0) stats__count(b, "skipped", 1);
  stats__record(b, j, outcome, why);
  LOG_D("bot", "channel %" PRIu64 " message %" PRIu64 ": %s (%s)", j->channel_id, j->message_id,
        outcome, why);
  job_free(j);
}

/* Someone opted out, was excluded or purged: their waiting engagements are dropped and running
 * ones cancelled, so nothing more is said to them from what they wrote. */
static void drop_user_jobs(bot *b, uint64_t user) {
  size_t it = 0;
  void *v;
  while (map_next(&b->chans, &it, NULL, &v)) {
    bot_chan *c = v;
    for (bot_job *j = c->head, *n; j; j = n) {
      n = j->next;
      if (j->author_id != user) continue;
      unlink_pending(b, c, j);
      job_drop(b, j, "cancelled", "the author opted out or was excluded");
    }
    bot_job *r = c->running;
    if (r && r->author_id == user && !r->cancelled) {
      r->cancelled = true;
      b->n_running--;
      if (llm_backend_cancel(b->backend, r->llm_id)) err_clear();
    }
  }
}

static int submit(bot *b, bot_chan *c, bot_job *j);

/* Starts the channel's next waiting job when the channel is idle. */
static void pump(bot *b, bot_chan *c) {
  while (!c->running && c->head) {
    bot_job *j = c->head;
    unlink_pending(b, c, j);
    int rc = submit(b, c, j);
    if (rc == 0) return;
    if (rc == MIMIC_EBUSY) {
      /* The engine's queue is full: random engagements give way, addressed ones wait. */
      err_clear();
      if (!router_is_addressed(j->verdict)) {
        job_drop(b, j, "skipped", "engine busy");
        continue;
      }
      j->next = c->head;
      c->head = j;
      if (!c->tail) c->tail = j;
      c->n_pending++;
      b->n_pending++;
      b->retry_submit = true;
      return;
    }
    LOG_W("bot", "channel %" PRIu64 ": generation refused: %s", c->id, err_msg());
    stats__count(b, "errors", 1);
    job_drop(b, j, "error", err_msg());
    err_clear();
  }
}

/* Makes room for one more job when the bot is at bot.queue_max: the oldest waiting random
 * engagement goes first, then a running random one is cancelled. Returns false when everything
 * queued is addressed (then the new job is refused). */
static bool shed_one(bot *b) {
  bot_job *victim = NULL;
  bot_chan *vc = NULL;
  size_t it = 0;
  void *v;
  while (map_next(&b->chans, &it, NULL, &v)) {
    bot_chan *c = v;
    for (bot_job *j = c->head; j; j = j->next)
      if (!router_is_addressed(j->verdict) && (!victim || j->t0_ns < victim->t0_ns)) {
        victim = j;
        vc = c;
      }
  }
  if (victim) {
    unlink_pending(b, vc, victim);
    job_drop(b, victim, "skipped", "shed under load");
    return true;
  }
  it = 0;
  while (map_next(&b->chans, &it, NULL, &v)) {
    bot_chan *c = v;
    bot_job *r = c->running;
    if (r && !r->cancelled && !router_is_addressed(r->verdict)) {
      r->cancelled = true;
      if (llm_backend_cancel(b->backend, r->llm_id)) err_clear();
      b->n_running--; /* no longer counts against the cap; its callback still comes */
      stats__count(b, "skipped", 1);
      return true;
    }
  }
  return false;
}

static void admit(bot *b, bot_job *j) {
  if (b->restarting) {
    job_drop(b, j, "skipped", "restarting");
    return;
  }
  if (bot_inflight(b) >= b->queue_max) {
    if (!router_is_addressed(j->verdict) || !shed_one(b)) {
      LOG_W("bot",
            "channel %" PRIu64 ": %zu generations queued (bot.queue_max); message %" PRIu64
            " not answered",
            j->channel_id, bot_inflight(b), j->message_id);
      job_drop(b, j, "skipped", "queue full");
      return;
    }
  }
  bot_chan *c = chan_get(b, j->channel_id);
  j->next = NULL;
  if (c->tail)
    c->tail->next = j;
  else
    c->head = j;
  c->tail = j;
  c->n_pending++;
  b->n_pending++;
  pump(b, c);
}

static int submit(bot *b, bot_chan *c, bot_job *j) {
  if (!b->backend) return err_set(MIMIC_EUNSUPPORTED, "no engine is configured");
  memory_refill(b, j->channel_id, j->message_id);
  size_t cap = (size_t)b->context_messages + 1;
  const memory_entry **hist = xcalloc(cap, sizeof *hist);
  size_t n = memory_get(b->mem, j->channel_id, b->persona, bot__now(b), j->message_id, hist, cap);
  const memory_entry *cur = NULL;
  for (size_t i = 0; i < n && !cur; i++)
    if (hist[i]->id == j->message_id) cur = hist[i];
  if (!cur) {
    mem_free(hist);
    return err_set(MIMIC_ENOTFOUND, "message %" PRIu64 " is gone from memory (deleted or expired)",
                   j->message_id);
  }
  llm_request req;
  llm_request_init(&req);
  llm_request_from_config(&req, b->cfg);
  int ctx = (int)cfg_int(b->cfg, CFG_ENGINE_CTX);
  context_opts co = {
      .system_prompt = cfg_str(b->cfg, CFG_BOT_SYSTEM_PROMPT),
      .max_messages = b->context_messages,
      .budget_tokens = ctx - req.max_tokens - 8 < 16 ? 16 : ctx - req.max_tokens - 8,
  };
  context cx;
  int rc = context_build(&co, hist, n, cur, &cx);
  mem_free(hist);
  if (rc) return rc;
  char slot[32];
  snprintf(slot, sizeof slot, "%" PRIu64, j->channel_id);
  req.messages = cx.msgs;
  req.n_messages = cx.n;
  req.stop = cx.stops;
  req.n_stop = cx.n_stops;
  req.slot_key = slot;
  req.adapter = b->persona[0] ? b->persona : NULL;
  req.min_tokens = 1;
  req.sampling.seed = rng_next(b) | 1;
  /* Everything the job needs is set before the submit: its on_done may run at once on a worker. */
  j->b = b;
  j->attempts++;
  uint64_t t_submit = j->t_submit_ns;
  if (!j->t_submit_ns) j->t_submit_ns = clock_mono_ns();
  uint64_t id = 0;
  rc = llm_backend_submit(b->backend, &req, NULL, on_done, j, &id);
  context_free(&cx);
  if (rc) {
    j->attempts--;
    j->t_submit_ns = t_submit;
    return rc;
  }
  j->llm_id = id; /* read only on this thread (cancel), never by the worker */
  c->running = j;
  b->n_running++;
  b->n_callbacks++;
  int64_t now = bot__now(b);
  if (b->act.typing && now - c->typing_ms >= 1000) {
    if (b->act.typing(b->act.user, c->id)) err_clear();
    c->typing_ms = now;
  }
  return 0;
}

/* ---- completions --------------------------------------------------------------------------------
 */

static void finish(bot *b, bot_job *j) {
  bot_chan *c = chan_get(b, j->channel_id);
  if (c->running == j) c->running = NULL;
  if (!j->cancelled) b->n_running--;
  b->n_callbacks--;
  llm_result *r = j->res;
  j->queue_ms += r->queue_ms;
  j->gen_ms += r->prompt_ms + r->gen_ms;
  j->prompt_tokens += r->prompt_tokens;
  j->cached_tokens += r->cached_tokens;
  j->gen_tokens += r->gen_tokens;

  if (j->cancelled) {
    job_drop(b, j, "cancelled", "deleted, shed or shutting down");
    goto next;
  }
  if (r->finish == LLM_FINISH_ERROR) {
    LOG_W("bot", "channel %" PRIu64 ": generation failed: %s", j->channel_id, r->error_msg);
    stats__count(b, "errors", 1);
    if (router_is_addressed(j->verdict) && b->act.react &&
        b->act.react(b->act.user, j->channel_id, j->message_id, "\xE2\x9A\xA0\xEF\xB8\x8F"))
      err_clear();
    char msg[sizeof r->error_msg];
    str_lcpy(msg, r->error_msg, sizeof msg);
    job_drop(b, j, "error", msg);
    goto next;
  }

  /* Names the model may echo at the start: the bot's own first, then the person answered. */
  store_user au;
  const char *names[2] = {b->self_name, NULL};
  size_t n_names = 1;
  if (store_user_get(b->db, j->author_id, &au) == 0)
    names[n_names++] = store_user_shown(&au);
  else
    err_clear();
  char *text = reply_clean(r->text, names, n_names);
  if (!*text) {
    mem_free(text);
    if (j->attempts < 2) {
      /* Empty after cleaning: one more try with another seed. */
      llm_result_destroy(j->res);
      j->res = NULL;
      if (submit(b, c, j) == 0) return;
      LOG_W("bot", "channel %" PRIu64 ": retry refused: %s", j->channel_id, err_msg());
      err_clear();
    }
    stats__count(b, "empty", 1);
    job_drop(b, j, "empty", "the model produced nothing sendable");
    goto next;
  }
  /* Addressed in a server: reply to the message and ping its author only. Unprompted, or in a
   * DM: a plain message. */
  bool in_dm = c->is_dm || j->verdict == ROUTE_REPLY_DM;
  bool as_reply = !in_dm && (j->verdict == ROUTE_REPLY_MENTION || j->verdict == ROUTE_REPLY_REPLY);
  bot_send s = {.channel_id = j->channel_id,
                .text = text,
                .reply_to = as_reply ? j->message_id : 0,
                .ping_replied_user = as_reply};
  int rc =
      b->act.send ? b->act.send(b->act.user, &s) : err_set(MIMIC_EUNSUPPORTED, "no send action");
  int64_t now = bot__now(b);
  double latency = (double)(clock_mono_ns() - j->t0_ns) / 1e6;
  if (rc) {
    LOG_W("bot", "channel %" PRIu64 ": the reply could not be sent: %s", j->channel_id, err_msg());
    stats__count(b, "errors", 1);
    char msg[256];
    str_lcpy(msg, err_msg(), sizeof msg);
    err_clear();
    mem_free(text);
    job_drop(b, j, "refused", msg);
    goto next;
  }
  router_note_bot_spoke(b->router, j->channel_id, now);
  if (j->author_bot) c->bot_turns++;
  /* Remember the reply now (id 0) so the next turn sees it before the gateway echoes it; the
   * echo replaces this entry. */
  memory_add(b->mem, j->channel_id, b->persona, 0, b->self_id, now, true, b->self_name, text);
  stats__count(b, "replies", 1);
  j->queue_ms += (double)(j->t_submit_ns - j->t0_ns) / 1e6;
  j->latency_ms = latency;
  stats__record(b, j, "sent", "");
  LOG_D("bot", "channel %" PRIu64 ": replied to %" PRIu64 " (%s) in %.1f ms, %d tokens",
        j->channel_id, j->message_id, router_verdict_name(j->verdict), latency, j->gen_tokens);
  mem_free(text);
  job_free(j);
next:
  pump(b, c);
}

/* ---- polling ------------------------------------------------------------------------------------
 */

int bot_poll(bot *b) {
  int handled = 0;
  for (bot_job *j = take_done(b), *n; j; j = n) {
    n = j->next;
    j->next = NULL;
    finish(b, j);
    handled++;
  }
  int64_t now = bot__now(b);
  size_t it = 0;
  void *v;
  bool retry = b->retry_submit;
  b->retry_submit = false;
  while (map_next(&b->chans, &it, NULL, &v)) {
    bot_chan *c = v;
    if (c->running && !c->running->cancelled && b->act.typing &&
        now - c->typing_ms >= BOT_TYPING_MS) {
      if (b->act.typing(b->act.user, c->id)) err_clear();
      c->typing_ms = now;
    }
    if (retry && !c->running && c->head) pump(b, c);
  }
  if (now - b->last_prune_ms >= BOT_PRUNE_EVERY_MS) {
    memory_prune(b->mem, now);
    b->last_prune_ms = now;
  }
  if (now - b->last_stats_prune_ms >= 3600000) {
    if (store_bot_prune(b->db, now - BOT_STATS_KEEP_MS)) {
      LOG_W("bot", "pruning old statistics: %s", err_msg());
      err_clear();
    }
    b->last_stats_prune_ms = now;
  }
  if (b->restarting && !b->restart_requested && bot_inflight(b) == 0) {
    b->restart_requested = true;
    LOG_I("bot", "in-flight replies done; asking the runtime to restart");
    if (b->act.request_restart && b->act.request_restart(b->act.user)) {
      LOG_E("bot", "restart refused: %s", err_msg());
      err_clear();
    }
  }
  return handled;
}

/* ---- events -------------------------------------------------------------------------------------
 */

static int store_user_of(bot *b, const discord_message *m) {
  store_user u = {.id = m->author.id, .bot = m->author.bot};
  str_lcpy(u.name, m->author.username, sizeof u.name);
  const char *disp = m->has_member && m->member.nick[0] ? m->member.nick : m->author.global_name;
  str_lcpy(u.display_name, disp, sizeof u.display_name);
  return store_user_upsert(b->db, &u);
}

/* Stores the message and its author, and counts it as seen (when `seen`), in one transaction. */
static int store_message(bot *b, const discord_message *m, bool seen) {
  store_msg sm = {
      .id = m->id,
      .channel_id = m->channel_id,
      .guild_id = m->guild_id,
      .author_id = m->author.id,
      .webhook_id = m->webhook_id,
      .ts_ms = m->timestamp_ms ? m->timestamp_ms : discord_id_time_ms(m->id),
      .edited_ms = m->edited_ms,
      .type = m->type,
      .source = STORE_SRC_GATEWAY,
      .content = m->content,
      .embeds_text = "",
      .ref_message_id = m->ref_message_id,
      .ref_channel_id = m->ref_channel_id,
      .has = STORE_HAS_MENTIONS | STORE_HAS_ATTACHMENTS,
      .mentions = m->mentions,
      .n_mentions = m->n_mentions,
  };
  sm.flags = (m->pinned ? STORE_MSG_PINNED : 0) | (m->webhook_id ? STORE_MSG_WEBHOOK : 0) |
             (m->tts ? STORE_MSG_TTS : 0);
  store_attachment att[16];
  size_t na = m->n_attachments < 16 ? m->n_attachments : 16;
  for (size_t i = 0; i < na; i++)
    att[i] = (store_attachment){.id = m->attachments[i].id,
                                .filename = m->attachments[i].filename,
                                .url = m->attachments[i].url,
                                .size = (int64_t)m->attachments[i].size,
                                .content_type = m->attachments[i].content_type};
  sm.attachments = att;
  sm.n_attachments = na;
  /* Embeds' text, for the record (bots post embeds; people post links that unfurl). */
  buf eb;
  buf_init(&eb, 64 * 1024);
  for (size_t i = 0; i < m->n_embeds; i++) {
    const discord_embed *e = &m->embeds[i];
    const char *parts[] = {e->title, e->description, e->footer_text};
    for (size_t k = 0; k < 3; k++)
      if (parts[k][0] && buf_printf(&eb, "%s%s", eb.len ? "\n" : "", parts[k])) err_clear();
  }
  sm.embeds_text = eb.data ? eb.data : "";
  int rc = store_tx_begin(b->db);
  if (rc) goto out;
  if ((rc = store_user_of(b, m)) || (rc = store_msg_upsert(b->db, &sm, NULL)) ||
      (seen && (rc = store_bot_count(b->db, bot__now(b), "seen", 1)))) {
    store_tx_rollback(b->db);
    goto out;
  }
  rc = store_tx_commit(b->db);
out:
  buf_free(&eb);
  return rc;
}

static bool mentions(const discord_message *m, uint64_t id) {
  for (size_t i = 0; i < m->n_mentions; i++)
    if (m->mentions[i] == id) return true;
  return false;
}

static bool replies_to_self(bot *b, const discord_message *m) {
  if (!m->ref_message_id || !b->self_id) return false;
  if (m->ref_author_id) return m->ref_author_id == b->self_id;
  /* The payload did not carry the referenced message: look it up. */
  store_msg_list l = {0};
  bool mine = false;
  if (store_msg_get(b->db, m->ref_message_id, &l) == 0)
    mine = l.items[0].author_id == b->self_id;
  else
    err_clear();
  store_msg_list_free(&l);
  return mine;
}

static void chan_parent(bot *b, bot_chan *c, const discord_message *m) {
  if (c->parent_known) return;
  c->parent_known = true;
  c->is_dm = m->guild_id == 0 || m->channel_type == 1 || m->channel_type == 3;
  store_channel sc;
  int type = m->channel_type;
  if (store_channel_get(b->db, c->id, &sc) == 0) {
    if (type < 0) type = sc.type;
    if (type == STORE_CH_NEWS_THREAD || type == STORE_CH_PUBLIC_THREAD ||
        type == STORE_CH_PRIVATE_THREAD)
      c->parent_id = sc.parent_id;
  } else {
    err_clear();
  }
}

/* Keeps an event's error message aside: the rest of the flow may clear the thread's message.
 * bot_handle_event puts it back. Returns rc. */
static int keep(bot *b, int rc) {
  if (rc) str_lcpy(b->last_err, err_msg(), sizeof b->last_err);
  return rc;
}

/* Remembers the message and decides whether to answer it (starting the generation when the
 * channel is free). */
static void engage(bot *b, const discord_message *m, bool self, int64_t now, uint64_t t0) {
  bot_chan *c = chan_get(b, m->channel_id);
  chan_parent(b, c, m);
  memory_refill(b, m->channel_id, m->id);
  char *text = render_text(b, m->content, m);
  /* The echo of a reply replaces the placeholder remembered at send time. Memory ages on the
   * bot's own clock (arrival time), so a skewed clock cannot expire a message as it arrives. */
  if (self) memory_settle(b->mem, m->channel_id, b->persona, text);
  memory_add(b->mem, m->channel_id, b->persona, m->id, m->author.id, now, self,
             self ? b->self_name : shown_name(m), text);
  mem_free(text);
  if (!m->author.bot && !m->webhook_id) c->bot_turns = 0;
  if (!b->self_id || !b->backend) return; /* not READY yet, or collect-only */

  router_msg rm = {
      .id = m->id,
      .channel_id = m->channel_id,
      .parent_id = c->parent_id,
      .author_id = m->author.id,
      .webhook_id = m->webhook_id,
      .author_bot = m->author.bot,
      .system =
          m->author.system || (m->type != 0 && m->type != 19 && m->type != 20 && m->type != 23),
      .is_dm = c->is_dm,
      .mentions_bot = mentions(m, b->self_id),
      .reply_to_bot = !self && replies_to_self(b, m),
      .content = m->content,
  };
  if (m->author.bot && !self && c->bot_turns >= b->bot_turns_max) {
    LOG_D("bot", "channel %" PRIu64 ": %d replies to bots in a row; waiting for a person",
          m->channel_id, c->bot_turns);
    return;
  }
  router_verdict v = router_decide(b->router, &rm, now, rng_roll(b));
  LOG_T("bot", "message %" PRIu64 " in %" PRIu64 ": %s", m->id, m->channel_id,
        router_verdict_name(v));
  if (!router_is_reply(v)) return;
  bot_job *j = xcalloc(1, sizeof *j);
  j->b = b;
  j->channel_id = m->channel_id;
  j->message_id = m->id;
  j->author_id = m->author.id;
  j->author_bot = m->author.bot;
  j->verdict = v;
  j->t0_ns = t0;
  admit(b, j);
}

static int on_message(bot *b, const discord_message *m) {
  uint64_t t0 = clock_mono_ns();
  if (!m->has_author || !m->id || !m->channel_id) return 0;
  int64_t now = bot__now(b);
  bool self = b->self_id && m->author.id == b->self_id;
  /* Commands (people only; never from bots, webhooks or the bot itself). */
  if (!self && !m->author.bot && !m->webhook_id && admin__handle(b, m)) {
    stats__count(b, "seen", 1);
    return 0;
  }
  /* Excluded and opted-out people are neither stored nor remembered nor answered. */
  if (map_get(&b->ignored, m->author.id)) {
    if (!self) stats__count(b, "seen", 1);
    return 0;
  }
  /* The generation starts before the store write: a slow disk delays the record, not the reply.
   * The write still happens while this event is handled, so nothing is lost on a restart. */
  engage(b, m, self, now, t0);
  int rc = store_message(b, m, !self);
  if (rc) {
    rc = keep(b, err_prefix(rc, "message %" PRIu64 " not stored", m->id));
    if (!self) stats__count(b, "seen", 1);
  }
  return rc;
}

static int on_update(bot *b, const discord_message *m) {
  if (!m->has_content || !m->id) return 0;
  if (m->has_author && map_get(&b->ignored, m->author.id)) return 0;
  int64_t ed = m->edited_ms ? m->edited_ms : bot__now(b);
  int rc = store_msg_edit(b->db, m->id, m->content, ed);
  if (rc == MIMIC_ENOTFOUND) rc = 0; /* edits of messages from before the bot's time */
  keep(b, rc);
  char *text = render_text(b, m->content, m);
  memory_edit(b->mem, m->channel_id, m->id, text);
  mem_free(text);
  return rc;
}

static int on_delete(bot *b, uint64_t channel_id, uint64_t id) {
  int rc = keep(b, store_msg_delete(b->db, id));
  memory_remove(b->mem, channel_id, id);
  bot_chan *c = map_get(&b->chans, channel_id);
  if (!c) return rc;
  for (bot_job *j = c->head; j; j = j->next)
    if (j->message_id == id) {
      unlink_pending(b, c, j);
      job_drop(b, j, "cancelled", "message deleted");
      break;
    }
  if (c->running && c->running->message_id == id && !c->running->cancelled) {
    c->running->cancelled = true;
    b->n_running--;
    if (llm_backend_cancel(b->backend, c->running->llm_id)) err_clear();
  }
  return rc;
}

static int on_reaction(bot *b, const discord_reaction *r, bool add) {
  if (map_get(&b->ignored, r->user_id)) return 0;
  char key[160];
  if (r->emoji.id)
    snprintf(key, sizeof key, "%s:%" PRIu64, r->emoji.name, r->emoji.id);
  else
    str_lcpy(key, r->emoji.name, sizeof key);
  if (!key[0]) return 0;
  int rc =
      add ? store_reaction_add(b->db, r->message_id, key, r->emoji.id, r->emoji.name, r->user_id)
          : store_reaction_remove(b->db, r->message_id, key, r->user_id);
  if (rc == MIMIC_ENOTFOUND) { /* a reaction on a message from before the bot's time */
    err_clear();
    rc = 0;
  }
  return keep(b, rc);
}

static int store_channel_of(bot *b, const discord_channel *ch) {
  store_channel sc = {
      .id = ch->id, .guild_id = ch->guild_id, .parent_id = ch->parent_id, .type = ch->type};
  str_lcpy(sc.name, ch->name, sizeof sc.name);
  bot_chan *c = map_get(&b->chans, ch->id);
  if (c) {
    c->parent_known = true;
    c->parent_id = ch->is_thread ? ch->parent_id : 0;
  }
  return keep(b, store_channel_upsert(b->db, &sc));
}

static int on_ready(bot *b, const discord_ready *r) {
  b->self_id = r->user.id;
  const char *name = r->user.global_name[0] ? r->user.global_name : r->user.username;
  str_lcpy(b->self_name, name, sizeof b->self_name);
  router_set_self(b->router, b->self_id);
  LOG_I("bot", "ready as %s (%" PRIu64 ")", b->self_name, b->self_id);
  store_user u = {.id = r->user.id, .bot = true};
  str_lcpy(u.name, r->user.username, sizeof u.name);
  str_lcpy(u.display_name, r->user.global_name, sizeof u.display_name);
  return keep(b, store_user_upsert(b->db, &u));
}

static int on_guild(bot *b, const discord_guild *g) {
  if (g->unavailable) return 0;
  store_guild sg = {.id = g->id};
  str_lcpy(sg.name, g->name, sizeof sg.name);
  int rc = keep(b, store_tx_begin(b->db));
  if (rc) return rc;
  rc = keep(b, store_guild_upsert(b->db, &sg));
  for (size_t i = 0; !rc && i < g->n_channels; i++) rc = store_channel_of(b, &g->channels[i]);
  for (size_t i = 0; !rc && i < g->n_threads; i++) rc = store_channel_of(b, &g->threads[i]);
  if (rc) {
    store_tx_rollback(b->db);
    return rc;
  }
  return keep(b, store_tx_commit(b->db));
}

int bot_handle_event(bot *b, const discord_event *ev) {
  int rc = 0;
  switch (ev->type) {
  case DISCORD_EV_READY: rc = on_ready(b, &ev->u.ready); break;
  case DISCORD_EV_MESSAGE_CREATE: rc = on_message(b, &ev->u.message); break;
  case DISCORD_EV_MESSAGE_UPDATE: rc = on_update(b, &ev->u.message); break;
  case DISCORD_EV_MESSAGE_DELETE:
  case DISCORD_EV_MESSAGE_DELETE_BULK:
    for (size_t i = 0; i < ev->u.del.n_ids; i++) {
      int r = on_delete(b, ev->u.del.channel_id, ev->u.del.ids[i]);
      if (r && !rc) rc = r;
    }
    break;
  case DISCORD_EV_REACTION_ADD: rc = on_reaction(b, &ev->u.reaction, true); break;
  case DISCORD_EV_REACTION_REMOVE: rc = on_reaction(b, &ev->u.reaction, false); break;
  case DISCORD_EV_GUILD_CREATE:
  case DISCORD_EV_GUILD_UPDATE: rc = on_guild(b, &ev->u.guild); break;
  case DISCORD_EV_CHANNEL_CREATE:
  case DISCORD_EV_CHANNEL_UPDATE:
  case DISCORD_EV_THREAD_CREATE:
  case DISCORD_EV_THREAD_UPDATE: rc = store_channel_of(b, &ev->u.channel); break;
  case DISCORD_EV_STOPPED: LOG_W("bot", "the gateway stopped: %s", ev->u.stopped.message); break;
  default: break;
  }
  if (rc) return err_set(rc, "%s: %s", discord_event_name(ev->type), b->last_err);
  return 0;
}
