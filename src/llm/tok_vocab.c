/* The tokenizer's tables after building: sizes, scratch growth, the special-token lookup and the
 * vocabulary facts of tokenizer.h. The hot lookups (texts, merges) are inline in tok_int.h. */
#include <string.h>

#include "base/alloc.h"
#include "llm/tok_int.h"

uint32_t tok__table_size(size_t n) {
  uint32_t s = 16;
  while (s < n * 2 + 1) s <<= 1;
  return s;
}

int tok__ivec_push(ivec *a, int32_t x) {
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 64;
    int32_t *p = mem_realloc(a->v, nc * sizeof *p);
    if (!p) return err_set(MIMIC_ENOMEM, "tokenizer: out of memory for %zu ids", nc);
    a->v = p;
    a->cap = nc;
  }
  a->v[a->n++] = x;
  return 0;
}

/* Generic growth for scratch arrays. */
int tok__grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 64;
  while (nc < need) nc *= 2;
  void *q = mem_realloc(*p, nc * elem);
  if (!q) return err_set(MIMIC_ENOMEM, "tokenizer: out of memory (%zu items)", nc);
  *p = q;
  *cap = nc;
  return 0;
}

/* Index into t->specials of the special token with exactly this text, or -1. */
int32_t tok__special_find(const tokenizer *t, const char *s, size_t n) {
  uint32_t i = (uint32_t)hash_fnv64_mixed(s, n) & t->smask;
  for (;;) {
    uint32_t v = t->sslots[i];
    if (!v) return -1;
    int32_t id = t->specials[v - 1];
    if (t->len[id] == n && memcmp(tok__piece_text(t, id), s, n) == 0) return (int32_t)(v - 1);
    i = (i + 1) & t->smask;
  }
}

/* ---- facts ---------------------------------------------------------------------------------- */

int32_t tok_n_vocab(const tokenizer *t) { return t->n; }
tok_kind tok_model(const tokenizer *t) { return t->kind; }
const char *tok_pre_name(const tokenizer *t) { return t->pre_name; }
int32_t tok_bos(const tokenizer *t) { return t->bos; }
int32_t tok_eos(const tokenizer *t) { return t->eos; }
int32_t tok_eot(const tokenizer *t) { return t->eot; }
int32_t tok_unk(const tokenizer *t) { return t->unk; }
int32_t tok_sep(const tokenizer *t) { return t->sep; }
int32_t tok_pad(const tokenizer *t) { return t->pad; }
bool tok_adds_bos(const tokenizer *t) { return t->add_bos && t->bos != TOK_NULL; }
bool tok_is_eog(const tokenizer *t, int32_t id) {
  return tok__id_ok(t, id) && (t->flags[id] & TF_EOG);
}
bool tok_is_control(const tokenizer *t, int32_t id) {
  return tok__id_ok(t, id) && (t->type[id] == TOK_T_CONTROL || t->type[id] == TOK_T_UNKNOWN);
}
tok_type tok_token_type(const tokenizer *t, int32_t id) {
  return tok__id_ok(t, id) ? (tok_type)t->type[id] : (tok_type)0;
}
const char *tok_token_text(const tokenizer *t, int32_t id) {
  return tok__id_ok(t, id) ? tok__piece_text(t, id) : NULL;
}
const char *tok_token_bytes(const tokenizer *t, int32_t id, size_t *len) {
  if (!tok__id_ok(t, id)) {
    *len = 0;
    return NULL;
  }
  *len = t->dlen[id];
  return t->dpool + t->doff[id];
}
int32_t tok_find(const tokenizer *t, const char *s, size_t len) {
  return tok__vocab_find(t, s, len);
}
const char *tok_chat_template(const tokenizer *t) { return t->chat_template; }
