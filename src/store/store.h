/* The store: mimic's one SQLite database (WAL) with its schema, migrations and typed access per
 * table. Every other layer reads and writes the database through these functions; none of them sees
 * SQL except through store_db() for one-off reports.
 *
 * Threads: a `store` is one connection. Open one per thread (SQLite WAL lets readers run while one
 * writer writes; a writer waits up to STORE_BUSY_MS for another writer). A handle is never shared
 * between threads at the same time.
 *
 * Transactions: every function that changes several rows is atomic on its own (it opens a
 * transaction, or a savepoint when the caller already holds one). Callers group several calls into
 * one atomic unit with store_tx_begin/commit/rollback, which nest. A kill at any instant loses
 * nothing that was committed and leaves nothing half-written.
 *
 * Ids are Discord snowflakes (u64, always < 2^63, stored as SQLite INTEGER). Times are Unix
 * milliseconds, UTC. Strings are UTF-8; message content is stored exactly as sent.
 *
 * Not here: how messages are filtered, rendered or turned into datasets (collect/), what settings
 * mean (base/config.h keys, bot/). */
#ifndef MIMIC_STORE_H
#define MIMIC_STORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct sqlite3;
struct sqlite3_stmt;
typedef struct store store;

#define STORE_BUSY_MS     5000  /* how long a writer waits for another writer */
#define STORE_NAME_MAX    256   /* bytes for a user, channel or guild name (NUL included) */
#define STORE_SETTING_MAX 65536 /* longest live setting value */

/* ---- open, close, schema ------------------------------------------------------------------ */

/* Opens (creating when absent) the database at path, sets WAL, foreign keys, busy timeout and
 * synchronous=NORMAL, and migrates the schema to STORE_SCHEMA_VERSION, one transaction per
 * migration. ":memory:" opens a private in-memory database (tests). Errors: MIMIC_EDB with a
 * sentence naming the file (unreadable, not a database, from a newer mimic). *out is the caller's;
 * close with store_close. */
int store_open(const char *path, store **out) MIMIC_MUST;
/* Finalizes cached statements and closes; accepts NULL. Rolls back an open transaction. */
void store_close(store *s);
/* The schema version this build creates and understands. */
int store_schema_version(void);
/* The version the open database is at (PRAGMA user_version). */
int store_db_version(store *s);
/* The raw connection, for read-only reports (stats). Borrowed. */
struct sqlite3 *store_db(store *s);
/* The path given to store_open. Borrowed. */
const char *store_path(const store *s);

/* ---- transactions --------------------------------------------------------------------------- */

/* BEGIN IMMEDIATE at depth 0 (takes the write lock now, so a later write never deadlocks), a
 * SAVEPOINT when nested. Every begin is ended by exactly one commit or rollback. */
int store_tx_begin(store *s) MIMIC_MUST;
int store_tx_commit(store *s) MIMIC_MUST;
/* Undoes everything since the matching begin. Never fails in a way the caller can act on. */
void store_tx_rollback(store *s);
/* Current nesting depth (0 = no transaction). */
int store_tx_depth(const store *s);

/* ---- prepared statements (for store/ and, sparingly, for reports) --------------------------- */

/* Returns a cached prepared statement for sql (reset, bindings cleared). The cache is keyed by the
 * SQL text; the statement stays owned by the store: never finalize it. Errors: MIMIC_EDB naming the
 * SQLite message. */
int store_stmt(store *s, const char *sql, struct sqlite3_stmt **out) MIMIC_MUST;
/* Runs one or more statements that return no rows. */
int store_exec(store *s, const char *sql) MIMIC_MUST;
/* Sets err to MIMIC_EDB "what: <sqlite message>" and returns MIMIC_EDB (or MIMIC_EBUSY when the
 * database stayed locked past STORE_BUSY_MS). */
int store_err(store *s, const char *what);

/* ---- guilds, channels, users ------------------------------------------------------------------
 */

typedef struct store_guild {
  uint64_t id;
  char name[STORE_NAME_MAX];
} store_guild;

/* Discord channel types (the numbers Discord uses). */
enum {
  STORE_CH_GUILD_TEXT = 0,
  STORE_CH_DM = 1,
  STORE_CH_GUILD_VOICE = 2,
  STORE_CH_GROUP_DM = 3,
  STORE_CH_GUILD_CATEGORY = 4,
  STORE_CH_GUILD_NEWS = 5,
  STORE_CH_NEWS_THREAD = 10,
  STORE_CH_PUBLIC_THREAD = 11,
  STORE_CH_PRIVATE_THREAD = 12,
  STORE_CH_STAGE = 13,
  STORE_CH_DIRECTORY = 14,
  STORE_CH_FORUM = 15
};

typedef struct store_channel {
  uint64_t id;
  uint64_t guild_id;  /* 0 for DMs */
  uint64_t parent_id; /* threads: the parent channel; channels: the category; 0 when none */
  int type;           /* STORE_CH_* */
  char name[STORE_NAME_MAX];
} store_channel;

typedef struct store_user {
  uint64_t id;
  char name[STORE_NAME_MAX];         /* account name (username) */
  char display_name[STORE_NAME_MAX]; /* what people see (nickname / global name); "" = use name */
  bool bot;                          /* bot account (webhooks are flagged per message instead) */
} store_user;

/* Upserts: insert, or update the name fields with the non-empty ones given (an empty name never
 * erases a known one). Guild/parent ids of 0 leave the stored ones. */
int store_guild_upsert(store *s, const store_guild *g) MIMIC_MUST;
int store_channel_upsert(store *s, const store_channel *c) MIMIC_MUST;
int store_user_upsert(store *s, const store_user *u) MIMIC_MUST;
/* Reads one row. MIMIC_ENOTFOUND (with no error message set) when absent. */
int store_channel_get(store *s, uint64_t id, store_channel *out) MIMIC_MUST;
int store_user_get(store *s, uint64_t id, store_user *out) MIMIC_MUST;
/* Whether some user's display name or account name is `name` (ASCII case ignored). */
int store_user_named(store *s, const char *name, bool *found) MIMIC_MUST;
/* The name to show for a user: display_name, else name, else "unknown-user". Never NULL. */
const char *store_user_shown(const store_user *u);

/* ---- messages
 * ------------------------------------------------------------------------------------ */

/* Message flags kept by mimic (not Discord's flags field). */
enum {
  STORE_MSG_PINNED = 1u << 0,
  STORE_MSG_WEBHOOK = 1u << 1, /* sent by a webhook (author is not a real member) */
  STORE_MSG_TTS = 1u << 2
};

/* Where a message came from (messages.source). */
enum { STORE_SRC_GATEWAY = 1, STORE_SRC_FETCH = 2, STORE_SRC_DCE = 3, STORE_SRC_PACKAGE = 4 };

/* Which children an upsert replaces (store_msg.has). Children not named are left as stored, so an
 * edit event (content only) keeps the reactions. */
enum {
  STORE_HAS_MENTIONS = 1u << 0,
  STORE_HAS_ATTACHMENTS = 1u << 1,
  STORE_HAS_REACTIONS = 1u << 2, /* counts; with reactor lists when store_reaction.users is set */
  STORE_HAS_ALL = 7u
};

typedef struct store_attachment {
  uint64_t id;          /* 0 when unknown (data packages) */
  const char *filename; /* "" when unknown */
  const char *url;
  int64_t size;             /* bytes; -1 when unknown */
  const char *content_type; /* "" when unknown */
} store_attachment;

typedef struct store_reaction {
  const char *emoji;      /* key: the Unicode emoji ("👍"), or "name:id" for custom emoji */
  uint64_t emoji_id;      /* custom emoji id; 0 for Unicode */
  const char *emoji_name; /* "👍" or the custom name ("pepe") */
  int count;
  const uint64_t *users; /* who reacted, when known (NULL = not fetched) */
  size_t n_users;
} store_reaction;

typedef struct store_msg {
  uint64_t id, channel_id, guild_id, author_id;
  uint64_t webhook_id;     /* 0 unless sent by a webhook */
  int64_t ts_ms;           /* created */
  int64_t edited_ms;       /* 0 = never edited */
  int type;                /* Discord message type number (0 default, 19 reply, 7 join, ...) */
  uint32_t flags;          /* STORE_MSG_* */
  int source;              /* STORE_SRC_* */
  const char *content;     /* exactly as sent; never NULL ("" for none) */
  const char *embeds_text; /* embeds' title/description/fields/footer joined by '\n'; "" none */
  uint64_t ref_message_id; /* the message replied to (or forwarded); 0 none */
  uint64_t ref_channel_id;
  uint32_t has; /* STORE_HAS_*: which child arrays below are meaningful */
  const uint64_t *mentions;
  size_t n_mentions;
  const store_attachment *attachments;
  size_t n_attachments;
  const store_reaction *reactions;
  size_t n_reactions;
  /* Filled by reads, ignored by writes: */
  const char *author_name;  /* users.name */
  const char *author_shown; /* what people see (store_user_shown) */
  bool author_bot;
  int reaction_total; /* sum of reaction counts */
} store_msg;

/* Inserts or updates one message by id with its children named in m->has, atomically; creates
 * placeholder guild/channel/user rows for unknown ids (fill them with the upserts above). *inserted
 * (may be NULL) is set to true when the message is new. Content is stored byte for byte; content or
 * embeds_text that is not valid UTF-8 is an error (MIMIC_EFORMAT), so nothing invalid is stored. */
int store_msg_upsert(store *s, const store_msg *m, bool *inserted) MIMIC_MUST;
/* Updates content and edited time (MESSAGE_UPDATE). MIMIC_ENOTFOUND when the message is unknown. */
int store_msg_edit(store *s, uint64_t id, const char *content, int64_t edited_ms) MIMIC_MUST;
/* Deletes a message and its children. Deleting an unknown id is not an error. */
int store_msg_delete(store *s, uint64_t id) MIMIC_MUST;
/* Number of stored messages (all, or by one author when author_id != 0). */
int store_msg_count(store *s, uint64_t author_id, int64_t *out) MIMIC_MUST;

/* A list of messages read from the store. Owns every string and child array it points to. */
typedef struct store_msg_list {
  store_msg *items;
  size_t n;
  void *arena_; /* private */
} store_msg_list;
void store_msg_list_free(store_msg_list *l); /* accepts NULL and zeroed lists; re-zeroes */

/* One message with all its children. MIMIC_ENOTFOUND (no message set) when absent. out has n == 1.
 */
int store_msg_get(store *s, uint64_t id, store_msg_list *out) MIMIC_MUST;
/* The newest `limit` messages of a channel older than before_id (0 = newest), oldest first, without
 * children. For the bot's context window. */
int store_msg_recent(store *s, uint64_t channel_id, uint64_t before_id, size_t limit,
                     store_msg_list *out) MIMIC_MUST;
/* Full-text search (FTS5, unicode61, diacritics folded) over content. The query is plain words,
 * not FTS syntax (quotes and operators are taken literally); with any=false every word must occur,
 * with any=true one is enough. Best match first; channel_id 0 searches every channel. */
int store_msg_search(store *s, const char *query, bool any, uint64_t channel_id, size_t limit,
                     store_msg_list *out) MIMIC_MUST;

/* Streaming scan of messages in time order (bounded memory), without children except reaction
 * totals. Filters with 0 mean "any". The callback gets a borrowed message valid during the call;
 * returning non-zero stops the scan and that value is returned. */
typedef struct store_msg_query {
  uint64_t channel_id, author_id;
  int64_t since_ms, until_ms; /* half-open [since, until); 0 = unbounded */
} store_msg_query;
typedef int (*store_msg_fn)(const store_msg *m, void *user);
int store_msg_each(store *s, const store_msg_query *q, store_msg_fn fn, void *user) MIMIC_MUST;

/* Live reaction events: adds/removes one user's reaction (count and reactor row). Adding to an
 * unknown message is MIMIC_ENOTFOUND. Removing the last one deletes the reaction row. */
int store_reaction_add(store *s, uint64_t message_id, const char *emoji, uint64_t emoji_id,
                       const char *emoji_name, uint64_t user_id) MIMIC_MUST;
int store_reaction_remove(store *s, uint64_t message_id, const char *emoji,
                          uint64_t user_id) MIMIC_MUST;

/* ---- live settings (the bot's settings changed by admin commands or the dashboard) -------------
 */

/* scope: "" for global, or e.g. "guild:123", "channel:456". key: a config key name. */
int store_setting_set(store *s, const char *scope, const char *key, const char *value) MIMIC_MUST;
/* Copies the value into out (reset first). MIMIC_ENOTFOUND (no message set) when absent. */
int store_setting_get(store *s, const char *scope, const char *key, buf *out) MIMIC_MUST;
int store_setting_delete(store *s, const char *scope, const char *key) MIMIC_MUST;
/* Every setting of a scope (NULL = all scopes) in key order; non-zero from fn stops and is
 * returned. */
typedef int (*store_setting_fn)(const char *scope, const char *key, const char *value,
                                int64_t updated_ms, void *user);
int store_setting_each(store *s, const char *scope, store_setting_fn fn, void *user) MIMIC_MUST;

/* ---- user flags (privacy)
 * ------------------------------------------------------------------------ */

enum {
  STORE_FLAG_EXCLUDED = 1u << 0,  /* the owner keeps this person out of every dataset */
  STORE_FLAG_OPTED_OUT = 1u << 1, /* the person asked to be left out (or was purged) */
  STORE_FLAG_OPTED_IN = 1u << 2   /* the person gave consent (used when consent is required) */
};
/* Sets one flag with a reason (may be ""). Setting OPTED_IN clears OPTED_OUT and vice versa. */
int store_user_flag_set(store *s, uint64_t user_id, uint32_t flag, const char *reason) MIMIC_MUST;
int store_user_flag_clear(store *s, uint64_t user_id, uint32_t flag) MIMIC_MUST;
/* The OR of the user's flags (0 when none). */
int store_user_flags(store *s, uint64_t user_id, uint32_t *out) MIMIC_MUST;
typedef int (*store_flag_fn)(uint64_t user_id, uint32_t flag, const char *reason, int64_t set_ms,
                             void *user);
int store_user_flag_each(store *s, store_flag_fn fn, void *user) MIMIC_MUST;
/* Name of one flag ("excluded", "opted-out", "opted-in"). */
const char *store_flag_name(uint32_t flag);

/* ---- history fetcher state
 * ------------------------------------------------------------------------ */

typedef struct store_fetch_state {
  uint64_t channel_id;
  uint64_t newest_id; /* newest message fetched (fetch forward from here); 0 = none */
  uint64_t oldest_id; /* oldest message fetched (fetch backward from here); 0 = none */
  bool complete;      /* the channel's beginning was reached */
  int64_t updated_ms;
} store_fetch_state;
/* MIMIC_ENOTFOUND (no message set) when the channel was never fetched. */
int store_fetch_state_get(store *s, uint64_t channel_id, store_fetch_state *out) MIMIC_MUST;
int store_fetch_state_set(store *s, const store_fetch_state *st) MIMIC_MUST;

/* ---- datasets and provenance
 * --------------------------------------------------------------------- */

/* Roles of a message inside a dataset sample (dataset_messages.role). */
enum {
  STORE_ROLE_CONTEXT = 0,
  STORE_ROLE_TARGET = 1,
  STORE_ROLE_CHOSEN = 2,
  STORE_ROLE_REJECTED = 3
};

/* Registers (or re-registers, replacing its provenance) a dataset file. kind: "sft-chatml",
 * "sft-messages", "dpo", "kto"; split: "train" or "valid"; options: JSON text. */
int store_dataset_add(store *s, const char *path, const char *kind, const char *split,
                      int64_t n_samples, const char *options, int64_t *id) MIMIC_MUST;
/* Records that message_id is in sample (0-based line) of dataset id in the given role. */
int store_dataset_msg_add(store *s, int64_t dataset_id, int64_t sample, uint64_t message_id,
                          int role) MIMIC_MUST;

/* A registered dataset file. */
typedef struct store_dataset {
  int64_t id;
  const char *path, *kind, *split;
  int64_t n_samples;
  const char *pending_path; /* a finished temporary file still to be renamed onto path; NULL */
} store_dataset;
typedef int (*store_dataset_fn)(const store_dataset *d, void *user);
int store_dataset_each(store *s, store_dataset_fn fn, void *user) MIMIC_MUST;

/* Records one imported file (or package folder) in import_log: its path, format ("dce",
 * "package"), size in bytes, messages read and new. Errors: MIMIC_EDB. */
int store_import_log(store *s, const char *path, const char *format, uint64_t bytes,
                     int64_t messages, int64_t inserted) MIMIC_MUST;
/* Marks (tmp != NULL) or clears the pending rename of a dataset file. */
int store_dataset_set_pending(store *s, int64_t id, const char *tmp) MIMIC_MUST;
int store_dataset_set_samples(store *s, int64_t id, int64_t n_samples) MIMIC_MUST;
/* Calls fn for each (dataset, sample) that contains a message written by user_id, in dataset then
 * sample order, each pair once. */
typedef int (*store_sample_fn)(int64_t dataset_id, int64_t sample, void *user);
int store_dataset_samples_of_user(store *s, uint64_t user_id, store_sample_fn fn,
                                  void *user) MIMIC_MUST;
/* Removes the given samples (sorted ascending) from a dataset's provenance and renumbers the rest
 * so sample numbers stay equal to line numbers in the rewritten file. */
int store_dataset_drop_samples(store *s, int64_t dataset_id, const int64_t *samples,
                               size_t n) MIMIC_MUST;

/* Every channel id, ascending. */
typedef int (*store_id_fn)(uint64_t id, void *user);
int store_channel_each(store *s, store_id_fn fn, void *user) MIMIC_MUST;

/* ---- purge log
 * --------------------------------------------------------------------------------------- */

/* A purge: a person's data deleted on request. Training must leave them out of its next run and
 * then acknowledge (train_ack). */
typedef struct store_purge {
  int64_t id;
  uint64_t user_id;
  int64_t requested_ms, done_ms; /* done_ms 0 while in progress */
  int64_t messages_deleted, samples_removed, files_rewritten;
  bool train_ack;
} store_purge;
/* Purges not yet acknowledged by training, oldest first. */
typedef int (*store_purge_fn)(const store_purge *p, void *user);
int store_purge_each(store *s, bool pending_only, store_purge_fn fn, void *user) MIMIC_MUST;
/* Starts a purge record (done_ms 0) and returns its id. */
int store_purge_begin(store *s, uint64_t user_id, int64_t *id) MIMIC_MUST;
/* Deletes every message written by user_id (with children), their reactions on other messages,
 * mentions of them and their user row, and completes purge record id with the counts. Atomic. */
int store_purge_finish(store *s, int64_t id, uint64_t user_id, int64_t samples_removed,
                       int64_t files_rewritten, int64_t *messages_deleted) MIMIC_MUST;
/* Training calls this after a run that excluded the purged users. */
int store_purge_ack(store *s, int64_t id) MIMIC_MUST;

/* ---- the bot's statistics (bot_log.c)
 * ------------------------------------------------------------ */

/* Adds n to the counter `name` ("seen", "replies", "errors", "skipped", "empty") of the hour that
 * holds ts_ms. */
int store_bot_count(store *s, int64_t ts_ms, const char *name, int64_t n) MIMIC_MUST;
/* Sum of a counter over the hours that start in [since_ms, until_ms). */
int store_bot_count_sum(store *s, const char *name, int64_t since_ms, int64_t until_ms,
                        int64_t *out) MIMIC_MUST;

/* One generation the bot ran for a message (sent, empty, failed or dropped). */
typedef struct store_bot_reply {
  int64_t ts_ms;
  uint64_t channel_id, message_id;
  const char *reason;  /* why the bot answered: the router verdict ("reply:mention") */
  const char *outcome; /* "sent", "empty", "error", "cancelled", "refused" */
  double latency_ms;   /* from the message's arrival to the send action */
  double queue_ms, gen_ms;
  int prompt_tokens, cached_tokens, gen_tokens, attempts;
  const char *error; /* "" when none */
} store_bot_reply;
int store_bot_reply_add(store *s, const store_bot_reply *r) MIMIC_MUST;
/* Latencies of the "sent" rows with ts_ms in [since_ms, until_ms), ascending. *out: caller frees
 * with mem_free (NULL when *n == 0). Token sums (may be NULL) cover the same rows. */
int store_bot_latencies(store *s, int64_t since_ms, int64_t until_ms, double **out, size_t *n,
                        int64_t *prompt_tokens, int64_t *gen_tokens) MIMIC_MUST;
/* Deletes counters and reply rows older than before_ms. */
int store_bot_prune(store *s, int64_t before_ms) MIMIC_MUST;

#endif
