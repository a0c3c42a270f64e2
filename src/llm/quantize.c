/* Whole-file GGUF tools (see quantize.h): per-tensor type choice for the quantization presets,
 * file quantization, and random models of real shape. Rows are converted in parallel on the
 * compute pool; each output tensor is built in memory once and handed to the writer. */
#include "llm/quantize.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/rng.h"
#include "base/str.h"
#include "llm/compute_pool.h"
#include "llm/model.h"

static const struct {
  const char *name;
  quant_preset p;
  uint32_t file_type;
} presets[] = {
    {"f32", QP_F32, 0},        {"f16", QP_F16, 1},    {"bf16", QP_BF16, 32},
    {"q8_0", QP_Q8_0, 7},      {"q4_0", QP_Q4_0, 2},  {"q4_k_m", QP_Q4_K_M, 15},
    {"q5_k_m", QP_Q5_K_M, 17}, {"q6_k", QP_Q6_K, 18},
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

int quant_preset_parse(const char *s, quant_preset *out) {
  for (size_t i = 0; i < N_PRESETS; i++)
    if (s && str_ieq(s, presets[i].name)) {
      *out = presets[i].p;
      return 0;
    }
  return err_set(
      MIMIC_EINVAL,
      "unknown quantization type '%s' (one of f32, f16, bf16, q8_0, q4_0, q4_k_m, q5_k_m, q6_k)",
      s ? s : "");
}

const char *quant_preset_name(quant_preset p) {
  for (size_t i = 0; i < N_PRESETS; i++)
    if (presets[i].p == p) return presets[i].name;
  return "?";
}

uint32_t quant_preset_file_type(quant_preset p) {
  for (size_t i = 0; i < N_PRESETS; i++)
    if (presets[i].p == p) return presets[i].file_type;
  return 0;
}

/* llama.cpp's choice of the layers that get more bits: the first and last eighth, and every third
 * layer in between. */
static bool use_more_bits(int i, int n) {
  return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

static int layer_of(const char *name) {
  if (!str_starts_with(name, "blk.")) return -1;
  int64_t v = 0;
  const char *p = name + 4;
  if (*p < '0' || *p > '9') return -1;
  while (*p >= '0' && *p <= '9' && v < 1000000) v = v * 10 + (*p++ - '0');
  return *p == '.' ? (int)v : -1;
}

static bool name_has(const char *name, const char *part) { return strstr(name, part) != NULL; }

tensor_type quant_preset_pick(quant_preset p, const char *name, int n_dims, const int64_t *ne,
                              int n_layer, bool has_output) {
  if (n_dims < 2 || !str_ends_with(name, "weight") || str_ends_with(name, "_norm.weight") ||
      name_has(name, "position_embd") || name_has(name, "token_types"))
    return TT_F32;
  if (p == QP_F32) return TT_F32;
  if (p == QP_F16) return TT_F16;
  if (p == QP_BF16) return TT_BF16;
  bool is_output =
      strcmp(name, "output.weight") == 0 || (!has_output && strcmp(name, "token_embd.weight") == 0);
  int layer = layer_of(name);
  tensor_type t;
  switch (p) {
  case QP_Q8_0: t = TT_Q8_0; break;
  case QP_Q4_0: t = is_output ? TT_Q6_K : TT_Q4_0; break;
  case QP_Q6_K: t = TT_Q6_K; break;
  case QP_Q4_K_M:
  case QP_Q5_K_M: {
    t = p == QP_Q4_K_M ? TT_Q4_K : TT_Q5_K;
    if (is_output)
      t = TT_Q6_K;
    else if (name_has(name, "attn_qkv.weight") && p == QP_Q4_K_M)
      t = TT_Q5_K;
    else if ((name_has(name, "attn_v.weight") || name_has(name, "ffn_down.weight")) && layer >= 0 &&
             use_more_bits(layer, n_layer))
      t = TT_Q6_K;
    break;
  }
  default: t = TT_F32;
  }
  if (ne[0] % 256) { /* K-quant rows need 256 */
    if (t == TT_Q4_K)
      t = TT_Q5_0;
    else if (t == TT_Q5_K)
      t = TT_Q5_1;
    else if (t == TT_Q6_K)
      t = TT_Q8_0;
  }
  if (ne[0] % 32) t = TT_F32;
  return t;
}

/* ---- Parallel row conversion ---------------------------------------------------------------- */

typedef struct conv_job {
  const gguf_tensor *src; /* NULL: random rows */
  tensor_type dst_type;
  int64_t n, rows;
  uint8_t *dst;
  size_t src_row, dst_row;
  uint64_t seed;
  float scale, fill; /* random: uniform in [-scale, scale] * sqrt(3), or constant fill if scale 0 */
  int failed;
} conv_job;

static void conv_rows(int ith, int nth, void *arg) {
  conv_job *j = arg;
  float *tmp = xalloc((size_t)j->n * sizeof *tmp);
  for (int64_t r = ith; r < j->rows; r += nth) {
    if (j->src) {
      quant_dequant_row(j->src->type, (const uint8_t *)j->src->data + (size_t)r * j->src_row, tmp,
                        j->n);
    } else {
      uint64_t s = j->seed ^ ((uint64_t)r * 0xD1B54A32D192ED03ull);
      for (int64_t i = 0; i < j->n; i++)
        tmp[i] =
            j->scale == 0
                ? j->fill
                : j->scale * 1.7320508f *
                      (float)((double)(prng_splitmix64(&s) >> 11) * (2.0 / 9007199254740992.0) -
                              1.0);
    }
    if (quant_row(j->dst_type, tmp, j->dst + (size_t)r * j->dst_row, j->n) != 0) j->failed = 1;
  }
  mem_free(tmp);
}

/* Converts (or generates) a tensor into a new buffer of dst_type and hands it to w. */
static int convert_tensor(gguf_writer *w, compute_pool *pool, const char *name, int n_dims,
                          const int64_t *ne, tensor_type dst_type, conv_job *j) {
  int64_t rows = 1;
  for (int d = 1; d < n_dims; d++) rows *= ne[d];
  j->dst_type = dst_type;
  j->n = ne[0];
  j->rows = rows;
  j->dst_row = tensor_row_bytes(dst_type, ne[0]);
  j->src_row = j->src ? tensor_row_bytes(j->src->type, ne[0]) : 0;
  j->failed = 0;
  size_t total = j->dst_row * (size_t)rows;
  j->dst = mem_alloc(total ? total : 1);
  if (!j->dst)
    return err_set(MIMIC_ENOMEM, "tensor '%s': out of memory for %zu bytes", name, total);
  compute_pool_run(pool, conv_rows, j);
  if (j->failed) {
    mem_free(j->dst);
    return err_prefix(MIMIC_EINVAL, "tensor '%s'", name);
  }
  return gguf_add_tensor_take(w, name, dst_type, n_dims, ne, j->dst);
}

int gguf_quantize(const char *in, const char *out, quant_preset p, compute_pool *pool) {
  gguf_file *f = NULL;
  gguf_writer *w = NULL;
  char *arch = NULL;
  int rc = gguf_open(in, &f);
  if (rc) return rc;
  w = gguf_writer_new();
  gguf_copy_kv(w, f, NULL);
  gguf_set_u32(w, "general.file_type", quant_preset_file_type(p));
  if (p != QP_F32 && p != QP_F16 && p != QP_BF16)
    gguf_set_u32(w, "general.quantization_version", 2);
  arch = gguf_get_str_dup(f, "general.architecture");
  uint32_t n_layer = 0;
  if (arch) {
    char key[128];
    snprintf(key, sizeof key, "%s.block_count", arch);
    if (gguf_get_u32(f, key, &n_layer)) n_layer = 0;
  }
  bool has_output = gguf_tensor_find(f, "output.weight") != NULL;
  for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
    const gguf_tensor *t = gguf_tensor_at(f, i);
    tensor_type dt = quant_preset_pick(p, t->name, t->n_dims, t->ne, (int)n_layer, has_output);
    if (!tensor_type_get((int)t->type).supported) {
      rc = err_set(MIMIC_EUNSUPPORTED, "%s: tensor '%s' has type %s, which mimic cannot convert",
                   in, t->name, tensor_type_get((int)t->type).name);
      goto out;
    }
    if (dt == t->type) {
      if ((rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data))) goto out;
      continue;
    }
    if (t->type != TT_F32 && t->type != TT_F16 && t->type != TT_BF16)
      LOG_W("llm", "%s: tensor '%s' is already %s; requantizing to %s loses quality", in, t->name,
            tensor_type_get((int)t->type).name, tensor_type_get((int)dt).name);
    conv_job j = {0};
    j.src = t;
    if ((rc = convert_tensor(w, pool, t->name, t->n_dims, t->ne, dt, &j))) {
      err_prefix(rc, "%s", in);
      goto out;
    }
  }
  rc = gguf_writer_save(w, out);
out:
  mem_free(arch);
  gguf_writer_destroy(w);
  gguf_close(f);
  return rc;
}

/* ---- Random models -------------------------------------------------------------------------- */

static int add_random(gguf_writer *w, compute_pool *pool, const random_model_opts *o,
                      uint64_t *seed, const char *name, int64_t ne0, int64_t ne1, float scale,
                      float fill, int n_layer, bool has_output) {
  int64_t ne[2] = {ne0, ne1};
  int n_dims = ne1 > 0 ? 2 : 1;
  conv_job j = {0};
  j.seed = prng_splitmix64(seed);
  j.scale = scale;
  j.fill = fill;
  tensor_type t = quant_preset_pick(o->preset, name, n_dims, ne, n_layer, has_output);
  return convert_tensor(w, pool, name, n_dims, ne, t, &j);
}

/* Rewrites the token list (and token types and scores, when present) of tok padded to n tokens with
 * control tokens, so the file's vocabulary matches its embedding rows. */
static int pad_vocab(gguf_writer *w, const gguf_file *tok, uint64_t have, uint64_t n) {
  char **strs = xcalloc((size_t)n, sizeof *strs);
  int32_t *types = xalloc((size_t)n * sizeof *types);
  float *scores = xcalloc((size_t)n, sizeof *scores);
  gguf_vtype et;
  uint64_t cnt = 0;
  bool has_types = gguf_get_arr(tok, "tokenizer.ggml.token_type", &et, &cnt) == 0 && cnt == have &&
                   gguf_arr_i32(tok, "tokenizer.ggml.token_type", types, have) == 0;
  bool has_scores = gguf_get_arr(tok, "tokenizer.ggml.scores", &et, &cnt) == 0 && cnt == have &&
                    gguf_arr_f32(tok, "tokenizer.ggml.scores", scores, have) == 0;
  for (uint64_t i = 0; i < n; i++) {
    if (i < have) {
      gguf_str s = gguf_arr_str(tok, "tokenizer.ggml.tokens", i);
      strs[i] = xalloc(s.len + 1);
      memcpy(strs[i], s.ptr, s.len);
      strs[i][s.len] = '\0';
      if (!has_types) types[i] = 1; /* normal */
    } else {
      strs[i] = xalloc(32);
      snprintf(strs[i], 32, "<|mimic_pad_%llu|>", (unsigned long long)(i - have));
      types[i] = 3; /* control */
      scores[i] = 0;
    }
  }
  gguf_set_arr_str(w, "tokenizer.ggml.tokens", (const char *const *)strs, n);
  gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, n);
  if (has_scores) gguf_set_arr_f32(w, "tokenizer.ggml.scores", scores, n);
  for (uint64_t i = 0; i < n; i++) mem_free(strs[i]);
  mem_free(strs);
  mem_free(types);
  mem_free(scores);
  return 0;
}

int gguf_make_random(const random_model_opts *o, const char *out, compute_pool *pool) {
  bool qwen = strcmp(o->arch, "qwen2") == 0;
  if (!qwen && strcmp(o->arch, "llama") != 0)
    return err_set(MIMIC_EINVAL, "unknown architecture '%s' (qwen2 or llama)", o->arch);
  if (o->width <= 0 || o->layers <= 0 || o->heads <= 0 || o->kv_heads <= 0 || o->ff <= 0 ||
      o->ctx <= 0 || o->width % o->heads || o->heads % o->kv_heads || (o->width / o->heads) % 2)
    return err_set(
        MIMIC_EINVAL,
        "bad shape: width %d, heads %d, kv heads %d (width must divide into heads of even "
        "size, heads into kv heads), layers %d, ff %d",
        o->width, o->heads, o->kv_heads, o->layers, o->ff);
  if (o->width % 32 || o->ff % 32)
    return err_set(MIMIC_EINVAL, "width and ff must be multiples of 32");
  gguf_file *tok = NULL;
  int rc = gguf_open(o->tokenizer_path, &tok);
  if (rc) return rc;
  uint64_t n_vocab = 0;
  gguf_vtype et;
  gguf_writer *w = NULL;
  if ((rc = gguf_get_arr(tok, "tokenizer.ggml.tokens", &et, &n_vocab)) || et != GGUF_STRING ||
      !n_vocab) {
    rc = err_set(MIMIC_EFORMAT, "%s: no tokenizer.ggml.tokens string array to copy",
                 o->tokenizer_path);
    goto out;
  }
  w = gguf_writer_new();
  const char *a = o->arch;
  char key[128];
  int head_dim = o->width / o->heads, kv_dim = head_dim * o->kv_heads;
  gguf_set_str(w, "general.architecture", a);
  gguf_set_str(w, "general.name", "mimic random model");
  gguf_set_u32(w, "general.file_type", quant_preset_file_type(o->preset));
  gguf_set_u32(w, "general.quantization_version", 2);
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, a), key)
  gguf_set_u32(w, KEY("context_length"), (uint32_t)o->ctx);
  gguf_set_u32(w, KEY("embedding_length"), (uint32_t)o->width);
  gguf_set_u32(w, KEY("block_count"), (uint32_t)o->layers);
  gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)o->ff);
  gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)o->heads);
  gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)o->kv_heads);
  gguf_set_u32(w, KEY("rope.dimension_count"), (uint32_t)head_dim);
  gguf_set_f32(w, KEY("rope.freq_base"), qwen ? 1000000.0f : 10000.0f);
  gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-6f);
#undef KEY
  /* Only the vocabulary comes from the tokenizer file: a full model given as the tokenizer source
   * must not bring its own architecture keys (embedding_length and the like). */
  gguf_copy_kv_if(w, tok, NULL, "tokenizer.");
  if (o->vocab > 0 && (uint64_t)o->vocab < n_vocab) {
    rc = err_set(MIMIC_EINVAL, "--vocab %d is smaller than the tokenizer's %llu tokens", o->vocab,
                 (unsigned long long)n_vocab);
    goto out;
  }
  if (o->vocab > 0 && (uint64_t)o->vocab > n_vocab) {
    if (o->vocab > LLM_MAX_VOCAB) {
      rc = err_set(MIMIC_EINVAL, "--vocab %d is over the cap of %d", o->vocab, LLM_MAX_VOCAB);
      goto out;
    }
    if ((rc = pad_vocab(w, tok, n_vocab, (uint64_t)o->vocab))) goto out;
    n_vocab = (uint64_t)o->vocab;
  }

  uint64_t seed = o->seed ? o->seed : 1;
  bool has_output = !qwen;
  int L = o->layers;
  int64_t W = o->width, V = (int64_t)n_vocab;
  if ((rc = add_random(w, pool, o, &seed, "token_embd.weight", W, V, 0.02f, 0, L, has_output)))
    goto out;
  if ((rc = add_random(w, pool, o, &seed, "output_norm.weight", W, 0, 0, 1, L, has_output)))
    goto out;
  if (has_output &&
      (rc = add_random(w, pool, o, &seed, "output.weight", W, V, 0.02f, 0, L, has_output)))
    goto out;
  for (int l = 0; l < L && !rc; l++) {
    struct {
      const char *n;
      int64_t ne0, ne1;
      float scale, fill;
      bool qwen_only;
    } ts[] = {
        {"attn_norm.weight", W, 0, 0, 1, false},
        {"attn_q.weight", W, W, 0.02f, 0, false},
        {"attn_q.bias", W, 0, 0.02f, 0, true},
        {"attn_k.weight", W, kv_dim, 0.02f, 0, false},
        {"attn_k.bias", kv_dim, 0, 0.02f, 0, true},
        {"attn_v.weight", W, kv_dim, 0.02f, 0, false},
        {"attn_v.bias", kv_dim, 0, 0.02f, 0, true},
        {"attn_output.weight", W, W, 0.02f, 0, false},
        {"ffn_norm.weight", W, 0, 0, 1, false},
        {"ffn_gate.weight", W, o->ff, 0.02f, 0, false},
        {"ffn_up.weight", W, o->ff, 0.02f, 0, false},
        {"ffn_down.weight", o->ff, W, 0.02f, 0, false},
    };
    for (size_t i = 0; i < sizeof ts / sizeof ts[0] && !rc; i++) {
      if (ts[i].qwen_only && !qwen) continue;
      char name[96];
      snprintf(name, sizeof name, "blk.%d.%s", l, ts[i].n);
      rc = add_random(w, pool, o, &seed, name, ts[i].ne0, ts[i].ne1, ts[i].scale, ts[i].fill, L,
                      has_output);
    }
  }
  if (!rc) rc = gguf_writer_save(w, out);
out:
  gguf_writer_destroy(w);
  gguf_close(tok);
  return rc;
}
