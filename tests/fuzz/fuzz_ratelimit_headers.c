/* Fuzz target for the rate-limit header parser and route parser: the input is a raw HTTP response
 * header block (lines split on '\n'); its first line is also parsed as a request path. The parsed
 * facts then drive the limiter through a few acquire/complete rounds, so hostile values (huge
 * Reset-After, negative counts, odd bucket ids, every scope) cannot crash or wedge it. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "discord/ratelimit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > 65536) return 0;
  const char *s = (const char *)data;
  rl_headers h;
  rl_headers_init(&h);
  size_t start = 0;
  for (size_t i = 0; i <= size; i++) {
    if (i == size || s[i] == '\n') {
      rl_headers_parse_line(&h, s + start, i - start + (i < size ? 1 : 0));
      start = i + 1;
    }
  }
  /* invariants of a parse */
  if (h.has_remaining && h.remaining < 0) __builtin_trap();
  if (h.has_limit && h.limit < 0) __builtin_trap();
  if (memchr(h.bucket, 0, sizeof h.bucket) == NULL) __builtin_trap();

  char path[300];
  const char *nl = memchr(s, '\n', size);
  size_t pl = nl ? (size_t)(nl - s) : size;
  if (pl >= sizeof path) pl = sizeof path - 1;
  memcpy(path, s, pl);
  path[pl] = 0;
  rl_route rt;
  if (rl_route_parse("GET", path, &rt) != 0 &&
      rl_route_parse("GET", "/channels/1/messages", &rt) != 0)
    return 0;

  rl *r = rl_new(NULL);
  uint64_t now = 1000;
  for (int round = 0; round < 4; round++) {
    rl_ticket t;
    int64_t w = rl_acquire(r, &rt, now, &t);
    if (w == 0) {
      int status = (h.scope != RL_SCOPE_NONE || h.global) ? 429 : (round & 1 ? 200 : 403);
      rl_complete(r, &t, &rt, status, &h, now + 1);
    } else if (w < 0) {
      __builtin_trap(); /* waits are positive */
    }
    now += (w > 0 && w != RL_WAIT_RESPONSE && w < 1000000) ? (uint64_t)w : 10;
  }
  rl_destroy(r);
  return 0;
}
