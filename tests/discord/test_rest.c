/* Tests for the REST client against the Discord REST double (tests/double/rest_double.js) on
 * loopback: authentication and User-Agent, base-URL rules, JSON error bodies, malformed JSON, the
 * body cap, 5xx retries, a 429 storm with bucket exhaustion and the global limit (checked on the
 * double's request log), and cancellation. */
#include <string.h>

#include "base/base.h"
#include "discord/rest.h"
#include "rest_double.h"
#include "test.h"

#define TOKEN "test-token-NEVER-LOGGED-0123456789"

static rest *mk_sync(const rest_double *d, const char *token) {
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d->base;
  o.token = token;
  o.backoff_ms = 20;
  o.timeout_ms = 10000;
  rest *r = NULL;
  if (rest_new(NULL, &o, &r) != 0) return NULL;
  return r;
}

TEST(base_url_rules) {
  CHECK_OK(rest_base_url_check("https://discord.com/api/v10"));
  CHECK_OK(rest_base_url_check("http://127.0.0.1:8080/api/v10"));
  CHECK_OK(rest_base_url_check("http://127.3.4.5/api"));
  CHECK_OK(rest_base_url_check("http://localhost:1234/api/v10"));
  CHECK_OK(rest_base_url_check("http://[::1]:1234/api/v10"));
  CHECK_INT(rest_base_url_check("http://discord.com/api/v10"), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "unencrypted") != NULL);
  CHECK_INT(rest_base_url_check("http://127.0.0.1.evil.com/api"), MIMIC_EINVAL);
  CHECK_INT(rest_base_url_check("http://127.0.0.1@evil.com/api"), MIMIC_EINVAL);
  CHECK_INT(rest_base_url_check("http://10.0.0.1/api"), MIMIC_EINVAL);
  CHECK_INT(rest_base_url_check("http://[::2]/api"), MIMIC_EINVAL);
  CHECK_INT(rest_base_url_check("http://localhost.evil.com/api"), MIMIC_EINVAL);
  CHECK_INT(rest_base_url_check("ftp://discord.com/api"), MIMIC_EINVAL);
  CHECK_INT(rest_base_url_check(""), MIMIC_EINVAL);
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = "http://example.com/api/v10";
  rest *r = NULL;
  CHECK_INT(rest_new(NULL, &o, &r), MIMIC_EINVAL);
  CHECK(r == NULL);
}

TEST(config_sets_base_url) {
  cfg *c = cfg_new();
  rest_opts o;
  CHECK_OK(rest_opts_from_cfg(c, "tok", &o));
  CHECK_STR(o.base_url, "https://discord.com/api/v10");
  setenv("MIMIC_DISCORD_API", "http://192.168.1.5/api/v10", 1);
  CHECK_OK(cfg_load_env(c));
  CHECK_INT(rest_opts_from_cfg(c, "tok", &o), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "MIMIC_DISCORD_API") != NULL);
  setenv("MIMIC_DISCORD_API", "http://127.0.0.1:9/api/v10", 1);
  CHECK_OK(cfg_load_env(c));
  CHECK_OK(rest_opts_from_cfg(c, "tok", &o));
  CHECK_STR(o.base_url, "http://127.0.0.1:9/api/v10");
  unsetenv("MIMIC_DISCORD_API");
  cfg_destroy(c);
}

TEST(get_with_auth_and_user_agent) {
  rest_double d;
  if (rd_start(&d, "{\"token\": \"" TOKEN "\", \"gateway_url\": \"ws://127.0.0.1:1/gw\"}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk_sync(&d, TOKEN);
  REQUIRE(r != NULL);
  json_t *j = NULL;
  int status = 0;
  CHECK_OK(rest_call_sync(r, "GET", "/gateway/bot", NULL, &j, &status, NULL));
  CHECK_INT(status, 200);
  CHECK_STR(jv_str(j, "url", NULL), "ws://127.0.0.1:1/gw");
  json_decref(j);
  CHECK_OK(rest_call_sync(r, "GET", "/users/@me", NULL, &j, NULL, NULL));
  CHECK(jv_bool(j, "bot", false));
  json_decref(j);
  json_t *log = rd_log(&d);
  CHECK_INT(json_array_size(log), 2);
  CHECK_INT(rd_count(log, NULL, "auth_ok", true), 2);
  CHECK_INT(rd_count(log, NULL, "ua_ok", true), 2);
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(errors_carry_status_code_and_message_but_never_the_token) {
  rest_double d;
  if (rd_start(
          &d,
          "{\"token\": \"" TOKEN
          "\", \"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"10\"}]}]}}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk_sync(&d, "wrong-token-0123456789");
  REQUIRE(r != NULL);
  json_t *j = NULL;
  int status = 0, code = -1;
  CHECK_INT(rest_call_sync(r, "GET", "/users/@me", NULL, &j, &status, &code), MIMIC_EAUTH);
  CHECK_INT(status, 401);
  CHECK(strstr(err_msg(), "401") != NULL);
  CHECK(strstr(err_msg(), "wrong-token") == NULL);
  rest_destroy(r);

  r = mk_sync(&d, TOKEN);
  CHECK_INT(rest_call_sync(r, "GET", "/channels/999/messages", NULL, &j, &status, &code),
            MIMIC_ENOTFOUND);
  CHECK_INT(status, 404);
  CHECK_INT(code, 10003);
  CHECK(strstr(err_msg(), "Unknown Channel") != NULL);
  /* a form error names the field */
  char big[2002];
  memset(big, 'a', 2001);
  big[2001] = 0;
  json_t *body = json_pack("{s:s}", "content", big);
  CHECK_INT(rest_call_sync(r, "POST", "/channels/10/messages", body, &j, &status, &code),
            MIMIC_EINVAL);
  CHECK_INT(code, 50035);
  CHECK(strstr(err_msg(), "content: Must be 2000 or fewer") != NULL);
  json_decref(body);
  /* webhook tokens in the path never reach the message */
  CHECK_INT(rest_call_sync(r, "POST", "/webhooks/123/SECRETWEBHOOKTOKEN", NULL, &j, &status, &code),
            MIMIC_ENOTFOUND);
  CHECK(strstr(err_msg(), "SECRETWEBHOOKTOKEN") == NULL);
  CHECK(strstr(err_msg(), "{token}") != NULL);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(malformed_json_is_an_error_not_a_crash) {
  rest_double d;
  if (rd_start(
          &d,
          "{\"faults\": [{\"route\": \"GET /users/@me\", \"kind\": \"malformed\", \"count\": 1},"
          "{\"route\": \"GET /gateway/bot\", \"kind\": \"bad_headers\", \"count\": 1},"
          "{\"route\": \"GET /guilds/{guild_id}/channels\", \"kind\": \"big\", \"bytes\": "
          "3000000}],"
          "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"10\"}]}]}}") != 0)
    SKIP("node or the double is missing");
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  o.body_max = 1 << 20;
  rest *r = NULL;
  REQUIRE(rest_new(NULL, &o, &r) == 0);
  json_t *j = NULL;
  int status = 0;
  CHECK_INT(rest_call_sync(r, "GET", "/users/@me", NULL, &j, &status, NULL), MIMIC_EPROTO);
  CHECK(strstr(err_msg(), "malformed JSON") != NULL);
  CHECK_INT(status, 200);
  CHECK(j == NULL);
  /* garbage rate-limit headers are ignored; the answer still arrives */
  CHECK_OK(rest_call_sync(r, "GET", "/gateway/bot", NULL, &j, NULL, NULL));
  json_decref(j);
  CHECK_INT(rest_call_sync(r, "GET", "/guilds/1/channels", NULL, &j, NULL, NULL), MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "cap") != NULL);
  CHECK_OK(rest_call_sync(r, "GET", "/users/@me", NULL, &j, NULL, NULL)); /* fault spent */
  json_decref(j);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(server_errors_are_retried_with_backoff) {
  rest_double d;
  if (rd_start(&d, "{\"faults\": [{\"route\": \"GET /users/@me\", \"kind\": \"5xx\", \"status\": "
                   "502, \"count\": 2},"
                   "{\"route\": \"GET /gateway/bot\", \"kind\": \"5xx\", \"status\": 500, "
                   "\"count\": 9}]}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk_sync(&d, NULL);
  REQUIRE(r != NULL);
  json_t *j = NULL;
  int status = 0;
  CHECK_OK(rest_call_sync(r, "GET", "/users/@me", NULL, &j, &status, NULL));
  CHECK_INT(status, 200);
  json_decref(j);
  CHECK_INT(rest_call_sync(r, "GET", "/gateway/bot", NULL, &j, &status, NULL), MIMIC_ENET);
  CHECK_INT(status, 500);
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, "GET /users/@me", NULL, false), 3);   /* 2 failures + success */
  CHECK_INT(rd_count(log, "GET /gateway/bot", NULL, false), 4); /* 1 + max_retries (3) */
  /* the retries were spaced out, not hammered */
  size_t i;
  json_t *e;
  double prev = -1, min_gap = 1e9;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), "GET /gateway/bot") != 0) continue;
    double t = jv_num(e, "t", 0);
    if (prev >= 0 && t - prev < min_gap) min_gap = t - prev;
    prev = t;
  }
  CHECK(min_gap >= 20 - 1); /* backoff_ms = 20 */
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

TEST(connection_refused_is_an_error) {
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = "http://127.0.0.1:1/api/v10";
  o.backoff_ms = 1;
  o.max_retries = 1;
  rest *r = NULL;
  REQUIRE(rest_new(NULL, &o, &r) == 0);
  json_t *j = NULL;
  CHECK_INT(rest_call_sync(r, "GET", "/users/@me", NULL, &j, NULL, NULL), MIMIC_ENET);
  CHECK(strstr(err_msg(), "GET /users/@me") != NULL);
  rest_destroy(r);
}

/* Occurrences of needle in hay. */
static int count_in(const char *hay, const char *needle) {
  int n = 0;
  for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle)) n++;
  return n;
}

TEST(unreachable_api_is_said_once_with_the_retry_schedule) {
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = "http://127.0.0.1:1/api/v10";
  o.backoff_ms = 1;
  o.max_retries = 3;
  rest *r = NULL;
  REQUIRE(rest_new(NULL, &o, &r) == 0);
  json_t *j = NULL;
  CHECK_INT(rest_call_sync(r, "GET", "/users/@me/guilds", NULL, &j, NULL, NULL), MIMIC_ENET);
  const char *m = err_msg();
  CHECK_INT(count_in(m, "GET /users/@me/guilds"), 1);
  CHECK(count_in(m, "onnect") >= 1);
  CHECK(count_in(m, "Couldn't connect to server") <= 1); /* curl's cause, not repeated */
  CHECK(strstr(m, "4 attempts, retried after 1 ms, 2 ms and 4 ms") != NULL);
  CHECK(strchr(m, '\n') == NULL);
  rest_destroy(r);
}

TEST(hung_requests_time_out) {
  rest_double d;
  if (rd_start(
          &d, "{\"faults\": [{\"route\": \"GET /users/@me\", \"kind\": \"hang\", \"count\": 1},"
              "{\"route\": \"POST /users/@me/channels\", \"kind\": \"hang\", \"count\": 1}]}") != 0)
    SKIP("node or the double is missing");
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  /* Long enough that an answered request never times out on a loaded machine (ASan and the Node
   * double share 2 cores with the rest of the suite); the hung ones still do. */
  o.timeout_ms = 1500;
  o.backoff_ms = 10;
  rest *r = NULL;
  REQUIRE(rest_new(NULL, &o, &r) == 0);
  json_t *j = NULL;
  /* an idempotent GET is retried after the timeout and then succeeds */
  CHECK_OK(rest_call_sync(r, "GET", "/users/@me", NULL, &j, NULL, NULL));
  json_decref(j);
  /* a POST is not retried after a timeout (it may have been applied): the error comes back */
  json_t *body = json_pack("{s:s}", "recipient_id", "100000000000000001");
  CHECK_INT(rest_call_sync(r, "POST", "/users/@me/channels", body, &j, NULL, NULL), MIMIC_ETIMEOUT);
  CHECK(strstr(err_msg(), "POST /users/@me/channels") != NULL);
  json_decref(body);
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, "GET /users/@me", NULL, false), 2);
  CHECK_INT(rd_count(log, "POST /users/@me/channels", NULL, false), 1);
  json_decref(log);
  rest_destroy(r);
  rd_stop(&d);
}

/* ---- async: storms, exhaustion and the global limit ---- */

typedef struct tally {
  int ok, failed, cancelled;
  int last_err;
} tally;

static void count_cb(const rest_result *res, void *user) {
  tally *t = user;
  if (res->err == MIMIC_ECANCELLED)
    t->cancelled++;
  else if (res->err) {
    t->failed++;
    t->last_err = res->err;
    printf("     request failed: %s\n", res->message);
  } else
    t->ok++;
}

TEST(storm_and_exhaustion_never_hit_an_empty_bucket) {
  /* Messages: 5 per 400 ms per channel. Typing on channel 13: 1 per 100 ms with a storm of three
   * user-scope 429s. Guild channels: 1 per 100 ms with two shared-scope 429s. */
  rest_double d;
  if (rd_start(&d, "{\"buckets\": {"
                   "\"POST /channels/{channel_id}/messages\": {\"limit\": 5, \"window_ms\": 400, "
                   "\"id\": \"msg\"},"
                   "\"POST /channels/{channel_id}/typing\": {\"limit\": 1, \"window_ms\": 100},"
                   "\"GET /guilds/{guild_id}/channels\": {\"limit\": 1, \"window_ms\": 100}},"
                   "\"faults\": ["
                   "{\"route\": \"POST /channels/{channel_id}/typing\", \"kind\": \"429\", "
                   "\"scope\": \"user\", \"retry_after\": 0.3, \"count\": 3, \"skip\": 2},"
                   "{\"route\": \"GET /guilds/{guild_id}/channels\", \"kind\": \"429\", \"scope\": "
                   "\"shared\", \"retry_after\": 0.2, \"count\": 2, \"skip\": 1}],"
                   "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"10\"}, "
                   "{\"id\": \"11\"}, {\"id\": \"12\"}, {\"id\": \"13\"}]}]}}") != 0)
    SKIP("node or the double is missing");
  uv_loop_t loop;
  uv_loop_init(&loop);
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  rest *r = NULL;
  REQUIRE(rest_new(&loop, &o, &r) == 0);
  tally t = {0};
  int sent = 0;
  json_t *body = json_pack("{s:s, s:{s:[]}}", "content", "hello", "allowed_mentions", "parse");
  for (int i = 0; i < 15; i++) {
    for (int ch = 10; ch <= 12; ch++) {
      char path[64];
      snprintf(path, sizeof path, "/channels/%d/messages", ch);
      CHECK_OK(rest_request(r, "POST", path, body, count_cb, &t));
      sent++;
    }
    if (i < 8) {
      CHECK_OK(rest_request(r, "POST", "/channels/13/typing", NULL, count_cb, &t));
      CHECK_OK(rest_request(r, "GET", "/guilds/1/channels", NULL, count_cb, &t));
      sent += 2;
    }
  }
  json_decref(body);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(t.ok, sent);
  CHECK_INT(t.failed, 0);
  rl_stats st;
  rest_stats(r, &st);
  CHECK_INT(st.r429, 5);
  CHECK_INT(st.r429_shared, 2);
  CHECK_INT(st.invalid_total, 3); /* shared-scope 429s are not invalid requests */
  rest_destroy(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);

  json_t *log = rd_log(&d);
  size_t i;
  json_t *e;
  int empty = 0, global = 0, storm = 0;
  json_array_foreach(log, i, e) {
    if (jv_bool(e, "hit_empty", false)) {
      empty++;
      printf("     hit an empty bucket: %s at %.1f\n", jv_str(e, "path", "?"), jv_num(e, "t", 0));
    }
    if (jv_bool(e, "global_exceeded", false)) global++;
    if (strcmp(jv_str(e, "fault", ""), "429") == 0) storm++;
  }
  CHECK_INT(empty, 0);
  CHECK_INT(global, 0);
  CHECK_INT(storm, 5);
  CHECK_INT(json_array_size(log), sent + 5);
  /* after each scripted 429 the next request on that bucket waited retry_after */
  const char *routes[] = {"POST /channels/{channel_id}/typing", "GET /guilds/{guild_id}/channels"};
  double waits[] = {300, 200};
  for (int k = 0; k < 2; k++) {
    double t429 = -1;
    json_array_foreach(log, i, e) {
      if (strcmp(jv_str(e, "route", ""), routes[k]) != 0) continue;
      double at = jv_num(e, "t", 0);
      if (t429 >= 0) {
        CHECK(at - t429 >= waits[k] - 5);
        t429 = -1;
      }
      if (strcmp(jv_str(e, "fault", ""), "429") == 0) t429 = at;
    }
  }
  json_decref(log);
  rd_stop(&d);
}

TEST(global_limit_holds_at_the_server) {
  /* 120 requests on 120 different channels: no bucket limits them, only the global 50/s. */
  char scen[8192];
  size_t n = (size_t)snprintf(scen, sizeof scen,
                              "{\"global\": {\"limit\": 50, \"window_ms\": 1000}, \"seed\": "
                              "{\"guilds\": [{\"id\": \"1\", \"channels\": [");
  for (int i = 0; i < 120; i++)
    n += (size_t)snprintf(scen + n, sizeof scen - n, "%s{\"id\": \"%d\"}", i ? "," : "", 1000 + i);
  snprintf(scen + n, sizeof scen - n,
           "]}]}, \"faults\": [{\"route\": \"GET /users/@me\", \"kind\": \"429\", \"scope\": "
           "\"global\", \"retry_after\": 0.3}]}");
  rest_double d;
  if (rd_start(&d, scen) != 0) SKIP("node or the double is missing");
  uv_loop_t loop;
  uv_loop_init(&loop);
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  rest *r = NULL;
  REQUIRE(rest_new(&loop, &o, &r) == 0);
  tally t = {0};
  /* First a global 429 (alone in flight, so nothing races it), then the flood. */
  CHECK_OK(rest_request(r, "GET", "/users/@me", NULL, count_cb, &t));
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(t.ok, 1);
  for (int i = 0; i < 120; i++) {
    char path[64];
    snprintf(path, sizeof path, "/channels/%d/typing", 1000 + i);
    CHECK_OK(rest_request(r, "POST", path, NULL, count_cb, &t));
  }
  uint64_t t0 = clock_mono_ms();
  uv_run(&loop, UV_RUN_DEFAULT);
  uint64_t took = clock_mono_ms() - t0;
  CHECK_INT(t.ok, 121);
  rest_destroy(r);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  json_t *log = rd_log(&d);
  CHECK_INT(rd_count(log, NULL, "global_exceeded", true), 0);
  CHECK_INT(rd_count(log, NULL, "hit_empty", true), 0);
  /* the request after the global 429 waited for retry_after */
  double t429 = jv_num(json_array_get(log, 1), "t", 0) - jv_num(json_array_get(log, 0), "t", 0);
  CHECK(t429 >= 300 - 5);
  json_decref(log);
  printf("     120 requests under the global limit in %llu ms\n", (unsigned long long)took);
  rd_stop(&d);
}

TEST(destroy_cancels_pending_requests) {
  rest_double d;
  if (rd_start(&d, "{\"buckets\": {\"GET /users/@me\": {\"limit\": 1, \"window_ms\": 5000}}}") != 0)
    SKIP("node or the double is missing");
  uv_loop_t loop;
  uv_loop_init(&loop);
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  rest *r = NULL;
  REQUIRE(rest_new(&loop, &o, &r) == 0);
  tally t = {0};
  for (int i = 0; i < 5; i++) CHECK_OK(rest_request(r, "GET", "/users/@me", NULL, count_cb, &t));
  /* run until the first answer taught the limiter the bucket is empty for 5 s */
  while (t.ok < 1) uv_run(&loop, UV_RUN_ONCE);
  CHECK_INT(rest_pending(r), 4);
  rest_destroy(r);
  CHECK_INT(t.cancelled, 4);
  uv_run(&loop, UV_RUN_DEFAULT);
  CHECK_INT(uv_loop_close(&loop), 0);
  json_t *log = rd_log(&d);
  CHECK_INT(json_array_size(log), 1);
  json_decref(log);
  rd_stop(&d);
}

static int run_cli(const char *env, char *out, size_t cap) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) return -1000;
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd /tmp && env -u MIMIC_CONFIG %s '%s' discord check 2>&1", env, bin);
  FILE *p = popen(cmd, "r");
  if (!p) return -1000;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(cli_discord_check) {
  if (!getenv("MIMIC_BIN")) SKIP("MIMIC_BIN not set (run through ctest)");
  rest_double d;
  if (rd_start(&d, "{\"token\": \"" TOKEN
                   "\", \"gateway_url\": \"ws://127.0.0.1:7/gw\", \"shards\": 3}") != 0)
    SKIP("node or the double is missing");
  char env[512], out[4096];
  snprintf(env, sizeof env, "DISCORD_TOKEN=%s MIMIC_DISCORD_API=%s", TOKEN, d.base);
  CHECK_INT(run_cli(env, out, sizeof out), 0);
  CHECK(strstr(out, "bot: mimic") != NULL);
  CHECK(strstr(out, "gateway: ws://127.0.0.1:7/gw") != NULL);
  CHECK(strstr(out, "shards: 3") != NULL);
  snprintf(env, sizeof env, "DISCORD_TOKEN=wrong-token-abcdefgh MIMIC_DISCORD_API=%s", d.base);
  CHECK_INT(run_cli(env, out, sizeof out), 1);
  CHECK(strstr(out, "401") != NULL);
  CHECK(strstr(out, "wrong-token-abcdefgh") == NULL);
  CHECK_INT(run_cli("DISCORD_TOKEN=abcdefghijk MIMIC_DISCORD_API=http://discord.example/api/v10",
                    out, sizeof out),
            1);
  CHECK(strstr(out, "unencrypted") != NULL);
  rd_stop(&d);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(base_url_rules);
  RUN(config_sets_base_url);
  RUN(get_with_auth_and_user_agent);
  RUN(errors_carry_status_code_and_message_but_never_the_token);
  RUN(malformed_json_is_an_error_not_a_crash);
  RUN(server_errors_are_retried_with_backoff);
  RUN(connection_refused_is_an_error);
  RUN(unreachable_api_is_said_once_with_the_retry_schedule);
  RUN(hung_requests_time_out);
  RUN(storm_and_exhaustion_never_hit_an_empty_bucket);
  RUN(global_limit_holds_at_the_server);
  RUN(destroy_cancels_pending_requests);
  RUN(cli_discord_check);
  TEST_MAIN_END();
}
