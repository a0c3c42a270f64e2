/* Sentence-embedding throughput: a random-weight BERT at bge-small-en-v1.5's real shapes (width
 * 384, 12 layers, 12 heads, FFN 1536, vocabulary 30522, context 512) written with mimic's own GGUF
 * writer in F16 and Q8_0, then a batch of short Discord-length texts (8 to 40 tokens each) embedded
 * at 1 and 2 threads: texts/s, tokens/s, and the matrix GFLOP/s against the machine's FMA peak
 * measured in the same run (a tight loop of independent fused multiply-adds per thread). Medians
 * of several runs. The model files stay in --dir, so llama.cpp's llama-embedding can be run on the
 * same file (the command is printed). Usage:
 *   bench_embed [--texts N] [--runs R] [--threads-max T] [--dir DIR] [--tiny] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "embed/embed.h"
#include "embed/tiny_bert.h"
#include "llm/compute_pool.h"
#include "llm/quant.h"
#include "bench_peak.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the whole process (all threads): on a shared machine, work per CPU second is
 * steadier than wall time. */
static double cpu_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* "▁" + letters: the synthetic vocabulary's words (tiny_bert.h); one token each. */
static void word_of(long w, char *out) {
  char rev[16];
  int len = 0;
  for (long x = w + 27; x > 0; x = (x - 1) / 26) rev[len++] = (char)('a' + (x - 1) % 26);
  for (int i = 0; i < len; i++) out[i] = rev[len - 1 - i];
  out[len] = 0;
}

int main(int argc, char **argv) {
  int n_texts = 256, runs = 5, tmax = 2;
  bool tiny = false;
  const char *dir = "/tmp";
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--texts") && i + 1 < argc)
      n_texts = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
      runs = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--threads-max") && i + 1 < argc)
      tmax = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--dir") && i + 1 < argc)
      dir = argv[++i];
    else if (!strcmp(argv[i], "--tiny"))
      tiny = true;
    else {
      fprintf(stderr,
              "usage: bench_embed [--texts N] [--runs R] [--threads-max T] [--dir DIR] [--tiny]\n");
      return 2;
    }
  }
  if (n_texts < 1 || runs < 1 || tmax < 1) return 2;
  tiny_bert_spec s = {.n_embd = 384,
                      .n_layer = 12,
                      .n_head = 12,
                      .n_ff = 1536,
                      .n_ctx = 512,
                      .n_vocab = 30522,
                      .pooling = 2,
                      .seed = 42};
  if (tiny) { /* a smoke run: the same code at a toy size */
    s.n_embd = 64;
    s.n_layer = 2;
    s.n_head = 2;
    s.n_ff = 256;
    s.n_vocab = 2000;
  }
  /* texts of 6..38 words, i.e. 8..40 tokens with [CLS] and [SEP] */
  prng r;
  prng_seed(&r, 7);
  char **texts = xcalloc((size_t)n_texts, sizeof *texts);
  long n_tok = 0;
  double attn_flops = 0;
  int n_words = s.n_vocab - 5 - 2 * 94;
  for (int i = 0; i < n_texts; i++) {
    int words = 6 + (int)prng_below(&r, 33);
    buf b;
    buf_init(&b, 0);
    for (int w = 0; w < words; w++) {
      char word[16];
      word_of((long)prng_below(&r, (uint64_t)n_words), word);
      if ((w && buf_putc(&b, ' ')) || buf_puts(&b, word)) return 1;
    }
    texts[i] = buf_steal(&b);
    long L = words + 2;
    n_tok += L;
    attn_flops += 4.0 * (double)L * (double)L * s.n_embd * s.n_layer; /* q.k and p.v */
  }
  double mat_flops =
      2.0 * (double)n_tok * s.n_layer * (4.0 * s.n_embd * s.n_embd + 2.0 * s.n_embd * s.n_ff);
  const char *ks = qmat_kernels_name();
  int wide = strcmp(ks, "avx512vnni") == 0;
  long iters = tiny ? 2000000 : 20000000;
  printf("bench_embed: %s shapes (width %d, %d layers, %d heads, ffn %d, vocab %d), %d texts, "
         "%ld tokens (%.1f per text), kernels %s\n",
         tiny ? "toy" : "bge-small-en-v1.5", s.n_embd, s.n_layer, s.n_head, s.n_ff, s.n_vocab,
         n_texts, n_tok, (double)n_tok / n_texts, ks);
  printf("work per batch: %.2f GFLOP in matrices + %.3f GFLOP in attention\n", mat_flops / 1e9,
         attn_flops / 1e9);
  double peak[257] = {0};
  for (int t = 1; t <= tmax && t <= 256; t++) {
    compute_pool *pp = compute_pool_new(t);
    peak[t] = bench_fma_peak(pp, wide, iters);
    compute_pool_destroy(pp);
    printf("FMA peak, %d thread%s (%s): %.1f GFLOP/s\n", t, t == 1 ? "" : "s",
           wide ? "AVX-512" : "AVX2", peak[t]);
  }
  const tensor_type types[] = {TT_F16, TT_Q8_0};
  const char *names[] = {"f16", "q8_0"};
  double *times = xcalloc((size_t)runs, sizeof *times), *cpus = xcalloc((size_t)runs, sizeof *cpus);
  printf("\n| type | threads | texts/s | tokens/s | GFLOP/s | %% of FMA peak | tokens per CPU-s |\n"
         "| --- | --- | --- | --- | --- | --- | --- |\n");
  for (int k = 0; k < 2; k++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/bench-embed-%s%s.gguf", dir, tiny ? "toy-" : "bge-small-",
             names[k]);
    s.wtype = types[k];
    if (tiny_bert_write(path, &s)) {
      fprintf(stderr, "bench_embed: %s\n", err_msg());
      return 1;
    }
    for (int t = 1; t <= tmax; t++) {
      embed_opts o = {.threads = t, .max_batch = n_texts};
      embed_model *m = embed_open(path, &o);
      if (!m) {
        fprintf(stderr, "bench_embed: %s\n", err_msg());
        return 1;
      }
      float *out = xcalloc((size_t)n_texts * (size_t)embed_dim(m), sizeof *out);
      if (embed_texts(m, (const char *const *)texts, (size_t)n_texts, true, out)) { /* warm-up */
        fprintf(stderr, "bench_embed: %s\n", err_msg());
        return 1;
      }
      for (int rr = 0; rr < runs; rr++) {
        double t0 = now_s(), c0 = cpu_s();
        if (embed_texts(m, (const char *const *)texts, (size_t)n_texts, true, out)) return 1;
        times[rr] = now_s() - t0;
        cpus[rr] = cpu_s() - c0;
      }
      qsort(times, (size_t)runs, sizeof *times, cmp_double);
      qsort(cpus, (size_t)runs, sizeof *cpus, cmp_double);
      double med = times[runs / 2], gf = (mat_flops + attn_flops) / med / 1e9;
      printf("| %s | %d | %.1f | %.0f | %.1f | %.0f %% | %.0f |\n", names[k], t, n_texts / med,
             (double)n_tok / med, gf, 100.0 * gf / peak[t], (double)n_tok / cpus[runs / 2]);
      fflush(stdout);
      mem_free(out);
      embed_close(m);
    }
    printf("  model: %s\n", path);
  }
  char tp[4096], op[4096];
  snprintf(tp, sizeof tp, "%s/bench-embed-texts.txt", dir);
  snprintf(op, sizeof op, "%s/bench-embed-one.txt", dir);
  FILE *f = fopen(tp, "w"), *f1 = fopen(op, "w");
  if (f) {
    for (int i = 0; i < n_texts; i++) fprintf(f, "%s\n", texts[i]);
    fclose(f);
  }
  if (f1) {
    fprintf(f1, "%s\n", texts[0]);
    fclose(f1);
  }
  const char *pre = tiny ? "toy-" : "bge-small-";
  printf("\nllama.cpp on the same files and texts (one per line), all in one batch, per type and "
         "thread count T:\n"
         "  /usr/bin/time -f '%%e s wall, %%U s user' llama-embedding -m "
         "%s/bench-embed-%sf16.gguf -f %s -t T -b 16384 -ub 16384 --embd-normalize 2 "
         "--embd-output-format array > /dev/null\n"
         "then the same with -f %s (one text: the model's load and warm-up) and subtract; "
         "tokens: the 'batch_decode: n_tokens' it logs. Likewise for %s/bench-embed-%sq8_0.gguf. "
         "On a shared machine compare tokens per CPU second (user time) with the last column.\n",
         dir, pre, tp, op, dir, pre);
  for (int i = 0; i < n_texts; i++) mem_free(texts[i]);
  mem_free(texts);
  mem_free(times);
  mem_free(cpus);
  return 0;
}
