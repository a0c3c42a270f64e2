/* Loading a BERT-family sentence encoder from GGUF (architecture `bert`, as llama.cpp's converter
 * writes bge-small/base/large and all-MiniLM): hyper-parameters, every weight resolved to a qmat
 * into the mapping with its shape checked, the vocabulary, the compute pool. Not here: the forward
 * pass (forward.c) or what callers do with the vectors. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/log.h"
#include "embed/embed_int.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#endif

static const char *mname(const embed_model *m) { return gguf_path(m->f); }

static int hp_int(const embed_model *m, const char *suffix, bool required, int lo, int hi,
                  int *out) {
  char key[128];
  snprintf(key, sizeof key, "bert.%s", suffix);
  int64_t v = 0;
  int rc = gguf_get_i64(m->f, key, &v);
  if (rc == MIMIC_ENOTFOUND && !required) return 0;
  if (rc == MIMIC_ENOTFOUND)
    return err_set(MIMIC_EFORMAT, "%s: metadata key %s is missing", mname(m), key);
  if (rc || v < lo || v > hi)
    return err_set(MIMIC_EFORMAT, "%s: metadata key %s must be a whole number in %d..%d", mname(m),
                   key, lo, hi);
  *out = (int)v;
  return 0;
}

static int mat_get(embed_model *m, const char *name, int64_t cols, int64_t rows, qmat *out) {
  memset(out, 0, sizeof *out);
  const gguf_tensor *t = gguf_tensor_find(m->f, name);
  if (!t) return err_set(MIMIC_EFORMAT, "%s: tensor %s is missing", mname(m), name);
  if (t->n_dims > 2 || t->ne[2] != 1 || t->ne[3] != 1 || t->ne[0] != cols ||
      (rows >= 0 && t->ne[1] != rows))
    return err_set(MIMIC_EFORMAT,
                   "%s: tensor %s has shape {%lld, %lld, %lld, %lld}, expected {%lld, %lld}",
                   mname(m), name, (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                   (long long)t->ne[3], (long long)cols, (long long)rows);
  tensor_type_info ti = tensor_type_get((int)t->type);
  if (!ti.supported)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot compute with",
                   mname(m), name, ti.name ? ti.name : "unknown");
  out->type = t->type;
  out->rows = t->ne[1];
  out->cols = t->ne[0];
  out->data = t->data;
  out->row_bytes = tensor_row_bytes(t->type, t->ne[0]);
  return 0;
}

/* A vector of n floats: F32 in place when aligned, other types converted once (norms, biases). */
static int vec_get(embed_model *m, const char *name, int64_t n, const float **out) {
  *out = NULL;
  const gguf_tensor *t = gguf_tensor_find(m->f, name);
  if (!t) return err_set(MIMIC_EFORMAT, "%s: tensor %s is missing", mname(m), name);
  if (t->ne[0] != n || t->ne[1] != 1 || t->ne[2] != 1 || t->ne[3] != 1)
    return err_set(MIMIC_EFORMAT, "%s: tensor %s has shape {%lld, %lld}, expected {%lld}", mname(m),
                   name, (long long)t->ne[0], (long long)t->ne[1], (long long)n);
  if (t->type == TT_F32 && ((uintptr_t)t->data % sizeof(float)) == 0) {
    *out = t->data;
    return 0;
  }
  tensor_type_info ti = tensor_type_get((int)t->type);
  if (!ti.supported || (n % ti.block) != 0)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot compute with",
                   mname(m), name, ti.name ? ti.name : "unknown");
  float *v = xalloc((size_t)n * sizeof *v);
  quant_dequant_row(t->type, t->data, v, n);
  m->owned = xrealloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *m->owned);
  m->owned[m->n_owned++] = v;
  *out = v;
  return 0;
}

static int check_arch(embed_model *m) {
  gguf_str arch;
  if (gguf_get_str(m->f, "general.architecture", &arch))
    return err_set(MIMIC_EFORMAT, "%s: general.architecture is missing; not a model file?",
                   mname(m));
  if (arch.len == 4 && memcmp(arch.ptr, "bert", 4) == 0) return 0;
  int shown = arch.len > 64 ? 64 : (int)arch.len;
  return err_set(MIMIC_EUNSUPPORTED,
                 "%s: architecture '%.*s' is not a supported sentence encoder (mimic runs bert: "
                 "bge-small/base/large, all-MiniLM)",
                 mname(m), shown, arch.ptr);
}

static int load_hparams(embed_model *m) {
  int rc;
  if ((rc = hp_int(m, "embedding_length", true, 1, 16384, &m->n_embd)) ||
      (rc = hp_int(m, "block_count", true, 1, 256, &m->n_layer)) ||
      (rc = hp_int(m, "attention.head_count", true, 1, 1024, &m->n_head)) ||
      (rc = hp_int(m, "feed_forward_length", true, 1, 1 << 17, &m->n_ff)) ||
      (rc = hp_int(m, "context_length", true, 2, EMBED_MAX_CTX, &m->n_ctx)))
    return rc;
  int pooling = EMBED_POOL_MEAN; /* sentence-transformers' default when the file says nothing */
  if ((rc = hp_int(m, "pooling_type", false, 0, 4, &pooling))) return rc;
  if (pooling != EMBED_POOL_MEAN && pooling != EMBED_POOL_CLS)
    return err_set(MIMIC_EUNSUPPORTED,
                   "%s: bert.pooling_type %d is not supported (mimic pools by CLS (2) or mean (1))",
                   mname(m), pooling);
  m->pooling = (embed_pool)pooling;
  bool causal = false;
  if (gguf_get_bool(m->f, "bert.attention.causal", &causal) == 0 && causal)
    return err_set(MIMIC_EUNSUPPORTED, "%s: a causal bert is not a sentence encoder mimic runs",
                   mname(m));
  if (m->n_embd % m->n_head)
    return err_set(MIMIC_EFORMAT, "%s: embedding_length %d is not a multiple of head_count %d",
                   mname(m), m->n_embd, m->n_head);
  m->head_dim = m->n_embd / m->n_head;
  if (m->head_dim > EMBED_MAX_HEAD_DIM)
    return err_set(MIMIC_EUNSUPPORTED, "%s: attention heads of %d values (mimic takes up to %d)",
                   mname(m), m->head_dim, EMBED_MAX_HEAD_DIM);
  m->eps = 1e-12f;
  float eps = 0;
  rc = gguf_get_f32(m->f, "bert.attention.layer_norm_epsilon", &eps);
  if (rc == 0 && isfinite(eps) && eps >= 0)
    m->eps = eps;
  else if (rc != MIMIC_ENOTFOUND)
    return err_set(MIMIC_EFORMAT, "%s: bert.attention.layer_norm_epsilon is not a finite float",
                   mname(m));
  return 0;
}

static int load_weights(embed_model *m) {
  int rc, d = m->n_embd;
  if ((rc = mat_get(m, "token_embd.weight", d, -1, &m->tok_embd))) return rc;
  m->n_vocab = (int)m->tok_embd.rows;
  if (tok_n_vocab(m->tok) != m->n_vocab)
    return err_set(MIMIC_EFORMAT, "%s: the vocabulary has %d tokens but token_embd.weight %d rows",
                   mname(m), (int)tok_n_vocab(m->tok), m->n_vocab);
  if ((rc = mat_get(m, "position_embd.weight", d, m->n_ctx, &m->pos_embd))) return rc;
  const gguf_tensor *types = gguf_tensor_find(m->f, "token_types.weight");
  if (types) {
    qmat tt;
    if ((rc = mat_get(m, "token_types.weight", d, -1, &tt))) return rc;
    float *row = xalloc((size_t)d * sizeof *row);
    quant_dequant_row(tt.type, tt.data, row, d);
    m->owned = xrealloc(m->owned, (size_t)(m->n_owned + 1) * sizeof *m->owned);
    m->owned[m->n_owned++] = row;
    m->type_row0 = row;
  }
  if ((rc = vec_get(m, "token_embd_norm.weight", d, &m->embd_norm_w)) ||
      (rc = vec_get(m, "token_embd_norm.bias", d, &m->embd_norm_b)))
    return rc;
  m->layers = xcalloc((size_t)m->n_layer, sizeof *m->layers);
  for (int il = 0; il < m->n_layer; il++) {
    embed_layer *L = &m->layers[il];
    char n[GGUF_MAX_NAME];
#define MAT(field, what, cols, rows)                                                               \
  (snprintf(n, sizeof n, "blk.%d.%s.weight", il, what), mat_get(m, n, cols, rows, &L->field))
#define VEC(field, what, suffix, len)                                                              \
  (snprintf(n, sizeof n, "blk.%d.%s.%s", il, what, suffix), vec_get(m, n, len, &L->field))
    if ((rc = MAT(q, "attn_q", d, d)) || (rc = MAT(k, "attn_k", d, d)) ||
        (rc = MAT(v, "attn_v", d, d)) || (rc = MAT(o, "attn_output", d, d)) ||
        (rc = MAT(up, "ffn_up", d, m->n_ff)) || (rc = MAT(down, "ffn_down", m->n_ff, d)) ||
        (rc = VEC(bq, "attn_q", "bias", d)) || (rc = VEC(bk, "attn_k", "bias", d)) ||
        (rc = VEC(bv, "attn_v", "bias", d)) || (rc = VEC(bo, "attn_output", "bias", d)) ||
        (rc = VEC(bup, "ffn_up", "bias", m->n_ff)) || (rc = VEC(bdown, "ffn_down", "bias", d)) ||
        (rc = VEC(attn_norm_w, "attn_output_norm", "weight", d)) ||
        (rc = VEC(attn_norm_b, "attn_output_norm", "bias", d)) ||
        (rc = VEC(out_norm_w, "layer_output_norm", "weight", d)) ||
        (rc = VEC(out_norm_b, "layer_output_norm", "bias", d)))
      return rc;
#undef MAT
#undef VEC
  }
  return 0;
}

static bool cpu_fast(void) {
  if (strcmp(qmat_kernels_name(), "scalar") == 0) return false;
#if defined(__x86_64__) && defined(__GNUC__)
  unsigned a, b, c, d; /* F16C: CPUID.1:ECX bit 29 (clang 14's builtin has no "f16c") */
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
#else
  return false;
#endif
}

embed_model *embed_open(const char *path, const embed_opts *opts) {
  embed_model *m = xcalloc(1, sizeof *m);
  int rc = gguf_open(path, &m->f);
  if (rc) goto fail;
  if ((rc = check_arch(m)) || (rc = load_hparams(m))) goto fail;
  if ((rc = tok_load(m->f, &m->tok))) {
    err_prefix(rc, "%s", path);
    goto fail;
  }
  if ((rc = load_weights(m))) goto fail;
  m->name = gguf_get_str_dup(m->f, "general.name");
  if (!m->name || !m->name[0]) {
    mem_free(m->name);
    const char *base = strrchr(path, '/');
    m->name = xstrdup(base ? base + 1 : path);
  }
  m->max_batch = opts && opts->max_batch > 0 ? opts->max_batch : EMBED_DEFAULT_BATCH;
  m->fast = cpu_fast();
  embed__gelu_table(m);
  m->pool = compute_pool_new(opts ? opts->threads : 0);
  log_write(LOG_DEBUG, "embed", "%s: %d wide, %d layers, %d heads, %s pooling, %d threads", m->name,
            m->n_embd, m->n_layer, m->n_head, m->pooling == EMBED_POOL_CLS ? "CLS" : "mean",
            compute_pool_threads(m->pool));
  return m;
fail:
  embed_close(m);
  return NULL;
}

void embed_close(embed_model *m) {
  if (!m) return;
  compute_pool_destroy(m->pool);
  for (int i = 0; i < m->n_owned; i++) mem_free(m->owned[i]);
  mem_free(m->owned);
  mem_free(m->layers);
  mem_free(m->gelu_table);
  mem_free(m->work);
  mem_free(m->name);
  tok_destroy(m->tok);
  gguf_close(m->f);
  mem_free(m);
}

int embed_dim(const embed_model *m) { return m ? m->n_embd : 0; }
int embed_max_tokens(const embed_model *m) { return m ? m->n_ctx : 0; }
const char *embed_name(const embed_model *m) { return m ? m->name : ""; }
