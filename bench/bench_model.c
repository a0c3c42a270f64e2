/* Model throughput: prompt processing (pp) and generation (tg) tokens/s on a benchmark-sized random
 * qwen2 model (width 1024, 24 layers, Q4_K_M-style mix: Q4_K with Q6_K for attn_v/ffn_down on the
 * llama.cpp "more bits" layers and the tied embedding), and generation's share of the
 * memory-bandwidth bound (bytes of weights per token x tokens/s over a measured streaming read).
 * The model is written once with gguf_writer + quant_row and cached (default
 * /tmp/mimic-bench-qwen2-1024x24-q4km.gguf), or given with --model.
 *
 * usage: bench_model [--model M.gguf] [--threads N] [-p 512] [-n 64] [--batch N] */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/model.h"
#include "llm/quant.h"
#include "bench_bw.h"

enum { W = 1024, LAYERS = 24, HEADS = 16, KV_HEADS = 2, FF = 4864, VOCAB = 151936 };

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float frand(void) { /* uniform in [-1, 1) */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (float)((double)(rng >> 11) / 9007199254740992.0 * 2.0 - 1.0);
}

static int add_random(gguf_writer *w, const char *name, tensor_type type, int64_t cols,
                      int64_t rows, float amp) {
  size_t rb = tensor_row_bytes(type, cols);
  unsigned char *data = xalloc(rb * (size_t)rows);
  float *row = xalloc((size_t)cols * sizeof *row);
  int rc = 0;
  for (int64_t r = 0; r < rows && rc == 0; r++) {
    for (int64_t i = 0; i < cols; i++) row[i] = amp * frand();
    if (type == TT_F32)
      memcpy(data + r * rb, row, rb);
    else
      rc = quant_row(type, row, data + r * rb, cols);
  }
  int64_t ne[2] = {cols, rows};
  if (rc == 0) rc = gguf_add_tensor(w, name, type, rows == 1 ? 1 : 2, ne, data);
  mem_free(row);
  mem_free(data);
  return rc;
}

static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static int make_model(const char *path) {
  fprintf(stderr, "writing %s (qwen2, width %d, %d layers, Q4_K_M mix)...\n", path, W, LAYERS);
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "qwen2");
  gguf_set_str(w, "general.name", "mimic bench random");
  gguf_set_u32(w, "general.file_type", 15);
  gguf_set_u32(w, "general.quantization_version", 2);
  gguf_set_u32(w, "qwen2.context_length", 32768);
  gguf_set_u32(w, "qwen2.embedding_length", W);
  gguf_set_u32(w, "qwen2.block_count", LAYERS);
  gguf_set_u32(w, "qwen2.feed_forward_length", FF);
  gguf_set_u32(w, "qwen2.attention.head_count", HEADS);
  gguf_set_u32(w, "qwen2.attention.head_count_kv", KV_HEADS);
  gguf_set_f32(w, "qwen2.rope.freq_base", 1e6f);
  gguf_set_f32(w, "qwen2.attention.layer_norm_rms_epsilon", 1e-6f);
  int kvd = W / HEADS * KV_HEADS, rc = 0;
  char name[96];
  float amp = 0.05f;
  rc = add_random(w, "token_embd.weight", TT_Q6_K, W, VOCAB, 1.0f);
  if (!rc) rc = add_random(w, "output_norm.weight", TT_F32, W, 1, 1.0f);
  for (int il = 0; il < LAYERS && !rc; il++) {
    struct {
      const char *n;
      tensor_type t;
      int64_t cols, rows;
    } mats[] = {{"attn_q", TT_Q4_K, W, W},
                {"attn_k", TT_Q4_K, W, kvd},
                {"attn_v", more_bits(il, LAYERS) ? TT_Q6_K : TT_Q4_K, W, kvd},
                {"attn_output", TT_Q4_K, W, W},
                {"ffn_gate", TT_Q4_K, W, FF},
                {"ffn_up", TT_Q4_K, W, FF},
                {"ffn_down", more_bits(il, LAYERS) ? TT_Q6_K : TT_Q4_K, FF, W}};
    for (size_t k = 0; k < sizeof mats / sizeof mats[0] && !rc; k++) {
      snprintf(name, sizeof name, "blk.%d.%s.weight", il, mats[k].n);
      rc = add_random(w, name, mats[k].t, mats[k].cols, mats[k].rows, amp);
    }
    const char *bias[3] = {"attn_q", "attn_k", "attn_v"};
    int64_t blen[3] = {W, kvd, kvd};
    for (int k = 0; k < 3 && !rc; k++) {
      snprintf(name, sizeof name, "blk.%d.%s.bias", il, bias[k]);
      rc = add_random(w, name, TT_F32, blen[k], 1, amp);
    }
    snprintf(name, sizeof name, "blk.%d.attn_norm.weight", il);
    if (!rc) rc = add_random(w, name, TT_F32, W, 1, 1.0f);
    snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", il);
    if (!rc) rc = add_random(w, name, TT_F32, W, 1, 1.0f);
  }
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  return rc;
}

/* Memory read bandwidth: bench_bw.h. */
static double measure_bandwidth(compute_pool *cpool) {
  return bench_read_bandwidth(cpool, (size_t)1 << 30, 3);
}

int main(int argc, char **argv) {
  const char *model_path = "/tmp/mimic-bench-qwen2-1024x24-q4km.gguf";
  int64_t threads = 0, n_pp = 512, n_tg = 64, n_batch = 512;
  for (int i = 1; i + 1 < argc; i += 2) {
    int rc = 0;
    if (strcmp(argv[i], "--model") == 0)
      model_path = argv[i + 1];
    else if (strcmp(argv[i], "--threads") == 0)
      rc = str_to_i64(argv[i + 1], &threads);
    else if (strcmp(argv[i], "-p") == 0)
      rc = str_to_i64(argv[i + 1], &n_pp);
    else if (strcmp(argv[i], "-n") == 0)
      rc = str_to_i64(argv[i + 1], &n_tg);
    else if (strcmp(argv[i], "--batch") == 0)
      rc = str_to_i64(argv[i + 1], &n_batch);
    else
      rc = MIMIC_EINVAL;
    if (rc || n_pp < 1 || n_tg < 1 || n_pp > 8192 || n_tg > 8192 || n_batch < 1) {
      fprintf(stderr,
              "usage: bench_model [--model M.gguf] [--threads N] [-p 512] [-n 64] [--batch N]\n");
      return 2;
    }
  }
  if (access(model_path, R_OK) != 0 && make_model(model_path)) {
    fprintf(stderr, "bench_model: %s\n", err_msg());
    return 1;
  }
  compute_pool *cpool = compute_pool_new((int)threads);
  llm_model *m = NULL;
  llm_ctx *c = NULL;
  uint64_t t0 = clock_mono_ns();
  if (llm_model_load(model_path, &m)) {
    fprintf(stderr, "bench_model: %s\n", err_msg());
    return 1;
  }
  double load_ms = (double)(clock_mono_ns() - t0) / 1e6;
  llm_ctx_params cp = {
      .n_ctx = (int)(n_pp + n_tg), .n_slots = 1, .n_batch = (int)n_batch, .pool = cpool};
  if (llm_ctx_new(m, &cp, &c)) {
    fprintf(stderr, "bench_model: %s\n", err_msg());
    return 1;
  }
  const llm_hparams *hp = llm_model_hparams(m);
  int32_t *toks = xalloc((size_t)(n_pp + n_tg) * sizeof *toks);
  for (int64_t i = 0; i < n_pp + n_tg; i++) toks[i] = (int32_t)((i * 7919) % hp->n_vocab);
  float *logits = xalloc((size_t)hp->n_vocab * sizeof *logits);

  /* Warm the page cache and the cpool with a short run, then measure. */
  if (llm_forward(c, 0, toks, 8, 0, NULL, 1, logits, LLM_LOGITS_LAST)) return 1;
  t0 = clock_mono_ns();
  if (llm_forward(c, 0, toks, (int)n_pp, 0, NULL, 1, logits, LLM_LOGITS_LAST)) return 1;
  double pp_s = (double)(clock_mono_ns() - t0) / 1e9;
  t0 = clock_mono_ns();
  for (int64_t i = 0; i < n_tg; i++)
    if (llm_slot_decode(c, 0, &toks[n_pp + i], 1, NULL, 1, logits)) return 1;
  double tg_s = (double)(clock_mono_ns() - t0) / 1e9;
  double bw = measure_bandwidth(cpool);
  double pp = (double)n_pp / pp_s, tg = (double)n_tg / tg_s;
  double bytes = (double)llm_model_bytes_per_token(m);
  printf("model      %s (%s, %d layers, width %d, vocab %d, %.1f MiB of weights per token)\n",
         model_path, hp->arch_name, hp->n_layer, hp->n_embd, hp->n_vocab, bytes / 1048576.0);
  printf("kernels    %s, %d threads\n", qmat_kernels_name(),
         cpool ? compute_pool_threads(cpool) : 1);
  printf("load       %.1f ms\n", load_ms);
  printf("pp%-5lld   %.2f tokens/s\n", (long long)n_pp, pp);
  printf("tg%-5lld   %.2f tokens/s (context %lld..%lld)\n", (long long)n_tg, tg, (long long)n_pp,
         (long long)(n_pp + n_tg));
  printf("bandwidth  %.2f GB/s streaming read; tg reads %.2f GB/s = %.0f%% of the bound (%.1f "
         "tokens/s)\n",
         bw / 1e9, bytes * tg / 1e9, 100.0 * bytes * tg / bw, bw / bytes);
  mem_free(logits);
  mem_free(toks);
  llm_ctx_destroy(c);
  llm_model_destroy(m);
  compute_pool_destroy(cpool);
  return 0;
}
