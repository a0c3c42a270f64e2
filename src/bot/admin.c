/* Text commands. Admin commands (admins listed in bot.admins) change live settings, report status
 * and hand restart/fetch/train requests to the runtime; anyone may use !optout, !optin and
 * !forgetme, confirmed by DM. A non-admin's admin command gets no reaction, only an audit line in
 * the log. Arguments come from anyone on the server: they are length-capped and validated, and a
 * bad value gets one sentence saying what is expected. Above the queue and the bot object in the
 * bot's stack (bot_int.h); only events.c calls it. */
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define BOT_LEVEL BOT_L_ADMIN
#include "base/tz.h"
#include "bot/bot_int.h"
#include "bot/proactive.h"
#include "bot/scheduler.h"
#include "collect/collect.h"
#include "lore/lore.h"
#include "store/lore.h"
#include "store/schedule.h"

typedef enum { CMD_ADMIN, CMD_EVERYONE } cmd_who;

/* A command being run: from a text message, or from a slash command (ia set) whose options were
 * rebuilt into args; m is then a message made from the interaction (id: the interaction's id, a
 * snowflake like a message's; no content). The cmd_* functions are the one implementation of
 * both: their answers go through say(), which posts in the channel or answers the interaction. */
typedef struct cmd_ctx {
  bot *b;
  const discord_message *m;
  const char *args; /* after the command word, trimmed; "" when none */
  bot_ia *ia;       /* the interaction to answer; NULL for a text command */
} cmd_ctx;

typedef void (*cmd_fn)(cmd_ctx *x);

typedef struct cmd_def {
  const char *name;
  cmd_who who;
  cmd_fn fn;
  const char *usage;
  const char *help;
} cmd_def;

/* Answers an interaction: the first answer is the response (or the edit of a deferred one), the
 * rest follow-ups; text over Discord's 2,000 characters goes on in follow-ups. */
void admin__ia_say(bot *b, bot_ia *ia, const char *text) {
  const discord_interaction *in = ia->in;
  size_t len = strlen(text);
  size_t off = 0;
  do {
    size_t cut = utf8_floor(text + off, len - off, BOT_IA_TEXT_MAX);
    char part[BOT_IA_TEXT_MAX + 1];
    memcpy(part, text + off, cut);
    part[cut] = 0;
    off += cut;
    int rc;
    if (ia->answers == 0 && !ia->deferred) {
      bot_response r = {.interaction_id = in->id,
                        .token = in->token,
                        .type = DISCORD_RESPONSE_MESSAGE,
                        .ephemeral = ia->ephemeral,
                        .text = part};
      rc = b->act.respond ? b->act.respond(b->act.user, &r)
                          : err_set(MIMIC_EUNSUPPORTED, "no respond action");
    } else {
      bot_followup f = {.application_id = in->application_id,
                        .token = in->token,
                        .text = part,
                        .ephemeral = ia->ephemeral};
      bool edit = ia->answers == 0;
      int (*fn)(void *, const bot_followup *) = edit ? b->act.edit_original : b->act.followup;
      rc = fn ? fn(b->act.user, &f) : err_set(MIMIC_EUNSUPPORTED, "no follow-up action");
    }
    ia->answers++;
    if (rc) {
      LOG_W("bot", "interaction %" PRIu64 ": could not answer: %s", in->id, err_msg());
      err_clear();
      return;
    }
    if (cut == 0) break; /* cannot happen with BOT_IA_TEXT_MAX >= 4; no endless loop anyway */
  } while (off < len);
}

/* Sends a plain text answer to a command: a reply without a ping (reply false: a plain message),
 * or the interaction's answer. */
static void say(cmd_ctx *x, const char *text, bool reply) {
  bot *b = x->b;
  if (x->ia) {
    admin__ia_say(b, x->ia, text);
    return;
  }
  if (!b->act.send) return;
  uint64_t channel_id = x->m->channel_id;
  bot_send s = {.channel_id = channel_id, .text = text, .reply_to = reply ? x->m->id : 0};
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
  say(x, text, true);
}

/* Privacy confirmations: a DM for a text command, the private answer of a slash command. */
static void dm(cmd_ctx *x, const char *text) {
  bot *b = x->b;
  if (x->ia) {
    x->ia->ephemeral = true;
    admin__ia_say(b, x->ia, text);
    return;
  }
  if (!b->act.send_dm || b->act.send_dm(b->act.user, x->m->author.id, text)) {
    LOG_W("bot", "could not DM user %" PRIu64 ": %s", x->m->author.id,
          b->act.send_dm ? err_msg() : "no DM action");
    err_clear();
  }
}

static void react_ok(cmd_ctx *x) {
  bot *b = x->b;
  if (x->ia) return; /* an interaction has no message to react to: its answer says it */
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
  if (!rc && b->n_cast) {
    rc = buf_printf(o, "personas: %zu", b->n_cast);
    const bot_chan *c = map_get(&b->chans, b->status_channel);
    const char *who = c ? proute_set_name(b->route, c->pick_persona) : NULL;
    if (!rc && who)
      rc = buf_printf(o, "; here %s last answered message %" PRIu64 " (%s)", who, c->pick_message,
                      proute_why_name(c->pick_why));
    if (!rc) rc = buf_puts(o, "\n");
  }
  if (!rc) rc = stats__status_line(b, o);
  return rc;
}

static void cmd_status(cmd_ctx *x) {
  x->b->status_channel = x->m->channel_id;
  buf o;
  buf_init(&o, 1900);
  if (status_text(x->b, &o)) {
    /* Over the cap: send what fits (the statistics line may be cut). */
    err_clear();
  }
  say(x, o.data ? o.data : "status unavailable", true);
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

/* ---- personas ---- */

static bool is_admin(const bot *b, uint64_t user);

/* The next word of *p (spaces skipped) into w[cap]; *p moves past it. */
static void next_word(const char **p, char *w, size_t cap) {
  const char *s = *p;
  while (isspace((unsigned char)*s)) s++;
  size_t n = 0;
  while (*s && !isspace((unsigned char)*s)) {
    if (n + 1 < cap) w[n++] = *s;
    s++;
  }
  w[n] = 0;
  while (isspace((unsigned char)*s)) s++;
  *p = s;
}

/* Splits "a, b, c" into l (trimmed, empty items dropped). */
static int split_list(const char *v, store_strv *l) {
  store_strv_free(l);
  char tmp[BOT_COMMAND_MAX + 1];
  str_lcpy(tmp, v, sizeof tmp);
  char *save = tmp;
  int rc = 0;
  while (save && !rc) {
    char *comma = strchr(save, ',');
    if (comma) *comma = 0;
    char *item = str_trim(save);
    if (*item) rc = store_strv_push(l, item);
    save = comma ? comma + 1 : NULL;
  }
  return rc;
}

static void persona_reload(cmd_ctx *x) {
  if (bot_persona_reload(x->b)) {
    LOG_W("bot", "%s", err_msg());
    err_clear();
  }
}

static void persona_list(cmd_ctx *x) {
  bot *b = x->b;
  if (persona__load(b, true)) err_clear();
  if (!b->n_cast) {
    answer(x,
           "No personas yet. An admin adds one with %spersona add <name>, or imports a "
           "character card with `mimic persona import`.",
           b->prefix);
    return;
  }
  buf o;
  buf_init(&o, 1900);
  int rc = buf_printf(&o, "**Personas** (%zu):\n", b->n_cast);
  for (size_t i = 0; i < b->n_cast && !rc; i++) {
    const store_persona *p = &b->cast[i].p;
    const char *d = p->description ? p->description : "";
    size_t cut = utf8_floor(d, strlen(d), 80);
    rc = buf_printf(&o, "• **%s**%s%.*s%s\n", p->name, *d ? " — " : "", (int)cut, d,
                    cut < strlen(d) ? "…" : "");
  }
  if (!rc && x->m->guild_id == 0)
    rc = buf_printf(&o, "Talk to one here with %spersona <name>.", b->prefix);
  if (rc) err_clear();
  say(x, o.data ? o.data : "", true);
  buf_free(&o);
}

static void persona_show(cmd_ctx *x, const char *name) {
  bot *b = x->b;
  store_persona p;
  store_persona_init(&p);
  if (store_persona_by_name(b->db, name, &p) != 0) {
    err_clear();
    answer(x, "No persona is called %.80s (%spersona list shows them).", name, b->prefix);
    store_persona_free(&p);
    return;
  }
  buf o;
  buf_init(&o, 1900);
  int rc =
      buf_printf(&o, "**%s** (id %" PRId64 "%s)\n", p.name, p.id, p.enabled ? "" : ", disabled");
  for (size_t i = 0; i < p.aliases.n && !rc; i++)
    rc = buf_printf(&o, "%s%s%s", i ? ", " : "aliases: ", p.aliases.v[i],
                    i + 1 == p.aliases.n ? "\n" : "");
  if (!rc)
    rc = buf_printf(&o, "avatar: %s\nadapter: %s (scale %g)\nfreewill: %g\n",
                    p.avatar && *p.avatar ? p.avatar : "(the bot's)",
                    p.adapter && *p.adapter ? p.adapter : "(none: the base model with the card)",
                    p.adapter_scale, p.freewill);
  for (size_t i = 0; i < p.keywords.n && !rc; i++)
    rc = buf_printf(&o, "%s%s%s", i ? ", " : "keywords: ", p.keywords.v[i],
                    i + 1 == p.keywords.n ? "\n" : "");
  for (size_t i = 0; i < p.regexes.n && !rc; i++)
    rc = buf_printf(&o, "regex: `%s`\n", p.regexes.v[i]);
  for (size_t i = 0; i < p.n_channels && !rc; i++)
    rc = buf_printf(&o, "%s<#%" PRIu64 ">%s", i ? ", " : "channels: ", p.channels[i],
                    i + 1 == p.n_channels ? "\n" : "");
  /* its settings here, and where each comes from */
  static const char *const keys[] = {"engine.temperature", "engine.top_p", "engine.max_tokens",
                                     "bot.cooldown_s"};
  if (!rc) rc = buf_puts(&o, "settings here:\n");
  for (size_t i = 0; i < sizeof keys / sizeof keys[0] && !rc; i++) {
    buf v;
    buf_init(&v, 256);
    store_layer_src src;
    char from[64];
    if (store_layer_resolve(b->db, b->cfg, p.id, x->m->channel_id, x->m->guild_id, keys[i], &v,
                            &src) == 0) {
      store_layer_src_describe(&src, from, sizeof from);
      rc = buf_printf(&o, "  %s = %s (%s)\n", keys[i], v.data ? v.data : "", from);
    } else {
      err_clear();
    }
    buf_free(&v);
  }
  if (!rc && p.description && *p.description) {
    size_t cut = utf8_floor(p.description, strlen(p.description), 600);
    rc = buf_printf(&o, "description: %.*s%s\n", (int)cut, p.description,
                    cut < strlen(p.description) ? "…" : "");
  }
  if (rc) err_clear();
  say(x, o.data ? o.data : "", true);
  buf_free(&o);
  store_persona_free(&p);
}

static void persona_add(cmd_ctx *x, const char *rest) {
  char name[STORE_PERSONA_NAME_MAX + 1];
  next_word(&rest, name, sizeof name);
  if (!*name) {
    answer(x, "Usage: %spersona add <name> [description]", x->b->prefix);
    return;
  }
  store_persona p;
  store_persona_init(&p);
  p.name = xstrdup(name);
  if (*rest) p.description = xstrdup(rest);
  if (store_persona_add(x->b->db, &p)) {
    answer(x, "Could not add %s: %s", name, err_msg());
    err_clear();
  } else {
    LOG_I("audit", "user %" PRIu64 " added persona %s (%" PRId64 ")", x->m->author.id, name, p.id);
    persona_reload(x);
    answer(x,
           "Added **%s**. Give it a voice and a face with %spersona set %s <field> <value> "
           "(fields: description, personality, scenario, avatar, adapter, freewill, keywords, "
           "...).",
           name, x->b->prefix, name);
  }
  store_persona_free(&p);
}

static void persona_remove(cmd_ctx *x, const char *name) {
  int64_t id;
  if (!*name || store_persona_find(x->b->db, name, &id) != 0) {
    err_clear();
    answer(x, "No persona is called %.80s.", name);
    return;
  }
  if (store_persona_remove(x->b->db, id)) {
    answer(x, "Could not remove %.80s: %s", name, err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " removed persona %s (%" PRId64 ")", x->m->author.id, name, id);
  persona_reload(x);
  answer(x, "Removed %.80s.", name);
}

/* Sets one field of p from the text value; false with *why when the field or value is bad. */
static bool set_field(store_persona *p, const char *field, const char *value, const char **why) {
  char **str = NULL;
  if (strcmp(field, "description") == 0)
    str = &p->description;
  else if (strcmp(field, "personality") == 0)
    str = &p->personality;
  else if (strcmp(field, "scenario") == 0)
    str = &p->scenario;
  else if (strcmp(field, "first_mes") == 0)
    str = &p->first_mes;
  else if (strcmp(field, "mes_example") == 0)
    str = &p->mes_example;
  else if (strcmp(field, "system_prompt") == 0)
    str = &p->system_prompt;
  else if (strcmp(field, "post_history_instructions") == 0)
    str = &p->post_history_instructions;
  else if (strcmp(field, "avatar") == 0)
    str = &p->avatar;
  else if (strcmp(field, "adapter") == 0)
    str = &p->adapter;
  else if (strcmp(field, "lore_scope") == 0)
    str = &p->lore_scope;
  else if (strcmp(field, "name") == 0)
    str = &p->name;
  if (str) {
    if (strcmp(field, "name") == 0 && !*value) {
      *why = "a name cannot be empty";
      return false;
    }
    mem_free(*str);
    *str = *value ? xstrdup(value) : NULL;
    return true;
  }
  double v;
  bool num = str_to_double(value, &v) == 0;
  if (!num) err_clear();
  if (strcmp(field, "freewill") == 0 || strcmp(field, "adapter_scale") == 0 ||
      strcmp(field, "temperature") == 0 || strcmp(field, "top_p") == 0 ||
      strcmp(field, "max_tokens") == 0) {
    bool clear = strcmp(value, "default") == 0 || strcmp(value, "none") == 0;
    if (!num && !(clear && strcmp(field, "freewill") != 0 && strcmp(field, "adapter_scale") != 0)) {
      *why = "takes a number (or \"default\" for a sampling override)";
      return false;
    }
    if (strcmp(field, "freewill") == 0) p->freewill = v;
    if (strcmp(field, "adapter_scale") == 0) p->adapter_scale = v;
    if (strcmp(field, "temperature") == 0) {
      p->has_temperature = !clear;
      p->temperature = v;
    }
    if (strcmp(field, "top_p") == 0) {
      p->has_top_p = !clear;
      p->top_p = v;
    }
    if (strcmp(field, "max_tokens") == 0) {
      p->has_max_tokens = !clear;
      p->max_tokens = (int64_t)v;
    }
    return true;
  }
  if (strcmp(field, "enabled") == 0) {
    bool on = strcmp(value, "true") == 0 || strcmp(value, "on") == 0 || strcmp(value, "yes") == 0;
    bool off = strcmp(value, "false") == 0 || strcmp(value, "off") == 0 || strcmp(value, "no") == 0;
    if (!on && !off) {
      *why = "takes on or off";
      return false;
    }
    p->enabled = on;
    return true;
  }
  store_strv *list = NULL;
  if (strcmp(field, "aliases") == 0)
    list = &p->aliases;
  else if (strcmp(field, "keywords") == 0)
    list = &p->keywords;
  else if (strcmp(field, "tags") == 0)
    list = &p->tags;
  if (list) {
    if (split_list(value, list)) {
      *why = "has too many items";
      err_clear();
      return false;
    }
    return true;
  }
  if (strcmp(field, "regex") == 0) { /* adds one ("regex -" clears them all) */
    if (strcmp(value, "-") == 0) {
      store_strv_free(&p->regexes);
    } else if (store_strv_push(&p->regexes, value)) {
      err_clear();
      *why = "has too many items";
      return false;
    }
    return true;
  }
  if (strcmp(field, "channels") == 0) { /* "<#1>, 2" or "" (everywhere) */
    store_strv l = {0};
    if (split_list(value, &l)) err_clear();
    uint64_t *ids = l.n ? xcalloc(l.n, sizeof *ids) : NULL;
    size_t n = 0;
    for (size_t i = 0; i < l.n; i++) {
      const char *t = l.v[i];
      char digits[32];
      size_t k = 0;
      for (; *t && k + 1 < sizeof digits; t++)
        if (isdigit((unsigned char)*t)) digits[k++] = *t;
      digits[k] = 0;
      if (!k || str_to_u64(digits, &ids[n])) {
        err_clear();
        store_strv_free(&l);
        mem_free(ids);
        *why = "takes channel mentions or ids, separated by commas";
        return false;
      }
      n++;
    }
    store_strv_free(&l);
    mem_free(p->channels);
    p->channels = ids;
    p->n_channels = n;
    return true;
  }
  *why = "is not a persona field (description, personality, scenario, first_mes, mes_example, "
         "system_prompt, post_history_instructions, avatar, adapter, adapter_scale, freewill, "
         "temperature, top_p, max_tokens, aliases, keywords, regex, channels, tags, lore_scope, "
         "enabled, name; or a setting such as bot.cooldown_s)";
  return false;
}

static void persona_set(cmd_ctx *x, const char *rest) {
  bot *b = x->b;
  char name[STORE_PERSONA_NAME_MAX + 1], field[64];
  next_word(&rest, name, sizeof name);
  next_word(&rest, field, sizeof field);
  if (!*name || !*field) {
    answer(x, "Usage: %spersona set <name> <field> <value> (%spersona show <name> shows them).",
           b->prefix, b->prefix);
    return;
  }
  store_persona p;
  store_persona_init(&p);
  if (store_persona_by_name(b->db, name, &p) != 0) {
    err_clear();
    answer(x, "No persona is called %.80s.", name);
    store_persona_free(&p);
    return;
  }
  if (strchr(field, '.')) { /* a layered setting for this persona */
    if (store_layer_set(b->db, STORE_SCOPE_PERSONA, (uint64_t)p.id, field, rest)) {
      answer(x, "Could not set %s for %s: %s", field, p.name, err_msg());
      err_clear();
    } else {
      LOG_I("audit", "user %" PRIu64 " set %s = %s for persona %s", x->m->author.id, field, rest,
            p.name);
      answer(x, "%s set to %s for %s (it beats the channel's, the server's and the global value).",
             field, rest, p.name);
    }
    store_persona_free(&p);
    return;
  }
  const char *why = NULL;
  if (!set_field(&p, field, rest, &why)) {
    answer(x, "%.60s %s.", field, why);
  } else if (store_persona_update(b->db, &p)) {
    answer(x, "Could not change %s: %s", p.name, err_msg());
    err_clear();
  } else {
    LOG_I("audit", "user %" PRIu64 " set persona %s %s", x->m->author.id, p.name, field);
    persona_reload(x);
    answer(x, "%s: %s updated.", p.name, field);
  }
  store_persona_free(&p);
}

/* DMs: whom this person talks to. */
static void persona_choose(cmd_ctx *x, const char *name) {
  bot *b = x->b;
  if (x->m->guild_id != 0) {
    answer(x, "Choose whom you talk to in a DM with me: %spersona <name> there.", b->prefix);
    return;
  }
  if (persona__load(b, false)) err_clear();
  int64_t id = 0;
  if (strcmp(name, "none") != 0 && strcmp(name, "off") != 0) {
    id = proute_set_find(b->route, name);
    if (!id) {
      answer(x, "No persona is called %.80s (%spersona list shows them).", name, b->prefix);
      return;
    }
  }
  if (persona__dm_choose(b, x->m->author.id, id)) {
    answer(x, "Could not remember your choice: %s", err_msg());
    err_clear();
    return;
  }
  const bot_persona *bp = persona__get(b, id);
  if (!bp) {
    answer(x, "You're talking to me again.");
    return;
  }
  const char *hello = bp->p.first_mes && *bp->p.first_mes ? bp->p.first_mes : NULL;
  if (hello) {
    buf o;
    buf_init(&o, 1900);
    char *greet = persona__macros(hello, bp->p.name, x->m->author.username);
    if (buf_printf(&o, "You're talking to **%s** now.\n\n%s", bp->p.name, greet)) err_clear();
    mem_free(greet);
    say(x, o.data ? o.data : "", false);
    buf_free(&o);
  } else {
    answer(x, "You're talking to **%s** now. %sclear starts the conversation over.", bp->p.name,
           b->prefix);
  }
}

static void cmd_persona(cmd_ctx *x) {
  bot *b = x->b;
  const char *rest = x->args;
  char sub[STORE_PERSONA_NAME_MAX + 1];
  next_word(&rest, sub, sizeof sub);
  bool admin = is_admin(b, x->m->author.id);
  bool dm = x->m->guild_id == 0;
  if (!*sub) {
    if (dm) {
      int64_t id = persona__dm_choice(b, x->m->author.id);
      const bot_persona *bp = persona__get(b, id);
      answer(x,
             "You're talking to %s%s%s. %spersona <name> changes it, %spersona list shows "
             "whom you can choose.",
             bp ? "**" : "", bp ? bp->p.name : "me", bp ? "**" : "", b->prefix, b->prefix);
    } else if (admin) {
      answer(x,
             "Usage: %spersona list | show <name> | add <name> [description] | remove <name> | "
             "set <name> <field> <value>",
             b->prefix);
    }
    return;
  }
  if (strcmp(sub, "list") == 0 && (admin || dm)) {
    persona_list(x);
    return;
  }
  bool admin_sub = strcmp(sub, "show") == 0 || strcmp(sub, "add") == 0 ||
                   strcmp(sub, "remove") == 0 || strcmp(sub, "set") == 0;
  if (admin_sub && !admin) {
    if (x->ia) answer(x, "Only the bot's admins may manage personas.");
    LOG_W("audit", "user %" PRIu64 " tried %spersona %s but is not an admin; ignored",
          x->m->author.id, b->prefix, sub);
    return;
  }
  char name[STORE_PERSONA_NAME_MAX + 1];
  if (strcmp(sub, "show") == 0) {
    str_lcpy(name, rest, sizeof name);
    persona_show(x, str_trim(name));
  } else if (strcmp(sub, "add") == 0) {
    persona_add(x, rest);
  } else if (strcmp(sub, "remove") == 0) {
    str_lcpy(name, rest, sizeof name);
    persona_remove(x, str_trim(name));
  } else if (strcmp(sub, "set") == 0) {
    persona_set(x, rest);
  } else {
    str_lcpy(name, x->args, sizeof name);
    persona_choose(x, str_trim(name));
  }
}

/* DMs: forget this conversation (memory, and what a refill would bring back). */
static void cmd_clear(cmd_ctx *x) {
  bot *b = x->b;
  if (x->m->guild_id != 0) {
    answer(x, "%sclear works in a DM with me: it starts our conversation over.", b->prefix);
    return;
  }
  bot_chan *c = queue__chan(b, x->m->channel_id);
  c->cleared_after = x->m->id;
  memory_clear(b->mem, x->m->channel_id, b->persona);
  for (size_t i = 0; i < b->n_cast; i++) memory_clear(b->mem, x->m->channel_id, b->cast[i].memkey);
  char key[32];
  snprintf(key, sizeof key, "%" PRIu64, x->m->channel_id);
  char val[32];
  snprintf(val, sizeof val, "%" PRIu64, x->m->id);
  if (store_setting_set(b->db, "dm_clear", key, val)) {
    LOG_W("bot", "could not save a !clear: %s", err_msg());
    err_clear();
  }
  react_ok(x);
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

/* ---- the scheduler: !config-proactive, !config, !schedule, !drop, !drafts ---- */

/* A channel argument: <#id>, a bare id, or "here" (or nothing): the command's channel. */
static uint64_t channel_arg(cmd_ctx *x, const char *w) {
  uint64_t id = 0;
  if (!*w || strcasecmp(w, "here") == 0) return x->m->channel_id;
  if (w[0] == '<' && w[1] == '#') w += 2;
  char tmp[32];
  str_lcpy(tmp, w, sizeof tmp);
  char *end = strchr(tmp, '>');
  if (end) *end = 0;
  if (str_to_u64(tmp, &id)) {
    err_clear();
    return 0;
  }
  return id;
}

static void guild_scope(cmd_ctx *x, char *scope, size_t cap) {
  snprintf(scope, cap, "guild:%" PRIu64, x->m->guild_id);
}

/* Sets proactive.KEY for this guild after the key table's check. */
static bool set_proactive(cmd_ctx *x, cfg_id id, const char *value) {
  const cfg_key *k = cfg_key_get(id);
  if (cfg_key_check(id, value)) {
    answer(x, "%s", err_msg());
    err_clear();
    return false;
  }
  if (id == CFG_PROACTIVE_QUIET_HOURS) {
    int a, b2;
    if (proactive_parse_quiet(value, &a, &b2)) {
      answer(x, "%s", err_msg());
      err_clear();
      return false;
    }
  }
  if (id == CFG_PROACTIVE_TZ) {
    tz_zone *z = NULL;
    if (tz_load(value, &z)) {
      answer(x, "%s", err_msg());
      err_clear();
      return false;
    }
    tz_free(z);
  }
  char scope[48];
  guild_scope(x, scope, sizeof scope);
  if (store_setting_set(x->b->db, scope, k->name, value)) {
    answer(x, "Could not save %s: %s", k->name, err_msg());
    err_clear();
    return false;
  }
  LOG_I("audit", "user %" PRIu64 " set %s = %s for %s", x->m->author.id, k->name, value, scope);
  return true;
}

static void show_proactive(cmd_ctx *x) {
  proactive_guild g;
  char tzname[64];
  if (pjobs__guild(x->b, x->m->guild_id, &g, tzname, sizeof tzname)) err_clear();
  char quiet[32] = "off";
  if (g.quiet_from_min != g.quiet_to_min)
    snprintf(quiet, sizeof quiet, "%02d:%02d-%02d:%02d", g.quiet_from_min / 60,
             g.quiet_from_min % 60, g.quiet_to_min / 60, g.quiet_to_min % 60);
  answer(x,
         "**Scheduled posts here**: %s\njobs: %s\nchannels: %s\nquiet hours: %s (%s)\ndaily cap: "
         "%d\nonly where a person spoke within: %d min\nChange with %sconfig-proactive on|off, "
         "channel add|remove [#channel], jobs KIND,KIND|all, quiet HH:MM-HH:MM|off, cap N, window "
         "MIN, tz ZONE.",
         g.enabled ? "on" : "off", g.jobs[0] ? g.jobs : "(none)",
         g.channels[0] ? g.channels : "(none: add one with channel add)", quiet, tzname,
         g.daily_cap, g.active_window_min, x->b->prefix);
}

/* The guild's channel list with id added or removed. */
static void edit_channels(cmd_ctx *x, uint64_t id, bool add) {
  proactive_guild g;
  char tzname[64];
  if (pjobs__guild(x->b, x->m->guild_id, &g, tzname, sizeof tzname)) err_clear();
  char out[PROACTIVE_LIST_MAX] = "", idtxt[24];
  snprintf(idtxt, sizeof idtxt, "%" PRIu64, id);
  bool had = false;
  char list[PROACTIVE_LIST_MAX];
  str_lcpy(list, g.channels, sizeof list);
  for (char *save = list, *item; save;) {
    char *comma = strchr(save, ',');
    if (comma) *comma = 0;
    item = str_trim(save);
    save = comma ? comma + 1 : NULL;
    if (!*item) continue;
    if (strcmp(item, idtxt) == 0) {
      had = true;
      if (!add) continue;
    }
    size_t n = strlen(out);
    snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", item);
  }
  if (add && !had) {
    size_t n = strlen(out);
    snprintf(out + n, sizeof out - n, "%s%s", n ? "," : "", idtxt);
  }
  if (set_proactive(x, CFG_PROACTIVE_CHANNELS, out))
    answer(x, "Scheduled posts %s <#%" PRIu64 ">.", add ? "may go to" : "no longer go to", id);
}

static void cmd_config_proactive(cmd_ctx *x) {
  if (!x->m->guild_id) {
    answer(x, "Scheduled posts are set per server: use this in a server channel.");
    return;
  }
  const char *p = x->args;
  char w[32], v[PROACTIVE_LIST_MAX];
  next_word(&p, w, sizeof w);
  if (!*w) {
    show_proactive(x);
    return;
  }
  if (strcasecmp(w, "on") == 0 || strcasecmp(w, "off") == 0) {
    bool on = strcasecmp(w, "on") == 0;
    if (set_proactive(x, CFG_PROACTIVE_ENABLED, on ? "true" : "false"))
      answer(x, "Scheduled posts are %s in this server.%s", on ? "on" : "off",
             on ? " Jobs run in the allowed channels only (channel add)." : "");
    return;
  }
  if (strcasecmp(w, "channel") == 0) {
    char verb[16], ch[40];
    next_word(&p, verb, sizeof verb);
    next_word(&p, ch, sizeof ch);
    uint64_t id = channel_arg(x, ch);
    bool add = strcasecmp(verb, "add") == 0, rm = strcasecmp(verb, "remove") == 0;
    if ((!add && !rm) || !id) {
      answer(x, "Usage: %sconfig-proactive channel add|remove [#channel]", x->b->prefix);
      return;
    }
    edit_channels(x, id, add);
    return;
  }
  static const struct {
    const char *word;
    cfg_id id;
  } simple[] = {{"jobs", CFG_PROACTIVE_JOBS},
                {"quiet", CFG_PROACTIVE_QUIET_HOURS},
                {"cap", CFG_PROACTIVE_DAILY_CAP},
                {"window", CFG_PROACTIVE_ACTIVE_WINDOW_MIN},
                {"tz", CFG_PROACTIVE_TZ}};
  for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++)
    if (strcasecmp(w, simple[i].word) == 0) {
      str_lcpy(v, p, sizeof v);
      if (!*v) {
        answer(x, "Usage: %sconfig-proactive %s VALUE", x->b->prefix, w);
        return;
      }
      if (simple[i].id == CFG_PROACTIVE_JOBS && strcasecmp(v, "all") != 0) {
        char list[PROACTIVE_LIST_MAX];
        str_lcpy(list, v, sizeof list);
        for (char *save = list, *item; save;) {
          char *comma = strchr(save, ',');
          if (comma) *comma = 0;
          item = str_trim(save);
          save = comma ? comma + 1 : NULL;
          if (*item && !proactive_kind_find(item)) {
            answer(x, "%s is not a job kind (%sschedule kinds lists them).", item, x->b->prefix);
            return;
          }
        }
      }
      if (set_proactive(x, simple[i].id, v))
        answer(x, "%s = %s for this server.", cfg_key_get(simple[i].id)->name, v);
      return;
    }
  answer(x,
         "Usage: %sconfig-proactive [on|off | channel add|remove [#channel] | jobs LIST|all | "
         "quiet HH:MM-HH:MM|off | cap N | window MIN | tz ZONE]",
         x->b->prefix);
}

/* !config proactive.KEY [VALUE]: the same switches by their config names. */
static void cmd_config(cmd_ctx *x) {
  const char *p = x->args;
  char key[64];
  next_word(&p, key, sizeof key);
  if (!*key) {
    if (x->m->guild_id)
      show_proactive(x);
    else
      answer(x, "Use %sconfig in a server channel.", x->b->prefix);
    return;
  }
  const cfg_key *k = cfg_key_find(key);
  if (!k || strncmp(key, "proactive.", 10) != 0) {
    answer(x,
           "%sconfig changes this server's proactive.* keys (enabled, jobs, channels, "
           "quiet_hours, daily_cap, active_window_min, tz); the other settings have their own "
           "commands (%shelp).",
           x->b->prefix, x->b->prefix);
    return;
  }
  if (!x->m->guild_id) {
    answer(x, "Use %sconfig in a server channel.", x->b->prefix);
    return;
  }
  if (!*p) {
    show_proactive(x);
    return;
  }
  if (set_proactive(x, cfg_key_id(k), p)) answer(x, "%s = %s for this server.", key, p);
}

typedef struct sched_list {
  buf *o;
  uint64_t guild_id;
  int n;
} sched_list;

static int list_job(const store_sched_job *j, void *user) {
  sched_list *l = user;
  if (l->guild_id && j->guild_id != l->guild_id) return 0;
  l->n++;
  char next[32] = "-";
  if (j->next_ms > 0) {
    int64_t sec = j->next_ms / 1000;
    int y, mo, d;
    clock_civil_from_days(sec / 86400 - (sec % 86400 < 0), &y, &mo, &d);
    int64_t r = ((sec % 86400) + 86400) % 86400;
    snprintf(next, sizeof next, "%04d-%02d-%02d %02d:%02d UTC", y, mo, d, (int)(r / 3600),
             (int)(r % 3600 / 60));
  }
  if (buf_printf(l->o, "• **%s** %s `%s` (%s) in <#%" PRIu64 ">%s, next %s\n", j->name, j->kind,
                 j->expr, j->tz, j->channel_id, j->enabled ? "" : " (disabled)", next))
    err_clear();
  return 0;
}

static void cmd_schedule(cmd_ctx *x) {
  bot *b = x->b;
  const char *p = x->args;
  char w[32];
  next_word(&p, w, sizeof w);
  if (!*w || strcasecmp(w, "list") == 0) {
    buf o;
    buf_init(&o, 1900);
    sched_list l = {.o = &o, .guild_id = x->m->guild_id};
    if (buf_puts(&o, "**Scheduled jobs**\n")) err_clear();
    if (store_sched_each(b->db, 0, list_job, &l)) err_clear();
    if (!l.n && buf_printf(&o, "none yet: %sschedule add KIND [#channel] [cron] or %sschedule seed",
                           b->prefix, b->prefix))
      err_clear();
    say(x, o.data ? o.data : "", true);
    buf_free(&o);
    return;
  }
  if (strcasecmp(w, "kinds") == 0) {
    buf o;
    buf_init(&o, 1900);
    size_t n;
    const proactive_kind *k = proactive_kinds(&n);
    for (size_t i = 0; i < n; i++)
      if (buf_printf(&o, "• **%s** (`%s`): %s\n", k[i].name, k[i].cadence, k[i].what)) err_clear();
    say(x, o.data ? o.data : "", true);
    buf_free(&o);
    return;
  }
  if (!x->m->guild_id) {
    answer(x, "Scheduled jobs belong to a server: use this in a server channel.");
    return;
  }
  proactive_guild g;
  char tzname[64];
  if (pjobs__guild(b, x->m->guild_id, &g, tzname, sizeof tzname)) err_clear();
  if (strcasecmp(w, "add") == 0 || strcasecmp(w, "seed") == 0) {
    bool seed = strcasecmp(w, "seed") == 0;
    char kind[SCHED_KIND_MAX] = "", ch[40] = "";
    if (!seed) next_word(&p, kind, sizeof kind);
    const char *save = p;
    next_word(&p, ch, sizeof ch);
    uint64_t channel = ch[0] == '<' || strcasecmp(ch, "here") == 0 ? channel_arg(x, ch) : 0;
    if (!channel) {
      p = save; /* no channel given: this one; the rest is the expression */
      channel = x->m->channel_id;
    }
    size_t n;
    const proactive_kind *k = proactive_kinds(&n);
    if (!seed && !proactive_kind_find(kind)) {
      answer(x, "Usage: %sschedule add KIND [#channel] [cron expression] (%sschedule kinds)",
             b->prefix, b->prefix);
      return;
    }
    int added = 0;
    for (size_t i = 0; i < n; i++) {
      if (!seed && strcmp(k[i].name, kind) != 0) continue;
      store_sched_job j;
      memset(&j, 0, sizeof j);
      snprintf(j.name, sizeof j.name, "%s-%" PRIu64, k[i].name, channel);
      str_lcpy(j.kind, k[i].name, sizeof j.kind);
      j.guild_id = x->m->guild_id;
      j.channel_id = channel;
      str_lcpy(j.expr, !seed && *p ? p : k[i].cadence, sizeof j.expr);
      str_lcpy(j.tz, tzname, sizeof j.tz);
      j.jitter_s = 120;
      j.enabled = true;
      str_lcpy(j.params, "{}", sizeof j.params);
      int64_t next = 0;
      if (sched_next_instant(b->sched, &j, bot__now(b), &next)) {
        answer(x, "%s", err_msg());
        err_clear();
        return;
      }
      j.next_ms = next;
      if (store_sched_add(b->db, &j)) {
        if (!seed) {
          answer(x, "Could not add %s: %s", j.name, err_msg());
          err_clear();
          return;
        }
        err_clear(); /* seed: already there */
        continue;
      }
      LOG_I("audit", "user %" PRIu64 " added scheduled job %s (%s, %s)", x->m->author.id, j.name,
            j.expr, j.tz);
      added++;
    }
    answer(x, "%d job%s added for <#%" PRIu64 ">.%s", added, added == 1 ? "" : "s", channel,
           g.enabled ? ""
                     : " Scheduled posts are off in this server: turn them on with "
                       "config-proactive on.");
    return;
  }
  if (strcasecmp(w, "remove") == 0 || strcasecmp(w, "run") == 0) {
    char name[SCHED_NAME_MAX];
    next_word(&p, name, sizeof name);
    store_sched_job j;
    if (!*name || store_sched_get(b->db, name, &j) || j.guild_id != x->m->guild_id) {
      err_clear();
      answer(x, "No scheduled job here is called %s (%sschedule list).", *name ? name : "that",
             b->prefix);
      return;
    }
    if (strcasecmp(w, "remove") == 0) {
      if (store_sched_remove(b->db, name)) {
        answer(x, "Could not remove %s: %s", name, err_msg());
        err_clear();
        return;
      }
      LOG_I("audit", "user %" PRIu64 " removed scheduled job %s", x->m->author.id, name);
      answer(x, "Removed %s.", name);
      return;
    }
    char detail[300];
    if (pjobs__run_now(b, name, detail, sizeof detail)) {
      answer(x, "Could not run %s: %s", name, err_msg());
      err_clear();
      return;
    }
    answer(x, "%s: %s", name, detail);
    return;
  }
  answer(x,
         "Usage: %sschedule [list | kinds | add KIND [#channel] [cron] | seed [#channel] | "
         "remove NAME | run NAME]",
         b->prefix);
}

typedef struct find_job {
  uint64_t guild_id, channel_id;
  const char *kind;
  char name[SCHED_NAME_MAX];
} find_job;

static int match_job(const store_sched_job *j, void *user) {
  find_job *f = user;
  if (j->guild_id != f->guild_id || strcmp(j->kind, f->kind) != 0) return 0;
  if (!f->name[0] || j->channel_id == f->channel_id) str_lcpy(f->name, j->name, sizeof f->name);
  return j->channel_id == f->channel_id;
}

/* !drop KIND|NAME: a scheduled job now, past quiet hours and the cap (an admin asked). */
static void cmd_drop(cmd_ctx *x) {
  bot *b = x->b;
  char what[SCHED_NAME_MAX];
  const char *p = x->args;
  next_word(&p, what, sizeof what);
  if (!*what || !x->m->guild_id) {
    answer(x, "Usage (in a server): %sdrop KIND|JOB — for example %sdrop meme_drop", b->prefix,
           b->prefix);
    return;
  }
  find_job f = {.guild_id = x->m->guild_id, .channel_id = x->m->channel_id, .kind = what};
  store_sched_job j;
  if (store_sched_get(b->db, what, &j) == 0 && j.guild_id == x->m->guild_id) {
    str_lcpy(f.name, j.name, sizeof f.name);
  } else {
    err_clear();
    if (store_sched_each(b->db, 0, match_job, &f) < 0) err_clear();
  }
  if (!f.name[0]) {
    answer(x, "No %s job in this server yet: %sschedule add %s here", what, b->prefix, what);
    return;
  }
  b->pjobs_force = true;
  char detail[300];
  int rc = pjobs__run_now(b, f.name, detail, sizeof detail);
  b->pjobs_force = false;
  if (rc) {
    answer(x, "Could not run %s: %s", f.name, err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " dropped %s now", x->m->author.id, f.name);
  answer(x, "%s: %s", f.name, detail);
}

#define DRAFTS_SHOWN 10

typedef struct drafts {
  char scope[64];
  int64_t want; /* a draft asked for by id */
  store_lore_source found;
  int64_t ids[DRAFTS_SHOWN];
  int n;
} drafts;

static int list_draft(const store_lore_source *src, void *user) {
  drafts *d = user;
  if (strcmp(src->scope, d->scope) != 0) return 0;
  if (d->want && src->id == d->want) d->found = *src;
  if (d->n < DRAFTS_SHOWN) d->ids[d->n] = src->id;
  d->n++;
  return 0;
}

static int put_draft_chunk(const store_lore_chunk *c, void *user) {
  buf *o = user;
  size_t n = strlen(c->text);
  if (n > 300) n = utf8_floor(c->text, n, 300);
  if (buf_printf(o, "%s%s%.*s%s\n", c->title && *c->title ? c->title : "",
                 c->title && *c->title ? ": " : "", (int)n, c->text,
                 n < strlen(c->text) ? "…" : ""))
    err_clear();
  return 0;
}

typedef struct approve {
  json_t *entries;
} approve;

static int approve_chunk(const store_lore_chunk *c, void *user) {
  approve *a = user;
  json_array_append_new(a->entries,
                        json_pack("{s:s, s:s, s:[s]}", "comment", c->title ? c->title : "",
                                  "content", c->text, "keys", c->title ? c->title : ""));
  return 0;
}

/* !drafts [approve|reject ID]: lore entries content_expansion drafted, waiting for an admin. */
static void cmd_drafts(cmd_ctx *x) {
  bot *b = x->b;
  if (!x->m->guild_id) {
    answer(x, "Drafts belong to a server: use this in a server channel.");
    return;
  }
  const char *p = x->args;
  char w[16], idw[24];
  next_word(&p, w, sizeof w);
  next_word(&p, idw, sizeof idw);
  drafts d = {0};
  snprintf(d.scope, sizeof d.scope, "draft:guild:%" PRIu64, x->m->guild_id);
  buf o;
  buf_init(&o, 1900);
  if (!*w) {
    if (store_lore_source_each(b->db, list_draft, &d)) err_clear();
    if (!d.n) {
      answer(x, "No lore drafts are waiting (the content_expansion job writes them).");
      buf_free(&o);
      return;
    }
    if (buf_printf(&o,
                   "**Lore drafts waiting** (%d; %sdrafts approve ID or reject ID; /drafts edit "
                   "ID opens one in a form)\n",
                   d.n, b->prefix))
      err_clear();
    for (int i = 0; i < d.n && i < DRAFTS_SHOWN; i++) {
      if (buf_printf(&o, "**#%lld** ", (long long)d.ids[i])) err_clear();
      if (store_lore_chunks_of(b->db, d.ids[i], put_draft_chunk, &o)) err_clear();
    }
    say(x, o.data ? o.data : "", true);
    buf_free(&o);
    return;
  }
  if (strcasecmp(w, "edit") == 0) {
    /* a text command cannot open a form: the slash twin can */
    answer(x, "Editing opens a form, which only the slash command can: use /drafts edit %s.",
           *idw ? idw : "ID");
    buf_free(&o);
    return;
  }
  int64_t id = 0;
  if (str_to_i64(idw[0] == '#' ? idw + 1 : idw, &id)) {
    err_clear();
    id = 0;
  }
  d.want = id;
  if (id && store_lore_source_each(b->db, list_draft, &d)) err_clear();
  if (!id || d.found.id != id) {
    answer(x, "No lore draft #%s here (%sdrafts lists them).", idw, b->prefix);
    buf_free(&o);
    return;
  }
  if (strcasecmp(w, "show") == 0) {
    if (store_lore_chunks_of(b->db, id, put_draft_chunk, &o)) err_clear();
    say(x, o.data ? o.data : "", true);
  } else if (strcasecmp(w, "approve") == 0 || strcasecmp(w, "reject") == 0) {
    bool ok = strcasecmp(w, "approve") == 0;
    int rc = store_tx_begin(b->db);
    if (!rc && ok) {
      approve a = {.entries = json_array()};
      rc = store_lore_chunks_of(b->db, id, approve_chunk, &a);
      json_t *book = json_pack("{s:o}", "entries", a.entries);
      char *js = book ? json_dumps(book, JSON_COMPACT) : NULL;
      json_decref(book);
      char name[96], scope[48];
      snprintf(name, sizeof name, "approved:%lld", (long long)id);
      snprintf(scope, sizeof scope, "guild:%" PRIu64, x->m->guild_id);
      if (!rc)
        rc = js ? lore_add_book_json(b->db, name, js, strlen(js), scope, b->emb, NULL)
                : err_set(MIMIC_ENOMEM, "out of memory");
      free(js);
    }
    if (!rc) rc = store_lore_source_delete(b->db, id);
    if (!rc) rc = store_tx_commit(b->db);
    if (rc) {
      store_tx_rollback(b->db);
      answer(x, "Could not %s draft #%lld: %s", w, (long long)id, err_msg());
      err_clear();
    } else {
      LOG_I("audit", "user %" PRIu64 " %s lore draft %lld", x->m->author.id,
            ok ? "approved" : "rejected", (long long)id);
      answer(x, "Draft #%lld %s.", (long long)id,
             ok ? "approved: it is part of this server's lore now" : "rejected and deleted");
    }
  } else {
    answer(x, "Usage: %sdrafts [show|approve|reject ID] (/drafts edit ID opens a form)", b->prefix);
  }
  buf_free(&o);
}

/* ---- layered settings: a channel's or the server's own values ---- */

/* The keys the bot reads through the layers (persona, channel, server, global). */
static const char *const layered_keys[] = {"bot.response_rate", "bot.cooldown_s",
                                           "engine.temperature", "engine.top_p",
                                           "engine.max_tokens"};

static void setting_show(cmd_ctx *x, const char *key) {
  bot *b = x->b;
  buf v;
  buf_init(&v, 64);
  store_layer_src src;
  char from[64];
  if (store_layer_resolve(b->db, b->cfg, 0, x->m->channel_id, x->m->guild_id, key, &v, &src)) {
    answer(x, "Could not read %s: %s", key, err_msg());
    err_clear();
  } else {
    store_layer_src_describe(&src, from, sizeof from);
    answer(x, "%s = %s here (from %s).", key, v.data ? v.data : "", from);
  }
  buf_free(&v);
}

/* !setting <key> [<value>|default] [server]: shows the value here with where it comes from, or
 * sets it for this channel (or thread), or for the whole server; `default` removes that layer's
 * value. A persona's own values: !persona set. */
static void cmd_setting(cmd_ctx *x) {
  bot *b = x->b;
  const char *rest = x->args;
  char key[64], last[16] = "";
  next_word(&rest, key, sizeof key);
  const char *key_ok = NULL;
  for (size_t i = 0; i < sizeof layered_keys / sizeof layered_keys[0]; i++)
    if (strcmp(key, layered_keys[i]) == 0) key_ok = layered_keys[i];
  if (!key_ok) {
    answer(x,
           "Usage: %ssetting <key> [<value>|default] [server], with key one of bot.response_rate, "
           "bot.cooldown_s, engine.temperature, engine.top_p, engine.max_tokens.",
           b->prefix);
    return;
  }
  char val[128];
  str_lcpy(val, rest, sizeof val);
  str_trim(val);
  if (!*val) {
    setting_show(x, key_ok);
    return;
  }
  /* a trailing "server" sets the server's value */
  char *sp = strrchr(val, ' ');
  if (sp) str_lcpy(last, sp + 1, sizeof last);
  bool server = sp && strcasecmp(last, "server") == 0;
  if (server) {
    *sp = 0;
    str_trim(val);
  }
  if (server && !x->m->guild_id) {
    answer(x, "There is no server in a DM: set it for this conversation without 'server'.");
    return;
  }
  store_scope kind = server ? STORE_SCOPE_GUILD : STORE_SCOPE_CHANNEL;
  uint64_t id = server ? x->m->guild_id : x->m->channel_id;
  int rc = strcmp(val, "default") == 0 ? store_layer_delete(b->db, kind, id, key_ok)
                                       : store_layer_set(b->db, kind, id, key_ok, val);
  if (rc) {
    answer(x, "Could not set %s: %s", key_ok, err_msg());
    err_clear();
    return;
  }
  LOG_I("audit", "user %" PRIu64 " set %s = %s for %s %" PRIu64, x->m->author.id, key_ok, val,
        server ? "guild" : "channel", id);
  setting_show(x, key_ok);
}

/* ---- scenes (scenario.c) ---- */

static void cmd_scenario(cmd_ctx *x) {
  scenario__command(x->b, x->m, x->args, is_admin(x->b, x->m->author.id));
}

/* ---- games and points (games.c; the slash twins share these) ---- */

static void game_reply(void *user, const char *text) { say(user, text, true); }

static void game_call(cmd_ctx *x, void (*fn)(bot *, const game_cmd *)) {
  game_cmd g = {.guild_id = x->m->guild_id,
                .channel_id = x->m->channel_id,
                .message_id = x->m->id,
                .user_id = x->m->author.id,
                .user_name = x->m->author.username,
                .admin = is_admin(x->b, x->m->author.id),
                .is_dm = x->m->guild_id == 0,
                .args = x->args,
                /* a slash twin answers the interaction (the game's own posts go to the channel) */
                .reply = x->ia ? game_reply : NULL,
                .reply_user = x};
  fn(x->b, &g);
}

static void cmd_game(cmd_ctx *x) { game_call(x, games__cmd_game); }
static void cmd_story(cmd_ctx *x) { game_call(x, games__cmd_story); }
static void cmd_points(cmd_ctx *x) { game_call(x, games__cmd_points); }
static void cmd_leaderboard(cmd_ctx *x) { game_call(x, games__cmd_leaderboard); }
static void cmd_profile(cmd_ctx *x) { game_call(x, games__cmd_profile); }

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
    {"setting", CMD_ADMIN, cmd_setting, "<key> [<value>|default] [server]",
     "a setting for this channel or the server (shown with where it comes from)"},
    {"vision", CMD_ADMIN, cmd_vision, "[on|off] [server]",
     "describe the images people post here (or on the whole server)"},
    {"config-proactive", CMD_ADMIN, cmd_config_proactive,
     "[on|off | channel add|remove [#ch] | jobs LIST | quiet HH:MM-HH:MM | cap N | window MIN | "
     "tz ZONE]",
     "this server's scheduled posts: switches, channels, quiet hours, daily cap"},
    {"config", CMD_ADMIN, cmd_config, "proactive.KEY [VALUE]",
     "the same switches by their config names"},
    {"schedule", CMD_ADMIN, cmd_schedule,
     "[list | kinds | add KIND [#ch] [cron] | seed [#ch] | remove NAME | run NAME]",
     "scheduled jobs of this server"},
    {"drop", CMD_ADMIN, cmd_drop, "KIND|JOB", "run a scheduled job now"},
    {"drafts", CMD_ADMIN, cmd_drafts, "[show|approve|reject ID]",
     "lore entries drafted from recent talk, waiting for approval"},
    {"help", CMD_EVERYONE, cmd_help, "", "this list"},
    {"optout", CMD_EVERYONE, cmd_optout, "", "stop learning from my messages"},
    {"optin", CMD_EVERYONE, cmd_optin, "", "resume learning from my messages"},
    {"forgetme", CMD_EVERYONE, cmd_forgetme, "", "delete my stored messages"},
    {"persona", CMD_EVERYONE, cmd_persona, "<name> | list",
     "in a DM: choose whom you talk to (admins: list, show, add, remove, set)"},
    {"clear", CMD_EVERYONE, cmd_clear, "", "in a DM: start our conversation over"},
    {"scenario", CMD_EVERYONE, cmd_scenario,
     "start <persona>[,<persona>...] <premise> | next [persona] | end",
     "a scene the personas play in turn and anyone joins by talking (start and end: admins and "
     "moderators; alone: the scene here)"},
    {"game", CMD_EVERYONE, cmd_game, "trivia|riddle|story [persona] [topic] | hint | stop",
     "play a mini-game here (points for right answers)"},
    {"minigame", CMD_EVERYONE, cmd_game, "", NULL /* alias */},
    {"story", CMD_EVERYONE, cmd_story, "[persona] [premise]",
     "an interactive story: vote on what happens next"},
    {"points", CMD_EVERYONE, cmd_points, "[@user]",
     "points won in games (admins: grant|revoke @user N reason)"},
    {"leaderboard", CMD_EVERYONE, cmd_leaderboard, "[month | YYYY-MM]", "the best players here"},
    {"profile", CMD_EVERYONE, cmd_profile, "[@user]", "points, games and privacy state"},
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
  say(x, o.data ? o.data : "", true);
  buf_free(&o);
}

bool admin__handle(bot *b, const discord_message *m) {
  size_t pl = strlen(b->prefix);
  const char *c = m->content;
  if (!c || strncmp(c, b->prefix, pl) != 0) return false;
  size_t len = strlen(c);
  if (len > BOT_COMMAND_MAX) return false;
  char word[32]; /* the longest command word: "config-proactive" */
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

bool admin__is_admin(const bot *b, uint64_t user) { return is_admin(b, user); }

bool admin__exists(const char *name, bool *admin_only) {
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    if (strcmp(cmds[i].name, name) == 0) {
      if (admin_only) *admin_only = cmds[i].who == CMD_ADMIN;
      return true;
    }
  return false;
}

bool admin__run(bot *b, bot_ia *ia, const char *name, const char *args) {
  const discord_interaction *in = ia->in;
  const cmd_def *d = NULL;
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0] && !d; i++)
    if (strcmp(cmds[i].name, name) == 0) d = &cmds[i];
  if (!d) return false;
  if (d->who == CMD_ADMIN && !is_admin(b, in->user.id)) {
    LOG_W("audit",
          "user %" PRIu64 " (%s) tried /%s in channel %" PRIu64 " but is not an admin "
          "(bot.admins); refused",
          in->user.id, in->user.username, in->command_name ? in->command_name : name,
          in->channel_id);
    ia->ephemeral = true;
    admin__ia_say(b, ia, "Only the bot's admins (bot.admins) may use that command.");
    return true;
  }
  /* The message the command would have come in: the interaction's channel, server and person. */
  discord_message m;
  memset(&m, 0, sizeof m);
  m.id = in->id;
  m.channel_id = in->channel_id;
  m.guild_id = in->guild_id;
  m.has_author = true;
  m.author = in->user;
  m.has_member = in->has_member;
  m.member = in->member;
  m.content = "";
  char a[BOT_COMMAND_MAX + 1];
  str_lcpy(a, args ? args : "", sizeof a);
  cmd_ctx x = {.b = b, .m = &m, .args = str_trim(a), .ia = ia};
  LOG_D("bot", "command /%s (%s%s) from %" PRIu64, in->command_name ? in->command_name : name,
        b->prefix, d->name, in->user.id);
  d->fn(&x);
  if (ia->answers == 0) admin__ia_say(b, ia, "Done.");
  return true;
}
