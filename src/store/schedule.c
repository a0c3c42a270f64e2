/* Scheduled jobs and runs (store/schedule.h). The claim is an INSERT into sched_runs whose primary
 * key is (job, instant): SQLite's write lock orders two claimers, and the loser's insert is
 * ignored. */
#include "store/schedule.h"

#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

static int check_text(const char *what, const char *v, size_t cap, bool need) {
  size_t n = strlen(v);
  if (need && n == 0) return err_set(MIMIC_EINVAL, "scheduled job: %s is empty", what);
  if (n >= cap)
    return err_set(MIMIC_EINVAL, "scheduled job: %s is longer than %zu bytes", what, cap - 1);
  if (!utf8_valid(v, n)) return err_set(MIMIC_EINVAL, "scheduled job: %s is not valid UTF-8", what);
  return 0;
}

static int check_job(const store_sched_job *j) {
  int rc = check_text("name", j->name, sizeof j->name, true);
  if (!rc) rc = check_text("kind", j->kind, sizeof j->kind, true);
  if (!rc) rc = check_text("expression", j->expr, sizeof j->expr, true);
  if (!rc) rc = check_text("time zone", j->tz, sizeof j->tz, true);
  if (!rc) rc = check_text("params", j->params, sizeof j->params, false);
  if (!rc && (j->jitter_s < 0 || j->jitter_s > 86400))
    rc = err_set(MIMIC_EINVAL, "scheduled job %s: jitter must be 0..86400 seconds", j->name);
  return rc;
}

static void bind_job(sqlite3_stmt *st, const store_sched_job *j) {
  store__bind_text(st, 1, j->name);
  store__bind_text(st, 2, j->kind);
  store__bind_id(st, 3, j->guild_id, 0);
  store__bind_id(st, 4, j->channel_id, 0);
  store__bind_text(st, 5, j->expr);
  store__bind_text(st, 6, j->tz);
  sqlite3_bind_int(st, 7, j->missed == SCHED_MISSED_ONCE);
  sqlite3_bind_int(st, 8, j->jitter_s);
  sqlite3_bind_int(st, 9, j->enabled);
  store__bind_text(st, 10, j->params[0] ? j->params : "{}");
  sqlite3_bind_int64(st, 11, j->next_ms);
  sqlite3_bind_int64(st, 12, j->last_ms);
}

int store_sched_add(store *s, store_sched_job *j) {
  int rc = check_job(j);
  if (rc) return rc;
  store_sched_job old;
  if (store_sched_get(s, j->name, &old) == 0)
    return err_set(MIMIC_EINVAL, "a scheduled job named '%s' exists already", j->name);
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO sched_jobs(name, kind, guild_id, channel_id, expr, tz, missed_once, "
                 "jitter_s, enabled, params, next_ms, last_ms, created_ms) "
                 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                 &st))
    return MIMIC_EDB;
  bind_job(st, j);
  sqlite3_bind_int64(st, 13, clock_wall_ms());
  rc = store__step_done(s, st, "adding a scheduled job");
  if (!rc) j->id = sqlite3_last_insert_rowid(store_db(s));
  return rc;
}

int store_sched_update(store *s, const store_sched_job *j) {
  int rc = check_job(j);
  if (rc) return rc;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE sched_jobs SET name = ?1, kind = ?2, guild_id = ?3, channel_id = ?4, "
                 "expr = ?5, tz = ?6, missed_once = ?7, jitter_s = ?8, enabled = ?9, params = ?10, "
                 "next_ms = ?11, last_ms = ?12 WHERE id = ?13",
                 &st))
    return MIMIC_EDB;
  bind_job(st, j);
  sqlite3_bind_int64(st, 13, j->id);
  rc = store__step_done(s, st, "updating a scheduled job");
  if (!rc && sqlite3_changes(store_db(s)) == 0)
    return err_set(MIMIC_ENOTFOUND, "no scheduled job with id %lld", (long long)j->id);
  return rc;
}

int store_sched_remove(store *s, const char *name) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM sched_jobs WHERE name = ?1", &st)) return MIMIC_EDB;
  store__bind_text(st, 1, name);
  int rc = store__step_done(s, st, "removing a scheduled job");
  if (!rc && sqlite3_changes(store_db(s)) == 0)
    return err_set(MIMIC_ENOTFOUND, "no scheduled job named '%s'", name);
  return rc;
}

#define JOB_COLUMNS                                                                                \
  "id, name, kind, guild_id, channel_id, expr, tz, missed_once, jitter_s, enabled, params, "       \
  "next_ms, last_ms"

static void read_job(sqlite3_stmt *st, store_sched_job *j) {
  memset(j, 0, sizeof *j);
  j->id = sqlite3_column_int64(st, 0);
  store__col_copy(st, 1, j->name, sizeof j->name);
  store__col_copy(st, 2, j->kind, sizeof j->kind);
  j->guild_id = store__col_id(st, 3);
  j->channel_id = store__col_id(st, 4);
  store__col_copy(st, 5, j->expr, sizeof j->expr);
  store__col_copy(st, 6, j->tz, sizeof j->tz);
  j->missed = sqlite3_column_int(st, 7) ? SCHED_MISSED_ONCE : SCHED_MISSED_SKIP;
  j->jitter_s = sqlite3_column_int(st, 8);
  j->enabled = sqlite3_column_int(st, 9) != 0;
  store__col_copy(st, 10, j->params, sizeof j->params);
  j->next_ms = sqlite3_column_int64(st, 11);
  j->last_ms = sqlite3_column_int64(st, 12);
}

int store_sched_get(store *s, const char *name, store_sched_job *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " JOB_COLUMNS " FROM sched_jobs WHERE name = ?1", &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, name);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) read_job(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? err_set(MIMIC_ENOTFOUND, "no scheduled job named '%s'", name)
                           : store_err(s, "reading a scheduled job");
}

int store_sched_each(store *s, int64_t due_ms, store_sched_job_fn fn, void *user) {
  /* A fresh statement (not the cache): fn may call back into the store. */
  sqlite3_stmt *st = NULL;
  const char *sql = due_ms > 0 ? "SELECT " JOB_COLUMNS " FROM sched_jobs WHERE enabled = 1 AND "
                                 "next_ms <= ?1 ORDER BY next_ms, name"
                               : "SELECT " JOB_COLUMNS " FROM sched_jobs ORDER BY name";
  if (sqlite3_prepare_v2(store_db(s), sql, -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing scheduled jobs");
  if (due_ms > 0) sqlite3_bind_int64(st, 1, due_ms);
  int rc, out = 0;
  store_sched_job *j = xalloc(sizeof *j);
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    read_job(st, j);
    if ((out = fn(j, user)) != 0) break;
  }
  mem_free(j);
  if (!out && rc != SQLITE_DONE) out = store_err(s, "listing scheduled jobs");
  sqlite3_finalize(st);
  return out;
}

int store_sched_claim(store *s, int64_t job_id, int64_t scheduled_ms, int64_t next_ms,
                      const char *by, bool *claimed) {
  *claimed = false;
  if (store_tx_begin(s)) return MIMIC_EDB;
  sqlite3_stmt *st;
  int rc = store_stmt(s,
                      "INSERT OR IGNORE INTO sched_runs(job_id, scheduled_ms, claimed_ms, "
                      "claimed_by, status) SELECT id, ?2, ?3, ?4, 'running' FROM sched_jobs "
                      "WHERE id = ?1",
                      &st);
  if (!rc) {
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, scheduled_ms);
    sqlite3_bind_int64(st, 3, clock_wall_ms());
    store__bind_text(st, 4, by);
    rc = store__step_done(s, st, "claiming a scheduled run");
  }
  bool won = !rc && sqlite3_changes(store_db(s)) == 1;
  if (won && !(rc = store_stmt(s,
                               "UPDATE sched_jobs SET next_ms = ?2, last_ms = max(last_ms, ?3) "
                               "WHERE id = ?1",
                               &st))) {
    sqlite3_bind_int64(st, 1, job_id);
    sqlite3_bind_int64(st, 2, next_ms);
    sqlite3_bind_int64(st, 3, scheduled_ms);
    rc = store__step_done(s, st, "moving a job to its next run");
  }
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  if (store_tx_commit(s)) return MIMIC_EDB;
  *claimed = won;
  return 0;
}

int store_sched_finish(store *s, int64_t job_id, int64_t scheduled_ms, const char *status,
                       const char *detail) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE sched_runs SET finished_ms = ?3, status = ?4, detail = ?5 "
                 "WHERE job_id = ?1 AND scheduled_ms = ?2",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, job_id);
  sqlite3_bind_int64(st, 2, scheduled_ms);
  sqlite3_bind_int64(st, 3, clock_wall_ms());
  store__bind_text(st, 4, status);
  char line[256];
  str_lcpy(line, detail ? detail : "", sizeof line);
  store__bind_text(st, 5, line);
  return store__step_done(s, st, "finishing a scheduled run");
}

int store_sched_set_next(store *s, int64_t job_id, int64_t next_ms) {
  sqlite3_stmt *st;
  if (store_stmt(s, "UPDATE sched_jobs SET next_ms = ?2 WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, job_id);
  sqlite3_bind_int64(st, 2, next_ms);
  return store__step_done(s, st, "scheduling a job");
}

int store_sched_runs(store *s, int64_t job_id, int limit, store_sched_run_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(store_db(s),
                         "SELECT job_id, scheduled_ms, claimed_ms, coalesce(finished_ms, 0), "
                         "claimed_by, status, coalesce(detail, '') FROM sched_runs "
                         "WHERE job_id = ?1 ORDER BY scheduled_ms DESC LIMIT ?2",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing scheduled runs");
  sqlite3_bind_int64(st, 1, job_id);
  sqlite3_bind_int(st, 2, limit);
  int rc, out = 0;
  store_sched_run r;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    memset(&r, 0, sizeof r);
    r.job_id = sqlite3_column_int64(st, 0);
    r.scheduled_ms = sqlite3_column_int64(st, 1);
    r.claimed_ms = sqlite3_column_int64(st, 2);
    r.finished_ms = sqlite3_column_int64(st, 3);
    store__col_copy(st, 4, r.claimed_by, sizeof r.claimed_by);
    store__col_copy(st, 5, r.status, sizeof r.status);
    store__col_copy(st, 6, r.detail, sizeof r.detail);
    if ((out = fn(&r, user)) != 0) break;
  }
  if (!out && rc != SQLITE_DONE) out = store_err(s, "listing scheduled runs");
  sqlite3_finalize(st);
  return out;
}

int store_sched_count_ok(store *s, uint64_t guild_id, int64_t since_ms, const char *const *kinds,
                         size_t n_kinds, int64_t *n) {
  *n = 0;
  /* the kinds travel as one string "\x1fa\x1fb\x1f", matched with instr() */
  buf set;
  buf_init(&set, 256);
  int rc = n_kinds ? buf_putc(&set, '\x1f') : 0;
  for (size_t i = 0; i < n_kinds && !rc; i++)
    if (buf_puts(&set, kinds[i]) || buf_putc(&set, '\x1f')) rc = MIMIC_ENOMEM;
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(store_db(s),
                                "SELECT count(*) FROM sched_runs r JOIN sched_jobs j ON j.id = "
                                "r.job_id WHERE r.status = 'ok' AND r.scheduled_ms >= ?2 "
                                "AND (?1 = 0 OR j.guild_id = ?1) "
                                "AND (?3 IS NULL OR instr(?3, char(31) || j.kind || char(31)) > 0)",
                                -1, &st, NULL) != SQLITE_OK)
    rc = store_err(s, "counting scheduled posts");
  if (!rc) {
    sqlite3_bind_int64(st, 1, (sqlite3_int64)guild_id);
    sqlite3_bind_int64(st, 2, since_ms);
    if (n_kinds) sqlite3_bind_text(st, 3, set.data, (int)set.len, SQLITE_STATIC);
    int step = sqlite3_step(st);
    if (step == SQLITE_ROW)
      *n = sqlite3_column_int64(st, 0);
    else
      rc = store_err(s, "counting scheduled posts");
  }
  sqlite3_finalize(st);
  buf_free(&set);
  return rc;
}

int store_sched_prune(store *s, int64_t before_ms, int64_t *n) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(store_db(s),
                         "DELETE FROM sched_runs WHERE scheduled_ms < ?1 AND status != 'running' "
                         "AND scheduled_ms < (SELECT last_ms FROM sched_jobs j "
                         "WHERE j.id = sched_runs.job_id)",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "pruning scheduled runs");
  sqlite3_bind_int64(st, 1, before_ms);
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) return store_err(s, "pruning scheduled runs");
  if (n) *n = sqlite3_changes(store_db(s));
  return 0;
}
