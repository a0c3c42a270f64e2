/* The training model: a qwen2/llama decoder whose forward pass keeps what the backward pass needs.
 * Two kinds: (a) LoRA over a frozen base, mapped read-only through llm_model_load (the base's
 * matrices stay in their file type: the forward pass multiplies them with qmat_mul exactly as the
 * engine does, the backward pass dequantizes them tile by tile inside the GEMM), and (b) a
 * from-scratch model whose every weight is a trainable F32 tensor. Not here: batches (data.c), the
 * optimizer (optim.c), files (export.c, checkpoint.c).
 *
 * Activation memory per token and layer: x, q, k, v, the attention output, the residual after
 * attention, gate and up (about 2 n_embd + 2 n_ff + q/kv widths values; the normed inputs are
 * recomputed by the backward pass), so a sequence of max_T tokens costs max_T * n_layer * that:
 * floats for from-scratch models and LoRA's f32_activations, else halves scaled per row (the
 * attention output then recomputed, not kept) plus one layer's floats to work in. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/str.h"
#include "llm/gguf.h"
#include "train/train_int.h"

const char *const train_w_names[TRAIN_W_COUNT] = {"attn_q",   "attn_k", "attn_v",  "attn_output",
                                                  "ffn_gate", "ffn_up", "ffn_down"};

int train_targets_parse(const char *s, unsigned *mask) {
  static const char *const shortn[TRAIN_W_COUNT] = {"q", "k", "v", "o", "gate", "up", "down"};
  unsigned m = 0;
  const char *p = s ? s : "";
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char word[32];
    if (n == 0 || n >= sizeof word) return err_set(MIMIC_EINVAL, "bad LoRA target list '%s'", s);
    memcpy(word, p, n);
    word[n] = '\0';
    str_trim(word);
    bool found = false;
    if (strcmp(word, "all") == 0)
      m |= TRAIN_TARGETS_ALL, found = true;
    else if (strcmp(word, "attn") == 0)
      m |= 0x0fu, found = true;
    else if (strcmp(word, "ffn") == 0)
      m |= 0x70u, found = true;
    for (int w = 0; w < TRAIN_W_COUNT && !found; w++)
      if (strcmp(word, shortn[w]) == 0 || strcmp(word, train_w_names[w]) == 0)
        m |= 1u << w, found = true;
    if (!found)
      return err_set(MIMIC_EINVAL,
                     "unknown LoRA target '%s' (use q, k, v, o, gate, up, down, attn, ffn or all)",
                     word);
    p += n;
    if (*p == ',') p++;
  }
  if (!m) return err_set(MIMIC_EINVAL, "empty LoRA target list");
  *mask = m;
  return 0;
}

/* ---- The model ------------------------------------------------------------------------------- */

typedef struct tr_lin {
  int in, out;
  qmat w;    /* the weight (rows = out, cols = in): into the base's mapping, or over a param */
  float *gw; /* gradient of a trainable weight; NULL when frozen */
  const float *bias;      /* frozen bias (qwen2 q/k/v) or NULL */
  float *A, *B, *gA, *gB; /* LoRA: A (r, in), B (out, r); NULL when not adapted */
  int r;
  float s;   /* alpha / r */
  float *ax; /* saved A x~ (T, r) of the last forward */
} tr_lin;

/* The activations a layer keeps for its backward pass (besides rs1, rs2, lse and LoRA's A x~). */
enum { KEPT_X0, KEPT_X1, KEPT_Q, KEPT_K, KEPT_V, KEPT_ATT, KEPT_G, KEPT_U, KEPT_N };

typedef struct tr_layer {
  float *attn_norm, *ffn_norm, *g_attn_norm, *g_ffn_norm;
  tr_lin lin[TRAIN_W_COUNT];
  /* saved activations, max_T rows each: the layer's own, or with act16 views of the one shared
   * float workspace, filled from h/hinv when the backward pass reaches the layer */
  float *x0, *rs1, *q, *k, *v, *att, *lse, *x1, *rs2, *g, *u;
  uint16_t *h[KEPT_N]; /* act16: the kept activations as scaled halves (NULL: not kept) */
  float *hinv[KEPT_N]; /* and each row's inverse scale */
} tr_layer;

struct train_model {
  llm_hparams hp;
  bool lora;
  llm_model *base;       /* LoRA: the frozen base */
  int fwd_T;             /* T of the last forward pass, whose activations backward reads */
  gguf_file *vocab_file; /* from scratch with a borrowed vocabulary: for export */
  tokenizer *tok;
  compute_pool *pool;
  int max_T;
  float lora_alpha, lora_dropout;
  bool recompute_ffn; /* gate/up are recomputed by the backward pass (one shared buffer each) */
  bool act16;         /* kept activations are stored as halves (LoRA's default) */
  int lora_rank;
  unsigned lora_targets;
  char arch_name[16];
  int n_ctx;

  qmat embd, output;        /* (n_vocab, n_embd) */
  float *g_embd, *g_output; /* trainable only; g_output == g_embd when tied */
  const float *output_bias;
  float *output_norm, *g_output_norm;
  float *rope_freqs;
  tr_layer *layers;

  train_param *params;
  int n_params, cap_params;
  void **owned;
  int n_owned, cap_owned;
  bool oom;

  /* forward state */
  float *x, *xn, *tmp, *tmp2, *xfin, *xf, *rsf, *cs, *hbuf, *drop;
  int32_t *rows; /* target rows of the batch */
  int n_rows;
  uint64_t drop_key;
  /* backward scratch */
  float *dx, *dxn, *dh, *dg, *du, *datt, *dq, *dk, *dv, *attn_scr, *gax, *lg, *xr, *dxr, *dxf;
  int vb;      /* lm-head block: columns (vocabulary entries) of logits computed at once */
  float *hlse; /* (T) log-sum-exp of each target row's logits, from the forward pass */
  bool hlse_ok;
  double *hsum; /* (T) the running softmax sums of the blocked head */
  float *hmax, *hz;
};

/* The lm head's block of logits: at most this many floats (8 MiB; 4,096 vocabulary entries for
 * each of 512 rows). */
#define HEAD_LOGITS_MAX (2u << 20)

static void *zalloc(train_model *m, size_t n, size_t size) {
  void *p = mem_calloc(n ? n : 1, size);
  if (!p) {
    m->oom = true;
    return NULL;
  }
  if (m->n_owned == m->cap_owned) {
    m->cap_owned = m->cap_owned ? 2 * m->cap_owned : 64;
    m->owned = xrealloc(m->owned, (size_t)m->cap_owned * sizeof *m->owned);
  }
  m->owned[m->n_owned++] = p;
  return p;
}

static float *falloc(train_model *m, size_t n) { return zalloc(m, n, sizeof(float)); }

static train_param *param_add(train_model *m, const char *name, size_t n, int n_dims, int64_t ne0,
                              int64_t ne1, bool decay) {
  if (m->n_params == m->cap_params) {
    m->cap_params = m->cap_params ? 2 * m->cap_params : 32;
    m->params = xrealloc(m->params, (size_t)m->cap_params * sizeof *m->params);
  }
  train_param *p = &m->params[m->n_params++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->n = n;
  p->n_dims = n_dims;
  p->ne[0] = ne0;
  p->ne[1] = ne1;
  p->decay = decay;
  p->w = falloc(m, n);
  p->g = falloc(m, n);
  return p;
}

void train_model_destroy(train_model *m) {
  if (!m) return;
  for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
  mem_free(m->owned);
  mem_free(m->params);
  mem_free(m->layers);
  mem_free(m->rows);
  mem_free(m->hsum);
  tok_destroy(m->tok);
  gguf_close(m->vocab_file);
  llm_model_destroy(m->base);
  mem_free(m);
}

const llm_hparams *train_model_hparams(const train_model *m) { return &m->hp; }
const tokenizer *train_model_tokenizer(const train_model *m) { return m->tok; }
bool train_model_is_lora(const train_model *m) { return m->lora; }
int train_model_max_T(const train_model *m) { return m->max_T; }
int train_model_n_params(const train_model *m) { return m->n_params; }
train_param *train_model_param(train_model *m, int i) {
  return i >= 0 && i < m->n_params ? &m->params[i] : NULL;
}

int train__model_n_ctx(const train_model *m) { return m->n_ctx; }
const gguf_file *train__model_vocab_file(const train_model *m) { return m->vocab_file; }
float train__model_lora_alpha(const train_model *m) { return m->lora_alpha; }

void train__model_set_lora_alpha(train_model *m, float alpha) {
  m->lora_alpha = alpha;
  for (int il = 0; il < m->hp.n_layer; il++)
    for (int w = 0; w < TRAIN_W_COUNT; w++) {
      tr_lin *l = &m->layers[il].lin[w];
      if (l->A) l->s = alpha / (float)l->r;
    }
}

void train__model_set_head_block(train_model *m, int vb) {
  MIMIC_ASSERT(vb > 0 && vb % 64 == 0 && (size_t)vb * (size_t)m->max_T <= HEAD_LOGITS_MAX);
  m->vb = vb < m->hp.n_vocab ? vb : m->hp.n_vocab;
}

size_t train_model_n_trainable(const train_model *m) {
  size_t n = 0;
  for (int i = 0; i < m->n_params; i++) n += m->params[i].n;
  return n;
}

void train_model_zero_grad(train_model *m) {
  for (int i = 0; i < m->n_params; i++) memset(m->params[i].g, 0, m->params[i].n * sizeof(float));
}

static size_t lin_in(const llm_hparams *hp, int w) {
  size_t qd = (size_t)hp->n_head * hp->head_dim;
  return w == TRAIN_W_O ? qd : w == TRAIN_W_DOWN ? (size_t)hp->n_ff : (size_t)hp->n_embd;
}
static size_t lin_out(const llm_hparams *hp, int w) {
  size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
  switch (w) {
  case TRAIN_W_Q: return qd;
  case TRAIN_W_K:
  case TRAIN_W_V: return kvd;
  case TRAIN_W_GATE:
  case TRAIN_W_UP: return (size_t)hp->n_ff;
  default: return (size_t)hp->n_embd;
  }
}

double train_model_flops(const train_model *m, int T, int n_target) {
  const llm_hparams *hp = &m->hp;
  double per_tok = 0, lora = 0;
  for (int w = 0; w < TRAIN_W_COUNT; w++) {
    double mn = (double)lin_in(hp, w) * (double)lin_out(hp, w);
    const tr_lin *l = &m->layers[0].lin[w];
    per_tok += mn;
    if (l->A) lora += (double)l->r * (double)(l->in + l->out);
  }
  /* forward 2 MN; backward dx 2 MN (+ dW 2 MN when trainable); LoRA about 3x its forward */
  double wmul = m->lora ? 4.0 : 6.0;
  double layers = (double)hp->n_layer * ((double)T * per_tok * wmul + (double)T * lora * 6.0);
  double qd = (double)hp->n_head * hp->head_dim;
  double attn = (double)hp->n_layer * (double)T * (double)T * qd * 2.0 *
                3.0; /* causal half of 4 QK/PV products */
  /* lm head: LoRA's SFT step takes two products per vocabulary block (logits, dz W: the fused
   * pass); a trainable head four (logits in the forward and again in the backward, dx, dW) */
  double head =
      (double)n_target * (double)hp->n_embd * (double)hp->n_vocab * 2.0 * (m->lora ? 2.0 : 4.0);
  return layers + attn + head;
}

/* ---- Activation memory ----------------------------------------------------------------------- */

static size_t kept_width(const llm_hparams *hp, int k) {
  size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
  switch (k) {
  case KEPT_Q:
  case KEPT_ATT: return qd;
  case KEPT_K:
  case KEPT_V: return kvd;
  case KEPT_G:
  case KEPT_U: return (size_t)hp->n_ff;
  default: return (size_t)hp->n_embd;
  }
}

static float *kept_view(tr_layer *L, int k) {
  float *v[KEPT_N] = {L->x0, L->x1, L->q, L->k, L->v, L->att, L->g, L->u};
  return v[k];
}

/* act16: the layer's activations (in the shared float workspace) into its halves, at the end of
 * its forward pass; and back, when the backward pass reaches it. */
static void layer_pack(train_model *m, tr_layer *L, int T) {
  for (int k = 0; k < KEPT_N; k++)
    if (L->h[k])
      train__half_put(m->pool, T, (int)kept_width(&m->hp, k), kept_view(L, k), L->h[k], L->hinv[k]);
}

static void layer_unpack(train_model *m, tr_layer *L, int T) {
  for (int k = 0; k < KEPT_N; k++)
    if (L->h[k])
      train__half_get(m->pool, T, (int)kept_width(&m->hp, k), L->h[k], L->hinv[k], kept_view(L, k));
}

static int alloc_state(train_model *m) {
  const llm_hparams *hp = &m->hp;
  size_t T = (size_t)m->max_T, E = (size_t)hp->n_embd, ff = (size_t)hp->n_ff;
  size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
  size_t wide = E > qd ? E : qd;
  if (ff > wide) wide = ff;
  for (int il = 0; il < hp->n_layer; il++) {
    tr_layer *L = &m->layers[il];
    L->rs1 = falloc(m, T);
    L->lse = falloc(m, T * (size_t)hp->n_head);
    L->rs2 = falloc(m, T);
    if (m->act16 && il > 0) { /* views of layer 0's floats, the shared workspace */
      const tr_layer *L0 = &m->layers[0];
      L->x0 = L0->x0, L->x1 = L0->x1, L->q = L0->q, L->k = L0->k, L->v = L0->v;
      L->att = L0->att, L->g = L0->g, L->u = L0->u;
    } else {
      L->x0 = falloc(m, T * E);
      L->q = falloc(m, T * qd);
      L->k = falloc(m, T * kvd);
      L->v = falloc(m, T * kvd);
      L->att = falloc(m, T * qd);
      L->x1 = falloc(m, T * E);
      if (m->recompute_ffn && il > 0) {
        L->g = m->layers[0].g;
        L->u = m->layers[0].u;
      } else {
        L->g = falloc(m, T * ff);
        L->u = falloc(m, T * ff);
      }
    }
    if (m->act16)
      for (int k = 0; k < KEPT_N; k++) {
        if (m->recompute_ffn && (k == KEPT_G || k == KEPT_U)) continue;
        if (k == KEPT_ATT) continue; /* recomputed from q, k, v by the backward pass */
        L->h[k] = zalloc(m, T * kept_width(hp, k), sizeof(uint16_t));
        L->hinv[k] = falloc(m, T);
      }
    for (int w = 0; w < TRAIN_W_COUNT; w++)
      if (L->lin[w].A) L->lin[w].ax = falloc(m, T * (size_t)L->lin[w].r);
  }
  m->x = falloc(m, T * E);
  m->xn = falloc(m, T * E);
  /* tmp takes the o/down outputs (T x E), and with dropout the masked LoRA dx of any matrix */
  m->tmp = falloc(m, T * (m->lora && m->lora_dropout > 0 ? wide : E > qd ? E : qd));
  m->xfin = falloc(m, T * E);
  m->xf = falloc(m, T * E);
  m->rsf = falloc(m, T);
  m->cs = falloc(m, T * (size_t)hp->n_rot);
  m->hbuf = falloc(m, T * ff);
  if (m->lora && m->lora_dropout > 0) m->drop = falloc(m, T * wide);
  m->dx = falloc(m, T * E);
  m->dxn = falloc(m, T * E);
  m->dh = falloc(m, T * ff);
  /* Aliases (less memory): SwiGLU's backward writes dg over h, which down's backward has used,
   * and du over dh in place; LoRA's product B A x~ (lin_fwd) goes through dh, which is free in the
   * forward pass and, when recompute_ffn runs lin_fwd in the backward pass, before down's. */
  m->dg = m->hbuf;
  m->du = m->dh;
  if (m->lora) m->tmp2 = m->dh;
  m->datt = falloc(m, T * qd);
  m->dq = falloc(m, T * qd);
  m->dk = falloc(m, T * kvd);
  m->dv = falloc(m, T * kvd);
  train_attn a = {m->max_T, hp->n_head, hp->n_head_kv, hp->head_dim, NULL};
  m->attn_scr = falloc(m, train__attn_scratch(&a));
  if (m->lora) m->gax = falloc(m, T * (size_t)(m->lora_rank > 0 ? m->lora_rank : 1));
  size_t V = (size_t)hp->n_vocab;
  size_t vb = HEAD_LOGITS_MAX / T / 64 * 64; /* a block of logits at a time */
  if (vb < 64) vb = 64;
  if (vb > V) vb = V;
  m->vb = (int)vb;
  m->lg = falloc(m, T * vb);
  m->xr = falloc(m, T * E);
  m->dxr = falloc(m, T * E);
  m->hlse = falloc(m, T);
  m->hmax = falloc(m, T);
  m->hz = falloc(m, T);
  m->hsum = mem_calloc(T, sizeof *m->hsum);
  if (!m->hsum) m->oom = true;
  m->dxf = falloc(m, T * E);
  m->rows = mem_calloc(T, sizeof *m->rows);
  if (m->oom || !m->rows)
    return err_set(MIMIC_ENOMEM,
                   "out of memory for training activations (sequence of %d tokens, %d layers); "
                   "lower --seq-len",
                   m->max_T, hp->n_layer);
  return 0;
}

/* ---- LoRA over a frozen base ----------------------------------------------------------------- */

/* A 1-D F32 copy of a small tensor (norms, biases). */
static int vec_copy(train_model *m, const gguf_file *f, const char *name, int64_t n, bool required,
                    float **out) {
  *out = NULL;
  const gguf_tensor *t = gguf_tensor_find(f, name);
  if (!t)
    return required ? err_set(MIMIC_EFORMAT, "%s: tensor %s is missing", gguf_path(f), name) : 0;
  if (t->ne[0] != n || t->ne[1] != 1)
    return err_set(MIMIC_EFORMAT, "%s: tensor %s has %lld values, expected %lld", gguf_path(f),
                   name, (long long)t->ne[0], (long long)n);
  float *v = falloc(m, (size_t)n);
  if (!v) return err_set(MIMIC_ENOMEM, "out of memory");
  quant_dequant_row(t->type, t->data, v, n);
  *out = v;
  return 0;
}

static int mat_ref(const gguf_file *f, const char *name, int64_t cols, int64_t rows, qmat *q) {
  const gguf_tensor *t = gguf_tensor_find(f, name);
  if (!t || t->ne[0] != cols || t->ne[1] != rows)
    return err_set(MIMIC_EFORMAT, "%s: tensor %s is missing or mis-shaped", gguf_path(f), name);
  q->type = t->type;
  q->rows = rows;
  q->cols = cols;
  q->data = t->data;
  q->row_bytes = tensor_row_bytes(t->type, cols);
  return 0;
}

int train_model_new_lora(const char *path, const train_lora_opts *o, uint64_t seed, int max_T,
                         compute_pool *pool, train_model **out) {
  *out = NULL;
  train_lora_opts d = {8, 0, 0, TRAIN_TARGETS_ALL, NULL, false, false};
  if (o) d = *o;
  if (d.rank <= 0) d.rank = 8;
  if (d.alpha <= 0) d.alpha = 2.0f * (float)d.rank;
  if (!d.targets) d.targets = TRAIN_TARGETS_ALL;
  if (d.rank > TRAIN_MAX_RANK)
    return err_set(MIMIC_EINVAL, "LoRA rank %d is over the cap of %d", d.rank, TRAIN_MAX_RANK);
  if (!(d.dropout >= 0 && d.dropout < 1))
    return err_set(MIMIC_EINVAL, "LoRA dropout must be in [0, 1)");
  if (max_T < 2 || max_T > TRAIN_MAX_SEQ)
    return err_set(MIMIC_EINVAL, "sequence length %d is outside [2, %d]", max_T, TRAIN_MAX_SEQ);
  train_model *m = xcalloc(1, sizeof *m);
  m->lora = true;
  m->pool = pool;
  m->max_T = max_T;
  m->lora_rank = d.rank;
  m->lora_alpha = d.alpha;
  m->lora_dropout = d.dropout;
  m->recompute_ffn = d.recompute_ffn;
  m->act16 = !d.f32_activations;
  m->lora_targets = d.targets;
  int rc = llm_model_load(path, &m->base);
  if (rc) goto out;
  m->hp = *llm_model_hparams(m->base);
  snprintf(m->arch_name, sizeof m->arch_name, "%s", m->hp.arch_name);
  m->n_ctx = m->hp.n_ctx_train;
  const gguf_file *f = llm_model_gguf(m->base);
  if ((rc = tok_load(f, &m->tok))) goto out;
  const llm_hparams *hp = &m->hp;
  int64_t E = hp->n_embd, V = hp->n_vocab;
  if ((rc = mat_ref(f, "token_embd.weight", E, V, &m->embd))) goto out;
  if (hp->tied_embeddings)
    m->output = m->embd;
  else if ((rc = mat_ref(f, "output.weight", E, V, &m->output)))
    goto out;
  float *ob = NULL;
  if ((rc = vec_copy(m, f, "output.bias", V, false, &ob))) goto out;
  m->output_bias = ob;
  if ((rc = vec_copy(m, f, "output_norm.weight", E, true, &m->output_norm))) goto out;
  if ((rc = vec_copy(m, f, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs))) goto out;
  m->layers = xcalloc((size_t)hp->n_layer, sizeof *m->layers);
  train_rng rng;
  train__rng_seed(&rng, seed);
  char name[GGUF_MAX_NAME];
  for (int il = 0; il < hp->n_layer; il++) {
    tr_layer *L = &m->layers[il];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", il);
    if ((rc = vec_copy(m, f, name, E, true, &L->attn_norm))) goto out;
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", il);
    if ((rc = vec_copy(m, f, name, E, true, &L->ffn_norm))) goto out;
    for (int w = 0; w < TRAIN_W_COUNT; w++) {
      tr_lin *l = &L->lin[w];
      l->in = (int)lin_in(hp, w);
      l->out = (int)lin_out(hp, w);
      snprintf(name, sizeof name, "blk.%d.%s.weight", il, train_w_names[w]);
      if ((rc = mat_ref(f, name, l->in, l->out, &l->w))) goto out;
      float *bias = NULL;
      snprintf(name, sizeof name, "blk.%d.%s.bias", il, train_w_names[w]);
      if ((rc = vec_copy(m, f, name, l->out, false, &bias))) goto out;
      l->bias = bias;
      if (!(d.targets & (1u << w))) continue;
      l->r = d.rank;
      l->s = d.alpha / (float)d.rank;
      snprintf(name, sizeof name, "blk.%d.%s.weight.lora_a", il, train_w_names[w]);
      train_param *pa = param_add(m, name, (size_t)d.rank * (size_t)l->in, 2, l->in, d.rank, true);
      snprintf(name, sizeof name, "blk.%d.%s.weight.lora_b", il, train_w_names[w]);
      train_param *pb =
          param_add(m, name, (size_t)l->out * (size_t)d.rank, 2, d.rank, l->out, true);
      if (m->oom) {
        rc = err_set(MIMIC_ENOMEM, "out of memory for the LoRA tensors");
        goto out;
      }
      l->A = pa->w, l->gA = pa->g, l->B = pb->w, l->gB = pb->g;
      /* PEFT's default: kaiming_uniform(a = sqrt 5) = uniform(-1/sqrt(in), 1/sqrt(in)); B = 0. */
      float bound = 1.0f / sqrtf((float)l->in);
      for (size_t i = 0; i < pa->n; i++)
        l->A[i] = (float)((2.0 * train__rng_uniform(&rng) - 1.0) * bound);
    }
  }
  if ((rc = alloc_state(m))) goto out;
  LOG_I("train", "%s: LoRA rank %d, alpha %g, %d tensors, %.2f M trainable parameters", path,
        d.rank, (double)d.alpha, m->n_params, (double)train_model_n_trainable(m) / 1e6);
  *out = m;
  m = NULL;
out:
  train_model_destroy(m);
  return rc;
}

/* ---- From scratch ---------------------------------------------------------------------------- */

static void fill_normal(train_rng *r, float *w, size_t n, float std) {
  for (size_t i = 0; i < n; i++) w[i] = std * train__rng_normal(r);
}

static qmat qmat_f32(const float *w, int64_t rows, int64_t cols) {
  qmat q = {TT_F32, rows, cols, w, (size_t)cols * sizeof(float)};
  return q;
}

int train_model_new_scratch(const train_scratch_opts *o, uint64_t seed, int max_T,
                            compute_pool *pool, train_model **out) {
  *out = NULL;
  train_scratch_opts d = {0};
  if (o) d = *o;
  if (!d.arch) d.arch = "qwen2";
  if (d.n_layer <= 0) d.n_layer = 2;
  if (d.n_embd <= 0) d.n_embd = 128;
  if (d.n_head <= 0) d.n_head = d.n_embd / 32 > 0 ? d.n_embd / 32 : 1;
  if (d.n_head_kv <= 0) d.n_head_kv = d.n_head;
  if (d.n_ff <= 0) d.n_ff = (d.n_embd * 11 / 4 + 31) / 32 * 32;
  if (d.n_ctx <= 0) d.n_ctx = 512;
  if (d.rope_base <= 0) d.rope_base = 10000.0f;
  bool qwen = strcmp(d.arch, "qwen2") == 0;
  if (!qwen && strcmp(d.arch, "llama") != 0)
    return err_set(MIMIC_EINVAL, "unknown architecture '%s' (qwen2 or llama)", d.arch);
  if (d.n_layer > 256 || d.n_embd > 16384 || d.n_ff > 65536 || d.n_embd % d.n_head ||
      d.n_head % d.n_head_kv || (d.n_embd / d.n_head) % 2)
    return err_set(MIMIC_EINVAL,
                   "bad shape: width %d, heads %d, kv heads %d, layers %d, ff %d (width must split "
                   "into heads of even size, heads into kv heads)",
                   d.n_embd, d.n_head, d.n_head_kv, d.n_layer, d.n_ff);
  if (max_T < 2 || max_T > TRAIN_MAX_SEQ)
    return err_set(MIMIC_EINVAL, "sequence length %d is outside [2, %d]", max_T, TRAIN_MAX_SEQ);
  train_model *m = xcalloc(1, sizeof *m);
  m->pool = pool;
  m->max_T = max_T;
  m->n_ctx = d.n_ctx;
  snprintf(m->arch_name, sizeof m->arch_name, "%s", d.arch);
  int rc = 0;
  if (d.vocab) {
    if ((rc = gguf_open(d.vocab, &m->vocab_file))) goto out;
    if ((rc = tok_load(m->vocab_file, &m->tok))) goto out;
  } else if ((rc = train__vocab_builtin(&m->tok))) {
    goto out;
  }
  llm_hparams *hp = &m->hp;
  hp->arch = qwen ? LLM_ARCH_QWEN2 : LLM_ARCH_LLAMA;
  snprintf(hp->arch_name, sizeof hp->arch_name, "%s", d.arch);
  hp->n_vocab = tok_n_vocab(m->tok);
  hp->n_ctx_train = d.n_ctx;
  hp->n_embd = d.n_embd;
  hp->n_layer = d.n_layer;
  hp->n_head = d.n_head;
  hp->n_head_kv = d.n_head_kv;
  hp->head_dim = d.n_embd / d.n_head;
  hp->n_ff = d.n_ff;
  hp->n_rot = hp->head_dim;
  hp->rope_type = qwen ? LLM_ROPE_NEOX : LLM_ROPE_NORM;
  hp->rope_freq_base = d.rope_base;
  hp->rope_freq_scale = 1.0f;
  hp->rms_eps = 1e-6f;
  hp->tied_embeddings = qwen;
  int64_t E = hp->n_embd, V = hp->n_vocab;
  train_rng rng;
  train__rng_seed(&rng, seed);
  float resid_std = 0.02f / sqrtf(2.0f * (float)d.n_layer);

  train_param *p = param_add(m, "token_embd.weight", (size_t)(V * E), 2, E, V, true);
  if (m->oom) goto oom;
  fill_normal(&rng, p->w, p->n, 0.02f);
  m->embd = qmat_f32(p->w, V, E);
  m->g_embd = p->g;
  p = param_add(m, "output_norm.weight", (size_t)E, 1, E, 1, false);
  if (m->oom) goto oom;
  for (int64_t i = 0; i < E; i++) p->w[i] = 1.0f;
  m->output_norm = p->w;
  m->g_output_norm = p->g;
  if (hp->tied_embeddings) {
    m->output = m->embd;
    m->g_output = m->g_embd;
  } else {
    p = param_add(m, "output.weight", (size_t)(V * E), 2, E, V, true);
    if (m->oom) goto oom;
    fill_normal(&rng, p->w, p->n, 0.02f);
    m->output = qmat_f32(p->w, V, E);
    m->g_output = p->g;
  }
  m->layers = xcalloc((size_t)hp->n_layer, sizeof *m->layers);
  char name[96];
  for (int il = 0; il < hp->n_layer; il++) {
    tr_layer *L = &m->layers[il];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", il);
    p = param_add(m, name, (size_t)E, 1, E, 1, false);
    if (m->oom) goto oom;
    for (int64_t i = 0; i < E; i++) p->w[i] = 1.0f;
    L->attn_norm = p->w, L->g_attn_norm = p->g;
    for (int w = 0; w < TRAIN_W_COUNT; w++) {
      if (w == TRAIN_W_GATE) {
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", il);
        p = param_add(m, name, (size_t)E, 1, E, 1, false);
        if (m->oom) goto oom;
        for (int64_t i = 0; i < E; i++) p->w[i] = 1.0f;
        L->ffn_norm = p->w, L->g_ffn_norm = p->g;
      }
      tr_lin *l = &L->lin[w];
      l->in = (int)lin_in(hp, w);
      l->out = (int)lin_out(hp, w);
      snprintf(name, sizeof name, "blk.%d.%s.weight", il, train_w_names[w]);
      p = param_add(m, name, (size_t)l->in * (size_t)l->out, 2, l->in, l->out, true);
      if (m->oom) goto oom;
      fill_normal(&rng, p->w, p->n, w == TRAIN_W_O || w == TRAIN_W_DOWN ? resid_std : 0.02f);
      l->w = qmat_f32(p->w, l->out, l->in);
      l->gw = p->g;
    }
  }
  if ((rc = alloc_state(m))) goto out;
  LOG_I("train",
        "new %s model: %d layers, width %d, %d/%d heads, ff %d, vocab %d, %.2f M parameters",
        d.arch, hp->n_layer, hp->n_embd, hp->n_head, hp->n_head_kv, hp->n_ff, hp->n_vocab,
        (double)train_model_n_trainable(m) / 1e6);
  *out = m;
  m = NULL;
  goto out;
oom:
  rc = err_set(MIMIC_ENOMEM, "out of memory for the model's weights");
out:
  train_model_destroy(m);
  return rc;
}

/* ---- Forward --------------------------------------------------------------------------------- */

static const int qkv_w[3] = {TRAIN_W_Q, TRAIN_W_K, TRAIN_W_V}, gu_w[2] = {TRAIN_W_GATE, TRAIN_W_UP};

/* Inverted dropout on the LoRA branch's input: x~ = x * keep / (1 - p), the mask drawn from a hash
 * of (batch key, layer, matrix, row), so the backward pass regenerates it instead of storing it. */
static void dropout_apply(const train_model *m, int il, int w, int T, int n, const float *x,
                          float *y) {
  float p = m->lora_dropout, inv = 1.0f / (1.0f - p);
  uint64_t thr = (uint64_t)((double)p * 16777216.0);
  for (int t = 0; t < T; t++) {
    train_rng r;
    train__rng_seed(&r, m->drop_key ^ ((uint64_t)il << 48) ^ ((uint64_t)w << 40) ^ (uint64_t)t);
    for (int i = 0; i < n; i++) {
      uint64_t u = train__rng_next(&r) >> 40;
      y[(size_t)t * n + i] = u < thr ? 0.0f : x[(size_t)t * n + i] * inv;
    }
  }
}

static const float *lora_input(train_model *m, int il, int w, int T, const float *x) {
  const tr_lin *l = &m->layers[il].lin[w];
  if (!m->drop || !m->drop_key) return x;
  dropout_apply(m, il, w, T, l->in, x, m->drop);
  return m->drop;
}

/* ---- Row-parallel element-wise passes ---------------------------------------------------------
 * The passes between the matrix products (norms, RoPE, SwiGLU, residual adds, LoRA's sum and the
 * biases) sum nothing across rows, so they are split over the pool by rows: each row gets the same
 * arithmetic whichever thread runs it, the same bits as one thread. (Run on the calling thread
 * alone they were about a tenth of a 0.5B step's wall time, the other thread idle.) */
typedef enum {
  EW_RMSNORM,
  EW_RMSNORM_BWD,
  EW_ROPE,
  EW_SWIGLU,
  EW_SWIGLU_H,
  EW_SWIGLU_BWD,
  EW_ADD,
  EW_LORA
} ew_op;

typedef struct ew_job {
  ew_op op;
  int n;                      /* floats per row */
  const float *a, *b, *c, *d; /* inputs, by op */
  float *y, *z;               /* outputs, by op */
  float s;
  const llm_hparams *hp; /* RoPE */
  int heads;
  bool bwd;
} ew_job;

static void ew_rows(void *arg, int64_t b, int64_t e) {
  const ew_job *j = arg;
  int T = (int)(e - b);
  size_t o = (size_t)b * (size_t)j->n, cnt = (size_t)T * (size_t)j->n;
  switch (j->op) {
  case EW_RMSNORM: /* x a, weights b -> y, rstd z */
    train__rmsnorm_fwd(T, j->n, j->a + o, j->b, j->s, j->y + o, j->z + b);
    break;
  case EW_RMSNORM_BWD: /* x a, weights b, rstd c, dy d -> dx y (+=); no weight gradient */
    train__rmsnorm_bwd(T, j->n, j->a + o, j->b, j->c + b, j->d + o, j->y + o, NULL);
    break;
  case EW_ROPE: /* cos/sin a (rows of n_rot) -> y rotated in place */
    train__rope(j->hp, T, j->heads, j->a + (size_t)b * j->hp->n_rot, j->y + o, j->bwd);
    break;
  case EW_SWIGLU: train__swiglu_fwd((int64_t)cnt, j->a + o, j->b + o, j->y + o); break;
  case EW_SWIGLU_H: train__swiglu_bwd_h((int64_t)cnt, j->a + o, j->b + o, j->y + o); break;
  case EW_SWIGLU_BWD:
    train__swiglu_bwd((int64_t)cnt, j->a + o, j->b + o, j->c + o, j->y + o, j->z + o);
    break;
  case EW_ADD: /* y += a, then (z not NULL) a copy of y in z */
    for (size_t i = o; i < o + cnt; i++) j->y[i] += j->a[i];
    if (j->z) memcpy(j->z + o, j->y + o, cnt * sizeof(float));
    break;
  case EW_LORA: /* y += s a (a not NULL), then y += bias b (b not NULL): the engine's order */
    if (j->a)
      for (size_t i = o; i < o + cnt; i++) j->y[i] += j->s * j->a[i];
    if (j->b)
      for (int t = 0; t < T; t++)
        for (int i = 0; i < j->n; i++) j->y[o + (size_t)t * j->n + i] += j->b[i];
    break;
  }
}

/* Runs j over rows [0, T) on the pool. */
static void ew_run(const train_model *m, ew_job *j, int T) {
  int nth = compute_pool_threads(m->pool);
  compute_pool_for(m->pool, T, (T + 4 * nth - 1) / (4 * nth), ew_rows, j);
}

static void rmsnorm_fwd(train_model *m, int T, const float *x, const float *w, float *y,
                        float *rstd) {
  ew_job j = {
      .op = EW_RMSNORM, .n = m->hp.n_embd, .a = x, .b = w, .y = y, .z = rstd, .s = m->hp.rms_eps};
  ew_run(m, &j, T);
}

/* dx += the norm's backward; dw (the norm's weight gradient, NULL when frozen) sums over rows, so
 * with it the pass stays on one thread. */
static void rmsnorm_bwd(train_model *m, int T, const float *x, const float *w, const float *rstd,
                        const float *dy, float *dx, float *dw) {
  if (dw) {
    train__rmsnorm_bwd(T, m->hp.n_embd, x, w, rstd, dy, dx, dw);
    return;
  }
  ew_job j = {.op = EW_RMSNORM_BWD, .n = m->hp.n_embd, .a = x, .b = w, .c = rstd, .d = dy, .y = dx};
  ew_run(m, &j, T);
}

static void rope(train_model *m, int T, int heads, float *x, bool backward) {
  ew_job j = {.op = EW_ROPE,
              .n = heads * m->hp.head_dim,
              .a = m->cs,
              .y = x,
              .hp = &m->hp,
              .heads = heads,
              .bwd = backward};
  ew_run(m, &j, T);
}

static void swiglu(train_model *m, ew_op op, int T, const float *g, const float *u, const float *dh,
                   float *y, float *z) {
  ew_job j = {.op = op, .n = m->hp.n_ff, .a = g, .b = u, .c = dh, .y = y, .z = z};
  ew_run(m, &j, T);
}

/* x (T, E) += d; then a copy of x into keep when not NULL. */
static void residual_add(train_model *m, int T, float *x, const float *d, float *keep) {
  ew_job j = {.op = EW_ADD, .n = m->hp.n_embd, .a = d, .y = x, .z = keep};
  ew_run(m, &j, T);
}

/* y (T, out) = x (T, in) W^T (+ s B A x~) (+ bias). A frozen base and the LoRA branch go through
 * qmat_mul in the engine's order (base, adapter, bias), so a trained adapter gives bit-identical
 * logits in the engine: with quantized bases that matters, because the activations are quantized
 * again at every layer and a rounding flip from a different summation order would be amplified.
 * lin_fwd_base is the base's product alone, lin_fwd_rest the adapter and bias on top of it. */
static void lin_fwd_base(train_model *m, int il, int w, int T, const float *x, float *y) {
  tr_lin *l = &m->layers[il].lin[w];
  if (l->gw) {
    train_mat A = {x, l->in, false, NULL}, B = {l->w.data, l->in, true, NULL};
    train__gemm(m->pool, T, l->out, l->in, A, B, 1.0f, y, l->out, false);
  } else {
    qmat_mul(m->pool, &l->w, x, y, T);
  }
}

static void lin_fwd_rest(train_model *m, int il, int w, int T, const float *x, float *y,
                         bool ax_done) {
  tr_lin *l = &m->layers[il].lin[w];
  if (l->A) {
    if (!ax_done) {
      const float *xi = lora_input(m, il, w, T, x);
      qmat qa = qmat_f32(l->A, l->r, l->in);
      qmat_mul(m->pool, &qa, xi, l->ax, T);
    }
    if (train__lora_add(m->pool, T, l->out, l->r, l->ax, l->B, l->s, l->bias, y)) return;
    qmat qb = qmat_f32(l->B, l->out, l->r);
    qmat_mul(m->pool, &qb, l->ax, m->tmp2, T);
  }
  if (!l->A && !l->bias) return;
  ew_job j = {
      .op = EW_LORA, .n = l->out, .a = l->A ? m->tmp2 : NULL, .b = l->bias, .y = y, .s = l->s};
  ew_run(m, &j, T);
}

static void lin_fwd(train_model *m, int il, int w, int T, const float *x, float *y) {
  lin_fwd_base(m, il, w, T, x, y);
  lin_fwd_rest(m, il, w, T, x, y, false);
}

/* n (at most 4) matrices of one input (q, k, v; gate, up): frozen bases in one qmat_mul_multi (the
 * input is quantized once, one pool section; the same bits as one qmat_mul each), and without
 * dropout the adapters' A products likewise; then each one's rest. */
static void lin_fwd_multi(train_model *m, int il, int n, const int *ws, int T, const float *x,
                          float *const *ys) {
  MIMIC_ASSERT(n >= 1 && n <= 4);
  const qmat *q[4], *qa[4];
  qmat a[4];
  float *ax[4];
  bool frozen = true, adapted = !(m->drop && m->drop_key);
  for (int k = 0; k < n; k++) {
    tr_lin *l = &m->layers[il].lin[ws[k]];
    frozen = frozen && !l->gw;
    adapted = adapted && l->A;
    q[k] = &l->w;
    if (l->A) {
      a[k] = qmat_f32(l->A, l->r, l->in);
      qa[k] = &a[k];
      ax[k] = l->ax;
    }
  }
  if (frozen)
    qmat_mul_multi(m->pool, n, q, x, ys, T);
  else
    for (int k = 0; k < n; k++) lin_fwd_base(m, il, ws[k], T, x, ys[k]);
  if (adapted) qmat_mul_multi(m->pool, n, qa, x, ax, T);
  for (int k = 0; k < n; k++) lin_fwd_rest(m, il, ws[k], T, x, ys[k], adapted);
}

static int check_batch(const train_model *m, const train_batch *b) {
  if (b->T < 1 || b->T > m->max_T)
    return err_set(MIMIC_EINVAL, "batch of %d tokens is outside [1, %d]", b->T, m->max_T);
  int V = m->hp.n_vocab;
  for (int t = 0; t < b->T; t++) {
    if (b->tokens[t] < 0 || b->tokens[t] >= V)
      return err_set(MIMIC_EINVAL, "token %d at row %d is outside the vocabulary of %d",
                     b->tokens[t], t, V);
    if (b->targets[t] < -1 || b->targets[t] >= V)
      return err_set(MIMIC_EINVAL, "target %d at row %d is outside the vocabulary of %d",
                     b->targets[t], t, V);
    if (b->seg[t] < 0 || b->seg[t] > t || b->seg[b->seg[t]] != b->seg[t] || b->pos[t] < 0)
      return err_set(MIMIC_EINVAL, "row %d: sample start %d / position %d are inconsistent", t,
                     b->seg[t], b->pos[t]);
  }
  return 0;
}

/* The output matrix's rows v0..v0+nb (vocabulary entries) as a matrix of their own. */
static qmat head_rows(const train_model *m, int v0, int nb) {
  qmat q = m->output;
  q.data = (const char *)q.data + (size_t)v0 * q.row_bytes;
  q.rows = nb;
  return q;
}

/* Logits of n rows xr (n, E) for vocabulary entries v0..v0+nb into lg (n, nb). With `engine`, a
 * frozen output matrix goes through qmat_mul exactly as the engine computes logits; otherwise
 * through the training GEMM, its tiles dequantized (the loss's blocks: faster, and in float). */
static void head_logits(train_model *m, const float *xr, int n, int v0, int nb, float *lg,
                        bool engine) {
  int E = m->hp.n_embd;
  qmat q = head_rows(m, v0, nb);
  if (m->g_output) {
    train_mat A = {xr, E, false, NULL};
    train_mat B = {(const float *)m->output.data + (size_t)v0 * E, E, true, NULL};
    train__gemm(m->pool, n, nb, E, A, B, 1.0f, lg, nb, false);
  } else if (engine) {
    qmat_mul(m->pool, &q, xr, lg, n);
  } else {
    train_mat A = {xr, E, false, NULL}, B = {NULL, 0, true, &q};
    train__gemm(m->pool, n, nb, E, A, B, 1.0f, lg, nb, false);
  }
  if (m->output_bias)
    for (int t = 0; t < n; t++)
      for (int i = 0; i < nb; i++) lg[(size_t)t * nb + i] += m->output_bias[v0 + i];
}

/* One block of logits lg (n, nb) for the rows m->rows[0..n), vocabulary entries v0..: with dlogp
 * NULL, folds the block into each row's running max (hmax), sum of exp (hsum) and target logit
 * (hz); else overwrites it with dz = dlogp (onehot(target) - softmax), the softmax from hlse. */
typedef struct head_job {
  train_model *m;
  const int32_t *targets;
  const float *dlogp;
  float *lg;
  int n, v0, nb;
  bool fused; /* train_model_backward_logp's one pass: see head_fused */
} head_job;

static void head_worker(int ith, int nth, void *arg) {
  const head_job *j = arg;
  train_model *m = j->m;
  int E = m->hp.n_embd;
  for (int i = ith; i < j->n; i += nth) {
    int t = m->rows[i], tg = j->targets[t] - j->v0;
    float *z = j->lg + (size_t)i * j->nb;
    if (j->fused) { /* the online softmax, and dz relative to the running max, rescaled */
      if (tg >= 0 && tg < j->nb) m->hz[i] = z[tg];
      float mx = z[0];
      for (int k = 1; k < j->nb; k++) mx = z[k] > mx ? z[k] : mx;
      if (mx > m->hmax[i]) {
        double c = exp((double)m->hmax[i] - mx); /* 0 at the first block */
        m->hsum[i] *= c;
        float *d = m->dxr + (size_t)i * E;
        for (int e = 0; e < E; e++) d[e] *= (float)c;
        m->hmax[i] = mx;
      }
      m->hsum[i] += train__sum_exp_scale(z, j->nb, m->hmax[i], -j->dlogp[t]);
    } else if (!j->dlogp) {
      if (tg >= 0 && tg < j->nb) m->hz[i] = z[tg];
      float mx = z[0];
      for (int k = 1; k < j->nb; k++) mx = z[k] > mx ? z[k] : mx;
      if (mx > m->hmax[i]) {
        m->hsum[i] *= exp((double)m->hmax[i] - mx);
        m->hmax[i] = mx;
      }
      m->hsum[i] += train__sum_exp(z, j->nb, m->hmax[i]);
    } else {
      float lse = m->hlse[t], d = j->dlogp[t];
      train__exp_scale(z, j->nb, lse, -d);
      if (tg >= 0 && tg < j->nb) z[tg] += d;
    }
  }
}

static void head_run(train_model *m, head_job *j) {
  if (m->pool)
    compute_pool_run(m->pool, head_worker, j);
  else
    head_worker(0, 1, j);
}

/* Copies the rows m->rows[0..n) of the final normed activations into xr. */
static void head_gather(train_model *m, int n) {
  int E = m->hp.n_embd;
  for (int i = 0; i < n; i++)
    memcpy(m->xr + (size_t)i * E, m->xf + (size_t)m->rows[i] * E, (size_t)E * sizeof(float));
}

/* hlse[t] for the rows m->rows[0..n), and log p(target) into logp (when not NULL): the vocabulary
 * in blocks of vb columns, so a T x V logits matrix never exists and each block of the output
 * matrix is read once for all rows. */
static void head_lse(train_model *m, const train_batch *b, int n, float *logp) {
  int V = m->hp.n_vocab;
  if (n == 0) return;
  head_gather(m, n);
  for (int i = 0; i < n; i++) m->hmax[i] = -INFINITY, m->hsum[i] = 0, m->hz[i] = 0;
  for (int v0 = 0; v0 < V; v0 += m->vb) {
    int nb = V - v0 < m->vb ? V - v0 : m->vb;
    head_logits(m, m->xr, n, v0, nb, m->lg, false);
    head_job j = {m, b->targets, NULL, m->lg, n, v0, nb, false};
    head_run(m, &j);
  }
  for (int i = 0; i < n; i++) {
    int t = m->rows[i];
    double lse = m->hmax[i] + log(m->hsum[i]);
    m->hlse[t] = (float)lse;
    if (logp) logp[t] = (float)((double)m->hz[i] - lse);
  }
}

int train_model_forward(train_model *m, const train_batch *b, float *logp, float *logits) {
  int rc = check_batch(m, b);
  if (rc) return rc;
  const llm_hparams *hp = &m->hp;
  int T = b->T, E = hp->n_embd;
  m->drop_key = b->dropout_key;
  m->fwd_T = T;
  for (int t = 0; t < T; t++)
    quant_dequant_row(m->embd.type,
                      (const char *)m->embd.data + (size_t)b->tokens[t] * m->embd.row_bytes,
                      m->x + (size_t)t * E, E);
  train__rope_cache(hp, m->rope_freqs, b->pos, T, m->cs);
  train_attn at = {T, hp->n_head, hp->n_head_kv, hp->head_dim, b->seg};
  for (int il = 0; il < hp->n_layer; il++) {
    tr_layer *L = &m->layers[il];
    memcpy(L->x0, m->x, (size_t)T * E * sizeof(float));
    rmsnorm_fwd(m, T, m->x, L->attn_norm, m->xn, L->rs1);
    float *qkv[3] = {L->q, L->k, L->v};
    lin_fwd_multi(m, il, 3, qkv_w, T, m->xn, qkv);
    rope(m, T, hp->n_head, L->q, false);
    rope(m, T, hp->n_head_kv, L->k, false);
    train__attn_fwd(m->pool, &at, L->q, L->k, L->v, L->att, L->lse);
    lin_fwd(m, il, TRAIN_W_O, T, L->att, m->tmp);
    residual_add(m, T, m->x, m->tmp, L->x1);
    rmsnorm_fwd(m, T, m->x, L->ffn_norm, m->xn, L->rs2);
    float *gu[2] = {L->g, L->u};
    lin_fwd_multi(m, il, 2, gu_w, T, m->xn, gu);
    swiglu(m, EW_SWIGLU, T, L->g, L->u, NULL, m->hbuf, NULL);
    lin_fwd(m, il, TRAIN_W_DOWN, T, m->hbuf, m->tmp);
    residual_add(m, T, m->x, m->tmp, NULL);
    if (m->act16) layer_pack(m, L, T);
  }
  memcpy(m->xfin, m->x, (size_t)T * E * sizeof(float));
  rmsnorm_fwd(m, T, m->xfin, m->output_norm, m->xf, m->rsf);

  int V = hp->n_vocab;
  m->n_rows = 0;
  for (int t = 0; t < T; t++)
    if (b->targets[t] >= 0) m->rows[m->n_rows++] = t;
  m->hlse_ok = false;
  if (logits) { /* the engine's logits (a backward pass recomputes its own log-sum-exp) */
    head_logits(m, m->xf, T, 0, V, logits, true);
    if (logp) {
      memset(logp, 0, (size_t)T * sizeof *logp);
      for (int i = 0; i < m->n_rows; i++) {
        int t = m->rows[i];
        logp[t] = (float)train__logp_row(logits + (size_t)t * V, V, b->targets[t], 0, NULL);
      }
    }
  } else if (logp) {
    memset(logp, 0, (size_t)T * sizeof *logp);
    head_lse(m, b, m->n_rows, logp);
    m->hlse_ok = true;
  }
  return 0;
}

/* ---- Backward -------------------------------------------------------------------------------- */

/* The frozen lm head's backward pass and its log-sum-exp in one pass over the vocabulary, for the
 * n target rows m->rows[0..n) (their inputs gathered in xr): two products per block (logits, then
 * dz W) where a forward pass that kept the log-sum-exp and a backward pass that recomputes the
 * logits take three. With M_i the running max of row i and S_i = sum exp(z - M_i),
 *   dx_i = d_i (W[target_i] - sum_v softmax(z)_v W_v) = d_i W[target_i] - (d_i / S_i) acc_i,
 *   acc_i = sum_v exp(z_v - M_i) W_v,
 * where acc_i (kept in dxr, sign and d_i folded in) is rescaled by exp(M_old - M_new) whenever a
 * block raises the max, as flash attention rescales its output. The output must be frozen: the
 * weights' own gradient would need every block's final softmax. Fills hlse and, when logp is not
 * NULL, logp on the n rows. */
static void head_fused(train_model *m, const train_batch *b, const float *dlogp, int n,
                       float *logp) {
  int V = m->hp.n_vocab, E = m->hp.n_embd;
  MIMIC_ASSERT(!m->g_output);
  head_gather(m, n);
  memset(m->dxr, 0, (size_t)n * E * sizeof(float));
  for (int i = 0; i < n; i++) m->hmax[i] = -INFINITY, m->hsum[i] = 0, m->hz[i] = 0;
  for (int v0 = 0; v0 < V; v0 += m->vb) {
    int nb = V - v0 < m->vb ? V - v0 : m->vb;
    head_logits(m, m->xr, n, v0, nb, m->lg, false);
    head_job j = {m, b->targets, dlogp, m->lg, n, v0, nb, true};
    head_run(m, &j);
    qmat q = head_rows(m, v0, nb);
    train_mat DZ = {m->lg, nb, false, NULL}, W = {NULL, 0, false, &q};
    train__gemm(m->pool, n, E, nb, DZ, W, 1.0f, m->dxr, E, true);
  }
  float *wt = m->tmp; /* one dequantized output row */
  for (int i = 0; i < n; i++) {
    int t = m->rows[i];
    double lse = m->hmax[i] + log(m->hsum[i]);
    m->hlse[t] = (float)lse;
    if (logp) logp[t] = (float)((double)m->hz[i] - lse);
    float inv = (float)(1.0 / m->hsum[i]), d = dlogp[t], *dx = m->dxr + (size_t)i * E;
    train__dequant_row(m->output.type,
                       (const char *)m->output.data + (size_t)b->targets[t] * m->output.row_bytes,
                       wt, E);
    for (int e = 0; e < E; e++) dx[e] = dx[e] * inv + d * wt[e];
  }
  m->hlse_ok = true;
}

/* Gradients of y = x W^T (+ s B A x~) given dy (T, out): trainable W gets dy^T x, LoRA gets
 * dB = s dy^T (A x~) and dA = (s dy B)^T x~; dx (T, in) += dy W + (s dy B) A (masked by the
 * dropout), skipped when dx is NULL. */
static void lin_bwd(train_model *m, int il, int w, int T, const float *x, const float *dy,
                    float *dx) {
  tr_lin *l = &m->layers[il].lin[w];
  if (l->gw) {
    train_mat DYt = {dy, l->out, true, NULL}, X = {x, l->in, false, NULL};
    train__gemm(m->pool, l->out, l->in, T, DYt, X, 1.0f, l->gw, l->in, true);
  }
  if (dx) {
    train_mat DY = {dy, l->out, false, NULL};
    train_mat W =
        l->gw ? (train_mat){l->w.data, l->in, false, NULL} : (train_mat){NULL, 0, false, &l->w};
    train__gemm(m->pool, T, l->in, l->out, DY, W, 1.0f, dx, l->in, true);
  }
  if (l->A) {
    train_mat DYt = {dy, l->out, true, NULL}, AX = {l->ax, l->r, false, NULL};
    train__gemm(m->pool, l->out, l->r, T, DYt, AX, l->s, l->gB, l->r, true);
    train_mat DY = {dy, l->out, false, NULL}, Bm = {l->B, l->r, false, NULL};
    train__gemm(m->pool, T, l->r, l->out, DY, Bm, l->s, m->gax, l->r, false);
    const float *xi = lora_input(m, il, w, T, x);
    train_mat GAXt = {m->gax, l->r, true, NULL}, X = {xi, l->in, false, NULL};
    train__gemm(m->pool, l->r, l->in, T, GAXt, X, 1.0f, l->gA, l->in, true);
    if (dx) {
      train_mat GAX = {m->gax, l->r, false, NULL}, Am = {l->A, l->in, false, NULL};
      if (m->drop && m->drop_key) {
        /* through the mask: dx += mask/(1-p) * (gax A) */
        train__gemm(m->pool, T, l->in, l->r, GAX, Am, 1.0f, m->tmp, l->in, false);
        dropout_apply(m, il, w, T, l->in, m->tmp, m->drop);
        for (size_t i = 0; i < (size_t)T * l->in; i++) dx[i] += m->drop[i];
      } else {
        train__gemm(m->pool, T, l->in, l->r, GAX, Am, 1.0f, dx, l->in, true);
      }
    }
  }
}

void train_model_backward(train_model *m, const train_batch *b, const float *dlogp) {
  train_model_backward_logp(m, b, dlogp, NULL);
}

void train_model_backward_logp(train_model *m, const train_batch *b, const float *dlogp,
                               float *logp) {
  const llm_hparams *hp = &m->hp;
  int T = b->T, E = hp->n_embd, ff = hp->n_ff, V = hp->n_vocab;
  size_t qd = (size_t)hp->n_head * hp->head_dim;
  MIMIC_ASSERT(T > 0 && T == m->fwd_T); /* backward reads the activations of this batch's forward */

  /* lm head, block by block over the vocabulary for all target rows at once: recompute the
   * block's logits, dz = dlogp (onehot - p) with p from the forward pass's log-sum-exp, then
   * dx += dz W_block (and the output weights' gradient when trainable). */
  memset(m->dxf, 0, (size_t)T * E * sizeof(float));
  MIMIC_ASSERT(!logp || !m->hlse_ok); /* logp comes from this pass only when forward gave none */
  if (logp) memset(logp, 0, (size_t)T * sizeof *logp);
  int nr = 0;
  bool fused = !m->hlse_ok && !m->g_output && m->n_rows > 0;
  if (fused) {
    nr = m->n_rows;
    head_fused(m, b, dlogp, nr, logp);
  } else if (!m->hlse_ok) {
    head_lse(m, b, m->n_rows, logp);
  }
  if (!fused)
    for (int i = 0; i < m->n_rows; i++)
      if (dlogp[m->rows[i]] != 0) m->rows[nr++] = m->rows[i];
  if (nr > 0 && !fused) {
    head_gather(m, nr);
    memset(m->dxr, 0, (size_t)nr * E * sizeof(float));
    for (int v0 = 0; v0 < V; v0 += m->vb) {
      int nb = V - v0 < m->vb ? V - v0 : m->vb;
      head_logits(m, m->xr, nr, v0, nb, m->lg, false);
      head_job j = {m, b->targets, dlogp, m->lg, nr, v0, nb, false};
      head_run(m, &j);
      train_mat DZ = {m->lg, nb, false, NULL};
      qmat q = head_rows(m, v0, nb);
      train_mat W =
          m->g_output ? (train_mat){(const float *)m->output.data + (size_t)v0 * E, E, false, NULL}
                      : (train_mat){NULL, 0, false, &q};
      train__gemm(m->pool, nr, E, nb, DZ, W, 1.0f, m->dxr, E, true);
      if (m->g_output) {
        train_mat DZt = {m->lg, nb, true, NULL}, XR = {m->xr, E, false, NULL};
        train__gemm(m->pool, nb, E, nr, DZt, XR, 1.0f, m->g_output + (size_t)v0 * E, E, true);
      }
    }
  }
  if (nr > 0)
    for (int i = 0; i < nr; i++) {
      float *d = m->dxf + (size_t)m->rows[i] * E;
      for (int e = 0; e < E; e++) d[e] += m->dxr[(size_t)i * E + e];
    }
  m->n_rows = nr;
  memset(m->dx, 0, (size_t)T * E * sizeof(float));
  rmsnorm_bwd(m, T, m->xfin, m->output_norm, m->rsf, m->dxf, m->dx, m->g_output_norm);

  train_attn at = {T, hp->n_head, hp->n_head_kv, hp->head_dim, b->seg};
  for (int il = hp->n_layer - 1; il >= 0; il--) {
    tr_layer *L = &m->layers[il];
    if (m->act16) { /* the halves back into floats; attention's output again from them */
      layer_unpack(m, L, T);
      train__attn_fwd(m->pool, &at, L->q, L->k, L->v, L->att, L->lse);
    }
    /* feed-forward: x2 = x1 + down(silu(gate xn2) * up xn2) */
    if (m->recompute_ffn) { /* gate and up again, exactly as the forward pass computed them */
      rmsnorm_fwd(m, T, L->x1, L->ffn_norm, m->xn, L->rs2);
      float *gu[2] = {L->g, L->u};
      lin_fwd_multi(m, il, 2, gu_w, T, m->xn, gu);
    }
    swiglu(m, EW_SWIGLU_H, T, L->g, L->u, NULL, m->hbuf, NULL);
    memset(m->dh, 0, (size_t)T * ff * sizeof(float));
    lin_bwd(m, il, TRAIN_W_DOWN, T, m->hbuf, m->dx, m->dh);
    swiglu(m, EW_SWIGLU_BWD, T, L->g, L->u, m->dh, m->dg, m->du);
    memset(m->dxn, 0, (size_t)T * E * sizeof(float));
    rmsnorm_fwd(m, T, L->x1, L->ffn_norm, m->xn, L->rs2); /* as forward */
    lin_bwd(m, il, TRAIN_W_GATE, T, m->xn, m->dg, m->dxn);
    lin_bwd(m, il, TRAIN_W_UP, T, m->xn, m->du, m->dxn);
    rmsnorm_bwd(m, T, L->x1, L->ffn_norm, L->rs2, m->dxn, m->dx, L->g_ffn_norm);
    /* attention: x1 = x0 + o(attn(rope(q xn1), rope(k xn1), v xn1)) */
    memset(m->datt, 0, (size_t)T * qd * sizeof(float));
    lin_bwd(m, il, TRAIN_W_O, T, L->att, m->dx, m->datt);
    train__attn_bwd(m->pool, &at, L->q, L->k, L->v, L->att, L->lse, m->datt, m->dq, m->dk, m->dv,
                    m->attn_scr);
    rope(m, T, hp->n_head, m->dq, true);
    rope(m, T, hp->n_head_kv, m->dk, true);
    /* Below layer 0 only the embeddings could use dx: skip it when they are frozen. */
    bool need_dx = il > 0 || m->g_embd;
    memset(m->dxn, 0, (size_t)T * E * sizeof(float));
    rmsnorm_fwd(m, T, L->x0, L->attn_norm, m->xn, L->rs1); /* as forward */
    lin_bwd(m, il, TRAIN_W_Q, T, m->xn, m->dq, need_dx ? m->dxn : NULL);
    lin_bwd(m, il, TRAIN_W_K, T, m->xn, m->dk, need_dx ? m->dxn : NULL);
    lin_bwd(m, il, TRAIN_W_V, T, m->xn, m->dv, need_dx ? m->dxn : NULL);
    if (need_dx || L->g_attn_norm)
      rmsnorm_bwd(m, T, L->x0, L->attn_norm, L->rs1, m->dxn, m->dx, L->g_attn_norm);
  }
  if (m->g_embd)
    for (int t = 0; t < T; t++) {
      float *g = m->g_embd + (size_t)b->tokens[t] * E;
      for (int e = 0; e < E; e++) g[e] += m->dx[(size_t)t * E + e];
    }
}
