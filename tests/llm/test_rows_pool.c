/* A prompt's row-wise passes on the pool (model.c rows_pass: norms, RoPE and the cache stores,
 * SwiGLU, residual additions) give the logits of the calling thread alone, bit for bit: random
 * models (F32, F16 through the float product, Q8_0), prompts over and under the parallel minimum,
 * three threads so the chunks are uneven, then decoding steps. (Random models' widths are multiples
 * of 32, so SwiGLU's one-call case for rows that are not whole 16-value blocks is not reached.)
 * Needs the tokenizer from ../shared (skips without it). */
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base.h"
#include "llm/compute_pool.h"
#include "llm/model.h"
#include "llm/quantize.h"
#include "model_ref.h"
#include "test.h"

static char tmpdir[64];

static void check_ff(const char *tok, int ff, quant_preset preset, compute_pool *cpool) {
  char out[128], what[64];
  snprintf(out, sizeof out, "%s/rows.gguf", tmpdir);
  snprintf(what, sizeof what, "ff %d, preset %d", ff, (int)preset);
  random_model_opts o = {"qwen2", 128, 2, 4, 2, ff, 256, 7 + (uint64_t)ff, preset, tok, 0};
  CHECK_OK(gguf_make_random(&o, out, NULL));
  llm_model *m = NULL;
  CHECK_OK(llm_model_load(out, &m));
  if (!m) return;
  int V = llm_model_hparams(m)->n_vocab;
  prng rng;
  prng_seed(&rng, (uint64_t)ff);
  enum { N = 70 };
  int32_t toks[N];
  for (int i = 0; i < N; i++) toks[i] = (int32_t)(prng_next(&rng) % (uint64_t)(V / 2));
  llm_ctx_params pp = {.n_ctx = 128, .n_batch = 64, .pool = cpool};
  llm_ctx_params sp = {.n_ctx = 128, .n_batch = 64};
  llm_ctx *par = NULL, *one = NULL;
  CHECK_OK(llm_ctx_new(m, &pp, &par));
  CHECK_OK(llm_ctx_new(m, &sp, &one));
  float *a = xalloc((size_t)64 * V * sizeof *a), *b = xalloc((size_t)64 * V * sizeof *b);
  if (par && one) {
    /* 64 rows (the pool's passes), then 5 (under the minimum), then one at a time. */
    CHECK_OK(llm_forward(par, 0, toks, 64, 0, NULL, 0, a, LLM_LOGITS_ALL));
    CHECK_OK(llm_forward(one, 0, toks, 64, 0, NULL, 0, b, LLM_LOGITS_ALL));
    for (int t = 0; t < 64; t++)
      if (!ref_same_logits(a + (size_t)t * V, b + (size_t)t * V, V, what, t)) break;
    CHECK_OK(llm_forward(par, 0, toks + 64, 5, 64, NULL, 0, a, LLM_LOGITS_LAST));
    CHECK_OK(llm_forward(one, 0, toks + 64, 5, 64, NULL, 0, b, LLM_LOGITS_LAST));
    ref_same_logits(a, b, V, what, 64);
    CHECK_OK(llm_forward(par, 0, toks + 69, 1, 69, NULL, 0, a, LLM_LOGITS_LAST));
    CHECK_OK(llm_forward(one, 0, toks + 69, 1, 69, NULL, 0, b, LLM_LOGITS_LAST));
    ref_same_logits(a, b, V, what, 69);
  }
  mem_free(a);
  mem_free(b);
  llm_ctx_destroy(par);
  llm_ctx_destroy(one);
  llm_model_destroy(m);
  unlink(out);
}

TEST(prompt_rows_on_the_pool_match_one_thread) {
  char tok[512];
  if (!test_shared_path("testdata/tokenizer/ggml-vocab-llama-spm.gguf", tok, sizeof tok))
    SKIP("../shared absent");
  compute_pool *cp3 = compute_pool_new(3);
  check_ff(tok, 192, QP_F32, cp3);
  check_ff(tok, 224, QP_F16, cp3);
  check_ff(tok, 256, QP_Q8_0, cp3);
  compute_pool_destroy(cp3);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_rows_pool_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(prompt_rows_on_the_pool_match_one_thread);
  rmdir(tmpdir);
  TEST_MAIN_END();
}
