/* Tests for the reply cleaner's speaker tags: a leading "Name:" (the shape collect/prepare.c gives
 * every message of a training sample) is stripped when it names the bot, the person answered or
 * any speaker the caller knows, and kept when it names nobody. */
#include <string.h>
#include <strings.h>

#include "base/base.h"
#include "bot/reply.h"
#include "test.h"

/* The members a store would know. */
static bool known(const char *name, size_t len, void *user) {
  int *asked = user;
  (*asked)++;
  static const char *const members[] = {"k", "Dr: Who", "léa ✨", "Big Tony"};
  for (size_t i = 0; i < sizeof members / sizeof members[0]; i++)
    if (strlen(members[i]) == len && strncasecmp(members[i], name, len) == 0) return true;
  return false;
}

static void check(const char *in, const char *want) {
  const char *names[] = {"mimic", "alice"};
  int asked = 0;
  char *s = reply_clean_speakers(in, names, 2, known, &asked);
  CHECK_STR(s, want);
  CHECK(asked <= 12); /* a bounded number of lookups per reply */
  mem_free(s);
}

TEST(another_members_tag_is_stripped) {
  check("k: se woe", "se woe");
  check("K: se woe", "se woe");
  check("**k**: bold tag", "bold tag");
  check("**k:** tag in bold", "tag in bold");
  check("Big Tony: spaces in a name", "spaces in a name");
  check("léa ✨: unicode name", "unicode name");
  check("Dr: Who: a colon in a name", "a colon in a name");
  check("  k:no space after the colon", "no space after the colon");
  /* Several tags in a row (the model wrote two turns' headers), the bot's own among them. */
  check("k: mimic: alice: hi", "hi");
  check("mimic: lmao same", "lmao same");
}

TEST(a_word_before_a_colon_that_names_nobody_stays) {
  check("Note: this stays", "Note: this stays");
  check("bob: not a known name", "bob: not a known name");
  check("12:30 works for me", "12:30 works for me");
  check("http://example.com k: x", "http://example.com k: x");
  /* Only the start of the reply: a tag on a later line is the stop strings' business. */
  check("hello\nk: bye", "hello\nk: bye");
  check(":k: emoji first", ":k: emoji first");
  check("k:", "");
}

TEST(without_a_speaker_test_only_the_given_names_go) {
  const char *names[] = {"mimic"};
  char *s = reply_clean("k: se woe", names, 1);
  CHECK_STR(s, "k: se woe");
  mem_free(s);
  s = reply_clean_speakers("k: se woe", NULL, 0, NULL, NULL);
  CHECK_STR(s, "k: se woe");
  mem_free(s);
}

TEST(a_long_line_asks_about_few_candidates) {
  char in[600];
  size_t n = 0;
  for (int i = 0; i < 100; i++) in[n++] = (i % 2) ? ':' : 'x';
  in[n] = 0;
  int asked = 0;
  char *s = reply_clean_speakers(in, NULL, 0, known, &asked);
  CHECK(asked <= 12);
  CHECK_STR(s, in);
  mem_free(s);
}

int main(void) {
  RUN(another_members_tag_is_stripped);
  RUN(a_word_before_a_colon_that_names_nobody_stays);
  RUN(without_a_speaker_test_only_the_given_names_go);
  RUN(a_long_line_asks_about_few_candidates);
  TEST_MAIN_END();
}
