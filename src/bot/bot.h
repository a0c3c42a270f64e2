/* The bot: turns typed Discord events into stored history, replies and admin actions. It takes
 * discord_event values (discord.h), decides with the router (router.h), builds prompts from channel
 * memory (memory.h, context.h), generates through llm_backend on the engine workers, cleans the
 * text (reply.h) and emits everything it wants done through bot_actions, a table of function
 * pointers implemented by the runtime (the real REST client) or by a recording fake in tests.
 * It never sees JSON, HTTP or sockets.
 *
 * Threads: a bot is owned by one thread (the "bot thread": the I/O loop, or a thread of its own).
 * bot_handle_event, bot_poll and every other bot_* call happen there, and every bot_actions
 * callback is made from there. Generations run on the backend's worker threads; their completions
 * are queued and the optional wake callback fires (from a worker thread) so the runtime can
 * schedule bot_poll on the bot thread (uv_async_send). The runtime also calls bot_poll about once a
 * second (uv_timer) so the typing indicator is refreshed, memory expires and backend retries
 * happen.
 *
 * Flow for each MESSAGE_CREATE (events.c): text commands (admin.c) → store and remember it (unless
 * its author is excluded or opted out) → router decision → the reply queue (queue.c: one
 * generation per channel at a time, a bounded total that sheds random engagements first) → prompt
 * from memory → llm_backend_submit (typing shown while it runs) → reply_clean → empty? one retry
 * with another seed → send (a reply pinging only the person answered, or a plain message) →
 * statistics (stats.c). The files form a stack: see bot_int.h and docs/internals/bot.md. */
#ifndef MIMIC_BOT_BOT_H
#define MIMIC_BOT_BOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/err.h"
#include "discord/actions.h"
#include "discord/commands.h"
#include "discord/discord.h"
#include "llm/backend.h"
#include "store/store.h"

/* ---- actions: what the bot asks the outside world to do ------------------------------------- */

/* Components (action rows of buttons or one string select), files (attachments out) and
 * autocomplete choices are the Discord layer's typed shapes (discord/actions.h): plain structs of
 * borrowed strings and bytes, no JSON. */

/* One message to post. */
typedef struct bot_send {
  uint64_t channel_id;
  const char *text;       /* the whole reply, valid UTF-8, never NULL and never empty unless rows
                           * or files carry the message. It may be longer than Discord's 2,000
                           * characters: the implementation splits it (at line or word boundaries)
                           * and puts the reply reference on the first part only. */
  uint64_t reply_to;      /* message to reply to (message_reference), 0 = a plain message */
  bool ping_replied_user; /* allowed_mentions.replied_user */
  const discord_action_row *rows; /* components, on the last part; NULL: none (at most
                                   * DISCORD_ROW_MAX rows) */
  size_t n_rows;
  const discord_file *files; /* attachments out, on the last part; NULL: none (at most
                              * DISCORD_FILES_MAX, DISCORD_UPLOAD_MAX bytes together) */
  size_t n_files;
} bot_send;

/* A message posted as a persona: through the channel's webhook, under another name and avatar
 * (the runtime looks the webhook up or creates it, once per channel). */
typedef struct bot_persona_send {
  uint64_t channel_id;            /* the channel owning the webhook (for a thread: its parent) */
  uint64_t thread_id;             /* post into this thread of channel_id; 0: the channel itself */
  uint64_t guild_id;              /* for the reply quote's link; 0: none */
  const char *username;           /* shown as the author, 1-80 characters */
  const char *avatar_url;         /* NULL: the webhook's own avatar */
  const char *avatar_file;        /* a local image: the persona's own webhook (see
                                   * discord_persona_send); NULL: none */
  const char *avatar_key;         /* the image's version; NULL: the path */
  const char *text;               /* as bot_send.text (split when long) */
  uint64_t reply_to;              /* the message answered: quoted PluralKit-style; 0: none */
  uint64_t reply_user;            /* its author, named in the quote */
  const char *reply_excerpt;      /* its text for the quote; NULL: none */
  bool ping_reply;                /* the quote pings reply_user */
  int64_t persona_id;             /* which persona speaks (reported back with the message ids) */
  const discord_action_row *rows; /* NULL: none */
  size_t n_rows;
  const discord_file *files; /* NULL: none */
  size_t n_files;
} bot_persona_send;

/* The answer to an interaction (a slash command, a component, an autocomplete), due within 3 s of
 * the INTERACTION_CREATE event (discord_interaction: id and token). The kinds:
 *   DISCORD_RESPONSE_MESSAGE          answer now with text (and rows);
 *   DISCORD_RESPONSE_DEFERRED         "thinking...": fill it in later with edit_original;
 *   DISCORD_RESPONSE_UPDATE           a component's interaction: edit the message it is on;
 *   DISCORD_RESPONSE_DEFERRED_UPDATE  a component's interaction: acknowledge, update later;
 *   DISCORD_RESPONSE_AUTOCOMPLETE     choices for the focused option;
 *   DISCORD_RESPONSE_MODAL            opens a form (modal): only as the first answer to a command
 *                                     or a component, never after DEFERRED or to a MODAL_SUBMIT. */
typedef struct bot_response {
  uint64_t interaction_id;
  const char *token; /* the interaction's token: a secret, never logged */
  discord_response_type type;
  bool ephemeral;   /* MESSAGE, DEFERRED: only the invoker sees the answer */
  const char *text; /* MESSAGE, UPDATE: at most 2,000 characters (longer is cut; send the rest
                     * as follow-ups); NULL: none */
  const discord_action_row *rows; /* MESSAGE, UPDATE; NULL: none */
  size_t n_rows;
  const discord_choice *choices; /* AUTOCOMPLETE: 0 to DISCORD_CHOICES_MAX */
  size_t n_choices;
  const discord_modal *modal; /* MODAL */
} bot_response;

/* A follow-up message to an interaction, or the edit of its original (deferred) response; either
 * works for 15 minutes after the interaction. */
typedef struct bot_followup {
  uint64_t application_id;        /* the interaction's application_id */
  const char *token;              /* the interaction's token: a secret, never logged */
  const char *text;               /* at most 2,000 characters; NULL or "" only with rows or files */
  bool ephemeral;                 /* follow-ups only: only the invoker sees it (an edit keeps the
                                   * deferred response's visibility) */
  const discord_action_row *rows; /* NULL: none */
  size_t n_rows;
  const discord_file *files; /* follow-ups only (an edit with files is refused); NULL: none */
  size_t n_files;
} bot_followup;

/* Implemented by the runtime (REST client) or by a fake in tests. Every callback runs on the bot
 * thread and must not block on the network: it queues the request and returns. Returns 0 when the
 * request was accepted, a negative MIMIC_E* code (with err_set) when it was refused; the bot logs a
 * refusal and carries on. Pointers passed in are borrowed for the call. Any callback may be NULL
 * (that action is then skipped, and for request_restart/start_job the admin is told so).
 *
 * Build a bot_actions with designated initializers (.send = ...), never positionally, so that a
 * new member is NULL wherever it is not implemented yet.
 *
 * Mentions contract: every message the bot posts, `send` and `send_dm` alike, MUST go out with
 * allowed_mentions {"parse": [], "replied_user": ping_replied_user}, so nobody is pinged except
 * the person answered — never @everyone, @here, a role or another user, whatever the text says. */
typedef struct bot_actions {
  void *user; /* passed to every callback */
  int (*send)(void *user, const bot_send *m);
  /* Shows the typing indicator in a channel (Discord clears it after ~10 s or at the next post). */
  int (*typing)(void *user, uint64_t channel_id);
  /* Sends a direct message (opening the DM channel when needed). */
  int (*send_dm)(void *user, uint64_t user_id, const char *text);
  /* Adds a reaction; emoji is a Unicode emoji or "name:id". */
  int (*react)(void *user, uint64_t channel_id, uint64_t message_id, const char *emoji);
  /* !restart: the bot has finished its in-flight replies and asks the runtime to restart the
   * process (exec itself, or exit for the supervisor to restart it). Called at most once. */
  int (*request_restart)(void *user);
  /* !fetch / !train: start a job ("fetch" = history fetch, "train" = training in its own process).
   * requested_by: the admin's user id; channel_id: where progress may be reported. */
  int (*start_job)(void *user, const char *job, uint64_t requested_by, uint64_t channel_id);

  /* The wave-two shapes. Like the calls above they queue the request and return; the request,
   * and everything it points to (strings, rows, options, choices, file bytes), is borrowed for the
   * call only: the runtime copies it before returning, so the caller may free or reuse its
   * buffers at once. The runtime checks a request's shape (lengths, counts, a token that cannot
   * be a path segment) when it runs on the loop thread: a bad one is refused there and logged,
   * not reported here. Returns 0 or a negative MIMIC_E* code (with err_set): MIMIC_ECANCELLED or
   * MIMIC_EBUSY when the Discord client is stopping or its queue is full. */

  /* Posts m as a persona, through the channel's webhook (see bot_persona_send). The mentions
   * contract holds: the text pings nobody. */
  int (*persona_send)(void *user, const bot_persona_send *m);
  /* Answers an interaction (see bot_response); once per interaction, within 3 s of it. */
  int (*respond)(void *user, const bot_response *r);
  /* Fills in (or changes) the original response to an interaction, typically a deferred one
   * (PATCH .../messages/@original). f->ephemeral is ignored; files are refused (send them in a
   * follow-up). */
  int (*edit_original)(void *user, const bot_followup *f);
  /* Sends one more message about an interaction (POST /webhooks/{application}/{token}). */
  int (*followup)(void *user, const bot_followup *f);
  /* Edits a message the bot (or one of its persona webhooks) posted: its components, and its text
   * when e->content is set (discord_edit). Used to grey out the buttons of a closed round. */
  int (*edit_message)(void *user, const discord_edit *e);
} bot_actions;

/* ---- the bot object (bot.c; bot_handle_event is events.c, bot_inflight queue.c) ---- */

typedef struct bot_opts {
  cfg *config;          /* borrowed; the bot reads bot.* and engine.* keys and sets live values */
  store *db;            /* borrowed; a connection for the bot thread only */
  llm_backend *backend; /* borrowed; NULL: the bot stores history and runs commands but never
                         * generates (collect-only mode) */
  const bot_actions *actions; /* copied; NULL = no actions */
  /* Called on a backend worker thread when a completion is queued for bot_poll, under the bot's
   * completion lock (so bot_destroy cannot finish meanwhile). May be NULL (the runtime then polls
   * on a timer). Must be quick, thread-safe and must not call into the bot (uv_async_send is
   * the intended callee). wake_user must stay valid until bot_destroy returns. */
  void (*wake)(void *wake_user);
  void *wake_user;
  /* Wall clock in Unix ms for decisions, memory TTL and statistics; NULL = clock_wall_ms. Tests
   * inject a fake clock. Latencies are always measured with the monotonic clock. */
  int64_t (*now_ms)(void *clock_user);
  void *clock_user;
  uint64_t seed;       /* random rolls and generation seeds; 0 = from the clock */
  const char *persona; /* adapter (persona) name and memory key; NULL or "" = the default */
  /* Names shown by !status ("models/base.gguf", "adapter.gguf"); NULL = engine.model/adapter. */
  const char *model_name, *adapter_name;
  /* The sentence encoder for lore, recall and persona relevance (borrowed; used on the bot thread
   * only); NULL: bot_new opens embed.model when set, else lore and recall run on full text alone
   * and personas are chosen without relevance. */
  const struct lore_embedder *embedder;
  /* Image understanding (bot/vision.h), copied; NULL: images are only named ("[attachment: x]"),
   * never fetched. */
  const struct bot_vision *vision;
} bot_opts;

typedef struct bot bot;

/* Creates a bot: restores live settings stored by earlier runs (store settings, scope "") into the
 * config as CFG_SRC_LIVE, loads the privacy flags and builds the router. The bot is not ready to
 * answer until a READY event names its own user (messages before it are stored, never answered).
 * Errors: MIMIC_EINVAL (missing config or store), MIMIC_EDB. *out: free with bot_destroy. */
int bot_new(const bot_opts *o, bot **out) MIMIC_MUST;

/* Cancels queued and running generations, waits until each has called back (so no callback can
 * touch freed memory), and frees. Nothing stored is lost: every message was committed when its
 * event was handled. Accepts NULL. Must be called on the bot thread, not from a callback. */
void bot_destroy(bot *b);

/* Handles one gateway event (borrowed; the caller frees it after the call). MESSAGE_CREATE runs the
 * whole flow; MESSAGE_UPDATE/DELETE(_BULK) and reactions update the store and memory; READY sets
 * the bot's own user; GUILD_CREATE and CHANNEL/THREAD events record names and thread parents.
 * Returns 0, or the first store write that failed (that part of the event is not recorded, with
 * the error naming the event; the rest of the flow still ran — the caller logs it). */
int bot_handle_event(bot *b, const discord_event *ev) MIMIC_MUST;

/* Does the bot thread's periodic and deferred work: handles queued completions (post-process,
 * retry, send, record), starts queued generations, re-sends typing every BOT_TYPING_MS while a
 * generation runs, expires channel memory, and completes a pending !restart once nothing is in
 * flight. Returns the number of completions handled. Cheap when there is nothing to do. */
int bot_poll(bot *b);

/* Re-reads every bot.* and engine.* value from the config into the router and the memory limits
 * (the dashboard calls it after changing settings; admin commands do it themselves). */
void bot_settings_apply(bot *b);

/* Sets a live setting: validates value against the key, applies it with CFG_SRC_LIVE, persists it
 * (store setting, scope "") so it survives a restart when the store is a file (an in-memory
 * database ends with the process), and applies it to the bot. Errors:
 * MIMIC_EINVAL with a sentence for a person ("bot.response_rate must be between 0 and 1"),
 * MIMIC_EDB. */
int bot_setting_set(bot *b, const char *key, const char *value) MIMIC_MUST;

/* Re-reads the personas from the store (after `mimic persona ...` or the dashboard; the bot also
 * notices changes by itself within BOT_PERSONA_RELOAD_MS). Errors: MIMIC_EDB (the old cast stays).
 */
int bot_persona_reload(bot *b) MIMIC_MUST;
#define BOT_PERSONA_RELOAD_MS 15000
/* Re-reads the live settings and the privacy flags from the store (after the dashboard changed
 * them; `mimic run` calls it on SIGHUP) and applies them (a flag removed takes effect at the next
 * start). Errors: MIMIC_EDB. */
int bot_settings_reload(bot *b) MIMIC_MUST;
/* Stops taking new replies; once none is in flight the runtime is asked to end, as for !restart
 * (the runtime then stops instead of re-executing). The graceful stop of SIGTERM. */
void bot_drain(bot *b);

/* Re-reads one user's privacy flags from the store (after `mimic privacy ...` or the dashboard). */
int bot_privacy_reload(bot *b, uint64_t user_id) MIMIC_MUST;

/* Generations queued or running. */
size_t bot_inflight(const bot *b);
/* The bot's own user id (0 before READY). */
uint64_t bot_self_id(const bot *b);

/* Typing refresh interval: Discord shows the indicator for 10 s. */
#define BOT_TYPING_MS 8000
/* Longest text command line the bot parses (longer messages are not commands). */
#define BOT_COMMAND_MAX 512

/* ---- application (slash) commands (slash.c) ---- */

/* The slash commands this bot defines, in registration order: the slash-only ones and every twin
 * whose text command exists (admin.c's table). Fills out[0..cap) and returns how many there are
 * (possibly more than cap). The definitions are static: nothing to free. */
size_t bot_commands(discord_command *out, size_t cap);
#define BOT_COMMANDS_MAX 64

/* The hash of the commands last registered for application app (guild 0: globally, else in that
 * guild) as stored by bot_commands_hash_put, "" when none: store setting scope
 * BOT_COMMANDS_SCOPE, key "APP" or "APP:GUILD". A sync sends only when the hash changed. */
#define BOT_COMMANDS_SCOPE "commands"
int bot_commands_hash_get(store *s, uint64_t app, uint64_t guild, char out[17]) MIMIC_MUST;
/* Records hash ("" after a clear: the next sync sends again). Errors: MIMIC_EDB. */
int bot_commands_hash_put(store *s, uint64_t app, uint64_t guild, const char *hash) MIMIC_MUST;

/* ---- statistics (stats.c) ---- */

typedef struct bot_stats {
  int64_t seen;                  /* messages the bot could see (stored or not) */
  int64_t replies;               /* replies sent */
  int64_t errors;                /* generations that failed, sends refused */
  int64_t skipped;               /* engagements dropped under load or while restarting */
  int64_t empty;                 /* generations empty even after the retry */
  double rate;                   /* replies / seen (0 when nothing was seen) */
  double p50_ms, p95_ms, p99_ms; /* latency from the message to the send action (replies only) */
  int64_t prompt_tokens, gen_tokens;
} bot_stats;

/* Computes the statistics of the window [now_ms - window_ms, now_ms) from the store (so they
 * survive restarts, and the dashboard can call it with its own connection). */
int bot_stats_compute(store *s, int64_t now_ms, int64_t window_ms, bot_stats *out) MIMIC_MUST;

#endif
