/* Tests for the bot's response flow with a recording fake of the actions and a scripted fake
 * engine: who gets answered and how (reply reference, pings), rates and cooldowns, loops between
 * two bots, one generation per channel, load shedding, empty generations, typing, deletes,
 * graceful restart, and what is stored. */
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
static const h_user OTHERBOT = {500, "otherbot", true};

typedef h_fx fx;

static void fx_cfg(fx *x, const char *key, const char *val) { h_fx_cfg(x, key, val); }

static int fx_bot(fx *x) {
  bot_opts o = {.config = x->c,
                .db = x->s,
                .backend = &x->f->base,
                .actions = &x->act,
                .now_ms = h_clock,
                .seed = 42,
                .model_name = "tiny.gguf"};
  int rc = bot_new(&o, &x->b);
  if (rc) return rc;
  return h_ready(x->b, SELF, "mimic");
}

/* rate and cooldown (seconds) are the common knobs; db NULL = in memory. */
static void fx_init(fx *x, const char *db, const char *rate, const char *cooldown) {
  h_fx_init(x, db, false);
  fx_cfg(x, "bot.admins", "9");
  fx_cfg(x, "bot.response_rate", rate);
  fx_cfg(x, "bot.cooldown_s", cooldown);
  if (fx_bot(x)) {
    printf("bot: %s\n", err_msg());
    abort();
  }
}

static void fx_free(fx *x) { h_fx_free(x); }

static int fx_say(fx *x, uint64_t id, uint64_t chan, h_user who, const char *text, bool mention) {
  h_msg hm;
  h_message(&hm, id, chan, GUILD, who, text);
  if (mention) h_mention(&hm, SELF);
  return bot_handle_event(x->b, &hm.ev);
}

/* Releases every held generation and polls until nothing is in flight (bounded rounds). */
static void fx_drain(fx *x) {
  h_fx_drain(x);
  bot_poll(x->b);
}

static int64_t count_messages(store *s, uint64_t author) {
  int64_t n = -1;
  if (store_msg_count(s, author, &n)) return -1;
  return n;
}

/* ---- the flow ---- */

TEST(mention_gets_a_reply_that_pings_only_the_author) {
  fx x;
  fx_init(&x, NULL, "0", "20");
  const char *script[] = {"mimic: hey alice, what's up"};
  fake_script(x.f, script, 1);
  CHECK_OK(fx_say(&x, 1, CHAN, BOB, "morning all", false));
  CHECK_OK(fx_say(&x, 2, CHAN, ALICE, "<@1000> you there?", true));
  CHECK_INT(x.f->submits, 1);
  CHECK_INT(x.r->n_typing, 1);
  CHECK_INT(x.r->typing[0], CHAN);
  CHECK_STR(x.f->last_key, "100");
  /* The prompt: system prompt, bob's turn with his name, alice's message last with her name and
   * the bot's mention rendered as its name. */
  CHECK(strstr(x.f->last_prompt, "system||You are a regular") == x.f->last_prompt);
  CHECK(strstr(x.f->last_prompt, "user|bob|morning all\n") != NULL);
  const char *last = strstr(x.f->last_prompt, "user|alice|@mimic you there?\n");
  CHECK(last != NULL && last[strlen("user|alice|@mimic you there?\n")] == 0);
  CHECK(strstr(x.f->last_stops, "[\nalice:]") != NULL);
  fx_drain(&x);
  REQUIRE(x.r->n_sends == 1);
  CHECK_INT(x.r->sends[0].channel, CHAN);
  CHECK_INT(x.r->sends[0].reply_to, 2);
  CHECK(x.r->sends[0].ping);
  CHECK_STR(x.r->sends[0].text, "hey alice, what's up"); /* the "mimic:" echo stripped */
  fx_free(&x);
}

TEST(rate_zero_is_silent_except_on_mention_and_reply) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  for (uint64_t i = 1; i <= 40; i++) {
    h_now += 1000;
    CHECK_OK(fx_say(&x, i, CHAN, i % 2 ? ALICE : BOB, "just chatting", false));
  }
  CHECK_INT(x.f->submits, 0);
  CHECK_OK(fx_say(&x, 41, CHAN, ALICE, "hey <@1000>", true));
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  h_deliver_echoes(x.r, &x.b, 1, GUILD);
  /* A reply to the bot's message is answered too. */
  h_msg hm;
  h_message(&hm, 42, CHAN, GUILD, BOB, "lol same");
  hm.ev.u.message.ref_message_id = x.next_id;
  hm.ev.u.message.ref_author_id = SELF;
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  fx_drain(&x);
  REQUIRE(x.r->n_sends == 2);
  CHECK_INT(x.r->sends[1].reply_to, 42);
  fx_free(&x);
}

TEST(rate_one_answers_unprompted_with_plain_messages) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  for (uint64_t i = 1; i <= 5; i++) {
    h_now += 1000;
    CHECK_OK(fx_say(&x, i, CHAN, ALICE, "anyone around", false));
    fx_drain(&x);
  }
  CHECK_INT(x.r->n_sends, 5);
  for (int i = 0; i < x.r->n_sends; i++) {
    CHECK_INT(x.r->sends[i].reply_to, 0);
    CHECK(!x.r->sends[i].ping);
  }
  fx_free(&x);
}

TEST(cooldown_is_honoured_per_channel) {
  fx x;
  fx_init(&x, NULL, "1", "20");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "first", false));
  fx_drain(&x);
  h_now += 5000;
  CHECK_OK(fx_say(&x, 2, CHAN, BOB, "second", false));
  CHECK_OK(fx_say(&x, 3, CHAN + 1, BOB, "elsewhere", false)); /* another channel: no cooldown */
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 2);
  CHECK_INT(x.r->sends[1].channel, CHAN + 1);
  h_now += 16000;
  CHECK_OK(fx_say(&x, 4, CHAN, BOB, "third", false));
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 3);
  /* A mention ignores the cooldown. */
  CHECK_OK(fx_say(&x, 5, CHAN, ALICE, "<@1000>!", true));
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 4);
  fx_free(&x);
}

TEST(own_messages_and_other_bots_are_never_answered) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, (h_user){SELF, "mimic", true}, "<@1000> talking to myself", true));
  CHECK_OK(fx_say(&x, 2, CHAN, OTHERBOT, "<@1000> beep", true));
  h_msg hm;
  h_message(&hm, 3, CHAN, GUILD, ALICE, "via webhook <@1000>");
  hm.ev.u.message.webhook_id = 77;
  h_mention(&hm, SELF);
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  h_message(&hm, 4, CHAN, GUILD, ALICE, "pinned a message");
  hm.ev.u.message.type = 6;
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  fx_drain(&x);
  CHECK_INT(x.f->submits, 0);
  CHECK_INT(x.r->n_sends, 0);
  /* They are still stored (the store keeps history; datasets filter bots later). */
  CHECK_INT(count_messages(x.s, 0), 4);
  fx_free(&x);
}

/* Two bots whose posts reach each other through the gateway fakes. */
static int two_bots_run(bool allow_each_other, int *sends_a, int *sends_b) {
  fx a, b;
  fx_init(&a, NULL, "1", "0");
  fx_init(&b, NULL, "1", "0");
  /* b is another bot user: id 2000, and its echoes carry that identity. */
  bot_destroy(b.b);
  b.b = NULL;
  b.r->self_id = 2000;
  b.r->self_name = "other";
  b.next_id = 900000;
  if (allow_each_other) {
    fx_cfg(&a, "bot.allow_bots", "2000");
    fx_cfg(&b, "bot.allow_bots", "1000");
  }
  bot_opts o = {.config = b.c,
                .db = b.s,
                .backend = &b.f->base,
                .actions = &b.act,
                .now_ms = h_clock,
                .seed = 7};
  if (bot_new(&o, &b.b) || h_ready(b.b, 2000, "other")) abort();
  bot_settings_apply(a.b);
  bot *both[2] = {a.b, b.b};
  /* A person says something both can see; then pump until quiet (bounded). */
  h_msg hm;
  h_message(&hm, 10, CHAN, GUILD, ALICE, "hello bots");
  CHECK_OK(bot_handle_event(a.b, &hm.ev));
  CHECK_OK(bot_handle_event(b.b, &hm.ev));
  int rounds = 0;
  for (; rounds < 40; rounds++) {
    h_now += 1000;
    fx_drain(&a);
    fx_drain(&b);
    int n = h_deliver_echoes(a.r, both, 2, GUILD) + h_deliver_echoes(b.r, both, 2, GUILD);
    if (n == 0 && bot_inflight(a.b) == 0 && bot_inflight(b.b) == 0) break;
  }
  *sends_a = a.r->n_sends;
  *sends_b = b.r->n_sends;
  fx_free(&a);
  fx_free(&b);
  return rounds;
}

TEST(two_bots_do_not_loop) {
  int sa = 0, sb = 0;
  int rounds = two_bots_run(false, &sa, &sb);
  CHECK(rounds < 40);
  CHECK_INT(sa, 1); /* each answers the person once, and ignores the other bot */
  CHECK_INT(sb, 1);
  /* Allowed to talk to each other, they stop after bot.bot_turns_max replies each. */
  rounds = two_bots_run(true, &sa, &sb);
  CHECK(rounds < 40);
  CHECK(sa >= 2 && sa <= 4);
  CHECK(sb >= 2 && sb <= 4);
}

TEST(model_writing_everyone_pings_nobody) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  const char *script[] = {"@everyone look <@&55> and @here too", "@everyone again"};
  fake_script(x.f, script, 2);
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> say something loud", true));
  fx_drain(&x);
  h_now += 1000;
  CHECK_OK(fx_say(&x, 2, CHAN, BOB, "unprompted", false));
  fx_drain(&x);
  REQUIRE(x.r->n_sends == 2);
  for (int i = 0; i < 2; i++) {
    CHECK(strstr(x.r->sends[i].text, "@everyone") == NULL);
    CHECK(strstr(x.r->sends[i].text, "@here") == NULL);
    CHECK(strstr(x.r->sends[i].text, "@\xE2\x80\x8B"
                                     "everyone") != NULL);
  }
  /* The mention pings only alice (replied_user); the unprompted message pings nobody. */
  CHECK(x.r->sends[0].ping);
  CHECK_INT(x.r->sends[0].reply_to, 1);
  CHECK(!x.r->sends[1].ping);
  CHECK_INT(x.r->sends[1].reply_to, 0);
  fx_free(&x);
}

TEST(one_generation_per_channel_at_a_time) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> one", true));
  CHECK_OK(fx_say(&x, 2, CHAN, BOB, "<@1000> two", true));
  CHECK_OK(fx_say(&x, 3, CHAN + 1, BOB, "<@1000> elsewhere", true));
  CHECK_INT(x.f->submits, 2); /* CHAN's second waits; CHAN+1 runs alongside */
  CHECK_INT(bot_inflight(x.b), 3);
  CHECK_INT(fake_release(x.f, 1), 1);
  bot_poll(x.b);
  CHECK_INT(x.f->submits, 3); /* the waiting one started when its channel was free */
  fx_drain(&x);
  CHECK_INT(x.f->overlaps, 0);
  CHECK_INT(x.r->n_sends, 3);
  /* Answered in order within the channel. */
  CHECK_INT(x.r->sends[0].reply_to, 1);
  int second = x.r->sends[1].channel == CHAN ? 1 : 2;
  CHECK_INT(x.r->sends[second].reply_to, 2);
  fx_free(&x);
}

TEST(overload_sheds_random_engagements_and_answers_mentions) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  fx_cfg(&x, "bot.queue_max", "2");
  bot_settings_apply(x.b);
  CHECK_OK(fx_say(&x, 1, CHAN + 1, ALICE, "random one", false));
  CHECK_OK(fx_say(&x, 2, CHAN + 2, ALICE, "random two", false));
  CHECK_INT(bot_inflight(x.b), 2);
  CHECK_OK(fx_say(&x, 3, CHAN + 3, BOB, "random three", false));
  CHECK_INT(x.f->submits, 2); /* shed: not even submitted */
  CHECK_OK(fx_say(&x, 4, CHAN + 4, BOB, "<@1000> need you", true));
  CHECK_INT(x.f->submits, 3); /* a running random one was cancelled to make room */
  CHECK_INT(bot_inflight(x.b), 2);
  /* The same message delivered twice (a gateway replay) is not answered twice. */
  CHECK_OK(fx_say(&x, 4, CHAN + 4, BOB, "<@1000> need you", true));
  CHECK_INT(x.f->submits, 3);
  fx_drain(&x);
  int mention_replies = 0, random_replies = 0;
  for (int i = 0; i < x.r->n_sends; i++) {
    if (x.r->sends[i].reply_to == 4)
      mention_replies++;
    else
      random_replies++;
  }
  CHECK_INT(mention_replies, 1);
  CHECK_INT(random_replies, 1); /* one of the two random ones survived */
  CHECK_INT(x.f->cancelled, 1);
  bot_stats st;
  CHECK_OK(bot_stats_compute(x.s, h_now, 86400000, &st));
  CHECK_INT(st.skipped, 2);
  CHECK_INT(st.replies, 2);
  CHECK_INT(st.seen, 5);
  fx_free(&x);
}

TEST(mentions_wait_when_the_engine_is_busy) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  x.f->capacity = 1;
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> a", true));
  CHECK_OK(fx_say(&x, 2, CHAN + 1, ALICE, "<@1000> b", true));
  CHECK_OK(fx_say(&x, 3, CHAN + 2, ALICE, "random", false));
  CHECK_INT(x.f->submits, 1);
  CHECK_INT(bot_inflight(x.b), 2); /* the mention waits; the random one was dropped */
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 2);
  fx_free(&x);
}

TEST(empty_generation_is_retried_once_with_another_seed) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  const char *script[] = {"<think>hmm</think>", "okay then", "", "   ", "!ERR"};
  fake_script(x.f, script, 5);
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> hi", true));
  uint64_t seed1 = x.f->last_seed;
  CHECK_INT(fake_release(x.f, 1), 1);
  bot_poll(x.b);
  CHECK_INT(x.f->submits, 2);
  CHECK(x.f->last_seed != seed1);
  fx_drain(&x);
  REQUIRE(x.r->n_sends == 1);
  CHECK_STR(x.r->sends[0].text, "okay then");
  /* Empty twice: nothing is sent. */
  CHECK_OK(fx_say(&x, 2, CHAN, ALICE, "<@1000> again", true));
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  CHECK_INT(x.f->submits, 4);
  /* A failed generation: no send, a warning reaction on the message. */
  CHECK_OK(fx_say(&x, 3, CHAN, ALICE, "<@1000> and now", true));
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  CHECK_INT(x.r->n_reacts, 1);
  bot_stats st;
  CHECK_OK(bot_stats_compute(x.s, h_now, 86400000, &st));
  CHECK_INT(st.empty, 1);
  CHECK_INT(st.errors, 1);
  CHECK_INT(st.replies, 1);
  fx_free(&x);
}

TEST(typing_is_refreshed_while_generating) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> think hard", true));
  CHECK_INT(x.r->n_typing, 1);
  h_now += 3000;
  bot_poll(x.b);
  CHECK_INT(x.r->n_typing, 1);
  h_now += BOT_TYPING_MS;
  bot_poll(x.b);
  CHECK_INT(x.r->n_typing, 2);
  h_now += BOT_TYPING_MS;
  bot_poll(x.b);
  CHECK_INT(x.r->n_typing, 3);
  fx_drain(&x);
  h_now += BOT_TYPING_MS;
  bot_poll(x.b);
  CHECK_INT(x.r->n_typing, 3); /* not after the reply */
  fx_free(&x);
}

TEST(deleted_message_is_not_answered) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> first", true));
  CHECK_OK(fx_say(&x, 2, CHAN, BOB, "<@1000> oops", true));
  discord_id ids[2] = {2, 1};
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_MESSAGE_DELETE_BULK;
  ev.u.del.channel_id = CHAN;
  ev.u.del.guild_id = GUILD;
  ev.u.del.ids = ids;
  ev.u.del.n_ids = 2;
  CHECK_OK(bot_handle_event(x.b, &ev));
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 0);
  CHECK_INT(count_messages(x.s, 0), 0);
  fx_free(&x);
}

/* The generation finished on the engine but the bot has not polled yet when the message is
 * deleted: the job is still the channel's running one, it is cancelled, and nothing is sent. */
TEST(message_deleted_between_completion_and_poll_is_not_answered) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> quick", true));
  CHECK_INT(fake_release(x.f, 1), 1); /* on_done has run; the completion waits for bot_poll */
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_MESSAGE_DELETE;
  discord_id id = 1;
  ev.u.del.channel_id = CHAN;
  ev.u.del.guild_id = GUILD;
  ev.u.del.ids = &id;
  ev.u.del.n_ids = 1;
  CHECK_OK(bot_handle_event(x.b, &ev));
  CHECK_INT((int)bot_inflight(x.b), 0);
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 0);
  fx_free(&x);
}

TEST(edits_and_reactions_are_stored) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "teh typo", false));
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_MESSAGE_UPDATE;
  ev.u.message.id = 1;
  ev.u.message.channel_id = CHAN;
  ev.u.message.content = "the typo";
  ev.u.message.has_content = true;
  ev.u.message.edited_ms = h_now + 10;
  ev.u.message.author.username = ev.u.message.author.global_name = "";
  ev.u.message.member.nick = "";
  CHECK_OK(bot_handle_event(x.b, &ev));
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_REACTION_ADD;
  ev.u.reaction.user_id = BOB.id;
  ev.u.reaction.channel_id = CHAN;
  ev.u.reaction.message_id = 1;
  ev.u.reaction.emoji.name = "\xF0\x9F\x98\x82";
  CHECK_OK(bot_handle_event(x.b, &ev));
  ev.u.reaction.message_id = 999; /* unknown message: not an error */
  CHECK_OK(bot_handle_event(x.b, &ev));
  store_msg_list l = {0};
  CHECK_OK(store_msg_get(x.s, 1, &l));
  if (l.n == 1) {
    CHECK_STR(l.items[0].content, "the typo");
    CHECK_INT(l.items[0].reaction_total, 1);
  }
  store_msg_list_free(&l);
  fx_free(&x);
}

TEST(invalid_utf8_is_not_stored_but_loses_nothing_else) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  /* The discord layer guarantees valid UTF-8; if it ever slipped, the store refuses and the bot
   * reports the event, still answering. */
  int rc = fx_say(&x, 1, CHAN, ALICE, "<@1000> bad \xC3\x28 bytes", true);
  CHECK(rc != 0);
  err_clear();
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  fx_free(&x);
}

TEST(restart_finishes_in_flight_replies_and_loses_no_message) {
  char dir[] = "/tmp/mimic-bot-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char db[128];
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  fx x;
  fx_init(&x, db, "1", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> long question", true));
  CHECK_OK(fx_say(&x, 2, CHAN, BOSS, "!restart", false));
  REQUIRE(x.r->n_sends == 1);
  CHECK(strstr(x.r->sends[0].text, "Restarting once the 1 replies") != NULL);
  CHECK_INT(x.r->restarts, 0);
  /* Messages keep arriving while it drains: stored, not answered. */
  CHECK_OK(fx_say(&x, 3, CHAN, BOB, "<@1000> are you leaving", true));
  CHECK_OK(fx_say(&x, 4, CHAN + 1, BOB, "random talk", false));
  CHECK_INT(x.f->submits, 1);
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 2); /* the in-flight reply went out */
  CHECK_INT(x.r->sends[1].reply_to, 1);
  CHECK_INT(x.r->restarts, 1);
  bot_poll(x.b);
  CHECK_INT(x.r->restarts, 1); /* asked once */
  /* A hard stop mid-generation (the runtime restarts): a new bot object on the same database. */
  bot_destroy(x.b);
  x.b = NULL;
  CHECK_OK(fx_bot(&x));
  CHECK_OK(fx_say(&x, 5, CHAN, ALICE, "<@1000> back?", true));
  CHECK_INT(bot_inflight(x.b), 1);
  bot_destroy(x.b); /* cancels the running generation and waits for it */
  x.b = NULL;
  store_close(x.s);
  CHECK_OK(store_open(db, &x.s));
  CHECK_INT(count_messages(x.s, ALICE.id), 2);
  CHECK_INT(count_messages(x.s, BOB.id), 2);
  CHECK_INT(count_messages(x.s, BOSS.id), 0); /* commands are not chat: not stored */
  CHECK_OK(fx_bot(&x));
  /* The new bot remembers the recent conversation from the store. */
  CHECK_OK(fx_say(&x, 6, CHAN, ALICE, "<@1000> still there?", true));
  CHECK(strstr(x.f->last_prompt, "user|alice|@mimic long question") != NULL);
  CHECK(strstr(x.f->last_prompt, "user|bob|@mimic are you leaving") != NULL);
  fx_free(&x);
  unlink(db);
  char side[160];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  rmdir(dir);
}

TEST(collect_only_mode_stores_without_answering) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  bot_destroy(x.b);
  bot_opts o = {.config = x.c, .db = x.s, .backend = NULL, .actions = &x.act, .now_ms = h_clock};
  CHECK_OK(bot_new(&o, &x.b));
  CHECK_OK(h_ready(x.b, SELF, "mimic"));
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> hi", true));
  CHECK_INT(x.r->n_sends, 0);
  CHECK_INT(count_messages(x.s, 0), 1);
  fx_free(&x);
}

TEST(before_ready_messages_are_stored_not_answered) {
  fx x;
  fx_init(&x, NULL, "1", "0");
  bot_destroy(x.b);
  bot_opts o = {
      .config = x.c, .db = x.s, .backend = &x.f->base, .actions = &x.act, .now_ms = h_clock};
  CHECK_OK(bot_new(&o, &x.b));
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> hi", true));
  CHECK_INT(x.f->submits, 0);
  CHECK_INT(count_messages(x.s, 0), 1);
  fx_free(&x);
}

/* A community-trained model writes as any member ("k: se woe"): the tag goes whoever it names,
 * as long as the store knows them; a word that names nobody stays. */
TEST(another_members_name_is_stripped_from_a_reply) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  store_user k = {.id = 77};
  str_lcpy(k.name, "k_account", sizeof k.name);
  str_lcpy(k.display_name, "k", sizeof k.display_name);
  CHECK_OK(store_user_upsert(x.s, &k));
  const char *script[] = {"k: se woe", "bob: **alice**: ok", "Note: not a name"};
  fake_script(x.f, script, 3);
  CHECK_OK(fx_say(&x, 1, CHAN, BOB, "morning", false));
  CHECK_OK(fx_say(&x, 2, CHAN, ALICE, "<@1000> hi", true));
  fx_drain(&x);
  CHECK_OK(fx_say(&x, 3, CHAN, ALICE, "<@1000> and?", true));
  fx_drain(&x);
  CHECK_OK(fx_say(&x, 4, CHAN, ALICE, "<@1000> so?", true));
  fx_drain(&x);
  REQUIRE(x.r->n_sends == 3);
  CHECK_STR(x.r->sends[0].text, "se woe");
  CHECK_STR(x.r->sends[1].text, "ok"); /* bob from the channel's memory, then the author */
  CHECK_STR(x.r->sends[2].text, "Note: not a name");
  fx_free(&x);
}

TEST(refused_send_is_counted_as_an_error) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  x.r->refuse_send = MIMIC_ENET;
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, "<@1000> hi", true));
  fx_drain(&x);
  bot_stats st;
  CHECK_OK(bot_stats_compute(x.s, h_now, 86400000, &st));
  CHECK_INT(st.errors, 1);
  CHECK_INT(st.replies, 0);
  fx_free(&x);
}

TEST(threads_inherit_the_channel_allow_list) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  fx_cfg(&x, "bot.channels", "100");
  bot_settings_apply(x.b);
  /* GUILD_CREATE names the channels and an active thread under #100. */
  discord_channel chans[2], threads[1];
  memset(chans, 0, sizeof chans);
  memset(threads, 0, sizeof threads);
  chans[0] =
      (discord_channel){.id = 100, .type = 0, .guild_id = GUILD, .name = "general", .topic = ""};
  chans[1] =
      (discord_channel){.id = 200, .type = 0, .guild_id = GUILD, .name = "offtopic", .topic = ""};
  threads[0] = (discord_channel){.id = 300,
                                 .type = 11,
                                 .guild_id = GUILD,
                                 .parent_id = 100,
                                 .name = "a thread",
                                 .topic = "",
                                 .is_thread = true};
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_GUILD_CREATE;
  ev.u.guild = (discord_guild){.id = GUILD,
                               .name = "guild",
                               .channels = chans,
                               .n_channels = 2,
                               .threads = threads,
                               .n_threads = 1};
  CHECK_OK(bot_handle_event(x.b, &ev));
  h_msg hm;
  h_message(&hm, 1, 300, GUILD, ALICE, "<@1000> in the thread");
  h_mention(&hm, SELF);
  hm.ev.u.message.channel_type = 11;
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  CHECK_OK(fx_say(&x, 2, 200, ALICE, "<@1000> in offtopic", true));
  fx_drain(&x);
  REQUIRE(x.r->n_sends == 1);
  CHECK_INT(x.r->sends[0].channel, 300);
  /* Channel names render in the prompt. */
  CHECK_OK(fx_say(&x, 3, 100, ALICE, "<@1000> see <#200>", true));
  CHECK(strstr(x.f->last_prompt, "see #offtopic") != NULL);
  fx_free(&x);
}

TEST(memory_forgets_after_its_ttl) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  CHECK_OK(fx_say(&x, 1, CHAN, BOB, "an old remark", false));
  h_now += 31 * 60 * 1000;
  CHECK_OK(fx_say(&x, 2, CHAN, ALICE, "<@1000> fresh question", true));
  CHECK(strstr(x.f->last_prompt, "old remark") == NULL);
  CHECK(strstr(x.f->last_prompt, "fresh question") != NULL);
  fx_drain(&x);
  /* Within the TTL the conversation is remembered, the bot's own reply as an assistant turn. */
  h_deliver_echoes(x.r, &x.b, 1, GUILD);
  h_now += 60 * 1000;
  /* (Snowflakes grow with time: the follow-up's id is above the echoed reply's.) */
  CHECK_OK(fx_say(&x, x.next_id + 10, CHAN, ALICE, "<@1000> follow-up", true));
  CHECK(strstr(x.f->last_prompt, "user|alice|@mimic fresh question\nassistant||sure thing\n") !=
        NULL);
  fx_free(&x);
}

TEST(statistics_survive_a_restart) {
  char dir[] = "/tmp/mimic-stats-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char db[128];
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  fx x;
  fx_init(&x, db, "0", "0");
  for (uint64_t i = 1; i <= 4; i++) CHECK_OK(fx_say(&x, i, CHAN, ALICE, "<@1000> q", true));
  fx_drain(&x);
  CHECK_OK(fx_say(&x, 5, CHAN, BOB, "just talk", false));
  bot_destroy(x.b);
  store_close(x.s);
  CHECK_OK(store_open(db, &x.s));
  CHECK_OK(fx_bot(&x));
  bot_stats st;
  CHECK_OK(bot_stats_compute(x.s, h_now, 86400000, &st));
  CHECK_INT(st.seen, 5);
  CHECK_INT(st.replies, 4);
  CHECK_NEAR(st.rate, 0.8, 1e-9);
  CHECK(st.p50_ms > 0 && st.p50_ms <= st.p95_ms && st.p95_ms <= st.p99_ms);
  CHECK_INT(st.gen_tokens, 4 * 3); /* the fake reports len/4 + 1 tokens for "sure thing" */
  /* Outside the window: nothing. */
  CHECK_OK(bot_stats_compute(x.s, h_now + 3LL * 86400000, 86400000, &st));
  CHECK_INT(st.seen, 0);
  CHECK_INT(st.replies, 0);
  fx_free(&x);
  char side[160];
  unlink(db);
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  rmdir(dir);
}

TEST(huge_message_is_remembered_cut_not_lost) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  size_t n = 100000;
  char *big = xalloc(n + 16);
  memcpy(big, "<@1000> ", 8);
  memset(big + 8, 'a', n - 8);
  big[n] = 0;
  CHECK_OK(fx_say(&x, 1, CHAN, ALICE, big, true));
  CHECK_INT(x.f->submits, 1);
  CHECK(strstr(x.f->last_prompt, "user|alice|@mimic aaaaaaaa") != NULL);
  fx_drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  store_msg_list l = {0};
  CHECK_OK(store_msg_get(x.s, 1, &l));
  if (l.n == 1) CHECK_INT(strlen(l.items[0].content), n); /* the store keeps it exactly */
  store_msg_list_free(&l);
  mem_free(big);
  fx_free(&x);
}

/* The stored display name follows the Discord layer's rule (discord_display_name): the server
 * nickname, else the global name, else none. */
TEST(stored_display_name_is_nickname_then_global_name) {
  fx x;
  fx_init(&x, NULL, "0", "0");
  h_msg hm;
  h_message(&hm, 801, CHAN, GUILD, ALICE, "hi");
  hm.ev.u.message.author.global_name = "Alice G";
  hm.ev.u.message.has_member = true;
  hm.ev.u.message.member.nick = "Ally";
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  store_user u;
  CHECK_OK(store_user_get(x.s, ALICE.id, &u));
  CHECK_STR(u.display_name, "Ally");
  hm.ev.u.message.id = 802;
  hm.ev.u.message.member.nick = "";
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  CHECK_OK(store_user_get(x.s, ALICE.id, &u));
  CHECK_STR(u.display_name, "Alice G");
  h_message(&hm, 803, CHAN, GUILD, BOB, "yo");
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  CHECK_OK(store_user_get(x.s, BOB.id, &u));
  CHECK_STR(u.display_name, "");
  CHECK_STR(u.name, "bob");
  fx_free(&x);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(mention_gets_a_reply_that_pings_only_the_author);
  RUN(rate_zero_is_silent_except_on_mention_and_reply);
  RUN(rate_one_answers_unprompted_with_plain_messages);
  RUN(cooldown_is_honoured_per_channel);
  RUN(own_messages_and_other_bots_are_never_answered);
  RUN(two_bots_do_not_loop);
  RUN(model_writing_everyone_pings_nobody);
  RUN(one_generation_per_channel_at_a_time);
  RUN(overload_sheds_random_engagements_and_answers_mentions);
  RUN(mentions_wait_when_the_engine_is_busy);
  RUN(empty_generation_is_retried_once_with_another_seed);
  RUN(typing_is_refreshed_while_generating);
  RUN(deleted_message_is_not_answered);
  RUN(message_deleted_between_completion_and_poll_is_not_answered);
  RUN(edits_and_reactions_are_stored);
  RUN(invalid_utf8_is_not_stored_but_loses_nothing_else);
  RUN(restart_finishes_in_flight_replies_and_loses_no_message);
  RUN(collect_only_mode_stores_without_answering);
  RUN(before_ready_messages_are_stored_not_answered);
  RUN(another_members_name_is_stripped_from_a_reply);
  RUN(refused_send_is_counted_as_an_error);
  RUN(threads_inherit_the_channel_allow_list);
  RUN(memory_forgets_after_its_ttl);
  RUN(statistics_survive_a_restart);
  RUN(huge_message_is_remembered_cut_not_lost);
  RUN(stored_display_name_is_nickname_then_global_name);
  TEST_MAIN_END();
}
