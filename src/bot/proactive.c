/* The good-neighbour rules for proactive posts (bot/proactive.h). */
#include "bot/proactive.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Whether the comma-separated list holds `item` (case-insensitive, spaces around items ignored). */
static bool list_has(const char *list, const char *item) {
  size_t n = strlen(item);
  for (const char *p = list; *p;) {
    while (*p == ',' || *p == ' ') p++;
    const char *end = p;
    while (*end && *end != ',') end++;
    const char *e = end;
    while (e > p && e[-1] == ' ') e--;
    if ((size_t)(e - p) == n && strncasecmp(p, item, n) == 0) return true;
    p = end;
  }
  return false;
}

static int hhmm(const char **p, int *out) {
  const char *s = *p;
  if (!isdigit((unsigned char)s[0])) return -1;
  int h = s[0] - '0';
  s++;
  if (isdigit((unsigned char)*s)) h = h * 10 + (*s++ - '0');
  if (*s++ != ':' || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1])) return -1;
  int m = (s[0] - '0') * 10 + (s[1] - '0');
  if (h > 24 || m > 59 || (h == 24 && m)) return -1;
  *out = h * 60 + m;
  *p = s + 2;
  return 0;
}

int proactive_parse_quiet(const char *text, int *from_min, int *to_min) {
  *from_min = *to_min = 0;
  if (!text[0] || !strcasecmp(text, "off") || !strcasecmp(text, "none")) return 0;
  const char *s = text;
  int a, b;
  if (hhmm(&s, &a) || *s++ != '-' || hhmm(&s, &b) || *s)
    return err_set(MIMIC_EINVAL, "quiet hours '%s' are not HH:MM-HH:MM (e.g. 23:00-08:00, or off)",
                   text);
  *from_min = a % 1440, *to_min = b % 1440;
  return 0;
}

static bool quiet(const proactive_guild *g, int minute) {
  int a = g->quiet_from_min, b = g->quiet_to_min;
  if (a == b) return false;
  return a < b ? minute >= a && minute < b : minute >= a || minute < b;
}

proactive_verdict proactive_check(const proactive_guild *g, const char *kind,
                                  const proactive_facts *f) {
  if (!g->enabled) return PROACTIVE_OFF;
  if (!list_has(g->jobs, "all") && !list_has(g->jobs, kind)) return PROACTIVE_JOB_OFF;
  char id[24];
  snprintf(id, sizeof id, "%llu", (unsigned long long)f->channel_id);
  if (!list_has(g->channels, id)) return PROACTIVE_CHANNEL;
  if (quiet(g, f->local_minute)) return PROACTIVE_QUIET;
  if (f->posts_today >= g->daily_cap) return PROACTIVE_CAP;
  if (f->last_is_ours) return PROACTIVE_LAST_OURS;
  if (g->active_window_min > 0 &&
      (f->last_human_ms <= 0 || f->now_ms - f->last_human_ms > g->active_window_min * 60000LL))
    return PROACTIVE_DEAD;
  return PROACTIVE_OK;
}

bool proactive_is_quiet(const proactive_guild *g, int local_minute) {
  return quiet(g, local_minute);
}

const char *proactive_verdict_name(proactive_verdict v) {
  switch (v) {
  case PROACTIVE_OK: return "ok";
  case PROACTIVE_OFF: return "proactive posts are off in this server";
  case PROACTIVE_JOB_OFF: return "this job is not switched on";
  case PROACTIVE_CHANNEL: return "channel not on the allow-list";
  case PROACTIVE_QUIET: return "quiet hours";
  case PROACTIVE_CAP: return "daily cap reached";
  case PROACTIVE_LAST_OURS: return "the last message is the bot's own";
  case PROACTIVE_DEAD: return "nobody spoke recently";
  }
  return "?";
}

static const proactive_kind kinds[] = {
    {"auto_scenario", "0 */4 * * *", true,
     "two personas start a scene on a premise drawn from recent talk (people may join in)"},
    {"media_sweep", "0 */6 * * *", false,
     "descriptions of images posted since the last sweep join the server's lore"},
    {"daily_digest", "0 10 * * *", true, "a digest of what happened in the server yesterday"},
    {"channel_summary", "0 23 * * *", true, "a summary of today's conversation in the channel"},
    {"scenario_reveal", "* * * * *", false,
     "ends a scene here once its time is up (params.minutes, default 60)"},
    {"content_expansion", "0 */6 * * *", false,
     "a lore entry drafted from recent talk, for admins to approve (!drafts)"},
    {"meme_drop", "0 */6 * * *", true, "a joke about what the channel has been on about"},
    {"persona_chat", "0 */2 * * *", true,
     "two personas talk with each other (bounded by bot.bot_turns_max)"},
    {"auto_minigame", "0 */4 * * *", true, "a round of trivia in the channel"},
    {"story_weave", "0 12 * * *", true, "the next chapter of the server's shared story"},
    {"world_builder", "0 0 * * *", false, "a new lore entry that extends the world"},
};

const proactive_kind *proactive_kinds(size_t *n) {
  *n = sizeof kinds / sizeof kinds[0];
  return kinds;
}

const proactive_kind *proactive_kind_find(const char *name) {
  for (size_t i = 0; name && i < sizeof kinds / sizeof kinds[0]; i++)
    if (strcmp(kinds[i].name, name) == 0) return &kinds[i];
  return NULL;
}
