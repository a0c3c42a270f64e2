/* Tests for the mini-games through the bot, with the fake engine and the recording actions: a
 * trivia round from lore with three players racing (one winner, points once), bank questions with
 * hints and a timeout, a game that goes on after a restart without paying twice, a story narrated
 * by a persona whose vote buttons still work after the process is killed (state from the store),
 * a DM story with the reader's own move, and the points commands (admin grants audited, others
 * refused), leaderboards and profiles. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_fixture.h"
#include "discord/commands.h"
#include "store/games.h"
#include "store/lore.h"
#include "store/persona.h"
#include "store/points.h"
#include "store/store.h"
#include "test.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100
#define DMCH  500

static const h_user ALICE = {11, "alice", false};
static const h_user BOB = {12, "bob", false};
static const h_user CAROL = {13, "carol", false};
static const h_user BOSS = {9, "boss", false};

typedef h_fx fx;

/* The question bank's file, in the fixture's folder. */
static char bank_path[160];

static void fx_cfg(fx *x, const char *key, const char *val) { h_fx_cfg(x, key, val); }

static void fx_open_bot(fx *x) { h_fx_bot(x, (bot_opts){.seed = 5}); }

/* A bot on a database file in a fresh folder (so it can be "killed" and started again). */
static void fx_init(fx *x) {
  h_fx_init(x, "", false);
  snprintf(bank_path, sizeof bank_path, "%s/bank.txt", x->dir);
  fx_cfg(x, "bot.admins", "9");
  fx_cfg(x, "games.rounds", "1");
  fx_open_bot(x);
}

/* The process dies: the bot goes (its generations cancelled), the store is closed; a new bot
 * opens the same database. */
static void fx_restart(fx *x) { h_fx_restart(x, (bot_opts){.seed = 5}); }

static void fx_free(fx *x) {
  unlink(bank_path);
  h_fx_free(x);
}

static uint64_t next_id = 1;

static void say_in(fx *x, uint64_t channel, uint64_t guild, h_user who, const char *text) {
  h_msg hm;
  h_message(&hm, next_id++, channel, guild, who, text);
  if (bot_handle_event(x->b, &hm.ev)) {
    printf("  event: %s\n", err_msg());
    err_clear();
  }
}

static void say(fx *x, h_user who, const char *text) { say_in(x, CHAN, GUILD, who, text); }

static void poll_now(fx *x) {
  h_now += 1500; /* past the games' check interval */
  bot_poll(x->b);
}

/* Releases n held generations and lets the bot take them. */
static void release(fx *x, int n) {
  fake_release(x->f, n);
  poll_now(x);
}

static void click_in(fx *x, uint64_t channel, uint64_t guild, h_user who, const char *custom_id) {
  discord_event ev;
  memset(&ev, 0, sizeof ev);
  ev.type = DISCORD_EV_INTERACTION_CREATE;
  discord_interaction *in = &ev.u.interaction;
  in->id = next_id++;
  in->application_id = 77;
  in->type = 3;
  in->token = "interaction-token";
  in->guild_id = guild;
  in->channel_id = channel;
  in->user.id = who.id;
  in->user.username = who.name;
  in->user.global_name = "";
  in->user.discriminator = "0";
  in->user.avatar = "";
  in->custom_id = custom_id;
  in->component_type = 2;
  if (bot_handle_event(x->b, &ev)) {
    printf("  click: %s\n", err_msg());
    err_clear();
  }
}

static void click(fx *x, h_user who, const char *custom_id) {
  click_in(x, CHAN, GUILD, who, custom_id);
}

/* A scripted INTERACTION_CREATE (parsed as the gateway parses it): type 3 (a click on message
 * message_id, whose rows are rows_json, "" for none) or 5 (a form submitted); data is the data
 * object. */
static void interact_in(fx *x, int type, uint64_t channel, uint64_t guild, h_user who,
                        uint64_t message_id, const char *rows_json, const char *data) {
  char j[8192], where[160], msg[3000] = "";
  uint64_t id = next_id++;
  if (guild)
    snprintf(where, sizeof where,
             "\"guild_id\":\"%" PRIu64 "\",\"member\":{\"user\":{\"id\":\"%" PRIu64
             "\",\"username\":\"%s\"},\"permissions\":\"0\"}",
             guild, who.id, who.name);
  else
    snprintf(where, sizeof where, "\"user\":{\"id\":\"%" PRIu64 "\",\"username\":\"%s\"}", who.id,
             who.name);
  if (message_id)
    snprintf(msg, sizeof msg, "\"message\":{\"id\":\"%" PRIu64 "\",\"components\":[%s]},",
             message_id, rows_json);
  snprintf(j, sizeof j,
           "{\"id\":\"%" PRIu64 "\",\"application_id\":\"77\",\"type\":%d,\"token\":\"tok%" PRIu64
           "\",\"channel_id\":\"%" PRIu64 "\",%s,%s\"data\":%s}",
           id, type, id, channel, where, msg, data);
  discord_event *ev = NULL;
  if (discord_interaction_parse(j, strlen(j), &ev)) {
    printf("  parse: %s\n", err_msg());
    abort();
  }
  if (bot_handle_event(x->b, ev)) {
    printf("  interaction: %s\n", err_msg());
    err_clear();
  }
  discord_event_free(ev);
}

/* A row of buttons as Discord sends a message's components: ids[i] labelled labels[i]. */
static void row_json(char *out, size_t cap, const char *const *ids, const char *const *labels,
                     int n) {
  int o = snprintf(out, cap, "{\"type\":1,\"components\":[");
  for (int i = 0; i < n; i++)
    o += snprintf(out + o, cap - (size_t)o,
                  "%s{\"type\":2,\"style\":1,\"custom_id\":\"%s\",\"label\":\"%s\"}", i ? "," : "",
                  ids[i], labels[i]);
  snprintf(out + o, cap - (size_t)o, "]}");
}

static void press(fx *x, h_user who, uint64_t message_id, const char *rows, const char *custom_id) {
  char data[200];
  snprintf(data, sizeof data, "{\"custom_id\":\"%s\",\"component_type\":2}", custom_id);
  interact_in(x, 3, CHAN, GUILD, who, message_id, rows, data);
}

static void submit_move(fx *x, uint64_t channel, uint64_t guild, h_user who, const char *form,
                        const char *move) {
  char data[600];
  snprintf(data, sizeof data,
           "{\"custom_id\":\"%s\",\"components\":[{\"type\":1,\"components\":[{\"type\":4,"
           "\"custom_id\":\"move\",\"value\":\"%s\"}]}]}",
           form, move);
  interact_in(x, 5, channel, guild, who, 0, "", data);
}

static const rec_response *last_resp(const fx *x) {
  static const rec_response none = {0};
  return x->r->n_responses ? &x->r->responses[x->r->n_responses - 1] : &none;
}

static int64_t points_of(fx *x, uint64_t guild, uint64_t user) {
  int64_t v = -1;
  if (store_points_balance(x->s, guild, user, 0, 0, &v)) abort();
  return v;
}

/* How many sends contain s. */
static int sent_with(const fx *x, const char *s) {
  int n = 0;
  for (int i = 0; i < x->r->n_sends; i++)
    if (strstr(x->r->sends[i].text, s)) n++;
  return n;
}

/* How many persona posts contain s; the index of the last one in *at. */
static int persona_with(const fx *x, const char *s, int *at) {
  int n = 0;
  for (int i = 0; i < x->r->n_personas; i++)
    if (strstr(x->r->personas[i].text, s)) {
      n++;
      if (at) *at = i;
    }
  return n;
}

static const char *last_text(const fx *x) {
  return x->r->n_sends ? x->r->sends[x->r->n_sends - 1].text : "";
}

static void add_lore(fx *x, const char *title, const char *text) {
  int64_t src, id;
  store_lore_chunk c = {.scope = "", .title = title, .text = text, .enabled = true};
  if (store_lore_source_put(x->s, title, "", "text", "h", (int64_t)strlen(text), &src) ||
      store_lore_chunk_add(x->s, src, &c, &id) || store_lore_source_set_chunks(x->s, src, 1))
    abort();
}

static void write_bank(fx *x, const char *text) {
  FILE *f = fopen(bank_path, "w");
  if (!f) abort();
  fputs(text, f);
  fclose(f);
  fx_cfg(x, "games.trivia_bank", bank_path);
}

static char logged[16384];
static void sink(log_level lv, const char *line, void *u) {
  (void)lv, (void)u;
  size_t n = strlen(logged);
  snprintf(logged + n, sizeof logged - n, "%s\n", line);
}

TEST(trivia_from_lore_three_players_race_one_winner_points_once) {
  fx x;
  fx_init(&x);
  add_lore(&x, "Valdris",
           "The city of Valdris was founded by Queen Aurelia in the year 312, beside the river "
           "Sel, and its walls were raised by the masons of the north.");
  const char *script[] = {"{\"question\": \"Who founded the city of Valdris?\", \"answer\": "
                          "\"Queen Aurelia\", \"aliases\": [\"Aurelia\"], \"hint\": \"a "
                          "ruler\"}"};
  fake_script(x.f, script, 1);
  say(&x, ALICE, "!game trivia");
  CHECK(strstr(last_text(&x), "Trivia") != NULL);
  CHECK_INT(x.f->submits, 1);
  CHECK(strstr(x.f->last_prompt, "founded by Queen Aurelia") != NULL); /* the passage is given */
  release(&x, 1);
  CHECK(strstr(last_text(&x), "Who founded the city of Valdris?") != NULL);
  CHECK_INT(x.r->sends[x.r->n_sends - 1].x.n_items, 1);
  CHECK_STR(x.r->sends[x.r->n_sends - 1].x.first_label, "Hint");
  int reacts = x.r->n_reacts;
  say(&x, BOB, "king bob"); /* wrong: a cross, and Bob's try is spent */
  CHECK_INT(x.r->n_reacts, reacts + 1);
  say(&x, ALICE, "queen aurellia"); /* right, with a typo: first right answer wins */
  say(&x, CAROL, "Aurelia");        /* right, too late */
  say(&x, BOB, "Queen Aurelia");    /* right, but Bob had his try */
  CHECK_INT(sent_with(&x, "got it"), 1);
  CHECK(sent_with(&x, "<@11> got it: **Queen Aurelia** (+10 points)") == 1);
  CHECK_INT(points_of(&x, GUILD, ALICE.id), 10);
  CHECK_INT(points_of(&x, GUILD, BOB.id), 0);
  CHECK_INT(points_of(&x, GUILD, CAROL.id), 0);
  CHECK_INT(sent_with(&x, "is over"), 1); /* one round: the game ends */
  /* the answers were game moves, not chat: no reply was generated for them */
  CHECK_INT(x.f->submits, 1);
  store_points_row rows[4];
  size_t n;
  CHECK_OK(store_points_top(x.s, GUILD, 0, 0, rows, 4, &n));
  CHECK_INT(n, 1);
  /* the leaderboard and the profile say so */
  say(&x, BOB, "!leaderboard");
  CHECK(strstr(last_text(&x), "1. <@11> — 10 points (1 win)") != NULL);
  say(&x, ALICE, "!profile");
  CHECK(strstr(last_text(&x), "points: 10") != NULL);
  CHECK(strstr(last_text(&x), "#1") != NULL);
  CHECK(strstr(last_text(&x), "games played: 1, questions won: 1") != NULL);
  fx_free(&x);
}

TEST(a_made_up_answer_is_refused_and_another_try_is_made) {
  fx x;
  fx_init(&x);
  add_lore(&x, "Sel",
           "The river Sel runs from the Grey Peaks to the Amber Sea through Valdris, and boats "
           "carry salt down it every spring.");
  const char *script[] = {
      "{\"question\": \"Where does the Sel end?\", \"answer\": \"the Western Ocean\"}",
      "{\"question\": \"Into which sea does the river Sel flow?\", \"answer\": \"the Amber "
      "Sea\"}"};
  fake_script(x.f, script, 2);
  say(&x, ALICE, "!game trivia");
  release(&x, 1); /* not in the passage: refused, a second generation */
  CHECK_INT(x.f->submits, 2);
  release(&x, 1);
  CHECK(strstr(last_text(&x), "Into which sea") != NULL);
  say(&x, BOB, "amber sea");
  CHECK_INT(points_of(&x, GUILD, BOB.id), 10);
  /* three made-up answers in a row, no bank: the game says why it ends */
  const char *bad[] = {"{\"question\": \"Q?\", \"answer\": \"Mars\"}", "not json",
                       "{\"question\": \"Q?\", \"answer\": \"Venus\"}"};
  fake_script(x.f, bad, 3);
  say(&x, ALICE, "!game trivia");
  release(&x, 1);
  release(&x, 1);
  release(&x, 1);
  CHECK_INT(x.f->submits, 5);
  CHECK(strstr(last_text(&x), "could not write a fair question (3 tries)") != NULL);
  store_game g;
  CHECK_INT(store_game_running(x.s, CHAN, &g), MIMIC_ENOTFOUND);
  err_clear();
  fx_free(&x);
}

TEST(bank_questions_with_hints_timeouts_and_a_restart) {
  fx x;
  fx_init(&x);
  fx_cfg(&x, "games.rounds", "2");
  write_bank(&x, "Capital of France? | Paris | City of Light | It has a tower\n"
                 "{\"question\": \"Largest planet?\", \"answer\": \"Jupiter\"}\n");
  say(&x, ALICE, "!game trivia");
  CHECK_INT(x.f->submits, 0); /* no lore: the bank, at once */
  const char *q1 = strstr(last_text(&x), "Capital of France?") ? "france" : "planet";
  CHECK(strstr(last_text(&x), "question 1 of 2") != NULL);
  say(&x, BOB, "!game hint");
  CHECK(strstr(last_text(&x), "Hint 1 of 2") != NULL);
  CHECK(strstr(last_text(&x), "worth 5 points") != NULL);
  /* the process is killed and started again: the open question is still open */
  fx_restart(&x);
  say(&x, CAROL, strcmp(q1, "france") == 0 ? "paris" : "jupiter");
  CHECK_INT(points_of(&x, GUILD, CAROL.id), 5);
  CHECK(strstr(last_text(&x), "question 2 of 2") != NULL);
  /* the same winning message delivered again (a gateway replay) pays nothing more */
  say(&x, CAROL, strcmp(q1, "france") == 0 ? "paris" : "jupiter");
  CHECK_INT(points_of(&x, GUILD, CAROL.id), 5);
  /* the second question runs out of time */
  h_now += 61000;
  bot_poll(x.b);
  CHECK(sent_with(&x, "Time's up! The answer was") == 1);
  CHECK(sent_with(&x, "is over") == 1);
  store_game g;
  CHECK_INT(store_game_running(x.s, CHAN, &g), MIMIC_ENOTFOUND);
  err_clear();
  say(&x, BOB, "!game hint");
  CHECK(strstr(last_text(&x), "No hint") != NULL);
  fx_free(&x);
}

TEST(one_game_per_channel_and_stop) {
  fx x;
  fx_init(&x);
  write_bank(&x, "Capital of France? | Paris\n");
  say(&x, ALICE, "!minigame trivia");
  say(&x, BOB, "!game riddle");
  CHECK(strstr(last_text(&x), "running here already") != NULL);
  say(&x, BOB, "!game stop");
  CHECK(strstr(last_text(&x), "Only whoever started") != NULL);
  say(&x, ALICE, "!game stop");
  CHECK(strstr(last_text(&x), "Game stopped. The answer was **Paris**") != NULL);
  say(&x, BOB, "!game riddle"); /* no riddle bank: the model writes one */
  CHECK_INT(x.f->submits, 1);
  say(&x, BOB, "!game bogus");
  CHECK(strstr(last_text(&x), "Usage") != NULL);
  fx_free(&x);
}

static int64_t add_persona(fx *x, const char *name) {
  store_persona p;
  store_persona_init(&p);
  p.name = xstrdup(name);
  p.description = xstrdup("{{char}} tells spooky tales.");
  if (store_persona_add(x->s, &p)) abort();
  int64_t id = p.id;
  store_persona_free(&p);
  return id;
}

TEST(a_story_resumes_after_a_kill_and_old_buttons_still_vote) {
  fx x;
  fx_init(&x);
  fx_cfg(&x, "games.story_rounds", "2");
  int64_t aria = add_persona(&x, "Aria");
  fx_restart(&x); /* the cast is loaded */
  const char *script[] = {
      "{\"text\": \"The lighthouse door is ajar.\", \"choices\": [\"Go in\", \"Knock\", "
      "\"Leave\"]}",
      "{\"text\": \"Inside, stairs spiral up.\", \"choices\": [\"Climb\", \"Listen\"]}",
      "{\"text\": \"At the top, a lamp that was never lit now burns. The end.\"}"};
  fake_script(x.f, script, 3);
  say(&x, ALICE, "!story Aria a haunted lighthouse");
  CHECK_INT(x.f->submits, 1);
  CHECK(strstr(x.f->last_prompt, "a haunted lighthouse") != NULL);
  CHECK(strstr(x.f->last_prompt, "Aria") != NULL); /* the persona narrates */
  release(&x, 1);
  REQUIRE(x.r->n_personas == 1);
  CHECK_STR(x.r->personas[0].username, "Aria");
  CHECK_INT(x.r->personas[0].persona_id, aria);
  CHECK_INT(x.r->personas[0].x.n_items, 4); /* three choices and "Write your own move" */
  CHECK_STR(x.r->personas[0].x.first_label, "Go in");
  store_game g;
  CHECK_OK(store_game_running(x.s, CHAN, &g));
  char id1[64], stale[64];
  snprintf(id1, sizeof id1, "game:story:%" PRId64 ":1:1", g.id);
  snprintf(stale, sizeof stale, "game:story:%" PRId64 ":0:1", g.id);
  /* killed while the vote is open */
  fx_restart(&x);
  click(&x, BOB, id1);
  REQUIRE(x.r->n_responses == 1);
  CHECK(x.r->responses[0].ephemeral);
  CHECK(strstr(x.r->responses[0].text, "You voted for **Knock**") != NULL);
  click(&x, CAROL, stale);
  CHECK(strstr(x.r->responses[1].text, "closed") != NULL);
  /* the first round runs to its deadline, then the votes decide */
  h_now += 121000;
  bot_poll(x.b);
  CHECK_INT(persona_with(&x, "The readers chose **Knock**", NULL), 1);
  CHECK_INT(x.f->submits, 2);
  CHECK(strstr(x.f->last_prompt, "The readers chose: Knock") != NULL);
  CHECK(strstr(x.f->last_prompt, "The lighthouse door is ajar.") != NULL);
  /* killed while the next passage is being written: the new process writes it again */
  fx_restart(&x);
  poll_now(&x);
  CHECK_INT(x.f->submits, 3);
  fake_script(x.f, script + 1, 2);
  release(&x, 1);
  int at = -1;
  CHECK_INT(persona_with(&x, "Inside, stairs spiral up.", &at), 1);
  REQUIRE(at >= 0);
  CHECK_STR(x.r->personas[at].x.first_label, "Climb");
  /* round two: Bob took part before, so his vote is everyone's and decides at once */
  char id2[64];
  snprintf(id2, sizeof id2, "game:story:%" PRId64 ":2:0", g.id);
  click(&x, BOB, id2);
  CHECK_INT(persona_with(&x, "The readers chose **Climb**", NULL), 1);
  CHECK_INT(x.f->submits, 4);
  release(&x, 1); /* the ending */
  CHECK_INT(persona_with(&x, "never lit", NULL), 1);
  CHECK_INT(persona_with(&x, "is over", NULL), 1);
  CHECK_INT(store_game_running(x.s, CHAN, &g), MIMIC_ENOTFOUND);
  err_clear();
  CHECK_INT(points_of(&x, GUILD, BOB.id), 6); /* seeing it through: points/2 + 1, once */
  click(&x, BOB, id2);
  CHECK(strstr(x.r->responses[x.r->n_responses - 1].text, "over") != NULL);
  fx_free(&x);
}

TEST(write_ins_join_the_vote_and_closed_rounds_grey_their_buttons) {
  fx x;
  fx_init(&x);
  fx_cfg(&x, "games.story_rounds", "2");
  const char *script[] = {
      "{\"text\": \"A fork in the cliff path.\", \"choices\": [\"Climb\", \"Descend\"]}",
      "{\"text\": \"The lamp room hums.\", \"choices\": [\"Touch it\", \"Run\"]}",
      "{\"text\": \"The light goes out. The end.\"}"};
  fake_script(x.f, script, 3);
  say(&x, ALICE, "!game story a cliff walk");
  release(&x, 1);
  REQUIRE(sent_with(&x, "A fork in the cliff path.") == 1);
  const rec_send *post = &x.r->sends[x.r->n_sends - 1];
  CHECK_INT(post->x.n_items, 3);
  CHECK_INT(post->x.n_disabled, 0);
  store_game g;
  CHECK_OK(store_game_running(x.s, CHAN, &g));
  char c0[64], c1[64], wr[64], form[64], c2[64], rows1[1024], rows2[512];
  snprintf(c0, sizeof c0, "game:story:%" PRId64 ":1:0", g.id);
  snprintf(c1, sizeof c1, "game:story:%" PRId64 ":1:1", g.id);
  snprintf(c2, sizeof c2, "game:story:%" PRId64 ":1:2", g.id);
  snprintf(wr, sizeof wr, "game:write:%" PRId64 ":1", g.id);
  snprintf(form, sizeof form, "game:move:%" PRId64 ":1", g.id);
  const char *ids1[] = {c0, c1, wr}, *labels1[] = {"Climb", "Descend", "Write your own move"};
  row_json(rows1, sizeof rows1, ids1, labels1, 3);
  const uint64_t M1 = 9001, M2 = 9002, M3 = 9003;
  /* "Write your own move" opens a form as the click's answer */
  press(&x, ALICE, M1, rows1, wr);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MODAL);
  CHECK_STR(last_resp(&x)->modal_id, form);
  CHECK_STR(last_resp(&x)->first_input_id, "move");
  CHECK_INT(last_resp(&x)->first_max, 80);
  /* the submitted move is a new choice with the writer's vote, offered to the others */
  submit_move(&x, CHAN, GUILD, ALICE, form, "  Light the lamp ");
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "choice 3") != NULL);
  CHECK_INT(sent_with(&x, "wrote in choice **3**: Light the lamp"), 1);
  CHECK_INT(x.r->sends[x.r->n_sends - 1].x.n_items, 1);
  CHECK_STR(x.r->sends[x.r->n_sends - 1].x.first_label, "Light the lamp");
  submit_move(&x, CHAN, GUILD, ALICE, form, "Jump");
  CHECK(strstr(last_resp(&x)->text, "already") != NULL);
  submit_move(&x, CHAN, GUILD, BOB, form, "   ");
  CHECK(strstr(last_resp(&x)->text, "empty move") != NULL);
  const char *ids2[] = {c2}, *labels2[] = {"Light the lamp"};
  row_json(rows2, sizeof rows2, ids2, labels2, 1);
  press(&x, BOB, M2, rows2, c2);
  CHECK(strstr(last_resp(&x)->text, "You voted for **Light the lamp** (2 votes so far)") != NULL);
  say(&x, CAROL, "3"); /* typed votes reach write-ins too */
  CHECK_INT(x.r->n_edits, 0);
  /* the deadline closes the round: both messages clicked on get their buttons greyed out */
  h_now += 121000;
  bot_poll(x.b);
  CHECK_INT(sent_with(&x, "The readers chose **Light the lamp**"), 1);
  CHECK(strstr(x.f->last_prompt, "The readers chose: Light the lamp") != NULL);
  REQUIRE(x.r->n_edits == 2);
  for (int i = 0; i < 2; i++) {
    const rec_edit *e = &x.r->edits[i];
    CHECK(e->message == M1 || e->message == M2);
    CHECK_INT(e->channel, CHAN);
    CHECK(!e->has_content);
    CHECK_INT(e->x.n_items, e->message == M1 ? 3 : 1);
    CHECK_INT(e->x.n_disabled, e->x.n_items);
  }
  /* a late click on the old message: the private "closed", and its buttons greyed out again */
  press(&x, CAROL, M1, rows1, c0);
  CHECK(last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "closed") != NULL);
  REQUIRE(x.r->n_edits == 3);
  CHECK_INT(x.r->edits[2].message, M1);
  CHECK_INT(x.r->edits[2].x.n_disabled, 3);
  /* a form submitted after its round closed is not counted */
  submit_move(&x, CHAN, GUILD, CAROL, form, "Too late");
  CHECK(strstr(last_resp(&x)->text, "not counted") != NULL);
  /* round two: everyone who took part votes; the last vote closes it with that click, whose
   * answer (type 7) greys out the message it is on, and the voter is told privately */
  release(&x, 1);
  REQUIRE(sent_with(&x, "The lamp room hums.") == 1);
  char r0[64], r1[64], w2[64], rows3[1024];
  snprintf(r0, sizeof r0, "game:story:%" PRId64 ":2:0", g.id);
  snprintf(r1, sizeof r1, "game:story:%" PRId64 ":2:1", g.id);
  snprintf(w2, sizeof w2, "game:write:%" PRId64 ":2", g.id);
  const char *ids3[] = {r0, r1, w2}, *labels3[] = {"Touch it", "Run", "Write your own move"};
  row_json(rows3, sizeof rows3, ids3, labels3, 3);
  /* the round's messages come back through the gateway (the bot user's, a persona webhook's):
   * known before anyone clicks them */
  const uint64_t M4 = 9004, M5 = 9005;
  for (int k = 0; k < 2; k++) {
    h_msg hm;
    h_message(&hm, k ? M5 : M4, CHAN, GUILD, (h_user){k ? 4242 : SELF, "mimic", true},
              "The lamp room hums.");
    hm.ev.u.message.webhook_id = k ? 4242 : 0;
    hm.ev.u.message.first_custom_id = r0;
    CHECK_OK(bot_handle_event(x.b, &hm.ev));
  }
  press(&x, ALICE, M3, rows3, r0);
  press(&x, BOB, M3, rows3, r1);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MESSAGE);
  int fu = x.r->n_followups;
  press(&x, CAROL, M3, rows3, r0);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_UPDATE);
  CHECK_INT(last_resp(&x)->x.n_items, 3);
  CHECK_INT(last_resp(&x)->x.n_disabled, 3);
  REQUIRE(x.r->n_followups == fu + 1);
  CHECK(x.r->followups[fu].ephemeral);
  CHECK(strstr(x.r->followups[fu].text, "You voted for **Touch it**") != NULL);
  CHECK_INT(sent_with(&x, "The readers chose **Touch it**"), 1);
  /* M3 was updated by the answer, not edited again; the two that came back are edited */
  REQUIRE(x.r->n_edits == 5);
  for (int i = 3; i < 5; i++) {
    const rec_edit *e = &x.r->edits[i];
    CHECK(e->message == M4 || e->message == M5);
    CHECK_INT(e->webhook, e->message == M5 ? 4242 : 0);
    CHECK_INT(e->x.n_items, 3);
    CHECK_INT(e->x.n_disabled, 3);
  }
  release(&x, 1);
  CHECK_INT(sent_with(&x, "The light goes out."), 1);
  CHECK_INT(store_game_running(x.s, CHAN, &g), MIMIC_ENOTFOUND);
  err_clear();
  fx_free(&x);
}

TEST(a_dm_story_takes_the_readers_own_move) {
  fx x;
  fx_init(&x);
  const char *script[] = {"{\"text\": \"You wake on a raft.\", \"choices\": [\"Paddle\", "
                          "\"Sleep\"]}"};
  fake_script(x.f, script, 1);
  say_in(&x, DMCH, 0, ALICE, "!game story");
  release(&x, 1);
  CHECK(strstr(last_text(&x), "You wake on a raft.") != NULL);
  CHECK(strstr(last_text(&x), "**1.** Paddle") != NULL);
  say_in(&x, DMCH, 0, ALICE, "I build a sail from my shirt");
  CHECK_INT(x.f->submits, 2);
  CHECK(strstr(x.f->last_prompt, "The readers chose: I build a sail from my shirt") != NULL);
  /* the move written in the form is the reader's move too */
  const char *next[] = {"{\"text\": \"The sail fills.\", \"choices\": [\"Steer\", \"Rest\"]}"};
  fake_script(x.f, next, 1);
  release(&x, 1);
  store_game g;
  CHECK_OK(store_game_running(x.s, DMCH, &g));
  char wr[64], form[64], data[128];
  snprintf(wr, sizeof wr, "game:write:%" PRId64 ":2", g.id);
  snprintf(form, sizeof form, "game:move:%" PRId64 ":2", g.id);
  snprintf(data, sizeof data, "{\"custom_id\":\"%s\",\"component_type\":2}", wr);
  interact_in(&x, 3, DMCH, 0, ALICE, 0, "", data);
  CHECK_INT(last_resp(&x)->type, DISCORD_RESPONSE_MODAL);
  CHECK_INT(last_resp(&x)->first_max, 150);
  submit_move(&x, DMCH, 0, ALICE, form, "I fish with my bootlace");
  CHECK(!last_resp(&x)->ephemeral);
  CHECK(strstr(last_resp(&x)->text, "**Your move:** I fish with my bootlace") != NULL);
  CHECK_INT(x.f->submits, 3);
  CHECK(strstr(x.f->last_prompt, "The readers chose: I fish with my bootlace") != NULL);
  say_in(&x, DMCH, 0, ALICE, "!game stop");
  CHECK(strstr(last_text(&x), "Game stopped.") != NULL);
  /* the persona Bob talks to in DMs hosts his story */
  add_persona(&x, "Aria");
  fx_restart(&x);
  say_in(&x, DMCH + 1, 0, BOB, "!persona Aria");
  say_in(&x, DMCH + 1, 0, BOB, "!story");
  CHECK(strstr(last_text(&x), "told by **Aria**") != NULL);
  CHECK(strstr(x.f->last_prompt, "Aria") != NULL);
  fx_free(&x);
}

TEST(a_riddle_in_a_dm_from_the_bank_with_the_hint_button) {
  fx x;
  fx_init(&x);
  FILE *f = fopen(bank_path, "w");
  REQUIRE(f != NULL);
  fputs("What has a neck but no head? | a bottle | flask | you drink from it\n", f);
  fclose(f);
  fx_cfg(&x, "games.riddle_bank", bank_path);
  say_in(&x, DMCH, 0, ALICE, "!game riddle");
  CHECK(strstr(last_text(&x), "What has a neck but no head?") != NULL);
  CHECK(strstr(last_text(&x), "Riddle") != NULL);
  store_game g;
  CHECK_OK(store_game_running(x.s, DMCH, &g));
  char hint[64];
  snprintf(hint, sizeof hint, "game:hint:%" PRId64 ":1", g.id);
  click(&x, ALICE, hint); /* the right game, the wrong channel */
  REQUIRE(x.r->n_responses == 1);
  CHECK(strstr(x.r->responses[0].text, "over") != NULL);
  click_in(&x, DMCH, 0, ALICE, hint);
  REQUIRE(x.r->n_responses == 2);
  CHECK(!x.r->responses[1].ephemeral);
  CHECK(strstr(x.r->responses[1].text, "Hint 1 of 2: you drink from it") != NULL);
  click_in(&x, DMCH, 0, ALICE, hint);
  CHECK(strstr(x.r->responses[2].text, "Hint 2 of 2") != NULL);
  click_in(&x, DMCH, 0, ALICE, hint);
  CHECK(strstr(x.r->responses[3].text, "last hint") != NULL);
  CHECK(x.r->responses[3].ephemeral);
  click_in(&x, DMCH, 0, ALICE, "game:hint:oops");
  /* malformed: not a game's button; every interaction is answered, privately */
  REQUIRE(x.r->n_responses == 5);
  CHECK(x.r->responses[4].ephemeral);
  CHECK(strstr(x.r->responses[4].text, "over") != NULL);
  say_in(&x, DMCH, 0, ALICE, "A Bottle.");
  CHECK_INT(points_of(&x, 0, ALICE.id), 2); /* 10, halved twice */
  CHECK_INT(points_of(&x, GUILD, ALICE.id), 0);
  say_in(&x, DMCH, 0, ALICE, "!leaderboard");
  CHECK(strstr(last_text(&x), "DM games") != NULL);
  CHECK(strstr(last_text(&x), "<@11> — 2 points (1 win)") != NULL);
  fx_free(&x);
}

TEST(points_grants_are_audited_and_others_refused) {
  fx x;
  fx_init(&x);
  logged[0] = 0;
  log_set_level(LOG_INFO);
  log_set_sink(sink, NULL);
  say(&x, BOSS, "!points grant <@12> 50 helped at the event");
  say(&x, ALICE, "!points grant <@11> 100 because");
  say(&x, BOSS, "!points revoke <@12> 20 spam");
  log_set_sink(NULL, NULL);
  log_set_level(LOG_ERROR);
  CHECK(strstr(logged, "user 9 granted 50 points to user 12 in guild 1 (helped at the event)") !=
        NULL);
  CHECK(strstr(logged, "user 9 revoked 20 points from user 12") != NULL);
  CHECK(strstr(logged, "user 11 tried !points grant but is not an admin") != NULL);
  CHECK(sent_with(&x, "Only admins can grant points.") == 1);
  CHECK_INT(points_of(&x, GUILD, BOB.id), 30);
  CHECK_INT(points_of(&x, GUILD, ALICE.id), 0);
  say(&x, BOB, "!points");
  CHECK(strstr(last_text(&x), "You have 30 points here (30 this month)") != NULL);
  say(&x, ALICE, "!points <@12>");
  CHECK(strstr(last_text(&x), "<@12> has 30 points") != NULL);
  say(&x, BOSS, "!points grant <@12> lots");
  CHECK(strstr(last_text(&x), "Usage") != NULL);
  say(&x, BOB, "!leaderboard month");
  CHECK(strstr(last_text(&x), "(this month)") != NULL);
  CHECK(strstr(last_text(&x), "<@12> — 30 points") != NULL);
  say(&x, BOB, "!leaderboard 1999-01");
  CHECK(strstr(last_text(&x), "Nobody has points") != NULL);
  say(&x, BOB, "!leaderboard someday");
  CHECK(strstr(last_text(&x), "Usage") != NULL);
  say(&x, ALICE, "!profile <@12>");
  CHECK(strstr(last_text(&x), "points: 30") != NULL);
  CHECK(strstr(last_text(&x), "privacy: messages may be learned from") != NULL);
  fx_free(&x);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(trivia_from_lore_three_players_race_one_winner_points_once);
  RUN(a_made_up_answer_is_refused_and_another_try_is_made);
  RUN(bank_questions_with_hints_timeouts_and_a_restart);
  RUN(one_game_per_channel_and_stop);
  RUN(a_story_resumes_after_a_kill_and_old_buttons_still_vote);
  RUN(write_ins_join_the_vote_and_closed_rounds_grey_their_buttons);
  RUN(a_dm_story_takes_the_readers_own_move);
  RUN(a_riddle_in_a_dm_from_the_bank_with_the_hint_button);
  RUN(points_grants_are_audited_and_others_refused);
  TEST_MAIN_END();
}
