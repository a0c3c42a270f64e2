/* Internals shared by the bot's files (bot.c: events, queue and generation; admin.c: text
 * commands; stats.c: statistics). Not public. */
#ifndef MIMIC_BOT_BOT_INT_H
#define MIMIC_BOT_BOT_INT_H
#include <pthread.h>

#include "base/base.h"
#include "bot/bot.h"
#include "bot/context.h"
#include "bot/memory.h"
#include "bot/router.h"

#define BOT_NAME_MAX       128                      /* bytes of a speaker name kept */
#define BOT_PRUNE_EVERY_MS 60000                    /* memory expiry sweep */
#define BOT_STATS_KEEP_MS  (8LL * 24 * 3600 * 1000) /* statistics kept (7 d window + a day) */

/* One engagement: a message the bot decided to answer, from admission to the send. */
typedef struct bot_job {
  struct bot *b;
  uint64_t channel_id, message_id, author_id;
  router_verdict verdict;
  bool author_bot;
  uint64_t t0_ns;       /* the message's arrival (monotonic) */
  uint64_t t_submit_ns; /* the first submit */
  int attempts;         /* generations started (1, or 2 after an empty one) */
  uint64_t llm_id;      /* while running */
  bool cancelled;       /* the message was deleted, the job shed, or the bot is closing */
  llm_result *res;      /* set by the completion callback */
  double queue_ms, gen_ms, latency_ms;
  int prompt_tokens, cached_tokens, gen_tokens;
  struct bot_job *next; /* in a channel's pending list, or in the completion list */
} bot_job;

typedef struct bot_chan {
  uint64_t id;
  bot_job *head, *tail; /* waiting, oldest first */
  size_t n_pending;
  bot_job *running;   /* at most one generation per channel */
  int64_t typing_ms;  /* when typing was last sent */
  int bot_turns;      /* replies to other bots since a person spoke here */
  uint64_t parent_id; /* a thread's parent channel (router allow-list) */
  bool parent_known, is_dm;
} bot_chan;

struct bot {
  cfg *cfg;
  store *db;
  llm_backend *backend;
  bot_actions act;
  void (*wake)(void *);
  void *wake_user;
  int64_t (*now_fn)(void *);
  void *clock_user;
  uint64_t rng;
  char *persona;
  char *model_name, *adapter_name;
  int64_t started_ms;

  uint64_t self_id;
  char self_name[BOT_NAME_MAX];

  router *router;
  memory *mem;
  map_u64 chans;   /* channel id -> bot_chan* */
  map_u64 ignored; /* user id -> (void *)flags: excluded or opted out */
  map_u64 admins;  /* user id -> (void *)1 */

  /* settings cached from the config (bot_settings_apply) */
  char prefix[16];
  size_t queue_max;
  int context_messages;
  int bot_turns_max;

  size_t n_pending, n_running; /* waiting; running and not cancelled (these count for the cap) */
  size_t n_callbacks;          /* submitted generations whose on_done has not been handled */
  bool retry_submit;           /* a submit was refused as busy: try again at the next poll */
  bool restarting, restart_requested;
  int64_t last_prune_ms, last_stats_prune_ms;

  char last_err[512]; /* an event's error, kept while the rest of the flow runs */

  pthread_mutex_t done_mu; /* the completion list, filled by backend workers */
  pthread_cond_t done_cv;
  bot_job *done_head, *done_tail;
};

int64_t bot__now(bot *b);
/* Sends a plain text answer to a command (a reply without a ping). */
void bot__say(bot *b, uint64_t channel_id, uint64_t reply_to, const char *text);
/* Marks a user ignored (excluded/opted out) or not, from the store's flags. */
int bot__privacy_refresh(bot *b, uint64_t user_id);

/* admin.c: handles a text command. Returns true when the message was a command (handled, or
 * refused for a non-admin), false when it is ordinary chat. */
bool admin__handle(bot *b, const discord_message *m);

/* stats.c */
void stats__count(bot *b, const char *name, int64_t n);
void stats__record(bot *b, const bot_job *j, const char *outcome, const char *error);
/* Appends the 24 h statistics line for !status. */
int stats__status_line(bot *b, buf *out) MIMIC_MUST;

#endif
