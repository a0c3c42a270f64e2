/* The float-weight product (gemm_float.c) against the scalar reference dots, bit for bit: every set
 * this CPU has (the portable one always), F32 / F16 / BF16, shapes with partial panels and partial
 * token blocks, token ranges split over threads, several matrices in one call, and qmat_mul's
 * routing (which sends T >= 16 here). Fresh random data each run; the seed is printed. */
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

static const tensor_type float_types[] = {TT_F32, TT_F16, TT_BF16};

typedef struct mat {
  qmat q;
  uint8_t *data;
} mat;

static mat make_mat(tensor_type t, int64_t rows, int64_t cols) {
  mat m;
  size_t rb = tensor_row_bytes(t, cols);
  m.data = xalloc(rb * (size_t)rows);
  float *tmp = xalloc((size_t)cols * sizeof *tmp);
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t i = 0; i < cols; i++) {
      float v = rng_sym();
      if (rng_next() % 64 == 0) v *= 8;
      if (rng_next() % 97 == 0) v *= 1e-6f; /* F16 subnormals */
      tmp[i] = v;
    }
    if (quant_row(t, tmp, m.data + (size_t)r * rb, cols)) memset(m.data + (size_t)r * rb, 0, rb);
  }
  mem_free(tmp);
  m.q = (qmat){t, rows, cols, m.data, rb};
  return m;
}

/* y (T, rows) from the reference dot of each weight row with the activation row as qmat_mul
 * converts it. */
static void reference(const qmat *w, const float *x, float *y, int64_t T) {
  tensor_type at = llm__act_type(w->type);
  uint8_t *a = xalloc(tensor_row_bytes(at, w->cols));
  vec_dot_fn dot = llm__dot_scalar(w->type);
  for (int64_t t = 0; t < T; t++) {
    llm__quant_act_row_ref(at, x + t * w->cols, a, w->cols);
    for (int64_t r = 0; r < w->rows; r++)
      y[t * w->rows + r] = dot((const uint8_t *)w->data + (size_t)r * w->row_bytes, a, w->cols);
  }
  mem_free(a);
}

static float *make_x(int64_t T, int64_t cols) {
  float *x = xalloc((size_t)(T * cols) * sizeof *x);
  for (int64_t i = 0; i < T * cols; i++) x[i] = rng_sym() * (i % 3 ? 1.0f : 4.0f);
  return x;
}

static int compare(const char *what, const qmat *w, const float *got, const float *want,
                   int64_t T) {
  for (int64_t i = 0; i < T * w->rows; i++)
    if (memcmp(&got[i], &want[i], sizeof got[i])) {
      TEST_FAIL_("%s %s %lldx%lld T=%lld: y[%lld][%lld] = %.9g, reference %.9g", what,
                 tensor_type_get((int)w->type).name, (long long)w->rows, (long long)w->cols,
                 (long long)T, (long long)(i / w->rows), (long long)(i % w->rows), got[i], want[i]);
      return 1;
    }
  return 0;
}

/* One set over shapes and thread counts. */
static void check_set(const llm_gemm_ops *ops) {
  /* x 1600: 100 steps per lane, so the chains continue across the 96-step chunks (the wide
   * matrices' blocking: 72 rows are a group of four panels and one of one). */
  static const int64_t shapes[][2] = {{4, 32},   {20, 64},  {28, 64},   {36, 96},
                                      {64, 160}, {48, 768}, {20, 1600}, {72, 1600}};
  static const int64_t Ts[] = {1, 5, 6, 7, 97, 200};
  int compared = 0;
  for (int threads = 1; threads <= 3; threads += 2) {
    compute_pool *cp = compute_pool_new(threads);
    for (size_t k = 0; k < sizeof float_types / sizeof float_types[0]; k++)
      for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        mat m = make_mat(float_types[k], shapes[s][0], shapes[s][1]);
        for (size_t ti = 0; ti < sizeof Ts / sizeof Ts[0]; ti++) {
          int64_t T = Ts[ti];
          float *x = make_x(T, m.q.cols);
          float *y = xalloc((size_t)(T * m.q.rows) * sizeof *y),
                *r = xalloc((size_t)(T * m.q.rows) * sizeof *r);
          const qmat *wl = &m.q;
          CHECK(llm__gemm_float_with(ops, llm__scratch, cp, 1, &wl, x, &y, T));
          reference(&m.q, x, r, T);
          if (compare(ops->name, &m.q, y, r, T)) {
            mem_free(x);
            mem_free(y);
            mem_free(r);
            break;
          }
          compared++;
          mem_free(x);
          mem_free(y);
          mem_free(r);
        }
        mem_free(m.data);
      }
    compute_pool_destroy(cp);
  }
  CHECK(compared > 0);
}

/* The AVX2 panel packing writes the portable one's layout, float for float, for every row count
 * of a panel (rows past nr zero) and widths of one and several steps. */
TEST(avx2_packs_the_portable_layout) {
  const llm_gemm_ops *ops = llm__gemm_ops(LLM_GEMM_AVX2), *ref = llm__gemm_ops(LLM_GEMM_PORTABLE);
  if (!ops) SKIP("no AVX2+FMA+F16C on this CPU");
  for (size_t k = 0; k < sizeof float_types / sizeof float_types[0]; k++)
    for (int64_t cols = 32; cols <= 96; cols += 64) {
      mat m = make_mat(float_types[k], GF_NR, cols);
      int64_t D = cols / 16;
      size_t n = (size_t)(16 * D * GF_NR);
      float *a = xalloc(n * sizeof *a), *b = xalloc(n * sizeof *b);
      for (int nr = 1; nr <= GF_NR; nr++) {
        memset(a, 0xA5, n * sizeof *a);
        memset(b, 0x5A, n * sizeof *b);
        ops->pack(float_types[k], m.data, m.q.row_bytes, nr, D, a);
        ref->pack(float_types[k], m.data, m.q.row_bytes, nr, D, b);
        if (memcmp(a, b, n * sizeof *a)) {
          TEST_FAIL_("pack %s cols %lld nr %d differs from the portable layout",
                     tensor_type_get((int)float_types[k]).name, (long long)cols, nr);
          break;
        }
      }
      mem_free(a);
      mem_free(b);
      mem_free(m.data);
    }
}

/* The AVX2 activation rounding gives the portable one's floats: ties, the largest values,
 * infinities, subnormals and random values bit for bit; NaNs stay NaNs (BF16: the same bits). */
TEST(avx2_rounds_activations_as_portable) {
  const llm_gemm_ops *ops = llm__gemm_ops(LLM_GEMM_AVX2), *ref = llm__gemm_ops(LLM_GEMM_PORTABLE);
  if (!ops) SKIP("no AVX2+FMA+F16C on this CPU");
  enum { N = 4096 };
  static const uint32_t special[] = {0x3F808000u, 0x3F818000u, 0x3F80FFFFu, 0x7F7FFFFFu,
                                     0xFF7FFFFFu, 0x7F800000u, 0xFF800000u, 0x7FC00001u,
                                     0xFF800001u, 0x7F800001u, 0x00000001u, 0x80000000u,
                                     0x477FF000u, 0x477FE000u, 0x387FC000u, 0x33000000u};
  float *x = xalloc(N * sizeof *x), *a = xalloc(N * sizeof *a), *b = xalloc(N * sizeof *b);
  for (int i = 0; i < N; i++) {
    uint32_t u = i < (int)(sizeof special / sizeof special[0]) ? special[i] : (uint32_t)rng_next();
    memcpy(&x[i], &u, sizeof u);
  }
  for (size_t k = 0; k < sizeof float_types / sizeof float_types[0]; k++) {
    tensor_type t = float_types[k];
    ops->act(t, x, a, N - 3); /* a tail past the 8-wide loop */
    ref->act(t, x, b, N - 3);
    for (int i = 0; i < N - 3; i++) {
      bool same = t == TT_F16 && isnan(a[i]) ? isnan(b[i]) : !memcmp(&a[i], &b[i], sizeof a[i]);
      if (!same) {
        TEST_FAIL_("act %s of %a: %a, portable %a", tensor_type_get((int)t).name, (double)x[i],
                   (double)a[i], (double)b[i]);
        break;
      }
    }
  }
  mem_free(x);
  mem_free(a);
  mem_free(b);
}

TEST(portable_matches_reference) { check_set(llm__gemm_ops(LLM_GEMM_PORTABLE)); }

TEST(avx2_matches_reference) {
  const llm_gemm_ops *ops = llm__gemm_ops(LLM_GEMM_AVX2);
  if (!ops) SKIP("no AVX2+FMA+F16C on this CPU");
  check_set(ops);
}

/* Three matrices sharing the input (q, k, v), rows not a multiple of the panel: one call gives
 * what three give, and both the references. */
TEST(several_matrices_in_one_call) {
  const llm_gemm_ops *ops = llm__gemm_ops(LLM_GEMM_AVX2);
  if (!ops) ops = llm__gemm_ops(LLM_GEMM_PORTABLE);
  compute_pool *cp = compute_pool_new(2);
  for (size_t k = 0; k < sizeof float_types / sizeof float_types[0]; k++) {
    int64_t rows[3] = {52, 16, 100}, T = 40, cols = 64;
    mat m[3];
    const qmat *wl[3];
    float *y[3], *r[3];
    for (int i = 0; i < 3; i++) {
      m[i] = make_mat(float_types[k], rows[i], cols);
      wl[i] = &m[i].q;
      y[i] = xalloc((size_t)(T * rows[i]) * sizeof *y[i]);
      r[i] = xalloc((size_t)(T * rows[i]) * sizeof *r[i]);
    }
    float *x = make_x(T, cols);
    CHECK(llm__gemm_float_with(ops, llm__scratch, cp, 3, wl, x, y, T));
    for (int i = 0; i < 3; i++) {
      reference(wl[i], x, r[i], T);
      compare("multi", wl[i], y[i], r[i], T);
      mem_free(m[i].data);
      mem_free(y[i]);
      mem_free(r[i]);
    }
    mem_free(x);
  }
  compute_pool_destroy(cp);
}

/* What the product refuses (nothing written, the caller's row loops take it): untiled shapes,
 * quantized weights, mixed types or widths. */
TEST(refuses_what_it_does_not_cover) {
  const llm_gemm_ops *ops = llm__gemm_ops(LLM_GEMM_PORTABLE);
  mat a = make_mat(TT_F16, 6, 64), b = make_mat(TT_F16, 8, 40), c = make_mat(TT_Q8_0, 8, 64),
      d = make_mat(TT_F32, 8, 64), e = make_mat(TT_BF16, 8, 48);
  float *x = make_x(20, 64), *y = xalloc(20 * 8 * sizeof *y), *y2 = xalloc(20 * 8 * sizeof *y2);
  const qmat *one[1], *two[2];
  float *ys[2] = {y, y2};
  one[0] = &a.q; /* 6 rows: untiled */
  CHECK(!llm__gemm_float_with(ops, llm__scratch, NULL, 1, one, x, ys, 20));
  one[0] = &b.q; /* width 40: untiled */
  CHECK(!llm__gemm_float_with(ops, llm__scratch, NULL, 1, one, x, ys, 20));
  one[0] = &c.q;
  CHECK(!llm__gemm_float_with(ops, llm__scratch, NULL, 1, one, x, ys, 20));
  one[0] = &e.q; /* BF16 width 48: untiled (needs a multiple of 32) */
  CHECK(!llm__gemm_float_with(ops, llm__scratch, NULL, 1, one, x, ys, 20));
  two[0] = &d.q;
  two[1] = &c.q;
  CHECK(!llm__gemm_float_with(ops, llm__scratch, NULL, 2, two, x, ys, 20));
  one[0] = &d.q; /* under 16 tokens, the hook leaves it to the row loops */
  CHECK(!llm__gemm_float(NULL, 1, one, x, ys, 15, qmat_kernels_name(), llm__scratch));
  mem_free(a.data);
  mem_free(b.data);
  mem_free(c.data);
  mem_free(d.data);
  mem_free(e.data);
  mem_free(x);
  mem_free(y);
  mem_free(y2);
}

/* qmat_mul with enough tokens goes through the product on this CPU's set and still gives the
 * reference's bits; with few it takes the row loops, also the reference's bits. */
TEST(qmat_mul_routes_with_the_same_bits) {
  compute_pool *cp = compute_pool_new(2);
  for (size_t k = 0; k < sizeof float_types / sizeof float_types[0]; k++) {
    mat m = make_mat(float_types[k], 72, 256);
    for (int64_t T = 15; T <= 17; T++) {
      float *x = make_x(T, 256), *y = xalloc((size_t)(T * 72) * sizeof *y),
            *r = xalloc((size_t)(T * 72) * sizeof *r);
      qmat_mul(cp, &m.q, x, y, T);
      reference(&m.q, x, r, T);
      compare("qmat_mul", &m.q, y, r, T);
      mem_free(x);
      mem_free(y);
      mem_free(r);
    }
    mem_free(m.data);
  }
  compute_pool_destroy(cp);
}

int main(void) {
  const char *seed = getenv("MIMIC_TEST_SEED");
  uint64_t s = 0;
  if (!seed || str_to_u64(seed, &s) != 0) s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  if (!s) s = 1;
  rng_state = s;
  printf("seed %llu (replay with MIMIC_TEST_SEED)\n", (unsigned long long)s);
  RUN(avx2_packs_the_portable_layout);
  RUN(avx2_rounds_activations_as_portable);
  RUN(portable_matches_reference);
  RUN(avx2_matches_reference);
  RUN(several_matrices_in_one_call);
  RUN(refuses_what_it_does_not_cover);
  RUN(qmat_mul_routes_with_the_same_bits);
  llm__scratch_release();
  TEST_MAIN_END();
}
