/* Issue 19: the reply cleaner cuts at the turn markers of every chat family llm/chat.c renders,
 * Gemma's and Llama-2/Mistral's included, not only ChatML's and Llama-3's. */
#include <string.h>

#include "base/base.h"
#include "bot/reply.h"
#include "test.h"

static void expect(const char *in, const char *want) {
  char *s = reply_clean(in, NULL, 0);
  CHECK_STR(s, want);
  mem_free(s);
}

TEST(test_cuts_every_family) {
  expect("lmao same<end_of_turn>\n<start_of_turn>user\nbob: hi", "lmao same");
  expect("lmao same<start_of_turn>model", "lmao same");
  expect("lmao same [INST] bob: hi [/INST]", "lmao same");
  expect("lmao same [/INST]", "lmao same");
  expect("lmao same<|end|>\n<|user|>", "lmao same");
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(test_cuts_every_family);
  TEST_MAIN_END();
}
