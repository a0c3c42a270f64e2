/* KV cache slots and batched decoding on the tiny qwen2 model: a second turn evaluates only its new
 * tokens and gives the logits of a fresh full evaluation; a different adapter is never reused; LRU
 * eviction; the context shift equals a fresh evaluation of the shortened sequence; a batched step
 * over several slots (with different adapters) equals per-slot steps. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "model_ref.h"
#include "test.h"

static llm_model *model;
static llm_lora *lora;
static int32_t *chat; /* the reference chat prompt's ids */
static int n_chat;
static int V;

static bool setup(void) {
  char path[512];
  if (model) return true;
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", path, sizeof path)) return false;
  if (llm_model_load(path, &model)) return false;
  V = llm_model_hparams(model)->n_vocab;
  if (test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", path, sizeof path) &&
      llm_lora_load(model, path, &lora))
    return false;
  if (!test_shared_path("testdata/llm/ref-qwen2-f32-chat.tokens", path, sizeof path)) return false;
  n_chat = ref_read_tokens(path, &chat);
  return n_chat > 20;
}

static void teardown(void) {
  mem_free(chat);
  llm_lora_destroy(lora);
  llm_model_destroy(model);
}

static llm_ctx *new_ctx(int n_ctx, int n_slots, int n_batch) {
  llm_ctx *c = NULL;
  llm_ctx_params cp = {.n_ctx = n_ctx, .n_slots = n_slots, .n_batch = n_batch};
  CHECK_OK(llm_ctx_new(model, &cp, &c));
  return c;
}

/* Logits after a fresh evaluation of seq on slot (cleared first). */
static void fresh(llm_ctx *c, int slot, const int32_t *seq, int n, const llm_lora *l, float s,
                  float *out) {
  llm_slot_clear(c, slot);
  CHECK_OK(llm_forward(c, slot, seq, n, 0, l, s, out, LLM_LOGITS_LAST));
}

TEST(second_turn_reuses_prefix) {
  if (!setup()) SKIP("../shared absent");
  llm_ctx *c = new_ctx(128, 2, 32);
  REQUIRE(c);
  float *a = xalloc((size_t)V * sizeof *a), *b = xalloc((size_t)V * sizeof *b);
  int turn1 = 25, n_eval = -1;
  /* Turn 1: the whole prompt is new. */
  CHECK_OK(llm_slot_prepare(c, 0, chat, turn1, NULL, 1, a, &n_eval));
  CHECK_INT(n_eval, turn1);
  /* Generation appends three tokens. */
  int32_t gen[3] = {100, 200, 300};
  CHECK_OK(llm_slot_decode(c, 0, gen, 3, NULL, 1, a));
  /* Turn 2 = turn 1 + the generated tokens + more: only the new part is evaluated. */
  int32_t seq[64];
  memcpy(seq, chat, (size_t)turn1 * sizeof *seq);
  memcpy(seq + turn1, gen, sizeof gen);
  memcpy(seq + turn1 + 3, chat + turn1, (size_t)(n_chat - turn1) * sizeof *seq);
  int n = turn1 + 3 + (n_chat - turn1);
  uint64_t before = llm_ctx_tokens_evaluated(c);
  CHECK_OK(llm_slot_prepare(c, 0, seq, n, NULL, 1, a, &n_eval));
  CHECK_INT(n_eval, n_chat - turn1);
  CHECK_INT(llm_ctx_tokens_evaluated(c) - before, n_chat - turn1);
  fresh(c, 1, seq, n, NULL, 1, b);
  double e = ref_rel_err(a, b, (size_t)V);
  printf("     second turn vs fresh evaluation: rel err %.3g\n", e);
  CHECK(e <= 1e-5);
  /* The same prompt again: only the last token is re-evaluated (for its logits). */
  CHECK_OK(llm_slot_prepare(c, 0, seq, n, NULL, 1, b, &n_eval));
  CHECK_INT(n_eval, 1);
  CHECK(ref_rel_err(a, b, (size_t)V) <= 1e-5);
  /* Without logits, a cached prefix evaluates nothing and a shorter one just cuts the slot. */
  CHECK_OK(llm_slot_prepare(c, 0, seq, n, NULL, 1, NULL, &n_eval));
  CHECK_INT(n_eval, 0);
  CHECK_OK(llm_slot_prepare(c, 0, seq, n - 4, NULL, 1, NULL, &n_eval));
  CHECK_INT(n_eval, 0);
  CHECK_INT(llm_slot_n_past(c, 0), n - 4);
  CHECK_OK(llm_slot_prepare(c, 0, seq, n, NULL, 1, a, &n_eval));
  CHECK_INT(n_eval, 4);
  CHECK(ref_rel_err(a, b, (size_t)V) <= 1e-5);
  /* A prompt that diverges early keeps only the common prefix. */
  seq[5] = seq[5] == 7 ? 8 : 7;
  CHECK_OK(llm_slot_prepare(c, 0, seq, n, NULL, 1, a, &n_eval));
  CHECK_INT(n_eval, n - 5);
  fresh(c, 1, seq, n, NULL, 1, b);
  CHECK(ref_rel_err(a, b, (size_t)V) <= 1e-5);
  mem_free(a);
  mem_free(b);
  llm_ctx_destroy(c);
}

TEST(adapter_change_is_not_reused) {
  if (!setup()) SKIP("../shared absent");
  if (!lora) SKIP("adapter absent");
  llm_ctx *c = new_ctx(64, 2, 64);
  REQUIRE(c);
  float *a = xalloc((size_t)V * sizeof *a), *b = xalloc((size_t)V * sizeof *b);
  int n_eval;
  CHECK_OK(llm_slot_prepare(c, 0, chat, 20, NULL, 1, a, &n_eval));
  CHECK_OK(llm_slot_prepare(c, 0, chat, 20, lora, 1, a, &n_eval));
  CHECK_INT(n_eval, 20);
  CHECK_OK(llm_slot_prepare(c, 0, chat, 20, lora, 0.5f, a, &n_eval));
  CHECK_INT(n_eval, 20);
  CHECK_OK(llm_slot_prepare(c, 0, chat, 21, lora, 0.5f, a, &n_eval));
  CHECK_INT(n_eval, 1);
  fresh(c, 1, chat, 21, lora, 0.5f, b);
  CHECK(ref_rel_err(a, b, (size_t)V) <= 1e-5);
  /* Scale 0 is the base model. */
  fresh(c, 0, chat, 21, lora, 0.0f, a);
  fresh(c, 1, chat, 21, NULL, 1, b);
  CHECK(ref_rel_err(a, b, (size_t)V) <= 1e-6);
  mem_free(a);
  mem_free(b);
  llm_ctx_destroy(c);
}

TEST(lru_eviction) {
  if (!setup()) SKIP("../shared absent");
  llm_ctx *c = new_ctx(32, 2, 32);
  REQUIRE(c);
  int sa, sb, sc, s;
  bool reused;
  CHECK_OK(llm_slot_acquire(c, 1001, &sa, &reused));
  CHECK(!reused);
  CHECK_OK(llm_forward(c, sa, chat, 4, 0, NULL, 1, NULL, LLM_LOGITS_NONE));
  CHECK_OK(llm_slot_acquire(c, 1002, &sb, &reused));
  CHECK(!reused);
  CHECK(sa != sb);
  CHECK_OK(llm_slot_acquire(c, 1001, &s, &reused)); /* touch A: B is now the oldest */
  CHECK(reused);
  CHECK_INT(s, sa);
  CHECK_INT(llm_slot_n_past(c, sa), 4);
  CHECK_OK(llm_slot_acquire(c, 1003, &sc, &reused));
  CHECK(!reused);
  CHECK_INT(sc, sb);
  CHECK_INT(llm_slot_n_past(c, sc), 0);
  CHECK_OK(llm_slot_acquire(c, 1001, &s, &reused));
  CHECK(reused);
  CHECK_INT(llm_slot_n_past(c, s), 4);
  CHECK_OK(llm_slot_acquire(c, 1002, &s, &reused)); /* B was evicted */
  CHECK(!reused);
  llm_ctx_destroy(c);
}

TEST(context_shift) {
  if (!setup()) SKIP("../shared absent");
  int n_ctx = 16, keep = 4;
  llm_ctx *c = new_ctx(n_ctx, 2, 8);
  REQUIRE(c);
  float *a = xalloc((size_t)V * sizeof *a), *b = xalloc((size_t)V * sizeof *b);
  llm_slot_set_keep(c, 0, keep);
  int n_eval;
  CHECK_OK(llm_slot_prepare(c, 0, chat, 10, NULL, 1, a, &n_eval));
  for (int i = 10; i < n_chat && i < 30; i++) {
    CHECK_OK(llm_slot_decode(c, 0, &chat[i], 1, NULL, 1, a));
    int np = llm_slot_n_past(c, 0);
    CHECK(np <= n_ctx);
    const int32_t *held = llm_slot_tokens(c, 0);
    CHECK(memcmp(held, chat, (size_t)keep * sizeof *held) == 0); /* the kept prefix stays */
    CHECK_INT(held[np - 1], chat[i]);
    /* The held tail is a contiguous run of the input ending at token i. */
    CHECK(memcmp(held + keep, chat + i - (np - keep) + 1, (size_t)(np - keep) * sizeof *held) == 0);
    int32_t copy[32];
    memcpy(copy, held, (size_t)np * sizeof *copy);
    fresh(c, 1, copy, np, NULL, 1, b);
    double e = ref_rel_err(a, b, (size_t)V);
    if (!(e <= 1e-5))
      TEST_FAIL_("step %d: shifted slot differs from a fresh evaluation by %g", i, e);
  }
  mem_free(a);
  mem_free(b);
  llm_ctx_destroy(c);
}

TEST(batched_decode_matches_single) {
  if (!setup()) SKIP("../shared absent");
  enum { NS = 3 };
  llm_ctx *c = new_ctx(64, 2 * NS, 16);
  REQUIRE(c);
  const llm_lora *ad[NS] = {NULL, lora, lora};
  float sc[NS] = {1.0f, 1.0f, 0.5f};
  int len[NS] = {7, 12, 19};
  for (int i = 0; i < NS; i++) {
    CHECK_OK(llm_slot_prepare(c, i, chat, len[i], ad[i], sc[i], NULL, NULL));
    CHECK_OK(llm_slot_prepare(c, NS + i, chat, len[i], ad[i], sc[i], NULL, NULL));
  }
  float *bl = xalloc((size_t)NS * V * sizeof *bl), *one = xalloc((size_t)V * sizeof *one);
  for (int step = 0; step < 3; step++) {
    llm_batch_item items[NS];
    for (int i = 0; i < NS; i++)
      items[i] = (llm_batch_item){.slot = i,
                                  .token = chat[len[i] + step],
                                  .lora = ad[i],
                                  .lora_scale = sc[i],
                                  .logits = bl + (size_t)i * V};
    CHECK_OK(llm_forward_batch(c, items, NS));
    for (int i = 0; i < NS; i++) {
      CHECK_OK(llm_slot_decode(c, NS + i, &chat[len[i] + step], 1, ad[i], sc[i], one));
      double e = ref_rel_err(bl + (size_t)i * V, one, (size_t)V);
      if (!(e <= 1e-5))
        TEST_FAIL_("step %d item %d: batched differs from single by %g", step, i, e);
      CHECK_INT(llm_slot_n_past(c, i), len[i] + step + 1);
    }
  }
  llm_batch_item dup[2] = {{.slot = 0, .token = 1}, {.slot = 0, .token = 2}};
  CHECK_INT(llm_forward_batch(c, dup, 2), MIMIC_EINVAL);
  mem_free(bl);
  mem_free(one);
  llm_ctx_destroy(c);
}

/* An F16 cache takes half the memory and gives logits close to the F32 cache's (the rounding of
 * K and V to halves is the only difference); incremental decoding over it agrees with one batch. */
TEST(f16_kv_cache) {
  if (!setup()) SKIP("../shared absent");
  llm_ctx *c32 = new_ctx(128, 1, 64), *c16 = NULL;
  llm_ctx_params cp = {.n_ctx = 128, .n_slots = 1, .n_batch = 64, .kv_type = LLM_KV_F16};
  CHECK_OK(llm_ctx_new(model, &cp, &c16));
  REQUIRE(c32 && c16);
  CHECK_INT((int64_t)llm_ctx_kv_bytes(c16) * 2, (int64_t)llm_ctx_kv_bytes(c32));
  float *a = xalloc((size_t)n_chat * (size_t)V * sizeof *a),
        *b = xalloc((size_t)n_chat * (size_t)V * sizeof *b);
  float *inc = xalloc((size_t)V * sizeof *inc);
  CHECK_OK(llm_forward(c32, 0, chat, n_chat, 0, NULL, 1, a, LLM_LOGITS_ALL));
  CHECK_OK(llm_forward(c16, 0, chat, n_chat, 0, NULL, 1, b, LLM_LOGITS_ALL));
  double worst = 0;
  for (int t = 0; t < n_chat; t++) {
    double e = ref_rel_err(b + (size_t)t * V, a + (size_t)t * V, (size_t)V);
    if (e > worst) worst = e;
  }
  printf("     f16 KV vs f32 KV: worst rel err %.3g over %d positions\n", worst, n_chat);
  CHECK(worst < 1e-2);
  CHECK(worst > 0); /* the cache really holds halves */
  /* Token by token over the F16 cache gives the batch's last row. */
  llm_slot_clear(c16, 0);
  CHECK_OK(llm_forward(c16, 0, chat, n_chat - 3, 0, NULL, 1, inc, LLM_LOGITS_LAST));
  for (int i = n_chat - 3; i < n_chat; i++)
    CHECK_OK(llm_slot_decode(c16, 0, &chat[i], 1, NULL, 1, inc));
  CHECK(ref_rel_err(inc, b + (size_t)(n_chat - 1) * V, (size_t)V) < 1e-5);
  llm_ctx_params bad = {.n_ctx = 16, .kv_type = (llm_kv_type)7};
  llm_ctx *x = NULL;
  CHECK_INT(llm_ctx_new(model, &bad, &x), MIMIC_EINVAL);
  mem_free(a);
  mem_free(b);
  mem_free(inc);
  llm_ctx_destroy(c32);
  llm_ctx_destroy(c16);
}

int main(void) {
  RUN(second_turn_reuses_prefix);
  RUN(adapter_change_is_not_reused);
  RUN(lru_eviction);
  RUN(context_shift);
  RUN(batched_decode_matches_single);
  RUN(f16_kv_cache);
  teardown();
  TEST_MAIN_END();
}
