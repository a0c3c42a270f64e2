/* Fuzz target for the openai backend's response parser (src/llm/backend_openai.c): server-sent
 * events split across reads at any byte, comments, multi-line data, [DONE], error events, and the
 * one-JSON-object answer of servers that ignore "stream". The first byte picks chat or completion
 * mode, SSE or JSON, and the read size (1..64 bytes); the rest is the response body. Invariants:
 * nothing crashes or leaks, the text handed to on_token is valid UTF-8 and never holds a stop
 * string, and the same body gives the same text whatever the read size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "llm/backend_impl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const stops[] = {"STOP", "\n\n\n"};

static int parse(const uint8_t *body, size_t n, size_t chunk, bool chat, bool json, buf *text,
                 llm_finish *fin) {
  buf_init(text, 1u << 24);
  return llm__openai_parse((const char *)body, n, chunk, chat, json, stops, 2, text, fin);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > (1u << 16)) return 0;
  log_set_level(LOG_ERROR);
  bool chat = data[0] & 1, json = data[0] & 2;
  size_t chunk = 1 + (data[0] >> 2);
  buf a, b;
  llm_finish fa = LLM_FINISH_EOG, fb = LLM_FINISH_EOG;
  int ra = parse(data + 1, size - 1, chunk, chat, json, &a, &fa);
  int rb = parse(data + 1, size - 1, size, chat, json, &b, &fb); /* all at once */
  const char *t = a.data ? a.data : "";
  if (!utf8_valid(t, a.len) || memmem(t, a.len, "STOP", 4) || memmem(t, a.len, "\n\n\n", 3)) {
    fprintf(stderr, "fuzz_sse: bad text (%zu bytes)\n", a.len);
    abort();
  }
  /* Split reads must not change the outcome of a stream that parsed cleanly both ways. */
  if (ra == 0 && rb == 0 &&
      (fa != fb || a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))) {
    fprintf(stderr, "fuzz_sse: read size %zu changed the result\n", chunk);
    abort();
  }
  buf_free(&a);
  buf_free(&b);
  return 0;
}
