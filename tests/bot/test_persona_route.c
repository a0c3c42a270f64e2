/* Who answers among the personas (bot/persona_route.h): reply-to-persona, name-addressed, DM
 * choice, keyword, regex, relevance with given vectors, freewill with a seeded generator and ties
 * to the quietest, channel lists, a persona never answering itself, max_answer. */
#include <string.h>

#include "base/base.h"
#include "bot/persona_route.h"
#include "test.h"

#define DIM 4

static const char *glordon_alias[] = {"glord", "the potato"};
static const char *glordon_kw[] = {"potato", "earthling"};
static const char *elio_kw[] = {"space", "aliens"};
static const char *elio_re[] = {"\\bcommunicat(e|or)s?\\b", "((bad"};
static const float v_glordon[DIM] = {1, 0, 0, 0};
static const float v_elio[DIM] = {0, 1, 0, 0};
static const uint64_t only_55[] = {55};

static proute_set *mk(double fw_glordon, double fw_elio, double fw_olga) {
  proute_persona p[3] = {
      {.id = 1,
       .name = "Glordon",
       .aliases = glordon_alias,
       .n_aliases = 2,
       .keywords = glordon_kw,
       .n_keywords = 2,
       .freewill = fw_glordon,
       .vec = v_glordon},
      {.id = 2,
       .name = "Elio",
       .keywords = elio_kw,
       .n_keywords = 2,
       .regexes = elio_re,
       .n_regexes = 2,
       .freewill = fw_elio,
       .vec = v_elio},
      {.id = 3, .name = "Olga", .channels = only_55, .n_channels = 1, .freewill = fw_olga},
  };
  proute_set *s = NULL;
  return proute_set_new(p, 3, DIM, &s) == 0 ? s : NULL;
}

static proute_msg msg(const char *text) {
  return (proute_msg){
      .channel_id = 11, .content = text, .relevance_threshold = 0.3, .max_answer = 1};
}

static int64_t one(const proute_set *s, const proute_msg *m, proute_why *why) {
  proute_pick p[4];
  prng r;
  prng_seed(&r, 7);
  size_t n = proute_decide(s, m, &r, p, 4);
  *why = n ? p[0].why : PROUTE_NONE;
  return n ? p[0].id : 0;
}

TEST(addressing_by_name) {
  CHECK(proute_addressed("Glordon, what is that?", "Glordon"));
  CHECK(proute_addressed("@glordon look", "Glordon"));
  CHECK(proute_addressed("hey glordon", "Glordon"));
  CHECK(proute_addressed("Hey, Glordon! come here", "Glordon"));
  CHECK(proute_addressed("what do you think, Glordon?", "Glordon"));
  CHECK(proute_addressed("first line\nglordon you there", "Glordon"));
  CHECK(proute_addressed("glordon", "Glordon"));
  CHECK(!proute_addressed("I like Glordon's hat", "Glordon"));
  CHECK(!proute_addressed("glordonian culture", "Glordon"));
  CHECK(!proute_addressed("so, glordon is weird", "Glordon"));
  CHECK(!proute_addressed("", "Glordon"));
}

TEST(the_stages_in_order) {
  proute_set *s = mk(0, 0, 0);
  REQUIRE(s);
  CHECK_INT(proute_set_count(s), 3);
  CHECK_INT(proute_set_bad_patterns(s), 1); /* "((bad" */
  CHECK_INT(proute_set_find(s, "THE POTATO"), 1);
  CHECK_INT(proute_set_find(s, "elio"), 2);
  CHECK_INT(proute_set_find(s, "nobody"), 0);
  CHECK_STR(proute_set_name(s, 2), "Elio");
  proute_why why;
  /* a reply to Elio's message goes to Elio, even when it names Glordon */
  proute_msg m = msg("Glordon, look");
  m.reply_to_persona = 2;
  CHECK_INT(one(s, &m, &why), 2);
  CHECK_INT(why, PROUTE_REPLY);
  /* addressed by name or alias */
  m = msg("glord, what's up");
  CHECK_INT(one(s, &m, &why), 1);
  CHECK_INT(why, PROUTE_NAME);
  /* keyword (whole word), then regex */
  m = msg("I saw ALIENS yesterday");
  CHECK_INT(one(s, &m, &why), 2);
  CHECK_INT(why, PROUTE_KEYWORD);
  m = msg("the potatoes");
  CHECK_INT(one(s, &m, &why), 0);
  m = msg("we should Communicate more");
  CHECK_INT(one(s, &m, &why), 0); /* case matters in a regex unless it says (?i) */
  m = msg("we should communicate more");
  CHECK_INT(one(s, &m, &why), 2);
  CHECK_INT(why, PROUTE_REGEX);
  /* nothing calls anyone */
  m = msg("nice weather");
  CHECK_INT(one(s, &m, &why), 0);
  CHECK_STR(proute_why_name(PROUTE_RELEVANCE), "relevance");
  CHECK_STR(proute_why_name(PROUTE_SCENE), "scene");
  proute_set_destroy(s);
}

TEST(dms_channels_and_self) {
  proute_set *s = mk(1, 1, 1);
  REQUIRE(s);
  proute_why why;
  /* in a DM the chosen persona answers; keywords and freewill do not apply */
  proute_msg m = msg("tell me about space");
  m.is_dm = true;
  m.dm_choice = 1;
  CHECK_INT(one(s, &m, &why), 1);
  CHECK_INT(why, PROUTE_DM);
  m.dm_choice = 0;
  CHECK_INT(one(s, &m, &why), 0);
  /* a name still calls in a DM */
  m = msg("Elio, hi");
  m.is_dm = true;
  m.dm_choice = 1;
  CHECK_INT(one(s, &m, &why), 2);
  proute_set_destroy(s);
  s = mk(0, 0, 0);
  REQUIRE(s);
  /* Olga speaks only in channel 55 (and its threads) */
  m = msg("olga?");
  CHECK_INT(one(s, &m, &why), 0);
  m.channel_id = 90;
  m.parent_id = 55;
  CHECK_INT(one(s, &m, &why), 3);
  /* a persona never answers itself; a persona's message calls only by address */
  m = msg("Glordon, Elio here");
  m.author_persona = 1;
  CHECK_INT(one(s, &m, &why), 0);
  m = msg("space is big");
  m.author_persona = 1;
  m.triggers_only_addressed = true;
  CHECK_INT(one(s, &m, &why), 0);
  proute_set_destroy(s);
}

TEST(relevance_with_given_vectors) {
  proute_set *s = mk(0, 0, 0);
  REQUIRE(s);
  proute_why why;
  float near_elio[DIM] = {0.2f, 0.9f, 0.1f, 0};
  float nobody[DIM] = {0, 0, 0, 1};
  proute_msg m = msg("what lies beyond the stars");
  m.vec = near_elio;
  proute_pick p[3];
  prng r;
  prng_seed(&r, 1);
  m.max_answer = 3;
  size_t n = proute_decide(s, &m, &r, p, 3);
  CHECK_INT(n, 1); /* Glordon's cosine is ~0.21, under 0.3 */
  CHECK_INT(p[0].id, 2);
  CHECK_INT(p[0].why, PROUTE_RELEVANCE);
  CHECK(p[0].score > 0.9);
  m.relevance_threshold = 0.1;
  n = proute_decide(s, &m, &r, p, 3);
  CHECK_INT(n, 2);
  CHECK_INT(p[1].id, 1); /* best first */
  m.vec = nobody;
  m.max_answer = 1;
  CHECK_INT(one(s, &m, &why), 0);
  /* no encoder: relevance is skipped */
  m.vec = NULL;
  CHECK_INT(one(s, &m, &why), 0);
  proute_set_destroy(s);
}

static int64_t quiet_of(void *user, int64_t id) {
  const int64_t *last = user;
  return last[id];
}

TEST(freewill_with_a_seeded_generator) {
  proute_set *s = mk(1.0, 1.0, 0);
  REQUIRE(s);
  int64_t last[4] = {0, 500, 100, 0}; /* Elio has been quieter */
  proute_msg m = msg("nice weather");
  m.last_spoke = quiet_of;
  m.user = last;
  proute_pick p[2];
  prng r;
  prng_seed(&r, 42);
  CHECK_INT(proute_decide(s, &m, &r, p, 2), 1);
  CHECK_INT(p[0].id, 2);
  CHECK_INT(p[0].why, PROUTE_FREEWILL);
  last[2] = 900;
  CHECK_INT(proute_decide(s, &m, &r, p, 2), 1);
  CHECK_INT(p[0].id, 1);
  m.max_answer = 2;
  CHECK_INT(proute_decide(s, &m, &r, p, 2), 2);
  proute_set_destroy(s);
  /* freewill 0.5: the same seed gives the same answers; about half answer */
  s = mk(0.5, 0, 0);
  REQUIRE(s);
  m.max_answer = 1;
  prng_seed(&r, 9);
  int yes = 0;
  for (int i = 0; i < 1000; i++) yes += proute_decide(s, &m, &r, p, 2) == 1;
  CHECK(yes > 400 && yes < 600);
  prng r2;
  prng_seed(&r2, 9);
  int yes2 = 0;
  for (int i = 0; i < 1000; i++) yes2 += proute_decide(s, &m, &r2, p, 2) == 1;
  CHECK_INT(yes, yes2);
  proute_set_destroy(s);
}

TEST(bad_snapshots_are_refused) {
  proute_persona p = {.id = 0, .name = "x"};
  proute_set *s = NULL;
  CHECK_INT(proute_set_new(&p, 1, 0, &s), MIMIC_EINVAL);
  CHECK(s == NULL);
  p.id = 1;
  p.name = "";
  CHECK_INT(proute_set_new(&p, 1, 0, &s), MIMIC_EINVAL);
  CHECK_OK(proute_set_new(NULL, 0, 0, &s));
  proute_msg m = msg("Glordon, hi");
  proute_pick pk[1];
  CHECK_INT(proute_decide(s, &m, NULL, pk, 1), 0);
  proute_set_destroy(s);
}

int main(void) {
  RUN(addressing_by_name);
  RUN(the_stages_in_order);
  RUN(dms_channels_and_self);
  RUN(relevance_with_given_vectors);
  RUN(freewill_with_a_seeded_generator);
  RUN(bad_snapshots_are_refused);
  TEST_MAIN_END();
}
