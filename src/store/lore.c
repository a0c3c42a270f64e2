/* Lore sources and chunks, full-text search over chunks and messages, and the community-embedding
 * cursor (see lore.h). */
#include "store/lore.h"

#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

#define SRC_COLS "id, path, scope, format, hash, bytes, n_chunks, added_ms "
#define CHUNK_COLS                                                                                 \
  "c.id, c.source_id, c.idx, c.scope, c.title, c.text, c.wi, c.keys, c.keys2, c.logic, "           \
  "c.constant, c.enabled, c.ord, c.depth "
/* Who may be recalled or embedded: not a bot, not excluded (1) or opted out (2). */
#define PEOPLE_OK                                                                                  \
  "NOT EXISTS (SELECT 1 FROM user_flags f WHERE f.user_id = m.author_id AND f.flag IN (1, 2)) "    \
  "AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.author_id AND u.bot = 1) "

static void fill_source(sqlite3_stmt *st, store_lore_source *o) {
  memset(o, 0, sizeof *o);
  o->id = sqlite3_column_int64(st, 0);
  store__col_copy(st, 1, o->path, sizeof o->path);
  store__col_copy(st, 2, o->scope, sizeof o->scope);
  store__col_copy(st, 3, o->format, sizeof o->format);
  store__col_copy(st, 4, o->hash, sizeof o->hash);
  o->bytes = sqlite3_column_int64(st, 5);
  o->n_chunks = sqlite3_column_int64(st, 6);
  o->added_ms = sqlite3_column_int64(st, 7);
}

static void fill_chunk(sqlite3_stmt *st, store_lore_chunk *c) {
  c->id = sqlite3_column_int64(st, 0);
  c->source_id = sqlite3_column_int64(st, 1);
  c->idx = sqlite3_column_int(st, 2);
  c->scope = store__col_text(st, 3);
  c->title = store__col_text(st, 4);
  c->text = store__col_text(st, 5);
  c->wi = sqlite3_column_int(st, 6) != 0;
  c->keys = store__col_text(st, 7);
  c->keys2 = store__col_text(st, 8);
  c->logic = sqlite3_column_int(st, 9);
  c->constant = sqlite3_column_int(st, 10) != 0;
  c->enabled = sqlite3_column_int(st, 11) != 0;
  c->order = sqlite3_column_int(st, 12);
  c->depth = sqlite3_column_int(st, 13);
}

static int one_source(store *s, sqlite3_stmt *st, store_lore_source *out, const char *what) {
  int step = sqlite3_step(st), rc = 0;
  if (step == SQLITE_ROW)
    fill_source(st, out);
  else if (step == SQLITE_DONE)
    rc = err_set(MIMIC_ENOTFOUND, "no lore source %s", what);
  else
    rc = store_err(s, "reading a lore source");
  sqlite3_reset(st);
  return rc;
}

int store_lore_source_find(store *s, const char *path, const char *scope, store_lore_source *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " SRC_COLS "FROM lore_sources WHERE path = ?1 AND scope = ?2", &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, path);
  store__bind_text(st, 2, scope);
  return one_source(s, st, out, path);
}

int store_lore_source_get(store *s, int64_t id, store_lore_source *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " SRC_COLS "FROM lore_sources WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  char what[32];
  snprintf(what, sizeof what, "with id %lld", (long long)id);
  return one_source(s, st, out, what);
}

static int check_text(const char *what, const char *t, size_t cap) {
  size_t n = strlen(t);
  if (n > cap)
    return err_set(MIMIC_ERANGE, "%s of %zu bytes exceeds the %zu-byte cap", what, n, cap);
  if (!utf8_valid(t, n)) return err_set(MIMIC_EFORMAT, "%s is not valid UTF-8", what);
  return 0;
}

int store_lore_source_put(store *s, const char *path, const char *scope, const char *format,
                          const char *hash, int64_t bytes, int64_t *id) {
  if (!scope) scope = "";
  int rc;
  if ((rc = check_text("lore path", path, STORE_LORE_PATH_MAX - 1)) ||
      (rc = check_text("lore scope", scope, STORE_LORE_SCOPE_MAX - 1)))
    return rc;
  if ((rc = store_tx_begin(s))) return rc;
  store_lore_source old;
  memset(&old, 0, sizeof old);
  sqlite3_stmt *st;
  rc = store_lore_source_find(s, path, scope, &old);
  if (rc == 0) {
    if ((rc = store_stmt(s, "DELETE FROM lore_chunks WHERE source_id = ?1", &st))) goto out;
    sqlite3_bind_int64(st, 1, old.id);
    if ((rc = store__step_done(s, st, "replacing lore chunks"))) goto out;
    if ((rc = store_stmt(s,
                         "UPDATE lore_sources SET format = ?2, hash = ?3, bytes = ?4, "
                         "n_chunks = 0, added_ms = ?5 WHERE id = ?1",
                         &st)))
      goto out;
    sqlite3_bind_int64(st, 1, old.id);
    *id = old.id;
  } else if (rc == MIMIC_ENOTFOUND) {
    err_clear();
    if ((rc = store_stmt(s,
                         "INSERT INTO lore_sources(path, scope, format, hash, bytes, added_ms) "
                         "VALUES (?6, ?7, ?2, ?3, ?4, ?5)",
                         &st)))
      goto out;
    store__bind_text(st, 6, path);
    store__bind_text(st, 7, scope);
  } else {
    goto out;
  }
  store__bind_text(st, 2, format);
  store__bind_text(st, 3, hash);
  sqlite3_bind_int64(st, 4, bytes);
  sqlite3_bind_int64(st, 5, clock_wall_ms());
  if ((rc = store__step_done(s, st, "saving a lore source"))) goto out;
  if (rc == 0 && old.id == 0) *id = sqlite3_last_insert_rowid(s->db);
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_lore_source_set_chunks(store *s, int64_t id, int64_t n_chunks) {
  sqlite3_stmt *st;
  if (store_stmt(s, "UPDATE lore_sources SET n_chunks = ?2 WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, n_chunks);
  return store__step_done(s, st, "counting lore chunks");
}

int store_lore_source_delete(store *s, int64_t id) {
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  /* Chunks first, explicitly: their delete triggers drop full-text rows and vectors. */
  if ((rc = store_stmt(s, "DELETE FROM lore_chunks WHERE source_id = ?1", &st))) goto out;
  sqlite3_bind_int64(st, 1, id);
  if ((rc = store__step_done(s, st, "removing lore chunks"))) goto out;
  if ((rc = store_stmt(s, "DELETE FROM lore_sources WHERE id = ?1", &st))) goto out;
  sqlite3_bind_int64(st, 1, id);
  if ((rc = store__step_done(s, st, "removing a lore source"))) goto out;
  if (sqlite3_changes(s->db) == 0)
    rc = err_set(MIMIC_ENOTFOUND, "no lore source with id %lld (see `mimic lore list`)",
                 (long long)id);
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_lore_source_each(store *s, store_lore_source_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT " SRC_COLS "FROM lore_sources ORDER BY scope, path, id", -1,
                         &st, NULL) != SQLITE_OK)
    return store_err(s, "listing lore");
  int rc = 0, step;
  store_lore_source *src = xalloc(sizeof *src);
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    fill_source(st, src);
    if ((rc = fn(src, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing lore");
  mem_free(src);
  sqlite3_finalize(st);
  return rc;
}

int store_lore_chunk_add(store *s, int64_t source_id, const store_lore_chunk *c, int64_t *id) {
  int rc;
  const char *title = c->title ? c->title : "", *keys = c->keys ? c->keys : "",
             *keys2 = c->keys2 ? c->keys2 : "";
  if ((rc = check_text("lore chunk", c->text ? c->text : "", STORE_LORE_TEXT_MAX)) ||
      (rc = check_text("lore title", title, STORE_LORE_TEXT_MAX)) ||
      (rc = check_text("World Info keys", keys, STORE_LORE_TEXT_MAX)) ||
      (rc = check_text("World Info secondary keys", keys2, STORE_LORE_TEXT_MAX)) ||
      (rc = check_text("lore scope", c->scope ? c->scope : "", STORE_LORE_SCOPE_MAX - 1)))
    return rc;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO lore_chunks(source_id, idx, scope, title, text, wi, keys, keys2, "
                 "logic, constant, enabled, ord, depth) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, source_id);
  sqlite3_bind_int(st, 2, c->idx);
  store__bind_text(st, 3, c->scope);
  store__bind_text(st, 4, title);
  store__bind_text(st, 5, c->text);
  sqlite3_bind_int(st, 6, c->wi);
  store__bind_text(st, 7, keys);
  store__bind_text(st, 8, keys2);
  sqlite3_bind_int(st, 9, c->logic);
  sqlite3_bind_int(st, 10, c->constant);
  sqlite3_bind_int(st, 11, c->enabled);
  sqlite3_bind_int(st, 12, c->order);
  sqlite3_bind_int(st, 13, c->depth);
  if ((rc = store__step_done(s, st, "saving a lore chunk"))) return rc;
  if (id) *id = sqlite3_last_insert_rowid(s->db);
  return 0;
}

/* Runs a chunk query (its own statement: fn may call back into the store). */
static int chunk_scan(store *s, const char *sql, void (*bind)(sqlite3_stmt *, const void *),
                      const void *arg, store_lore_chunk_fn fn, void *user, int *rows) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "reading lore");
  if (bind) bind(st, arg);
  int rc = 0, step, n = 0;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    store_lore_chunk c;
    fill_chunk(st, &c);
    n++;
    if ((rc = fn(&c, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "reading lore");
  sqlite3_finalize(st);
  if (rows) *rows = n;
  return rc;
}

static void bind_id(sqlite3_stmt *st, const void *arg) {
  sqlite3_bind_int64(st, 1, *(const int64_t *)arg);
}

int store_lore_chunk_get(store *s, int64_t id, store_lore_chunk_fn fn, void *user) {
  int rows = 0;
  int rc = chunk_scan(s, "SELECT " CHUNK_COLS "FROM lore_chunks c WHERE c.id = ?1", bind_id, &id,
                      fn, user, &rows);
  if (rc == 0 && rows == 0) rc = err_set(MIMIC_ENOTFOUND, "no lore chunk %lld", (long long)id);
  return rc;
}

int store_lore_chunks_of(store *s, int64_t source_id, store_lore_chunk_fn fn, void *user) {
  int rows = 0;
  return chunk_scan(s,
                    "SELECT " CHUNK_COLS "FROM lore_chunks c WHERE c.source_id = ?1 ORDER BY c.idx",
                    bind_id, &source_id, fn, user, &rows);
}

/* Scopes travel as one string "\x1fa\x1fb\x1f" matched with instr(). */
static int scope_list(const char *const *scopes, size_t n, buf *out) {
  if (n > STORE_LORE_SCOPES)
    return err_set(MIMIC_ERANGE, "%zu lore scopes in one search (at most %d)", n,
                   STORE_LORE_SCOPES);
  if (n == 0) return 0;
  if (buf_putc(out, '\x1f')) return MIMIC_ENOMEM;
  for (size_t i = 0; i < n; i++)
    if (buf_puts(out, scopes[i] ? scopes[i] : "") || buf_putc(out, '\x1f')) return MIMIC_ENOMEM;
  return 0;
}

static void bind_scopes(sqlite3_stmt *st, const void *arg) {
  const buf *b = arg;
  if (b->len) sqlite3_bind_text(st, 1, b->data, (int)b->len, SQLITE_STATIC);
}

#define SCOPE_OK(col) "(?1 IS NULL OR instr(?1, char(31) || " col " || char(31)) > 0) "

int store_lore_wi_each(store *s, const char *const *scopes, size_t n, store_lore_chunk_fn fn,
                       void *user) {
  buf sl;
  buf_init(&sl, 0);
  int rc = scope_list(scopes, n, &sl);
  if (!rc)
    rc = chunk_scan(s,
                    "SELECT " CHUNK_COLS "FROM lore_chunks c WHERE c.wi = 1 AND c.enabled = 1 "
                    "AND " SCOPE_OK("c.scope") "ORDER BY c.ord, c.id",
                    bind_scopes, &sl, fn, user, NULL);
  buf_free(&sl);
  return rc;
}

typedef struct model_after {
  const char *model;
  int64_t after;
} model_after;

static void bind_model(sqlite3_stmt *st, const void *arg) {
  const model_after *m = arg;
  sqlite3_bind_text(st, 1, m->model, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, m->after);
}

#define UNEMBEDDED                                                                                 \
  "NOT EXISTS (SELECT 1 FROM vectors v WHERE v.kind = 1 AND v.ref_id = c.id AND v.model = ?1) "

int store_lore_unembedded_each(store *s, const char *model, int64_t after_id,
                               store_lore_chunk_fn fn, void *user) {
  model_after m = {model, after_id};
  return chunk_scan(
      s, "SELECT " CHUNK_COLS "FROM lore_chunks c WHERE c.id > ?2 AND " UNEMBEDDED "ORDER BY c.id",
      bind_model, &m, fn, user, NULL);
}

int store_lore_unembedded_count(store *s, const char *model, int64_t *n) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM lore_chunks c WHERE " UNEMBEDDED, &st)) return MIMIC_EDB;
  store__bind_text(st, 1, model);
  int step = sqlite3_step(st);
  *n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return step == SQLITE_ROW ? 0 : store_err(s, "counting lore to embed");
}

int store_lore_chunk_count(store *s, int64_t *n) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM lore_chunks", &st)) return MIMIC_EDB;
  int step = sqlite3_step(st);
  *n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return step == SQLITE_ROW ? 0 : store_err(s, "counting lore chunks");
}

/* ---- full text ---- */

/* Each whitespace-separated word becomes a quoted FTS5 string (never syntax), joined by OR so BM25
 * ranks passages by how many of the words they hold and how rare those are. Words the tokenizer
 * keeps nothing of are dropped (an empty string is a syntax error in FTS5). */
static int fts_query(const char *q, buf *out) {
  size_t n = strlen(q);
  if (n > STORE_LORE_QUERY_MAX)
    return err_set(MIMIC_ERANGE, "search query of %zu bytes exceeds the %d-byte cap", n,
                   STORE_LORE_QUERY_MAX);
  if (!utf8_valid(q, n)) return err_set(MIMIC_EFORMAT, "search query is not valid UTF-8");
  const char *p = q;
  int terms = 0;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) break;
    const char *w = p;
    bool wordy = false;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
      unsigned char c = (unsigned char)*p++;
      if (c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
          c == '_')
        wordy = true;
    }
    if (!wordy || terms == 64) continue;
    if (terms++ && buf_puts(out, " OR ")) return MIMIC_ENOMEM;
    if (buf_putc(out, '"')) return MIMIC_ENOMEM;
    for (const char *c = w; c < p; c++)
      if ((*c == '"' && buf_putc(out, '"')) || buf_putc(out, *c)) return MIMIC_ENOMEM;
    if (buf_putc(out, '"')) return MIMIC_ENOMEM;
  }
  return 0;
}

static int fts_rows(store *s, sqlite3_stmt *st, size_t k, store_fts_hit *out, size_t *n_out) {
  int step;
  size_t n = 0;
  while (n < k && (step = sqlite3_step(st)) == SQLITE_ROW) {
    out[n].id = sqlite3_column_int64(st, 0);
    out[n].rank = sqlite3_column_double(st, 1);
    n++;
  }
  if (n < k && step != SQLITE_DONE) {
    int rc = store_err(s, "full-text search");
    sqlite3_reset(st);
    return rc;
  }
  sqlite3_reset(st);
  *n_out = n;
  return 0;
}

int store_lore_fts(store *s, const char *query, const char *const *scopes, size_t n_scopes,
                   size_t k, store_fts_hit *out, size_t *n_out) {
  *n_out = 0;
  buf fq, sl;
  buf_init(&fq, 0);
  buf_init(&sl, 0);
  int rc = fts_query(query ? query : "", &fq);
  if (!rc) rc = scope_list(scopes, n_scopes, &sl);
  if (rc || fq.len == 0 || k == 0) goto out;
  sqlite3_stmt *st;
  if ((rc = store_stmt(s,
                       "SELECT c.id, bm25(lore_fts) AS r FROM lore_fts JOIN lore_chunks c "
                       "ON c.id = lore_fts.rowid WHERE lore_fts MATCH ?2 AND " SCOPE_OK(
                           "c.scope") "ORDER BY r, c.id LIMIT ?3",
                       &st)))
    goto out;
  if (sl.len) sqlite3_bind_text(st, 1, sl.data, (int)sl.len, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, fq.data, (int)fq.len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)k);
  rc = fts_rows(s, st, k, out, n_out);
out:
  buf_free(&fq);
  buf_free(&sl);
  return rc;
}

int store_msg_fts_recall(store *s, const char *query, uint64_t guild_id, uint64_t before_id,
                         size_t k, store_fts_hit *out, size_t *n_out) {
  *n_out = 0;
  buf fq;
  buf_init(&fq, 0);
  int rc = fts_query(query ? query : "", &fq);
  if (rc || fq.len == 0 || k == 0) goto out;
  sqlite3_stmt *st;
  if ((rc = store_stmt(s,
                       "SELECT m.id, bm25(messages_fts) AS r FROM messages_fts JOIN messages m "
                       "ON m.id = messages_fts.rowid WHERE messages_fts MATCH ?1 "
                       "AND m.guild_id = ?2 AND (?3 = 0 OR m.id < ?3) AND " PEOPLE_OK
                       "ORDER BY r, m.id LIMIT ?4",
                       &st)))
    goto out;
  sqlite3_bind_text(st, 1, fq.data, (int)fq.len, SQLITE_STATIC);
  store__bind_id(st, 2, guild_id, 0);
  store__bind_id(st, 3, before_id, 0);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)k);
  rc = fts_rows(s, st, k, out, n_out);
out:
  buf_free(&fq);
  return rc;
}

/* ---- community embedding ---- */

int store_embed_cursor_get(store *s, const char *name, int64_t *last_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT last_id FROM embed_cursor WHERE name = ?1", &st)) return MIMIC_EDB;
  store__bind_text(st, 1, name);
  int step = sqlite3_step(st);
  *last_id = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return step == SQLITE_ROW || step == SQLITE_DONE ? 0 : store_err(s, "reading the cursor");
}

int store_embed_cursor_set(store *s, const char *name, int64_t last_id) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO embed_cursor(name, last_id, updated_ms) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT(name) DO UPDATE SET last_id = max(last_id, excluded.last_id), "
                 "updated_ms = excluded.updated_ms",
                 &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, name);
  sqlite3_bind_int64(st, 2, last_id);
  sqlite3_bind_int64(st, 3, clock_wall_ms());
  return store__step_done(s, st, "saving the cursor");
}

#define EMBED_OK "m.guild_id IS NOT NULL AND m.content <> '' AND " PEOPLE_OK

int store_embed_msg_next(store *s, int64_t after_id, size_t limit, store_embed_msg_fn fn,
                         void *user, size_t *n) {
  *n = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT m.id, m.guild_id, m.content FROM messages m WHERE m.id > ?1 AND " EMBED_OK
                 "ORDER BY m.id LIMIT ?2",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, after_id);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
  int step, rc = 0;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    store_embed_msg m = {.id = store__col_id(st, 0),
                         .guild_id = store__col_id(st, 1),
                         .content = store__col_text(st, 2)};
    (*n)++;
    if ((rc = fn(&m, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "reading messages to embed");
  sqlite3_reset(st);
  return rc;
}

int store_embed_msg_count(store *s, int64_t after_id, int64_t *n) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM messages m WHERE m.id > ?1 AND " EMBED_OK, &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, after_id);
  int step = sqlite3_step(st);
  *n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return step == SQLITE_ROW ? 0 : store_err(s, "counting messages to embed");
}

int store_recall_msg(store *s, uint64_t id, buf *out, uint64_t *author_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT m.content, m.author_id FROM messages m WHERE m.id = ?1 AND " PEOPLE_OK,
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, id, 0);
  int step = sqlite3_step(st), rc = 0;
  if (step == SQLITE_ROW) {
    buf_reset(out);
    const char *t = store__col_text(st, 0);
    if (author_id) *author_id = store__col_id(st, 1);
    rc = buf_puts(out, t);
    if (rc) rc = err_set(rc, "message %llu: too long to recall", (unsigned long long)id);
  } else if (step == SQLITE_DONE) {
    rc = err_set(MIMIC_ENOTFOUND, "message %llu cannot be recalled", (unsigned long long)id);
  } else {
    rc = store_err(s, "recalling a message");
  }
  sqlite3_reset(st);
  return rc;
}
