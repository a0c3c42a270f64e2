/* WordPiece ("bert", for bge): BERT's basic normalizer (lowercase, accents stripped, punctuation
 * and CJK split off), then greedy longest match per word, a word with no match becoming [UNK]. */
#include <string.h>

#include "base/utf8.h"
#include "llm/tok_int.h"

static bool is_cjk(uint32_t c) {
  return (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0x3400 && c <= 0x4DBF) ||
         (c >= 0x20000 && c <= 0x2A6DF) || (c >= 0x2A700 && c <= 0x2B73F) ||
         (c >= 0x2B740 && c <= 0x2B81F) || (c >= 0x2B820 && c <= 0x2CEAF) ||
         (c >= 0xF900 && c <= 0xFAFF) || (c >= 0x2F800 && c <= 0x2FA1F);
}

/* Greedy longest match from the left over "▁" + word; a word with any unmatched position becomes
 * [UNK] as a whole. */
static int wpm_word(session *s, const char *word, size_t wl) {
  const tokenizer *t = s->t;
  int rc;
  if (wl == 0) return 0;
  if ((rc = tok__grow((void **)&s->w, &s->cw, wl + 4, 1))) return rc;
  memcpy(s->w, "\xe2\x96\x81", 3);
  memcpy(s->w + 3, word, wl);
  size_t n = wl + 3, before = s->outv->n;
  for (size_t i = 0; i < n; i++) {
    bool match = false;
    size_t jmax = i + t->max_token_len + 1 < n ? i + t->max_token_len + 1 : n;
    for (size_t j = jmax; j > i; j--) {
      int32_t id = tok__vocab_find(t, s->w + i, j - i);
      if (id != TOK_NULL) {
        if ((rc = tok__ivec_push(s->outv, id))) return rc;
        match = true;
        i = j - 1;
        break;
      }
    }
    if (!match) {
      s->outv->n = before;
      break;
    }
  }
  if (s->outv->n == before) return tok__ivec_push(s->outv, t->unk);
  return 0;
}

int tok__wpm_fragment(session *s, const char *text, size_t len) {
  const tokenizer *t = s->t;
  int rc;
  /* Normalize into s->clean as words separated by NUL: whitespace ends a word, punctuation, ASCII
   * symbols and CJK ideographs are words of their own, controls are dropped. */
  if ((rc = tok__grow((void **)&s->clean, &s->cclean, len * 4 + 2, 1))) return rc;
  size_t o = 0, i = 0;
  bool in_word = false;
  while (i < len) {
    uint32_t cp;
    int k = utf8_decode(text + i, len - i, &cp);
    i += k > 0 ? (size_t)k : 1;
    if (k <= 0) cp = 0xFFFD;
    if (t->strip_accents) cp = tok__unfd_first(cp);
    if (tok__uspace(cp)) {
      if (in_word) s->clean[o++] = 0;
      in_word = false;
      continue;
    }
    int cls = tok__ucls(cp);
    if (cp == 0 || cp == 0xFFFD || cls == UCLASS_CONTROL) continue;
    if (t->strip_accents && cls == UCLASS_MARK) continue;
    if (t->lowercase) cp = tok__ulower_of(cp);
    char enc[4];
    int el = utf8_encode(cp, enc);
    if (el == 0) continue;
    if (cls == UCLASS_PUNCT || (cp < 0x7F && cls == UCLASS_SYMBOL) || is_cjk(cp)) {
      if (in_word) s->clean[o++] = 0;
      memcpy(s->clean + o, enc, (size_t)el);
      o += (size_t)el;
      s->clean[o++] = 0;
      in_word = false;
    } else {
      memcpy(s->clean + o, enc, (size_t)el);
      o += (size_t)el;
      in_word = true;
    }
  }
  if (in_word) s->clean[o++] = 0;
  for (size_t p = 0; p < o;) {
    size_t q = p;
    while (s->clean[q]) q++;
    if ((rc = wpm_word(s, s->clean + p, q - p))) return rc;
    p = q + 1;
  }
  return 0;
}
