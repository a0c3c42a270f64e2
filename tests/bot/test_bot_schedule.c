/* Tests for scheduled posts in the bot: jobs fired by bot_poll on the fake clock, each kind's post
 * through the same generation path as replies (recorded by the fake actions), and the guild's
 * good-neighbour switches holding: off until turned on, the channel allow-list, quiet hours (an
 * admin's !drop passes them), the daily cap, never after our own message; lore-only kinds writing
 * the lore store (drafts waiting for !drafts approve); persona conversations; random engagement
 * silent in quiet hours while mentions are answered. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_fixture.h"
#include "lore/lore.h"
#include "store/lore.h"
#include "store/games.h"
#include "store/media.h"
#include "store/scenario.h"
#include "store/persona.h"
#include "store/schedule.h"
#include "store/store.h"
#include "test.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100
#define ADMIN 9

/* 2026-06-15T12:00:00Z, a Monday */
#define NOON_MS 1781524800000LL

static const h_user ALICE = {11, "alice", false};
static const h_user BOSS = {ADMIN, "boss", false};

typedef h_fx fx;

static void fx_cfg(fx *x, const char *k, const char *v) { h_fx_cfg(x, k, v); }

static int64_t add_persona(fx *x, const char *name) {
  store_persona p;
  store_persona_init(&p);
  p.name = xstrdup(name);
  p.description = xstrdup("{{char}} is a character from a film.");
  if (store_persona_add(x->s, &p)) abort();
  int64_t id = p.id;
  store_persona_free(&p);
  return id;
}

static void fx_init(fx *x, bool personas) {
  h_now = NOON_MS;
  h_fx_init(x, NULL, true);
  fx_cfg(x, "bot.admins", "9");
  if (personas) {
    add_persona(x, "Glordon");
    add_persona(x, "Elio");
  }
  x->next_id = 50000;
  h_fx_bot(x, (bot_opts){.seed = 7});
}

static void fx_free(fx *x) { h_fx_free(x); }

/* Polls until nothing is in flight (the fake engine answers on its own thread). */
static void fx_drain(fx *x) {
  for (int i = 0; i < 20000; i++) {
    bot_poll(x->b);
    if (bot_inflight(x->b) == 0) return;
    usleep(100);
  }
}

static void say_in(fx *x, h_user who, const char *text) {
  h_msg hm;
  h_message(&hm, ++x->next_id, CHAN, GUILD, who, text);
  if (bot_handle_event(x->b, &hm.ev)) printf("  event: %s\n", err_msg());
  fx_drain(x);
}

/* The last thing the bot said in the channel (command answers and posts alike). */
static const char *last_sent(fx *x) {
  return x->r->n_sends ? x->r->sends[x->r->n_sends - 1].text : "";
}

static void add_job(fx *x, const char *name, const char *kind, const char *expr,
                    const char *params) {
  store_sched_job j;
  memset(&j, 0, sizeof j);
  str_lcpy(j.name, name, sizeof j.name);
  str_lcpy(j.kind, kind, sizeof j.kind);
  str_lcpy(j.expr, expr, sizeof j.expr);
  str_lcpy(j.tz, "UTC", sizeof j.tz);
  str_lcpy(j.params, params ? params : "{}", sizeof j.params);
  j.guild_id = GUILD;
  j.channel_id = CHAN;
  j.enabled = true;
  if (store_sched_add(x->s, &j)) {
    printf("add job: %s\n", err_msg());
    abort();
  }
}

typedef struct last {
  char status[16], detail[256];
  int n;
} last;

static int take_last(const store_sched_run *r, void *u) {
  last *l = u;
  if (l->n++ == 0) {
    str_lcpy(l->status, r->status, sizeof l->status);
    str_lcpy(l->detail, r->detail, sizeof l->detail);
  }
  return 0;
}

static last runs_of(fx *x, const char *name) {
  last l = {0};
  store_sched_job j;
  if (store_sched_get(x->s, name, &j) || store_sched_runs(x->s, j.id, 100, take_last, &l))
    err_clear();
  return l;
}

/* Moves the clock by ms and lets the bot tick and finish what it started. */
static void advance(fx *x, int64_t ms) {
  h_now += ms;
  bot_poll(x->b);
  fx_drain(x);
}

static void turn_on(fx *x) {
  say_in(x, BOSS, "!config-proactive on");
  CHECK(strstr(last_sent(x), "Scheduled posts are on") != NULL);
  say_in(x, BOSS, "!config-proactive channel add here");
  CHECK(strstr(last_sent(x), "may go to") != NULL);
  say_in(x, BOSS, "!config-proactive quiet off");
  CHECK(strstr(last_sent(x), "proactive.quiet_hours = off") != NULL);
}

TEST(off_until_the_guild_turns_it_on_then_posts) {
  fx x;
  fx_init(&x, false);
  say_in(&x, ALICE, "we watched the eclipse from the roof");
  add_job(&x, "memes", "meme_drop", "0 * * * *", NULL);
  advance(&x, 1000); /* the job's first instant is computed: 13:00 */
  advance(&x, 3600000);
  last l = runs_of(&x, "memes");
  CHECK_INT(l.n, 1);
  CHECK_STR(l.status, "skipped");
  CHECK(strstr(l.detail, "off in this server") != NULL);
  int sends = x.r->n_sends;

  turn_on(&x);
  sends = x.r->n_sends;
  const char *script[] = {"the eclipse saw us first"};
  fake_script(x.f, script, 1);
  advance(&x, 3600000);
  l = runs_of(&x, "memes");
  CHECK_INT(l.n, 2);
  CHECK_STR(l.status, "ok");
  CHECK(strstr(l.detail, "queued meme_drop") != NULL);
  CHECK_INT(x.r->n_sends, sends + 1);
  CHECK_STR(last_sent(&x), "the eclipse saw us first");
  CHECK_INT((int64_t)x.r->sends[x.r->n_sends - 1].reply_to, 0); /* a post, not a reply */
  CHECK(strstr(x.f->last_prompt, "joke") != NULL);
  CHECK(strstr(x.f->last_prompt, "eclipse") != NULL); /* the channel's talk as context */
  /* An hour later the last message is still ours (its echo arrives): not twice in a row. */
  h_deliver_echoes(x.r, &x.b, 1, GUILD);
  advance(&x, 3600000);
  l = runs_of(&x, "memes");
  CHECK_STR(l.status, "skipped");
  CHECK(strstr(l.detail, "the bot's own") != NULL);
  CHECK_INT(x.r->n_sends, sends + 1);
  fx_free(&x);
}

TEST(channel_list_quiet_hours_cap_and_drop) {
  fx x;
  fx_init(&x, false);
  say_in(&x, ALICE, "morning all");
  add_job(&x, "memes", "meme_drop", "0 * * * *", NULL);
  say_in(&x, BOSS, "!config-proactive on");
  advance(&x, 1000);
  /* on, but the channel is not on the allow-list */
  advance(&x, 3600000);
  CHECK(strstr(runs_of(&x, "memes").detail, "allow-list") != NULL);
  say_in(&x, BOSS, "!config-proactive channel add <#100>");
  /* quiet all day long */
  say_in(&x, BOSS, "!config-proactive quiet 00:00-23:59");
  say_in(&x, ALICE, "anyone around?");
  int sends = x.r->n_sends;
  advance(&x, 3600000);
  last l = runs_of(&x, "memes");
  CHECK_STR(l.status, "skipped");
  CHECK(strstr(l.detail, "quiet hours") != NULL);
  CHECK_INT(x.r->n_sends, sends);
  /* an admin's drop goes through quiet hours */
  say_in(&x, BOSS, "!drop meme_drop");
  /* the answer, then the post once generated */
  CHECK(strstr(x.r->sends[x.r->n_sends - 2].text, "memes: ok: queued meme_drop") != NULL);
  CHECK_INT(x.r->n_sends, sends + 2); /* the post, then the answer */
  /* bad values are refused with the key's own words */
  say_in(&x, BOSS, "!config-proactive quiet 25:00-26:00");
  CHECK(strstr(last_sent(&x), "quiet") != NULL);
  say_in(&x, BOSS, "!config-proactive tz Mars/Olympus");
  CHECK(strstr(last_sent(&x), "Mars/Olympus") != NULL);
  say_in(&x, BOSS, "!config proactive.daily_cap 1");
  CHECK(strstr(last_sent(&x), "proactive.daily_cap = 1") != NULL);
  say_in(&x, BOSS, "!config-proactive quiet off");
  say_in(&x, ALICE, "back again");
  /* the drop counted today: the cap of 1 is reached */
  sends = x.r->n_sends;
  advance(&x, 3600000);
  l = runs_of(&x, "memes");
  CHECK_STR(l.status, "skipped");
  CHECK(strstr(l.detail, "daily cap") != NULL);
  CHECK_INT(x.r->n_sends, sends);
  /* non-admins are ignored */
  say_in(&x, ALICE, "!config-proactive off");
  CHECK_INT(x.r->n_sends, sends);
  fx_free(&x);
}

typedef struct found {
  char scope[64];
  int n;
  int64_t id;
} found;

static int find_scope(const store_lore_source *src, void *u) {
  found *f = u;
  if (strcmp(src->scope, f->scope) == 0) f->n++, f->id = src->id;
  return 0;
}

static int count_in(fx *x, const char *scope, int64_t *id) {
  found f = {0};
  str_lcpy(f.scope, scope, sizeof f.scope);
  if (store_lore_source_each(x->s, find_scope, &f)) err_clear();
  if (id) *id = f.id;
  return f.n;
}

TEST(lore_kinds_write_lore_and_drafts_wait_for_approval) {
  fx x;
  fx_init(&x, false);
  say_in(&x, ALICE, "the lighthouse keeper waved again");
  turn_on(&x);
  add_job(&x, "world", "world_builder", "0 * * * *", NULL);
  add_job(&x, "drafts", "content_expansion", "30 * * * *", NULL);
  advance(&x, 1000);
  const char *script[] = {"The Waving Keeper\nA running joke: the keeper waves at everyone.",
                          "The Old Lighthouse\nIts keeper waves at every ship."};
  fake_script(x.f, script, 2);
  int sends = x.r->n_sends;
  advance(&x, 1800000);           /* 12:30: the draft */
  advance(&x, 1800000);           /* 13:00: the world entry */
  CHECK_INT(x.r->n_sends, sends); /* nothing posted in the channel */
  CHECK_STR(runs_of(&x, "world").status, "ok");
  CHECK_INT(count_in(&x, "guild:1", NULL), 1);
  int64_t draft = 0;
  CHECK_INT(count_in(&x, "draft:guild:1", &draft), 1);
  /* the guild's lore knows the lighthouse; the draft is not read by the bot yet */
  say_in(&x, BOSS, "!drafts");
  CHECK(strstr(last_sent(&x), "Lore drafts waiting") != NULL);
  CHECK(strstr(last_sent(&x), "running joke") != NULL);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "!drafts approve %lld", (long long)draft);
  say_in(&x, BOSS, cmd);
  CHECK(strstr(last_sent(&x), "approved") != NULL);
  CHECK_INT(count_in(&x, "draft:guild:1", NULL), 0);
  CHECK_INT(count_in(&x, "guild:1", NULL), 2);
  say_in(&x, BOSS, cmd);
  CHECK(strstr(last_sent(&x), "No lore draft") != NULL);
  fx_free(&x);
}

TEST(persona_chat_and_digest) {
  fx x;
  fx_init(&x, true);
  /* yesterday's talk for the digest */
  h_now = NOON_MS - 86400000;
  say_in(&x, ALICE, "the bake sale raised forty pounds");
  h_now = NOON_MS;
  say_in(&x, ALICE, "today is quieter");
  turn_on(&x);
  add_job(&x, "chat", "persona_chat", "0 * * * *", "{\"persona\":\"Glordon\",\"with\":\"Elio\"}");
  add_job(&x, "digest", "daily_digest", "30 * * * *", NULL);
  advance(&x, 1000);
  const char *script[] = {"Yesterday: a bake sale!", "Elio, what do you make of all this?"};
  fake_script(x.f, script, 2);
  int sends = x.r->n_sends, posts = x.r->n_personas;
  advance(&x, 1800000);
  CHECK_STR(runs_of(&x, "digest").status, "ok");
  CHECK_INT(x.r->n_sends, sends + 1);
  CHECK(strstr(x.f->last_prompt, "bake sale raised forty pounds") != NULL);
  CHECK(strstr(x.f->last_prompt, "today is quieter") == NULL); /* yesterday only */
  h_deliver_echoes(x.r, &x.b, 1, GUILD);
  say_in(&x, ALICE, "hi all");
  advance(&x, 1800000);
  last l = runs_of(&x, "chat");
  CHECK_STR(l.status, "ok");
  if (strcmp(l.status, "ok")) printf("  chat: %s\n", l.detail);
  REQUIRE(x.r->n_personas == posts + 1);
  CHECK_STR(x.r->personas[x.r->n_personas - 1].username, "Glordon");
  CHECK(strstr(x.f->last_prompt, "conversation with Elio") != NULL);
  fx_free(&x);
}

TEST(random_engagement_waits_in_quiet_hours) {
  fx x;
  fx_init(&x, false);
  say_in(&x, BOSS, "!setrate 1");
  say_in(&x, BOSS, "!config-proactive on");
  say_in(&x, BOSS, "!config-proactive quiet 00:00-23:59");
  int submits = x.f->submits;
  say_in(&x, ALICE, "just chatting");
  CHECK_INT(x.f->submits, submits); /* quiet: not joining in */
  h_msg hm;
  h_message(&hm, ++x.next_id, CHAN, GUILD, ALICE, "<@1000> are you there?");
  h_mention(&hm, SELF);
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  fx_drain(&x);
  CHECK_INT(x.f->submits, submits + 1); /* a mention is always answered */
  say_in(&x, BOSS, "!config-proactive quiet off");
  submits = x.f->submits;
  say_in(&x, ALICE, "chatting again");
  CHECK_INT(x.f->submits, submits + 1);
  fx_free(&x);
}

TEST(schedule_commands) {
  fx x;
  fx_init(&x, false);
  say_in(&x, BOSS, "!schedule kinds");
  CHECK(strstr(last_sent(&x), "daily_digest") != NULL);
  say_in(&x, BOSS, "!schedule seed");
  CHECK(strstr(last_sent(&x), "11 jobs added") != NULL);
  CHECK(strstr(last_sent(&x), "turn them on") != NULL);
  say_in(&x, BOSS, "!schedule seed"); /* again: nothing new */
  CHECK(strstr(last_sent(&x), "0 jobs added") != NULL);
  say_in(&x, BOSS, "!schedule add meme_drop here */30 * * * *");
  CHECK(strstr(last_sent(&x), "Could not add") != NULL); /* meme_drop-100 exists */
  say_in(&x, BOSS, "!schedule remove meme_drop-100");
  CHECK(strstr(last_sent(&x), "Removed meme_drop-100") != NULL);
  say_in(&x, BOSS, "!schedule add meme_drop here */30 * * * *");
  CHECK(strstr(last_sent(&x), "1 job added") != NULL);
  store_sched_job j;
  CHECK_OK(store_sched_get(x.s, "meme_drop-100", &j));
  CHECK_STR(j.expr, "*/30 * * * *");
  say_in(&x, BOSS, "!schedule add nonsense");
  CHECK(strstr(last_sent(&x), "Usage") != NULL);
  say_in(&x, BOSS, "!schedule add meme_drop here 61 * * * *");
  CHECK(strstr(last_sent(&x), "61") != NULL); /* the expression's error */
  say_in(&x, BOSS, "!schedule list");
  CHECK(strstr(last_sent(&x), "story_weave-100") != NULL);
  fx_free(&x);
}

typedef struct texts {
  char all[2048];
} texts;

static int cat_text(const store_lore_chunk *c, void *u) {
  texts *t = u;
  size_t n = strlen(t->all);
  snprintf(t->all + n, sizeof t->all - n, "%s\n", c->text);
  return 0;
}

TEST(media_sweep_moves_new_descriptions_into_the_lore_once) {
  fx x;
  fx_init(&x, false);
  turn_on(&x);
  say_in(&x, ALICE, "look at this");
  uint64_t shown = x.next_id;
  store_media m = {.attachment_id = 777, .message_id = shown, .created_ms = h_now};
  str_lcpy(m.description, "a cat asleep on a piano", sizeof m.description);
  str_lcpy(m.model, "smolvlm", sizeof m.model);
  CHECK_OK(store_media_put(x.s, &m));
  add_job(&x, "sweep", "media_sweep", "0 * * * *", NULL);
  advance(&x, 1000);
  advance(&x, 3600000);
  last l = runs_of(&x, "sweep");
  CHECK_STR(l.status, "ok");
  CHECK(strstr(l.detail, "1 image description swept") != NULL);
  int64_t src = 0;
  CHECK_INT(count_in(&x, "guild:1", &src), 1);
  texts t = {{0}};
  CHECK_OK(store_lore_chunks_of(x.s, src, cat_text, &t));
  CHECK(strstr(t.all, "a cat asleep on a piano") != NULL);
  /* nothing new: nothing added */
  advance(&x, 3600000);
  l = runs_of(&x, "sweep");
  CHECK_STR(l.status, "skipped");
  CHECK_INT(count_in(&x, "guild:1", NULL), 1);
  fx_free(&x);
}

TEST(auto_scenario_then_its_reveal_and_auto_minigame) {
  fx x;
  fx_init(&x, true);
  turn_on(&x);
  say_in(&x, ALICE, "the dragon stole the cheese again");
  add_job(&x, "scene", "auto_scenario", "0 * * * *", "{\"persona\":\"Glordon\",\"with\":\"Elio\"}");
  add_job(&x, "reveal", "scenario_reveal", "* * * * *", "{\"minutes\":30}");
  advance(&x, 1000);
  const char *script[] = {"Who took my cheese?"};
  fake_script(x.f, script, 1);
  int posts = x.r->n_personas;
  advance(&x, 3600000); /* 13:00: the scene starts; the reveal finds it young */
  last l = runs_of(&x, "scene");
  CHECK_STR(l.status, "ok");
  CHECK(strstr(l.detail, "queued auto_scenario with Glordon and Elio") != NULL);
  store_scene sc;
  CHECK_OK(store_scene_get(x.s, CHAN, &sc));
  CHECK(strstr(sc.premise, "dragon stole the cheese") != NULL);
  CHECK_INT(x.r->n_personas, posts + 1); /* the first line, as Glordon */
  CHECK_STR(x.r->personas[x.r->n_personas - 1].username, "Glordon");
  advance(&x, 60000);
  CHECK(strstr(runs_of(&x, "reveal").detail, "time left") != NULL);
  advance(&x, 30 * 60000); /* its 30 minutes are up */
  l = runs_of(&x, "reveal");
  CHECK_STR(l.status, "ok");
  CHECK(strstr(l.detail, "the scene's end") != NULL);
  CHECK(store_scene_get(x.s, CHAN, &sc) == MIMIC_ENOTFOUND);
  err_clear();
  advance(&x, 60000);
  CHECK(strstr(runs_of(&x, "reveal").detail, "no scene here") != NULL);

  /* a trivia round from the bank; a second one while it runs starts nothing */
  char bank[] = "/tmp/mimic_sched_bank_XXXXXX";
  int fd = mkstemp(bank);
  REQUIRE(fd >= 0);
  const char *q = "What is the capital of France? | Paris | | the city of light\n";
  CHECK(write(fd, q, strlen(q)) == (ssize_t)strlen(q));
  close(fd);
  fx_cfg(&x, "games.trivia_bank", bank);
  add_job(&x, "quiz", "auto_minigame", "*/5 * * * *", NULL);
  advance(&x, 1000);
  say_in(&x, ALICE, "anyone up for a game?");
  advance(&x, 5 * 60000);
  l = runs_of(&x, "quiz");
  CHECK_STR(l.status, "ok");
  store_game g;
  CHECK_OK(store_game_running(x.s, CHAN, &g));
  CHECK(strstr(last_sent(&x), "capital of France") != NULL);
  say_in(&x, ALICE, "more!");
  int sends = x.r->n_sends;
  advance(&x, 5 * 60000);
  l = runs_of(&x, "quiz");
  CHECK_STR(l.status, "skipped");
  CHECK_INT(x.r->n_sends >= sends, 1);
  unlink(bank);
  fx_free(&x);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  RUN(off_until_the_guild_turns_it_on_then_posts);
  RUN(channel_list_quiet_hours_cap_and_drop);
  RUN(lore_kinds_write_lore_and_drafts_wait_for_approval);
  RUN(persona_chat_and_digest);
  RUN(random_engagement_waits_in_quiet_hours);
  RUN(schedule_commands);
  RUN(auto_scenario_then_its_reveal_and_auto_minigame);
  RUN(media_sweep_moves_new_descriptions_into_the_lore_once);
  TEST_MAIN_END();
}
