/* Ids -> text (tokenizer.h): the streaming decoder, which holds back the bytes of a character split
 * across tokens and only ever emits complete, valid UTF-8, and tok_decode_all over it. */
#include <string.h>

#include "base/assert.h"
#include "llm/tok_int.h"

void tok_decoder_init(tok_decoder *d, const tokenizer *t, unsigned flags) {
  memset(d, 0, sizeof *d);
  d->tok = t;
  d->flags = flags;
}

/* Expected length of a UTF-8 sequence from its lead byte; 0 for a byte that cannot lead. */
static uint8_t lead_len(unsigned char c) {
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return 2;
  if (c >= 0xE0 && c <= 0xEF) return 3;
  if (c >= 0xF0 && c <= 0xF4) return 4;
  return 0;
}

/* Is c a valid byte at position npend of a sequence starting with lead? */
static bool cont_ok(unsigned char lead, uint8_t pos, unsigned char c) {
  if ((c & 0xC0) != 0x80) return false;
  if (pos != 1) return true;
  if (lead == 0xE0) return c >= 0xA0;
  if (lead == 0xED) return c <= 0x9F;
  if (lead == 0xF0) return c >= 0x90;
  if (lead == 0xF4) return c <= 0x8F;
  return true;
}

/* What stands for a byte sequence that can never be UTF-8: U+FFFD, or nothing. */
static int replacement(const tok_decoder *d, buf *out) {
  return (d->flags & TOK_DEC_DROP_INVALID) ? 0 : buf_append(out, "\xef\xbf\xbd", 3);
}

static int push_bytes(tok_decoder *d, const unsigned char *p, size_t n, buf *out) {
  int rc;
  size_t i = 0;
  while (i < n) {
    unsigned char c = p[i];
    if (d->npend == 0) {
      /* Fast path: copy a run of ASCII. */
      size_t j = i;
      while (j < n && p[j] < 0x80) j++;
      if (j > i) {
        if ((rc = buf_append(out, p + i, j - i))) return rc;
        i = j;
        continue;
      }
      uint8_t need = lead_len(c);
      if (need == 0) {
        if ((rc = replacement(d, out))) return rc;
      } else {
        d->pend[0] = c;
        d->npend = 1;
        d->need = need;
      }
      i++;
      continue;
    }
    if (!cont_ok(d->pend[0], d->npend, c)) {
      /* The held sequence can never complete: replace it and look at c afresh. */
      if ((rc = replacement(d, out))) return rc;
      d->npend = 0;
      continue;
    }
    d->pend[d->npend++] = c;
    i++;
    if (d->npend == d->need) {
      if ((rc = buf_append(out, d->pend, d->npend))) return rc;
      d->npend = 0;
    }
  }
  return 0;
}

int tok_decoder_push(tok_decoder *d, int32_t id, buf *out) {
  const tokenizer *t = d->tok;
  MIMIC_ASSERT(t); /* a byte-level decoder takes tok_decoder_push_bytes */
  if (!tok__id_ok(t, id))
    return err_set(MIMIC_EINVAL, "tokenizer: token id %d is out of range", (int)id);
  if (tok_is_control(t, id) && !(d->flags & TOK_DEC_SPECIAL)) return 0;
  size_t n = t->dlen[id];
  const unsigned char *p = (const unsigned char *)t->dpool + t->doff[id];
  if (n == 0) return 0;
  if (!d->started) {
    d->started = true;
    if ((d->flags & TOK_DEC_STRIP_SPACE) && t->kind != TOK_BPE && p[0] == ' ') {
      p++;
      n--;
    }
  }
  return push_bytes(d, p, n, out);
}

int tok_decoder_push_bytes(tok_decoder *d, const char *bytes, size_t n, buf *out) {
  return n ? push_bytes(d, (const unsigned char *)bytes, n, out) : 0;
}

size_t tok_decoder_pending(const tok_decoder *d) { return d->npend; }

size_t tok_decoder_drop(tok_decoder *d) {
  size_t n = d->npend;
  d->npend = 0;
  return n;
}

int tok_decoder_flush(tok_decoder *d, buf *out) {
  if (d->npend == 0) return 0;
  d->npend = 0;
  return buf_append(out, "\xef\xbf\xbd", 3);
}

int tok_decode_all(const tokenizer *t, const int32_t *ids, size_t n, unsigned flags, char **text,
                   size_t *len) {
  buf b;
  buf_init(&b, 0);
  tok_decoder d;
  tok_decoder_init(&d, t, flags);
  int rc = 0;
  *text = NULL;
  *len = 0;
  for (size_t i = 0; i < n && !rc; i++) rc = tok_decoder_push(&d, ids[i], &b);
  if (!rc) rc = tok_decoder_flush(&d, &b);
  if (!rc) rc = buf_append(&b, "", 0); /* makes sure data exists and is NUL-terminated */
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *len = b.len;
  *text = buf_steal(&b);
  return 0;
}
