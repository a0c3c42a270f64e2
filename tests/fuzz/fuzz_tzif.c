/* Fuzz target for the TZif reader and the POSIX TZ rules: the input is a zone file. A zone that
 * parses is then asked for offsets, changes and wall-clock instants around a few years, so hostile
 * footers and tables cannot crash, loop or break the answers' invariants. */
#include <stdint.h>
#include <string.h>

#include "base/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tz_zone *z = NULL;
  if (tz_parse(data, size, "fuzz", &z)) return 0;
  int64_t t = -86400LL * 365 * 10;
  for (int i = 0; i < 64; i++) {
    int32_t off = tz_offset_at(z, t);
    if (off < -26 * 3600 || off > 26 * 3600) __builtin_trap();
    int64_t inst[2], gap = 0;
    int n = tz_instants(z, tz_local(z, t), inst, &gap);
    if (n < 0 || n > 2 || (n == 2 && inst[0] >= inst[1])) __builtin_trap();
    int64_t next;
    int32_t before, after;
    if (tz_next_change(z, t, &next, &before, &after)) break;
    if (next <= t) __builtin_trap();
    t = next;
  }
  tz_free(z);
  return 0;
}
