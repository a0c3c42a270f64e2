/* Fuzz target for the training data reader (JSONL conversations and preference pairs, tokenized
 * through chat templates) and for packing: any bytes must give samples whose masks and lengths are
 * consistent, or an error naming the line; never a crash or a leak. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"
#include "train/train_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static tokenizer *tok;
  static char path[64];
  if (!tok) {
    log_set_level(LOG_ERROR);
    if (train__vocab_builtin(&tok)) abort();
    snprintf(path, sizeof path, "/tmp/fuzz-train-data-%d.jsonl", (int)getpid());
  }
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  for (int pairs = 0; pairs < 2; pairs++) {
    train_data *d = NULL;
    if (train_data_load(path, tok, pairs, 32, &d) != 0) continue;
    for (size_t i = 0; i < d->n; i++) {
      const train_sample *s = &d->s[i];
      if (s->n < 1 || s->n > (pairs ? 16 : 32) || s->mask[0] || s->n_target < 1) abort();
      for (int k = 0; k < s->n; k++)
        if (s->tok[k] < 0 || s->tok[k] >= tok_n_vocab(tok)) abort();
    }
    train_pack p;
    if (train_pack_init(&p, 32) == 0) {
      uint32_t *order = train_data_order(d, 1, 0);
      size_t cur = 0, n = train_data_items(d);
      while (cur < n)
        if (train_pack_fill(&p, d, order, n, &cur) < 1 || p.T > 32) abort();
      mem_free(order);
      train_pack_free(&p);
    }
    train_data_destroy(d);
  }
  unlink(path);
  return 0;
}
