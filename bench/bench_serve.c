/* Serving benchmark on a ~2 GB model: cold start to first token, resident memory while serving,
 * prompt (pp) and generation (tg) tokens/s at each thread count with generation's share of the
 * memory-bandwidth bound, and aggregate tokens/s with 1, 4 and 8 concurrent conversations through
 * the engine (llm_backend local). Every figure is the median of --reps runs.
 *
 * The model is made once with mimic's own tools and cached: `mimic model make-random` (random
 * weights at Qwen2.5-3B's shapes: width 2048, 36 layers, 16/2 heads, ff 11008, the qwen2 tokenizer
 * padded to 151936 tokens, F16) and then `mimic quantize ... q4_k_m`, in-process (gguf_make_random,
 * gguf_quantize); the F16 intermediate (~6 GB) is deleted. Delete the cached file when done.
 *
 *   bench_serve [--model M.gguf] [--threads 1,2] [--reps 3] [-p 64] [-n 16] [--conv-tokens 16]
 *               [--layers 36] [--width 2048] [--ff 11008] [--no-cold] [--no-engine]
 * Not run by ctest (build with `cmake --build build --target bench`). */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend.h"
#include "llm/model.h"
#include "llm/quant.h"
#include "llm/quantize.h"
#include "bench_bw.h"

#define MAX_REPS    15
#define MAX_THREADS 8

static double now_ms(void) { return (double)clock_mono_ns() / 1e6; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  if (n <= 0) return 0;
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- The model ------------------------------------------------------------------------------- */

static int make_model(const char *path, int width, int layers, int ff) {
  char tok[512], f16[512];
  const char *root = getenv("MIMIC_SHARED") ? getenv("MIMIC_SHARED") : "../shared";
  snprintf(tok, sizeof tok, "%s/testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf", root);
  snprintf(f16, sizeof f16, "%s.f16.gguf", path);
  random_model_opts o = {"qwen2", width, layers, width / 128, 2, ff, 32768, 1, QP_F16, tok, 151936};
  compute_pool *cpool = compute_pool_new(0);
  fprintf(stderr, "bench_serve: writing %s (qwen2 %dx%d, ff %d, vocab 151936, F16)...\n", f16,
          width, layers, ff);
  double t0 = now_ms();
  int rc = gguf_make_random(&o, f16, cpool);
  double t1 = now_ms();
  if (!rc) {
    fprintf(stderr, "bench_serve: %.0f s; quantizing to %s (q4_k_m)...\n", (t1 - t0) / 1e3, path);
    rc = gguf_quantize(f16, path, QP_Q4_K_M, cpool);
    fprintf(stderr, "bench_serve: %.0f s\n", (now_ms() - t1) / 1e3);
  }
  unlink(f16);
  compute_pool_destroy(cpool);
  return rc;
}

/* ---- Memory ---------------------------------------------------------------------------------- */

typedef struct memstat {
  long rss_kb, hwm_kb, anon_kb, file_kb;
} memstat;

static memstat mem_read(void) {
  memstat m = {0, 0, 0, 0};
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return m;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    long *dst = strncmp(line, "VmRSS:", 6) == 0     ? &m.rss_kb
                : strncmp(line, "VmHWM:", 6) == 0   ? &m.hwm_kb
                : strncmp(line, "RssAnon:", 8) == 0 ? &m.anon_kb
                : strncmp(line, "RssFile:", 8) == 0 ? &m.file_kb
                                                    : NULL;
    if (!dst) continue;
    const char *p = strchr(line, ':') + 1;
    while (*p == ' ' || *p == '\t') p++;
    int64_t v = 0;
    char num[32];
    size_t k = 0;
    while (p[k] >= '0' && p[k] <= '9' && k + 1 < sizeof num) {
      num[k] = p[k];
      k++;
    }
    num[k] = '\0';
    if (k && str_to_i64(num, &v) == 0) *dst = (long)v;
  }
  fclose(f);
  return m;
}

/* ---- Cold start ------------------------------------------------------------------------------ */

typedef struct cold_result {
  double load_ms, ctx_ms, first_ms;
  int ok;
} cold_result;

/* In a fresh child process (no page tables, nothing mapped): load, make a context, evaluate one
 * token and produce its logits. drop: evict the file from the page cache first. */
static cold_result cold_start(const char *path, int threads, bool drop) {
  cold_result r = {0, 0, 0, 0};
  if (drop) {
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
      (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
      close(fd);
    }
  }
  int pfd[2];
  if (pipe(pfd)) return r;
  pid_t pid = fork();
  if (pid == 0) {
    close(pfd[0]);
    cold_result c = {0, 0, 0, 0};
    double t0 = now_ms();
    llm_model *m = NULL;
    llm_ctx *ctx = NULL;
    compute_pool *cpool = NULL;
    if (llm_model_load(path, &m) == 0) {
      c.load_ms = now_ms() - t0;
      cpool = compute_pool_new(threads);
      llm_ctx_params cp = {.n_ctx = 512, .n_slots = 1, .n_batch = 64, .pool = cpool};
      if (llm_ctx_new(m, &cp, &ctx) == 0) {
        c.ctx_ms = now_ms() - t0;
        float *logits = xalloc((size_t)llm_model_hparams(m)->n_vocab * sizeof *logits);
        int32_t tok = 1;
        if (llm_forward(ctx, 0, &tok, 1, 0, NULL, 1, logits, LLM_LOGITS_LAST) == 0) {
          c.first_ms = now_ms() - t0;
          c.ok = 1;
        }
        mem_free(logits);
      }
    }
    if (!c.ok) fprintf(stderr, "cold start: %s\n", err_msg());
    ssize_t w = write(pfd[1], &c, sizeof c);
    (void)w;
    _exit(0);
  }
  close(pfd[1]);
  if (pid > 0) {
    if (read(pfd[0], &r, sizeof r) != (ssize_t)sizeof r) r.ok = 0;
    waitpid(pid, NULL, 0);
  }
  close(pfd[0]);
  return r;
}

/* ---- Bandwidth ------------------------------------------------------------------------------- */

/* Memory read bandwidth: bench_bw.h. */
static double measure_bandwidth(compute_pool *cpool) {
  return bench_read_bandwidth(cpool, (size_t)1 << 29, 5);
}

/* ---- Engine: concurrent conversations -------------------------------------------------------- */

typedef struct waitall {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int left, errors;
  long tokens;
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

/* n conversations at once; returns generated tokens / wall time (prompts included) and, in *decode,
 * tokens / the longest generation phase (the conversations decode side by side). */
static double run_concurrent(llm_backend *b, int n, int tokens, int round, double *decode) {
  waitall w = {.left = n};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  double t0 = now_ms();
  for (int i = 0; i < n; i++) {
    char prompt[256], key[32];
    snprintf(prompt, sizeof prompt,
             "conversation %d, round %d: tell me about the weather in city %d today", i, round,
             i * 31 + round);
    snprintf(key, sizeof key, "c%d", i);
    llm_request r;
    llm_request_init(&r);
    r.prompt = prompt;
    r.max_tokens = tokens;
    r.min_tokens = tokens; /* random weights: never stop early */
    r.sampling.seed = (uint64_t)(i + 1);
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
  double s = (now_ms() - t0) / 1e3;
  pthread_mutex_destroy(&w.mu);
  pthread_cond_destroy(&w.cv);
  *decode = w.errors || w.max_gen_ms <= 0 ? 0 : (double)w.tokens / (w.max_gen_ms / 1e3);
  return w.errors ? 0 : (double)w.tokens / s;
}

/* ---- Main ------------------------------------------------------------------------------------ */

static int parse_list(const char *s, int *out, int max) {
  int n = 0;
  char tmp[16];
  while (*s && n < max) {
    size_t k = 0;
    while (s[k] && s[k] != ',' && k + 1 < sizeof tmp) {
      tmp[k] = s[k];
      k++;
    }
    tmp[k] = '\0';
    int64_t v;
    if (str_to_i64(tmp, &v) || v < 1 || v > MAX_THREADS) return -1;
    out[n++] = (int)v;
    s += k;
    if (*s == ',') s++;
  }
  return n;
}

int main(int argc, char **argv) {
  const char *path = "/tmp/mimic-bench-qwen2-2048x36-q4km.gguf";
  int threads[MAX_THREADS] = {1, 2}, n_threads = 2;
  int64_t reps = 3, n_pp = 64, n_tg = 16, conv_tokens = 16, layers = 36, width = 2048, ff = 11008;
  bool cold = true, engine = true;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int rc = 0;
    if (strcmp(a, "--no-cold") == 0) {
      cold = false;
      continue;
    }
    if (strcmp(a, "--no-engine") == 0) {
      engine = false;
      continue;
    }
    if (!v)
      rc = -1;
    else if (strcmp(a, "--model") == 0)
      path = v;
    else if (strcmp(a, "--threads") == 0)
      rc = (n_threads = parse_list(v, threads, MAX_THREADS)) > 0 ? 0 : -1;
    else if (strcmp(a, "--reps") == 0)
      rc = str_to_i64(v, &reps) || reps < 1 || reps > MAX_REPS;
    else if (strcmp(a, "-p") == 0)
      rc = str_to_i64(v, &n_pp) || n_pp < 1 || n_pp > 4096;
    else if (strcmp(a, "-n") == 0)
      rc = str_to_i64(v, &n_tg) || n_tg < 1 || n_tg > 4096;
    else if (strcmp(a, "--conv-tokens") == 0)
      rc = str_to_i64(v, &conv_tokens) || conv_tokens < 1 || conv_tokens > 1024;
    else if (strcmp(a, "--layers") == 0)
      rc = str_to_i64(v, &layers) || layers < 1 || layers > 128;
    else if (strcmp(a, "--width") == 0)
      rc = str_to_i64(v, &width) || width < 256 || width > 16384 || width % 256;
    else if (strcmp(a, "--ff") == 0)
      rc = str_to_i64(v, &ff) || ff < 256 || ff > 65536 || ff % 256;
    else
      rc = -1;
    if (rc) {
      fprintf(stderr,
              "usage: bench_serve [--model M.gguf] [--threads 1,2] [--reps 3] [-p 64] [-n 16] "
              "[--conv-tokens 16] [--layers 36] [--width 2048] [--ff 11008] [--no-cold] "
              "[--no-engine]\n");
      return 2;
    }
    i++;
  }
  log_set_level(LOG_WARN);
  if (access(path, R_OK) != 0) {
    if (make_model(path, (int)width, (int)layers, (int)ff)) {
      fprintf(stderr, "bench_serve: %s\n", err_msg());
      return 1;
    }
    /* Start again in a fresh process, so the memory figures do not include the model's making. */
    execv("/proc/self/exe", argv);
  }
  struct stat st;
  if (stat(path, &st)) {
    fprintf(stderr, "bench_serve: cannot stat %s\n", path);
    return 1;
  }
  int max_threads = 1;
  for (int i = 0; i < n_threads; i++)
    if (threads[i] > max_threads) max_threads = threads[i];

  /* 1. Cold start, in child processes, before this process starts any thread. */
  if (cold) {
    for (int drop = 1; drop >= 0; drop--) {
      double load[MAX_REPS], ctx[MAX_REPS], first[MAX_REPS];
      int ok = 0;
      for (int r = 0; r < reps; r++) {
        cold_result c = cold_start(path, max_threads, drop);
        if (!c.ok) continue;
        load[ok] = c.load_ms;
        ctx[ok] = c.ctx_ms;
        first[ok++] = c.first_ms;
      }
      printf("cold start (%s page cache), %d threads: load %.1f ms, +context %.1f ms, first token "
             "%.0f ms "
             "(median of %d)\n",
             drop ? "file evicted from the" : "file in the", max_threads, median(load, ok),
             median(ctx, ok), median(first, ok), ok);
    }
  }

  llm_model *m = NULL;
  if (llm_model_load(path, &m)) {
    fprintf(stderr, "bench_serve: %s\n", err_msg());
    return 1;
  }
  const llm_hparams *hp = llm_model_hparams(m);
  double bytes = (double)llm_model_bytes_per_token(m);
  printf("model      %s: %.2f GB file, qwen2 %d layers, width %d, ff %d, vocab %d, %.2f GB of "
         "weights read "
         "per token\n",
         path, (double)st.st_size / 1e9, hp->n_layer, hp->n_embd, hp->n_ff, hp->n_vocab,
         bytes / 1e9);
  printf("kernels    %s\n", qmat_kernels_name());

  /* 2. The engine: 1, 4 and 8 concurrent conversations; memory while serving. */
  if (engine) {
    int slots = 8, ctx_len = 256;
    llm_local_opts o = {.model_path = path,
                        .threads = max_threads,
                        .slots = slots,
                        .ctx = ctx_len,
                        .batch = 512,
                        .queue_max = 16};
    llm_backend *b = NULL;
    if (llm_backend_local_new(&o, &b)) {
      fprintf(stderr, "bench_serve: %s\n", err_msg());
      return 1;
    }
    double d;
    run_concurrent(b, 1, 2, 0, &d); /* page the weights in */
    const int conc[] = {1, 4, 8};
    for (int i = 0; i < 3; i++) {
      double wall[MAX_REPS], dec[MAX_REPS];
      for (int r = 0; r < reps; r++)
        wall[r] = run_concurrent(b, conc[i], (int)conv_tokens, 1 + i * MAX_REPS + r, &dec[r]);
      double mw = median(wall, (int)reps), md = median(dec, (int)reps);
      printf("engine     %d conversation%s, %d threads: %.2f tokens/s decoding (%.2f each), %.2f "
             "with prompts\n",
             conc[i], conc[i] > 1 ? "s" : "", max_threads, md, md / conc[i], mw);
    }
    memstat ms = mem_read();
    size_t kvd = (size_t)hp->n_head_kv * (size_t)hp->head_dim;
    double kv_all = (double)slots * ctx_len * hp->n_layer * 2.0 * (double)kvd * 4;
    printf("memory     serving 8 slots x %d positions: VmRSS %.0f MiB (file-backed %.0f, anonymous "
           "%.0f), VmHWM "
           "%.0f MiB; file %.0f MiB + KV cache %.0f MiB = %.0f MiB\n",
           ctx_len, ms.rss_kb / 1024.0, ms.file_kb / 1024.0, ms.anon_kb / 1024.0,
           ms.hwm_kb / 1024.0, (double)st.st_size / 1048576.0, kv_all / 1048576.0,
           ((double)st.st_size + kv_all) / 1048576.0);
    llm_backend_destroy(b);
  }

  /* 3. pp and tg per thread count, and the bandwidth bound. */
  int32_t *toks = xalloc((size_t)(n_pp + n_tg) * sizeof *toks);
  for (int64_t i = 0; i < n_pp + n_tg; i++) toks[i] = (int32_t)((i * 7919 + 13) % hp->n_vocab);
  float *logits = xalloc((size_t)hp->n_vocab * sizeof *logits);
  for (int ti = 0; ti < n_threads; ti++) {
    compute_pool *cpool = compute_pool_new(threads[ti]);
    llm_ctx *c = NULL;
    llm_ctx_params cp = {.n_ctx = (int)(n_pp + n_tg), .n_slots = 1, .n_batch = 512, .pool = cpool};
    if (llm_ctx_new(m, &cp, &c)) {
      fprintf(stderr, "bench_serve: %s\n", err_msg());
      return 1;
    }
    double pp[MAX_REPS], tg[MAX_REPS];
    if (llm_forward(c, 0, toks, 4, 0, NULL, 1, logits, LLM_LOGITS_LAST)) return 1; /* warm */
    for (int r = 0; r < reps; r++) {
      llm_slot_clear(c, 0);
      double t0 = now_ms();
      if (llm_forward(c, 0, toks, (int)n_pp, 0, NULL, 1, logits, LLM_LOGITS_LAST)) return 1;
      pp[r] = (double)n_pp / ((now_ms() - t0) / 1e3);
      t0 = now_ms();
      for (int64_t i = 0; i < n_tg; i++)
        if (llm_slot_decode(c, 0, &toks[n_pp + i], 1, NULL, 1, logits)) return 1;
      tg[r] = (double)n_tg / ((now_ms() - t0) / 1e3);
    }
    /* Steady batched decoding: one token for each of B conversations per step, read-once weights.
     */
    double agg[3] = {0, 0, 0};
    const int bs[3] = {1, 4, 8};
    llm_ctx *cb = NULL;
    llm_ctx_params bp = {
        .n_ctx = (int)(n_pp + n_tg + 8), .n_slots = 8, .n_batch = 512, .pool = cpool};
    if (llm_ctx_new(m, &bp, &cb)) {
      fprintf(stderr, "bench_serve: %s\n", err_msg());
      return 1;
    }
    float *lb = xalloc((size_t)8 * (size_t)hp->n_vocab * sizeof *lb);
    for (int s8 = 0; s8 < 8; s8++)
      if (llm_forward(cb, s8, toks + s8, (int)n_pp / 4, 0, NULL, 1, lb, LLM_LOGITS_LAST)) return 1;
    for (int k = 0; k < 3; k++) {
      double v[MAX_REPS];
      for (int r = 0; r < reps; r++) {
        llm_batch_item items[8];
        double t0 = now_ms();
        int steps = (int)(n_tg / 2 > 2 ? n_tg / 2 : 2);
        for (int step = 0; step < steps; step++) {
          for (int i = 0; i < bs[k]; i++)
            items[i] = (llm_batch_item){.slot = i,
                                        .token = toks[(step * 8 + i) % n_pp],
                                        .lora = NULL,
                                        .lora_scale = 1,
                                        .logits = lb + (size_t)i * hp->n_vocab};
          if (llm_forward_batch(cb, items, bs[k])) return 1;
        }
        v[r] = (double)steps * bs[k] / ((now_ms() - t0) / 1e3);
        for (int i = 0; i < bs[k];
             i++) /* drop what the steps added (no evaluation), for the next rep */
          if (llm_forward(cb, i, toks, 0, (int)n_pp / 4, NULL, 1, NULL, LLM_LOGITS_NONE)) return 1;
      }
      agg[k] = median(v, (int)reps);
    }
    mem_free(lb);
    llm_ctx_destroy(cb);
    double bw = measure_bandwidth(cpool);
    double mpp = median(pp, (int)reps), mtg = median(tg, (int)reps);
    printf("threads %d  pp%lld %.2f tokens/s, tg%lld %.2f tokens/s; streaming read %.1f GB/s, "
           "bound %.2f tokens/s, "
           "tg at %.0f%% of it\n",
           threads[ti], (long long)n_pp, mpp, (long long)n_tg, mtg, bw / 1e9, bw / bytes,
           100.0 * mtg * bytes / bw);
    printf("           batched decoding, model API: 1 / 4 / 8 conversations %.2f / %.2f / %.2f "
           "tokens/s\n",
           agg[0], agg[1], agg[2]);
    llm_ctx_destroy(c);
    compute_pool_destroy(cpool);
  }
  mem_free(logits);
  mem_free(toks);
  llm_model_destroy(m);
  return 0;
}
