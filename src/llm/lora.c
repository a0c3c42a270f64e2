/* LoRA adapter files: opened read-only beside a base model and checked tensor by tensor against it
 * (gguf-engine-facts 3). The forward pass (model.c) applies them; nothing is copied here. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/str.h"
#include "llm/model_int.h"

static atomic_uint_fast64_t lora_next_id = 1;

float llm_lora_scale(float alpha, int rank, float user_scale) {
  return alpha != 0.0f && rank > 0 ? user_scale * alpha / (float)rank : user_scale;
}

const llm_lora_pair *llm__lora_pair(const llm_lora *l, int il, int w) {
  const llm_lora_pair *p;
  if (il < 0)
    p = &l->output;
  else if (il < l->base->hp.n_layer && w >= 0 && w < LLM_W_COUNT)
    p = &l->pairs[(size_t)il * LLM_W_COUNT + (size_t)w];
  else
    return NULL;
  return p->a.data ? p : NULL;
}

static bool str_is(gguf_str s, const char *lit) {
  return s.len == strlen(lit) && memcmp(s.ptr, lit, s.len) == 0;
}

/* Maps a base tensor name to the pair slot it adapts; NULL when mimic has no such matrix. */
static llm_lora_pair *pair_for(llm_lora *l, const char *base_name, const qmat **w) {
  const llm_model *m = l->base;
  if (strcmp(base_name, "output.weight") == 0) {
    if (m->hp.tied_embeddings) return NULL;
    *w = &m->output;
    return &l->output;
  }
  int il = -1, used = 0;
  char wname[32];
  if (sscanf(base_name, "blk.%d.%31[a-z_].weight%n", &il, wname, &used) != 2 ||
      base_name[used] != '\0')
    return NULL;
  if (il < 0 || il >= m->hp.n_layer) return NULL;
  for (int k = 0; k < LLM_W_COUNT; k++)
    if (strcmp(wname, llm__w_name(k)) == 0) {
      *w = &m->layers[il].w[k];
      return &l->pairs[(size_t)il * LLM_W_COUNT + (size_t)k];
    }
  return NULL;
}

static int as_qmat(const char *path, const gguf_tensor *t, qmat *q) {
  tensor_type_info ti = tensor_type_get((int)t->type);
  if (!ti.supported)
    return err_set(MIMIC_EUNSUPPORTED, "%s: tensor %s has type %s, which mimic cannot compute with",
                   path, t->name, ti.name ? ti.name : "unknown");
  if (t->n_dims > 2 || t->ne[2] != 1 || t->ne[3] != 1)
    return err_set(MIMIC_EFORMAT, "%s: tensor %s is not a matrix", path, t->name);
  q->type = t->type;
  q->cols = t->ne[0];
  q->rows = t->ne[1];
  q->data = t->data;
  q->row_bytes = tensor_row_bytes(t->type, t->ne[0]);
  return 0;
}

int llm_lora_load(const llm_model *base, const char *path, llm_lora **out) {
  *out = NULL;
  llm_lora *l = xcalloc(1, sizeof *l);
  l->base = base;
  l->pairs = xcalloc((size_t)base->hp.n_layer * LLM_W_COUNT, sizeof *l->pairs);
  int rc = gguf_open(path, &l->f);
  if (rc) {
    l->f = NULL;
    goto out;
  }
  gguf_str s;
  if (gguf_get_str(l->f, "general.type", &s) || !str_is(s, "adapter")) {
    rc = err_set(MIMIC_EFORMAT, "%s: not an adapter file (general.type is not \"adapter\")", path);
    goto out;
  }
  if (gguf_get_str(l->f, "adapter.type", &s) || !str_is(s, "lora")) {
    rc = err_set(MIMIC_EUNSUPPORTED, "%s: adapter.type is not \"lora\"", path);
    goto out;
  }
  if (gguf_get_str(l->f, "general.architecture", &s) || !str_is(s, base->hp.arch_name)) {
    rc =
        err_set(MIMIC_EINVAL, "%s: the adapter's architecture does not match the base model's (%s)",
                path, base->hp.arch_name);
    goto out;
  }
  float alpha = 0;
  rc = gguf_get_f32(l->f, "adapter.lora.alpha", &alpha);
  if (rc && rc != MIMIC_ENOTFOUND) {
    rc = err_set(MIMIC_EFORMAT, "%s: adapter.lora.alpha is not a float", path);
    goto out;
  }
  l->alpha = alpha;
  rc = 0;

  char base_name[GGUF_MAX_NAME], other[GGUF_MAX_NAME];
  for (int64_t i = 0; i < gguf_n_tensors(l->f); i++) {
    const gguf_tensor *ta = gguf_tensor_at(l->f, i);
    size_t len = strlen(ta->name);
    bool is_a = str_ends_with(ta->name, ".lora_a"), is_b = str_ends_with(ta->name, ".lora_b");
    if (!is_a && !is_b) {
      rc = err_set(MIMIC_EFORMAT, "%s: tensor %s is neither .lora_a nor .lora_b", path, ta->name);
      goto out;
    }
    if (!is_a) continue; /* each pair is handled from its A half; orphan Bs are caught below */
    memcpy(base_name, ta->name, len - 7);
    base_name[len - 7] = '\0';
    snprintf(other, sizeof other, "%s.lora_b", base_name);
    const gguf_tensor *tb = gguf_tensor_find(l->f, other);
    if (!tb) {
      rc = err_set(MIMIC_EFORMAT, "%s: %s has no matching %s", path, ta->name, other);
      goto out;
    }
    if (str_ends_with(base_name, "_norm.weight")) continue; /* llama.cpp ignores these too */
    if (strcmp(base_name, "token_embd.weight") == 0) {
      rc = err_set(MIMIC_EUNSUPPORTED, "%s: adapters on token_embd.weight are not supported", path);
      goto out;
    }
    const qmat *w = NULL;
    llm_lora_pair *p = pair_for(l, base_name, &w);
    if (!p) {
      rc = err_set(MIMIC_EINVAL, "%s: tensor %s adapts %s, which the base model does not have",
                   path, ta->name, base_name);
      goto out;
    }
    if (p->a.data) {
      rc = err_set(MIMIC_EFORMAT, "%s: %s is adapted twice", path, base_name);
      goto out;
    }
    qmat a, b;
    if ((rc = as_qmat(path, ta, &a)) || (rc = as_qmat(path, tb, &b))) goto out;
    /* ggml shapes: A {n_in, r}, B {r, n_out}; as matrices A is (r, n_in) and B is (n_out, r). */
    if (a.cols != w->cols || b.rows != w->rows || a.rows != b.cols) {
      rc = err_set(
          MIMIC_EFORMAT,
          "%s: %s: shapes A {%lld, %lld} and B {%lld, %lld} do not fit the base {%lld, %lld}"
          " (is lora_a transposed?)",
          path, base_name, (long long)a.cols, (long long)a.rows, (long long)b.cols,
          (long long)b.rows, (long long)w->cols, (long long)w->rows);
      goto out;
    }
    if (a.rows < 1 || a.rows > LLM_LORA_MAX_RANK) {
      rc = err_set(MIMIC_ERANGE, "%s: %s: rank %lld is outside [1, %d]", path, base_name,
                   (long long)a.rows, LLM_LORA_MAX_RANK);
      goto out;
    }
    p->a = a;
    p->b = b;
    p->rank = (int)a.rows;
    if (p->rank > l->max_rank) l->max_rank = p->rank;
    l->n_adapted++;
  }
  /* Every B needs its A. */
  for (int64_t i = 0; i < gguf_n_tensors(l->f); i++) {
    const gguf_tensor *tb = gguf_tensor_at(l->f, i);
    if (!str_ends_with(tb->name, ".lora_b")) continue;
    size_t len = strlen(tb->name);
    memcpy(base_name, tb->name, len - 7);
    base_name[len - 7] = '\0';
    snprintf(other, sizeof other, "%s.lora_a", base_name);
    if (!gguf_tensor_find(l->f, other)) {
      rc = err_set(MIMIC_EFORMAT, "%s: %s has no matching %s", path, tb->name, other);
      goto out;
    }
  }
  if (l->n_adapted == 0) {
    rc = err_set(MIMIC_EFORMAT, "%s: the adapter holds no LoRA tensors", path);
    goto out;
  }
  l->id = atomic_fetch_add(&lora_next_id, 1);
  LOG_D("model", "%s: LoRA adapter, %d matrices, rank %d, alpha %g", path, l->n_adapted,
        l->max_rank, (double)l->alpha);
  *out = l;
  l = NULL;
out:
  llm_lora_destroy(l);
  return rc;
}

void llm_lora_destroy(llm_lora *l) {
  if (!l) return;
  gguf_close(l->f);
  mem_free(l->pairs);
  mem_free(l);
}

float llm_lora_alpha(const llm_lora *l) { return l->alpha; }
int llm_lora_rank(const llm_lora *l) { return l->max_rank; }
int llm_lora_n_adapted(const llm_lora *l) { return l->n_adapted; }
const llm_model *llm_lora_base(const llm_lora *l) { return l->base; }
