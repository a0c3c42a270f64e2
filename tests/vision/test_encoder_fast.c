/* The encoder's fast-path kernels (encoder_fast.c) against references: GELU through the table
 * (SIMD and portable give the scalar path's bits on every fp16 value and around the +-10 cut), and
 * the blocked attention (SIMD and portable) against a plain double-precision softmax attention,
 * on shapes with partial key, query and dimension panels. Fresh random data; the seed is
 * printed. */
#include <math.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"
#include "vision/vision_int.h"

static uint64_t rng_state;
static float rng_sym(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (float)((rng_state >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* The scalar path's GELU (encoder.c gelu_row), restated. */
static float gelu_ref(float v, bool tanh_form) {
  if (tanh_form && v <= -10.0f) return 0.0f;
  if (tanh_form && v >= 10.0f) return v;
  return quant_fp16_to_f32(vis__gelu_table(tanh_form)[quant_f32_to_fp16(v)]);
}

static void check_gelu(bool simd, bool tanh_form) {
  enum { N = 65536 + 64 + 1000 };
  static float x[N], y[N];
  int n = 0;
  for (int i = 0; i < 65536; i++) {
    float v = quant_fp16_to_f32((uint16_t)i);
    if (v == v) x[n++] = v; /* NaN aside: it stays NaN, its payload may differ */
  }
  for (int i = -32; i < 32; i++) x[n++] = nextafterf(i < 0 ? -10.0f : 10.0f, (float)i);
  for (int i = 0; i < 1000; i++) x[n++] = rng_sym() * 12.0f;
  memcpy(y, x, (size_t)n * sizeof *x);
  vis__gelu_fast(y, n, tanh_form, simd);
  int bad = 0;
  for (int i = 0; i < n; i++) {
    float want = gelu_ref(x[i], tanh_form);
    if (memcmp(&want, &y[i], sizeof want) && bad++ < 3)
      TEST_FAIL_("gelu %s %s at %.9g: %.9g, scalar %.9g", simd ? "simd" : "portable",
                 tanh_form ? "tanh" : "quick", x[i], y[i], want);
  }
  CHECK(bad == 0);
}

TEST(gelu_matches_scalar) {
  for (int s = 0; s < 2; s++) {
    if (s && !vis__fast_simd()) {
      printf("     no AVX2+FMA+F16C: the SIMD GELU is not checked here\n");
      continue;
    }
    check_gelu(s, true);
    check_gelu(s, false);
  }
}

/* softmax(scale q.k) v per head in double. */
static void attention_ref(const float *Q, const float *K, const float *V, double *A, int P, int E,
                          int nh, float scale) {
  int hd = E / nh;
  double *w = xalloc((size_t)P * sizeof *w);
  for (int h = 0; h < nh; h++)
    for (int t = 0; t < P; t++) {
      double mx = -INFINITY, sum = 0;
      for (int k = 0; k < P; k++) {
        double s = 0;
        for (int d = 0; d < hd; d++)
          s += (double)Q[(size_t)t * E + h * hd + d] * K[(size_t)k * E + h * hd + d];
        w[k] = s * scale;
        if (w[k] > mx) mx = w[k];
      }
      for (int k = 0; k < P; k++) sum += (w[k] = exp(w[k] - mx));
      for (int d = 0; d < hd; d++) {
        double o = 0;
        for (int k = 0; k < P; k++) o += w[k] / sum * V[(size_t)k * E + h * hd + d];
        A[(size_t)t * E + h * hd + d] = o;
      }
    }
  mem_free(w);
}

static void check_attention(int P, int E, int nh, bool simd, int threads) {
  size_t n = (size_t)P * E;
  float *Q = xalloc(n * sizeof *Q), *K = xalloc(n * sizeof *K), *V = xalloc(n * sizeof *V),
        *A = xalloc(n * sizeof *A);
  double *R = xalloc(n * sizeof *R);
  for (size_t i = 0; i < n; i++) {
    Q[i] = 3 * rng_sym();
    K[i] = 3 * rng_sym();
    V[i] = rng_sym();
  }
  float scale = 1.0f / sqrtf((float)(E / nh));
  compute_pool *cp = compute_pool_new(threads);
  CHECK_OK(vis__attention_fast(cp, Q, K, V, A, P, E, nh, scale, simd));
  compute_pool_destroy(cp);
  attention_ref(Q, K, V, R, P, E, nh, scale);
  double worst = 0, num = 0, den = 0;
  for (int t = 0; t < P; t++) {
    num = den = 0;
    for (int c = 0; c < E; c++) {
      double d = A[(size_t)t * E + c] - R[(size_t)t * E + c];
      num += d * d;
      den += R[(size_t)t * E + c] * R[(size_t)t * E + c];
    }
    double e = sqrt(num / (den > 0 ? den : 1));
    if (!(e <= worst)) worst = e;
  }
  printf("     attention %s P=%d E=%d heads=%d threads=%d: worst row error %.3g\n",
         simd ? "simd" : "portable", P, E, nh, threads, worst);
  CHECK(worst <= 1e-5); /* float sums against double: ~1e-6 */
  mem_free(Q);
  mem_free(K);
  mem_free(V);
  mem_free(A);
  mem_free(R);
}

TEST(attention_matches_double_reference) {
  for (int s = 0; s < 2; s++) {
    if (s && !vis__fast_simd()) {
      printf("     no AVX2+FMA+F16C: the SIMD attention is not checked here\n");
      continue;
    }
    check_attention(64, 64, 4, s, 1);  /* the tiny reference model's shape */
    check_attention(100, 64, 4, s, 2); /* partial key panel and query block */
    check_attention(53, 80, 2, s, 3);  /* head width 40: a partial dimension panel */
    check_attention(7, 32, 1, s, 2);   /* fewer queries than a micro-tile */
  }
}

int main(void) {
  const char *seed = getenv("MIMIC_TEST_SEED");
  uint64_t s = 0;
  if (!seed || str_to_u64(seed, &s) != 0) s = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
  if (!s) s = 1;
  rng_state = s;
  printf("seed %llu (replay with MIMIC_TEST_SEED)\n", (unsigned long long)s);
  RUN(gelu_matches_scalar);
  RUN(attention_matches_double_reference);
  TEST_MAIN_END();
}
