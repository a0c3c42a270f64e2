/* Fuzz target for the question bank parser (games.trivia_bank / games.riddle_bank files): any
 * bytes parse without a crash or a leak, and every question kept has a non-empty, capped, UTF-8
 * question and answer that the answer checker accepts as itself. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "bot/answer_check.h"
#include "bot/game_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  game_bank b;
  if (game_bank_parse((const char *)data, size, &b)) {
    err_clear();
    return 0;
  }
  for (size_t i = 0; i < b.n; i++) {
    const game_item *it = &b.v[i];
    size_t q = strlen(it->question), a = strlen(it->answer);
    if (!q || q > GAME_QUESTION_MAX || !a || a > GAME_ANSWER_MAX || !utf8_valid(it->question, q) ||
        !utf8_valid(it->answer, a))
      __builtin_trap();
    char norm[1024];
    if (answer_normalize(it->answer, norm, sizeof norm) &&
        !answer_check(it->answer, it->answer, it->aliases))
      __builtin_trap();
  }
  game_bank_free(&b);
  return 0;
}
