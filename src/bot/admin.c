/* Text commands. Admin commands (admins listed in bot.admins) change live settings, report status
 * and hand restart/fetch/train requests to the runtime; anyone may use !optout, !optin and
 * !forgetme, confirmed by DM. A non-admin's admin command gets no reaction, only an audit line in
 * the log. Arguments come from anyone on the server: they are length-capped and validated, and a
 * bad value gets one sentence saying what is expected. Above the queue and the bot object in the
 * bot's stack (bot_int.h); only events.c calls it. */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOT_LEVEL BOT_L_ADMIN
#include "bot/bot_int.h"
#include "collect/collect.h"

typedef enum { CMD_ADMIN, CMD_EVERYONE } cmd_who;

typedef struct cmd_ctx {
  bot *b;
  const discord_message *m;
  const char *args; /* after the command word, trimmed; "" when none */
} cmd_ctx;

typedef void (*cmd_fn)(cmd_ctx *x);

typedef struct cmd_def {
  const char *name;
  cmd_who who;
  cmd_fn fn;
  const char *usage;
  const char *help;
} cmd_def;

/* Sends a plain text answer to a command (a reply without a ping). */
static void say(bot *b, uint64_t channel_id, uint64_t reply_to, const char *text) {
  if (!b->act.send) return;
  bot_send s = {.channel_id = channel_id, .text = text, .reply_to = reply_to};
  if (b->act.send(b->act.user, &s))
    LOG_W("bot", "channel %" PRIu64 ": could not send a command answer: %s", channel_id, err_msg());
}

static void answer(cmd_ctx *x, const char *fmt, ...) MIMIC_PRINTF(2, 3);
static void answer(cmd_ctx *x, const char *fmt, ...) {
  char text[1900];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  say(x->b, x->m->channel_id, x->m->id, text);
}

static void dm(cmd_ctx *x, const char *text) {
  bot *b = x->b;
  if (!b->act.send_dm || b->act.send_dm(b->act.user, x->m->author.id, text)) {
    LOG_W("bot", "could not DM user %" PRIu64 ": %s", x->m->author.id,
          b->act.send_dm ? err_msg() : "no DM action");
    err_clear();
  }
}

static void react_ok(cmd_ctx *x) {
  bot *b = x->b;
  if (b->act.react && b->act.react(b->act.user, x->m->channel_id, x->m->id, "\xE2\x9C\x85"))
    err_clear();
}

/* ---- settings ---- */

/* Sets a number key from the command's argument, within the key's own bounds (the key table is
 * their one home); INT keys take whole numbers. */
static void set_number(cmd_ctx *x, const char *cmd, cfg_id id, const char *what) {
  const cfg_key *k = cfg_key_get(id);
  const char *key = k->name;
  double lo = k->min, hi = k->max;
  bool integer = k->type == CFG_INT;
  double v;
  int64_t iv = 0;
  bool ok = *x->args && (integer ? str_to_i64(x->args, &iv) == 0 && (v = (double)iv, true)
                                 : str_to_double(x->args, &v) == 0);
  err_clear();
  if (!ok || !(v >= lo && v <= hi)) {
    if (integer)
      answer(x, "%s%s takes a whole number of tokens from %.0f to %.0f (for example %s%s 120).",
             x->b->prefix, cmd, lo, hi, x->b->prefix, cmd);
    else
      answer(x, "%s%s takes a number from %g to %g (for example %s%s %g).", x->b->prefix, cmd, lo,
             hi, x->b->prefix, cmd, (lo + hi) / 4);
    return;
  }
  char old[64], val[64];
  if (integer) {
    snprintf(old, sizeof old, "%" PRId64, cfg_int(x->b->cfg, id));
    snprintf(val, sizeof val, "%" PRId64, iv);
  } else {
    snprintf(old, sizeof old, "%g", cfg_num(x->b->cfg, id));
    snprintf(val, sizeof val, "%g", v);
  }
  if (bot_setting_set(x->b, key, val)) {
    answer(x, "Could not set %s: %s", what, err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " set %s = %s (was %s)", x->m->author.id, key, val, old);
  if (bot__settings_persist(x->b))
    answer(x, "%s set to %s (was %s). Saved: it survives a restart.", what, val, old);
  else
    answer(x, "%s set to %s (was %s). The database is in memory, so it lasts until the bot stops.",
           what, val, old);
}

static void cmd_setrate(cmd_ctx *x) {
  set_number(x, "setrate", CFG_BOT_RESPONSE_RATE, "Response rate");
}
static void cmd_settemp(cmd_ctx *x) {
  set_number(x, "settemp", CFG_ENGINE_TEMPERATURE, "Temperature");
}
static void cmd_setmaxlen(cmd_ctx *x) {
  set_number(x, "setmaxlen", CFG_ENGINE_MAX_TOKENS, "Reply length (tokens)");
}

/* ---- status ---- */

static void fmt_duration(int64_t ms, char *out, size_t cap) {
  int64_t s = ms / 1000;
  if (s < 3600)
    snprintf(out, cap, "%" PRId64 "m %" PRId64 "s", s / 60, s % 60);
  else if (s < 86400)
    snprintf(out, cap, "%" PRId64 "h %" PRId64 "m", s / 3600, s % 3600 / 60);
  else
    snprintf(out, cap, "%" PRId64 "d %" PRId64 "h", s / 86400, s % 86400 / 3600);
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return -1;
  long pages = 0, rss = 0;
  int n = fscanf(f, "%ld %ld", &pages, &rss);
  fclose(f);
  return n == 2 ? rss * 4 : -1;
}

static const char *const status_keys[] = {
    "bot.response_rate", "bot.cooldown_s", "bot.active_boost",   "bot.context_messages",
    "bot.memory_ttl_s",  "bot.queue_max",  "engine.temperature", "engine.max_tokens",
    "engine.top_p",      "engine.min_p",
};

static int status_text(bot *b, buf *o) {
  char up[64];
  fmt_duration(bot__now(b) - b->started_ms, up, sizeof up);
  size_t chans = 0, entries = 0, bytes = 0;
  memory_usage(b->mem, &chans, &entries, &bytes);
  long rss = rss_kib();
  int rc = buf_printf(o, "**Status** — up %s\nmodel: %s (%s backend)\nadapter: %s\n", up,
                      b->model_name[0] ? b->model_name : "(none)",
                      b->backend ? llm_backend_name(b->backend) : "no",
                      b->adapter_name[0] ? b->adapter_name : "(none)");
  if (!rc)
    rc =
        buf_printf(o, "memory: %.1f MiB resident; conversation memory %zu channels, %zu messages\n",
                   rss < 0 ? 0.0 : (double)rss / 1024.0, chans, entries);
  if (!rc)
    rc = buf_printf(o, "queue: %zu generating, %zu waiting (max %zu)%s\nsettings:\n", b->n_running,
                    b->n_pending, b->queue_max, b->restarting ? " — restarting" : "");
  for (size_t i = 0; !rc && i < sizeof status_keys / sizeof status_keys[0]; i++) {
    const char *k = status_keys[i];
    const cfg_key *def = cfg_key_find(k);
    const char *src = cfg_source_name(cfg_source_of(b->cfg, cfg_key_id(cfg_key_find(k))));
    if (def && def->type == CFG_INT)
      rc = buf_printf(o, "  %s = %" PRId64 " (%s)\n", k,
                      cfg_int(b->cfg, cfg_key_id(cfg_key_find(k))), src);
    else
      rc = buf_printf(o, "  %s = %g (%s)\n", k, cfg_num(b->cfg, cfg_key_id(cfg_key_find(k))), src);
  }
  if (!rc) rc = stats__status_line(b, o);
  return rc;
}

static void cmd_status(cmd_ctx *x) {
  buf o;
  buf_init(&o, 1900);
  if (status_text(x->b, &o)) {
    /* Over the cap: send what fits (the statistics line may be cut). */
    err_clear();
  }
  say(x->b, x->m->channel_id, x->m->id, o.data ? o.data : "status unavailable");
  buf_free(&o);
}

/* ---- runtime requests ---- */

static void cmd_restart(cmd_ctx *x) {
  bot *b = x->b;
  if (!b->act.request_restart) {
    answer(x, "Restarting is not available in this runtime.");
    return;
  }
  if (b->restarting) {
    answer(x, "Already restarting (%zu replies still in flight).", bot_inflight(b));
    return;
  }
  b->restarting = true;
  LOG_I("audit", "user %" PRIu64 " asked for a restart", x->m->author.id);
  size_t n = bot_inflight(b);
  if (n)
    answer(x, "Restarting once the %zu replies in flight are sent.", n);
  else
    answer(x, "Restarting now.");
  bot_poll(b); /* requests the restart at once when nothing is in flight */
}

static void start_job(cmd_ctx *x, const char *job, const char *what) {
  bot *b = x->b;
  if (!b->act.start_job) {
    answer(x, "Starting %s is not available in this runtime.", what);
    return;
  }
  LOG_I("audit", "user %" PRIu64 " started %s", x->m->author.id, job);
  if (b->act.start_job(b->act.user, job, x->m->author.id, x->m->channel_id)) {
    answer(x, "Could not start %s: %s", what, err_msg());
    err_clear();
    return;
  }
  answer(x, "Started %s.", what);
}

static void cmd_fetch(cmd_ctx *x) { start_job(x, "fetch", "the history fetch"); }
static void cmd_train(cmd_ctx *x) { start_job(x, "train", "training"); }

/* ---- privacy ---- */

/* "<@123>", "<@!123>" or "123", followed by the rest (the reason). */
static bool parse_user(const char *s, uint64_t *id, const char **rest) {
  char tmp[32];
  size_t n = 0;
  const char *p = s;
  bool mention = false;
  if (p[0] == '<' && p[1] == '@') {
    mention = true;
    p += 2;
    if (*p == '!') p++;
  }
  while (isdigit((unsigned char)*p) && n < sizeof tmp - 1) tmp[n++] = *p++;
  tmp[n] = 0;
  if (mention) {
    if (*p != '>') return false;
    p++;
  }
  if (n == 0 || (*p && !isspace((unsigned char)*p))) return false;
  if (str_to_u64(tmp, id) || *id == 0) {
    err_clear();
    return false;
  }
  while (isspace((unsigned char)*p)) p++;
  *rest = p;
  return true;
}

static void cmd_exclude(cmd_ctx *x) {
  uint64_t id;
  const char *reason;
  if (!parse_user(x->args, &id, &reason)) {
    answer(x, "Usage: %sexclude @user [reason] (a mention or a user id).", x->b->prefix);
    return;
  }
  char why[200];
  snprintf(why, sizeof why, "%s", *reason ? reason : "excluded by an admin");
  if (collect_privacy_set(x->b->db, id, "exclude", why) || bot__privacy_refresh(x->b, id)) {
    answer(x, "Could not exclude %" PRIu64 ": %s", id, err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " excluded user %" PRIu64 " (%s)", x->m->author.id, id, why);
  answer(x, "Excluded <@%" PRIu64 ">: I won't learn from or answer them.", id);
}

static void cmd_include(cmd_ctx *x) {
  uint64_t id;
  const char *rest;
  if (!parse_user(x->args, &id, &rest) || *rest) {
    answer(x, "Usage: %sinclude @user (a mention or a user id).", x->b->prefix);
    return;
  }
  if (collect_privacy_set(x->b->db, id, "include", NULL) || bot__privacy_refresh(x->b, id)) {
    answer(x, "Could not include %" PRIu64 ": %s", id, err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " included user %" PRIu64, x->m->author.id, id);
  bool still = map_get(&x->b->ignored, id) != NULL;
  answer(x,
         still ? "Included <@%" PRIu64
                 ">, but they opted out themselves, so I still leave them out."
               : "Included <@%" PRIu64 "> again.",
         id);
}

static void cmd_optout(cmd_ctx *x) {
  uint64_t id = x->m->author.id;
  if (collect_privacy_set(x->b->db, id, "opt-out", "asked with !optout") ||
      bot__privacy_refresh(x->b, id)) {
    LOG_W("bot", "opt-out of %" PRIu64 " failed: %s", id, err_msg());
    dm(x, "Sorry, I could not record your opt-out (a database error). Please try again later "
          "or tell an admin.");
    err_clear();
    return;
  }
  react_ok(x);
  char text[400];
  snprintf(text, sizeof text,
           "You're opted out: I won't store or learn from your messages from now on, and I won't "
           "answer them. What I already stored stays until you use %sforgetme. Use %soptin to "
           "change your mind.",
           x->b->prefix, x->b->prefix);
  dm(x, text);
}

static void cmd_optin(cmd_ctx *x) {
  uint64_t id = x->m->author.id;
  if (collect_privacy_set(x->b->db, id, "opt-in", "asked with !optin") ||
      bot__privacy_refresh(x->b, id)) {
    LOG_W("bot", "opt-in of %" PRIu64 " failed: %s", id, err_msg());
    dm(x, "Sorry, I could not record your opt-in (a database error). Please try again later.");
    err_clear();
    return;
  }
  react_ok(x);
  bool excluded = map_get(&x->b->ignored, id) != NULL;
  dm(x, excluded ? "You're opted in, but an admin has excluded you, so I still leave your "
                   "messages out."
                 : "You're opted in: I'll learn from your messages again. Thanks!");
}

static void cmd_forgetme(cmd_ctx *x) {
  uint64_t id = x->m->author.id;
  collect_purge_result pr = {0};
  if (collect_purge_user(x->b->db, id, &pr)) {
    LOG_W("bot", "purge of %" PRIu64 " failed: %s", id, err_msg());
    char text[700];
    snprintf(text, sizeof text,
             "Sorry, deleting your messages failed part way (%s). Run %sforgetme "
             "again: it finishes what is left.",
             err_msg(), x->b->prefix);
    err_clear();
    dm(x, text);
    return;
  }
  if (bot__privacy_refresh(x->b, id)) err_clear();
  memory_forget_user(x->b->mem, id);
  LOG_I("audit", "user %" PRIu64 " purged their data: %" PRId64 " messages, %" PRId64 " samples",
        id, pr.messages_deleted, pr.samples_removed);
  react_ok(x);
  char text[500];
  snprintf(text, sizeof text,
           "Done: I deleted %" PRId64 " of your messages and removed you from %" PRId64 " training "
           "samples. You're opted out now, so nothing new is stored; the next training run leaves "
           "you out. Use %soptin if you ever want me to learn from you again.",
           pr.messages_deleted, pr.samples_removed, x->b->prefix);
  dm(x, text);
}

/* ---- vision ---- */

/* !vision [on|off] [server]: switches image descriptions for this channel (or the whole server),
 * as a store setting for scope channel:ID / guild:ID that overrides vision.enabled there; without
 * an argument says whether they are on here. */
static void cmd_vision(cmd_ctx *x) {
  char word[16] = "", where[16] = "";
  sscanf(x->args, "%15s %15s", word, where);
  bool server = strcasecmp(where, "server") == 0 || strcasecmp(where, "guild") == 0;
  bool on = strcasecmp(word, "on") == 0, off = strcasecmp(word, "off") == 0;
  if (!word[0]) {
    answer(x, "Image descriptions are %s in this channel.",
           vision__enabled(x->b, x->m) ? "on" : "off");
    return;
  }
  if ((!on && !off) || (where[0] && !server) || (server && !x->m->guild_id)) {
    answer(x, "%svision takes on or off, and optionally server (for example %svision off server).",
           x->b->prefix, x->b->prefix);
    return;
  }
  char scope[48];
  if (server)
    snprintf(scope, sizeof scope, "guild:%" PRIu64, x->m->guild_id);
  else
    snprintf(scope, sizeof scope, "channel:%" PRIu64, x->m->channel_id);
  if (store_setting_set(x->b->db, scope, "vision.enabled", on ? "on" : "off")) {
    answer(x, "Could not switch image descriptions: %s", err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " set vision.enabled = %s for %s", x->m->author.id,
        on ? "on" : "off", scope);
  answer(x, "Image descriptions are %s for this %s.", on ? "on" : "off",
         server ? "server (channels set on their own keep their setting)" : "channel");
}

/* ---- table and dispatch ---- */

static void cmd_help(cmd_ctx *x);

static const cmd_def cmds[] = {
    {"setrate", CMD_ADMIN, cmd_setrate, "<0-1>", "chance of joining a conversation unprompted"},
    {"settemp", CMD_ADMIN, cmd_settemp, "<0-2>", "sampling temperature"},
    {"setmaxlen", CMD_ADMIN, cmd_setmaxlen, "<tokens>", "longest reply in tokens"},
    {"setmlength", CMD_ADMIN, cmd_setmaxlen, "<tokens>", NULL /* alias */},
    {"status", CMD_ADMIN, cmd_status, "", "uptime, model, memory, settings and 24 h statistics"},
    {"restart", CMD_ADMIN, cmd_restart, "", "restart after the replies in flight are sent"},
    {"fetch", CMD_ADMIN, cmd_fetch, "", "start fetching channel history"},
    {"train", CMD_ADMIN, cmd_train, "", "start training (a separate process)"},
    {"exclude", CMD_ADMIN, cmd_exclude, "<user> [reason]", "never learn from or answer someone"},
    {"include", CMD_ADMIN, cmd_include, "<user>", "undo !exclude"},
    {"vision", CMD_ADMIN, cmd_vision, "[on|off] [server]",
     "describe the images people post here (or on the whole server)"},
    {"help", CMD_EVERYONE, cmd_help, "", "this list"},
    {"optout", CMD_EVERYONE, cmd_optout, "", "stop learning from my messages"},
    {"optin", CMD_EVERYONE, cmd_optin, "", "resume learning from my messages"},
    {"forgetme", CMD_EVERYONE, cmd_forgetme, "", "delete my stored messages"},
};

static bool is_admin(const bot *b, uint64_t user) { return map_get(&b->admins, user) != NULL; }

/* Everyone gets the commands they may use; admins get all of them. */
static void cmd_help(cmd_ctx *x) {
  bool admin = is_admin(x->b, x->m->author.id);
  buf o;
  buf_init(&o, 1900);
  int rc = buf_puts(&o, admin ? "Commands:\n" : "Commands you can use:\n");
  for (size_t i = 0; !rc && i < sizeof cmds / sizeof cmds[0]; i++) {
    if (!cmds[i].help || (cmds[i].who == CMD_ADMIN && !admin)) continue;
    rc = buf_printf(&o, "`%s%s%s%s` — %s\n", x->b->prefix, cmds[i].name,
                    cmds[i].usage[0] ? " " : "", cmds[i].usage, cmds[i].help);
  }
  if (rc) err_clear();
  say(x->b, x->m->channel_id, x->m->id, o.data ? o.data : "");
  buf_free(&o);
}

bool admin__handle(bot *b, const discord_message *m) {
  size_t pl = strlen(b->prefix);
  const char *c = m->content;
  if (!c || strncmp(c, b->prefix, pl) != 0) return false;
  size_t len = strlen(c);
  if (len > BOT_COMMAND_MAX) return false;
  char word[16];
  size_t n = 0;
  const char *p = c + pl;
  while (*p && !isspace((unsigned char)*p) && n < sizeof word - 1)
    word[n++] = (char)tolower((unsigned char)*p++);
  word[n] = 0;
  if (*p && !isspace((unsigned char)*p)) return false; /* a longer word: not ours */
  const cmd_def *d = NULL;
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0] && !d; i++)
    if (strcmp(cmds[i].name, word) == 0) d = &cmds[i];
  if (!d) return false;
  if (d->who == CMD_ADMIN && !is_admin(b, m->author.id)) {
    LOG_W("audit",
          "user %" PRIu64 " (%s) tried %s%s in channel %" PRIu64 " but is not an admin "
          "(bot.admins); ignored",
          m->author.id, m->author.username, b->prefix, d->name, m->channel_id);
    return true;
  }
  char args[BOT_COMMAND_MAX + 1];
  str_lcpy(args, p, sizeof args);
  str_trim(args);
  cmd_ctx x = {.b = b, .m = m, .args = args};
  LOG_D("bot", "command %s%s from %" PRIu64, b->prefix, d->name, m->author.id);
  d->fn(&x);
  return true;
}
