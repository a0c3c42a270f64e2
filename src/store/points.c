/* The points ledger (store/points.h). Idempotency is the partial unique index on
 * (round_key, user_id): an award is INSERT OR IGNORE, so a replay adds nothing. */
#include "store/points.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

static int check_text(const char *what, const char *v, size_t cap) {
  size_t n = v ? strlen(v) : 0;
  if (n >= cap)
    return err_set(MIMIC_EINVAL, "points: the %s is longer than %zu bytes", what, cap - 1);
  if (n && !utf8_valid(v, n)) return err_set(MIMIC_EINVAL, "points: the %s is not UTF-8", what);
  return 0;
}

int store_points_add(store *s, const store_points_tx *t, bool *added) {
  if (added) *added = false;
  if (t->delta == 0 || t->delta > STORE_POINTS_DELTA_MAX || t->delta < -STORE_POINTS_DELTA_MAX)
    return err_set(MIMIC_EINVAL, "points: a change must be a nonzero whole number up to %d",
                   STORE_POINTS_DELTA_MAX);
  if (!t->user_id) return err_set(MIMIC_EINVAL, "points: no member given");
  int rc = check_text("reason", t->reason, STORE_POINTS_REASON_MAX);
  if (!rc) rc = check_text("game", t->game, STORE_POINTS_GAME_MAX);
  if (!rc) rc = check_text("round key", t->round_key, STORE_POINTS_KEY_MAX);
  if (rc) return rc;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT OR IGNORE INTO points_ledger(guild_id, user_id, delta, reason, game, "
                 "round_key, by_user, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, t->guild_id, 0);
  store__bind_id(st, 2, t->user_id, 0);
  sqlite3_bind_int64(st, 3, t->delta);
  store__bind_text(st, 4, t->reason);
  store__bind_text(st, 5, t->game);
  if (t->round_key && *t->round_key)
    store__bind_text(st, 6, t->round_key);
  else
    sqlite3_bind_null(st, 6);
  store__bind_id(st, 7, t->by_user, 0);
  sqlite3_bind_int64(st, 8, t->ts_ms);
  rc = store__step_done(s, st, "recording points");
  if (!rc && added) *added = sqlite3_changes(store_db(s)) > 0;
  return rc;
}

/* Binds the window: ?3 since, ?4 until (0, 0: everything). */
static void bind_window(sqlite3_stmt *st, int i, int64_t since, int64_t until) {
  sqlite3_bind_int64(st, i, since);
  sqlite3_bind_int64(st, i + 1, until > 0 ? until : INT64_MAX);
}

int store_points_balance(store *s, uint64_t guild_id, uint64_t user_id, int64_t since_ms,
                         int64_t until_ms, int64_t *out) {
  *out = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT COALESCE(SUM(delta), 0) FROM points_ledger WHERE guild_id = ?1 AND "
                 "user_id = ?2 AND ts_ms >= ?3 AND ts_ms < ?4",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, guild_id, 0);
  store__bind_id(st, 2, user_id, 0);
  bind_window(st, 3, since_ms, until_ms);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return r == SQLITE_ROW ? 0 : store_err(s, "reading points");
}

int store_points_top(store *s, uint64_t guild_id, int64_t since_ms, int64_t until_ms,
                     store_points_row *out, size_t cap, size_t *n) {
  *n = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT user_id, SUM(delta) AS p, "
                 "SUM(CASE WHEN round_key IS NOT NULL AND game IN ('trivia', 'riddle') AND "
                 "delta > 0 THEN 1 ELSE 0 END) AS w, MAX(ts_ms) AS t "
                 "FROM points_ledger WHERE guild_id = ?1 AND ts_ms >= ?2 AND ts_ms < ?3 "
                 "GROUP BY user_id HAVING p > 0 ORDER BY p DESC, w DESC, t ASC LIMIT ?4",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, guild_id, 0);
  bind_window(st, 2, since_ms, until_ms);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)cap);
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW && *n < cap) {
    out[*n].user_id = store__col_id(st, 0);
    out[*n].points = sqlite3_column_int64(st, 1);
    out[*n].wins = sqlite3_column_int64(st, 2);
    (*n)++;
  }
  sqlite3_reset(st);
  return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : store_err(s, "reading the leaderboard");
}

static int one_int(store *s, const char *sql, uint64_t guild_id, uint64_t user_id, int64_t *out,
                   const char *what) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return MIMIC_EDB;
  store__bind_id(st, 1, guild_id, 0);
  store__bind_id(st, 2, user_id, 0);
  int r = sqlite3_step(st);
  *out = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : store_err(s, what);
}

int store_points_profile_get(store *s, uint64_t guild_id, uint64_t user_id, int64_t month_since,
                             int64_t month_until, store_points_profile *out) {
  memset(out, 0, sizeof *out);
  int rc = store_points_balance(s, guild_id, user_id, 0, 0, &out->points);
  if (!rc && month_until > month_since)
    rc = store_points_balance(s, guild_id, user_id, month_since, month_until, &out->points_month);
  if (!rc)
    rc = one_int(s,
                 "SELECT COUNT(DISTINCT p.game_id) FROM game_plays p JOIN games g ON g.id = "
                 "p.game_id WHERE g.guild_id = ?1 AND p.user_id = ?2",
                 guild_id, user_id, &out->games_played, "reading games played");
  if (!rc)
    rc = one_int(s,
                 "SELECT COUNT(*) FROM points_ledger WHERE guild_id = ?1 AND user_id = ?2 AND "
                 "round_key IS NOT NULL AND game IN ('trivia', 'riddle') AND delta > 0",
                 guild_id, user_id, &out->rounds_won, "reading rounds won");
  if (!rc)
    rc = one_int(s,
                 "SELECT COALESCE(MAX(ts_ms), 0) FROM points_ledger WHERE guild_id = ?1 AND "
                 "user_id = ?2",
                 guild_id, user_id, &out->last_ms, "reading points");
  if (!rc && out->points > 0) {
    /* the place on the all-time board: 1 + members strictly ahead (more points, or as many
     * and reached earlier) */
    sqlite3_stmt *st;
    if (store_stmt(s,
                   "SELECT COUNT(*) FROM (SELECT user_id, SUM(delta) AS p, MAX(ts_ms) AS t FROM "
                   "points_ledger WHERE guild_id = ?1 GROUP BY user_id) WHERE p > ?2 OR (p = ?2 "
                   "AND t < ?3)",
                   &st))
      return MIMIC_EDB;
    store__bind_id(st, 1, guild_id, 0);
    sqlite3_bind_int64(st, 2, out->points);
    sqlite3_bind_int64(st, 3, out->last_ms);
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW) out->rank = 1 + sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    if (r != SQLITE_ROW) rc = store_err(s, "reading the rank");
  }
  return rc;
}

int store_points_history(store *s, uint64_t guild_id, uint64_t user_id, size_t limit,
                         store_points_fn fn, void *user) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT delta, reason, game, COALESCE(round_key, ''), by_user, ts_ms FROM "
                 "points_ledger WHERE guild_id = ?1 AND user_id = ?2 ORDER BY id DESC LIMIT ?3",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, guild_id, 0);
  store__bind_id(st, 2, user_id, 0);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)limit);
  int r, rc = 0;
  while (!rc && (r = sqlite3_step(st)) == SQLITE_ROW) {
    store_points_tx t = {.guild_id = guild_id,
                         .user_id = user_id,
                         .delta = sqlite3_column_int64(st, 0),
                         .reason = store__col_text(st, 1),
                         .game = store__col_text(st, 2),
                         .round_key = store__col_text(st, 3),
                         .by_user = store__col_id(st, 4),
                         .ts_ms = sqlite3_column_int64(st, 5)};
    rc = fn(&t, user);
  }
  if (!rc && r != SQLITE_DONE) rc = store_err(s, "reading points history");
  sqlite3_reset(st);
  return rc;
}

/* Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static void month_bounds(int64_t y, int64_t m, int64_t *since, int64_t *until) {
  *since = days_from_civil(y, m, 1) * 86400000LL;
  *until = (m == 12 ? days_from_civil(y + 1, 1, 1) : days_from_civil(y, m + 1, 1)) * 86400000LL;
}

void store_points_month(int64_t ms, int64_t *since, int64_t *until) {
  int64_t z = (ms >= 0 ? ms : ms - 86399999) / 86400000 + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  int64_t y = yoe + era * 400 + (m <= 2);
  month_bounds(y, m, since, until);
}

int store_points_month_parse(const char *ym, int64_t *since, int64_t *until) {
  int y = 0, m = 0;
  char tail = 0;
  if (strlen(ym) != 7 || sscanf(ym, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 1970 || y > 9999 ||
      m < 1 || m > 12)
    return err_set(MIMIC_EINVAL, "'%.16s' is not a month: write it as YYYY-MM (e.g. 2026-03)", ym);
  month_bounds(y, m, since, until);
  return 0;
}
