/* Application (slash) commands: the one table of definitions (name, description, typed options,
 * who may use them, where, and the text command each is the twin of), the answer to every
 * INTERACTION_CREATE (commands, autocomplete, components), and the commands that have no text twin
 * (/ai, /rag, /greet, /admin-data, /finetune). A slash command with a text twin runs that text
 * command's own implementation (admin.c) with its arguments rebuilt from the options; a twin that
 * is not a text command is not defined, so commands appear as their text commands land. It is
 * not the registration (the runtime and `mimic commands` send what bot_commands lists). */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOT_LEVEL BOT_L_SLASH
#include "bot/bot_int.h"
#include "collect/collect.h"
#include "store/jobs.h"
#include "store/lore.h"

#define SLASH_STR_MAX  2000 /* longest option value read (the /ai prompt is capped at 1,500) */
#define SLASH_OPTS_MAX 25   /* options per level, as Discord allows */
#define SLASH_EXPORT_MAX                                                                           \
  (8u << 20) /* bytes of one member's export (Discord's upload cap is 25 MiB) */

typedef struct slash_def slash_def;
typedef void (*slash_fn)(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n);

struct slash_def {
  discord_command cmd;
  const char *twin; /* the text command this is the twin of; NULL: fn implements it here */
  slash_fn fn;
  bool admin;     /* bot.admins only (and Manage Server in the server, as Discord checks) */
  bool ephemeral; /* answers only the invoker sees */
  bool slow;      /* deferred first ("thinking..."), then filled in */
};

#define N(a)       (sizeof(a) / sizeof((a)[0]))
#define OPTS(a)    .options = a, .n_options = N(a)
#define CHOICES(a) .choices = a, .n_choices = N(a)

/* ---- option shapes ---- */

static const discord_cmd_option o_user_req[] = {
    {DISCORD_OPT_USER, "user", "The member", .required = true}};
static const discord_cmd_option o_exclude[] = {
    {DISCORD_OPT_USER, "user", "The member to leave out", .required = true},
    {DISCORD_OPT_STRING, "reason", "Why (kept in the privacy log)", .has_max = true, .max = 200}};
static const discord_cmd_option o_rate[] = {
    {DISCORD_OPT_NUMBER, "value", "Chance of joining a conversation unprompted (0-1)",
     .required = true, .has_min = true, .has_max = true, .min = 0, .max = 1}};
static const discord_cmd_option o_temp[] = {{DISCORD_OPT_NUMBER, "value",
                                             "Sampling temperature (0-2)", .required = true,
                                             .has_min = true, .has_max = true, .min = 0, .max = 2}};
static const discord_cmd_option o_maxlen[] = {{DISCORD_OPT_INTEGER, "tokens",
                                               "Longest reply in tokens", .required = true,
                                               .has_min = true, .min = 1}};
static const discord_cmd_choice c_onoff[] = {{"on", "on"}, {"off", "off"}};
static const discord_cmd_choice c_where[] = {{"this channel", ""}, {"the whole server", "server"}};
static const discord_cmd_option o_vision[] = {
    {DISCORD_OPT_STRING, "state", "Describe images or not (empty: show the state)",
     CHOICES(c_onoff)},
    {DISCORD_OPT_STRING, "where", "This channel or the whole server", CHOICES(c_where)}};

static const discord_cmd_option o_pname[] = {
    {DISCORD_OPT_STRING, "name", "The persona", .required = true, .autocomplete = true}};
static const discord_cmd_option o_padd[] = {
    {DISCORD_OPT_STRING, "name", "The new persona's name", .required = true, .has_max = true,
     .max = 80},
    {DISCORD_OPT_STRING, "description", "Who they are", .has_max = true, .max = 400}};
static const discord_cmd_option o_pset[] = {
    {DISCORD_OPT_STRING, "name", "The persona", .required = true, .autocomplete = true},
    {DISCORD_OPT_STRING, "field", "A card field (description, avatar, channels, ...) or a setting",
     .required = true, .autocomplete = true},
    {DISCORD_OPT_STRING, "value", "The new value", .required = true, .has_max = true, .max = 400}};
static const discord_cmd_option o_persona[] = {
    {DISCORD_OPT_SUB, "list", "The personas", .required = false},
    {DISCORD_OPT_SUB, "show", "A persona's card and settings here (admins)", OPTS(o_pname)},
    {DISCORD_OPT_SUB, "talk", "In a DM: talk to this persona (none: to me)", OPTS(o_pname)},
    {DISCORD_OPT_SUB, "add", "Add a persona (admins)", OPTS(o_padd)},
    {DISCORD_OPT_SUB, "remove", "Remove a persona (admins)", OPTS(o_pname)},
    {DISCORD_OPT_SUB, "set",
     "Change a persona's field, e.g. its channels (a channel's persona) (admins)", OPTS(o_pset)},
    {DISCORD_OPT_SUB, "greeting", "Edit a persona's greeting in a form (admins)", OPTS(o_pname)}};

static const discord_cmd_option o_ai[] = {
    {DISCORD_OPT_STRING, "prompt", "What to ask", .required = true, .has_max = true, .max = 1500},
    {DISCORD_OPT_STRING, "persona", "Who answers (default: me)", .autocomplete = true},
    {DISCORD_OPT_BOOLEAN, "private", "Only you see the answer", .required = false}};
static const discord_cmd_option o_rag[] = {{DISCORD_OPT_STRING, "query", "What to look up",
                                            .required = true, .autocomplete = true, .has_max = true,
                                            .max = 300}};
static const discord_cmd_option o_greet[] = {
    {DISCORD_OPT_USER, "member", "Who to welcome", .required = true},
    {DISCORD_OPT_STRING, "persona", "Who welcomes them (default: me)", .autocomplete = true}};
static const discord_cmd_option o_data[] = {
    {DISCORD_OPT_SUB, "export", "A member's stored messages as a file", OPTS(o_user_req)},
    {DISCORD_OPT_SUB, "purge", "Delete a member's data (asks first)", OPTS(o_user_req)},
    {DISCORD_OPT_SUB, "stats", "What the database holds", .required = false}};
static const discord_cmd_option o_finetune[] = {
    {DISCORD_OPT_SUB, "start", "Prepare the datasets and train a new adapter", .required = false},
    {DISCORD_OPT_SUB, "status", "The last training run: progress and loss curve",
     .required = false}};

/* The other helpers' commands, defined now: they appear once their text commands exist. */
static const discord_cmd_option o_game[] = {{DISCORD_OPT_STRING, "game", "trivia, riddle or story",
                                             .required = true, .autocomplete = true}};
static const discord_cmd_option o_scn_start[] = {
    {DISCORD_OPT_STRING, "cast", "The personas, comma-separated, in speaking order",
     .required = true, .has_max = true, .max = 300},
    {DISCORD_OPT_STRING, "premise", "The scene", .required = true, .has_max = true, .max = 400}};
static const discord_cmd_option o_scn_adv[] = {{DISCORD_OPT_STRING, "persona",
                                                "Who speaks next (default: whose turn it is)",
                                                .autocomplete = true, .has_max = true, .max = 80}};
static const discord_cmd_option o_scenario[] = {
    {DISCORD_OPT_SUB, "start", "Start a scene here", OPTS(o_scn_start)},
    {DISCORD_OPT_SUB, "next", "The next line of the scene", OPTS(o_scn_adv)},
    {DISCORD_OPT_SUB, "end", "End the scene", .required = false}};
static const discord_cmd_option o_user_opt[] = {
    {DISCORD_OPT_USER, "user", "The member (default: you)", .required = false}};
static const discord_cmd_option o_pts_change[] = {
    {DISCORD_OPT_USER, "user", "The member", .required = true},
    {DISCORD_OPT_INTEGER, "amount", "How many points", .required = true, .has_min = true, .min = 1},
    {DISCORD_OPT_STRING, "reason", "Why (audited)", .has_max = true, .max = 200}};
static const discord_cmd_option o_points[] = {
    {DISCORD_OPT_SUB, "check", "Points of a member", OPTS(o_user_opt)},
    {DISCORD_OPT_SUB, "grant", "Give points (admins)", OPTS(o_pts_change)},
    {DISCORD_OPT_SUB, "revoke", "Take points back (admins)", OPTS(o_pts_change)}};
static const discord_cmd_choice c_period[] = {{"all time", "all"}, {"this month", "month"}};
static const discord_cmd_option o_board[] = {
    {DISCORD_OPT_STRING, "period", "All time or this month", CHOICES(c_period)}};
static const discord_cmd_option o_story_start[] = {
    {DISCORD_OPT_STRING, "persona", "The narrator", .autocomplete = true},
    {DISCORD_OPT_STRING, "premise", "What the story is about", .has_max = true, .max = 400}};
static const discord_cmd_option o_story[] = {
    {DISCORD_OPT_SUB, "start", "Start an interactive story here", OPTS(o_story_start)},
    {DISCORD_OPT_SUB, "resume", "Resume the story here", .required = false},
    {DISCORD_OPT_SUB, "end", "End the story here", .required = false}};
static const discord_cmd_choice c_kinds[] = {
    {"auto scenario", "auto_scenario"},         {"scenario reveal", "scenario_reveal"},
    {"auto mini-game", "auto_minigame"},        {"media sweep", "media_sweep"},
    {"daily digest", "daily_digest"},           {"channel summary", "channel_summary"},
    {"content expansion", "content_expansion"}, {"meme drop", "meme_drop"},
    {"persona chat", "persona_chat"},           {"story weave", "story_weave"},
    {"world builder", "world_builder"}};
static const discord_cmd_option o_sched_add[] = {
    {DISCORD_OPT_STRING, "kind", "What the job does", .required = true, CHOICES(c_kinds)},
    {DISCORD_OPT_CHANNEL, "channel", "Where it posts (default: here)", .required = false},
    {DISCORD_OPT_STRING, "cron", "When, e.g. \"0 9 * * 1\" (default: the kind's cadence)",
     .has_max = true, .max = 100}};
static const discord_cmd_option o_sched_seed[] = {
    {DISCORD_OPT_CHANNEL, "channel", "Where they post (default: here)", .required = false}};
static const discord_cmd_option o_sched_name[] = {{DISCORD_OPT_STRING, "name",
                                                   "The job (from /schedule list)",
                                                   .required = true, .has_max = true, .max = 64}};
static const discord_cmd_option o_schedule[] = {
    {DISCORD_OPT_SUB, "list", "The scheduled jobs of this server", .required = false},
    {DISCORD_OPT_SUB, "kinds", "What each kind of job does", .required = false},
    {DISCORD_OPT_SUB, "add", "Add a job", OPTS(o_sched_add)},
    {DISCORD_OPT_SUB, "seed", "Add every kind with its default cadence", OPTS(o_sched_seed)},
    {DISCORD_OPT_SUB, "remove", "Remove a job", OPTS(o_sched_name)},
    {DISCORD_OPT_SUB, "run", "Run a job now", OPTS(o_sched_name)}};
static const discord_cmd_option o_drop[] = {
    {DISCORD_OPT_STRING, "what", "A job kind (meme_drop, story_weave, ...) or a job's name",
     .required = true, .has_max = true, .max = 64}};
static const discord_cmd_option o_draft_id[] = {
    {DISCORD_OPT_INTEGER, "id", "The draft's number (from /drafts list)", .required = true}};
static const discord_cmd_option o_drafts[] = {
    {DISCORD_OPT_SUB, "list", "The lore drafts waiting for approval", .required = false},
    {DISCORD_OPT_SUB, "show", "Show a draft in full", OPTS(o_draft_id)},
    {DISCORD_OPT_SUB, "edit", "Edit a draft in a form, saved when you submit it", OPTS(o_draft_id)},
    {DISCORD_OPT_SUB, "approve", "Add a draft to this server's lore", OPTS(o_draft_id)},
    {DISCORD_OPT_SUB, "reject", "Delete a draft", OPTS(o_draft_id)}};
static const discord_cmd_choice c_addrm[] = {{"add", "add"}, {"remove", "remove"}};
static const discord_cmd_option o_cfgp_channel[] = {
    {DISCORD_OPT_STRING, "action", "Add or remove", .required = true, CHOICES(c_addrm)},
    {DISCORD_OPT_CHANNEL, "channel", "The channel (default: here)", .required = false}};
static const discord_cmd_option o_cfgp_text[] = {
    {DISCORD_OPT_STRING, "value", "The new value", .required = true, .has_max = true, .max = 200}};
static const discord_cmd_option o_cfgp_int[] = {
    {DISCORD_OPT_INTEGER, "value", "The new value", .required = true}};
static const discord_cmd_option o_cfgp[] = {
    {DISCORD_OPT_SUB, "show", "The switches of this server", .required = false},
    {DISCORD_OPT_SUB, "on", "Turn scheduled posts on", .required = false},
    {DISCORD_OPT_SUB, "off", "Turn scheduled posts off", .required = false},
    {DISCORD_OPT_SUB, "channel", "Allow or disallow a channel", OPTS(o_cfgp_channel)},
    {DISCORD_OPT_SUB, "jobs", "Which kinds run: KIND,KIND or all", OPTS(o_cfgp_text)},
    {DISCORD_OPT_SUB, "quiet", "Quiet hours HH:MM-HH:MM, or off", OPTS(o_cfgp_text)},
    {DISCORD_OPT_SUB, "cap", "Most scheduled posts per day", OPTS(o_cfgp_int)},
    {DISCORD_OPT_SUB, "window", "Post only where people spoke within MIN minutes",
     OPTS(o_cfgp_int)},
    {DISCORD_OPT_SUB, "tz", "The server's time zone (IANA name)", OPTS(o_cfgp_text)}};

static void ai_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);
static void rag_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);
static void greet_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);
static void data_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);
static void finetune_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);

#define ADMIN_PERMS DISCORD_PERM_MANAGE_GUILD

/* The one table. Keep descriptions at most 100 characters (discord_commands_check). */
static const slash_def defs[] = {
    /* slash-only */
    {{"ai", "Ask the model directly (optionally as a persona)", .dm = true, OPTS(o_ai)},
     .fn = ai_fn,
     .slow = true},
    {{"rag", "Search the lore and show the passages with their sources", .dm = true, OPTS(o_rag)},
     .fn = rag_fn},
    {{"greet", "A persona welcomes a member", OPTS(o_greet)}, .fn = greet_fn, .ephemeral = true},
    {{"admin-data", "A member's data export or purge, and storage statistics (admins)",
      .permissions = ADMIN_PERMS, OPTS(o_data)},
     .fn = data_fn,
     .admin = true,
     .ephemeral = true},
    {{"finetune", "Train a new voice from the server's history, or show its progress (admins)",
      .permissions = ADMIN_PERMS, OPTS(o_finetune)},
     .fn = finetune_fn,
     .admin = true,
     .ephemeral = true},
    /* twins of the text commands */
    {{"status", "Uptime, model, memory, settings and 24 h statistics (admins)",
      .permissions = ADMIN_PERMS},
     .twin = "status",
     .admin = true,
     .ephemeral = true},
    {{"setrate", "Set the chance of joining a conversation unprompted (admins)",
      .permissions = ADMIN_PERMS, OPTS(o_rate)},
     .twin = "setrate",
     .admin = true,
     .ephemeral = true},
    {{"settemp", "Set the sampling temperature (admins)", .permissions = ADMIN_PERMS, OPTS(o_temp)},
     .twin = "settemp",
     .admin = true,
     .ephemeral = true},
    {{"setmaxlen", "Set the longest reply in tokens (admins)", .permissions = ADMIN_PERMS,
      OPTS(o_maxlen)},
     .twin = "setmaxlen",
     .admin = true,
     .ephemeral = true},
    {{"restart", "Restart after the replies in flight are sent (admins)",
      .permissions = ADMIN_PERMS},
     .twin = "restart",
     .admin = true,
     .ephemeral = true},
    {{"fetch", "Start fetching channel history (admins)", .permissions = ADMIN_PERMS},
     .twin = "fetch",
     .admin = true,
     .ephemeral = true},
    {{"exclude", "Never learn from or answer a member (admins)", .permissions = ADMIN_PERMS,
      OPTS(o_exclude)},
     .twin = "exclude",
     .admin = true,
     .ephemeral = true},
    {{"include", "Undo /exclude (admins)", .permissions = ADMIN_PERMS, OPTS(o_user_req)},
     .twin = "include",
     .admin = true,
     .ephemeral = true},
    {{"vision", "Describe the images people post here or on the whole server (admins)",
      .permissions = ADMIN_PERMS, OPTS(o_vision)},
     .twin = "vision",
     .admin = true,
     .ephemeral = true},
    {{"optout", "Stop the bot learning from your messages", .dm = true},
     .twin = "optout",
     .ephemeral = true},
    {{"optin", "Let the bot learn from your messages again", .dm = true},
     .twin = "optin",
     .ephemeral = true},
    {{"forgetme", "Delete your stored messages and opt out", .dm = true},
     .twin = "forgetme",
     .ephemeral = true,
     .slow = true},
    {{"persona", "The personas: list them, talk to one in a DM; admins add, show, set, remove",
      .dm = true, OPTS(o_persona)},
     .twin = "persona",
     .ephemeral = true},
    {{"clear", "In a DM: start our conversation over", .dm = true},
     .twin = "clear",
     .ephemeral = true},
    {{"help", "The commands you can use", .dm = true}, .twin = "help", .ephemeral = true},
    /* twins of commands that other parts bring (defined once their text command exists) */
    {{"scenario", "Start, advance or end a scene the personas play", OPTS(o_scenario)},
     .twin = "scenario"},
    {{"game", "Start a game here: trivia, riddle or story", .dm = true, OPTS(o_game)},
     .twin = "game"},
    {{"minigame", "Start a mini-game here: trivia, riddle or story", .dm = true, OPTS(o_game)},
     .twin = "minigame"},
    {{"points", "Check points; admins grant or revoke them", .dm = true, OPTS(o_points)},
     .twin = "points"},
    {{"leaderboard", "The server's top players", OPTS(o_board)}, .twin = "leaderboard"},
    {{"profile", "A member's points, games, favourite persona and privacy state", .dm = true,
      OPTS(o_user_opt)},
     .twin = "profile",
     .ephemeral = true},
    {{"story", "An interactive story narrated by a persona", .dm = true, OPTS(o_story)},
     .twin = "story"},
    {{"schedule", "List, add or remove scheduled posts (admins)", .permissions = ADMIN_PERMS,
      OPTS(o_schedule)},
     .twin = "schedule",
     .admin = true,
     .ephemeral = true},
    {{"drop", "Trigger a proactive drop here now (admins)", .permissions = ADMIN_PERMS,
      OPTS(o_drop)},
     .twin = "drop",
     .admin = true,
     .ephemeral = true},
    {{"config-proactive", "The scheduler's switches (admins)", .permissions = ADMIN_PERMS,
      OPTS(o_cfgp)},
     .twin = "config-proactive",
     .admin = true,
     .ephemeral = true},
    {{"drafts", "Lore drafts from recent talk: list, show, edit, approve or reject them (admins)",
      .permissions = ADMIN_PERMS, OPTS(o_drafts)},
     .twin = "drafts",
     .admin = true,
     .ephemeral = true},
};

/* Sub-commands that only the slash form has (they open a form, which a text command cannot):
 * run here instead of the twin. */
static void draft_edit_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);
static void greeting_fn(bot *, bot_ia *, const slash_def *, const discord_option *, size_t);
static const struct {
  const char *cmd, *sub;
  slash_fn fn;
} sub_fns[] = {{"drafts", "edit", draft_edit_fn}, {"persona", "greeting", greeting_fn}};

/* Sub-commands whose text form has another word ("" drops it): /persona talk NAME is
 * "!persona NAME". */
static const struct {
  const char *cmd, *sub, *word;
} sub_words[] = {{"persona", "talk", ""},
                 {"config-proactive", "show", ""},
                 {"drafts", "list", ""},
                 {"points", "check", ""}};

static bool defined(const slash_def *d) { return !d->twin || admin__exists(d->twin, NULL); }

size_t bot_commands(discord_command *out, size_t cap) {
  size_t n = 0;
  for (size_t i = 0; i < N(defs); i++)
    if (defined(&defs[i])) {
      if (n < cap) out[n] = defs[i].cmd;
      n++;
    }
  return n;
}

/* ---- the stored registration hash ---- */

static void hash_key(uint64_t app, uint64_t guild, char *k, size_t cap) {
  if (guild)
    snprintf(k, cap, "%" PRIu64 ":%" PRIu64, app, guild);
  else
    snprintf(k, cap, "%" PRIu64, app);
}

int bot_commands_hash_get(store *s, uint64_t app, uint64_t guild, char out[17]) {
  char k[48];
  hash_key(app, guild, k, sizeof k);
  buf v;
  buf_init(&v, 64);
  out[0] = 0;
  int rc = store_setting_get(s, BOT_COMMANDS_SCOPE, k, &v);
  if (rc == MIMIC_ENOTFOUND) {
    err_clear();
    rc = 0;
  } else if (rc == 0 && v.data) {
    str_lcpy(out, v.data, 17);
  }
  buf_free(&v);
  return rc;
}

int bot_commands_hash_put(store *s, uint64_t app, uint64_t guild, const char *hash) {
  char k[48];
  hash_key(app, guild, k, sizeof k);
  return store_setting_set(s, BOT_COMMANDS_SCOPE, k, hash ? hash : "");
}

/* ---- small helpers ---- */

static void say_private(bot *b, bot_ia *ia, const char *text) {
  ia->ephemeral = true;
  admin__ia_say(b, ia, text);
}

static void sayf(bot *b, bot_ia *ia, const char *fmt, ...) MIMIC_PRINTF(3, 4);
static void sayf(bot *b, bot_ia *ia, const char *fmt, ...) {
  char text[1900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  admin__ia_say(b, ia, text);
}

static int respond_simple(bot *b, const discord_interaction *in, discord_response_type type,
                          bool ephemeral, const char *text, const discord_action_row *rows,
                          size_t n_rows) {
  bot_response r = {.interaction_id = in->id,
                    .token = in->token,
                    .type = type,
                    .ephemeral = ephemeral,
                    .text = text,
                    .rows = rows,
                    .n_rows = n_rows};
  int rc = b->act.respond ? b->act.respond(b->act.user, &r)
                          : err_set(MIMIC_EUNSUPPORTED, "no respond action");
  if (rc) {
    LOG_W("bot", "interaction %" PRIu64 ": could not respond: %s", in->id, err_msg());
    err_clear();
  }
  return rc;
}

/* Deferred response: "thinking..." (ephemeral when the answer will be). */
static void defer(bot *b, bot_ia *ia) {
  if (ia->answers || ia->deferred) return;
  if (respond_simple(b, ia->in, DISCORD_RESPONSE_DEFERRED, ia->ephemeral, NULL, NULL, 0) == 0)
    ia->deferred = true;
  else
    ia->answers = 1; /* the token is unusable for a first answer: later ones go as follow-ups */
}

static const discord_option *opt_get(const discord_option *o, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (o[i].name && strcmp(o[i].name, name) == 0) return &o[i];
  return NULL;
}

static const char *opt_str(const discord_option *o, size_t n, const char *name) {
  const discord_option *x = opt_get(o, n, name);
  return x && x->str ? x->str : "";
}

/* A user option's id: the snowflake (its decimal string, or the integer bits). */
static uint64_t opt_user(const discord_option *o, size_t n, const char *name) {
  const discord_option *x = opt_get(o, n, name);
  if (!x) return 0;
  uint64_t id = 0;
  if (x->str && *x->str && str_to_u64(x->str, &id) == 0) return id;
  err_clear();
  return (uint64_t)x->i;
}

/* An option as its text command's argument. */
static int opt_text(const discord_option *o, buf *out) {
  switch (o->type) {
  case DISCORD_OPT_STRING: return buf_puts(out, o->str ? o->str : "");
  case DISCORD_OPT_INTEGER: return buf_printf(out, "%" PRId64, o->i);
  case DISCORD_OPT_NUMBER: return buf_printf(out, "%g", o->num);
  case DISCORD_OPT_BOOLEAN: return buf_puts(out, o->i ? "on" : "off");
  case DISCORD_OPT_USER:
  case DISCORD_OPT_CHANNEL:
  case DISCORD_OPT_ROLE: {
    uint64_t id = 0;
    if (!(o->str && *o->str && str_to_u64(o->str, &id) == 0)) {
      err_clear();
      id = (uint64_t)o->i;
    }
    const char *pre = o->type == DISCORD_OPT_USER   ? "<@"
                      : o->type == DISCORD_OPT_ROLE ? "<@&"
                                                    : "<#";
    return buf_printf(out, "%s%" PRIu64 ">", pre, id);
  }
  default: return buf_puts(out, o->str ? o->str : "");
  }
}

/* The payload's shape is sane: at most SLASH_OPTS_MAX options a level, two levels of nesting,
 * names present, strings at most SLASH_STR_MAX bytes. */
static bool opts_ok(const discord_option *o, size_t n, int depth) {
  if (n > SLASH_OPTS_MAX || depth > 2 || (n && !o)) return false;
  for (size_t i = 0; i < n; i++) {
    if (!o[i].name || !*o[i].name || strlen(o[i].name) > DISCORD_CMD_NAME_MAX) return false;
    if (o[i].str && strlen(o[i].str) > SLASH_STR_MAX) return false;
    if (!opts_ok(o[i].options, o[i].n_options, depth + 1)) return false;
  }
  return true;
}

static const slash_def *def_find(const char *name) {
  if (!name) return NULL;
  for (size_t i = 0; i < N(defs); i++)
    if (strcmp(defs[i].cmd.name, name) == 0) return defined(&defs[i]) ? &defs[i] : NULL;
  return NULL;
}

/* The sub-command of a payload, when it has one: its name, options and declaration. */
static const discord_option *sub_of(const discord_interaction *in) {
  return in->n_options == 1 && in->options[0].type == DISCORD_OPT_SUB ? &in->options[0] : NULL;
}

/* The twin's argument line: the sub-command's word, then each declared option given, in declared
 * order. Returns 0, or MIMIC_EINVAL (an unknown sub-command) / MIMIC_ERANGE (too long). */
static int rebuild_args(const slash_def *d, const discord_interaction *in, buf *out) {
  const discord_cmd_option *decl = d->cmd.options;
  size_t n_decl = d->cmd.n_options;
  const discord_option *got = in->options;
  size_t n_got = in->n_options;
  const discord_option *sub = sub_of(in);
  int rc = 0;
  if (sub) {
    const discord_cmd_option *ds = NULL;
    for (size_t i = 0; i < n_decl && !ds; i++)
      if (decl[i].type == DISCORD_OPT_SUB && strcmp(decl[i].name, sub->name) == 0) ds = &decl[i];
    if (!ds) return err_set(MIMIC_EINVAL, "/%s has no sub-command %.32s", d->cmd.name, sub->name);
    const char *word = sub->name;
    for (size_t i = 0; i < N(sub_words); i++)
      if (strcmp(sub_words[i].cmd, d->cmd.name) == 0 && strcmp(sub_words[i].sub, sub->name) == 0)
        word = sub_words[i].word;
    rc = buf_puts(out, word);
    decl = ds->options;
    n_decl = ds->n_options;
    got = sub->options;
    n_got = sub->n_options;
  }
  for (size_t i = 0; i < n_decl && !rc; i++) {
    const discord_option *g = opt_get(got, n_got, decl[i].name);
    if (!g) continue;
    if (out->len) rc = buf_putc(out, ' ');
    if (!rc) rc = opt_text(g, out);
  }
  if (rc || out->len > BOT_COMMAND_MAX)
    return err_set(MIMIC_ERANGE, "the options of /%s are too long", d->cmd.name);
  return 0;
}

/* mimic's own check of an admin action: one of bot.admins, and in a server a member who may
 * manage it (what default_member_permissions asks of Discord, checked again here). Commands,
 * buttons and form submits alike: a form is checked again when it comes back. */
static const char *admin_refusal(bot *b, const discord_interaction *in) {
  if (!admin__is_admin(b, in->user.id))
    return "Only the bot's admins (bot.admins) may use that command.";
  if (in->guild_id && !(in->has_member && (in->member.permissions & (DISCORD_PERM_ADMINISTRATOR |
                                                                     DISCORD_PERM_MANAGE_GUILD))))
    return "That command needs the Manage Server permission on this server.";
  return NULL;
}

static const char *refusal(bot *b, const slash_def *d, const discord_interaction *in) {
  return d->admin ? admin_refusal(b, in) : NULL;
}

/* ---- application commands ---- */

static void on_command(bot *b, const discord_interaction *in) {
  bot_ia ia = {.in = in};
  const slash_def *d = def_find(in->command_name);
  if (!d) {
    say_private(b, &ia,
                "I don't know that command any more: the command list is being updated, try "
                "again in a minute.");
    return;
  }
  if (!opts_ok(in->options, in->n_options, 0)) {
    LOG_W("bot", "interaction %" PRIu64 ": /%s with malformed or oversized options; refused",
          in->id, d->cmd.name);
    say_private(b, &ia, "That command's options are malformed or too long.");
    return;
  }
  const char *no = refusal(b, d, in);
  if (no) {
    LOG_W("audit", "user %" PRIu64 " (%s) tried /%s in channel %" PRIu64 "; refused: %s",
          in->user.id, in->user.username ? in->user.username : "", d->cmd.name, in->channel_id, no);
    say_private(b, &ia, no);
    return;
  }
  ia.ephemeral = d->ephemeral;
  const discord_option *sub = sub_of(in);
  for (size_t i = 0; sub && i < N(sub_fns); i++)
    if (strcmp(sub_fns[i].cmd, d->cmd.name) == 0 && strcmp(sub_fns[i].sub, sub->name) == 0) {
      sub_fns[i].fn(b, &ia, d, sub->options, sub->n_options);
      if (ia.answers == 0 && !ia.deferred) say_private(b, &ia, "Done.");
      return;
    }
  if (d->twin) {
    buf args;
    buf_init(&args, BOT_COMMAND_MAX + 64);
    if (rebuild_args(d, in, &args)) {
      char why[200];
      str_lcpy(why, err_msg(), sizeof why);
      err_clear();
      say_private(b, &ia, why);
      buf_free(&args);
      return;
    }
    if (d->slow) defer(b, &ia);
    if (!admin__run(b, &ia, d->twin, args.data ? args.data : ""))
      say_private(b, &ia, "Unknown command.");
    buf_free(&args);
    return;
  }
  d->fn(b, &ia, d, sub ? sub->options : in->options, sub ? sub->n_options : in->n_options);
  if (ia.answers == 0 && !ia.deferred) say_private(b, &ia, "Done.");
}

/* ---- /ai: a normal generation through the reply queue, into a deferred response ---- */

static int64_t persona_named(bot *b, const char *name) {
  if (persona__load(b, false)) err_clear();
  return *name ? proute_set_find(b->route, name) : 0;
}

static void ai_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n) {
  (void)d;
  const discord_interaction *in = ia->in;
  const char *prompt = opt_str(o, n, "prompt");
  const char *pname = opt_str(o, n, "persona");
  const discord_option *priv = opt_get(o, n, "private");
  if (!*prompt) {
    say_private(b, ia, "/ai needs a prompt.");
    return;
  }
  if (!b->backend) {
    say_private(b, ia, "No model is loaded, so I can't answer (the bot runs without an engine).");
    return;
  }
  if (map_get(&b->ignored, in->user.id)) {
    say_private(b, ia,
                "You're opted out or excluded, so I don't read what you write. /optin changes "
                "that if you opted out yourself.");
    return;
  }
  int64_t pid = persona_named(b, pname);
  if (*pname && !pid && strcasecmp(pname, "none") != 0) {
    ia->ephemeral = true;
    sayf(b, ia, "No persona is called %.80s (/persona list shows them).", pname);
    return;
  }
  bot_persona *bp = pid ? persona__get(b, pid) : NULL;
  ia->ephemeral = priv && priv->i;
  defer(b, ia);
  if (!ia->deferred) return; /* the response was refused: nothing can be filled in */
  /* The prompt joins the conversation the answer is built from, under the interaction's id (a
   * snowflake ordered like message ids). */
  const char *memkey = bp ? bp->memkey : b->persona;
  int64_t now = bot__now(b);
  const char *name = discord_display_name(&in->user, in->has_member ? &in->member : NULL);
  if (!name[0]) name = in->user.username && *in->user.username ? in->user.username : "someone";
  if (bp) recall__refill_as(b, in->channel_id, in->id, memkey, bp->p.id, bp->p.name);
  memory_add(b->mem, in->channel_id, memkey, in->id, in->user.id, now, false, name, prompt);
  bot_job *j = xcalloc(1, sizeof *j);
  j->b = b;
  j->channel_id = in->channel_id;
  j->message_id = in->id;
  j->author_id = in->user.id;
  j->guild_id = in->guild_id;
  j->verdict = in->guild_id ? ROUTE_REPLY_MENTION : ROUTE_REPLY_DM; /* addressed: never shed */
  j->persona_id = pid;
  j->why = pid ? PROUTE_NAME : PROUTE_NONE;
  j->t0_ns = clock_mono_ns();
  j->itoken = xstrdup(in->token);
  j->iapp = in->application_id;
  LOG_D("bot", "/ai from %" PRIu64 " in %" PRIu64 "%s%s", in->user.id, in->channel_id,
        bp ? " as " : "", bp ? bp->p.name : "");
  queue__admit(b, j);
}

/* ---- /rag: lore passages with their sources (no generation: a cheap answer) ---- */

static void rag_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n) {
  (void)d;
  const char *q = opt_str(o, n, "query");
  lore_search_opts so = {.k = 5, .min_cos = cfg_num(b->cfg, CFG_LORE_MIN_SCORE)};
  lore_items it = {0};
  if (!*q || lore_search(b->lore, q, &so, &it)) {
    sayf(b, ia, "Could not search the lore: %s", *q ? err_msg() : "the query is empty");
    err_clear();
    lore_items_free(&it);
    return;
  }
  if (!it.n) {
    sayf(b, ia, "Nothing in the lore matches \"%.200s\".", q);
    lore_items_free(&it);
    return;
  }
  buf o2;
  buf_init(&o2, 1990);
  int rc = buf_printf(&o2, "**Lore for** \"%.200s\":\n", q);
  for (size_t i = 0; i < it.n && !rc; i++) {
    const lore_item *x = &it.v[i];
    const char *t = x->text ? x->text : "";
    size_t tl = strlen(t);
    char line[400];
    size_t cut = utf8_floor(t, tl, 260);
    snprintf(line, sizeof line, "%.*s%s", (int)cut, t, cut < tl ? "…" : "");
    for (char *p = line; *p; p++)
      if (*p == '\n') *p = ' ';
    rc = buf_printf(&o2, "%zu. %s\n", i + 1, line);
  }
  if (!rc) rc = buf_puts(&o2, "Sources: ");
  for (size_t i = 0; i < it.n && !rc; i++)
    rc = buf_printf(&o2, "%s[%zu] %s%s%s%s", i ? "; " : "", i + 1,
                    it.v[i].title && *it.v[i].title ? it.v[i].title : "(untitled)",
                    it.v[i].scope && *it.v[i].scope ? " (" : "", it.v[i].scope ? it.v[i].scope : "",
                    it.v[i].scope && *it.v[i].scope ? ")" : "");
  if (rc) err_clear(); /* over the cap: what fits */
  admin__ia_say(b, ia, o2.data ? o2.data : "");
  buf_free(&o2);
  lore_items_free(&it);
}

/* ---- /greet, and the welcome on joining ---- */

/* The welcome of member `who` by bp (NULL: the bot itself): the persona's first message with
 * {{user}} as the mention, else a short one. Caller frees. */
static char *greet_text(const bot_persona *bp, uint64_t who) {
  char mention[32];
  snprintf(mention, sizeof mention, "<@%" PRIu64 ">", who);
  if (bp && bp->p.first_mes && *bp->p.first_mes)
    return persona__macros(bp->p.first_mes, bp->p.name, mention);
  size_t cap = 200 + (bp ? strlen(bp->p.name) : 0);
  char *text = xalloc(cap);
  if (bp)
    snprintf(text, cap, "Welcome, %s! I'm %s. Glad you're here.", mention, bp->p.name);
  else
    snprintf(text, cap, "Welcome, %s! Glad you're here.", mention);
  return text;
}

/* Posts the welcome as the persona (its webhook), or as the bot user. */
static int greet_post(bot *b, uint64_t channel_id, uint64_t guild_id, const bot_persona *bp,
                      const char *text) {
  if (bp && guild_id && b->act.persona_send) {
    const char *av = bp->p.avatar ? bp->p.avatar : "";
    bot_persona_send s = {.channel_id = channel_id,
                          .guild_id = guild_id,
                          .username = bp->p.name,
                          .avatar_url = *av && !bp->avatar_file ? av : NULL,
                          .avatar_file = bp->avatar_file && bp->avatar_key[0] ? av : NULL,
                          .avatar_key = bp->avatar_key[0] ? bp->avatar_key : NULL,
                          .text = text,
                          .persona_id = bp->p.id};
    return b->act.persona_send(b->act.user, &s);
  }
  if (!b->act.send) return err_set(MIMIC_EUNSUPPORTED, "no send action");
  bot_send s = {.channel_id = channel_id, .text = text};
  return b->act.send(b->act.user, &s);
}

static void greet_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n) {
  (void)d;
  const discord_interaction *in = ia->in;
  uint64_t who = opt_user(o, n, "member");
  const char *pname = opt_str(o, n, "persona");
  if (!who) {
    say_private(b, ia, "/greet needs a member.");
    return;
  }
  int64_t pid = persona_named(b, pname);
  if (*pname && !pid) {
    ia->ephemeral = true;
    sayf(b, ia, "No persona is called %.80s (/persona list shows them).", pname);
    return;
  }
  const bot_persona *bp = pid ? persona__get(b, pid) : NULL;
  char *text = greet_text(bp, who);
  if (bp && in->guild_id && b->act.persona_send) {
    if (greet_post(b, in->channel_id, in->guild_id, bp, text)) {
      sayf(b, ia, "Could not post the welcome: %s", err_msg());
      err_clear();
    } else {
      /* private: the welcome itself is public */
      sayf(b, ia, "%s welcomed <@%" PRIu64 ">.", bp->p.name, who);
    }
  } else {
    ia->ephemeral = false;
    if (bp) {
      size_t cap = strlen(text) + strlen(bp->p.name) + 8;
      char *named = xalloc(cap);
      snprintf(named, cap, "**%s**: %s", bp->p.name, text);
      admin__ia_say(b, ia, named);
      mem_free(named);
    } else {
      admin__ia_say(b, ia, text);
    }
  }
  mem_free(text);
}

void slash__member_joined(bot *b, const discord_member_add *m) {
  const char *ch = cfg_str(b->cfg, CFG_BOT_GREET_CHANNEL);
  uint64_t channel = 0;
  char first[32];
  size_t k = 0;
  while (ch && ch[k] && ch[k] != ',' && k + 1 < sizeof first) {
    first[k] = ch[k];
    k++;
  }
  first[k] = 0;
  if (!k || str_to_u64(str_trim(first), &channel) || !channel || m->user.bot || !m->user.id) {
    err_clear();
    return;
  }
  if (map_get(&b->ignored, m->user.id)) return; /* excluded or opted out: left alone */
  const char *pname = cfg_str(b->cfg, CFG_BOT_GREET_PERSONA);
  int64_t pid = persona_named(b, pname ? pname : "");
  const bot_persona *bp = pid ? persona__get(b, pid) : NULL;
  if (pname && *pname && !bp)
    LOG_W("bot", "bot.greet_persona %s is not a persona; the bot welcomes them itself", pname);
  char *text = greet_text(bp, m->user.id);
  if (greet_post(b, channel, m->guild_id, bp, text)) {
    LOG_W("bot", "could not welcome user %" PRIu64 ": %s", m->user.id, err_msg());
    err_clear();
  }
  mem_free(text);
}

/* ---- /admin-data ---- */

typedef struct export_ctx {
  buf *out;
  int64_t n;
  bool cut;
} export_ctx;

static int export_one(const store_msg *m, void *user) {
  export_ctx *x = user;
  json_t *j = json_object();
  char id[24], ch[24], g[24];
  snprintf(id, sizeof id, "%" PRIu64, m->id);
  snprintf(ch, sizeof ch, "%" PRIu64, m->channel_id);
  snprintf(g, sizeof g, "%" PRIu64, m->guild_id);
  json_object_set_new(j, "id", json_string(id));
  json_object_set_new(j, "channel_id", json_string(ch));
  json_object_set_new(j, "guild_id", json_string(g));
  json_object_set_new(j, "ts_ms", json_integer(m->ts_ms));
  if (m->edited_ms) json_object_set_new(j, "edited_ms", json_integer(m->edited_ms));
  json_object_set_new(j, "content", json_string(m->content ? m->content : ""));
  if (m->embeds_text && *m->embeds_text)
    json_object_set_new(j, "embeds_text", json_string(m->embeds_text));
  char *s = jv_dump_compact(j);
  json_decref(j);
  int rc = s ? buf_printf(x->out, "%s\n", s) : MIMIC_ENOMEM;
  free(s);
  if (rc) {
    err_clear();
    x->cut = true;
    return 1; /* stop: over the cap */
  }
  x->n++;
  return 0;
}

static void data_export(bot *b, bot_ia *ia, uint64_t who) {
  defer(b, ia);
  buf o;
  buf_init(&o, SLASH_EXPORT_MAX);
  uint32_t flags = 0;
  if (store_user_flags(b->db, who, &flags)) err_clear();
  int rc = buf_printf(&o,
                      "{\"user_id\":\"%" PRIu64 "\",\"excluded\":%s,\"opted_out\":%s,"
                      "\"exported_ms\":%" PRId64 "}\n",
                      who, flags & STORE_FLAG_EXCLUDED ? "true" : "false",
                      flags & STORE_FLAG_OPTED_OUT ? "true" : "false", bot__now(b));
  export_ctx x = {.out = &o};
  store_msg_query q = {.author_id = who};
  if (!rc) rc = store_msg_each(b->db, &q, export_one, &x);
  if (rc < 0) {
    sayf(b, ia, "Could not read the messages of <@%" PRIu64 ">: %s", who, err_msg());
    err_clear();
    buf_free(&o);
    return;
  }
  LOG_I("audit", "user %" PRIu64 " exported the data of user %" PRIu64 " (%" PRId64 " messages)",
        ia->in->user.id, who, x.n);
  sayf(b, ia, "Export of <@%" PRIu64 ">: %" PRId64 " stored messages%s (JSON Lines, attached).",
       who, x.n, x.cut ? ", cut at 8 MiB" : "");
  char name[64];
  snprintf(name, sizeof name, "mimic-export-%" PRIu64 ".jsonl", who);
  discord_file f = {.filename = name,
                    .content_type = "application/x-ndjson",
                    .data = o.data ? o.data : "",
                    .size = o.len};
  bot_followup fu = {.application_id = ia->in->application_id,
                     .token = ia->in->token,
                     .text = "",
                     .ephemeral = true,
                     .files = &f,
                     .n_files = 1};
  if (!b->act.followup || b->act.followup(b->act.user, &fu)) {
    LOG_W("bot", "could not attach the export: %s", b->act.followup ? err_msg() : "no follow-up");
    err_clear();
  }
  buf_free(&o);
}

static void data_purge_ask(bot *b, bot_ia *ia, uint64_t who) {
  char yes[48], text[300];
  snprintf(yes, sizeof yes, "data:purge:%" PRIu64, who);
  snprintf(text, sizeof text,
           "Delete every stored message of <@%" PRIu64 ">, remove them from the datasets and opt "
           "them out? This cannot be undone.",
           who);
  discord_component c[2] = {{.type = DISCORD_COMPONENT_BUTTON,
                             .custom_id = yes,
                             .style = DISCORD_BUTTON_DANGER,
                             .label = "Delete their data"},
                            {.type = DISCORD_COMPONENT_BUTTON,
                             .custom_id = "data:keep",
                             .style = DISCORD_BUTTON_SECONDARY,
                             .label = "Keep it"}};
  discord_action_row row = {.items = c, .n_items = 2};
  if (respond_simple(b, ia->in, DISCORD_RESPONSE_MESSAGE, true, text, &row, 1) == 0) ia->answers++;
}

static void data_stats(bot *b, bot_ia *ia) {
  defer(b, ia);
  char *mem = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&mem, &len);
  int rc = f ? collect_stats(b->db, f, NULL) : err_set(MIMIC_ENOMEM, "no memory for the report");
  if (f) fclose(f);
  if (rc) {
    sayf(b, ia, "Could not compute the statistics: %s", err_msg());
    err_clear();
  } else {
    admin__ia_say(b, ia, mem && *mem ? mem : "The database is empty.");
  }
  free(mem); /* open_memstream's buffer is libc's */
}

static void data_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n) {
  (void)d;
  const discord_option *sub = sub_of(ia->in);
  const char *what = sub ? sub->name : "";
  uint64_t who = opt_user(o, n, "user");
  if (strcmp(what, "stats") == 0) {
    data_stats(b, ia);
  } else if (!who) {
    say_private(b, ia, "/admin-data export and purge need a member.");
  } else if (strcmp(what, "export") == 0) {
    data_export(b, ia, who);
  } else if (strcmp(what, "purge") == 0) {
    data_purge_ask(b, ia, who);
  } else {
    say_private(b, ia, "/admin-data takes export, purge or stats.");
  }
}

/* ---- /finetune ---- */

typedef struct train_find {
  store_job j;
  bool found;
} train_find;

static int train_job(const store_job *j, void *user) {
  train_find *t = user;
  if (strcmp(j->kind, "train") != 0) return 0;
  t->j = *j;
  t->found = true;
  return 1;
}

/* The loss column of the training CSV as a sparkline of at most 40 points. */
static void loss_curve(const char *path, buf *out) {
  FILE *f = *path ? fopen(path, "r") : NULL;
  if (!f) return;
  double v[2048];
  size_t n = 0;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    double step, ep, lr, loss;
    if (sscanf(line, "%lf,%lf,%lf,%lf", &step, &ep, &lr, &loss) == 4 && isfinite(loss)) {
      if (n == N(v)) { /* keep every other point: the curve's shape stays */
        for (size_t i = 0; i < n / 2; i++) v[i] = v[2 * i];
        n /= 2;
      }
      v[n++] = loss;
    }
  }
  fclose(f);
  if (n < 2) return;
  static const char *const bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  size_t pts = n < 40 ? n : 40;
  double lo = v[0], hi = v[0];
  for (size_t i = 0; i < n; i++) {
    lo = v[i] < lo ? v[i] : lo;
    hi = v[i] > hi ? v[i] : hi;
  }
  int rc = buf_printf(out, "loss curve (%.3f → %.3f, min %.3f): `", v[0], v[n - 1], lo);
  for (size_t p = 0; p < pts && !rc; p++) {
    size_t a = p * n / pts, z = (p + 1) * n / pts;
    double s = 0;
    for (size_t i = a; i < z; i++) s += v[i];
    double m = s / (double)(z - a);
    int k = hi > lo ? (int)((m - lo) / (hi - lo) * 7.0 + 0.5) : 0;
    rc = buf_puts(out, bars[k < 0 ? 0 : k > 7 ? 7 : k]);
  }
  if (!rc) rc = buf_puts(out, "`\n");
  if (rc) err_clear();
}

static void finetune_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n) {
  (void)d, (void)o, (void)n;
  const discord_option *sub = sub_of(ia->in);
  if (sub && strcmp(sub->name, "start") == 0) {
    if (!admin__run(b, ia, "train", "")) say_private(b, ia, "Training is not available here.");
    return;
  }
  train_find t = {0};
  if (store_job_each(b->db, 50, train_job, &t) < 0) {
    sayf(b, ia, "Could not read the training runs: %s", err_msg());
    err_clear();
    return;
  }
  if (!t.found) {
    say_private(b, ia, "No training run yet. /finetune start begins one.");
    return;
  }
  buf out;
  buf_init(&out, 1900);
  const store_job *j = &t.j;
  int rc =
      buf_printf(&out, "**Training run %" PRId64 "**: %s", j->id, store_job_state_name(j->state));
  if (!rc && j->total > 0)
    rc = buf_printf(&out, ", step %" PRId64 " of %" PRId64 " (%.0f%%)", j->done, j->total,
                    100.0 * (double)j->done / (double)j->total);
  else if (!rc && j->done > 0)
    rc = buf_printf(&out, ", step %" PRId64, j->done);
  if (!rc && isfinite(j->loss)) rc = buf_printf(&out, ", loss %.4f", j->loss);
  if (!rc && j->message[0]) rc = buf_printf(&out, "\n%s", j->message);
  if (!rc) rc = buf_puts(&out, "\n");
  if (rc) err_clear();
  loss_curve(j->log_path, &out);
  admin__ia_say(b, ia, out.data ? out.data : "");
  buf_free(&out);
}

/* ---- autocomplete ---- */

static const discord_option *focused(const discord_option *o, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (o[i].focused) return &o[i];
    const discord_option *f = focused(o[i].options, o[i].n_options);
    if (f) return f;
  }
  return NULL;
}

typedef struct choices {
  discord_choice v[DISCORD_CHOICES_MAX];
  char names[DISCORD_CHOICES_MAX][101];
  size_t n;
} choices;

static bool contains_ci(const char *hay, const char *needle) {
  size_t nl = strlen(needle);
  if (!nl) return true;
  for (const char *p = hay; *p; p++)
    if (strncasecmp(p, needle, nl) == 0) return true;
  return false;
}

static void choice_add(choices *c, const char *name, const char *typed) {
  if (c->n >= DISCORD_CHOICES_MAX || !name || !*name || !contains_ci(name, typed)) return;
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->names[i], name) == 0) return;
  size_t cut = utf8_floor(name, strlen(name), 100);
  memcpy(c->names[c->n], name, cut);
  c->names[c->n][cut] = 0;
  c->v[c->n] = (discord_choice){.name = c->names[c->n], .value = c->names[c->n]};
  c->n++;
}

static const char *const persona_fields[] = {"description",
                                             "personality",
                                             "scenario",
                                             "first_mes",
                                             "mes_example",
                                             "system_prompt",
                                             "post_history_instructions",
                                             "avatar",
                                             "adapter",
                                             "adapter_scale",
                                             "freewill",
                                             "temperature",
                                             "top_p",
                                             "max_tokens",
                                             "aliases",
                                             "keywords",
                                             "regex",
                                             "channels",
                                             "tags",
                                             "lore_scope",
                                             "enabled",
                                             "name",
                                             "bot.cooldown_s"};

static int title_add(const store_lore_chunk *ch, void *user) {
  choice_add(user, ch->title, "");
  return 0;
}

static const char *const game_names[] = {"trivia", "riddle", "story"};

static void on_autocomplete(bot *b, const discord_interaction *in) {
  choices c;
  c.n = 0;
  const discord_option *f = focused(in->options, in->n_options);
  const char *typed = f && f->str ? f->str : "";
  const char *cmd = in->command_name ? in->command_name : "";
  if (!f || strlen(typed) > 100) {
    /* nothing to complete */
  } else if (strcmp(f->name, "persona") == 0 ||
             (strcmp(cmd, "persona") == 0 && strcmp(f->name, "name") == 0)) {
    if (persona__load(b, false)) err_clear();
    for (size_t i = 0; i < b->n_cast; i++) choice_add(&c, b->cast[i].p.name, typed);
  } else if (strcmp(f->name, "field") == 0) {
    for (size_t i = 0; i < N(persona_fields); i++) choice_add(&c, persona_fields[i], typed);
  } else if (strcmp(f->name, "game") == 0) {
    for (size_t i = 0; i < N(game_names); i++) choice_add(&c, game_names[i], typed);
  } else if (strcmp(f->name, "query") == 0 || strcmp(f->name, "title") == 0) {
    /* lore titles: full-text matches of what is typed so far (no encoder: well under a second) */
    store_fts_hit hits[DISCORD_CHOICES_MAX];
    size_t nh = 0;
    if (*typed && store_lore_fts(b->db, typed, NULL, 0, DISCORD_CHOICES_MAX, hits, &nh) == 0) {
      for (size_t i = 0; i < nh; i++) {
        if (store_lore_chunk_get(b->db, hits[i].id, title_add, &c)) err_clear();
      }
    } else {
      err_clear();
    }
  }
  bot_response r = {.interaction_id = in->id,
                    .token = in->token,
                    .type = DISCORD_RESPONSE_AUTOCOMPLETE,
                    .choices = c.v,
                    .n_choices = c.n};
  if (b->act.respond && b->act.respond(b->act.user, &r)) {
    LOG_W("bot", "interaction %" PRIu64 ": autocomplete not sent: %s", in->id, err_msg());
    err_clear();
  }
}

/* ---- lore drafts edited in a form (/drafts edit ID) ---- */

#define DRAFT_TITLE_MAX 100 /* characters of a draft's title in the form */

/* Opens the form: the draft's title and text prefilled; the custom_id names the draft, so the
 * submit is understood after a restart too. */
static void draft_edit_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o,
                          size_t n) {
  (void)d;
  const discord_interaction *in = ia->in;
  const discord_option *io = opt_get(o, n, "id");
  int64_t id = io ? io->i : 0;
  if (!in->guild_id) {
    say_private(b, ia, "Drafts belong to a server: use this in a server channel.");
    return;
  }
  char title[256];
  buf text;
  buf_init(&text, 4096);
  if (id <= 0 || pjobs__draft_get(b, in->guild_id, id, title, sizeof title, &text)) {
    char why[300];
    snprintf(why, sizeof why, "%s (/drafts list shows them).",
             id <= 0 ? "Give the draft's number" : err_msg());
    err_clear();
    say_private(b, ia, why);
    buf_free(&text);
    return;
  }
  const char *body = text.data ? text.data : "";
  size_t chars = utf8_count(body, strlen(body));
  if (chars > DISCORD_INPUT_VALUE_MAX) {
    sayf(b, ia,
         "Draft #%" PRId64 " is %zu characters long; a form holds %d. Approve or reject it "
         "instead.",
         id, chars, DISCORD_INPUT_VALUE_MAX);
    buf_free(&text);
    return;
  }
  /* a title past the form's limit is cut at a character boundary (it is the entry's name) */
  size_t tl = strlen(title);
  if (utf8_count(title, tl) > DRAFT_TITLE_MAX) {
    size_t cut = 0, k = 0;
    while (cut < tl && k < DRAFT_TITLE_MAX) {
      uint32_t cp;
      int m = utf8_decode(title + cut, tl - cut, &cp);
      cut += m > 0 ? (size_t)m : 1;
      k++;
    }
    title[cut] = 0;
  }
  char modal_id[64], modal_title[64];
  snprintf(modal_id, sizeof modal_id, "draft:edit:%" PRId64, id);
  snprintf(modal_title, sizeof modal_title, "Edit lore draft #%" PRId64, id);
  discord_text_input inputs[2] = {{.custom_id = "title",
                                   .style = DISCORD_INPUT_SHORT,
                                   .label = "Title (also its keyword)",
                                   .min_length = 1,
                                   .max_length = DRAFT_TITLE_MAX,
                                   .required = true,
                                   .value = title},
                                  {.custom_id = "text",
                                   .style = DISCORD_INPUT_PARAGRAPH,
                                   .label = "Entry",
                                   .min_length = 1,
                                   .max_length = DISCORD_INPUT_VALUE_MAX,
                                   .required = true,
                                   .value = body}};
  discord_modal m = {.title = modal_title, .custom_id = modal_id, .inputs = inputs, .n_inputs = 2};
  bot_response r = {
      .interaction_id = in->id, .token = in->token, .type = DISCORD_RESPONSE_MODAL, .modal = &m};
  int rc = b->act.respond ? b->act.respond(b->act.user, &r)
                          : err_set(MIMIC_EUNSUPPORTED, "no respond action");
  ia->answers++; /* a form is the whole answer (or the token is spent) */
  if (rc) {
    LOG_W("bot", "interaction %" PRIu64 ": the draft form was not opened: %s", in->id, err_msg());
    err_clear();
  }
  buf_free(&text);
}

/* The submitted form: checked again (the submitter must still be an admin with Manage Server),
 * then saved in place of the draft. */
static void draft_edit_save(bot *b, bot_ia *ia, const char *rest) {
  const discord_interaction *in = ia->in;
  const char *no = admin_refusal(b, in);
  if (no) {
    LOG_W("audit", "user %" PRIu64 " submitted a lore draft form but is refused: %s", in->user.id,
          no);
    say_private(b, ia, no);
    return;
  }
  int64_t id = 0;
  if (str_to_i64(rest, &id) || id <= 0 || !in->guild_id) {
    err_clear();
    say_private(b, ia, "That form is not one of mine any more.");
    return;
  }
  const char *t = discord_modal_value(in, "title"), *x = discord_modal_value(in, "text");
  if (!t || !x) {
    say_private(b, ia, "That form came back without its title or text; nothing was saved.");
    return;
  }
  char title[512];
  str_lcpy(title, t, sizeof title);
  str_trim(title);
  char *text = xstrdup(x);
  str_trim(text);
  int64_t new_id = 0;
  if (!*title || !*text) {
    say_private(b, ia, "A draft needs a title and a text; nothing was saved.");
  } else if (pjobs__draft_save(b, in->guild_id, id, title, text, &new_id)) {
    sayf(b, ia, "Draft #%" PRId64 " was not saved: %s.", id, err_msg());
    err_clear();
  } else {
    LOG_I("audit", "user %" PRIu64 " edited lore draft %" PRId64 " (now %" PRId64 ")", in->user.id,
          id, new_id);
    sayf(b, ia,
         "Draft #%" PRId64 " saved as #%" PRId64 "; it still waits for approval (/drafts approve "
         "%" PRId64 ").",
         id, new_id, new_id);
  }
  mem_free(text);
}

/* ---- a persona's greeting edited in a form (/persona greeting NAME) ---- */

/* Opens the form with the persona's greeting (first_mes) prefilled; "persona:greet:<id>". */
static void greeting_fn(bot *b, bot_ia *ia, const slash_def *d, const discord_option *o, size_t n) {
  (void)d;
  const discord_interaction *in = ia->in;
  const char *no = admin_refusal(b, in);
  if (no) {
    say_private(b, ia, no);
    return;
  }
  const char *name = opt_str(o, n, "name");
  int64_t id = 0;
  if (!*name || store_persona_find(b->db, name, &id)) {
    err_clear();
    sayf(b, ia, "No persona is called %.80s (/persona list shows them).", name);
    return;
  }
  store_persona p;
  store_persona_init(&p);
  if (store_persona_get(b->db, id, &p)) {
    sayf(b, ia, "Could not read the persona: %s.", err_msg());
    err_clear();
    store_persona_free(&p);
    return;
  }
  const char *greet = p.first_mes ? p.first_mes : "";
  if (utf8_count(greet, strlen(greet)) > DISCORD_INPUT_VALUE_MAX) {
    sayf(b, ia, "%s's greeting is longer than a form holds (%d characters): use /persona set.",
         p.name, DISCORD_INPUT_VALUE_MAX);
    store_persona_free(&p);
    return;
  }
  char modal_id[64], title[DISCORD_MODAL_TITLE_MAX * 4 + 1];
  snprintf(modal_id, sizeof modal_id, "persona:greet:%" PRId64, id);
  /* "Greeting of NAME", cut to the title's 45 characters */
  char full[128];
  snprintf(full, sizeof full, "Greeting of %s", p.name);
  size_t cut = 0, k = 0, fl = strlen(full);
  while (cut < fl && k < DISCORD_MODAL_TITLE_MAX) {
    uint32_t cp;
    int m = utf8_decode(full + cut, fl - cut, &cp);
    cut += m > 0 ? (size_t)m : 1;
    k++;
  }
  memcpy(title, full, cut);
  title[cut] = 0;
  discord_text_input input = {.custom_id = "greeting",
                              .style = DISCORD_INPUT_PARAGRAPH,
                              .label = "Greeting ({{user}}: the person greeted)",
                              .max_length = DISCORD_INPUT_VALUE_MAX,
                              .required = false,
                              .value = greet,
                              .placeholder = "Empty: no greeting"};
  discord_modal m = {.title = title, .custom_id = modal_id, .inputs = &input, .n_inputs = 1};
  bot_response r = {
      .interaction_id = in->id, .token = in->token, .type = DISCORD_RESPONSE_MODAL, .modal = &m};
  int rc = b->act.respond ? b->act.respond(b->act.user, &r)
                          : err_set(MIMIC_EUNSUPPORTED, "no respond action");
  ia->answers++;
  if (rc) {
    LOG_W("bot", "interaction %" PRIu64 ": the greeting form was not opened: %s", in->id,
          err_msg());
    err_clear();
  }
  store_persona_free(&p);
}

/* The submitted greeting: the submitter checked again, then saved as the persona's first_mes. */
static void greeting_save(bot *b, bot_ia *ia, const char *rest) {
  const discord_interaction *in = ia->in;
  const char *no = admin_refusal(b, in);
  if (no) {
    LOG_W("audit", "user %" PRIu64 " submitted a persona greeting form but is refused: %s",
          in->user.id, no);
    say_private(b, ia, no);
    return;
  }
  int64_t id = 0;
  const char *v = discord_modal_value(in, "greeting");
  if (str_to_i64(rest, &id) || id <= 0 || !v) {
    err_clear();
    say_private(b, ia, "That form is not one of mine any more.");
    return;
  }
  store_persona p;
  store_persona_init(&p);
  int rc = store_persona_get(b->db, id, &p);
  if (!rc) {
    char *g = xstrdup(v);
    str_trim(g);
    mem_free(p.first_mes);
    p.first_mes = g;
    rc = store_persona_update(b->db, &p);
  }
  if (!rc) rc = bot_persona_reload(b);
  if (rc) {
    sayf(b, ia, "The greeting was not saved: %s.",
         rc == MIMIC_ENOTFOUND ? "that persona is gone" : err_msg());
    err_clear();
  } else {
    LOG_I("audit", "user %" PRIu64 " changed the greeting of persona %s", in->user.id, p.name);
    sayf(b, ia, "%s's greeting %s.", p.name, p.first_mes[0] ? "is saved" : "is cleared");
  }
  store_persona_free(&p);
}

/* ---- forms (MODAL_SUBMIT): the custom_id says what a form is for, so it works after a restart
 * ---- */

static void on_modal(bot *b, const discord_interaction *in) {
  bot_ia ia = {.in = in, .ephemeral = true};
  const char *id = in->custom_id ? in->custom_id : "";
  if (in->modal_error) {
    LOG_W("bot", "interaction %" PRIu64 ": a malformed form came back (%s); refused", in->id,
          in->modal_error);
    sayf(b, &ia, "That form came back malformed (%s); nothing was done.", in->modal_error);
    return;
  }
  if (strncmp(id, "game:", 5) == 0) {
    if (games__on_modal(b, in)) {
      err_clear();
      say_private(b, &ia, "That game is over.");
    }
    return;
  }
  if (strncmp(id, "draft:edit:", 11) == 0) {
    draft_edit_save(b, &ia, id + 11);
    return;
  }
  if (strncmp(id, "persona:greet:", 14) == 0) {
    greeting_save(b, &ia, id + 14);
    return;
  }
  say_private(b, &ia, "That form is not one of mine any more.");
}

/* ---- components: the custom_id says what a click means, so it works after a restart ---- */

static void on_component(bot *b, const discord_interaction *in) {
  bot_ia ia = {.in = in, .ephemeral = true};
  const char *id = in->custom_id ? in->custom_id : "";
  if (strncmp(id, "game:", 5) == 0) {
    /* The games (their state in the store) answer these; a custom_id that is no game's: over. */
    if (games__on_component(b, in)) {
      err_clear();
      say_private(b, &ia, "That game is over.");
    }
    return;
  }
  if (strncmp(id, "data:", 5) == 0) {
    if (!admin__is_admin(b, in->user.id)) {
      LOG_W("audit", "user %" PRIu64 " clicked %s but is not an admin; refused", in->user.id, id);
      say_private(b, &ia, "Only the bot's admins (bot.admins) may do that.");
      return;
    }
    uint64_t who = 0;
    if (strcmp(id, "data:keep") == 0) {
      respond_simple(b, in, DISCORD_RESPONSE_UPDATE, true, "Nothing was deleted.", NULL, 0);
      return;
    }
    if (strncmp(id, "data:purge:", 11) != 0 || str_to_u64(id + 11, &who) || !who) {
      err_clear();
      say_private(b, &ia, "That button is not one of mine any more.");
      return;
    }
    collect_purge_result pr = {0};
    char text[400];
    if (collect_purge_user(b->db, who, &pr)) {
      snprintf(text, sizeof text,
               "Deleting the data of <@%" PRIu64 "> failed part way (%s). Click again: it "
               "finishes what is left.",
               who, err_msg());
      err_clear();
    } else {
      if (bot__privacy_refresh(b, who)) err_clear();
      memory_forget_user(b->mem, who);
      queue__drop_user(b, who);
      LOG_I("audit",
            "user %" PRIu64 " purged the data of user %" PRIu64 ": %" PRId64 " messages, %" PRId64
            " samples",
            in->user.id, who, pr.messages_deleted, pr.samples_removed);
      snprintf(text, sizeof text,
               "Deleted %" PRId64 " messages of <@%" PRIu64 "> and removed them from %" PRId64
               " training samples; they are opted out now.",
               pr.messages_deleted, who, pr.samples_removed);
    }
    respond_simple(b, in, DISCORD_RESPONSE_UPDATE, true, text, NULL, 0);
    return;
  }
  say_private(b, &ia, "That button does nothing any more.");
}

/* ---- the entry point ---- */

void slash__handle(bot *b, const discord_interaction *in) {
  /* Without an id and a token there is no way to answer; a token that long is not Discord's. */
  if (!in->id || !in->token || !*in->token || strlen(in->token) > 512) {
    LOG_W("bot", "interaction without a usable id or token; ignored");
    return;
  }
  if (!in->user.id) {
    bot_ia ia = {.in = in};
    say_private(b, &ia, "I could not tell who asked.");
    return;
  }
  switch (in->type) {
  case 2:
    if (in->command_type && in->command_type != 1) {
      bot_ia ia = {.in = in};
      say_private(b, &ia, "I have no user or message commands.");
      return;
    }
    on_command(b, in);
    break;
  case 3: on_component(b, in); break;
  case 4: on_autocomplete(b, in); break;
  case 5: on_modal(b, in); break;
  default: {
    /* PING never comes over the gateway */
    bot_ia ia = {.in = in};
    say_private(b, &ia, "That form is not one of mine any more.");
    break;
  }
  }
}
