/* The pair-merge loop shared by BPE and SentencePiece: symbols in a linked list, candidate pairs in
 * a min-heap (lowest rank or highest score first, then leftmost), outdated pairs skipped on pop. */
#include <string.h>

#include "base/alloc.h"
#include "llm/tok_int.h"

static bool bigram_less(const bigram *a, const bigram *b) {
  if (a->key != b->key) return a->key < b->key;
  return a->left < b->left;
}

int tok__heap_push(session *s, bigram b) {
  int rc = tok__grow((void **)&s->hp, &s->chp, s->nhp + 1, sizeof *s->hp);
  if (rc) return rc;
  size_t i = s->nhp++;
  while (i > 0) {
    size_t parent = (i - 1) / 2;
    if (!bigram_less(&b, &s->hp[parent])) break;
    s->hp[i] = s->hp[parent];
    i = parent;
  }
  s->hp[i] = b;
  return 0;
}

static bigram heap_pop(session *s) {
  bigram top = s->hp[0];
  bigram last = s->hp[--s->nhp];
  size_t i = 0, n = s->nhp;
  for (;;) {
    size_t c = 2 * i + 1;
    if (c >= n) break;
    if (c + 1 < n && bigram_less(&s->hp[c + 1], &s->hp[c])) c++;
    if (!bigram_less(&s->hp[c], &last)) break;
    s->hp[i] = s->hp[c];
    i = c;
  }
  if (n) s->hp[i] = last;
  return top;
}

/* BPE: queue the pair (l, r) if the merges list ranks it. */
int tok__bpe_add_bigram(session *s, int32_t l, int32_t r) {
  if (l < 0 || r < 0) return 0;
  int32_t rank = tok__merge_rank(s->t, s->sy[l].piece, s->sy[r].piece);
  if (rank < 0) return 0;
  return tok__heap_push(s, (bigram){(double)rank, l, r, s->sy[l].len, s->sy[r].len});
}

/* SPM: queue the pair (l, r) if their concatenation is a token; its score ranks it. */
int tok__spm_add_bigram(session *s, int32_t l, int32_t r) {
  if (l < 0 || r < 0) return 0;
  int32_t id = tok__vocab_find(s->t, s->w + s->sy[l].off, s->sy[l].len + s->sy[r].len);
  if (id == TOK_NULL) return 0;
  return tok__heap_push(s, (bigram){-(double)s->t->score[id], l, r, s->sy[l].len, s->sy[r].len});
}

/* Runs the merge loop over s->sy[0..n); is_bpe picks how pairs are ranked. */
int tok__merge_loop(session *s, bool is_bpe) {
  int rc;
  while (s->nhp > 0) {
    bigram b = heap_pop(s);
    sym *L = &s->sy[b.left], *R = &s->sy[b.right];
    if (L->len != b.llen || R->len != b.rlen || !L->len || !R->len) continue; /* outdated */
    L->len += R->len;
    R->len = 0;
    L->next = R->next;
    if (R->next >= 0) s->sy[R->next].prev = b.left;
    if (is_bpe) {
      L->piece = tok__piece_find(s->t, s->w + L->off, L->len);
      if ((rc = tok__bpe_add_bigram(s, L->prev, b.left)) ||
          (rc = tok__bpe_add_bigram(s, b.left, L->next)))
        return rc;
    } else {
      if ((rc = tok__spm_add_bigram(s, L->prev, b.left)) ||
          (rc = tok__spm_add_bigram(s, b.left, L->next)))
        return rc;
    }
  }
  return 0;
}
