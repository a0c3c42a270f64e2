/* Live settings: the values admin commands and the dashboard change while the bot runs, kept per
 * scope ("" global, "guild:ID", "channel:ID"). What a key means is the config table's business. */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

int store_setting_set(store *s, const char *scope, const char *key, const char *value) {
  if (!key || !*key) return err_set(MIMIC_EINVAL, "setting without a key");
  if (!value) value = "";
  size_t n = strlen(value);
  if (n > STORE_SETTING_MAX)
    return err_set(MIMIC_ERANGE, "setting %s: value of %zu bytes exceeds the %d-byte cap", key, n,
                   STORE_SETTING_MAX);
  if (!utf8_valid(value, n))
    return err_set(MIMIC_EFORMAT, "setting %s: value is not valid UTF-8", key);
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO settings(scope, key, value, updated_ms) VALUES (?1, ?2, ?3, ?4) "
                 "ON CONFLICT(scope, key) DO UPDATE SET value = excluded.value, "
                 "updated_ms = excluded.updated_ms",
                 &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, scope);
  store__bind_text(st, 2, key);
  store__bind_text(st, 3, value);
  sqlite3_bind_int64(st, 4, clock_wall_ms());
  return store__step_done(s, st, "saving a setting");
}

int store_setting_get(store *s, const char *scope, const char *key, buf *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT value FROM settings WHERE scope = ?1 AND key = ?2", &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, scope);
  store__bind_text(st, 2, key);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    buf_reset(out);
    const void *v = sqlite3_column_text(st, 0);
    int n = sqlite3_column_bytes(st, 0);
    int r = buf_append(out, v ? v : "", (size_t)n);
    sqlite3_reset(st);
    return r ? err_set(r, "setting %s: value too long for the caller's buffer", key) : 0;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading a setting");
}

int store_setting_delete(store *s, const char *scope, const char *key) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM settings WHERE scope = ?1 AND key = ?2", &st)) return MIMIC_EDB;
  store__bind_text(st, 1, scope);
  store__bind_text(st, 2, key);
  return store__step_done(s, st, "deleting a setting");
}

int store_setting_each(store *s, const char *scope, store_setting_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT scope, key, value, updated_ms FROM settings "
                         "WHERE ?1 IS NULL OR scope = ?1 ORDER BY scope, key",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing settings");
  if (scope) sqlite3_bind_text(st, 1, scope, -1, SQLITE_STATIC);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = fn(store__col_text(st, 0), store__col_text(st, 1), store__col_text(st, 2),
                 sqlite3_column_int64(st, 3), user)) != 0)
      break;
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing settings");
  sqlite3_finalize(st);
  return rc;
}
