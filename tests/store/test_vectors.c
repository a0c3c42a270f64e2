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
  RUN(search_matches_float64_oracle);
  RUN(cache_follows_another_connection);
  RUN(bad_vectors_refused);
  RUN(vectors_go_with_their_text);
  RUN(lore_sources_replace_and_delete);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) return 1;
  TEST_MAIN_END();
}
