/* The encoder's public calls: texts are tokenized (WordPiece, [CLS] ... [SEP]), truncated to the
 * context, grouped into packed passes of at most max_batch texts and EMBED_PASS_TOKENS tokens,
 * run through the forward pass, pooled and (unless asked not to) normalised. Not here: the model
 * itself (load.c, forward.c, pool.c). */
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "embed/embed_int.h"

typedef struct batch {
  int32_t *tokens;
  int *off;
  int n_seq, n_tok, cap_tok;
} batch;

static int run_batch(embed_model *m, batch *b, bool normalize, float *out) {
  if (!b->n_seq) return 0;
  int d = m->n_embd;
  float *hidden = mem_alloc((size_t)b->n_tok * d * sizeof *hidden);
  if (!hidden) return err_set(MIMIC_ENOMEM, "out of memory for a batch of %d tokens", b->n_tok);
  int rc = embed__forward(m, b->tokens, b->off, b->n_seq, hidden);
  if (!rc)
    for (int s = 0; s < b->n_seq; s++) {
      float *row = out + (size_t)s * d;
      embed__pool(m, hidden + (size_t)b->off[s] * d, b->off[s + 1] - b->off[s], row);
      if (normalize) embed__normalize(row, d);
    }
  mem_free(hidden);
  b->n_seq = b->n_tok = 0;
  return rc;
}

static int batch_add(batch *b, const int32_t *ids, int n) {
  if (b->n_tok + n > b->cap_tok) {
    int cap = b->cap_tok ? b->cap_tok : 1024;
    while (cap < b->n_tok + n) cap *= 2;
    int32_t *t = mem_realloc(b->tokens, (size_t)cap * sizeof *t);
    if (!t) return err_set(MIMIC_ENOMEM, "out of memory for %d tokens", cap);
    b->tokens = t;
    b->cap_tok = cap;
  }
  memcpy(b->tokens + b->n_tok, ids, (size_t)n * sizeof *ids);
  b->n_tok += n;
  b->n_seq++;
  b->off[b->n_seq] = b->n_tok;
  return 0;
}

int embed_texts(embed_model *m, const char *const *texts, size_t n, bool normalize, float *out) {
  if (!m) return err_set(MIMIC_EINVAL, "no sentence encoder loaded");
  if (!n) return 0;
  if (!texts || !out) return err_set(MIMIC_EINVAL, "embed_texts: no texts or no output");
  batch b = {0};
  b.off = mem_calloc((size_t)m->max_batch + 1, sizeof *b.off);
  if (!b.off) return err_set(MIMIC_ENOMEM, "out of memory for a batch of texts");
  int rc = 0;
  size_t first = 0; /* input index of the batch's first text */
  int32_t sep = tok_sep(m->tok);
  for (size_t i = 0; i < n && !rc; i++) {
    const char *t = texts[i] ? texts[i] : "";
    int32_t *ids = NULL;
    size_t nid = 0, len = strlen(t);
    if (len > TOK_MAX_INPUT) len = TOK_MAX_INPUT; /* far past any context: truncated anyway */
    rc = tok_encode(m->tok, t, len, true, false, &ids, &nid);
    if (rc) {
      err_prefix(rc, "text %zu", i + 1);
      break;
    }
    if (nid > (size_t)m->n_ctx) {
      nid = (size_t)m->n_ctx;
      if (sep != TOK_NULL) ids[nid - 1] = sep;
    }
    if (nid == 0) { /* a vocabulary that frames nothing and an empty text */
      mem_free(ids);
      rc = err_set(MIMIC_EINVAL, "text %zu gives no tokens", i + 1);
      break;
    }
    if (b.n_seq == m->max_batch || (b.n_seq && b.n_tok + (int)nid > EMBED_PASS_TOKENS)) {
      rc = run_batch(m, &b, normalize, out + first * (size_t)m->n_embd);
      first = i;
    }
    if (!rc) rc = batch_add(&b, ids, (int)nid);
    mem_free(ids);
  }
  if (!rc) rc = run_batch(m, &b, normalize, out + first * (size_t)m->n_embd);
  mem_free(b.tokens);
  mem_free(b.off);
  return rc;
}

int embed_tokens(embed_model *m, const int32_t *ids, size_t n_ids, bool normalize, float *out) {
  if (!m) return err_set(MIMIC_EINVAL, "no sentence encoder loaded");
  if (!ids || !n_ids) return err_set(MIMIC_EINVAL, "no tokens to embed");
  if (n_ids > (size_t)m->n_ctx)
    return err_set(MIMIC_ERANGE, "%zu tokens do not fit the encoder's context of %d", n_ids,
                   m->n_ctx);
  for (size_t i = 0; i < n_ids; i++)
    if (ids[i] < 0 || ids[i] >= m->n_vocab)
      return err_set(MIMIC_EINVAL, "token %zu is %d, outside the vocabulary of %d", i + 1,
                     (int)ids[i], m->n_vocab);
  int off[2] = {0, (int)n_ids};
  batch b = {.tokens = (int32_t *)ids, .off = off, .n_seq = 1, .n_tok = (int)n_ids};
  return run_batch(m, &b, normalize, out);
}
