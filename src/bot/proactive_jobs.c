/* Scheduled jobs in the bot: the scheduler (scheduler.h) ticked from bot_poll, the guild's
 * good-neighbour switches (proactive.h) read from the store and the config, and the job kinds.
 * Every kind that writes goes through the same generation path as replies (queue.c): a job with an
 * instruction instead of a message, answered in the channel's context by the bot user or a
 * persona; kinds that extend the lore hand the text to a sink instead of the channel. The prompts
 * live in one table below. */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define BOT_LEVEL BOT_L_PJOBS
#include "base/tz.h"
#include "bot/bot_int.h"
#include "bot/proactive.h"
#include "bot/scheduler.h"
#include "lore/lore.h"
#include "store/lore.h"
#include "store/games.h"
#include "store/media.h"
#include "store/scenario.h"
#include "store/webhooks.h"

#define PJOBS_TICK_MS      1000 /* how often due jobs are looked for */
#define PJOBS_MATERIAL_MAX 6000 /* bytes of messages quoted to a digest or summary */
#define PJOBS_SWEEP_MAX    200  /* image descriptions moved into the lore per sweep */
#define PJOBS_RECENT       50   /* a channel's recent messages read for its facts */

/* ---- the prompts, in one place ---- */

static const struct {
  const char *kind, *prompt;
} prompts[] = {
    {"daily_digest",
     "Write a short, friendly digest for the server of what happened yesterday, as a few bullet "
     "points, from the messages below. Name topics, not people's handles; no @mentions.\n\n"},
    {"channel_summary",
     "Summarise today's conversation in this channel in three or four sentences for someone who "
     "missed it, from the messages below. No @mentions.\n\n"},
    {"meme_drop",
     "Make one short, good-natured joke about what this channel has been talking about lately. "
     "One or two lines, no @mentions, nothing mean about anyone."},
    {"persona_chat",
     "Start a short, lively conversation with %s about something this channel has been talking "
     "about. Address %s by name and ask them something."},
    {"story_weave",
     "Write the next chapter of this server's shared story in one short paragraph, continuing from "
     "where it left off in the conversation (or beginning it if there is none), and end on a "
     "question or a choice for the readers."},
    {"world_builder",
     "Write one new lore entry that extends this world, consistent with what is known about it. "
     "First line: a short title. Then the entry in two to four sentences."},
    {"content_expansion",
     "From the recent talk in this channel, draft one short lore entry about a recurring topic, "
     "in-joke or fact of this community that a newcomer should know. First line: a short title. "
     "Then the entry in two to four sentences."},
};

static const char *prompt_of(const char *kind) {
  for (size_t i = 0; i < sizeof prompts / sizeof prompts[0]; i++)
    if (strcmp(prompts[i].kind, kind) == 0) return prompts[i].prompt;
  return NULL;
}

/* ---- the guild's switches ---- */

/* A proactive.* value for a guild: the store setting for scope guild:ID, else the config. */
static void guild_value(bot *b, uint64_t guild_id, cfg_id key, buf *out) {
  buf_reset(out);
  if (guild_id) {
    char scope[48];
    snprintf(scope, sizeof scope, "guild:%" PRIu64, guild_id);
    if (store_setting_get(b->db, scope, cfg_key_get(key)->name, out) == 0) return;
    err_clear();
    buf_reset(out);
  }
  if (buf_puts(out, cfg_str(b->cfg, key))) err_clear();
}

int pjobs__guild(bot *b, uint64_t guild_id, proactive_guild *g, char *tz, size_t tz_cap) {
  memset(g, 0, sizeof *g);
  buf v;
  buf_init(&v, 0);
  int rc = 0;
  bool on = false;
  guild_value(b, guild_id, CFG_PROACTIVE_ENABLED, &v);
  if (str_to_bool(v.data ? v.data : "", &on)) on = false, err_clear();
  g->enabled = on;
  guild_value(b, guild_id, CFG_PROACTIVE_JOBS, &v);
  str_lcpy(g->jobs, v.data ? v.data : "", sizeof g->jobs);
  guild_value(b, guild_id, CFG_PROACTIVE_CHANNELS, &v);
  str_lcpy(g->channels, v.data ? v.data : "", sizeof g->channels);
  guild_value(b, guild_id, CFG_PROACTIVE_QUIET_HOURS, &v);
  if (proactive_parse_quiet(v.data ? v.data : "", &g->quiet_from_min, &g->quiet_to_min)) {
    rc = err_prefix(MIMIC_EINVAL, "guild %" PRIu64 ": proactive.quiet_hours", guild_id);
    g->quiet_from_min = g->quiet_to_min = 0;
  }
  int64_t n;
  guild_value(b, guild_id, CFG_PROACTIVE_DAILY_CAP, &v);
  g->daily_cap = str_to_i64(v.data ? v.data : "", &n) || n < 0 || n > 1000
                     ? (int)cfg_int(b->cfg, CFG_PROACTIVE_DAILY_CAP)
                     : (int)n;
  guild_value(b, guild_id, CFG_PROACTIVE_ACTIVE_WINDOW_MIN, &v);
  g->active_window_min = str_to_i64(v.data ? v.data : "", &n) || n < 0 || n > 525600
                             ? (int)cfg_int(b->cfg, CFG_PROACTIVE_ACTIVE_WINDOW_MIN)
                             : (int)n;
  err_clear(); /* a bad number fell back to the config's */
  guild_value(b, guild_id, CFG_PROACTIVE_TZ, &v);
  str_lcpy(tz, v.data && *v.data ? v.data : "UTC", tz_cap);
  buf_free(&v);
  return rc;
}

/* Local midnight days_back days before the local day of now (Unix ms) in zone z; *minute (may be
 * NULL) receives now's minute of the local day. A midnight a daylight-saving change skips is the
 * first instant after the gap. */
static int64_t local_midnight_ms(const tz_zone *z, int64_t now, int days_back, int *minute) {
  int64_t local = tz_local(z, now / 1000);
  int64_t into = ((local % 86400) + 86400) % 86400;
  if (minute) *minute = (int)(into / 60);
  int64_t at[2], gap_end = 0;
  int k = tz_instants(z, local - into - (int64_t)days_back * 86400, at, &gap_end);
  return (k > 0 ? at[0] : gap_end) * 1000;
}

/* The facts about a channel now: its last message, the last person's, the day's posts so far. */
static int channel_facts(bot *b, uint64_t guild_id, uint64_t channel_id, const tz_zone *z,
                         int64_t now, proactive_facts *f) {
  memset(f, 0, sizeof *f);
  f->channel_id = channel_id;
  f->now_ms = now;
  int64_t midnight_ms = local_midnight_ms(z, now, 0, &f->local_minute);
  /* the cap counts what channels saw: runs of the kinds that post */
  size_t n_kinds, n_posting = 0;
  const proactive_kind *k = proactive_kinds(&n_kinds);
  const char *posting[32];
  for (size_t i = 0; i < n_kinds && n_posting < 32; i++)
    if (k[i].posts) posting[n_posting++] = k[i].name;
  int64_t posts = 0;
  int rc = store_sched_count_ok(b->db, guild_id, midnight_ms, posting, n_posting, &posts);
  if (rc) return rc;
  f->posts_today = (int)posts;
  store_msg_list l = {0};
  if ((rc = store_msg_recent(b->db, channel_id, 0, PJOBS_RECENT, &l))) return rc;
  if (l.n) {
    const store_msg *last = &l.items[l.n - 1];
    int64_t pid = 0;
    f->last_is_ours = last->author_id == b->self_id ||
                      (last->webhook_id && store_persona_msg_get(b->db, last->id, &pid) == 0);
    err_clear();
  }
  for (size_t i = l.n; i-- > 0;)
    if (!l.items[i].author_bot && !l.items[i].webhook_id) {
      f->last_human_ms = l.items[i].ts_ms;
      break;
    }
  store_msg_list_free(&l);
  return 0;
}

/* ---- what a job is told ---- */

typedef struct params {
  char persona[STORE_PERSONA_NAME_MAX + 1]; /* who speaks ("" the bot user) */
  char with[STORE_PERSONA_NAME_MAX + 1];    /* persona_chat, auto_scenario: the other one */
  char game[16];                            /* auto_minigame: trivia (default) or riddle */
  int64_t minutes;                          /* scenario_reveal: a scene's time (default 60) */
} params;

static void params_read(const char *json, params *p) {
  memset(p, 0, sizeof *p);
  json_t *o = json_loads(json && *json ? json : "{}", 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return;
  }
  const char *v = json_string_value(json_object_get(o, "persona"));
  if (v) str_lcpy(p->persona, v, sizeof p->persona);
  v = json_string_value(json_object_get(o, "with"));
  if (v) str_lcpy(p->with, v, sizeof p->with);
  v = json_string_value(json_object_get(o, "game"));
  if (v) str_lcpy(p->game, v, sizeof p->game);
  json_t *mins = json_object_get(o, "minutes");
  if (json_is_integer(mins)) p->minutes = json_integer_value(mins);
  json_decref(o);
}

static bot_persona *cast_member(bot *b, const char *name) {
  if (!name || !*name) return NULL;
  for (size_t i = 0; i < b->n_cast; i++) {
    store_persona *p = &b->cast[i].p;
    if (strcasecmp(p->name, name) == 0) return &b->cast[i];
    for (size_t k = 0; k < p->aliases.n; k++)
      if (strcasecmp(p->aliases.v[k], name) == 0) return &b->cast[i];
  }
  return NULL;
}

/* Messages of the guild's allowed channels (or of one channel) in [since, until), as "name: text"
 * lines, newest kept when over PJOBS_MATERIAL_MAX. */
typedef struct material {
  buf text;
  uint64_t guild_id;
  size_t n;
} material;

static int add_line(const store_msg *m, void *user) {
  material *mt = user;
  if (mt->guild_id && m->guild_id != mt->guild_id) return 0;
  if (m->author_bot || !*m->content) return 0;
  const char *who = m->author_shown && *m->author_shown ? m->author_shown : "someone";
  size_t n = strlen(m->content);
  if (n > 300) n = utf8_floor(m->content, n, 300);
  if (mt->text.len + n + 64 > PJOBS_MATERIAL_MAX) {
    /* keep the newest: drop the older half */
    size_t half = mt->text.len / 2;
    const char *nl = memchr(mt->text.data + half, '\n', mt->text.len - half);
    size_t cut = nl ? (size_t)(nl - mt->text.data) + 1 : mt->text.len;
    memmove(mt->text.data, mt->text.data + cut, mt->text.len - cut);
    mt->text.len -= cut;
    mt->text.data[mt->text.len] = 0;
  }
  if (buf_printf(&mt->text, "%s: %.*s\n", who, (int)n, m->content)) err_clear();
  mt->n++;
  return 0;
}

static int gather(bot *b, uint64_t guild_id, uint64_t channel_id, int64_t since, int64_t until,
                  material *mt) {
  buf_init(&mt->text, PJOBS_MATERIAL_MAX + 512);
  mt->guild_id = guild_id;
  mt->n = 0;
  store_msg_query q = {.channel_id = channel_id, .since_ms = since, .until_ms = until};
  return store_msg_each(b->db, &q, add_line, mt);
}

/* ---- sinks: lore instead of the channel ---- */

/* "Title\nentry" as a one-entry World Info book in scope j->sink_arg. */
static void lore_sink(bot *b, const bot_job *j, const char *text) {
  const char *nl = strchr(text, '\n');
  char title[128];
  size_t tn = nl ? (size_t)(nl - text) : strlen(text);
  if (tn >= sizeof title) tn = utf8_floor(text, tn, sizeof title - 1);
  memcpy(title, text, tn);
  title[tn] = 0;
  const char *body = nl ? nl + 1 : text;
  json_t *book = json_pack("{s:[{s:s, s:s, s:[s]}]}", "entries", "comment", str_trim(title),
                           "content", body, "keys", str_trim(title));
  char *js = book ? json_dumps(book, JSON_COMPACT) : NULL;
  json_decref(book);
  char name[96];
  snprintf(name, sizeof name, "scheduled:%s:%" PRId64, j->sink_arg[0] == 'd' ? "draft" : "lore",
           bot__now(b));
  if (!js || lore_add_book_json(b->db, name, js, strlen(js), j->sink_arg, b->emb, NULL)) {
    LOG_W("bot", "a scheduled lore entry could not be stored: %s", js ? err_msg() : "no memory");
    err_clear();
  } else {
    LOG_I("bot", "scheduled lore entry \"%s\" added to scope %s", title, j->sink_arg);
  }
  free(js);
}

/* ---- the kinds ---- */

typedef struct run_ctx {
  bot *b;
  const store_sched_job *job;
  int64_t now;
  const tz_zone *tz; /* the guild's zone, loaded once per run */
  char *detail;
  size_t cap;
} run_ctx;

/* Queues a generation in the job's channel: the instruction answered by the persona (or the bot
 * user), its text posted or handed to sink. */
static int queue_post(run_ctx *x, bot_persona *bp, char *instruction,
                      void (*sink)(bot *, const bot_job *, const char *), const char *sink_arg) {
  bot *b = x->b;
  if (!b->backend) {
    mem_free(instruction);
    return err_set(MIMIC_EUNSUPPORTED, "no model is loaded: scheduled posts need one");
  }
  bot_job *j = xcalloc(1, sizeof *j);
  j->b = b;
  j->channel_id = x->job->channel_id;
  j->guild_id = x->job->guild_id;
  j->verdict = ROUTE_REPLY_RANDOM;
  j->persona_id = bp ? bp->p.id : 0;
  j->t0_ns = clock_mono_ns();
  j->instruction = instruction;
  j->sink = sink;
  if (sink_arg) str_lcpy(j->sink_arg, sink_arg, sizeof j->sink_arg);
  queue__admit(b, j);
  snprintf(x->detail, x->cap, "queued %s%s%s", x->job->kind, bp ? " as " : "",
           bp ? bp->p.name : "");
  return 0;
}

/* The instruction with the channel's recent messages from the store (memory may have expired:
 * a scheduled post often follows a lull) appended as material. Takes ownership of nothing. */
static char *with_recent(run_ctx *x, const char *instruction) {
  buf ins;
  buf_init(&ins, PJOBS_MATERIAL_MAX * 2);
  if (buf_puts(&ins, instruction)) err_clear();
  store_msg_list l = {0};
  if (store_msg_recent(x->b->db, x->job->channel_id, 0, PJOBS_RECENT, &l)) {
    err_clear();
  } else {
    material mt = {.guild_id = x->job->guild_id};
    buf_init(&mt.text, PJOBS_MATERIAL_MAX + 512);
    for (size_t i = 0; i < l.n; i++) add_line(&l.items[i], &mt);
    if (mt.n &&
        (buf_puts(&ins, "\n\nRecent messages in the channel:\n") || buf_puts(&ins, mt.text.data)))
      err_clear();
    buf_free(&mt.text);
  }
  store_msg_list_free(&l);
  return buf_steal(&ins);
}

static int kind_material(run_ctx *x, bot_persona *bp, int64_t since, int64_t until,
                         bool whole_guild) {
  material mt;
  int rc = gather(x->b, x->job->guild_id, whole_guild ? 0 : x->job->channel_id, since, until, &mt);
  if (rc || mt.n == 0) {
    buf_free(&mt.text);
    if (rc) return rc;
    snprintf(x->detail, x->cap, "nothing to %s: no messages", whole_guild ? "digest" : "sum up");
    return SCHED_RUN_SKIPPED;
  }
  buf ins;
  buf_init(&ins, PJOBS_MATERIAL_MAX * 2);
  if (buf_puts(&ins, prompt_of(x->job->kind)) || buf_puts(&ins, mt.text.data)) err_clear();
  buf_free(&mt.text);
  return queue_post(x, bp, buf_steal(&ins), NULL, NULL);
}

typedef struct sweep {
  bot *b;
  int64_t last_ms;
  uint64_t last_id;
  json_t *entries;
} sweep;

static int sweep_one(const store_media *m, void *user) {
  sweep *sw = user;
  sw->last_ms = m->created_ms;
  sw->last_id = m->attachment_id;
  /* never a bot's image, nor one of someone excluded or opted out */
  if (!m->author_id || m->author_id == sw->b->self_id || map_get(&sw->b->ignored, m->author_id))
    return 0;
  json_array_append_new(sw->entries, json_pack("{s:s, s:s, s:[]}", "comment", "an image posted",
                                               "content", m->description, "keys"));
  return 0;
}

/* The media sweep: descriptions of images posted in the guild since the last sweep (vision's
 * store_media_since feed) join the guild's lore as one source, and the cursor moves in the same
 * transaction, so lore search and trivia can use what people showed. */
static int kind_media_sweep(run_ctx *x) {
  bot *b = x->b;
  /* the cursor (created_ms, attachment_id) is a store setting of scope "scheduler" */
  char key[64];
  snprintf(key, sizeof key, "media_sweep:%" PRIu64, x->job->guild_id);
  int64_t after_ms = 0;
  uint64_t after_id = 0;
  buf cur;
  buf_init(&cur, 64);
  int rc = store_setting_get(b->db, "scheduler", key, &cur);
  if (rc == MIMIC_ENOTFOUND) {
    rc = 0;
    err_clear();
  } else if (!rc &&
             (!cur.data || sscanf(cur.data, "%" SCNd64 ":%" SCNu64, &after_ms, &after_id) != 2)) {
    after_ms = 0, after_id = 0; /* unreadable: start over (the lore add is idempotent per text) */
  }
  buf_free(&cur);
  if (rc) return rc;
  sweep sw = {.b = b, .last_ms = after_ms, .last_id = after_id, .entries = json_array()};
  rc = store_media_since(b->db, x->job->guild_id, after_ms, after_id, PJOBS_SWEEP_MAX, sweep_one,
                         &sw);
  size_t n = json_array_size(sw.entries);
  if (!rc) rc = store_tx_begin(b->db);
  if (!rc) {
    if (n) {
      json_t *book = json_pack("{s:o}", "entries", sw.entries);
      sw.entries = NULL;
      char *js = json_dumps(book, JSON_COMPACT);
      json_decref(book);
      char name[96], scope[48];
      snprintf(name, sizeof name, "media-sweep:%" PRId64, x->now);
      snprintf(scope, sizeof scope, "guild:%" PRIu64, x->job->guild_id);
      rc = js ? lore_add_book_json(b->db, name, js, strlen(js), scope, b->emb, NULL)
              : err_set(MIMIC_ENOMEM, "out of memory");
      free(js);
    }
    if (!rc && (sw.last_ms != after_ms || sw.last_id != after_id)) {
      char val[64];
      snprintf(val, sizeof val, "%" PRId64 ":%" PRIu64, sw.last_ms, sw.last_id);
      rc = store_setting_set(b->db, "scheduler", key, val);
    }
    if (!rc) rc = store_tx_commit(b->db);
    if (rc) store_tx_rollback(b->db);
  }
  json_decref(sw.entries);
  if (rc) return rc;
  snprintf(x->detail, x->cap, "lore: %zu image description%s swept", n, n == 1 ? "" : "s");
  return n ? 0 : SCHED_RUN_SKIPPED;
}

/* Two different members of the cast for a conversation or a scene: the job's own choices, else
 * two chosen by the instant (runs vary; a restart picks the same). False when the cast has fewer
 * than two (detail says so). */
static bool pick_pair(run_ctx *x, bot_persona **a, bot_persona **o) {
  bot *b = x->b;
  if (*a && *o && *a != *o) return true;
  if (b->n_cast < 2) {
    snprintf(x->detail, x->cap, "%s needs two personas in the cast", x->job->kind);
    return false;
  }
  uint64_t h = hash_mix64((uint64_t)x->job->id * 1000003u + (uint64_t)x->now / 60000);
  size_t i = (size_t)(h % b->n_cast);
  if (!*a) *a = &b->cast[i];
  size_t ai = (size_t)(*a - b->cast);
  if (!*o || *o == *a) *o = &b->cast[(ai + 1 + (size_t)((h >> 20) % (b->n_cast - 1))) % b->n_cast];
  return *o != *a;
}

/* A command run by the scheduler as if the bot's own admin had typed it in the job's channel:
 * the answers go to the channel. */
static void as_command(run_ctx *x, discord_message *m) {
  memset(m, 0, sizeof *m);
  m->channel_id = x->job->channel_id;
  m->guild_id = x->job->guild_id;
  m->has_author = true;
  m->author.id = x->b->self_id;
  m->author.username = x->b->self_name;
  m->author.bot = true;
  m->content = "";
}

/* auto_scenario: two personas start a scene on what the channel has been talking about. */
static int kind_auto_scenario(run_ctx *x, bot_persona *bp, const params *p) {
  bot *b = x->b;
  store_scene sc;
  if (store_scene_get(b->db, x->job->channel_id, &sc) == 0) {
    snprintf(x->detail, x->cap, "a scene is already running here");
    return SCHED_RUN_SKIPPED;
  }
  err_clear();
  bot_persona *other = cast_member(b, p->with);
  if (!pick_pair(x, &bp, &other)) return SCHED_RUN_SKIPPED;
  /* the premise: the newest thing a person said here, as the scene's spark */
  char premise[400] = "";
  store_msg_list l = {0};
  if (store_msg_recent(b->db, x->job->channel_id, 0, PJOBS_RECENT, &l) == 0) {
    for (size_t i = l.n; i-- > 0 && !premise[0];)
      if (!l.items[i].author_bot && !l.items[i].webhook_id && strlen(l.items[i].content) >= 12) {
        size_t n = utf8_floor(l.items[i].content, strlen(l.items[i].content), 300);
        snprintf(premise, sizeof premise, "something happens that has to do with \"%.*s\"", (int)n,
                 l.items[i].content);
      }
  } else {
    err_clear();
  }
  store_msg_list_free(&l);
  if (!premise[0]) str_lcpy(premise, "an unexpected visitor arrives", sizeof premise);
  char args[1024];
  snprintf(args, sizeof args, "start %s, %s %s", bp->p.name, other->p.name, premise);
  discord_message m;
  as_command(x, &m);
  scenario__command(b, &m, args, true);
  if (store_scene_get(b->db, x->job->channel_id, &sc)) {
    err_clear();
    return err_set(MIMIC_EINVAL, "the scene did not start (see the channel's answer)");
  }
  snprintf(x->detail, x->cap, "queued auto_scenario with %s and %s", bp->p.name, other->p.name);
  return 0;
}

/* scenario_reveal: a scene here whose time is up ends. */
static int kind_scenario_reveal(run_ctx *x, const params *p) {
  store_scene sc;
  if (store_scene_get(x->b->db, x->job->channel_id, &sc)) {
    err_clear();
    snprintf(x->detail, x->cap, "no scene here");
    return SCHED_RUN_SKIPPED;
  }
  int64_t minutes = p->minutes > 0 ? p->minutes : 60;
  if (x->now - sc.started_ms < minutes * 60000) {
    snprintf(x->detail, x->cap, "the scene has time left");
    return SCHED_RUN_SKIPPED;
  }
  discord_message m;
  as_command(x, &m);
  scenario__command(x->b, &m, "end", true);
  snprintf(x->detail, x->cap, "posted: the scene's end after %" PRId64 " minutes", minutes);
  return 0;
}

typedef struct said {
  char text[256];
} said;

static void keep_answer(void *user, const char *text) {
  said *s = user;
  str_lcpy(s->text, text, sizeof s->text);
}

/* auto_minigame: a trivia round (or a riddle) in the channel, unless a game runs there. */
static int kind_auto_minigame(run_ctx *x, const params *p) {
  bot *b = x->b;
  store_game running;
  if (store_game_running(b->db, x->job->channel_id, &running) == 0) {
    snprintf(x->detail, x->cap, "a game is running here");
    return SCHED_RUN_SKIPPED;
  }
  err_clear();
  said s = {{0}};
  game_cmd g = {.guild_id = x->job->guild_id,
                .channel_id = x->job->channel_id,
                .user_id = b->self_id,
                .user_name = b->self_name,
                .admin = true,
                .args = strcmp(p->game, "riddle") == 0 ? "riddle" : "trivia",
                .reply = keep_answer, /* refusals ("a game is running") stay out of the channel */
                .reply_user = &s};
  games__cmd_game(b, &g);
  if (store_game_running(b->db, x->job->channel_id, &running)) {
    err_clear();
    snprintf(x->detail, x->cap, "no game started: %s", s.text[0] ? s.text : "?");
    return SCHED_RUN_SKIPPED;
  }
  snprintf(x->detail, x->cap, "queued auto_minigame (%s)", g.args);
  return 0;
}

static int run_kind(run_ctx *x) {
  bot *b = x->b;
  const char *kind = x->job->kind;
  params p;
  params_read(x->job->params, &p);
  bot_persona *bp = cast_member(b, p.persona);
  if (p.persona[0] && !bp)
    return err_set(MIMIC_ENOTFOUND, "persona %s is not in the cast (removed or disabled)",
                   p.persona);
  char scope[48];
  snprintf(scope, sizeof scope, "guild:%" PRIu64, x->job->guild_id);
  if (strcmp(kind, "media_sweep") == 0) return kind_media_sweep(x);
  if (strcmp(kind, "auto_scenario") == 0) return kind_auto_scenario(x, bp, &p);
  if (strcmp(kind, "scenario_reveal") == 0) return kind_scenario_reveal(x, &p);
  if (strcmp(kind, "auto_minigame") == 0) return kind_auto_minigame(x, &p);
  if (strcmp(kind, "daily_digest") == 0)
    return kind_material(x, bp, local_midnight_ms(x->tz, x->now, 1, NULL),
                         local_midnight_ms(x->tz, x->now, 0, NULL), true);
  if (strcmp(kind, "channel_summary") == 0)
    return kind_material(x, bp, local_midnight_ms(x->tz, x->now, 0, NULL), x->now + 1, false);
  if (strcmp(kind, "meme_drop") == 0 || strcmp(kind, "story_weave") == 0)
    return queue_post(x, bp, with_recent(x, prompt_of(kind)), NULL, NULL);
  if (strcmp(kind, "persona_chat") == 0) {
    bot_persona *other = cast_member(b, p.with);
    if (!pick_pair(x, &bp, &other)) return SCHED_RUN_SKIPPED;
    size_t n = strlen(prompt_of(kind)) + 2 * strlen(other->p.name) + 1;
    char *ins = xalloc(n);
    snprintf(ins, n, prompt_of(kind), other->p.name, other->p.name);
    char *full = with_recent(x, ins);
    mem_free(ins);
    return queue_post(x, bp, full, NULL, NULL);
  }
  if (strcmp(kind, "world_builder") == 0)
    return queue_post(x, bp, xstrdup(prompt_of(kind)), lore_sink, scope);
  if (strcmp(kind, "content_expansion") == 0) {
    char draft[64];
    snprintf(draft, sizeof draft, "draft:guild:%" PRIu64, x->job->guild_id);
    return queue_post(x, bp, with_recent(x, prompt_of(kind)), lore_sink, draft);
  }
  return err_set(MIMIC_EINVAL, "job kind %s is not one mimic runs (mimic schedule kinds)", kind);
}

/* The scheduler's run function: the guild's switches, then the kind. */
static int run(void *user, const store_sched_job *job, int64_t scheduled_ms, char *detail,
               size_t cap) {
  (void)scheduled_ms;
  bot *b = user;
  const proactive_kind *k = proactive_kind_find(job->kind);
  if (!k) return err_set(MIMIC_EINVAL, "job kind %s is not one mimic runs", job->kind);
  proactive_guild g;
  char tzname[64];
  if (pjobs__guild(b, job->guild_id, &g, tzname, sizeof tzname)) {
    LOG_W("bot", "%s", err_msg());
    err_clear();
  }
  int64_t now = bot__now(b);
  tz_zone *z = NULL;
  int rc = tz_load(tzname, &z);
  if (rc) return rc;
  proactive_facts f;
  if ((rc = channel_facts(b, job->guild_id, job->channel_id, z, now, &f))) {
    tz_free(z);
    return rc;
  }
  proactive_verdict v = proactive_check(&g, job->kind, &f);
  /* Kinds that only write lore need the switches, not a live channel. */
  if (!k->posts && v != PROACTIVE_OFF && v != PROACTIVE_JOB_OFF) v = PROACTIVE_OK;
  /* An admin's !drop: the channel must still be allowed, the rest is their call. */
  if (b->pjobs_force && (v == PROACTIVE_QUIET || v == PROACTIVE_CAP || v == PROACTIVE_DEAD ||
                         v == PROACTIVE_LAST_OURS))
    v = PROACTIVE_OK;
  if (v != PROACTIVE_OK) {
    tz_free(z);
    snprintf(detail, cap, "not now: %s", proactive_verdict_name(v));
    return SCHED_RUN_SKIPPED;
  }
  run_ctx x = {.b = b, .job = job, .now = now, .tz = z, .detail = detail, .cap = cap};
  rc = run_kind(&x);
  tz_free(z);
  return rc;
}

bool pjobs__quiet_now(bot *b, uint64_t guild_id, int64_t now) {
  proactive_guild g;
  char tzname[64];
  if (pjobs__guild(b, guild_id, &g, tzname, sizeof tzname)) err_clear();
  if (!g.enabled || g.quiet_from_min == g.quiet_to_min) return false;
  tz_zone *z = NULL;
  if (tz_load(tzname, &z)) {
    err_clear();
    return false;
  }
  int minute = 0;
  local_midnight_ms(z, now, 0, &minute);
  tz_free(z);
  return proactive_is_quiet(&g, minute);
}

/* ---- the tick ---- */

int pjobs__start(bot *b) {
  char tag[64];
  snprintf(tag, sizeof tag, "bot:%ld", (long)getpid());
  return sched_new(b->db, tag, &b->sched);
}

void pjobs__stop(bot *b) {
  sched_destroy(b->sched);
  b->sched = NULL;
}

void pjobs__tick(bot *b, int64_t now) {
  if (!b->sched || !b->self_id || now - b->last_sched_ms < PJOBS_TICK_MS) return;
  b->last_sched_ms = now;
  if (now - b->last_sched_prune_ms >= 3600000) { /* runs are kept a week */
    b->last_sched_prune_ms = now;
    if (store_sched_prune(b->db, now - 7 * 86400000LL, NULL)) {
      LOG_W("bot", "pruning scheduled runs: %s", err_msg());
      err_clear();
    }
  }
  int n = sched_tick(b->sched, now, run, b);
  if (n < 0) {
    LOG_W("bot", "scheduler: %s", err_msg());
    err_clear();
  }
}

typedef struct last_run {
  char *detail;
  size_t cap;
} last_run;

static int take_detail(const store_sched_run *r, void *user) {
  last_run *l = user;
  snprintf(l->detail, l->cap, "%s%s%s", r->status, r->detail[0] ? ": " : "", r->detail);
  return 1;
}

int pjobs__run_now(bot *b, const char *name, char *detail, size_t cap) {
  if (!b->sched) return err_set(MIMIC_EINVAL, "the scheduler is not running");
  int rc = sched_run_now(b->sched, name, bot__now(b), run, b);
  if (rc || !detail) return rc;
  store_sched_job j;
  last_run l = {detail, cap};
  snprintf(detail, cap, "ran");
  if (store_sched_get(b->db, name, &j) == 0) {
    int r = store_sched_runs(b->db, j.id, 1, take_detail, &l);
    if (r < 0) err_clear();
  } else {
    err_clear();
  }
  return 0;
}

/* ---- lore drafts (content_expansion's, scope draft:guild:ID): read and edited by admins ---- */

typedef struct draft_read {
  char *title;
  size_t tcap;
  buf *text;
  int rc;
} draft_read;

static int draft_chunk(const store_lore_chunk *c, void *user) {
  draft_read *d = user;
  if (!d->title[0] && c->title) str_lcpy(d->title, c->title, d->tcap);
  if (!d->rc && d->text->len) d->rc = buf_puts(d->text, "\n\n");
  if (!d->rc) d->rc = buf_puts(d->text, c->text ? c->text : "");
  return 0;
}

/* The draft's source when it is one of guild_id's drafts. */
static int draft_source(bot *b, uint64_t guild_id, int64_t id, store_lore_source *src) {
  char scope[64];
  snprintf(scope, sizeof scope, "draft:guild:%" PRIu64, guild_id);
  int rc = store_lore_source_get(b->db, id, src);
  if (rc == MIMIC_ENOTFOUND || (!rc && strcmp(src->scope, scope) != 0))
    return err_set(MIMIC_ENOTFOUND, "there is no lore draft #%" PRId64 " on this server", id);
  return rc;
}

int pjobs__draft_get(bot *b, uint64_t guild_id, int64_t id, char *title, size_t tcap, buf *text) {
  title[0] = 0;
  store_lore_source *src = xalloc(sizeof *src);
  int rc = draft_source(b, guild_id, id, src);
  mem_free(src);
  if (rc) return rc;
  draft_read d = {.title = title, .tcap = tcap, .text = text};
  rc = store_lore_chunks_of(b->db, id, draft_chunk, &d);
  return rc ? rc : d.rc;
}

int pjobs__draft_save(bot *b, uint64_t guild_id, int64_t id, const char *title, const char *text,
                      int64_t *new_id) {
  *new_id = 0;
  if (!title || !*title || !text || !*text)
    return err_set(MIMIC_EINVAL, "a draft needs a title and a text");
  store_lore_source *src = xalloc(sizeof *src);
  int rc = draft_source(b, guild_id, id, src);
  mem_free(src);
  if (rc) return rc;
  json_t *book = json_pack("{s:[{s:s, s:s, s:[s]}]}", "entries", "comment", title, "content", text,
                           "keys", title);
  char *js = book ? json_dumps(book, JSON_COMPACT) : NULL;
  json_decref(book);
  if (!js) return err_set(MIMIC_ENOMEM, "out of memory saving a draft");
  char name[96], scope[64];
  snprintf(name, sizeof name, "edited:%" PRId64 ":%" PRId64, id, bot__now(b));
  snprintf(scope, sizeof scope, "draft:guild:%" PRIu64, guild_id);
  /* the edited entry replaces the draft in one transaction: a kill keeps one or the other */
  rc = store_tx_begin(b->db);
  if (!rc) {
    rc = lore_add_book_json(b->db, name, js, strlen(js), scope, NULL, new_id);
    if (!rc) rc = store_lore_source_delete(b->db, id);
    if (!rc)
      rc = store_tx_commit(b->db); /* rolls back itself on failure */
    else
      store_tx_rollback(b->db);
  }
  free(js);
  return rc;
}
