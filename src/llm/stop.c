/* Stop strings on the generated text stream (see stop.h). Bytes go through the tokenizer's
 * streaming decoder first, so the pending buffer only ever holds complete, valid UTF-8; it is at
 * most one stop string plus one token long, so the suffix scans below stay cheap. */
#include "llm/stop.h"

#include <string.h>

#include "base/alloc.h"
#include "base/utf8.h"

int llm_stop_init(llm_stop *s, const char *const *stops, size_t n_stops) {
  memset(s, 0, sizeof *s);
  buf_init(&s->pending, LLM_TEXT_MAX);
  buf_init(&s->text, LLM_TEXT_MAX);
  tok_decoder_init(&s->dec, NULL, TOK_DEC_DROP_INVALID);
  for (size_t i = 0; i < n_stops; i++) {
    const char *st = stops[i];
    if (!st || !*st) continue;
    size_t len = strlen(st);
    int rc = 0;
    if (s->n_stops == LLM_STOP_MAX)
      rc = err_set(MIMIC_ERANGE, "too many stop strings (at most %d)", LLM_STOP_MAX);
    else if (len > LLM_STOP_MAX_LEN)
      rc = err_set(MIMIC_ERANGE, "stop string %zu is %zu bytes long (at most %d)", i + 1, len,
                   LLM_STOP_MAX_LEN);
    else if (!utf8_valid(st, len))
      rc = err_set(MIMIC_EINVAL, "stop string %zu is not valid UTF-8", i + 1);
    else if (!(s->stops[s->n_stops] = mem_strndup(st, len)))
      rc = err_set(MIMIC_ENOMEM, "out of memory copying stop strings");
    if (rc) {
      llm_stop_free(s);
      return rc;
    }
    s->stop_len[s->n_stops++] = len;
  }
  return 0;
}

void llm_stop_free(llm_stop *s) {
  for (size_t i = 0; i < s->n_stops; i++) mem_free(s->stops[i]);
  s->n_stops = 0;
  buf_free(&s->pending);
  buf_free(&s->text);
}

const char *llm_stop_text(const llm_stop *s, size_t *len) {
  if (len) *len = s->text.len;
  return s->text.data ? s->text.data : "";
}

static int out(llm_stop *s, const char *p, size_t n, llm_emit_fn emit, void *user) {
  if (n == 0) return 0;
  if (buf_append(&s->text, p, n))
    return err_set(MIMIC_ERANGE, "generated text passed %u bytes", LLM_TEXT_MAX);
  if (emit && emit(user, p, n))
    return err_set(MIMIC_ECANCELLED, "generation cancelled by the consumer");
  return 0;
}

/* Drops the NUL bytes of b[from..) (consumers hold the text as C strings). */
static void drop_nuls(buf *b, size_t from) {
  char *p = b->data;
  size_t o = from;
  for (size_t i = from; i < b->len; i++)
    if (p[i]) p[o++] = p[i];
  b->len = o;
}

int llm_stop_feed(llm_stop *s, const char *bytes, size_t n, llm_emit_fn emit, void *user) {
  if (s->state) return s->state;
  int rc = 0;
  size_t before = s->pending.len;
  if (tok_decoder_push_bytes(&s->dec, bytes, n, &s->pending)) {
    rc = err_set(MIMIC_ERANGE, "generated text passed %u bytes", LLM_TEXT_MAX);
    goto out;
  }
  drop_nuls(&s->pending, before);
  size_t head = s->pending.len; /* complete characters only: the decoder holds the rest */
  const char *p = s->pending.data;
  if (!head) goto out; /* nothing complete yet (or only bytes that were dropped) */

  /* Earliest complete stop string. */
  size_t cut = (size_t)-1;
  for (size_t i = 0; i < s->n_stops; i++) {
    const char *m = memmem(p, head, s->stops[i], s->stop_len[i]);
    if (m && (size_t)(m - p) < cut) cut = (size_t)(m - p);
  }
  if (cut != (size_t)-1) {
    rc = out(s, p, cut, emit, user);
    buf_reset(&s->pending);
    if (!rc) rc = 1;
    goto out;
  }

  /* Hold back the longest suffix of the head that begins some stop string. */
  size_t hold = 0;
  for (size_t i = 0; i < s->n_stops; i++) {
    size_t max = s->stop_len[i] - 1;
    if (max > head) max = head;
    for (size_t len = max; len > hold; len--)
      if (p[head - len] == s->stops[i][0] && memcmp(p + head - len, s->stops[i], len) == 0) {
        hold = len;
        break;
      }
  }
  size_t safe = head - hold;
  rc = out(s, p, safe, emit, user);
  buf_consume(&s->pending, safe);
out:
  if (rc) s->state = rc;
  return rc;
}

int llm_stop_finish(llm_stop *s, llm_emit_fn emit, void *user) {
  if (s->state) return s->state;
  int rc = 0;
  /* The generation ended inside a character: its bytes can never complete, so they go. */
  tok_decoder_drop(&s->dec);
  if (s->pending.len) {
    rc = out(s, s->pending.data, s->pending.len, emit, user);
    buf_reset(&s->pending);
  }
  if (rc) s->state = rc;
  return rc;
}
