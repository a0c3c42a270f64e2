/* The discord layer's public types: the typed gateway events the bot layer receives. The bot layer
 * never sees JSON: the gateway parses every dispatch it understands into one of these structs on
 * the I/O loop thread and hands it over through a queue (gateway.h). This header is the contract;
 * it holds no I/O.
 *
 * Ownership: one discord_event owns every string and array reachable from it (they live in one
 * arena per event), so a handler frees the whole event with discord_event_free() and never frees
 * a field. Strings are NUL-terminated, valid UTF-8, and never NULL: a field absent from the
 * payload reads as "" (check the has_* flag where the difference matters). Ids are Discord
 * snowflakes as u64; 0 means absent. Timestamps are Unix milliseconds; 0 means absent. */
#ifndef MIMIC_DISCORD_DISCORD_H
#define MIMIC_DISCORD_DISCORD_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef uint64_t discord_id;

/* Snowflake -> Unix ms (Discord epoch 2015-01-01). */
#define DISCORD_EPOCH_MS 1420070400000ULL
static inline int64_t discord_id_time_ms(discord_id id) {
  return (int64_t)((id >> 22) + DISCORD_EPOCH_MS);
}

/* Gateway intents (bit values from the Discord docs). mimic's default set is
 * DISCORD_INTENTS_DEFAULT below. */
enum {
  DISCORD_INTENT_GUILDS = 1 << 0,
  DISCORD_INTENT_GUILD_MEMBERS = 1 << 1,   /* privileged */
  DISCORD_INTENT_GUILD_PRESENCES = 1 << 8, /* privileged */
  DISCORD_INTENT_GUILD_MESSAGES = 1 << 9,
  DISCORD_INTENT_GUILD_MESSAGE_REACTIONS = 1 << 10,
  DISCORD_INTENT_DIRECT_MESSAGES = 1 << 12,
  DISCORD_INTENT_DIRECT_MESSAGE_REACTIONS = 1 << 13,
  DISCORD_INTENT_MESSAGE_CONTENT = 1 << 15 /* privileged */
};

/* The intents mimic asks for unless discord.intents says otherwise: messages in guilds and DMs
 * with their content, and reactions in guilds (38401). This is where the number comes from: the
 * config table's default (base/config_keys.c, which cannot include this header) holds the same
 * literal, and tests/discord/test_intents.c fails when the two disagree. */
#define DISCORD_INTENTS_DEFAULT                                                                    \
  (DISCORD_INTENT_GUILDS | DISCORD_INTENT_GUILD_MESSAGES |                                         \
   DISCORD_INTENT_GUILD_MESSAGE_REACTIONS | DISCORD_INTENT_DIRECT_MESSAGES |                       \
   DISCORD_INTENT_MESSAGE_CONTENT)

typedef struct discord_user {
  discord_id id;
  const char *username;
  const char *global_name;   /* display name; "" when unset */
  const char *discriminator; /* "0" for migrated users */
  const char *avatar;        /* hash; "" when none */
  bool bot;                  /* an application's user */
  bool system;               /* an official Discord system user */
} discord_user;

/* Minimal guild member: what mimic uses to name people and check roles. */
typedef struct discord_member {
  const char *nick; /* "" when none */
  discord_id *roles;
  size_t n_roles;
  int64_t joined_at_ms;
  uint64_t permissions; /* only in interactions; 0 otherwise */
} discord_member;

/* A file on a message (attachments in; actions.h sends them out). */
typedef struct discord_attachment {
  discord_id id;
  const char *url;       /* the CDN URL (signed: it expires; refetch the message for a fresh one) */
  const char *proxy_url; /* the media proxy's URL for the same file; "" when absent */
  const char *filename;
  const char *content_type; /* "" when unknown */
  const char *description;  /* alt text; "" when none */
  uint64_t size;            /* bytes */
  int width, height;        /* images and videos; 0 otherwise */
} discord_attachment;

/* An embed's picture (image or thumbnail): url is where the poster's link points (any host);
 * proxy_url is Discord's media proxy copy (media.discordapp.net), the one to fetch. */
typedef struct discord_embed_media {
  const char *url;       /* "" when absent */
  const char *proxy_url; /* "" when absent */
  int width, height;     /* 0 when unknown */
} discord_embed_media;

typedef struct discord_embed_field {
  const char *name;
  const char *value;
} discord_embed_field;

/* The text parts of an embed (what a language model can read) and its pictures. */
typedef struct discord_embed {
  const char *title;
  const char *description;
  const char *url;
  const char *author_name;
  const char *footer_text;
  discord_embed_field *fields;
  size_t n_fields;
  const char *type;              /* "rich", "image", "gifv", "link", ...; "" when absent */
  discord_embed_media image;     /* "" urls when the embed has none */
  discord_embed_media thumbnail; /* an "image" embed (a posted link to a picture) carries it here */
} discord_embed;

typedef struct discord_emoji {
  discord_id id;    /* 0 for a Unicode emoji */
  const char *name; /* the Unicode character(s), or the custom emoji's name */
  bool animated;
} discord_emoji;

/* A user a message mentions, with the guild nickname when the payload carried the member. */
typedef struct discord_mention {
  discord_user user;
  const char *nick; /* "" when none */
} discord_mention;

/* One emoji's reactions on a message (what REST history pages carry; the gateway sends reactions
 * one by one as discord_reaction). */
typedef struct discord_reaction_count {
  discord_emoji emoji;
  int64_t count; /* never negative */
  bool me;       /* the bot is among them */
} discord_reaction_count;

/* A message (MESSAGE_CREATE, MESSAGE_UPDATE, and each message of a history page). MESSAGE_UPDATE
 * may be partial: only id and channel_id are guaranteed; has_content / has_author say whether those
 * fields came. */
typedef struct discord_message {
  discord_id id;
  discord_id channel_id;
  discord_id guild_id;   /* 0 in DMs */
  discord_id webhook_id; /* non-zero: sent by a webhook (author is the webhook) */
  discord_id application_id;
  discord_user author;
  bool has_author;
  bool has_member; /* member is set (guild messages from users, not webhooks) */
  discord_member member;
  const char *content;
  bool has_content;
  int64_t timestamp_ms;
  int64_t edited_ms; /* 0 when never edited */
  int type;          /* 0 DEFAULT, 19 REPLY, 20 CHAT_INPUT_COMMAND, ... */
  uint64_t flags;
  bool tts;
  bool pinned;
  bool mention_everyone;
  int channel_type; /* -1 when absent */
  /* message_reference: the message this one replies to (or forwards); 0 when none. */
  discord_id ref_message_id;
  discord_id ref_channel_id;
  discord_id ref_guild_id;
  /* referenced_message's author when the payload carried it (replies), else 0. */
  discord_id ref_author_id;
  discord_id *mentions; /* mentioned user ids */
  size_t n_mentions;
  discord_mention *mention_users; /* the same users with their names (ids that came as objects) */
  size_t n_mention_users;
  discord_reaction_count *reactions; /* history pages; usually empty on the gateway */
  size_t n_reactions;
  discord_id *mention_roles;
  size_t n_mention_roles;
  discord_attachment *attachments;
  size_t n_attachments;
  discord_embed *embeds;
  size_t n_embeds;
  /* The custom_id of the message's first component (a button or select of its first row); "" or
   * NULL when it has none. How the bot recognises its own game messages when they come back. */
  const char *first_custom_id;
} discord_message;

/* The name mimic shows for a message's author: the guild nickname, else the global display name,
 * else "" (the caller falls back to the username where it needs a name). member may be NULL. */
static inline const char *discord_display_name(const discord_user *u, const discord_member *m) {
  if (m && m->nick && m->nick[0]) return m->nick;
  return u->global_name ? u->global_name : "";
}

/* MESSAGE_DELETE (n_ids == 1) and MESSAGE_DELETE_BULK. */
typedef struct discord_message_delete {
  discord_id channel_id;
  discord_id guild_id;
  discord_id *ids;
  size_t n_ids;
} discord_message_delete;

/* MESSAGE_REACTION_ADD / MESSAGE_REACTION_REMOVE. */
typedef struct discord_reaction {
  discord_id user_id;
  discord_id channel_id;
  discord_id message_id;
  discord_id guild_id;
  discord_id message_author_id; /* ADD only; 0 when absent */
  discord_emoji emoji;
  bool burst; /* a super reaction */
  bool has_member;
  discord_member member;
  discord_user member_user; /* member.user when present */
} discord_reaction;

/* A channel or a thread (CHANNEL_*, THREAD_*, and the lists inside GUILD_CREATE). Thread fields are
 * meaningful when is_thread (types 10, 11, 12). */
typedef struct discord_channel {
  discord_id id;
  int type; /* 0 text, 1 DM, 2 voice, 4 category, 5 news, 10-12 threads, 15 forum */
  discord_id guild_id;
  discord_id parent_id; /* category, or the thread's channel */
  const char *name;
  const char *topic;
  int position;
  bool nsfw;
  discord_id last_message_id;
  bool has_last_message_id; /* the field was there (null: the channel has no messages yet) */
  int rate_limit_per_user;  /* slowmode seconds */
  bool is_thread;
  discord_id owner_id; /* thread creator */
  bool archived;
  bool locked;
  int64_t archive_ms;
  int message_count;
  int member_count;
} discord_channel;

/* GUILD_CREATE (also GUILD_UPDATE/GUILD_DELETE, where lists are empty and unavailable may be
 * set). */
typedef struct discord_guild {
  discord_id id;
  const char *name;
  discord_id owner_id;
  bool unavailable;
  int member_count;
  int64_t joined_at_ms;
  discord_channel *channels;
  size_t n_channels;
  discord_channel *threads; /* active threads the bot can see */
  size_t n_threads;
} discord_guild;

/* One option of an application command; nested for sub-commands (types 1 and 2). */
typedef struct discord_option {
  const char *name;
  int type;        /* 3 STRING, 4 INTEGER, 5 BOOLEAN, 6 USER, 7 CHANNEL, 8 ROLE, 10 NUMBER, ... */
  const char *str; /* STRING (and the decimal form of snowflake types); "" otherwise */
  int64_t i;       /* INTEGER, BOOLEAN (0/1), and snowflake types 6-9, 11 as u64 bits */
  double num;      /* NUMBER and INTEGER */
  bool focused;    /* autocomplete */
  struct discord_option *options;
  size_t n_options;
} discord_option;

/* A button of the message a component interaction came from, as Discord shows it now (rows of
 * buttons only; selects and other components are left out). Lets an answer re-send the message's
 * buttons changed (disabled, say) without the caller keeping them. */
typedef struct discord_msg_button {
  int row;               /* 0-based action row */
  const char *custom_id; /* "" for link buttons */
  const char *label;     /* "" when none */
  const char *url;       /* link buttons; "" otherwise */
  int style;             /* 1-5 */
  bool disabled;
} discord_msg_button;

#define DISCORD_MSG_BUTTONS_MAX 25 /* 5 rows of 5: more is not Discord's and is dropped */

/* One text input's answer in a MODAL_SUBMIT (data.components[].components[]). */
typedef struct discord_modal_field {
  const char *custom_id; /* 1-100 characters */
  const char *value;     /* 0-4,000 characters of valid UTF-8 ("" when left empty) */
} discord_modal_field;

#define DISCORD_MODAL_INPUTS_MAX    5    /* text inputs (action rows) per modal */
#define DISCORD_MODAL_TITLE_MAX     45   /* characters of a modal's title */
#define DISCORD_INPUT_LABEL_MAX     45   /* characters of a text input's label */
#define DISCORD_INPUT_VALUE_MAX     4000 /* characters of a text input's value */
#define DISCORD_INPUT_PLACEHOLD_MAX 100  /* characters of a text input's placeholder */

typedef struct discord_interaction {
  discord_id id;
  discord_id application_id;
  int type;          /* 1 PING, 2 APPLICATION_COMMAND, 3 COMPONENT, 4 AUTOCOMPLETE, 5 MODAL */
  const char *token; /* for the callback; valid 15 minutes, must be answered within 3 s */
  discord_id guild_id;
  discord_id channel_id;
  discord_user user; /* the invoker: member.user in guilds, user in DMs */
  bool has_member;
  discord_member member;
  /* data */
  discord_id command_id;
  const char *command_name;
  int command_type;      /* 1 CHAT_INPUT, 2 USER, 3 MESSAGE */
  discord_id target_id;  /* USER/MESSAGE commands */
  const char *custom_id; /* components and modals */
  int component_type;
  discord_option *options;
  size_t n_options;
  const char *locale;
  uint64_t app_permissions;
  /* COMPONENT (and a MODAL_SUBMIT opened from one): the message the component is on */
  discord_id message_id;
  discord_id message_webhook_id; /* the webhook that posted it; 0: the bot user */
  discord_msg_button *buttons;   /* its buttons (at most DISCORD_MSG_BUTTONS_MAX) */
  size_t n_buttons;
  /* MODAL_SUBMIT (type 5): custom_id is the modal's; one field per text input, in order. The
   * parser checks the submit against Discord's rules (1-5 rows of one text input each, custom_ids
   * of 1-100 characters and unique, values of at most 4,000 characters of valid UTF-8); when it
   * breaks one, fields is empty and modal_error says how, in one sentence. */
  discord_modal_field *fields;
  size_t n_fields;
  const char *modal_error; /* NULL: a valid submit (or not a MODAL_SUBMIT) */
} discord_interaction;

/* The value of a MODAL_SUBMIT's text input named custom_id; NULL when the submit has none. */
const char *discord_modal_value(const discord_interaction *in, const char *custom_id);

/* GUILD_MEMBER_ADD: someone joined a guild (needs the privileged GUILD_MEMBERS intent). */
typedef struct discord_member_add {
  discord_id guild_id;
  discord_user user;
  discord_member member;
} discord_member_add;

typedef struct discord_ready {
  int v;
  discord_user user; /* the bot itself */
  const char *session_id;
  const char *resume_gateway_url;
  discord_id application_id;
  discord_id *guild_ids; /* unavailable guilds; they arrive later as GUILD_CREATE */
  size_t n_guild_ids;
  int shard_id;
  int shard_count;
} discord_ready;

/* Why the gateway stopped. Sent once, last, when the gateway will not reconnect. */
typedef struct discord_stopped {
  int close_code;      /* the fatal close code (4004, 4010-4014), or 0 */
  bool fatal;          /* false when stopped on request */
  const char *message; /* one plain sentence: what happened and what the user should fix */
} discord_stopped;

typedef enum discord_event_type {
  DISCORD_EV_NONE = 0,
  DISCORD_EV_READY,
  DISCORD_EV_RESUMED,
  DISCORD_EV_GUILD_CREATE,
  DISCORD_EV_GUILD_UPDATE,
  DISCORD_EV_GUILD_DELETE,
  DISCORD_EV_CHANNEL_CREATE,
  DISCORD_EV_CHANNEL_UPDATE,
  DISCORD_EV_CHANNEL_DELETE,
  DISCORD_EV_THREAD_CREATE,
  DISCORD_EV_THREAD_UPDATE,
  DISCORD_EV_THREAD_DELETE,
  DISCORD_EV_MESSAGE_CREATE,
  DISCORD_EV_MESSAGE_UPDATE,
  DISCORD_EV_MESSAGE_DELETE,
  DISCORD_EV_MESSAGE_DELETE_BULK,
  DISCORD_EV_REACTION_ADD,
  DISCORD_EV_REACTION_REMOVE,
  DISCORD_EV_INTERACTION_CREATE,
  DISCORD_EV_GUILD_MEMBER_ADD,
  DISCORD_EV_STOPPED, /* not a Discord event: the gateway gave up or was stopped */
  DISCORD_EV_COUNT_
} discord_event_type;

typedef struct discord_event {
  discord_event_type type;
  int64_t seq; /* the gateway sequence number (0 for RESUMED-less synthetic events) */
  int shard_id;
  union {
    discord_ready ready;             /* READY */
    discord_guild guild;             /* GUILD_* */
    discord_channel channel;         /* CHANNEL_*, THREAD_* */
    discord_message message;         /* MESSAGE_CREATE, MESSAGE_UPDATE */
    discord_message_delete del;      /* MESSAGE_DELETE, MESSAGE_DELETE_BULK */
    discord_reaction reaction;       /* REACTION_ADD, REACTION_REMOVE */
    discord_interaction interaction; /* INTERACTION_CREATE */
    discord_member_add member_add;   /* GUILD_MEMBER_ADD */
    discord_stopped stopped;         /* STOPPED */
  } u;
  struct arena *arena_; /* private: owns every string and array above */
} discord_event;

/* A page of messages as GET /channels/{id}/messages answers (newest first), or of users as GET
 * .../reactions/{emoji} answers. One arena owns every string and array, like an event's: free the
 * page with its _free call, never a field. */
typedef struct discord_messages {
  discord_message *items;
  size_t n;
  struct arena *arena_; /* private */
} discord_messages;

typedef struct discord_users {
  discord_user *items;
  size_t n;
  struct arena *arena_; /* private */
} discord_users;

/* The guilds of GET /users/@me/guilds (partial guilds: id and name). */
typedef struct discord_guilds {
  discord_guild *items;
  size_t n;
  struct arena *arena_; /* private */
} discord_guilds;

/* A channel list (GET /guilds/{id}/channels) or a thread list (GET .../threads/active and
 * .../threads/archived/..., has_more set by the archived ones). In listings a channel without a
 * type reads as type -1 and one without message_count as -1, so "unknown" is not "text" or 0. */
typedef struct discord_channels {
  discord_channel *items;
  size_t n;
  bool has_more;
  struct arena *arena_; /* private */
} discord_channels;

void discord_guilds_free(discord_guilds *p);
void discord_channels_free(discord_channels *p);

/* Parse the JSON text of a page (what the REST calls answer; also the fuzz entry point). The
 * message parser is the gateway's, so a page's message reads exactly like a MESSAGE_CREATE.
 * Errors: MIMIC_EFORMAT (not JSON, or not an array), MIMIC_ERANGE (over the arena cap),
 * MIMIC_ENOMEM. *out: free with discord_messages_free / discord_users_free (accept NULL). */
int discord_messages_parse(const char *json, size_t n, discord_messages **out) MIMIC_MUST;
int discord_users_parse(const char *json, size_t n, discord_users **out) MIMIC_MUST;
void discord_messages_free(discord_messages *p);
void discord_users_free(discord_users *p);

/* Frees the event and everything it owns. Accepts NULL. Thread-safe (events are independent). */
void discord_event_free(discord_event *ev);

/* "MESSAGE_CREATE" for DISCORD_EV_MESSAGE_CREATE, "STOPPED" for the synthetic one; never NULL. */
const char *discord_event_name(discord_event_type t);

/* The event type for a dispatch name ("MESSAGE_REACTION_ADD" -> DISCORD_EV_REACTION_ADD), or
 * DISCORD_EV_NONE for one mimic does not handle. */
discord_event_type discord_event_type_of(const char *dispatch_name);

#endif
