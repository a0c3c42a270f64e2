/* Tests for background knowledge in the bot's prompt: triggered World Info, retrieved lore and
 * recalled community messages join the system turn marked as background (never as turns of the
 * conversation), each kind switched off per guild or per persona, within lore.budget_tokens; with
 * a fake encoder the vector path is used too, and lore passages without a vector, then new
 * messages, are embedded in the background. */
#include <inttypes.h>
#include <stdlib.h>
#include <unistd.h>

#include "../lore/fake_embed.h"
#include "bot/bot.h"
#include "bot_fixture.h"
#include "lore/lore.h"
#include "store/store.h"
#include "store/vectors.h"
#include "test.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100

static const h_user ALICE = {11, "alice", false};
static const h_user BOB = {12, "bob", false};

typedef h_fx fx;

static void fx_init(fx *x, const char *persona, const lore_embedder *emb) {
  h_fx_init(x, NULL, false);
  h_fx_bot(x,
           (bot_opts){.seed = 42, .persona = persona, .model_name = "tiny.gguf", .embedder = emb});
}

static void fx_free(fx *x) { h_fx_free(x); }

static void fx_drain(fx *x) { h_fx_drain(x); }

/* Someone mentions the bot; returns the prompt the engine got ("role|name|content" lines). */
static const char *ask(fx *x, uint64_t id, h_user who, const char *text) {
  h_now += 60000;
  h_msg hm;
  h_message(&hm, id, CHAN, GUILD, who, text);
  h_mention(&hm, SELF);
  const char *script[] = {"ok"};
  fake_script(x->f, script, 1);
  int before = x->f->submits;
  if (bot_handle_event(x->b, &hm.ev)) printf("  event: %s\n", err_msg());
  fx_drain(x);
  return x->f->submits > before ? x->f->last_prompt : "";
}

static const char *book = "{\"entries\":{"
                          "\"0\":{\"key\":[\"dragon\"],\"content\":\"Smaug sleeps on the gold.\"},"
                          "\"1\":{\"key\":[\"elf\"],\"content\":\"Elves never lie.\"},"
                          "\"2\":{\"key\":[\"orc\"],\"content\":\"Orcs fear the sun.\","
                          "\"order\":5}}}";

/* The system turn is the prompt's first line(s) up to the first "user|" or "assistant|" turn. */
static bool in_system(const char *prompt, const char *what) {
  const char *hit = strstr(prompt, what);
  const char *turn = strstr(prompt, "\nuser|");
  return hit && strncmp(prompt, "system|", 7) == 0 && (!turn || hit < turn);
}

TEST(triggered_world_info_is_background) {
  fx x;
  fx_init(&x, NULL, NULL);
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "", NULL, NULL));
  const char *p = ask(&x, 1, ALICE, "<@1000> is the dragon awake?");
  CHECK(in_system(p, "Background knowledge"));
  CHECK(in_system(p, "Smaug sleeps on the gold."));
  CHECK(strstr(p, "Elves never lie.") == NULL); /* not triggered */
  CHECK(strstr(p, "user|alice|@mimic is the dragon awake?") != NULL);
  /* Switched off for this guild: gone. */
  CHECK_OK(store_setting_set(x.s, "guild:1", "lore.world_info", "false"));
  p = ask(&x, 2, BOB, "<@1000> the dragon again");
  CHECK(strstr(p, "Smaug") == NULL);
  CHECK(strstr(p, "Background knowledge") == NULL);
  fx_free(&x);
}

TEST(persona_switch_wins_over_guild) {
  fx x;
  fx_init(&x, "gandalf", NULL);
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "gandalf", NULL, NULL));
  CHECK_OK(store_setting_set(x.s, "guild:1", "lore.world_info", "false"));
  CHECK_OK(store_setting_set(x.s, "persona:gandalf", "lore.world_info", "true"));
  const char *p = ask(&x, 1, ALICE, "<@1000> an elf and an orc walk in");
  CHECK(in_system(p, "Elves never lie."));
  CHECK(in_system(p, "Orcs fear the sun."));
  /* Ordered by `order`: the orc entry (5) before the elf entry (100). */
  CHECK(strstr(p, "Orcs fear") < strstr(p, "Elves never"));
  CHECK_OK(store_setting_set(x.s, "persona:gandalf", "lore.world_info", "off"));
  p = ask(&x, 2, ALICE, "<@1000> an elf");
  CHECK(strstr(p, "Elves never lie.") == NULL);
  fx_free(&x);
}

TEST(retrieved_lore_and_recalled_messages) {
  fx x;
  fx_init(&x, NULL, NULL);
  /* A lore passage, and an old message in this guild from another channel. */
  char path[] = "/tmp/mimic_botlore_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const char *md = "# Zorblax\n\nZorblax is the three-eyed innkeeper of the Rusty Anchor.\n";
  CHECK(write(fd, md, strlen(md)) == (ssize_t)strlen(md));
  close(fd);
  lore_add_result r = {0};
  CHECK_OK(lore_add_path(x.s, path, &(lore_add_opts){.scope = ""}, &r));
  unlink(path);
  store_msg m = {.id = 50,
                 .channel_id = 200,
                 .guild_id = GUILD,
                 .author_id = 12,
                 .ts_ms = 1,
                 .content = "the rusty anchor has the best pie in town",
                 .source = STORE_SRC_DCE};
  CHECK_OK(store_msg_upsert(x.s, &m, NULL));
  const char *p = ask(&x, 100, ALICE, "<@1000> who runs the rusty anchor, zorblax?");
  CHECK(in_system(p, "[Lore]"));
  CHECK(in_system(p, "three-eyed innkeeper"));
  CHECK(in_system(p, "[Things members said at other times]"));
  CHECK(in_system(p, "\"the rusty anchor has the best pie in town\""));
  CHECK(strstr(p, "user|bob|the rusty anchor") == NULL); /* never a turn */
  /* Recall off, then the whole budget at 0. */
  CHECK_OK(store_setting_set(x.s, "guild:1", "lore.recall", "false"));
  p = ask(&x, 101, ALICE, "<@1000> the rusty anchor, zorblax");
  CHECK(strstr(p, "best pie") == NULL);
  CHECK(in_system(p, "three-eyed"));
  CHECK_OK(store_setting_set(x.s, "guild:1", "lore.budget_tokens", "0"));
  p = ask(&x, 102, ALICE, "<@1000> the rusty anchor, zorblax");
  CHECK(strstr(p, "Background") == NULL);
  /* A purged person is never recalled. */
  CHECK_OK(store_setting_delete(x.s, "guild:1", "lore.budget_tokens"));
  CHECK_OK(store_setting_delete(x.s, "guild:1", "lore.recall"));
  CHECK_OK(store_user_flag_set(x.s, 12, STORE_FLAG_OPTED_OUT, "test"));
  p = ask(&x, 103, ALICE, "<@1000> rusty anchor pie?");
  CHECK(strstr(p, "best pie") == NULL);
  fx_free(&x);
}

/* The budget is spent in order (World Info, then lore), and on a small context the block is cut
 * to a quarter of the prompt instead of being left out whole. */
TEST(budget_in_order_and_within_a_small_context) {
  fx x;
  fx_init(&x, NULL, NULL);
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "", NULL, NULL));
  char path[] = "/tmp/mimic_botlore_XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  buf md;
  buf_init(&md, 0);
  CHECK_OK(buf_puts(&md, "# Zorblax\n\n"));
  for (int i = 0; i < 9; i++) /* one paragraph of about 1100 bytes: one passage */
    CHECK_OK(
        buf_printf(&md, "The dragon Zorblax flew over hill number %d, singing old songs. ", i));
  CHECK_OK(buf_puts(&md, "\n"));
  CHECK(write(fd, md.data, md.len) == (ssize_t)md.len);
  close(fd);
  buf_free(&md);
  lore_add_result r = {0};
  CHECK_OK(lore_add_path(x.s, path, &(lore_add_opts){.scope = ""}, &r));
  unlink(path);
  CHECK_INT(r.chunks, 1);
  const char *p = ask(&x, 1, ALICE, "<@1000> tell me of the dragon zorblax");
  CHECK(in_system(p, "Smaug sleeps on the gold."));
  CHECK(in_system(p, "[Lore]"));
  /* Room for the World Info line only: the lore passage is left out, World Info stays. */
  CHECK_OK(store_setting_set(x.s, "guild:1", "lore.budget_tokens", "20"));
  p = ask(&x, 2, ALICE, "<@1000> the dragon zorblax again");
  CHECK(in_system(p, "Smaug sleeps on the gold."));
  CHECK(strstr(p, "[Lore]") == NULL);
  CHECK_OK(store_setting_delete(x.s, "guild:1", "lore.budget_tokens"));
  /* A small context: the passage (about 600 bytes, 200 tokens) no longer fits a quarter of the
   * prompt, World Info does; the block is there, not dropped whole. */
  CHECK_OK(cfg_set(x.c, "engine.ctx", "400", CFG_SRC_FILE));
  p = ask(&x, 3, ALICE, "<@1000> and the dragon zorblax once more");
  CHECK(in_system(p, "Background knowledge"));
  CHECK(in_system(p, "Smaug sleeps on the gold."));
  CHECK(strstr(p, "[Lore]") == NULL);
  fx_free(&x);
}

TEST(vectors_used_when_an_encoder_is_given) {
  int calls = 0;
  lore_embedder e = fake_embedder(&calls);
  fx x;
  fx_init(&x, NULL, &e);
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "", &e, NULL));
  store_msg m = {.id = 50,
                 .channel_id = 200,
                 .guild_id = GUILD,
                 .author_id = 12,
                 .ts_ms = 1,
                 .content = "lanterns float on the river every spring",
                 .source = STORE_SRC_DCE};
  CHECK_OK(store_msg_upsert(x.s, &m, NULL));
  int64_t n = 0;
  CHECK_OK(lore_embed_history(x.s, &e, 0, NULL, NULL, NULL, &n));
  CHECK_INT(n, 1);
  CHECK_OK(store_setting_set(x.s, "guild:1", "lore.min_score", "0.3"));
  int before = calls;
  const char *p = ask(&x, 100, ALICE, "<@1000> lanterns river spring");
  CHECK(calls > before); /* the query was embedded */
  CHECK(in_system(p, "lanterns float on the river"));
  fx_free(&x);
}

TEST(new_messages_are_embedded_in_the_background) {
  int calls = 0;
  lore_embedder e = fake_embedder(&calls);
  fx x;
  fx_init(&x, NULL, &e);
  for (uint64_t i = 1; i <= 40; i++) {
    h_msg hm;
    h_message(&hm, i, CHAN, GUILD, i % 2 ? ALICE : BOB, "just chatting about boats");
    CHECK_OK(bot_handle_event(x.b, &hm.ev));
  }
  int64_t n = -1;
  CHECK_OK(store_vec_count(x.s, STORE_VEC_MSG, NULL, &n));
  CHECK_INT(n, 0);
  /* Idle and due: one batch per step, resumable through the same cursor as embed-history. */
  h_now += 10000;
  bot_poll(x.b);
  CHECK_OK(store_vec_count(x.s, STORE_VEC_MSG, NULL, &n));
  CHECK_INT(n, LORE_EMBED_BATCH);
  bot_poll(x.b); /* not due yet */
  CHECK_OK(store_vec_count(x.s, STORE_VEC_MSG, NULL, &n));
  CHECK_INT(n, LORE_EMBED_BATCH);
  h_now += 10000;
  bot_poll(x.b);
  CHECK_OK(store_vec_count(x.s, STORE_VEC_MSG, NULL, &n));
  CHECK_INT(n, 40);
  /* Lore passages added without the encoder are embedded first, one batch per step. */
  CHECK_OK(lore_add_book_json(x.s, "book:middle", book, strlen(book), "", NULL, NULL));
  int64_t missing = 0;
  CHECK_OK(store_lore_unembedded_count(x.s, e.name, &missing));
  CHECK(missing > 0);
  h_now += 10000;
  bot_poll(x.b);
  CHECK_OK(store_lore_unembedded_count(x.s, e.name, &missing));
  CHECK_INT(missing, 0);
  CHECK_OK(store_vec_count(x.s, STORE_VEC_LORE, NULL, &n));
  CHECK(n > 0);
  CHECK_OK(store_vec_count(x.s, STORE_VEC_MSG, NULL, &n));
  CHECK_INT(n, 40); /* history waited for the next step */
  /* Recall off in the config: no background work. */
  CHECK_OK(cfg_set(x.c, "lore.recall", "false", CFG_SRC_FILE));
  h_msg hm;
  h_message(&hm, 41, CHAN, GUILD, ALICE, "one more");
  CHECK_OK(bot_handle_event(x.b, &hm.ev));
  h_now += 10000;
  bot_poll(x.b);
  CHECK_OK(store_vec_count(x.s, STORE_VEC_MSG, NULL, &n));
  CHECK_INT(n, 40);
  fx_free(&x);
}

int main(void) {
  RUN(triggered_world_info_is_background);
  RUN(persona_switch_wins_over_guild);
  RUN(retrieved_lore_and_recalled_messages);
  RUN(budget_in_order_and_within_a_small_context);
  RUN(vectors_used_when_an_encoder_is_given);
  RUN(new_messages_are_embedded_in_the_background);
  TEST_MAIN_END();
}
