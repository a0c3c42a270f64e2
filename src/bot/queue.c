/* The reply queue: job admission (a bounded total that sheds random engagements first), per-channel
 * queues (one generation per channel at a time), the submit with its prompt, completions (clean,
 * retry once, send, remember, record) and cancellation. Everything here runs on the bot thread
 * except on_done, which only appends to the completion list and wakes the loop. Not here: deciding
 * whether to answer (router.c, events.c) or the bot's lifetime (bot.c). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BOT_LEVEL BOT_L_QUEUE
#include "bot/bot_int.h"
#include "bot/reply.h"
#include "store/scenario.h"

bot_chan *queue__chan(bot *b, uint64_t id) {
  bot_chan *c = map_get(&b->chans, id);
  if (!c) {
    c = xcalloc(1, sizeof *c);
    c->id = id;
    c->typing_ms = INT64_MIN / 2;
    map_put(&b->chans, id, c);
  }
  return c;
}

size_t bot_inflight(const bot *b) { return b->n_pending + b->n_running; }

static void free_urls(char **urls, size_t n) {
  for (size_t i = 0; i < n; i++) mem_free(urls[i]);
  mem_free(urls);
}

static void job_free(bot_job *j) {
  if (!j) return;
  free_urls(j->image_urls, j->n_image_urls);
  mem_free(j->instruction);
  mem_free(j->scene);
  mem_free(j->scene_cue);
  llm_result_destroy(j->res);
  if (j->itoken) {
    memset(j->itoken, 0, strlen(j->itoken)); /* a secret */
    mem_free(j->itoken);
  }
  mem_free(j);
}

/* Fills in a slash command's deferred response with text (at most BOT_IA_TEXT_MAX bytes each:
 * the edit first, the rest as follow-ups). Returns the first refusal, or 0. */
static int ia_fill(bot *b, const bot_job *j, const char *text) {
  size_t len = strlen(text), off = 0;
  int first = 0;
  for (int k = 0; off < len || k == 0; k++) {
    char part[2001];
    size_t cut = utf8_floor(text + off, len - off, 2000);
    memcpy(part, text + off, cut);
    part[cut] = 0;
    off += cut;
    bot_followup f = {.application_id = j->iapp, .token = j->itoken, .text = part};
    int (*fn)(void *, const bot_followup *) = k == 0 ? b->act.edit_original : b->act.followup;
    int rc = fn ? fn(b->act.user, &f) : err_set(MIMIC_EUNSUPPORTED, "no follow-up action");
    if (rc && !first) first = rc;
    if (rc || cut == 0) break;
  }
  return first;
}

/* ---- lists and counters ---- */

static void push_pending(bot *b, bot_chan *c, bot_job *j, bool front) {
  MIMIC_ASSERT(j->state == BOT_JOB_LOOSE);
  if (front) {
    j->next = c->head;
    c->head = j;
    if (!c->tail) c->tail = j;
  } else {
    j->next = NULL;
    if (c->tail)
      c->tail->next = j;
    else
      c->head = j;
    c->tail = j;
  }
  j->state = BOT_JOB_WAITING;
  c->n_pending++;
  b->n_pending++;
}

static void unlink_pending(bot *b, bot_chan *c, bot_job *j) {
  MIMIC_ASSERT(j->state == BOT_JOB_WAITING);
  bot_job **pp = &c->head;
  bot_job *prev = NULL;
  while (*pp && *pp != j) {
    prev = *pp;
    pp = &(*pp)->next;
  }
  MIMIC_ASSERT(*pp == j); /* a waiting job is in its channel's list */
  *pp = j->next;
  if (c->tail == j) c->tail = prev;
  j->next = NULL;
  j->state = BOT_JOB_LOOSE;
  MIMIC_ASSERT(c->n_pending > 0 && b->n_pending > 0);
  c->n_pending--;
  b->n_pending--;
}

/* Cancels a running generation: it stops counting against the cap at once; its callback still
 * comes and finish() drops it. */
static void cancel_running(bot *b, bot_job *j) {
  MIMIC_ASSERT(j->state == BOT_JOB_RUNNING && !j->cancelled);
  j->cancelled = true;
  MIMIC_ASSERT(b->n_running > 0);
  b->n_running--;
  if (b->backend && llm_backend_cancel(b->backend, j->llm_id)) err_clear();
}

/* Drops a job that will not be answered, recording why; the router forgets the message so its
 * cooldown charge is refunded. */
static void job_drop(bot *b, bot_job *j, const char *outcome, const char *why) {
  MIMIC_ASSERT(j->state == BOT_JOB_LOOSE || j->state == BOT_JOB_DONE);
  router_forget(b->router, j->channel_id, j->message_id);
  if (strcmp(outcome, "skipped") == 0) stats__count(b, "skipped", 1);
  stats__record(b, j, outcome, why);
  LOG_D("bot", "channel %" PRIu64 " message %" PRIu64 ": %s (%s)", j->channel_id, j->message_id,
        outcome, why);
  if (j->itoken && strcmp(outcome, "refused") != 0) {
    /* A slash command waits on "thinking...": say why nothing comes. */
    char text[400];
    snprintf(text, sizeof text, "I could not answer this time (%s). Please try again.",
             strcmp(outcome, "cancelled") == 0 ? "it was cancelled" : why);
    if (ia_fill(b, j, text)) err_clear();
  }
  job_free(j);
}

void queue__drop_user(bot *b, uint64_t user) {
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
    if (r && r->author_id == user && !r->cancelled) cancel_running(b, r);
  }
}

void queue__cancel_message(bot *b, uint64_t channel_id, uint64_t id) {
  bot_chan *c = map_get(&b->chans, channel_id);
  if (!c) return;
  for (bot_job *j = c->head; j; j = j->next)
    if (j->message_id == id) {
      unlink_pending(b, c, j);
      job_drop(b, j, "cancelled", "message deleted");
      break;
    }
  if (c->running && c->running->message_id == id && !c->running->cancelled)
    cancel_running(b, c->running);
}

/* ---- completions arrive on a worker ---- */

static void on_done(void *user, llm_result *res) {
  bot_job *j = user;
  bot *b = j->b;
  /* Exactly one on_done per accepted submit. The state is only read here: the bot thread still
   * sees the job RUNNING (it may cancel it) until it takes it from the list (take_done). */
  MIMIC_ASSERT(j->state == BOT_JOB_RUNNING);
  j->res = res;
  j->next = NULL;
  pthread_mutex_lock(&b->done_mu);
  if (b->done_tail)
    b->done_tail->next = j;
  else
    b->done_head = j;
  b->done_tail = j;
  pthread_cond_signal(&b->done_cv); /* queue__shutdown may be waiting */
  /* Woken under the lock: once it is released, bot_destroy may free the bot (and the runtime
   * its wake handle), so nothing of either may be touched after the unlock. */
  if (b->wake) b->wake(b->wake_user);
  pthread_mutex_unlock(&b->done_mu);
}

/* Moves the completion list out under the lock; its jobs are DONE from here on. */
static bot_job *take_done(bot *b) {
  pthread_mutex_lock(&b->done_mu);
  bot_job *j = b->done_head;
  b->done_head = b->done_tail = NULL;
  pthread_mutex_unlock(&b->done_mu);
  for (bot_job *d = j; d; d = d->next) {
    MIMIC_ASSERT(d->state == BOT_JOB_RUNNING);
    d->state = BOT_JOB_DONE;
  }
  return j;
}

/* ---- submitting ---- */

/* Builds the prompt from the channel's memory and submits it. The job is LOOSE (first try) or
 * DONE (the retry); on success it is RUNNING and the channel's one running job. */
static int submit(bot *b, bot_chan *c, bot_job *j) {
  MIMIC_ASSERT(j->state == BOT_JOB_LOOSE || j->state == BOT_JOB_DONE);
  MIMIC_ASSERT(c->running == NULL || c->running == j); /* one generation per channel */
  if (!b->backend) return err_set(MIMIC_EUNSUPPORTED, "no engine is configured");
  bot_persona *bp = NULL;
  const char *memkey = b->persona;
  if (j->persona_id) {
    bp = persona__get(b, j->persona_id);
    if (!bp)
      return err_set(MIMIC_ENOTFOUND, "persona %" PRId64 " is gone (removed or disabled)",
                     j->persona_id);
    memkey = bp->memkey;
    recall__refill_as(b, j->channel_id, j->message_id, memkey, bp->p.id, bp->p.name);
  } else {
    recall__refill(b, j->channel_id, j->message_id);
  }
  size_t cap = (size_t)b->context_messages + 1;
  const memory_entry **hist = xcalloc(cap, sizeof *hist);
  size_t n = memory_get(b->mem, j->channel_id, memkey, bot__now(b), j->message_id, hist, cap);
  const memory_entry *cur = NULL;
  /* A scheduled post answers its instruction, after the channel's recent messages. */
  memory_entry asked = {.ts_ms = bot__now(b), .name = "scheduler", .text = j->instruction};
  if (j->instruction) cur = &asked;
  memory_entry cue = {0};
  if (j->scene && bp) {
    /* A scene's line: what was said since the scene began (the bot user's own command answers
     * left out), then the cue naming whose turn it is. */
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
      const memory_entry *e = hist[i];
      if (e->id && e->id <= j->scene_from) continue;
      if (!e->self && e->author_id == b->self_id && e->name && strcmp(e->name, b->self_name) == 0)
        continue;
      hist[k++] = e;
    }
    n = k;
    /* at the command's place: recall and the like see the scene's messages as this conversation */
    cue = (memory_entry){
        .id = j->message_id, .ts_ms = bot__now(b), .name = "Scene", .text = j->scene_cue};
    cur = &cue;
  }
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
  char *sys = NULL;
  if (bp) {
    persona__request(b, bp, j->channel_id, j->guild_id, &req);
    sys = persona__system_prompt(b, bp, j->scene ? "everyone" : cur->name);
    if (sys && j->scene) {
      size_t l = strlen(sys) + strlen(j->scene) + 3;
      char *both = xalloc(l);
      snprintf(both, l, "%s\n\n%s", sys, j->scene);
      mem_free(sys);
      sys = both;
    }
  } else {
    persona__sampling(b, 0, j->channel_id, j->guild_id, &req); /* channel, server, global */
  }
  int ctx = (int)cfg_int(b->cfg, CFG_ENGINE_CTX);
  context_opts co = {
      .system_prompt = sys ? sys : cfg_str(b->cfg, CFG_BOT_SYSTEM_PROMPT),
      .max_messages = b->context_messages,
      .budget_tokens = ctx - req.max_tokens - 8 < 16 ? 16 : ctx - req.max_tokens - 8,
  };
  char *background = knowledge__build(b, j->guild_id, bp, hist, n, cur);
  co.background = background;
  context cx;
  int rc = context_build(&co, hist, n, cur, &cx);
  mem_free(background);
  mem_free(hist);
  mem_free(sys);
  if (rc) return rc;
  /* a KV slot per (channel, persona): switching persona never spoils another's cache */
  char slot[48];
  if (bp)
    snprintf(slot, sizeof slot, "%" PRIu64 ":p%" PRId64, j->channel_id, bp->p.id);
  else
    snprintf(slot, sizeof slot, "%" PRIu64, j->channel_id);
  req.messages = cx.msgs;
  req.n_messages = cx.n;
  req.stop = cx.stops;
  req.n_stop = cx.n_stops;
  req.slot_key = slot;
  if (!bp) req.adapter = b->persona[0] ? b->persona : NULL;
  req.min_tokens = 1;
  req.sampling.seed = bot__rng_next(b) | 1;
  req.image_urls = (const char *const *)j->image_urls;
  req.n_image_urls = j->n_image_urls;
  /* Everything the job needs is set before the submit: its on_done may run at once on a worker. */
  bot_job_state was = j->state;
  j->b = b;
  j->attempts++;
  j->state = BOT_JOB_RUNNING;
  uint64_t t_submit = j->t_submit_ns;
  if (!j->t_submit_ns) j->t_submit_ns = clock_mono_ns();
  uint64_t id = 0;
  rc = llm_backend_submit(b->backend, &req, NULL, on_done, j, &id);
  context_free(&cx);
  if (rc) {
    /* A refused submit never calls back: the job is as it was. */
    j->state = was;
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

/* Starts the channel's next waiting job when the channel is idle. */
static void pump(bot *b, bot_chan *c) {
  while (!c->running && c->head) {
    bot_job *j = c->head;
    if (j->vision_wait) return; /* its images are being described; the channel keeps its order */
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
      push_pending(b, c, j, true);
      b->retry_submit = true;
      return;
    }
    LOG_W("bot", "channel %" PRIu64 ": generation refused: %s", c->id, err_msg());
    stats__count(b, "errors", 1);
    job_drop(b, j, "error", err_msg());
    err_clear();
  }
}

/* ---- admission ---- */

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
      cancel_running(b, r);
      stats__count(b, "skipped", 1);
      return true;
    }
  }
  return false;
}

void queue__admit(bot *b, bot_job *j) {
  MIMIC_ASSERT(j->state == BOT_JOB_LOOSE && !j->cancelled && j->attempts == 0);
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
  bot_chan *c = queue__chan(b, j->channel_id);
  push_pending(b, c, j, false);
  pump(b, c);
}

/* ---- completions, on the bot thread ---- */

/* Sends a cleaned, non-empty reply, remembers and records it; a refused send is logged and
 * recorded. Takes ownership of j (text stays the caller's). */
/* Posts a persona's reply through the channel's webhook (a thread through its parent's). */
static int send_persona(bot *b, bot_chan *c, bot_job *j, bot_persona *bp, const char *text,
                        bool as_reply) {
  if (!b->act.persona_send) return err_set(MIMIC_EUNSUPPORTED, "no persona send action");
  const char *excerpt = NULL;
  const memory_entry *hist[1];
  if (as_reply &&
      memory_get(b->mem, j->channel_id, b->persona, bot__now(b), j->message_id, hist, 1) == 1 &&
      hist[0]->id == j->message_id)
    excerpt = hist[0]->text;
  const char *av = bp->p.avatar ? bp->p.avatar : "";
  bool thread = c->parent_id != 0;
  bot_persona_send s = {.channel_id = thread ? c->parent_id : j->channel_id,
                        .thread_id = thread ? j->channel_id : 0,
                        .guild_id = j->guild_id,
                        .username = bp->p.name,
                        .avatar_url = *av && !bp->avatar_file ? av : NULL,
                        .avatar_file = bp->avatar_file && bp->avatar_key[0] ? av : NULL,
                        .avatar_key = bp->avatar_key[0] ? bp->avatar_key : NULL,
                        .text = text,
                        .reply_to = as_reply ? j->message_id : 0,
                        .reply_user = as_reply ? j->author_id : 0,
                        .reply_excerpt = excerpt,
                        .ping_reply = as_reply,
                        .persona_id = bp->p.id};
  return b->act.persona_send(b->act.user, &s);
}

static void send_reply(bot *b, bot_chan *c, bot_job *j, const char *text) {
  /* Addressed in a server: reply to the message and ping its author only. Unprompted, or in a
   * DM: a plain message. */
  bool in_dm = c->is_dm || j->verdict == ROUTE_REPLY_DM;
  bool as_reply =
      !in_dm && !j->scene && (j->verdict == ROUTE_REPLY_MENTION || j->verdict == ROUTE_REPLY_REPLY);
  bot_persona *bp = j->persona_id ? persona__get(b, j->persona_id) : NULL;
  int rc;
  if (j->persona_id && !bp) {
    rc = err_set(MIMIC_ENOTFOUND, "persona %" PRId64 " was removed", j->persona_id);
  } else if (j->itoken) {
    /* a slash command (/ai): the answer fills in its deferred response */
    char *named = NULL;
    if (bp) {
      size_t n = strlen(bp->p.name) + strlen(text) + 8;
      named = xalloc(n);
      snprintf(named, n, "**%s**: %s", bp->p.name, text);
    }
    rc = ia_fill(b, j, named ? named : text);
    mem_free(named);
  } else if (bp && !in_dm) {
    rc = send_persona(b, c, j, bp, text, as_reply);
  } else if (bp) {
    /* DMs have no webhooks: the bot user speaks with the persona's name in front (which is how
     * its echo is known as the persona's) */
    char *named = NULL;
    size_t n = strlen(bp->p.name) + strlen(text) + 8;
    named = xalloc(n);
    snprintf(named, n, "**%s**: %s", bp->p.name, text);
    bot_send s = {.channel_id = j->channel_id, .text = named};
    rc = b->act.send ? b->act.send(b->act.user, &s) : err_set(MIMIC_EUNSUPPORTED, "no send action");
    mem_free(named);
  } else {
    bot_send s = {.channel_id = j->channel_id,
                  .text = text,
                  .reply_to = as_reply ? j->message_id : 0,
                  .ping_replied_user = as_reply};
    rc = b->act.send ? b->act.send(b->act.user, &s) : err_set(MIMIC_EUNSUPPORTED, "no send action");
  }
  int64_t now = bot__now(b);
  double latency = (double)(clock_mono_ns() - j->t0_ns) / 1e6;
  if (rc) {
    LOG_W("bot", "channel %" PRIu64 ": the reply could not be sent: %s", j->channel_id, err_msg());
    stats__count(b, "errors", 1);
    char msg[256];
    str_lcpy(msg, err_msg(), sizeof msg);
    err_clear();
    job_drop(b, j, "refused", msg);
    return;
  }
  if (j->author_bot) c->bot_turns++;
  /* Remember the reply now (id 0) so the next turn sees it before the gateway echoes it; the
   * echo replaces this entry. */
  if (bp) {
    persona__spoke(c, bp->p.id, now);
    /* a scene's turn passes on only once its line is posted */
    if (j->scene && store_scene_spoke(b->db, j->channel_id, bp->p.id, now)) {
      LOG_W("bot", "channel %" PRIu64 ": the scene's turn was not saved: %s", j->channel_id,
            err_msg());
      err_clear();
    }
    memory_add(b->mem, j->channel_id, bp->memkey, 0, b->self_id, now, true, bp->p.name, text);
  } else {
    router_note_bot_spoke(b->router, j->channel_id, now);
    memory_add(b->mem, j->channel_id, b->persona, 0, b->self_id, now, true, b->self_name, text);
  }
  stats__count(b, "replies", 1);
  j->queue_ms += (double)(j->t_submit_ns - j->t0_ns) / 1e6;
  j->latency_ms = latency;
  stats__record(b, j, "sent", "");
  LOG_D("bot", "channel %" PRIu64 ": %s%s replied to %" PRIu64 " (%s) in %.1f ms, %d tokens",
        j->channel_id, bp ? "persona " : "", bp ? bp->p.name : "", j->message_id,
        bp ? proute_why_name(j->why) : router_verdict_name(j->verdict), latency, j->gen_tokens);
  job_free(j);
}

static void finish(bot *b, bot_job *j) {
  MIMIC_ASSERT(j->state == BOT_JOB_DONE && j->res);
  bot_chan *c = queue__chan(b, j->channel_id);
  MIMIC_ASSERT(c->running == j); /* a cancelled job keeps its place until its callback */
  c->running = NULL;
  if (!j->cancelled) {
    MIMIC_ASSERT(b->n_running > 0);
    b->n_running--;
  }
  MIMIC_ASSERT(b->n_callbacks > 0);
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
    if (!j->itoken && router_is_addressed(j->verdict) && b->act.react &&
        b->act.react(b->act.user, j->channel_id, j->message_id, "\xE2\x9A\xA0\xEF\xB8\x8F"))
      err_clear();
    char msg[sizeof r->error_msg];
    str_lcpy(msg, r->error_msg, sizeof msg);
    job_drop(b, j, "error", msg);
    goto next;
  }

  /* Names the model may echo at the start: the bot's own and the person answered's, then any
   * speaker the channel's memory or the store knows (a community-trained model writes as one). */
  store_user au;
  const bot_persona *bp = j->persona_id ? persona__get(b, j->persona_id) : NULL;
  const char *names[2] = {bp ? bp->p.name : b->self_name, NULL};
  size_t n_names = 1;
  if (store_user_get(b->db, j->author_id, &au) == 0)
    names[n_names++] = store_user_shown(&au);
  else
    err_clear();
  recall_speakers rs = {.b = b, .channel_id = j->channel_id};
  char *text = reply_clean_speakers(r->text, names, n_names, recall__is_speaker, &rs);
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
  if (j->sink) {
    j->sink(b, j, text);
    stats__record(b, j, "sent", "");
    job_free(j);
  } else {
    send_reply(b, c, j, text);
  }
  mem_free(text);
next:
  pump(b, c);
}

void queue__vision_ready(bot *b, uint64_t channel_id, uint64_t message_id, char **urls,
                         size_t n_urls) {
  bot_chan *c = map_get(&b->chans, channel_id);
  for (bot_job *j = c ? c->head : NULL; j; j = j->next)
    if (j->message_id == message_id && j->vision_wait) {
      j->vision_wait = false;
      free_urls(j->image_urls, j->n_image_urls);
      j->image_urls = urls;
      j->n_image_urls = n_urls;
      urls = NULL;
      n_urls = 0;
    }
  free_urls(urls, n_urls);
  if (c) pump(b, c);
}

int queue__poll(bot *b) {
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
  return handled;
}

/* Cancels what runs, then waits until every callback has fired: the backend promises exactly one
 * on_done per accepted submit, and cancelled jobs finish promptly. */
void queue__shutdown(bot *b) {
  size_t it = 0;
  void *v;
  while (map_next(&b->chans, &it, NULL, &v)) {
    bot_chan *c = v;
    if (c->running && !c->running->cancelled) cancel_running(b, c->running);
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
      MIMIC_ASSERT(waiting > 0);
      job_free(j);
      waiting--;
      j = n;
    }
  }
  it = 0;
  while (map_next(&b->chans, &it, NULL, &v)) mem_free(v);
  map_free(&b->chans);
}
