/* The vision encoder (SigLIP: patch embedding, position embedding, pre-norm transformer blocks,
 * post-norm) and the idefics3 projector (pixel shuffle, one linear layer) over one tile, as
 * llama.cpp's clip_graph_siglip computes them, in two paths: the fast one runs every matrix
 * product through qmat_mul on the compute pool (attention too: per head, K and V are handed to
 * qmat_mul as float "weights"); the scalar one is the plain-loop reference. Both keep llama.cpp's
 * two fp16 steps (the convolution's inputs, the GELU table). Not here: preprocessing, the prompt.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "vision/vision_int.h"

/* The GELU tables live in encoder_fast.c (vis__gelu_table), which this file calls and which calls
 * nothing here; the fp16 conversions are quant.h's. */
static float h2f(uint16_t h) { return quant_fp16_to_f32(h); }
static uint16_t f2h(float f) { return quant_f32_to_fp16(f); }

static void gelu_row(float *x, int64_t n, bool tanh_form) {
  const uint16_t *tab = vis__gelu_table(tanh_form);
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    if (tanh_form && v <= -10.0f)
      x[i] = 0.0f;
    else if (!(tanh_form && v >= 10.0f))
      x[i] = h2f(tab[f2h(v)]);
  }
}

/* ---- Row operations ------------------------------------------------------------------------- */

/* y = (x - mean) / sqrt(var + eps) * w + b, as ggml_norm then mul and add (sums in double). */
static void layernorm(float *y, const float *x, const float *w, const float *b, int n, float eps) {
  double sum = 0;
  for (int i = 0; i < n; i++) sum += (double)x[i];
  float mean = (float)(sum / n);
  double sum2 = 0;
  for (int i = 0; i < n; i++) {
    float v = x[i] - mean;
    y[i] = v;
    sum2 += (double)(v * v);
  }
  float var = (float)(sum2 / n);
  float scale = 1.0f / sqrtf(var + eps);
  for (int i = 0; i < n; i++) y[i] = y[i] * scale * w[i] + b[i];
}

static void add_bias(float *y, const float *b, int64_t T, int64_t n) {
  for (int64_t t = 0; t < T; t++)
    for (int64_t i = 0; i < n; i++) y[t * n + i] += b[i];
}

/* ---- Parallel row jobs ------------------------------------------------------------------------
 */
typedef enum { JOB_LN, JOB_SOFTMAX, JOB_GELU, JOB_GELU_FAST } job_kind;
typedef struct row_job {
  job_kind kind;
  float *y;
  const float *x, *w, *b;
  int n;
  float eps, scale;
  bool tanh_form, simd;
} row_job;

static void row_job_run(void *arg, int64_t begin, int64_t end) {
  const row_job *j = arg;
  for (int64_t r = begin; r < end; r++) {
    float *y = j->y + r * j->n;
    switch (j->kind) {
    case JOB_LN: layernorm(y, j->x + r * j->n, j->w, j->b, j->n, j->eps); break;
    case JOB_SOFTMAX: vis__softmax_scalar(y, j->n, j->scale); break;
    case JOB_GELU: gelu_row(y, j->n, j->tanh_form); break;
    case JOB_GELU_FAST: vis__gelu_fast(y, j->n, j->tanh_form, j->simd); break;
    }
  }
}

static void rows_run(compute_pool *pool, row_job *j, int64_t rows) {
  if (pool)
    compute_pool_for(pool, rows, 8, row_job_run, j);
  else
    row_job_run(j, 0, rows);
}

/* ---- Matrix products ------------------------------------------------------------------------- */

/* Scalar reference of qmat_mul: y (T, rows) = x (T, cols) . W^T, with the activations rounded
 * to W's companion type the way qmat_mul quantizes them (fp16, bf16, Q8_0 or Q8_K), the weight
 * dequantized, the dot in double. */
static int ref_mul(const qmat *w, const float *x, float *y, int64_t T) {
  int64_t n = w->cols;
  tensor_type at = TT_F32;
  if (w->type == TT_F16 || w->type == TT_BF16)
    at = w->type;
  else if (w->type != TT_F32)
    at = tensor_type_get(w->type).block == 256 ? TT_Q8_K : TT_Q8_0;
  float *wr = mem_alloc((size_t)n * sizeof *wr), *xr = mem_alloc((size_t)n * sizeof *xr);
  void *q = mem_alloc(tensor_row_bytes(at, n) + 64);
  int rc = 0;
  if (!wr || !xr || !q) {
    rc = err_set(MIMIC_ENOMEM, "out of memory in the scalar encoder");
    goto out;
  }
  for (int64_t t = 0; t < T; t++) {
    const float *xt = x + t * n;
    if (at == TT_F32) {
      memcpy(xr, xt, (size_t)n * sizeof *xr);
    } else if (at == TT_F16) {
      for (int64_t i = 0; i < n; i++) xr[i] = h2f(f2h(xt[i]));
    } else if (at == TT_Q8_0) {
      /* As qmat_mul quantizes activations for Q8_0 (ggml's AVX2 quantizer): blocks of 32, the
       * multiplier 127 / amax, halves to even, the scale stored as fp16. */
      for (int64_t b0 = 0; b0 < n; b0 += 32) {
        float amax = 0;
        for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(xt[b0 + j]));
        float id = amax != 0 ? 127.0f / amax : 0, d = h2f(f2h(amax / 127));
        for (int j = 0; j < 32; j++) {
          float qv = rintf(xt[b0 + j] * id);
          xr[b0 + j] = (qv < -127 ? -127 : qv > 127 ? 127 : qv) * d;
        }
      }
    } else {
      if ((rc = quant_row(at, xt, q, n))) goto out;
      quant_dequant_row(at, q, xr, n);
    }
    for (int64_t r = 0; r < w->rows; r++) {
      quant_dequant_row(w->type, (const char *)w->data + (size_t)r * w->row_bytes, wr, n);
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += (double)wr[i] * (double)xr[i];
      y[t * w->rows + r] = (float)s;
    }
  }
out:
  mem_free(wr);
  mem_free(xr);
  mem_free(q);
  return rc;
}

static int mul(vis_path path, compute_pool *pool, const qmat *w, const float *x, float *y,
               int64_t T) {
  if (path == VIS_PATH_SCALAR) return ref_mul(w, x, y, T);
  qmat_mul(pool, w, x, y, T);
  return 0;
}

static qmat fmat(const float *data, int64_t rows, int64_t cols) {
  return (qmat){.type = TT_F32,
                .rows = rows,
                .cols = cols,
                .data = data,
                .row_bytes = (size_t)cols * sizeof(float)};
}

/* ---- Profile (bench_vision --profile) ------------------------------------------------------- */
const char *const vis__prof_names[VIS_PROF_COUNT] = {
    "patch embedding", "layer norms", "q/k/v",    "attention",       "attention out",
    "ffn up",          "gelu",        "ffn down", "bias + residual", "shuffle + projector"};
static double *_Atomic prof;

void vis__profile(double *sec) { atomic_store(&prof, sec); }

/* The process's CPU time, all threads: the work done, whether or not the OS ran both threads (on a
 * busy machine wall clock mostly measures the others). */
static uint64_t cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Adds the CPU time since *t0 to phase ph and restarts *t0 (no-op without a table). */
static void lap(double *sec, vis_prof_phase ph, uint64_t *t0) {
  if (!sec) return;
  uint64_t t = cpu_ns();
  sec[ph] += (double)(t - *t0) / 1e9;
  *t0 = t;
}

/* ---- One tile -------------------------------------------------------------------------------- */

int vis_encode_tile(const vis_model *m, compute_pool *pool, vis_path path, const float *pixels,
                    float *out, vis_trace_fn trace, void *trace_user) {
  const vis_hparams *hp = &m->hp;
  if (path == VIS_PATH_SCALAR) pool = NULL;
  const int P = hp->n_patches, E = hp->n_embd, F = hp->n_ff, ps = hp->patch_size;
  const int S = hp->image_size, side = S / ps, nh = hp->n_head, hd = E / nh;
  const int K = 3 * ps * ps, sf = hp->scale_factor, R = hp->n_tile_rows, SE = E * sf * sf;
  size_t PE = (size_t)P * E;
  size_t widest = (size_t)K > (size_t)E ? (size_t)K : (size_t)E;
  if ((size_t)SE > widest) widest = (size_t)SE;
  /* Qh, Kh, Vt and the scores Sc are the scalar path's per-head copies (the fast attention packs
   * its own). */
  size_t ref = path == VIS_PATH_SCALAR;
  size_t sizes[] = {
      (size_t)P * widest,  PE,           PE, PE, PE, PE, PE * ref, PE * ref, PE * ref, PE,
      (size_t)P * P * ref, (size_t)P * F};
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    total += (sizes[i] + 15) & ~(size_t)15;
  float *block = mem_alloc(total * sizeof(float));
  if (!block)
    return err_set(MIMIC_ENOMEM, "out of memory for the vision encoder (%zu MiB)",
                   total * sizeof(float) >> 20);
  float *X, *H, *B, *Q, *Kx, *V, *Qh, *Kh, *Vt, *A, *Sc, *U;
  float **ptrs[] = {&X, &H, &B, &Q, &Kx, &V, &Qh, &Kh, &Vt, &A, &Sc, &U};
  float *cur = block;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    *ptrs[i] = cur;
    cur += (sizes[i] + 15) & ~(size_t)15;
  }
  int rc = 0;
  double *ps_ = atomic_load(&prof);
  uint64_t t0 = ps_ ? cpu_ns() : 0;

  /* Patch embedding: im2col (patch n = side * py + px, values in [c][ky][kx] order) times the
   * F16 kernel; qmat_mul rounds the pixels to fp16 as ggml's F16 im2col does. */
  for (int py = 0; py < side; py++)
    for (int px = 0; px < side; px++) {
      float *row = X + (size_t)(py * side + px) * K;
      for (int c = 0; c < 3; c++)
        for (int ky = 0; ky < ps; ky++)
          memcpy(row + (c * ps + ky) * ps, pixels + ((size_t)c * S + py * ps + ky) * S + px * ps,
                 (size_t)ps * sizeof *row);
    }
  if ((rc = mul(path, pool, &m->patch, X, H, P))) goto out;
  add_bias(H, m->patch_b, P, E);
  lap(ps_, VIS_PROF_PATCH, &t0);
  if (trace) trace(trace_user, "patch_bias", H, P, E);
  for (size_t i = 0; i < PE; i++) H[i] += m->pos[i];
  if (trace) trace(trace_user, "pos_embed", H, P, E);
  lap(ps_, VIS_PROF_ADD, &t0);

  const float scale = 1.0f / sqrtf((float)hd);
  const bool simd = path == VIS_PATH_FAST && vis__fast_simd();
  for (int il = 0; il < hp->n_layer; il++) {
    const vis_layer *L = &m->layers[il];
    row_job ln = {
        .kind = JOB_LN, .y = B, .x = H, .w = L->ln1_w, .b = L->ln1_b, .n = E, .eps = hp->eps};
    rows_run(pool, &ln, P);
    lap(ps_, VIS_PROF_NORM, &t0);
    if (path == VIS_PATH_FAST) {
      const qmat *ws[3] = {&L->q, &L->k, &L->v};
      float *ys[3] = {Q, Kx, V};
      qmat_mul_multi(pool, 3, ws, B, ys, P);
    } else if ((rc = ref_mul(&L->q, B, Q, P)) || (rc = ref_mul(&L->k, B, Kx, P)) ||
               (rc = ref_mul(&L->v, B, V, P))) {
      goto out;
    }
    lap(ps_, VIS_PROF_QKV, &t0);
    add_bias(Q, L->q_b, P, E);
    add_bias(Kx, L->k_b, P, E);
    add_bias(V, L->v_b, P, E);
    lap(ps_, VIS_PROF_ADD, &t0);
    if (path == VIS_PATH_FAST) {
      if ((rc = vis__attention_fast(pool, Q, Kx, V, A, P, E, nh, scale, simd))) goto out;
    } else {
      /* Per head: Qh, Kh (P, hd) and Vt (hd, P), contiguous. */
      for (int h = 0; h < nh; h++)
        for (int t = 0; t < P; t++)
          for (int d = 0; d < hd; d++) {
            size_t src = (size_t)t * E + (size_t)h * hd + d;
            Qh[((size_t)h * P + t) * hd + d] = Q[src];
            Kh[((size_t)h * P + t) * hd + d] = Kx[src];
            Vt[((size_t)h * hd + d) * P + t] = V[src];
          }
      for (int h = 0; h < nh; h++) {
        qmat kq = fmat(Kh + (size_t)h * P * hd, P, hd);
        if ((rc = ref_mul(&kq, Qh + (size_t)h * P * hd, Sc, P))) goto out;
        row_job sm = {.kind = JOB_SOFTMAX, .y = Sc, .n = P, .scale = scale};
        rows_run(NULL, &sm, P);
        qmat vq = fmat(Vt + (size_t)h * hd * P, hd, P);
        /* The head's output (P, hd) goes to Q, free by now, then into A's columns. */
        if ((rc = ref_mul(&vq, Sc, Q, P))) goto out;
        for (int t = 0; t < P; t++)
          memcpy(A + (size_t)t * E + (size_t)h * hd, Q + (size_t)t * hd, (size_t)hd * sizeof *A);
      }
    }
    lap(ps_, VIS_PROF_ATTN, &t0);
    if ((rc = mul(path, pool, &L->o, A, B, P))) goto out;
    lap(ps_, VIS_PROF_OUT, &t0);
    add_bias(B, L->o_b, P, E);
    for (size_t i = 0; i < PE; i++) H[i] += B[i];
    lap(ps_, VIS_PROF_ADD, &t0);

    ln = (row_job){
        .kind = JOB_LN, .y = B, .x = H, .w = L->ln2_w, .b = L->ln2_b, .n = E, .eps = hp->eps};
    rows_run(pool, &ln, P);
    lap(ps_, VIS_PROF_NORM, &t0);
    if ((rc = mul(path, pool, &L->up, B, U, P))) goto out;
    lap(ps_, VIS_PROF_UP, &t0);
    add_bias(U, L->up_b, P, F);
    lap(ps_, VIS_PROF_ADD, &t0);
    row_job g = {.kind = path == VIS_PATH_FAST ? JOB_GELU_FAST : JOB_GELU,
                 .y = U,
                 .n = F,
                 .tanh_form = hp->gelu_tanh,
                 .simd = simd};
    rows_run(pool, &g, P);
    lap(ps_, VIS_PROF_GELU, &t0);
    if ((rc = mul(path, pool, &L->down, U, B, P))) goto out;
    lap(ps_, VIS_PROF_DOWN, &t0);
    add_bias(B, L->down_b, P, E);
    for (size_t i = 0; i < PE; i++) H[i] += B[i];
    lap(ps_, VIS_PROF_ADD, &t0);
    if (trace) {
      char name[32];
      snprintf(name, sizeof name, "layer_out-%d", il);
      trace(trace_user, name, H, P, E);
    }
  }
  row_job ln = {
      .kind = JOB_LN, .y = B, .x = H, .w = m->post_w, .b = m->post_b, .n = E, .eps = hp->eps};
  rows_run(pool, &ln, P);
  if (trace) trace(trace_user, "norm_b", B, P, E);
  lap(ps_, VIS_PROF_NORM, &t0);

  /* Pixel shuffle as Hugging Face's Idefics3: token t = x2 + (side/sf) * y2 gathers the sf x sf
   * patches (sf x2 + dx, sf y2 + dy), dx fastest. */
  int side2 = side / sf;
  for (int y2 = 0; y2 < side2; y2++)
    for (int x2 = 0; x2 < side2; x2++) {
      float *row = X + (size_t)(y2 * side2 + x2) * SE;
      for (int dy = 0; dy < sf; dy++)
        for (int dx = 0; dx < sf; dx++) {
          int patch = (sf * y2 + dy) * side + sf * x2 + dx;
          memcpy(row + (size_t)(dy * sf + dx) * E, B + (size_t)patch * E, (size_t)E * sizeof *row);
        }
    }
  if (trace) trace(trace_user, "pixel_shuffle", X, R, SE);
  rc = mul(path, pool, &m->fc, X, out, R);
  lap(ps_, VIS_PROF_PROJ, &t0);
out:
  mem_free(block);
  return rc;
}

int vis_embed(const vis_model *m, compute_pool *pool, const vis_image *img, float **embd,
              int *n_rows, vis_tiles *tiles) {
  return vis__embed(m, pool, img, true, NULL, embd, n_rows, tiles);
}

int vis__embed(const vis_model *m, compute_pool *pool, const vis_image *img, bool slices,
               const atomic_bool *cancel, float **embd, int *n_rows, vis_tiles *tiles) {
  *embd = NULL;
  *n_rows = 0;
  vis_tiles t;
  int rc = vis__preprocess(m, img, slices, &t);
  if (rc) return rc;
  const vis_hparams *hp = &m->hp;
  size_t tile_floats = (size_t)3 * t.size * t.size, rows = (size_t)t.n_tiles * hp->n_tile_rows;
  float *e = mem_alloc(rows * (size_t)hp->proj_dim * sizeof *e);
  if (!e) {
    rc = err_set(MIMIC_ENOMEM, "out of memory for %zu image rows", rows);
    goto out;
  }
  for (int i = 0; i < t.n_tiles && !rc; i++) {
    if (cancel && atomic_load(cancel)) {
      rc = err_set(MIMIC_ECANCELLED, "the image description was cancelled");
      break;
    }
    rc = vis_encode_tile(m, pool, VIS_PATH_FAST, t.pixels + (size_t)i * tile_floats,
                         e + (size_t)i * hp->n_tile_rows * hp->proj_dim, NULL, NULL);
  }
  if (rc) goto out;
  *embd = e;
  e = NULL;
  *n_rows = (int)rows;
out:
  mem_free(e);
  if (tiles && !rc) {
    *tiles = t;
  } else {
    vis_tiles_free(&t);
  }
  return rc;
}
