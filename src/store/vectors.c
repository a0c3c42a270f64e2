/* Vectors (see vectors.h): int8 rows with a per-row scale in table `vectors`, and the cached
 * matrix that exact search scans. Not here: what is embedded or when (lore/), the encoder
 * (embed/). */
#include "store/vectors.h"

#include <math.h>
#include <pthread.h>
#include <string.h>

#include "base/base.h"
#include "base/map.h"
#include "store/store_int.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define VEC_X86 1
#endif

#define SEARCH_K_MAX 10000

void store_vec_quantize(const float *v, int dim, int8_t *q, float *scale) {
  float mx = 0;
  for (int i = 0; i < dim; i++) mx = fmaxf(mx, fabsf(v[i]));
  if (mx == 0) {
    memset(q, 0, (size_t)dim);
    *scale = 0;
    return;
  }
  float s = mx / 127.0f, inv = 127.0f / mx;
  for (int i = 0; i < dim; i++) {
    float x = roundf(v[i] * inv);
    q[i] = (int8_t)(x > 127 ? 127 : x < -127 ? -127 : x);
  }
  *scale = s;
}

static int check_names(const char *scope, const char *model) {
  if (strlen(scope) >= STORE_VEC_SCOPE_MAX)
    return err_set(MIMIC_EINVAL, "vector scope \"%.40s...\" is longer than %d bytes", scope,
                   STORE_VEC_SCOPE_MAX - 1);
  if (strlen(model) >= STORE_VEC_MODEL_MAX)
    return err_set(MIMIC_EINVAL, "encoder name is longer than %d bytes", STORE_VEC_MODEL_MAX - 1);
  return 0;
}

int store_vec_put(store *s, int kind, int64_t ref_id, const char *scope, const char *model,
                  const float *v, int dim) {
  if (!scope) scope = "";
  if (!model) model = "";
  if (dim < 1 || dim > STORE_VEC_DIM_MAX)
    return err_set(MIMIC_EINVAL, "a vector of width %d (1..%d)", dim, STORE_VEC_DIM_MAX);
  int rc = check_names(scope, model);
  if (rc) return rc;
  for (int i = 0; i < dim; i++)
    if (!isfinite(v[i]))
      return err_set(MIMIC_EINVAL, "vector of %s %lld holds a NaN or infinite value",
                     kind == STORE_VEC_MSG ? "message" : "chunk", (long long)ref_id);
  int8_t q[STORE_VEC_DIM_MAX];
  float scale;
  store_vec_quantize(v, dim, q, &scale);
  if ((rc = store_tx_begin(s))) return rc;
  /* Delete then insert (not REPLACE): the delete leaves the tombstone caches need, and the new row
   * gets a new, higher id that caches load. */
  sqlite3_stmt *st;
  if ((rc = store_stmt(s, "DELETE FROM vectors WHERE kind = ?1 AND ref_id = ?2", &st))) goto out;
  sqlite3_bind_int(st, 1, kind);
  sqlite3_bind_int64(st, 2, ref_id);
  if ((rc = store__step_done(s, st, "replacing a vector"))) goto out;
  if ((rc = store_stmt(s,
                       "INSERT INTO vectors(kind, ref_id, scope, model, dim, scale, data) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                       &st)))
    goto out;
  sqlite3_bind_int(st, 1, kind);
  sqlite3_bind_int64(st, 2, ref_id);
  store__bind_text(st, 3, scope);
  store__bind_text(st, 4, model);
  sqlite3_bind_int(st, 5, dim);
  sqlite3_bind_double(st, 6, scale);
  sqlite3_bind_blob(st, 7, q, dim, SQLITE_STATIC);
  rc = store__step_done(s, st, "storing a vector");
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_vec_delete(store *s, int kind, int64_t ref_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM vectors WHERE kind = ?1 AND ref_id = ?2", &st)) return MIMIC_EDB;
  sqlite3_bind_int(st, 1, kind);
  sqlite3_bind_int64(st, 2, ref_id);
  return store__step_done(s, st, "deleting a vector");
}

int store_vec_drop_other_models(store *s, int kind, const char *model, int64_t *n) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM vectors WHERE kind = ?1 AND model <> ?2", &st)) return MIMIC_EDB;
  sqlite3_bind_int(st, 1, kind);
  store__bind_text(st, 2, model);
  int rc = store__step_done(s, st, "dropping another encoder's vectors");
  if (!rc && n) *n = sqlite3_changes(s->db);
  return rc;
}

int store_vec_get(store *s, int kind, int64_t ref_id, float *out, int dim) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT dim, scale, data FROM vectors WHERE kind = ?1 AND ref_id = ?2", &st))
    return MIMIC_EDB;
  sqlite3_bind_int(st, 1, kind);
  sqlite3_bind_int64(st, 2, ref_id);
  int step = sqlite3_step(st), rc = 0;
  if (step == SQLITE_ROW) {
    int d = sqlite3_column_int(st, 0);
    float scale = (float)sqlite3_column_double(st, 1);
    const int8_t *q = sqlite3_column_blob(st, 2);
    if (d != dim || sqlite3_column_bytes(st, 2) != d)
      rc = err_set(MIMIC_EINVAL, "the stored vector is %d wide, not %d", d, dim);
    else
      for (int i = 0; i < d; i++) out[i] = scale * (float)q[i];
  } else if (step == SQLITE_DONE) {
    rc = err_set(MIMIC_ENOTFOUND, "no vector for %lld", (long long)ref_id);
  } else {
    rc = store_err(s, "reading a vector");
  }
  sqlite3_reset(st);
  return rc;
}

int store_vec_count(store *s, int kind, const char *model, int64_t *n) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM vectors WHERE kind = ?1 AND (?2 IS NULL OR model = ?2)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int(st, 1, kind);
  if (model) sqlite3_bind_text(st, 2, model, -1, SQLITE_STATIC);
  int step = sqlite3_step(st);
  *n = step == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return step == SQLITE_ROW ? 0 : store_err(s, "counting vectors");
}

int store_vec_log_trim(store *s) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM vector_log WHERE seq < (SELECT max(seq) FROM vector_log) - ?1",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, STORE_VEC_LOG_KEEP);
  return store__step_done(s, st, "trimming the vector log");
}

/* Rows from which a search is split over two threads (below, a thread costs more than it saves). */
#define SEARCH_SPLIT_ROWS 32768

/* ---- kernels ---- */

float store_vec_dot_scalar(const float *q, const int8_t *r, int dim) {
  /* Eight partial sums (the AVX2 kernel keeps 32, summed in another order: both are checked
   * against a float64 reference). */
  float acc[8] = {0};
  int i = 0;
  for (; i + 8 <= dim; i += 8)
    for (int l = 0; l < 8; l++) acc[l] += q[i + l] * (float)r[i + l];
  float sum = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  for (; i < dim; i++) sum += q[i] * (float)r[i];
  return sum;
}

#ifdef VEC_X86
/* q (dim floats) . r (dim int8): int8 widened to int32 then float, FMA into four 8-lane
 * accumulators (32 elements per step, so the FMA latency is hidden). */
__attribute__((target("avx2,fma"))) static float dot_avx2(const float *q, const int8_t *r,
                                                          int dim) {
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps(), acc2 = _mm256_setzero_ps(),
         acc3 = _mm256_setzero_ps();
  int i = 0;
  for (; i + 32 <= dim; i += 32) {
    __m128i b0 = _mm_loadu_si128((const __m128i *)(r + i));
    __m128i b1 = _mm_loadu_si128((const __m128i *)(r + i + 16));
    acc0 =
        _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b0)), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 8),
                           _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b0, 8))), acc1);
    acc2 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 16),
                           _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b1)), acc2);
    acc3 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i + 24),
                           _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b1, 8))), acc3);
  }
  __m256 acc = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
  for (; i + 8 <= dim; i += 8) {
    __m128i b = _mm_loadl_epi64((const __m128i *)(r + i));
    acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b)), acc);
  }
  __m128 lo = _mm256_castps256_ps128(acc), hi = _mm256_extractf128_ps(acc, 1);
  __m128 s4 = _mm_add_ps(lo, hi);
  __m128 s2 = _mm_add_ps(s4, _mm_movehl_ps(s4, s4));
  __m128 s1 = _mm_add_ss(s2, _mm_shuffle_ps(s2, s2, 1));
  float sum = _mm_cvtss_f32(s1);
  for (; i < dim; i++) sum += q[i] * (float)r[i];
  return sum;
}
#endif

bool store_vec_simd(void) {
#ifdef VEC_X86
  static int have = -1;
  if (have < 0) {
    __builtin_cpu_init();
    have = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }
  return have;
#else
  return false;
#endif
}

float store_vec_dot(const float *q, const int8_t *r, int dim) {
#ifdef VEC_X86
  if (store_vec_simd()) return dot_avx2(q, r, dim);
#endif
  return store_vec_dot_scalar(q, r, dim);
}

/* ---- the cached matrix ---- */

struct store_vec_index {
  store *s;
  int kind, dim;
  char model[STORE_VEC_MODEL_MAX];
  bool loaded;
  int8_t *data; /* rows x dim */
  float *scale;
  int64_t *ref, *vid;
  uint32_t *scope; /* index into names */
  size_t n, cap;
  map_u64 pos; /* vectors.id -> row + 1 */
  char **names;
  size_t n_names;
  int64_t last_id, last_seq;
};

int store_vec_index_open(store *s, int kind, const char *model, int dim, store_vec_index **out) {
  *out = NULL;
  if (dim < 1 || dim > STORE_VEC_DIM_MAX)
    return err_set(MIMIC_EINVAL, "a vector index of width %d (1..%d)", dim, STORE_VEC_DIM_MAX);
  if (!model) model = "";
  int rc = check_names("", model);
  if (rc) return rc;
  store_vec_index *ix = xcalloc(1, sizeof *ix);
  ix->s = s;
  ix->kind = kind;
  ix->dim = dim;
  str_lcpy(ix->model, model, sizeof ix->model);
  map_init(&ix->pos);
  *out = ix;
  return 0;
}

static void clear(store_vec_index *ix) {
  ix->n = 0;
  map_clear(&ix->pos);
  ix->last_id = ix->last_seq = 0;
  ix->loaded = false;
}

void store_vec_index_close(store_vec_index *ix) {
  if (!ix) return;
  mem_free(ix->data);
  mem_free(ix->scale);
  mem_free(ix->ref);
  mem_free(ix->vid);
  mem_free(ix->scope);
  for (size_t i = 0; i < ix->n_names; i++) mem_free(ix->names[i]);
  mem_free(ix->names);
  map_free(&ix->pos);
  mem_free(ix);
}

size_t store_vec_index_rows(const store_vec_index *ix) { return ix->n; }

size_t store_vec_index_bytes(const store_vec_index *ix) {
  return ix->cap * ((size_t)ix->dim + sizeof(float) + 2 * sizeof(int64_t) + sizeof(uint32_t)) +
         ix->pos.cap * (sizeof(uint64_t) + sizeof(void *));
}

static uint32_t intern(store_vec_index *ix, const char *name) {
  for (size_t i = 0; i < ix->n_names; i++)
    if (strcmp(ix->names[i], name) == 0) return (uint32_t)i;
  ix->names = xrealloc(ix->names, (ix->n_names + 1) * sizeof *ix->names);
  ix->names[ix->n_names] = xstrdup(name);
  return (uint32_t)ix->n_names++;
}

static void grow(store_vec_index *ix) {
  size_t cap = ix->cap ? ix->cap * 2 : 1024;
  ix->data = xrealloc(ix->data, cap * (size_t)ix->dim);
  ix->scale = xrealloc(ix->scale, cap * sizeof *ix->scale);
  ix->ref = xrealloc(ix->ref, cap * sizeof *ix->ref);
  ix->vid = xrealloc(ix->vid, cap * sizeof *ix->vid);
  ix->scope = xrealloc(ix->scope, cap * sizeof *ix->scope);
  ix->cap = cap;
}

/* Removes the row of vectors.id vid, when cached: the last row moves into its place. */
static void drop_row(store_vec_index *ix, int64_t vid) {
  uintptr_t p = map_get_uint(&ix->pos, (uint64_t)vid);
  if (!p) return;
  map_del(&ix->pos, (uint64_t)vid);
  size_t i = p - 1, last = ix->n - 1;
  if (i != last) {
    memcpy(ix->data + i * (size_t)ix->dim, ix->data + last * (size_t)ix->dim, (size_t)ix->dim);
    ix->scale[i] = ix->scale[last];
    ix->ref[i] = ix->ref[last];
    ix->vid[i] = ix->vid[last];
    ix->scope[i] = ix->scope[last];
    map_put_uint(&ix->pos, (uint64_t)ix->vid[i], i + 1);
  }
  ix->n--;
}

static int log_bounds(store_vec_index *ix, int64_t *lo, int64_t *hi) {
  sqlite3_stmt *st;
  /* Two subqueries, so each is one b-tree probe (min and max together scan the whole log, which
   * holds up to STORE_VEC_LOG_KEEP tombstones, before every search). */
  if (store_stmt(ix->s,
                 "SELECT (SELECT ifnull(min(seq), 0) FROM vector_log), "
                 "(SELECT ifnull(max(seq), 0) FROM vector_log)",
                 &st))
    return MIMIC_EDB;
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) {
    *lo = sqlite3_column_int64(st, 0);
    *hi = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  return step == SQLITE_ROW ? 0 : store_err(ix->s, "reading the vector log");
}

int store_vec_index_sync(store_vec_index *ix, bool *changed) {
  if (changed) *changed = false;
  if (store_tx_depth(ix->s) > 0 && ix->loaded) return 0;
  int64_t lo = 0, hi = 0;
  int rc = log_bounds(ix, &lo, &hi);
  if (rc) return rc;
  if (ix->loaded && lo > ix->last_seq + 1) {
    /* Tombstones we never saw were trimmed: start again. */
    clear(ix);
    if (changed) *changed = true;
  }
  sqlite3_stmt *st;
  if (!ix->loaded) {
    ix->last_seq = hi; /* what was deleted before the load is simply not loaded */
    ix->loaded = true;
  } else if (hi > ix->last_seq) {
    if ((rc = store_stmt(ix->s,
                         "SELECT seq, vec_id FROM vector_log WHERE seq > ?1 AND kind = ?2 "
                         "ORDER BY seq",
                         &st)))
      return rc;
    sqlite3_bind_int64(st, 1, ix->last_seq);
    sqlite3_bind_int(st, 2, ix->kind);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
      drop_row(ix, sqlite3_column_int64(st, 1));
      if (changed) *changed = true;
    }
    sqlite3_reset(st);
    if (step != SQLITE_DONE) return store_err(ix->s, "reading the vector log");
    ix->last_seq = hi;
  }
  if ((rc = store_stmt(ix->s,
                       "SELECT id, ref_id, scope, dim, scale, data FROM vectors "
                       "WHERE kind = ?1 AND model = ?2 AND id > ?3 ORDER BY id",
                       &st)))
    return rc;
  sqlite3_bind_int(st, 1, ix->kind);
  sqlite3_bind_text(st, 2, ix->model, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 3, ix->last_id);
  int step;
  size_t dim = (size_t)ix->dim;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    ix->last_id = id;
    if (sqlite3_column_int(st, 3) != ix->dim || (size_t)sqlite3_column_bytes(st, 5) != dim)
      continue; /* another width under the same name: not comparable, never ranked */
    if (ix->n == ix->cap) grow(ix);
    size_t i = ix->n++;
    memcpy(ix->data + i * dim, sqlite3_column_blob(st, 5), dim);
    ix->scale[i] = (float)sqlite3_column_double(st, 4);
    ix->ref[i] = sqlite3_column_int64(st, 1);
    ix->vid[i] = id;
    ix->scope[i] = intern(ix, store__col_text(st, 2));
    map_put_uint(&ix->pos, (uint64_t)id, i + 1);
    if (changed) *changed = true;
  }
  sqlite3_reset(st);
  return step == SQLITE_DONE ? 0 : store_err(ix->s, "loading vectors");
}

/* Whether hit a ranks before hit b. */
static bool better(float sa, int64_t ra, float sb, int64_t rb) {
  return sa > sb || (sa == sb && ra < rb);
}

/* One part of a scan: rows [from, to) into a best-k list of its own. */
typedef struct scan_part {
  const store_vec_index *ix;
  const store_vec_query *q;
  const uint8_t *allow; /* NULL: every scope */
  size_t k, from, to, n;
  float *score;
  size_t *row;
} scan_part;

static void scan_rows(scan_part *p) {
  const store_vec_index *ix = p->ix;
  size_t dim = (size_t)ix->dim, n = 0, k = p->k;
  for (size_t i = p->from; i < p->to; i++) {
    if (p->allow && !p->allow[ix->scope[i]]) continue;
    float sc = ix->scale[i] * store_vec_dot(p->q->q, ix->data + i * dim, ix->dim);
    if (sc < p->q->min_score) continue;
    if (n == k && !better(sc, ix->ref[i], p->score[n - 1], ix->ref[p->row[n - 1]])) continue;
    /* Insertion into the sorted best-k list (k is small). */
    size_t at = n < k ? n++ : k - 1;
    while (at > 0 && better(sc, ix->ref[i], p->score[at - 1], ix->ref[p->row[at - 1]])) {
      p->score[at] = p->score[at - 1];
      p->row[at] = p->row[at - 1];
      at--;
    }
    p->score[at] = sc;
    p->row[at] = i;
  }
  p->n = n;
}

static void *scan_thread(void *arg) {
  scan_rows(arg);
  return NULL;
}

int store_vec_search(store_vec_index *ix, const store_vec_query *q, store_vec_hit *out,
                     size_t *n_out) {
  *n_out = 0;
  if (q->k == 0) return err_set(MIMIC_EINVAL, "a vector search for 0 results");
  int rc = store_vec_index_sync(ix, NULL);
  if (rc) return rc;
  size_t k = q->k > SEARCH_K_MAX ? SEARCH_K_MAX : q->k;
  /* The scope filter, as one byte per interned scope, applied before any scoring. */
  bool all = !q->scopes || q->n_scopes == 0;
  uint8_t *allow = NULL;
  if (!all) {
    allow = xcalloc(ix->n_names ? ix->n_names : 1, 1);
    bool any = false;
    for (size_t j = 0; j < q->n_scopes; j++)
      for (size_t i = 0; i < ix->n_names; i++)
        if (q->scopes[j] && strcmp(ix->names[i], q->scopes[j]) == 0) allow[i] = 1, any = true;
    if (!any) {
      mem_free(allow);
      return 0;
    }
  }
  /* Large matrices are scanned by two threads, each keeping its own best-k over half the rows,
   * then merged: the order (score, then ref id) is total, so the result is the same. */
  size_t halves = ix->n >= SEARCH_SPLIT_ROWS ? 2 : 1;
  (void)store_vec_simd(); /* the kernel choice is made here, not raced by the threads */
  scan_part part[2];
  pthread_t th;
  bool threaded = false;
  for (size_t h = 0; h < halves; h++)
    part[h] = (scan_part){.ix = ix,
                          .q = q,
                          .allow = all ? NULL : allow,
                          .k = k,
                          .from = ix->n * h / halves,
                          .to = ix->n * (h + 1) / halves,
                          .score = xalloc(k * sizeof(float)),
                          .row = xalloc(k * sizeof(size_t))};
  if (halves == 2 && pthread_create(&th, NULL, scan_thread, &part[1]) == 0) threaded = true;
  scan_rows(&part[0]);
  if (halves == 2) {
    if (threaded)
      pthread_join(th, NULL);
    else
      scan_rows(&part[1]);
  }
  float *score = xalloc(k * sizeof *score);
  size_t *row = xalloc(k * sizeof *row);
  size_t n = 0;
  for (size_t h = 0; h < halves; h++) {
    for (size_t j = 0; j < part[h].n; j++) {
      float sc = part[h].score[j];
      size_t i = part[h].row[j];
      if (n == k && !better(sc, ix->ref[i], score[n - 1], ix->ref[row[n - 1]])) continue;
      size_t at = n < k ? n++ : k - 1;
      while (at > 0 && better(sc, ix->ref[i], score[at - 1], ix->ref[row[at - 1]])) {
        score[at] = score[at - 1];
        row[at] = row[at - 1];
        at--;
      }
      score[at] = sc;
      row[at] = i;
    }
    mem_free(part[h].score);
    mem_free(part[h].row);
  }
  for (size_t j = 0; j < n; j++) {
    out[j].ref_id = ix->ref[row[j]];
    out[j].score = score[j];
    str_lcpy(out[j].scope, ix->names[ix->scope[row[j]]], sizeof out[j].scope);
  }
  *n_out = n;
  mem_free(score);
  mem_free(row);
  mem_free(allow);
  return 0;
}
