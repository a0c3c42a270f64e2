/* Being a good neighbour: whether a proactive post (a scheduled job, a keyword trigger, random
 * engagement) may go into a channel now. Pure policy with no I/O, like the router: the caller
 * passes a guild's switches and the facts about the channel and the day, and gets a verdict with
 * its reason, so every decision is reproducible in tests and explainable in logs.
 *
 * The rules, in order: the guild's master switch; the job kind switched on; the channel on the
 * guild's allow-list; outside quiet hours (local time in the guild's zone); under the daily cap of
 * proactive posts (per local day); never when the channel's last message is the bot's own (or one
 * of its personas'); only where a person spoke within the activity window. */
#ifndef MIMIC_BOT_PROACTIVE_H
#define MIMIC_BOT_PROACTIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define PROACTIVE_LIST_MAX 1024 /* bytes of a comma-separated list */

typedef struct proactive_guild {
  bool enabled;                  /* proactive.enabled: off until a guild turns it on */
  char jobs[PROACTIVE_LIST_MAX]; /* proactive.jobs: comma-separated kinds, "all" for every one */
  char channels[PROACTIVE_LIST_MAX]; /* proactive.channels: comma-separated ids; empty: none */
  int quiet_from_min, quiet_to_min;  /* quiet hours as minutes of the local day; equal: none */
  int daily_cap;                     /* proactive.daily_cap: posts per local day; 0 blocks all */
  int active_window_min;             /* proactive.active_window_min; 0: no activity required */
} proactive_guild;

typedef struct proactive_facts {
  uint64_t channel_id;
  int local_minute;      /* minute of the local day now, 0..1439, in the guild's zone */
  int posts_today;       /* proactive posts in this guild since local midnight */
  int64_t now_ms;        /* Unix ms */
  int64_t last_human_ms; /* the channel's last message by a person (not a bot), or 0 */
  bool last_is_ours;     /* the channel's last message is the bot's or one of its personas' */
} proactive_facts;

typedef enum proactive_verdict {
  PROACTIVE_OK = 0,
  PROACTIVE_OFF,       /* the guild has not turned proactive posts on */
  PROACTIVE_JOB_OFF,   /* this kind is not switched on */
  PROACTIVE_CHANNEL,   /* the channel is not on the allow-list */
  PROACTIVE_QUIET,     /* quiet hours */
  PROACTIVE_CAP,       /* the daily cap is reached */
  PROACTIVE_LAST_OURS, /* the last message is the bot's own */
  PROACTIVE_DEAD,      /* nobody spoke within the activity window */
} proactive_verdict;

/* Parses quiet hours "HH:MM-HH:MM" (a range may wrap midnight: "23:00-08:00"; "" or "off": none)
 * into minutes of the day. MIMIC_EINVAL with one sentence otherwise. */
int proactive_parse_quiet(const char *text, int *from_min, int *to_min) MIMIC_MUST;

/* The verdict for a post of `kind` under g with facts f. */
proactive_verdict proactive_check(const proactive_guild *g, const char *kind,
                                  const proactive_facts *f);

/* Whether local_minute (0..1439) falls in g's quiet hours. */
bool proactive_is_quiet(const proactive_guild *g, int local_minute);

/* One word for logs and !status ("quiet hours"). */
const char *proactive_verdict_name(proactive_verdict v);

/* ---- the job kinds ---- */

/* A kind of scheduled job, with the seed's cadence as its default expression. */
typedef struct proactive_kind {
  const char *name;
  const char *cadence; /* default cron expression (base/cron.h) */
  bool posts;          /* writes into its channel (the channel rules apply); else lore only */
  const char *what;    /* one line for `mimic schedule kinds` and !schedule */
} proactive_kind;

/* Every kind mimic runs, in the seed's order; *n receives the count. */
const proactive_kind *proactive_kinds(size_t *n);
/* The kind called name (exactly), or NULL. */
const proactive_kind *proactive_kind_find(const char *name);

#endif
