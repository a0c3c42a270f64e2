/* Tests for slash commands against scripted INTERACTION_CREATE payloads (parsed exactly as the
 * gateway parses them) and the recording fake of bot_actions: the definitions and their JSON,
 * the registration hash, each command's happy path through its text twin's implementation,
 * ephemeral answers, defer-then-edit with a held (slow) model, autocomplete, a button clicked
 * after a restart, refusals for non-admins, and malformed or oversized payloads. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_fixture.h"
#include "discord/commands.h"
#include "lore/lore.h"
#include "store/jobs.h"
#include "store/persona.h"
#include "store/store.h"
#include "test.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100
#define DMCH  200
#define APP   555
#define BOSS  9  /* in bot.admins */
#define ALICE 11 /* not */
#define BOB   12

typedef h_fx fx;

static void fx_open_bot(fx *x) { h_fx_bot(x, (bot_opts){.seed = 3, .model_name = "tiny.gguf"}); }

static void fx_init(fx *x) {
  h_fx_init(x, NULL, false);
  h_fx_cfg(x, "bot.admins", "9");
  fx_open_bot(x);
}

static void fx_free(fx *x) { h_fx_free(x); }

static void fx_drain(fx *x) { h_fx_drain(x); }

static uint64_t next_iid = 1300000000000000000ull;

/* Delivers one INTERACTION_CREATE whose d object is json; returns the parse's result. */
static int deliver(fx *x, const char *json) {
  discord_event *ev = NULL;
  int rc = discord_interaction_parse(json, strlen(json), &ev);
  if (rc) return rc;
  if (bot_handle_event(x->b, ev)) err_clear();
  discord_event_free(ev);
  return 0;
}

/* A slash command: type 2 (or type: 3 component with data = custom_id, 4 autocomplete). user is
 * the invoker; perms its permissions in the guild ("" in a DM); data the "data" object. */
static int interact(fx *x, int type, uint64_t user, bool dm, const char *perms, const char *data) {
  char *j = xalloc(16384 + strlen(data));
  uint64_t id = ++next_iid;
  if (dm)
    snprintf(j, 16384 + strlen(data),
             "{\"id\":\"%" PRIu64 "\",\"application_id\":\"%d\",\"type\":%d,"
             "\"token\":\"tok%" PRIu64 "\",\"channel_id\":\"%d\","
             "\"user\":{\"id\":\"%" PRIu64 "\",\"username\":\"u%" PRIu64 "\"},\"data\":%s}",
             id, APP, type, id, DMCH, user, user, data);
  else
    snprintf(j, 16384 + strlen(data),
             "{\"id\":\"%" PRIu64 "\",\"application_id\":\"%d\",\"type\":%d,"
             "\"token\":\"tok%" PRIu64 "\",\"guild_id\":\"%d\",\"channel_id\":\"%d\","
             "\"member\":{\"user\":{\"id\":\"%" PRIu64 "\",\"username\":\"u%" PRIu64 "\"},"
             "\"permissions\":\"%s\"},\"data\":%s}",
             id, APP, type, id, GUILD, CHAN, user, user, perms, data);
  int rc = deliver(x, j);
  mem_free(j);
  return rc;
}

#define MANAGE "32"

static const rec_response *last_resp(const fx *x) {
  static const rec_response none = {0};
  return x->r->n_responses ? &x->r->responses[x->r->n_responses - 1] : &none;
}

static void add_persona(fx *x, const char *name, const char *first_mes) {
  store_persona p;
  store_persona_init(&p);
  p.name = xstrdup(name);
  if (first_mes) p.first_mes = xstrdup(first_mes);
  if (store_persona_add(x->s, &p) || bot_persona_reload(x->b)) abort();
  store_persona_free(&p);
}

/* ---- definitions and registration ---- */

static bool has_cmd(const discord_command *d, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (strcmp(d[i].name, name) == 0) return true;
  return false;
}

TEST(definitions_follow_discords_rules_and_only_twins_that_exist) {
  discord_command d[BOT_COMMANDS_MAX];
  size_t n = bot_commands(d, BOT_COMMANDS_MAX);
  CHECK(n <= BOT_COMMANDS_MAX);
  CHECK_OK(discord_commands_check(d, n));
  const char *want[] = {"ai",      "rag",     "greet",     "admin-data", "finetune", "status",
                        "setrate", "settemp", "setmaxlen", "optout",     "optin",    "forgetme",
                        "exclude", "include", "persona",   "clear",      "help",     "vision"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (!has_cmd(d, n, want[i])) TEST_FAIL_("/%s is not defined", want[i]);
  /* the other parts' commands are defined once their text twins exist */
  CHECK(has_cmd(d, n, "scenario"));
  CHECK(has_cmd(d, n, "leaderboard"));
  CHECK(has_cmd(d, n, "schedule")); /* the scheduler's twins are here */
  CHECK(has_cmd(d, n, "drop"));
  CHECK(has_cmd(d, n, "config-proactive"));
  json_t *arr = discord_commands_json(d, n);
  CHECK_INT(json_array_size(arr), n);
  for (size_t i = 0; i < n; i++) {
    const json_t *c = json_array_get(arr, i);
    const char *name = jv_str(c, "name", "");
    const json_t *perm = json_object_get(c, "default_member_permissions");
    const json_t *ctx = json_object_get(c, "contexts");
    if (strcmp(name, "status") == 0) {
      CHECK_STR(json_string_value(perm), "32");
      CHECK_INT(json_array_size(ctx), 1); /* servers only */
    }
    if (strcmp(name, "optout") == 0) {
      CHECK(json_is_null(perm));
      CHECK_INT(json_array_size(ctx), 2); /* DMs too */
    }
    CHECK_INT(jv_int(c, "type", 0), 1);
    CHECK(json_array_size(json_object_get(c, "integration_types")) == 1);
  }
  char h1[17], h2[17], h3[17];
  discord_commands_hash(arr, h1);
  discord_commands_hash(arr, h2);
  CHECK_STR(h1, h2);
  json_t *fewer = discord_commands_json(d, n - 1);
  discord_commands_hash(fewer, h3);
  CHECK(strcmp(h1, h3) != 0);
  json_decref(fewer);
  json_decref(arr);
  /* a broken definition is refused with a reason */
  discord_command bad = {.name = "Bad Name", .description = "x"};
  CHECK(discord_commands_check(&bad, 1) == MIMIC_EINVAL);
  err_clear();
  discord_cmd_option o[2] = {
      {.type = DISCORD_OPT_STRING, .name = "a", .description = "a"},
      {.type = DISCORD_OPT_STRING, .name = "b", .description = "b", .required = true}};
  discord_command late = {.name = "late", .description = "x", .options = o, .n_options = 2};
  CHECK(discord_commands_check(&late, 1) == MIMIC_EINVAL);
  err_clear();
}

TEST(registration_hash_is_stored_per_application_and_guild) {
  store *s;
  REQUIRE(store_open(":memory:", &s) == 0);
  char h[17];
  CHECK_OK(bot_commands_hash_get(s, APP, 0, h));
  CHECK_STR(h, ""); /* never registered: a sync sends */
  CHECK_OK(bot_commands_hash_put(s, APP, 0, "00000000deadbeef"));
  CHECK_OK(bot_commands_hash_get(s, APP, 0, h));
  CHECK_STR(h, "00000000deadbeef"); /* unchanged: a sync does not send */
  CHECK_OK(bot_commands_hash_get(s, APP, 42, h));
  CHECK_STR(h, ""); /* a guild is registered on its own */
  CHECK_OK(bot_commands_hash_get(s, APP + 1, 0, h));
  CHECK_STR(h, ""); /* another application (token) too */
  store_close(s);
}

/* ---- twins ---- */

TEST(status_and_setrate_run_the_text_commands_privately) {
  fx x;
  fx_init(&x);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE, "{\"name\":\"status\",\"type\":1}"));
  CHECK_INT(x.r->n_responses, 1);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MESSAGE);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "**Status**") != NULL);
  CHECK_INT(x.r->n_sends, 0); /* nothing posted in the channel */
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"setrate\",\"options\":[{\"name\":\"value\",\"type\":10,"
                    "\"value\":0.25}]}"));
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0.25, 1e-9);
  CHECK(strstr(last_resp(&x)->text, "Response rate set to 0.25") != NULL);
  CHECK(last_resp(&x)->ephemeral);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"setmaxlen\",\"options\":[{\"name\":\"tokens\",\"type\":4,"
                    "\"value\":120}]}"));
  CHECK_INT(cfg_int(x.c, CFG_ENGINE_MAX_TOKENS), 120);
  fx_free(&x);
}

TEST(non_admins_are_refused_with_one_private_sentence) {
  fx x;
  fx_init(&x);
  CHECK_OK(interact(&x, 2, ALICE, false, MANAGE,
                    "{\"name\":\"setrate\",\"options\":[{\"name\":\"value\",\"type\":10,"
                    "\"value\":1}]}"));
  CHECK_INT(x.r->n_responses, 1);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0, 0);
  /* an admin of mimic without Manage Server here: Discord's rule checked again */
  CHECK_OK(interact(&x, 2, BOSS, false, "0", "{\"name\":\"status\"}"));
  CHECK_INT(x.r->n_responses, 2);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "Manage Server") != NULL);
  /* a slash-only admin command too */
  CHECK_OK(interact(&x, 2, ALICE, false, MANAGE,
                    "{\"name\":\"admin-data\",\"options\":[{\"name\":\"stats\",\"type\":1}]}"));
  CHECK_INT(x.r->n_responses, 3);
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  CHECK_INT(x.r->n_followups, 0);
  fx_free(&x);
}

TEST(privacy_commands_answer_privately_instead_of_by_dm) {
  fx x;
  fx_init(&x);
  CHECK_OK(interact(&x, 2, ALICE, false, "0", "{\"name\":\"optout\"}"));
  CHECK_INT(x.r->n_dms, 0);
  CHECK_INT(x.r->n_reacts, 0);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "opted out") != NULL);
  uint32_t flags = 0;
  CHECK_OK(store_user_flags(x.s, ALICE, &flags));
  CHECK(flags & STORE_FLAG_OPTED_OUT);
  CHECK_OK(interact(&x, 2, ALICE, true, "", "{\"name\":\"optin\"}")); /* in a DM */
  CHECK_OK(store_user_flags(x.s, ALICE, &flags));
  CHECK(!(flags & STORE_FLAG_OPTED_OUT));
  /* forgetme is slow: deferred (privately), then the original is filled in */
  int before = x.r->n_responses;
  CHECK_OK(interact(&x, 2, ALICE, false, "0", "{\"name\":\"forgetme\"}"));
  CHECK_INT(x.r->n_responses, before + 1);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_DEFERRED);
  CHECK(last_resp(&x)->ephemeral);
  CHECK_INT(x.r->n_followups, 1);
  CHECK(x.r->followups[0].edit);
  CHECK(strstr(x.r->followups[0].text, "Done: I deleted") != NULL);
  fx_free(&x);
}

TEST(exclude_takes_a_user_option) {
  fx x;
  fx_init(&x);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"exclude\",\"options\":[{\"name\":\"user\",\"type\":6,"
                    "\"value\":\"12\"},{\"name\":\"reason\",\"type\":3,\"value\":\"spam\"}]}"));
  uint32_t flags = 0;
  CHECK_OK(store_user_flags(x.s, BOB, &flags));
  CHECK(flags & STORE_FLAG_EXCLUDED);
  CHECK(strstr(last_resp(&x)->text, "Excluded <@12>") != NULL);
  fx_free(&x);
}

TEST(persona_talk_in_a_dm_and_help) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Gandalf", NULL);
  CHECK_OK(interact(&x, 2, ALICE, true, "",
                    "{\"name\":\"persona\",\"options\":[{\"name\":\"talk\",\"type\":1,"
                    "\"options\":[{\"name\":\"name\",\"type\":3,\"value\":\"Gandalf\"}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "talking to **Gandalf**") != NULL);
  CHECK_OK(interact(&x, 2, ALICE, true, "",
                    "{\"name\":\"persona\",\"options\":[{\"name\":\"list\",\"type\":1}]}"));
  CHECK(strstr(last_resp(&x)->text, "Gandalf") != NULL);
  /* a persona admin sub-command by someone else: refused in one sentence */
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"persona\",\"options\":[{\"name\":\"remove\",\"type\":1,"
                    "\"options\":[{\"name\":\"name\",\"type\":3,\"value\":\"Gandalf\"}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  CHECK_OK(interact(&x, 2, ALICE, false, "0", "{\"name\":\"help\"}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "!optout") != NULL);
  CHECK(strstr(last_resp(&x)->text, "!setrate") == NULL); /* not for her */
  CHECK_OK(interact(&x, 2, ALICE, true, "", "{\"name\":\"clear\"}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_STR(last_resp(&x)->text, "Done.");
  fx_free(&x);
}

/* ---- /ai: defer, then the queue's generation fills in the original ---- */

TEST(ai_defers_at_once_and_edits_the_original_when_the_slow_model_answers) {
  fx x;
  fx_init(&x);
  const char *script[] = {"forty-two"};
  fake_script(x.f, script, 1);
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
                    "\"value\":\"what is the answer?\"}]}"));
  /* the model holds the job (slow): the deferred response has gone out already */
  CHECK_INT(x.r->n_responses, 1);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_DEFERRED);
  CHECK(!last_resp(&x)->ephemeral);
  CHECK_INT(fake_held(x.f), 1);
  CHECK_INT(x.r->n_followups, 0);
  CHECK(strstr(x.f->last_prompt, "what is the answer?") != NULL);
  fx_drain(&x);
  CHECK_INT(x.r->n_followups, 1);
  CHECK(x.r->followups[0].edit);
  CHECK_INT(x.r->followups[0].application, APP);
  CHECK_STR(x.r->followups[0].text, "forty-two");
  CHECK_INT(x.r->n_sends, 0); /* not posted in the channel */
  CHECK_INT(bot_inflight(x.b), 0);
  fx_free(&x);
}

TEST(ai_as_a_persona_private_and_failures_are_said) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Gandalf", NULL);
  const char *script[] = {"Fly, you fools.", "!ERR"};
  fake_script(x.f, script, 2);
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
                    "\"value\":\"advice?\"},{\"name\":\"persona\",\"type\":3,\"value\":"
                    "\"gandalf\"},{\"name\":\"private\",\"type\":5,\"value\":true}]}"));
  CHECK(last_resp(&x)->ephemeral);
  fx_drain(&x);
  CHECK_STR(x.r->followups[0].text, "**Gandalf**: Fly, you fools.");
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
                    "\"value\":\"again?\"}]}"));
  fx_drain(&x);
  CHECK_INT(x.r->n_followups, 2);
  CHECK(x.r->followups[1].edit);
  CHECK(strstr(x.r->followups[1].text, "could not answer") != NULL);
  /* an unknown persona: one private sentence, no generation */
  int submits = x.f->submits;
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,"
                    "\"value\":\"hi\"},{\"name\":\"persona\",\"type\":3,\"value\":\"Sauron\"}]}"));
  CHECK_INT(x.f->submits, submits);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "No persona is called Sauron") != NULL);
  fx_free(&x);
}

/* ---- /rag, /greet, /finetune ---- */

static const char *book = "{\"entries\":{"
                          "\"0\":{\"key\":[\"dragon\"],\"comment\":\"Smaug\","
                          "\"content\":\"Smaug the dragon sleeps on the gold.\"},"
                          "\"1\":{\"key\":[\"elf\"],\"comment\":\"Elves\","
                          "\"content\":\"Elves never lie.\"}}}";

TEST(rag_answers_with_passages_and_sources) {
  fx x;
  fx_init(&x);
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "", NULL, NULL));
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"rag\",\"options\":[{\"name\":\"query\",\"type\":3,"
                    "\"value\":\"dragon gold\"}]}"));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MESSAGE);
  CHECK(strstr(last_resp(&x)->text, "Smaug the dragon sleeps") != NULL);
  CHECK(strstr(last_resp(&x)->text, "Sources: [1]") != NULL);
  CHECK_INT(x.f->submits, 0); /* cheap: no generation */
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"rag\",\"options\":[{\"name\":\"query\",\"type\":3,"
                    "\"value\":\"submarine\"}]}"));
  CHECK(strstr(last_resp(&x)->text, "Nothing in the lore matches") != NULL);
  fx_free(&x);
}

TEST(greet_posts_as_the_persona) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Bilbo", "Welcome to the Shire, {{user}}! I'm {{char}}.");
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"greet\",\"options\":[{\"name\":\"member\",\"type\":6,\"value\":"
                    "\"12\"},{\"name\":\"persona\",\"type\":3,\"value\":\"Bilbo\"}]}"));
  CHECK_INT(x.r->n_personas, 1);
  CHECK_STR(x.r->personas[0].username, "Bilbo");
  CHECK_STR(x.r->personas[0].text, "Welcome to the Shire, <@12>! I'm Bilbo.");
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "Bilbo welcomed <@12>") != NULL);
  CHECK_OK(interact(&x, 2, ALICE, false, "0",
                    "{\"name\":\"greet\",\"options\":[{\"name\":\"member\",\"type\":6,\"value\":"
                    "\"12\"}]}"));
  CHECK(!last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "Welcome, <@12>!") != NULL);
  fx_free(&x);
}

static void member_joins(fx *x, uint64_t user, bool is_bot) {
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_GUILD_MEMBER_ADD;
  ev.u.member_add.guild_id = GUILD;
  ev.u.member_add.user.id = user;
  ev.u.member_add.user.username = "newcomer";
  ev.u.member_add.user.bot = is_bot;
  ev.u.member_add.member.nick = "";
  if (bot_handle_event(x->b, &ev)) err_clear();
}

TEST(members_are_welcomed_on_joining_when_configured) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Bilbo", NULL);
  member_joins(&x, BOB, false);
  CHECK_INT(x.r->n_sends + x.r->n_personas, 0); /* off by default */
  CHECK_OK(cfg_set(x.c, "bot.greet_channel", "300", CFG_SRC_LIVE));
  member_joins(&x, BOB, false);
  CHECK_INT(x.r->n_sends, 1);
  CHECK_INT(x.r->sends[0].channel, 300);
  CHECK_STR(x.r->sends[0].text, "Welcome, <@12>! Glad you're here.");
  CHECK_OK(cfg_set(x.c, "bot.greet_persona", "Bilbo", CFG_SRC_LIVE));
  member_joins(&x, 13, false);
  CHECK_INT(x.r->n_personas, 1);
  CHECK_STR(x.r->personas[0].username, "Bilbo");
  CHECK_STR(x.r->personas[0].text, "Welcome, <@13>! I'm Bilbo. Glad you're here.");
  member_joins(&x, 14, true); /* bots are not welcomed */
  CHECK_INT(x.r->n_personas + x.r->n_sends, 2);
  fx_free(&x);
}

TEST(finetune_starts_the_train_job_and_shows_progress) {
  fx x;
  fx_init(&x);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"finetune\",\"options\":[{\"name\":\"status\",\"type\":1}]}"));
  CHECK(strstr(last_resp(&x)->text, "No training run yet") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"finetune\",\"options\":[{\"name\":\"start\",\"type\":1}]}"));
  CHECK_INT(x.r->n_jobs, 1);
  CHECK_STR(x.r->jobs[0], "train");
  CHECK(strstr(last_resp(&x)->text, "Started training") != NULL);
  char csv[] = "/tmp/mimic_slash_loss_XXXXXX";
  int fd = mkstemp(csv);
  REQUIRE(fd >= 0);
  FILE *f = fdopen(fd, "w");
  fprintf(f, "step,epoch,lr,loss,val_loss,grad_norm,tokens,tok_per_s,elapsed_s\n");
  for (int i = 1; i <= 60; i++) fprintf(f, "%d,0,0.001,%.3f,,1,100,10,%d\n", i, 3.0 - i * 0.04, i);
  fclose(f);
  int64_t id;
  CHECK_OK(store_job_add(x.s, "train", STORE_JOB_RUNNING, 1, &id));
  CHECK_OK(store_job_progress(x.s, id, 1, 60, 120, 0.6, "epoch 1", csv));
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"finetune\",\"options\":[{\"name\":\"status\",\"type\":1}]}"));
  const char *t = last_resp(&x)->text;
  CHECK(strstr(t, "running, step 60 of 120 (50%)") != NULL);
  CHECK(strstr(t, "loss 0.6000") != NULL);
  CHECK(strstr(t, "loss curve (2.960 → 0.600") != NULL);
  CHECK(strstr(t, "█") != NULL && strstr(t, "▁") != NULL);
  unlink(csv);
  fx_free(&x);
}

/* ---- /admin-data: export, purge (confirmed by a button that outlives a restart), stats ---- */

static void store_bob_message(fx *x, uint64_t id, const char *text) {
  h_msg hm;
  h_message(&hm, id, CHAN, GUILD, (h_user){BOB, "bob", false}, text);
  if (bot_handle_event(x->b, &hm.ev)) err_clear();
}

TEST(admin_data_export_is_a_private_attachment) {
  fx x;
  fx_init(&x);
  store_bob_message(&x, 501, "hello \"world\"");
  store_bob_message(&x, 502, "second");
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"admin-data\",\"options\":[{\"name\":\"export\",\"type\":1,"
                    "\"options\":[{\"name\":\"user\",\"type\":6,\"value\":\"12\"}]}]}"));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_DEFERRED);
  CHECK(last_resp(&x)->ephemeral);
  CHECK_INT(x.r->n_followups, 2);
  CHECK(x.r->followups[0].edit);
  CHECK(strstr(x.r->followups[0].text, "2 stored messages") != NULL);
  CHECK(!x.r->followups[1].edit);
  CHECK(x.r->followups[1].ephemeral);
  CHECK_STR(x.r->followups[1].x.first_file, "mimic-export-12.jsonl");
  CHECK(x.r->followups[1].x.file_bytes > 60);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"admin-data\",\"options\":[{\"name\":\"stats\",\"type\":1}]}"));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_DEFERRED);
  CHECK(x.r->followups[x.r->n_followups - 1].edit);
  fx_free(&x);
}

TEST(purge_button_works_after_a_restart_and_only_for_admins) {
  fx x;
  fx_init(&x);
  store_bob_message(&x, 601, "remember me");
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"admin-data\",\"options\":[{\"name\":\"purge\",\"type\":1,"
                    "\"options\":[{\"name\":\"user\",\"type\":6,\"value\":\"12\"}]}]}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_INT(last_resp(&x)->x.n_items, 2);
  CHECK_STR(last_resp(&x)->x.first_label, "Delete their data");
  int64_t n = 0;
  CHECK_OK(store_msg_count(x.s, BOB, &n));
  CHECK_INT(n, 1); /* asked, not done */
  /* the bot restarts: nothing of the question is in memory any more */
  bot_destroy(x.b);
  x.b = NULL;
  fx_open_bot(&x);
  CHECK_OK(
      interact(&x, 3, ALICE, false, "0", "{\"custom_id\":\"data:purge:12\",\"component_type\":2}"));
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  CHECK_OK(store_msg_count(x.s, BOB, &n));
  CHECK_INT(n, 1);
  CHECK_OK(interact(&x, 3, BOSS, false, MANAGE,
                    "{\"custom_id\":\"data:purge:12\",\"component_type\":2}"));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_UPDATE);
  CHECK(strstr(last_resp(&x)->text, "Deleted 1 messages of <@12>") != NULL);
  CHECK_OK(store_msg_count(x.s, BOB, &n));
  CHECK_INT(n, 0);
  CHECK_OK(
      interact(&x, 3, BOSS, false, MANAGE, "{\"custom_id\":\"data:keep\",\"component_type\":2}"));
  CHECK_STR(last_resp(&x)->text, "Nothing was deleted.");
  /* a game's button, without the games: a clear private answer */
  CHECK_OK(interact(&x, 3, ALICE, false, "0",
                    "{\"custom_id\":\"game:trivia:7:b\",\"component_type\":2}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_STR(last_resp(&x)->text, "That game is over.");
  fx_free(&x);
}

/* ---- forms (modals): a lore draft edited ---- */

static int draft_text(const store_lore_chunk *c, void *user) {
  str_lcpy(user, c->text, 256);
  return 0;
}

/* A MODAL_SUBMIT of the draft form: title and text. */
static int submit_draft(fx *x, uint64_t user, const char *perms, int64_t id, const char *title,
                        const char *text) {
  char data[1024];
  snprintf(data, sizeof data,
           "{\"custom_id\":\"draft:edit:%lld\",\"components\":[{\"type\":1,\"components\":[{"
           "\"type\":4,\"custom_id\":\"title\",\"value\":\"%s\"}]},{\"type\":1,\"components\":[{"
           "\"type\":4,\"custom_id\":\"text\",\"value\":\"%s\"}]}]}",
           (long long)id, title, text);
  return interact(x, 5, user, false, perms, data);
}

TEST(a_lore_draft_is_edited_in_a_form_and_saved_on_submit) {
  fx x;
  fx_init(&x);
  static const char draft_book[] =
      "{\"entries\":[{\"comment\":\"The lighthouse\",\"content\":\"A lamp nobody lights.\","
      "\"keys\":[\"The lighthouse\"]}]}";
  int64_t id = 0;
  CHECK_OK(lore_add_book_json(x.s, "scheduled:draft:1", draft_book, strlen(draft_book),
                              "draft:guild:1", NULL, &id));
  REQUIRE(id > 0);
  char cmd[256];
  snprintf(cmd, sizeof cmd,
           "{\"name\":\"drafts\",\"options\":[{\"name\":\"edit\",\"type\":1,\"options\":[{"
           "\"name\":\"id\",\"type\":4,\"value\":%lld}]}]}",
           (long long)id);
  /* the form opens as the first answer (type 9), prefilled, named after the draft */
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE, cmd));
  REQUIRE(x.r->n_responses == 1);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MODAL);
  char want[64];
  snprintf(want, sizeof want, "draft:edit:%lld", (long long)id);
  CHECK_STR(last_resp(&x)->modal_id, want);
  CHECK_INT(last_resp(&x)->n_inputs, 2);
  CHECK_STR(last_resp(&x)->first_input_id, "title");
  CHECK_STR(last_resp(&x)->first_value, "The lighthouse");
  CHECK(strstr(last_resp(&x)->modal_title, "Edit lore draft #") != NULL);
  /* opening it is for admins only */
  CHECK_OK(interact(&x, 2, ALICE, false, MANAGE, cmd));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MESSAGE);
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  /* and so is saving it: the submit is checked again (not an admin; an admin without Manage
   * Server on this server) */
  CHECK_OK(submit_draft(&x, ALICE, MANAGE, id, "Hijacked", "Mine now."));
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  CHECK_OK(submit_draft(&x, BOSS, "0", id, "Hijacked", "Mine now."));
  CHECK(strstr(last_resp(&x)->text, "Manage Server") != NULL);
  char text[256] = "";
  CHECK_OK(store_lore_chunks_of(x.s, id, draft_text, text));
  CHECK_STR(text, "A lamp nobody lights.");
  /* malformed submits are refused with the reason, nothing saved */
  char data[1024];
  snprintf(data, sizeof data,
           "{\"custom_id\":\"draft:edit:%lld\",\"components\":[{\"type\":1,\"components\":[{"
           "\"type\":4,\"custom_id\":\"title\",\"value\":\"a\"},{\"type\":4,\"custom_id\":"
           "\"text\",\"value\":\"b\"}]}]}",
           (long long)id);
  CHECK_OK(interact(&x, 5, BOSS, false, MANAGE, data));
  CHECK(strstr(last_resp(&x)->text, "malformed") != NULL);
  snprintf(data, sizeof data,
           "{\"custom_id\":\"draft:edit:%lld\",\"components\":[{\"type\":1,\"components\":[{"
           "\"type\":4,\"custom_id\":\"title\",\"value\":\"only a title\"}]}]}",
           (long long)id);
  CHECK_OK(interact(&x, 5, BOSS, false, MANAGE, data));
  CHECK(strstr(last_resp(&x)->text, "without its title or text") != NULL);
  CHECK_OK(submit_draft(&x, BOSS, MANAGE, id, "  ", "text"));
  CHECK(strstr(last_resp(&x)->text, "needs a title and a text") != NULL);
  CHECK_OK(interact(&x, 5, BOSS, false, MANAGE,
                    "{\"custom_id\":\"nope:1\",\"components\":[{\"type\":1,\"components\":[{"
                    "\"type\":4,\"custom_id\":\"a\",\"value\":\"b\"}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "not one of mine") != NULL);
  CHECK_OK(store_lore_chunks_of(x.s, id, draft_text, text));
  CHECK_STR(text, "A lamp nobody lights.");
  /* the admin's submit is saved (after a restart too: the custom_id says which draft) */
  bot_destroy(x.b);
  x.b = NULL;
  fx_open_bot(&x);
  CHECK_OK(submit_draft(&x, BOSS, MANAGE, id, "The old lighthouse", "Its lamp was lit in 1890."));
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "saved as #") != NULL);
  store_lore_source src;
  CHECK_INT(store_lore_source_get(x.s, id, &src), MIMIC_ENOTFOUND);
  err_clear();
  long long now_id = 0;
  const char *as = strstr(last_resp(&x)->text, "saved as #");
  REQUIRE(as && sscanf(as, "saved as #%lld", &now_id) == 1);
  CHECK_OK(store_lore_source_get(x.s, now_id, &src));
  CHECK_STR(src.scope, "draft:guild:1");
  CHECK_OK(store_lore_chunks_of(x.s, now_id, draft_text, text));
  CHECK_STR(text, "Its lamp was lit in 1890.");
  /* the list (the text command's twin) shows it; the old one is gone from forms */
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"drafts\",\"options\":[{\"name\":\"list\",\"type\":1}]}"));
  CHECK(strstr(last_resp(&x)->text, "Lore drafts waiting") != NULL);
  CHECK(strstr(last_resp(&x)->text, "lit in 1890") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE, cmd));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MESSAGE);
  CHECK(strstr(last_resp(&x)->text, "no lore draft") != NULL);
  CHECK_OK(submit_draft(&x, BOSS, MANAGE, id, "Again", "Again."));
  CHECK(strstr(last_resp(&x)->text, "was not saved") != NULL);
  fx_free(&x);
}

TEST(a_personas_greeting_is_edited_in_a_form) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Aria", "Hello, {{user}}.");
  int64_t id = 0;
  CHECK_OK(store_persona_find(x.s, "Aria", &id));
  const char *open = "{\"name\":\"persona\",\"options\":[{\"name\":\"greeting\",\"type\":1,"
                     "\"options\":[{\"name\":\"name\",\"type\":3,\"value\":\"Aria\"}]}]}";
  CHECK_OK(interact(&x, 2, ALICE, false, MANAGE, open));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MESSAGE);
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE, open));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MODAL);
  CHECK_STR(last_resp(&x)->modal_title, "Greeting of Aria");
  CHECK_STR(last_resp(&x)->first_value, "Hello, {{user}}.");
  char form[64], data[512];
  snprintf(form, sizeof form, "persona:greet:%lld", (long long)id);
  CHECK_STR(last_resp(&x)->modal_id, form);
  snprintf(data, sizeof data,
           "{\"custom_id\":\"%s\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,"
           "\"custom_id\":\"greeting\",\"value\":\"Welcome aboard, {{user}}!\"}]}]}",
           form);
  CHECK_OK(interact(&x, 5, ALICE, false, MANAGE, data)); /* checked again on submit */
  CHECK(strstr(last_resp(&x)->text, "Only the bot's admins") != NULL);
  store_persona p;
  store_persona_init(&p);
  CHECK_OK(store_persona_get(x.s, id, &p));
  CHECK_STR(p.first_mes, "Hello, {{user}}.");
  store_persona_free(&p);
  CHECK_OK(interact(&x, 5, BOSS, false, MANAGE, data));
  CHECK(strstr(last_resp(&x)->text, "Aria's greeting is saved") != NULL);
  store_persona_init(&p);
  CHECK_OK(store_persona_get(x.s, id, &p));
  CHECK_STR(p.first_mes, "Welcome aboard, {{user}}!");
  store_persona_free(&p);
  /* the persona greets with it */
  CHECK_OK(interact(&x, 2, BOB, true, "",
                    "{\"name\":\"persona\",\"options\":[{\"name\":\"talk\",\"type\":1,"
                    "\"options\":[{\"name\":\"name\",\"type\":3,\"value\":\"Aria\"}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "Welcome aboard") != NULL);
  fx_free(&x);
}

/* ---- every other command's happy path, through its twin ---- */

TEST(the_remaining_commands_map_onto_their_twins) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Aria", NULL);
  static const struct {
    uint64_t user;
    const char *perms, *data, *want;
  } cases[] = {
      {BOSS, MANAGE,
       "{\"name\":\"settemp\",\"options\":[{\"name\":\"value\",\"type\":10,\"value\":0.7}]}",
       "0.7"},
      {BOSS, MANAGE,
       "{\"name\":\"include\",\"options\":[{\"name\":\"user\",\"type\":6,\"value\":\"12\"}]}",
       "12"},
      {BOSS, MANAGE,
       "{\"name\":\"vision\",\"options\":[{\"name\":\"state\",\"type\":3,\"value\":\"off\"}]}",
       "off"},
      {BOSS, MANAGE, "{\"name\":\"fetch\"}", "fetch"},
      {ALICE, "0",
       "{\"name\":\"game\",\"options\":[{\"name\":\"game\",\"type\":3,\"value\":\"riddle\"}]}",
       "iddle"},
      {ALICE, "0",
       "{\"name\":\"minigame\",\"options\":[{\"name\":\"game\",\"type\":3,\"value\":\"trivia\"}]}",
       "Trivia"},
      {ALICE, "0",
       "{\"name\":\"points\",\"options\":[{\"name\":\"check\",\"type\":1,\"options\":[{\"name\":"
       "\"user\",\"type\":6,\"value\":\"12\"}]}]}",
       "points"},
      {BOSS, MANAGE,
       "{\"name\":\"points\",\"options\":[{\"name\":\"grant\",\"type\":1,\"options\":[{\"name\":"
       "\"user\",\"type\":6,\"value\":\"12\"},{\"name\":\"amount\",\"type\":4,\"value\":5},{"
       "\"name\":\"reason\",\"type\":3,\"value\":\"helped\"}]}]}",
       "5"},
      {ALICE, "0",
       "{\"name\":\"leaderboard\",\"options\":[{\"name\":\"period\",\"type\":3,\"value\":\"month\"}"
       "]}",
       ""},
      {ALICE, "0", "{\"name\":\"profile\"}", ""},
      {ALICE, "0", "{\"name\":\"story\",\"options\":[{\"name\":\"end\",\"type\":1}]}",
       "No game is running"},
      {ALICE, "0", "{\"name\":\"story\",\"options\":[{\"name\":\"resume\",\"type\":1}]}",
       "No story is running"},
      {ALICE, "0",
       "{\"name\":\"story\",\"options\":[{\"name\":\"start\",\"type\":1,\"options\":[{"
       "\"name\":\"persona\",\"type\":3,\"value\":\"Aria\"},{\"name\":\"premise\",\"type\":"
       "3,\"value\":\"a lighthouse\"}]}]}",
       "told by **Aria**"},
      {ALICE, "0", "{\"name\":\"story\",\"options\":[{\"name\":\"end\",\"type\":1}]}",
       "Done."}, /* the narrator says "Game stopped." in the channel */
      {BOSS, MANAGE,
       "{\"name\":\"drop\",\"options\":[{\"name\":\"what\",\"type\":3,\"value\":\"meme_drop\"}]}",
       ""},
      {BOSS, MANAGE,
       "{\"name\":\"scenario\",\"options\":[{\"name\":\"start\",\"type\":1,\"options\":[{\"name\":"
       "\"cast\",\"type\":3,\"value\":\"Aria\"},{\"name\":\"premise\",\"type\":3,\"value\":\"a "
       "storm\"}]}]}",
       ""},
      {BOSS, MANAGE, "{\"name\":\"restart\"}", ""},
  };
  static const char *passage[] = {"{\"text\": \"The lamp flickers.\", \"choices\": [\"Climb\", "
                                  "\"Wait\"]}"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int before = x.r->n_responses;
    if (strstr(cases[i].want, "told by")) fake_script(x.f, passage, 1); /* a story that goes on */
    CHECK_OK(interact(&x, 2, cases[i].user, false, cases[i].perms, cases[i].data));
    fx_drain(&x);
    const char *got = x.r->n_responses > before ? last_resp(&x)->text : "(no response)";
    if (!strstr(got, cases[i].want)) printf("  case %zu answered: %s\n", i, got);
    CHECK(x.r->n_responses == before + 1);
    CHECK(strstr(got, cases[i].want) != NULL);
  }
  bool stopped = false;
  for (int i = 0; i < x.r->n_personas; i++)
    stopped = stopped || strstr(x.r->personas[i].text, "Game stopped.") != NULL;
  CHECK(stopped);
  fx_free(&x);
}

/* ---- autocomplete ---- */

TEST(autocomplete_personas_games_and_lore_titles) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Gandalf", NULL);
  add_persona(&x, "Galadriel", NULL);
  add_persona(&x, "Bilbo", NULL);
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "", NULL, NULL));
  CHECK_OK(
      interact(&x, 4, ALICE, false, "0",
               "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,\"value\":"
               "\"x\"},{\"name\":\"persona\",\"type\":3,\"value\":\"ga\",\"focused\":true}]}"));
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_AUTOCOMPLETE);
  CHECK_INT(last_resp(&x)->n_choices, 2);
  CHECK_OK(interact(&x, 4, ALICE, false, "0",
                    "{\"name\":\"persona\",\"options\":[{\"name\":\"show\",\"type\":1,\"options\":"
                    "[{\"name\":\"name\",\"type\":3,\"value\":\"bil\",\"focused\":true}]}]}"));
  CHECK_INT(last_resp(&x)->n_choices, 1);
  CHECK_STR(last_resp(&x)->first_choice, "Bilbo");
  CHECK_OK(interact(&x, 4, ALICE, false, "0",
                    "{\"name\":\"game\",\"options\":[{\"name\":\"game\",\"type\":3,\"value\":"
                    "\"tri\",\"focused\":true}]}"));
  CHECK_INT(last_resp(&x)->n_choices, 1);
  CHECK_STR(last_resp(&x)->first_choice, "trivia");
  CHECK_OK(interact(&x, 4, ALICE, false, "0",
                    "{\"name\":\"rag\",\"options\":[{\"name\":\"query\",\"type\":3,\"value\":"
                    "\"dragon\",\"focused\":true}]}"));
  CHECK_INT(last_resp(&x)->n_choices, 1);
  CHECK_STR(last_resp(&x)->first_choice, "Smaug");
  CHECK_INT(x.r->n_followups, 0);
  fx_free(&x);
}

/* ---- malformed and oversized ---- */

TEST(malformed_and_oversized_payloads_are_refused_without_a_crash) {
  fx x;
  fx_init(&x);
  discord_event *ev = NULL;
  CHECK(discord_interaction_parse("not json", 8, &ev) == MIMIC_EFORMAT);
  err_clear();
  CHECK(discord_interaction_parse("[1,2]", 5, &ev) == MIMIC_EFORMAT);
  err_clear();
  size_t big = DISCORD_INTERACTION_MAX + 10;
  char *huge = xalloc(big + 1);
  memset(huge, ' ', big);
  huge[big] = 0;
  CHECK(discord_interaction_parse(huge, big, &ev) == MIMIC_ERANGE);
  err_clear();
  CHECK(ev == NULL);
  /* no token: nothing can be answered, nothing is */
  CHECK_OK(deliver(&x, "{\"id\":\"5\",\"type\":2,\"data\":{\"name\":\"status\"}}"));
  CHECK_INT(x.r->n_responses, 0);
  /* an option over the cap */
  char *data = xalloc(8000);
  memset(huge, 'a', 3000);
  huge[3000] = 0;
  snprintf(data, 8000,
           "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":3,\"value\":\"%s\"}]}",
           huge);
  CHECK_OK(interact(&x, 2, ALICE, false, "0", data));
  CHECK_INT(x.r->n_responses, 1);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "malformed or too long") != NULL);
  CHECK_INT(x.f->submits, 0);
  /* twin arguments over the text command's cap */
  memset(huge, 'b', 700);
  huge[700] = 0;
  snprintf(data, 8000,
           "{\"name\":\"exclude\",\"options\":[{\"name\":\"user\",\"type\":6,\"value\":\"12\"},"
           "{\"name\":\"reason\",\"type\":3,\"value\":\"%s\"}]}",
           huge);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE, data));
  CHECK(strstr(last_resp(&x)->text, "too long") != NULL);
  uint32_t flags = 0;
  CHECK_OK(store_user_flags(x.s, BOB, &flags));
  CHECK(!(flags & STORE_FLAG_EXCLUDED));
  /* unknown command, unknown sub-command, wrong types, a user command, a modal */
  CHECK_OK(interact(&x, 2, ALICE, false, "0", "{\"name\":\"nope\"}"));
  CHECK(strstr(last_resp(&x)->text, "don't know that command") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"admin-data\",\"options\":[{\"name\":\"explode\",\"type\":1}]}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"persona\",\"options\":[{\"name\":\"bogus\",\"type\":1}]}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_OK(
      interact(&x, 2, ALICE, false, "0",
               "{\"name\":\"ai\",\"options\":[{\"name\":\"prompt\",\"type\":4,\"value\":7}]}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_OK(interact(&x, 2, ALICE, false, "0", "{\"name\":\"ai\",\"type\":2,\"target_id\":\"5\"}"));
  CHECK(strstr(last_resp(&x)->text, "no user or message commands") != NULL);
  CHECK_OK(interact(&x, 5, ALICE, false, "0", "{\"custom_id\":\"x\"}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_OK(interact(&x, 3, ALICE, false, "0", "{\"custom_id\":\"data:purge:abc\"}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK_INT(x.f->submits, 0);
  mem_free(data);
  mem_free(huge);
  fx_free(&x);
}

TEST(the_schedulers_switches_and_jobs_through_slash_commands) {
  fx x;
  fx_init(&x);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"config-proactive\",\"options\":[{\"name\":\"on\","
                    "\"type\":1}]}"));
  CHECK(strstr(last_resp(&x)->text, "Scheduled posts are on") != NULL);
  CHECK(last_resp(&x)->ephemeral);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"config-proactive\",\"options\":[{\"name\":\"channel\","
                    "\"type\":1,\"options\":[{\"name\":\"action\",\"type\":3,\"value\":"
                    "\"add\"}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "may go to") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"config-proactive\",\"options\":[{\"name\":\"cap\","
                    "\"type\":1,\"options\":[{\"name\":\"value\",\"type\":4,\"value\":3}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "proactive.daily_cap = 3") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"config-proactive\",\"options\":[{\"name\":\"show\","
                    "\"type\":1}]}"));
  CHECK(strstr(last_resp(&x)->text, "daily cap: 3") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"schedule\",\"options\":[{\"name\":\"add\",\"type\":1,"
                    "\"options\":[{\"name\":\"kind\",\"type\":3,\"value\":\"meme_drop\"},"
                    "{\"name\":\"cron\",\"type\":3,\"value\":\"*/20 * * * *\"}]}]}"));
  CHECK(strstr(last_resp(&x)->text, "1 job added") != NULL);
  CHECK_OK(interact(&x, 2, BOSS, false, MANAGE,
                    "{\"name\":\"schedule\",\"options\":[{\"name\":\"list\",\"type\":1}]}"));
  CHECK(strstr(last_resp(&x)->text, "*/20 * * * *") != NULL);
  /* not an admin: one private sentence, nothing changed */
  CHECK_OK(interact(&x, 2, 4242, false, "0",
                    "{\"name\":\"config-proactive\",\"options\":[{\"name\":\"off\","
                    "\"type\":1}]}"));
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "Scheduled posts are off") == NULL);
  fx_free(&x);
}

int main(void) {
  RUN(the_schedulers_switches_and_jobs_through_slash_commands);
  log_set_level(LOG_ERROR);
  RUN(definitions_follow_discords_rules_and_only_twins_that_exist);
  RUN(registration_hash_is_stored_per_application_and_guild);
  RUN(status_and_setrate_run_the_text_commands_privately);
  RUN(non_admins_are_refused_with_one_private_sentence);
  RUN(privacy_commands_answer_privately_instead_of_by_dm);
  RUN(exclude_takes_a_user_option);
  RUN(persona_talk_in_a_dm_and_help);
  RUN(ai_defers_at_once_and_edits_the_original_when_the_slow_model_answers);
  RUN(ai_as_a_persona_private_and_failures_are_said);
  RUN(rag_answers_with_passages_and_sources);
  RUN(greet_posts_as_the_persona);
  RUN(members_are_welcomed_on_joining_when_configured);
  RUN(finetune_starts_the_train_job_and_shows_progress);
  RUN(admin_data_export_is_a_private_attachment);
  RUN(purge_button_works_after_a_restart_and_only_for_admins);
  RUN(a_lore_draft_is_edited_in_a_form_and_saved_on_submit);
  RUN(the_remaining_commands_map_onto_their_twins);
  RUN(a_personas_greeting_is_edited_in_a_form);
  RUN(autocomplete_personas_games_and_lore_titles);
  RUN(malformed_and_oversized_payloads_are_refused_without_a_crash);
  TEST_MAIN_END();
}
