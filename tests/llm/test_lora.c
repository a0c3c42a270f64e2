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
#include "test.h"

static char tmpdir[] = "/tmp/mimic-test-lora-XXXXXX";

/* Copies src's metadata and tensors to dst, except `drop`; `transpose` gets its two dims swapped
 * (same bytes, so only the shape check can catch it). */
static int write_variant(const char *src_path, const char *dst, const char *drop, const char *transpose) {
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
      if (c && ok) CHECK_INT(llm_forward(c, 0, &t, 1, 0, ok, 1, NULL, LLM_LOGITS_NONE), MIMIC_EINVAL);
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

int main(void) {
  RUN(adapter_metadata);
  RUN(adapter_refusals);
  TEST_MAIN_END();
}
