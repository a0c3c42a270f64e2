/* Tests for channel memory (cap, TTL, personas, edits, deletes, forgetting, placeholders) and
 * prompt building (roles, names, order, token budget, truncation, stop strings). */
#include "base/base.h"
#include "bot/context.h"
#include "bot/memory.h"
#include "test.h"

#define T0 1700000000000LL

TEST(memory_keeps_the_newest_messages_up_to_the_cap) {
  memory *m = memory_new(3, 0);
  for (uint64_t i = 1; i <= 5; i++)
    memory_add(m, 7, NULL, i, 50 + i, T0 + (int64_t)i, false, "u", "x");
  const memory_entry *out[10];
  size_t n = memory_get(m, 7, "", T0, 0, out, 10);
  REQUIRE(n == 3);
  CHECK_INT(out[0]->id, 3);
  CHECK_INT(out[2]->id, 5);
  /* until_id limits the range; cap limits the count (the newest are kept). */
  n = memory_get(m, 7, NULL, T0, 4, out, 10);
  CHECK_INT(n, 2);
  n = memory_get(m, 7, NULL, T0, 0, out, 1);
  REQUIRE(n == 1);
  CHECK_INT(out[0]->id, 5);
  CHECK_INT(memory_get(m, 8, NULL, T0, 0, out, 10), 0);
  memory_destroy(m);
}

TEST(memory_expires_after_the_ttl) {
  memory *m = memory_new(10, 1800000);
  memory_add(m, 7, NULL, 1, 50, T0, false, "a", "old");
  memory_add(m, 7, NULL, 2, 51, T0 + 1000000, false, "b", "newer");
  memory_add(m, 9, NULL, 3, 51, T0, false, "b", "other channel");
  const memory_entry *out[10];
  CHECK_INT(memory_get(m, 7, NULL, T0 + 1000000, 0, out, 10), 2);
  CHECK_INT(memory_get(m, 7, NULL, T0 + 1800000, 0, out, 10), 1); /* the first one is 30 min old */
  CHECK(memory_known(m, 9, NULL));
  CHECK_INT(memory_prune(m, T0 + 1800000), 2);
  CHECK(!memory_known(m, 9, NULL)); /* emptied channels are dropped (refilled from the store) */
  size_t chans = 0, entries = 0;
  memory_usage(m, &chans, &entries, NULL);
  CHECK_INT(chans, 1);
  CHECK_INT(entries, 1);
  CHECK_INT(memory_prune(m, T0 + 1000000 + 1800000), 1);
  memory_usage(m, &chans, &entries, NULL);
  CHECK_INT(chans, 0);
  memory_destroy(m);
}

TEST(memory_is_per_persona) {
  memory *m = memory_new(10, 0);
  memory_add(m, 7, "alice-bot", 1, 50, T0, false, "x", "to alice-bot");
  memory_add(m, 7, "bob-bot", 2, 50, T0, false, "x", "to bob-bot");
  memory_add(m, 7, "bob-bot", 3, 99, T0, true, "bob-bot", "bob-bot says");
  const memory_entry *out[10];
  size_t n = memory_get(m, 7, "alice-bot", T0, 0, out, 10);
  REQUIRE(n == 1);
  CHECK_STR(out[0]->text, "to alice-bot");
  n = memory_get(m, 7, "bob-bot", T0, 0, out, 10);
  REQUIRE(n == 2);
  CHECK(out[1]->self);
  CHECK_INT(memory_get(m, 7, NULL, T0, 0, out, 10), 0);
  memory_destroy(m);
}

TEST(memory_edits_deletes_and_forgets) {
  memory *m = memory_new(10, 0);
  memory_add(m, 7, NULL, 1, 50, T0, false, "a", "hello");
  memory_add(m, 7, NULL, 3, 51, T0, false, "b", "three");
  memory_add(m, 7, NULL, 2, 50, T0, false, "a", "two"); /* out of order: goes between */
  memory_add(m, 7, NULL, 2, 50, T0, false, "a", "two, replaced");
  memory_add(m, 8, NULL, 4, 50, T0, false, "a", "elsewhere");
  const memory_entry *out[10];
  size_t n = memory_get(m, 7, NULL, T0, 0, out, 10);
  REQUIRE(n == 3);
  CHECK_INT(out[1]->id, 2);
  CHECK_STR(out[1]->text, "two, replaced");
  memory_edit(m, 7, 1, "hello (edited)");
  memory_remove(m, 7, 3);
  n = memory_get(m, 7, NULL, T0, 0, out, 10);
  REQUIRE(n == 2);
  CHECK_STR(out[0]->text, "hello (edited)");
  memory_forget_user(m, 50);
  CHECK_INT(memory_get(m, 7, NULL, T0, 0, out, 10), 0);
  CHECK_INT(memory_get(m, 8, NULL, T0, 0, out, 10), 0);
  memory_destroy(m);
}

TEST(memory_placeholders_until_the_echo) {
  memory *m = memory_new(10, 0);
  memory_add(m, 7, NULL, 1, 50, T0, false, "a", "q1");
  memory_add(m, 7, NULL, 2, 50, T0, false, "a", "q2");
  memory_add(m, 7, NULL, 0, 99, T0, true, "bot", "answer one");
  const memory_entry *out[10];
  /* A context for message 2 still sees the reply already sent. */
  size_t n = memory_get(m, 7, NULL, T0, 2, out, 10);
  REQUIRE(n == 3);
  CHECK_STR(out[2]->text, "answer one");
  /* The echo replaces it. */
  memory_settle(m, 7, NULL, "answer one");
  memory_add(m, 7, NULL, 10, 99, T0, true, "bot", "answer one");
  n = memory_get(m, 7, NULL, T0, 0, out, 10);
  REQUIRE(n == 3);
  CHECK_INT(out[2]->id, 10);
  memory_destroy(m);
}

TEST(memory_cuts_long_text_on_a_character_boundary) {
  memory *m = memory_new(10, 0);
  size_t n = MEMORY_TEXT_MAX + 100;
  char *big = xalloc(n + 1);
  for (size_t i = 0; i + 2 <= n; i += 2) memcpy(big + i, "\xC3\xA9", 2);
  big[n] = 0;
  memory_add(m, 7, NULL, 1, 50, T0, false, "a", big);
  const memory_entry *out[1];
  REQUIRE(memory_get(m, 7, NULL, T0, 0, out, 1) == 1);
  size_t len = strlen(out[0]->text);
  CHECK(len <= MEMORY_TEXT_MAX);
  CHECK(utf8_valid(out[0]->text, len));
  mem_free(big);
  memory_destroy(m);
}

/* ---- context ---- */

static memory_entry ent(uint64_t id, bool self, const char *name, const char *text) {
  memory_entry e = {.id = id,
                    .author_id = self ? 99 : 50 + id,
                    .ts_ms = T0,
                    .self = self,
                    .name = (char *)name,
                    .text = (char *)text};
  return e;
}

TEST(context_has_roles_names_and_the_current_message_last) {
  memory_entry e[4] = {ent(1, false, "alice", "hi all"), ent(2, true, "mimic", "hey"),
                       ent(3, false, "bob", "sup"), ent(4, false, "alice", "mimic, thoughts?")};
  const memory_entry *h[4] = {&e[0], &e[1], &e[2], &e[3]};
  context_opts o = {.system_prompt = "be chill", .max_messages = 10, .budget_tokens = 1000};
  context c;
  CHECK_OK(context_build(&o, h, 4, &e[3], &c)); /* the current one is in hist: not repeated */
  REQUIRE(c.n == 5);
  CHECK_STR(c.msgs[0].role, "system");
  CHECK_STR(c.msgs[0].content, "be chill");
  CHECK_STR(c.msgs[1].role, "user");
  CHECK_STR(c.msgs[1].name, "alice");
  CHECK_STR(c.msgs[2].role, "assistant");
  CHECK(c.msgs[2].name == NULL);
  CHECK_STR(c.msgs[3].name, "bob");
  CHECK_STR(c.msgs[4].content, "mimic, thoughts?");
  CHECK_INT(c.dropped, 0);
  CHECK(!c.truncated);
  REQUIRE(c.n_stops == 2);
  CHECK_STR(c.stops[0], "\nalice:");
  CHECK_STR(c.stops[1], "\nbob:");
  context_free(&c);
  o.system_prompt = "";
  CHECK_OK(context_build(&o, h, 3, &e[3], &c));
  CHECK_INT(c.n, 4);
  CHECK_STR(c.msgs[0].role, "user");
  context_free(&c);
}

static int count_words(void *u, const char *s, size_t n) {
  (void)u;
  int w = 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && (i == 0 || s[i - 1] == ' ')) w++;
  return w;
}

TEST(context_drops_the_oldest_turns_to_fit_the_budget) {
  memory_entry e[6] = {ent(1, false, "a", "one one one one one one"),
                       ent(2, false, "b", "two two two two two two"),
                       ent(3, false, "c", "three three three three three three"),
                       ent(4, false, "d", "four four four four four four"),
                       ent(5, false, "e", "five five five five five five"),
                       ent(6, false, "f", "now")};
  const memory_entry *h[5] = {&e[0], &e[1], &e[2], &e[3], &e[4]};
  /* Each history turn costs 6 words + 1 name + 5 overhead = 12; the current one 1 + 1 + 5 = 7,
   * the system prompt 1 + 5 = 6. A budget of 40 fits 2 history turns. */
  context_opts o = {
      .system_prompt = "sys", .max_messages = 10, .budget_tokens = 40, .count = count_words};
  context c;
  CHECK_OK(context_build(&o, h, 5, &e[5], &c));
  REQUIRE(c.n == 4);
  CHECK_STR(c.msgs[1].name, "d");
  CHECK_STR(c.msgs[2].name, "e");
  CHECK_STR(c.msgs[3].content, "now");
  CHECK_INT(c.dropped, 3);
  CHECK(c.tokens <= 40);
  context_free(&c);
  /* max_messages applies too. */
  o.budget_tokens = 1000;
  o.max_messages = 1;
  CHECK_OK(context_build(&o, h, 5, &e[5], &c));
  CHECK_INT(c.n, 3);
  CHECK_INT(c.dropped, 4);
  context_free(&c);
}

TEST(context_cuts_an_oversized_current_message) {
  size_t n = 30000;
  char *big = xalloc(n + 1);
  memset(big, 'a', n);
  big[n] = 0;
  memory_entry cur = ent(9, false, "spammer", big);
  memory_entry old = ent(8, false, "x", "earlier");
  const memory_entry *h[1] = {&old};
  context_opts o = {.system_prompt = "sys", .max_messages = 10, .budget_tokens = 1000};
  context c;
  CHECK_OK(context_build(&o, h, 1, &cur, &c));
  CHECK(c.truncated);
  REQUIRE(c.n >= 1);
  size_t len = strlen(c.msgs[c.n - 1].content);
  CHECK(len > 1000 && len < 3000);
  CHECK(c.tokens <= 1000);
  context_free(&c);
  CHECK_INT(context_build(&o, h, 1, NULL, &c), MIMIC_EINVAL);
  o.budget_tokens = 4;
  CHECK_INT(context_build(&o, h, 1, &cur, &c), MIMIC_EINVAL);
  err_clear();
  mem_free(big);
}

int main(void) {
  RUN(memory_keeps_the_newest_messages_up_to_the_cap);
  RUN(memory_expires_after_the_ttl);
  RUN(memory_is_per_persona);
  RUN(memory_edits_deletes_and_forgets);
  RUN(memory_placeholders_until_the_echo);
  RUN(memory_cuts_long_text_on_a_character_boundary);
  RUN(context_has_roles_names_and_the_current_message_last);
  RUN(context_drops_the_oldest_turns_to_fit_the_budget);
  RUN(context_cuts_an_oversized_current_message);
  TEST_MAIN_END();
}
