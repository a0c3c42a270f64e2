/* Fuzz target for the Markdown and plain-text chunkers. The first byte picks the chunker; the rest
 * is the file. Invariants: nothing crashes or leaks; invalid UTF-8 or NUL bytes are refused with no
 * chunk; otherwise every passage is valid UTF-8, non-empty and at most LORE_CHUNK_HARD bytes, and
 * every title is valid UTF-8. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "lore/lore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  log_set_level(LOG_ERROR);
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  lore_chunks c = {0};
  int rc =
      data[0] & 1 ? lore_chunk_text("fuzz", text, n, &c) : lore_chunk_markdown("fuzz", text, n, &c);
  bool valid = utf8_valid(text, n) && memchr(text, 0, n) == NULL;
  if ((rc != 0) == valid || (rc && c.n)) {
    fprintf(stderr, "fuzz_lore_markdown: rc %d for %s input with %zu chunks\n", rc,
            valid ? "valid" : "invalid", c.n);
    abort();
  }
  for (size_t i = 0; i < c.n; i++) {
    size_t l = strlen(c.v[i].text);
    if (l == 0 || l > LORE_CHUNK_HARD || !utf8_valid(c.v[i].text, l) ||
        !utf8_valid(c.v[i].title, strlen(c.v[i].title))) {
      fprintf(stderr, "fuzz_lore_markdown: bad passage %zu (%zu bytes)\n", i, l);
      abort();
    }
  }
  lore_chunks_free(&c);
  err_clear();
  return 0;
}
