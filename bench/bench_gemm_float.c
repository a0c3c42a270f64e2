/* Float-weight prompt product microbenchmark (llm/gemm_float.c): GFLOP/s of llm__gemm_float_with
 * on this CPU's best set, per weight type (F32, F16, BF16) and matrix shape, T activation rows,
 * N threads, weight packing included (as a prompt pays it). Default shapes: the Qwen2.5-1.5B
 * layer's matrices (q/o 1536x1536, k/v 256x1536, gate/up 8960x1536 as one call, down 1536x8960)
 * and the 3B's gate/up and down (11008x2048, 2048x11008). Usage:
 *   bench_gemm_float [--types F16,BF16,F32] [--tokens T] [--threads N] [--reps N]
 *                    [--shape ROWSxCOLS[xMATRICES]] ... [--cpu]
 * Prints one line per (type, shape): ms per call (best of the repetitions) and GFLOP/s; --cpu
 * times the process's CPU time instead of the wall clock (use it with --threads 1). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "llm/compute_pool.h"
#include "llm/kernels_int.h"
#include "llm/quant.h"
#include "bench_util.h"

#define GF_MAX_W_BENCH 8

/* Wall-clock time, or with --cpu the process's CPU time (steadier on a shared machine; with one
 * thread it is the product's own time). */
static bool cpu_clock;
static double now_s(void) {
  struct timespec ts;
  clock_gettime(cpu_clock ? CLOCK_PROCESS_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct shape {
  int64_t rows, cols;
  int n; /* matrices of this shape in one call (gate and up: 2) */
} shape;

static void run(const llm_gemm_ops *ops, compute_pool *cp, tensor_type t, shape s, int64_t T,
                int reps) {
  size_t rb = tensor_row_bytes(t, s.cols);
  float *row = xalloc((size_t)s.cols * sizeof *row);
  qmat q[GF_MAX_W_BENCH];
  const qmat *wl[GF_MAX_W_BENCH];
  float *y[GF_MAX_W_BENCH];
  for (int k = 0; k < s.n; k++) {
    uint8_t *d = xalloc(rb * (size_t)s.rows);
    for (int64_t r = 0; r < s.rows; r++) {
      for (int64_t i = 0; i < s.cols; i++) row[i] = bench_frand() * 0.05f;
      if (quant_row(t, row, d + (size_t)r * rb, s.cols)) memset(d + (size_t)r * rb, 0, rb);
    }
    q[k] = (qmat){t, s.rows, s.cols, d, rb};
    wl[k] = &q[k];
    y[k] = xalloc((size_t)(T * s.rows) * sizeof *y[k]);
  }
  float *x = xalloc((size_t)(T * s.cols) * sizeof *x);
  for (int64_t i = 0; i < T * s.cols; i++) x[i] = bench_frand();
  double best = 1e30;
  for (int r = 0; r <= reps; r++) { /* the first run warms the caches and scratch */
    double t0 = now_s();
    if (!llm__gemm_float_with(ops, llm__scratch, cp, s.n, wl, x, y, T)) {
      printf("%-5s %6lldx%-6lld x%d: not covered\n", tensor_type_get((int)t).name,
             (long long)s.rows, (long long)s.cols, s.n);
      best = 0;
      break;
    }
    double dt = now_s() - t0;
    if (r && dt < best) best = dt;
  }
  if (best > 0) {
    double flop = 2.0 * (double)T * (double)s.rows * (double)s.cols * s.n;
    printf("%-5s %6lldx%-6lld x%d T=%lld: %8.2f ms  %6.1f GFLOP/s\n", tensor_type_get((int)t).name,
           (long long)s.rows, (long long)s.cols, s.n, (long long)T, best * 1e3, flop / best * 1e-9);
  }
  for (int k = 0; k < s.n; k++) {
    mem_free((void *)q[k].data);
    mem_free(y[k]);
  }
  mem_free(x);
  mem_free(row);
}

int main(int argc, char **argv) {
  const char *types = "F16,BF16,F32";
  int64_t T = 512;
  int threads = 2, reps = 3, n_shapes = 0;
  shape shapes[16];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--cpu")) {
      cpu_clock = true;
      continue;
    }
    if (!v) {
      fprintf(stderr, "bench_gemm_float: %s needs a value\n", a);
      return 2;
    }
    if (!strcmp(a, "--types"))
      types = v;
    else if (!strcmp(a, "--tokens"))
      T = strtoll(v, NULL, 10);
    else if (!strcmp(a, "--threads"))
      threads = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--reps"))
      reps = (int)strtol(v, NULL, 10);
    else if (!strcmp(a, "--shape") && n_shapes < 16) {
      long long r = 0, c = 0;
      int n = 1;
      if (sscanf(v, "%lldx%lldx%d", &r, &c, &n) < 2 || r < 1 || c < 1 || n < 1 ||
          n > GF_MAX_W_BENCH) {
        fprintf(stderr, "bench_gemm_float: --shape ROWSxCOLS[xMATRICES]\n");
        return 2;
      }
      shapes[n_shapes++] = (shape){r, c, n};
    } else {
      fprintf(stderr, "bench_gemm_float: unknown option %s\n", a);
      return 2;
    }
    i++;
  }
  if (!n_shapes) {
    static const shape def[] = {{1536, 1536, 1}, {256, 1536, 2},   {8960, 1536, 2},
                                {1536, 8960, 1}, {11008, 2048, 2}, {2048, 11008, 1}};
    n_shapes = (int)(sizeof def / sizeof def[0]);
    memcpy(shapes, def, sizeof def);
  }
  if (T < 1 || threads < 1 || reps < 1) {
    fprintf(stderr, "bench_gemm_float: tokens, threads and reps must be positive\n");
    return 2;
  }
  const llm_gemm_ops *ops = llm__gemm_ops(LLM_GEMM_AVX2);
  if (!ops) ops = llm__gemm_ops(LLM_GEMM_PORTABLE);
  printf("set %s, %d threads, best of %d (%s time)\n", ops->name, threads, reps,
         cpu_clock ? "CPU" : "wall");
  compute_pool *cp = compute_pool_new(threads);
  static const tensor_type all[] = {TT_F16, TT_BF16, TT_F32};
  for (size_t k = 0; k < sizeof all / sizeof all[0]; k++) {
    if (!bench_listed(types, tensor_type_get((int)all[k]).name)) continue;
    for (int s = 0; s < n_shapes; s++) run(ops, cp, all[k], shapes[s], T, reps);
  }
  compute_pool_destroy(cp);
  llm__scratch_release();
  return 0;
}
