/* What mimic does on Discord, typed: post (as the bot or as a persona through a channel webhook),
 * show typing, react, open a DM, answer interactions, with components (buttons, string selects) and
 * files. Callers fill plain structs; this module writes the JSON and the paths (over api.h) and
 * reads the answers, so nothing above the discord layer sees JSON. It is the one implementation of
 * the bot's actions against REST: the runtime calls it on the loop thread, directly.
 *
 * Every message goes out with allowed_mentions {"parse": []} (nobody is pinged by the text) plus
 * the users listed in ping_users and replied_user only when asked; text over 2,000 characters is
 * split (split.h), with the reply reference on the first part and components and files on the last.
 *
 * Outcome: each call returns 0 when the request was queued (the outcome is then counted in
 * sent/failed and passed to the optional done callback, once) or a negative MIMIC_E* code with
 * err_set when it was refused at once (nothing counted, done never runs). Failures are logged in
 * one line; webhook and interaction tokens are secrets and never appear in a log line or an error
 * (rest.c masks them in route names). Loop-thread only. Every pointer passed in is borrowed for
 * the call: strings, arrays and file bytes are copied before it returns. */
#ifndef MIMIC_DISCORD_ACTIONS_H
#define MIMIC_DISCORD_ACTIONS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/map.h"
#include "discord/discord.h"

struct rest; /* discord/rest.h: the REST client (this header stays free of HTTP and JSON) */

#define DISCORD_FILES_MAX  10          /* files per message */
#define DISCORD_UPLOAD_MAX (25u << 20) /* bytes per message, all files together */

/* ---- components (message components: action rows of buttons or one select) ---- */

typedef enum discord_button_style {
  DISCORD_BUTTON_PRIMARY = 1,
  DISCORD_BUTTON_SECONDARY = 2,
  DISCORD_BUTTON_SUCCESS = 3,
  DISCORD_BUTTON_DANGER = 4,
  DISCORD_BUTTON_LINK = 5 /* opens url; has no custom_id and sends no interaction */
} discord_button_style;

typedef struct discord_select_option {
  const char *label;       /* shown; 1-100 characters */
  const char *value;       /* sent back in the interaction; 1-100 characters */
  const char *description; /* NULL: none */
  bool is_default;
} discord_select_option;

#define DISCORD_COMPONENT_BUTTON        2
#define DISCORD_COMPONENT_STRING_SELECT 3
#define DISCORD_ROW_MAX                 5 /* action rows per message */
#define DISCORD_ROW_BUTTONS_MAX         5 /* buttons per row (a select fills its row alone) */
#define DISCORD_SELECT_OPTIONS_MAX      25
#define DISCORD_CUSTOM_ID_MAX           100

/* A button (type DISCORD_COMPONENT_BUTTON) or a string select (DISCORD_COMPONENT_STRING_SELECT). */
typedef struct discord_component {
  int type;
  const char *custom_id; /* 1-100 characters; required except for link buttons */
  bool disabled;
  /* buttons */
  discord_button_style style;
  const char *label; /* up to 80 characters; NULL: none (then emoji is required) */
  const char *emoji; /* a Unicode emoji or "name:id"; NULL: none */
  const char *url;   /* link buttons only */
  /* string selects */
  const discord_select_option *options;
  size_t n_options;           /* 1-25 */
  const char *placeholder;    /* NULL: none */
  int min_values, max_values; /* 0 and 0: Discord's defaults (1 and 1) */
} discord_component;

typedef struct discord_action_row {
  const discord_component *items;
  size_t n_items; /* 1-5 buttons, or exactly 1 select */
} discord_action_row;

/* ---- files (attachments out) ---- */

typedef struct discord_file {
  const char *filename;     /* 1-255 bytes, no '/', '\\', '"' or line breaks */
  const char *content_type; /* NULL: application/octet-stream */
  const char *description;  /* alt text; NULL: none */
  const void *data;
  size_t size; /* all files of a message together: at most DISCORD_UPLOAD_MAX */
} discord_file;

/* ---- messages ---- */

typedef struct discord_send {
  discord_id channel_id;
  const char *content; /* any length (split); may be empty when rows or files carry the message */
  discord_id reply_to; /* message_reference on the first part; 0: a plain message */
  bool ping_reply;     /* replied_user: only with reply_to */
  const discord_id *ping_users; /* users the text may ping (at most 100); NULL: nobody */
  size_t n_ping_users;
  bool suppress_embeds;
  bool silent; /* SUPPRESS_NOTIFICATIONS */
  const discord_action_row *rows;
  size_t n_rows;
  const discord_file *files;
  size_t n_files; /* at most DISCORD_FILES_MAX */
} discord_send;

/* Posting as a persona: through a channel webhook, under another name and avatar.
 *
 * Webhooks: where the avatar is a URL (or none), the channel's one shared webhook carries every
 * persona, with username and avatar_url per message. Where the avatar is a local image file, the
 * persona gets a webhook of its own in that channel whose avatar is that image (uploaded as a data
 * URI when it is created); avatar_key names the image's version, so a changed image gets a new
 * webhook. Webhooks are looked up in the channel first (a restart reuses them), created when
 * missing, cached (and reported through hook_note for the store), and a channel's 15-webhook
 * limit is respected: when it is full, the least used of mimic's own in that channel is deleted
 * first; when none of mimic's can go, an avatar webhook gives way to the shared one. Unknown
 * Webhook (10015, it was deleted) re-creates it and sends the remaining parts once: nothing is
 * posted twice. Without Manage Webhooks (50013 or 403) the message goes out as the bot user with
 * the name as a prefix ("**Name**: text", a real reply when reply_to is set), the log says so once
 * per channel, and the channel is tried again after DISCORD_HOOK_RETRY_MS.
 *
 * Replies: a webhook cannot reply. Like PluralKit, a reply to a person starts with a quote line
 * naming them ("> <@id> excerpt [jump](link)"), which pings them only when ping_reply. */
typedef struct discord_persona_send {
  discord_id channel_id;   /* the channel owning the webhook (a thread's parent) */
  discord_id thread_id;    /* post into this thread of the channel; 0: the channel itself */
  discord_id guild_id;     /* for the reply's jump link; 0: a link is left out */
  const char *username;    /* shown as the author; 1-80 characters */
  const char *avatar_url;  /* NULL: the webhook's avatar */
  const char *avatar_file; /* a local image (PNG, JPEG, GIF, WebP, at most DISCORD_AVATAR_MAX
                            * bytes): the persona's own webhook in the channel; NULL: none */
  const char *avatar_key;  /* the image's version (e.g. a hash of path, size and time); NULL: the
                            * path */
  const char *content;
  discord_id reply_to;       /* the message answered (quoted); 0: none */
  discord_id reply_user;     /* its author (named in the quote) */
  const char *reply_excerpt; /* its text, cut for the quote; NULL: none */
  bool ping_reply;           /* the quote's mention pings reply_user */
  const discord_id *ping_users;
  size_t n_ping_users;
  const discord_action_row *rows; /* Discord shows components on webhook messages only when the
                                     webhook belongs to the application (mimic's do) */
  size_t n_rows;
  const discord_file *files;
  size_t n_files;
  uint64_t tag; /* the caller's (a persona id): handed back in the result */
} discord_persona_send;

#define DISCORD_HOOKS_PER_CHANNEL 15               /* Discord's limit */
#define DISCORD_AVATAR_MAX        (8u << 20)       /* bytes of an uploaded avatar image */
#define DISCORD_HOOK_RETRY_MS     (10 * 60 * 1000) /* after a missing Manage Webhooks */
#define DISCORD_HOOK_KEY_MAX      64               /* bytes of an avatar key kept */

/* A persona webhook mimic holds, as the cache and the store know it. The token is a secret. */
typedef struct discord_hook_info {
  discord_id channel_id;
  char key[DISCORD_HOOK_KEY_MAX + 1]; /* "": the channel's shared webhook; else the avatar key */
  discord_id id;
  char token[128];
  uint64_t uses;        /* messages sent through it */
  int64_t last_used_ms; /* wall clock */
} discord_hook_info;

typedef enum discord_hook_event {
  DISCORD_HOOK_SAVED, /* learned or created: keep it */
  DISCORD_HOOK_USED,  /* a message went through it (uses, last_used_ms updated) */
  DISCORD_HOOK_GONE   /* deleted by Discord, someone, or mimic (evicted): forget it */
} discord_hook_event;

/* ---- interactions ---- */

typedef enum discord_response_type {
  DISCORD_RESPONSE_MESSAGE = 4,         /* answer now with a message */
  DISCORD_RESPONSE_DEFERRED = 5,        /* "thinking...": edit the original later */
  DISCORD_RESPONSE_DEFERRED_UPDATE = 6, /* components: acknowledge, update later */
  DISCORD_RESPONSE_UPDATE = 7,          /* components: edit the message they are on */
  DISCORD_RESPONSE_AUTOCOMPLETE = 8,    /* choices for the focused option */
  DISCORD_RESPONSE_MODAL = 9            /* opens a form (see discord_modal) */
} discord_response_type;

/* ---- modals (forms of text inputs) ---- */

typedef enum discord_input_style {
  DISCORD_INPUT_SHORT = 1,    /* one line */
  DISCORD_INPUT_PARAGRAPH = 2 /* several lines */
} discord_input_style;

#define DISCORD_COMPONENT_TEXT_INPUT 4

/* A text input of a modal (component type 4, alone in its action row). Lengths are characters. */
typedef struct discord_text_input {
  const char *custom_id; /* 1-100; names the value in the MODAL_SUBMIT */
  discord_input_style style;
  const char *label;       /* 1-45 */
  int min_length;          /* 0-4,000; 0: none */
  int max_length;          /* 1-4,000; 0: Discord's default (4,000) */
  bool required;           /* false: may be submitted empty */
  const char *value;       /* prefilled text (at most max_length); NULL: none */
  const char *placeholder; /* shown while empty, at most 100; NULL: none */
} discord_text_input;

/* A modal: the only answer that opens a form. Discord accepts it only as the first answer to an
 * application command or a component interaction: never after a deferred response and never in
 * answer to a MODAL_SUBMIT (discord_actions_respond cannot tell; the caller must). */
typedef struct discord_modal {
  const char *title;     /* 1-45 characters */
  const char *custom_id; /* 1-100; comes back as the MODAL_SUBMIT's custom_id */
  const discord_text_input *inputs;
  size_t n_inputs; /* 1-5 */
} discord_modal;

typedef struct discord_choice {
  const char *name;  /* shown; 1-100 characters */
  const char *value; /* sent as the option's value (a string option) */
} discord_choice;

#define DISCORD_CHOICES_MAX 25

/* The answer to an interaction, within 3 s of it. */
typedef struct discord_response {
  discord_id interaction_id;
  const char *token; /* the interaction's token (a secret) */
  discord_response_type type;
  const char *content; /* MESSAGE, UPDATE: at most 2,000 characters (longer is cut: send the
                          rest as follow-ups) */
  bool ephemeral;      /* MESSAGE, DEFERRED: only the invoker sees it (flag 64) */
  const discord_action_row *rows; /* MESSAGE, UPDATE */
  size_t n_rows;
  const discord_choice *choices; /* AUTOCOMPLETE: 0-25 */
  size_t n_choices;
  const discord_modal *modal; /* MODAL */
} discord_response;

/* The edit of a message already posted (its components, and its text when content is set): by
 * the bot user through the channel, or through the webhook that posted it when webhook_id is one
 * of mimic's persona webhooks (then thread_id names the thread it is in, if any). */
typedef struct discord_edit {
  discord_id channel_id;
  discord_id message_id;
  discord_id webhook_id;          /* 0: the bot user posted it */
  discord_id thread_id;           /* webhook edits of a message in a thread */
  const char *content;            /* NULL: unchanged; at most 2,000 characters */
  const discord_action_row *rows; /* the components it shows after the edit */
  size_t n_rows;                  /* 0: every component removed */
} discord_edit;

/* A follow-up message, or the edit of the original (deferred) response; valid 15 minutes. */
typedef struct discord_followup {
  discord_id application_id;
  const char *token;
  const char *content;
  bool ephemeral; /* follow-ups only (the original keeps the deferred response's flag) */
  const discord_action_row *rows;
  size_t n_rows;
  const discord_file *files; /* follow-ups only */
  size_t n_files;
} discord_followup;

/* ---- the action context ---- */

typedef struct discord_actions_result {
  int err;               /* 0, or MIMIC_E* */
  const char *message;   /* the error, one line; NULL on success */
  discord_id message_id; /* the message posted (the last part), when the answer names one */
  /* persona sends only */
  bool persona;               /* this was a persona send */
  bool fallback;              /* it went out as the bot user (no Manage Webhooks, no room) */
  discord_id channel_id;      /* where it was posted (the thread when there was one) */
  discord_id webhook_id;      /* the webhook it went through (0: the bot user) */
  uint64_t tag;               /* discord_persona_send.tag */
  const discord_id *part_ids; /* every part posted, in order (a long reply is several) */
  size_t n_parts;
} discord_actions_result;

typedef struct discord_actions {
  struct rest *rest;     /* borrowed: the loop thread's REST client */
  const char *hook_name; /* name of the persona webhooks mimic creates ("mimic") */
  uint64_t sent, failed; /* outcomes so far, for !status and tests */
  /* Optional: called once per accepted action with its outcome (borrowed during the call). */
  void (*done)(const discord_actions_result *res, void *user);
  void *done_user;
  /* Optional: told when a webhook is saved, used or gone, so the caller can keep the cache in its
   * store (the info, token included, is borrowed during the call; never log the token). */
  void (*hook_note)(const discord_hook_info *h, discord_hook_event ev, void *user);
  void *hook_user;
  /* Optional wall clock (Unix ms) for last_used_ms and the permission retry; NULL: the real one. */
  int64_t (*now_ms)(void *user);
  void *now_user;
  uint64_t fallbacks; /* persona messages sent as the bot user */
  map_u64 hooks_;     /* private: channel id -> its webhooks */
} discord_actions;

/* Sets up a with the REST client (borrowed; must outlive a). */
void discord_actions_init(discord_actions *a, struct rest *r);
/* Forgets the cached webhooks (their tokens are wiped). Call after the REST client has delivered
 * every outcome (after rest_destroy). Accepts NULL. */
void discord_actions_free(discord_actions *a);

/* POST /channels/{id}/messages, one request per part. Errors: MIMIC_EINVAL (no channel, empty
 * message, a bad component or file), MIMIC_EBUSY / MIMIC_ECANCELLED (REST queue). */
int discord_actions_send(discord_actions *a, const discord_send *m) MIMIC_MUST;
/* A direct message: opens the DM channel (POST /users/@me/channels), then sends m there
 * (m->channel_id is ignored). */
int discord_actions_send_dm(discord_actions *a, discord_id user_id,
                            const discord_send *m) MIMIC_MUST;
/* POST /channels/{id}/typing (shown ~10 s or until the next message). */
int discord_actions_typing(discord_actions *a, discord_id channel_id) MIMIC_MUST;
/* PUT .../reactions/{emoji}/@me; emoji is Unicode or "name:id". */
int discord_actions_react(discord_actions *a, discord_id channel_id, discord_id message_id,
                          const char *emoji) MIMIC_MUST;
/* Posts as a persona (see discord_persona_send for the webhooks, the limit, re-creation and the
 * fallback). Executed with wait=true, and thread_id when set. Errors at once: MIMIC_EINVAL (no
 * channel, a name that is not 1-80 characters, bad components or files). */
int discord_actions_persona_send(discord_actions *a, const discord_persona_send *m) MIMIC_MUST;
/* Preloads a cached webhook (from the store, before the first send). Copied. */
void discord_actions_hook_put(discord_actions *a, const discord_hook_info *h);
/* Whether id is one of mimic's persona webhooks that the cache knows. */
bool discord_actions_hook_is_ours(const discord_actions *a, discord_id id);
/* Webhooks cached for a channel (for !status and tests). */
size_t discord_actions_hook_count(const discord_actions *a, discord_id channel_id);
/* Whether the channel was found without Manage Webhooks (and is not being retried yet). */
bool discord_actions_hook_denied(const discord_actions *a, discord_id channel_id);
/* POST /interactions/{id}/{token}/callback. Errors also: MIMIC_EINVAL (a token that cannot be a
 * path segment, more than 25 choices). */
int discord_actions_respond(discord_actions *a, const discord_response *r) MIMIC_MUST;
/* POST /webhooks/{application}/{token}: a follow-up message. */
int discord_actions_followup(discord_actions *a, const discord_followup *f) MIMIC_MUST;
/* PATCH /webhooks/{application}/{token}/messages/@original: fills in a deferred response. */
int discord_actions_edit_original(discord_actions *a, const discord_followup *f) MIMIC_MUST;

/* Edits a posted message (see discord_edit). Errors at once: MIMIC_EINVAL (no message, bad rows,
 * a webhook_id that is not one of mimic's cached webhooks). */
int discord_actions_edit_message(discord_actions *a, const discord_edit *e) MIMIC_MUST;

/* ---- actions copied for another thread ---- */

/* One action with everything it points to copied (strings, rows, options, choices, file bytes), so
 * a thread that is not the loop's (the bot's) can hand it over: make it there, run it on the loop
 * thread. The makers copy what they are given and never fail (allocation failure aborts); invalid
 * requests are refused when the copy runs, like the direct calls. */
typedef struct discord_action discord_action;

discord_action *discord_action_send(const discord_send *m);
discord_action *discord_action_send_dm(discord_id user_id, const discord_send *m);
discord_action *discord_action_typing(discord_id channel_id);
discord_action *discord_action_react(discord_id channel_id, discord_id message_id,
                                     const char *emoji);
discord_action *discord_action_persona_send(const discord_persona_send *m);
discord_action *discord_action_respond(const discord_response *r);
discord_action *discord_action_followup(const discord_followup *f);
discord_action *discord_action_edit_original(const discord_followup *f);
discord_action *discord_action_edit_message(const discord_edit *e);

/* Runs the action with a (the discord_actions_* call it stands for) and frees it. Returns what
 * that call returns. Loop-thread only. */
int discord_action_run(discord_actions *a, discord_action *x) MIMIC_MUST;
/* Frees an action that will not run. Accepts NULL. Any thread. */
void discord_action_free(discord_action *x);

#endif
