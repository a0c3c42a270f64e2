/* Online backup and verification of the database (see backup.h). */
#include "store/backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store_int.h"

/* Page count, page size and messages rows of an open connection (messages: -1 without the table).
 */
static void db_figures(sqlite3 *db, store_backup_info *info) {
  sqlite3_stmt *st = NULL;
  int64_t pages = 0, psize = 0;
  if (sqlite3_prepare_v2(db, "PRAGMA page_count", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    pages = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  if (sqlite3_prepare_v2(db, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    psize = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  st = NULL;
  info->pages = pages;
  info->bytes = pages * psize;
  info->messages = -1;
  if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &st, NULL) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW)
    info->messages = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
}

int store_backup(store *s, const char *dest, store_backup_info *info) {
  struct stat sb;
  if (stat(dest, &sb) == 0)
    return err_set(MIMIC_EINVAL, "%s already exists; a backup never overwrites a file", dest);
  char tmp[4096];
  if (snprintf(tmp, sizeof tmp, "%s.tmp.%d", dest, (int)getpid()) >= (int)sizeof tmp)
    return err_set(MIMIC_EINVAL, "%s: path too long", dest);
  /* Create the file with mode 0600 before SQLite opens it (SQLite would use 0644). */
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot create: %s", tmp, strerror(errno));
  close(fd);
  sqlite3 *out = NULL;
  int rc = 0;
  if (sqlite3_open_v2(tmp, &out, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
    rc = err_set(MIMIC_EDB, "%s: cannot open: %s", tmp, out ? sqlite3_errmsg(out) : "no memory");
    goto out;
  }
  sqlite3_backup *bk = sqlite3_backup_init(out, "main", s->db, "main");
  if (!bk) {
    rc = err_set(MIMIC_EDB, "%s: cannot start the backup: %s", dest, sqlite3_errmsg(out));
    goto out;
  }
  /* All pages in one step: one read transaction, so the copy is one snapshot even while other
   * connections commit (stepping in chunks would restart on every outside write). */
  int src = sqlite3_backup_step(bk, -1);
  int fin = sqlite3_backup_finish(bk);
  if (src != SQLITE_DONE || fin != SQLITE_OK) {
    rc = err_set(MIMIC_EDB, "%s: backup failed: %s", dest,
                 sqlite3_errstr(src != SQLITE_DONE ? src : fin));
    goto out;
  }
  /* The copy is a plain file (no -wal/-shm beside it, even when opened read-only); store_open
   * turns WAL back on after a restore. */
  if (sqlite3_exec(out, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL) != SQLITE_OK) {
    rc = err_set(MIMIC_EDB, "%s: %s", dest, sqlite3_errmsg(out));
    goto out;
  }
  store_backup_info tmp_info;
  db_figures(out, info ? info : &tmp_info);
  if (sqlite3_close(out) != SQLITE_OK) {
    out = NULL;
    rc = err_set(MIMIC_EDB, "%s: cannot close the copy", dest);
    goto out;
  }
  out = NULL;
  fd = open(tmp, O_RDONLY);
  bool synced = fd >= 0 && fsync(fd) == 0;
  if (fd >= 0) close(fd);
  if (!synced || rename(tmp, dest) != 0) {
    rc = err_set(MIMIC_EIO, "%s: cannot write the copy: %s", dest, strerror(errno));
    goto out;
  }
out:
  if (out) sqlite3_close(out);
  if (rc) unlink(tmp);
  return rc;
}

int store_backup_verify(const char *path, store_backup_info *info) {
  if (access(path, R_OK) != 0)
    return err_set(MIMIC_ENOTFOUND, "%s: cannot read the database copy: %s", path, strerror(errno));
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int rc = 0;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    rc = err_set(MIMIC_EDB, "%s: cannot open: %s", path, db ? sqlite3_errmsg(db) : "no memory");
    goto out;
  }
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) {
    rc = err_set(MIMIC_EFORMAT, "%s: not a database SQLite can read: %s", path, sqlite3_errmsg(db));
    goto out;
  }
  int step = sqlite3_step(st);
  const char *verdict = step == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
  if (!verdict || strcmp(verdict, "ok") != 0) {
    rc = err_set(MIMIC_EFORMAT, "%s: integrity check failed: %s", path,
                 verdict ? verdict : sqlite3_errmsg(db));
    goto out;
  }
  if (info) db_figures(db, info);
out:
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rc;
}
