/* Training kernels: the GEMM against a double-precision reference in every orientation (with F32
 * and quantized B operands), and every backward kernel against central finite differences of a
 * random linear functional of its forward output, on tiny random shapes. */
#include "base/base.h"
#include "llm/quant.h"
#include "test.h"
#include "train/train_int.h"

static train_rng rng;

static void fill(float *x, size_t n, float scale) {
  for (size_t i = 0; i < n; i++) x[i] = scale * train__rng_normal(&rng);
}

static double dot(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
  return s;
}

/* Checks grad (n) against central differences of loss() at up to 24 coordinates of x. */
typedef double (*loss_fn)(void *ctx);
static int fd_check(const char *what, float *x, size_t n, const float *grad, loss_fn f, void *ctx,
                    float eps, double tol) {
  int bad = 0;
  size_t step = n / 24 + 1;
  for (size_t i = 0; i < n; i += step) {
    size_t k = (i + (size_t)(train__rng_next(&rng) % step)) % n;
    float keep = x[k];
    x[k] = keep + eps;
    double lp = f(ctx);
    x[k] = keep - eps;
    double lm = f(ctx);
    x[k] = keep;
    double num = (lp - lm) / (2.0 * eps);
    if (fabs(num - grad[k]) > tol * (1.0 + fabs(num))) {
      if (bad < 5)
        printf("  %s[%zu]: analytic %.6g, numeric %.6g\n", what, k, (double)grad[k], num);
      bad++;
    }
  }
  return bad;
}

/* ---- GEMM ------------------------------------------------------------------------------------ */

static void gemm_ref(int64_t M, int64_t N, int64_t K, const float *A, bool ta, const float *B,
                     bool tb, double *C) {
  for (int64_t i = 0; i < M; i++)
    for (int64_t j = 0; j < N; j++) {
      double s = 0;
      for (int64_t k = 0; k < K; k++)
        s += (double)(ta ? A[k * M + i] : A[i * K + k]) * (tb ? B[j * K + k] : B[k * N + j]);
      C[i * N + j] = s;
    }
}

static void check_gemm(compute_pool *cp, int64_t M, int64_t N, int64_t K) {
  float *A = xalloc((size_t)(M * K) * sizeof(float)), *B = xalloc((size_t)(K * N) * sizeof(float));
  float *C = xalloc((size_t)(M * N) * sizeof(float)), *C0 = xalloc((size_t)(M * N) * sizeof(float));
  double *R = xalloc((size_t)(M * N) * sizeof(double));
  fill(A, (size_t)(M * K), 1);
  fill(B, (size_t)(K * N), 1);
  for (int ta = 0; ta < 2; ta++)
    for (int tb = 0; tb < 2; tb++)
      for (int acc = 0; acc < 2; acc++) {
        fill(C0, (size_t)(M * N), 1);
        memcpy(C, C0, (size_t)(M * N) * sizeof(float));
        train_mat a = {A, ta ? M : K, ta, NULL}, b = {B, tb ? K : N, tb, NULL};
        train__gemm(cp, M, N, K, a, b, 0.5f, C, N, acc);
        gemm_ref(M, N, K, A, ta, B, tb, R);
        double worst = 0;
        for (int64_t i = 0; i < M * N; i++) {
          double want = 0.5 * R[i] + (acc ? C0[i] : 0);
          double e = fabs(C[i] - want) / (1.0 + fabs(want));
          if (e > worst) worst = e;
        }
        if (worst > 1e-5)
          printf("  M %lld N %lld K %lld ta %d tb %d acc %d\n", (long long)M, (long long)N,
                 (long long)K, ta, tb, acc);
        CHECK(worst <= 1e-5);
      }
  mem_free(A), mem_free(B), mem_free(C), mem_free(C0), mem_free(R);
}

/* Every micro-kernel the CPU has (the scalar reference always), on awkward shapes. */
TEST(gemm_matches_reference) {
  compute_pool *cp = compute_pool_new(2);
  const char *best = train__gemm_kernel();
  const char *kernels[] = {"scalar", "avx2", "avx512"};
  /* ... whole 6x16 tiles added into C in place, row-split tasks (N too narrow for the threads),
   * several column blocks */
  int64_t shapes[][3] = {{1, 1, 1},    {7, 19, 5},   {6, 16, 256},  {13, 70, 300}, {100, 33, 17},
                         {2, 600, 40}, {30, 64, 33}, {200, 20, 50}, {61, 1100, 70}};
  for (int k = 0; k < 3; k++) {
    if (!train__gemm_set_kernel(kernels[k])) continue;
    printf("     kernel %s\n", kernels[k]);
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
      check_gemm(NULL, shapes[i][0], shapes[i][1], shapes[i][2]);
      check_gemm(cp, shapes[i][0], shapes[i][1], shapes[i][2]);
    }
  }
  CHECK(train__gemm_set_kernel(best));
  compute_pool_destroy(cp);
}

/* Which thread runs which block of C never changes a bit: one thread and two agree exactly; with
 * N = 1100 the fifth (last) column block is split by rows between the two threads. */
TEST(gemm_threads_bit_identical) {
  compute_pool *cp = compute_pool_new(2);
  int64_t M = 97, Ns[2] = {700, 1100}, K = 300;
  for (int n = 0; n < 2; n++) {
    int64_t N = Ns[n];
    float *A = xalloc((size_t)(M * K) * 4), *B = xalloc((size_t)(K * N) * 4);
    float *C1 = xalloc((size_t)(M * N) * 4), *C2 = xalloc((size_t)(M * N) * 4);
    fill(A, (size_t)(M * K), 1), fill(B, (size_t)(K * N), 1);
    train_mat a = {A, K, false, NULL}, b = {B, N, false, NULL};
    train__gemm(NULL, M, N, K, a, b, 1.0f, C1, N, false);
    train__gemm(cp, M, N, K, a, b, 1.0f, C2, N, false);
    CHECK(memcmp(C1, C2, (size_t)(M * N) * 4) == 0);
    mem_free(A), mem_free(B), mem_free(C1), mem_free(C2);
  }
  compute_pool_destroy(cp);
}

/* The GEMM's AVX2 dequantization gives exactly the engine's floats: rows quantized from floats of
 * several scales, and blocks of random bits (every nibble and high-bit pattern) under sane f16
 * scales. */
TEST(dequant_matches_engine) {
  struct {
    tensor_type t;
    int bytes, d_off[2];
  } ty[] = {{TT_Q5_0, 22, {0, -1}},
            {TT_Q8_0, 34, {0, -1}},
            {TT_Q4_K, 144, {0, 2}},
            {TT_Q6_K, 210, {208, -1}}};
  int64_t n = 1024;
  float *x = xalloc((size_t)n * sizeof(float)), *a = xalloc((size_t)n * sizeof(float)),
        *b = xalloc((size_t)n * sizeof(float));
  uint8_t *q = xalloc(tensor_row_bytes(TT_Q8_0, n) + 256);
  for (size_t k = 0; k < sizeof ty / sizeof ty[0]; k++) {
    printf("     %s: %s\n", tensor_type_get((int)ty[k].t).name,
           train__dequant_fast(ty[k].t) ? "avx2" : "reference only");
    size_t rb = tensor_row_bytes(ty[k].t, n);
    for (int trial = 0; trial < 40; trial++) {
      if (trial < 20) {
        fill(x, (size_t)n, trial % 4 == 0 ? 1e-3f : (float)(trial + 1));
        CHECK_OK(quant_row(ty[k].t, x, q, n));
      } else {
        for (size_t i = 0; i < rb; i++) q[i] = (uint8_t)train__rng_next(&rng);
        for (size_t bl = 0; bl < rb / (size_t)ty[k].bytes; bl++)
          for (int j = 0; j < 2; j++)
            if (ty[k].d_off[j] >= 0) { /* an f16 in [2^-10, 2) of either sign */
              uint16_t h = (uint16_t)(((train__rng_next(&rng) & 0x8000) | 0x1400) +
                                      (train__rng_next(&rng) % 0x2800));
              memcpy(q + bl * (size_t)ty[k].bytes + (size_t)ty[k].d_off[j], &h, 2);
            }
      }
      quant_dequant_row(ty[k].t, q, a, n);
      train__dequant_row(ty[k].t, q, b, n);
      CHECK(memcmp(a, b, (size_t)n * sizeof(float)) == 0);
    }
  }
  mem_free(x), mem_free(a), mem_free(b), mem_free(q);
}

/* B = a quantized matrix, both ways round: the product must equal the product with its dequantized
 * copy bit for bit (the dequantization is the only approximation, and both pack the same floats:
 * transposed, two whole panels of 16 decoded rows and a partial one). */
TEST(gemm_quantized_operand) {
  compute_pool *cp = compute_pool_new(2);
  tensor_type types[] = {TT_F32, TT_F16, TT_Q8_0, TT_Q4_0, TT_Q5_0, TT_Q4_K, TT_Q6_K};
  int64_t rows = 40, cols = 512, T = 9;
  for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
    tensor_type ty = types[ti];
    size_t rb = tensor_row_bytes(ty, cols);
    float *W = xalloc((size_t)(rows * cols) * sizeof(float)),
          *Wd = xalloc((size_t)(rows * cols) * sizeof(float));
    void *q = xalloc(rb * (size_t)rows);
    fill(W, (size_t)(rows * cols), 1);
    for (int64_t r = 0; r < rows; r++) {
      CHECK_OK(quant_row(ty, W + r * cols, (char *)q + (size_t)r * rb, cols));
      quant_dequant_row(ty, (char *)q + (size_t)r * rb, Wd + r * cols, cols);
    }
    qmat qm = {ty, rows, cols, q, rb};
    /* dx (T, cols) = dy (T, rows) W */
    float *dy = xalloc((size_t)(T * rows) * sizeof(float)),
          *dx = xalloc((size_t)(T * cols) * sizeof(float));
    float *ref = xalloc((size_t)(T * cols) * sizeof(float));
    fill(dy, (size_t)(T * rows), 1);
    train_mat A = {dy, rows, false, NULL}, Bq = {NULL, 0, false, &qm}, Bf = {Wd, cols, false, NULL};
    train__gemm(cp, T, cols, rows, A, Bq, 1.0f, dx, cols, false);
    train__gemm(NULL, T, cols, rows, A, Bf, 1.0f, ref, cols, false);
    double worst = 0;
    for (int64_t i = 0; i < T * cols; i++)
      worst = fmax(worst, fabs(dx[i] - ref[i]) / (1 + fabs(ref[i])));
    CHECK(worst == 0);
    /* y (T, rows) = x (T, cols) W^T */
    float *x = xalloc((size_t)(T * cols) * sizeof(float)),
          *y = xalloc((size_t)(T * rows) * sizeof(float));
    float *yr = xalloc((size_t)(T * rows) * sizeof(float));
    fill(x, (size_t)(T * cols), 1);
    train_mat X = {x, cols, false, NULL}, Bqt = {NULL, 0, true, &qm}, Bft = {Wd, cols, true, NULL};
    train__gemm(cp, T, rows, cols, X, Bqt, 1.0f, y, rows, false);
    train__gemm(NULL, T, rows, cols, X, Bft, 1.0f, yr, rows, false);
    worst = 0;
    for (int64_t i = 0; i < T * rows; i++)
      worst = fmax(worst, fabs(y[i] - yr[i]) / (1 + fabs(yr[i])));
    CHECK(worst == 0);
    mem_free(W), mem_free(Wd), mem_free(q), mem_free(dy), mem_free(dx), mem_free(ref), mem_free(x),
        mem_free(y), mem_free(yr);
  }
  compute_pool_destroy(cp);
}

/* ---- RMSNorm --------------------------------------------------------------------------------- */

typedef struct norm_ctx {
  int T, n;
  float *x, *w, *y, *rs, *c;
} norm_ctx;

static double norm_loss(void *v) {
  norm_ctx *c = v;
  train__rmsnorm_fwd(c->T, c->n, c->x, c->w, 1e-5f, c->y, c->rs);
  return dot(c->y, c->c, (size_t)c->T * c->n);
}

TEST(rmsnorm_backward) {
  int T = 3, n = 16;
  norm_ctx c = {
      T, n, xalloc(T * n * 4), xalloc(n * 4), xalloc(T * n * 4), xalloc(T * 4), xalloc(T * n * 4)};
  float *dx = xcalloc((size_t)T * n, 4), *dw = xcalloc((size_t)n, 4);
  fill(c.x, (size_t)T * n, 1);
  fill(c.w, (size_t)n, 1);
  fill(c.c, (size_t)T * n, 1);
  norm_loss(&c);
  train__rmsnorm_bwd(T, n, c.x, c.w, c.rs, c.c, dx, dw);
  CHECK_INT(fd_check("dx", c.x, (size_t)T * n, dx, norm_loss, &c, 1e-2f, 2e-3), 0);
  CHECK_INT(fd_check("dw", c.w, (size_t)n, dw, norm_loss, &c, 1e-2f, 2e-3), 0);
  mem_free(c.x), mem_free(c.w), mem_free(c.y), mem_free(c.rs), mem_free(c.c), mem_free(dx),
      mem_free(dw);
}

/* ---- RoPE: a rotation, so the backward pass must be its transpose: <R x, y> = <x, R^T y>, and it
 * must invert the forward pass. Both modes, partial rotation (n_rot < head_dim). */
TEST(rope_backward_is_transpose) {
  for (int mode = 0; mode < 2; mode++) {
    llm_hparams hp = {0};
    hp.head_dim = 8;
    hp.n_rot = mode ? 8 : 6;
    hp.rope_type = mode ? LLM_ROPE_NEOX : LLM_ROPE_NORM;
    hp.rope_freq_base = 10000.0f;
    hp.rope_freq_scale = 1.0f;
    int T = 5, H = 3, n = T * H * hp.head_dim;
    int32_t pos[5] = {0, 1, 2, 7, 100};
    float cs[5 * 8], x[120], y[120], rx[120], ry[120];
    float ff[4] = {1.0f, 2.0f, 8.0f, 1.5f};
    train__rope_cache(&hp, mode ? NULL : ff, pos, T, cs);
    fill(x, (size_t)n, 1);
    fill(y, (size_t)n, 1);
    memcpy(rx, x, sizeof x);
    memcpy(ry, y, sizeof y);
    train__rope(&hp, T, H, cs, rx, false);
    train__rope(&hp, T, H, cs, ry, true);
    CHECK_NEAR(dot(rx, y, (size_t)n), dot(x, ry, (size_t)n), 1e-4);
    train__rope(&hp, T, H, cs, rx, true);
    double err = 0;
    for (int i = 0; i < n; i++) err = fmax(err, fabs(rx[i] - x[i]));
    CHECK(err < 1e-5);
    /* position 0 rotates nothing; unrotated dims are untouched */
    memcpy(rx, x, sizeof x);
    train__rope(&hp, T, H, cs, rx, false);
    for (int i = 0; i < H * hp.head_dim; i++) CHECK_NEAR(rx[i], x[i], 1e-6);
    if (mode == 0) CHECK_NEAR(rx[8 * 3 + 6], x[8 * 3 + 6], 0);
  }
}

/* ---- Attention ------------------------------------------------------------------------------- */

typedef struct attn_ctx {
  train_attn a;
  float *q, *k, *v, *o, *lse, *c;
  size_t nq;
} attn_ctx;

static double attn_loss(void *v) {
  attn_ctx *c = v;
  train__attn_fwd(NULL, &c->a, c->q, c->k, c->v, c->o, c->lse);
  return dot(c->o, c->c, c->nq);
}

TEST(attention_backward) {
  compute_pool *cp = compute_pool_new(2);
  int T = 7, nh = 4, nkv = 2, hd = 4;
  int32_t seg[7] = {0, 0, 0, 3, 3, 3, 3}; /* two packed samples */
  attn_ctx c = {{T, nh, nkv, hd, seg}, NULL, NULL, NULL, NULL, NULL, NULL, (size_t)T * nh * hd};
  size_t nkvs = (size_t)T * nkv * hd;
  c.q = xalloc(c.nq * 4), c.k = xalloc(nkvs * 4), c.v = xalloc(nkvs * 4), c.o = xalloc(c.nq * 4);
  c.lse = xalloc((size_t)T * nh * 4), c.c = xalloc(c.nq * 4);
  float *dq = xalloc(c.nq * 4), *dk = xalloc(nkvs * 4), *dv = xalloc(nkvs * 4);
  float *scr = xalloc(train__attn_scratch(&c.a) * 4);
  fill(c.q, c.nq, 1), fill(c.k, nkvs, 1), fill(c.v, nkvs, 1), fill(c.c, c.nq, 1);
  train__attn_fwd(cp, &c.a, c.q, c.k, c.v, c.o, c.lse);
  train__attn_bwd(cp, &c.a, c.q, c.k, c.v, c.o, c.lse, c.c, dq, dk, dv, scr);
  CHECK_INT(fd_check("dq", c.q, c.nq, dq, attn_loss, &c, 1e-2f, 2e-3), 0);
  CHECK_INT(fd_check("dk", c.k, nkvs, dk, attn_loss, &c, 1e-2f, 2e-3), 0);
  CHECK_INT(fd_check("dv", c.v, nkvs, dv, attn_loss, &c, 1e-2f, 2e-3), 0);
  /* The second sample must not see the first: its outputs ignore rows 0..2 entirely. */
  float o2[7 * 16];
  attn_loss(&c);
  memcpy(o2, c.o, sizeof o2);
  for (size_t i = 0; i < 3 * (size_t)nkv * hd; i++) c.k[i] += 1.0f, c.v[i] -= 2.0f;
  attn_loss(&c);
  for (size_t i = 3 * (size_t)nh * hd; i < c.nq; i++) CHECK_NEAR(c.o[i], o2[i], 0);
  /* The first row attends only to itself: its output is its own v (per kv group). */
  for (int h = 0; h < nh; h++)
    for (int i = 0; i < hd; i++) CHECK_NEAR(c.o[h * hd + i], c.v[(h / 2) * hd + i], 1e-6);
  mem_free(c.q), mem_free(c.k), mem_free(c.v), mem_free(c.o), mem_free(c.lse), mem_free(c.c);
  mem_free(dq), mem_free(dk), mem_free(dv), mem_free(scr);
  compute_pool_destroy(cp);
}

/* The vectorised attention (head_dim a multiple of 8) against the scalar reference, forward and
 * backward, on packed samples of uneven lengths; then finite differences on the vectorised path. */
/* One head size: 24 runs the AVX2 scores' 16-float steps and their 8-float tail and the weighted
 * values key by key; 72 also a 64-float chunk of the values held in registers. */
static void attn_simd_case(int hd) {
  compute_pool *cp = compute_pool_new(2);
  const char *best = train__gemm_kernel();
  int T = 37, nh = 6, nkv = 2;
  int32_t seg[37];
  for (int t = 0; t < T; t++) seg[t] = t < 11 ? 0 : t < 30 ? 11 : 30;
  attn_ctx c = {{T, nh, nkv, hd, seg}, NULL, NULL, NULL, NULL, NULL, NULL, (size_t)T * nh * hd};
  size_t nkvs = (size_t)T * nkv * hd, nq = c.nq;
  c.q = xalloc(nq * 4), c.k = xalloc(nkvs * 4), c.v = xalloc(nkvs * 4), c.o = xalloc(nq * 4);
  c.lse = xalloc((size_t)T * nh * 4), c.c = xalloc(nq * 4);
  fill(c.q, nq, 1), fill(c.k, nkvs, 1), fill(c.v, nkvs, 1), fill(c.c, nq, 1);
  float *o[2], *lse[2], *dq[2], *dk[2], *dv[2];
  float *scr = xalloc(train__attn_scratch(&c.a) * 4);
  for (int pass = 0; pass < 2; pass++) {
    CHECK(train__gemm_set_kernel(pass ? best : "scalar"));
    o[pass] = xalloc(nq * 4), lse[pass] = xalloc((size_t)T * nh * 4);
    dq[pass] = xalloc(nq * 4), dk[pass] = xalloc(nkvs * 4), dv[pass] = xalloc(nkvs * 4);
    train__attn_fwd(cp, &c.a, c.q, c.k, c.v, o[pass], lse[pass]);
    train__attn_bwd(cp, &c.a, c.q, c.k, c.v, o[pass], lse[pass], c.c, dq[pass], dk[pass], dv[pass],
                    scr);
  }
  double worst = 0;
  for (size_t i = 0; i < nq; i++) {
    worst = fmax(worst, fabs(o[0][i] - o[1][i]));
    worst = fmax(worst, fabs(dq[0][i] - dq[1][i]));
  }
  for (size_t i = 0; i < nkvs; i++) {
    worst = fmax(worst, fabs(dk[0][i] - dk[1][i]));
    worst = fmax(worst, fabs(dv[0][i] - dv[1][i]));
  }
  for (int i = 0; i < T * nh; i++) worst = fmax(worst, fabs(lse[0][i] - lse[1][i]));
  CHECK(worst < 1e-4);
  float *gq = dq[1], *gk = dk[1], *gv = dv[1];
  CHECK_INT(fd_check("dq", c.q, nq, gq, attn_loss, &c, 1e-2f, 2e-3), 0);
  CHECK_INT(fd_check("dk", c.k, nkvs, gk, attn_loss, &c, 1e-2f, 2e-3), 0);
  CHECK_INT(fd_check("dv", c.v, nkvs, gv, attn_loss, &c, 1e-2f, 2e-3), 0);
  for (int pass = 0; pass < 2; pass++)
    mem_free(o[pass]), mem_free(lse[pass]), mem_free(dq[pass]), mem_free(dk[pass]),
        mem_free(dv[pass]);
  mem_free(c.q), mem_free(c.k), mem_free(c.v), mem_free(c.o), mem_free(c.lse), mem_free(c.c);
  mem_free(scr);
  compute_pool_destroy(cp);
}

TEST(attention_simd_matches_scalar) {
  attn_simd_case(24);
  attn_simd_case(72);
}

/* ---- SwiGLU and the cross-entropy row -------------------------------------------------------- */

typedef struct sw_ctx {
  float *g, *u, *h, *c;
  int n;
} sw_ctx;

static double sw_loss(void *v) {
  sw_ctx *c = v;
  train__swiglu_fwd(c->n, c->g, c->u, c->h);
  return dot(c->h, c->c, (size_t)c->n);
}

TEST(swiglu_backward) {
  int n = 40;
  sw_ctx c = {xalloc(n * 4), xalloc(n * 4), xalloc(n * 4), xalloc(n * 4), n};
  float *dg = xalloc(n * 4), *du = xalloc(n * 4);
  fill(c.g, (size_t)n, 2), fill(c.u, (size_t)n, 1), fill(c.c, (size_t)n, 1);
  train__swiglu_bwd(n, c.g, c.u, c.c, dg, du);
  CHECK_INT(fd_check("dg", c.g, (size_t)n, dg, sw_loss, &c, 1e-2f, 2e-3), 0);
  CHECK_INT(fd_check("du", c.u, (size_t)n, du, sw_loss, &c, 1e-2f, 2e-3), 0);
  mem_free(c.g), mem_free(c.u), mem_free(c.h), mem_free(c.c), mem_free(dg), mem_free(du);
}

typedef struct ce_ctx {
  float *z;
  int V, target;
} ce_ctx;

static double ce_loss(void *v) {
  ce_ctx *c = v;
  return -0.7 * train__logp_row(c->z, c->V, c->target, 0, NULL);
}

TEST(logp_row_backward) {
  int V = 50;
  ce_ctx c = {xalloc(V * 4), V, 17};
  float *dz = xalloc(V * 4);
  fill(c.z, (size_t)V, 3);
  double lp = train__logp_row(c.z, V, 17, -0.7f, dz);
  /* log p by hand */
  double s = 0;
  for (int i = 0; i < V; i++) s += exp(c.z[i]);
  CHECK_NEAR(lp, c.z[17] - log(s), 1e-5);
  CHECK_INT(fd_check("dz", c.z, (size_t)V, dz, ce_loss, &c, 1e-2f, 2e-3), 0);
  double sum = 0;
  for (int i = 0; i < V; i++) sum += dz[i];
  CHECK_NEAR(sum, 0, 1e-5); /* softmax gradients sum to zero */
  mem_free(c.z), mem_free(dz);
}

/* The vectorised exponentials (the lm head's softmax, SwiGLU's backward) against the scalar
 * reference, over lengths that leave a scalar tail and a range that reaches underflow. */
TEST(exp_simd_matches_scalar) {
  const char *best = train__gemm_kernel();
  int n = 1003;
  float *z = xalloc(n * 4), *a = xalloc(n * 4), *b = xalloc(n * 4), *g = xalloc(n * 4);
  float *u = xalloc(n * 4), *dh = xalloc(n * 4), *dg[2], *du[2], *h[2];
  for (int i = 0; i < n; i++) z[i] = (float)(train__rng_uniform(&rng) * 120.0 - 110.0);
  fill(g, (size_t)n, 4), fill(u, (size_t)n, 1), fill(dh, (size_t)n, 1);
  double sum[2];
  for (int pass = 0; pass < 2; pass++) {
    CHECK(train__gemm_set_kernel(pass ? best : "scalar"));
    sum[pass] = train__sum_exp(z, n, 9.5f);
    float *o = pass ? b : a;
    memcpy(o, z, (size_t)n * 4);
    train__exp_scale(o, n, 9.5f, -0.25f);
    /* the one-pass version: the same sum and the same values, bit for bit */
    float *f = xalloc(n * 4);
    memcpy(f, z, (size_t)n * 4);
    double fs = train__sum_exp_scale(f, n, 9.5f, -0.25f);
    CHECK(fs == sum[pass]);
    CHECK(memcmp(f, o, (size_t)n * 4) == 0);
    mem_free(f);
    dg[pass] = xalloc(n * 4), du[pass] = xalloc(n * 4);
    train__swiglu_bwd(n, g, u, dh, dg[pass], du[pass]);
    h[pass] = xalloc(n * 4);
    train__swiglu_bwd_h(n, g, u, h[pass]);
  }
  CHECK(fabs(sum[1] - sum[0]) <= 1e-6 * sum[0]);
  double worst = 0;
  for (int i = 0; i < n; i++) {
    worst = fmax(worst, fabs(a[i] - b[i]) / (1e-30 + fabs(a[i])) * (fabs(a[i]) > 1e-30));
    worst = fmax(worst, fabs(dg[0][i] - dg[1][i]) / (1e-3 + fabs(dg[0][i])));
    worst = fmax(worst, fabs(du[0][i] - du[1][i]) / (1e-3 + fabs(du[0][i])));
    worst = fmax(worst, fabs(h[0][i] - h[1][i]) / (1e-3 + fabs(h[0][i])));
  }
  CHECK(worst < 1e-5);
  mem_free(z), mem_free(a), mem_free(b), mem_free(g), mem_free(u), mem_free(dh);
  for (int pass = 0; pass < 2; pass++) mem_free(dg[pass]), mem_free(du[pass]), mem_free(h[pass]);
}

/* Activations kept as scaled halves: F16C and the scalar reference give the same bits; a row comes
 * back within 2^-11 of each value (down to 2^-38 of the row's largest), however large or small the
 * row (no overflow at 1e30, no flush at 1e-20); infinities and NaNs stay what they are. */
TEST(half_rows) {
  const char *best = train__gemm_kernel();
  enum { T = 7, N = 203 };
  float *x = xalloc(T * N * 4), *y[2], *inv[2];
  uint16_t *h[2];
  const float mag[T] = {1.0f, 1e30f, 1e-20f, 70000.0f, 0.0f, 3.0f, 2.0f};
  for (int t = 0; t < T; t++)
    for (int i = 0; i < N; i++) {
      float v = mag[t] * train__rng_normal(&rng);
      if (i % 17 == 3) v *= 1e-9f; /* tiny values within a row */
      x[t * N + i] = v;
    }
  x[5 * N + 10] = INFINITY;
  x[6 * N + 20] = NAN;
  for (int pass = 0; pass < 2; pass++) {
    CHECK(train__gemm_set_kernel(pass ? best : "scalar"));
    y[pass] = xalloc(T * N * 4), inv[pass] = xalloc(T * 4), h[pass] = xalloc(T * N * 2);
    train__half_put(NULL, T, N, x, h[pass], inv[pass]);
    train__half_get(NULL, T, N, h[pass], inv[pass], y[pass]);
  }
  CHECK(memcmp(h[0], h[1], T * N * 2) == 0);
  CHECK(memcmp(inv[0], inv[1], T * 4) == 0);
  int bad = 0;
  for (int t = 0; t < T; t++) {
    double mx = 0;
    for (int i = 0; i < N; i++)
      if (isfinite(x[t * N + i])) mx = fmax(mx, fabs(x[t * N + i]));
    for (int i = 0; i < N; i++) {
      float a = x[t * N + i], b = y[1][t * N + i];
      if (isnan(a)) {
        bad += !isnan(b);
      } else if (isinf(a)) {
        bad += a != b;
      } else if (t != 5) { /* the row with an infinity keeps scale 1: its small values flush */
        bad += fabs(b - a) > fabs(a) * 0x1p-11 + mx * 0x1p-38;
      }
    }
  }
  CHECK_INT(bad, 0);
  mem_free(x);
  for (int pass = 0; pass < 2; pass++) mem_free(y[pass]), mem_free(inv[pass]), mem_free(h[pass]);
}

/* AdamW's AVX2 loop gives the scalar reference's bits (a resumed run must match either way). */
TEST(adamw_simd_matches_scalar) {
  const char *best = train__gemm_kernel();
  size_t n = 1003;
  float *w[2], *m[2], *v[2], *g = xalloc(n * 4);
  fill(g, n, 1);
  train_adamw a = {0.7f, 0.9f, 0.999f, 1.5f, 2.5f, 1e-8f, 0.999f, 1e-3f};
  for (int pass = 0; pass < 2; pass++) {
    CHECK(train__gemm_set_kernel(pass ? best : "scalar"));
    w[pass] = xalloc(n * 4), m[pass] = xalloc(n * 4), v[pass] = xalloc(n * 4);
    train__rng_seed(&rng, 77);
    fill(w[pass], n, 1), fill(m[pass], n, 0.1f);
    for (size_t k = 0; k < n; k++) v[pass][k] = 0.01f * (float)train__rng_uniform(&rng);
    for (int step = 0; step < 3; step++) train__adamw(n, w[pass], g, m[pass], v[pass], &a);
  }
  CHECK(memcmp(w[0], w[1], n * 4) == 0);
  CHECK(memcmp(m[0], m[1], n * 4) == 0);
  CHECK(memcmp(v[0], v[1], n * 4) == 0);
  double moved = 0;
  for (size_t k = 0; k < n; k++) moved += fabs(m[0][k]);
  CHECK(moved > 0);
  for (int pass = 0; pass < 2; pass++) mem_free(w[pass]), mem_free(m[pass]), mem_free(v[pass]);
  mem_free(g);
}

TEST(rng_is_seedable) {
  train_rng a, b;
  train__rng_seed(&a, 42);
  train__rng_seed(&b, 42);
  for (int i = 0; i < 100; i++) CHECK(train__rng_next(&a) == train__rng_next(&b));
  train__rng_seed(&b, 43);
  CHECK(train__rng_next(&a) != train__rng_next(&b));
  double m = 0, v = 0;
  for (int i = 0; i < 20000; i++) {
    double x = train__rng_normal(&a);
    m += x, v += x * x;
  }
  CHECK_NEAR(m / 20000, 0, 0.05);
  CHECK_NEAR(v / 20000, 1, 0.05);
}

/* LoRA's adapter term (lora.c) against the engine's: qmat_mul of the F32 B, then y + s * that,
 * then + bias, bit for bit, with both kernels, one and two threads, fewer and more rows than the
 * engine's packed product takes (16), ranks 16 and 32, a row of zero weights and negative zeros in
 * y; other ranks and widths are declined. */
TEST(lora_add_matches_engine) {
  const char *best = train__gemm_kernel();
  compute_pool *cp = compute_pool_new(2);
  static const int Ts[] = {5, 20, 37}, outs[] = {36, 64}, rs[] = {16, 32};
  for (int pass = 0; pass < 2; pass++) {
    CHECK(train__gemm_set_kernel(pass ? best : "scalar"));
    for (size_t a = 0; a < 3; a++)
      for (size_t b = 0; b < 2; b++)
        for (size_t c = 0; c < 2; c++)
          for (int biased = 0; biased < 2; biased++) {
            int T = Ts[a], out = outs[b], r = rs[c];
            float *ax = xalloc((size_t)T * r * 4), *B = xalloc((size_t)out * r * 4);
            float *y0 = xalloc((size_t)T * out * 4), *y1 = xalloc((size_t)T * out * 4);
            float *want = xalloc((size_t)T * out * 4), *bias = xalloc((size_t)out * 4);
            fill(ax, (size_t)T * r, 1), fill(B, (size_t)out * r, 0.3f), fill(bias, out, 1);
            fill(y0, (size_t)T * out, 2);
            memset(B + 3 * r, 0, (size_t)r * 4);
            for (int t = 0; t < T; t++) y0[(size_t)t * out + 3] = -0.0f;
            float s = 1.75f;
            qmat qb = {TT_F32, out, r, B, (size_t)r * 4};
            qmat_mul(cp, &qb, ax, want, T);
            for (size_t i = 0; i < (size_t)T * out; i++) {
              float p = s * want[i];
              want[i] = y0[i] + p;
              if (biased) want[i] = want[i] + bias[i % (size_t)out];
            }
            for (int th = 0; th < 2; th++) {
              memcpy(y1, y0, (size_t)T * out * 4);
              CHECK(train__lora_add(th ? cp : NULL, T, out, r, ax, B, s, biased ? bias : NULL, y1));
              CHECK(memcmp(y1, want, (size_t)T * out * 4) == 0);
            }
            mem_free(ax), mem_free(B), mem_free(y0), mem_free(y1), mem_free(want), mem_free(bias);
          }
  }
  float one = 1;
  CHECK(!train__lora_add(NULL, 1, 4, 8, &one, &one, 1, NULL, &one));
  CHECK(!train__lora_add(NULL, 1, 6, 16, &one, &one, 1, NULL, &one));
  compute_pool_destroy(cp);
}

int main(void) {
  train__rng_seed(&rng, 1234);
  printf("gemm kernel: %s\n", train__gemm_kernel());
  RUN(gemm_matches_reference);
  RUN(gemm_threads_bit_identical);
  RUN(gemm_quantized_operand);
  RUN(dequant_matches_engine);
  RUN(rmsnorm_backward);
  RUN(rope_backward_is_transpose);
  RUN(attention_backward);
  RUN(attention_simd_matches_scalar);
  RUN(swiglu_backward);
  RUN(logp_row_backward);
  RUN(exp_simd_matches_scalar);
  RUN(half_rows);
  RUN(adamw_simd_matches_scalar);
  RUN(lora_add_matches_engine);
  RUN(rng_is_seedable);
  TEST_MAIN_END();
}
