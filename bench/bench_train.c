/* Training benchmark: the machine's measured FMA peak (a tight loop of independent fused
 * multiply-adds per thread), the training GEMM's GFLOP/s against it (F32 and a Q4_K operand
 * dequantized on the fly) and the engine's int8 products that the LoRA forward pass runs (the types
 * a Q4_K_M file of width 896 holds: Q5_0/Q8_0 rows of 896, Q4_K down, the Q8_0 tied head), then
 * whole training steps (forward + backward + AdamW) in tokens/s and matrix GFLOP/s: a from-scratch
 * model, and LoRA over a 0.5B-class random Q4_K_M base (Qwen2.5-0.5B shape with a 50k vocabulary,
 * or --vocab 151936 for Qwen2.5's own lm head) with its peak RSS. With
 * --data FILE, the time of one epoch of from-scratch training on that corpus (the demo's).
 * --write-base F writes that random base to F and exits (so a later run's peak RSS is training's
 * alone); --only lora|scratch|gemm runs one part; --seq and --steps size the step runs. Each step
 * run also prints one `RESULT key=value ...` line for scripts (bench/train_side_by_side.sh). Usage:
 *   bench_train [--threads N] [--quick] [--data FILE.jsonl] [--base M.gguf] [--vocab N]
 *               [--seq T] [--steps N] [--only lora|scratch|gemm] [--write-base F.gguf]
 *               [--recompute-ffn] (LoRA: gate/up recomputed by the backward pass)
 *               [--f32-activations] (LoRA: activations kept in float32, not as halves) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/quant.h"
#include "llm/quantize.h"
#include "train/train_int.h"
#include "bench_peak.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double rss_mib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0;
}

/* ---- GEMM ------------------------------------------------------------------------------------ */
static double bench_gemm(compute_pool *p, int64_t M, int64_t N, int64_t K, bool trans_a,
                         bool quant_b, bool trans_b) {
  float *A = xcalloc((size_t)(M * K), sizeof(float)), *C = xcalloc((size_t)(M * N), sizeof(float));
  float *B = xcalloc((size_t)(K * N), sizeof(float));
  for (int64_t i = 0; i < M * K; i++) A[i] = (float)((i * 7) % 13) * 0.01f;
  for (int64_t i = 0; i < K * N; i++) B[i] = (float)((i * 5) % 11) * 0.01f;
  qmat q = {0};
  void *qd = NULL;
  train_mat a = {A, trans_a ? M : K, trans_a, NULL}, b = {B, trans_b ? K : N, trans_b, NULL};
  if (quant_b) { /* logical B (K, N) = q^T with q (N rows, K cols) when trans_b, else q (K rows, N
                    cols) */
    int64_t rows = trans_b ? N : K, cols = trans_b ? K : N;
    size_t rb = tensor_row_bytes(TT_Q4_K, cols);
    qd = xalloc(rb * (size_t)rows);
    for (int64_t r = 0; r < rows; r++)
      if (quant_row(TT_Q4_K, B + r * cols, (char *)qd + (size_t)r * rb, cols)) break;
    q = (qmat){TT_Q4_K, rows, cols, qd, rb};
    b = (train_mat){NULL, 0, trans_b, &q};
  }
  double best = 1e9;
  for (int r = 0; r < 5; r++) {
    double t0 = now_s();
    train__gemm(p, M, N, K, a, b, 1.0f, C, N, false);
    double t = now_s() - t0;
    if (t < best) best = t;
  }
  mem_free(A), mem_free(B), mem_free(C), mem_free(qd);
  return 2.0 * (double)M * (double)N * (double)K / best / 1e9;
}

/* The engine's prompt product y = x W^T (qmat_mul: int8 activations against a W of type `type`,
 * (N, K)) for M rows: the LoRA forward's route, against which the float GEMM's rows compare. */
static double bench_qmat(compute_pool *p, int64_t M, int64_t N, int64_t K, tensor_type type) {
  float *x = xcalloc((size_t)(M * K), sizeof(float)), *y = xcalloc((size_t)(M * N), sizeof(float));
  float *w = xcalloc((size_t)K, sizeof(float));
  size_t rb = tensor_row_bytes(type, K);
  char *qd = xalloc(rb * (size_t)N);
  for (int64_t i = 0; i < M * K; i++) x[i] = (float)((i * 7) % 13) * 0.01f - 0.06f;
  for (int64_t r = 0; r < N; r++) {
    for (int64_t k = 0; k < K; k++) w[k] = (float)(((r + 3) * (k + 5)) % 11) * 0.01f - 0.05f;
    if (quant_row(type, w, qd + (size_t)r * rb, K)) break;
  }
  qmat q = {type, N, K, qd, rb};
  double best = 1e9;
  for (int r = 0; r < 5; r++) {
    double t0 = now_s();
    qmat_mul(p, &q, x, y, M);
    double t = now_s() - t0;
    if (t < best) best = t;
  }
  mem_free(x), mem_free(y), mem_free(w), mem_free(qd);
  return 2.0 * (double)M * (double)N * (double)K / best / 1e9;
}

/* ---- Training steps -------------------------------------------------------------------------- */
/* Times `steps` optimizer steps of one packed sequence of T random tokens (4 samples). */
static void bench_steps(train_model *m, int T, int steps, double peak, const char *label,
                        const char *what) {
  int32_t *tok = xalloc((size_t)T * 4), *tgt = xalloc((size_t)T * 4), *pos = xalloc((size_t)T * 4),
          *seg = xalloc((size_t)T * 4);
  float *logp = xalloc((size_t)T * 4), *dl = xalloc((size_t)T * 4);
  int V = train_model_hparams(m)->n_vocab, per = T / 4;
  uint64_t x = 12345;
  for (int t = 0; t < T; t++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    tok[t] = (int32_t)((x >> 33) % (uint64_t)V);
    seg[t] = t / per * per;
    if (seg[t] > T - 1) seg[t] = T - 1;
    pos[t] = t - seg[t];
  }
  int n_tgt = 0;
  for (int t = 0; t < T; t++) {
    bool last = t == T - 1 || seg[t + 1] != seg[t];
    tgt[t] = last ? -1 : tok[t + 1];
    n_tgt += tgt[t] >= 0;
  }
  for (int t = 0; t < T; t++) dl[t] = tgt[t] >= 0 ? -1.0f / (float)n_tgt : 0;
  train_batch b = {T, tok, tgt, pos, seg, 0};
  train_optim_opts oo = {0};
  oo.total = steps + 1;
  train_optim *opt = NULL;
  if (train_optim_new(m, &oo, &opt)) {
    printf("  %s: %s\n", label, err_msg());
    return;
  }
  double tf = 0, tb = 0, to = 0;
  for (int s = 0; s <= steps; s++) { /* step 0 warms up */
    double t0 = now_s();
    train_model_zero_grad(m);
    /* as the trainer's SFT steps: the loss's log-probs come from the backward pass */
    if (train_model_forward(m, &b, NULL, NULL)) break;
    double t1 = now_s();
    train_model_backward_logp(m, &b, dl, logp);
    double t2 = now_s(), gn;
    if (train_optim_step(opt, m, &gn)) break;
    double t3 = now_s();
    if (s > 0) tf += t1 - t0, tb += t2 - t1, to += t3 - t2;
  }
  double total = tf + tb + to;
  double flops = train_model_flops(m, T, n_tgt) * steps;
  printf("  %-34s %8.1f tokens/s  %7.2f GFLOP/s (%4.1f%% of peak)  fwd %.0f%% bwd %.0f%% adamw "
         "%.0f%%  "
         "peak RSS %.0f MiB\n",
         label, (double)T * steps / total, flops / total / 1e9, 100 * flops / total / 1e9 / peak,
         100 * tf / total, 100 * tb / total, 100 * to / total, rss_mib());
  printf("RESULT what=%s tokens_per_s=%.2f gflops=%.2f peak_pct=%.1f peak_gflops=%.1f "
         "rss_mib=%.0f step_s=%.2f\n",
         what, (double)T * steps / total, flops / total / 1e9, 100 * flops / total / 1e9 / peak,
         peak, rss_mib(), total / steps);
  fflush(stdout);
  train_optim_destroy(opt);
  mem_free(tok), mem_free(tgt), mem_free(pos), mem_free(seg), mem_free(logp), mem_free(dl);
}

int main(int argc, char **argv) {
  int threads = 0, vocab = 0, seq = 0, steps = 0;
  bool quick = false, recompute = false, f32act = false;
  const char *data = NULL, *base = NULL, *only = NULL, *write_base = NULL;
  for (int i = 1; i < argc; i++) {
    int64_t v;
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      if (str_to_i64(argv[++i], &v) || v < 1 || v > 256) return 2;
      threads = (int)v;
    } else if (strcmp(argv[i], "--vocab") == 0 && i + 1 < argc) {
      if (str_to_i64(argv[++i], &v) || v < 1 || v > (1 << 22)) return 2;
      vocab = (int)v;
    } else if (strcmp(argv[i], "--seq") == 0 && i + 1 < argc) {
      if (str_to_i64(argv[++i], &v) || v < 8 || v > 4096) return 2;
      seq = (int)v;
    } else if (strcmp(argv[i], "--steps") == 0 && i + 1 < argc) {
      if (str_to_i64(argv[++i], &v) || v < 1 || v > 1000) return 2;
      steps = (int)v;
    } else if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (strcmp(argv[i], "--recompute-ffn") == 0) {
      recompute = true;
    } else if (strcmp(argv[i], "--f32-activations") == 0) {
      f32act = true;
    } else if (strcmp(argv[i], "--data") == 0 && i + 1 < argc) {
      data = argv[++i];
    } else if (strcmp(argv[i], "--base") == 0 && i + 1 < argc) {
      base = argv[++i];
    } else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) {
      only = argv[++i];
    } else if (strcmp(argv[i], "--write-base") == 0 && i + 1 < argc) {
      write_base = argv[++i];
    } else {
      fprintf(stderr,
              "usage: bench_train [--threads N] [--quick] [--data FILE.jsonl] [--base M.gguf] "
              "[--vocab N] [--seq T] [--steps N] [--only lora|scratch|gemm] "
              "[--write-base F.gguf] [--recompute-ffn] [--f32-activations]\n");
      return 2;
    }
  }
  log_set_level(LOG_WARN);
  compute_pool *p = compute_pool_new(threads);
  int nth = compute_pool_threads(p);
  char made[] = "/tmp/bench-train-base-XXXXXX";
  if (write_base || (!quick && !base && (!only || strcmp(only, "lora") == 0))) {
    const char *out = write_base;
    if (!out) {
      int fd = mkstemp(made);
      if (fd >= 0) close(fd);
      out = made;
    }
    char vfile[512];
    const char *sh = getenv("MIMIC_SHARED");
    snprintf(vfile, sizeof vfile, "%s/testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf",
             sh                               ? sh
             : access("../shared", F_OK) == 0 ? "../shared"
                                              : "../../shared");
    random_model_opts ro = {"qwen2", 896, 24, 14, 2, 4864, 4096, 1, QP_Q4_K_M, vfile, vocab};
    double t0 = now_s();
    if (gguf_make_random(&ro, out, p) == 0) {
      base = out;
      printf("(made a random Q4_K_M base of Qwen2.5-0.5B shape in %.0f s)\n", now_s() - t0);
    } else {
      printf("0.5B-class base: %s (set MIMIC_SHARED to the shared folder)\n", err_msg());
      if (write_base) return 1;
    }
    if (write_base) {
      compute_pool_destroy(p);
      return 0;
    }
  }
  double peak2 = bench_fma_peak(p, 0, 20000000), peak5 = 0;
#if defined(__x86_64__)
  if (__builtin_cpu_supports("avx512f")) peak5 = bench_fma_peak(p, 1, 20000000);
#endif
  const char *kn = train__gemm_kernel();
  double peak = strcmp(kn, "avx512") == 0 ? peak5 : peak2;
  printf("threads %d, gemm kernel %s (load average matters: on a shared machine every figure is "
         "noisy)\n",
         nth, kn);
  printf("FMA peak: AVX2 %.1f GFLOP/s", peak2);
  if (peak5 > 0) printf(", AVX-512 %.1f GFLOP/s", peak5);
  printf(" (all threads, best of 5; percentages below are of the peak of the kernel's ISA)\n\n");

  if (!only || strcmp(only, "gemm") == 0) {
    printf("GEMM (C = A B, GFLOP/s):\n");
    struct {
      int64_t M, N, K;
      bool ta, q, t;
      const char *what;
    } g[] = {
        {256, 896, 896, false, false, true, "forward y = x W^T  (256x896x896, F32 W)"},
        {256, 896, 896, false, false, false, "backward dx = dy W (256x896x896, F32 W)"},
        {256, 896, 896, false, true, false, "backward dx = dy W (256x896x896, Q4_K W)"},
        {896, 896, 256, true, false, false, "weight grad dW = dy^T x (896x896x256)"},
        {256, 4864, 896, false, true, true, "forward FFN (256x4864x896, Q4_K W)"},
        {512, 896, 4864, false, true, false, "backward FFN dx (512x896x4864, Q4_K W)"},
        /* a 0.5B LoRA step's shapes at T = 512 (508 target rows, head blocks of 4,096) */
        {512, 4864, 896, false, true, false, "backward down dx (512x4864x896, Q4_K W)"},
        {508, 4096, 896, false, true, true, "head logits (508x4096x896, Q4_K W)"},
        {508, 896, 4096, false, true, false, "head dz W (508x896x4096, Q4_K W)"},
        {4864, 16, 512, true, false, false, "LoRA dB = dy^T Ax (4864x16x512)"},
        {512, 16, 4864, false, false, false, "LoRA dy B (512x16x4864)"},
        {16, 896, 512, true, false, false, "LoRA dA = (dy B)^T x (16x896x512)"},
        {512, 896, 16, false, false, false, "LoRA dx += (dy B) A (512x896x16)"},
    };
    for (size_t i = 0; i < sizeof g / sizeof g[0]; i++) {
      double gf = bench_gemm(p, g[i].M, g[i].N, g[i].K, g[i].ta, g[i].q, g[i].t);
      printf("  %-44s %7.2f GFLOP/s (%4.1f%% of peak)\n", g[i].what, gf, 100 * gf / peak);
    }
    struct {
      int64_t M, N, K;
      tensor_type t;
      const char *what;
    } e[] = {
        {512, 4864, 896, TT_Q5_0, "engine FFN forward (512x4864x896, Q5_0 W)"},
        {512, 4864, 896, TT_Q8_0, "engine FFN forward (512x4864x896, Q8_0 W)"},
        {512, 896, 4864, TT_Q4_K, "engine down forward (512x896x4864, Q4_K W)"},
        {508, 4096, 896, TT_Q8_0, "engine head logits (508x4096x896, Q8_0 W)"},
    };
    for (size_t i = 0; i < sizeof e / sizeof e[0]; i++) {
      double gf = bench_qmat(p, e[i].M, e[i].N, e[i].K, e[i].t);
      printf("  %-44s %7.2f GFLOP/s (%4.1f%% of peak)\n", e[i].what, gf, 100 * gf / peak);
    }
    printf("\n");
  }

  train_model *m = NULL;
  if (!only || strcmp(only, "scratch") == 0) {
    printf("training steps (forward + backward + AdamW on one packed sequence):\n");
    train_scratch_opts so = {0};
    so.n_layer = 4;
    so.n_embd = 256;
    so.n_head = 8;
    so.n_head_kv = 4;
    int T = seq ? seq : 256;
    if (train_model_new_scratch(&so, 1, T, p, &m) == 0) {
      char label[80];
      snprintf(label, sizeof label, "from scratch L4 E256 (3.5M) T%d", T);
      bench_steps(m, T, steps ? steps : quick ? 2 : 5, peak, label, "scratch");
      train_model_destroy(m);
    } else {
      printf("  %s\n", err_msg());
    }
  }

  if (base && (!only || strcmp(only, "lora") == 0)) {
    int T = seq ? seq : 256;
    train_lora_opts lo = {16, 32, 0, TRAIN_TARGETS_ALL, NULL, recompute, f32act};
    if (train_model_new_lora(base, &lo, 1, T, p, &m) == 0) {
      char label[80];
      const llm_hparams *hp = train_model_hparams(m);
      snprintf(label, sizeof label, "LoRA r16 L%d E%d V%d T%d%s%s", hp->n_layer, hp->n_embd,
               hp->n_vocab, T, recompute ? " (ffn recomputed)" : "", f32act ? " (f32 act.)" : "");
      bench_steps(m, T, steps ? steps : 2, peak, label, "lora");
      train_model_destroy(m);
    } else {
      printf("  %s\n", err_msg());
    }
  }
  if (base == made) unlink(made);

  if (data) {
    train_run_opts o;
    memset(&o, 0, sizeof o);
    o.from_scratch = true;
    o.data = data;
    o.out = "/tmp/bench-train-epoch.gguf";
    o.epochs = 1;
    o.seq_len = 512;
    o.optim.lr = 3e-3f;
    o.ckpt_every = -1;
    o.pool = p;
    train_result r;
    if (train_run(&o, &r) == 0)
      printf("\none epoch from scratch (default shape, seq 512) on %s: %lld steps, %.1f s, %.0f "
             "tokens/s, "
             "loss %.3f -> %.3f\n",
             data, (long long)r.steps, r.seconds, r.tokens_per_s, r.first_loss, r.loss);
    else
      printf("\nepoch on %s: %s\n", data, err_msg());
    const char *junk[] = {"/tmp/bench-train-epoch.gguf", "/tmp/bench-train-epoch.gguf.ckpt",
                          "/tmp/bench-train-epoch.gguf.csv", "/tmp/bench-train-epoch.gguf.svg"};
    for (int i = 0; i < 4; i++) unlink(junk[i]);
  }
  compute_pool_destroy(p);
  return 0;
}
