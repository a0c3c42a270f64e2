/* The float GEMM of training: C = alpha * A · B (+ C), with operands in either orientation and a
 * B operand that may be a quantized weight matrix dequantized tile by tile (the frozen base of a
 * QLoRA run never exists in F32 as a whole). Blocked in the usual way: a K-block of B is packed
 * into NR-wide panels, A into MR-tall panels, and a register-tiled micro-kernel (AVX2+FMA chosen at
 * run time, a scalar one kept as reference) multiplies them. Threads split C into tiles; each
 * element of C is summed by one thread in a fixed order, so results do not depend on the thread
 * count. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "train/train_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#define MR       6
#define NR_MAX   32
#define KC       256 /* K block (a multiple of every quant block size: 32 and 256) */
#define NBLK_MIN 64  /* columns of C per task, at least */
/* and at most: a packed K-block of B (KC x 256 floats, 256 KiB) stays in a 512 KiB L2 beside A's
 * panels and C; 512 columns filled it and spilled to L3 on the wide products (down's dx, the head's
 * logits) */
#define NBLK_MAX 256

typedef void (*kern_fn)(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
                        float alpha);

/* c (MR, nr) += alpha * ap (kc, MR)^T-panel · bp (kc, nr)-panel, c's rows ldc apart; nr = 16
 * (scalar, AVX2) or 32 (AVX-512). */
static void kern_scalar(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc,
                        float alpha) {
  float acc[MR][16];
  memset(acc, 0, sizeof acc);
  for (int64_t k = 0; k < kc; k++) {
    const float *a = ap + k * MR, *b = bp + k * 16;
    for (int r = 0; r < MR; r++)
      for (int j = 0; j < 16; j++) acc[r][j] += a[r] * b[j];
  }
  for (int r = 0; r < MR; r++)
    for (int j = 0; j < 16; j++) c[r * ldc + j] += alpha * acc[r][j];
}

#ifdef HAVE_X86
__attribute__((target("avx2,fma"))) static void
kern_avx2(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, float alpha) {
  /* The tile of C was last touched a K-block ago (in L2 or L3 by now): its lines are requested
   * here, to arrive while the k steps run, not when the sums are added at the end. */
  for (int r = 0; r < MR; r++) {
    _mm_prefetch((const char *)(c + r * ldc), _MM_HINT_T0);
    _mm_prefetch((const char *)(c + r * ldc + 15), _MM_HINT_T0);
  }
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  /* one k step: two B loads, six broadcasts, twelve FMAs; unrolled by two (a loop's counter and
   * branch per 24 FMAs instead of 12), the same sums in the same order */
#define STEP(k)                                                                                    \
  do {                                                                                             \
    const float *a = ap + (k)*MR;                                                                  \
    __m256 b0 = _mm256_loadu_ps(bp + (k)*16), b1 = _mm256_loadu_ps(bp + (k)*16 + 8);               \
    __m256 x = _mm256_broadcast_ss(a + 0);                                                         \
    c00 = _mm256_fmadd_ps(x, b0, c00);                                                             \
    c01 = _mm256_fmadd_ps(x, b1, c01);                                                             \
    x = _mm256_broadcast_ss(a + 1);                                                                \
    c10 = _mm256_fmadd_ps(x, b0, c10);                                                             \
    c11 = _mm256_fmadd_ps(x, b1, c11);                                                             \
    x = _mm256_broadcast_ss(a + 2);                                                                \
    c20 = _mm256_fmadd_ps(x, b0, c20);                                                             \
    c21 = _mm256_fmadd_ps(x, b1, c21);                                                             \
    x = _mm256_broadcast_ss(a + 3);                                                                \
    c30 = _mm256_fmadd_ps(x, b0, c30);                                                             \
    c31 = _mm256_fmadd_ps(x, b1, c31);                                                             \
    x = _mm256_broadcast_ss(a + 4);                                                                \
    c40 = _mm256_fmadd_ps(x, b0, c40);                                                             \
    c41 = _mm256_fmadd_ps(x, b1, c41);                                                             \
    x = _mm256_broadcast_ss(a + 5);                                                                \
    c50 = _mm256_fmadd_ps(x, b0, c50);                                                             \
    c51 = _mm256_fmadd_ps(x, b1, c51);                                                             \
  } while (0)
  int64_t k = 0;
  for (; k + 2 <= kc; k += 2) {
    STEP(k);
    STEP(k + 1);
  }
  if (k < kc) STEP(k);
#undef STEP
  __m256 al = _mm256_set1_ps(alpha);
#define OUT(r, lo, hi)                                                                             \
  do {                                                                                             \
    float *d = c + (r)*ldc;                                                                        \
    _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), _mm256_mul_ps(al, lo)));                 \
    _mm256_storeu_ps(d + 8, _mm256_add_ps(_mm256_loadu_ps(d + 8), _mm256_mul_ps(al, hi)));         \
  } while (0)
  OUT(0, c00, c01);
  OUT(1, c10, c11);
  OUT(2, c20, c21);
  OUT(3, c30, c31);
  OUT(4, c40, c41);
  OUT(5, c50, c51);
#undef OUT
}

/* 6 rows x 32 columns: 12 zmm accumulators, two B loads and a broadcast per row and k. */
__attribute__((target("avx512f"))) static void
kern_avx512(int64_t kc, const float *ap, const float *bp, float *c, int64_t ldc, float alpha) {
  __m512 acc[MR][2];
  for (int r = 0; r < MR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
  for (int64_t k = 0; k < kc; k++) {
    const float *a = ap + k * MR;
    __m512 b0 = _mm512_loadu_ps(bp + k * 32), b1 = _mm512_loadu_ps(bp + k * 32 + 16);
#define ROW(r)                                                                                     \
  do {                                                                                             \
    __m512 x = _mm512_set1_ps(a[r]);                                                               \
    acc[r][0] = _mm512_fmadd_ps(x, b0, acc[r][0]);                                                 \
    acc[r][1] = _mm512_fmadd_ps(x, b1, acc[r][1]);                                                 \
  } while (0)
    ROW(0);
    ROW(1);
    ROW(2);
    ROW(3);
    ROW(4);
    ROW(5);
#undef ROW
  }
  __m512 al = _mm512_set1_ps(alpha);
  for (int r = 0; r < MR; r++) {
    float *d = c + r * ldc;
    _mm512_storeu_ps(d, _mm512_add_ps(_mm512_loadu_ps(d), _mm512_mul_ps(al, acc[r][0])));
    _mm512_storeu_ps(d + 16, _mm512_add_ps(_mm512_loadu_ps(d + 16), _mm512_mul_ps(al, acc[r][1])));
  }
}
#endif

static kern_fn g_kern;
static const char *g_kern_name;
static int g_nr = 16; /* panel width of the chosen kernel */
#define NR g_nr

/* Picks the best kernel the CPU runs, or `want` ("scalar", "avx2", "avx512") when it can. */
static bool kern_choose(const char *want) {
  kern_fn k = kern_scalar;
  const char *name = "scalar";
  int nr = 16;
  bool any = !want;
#ifdef HAVE_X86
  bool has2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  bool has5 = __builtin_cpu_supports("avx512f");
  if (has2 && (any || strcmp(want, "avx2") == 0)) k = kern_avx2, name = "avx2";
  if (has5 && (any || strcmp(want, "avx512") == 0)) k = kern_avx512, name = "avx512", nr = 32;
#endif
  if (want && strcmp(want, name) != 0) return false;
  g_nr = nr;
  g_kern_name = name;
  g_kern = k;
  return true;
}

static pthread_once_t kern_once = PTHREAD_ONCE_INIT;

static void kern_init(void) {
  const char *force = getenv("MIMIC_KERNELS");
  if (!force || !kern_choose(force)) kern_choose(NULL);
}

static void kern_pick(void) { pthread_once(&kern_once, kern_init); }

bool train__gemm_set_kernel(const char *name) {
  kern_pick();
  return kern_choose(name);
}

const char *train__gemm_kernel(void) {
  kern_pick();
  return g_kern_name;
}

/* ---- Packing --------------------------------------------------------------------------------- */

/* The scalar reference kernel keeps the engine's own dequantization too (the same floats). */
static void dequant_row(tensor_type type, const void *src, float *dst, int64_t n) {
  if (g_kern == kern_scalar)
    quant_dequant_row(type, src, dst, n);
  else
    train__dequant_row(type, src, dst, n);
}

#ifdef HAVE_X86
/* pack_a's common case (A not transposed, a whole panel of MR = 6 rows) eight columns at a time:
 * the 6 rows (and 2 zero rows) transposed as an 8 x 8 block, each column's 6 values stored as 4 + 2
 * (never past the panel: threads pack neighbouring panels at once). Returns the columns done. */
__attribute__((target("avx2"))) static int64_t pack_a6_avx2(const float *src, int64_t ld,
                                                            int64_t kc, float *ap) {
  int64_t k = 0;
  __m256 z = _mm256_setzero_ps();
  for (; k + 8 <= kc; k += 8) {
    __m256 r0 = _mm256_loadu_ps(src + k), r1 = _mm256_loadu_ps(src + ld + k);
    __m256 r2 = _mm256_loadu_ps(src + 2 * ld + k), r3 = _mm256_loadu_ps(src + 3 * ld + k);
    __m256 r4 = _mm256_loadu_ps(src + 4 * ld + k), r5 = _mm256_loadu_ps(src + 5 * ld + k);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
    __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
    __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
    __m256 t6 = _mm256_unpacklo_ps(z, z), t7 = t6;
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    /* column j: rows 0..3 in u(j%4) of lane j/4, rows 4..5 in the low half of u(4 + j%4) */
    __m256 lo[4] = {u0, u1, u2, u3}, hi[4] = {u4, u5, u6, u7};
    for (int j = 0; j < 8; j++) {
      __m128 a = j < 4 ? _mm256_castps256_ps128(lo[j]) : _mm256_extractf128_ps(lo[j - 4], 1);
      __m128 b = j < 4 ? _mm256_castps256_ps128(hi[j]) : _mm256_extractf128_ps(hi[j - 4], 1);
      float *d = ap + (k + j) * MR;
      _mm_storeu_ps(d, a);
      _mm_storel_pi((__m64 *)(d + 4), b);
    }
  }
  return k;
}
#endif

/* dst (kc, 16) = the transpose of src's 16 rows of kc floats (rows kc apart; kc a multiple of 8),
 * eight by eight. */
__attribute__((target("avx2"))) static void pack_t16_avx2(const float *src, int64_t kc,
                                                          float *dst) {
  for (int h = 0; h < 2; h++)
    for (int64_t k = 0; k < kc; k += 8) {
      const float *s = src + h * 8 * kc + k;
      __m256 r0 = _mm256_loadu_ps(s), r1 = _mm256_loadu_ps(s + kc);
      __m256 r2 = _mm256_loadu_ps(s + 2 * kc), r3 = _mm256_loadu_ps(s + 3 * kc);
      __m256 r4 = _mm256_loadu_ps(s + 4 * kc), r5 = _mm256_loadu_ps(s + 5 * kc);
      __m256 r6 = _mm256_loadu_ps(s + 6 * kc), r7 = _mm256_loadu_ps(s + 7 * kc);
      __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
      __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
      __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
      __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
      __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
      __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
      __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
      __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
      float *d = dst + k * 16 + h * 8;
      _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
      _mm256_storeu_ps(d + 16, _mm256_permute2f128_ps(u1, u5, 0x20));
      _mm256_storeu_ps(d + 32, _mm256_permute2f128_ps(u2, u6, 0x20));
      _mm256_storeu_ps(d + 48, _mm256_permute2f128_ps(u3, u7, 0x20));
      _mm256_storeu_ps(d + 64, _mm256_permute2f128_ps(u0, u4, 0x31));
      _mm256_storeu_ps(d + 80, _mm256_permute2f128_ps(u1, u5, 0x31));
      _mm256_storeu_ps(d + 96, _mm256_permute2f128_ps(u2, u6, 0x31));
      _mm256_storeu_ps(d + 112, _mm256_permute2f128_ps(u3, u7, 0x31));
    }
}

/* ap (kc, MR) from A rows i0..i0+mr, columns k0..k0+kc; missing rows are zero. */
static void pack_a(const train_mat *A, int64_t i0, int mr, int64_t k0, int64_t kc, float *ap) {
#ifdef HAVE_X86
  if (!A->t && mr == MR && g_kern != kern_scalar) {
    const float *src = A->p + i0 * A->ld + k0;
    for (int64_t k = pack_a6_avx2(src, A->ld, kc, ap); k < kc; k++)
      for (int r = 0; r < MR; r++) ap[k * MR + r] = src[r * A->ld + k];
    return;
  }
#endif
  if (!A->t) {
    for (int r = 0; r < MR; r++) {
      if (r < mr) {
        const float *src = A->p + (i0 + r) * A->ld + k0;
        for (int64_t k = 0; k < kc; k++) ap[k * MR + r] = src[k];
      } else {
        for (int64_t k = 0; k < kc; k++) ap[k * MR + r] = 0;
      }
    }
  } else if (mr == MR) { /* a whole panel: six neighbouring floats of each row of A's storage */
    for (int64_t k = 0; k < kc; k++)
      memcpy(ap + k * MR, A->p + (k0 + k) * A->ld + i0, MR * sizeof(float));
  } else {
    for (int64_t k = 0; k < kc; k++) {
      const float *src = A->p + (k0 + k) * A->ld + i0;
      int r = 0;
      for (; r < mr; r++) ap[k * MR + r] = src[r];
      for (; r < MR; r++) ap[k * MR + r] = 0;
    }
  }
}

/* bp: panels of NR columns, each (kc, NR), for B rows k0..k0+kc and columns j0..j0+nc (zero-padded
 * to a multiple of NR). tmp holds at least max(nc, 16 kc) floats (quantized rows are decoded
 * there).
 */
static void pack_b(const train_mat *B, int64_t k0, int64_t kc, int64_t j0, int64_t nc, float *bp,
                   float *tmp) {
  int64_t np = (nc + NR - 1) / NR;
  if (B->q) {
    const qmat *q = B->q;
    int blk = tensor_type_get((int)q->type).block;
    if (!B->t) { /* B = q: row k of B is row k of q; columns j0.. are block-aligned */
      size_t off = (size_t)(j0 / blk) * tensor_row_bytes(q->type, blk);
      for (int64_t k = 0; k < kc; k++) {
        dequant_row(q->type, (const char *)q->data + (size_t)(k0 + k) * q->row_bytes + off, tmp,
                    nc);
        int64_t p = 0;
        if (NR == 16) /* whole panels: a constant-size copy (two vector moves, not a call) */
          for (; p < nc / 16; p++) memcpy(bp + p * kc * 16 + k * 16, tmp + p * 16, 16 * 4);
        for (; p < np; p++) {
          float *dst = bp + p * kc * NR + k * NR;
          int64_t w = nc - p * NR < NR ? nc - p * NR : NR;
          memcpy(dst, tmp + p * NR, (size_t)w * sizeof(float));
          for (int64_t j = w; j < NR; j++) dst[j] = 0;
        }
      }
    } else { /* B = q^T: column j of B is row j of q; rows k0.. are block-aligned */
      size_t off = (size_t)(k0 / blk) * tensor_row_bytes(q->type, blk);
      int64_t p = 0;
#ifdef HAVE_X86
      if (NR == 16 && g_kern != kern_scalar && kc % 8 == 0)
        /* whole panels: sixteen rows decoded into tmp, then 8 x 8 transposes into the panel */
        for (; p < nc / 16; p++) {
          for (int jj = 0; jj < 16; jj++)
            dequant_row(q->type,
                        (const char *)q->data + (size_t)(j0 + p * 16 + jj) * q->row_bytes + off,
                        tmp + jj * kc, kc);
          pack_t16_avx2(tmp, kc, bp + p * kc * 16);
        }
#endif
      for (; p < np; p++) { /* the rest column by column */
        float *dst = bp + p * kc * NR;
        for (int64_t jj = 0; jj < NR; jj++) {
          int64_t j = p * NR + jj;
          if (j < nc) {
            dequant_row(q->type, (const char *)q->data + (size_t)(j0 + j) * q->row_bytes + off, tmp,
                        kc);
            for (int64_t k = 0; k < kc; k++) dst[k * NR + jj] = tmp[k];
          } else {
            for (int64_t k = 0; k < kc; k++) dst[k * NR + jj] = 0;
          }
        }
      }
    }
    return;
  }
  if (!B->t) { /* row by row (B's storage in order), as the quantized rows above */
    for (int64_t k = 0; k < kc; k++) {
      const float *src = B->p + (k0 + k) * B->ld + j0;
      int64_t p = 0;
      if (NR == 16) /* whole panels: a constant-size copy (it was a scalar loop) */
        for (; p < nc / 16; p++) memcpy(bp + p * kc * 16 + k * 16, src + p * 16, 16 * 4);
      for (; p < np; p++) {
        float *d = bp + p * kc * NR + k * NR;
        int64_t w = nc - p * NR < NR ? nc - p * NR : NR;
        memcpy(d, src + p * NR, (size_t)w * sizeof(float));
        for (int64_t j = w; j < NR; j++) d[j] = 0;
      }
    }
    return;
  }
  for (int64_t p = 0; p < np; p++) { /* B^T: column j of B is row j of B's storage */
    float *dst = bp + p * kc * NR;
    int64_t w = nc - p * NR < NR ? nc - p * NR : NR;
    for (int64_t jj = 0; jj < NR; jj++) {
      if (jj < w) {
        const float *src = B->p + (j0 + p * NR + jj) * B->ld + k0;
        for (int64_t k = 0; k < kc; k++) dst[k * NR + jj] = src[k];
      } else {
        for (int64_t k = 0; k < kc; k++) dst[k * NR + jj] = 0;
      }
    }
  }
}

/* ---- Driver ---------------------------------------------------------------------------------- */

typedef struct gemm_job {
  int64_t M, N, K;
  train_mat A, B;
  float alpha;
  float *C;
  int64_t ldc;
  bool acc;
  int64_t nblk, n_jb, mblk, n_ib; /* task grid: n_ib row blocks of mblk x n_jb column blocks */
  int64_t n_tail, tblk; /* the last n_tail column blocks in row blocks of tblk instead (n_ib 1) */
  int64_t kc_max;
  _Atomic int64_t next; /* the next task to take */
  float *apk;           /* A packed once for every task (NULL: each task packs its own) */
  int64_t mp;           /* M rounded up to MR: the packed A's rows */
} gemm_job;

/* The packed A of rows i0.. (a multiple of MR) for the K-block at k0: K-blocks follow each other,
 * each holding every row panel of MR rows as (kc, MR). */
static float *apk_at(const gemm_job *j, int64_t i0, int64_t k0, int64_t kc) {
  return j->apk + k0 * j->mp + i0 * kc;
}

/* Packs A into j->apk, row panels split over the threads. */
static void pack_a_worker(int ith, int nth, void *arg) {
  gemm_job *j = arg;
  int64_t panels = j->mp / MR;
  for (int64_t k0 = 0; k0 < j->K; k0 += j->kc_max) {
    int64_t kc = j->K - k0 < j->kc_max ? j->K - k0 : j->kc_max;
    for (int64_t p = ith; p < panels; p += nth) {
      int mr = j->M - p * MR < MR ? (int)(j->M - p * MR) : MR;
      pack_a(&j->A, p * MR, mr, k0, kc, apk_at(j, p * MR, k0, kc));
    }
  }
}

/* Row panels per chunk: a chunk's packed A (MC_PANELS x MR rows x KC floats, 48 KiB) stays in L2
 * while each B panel of the task (KC x NR floats, 16 KiB with AVX2) is held in L1 and swept by the
 * chunk's panels in turn. Sweeping the other way (one A panel against every B panel of the task)
 * streamed the B panels from L2 at 64 bytes per k step of the micro-kernel against A's 24: the
 * kernel ran at about two thirds of the FMA peak inside whole training steps. */
#define MC_PANELS 8

/* Each task is one block of C: per K-block its B panel is packed (a quantized B dequantized) once
 * and swept by every row of the block, so a weight tile is decoded once per task, not once per few
 * rows. Threads take tasks in turn; which thread runs a task never changes its sums (every tile of
 * C gets its K-blocks' products added in K order, whatever the order of the tiles). */
static void gemm_worker(int ith, int nth, void *arg) {
  (void)ith, (void)nth;
  gemm_job *j = arg;
  int64_t full = j->n_ib * (j->n_jb - j->n_tail), per = (j->M + j->tblk - 1) / j->tblk;
  int64_t tasks = full + (j->n_tail ? j->n_tail * per : 0);
  int64_t t = atomic_fetch_add(&j->next, 1);
  if (t >= tasks) return;
  int64_t np_max = (j->nblk + NR - 1) / NR;
  /* B panels start on a 64-byte line, so the kernel's row of NR floats never straddles two */
  float *bp_mem = xalloc((size_t)(np_max * NR * j->kc_max + 16) * sizeof(float));
  float *bp = (float *)(((uintptr_t)bp_mem + 63) & ~(uintptr_t)63);
  float *ap = j->apk ? NULL : xalloc((size_t)(MC_PANELS * MR * j->kc_max) * sizeof(float));
  /* tmp: a row of nblk or kc floats, or sixteen rows of kc (pack_b's transposed panels) */
  int64_t tmpn = j->nblk > 16 * j->kc_max ? j->nblk : 16 * j->kc_max;
  float *tmp = xalloc((size_t)tmpn * sizeof(float));
  float c[MR * NR_MAX];
  for (; t < tasks; t = atomic_fetch_add(&j->next, 1)) {
    int64_t jb = t / j->n_ib, i0 = t % j->n_ib * j->mblk, mb = j->mblk;
    if (t >= full) { /* a tail column block's row block */
      jb = j->n_jb - j->n_tail + (t - full) / per;
      i0 = (t - full) % per * j->tblk;
      mb = j->tblk;
    }
    int64_t j0 = jb * j->nblk, nc = j->N - j0 < j->nblk ? j->N - j0 : j->nblk;
    int64_t mc = j->M - i0 < mb ? j->M - i0 : mb;
    int64_t np = (nc + NR - 1) / NR;
    if (!j->acc)
      for (int64_t i = 0; i < mc; i++)
        memset(j->C + (i0 + i) * j->ldc + j0, 0, (size_t)nc * sizeof(float));
    for (int64_t k0 = 0; k0 < j->K; k0 += j->kc_max) {
      int64_t kc = j->K - k0 < j->kc_max ? j->K - k0 : j->kc_max;
      pack_b(&j->B, k0, kc, j0, nc, bp, tmp);
      for (int64_t ic = 0; ic < mc; ic += MC_PANELS * MR) {
        int64_t ce = mc - ic < MC_PANELS * MR ? mc : ic + MC_PANELS * MR;
        const float *pa0;
        if (j->apk) {
          pa0 = apk_at(j, i0 + ic, k0, kc);
        } else {
          for (int64_t ii = ic; ii < ce; ii += MR)
            pack_a(&j->A, i0 + ii, mc - ii < MR ? (int)(mc - ii) : MR, k0, kc, ap + (ii - ic) * kc);
          pa0 = ap;
        }
        for (int64_t p = 0; p < np; p++) {
          int64_t w = nc - p * NR < NR ? nc - p * NR : NR;
          const float *pb = bp + p * kc * NR;
          for (int64_t ii = ic; ii < ce; ii += MR) {
            int mr = mc - ii < MR ? (int)(mc - ii) : MR;
            const float *pa = pa0 + (ii - ic) * kc; /* panels of MR rows follow each other */
            float *dst = j->C + (i0 + ii) * j->ldc + j0 + p * NR;
            if (mr == MR && w == NR) { /* a whole tile: the kernel adds into C */
              g_kern(kc, pa, pb, dst, j->ldc, j->alpha);
              continue;
            }
            memset(c, 0, sizeof c);
            g_kern(kc, pa, pb, c, NR, 1.0f);
            for (int r = 0; r < mr; r++)
              for (int64_t x = 0; x < w; x++) dst[r * j->ldc + x] += j->alpha * c[r * NR + x];
          }
        }
      }
    }
  }
  mem_free(bp_mem);
  mem_free(ap);
  mem_free(tmp);
}

void train__gemm(compute_pool *pool, int64_t M, int64_t N, int64_t K, train_mat A, train_mat B,
                 float alpha, float *C, int64_t ldc, bool acc) {
  /* the shapes are the caller's contract: a mismatch is a bug in the model, never bad input */
  MIMIC_ASSERT(M >= 0 && N >= 0 && K >= 0);
  MIMIC_ASSERT(A.q == NULL && (M == 0 || N == 0 || C != NULL));
  MIMIC_ASSERT(N <= 1 || ldc >= N);
  MIMIC_ASSERT(K == 0 || M == 0 || A.p != NULL);
  MIMIC_ASSERT(A.t ? (K <= 1 || A.ld >= M) : (M <= 1 || A.ld >= K));
  if (B.q)
    MIMIC_ASSERT(B.t ? (B.q->cols == K && B.q->rows == N) : (B.q->rows == K && B.q->cols == N));
  else
    MIMIC_ASSERT(K == 0 || N == 0 ||
                 (B.p != NULL && (B.t ? (N <= 1 || B.ld >= K) : (K <= 1 || B.ld >= N))));
  if (M <= 0 || N <= 0) return;
  kern_pick();
  gemm_job j = {M, N, K, A, B, alpha, C, ldc, acc, 0, 0, 0, 0, 0, 0, KC, 0, NULL, 0};
  if (K <= 0) {
    if (!acc)
      for (int64_t i = 0; i < M; i++) memset(C + i * ldc, 0, (size_t)N * sizeof(float));
    return;
  }
  /* Column blocks: at least NBLK_MIN wide, aligned to the quant block when B's columns are
   * quantized rows, about 2 per thread when N allows; rows are split only when there are too few
   * column blocks to go round (every row block packs its B panels again). */
  int64_t align = NR;
  if (B.q && !B.t) {
    int blk = tensor_type_get((int)B.q->type).block;
    while (align % blk) align += NR;
  }
  int nth = pool ? compute_pool_threads(pool) : 1;
  int64_t nblk = (N + 2 * nth - 1) / (2 * nth);
  if (nblk < NBLK_MIN) nblk = NBLK_MIN;
  if (nblk > NBLK_MAX) nblk = NBLK_MAX;
  nblk = (nblk + align - 1) / align * align;
  j.nblk = nblk;
  j.n_jb = (N + nblk - 1) / nblk;
  int64_t n_ib = 1;
  if (j.n_jb < 2 * nth) n_ib = (2 * nth + j.n_jb - 1) / j.n_jb;
  int64_t mblk = (M + n_ib - 1) / n_ib;
  if (mblk < 4 * MR) mblk = 4 * MR;
  mblk = (mblk + MR - 1) / MR * MR;
  j.mblk = mblk;
  j.n_ib = (M + mblk - 1) / mblk;
  /* Whole column blocks that do not share out evenly (the down product's dx: 19 blocks of 256 on
   * 2 threads) end with one thread alone: the last n_jb % nth blocks are split by rows among the
   * threads instead (their B panels packed once per row block). Tasks are taken in order, so the
   * split ones come last, when the threads would otherwise part. */
  j.tblk = mblk;
  if (j.n_ib == 1 && nth > 1 && j.n_jb % nth && M >= 4 * MR * nth) {
    j.n_tail = j.n_jb % nth;
    j.tblk = ((M + nth - 1) / nth + MR - 1) / MR * MR;
  }
  bool threaded = pool && (int64_t)M * N * K >= 32768;
  /* Several column blocks would each gather A's panels again (strided reads of every row): pack
   * A once, in parallel, and let every task stream the packed copy. */
  if (j.n_jb > 1 && M >= 4 * MR) {
    j.mp = (M + MR - 1) / MR * MR;
    j.apk = mem_alloc((size_t)(j.mp * K) * sizeof(float));
    if (j.apk) {
      if (threaded)
        compute_pool_run(pool, pack_a_worker, &j);
      else
        pack_a_worker(0, 1, &j);
    }
  }
  if (threaded)
    compute_pool_run(pool, gemm_worker, &j);
  else
    gemm_worker(0, 1, &j);
  mem_free(j.apk);
}
