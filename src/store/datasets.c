/* Datasets written by `mimic prepare` and their provenance (which message went into which sample
 * of which file, in which role), and the purge log that tells training whom to leave out. */
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
  return sqlite3_changes(s->db) ? 0 : err_set(MIMIC_ENOTFOUND, "no purge with id %lld", (long long)id);
}
