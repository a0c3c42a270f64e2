/* A consistent copy of the database while the bot keeps writing: SQLite's online backup API reads
 * one snapshot (WAL mode lets writers go on meanwhile) into a new file, and a check of a copy
 * (integrity_check and the row counts) for `mimic backup --verify`. Not here: which other files a
 * backup holds (cli/cmd_backup.c). */
#ifndef MIMIC_STORE_BACKUP_H
#define MIMIC_STORE_BACKUP_H
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

typedef struct store_backup_info {
  int64_t pages;    /* database pages copied */
  int64_t bytes;    /* size of the copy */
  int64_t messages; /* rows in messages, in the copy */
} store_backup_info;

/* Copies s's database, as of one instant, to dest (a new file: MIMIC_EINVAL when it exists),
 * through dest.tmp + rename so a crash leaves no half copy; the copy gets mode 0600 (it holds
 * people's messages). Other connections may write meanwhile; they are not blocked (WAL). info may
 * be NULL. Errors (MIMIC_EDB, MIMIC_EIO) name the file. */
int store_backup(store *s, const char *dest, store_backup_info *info) MIMIC_MUST;

/* Opens the database file at path read-only and checks it: PRAGMA integrity_check must answer
 * "ok". Fills info (may be NULL; pages and bytes, and messages when the table exists). Returns 0,
 * MIMIC_EFORMAT with SQLite's first complaint, or MIMIC_EDB / MIMIC_ENOTFOUND naming the file. */
int store_backup_verify(const char *path, store_backup_info *info) MIMIC_MUST;

#endif
