/* SentencePiece-style merges ("llama"): spaces escaped to U+2581, an optional leading one, pairs
 * merged by score, byte fallback for what no token covers. */
#include <string.h>

#include "llm/tok_int.h"

/* llama.cpp's character length from the first byte (lenient: continuation bytes count as 1). */
static size_t utf8_len_lenient(unsigned char c) {
  static const uint8_t lens[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
  return lens[c >> 4];
}

int tok__spm_fragment(session *s, const char *text, size_t len, bool prefix_space) {
  const tokenizer *t = s->t;
  int rc;
  /* The text with spaces escaped to U+2581, prefixed with one when asked. */
  size_t spaces = prefix_space ? 1 : 0;
  for (size_t i = 0; i < len; i++) spaces += text[i] == ' ';
  size_t wl = len + spaces * 2 + (prefix_space ? 1 : 0);
  if ((rc = tok__grow((void **)&s->w, &s->cw, wl + 1, 1))) return rc;
  size_t o = 0;
  if (prefix_space) {
    memcpy(s->w, "\xe2\x96\x81", 3);
    o = 3;
  }
  for (size_t i = 0; i < len; i++) {
    if (text[i] == ' ') {
      memcpy(s->w + o, "\xe2\x96\x81", 3);
      o += 3;
    } else {
      s->w[o++] = text[i];
    }
  }
  /* One symbol per character (lenient lengths, as llama.cpp). */
  if ((rc = tok__grow((void **)&s->sy, &s->csy, o + 1, sizeof *s->sy))) return rc;
  int32_t ns = 0;
  for (size_t i = 0; i < o;) {
    size_t cl = utf8_len_lenient((unsigned char)s->w[i]);
    if (cl > o - i) cl = o - i;
    s->sy[ns] = (sym){(uint32_t)i, (uint32_t)cl, ns - 1, -1, -1};
    if (ns > 0) s->sy[ns - 1].next = ns;
    ns++;
    i += cl;
  }
  if (ns == 0) return 0;
  /* Merge run by run between cut characters: no bigram can ever include one (no token longer
   * than a byte contains it), so the runs are independent and the result is the same as one loop
   * over everything. */
  int32_t run = 0;
  for (int32_t i = 0; i <= ns; i++) {
    bool cut = i == ns || (s->sy[i].len == 1 && (unsigned char)s->w[s->sy[i].off] < 128 &&
                           t->spm_cut[(unsigned char)s->w[s->sy[i].off]]);
    if (!cut) continue;
    s->nhp = 0;
    for (int32_t k = run + 1; k < i; k++)
      if ((rc = tok__spm_add_bigram(s, k - 1, k))) return rc;
    if ((rc = tok__merge_loop(s, false))) return rc;
    run = i + 1;
  }
  for (int32_t i = 0; i >= 0; i = s->sy[i].next) {
    const sym *y = &s->sy[i];
    int32_t id = tok__vocab_find(t, s->w + y->off, y->len);
    if (id != TOK_NULL) {
      if ((rc = tok__ivec_push(s->outv, id))) return rc;
      continue;
    }
    for (uint32_t j = 0; j < y->len; j++) { /* byte fallback */
      int32_t b = t->byte_tok[(unsigned char)s->w[y->off + j]];
      if (b != TOK_NULL && (rc = tok__ivec_push(s->outv, b))) return rc;
    }
  }
  return 0;
}
