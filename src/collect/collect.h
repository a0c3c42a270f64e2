/* The collect layer: getting a community's history into the store (importers for
 * DiscordChatExporter JSON and Discord's data package; the page-storing seam the history fetcher
 * calls), turning it into training datasets (conversation builder, filters, SFT/DPO/KTO export with
 * provenance) and privacy (exclusion, opt-out/in, purge). Not here: talking to Discord (discord/),
 * training (train/). */
#ifndef MIMIC_COLLECT_H
#define MIMIC_COLLECT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/err.h"
#include "store/store.h"

/* Largest JSON text of one message (or one header object) in an export; a bigger one is an error
 * naming its byte offset, so a hostile file cannot make the importer allocate without bound. */
#define COLLECT_ELEM_MAX (16u << 20)
/* Longest CSV record (data package messages.csv). */
#define COLLECT_CSV_RECORD_MAX (4u << 20)

/* ---- import ---------------------------------------------------------------------------------- */

typedef struct collect_import_stats {
  int64_t messages;        /* message elements read */
  int64_t inserted;        /* new messages stored (re-imports add 0) */
  int64_t skipped_privacy; /* by excluded / opted-out authors: not stored */
  int64_t skipped_invalid; /* elements without a usable id or author (warned, not stored) */
  int64_t cut_long;        /* messages whose content was cut to COLLECT_MESSAGE_MAX bytes */
  uint64_t bytes;          /* bytes read so far */
  uint64_t total_bytes;    /* file size when known, else 0 */
  double seconds;          /* elapsed */
} collect_import_stats;

/* Called about every 0.5 s and once at the end, from the importing thread. */
typedef void (*collect_progress_fn)(const collect_import_stats *st, void *user);

typedef struct collect_import_opts {
  uint64_t package_author_id; /* data packages: the owner's id when account/user.json is absent */
  collect_progress_fn progress;
  void *user;
} collect_import_opts;

/* Imports one DiscordChatExporter JSON export (any size: streamed, one message in memory at a time)
 * in ONE transaction: on any error nothing from this file is committed, and the error names the
 * file, the byte offset and line ("export.json: byte 1234 (line 56): message 17: ...").
 * Re-importing the same file adds nothing (upsert by message id). Tolerates the fields older
 * exports lack and timestamps with 0-7 fractional digits. stats (may be NULL) is zeroed then
 * filled. */
int collect_import_dce(store *s, const char *path, const collect_import_opts *o,
                       collect_import_stats *stats) MIMIC_MUST;
/* The same over bytes in memory (fuzzing, tests); name is used in messages. */
int collect_import_dce_mem(store *s, const char *data, size_t n, const char *name,
                           const collect_import_opts *o, collect_import_stats *stats) MIMIC_MUST;

/* Imports Discord's data package: the package root (with Messages/ or messages/) or one
 * Messages/c<id>/ folder (channel.json + messages.json or the legacy messages.csv). The messages'
 * author is the package owner, read from account/user.json (or Account/user.json), else
 * o->package_author_id (MIMIC_EINVAL with advice when neither is known). One transaction for the
 * whole package. */
int collect_import_package(store *s, const char *dir, const collect_import_opts *o,
                           collect_import_stats *stats) MIMIC_MUST;

/* What a path given to import is, judged by its layout (nothing is parsed). */
typedef enum {
  COLLECT_PATH_NONE,     /* missing, or a folder with neither layout below */
  COLLECT_PATH_DCE_FILE, /* a file: taken for a DiscordChatExporter JSON export */
  COLLECT_PATH_DCE_DIR,  /* a folder of *.json files and no data package layout */
  COLLECT_PATH_PACKAGE,  /* a data package: Messages/ (or messages/), account/user.json, or one
                            Messages/c<id>/ folder holding channel.json */
} collect_path_kind;
collect_path_kind collect_import_detect(const char *path);

/* The *.json files directly in dir, sorted by name, as "dir/name" (caller frees each and the
 * array). Hidden files are skipped. */
int collect_import_list_json(const char *dir, char ***files, size_t *n) MIMIC_MUST;

/* Imports whatever path is (collect_import_detect): a DCE export, a data package, or each export
 * of a folder of them in name order, each file in its own transaction (stats are summed; the first
 * failing file stops the rest, the files before it stay imported). */
int collect_import_path(store *s, const char *path, const collect_import_opts *o,
                        collect_import_stats *stats) MIMIC_MUST;

/* ---- the history fetcher's seam ----------------------------------------------------------------
 */

typedef struct collect_page_result {
  int64_t messages, inserted, skipped_privacy;
  uint64_t newest_id, oldest_id; /* of this page; 0 when empty */
} collect_page_result;

/* Stores one page of GET /channels/{id}/messages (a JSON array of Discord message objects, as the
 * REST API returns it) and advances the channel's fetch cursor, in one transaction. `limit` is the
 * page size asked for: a page with fewer messages while fetching backward (before=) means the
 * channel's beginning was reached, so the cursor is marked complete. backward says which way the
 * fetcher was paging. Authors flagged excluded/opted-out are not stored. */
int collect_fetch_store_page(store *s, uint64_t channel_id, const char *json, size_t n, int limit,
                             bool backward, collect_page_result *out) MIMIC_MUST;

/* ---- the history fetcher (mimic fetch, !fetch) ------------------------------------------------
 */

struct rest;

/* Where one channel (or thread) stands. */
enum {
  COLLECT_FETCH_QUEUED = 0, /* discovered, not started */
  COLLECT_FETCH_BACKFILL,   /* paging newest to oldest (before=) */
  COLLECT_FETCH_FORWARD,    /* paging what is new since the last run (after=) */
  COLLECT_FETCH_DONE, /* everything up to now is stored (up_to_date when no request was needed) */
  COLLECT_FETCH_UNREADABLE, /* 403 / 404: reported, not fatal */
  COLLECT_FETCH_FAILED      /* another error (network after retries, bad data): reported */
};

typedef struct collect_fetch_chan {
  uint64_t id, guild_id, parent_id; /* parent: a thread's channel (or forum) */
  int type;                         /* STORE_CH_* */
  char name[STORE_NAME_MAX];
  int state;                  /* COLLECT_FETCH_* */
  bool up_to_date;            /* done without a request (nothing new since the last run) */
  int64_t messages, inserted; /* this run */
  int64_t pages;
  double fraction;  /* estimated share of this channel's work done (0..1) */
  int status, code; /* unreadable / failed: HTTP status and Discord code */
  char error[256];  /* unreadable / failed: what happened */
} collect_fetch_chan;

/* Progress, and the summary at the end. */
typedef struct collect_fetch_stats {
  int guilds;   /* guilds being fetched */
  int channels; /* channels and threads discovered so far */
  int done, up_to_date, unreadable, failed, active;
  int64_t messages, inserted, skipped_privacy;
  int64_t requests;             /* REST requests answered (listings, pages, reactors) */
  int64_t private_lists_denied; /* private archived thread lists refused (no Manage Threads) */
  double seconds;               /* since the start */
  double store_seconds;         /* spent writing to the store (on the thread pool) */
  double rate;                  /* messages per second over the last few seconds */
  double fraction;              /* estimated share of the whole job done (0..1) */
  double eta_s;                 /* estimated seconds left; < 0 when unknown */
  bool final;                   /* the last call: the run is over */
  /* Progress calls: the channels in flight. Final call: the unreadable and failed ones. Borrowed,
   * valid during the call. */
  const collect_fetch_chan *const *list;
  size_t n_list;
} collect_fetch_stats;

/* Called on the loop thread every opts.progress_ms and once at the end (final = true). */
typedef void (*collect_fetch_progress_fn)(const collect_fetch_stats *st, void *user);

typedef struct collect_fetch_opts {
  const uint64_t *guilds; /* guilds to fetch (borrowed); none: every guild the bot is in */
  size_t n_guilds;
  int concurrency; /* channels fetched at once (default 8, 1..64) */
  int page;        /* messages per request (default 100, 1..100) */
  bool threads;    /* also threads and forum posts: active, archived public and private (true) */
  bool reactors;   /* also who reacted, one request per emoji per 100 users (false) */
  uint64_t progress_ms;               /* 0: 500 */
  collect_fetch_progress_fn progress; /* may be NULL */
  void *user;
  /* Polled on the loop thread (with the progress timer): when it becomes non-zero the fetcher stops
   * starting requests, lets the ones in flight finish and ends with MIMIC_ECANCELLED. May be NULL.
   */
  const volatile int *stop;
} collect_fetch_opts;

void collect_fetch_opts_default(collect_fetch_opts *o);

/* Fetches the history of every text channel, announcement channel, thread (active and archived;
 * public, and private where permitted) and forum post of the guilds into the store: newest to
 * oldest for what was never fetched, then what is new since the last run (after= the newest stored
 * message), `page` messages per request, `concurrency` channels at once, each in its own rate-limit
 * bucket (the REST client obeys the headers and the global limit). Each page and the channel's
 * cursor are committed in one transaction (collect_fetch_store_page), so a kill at any instant
 * loses nothing and a re-run continues where it stopped. Channels that answer 403/404 and channels
 * that fail are reported in the final stats and do not stop the rest.
 *
 * Runs the REST client's loop until done: `r` must have its own loop (rest_new(NULL, ...)) and no
 * other user. The store is written from libuv's thread pool (one job at a time, so the loop never
 * waits on SQLite): the caller must not use `s` until this returns. stats (may be NULL) receives
 * the summary; its list is NULL. Returns 0, MIMIC_ECANCELLED (stopped through opts.stop),
 * MIMIC_EAUTH (the token was refused), MIMIC_EDB / MIMIC_EBUSY (the store failed: nothing of that
 * page was committed), or MIMIC_EINVAL (bad options), with err_msg() set. Unreadable channels are
 * not errors. */
int collect_fetch_run(store *s, struct rest *r, const collect_fetch_opts *o,
                      collect_fetch_stats *stats) MIMIC_MUST;

/* The same as a job on a loop that is already running (the bot): starts and returns at once; `done`
 * runs on the loop thread exactly once, with the result and the summary (as in collect_fetch_run),
 * after which the fetcher has freed itself. s must be a connection no one else uses until then.
 * Returns 0 (done will run) or an error (it will not). */
typedef struct collect_fetch collect_fetch;
typedef void (*collect_fetch_done_fn)(int rc, const collect_fetch_stats *st, void *user);
int collect_fetch_start(store *s, struct rest *r, const collect_fetch_opts *o,
                        collect_fetch_done_fn done, void *user, collect_fetch **out) MIMIC_MUST;
/* Asks a started fetch to stop (as opts.stop does). Loop thread only; before done has run. */
void collect_fetch_cancel(collect_fetch *f);

/* ---- filters and rendering (prepare, stats, the bot's context) ------------------------------- */

/* Why a message is left out of datasets (collect_filter). */
enum {
  COLLECT_KEEP = 0,
  COLLECT_DROP_BOT,     /* bot account or webhook */
  COLLECT_DROP_PRIVACY, /* excluded, opted out, or (consent required) not opted in */
  COLLECT_DROP_SYSTEM,  /* joins, pins, boosts, calls, thread notices, ... */
  COLLECT_DROP_EMPTY    /* no text, or only links */
};
/* Decides whether m may enter a dataset. author_flags: STORE_FLAG_* of m's author. */
int collect_filter(const store_msg *m, uint32_t author_flags, bool require_consent);
/* True when content is empty or only URLs and whitespace. */
bool collect_is_link_only(const char *content);

/* Looks up a name to show: kind 'u' (user id -> display name) or 'c' (channel id -> name). Returns
 * NULL when unknown. The string must stay valid until the next call. */
typedef const char *(*collect_name_fn)(char kind, uint64_t id, void *user);
/* Renders Discord markup as people see it: <@id>/<@!id> -> "@Name", <#id> -> "#channel",
 * <@&id> -> "@role", <:name:id>/<a:name:id> -> ":name:". Everything else is copied exactly.
 * out is reset first. */
int collect_render(const char *content, collect_name_fn names, void *user, buf *out) MIMIC_MUST;

/* ---- prepare: conversations -> datasets
 * ---------------------------------------------------------- */

typedef struct collect_prepare_opts {
  const char *out_dir;       /* where the files go; NULL = "<data.dir default>/exports" */
  int64_t gap_ms;            /* a silence this long starts a new conversation (30 min) */
  int window_max;            /* most messages per sample, target included (10) */
  int min_context;           /* fewest context messages before a target (2) */
  int per_user_cap;          /* most SFT targets per author; 0 = no cap */
  double valid_frac;         /* newest fraction of targets held out for validation (0.05) */
  uint64_t user_id;          /* only targets by this author (0 = all) */
  uint64_t channel_id;       /* only this channel (0 = all) */
  bool kto;                  /* also write KTO-style unpaired labels */
  bool require_consent;      /* only people who opted in */
  uint64_t seed;             /* sampling under the cap */
  const char *system_prompt; /* the system turn of every sample */
} collect_prepare_opts;

/* Fills o with the defaults of the collect.* and bot.system_prompt keys (base/config_keys.c, their
 * one home); collect_prepare checks the options against the same keys' bounds. */
void collect_prepare_defaults(collect_prepare_opts *o);

/* Most bytes of one message's text: import stores at most this much of a message's content and
 * prepare renders at most this much (both cut longer ones on a character boundary, counting them
 * and naming their ids), so whatever import accepts, prepare builds. 16 times Discord's longest
 * message (4,000 characters of up to 4 bytes). */
#define COLLECT_MESSAGE_MAX (256u << 10)
#define COLLECT_CUT_IDS     8 /* ids of cut messages kept for the summary */

typedef struct collect_prepare_stats {
  int64_t seen, kept; /* messages read, messages usable */
  int64_t drop_bot, drop_privacy, drop_system, drop_empty;
  int64_t candidates, capped;                /* SFT targets found, dropped by the cap */
  int64_t sft_train, sft_valid;              /* samples written (each SFT format) */
  int64_t dpo_train, dpo_valid, dpo_generic; /* pairs; generic = formal rejected reply */
  int64_t kto_train, kto_valid;
  int64_t cutoff_ms;  /* targets at or after (cutoff_ms, cutoff_id) are validation: time order, */
  uint64_t cutoff_id; /* ties broken by id */
  int64_t n_cut;      /* messages cut to COLLECT_MESSAGE_MAX bytes */
  uint64_t cut_ids[COLLECT_CUT_IDS]; /* the first of them */
  int files;
} collect_prepare_stats;

/* Builds conversations from the store and writes the datasets into o->out_dir, atomically (each
 * file appears complete or not at all), registering each file and its provenance in the store:
 *   sft-chatml.{train,valid}.jsonl    {"text": "<|im_start|>system ... <|im_end|>\n"}
 *   sft-messages.{train,valid}.jsonl  {"messages": [system, user, assistant]}
 *   dpo.{train,valid}.jsonl           {"prompt": [...], "chosen": [...], "rejected": [...]}
 *   kto.{train,valid}.jsonl           {"prompt": [...], "completion": [...], "label": bool}
 *   manifest.json                     counts and options
 * See docs/collect.md for the sample layout. Holds the write lock while registering. */
int collect_prepare(store *s, const collect_prepare_opts *o, collect_prepare_stats *st) MIMIC_MUST;

/* Finishes dataset files whose rename was interrupted by a crash (prepare and purge call it). */
int collect_datasets_recover(store *s) MIMIC_MUST;

/* ---- privacy
 * ------------------------------------------------------------------------------------- */

/* Owner and member choices: "exclude", "include" (undo exclude), "opt-out", "opt-in". Every stage
 * honours them: import and fetch skip excluded/opted-out authors, prepare leaves them out (and,
 * with consent required, everyone who has not opted in). reason may be NULL. */
int collect_privacy_set(store *s, uint64_t user_id, const char *action,
                        const char *reason) MIMIC_MUST;

typedef struct collect_purge_result {
  int64_t purge_id;
  int64_t messages_deleted, samples_removed, files_rewritten;
} collect_purge_result;

/* Deletes a person's data on request: marks them opted out (so no later import or fetch brings
 * their messages back), removes every sample containing one of their messages from every dataset
 * file on disk (found through provenance; each file rewritten atomically), then deletes their
 * messages, reactions, mentions and user row from the store, and records the purge in purge_log so
 * the next training run leaves them out (store_purge_each / store_purge_ack). Safe to run again
 * after a crash: it finishes what is left. */
int collect_purge_user(store *s, uint64_t user_id, collect_purge_result *out) MIMIC_MUST;

/* ---- stats
 * ----------------------------------------------------------------------------------------- */

/* Messages per person, channel and month, length and reaction distributions, reaction emoji, top
 * words and emoji. Writes text tables to `text` (may be NULL) and, when html_path is set, one HTML
 * page with inline SVG bar charts (written atomically). Excluded and opted-out people are left out;
 * the bots and webhooks whose messages the datasets leave out are listed, marked "(bot)" or
 * "(webhook)".
 * Reads the whole store once (bounded memory: at most 200,000 distinct words are counted). */
int collect_stats(store *s, FILE *text, const char *html_path) MIMIC_MUST;

/* ---- message classification (shared by import, prepare and stats) ------------------------------
 */

/* Discord message type from DCE's MessageKind name ("Default", "Reply", ...) or a numeric string;
 * -1 when unknown. */
int collect_msg_type_from_name(const char *name);
/* Channel type (STORE_CH_*) from DCE's ChannelKind name or the package's "GUILD_TEXT" style; -1. */
int collect_channel_type_from_name(const char *name);
/* True for the types people write (default, reply); false for joins, pins, calls, boosts, ... */
bool collect_msg_is_conversational(int type);
/* Snowflake to Unix ms. */
int64_t collect_snowflake_ms(uint64_t id);

#endif
