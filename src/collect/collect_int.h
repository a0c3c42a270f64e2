/* Internals shared by the collect layer's files: the streamed JSON scanner used by the importers,
 * and the per-import context. */
#ifndef MIMIC_COLLECT_INT_H
#define MIMIC_COLLECT_INT_H
#include <jansson.h>

#include "base/base.h"
#include "collect/collect.h"
#include "discord/discord.h"

/* ---- streamed JSON scanner ----------------------------------------------------------------------
 * Reads a JSON text from a file descriptor (in blocks) or from memory, and cuts out one value at a
 * time (an object key, a header object, one element of an array) as bytes, which the caller parses
 * with Jansson. Only the structure needed to find value boundaries is tracked here (strings,
 * escapes, nesting); Jansson validates each value. Every position is an absolute byte offset and
 * line, for error messages. */
typedef struct jscan {
  const char *name; /* for messages */
  int fd;           /* -1: memory */
  const char *blk;  /* current block */
  size_t blk_len, pos;
  char *own;     /* block storage when reading a file */
  uint64_t base; /* absolute offset of blk[0] */
  uint64_t line; /* line of blk[pos] (1-based) */
  bool eof;
} jscan;

#define JSCAN_BLOCK (256u << 10)

void jscan_init_mem(jscan *j, const char *data, size_t n, const char *name);
int jscan_init_fd(jscan *j, int fd, const char *name) MIMIC_MUST;
void jscan_free(jscan *j);
uint64_t jscan_offset(const jscan *j);
/* Skips whitespace (and a UTF-8 BOM at offset 0); returns the next byte or -1 at end of input.
 * Read errors are reported as MIMIC_EIO through *err (set to 0 otherwise). */
int jscan_peek(jscan *j, int *err);
void jscan_advance(jscan *j); /* past the byte jscan_peek returned */
/* Expects byte c next (after whitespace) and consumes it; else a positioned MIMIC_EFORMAT. */
int jscan_expect(jscan *j, char c, const char *what) MIMIC_MUST;
/* Copies the next value's bytes into out (reset first; at most cap bytes). Positions: *start_off
 * and *start_line of its first byte. End of input inside the value is a positioned error saying the
 * file looks truncated. */
int jscan_value(jscan *j, buf *out, uint64_t *start_off, uint64_t *start_line) MIMIC_MUST;
/* Positioned error: "name: byte N (line L): message". Returns code. */
int jscan_error(const jscan *j, int code, uint64_t off, uint64_t line, const char *fmt, ...)
    MIMIC_PRINTF(5, 6);
/* Parses captured bytes with Jansson; on failure a positioned MIMIC_EFORMAT (what: "message 17").
 */
json_t *jscan_parse(const jscan *j, const buf *b, uint64_t off, uint64_t line, const char *what);

/* ---- import context -----------------------------------------------------------------------------
 */

/* Most users the per-import cache remembers (about 2 MB at the cap). An export of a big server
 * can name millions of distinct people; past the cap the cache starts over, which costs one upsert
 * and one flags lookup per person seen again, never correctness: the store is the truth. */
#define COLLECT_USER_CACHE_MAX 65536

typedef struct collect_ctx {
  store *s;
  const collect_import_opts *o;
  collect_import_stats *st;
  map_u64 users;         /* user id -> 1 + flags, for users already upserted in this import */
  size_t users_max;      /* cache cap: COLLECT_USER_CACHE_MAX (tests lower it) */
  int64_t users_cleared; /* times the cache hit its cap and started over */
  uint64_t t0_ns, last_progress_ns;
} collect_ctx;

void collect__ctx_init(collect_ctx *c, store *s, const collect_import_opts *o,
                       collect_import_stats *st);
void collect__ctx_free(collect_ctx *c);
/* Upserts a user once per import (once per cache lifetime past COLLECT_USER_CACHE_MAX distinct
 * users) and returns their privacy flags through *flags. */
int collect__user(collect_ctx *c, const store_user *u, uint32_t *flags) MIMIC_MUST;
/* store_msg_upsert, with content longer than COLLECT_MESSAGE_MAX cut on a character boundary
 * (counted in st->cut_long, the first ids logged) so that prepare builds whatever import stores. */
int collect__msg_upsert(collect_ctx *c, const store_msg *m, bool *inserted) MIMIC_MUST;
/* Privacy flags of a user id (from the cache or the store). */
int collect__user_flags(collect_ctx *c, uint64_t id, uint32_t *flags) MIMIC_MUST;
/* Reports progress when due (or always when force). */
void collect__progress(collect_ctx *c, bool force);
/* Joins the text of a JSON array of embeds (DCE and API field names) into out, '\n'-separated. */
int collect__embeds_text(const json_t *embeds, buf *out) MIMIC_MUST;

/* ---- history fetcher
 * ----------------------------------------------------------------------------- */

/* Most reactors stored per message (over all its reactions). */
#define FETCH_REACTORS_MAX 100000

/* Users who reacted with one emoji to one message of a page, as the fetcher found them
 * (--reactors): one page of GET .../reactions/{emoji}. */
typedef struct collect_reactors {
  size_t msg, react;    /* the message's index in the page, the reaction's in the message */
  discord_users *users; /* owned by whoever holds the page */
} collect_reactors;

/* collect_fetch_store_page over a typed page (borrowed) and the reactors found for it (stored with
 * their reactions, at most FETCH_REACTORS_MAX per message). */
int collect__fetch_store_page_typed(store *s, uint64_t channel_id, const discord_messages *page,
                                    const collect_reactors *rx, size_t n_rx, int limit,
                                    bool backward, collect_page_result *out) MIMIC_MUST;

#endif
