/* Fuzz target for persona routing (bot/persona_route.h): any message text (invalid UTF-8, huge,
 * NUL bytes cut it) must give at most max_answer picks of known personas, each once, never a crash
 * or a leak; the regex triggers see the bytes as they come. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "bot/persona_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const char *aliases[] = {"glord", "the potato"};
  static const char *kw[] = {"potato", "earthling"};
  static const char *re[] = {"\\bcommunicat(e|or)s?\\b", "^(a+)+$", "[[:alpha:]]{3,}!"};
  static const float va[4] = {1, 0, 0, 0}, vb[4] = {0, 1, 0, 0};
  proute_persona p[3] = {
      {.id = 1,
       .name = "Glordon",
       .aliases = aliases,
       .n_aliases = 2,
       .keywords = kw,
       .n_keywords = 2,
       .freewill = 0.5,
       .vec = va},
      {.id = 2, .name = "Elio", .regexes = re, .n_regexes = 3, .freewill = 1, .vec = vb},
      {.id = 3, .name = "\xC3\x89lodie", .freewill = 0.1},
  };
  proute_set *s = NULL;
  if (proute_set_new(p, 3, 4, &s) != 0) abort();
  char *text = xalloc(size + 1);
  memcpy(text, data, size);
  text[size] = 0;
  float mv[4] = {size > 0 ? (float)data[0] : 0.5f, 1, 0, 0};
  prng r;
  prng_seed(&r, size);
  for (int dm = 0; dm < 2; dm++) {
    proute_msg m = {.channel_id = 11,
                    .is_dm = dm,
                    .content = text,
                    .dm_choice = dm ? 3 : 0,
                    .reply_to_persona = size % 4,
                    .vec = mv,
                    .relevance_threshold = 0.3,
                    .max_answer = 2};
    proute_pick pk[3];
    size_t n = proute_decide(s, &m, &r, pk, 3);
    if (n > 2) abort();
    for (size_t i = 0; i < n; i++) {
      if (pk[i].id < 1 || pk[i].id > 3 || pk[i].why == PROUTE_NONE) abort();
      for (size_t k = 0; k < i; k++)
        if (pk[k].id == pk[i].id) abort();
    }
  }
  (void)proute_addressed(text, "Glordon");
  (void)proute_addressed(text, text);
  mem_free(text);
  proute_set_destroy(s);
  return 0;
}
