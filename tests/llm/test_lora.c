/* LoRA adapters: the tiny qwen2 adapter's metadata; adapters that do not fit their base (another
 * architecture, a base model file, a missing half, a transposed A, a rank over the cap) are refused
 * with the file and tensor named. The logits with an adapter are checked against llama.cpp in
 * test_model.c (ref-*-lora-*); scale semantics and per-call adapters in test_slots.c. */
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "model_ref.h"
#include "test.h"

static char tmpdir[] = "/tmp/mimic-test-lora-XXXXXX";

/* Copies src's metadata and tensors to dst, except `drop`; `transpose` gets its two dims swapped
 * (same bytes, so only the shape check can catch it). */
static int write_variant(const char *src_path, const char *dst, const char *drop,
                         const char *transpose) {
  gguf_file *src = NULL;
  int rc = gguf_open(src_path, &src);
  if (rc) return rc;
  gguf_writer *w = gguf_writer_new();
  gguf_copy_kv(w, src, NULL);
  for (int64_t i = 0; i < gguf_n_tensors(src) && rc == 0; i++) {
    const gguf_tensor *t = gguf_tensor_at(src, i);
    if (drop && strcmp(t->name, drop) == 0) continue;
    int64_t ne[4] = {t->ne[0], t->ne[1], t->ne[2], t->ne[3]};
    if (transpose && strcmp(t->name, transpose) == 0) {
      ne[0] = t->ne[1];
      ne[1] = t->ne[0];
    }
    rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, ne, t->data);
  }
  if (rc == 0) rc = gguf_writer_save(w, dst);
  gguf_writer_destroy(w);
  gguf_close(src);
  return rc;
}

TEST(adapter_metadata) {
  char base[512], ad[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", base, sizeof base) ||
      !test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", ad, sizeof ad))
    SKIP("../shared absent");
  llm_model *m = NULL;
  llm_lora *l = NULL;
  CHECK_OK(llm_model_load(base, &m));
  REQUIRE(m);
  CHECK_OK(llm_lora_load(m, ad, &l));
  if (l) {
    CHECK_NEAR(llm_lora_alpha(l), 16, 0);
    CHECK_INT(llm_lora_rank(l), 8);
    CHECK_INT(llm_lora_n_adapted(l), 2 * 7); /* q, k, v, o, gate, up, down of both layers */
    CHECK(llm_lora_base(l) == m);
  }
  CHECK_NEAR(llm_lora_scale(16, 8, 1.0f), 2.0, 1e-7);
  CHECK_NEAR(llm_lora_scale(16, 8, 0.5f), 1.0, 1e-7);
  CHECK_NEAR(llm_lora_scale(0, 8, 0.5f), 0.5, 1e-7);
  llm_lora_destroy(l);
  llm_model_destroy(m);
}

TEST(adapter_refusals) {
  char base[512], ad[512], llama[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", base, sizeof base) ||
      !test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", ad, sizeof ad))
    SKIP("../shared absent");
  llm_model *m = NULL;
  llm_lora *l = (llm_lora *)1;
  CHECK_OK(llm_model_load(base, &m));
  REQUIRE(m);
  REQUIRE(mkdtemp(tmpdir));
  char dst[600];
  snprintf(dst, sizeof dst, "%s/variant.gguf", tmpdir);

  /* A base model is not an adapter. */
  CHECK_INT(llm_lora_load(m, base, &l), MIMIC_EFORMAT);
  CHECK(l == NULL);
  CHECK(strstr(err_msg(), "not an adapter") != NULL);

  /* One half missing. */
  CHECK_OK(write_variant(ad, dst, "blk.1.ffn_up.weight.lora_b", NULL));
  CHECK_INT(llm_lora_load(m, dst, &l), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "blk.1.ffn_up.weight.lora_b") != NULL);
  CHECK_OK(write_variant(ad, dst, "blk.0.attn_k.weight.lora_a", NULL));
  CHECK_INT(llm_lora_load(m, dst, &l), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "blk.0.attn_k.weight.lora_a") != NULL);

  /* A transposed A. */
  CHECK_OK(write_variant(ad, dst, NULL, "blk.0.attn_q.weight.lora_a"));
  CHECK_INT(llm_lora_load(m, dst, &l), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "blk.0.attn_q.weight") != NULL);

  /* Another architecture's base. */
  if (test_shared_path("testdata/llm/tiny-llama-q8_0.gguf", llama, sizeof llama)) {
    llm_model *lm = NULL;
    CHECK_OK(llm_model_load(llama, &lm));
    if (lm) {
      CHECK_INT(llm_lora_load(lm, ad, &l), MIMIC_EINVAL);
      CHECK(strstr(err_msg(), "architecture") != NULL);
      /* An adapter loaded for one model cannot be used with another model's context. */
      llm_lora *ok = NULL;
      CHECK_OK(llm_lora_load(m, ad, &ok));
      llm_ctx *c = NULL;
      llm_ctx_params cp = {.n_ctx = 8};
      CHECK_OK(llm_ctx_new(lm, &cp, &c));
      int32_t t = 1;
      if (c && ok)
        CHECK_INT(llm_forward(c, 0, &t, 1, 0, ok, 1, NULL, LLM_LOGITS_NONE), MIMIC_EINVAL);
      llm_ctx_destroy(c);
      llm_lora_destroy(ok);
      llm_model_destroy(lm);
    }
  }
  CHECK_INT(llm_lora_load(m, "/nonexistent/adapter.gguf", &l), MIMIC_ENOTFOUND);
  remove(dst);
  rmdir(tmpdir);
  llm_model_destroy(m);
}

/* The adapter applied at run time equals the same update merged into the weights: on the untied
 * tiny llama (F32), an adapter on blk.0.attn_q, blk.1.ffn_down and the lm head (output.weight)
 * with alpha 6 and rank 4 at user scale 0.7 must give the logits of a copy of the model whose
 * weights are W + 0.7 * 6/4 * B A. */
static uint64_t rng_state = 88172645463325252ull;
static float rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((double)(rng_state >> 11) / 9007199254740992.0 - 0.5);
}

TEST(adapter_equals_merged_weights) {
  char base[512];
  if (!test_shared_path("testdata/llm/tiny-llama-f32.gguf", base, sizeof base))
    SKIP("../shared absent");
  char dir[] = "/tmp/mimic-test-lora-merge-XXXXXX";
  REQUIRE(mkdtemp(dir));
  char ad_path[600], merged_path[600];
  snprintf(ad_path, sizeof ad_path, "%s/adapter.gguf", dir);
  snprintf(merged_path, sizeof merged_path, "%s/merged.gguf", dir);
  const char *names[3] = {"blk.0.attn_q.weight", "blk.1.ffn_down.weight", "output.weight"};
  enum { R = 4 };
  const float alpha = 6.0f, user = 0.7f, s = user * alpha / R;
  gguf_file *src = NULL;
  CHECK_OK(gguf_open(base, &src));
  REQUIRE(src);
  gguf_writer *wa = gguf_writer_new(), *wm = gguf_writer_new();
  gguf_set_str(wa, "general.type", "adapter");
  gguf_set_str(wa, "general.architecture", "llama");
  gguf_set_str(wa, "adapter.type", "lora");
  gguf_set_f32(wa, "adapter.lora.alpha", alpha);
  gguf_copy_kv(wm, src, NULL);
  int rc = 0;
  for (int64_t i = 0; i < gguf_n_tensors(src) && rc == 0; i++) {
    const gguf_tensor *t = gguf_tensor_at(src, i);
    int which = -1;
    for (int k = 0; k < 3; k++)
      if (strcmp(t->name, names[k]) == 0) which = k;
    if (which < 0) {
      rc = gguf_add_tensor(wm, t->name, t->type, t->n_dims, t->ne, t->data);
      continue;
    }
    REQUIRE(t->type == TT_F32);
    int64_t n_in = t->ne[0], n_out = t->ne[1];
    float *A = xalloc((size_t)(R * n_in) * sizeof *A), *B = xalloc((size_t)(n_out * R) * sizeof *B);
    float *Wm = xalloc((size_t)(n_in * n_out) * sizeof *Wm);
    for (int64_t k = 0; k < R * n_in; k++) A[k] = rnd() * 0.2f;
    for (int64_t k = 0; k < n_out * R; k++) B[k] = rnd() * 0.2f;
    const float *W = t->data;
    for (int64_t o = 0; o < n_out; o++)
      for (int64_t c = 0; c < n_in; c++) {
        double d = 0;
        for (int r = 0; r < R; r++) d += (double)B[o * R + r] * A[r * n_in + c];
        Wm[o * n_in + c] = W[o * n_in + c] + (float)(s * d);
      }
    char nm[GGUF_MAX_NAME + 8];
    int64_t ne_a[2] = {n_in, R}, ne_b[2] = {R, n_out};
    snprintf(nm, sizeof nm, "%s.lora_a", t->name);
    rc = gguf_add_tensor(wa, nm, TT_F32, 2, ne_a, A);
    snprintf(nm, sizeof nm, "%s.lora_b", t->name);
    if (!rc) rc = gguf_add_tensor(wa, nm, TT_F32, 2, ne_b, B);
    if (!rc) rc = gguf_add_tensor(wm, t->name, TT_F32, 2, t->ne, Wm);
    mem_free(A);
    mem_free(B);
    mem_free(Wm);
  }
  CHECK_OK(rc);
  CHECK_OK(gguf_writer_save(wa, ad_path));
  CHECK_OK(gguf_writer_save(wm, merged_path));
  gguf_writer_destroy(wa);
  gguf_writer_destroy(wm);
  gguf_close(src);

  llm_model *m = NULL, *mm = NULL;
  llm_lora *l = NULL;
  llm_ctx *c = NULL, *cm = NULL;
  CHECK_OK(llm_model_load(base, &m));
  CHECK_OK(llm_model_load(merged_path, &mm));
  if (m) CHECK_OK(llm_lora_load(m, ad_path, &l));
  if (m && mm && l) {
    CHECK_INT(llm_lora_n_adapted(l), 3);
    CHECK_INT(llm_lora_rank(l), R);
    llm_ctx_params cp = {.n_ctx = 32, .n_slots = 2, .n_batch = 16};
    CHECK_OK(llm_ctx_new(m, &cp, &c));
    CHECK_OK(llm_ctx_new(mm, &cp, &cm));
    int V = llm_model_hparams(m)->n_vocab, n = 9;
    int32_t toks[9] = {1, 15043, 3186, 29892, 920, 29915, 29879, 372, 2675};
    for (int i = 0; i < n; i++) toks[i] %= V;
    float *a = xalloc((size_t)n * V * sizeof *a), *b = xalloc((size_t)n * V * sizeof *b);
    float *base_lg = xalloc((size_t)n * V * sizeof *base_lg);
    if (c && cm) {
      CHECK_OK(llm_forward(c, 0, toks, n, 0, l, user, a, LLM_LOGITS_ALL));
      CHECK_OK(llm_forward(cm, 0, toks, n, 0, NULL, 1, b, LLM_LOGITS_ALL));
      CHECK_OK(llm_forward(c, 1, toks, n, 0, NULL, 1, base_lg, LLM_LOGITS_ALL));
      double e = ref_rel_err(a, b, (size_t)n * V), moved = ref_rel_err(base_lg, b, (size_t)n * V);
      printf(
          "     adapter vs merged weights: rel err %.3g (the adapter moves the logits by %.3g)\n",
          e, moved);
      CHECK(e <= 1e-5);
      CHECK(moved >= 1e-3); /* the adapter really does something */
    }
    mem_free(a);
    mem_free(b);
    mem_free(base_lg);
  }
  llm_ctx_destroy(c);
  llm_ctx_destroy(cm);
  llm_lora_destroy(l);
  llm_model_destroy(m);
  llm_model_destroy(mm);
  remove(ad_path);
  remove(merged_path);
  rmdir(dir);
}

int main(void) {
  RUN(adapter_metadata);
  RUN(adapter_refusals);
  RUN(adapter_equals_merged_weights);
  TEST_MAIN_END();
}
