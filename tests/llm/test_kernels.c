/* Every fast kernel variant against the scalar reference, on fresh random data each run (the seed
 * is printed so a failure can be replayed with MIMIC_TEST_SEED). Variants the CPU lacks are
 * skipped. Also: MIMIC_KERNELS forces a lower set, and qmat_mul (tiled, threaded) agrees with
 * row-by-row reference dots, under that lower set and (with --best) under the best one. */
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/kernels_int.h"
#include "llm/quant.h"
#include "test.h"

static uint64_t rng_state;
static uint64_t rng_next(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}
static float rng_sym(void) {
  return (float)((rng_next() >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

static const tensor_type all_types[] = {TT_F32,  TT_F16,  TT_BF16, TT_Q4_0, TT_Q4_1,
                                        TT_Q5_0, TT_Q5_1, TT_Q8_0, TT_Q2_K, TT_Q3_K,
                                        TT_Q4_K, TT_Q5_K, TT_Q6_K};

/* Fills n weights (with a few outliers, and some blocks at tiny scale) and returns them quantized.
 */
static void make_row(tensor_type t, float *tmp, uint8_t *out, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    float v = rng_sym();
    if (rng_next() % 64 == 0) v *= 8;
    if ((i / 256) % 3 == 2) v *= 1e-3f;
    tmp[i] = v;
  }
  if (quant_row(t, tmp, out, n) != 0) memset(out, 0, tensor_row_bytes(t, n));
}

/* Every kernel sums in the reference's order, so it must give the reference's bits. */
static bool agrees(float got, float want) { return memcmp(&got, &want, sizeof got) == 0; }

/* A kernel set (set) against its scalar reference (ref), on lengths with and without a tail where
 * the weight type allows them (the float types' two orders both end in one). */
static void check_variant_of(const char *name, vec_dot_fn (*set)(tensor_type),
                             vec_dot_fn (*refset)(tensor_type)) {
  static const int64_t sizes[] = {8, 200, 256, 512, 2816, 4096};
  int compared = 0;
  for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
    tensor_type t = all_types[k];
    vec_dot_fn fast = set(t), ref = refset(t);
    if (!fast) continue;
    tensor_type at = llm__act_type(t);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int64_t n = sizes[s];
      if (n % tensor_type_get((int)t).block) continue;
      float *tmp = malloc((size_t)n * sizeof *tmp);
      uint8_t *w = malloc(tensor_row_bytes(t, n)), *a = malloc(tensor_row_bytes(at, n));
      for (int rep = 0; rep < 8; rep++) {
        make_row(t, tmp, w, n);
        for (int64_t i = 0; i < n; i++) tmp[i] = rng_sym() * (rep & 1 ? 4.0f : 0.25f);
        CHECK_OK(quant_row(at, tmp, a, n));
        float r = ref(w, a, n), f = fast(w, a, n);
        if (!agrees(f, r)) {
          TEST_FAIL_("%s %s n=%lld: fast %.9g vs reference %.9g", name,
                     tensor_type_get((int)t).name, (long long)n, f, r);
          break;
        }
        compared++;
      }
      free(tmp);
      free(w);
      free(a);
    }
  }
  CHECK(compared > 0);
}

static void check_variant(const char *name, vec_dot_fn (*set)(tensor_type)) {
  check_variant_of(name, set, llm__dot_scalar);
}

/* Four-row kernels against the one-row reference, for each activation row. */
static void check_variant4_of(const char *name, vec_dot4_fn (*set)(tensor_type),
                              vec_dot_fn (*refset)(tensor_type)) {
  const int64_t n = 2048;
  int compared = 0;
  for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
    tensor_type t = all_types[k];
    vec_dot4_fn fast = set(t);
    vec_dot_fn ref = refset(t);
    if (!fast) continue;
    tensor_type at = llm__act_type(t);
    size_t ab = tensor_row_bytes(at, n);
    float *tmp = malloc((size_t)n * sizeof *tmp);
    uint8_t *w = malloc(tensor_row_bytes(t, n)), *a = malloc(ab * 4);
    for (int rep = 0; rep < 6; rep++) {
      make_row(t, tmp, w, n);
      for (int r = 0; r < 4; r++) {
        for (int64_t i = 0; i < n; i++) tmp[i] = rng_sym() * (float)(r + 1);
        CHECK_OK(quant_row(at, tmp, a + ab * (size_t)r, n));
      }
      float out[4];
      fast(w, a, ab, n, out);
      for (int r = 0; r < 4; r++) {
        float want = ref(w, a + ab * (size_t)r, n);
        if (!agrees(out[r], want))
          TEST_FAIL_("%s dot4 %s row %d: %.9g vs reference %.9g", name,
                     tensor_type_get((int)t).name, r, out[r], want);
        compared++;
      }
    }
    free(tmp);
    free(w);
    free(a);
  }
  CHECK(compared > 0);
}

static void check_variant4(const char *name, vec_dot4_fn (*set)(tensor_type)) {
  check_variant4_of(name, set, llm__dot_scalar);
}

/* Four-weight-row kernels against the one-row reference, for each weight row (rows spaced by more
 * than a row, as in a matrix with padding, to catch a wrong stride). */
static void check_variant4w_of(const char *name, vec_dot4w_fn (*set)(tensor_type),
                               vec_dot_fn (*refset)(tensor_type)) {
  static const int64_t sizes[] = {32, 96, 256, 1536, 2048, 4096};
  int compared = 0;
  for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
    tensor_type t = all_types[k];
    vec_dot4w_fn fast = set(t);
    vec_dot_fn ref = refset(t);
    if (!fast) continue;
    tensor_type at = llm__act_type(t);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int64_t n = sizes[s];
      if (n % tensor_type_get((int)t).block) continue;
      /* rows not packed: 6 bytes apart (8 for F32, whose values need their 4-byte alignment) */
      size_t wb = tensor_row_bytes(t, n) + (t == TT_F32 ? 8 : 6);
      float *tmp = malloc((size_t)n * sizeof *tmp);
      uint8_t *w = malloc(wb * 4), *a = malloc(tensor_row_bytes(at, n));
      for (int rep = 0; rep < 6; rep++) {
        for (int r = 0; r < 4; r++) make_row(t, tmp, w + wb * (size_t)r, n);
        for (int64_t i = 0; i < n; i++) tmp[i] = rng_sym() * (rep & 1 ? 4.0f : 0.25f);
        CHECK_OK(quant_row(at, tmp, a, n));
        float out[4];
        fast(w, wb, a, n, out);
        for (int r = 0; r < 4; r++) {
          float want = ref(w + wb * (size_t)r, a, n);
          if (!agrees(out[r], want))
            TEST_FAIL_("%s dot4w %s n=%lld row %d: %.9g vs reference %.9g", name,
                       tensor_type_get((int)t).name, (long long)n, r, out[r], want);
          compared++;
        }
      }
      free(tmp);
      free(w);
      free(a);
    }
  }
  CHECK(compared > 0);
}

static void check_variant4w(const char *name, vec_dot4w_fn (*set)(tensor_type)) {
  check_variant4w_of(name, set, llm__dot_scalar);
}

/* 4x4 kernels against the one-row reference, for each of the 16 outputs (weight and activation
 * rows both spaced by more than a row, to catch a wrong stride or a swapped index). */
static void check_variant4x4_of(const char *name, vec_dot4x4_fn (*set)(tensor_type),
                                vec_dot_fn (*refset)(tensor_type)) {
  static const int64_t sizes[] = {32, 96, 256, 2048, 4096};
  int compared = 0;
  for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
    tensor_type t = all_types[k];
    vec_dot4x4_fn fast = set(t);
    vec_dot_fn ref = refset(t);
    if (!fast) continue;
    tensor_type at = llm__act_type(t);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int64_t n = sizes[s];
      if (n % tensor_type_get((int)t).block) continue;
      size_t wb = tensor_row_bytes(t, n) + 6, ab = tensor_row_bytes(at, n) + 4;
      float *tmp = malloc((size_t)n * sizeof *tmp);
      uint8_t *w = malloc(wb * 4), *a = malloc(ab * 4);
      for (int rep = 0; rep < 4; rep++) {
        for (int r = 0; r < 4; r++) make_row(t, tmp, w + wb * (size_t)r, n);
        for (int q = 0; q < 4; q++) {
          for (int64_t i = 0; i < n; i++) tmp[i] = rng_sym() * (float)(q + 1) * (rep & 1 ? 4 : 1);
          CHECK_OK(quant_row(at, tmp, a + ab * (size_t)q, n));
        }
        float out[16];
        fast(w, wb, a, ab, n, out);
        for (int q = 0; q < 4; q++)
          for (int r = 0; r < 4; r++) {
            float want = ref(w + wb * (size_t)r, a + ab * (size_t)q, n);
            if (!agrees(out[4 * q + r], want))
              TEST_FAIL_("%s dot4x4 %s n=%lld act %d row %d: %.9g vs reference %.9g", name,
                         tensor_type_get((int)t).name, (long long)n, q, r, out[4 * q + r], want);
            compared++;
          }
      }
      free(tmp);
      free(w);
      free(a);
    }
  }
  CHECK(compared > 0);
}

/* Packed eight-row strips against the order's one-row reference, for each of the 32 outputs
 * (weight and activation rows spaced by more than a row, to catch a wrong stride or index), in the
 * gemm order (Q4_K, Q4_0) and the plain order (Q6_K, Q5_K, Q8_0, Q5_0); lengths past the kernels'
 * passes over the row (Q6_K: 4 super-blocks, the 32-value types: 32 blocks) and not a multiple of
 * them. Returns the number of types compared in the plain order. */
static int check_gemm8_order(const char *name, const llm_gemm8 *(*set)(tensor_type, llm_order),
                             llm_order o) {
  static const int64_t sizes[] = {256, 512, 1280, 2048, 4096, 4352};
  int compared = 0, types = 0;
  for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
    tensor_type t = all_types[k];
    CHECK(set(t, LLM_ORDER_GEMV) == NULL); /* strips serve the gemm and plain orders only */
    const llm_gemm8 *g8 = set(t, o);
    if (!g8) continue;
    types++;
    vec_dot_fn ref = llm__dot_order_scalar(t, o);
    tensor_type at = llm__act_type(t);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
      int64_t n = sizes[s];
      if (n % tensor_type_get((int)t).block) continue;
      size_t wb = tensor_row_bytes(t, n) + 6, ab = tensor_row_bytes(at, n) + 4;
      float *tmp = malloc((size_t)n * sizeof *tmp);
      uint8_t *w = malloc(wb * 8), *a = malloc(ab * 4), *pk = malloc(g8->bytes(n));
      CHECK(tmp && w && a && pk);
      for (int rep = 0; rep < 4; rep++) {
        for (int r = 0; r < 8; r++) make_row(t, tmp, w + wb * (size_t)r, n);
        /* Q8_0's -128, which a file may hold though the quantizer never writes it */
        if (t == TT_Q8_0 && rep == 2)
          for (int64_t b = 0; b < n / 32; b++) ((blk_q8_0 *)(void *)w)[b].qs[b % 32] = -128;
        for (int q = 0; q < 4; q++) {
          for (int64_t i = 0; i < n; i++) tmp[i] = rng_sym() * (float)(q + 1) * (rep & 1 ? 4 : 1);
          if (rep == 3 && q == 0) /* the activation extremes: every value at the scale's bound */
            for (int64_t i = 0; i < n; i++) tmp[i] = i & 1 ? -1.0f : 1.0f;
          CHECK_OK(quant_row(at, tmp, a + ab * (size_t)q, n));
        }
        float out[32];
        g8->pack(w, wb, n, pk);
        g8->gemm(pk, a, ab, n, out);
        for (int q = 0; q < 4; q++)
          for (int r = 0; r < 8; r++) {
            float want = ref(w + wb * (size_t)r, a + ab * (size_t)q, n);
            if (!agrees(out[8 * q + r], want))
              TEST_FAIL_("%s gemm8 %s %s n=%lld act %d row %d: %.9g vs reference %.9g", name,
                         o == LLM_ORDER_PLAIN ? "plain" : "gemm", tensor_type_get((int)t).name,
                         (long long)n, q, r, out[8 * q + r], want);
            compared++;
          }
      }
      free(tmp);
      free(w);
      free(a);
      free(pk);
    }
  }
  CHECK(compared > 0 || (o == LLM_ORDER_PLAIN && types == 0));
  return types;
}

static void check_gemm8(const char *name, const llm_gemm8 *(*set)(tensor_type, llm_order)) {
  (void)check_gemm8_order(name, set, LLM_ORDER_GEMM);
  /* Q6_K, Q5_K, Q8_0 and Q5_0 */
  CHECK(check_gemm8_order(name, set, LLM_ORDER_PLAIN) == 4);
}

/* The repacked orders (llm_order) of a kernel set against their scalar references: the same
 * checks, with the order held in a variable for the one-argument set functions. */
static llm_order cur_order;
static vec_dot_fn (*cur_dot)(tensor_type, llm_order);
static vec_dot4w_fn (*cur_dot4w)(tensor_type, llm_order);
static vec_dot4_fn (*cur_dot4)(tensor_type, llm_order);
static vec_dot4x4_fn (*cur_dot4x4)(tensor_type, llm_order);
static vec_dot_fn order_ref(tensor_type t) { return llm__dot_order_scalar(t, cur_order); }
static vec_dot_fn order_dot(tensor_type t) { return cur_dot(t, cur_order); }
static vec_dot4w_fn order_dot4w(tensor_type t) { return cur_dot4w(t, cur_order); }
static vec_dot4_fn order_dot4(tensor_type t) { return cur_dot4(t, cur_order); }
static vec_dot4x4_fn order_dot4x4(tensor_type t) { return cur_dot4x4(t, cur_order); }

/* dot, dot4 and dot4x4 may be NULL (a set without them); dot4 exists for the gemm order only. */
static void check_orders(const char *name, vec_dot_fn (*dot)(tensor_type, llm_order),
                         vec_dot4w_fn (*dot4w)(tensor_type, llm_order),
                         vec_dot4_fn (*dot4)(tensor_type, llm_order),
                         vec_dot4x4_fn (*dot4x4)(tensor_type, llm_order)) {
  static const llm_order orders[] = {LLM_ORDER_GEMV, LLM_ORDER_GEMM};
  cur_dot = dot;
  cur_dot4w = dot4w;
  cur_dot4 = dot4;
  cur_dot4x4 = dot4x4;
  for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
    cur_order = orders[o];
    if (dot) check_variant_of(name, order_dot, order_ref);
    check_variant4w_of(name, order_dot4w, order_ref);
    if (dot4 && orders[o] == LLM_ORDER_GEMM) check_variant4_of(name, order_dot4, order_ref);
    if (dot4x4 && orders[o] == LLM_ORDER_GEMM) check_variant4x4_of(name, order_dot4x4, order_ref);
  }
}

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
/* F16C from CPUID directly: clang 14's __builtin_cpu_supports does not know "f16c". */
static bool has_f16c(void) {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#endif

static bool has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && has_f16c();
#else
  return false;
#endif
}

static bool has_avx512(void) {
#if defined(__x86_64__) || defined(__i386__)
  return has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
#else
  return false;
#endif
}

TEST(avx2_matches_reference) {
  if (!has_avx2()) SKIP("CPU lacks AVX2/FMA/F16C");
  check_variant("avx2", llm__dot_avx2);
  check_variant_of("avx2 untiled", llm__dot_untiled_avx2, llm__dot_untiled_scalar);
  check_variant4("avx2", llm__dot4_avx2);
  check_variant4w("avx2", llm__dot4w_avx2);
  check_orders("avx2 repacked", llm__dot_order_avx2, llm__dot4w_order_avx2, NULL,
               llm__dot4x4_order_avx2);
  check_gemm8("avx2 packed", llm__gemm8_order_avx2);
}

/* Generation's K-quant kernels (kernels_avx2_gemv.c) are selected, so the checks above cover
 * them: a dispatch line lost would otherwise pass unnoticed (the checks skip NULL kernels). */
TEST(avx2_gemv_kernels_selected) {
  if (!has_avx2()) SKIP("CPU lacks AVX2/FMA/F16C");
  CHECK(llm__dot4w_avx2(TT_Q6_K) != NULL);
  CHECK(llm__dot4w_avx2(TT_Q5_K) != NULL);
  CHECK(llm__dot4w_order_avx2(TT_Q4_K, LLM_ORDER_GEMV) != NULL);
  CHECK(llm__dot4w_avx2(TT_Q6_K) == llm__dot4w_gemv_avx2(TT_Q6_K));
  CHECK(llm__dot4w_avx2(TT_Q8_0) != NULL &&
        llm__dot4w_avx2(TT_Q8_0) == llm__dot4w_gemv_avx2(TT_Q8_0));
  CHECK(llm__dot4w_order_avx2(TT_Q4_K, LLM_ORDER_GEMV) ==
        llm__dot4w_gemv_order_avx2(TT_Q4_K, LLM_ORDER_GEMV));
  /* Q4_0's two repacked orders are one kernel (the same bits), generation's */
  CHECK(llm__dot4w_gemv_order_avx2(TT_Q4_0, LLM_ORDER_GEMV) != NULL);
  CHECK(llm__dot4w_order_avx2(TT_Q4_0, LLM_ORDER_GEMV) ==
        llm__dot4w_gemv_order_avx2(TT_Q4_0, LLM_ORDER_GEMV));
  CHECK(llm__dot4w_order_avx2(TT_Q4_0, LLM_ORDER_GEMM) ==
        llm__dot4w_gemv_order_avx2(TT_Q4_0, LLM_ORDER_GEMV));
  CHECK(llm__dot4w_gemv_order_avx2(TT_Q4_0, LLM_ORDER_PLAIN) == NULL);
}

/* Generation's Q4_K kernel sums a block's products in 16 bits before applying the scales (8 x
 * 3840 at most): at the extremes (every nibble 15, every scale and min 63, activations all -128,
 * or -128 and 127 alternating) nothing may saturate, so it still gives the one-row reference's
 * bits. Random rows do not reach these sums. */
TEST(avx2_q4_K_gemv_extremes) {
  if (!has_avx2()) SKIP("CPU lacks AVX2/FMA/F16C");
  vec_dot4w_fn fast = llm__dot4w_order_avx2(TT_Q4_K, LLM_ORDER_GEMV);
  vec_dot_fn ref = llm__dot_order_scalar(TT_Q4_K, LLM_ORDER_GEMV);
  CHECK(fast != NULL && ref != NULL);
  enum { N = 512 };
  size_t rb = tensor_row_bytes(TT_Q4_K, N);
  uint8_t *w = malloc(rb * 4), *a = malloc(tensor_row_bytes(TT_Q8_K, N));
  float *x = malloc(N * sizeof *x);
  memset(w, 0xFF, rb * 4);
  for (size_t b = 0; b < rb * 4; b += 144) { /* d 1.0, dmin 0.5 */
    w[b] = 0x00, w[b + 1] = 0x3C;
    w[b + 2] = 0x00, w[b + 3] = 0x38;
  }
  for (size_t i = 0; i < 128; i++) w[2 * rb + 16 + i] = 0; /* row 2's first block: all zero */
  for (int pat = 0; pat < 3; pat++) {
    for (int i = 0; i < N; i++) x[i] = pat == 0 ? -1.0f : pat == 1 ? 1.0f : (i & 1 ? 1.0f : -1.0f);
    CHECK_OK(quant_row(TT_Q8_K, x, a, N));
    float out[4];
    fast(w, rb, a, N, out);
    for (int r = 0; r < 4; r++) {
      float want = ref(w + rb * (size_t)r, a, N);
      if (!agrees(out[r], want))
        TEST_FAIL_("Q4_K gemv extremes pattern %d row %d: %.9g vs reference %.9g", pat, r, out[r],
                   want);
    }
  }
  free(w);
  free(a);
  free(x);
}

TEST(avx512_matches_reference) {
  if (!has_avx512()) SKIP("CPU lacks AVX-512 VNNI");
  check_variant("avx512", llm__dot_avx512);
  check_variant4("avx512", llm__dot4_avx512);
  check_variant4w("avx512", llm__dot4w_avx512);
  check_orders("avx512 repacked", NULL, llm__dot4w_order_avx512, llm__dot4_order_avx512,
               llm__dot4x4_order_avx512);
}

/* main() set MIMIC_KERNELS to one level below the best this CPU has. */
TEST(env_forces_lower_variant) {
  const char *want = has_avx512() ? "avx2" : "scalar";
  CHECK_STR(qmat_kernels_name(), want);
}

/* The scalar reference for token t of a T-token product with a matrix: the float types' order
 * follows the shape (llm__dot_for); a repacked Q4_0 / Q4_K weight's follows the token's position
 * (llm__gemm_tokens: gemm for the first T - T % 4 when T > 3, gemv for the rest). */
static vec_dot_fn want(const qmat *m, int64_t t, int64_t T) {
  bool fl = m->type == TT_F32 || m->type == TT_F16 || m->type == TT_BF16;
  bool untiled = fl && (m->rows % 4 || m->cols % (m->type == TT_BF16 ? 32 : 16));
  if (untiled) return llm__dot_untiled_scalar(m->type);
  bool repacked = (m->type == TT_Q4_0 || m->type == TT_Q4_K) && m->rows % 8 == 0;
  if (!repacked) return llm__dot_scalar(m->type);
  return llm__dot_order_scalar(m->type, T > 3 && t < T - T % 4 ? LLM_ORDER_GEMM : LLM_ORDER_GEMV);
}

/* qmat_mul (selected kernels, W tiles, threads, T > 1) against row-by-row reference dots: the same
 * bits for every type the kernels sum in the reference's order. */
static void check_qmat_mul(compute_pool *cp, int64_t rows, int64_t cols, bool only_dot4w) {
  /* T = 6: one four-row group and two single rows (a repacked weight: four in the gemm order, two
   * in the gemv one); T = 3: all gemv; T = 8: all gemm; T = 37: enough gemm tokens for packed
   * strips (llm_gemm8), and one gemv token. */
  enum { T = 37 };
  static const int64_t Ts[] = {1, 3, 6, 8, 37};
  float *x = malloc(T * (size_t)cols * sizeof *x), *y = malloc(T * (size_t)rows * sizeof *y),
        *tmp = malloc((size_t)cols * sizeof *tmp);
  for (int64_t i = 0; i < T * cols; i++) x[i] = rng_sym();
  for (size_t k = 0; k < sizeof all_types / sizeof all_types[0]; k++) {
    tensor_type t = all_types[k], at = llm__act_type(t);
    if (only_dot4w && !llm__dot4w(t) && !llm__dot4w_order(t, LLM_ORDER_GEMV)) continue;
    size_t rb = tensor_row_bytes(t, cols), ab = tensor_row_bytes(at, cols);
    uint8_t *w = malloc(rb * (size_t)rows), *a = malloc(ab);
    for (int64_t r = 0; r < rows; r++) make_row(t, tmp, w + (size_t)r * rb, cols);
    qmat m = {t, rows, cols, w, rb};
    for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
      int64_t tt = Ts[ti];
      qmat_mul(cp, &m, x, y, tt);
      for (int64_t i = 0; i < tt; i++) {
        llm__quant_act_row(at, x + i * cols, a, cols);
        for (int64_t r = 0; r < rows; r++) {
          float ref = want(&m, i, tt)(w + (size_t)r * rb, a, cols), got = y[i * rows + r];
          if (!agrees(got, ref)) {
            TEST_FAIL_("%s %lldx%lld T=%lld row %lld: %.9g vs %.9g", tensor_type_get((int)t).name,
                       (long long)rows, (long long)cols, (long long)tt, (long long)r, got, ref);
            i = tt;
            break;
          }
        }
      }
    }
    free(w);
    free(a);
  }
  free(x);
  free(y);
  free(tmp);
}

/* The small shapes exercise tiles and chunk edges, both orders of the float types (45 rows:
 * untiled, 44: tiled) and of Q4_0 / Q4_K (44 rows: plain, 48: repacked); the long rows (9-18 KB,
 * types with a four-weight-row dot) make qmat_mul's mm_rows_w4 split a chunk into several groups of
 * four runs, with a short last group and leftover rows. */
TEST(qmat_mul_agrees_with_reference_dots) {
  compute_pool *cp = compute_pool_new(2);
  check_qmat_mul(cp, 45, 768, false);
  check_qmat_mul(cp, 44, 768, false);
  check_qmat_mul(cp, 48, 768, false);
  check_qmat_mul(cp, 200, 16384, true);
  compute_pool_destroy(cp);
}

/* compute_pool_for: every item exactly once, for many back-to-back sections of various sizes and
 * chunks (workers join late or not at all; nothing may be skipped or done twice). */
typedef struct for_job {
  int *hits;
} for_job;

static void for_mark(void *arg, int64_t b, int64_t e) {
  for_job *j = arg;
  for (int64_t i = b; i < e; i++) __atomic_fetch_add(&j->hits[i], 1, __ATOMIC_RELAXED);
}

static void run_mark(int ith, int nth, void *arg) {
  for_job *j = arg;
  __atomic_fetch_add(&j->hits[ith], 1, __ATOMIC_RELAXED);
  __atomic_fetch_add(&j->hits[8 + nth], 1, __ATOMIC_RELAXED);
}

TEST(pool_for_covers_every_item_once) {
  enum { N = 5000 };
  int *hits = malloc(N * sizeof *hits);
  for_job j = {hits};
  for (int threads = 1; threads <= 4; threads += 3) {
    compute_pool *cp = compute_pool_new(threads);
    for (int round = 0; round < 300; round++) {
      int64_t n = 1 + (int64_t)(rng_next() % N), chunk = 1 + (int64_t)(rng_next() % 97);
      memset(hits, 0, N * sizeof *hits);
      compute_pool_for(cp, n, chunk, for_mark, &j);
      int bad = -1;
      for (int64_t i = 0; i < N && bad < 0; i++)
        if (hits[i] != (i < n)) bad = (int)i;
      if (bad >= 0) {
        TEST_FAIL_("threads %d, n %lld, chunk %lld: item %d done %d times", threads, (long long)n,
                   (long long)chunk, bad, hits[bad]);
        break;
      }
      if (round % 50 == 0) { /* sections of the other kind in between keep working */
        memset(hits, 0, N * sizeof *hits);
        compute_pool_run(cp, run_mark, &j);
        for (int t = 0; t < threads; t++) CHECK_INT(hits[t], 1);
        CHECK_INT(hits[8 + threads], threads);
      }
    }
    compute_pool_destroy(cp);
  }
  memset(hits, 0, N * sizeof *hits);
  compute_pool_for(NULL, 10, 3, for_mark, &j);
  CHECK_INT(hits[0] + hits[9], 2);
  CHECK_INT(hits[10], 0);
  free(hits);
}

/* compute_pool_for_guided: every item exactly once; chunks in whole units (only the one ending at n
 * may be shorter), never longer further on (they shrink as items run out), the first one the items
 * over twice the threads; one thread runs the whole range in one call. */
typedef struct guided_job {
  int *hits;
  int64_t (*span)[2];
  int n_span;
} guided_job;

static void guided_mark(void *arg, int64_t b, int64_t e) {
  guided_job *j = arg;
  for (int64_t i = b; i < e; i++) __atomic_fetch_add(&j->hits[i], 1, __ATOMIC_RELAXED);
  int k = __atomic_fetch_add(&j->n_span, 1, __ATOMIC_RELAXED);
  j->span[k][0] = b;
  j->span[k][1] = e;
}

static int cmp_span(const void *a, const void *b) {
  const int64_t *x = a, *y = b;
  return (x[0] > y[0]) - (x[0] < y[0]);
}

TEST(pool_for_guided_shrinks_in_units) {
  enum { N = 20000 };
  guided_job j = {malloc(N * sizeof *j.hits), malloc(N * sizeof *j.span), 0};
  for (int threads = 1; threads <= 4; threads++) {
    compute_pool *cp = compute_pool_new(threads);
    for (int round = 0; round < 200; round++) {
      int64_t n = 1 + (int64_t)(rng_next() % N), unit = 1 + (int64_t)(rng_next() % 200);
      memset(j.hits, 0, N * sizeof *j.hits);
      j.n_span = 0;
      compute_pool_for_guided(cp, n, unit, guided_mark, &j);
      int bad = -1;
      for (int64_t i = 0; i < N && bad < 0; i++)
        if (j.hits[i] != (i < n)) bad = (int)i;
      if (bad >= 0) {
        TEST_FAIL_("threads %d, n %lld, unit %lld: item %d done %d times", threads, (long long)n,
                   (long long)unit, bad, j.hits[bad]);
        break;
      }
      if (threads == 1 || n <= unit) {
        CHECK_INT(j.n_span, 1);
        continue;
      }
      qsort(j.span, (size_t)j.n_span, sizeof *j.span, cmp_span);
      int64_t want0 = n / (2 * threads);
      want0 = want0 <= unit ? unit : (want0 + unit - 1) / unit * unit;
      CHECK_INT(j.span[0][1] - j.span[0][0], want0 < n ? want0 : n);
      for (int k = 0; k < j.n_span; k++) {
        int64_t len = j.span[k][1] - j.span[k][0];
        if (j.span[k][1] != n && (len % unit || len < unit)) {
          TEST_FAIL_("threads %d, n %lld, unit %lld: chunk [%lld, %lld) not in whole units",
                     threads, (long long)n, (long long)unit, (long long)j.span[k][0],
                     (long long)j.span[k][1]);
          break;
        }
        if (k && len > j.span[k - 1][1] - j.span[k - 1][0]) {
          TEST_FAIL_("threads %d, n %lld, unit %lld: chunk at %lld longer than the one before",
                     threads, (long long)n, (long long)unit, (long long)j.span[k][0]);
          break;
        }
      }
    }
    compute_pool_destroy(cp);
  }
  j.n_span = 0;
  memset(j.hits, 0, N * sizeof *j.hits);
  compute_pool_for_guided(NULL, 1000, 7, guided_mark, &j);
  CHECK_INT(j.n_span, 1);
  CHECK_INT(j.hits[0] + j.hits[999], 2);
  free(j.hits);
  free(j.span);
}

/* qmat_mul_multi gives exactly what separate qmat_mul calls give, including mixed weight types that
 * share a companion type (Q4_K + Q6_K) and ones that do not (Q4_K + Q8_0: converted separately).
 * With 37 tokens, the 17 Q6_K rows shift the last Q4_K's chunks off multiples of eight rows, so
 * packed strips (llm_gemm8) and the tile loop share chunks. */
TEST(qmat_mul_multi_matches_single) {
  enum { COLS = 512, T = 37 };
  const int rows[3] = {40, 17, 64};
  const tensor_type sets[2][3] = {{TT_Q4_K, TT_Q6_K, TT_Q4_K}, {TT_Q4_K, TT_Q8_0, TT_F16}};
  compute_pool *cp = compute_pool_new(3);
  float *x = malloc(T * COLS * sizeof *x), *tmp = malloc(COLS * sizeof *tmp);
  for (int i = 0; i < T * COLS; i++) x[i] = rng_sym();
  for (int s = 0; s < 2; s++) {
    qmat m[3];
    const qmat *mp[3];
    float *y1[3], *y2[3];
    uint8_t *w[3];
    for (int k = 0; k < 3; k++) {
      size_t rb = tensor_row_bytes(sets[s][k], COLS);
      w[k] = malloc(rb * (size_t)rows[k]);
      for (int r = 0; r < rows[k]; r++) make_row(sets[s][k], tmp, w[k] + r * rb, COLS);
      m[k] = (qmat){sets[s][k], rows[k], COLS, w[k], rb};
      mp[k] = &m[k];
      y1[k] = malloc(T * (size_t)rows[k] * sizeof(float));
      y2[k] = malloc(T * (size_t)rows[k] * sizeof(float));
    }
    static const int64_t tts[] = {1, 5, T};
    for (size_t ti = 0; ti < sizeof tts / sizeof tts[0]; ti++) {
      int64_t tt = tts[ti];
      for (int k = 0; k < 3; k++) qmat_mul(cp, &m[k], x, y1[k], tt);
      qmat_mul_multi(cp, 3, mp, x, y2, tt);
      for (int k = 0; k < 3; k++)
        CHECK(memcmp(y1[k], y2[k], (size_t)tt * (size_t)rows[k] * sizeof(float)) == 0);
    }
    for (int k = 0; k < 3; k++) {
      free(w[k]);
      free(y1[k]);
      free(y2[k]);
    }
  }
  compute_pool_destroy(cp);
  free(x);
  free(tmp);
}

/* With --best (ctest's llm/test_kernels_best), nothing is forced: qmat_mul runs the best set this
 * CPU has (AVX-512's tile and multi-row kernels, leftovers included) against the references. */
TEST(best_variant_selected) {
  const char *want = has_avx512() ? "avx512vnni" : has_avx2() ? "avx2" : "scalar";
  CHECK_STR(qmat_kernels_name(), want);
}

int main(int argc, char **argv) {
  const char *seed = getenv("MIMIC_TEST_SEED");
  uint64_t s = 0;
  if (!seed || str_to_u64(seed, &s) != 0) s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  if (!s) s = 1;
  rng_state = s;
  printf("seed %llu (replay with MIMIC_TEST_SEED)\n", (unsigned long long)s);
  if (argc > 1 && strcmp(argv[1], "--best") == 0) {
    unsetenv("MIMIC_KERNELS");
    RUN(best_variant_selected);
    RUN(qmat_mul_agrees_with_reference_dots);
    RUN(qmat_mul_multi_matches_single);
    llm__scratch_release();
    TEST_MAIN_END();
  }
  setenv("MIMIC_KERNELS", has_avx512() ? "avx2" : "scalar", 1);
  RUN(avx2_matches_reference);
  RUN(avx2_gemv_kernels_selected);
  RUN(avx2_q4_K_gemv_extremes);
  RUN(avx512_matches_reference);
  RUN(env_forces_lower_variant);
  RUN(qmat_mul_agrees_with_reference_dots);
  RUN(pool_for_covers_every_item_once);
  RUN(pool_for_guided_shrinks_in_units);
  RUN(qmat_mul_multi_matches_single);
  llm__scratch_release();
  TEST_MAIN_END();
}
