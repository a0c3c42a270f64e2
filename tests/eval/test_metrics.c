/* Style metrics: properties that must hold (identical sets, disjoint sets), small cases worked out
 * by hand, the surface-marker classifiers on typical Discord lines, and the copy rate on planted
 * verbatim copies. */
#include "base/base.h"
#include "eval/eval.h"
#include "test.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

TEST(jsd_properties_and_hand_case) {
  double p[3] = {1, 2, 3}, q[3] = {2, 4, 6}; /* same distribution, different scale */
  CHECK_NEAR(eval_jsd(p, q, 3), 0, 1e-12);
  double a[2] = {1, 0}, b[2] = {0, 1};
  CHECK_NEAR(eval_jsd(a, b, 2), 1, 1e-12);
  /* p=(1,0), q=(.5,.5): m=(.75,.25); KL(p|m)=log2(4/3); KL(q|m)=.5log2(2/3)+.5log2(2) */
  double c[2] = {0.5, 0.5};
  double want = 0.5 * (log2(4.0 / 3) + 0.5 * log2(2.0 / 3) + 0.5);
  CHECK_NEAR(eval_jsd(a, c, 2), want, 1e-12);
  CHECK_NEAR(eval_jsd(a, c, 2), eval_jsd(c, a, 2), 1e-15); /* symmetric */
  double z[2] = {0, 0};
  CHECK_NEAR(eval_jsd(z, z, 2), 0, 0);
  CHECK_NEAR(eval_jsd(a, z, 2), 1, 0);
}

TEST(distinct_n_hand_cases) {
  const char *m1[] = {"a b a b"};
  double d;
  CHECK_OK(eval_distinct(m1, 1, 1, &d));
  CHECK_NEAR(d, 0.5, 1e-12);
  CHECK_OK(eval_distinct(m1, 1, 2, &d)); /* ab ba ab */
  CHECK_NEAR(d, 2.0 / 3, 1e-12);
  const char *m2[] = {"Hey hey HEY"}; /* case-folded */
  CHECK_OK(eval_distinct(m2, 1, 1, &d));
  CHECK_NEAR(d, 1.0 / 3, 1e-12);
  const char *m3[] = {"lol \xF0\x9F\x98\x82\xF0\x9F\x98\x82"}; /* lol 😂😂: each emoji is a word */
  CHECK_OK(eval_distinct(m3, 1, 1, &d));
  CHECK_NEAR(d, 2.0 / 3, 1e-12);
  const char *m4[] = {"one", "two"}; /* bigrams never cross messages */
  CHECK_OK(eval_distinct(m4, 2, 2, &d));
  CHECK_NEAR(d, 0, 0);
  const char *m5[] = {"don't stop", "DON'T STOP", "don\xE2\x80\x99t stop"}; /* ’ = ' */
  CHECK_OK(eval_distinct(m5, 3, 2, &d));
  CHECK_NEAR(d, 1.0 / 3, 1e-12);
  CHECK(eval_distinct(m1, 1, 0, &d) == MIMIC_EINVAL);
}

TEST(tfidf_identical_disjoint_and_ordering) {
  const char *a[] = {"yo whats up", "lmao no way", "ngl that slaps fr"};
  const char *a2[] = {"lmao no way", "ngl that slaps fr", "yo whats up"}; /* same set, reordered */
  double c;
  CHECK_OK(eval_tfidf_cosine(a, 3, a2, 3, &c));
  CHECK_NEAR(c, 1, 1e-9);
  const char *x[] = {"aaaa", "aaa aa"}, *y[] = {"bbbb", "bb bbb"};
  CHECK_OK(eval_tfidf_cosine(x, 2, y, 2, &c));
  CHECK_NEAR(c, 0, 1e-12);
  /* a near paraphrase in the same voice scores above a formal rewrite */
  const char *near[] = {"yo whats up guys", "lmao no way bro", "ngl that slaps"};
  const char *far[] = {"Good evening, everyone.", "I must respectfully disagree.",
                       "That is excellent."};
  double cn, cf;
  CHECK_OK(eval_tfidf_cosine(a, 3, near, 3, &cn));
  CHECK_OK(eval_tfidf_cosine(a, 3, far, 3, &cf));
  CHECK(cn > cf);
  CHECK(cn < 1);
  CHECK_OK(eval_tfidf_cosine(a, 3, y, 0, &c)); /* empty side */
  CHECK_NEAR(c, 0, 0);
}

TEST(vocab_jaccard_hand_case) {
  const char *a[] = {"the cat sat"}, *b[] = {"The dog SAT"};
  double j;
  CHECK_OK(eval_vocab_jaccard(a, 1, b, 1, &j)); /* {the,sat} / {the,cat,sat,dog} */
  CHECK_NEAR(j, 0.5, 1e-12);
  CHECK_OK(eval_vocab_jaccard(a, 1, a, 1, &j));
  CHECK_NEAR(j, 1, 0);
  CHECK_OK(eval_vocab_jaccard(a, 0, b, 0, &j));
  CHECK_NEAR(j, 0, 0);
}

TEST(len_ks_and_histogram) {
  const char *a[] = {"hi", "hey", "ok"}, *b[] = {"this one is much much longer than the others",
                                                 "another long line of chat text"};
  CHECK_NEAR(eval_len_ks(a, 3, a, 3), 0, 0);
  CHECK_NEAR(eval_len_ks(a, 3, b, 2), 1, 0);
  eval_style st;
  CHECK_OK(eval_style_compute(a, 3, &st));
  CHECK_NEAR(st.len_hist[0], 1, 1e-12); /* all under 5 code points */
  CHECK_NEAR(st.len_mean, 7.0 / 3, 1e-12);
  const char *u[] = {"\xC3\xA9t\xC3\xA9\xE2\x9C\xA8"}; /* été✨: 4 code points, 9 bytes */
  CHECK_INT(eval_msg_len(u[0]), 4);
}

TEST(surface_markers) {
  struct {
    const char *s;
    int emoji, caps, lower, run, q, endp;
  } cases[] = {
      {"nice \xF0\x9F\x94\xA5", 1, 0, 1, 0, 0, 0}, /* nice 🔥 (ends with emoji, then 'e') */
      {"gg :pog:", 1, 0, 1, 0, 0, 0},
      {"meet at 10:30:45", 0, 0, 1, 0, 0, 0}, /* times are not :shortcodes: */
      {"<:kek:1234> LMAO", 1, 1, 0, 0, 0, 0},
      {"LETS GOOO!!!", 0, 1, 0, 1, 0, 1},
      {"I", 0, 0, 0, 0, 0, 0},                 /* one letter is not shouting */
      {"\xC3\x89T\xC3\x89", 0, 1, 0, 0, 0, 0}, /* ÉTÉ */
      {"@Ben yeah", 0, 0, 1, 0, 0, 0},         /* the mention's capital is skipped */
      {"Yeah, sure.", 0, 0, 0, 0, 0, 1},
      {"what??", 0, 0, 1, 1, 1, 1},
      {"hm\xE2\x80\xA6", 0, 0, 1, 1, 0, 0},                         /* hm… */
      {"Done. \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD", 1, 0, 0, 0, 0, 1}, /* Done. 👍🏽 */
      {"123 456", 0, 0, 0, 0, 0, 0},
      {"\xFF\xFE broken utf8 ok?", 0, 0, 1, 0, 1, 1},
  };
  for (size_t i = 0; i < N(cases); i++) {
    const char *m[1] = {cases[i].s};
    eval_style st;
    CHECK_OK(eval_style_compute(m, 1, &st));
    if (st.rate_emoji != cases[i].emoji || st.rate_caps != cases[i].caps ||
        st.rate_lower_start != cases[i].lower || st.rate_punct_run != cases[i].run ||
        st.rate_question != cases[i].q || st.rate_end_punct != cases[i].endp) {
      printf("  case %zu \"%s\": emoji %g caps %g lower %g run %g q %g end %g\n", i, cases[i].s,
             st.rate_emoji, st.rate_caps, st.rate_lower_start, st.rate_punct_run, st.rate_question,
             st.rate_end_punct);
      CHECK(0);
    }
  }
  const char *set[] = {"LOL", "lol", "Lol.", "lmao \xF0\x9F\x98\x82"};
  eval_style st;
  CHECK_OK(eval_style_compute(set, 4, &st));
  CHECK_NEAR(st.rate_caps, 0.25, 1e-12);
  CHECK_NEAR(st.rate_lower_start, 0.5, 1e-12);
  CHECK_NEAR(st.rate_emoji, 0.25, 1e-12);
  CHECK_NEAR(st.words_mean, 5.0 / 4, 1e-12);
}

TEST(copy_rate_planted) {
  const char *train[] = {"i swear the boss fight in chapter 3 is rigged", "lol",
                         "meet at the usual spot after raid"};
  const char *gen[] = {
      "i swear  the boss fight in chapter 3 is rigged \n", /* verbatim up to whitespace: a copy */
      "i swear the boss fight in chapter 4 is rigged",     /* one character off: not verbatim */
      "lol",                                               /* verbatim but short: not counted */
      "something new entirely, nobody said this",
  };
  double r;
  size_t k;
  CHECK_OK(eval_copy_rate(gen, 4, train, 3, 10, &r, &k));
  CHECK_INT(k, 1);
  CHECK_NEAR(r, 0.25, 1e-12);
  CHECK_OK(eval_copy_rate(gen, 4, train, 3, 0, &r, &k)); /* no length floor: "lol" counts */
  CHECK_INT(k, 2);
  const char *caseflip[] = {"I SWEAR THE BOSS FIGHT IN CHAPTER 3 IS RIGGED"}; /* case kept */
  CHECK_OK(eval_copy_rate(caseflip, 1, train, 3, 10, &r, &k));
  CHECK_INT(k, 0);
  CHECK_OK(eval_copy_rate(gen, 4, train, 0, 10, &r, &k));
  CHECK_INT(k, 0);
}

TEST(compare_sets_identical) {
  const char *r[] = {"bruh fr", "NO WAY \xF0\x9F\x98\xAD", "ngl that was kinda mid", "ok."};
  eval_compare c;
  CHECK_OK(eval_compare_sets(r, 4, r, 4, r, 4, 5, &c));
  CHECK_NEAR(c.len_jsd, 0, 1e-12);
  CHECK_NEAR(c.len_ks, 0, 0);
  CHECK_NEAR(c.tfidf_cos, 1, 1e-9);
  CHECK_NEAR(c.vocab_jaccard, 1, 0);
  CHECK_NEAR(c.real.distinct1, c.gen.distinct1, 0);
  CHECK_INT(c.copies, 3); /* "ok." is under 5 code points */
  CHECK(isnan(c.embed_cos));
  CHECK_OK(eval_compare_sets(r, 4, r, 4, NULL, 0, 5, &c));
  CHECK(isnan(c.copy_rate));
}

TEST(caps_and_speaker) {
  double d;
  CHECK(eval_distinct(NULL, (size_t)EVAL_MAX_ITEMS + 1, 1, &d) == MIMIC_ERANGE);
  eval_style st;
  CHECK(eval_style_compute(NULL, (size_t)EVAL_MAX_ITEMS + 1, &st) == MIMIC_ERANGE);
  /* a message longer than the cap is read up to the cap only */
  char *big = xalloc(EVAL_MSG_MAX * 2 + 1);
  memset(big, 'a', EVAL_MSG_MAX * 2);
  big[EVAL_MSG_MAX * 2] = 0;
  CHECK_INT(eval_msg_len(big), EVAL_MSG_MAX);
  const char *m[] = {big};
  CHECK_OK(eval_style_compute(m, 1, &st));
  CHECK_NEAR(st.len_hist[EVAL_LEN_BINS - 1], 1, 0);
  mem_free(big);
  CHECK_STR(eval_strip_speaker("Ann: hi there"), "hi there");
  CHECK_STR(eval_strip_speaker("no prefix here"), "no prefix here");
  CHECK_STR(eval_strip_speaker("line one\nBen: two"), "line one\nBen: two");
  char name[16];
  CHECK(eval_speaker("xX_gamer_Xx: gg", name, sizeof name));
  CHECK_STR(name, "xX_gamer_Xx");
  CHECK(!eval_speaker("just text", name, sizeof name));
}

int main(void) {
  RUN(jsd_properties_and_hand_case);
  RUN(distinct_n_hand_cases);
  RUN(tfidf_identical_disjoint_and_ordering);
  RUN(vocab_jaccard_hand_case);
  RUN(len_ks_and_histogram);
  RUN(surface_markers);
  RUN(copy_rate_planted);
  RUN(compare_sets_identical);
  RUN(caps_and_speaker);
  TEST_MAIN_END();
}
