/* User flags for privacy: excluded by the owner, opted out or in by the person. Kept apart from the
 * users table so a flag can exist before (and after) any message from that person. */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

static bool one_flag(uint32_t f) {
  return f == STORE_FLAG_EXCLUDED || f == STORE_FLAG_OPTED_OUT || f == STORE_FLAG_OPTED_IN;
}

const char *store_flag_name(uint32_t flag) {
  switch (flag) {
  case STORE_FLAG_EXCLUDED: return "excluded";
  case STORE_FLAG_OPTED_OUT: return "opted-out";
  case STORE_FLAG_OPTED_IN: return "opted-in";
  default: return "unknown";
  }
}

static int clear_one(store *s, uint64_t user_id, uint32_t flag) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM user_flags WHERE user_id = ?1 AND flag = ?2", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, user_id, 0);
  sqlite3_bind_int(st, 2, (int)flag);
  return store__step_done(s, st, "clearing a user flag");
}

int store_user_flag_set(store *s, uint64_t user_id, uint32_t flag, const char *reason) {
  if (!one_flag(flag) || user_id == 0 || user_id > (uint64_t)INT64_MAX)
    return err_set(MIMIC_EINVAL, "user flag: bad flag %u or user id %llu", flag,
                   (unsigned long long)user_id);
  if (!reason) reason = "";
  if (!utf8_valid(reason, strlen(reason)))
    return err_set(MIMIC_EFORMAT, "user flag: reason is not valid UTF-8");
  int rc = store_tx_begin(s);
  if (rc) return rc;
  if (flag == STORE_FLAG_OPTED_IN) rc = clear_one(s, user_id, STORE_FLAG_OPTED_OUT);
  if (flag == STORE_FLAG_OPTED_OUT) rc = clear_one(s, user_id, STORE_FLAG_OPTED_IN);
  if (rc) goto out;
  sqlite3_stmt *st;
  if ((rc = store_stmt(
           s,
           "INSERT INTO user_flags(user_id, flag, reason, set_ms) VALUES (?1, ?2, ?3, ?4)"
           " ON CONFLICT(user_id, flag) DO UPDATE SET reason = excluded.reason, "
           "set_ms = excluded.set_ms",
           &st)))
    goto out;
  store__bind_id(st, 1, user_id, 0);
  sqlite3_bind_int(st, 2, (int)flag);
  store__bind_text(st, 3, reason);
  sqlite3_bind_int64(st, 4, clock_wall_ms());
  rc = store__step_done(s, st, "setting a user flag");
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_user_flag_clear(store *s, uint64_t user_id, uint32_t flag) {
  if (!one_flag(flag)) return err_set(MIMIC_EINVAL, "user flag: bad flag %u", flag);
  return clear_one(s, user_id, flag);
}

int store_user_flags(store *s, uint64_t user_id, uint32_t *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT flag FROM user_flags WHERE user_id = ?1", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, user_id, 0);
  uint32_t f = 0;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) f |= (uint32_t)sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) return store_err(s, "reading user flags");
  *out = f;
  return 0;
}

int store_user_flag_each(store *s, store_flag_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(
          s->db, "SELECT user_id, flag, reason, set_ms FROM user_flags ORDER BY user_id, flag", -1,
          &st, NULL) != SQLITE_OK)
    return store_err(s, "listing user flags");
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = fn(store__col_id(st, 0), (uint32_t)sqlite3_column_int(st, 1), store__col_text(st, 2),
                 sqlite3_column_int64(st, 3), user)) != 0)
      break;
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing user flags");
  sqlite3_finalize(st);
  return rc;
}
