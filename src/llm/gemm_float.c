/* The packed matrix product for float weights (F32, F16, BF16) with many activation rows (prompts,
 * encoders): the same bits as the tiled order's one-row dots (kernels.c dot_f32 / dot_f16 /
 * dot_bf16), at register-tile speed. Not here: the dots themselves, the quantized types, the
 * untiled order (those keep qmat_mul's row loops).
 *
 * Why it can be exact: the tiled order gives every output y(t, r) sixteen lane accumulators, lane l
 * a chain of fused multiply-adds over its own run of k (F32/F16: k = 16 s + l; BF16: the pair
 * 2l + 1, 2l of each 32, odd first), reduced at the end by llm__hsum16. Those are sixteen
 * independent products of depth cols / 16. Each is computed here as an ordinary register-tiled
 * product (vectorized across 16 weight rows, broadcasting one activation value per token), with
 * the same operands in the same order per (t, r, lane); the sixteen partial results are then
 * reduced in llm__hsum16's tree. Weights are converted to float once per 16-row panel, activations
 * once per call (rounded through F16/BF16 as the dots' companion rows are), both laid out lane by
 * lane. docs/internals/kernels.md ("Float weights with many rows") has the layout and figures. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "llm/compute_pool.h"
#include "llm/kernels_int.h"
#include "llm/profile.h"

#define MR    GF_MR
#define NR    GF_NR
#define LANES 16
/* Fewer tokens than this: the row loops (packing the weights costs about one product per weight,
 * amortized over the tokens). */
#define GF_MIN_T 16
#define GF_MAX_W 8

/* ---- Portable set ----------------------------------------------------------------------------
 * Plain C, the specification of the layout; compilers vectorize its loops where the target has a
 * fused multiply-add instruction (fmaf inlines). */

static void kern_c(const float *wp, const float *xp, int64_t D, float *out, int acc) {
  float c[MR][NR] = {{0}};
  if (acc) memcpy(c, out, sizeof c);
  for (int64_t s = 0; s < D; s++)
    for (int t = 0; t < MR; t++)
      for (int r = 0; r < NR; r++) c[t][r] = fmaf(wp[s * NR + r], xp[s * MR + t], c[t][r]);
  memcpy(out, c, sizeof c);
}

static void act_c(tensor_type t, const float *src, float *dst, int64_t n) {
  if (t == TT_F32)
    memcpy(dst, src, (size_t)n * sizeof *dst);
  else if (t == TT_F16)
    for (int64_t i = 0; i < n; i++) dst[i] = fp16_to_f32(f32_to_fp16(src[i]));
  else
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(f32_to_bf16(src[i]));
}

/* out = the sixteen lanes' partials part[l][MR x NR] reduced in llm__hsum16's tree. */
static void reduce_c(const float *part, float *out) {
  enum { N = MR * NR };
  for (int i = 0; i < N; i++) {
    float a[LANES];
    for (int l = 0; l < LANES; l++) a[l] = part[l * N + i];
    out[i] = llm__hsum16(a);
  }
}

static void pack_c(tensor_type t, const void *src, size_t row_bytes, int nr, int64_t D, float *wp);

static const llm_gemm_ops ops_c = {"portable", kern_c, pack_c, act_c, reduce_c};

/* ---- Selection ------------------------------------------------------------------------------- */

const llm_gemm_ops *llm__gemm_ops(llm_gemm_set which) {
  switch (which) {
  case LLM_GEMM_PORTABLE: return &ops_c;
  case LLM_GEMM_AVX2: return llm__gemm_ops_avx2();
  default: return NULL;
  }
}

/* The set qmat_mul uses on kernel level k (qmat_kernels_name): AVX2 on the AVX2 level (measured
 * faster than its dot4 rows); none on the AVX-512 level (no set of its own yet; its dot4 rows
 * stay); the portable one on the scalar level only where fmaf is an instruction (otherwise each is
 * a library call, slower than the dots). */
static const llm_gemm_ops *selected(const char *k) {
  if (!strcmp(k, "avx2")) return llm__gemm_ops(LLM_GEMM_AVX2);
#ifdef __FP_FAST_FMAF
  if (!strcmp(k, "scalar")) return &ops_c;
#endif
  return NULL;
}

/* ---- Layout -----------------------------------------------------------------------------------
 * Lane l's run of k, step s (D = cols / 16 steps per lane): */
static inline int64_t lane_k(tensor_type t, int l, int64_t s) {
  if (t == TT_BF16) return 32 * (s >> 1) + 2 * l + !(s & 1);
  return 16 * s + l;
}

/* xp: the activations in blocks of MR tokens (block b = tokens [MR b, MR b + MR)), lane by lane,
 * each lane's steps in chunks of GF_KC (the last one shorter), and within a chunk block after
 * block: step s of lane l, block b at xp + x_at(j, l, b, s), MR tokens (so the run of blocks a
 * kernel call sequence reads for one lane and chunk is one stream, which the kernel's prefetch
 * follows from block to block). Tokens past T are zero (their outputs are never stored).
 * A weight panel (NR rows) likewise: lane l at wp + l * D * NR, its D steps of NR rows. A thread
 * packs a group of up to `group` panels of one matrix and runs its range of token blocks against
 * them (run_items). */
typedef struct gf_job {
  const llm_gemm_ops *ops;
  llm_scratch_fn scratch;
  tensor_type type;
  int n_w;
  const qmat *w[GF_MAX_W];
  float *y[GF_MAX_W];
  int64_t g0[GF_MAX_W + 1]; /* first group of each matrix in the concatenated list */
  int64_t group;            /* panels per group */
  int64_t bc;               /* token blocks per run */
  const float *x;
  float *xp;
  int64_t T, K, D, n_blocks;
  int64_t t_items, t_len; /* token ranges per group and their length in blocks */
} gf_job;

#define GF_KC 96 /* steps per chunk: run_items */

static inline int64_t x_at(const gf_job *j, int l, int64_t b, int64_t s) {
  int64_t c0 = s - s % GF_KC, n = j->D - c0 < GF_KC ? j->D - c0 : GF_KC;
  return ((l * j->D + c0) * j->n_blocks + b * n + s - c0) * MR;
}

static void pack_x(void *arg, int64_t b0, int64_t b1) {
  const gf_job *j = arg;
  int64_t K = j->K, D = j->D;
  float *rows = j->scratch(LLM_SCRATCH_GEMM, (size_t)(MR * K) * sizeof *rows);
  for (int64_t b = b0; b < b1; b++) {
    for (int q = 0; q < MR; q++) {
      int64_t t = b * MR + q;
      if (t < j->T)
        j->ops->act(j->type, j->x + t * K, rows + q * K, K);
      else
        memset(rows + q * K, 0, (size_t)K * sizeof *rows);
    }
    /* Written in order, read across the six rows (in L1). */
    for (int l = 0; l < LANES; l++)
      for (int64_t c0 = 0; c0 < D; c0 += GF_KC) {
        float *dst = j->xp + x_at(j, l, b, c0);
        for (int64_t s = c0; s < D && s < c0 + GF_KC; s++, dst += MR) {
          int64_t k = lane_k(j->type, l, s);
          for (int q = 0; q < MR; q++) dst[q] = rows[q * K + k];
        }
      }
  }
}

/* Rows src[0, nr) (row_bytes apart) into the panel wp, lane by lane; rows nr..NR-1 are zero. */
static void pack_c(tensor_type t, const void *src, size_t row_bytes, int nr, int64_t D, float *wp) {
  for (int q = 0; q < NR; q++) {
    const uint8_t *r = q < nr ? (const uint8_t *)src + (size_t)q * row_bytes : NULL;
    for (int l = 0; l < LANES; l++)
      for (int64_t s = 0; s < D; s++) {
        int64_t k = lane_k(t, l, s);
        float v = 0;
        if (q < nr) {
          if (t == TT_F32)
            memcpy(&v, r + (size_t)k * sizeof v, sizeof v);
          else {
            uint16_t h;
            memcpy(&h, r + (size_t)k * sizeof h, sizeof h);
            v = t == TT_F16 ? fp16_to_f32(h) : bf16_to_f32(h);
          }
        }
        wp[(l * D + s) * NR + q] = v;
      }
  }
}

/* Rows [r0, r0 + NR) of w into the panel wp; rows past the matrix are zero. */
static void pack_w(const gf_job *j, const qmat *w, int64_t r0, float *wp) {
  int64_t nr = w->rows - r0 < NR ? w->rows - r0 : NR;
  j->ops->pack(j->type, (const uint8_t *)w->data + (size_t)r0 * w->row_bytes, w->row_bytes, (int)nr,
               j->D, wp);
}

/* Weight panels per group (at most KC steps per lane): as many whole panels as fit in 192
 * KiB (of a 512 KiB L2, which also holds a run of BC token blocks' activations, 4 x 36 KiB at cols
 * 1536), at least one. The loop per work item (a
 * group and a range of token blocks), for each run of BC token blocks: for each chunk of KC steps,
 * for each lane, for each panel of the group, the chunk's weights (KC x 64 bytes, in L1) against
 * each of the BC blocks' activations for that lane and chunk (BC x KC x 24 bytes, in L1 across the
 * group's panels); a chain left at a chunk's end continues from its stored partial in the next (the
 * same fused multiply-adds in the same order: the same bits). So each weight is read from L2 (or
 * further) once per BC blocks, and each activation once per lane's group of panels. Chosen on the
 * AMD EPYC (Zen 3) development machine by simulated cache misses (cachegrind, L1 32 KiB, L2 512
 * KiB), timings being too noisy there: docs/internals/kernels.md.
 * Wide matrices (more than KC steps: cols 8960, where a panel is 560 KiB) cannot keep a group's
 * panels in L2 from one run to the next whichever the group, so there the group is sized for the
 * activations instead: GF_WIDE_GROUP panels (each activation read once per 64 rows) and runs of
 * GF_WIDE_BC blocks (each weight chunk read once per 48 tokens; the run's activations for one lane
 * and chunk, 18 KiB, and the 6 KiB weight chunk share L1). Measured (F16, T = 512, 2 threads,
 * medians of 3 alternating runs): the 1.5B down product 91 -> 98 GFLOP/s, the 3B's gate/up and
 * down 103 -> 108 and 95 -> 104; the narrow shapes unchanged. */
#define GF_GROUP_BYTES (192 * 1024)
#define GF_GROUP_MAX   8
#define GF_BC          4
#define GF_WIDE_GROUP  4
#define GF_WIDE_BC     8

static void run_items(void *arg, int64_t i0, int64_t i1) {
  const gf_job *j = arg;
  uint64_t t0 = LLM_PROF_T0();
  size_t panel = (size_t)LANES * j->D * NR, tile = (size_t)MR * NR;
  const int64_t bc = j->bc, kc = GF_KC;
  float *wp = j->scratch(LLM_SCRATCH_GEMM,
                         (panel * (size_t)j->group + ((size_t)(bc * j->group * LANES) + 1) * tile) *
                             sizeof(float));
  float *part = wp + panel * (size_t)j->group, *out = part + (size_t)(bc * j->group * LANES) * tile;
  int64_t packed = -1;
  for (int64_t it = i0; it < i1; it++) {
    int64_t g = it / j->t_items, tr = it % j->t_items;
    int k = 0;
    while (g >= j->g0[k + 1]) k++;
    const qmat *w = j->w[k];
    int64_t p0 = (g - j->g0[k]) * j->group, np = (w->rows + NR - 1) / NR - p0;
    if (np > j->group) np = j->group;
    if (packed != g) {
      for (int64_t p = 0; p < np; p++) pack_w(j, w, (p0 + p) * NR, wp + p * panel);
      packed = g;
    }
    int64_t b0 = tr * j->t_len, b1 = b0 + j->t_len < j->n_blocks ? b0 + j->t_len : j->n_blocks;
    for (int64_t c0 = b0; c0 < b1; c0 += bc) {
      int64_t c1 = c0 + bc < b1 ? c0 + bc : b1;
      for (int64_t s0 = 0; s0 < j->D; s0 += kc) {
        int64_t n = j->D - s0 < kc ? j->D - s0 : kc;
        for (int l = 0; l < LANES; l++)
          for (int64_t p = 0; p < np; p++) {
            const float *wl = wp + p * panel + ((size_t)l * j->D + s0) * NR;
            for (int64_t b = c0; b < c1; b++)
              j->ops->kern(wl, j->xp + x_at(j, l, b, s0), n,
                           part + ((size_t)(p * bc + b - c0) * LANES + l) * tile, s0 > 0);
          }
      }
      for (int64_t p = 0; p < np; p++) {
        int64_t r0 = (p0 + p) * NR, nr = w->rows - r0 < NR ? w->rows - r0 : NR;
        for (int64_t b = c0; b < c1; b++) {
          j->ops->reduce(part + (size_t)(p * bc + b - c0) * LANES * tile, out);
          int64_t nt = j->T - b * MR < MR ? j->T - b * MR : MR;
          for (int64_t q = 0; q < nt; q++)
            memcpy(j->y[k] + (b * MR + q) * w->rows + r0, out + q * NR, (size_t)nr * sizeof *out);
        }
      }
    }
  }
  if (t0) llm__prof_mm_busy(j->type, llm__prof_now() - t0);
}

/* The tiled order's shapes (kernels.c, llm__untiled): float rows a multiple of 4, width a multiple
 * of 16 (BF16: 32). Restated here so this file calls nothing of kernels.c, which calls it. */
static bool tiled(const qmat *w) {
  return w->rows % 4 == 0 && w->cols % (w->type == TT_BF16 ? 32 : 16) == 0;
}

bool llm__gemm_float_with(const llm_gemm_ops *ops, llm_scratch_fn scratch, compute_pool *pool,
                          int n, const qmat *const *w, const float *x, float *const *y, int64_t T) {
  if (!ops || n < 1 || n > GF_MAX_W || T < 1) return false;
  tensor_type type = w[0]->type;
  if (type != TT_F32 && type != TT_F16 && type != TT_BF16) return false;
  gf_job j = {.ops = ops, .scratch = scratch, .type = type, .x = x, .T = T, .K = w[0]->cols};
  for (int k = 0; k < n; k++)
    if (w[k]->type != type || w[k]->cols != j.K || w[k]->rows <= 0 || !tiled(w[k])) return false;
  j.D = j.K / LANES;
  /* Sized by a chunk's weights, the part that is reused from L2 (a run of token blocks at a time).
   */
  if (j.D > GF_KC) {
    j.group = GF_WIDE_GROUP;
    j.bc = GF_WIDE_BC;
  } else { /* whole panels, the group reused from L2 from one run of token blocks to the next */
    j.group = GF_GROUP_BYTES / ((int64_t)NR * LANES * j.D * (int64_t)sizeof(float));
    if (j.group < 1) j.group = 1;
    if (j.group > GF_GROUP_MAX) j.group = GF_GROUP_MAX;
    j.bc = GF_BC;
  }
  for (int k = 0; k < n; k++) {
    MIMIC_ASSERT(w[k]->data && y[k] && w[k]->row_bytes == tensor_row_bytes(type, j.K));
    j.w[k] = w[k];
    j.y[k] = y[k];
    int64_t panels = (w[k]->rows + NR - 1) / NR;
    j.g0[k + 1] = j.g0[k] + (panels + j.group - 1) / j.group;
  }
  j.n_w = n;
  j.n_blocks = (T + MR - 1) / MR;
  int nth = compute_pool_threads(pool);
  /* Token ranges: all of T per group when there are groups enough for four per thread (each
   * panel converted once); otherwise T is cut so that there are. */
  int64_t groups = j.g0[n], want = 4 * (int64_t)nth;
  j.t_items = groups >= want ? 1 : (want + groups - 1) / groups;
  if (j.t_items > j.n_blocks) j.t_items = j.n_blocks;
  j.t_len = (j.n_blocks + j.t_items - 1) / j.t_items;
  j.t_items = (j.n_blocks + j.t_len - 1) / j.t_len;
  j.xp = scratch(LLM_SCRATCH_ACT, (size_t)j.n_blocks * MR * j.K * sizeof(float));
  /* In the forward-pass profile (profile.h): the activations' layout as "act. quantize", the
   * product as the matrix type's kernel time. */
  uint64_t t0 = LLM_PROF_T0();
  compute_pool_for(pool, j.n_blocks, (j.n_blocks + 4 * nth - 1) / (4 * nth), pack_x, &j);
  if (t0) llm__prof_wall(LLM_PROF_ACT_QUANT, t0);
  t0 = LLM_PROF_T0();
  compute_pool_for(pool, groups * j.t_items, 1, run_items, &j);
  if (t0) {
    llm__prof_wall(LLM_PROF_MATMUL, t0);
    llm__prof_par(t0, nth);
  }
  return true;
}

bool llm__gemm_float(compute_pool *pool, int n, const qmat *const *w, const float *x,
                     float *const *y, int64_t T, const char *level, llm_scratch_fn scratch) {
  if (T < GF_MIN_T) return false;
  return llm__gemm_float_with(selected(level), scratch, pool, n, w, x, y, T);
}
