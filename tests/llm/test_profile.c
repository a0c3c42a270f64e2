/* The forward-pass profile (llm/profile.h): nothing is counted while it is off; when on, a prompt
 * and a decode step are counted as two passes with their tokens, the matrix time lands on the
 * model's weight types, the timed categories fit inside the passes' wall time, and a reset zeroes
 * everything. Also llm_read_bandwidth's plain contract. Runs on the tiny Q4_K_M qwen2 model. */
#include <string.h>

#include "base/base.h"
#include "llm/compute_pool.h"
#include "llm/model.h"
#include "llm/profile.h"
#include "llm/sampler.h"
#include "test.h"

static llm_model *model;
static compute_pool *cpool;
static llm_ctx *ctx;

static bool setup(void) {
  char path[512];
  if (ctx) return true;
  if (!test_shared_path("testdata/llm/tiny-qwen2-q4_k_m.gguf", path, sizeof path)) return false;
  if (llm_model_load(path, &model)) return false;
  cpool = compute_pool_new(2);
  llm_ctx_params cp = {.n_ctx = 128, .n_slots = 1, .n_batch = 64, .pool = cpool};
  return llm_ctx_new(model, &cp, &ctx) == 0;
}

static void teardown(void) {
  llm_ctx_destroy(ctx);
  compute_pool_destroy(cpool);
  llm_model_destroy(model);
}

/* A 40-token prompt (with its last logits), then one decode step. */
static void run_turn(void) {
  int V = llm_model_hparams(model)->n_vocab;
  int32_t toks[40];
  for (int i = 0; i < 40; i++) toks[i] = (int32_t)((i * 7919) % V);
  float *logits = xalloc((size_t)V * sizeof *logits);
  llm_slot_clear(ctx, 0);
  CHECK_OK(llm_slot_prepare(ctx, 0, toks, 40, NULL, 0, logits, NULL));
  int32_t next = llm_argmax(logits, V);
  CHECK_OK(llm_slot_decode(ctx, 0, &next, 1, NULL, 0, logits));
  mem_free(logits);
}

static bool all_zero(const llm_profile *p) {
  llm_profile z;
  memset(&z, 0, sizeof z);
  return memcmp(p, &z, sizeof z) == 0;
}

TEST(off_counts_nothing) {
  if (!setup()) SKIP("../shared absent");
  llm_profile_enable(false);
  CHECK(!llm_profile_enabled());
  llm_profile_reset();
  run_turn();
  llm_profile p;
  llm_profile_read(&p);
  CHECK(all_zero(&p));
}

TEST(on_counts_passes_types_and_categories) {
  if (!setup()) SKIP("../shared absent");
  llm_profile_enable(true);
  CHECK(llm_profile_enabled());
  llm_profile_reset();
  run_turn();
  llm_profile_enable(false);
  llm_profile p;
  llm_profile_read(&p);
  CHECK_INT((int64_t)p.forwards, 2);
  CHECK_INT((int64_t)p.tokens, 41);
  CHECK(p.wall_ns[LLM_PROF_FORWARD] > 0);
  CHECK(p.wall_ns[LLM_PROF_MATMUL] > 0);
  CHECK(p.wall_ns[LLM_PROF_ATTN] > 0);
  CHECK(p.wall_ns[LLM_PROF_NORM] > 0);
  /* The categories are disjoint intervals inside the passes. */
  uint64_t parts = 0;
  for (int c = 0; c < LLM_PROF_FORWARD; c++) parts += p.wall_ns[c];
  CHECK(parts <= p.wall_ns[LLM_PROF_FORWARD]);
  /* Q4_K_M: the matrix time is on Q4_K (and Q6_K), never on a type the model lacks. */
  CHECK(p.mm_busy_ns[TT_Q4_K] > 0);
  CHECK_INT((int64_t)p.mm_busy_ns[TT_Q8_0], 0);
  CHECK_INT((int64_t)p.mm_busy_ns[TT_F32], 0);
  CHECK(p.attn_busy_ns > 0);
  /* Busy thread time never exceeds the thread time the sections made available. */
  uint64_t busy = p.attn_busy_ns;
  for (int t = 0; t < TT_COUNT; t++) busy += p.mm_busy_ns[t];
  CHECK(busy <= p.par_avail_ns);
  llm_profile_reset();
  llm_profile_read(&p);
  CHECK(all_zero(&p));
}

TEST(category_names) {
  for (int c = 0; c < LLM_PROF_COUNT; c++) {
    CHECK(strcmp(llm_profile_cat_name((llm_prof_cat)c), "?") != 0);
    for (int d = 0; d < c; d++)
      CHECK(strcmp(llm_profile_cat_name((llm_prof_cat)c), llm_profile_cat_name((llm_prof_cat)d)));
  }
  CHECK_STR(llm_profile_cat_name(LLM_PROF_COUNT), "?");
}

TEST(read_bandwidth_measures) {
  compute_pool *p2 = compute_pool_new(2);
  CHECK(llm_read_bandwidth(NULL, (size_t)1 << 20, 2) > 0);
  CHECK(llm_read_bandwidth(p2, (size_t)1 << 20, 2) > 0);
  compute_pool_destroy(p2);
}

int main(void) {
  RUN(off_counts_nothing);
  RUN(on_counts_passes_types_and_categories);
  RUN(category_names);
  RUN(read_bandwidth_measures);
  teardown();
  TEST_MAIN_END();
}
