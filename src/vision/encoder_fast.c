/* The encoder's fast-path kernels that are not weight products: blocked attention (scores, softmax
 * and weighted values for a block of queries at a time, on a 6 x 16 register-tiled kernel), and
 * the GELU rows through the fp16 table with F16C and a gather. AVX2+FMA+F16C where the CPU has
 * them, portable C otherwise. The scalar path in encoder.c is the reference; these sum in another
 * order (one chain per score and per output, exp by a polynomial), which the vision tolerances
 * allow (../shared/testdata/vision/README). Also the GELU tables that both paths use (the fp16
 * conversions are llm/quant.h's). Not here: the weight products (qmat_mul). */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include "base/alloc.h"
#include "llm/vexp.h"
#include "vision/vision_int.h"

/* ---- GELU through fp16 tables, as ggml's CPU backend -------------------------------------------
 * ggml evaluates GELU as table[fp16(x)] for -10 < x < 10 (0 below, x above) and GELU-quick as
 * table[fp16(x)] everywhere; each table entry is fp16(gelu(fp16->f32(i))). */
static uint16_t gelu_tab[65537], gelu_quick_tab[65537];
static pthread_once_t gelu_once = PTHREAD_ONCE_INIT;

static void gelu_init(void) {
  const float k = 0.79788456080286535587989211986876f, a = 0.044715f;
  for (int i = 0; i < 65536; i++) {
    float x = quant_fp16_to_f32((uint16_t)i);
    gelu_tab[i] = quant_f32_to_fp16(0.5f * x * (1.0f + tanhf(k * x * (1.0f + a * x * x))));
    gelu_quick_tab[i] = quant_f32_to_fp16(x * (1.0f / (1.0f + expf(-1.702f * x))));
  }
}

const uint16_t *vis__gelu_table(bool tanh_form) {
  pthread_once(&gelu_once, gelu_init);
  return tanh_form ? gelu_tab : gelu_quick_tab;
}

#define MR 6  /* queries per micro-tile */
#define NR 16 /* keys (scores) or value dimensions (outputs) per panel */
#define QB 48 /* queries per work item: 8 micro-tiles */

/* out[i][j] = sum over s < D of wp[s][j] * xp[s][i] (i < MR, j < NR), one chain per output. */
typedef void (*kern_fn)(const float *wp, const float *xp, int64_t D, float *out);
/* The same with the MR activation rows given as rows: out[i][j] = sum over s < D of wp[s][j] *
 * x[i * xs + s]. */
typedef void (*kern_rows_fn)(const float *wp, const float *x, int64_t xs, int64_t D, float *out);
/* x[0..n) = softmax(x * scale) in place, as ggml_soft_max_ext without a mask: the max of the
 * scaled row, exp(v - max), their sum in double, times (float)(1 / sum). */
typedef void (*softmax_fn)(float *x, int n, float scale);
/* The GELU table lookup over n values (the table has an entry past the end for the gather). */
typedef void (*gelu_fn)(float *x, int64_t n, bool tanh_form, const uint16_t *tab);

static void kern_c(const float *wp, const float *xp, int64_t D, float *out) {
  float c[MR][NR] = {{0}};
  for (int64_t s = 0; s < D; s++)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) c[i][j] = fmaf(wp[s * NR + j], xp[s * MR + i], c[i][j]);
  memcpy(out, c, sizeof c);
}

static void kern_rows_c(const float *wp, const float *x, int64_t xs, int64_t D, float *out) {
  float c[MR][NR] = {{0}};
  for (int64_t s = 0; s < D; s++)
    for (int i = 0; i < MR; i++)
      for (int j = 0; j < NR; j++) c[i][j] = fmaf(wp[s * NR + j], x[i * xs + s], c[i][j]);
  memcpy(out, c, sizeof c);
}

void vis__softmax_scalar(float *x, int n, float scale) {
  float mx = -INFINITY;
  for (int i = 0; i < n; i++) {
    x[i] *= scale;
    if (x[i] > mx) mx = x[i];
  }
  double sum = 0;
  for (int i = 0; i < n; i++) {
    x[i] = expf(x[i] - mx);
    sum += (double)x[i];
  }
  float inv = (float)(1.0 / sum);
  for (int i = 0; i < n; i++) x[i] *= inv;
}

static void gelu_c(float *x, int64_t n, bool tanh_form, const uint16_t *tab) {
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    if (tanh_form && v <= -10.0f)
      x[i] = 0.0f;
    else if (!(tanh_form && v >= 10.0f))
      x[i] = quant_fp16_to_f32(tab[quant_f32_to_fp16(v)]);
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <cpuid.h>
#include <immintrin.h>
#define TGT __attribute__((target("avx2,fma,f16c")))

TGT static void kern_avx2(const float *wp, const float *xp, int64_t D, float *out) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
#pragma GCC unroll 4
  for (int64_t s = 0; s < D; s++, wp += NR, xp += MR) {
    __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), b;
#define STEP(i, a0, a1)                                                                            \
  b = _mm256_broadcast_ss(xp + i);                                                                 \
  a0 = _mm256_fmadd_ps(w0, b, a0);                                                                 \
  a1 = _mm256_fmadd_ps(w1, b, a1)
    STEP(0, c00, c01);
    STEP(1, c10, c11);
    STEP(2, c20, c21);
    STEP(3, c30, c31);
    STEP(4, c40, c41);
    STEP(5, c50, c51);
#undef STEP
  }
  __m256 c[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int k = 0; k < 12; k++) _mm256_storeu_ps(out + 8 * k, c[k]);
}

TGT static void kern_rows_avx2(const float *wp, const float *x, int64_t xs, int64_t D, float *out) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  const float *x0 = x, *x1 = x + xs, *x2 = x + 2 * xs, *x3 = x + 3 * xs, *x4 = x + 4 * xs,
              *x5 = x + 5 * xs;
#pragma GCC unroll 4
  for (int64_t s = 0; s < D; s++, wp += NR) {
    __m256 w0 = _mm256_loadu_ps(wp), w1 = _mm256_loadu_ps(wp + 8), b;
#define STEP(xi, a0, a1)                                                                           \
  b = _mm256_broadcast_ss(xi + s);                                                                 \
  a0 = _mm256_fmadd_ps(w0, b, a0);                                                                 \
  a1 = _mm256_fmadd_ps(w1, b, a1)
    STEP(x0, c00, c01);
    STEP(x1, c10, c11);
    STEP(x2, c20, c21);
    STEP(x3, c30, c31);
    STEP(x4, c40, c41);
    STEP(x5, c50, c51);
#undef STEP
  }
  __m256 c[12] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int k = 0; k < 12; k++) _mm256_storeu_ps(out + 8 * k, c[k]);
}

TGT static void softmax_avx2(float *x, int n, float scale) {
  __m256 vs = _mm256_set1_ps(scale), vmx = _mm256_set1_ps(-INFINITY);
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vs);
    _mm256_storeu_ps(x + i, v);
    vmx = _mm256_max_ps(vmx, v);
  }
  float m8[8], mx = -INFINITY;
  _mm256_storeu_ps(m8, vmx);
  for (int k = 0; k < 8; k++) mx = m8[k] > mx ? m8[k] : mx;
  for (int k = i; k < n; k++) {
    x[k] *= scale;
    if (x[k] > mx) mx = x[k];
  }
  __m256 vm = _mm256_set1_ps(mx);
  __m256d s0 = _mm256_setzero_pd(), s1 = s0;
  for (i = 0; i + 8 <= n; i += 8) {
    __m256 v = llm_vexp_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), vm));
    _mm256_storeu_ps(x + i, v);
    s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  double t[4];
  _mm256_storeu_pd(t, _mm256_add_pd(s0, s1));
  double sum = (t[0] + t[1]) + (t[2] + t[3]);
  for (int k = i; k < n; k++) {
    x[k] = expf(x[k] - mx);
    sum += (double)x[k];
  }
  __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
  for (i = 0; i + 8 <= n; i += 8)
    _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  for (int k = i; k < n; k++) x[k] *= (float)(1.0 / sum);
}

/* Bit for bit gelu_c: F16C rounds as quant_f32_to_fp16 (NaN aside, which stays NaN), the gather
 * reads the entry's 32-bit word, whose high half (the next entry) is dropped. */
TGT static void gelu_avx2(float *x, int64_t n, bool tanh_form, const uint16_t *tab) {
  const __m256i lo16 = _mm256_set1_epi32(0xFFFF);
  const __m256 m10 = _mm256_set1_ps(-10.0f), p10 = _mm256_set1_ps(10.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256i h = _mm256_cvtepu16_epi32(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT));
    __m256i g =
        _mm256_and_si256(_mm256_i32gather_epi32((const int *)(const void *)tab, h, 2), lo16);
    __m256i packed = _mm256_packus_epi32(g, g); /* words 0-3 | 0-3 || 4-7 | 4-7 per lane */
    __m128i w =
        _mm_unpacklo_epi64(_mm256_castsi256_si128(packed), _mm256_extracti128_si256(packed, 1));
    __m256 y = _mm256_cvtph_ps(w);
    if (tanh_form) {
      y = _mm256_blendv_ps(y, v, _mm256_cmp_ps(v, p10, _CMP_GE_OQ));
      y = _mm256_andnot_ps(_mm256_cmp_ps(v, m10, _CMP_LE_OQ), y);
    }
    _mm256_storeu_ps(x + i, y);
  }
  gelu_c(x + i, n - i, tanh_form, tab);
}

static bool cpu_avx2(void) {
  __builtin_cpu_init();
  unsigned a, b, c, d;
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
         __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 29));
}
#else
static bool cpu_avx2(void) { return false; }
#endif

typedef struct fast_set {
  kern_fn kern;
  kern_rows_fn kern_rows;
  softmax_fn softmax;
  gelu_fn gelu;
} fast_set;

static fast_set set_for(bool simd) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (simd && cpu_avx2()) return (fast_set){kern_avx2, kern_rows_avx2, softmax_avx2, gelu_avx2};
#endif
  (void)simd;
  return (fast_set){kern_c, kern_rows_c, vis__softmax_scalar, gelu_c};
}

bool vis__fast_simd(void) { return cpu_avx2() && strcmp(qmat_kernels_name(), "scalar") != 0; }

/* ---- GELU -------------------------------------------------------------------------------------
 */
void vis__gelu_fast(float *x, int64_t n, bool tanh_form, bool simd) {
  set_for(simd).gelu(x, n, tanh_form, vis__gelu_table(tanh_form));
}

/* ---- Attention --------------------------------------------------------------------------------
 * Per head h (hd = E / nh columns of Q, K, V): K as panels of NR keys (kp[d][NR]), V as panels of
 * NR dimensions (vp[key][NR]), both zero past the end; a work item is QB queries of one head. */
typedef struct attn_job {
  fast_set f;
  const float *Q, *K, *V;
  float *A, *kp, *vp;
  int P, E, nh, hd, npk, npd;
  float scale;
  atomic_bool oom;
} attn_job;

static size_t kp_floats(const attn_job *j) { return (size_t)j->npk * j->hd * NR; }
static size_t vp_floats(const attn_job *j) { return (size_t)j->npd * j->P * NR; }

static void attn_pack(void *arg, int64_t b, int64_t e) {
  attn_job *j = arg;
  for (int64_t it = b; it < e; it++) {
    int h = (int)(it / 2);
    const float *src = (it & 1 ? j->V : j->K) + (size_t)h * j->hd;
    if (!(it & 1)) {
      float *kp = j->kp + (size_t)h * kp_floats(j);
      for (int p = 0; p < j->npk; p++)
        for (int d = 0; d < j->hd; d++)
          for (int c = 0; c < NR; c++) {
            int key = p * NR + c;
            kp[((size_t)p * j->hd + d) * NR + c] = key < j->P ? src[(size_t)key * j->E + d] : 0;
          }
    } else {
      float *vp = j->vp + (size_t)h * vp_floats(j);
      for (int p = 0; p < j->npd; p++)
        for (int key = 0; key < j->P; key++)
          for (int c = 0; c < NR; c++) {
            int d = p * NR + c;
            vp[((size_t)p * j->P + key) * NR + c] = d < j->hd ? src[(size_t)key * j->E + d] : 0;
          }
    }
  }
}

static void attn_items(void *arg, int64_t b, int64_t e) {
  attn_job *j = arg;
  int P = j->P, hd = j->hd, width = j->npk * NR;
  size_t n = (size_t)hd * MR + (size_t)MR * width + MR * NR;
  float *mem = mem_alloc(n * sizeof *mem);
  if (!mem) {
    atomic_store(&j->oom, true);
    return;
  }
  float *xq = mem, *S = xq + (size_t)hd * MR, *tile = S + (size_t)MR * width;
  int nqb = (P + QB - 1) / QB;
  for (int64_t it = b; it < e; it++) {
    int h = (int)(it / nqb), q0 = (int)(it % nqb) * QB, q1 = q0 + QB < P ? q0 + QB : P;
    const float *kp = j->kp + (size_t)h * kp_floats(j), *vp = j->vp + (size_t)h * vp_floats(j);
    for (int m = q0; m < q1; m += MR) {
      int nq = q1 - m < MR ? q1 - m : MR;
      for (int d = 0; d < hd; d++)
        for (int i = 0; i < MR; i++)
          xq[d * MR + i] = i < nq ? j->Q[(size_t)(m + i) * j->E + (size_t)h * hd + d] : 0;
      /* Scores of the MR queries against every key, NR keys at a time (row i of S: query i). */
      for (int p = 0; p < j->npk; p++) {
        j->f.kern(kp + (size_t)p * hd * NR, xq, hd, tile);
        for (int i = 0; i < MR; i++)
          memcpy(S + (size_t)i * width + p * NR, tile + i * NR, NR * sizeof *tile);
      }
      for (int i = 0; i < MR; i++) j->f.softmax(S + (size_t)i * width, P, j->scale);
      /* The MR queries' outputs, NR dimensions at a time. */
      for (int p = 0; p < j->npd; p++) {
        j->f.kern_rows(vp + (size_t)p * P * NR, S, width, P, tile);
        int nd = hd - p * NR < NR ? hd - p * NR : NR;
        for (int i = 0; i < nq; i++)
          memcpy(j->A + (size_t)(m + i) * j->E + (size_t)h * hd + p * NR, tile + i * NR,
                 (size_t)nd * sizeof *tile);
      }
    }
  }
  mem_free(mem);
}

int vis__attention_fast(compute_pool *pool, const float *Q, const float *K, const float *V,
                        float *A, int P, int E, int nh, float scale, bool simd) {
  attn_job j = {.f = set_for(simd),
                .Q = Q,
                .K = K,
                .V = V,
                .A = A,
                .P = P,
                .E = E,
                .nh = nh,
                .hd = E / nh,
                .scale = scale};
  j.npk = (P + NR - 1) / NR;
  j.npd = (j.hd + NR - 1) / NR;
  atomic_init(&j.oom, false);
  size_t total = (kp_floats(&j) + vp_floats(&j)) * (size_t)nh;
  j.kp = mem_alloc(total * sizeof(float));
  if (!j.kp) return err_set(MIMIC_ENOMEM, "out of memory for the encoder's attention");
  j.vp = j.kp + kp_floats(&j) * (size_t)nh;
  compute_pool_for(pool, 2 * (int64_t)nh, 1, attn_pack, &j);
  int nqb = (P + QB - 1) / QB;
  compute_pool_for(pool, (int64_t)nh * nqb, 1, attn_items, &j);
  mem_free(j.kp);
  if (atomic_load(&j.oom))
    return err_set(MIMIC_ENOMEM, "out of memory for the encoder's attention");
  return 0;
}
