/* Long jobs' progress rows (jobs.h). */
#include "store/jobs.h"

#include <math.h>
#include <string.h>

#include "store/store_int.h"

const char *store_job_state_name(store_job_state st) {
  static const char *const names[] = {"queued", "running", "done", "failed", "cancelled"};
  return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

int store_job_add(store *s, const char *kind, store_job_state state, int64_t pid, int64_t *id) {
  if (!kind || !*kind || strlen(kind) >= sizeof((store_job *)0)->kind)
    return err_set(MIMIC_EINVAL, "a job needs a short kind name");
  sqlite3_stmt *st;
  if (store_stmt(
          s,
          "INSERT INTO jobs(kind, state, pid, started_ms, updated_ms, finished_ms, done, "
          "total, loss, message, log_path) VALUES (?1, ?2, ?3, ?4, ?4, 0, 0, 0, NULL, '', '')",
          &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, kind);
  sqlite3_bind_int(st, 2, (int)state);
  sqlite3_bind_int64(st, 3, pid);
  sqlite3_bind_int64(st, 4, clock_wall_ms());
  int rc = store__step_done(s, st, "adding a job");
  if (!rc) *id = sqlite3_last_insert_rowid(store_db(s));
  return rc;
}

/* Text bound with its length capped on a UTF-8 boundary. */
static void bind_capped(sqlite3_stmt *st, int i, const char *t) {
  if (!t) {
    sqlite3_bind_null(st, i);
    return;
  }
  size_t n = strlen(t);
  if (n >= STORE_JOB_TEXT_MAX) {
    n = STORE_JOB_TEXT_MAX - 1;
    while (n > 0 && ((unsigned char)t[n] & 0xC0) == 0x80) n--;
  }
  sqlite3_bind_text(st, i, t, (int)n, SQLITE_TRANSIENT);
}

int store_job_progress(store *s, int64_t id, int64_t pid, int64_t done, int64_t total, double loss,
                       const char *message, const char *log_path) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE jobs SET state = CASE WHEN state <= 1 THEN 1 ELSE state END, "
                 "pid = CASE WHEN ?2 > 0 THEN ?2 ELSE pid END, updated_ms = ?3, done = ?4, "
                 "total = ?5, loss = COALESCE(?6, loss), message = COALESCE(?7, message), "
                 "log_path = COALESCE(?8, log_path) WHERE id = ?1",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int64(st, 2, pid);
  sqlite3_bind_int64(st, 3, clock_wall_ms());
  sqlite3_bind_int64(st, 4, done);
  sqlite3_bind_int64(st, 5, total);
  if (isfinite(loss))
    sqlite3_bind_double(st, 6, loss);
  else
    sqlite3_bind_null(st, 6);
  bind_capped(st, 7, message);
  bind_capped(st, 8, log_path);
  int rc = store__step_done(s, st, "recording a job's progress");
  if (!rc && sqlite3_changes(store_db(s)) == 0)
    rc = err_set(MIMIC_ENOTFOUND, "job %lld does not exist", (long long)id);
  return rc;
}

int store_job_finish(store *s, int64_t id, store_job_state state, const char *message) {
  if (state < STORE_JOB_DONE) return err_set(MIMIC_EINVAL, "a job ends done, failed or cancelled");
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE jobs SET state = ?2, updated_ms = ?3, finished_ms = ?3, "
                 "message = COALESCE(?4, message) WHERE id = ?1 AND state <= 1",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  sqlite3_bind_int(st, 2, (int)state);
  sqlite3_bind_int64(st, 3, clock_wall_ms());
  bind_capped(st, 4, message);
  return store__step_done(s, st, "ending a job");
}

static void read_row(sqlite3_stmt *st, store_job *j) {
  memset(j, 0, sizeof *j);
  j->id = sqlite3_column_int64(st, 0);
  store__col_copy(st, 1, j->kind, sizeof j->kind);
  j->state = (store_job_state)sqlite3_column_int(st, 2);
  j->pid = sqlite3_column_int64(st, 3);
  j->started_ms = sqlite3_column_int64(st, 4);
  j->updated_ms = sqlite3_column_int64(st, 5);
  j->finished_ms = sqlite3_column_int64(st, 6);
  j->done = sqlite3_column_int64(st, 7);
  j->total = sqlite3_column_int64(st, 8);
  j->loss = sqlite3_column_type(st, 9) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 9);
  store__col_copy(st, 10, j->message, sizeof j->message);
  store__col_copy(st, 11, j->log_path, sizeof j->log_path);
}

#define JOB_COLS                                                                                   \
  "id, kind, state, pid, started_ms, updated_ms, finished_ms, done, total, loss, message, "        \
  "log_path"

int store_job_get(store *s, int64_t id, store_job *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " JOB_COLS " FROM jobs WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) read_row(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? err_set(MIMIC_ENOTFOUND, "job %lld does not exist", (long long)id)
                           : store_err(s, "reading a job");
}

int store_job_each(store *s, int limit, store_job_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(store_db(s), "SELECT " JOB_COLS " FROM jobs ORDER BY id DESC LIMIT ?1", -1,
                         &st, NULL) != SQLITE_OK)
    return store_err(s, "listing jobs");
  sqlite3_bind_int(st, 1, limit > 0 ? limit : 50);
  int rc = 0, step;
  store_job j;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    read_row(st, &j);
    if ((rc = fn(&j, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing jobs");
  sqlite3_finalize(st);
  return rc;
}
