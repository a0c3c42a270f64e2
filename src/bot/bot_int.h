/* Internals shared by the bot's files. Not public.
 *
 * The layer is a stack: each file calls only the files below it, never one above, so there are no
 * circles. Bottom first:
 *
 *   router.c memory.c context.c reply.c   self-contained modules; they know nothing of `bot`
 *   stats.c    statistics: counters and per-engagement rows in the store, windows for !status
 *   recall.c   what the bot remembers: messages rendered for the model, refills from the store,
 *              and which names are speakers (members the store or the channel's memory knows)
 *   knowledge.c  background knowledge for a prompt: triggered World Info, retrieved lore and
 *              recalled community messages (the lore layer), switched per persona/guild/config
 *   persona.c  the cast: personas loaded from the store, who answers (persona_route.h), their
 *              prompts, adapters, sampling and memory keys, and their own messages recognised
 *   queue.c    the reply queue: job admission, per-channel queues, generation, completions, sends
 *   vision.c   images: fetch, decode and describe on a worker, descriptions into memory and store
 *   games.c    mini-games and points: trivia, riddles, stories, their generations, timers, votes
 *              and awards (answer_check.c and game_parse.c below it are self-contained)
 *   bot.c      the object: construction and teardown, settings, privacy flags, bot_poll
 *   scenario.c scenes (!scenario): personas playing a premise in turn, people joining in
 *   admin.c    text commands (and the same commands run for their slash twins)
 *   slash.c    application commands: the definitions, interactions (commands, autocomplete,
 *              components), the slash-only commands
 *   events.c   the event dispatcher (bot_handle_event): stores what happened, runs commands, hands
 *              engagements to the queue
 *
 * Enforced by the compiler: each file defines BOT_LEVEL (one of the BOT_L_* below) before including
 * this header, and sees only the internal functions of its own level and the levels beneath it.
 * Calling one from above is an implicit declaration, which the build refuses. The public functions
 * of bot.h follow the same rule by convention: each is named with the file that defines it. */
#ifndef MIMIC_BOT_BOT_INT_H
#define MIMIC_BOT_BOT_INT_H
#include <pthread.h>

#include "base/assert.h"
#include "base/base.h"
#include "bot/bot.h"
#include "bot/context.h"
#include "bot/memory.h"
#include "bot/persona_route.h"
#include "bot/router.h"
#include "lore/lore.h"
#include "store/persona.h"

#define BOT_L_STATS    1
#define BOT_L_RECALL   2
#define BOT_L_PERSONA  3
#define BOT_L_QUEUE    4
#define BOT_L_VISION   5
#define BOT_L_SCENARIO 6
#define BOT_L_GAMES    7
#define BOT_L_PJOBS    8
#define BOT_L_BOT      9
#define BOT_L_ADMIN    10
#define BOT_L_SLASH    11
#define BOT_L_EVENTS   12

#ifndef BOT_LEVEL
#error "define BOT_LEVEL (a BOT_L_* value) before including bot/bot_int.h"
#endif

#define BOT_NAME_MAX            128                       /* bytes of a speaker name kept */
#define BOT_PRUNE_EVERY_MS      60000                     /* memory expiry sweep */
#define BOT_STATS_KEEP_MS       (8LL * 24 * 3600 * 1000)  /* statistics kept (7 d window + a day) */
#define BOT_PERSONA_MSG_KEEP_MS (90LL * 24 * 3600 * 1000) /* which persona posted what: 90 days */

/* Where a job is. The queue moves it WAITING -> RUNNING -> DONE, and DONE -> RUNNING again for the
 * one retry after an empty reply; a job taken out of a channel's list before its submit is LOOSE
 * (new, or unlinked for a submit or a drop). Every move is checked (MIMIC_ASSERT). */
typedef enum bot_job_state {
  BOT_JOB_LOOSE = 0, /* in no list, no generation: owned by whoever holds the pointer */
  BOT_JOB_WAITING,   /* in its channel's pending list */
  BOT_JOB_RUNNING,   /* submitted; the backend owes exactly one on_done (it stays RUNNING in the
                      * completion list: only the bot thread writes the state) */
  BOT_JOB_DONE,      /* taken from the completion list by the bot thread: being finished */
} bot_job_state;

/* One engagement: a message the bot decided to answer, from admission to the send. */
typedef struct bot_job {
  struct bot *b;
  uint64_t channel_id, message_id, author_id;
  uint64_t guild_id; /* 0 in a DM */
  router_verdict verdict;
  int64_t persona_id; /* the persona answering; 0: the bot user */
  proute_why why;     /* why that persona (persona jobs) */
  bot_job_state state;
  bool author_bot;
  uint64_t t0_ns;       /* the message's arrival (monotonic) */
  uint64_t t_submit_ns; /* the first submit */
  int attempts;         /* generations started (1, or 2 after an empty one) */
  uint64_t llm_id;      /* while running */
  bool cancelled;       /* the message was deleted, the job shed, or the bot is closing */
  bool vision_wait;     /* its message's images are being described: not submitted before */
  char **image_urls;    /* vision.openai_images: data: URLs sent with the message (owned) */
  size_t n_image_urls;
  /* A scheduled post (proactive_jobs.c): what to write, as the turn the model answers (owned);
   * message_id is 0. NULL for a reply. */
  char *instruction;
  /* Where a scheduled job's cleaned text goes instead of the channel (NULL: it is posted); called
   * on the bot thread, with sink_arg (the job's own words, e.g. a lore scope). */
  void (*sink)(struct bot *b, const struct bot_job *j, const char *text);
  char sink_arg[160];
  char *scene;         /* a scene's line (scenario.c): the scene added to the system prompt (owned);
                        * NULL: an ordinary answer */
  char *scene_cue;     /* a scene's line: the cue turn the persona answers (owned) */
  uint64_t scene_from; /* a scene's line: only messages after this id are the scene's */
  llm_result *res;     /* set by the completion callback */
  double queue_ms, gen_ms, latency_ms;
  int prompt_tokens, cached_tokens, gen_tokens;
  /* A slash command's generation (/ai): the answer fills in the deferred response through the
   * interaction's token (owned, a secret) instead of a channel post; NULL for a message's job. */
  char *itoken;
  uint64_t iapp;        /* the interaction's application id */
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
  uint64_t dm_user;       /* a DM: the person (for the persona they chose) */
  uint64_t cleared_after; /* !clear: messages up to this id are not recalled */
  /* the last persona decision here, for !status */
  int64_t pick_persona;
  proute_why pick_why;
  uint64_t pick_message;
  /* when each persona last spoke here (quietest first for freewill) */
  struct {
    int64_t id, ms;
  } spoke[16];
  size_t n_spoke;
} bot_chan;

/* One persona of the cast, loaded from the store, with what the live side adds. */
typedef struct bot_persona {
  store_persona p;
  char memkey[32];  /* "persona:<id>" */
  char adapter[40]; /* engine adapter name "persona:<id>"; "" when none is loaded */
  char loaded_path[512];
  int64_t loaded_mtime; /* the adapter file's mtime when it was loaded */
  double loaded_scale;
  char avatar_key[40]; /* a local avatar file's version (path, size, mtime) */
  bool avatar_file;    /* p.avatar is a local file */
  float *vec;          /* its card embedded (dim floats); NULL: none */
} bot_persona;

struct bot {
  cfg *cfg;
  store *db;
  llm_backend *backend;
  bot_actions act;
  void (*wake)(void *);
  void *wake_user;
  int64_t (*now_fn)(void *);
  void *clock_user;
  prng rng;
  char *persona;
  char *model_name, *adapter_name;
  int64_t started_ms;

  uint64_t self_id;
  char self_name[BOT_NAME_MAX];

  router *router;
  memory *mem;

  /* the cast (persona.c) */
  bot_persona *cast;
  size_t n_cast;
  proute_set *route;
  int64_t cast_sig;        /* count and newest update of the loaded personas */
  int64_t cast_check_ms;   /* when the store was last checked for changes */
  map_u64 dm_choice;       /* user id -> (void *)(persona id + 1), cached from the store */
  uint64_t status_channel; /* where !status was asked (its persona line) */
  map_u64 chans;           /* channel id -> bot_chan* */
  map_u64 ignored;         /* user id -> (void *)flags: excluded or opted out */
  map_u64 admins;          /* user id -> (void *)1 */

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

  const lore_embedder *emb; /* the sentence encoder, or NULL (full text only) */
  lore_embedder *emb_owned; /* the one bot_new opened from embed.model, or NULL */
  lore_retriever *lore;
  int64_t last_embed_ms;   /* the last background embedding step (knowledge__tick) */
  struct bot_vis *vis;     /* vision.c; NULL without opts.vision */
  struct bot_games *games; /* games.c; created on first use */

  struct scheduler *sched;     /* proactive_jobs.c: scheduled jobs (bot/scheduler.h) */
  int64_t last_sched_ms;       /* the last scheduler tick */
  int64_t last_sched_prune_ms; /* the last pruning of old scheduled runs */
  bool pjobs_force;            /* !drop: the run skips quiet hours, the cap and the activity rule */

  pthread_mutex_t done_mu; /* the completion list, filled by backend workers */
  pthread_cond_t done_cv;
  bot_job *done_head, *done_tail;
};

/* The bot's wall clock in Unix ms (the injected one in tests). */
static inline int64_t bot__now(const bot *b) {
  return b->now_fn ? b->now_fn(b->clock_user) : clock_wall_ms();
}

/* Random rolls and generation seeds, from the bot's own generator (base/rng.h). */
static inline uint64_t bot__rng_next(bot *b) { return prng_next(&b->rng); }

/* ---- stats.c ---- */
#if BOT_LEVEL >= BOT_L_STATS
/* Adds n to a counter of the current hour ("seen", "replies", "errors", "skipped", "empty"). */
void stats__count(bot *b, const char *name, int64_t n);
/* Records one engagement's outcome ("sent", "skipped", "cancelled", "error", "empty", "refused").
 */
void stats__record(bot *b, const bot_job *j, const char *outcome, const char *error);
/* Appends the 24 h and 7 d statistics lines for !status. */
int stats__status_line(bot *b, buf *out) MIMIC_MUST;
#endif

/* ---- recall.c ---- */
#if BOT_LEVEL >= BOT_L_RECALL
/* The text the model sees for a message: markup rendered as names, attachments (of m, when given)
 * named, cut to MEMORY_TEXT_MAX. Caller frees. */
char *recall__render(bot *b, const char *content, const discord_message *m);
/* Appends " [image: DESC]": what the bot saw in an image, on one line, at most
 * RECALL_IMAGE_TEXT_MAX bytes, with no ']' to end the marker early. */
#define RECALL_IMAGE_TEXT_MAX 600
void recall__put_image(buf *out, const char *desc);
/* Refills a channel's memory from the store after a restart or an expiry (messages younger than the
 * TTL and older than before_id), once per expiry. */
void recall__refill(bot *b, uint64_t channel_id, uint64_t before_id);
/* The same for a persona's memory (key memkey): its own messages (the store's persona records)
 * are its turns, everyone else's are named turns. */
void recall__refill_as(bot *b, uint64_t channel_id, uint64_t before_id, const char *memkey,
                       int64_t persona_id, const char *persona_name);
/* Whether name (len bytes, not NUL-terminated) is a speaker the model may write as: someone in the
 * channel's memory or a member the store knows (by shown name or account name), compared without
 * ASCII case. Used by reply_clean_speakers; user is a recall_speakers. */
typedef struct recall_speakers {
  bot *b;
  uint64_t channel_id;
} recall_speakers;
bool recall__is_speaker(const char *name, size_t len, void *user);
#endif

/* ---- knowledge.c ---- */
#if BOT_LEVEL >= BOT_L_RECALL
/* The background knowledge for a reply to cur in guild_id (0: a DM; hist: the prompt's history,
 * oldest first) by persona bp (NULL: the bot user; a persona reads its own lore scope and
 * settings, see knowledge__setting): World Info entries the recent messages trigger, then lore
 * passages retrieved for the message, then recalled community messages older than the conversation,
 * each kind when switched on (lore.world_info, lore.retrieval, lore.recall: a persona's setting,
 * else the guild's, else the config), within lore.budget_tokens. Marked as background, never as
 * things said here. NULL when there is none; caller frees. Failures are logged and cost only the
 * background. */
char *knowledge__build(bot *b, uint64_t guild_id, const bot_persona *bp,
                       const memory_entry *const *hist, size_t n, const memory_entry *cur);
/* Background embedding: when an encoder is loaded, nothing is generating or waiting and
 * KNOWLEDGE_EMBED_EVERY_MS have passed, embeds one batch (LORE_EMBED_BATCH): lore passages still
 * without this encoder's vector (lore.retrieval on in the config), else new community messages
 * after the cursor `mimic embed-history` also uses (lore.recall on). */
#define KNOWLEDGE_EMBED_EVERY_MS 5000
void knowledge__tick(bot *b, int64_t now);
/* A lore setting as the bot reads it: for a persona bp, its layered persona setting, then
 * "persona:NAME"; for the bot user (bp NULL) "persona:NAME" of the run's --persona; then
 * "guild:ID", then the config. out receives the value. */
void knowledge__setting(bot *b, uint64_t guild_id, const bot_persona *bp, cfg_id key, buf *out);
#endif

/* ---- persona.c ---- */
#if BOT_LEVEL >= BOT_L_PERSONA
/* Reloads the cast when the store changed (or force). Errors keep the old cast. */
int persona__load(bot *b, bool force) MIMIC_MUST;
/* The cast member with that id, or NULL. */
bot_persona *persona__get(bot *b, int64_t id);
/* The persona that wrote m when it is one of mimic's own (a webhook mimic holds, or the bot
 * user's fallback "**Name**: text"), else 0; records it in the store when it was not yet. text
 * (may be NULL) gets m's content without the reply quote or the name prefix (caller frees). */
int64_t persona__author(bot *b, const discord_message *m, char **text);
/* Who answers m among the personas (0 picks: none; the bot user's router decides). */
size_t persona__route(bot *b, bot_chan *c, const discord_message *m, int64_t author_persona,
                      proute_pick *out, size_t cap);
/* The system prompt of a persona answering user_name (caller frees). */
char *persona__system_prompt(bot *b, const bot_persona *bp, const char *user_name);
/* s with {{char}} and {{user}} replaced (caller frees). */
char *persona__macros(const char *s, const char *ch, const char *user);
/* The request's sampling and length for persona id (0: the bot user) speaking in channel_id of
 * guild_id: the layered engine.temperature, engine.top_p and engine.max_tokens. */
void persona__sampling(bot *b, int64_t id, uint64_t channel_id, uint64_t guild_id,
                       llm_request *req);
/* Fills the request's adapter (hot-loaded when its file changed), sampling and length for a
 * persona speaking in channel_id of guild_id (layered settings). */
void persona__request(bot *b, bot_persona *bp, uint64_t channel_id, uint64_t guild_id,
                      llm_request *req);
/* Remembers a message in the memory of every persona known in the channel (self for author). */
void persona__remember(bot *b, uint64_t channel_id, const discord_message *m, int64_t author,
                       int64_t now, const char *name, const char *text);
/* The persona spoke in the channel now (quietness, !status). */
void persona__spoke(bot_chan *c, int64_t persona_id, int64_t now);
/* The persona a person chose in DMs (0: the bot user). */
int64_t persona__dm_choice(bot *b, uint64_t user_id);
int persona__dm_choose(bot *b, uint64_t user_id, int64_t persona_id) MIMIC_MUST;
void persona__free(bot *b);
#endif

/* ---- queue.c ---- */
#if BOT_LEVEL >= BOT_L_QUEUE
/* The channel's state, created on first use. */
bot_chan *queue__chan(bot *b, uint64_t channel_id);
/* Takes a new (LOOSE) job: queues it, shedding or refusing under load, and starts it when its
 * channel is idle. Takes ownership. */
void queue__admit(bot *b, bot_job *j);
/* A message was deleted: drops its waiting job or cancels its running generation. */
void queue__cancel_message(bot *b, uint64_t channel_id, uint64_t message_id);
/* Someone opted out or was excluded: drops their waiting jobs, cancels their running ones. */
void queue__drop_user(bot *b, uint64_t user_id);
/* Handles queued completions, refreshes typing and retries refused submits. Returns the number of
 * completions handled. */
int queue__poll(bot *b);
/* Cancels everything, waits for every owed callback and frees the jobs and channels. */
void queue__shutdown(bot *b);
/* The job of message_id waits no more for its images: starts it when its turn has come. urls
 * (owned, mem_free'd array of mem_free'd strings; NULL when none) are images to send with the
 * message (vision.openai_images); taken by the job, freed when there is none. */
void queue__vision_ready(bot *b, uint64_t channel_id, uint64_t message_id, char **urls,
                         size_t n_urls);
#endif

/* ---- vision.c ---- */
#if BOT_LEVEL >= BOT_L_VISION
/* Starts the vision worker (opts.vision copied). Returns 0 or MIMIC_ENOMEM. */
int vision__start(bot *b, const struct bot_vision *v) MIMIC_MUST;
/* Stops and joins the worker, dropping unfinished work. Accepts b->vis NULL. */
void vision__stop(bot *b);
/* Looks at m's images: descriptions already stored are put into *text at once (text is replaced,
 * caller frees); the rest go to the worker. Returns true when the message waits for the worker. */
bool vision__begin(bot *b, const discord_message *m, char **text);
/* On the bot thread: takes finished descriptions into memory and the store, and releases the
 * jobs waiting for them. Returns the number of messages finished. */
int vision__poll(bot *b);
/* Whether images are described for m's channel: the store settings for channel:ID (then its
 * thread parent), guild:ID, then vision.enabled. */
bool vision__enabled(bot *b, const discord_message *m);
/* A message was deleted: forgets its descriptions. */
void vision__forget(bot *b, uint64_t message_id);
#endif

/* ---- games.c ---- */
#if BOT_LEVEL >= BOT_L_GAMES
/* One game command (text or slash: the same implementation). Answers to the invoker go through
 * reply when set (a slash command's interaction), else to channel_id as a reply to message_id;
 * the game's own posts (questions, passages) always go to the channel. */
typedef struct game_cmd {
  uint64_t guild_id, channel_id, message_id; /* message_id 0: none (a slash command) */
  uint64_t user_id;
  const char *user_name;
  bool admin, is_dm;
  const char *args; /* after the command word, trimmed */
  void (*reply)(void *user, const char *text);
  void *reply_user;
} game_cmd;
/* !game / !minigame: trivia|riddle [topic], story [persona] [premise], hint, stop, or the state. */
void games__cmd_game(bot *b, const game_cmd *x);
/* !story [persona] [premise]: starts a story, or shows the running one again (resume). */
void games__cmd_story(bot *b, const game_cmd *x);
/* !points [@user] | grant|revoke @user N reason (admins; audited). */
void games__cmd_points(bot *b, const game_cmd *x);
/* !leaderboard [month|YYYY-MM]. */
void games__cmd_leaderboard(bot *b, const game_cmd *x);
/* !profile [@user]. */
void games__cmd_profile(bot *b, const game_cmd *x);
/* A message in a channel with a running game: an answer to the open question, or a story vote
 * ("2") or free-text choice in a DM. Returns true when it was taken as one (no chat reply). */
bool games__on_message(bot *b, const discord_message *m);
/* A component interaction whose custom_id starts with "game:" (story votes "game:story:<id>:
 * <round>:<choice>", hints "game:hint:<id>:<round>"): handled and answered (bot_actions.respond).
 * Returns 0, or MIMIC_EINVAL when the custom_id is not a game's (nothing answered). */
int games__on_component(bot *b, const discord_interaction *in);
/* A MODAL_SUBMIT whose custom_id starts with "game:" (a story move written in the form that the
 * "Write your own move" button opens: "game:move:<id>:<round>", text input "move"): handled and
 * answered. Returns 0, or MIMIC_EINVAL when the custom_id is not a game's (nothing answered). */
int games__on_modal(bot *b, const discord_interaction *in);
/* One of the bot's own messages (its user's, or a webhook's) came back through the gateway: when
 * it carries an open story round's buttons, its id is kept so the round's close greys them out. */
void games__own_message(bot *b, const discord_message *m);
/* Timers (answer and vote deadlines), finished generations, and games left preparing by a
 * restart. Called by bot_poll. */
void games__poll(bot *b);
/* Cancels game generations, waits for their callbacks and frees the games' memory. */
void games__stop(bot *b);
#endif

/* ---- proactive_jobs.c ---- */
#if BOT_LEVEL >= BOT_L_PJOBS
struct proactive_guild;
/* A guild's proactive switches: store settings for scope guild:ID over the proactive.* config;
 * tz[tz_cap] receives its zone. A malformed stored value falls back (error set, one sentence). */
int pjobs__guild(bot *b, uint64_t guild_id, struct proactive_guild *g, char *tz, size_t tz_cap);
/* The scheduler: started by bot_new, stopped by bot_destroy, ticked by bot_poll (at most once per
 * second, once the bot is READY). */
int pjobs__start(bot *b) MIMIC_MUST;
void pjobs__stop(bot *b);
void pjobs__tick(bot *b, int64_t now);
/* Whether the guild has scheduled posts on and it is its quiet hours now: random engagement and
 * keyword triggers wait too (mentions, replies and DMs are always answered). */
bool pjobs__quiet_now(bot *b, uint64_t guild_id, int64_t now);
/* Runs job `name` now (!drop, !schedule run): its outcome line into detail. */
int pjobs__run_now(bot *b, const char *name, char *detail, size_t cap) MIMIC_MUST;
/* Lore draft `id` of guild_id (scope draft:guild:ID, written by content_expansion): its title
 * into title[tcap] and its text appended to text. MIMIC_ENOTFOUND (one sentence) when the guild
 * has no such draft. */
int pjobs__draft_get(bot *b, uint64_t guild_id, int64_t id, char *title, size_t tcap,
                     buf *text) MIMIC_MUST;
/* Replaces draft `id` with an entry of title and text, in one transaction: the edited draft gets a
 * new id (*new_id) and still waits for approval. MIMIC_ENOTFOUND as above, MIMIC_EINVAL for an
 * empty title or text. */
int pjobs__draft_save(bot *b, uint64_t guild_id, int64_t id, const char *title, const char *text,
                      int64_t *new_id) MIMIC_MUST;
#endif

/* ---- bot.c ---- */
#if BOT_LEVEL >= BOT_L_BOT
/* Marks a user ignored (excluded/opted out) or not, from the store's flags. */
int bot__privacy_refresh(bot *b, uint64_t user_id) MIMIC_MUST;
/* Whether a live setting outlives the process: false when the store is an in-memory database. */
bool bot__settings_persist(const bot *b);
#endif

/* ---- scenario.c ---- */
#if BOT_LEVEL >= BOT_L_SCENARIO
/* `!scenario ...` from m (args after the command word; admin: m's author is one of bot.admins):
 * start, next, end, or the scene's status. Answers in the channel. */
void scenario__command(bot *b, const discord_message *m, const char *args, bool admin);
#endif

/* ---- admin.c ---- */
#if BOT_LEVEL >= BOT_L_ADMIN
/* An interaction being answered: the first answer is the response (the edit of the original once
 * deferred), later ones follow-ups; ephemeral answers only the invoker sees. */
typedef struct bot_ia {
  const discord_interaction *in; /* borrowed */
  bool ephemeral, deferred;
  int answers;
} bot_ia;
#define BOT_IA_TEXT_MAX 2000 /* bytes per answer (Discord counts 2,000 characters) */
/* Answers ia with text (split into follow-ups past BOT_IA_TEXT_MAX). Failures are logged. */
void admin__ia_say(bot *b, bot_ia *ia, const char *text);
/* Whether `name` is a text command (*admin_only: an admin command). */
bool admin__exists(const char *name, bool *admin_only);
/* Whether user is one of bot.admins. */
bool admin__is_admin(const bot *b, uint64_t user);
/* Runs text command `name` for a slash command with args rebuilt from its options: the same
 * implementation, mimic's admin check first (a refusal is one ephemeral sentence), answers to the
 * interaction ("Done." when the command itself said nothing). False when no such command. */
bool admin__run(bot *b, bot_ia *ia, const char *name, const char *args);
/* Handles a text command. Returns true when the message was a command (handled, or refused for a
 * non-admin), false when it is ordinary chat. */
bool admin__handle(bot *b, const discord_message *m);
#endif

/* ---- slash.c ---- */
#if BOT_LEVEL >= BOT_L_SLASH
/* Answers an INTERACTION_CREATE: application commands (the text twin's implementation, or a
 * slash-only command), autocomplete, components. Malformed or oversized ones get one ephemeral
 * sentence (or nothing, when they carry no token to answer with). */
void slash__handle(bot *b, const discord_interaction *in);
/* GUILD_MEMBER_ADD: welcomes the member in bot.greet_channel (when set) as bot.greet_persona. */
void slash__member_joined(bot *b, const discord_member_add *m);
#endif

#endif
