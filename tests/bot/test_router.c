/* Tests for the reply router and reply post-processing: who is answered, when, and what is sent. */
#include "base/base.h"
#include "bot/reply.h"
#include "bot/router.h"
#include "test.h"

#define SELF 1000
#define CHAN 2000

static router_params params(void) {
  router_params p = {.rate = 0.05,
                     .active_boost = 4,
                     .active_window_ms = 300000,
                     .cooldown_ms = 20000,
                     .flood_per_min = 3,
                     .keywords = "pizza, mimic bot",
                     .allow_bots = "",
                     .channels = ""};
  return p;
}

static router_msg msg(uint64_t id, uint64_t author, const char *text) {
  router_msg m = {.id = id, .channel_id = CHAN, .author_id = author, .content = text};
  return m;
}

TEST(never_answers_self_bots_webhooks_or_system) {
  router_params p = params();
  p.rate = 1;
  router *r = router_new(SELF, &p);
  router_msg m = msg(1, SELF, "hi");
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_IGNORE_SELF);
  m = msg(2, 77, "hi");
  m.author_bot = true;
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_IGNORE_BOT);
  m = msg(3, 78, "hi");
  m.webhook_id = 5;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_IGNORE_WEBHOOK);
  m = msg(4, 79, "joined");
  m.system = true;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_IGNORE_SYSTEM);
  router_set_ignored_user(r, 80, true);
  m = msg(5, 80, "hi");
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_IGNORE_USER);
  router_set_ignored_user(r, 80, false);
  m.id = 6;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_REPLY_MENTION);
  router_destroy(r);
}

TEST(allowed_bot_is_answered) {
  router_params p = params();
  p.allow_bots = "77, 99";
  router *r = router_new(SELF, &p);
  router_msg m = msg(1, 77, "hey mimic");
  m.author_bot = true;
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 0, 0.9), ROUTE_REPLY_MENTION);
  router_destroy(r);
}

TEST(rate_zero_is_silent_except_when_addressed) {
  router_params p = params();
  p.rate = 0;
  p.keywords = "";
  router *r = router_new(SELF, &p);
  int replies = 0;
  for (int i = 0; i < 200; i++) {
    router_msg m = msg(100 + (uint64_t)i, 50 + (uint64_t)(i % 7), "lol");
    replies += router_is_reply(router_decide(r, &m, (int64_t)i * 60000, (double)i / 200.0));
  }
  CHECK_INT(replies, 0);
  router_msg m = msg(999, 51, "@bot hi");
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 0, 0.99), ROUTE_REPLY_MENTION);
  m = msg(1000, 52, "yeah");
  m.reply_to_bot = true;
  CHECK_INT(router_decide(r, &m, 1, 0.99), ROUTE_REPLY_REPLY);
  m = msg(1001, 53, "psst");
  m.is_dm = true;
  m.channel_id = 4242;
  CHECK_INT(router_decide(r, &m, 2, 0.99), ROUTE_REPLY_DM);
  router_destroy(r);
}

TEST(rate_one_replies_outside_cooldown) {
  router_params p = params();
  p.rate = 1;
  p.cooldown_ms = 20000;
  p.flood_per_min = 0;
  router *r = router_new(SELF, &p);
  router_msg m = msg(1, 50, "anyone up");
  CHECK_INT(router_decide(r, &m, 1000, 0.99), ROUTE_REPLY_RANDOM);
  m = msg(2, 51, "me");
  CHECK_INT(router_decide(r, &m, 5000, 0.0), ROUTE_SKIP_COOLDOWN);
  m = msg(3, 51, "still me");
  CHECK_INT(router_decide(r, &m, 21001, 0.99), ROUTE_REPLY_RANDOM);
  /* The cooldown is per channel. */
  m = msg(4, 52, "other channel");
  m.channel_id = CHAN + 1;
  CHECK_INT(router_decide(r, &m, 21002, 0.99), ROUTE_REPLY_RANDOM);
  router_destroy(r);
}

TEST(active_conversation_boosts_the_roll) {
  router_params p = params();
  p.rate = 0.1;
  p.active_boost = 5;
  p.cooldown_ms = 0;
  router *r = router_new(SELF, &p);
  router_msg m = msg(1, 50, "hmm");
  CHECK_INT(router_decide(r, &m, 0, 0.3), ROUTE_SKIP_ROLL); /* 0.3 >= 0.1 */
  router_note_bot_spoke(r, CHAN, 1000);
  m = msg(2, 50, "hmm again");
  CHECK_INT(router_decide(r, &m, 2000, 0.3), ROUTE_REPLY_ACTIVE); /* 0.3 < 0.5 */
  m = msg(3, 51, "much later");
  CHECK_INT(router_decide(r, &m, 1000 + 300001, 0.3), ROUTE_SKIP_ROLL);
  router_destroy(r);
}

TEST(keywords_are_whole_words) {
  router_params p = params();
  p.rate = 0;
  p.cooldown_ms = 0;
  router *r = router_new(SELF, &p);
  router_msg m = msg(1, 50, "who wants PIZZA tonight");
  CHECK_INT(router_decide(r, &m, 0, 0.99), ROUTE_REPLY_KEYWORD);
  m = msg(2, 50, "pizzas are different");
  CHECK_INT(router_decide(r, &m, 1, 0.99), ROUTE_SKIP_ROLL);
  m = msg(3, 51, "hey Mimic Bot!");
  CHECK_INT(router_decide(r, &m, 2, 0.99), ROUTE_REPLY_KEYWORD);
  router_destroy(r);
}

TEST(flood_guard_and_duplicates) {
  router_params p = params();
  p.flood_per_min = 3;
  router *r = router_new(SELF, &p);
  int answered = 0;
  for (int i = 0; i < 6; i++) {
    router_msg m = msg(10 + (uint64_t)i, 50, "@bot");
    m.mentions_bot = true;
    answered += router_is_reply(router_decide(r, &m, i * 1000, 0.5));
  }
  CHECK_INT(answered, 3);
  router_msg m = msg(20, 50, "@bot later");
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 61000, 0.5), ROUTE_REPLY_MENTION);
  CHECK_INT(router_decide(r, &m, 61001, 0.5), ROUTE_IGNORE_DUPLICATE);
  router_forget(r, CHAN, 20);
  CHECK_INT(router_decide(r, &m, 62002, 0.5), ROUTE_REPLY_MENTION);
  router_destroy(r);
}

TEST(channel_allow_list_includes_threads_of_listed_channels) {
  router_params p = params();
  p.channels = "2000";
  p.rate = 1;
  p.cooldown_ms = 0;
  router *r = router_new(SELF, &p);
  router_msg m = msg(1, 50, "in thread");
  m.channel_id = 3000;
  m.parent_id = CHAN;
  CHECK(router_is_reply(router_decide(r, &m, 0, 0.0)));
  m = msg(2, 50, "elsewhere");
  m.channel_id = 3001;
  m.mentions_bot = true;
  CHECK_INT(router_decide(r, &m, 0, 0.0), ROUTE_IGNORE_CHANNEL);
  router_destroy(r);
}

TEST(reply_cleaning) {
  const char *names[] = {"mimic", "alice"};
  char *s = reply_clean("mimic: lmao same<|im_end|>\n<|im_start|>user\nbob: hi", names, 2);
  CHECK_STR(s, "lmao same");
  mem_free(s);
  s = reply_clean("<think>they want a joke</think>**Alice**: no way 💀", names, 2);
  CHECK_STR(s, "no way 💀");
  mem_free(s);
  s = reply_clean("<think>unfinished reasoning", names, 2);
  CHECK_STR(s, "");
  mem_free(s);
  s = reply_clean("hey @everyone and @here look", names, 2);
  CHECK(strstr(s, "@everyone") == NULL && strstr(s, "@here") == NULL);
  CHECK(strstr(s, "@\xE2\x80\x8B"
                  "everyone") != NULL);
  mem_free(s);
  s = reply_clean("  SHOUTING stays!!! keep typos teh  ", names, 2);
  CHECK_STR(s, "SHOUTING stays!!! keep typos teh");
  mem_free(s);
  s = reply_clean("bad \xFF byte", NULL, 0);
  CHECK(utf8_valid(s, strlen(s)));
  mem_free(s);
  s = reply_clean("bob: not a known name", names, 2);
  CHECK_STR(s, "bob: not a known name");
  mem_free(s);
}

int main(void) {
  RUN(never_answers_self_bots_webhooks_or_system);
  RUN(allowed_bot_is_answered);
  RUN(rate_zero_is_silent_except_when_addressed);
  RUN(rate_one_replies_outside_cooldown);
  RUN(active_conversation_boosts_the_roll);
  RUN(keywords_are_whole_words);
  RUN(flood_guard_and_duplicates);
  RUN(channel_allow_list_includes_threads_of_listed_channels);
  RUN(reply_cleaning);
  TEST_MAIN_END();
}
