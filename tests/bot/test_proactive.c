/* The good-neighbour rules for proactive posts: every rule blocks on its own, in order, and a post
 * that passes them all is allowed. */
#include <stdio.h>
#include <string.h>

#include "bot/proactive.h"
#include "test.h"

static proactive_guild guild(void) {
  proactive_guild g;
  memset(&g, 0, sizeof g);
  g.enabled = true;
  snprintf(g.jobs, sizeof g.jobs, "%s", "digest, meme_drop");
  snprintf(g.channels, sizeof g.channels, "%s", "111,222");
  CHECK_OK(proactive_parse_quiet("23:00-08:00", &g.quiet_from_min, &g.quiet_to_min));
  g.daily_cap = 3;
  g.active_window_min = 180;
  return g;
}

static proactive_facts facts(void) {
  proactive_facts f = {.channel_id = 222,
                       .local_minute = 12 * 60,
                       .posts_today = 0,
                       .now_ms = 100000000,
                       .last_human_ms = 100000000 - 60000};
  return f;
}

TEST(each_rule) {
  proactive_guild g = guild();
  proactive_facts f = facts();
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_OK);
  CHECK_INT(proactive_check(&g, "MEME_DROP", &f), PROACTIVE_OK);
  CHECK_INT(proactive_check(&g, "trivia", &f), PROACTIVE_JOB_OFF);
  f.channel_id = 333;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_CHANNEL);
  f = facts();
  f.channel_id = 22; /* a prefix of an allowed id is not allowed */
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_CHANNEL);
  f = facts();
  f.local_minute = 23 * 60 + 30;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_QUIET);
  f.local_minute = 7 * 60 + 59;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_QUIET);
  f.local_minute = 8 * 60;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_OK);
  f.posts_today = 3;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_CAP);
  f = facts();
  f.last_is_ours = true;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_LAST_OURS);
  f = facts();
  f.last_human_ms = f.now_ms - 181 * 60000LL;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_DEAD);
  f.last_human_ms = 0;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_DEAD);
  g.active_window_min = 0;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_OK);
  snprintf(g.jobs, sizeof g.jobs, "%s", "all");
  CHECK_INT(proactive_check(&g, "trivia", &f), PROACTIVE_OK);
  g.enabled = false;
  CHECK_INT(proactive_check(&g, "trivia", &f), PROACTIVE_OFF);
  CHECK_STR(proactive_verdict_name(PROACTIVE_QUIET), "quiet hours");
}

TEST(quiet_hours_grammar) {
  int a, b;
  CHECK_OK(proactive_parse_quiet("off", &a, &b));
  CHECK(a == b);
  CHECK_OK(proactive_parse_quiet("9:30-17:00", &a, &b));
  CHECK(a == 570 && b == 1020);
  CHECK_OK(proactive_parse_quiet("22:00-24:00", &a, &b));
  CHECK(a == 1320 && b == 0);
  CHECK_INT(proactive_parse_quiet("25:00-08:00", &a, &b), MIMIC_EINVAL);
  CHECK_INT(proactive_parse_quiet("23-08", &a, &b), MIMIC_EINVAL);
  CHECK_INT(proactive_parse_quiet("23:00-08:00 ", &a, &b), MIMIC_EINVAL);
  /* Daytime quiet hours do not wrap. */
  proactive_guild g = guild();
  CHECK_OK(proactive_parse_quiet("12:00-13:00", &g.quiet_from_min, &g.quiet_to_min));
  proactive_facts f = facts();
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_QUIET);
  f.local_minute = 13 * 60;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_OK);
  f.local_minute = 2 * 60;
  CHECK_INT(proactive_check(&g, "digest", &f), PROACTIVE_OK);
}

int main(void) {
  RUN(each_rule);
  RUN(quiet_hours_grammar);
  TEST_MAIN_END();
}
