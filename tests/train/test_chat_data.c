/* Issue 19: a chat dataset on a base whose vocabulary has no ChatML tokens (a SentencePiece
 * vocabulary without a chat template) loads with the plain rendering instead of stopping with
 * "the vocabulary has no <|im_start|> token"; the trained span is the reply and its EOS. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"
#include "test.h"
#include "train/train.h"

TEST(test_chat_set_on_plain_vocab) {
  char path[1024];
  if (!test_shared_path("testdata/tokenizer/ggml-vocab-llama-spm.gguf", path, sizeof path))
    SKIP("../shared/testdata absent");
  gguf_file *f = NULL;
  tokenizer *t = NULL;
  CHECK_OK(gguf_open(path, &f));
  CHECK_OK(tok_load(f, &t));
  gguf_close(f);
  REQUIRE(t);
  REQUIRE(tok_find(t, "<|im_start|>", 12) == TOK_NULL);
  char p[] = "/tmp/mimic_test_chat_data_XXXXXX";
  int fd = mkstemp(p);
  REQUIRE(fd >= 0);
  const char *jsonl =
      "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": \"user\", "
      "\"content\": \"Ann: hi\"}, {\"role\": \"assistant\", \"content\": \"Cat: yo\"}]}\n";
  REQUIRE(write(fd, jsonl, strlen(jsonl)) == (ssize_t)strlen(jsonl));
  close(fd);
  train_data *d = NULL;
  CHECK_OK(train_data_load(p, t, false, 512, &d));
  REQUIRE(d);
  CHECK_INT(d->n, 1);
  /* The targets are the reply's tokens through EOS, and nothing before "assistant:". */
  const train_sample *s = &d->s[0];
  int last = -1, first = -1;
  for (int i = 0; i < s->n; i++)
    if (s->mask[i]) {
      if (first < 0) first = i;
      last = i;
    }
  REQUIRE(first > 0);
  CHECK_INT(s->tok[last], tok_eos(t));
  char *dec = NULL;
  size_t dl = 0;
  CHECK_OK(tok_decode_all(t, s->tok + first, (size_t)(last - first), 0, &dec, &dl));
  CHECK(dec && strstr(dec, "Cat: yo") != NULL && strstr(dec, "Ann") == NULL);
  mem_free(dec);
  train_data_destroy(d);
  unlink(p);
  tok_destroy(t);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(test_chat_set_on_plain_vocab);
  TEST_MAIN_END();
}
