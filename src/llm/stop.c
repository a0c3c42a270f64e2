/* Stop strings and UTF-8 completion on the generated text stream (see stop.h). The pending buffer
 * always holds valid UTF-8 followed by at most one unfinished character; it is at most one stop
 * string plus one token long, so the suffix scans below stay cheap. */
#include "llm/stop.h"

#include <string.h>

#include "base/alloc.h"
#include "base/utf8.h"

int llm_stop_init(llm_stop *s, const char *const *stops, size_t n_stops) {
  memset(s, 0, sizeof *s);
  buf_init(&s->pending, LLM_TEXT_MAX);
  buf_init(&s->text, LLM_TEXT_MAX);
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

/* Length of a trailing sequence of p[0..n) that is the start of a character still missing bytes. */
static size_t unfinished_tail(const char *p, size_t n) {
  for (size_t j = 1; j <= 3 && j <= n; j++) {
    unsigned char c = (unsigned char)p[n - j];
    if ((c & 0xC0) == 0x80) continue; /* continuation byte: look further back */
    size_t need = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
    return need > j ? j : 0;
  }
  return 0;
}

static int out(llm_stop *s, const char *p, size_t n, llm_emit_fn emit, void *user) {
  if (n == 0) return 0;
  if (buf_append(&s->text, p, n))
    return err_set(MIMIC_ERANGE, "generated text passed %u bytes", LLM_TEXT_MAX);
  if (emit && emit(user, p, n))
    return err_set(MIMIC_ECANCELLED, "generation cancelled by the consumer");
  return 0;
}

/* Appends p[0..n) to b with every byte that can never be part of a character replaced by U+FFFD
 * and NUL bytes dropped (consumers hold the text as C strings). */
static int append_clean(buf *b, const char *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t cp;
    int k = utf8_decode(p + i, n - i, &cp);
    int rc = 0;
    if (k < 0) {
      rc = buf_append(b, "\xEF\xBF\xBD", 3);
      k = 1;
    } else if (cp != 0) {
      rc = buf_append(b, p + i, (size_t)k);
    }
    if (rc) return err_set(MIMIC_ERANGE, "generated text passed %u bytes", LLM_TEXT_MAX);
    i += (size_t)k;
  }
  return 0;
}

/* Cleans pending[0..head) (see append_clean), keeping the unfinished tail after it. */
static int repair_head(llm_stop *s, size_t head) {
  if (utf8_valid(s->pending.data, head) && !memchr(s->pending.data, 0, head)) return 0;
  buf nb;
  buf_init(&nb, LLM_TEXT_MAX);
  int rc = append_clean(&nb, s->pending.data, head);
  if (!rc && buf_append(&nb, s->pending.data + head, s->pending.len - head))
    rc = err_set(MIMIC_ERANGE, "generated text passed %u bytes", LLM_TEXT_MAX);
  if (rc) {
    buf_free(&nb);
    return rc;
  }
  buf_free(&s->pending);
  s->pending = nb;
  return 0;
}

int llm_stop_feed(llm_stop *s, const char *bytes, size_t n, llm_emit_fn emit, void *user) {
  if (s->state) return s->state;
  int rc = 0;
  if (n && buf_append(&s->pending, bytes, n)) {
    rc = err_set(MIMIC_ERANGE, "generated text passed %u bytes", LLM_TEXT_MAX);
    goto out;
  }
  size_t tail = unfinished_tail(s->pending.data, s->pending.len);
  size_t head = s->pending.len - tail;
  if ((rc = repair_head(s, head))) goto out;
  tail = unfinished_tail(s->pending.data, s->pending.len);
  head = s->pending.len - tail;
  const char *p = s->pending.data;

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
  if (s->pending.len) {
    /* The unfinished character can no longer finish: clean the whole buffer. */
    rc = repair_head(s, s->pending.len);
    if (!rc) rc = out(s, s->pending.data, s->pending.len, emit, user);
    buf_reset(&s->pending);
  }
  if (rc) s->state = rc;
  return rc;
}
