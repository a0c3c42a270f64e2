/* Prompt kernel microbenchmark: per weight type, the packed eight-row strips (llm_gemm8, packing
 * included) against the four-activation-row dots they replace (llm__dot4, or the repacked gemm
 * order's dot4x4), on one tile of weight rows and T activation rows, one thread; checks that both
 * give the same bits. Usage:
 *   bench_gemm8 [--rows R] [--cols C] [--tokens T] [--reps N] [--types Q6_K,Q8_0,...]
 *               [--path both|dot4|gemm8]
 * For instruction counts, run one path under callgrind and count only its function:
 *   valgrind --tool=callgrind --toggle-collect=bench_gemm8_path \
 *     build/bench_gemm8 --path gemm8 --types Q6_K --reps 1 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "llm/kernels_int.h"
#include "llm/quant.h"
#include "bench_util.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct bench_case {
  tensor_type t;
  llm_order o;
  const uint8_t *w, *a;
  size_t rb, arow;
  int64_t rows, cols, T;
  float *y;
} bench_case;

/* The path before the strips: dot4 (plain order) or dot4x4 (the gemm order) over every row and
 * group of four tokens, as qmat_mul's tile loop runs them. */
__attribute__((noinline)) void bench_gemm8_path_dot4(const bench_case *c);
__attribute__((noinline)) void bench_gemm8_path_dot4(const bench_case *c) {
  vec_dot4_fn d4 = llm__dot4_order(c->t, c->o);
  vec_dot4x4_fn d16 = llm__dot4x4_order(c->t, c->o);
  for (int64_t t = 0; t + 4 <= c->T; t += 4) {
    const uint8_t *a = c->a + (size_t)t * c->arow;
    for (int64_t r = 0; r < c->rows;) {
      if (d16 && r + 4 <= c->rows) {
        float o[16];
        d16(c->w + (size_t)r * c->rb, c->rb, a, c->arow, c->cols, o);
        for (int q = 0; q < 4; q++) memcpy(c->y + (t + q) * c->rows + r, o + 4 * q, 16);
        r += 4;
      } else {
        float o[4];
        d4(c->w + (size_t)r * c->rb, a, c->arow, c->cols, o);
        for (int q = 0; q < 4; q++) c->y[(t + q) * c->rows + r] = o[q];
        r++;
      }
    }
  }
}

/* The strips: each eight rows packed once, then run against every group of four tokens. */
__attribute__((noinline)) void bench_gemm8_path_gemm8(const bench_case *c, uint8_t *pk);
__attribute__((noinline)) void bench_gemm8_path_gemm8(const bench_case *c, uint8_t *pk) {
  const llm_gemm8 *g8 = llm__gemm8_order(c->t, c->o);
  for (int64_t r = 0; r + 8 <= c->rows; r += 8) {
    g8->pack(c->w + (size_t)r * c->rb, c->rb, c->cols, pk);
    for (int64_t t = 0; t + 4 <= c->T; t += 4) {
      float o[32];
      g8->gemm(pk, c->a + (size_t)t * c->arow, c->arow, c->cols, o);
      for (int q = 0; q < 4; q++) memcpy(c->y + (t + q) * c->rows + r, o + 8 * q, 32);
    }
  }
}

int main(int argc, char **argv) {
  int64_t rows = 256, cols = 1536, T = 64, reps = 20;
  const char *only = NULL, *path = "both";
  for (int i = 1; i + 1 < argc; i += 2) {
    int64_t v = 0;
    bool num = str_to_i64(argv[i + 1], &v) == 0 && v > 0;
    if (strcmp(argv[i], "--rows") == 0 && num)
      rows = (v + 7) / 8 * 8;
    else if (strcmp(argv[i], "--cols") == 0 && num)
      cols = (v + 255) / 256 * 256;
    else if (strcmp(argv[i], "--tokens") == 0 && num)
      T = (v + 3) / 4 * 4;
    else if (strcmp(argv[i], "--reps") == 0 && num)
      reps = v;
    else if (strcmp(argv[i], "--types") == 0)
      only = argv[i + 1];
    else if (strcmp(argv[i], "--path") == 0)
      path = argv[i + 1];
    else {
      fprintf(stderr, "bench_gemm8: unknown option %s\n", argv[i]);
      return 2;
    }
  }
  bool run_d4 = strcmp(path, "gemm8") != 0, run_g8 = strcmp(path, "dot4") != 0;
  printf("kernels %s, one thread, %lld rows x %lld columns, T = %lld, %lld reps\n",
         qmat_kernels_name(), (long long)rows, (long long)cols, (long long)T, (long long)reps);
  printf("%-5s %-5s | %12s %12s | %7s %s\n", "type", "order", "dot4 GFLOP/s", "gemm8 GFLOP/s",
         "speedup", "bits");
  static const tensor_type types[] = {TT_Q6_K, TT_Q5_K, TT_Q8_0, TT_Q5_0, TT_Q4_K, TT_Q4_0};
  float *tmp = xalloc((size_t)cols * sizeof *tmp);
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    tensor_type t = types[k], at = llm__act_type(t);
    if (!bench_listed(only, tensor_type_get((int)t).name)) continue;
    bench_case c = {t,
                    LLM_ORDER_PLAIN,
                    NULL,
                    NULL,
                    tensor_row_bytes(t, cols),
                    tensor_row_bytes(at, cols),
                    rows,
                    cols,
                    T,
                    NULL};
    if (!llm__gemm8_order(t, c.o)) c.o = LLM_ORDER_GEMM; /* Q4_K, Q4_0: the repacked order */
    const llm_gemm8 *g8 = llm__gemm8_order(t, c.o);
    if (!g8 || (!llm__dot4_order(t, c.o) && !llm__dot4x4_order(t, c.o))) {
      printf("%-5s       | no strips or four-row dots on this CPU\n", tensor_type_get((int)t).name);
      continue;
    }
    uint8_t *w = xalloc(c.rb * (size_t)rows), *a = xalloc(c.arow * (size_t)T);
    for (int64_t r = 0; r < rows; r++) {
      for (int64_t i = 0; i < cols; i++) tmp[i] = bench_frand();
      if (quant_row(t, tmp, w + (size_t)r * c.rb, cols) != 0) return 1;
    }
    for (int64_t q = 0; q < T; q++) {
      for (int64_t i = 0; i < cols; i++) tmp[i] = bench_frand();
      llm__quant_act_row(at, tmp, a + (size_t)q * c.arow, cols);
    }
    c.w = w;
    c.a = a;
    float *y1 = xcalloc((size_t)(T * rows), sizeof *y1), *y2 = xcalloc((size_t)(T * rows), 4);
    uint8_t *pk = xalloc(g8->bytes(cols));
    double flop = 2.0 * (double)rows * (double)cols * (double)T * (double)reps, s1 = 0, s2 = 0;
    if (run_d4) {
      c.y = y1;
      double t0 = now_s();
      for (int64_t r = 0; r < reps; r++) bench_gemm8_path_dot4(&c);
      s1 = now_s() - t0;
    }
    if (run_g8) {
      c.y = y2;
      double t0 = now_s();
      for (int64_t r = 0; r < reps; r++) bench_gemm8_path_gemm8(&c, pk);
      s2 = now_s() - t0;
    }
    const char *bits =
        run_d4 && run_g8
            ? (memcmp(y1, y2, (size_t)(T * rows) * sizeof *y1) == 0 ? "identical" : "DIFFER")
            : "-";
    printf("%-5s %-5s | %12.1f %12.1f | %6.2fx %s\n", tensor_type_get((int)t).name,
           c.o == LLM_ORDER_PLAIN ? "plain" : "gemm", run_d4 ? flop / s1 / 1e9 : 0.0,
           run_g8 ? flop / s2 / 1e9 : 0.0, run_d4 && run_g8 ? s1 / s2 : 0.0, bits);
    mem_free(w);
    mem_free(a);
    mem_free(y1);
    mem_free(y2);
    mem_free(pk);
  }
  mem_free(tmp);
  return 0;
}
