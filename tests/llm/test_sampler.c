/* Tests for the sampler (sampler.h) and the stop-string text stream (stop.h): each property is
 * checked against a plain reference (full sort + softmax) on random logits, so a wrong selection,
 * an off-by-one prefix or a broken seed fails here. */
#include "base/base.h"
#include "llm/sampler.h"
#include "llm/stop.h"
#include "test.h"

static void fill_random(float *l, int n, uint64_t seed, float scale) {
  prng r;
  prng_seed(&r, seed);
  for (int i = 0; i < n; i++) l[i] = (float)((prng_uniform(&r) * 2 - 1) * scale);
}

static llm_sampling plain(void) {
  llm_sampling p;
  llm_sampling_default(&p);
  p.temperature = 1;
  p.top_k = 0;
  p.top_p = 1;
  p.min_p = 0;
  p.repeat_penalty = 1;
  p.repeat_last_n = 0;
  p.seed = 42;
  return p;
}

/* Reference: probabilities of a full softmax, and indices sorted by descending probability. */
static int ref_order_cmp_data(const void *a, const void *b, const float *l) {
  int i = *(const int *)a, j = *(const int *)b;
  if (l[i] > l[j]) return -1;
  if (l[i] < l[j]) return 1;
  return i < j ? -1 : i > j;
}
static const float *g_ref_l;
static int ref_cmp(const void *a, const void *b) { return ref_order_cmp_data(a, b, g_ref_l); }
static void ref_sorted(const float *l, int n, int *idx) {
  for (int i = 0; i < n; i++) idx[i] = i;
  g_ref_l = l;
  qsort(idx, (size_t)n, sizeof *idx, ref_cmp);
}
static void ref_softmax(const float *l, int n, double *p) {
  double m = l[llm_argmax(l, n)], s = 0;
  for (int i = 0; i < n; i++) s += (p[i] = exp((double)l[i] - m));
  for (int i = 0; i < n; i++) p[i] /= s;
}

TEST(rng_is_reproducible_and_seed_dependent) {
  prng a, b, c;
  prng_seed(&a, 7);
  prng_seed(&b, 7);
  prng_seed(&c, 8);
  int same_ab = 1, same_ac = 1;
  for (int i = 0; i < 100; i++) {
    uint64_t x = prng_next(&a), y = prng_next(&b), z = prng_next(&c);
    same_ab &= x == y;
    same_ac &= x == z;
  }
  CHECK(same_ab);
  CHECK(!same_ac);
  double sum = 0;
  for (int i = 0; i < 10000; i++) {
    double u = prng_uniform(&a);
    CHECK(u >= 0 && u < 1);
    sum += u;
  }
  CHECK_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(greedy_and_top_k1_are_argmax) {
  enum { V = 5000 };
  float *l = xalloc(V * sizeof *l);
  llm_sampling p = plain();
  p.temperature = 0;
  llm_sampler *g = NULL, *k1 = NULL;
  CHECK_OK(llm_sampler_new(&p, V, &g));
  p.temperature = 1.5f;
  p.top_k = 1;
  CHECK_OK(llm_sampler_new(&p, V, &k1));
  REQUIRE(g && k1);
  for (int row = 0; row < 50; row++) {
    fill_random(l, V, (uint64_t)row, 5);
    int32_t am = llm_argmax(l, V);
    CHECK_INT(llm_sampler_sample(g, l), am);
    CHECK_INT(llm_sampler_sample(k1, l), am);
  }
  llm_sampler_destroy(g);
  llm_sampler_destroy(k1);
  mem_free(l);
}

TEST(top_k_keeps_exactly_the_k_largest) {
  enum { V = 20000 };
  float *l = xalloc(V * sizeof *l);
  int *idx = xalloc(V * sizeof *idx);
  const int ks[] = {2, 7, 40, 1000, 19999};
  for (size_t t = 0; t < sizeof ks / sizeof ks[0]; t++) {
    llm_sampling p = plain();
    p.top_k = ks[t];
    llm_sampler *s = NULL;
    REQUIRE(llm_sampler_new(&p, V, &s) == 0);
    fill_random(l, V, 100 + t, 3);
    for (int i = 0; i < V; i += 97) l[i] = 1.0f; /* ties */
    ref_sorted(l, V, idx);
    const llm_cand *c;
    size_t n;
    llm_sampler_dist(s, l, &c, &n);
    CHECK_INT(n, ks[t]);
    int ok = 1;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
      ok &= c[i].id == idx[i];
      sum += c[i].p;
      if (i) ok &= c[i - 1].p >= c[i].p;
    }
    CHECK(ok);
    CHECK_NEAR(sum, 1.0, 1e-4);
    llm_sampler_destroy(s);
  }
  mem_free(idx);
  mem_free(l);
}

TEST(top_p_keeps_the_smallest_prefix_reaching_p) {
  enum { V = 30000 };
  float *l = xalloc(V * sizeof *l);
  int *idx = xalloc(V * sizeof *idx);
  double *pr = xalloc(V * sizeof *pr);
  const float ps[] = {0.05f, 0.5f, 0.9f, 0.99f};
  for (size_t t = 0; t < sizeof ps / sizeof ps[0]; t++) {
    llm_sampling p = plain();
    p.top_p = ps[t];
    llm_sampler *s = NULL;
    REQUIRE(llm_sampler_new(&p, V, &s) == 0);
    fill_random(l, V, 200 + t, 8); /* peaked enough that the prefix is short for small p */
    ref_sorted(l, V, idx);
    ref_softmax(l, V, pr);
    const llm_cand *c;
    size_t n;
    llm_sampler_dist(s, l, &c, &n);
    REQUIRE(n >= 1);
    double cum = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
      ok &= c[i].id == idx[i];
      if (i + 1 < n) cum += pr[idx[i]];
    }
    CHECK(ok);
    CHECK(cum < ps[t]);                          /* one token fewer would not reach p */
    CHECK(cum + pr[idx[n - 1]] >= ps[t] - 1e-6); /* this prefix does */
    llm_sampler_destroy(s);
  }
  mem_free(pr);
  mem_free(idx);
  mem_free(l);
}

TEST(min_p_drops_tokens_below_the_scaled_max) {
  enum { V = 10000 };
  float *l = xalloc(V * sizeof *l);
  double *pr = xalloc(V * sizeof *pr);
  llm_sampling p = plain();
  p.min_p = 0.1f;
  llm_sampler *s = NULL;
  REQUIRE(llm_sampler_new(&p, V, &s) == 0);
  fill_random(l, V, 300, 6);
  ref_softmax(l, V, pr);
  double pmax = pr[llm_argmax(l, V)];
  size_t expect = 0;
  for (int i = 0; i < V; i++) expect += pr[i] >= pmax * 0.1 * (1 + 1e-6);
  const llm_cand *c;
  size_t n;
  llm_sampler_dist(s, l, &c, &n);
  CHECK(n >= expect && n <= expect + 2); /* float rounding at the threshold only */
  int ok = 1;
  for (size_t i = 0; i < n; i++) ok &= pr[c[i].id] >= pmax * 0.1 * (1 - 1e-4);
  CHECK(ok);
  CHECK(n < V / 2);
  llm_sampler_destroy(s);
  mem_free(pr);
  mem_free(l);
}

TEST(draws_follow_the_distribution) {
  float l[4] = {logf(0.5f), logf(0.25f), logf(0.15f), logf(0.10f)};
  llm_sampling p = plain();
  p.seed = 1234;
  llm_sampler *s = NULL;
  REQUIRE(llm_sampler_new(&p, 4, &s) == 0);
  int count[4] = {0};
  enum { N = 20000 };
  for (int i = 0; i < N; i++) count[llm_sampler_sample(s, l)]++;
  /* 5 standard deviations of a binomial at N = 20000 is < 0.018 for every p here. */
  CHECK_NEAR(count[0] / (double)N, 0.50, 0.018);
  CHECK_NEAR(count[1] / (double)N, 0.25, 0.018);
  CHECK_NEAR(count[2] / (double)N, 0.15, 0.018);
  CHECK_NEAR(count[3] / (double)N, 0.10, 0.018);
  llm_sampler_destroy(s);
}

TEST(temperature_sharpens_and_flattens) {
  float l[3] = {2, 1, 0};
  double pmax[3];
  const float temps[3] = {0.5f, 1.0f, 2.0f};
  for (int t = 0; t < 3; t++) {
    llm_sampling p = plain();
    p.temperature = temps[t];
    llm_sampler *s = NULL;
    REQUIRE(llm_sampler_new(&p, 3, &s) == 0);
    const llm_cand *c;
    size_t n;
    llm_sampler_dist(s, l, &c, &n);
    CHECK_INT(n, 3);
    pmax[t] = c[0].p;
    llm_sampler_destroy(s);
  }
  CHECK(pmax[0] > pmax[1] && pmax[1] > pmax[2]);
  CHECK_NEAR(pmax[1], exp(2) / (exp(2) + exp(1) + 1), 1e-5);
}

static void draw_seq(uint64_t seed, int32_t *out, int n) {
  enum { V = 1000 };
  float l[V];
  fill_random(l, V, 9, 0.5f); /* nearly flat: sequences differ quickly across seeds */
  llm_sampling p = plain();
  p.seed = seed;
  p.top_k = 100;
  llm_sampler *s = NULL;
  if (llm_sampler_new(&p, V, &s)) return;
  for (int i = 0; i < n; i++) out[i] = llm_sampler_sample(s, l);
  llm_sampler_destroy(s);
}

TEST(same_seed_same_sequence_different_seed_different) {
  int32_t a[64], b[64], c[64];
  draw_seq(5, a, 64);
  draw_seq(5, b, 64);
  draw_seq(6, c, 64);
  CHECK(memcmp(a, b, sizeof a) == 0);
  CHECK(memcmp(a, c, sizeof a) != 0);
  /* reset replays the same seed */
  float l[50];
  fill_random(l, 50, 3, 0.1f);
  llm_sampling p = plain();
  p.seed = 99;
  llm_sampler *s = NULL;
  REQUIRE(llm_sampler_new(&p, 50, &s) == 0);
  int32_t x[20], y[20];
  for (int i = 0; i < 20; i++) x[i] = llm_sampler_sample(s, l);
  llm_sampler_reset(s);
  for (int i = 0; i < 20; i++) y[i] = llm_sampler_sample(s, l);
  CHECK(memcmp(x, y, sizeof x) == 0);
  CHECK_INT(llm_sampler_seed(s), 99);
  llm_sampler_destroy(s);
}

TEST(repetition_penalty_lowers_repeated_tokens) {
  float l[4] = {2.0f, 1.9f, -1.0f, -1.1f};
  llm_sampling p = plain();
  p.repeat_penalty = 2.0f;
  p.repeat_last_n = 3;
  llm_sampler *s = NULL;
  REQUIRE(llm_sampler_new(&p, 4, &s) == 0);
  const llm_cand *c;
  size_t n;
  llm_sampler_dist(s, l, &c, &n);
  CHECK_INT(c[0].id, 0);
  double p0_before = c[0].p;
  llm_sampler_accept(s, 0);
  llm_sampler_accept(s, 0); /* counted once */
  llm_sampler_accept(s, 2);
  llm_sampler_dist(s, l, &c, &n);
  CHECK_INT(c[0].id, 1); /* 2.0 / 2 = 1.0 < 1.9 */
  for (size_t i = 0; i < n; i++) {
    if (c[i].id == 0) {
      CHECK_NEAR(c[i].logit, 1.0, 1e-6);
      CHECK(c[i].p < p0_before);
    }
    if (c[i].id == 2) CHECK_NEAR(c[i].logit, -2.0, 1e-6); /* negative: multiplied */
  }
  /* The window is 3 tokens: three more accepts push 0 and 2 out of it. */
  llm_sampler_accept(s, 3);
  llm_sampler_accept(s, 3);
  llm_sampler_accept(s, 3);
  llm_sampler_dist(s, l, &c, &n);
  CHECK_INT(c[0].id, 0);
  llm_sampler_destroy(s);
}

TEST(large_vocab_with_nan_and_defaults) {
  enum { V = 152000 };
  float *l = xalloc(V * sizeof *l);
  fill_random(l, V, 77, 10);
  l[5] = NAN;
  l[123456] = 50; /* a clear winner */
  llm_sampling p;
  llm_sampling_default(&p);
  p.seed = 1;
  llm_sampler *s = NULL;
  REQUIRE(llm_sampler_new(&p, V, &s) == 0);
  for (int i = 0; i < 20; i++) CHECK_INT(llm_sampler_sample(s, l), 123456);
  const llm_cand *c;
  size_t n;
  llm_sampler_dist(s, l, &c, &n);
  CHECK_INT(n, 1); /* min-p 0.05 removes everything far below the winner */
  llm_sampler_destroy(s);
  mem_free(l);
}

TEST(bad_parameters_are_rejected) {
  llm_sampling p = plain();
  llm_sampler *s = NULL;
  p.top_p = 1.5f;
  CHECK_INT(llm_sampler_new(&p, 10, &s), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "top_p") != NULL);
  p = plain();
  p.repeat_last_n = -1;
  CHECK_INT(llm_sampler_new(&p, 10, &s), MIMIC_EINVAL);
  p = plain();
  CHECK_INT(llm_sampler_new(&p, 0, &s), MIMIC_EINVAL);
  CHECK(s == NULL);
  p.temperature = NAN;
  CHECK_INT(llm_sampling_check(&p), MIMIC_EINVAL);
}

/* ---- stop strings ---- */

typedef struct sink {
  char text[256];
  size_t len;
  int calls;
  int cancel_after; /* 0 = never */
} sink;

static int sink_emit(void *user, const char *t, size_t n) {
  sink *k = user;
  CHECK(n > 0);
  CHECK(utf8_valid(t, n));
  if (k->len + n < sizeof k->text) {
    memcpy(k->text + k->len, t, n);
    k->len += n;
    k->text[k->len] = 0;
  }
  k->calls++;
  return k->cancel_after && k->calls >= k->cancel_after;
}

static int feed_all(llm_stop *s, const char *const *pieces, size_t n, sink *k) {
  for (size_t i = 0; i < n; i++) {
    int rc = llm_stop_feed(s, pieces[i], strlen(pieces[i]), sink_emit, k);
    if (rc) return rc;
  }
  return llm_stop_finish(s, sink_emit, k);
}

TEST(stop_string_split_across_tokens_is_cut_and_not_emitted) {
  const char *stops[] = {"\nUser:", "<|im_end|>"};
  llm_stop s;
  REQUIRE(llm_stop_init(&s, stops, 2) == 0);
  sink k = {0};
  const char *pieces[] = {"Hello", " wo", "rld\n", "Us", "er: more", " text"};
  int rc = 0;
  size_t i = 0;
  for (; i < 6 && rc == 0; i++) {
    rc = llm_stop_feed(&s, pieces[i], strlen(pieces[i]), sink_emit, &k);
    if (i == 2) CHECK_STR(k.text, "Hello world"); /* "\n" held back: could start "\nUser:" */
  }
  CHECK_INT(rc, 1);
  CHECK_INT(i, 5); /* stopped on "er: more" */
  CHECK_STR(k.text, "Hello world");
  CHECK_STR(llm_stop_text(&s, NULL), "Hello world");
  CHECK_INT(llm_stop_feed(&s, "x", 1, sink_emit, &k), 1); /* stays stopped */
  CHECK_STR(k.text, "Hello world");
  llm_stop_free(&s);
}

TEST(stop_prefix_that_does_not_complete_is_emitted) {
  const char *stops[] = {"<|im_end|>"};
  llm_stop s;
  REQUIRE(llm_stop_init(&s, stops, 1) == 0);
  sink k = {0};
  const char *pieces[] = {"a <|im", "_", "fine", "<|im_e"};
  CHECK_INT(feed_all(&s, pieces, 4, &k), 0); /* ends by finish (e.g. an EOG token) */
  CHECK_STR(k.text, "a <|im_fine<|im_e");
  llm_stop_free(&s);
}

TEST(earliest_stop_wins_within_one_piece) {
  const char *stops[] = {"BBB", "A"};
  llm_stop s;
  REQUIRE(llm_stop_init(&s, stops, 2) == 0);
  sink k = {0};
  const char *pieces[] = {"xxBBBA"};
  CHECK_INT(feed_all(&s, pieces, 1, &k), 1);
  CHECK_STR(k.text, "xx");
  llm_stop_free(&s);
}

TEST(utf8_split_across_tokens_is_emitted_whole) {
  llm_stop s;
  REQUIRE(llm_stop_init(&s, NULL, 0) == 0);
  sink k = {0};
  /* 💀 = F0 9F 92 80 split over three tokens; then a stray continuation byte (dropped: generated
   * text never shows U+FFFD) and the start of a character at the very end, which the end of the
   * generation drops. */
  const char *pieces[] = {"ok \xF0", "\x9F", "\x92\x80!", "\x80", "z\xE2\x82"};
  CHECK_INT(feed_all(&s, pieces, 5, &k), 0);
  CHECK_STR(k.text, "ok \xF0\x9F\x92\x80!z");
  /* The skull arrived as one piece, never split. */
  CHECK(strstr(k.text, "\xF0\x9F\x92\x80") != NULL);
  llm_stop_free(&s);
}

TEST(consumer_cancel_and_caps) {
  llm_stop s;
  REQUIRE(llm_stop_init(&s, NULL, 0) == 0);
  sink k = {.cancel_after = 2};
  CHECK_INT(llm_stop_feed(&s, "a", 1, sink_emit, &k), 0);
  CHECK_INT(llm_stop_feed(&s, "b", 1, sink_emit, &k), MIMIC_ECANCELLED);
  CHECK_INT(llm_stop_feed(&s, "c", 1, sink_emit, &k), MIMIC_ECANCELLED);
  CHECK_STR(k.text, "ab");
  llm_stop_free(&s);

  char longstop[LLM_STOP_MAX_LEN + 2];
  memset(longstop, 'x', sizeof longstop - 1);
  longstop[sizeof longstop - 1] = 0;
  const char *bad[] = {longstop};
  CHECK_INT(llm_stop_init(&s, bad, 1), MIMIC_ERANGE);
  const char *inval[] = {"ok", "\xFF"};
  CHECK_INT(llm_stop_init(&s, inval, 2), MIMIC_EINVAL);
  const char *many[LLM_STOP_MAX + 1];
  for (int i = 0; i <= LLM_STOP_MAX; i++) many[i] = "s";
  CHECK_INT(llm_stop_init(&s, many, LLM_STOP_MAX + 1), MIMIC_ERANGE);
  llm_stop_free(&s); /* harmless after a failed init */
}

int main(void) {
  RUN(rng_is_reproducible_and_seed_dependent);
  RUN(greedy_and_top_k1_are_argmax);
  RUN(top_k_keeps_exactly_the_k_largest);
  RUN(top_p_keeps_the_smallest_prefix_reaching_p);
  RUN(min_p_drops_tokens_below_the_scaled_max);
  RUN(draws_follow_the_distribution);
  RUN(temperature_sharpens_and_flattens);
  RUN(same_seed_same_sequence_different_seed_different);
  RUN(repetition_penalty_lowers_repeated_tokens);
  RUN(large_vocab_with_nan_and_defaults);
  RUN(bad_parameters_are_rejected);
  RUN(stop_string_split_across_tokens_is_cut_and_not_emitted);
  RUN(stop_prefix_that_does_not_complete_is_emitted);
  RUN(earliest_stop_wins_within_one_piece);
  RUN(utf8_split_across_tokens_is_emitted_whole);
  RUN(consumer_cancel_and_caps);
  TEST_MAIN_END();
}
