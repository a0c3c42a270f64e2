/* The failure path of MIMIC_ASSERT (assert.h): one line on stderr, then abort, so a core dump or
 * the sanitizer's report shows where the invariant broke. */
#include "base/assert.h"

#include <stdio.h>
#include <stdlib.h>

void mimic__assert_fail(const char *expr, const char *file, int line, const char *func) {
  fprintf(stderr, "%s:%d: %s: assertion `%s' failed\n", file, line, func, expr);
  fflush(stderr);
  abort();
}
