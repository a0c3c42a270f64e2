/* Internals shared by the eval files: atomic file writes, folders, HTML and CSV escaping. */
#ifndef MIMIC_EVAL_INT_H
#define MIMIC_EVAL_INT_H
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* mkdir -p dir (mode 0700 for new folders). MIMIC_EIO naming the folder. */
int eval__mkdirs(const char *dir) MIMIC_MUST;
/* Writes data to path through path.tmp.<pid> + fsync + rename, so readers see the old file or the
 * whole new one. MIMIC_EIO naming the file. */
int eval__write_atomic(const char *path, const char *data, size_t n) MIMIC_MUST;
/* Appends s with & < > " ' escaped. */
int eval__html(buf *b, const char *s) MIMIC_MUST;
/* Appends s as one quoted CSV field (quotes doubled; a leading = + - @ gets an apostrophe so a
 * spreadsheet shows it as text). */
int eval__csv_field(buf *b, const char *s) MIMIC_MUST;

#endif
