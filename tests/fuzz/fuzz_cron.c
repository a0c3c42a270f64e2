/* Fuzz target for the cron parser and the next-fire search: the first line is an expression, the
 * second (optional) a POSIX TZ string. Fire times must strictly increase and the search must end.
 */
#include <stdint.h>
#include <string.h>

#include "base/cron.h"
#include "base/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char text[2 * CRON_EXPR_MAX];
  if (size >= sizeof text) return 0;
  memcpy(text, data, size);
  text[size] = 0;
  char *zone = strchr(text, '\n');
  if (zone) *zone++ = 0;
  cron_expr e;
  if (cron_parse(text, &e)) return 0;
  tz_zone *z = NULL;
  if (zone && *zone && tz_parse_posix(zone, &z)) z = NULL;
  int64_t t = 1790000000; /* 2026 */
  for (int i = 0; i < 8; i++) {
    int64_t next;
    if (cron_next(&e, z, t, &next)) break;
    if (next <= t) __builtin_trap();
    t = next;
  }
  tz_free(z);
  return 0;
}
