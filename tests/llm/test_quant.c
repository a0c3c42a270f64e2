/* Tests for the tensor types: half/bfloat conversion, quantize→dequantize error bounds per type,
 * dequantization of llama.cpp-quantized test models against their F32 original, qmat_mul against a
 * float reference, and the compute pool. */
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "llm/kernels_int.h"
#include "llm/quant.h"
#include "test.h"

static uint64_t rng_state = 0x243F6A8885A308D3ull;
static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static float rng_uniform(void) { return (float)((rng_next() >> 11) * (1.0 / 9007199254740992.0)); }
static float rng_gauss(void) {
  float u = rng_uniform() + 1e-9f, v = rng_uniform();
  return sqrtf(-2 * logf(u)) * cosf(6.2831853f * v);
}

static double rel_rmse(const float *a, const float *ref, int64_t n) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < n; i++) {
    num += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
    den += (double)ref[i] * ref[i];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

TEST(half_conversions_are_exact) {
  int bad = 0;
  for (uint32_t h = 0; h < 65536; h++) {
    float f = fp16_to_f32((uint16_t)h);
    if (isnan(f)) continue;
    if (f32_to_fp16(f) != h) bad++;
    if (f32_to_bf16(bf16_to_f32((uint16_t)h)) != h) bad++;
  }
  CHECK_INT(bad, 0);
  CHECK_INT(f32_to_fp16(1.0f), 0x3C00);
  CHECK_INT(f32_to_fp16(1.0f + 1.0f / 2048), 0x3C00); /* tie rounds to even */
  CHECK_INT(f32_to_fp16(1.0f + 3.0f / 2048), 0x3C02); /* tie rounds to even (up) */
  CHECK_INT(f32_to_fp16(65519.0f), 0x7BFF);
  CHECK_INT(f32_to_fp16(65520.0f), 0x7C00);
  CHECK_INT(f32_to_fp16(-1e-8f), 0x8000);
  CHECK_INT(f32_to_fp16(5.9604645e-8f), 0x0001); /* smallest subnormal */
  CHECK(isnan(fp16_to_f32(f32_to_fp16(NAN))));
  CHECK_NEAR(fp16_to_f32(0x0001), 5.9604645e-8, 1e-15);
  CHECK_INT(f32_to_bf16(1.0f + 1.0f / 256), 0x3F80); /* tie to even */
  CHECK_INT(f32_to_bf16(1.0f + 3.0f / 256), 0x3F82);
  CHECK(isnan(bf16_to_f32(f32_to_bf16(NAN))));
}

typedef struct type_bound {
  tensor_type t;
  double max_rel_rmse; /* on Gaussian data */
} type_bound;

/* Bounds sit ~30% above the error measured for mimic's quantizer on this data (uniform rounding
 * theory: step / sqrt(12), step = block range / 2^bits); llama.cpp's files land inside them too. */
static const type_bound bounds[] = {
    {TT_F16, 3e-4},   {TT_BF16, 2.5e-3}, {TT_Q8_0, 7e-3},  {TT_Q8_K, 9e-3},  {TT_Q6_K, 0.023},
    {TT_Q5_0, 0.055}, {TT_Q5_1, 0.05},   {TT_Q5_K, 0.046}, {TT_Q4_0, 0.115}, {TT_Q4_1, 0.1},
    {TT_Q4_K, 0.094}, {TT_Q3_K, 0.19},   {TT_Q2_K, 0.35},
};

TEST(quant_dequant_error_bounds) {
  enum { N = 4096 };
  float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
  uint8_t *q = malloc(N * 4);
  for (int i = 0; i < N; i++) x[i] = rng_gauss() * (i < N / 2 ? 0.02f : 3.0f); /* two scales */
  for (size_t k = 0; k < sizeof bounds / sizeof bounds[0]; k++) {
    tensor_type t = bounds[k].t;
    CHECK_OK(quant_row(t, x, q, N));
    quant_dequant_row(t, q, y, N);
    double e = rel_rmse(y, x, N);
    if (getenv("MIMIC_TEST_VERBOSE"))
      printf("     %-5s rel RMSE %.4g\n", tensor_type_get((int)t).name, e);
    if (!(e <= bounds[k].max_rel_rmse))
      TEST_FAIL_("%s: relative RMSE %.4g over bound %.4g", tensor_type_get((int)t).name, e,
                 bounds[k].max_rel_rmse);
    /* The small-scale half must be as well represented as the large one (per-block scales). */
    double e_small = rel_rmse(y, x, N / 2);
    if (!(e_small <= bounds[k].max_rel_rmse * 1.5))
      TEST_FAIL_("%s: small-scale blocks relative RMSE %.4g", tensor_type_get((int)t).name,
                 e_small);
    /* Zeros stay zeros. */
    float z[256] = {0}, zz[256];
    CHECK_OK(quant_row(t, z, q, 256));
    quant_dequant_row(t, q, zz, 256);
    for (int i = 0; i < 256; i++) CHECK(zz[i] == 0);
  }
  free(x);
  free(y);
  free(q);
}

TEST(quant_rejects_bad_input) {
  float x[256];
  uint8_t q[1024];
  for (int i = 0; i < 256; i++) x[i] = (float)i;
  CHECK_INT(quant_row(TT_Q4_K, x, q, 128), MIMIC_EINVAL);
  CHECK_INT(quant_row(TT_Q8_0, x, q, 33), MIMIC_EINVAL);
  CHECK_INT(quant_row((tensor_type)20, x, q, 256), MIMIC_EUNSUPPORTED);
  x[7] = NAN;
  CHECK_INT(quant_row(TT_Q8_0, x, q, 256), MIMIC_EINVAL);
  x[7] = INFINITY;
  CHECK_INT(quant_row(TT_Q6_K, x, q, 256), MIMIC_EINVAL);
  CHECK(tensor_type_get(TT_Q4_K).block == 256);
  CHECK(tensor_type_get(TT_Q4_K).block_bytes == 144);
  CHECK(tensor_type_get(4).name == NULL);
  CHECK(tensor_type_get(-1).name == NULL);
  CHECK(tensor_type_get(1000).name == NULL);
  CHECK_INT(tensor_row_bytes(TT_Q6_K, 512), 420);
  CHECK_INT(tensor_row_bytes(TT_BF16, 10), 20);
}

/* ---- llama.cpp-quantized files against their F32 original ------------------------------------ */

static double tensor_error(const gguf_tensor *q, const gguf_tensor *ref, double *mine_out) {
  int64_t n = ref->ne[0], rows = ref->ne[1] * ref->ne[2] * ref->ne[3];
  size_t qrow = tensor_row_bytes(q->type, n);
  float *y = malloc((size_t)n * sizeof *y);
  uint8_t *tmp = malloc(qrow);
  double num = 0, den = 0, mnum = 0, mden = 0;
  for (int64_t r = 0; r < rows; r++) {
    const float *x = (const float *)ref->data + r * n;
    quant_dequant_row(q->type, (const uint8_t *)q->data + r * qrow, y, n);
    for (int64_t i = 0; i < n; i++) {
      num += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
      den += (double)x[i] * x[i];
    }
    if (mine_out && r < 32) { /* mimic's own quantizer on the same rows (the first 32, for speed) */
      if (quant_row(q->type, x, tmp, n) == 0) {
        quant_dequant_row(q->type, tmp, y, n);
        for (int64_t i = 0; i < n; i++) mnum += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
        for (int64_t i = 0; i < n; i++) mden += (double)x[i] * x[i];
      }
    }
  }
  free(y);
  free(tmp);
  if (mine_out) *mine_out = mden > 0 ? sqrt(mnum / mden) : 0;
  return sqrt(num / den);
}

TEST(llama_cpp_files_dequantize_close_to_f32) {
  static const struct {
    const char *file;
  } files[] = {
      {"tiny-qwen2-f16.gguf"},  {"tiny-qwen2-bf16.gguf"},   {"tiny-qwen2-q8_0.gguf"},
      {"tiny-qwen2-q4_0.gguf"}, {"tiny-qwen2-q4_k_m.gguf"}, {"tiny-qwen2-q5_k_m.gguf"},
      {"tiny-qwen2-q6_k.gguf"},
  };
  char p[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", p, sizeof p)) SKIP("../shared absent");
  gguf_file *ref = NULL;
  CHECK_OK(gguf_open(p, &ref));
  REQUIRE(ref);
  int checked[TT_COUNT] = {0};
  for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
    char rel[128];
    snprintf(rel, sizeof rel, "testdata/llm/%s", files[k].file);
    if (!test_shared_path(rel, p, sizeof p)) continue;
    gguf_file *f = NULL;
    CHECK_OK(gguf_open(p, &f));
    if (!f) continue;
    for (int64_t i = 0; i < gguf_n_tensors(f); i++) {
      const gguf_tensor *t = gguf_tensor_at(f, i), *r = gguf_tensor_find(ref, t->name);
      if (!r || t->type == TT_F32) continue;
      CHECK(r->type == TT_F32 && r->ne[0] == t->ne[0] && r->ne[1] == t->ne[1]);
      bool k_quant = t->type >= TT_Q2_K && t->type <= TT_Q6_K;
      double mine = 0, e = tensor_error(t, r, k_quant ? &mine : NULL);
      double tol = 0;
      for (size_t b = 0; b < sizeof bounds / sizeof bounds[0]; b++)
        if (bounds[b].t == t->type) tol = bounds[b].max_rel_rmse;
      if (!(e <= tol))
        TEST_FAIL_("%s %s (%s): relative RMSE %.4g over %.4g", files[k].file, t->name,
                   tensor_type_get((int)t->type).name, e, tol);
      /* mimic's quantizer is in the same quality class as llama.cpp's. */
      if (k_quant && !(mine <= e * 1.3))
        TEST_FAIL_("%s %s: mimic's %s quantizer error %.4g vs llama.cpp %.4g", files[k].file,
                   t->name, tensor_type_get((int)t->type).name, mine, e);
      checked[t->type]++;
    }
    gguf_close(f);
  }
  gguf_close(ref);
  CHECK(checked[TT_F16] > 0 && checked[TT_BF16] > 0 && checked[TT_Q8_0] > 0 &&
        checked[TT_Q4_0] > 0);
  CHECK(checked[TT_Q4_K] > 0 && checked[TT_Q5_K] > 0 && checked[TT_Q6_K] > 0);
}

/* ---- qmat_mul ------------------------------------------------------------------------------- */

static const tensor_type mm_types[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q4_0, TT_Q4_1,
                                       TT_Q5_0, TT_Q5_1, TT_Q8_0, TT_Q2_K, TT_Q3_K,
                                       TT_Q4_K, TT_Q5_K, TT_Q6_K};

TEST(qmat_mul_matches_float_reference) {
  enum { ROWS = 37, COLS = 512, T = 3 };
  float *wf = malloc(ROWS * COLS * sizeof *wf), *wd = malloc(ROWS * COLS * sizeof *wd);
  float *x = malloc(T * COLS * sizeof *x), *y = malloc(T * ROWS * sizeof *y),
        *y2 = malloc(T * ROWS * sizeof *y2);
  uint8_t *wq = malloc(ROWS * COLS * 4);
  for (int i = 0; i < ROWS * COLS; i++) wf[i] = rng_gauss() * 0.05f;
  for (int i = 0; i < T * COLS; i++) x[i] = rng_gauss();
  compute_pool *cp = compute_pool_new(3);
  CHECK_INT(compute_pool_threads(cp), 3);
  for (size_t k = 0; k < sizeof mm_types / sizeof mm_types[0]; k++) {
    tensor_type t = mm_types[k];
    size_t rb = tensor_row_bytes(t, COLS);
    for (int r = 0; r < ROWS; r++) {
      CHECK_OK(quant_row(t, wf + r * COLS, wq + r * rb, COLS));
      quant_dequant_row(t, wq + r * rb, wd + r * COLS, COLS);
    }
    qmat w = {t, ROWS, COLS, wq, rb};
    qmat_mul(NULL, &w, x, y, T);
    qmat_mul(cp, &w, x, y2, T);
    /* Reference: dequantized W times float x, in double. The only difference left is the
     * activation quantization (8-bit for quantized W, 16-bit for F16/BF16). */
    double num = 0, den = 0;
    for (int tt = 0; tt < T; tt++)
      for (int r = 0; r < ROWS; r++) {
        double s = 0;
        for (int c = 0; c < COLS; c++) s += (double)wd[r * COLS + c] * x[tt * COLS + c];
        num += (y[tt * ROWS + r] - s) * (y[tt * ROWS + r] - s);
        den += s * s;
        CHECK(y[tt * ROWS + r] == y2[tt * ROWS + r]); /* threads split rows; results identical */
      }
    double e = sqrt(num / den);
    double tol = t == TT_F32 ? 1e-6 : t == TT_BF16 ? 8e-3 : t == TT_F16 ? 1e-3 : 1.5e-2;
    if (!(e <= tol))
      TEST_FAIL_("%s: qmat_mul relative error %.3g over %.3g", tensor_type_get((int)t).name, e,
                 tol);
  }
  compute_pool_destroy(cp);
  free(wf);
  free(wd);
  free(x);
  free(y);
  free(y2);
  free(wq);
}

/* ---- compute pool --------------------------------------------------------------------------- */

typedef struct pool_probe {
  atomic_int calls;
  atomic_int mask;
  int nth_seen;
} pool_probe;

static void probe_fn(int ith, int nth, void *arg) {
  pool_probe *p = arg;
  atomic_fetch_add(&p->calls, 1);
  atomic_fetch_or(&p->mask, 1 << ith);
  if (ith == 0) p->nth_seen = nth;
}

/* The activation quantizers (SIMD where the CPU has it) give the scalar reference's bytes: random
 * rows, rows whose largest magnitude is negative or tied with its opposite, zero blocks, values on
 * exact rounding halves, and non-finite values (garbage allowed, but the same size and no crash).
 */
TEST(act_quant_matches_reference) {
  static const tensor_type types[] = {TT_Q8_0, TT_Q8_K};
  enum { N = 1024 };
  float x[N];
  uint8_t got[2048], want[2048];
  for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
    tensor_type t = types[k];
    size_t bytes = tensor_row_bytes(t, N);
    CHECK(bytes <= sizeof got);
    for (int trial = 0; trial < 200; trial++) {
      for (int i = 0; i < N; i++) x[i] = rng_gauss() * (trial % 7 == 0 ? 1e-3f : 3.0f);
      if (trial % 5 == 1) x[trial % N] = -50;                    /* negative largest magnitude */
      if (trial % 5 == 2) x[3] = 50, x[9] = -50;                 /* tie: the first wins */
      if (trial % 5 == 3) memset(x + 256, 0, 256 * sizeof x[0]); /* a zero block */
      if (trial % 5 == 4) /* values that scale onto .5 exactly: 127 / 127 * (q + .5) */
        for (int i = 0; i < N; i++) x[i] = (i % 256 == 0) ? 127.0f : (float)(i % 200 - 100) + 0.5f;
      memset(got, 0xAA, sizeof got);
      memset(want, 0x55, sizeof want);
      llm__quant_act_row(t, x, got, N);
      llm__quant_act_row_ref(t, x, want, N);
      CHECK(memcmp(got, want, bytes) == 0);
    }
    x[7] = NAN;
    x[300] = INFINITY;
    llm__quant_act_row(t, x, got, N);
  }
}

TEST(compute_pool_runs_every_thread) {
  for (int n = 1; n <= 4; n++) {
    compute_pool *p = compute_pool_new(n);
    for (int iter = 0; iter < 500; iter++) {
      pool_probe pr;
      atomic_init(&pr.calls, 0);
      atomic_init(&pr.mask, 0);
      pr.nth_seen = 0;
      compute_pool_run(p, probe_fn, &pr);
      if (atomic_load(&pr.calls) != n || atomic_load(&pr.mask) != (1 << n) - 1 ||
          pr.nth_seen != n) {
        TEST_FAIL_("pool of %d: %d calls, mask %x", n, atomic_load(&pr.calls),
                   atomic_load(&pr.mask));
        break;
      }
    }
    compute_pool_destroy(p);
  }
  pool_probe pr;
  atomic_init(&pr.calls, 0);
  atomic_init(&pr.mask, 0);
  compute_pool_run(NULL, probe_fn, &pr); /* NULL pool: caller only */
  CHECK_INT(atomic_load(&pr.calls), 1);
  compute_pool_destroy(NULL);
  compute_pool *p = compute_pool_new(0);
  CHECK(compute_pool_threads(p) >= 1);
  compute_pool_destroy(p);
}

int main(void) {
  RUN(half_conversions_are_exact);
  RUN(quant_dequant_error_bounds);
  RUN(quant_rejects_bad_input);
  RUN(llama_cpp_files_dequantize_close_to_f32);
  RUN(qmat_mul_matches_float_reference);
  RUN(act_quant_matches_reference);
  RUN(compute_pool_runs_every_thread);
  llm__scratch_release();
  TEST_MAIN_END();
}
