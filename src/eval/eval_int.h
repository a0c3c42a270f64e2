/* Internals shared by the eval files: HTML and CSV escaping (folders and atomic writes: base/fs.h).
 */
#ifndef MIMIC_EVAL_INT_H
#define MIMIC_EVAL_INT_H
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* Appends s with & < > " ' escaped. */
int eval__html(buf *b, const char *s) MIMIC_MUST;
/* Appends s as one quoted CSV field (quotes doubled; a leading = + - @ gets an apostrophe so a
 * spreadsheet shows it as text). */
int eval__csv_field(buf *b, const char *s) MIMIC_MUST;

#endif
