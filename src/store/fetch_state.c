/* The history fetcher's per-channel cursor: the newest and oldest message fetched so far and
 * whether the channel's beginning was reached, so a fetch resumes where the last one stopped. */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

int store_fetch_state_get(store *s, uint64_t channel_id, store_fetch_state *out) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT newest_id, oldest_id, complete, updated_ms FROM fetch_state "
                 "WHERE channel_id = ?1",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, channel_id, 0);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    out->channel_id = channel_id;
    out->newest_id = store__col_id(st, 0);
    out->oldest_id = store__col_id(st, 1);
    out->complete = sqlite3_column_int(st, 2) != 0;
    out->updated_ms = sqlite3_column_int64(st, 3);
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading the fetch state");
}

int store_fetch_state_set(store *s, const store_fetch_state *fs) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO fetch_state(channel_id, newest_id, oldest_id, complete, updated_ms) "
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(channel_id) DO UPDATE SET "
                 "newest_id = excluded.newest_id, oldest_id = excluded.oldest_id, "
                 "complete = excluded.complete, updated_ms = excluded.updated_ms",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, fs->channel_id, 0);
  store__bind_id(st, 2, fs->newest_id, 0);
  store__bind_id(st, 3, fs->oldest_id, 0);
  sqlite3_bind_int(st, 4, fs->complete ? 1 : 0);
  sqlite3_bind_int64(st, 5, clock_wall_ms());
  return store__step_done(s, st, "saving the fetch state");
}
