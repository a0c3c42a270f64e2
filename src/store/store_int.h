/* Internals shared by the store's files: the connection struct, the arena for read results, and
 * binding helpers. Nothing outside src/store/ includes this. */
#ifndef MIMIC_STORE_INT_H
#define MIMIC_STORE_INT_H
#include <sqlite3.h>

#include "base/arena.h"
#include "store/store.h"

#define STORE_STMT_CACHE 96

/* PRAGMA journal_size_limit: after a checkpoint resets the WAL, the file is cut back to this size.
 * Without it the WAL keeps the size of the biggest transaction (an import of a multi-GB export
 * writes a WAL as big as what it stores) for as long as any connection stays open. */
#define STORE_WAL_LIMIT (64 << 20)

typedef struct store_cached {
  char *sql; /* owned copy of the SQL text (the cache key) */
  sqlite3_stmt *stmt;
} store_cached;

struct store {
  sqlite3 *db;
  char *path;
  int depth; /* transaction nesting */
  int n_cached;
  store_cached cache[STORE_STMT_CACHE];
};

/* The arena a store_msg_list owns (base/arena.h): its strings and child arrays, freed together.
 * NULL on out-of-memory. */
static inline arena *store__arena_new(void) { return arena_new("message list", 16384, 0); }

/* Binds a u64 snowflake (or NULL when 0 and null_zero). */
void store__bind_id(sqlite3_stmt *st, int i, uint64_t id, int null_zero);
void store__bind_text(sqlite3_stmt *st, int i, const char *s);
uint64_t store__col_id(sqlite3_stmt *st, int i);
/* Column text, "" when NULL. */
const char *store__col_text(sqlite3_stmt *st, int i);
/* Copies column text into out[cap], truncated on a UTF-8 boundary. */
void store__col_copy(sqlite3_stmt *st, int i, char *out, size_t cap);
/* Steps a statement expected to return no rows; returns 0 or store_err(what). */
int store__step_done(store *s, sqlite3_stmt *st, const char *what);

#endif
