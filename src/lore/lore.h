/* Lore: what personas know of their world and what the community said before.
 *
 * - Chunkers turn files into passages: Markdown (split at headings, then paragraphs, with overlap),
 *   plain text, JSON lines of {"title","text"}, SillyTavern World Info / lorebook JSON and the
 *   `character_book` of a character card (entries with keys, secondary keys and logic, constant,
 *   order, depth, enabled).
 * - Ingest stores them (store/lore.h) by content hash: an unchanged file changes nothing, a changed
 *   one replaces its chunks in one transaction; chunks are then embedded when an encoder is given
 *   (resumable: a rerun embeds what is missing).
 * - World Info activation: keyword entries triggered by recent messages, constant entries always,
 *   within a token budget.
 * - Retrieval: hybrid search (vector cosine and BM25, fused by reciprocal rank) over lore chunks,
 *   and community recall over embedded messages.
 * Without an encoder everything works on full text alone.
 *
 * Threads: functions take the caller's store connection; a lore_retriever belongs to one thread. */
#ifndef MIMIC_LORE_LORE_H
#define MIMIC_LORE_LORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/lore.h"
#include "store/store.h"

#define LORE_FILE_MAX     (16u << 20) /* bytes of one lore file (a bigger one is refused) */
#define LORE_BOOK_ENTRIES 10000       /* most entries in one World Info book */
#define LORE_KEYS_MAX     64          /* most keys (and secondary keys) per entry */
#define LORE_CHUNK_TARGET 1200        /* bytes a passage aims at */
#define LORE_CHUNK_HARD   2000        /* bytes a passage never exceeds (text is cut there) */
#define LORE_OVERLAP      200         /* bytes repeated from the previous passage */
#define LORE_EMBED_BATCH  32          /* texts per encoder call */

/* ---- the encoder seam ---- */

/* How lore gets vectors: production wraps embed/ (lore_embedder_open); tests pass a fake. embed
 * writes n rows of dim floats, L2-normalised, for texts[0..n); 0 or a negative MIMIC_E* code. */
typedef struct lore_embedder {
  int dim;
  char name[256]; /* stored with every vector; vectors of another name are not compared */
  int (*embed)(void *user, const char *const *texts, size_t n, float *out);
  void *user;
} lore_embedder;

/* Opens the encoder at path (embed_open) into *out. Errors: embed_open's sentence. */
int lore_embedder_open(const char *path, int threads, lore_embedder *out) MIMIC_MUST;
void lore_embedder_close(lore_embedder *e); /* accepts a zeroed one */
/* The encoder the config names (embed.model, env MIMIC_EMBED_MODEL), opened on the heap, or NULL:
 * full text only. Without one (or when it fails to open) it says so once per process in the log
 * ("lore: no sentence encoder (embed.model): search and recall use full text alone").
 * Free with lore_embedder_destroy. */
struct cfg;
lore_embedder *lore_embedder_from_config(const struct cfg *c, int threads);
void lore_embedder_destroy(lore_embedder *e); /* accepts NULL */

/* ---- chunks ---- */

typedef struct lore_chunk {
  char *title, *text;
  bool wi;
  char *keys, *keys2; /* '\n'-separated (World Info) */
  int logic;          /* STORE_WI_* */
  bool constant, enabled;
  int order, depth;
} lore_chunk;

typedef struct lore_chunks {
  lore_chunk *v;
  size_t n, cap;
} lore_chunks;

void lore_chunks_free(lore_chunks *c); /* accepts a zeroed list; re-zeroes */

/* Chunkers: text[0..n) must be valid UTF-8 (MIMIC_EFORMAT naming the byte otherwise). Passages are
 * appended to out. name names the input in errors. */
int lore_chunk_markdown(const char *name, const char *text, size_t n, lore_chunks *out) MIMIC_MUST;
int lore_chunk_text(const char *name, const char *text, size_t n, lore_chunks *out) MIMIC_MUST;
/* One {"title","text"} object per line; blank lines skipped; a bad line is an error naming it. */
int lore_chunk_jsonl(const char *name, const char *text, size_t n, lore_chunks *out) MIMIC_MUST;
/* A SillyTavern World Info file ({"entries": {uid: entry}}), a lorebook_v3 ({"spec","data"}), a
 * character book ({"entries": [...]}) or a whole card ({"data": {"character_book": ...}}). Every
 * entry becomes a World Info chunk. Errors: MIMIC_EFORMAT with one sentence (not JSON, no entries,
 * an entry that is not an object, keys that are not strings), MIMIC_ERANGE (over the caps). */
int lore_parse_book(const char *name, const char *json, size_t n, lore_chunks *out) MIMIC_MUST;

/* The format a file name implies: "markdown", "text", "jsonl", "book" (.json), or NULL. */
const char *lore_format_of(const char *path);

/* ---- ingest ---- */

typedef struct lore_add_result {
  int added, replaced, unchanged, skipped; /* files */
  int64_t chunks;                          /* chunks written */
  int64_t embedded;                        /* vectors written */
} lore_add_result;

/* Progress of an add or an embedding run: done of total units (files or chunks), a label. */
typedef void (*lore_progress_fn)(void *user, int64_t done, int64_t total, const char *label);

typedef struct lore_add_opts {
  const char *scope;        /* "" or NULL: the global scope */
  const lore_embedder *emb; /* NULL: full text only */
  lore_progress_fn progress;
  void *progress_user;
  /* Each file skipped inside a folder (not a lore format, hidden) is reported here, when set. */
  void (*skip)(void *user, const char *path, const char *why);
} lore_add_opts;

/* Adds a file, or every lore file under a folder (sorted, recursively; hidden entries and other
 * extensions are skipped). A file named directly with an unknown extension is read as text. Each
 * file is one transaction. Errors name the file in one sentence: not found, binary, not UTF-8,
 * over LORE_FILE_MAX, malformed JSON. Then embeds every chunk still without a vector. */
int lore_add_path(store *s, const char *path, const lore_add_opts *o,
                  lore_add_result *r) MIMIC_MUST;
/* Adds a World Info / character book given as JSON text (a card's `character_book`, or a whole
 * card) under the source name `name` (e.g. "card:Alice") and scope; unchanged text changes
 * nothing. *source_id (may be NULL): the source. emb may be NULL. */
int lore_add_book_json(store *s, const char *name, const char *json, size_t n, const char *scope,
                       const lore_embedder *emb, int64_t *source_id) MIMIC_MUST;
/* Embeds every lore chunk without a vector from emb (resumable; one transaction per batch). */
int lore_embed_missing(store *s, const lore_embedder *emb, lore_progress_fn progress, void *user,
                       int64_t *n) MIMIC_MUST;
/* The same for at most max chunks (max <= 0: one batch, LORE_EMBED_BATCH), oldest first: a step
 * of background work (the bot catches up on lore added without this encoder). *n: embedded. */
int lore_embed_missing_some(store *s, const lore_embedder *emb, int64_t max, int64_t *n) MIMIC_MUST;

/* ---- World Info activation ---- */

/* Whether key occurs in text as a whole word (bounded by non-word characters; letters, digits, '_'
 * and every non-ASCII character are word characters), ignoring ASCII case. A key with spaces
 * matches as a phrase with the same bounds. */
bool lore_wi_key_match(const char *key, const char *text);
/* Whether an entry fires on text: constant, or a primary key matches and the secondary keys (when
 * any) pass its logic (AND ANY, NOT ANY, AND ALL, NOT ALL). */
bool lore_wi_fires(const store_lore_chunk *e, const char *text);

typedef int (*lore_count_fn)(void *user, const char *text, size_t n); /* tokens of a text */

typedef struct lore_item {
  int64_t id;
  char *source; /* source path or name */
  char *scope;
  char *title, *text;
  double score; /* retrieval and recall: the fused score; World Info: 0 */
  double cos;   /* the cosine with the query, when a vector matched (else NAN) */
  char why[8];  /* "vector", "text", "both", "key", "const" */
  int order;
  int tokens;
} lore_item;

typedef struct lore_items {
  lore_item *v;
  size_t n;
  int tokens; /* sum of v[].tokens */
} lore_items;

void lore_items_free(lore_items *l); /* accepts a zeroed list; re-zeroes */

/* World Info entries of scopes (n 0: every scope) that fire on the recent messages (newest last),
 * within budget_tokens: constant entries first, then triggered ones, each group by descending
 * order; the result is in ascending order (a higher order sits later, nearer the conversation).
 * count NULL: an estimate of one token per 3 bytes. */
int lore_wi_activate(store *s, const char *const *scopes, size_t n_scopes,
                     const char *const *recent, size_t n_recent, int budget_tokens,
                     lore_count_fn count, void *count_user, lore_items *out) MIMIC_MUST;

/* ---- retrieval ---- */

typedef struct lore_search_opts {
  const char *const *scopes; /* lore scopes (n 0: every scope) */
  size_t n_scopes;
  size_t k;       /* results (default 10) */
  double min_cos; /* vector hits below this cosine are dropped (as given: lore.min_score is 0.5) */
  int rrf_k;      /* reciprocal rank fusion constant (default 60) */
  bool no_wi;     /* leave World Info entries out (the bot adds them by activation) */
} lore_search_opts;

typedef struct lore_retriever lore_retriever;

/* A retriever over the store with an optional encoder (borrowed; NULL: full text only). */
lore_retriever *lore_retriever_new(store *s, const lore_embedder *emb);
void lore_retriever_free(lore_retriever *r);
/* Hybrid search of lore chunks: BM25 over title and text, and (with an encoder) the cosine over
 * chunk vectors filtered by scope before ranking; the two lists are fused by reciprocal rank
 * (score = sum 1/(rrf_k + rank)) and each result says why it matched. Errors: query too long or
 * not UTF-8, the encoder's failure. */
int lore_search(lore_retriever *r, const char *query, const lore_search_opts *o,
                lore_items *out) MIMIC_MUST;
/* Community recall: the k messages of guild (older than before_id) most like query, by the same
 * fusion over message vectors and BM25; excluded, opted-out and purged people never appear. */
int lore_recall(lore_retriever *r, const char *query, uint64_t guild_id, uint64_t before_id,
                size_t k, double min_cos, lore_items *out) MIMIC_MUST;

/* ---- community embedding ---- */

/* Embeds stored messages after the cursor named after emb (resumable: the cursor advances in the
 * same transaction as each batch's vectors). Stops after max messages (0: all) or when *stop
 * turns true. *n: messages embedded. */
int lore_embed_history(store *s, const lore_embedder *emb, int64_t max, const volatile bool *stop,
                       lore_progress_fn progress, void *user, int64_t *n) MIMIC_MUST;

#endif
