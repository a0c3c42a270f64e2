/* Persona webhooks against the REST double (discord/actions.h): one shared webhook per channel
 * with username and avatar_url per message, a webhook of its own for a persona whose avatar is a
 * file, the 15-webhook limit, re-creation on Unknown Webhook with the message delivered once, the
 * fallback to the bot user without Manage Webhooks, threads, PluralKit-style reply quotes, and the
 * cache preloaded from a store. */
#include <curl/curl.h>
#include <string.h>

#include "base/base.h"
#include "discord/actions.h"
#include "discord/rest.h"
#include "rest_double.h"
#include "test.h"

#define SEED                                                                                       \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"11\", \"messages\": 3},"      \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"11\", \"name\": \"a-thread\"},"                 \
  "{\"id\": \"12\", \"no_webhooks\": true},"                                                       \
  "{\"id\": \"13\", \"webhooks\": 14},"                                                            \
  "{\"id\": \"14\", \"webhooks\": 13}]}]}"

typedef struct seen {
  int n, fallbacks;
  int last_err;
  discord_id last_id, last_hook, last_channel;
  uint64_t last_tag;
  size_t last_parts;
} seen;

typedef struct notes {
  int saved, used, gone;
  discord_hook_info last;
} notes;

static void on_done(const discord_actions_result *res, void *user) {
  seen *s = user;
  s->n++;
  s->last_err = res->err;
  s->last_id = res->message_id;
  s->last_hook = res->webhook_id;
  s->last_channel = res->channel_id;
  s->last_tag = res->tag;
  s->last_parts = res->n_parts;
  if (res->fallback) s->fallbacks++;
}

static void on_note(const discord_hook_info *h, discord_hook_event ev, void *user) {
  notes *n = user;
  if (ev == DISCORD_HOOK_SAVED) n->saved++;
  if (ev == DISCORD_HOOK_USED) n->used++;
  if (ev == DISCORD_HOOK_GONE) n->gone++;
  n->last = *h;
}

static rest *mk(const rest_double *d) {
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d->base;
  o.token = "tok-0123456789";
  rest *r = NULL;
  return rest_new(NULL, &o, &r) == 0 ? r : NULL;
}

static void settle(discord_actions *a, uint64_t want) {
  for (int i = 0; i < 4000 && a->sent + a->failed < want; i++)
    uv_run(rest_loop(a->rest), UV_RUN_ONCE);
}

static size_t grow(char *p, size_t size, size_t n, void *user) {
  buf *b = user;
  return buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* A test-only endpoint of the double (outside the API: not logged). */
static json_t *dbl(const rest_double *d, const char *path, const char *body) {
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d%s", d->port, path);
  CURL *c = curl_easy_init();
  if (!c) return NULL;
  buf b;
  buf_init(&b, 8u << 20);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  if (body) curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  CURLcode rc = curl_easy_perform(c);
  curl_easy_cleanup(c);
  json_t *j = rc == CURLE_OK && b.len ? json_loadb(b.data, b.len, 0, NULL) : NULL;
  buf_free(&b);
  return j;
}

static size_t hooks_in(const rest_double *d, const char *channel) {
  char path[96];
  snprintf(path, sizeof path, "/_double/webhooks?channel=%s", channel);
  json_t *j = dbl(d, path, NULL);
  size_t n = json_array_size(j);
  json_decref(j);
  return n;
}

/* The channel's messages (oldest first) as the double keeps them. */
static json_t *messages_of(const rest_double *d, const char *channel) {
  char path[96];
  snprintf(path, sizeof path, "/_double/dump?channel=%s", channel);
  return dbl(d, path, NULL);
}

static json_t *nth(json_t *log, const char *route, int n) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route) == 0 && n-- == 0) return e;
  }
  return NULL;
}

static const char *const EXEC = "POST /webhooks/{webhook_id}/{token}";
static const char *const LIST = "GET /channels/{channel_id}/webhooks";
static const char *const CREATE = "POST /channels/{channel_id}/webhooks";

typedef struct fixture {
  rest_double d;
  rest *r;
  discord_actions a;
  seen s;
  notes nt;
} fixture;

static bool fx_start(fixture *f) {
  memset(f, 0, sizeof *f);
  if (rd_start(&f->d, "{" SEED "}") != 0) return false;
  f->r = mk(&f->d);
  if (!f->r) return false;
  discord_actions_init(&f->a, f->r);
  f->a.done = on_done;
  f->a.done_user = &f->s;
  f->a.hook_note = on_note;
  f->a.hook_user = &f->nt;
  return true;
}

static void fx_stop(fixture *f) {
  rest_destroy(f->r);
  discord_actions_free(&f->a);
  rd_stop(&f->d);
}

static const char *write_png(void) {
  static char path[64];
  snprintf(path, sizeof path, "/tmp/mimic_avatar_%d.png", (int)getpid());
  static const char png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR fake image bytes";
  FILE *f = fopen(path, "wb");
  if (!f) return NULL;
  fwrite(png, 1, sizeof png - 1, f);
  fclose(f);
  return path;
}

TEST(one_webhook_per_channel_reused_with_name_and_avatar_per_message) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  discord_persona_send m = {.channel_id = 11,
                            .username = "Glordon",
                            .avatar_url = "https://example.com/glordon.png",
                            .content = "greetings, earthling",
                            .tag = 7};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  m.username = "Elio";
  m.avatar_url = "https://example.com/elio.png";
  m.content = "hi!";
  m.tag = 8;
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 2);
  CHECK_INT(f.a.sent, 2);
  CHECK_INT(f.s.last_err, 0);
  CHECK_INT(f.s.last_tag, 8);
  CHECK(f.s.last_id != 0);
  CHECK(f.s.last_hook != 0);
  CHECK(discord_actions_hook_is_ours(&f.a, f.s.last_hook));
  CHECK_INT(f.s.last_parts, 1);
  CHECK_INT(f.nt.saved, 1);
  CHECK_INT(f.nt.used, 2);
  CHECK_INT(f.nt.last.uses, 2);
  CHECK_INT(hooks_in(&f.d, "11"), 1);
  json_t *log = rd_log(&f.d);
  CHECK_INT(rd_count(log, LIST, NULL, false), 1);
  CHECK_INT(rd_count(log, CREATE, NULL, false), 1);
  json_t *b0 = json_object_get(nth(log, EXEC, 0), "body");
  json_t *b1 = json_object_get(nth(log, EXEC, 1), "body");
  REQUIRE(b0 && b1);
  CHECK_STR(jv_str(b0, "username", NULL), "Glordon");
  CHECK_STR(jv_str(b0, "avatar_url", NULL), "https://example.com/glordon.png");
  CHECK_STR(jv_str(b1, "username", NULL), "Elio");
  CHECK_STR(jv_str(b1, "avatar_url", NULL), "https://example.com/elio.png");
  char *am = jv_dump_compact(json_object_get(b1, "allowed_mentions"));
  CHECK_STR(am, "{\"parse\":[],\"replied_user\":false}");
  free(am);
  json_decref(log);

  /* A new process with the cache from its store: no lookup, no creation. */
  discord_hook_info keep = f.nt.last;
  discord_actions b;
  discord_actions_init(&b, f.r);
  discord_actions_hook_put(&b, &keep);
  CHECK(discord_actions_hook_is_ours(&b, keep.id));
  m.content = "back again";
  CHECK_OK(discord_actions_persona_send(&b, &m));
  settle(&b, 1);
  CHECK_INT(b.sent, 1);
  log = rd_log(&f.d);
  CHECK_INT(rd_count(log, LIST, NULL, false), 1);
  CHECK_INT(rd_count(log, CREATE, NULL, false), 1);
  CHECK_INT(rd_count(log, EXEC, NULL, false), 3);
  json_decref(log);
  discord_actions_free(&b);
  fx_stop(&f);
}

TEST(a_file_avatar_gets_a_webhook_of_its_own) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  const char *png = write_png();
  REQUIRE(png);
  discord_persona_send m = {
      .channel_id = 11, .username = "Ooooo", .avatar_file = png, .content = "blorp"};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  discord_persona_send u = {.channel_id = 11,
                            .username = "Elio",
                            .avatar_url = "https://example.com/elio.png",
                            .content = "hello"};
  CHECK_OK(discord_actions_persona_send(&f.a, &u));
  settle(&f.a, 2);
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 3);
  CHECK_INT(f.a.sent, 3);
  CHECK_INT(f.a.failed, 0);
  CHECK_INT(hooks_in(&f.d, "11"), 2);
  CHECK_INT(discord_actions_hook_count(&f.a, 11), 2);
  json_t *hooks = dbl(&f.d, "/_double/webhooks?channel=11", NULL);
  int with_avatar = 0;
  size_t i;
  json_t *w;
  json_array_foreach(hooks, i, w) with_avatar += json_is_string(json_object_get(w, "avatar"));
  CHECK_INT(with_avatar, 1);
  json_decref(hooks);
  json_t *log = rd_log(&f.d);
  json_t *c0 = json_object_get(nth(log, CREATE, 0), "body");
  REQUIRE(c0);
  CHECK(strncmp(jv_str(c0, "avatar", ""), "data:image/png;base64,", 22) == 0);
  /* The persona's own webhook shows its image: no avatar_url on its messages. */
  CHECK(json_object_get(json_object_get(nth(log, EXEC, 0), "body"), "avatar_url") == NULL);
  CHECK_STR(jv_str(json_object_get(nth(log, EXEC, 2), "body"), "username", NULL), "Ooooo");
  CHECK_INT(rd_count(log, CREATE, NULL, false), 2);
  json_decref(log);
  unlink(png);
  fx_stop(&f);
}

TEST(unknown_webhook_is_recreated_and_the_message_delivered_once) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  discord_persona_send m = {.channel_id = 11, .username = "Glordon", .content = "first"};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  REQUIRE(f.s.last_hook != 0);
  char body[64];
  snprintf(body, sizeof body, "{\"id\": \"%llu\"}", (unsigned long long)f.s.last_hook);
  json_decref(dbl(&f.d, "/_double/webhook_delete", body));
  CHECK_INT(hooks_in(&f.d, "11"), 0);
  json_t *before = messages_of(&f.d, "11");
  size_t n0 = json_array_size(before);
  json_decref(before);
  /* A long message: three parts, all after the re-creation, none twice. */
  char *text = xalloc(5001);
  for (int i = 0; i < 5000; i++) text[i] = i % 50 == 49 ? ' ' : 'a';
  text[5000] = 0;
  m.content = text;
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 2);
  mem_free(text);
  CHECK_INT(f.a.failed, 0);
  CHECK_INT(f.s.last_err, 0);
  CHECK_INT(f.nt.gone, 1);
  CHECK_INT(f.s.last_parts, 3);
  CHECK_INT(hooks_in(&f.d, "11"), 1);
  json_t *after = messages_of(&f.d, "11");
  CHECK_INT(json_array_size(after), n0 + 3);
  json_decref(after);
  json_t *log = rd_log(&f.d);
  CHECK_INT(rd_count(log, CREATE, NULL, false), 2);
  json_decref(log);
  fx_stop(&f);
}

TEST(without_manage_webhooks_the_bot_user_speaks_with_the_name) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  discord_persona_send m = {
      .channel_id = 12, .username = "Glordon", .content = "I am here", .reply_to = 0, .tag = 3};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  CHECK_INT(f.s.last_err, 0);
  CHECK_INT(f.s.fallbacks, 1);
  CHECK_INT(f.s.last_tag, 3);
  CHECK(f.s.last_id != 0);
  CHECK_INT(f.s.last_hook, 0);
  CHECK(discord_actions_hook_denied(&f.a, 12));
  m.content = "still me";
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 2);
  CHECK_INT(f.s.fallbacks, 2);
  CHECK_INT(f.a.fallbacks, 2);
  json_t *log = rd_log(&f.d);
  /* Asked once; the second message went straight to the bot user. */
  CHECK_INT(rd_count(log, LIST, NULL, false), 1);
  json_t *p0 = json_object_get(nth(log, "POST /channels/{channel_id}/messages", 0), "body");
  json_t *p1 = json_object_get(nth(log, "POST /channels/{channel_id}/messages", 1), "body");
  REQUIRE(p0 && p1);
  CHECK_STR(jv_str(p0, "content", NULL), "**Glordon**: I am here");
  CHECK_STR(jv_str(p1, "content", NULL), "**Glordon**: still me");
  json_decref(log);
  fx_stop(&f);
}

TEST(the_fifteen_webhook_limit_is_respected) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  const char *png = write_png();
  REQUIRE(png);
  /* Channel 13 holds 14 webhooks of others: the shared one is the 15th; an avatar persona then
   * finds no room and none of mimic's to replace, so the shared webhook carries it. */
  discord_persona_send m = {.channel_id = 13, .username = "Elio", .content = "hi"};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  discord_persona_send o = {
      .channel_id = 13, .username = "Ooooo", .avatar_file = png, .content = "blorp"};
  CHECK_OK(discord_actions_persona_send(&f.a, &o));
  settle(&f.a, 2);
  CHECK_INT(f.a.failed, 0);
  CHECK_INT(f.s.fallbacks, 0);
  CHECK_INT(hooks_in(&f.d, "13"), 15);
  /* Channel 14 holds 13: shared + one avatar webhook fill it; a second avatar persona replaces
   * the least used of mimic's (never the shared one). */
  m.channel_id = 14;
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 3);
  o.channel_id = 14;
  CHECK_OK(discord_actions_persona_send(&f.a, &o));
  settle(&f.a, 4);
  CHECK_INT(hooks_in(&f.d, "14"), 15);
  discord_persona_send p = o;
  p.username = "Bryce";
  p.avatar_key = "another image";
  CHECK_OK(discord_actions_persona_send(&f.a, &p));
  settle(&f.a, 5);
  CHECK_INT(f.a.failed, 0);
  CHECK_INT(hooks_in(&f.d, "14"), 15);
  CHECK_INT(f.nt.gone, 1);
  CHECK_INT(discord_actions_hook_count(&f.a, 14), 2);
  json_t *log = rd_log(&f.d);
  CHECK_INT(rd_count(log, "DELETE /webhooks/{webhook_id}", NULL, false), 1);
  json_decref(log);
  unlink(png);
  fx_stop(&f);
}

TEST(threads_and_reply_quotes) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  discord_persona_send m = {.channel_id = 11,
                            .thread_id = 20,
                            .guild_id = 1,
                            .username = "Glordon",
                            .content = "in the thread",
                            .reply_to = 555,
                            .reply_user = 100000000000000001ull,
                            .reply_excerpt = "are you\nthere?",
                            .ping_reply = true};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  CHECK_INT(f.s.last_err, 0);
  CHECK_INT(f.s.last_channel, 20);
  json_t *msgs = messages_of(&f.d, "20");
  CHECK_INT(json_array_size(msgs), 1);
  json_decref(msgs);
  json_t *log = rd_log(&f.d);
  json_t *e = nth(log, EXEC, 0);
  REQUIRE(e);
  CHECK(strstr(jv_str(e, "path", ""), "thread_id=20") != NULL);
  json_t *b = json_object_get(e, "body");
  CHECK_STR(jv_str(b, "content", NULL),
            "> <@100000000000000001> are you there? "
            "[\xE2\x86\xA9](https://discord.com/channels/1/20/555)\nin the thread");
  char *am = jv_dump_compact(json_object_get(b, "allowed_mentions"));
  CHECK_STR(am, "{\"parse\":[],\"users\":[\"100000000000000001\"],\"replied_user\":false}");
  free(am);
  json_decref(log);
  fx_stop(&f);
}

static void sink(log_level lv, const char *line, void *user) {
  (void)lv;
  if (buf_printf(user, "%s\n", line)) abort();
}

TEST(tokens_stay_out_of_the_log) {
  fixture f;
  if (!fx_start(&f)) SKIP("node or the double is missing");
  buf lines;
  buf_init(&lines, 1 << 20);
  log_set_level(LOG_TRACE);
  log_set_sink(sink, &lines);
  discord_persona_send m = {.channel_id = 11, .username = "Glordon", .content = "x"};
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 1);
  /* deleted behind mimic's back: the failure and the re-creation are logged */
  char body[64];
  snprintf(body, sizeof body, "{\"id\": \"%llu\"}", (unsigned long long)f.s.last_hook);
  json_decref(dbl(&f.d, "/_double/webhook_delete", body));
  CHECK_OK(discord_actions_persona_send(&f.a, &m));
  settle(&f.a, 2);
  log_set_sink(NULL, NULL);
  log_set_level(LOG_INFO);
  json_t *hooks = dbl(&f.d, "/_double/webhooks?channel=11", NULL);
  REQUIRE(json_array_size(hooks) == 1);
  CHECK(lines.len > 0);
  size_t i;
  json_t *w;
  json_array_foreach(hooks, i, w) {
    const char *tok = jv_str(w, "token", "");
    REQUIRE(*tok);
    CHECK(strstr(lines.data ? lines.data : "", tok) == NULL);
  }
  CHECK_STR(f.nt.last.token, jv_str(json_array_get(hooks, 0), "token", "")); /* the store's copy */
  json_decref(hooks);
  buf_free(&lines);
  fx_stop(&f);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(one_webhook_per_channel_reused_with_name_and_avatar_per_message);
  RUN(a_file_avatar_gets_a_webhook_of_its_own);
  RUN(unknown_webhook_is_recreated_and_the_message_delivered_once);
  RUN(without_manage_webhooks_the_bot_user_speaks_with_the_name);
  RUN(the_fifteen_webhook_limit_is_respected);
  RUN(threads_and_reply_quotes);
  RUN(tokens_stay_out_of_the_log);
  curl_global_cleanup();
  TEST_MAIN_END();
}
