/* Writes a random-weight BERT sentence encoder with mimic's own GGUF writer, in the layout
 * llama.cpp's converter gives bge/MiniLM (architecture `bert`, WordPiece vocabulary with
 * "▁word" starts and plain continuations). For the embed and eval tests and bench_embed; the
 * vocabulary is synthetic: [PAD] [UNK] [CLS] [SEP] [MASK], "▁c" and "c" for every printable
 * ASCII character, then "▁" + letter strings (a, b, ..., z, aa, ab, ...) up to n_vocab. */
#ifndef MIMIC_TESTS_EMBED_TINY_BERT_H
#define MIMIC_TESTS_EMBED_TINY_BERT_H
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/rng.h"
#include "llm/gguf.h"
#include "llm/quant.h"

typedef struct tiny_bert_spec {
  int n_embd, n_layer, n_head, n_ff, n_ctx, n_vocab;
  tensor_type wtype; /* the matrices' type (F32, F16, Q8_0, ...); norms and biases are F32 */
  int pooling;       /* bert.pooling_type: 1 mean, 2 CLS; -1 writes no key */
  const char *arch;  /* NULL: "bert" */
  const char *bad;   /* a tensor written one row short (a file with wrong shapes), or NULL */
  uint64_t seed;
} tiny_bert_spec;

static inline void tiny_bert_fill(prng *r, float *v, size_t n, float center, float scale) {
  for (size_t i = 0; i < n; i++) v[i] = center + scale * (float)(2.0 * prng_uniform(r) - 1.0);
}

/* One tensor of shape {cols, rows} (rows 1: a vector), random around center. */
static inline int tiny_bert_tensor(gguf_writer *w, prng *r, const tiny_bert_spec *s,
                                   const char *name, int64_t cols, int64_t rows, tensor_type type,
                                   float center, float scale) {
  if (s->bad && strcmp(s->bad, name) == 0) rows > 1 ? rows-- : cols--;
  size_t n = (size_t)(cols * rows);
  float *v = xalloc(n * sizeof *v);
  tiny_bert_fill(r, v, n, center, scale);
  int64_t ne[2] = {cols, rows};
  int rc;
  if (type == TT_F32) {
    rc = gguf_add_tensor(w, name, TT_F32, rows > 1 ? 2 : 1, ne, v);
  } else {
    size_t rb = tensor_row_bytes(type, cols);
    void *q = mem_alloc(rb * (size_t)rows);
    rc = q ? 0 : -1;
    for (int64_t i = 0; i < rows && !rc; i++)
      rc = quant_row(type, v + i * cols, (char *)q + rb * (size_t)i, cols);
    if (!rc)
      rc = gguf_add_tensor_take(w, name, type, 2, ne, q);
    else
      mem_free(q);
  }
  mem_free(v);
  return rc;
}

static inline int tiny_bert_write(const char *path, const tiny_bert_spec *s) {
  gguf_writer *w = gguf_writer_new();
  prng r;
  prng_seed(&r, s->seed ? s->seed : 1);
  int d = s->n_embd, rc = 0;
  gguf_set_str(w, "general.architecture", s->arch ? s->arch : "bert");
  gguf_set_str(w, "general.name", "tiny-bert-test");
  const char *a = s->arch ? s->arch : "bert";
  char key[128];
#define KEY(k) (snprintf(key, sizeof key, "%s.%s", a, k), key)
  gguf_set_u32(w, KEY("context_length"), (uint32_t)s->n_ctx);
  gguf_set_u32(w, KEY("embedding_length"), (uint32_t)d);
  gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff);
  gguf_set_u32(w, KEY("block_count"), (uint32_t)s->n_layer);
  gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head);
  gguf_set_f32(w, KEY("attention.layer_norm_epsilon"), 1e-12f);
  gguf_set_bool(w, KEY("attention.causal"), false);
  if (s->pooling >= 0) gguf_set_u32(w, KEY("pooling_type"), (uint32_t)s->pooling);
#undef KEY
  /* vocabulary */
  int nv = s->n_vocab;
  char **tok = xcalloc((size_t)nv, sizeof *tok);
  int32_t *types = xcalloc((size_t)nv, sizeof *types);
  const char *special[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  int k = 0;
  for (; k < 5 && k < nv; k++) {
    tok[k] = xstrdup(special[k]);
    types[k] = 3;
  }
  for (int c = 33; c < 127 && k + 1 < nv; c++) {
    char b[8];
    snprintf(b, sizeof b, "\xe2\x96\x81%c", c);
    tok[k] = xstrdup(b);
    types[k++] = 1;
    snprintf(b, sizeof b, "%c", c);
    tok[k] = xstrdup(b);
    types[k++] = 1;
  }
  for (long word = 0; k < nv; word++) { /* "▁" + bijective base-26 of word+27 (two letters up) */
    char b[32] = "\xe2\x96\x81", rev[16];
    int len = 0;
    for (long x = word + 27; x > 0; x = (x - 1) / 26) rev[len++] = (char)('a' + (x - 1) % 26);
    for (int i = 0; i < len; i++) b[3 + i] = rev[len - 1 - i];
    b[3 + len] = 0;
    tok[k] = xstrdup(b);
    types[k++] = 1;
  }
  gguf_set_str(w, "tokenizer.ggml.model", "bert");
  gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)tok, (uint64_t)nv);
  gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, (uint64_t)nv);
  gguf_set_u32(w, "tokenizer.ggml.unknown_token_id", 1);
  gguf_set_u32(w, "tokenizer.ggml.cls_token_id", 2);
  /* llama.cpp frames WordPiece input with its BOS id (101, [CLS] of the real vocabularies, when the
   * file names none), not cls_token_id: name it, or llama-embedding starts every text with the
   * word at 101 and its vectors are not comparable with mimic's. */
  gguf_set_u32(w, "tokenizer.ggml.bos_token_id", 2);
  gguf_set_u32(w, "tokenizer.ggml.seperator_token_id", 3);
  gguf_set_u32(w, "tokenizer.ggml.padding_token_id", 0);
  gguf_set_u32(w, "tokenizer.ggml.mask_token_id", 4);
  gguf_set_u32(w, "tokenizer.ggml.token_type_count", 2); /* llama.cpp sizes token_types by it */
  for (int i = 0; i < nv; i++) mem_free(tok[i]);
  mem_free(tok);
  mem_free(types);
  /* weights */
  float ws = 1.0f / sqrtf((float)d), fs = 1.0f / sqrtf((float)s->n_ff);
  tensor_type wt = s->wtype;
  rc = tiny_bert_tensor(w, &r, s, "token_embd.weight", d, nv, wt, 0, 1.0f);
  if (!rc) rc = tiny_bert_tensor(w, &r, s, "position_embd.weight", d, s->n_ctx, wt, 0, 0.5f);
  if (!rc) rc = tiny_bert_tensor(w, &r, s, "token_types.weight", d, 2, TT_F32, 0, 0.5f);
  if (!rc) rc = tiny_bert_tensor(w, &r, s, "token_embd_norm.weight", d, 1, TT_F32, 1, 0.1f);
  if (!rc) rc = tiny_bert_tensor(w, &r, s, "token_embd_norm.bias", d, 1, TT_F32, 0, 0.1f);
  for (int il = 0; il < s->n_layer && !rc; il++) {
    char n[96];
#define T(what, cols, rows, type, c, sc)                                                           \
  (snprintf(n, sizeof n, "blk.%d.%s", il, what),                                                   \
   tiny_bert_tensor(w, &r, s, n, cols, rows, type, c, sc))
    if ((rc = T("attn_q.weight", d, d, wt, 0, ws)) ||
        (rc = T("attn_q.bias", d, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("attn_k.weight", d, d, wt, 0, ws)) ||
        (rc = T("attn_k.bias", d, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("attn_v.weight", d, d, wt, 0, ws)) ||
        (rc = T("attn_v.bias", d, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("attn_output.weight", d, d, wt, 0, ws)) ||
        (rc = T("attn_output.bias", d, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("attn_output_norm.weight", d, 1, TT_F32, 1, 0.1f)) ||
        (rc = T("attn_output_norm.bias", d, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("ffn_up.weight", d, s->n_ff, wt, 0, ws)) ||
        (rc = T("ffn_up.bias", s->n_ff, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("ffn_down.weight", s->n_ff, d, wt, 0, fs)) ||
        (rc = T("ffn_down.bias", d, 1, TT_F32, 0, 0.1f)) ||
        (rc = T("layer_output_norm.weight", d, 1, TT_F32, 1, 0.1f)) ||
        (rc = T("layer_output_norm.bias", d, 1, TT_F32, 0, 0.1f)))
      break;
#undef T
  }
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  return rc;
}

#endif
