/* The reply router: decides, for each message the bot can see, whether to answer, and why. Pure
 * policy with no I/O: the caller passes the facts about the message, the time, and a random roll in
 * [0,1), so every decision is reproducible in tests. Owns per-channel and per-user state
 * (cooldowns, active conversations, flood guard, answered message ids). Not thread-safe: the bot
 * calls it from the I/O loop thread only. */
#ifndef MIMIC_BOT_ROUTER_H
#define MIMIC_BOT_ROUTER_H
#include <stdbool.h>
#include <stdint.h>

typedef struct router_params {
  double rate;              /* chance of an unprompted reply, 0..1 */
  double active_boost;      /* multiplier on rate while the bot is active in the channel */
  int64_t active_window_ms; /* the bot is "active" this long after it last spoke */
  int64_t cooldown_ms;      /* per channel, between unprompted replies */
  int flood_per_min;        /* most replies to one user per minute (0 = no limit) */
  const char *keywords;     /* comma-separated, case-insensitive whole words; copied */
  const char *allow_bots;   /* comma-separated bot ids that may be answered; copied */
  const char *channels;     /* comma-separated channel ids to speak in (empty = all); copied */
} router_params;

typedef struct router_msg {
  uint64_t id, channel_id, parent_id; /* parent_id: a thread's parent channel, else 0 */
  uint64_t author_id, webhook_id;
  bool author_bot, system, is_dm;
  bool mentions_bot; /* the bot's own id is in the message's user mentions (NOT @everyone) */
  bool reply_to_bot; /* the message replies to one of the bot's messages */
  const char *content;
  /* The layered bot.response_rate and bot.cooldown_s where the message is (channel, then guild:
   * store_layer_resolve); when has_layered is false the router's own (the configuration's). */
  bool has_layered;
  double rate;
  int64_t cooldown_ms;
} router_msg;

typedef enum router_verdict {
  ROUTE_IGNORE_SELF,
  ROUTE_IGNORE_BOT,
  ROUTE_IGNORE_WEBHOOK,
  ROUTE_IGNORE_SYSTEM,
  ROUTE_IGNORE_USER,
  ROUTE_IGNORE_CHANNEL,
  ROUTE_IGNORE_EMPTY,
  ROUTE_IGNORE_DUPLICATE,
  ROUTE_SKIP_COOLDOWN,
  ROUTE_SKIP_FLOOD,
  ROUTE_SKIP_ROLL,
  ROUTE_REPLY_MENTION,
  ROUTE_REPLY_REPLY,
  ROUTE_REPLY_DM,
  ROUTE_REPLY_KEYWORD,
  ROUTE_REPLY_ACTIVE,
  ROUTE_REPLY_RANDOM
} router_verdict;

typedef struct router router;

router *router_new(uint64_t self_id, const router_params *p);
void router_destroy(router *r);
/* Sets the bot's own user id (learned from READY after the router was made). */
void router_set_self(router *r, uint64_t self_id);
/* Replaces the parameters (live settings changed); state is kept. */
void router_set_params(router *r, const router_params *p);
/* Marks a user excluded / opted out (never answered, never learned from) or clears the mark. */
void router_set_ignored_user(router *r, uint64_t user_id, bool ignored);

/* Decides for msg at now_ms with roll in [0,1). A verdict >= ROUTE_REPLY_MENTION means answer;
 * the router then counts the message as answered (a second call for the same id is
 * ROUTE_IGNORE_DUPLICATE) and charges the user's flood budget and the channel's cooldown. */
router_verdict router_decide(router *r, const router_msg *msg, int64_t now_ms, double roll);
/* The bot posted in channel at now_ms (starts or extends its active window). */
void router_note_bot_spoke(router *r, uint64_t channel_id, int64_t now_ms);
/* Forgets that a message was answered (its generation failed or was dropped under load), so a
 * retry can answer it, and refunds the cooldown charge. */
void router_forget(router *r, uint64_t channel_id, uint64_t message_id);

static inline bool router_is_reply(router_verdict v) { return v >= ROUTE_REPLY_MENTION; }
/* Addressed replies (mention, reply, DM) must not be dropped for load; random ones may be. */
static inline bool router_is_addressed(router_verdict v) {
  return v == ROUTE_REPLY_MENTION || v == ROUTE_REPLY_REPLY || v == ROUTE_REPLY_DM;
}
const char *router_verdict_name(router_verdict v);

#endif
