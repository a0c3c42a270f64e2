/* Fuzz target for the World Info / character book parser and the JSON-lines chunker (lore files
 * come from anywhere: downloaded lorebooks, cards). The first byte picks the parser; the rest is
 * the file. Invariants: nothing crashes or leaks; an error leaves no chunk behind; every chunk's
 * strings are valid UTF-8 within the caps, and World Info chunks carry at most LORE_KEYS_MAX keys
 * per list; activation of the parsed entries on the input itself never crashes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "lore/lore.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *s, size_t cap) {
  size_t n = strlen(s);
  if (n > cap || !utf8_valid(s, n)) {
    fprintf(stderr, "fuzz_lore_book: bad chunk string\n");
    abort();
  }
}

static size_t lines(const char *s) {
  size_t n = *s ? 1 : 0;
  for (; *s; s++) n += *s == '\n';
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > (1u << 20)) return 0;
  log_set_level(LOG_ERROR);
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  lore_chunks c = {0};
  int rc =
      data[0] & 1 ? lore_chunk_jsonl("fuzz", text, n, &c) : lore_parse_book("fuzz", text, n, &c);
  if (rc && c.n && !(data[0] & 1)) {
    fprintf(stderr, "fuzz_lore_book: an error left %zu chunks\n", c.n);
    abort();
  }
  for (size_t i = 0; i < c.n; i++) {
    check(c.v[i].title, STORE_LORE_TEXT_MAX);
    check(c.v[i].text, STORE_LORE_TEXT_MAX);
    if (c.v[i].wi) {
      check(c.v[i].keys, STORE_LORE_TEXT_MAX);
      check(c.v[i].keys2, STORE_LORE_TEXT_MAX);
      if (lines(c.v[i].keys) > LORE_KEYS_MAX || lines(c.v[i].keys2) > LORE_KEYS_MAX) abort();
      store_lore_chunk e = {.keys = c.v[i].keys,
                            .keys2 = c.v[i].keys2,
                            .logic = c.v[i].logic,
                            .constant = c.v[i].constant,
                            .enabled = c.v[i].enabled};
      char *hay = utf8_repair(text, n < 4096 ? n : 4096);
      if (hay) (void)lore_wi_fires(&e, hay);
      mem_free(hay);
    }
  }
  lore_chunks_free(&c);
  err_clear();
  return 0;
}
