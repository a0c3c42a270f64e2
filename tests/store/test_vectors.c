/* Tests for vectors and lore full text in the store: the SIMD kernel against the scalar one, exact
 * search against a float64 brute-force oracle on random data (scope filter included), the cache
 * kept in step with inserts and deletes from another connection, vectors deleted with what they
 * index (purge, opt-out, edit, chunk replacement), and FTS5 keeping emoji and custom-emoji names.
 */
#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "base/rng.h"
#include "store/lore.h"
#include "store/store.h"
#include "store/vectors.h"
#include "test.h"

static char tmpdir[64];

static float frand(prng *r) {
  return (float)((double)(prng_next(r) >> 11) / 9007199254740992.0) * 2 - 1;
}

static void normalize(float *v, int d) {
  double s = 0;
  for (int i = 0; i < d; i++) s += (double)v[i] * v[i];
  float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
  for (int i = 0; i < d; i++) v[i] *= inv;
}

TEST(simd_matches_scalar) {
  prng r;
  prng_seed(&r, 7);
  printf("     simd: %s\n", store_vec_simd() ? "avx2" : "none (scalar only)");
  int dims[] = {1, 7, 8, 15, 16, 17, 33, 64, 100, 384, 768, 1024};
  for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
    int d = dims[t];
    float *q = xalloc((size_t)d * sizeof *q);
    int8_t *row = xalloc((size_t)d);
    for (int rep = 0; rep < 20; rep++) {
      for (int i = 0; i < d; i++) {
        q[i] = frand(&r);
        row[i] = (int8_t)((int)(prng_next(&r) % 255) - 127);
      }
      double ref = 0;
      for (int i = 0; i < d; i++) ref += (double)q[i] * row[i];
      float a = store_vec_dot_scalar(q, row, d), b = store_vec_dot(q, row, d);
      CHECK_NEAR(a, ref, 1e-4 * (1 + fabs(ref)));
      CHECK_NEAR(b, ref, 1e-4 * (1 + fabs(ref)));
    }
    mem_free(q);
    mem_free(row);
  }
}

TEST(quantize_round_trip) {
  float v[5] = {0.5f, -1.0f, 0.25f, 0, 1e-3f}, back[5];
  int8_t q[5];
  float sc;
  store_vec_quantize(v, 5, q, &sc);
  CHECK_INT(q[1], -127);
  for (int i = 0; i < 5; i++) back[i] = sc * q[i];
  for (int i = 0; i < 5; i++) CHECK_NEAR(back[i], v[i], 1.0 / 254 + 1e-6);
  float z[3] = {0, 0, 0};
  store_vec_quantize(z, 3, q, &sc);
  CHECK(sc == 0);
}

/* Random rows in 4 scopes, then searches compared with a float64 brute force over the values the
 * store holds (scale * int8). */
TEST(search_matches_float64_oracle) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  enum { N = 40000, D = 48, Q = 25, K = 10 }; /* N past SEARCH_SPLIT_ROWS: the two-thread scan */
  static const char *const scopes[] = {"a", "b", "c", "guild:1"};
  prng r;
  prng_seed(&r, 42);
  float *deq = xalloc((size_t)N * D * sizeof *deq);
  int *sc_of = xalloc(N * sizeof *sc_of);
  float v[D];
  CHECK_OK(store_tx_begin(s));
  for (int i = 0; i < N; i++) {
    for (int j = 0; j < D; j++) v[j] = frand(&r);
    normalize(v, D);
    sc_of[i] = (int)(prng_next(&r) % 4);
    CHECK_OK(store_vec_put(s, STORE_VEC_LORE, i + 1, scopes[sc_of[i]], "m", v, D));
    int8_t q8[D];
    float scale;
    store_vec_quantize(v, D, q8, &scale);
    for (int j = 0; j < D; j++) deq[(size_t)i * D + j] = scale * q8[j];
  }
  CHECK_OK(store_tx_commit(s));
  store_vec_index *ix = NULL;
  REQUIRE(store_vec_index_open(s, STORE_VEC_LORE, "m", D, &ix) == 0);
  for (int t = 0; t < Q; t++) {
    float q[D];
    for (int j = 0; j < D; j++) q[j] = frand(&r);
    normalize(q, D);
    const char *want[2] = {scopes[t % 4], scopes[(t + 1) % 4]};
    size_t n_want = t % 3 == 0 ? 0 : 2; /* every third query unfiltered */
    float min = t % 5 == 0 ? 0.2f : -INFINITY;
    /* The oracle: every eligible row in double, sorted, best K. */
    double best[K];
    int64_t best_id[K];
    int nb = 0;
    for (int i = 0; i < N; i++) {
      if (n_want && strcmp(scopes[sc_of[i]], want[0]) && strcmp(scopes[sc_of[i]], want[1]))
        continue;
      double d = 0;
      for (int j = 0; j < D; j++) d += (double)q[j] * deq[(size_t)i * D + j];
      if (d < min) continue;
      int at = nb < K ? nb++ : K;
      if (at == K && d <= best[K - 1]) continue;
      if (at == K) at = K - 1;
      while (at > 0 && d > best[at - 1]) {
        best[at] = best[at - 1];
        best_id[at] = best_id[at - 1];
        at--;
      }
      best[at] = d;
      best_id[at] = i + 1;
    }
    store_vec_hit hits[K];
    size_t n = 0;
    store_vec_query vq = {.q = q, .scopes = want, .n_scopes = n_want, .min_score = min, .k = K};
    CHECK_OK(store_vec_search(ix, &vq, hits, &n));
    CHECK_INT(n, nb);
    store_vec_hit ex[K];
    size_t n_ex = 0;
    vq.exhaustive = true;
    CHECK_OK(store_vec_search(ix, &vq, ex, &n_ex));
    CHECK_INT(n_ex, n);
    for (size_t i = 0; i < n && i < n_ex; i++) CHECK(ex[i].ref_id == hits[i].ref_id);
    for (size_t i = 0; i < n && (int)i < nb; i++) {
      CHECK_INT(hits[i].ref_id, best_id[i]);
      CHECK_NEAR(hits[i].score, best[i], 1e-5);
      if (n_want) CHECK(strcmp(hits[i].scope, want[0]) == 0 || strcmp(hits[i].scope, want[1]) == 0);
    }
  }
  /* A scope nobody has: nothing, not everything. */
  const char *none[1] = {"nobody"};
  store_vec_hit h[3];
  size_t n = 9;
  float q[D] = {1};
  store_vec_query vq = {.q = q, .scopes = none, .n_scopes = 1, .min_score = -INFINITY, .k = 3};
  CHECK_OK(store_vec_search(ix, &vq, h, &n));
  CHECK_INT(n, 0);
  store_vec_index_close(ix);
  mem_free(deq);
  mem_free(sc_of);
  store_close(s);
}

/* The bit planes rebuild every row, and the coarse dot over the high plane is exact, SIMD and
 * scalar alike. */
TEST(planes_and_coarse_dot) {
  prng r;
  prng_seed(&r, 11);
  int dims[] = {1, 31, 32, 33, 63, 64, 65, 100, 128, 384, 768, 4096};
  for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
    int d = dims[t];
    size_t pb = store_vec_plane_bytes(d);
    int8_t *q8 = xcalloc(2 * pb, 1), *row = xalloc((size_t)d), *back = xalloc((size_t)d);
    uint8_t *hi = xalloc(pb), *lo = xalloc(pb);
    for (int rep = 0; rep < 30; rep++) {
      for (int i = 0; i < d; i++) {
        /* rep 0: every product at its largest; rep 1: alternating extremes. */
        int a = rep == 0 ? 127 : rep == 1 ? (i % 2 ? -127 : 127) : (int)(prng_next(&r) % 255) - 127;
        int b = rep == 0 ? 127 : rep == 1 ? -127 : (int)(prng_next(&r) % 255) - 127;
        q8[i] = (int8_t)a;
        row[i] = (int8_t)b;
      }
      store_vec_planes(row, d, hi, lo);
      memset(back, 0, (size_t)d);
      store_vec_unplanes(hi, lo, d, back);
      CHECK(memcmp(back, row, (size_t)d) == 0);
      memset(back, 0, (size_t)d);
      store_vec_unplanes_scalar(hi, lo, d, back);
      CHECK(memcmp(back, row, (size_t)d) == 0);
      int64_t ref = 0;
      for (int i = 0; i < d; i++) ref += (int64_t)q8[i] * ((row[i] + 128) / 16); /* u = h + 8 */
      CHECK_INT(store_vec_cdot_scalar(q8, hi, d), ref);
      CHECK_INT(store_vec_cdot(q8, hi, d), ref);
      int32_t two[2];
      store_vec_cdot_rows(q8, hi, 1, d, two);
      CHECK_INT(two[0], ref);
    }
    mem_free(q8);
    mem_free(row);
    mem_free(back);
    mem_free(hi);
    mem_free(lo);
  }
}

/* |F - estimate| <= slack, with F from both float kernels; *worst: the largest ratio seen. */
static void check_bound(const float *q, const float *v, int d, int *bad, double *worst) {
  size_t pb = store_vec_plane_bytes(d);
  int8_t *r = xalloc((size_t)d), *q8 = xalloc(2 * pb);
  uint8_t *hi = xalloc(pb), *lo = xalloc(pb);
  float scale;
  store_vec_quantize(v, d, r, &scale);
  store_vec_planes(r, d, hi, lo);
  store_vec_rowb t;
  store_vec_row_terms(r, d, &t);
  store_vec_qerr e;
  store_vec_query_prep(q, d, q8, &e);
  double est = store_vec_estimate(&e, scale, store_vec_cdot(q8, hi, d));
  double slack = store_vec_slack(&e, scale, &t);
  float f1 = scale * store_vec_dot(q, r, d), f2 = scale * store_vec_dot_scalar(q, r, d);
  double off = fmax(fabs(f1 - est), fabs(f2 - est));
  if (off > slack) {
    if (*bad < 5)
      printf("     bound broken: d %d F %.9g %.9g est %.9g slack %.3g\n", d, f1, f2, est, slack);
    (*bad)++;
  }
  if (slack > 0 && off / slack > *worst) *worst = off / slack;
  mem_free(r);
  mem_free(q8);
  mem_free(hi);
  mem_free(lo);
}

TEST(prefilter_bound_holds) {
  prng r;
  prng_seed(&r, 99);
  int dims[] = {1, 2, 7, 48, 384, 1024, 4096};
  int bad = 0;
  double worst = 0;
  for (size_t t = 0; t < sizeof dims / sizeof dims[0]; t++) {
    int d = dims[t];
    float *q = xalloc((size_t)d * sizeof *q), *v = xalloc((size_t)d * sizeof *v);
    for (int rep = 0; rep < 400; rep++) {
      int kind = rep % 6;
      for (int i = 0; i < d; i++) v[i] = frand(&r);
      if (kind == 0) {
        for (int i = 0; i < d; i++) q[i] = frand(&r); /* random */
      } else if (kind == 1) {
        /* Every query element half a step off its grid point (the most a rounding can be off),
         * on the side that makes each error add up along the row. */
        float step = 1.0f / 127;
        q[0] = 1;
        for (int i = 1; i < d; i++) {
          float g = (float)(int)(prng_next(&r) % 253) - 126;
          q[i] = (g + (v[i] >= 0 ? 0.4999f : -0.4999f)) * step;
        }
      } else if (kind == 2) {
        /* One large element, the rest below half a step: they all quantize to 0. */
        q[0] = 1;
        for (int i = 1; i < d; i++) q[i] = (v[i] >= 0 ? 1 : -1) * 0.0039f * (float)prng_uniform(&r);
      } else if (kind == 3) {
        /* Cancellation: large terms summing to about 0, where rounding is largest relative to the
         * score. */
        for (int i = 0; i < d; i++) {
          v[i] = i % 2 ? 1 : -1;
          q[i] = 1 + (float)prng_uniform(&r) * 1e-3f;
        }
      } else if (kind == 4) {
        /* The low plane at its extremes (l = 0 or 15) with the query's sign: the coarse cell's
         * error adds up along the query. */
        v[0] = 1;
        for (int i = 1; i < d; i++) {
          q[i] = frand(&r);
          int h = (int)(prng_next(&r) % 15) - 8, l = q[i] >= 0 ? 15 : 0;
          v[i] = (float)(16 * h + l) / 127;
        }
        q[0] = 0;
      } else {
        /* Normalised, as stored embeddings and queries are. */
        for (int i = 0; i < d; i++) q[i] = frand(&r);
        normalize(q, d);
        normalize(v, d);
      }
      check_bound(q, v, d, &bad, &worst);
    }
    mem_free(q);
    mem_free(v);
  }
  CHECK_INT(bad, 0);
  /* The adversarial cases come close to the bound: it is not loose by construction. */
  printf("     largest |F - estimate| / slack: %.3f\n", worst);
  CHECK(worst > 0.5);
  /* A zero query and a zero row. */
  float z[4] = {0}, one[4] = {1, 0, 0, 0};
  check_bound(z, one, 4, &bad, &worst);
  check_bound(one, z, 4, &bad, &worst);
  CHECK_INT(bad, 0);
}

static void put_all(store *s, int n, int d, int seed, int n_scopes, int dup_every) {
  static const char *const names[] = {"a", "b", "c", "guild:1", "guild:2"};
  prng r;
  prng_seed(&r, (uint64_t)seed);
  float *v = xalloc((size_t)d * sizeof *v), *keep = xalloc((size_t)d * sizeof *keep);
  CHECK_OK(store_tx_begin(s));
  for (int i = 0; i < n; i++) {
    if (dup_every && i % dup_every) {
      /* Near and exact duplicates of the last fresh row: ties, and bounds that overlap. */
      for (int j = 0; j < d; j++) v[j] = keep[j] + (i % 3 ? 0 : 1e-3f * frand(&r));
    } else {
      for (int j = 0; j < d; j++) v[j] = keep[j] = frand(&r);
    }
    normalize(v, d);
    CHECK_OK(store_vec_put(s, STORE_VEC_LORE, i + 1, names[i % n_scopes], "m", v, d));
  }
  CHECK_OK(store_tx_commit(s));
  mem_free(v);
  mem_free(keep);
}

/* The prefiltered search against the exhaustive one (the float kernel on every row) on many
 * queries, scope filters, k and minimum scores: the same hits, bit for bit. */
TEST(prefilter_matches_exhaustive) {
  struct {
    int n, d, dup;
  } sets[] = {{5000, 384, 0}, {6000, 64, 4}, {3000, 7, 0}};
  static const char *const names[] = {"a", "b", "c", "guild:1", "guild:2"};
  prng r;
  prng_seed(&r, 5);
  for (size_t t = 0; t < sizeof sets / sizeof sets[0]; t++) {
    int n = sets[t].n, d = sets[t].d;
    store *s = NULL;
    REQUIRE(store_open(":memory:", &s) == 0);
    put_all(s, n, d, (int)t + 1, 5, sets[t].dup);
    store_vec_index *ix = NULL;
    REQUIRE(store_vec_index_open(s, STORE_VEC_LORE, "m", d, &ix) == 0);
    float *q = xalloc((size_t)d * sizeof *q);
    size_t scored = 0, eligible = 0;
    enum { KMAX = 64 };
    store_vec_hit a[KMAX], b[KMAX];
    for (int it = 0; it < 120; it++) {
      for (int j = 0; j < d; j++) q[j] = frand(&r);
      if (it % 7 == 3) q[it % d] *= 50; /* a spiky query */
      normalize(q, d);
      const char *want[3] = {names[it % 5], names[(it + 2) % 5], "nobody"};
      size_t n_want = (size_t)(it % 4); /* 0: every scope */
      static const size_t ks[] = {1, 3, 10, KMAX};
      static const float mins[] = {-INFINITY, 0.0f, 0.1f, 0.3f};
      store_vec_query vq = {.q = q,
                            .scopes = want,
                            .n_scopes = n_want,
                            .min_score = mins[(it / 4) % 4],
                            .k = ks[it % 4]};
      size_t na = 0, nb = 0;
      vq.exhaustive = true;
      CHECK_OK(store_vec_search(ix, &vq, a, &na));
      eligible += store_vec_index_last_scored(ix);
      vq.exhaustive = false;
      CHECK_OK(store_vec_search(ix, &vq, b, &nb));
      scored += store_vec_index_last_scored(ix);
      CHECK_INT(nb, na);
      for (size_t i = 0; i < na && i < nb; i++) {
        CHECK_INT(b[i].ref_id, a[i].ref_id);
        CHECK(memcmp(&b[i].score, &a[i].score, sizeof(float)) == 0);
        CHECK(strcmp(b[i].scope, a[i].scope) == 0);
      }
    }
    /* The prefilter earns its keep on random data: most rows never reach the float kernel. */
    printf("     %d x %d: the float kernel scored %zu of %zu eligible rows\n", n, d, scored,
           eligible);
    if (d >= 64) CHECK(scored * 4 < eligible);
    /* A NaN query is scored exhaustively (no prefilter on what cannot be bounded). */
    q[0] = NAN;
    store_vec_query vq = {.q = q, .min_score = -INFINITY, .k = 3};
    size_t nn = 0;
    CHECK_OK(store_vec_search(ix, &vq, a, &nn));
    CHECK_INT(store_vec_index_last_scored(ix), store_vec_index_rows(ix));
    mem_free(q);
    store_vec_index_close(ix);
    store_close(s);
  }
}

/* Every row the same vector: every bound overlaps, ties go to the lower ref id, as exhaustive. */
TEST(prefilter_ties) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  enum { N = 300, D = 16 };
  float v[D];
  for (int j = 0; j < D; j++) v[j] = (float)(j + 1);
  normalize(v, D);
  CHECK_OK(store_tx_begin(s));
  for (int i = 0; i < N; i++)
    CHECK_OK(store_vec_put(s, STORE_VEC_LORE, N - i, i % 2 ? "a" : "b", "m", v, D));
  CHECK_OK(store_tx_commit(s));
  store_vec_index *ix = NULL;
  REQUIRE(store_vec_index_open(s, STORE_VEC_LORE, "m", D, &ix) == 0);
  store_vec_hit h[5];
  size_t n = 0;
  store_vec_query vq = {.q = v, .min_score = 0.5f, .k = 5};
  CHECK_OK(store_vec_search(ix, &vq, h, &n));
  REQUIRE(n == 5);
  for (int i = 0; i < 5; i++) CHECK_INT(h[i].ref_id, i + 1);
  CHECK(h[0].score > 0.99f);
  store_vec_index_close(ix);
  store_close(s);
}

static void db_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmpdir, name);
}

static int64_t count(store *s, const char *sql) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return -1;
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

/* One-hot vectors: row i points along axis i % D. */
static void axis(float *v, int d, int i) {
  memset(v, 0, (size_t)d * sizeof *v);
  v[i % d] = 1;
}

TEST(cache_follows_another_connection) {
  char path[256];
  db_path(path, sizeof path, "sync.db");
  store *a = NULL, *b = NULL;
  REQUIRE(store_open(path, &a) == 0);
  REQUIRE(store_open(path, &b) == 0);
  enum { D = 8 };
  float v[D];
  for (int i = 1; i <= 5; i++) {
    axis(v, D, i);
    CHECK_OK(store_vec_put(a, STORE_VEC_LORE, i, "", "m", v, D));
  }
  store_vec_index *ix = NULL;
  REQUIRE(store_vec_index_open(b, STORE_VEC_LORE, "m", D, &ix) == 0);
  float q[D];
  axis(q, D, 3);
  store_vec_hit h[2];
  size_t n;
  store_vec_query vq = {.q = q, .min_score = 0.5f, .k = 2};
  CHECK_OK(store_vec_search(ix, &vq, h, &n));
  REQUIRE(n == 1);
  CHECK_INT(h[0].ref_id, 3);
  CHECK_INT(store_vec_index_rows(ix), 5);
  /* Another connection deletes 3, replaces 4 with axis 3, adds 6 on axis 3. */
  CHECK_OK(store_vec_delete(a, STORE_VEC_LORE, 3));
  axis(v, D, 3);
  CHECK_OK(store_vec_put(a, STORE_VEC_LORE, 4, "", "m", v, D));
  CHECK_OK(store_vec_put(a, STORE_VEC_LORE, 6, "", "m", v, D));
  bool changed = false;
  CHECK_OK(store_vec_index_sync(ix, &changed));
  CHECK(changed);
  CHECK_INT(store_vec_index_rows(ix), 5);
  CHECK_OK(store_vec_search(ix, &vq, h, &n));
  REQUIRE(n == 2);
  CHECK_INT(h[0].ref_id, 4);
  CHECK_INT(h[1].ref_id, 6);
  /* Another encoder's rows are not loaded. */
  CHECK_OK(store_vec_put(a, STORE_VEC_LORE, 7, "", "other", v, D));
  CHECK_OK(store_vec_index_sync(ix, NULL));
  CHECK_INT(store_vec_index_rows(ix), 5);
  /* A trimmed log (the index fell too far behind) means a full reload, still right. */
  CHECK_OK(store_vec_delete(a, STORE_VEC_LORE, 6));
  CHECK_OK(store_exec(a, "DELETE FROM vector_log"));
  CHECK_OK(store_vec_delete(a, STORE_VEC_LORE, 1));
  CHECK_OK(store_vec_search(ix, &vq, h, &n));
  CHECK_INT(n, 1);
  CHECK_INT(store_vec_index_rows(ix), 3);
  CHECK_INT(h[0].ref_id, 4);
  CHECK(store_vec_index_bytes(ix) > 0);
  store_vec_index_close(ix);
  store_close(a);
  store_close(b);
}

TEST(bad_vectors_refused) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  float v[4] = {1, NAN, 0, 0};
  CHECK(store_vec_put(s, STORE_VEC_LORE, 1, "", "m", v, 4) == MIMIC_EINVAL);
  CHECK(store_vec_put(s, STORE_VEC_LORE, 1, "", "m", v, 0) == MIMIC_EINVAL);
  CHECK(store_vec_put(s, STORE_VEC_LORE, 1, "", "m", v, STORE_VEC_DIM_MAX + 1) == MIMIC_EINVAL);
  int64_t n = -1;
  CHECK_OK(store_vec_count(s, STORE_VEC_LORE, NULL, &n));
  CHECK_INT(n, 0);
  float got[4];
  v[1] = 0.5f;
  CHECK_OK(store_vec_put(s, STORE_VEC_LORE, 1, "", "m", v, 4));
  CHECK_OK(store_vec_get(s, STORE_VEC_LORE, 1, got, 4));
  CHECK_NEAR(got[1], 0.5, 0.01);
  CHECK(store_vec_get(s, STORE_VEC_LORE, 1, got, 3) == MIMIC_EINVAL);
  CHECK(store_vec_get(s, STORE_VEC_LORE, 2, got, 4) == MIMIC_ENOTFOUND);
  store_close(s);
}

static store_msg msg(uint64_t id, uint64_t author, const char *content) {
  store_msg m = {0};
  m.id = id;
  m.channel_id = 10;
  m.guild_id = 1;
  m.author_id = author;
  m.ts_ms = (int64_t)id * 1000;
  m.content = content;
  m.source = STORE_SRC_DCE;
  return m;
}

static int no_msg(const store_embed_msg *m, void *user) {
  (void)m, (void)user;
  return 0;
}

TEST(vectors_go_with_their_text) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  float v[4] = {1, 0, 0, 0};
  for (uint64_t id = 100; id < 110; id++) {
    store_msg m = msg(id, id < 105 ? 7 : 8, "hello there");
    CHECK_OK(store_msg_upsert(s, &m, NULL));
    CHECK_OK(store_vec_put(s, STORE_VEC_MSG, (int64_t)id, "guild:1", "m", v, 4));
  }
  CHECK_INT(count(s, "SELECT count(*) FROM vectors"), 10);
  /* A purge deletes the person's messages and, in the same transaction, their vectors. */
  int64_t pid = 0, deleted = 0;
  CHECK_OK(store_purge_begin(s, 7, &pid));
  CHECK_OK(store_purge_finish(s, pid, 7, 0, 0, &deleted));
  CHECK_INT(deleted, 5);
  CHECK_INT(count(s, "SELECT count(*) FROM vectors"), 5);
  CHECK_INT(count(s, "SELECT count(*) FROM vectors WHERE ref_id < 105"), 0);
  /* An edit drops the stale vector and sends the embedding cursor back to it. */
  CHECK_OK(store_embed_cursor_set(s, "messages:m", 109));
  CHECK_OK(store_msg_edit(s, 106, "hello again", 5));
  CHECK_INT(count(s, "SELECT count(*) FROM vectors WHERE ref_id = 106"), 0);
  int64_t cur = 0;
  CHECK_OK(store_embed_cursor_get(s, "messages:m", &cur));
  CHECK_INT(cur, 105);
  /* Opting out (or being excluded) drops every vector of the person. */
  CHECK_OK(store_user_flag_set(s, 8, STORE_FLAG_OPTED_OUT, "test"));
  CHECK_INT(count(s, "SELECT count(*) FROM vectors"), 0);
  /* ... and their messages are neither embedded nor recalled. */
  size_t n = 9;
  CHECK_OK(store_embed_msg_next(s, 0, 100, no_msg, NULL, &n));
  CHECK_INT(n, 0);
  store_fts_hit hits[4];
  CHECK_OK(store_msg_fts_recall(s, "hello", 1, 0, 4, hits, &n));
  CHECK_INT(n, 0);
  /* Someone else's message is. */
  store_msg m = msg(200, 9, "hello world");
  CHECK_OK(store_msg_upsert(s, &m, NULL));
  CHECK_OK(store_msg_fts_recall(s, "hello", 1, 0, 4, hits, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_msg_fts_recall(s, "hello", 1, 200, 4, hits, &n)); /* older than 200 only */
  CHECK_INT(n, 0);
  int64_t left = -1;
  CHECK_OK(store_embed_msg_count(s, 0, &left));
  CHECK_INT(left, 1);
  store_close(s);
}

static int count_chunk(const store_lore_chunk *c, void *user) {
  (void)c;
  (*(int *)user)++;
  return 0;
}

TEST(lore_sources_replace_and_delete) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  int64_t src = 0, cid = 0;
  CHECK_OK(store_lore_source_put(s, "/lore/a.md", "w", "markdown", "h1", 10, &src));
  store_lore_chunk c = {.scope = "w",
                        .title = "Castle",
                        .text = "The castle of Aaargh 😂 :party_parrot:",
                        .enabled = true};
  CHECK_OK(store_lore_chunk_add(s, src, &c, &cid));
  float v[4] = {0, 1, 0, 0};
  CHECK_OK(store_vec_put(s, STORE_VEC_LORE, cid, "w", "m", v, 4));
  store_fts_hit h[4];
  size_t n = 0;
  const char *w[1] = {"w"}, *x[1] = {"x"};
  CHECK_OK(store_lore_fts(s, "aaargh", w, 1, 4, h, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_lore_fts(s, "AAARGH", x, 1, 4, h, &n)); /* other scope */
  CHECK_INT(n, 0);
  CHECK_OK(store_lore_fts(s, "😂", NULL, 0, 4, h, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_lore_fts(s, ":party_parrot:", NULL, 0, 4, h, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_lore_fts(s, "party_parrot", NULL, 0, 4, h, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_lore_fts(s, "castle AND \"NEAR(", NULL, 0, 4, h, &n)); /* never syntax */
  CHECK_INT(n, 1);
  CHECK_OK(store_lore_fts(s, "?? !!", NULL, 0, 4, h, &n));
  CHECK_INT(n, 0);
  /* Putting the source again replaces its chunks, vectors included. */
  int64_t again = 0;
  CHECK_OK(store_lore_source_put(s, "/lore/a.md", "w", "markdown", "h2", 11, &again));
  CHECK_INT(again, src);
  CHECK_INT(count(s, "SELECT count(*) FROM lore_chunks"), 0);
  CHECK_INT(count(s, "SELECT count(*) FROM vectors"), 0);
  CHECK_OK(store_lore_fts(s, "aaargh", NULL, 0, 4, h, &n));
  CHECK_INT(n, 0);
  c.wi = true;
  c.keys = "castle";
  CHECK_OK(store_lore_chunk_add(s, src, &c, &cid));
  int nwi = 0;
  CHECK_OK(store_lore_wi_each(s, w, 1, count_chunk, &nwi));
  CHECK_INT(nwi, 1);
  nwi = 0;
  CHECK_OK(store_lore_wi_each(s, x, 1, count_chunk, &nwi));
  CHECK_INT(nwi, 0);
  CHECK_OK(store_lore_source_delete(s, src));
  CHECK_INT(count(s, "SELECT count(*) FROM lore_chunks"), 0);
  CHECK(store_lore_source_delete(s, src) == MIMIC_ENOTFOUND);
  err_clear();
  /* Messages keep emoji searchable too (migration 4 rebuilt their index). */
  store_msg m = msg(300, 9, "that was 🔥 <:kek_w:123>");
  CHECK_OK(store_msg_upsert(s, &m, NULL));
  CHECK_OK(store_msg_fts_recall(s, "🔥", 1, 0, 4, h, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_msg_fts_recall(s, "kek_w", 1, 0, 4, h, &n));
  CHECK_INT(n, 1);
  store_close(s);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_vec_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(simd_matches_scalar);
  RUN(quantize_round_trip);
  RUN(planes_and_coarse_dot);
  RUN(prefilter_bound_holds);
  RUN(search_matches_float64_oracle);
  RUN(prefilter_matches_exhaustive);
  RUN(prefilter_ties);
  RUN(cache_follows_another_connection);
  RUN(bad_vectors_refused);
  RUN(vectors_go_with_their_text);
  RUN(lore_sources_replace_and_delete);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) return 1;
  TEST_MAIN_END();
}
