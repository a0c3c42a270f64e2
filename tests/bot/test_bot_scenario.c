/* Scenes (`!scenario`) with the recording actions and the scripted engine: an admin starts a scene
 * and its first persona opens it through the persona send path; people talk; `!scenario next`
 * gives the word to the next persona in turn, with the premise and what was said since the start
 * in its prompt (and not the bot's own command answers); who may start and end one; the scene
 * survives a restart; bad arguments get one sentence. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_harness.h"
#include "fake_backend.h"
#include "lore/lore.h"
#include "store/persona.h"
#include "store/scenario.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "test.h"

#include "persona_fixture.h"

/* The last command answer (a plain send) contains what. */
static bool answered(fx *x, const char *what) {
  return x->r->n_sends > 0 && strstr(x->r->sends[x->r->n_sends - 1].text, what) != NULL;
}

/* Delivers the bot user's own posts (command answers) back, as the gateway would. */
static void echo_bot(fx *x) { h_deliver_echoes(x->r, &x->b, 1, GUILD); }

TEST(a_scene_is_played_in_turn) {
  fx x;
  fx_init(&x);
  int64_t glordon = add_persona(&x, "Glordon", NULL, NULL, 0);
  int64_t elio = add_persona(&x, "Elio", NULL, NULL, 0);
  add_persona(&x, "Olga", NULL, NULL, 0); /* not in the scene */
  /* World Info keyed on a word of the premise: the scene's lines read it */
  static const char book[] =
      "{\"entries\":{\"0\":{\"key\":[\"potato\"],\"content\":\"Potato fields glow at night.\"}}}";
  CHECK_OK(lore_add_book_json(x.s, "book:farm", book, strlen(book), "", NULL, NULL));
  fx_start(&x);
  const char *lines[] = {"The ship hums.", "I come in peace!", "Potatoes ahoy.", "Again me."};
  fake_script(x.f, lines, 4);
  CHECK_OK(say(&x, 10, BOSS, "!scenario start Glordon,Elio The ship lands in a potato field"));
  CHECK(answered(&x, "The ship lands in a potato field"));
  CHECK(answered(&x, "**Glordon** and **Elio**"));
  drain(&x);
  /* Glordon opens, through its webhook, not as a reply to the command */
  REQUIRE(x.r->n_personas == 1);
  CHECK_STR(x.r->personas[0].username, "Glordon");
  CHECK_STR(x.r->personas[0].text, "The ship hums.");
  CHECK_INT(x.r->personas[0].reply_to, 0);
  CHECK_INT(x.r->personas[0].persona_id, glordon);
  CHECK(strstr(x.f->last_prompt, "Premise: The ship lands in a potato field") != NULL);
  CHECK(strstr(x.f->last_prompt, "user|Scene|(The scene begins. Open it as Glordon") != NULL);
  store_scene sc;
  CHECK_OK(store_scene_get(x.s, CHAN, &sc));
  CHECK_INT(sc.lines, 1);
  CHECK_INT(sc.next, 1);
  echo_personas(&x);
  echo_bot(&x);
  /* people take part by talking; nobody answers them unasked */
  int before = x.f->submits;
  CHECK_OK(say(&x, 9020, ALICE, "I offer the aliens some crisps"));
  drain(&x);
  CHECK_INT(x.f->submits, before);
  /* anyone gives the word on: Elio, who sees Glordon's line and alice's, not the bot's answer */
  CHECK_OK(say(&x, 9021, ALICE, "!scenario next"));
  drain(&x);
  REQUIRE(x.r->n_personas == 2);
  CHECK_STR(x.r->personas[1].username, "Elio");
  CHECK_INT(x.r->personas[1].persona_id, elio);
  CHECK(strstr(x.f->last_prompt, "user|alice|I offer the aliens some crisps") != NULL);
  CHECK(strstr(x.f->last_prompt, "user|Glordon|The ship hums.") != NULL);
  CHECK(strstr(x.f->last_prompt, "It is Elio's turn") != NULL);
  CHECK(strstr(x.f->last_prompt, "Stay in character as Elio") != NULL);
  CHECK(strstr(x.f->last_prompt, "Join in by talking") == NULL);
  CHECK(strstr(x.f->last_prompt, "Potato fields glow at night.") != NULL);
  CHECK(strstr(x.f->last_prompt, "Things members said") == NULL); /* the scene is no recall */
  echo_personas(&x);
  /* round robin: Glordon again; then Glordon named out of turn */
  CHECK_OK(say(&x, 9022, ALICE, "!scenario next"));
  drain(&x);
  REQUIRE(x.r->n_personas == 3);
  CHECK_STR(x.r->personas[2].username, "Glordon");
  echo_personas(&x);
  CHECK_OK(say(&x, 9023, ALICE, "!scenario next glordon"));
  drain(&x);
  REQUIRE(x.r->n_personas == 4);
  CHECK_STR(x.r->personas[3].username, "Glordon");
  echo_personas(&x);
  CHECK_OK(say(&x, 9024, ALICE, "!scenario next Olga"));
  CHECK(answered(&x, "Olga does not play in this scene."));
  /* the status */
  CHECK_OK(say(&x, 9025, ALICE, "!scenario"));
  CHECK(answered(&x, "4 lines so far"));
  CHECK(answered(&x, "Next: **Elio**"));
  /* alice may not end it; the admin may */
  CHECK_OK(say(&x, 9026, ALICE, "!scenario end"));
  CHECK(answered(&x, "Ending a scene is for"));
  CHECK_OK(store_scene_get(x.s, CHAN, &sc));
  CHECK_OK(say(&x, 9027, BOSS, "!scenario end"));
  CHECK(answered(&x, "The scene ends after 4 lines."));
  CHECK_INT(store_scene_get(x.s, CHAN, &sc), MIMIC_ENOTFOUND);
  CHECK_OK(say(&x, 9028, ALICE, "!scenario next"));
  CHECK(answered(&x, "No scene is running here."));
  CHECK_INT(x.r->n_personas, 4);
  fx_free(&x);
}

TEST(who_may_start_a_scene) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Glordon", NULL, NULL, 0);
  fx_start(&x);
  store_scene sc;
  CHECK_OK(say(&x, 10, ALICE, "!scenario start Glordon A quiet night"));
  CHECK(answered(&x, "Starting a scene is for the bot's admins and this channel's moderators"));
  CHECK_INT(store_scene_get(x.s, CHAN, &sc), MIMIC_ENOTFOUND);
  CHECK_INT(x.r->n_personas, 0);
  /* a moderator (Manage Messages, as a slash command's member carries it) may */
  h_msg hm;
  h_message(&hm, 11, CHAN, GUILD, ALICE, "!scenario start Glordon A quiet night");
  hm.ev.u.message.has_member = true;
  hm.ev.u.message.member.permissions = 1ULL << 13;
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  drain(&x);
  CHECK_OK(store_scene_get(x.s, CHAN, &sc));
  CHECK_INT(sc.started_by, ALICE.id);
  CHECK_INT(x.r->n_personas, 1);
  /* whoever started it may end it */
  CHECK_OK(say(&x, 12, ALICE, "!scenario end"));
  CHECK(answered(&x, "The scene ends after 1 line."));
  fx_free(&x);
}

TEST(a_scene_survives_a_restart) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Glordon", NULL, NULL, 0);
  add_persona(&x, "Elio", NULL, NULL, 0);
  fx_start(&x);
  x.f->dflt = "A line.";
  CHECK_OK(say(&x, 10, BOSS, "!scenario start Elio, Glordon The moon is made of cheese"));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  CHECK_STR(x.r->personas[0].username, "Elio");
  echo_personas(&x);
  CHECK_OK(say(&x, 9020, ALICE, "cheese for everyone"));
  /* the bot stops and starts again on the same store */
  bot_destroy(x.b);
  x.b = NULL;
  fx_start(&x);
  CHECK_OK(say(&x, 9021, ALICE, "!scenario next"));
  drain(&x);
  REQUIRE(x.r->n_personas == 2);
  CHECK_STR(x.r->personas[1].username, "Glordon");
  CHECK(strstr(x.f->last_prompt, "Premise: The moon is made of cheese") != NULL);
  CHECK(strstr(x.f->last_prompt, "user|alice|cheese for everyone") != NULL);
  CHECK(strstr(x.f->last_prompt, "user|Elio|A line.") != NULL);
  fx_free(&x);
}

TEST(bad_scene_commands_get_one_sentence) {
  fx x;
  fx_init(&x);
  int64_t olga = add_persona(&x, "Olga", NULL, NULL, 0);
  add_persona(&x, "Elio", NULL, NULL, 0);
  /* Olga speaks only in another channel */
  store_persona p;
  store_persona_init(&p);
  CHECK_OK(store_persona_get(x.s, olga, &p));
  p.channels = xcalloc(1, sizeof *p.channels);
  p.channels[0] = 555;
  p.n_channels = 1;
  CHECK_OK(store_persona_update(x.s, &p));
  store_persona_free(&p);
  fx_start(&x);
  store_scene sc;
  CHECK_OK(say(&x, 1, BOSS, "!scenario start Nobody A premise"));
  CHECK(answered(&x, "No persona is called Nobody"));
  CHECK_OK(say(&x, 2, BOSS, "!scenario start Elio"));
  CHECK(answered(&x, "Give the scene a premise after the cast"));
  CHECK_OK(say(&x, 3, BOSS, "!scenario start Elio,Elio A premise"));
  CHECK(answered(&x, "Elio is named twice in the cast."));
  CHECK_OK(say(&x, 4, BOSS, "!scenario start Olga,Elio A premise"));
  CHECK(answered(&x, "Olga does not speak in this channel"));
  CHECK_OK(say(&x, 5, BOSS, "!scenario start"));
  CHECK(answered(&x, "Usage: !scenario start"));
  CHECK_OK(say(&x, 6, BOSS, "!scenario dance"));
  CHECK(answered(&x, "Usage: !scenario start"));
  CHECK_INT(store_scene_get(x.s, CHAN, &sc), MIMIC_ENOTFOUND);
  CHECK_OK(say_in(&x, 7, 4000, 0, BOSS, "!scenario start Elio A premise", 0));
  CHECK(answered(&x, "not in DMs"));
  /* one line at a time */
  CHECK_OK(say(&x, 8, BOSS, "!scenario start \"Elio\" A premise"));
  CHECK_OK(say(&x, 9, ALICE, "!scenario next"));
  CHECK(answered(&x, "The last line is still being written"));
  drain(&x);
  CHECK_INT(x.r->n_personas, 1);
  /* a persona removed mid-scene is skipped; none left: the scene says so */
  int64_t eid = 0;
  CHECK_OK(store_persona_find(x.s, "Elio", &eid));
  CHECK_OK(store_persona_remove(x.s, eid));
  CHECK_OK(bot_persona_reload(x.b));
  CHECK_OK(say(&x, 12, ALICE, "!scenario next"));
  CHECK(answered(&x, "None of this scene's personas is here any more"));
  fx_free(&x);
}

int main(void) {
  RUN(a_scene_is_played_in_turn);
  RUN(who_may_start_a_scene);
  RUN(a_scene_survives_a_restart);
  RUN(bad_scene_commands_get_one_sentence);
  TEST_MAIN_END();
}
