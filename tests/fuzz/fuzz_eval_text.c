/* Fuzz target for the eval layer's readers of outside text: the blind-sheet CSV reader (any bytes:
 * records or a clean error, the cursor always advancing) and the style metrics over hostile UTF-8
 * (the input's lines as two message sets: every rate, cosine and divergence must stay in [0, 1]).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "eval/eval.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void in01(double x) {
  if (!(x >= 0 && x <= 1 + 1e-9)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *d = (const char *)data;
  size_t pos = 0, nf;
  char **f;
  int rc, records = 0;
  while ((rc = eval_csv_record(d, size, &pos, &f, &nf)) == 1) {
    if (nf == 0 || pos > size) abort();
    eval_csv_free(f, nf);
    if (++records > (int)size + 1) abort(); /* the cursor must advance */
  }
  /* lines -> messages (NUL bytes end a message early, as they would in C strings) */
  char *copy = xalloc(size + 1);
  memcpy(copy, data, size);
  copy[size] = 0;
  const char *msgs[256];
  size_t n = 0;
  for (char *p = copy; n < 256;) {
    msgs[n++] = p;
    char *nl = memchr(p, '\n', size - (size_t)(p - copy));
    if (!nl) break;
    *nl = 0;
    p = nl + 1;
  }
  size_t half = n / 2;
  eval_compare c;
  if (eval_compare_sets(msgs, half, msgs + half, n - half, msgs, n, 3, &c) == 0) {
    const eval_style *s[2] = {&c.real, &c.gen};
    for (int i = 0; i < 2; i++) {
      in01(s[i]->distinct1);
      in01(s[i]->distinct2);
      in01(s[i]->rate_emoji);
      in01(s[i]->rate_caps);
      in01(s[i]->rate_lower_start);
      in01(s[i]->rate_punct_run);
      in01(s[i]->rate_question);
      in01(s[i]->rate_end_punct);
    }
    in01(c.len_jsd);
    in01(c.len_ks);
    in01(c.tfidf_cos);
    in01(c.vocab_jaccard);
    in01(c.copy_rate);
  }
  mem_free(copy);
  return 0;
}
