/* Tests for the real bot_actions against the Discord REST double: what the bot asks for becomes
 * the right requests, with allowed_mentions pinging nobody but the person answered. */
#include "base/base.h"
#include "bot/actions_rest.h"
#include "discord/api.h"
#include "../discord/rest_double.h"
#include "test.h"

#define SEED                                                                                       \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"11\", \"messages\": 5}]}]}"

static int restarts, jobs;
static char last_job[16];
static int hook_restart(void *u) {
  (void)u;
  restarts++;
  return 0;
}
static int hook_job(void *u, const char *job, uint64_t by, uint64_t channel) {
  (void)u;
  (void)by;
  (void)channel;
  jobs++;
  str_lcpy(last_job, job, sizeof last_job);
  return 0;
}

/* The n-th logged request on route, or NULL. */
static json_t *nth(json_t *log, const char *route, int n) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(json_str(e, "route", ""), route) == 0 && n-- == 0) return e;
  }
  return NULL;
}

TEST(actions_become_rest_requests) {
  rest_double d;
  if (rd_start(&d, "{" SEED "}") != 0) SKIP("node or the double is missing");
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  o.token = "tok-0123456789";
  rest *r = NULL;
  CHECK_OK(rest_new(NULL, &o, &r));
  REQUIRE(r);
  actions_rest ar = {.client = r, .request_restart = hook_restart, .start_job = hook_job};
  bot_actions a;
  actions_rest_bind(&ar, &a);

  json_t *latest = NULL;
  CHECK_OK(rest_call_sync(r, "GET", "/channels/11/messages?limit=1", NULL, &latest, NULL, NULL));
  uint64_t target = json_snowflake(json_array_get(latest, 0), "id");
  json_decref(latest);
  REQUIRE(target != 0);
  char target_s[24];
  snprintf(target_s, sizeof target_s, "%llu", (unsigned long long)target);
  bot_send reply = {
      .channel_id = 11, .text = "lol same", .reply_to = target, .ping_replied_user = true};
  CHECK_OK(a.send(a.user, &reply));
  bot_send shout = {.channel_id = 11, .text = "@everyone @here look <@&5>", .reply_to = 0};
  CHECK_OK(a.send(a.user, &shout));
  CHECK_OK(a.typing(a.user, 11));
  CHECK_OK(a.send_dm(a.user, 4242, "You are opted out."));
  CHECK_OK(a.react(a.user, 11, target, "\xF0\x9F\x91\x8D"));
  CHECK_OK(a.request_restart(a.user));
  CHECK_OK(a.start_job(a.user, "fetch", 1, 11));
  CHECK_INT(restarts, 1);
  CHECK_INT(jobs, 1);
  CHECK_STR(last_job, "fetch");
  /* Five requests finish: two sends, typing, the DM's message (after the DM channel), a reaction.
   */
  for (int i = 0; i < 2000 && ar.sent + ar.failed < 5; i++) uv_run(rest_loop(r), UV_RUN_ONCE);
  CHECK_INT(ar.sent, 5);
  CHECK_INT(ar.failed, 0);

  json_t *log = rd_log(&d);
  const char *post = "POST /channels/{channel_id}/messages";
  json_t *b0 = json_object_get(nth(log, post, 0), "body");
  json_t *b1 = json_object_get(nth(log, post, 1), "body");
  json_t *b2 = json_object_get(nth(log, post, 2), "body");
  REQUIRE(b0 && b1 && b2);
  CHECK(json_is_true(json_object_get(json_object_get(b0, "allowed_mentions"), "replied_user")));
  CHECK_STR(json_str(json_object_get(b0, "message_reference"), "message_id", NULL), target_s);
  char *am = json_dump_compact(json_object_get(b1, "allowed_mentions"));
  CHECK_STR(am, "{\"parse\":[],\"replied_user\":false}");
  free(am);
  /* The DM went to the channel the double opened, not to the guild channel. */
  CHECK(nth(log, "POST /users/@me/channels", 0) != NULL);
  CHECK_STR(json_str(b2, "content", NULL), "You are opted out.");
  CHECK(strcmp(json_str(nth(log, post, 2), "path", ""), "/api/v10/channels/11/messages") != 0);
  CHECK(nth(log, "POST /channels/{channel_id}/typing", 0) != NULL);
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(missing_runtime_hooks_are_refused_clearly) {
  actions_rest ar = {0};
  bot_actions a;
  actions_rest_bind(&ar, &a);
  CHECK_INT(a.request_restart(a.user), MIMIC_EUNSUPPORTED);
  CHECK_INT(a.start_job(a.user, "train", 1, 2), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "train") != NULL);
}

int main(void) {
  RUN(actions_become_rest_requests);
  RUN(missing_runtime_hooks_are_refused_clearly);
  TEST_MAIN_END();
}
