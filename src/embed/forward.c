/* The BERT forward pass over a packed batch: several sequences laid end to end as one matrix of
 * tokens, so every weight matrix is read once per pass for all of them, while the attention runs
 * per (sequence, head) over that sequence's own tokens only — no padding, no mask, and a text's
 * vector does not depend on what else is in the batch. Follows llama.cpp's graph (build_bert) and
 * its CPU arithmetic: docs/internals/embed.md. Not here: tokenization, batching, pooling. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "embed/embed_int.h"
#include "llm/model.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

typedef enum { OP_EMBD, OP_QKV_BIAS, OP_ATTN_OUT, OP_FFN_UP, OP_FFN_DOWN } row_op;

typedef struct pass {
  embed_model *m;
  const int32_t *tokens;
  const int *off;
  int n_seq;
  int *pos; /* position of each token in its sequence */
  float *x, *q, *k, *v, *att, *h, *ff;
  const embed_layer *L;
  row_op op;
} pass;

static void add_row(float *y, const float *b, int n) {
  for (int i = 0; i < n; i++) y[i] += b[i];
}

/* Element-wise work on rows [b, e) of the packed batch (each row is one token). */
static void rows_job(void *arg, int64_t b, int64_t e) {
  pass *p = arg;
  embed_model *m = p->m;
  const embed_layer *L = p->L;
  int d = m->n_embd;
  for (int64_t t = b; t < e; t++) {
    float *x = p->x + t * d, *h = p->h + t * d;
    switch (p->op) {
    case OP_EMBD: {
      /* inpL = tok + type_row0; inpL = pos + inpL; then the embedding norm */
      quant_dequant_row(
          m->tok_embd.type,
          (const char *)m->tok_embd.data + (size_t)p->tokens[t] * m->tok_embd.row_bytes, x, d);
      if (m->type_row0) add_row(x, m->type_row0, d);
      quant_dequant_row(m->pos_embd.type,
                        (const char *)m->pos_embd.data + (size_t)p->pos[t] * m->pos_embd.row_bytes,
                        h, d);
      for (int i = 0; i < d; i++) x[i] = h[i] + x[i];
      embed__layer_norm(x, 1, d, m->embd_norm_w, m->embd_norm_b, m->eps);
      break;
    }
    case OP_QKV_BIAS:
      add_row(p->q + t * d, L->bq, d);
      add_row(p->k + t * d, L->bk, d);
      add_row(p->v + t * d, L->bv, d);
      break;
    case OP_ATTN_OUT: /* h = (att Wo + bo) + x, normed */
      add_row(h, L->bo, d);
      add_row(h, x, d);
      embed__layer_norm(h, 1, d, L->attn_norm_w, L->attn_norm_b, m->eps);
      break;
    case OP_FFN_UP: {
      float *f = p->ff + t * m->n_ff;
      add_row(f, L->bup, m->n_ff);
      embed__gelu(m, f, m->n_ff);
      break;
    }
    case OP_FFN_DOWN: /* x = (ff Wdown + bdown) + h, normed */
      add_row(x, L->bdown, d);
      add_row(x, h, d);
      embed__layer_norm(x, 1, d, L->out_norm_w, L->out_norm_b, m->eps);
      break;
    }
  }
}

static void rows(pass *p, row_op op) {
  p->op = op;
  int64_t T = p->off[p->n_seq];
  int nth = compute_pool_threads(p->m->pool);
  int64_t chunk = (T + 4 * nth - 1) / (4 * nth);
  compute_pool_for(p->m->pool, T, chunk, rows_job, p);
}

/* y[i] += a * x[i] over n values, the product rounded before the sum (no fused multiply-add): a
 * portable loop and an AVX one with the same two roundings per value. */
static void axpy_plain(float *y, const float *x, float a, int n) {
  for (int i = 0; i < n; i++) {
    float prod = x[i] * a;
    y[i] += prod;
  }
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx"))) static void axpy_avx(float *y, const float *x, float a, int n) {
  __m256 va = _mm256_set1_ps(a);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(
        y + i, _mm256_add_ps(_mm256_loadu_ps(y + i), _mm256_mul_ps(_mm256_loadu_ps(x + i), va)));
  axpy_plain(y + i, x + i, a, n - i);
}
#endif

/* Attention of one (sequence, head): llama.cpp's path without flash attention and without a KV
 * cache (an encoder's keys are the batch itself). Scores k . q with ggml's untiled float dot (the
 * keys are a permuted view, which its tiled matmul does not take), times 1/sqrt(head_dim); softmax
 * (llm_softmax_row); the output as softmax x V^T with llama.cpp's matmul order for that shape: a
 * 16-lane chain when the length is a multiple of 16, its untiled dot otherwise (qmat_mul on an F32
 * matrix chooses the same way).
 *
 * Short rows are all "tail" in the untiled dot: one rounded product added at a time, in order. For
 * head_dim < 64 (the scores) and length < 64 (the output) that sum is written out below across
 * keys (values) instead of one dot at a time, so the compiler can vectorize it: every output still
 * adds its products in the same order from +0, which gives the same bits (ISO C: no contraction
 * into fused multiply-adds). */
static void attn_job(void *arg, int64_t b, int64_t e) {
  pass *p = arg;
  embed_model *m = p->m;
  int d = m->n_embd, hd = m->head_dim;
  float scale = 1.0f / sqrtf((float)hd);
  void (*axpy)(float *, const float *, float, int) = axpy_plain;
#if defined(__x86_64__) && defined(__GNUC__)
  if (m->fast) axpy = axpy_avx;
#endif
  for (int64_t item = b; item < e; item++) {
    int s = (int)(item / m->n_head), hh = (int)(item % m->n_head);
    int base = p->off[s], n = p->off[s + 1] - base;
    const float *K = p->k + (size_t)base * d + (size_t)hh * hd,
                *V = p->v + (size_t)base * d + (size_t)hh * hd;
    float *mem = xalloc(((size_t)n * n + 2 * (size_t)hd * n) * sizeof *mem);
    float *sc = mem, *tr = mem + (size_t)n * n, *o = tr + (size_t)hd * n;
    if (hd < 64)
      for (int j = 0; j < n; j++)
        for (int i = 0; i < hd; i++) tr[(size_t)i * n + j] = K[(size_t)j * d + i];
    for (int t = 0; t < n; t++) {
      const float *q = p->q + (size_t)(base + t) * d + (size_t)hh * hd;
      float *w = sc + (size_t)t * n;
      if (hd < 64) {
        for (int j = 0; j < n; j++) w[j] = 0.0f;
        for (int i = 0; i < hd; i++) axpy(w, tr + (size_t)i * n, q[i], n);
        for (int j = 0; j < n; j++) w[j] *= scale;
      } else {
        for (int j = 0; j < n; j++) w[j] = qmat_dot_f32(K + (size_t)j * d, q, hd) * scale;
      }
      llm_softmax_row(w, n);
    }
    float *att = p->att + (size_t)base * d + (size_t)hh * hd;
    if (n < 64 && n % 16 != 0) {
      for (int t = 0; t < n; t++) {
        float *y = att + (size_t)t * d;
        const float *w = sc + (size_t)t * n;
        for (int i = 0; i < hd; i++) y[i] = 0.0f;
        for (int j = 0; j < n; j++) axpy(y, V + (size_t)j * d, w[j], hd);
      }
    } else {
      for (int j = 0; j < n; j++)
        for (int i = 0; i < hd; i++) tr[(size_t)i * n + j] = V[(size_t)j * d + i];
      qmat w = {.type = TT_F32, .rows = hd, .cols = n, .data = tr, .row_bytes = (size_t)n * 4};
      qmat_mul(NULL, &w, sc, o, n);
      for (int t = 0; t < n; t++)
        memcpy(att + (size_t)t * d, o + (size_t)t * hd, (size_t)hd * sizeof *o);
    }
    mem_free(mem);
  }
}

int embed__forward(embed_model *m, const int32_t *tokens, const int *off, int n_seq,
                   float *hidden) {
  int64_t T = off[n_seq];
  size_t d = (size_t)m->n_embd;
  pass p = {.m = m, .tokens = tokens, .off = off, .n_seq = n_seq};
  size_t nf = (size_t)T * (6 * d + (size_t)m->n_ff);
  if (nf > m->work_cap) { /* grown, never shrunk: a model embeds batch after batch */
    float *w = mem_alloc(nf * sizeof *w);
    if (!w) return err_set(MIMIC_ENOMEM, "out of memory for a batch of %lld tokens", (long long)T);
    mem_free(m->work);
    m->work = w;
    m->work_cap = nf;
  }
  p.pos = mem_alloc((size_t)T * sizeof *p.pos);
  if (!p.pos)
    return err_set(MIMIC_ENOMEM, "out of memory for a batch of %lld tokens", (long long)T);
  p.x = m->work;
  p.q = p.x + T * d;
  p.k = p.q + T * d;
  p.v = p.k + T * d;
  p.att = p.v + T * d;
  p.h = p.att + T * d;
  p.ff = p.h + T * d;
  for (int s = 0; s < n_seq; s++)
    for (int t = off[s]; t < off[s + 1]; t++) p.pos[t] = t - off[s];
  rows(&p, OP_EMBD);
  for (int il = 0; il < m->n_layer; il++) {
    const embed_layer *L = &m->layers[il];
    p.L = L;
    const qmat *w3[3] = {&L->q, &L->k, &L->v};
    float *y3[3] = {p.q, p.k, p.v};
    qmat_mul_multi(m->pool, 3, w3, p.x, y3, T);
    rows(&p, OP_QKV_BIAS);
    compute_pool_for(m->pool, (int64_t)n_seq * m->n_head, 1, attn_job, &p);
    qmat_mul(m->pool, &L->o, p.att, p.h, T);
    rows(&p, OP_ATTN_OUT);
    qmat_mul(m->pool, &L->up, p.h, p.ff, T);
    rows(&p, OP_FFN_UP);
    qmat_mul(m->pool, &L->down, p.ff, p.x, T);
    rows(&p, OP_FFN_DOWN);
  }
  memcpy(hidden, p.x, (size_t)T * d * sizeof *hidden);
  mem_free(p.pos);
  return 0;
}
