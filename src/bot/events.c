/* The event dispatcher, the top of the bot's stack: bot_handle_event turns each gateway event into
 * store writes and memory updates, runs text commands (admin.c), asks the router whether to answer
 * and hands engagements to the reply queue (queue.c). It keeps an event's first store error for the
 * caller; the rest of the flow still runs. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define BOT_LEVEL BOT_L_EVENTS
#include "bot/bot_int.h"
#include "store/webhooks.h"

/* The author's display name (discord_display_name: the server nickname, else the global name). */
static const char *display_name(const discord_message *m) {
  return discord_display_name(&m->author, m->has_member ? &m->member : NULL);
}

/* The name people see: the display name, else the username. */
static const char *shown_name(const discord_message *m) {
  const char *d = display_name(m);
  if (d[0]) return d;
  if (m->author.username[0]) return m->author.username;
  return "someone";
}

static double rng_roll(bot *b) { return prng_uniform(&b->rng); }

static int store_user_of(bot *b, const discord_message *m) {
  store_user u = {.id = m->author.id, .bot = m->author.bot};
  str_lcpy(u.name, m->author.username, sizeof u.name);
  str_lcpy(u.display_name, display_name(m), sizeof u.display_name);
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
  if (c->is_dm) { /* a !clear outlives restarts */
    char key[32];
    snprintf(key, sizeof key, "%" PRIu64, c->id);
    buf v;
    buf_init(&v, 64);
    if (store_setting_get(b->db, "dm_clear", key, &v) == 0) {
      if (str_to_u64(v.data ? v.data : "", &c->cleared_after)) err_clear();
    } else {
      err_clear();
    }
    buf_free(&v);
  }
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

/* The bot user's unprompted chance here: bot.response_rate and bot.cooldown_s layered (channel,
 * guild, configuration; `!setting`). A value that does not read leaves the router's own. */
static void layered_chance(bot *b, uint64_t guild_id, router_msg *rm) {
  buf v;
  buf_init(&v, 32);
  double rate, cool;
  bool ok = store_layer_resolve(b->db, b->cfg, 0, rm->channel_id, guild_id, "bot.response_rate", &v,
                                NULL) == 0 &&
            str_to_double(v.data ? v.data : "", &rate) == 0 &&
            store_layer_resolve(b->db, b->cfg, 0, rm->channel_id, guild_id, "bot.cooldown_s", &v,
                                NULL) == 0 &&
            str_to_double(v.data ? v.data : "", &cool) == 0;
  buf_free(&v);
  if (!ok) {
    err_clear();
    return;
  }
  rm->has_layered = true;
  rm->rate = rate;
  rm->cooldown_ms = (int64_t)(cool * 1000);
}

/* A job for the message (LOOSE): the bot user's when persona is 0. */
static bot_job *job_for(bot *b, const discord_message *m, router_verdict v, int64_t persona,
                        proute_why why, bool from_bot, uint64_t t0, bool vision_wait) {
  bot_job *j = xcalloc(1, sizeof *j);
  j->b = b;
  j->channel_id = m->channel_id;
  j->message_id = m->id;
  j->author_id = m->author.id;
  j->guild_id = m->guild_id;
  j->author_bot = from_bot;
  j->verdict = v;
  j->persona_id = persona;
  j->why = why;
  j->t0_ns = t0;
  j->vision_wait = vision_wait;
  return j;
}

/* The personas chosen for m, each as a job; returns how many. */
static size_t engage_personas(bot *b, bot_chan *c, const discord_message *m, int64_t author,
                              bool from_bot, uint64_t t0, int64_t now, const char *name,
                              const char *text, bool vision_wait) {
  proute_pick picks[10];
  size_t n = persona__route(b, c, m, author, picks, 10);
  for (size_t i = 0; i < n; i++) {
    /* A persona speaking here for the first time remembers what was said before, and this. */
    bot_persona *bp = persona__get(b, picks[i].id);
    if (bp && !memory_known(b->mem, m->channel_id, bp->memkey)) {
      recall__refill_as(b, m->channel_id, m->id, bp->memkey, bp->p.id, bp->p.name);
      memory_add(b->mem, m->channel_id, bp->memkey, m->id, m->author.id, now, false, name, text);
    }
    /* addressed answers behave like a mention (replied to, never shed); the rest like random */
    router_verdict v = proute_is_addressed(picks[i].why)
                           ? (c->is_dm ? ROUTE_REPLY_DM : ROUTE_REPLY_MENTION)
                           : ROUTE_REPLY_RANDOM;
    queue__admit(b, job_for(b, m, v, picks[i].id, picks[i].why, from_bot, t0, vision_wait));
  }
  return n;
}

/* Remembers the message and decides whether to answer it (starting the generation when the
 * channel is free): a persona first (persona.c), else the bot user (router.c). */
static void engage(bot *b, const discord_message *m, bool self, int64_t now, uint64_t t0) {
  bot_chan *c = queue__chan(b, m->channel_id);
  chan_parent(b, c, m);
  if (c->is_dm && !c->dm_user && !self && !m->author.bot) c->dm_user = m->author.id;
  /* One of mimic's personas (through its webhook, or the bot user's "**Name**: " fallback)? */
  char *clean = NULL;
  int64_t author = persona__author(b, m, &clean);
  const bot_persona *ap = author ? persona__get(b, author) : NULL;
  recall__refill(b, m->channel_id, m->id);
  char *text = recall__render(b, clean ? clean : m->content, m);
  mem_free(clean);
  bool bot_self = self && !author; /* the bot user speaking as itself */
  /* Images: described ones join the text now; the others are looked at on the vision worker and
   * this message's replies wait for them (vision.c). */
  bool vision_wait = !self && !author && vision__begin(b, m, &text);
  /* The echo of a reply replaces the placeholder remembered at send time. Memory ages on the
   * bot's own clock (arrival time), so a skewed clock cannot expire a message as it arrives. */
  if (bot_self) memory_settle(b->mem, m->channel_id, b->persona, text);
  const char *name = ap ? ap->p.name : bot_self ? b->self_name : shown_name(m);
  memory_add(b->mem, m->channel_id, b->persona, m->id, m->author.id, now, bot_self, name, text);
  persona__remember(b, m->channel_id, m, author, now, name, text);
  if (!m->author.bot && !m->webhook_id) c->bot_turns = 0;
  if (!b->self_id || !b->backend) { /* not READY yet, or collect-only */
    mem_free(text);
    return;
  }
  if (author) {
    /* The cast talking among itself: only a persona named or replied to answers, and only
     * bot.bot_turns_max times before a person speaks (no loops). The bot user stays out. */
    if (c->bot_turns >= b->bot_turns_max) {
      LOG_D("bot", "channel %" PRIu64 ": %d persona turns in a row; waiting for a person",
            m->channel_id, c->bot_turns);
    } else {
      engage_personas(b, c, m, author, true, t0, now, name, text, false);
    }
    mem_free(text);
    return;
  }

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
    mem_free(text);
    return;
  }
  /* The personas answer first, unless the bot user itself is @mentioned. */
  size_t answered = 0;
  if (!self && !rm.system && !rm.mentions_bot)
    answered = engage_personas(b, c, m, 0, m->author.bot || m->webhook_id, t0, now, name, text,
                               vision_wait);
  mem_free(text);
  if (answered) return;
  if (!rm.mentions_bot && !rm.reply_to_bot && !rm.is_dm) layered_chance(b, m->guild_id, &rm);
  router_verdict v = router_decide(b->router, &rm, now, rng_roll(b));
  LOG_T("bot", "message %" PRIu64 " in %" PRIu64 ": %s", m->id, m->channel_id,
        router_verdict_name(v));
  if (!router_is_reply(v)) return;
  if (!router_is_addressed(v) && m->guild_id && pjobs__quiet_now(b, m->guild_id, now)) {
    LOG_D("bot", "guild %" PRIu64 ": quiet hours; not joining in", m->guild_id);
    return;
  }
  queue__admit(b, job_for(b, m, v, 0, PROUTE_NONE, m->author.bot, t0, vision_wait));
}

static int on_message(bot *b, const discord_message *m) {
  uint64_t t0 = clock_mono_ns();
  if (!m->has_author || !m->id || !m->channel_id) return 0;
  int64_t now = bot__now(b);
  bool self = b->self_id && m->author.id == b->self_id;
  /* the bot's own game messages (its user's or a persona webhook's): their ids, for greying out
   * their buttons when the round closes */
  if ((self || m->webhook_id) && m->first_custom_id && m->first_custom_id[0])
    games__own_message(b, m);
  /* Commands (people only; never from bots, webhooks or the bot itself). */
  if (!self && !m->author.bot && !m->webhook_id) {
    /* a command may act in the channel (a scene's line): know its thread parent first */
    chan_parent(b, queue__chan(b, m->channel_id), m);
  }
  if (!self && !m->author.bot && !m->webhook_id && admin__handle(b, m)) {
    stats__count(b, "seen", 1);
    return 0;
  }
  /* Excluded and opted-out people are neither stored nor remembered nor answered. */
  if (map_get(&b->ignored, m->author.id)) {
    if (!self) stats__count(b, "seen", 1);
    return 0;
  }
  /* An answer or vote in a running game is stored but gets no chat reply (games.c). */
  if (!self && games__on_message(b, m)) {
    int rc = store_message(b, m, true);
    if (rc) {
      rc = keep(b, err_prefix(rc, "message %" PRIu64 " not stored", m->id));
      stats__count(b, "seen", 1);
    }
    return rc;
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
  /* A persona's message edited (by a moderator's tool, or mimic): remembered without its quote
   * line or name prefix, as it was. */
  char *clean = NULL;
  if (m->has_author) (void)persona__author(b, m, &clean);
  char *text = recall__render(b, clean ? clean : m->content, m);
  mem_free(clean);
  memory_edit(b->mem, m->channel_id, m->id, text);
  mem_free(text);
  return rc;
}

static int on_delete(bot *b, uint64_t channel_id, uint64_t id) {
  int rc = keep(b, store_msg_delete(b->db, id));
  if (store_persona_msg_delete(b->db, id)) err_clear(); /* a persona's: a reply to it is gone */
  vision__forget(b, id);
  memory_remove(b->mem, channel_id, id);
  queue__cancel_message(b, channel_id, id);
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
  const char *disp = discord_display_name(&r->user, NULL);
  const char *name = disp[0] ? disp : r->user.username;
  str_lcpy(b->self_name, name, sizeof b->self_name);
  router_set_self(b->router, b->self_id);
  LOG_I("bot", "ready as %s (%" PRIu64 ")", b->self_name, b->self_id);
  store_user u = {.id = r->user.id, .bot = true};
  str_lcpy(u.name, r->user.username, sizeof u.name);
  str_lcpy(u.display_name, disp, sizeof u.display_name);
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
  case DISCORD_EV_INTERACTION_CREATE: slash__handle(b, &ev->u.interaction); break;
  case DISCORD_EV_GUILD_MEMBER_ADD: slash__member_joined(b, &ev->u.member_add); break;
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
