/* The media table (media.h): image descriptions by attachment. */
#include "store/media.h"

#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

int store_media_put(store *s, const store_media *m) {
  if (!m->attachment_id)
    return err_set(MIMIC_EINVAL, "an image description needs its attachment id");
  sqlite3_stmt *st;
  if (store_stmt(
          s,
          "INSERT INTO media(attachment_id, message_id, url, description, model, created_ms) "
          "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(attachment_id) DO UPDATE SET "
          "message_id = excluded.message_id, url = excluded.url, "
          "description = excluded.description, model = excluded.model, "
          "created_ms = excluded.created_ms",
          &st))
    return MIMIC_EDB;
  const char *d = m->description;
  size_t n = strlen(d);
  if (n >= STORE_MEDIA_TEXT_MAX) n = utf8_floor(d, n, STORE_MEDIA_TEXT_MAX - 1);
  store__bind_id(st, 1, m->attachment_id, 0);
  store__bind_id(st, 2, m->message_id, 0);
  store__bind_text(st, 3, m->url);
  sqlite3_bind_text(st, 4, d, (int)n, SQLITE_TRANSIENT);
  store__bind_text(st, 5, m->model);
  sqlite3_bind_int64(st, 6, m->created_ms ? m->created_ms : clock_wall_ms());
  return store__step_done(s, st, "saving an image description");
}

static void row_of(sqlite3_stmt *st, store_media *out) {
  memset(out, 0, sizeof *out);
  out->attachment_id = store__col_id(st, 0);
  out->message_id = store__col_id(st, 1);
  store__col_copy(st, 2, out->url, sizeof out->url);
  store__col_copy(st, 3, out->description, sizeof out->description);
  store__col_copy(st, 4, out->model, sizeof out->model);
  out->created_ms = sqlite3_column_int64(st, 5);
  out->channel_id = store__col_id(st, 6);
  out->guild_id = store__col_id(st, 7);
  out->author_id = store__col_id(st, 8);
}

/* The columns of a row, with its message's place when the message is stored. */
#define COLS                                                                                       \
  "media.attachment_id, media.message_id, media.url, media.description, media.model, "             \
  "media.created_ms, messages.channel_id, messages.guild_id, messages.author_id"
#define FROM " FROM media LEFT JOIN messages ON messages.id = media.message_id"

int store_media_get(store *s, uint64_t attachment_id, store_media *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " COLS FROM " WHERE media.attachment_id = ?1", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, attachment_id, 0);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    row_of(st, out);
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  if (rc == SQLITE_DONE)
    return err_set(MIMIC_ENOTFOUND, "no description of attachment %llu",
                   (unsigned long long)attachment_id);
  return store_err(s, "reading an image description");
}

/* Runs a prepared query with one bound parameter already set and calls fn per row. The rows are
 * copied out before fn runs, so fn may use the store. */
static int each_row(store *s, sqlite3_stmt *st, size_t max, store_media_fn fn, void *user) {
  store_media *rows = NULL;
  size_t n = 0, cap = 0;
  int rc;
  while (n < max && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4;
      rows = xrealloc(rows, cap * sizeof *rows);
    }
    row_of(st, &rows[n++]);
  }
  if (n < max && rc != SQLITE_DONE) {
    sqlite3_reset(st);
    mem_free(rows);
    return store_err(s, "reading image descriptions");
  }
  sqlite3_reset(st);
  rc = 0;
  for (size_t i = 0; i < n && rc == 0; i++) rc = fn(&rows[i], user);
  mem_free(rows);
  return rc;
}

int store_media_of_message(store *s, uint64_t message_id, size_t max, store_media_fn fn,
                           void *user) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT " COLS FROM " WHERE media.message_id = ?1 ORDER BY media.created_ms, "
                 "media.attachment_id",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, message_id, 0);
  return each_row(s, st, max, fn, user);
}

int store_media_older(store *s, int64_t before_ms, size_t max, store_media_fn fn, void *user) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " COLS FROM " WHERE media.created_ms < ?1 ORDER BY media.created_ms",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, before_ms);
  return each_row(s, st, max, fn, user);
}

int store_media_since(store *s, uint64_t guild_id, int64_t after_ms, uint64_t after_id, size_t max,
                      store_media_fn fn, void *user) {
  sqlite3_stmt *st;
  if (store_stmt(
          s,
          "SELECT " COLS FROM
          " WHERE (media.created_ms > ?1 OR (media.created_ms = ?1 AND media.attachment_id > ?3))"
          " AND messages.id IS NOT NULL"
          " AND coalesce(messages.guild_id, 0) = ?2"
          " ORDER BY media.created_ms, media.attachment_id",
          &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, after_ms);
  store__bind_id(st, 2, guild_id, 0);
  store__bind_id(st, 3, after_id, 0);
  return each_row(s, st, max, fn, user);
}

int store_media_delete_message(store *s, uint64_t message_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM media WHERE message_id = ?1", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, message_id, 0);
  return store__step_done(s, st, "deleting image descriptions");
}
