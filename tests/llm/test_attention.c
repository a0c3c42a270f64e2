/* The attention workers agree bit for bit: the CPU's own (AVX2 where present: scores for up to
 * three heads per key row and the weighted values for up to six heads per value row, accumulated in
 * registers and read straight from the cache) against the portable worker
 * (llm__ctx_plain_attention), on random models whose shapes reach every block of the fast path:
 * groups of 1, 2, 5, 6, 7 and 8 query heads per key/value head, head sizes 24 (the row fallback),
 * 32 (scores by rows), 64 and 128 (two 64-value steps per score chain), F32 and F16 caches,
 * prompts past 16 positions in several chunks, then decoding steps (one head per item: the 64-wide
 * value tile). Needs the tokenizer from ../shared (skips without it). */
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/base.h"
#include "llm/compute_pool.h"
#include "llm/model.h"
#include "llm/model_int.h"
#include "llm/quantize.h"
#include "model_ref.h"
#include "test.h"

static char tmpdir[64];

/* width / heads / kv heads: the shapes named above. */
static void check_shape(const char *tok, int width, int heads, int kv_heads, compute_pool *cpool) {
  char out[128], what[96];
  snprintf(out, sizeof out, "%s/attn.gguf", tmpdir);
  random_model_opts o = {"qwen2", width, 1, heads, kv_heads, 64, 512, 11, QP_F32, tok, 0};
  CHECK_OK(gguf_make_random(&o, out, NULL));
  llm_model *m = NULL;
  CHECK_OK(llm_model_load(out, &m));
  if (!m) return;
  int V = llm_model_hparams(m)->n_vocab;
  float *la = xalloc((size_t)V * sizeof *la), *lb = xalloc((size_t)V * sizeof *lb);
  prng rng;
  prng_seed(&rng, (uint64_t)width * 31 + (uint64_t)heads);
  int32_t toks[136];
  for (int i = 0; i < 136; i++) toks[i] = (int32_t)(prng_next(&rng) % (uint64_t)(V / 2));
  for (int kv = 0; kv < 2; kv++) {
    snprintf(what, sizeof what, "width %d, %d/%d heads, %s cache", width, heads, kv_heads,
             kv ? "F16" : "F32");
    llm_ctx_params cp = {
        .n_ctx = 160, .n_batch = 48, .pool = cpool, .kv_type = kv ? LLM_KV_F16 : LLM_KV_F32};
    llm_ctx *fast = NULL, *plain = NULL;
    CHECK_OK(llm_ctx_new(m, &cp, &fast));
    CHECK_OK(llm_ctx_new(m, &cp, &plain));
    if (!fast || !plain) {
      llm_ctx_destroy(fast);
      llm_ctx_destroy(plain);
      break;
    }
    llm__ctx_plain_attention(plain);
    /* Prompts growing in uneven steps (each a chunk or more past the cached prefix), then
     * decoding one token at a time. */
    static const int lens[] = {17, 40, 130};
    int step = 0;
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++, step++) {
      CHECK_OK(llm_slot_prepare(fast, 0, toks, lens[i], NULL, 0, la, NULL));
      CHECK_OK(llm_slot_prepare(plain, 0, toks, lens[i], NULL, 0, lb, NULL));
      if (!ref_same_logits(la, lb, V, what, step)) break;
    }
    for (int i = 130; i < 136; i++, step++) {
      CHECK_OK(llm_slot_decode(fast, 0, toks + i, 1, NULL, 0, la));
      CHECK_OK(llm_slot_decode(plain, 0, toks + i, 1, NULL, 0, lb));
      if (!ref_same_logits(la, lb, V, what, step)) break;
    }
    llm_ctx_destroy(fast);
    llm_ctx_destroy(plain);
  }
  mem_free(la);
  mem_free(lb);
  llm_model_destroy(m);
  unlink(out);
}

TEST(fast_attention_matches_plain) {
  char tok[512];
  if (!test_shared_path("testdata/tokenizer/ggml-vocab-llama-spm.gguf", tok, sizeof tok))
    SKIP("../shared absent");
  compute_pool *cp2 = compute_pool_new(2);
  check_shape(tok, 384, 6, 1, cp2); /* group 6, head 64 */
  check_shape(tok, 320, 5, 1, cp2); /* group 5 */
  check_shape(tok, 448, 7, 1, cp2); /* group 7: 4 + 3 */
  check_shape(tok, 256, 8, 1, cp2); /* group 8: 4 + 4, head 32 */
  check_shape(tok, 256, 2, 1, cp2); /* group 2, head 128 */
  check_shape(tok, 256, 4, 4, cp2); /* no sharing, head 64 */
  check_shape(tok, 96, 4, 2, cp2);  /* head 24: the row fallback */
  compute_pool_destroy(cp2);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_attention_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(fast_attention_matches_plain);
  rmdir(tmpdir);
  TEST_MAIN_END();
}
