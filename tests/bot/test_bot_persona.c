/* Personas in the bot, with the recording actions and the scripted engine: who answers (name,
 * reply to a persona, keyword, DM choice), how (through the webhook with its name and avatar, a
 * PluralKit-style reply, a thread through its parent, the card's prompt, its own KV slot and
 * memory, its adapter chosen per request), the bot never answering its own personas, no loops
 * between two personas with freewill 1.0, and the admin and DM commands. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_harness.h"
#include "../lore/fake_embed.h"
#include "fake_backend.h"
#include "lore/lore.h"
#include "store/persona.h"
#include "store/store.h"
#include "store/webhooks.h"
#include "test.h"

#include "persona_fixture.h"

TEST(a_persona_named_answers_through_its_webhook) {
  fx x;
  fx_init(&x);
  int64_t glordon = add_persona(&x, "Glordon", "glord", NULL, 0);
  add_persona(&x, "Elio", NULL, NULL, 0);
  fx_start(&x);
  x.f->dflt = "Greetings!";
  CHECK_OK(say(&x, 1, ALICE, "Glordon, are you a potato?"));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  const rec_persona *p = &x.r->personas[0];
  CHECK_STR(p->username, "Glordon");
  CHECK_STR(p->avatar, "https://example.com/face.png");
  CHECK_STR(p->text, "Greetings!");
  CHECK_INT(p->channel, CHAN);
  CHECK_INT(p->thread, 0);
  CHECK_INT(p->reply_to, 1); /* quoted, PluralKit-style, pinging only alice */
  CHECK_INT(p->reply_user, ALICE.id);
  CHECK(p->ping_reply);
  CHECK_INT(p->persona_id, glordon);
  CHECK_INT(x.r->n_sends, 0); /* the bot user stayed quiet */
  /* its own KV slot, the card's prompt with the macros filled, the base model */
  char key[48];
  snprintf(key, sizeof key, "%d:p%" PRId64, CHAN, glordon);
  CHECK_STR(x.f->last_key, key);
  CHECK(strstr(x.f->last_prompt, "You are Glordon") != NULL);
  CHECK(strstr(x.f->last_prompt, "Glordon is a character from a film, talking to alice.") != NULL);
  CHECK_STR(x.f->last_adapter, "");
  CHECK(x.f->last_adapter_scale == 0);
  /* an alias, and "hey" */
  CHECK_OK(say(&x, 2, ALICE, "hey glord"));
  drain(&x);
  CHECK_INT(x.r->n_personas, 2);
  CHECK_OK(say(&x, 3, ALICE, "@Elio look"));
  drain(&x);
  REQUIRE(x.r->n_personas == 3);
  CHECK_STR(x.r->personas[2].username, "Elio");
  /* merely mentioned: nobody */
  CHECK_OK(say(&x, 4, ALICE, "I like Glordon's hat"));
  drain(&x);
  CHECK_INT(x.r->n_personas, 3);
  fx_free(&x);
}

TEST(a_reply_to_a_persona_goes_to_it_and_its_own_messages_are_not_answered) {
  fx x;
  fx_init(&x);
  fx_cfg(&x, "bot.response_rate", "1"); /* the bot user would answer anything it may */
  int64_t elio = add_persona(&x, "Elio", NULL, NULL, 0);
  fx_start(&x);
  x.f->dflt = "hi there";
  CHECK_OK(say(&x, 1, ALICE, "Elio, hello"));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  int submits = x.f->submits;
  echo_personas(&x); /* its message comes back through the gateway: never answered */
  drain(&x);
  CHECK_INT(x.f->submits, submits);
  CHECK_INT(x.r->n_sends, 0);
  uint64_t elio_msg = x.next_id;
  int64_t who = 0;
  CHECK_OK(store_persona_msg_get(x.s, elio_msg, &who)); /* recorded: message -> persona */
  CHECK_INT(who, elio);
  /* a reply to it goes to Elio, though it names nobody */
  CHECK_OK(say_in(&x, 9002, CHAN, GUILD, ALICE, "why though", elio_msg));
  drain(&x);
  REQUIRE(x.r->n_personas == 2);
  CHECK_STR(x.r->personas[1].username, "Elio");
  /* Elio remembers its own words as its own */
  CHECK(strstr(x.f->last_prompt, "assistant||hi there") != NULL);
  /* deleted: a reply to it is an ordinary message again */
  discord_event del = {.type = DISCORD_EV_MESSAGE_DELETE};
  discord_id ids[1] = {elio_msg};
  del.u.del.channel_id = CHAN;
  del.u.del.ids = ids;
  del.u.del.n_ids = 1;
  CHECK_OK(bot_handle_event(x.b, &del));
  CHECK_INT(store_persona_msg_get(x.s, elio_msg, &who), MIMIC_ENOTFOUND);
  fx_free(&x);
}

TEST(two_personas_with_freewill_one_do_not_loop) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Glordon", NULL, NULL, 1.0);
  add_persona(&x, "Elio", NULL, NULL, 1.0);
  fx_start(&x);
  /* each names the other, the worst case */
  x.f->dflt = "@Glordon @Elio what do you both think?";
  CHECK_OK(say(&x, 1, ALICE, "nice weather today"));
  for (int i = 0; i < 20; i++) {
    drain(&x);
    echo_personas(&x);
  }
  drain(&x);
  /* one answer to alice, then at most bot.bot_turns_max (3) persona-to-persona turns */
  CHECK_INT(x.r->n_personas, 4);
  int before = x.r->n_personas;
  /* a person speaking again lets them answer again */
  CHECK_OK(say(&x, 2, ALICE, "and now?"));
  drain(&x);
  CHECK(x.r->n_personas > before);
  fx_free(&x);
}

TEST(keywords_and_threads) {
  fx x;
  fx_init(&x);
  add_persona(&x, "Ooooo", NULL, "blorp", 0);
  store_channel th = {.id = 300, .guild_id = GUILD, .parent_id = CHAN, .type = 11};
  str_lcpy(th.name, "a-thread", sizeof th.name);
  CHECK_OK(store_channel_upsert(x.s, &th));
  fx_start(&x);
  h_msg hm;
  h_message(&hm, 1, 300, GUILD, ALICE, "BLORP!");
  hm.ev.u.message.channel_type = 11;
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  CHECK_STR(x.r->personas[0].username, "Ooooo");
  CHECK_INT(x.r->personas[0].channel, CHAN); /* the webhook is the parent's */
  CHECK_INT(x.r->personas[0].thread, 300);
  CHECK_INT(x.r->personas[0].reply_to, 0); /* unprompted: not a reply */
  fx_free(&x);
}

TEST(dm_choice_and_clear) {
  fx x;
  fx_init(&x);
  int64_t elio = add_persona(&x, "Elio", NULL, NULL, 0);
  fx_start(&x);
  const uint64_t DM = 4000;
  x.f->dflt = "hello from elio";
  CHECK_OK(say_in(&x, 10, DM, 0, ALICE, "!persona Elio", 0));
  REQUIRE(x.r->n_sends == 1);
  CHECK(strstr(x.r->sends[0].text, "talking to **Elio**") != NULL);
  CHECK_INT(store_dm_choice_get(x.s, ALICE.id), elio);
  CHECK_OK(say_in(&x, 11, DM, 0, ALICE, "my secret is 42", 0));
  drain(&x);
  REQUIRE(x.r->n_sends == 2);
  CHECK_STR(x.r->sends[1].text, "**Elio**: hello from elio"); /* DMs have no webhooks */
  CHECK_INT(x.r->n_personas, 0);
  h_deliver_echoes(x.r, &x.b, 1, 0);
  CHECK_OK(say_in(&x, 9012, DM, 0, ALICE, "what is my secret?", 0));
  drain(&x);
  CHECK(strstr(x.f->last_prompt, "my secret is 42") != NULL);
  CHECK(strstr(x.f->last_prompt, "assistant||hello from elio") != NULL);
  /* !clear: the conversation starts over */
  CHECK_OK(say_in(&x, 9013, DM, 0, ALICE, "!clear", 0));
  CHECK_OK(say_in(&x, 9014, DM, 0, ALICE, "do you remember?", 0));
  drain(&x);
  CHECK(strstr(x.f->last_prompt, "my secret is 42") == NULL);
  CHECK(strstr(x.f->last_prompt, "do you remember?") != NULL);
  /* back to the bot user */
  CHECK_OK(say_in(&x, 9015, DM, 0, ALICE, "!persona none", 0));
  CHECK_INT(store_dm_choice_get(x.s, ALICE.id), 0);
  fx_free(&x);
}

TEST(admin_persona_commands) {
  fx x;
  fx_init(&x);
  fx_start(&x);
  x.f->accept_adapters = true;
  CHECK_OK(say(&x, 1, BOSS, "!persona add Zed a pizza-loving robot"));
  REQUIRE(x.r->n_sends == 1);
  CHECK(strstr(x.r->sends[0].text, "Added **Zed**") != NULL);
  CHECK_OK(say(&x, 2, BOSS, "!persona set Zed keywords pizza, pasta"));
  CHECK_OK(say(&x, 3, BOSS, "!persona set Zed temperature 0.3"));
  CHECK_OK(say(&x, 4, BOSS, "!persona set Zed adapter /tmp/zed.gguf"));
  CHECK_OK(say(&x, 5, BOSS, "!persona set Zed engine.max_tokens 42"));
  CHECK_OK(say(&x, 6, BOSS, "!persona set Zed colour blue"));
  REQUIRE(x.r->n_sends == 6);
  CHECK(strstr(x.r->sends[5].text, "is not a persona field") != NULL);
  CHECK_OK(say(&x, 7, BOSS, "!persona list"));
  CHECK(strstr(x.r->sends[6].text, "**Zed**") != NULL);
  CHECK_OK(say(&x, 8, BOSS, "!persona show Zed"));
  CHECK(strstr(x.r->sends[7].text, "keywords: pizza, pasta") != NULL);
  CHECK(strstr(x.r->sends[7].text, "engine.max_tokens = 42 (persona") != NULL);
  /* a non-admin cannot change the cast */
  CHECK_OK(say(&x, 9, ALICE, "!persona remove Zed"));
  CHECK_INT(x.r->n_sends, 8);
  /* the keyword calls Zed, with its adapter, temperature and length */
  x.f->dflt = "beep pizza";
  CHECK_OK(say(&x, 10, ALICE, "who wants pizza"));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  CHECK_STR(x.r->personas[0].username, "Zed");
  CHECK(strncmp(x.f->last_adapter, "persona:", 8) == 0);
  CHECK_INT(x.f->adapter_loads, 1);
  CHECK_STR(x.f->last_adapter_path, "/tmp/zed.gguf");
  CHECK_NEAR(x.f->last_temperature, 0.3, 1e-6);
  CHECK_INT(x.f->last_max_tokens, 42);
  /* the adapter stays loaded: the next request does not reload it */
  CHECK_OK(say(&x, 11, ALICE, "pasta?"));
  drain(&x);
  CHECK_INT(x.f->adapter_loads, 1);
  /* !status says who answered here and why */
  CHECK_OK(say(&x, 12, BOSS, "!status"));
  CHECK(strstr(x.r->sends[x.r->n_sends - 1].text, "Zed last answered message 11 (keyword)") !=
        NULL);
  CHECK_OK(say(&x, 13, BOSS, "!persona remove Zed"));
  CHECK(strstr(x.r->sends[x.r->n_sends - 1].text, "Removed Zed") != NULL);
  CHECK_OK(say(&x, 14, ALICE, "pizza"));
  drain(&x);
  CHECK_INT(x.r->n_personas, 2);
  fx_free(&x);
}

/* A persona answering reads its own lore scope (where its card's character_book is stored) and its
 * own lore settings; the bot user and other personas do not read it. */
TEST(a_persona_reads_its_own_lore) {
  fx x;
  fx_init(&x);
  fx_cfg(&x, "bot.response_rate", "1");
  int64_t glordon = add_persona(&x, "Glordon", NULL, NULL, 0);
  add_persona(&x, "Elio", NULL, NULL, 0);
  static const char book[] =
      "{\"entries\":{\"0\":{\"key\":[\"potato\"],\"content\":\"Glordon hides in a potato.\"}}}";
  CHECK_OK(lore_add_book_json(x.s, "card:Glordon", book, strlen(book), "Glordon", NULL, NULL));
  fx_start(&x);
  x.f->dflt = "hm";
  CHECK_OK(say(&x, 1, ALICE, "Glordon, where is the potato?"));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  CHECK(strstr(x.f->last_prompt, "Glordon hides in a potato.") != NULL);
  CHECK_OK(say(&x, 2, ALICE, "Elio, where is the potato?"));
  drain(&x);
  REQUIRE(x.r->n_personas == 2);
  CHECK(strstr(x.f->last_prompt, "Glordon hides in a potato.") == NULL);
  /* the persona's own switch (layered, as `!persona set Glordon lore.world_info off` writes) */
  CHECK_OK(store_layer_set(x.s, STORE_SCOPE_PERSONA, (uint64_t)glordon, "lore.world_info", "off"));
  CHECK_OK(say(&x, 3, ALICE, "Glordon, the potato?"));
  drain(&x);
  REQUIRE(x.r->n_personas == 3);
  CHECK(strstr(x.f->last_prompt, "Glordon hides in a potato.") == NULL);
  CHECK_OK(store_layer_delete(x.s, STORE_SCOPE_PERSONA, (uint64_t)glordon, "lore.world_info"));
  /* and the `mimic lore set --persona` one */
  CHECK_OK(store_setting_set(x.s, "persona:Glordon", "lore.world_info", "false"));
  CHECK_OK(say(&x, 4, ALICE, "Glordon, the potato?"));
  drain(&x);
  REQUIRE(x.r->n_personas == 4);
  CHECK(strstr(x.f->last_prompt, "Glordon hides in a potato.") == NULL);
  CHECK_OK(store_setting_delete(x.s, "persona:Glordon", "lore.world_info"));
  /* a lore_scope of its own */
  store_persona p;
  store_persona_init(&p);
  CHECK_OK(store_persona_get(x.s, glordon, &p));
  p.lore_scope = xstrdup("aliens");
  CHECK_OK(store_persona_update(x.s, &p));
  store_persona_free(&p);
  CHECK_OK(bot_persona_reload(x.b));
  CHECK_OK(say(&x, 5, ALICE, "Glordon, the potato?"));
  drain(&x);
  REQUIRE(x.r->n_personas == 5);
  CHECK(strstr(x.f->last_prompt, "Glordon hides in a potato.") == NULL);
  fx_free(&x);
}

/* Relevance compares a message with each persona's card and its own lore (its character book in
 * its lore scope). */
TEST(relevance_reads_a_personas_lore) {
  fx x;
  fx_init(&x);
  lore_embedder e = fake_embedder(NULL);
  x.emb = &e;
  add_persona(&x, "Captain", NULL, NULL, 0);
  add_persona(&x, "Elio", NULL, NULL, 0);
  static const char book[] = "{\"entries\":{\"0\":{\"key\":[\"submarine\"],"
                             "\"content\":\"torpedo sonar depth periscope\"}}}";
  fx_start(&x);
  CHECK_OK(say(&x, 1, ALICE, "submarine torpedo sonar depth periscope"));
  drain(&x);
  CHECK_INT(x.r->n_personas, 0); /* nobody knows about it */
  /* its character book arrives (as `mimic persona import` puts it): the bot sees it within its
   * re-read interval, without a restart */
  CHECK_OK(lore_add_book_json(x.s, "card:Captain", book, strlen(book), "Captain", NULL, NULL));
  h_now += 60000;
  CHECK_OK(say(&x, 2, ALICE, "submarine torpedo sonar depth periscope"));
  drain(&x);
  REQUIRE(x.r->n_personas == 1);
  CHECK_STR(x.r->personas[0].username, "Captain");
  CHECK_INT(x.r->personas[0].reply_to, 0); /* unprompted */
  fx_free(&x);
}

TEST(settings_are_layered_for_the_bot_user_too) {
  fx x;
  fx_init(&x);
  fx_start(&x);
  CHECK_OK(store_layer_set(x.s, STORE_SCOPE_GUILD, GUILD, "engine.max_tokens", "55"));
  CHECK_OK(store_layer_set(x.s, STORE_SCOPE_CHANNEL, CHAN, "engine.max_tokens", "33"));
  h_msg hm;
  h_message(&hm, 1, CHAN, GUILD, ALICE, "hello bot");
  h_mention(&hm, SELF);
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  drain(&x);
  CHECK_INT(x.r->n_sends, 1);
  CHECK_INT(x.f->last_max_tokens, 33); /* the channel's beats the server's */
  h_message(&hm, 2, CHAN + 1, GUILD, ALICE, "hello bot");
  h_mention(&hm, SELF);
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  drain(&x);
  CHECK_INT(x.f->last_max_tokens, 55);
  fx_free(&x);
}

/* !setting: an admin sets the bot user's response rate and cooldown for one channel or the server
 * (the router reads them through the layers) and sees where a value comes from. */
TEST(admins_set_a_channels_and_the_servers_values) {
  fx x;
  fx_init(&x);
  fx_start(&x);
  CHECK_OK(say(&x, 1, BOSS, "!setting bot.response_rate 1"));
  REQUIRE(x.r->n_sends == 1);
  CHECK_STR(x.r->sends[0].text, "bot.response_rate = 1 here (from channel 100).");
  int before = x.f->submits;
  CHECK_OK(say(&x, 2, ALICE, "nice weather"));
  drain(&x);
  CHECK_INT(x.f->submits, before + 1); /* rate 1 here: it joins in */
  CHECK_OK(say_in(&x, 3, CHAN + 1, GUILD, ALICE, "nice weather", 0));
  drain(&x);
  CHECK_INT(x.f->submits, before + 1); /* the global 0 elsewhere */
  /* the server's value reaches every channel without its own; the cooldown is layered too */
  CHECK_OK(say(&x, 4, BOSS, "!setting bot.response_rate 1 server"));
  CHECK(strstr(x.r->sends[x.r->n_sends - 1].text, "(from guild 1)") == NULL); /* channel wins */
  CHECK_OK(say(&x, 5, BOSS, "!setting bot.cooldown_s 3600 server"));
  CHECK_OK(say_in(&x, 6, CHAN + 1, GUILD, ALICE, "more weather", 0));
  drain(&x);
  CHECK_INT(x.f->submits, before + 2);
  CHECK_OK(say_in(&x, 7, CHAN + 1, GUILD, ALICE, "and more weather", 0));
  drain(&x);
  CHECK_INT(x.f->submits, before + 2); /* within the server's cooldown */
  CHECK_OK(say(&x, 8, BOSS, "!setting bot.response_rate default"));
  CHECK_STR(x.r->sends[x.r->n_sends - 1].text, "bot.response_rate = 1 here (from guild 1).");
  CHECK_OK(say(&x, 9, BOSS, "!setting bot.response_rate"));
  CHECK_STR(x.r->sends[x.r->n_sends - 1].text, "bot.response_rate = 1 here (from guild 1).");
  CHECK_OK(say(&x, 10, BOSS, "!setting bot.response_rate 7"));
  CHECK(strstr(x.r->sends[x.r->n_sends - 1].text, "Could not set bot.response_rate") != NULL);
  CHECK_OK(say(&x, 11, BOSS, "!setting bot.token abc"));
  CHECK(strstr(x.r->sends[x.r->n_sends - 1].text, "Usage: !setting <key>") != NULL);
  int n = x.r->n_sends;
  CHECK_OK(say(&x, 12, ALICE, "!setting bot.response_rate 1")); /* not an admin: ignored */
  CHECK_INT(x.r->n_sends, n);
  fx_free(&x);
}

int main(void) {
  RUN(a_persona_named_answers_through_its_webhook);
  RUN(a_reply_to_a_persona_goes_to_it_and_its_own_messages_are_not_answered);
  RUN(two_personas_with_freewill_one_do_not_loop);
  RUN(keywords_and_threads);
  RUN(dm_choice_and_clear);
  RUN(admin_persona_commands);
  RUN(settings_are_layered_for_the_bot_user_too);
  RUN(a_persona_reads_its_own_lore);
  RUN(relevance_reads_a_personas_lore);
  RUN(admins_set_a_channels_and_the_servers_values);
  TEST_MAIN_END();
}
