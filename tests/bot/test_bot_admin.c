/* Tests for the bot's text commands: admin-only commands refused (and audited) for others, live
 * settings validated, applied and persisted across a restart, !status and !help, runtime requests,
 * and the privacy commands everyone may use, confirmed by DM. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_fixture.h"
#include "store/store.h"
#include "test.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100

static const h_user ALICE = {11, "alice", false};
static const h_user BOB = {12, "bob", false};
static const h_user BOSS = {9, "boss", false};

typedef h_fx fx;

static void fx_open_bot(fx *x) { h_fx_bot(x, (bot_opts){.seed = 3, .model_name = "tiny.gguf"}); }

/* Two admins, and the default flood limit (the response-rate test counts on it: with rate 0.5
 * and no limit, the bot's follow-ups answer nearly every message). */
static void admin_cfg(fx *x) {
  h_fx_cfg(x, "bot.admins", "9, 77");
  h_fx_cfg(x, "bot.user_flood_per_min", "6");
}

/* db NULL = in memory. */
static void fx_init(fx *x, const char *db) {
  h_fx_init(x, db, false);
  admin_cfg(x);
  fx_open_bot(x);
}

static void fx_free(fx *x) { h_fx_free(x); }

static uint64_t next_id = 1;

static void say(fx *x, h_user who, const char *text, bool mention) {
  h_msg hm;
  h_message(&hm, next_id++, CHAN, GUILD, who, text);
  if (mention) h_mention(&hm, SELF);
  if (bot_handle_event(x->b, &hm.ev)) {
    printf("  event: %s\n", err_msg());
    err_clear();
  }
}

static void drain(fx *x) {
  for (int i = 0; i < 20 && (bot_inflight(x->b) || fake_held(x->f)); i++) {
    fake_release(x->f, 100);
    fake_wait_cancelled(x->f);
    bot_poll(x->b);
  }
}

static const char *last_text(const fx *x) {
  return x->r->n_sends ? x->r->sends[x->r->n_sends - 1].text : "";
}

/* Log lines captured for the audit checks. */
static char logged[8192];
static void sink(log_level lv, const char *line, void *u) {
  (void)lv, (void)u;
  size_t n = strlen(logged);
  snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

TEST(admin_commands_from_others_change_nothing_and_are_audited) {
  fx x;
  fx_init(&x, NULL);
  logged[0] = 0;
  log_set_level(LOG_WARN);
  log_set_sink(sink, NULL);
  say(&x, ALICE, "!setrate 1", false);
  say(&x, ALICE, "!restart", false);
  say(&x, ALICE, "!train", false);
  say(&x, ALICE, "!exclude <@12>", false);
  log_set_sink(NULL, NULL);
  log_set_level(LOG_ERROR);
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0, 0);
  CHECK_INT(cfg_source_of(x.c, CFG_BOT_RESPONSE_RATE), CFG_SRC_FILE);
  CHECK_INT(x.r->n_sends, 0);
  CHECK_INT(x.r->n_reacts, 0);
  CHECK_INT(x.r->restarts, 0);
  CHECK_INT(x.r->n_jobs, 0);
  uint32_t flags = 1;
  CHECK_OK(store_user_flags(x.s, BOB.id, &flags));
  CHECK_INT(flags, 0);
  CHECK(strstr(logged, "audit: user 11 (alice) tried !setrate") != NULL);
  CHECK(strstr(logged, "tried !restart") != NULL);
  CHECK(strstr(logged, "not an admin") != NULL);
  /* Commands are not chat: nothing stored, nothing answered. */
  int64_t n = -1;
  CHECK_OK(store_msg_count(x.s, 0, &n));
  CHECK_INT(n, 0);
  fx_free(&x);
}

TEST(setrate_persists_across_a_restart) {
  char dir[] = "/tmp/mimic-admin-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char db[128];
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  fx x;
  fx_init(&x, db);
  say(&x, BOSS, "!setrate 0.5", false);
  CHECK(strstr(last_text(&x), "Response rate set to 0.5 (was 0)") != NULL);
  CHECK(strstr(last_text(&x), "Saved: it survives a restart.") != NULL);
  CHECK_INT(x.r->sends[0].reply_to, next_id - 1);
  CHECK(!x.r->sends[0].ping);
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0.5, 1e-12);
  CHECK_INT(cfg_source_of(x.c, CFG_BOT_RESPONSE_RATE), CFG_SRC_LIVE);
  /* A new process: fresh config from the file (rate 0), a new bot on the same database. */
  bot_destroy(x.b);
  store_close(x.s);
  cfg_destroy(x.c);
  x.c = h_fx_config();
  admin_cfg(&x);
  CHECK_OK(store_open(db, &x.s));
  fx_open_bot(&x);
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0.5, 1e-12);
  CHECK_INT(cfg_source_of(x.c, CFG_BOT_RESPONSE_RATE), CFG_SRC_LIVE);
  /* And the router uses it: over many messages some get an unprompted answer. */
  for (int i = 0; i < 40; i++) {
    h_now += 1000;
    say(&x, i % 2 ? ALICE : BOB, "talking among ourselves", false);
    drain(&x);
  }
  CHECK(x.r->n_sends > 5 && x.r->n_sends < 38);
  fx_free(&x);
  char side[160];
  unlink(db);
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  rmdir(dir);
}

/* On an in-memory database (mimic simulate's default) a live setting ends with the process, and
 * the answer says so instead of promising it survives a restart. */
TEST(setrate_on_an_in_memory_database_says_it_lasts_until_the_bot_stops) {
  fx x;
  fx_init(&x, NULL);
  say(&x, BOSS, "!setrate 0.5", false);
  const char *t = last_text(&x);
  CHECK(strstr(t, "Response rate set to 0.5 (was 0).") != NULL);
  CHECK(strstr(t, "survives a restart") == NULL);
  CHECK(strstr(t, "The database is in memory, so it lasts until the bot stops.") != NULL);
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0.5, 1e-12);
  fx_free(&x);
}

/* !status names each value's real source: a default stays "default" next to file, environment,
 * command-line and live values. */
TEST(status_names_the_true_source_of_each_value) {
  fx x;
  fx_init(&x, NULL);
  CHECK_OK(cfg_set(x.c, "engine.top_p", "0.9", CFG_SRC_ENV));
  CHECK_OK(cfg_set(x.c, "engine.max_tokens", "8", CFG_SRC_CLI));
  say(&x, BOSS, "!settemp 1.1", false);
  say(&x, BOSS, "!status", false);
  const char *t = last_text(&x);
  CHECK(strstr(t, "bot.cooldown_s = 0 (config file)") != NULL);
  CHECK(strstr(t, "engine.top_p = 0.9 (environment)") != NULL);
  CHECK(strstr(t, "engine.max_tokens = 8 (command line)") != NULL);
  CHECK(strstr(t, "engine.temperature = 1.1 (live setting)") != NULL);
  CHECK(strstr(t, "bot.queue_max = ") != NULL && strstr(t, "(default)") != NULL);
  CHECK(strstr(t, "bot.memory_ttl_s = 1800 (default)") != NULL);
  fx_free(&x);
}

TEST(bad_arguments_get_a_clear_answer_and_change_nothing) {
  fx x;
  fx_init(&x, NULL);
  const char *bad[] = {"!setrate 2", "!setrate -0.1", "!setrate abc",
                       "!setrate",   "!setrate nan",  "!setrate 0.5 extra"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    say(&x, BOSS, bad[i], false);
    CHECK(strstr(last_text(&x), "!setrate takes a number from 0 to 1") != NULL);
  }
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0, 0);
  say(&x, BOSS, "!settemp 3", false);
  CHECK(strstr(last_text(&x), "!settemp takes a number from 0 to 2") != NULL);
  say(&x, BOSS, "!setmaxlen 0", false);
  CHECK(strstr(last_text(&x), "!setmaxlen takes a whole number of tokens") != NULL);
  say(&x, BOSS, "!setmaxlen 1.5", false);
  CHECK(strstr(last_text(&x), "whole number") != NULL);
  say(&x, BOSS, "!exclude someone", false);
  CHECK(strstr(last_text(&x), "Usage: !exclude @user [reason]") != NULL);
  /* Good values: applied to the next generation. */
  say(&x, BOSS, "!settemp 1.5", false);
  CHECK(strstr(last_text(&x), "Temperature set to 1.5") != NULL);
  say(&x, BOSS, "!SETMLENGTH 64", false); /* the alias, any case */
  CHECK(strstr(last_text(&x), "Reply length (tokens) set to 64") != NULL);
  say(&x, ALICE, "<@1000> tell me a story", true);
  CHECK_INT(x.f->last_max_tokens, 64);
  CHECK_NEAR(x.f->last_temperature, 1.5, 1e-6);
  drain(&x);
  /* A word that only starts like a command is chat. */
  int sends = x.r->n_sends;
  say(&x, ALICE, "!setratefoo hello", false);
  CHECK_INT(x.r->n_sends, sends);
  int64_t n = 0;
  CHECK_OK(store_msg_count(x.s, ALICE.id, &n));
  CHECK_INT(n, 2);
  fx_free(&x);
}

TEST(status_and_help) {
  fx x;
  fx_init(&x, NULL);
  say(&x, ALICE, "<@1000> hi", true);
  drain(&x);
  say(&x, BOSS, "!setrate 0.2", false);
  say(&x, BOSS, "!status", false);
  const char *t = last_text(&x);
  CHECK(strstr(t, "**Status**") != NULL);
  CHECK(strstr(t, "model: tiny.gguf (fake backend)") != NULL);
  CHECK(strstr(t, "bot.response_rate = 0.2 (live setting)") != NULL);
  CHECK(strstr(t, "bot.cooldown_s = 0 (config file)") != NULL);
  CHECK(strstr(t, "engine.temperature = 0.8 (default)") != NULL);
  CHECK(strstr(t, "last 24 h: 2 seen, 1 replies") != NULL);
  CHECK(strstr(t, "conversation memory 1 channels") != NULL);
  CHECK(strlen(t) < 2000);
  say(&x, ALICE, "!help", false);
  t = last_text(&x);
  CHECK(strstr(t, "!optout") != NULL);
  CHECK(strstr(t, "!forgetme") != NULL);
  CHECK(strstr(t, "!setrate") == NULL);
  say(&x, BOSS, "!help", false);
  t = last_text(&x);
  CHECK(strstr(t, "!setrate <0-1>") != NULL);
  CHECK(strstr(t, "!restart") != NULL);
  CHECK(strstr(t, "!setting <key>") != NULL);
  CHECK(strstr(t, "!scenario start <persona>") != NULL); /* the last entry: nothing cut */
  fx_free(&x);
}

TEST(fetch_train_and_restart_are_handed_to_the_runtime) {
  fx x;
  fx_init(&x, NULL);
  say(&x, BOSS, "!fetch", false);
  say(&x, BOSS, "!train", false);
  REQUIRE(x.r->n_jobs == 2);
  CHECK_STR(x.r->jobs[0], "fetch");
  CHECK_STR(x.r->jobs[1], "train");
  CHECK(strstr(last_text(&x), "Started training.") != NULL);
  say(&x, BOSS, "!restart", false);
  CHECK(strstr(last_text(&x), "Restarting now.") != NULL);
  CHECK_INT(x.r->restarts, 1);
  fx_free(&x);
}

TEST(optout_optin_are_confirmed_by_dm_and_honoured) {
  fx x;
  fx_init(&x, NULL);
  say(&x, ALICE, "!optout", false);
  REQUIRE(x.r->n_dms == 1);
  CHECK_INT(x.r->dm_user[0], ALICE.id);
  CHECK(strstr(x.r->dm_text[0], "opted out") != NULL);
  CHECK_INT(x.r->n_reacts, 1);
  uint32_t flags = 0;
  CHECK_OK(store_user_flags(x.s, ALICE.id, &flags));
  CHECK(flags & STORE_FLAG_OPTED_OUT);
  say(&x, ALICE, "<@1000> can you hear me", true);
  drain(&x);
  CHECK_INT(x.r->n_sends, 0);
  int64_t n = -1;
  CHECK_OK(store_msg_count(x.s, ALICE.id, &n));
  CHECK_INT(n, 0);
  say(&x, ALICE, "!optin", false);
  REQUIRE(x.r->n_dms == 2);
  CHECK(strstr(x.r->dm_text[1], "opted in") != NULL);
  say(&x, ALICE, "<@1000> now?", true);
  drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  CHECK_OK(store_msg_count(x.s, ALICE.id, &n));
  CHECK_INT(n, 1);
  fx_free(&x);
}

TEST(forgetme_deletes_stored_messages) {
  fx x;
  fx_init(&x, NULL);
  say(&x, ALICE, "one", false);
  say(&x, ALICE, "two", false);
  say(&x, BOB, "three", false);
  say(&x, ALICE, "!forgetme", false);
  REQUIRE(x.r->n_dms == 1);
  CHECK(strstr(x.r->dm_text[0], "deleted 2 of your messages") != NULL);
  int64_t n = -1;
  CHECK_OK(store_msg_count(x.s, ALICE.id, &n));
  CHECK_INT(n, 0);
  CHECK_OK(store_msg_count(x.s, BOB.id, &n));
  CHECK_INT(n, 1);
  /* Gone from the bot's memory too: bob's mention builds a prompt without alice's lines. */
  say(&x, BOB, "<@1000> what did alice say", true);
  CHECK(strstr(x.f->last_prompt, "|alice|") == NULL);
  CHECK(strstr(x.f->last_prompt, "user|bob|three") != NULL);
  drain(&x);
  say(&x, ALICE, "new message", false);
  CHECK_OK(store_msg_count(x.s, ALICE.id, &n));
  CHECK_INT(n, 0);
  fx_free(&x);
}

TEST(exclude_and_include) {
  fx x;
  fx_init(&x, NULL);
  say(&x, BOSS, "!exclude <@!12> spams the bot", false);
  CHECK(strstr(last_text(&x), "Excluded <@12>") != NULL);
  int sends = x.r->n_sends;
  say(&x, BOB, "<@1000> hello?", true);
  drain(&x);
  CHECK_INT(x.r->n_sends, sends);
  say(&x, BOSS, "!include 12", false);
  CHECK(strstr(last_text(&x), "Included <@12> again.") != NULL);
  sends = x.r->n_sends;
  say(&x, BOB, "<@1000> hello now?", true);
  drain(&x);
  CHECK_INT(x.r->n_sends, sends + 1);
  fx_free(&x);
}

TEST(privacy_flags_are_loaded_at_start) {
  fx x;
  fx_init(&x, NULL);
  bot_destroy(x.b);
  CHECK_OK(store_user_flag_set(x.s, BOB.id, STORE_FLAG_EXCLUDED, "test"));
  fx_open_bot(&x);
  say(&x, BOB, "<@1000> hi", true);
  drain(&x);
  CHECK_INT(x.r->n_sends, 0);
  /* Cleared from outside (mimic privacy include) and reloaded. */
  CHECK_OK(store_user_flag_clear(x.s, BOB.id, STORE_FLAG_EXCLUDED));
  CHECK_OK(bot_privacy_reload(x.b, BOB.id));
  say(&x, BOB, "<@1000> hi again", true);
  drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  fx_free(&x);
}

TEST(bot_setting_set_rejects_unknown_and_secret_keys) {
  fx x;
  fx_init(&x, NULL);
  CHECK_INT(bot_setting_set(x.b, "bot.nope", "1"), MIMIC_EINVAL);
  CHECK_INT(bot_setting_set(x.b, "discord.token", "abcdefgh12345"), MIMIC_EINVAL);
  CHECK(bot_setting_set(x.b, "bot.response_rate", "7") != 0);
  CHECK_NEAR(cfg_num(x.c, CFG_BOT_RESPONSE_RATE), 0, 0);
  buf v;
  buf_init(&v, 0);
  CHECK_INT(store_setting_get(x.s, "", "bot.response_rate", &v), MIMIC_ENOTFOUND);
  buf_free(&v);
  err_clear();
  fx_free(&x);
}

TEST(excluding_someone_drops_their_queued_replies) {
  fx x;
  fx_init(&x, NULL);
  say(&x, ALICE, "<@1000> first", true);
  say(&x, ALICE, "<@1000> second", true);
  CHECK_INT(bot_inflight(x.b), 2);
  say(&x, BOSS, "!exclude <@11>", false);
  CHECK_INT(bot_inflight(x.b), 0);
  int sends = x.r->n_sends; /* the admin's confirmation */
  drain(&x);
  CHECK_INT(x.r->n_sends, sends);
  CHECK_INT(x.f->cancelled, 1);
  fx_free(&x);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(admin_commands_from_others_change_nothing_and_are_audited);
  RUN(setrate_persists_across_a_restart);
  RUN(setrate_on_an_in_memory_database_says_it_lasts_until_the_bot_stops);
  RUN(status_names_the_true_source_of_each_value);
  RUN(bad_arguments_get_a_clear_answer_and_change_nothing);
  RUN(status_and_help);
  RUN(fetch_train_and_restart_are_handed_to_the_runtime);
  RUN(optout_optin_are_confirmed_by_dm_and_honoured);
  RUN(forgetme_deletes_stored_messages);
  RUN(exclude_and_include);
  RUN(excluding_someone_drops_their_queued_replies);
  RUN(privacy_flags_are_loaded_at_start);
  RUN(bot_setting_set_rejects_unknown_and_secret_keys);
  TEST_MAIN_END();
}
