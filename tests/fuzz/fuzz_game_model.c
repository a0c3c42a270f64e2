/* Fuzz target for what the model writes in games: the trivia question parser (checked against a
 * passage: the input's first line, when there is one) and the story passage parser. Any bytes
 * parse without a crash or a leak; what is accepted is capped and, for a grounded question, found
 * in the passage. */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "bot/answer_check.h"
#include "bot/game_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size > GAME_MODEL_MAX + 4096) return 0;
  const char *text = (const char *)data;
  const char *nl = memchr(text, '\n', size);
  char *chunk = NULL;
  if (nl) {
    size_t n = (size_t)(nl - text);
    chunk = xalloc(n + 1);
    memcpy(chunk, text, n);
    chunk[n] = 0;
  }
  game_item it;
  if (game_question_parse(text, size, chunk, &it) == 0) {
    if (strlen(it.answer) > GAME_ANSWER_MAX || strlen(it.question) > GAME_QUESTION_MAX)
      __builtin_trap();
    if (chunk && !answer_in_text(it.answer, chunk)) __builtin_trap();
    game_item_free(&it);
  } else {
    err_clear();
  }
  mem_free(chunk);
  game_passage p;
  for (int need = 0; need < 2; need++) {
    if (game_passage_parse(text, size, need, &p) == 0) {
      if (!p.text || p.n_choices > GAME_CHOICES_MAX || (need && p.n_choices < 2)) __builtin_trap();
      for (size_t i = 0; i < p.n_choices; i++)
        if (strlen(p.choices[i]) > GAME_CHOICE_MAX) __builtin_trap();
      game_passage_free(&p);
    } else {
      err_clear();
    }
  }
  return 0;
}
