/* tok_encode (tokenizer.h): splits the text around special tokens exactly as llama.cpp's partition
 * does, then hands each raw fragment to the vocabulary family's algorithm (tok_bpe.c, tok_spm.c,
 * tok_wpm.c). docs/internals/tokenizer.md walks through the pipeline; tok_int.h lists the files. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "llm/tok_int.h"

/* ---- the special-token partition --------------------------------------------------------- */

typedef struct frag {
  size_t off, len;
  int32_t id; /* token id, or -1 for raw text */
} frag;

typedef struct occ {
  int32_t rank; /* index into specials (priority) */
  uint32_t pos;
} occ;

static int cmp_occ(const void *a, const void *b) {
  const occ *x = a, *y = b;
  if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static int cmp_occ_pos(const void *a, const void *b) {
  const occ *x = a, *y = b;
  return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static bool is_ascii_space(unsigned char c) { return c == ' ' || (c >= 9 && c <= 13); }

/* Splits text into raw fragments and special tokens exactly as llama.cpp's partition does: special
 * tokens are taken longest first, each one left to right over whatever text is still raw. */
static int partition(const tokenizer *t, const char *text, size_t len, bool parse_special,
                     frag **out, size_t *nout) {
  int rc = 0;
  occ *oc = NULL;
  size_t noc = 0, coc = 0;
  uint8_t *claim = NULL; /* 0 raw, 1 token start, 2 token body or stripped space */
  size_t nacc = 0;       /* accepted matches, compacted to the front of oc */
  frag *fr = NULL;
  size_t nfr = 0, cfr = 0;
  *out = NULL;
  *nout = 0;
  if (len == 0) return 0;
  if (t->n_specials > 0) {
    for (size_t p = 0; p < len; p++) {
      if (!t->sfirst[(unsigned char)text[p]]) continue;
      for (int k = 0; k < t->n_slens; k++) {
        uint32_t L = t->slens[k];
        if (L > len - p) continue;
        int32_t r = tok__special_find(t, text + p, L);
        if (r < 0) continue;
        uint8_t ty = t->type[t->specials[r]];
        if (!parse_special && ty != TOK_T_USER_DEFINED) continue;
        rc = tok__grow((void **)&oc, &coc, noc + 1, sizeof *oc);
        if (rc) goto out;
        oc[noc].rank = r;
        oc[noc].pos = (uint32_t)p;
        noc++;
      }
    }
  }
  if (noc > 0) {
    qsort(oc, noc, sizeof *oc, cmp_occ);
    claim = mem_calloc(len, 1);
    if (!claim) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
      goto out;
    }
    size_t last_end = 0;
    int32_t last_rank = -1;
    for (size_t i = 0; i < noc; i++) {
      int32_t id = t->specials[oc[i].rank];
      size_t p = oc[i].pos, L = t->len[id];
      if (oc[i].rank != last_rank) {
        last_rank = oc[i].rank;
        last_end = 0;
      }
      if (p < last_end) continue; /* overlaps the previous match of this same token */
      bool free_run = true;
      for (size_t q = p; q < p + L; q++)
        if (claim[q]) {
          free_run = false;
          break;
        }
      if (!free_run) continue;
      claim[p] = 1;
      oc[nacc++] = oc[i]; /* nacc <= i: compacting in place is safe */
      for (size_t q = p + 1; q < p + L; q++) claim[q] = 2;
      last_end = p + L;
      if (t->flags[id] & TF_RSTRIP)
        for (size_t q = p + L; q < len && !claim[q] && is_ascii_space((unsigned char)text[q]); q++)
          claim[q] = 2;
      if (t->flags[id] & TF_LSTRIP)
        for (size_t q = p; q > 0 && !claim[q - 1] && is_ascii_space((unsigned char)text[q - 1]);
             q--)
          claim[q - 1] = 2;
    }
  }
  /* Emit fragments: accepted matches in text order, raw text between them. */
  if (nacc > 1) qsort(oc, nacc, sizeof *oc, cmp_occ_pos);
  size_t p = 0, next = 0;
  while (p < len) {
    rc = tok__grow((void **)&fr, &cfr, nfr + 1, sizeof *fr);
    if (rc) goto out;
    if (claim && claim[p] == 1) {
      int32_t id = t->specials[oc[next++].rank];
      fr[nfr++] = (frag){p, t->len[id], id};
      p += t->len[id];
    } else if (claim && claim[p] == 2) {
      p++;
    } else {
      size_t q = p;
      while (q < len && !(claim && claim[q])) q++;
      fr[nfr++] = (frag){p, q - p, -1};
      p = q;
    }
  }
  *out = fr;
  *nout = nfr;
  fr = NULL;
out:
  mem_free(oc);
  mem_free(claim);
  mem_free(fr);
  return rc;
}
/* ---- encode --------------------------------------------------------------------------------- */

static void session_free(session *s) {
  mem_free(s->sy);
  mem_free(s->hp);
  mem_free(s->w);
  mem_free(s->spl);
  mem_free(s->spl2);
  mem_free(s->clean);
  mem_free(s->cps);
  if (s->md) pcre2_match_data_free(s->md);
}

int tok_encode(const tokenizer *t, const char *text, size_t len, bool add_bos, bool parse_special,
               int32_t **ids, size_t *n) {
  *ids = NULL;
  *n = 0;
  if (len > TOK_MAX_INPUT)
    return err_set(MIMIC_ERANGE, "tokenizer: input of %zu bytes is over the cap of %u bytes", len,
                   TOK_MAX_INPUT);
  if (len && !text) return err_set(MIMIC_EINVAL, "tokenizer: NULL text");
  int rc = 0;
  ivec outv = {0};
  frag *fr = NULL;
  size_t nfr = 0;
  session s = {.t = t, .outv = &outv};
  if (t->n_re > 0) {
    s.md = pcre2_match_data_create_from_pattern(t->re[0], NULL);
    if (!s.md) {
      rc = err_set(MIMIC_ENOMEM, "tokenizer: out of memory");
      goto out;
    }
  }
  if ((rc = partition(t, text, len, parse_special, &fr, &nfr))) goto out;
  if (add_bos && t->add_bos && t->bos != TOK_NULL && (rc = tok__ivec_push(&outv, t->bos))) goto out;
  bool prev_special = true; /* SPM: the first raw text gets the space prefix */
  for (size_t i = 0; i < nfr; i++) {
    if (fr[i].id >= 0) {
      if ((rc = tok__ivec_push(&outv, fr[i].id))) goto out;
      prev_special = true;
      continue;
    }
    const char *p = text + fr[i].off;
    switch (t->kind) {
    case TOK_BPE: rc = tok__bpe_fragment(&s, p, fr[i].len); break;
    case TOK_SPM:
      rc = tok__spm_fragment(&s, p, fr[i].len, t->add_space_prefix && prev_special);
      break;
    case TOK_WPM: rc = tok__wpm_fragment(&s, p, fr[i].len); break;
    }
    if (rc) goto out;
    prev_special = false;
  }
  if (add_bos && t->kind == TOK_WPM && t->sep != TOK_NULL && (rc = tok__ivec_push(&outv, t->sep)))
    goto out;
  if (add_bos && t->add_eos && t->eos != TOK_NULL && (rc = tok__ivec_push(&outv, t->eos))) goto out;
  *ids = outv.v;
  *n = outv.n;
  outv.v = NULL;
out:
  mem_free(outv.v);
  mem_free(fr);
  session_free(&s);
  return rc;
}
