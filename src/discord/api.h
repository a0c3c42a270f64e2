/* The Discord REST calls mimic makes, as typed functions over rest.h: they build the paths and
 * JSON bodies (Jansson) so that nothing above the discord layer writes JSON or URLs. Answers come
 * back through rest_cb with the parsed JSON (borrowed during the callback); small answers have
 * typed parsers here. Outgoing text is split over 2,000 characters (split.h) and every message
 * carries an allowed_mentions that pings nobody unless asked.
 *
 * Every call returns 0 (cb will run exactly once) or an error (cb will never run), like
 * rest_request. Loop-thread only. Strings passed in are copied unless noted. */
#ifndef MIMIC_DISCORD_API_H
#define MIMIC_DISCORD_API_H
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "discord/discord.h"
#include "discord/rest.h"

/* ---- gateway and identity ---- */

typedef struct api_gateway_info {
  char url[256]; /* wss://gateway.discord.gg */
  int shards;    /* recommended shard count */
  int session_total, session_remaining;
  int64_t session_reset_after_ms;
  int max_concurrency; /* identify buckets: shard_id % max_concurrency */
} api_gateway_info;

/* GET /gateway/bot. */
int api_gateway_bot(rest *r, rest_cb cb, void *user) MIMIC_MUST;
/* Parses its answer. Returns 0 or MIMIC_EFORMAT (no url / bad shapes). */
int api_gateway_info_parse(const json_t *j, api_gateway_info *out) MIMIC_MUST;

/* GET /users/@me (the bot's own user: id, username). */
int api_user_me(rest *r, rest_cb cb, void *user) MIMIC_MUST;

/* ---- first run: the application, its intents and the invite ---- */

/* Application flags (GET /applications/@me "flags") that say a privileged intent is switched on.
 * The _LIMITED bits are the toggles on the Developer Portal's Bot page for apps under the review
 * threshold; the others are granted after Discord's review. */
#define API_APP_GATEWAY_PRESENCE                (1ull << 12)
#define API_APP_GATEWAY_PRESENCE_LIMITED        (1ull << 13)
#define API_APP_GATEWAY_GUILD_MEMBERS           (1ull << 14)
#define API_APP_GATEWAY_GUILD_MEMBERS_LIMITED   (1ull << 15)
#define API_APP_GATEWAY_MESSAGE_CONTENT         (1ull << 18)
#define API_APP_GATEWAY_MESSAGE_CONTENT_LIMITED (1ull << 19)

/* Permission bits (Discord's bitwise permission flags) that mimic asks for in its invite. */
#define API_PERM_ADD_REACTIONS            (1ull << 6)
#define API_PERM_VIEW_CHANNEL             (1ull << 10)
#define API_PERM_SEND_MESSAGES            (1ull << 11)
#define API_PERM_EMBED_LINKS              (1ull << 14)
#define API_PERM_ATTACH_FILES             (1ull << 15)
#define API_PERM_READ_MESSAGE_HISTORY     (1ull << 16)
#define API_PERM_MANAGE_WEBHOOKS          (1ull << 29)
#define API_PERM_USE_APPLICATION_COMMANDS (1ull << 31)
#define API_PERM_SEND_MESSAGES_IN_THREADS (1ull << 38)

/* The bot's own user (GET /users/@me). */
typedef struct api_self {
  uint64_t id;
  char username[64];
  bool bot;
} api_self;

/* The application the token belongs to (GET /applications/@me). */
typedef struct api_application {
  uint64_t id;
  char name[128];
  uint64_t flags;    /* API_APP_* */
  bool bot_public;   /* anyone may invite it (false: only the owner) */
  bool code_grant;   /* bot_require_code_grant: the invite needs the full OAuth2 code flow */
  bool has_flags;    /* the answer carried "flags" */
  uint64_t owner_id; /* the owning user (0 when a team owns it) */
} api_application;

/* GET /applications/@me. */
int api_application_me(rest *r, rest_cb cb, void *user) MIMIC_MUST;
/* Parse the answers above. Return 0 or MIMIC_EFORMAT (no id). */
int api_self_parse(const json_t *j, api_self *out) MIMIC_MUST;
int api_application_parse(const json_t *j, api_application *out) MIMIC_MUST;
/* Whether the application may receive message content (either MESSAGE_CONTENT flag). */
bool api_application_message_content(const api_application *a);

/* The same two calls for a command on a client with a loop of its own (rest_new(NULL, ...)):
 * they run the loop until the answer arrives. Errors as rest_call_sync (MIMIC_EAUTH for a token
 * Discord refuses), or MIMIC_EFORMAT for an answer of the wrong shape. */
int api_self_get(rest *r, api_self *out) MIMIC_MUST;
int api_application_get(rest *r, api_application *out) MIMIC_MUST;

/* Writes the OAuth2 URL that adds the bot to a server with exactly `permissions` (API_PERM_*),
 * with the applications.commands scope too when `commands` is set:
 * https://discord.com/oauth2/authorize?client_id=ID&scope=bot+applications.commands&permissions=N.
 * Returns 0, or MIMIC_ERANGE when out (cap bytes) is too small. */
int api_invite_url(uint64_t app_id, uint64_t permissions, bool commands, char *out,
                   size_t cap) MIMIC_MUST;

/* ---- mentions ---- */

/* allowed_mentions for mimic's messages: {"parse": []} so nothing in the text pings anyone
 * (@everyone, @here, roles, users), plus "users" when explicit users may be pinged (at most 100
 * are listed), and "replied_user" (true only when replying and the reply should ping). Never
 * NULL (allocation failure aborts). */
json_t *api_allowed_mentions(const uint64_t *users, size_t n_users, bool replied_user);

/* ---- messages ---- */

#define API_MSG_SUPPRESS_EMBEDS        (1u << 2)
#define API_MSG_SUPPRESS_NOTIFICATIONS (1u << 12)
#define API_MSG_EPHEMERAL              (1u << 6)

typedef struct api_message {
  uint64_t channel_id;
  const char *content;        /* any length: split into parts of <= 2,000 characters */
  uint64_t reply_to;          /* message to reply to (first part only), 0 for none */
  bool ping_reply;            /* let the reply ping its author (replied_user); only with reply_to */
  const uint64_t *ping_users; /* users the text may ping; NULL: nobody */
  size_t n_ping_users;
  unsigned flags;         /* API_MSG_SUPPRESS_* */
  const json_t *extra;    /* fields merged into the last part's body (components, attachments);
                             borrowed, copied by the call. NULL: none */
  const rest_file *files; /* uploaded with the last part (copied by the call) */
  size_t n_files;
} api_message;

/* POST /channels/{id}/messages for each part, one after the other (in order; the next part is
 * sent when the previous one was accepted). Each part carries a nonce with enforce_nonce, so a
 * retried POST cannot post twice. cb runs once: with the last part's message, or with the first
 * error (later parts are then not sent; res->attempts counts the parts sent). MIMIC_EINVAL when
 * the content is empty or whitespace-only. */
int api_message_send(rest *r, const api_message *m, rest_cb cb, void *user) MIMIC_MUST;

/* POST /channels/{id}/typing (lasts 10 s or until the bot's next message). */
int api_typing(rest *r, uint64_t channel_id, rest_cb cb, void *user) MIMIC_MUST;

typedef enum { API_PAGE_LATEST = 0, API_PAGE_BEFORE, API_PAGE_AFTER, API_PAGE_AROUND } api_page;

/* GET /channels/{id}/messages: `limit` (1..100) messages before / after / around `anchor`, or the
 * latest. Discord answers newest first, whatever the direction. */
int api_messages_get(rest *r, uint64_t channel_id, api_page dir, uint64_t anchor, int limit,
                     rest_cb cb, void *user) MIMIC_MUST;

/* The same page, typed: cb gets the REST outcome and, on success, the page (owned by cb: free it
 * with discord_messages_free); an answer that is not a message list arrives as res->err
 * MIMIC_EPROTO with page NULL. */
typedef void (*api_messages_cb)(const rest_result *res, discord_messages *page, void *user);
int api_messages_page(rest *r, uint64_t channel_id, api_page dir, uint64_t anchor, int limit,
                      api_messages_cb cb, void *user) MIMIC_MUST;
/* api_reactions_get, typed like api_messages_page (free the users with discord_users_free). */
typedef void (*api_users_cb)(const rest_result *res, discord_users *users, void *user);
int api_reactors_page(rest *r, uint64_t channel_id, uint64_t message_id, const char *emoji,
                      uint64_t after, int limit, api_users_cb cb, void *user) MIMIC_MUST;

/* GET /channels/{c}/messages/{m}/reactions/{emoji}: users who reacted with emoji ("👍" or a
 * custom "name:id"), after user id `after` (0 = from the start), up to limit (1..100). */
int api_reactions_get(rest *r, uint64_t channel_id, uint64_t message_id, const char *emoji,
                      uint64_t after, int limit, rest_cb cb, void *user) MIMIC_MUST;
/* PUT /channels/{c}/messages/{m}/reactions/{emoji}/@me. */
int api_reaction_add(rest *r, uint64_t channel_id, uint64_t message_id, const char *emoji,
                     rest_cb cb, void *user) MIMIC_MUST;

/* ---- guilds, channels, threads, DMs ---- */

int api_guild_channels(rest *r, uint64_t guild_id, rest_cb cb, void *user) MIMIC_MUST;
/* GET /guilds/{id}/threads/active -> {threads, members}. */
int api_guild_threads_active(rest *r, uint64_t guild_id, rest_cb cb, void *user) MIMIC_MUST;
/* GET /channels/{id}/threads/archived/public -> {threads, members, has_more}; before is an
 * ISO-8601 timestamp (NULL for the newest), limit 1..100 (0 for Discord's default). */
int api_threads_archived(rest *r, uint64_t channel_id, const char *before, int limit, rest_cb cb,
                         void *user) MIMIC_MUST;
/* GET /channels/{id}/threads/archived/private: the same for private threads (needs the Manage
 * Threads permission; 403 otherwise). */
int api_threads_archived_private(rest *r, uint64_t channel_id, const char *before, int limit,
                                 rest_cb cb, void *user) MIMIC_MUST;
/* GET /users/@me/guilds: the guilds the bot is in, ids ascending, after guild id `after` (0 = from
 * the start), up to limit (1..200) per page. */
int api_user_guilds(rest *r, uint64_t after, int limit, rest_cb cb, void *user) MIMIC_MUST;
/* The listings above, typed like api_messages_page (free the page with its _free call). */
typedef void (*api_guilds_cb)(const rest_result *res, discord_guilds *guilds, void *user);
typedef void (*api_channels_cb)(const rest_result *res, discord_channels *list, void *user);
int api_guilds_page(rest *r, uint64_t after, int limit, api_guilds_cb cb, void *user) MIMIC_MUST;
typedef enum {
  API_LIST_CHANNELS,         /* id: a guild; before and limit unused */
  API_LIST_ACTIVE_THREADS,   /* id: a guild */
  API_LIST_ARCHIVED_THREADS, /* id: a channel; before (ISO-8601 or NULL) and limit as above */
  API_LIST_PRIVATE_THREADS   /* id: a channel */
} api_listing;
int api_channels_list(rest *r, api_listing what, uint64_t id, const char *before, int limit,
                      api_channels_cb cb, void *user) MIMIC_MUST;

/* POST /users/@me/channels {recipient_id}: opens (or returns) the DM channel with a user. */
int api_dm_open(rest *r, uint64_t user_id, rest_cb cb, void *user) MIMIC_MUST;

/* ---- webhooks (speaking as a persona) ---- */

int api_webhook_create(rest *r, uint64_t channel_id, const char *name, rest_cb cb,
                       void *user) MIMIC_MUST;
/* PATCH /channels/{c}/messages/{m}: edits a message the bot user posted (body: the fields to
 * change, e.g. "components"). */
int api_message_patch(rest *r, uint64_t channel_id, uint64_t message_id, const json_t *body,
                      rest_cb cb, void *user) MIMIC_MUST;
/* PATCH /webhooks/{id}/{token}/messages/{m}[?thread_id=]: edits a message a webhook posted. */
int api_webhook_message_patch(rest *r, uint64_t webhook_id, const char *token, uint64_t thread_id,
                              uint64_t message_id, const json_t *body, rest_cb cb,
                              void *user) MIMIC_MUST;
int api_webhooks_get(rest *r, uint64_t channel_id, rest_cb cb, void *user) MIMIC_MUST;
int api_webhook_get(rest *r, uint64_t webhook_id, rest_cb cb, void *user) MIMIC_MUST;

/* A channel's persona webhook as the caller caches it. Set channel_id and name (1..80 characters,
 * without "clyde" or "discord"); id 0 means not known yet. */
typedef struct api_hook {
  uint64_t channel_id;
  char name[81];
  uint64_t id;
  char token[128];
} api_hook;

typedef struct api_hook_message {
  const char *content;    /* split like api_message_send */
  const char *username;   /* shown as the author (the persona); NULL: the webhook's name */
  const char *avatar_url; /* NULL: the webhook's avatar */
  uint64_t thread_id;     /* post into this thread of the channel; 0: the channel itself */
  const uint64_t *ping_users;
  size_t n_ping_users;
  const json_t *extra; /* as in api_message */
  const rest_file *files;
  size_t n_files;
} api_hook_message;

/* Sends through the channel's webhook: when hook->id is 0 it first reuses a webhook of that name
 * in the channel that has a token (one mimic made), else creates one; on "Unknown Webhook" (it was
 * deleted) it forgets it, creates a new one and sends again, once. Updates *hook, which must stay
 * valid until cb runs. cb gets the last part's message (wait=true) or the first error. */
int api_webhook_send(rest *r, api_hook *hook, const api_hook_message *m, rest_cb cb,
                     void *user) MIMIC_MUST;

/* POST /channels/{id}/webhooks with an avatar: avatar is a data URI ("data:image/png;base64,...",
 * borrowed) or NULL for Discord's default. Same name rules as api_webhook_create. */
int api_webhook_create_avatar(rest *r, uint64_t channel_id, const char *name, const char *avatar,
                              rest_cb cb, void *user) MIMIC_MUST;
/* DELETE /webhooks/{id} (with the bot's authority: needs Manage Webhooks). */
int api_webhook_delete(rest *r, uint64_t webhook_id, rest_cb cb, void *user) MIMIC_MUST;
/* POST /webhooks/{id}/{token}?wait=true[&thread_id=]: one message part, body as given (borrowed;
 * the caller sets content, username, avatar_url and allowed_mentions), files with it. No split, no
 * retry on Unknown Webhook: the caller decides. The token is a secret: only the masked route
 * appears in logs. */
int api_webhook_execute(rest *r, uint64_t webhook_id, const char *token, uint64_t thread_id,
                        const json_t *body, const rest_file *files, size_t n_files, rest_cb cb,
                        void *user) MIMIC_MUST;

/* ---- application commands and interactions ---- */

/* PUT /applications/{app}/commands (guild_id 0) or /applications/{app}/guilds/{g}/commands:
 * replaces every command with the array `commands` (borrowed). */
int api_commands_overwrite(rest *r, uint64_t app_id, uint64_t guild_id, const json_t *commands,
                           rest_cb cb, void *user) MIMIC_MUST;

#define API_CB_PONG             1
#define API_CB_MESSAGE          4
#define API_CB_DEFERRED_MESSAGE 5
#define API_CB_DEFERRED_UPDATE  6
#define API_CB_UPDATE           7
#define API_CB_AUTOCOMPLETE     8
#define API_CB_MODAL            9

/* POST /interactions/{id}/{token}/callback {type, data} (data borrowed, may be NULL). Must happen
 * within 3 s of the interaction. Not bound by the global rate limit. */
int api_interaction_respond(rest *r, uint64_t interaction_id, const char *token, int type,
                            const json_t *data, rest_cb cb, void *user) MIMIC_MUST;
/* The deferred response ("thinking..."), optionally ephemeral; follow up within 15 minutes. */
int api_interaction_defer(rest *r, uint64_t interaction_id, const char *token, bool ephemeral,
                          rest_cb cb, void *user) MIMIC_MUST;
typedef struct api_followup {
  uint64_t app_id;
  const char *token; /* the interaction's token (a secret: never logged) */
  const char *content;
  bool ephemeral;
  const json_t *extra; /* as in api_message */
  const rest_file *files;
  size_t n_files;
} api_followup;

/* POST /webhooks/{app}/{token}: a follow-up message (split like api_message_send; extra and files
 * go with the last part). */
int api_followup_post(rest *r, const api_followup *f, rest_cb cb, void *user) MIMIC_MUST;
/* POST /webhooks/{app}/{token}: a follow-up message (split like api_message_send). */
int api_followup_send(rest *r, uint64_t app_id, const char *token, const char *content,
                      bool ephemeral, rest_cb cb, void *user) MIMIC_MUST;
/* PATCH /webhooks/{app}/{token}/messages/@original: edits the (deferred) original response. At
 * most 2,000 characters: longer content is cut at a boundary (send the rest as follow-ups). */
int api_original_edit(rest *r, uint64_t app_id, const char *token, const char *content, rest_cb cb,
                      void *user) MIMIC_MUST;
/* api_original_edit with extra body fields (components; borrowed). content may be empty then. */
int api_original_patch(rest *r, uint64_t app_id, const char *token, const char *content,
                       const json_t *extra, rest_cb cb, void *user) MIMIC_MUST;

#endif
