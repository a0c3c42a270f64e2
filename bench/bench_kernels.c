/* Kernel benchmark: qmat_mul per weight type for generation (T=1, reported as weight GB/s, the
 * bound that matters) and prompt processing (T=512, GFLOP/s), next to the machine's measured
 * streaming read bandwidth. Medians of several runs. Usage:
 *   bench_kernels [--threads N] [--quick] [--hot] [--types Q4_K,Q5_K,...]
 * (MIMIC_KERNELS=scalar|avx2 forces a lower set; --types runs only the listed types; --hot adds
 * generation with the weights in cache, ~192 KB per thread run 400 times: the kernels' own rate,
 * which bounds generation where it is above the memory's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "llm/quant.h"
#include "bench_util.h"

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_d);
  return v[n / 2];
}

/* ---- Streaming read bandwidth: every thread sums its slice of a large buffer. */
typedef struct bw_job {
  const uint64_t *p;
  size_t n;
  uint64_t sums[256];
} bw_job;

static void bw_read(int ith, int nth, void *arg) {
  bw_job *j = arg;
  size_t per = j->n / (size_t)nth, i0 = per * (size_t)ith, i1 = i0 + per;
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = i0; i + 4 <= i1; i += 4) {
    s0 += j->p[i];
    s1 += j->p[i + 1];
    s2 += j->p[i + 2];
    s3 += j->p[i + 3];
  }
  j->sums[ith] = s0 + s1 + s2 + s3;
}

static double measure_bandwidth(compute_pool *p, size_t bytes, int reps) {
  bw_job j = {0};
  j.n = bytes / 8;
  uint64_t *mem = xalloc(bytes);
  for (size_t i = 0; i < j.n; i++) mem[i] = i;
  j.p = mem;
  double t[16];
  for (int r = 0; r < reps; r++) {
    double t0 = now_s();
    compute_pool_run(p, bw_read, &j);
    t[r] = now_s() - t0;
  }
  mem_free(mem);
  return (double)bytes / median(t, reps) / 1e9;
}

/* Whether name is one of the comma-separated names in list (NULL: every name). */

/* Makes n_copies matrices of rows x cols in type t (random rows, quantized once and replicated). */
static uint8_t *make_weights(tensor_type t, int64_t rows, int64_t cols, int n_copies,
                             size_t *bytes_out) {
  size_t rb = tensor_row_bytes(t, cols), one = rb * (size_t)rows;
  uint8_t *w = xalloc(one * (size_t)n_copies);
  float *tmp = xalloc((size_t)cols * sizeof *tmp);
  enum { DISTINCT = 64 };
  for (int64_t r = 0; r < rows; r++) {
    if (r < DISTINCT) {
      for (int64_t i = 0; i < cols; i++) tmp[i] = bench_frand() * 0.05f;
      if (quant_row(t, tmp, w + (size_t)r * rb, cols)) memset(w + (size_t)r * rb, 0, rb);
    } else {
      memcpy(w + (size_t)r * rb, w + (size_t)(r % DISTINCT) * rb, rb);
    }
  }
  for (int c = 1; c < n_copies; c++) memcpy(w + one * (size_t)c, w, one);
  mem_free(tmp);
  *bytes_out = one;
  return w;
}

int main(int argc, char **argv) {
  int threads = 0;
  bool quick = false, hot = false;
  const char *only = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) {
      int64_t v;
      if (str_to_i64(argv[++i], &v) == 0) threads = (int)v;
    } else if (strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (strcmp(argv[i], "--hot") == 0) {
      hot = true;
    } else if (strcmp(argv[i], "--types") == 0 && i + 1 < argc) {
      only = argv[++i];
    }
  }
  compute_pool *p = compute_pool_new(threads);
  int nth = compute_pool_threads(p);
  double bw = measure_bandwidth(p, quick ? (128u << 20) : (512u << 20), 5);
  printf("kernels %s, %d threads, streaming read bandwidth %.1f GB/s\n\n", qmat_kernels_name(), nth,
         bw);
  printf("%-5s | %-37s | %-24s\n", "", "generation T=1 (16384x4096), median",
         quick ? "prompt T=64 (4096x4096)" : "prompt T=512 (4096x4096)");
  printf("%-5s | %8s %8s %9s %9s | %9s %9s%s\n", "type", "GB/s", "% of bw", "GFLOP/s", "best GB/s",
         "GFLOP/s", "vs T=1", hot ? " | T=1 in cache GB/s" : "");
  static const tensor_type types[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q8_0, TT_Q4_0, TT_Q4_1, TT_Q5_0,
                                      TT_Q5_1, TT_Q2_K, TT_Q3_K, TT_Q4_K, TT_Q5_K, TT_Q6_K};
  const int64_t rows = 16384, cols = 4096;
  const int64_t T = quick ? 64 : 512, prow = 4096;
  float *x = xalloc((size_t)(T * cols) * sizeof *x), *y = xalloc((size_t)(T * rows) * sizeof *y);
  for (int64_t i = 0; i < T * cols; i++) x[i] = bench_frand();
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    tensor_type t = types[k];
    if (!bench_listed(only, tensor_type_get((int)t).name)) continue;
    size_t one;
    size_t rb = tensor_row_bytes(t, cols);
    int copies = (int)((quick ? (96u << 20) : (384u << 20)) / (rb * (size_t)rows)) + 1;
    uint8_t *w = make_weights(t, rows, cols, copies, &one);
    /* generation: cycle through the copies so every call streams from memory */
    double tg[32];
    int reps = quick ? 8 : 24;
    qmat m = {t, rows, cols, w, rb};
    qmat_mul(p, &m, x, y, 1); /* warm-up */
    for (int r = 0; r < reps; r++) {
      m.data = w + one * (size_t)(r % copies);
      double t0 = now_s();
      qmat_mul(p, &m, x, y, 1);
      tg[r] = now_s() - t0;
    }
    double tgm = median(tg, reps), tgbest = tg[0]; /* median() sorted tg */
    /* prompt: a 4096-row slice, T activation rows */
    qmat mp = {t, prow, cols, w, rb};
    double pp[5];
    int preps = quick ? 1 : 3;
    for (int r = 0; r < preps; r++) {
      double t0 = now_s();
      qmat_mul(p, &mp, x, y, T);
      pp[r] = now_s() - t0;
    }
    double ppm = median(pp, preps);
    double gbs = (double)one / tgm / 1e9;
    double pflops = 2.0 * (double)T * (double)prow * (double)cols / ppm / 1e9;
    double gflops = 2.0 * (double)rows * (double)cols / tgm / 1e9;
    printf("%-5s | %8.1f %7.0f%% %9.1f %9.1f | %9.1f %8.1fx", tensor_type_get((int)t).name, gbs,
           100 * gbs / bw, gflops, (double)one / tgbest / 1e9, pflops, pflops / gflops);
    if (hot) { /* ~192 KB of rows per thread (a multiple of 16), 400 products, median of 5 */
      int64_t hr = (int64_t)((192u << 10) * (size_t)nth / rb) / 16 * 16;
      qmat mh = {t, hr < 16 ? 16 : hr, cols, w, rb};
      double ht[5];
      for (int r = 0; r < 5; r++) {
        double t0 = now_s();
        for (int i = 0; i < 400; i++) qmat_mul(p, &mh, x, y, 1);
        ht[r] = now_s() - t0;
      }
      printf(" | %18.1f", 400.0 * (double)rb * (double)mh.rows / median(ht, 5) / 1e9);
    }
    printf("\n");
    mem_free(w);
  }
  mem_free(x);
  mem_free(y);
  compute_pool_destroy(p);
  return 0;
}
