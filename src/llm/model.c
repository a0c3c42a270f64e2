/* The qwen2 / llama decoder: hyper-parameters and weights resolved over the mapped GGUF file, the
 * run-state context (one scratch block carved into activation buffers, F32 KV cache per slot) and
 * the forward pass, written to follow llama.cpp's CPU graph step for step so that logits match its
 * reference data (gguf-engine-facts 1.4, 1.5). Matrix products go through qmat_mul (quant.h), which
 * quantizes activations the way each weight format intends. Not here: the adapter file (lora.c). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/str.h"
#include "llm/compute_pool.h"
#include "llm/kernels_int.h"
#include "llm/model_int.h"
#include "llm/profile.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include "llm/kernels_avx2_int.h" /* hsum_ps */
#endif

/* ---- Loading --------------------------------------------------------------------------------- */

static const char *model_name(const llm_model *m) { return gguf_path(m->f); }

/* Reads "<arch>.<suffix>" as u32 into *out; absent keys leave *out and return 0 unless required. */
static int hp_u32(const llm_model *m, const char *suffix, bool required, int lo, int hi, int *out) {
  char key[128];
  snprintf(key, sizeof key, "%s.%s", m->hp.arch_name, suffix);
  uint32_t v = 0;
  int rc = gguf_get_u32(m->f, key, &v);
  if (rc == MIMIC_ENOTFOUND && !required) return 0;
  if (rc == MIMIC_ENOTFOUND)
    return err_set(MIMIC_EFORMAT, "%s: metadata key %s is missing", model_name(m), key);
  if (rc)
    return err_set(MIMIC_EFORMAT, "%s: metadata key %s is not an unsigned integer", model_name(m),
                   key);
  if ((int64_t)v < lo || (int64_t)v > hi)
    return err_set(MIMIC_EFORMAT, "%s: %s = %u is outside [%d, %d]", model_name(m), key, v, lo, hi);
  *out = (int)v;
  return 0;
}

static int hp_f32(const llm_model *m, const char *suffix, bool required, float *out) {
  char key[128];
  snprintf(key, sizeof key, "%s.%s", m->hp.arch_name, suffix);
  float v = 0;
  int rc = gguf_get_f32(m->f, key, &v);
  if (rc == MIMIC_ENOTFOUND && !required) return 0;
  if (rc == MIMIC_ENOTFOUND)
    return err_set(MIMIC_EFORMAT, "%s: metadata key %s is missing", model_name(m), key);
  if (rc || !isfinite(v))
    return err_set(MIMIC_EFORMAT, "%s: metadata key %s is not a finite float", model_name(m), key);
  *out = v;
  return 0;
}

static int mat_get(llm_model *m, const char *name, int64_t cols, int64_t rows, bool required,
                   qmat *out) {
  memset(out, 0, sizeof *out);
  const gguf_tensor *t = gguf_tensor_find(m->f, name);
  if (!t) {
    if (!required) return 0;
    return err_set(MIMIC_EFORMAT, "%s: tensor %s is missing", model_name(m), name);
  }
  if (t->n_dims > 2 || t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] != cols ||
      (rows >= 0 && t->ne[1] != rows))
    return err_set(MIMIC_EFORMAT,
                   "%s: tensor %s has shape {%lld, %lld, %lld, %lld}, expected {%lld, %lld}",
                   model_name(m), name, (long long)t->ne[0], (long long)t->ne[1],
                   (long long)t->ne[2], (long long)t->ne[3], (long long)cols, (long long)rows);
  tensor_type_info ti = tensor_type_get((int)t->type);
  if (!ti.supported)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot compute with",
                   model_name(m), name, ti.name ? ti.name : "unknown");
  out->type = t->type;
  out->rows = t->ne[1];
  out->cols = t->ne[0];
  out->data = t->data;
  out->row_bytes = tensor_row_bytes(t->type, t->ne[0]);
  return 0;
}

/* A 1-D vector of n floats. F32 data is used in place when aligned; other types are converted once
 * (they are tiny: norms and biases). */
static int vec_get(llm_model *m, const char *name, int64_t n, bool required, const float **out) {
  *out = NULL;
  const gguf_tensor *t = gguf_tensor_find(m->f, name);
  if (!t) {
    if (!required) return 0;
    return err_set(MIMIC_EFORMAT, "%s: tensor %s is missing", model_name(m), name);
  }
  if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
    return err_set(MIMIC_EFORMAT, "%s: tensor %s has shape {%lld, %lld}, expected {%lld}",
                   model_name(m), name, (long long)t->ne[0], (long long)t->ne[1], (long long)n);
  if (t->type == TT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
    *out = t->data;
    return 0;
  }
  tensor_type_info ti = tensor_type_get((int)t->type);
  if (!ti.supported)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot compute with",
                   model_name(m), name, ti.name ? ti.name : "unknown");
  float *v = xalloc((size_t)n * sizeof *v);
  if (t->type == TT_F32)
    memcpy(v, t->data, (size_t)n * sizeof *v);
  else
    quant_dequant_row(t->type, t->data, v, n);
  m->owned = xrealloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *m->owned);
  m->owned[m->n_owned++] = v;
  *out = v;
  return 0;
}

static int load_hparams(llm_model *m) {
  llm_hparams *hp = &m->hp;
  gguf_str arch;
  if (gguf_get_str(m->f, "general.architecture", &arch))
    return err_set(MIMIC_EFORMAT, "%s: general.architecture is missing; not a model file?",
                   model_name(m));
  if (arch.len == 5 && memcmp(arch.ptr, "qwen2", 5) == 0) {
    hp->arch = LLM_ARCH_QWEN2;
    hp->rope_type = LLM_ROPE_NEOX;
  } else if (arch.len == 5 && memcmp(arch.ptr, "llama", 5) == 0) {
    hp->arch = LLM_ARCH_LLAMA;
    hp->rope_type = LLM_ROPE_NORM;
  } else {
    int shown = arch.len > 64 ? 64 : (int)arch.len;
    return err_set(MIMIC_EUNSUPPORTED,
                   "%s: architecture '%.*s' is not supported (mimic runs qwen2 and llama)",
                   model_name(m), shown, arch.ptr);
  }
  memcpy(hp->arch_name, arch.ptr, (size_t)arch.len);
  hp->arch_name[arch.len] = '\0';

  int rc;
  if ((rc = hp_u32(m, "context_length", true, 1, INT32_MAX, &hp->n_ctx_train))) return rc;
  if ((rc = hp_u32(m, "embedding_length", true, 1, LLM_MAX_EMBD, &hp->n_embd))) return rc;
  if ((rc = hp_u32(m, "block_count", true, 1, LLM_MAX_LAYERS, &hp->n_layer))) return rc;
  if ((rc = hp_u32(m, "attention.head_count", true, 1, LLM_MAX_HEADS, &hp->n_head))) return rc;
  hp->n_head_kv = hp->n_head;
  if ((rc = hp_u32(m, "attention.head_count_kv", false, 1, LLM_MAX_HEADS, &hp->n_head_kv)))
    return rc;
  if (hp->n_head % hp->n_head_kv)
    return err_set(MIMIC_EFORMAT, "%s: head_count %d is not a multiple of head_count_kv %d",
                   model_name(m), hp->n_head, hp->n_head_kv);
  hp->head_dim = hp->n_embd / hp->n_head;
  if ((rc = hp_u32(m, "attention.key_length", false, 1, LLM_MAX_HEAD_DIM, &hp->head_dim)))
    return rc;
  int v_len = hp->head_dim;
  if ((rc = hp_u32(m, "attention.value_length", false, 1, LLM_MAX_HEAD_DIM, &v_len))) return rc;
  if (v_len != hp->head_dim || hp->head_dim < 2 || hp->head_dim > LLM_MAX_HEAD_DIM)
    return err_set(MIMIC_EUNSUPPORTED, "%s: key length %d / value length %d are not supported",
                   model_name(m), hp->head_dim, v_len);
  hp->n_rot = hp->head_dim;
  if ((rc = hp_u32(m, "rope.dimension_count", false, 2, LLM_MAX_HEAD_DIM, &hp->n_rot))) return rc;
  if (hp->n_rot > hp->head_dim || hp->n_rot % 2 ||
      (hp->arch == LLM_ARCH_LLAMA && hp->n_rot != hp->head_dim))
    return err_set(MIMIC_EFORMAT, "%s: rope.dimension_count %d does not fit head size %d",
                   model_name(m), hp->n_rot, hp->head_dim);
  hp->rope_freq_base = 10000.0f;
  if ((rc = hp_f32(m, "rope.freq_base", false, &hp->rope_freq_base))) return rc;
  if (!(hp->rope_freq_base > 0))
    return err_set(MIMIC_EFORMAT, "%s: rope.freq_base must be positive", model_name(m));
  hp->rope_freq_scale = 1.0f;
  char key[128];
  snprintf(key, sizeof key, "%s.rope.scaling.type", hp->arch_name);
  gguf_str st = {0};
  bool has_type = gguf_get_str(m->f, key, &st) == 0;
  bool linear = !has_type || (st.len == 6 && memcmp(st.ptr, "linear", 6) == 0);
  bool none = has_type && st.len == 4 && memcmp(st.ptr, "none", 4) == 0;
  if (!linear && !none) {
    int shown = st.len > 32 ? 32 : (int)st.len;
    return err_set(MIMIC_EUNSUPPORTED, "%s: rope scaling '%.*s' is not supported (only linear)",
                   model_name(m), shown, st.ptr);
  }
  float factor = 0;
  if ((rc = hp_f32(m, "rope.scaling.factor", false, &factor))) return rc;
  if (factor == 0 && (rc = hp_f32(m, "rope.scale_linear", false, &factor))) return rc;
  if (linear && factor > 0) hp->rope_freq_scale = 1.0f / factor;
  if ((rc = hp_f32(m, "attention.layer_norm_rms_epsilon", true, &hp->rms_eps))) return rc;
  if (!(hp->rms_eps >= 0))
    return err_set(MIMIC_EFORMAT, "%s: layer_norm_rms_epsilon must not be negative", model_name(m));
  return 0;
}

static int load_weights(llm_model *m) {
  llm_hparams *hp = &m->hp;
  int64_t E = hp->n_embd, qd = (int64_t)hp->n_head * hp->head_dim,
          kvd = (int64_t)hp->n_head_kv * hp->head_dim;
  int rc;
  if ((rc = mat_get(m, "token_embd.weight", E, -1, true, &m->tok_embd))) return rc;
  if (m->tok_embd.rows < 1 || m->tok_embd.rows > LLM_MAX_VOCAB)
    return err_set(MIMIC_EFORMAT, "%s: vocabulary of %lld tokens is outside [1, %d]", model_name(m),
                   (long long)m->tok_embd.rows, LLM_MAX_VOCAB);
  hp->n_vocab = (int)m->tok_embd.rows;
  if ((rc = vec_get(m, "output_norm.weight", E, true, &m->output_norm))) return rc;
  if ((rc = mat_get(m, "output.weight", E, hp->n_vocab, false, &m->output))) return rc;
  hp->tied_embeddings = m->output.data == NULL;
  if (hp->tied_embeddings) m->output = m->tok_embd;
  if ((rc = vec_get(m, "output.bias", hp->n_vocab, false, &m->output_bias))) return rc;
  if ((rc = vec_get(m, "rope_freqs.weight", hp->n_rot / 2, false, &m->rope_freqs))) return rc;
  hp->has_rope_freqs = m->rope_freqs != NULL;

  /* n_ff from the first layer's gate (the key may be a per-layer array); the key must agree. */
  const gguf_tensor *g0 = gguf_tensor_find(m->f, "blk.0.ffn_gate.weight");
  if (!g0)
    return err_set(MIMIC_EFORMAT, "%s: tensor blk.0.ffn_gate.weight is missing", model_name(m));
  if (g0->ne[1] < 1 || g0->ne[1] > LLM_MAX_FF)
    return err_set(MIMIC_EFORMAT, "%s: feed-forward size %lld is outside [1, %d]", model_name(m),
                   (long long)g0->ne[1], LLM_MAX_FF);
  hp->n_ff = (int)g0->ne[1];
  int ff_key = hp->n_ff;
  char key[96];
  snprintf(key, sizeof key, "%s.feed_forward_length", hp->arch_name);
  gguf_vtype et;
  uint64_t cnt;
  if (gguf_get_arr(m->f, key, &et, &cnt) != 0 &&
      (rc = hp_u32(m, "feed_forward_length", false, 1, LLM_MAX_FF, &ff_key)))
    return rc;
  if (ff_key != hp->n_ff)
    return err_set(MIMIC_EFORMAT,
                   "%s: feed_forward_length %d disagrees with blk.0.ffn_gate.weight (%d)",
                   model_name(m), ff_key, hp->n_ff);

  m->layers = xcalloc((size_t)hp->n_layer, sizeof *m->layers);
  const int64_t in_dim[LLM_W_COUNT] = {E, E, E, qd, E, E, hp->n_ff};
  const int64_t out_dim[LLM_W_COUNT] = {qd, kvd, kvd, E, hp->n_ff, hp->n_ff, E};
  char name[GGUF_MAX_NAME];
  bool any_qkv_bias = false;
  for (int il = 0; il < hp->n_layer; il++) {
    llm_layer *L = &m->layers[il];
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", il);
    if ((rc = vec_get(m, name, E, true, &L->attn_norm))) return rc;
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", il);
    if ((rc = vec_get(m, name, E, true, &L->ffn_norm))) return rc;
    for (int w = 0; w < LLM_W_COUNT; w++) {
      snprintf(name, sizeof name, "blk.%d.%s.weight", il, llm__w_name(w));
      if ((rc = mat_get(m, name, in_dim[w], out_dim[w], true, &L->w[w]))) return rc;
      /* mat_get checked the file's shape against these; a mismatch here is a bug in the binding. */
      MIMIC_ASSERT(L->w[w].data && L->w[w].cols == in_dim[w] && L->w[w].rows == out_dim[w]);
      snprintf(name, sizeof name, "blk.%d.%s.bias", il, llm__w_name(w));
      if ((rc = vec_get(m, name, out_dim[w], false, &L->bias[w]))) return rc;
      if (L->bias[w] && w <= LLM_W_V) any_qkv_bias = true;
    }
    if (gguf_tensor_find(m->f, (snprintf(name, sizeof name, "blk.%d.attn_qkv.weight", il), name)))
      return err_set(MIMIC_EUNSUPPORTED, "%s: fused %s is not supported", model_name(m), name);
  }
  hp->has_qkv_bias = any_qkv_bias;
  MIMIC_ASSERT(m->tok_embd.cols == E && m->output.cols == E && m->output.rows == hp->n_vocab);

  size_t bytes = m->tok_embd.row_bytes + (size_t)m->output.rows * m->output.row_bytes;
  for (int il = 0; il < hp->n_layer; il++)
    for (int w = 0; w < LLM_W_COUNT; w++)
      bytes += (size_t)m->layers[il].w[w].rows * m->layers[il].w[w].row_bytes;
  m->bytes_per_token = bytes;
  return 0;
}

int llm_model_load(const char *path, llm_model **out) {
  *out = NULL;
  llm_model *m = xcalloc(1, sizeof *m);
  int rc = gguf_open(path, &m->f);
  if (rc) {
    m->f = NULL;
    goto out;
  }
  if ((rc = load_hparams(m))) goto out;
  if ((rc = load_weights(m))) goto out;
  LOG_D("model", "%s: %s, %d layers, width %d, %d/%d heads of %d, ff %d, vocab %d%s", path,
        m->hp.arch_name, m->hp.n_layer, m->hp.n_embd, m->hp.n_head, m->hp.n_head_kv, m->hp.head_dim,
        m->hp.n_ff, m->hp.n_vocab, m->hp.tied_embeddings ? ", tied embeddings" : "");
  *out = m;
  m = NULL;
out:
  llm_model_destroy(m);
  return rc;
}

void llm_model_destroy(llm_model *m) {
  if (!m) return;
  for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
  mem_free(m->owned);
  mem_free(m->layers);
  gguf_close(m->f);
  mem_free(m);
}

const llm_hparams *llm_model_hparams(const llm_model *m) { return &m->hp; }
const gguf_file *llm_model_gguf(const llm_model *m) { return m->f; }
size_t llm_model_bytes_per_token(const llm_model *m) { return m->bytes_per_token; }

/* ---- Contexts -------------------------------------------------------------------------------- */

typedef void (*attn_fn)(void *arg, int64_t begin, int64_t end);
static attn_fn attn_pick(void);
static void row_ops_pick(llm_ctx *c);

typedef struct llm_slot {
  void *k, *v;     /* [n_layer][n_ctx][kv_dim] of float or (F16 cache) IEEE half */
  int32_t *tokens; /* n_ctx */
  int n_past;
  int n_keep;
  bool tagged;
  uint64_t key;
  uint64_t last_used;
  uint64_t lora_id; /* adapter the cached K/V were computed with (0 = none) */
  float lora_scale;
  bool mixed; /* computed with more than one adapter or scale: never reused */
} llm_slot;

struct llm_ctx {
  const llm_model *m;
  compute_pool *pool;
  int n_ctx, n_batch, n_slots, n_threads;
  llm_slot *slots;
  uint64_t tick;
  uint64_t n_evaluated;
  size_t kv_floats; /* elements per slot, per K or V */
  bool kv_f16;      /* the cache holds halves */

  /* Scratch, carved from one block: activations for up to n_batch rows. */
  float *block;
  float *x, *xb, *q, *k, *v, *att, *hb, *hb2;
  float *lora_t, *lora_u;
  size_t lora_t_cap, lora_u_cap;
  float *rope_cache; /* n_batch * n_rot: cos/sin pairs per row */
  float *logits_tmp; /* n_slots * n_vocab, batched decoding */
  int *row_slot, *row_pos;
  attn_fn attn; /* attention worker for this CPU */
  void (*swiglu)(float *h, const float *u, size_t n);
  void (*rope)(const llm_hparams *hp, float *x, int n_heads, const float *cs);
  const llm_lora **row_lora;
  float *row_scale;
  /* Mixed steps (llm_forward_mixed) set these for one forward_rows call: the matrices' gemm/gemv
   * split (-1: llm__gemm_tokens(T)), and the rows the lm head runs on (NULL: from logits_from). */
  int64_t mm_t4;
  const int *head_rows;
  int n_head_rows;
};

int llm_ctx_new(const llm_model *m, const llm_ctx_params *p, llm_ctx **out) {
  *out = NULL;
  const llm_hparams *hp = &m->hp;
  llm_ctx_params d = {0};
  if (p) d = *p;
  if (d.n_ctx <= 0) d.n_ctx = hp->n_ctx_train < 4096 ? hp->n_ctx_train : 4096;
  if (d.n_slots <= 0) d.n_slots = 1;
  if (d.n_batch <= 0) d.n_batch = 256;
  if (d.kv_type != LLM_KV_F32 && d.kv_type != LLM_KV_F16)
    return err_set(MIMIC_EINVAL, "KV cache type %d is not f32 or f16", (int)d.kv_type);
  if (d.n_ctx > LLM_MAX_CTX || d.n_slots > 4096 || d.n_batch > 65536)
    return err_set(MIMIC_ERANGE,
                   "context of %d positions x %d slots, batch %d: over the caps (%d positions, "
                   "4096 slots, 65536 batch)",
                   d.n_ctx, d.n_slots, d.n_batch, LLM_MAX_CTX);
  if (d.n_batch > d.n_ctx) d.n_batch = d.n_ctx;

  llm_ctx *c = xcalloc(1, sizeof *c);
  c->m = m;
  c->pool = d.pool;
  c->n_ctx = d.n_ctx;
  c->n_batch = d.n_batch;
  c->n_slots = d.n_slots;
  c->n_threads = d.pool ? compute_pool_threads(d.pool) : 1;
  c->kv_f16 = d.kv_type == LLM_KV_F16;
  c->attn = attn_pick();
  row_ops_pick(c);
  c->mm_t4 = -1;
  if (c->n_threads < 1) c->n_threads = 1;
  int rc = 0;

  size_t B = (size_t)c->n_batch, E = (size_t)hp->n_embd, kvd = (size_t)hp->n_head_kv * hp->head_dim;
  size_t qd = (size_t)hp->n_head * hp->head_dim, ff = (size_t)hp->n_ff;
  size_t widest = qd > ff ? qd : ff;
  if (E > widest) widest = E;
  c->lora_t_cap = B * LLM_LORA_MAX_RANK;
  c->lora_u_cap = B * widest > (size_t)hp->n_vocab ? B * widest : (size_t)hp->n_vocab;
  size_t rows_batch = B > (size_t)c->n_slots ? B : (size_t)c->n_slots;
  size_t logits_tmp = (size_t)c->n_slots * (size_t)hp->n_vocab;
  size_t sizes[] = {B * E,
                    B * E,
                    B * qd,
                    B * kvd,
                    B * kvd,
                    B * qd,
                    B * ff,
                    B * ff,
                    c->lora_t_cap,
                    c->lora_u_cap,
                    B * (size_t)hp->n_rot,
                    logits_tmp};
  float **ptrs[] = {&c->x,  &c->xb,  &c->q,      &c->k,      &c->v,          &c->att,
                    &c->hb, &c->hb2, &c->lora_t, &c->lora_u, &c->rope_cache, &c->logits_tmp};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    total += (sizes[i] + 15) & ~(size_t)15;
  c->block = mem_alloc(total * sizeof(float));
  if (!c->block) {
    rc = err_set(MIMIC_ENOMEM, "out of memory for the run state (%zu MiB)",
                 total * sizeof(float) >> 20);
    goto out;
  }
  float *cur = c->block;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    *ptrs[i] = cur;
    cur += (sizes[i] + 15) & ~(size_t)15;
  }
  c->row_slot = xcalloc(rows_batch, sizeof *c->row_slot);
  c->row_pos = xcalloc(rows_batch, sizeof *c->row_pos);
  c->row_lora = xcalloc(rows_batch, sizeof *c->row_lora);
  c->row_scale = xcalloc(rows_batch, sizeof *c->row_scale);

  c->kv_floats = (size_t)hp->n_layer * (size_t)c->n_ctx * kvd;
  c->slots = xcalloc((size_t)c->n_slots, sizeof *c->slots);
  for (int s = 0; s < c->n_slots; s++) {
    llm_slot *sl = &c->slots[s];
    size_t es = c->kv_f16 ? sizeof(uint16_t) : sizeof(float);
    sl->k = mem_calloc(c->kv_floats, es);
    sl->v = mem_calloc(c->kv_floats, es);
    sl->tokens = mem_calloc((size_t)c->n_ctx, sizeof(int32_t));
    if (!sl->k || !sl->v || !sl->tokens) {
      rc = err_set(MIMIC_ENOMEM, "out of memory for the KV cache (%d slots x %zu MiB)", c->n_slots,
                   llm_ctx_kv_bytes(c) >> 20);
      goto out;
    }
  }
  *out = c;
  c = NULL;
out:
  llm_ctx_destroy(c);
  return rc;
}

void llm_ctx_destroy(llm_ctx *c) {
  if (!c) return;
  if (c->slots)
    for (int s = 0; s < c->n_slots; s++) {
      mem_free(c->slots[s].k);
      mem_free(c->slots[s].v);
      mem_free(c->slots[s].tokens);
    }
  mem_free(c->slots);
  mem_free(c->block);
  mem_free(c->row_slot);
  mem_free(c->row_pos);
  mem_free(c->row_lora);
  mem_free(c->row_scale);
  mem_free(c);
}

int llm_ctx_n_ctx(const llm_ctx *c) { return c->n_ctx; }
size_t llm_ctx_kv_bytes(const llm_ctx *c) {
  return 2 * c->kv_floats * (c->kv_f16 ? sizeof(uint16_t) : sizeof(float));
}
int llm_ctx_n_slots(const llm_ctx *c) { return c->n_slots; }
const llm_model *llm_ctx_model(const llm_ctx *c) { return c->m; }
uint64_t llm_ctx_tokens_evaluated(const llm_ctx *c) { return c->n_evaluated; }

/* ---- Building blocks ------------------------------------------------------------------------- */

/* y = x / sqrt(mean(x^2) + eps) * w, as ggml: squares summed in double, scale in float. */
static void rmsnorm(float *y, const float *x, const float *w, int n, float eps) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
  float mean = (float)(sum / n);
  float scale = 1.0f / sqrtf(mean + eps);
  for (int i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

/* cos/sin of every rotated pair for position pos (ggml's rope cache: theta multiplied step by step
 * in float, divided by the pair's frequency factor, times freq_scale). cs holds n_rot floats. */
static void rope_cache(const llm_model *m, int pos, float *cs) {
  const llm_hparams *hp = &m->hp;
  float theta_scale = powf(hp->rope_freq_base, -2.0f / (float)hp->n_rot);
  float theta = (float)pos;
  for (int i0 = 0; i0 < hp->n_rot; i0 += 2) {
    float ff = m->rope_freqs ? m->rope_freqs[i0 / 2] : 1.0f;
    float th = hp->rope_freq_scale * (theta / ff);
    cs[i0] = cosf(th);
    cs[i0 + 1] = sinf(th);
    theta *= theta_scale;
  }
}

/* Rotates n_heads heads of head_dim values in place (gguf-engine-facts 1.5). The first product of
 * each rotated value is fused with the sum, as llama.cpp's build (C with FMA contraction) does. */
static inline __attribute__((always_inline)) void rope_body(const llm_hparams *hp, float *x,
                                                            int n_heads, const float *cs) {
  int n_rot = hp->n_rot;
  for (int h = 0; h < n_heads; h++) {
    float *v = x + (size_t)h * hp->head_dim;
    if (hp->rope_type == LLM_ROPE_NEOX) {
      int half = n_rot / 2;
      for (int i = 0; i < half; i++) {
        float c = cs[2 * i], s = cs[2 * i + 1];
        float x0 = v[i], x1 = v[i + half];
        v[i] = fmaf(x0, c, -(x1 * s));
        v[i + half] = fmaf(x0, s, x1 * c);
      }
    } else {
      for (int i0 = 0; i0 < n_rot; i0 += 2) {
        float c = cs[i0], s = cs[i0 + 1];
        float x0 = v[i0], x1 = v[i0 + 1];
        v[i0] = fmaf(x0, c, -(x1 * s));
        v[i0 + 1] = fmaf(x0, s, x1 * c);
      }
    }
  }
}

/* rope_body as plain code and, where the CPU has FMA, with fmaf() inlined as one instruction (same
 * bits: fmaf is exact either way; without -mfma it is a libm call, ~2% of a decode step). */
static void rope_plain(const llm_hparams *hp, float *x, int n_heads, const float *cs) {
  rope_body(hp, x, n_heads, cs);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void rope_fma(const llm_hparams *hp, float *x,
                                                         int n_heads, const float *cs) {
  rope_body(hp, x, n_heads, cs);
}
#endif

/* Layer il of a slot's K (or V) cache, as bytes: n_ctx rows of kv_dim floats or halves. */
static uint8_t *slot_kv(llm_ctx *c, int slot, int il, bool v) {
  size_t kvd = (size_t)c->m->hp.n_head_kv * c->m->hp.head_dim, es = c->kv_f16 ? 2 : 4;
  uint8_t *base = v ? c->slots[slot].v : c->slots[slot].k;
  return base + (size_t)il * (size_t)c->n_ctx * kvd * es;
}

/* Stores n floats at row pos of a cache layer, rounded to halves for an F16 cache. */
static void kv_store(const llm_ctx *c, uint8_t *layer, size_t kvd, int pos, const float *src) {
  if (!c->kv_f16) {
    memcpy(layer + (size_t)pos * kvd * sizeof(float), src, kvd * sizeof(float));
    return;
  }
  uint16_t *d = (uint16_t *)(void *)layer + (size_t)pos * kvd;
  for (size_t i = 0; i < kvd; i++) d[i] = f32_to_fp16(src[i]);
}

/* y (T, W.rows) += scale * B(A x) for each run of rows sharing an adapter and scale; rows whose
 * adapter does not adapt this matrix are left alone. x rows have stride cols. */
static void lora_add(llm_ctx *c, int il, int w, int T, const float *x, int64_t cols, float *y,
                     int64_t rows) {
  int r0 = 0;
  while (r0 < T) {
    const llm_lora *l = c->row_lora[r0];
    float us = c->row_scale[r0];
    int r1 = r0 + 1;
    while (r1 < T && c->row_lora[r1] == l && c->row_scale[r1] == us) r1++;
    const llm_lora_pair *pr = l ? llm__lora_pair(l, il, w) : NULL;
    if (pr && us != 0.0f) {
      float s = llm_lora_scale(l->alpha, pr->rank, us);
      int chunk = (int)(c->lora_t_cap / (size_t)pr->rank);
      int by_u = (int)(c->lora_u_cap / (size_t)rows);
      if (by_u < chunk) chunk = by_u;
      if (chunk < 1) chunk = 1;
      for (int r = r0; r < r1; r += chunk) {
        int n = r1 - r < chunk ? r1 - r : chunk;
        qmat_mul(c->pool, &pr->a, x + (size_t)r * cols, c->lora_t, n);
        qmat_mul(c->pool, &pr->b, c->lora_t, c->lora_u, n);
        for (size_t i = 0; i < (size_t)n * rows; i++) y[(size_t)r * rows + i] += s * c->lora_u[i];
      }
    }
    r0 = r1;
  }
}

/* y[k] (T, rows) = x W[k]^T (+ LoRA) (+ bias) for n projections of the same input, the base
 * products in one parallel section. */
static void proj_multi(llm_ctx *c, int il, int n, const int *ws, int T, const float *x,
                       float *const *ys) {
  const llm_layer *L = &c->m->layers[il];
  const qmat *W[LLM_W_COUNT];
  for (int k = 0; k < n; k++) W[k] = &L->w[ws[k]];
  llm__qmat_mul_split(c->pool, n, W, x, ys, T, c->mm_t4);
  uint64_t t0 = LLM_PROF_T0();
  for (int k = 0; k < n; k++) {
    int w = ws[k];
    float *y = ys[k];
    lora_add(c, il, w, T, x, W[k]->cols, y, W[k]->rows);
    if (L->bias[w])
      for (int t = 0; t < T; t++)
        for (int64_t i = 0; i < W[k]->rows; i++) y[(size_t)t * W[k]->rows + i] += L->bias[w][i];
  }
  if (t0) llm__prof_wall(LLM_PROF_ADD, t0);
}

static void proj(llm_ctx *c, int il, int w, int T, const float *x, float *y) {
  proj_multi(c, il, 1, &w, T, x, &y);
}

static inline float f32_from_bits(uint32_t u) {
  float f;
  memcpy(&f, &u, 4);
  return f;
}
/* exp(x) as ggml's AVX-512 vector kernels compute it (llama.cpp uses it in softmax and SiLU; the
 * reference logits come from such a build): x = n ln2 + b with n rounded by the 1.5 * 2^23 trick
 * and ln2 split in two, e^b from a degree-5 polynomial in fused multiply-adds that carries the
 * leading 1, then scaled by 2^n in a single rounding (vscalefps; here a multiplication by 2^n, or
 * ldexpf outside the normal range). Within about 1.5 ulp of expf, and the same bits as llama.cpp's,
 * which is what matters here. */
static inline __attribute__((always_inline)) float vexpf(float x) {
  const float shift = 0x1.8p23f;
  float z = fmaf(x, 0x1.715476p+0f, shift), n = z - shift;
  float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x)), u = b * b;
  float j = fmaf(
      fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
      fmaf(0x1.ffffecp-1f, b, 1.0f));
  if (fabsf(n) <= 126) return j * f32_from_bits((uint32_t)((int32_t)n + 127) << 23);
  if (n != n) return n;
  if (fabsf(n) > 192) return n <= 0 ? 0.0f : INFINITY;
  return ldexpf(j, (int)n);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* vexpf on eight lanes with the same operations. Sets *ok to 0 (and the result is to be ignored)
 * when a lane's exponent is outside the normal range or not a number; the caller then takes
 * vexpf lane by lane. */
__attribute__((target("avx2,fma"))) static inline __m256 vexpf8(__m256 x, int *ok) {
  const __m256 shift = _mm256_set1_ps(0x1.8p23f), one = _mm256_set1_ps(1.0f);
  __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift), n = _mm256_sub_ps(z, shift);
  *ok = !_mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n),
                                          _mm256_set1_ps(126.0f), _CMP_NLE_UQ));
  __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                              _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x)),
         u = _mm256_mul_ps(b, b);
  __m256 j = _mm256_fmadd_ps(
      _mm256_fmadd_ps(
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
          _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
      u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, one));
  __m256 k = _mm256_castsi256_ps(
      _mm256_add_epi32(_mm256_slli_epi32(_mm256_castps_si256(z), 23), _mm256_castps_si256(one)));
  return _mm256_mul_ps(j, k);
}
#endif

/* w[p] = vexpf(w[p] - m) for p < n (a multiple of 8): plain, and eight at a time (same bits). */
typedef void (*exp_row_fn)(float *w, int n, float m);
static void exp_row_plain(float *w, int n, float m) {
  for (int p = 0; p < n; p++) w[p] = vexpf(w[p] - m);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static inline void exp_row_avx2(float *w, int n, float m) {
  __m256 vm = _mm256_set1_ps(m);
  for (int p = 0; p < n; p += 8) {
    int ok;
    __m256 e = vexpf8(_mm256_sub_ps(_mm256_loadu_ps(w + p), vm), &ok);
    if (ok)
      _mm256_storeu_ps(w + p, e);
    else
      for (int k = p; k < p + 8; k++) w[k] = vexpf(w[k] - m);
  }
}
#endif

/* Attention follows llama.cpp's CPU path in an AVX-512 build (its reference logits were computed
 * that way, and in a quantized model a last-bit difference can round an activation to the
 * neighbouring int8 and move the logits by ~1e-2): scores q.k with ggml's untiled float dot
 * (llm__dot_f32_untiled), times 1/sqrt(d); softmax with the vector exp above over runs of 16
 * positions (the row padded with empty positions), each run reduced as llm__hsum16 and summed in
 * double, then one division; the output as the weights times V in one 16-lane chain per value,
 * position p on lane p % 16 (the tiled matmul). fmaf() gives the same bits with or without FMA
 * hardware; the avx2/fma clone below only makes it fast. */
typedef struct attn_job {
  llm_ctx *c;
  int il, T;
  int gh; /* heads per item: 1, or (prompts) a group of heads that share a key/value head */
} attn_job;

/* At most this many query heads per work item (a group sharing one key/value head). */
#define LLM_ATTN_MAX_GROUP 16

/* Causal attention with GQA for the (row t, gh heads) items [begin, end): row t attends to
 * positions 0..row_pos[t] of its slot. Each head's arithmetic is the same whatever gh is (its
 * scores, softmax and weighted values in the same order); gh > 1 only converts each cached key and
 * value row once for the heads that share it. */
/* Halves of an F16 cache row to floats: a portable loop, and an F16C one for the fast worker. */
typedef void (*half_row_fn)(float *dst, const uint16_t *src, int n);
static void half_row(float *dst, const uint16_t *src, int n) {
  for (int i = 0; i < n; i++) dst[i] = fp16_to_f32(src[i]);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx,f16c"))) static void half_row_f16c(float *dst, const uint16_t *src,
                                                              int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(src + i))));
  for (; i < n; i++) dst[i] = fp16_to_f32(src[i]);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__)
/* exp_row_avx2 as a function of its own, for llm_softmax_row. */
__attribute__((target("avx2,fma"))) static void exp_row_avx2_fn(float *w, int n, float m) {
  exp_row_avx2(w, n, m);
}
#endif

/* The attention's score dot: llm__dot_f32_untiled, or its AVX2 form (kernels_int.h). */
typedef float (*score_fn)(const float *k, const float *q, int64_t n);

/* a += v * w over n values, one fused multiply-add each (the compiler does not vectorize the
 * plain loop here, so the AVX2 clone gets it spelled out; same bits). */
typedef void (*axpy_fn)(float *a, const float *v, float w, int n);
static void axpy_plain(float *a, const float *v, float w, int n) {
  for (int i = 0; i < n; i++) a[i] = fmaf(v[i], w, a[i]);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static inline void axpy_avx2(float *a, const float *v, float w,
                                                                 int n) {
  __m256 vw = _mm256_set1_ps(w);
  int i = 0;
  for (; i + 8 <= n; i += 8)
    _mm256_storeu_ps(a + i, _mm256_fmadd_ps(_mm256_loadu_ps(v + i), vw, _mm256_loadu_ps(a + i)));
  for (; i < n; i++) a[i] = fmaf(v[i], w, a[i]);
}
#endif

/* Positions handled per block: their K (then V) rows are converted once into floats and serve every
 * head of the item from cache. */
#define ATTN_POS_BLOCK 16

/* Positions [p0, p0 + pn) of key/value head kvh in one layer's cache rows L as float rows: out[p]
 * points into the cache (F32) or at rows + p hd, where each F16 row is converted once for the
 * heads that share it. */
static inline __attribute__((always_inline)) void block_rows(const llm_ctx *c, const uint8_t *L,
                                                             int kvh, int p0, int pn, float *rows,
                                                             half_row_fn half, const float **out) {
  int hd = c->m->hp.head_dim;
  size_t kvd = (size_t)c->m->hp.n_head_kv * hd;
  for (int p = 0; p < pn; p++) {
    size_t at = (size_t)(p0 + p) * kvd + (size_t)kvh * hd;
    out[p] = (const float *)(const void *)L + at;
    if (c->kv_f16) {
      half(rows + (size_t)p * hd, (const uint16_t *)(const void *)L + at, hd);
      out[p] = rows + (size_t)p * hd;
    }
  }
}

/* The scores of gh heads (their queries at q, q + hd, ...) sharing key/value head kvh for row t:
 * w[i][p] = (k_p . q_i) as llm__dot_f32_untiled computes it, times scale, for p < n_pos, and their
 * maxima M[i]. */
typedef void (*qk_fn)(llm_ctx *c, int il, int t, int kvh, const float *q, int gh, int n_pos,
                      float *w, size_t wn, float *M, float scale, float *rows, half_row_fn half,
                      score_fn score);

/* Position by position, each cached row converted once (into rows) for the heads. */
static inline __attribute__((always_inline)) void
qk_rows(llm_ctx *c, int il, int t, int kvh, const float *q, int gh, int n_pos, float *w, size_t wn,
        float *M, float scale, float *rows, half_row_fn half, score_fn score) {
  int hd = c->m->hp.head_dim;
  const uint8_t *Kl = slot_kv(c, c->row_slot[t], il, false);
  for (int i = 0; i < gh; i++) M[i] = -INFINITY;
  for (int p0 = 0; p0 < n_pos; p0 += ATTN_POS_BLOCK) {
    int pn = n_pos - p0 < ATTN_POS_BLOCK ? n_pos - p0 : ATTN_POS_BLOCK;
    const float *kb[ATTN_POS_BLOCK];
    block_rows(c, Kl, kvh, p0, pn, rows, half, kb);
    for (int i = 0; i < gh; i++) {
      const float *qi = q + (size_t)i * hd;
      float *wi = w + (size_t)i * wn;
      for (int p = 0; p < pn; p++) {
        wi[p0 + p] = score(kb[p], qi, hd) * scale;
        if (wi[p0 + p] > M[i]) M[i] = wi[p0 + p];
      }
    }
  }
}

static void qk_plain(llm_ctx *c, int il, int t, int kvh, const float *q, int gh, int n_pos,
                     float *w, size_t wn, float *M, float scale, float *rows, half_row_fn half,
                     score_fn score) {
  qk_rows(c, il, t, kvh, q, gh, n_pos, w, wn, M, scale, rows, half, score);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* llm__dot_f32_untiled_avx2's eight chains (register r: values 64 s + 8 r .. + 7, s = 0, 1, ...)
 * for HB heads against one cached key row read straight from the cache, the row loaded once for
 * the heads; the chains are formed in the order the tree adds them ((0 4) (2 6), then (1 5) (3 7)),
 * so a head holds at most four registers. Same bits as the one-row dot (hd 64 or 128, the sizes
 * of the models in use; others take the rows). */
#define QK_MAX_HB 3
__attribute__((target("avx2,fma,f16c"))) static inline __attribute__((always_inline)) void
qk_chain(const void *K, const bool f16, const float *q, int hd, int r, int hb, __m256 *acc) {
#pragma GCC unroll 4
  for (int i = 0; i < hb; i++) acc[i] = _mm256_setzero_ps();
  for (int s = 0; s < hd; s += 64) {
    __m256 k =
        f16 ? _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)K + s + 8 * r)))
            : _mm256_loadu_ps((const float *)K + s + 8 * r);
#pragma GCC unroll 4
    for (int i = 0; i < hb; i++)
      acc[i] = _mm256_fmadd_ps(k, _mm256_loadu_ps(q + (size_t)i * hd + s + 8 * r), acc[i]);
  }
}

__attribute__((target("avx2,fma,f16c"))) static inline __attribute__((always_inline)) void
qk_tile(const void *K, size_t kvd, int n_pos, const float *q, int hd, float *w, size_t wn, float *M,
        float scale, const bool f16, const int hb) {
  size_t es = f16 ? sizeof(uint16_t) : sizeof(float);
  for (int p = 0; p < n_pos; p++) {
    const void *Kp = (const uint8_t *)K + (size_t)p * kvd * es;
    __m256 a[QK_MAX_HB], b[QK_MAX_HB], lo[QK_MAX_HB], hi[QK_MAX_HB], u[QK_MAX_HB];
#define QK_PAIR(ra, rb, dst)                                                                       \
  do {                                                                                             \
    qk_chain(Kp, f16, q, hd, ra, hb, a);                                                           \
    qk_chain(Kp, f16, q, hd, rb, hb, b);                                                           \
    _Pragma("GCC unroll 4") for (int i = 0; i < hb; i++) dst[i] = _mm256_add_ps(a[i], b[i]);       \
  } while (0)
    QK_PAIR(0, 4, lo);
    QK_PAIR(2, 6, u);
#pragma GCC unroll 4
    for (int i = 0; i < hb; i++) lo[i] = _mm256_add_ps(lo[i], u[i]);
    QK_PAIR(1, 5, hi);
    QK_PAIR(3, 7, u);
#pragma GCC unroll 4
    for (int i = 0; i < hb; i++) {
      __m256 tt = _mm256_add_ps(lo[i], _mm256_add_ps(hi[i], u[i]));
      float sc = hsum_ps(tt) * scale;
      w[(size_t)i * wn + p] = sc;
      if (sc > M[i]) M[i] = sc;
    }
#undef QK_PAIR
  }
}

__attribute__((target("avx2,fma,f16c"))) static void
qk_avx2(llm_ctx *c, int il, int t, int kvh, const float *q, int gh, int n_pos, float *w, size_t wn,
        float *M, float scale, float *rows, half_row_fn half, score_fn score) {
  int hd = c->m->hp.head_dim;
  if (hd != 64 && hd != 128) {
    qk_rows(c, il, t, kvh, q, gh, n_pos, w, wn, M, scale, rows, half, score);
    return;
  }
  size_t kvd = (size_t)c->m->hp.n_head_kv * hd;
  bool f16 = c->kv_f16;
  const uint8_t *K =
      slot_kv(c, c->row_slot[t], il, false) + (size_t)kvh * hd * (f16 ? sizeof(uint16_t) : 4);
  for (int i = 0; i < gh; i++) M[i] = -INFINITY;
  int nb = (gh + QK_MAX_HB - 1) / QK_MAX_HB, per = (gh + nb - 1) / nb;
  for (int i0 = 0; i0 < gh; i0 += per) {
    int hb = gh - i0 < per ? gh - i0 : per;
    const float *qb = q + (size_t)i0 * hd;
    float *wb = w + (size_t)i0 * wn, *mb = M + i0;
    /* Specialized by cache type, head size and heads per block, so the chains are unrolled. */
#define QK_CALL(f, d, n) qk_tile(K, kvd, n_pos, qb, d, wb, wn, mb, scale, f, n)
#define QK_CASE(d, n)                                                                              \
  case (d)*4 + (n):                                                                                \
    if (f16)                                                                                       \
      QK_CALL(true, d, n);                                                                         \
    else                                                                                           \
      QK_CALL(false, d, n);                                                                        \
    break
    switch (hd * 4 + hb) {
      QK_CASE(64, 1);
      QK_CASE(64, 2);
      QK_CASE(64, 3);
      QK_CASE(128, 1);
      QK_CASE(128, 2);
      QK_CASE(128, 3);
    default: MIMIC_ASSERT(0);
    }
#undef QK_CALL
#undef QK_CASE
  }
}
#endif

/* The weighted values of gh heads sharing key/value head kvh for row t, out[i][e] (head i at out +
 * i hd): first the lane partials accs[i][l][e] (lane l = position % 16), each one fused
 * multiply-add chain over the positions of its lane in order, from zero, with the weights w[i][p]
 * already divided by the softmax sum; then llm__hsum16's tree over the sixteen lanes of each value
 * (the tiled matmul's order). */
typedef void (*pv_fn)(llm_ctx *c, int il, int t, int kvh, int gh, int n_pos, const float *w,
                      size_t wn, float *accs, float *rows, half_row_fn half, axpy_fn axpy,
                      float *out);

/* The plain order of work: position by position, each cached row converted once for the heads. */
static inline __attribute__((always_inline)) void
pv_rows(llm_ctx *c, int il, int t, int kvh, int gh, int n_pos, const float *w, size_t wn,
        float *accs, float *rows, half_row_fn half, axpy_fn axpy, float *out) {
  int hd = c->m->hp.head_dim;
  const uint8_t *Vl = slot_kv(c, c->row_slot[t], il, true);
  memset(accs, 0, (size_t)gh * 16 * hd * sizeof *accs);
  for (int p0 = 0; p0 < n_pos; p0 += ATTN_POS_BLOCK) {
    int pn = n_pos - p0 < ATTN_POS_BLOCK ? n_pos - p0 : ATTN_POS_BLOCK;
    const float *vb[ATTN_POS_BLOCK];
    block_rows(c, Vl, kvh, p0, pn, rows, half, vb);
    for (int i = 0; i < gh; i++) {
      const float *wi = w + (size_t)i * wn;
      float *acc = accs + (size_t)i * 16 * hd;
      for (int p = 0; p < pn; p++) axpy(acc + (size_t)((p0 + p) & 15) * hd, vb[p], wi[p0 + p], hd);
    }
  }
  for (int i = 0; i < gh; i++) { /* the tree as whole-row additions */
    float *acc = accs + (size_t)i * 16 * hd, *o = out + (size_t)i * hd;
    for (int l = 0; l < 8; l++)
      for (int e = 0; e < hd; e++) acc[l * hd + e] += acc[(l + 8) * hd + e];
    for (int l = 0; l < 4; l++)
      for (int e = 0; e < hd; e++) acc[l * hd + e] += acc[(l + 4) * hd + e];
    for (int e = 0; e < hd; e++)
      o[e] = (acc[e] + acc[2 * hd + e]) + (acc[hd + e] + acc[3 * hd + e]);
  }
}

static void pv_plain(llm_ctx *c, int il, int t, int kvh, int gh, int n_pos, const float *w,
                     size_t wn, float *accs, float *rows, half_row_fn half, axpy_fn axpy,
                     float *out) {
  pv_rows(c, il, t, kvh, gh, n_pos, w, wn, accs, rows, half, axpy, out);
}

#if defined(__x86_64__) && defined(__GNUC__)
/* The same chains with their accumulators in registers: for NR x 8 values of HB heads at a time,
 * lane by lane, the lane's positions read straight from the cache (halves converted in registers).
 * The plain loop loads and stores an accumulator per multiply-add; this one does neither. */
#define PV_MAX_HB 6
__attribute__((target("avx2,fma,f16c"))) static inline __attribute__((always_inline)) void
pv_tile(const void *V, size_t kvd, int n_pos, const float *w, size_t wn, float *accs, float *out,
        int hd, const bool f16, const int hb, const int nr) {
  for (int e0 = 0; e0 < hd; e0 += 8 * nr) {
    for (int l = 0; l < 16; l++) {
      __m256 a[PV_MAX_HB][8];
#pragma GCC unroll 8
      for (int i = 0; i < hb; i++)
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++) a[i][r] = _mm256_setzero_ps();
      for (int p = l; p < n_pos; p += 16) {
        __m256 v[8];
        size_t at = (size_t)p * kvd + (size_t)e0;
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++)
          v[r] = f16 ? _mm256_cvtph_ps(
                           _mm_loadu_si128((const __m128i *)((const uint16_t *)V + at + 8 * r)))
                     : _mm256_loadu_ps((const float *)V + at + 8 * r);
#pragma GCC unroll 8
        for (int i = 0; i < hb; i++) {
          __m256 s = _mm256_broadcast_ss(w + (size_t)i * wn + p);
#pragma GCC unroll 8
          for (int r = 0; r < nr; r++) a[i][r] = _mm256_fmadd_ps(v[r], s, a[i][r]);
        }
      }
#pragma GCC unroll 8
      for (int i = 0; i < hb; i++)
#pragma GCC unroll 8
        for (int r = 0; r < nr; r++)
          _mm256_storeu_ps(accs + ((size_t)i * 16 + (size_t)l) * hd + e0 + 8 * r, a[i][r]);
    }
    for (int i = 0; i < hb; i++) /* the tree, eight values at a time */
      for (int r = 0; r < nr; r++) {
        const float *q = accs + (size_t)i * 16 * hd + e0 + 8 * r;
        __m256 u[8];
        for (int l = 0; l < 8; l++)
          u[l] = _mm256_add_ps(_mm256_loadu_ps(q + (size_t)l * hd),
                               _mm256_loadu_ps(q + (size_t)(l + 8) * hd));
        for (int l = 0; l < 4; l++) u[l] = _mm256_add_ps(u[l], u[l + 4]);
        _mm256_storeu_ps(out + (size_t)i * hd + e0 + 8 * r,
                         _mm256_add_ps(_mm256_add_ps(u[0], u[2]), _mm256_add_ps(u[1], u[3])));
      }
  }
}

__attribute__((target("avx2,fma,f16c"))) static void
pv_avx2(llm_ctx *c, int il, int t, int kvh, int gh, int n_pos, const float *w, size_t wn,
        float *accs, float *rows, half_row_fn half, axpy_fn axpy, float *out) {
  int hd = c->m->hp.head_dim;
  size_t kvd = (size_t)c->m->hp.n_head_kv * hd;
  if (hd % 16) {
    pv_rows(c, il, t, kvh, gh, n_pos, w, wn, accs, rows, half, axpy, out);
    return;
  }
  const uint8_t *Vl = slot_kv(c, c->row_slot[t], il, true);
  const void *V = Vl + (size_t)kvh * hd * (c->kv_f16 ? sizeof(uint16_t) : sizeof(float));
  bool f16 = c->kv_f16;
  if (gh == 1 && hd % 64 == 0) { /* one head (decoding): 64 values at a time */
    if (f16)
      pv_tile(V, kvd, n_pos, w, wn, accs, out, hd, true, 1, 8);
    else
      pv_tile(V, kvd, n_pos, w, wn, accs, out, hd, false, 1, 8);
    return;
  }
  /* Heads in even blocks of at most six, 16 values each (twelve accumulators). */
  int nb = (gh + PV_MAX_HB - 1) / PV_MAX_HB, per = (gh + nb - 1) / nb;
  for (int i0 = 0; i0 < gh; i0 += per) {
    int hb = gh - i0 < per ? gh - i0 : per;
    const float *wb = w + (size_t)i0 * wn;
    float *ab = accs + (size_t)i0 * 16 * hd, *ob = out + (size_t)i0 * hd;
#define PV_CASE(n)                                                                                 \
  case n:                                                                                          \
    if (f16)                                                                                       \
      pv_tile(V, kvd, n_pos, wb, wn, ab, ob, hd, true, n, 2);                                      \
    else                                                                                           \
      pv_tile(V, kvd, n_pos, wb, wn, ab, ob, hd, false, n, 2);                                     \
    break
    switch (hb) {
      PV_CASE(1);
      PV_CASE(2);
      PV_CASE(3);
      PV_CASE(4);
      PV_CASE(5);
      PV_CASE(6);
    default: MIMIC_ASSERT(0);
    }
#undef PV_CASE
  }
}
#endif

static inline __attribute__((always_inline)) void
attn_rows(const attn_job *j, int64_t begin, int64_t end, half_row_fn half, score_fn score,
          axpy_fn axpy, exp_row_fn exp_row, qk_fn qk, pv_fn pv) {
  llm_ctx *c = j->c;
  const llm_hparams *hp = &c->m->hp;
  int hd = hp->head_dim, nh = hp->n_head, group = hp->n_head / hp->n_head_kv, gh = j->gh;
  int items_per_row = nh / gh;
  size_t qd = (size_t)nh * hd, wn = (size_t)c->n_ctx + 16;
  float scale = 1.0f / sqrtf((float)hd);
  /* per head of the item: its scores (wn) and its 16 value accumulators (16 hd); then the block
   * of converted rows */
  float *w =
      llm__scratch(LLM_SCRATCH_ATTN,
                   ((size_t)gh * (wn + 16 * (size_t)hd) + ATTN_POS_BLOCK * (size_t)hd) * sizeof *w);
  float *accs = w + (size_t)gh * wn, *rows = accs + (size_t)gh * 16 * hd;
  for (int64_t item = begin; item < end; item++) {
    int t = (int)(item / items_per_row), h0 = (int)(item % items_per_row) * gh, kvh = h0 / group;
    int n_pos = c->row_pos[t] + 1, n_pad = (n_pos + 15) & ~15;
    float M[LLM_ATTN_MAX_GROUP];
    qk(c, j->il, t, kvh, c->q + (size_t)t * qd + (size_t)h0 * hd, gh, n_pos, w, wn, M, scale, rows,
       half, score);
    for (int i = 0; i < gh; i++) {
      float *wi = w + (size_t)i * wn;
      for (int p = n_pos; p < n_pad; p++) wi[p] = -INFINITY;
      double sum = 0;
      exp_row(wi, n_pad, M[i]);
      for (int p = 0; p < n_pad; p += 16) sum += (double)llm__hsum16(wi + p);
      float inv = (float)(1.0 / sum);
      for (int p = 0; p < n_pos; p++) wi[p] *= inv;
    }
    pv(c, j->il, t, kvh, gh, n_pos, w, wn, accs, rows, half, axpy,
       c->att + (size_t)t * qd + (size_t)h0 * hd);
  }
}

static void attn_worker_plain(void *arg, int64_t b, int64_t e) {
  attn_rows(arg, b, e, half_row, llm__dot_f32_untiled, axpy_plain, exp_row_plain, qk_plain,
            pv_plain);
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void attn_worker_fma(void *arg, int64_t b, int64_t e) {
  attn_rows(arg, b, e, half_row_f16c, llm__dot_f32_untiled_avx2, axpy_avx2, exp_row_avx2, qk_avx2,
            pv_avx2);
}
#include <cpuid.h>
/* F16C (CPUID.1:ECX bit 29), read directly: clang 14's __builtin_cpu_supports has no "f16c". */
static bool cpu_has_f16c(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static attn_fn attn_pick(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c())
    return attn_worker_fma;
#endif
  return attn_worker_plain;
}

void llm__ctx_plain_attention(llm_ctx *c) { c->attn = attn_worker_plain; }

static exp_row_fn softmax_exp_row = exp_row_plain;
static pthread_once_t softmax_once = PTHREAD_ONCE_INIT;
static void softmax_init(void) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (attn_pick() == attn_worker_fma) softmax_exp_row = exp_row_avx2_fn;
#endif
}

void llm_softmax_row(float *w, int n) {
  pthread_once(&softmax_once, softmax_init);
  exp_row_fn exp_row = softmax_exp_row;
  if (n <= 0) return;
  float M = -INFINITY;
  for (int p = 0; p < n; p++)
    if (w[p] > M) M = w[p];
  int n16 = n & ~15;
  exp_row(w, n16, M);
  double sum = 0;
  for (int p = 0; p < n16; p += 16) sum += (double)llm__hsum16(w + p);
  for (int p = n16; p < n; p++) {
    float v = expf(w[p] - M);
    sum += (double)v;
    w[p] = v;
  }
  float inv = (float)(1.0 / sum);
  for (int p = 0; p < n; p++) w[p] *= inv;
}

/* SwiGLU, h = silu(h) * u, as llama.cpp's AVX-512 build computes it: the vector exp above for
 * every whole run of 16 values, libm's expf for the n % 16 left over. Scalar, and eight at a time
 * in AVX2 with the same operations (a vector with an exponent out of the normal range goes
 * through the scalar exp). */
static float silu(float x) { return x / (1.0f + vexpf(0.0f - x)); }
static float silu_libm(float x) { return x / (1.0f + expf(0.0f - x)); }
static void swiglu_plain(float *h, const float *u, size_t n) {
  size_t n16 = n & ~(size_t)15, i = 0;
  for (; i < n16; i++) h[i] = silu(h[i]) * u[i];
  for (; i < n; i++) h[i] = silu_libm(h[i]) * u[i];
}
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx2,fma"))) static void swiglu_avx2(float *h, const float *u, size_t n) {
  const __m256 one = _mm256_set1_ps(1.0f);
  size_t n16 = n & ~(size_t)15, i = 0;
  for (; i < n16; i += 8) {
    __m256 x = _mm256_loadu_ps(h + i);
    int ok;
    __m256 e = vexpf8(_mm256_sub_ps(_mm256_setzero_ps(), x), &ok);
    if (!ok) {
      for (size_t k = i; k < i + 8; k++) h[k] = silu(h[k]) * u[k];
      continue;
    }
    __m256 sl = _mm256_div_ps(x, _mm256_add_ps(one, e));
    _mm256_storeu_ps(h + i, _mm256_mul_ps(sl, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; i++) h[i] = silu_libm(h[i]) * u[i];
}
#endif

/* The SwiGLU and RoPE loops for this CPU (same bits either way). */
static void row_ops_pick(llm_ctx *c) {
  c->swiglu = swiglu_plain;
  c->rope = rope_plain;
#if defined(__x86_64__) && defined(__GNUC__)
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    c->swiglu = swiglu_avx2;
    c->rope = rope_fma;
  }
#endif
}

/* Attention under the profile: the same worker, with each thread's busy time counted. */
static void attn_worker_prof(void *arg, int64_t b, int64_t e) {
  const attn_job *j = arg;
  uint64_t t0 = llm__prof_now();
  j->c->attn(arg, b, e);
  llm__prof_attn_busy(llm__prof_now() - t0);
}

/* Times stmt into profile category cat when the profile is on (profile.h). */
#define PROF(cat, stmt)                                                                            \
  do {                                                                                             \
    uint64_t prof_t0_ = LLM_PROF_T0();                                                             \
    stmt;                                                                                          \
    if (prof_t0_) llm__prof_wall(cat, prof_t0_);                                                   \
  } while (0)

/* A prompt's row-wise passes (RMS norms, RoPE with the cache stores, SwiGLU, residual additions)
 * on the pool: on the calling thread alone they were about 5% of a 512-token pass at 2 threads
 * (1.5B shape, Q4_K_M). Each row keeps its own arithmetic, so the bits do not change; SwiGLU is
 * split at rows only where a row is a whole number of its 16-value blocks (its tail takes another
 * path). Fewer than ROWS_PAR_MIN rows (a decode step) stay on the calling thread. */
#define ROWS_PAR_MIN 16
typedef enum { ROWS_NORM, ROWS_ROPE, ROWS_SWIGLU, ROWS_ADD } rows_kind;
typedef struct rows_job {
  llm_ctx *c;
  rows_kind kind;
  int il;
  const float *w; /* the norm's weights */
} rows_job;

static void rows_worker(void *arg, int64_t b, int64_t e) {
  const rows_job *j = arg;
  llm_ctx *c = j->c;
  const llm_hparams *hp = &c->m->hp;
  size_t E = (size_t)hp->n_embd, ff = (size_t)hp->n_ff;
  size_t qd = (size_t)hp->n_head * hp->head_dim, kvd = (size_t)hp->n_head_kv * hp->head_dim;
  switch (j->kind) {
  case ROWS_NORM:
    for (int64_t t = b; t < e; t++)
      rmsnorm(c->xb + (size_t)t * E, c->x + (size_t)t * E, j->w, (int)E, hp->rms_eps);
    break;
  case ROWS_ROPE:
    for (int64_t t = b; t < e; t++) {
      const float *cs = c->rope_cache + (size_t)t * hp->n_rot;
      c->rope(hp, c->q + (size_t)t * qd, hp->n_head, cs);
      c->rope(hp, c->k + (size_t)t * kvd, hp->n_head_kv, cs);
      kv_store(c, slot_kv(c, c->row_slot[t], j->il, false), kvd, c->row_pos[t],
               c->k + (size_t)t * kvd);
      kv_store(c, slot_kv(c, c->row_slot[t], j->il, true), kvd, c->row_pos[t],
               c->v + (size_t)t * kvd);
    }
    break;
  case ROWS_SWIGLU:
    c->swiglu(c->hb + (size_t)b * ff, c->hb2 + (size_t)b * ff, (size_t)(e - b) * ff);
    break;
  case ROWS_ADD:
    for (size_t i = (size_t)b * E; i < (size_t)e * E; i++) c->x[i] += c->xb[i];
    break;
  }
}

static void rows_pass(llm_ctx *c, rows_kind kind, int il, const float *w, int T) {
  rows_job j = {c, kind, il, w};
  int64_t nth = compute_pool_threads(c->pool), chunk = (T + 2 * nth - 1) / (2 * nth);
  if (T < ROWS_PAR_MIN || (kind == ROWS_SWIGLU && c->m->hp.n_ff % 16)) chunk = T;
  compute_pool_for(c->pool, T, chunk, rows_worker, &j);
}

/* Evaluates T rows described by row_slot/row_pos/row_lora/row_scale (set by the caller) with
 * tokens tok, or with the input rows embd (T x n_embd floats) when embd is not NULL. When logits is
 * not NULL, the lm head runs for rows [logits_from, T) and writes them contiguously to logits. */
static void forward_rows(llm_ctx *c, int T, const int32_t *tok, const float *embd, float *logits,
                         int logits_from) {
  const llm_model *m = c->m;
  const llm_hparams *hp = &m->hp;
  int E = hp->n_embd;
  /* The public entry points checked slots, positions and tokens; these are their promises. */
  MIMIC_ASSERT(T >= 1 && T <= c->n_batch && logits_from >= 0 && logits_from < T);
  uint64_t fwd_t0 = LLM_PROF_T0(), t0 = fwd_t0;

  for (int t = 0; t < T; t++) {
    MIMIC_DASSERT(c->row_slot[t] >= 0 && c->row_slot[t] < c->n_slots);
    MIMIC_DASSERT(c->row_pos[t] >= 0 && c->row_pos[t] < c->n_ctx);
    if (embd) { /* input rows given as embeddings (an image's rows) */
      memcpy(c->x + (size_t)t * E, embd + (size_t)t * E, (size_t)E * sizeof *embd);
    } else {
      MIMIC_DASSERT(tok[t] >= 0 && tok[t] < hp->n_vocab);
      quant_dequant_row(m->tok_embd.type,
                        (const char *)m->tok_embd.data + (size_t)tok[t] * m->tok_embd.row_bytes,
                        c->x + (size_t)t * E, E);
    }
    rope_cache(m, c->row_pos[t], c->rope_cache + (size_t)t * hp->n_rot);
  }
  if (t0) llm__prof_wall(LLM_PROF_EMBED, t0);
  for (int il = 0; il < hp->n_layer; il++) {
    const llm_layer *L = &m->layers[il];
    PROF(LLM_PROF_NORM, rows_pass(c, ROWS_NORM, il, L->attn_norm, T));
    static const int qkv[3] = {LLM_W_Q, LLM_W_K, LLM_W_V};
    float *qkv_out[3] = {c->q, c->k, c->v};
    proj_multi(c, il, 3, qkv, T, c->xb, qkv_out);
    PROF(LLM_PROF_ROPE, rows_pass(c, ROWS_ROPE, il, NULL, T));
    /* Prompts: one item per group of heads sharing a key/value head (fewer conversions of the
     * cache); a decode step keeps one head per item, so every thread has work. */
    int group = hp->n_head / hp->n_head_kv, gh = 1;
    if (T > 1 && group <= LLM_ATTN_MAX_GROUP) gh = group;
    attn_job job = {c, il, T, gh};
    t0 = LLM_PROF_T0();
    compute_pool_for(c->pool, (int64_t)T * (hp->n_head / gh), 1, t0 ? attn_worker_prof : c->attn,
                     &job);
    if (t0) {
      llm__prof_wall(LLM_PROF_ATTN, t0);
      llm__prof_par(t0, compute_pool_threads(c->pool));
    }
    proj(c, il, LLM_W_O, T, c->att, c->xb);
    PROF(LLM_PROF_ADD, rows_pass(c, ROWS_ADD, il, NULL, T));

    PROF(LLM_PROF_NORM, rows_pass(c, ROWS_NORM, il, L->ffn_norm, T));
    static const int gate_up[2] = {LLM_W_GATE, LLM_W_UP};
    float *gu_out[2] = {c->hb, c->hb2};
    proj_multi(c, il, 2, gate_up, T, c->xb, gu_out);
    PROF(LLM_PROF_SWIGLU, rows_pass(c, ROWS_SWIGLU, il, NULL, T));
    proj(c, il, LLM_W_DOWN, T, c->hb, c->xb);
    PROF(LLM_PROF_ADD, rows_pass(c, ROWS_ADD, il, NULL, T));
  }
  c->n_evaluated += (uint64_t)T;
  if (!logits) {
    if (fwd_t0) llm__prof_forward(fwd_t0, T);
    return;
  }
  const int *sel = c->head_rows; /* ascending, or NULL: rows [logits_from, T) */
  int n = sel ? c->n_head_rows : T - logits_from;
  PROF(LLM_PROF_NORM,
       for (int t = 0; t < n; t++)
           rmsnorm(c->xb + (size_t)t * E, c->x + (size_t)(sel ? sel[t] : logits_from + t) * E,
                   m->output_norm, E, hp->rms_eps));
  /* A mixed step's head rows are each one conversation's last row: the order of a lone row. */
  const qmat *head = &m->output;
  llm__qmat_mul_split(c->pool, 1, &head, c->xb, &logits, n, sel ? 0 : -1);
  if (!hp->tied_embeddings) {
    /* Adapter rows must line up with the rows the head runs on. */
    if (sel) {
      for (int t = 0; t < n; t++) { /* sel[t] >= t: forward copies are safe */
        c->row_lora[t] = c->row_lora[sel[t]];
        c->row_scale[t] = c->row_scale[sel[t]];
      }
    } else if (logits_from) {
      memmove(c->row_lora, c->row_lora + logits_from, (size_t)n * sizeof *c->row_lora);
      memmove(c->row_scale, c->row_scale + logits_from, (size_t)n * sizeof *c->row_scale);
    }
    lora_add(c, -1, 0, n, c->xb, E, logits, hp->n_vocab);
  }
  if (m->output_bias)
    for (int t = 0; t < n; t++)
      for (int i = 0; i < hp->n_vocab; i++)
        logits[(size_t)t * hp->n_vocab + i] += m->output_bias[i];
  if (fwd_t0) llm__prof_forward(fwd_t0, T);
}

/* ---- Forward over one slot ------------------------------------------------------------------- */

static int check_slot(const llm_ctx *c, int slot) {
  if (slot < 0 || slot >= c->n_slots)
    return err_set(MIMIC_EINVAL, "slot %d is out of range (the context has %d)", slot, c->n_slots);
  return 0;
}

static int check_lora(const llm_ctx *c, const llm_lora *lora) {
  if (lora && lora->base != c->m)
    return err_set(MIMIC_EINVAL, "the adapter was loaded for another model");
  return 0;
}

static int check_tokens(const llm_ctx *c, const int32_t *tokens, int n) {
  for (int i = 0; i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= c->m->hp.n_vocab)
      return err_set(MIMIC_EINVAL, "token id %d at index %d is outside the vocabulary (0..%d)",
                     tokens[i], i, c->m->hp.n_vocab - 1);
  return 0;
}

static void slot_note_lora(llm_slot *sl, int pos0, const llm_lora *lora, float scale) {
  uint64_t id = lora ? lora->id : 0;
  float s = lora ? scale : 0.0f;
  if (pos0 == 0) {
    sl->lora_id = id;
    sl->lora_scale = s;
    sl->mixed = false;
  } else if (sl->lora_id != id || sl->lora_scale != s) {
    sl->mixed = true;
  }
}

/* llm_forward and llm_forward_embd: exactly one of tokens and embd is given. */
static int forward_slot(llm_ctx *c, int slot, const int32_t *tokens, const float *embd, int n,
                        int pos0, const llm_lora *lora, float lora_scale, float *logits,
                        llm_logits_mode mode) {
  int rc;
  if ((rc = check_slot(c, slot)) || (rc = check_lora(c, lora))) return rc;
  llm_slot *sl = &c->slots[slot];
  if (n < 0 || pos0 < 0 || pos0 > sl->n_past)
    return err_set(MIMIC_EINVAL, "forward at position %d with %d tokens, but slot %d holds %d",
                   pos0, n, slot, sl->n_past);
  if ((int64_t)pos0 + n > c->n_ctx)
    return err_set(MIMIC_ERANGE, "%d tokens at position %d do not fit the context of %d", n, pos0,
                   c->n_ctx);
  if (mode != LLM_LOGITS_NONE && (!logits || n == 0))
    return err_set(MIMIC_EINVAL, "logits requested for %d tokens without a buffer", n);
  if (tokens && (rc = check_tokens(c, tokens, n))) return rc;
  slot_note_lora(sl, pos0, lora, lora_scale);
  sl->n_past = pos0;
  sl->last_used = ++c->tick;
  int V = c->m->hp.n_vocab;
  for (int done = 0; done < n;) {
    int T = n - done < c->n_batch ? n - done : c->n_batch;
    bool last_chunk = done + T == n;
    for (int t = 0; t < T; t++) {
      c->row_slot[t] = slot;
      c->row_pos[t] = pos0 + done + t;
      c->row_lora[t] = lora;
      c->row_scale[t] = lora_scale;
    }
    float *lg = NULL;
    int from = 0;
    if (mode == LLM_LOGITS_ALL) {
      lg = logits + (size_t)done * V;
    } else if (mode == LLM_LOGITS_LAST && last_chunk) {
      lg = logits;
      from = T - 1;
    }
    if (tokens) {
      forward_rows(c, T, tokens + done, NULL, lg, from);
      memcpy(sl->tokens + pos0 + done, tokens + done, (size_t)T * sizeof *tokens);
    } else {
      int E = c->m->hp.n_embd;
      forward_rows(c, T, NULL, embd + (size_t)done * E, lg, from);
      for (int t = 0; t < T; t++) sl->tokens[pos0 + done + t] = LLM_TOKEN_EMBD;
    }
    done += T;
    sl->n_past = pos0 + done;
  }
  return 0;
}

int llm_forward(llm_ctx *c, int slot, const int32_t *tokens, int n, int pos0, const llm_lora *lora,
                float lora_scale, float *logits, llm_logits_mode mode) {
  return forward_slot(c, slot, tokens, NULL, n, pos0, lora, lora_scale, logits, mode);
}

int llm_forward_embd(llm_ctx *c, int slot, const float *embd, int n, int pos0, const llm_lora *lora,
                     float lora_scale, float *logits, llm_logits_mode mode) {
  if (n > 0 && !embd) return err_set(MIMIC_EINVAL, "%d input rows without a buffer", n);
  return forward_slot(c, slot, NULL, embd ? embd : (const float *)c->x, n, pos0, lora, lora_scale,
                      logits, mode);
}

/* ---- Slots ----------------------------------------------------------------------------------- */

int llm_slot_acquire(llm_ctx *c, uint64_t key, int *slot, bool *reused) {
  int best = -1;
  for (int s = 0; s < c->n_slots; s++)
    if (c->slots[s].tagged && c->slots[s].key == key) {
      c->slots[s].last_used = ++c->tick;
      *slot = s;
      if (reused) *reused = true;
      return 0;
    }
  for (int s = 0; s < c->n_slots; s++) {
    const llm_slot *sl = &c->slots[s];
    if (!sl->tagged) {
      best = s;
      break;
    }
    if (best < 0 || sl->last_used < c->slots[best].last_used) best = s;
  }
  llm_slot_clear(c, best);
  c->slots[best].tagged = true;
  c->slots[best].key = key;
  c->slots[best].last_used = ++c->tick;
  *slot = best;
  if (reused) *reused = false;
  return 0;
}

void llm_slot_clear(llm_ctx *c, int slot) {
  if (slot < 0 || slot >= c->n_slots) return;
  llm_slot *sl = &c->slots[slot];
  sl->n_past = 0;
  sl->n_keep = 0;
  sl->tagged = false;
  sl->key = 0;
  sl->lora_id = 0;
  sl->lora_scale = 0;
  sl->mixed = false;
}

int llm_slot_n_past(const llm_ctx *c, int slot) {
  return slot >= 0 && slot < c->n_slots ? c->slots[slot].n_past : 0;
}

const int32_t *llm_slot_tokens(const llm_ctx *c, int slot) {
  return slot >= 0 && slot < c->n_slots ? c->slots[slot].tokens : NULL;
}

void llm_slot_set_keep(llm_ctx *c, int slot, int n_keep) {
  if (slot < 0 || slot >= c->n_slots) return;
  c->slots[slot].n_keep = n_keep < 0 ? 0 : n_keep;
}

/* How many leading tokens[0..n) the slot holds computed with the same adapter and scale. */
static int slot_reusable(const llm_slot *sl, const int32_t *tokens, int n, const llm_lora *lora,
                         float lora_scale) {
  int keep = 0;
  if (!sl->mixed && sl->lora_id == (lora ? lora->id : 0) &&
      sl->lora_scale == (lora ? lora_scale : 0.0f)) {
    int lim = sl->n_past < n ? sl->n_past : n;
    while (keep < lim && sl->tokens[keep] == tokens[keep]) keep++;
  }
  return keep;
}

int llm_slot_prepare(llm_ctx *c, int slot, const int32_t *tokens, int n, const llm_lora *lora,
                     float lora_scale, float *logits_last, int *n_evaluated) {
  int rc;
  if (n_evaluated) *n_evaluated = 0;
  if ((rc = check_slot(c, slot)) || (rc = check_lora(c, lora))) return rc;
  if (n <= 0) return err_set(MIMIC_EINVAL, "empty prompt");
  if (n > c->n_ctx)
    return err_set(MIMIC_ERANGE, "prompt of %d tokens does not fit the context of %d; shorten it",
                   n, c->n_ctx);
  if ((rc = check_tokens(c, tokens, n))) return rc;
  llm_slot *sl = &c->slots[slot];
  int keep = slot_reusable(sl, tokens, n, lora, lora_scale);
  if (keep == n && !logits_last) { /* all cached and no logits wanted: just drop any tail */
    sl->n_past = n;
    sl->last_used = ++c->tick;
    return 0;
  }
  if (keep == n) keep = n - 1; /* re-evaluate the last token to produce its logits */
  rc = llm_forward(c, slot, tokens + keep, n - keep, keep, lora, lora_scale, logits_last,
                   logits_last ? LLM_LOGITS_LAST : LLM_LOGITS_NONE);
  if (rc) return rc;
  if (n_evaluated) *n_evaluated = n - keep;
  return 0;
}

/* Makes room for `need` more tokens: keeps n_keep, drops the oldest half of the rest and
 * re-evaluates what remains at its new positions. The slot's adapter is reused. */
static int slot_shift(llm_ctx *c, int slot, int need, const llm_lora *lora, float lora_scale) {
  llm_slot *sl = &c->slots[slot];
  if (need > c->n_ctx)
    return err_set(MIMIC_ERANGE, "%d tokens do not fit the context of %d", need, c->n_ctx);
  if (sl->n_past + need <= c->n_ctx) return 0;
  int keep = sl->n_keep < sl->n_past ? sl->n_keep : sl->n_past;
  if (keep + need > c->n_ctx) keep = 0; /* a prefix this long cannot be kept */
  int rest = sl->n_past - keep;
  int drop = rest / 2;
  int min_drop = sl->n_past + need - c->n_ctx; /* <= rest, since keep + need <= n_ctx */
  if (drop < min_drop) drop = min_drop;
  int remain = rest - drop;
  for (int i = keep + drop; i < sl->n_past; i++)
    if (sl->tokens[i] == LLM_TOKEN_EMBD)
      return err_set(MIMIC_ERANGE,
                     "the context of %d is full and what it would keep holds an image, which "
                     "cannot be re-evaluated; use a larger context",
                     c->n_ctx);
  LOG_D("model", "slot %d: context shift, keeping %d, dropping %d, re-evaluating %d", slot, keep,
        drop, remain);
  memmove(sl->tokens + keep, sl->tokens + keep + drop, (size_t)remain * sizeof *sl->tokens);
  sl->n_past = keep;
  if (remain > 0) {
    int32_t *copy = xalloc((size_t)remain * sizeof *copy);
    memcpy(copy, sl->tokens + keep, (size_t)remain * sizeof *copy);
    int rc = llm_forward(c, slot, copy, remain, keep, lora, lora_scale, NULL, LLM_LOGITS_NONE);
    mem_free(copy);
    if (rc) return rc;
  }
  return 0;
}

int llm_slot_decode(llm_ctx *c, int slot, const int32_t *tokens, int n, const llm_lora *lora,
                    float lora_scale, float *logits_last) {
  int rc;
  if ((rc = check_slot(c, slot)) || (rc = check_lora(c, lora))) return rc;
  if (n <= 0) return err_set(MIMIC_EINVAL, "nothing to decode");
  if ((rc = check_tokens(c, tokens, n))) return rc;
  if ((rc = slot_shift(c, slot, n, lora, lora_scale))) return rc;
  return llm_forward(c, slot, tokens, n, c->slots[slot].n_past, lora, lora_scale, logits_last,
                     logits_last ? LLM_LOGITS_LAST : LLM_LOGITS_NONE);
}

/* ---- Batched decoding ------------------------------------------------------------------------ */

int llm_forward_batch(llm_ctx *c, const llm_batch_item *items, int n_items) {
  int rc;
  if (n_items < 0 || n_items > c->n_slots)
    return err_set(MIMIC_EINVAL, "batch of %d items, but the context has %d slots", n_items,
                   c->n_slots);
  for (int i = 0; i < n_items; i++) {
    if ((rc = check_slot(c, items[i].slot)) || (rc = check_lora(c, items[i].lora))) return rc;
    if ((rc = check_tokens(c, &items[i].token, 1))) return rc;
    for (int j = 0; j < i; j++)
      if (items[j].slot == items[i].slot)
        return err_set(MIMIC_EINVAL, "slot %d appears twice in one batch", items[i].slot);
  }
  for (int i = 0; i < n_items; i++)
    if ((rc = slot_shift(c, items[i].slot, 1, items[i].lora, items[i].lora_scale))) return rc;
  int V = c->m->hp.n_vocab;
  bool any_logits = false;
  for (int done = 0; done < n_items;) {
    int T = n_items - done < c->n_batch ? n_items - done : c->n_batch;
    int32_t *tok = xalloc((size_t)T * sizeof *tok);
    for (int t = 0; t < T; t++) {
      const llm_batch_item *it = &items[done + t];
      llm_slot *sl = &c->slots[it->slot];
      slot_note_lora(sl, sl->n_past, it->lora, it->lora_scale);
      c->row_slot[t] = it->slot;
      c->row_pos[t] = sl->n_past;
      c->row_lora[t] = it->lora;
      c->row_scale[t] = it->lora_scale;
      tok[t] = it->token;
      sl->last_used = ++c->tick;
      if (it->logits) any_logits = true;
    }
    forward_rows(c, T, tok, NULL, any_logits ? c->logits_tmp : NULL, 0);
    for (int t = 0; t < T; t++) {
      const llm_batch_item *it = &items[done + t];
      llm_slot *sl = &c->slots[it->slot];
      sl->tokens[sl->n_past++] = it->token;
      if (it->logits) memcpy(it->logits, c->logits_tmp + (size_t)t * V, (size_t)V * sizeof(float));
    }
    mem_free(tok);
    done += T;
  }
  return 0;
}

/* ---- Mixed steps ----------------------------------------------------------------------------- */

/* One piece of an item: len <= n_batch of its tokens from off (relative to its span), evaluated in
 * one forward_rows call, as llm_forward would cut them. */
typedef struct mixed_piece {
  int item, off, len;
  bool head; /* the item's last row, and it wants logits */
} mixed_piece;

/* The span an item evaluates after its checks: tokens[from, from + n) at positions from pos0. */
typedef struct mixed_span {
  int pos0, from, n;
} mixed_span;

static int mixed_check(const llm_ctx *c, const llm_mixed_item *items, int i) {
  const llm_mixed_item *it = &items[i];
  int rc;
  if ((rc = check_slot(c, it->slot)) || (rc = check_lora(c, it->lora))) return rc;
  if (it->n <= 0 || !it->tokens)
    return err_set(MIMIC_EINVAL, "slot %d: nothing to evaluate", it->slot);
  if (it->n > c->n_ctx)
    return err_set(MIMIC_ERANGE, "%d tokens do not fit the context of %d; shorten the prompt",
                   it->n, c->n_ctx);
  if ((rc = check_tokens(c, it->tokens, it->n))) return rc;
  for (int j = 0; j < i; j++)
    if (items[j].slot == it->slot)
      return err_set(MIMIC_EINVAL, "slot %d appears twice in one step", it->slot);
  return 0;
}

/* Runs pieces [p0, p1) (at most n_batch rows together) in one forward_rows call. Rows are laid out
 * so that each keeps the matrix order it has when its piece runs alone (llm__gemm_tokens of the
 * piece's length: the first len - len % 4 rows gemm, the rest gemv): every piece's gemm rows first,
 * then every gemv row, and the split is passed down. A decode step (one row) is gemv, as alone. */
static void mixed_run(llm_ctx *c, llm_mixed_item *items, const mixed_span *sp,
                      const mixed_piece *pc, int p0, int p1, int32_t *tok, int *head_rows,
                      int *head_item) {
  int T = 0, t4 = 0, V = c->m->hp.n_vocab;
  for (int p = p0; p < p1; p++) {
    T += pc[p].len;
    t4 += (int)llm__gemm_tokens(pc[p].len);
  }
  int at_gemm = 0, at_gemv = t4, n_head = 0;
  for (int p = p0; p < p1; p++) {
    const llm_mixed_item *it = &items[pc[p].item];
    const mixed_span *s = &sp[pc[p].item];
    int g = (int)llm__gemm_tokens(pc[p].len);
    for (int r = 0; r < pc[p].len; r++) {
      int at = r < g ? at_gemm++ : at_gemv++;
      c->row_slot[at] = it->slot;
      c->row_pos[at] = s->pos0 + pc[p].off + r;
      c->row_lora[at] = it->lora;
      c->row_scale[at] = it->lora_scale;
      tok[at] = it->tokens[s->from + pc[p].off + r];
      if (pc[p].head && r == pc[p].len - 1) {
        head_rows[n_head] = at;
        head_item[n_head++] = pc[p].item;
      }
    }
  }
  MIMIC_ASSERT(at_gemm == t4 && at_gemv == T && T <= c->n_batch && n_head <= c->n_slots);
  /* The head runs on ascending rows (forward_rows aligns the adapters in place). */
  for (int a = 1; a < n_head; a++)
    for (int b = a; b > 0 && head_rows[b - 1] > head_rows[b]; b--) {
      int x = head_rows[b];
      head_rows[b] = head_rows[b - 1];
      head_rows[b - 1] = x;
      x = head_item[b];
      head_item[b] = head_item[b - 1];
      head_item[b - 1] = x;
    }
  c->mm_t4 = t4;
  c->head_rows = head_rows;
  c->n_head_rows = n_head;
  forward_rows(c, T, tok, NULL, n_head ? c->logits_tmp : NULL, 0);
  c->mm_t4 = -1;
  c->head_rows = NULL;
  c->n_head_rows = 0;
  for (int h = 0; h < n_head; h++)
    memcpy(items[head_item[h]].logits, c->logits_tmp + (size_t)h * V, (size_t)V * sizeof(float));
  for (int p = p0; p < p1; p++) {
    const llm_mixed_item *it = &items[pc[p].item];
    const mixed_span *s = &sp[pc[p].item];
    llm_slot *sl = &c->slots[it->slot];
    memcpy(sl->tokens + s->pos0 + pc[p].off, it->tokens + s->from + pc[p].off,
           (size_t)pc[p].len * sizeof *it->tokens);
    sl->n_past = s->pos0 + pc[p].off + pc[p].len;
    items[pc[p].item].n_evaluated += pc[p].len;
  }
}

int llm_forward_mixed(llm_ctx *c, llm_mixed_item *items, int n_items, int *failed) {
  int rc;
  if (failed) *failed = -1;
  if (n_items < 0 || n_items > c->n_slots)
    return err_set(MIMIC_EINVAL, "step of %d items, but the context has %d slots", n_items,
                   c->n_slots);
  int i_bad = 0;
  for (; i_bad < n_items; i_bad++) {
    items[i_bad].n_evaluated = 0;
    if ((rc = mixed_check(c, items, i_bad))) goto bad;
  }
  for (i_bad = 0; i_bad < n_items; i_bad++) {
    const llm_mixed_item *it = &items[i_bad];
    if (it->append && (rc = slot_shift(c, it->slot, it->n, it->lora, it->lora_scale))) goto bad;
  }
  /* Where each item starts, as llm_slot_prepare / llm_slot_decode would; then its pieces. */
  mixed_span *sp = xalloc((size_t)n_items * sizeof *sp);
  int n_pieces = 0;
  for (int i = 0; i < n_items; i++) {
    llm_mixed_item *it = &items[i];
    llm_slot *sl = &c->slots[it->slot];
    if (it->append) {
      sp[i] = (mixed_span){sl->n_past, 0, it->n};
    } else {
      int keep = slot_reusable(sl, it->tokens, it->n, it->lora, it->lora_scale);
      if (keep == it->n && !it->logits) { /* all cached, no logits wanted: drop any tail */
        sl->n_past = it->n;
        sl->last_used = ++c->tick;
        sp[i] = (mixed_span){it->n, it->n, 0};
        continue;
      }
      if (keep == it->n) keep--; /* re-evaluate the last token for its logits */
      sp[i] = (mixed_span){keep, keep, it->n - keep};
    }
    slot_note_lora(sl, sp[i].pos0, it->lora, it->lora_scale);
    sl->n_past = sp[i].pos0;
    sl->last_used = ++c->tick;
    n_pieces += (sp[i].n + c->n_batch - 1) / c->n_batch;
  }
  mixed_piece *pc = xalloc(((size_t)n_pieces + 1) * sizeof *pc);
  int np = 0;
  for (int i = 0; i < n_items; i++)
    for (int off = 0; off < sp[i].n; off += c->n_batch) {
      int len = sp[i].n - off < c->n_batch ? sp[i].n - off : c->n_batch;
      pc[np++] = (mixed_piece){i, off, len, off + len == sp[i].n && items[i].logits};
    }
  /* Pieces in item order, as many per call as fit n_batch rows; an item's pieces stay in order, so
   * each row finds the positions before it in its slot's cache. */
  int32_t *tok = xalloc((size_t)c->n_batch * sizeof *tok);
  int *head_rows = xalloc((size_t)c->n_slots * 2 * sizeof *head_rows),
      *head_item = head_rows + c->n_slots;
  for (int p0 = 0, p1; p0 < np; p0 = p1) {
    int rows = pc[p0].len;
    for (p1 = p0 + 1; p1 < np && rows + pc[p1].len <= c->n_batch; p1++) rows += pc[p1].len;
    mixed_run(c, items, sp, pc, p0, p1, tok, head_rows, head_item);
  }
  mem_free(head_rows);
  mem_free(tok);
  mem_free(pc);
  mem_free(sp);
  return 0;
bad:
  if (failed) *failed = i_bad;
  return rc;
}
