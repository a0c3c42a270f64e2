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

#define SEARCH_K_MAX 10000

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

/* Eligible rows from which a search is split over two threads (below, a thread costs more than
 * it saves). */
#define SEARCH_SPLIT_ROWS 16384
/* Rows per call of the integer kernel. */
#define PRE_BLOCK 64

/* ---- the cached matrix: one segment of rows per scope ---- */

typedef struct vec_seg {
  uint8_t *hi, *lo; /* n x store_vec_plane_bytes(dim): the rows' bit planes */
  float *scale;
  store_vec_rowb *terms; /* the prefilter's bound terms */
  int64_t *ref, *vid;
  size_t n, cap;
} vec_seg;

struct store_vec_index {
  store *s;
  int kind, dim;
  size_t pb; /* bytes of one plane of a row */
  char model[STORE_VEC_MODEL_MAX];
  bool loaded;
  char **names; /* interned scope names */
  vec_seg *seg; /* seg[i]: the rows of scope names[i], contiguous */
  size_t n_names, n;
  map_u64 by_name; /* hash of a name -> its index + 1 (a collision falls back to a scan) */
  map_u64 pos;     /* vectors.id -> (scope << 32 | row) + 1 */
  int64_t last_id, last_seq;
  size_t last_scored; /* rows the last search scored with the float kernel */
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
  ix->pb = store_vec_plane_bytes(dim);
  str_lcpy(ix->model, model, sizeof ix->model);
  map_init(&ix->pos);
  map_init(&ix->by_name);
  *out = ix;
  return 0;
}

static void clear(store_vec_index *ix) {
  for (size_t i = 0; i < ix->n_names; i++) ix->seg[i].n = 0;
  ix->n = 0;
  map_clear(&ix->pos);
  ix->last_id = ix->last_seq = 0;
  ix->loaded = false;
}

void store_vec_index_close(store_vec_index *ix) {
  if (!ix) return;
  for (size_t i = 0; i < ix->n_names; i++) {
    vec_seg *g = &ix->seg[i];
    mem_free(g->hi);
    mem_free(g->lo);
    mem_free(g->scale);
    mem_free(g->terms);
    mem_free(g->ref);
    mem_free(g->vid);
    mem_free(ix->names[i]);
  }
  mem_free(ix->seg);
  mem_free(ix->names);
  map_free(&ix->pos);
  map_free(&ix->by_name);
  mem_free(ix);
}

size_t store_vec_index_rows(const store_vec_index *ix) { return ix->n; }

size_t store_vec_index_last_scored(const store_vec_index *ix) { return ix->last_scored; }

size_t store_vec_index_bytes(const store_vec_index *ix) {
  size_t row = 2 * ix->pb + sizeof(float) + sizeof(store_vec_rowb) + 2 * sizeof(int64_t), b = 0;
  for (size_t i = 0; i < ix->n_names; i++)
    b += ix->seg[i].cap * row + sizeof(vec_seg) + strlen(ix->names[i]) + 1 + sizeof(char *);
  return b + (ix->pos.cap + ix->by_name.cap) * (sizeof(uint64_t) + sizeof(void *));
}

static uint64_t name_hash(const char *s) {
  uint64_t h = 14695981039346656037ull; /* FNV-1a */
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* The index of scope name, or -1. */
static long find_name(const store_vec_index *ix, const char *name) {
  uintptr_t v = map_get_uint(&ix->by_name, name_hash(name));
  if (!v) return -1;
  if (strcmp(ix->names[v - 1], name) == 0) return (long)(v - 1);
  for (size_t i = 0; i < ix->n_names; i++) /* two names with one hash */
    if (strcmp(ix->names[i], name) == 0) return (long)i;
  return -1;
}

static uint32_t intern(store_vec_index *ix, const char *name) {
  long at = find_name(ix, name);
  if (at >= 0) return (uint32_t)at;
  ix->names = xrealloc(ix->names, (ix->n_names + 1) * sizeof *ix->names);
  ix->seg = xrealloc(ix->seg, (ix->n_names + 1) * sizeof *ix->seg);
  ix->names[ix->n_names] = xstrdup(name);
  memset(&ix->seg[ix->n_names], 0, sizeof *ix->seg);
  uint64_t h = name_hash(name);
  if (!map_get_uint(&ix->by_name, h)) map_put_uint(&ix->by_name, h, ix->n_names + 1);
  return (uint32_t)ix->n_names++;
}

/* Sets a segment's capacity to cap rows (at least its n). */
static void resize(vec_seg *g, size_t pb, size_t cap) {
  g->hi = xrealloc(g->hi, cap * pb);
  g->lo = xrealloc(g->lo, cap * pb);
  g->scale = xrealloc(g->scale, cap * sizeof *g->scale);
  g->terms = xrealloc(g->terms, cap * sizeof *g->terms);
  g->ref = xrealloc(g->ref, cap * sizeof *g->ref);
  g->vid = xrealloc(g->vid, cap * sizeof *g->vid);
  g->cap = cap;
}

static void grow(vec_seg *g, size_t pb) { resize(g, pb, g->cap ? g->cap * 2 : 256); }

static uintptr_t pos_of(uint32_t scope, size_t row) {
  return ((uintptr_t)scope << 32 | (uintptr_t)row) + 1;
}

/* Removes the row of vectors.id vid, when cached: the last row of its scope moves into its
 * place. */
static void drop_row(store_vec_index *ix, int64_t vid) {
  uintptr_t p = map_get_uint(&ix->pos, (uint64_t)vid);
  if (!p) return;
  map_del(&ix->pos, (uint64_t)vid);
  uint32_t sc = (uint32_t)((p - 1) >> 32);
  vec_seg *g = &ix->seg[sc];
  size_t i = (p - 1) & 0xffffffffu, last = g->n - 1, pb = ix->pb;
  if (i != last) {
    memcpy(g->hi + i * pb, g->hi + last * pb, pb);
    memcpy(g->lo + i * pb, g->lo + last * pb, pb);
    g->scale[i] = g->scale[last];
    g->terms[i] = g->terms[last];
    g->ref[i] = g->ref[last];
    g->vid[i] = g->vid[last];
    map_put_uint(&ix->pos, (uint64_t)g->vid[i], pos_of(sc, i));
  }
  g->n--;
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

/* Appends a row loaded from the table. */
static void add_row(store_vec_index *ix, int64_t id, int64_t ref, const char *scope, float scale,
                    const int8_t *data) {
  uint32_t sc = intern(ix, scope);
  vec_seg *g = &ix->seg[sc];
  if (g->n == g->cap) grow(g, ix->pb);
  size_t i = g->n++;
  /* store_vec_put never writes -128; a row from elsewhere holding one is clamped to the planes'
   * range. */
  int8_t r[STORE_VEC_DIM_MAX];
  for (int j = 0; j < ix->dim; j++) r[j] = data[j] == -128 ? -127 : data[j];
  store_vec_planes(r, ix->dim, g->hi + i * ix->pb, g->lo + i * ix->pb);
  g->scale[i] = scale;
  store_vec_row_terms(r, ix->dim, &g->terms[i]);
  g->ref[i] = ref;
  g->vid[i] = id;
  map_put_uint(&ix->pos, (uint64_t)id, pos_of(sc, i));
  ix->n++;
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
  bool full = !ix->loaded;
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
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    ix->last_id = id;
    if (sqlite3_column_int(st, 3) != ix->dim ||
        (size_t)sqlite3_column_bytes(st, 5) != (size_t)ix->dim)
      continue; /* another width under the same name: not comparable, never ranked */
    add_row(ix, id, sqlite3_column_int64(st, 1), store__col_text(st, 2),
            (float)sqlite3_column_double(st, 4), sqlite3_column_blob(st, 5));
    if (changed) *changed = true;
  }
  sqlite3_reset(st);
  if (step != SQLITE_DONE) return store_err(ix->s, "loading vectors");
  /* After a full load, give back what doubling left unused (up to half of each segment). */
  for (size_t i = 0; full && i < ix->n_names; i++)
    if (ix->seg[i].cap > ix->seg[i].n + ix->seg[i].n / 16 + 256)
      resize(&ix->seg[i], ix->pb, ix->seg[i].n + ix->seg[i].n / 16 + 256);
  return 0;
}

/* ---- search ---- */

/* Whether hit a ranks before hit b. */
static bool better(float sa, int64_t ra, float sb, int64_t rb) {
  return sa > sb || (sa == sb && ra < rb);
}

/* A best-k list, best first. */
typedef struct topk {
  float *score;
  int64_t *ref;
  uint32_t *seg;
  size_t n, k;
} topk;

static void topk_init(topk *t, size_t k) {
  t->score = xalloc(k * sizeof *t->score);
  t->ref = xalloc(k * sizeof *t->ref);
  t->seg = xalloc(k * sizeof *t->seg);
  t->n = 0;
  t->k = k;
}

static void topk_free(topk *t) {
  mem_free(t->score);
  mem_free(t->ref);
  mem_free(t->seg);
}

static void topk_add(topk *t, float sc, int64_t ref, uint32_t seg) {
  if (t->n == t->k && !better(sc, ref, t->score[t->k - 1], t->ref[t->k - 1])) return;
  /* Insertion into the sorted list (k is small). */
  size_t at = t->n < t->k ? t->n++ : t->k - 1;
  while (at > 0 && better(sc, ref, t->score[at - 1], t->ref[at - 1])) {
    t->score[at] = t->score[at - 1];
    t->ref[at] = t->ref[at - 1];
    t->seg[at] = t->seg[at - 1];
    at--;
  }
  t->score[at] = sc;
  t->ref[at] = ref;
  t->seg[at] = seg;
}

/* One part of a scan: rows [from, to) of the eligible segments taken in order, into a best-k list
 * of its own. */
typedef struct scan_part {
  const store_vec_index *ix;
  const store_vec_query *q;
  const uint32_t *segs; /* the eligible segments */
  size_t n_segs, from, to;
  const int8_t *q8; /* NULL: exhaustive */
  const store_vec_qerr *qe;
  topk best;
  size_t scored; /* rows the float kernel scored */
} scan_part;

/* The float kernel on row i of segment sg, rebuilt from its planes; kept when it places. */
static void score_row(scan_part *p, uint32_t sg, size_t i, int8_t *r) {
  const vec_seg *g = &p->ix->seg[sg];
  store_vec_unplanes(g->hi + i * p->ix->pb, g->lo + i * p->ix->pb, p->ix->dim, r);
  float sc = g->scale[i] * store_vec_dot(p->q->q, r, p->ix->dim);
  p->scored++;
  if (sc < p->q->min_score) return;
  topk_add(&p->best, sc, g->ref[i], sg);
}

/* A row the prefilter keeps, with its upper bound. */
typedef struct cand {
  double ub;
  uint32_t seg, row;
} cand;

/* The prefilter's state: a min-heap of the k largest lower bounds seen, the threshold an upper
 * bound must reach (the k-th largest lower bound once there are k, never below min_score), and
 * the rows kept so far. */
typedef struct pre_state {
  double *lb, thr;
  size_t n_lb, k;
  cand *c;
  size_t n, cap;
} pre_state;

static void lb_push(pre_state *h, double lb) {
  if (h->n_lb < h->k) {
    size_t i = h->n_lb++;
    while (i > 0 && h->lb[(i - 1) / 2] > lb) {
      h->lb[i] = h->lb[(i - 1) / 2];
      i = (i - 1) / 2;
    }
    h->lb[i] = lb;
  } else {
    if (lb <= h->lb[0]) return;
    size_t i = 0;
    for (;;) {
      size_t c = 2 * i + 1;
      if (c >= h->n_lb) break;
      if (c + 1 < h->n_lb && h->lb[c + 1] < h->lb[c]) c++;
      if (h->lb[c] >= lb) break;
      h->lb[i] = h->lb[c];
      i = c;
    }
    h->lb[i] = lb;
  }
  if (h->n_lb == h->k && h->lb[0] > h->thr) h->thr = h->lb[0];
}

/* Rows [lo, hi) of segment sg. Exhaustive: each scored. Prefiltered: the coarse integer dot over
 * the high plane bounds each row; a row whose upper bound is below the threshold cannot place
 * (k rows are sure to beat it), the others are kept for scoring. */
static void scan_seg(scan_part *p, uint32_t sg, size_t lo, size_t hi, pre_state *h, int8_t *r) {
  const vec_seg *g = &p->ix->seg[sg];
  if (!p->q8) {
    for (size_t i = lo; i < hi; i++) score_row(p, sg, i, r);
    return;
  }
  const store_vec_qerr *e = p->qe;
  int32_t dots[PRE_BLOCK];
  for (size_t b = lo; b < hi; b += PRE_BLOCK) {
    size_t m = hi - b < PRE_BLOCK ? hi - b : PRE_BLOCK;
    store_vec_cdot_rows(p->q8, g->hi + b * p->ix->pb, m, p->ix->dim, dots);
    for (size_t j = 0; j < m; j++) {
      size_t i = b + j;
      double est = store_vec_estimate(e, g->scale[i], dots[j]);
      double slack = store_vec_slack(e, g->scale[i], &g->terms[i]);
      if (est + slack < h->thr) continue;
      if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 256;
        h->c = xrealloc(h->c, h->cap * sizeof *h->c);
      }
      h->c[h->n++] = (cand){est + slack, sg, (uint32_t)i};
      lb_push(h, est - slack);
    }
  }
}

/* Max-heap of the kept rows by upper bound: sift c[i] down among c[0..n). */
static void ub_sift(cand *c, size_t n, size_t i) {
  cand x = c[i];
  for (;;) {
    size_t k = 2 * i + 1;
    if (k >= n) break;
    if (k + 1 < n && c[k + 1].ub > c[k].ub) k++;
    if (c[k].ub <= x.ub) break;
    c[i] = c[k];
    i = k;
  }
  c[i] = x;
}

static void scan_rows(scan_part *p) {
  pre_state h = {.thr = p->q->min_score, .k = p->best.k};
  if (p->q8) h.lb = xalloc(h.k * sizeof *h.lb);
  int8_t r[STORE_VEC_DIM_MAX];
  size_t off = 0;
  for (size_t j = 0; j < p->n_segs && off < p->to; j++) {
    size_t n = p->ix->seg[p->segs[j]].n;
    size_t lo = p->from > off ? p->from - off : 0, hi = p->to - off < n ? p->to - off : n;
    if (lo < hi) scan_seg(p, p->segs[j], lo, hi, &h, r);
    off += n;
  }
  if (!p->q8) return;
  /* The rows kept, best upper bound first (a heap: only the few that get scored are ordered),
   * scored until the next bound is below the k-th best score: every row after it is too. */
  size_t m = 0;
  for (size_t j = 0; j < h.n; j++)
    if (h.c[j].ub >= h.thr) h.c[m++] = h.c[j];
  for (size_t j = m / 2; j-- > 0;) ub_sift(h.c, m, j);
  while (m > 0) {
    cand top = h.c[0];
    if (p->best.n == p->best.k && top.ub < p->best.score[p->best.k - 1]) break;
    score_row(p, top.seg, top.row, r);
    h.c[0] = h.c[--m];
    ub_sift(h.c, m, 0);
  }
  mem_free(h.lb);
  mem_free(h.c);
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
  /* The scope filter picks whole segments before any scoring. */
  bool all = !q->scopes || q->n_scopes == 0;
  uint32_t *segs = xalloc((ix->n_names ? ix->n_names : 1) * sizeof *segs);
  size_t n_segs = 0, rows = 0;
  if (all) {
    for (size_t i = 0; i < ix->n_names; i++)
      if (ix->seg[i].n) segs[n_segs++] = (uint32_t)i;
  } else {
    for (size_t j = 0; j < q->n_scopes; j++) {
      long at = q->scopes[j] ? find_name(ix, q->scopes[j]) : -1;
      bool dup = false;
      for (size_t m = 0; m < n_segs && !dup; m++) dup = segs[m] == (uint32_t)at;
      if (at >= 0 && !dup && ix->seg[at].n) segs[n_segs++] = (uint32_t)at;
    }
  }
  for (size_t j = 0; j < n_segs; j++) rows += ix->seg[segs[j]].n;
  /* The prefilter needs a finite query; anything else is scored exhaustively. */
  bool pre = !q->exhaustive;
  for (int i = 0; pre && i < ix->dim; i++) pre = isfinite(q->q[i]);
  int8_t q8[2 * STORE_VEC_DIM_MAX];
  store_vec_qerr qe = {0};
  if (pre) store_vec_query_prep(q->q, ix->dim, q8, &qe);
  /* Large scans run on two threads, each keeping its own best-k over half the rows, then merged:
   * the order (score, then ref id) is total, so the result is the same. */
  size_t halves = rows >= SEARCH_SPLIT_ROWS ? 2 : 1;
  (void)store_vec_simd(); /* the kernel choice is made here, not raced by the threads */
  scan_part part[2];
  pthread_t th;
  bool threaded = false;
  for (size_t h = 0; h < halves; h++) {
    part[h] = (scan_part){.ix = ix,
                          .q = q,
                          .segs = segs,
                          .n_segs = n_segs,
                          .from = rows * h / halves,
                          .to = rows * (h + 1) / halves,
                          .q8 = pre ? q8 : NULL,
                          .qe = &qe};
    topk_init(&part[h].best, k);
  }
  if (halves == 2 && pthread_create(&th, NULL, scan_thread, &part[1]) == 0) threaded = true;
  scan_rows(&part[0]);
  if (halves == 2) {
    if (threaded)
      pthread_join(th, NULL);
    else
      scan_rows(&part[1]);
  }
  topk best;
  topk_init(&best, k);
  ix->last_scored = 0;
  for (size_t h = 0; h < halves; h++) {
    ix->last_scored += part[h].scored;
    for (size_t j = 0; j < part[h].best.n; j++)
      topk_add(&best, part[h].best.score[j], part[h].best.ref[j], part[h].best.seg[j]);
    topk_free(&part[h].best);
  }
  for (size_t j = 0; j < best.n; j++) {
    out[j].ref_id = best.ref[j];
    out[j].score = best.score[j];
    str_lcpy(out[j].scope, ix->names[best.seg[j]], sizeof out[j].scope);
  }
  *n_out = best.n;
  topk_free(&best);
  mem_free(segs);
  return 0;
}
