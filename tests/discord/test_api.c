/* Tests for the typed API calls against the REST double: message JSON (allowed_mentions, reply
 * reference, nonce), 2,000-character splitting sent in order, history pagination across thousands
 * of messages, persona webhooks re-created when deleted, gateway info, commands and interactions.
 */
#include <string.h>

#include "base/base.h"
#include "discord/api.h"
#include "discord/split.h"
#include "rest_double.h"
#include "test.h"

typedef struct outcome {
  bool done;
  int err, status, code, attempts;
  json_t *json;
  char msg[512];
} outcome;

static void keep_cb(const rest_result *res, void *user) {
  outcome *o = user;
  o->done = true;
  o->err = res->err;
  o->status = res->status;
  o->code = res->code;
  o->attempts = res->attempts;
  o->json = res->json ? json_incref(res->json) : NULL;
  str_lcpy(o->msg, res->message ? res->message : "", sizeof o->msg);
}

/* s without spaces and newlines (split trims them at the cuts) */
static void squeeze(char *s) {
  char *w = s;
  for (; *s; s++)
    if (*s != ' ' && *s != '\n') *w++ = *s;
  *w = 0;
}

static void wait_for(rest *r, outcome *o) {
  while (!o->done) uv_run(rest_loop(r), UV_RUN_ONCE);
}

static void reset(outcome *o) {
  json_decref(o->json);
  memset(o, 0, sizeof *o);
}

#define SEED                                                                                       \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"10\", \"messages\": 3000}, "  \
  "{\"id\": \"11\"},"                                                                              \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"11\", \"name\": \"a-thread\"},"                 \
  "{\"id\": \"21\", \"type\": 11, \"parent_id\": \"11\", \"archived\": true}]}]}"

static rest *mk(const rest_double *d) {
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d->base;
  o.token = "tok-0123456789";
  rest *r = NULL;
  return rest_new(NULL, &o, &r) == 0 ? r : NULL;
}

/* The n-th logged request whose route is `route` (0-based), or NULL. */
static json_t *nth(json_t *log, const char *route, int n) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route) == 0 && n-- == 0) return e;
  }
  return NULL;
}

TEST(send_message_json_and_mentions) {
  rest_double d;
  if (rd_start(&d, "{" SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r != NULL);
  outcome o = {0};
  api_message m = {.channel_id = 11, .content = "hi @everyone and <@123> and <@&55>"};
  CHECK_OK(api_message_send(r, &m, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK_STR(jv_str(o.json, "content", NULL), m.content);
  reset(&o);
  api_message reply = {.channel_id = 11, .content = "a reply", .reply_to = 777, .ping_reply = true};
  CHECK_OK(api_message_send(r, &reply, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK_INT(jv_int(o.json, "type", 0), 19);
  reset(&o);
  reply.ping_reply = false;
  CHECK_OK(api_message_send(r, &reply, keep_cb, &o));
  wait_for(r, &o);
  reset(&o);
  api_message empty = {.channel_id = 11, .content = " \n "};
  CHECK_INT(api_message_send(r, &empty, keep_cb, &o), MIMIC_EINVAL);

  json_t *log = rd_log(&d);
  const char *route = "POST /channels/{channel_id}/messages";
  json_t *b0 = json_object_get(nth(log, route, 0), "body");
  json_t *b1 = json_object_get(nth(log, route, 1), "body");
  json_t *b2 = json_object_get(nth(log, route, 2), "body");
  REQUIRE(b0 && b1 && b2);
  char *am0 = jv_dump_compact(json_object_get(b0, "allowed_mentions"));
  CHECK_STR(am0, "{\"parse\":[],\"replied_user\":false}");
  free(am0);
  CHECK(json_object_get(b0, "message_reference") == NULL);
  CHECK(jv_str(b0, "nonce", NULL) != NULL);
  CHECK(jv_bool(b0, "enforce_nonce", false));
  CHECK(json_is_true(json_object_get(json_object_get(b1, "allowed_mentions"), "replied_user")));
  CHECK_STR(jv_str(json_object_get(b1, "message_reference"), "message_id", NULL), "777");
  CHECK(json_is_false(json_object_get(json_object_get(b2, "allowed_mentions"), "replied_user")));
  CHECK_INT(json_array_size(json_object_get(json_object_get(b1, "allowed_mentions"), "parse")), 0);
  CHECK_STR(jv_str(nth(log, route, 0), "content_type", NULL), "application/json");
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(long_reply_is_split_and_sent_in_order) {
  rest_double d;
  if (rd_start(&d, "{\"buckets\": {\"POST /channels/{channel_id}/messages\": {\"limit\": 2, "
                   "\"window_ms\": 200}}, " SEED "}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r != NULL);
  buf text;
  buf_init(&text, 0);
  for (int p = 0; p < 5; p++) {
    for (int i = 0; i < 90; i++) CHECK_OK(buf_printf(&text, "part%d word%02d ", p, i));
    CHECK_OK(buf_puts(&text, "\n\n"));
  }
  outcome o = {0};
  api_message m = {.channel_id = 11, .content = text.data, .reply_to = 5, .ping_reply = true};
  CHECK_OK(api_message_send(r, &m, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  reset(&o);
  /* read them back: oldest first after reversing the newest-first page */
  CHECK_OK(api_messages_get(r, 11, API_PAGE_LATEST, 0, 100, keep_cb, &o));
  wait_for(r, &o);
  size_t n = json_array_size(o.json);
  CHECK(n >= 3);
  buf joined;
  buf_init(&joined, 0);
  for (size_t i = n; i-- > 0;) {
    const char *c = jv_str(json_array_get(o.json, i), "content", "");
    CHECK(split_units(c, strlen(c)) <= 2000);
    CHECK_OK(buf_puts(&joined, c));
    CHECK_OK(buf_puts(&joined, "\n\n"));
    /* only the first part replies (and may ping) */
    CHECK_INT(jv_int(json_array_get(o.json, i), "type", -1), i == n - 1 ? 19 : 0);
  }
  squeeze(joined.data);
  squeeze(text.data);
  CHECK_STR(joined.data, text.data);
  buf_free(&joined);
  reset(&o);
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, NULL, "hit_empty", true), 0);
  json_decref(log);
  buf_free(&text);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(history_pagination_before_and_after) {
  rest_double d;
  if (rd_start(&d, "{\"default_bucket\": {\"limit\": 50, \"window_ms\": 1000}, " SEED "}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r != NULL);
  outcome o = {0};
  uint64_t before = 0, prev = UINT64_MAX, oldest = 0;
  size_t total = 0;
  int pages = 0;
  for (;;) {
    CHECK_OK(api_messages_get(r, 10, before ? API_PAGE_BEFORE : API_PAGE_LATEST, before, 100,
                              keep_cb, &o));
    wait_for(r, &o);
    REQUIRE(o.err == 0);
    size_t n = json_array_size(o.json);
    for (size_t i = 0; i < n; i++) {
      uint64_t id = jv_snowflake(json_array_get(o.json, i), "id");
      CHECK(id < prev); /* strictly descending across all pages: no gaps, no repeats */
      prev = id;
    }
    total += n;
    pages++;
    if (n < 100) {
      reset(&o);
      break;
    }
    before = prev;
    reset(&o);
  }
  oldest = prev;
  CHECK_INT(total, 3000);
  CHECK_INT(pages, 31); /* 30 full pages and an empty one */
  /* forward with after: every page is newest-first within itself, pages move forward */
  uint64_t after = oldest, last_max = oldest;
  total = 1; /* the oldest itself */
  for (;;) {
    CHECK_OK(api_messages_get(r, 10, API_PAGE_AFTER, after, 100, keep_cb, &o));
    wait_for(r, &o);
    REQUIRE(o.err == 0);
    size_t n = json_array_size(o.json);
    if (n == 0) {
      reset(&o);
      break;
    }
    uint64_t top = jv_snowflake(json_array_get(o.json, 0), "id");
    uint64_t bottom = jv_snowflake(json_array_get(o.json, n - 1), "id");
    CHECK(bottom > last_max);
    last_max = top;
    after = top;
    total += n;
    reset(&o);
  }
  CHECK_INT(total, 3000);
  CHECK_INT(api_messages_get(r, 10, API_PAGE_BEFORE, 1, 101, keep_cb, &o), MIMIC_EINVAL);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(webhook_is_created_reused_and_recreated) {
  rest_double d;
  if (rd_start(&d, "{" SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r != NULL);
  api_hook hook = {.channel_id = 11};
  str_lcpy(hook.name, "mimic personas", sizeof hook.name);
  api_hook_message m = {
      .content = "hello as alice", .username = "Alice", .avatar_url = "https://example.com/a.png"};
  outcome o = {0};
  CHECK_OK(api_webhook_send(r, &hook, &m, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK_STR(jv_str(json_object_get(o.json, "author"), "username", NULL), "Alice");
  CHECK(hook.id != 0);
  uint64_t first_id = hook.id;
  reset(&o);
  /* a new cache (e.g. after a restart) finds the existing webhook instead of making another */
  api_hook again = {.channel_id = 11};
  str_lcpy(again.name, "mimic personas", sizeof again.name);
  m.thread_id = 20;
  CHECK_OK(api_webhook_send(r, &again, &m, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK(again.id == first_id);
  CHECK_STR(jv_str(o.json, "channel_id", NULL), "20");
  reset(&o);
  /* someone deletes it: the next send re-creates it */
  char path[256];
  snprintf(path, sizeof path, "/webhooks/%llu/%s", (unsigned long long)hook.id, hook.token);
  CHECK_OK(rest_call_sync(r, "DELETE", path, NULL, NULL, NULL, NULL));
  m.thread_id = 0;
  m.content = "still here";
  CHECK_OK(api_webhook_send(r, &hook, &m, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK(hook.id != 0 && hook.id != first_id);
  CHECK_STR(jv_str(o.json, "content", NULL), "still here");
  reset(&o);
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, "POST /channels/{channel_id}/webhooks", NULL, false), 2);
  CHECK_INT(rd_count(log, "GET /channels/{channel_id}/webhooks", NULL, false), 2);
  json_t *exec = nth(log, "POST /webhooks/{webhook_id}/{token}", 0);
  CHECK(strstr(jv_str(exec, "path", ""), "wait=true") != NULL);
  CHECK_STR(jv_str(json_object_get(exec, "body"), "avatar_url", NULL), "https://example.com/a.png");
  CHECK(strstr(jv_str(nth(log, "POST /webhooks/{webhook_id}/{token}", 1), "path", ""),
               "thread_id=20") != NULL);
  CHECK_INT(jv_int(nth(log, "POST /webhooks/{webhook_id}/{token}", 2), "status", 0), 404);
  json_decref(log);
  api_hook bad = {.channel_id = 11};
  str_lcpy(bad.name, "my discord hook", sizeof bad.name);
  CHECK_INT(api_webhook_send(r, &bad, &m, keep_cb, &o), MIMIC_EINVAL);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(gateway_user_guild_threads_dm_reactions) {
  rest_double d;
  if (rd_start(
          &d,
          "{\"gateway_url\": \"ws://127.0.0.1:4242\", \"shards\": 2, \"max_concurrency\": 16, " SEED
          "}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r != NULL);
  outcome o = {0};
  CHECK_OK(api_gateway_bot(r, keep_cb, &o));
  wait_for(r, &o);
  api_gateway_info gi;
  CHECK_OK(api_gateway_info_parse(o.json, &gi));
  CHECK_STR(gi.url, "ws://127.0.0.1:4242");
  CHECK_INT(gi.shards, 2);
  CHECK_INT(gi.max_concurrency, 16);
  CHECK_INT(gi.session_remaining, 999);
  reset(&o);
  json_t *junk = json_pack("{s:i}", "url", 5);
  CHECK_INT(api_gateway_info_parse(junk, &gi), MIMIC_EFORMAT);
  json_decref(junk);
  CHECK_OK(api_user_me(r, keep_cb, &o));
  wait_for(r, &o);
  CHECK(jv_bool(o.json, "bot", false));
  reset(&o);
  CHECK_OK(api_guild_channels(r, 1, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(json_array_size(o.json), 2);
  reset(&o);
  CHECK_OK(api_guild_threads_active(r, 1, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(json_array_size(json_object_get(o.json, "threads")), 1);
  reset(&o);
  CHECK_OK(api_threads_archived(r, 11, "2030-01-01T00:00:00Z", 50, keep_cb, &o));
  wait_for(r, &o);
  CHECK_STR(jv_str(json_array_get(json_object_get(o.json, "threads"), 0), "id", NULL), "21");
  reset(&o);
  CHECK_OK(api_dm_open(r, 100000000000000003ull, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(jv_int(o.json, "type", -1), 1);
  reset(&o);
  /* a message id to react to: the newest in channel 10 */
  CHECK_OK(api_messages_get(r, 10, API_PAGE_LATEST, 0, 1, keep_cb, &o));
  wait_for(r, &o);
  uint64_t mid = jv_snowflake(json_array_get(o.json, 0), "id");
  reset(&o);
  CHECK_OK(api_reaction_add(r, 10, mid, "\xF0\x9F\x91\x8D", keep_cb, &o)); /* thumbs up */
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  reset(&o);
  CHECK_OK(
      api_reactions_get(r, 10, mid, "\xF0\x9F\x91\x8D", 100000000000000001ull, 2, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(json_array_size(o.json), 2);
  CHECK_STR(jv_str(json_array_get(o.json, 0), "id", NULL), "100000000000000002");
  reset(&o);
  json_t *log = rd_log(&d);
  CHECK(strstr(jv_str(nth(log, "PUT /channels/{channel_id}/messages/{id}/reactions/{emoji}/@me", 0),
                      "path", ""),
               "%F0%9F%91%8D") != NULL);
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(commands_and_interactions) {
  rest_double d;
  if (rd_start(&d, "{\"app_id\": \"900\", " SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r != NULL);
  outcome o = {0};
  json_t *cmds =
      json_pack("[{s:s, s:s}, {s:s, s:s, s:[{s:i, s:s, s:s}]}]", "name", "status", "description",
                "Show status", "name", "persona", "description", "Pick a persona", "options",
                "type", 3, "name", "name", "description", "persona name");
  CHECK_OK(api_commands_overwrite(r, 900, 1, cmds, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK_INT(json_array_size(o.json), 2);
  CHECK_STR(jv_str(json_array_get(o.json, 0), "guild_id", NULL), "1");
  reset(&o);
  json_decref(cmds);
  cmds = json_pack("[{s:s, s:s}]", "name", "Bad Name", "description", "x");
  CHECK_OK(api_commands_overwrite(r, 900, 0, cmds, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, MIMIC_EINVAL);
  CHECK_INT(o.code, 50035);
  reset(&o);
  json_decref(cmds);

  CHECK_OK(api_interaction_defer(r, 5555, "itoken-abc", true, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  CHECK_INT(o.status, 204);
  reset(&o);
  CHECK_OK(api_original_edit(r, 900, "itoken-abc", "done thinking", keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  reset(&o);
  CHECK_OK(api_followup_send(r, 900, "itoken-abc", "and one more thing", true, keep_cb, &o));
  wait_for(r, &o);
  CHECK_INT(o.err, 0);
  reset(&o);
  CHECK_INT(api_interaction_respond(r, 5555, "bad/token", API_CB_MESSAGE, NULL, keep_cb, &o),
            MIMIC_EINVAL);
  json_t *log = rd_log(&d);
  json_t *cb = nth(log, "POST /interactions/{interaction_id}/{token}/callback", 0);
  CHECK_INT(jv_int(json_object_get(cb, "body"), "type", 0), 5);
  CHECK_INT(jv_int(json_object_get(json_object_get(cb, "body"), "data"), "flags", 0), 64);
  CHECK(json_object_get(cb, "global_count") ==
        NULL); /* exempt from the global limit at the double too */
  json_t *fu = nth(log, "POST /webhooks/{webhook_id}/{token}", 0);
  CHECK_INT(jv_int(json_object_get(fu, "body"), "flags", 0), 64);
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(send_message_json_and_mentions);
  RUN(long_reply_is_split_and_sent_in_order);
  RUN(history_pagination_before_and_after);
  RUN(webhook_is_created_reused_and_recreated);
  RUN(gateway_user_guild_threads_dm_reactions);
  RUN(commands_and_interactions);
  TEST_MAIN_END();
}
