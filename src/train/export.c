/* Files out of training: the LoRA adapter in llama.cpp's adapter GGUF format (train.h),
 * a from-scratch model as a full GGUF model with its vocabulary, loading an adapter back into a
 * LoRA model (to continue from it: DPO starts from the SFT adapter), and `mimic merge` (base +
 * adapter -> one standalone model). Every file is written atomically by the GGUF writer. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "llm/gguf.h"
#include "train/train_int.h"

static void put_params(gguf_writer *w, const train_model *cm, int *rc) {
  train_model *m = (train_model *)cm; /* params are only read here */
  for (int i = 0; i < train_model_n_params(m) && !*rc; i++) {
    const train_param *p = train_model_param(m, i);
    *rc = gguf_add_tensor(w, p->name, TT_F32, p->n_dims, p->ne, p->w);
  }
}

int train_model_export(const train_model *m, const char *path) {
  const llm_hparams *hp = train_model_hparams(m);
  gguf_writer *w = gguf_writer_new();
  int rc = 0;
  if (train_model_is_lora(m)) {
    gguf_set_str(w, "general.type", "adapter");
    gguf_set_str(w, "general.architecture", hp->arch_name);
    gguf_set_str(w, "general.name", "mimic LoRA adapter");
    gguf_set_str(w, "adapter.type", "lora");
    gguf_set_f32(w, "adapter.lora.alpha", train__model_lora_alpha(m));
  } else {
    const gguf_file *vf = train__model_vocab_file(m);
    if (vf)
      gguf_copy_kv(w, vf, NULL);
    else
      train__vocab_write(w);
    char key[128];
    const char *a = hp->arch_name;
    gguf_set_str(w, "general.architecture", a);
    gguf_set_str(w, "general.name", "mimic from-scratch model");
    gguf_set_u32(w, "general.file_type", 0);
#define KEY(suffix) (snprintf(key, sizeof key, "%s." suffix, a), key)
    gguf_set_u32(w, KEY("context_length"), (uint32_t)train__model_n_ctx(m));
    gguf_set_u32(w, KEY("embedding_length"), (uint32_t)hp->n_embd);
    gguf_set_u32(w, KEY("block_count"), (uint32_t)hp->n_layer);
    gguf_set_u32(w, KEY("feed_forward_length"), (uint32_t)hp->n_ff);
    gguf_set_u32(w, KEY("attention.head_count"), (uint32_t)hp->n_head);
    gguf_set_u32(w, KEY("attention.head_count_kv"), (uint32_t)hp->n_head_kv);
    gguf_set_u32(w, KEY("rope.dimension_count"), (uint32_t)hp->n_rot);
    gguf_set_f32(w, KEY("rope.freq_base"), hp->rope_freq_base);
    gguf_set_f32(w, KEY("attention.layer_norm_rms_epsilon"), hp->rms_eps);
    gguf_set_u32(w, KEY("vocab_size"), (uint32_t)hp->n_vocab);
#undef KEY
  }
  put_params(w, m, &rc);
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  if (rc) return err_prefix(rc, "writing %s", path);
  return 0;
}

/* Copies tensor t (any type) into n floats at dst. */
static int tensor_to_f32(const gguf_file *f, const gguf_tensor *t, float *dst, size_t n) {
  tensor_type_info ti = tensor_type_get((int)t->type);
  if (!ti.supported)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot read",
                   gguf_path(f), t->name, ti.name ? ti.name : "unknown");
  size_t rows = n / (size_t)t->ne[0];
  for (size_t r = 0; r < rows; r++)
    quant_dequant_row(t->type, (const char *)t->data + r * tensor_row_bytes(t->type, t->ne[0]),
                      dst + r * (size_t)t->ne[0], t->ne[0]);
  return 0;
}

static int check_adapter(const gguf_file *f, const char *arch) {
  gguf_str s;
  if (gguf_get_str(f, "general.type", &s) || s.len != 7 || memcmp(s.ptr, "adapter", 7))
    return err_set(MIMIC_EFORMAT, "%s: not a LoRA adapter (general.type is not 'adapter')",
                   gguf_path(f));
  if (gguf_get_str(f, "adapter.type", &s) || s.len != 4 || memcmp(s.ptr, "lora", 4))
    return err_set(MIMIC_EFORMAT, "%s: adapter.type is not 'lora'", gguf_path(f));
  if (arch && (gguf_get_str(f, "general.architecture", &s) || s.len != strlen(arch) ||
               memcmp(s.ptr, arch, s.len)))
    return err_set(MIMIC_EINVAL, "%s: the adapter was made for another architecture than '%s'",
                   gguf_path(f), arch);
  return 0;
}

int train_model_load_adapter(train_model *m, const char *path) {
  if (!train_model_is_lora(m))
    return err_set(MIMIC_EINVAL, "%s: only a LoRA model can start from an adapter", path);
  gguf_file *f = NULL;
  int rc = gguf_open(path, &f);
  if (rc) return rc;
  if ((rc = check_adapter(f, train_model_hparams(m)->arch_name))) goto out;
  int n_lora = 0;
  for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
    const char *nm = gguf_tensor_at(f, i)->name;
    size_t l = strlen(nm);
    if (l > 7 && (strcmp(nm + l - 7, ".lora_a") == 0 || strcmp(nm + l - 7, ".lora_b") == 0))
      n_lora++;
  }
  if (n_lora != train_model_n_params(m)) {
    rc = err_set(MIMIC_EINVAL,
                 "%s: the adapter has %d LoRA tensors but this run trains %d (use the same "
                 "--targets as the run that made it)",
                 path, n_lora, train_model_n_params(m));
    goto out;
  }
  for (int i = 0; i < train_model_n_params(m); i++) {
    train_param *p = train_model_param(m, i);
    const gguf_tensor *t = gguf_tensor_find(f, p->name);
    if (!t) {
      rc = err_set(MIMIC_EINVAL,
                   "%s: tensor %s is missing (use the same --targets as the run that made it)",
                   path, p->name);
      goto out;
    }
    if (t->ne[0] != p->ne[0] || t->ne[1] != p->ne[1] || t->ne[2] != 1) {
      rc = err_set(
          MIMIC_EINVAL,
          "%s: tensor %s has shape {%lld, %lld}, this run needs {%lld, %lld} (same --rank?)", path,
          p->name, (long long)t->ne[0], (long long)t->ne[1], (long long)p->ne[0],
          (long long)p->ne[1]);
      goto out;
    }
    if ((rc = tensor_to_f32(f, t, p->w, p->n))) goto out;
  }
  float alpha = 0;
  if (gguf_get_f32(f, "adapter.lora.alpha", &alpha) == 0 && alpha > 0 &&
      alpha != train__model_lora_alpha(m)) {
    LOG_I("train", "%s: using the adapter's alpha %g", path, (double)alpha);
    train__model_set_lora_alpha(m, alpha);
  }
out:
  gguf_close(f);
  return rc;
}

/* ---- merge ----------------------------------------------------------------------------------- */

int train_merge(const char *base, const char *adapter, float scale, const char *out,
                compute_pool *pool) {
  gguf_file *fb = NULL, *fa = NULL;
  gguf_writer *w = NULL;
  float *A = NULL, *B = NULL, *rows = NULL;
  void *q = NULL;
  int rc = gguf_open(base, &fb);
  if (rc) return rc;
  if ((rc = gguf_open(adapter, &fa))) goto out;
  char *arch = gguf_get_str_dup(fb, "general.architecture");
  rc = check_adapter(fa, arch ? arch : "");
  mem_free(arch);
  if (rc) goto out;
  float alpha = 0;
  if (gguf_get_f32(fa, "adapter.lora.alpha", &alpha)) alpha = 0;
  w = gguf_writer_new();
  gguf_copy_kv(w, fb, NULL);
  int merged = 0;
  for (int64_t i = 0; i < gguf_n_tensors(fb); i++) {
    const gguf_tensor *t = gguf_tensor_at(fb, i);
    char na[GGUF_MAX_NAME + 8], nb[GGUF_MAX_NAME + 8];
    snprintf(na, sizeof na, "%s.lora_a", t->name);
    snprintf(nb, sizeof nb, "%s.lora_b", t->name);
    const gguf_tensor *ta = gguf_tensor_find(fa, na), *tb = gguf_tensor_find(fa, nb);
    if (!ta || !tb) {
      if ((rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data))) goto out;
      continue;
    }
    int64_t in = t->ne[0], nout = t->ne[1], r = ta->ne[1];
    if (t->n_dims != 2 || ta->ne[0] != in || tb->ne[1] != nout || tb->ne[0] != r || r < 1 ||
        r > TRAIN_MAX_RANK) {
      rc = err_set(MIMIC_EFORMAT, "%s: %s does not fit %s {%lld, %lld}", adapter, na, t->name,
                   (long long)in, (long long)nout);
      goto out;
    }
    A = xalloc((size_t)(r * in) * sizeof *A);
    B = xalloc((size_t)(nout * r) * sizeof *B);
    if ((rc = tensor_to_f32(fa, ta, A, (size_t)(r * in))) ||
        (rc = tensor_to_f32(fa, tb, B, (size_t)(nout * r))))
      goto out;
    float s = alpha > 0 ? scale * alpha / (float)r : scale;
    size_t rb = tensor_row_bytes(t->type, in);
    q = xalloc(rb * (size_t)nout);
    const int64_t CH = 64;
    rows = xalloc((size_t)(CH * in) * sizeof *rows);
    for (int64_t o0 = 0; o0 < nout; o0 += CH) {
      int64_t n = nout - o0 < CH ? nout - o0 : CH;
      for (int64_t k = 0; k < n; k++)
        quant_dequant_row(t->type, (const char *)t->data + (size_t)(o0 + k) * rb, rows + k * in,
                          in);
      train_mat Bm = {B + o0 * r, r, false, NULL}, Am = {A, in, false, NULL};
      train__gemm(pool, n, in, r, Bm, Am, s, rows, in, true);
      for (int64_t k = 0; k < n; k++)
        if ((rc = quant_row(t->type, rows + k * in, (char *)q + (size_t)(o0 + k) * rb, in)))
          goto out;
    }
    rc = gguf_add_tensor_take(w, t->name, t->type, t->n_dims, t->ne, q);
    q = NULL;
    if (rc) goto out;
    mem_free(A), mem_free(B), mem_free(rows);
    A = B = rows = NULL;
    merged++;
  }
  if (merged == 0) {
    rc = err_set(MIMIC_EINVAL, "%s adapts none of %s's tensors", adapter, base);
    goto out;
  }
  rc = gguf_writer_save(w, out);
  if (!rc) LOG_I("train", "merged %d tensors of %s into %s", merged, adapter, out);
out:
  mem_free(A);
  mem_free(B);
  mem_free(rows);
  mem_free(q);
  gguf_writer_destroy(w);
  gguf_close(fa);
  gguf_close(fb);
  return rc;
}
