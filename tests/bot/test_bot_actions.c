/* Tests for the wave-two members of bot_actions (bot.h): persona posts, interaction responses,
 * edits of the original response, follow-ups, and rows and files on a plain send. The recording
 * fake (bot_harness.h) sees each one typed; the runtime's copies (to_discord.h) outlive the bot's
 * buffers and become the right requests against the REST double. */
#include <string.h>

#include "base/base.h"
#include "bot/to_discord.h"
#include "bot_harness.h"
#include "discord/actions.h"
#include "discord/rest.h"
#include "discord/rest_double.h"
#include "test.h"

/* A string on the heap, freed by the test before the copy is used: ASan reports any read of it. */
static char *heap(const char *s) { return xstrdup(s); }

TEST(designated_tables_leave_new_members_null) {
  rec *r = xcalloc(1, sizeof *r);
  bot_actions only_send = {.user = r, .send = rec__send};
  CHECK(only_send.persona_send == NULL);
  CHECK(only_send.respond == NULL);
  CHECK(only_send.edit_original == NULL);
  CHECK(only_send.followup == NULL);
  bot_actions all = rec_actions(r);
  CHECK(all.persona_send && all.respond && all.edit_original && all.followup);
  mem_free(r);
}

TEST(fake_records_each_new_member) {
  rec *r = xcalloc(1, sizeof *r);
  bot_actions a = rec_actions(r);
  discord_component buttons[] = {
      {.type = DISCORD_COMPONENT_BUTTON, .custom_id = "yes", .label = "Yes"},
      {.type = DISCORD_COMPONENT_BUTTON, .custom_id = "no", .label = "No"}};
  discord_action_row row = {buttons, 2};
  static const char png[] = "\x89PNG....";
  discord_file file = {.filename = "plot.png", .data = png, .size = sizeof png - 1};

  bot_send s = {.channel_id = 11,
                .text = "see the plot",
                .rows = &row,
                .n_rows = 1,
                .files = &file,
                .n_files = 1};
  CHECK_OK(a.send(a.user, &s));
  CHECK_INT(r->n_sends, 1);
  CHECK_INT(r->sends[0].x.n_rows, 1);
  CHECK_INT(r->sends[0].x.n_items, 2);
  CHECK_STR(r->sends[0].x.first_label, "Yes");
  CHECK_STR(r->sends[0].x.first_file, "plot.png");
  CHECK_INT(r->sends[0].x.file_bytes, sizeof png - 1);

  bot_persona_send p = {.channel_id = 11,
                        .thread_id = 20,
                        .username = "Alice",
                        .avatar_url = "https://example.com/a.png",
                        .text = "hello as alice",
                        .rows = &row,
                        .n_rows = 1};
  CHECK_OK(a.persona_send(a.user, &p));
  CHECK_INT(r->n_personas, 1);
  CHECK_INT(r->personas[0].channel, 11);
  CHECK_INT(r->personas[0].thread, 20);
  CHECK_STR(r->personas[0].username, "Alice");
  CHECK_STR(r->personas[0].avatar, "https://example.com/a.png");
  CHECK_STR(r->personas[0].text, "hello as alice");
  CHECK_INT(r->personas[0].x.n_items, 2);

  bot_response now = {.interaction_id = 5555,
                      .token = "itoken-abc",
                      .type = DISCORD_RESPONSE_MESSAGE,
                      .ephemeral = true,
                      .text = "only you see this"};
  CHECK_OK(a.respond(a.user, &now));
  discord_choice ch[] = {{"Alice", "alice"}, {"Bob", "bob"}};
  bot_response ac = {.interaction_id = 5556,
                     .token = "itoken-def",
                     .type = DISCORD_RESPONSE_AUTOCOMPLETE,
                     .choices = ch,
                     .n_choices = 2};
  CHECK_OK(a.respond(a.user, &ac));
  CHECK_INT(r->n_responses, 2);
  CHECK_INT(r->responses[0].interaction, 5555);
  CHECK_INT(r->responses[0].type, DISCORD_RESPONSE_MESSAGE);
  CHECK(r->responses[0].ephemeral);
  CHECK_STR(r->responses[0].text, "only you see this");
  CHECK_INT(r->responses[1].type, DISCORD_RESPONSE_AUTOCOMPLETE);
  CHECK_INT(r->responses[1].n_choices, 2);
  CHECK_STR(r->responses[1].first_choice, "Alice");

  bot_followup edit = {.application_id = 900, .token = "itoken-def", .text = "done thinking"};
  CHECK_OK(a.edit_original(a.user, &edit));
  bot_followup more = {.application_id = 900,
                       .token = "itoken-def",
                       .text = "and the data",
                       .ephemeral = true,
                       .files = &file,
                       .n_files = 1};
  CHECK_OK(a.followup(a.user, &more));
  CHECK_INT(r->n_followups, 2);
  CHECK(r->followups[0].edit);
  CHECK_STR(r->followups[0].text, "done thinking");
  CHECK(!r->followups[1].edit);
  CHECK(r->followups[1].ephemeral);
  CHECK_INT(r->followups[1].application, 900);
  CHECK_STR(r->followups[1].x.first_file, "plot.png");

  /* A refusal is reported like a refused send. */
  r->refuse_send = MIMIC_EBUSY;
  CHECK_INT(a.persona_send(a.user, &p), MIMIC_EBUSY);
  CHECK_INT(a.respond(a.user, &now), MIMIC_EBUSY);
  CHECK_INT(a.followup(a.user, &more), MIMIC_EBUSY);
  CHECK_INT(r->n_personas, 1);
  err_clear();
  mem_free(r);
}

/* Copies never made to run are freed whole (ASan's leak check). */
TEST(copies_free_without_running) {
  discord_component b = {.type = DISCORD_COMPONENT_BUTTON, .custom_id = "x", .label = "X"};
  discord_action_row row = {&b, 1};
  bot_send s = {.channel_id = 1, .text = "t", .rows = &row, .n_rows = 1};
  bot_persona_send p = {.channel_id = 1, .username = "A", .text = "t"};
  bot_response resp = {.interaction_id = 1, .token = "k", .type = DISCORD_RESPONSE_DEFERRED};
  bot_followup f = {.application_id = 1, .token = "k", .text = "t"};
  discord_action *xs[] = {bot_action_send(&s),         bot_action_dm(7, "hi"),
                          bot_action_persona_send(&p), bot_action_respond(&resp),
                          bot_action_followup(&f),     bot_action_edit_original(&f)};
  for (size_t i = 0; i < sizeof xs / sizeof xs[0]; i++) {
    CHECK(xs[i] != NULL);
    discord_action_free(xs[i]);
  }
}

#define SEED                                                                                       \
  "\"seed\": {\"guilds\": [{\"id\": \"1\", \"channels\": [{\"id\": \"11\", \"messages\": 5},"      \
  "{\"id\": \"20\", \"type\": 11, \"parent_id\": \"11\", \"name\": \"a-thread\"}]}]}"

static json_t *nth(json_t *log, const char *route, int n) {
  size_t i;
  json_t *e;
  json_array_foreach(log, i, e) {
    if (strcmp(jv_str(e, "route", ""), route) == 0 && n-- == 0) return e;
  }
  return NULL;
}

/* The runtime's path: the bot's request copied on its thread (here: made, then every buffer it
 * pointed to freed), run later with the loop thread's actions context. */
TEST(runtime_copies_outlive_the_bots_buffers) {
  rest_double d;
  if (rd_start(&d, "{\"app_id\": \"900\", " SEED "}") != 0) SKIP("node or the double is missing");
  rest_opts o;
  rest_opts_default(&o);
  o.base_url = d.base;
  o.token = "tok-0123456789";
  rest *r = NULL;
  REQUIRE(rest_new(NULL, &o, &r) == 0);
  discord_actions a;
  discord_actions_init(&a, r);

  char *text = heap("copied text"), *cid = heap("pick"), *label = heap("Pick me");
  char *fname = heap("notes.txt"), *data = heap("file body"), *user = heap("Alice");
  char *avatar = heap("https://example.com/a.png"), *token = heap("itoken-copy");
  char *cname = heap("Bob"), *cval = heap("bob");
  discord_component *btn = xcalloc(1, sizeof *btn);
  *btn = (discord_component){.type = DISCORD_COMPONENT_BUTTON,
                             .style = DISCORD_BUTTON_PRIMARY,
                             .custom_id = cid,
                             .label = label};
  discord_action_row *row = xcalloc(1, sizeof *row);
  *row = (discord_action_row){btn, 1};
  discord_file *file = xcalloc(1, sizeof *file);
  *file = (discord_file){.filename = fname, .data = data, .size = strlen(data)};
  discord_choice *choice = xcalloc(1, sizeof *choice);
  *choice = (discord_choice){cname, cval};
  bot_send *s = xcalloc(1, sizeof *s);
  *s = (bot_send){
      .channel_id = 11, .text = text, .rows = row, .n_rows = 1, .files = file, .n_files = 1};
  bot_persona_send *p = xcalloc(1, sizeof *p);
  *p = (bot_persona_send){.channel_id = 11,
                          .thread_id = 20,
                          .username = user,
                          .avatar_url = avatar,
                          .text = text,
                          .rows = row,
                          .n_rows = 1};
  bot_response *now = xcalloc(1, sizeof *now);
  *now = (bot_response){.interaction_id = 5555,
                        .token = token,
                        .type = DISCORD_RESPONSE_MESSAGE,
                        .ephemeral = true,
                        .text = text,
                        .rows = row,
                        .n_rows = 1};
  bot_response *ac = xcalloc(1, sizeof *ac);
  *ac = (bot_response){.interaction_id = 5556,
                       .token = token,
                       .type = DISCORD_RESPONSE_AUTOCOMPLETE,
                       .choices = choice,
                       .n_choices = 1};
  bot_followup *fu = xcalloc(1, sizeof *fu);
  *fu = (bot_followup){.application_id = 900,
                       .token = token,
                       .text = text,
                       .ephemeral = true,
                       .files = file,
                       .n_files = 1};
  bot_followup *ed = xcalloc(1, sizeof *ed);
  *ed = (bot_followup){.application_id = 900, .token = token, .text = text};

  discord_action *xs[] = {bot_action_send(s),      bot_action_persona_send(p),
                          bot_action_respond(now), bot_action_respond(ac),
                          bot_action_followup(fu), bot_action_edit_original(ed)};
  void *gone[] = {text, cid, label, fname,  data, user, avatar, token, cname, cval,
                  btn,  row, file,  choice, s,    p,    now,    ac,    fu,    ed};
  for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++) mem_free(gone[i]);

  size_t n = sizeof xs / sizeof xs[0];
  for (size_t i = 0; i < n; i++) CHECK_OK(discord_action_run(&a, xs[i]));
  for (int i = 0; i < 4000 && a.sent + a.failed < n; i++) uv_run(rest_loop(r), UV_RUN_ONCE);
  CHECK_INT(a.sent, n);
  CHECK_INT(a.failed, 0);

  json_t *log = rd_log(&d);
  /* The plain send: text, the button and the file (multipart). */
  json_t *e = nth(log, "POST /channels/{channel_id}/messages", 0);
  REQUIRE(e);
  json_t *body = json_object_get(e, "body");
  CHECK_STR(jv_str(body, "content", NULL), "copied text");
  char *am = jv_dump_compact(json_object_get(body, "allowed_mentions"));
  CHECK_STR(am, "{\"parse\":[],\"replied_user\":false}");
  free(am);
  json_t *b0 = json_array_get(
      json_object_get(json_array_get(json_object_get(body, "components"), 0), "components"), 0);
  CHECK_STR(jv_str(b0, "custom_id", NULL), "pick");
  CHECK_STR(jv_str(b0, "label", NULL), "Pick me");
  CHECK_STR(jv_str(json_array_get(json_object_get(e, "files"), 0), "filename", NULL), "notes.txt");
  CHECK_INT(jv_int(json_array_get(json_object_get(e, "files"), 0), "size", 0), 9);
  /* The persona's execute (into the thread) and the follow-up share a route. */
  json_t *pe = NULL;
  for (int k = 0; k < 2 && !pe; k++) {
    json_t *c = nth(log, "POST /webhooks/{webhook_id}/{token}", k);
    if (c && jv_str(json_object_get(c, "body"), "username", NULL)) pe = c;
  }
  REQUIRE(pe);
  CHECK_STR(jv_str(json_object_get(pe, "body"), "username", NULL), "Alice");
  CHECK_STR(jv_str(json_object_get(pe, "body"), "avatar_url", NULL), "https://example.com/a.png");
  CHECK_STR(jv_str(json_object_get(pe, "body"), "content", NULL), "copied text");
  CHECK(strstr(jv_str(pe, "path", ""), "thread_id=20") != NULL);
  /* The interaction answers. */
  const char *cbr = "POST /interactions/{interaction_id}/{token}/callback";
  json_t *c0 = json_object_get(nth(log, cbr, 0), "body");
  json_t *c1 = json_object_get(nth(log, cbr, 1), "body");
  REQUIRE(c0 && c1);
  if (jv_int(c0, "type", 0) != 4) { /* the two callbacks may finish in either order */
    json_t *t = c0;
    c0 = c1;
    c1 = t;
  }
  CHECK_INT(jv_int(c0, "type", 0), 4);
  CHECK_INT(jv_int(json_object_get(c0, "data"), "flags", 0), 64);
  CHECK_STR(jv_str(json_object_get(c0, "data"), "content", NULL), "copied text");
  CHECK_INT(jv_int(c1, "type", 0), 8);
  CHECK_STR(jv_str(json_array_get(json_object_get(json_object_get(c1, "data"), "choices"), 0),
                   "name", NULL),
            "Bob");
  /* The follow-up (ephemeral, with the file) and the edit of the original. */
  json_t *fe = NULL;
  for (int k = 0; k < 2 && !fe; k++) {
    json_t *c = nth(log, "POST /webhooks/{webhook_id}/{token}", k);
    if (c && c != pe) fe = c;
  }
  REQUIRE(fe);
  CHECK(strstr(jv_str(fe, "path", ""), "itoken-copy") != NULL);
  CHECK_INT(jv_int(json_object_get(fe, "body"), "flags", 0), 64);
  CHECK_STR(jv_str(json_array_get(json_object_get(fe, "files"), 0), "filename", NULL), "notes.txt");
  json_t *pa = nth(log, "PATCH /webhooks/{webhook_id}/{token}/messages/@original", 0);
  REQUIRE(pa);
  CHECK(strstr(jv_str(pa, "path", ""), "itoken-copy") != NULL);
  CHECK_STR(jv_str(json_object_get(pa, "body"), "content", NULL), "copied text");
  json_decref(log);
  rest_destroy(r);
  discord_actions_free(&a);
  rd_stop(&d);
}

int main(void) {
  RUN(designated_tables_leave_new_members_null);
  RUN(fake_records_each_new_member);
  RUN(copies_free_without_running);
  RUN(runtime_copies_outlive_the_bots_buffers);
  TEST_MAIN_END();
}
