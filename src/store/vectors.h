/* Vectors in the store: embeddings kept in SQLite next to what they index (a lore chunk or a
 * community message), as int8 with one float scale per row, and exact search over them.
 *
 * Storage: table `vectors` (kind, ref_id, scope, model, dim, scale, data). Rows are deleted by
 * triggers in the same transaction as the text they index (docs/internals/store.md), so a purge
 * or an opt-out never leaves a vector behind.
 *
 * Search: a store_vec_index caches one kind's rows of one model as a contiguous int8 matrix in
 * memory (loaded once, then kept in step incrementally: new rows by id, deleted rows from the
 * tombstone log `vector_log`), filters rows by scope BEFORE ranking, and ranks them by the dot
 * product with the query (the cosine, when both sides are normalised) with an AVX2 kernel chosen at
 * run time and a scalar reference. Rows are kept grouped by scope, so a filtered search reads only
 * its scopes' rows. Exact: a 4-bit prefilter with a proven error bound (see the kernels below)
 * only skips rows that cannot be in the result, and the rest are scored by the float kernel.
 *
 * Threads: an index belongs to the thread that owns its store connection. */
#ifndef MIMIC_STORE_VECTORS_H
#define MIMIC_STORE_VECTORS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_VEC_DIM_MAX   4096   /* widest vector stored */
#define STORE_VEC_SCOPE_MAX 128    /* bytes of a scope name (NUL included) */
#define STORE_VEC_MODEL_MAX 256    /* bytes of a model name (NUL included) */
#define STORE_VEC_LOG_KEEP  100000 /* tombstones kept; an index further behind reloads */

typedef enum store_vec_kind {
  STORE_VEC_LORE = 1, /* ref_id: lore_chunks.id */
  STORE_VEC_MSG = 2   /* ref_id: messages.id */
} store_vec_kind;

/* Quantizes v[0..dim) to int8 with scale max|v|/127 (q[i] = round(v[i]/scale)); all-zero rows get
 * scale 0. */
void store_vec_quantize(const float *v, int dim, int8_t *q, float *scale);

/* Stores (or replaces) the vector of (kind, ref_id), quantized to int8. scope is the filter key
 * ("" for none; lore scopes by name, messages "guild:ID"), model the encoder's name. Atomic.
 * Errors: MIMIC_EINVAL (dim out of 1..STORE_VEC_DIM_MAX, scope or model too long, a NaN or
 * infinite value), MIMIC_EDB. */
int store_vec_put(store *s, int kind, int64_t ref_id, const char *scope, const char *model,
                  const float *v, int dim) MIMIC_MUST;
/* Deletes the vector of (kind, ref_id); none is not an error. */
int store_vec_delete(store *s, int kind, int64_t ref_id) MIMIC_MUST;
/* Deletes every vector of a kind not made by model (after a change of encoder). *n: rows gone. */
int store_vec_drop_other_models(store *s, int kind, const char *model, int64_t *n) MIMIC_MUST;
/* The stored vector of (kind, ref_id), dequantized into out[dim]. MIMIC_ENOTFOUND when absent,
 * MIMIC_EINVAL when its width is not dim. */
int store_vec_get(store *s, int kind, int64_t ref_id, float *out, int dim) MIMIC_MUST;
/* Rows of a kind (model NULL: of every model). */
int store_vec_count(store *s, int kind, const char *model, int64_t *n) MIMIC_MUST;
/* Trims the tombstone log to its last STORE_VEC_LOG_KEEP entries. */
int store_vec_log_trim(store *s) MIMIC_MUST;

/* ---- the cached matrix and exact search ---- */

typedef struct store_vec_index store_vec_index;

typedef struct store_vec_hit {
  int64_t ref_id;
  float score; /* scale * dot(query, row): the cosine for normalised vectors */
  char scope[STORE_VEC_SCOPE_MAX];
} store_vec_hit;

/* An index of the rows of one kind made by one model, of width dim. The store is borrowed and
 * must outlive the index. Loads nothing yet (the first sync or search does). */
int store_vec_index_open(store *s, int kind, const char *model, int dim,
                         store_vec_index **out) MIMIC_MUST;
void store_vec_index_close(store_vec_index *ix); /* accepts NULL */
/* Brings the cache in step with the database: applies tombstones newer than the last sync and
 * loads rows newer than the last one seen (a full reload when the tombstone log was trimmed past
 * it). Skipped inside a transaction of this connection (its rows might still roll back).
 * *changed (may be NULL): whether anything moved. */
int store_vec_index_sync(store_vec_index *ix, bool *changed) MIMIC_MUST;
/* Rows in the cache, and the bytes the cache holds. */
size_t store_vec_index_rows(const store_vec_index *ix);
size_t store_vec_index_bytes(const store_vec_index *ix);
/* Rows the last search scored with the float kernel (every eligible row when exhaustive; with the
 * prefilter, the few whose bound could reach the result). */
size_t store_vec_index_last_scored(const store_vec_index *ix);

typedef struct store_vec_query {
  const float *q;            /* dim floats (normalised for cosine scores) */
  const char *const *scopes; /* rows whose scope is one of these; NULL or n_scopes 0: every row */
  size_t n_scopes;
  float min_score; /* rows scoring below are left out (-INFINITY: none) */
  size_t k;        /* most hits */
  bool exhaustive; /* score every eligible row with the float kernel, no prefilter (the
                    * reference the tests hold the prefilter to; same results, slower) */
} store_vec_query;

/* Syncs, then scores every row whose scope passes the filter and writes the best k, best first
 * (ties: lower ref_id first), to out[k]; *n_out hits. Errors: MIMIC_EINVAL (k 0), sync errors. */
int store_vec_search(store_vec_index *ix, const store_vec_query *q, store_vec_hit *out,
                     size_t *n_out) MIMIC_MUST;

/* ---- the kernels, for tests ----
 *
 * The cache keeps each int8 row r as two bit planes of 4 bits: u = floor(r / 16) + 8 (the high
 * plane) and l = r - 16 floor(r / 16) (the low plane), so r = 16 (u - 8) + l, each plane half a
 * row. Search scores every eligible row in two steps. The prefilter quantizes the query to int8
 * (store_vec_query_prep) and takes the exact integer dot of q8 with the high plane only (half the
 * bytes of the row); store_vec_slack bounds, for that row, how far the estimate
 * scale * step * (16 (q8 . u) - 120.5 sum q8) can be from the float kernel's score, so a row whose
 * upper bound cannot reach the k-th best lower bound (nor the minimum score) is dropped without
 * reading its low plane. The rows left are rebuilt from both planes and scored by the float
 * kernel, best upper bound first, until the next upper bound is below the k-th best score: the
 * result is exactly what scoring every row with the float kernel gives. */

/* scale * sum q[i] * (float)r[i] over dim elements. The scalar one is the reference;
 * store_vec_dot is the fastest this CPU runs. */
float store_vec_dot_scalar(const float *q, const int8_t *r, int dim);
float store_vec_dot(const float *q, const int8_t *r, int dim);
/* Whether the kernels use AVX2 here. */
bool store_vec_simd(void);

/* Bytes of one plane of a row of width dim: 32 per 64 elements (element i in block i / 64, byte
 * i % 32, the low nibble for i % 64 < 32, else the high one); padding is u = 8, l = 0. */
size_t store_vec_plane_bytes(int dim);
/* Splits a row (values in [-127, 127]) into its planes, and back. */
void store_vec_planes(const int8_t *r, int dim, uint8_t *hi, uint8_t *lo);
void store_vec_unplanes_scalar(const uint8_t *hi, const uint8_t *lo, int dim, int8_t *r);
void store_vec_unplanes(const uint8_t *hi, const uint8_t *lo, int dim, int8_t *r);
/* sum q8[i] * u[i], exact. q8 holds 2 * store_vec_plane_bytes(dim) values, zero past dim. */
int32_t store_vec_cdot_scalar(const int8_t *q8, const uint8_t *hi, int dim);
int32_t store_vec_cdot(const int8_t *q8, const uint8_t *hi, int dim);
/* store_vec_cdot of q8 with n rows' high planes, store_vec_plane_bytes(dim) apart, into out[n]. */
void store_vec_cdot_rows(const int8_t *q8, const uint8_t *hi, size_t n, int dim, int32_t *out);

/* A quantized query's terms (e = q - step * q8). */
typedef struct store_vec_qerr {
  double step;   /* the query's int8 step (max|q| / 127) */
  int64_t sum;   /* sum q8 */
  double emax;   /* max |e_i| */
  double e2;     /* |e|_2 */
  double n1, n2; /* |q|_1 and |q|_2 */
  double round;  /* max|q| * the float kernel's relative rounding bound */
} store_vec_qerr;

/* A row's terms, in int8 units, with m = 16 h + 7.5 (the middle of the row's coarse cell) and
 * c = l - 7.5 (so r = m + c, |c_i| <= 7.5); the float ones rounded up. */
typedef struct store_vec_rowb {
  int32_t l1; /* sum |r_i| */
  float m1;   /* |m|_1 */
  float m2;   /* |m|_2 */
  float c2;   /* |c|_2 */
} store_vec_rowb;

/* Quantizes the query q[dim] into q8 (2 * store_vec_plane_bytes(dim) values, zero past dim; as
 * store_vec_quantize) and measures its terms. */
void store_vec_query_prep(const float *q, int dim, int8_t *q8, store_vec_qerr *e);
void store_vec_row_terms(const int8_t *r, int dim, store_vec_rowb *t);

/* The coarse estimate of scale * q . r from dot = store_vec_cdot(q8, hi). */
static inline double store_vec_estimate(const store_vec_qerr *e, float scale, int32_t dot) {
  return (double)scale * e->step * (16.0 * dot - 120.5 * (double)e->sum);
}

/* A bound on |F - store_vec_estimate|, where F is scale * store_vec_dot(q, r) (or the scalar
 * kernel's) as computed in float. q . r = step (q8 . m) + e . m + q . c, and
 * |e . m| <= min(max|e| |m|_1, |e|_2 |m|_2), |q . c| <= min(7.5 |q|_1, |q|_2 |c|_2) (Hoelder and
 * Cauchy-Schwarz); plus the float kernel's rounding, and one part in 1e9 for this double
 * arithmetic's. */
static inline double store_vec_slack(const store_vec_qerr *e, float scale,
                                     const store_vec_rowb *t) {
  double a = e->emax * t->m1, b = e->e2 * t->m2, c = 7.5 * e->n1, d = e->n2 * t->c2;
  double s = scale < 0 ? -(double)scale : (double)scale;
  return ((a < b ? a : b) + (c < d ? c : d) + e->round * t->l1) * s * (1 + 1e-9);
}

#endif
