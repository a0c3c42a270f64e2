/* Lore in the store: lore sources (a file and a scope, with its content hash), their chunks (plain
 * passages and SillyTavern World Info entries with keys), full-text search over chunks and over
 * community messages (SQLite FTS5, BM25), and the community-embedding cursor. Vectors are
 * store/vectors.h. Not here: chunking, activation or ranking fusion (lore/).
 *
 * Full text uses `unicode61 remove_diacritics 2` with categories 'L* N* Co So' (emoji are
 * searchable) and '_' as a token character (a custom emoji :party_parrot: is the token
 * party_parrot). */
#ifndef MIMIC_STORE_LORE_H
#define MIMIC_STORE_LORE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_LORE_PATH_MAX  4096
#define STORE_LORE_SCOPE_MAX 128
#define STORE_LORE_HASH_MAX  40
#define STORE_LORE_TEXT_MAX  (256 * 1024) /* bytes of one chunk's text */
#define STORE_LORE_QUERY_MAX 2048         /* bytes of a full-text query */
#define STORE_LORE_SCOPES    16           /* most scopes in one filter */

/* World Info secondary-key logic (SillyTavern's selectiveLogic numbers). */
enum { STORE_WI_AND_ANY = 0, STORE_WI_NOT_ALL = 1, STORE_WI_NOT_ANY = 2, STORE_WI_AND_ALL = 3 };

typedef struct store_lore_chunk {
  int64_t id, source_id;
  int idx;           /* position in its source */
  const char *scope; /* borrowed */
  const char *title, *text;
  bool wi;                  /* a World Info entry */
  const char *keys, *keys2; /* '\n'-separated keywords (WI only) */
  int logic;                /* STORE_WI_* */
  bool constant, enabled;
  int order, depth;
} store_lore_chunk;

typedef struct store_lore_source {
  int64_t id;
  char path[STORE_LORE_PATH_MAX];
  char scope[STORE_LORE_SCOPE_MAX];
  char format[32];
  char hash[STORE_LORE_HASH_MAX + 1];
  int64_t bytes, n_chunks, added_ms;
} store_lore_source;

/* The source (path, scope); MIMIC_ENOTFOUND when absent. */
int store_lore_source_find(store *s, const char *path, const char *scope,
                           store_lore_source *out) MIMIC_MUST;
int store_lore_source_get(store *s, int64_t id, store_lore_source *out) MIMIC_MUST;
/* Creates the source, or, when (path, scope) exists, deletes its chunks (and their vectors) and
 * updates it. Call inside a transaction with the chunk inserts so a replacement is atomic. */
int store_lore_source_put(store *s, const char *path, const char *scope, const char *format,
                          const char *hash, int64_t bytes, int64_t *id) MIMIC_MUST;
int store_lore_source_set_chunks(store *s, int64_t id, int64_t n_chunks) MIMIC_MUST;
/* Deletes a source, its chunks, their full-text rows and vectors (one transaction).
 * MIMIC_ENOTFOUND when there is no such source. */
int store_lore_source_delete(store *s, int64_t id) MIMIC_MUST;
typedef int (*store_lore_source_fn)(const store_lore_source *src, void *user);
int store_lore_source_each(store *s, store_lore_source_fn fn, void *user) MIMIC_MUST;

/* Inserts a chunk of source_id (c->id and c->source_id are ignored). Text must be valid UTF-8 and
 * at most STORE_LORE_TEXT_MAX bytes. */
int store_lore_chunk_add(store *s, int64_t source_id, const store_lore_chunk *c,
                         int64_t *id) MIMIC_MUST;
typedef int (*store_lore_chunk_fn)(const store_lore_chunk *c, void *user);
/* The chunk with this id, passed to fn (strings borrowed for the call). MIMIC_ENOTFOUND. */
int store_lore_chunk_get(store *s, int64_t id, store_lore_chunk_fn fn, void *user) MIMIC_MUST;
/* Every chunk of a source in order, passed to fn (strings borrowed for the call). */
int store_lore_chunks_of(store *s, int64_t source_id, store_lore_chunk_fn fn,
                         void *user) MIMIC_MUST;
/* Enabled World Info entries whose scope is one of scopes (n 0: all), by order then id. */
int store_lore_wi_each(store *s, const char *const *scopes, size_t n, store_lore_chunk_fn fn,
                       void *user) MIMIC_MUST;
/* Chunks with an id above after_id that have no vector from model (for embedding), by id. */
int store_lore_unembedded_each(store *s, const char *model, int64_t after_id,
                               store_lore_chunk_fn fn, void *user) MIMIC_MUST;
/* How many chunks have no vector from model. */
int store_lore_unembedded_count(store *s, const char *model, int64_t *n) MIMIC_MUST;
int store_lore_chunk_count(store *s, int64_t *n) MIMIC_MUST;

/* ---- full text ---- */

typedef struct store_fts_hit {
  int64_t id;  /* chunk id or message id */
  double rank; /* bm25(): lower is better */
} store_fts_hit;

/* BM25 search of lore chunks: any of the query's words (each taken literally, never as FTS syntax)
 * in title or text, scopes as above, best first; at most k hits into out[k]. An empty query finds
 * nothing. Errors: MIMIC_ERANGE (query too long), MIMIC_EFORMAT (not UTF-8). */
int store_lore_fts(store *s, const char *query, const char *const *scopes, size_t n_scopes,
                   size_t k, store_fts_hit *out, size_t *n_out) MIMIC_MUST;
/* BM25 search of community messages of one guild for recall: messages older than before_id (0:
 * any), by people not excluded or opted out, not by bots, with content. */
int store_msg_fts_recall(store *s, const char *query, uint64_t guild_id, uint64_t before_id,
                         size_t k, store_fts_hit *out, size_t *n_out) MIMIC_MUST;

/* ---- community embedding ---- */

/* A message to embed, borrowed for the callback. */
typedef struct store_embed_msg {
  uint64_t id, guild_id;
  const char *content;
} store_embed_msg;
/* The cursor of a named embedding run (0 when new). */
int store_embed_cursor_get(store *s, const char *name, int64_t *last_id) MIMIC_MUST;
/* Moves the cursor forward to last_id (never back: two runs at once, the bot's background one and
 * `mimic embed-history`, may finish out of order; an edit moves it back by trigger). */
int store_embed_cursor_set(store *s, const char *name, int64_t last_id) MIMIC_MUST;
/* Up to limit messages after after_id (by id) that may be embedded: in a guild, with content, by a
 * person who is not a bot, not excluded and not opted out. fn may not write the store. *n: how many
 * were passed. */
typedef int (*store_embed_msg_fn)(const store_embed_msg *m, void *user);
int store_embed_msg_next(store *s, int64_t after_id, size_t limit, store_embed_msg_fn fn,
                         void *user, size_t *n) MIMIC_MUST;
/* Messages that could still be embedded after after_id (for a progress total). */
int store_embed_msg_count(store *s, int64_t after_id, int64_t *n) MIMIC_MUST;
/* A message's text and guild for a recall hit, when it may still be shown (its author is not
 * excluded or opted out). MIMIC_ENOTFOUND otherwise. out receives the content. */
int store_recall_msg(store *s, uint64_t id, buf *out, uint64_t *author_id) MIMIC_MUST;

#endif
