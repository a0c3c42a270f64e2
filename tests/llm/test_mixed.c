/* Mixed steps (llm_forward_mixed): prompts and decoding of several slots in one pass give the same
 * bits as each slot evaluated alone (llm_slot_prepare / llm_slot_decode), logits and caches, on
 * the tiny qwen2 models from ../shared: Q4_K_M (repacked Q4_K weights, whose gemm and gemv orders
 * round differently, so each row must keep its lone order) and F32 with a LoRA adapter. Chunks of
 * 16 rows (many pieces per call) and of 64 (the packed eight-row strips); then refusals. */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "model_ref.h"
#include "test.h"

enum { NS = 4, MAXP = 160 };

static prng rng;

/* n random token ids below V (the lower half of the vocabulary: plain text tokens). */
static void rand_ids(int32_t *out, int n, int V) {
  for (int i = 0; i < n; i++) out[i] = (int32_t)(prng_next(&rng) % (uint64_t)(V / 2));
}

typedef struct conv {
  int32_t toks[MAXP + 64];
  int n;
  const llm_lora *lora;
  float scale;
} conv;

/* One mixed call over items, and the same work slot by slot on the reference context (whose slot
 * s mirrors slot s of the mixed one): logits, evaluated counts and slot contents must agree. */
static void step_both(llm_ctx *mx, llm_ctx *one, llm_mixed_item *items, int n, float *lm, float *lo,
                      int V, const char *what) {
  for (int i = 0; i < n; i++) items[i].logits = items[i].logits ? lm + (size_t)i * V : NULL;
  int failed = 7;
  CHECK_OK(llm_forward_mixed(mx, items, n, &failed));
  CHECK_INT(failed, -1);
  for (int i = 0; i < n; i++) {
    const llm_mixed_item *it = &items[i];
    float *want = it->logits ? lo : NULL;
    int ev = 0;
    if (it->append) {
      CHECK_OK(llm_slot_decode(one, it->slot, it->tokens, it->n, it->lora, it->lora_scale, want));
      ev = it->n;
    } else {
      CHECK_OK(
          llm_slot_prepare(one, it->slot, it->tokens, it->n, it->lora, it->lora_scale, want, &ev));
    }
    CHECK_INT(it->n_evaluated, ev);
    if (want) ref_same_logits(it->logits, lo, V, what, i);
    int np = llm_slot_n_past(mx, it->slot);
    CHECK_INT(np, llm_slot_n_past(one, it->slot));
    CHECK(memcmp(llm_slot_tokens(mx, it->slot), llm_slot_tokens(one, it->slot),
                 (size_t)np * sizeof(int32_t)) == 0);
  }
}

static void check_model(const char *file, const char *lora_file, int n_batch) {
  char path[512];
  if (!test_shared_path(file, path, sizeof path)) {
    printf("     (%s absent: skipped)\n", file);
    return;
  }
  llm_model *m = NULL;
  llm_lora *l = NULL;
  CHECK_OK(llm_model_load(path, &m));
  if (!m) return;
  if (lora_file && test_shared_path(lora_file, path, sizeof path))
    CHECK_OK(llm_lora_load(m, path, &l));
  int V = llm_model_hparams(m)->n_vocab;
  llm_ctx_params cp = {.n_ctx = 256, .n_slots = NS, .n_batch = n_batch};
  llm_ctx *mx = NULL, *one = NULL;
  CHECK_OK(llm_ctx_new(m, &cp, &mx));
  CHECK_OK(llm_ctx_new(m, &cp, &one));
  float *lm = xalloc((size_t)NS * V * sizeof *lm), *lo = xalloc((size_t)V * sizeof *lo);
  conv cv[NS];
  const int len[NS] = {37, 3, 70, 21}; /* lengths with every remainder mod 4 */
  for (int s = 0; s < NS; s++) {
    cv[s].n = len[s];
    rand_ids(cv[s].toks, len[s], V);
    cv[s].lora = s % 2 ? l : NULL;
    cv[s].scale = s == 3 ? 0.5f : 1.0f;
  }
  llm_mixed_item it[NS];
  /* 1. Four prompts arrive together (one without logits: a chunk that is not the last). */
  for (int s = 0; s < NS; s++)
    it[s] = (llm_mixed_item){.slot = s,
                             .tokens = cv[s].toks,
                             .n = cv[s].n,
                             .lora = cv[s].lora,
                             .lora_scale = cv[s].scale,
                             .logits = s == 1 ? NULL : lm};
  step_both(mx, one, it, NS, lm, lo, V, "prompts");
  /* 2. Decoding in slots 0 and 2 while slot 1 reads the rest of its prompt and slot 3 takes a
   * second turn (its first turn reused, the new part evaluated). */
  for (int round = 0; round < 6; round++) {
    int32_t next[NS];
    int n = 0;
    for (int s = 0; s < NS; s++) {
      if (s == 1 && round == 0) { /* the prompt grows by 30 tokens */
        rand_ids(cv[1].toks + cv[1].n, 30, V);
        cv[1].n += 30;
        it[n++] = (llm_mixed_item){.slot = 1,
                                   .tokens = cv[1].toks,
                                   .n = cv[1].n,
                                   .lora = cv[1].lora,
                                   .lora_scale = cv[1].scale,
                                   .logits = lm};
        continue;
      }
      if (s == 3 && round == 1) { /* second turn: the reply so far + a new message */
        rand_ids(cv[3].toks + cv[3].n, 9, V);
        cv[3].n += 9;
        it[n++] = (llm_mixed_item){.slot = 3,
                                   .tokens = cv[3].toks,
                                   .n = cv[3].n,
                                   .lora = cv[3].lora,
                                   .lora_scale = cv[3].scale,
                                   .logits = lm};
        continue;
      }
      rand_ids(&next[s], 1, V);
      cv[s].toks[cv[s].n++] = next[s];
      it[n++] = (llm_mixed_item){.slot = s,
                                 .tokens = &next[s],
                                 .n = 1,
                                 .append = true,
                                 .lora = cv[s].lora,
                                 .lora_scale = cv[s].scale,
                                 .logits = lm};
    }
    step_both(mx, one, it, n, lm, lo, V, round == 0 ? "prompt + decode" : "decode");
  }
  /* 3. A prompt whose tokens are all cached evaluates its last one again for logits only. */
  it[0] = (llm_mixed_item){.slot = 0, .tokens = cv[0].toks, .n = cv[0].n, .logits = lm};
  step_both(mx, one, it, 1, lm, lo, V, "cached");
  CHECK_INT(it[0].n_evaluated, 1);
  printf("     %s, chunks of %d: mixed steps equal slot-by-slot evaluation bit for bit\n", file,
         n_batch);
  mem_free(lm);
  mem_free(lo);
  llm_ctx_destroy(mx);
  llm_ctx_destroy(one);
  llm_lora_destroy(l);
  llm_model_destroy(m);
}

TEST(mixed_equals_alone_q4_k_m) {
  char p[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q4_k_m.gguf", p, sizeof p))
    SKIP("../shared absent");
  check_model("testdata/llm/tiny-qwen2-q4_k_m.gguf", NULL, 16);
  check_model("testdata/llm/tiny-qwen2-q4_k_m.gguf", NULL, 64);
}

TEST(mixed_equals_alone_f32_lora) {
  char p[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", p, sizeof p)) SKIP("../shared absent");
  check_model("testdata/llm/tiny-qwen2-f32.gguf", "testdata/llm/tiny-qwen2-lora-f32.gguf", 16);
  check_model("testdata/llm/tiny-qwen2-f32.gguf", "testdata/llm/tiny-qwen2-lora-f32.gguf", 64);
}

/* The model at path and a context on it; false (nothing open) on error (a failed check). */
static bool open_ctx(const char *path, llm_ctx_params cp, llm_model **m, llm_ctx **c) {
  *m = NULL;
  *c = NULL;
  CHECK_OK(llm_model_load(path, m));
  if (*m) CHECK_OK(llm_ctx_new(*m, &cp, c));
  if (*c) return true;
  llm_model_destroy(*m);
  *m = NULL;
  return false;
}

/* A prompt cut into pieces that start a multiple of four rows apart gets the bits of the uncut
 * prompt (the engine cuts a chunk so when it fills a step's rows): each row keeps its place in a
 * repacked weight's four-row groups. Q4_K_M, whose gemm and gemv orders differ; cut lengths with
 * every remainder of the tail. */
TEST(cuts_at_fours_keep_bits) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q4_k_m.gguf", path, sizeof path))
    SKIP("../shared absent");
  llm_model *m;
  llm_ctx *c;
  llm_ctx_params cp = {.n_ctx = 128, .n_slots = 2, .n_batch = 64};
  REQUIRE(open_ctx(path, cp, &m, &c));
  int V = llm_model_hparams(m)->n_vocab;
  float *whole = xalloc((size_t)V * sizeof *whole), *cut = xalloc((size_t)V * sizeof *cut);
  prng_seed(&rng, 99);
  int32_t toks[64];
  rand_ids(toks, 64, V);
  for (int n = 37; n <= 40; n++) /* tails of 1, 2, 3 and 0 gemv rows */
    for (int first = 4; first < n; first += 12) {
      llm_slot_clear(c, 0);
      llm_slot_clear(c, 1);
      CHECK_OK(llm_slot_prepare(c, 0, toks, n, NULL, 0, whole, NULL));
      CHECK_OK(llm_slot_prepare(c, 1, toks, first, NULL, 0, NULL, NULL));
      CHECK_OK(llm_slot_prepare(c, 1, toks, n, NULL, 0, cut, NULL));
      char what[64];
      snprintf(what, sizeof what, "%d tokens cut after %d", n, first);
      if (!ref_same_logits(whole, cut, V, what, 0)) break;
    }
  mem_free(whole);
  mem_free(cut);
  llm_ctx_destroy(c);
  llm_model_destroy(m);
}

/* Every item is checked before anything runs: the bad one's index comes back, nothing evaluated. */
TEST(mixed_refusals) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", path, sizeof path))
    SKIP("../shared absent");
  llm_model *m;
  llm_ctx *c;
  llm_ctx_params cp = {.n_ctx = 32, .n_slots = 2, .n_batch = 8};
  REQUIRE(open_ctx(path, cp, &m, &c));
  int32_t ok[3] = {1, 2, 3}, bad[2] = {4, 1 << 30}, many[40] = {0};
  llm_mixed_item it[3] = {{.slot = 0, .tokens = ok, .n = 3}, {.slot = 1, .tokens = bad, .n = 2}};
  int failed = -5;
  CHECK_INT(llm_forward_mixed(c, it, 2, &failed), MIMIC_EINVAL);
  CHECK_INT(failed, 1);
  CHECK_INT((int64_t)llm_ctx_tokens_evaluated(c), 0);
  it[1] = (llm_mixed_item){.slot = 0, .tokens = ok, .n = 1, .append = true};
  CHECK_INT(llm_forward_mixed(c, it, 2, &failed), MIMIC_EINVAL); /* slot 0 twice */
  CHECK_INT(failed, 1);
  it[1] = (llm_mixed_item){.slot = 1, .tokens = many, .n = 40};
  CHECK_INT(llm_forward_mixed(c, it, 2, &failed), MIMIC_ERANGE);
  CHECK_INT(failed, 1);
  it[1] = (llm_mixed_item){.slot = 2, .tokens = ok, .n = 1};
  CHECK_INT(llm_forward_mixed(c, it, 2, &failed), MIMIC_EINVAL);
  CHECK_INT(failed, 1);
  CHECK_INT(llm_forward_mixed(c, it, 3, &failed), MIMIC_EINVAL); /* more items than slots */
  CHECK_INT(failed, -1);
  CHECK_INT((int64_t)llm_ctx_tokens_evaluated(c), 0);
  CHECK_OK(llm_forward_mixed(c, it, 0, &failed)); /* nothing to do */
  CHECK_OK(llm_forward_mixed(c, it, 1, NULL));
  CHECK_INT((int64_t)llm_ctx_tokens_evaluated(c), 3);
  llm_ctx_destroy(c);
  llm_model_destroy(m);
}

int main(void) {
  prng_seed(&rng, 2026);
  RUN(mixed_equals_alone_q4_k_m);
  RUN(mixed_equals_alone_f32_lora);
  RUN(cuts_at_fours_keep_bits);
  RUN(mixed_refusals);
  TEST_MAIN_END();
}
