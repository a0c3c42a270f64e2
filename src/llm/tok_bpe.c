/* Byte-level BPE ("gpt2": Qwen2, Llama-3, GPT-2): lenient UTF-8 clean-up, the pre-tokenizer
 * regexes, then each word's bytes mapped to printable code points and merged by rank. */
#include <string.h>

#include "base/utf8.h"
#include "llm/tok_int.h"

/* Lenient UTF-8 clean-up mirroring llama.cpp: each byte that does not start a well-formed sequence
 * becomes U+FFFD. Writes into s->clean. */
static int sanitize(session *s, const char *text, size_t len, size_t *out_len) {
  int rc = tok__grow((void **)&s->clean, &s->cclean, len * 3 + 1, 1);
  if (rc) return rc;
  size_t i = 0, o = 0;
  while (i < len) {
    unsigned char c = (unsigned char)text[i];
    if (c < 0x80) {
      s->clean[o++] = (char)c;
      i++;
      continue;
    }
    uint32_t cp;
    int k = utf8_decode(text + i, len - i, &cp);
    if (k > 0) {
      memcpy(s->clean + o, text + i, (size_t)k);
      o += (size_t)k;
      i += (size_t)k;
    } else {
      memcpy(s->clean + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
    }
  }
  *out_len = o;
  return 0;
}

/* Applies the pre-tokenizer regexes in turn; each splits every current piece into matches and the
 * gaps between them (gaps are kept, as in llama.cpp). Result: s->spl pairs over s->clean. */
static int regex_split(session *s, size_t len) {
  int rc;
  s->nspl = 0;
  rc = tok__grow((void **)&s->spl, &s->cspl, 2, sizeof *s->spl);
  if (rc) return rc;
  s->spl[0] = 0;
  s->spl[1] = len;
  s->nspl = 1;
  for (int r = 0; r < s->t->n_re; r++) {
    s->nspl2 = 0;
    for (size_t k = 0; k < s->nspl; k++) {
      size_t base = s->spl[2 * k], n = s->spl[2 * k + 1];
      const char *subj = s->clean + base;
      size_t pos = 0, start = 0;
      while (start < n) {
        int m =
            pcre2_match(s->t->re[r], (PCRE2_SPTR)subj, n, start, PCRE2_NO_UTF_CHECK, s->md, NULL);
        if (m == PCRE2_ERROR_NOMATCH) break;
        if (m < 0) {
          PCRE2_UCHAR msg[128];
          pcre2_get_error_message(m, msg, sizeof msg);
          return err_set(MIMIC_EFORMAT, "tokenizer: pre-tokenizer regex failed: %s",
                         (const char *)msg);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(s->md);
        size_t ms = ov[0], me = ov[1];
        if (me == ms) { /* empty match: step over one character */
          start = ms + 1;
          while (start < n && ((unsigned char)subj[start] & 0xC0) == 0x80) start++;
          continue;
        }
        if ((rc = tok__grow((void **)&s->spl2, &s->cspl2, 2 * (s->nspl2 + 2), sizeof *s->spl2)))
          return rc;
        if (ms > pos) {
          s->spl2[2 * s->nspl2] = base + pos;
          s->spl2[2 * s->nspl2 + 1] = ms - pos;
          s->nspl2++;
        }
        s->spl2[2 * s->nspl2] = base + ms;
        s->spl2[2 * s->nspl2 + 1] = me - ms;
        s->nspl2++;
        pos = start = me;
      }
      if (pos < n) {
        if ((rc = tok__grow((void **)&s->spl2, &s->cspl2, 2 * (s->nspl2 + 1), sizeof *s->spl2)))
          return rc;
        s->spl2[2 * s->nspl2] = base + pos;
        s->spl2[2 * s->nspl2 + 1] = n - pos;
        s->nspl2++;
      }
    }
    size_t *tmp = s->spl;
    s->spl = s->spl2;
    s->spl2 = tmp;
    size_t tc = s->cspl;
    s->cspl = s->cspl2;
    s->cspl2 = tc;
    s->nspl = s->nspl2;
  }
  return 0;
}

static int bpe_word(session *s, const char *word, size_t wlen) {
  const tokenizer *t = s->t;
  int rc;
  /* Map bytes to their printable code points. */
  if ((rc = tok__grow((void **)&s->w, &s->cw, wlen * 2 + 1, 1))) return rc;
  if ((rc = tok__grow((void **)&s->sy, &s->csy, wlen, sizeof *s->sy))) return rc;
  size_t o = 0;
  for (size_t i = 0; i < wlen; i++) {
    unsigned char b = (unsigned char)word[i];
    s->sy[i].off = (uint32_t)o;
    s->sy[i].len = t->bmap_len[b];
    s->sy[i].prev = (int32_t)i - 1;
    s->sy[i].next = i + 1 < wlen ? (int32_t)i + 1 : -1;
    memcpy(s->w + o, t->bmap[b], t->bmap_len[b]);
    o += t->bmap_len[b];
  }
  if (t->ignore_merges) {
    int32_t id = tok__vocab_find(t, s->w, o);
    if (id != TOK_NULL) return tok__ivec_push(s->outv, id);
  }
  for (size_t i = 0; i < wlen; i++)
    s->sy[i].piece = tok__piece_find(t, s->w + s->sy[i].off, s->sy[i].len);
  s->nhp = 0;
  for (size_t i = 1; i < wlen; i++)
    if ((rc = tok__bpe_add_bigram(s, (int32_t)i - 1, (int32_t)i))) return rc;
  if ((rc = tok__merge_loop(s, true))) return rc;
  for (int32_t i = 0; i >= 0; i = s->sy[i].next) {
    const sym *y = &s->sy[i];
    int32_t id = y->piece >= 0 && y->piece < t->n ? y->piece : TOK_NULL;
    if (id != TOK_NULL) {
      if ((rc = tok__ivec_push(s->outv, id))) return rc;
      continue;
    }
    /* Not a token: llama.cpp emits each byte of the mapped text that is a token by itself. */
    for (uint32_t j = 0; j < y->len; j++) {
      int32_t b = tok__vocab_find(t, s->w + y->off + j, 1);
      if (b != TOK_NULL && (rc = tok__ivec_push(s->outv, b))) return rc;
    }
  }
  return 0;
}

int tok__bpe_fragment(session *s, const char *text, size_t len) {
  size_t clen;
  int rc = sanitize(s, text, len, &clen);
  if (rc) return rc;
  if ((rc = regex_split(s, clen))) return rc;
  for (size_t k = 0; k < s->nspl; k++)
    if ((rc = bpe_word(s, s->clean + s->spl[2 * k], s->spl[2 * k + 1]))) return rc;
  return 0;
}
