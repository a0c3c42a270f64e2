/* Engine throughput: aggregate generated tokens/s with 1, 4 and 8 concurrent conversations on a
 * benchmark-sized random Qwen2 model (written here with the GGUF writer; the tokenizer and template
 * are copied from the tiny reference model in ../shared). Shows what batched decoding buys: each
 * weight matrix is read once per step for all active conversations.
 *
 *   bench_engine [--embd 768] [--layers 6] [--ff 2048] [--heads 12] [--kv-heads 4] [--type
 * q8_0|f32]
 *                [--threads N] [--tokens 64] [--prompt 8] [--keep FILE]   (--prompt: words per
 * prompt) Not run by ctest (build with `cmake --build build --target bench`). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend.h"
#include "llm/gguf.h"
#include "llm/quant.h"
#include "llm/sampler.h"

typedef struct shape {
  int embd, layers, ff, heads, kv_heads, vocab;
  tensor_type type;
} shape;

static prng rng;

static int add(gguf_writer *w, const char *name, tensor_type type, int64_t n0, int64_t n1,
               float scale, float base) {
  int64_t ne[2] = {n0, n1};
  size_t row = tensor_row_bytes(type, n0);
  char *data = xalloc(row * (size_t)n1);
  float *tmp = xalloc((size_t)n0 * sizeof *tmp);
  for (int64_t r = 0; r < n1; r++) {
    for (int64_t i = 0; i < n0; i++) tmp[i] = base + scale * (float)(prng_uniform(&rng) * 2 - 1);
    if (quant_row(type, tmp, data + (size_t)r * row, n0)) {
      mem_free(data);
      mem_free(tmp);
      return -1;
    }
  }
  int rc = gguf_add_tensor(w, name, type, n1 == 1 ? 1 : 2, ne, data);
  mem_free(data);
  mem_free(tmp);
  return rc;
}

static int write_model(const char *tiny, const char *out, shape *s) {
  gguf_file *src = NULL;
  if (gguf_open(tiny, &src)) return -1;
  gguf_writer *w = gguf_writer_new();
  gguf_copy_kv(w, src, "qwen2.");
  const gguf_tensor *emb = gguf_tensor_find(src, "token_embd.weight");
  s->vocab = emb ? (int)emb->ne[1] : 0;
  gguf_close(src);
  gguf_set_u32(w, "qwen2.context_length", 4096);
  gguf_set_u32(w, "qwen2.embedding_length", (uint32_t)s->embd);
  gguf_set_u32(w, "qwen2.block_count", (uint32_t)s->layers);
  gguf_set_u32(w, "qwen2.feed_forward_length", (uint32_t)s->ff);
  gguf_set_u32(w, "qwen2.attention.head_count", (uint32_t)s->heads);
  gguf_set_u32(w, "qwen2.attention.head_count_kv", (uint32_t)s->kv_heads);
  gguf_set_f32(w, "qwen2.rope.freq_base", 1e6f);
  gguf_set_f32(w, "qwen2.attention.layer_norm_rms_epsilon", 1e-6f);
  int hd = s->embd / s->heads, kv = hd * s->kv_heads;
  float sc = 1.0f / (float)s->embd;
  int rc = add(w, "token_embd.weight", s->type, s->embd, s->vocab, 0.05f, 0);
  for (int l = 0; l < s->layers && !rc; l++) {
    char n[64];
#define T(suffix, type, a, b, scale, base)                                                         \
  if (!rc) {                                                                                       \
    snprintf(n, sizeof n, "blk.%d." suffix, l);                                                    \
    rc = add(w, n, type, a, b, scale, base);                                                       \
  }
    T("attn_norm.weight", TT_F32, s->embd, 1, 0.1f, 1);
    T("attn_q.weight", s->type, s->embd, s->embd, sc * 8, 0);
    T("attn_k.weight", s->type, s->embd, kv, sc * 8, 0);
    T("attn_v.weight", s->type, s->embd, kv, sc * 8, 0);
    T("attn_q.bias", TT_F32, s->embd, 1, 0.01f, 0);
    T("attn_k.bias", TT_F32, kv, 1, 0.01f, 0);
    T("attn_v.bias", TT_F32, kv, 1, 0.01f, 0);
    T("attn_output.weight", s->type, s->embd, s->embd, sc * 8, 0);
    T("ffn_norm.weight", TT_F32, s->embd, 1, 0.1f, 1);
    T("ffn_gate.weight", s->type, s->embd, s->ff, sc * 8, 0);
    T("ffn_up.weight", s->type, s->embd, s->ff, sc * 8, 0);
    T("ffn_down.weight", s->type, s->ff, s->embd, sc * 8, 0);
#undef T
  }
  if (!rc) rc = add(w, "output_norm.weight", TT_F32, s->embd, 1, 0.1f, 1);
  if (!rc) rc = gguf_writer_save(w, out);
  gguf_writer_destroy(w);
  return rc;
}

typedef struct waitall {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int left;
  long tokens;
  int errors;
  double max_gen_ms;
} waitall;

static void on_done(void *user, llm_result *res) {
  waitall *w = user;
  pthread_mutex_lock(&w->mu);
  w->tokens += res->gen_tokens;
  if (res->gen_ms > w->max_gen_ms) w->max_gen_ms = res->gen_ms;
  if (res->finish == LLM_FINISH_ERROR) {
    w->errors++;
    fprintf(stderr, "generation failed: %s\n", res->error_msg);
  }
  w->left--;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  llm_result_destroy(res);
}

/* Runs n conversations at once; returns aggregate generated tokens per second over the wall time
 * (prompts included) and, in *decode, over the decoding phase only (sum of tokens / longest
 * generation time, since the conversations decode side by side). */
static double run_concurrent(llm_backend *b, int n, int tokens, int prompt_len, int round,
                             double *decode) {
  waitall w = {.left = n};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  char prompt[4096] = "";
  size_t pl = 0;
  /* Distinct prompts per conversation and round, so no slot reuses another's prefix. */
  uint64_t t0 = clock_mono_ns();
  for (int i = 0; i < n; i++) {
    pl = (size_t)snprintf(prompt, sizeof prompt, "conversation %d round %d:", i, round);
    for (int k = 0; k < prompt_len && pl + 8 < sizeof prompt; k++)
      pl +=
          (size_t)snprintf(prompt + pl, sizeof prompt - pl, " w%d", (int)(prng_next(&rng) % 1000));
    llm_request r;
    llm_request_init(&r);
    r.prompt = prompt;
    r.max_tokens = tokens;
    r.min_tokens = tokens; /* random weights: never stop early */
    r.sampling.seed = (uint64_t)i;
    char key[32];
    snprintf(key, sizeof key, "c%d", i);
    r.slot_key = key;
    if (llm_backend_submit(b, &r, NULL, on_done, &w, NULL)) {
      fprintf(stderr, "submit: %s\n", err_msg());
      pthread_mutex_lock(&w.mu);
      w.left--;
      w.errors++;
      pthread_mutex_unlock(&w.mu);
    }
  }
  pthread_mutex_lock(&w.mu);
  while (w.left > 0) pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  double s = (double)(clock_mono_ns() - t0) / 1e9;
  if (decode) *decode = w.errors || w.max_gen_ms <= 0 ? 0 : (double)w.tokens / (w.max_gen_ms / 1e3);
  return w.errors ? 0 : (double)w.tokens / s;
}

int main(int argc, char **argv) {
  shape s = {.embd = 768, .layers = 6, .ff = 2048, .heads = 12, .kv_heads = 4, .type = TT_Q8_0};
  int threads = 0, tokens = 64, prompt_len = 8;
  const char *keep = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    const char *a = argv[i], *v = argv[i + 1];
    int64_t x = 0;
    if (strcmp(a, "--type") == 0)
      s.type = strcmp(v, "f32") == 0 ? TT_F32 : TT_Q8_0;
    else if (strcmp(a, "--keep") == 0)
      keep = v;
    else if (str_to_i64(v, &x) || x < 1 || x > 65536) {
      fprintf(stderr, "%s: bad value '%s'\n", a, v);
      return 2;
    } else if (strcmp(a, "--embd") == 0)
      s.embd = (int)x;
    else if (strcmp(a, "--layers") == 0)
      s.layers = (int)x;
    else if (strcmp(a, "--ff") == 0)
      s.ff = (int)x;
    else if (strcmp(a, "--heads") == 0)
      s.heads = (int)x;
    else if (strcmp(a, "--kv-heads") == 0)
      s.kv_heads = (int)x;
    else if (strcmp(a, "--threads") == 0)
      threads = (int)x;
    else if (strcmp(a, "--tokens") == 0)
      tokens = (int)x;
    else if (strcmp(a, "--prompt") == 0)
      prompt_len = (int)x;
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
  }
  char tiny[512];
  const char *root = getenv("MIMIC_SHARED") ? getenv("MIMIC_SHARED") : "../shared";
  snprintf(tiny, sizeof tiny, "%s/testdata/llm/tiny-qwen2-f32.gguf", root);
  char path[256];
  if (keep)
    str_lcpy(path, keep, sizeof path);
  else
    snprintf(path, sizeof path, "/tmp/mimic-bench-engine-%d.gguf", (int)getpid());
  prng_seed(&rng, 12345);
  uint64_t t0 = clock_mono_ns();
  if (write_model(tiny, path, &s)) {
    fprintf(stderr, "cannot write the model (needs %s): %s\n", tiny, err_msg());
    return 1;
  }
  printf("model: qwen2 %d layers, width %d, ff %d, %d/%d heads, vocab %d, %s (written in %.1f s)\n",
         s.layers, s.embd, s.ff, s.heads, s.kv_heads, s.vocab, s.type == TT_F32 ? "F32" : "Q8_0",
         (double)(clock_mono_ns() - t0) / 1e9);
  log_set_level(LOG_WARN);
  llm_local_opts o = {.model_path = path,
                      .threads = threads,
                      .slots = 8,
                      .ctx = prompt_len * 4 + tokens + 64,
                      .batch = 512,
                      .queue_max = 16};
  llm_backend *b = NULL;
  if (llm_backend_local_new(&o, &b)) {
    fprintf(stderr, "%s\n", err_msg());
    if (!keep) unlink(path);
    return 1;
  }
  run_concurrent(b, 1, 8, 8, 0, NULL); /* warm-up: page the weights in */
  const int conc[] = {1, 4, 8};
  double tps[3], dec[3];
  for (int i = 0; i < 3; i++) {
    tps[i] = run_concurrent(b, conc[i], tokens, prompt_len, i + 1, &dec[i]);
    printf("%d concurrent: %.1f tokens/s aggregate with prompts, %.1f decoding (%.1f per "
           "conversation)\n",
           conc[i], tps[i], dec[i], dec[i] / conc[i]);
  }
  printf(
      "{\"tg_tokens_per_s_1\":%.2f,\"tg_tokens_per_s_4\":%.2f,\"tg_tokens_per_s_8\":%.2f,"
      "\"wall_tokens_per_s_1\":%.2f,\"wall_tokens_per_s_4\":%.2f,\"wall_tokens_per_s_8\":%.2f}\n",
      dec[0], dec[1], dec[2], tps[0], tps[1], tps[2]);
  llm_backend_destroy(b);
  if (!keep) unlink(path);
  return 0;
}
