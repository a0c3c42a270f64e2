/* Datasets written by `mimic prepare` and their provenance (which message went into which sample
 * of which file, in which role), the purge log that tells training whom to leave out, and the log
 * of imported files. */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

int store_dataset_add(store *s, const char *path, const char *kind, const char *split,
                      int64_t n_samples, const char *options, int64_t *id) {
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  /* Re-registering a path replaces it: its old provenance goes with it (ON DELETE CASCADE). */
  if ((rc = store_stmt(s, "DELETE FROM datasets WHERE path = ?1", &st))) goto out;
  store__bind_text(st, 1, path);
  if ((rc = store__step_done(s, st, "replacing a dataset"))) goto out;
  if ((rc = store_stmt(s,
                       "INSERT INTO datasets(path, kind, split, n_samples, options, created_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                       &st)))
    goto out;
  store__bind_text(st, 1, path);
  store__bind_text(st, 2, kind);
  store__bind_text(st, 3, split);
  sqlite3_bind_int64(st, 4, n_samples);
  store__bind_text(st, 5, options && *options ? options : "{}");
  sqlite3_bind_int64(st, 6, clock_wall_ms());
  if ((rc = store__step_done(s, st, "registering a dataset"))) goto out;
  *id = sqlite3_last_insert_rowid(s->db);
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_dataset_msg_add(store *s, int64_t dataset_id, int64_t sample, uint64_t message_id,
                          int role) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT OR IGNORE INTO dataset_messages(dataset_id, sample, message_id, role) "
                 "VALUES (?1, ?2, ?3, ?4)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, dataset_id);
  sqlite3_bind_int64(st, 2, sample);
  store__bind_id(st, 3, message_id, 0);
  sqlite3_bind_int(st, 4, role);
  return store__step_done(s, st, "recording provenance");
}

int store_purge_each(store *s, bool pending_only, store_purge_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT id, user_id, requested_ms, done_ms, messages_deleted, "
                         "samples_removed, files_rewritten, train_ack FROM purge_log "
                         "WHERE ?1 = 0 OR train_ack = 0 ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing purges");
  sqlite3_bind_int(st, 1, pending_only ? 1 : 0);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    store_purge p = {
        .id = sqlite3_column_int64(st, 0),
        .user_id = store__col_id(st, 1),
        .requested_ms = sqlite3_column_int64(st, 2),
        .done_ms = sqlite3_column_int64(st, 3),
        .messages_deleted = sqlite3_column_int64(st, 4),
        .samples_removed = sqlite3_column_int64(st, 5),
        .files_rewritten = sqlite3_column_int64(st, 6),
        .train_ack = sqlite3_column_int(st, 7) != 0,
    };
    if ((rc = fn(&p, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing purges");
  sqlite3_finalize(st);
  return rc;
}

int store_purge_ack(store *s, int64_t id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "UPDATE purge_log SET train_ack = 1 WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  if (store__step_done(s, st, "acknowledging a purge")) return MIMIC_EDB;
  return sqlite3_changes(s->db) ? 0
                                : err_set(MIMIC_ENOTFOUND, "no purge with id %lld", (long long)id);
}

int store_dataset_each(store *s, store_dataset_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT id, path, kind, split, n_samples, pending_path FROM datasets "
                         "ORDER BY id",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing datasets");
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    store_dataset d = {
        .id = sqlite3_column_int64(st, 0),
        .path = store__col_text(st, 1),
        .kind = store__col_text(st, 2),
        .split = store__col_text(st, 3),
        .n_samples = sqlite3_column_int64(st, 4),
        .pending_path = sqlite3_column_type(st, 5) == SQLITE_NULL ? NULL : store__col_text(st, 5),
    };
    if ((rc = fn(&d, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing datasets");
  sqlite3_finalize(st);
  return rc;
}

int store_dataset_set_pending(store *s, int64_t id, const char *tmp) {
  sqlite3_stmt *st;
  if (store_stmt(s, "UPDATE datasets SET pending_path = ?2 WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  if (tmp)
    sqlite3_bind_text(st, 2, tmp, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 2);
  return store__step_done(s, st, "marking a dataset rename");
}

int store_dataset_set_samples(store *s, int64_t id, int64_t n_samples) {
  sqlite3_stmt *st;
  if (store_stmt(s, "UPDATE datasets SET n_samples = ?2 WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, n_samples);
  return store__step_done(s, st, "counting dataset samples");
}

int store_dataset_samples_of_user(store *s, uint64_t user_id, store_sample_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT DISTINCT dm.dataset_id, dm.sample FROM dataset_messages dm "
                         "JOIN messages m ON m.id = dm.message_id WHERE m.author_id = ?1 "
                         "ORDER BY dm.dataset_id, dm.sample",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "finding a user's samples");
  store__bind_id(st, 1, user_id, 0);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = fn(sqlite3_column_int64(st, 0), sqlite3_column_int64(st, 1), user)) != 0) break;
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "finding a user's samples");
  sqlite3_finalize(st);
  return rc;
}

int store_dataset_drop_samples(store *s, int64_t dataset_id, const int64_t *samples, size_t n) {
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  for (size_t i = 0; i < n && !rc; i++) {
    if ((rc = store_stmt(s, "DELETE FROM dataset_messages WHERE dataset_id = ?1 AND sample = ?2",
                         &st)))
      break;
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int64(st, 2, samples[i]);
    rc = store__step_done(s, st, "dropping provenance");
  }
  /* Renumber: each remaining sample moves down by the number of dropped samples before it. The
   * new numbers are first written negated (-new - 1), so no row ever collides with one not yet
   * moved, then flipped back. */
  for (size_t i = 0; i < n && !rc; i++) {
    int64_t lo = samples[i], hi = i + 1 < n ? samples[i + 1] : INT64_MAX;
    if ((rc = store_stmt(
             s,
             "UPDATE dataset_messages SET sample = -(sample - ?4) - 1 WHERE dataset_id = ?1 "
             "AND sample > ?2 AND sample < ?3",
             &st)))
      break;
    sqlite3_bind_int64(st, 1, dataset_id);
    sqlite3_bind_int64(st, 2, lo);
    sqlite3_bind_int64(st, 3, hi);
    sqlite3_bind_int64(st, 4, (sqlite3_int64)(i + 1));
    rc = store__step_done(s, st, "renumbering provenance");
  }
  if (!rc && (rc = store_stmt(s,
                              "UPDATE dataset_messages SET sample = -sample - 1 WHERE "
                              "dataset_id = ?1 AND sample < 0",
                              &st)) == 0) {
    sqlite3_bind_int64(st, 1, dataset_id);
    rc = store__step_done(s, st, "renumbering provenance");
  }
  if (!rc) {
    if ((rc = store_stmt(s, "UPDATE datasets SET n_samples = max(0, n_samples - ?2) WHERE id = ?1",
                         &st)) == 0) {
      sqlite3_bind_int64(st, 1, dataset_id);
      sqlite3_bind_int64(st, 2, (sqlite3_int64)n);
      rc = store__step_done(s, st, "counting dataset samples");
    }
  }
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_channel_each(store *s, store_id_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db, "SELECT id FROM channels ORDER BY id", -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing channels");
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = fn(store__col_id(st, 0), user)) != 0) break;
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing channels");
  sqlite3_finalize(st);
  return rc;
}

int store_purge_begin(store *s, uint64_t user_id, int64_t *id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "INSERT INTO purge_log(user_id, requested_ms) VALUES (?1, ?2)", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, user_id, 0);
  sqlite3_bind_int64(st, 2, clock_wall_ms());
  if (store__step_done(s, st, "recording a purge")) return MIMIC_EDB;
  *id = sqlite3_last_insert_rowid(s->db);
  return 0;
}

int store_purge_finish(store *s, int64_t id, uint64_t user_id, int64_t samples_removed,
                       int64_t files_rewritten, int64_t *messages_deleted) {
  static const char *const del[] = {
      "DELETE FROM reaction_users WHERE user_id = ?1",
      "DELETE FROM message_mentions WHERE user_id = ?1",
      "DELETE FROM messages WHERE author_id = ?1",
      "DELETE FROM users WHERE id = ?1",
  };
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  int64_t n = 0;
  for (size_t i = 0; i < sizeof del / sizeof del[0] && !rc; i++) {
    if ((rc = store_stmt(s, del[i], &st))) break;
    store__bind_id(st, 1, user_id, 0);
    rc = store__step_done(s, st, "purging");
    if (!rc && i == 2) n = sqlite3_changes(s->db);
  }
  /* Reaction counts on other people's messages keep the person's reactions as numbers only (a
   * count says nothing about who); their reactor rows are gone. */
  if (!rc && (rc = store_stmt(s,
                              "UPDATE purge_log SET done_ms = ?2, messages_deleted = ?3, "
                              "samples_removed = ?4, files_rewritten = ?5 WHERE id = ?1",
                              &st)) == 0) {
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, clock_wall_ms());
    sqlite3_bind_int64(st, 3, n);
    sqlite3_bind_int64(st, 4, samples_removed);
    sqlite3_bind_int64(st, 5, files_rewritten);
    rc = store__step_done(s, st, "completing a purge");
  }
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  if ((rc = store_tx_commit(s))) return rc;
  if (messages_deleted) *messages_deleted = n;
  return 0;
}

int store_import_log(store *s, const char *path, const char *format, uint64_t bytes,
                     int64_t messages, int64_t inserted) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO import_log(path, format, bytes, messages, inserted, imported_ms) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, format, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)bytes);
  sqlite3_bind_int64(st, 4, messages);
  sqlite3_bind_int64(st, 5, inserted);
  sqlite3_bind_int64(st, 6, clock_wall_ms());
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : store_err(s, "recording the import");
}
