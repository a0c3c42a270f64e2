/* Small filesystem helpers every layer needs: creating folders, reading a whole (capped) file, and
 * replacing a whole file atomically. Not here: anything that streams (the GGUF writer and dataset
 * exports keep their own tmp + fsync + rename around a FILE stream). */
#ifndef MIMIC_BASE_FS_H
#define MIMIC_BASE_FS_H
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"

/* mkdir -p dir (new folders get mode 0700: they may hold people's messages). Returns 0 or
 * MIMIC_EIO / MIMIC_ERANGE naming the folder. */
int fs_mkdirs(const char *dir) MIMIC_MUST;
/* mkdir -p of the folders above the file `path` (nothing when path has no folder part). */
int fs_mkdirs_for(const char *path) MIMIC_MUST;
/* Writes data to path through path.tmp.<pid> + fsync + rename, so readers see the old file or the
 * whole new one. MIMIC_EIO naming the file. */
int fs_write_atomic(const char *path, const void *data, size_t n) MIMIC_MUST;
/* Reads the whole file at path: *data gets its bytes plus a NUL (caller frees with mem_free; never
 * NULL on success, "" for an empty file), *n their count. cap: the most bytes accepted (0: no cap).
 * Errors, each naming the path: MIMIC_EIO (cannot open, with the system's reason, or a read error),
 * MIMIC_ERANGE ("over the N-byte cap"), MIMIC_ENOMEM. *data is NULL after an error. */
int fs_read_file(const char *path, size_t cap, char **data, size_t *n) MIMIC_MUST;
/* The same for an open stream (read to its end, not closed); what names it in errors ("stdin"). */
int fs_read_stream(FILE *f, const char *what, size_t cap, char **data, size_t *n) MIMIC_MUST;

#endif
