/* Scenes (`!scenario`, and `/scenario` through the slash-command helper): a premise played by
 * personas in turn in one channel, with the people there joining in by talking. The scene's state
 * (premise, cast, whose turn, lines spoken) lives in the store (store/scenario.h), so it survives a
 * restart; each line is an ordinary persona job in the reply queue (queue.c builds its prompt from
 * the persona's card, the scene and what was said since it began, and posts it through the persona
 * send path). Not here: who answers ordinary messages (persona.c) or the sending itself (queue.c).
 *
 * Who may do what: starting and ending a scene is for the bot's admins and the channel's
 * moderators (Manage Messages, Manage Channels, Manage Server or Administrator, where Discord says
 * so: slash commands carry the member's permissions); advancing it and taking part is for
 * everyone, one line at a time. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOT_LEVEL BOT_L_SCENARIO
#include "bot/bot_int.h"
#include "store/scenario.h"

/* Discord permission bits that make someone a moderator of a scene. */
#define PERM_ADMINISTRATOR   (1ULL << 3)
#define PERM_MANAGE_CHANNELS (1ULL << 4)
#define PERM_MANAGE_GUILD    (1ULL << 5)
#define PERM_MANAGE_MESSAGES (1ULL << 13)

static void say(bot *b, const discord_message *m, const char *fmt, ...) MIMIC_PRINTF(3, 4);
static void say(bot *b, const discord_message *m, const char *fmt, ...) {
  if (!b->act.send) return;
  char text[1900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  bot_send s = {.channel_id = m->channel_id, .text = text, .reply_to = m->id};
  if (b->act.send(b->act.user, &s)) {
    LOG_W("bot", "channel %" PRIu64 ": could not answer a scenario command: %s", m->channel_id,
          err_msg());
    err_clear();
  }
}

static bool may_direct(const discord_message *m, bool admin) {
  const uint64_t mod =
      PERM_ADMINISTRATOR | PERM_MANAGE_CHANNELS | PERM_MANAGE_GUILD | PERM_MANAGE_MESSAGES;
  return admin || (m->has_member && (m->member.permissions & mod) != 0);
}

/* Whether persona bp may speak in the channel (a thread counts as its parent). */
static bool speaks_here(const bot_persona *bp, const bot_chan *c) {
  if (bp->p.n_channels == 0) return true;
  for (size_t i = 0; i < bp->p.n_channels; i++)
    if (bp->p.channels[i] == c->id || (c->parent_id && bp->p.channels[i] == c->parent_id))
      return true;
  return false;
}

/* The scene's line being generated or waiting in the channel, if any. */
static bool line_in_flight(bot_chan *c) {
  if (c->running && c->running->scene && !c->running->cancelled) return true;
  for (bot_job *j = c->head; j; j = j->next)
    if (j->scene) return true;
  return false;
}

/* "Glordon, Elio and Zorp" into out. */
static void cast_names(bot *b, const store_scene *sc, buf *out) {
  buf_reset(out);
  size_t shown = 0, known = 0;
  for (size_t i = 0; i < sc->n_cast; i++) known += persona__get(b, sc->cast[i]) != NULL;
  for (size_t i = 0; i < sc->n_cast; i++) {
    const bot_persona *bp = persona__get(b, sc->cast[i]);
    if (!bp) continue;
    const char *sep = shown == 0 ? "" : shown + 1 == known ? " and " : ", ";
    if (buf_printf(out, "%s**%s**", sep, bp->p.name)) err_clear();
    shown++;
  }
  if (!shown && buf_puts(out, "nobody (its personas were removed)")) err_clear();
}

/* Queues bp's next line in the scene sc, asked for by m (a job of the reply queue that answers the
 * scene, not m). Returns 0, or an error with a sentence. */
static int queue_line(bot *b, const discord_message *m, const store_scene *sc, bot_persona *bp) {
  buf names, scene, cue;
  buf_init(&names, 0);
  buf_init(&scene, 0);
  buf_init(&cue, 0);
  cast_names(b, sc, &names);
  int rc = buf_printf(&scene,
                      "You are taking part in a scene in this channel, played by %s, with the "
                      "people here joining in.\nPremise: %s\nStay in character as %s: write only "
                      "%s's own words and actions, never another character's or a person's.",
                      names.data ? names.data : "", sc->premise, bp->p.name, bp->p.name);
  /* the cue names the premise again: lore retrieval and World Info see its words too */
  if (!rc)
    rc = buf_printf(&cue,
                    sc->lines == 0
                        ? "(The scene begins. Open it as %s, in one short in-character message. "
                          "The premise: %s)"
                        : "(It is %s's turn. Continue the scene in one short in-character message, "
                          "answering what was just said and moving the story forward. The "
                          "premise: %s)",
                    bp->p.name, sc->premise);
  buf_free(&names);
  if (rc) {
    buf_free(&scene);
    buf_free(&cue);
    return rc;
  }
  bot_job *j = xcalloc(1, sizeof *j);
  j->b = b;
  j->channel_id = m->channel_id;
  j->message_id = m->id;
  j->author_id = m->author.id;
  j->guild_id = m->guild_id;
  j->verdict = ROUTE_REPLY_MENTION; /* asked for: never shed as a random engagement */
  j->persona_id = bp->p.id;
  j->why = PROUTE_SCENE;
  j->t0_ns = clock_mono_ns();
  j->scene = buf_steal(&scene);
  j->scene_cue = buf_steal(&cue);
  j->scene_from = sc->start_message_id;
  bot_chan *c = queue__chan(b, m->channel_id); /* !status: the last choice here */
  c->pick_persona = bp->p.id;
  c->pick_why = PROUTE_SCENE;
  c->pick_message = m->id;
  LOG_I("bot", "channel %" PRIu64 ": scene line by persona %s (asked by %" PRIu64 ")",
        m->channel_id, bp->p.name, m->author.id);
  queue__admit(b, j);
  return 0;
}

/* The persona whose turn it is from index from on (skipping removed ones); *idx gets its index. */
static bot_persona *turn_of(bot *b, const store_scene *sc, size_t from, size_t *idx) {
  for (size_t k = 0; k < sc->n_cast; k++) {
    size_t i = (from + k) % sc->n_cast;
    bot_persona *bp = persona__get(b, sc->cast[i]);
    if (bp) {
      *idx = i;
      return bp;
    }
  }
  return NULL;
}

/* Reads the cast "A,B,\"Lord X\"" (spaces only after commas, or inside quotes) from *p into ids.
 * Returns the number of personas, or 0 after answering what was wrong. */
static size_t parse_cast(bot *b, const discord_message *m, const char **p, int64_t *ids) {
  const char *s = *p;
  size_t n = 0;
  for (;;) {
    char name[STORE_PERSONA_NAME_MAX + 1];
    size_t l = 0;
    bool quoted = *s == '"';
    if (quoted) s++;
    while (*s && (quoted ? *s != '"' : (*s != ',' && !isspace((unsigned char)*s)))) {
      if (l + 1 < sizeof name) name[l++] = *s;
      s++;
    }
    if (quoted && *s == '"') s++;
    name[l] = 0;
    str_trim(name);
    if (*name) {
      int64_t id = proute_set_find(b->route, name);
      if (!id) {
        say(b, m, "No persona is called %.80s (%spersona list shows them).", name, b->prefix);
        return 0;
      }
      for (size_t i = 0; i < n; i++)
        if (ids[i] == id) {
          say(b, m, "%.80s is named twice in the cast.", name);
          return 0;
        }
      if (n == STORE_SCENE_CAST_MAX) {
        say(b, m, "A scene has at most %d personas.", STORE_SCENE_CAST_MAX);
        return 0;
      }
      ids[n++] = id;
    }
    if (*s != ',') break;
    s++;
    while (isspace((unsigned char)*s)) s++; /* "A, B" */
  }
  while (isspace((unsigned char)*s)) s++;
  *p = s;
  if (!n) say(b, m, "Name the personas who play the scene, separated by commas.");
  return n;
}

static void scene_start(bot *b, const discord_message *m, const char *args, bool admin) {
  if (!may_direct(m, admin)) {
    say(b, m,
        "Starting a scene is for the bot's admins and this channel's moderators; anyone can "
        "take part in one.");
    return;
  }
  if (!*args) {
    say(b, m, "Usage: %sscenario start <persona>[,<persona>...] <premise>", b->prefix);
    return;
  }
  bot_chan *c = queue__chan(b, m->channel_id);
  if (line_in_flight(c)) {
    say(b, m, "A scene's line is still being written here; start the new scene when it is posted.");
    return;
  }
  store_scene sc = {0};
  const char *rest = args;
  sc.n_cast = parse_cast(b, m, &rest, sc.cast);
  if (!sc.n_cast) return;
  if (!*rest) {
    say(b, m, "Give the scene a premise after the cast: %sscenario start %s <premise>", b->prefix,
        args);
    return;
  }
  if (strlen(rest) > STORE_SCENE_PREMISE_MAX) {
    say(b, m, "A premise is at most %d bytes.", STORE_SCENE_PREMISE_MAX);
    return;
  }
  for (size_t i = 0; i < sc.n_cast; i++) {
    const bot_persona *bp = persona__get(b, sc.cast[i]);
    if (bp && !speaks_here(bp, c)) {
      say(b, m, "%s does not speak in this channel (its channels are set with %spersona set).",
          bp->p.name, b->prefix);
      return;
    }
  }
  store_scene old;
  bool replaced = store_scene_get(b->db, m->channel_id, &old) == 0;
  err_clear();
  sc.channel_id = m->channel_id;
  sc.guild_id = m->guild_id;
  str_lcpy(sc.premise, rest, sizeof sc.premise);
  sc.started_by = m->author.id;
  sc.start_message_id = m->id;
  sc.started_ms = sc.updated_ms = bot__now(b);
  if (store_scene_put(b->db, &sc)) {
    say(b, m, "Could not start the scene: %s", err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " started a scene in channel %" PRIu64 " (%zu personas)",
        m->author.id, m->channel_id, sc.n_cast);
  buf names;
  buf_init(&names, 0);
  cast_names(b, &sc, &names);
  say(b, m,
      "%s: %s, played by %s. Join in by talking here; %sscenario next gives the next persona "
      "the word, %sscenario end closes it.",
      replaced ? "New scene (the last one here ended)" : "Scene", sc.premise,
      names.data ? names.data : "", b->prefix, b->prefix);
  buf_free(&names);
  size_t idx;
  bot_persona *bp = turn_of(b, &sc, 0, &idx);
  if (bp && queue_line(b, m, &sc, bp)) {
    LOG_W("bot", "channel %" PRIu64 ": the scene's first line: %s", m->channel_id, err_msg());
    err_clear();
  }
}

static void scene_next(bot *b, const discord_message *m, const store_scene *sc, const char *who) {
  bot_chan *c = queue__chan(b, m->channel_id);
  if (line_in_flight(c)) {
    say(b, m, "The last line is still being written; ask again when it is posted.");
    return;
  }
  bot_persona *bp = NULL;
  size_t idx = 0;
  if (*who) {
    int64_t id = proute_set_find(b->route, who);
    for (size_t i = 0; i < sc->n_cast && id; i++)
      if (sc->cast[i] == id) bp = persona__get(b, id);
    if (!bp) {
      say(b, m, "%.80s does not play in this scene.", who);
      return;
    }
  } else {
    bp = turn_of(b, sc, sc->next, &idx);
  }
  if (!bp) {
    say(b, m, "None of this scene's personas is here any more; %sscenario end closes it.",
        b->prefix);
    return;
  }
  if (queue_line(b, m, sc, bp)) {
    say(b, m, "Could not continue the scene: %s", err_msg());
    err_clear();
  }
}

static void scene_end(bot *b, const discord_message *m, const store_scene *sc, bool admin) {
  if (!may_direct(m, admin) && m->author.id != sc->started_by) {
    say(b, m,
        "Ending a scene is for whoever started it, the bot's admins and this channel's "
        "moderators.");
    return;
  }
  /* a line still waiting or being written is not posted after the end */
  bot_chan *c = queue__chan(b, m->channel_id);
  uint64_t pending[16];
  size_t np = 0;
  if (c->running && c->running->scene) pending[np++] = c->running->message_id;
  for (bot_job *j = c->head; j && np < 16; j = j->next)
    if (j->scene) pending[np++] = j->message_id;
  for (size_t i = 0; i < np; i++) queue__cancel_message(b, m->channel_id, pending[i]);
  if (store_scene_end(b->db, m->channel_id)) {
    say(b, m, "Could not end the scene: %s", err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " ended the scene in channel %" PRIu64, m->author.id,
        m->channel_id);
  say(b, m, "The scene ends after %" PRId64 " line%s. Thanks for playing!", sc->lines,
      sc->lines == 1 ? "" : "s");
}

static void scene_status(bot *b, const discord_message *m, const store_scene *sc) {
  buf names;
  buf_init(&names, 0);
  cast_names(b, sc, &names);
  size_t idx;
  const bot_persona *next = turn_of(b, sc, sc->next, &idx);
  say(b, m,
      "Scene here: %s\nPlayed by %s; %" PRId64 " line%s so far, started by <@%" PRIu64
      ">.%s%s%s %sscenario next moves it on.",
      sc->premise, names.data ? names.data : "", sc->lines, sc->lines == 1 ? "" : "s",
      sc->started_by, next ? " Next: **" : "", next ? next->p.name : "", next ? "**." : "",
      b->prefix);
  buf_free(&names);
}

void scenario__command(bot *b, const discord_message *m, const char *args, bool admin) {
  if (m->guild_id == 0) {
    say(b, m, "Scenes are played in a server's channels, not in DMs.");
    return;
  }
  if (persona__load(b, false)) err_clear();
  char sub[16];
  size_t n = 0;
  const char *p = args;
  while (*p && !isspace((unsigned char)*p) && n < sizeof sub - 1)
    sub[n++] = (char)tolower((unsigned char)*p++);
  sub[n] = 0;
  while (isspace((unsigned char)*p)) p++;
  if (strcmp(sub, "start") == 0) {
    scene_start(b, m, p, admin);
    return;
  }
  bool next = strcmp(sub, "next") == 0, end = strcmp(sub, "end") == 0 || strcmp(sub, "stop") == 0;
  if (*sub && !next && !end) {
    say(b, m,
        "Usage: %sscenario start <persona>[,<persona>...] <premise> | next [persona] | end, "
        "or %sscenario alone for the scene here.",
        b->prefix, b->prefix);
    return;
  }
  store_scene sc;
  int rc = store_scene_get(b->db, m->channel_id, &sc);
  if (rc == MIMIC_ENOTFOUND) {
    err_clear();
    say(b, m,
        "No scene is running here. %sscenario start <persona>[,<persona>...] <premise> begins one.",
        b->prefix);
    return;
  }
  if (rc) {
    say(b, m, "Could not read the scene: %s", err_msg());
    err_clear();
    return;
  }
  char who[STORE_PERSONA_NAME_MAX + 1];
  str_lcpy(who, p, sizeof who);
  str_trim(who);
  if (next)
    scene_next(b, m, &sc, who);
  else if (end)
    scene_end(b, m, &sc, admin);
  else
    scene_status(b, m, &sc);
}
