/* Tests for the mini-games' answer checker (case, accents, articles, punctuation, typos scaled by
 * length, digits exact, aliases) and for the parsers of question banks, the model's questions
 * (grounded in their lore passage) and story passages. */
#include <string.h>

#include "base/base.h"
#include "bot/answer_check.h"
#include "bot/game_parse.h"
#include "test.h"

static void norm_is(const char *in, const char *want) {
  char out[512];
  answer_normalize(in, out, sizeof out);
  CHECK_STR(out, want);
}

TEST(normalize_folds_case_accents_articles_and_punctuation) {
  norm_is("  The  Eiffel   Tower! ", "eiffel tower");
  norm_is("Crème Brûlée", "creme brulee");
  norm_is("STRASSE", "strasse");
  norm_is("Straße", "strasse");
  norm_is("Æsir", "aesir");
  norm_is("an apple", "apple");
  norm_is("A", "a"); /* the article alone stays */
  norm_is("the", "the");
  norm_is("Don't stop", "dont stop");
  norm_is("rock’n’roll", "rocknroll");
  norm_is("Jean-Luc Picard", "jean luc picard");
  norm_is("e\xCC\x81toile", "etoile"); /* a combining accent */
  norm_is("\xFF\xFEok", "ok");         /* invalid bytes dropped */
  norm_is("Łódź", "lodz");
  norm_is("", "");
}

TEST(tolerance_grows_with_length) {
  CHECK_INT(answer_tolerance(3), 0);
  CHECK_INT(answer_tolerance(4), 1);
  CHECK_INT(answer_tolerance(7), 1);
  CHECK_INT(answer_tolerance(8), 2);
  CHECK_INT(answer_tolerance(13), 2);
  CHECK_INT(answer_tolerance(30), 3);
}

TEST(distance_counts_code_points_and_swaps) {
  CHECK_INT(answer_distance("kitten", "sitting", 10), 3);
  CHECK_INT(answer_distance("abcd", "abdc", 10), 1); /* a swap is one edit */
  CHECK_INT(answer_distance("é", "e", 10), 1);       /* one code point, two bytes */
  CHECK_INT(answer_distance("same", "same", 0), 0);
  CHECK_INT(answer_distance("aaaaaaaa", "bbbbbbbb", 2), 3); /* stops above the cap */
  CHECK_INT(answer_distance("", "abc", 5), 3);
}

TEST(check_forgives_what_it_should) {
  CHECK(answer_check("paris", "Paris", NULL));
  CHECK(answer_check("PARIS!!", "Paris", NULL));
  CHECK(answer_check("the eiffel tower", "Eiffel Tower", NULL));
  CHECK(answer_check("Eifel Tower", "The Eiffel Tower", NULL)); /* one typo */
  CHECK(answer_check("eiffle towr", "Eiffel Tower", NULL));     /* a swap and a drop */
  CHECK(answer_check("creme brulee", "Crème brûlée", NULL));    /* accents */
  CHECK(answer_check("Mississipi", "Mississippi", NULL));       /* long: 1 typo */
  CHECK(answer_check("Napoleon Bonaparte", "Napoléon Bonaparte", NULL));
  CHECK(answer_check("lake geneva", "Lac Léman", "Lake Geneva\nLeman"));
  CHECK(answer_check("leman", "Lac Léman", "Lake Geneva\nLeman"));
  CHECK(answer_check("  dont panic ", "Don't Panic", NULL));
}

TEST(check_refuses_what_it_should) {
  CHECK(!answer_check("cat", "Cow", NULL));   /* short: exact only */
  CHECK(!answer_check("cats", "Cat", NULL));  /* three letters: no typo */
  CHECK(!answer_check("1493", "1492", NULL)); /* digits: exact */
  CHECK(answer_check("1492", "1492", NULL));
  CHECK(answer_check("in 1492", "in 1492", NULL));
  CHECK(!answer_check("London", "Paris", "City of Light"));
  CHECK(!answer_check("", "Paris", NULL));
  CHECK(!answer_check("the", "Paris", NULL));
  CHECK(!answer_check("!!!", "Paris", NULL));
  CHECK(!answer_check("paris", "", NULL));
  CHECK(!answer_check(NULL, "Paris", NULL));
  CHECK(!answer_check("Eiffel", "Eiffel Tower", NULL));  /* half an answer */
  CHECK(!answer_check("Mssssppi", "Mississippi", NULL)); /* three edits on eleven letters */
}

TEST(answer_in_text_matches_whole_words) {
  const char *chunk = "The city of Valdris was founded by Queen Aurelia in the year 312, beside "
                      "the river Sel.";
  CHECK(answer_in_text("Queen Aurelia", chunk));
  CHECK(answer_in_text("aurelia", chunk));
  CHECK(answer_in_text("312", chunk));
  CHECK(answer_in_text("Sel", chunk));
  CHECK(!answer_in_text("Aure", chunk)); /* a piece of a word */
  CHECK(!answer_in_text("King Aurelia", chunk));
  CHECK(!answer_in_text("", chunk));
}

TEST(bank_parses_json_lines_and_the_simple_form) {
  const char *text = "# a comment\n"
                     "\n"
                     "{\"question\": \"Capital of France?\", \"answer\": \"Paris\", \"aliases\": "
                     "[\"Paree\", 3, \"City of Light\"], \"hint\": \"It has a tower\"}\n"
                     "What has keys but no locks? | A piano | keyboard, pianoforte | music\n"
                     "Who wrote Hamlet? | Shakespeare\n"
                     "no bar here\n"
                     "{\"question\": \"missing answer\"}\n"
                     " | empty question\n"
                     "{broken json\n"
                     "Last line without newline | yes";
  game_bank b;
  CHECK_OK(game_bank_parse(text, strlen(text), &b));
  REQUIRE(b.n == 4);
  CHECK_INT(b.bad, 4);
  CHECK_STR(b.v[0].question, "Capital of France?");
  CHECK_STR(b.v[0].answer, "Paris");
  CHECK_STR(b.v[0].aliases, "Paree\nCity of Light");
  CHECK_STR(b.v[0].hint, "It has a tower");
  CHECK_STR(b.v[1].answer, "A piano");
  CHECK_STR(b.v[1].aliases, "keyboard\npianoforte");
  CHECK_STR(b.v[1].hint, "music");
  CHECK_STR(b.v[2].aliases, "");
  CHECK_STR(b.v[2].hint, "");
  CHECK_STR(b.v[3].answer, "yes");
  game_bank_free(&b);
  /* over the cap: refused as a whole */
  CHECK_INT(game_bank_parse("x", GAME_BANK_FILE_MAX + 1, &b), MIMIC_ERANGE);
  err_clear();
}

TEST(model_question_must_be_grounded_in_its_passage) {
  const char *chunk = "The city of Valdris was founded by Queen Aurelia in the year 312.";
  game_item it;
  const char *ok = "Sure! Here it is:\n```json\n{\"question\": \"Who founded Valdris?\", "
                   "\"answer\": \"Queen Aurelia\", \"aliases\": [\"Aurelia\"], \"hint\": \"a "
                   "queen\"}\n```";
  CHECK_OK(game_question_parse(ok, strlen(ok), chunk, &it));
  CHECK_STR(it.answer, "Queen Aurelia");
  CHECK_STR(it.aliases, "Aurelia");
  game_item_free(&it);
  /* the answer reworded, an alias in the passage: the alias becomes the answer */
  const char *alias = "{\"question\": \"Who founded Valdris?\", \"answer\": \"Aurelia the Great\", "
                      "\"aliases\": [\"Queen Aurelia\"]}";
  CHECK_OK(game_question_parse(alias, strlen(alias), chunk, &it));
  CHECK_STR(it.answer, "Queen Aurelia");
  game_item_free(&it);
  const char *made_up = "{\"question\": \"Who founded Valdris?\", \"answer\": \"King Bob\"}";
  CHECK_INT(game_question_parse(made_up, strlen(made_up), chunk, &it), MIMIC_EFORMAT);
  err_clear();
  const char *given = "{\"question\": \"In 312 Queen Aurelia founded which city, Valdris?\", "
                      "\"answer\": \"Valdris\"}";
  CHECK_INT(game_question_parse(given, strlen(given), chunk, &it), MIMIC_EFORMAT);
  err_clear();
  CHECK_INT(game_question_parse("no json at all", 14, chunk, &it), MIMIC_EFORMAT);
  err_clear();
  const char *no_answer = "{\"question\": \"Who?\"}";
  CHECK_INT(game_question_parse(no_answer, strlen(no_answer), chunk, &it), MIMIC_EFORMAT);
  err_clear();
  /* riddles: no passage to check against */
  const char *riddle = "{\"question\": \"What has a neck but no head?\", \"answer\": \"a bottle\"}";
  CHECK_OK(game_question_parse(riddle, strlen(riddle), NULL, &it));
  CHECK_STR(it.answer, "a bottle");
  game_item_free(&it);
  /* braces inside strings do not confuse the object finder */
  const char *braces = "{\"question\": \"Which {city} did Aurelia found?\", \"answer\": "
                       "\"Valdris\"} trailing }";
  CHECK_OK(game_question_parse(braces, strlen(braces), chunk, &it));
  game_item_free(&it);
}

TEST(story_passages_from_json_or_numbered_lines) {
  game_passage p;
  const char *js = "{\"text\": \"You reach a fork.\\nThe wind howls.\", \"choices\": [\"Go left\", "
                   "\"Go right\", \"Wait\", \"Sing\", \"Too many\"]}";
  CHECK_OK(game_passage_parse(js, strlen(js), true, &p));
  CHECK_STR(p.text, "You reach a fork.\nThe wind howls.");
  CHECK_INT(p.n_choices, 4);
  CHECK_STR(p.choices[3], "Sing");
  game_passage_free(&p);
  const char *plain = "The door creaks open.\nA lantern flickers.\n1. Enter\n2) Run away\n";
  CHECK_OK(game_passage_parse(plain, strlen(plain), true, &p));
  CHECK_STR(p.text, "The door creaks open.\nA lantern flickers.");
  CHECK_INT(p.n_choices, 2);
  CHECK_STR(p.choices[1], "Run away");
  game_passage_free(&p);
  const char *one = "{\"text\": \"Only one way.\", \"choices\": [\"On\"]}";
  CHECK_INT(game_passage_parse(one, strlen(one), true, &p), MIMIC_EFORMAT);
  err_clear();
  CHECK_OK(game_passage_parse(one, strlen(one), false, &p)); /* an ending needs none */
  game_passage_free(&p);
  CHECK_INT(game_passage_parse("", 0, false, &p), MIMIC_EFORMAT);
  err_clear();
  /* a long choice is cut to a button label */
  char longc[400];
  snprintf(longc, sizeof longc, "{\"text\": \"t\", \"choices\": [\"%0200d\", \"b\"]}", 0);
  CHECK_OK(game_passage_parse(longc, strlen(longc), true, &p));
  CHECK(strlen(p.choices[0]) <= GAME_CHOICE_MAX);
  game_passage_free(&p);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(normalize_folds_case_accents_articles_and_punctuation);
  RUN(tolerance_grows_with_length);
  RUN(distance_counts_code_points_and_swaps);
  RUN(check_forgives_what_it_should);
  RUN(check_refuses_what_it_should);
  RUN(answer_in_text_matches_whole_words);
  RUN(bank_parses_json_lines_and_the_simple_form);
  RUN(model_question_must_be_grounded_in_its_passage);
  RUN(story_passages_from_json_or_numbered_lines);
  TEST_MAIN_END();
}
