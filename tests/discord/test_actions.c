/* Tests for the typed actions (actions.h) against the REST double: what the bot asks for becomes
 * the right requests, with allowed_mentions pinging nobody but the person answered; components,
 * files (multipart), persona webhooks and interaction responses have Discord's shapes. */
#include <string.h>

#include "base/base.h"
#include "discord/actions.h"
#include "discord/rest.h"
#include "rest_double.h"
#include "test.h"

#define SEED                                                                                       \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"11\", \"messages\": 5},"      \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"11\", \"name\": \"a-thread\"}]}]}"

typedef struct seen {
  int n;
  discord_id last_id;
  int last_err;
} seen;

static void on_done(const discord_actions_result *res, void *user) {
  seen *s = user;
  s->n++;
  s->last_err = res->err;
  if (!res->err) s->last_id = res->message_id;
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

/* The n-th logged request on route, or NULL. */
static json_t *nth(json_t *log, const char *route, int n) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route) == 0 && n-- == 0) return e;
  }
  return NULL;
}

/* The body of the logged request on route whose "type" is type, or NULL. */
static json_t *body_of_type(json_t *log, const char *route, int type) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route) != 0) continue;
    json_t *b = json_object_get(e, "body");
    if (jv_int(b, "type", -1) == type) return b;
  }
  return NULL;
}

static const char *const POST_MSG = "POST /channels/{channel_id}/messages";

/* The logged request on route whose body has field equal to want, or NULL. Concurrent requests
 * reach the double in any order, so tests find them by what they carry, not by position. */
static json_t *with_body(json_t *log, const char *route, const char *field, const char *want) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route) != 0) continue;
    if (strcmp(jv_str(json_object_get(e, "body"), field, ""), want) == 0) return e;
  }
  return NULL;
}

TEST(actions_become_rest_requests) {
  rest_double d;
  if (rd_start(&d, "{" SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  seen s = {0};
  a.done = on_done;
  a.done_user = &s;

  json_t *latest = NULL;
  CHECK_OK(rest_call_sync(r, "GET", "/channels/11/messages?limit=1", NULL, &latest, NULL, NULL));
  uint64_t target = jv_snowflake(json_array_get(latest, 0), "id");
  json_decref(latest);
  REQUIRE(target != 0);
  char target_s[24];
  snprintf(target_s, sizeof target_s, "%llu", (unsigned long long)target);
  discord_send reply = {
      .channel_id = 11, .content = "lol same", .reply_to = target, .ping_reply = true};
  CHECK_OK(discord_actions_send(&a, &reply));
  discord_send shout = {.channel_id = 11, .content = "@everyone @here look <@&5>"};
  CHECK_OK(discord_actions_send(&a, &shout));
  CHECK_OK(discord_actions_typing(&a, 11));
  discord_send dm = {.content = "You are opted out."};
  CHECK_OK(discord_actions_send_dm(&a, 4242, &dm));
  CHECK_OK(discord_actions_react(&a, 11, target, "\xF0\x9F\x91\x8D"));
  /* Five requests finish: two sends, typing, the DM's message (after the DM channel), a reaction.
   */
  settle(&a, 5);
  CHECK_INT(a.sent, 5);
  CHECK_INT(a.failed, 0);
  CHECK_INT(s.n, 5);
  discord_send empty = {.channel_id = 11, .content = " \n"};
  CHECK_INT(discord_actions_send(&a, &empty), MIMIC_EINVAL);

  json_t *log = rd_log(&d);
  json_t *e0 = with_body(log, POST_MSG, "content", "lol same");
  json_t *e1 = with_body(log, POST_MSG, "content", "@everyone @here look <@&5>");
  json_t *e2 = with_body(log, POST_MSG, "content", "You are opted out.");
  REQUIRE(e0 && e1 && e2);
  CHECK(nth(log, POST_MSG, 3) == NULL);
  json_t *b0 = json_object_get(e0, "body");
  json_t *b1 = json_object_get(e1, "body");
  CHECK(json_is_true(json_object_get(json_object_get(b0, "allowed_mentions"), "replied_user")));
  CHECK_STR(jv_str(json_object_get(b0, "message_reference"), "message_id", NULL), target_s);
  char *am = jv_dump_compact(json_object_get(b1, "allowed_mentions"));
  CHECK_STR(am, "{\"parse\":[],\"replied_user\":false}");
  free(am);
  /* The DM went to the channel the double opened, not to the guild channel. */
  CHECK(nth(log, "POST /users/@me/channels", 0) != NULL);
  CHECK(strcmp(jv_str(e2, "path", ""), "/api/v10/channels/11/messages") != 0);
  CHECK_STR(jv_str(e0, "path", ""), "/api/v10/channels/11/messages");
  CHECK(nth(log, "POST /channels/{channel_id}/typing", 0) != NULL);
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

TEST(components_and_files_have_discords_shapes) {
  rest_double d;
  if (rd_start(&d, "{" SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  seen s = {0};
  a.done = on_done;
  a.done_user = &s;
  discord_component buttons[] = {
      {.type = DISCORD_COMPONENT_BUTTON,
       .style = DISCORD_BUTTON_PRIMARY,
       .custom_id = "vote:up",
       .label = "Up",
       .emoji = "\xF0\x9F\x91\x8D"},
      {.type = DISCORD_COMPONENT_BUTTON,
       .style = DISCORD_BUTTON_LINK,
       .label = "Docs",
       .url = "https://example.com/"},
  };
  discord_select_option opts[] = {{.label = "Alice", .value = "alice", .is_default = true},
                                  {.label = "Bob", .value = "bob", .description = "the other"}};
  discord_component select = {.type = DISCORD_COMPONENT_STRING_SELECT,
                              .custom_id = "persona",
                              .options = opts,
                              .n_options = 2,
                              .placeholder = "Pick one",
                              .min_values = 1,
                              .max_values = 1};
  discord_action_row rows[] = {{buttons, 2}, {&select, 1}};
  static const char png[] = "\x89PNG\r\n\x1a\n fake image bytes";
  discord_file files[] = {{.filename = "plot.png",
                           .content_type = "image/png",
                           .description = "loss curve",
                           .data = png,
                           .size = sizeof png - 1}};
  discord_send m = {.channel_id = 11,
                    .content = "pick a persona",
                    .rows = rows,
                    .n_rows = 2,
                    .files = files,
                    .n_files = 1};
  CHECK_OK(discord_actions_send(&a, &m));
  settle(&a, 1);
  CHECK_INT(a.sent, 1);
  CHECK(s.last_id != 0);
  /* A select may not share its row; a button needs a custom_id; more than 5 rows is refused. */
  discord_component mixed[] = {select, buttons[0]};
  discord_action_row bad_row = {mixed, 2};
  discord_send bad = {.channel_id = 11, .content = "x", .rows = &bad_row, .n_rows = 1};
  CHECK_INT(discord_actions_send(&a, &bad), MIMIC_EINVAL);
  discord_component no_id = {
      .type = DISCORD_COMPONENT_BUTTON, .style = DISCORD_BUTTON_PRIMARY, .label = "x"};
  discord_action_row no_id_row = {&no_id, 1};
  bad.rows = &no_id_row;
  CHECK_INT(discord_actions_send(&a, &bad), MIMIC_EINVAL);
  discord_action_row six[6] = {{buttons, 1}, {buttons, 1}, {buttons, 1},
                               {buttons, 1}, {buttons, 1}, {buttons, 1}};
  bad.rows = six;
  bad.n_rows = 6;
  CHECK_INT(discord_actions_send(&a, &bad), MIMIC_EINVAL);
  /* A message of only a file is fine. */
  discord_send only_file = {.channel_id = 11, .files = files, .n_files = 1};
  CHECK_OK(discord_actions_send(&a, &only_file));
  settle(&a, 2);
  CHECK_INT(a.sent, 2);

  json_t *log = rd_log(&d);
  json_t *e = nth(log, POST_MSG, 0);
  REQUIRE(e);
  CHECK(strncmp(jv_str(e, "content_type", ""), "multipart/form-data", 19) == 0);
  json_t *body = json_object_get(e, "body");
  json_t *comps = json_object_get(body, "components");
  CHECK_INT(json_array_size(comps), 2);
  json_t *row0 = json_array_get(comps, 0);
  CHECK_INT(jv_int(row0, "type", 0), 1);
  json_t *b0 = json_array_get(json_object_get(row0, "components"), 0);
  CHECK_INT(jv_int(b0, "type", 0), 2);
  CHECK_INT(jv_int(b0, "style", 0), 1);
  CHECK_STR(jv_str(b0, "custom_id", NULL), "vote:up");
  CHECK_STR(jv_str(json_object_get(b0, "emoji"), "name", NULL), "\xF0\x9F\x91\x8D");
  json_t *b1 = json_array_get(json_object_get(row0, "components"), 1);
  CHECK_INT(jv_int(b1, "style", 0), 5);
  CHECK_STR(jv_str(b1, "url", NULL), "https://example.com/");
  CHECK(json_object_get(b1, "custom_id") == NULL);
  json_t *sel = json_array_get(json_object_get(json_array_get(comps, 1), "components"), 0);
  CHECK_INT(jv_int(sel, "type", 0), 3);
  CHECK_STR(jv_str(sel, "placeholder", NULL), "Pick one");
  CHECK_INT(json_array_size(json_object_get(sel, "options")), 2);
  CHECK(
      json_is_true(json_object_get(json_array_get(json_object_get(sel, "options"), 0), "default")));
  json_t *att = json_array_get(json_object_get(body, "attachments"), 0);
  CHECK_INT(jv_int(att, "id", -1), 0);
  CHECK_STR(jv_str(att, "filename", NULL), "plot.png");
  CHECK_STR(jv_str(att, "description", NULL), "loss curve");
  json_t *f0 = json_array_get(json_object_get(e, "files"), 0);
  CHECK_STR(jv_str(f0, "field", NULL), "files[0]");
  CHECK_STR(jv_str(f0, "filename", NULL), "plot.png");
  CHECK_STR(jv_str(f0, "content_type", NULL), "image/png");
  CHECK_INT(jv_int(f0, "size", 0), (int64_t)sizeof png - 1);
  CHECK_INT(rd_count(log, POST_MSG, NULL, false), 2);
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

TEST(persona_sends_through_one_cached_webhook_per_channel) {
  rest_double d;
  if (rd_start(&d, "{" SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  discord_persona_send m = {.channel_id = 11,
                            .username = "Alice",
                            .avatar_url = "https://example.com/a.png",
                            .content = "hello as alice"};
  CHECK_OK(discord_actions_persona_send(&a, &m));
  settle(&a, 1);
  m.thread_id = 20;
  m.username = "Bob";
  m.avatar_url = NULL;
  m.content = "bob in the thread";
  CHECK_OK(discord_actions_persona_send(&a, &m));
  settle(&a, 2);
  CHECK_INT(a.sent, 2);
  CHECK_INT(a.failed, 0);
  m.username = "";
  CHECK_INT(discord_actions_persona_send(&a, &m), MIMIC_EINVAL);
  json_t *log = rd_log(&d);
  /* Looked up once, created once, then cached: both sends use it. */
  CHECK_INT(rd_count(log, "GET /channels/{channel_id}/webhooks", NULL, false), 1);
  CHECK_INT(rd_count(log, "POST /channels/{channel_id}/webhooks", NULL, false), 1);
  json_t *e0 = nth(log, "POST /webhooks/{webhook_id}/{token}", 0);
  json_t *e1 = nth(log, "POST /webhooks/{webhook_id}/{token}", 1);
  REQUIRE(e0 && e1);
  CHECK_STR(jv_str(json_object_get(e0, "body"), "username", NULL), "Alice");
  CHECK_STR(jv_str(json_object_get(e0, "body"), "avatar_url", NULL), "https://example.com/a.png");
  CHECK(strstr(jv_str(e0, "path", ""), "wait=true") != NULL);
  CHECK_STR(jv_str(json_object_get(e1, "body"), "username", NULL), "Bob");
  CHECK(strstr(jv_str(e1, "path", ""), "thread_id=20") != NULL);
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

TEST(interaction_responses_have_discords_shapes) {
  rest_double d;
  if (rd_start(&d, "{\"app_id\": \"900\", " SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  discord_component b = {.type = DISCORD_COMPONENT_BUTTON,
                         .style = DISCORD_BUTTON_SECONDARY,
                         .custom_id = "again",
                         .label = "Again"};
  discord_action_row row = {&b, 1};
  discord_response now = {.interaction_id = 5555,
                          .token = "itoken-abc",
                          .type = DISCORD_RESPONSE_MESSAGE,
                          .content = "only you see this",
                          .ephemeral = true,
                          .rows = &row,
                          .n_rows = 1};
  CHECK_OK(discord_actions_respond(&a, &now));
  discord_response later = {
      .interaction_id = 5556, .token = "itoken-def", .type = DISCORD_RESPONSE_DEFERRED};
  CHECK_OK(discord_actions_respond(&a, &later));
  discord_choice ch[] = {{"Alice", "alice"}, {"Bob", "bob"}};
  discord_response ac = {.interaction_id = 5557,
                         .token = "itoken-ghi",
                         .type = DISCORD_RESPONSE_AUTOCOMPLETE,
                         .choices = ch,
                         .n_choices = 2};
  CHECK_OK(discord_actions_respond(&a, &ac));
  discord_followup edit = {.application_id = 900,
                           .token = "itoken-def",
                           .content = "done thinking",
                           .rows = &row,
                           .n_rows = 1};
  CHECK_OK(discord_actions_edit_original(&a, &edit));
  static const char txt[] = "a,b\n1,2\n";
  discord_file f = {
      .filename = "data.csv", .content_type = "text/csv", .data = txt, .size = sizeof txt - 1};
  discord_followup more = {.application_id = 900,
                           .token = "itoken-def",
                           .content = "and the data",
                           .ephemeral = true,
                           .files = &f,
                           .n_files = 1};
  CHECK_OK(discord_actions_followup(&a, &more));
  settle(&a, 5);
  CHECK_INT(a.sent, 5);
  CHECK_INT(a.failed, 0);
  discord_response bad = now;
  bad.token = "bad/token";
  CHECK_INT(discord_actions_respond(&a, &bad), MIMIC_EINVAL);
  discord_choice many[26];
  for (int i = 0; i < 26; i++) many[i] = (discord_choice){"x", "x"};
  ac.choices = many;
  ac.n_choices = 26;
  CHECK_INT(discord_actions_respond(&a, &ac), MIMIC_EINVAL);

  json_t *log = rd_log(&d);
  const char *cbr = "POST /interactions/{interaction_id}/{token}/callback";
  /* The three answers are to different interactions and reach the double in any order. */
  json_t *c0 = body_of_type(log, cbr, 4);
  json_t *c1 = body_of_type(log, cbr, 5);
  json_t *c2 = body_of_type(log, cbr, 8);
  REQUIRE(c0 && c1 && c2);
  CHECK(nth(log, cbr, 3) == NULL);
  json_t *d0 = json_object_get(c0, "data");
  CHECK_STR(jv_str(d0, "content", NULL), "only you see this");
  CHECK_INT(jv_int(d0, "flags", 0), 64);
  CHECK_INT(json_array_size(json_object_get(d0, "components")), 1);
  CHECK(json_object_get(c1, "data") == NULL);
  json_t *choices = json_object_get(json_object_get(c2, "data"), "choices");
  CHECK_INT(json_array_size(choices), 2);
  CHECK_STR(jv_str(json_array_get(choices, 1), "value", NULL), "bob");
  json_t *pe = json_object_get(
      nth(log, "PATCH /webhooks/{webhook_id}/{token}/messages/@original", 0), "body");
  CHECK_STR(jv_str(pe, "content", NULL), "done thinking");
  CHECK_INT(json_array_size(json_object_get(pe, "components")), 1);
  json_t *fu = nth(log, "POST /webhooks/{webhook_id}/{token}", 0);
  CHECK_INT(jv_int(json_object_get(fu, "body"), "flags", 0), 64);
  CHECK_STR(jv_str(json_array_get(json_object_get(fu, "files"), 0), "filename", NULL), "data.csv");
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

typedef struct posted {
  int n, errs;
  discord_id message_id, webhook_id;
} posted;

static void on_posted(const discord_actions_result *res, void *user) {
  posted *p = user;
  p->n++;
  if (res->err) p->errs++;
  if (!res->err && res->message_id) p->message_id = res->message_id;
  if (!res->err && res->persona) p->webhook_id = res->webhook_id;
}

TEST(modals_and_message_edits_have_discords_shapes) {
  rest_double d;
  if (rd_start(&d, "{\"app_id\": \"900\", " SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  posted p = {0};
  a.done = on_posted;
  a.done_user = &p;
  discord_text_input in[2] = {{.custom_id = "title",
                               .style = DISCORD_INPUT_SHORT,
                               .label = "Title",
                               .min_length = 1,
                               .max_length = 100,
                               .required = true,
                               .value = "Ünïcode title"},
                              {.custom_id = "text",
                               .style = DISCORD_INPUT_PARAGRAPH,
                               .label = "Entry",
                               .placeholder = "What it says"}};
  discord_modal m = {
      .title = "Edit lore draft #7", .custom_id = "draft:edit:7", .inputs = in, .n_inputs = 2};
  discord_response open = {
      .interaction_id = 7001, .token = "itoken-m", .type = DISCORD_RESPONSE_MODAL, .modal = &m};
  CHECK_OK(discord_actions_respond(&a, &open));
  /* the copy for another thread carries the form too */
  CHECK_OK(discord_action_run(&a, discord_action_respond(&open)));
  settle(&a, 2);
  CHECK_INT(p.errs, 0);
  /* Discord's rules, refused at once */
  discord_modal bad = m;
  bad.title = "A title that is far too long for Discord's modal";
  open.modal = &bad;
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  err_clear();
  discord_text_input six[6];
  for (int i = 0; i < 6; i++) six[i] = in[1];
  bad = m;
  bad.inputs = six;
  bad.n_inputs = 6;
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  bad.n_inputs = 2; /* the same custom_id twice */
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  bad.n_inputs = 0;
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  discord_text_input over = in[0];
  over.max_length = 5; /* the prefilled value is longer */
  bad = m;
  bad.inputs = &over;
  bad.n_inputs = 1;
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  over = in[0];
  over.style = 3;
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  open.modal = NULL;
  CHECK_INT(discord_actions_respond(&a, &open), MIMIC_EINVAL);
  err_clear();

  /* a message of the bot user, then its buttons greyed out */
  discord_component btn = {.type = DISCORD_COMPONENT_BUTTON,
                           .style = DISCORD_BUTTON_PRIMARY,
                           .custom_id = "game:story:1:1:0",
                           .label = "Go in"};
  discord_action_row row = {&btn, 1};
  discord_send s = {.channel_id = 11, .content = "a passage", .rows = &row, .n_rows = 1};
  CHECK_OK(discord_actions_send(&a, &s));
  settle(&a, 3);
  REQUIRE(p.message_id != 0);
  btn.disabled = true;
  discord_edit e = {.channel_id = 11, .message_id = p.message_id, .rows = &row, .n_rows = 1};
  CHECK_OK(discord_action_run(&a, discord_action_edit_message(&e)));
  settle(&a, 4);
  CHECK_INT(p.errs, 0);
  /* a persona's message goes through its webhook; no rows: the components are removed */
  discord_persona_send ps = {
      .channel_id = 11, .username = "Aria", .content = "as a persona", .rows = &row, .n_rows = 1};
  CHECK_OK(discord_actions_persona_send(&a, &ps));
  settle(&a, 5);
  REQUIRE(p.webhook_id != 0);
  discord_edit we = {.channel_id = 11, .message_id = p.message_id, .webhook_id = p.webhook_id};
  CHECK_OK(discord_actions_edit_message(&a, &we));
  settle(&a, 6);
  CHECK_INT(p.errs, 0);
  we.webhook_id = 424242; /* not one of mimic's */
  CHECK_INT(discord_actions_edit_message(&a, &we), MIMIC_EINVAL);
  we.message_id = 0;
  CHECK_INT(discord_actions_edit_message(&a, &we), MIMIC_EINVAL);
  err_clear();

  json_t *log = rd_log(&d);
  const char *cbr = "POST /interactions/{interaction_id}/{token}/callback";
  CHECK_INT(rd_count(log, cbr, NULL, false), 2);
  json_t *c0 = json_object_get(nth(log, cbr, 0), "body");
  CHECK_INT(jv_int(c0, "type", 0), 9);
  json_t *md = json_object_get(c0, "data");
  CHECK_STR(jv_str(md, "title", NULL), "Edit lore draft #7");
  CHECK_STR(jv_str(md, "custom_id", NULL), "draft:edit:7");
  json_t *rows = json_object_get(md, "components");
  REQUIRE(json_array_size(rows) == 2);
  json_t *r0 = json_array_get(rows, 0);
  CHECK_INT(jv_int(r0, "type", 0), 1);
  json_t *t0 = json_array_get(json_object_get(r0, "components"), 0);
  CHECK_INT(jv_int(t0, "type", 0), 4);
  CHECK_INT(jv_int(t0, "style", 0), 1);
  CHECK_STR(jv_str(t0, "value", NULL), "Ünïcode title");
  CHECK_INT(jv_int(t0, "max_length", 0), 100);
  CHECK(json_is_true(json_object_get(t0, "required")));
  json_t *t1 = json_array_get(json_object_get(json_array_get(rows, 1), "components"), 0);
  CHECK_INT(jv_int(t1, "style", 0), 2);
  CHECK_STR(jv_str(t1, "placeholder", NULL), "What it says");
  CHECK(json_object_get(t1, "value") == NULL);
  json_t *pm = json_object_get(nth(log, "PATCH /channels/{channel_id}/messages/{id}", 0), "body");
  REQUIRE(pm);
  json_t *b0 = json_array_get(
      json_object_get(json_array_get(json_object_get(pm, "components"), 0), "components"), 0);
  CHECK(json_is_true(json_object_get(b0, "disabled")));
  CHECK_STR(jv_str(b0, "label", NULL), "Go in");
  json_t *pw =
      json_object_get(nth(log, "PATCH /webhooks/{webhook_id}/{token}/messages/{id}", 0), "body");
  REQUIRE(pw);
  CHECK_INT(json_array_size(json_object_get(pw, "components")), 0);
  CHECK(json_is_array(json_object_get(pw, "components")));
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

typedef struct last_error {
  int n;
  char msg[512];
} last_error;

static void keep_error(const discord_actions_result *res, void *user) {
  last_error *e = user;
  e->n++;
  str_lcpy(e->msg, res->message ? res->message : "", sizeof e->msg);
}

TEST(webhook_and_interaction_tokens_stay_out_of_errors) {
  rest_double d;
  if (rd_start(&d, "{\"app_id\": \"900\", \"faults\": [{\"route\": \"POST "
                   "/webhooks/{webhook_id}/{token}\", \"kind\": \"5xx\", \"status\": 500, "
                   "\"count\": 100}], " SEED "}") != 0)
    SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  last_error e = {0};
  a.done = keep_error;
  a.done_user = &e;
  discord_persona_send m = {.channel_id = 11, .username = "Alice", .content = "hi"};
  CHECK_OK(discord_actions_persona_send(&a, &m));
  settle(&a, 1);
  CHECK_INT(a.failed, 1);
  CHECK(strstr(e.msg, "500") != NULL);
  json_t *hooks = NULL;
  CHECK_OK(rest_call_sync(r, "GET", "/channels/11/webhooks", NULL, &hooks, NULL, NULL));
  const char *tok = jv_str(json_array_get(hooks, 0), "token", "");
  REQUIRE(*tok);
  CHECK(strstr(e.msg, tok) == NULL);
  CHECK(strstr(e.msg, "{token}") != NULL);
  json_decref(hooks);
  discord_followup f = {.application_id = 900, .token = "secret-itoken-xyz", .content = "x"};
  CHECK_OK(discord_actions_followup(&a, &f));
  settle(&a, 2);
  CHECK_INT(a.failed, 2);
  CHECK(strstr(e.msg, "secret-itoken-xyz") == NULL);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

TEST(copied_actions_outlive_what_they_were_made_from) {
  rest_double d;
  if (rd_start(&d, "{\"app_id\": \"900\", " SEED "}") != 0) SKIP("node or the double is missing");
  rest *r = mk(&d);
  REQUIRE(r);
  discord_actions a;
  discord_actions_init(&a, r);
  /* Everything a request points to lives in buffers that are wiped before the copies run. */
  char content[64], cid[32], label[32], opt[32], fname[32], data[16], user[32], token[32];
  snprintf(content, sizeof content, "copied text");
  snprintf(cid, sizeof cid, "pick");
  snprintf(label, sizeof label, "Alice");
  snprintf(opt, sizeof opt, "alice");
  snprintf(fname, sizeof fname, "a.txt");
  snprintf(data, sizeof data, "file body");
  snprintf(user, sizeof user, "Bob");
  snprintf(token, sizeof token, "itoken-copy");
  discord_select_option so = {.label = label, .value = opt};
  discord_component sel = {
      .type = DISCORD_COMPONENT_STRING_SELECT, .custom_id = cid, .options = &so, .n_options = 1};
  discord_action_row row = {&sel, 1};
  discord_file file = {.filename = fname, .data = data, .size = strlen(data)};
  discord_send m = {.channel_id = 11,
                    .content = content,
                    .rows = &row,
                    .n_rows = 1,
                    .files = &file,
                    .n_files = 1};
  discord_persona_send p = {.channel_id = 11, .username = user, .content = content};
  discord_choice ch = {label, opt};
  discord_response resp = {.interaction_id = 5,
                           .token = token,
                           .type = DISCORD_RESPONSE_AUTOCOMPLETE,
                           .choices = &ch,
                           .n_choices = 1};
  discord_followup fu = {.application_id = 900, .token = token, .content = content};
  discord_action *xs[] = {discord_action_send(&m),           discord_action_persona_send(&p),
                          discord_action_respond(&resp),     discord_action_followup(&fu),
                          discord_action_edit_original(&fu), discord_action_typing(11)};
  memset(content, 'x', sizeof content - 1);
  memset(cid, 0, sizeof cid);
  memset(label, 0, sizeof label);
  memset(opt, 0, sizeof opt);
  memset(fname, 0, sizeof fname);
  memset(data, 0, sizeof data);
  memset(user, 0, sizeof user);
  memset(token, 0, sizeof token);
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) CHECK_OK(discord_action_run(&a, xs[i]));
  discord_action_free(discord_action_react(11, 1, "x")); /* one that never runs */
  settle(&a, 6);
  CHECK_INT(a.sent, 6);
  CHECK_INT(a.failed, 0);
  json_t *log = rd_log(&d);
  json_t *e = nth(log, POST_MSG, 0);
  REQUIRE(e);
  json_t *body = json_object_get(e, "body");
  CHECK_STR(jv_str(body, "content", NULL), "copied text");
  json_t *sel_j = json_array_get(
      json_object_get(json_array_get(json_object_get(body, "components"), 0), "components"), 0);
  CHECK_STR(jv_str(sel_j, "custom_id", NULL), "pick");
  CHECK_STR(jv_str(json_array_get(json_object_get(sel_j, "options"), 0), "value", NULL), "alice");
  CHECK_STR(jv_str(json_array_get(json_object_get(e, "files"), 0), "filename", NULL), "a.txt");
  CHECK_INT(jv_int(json_array_get(json_object_get(e, "files"), 0), "size", 0), 9);
  /* The persona's execute and the follow-up share a route: find the one with a username. */
  const char *who = NULL;
  for (int k = 0; k < 2 && !who; k++)
    who = jv_str(json_object_get(nth(log, "POST /webhooks/{webhook_id}/{token}", k), "body"),
                 "username", NULL);
  CHECK_STR(who, "Bob");
  json_t *cb =
      json_object_get(nth(log, "POST /interactions/{interaction_id}/{token}/callback", 0), "body");
  CHECK_STR(jv_str(json_array_get(json_object_get(json_object_get(cb, "data"), "choices"), 0),
                   "name", NULL),
            "Alice");
  CHECK(strstr(jv_str(nth(log, "PATCH /webhooks/{webhook_id}/{token}/messages/@original", 0),
                      "path", ""),
               "itoken-copy") != NULL);
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

int main(void) {
  RUN(actions_become_rest_requests);
  RUN(components_and_files_have_discords_shapes);
  RUN(persona_sends_through_one_cached_webhook_per_channel);
  RUN(interaction_responses_have_discords_shapes);
  RUN(modals_and_message_edits_have_discords_shapes);
  RUN(webhook_and_interaction_tokens_stay_out_of_errors);
  RUN(copied_actions_outlive_what_they_were_made_from);
  TEST_MAIN_END();
}
