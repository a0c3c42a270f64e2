/* Fuzz target for interaction payloads: the bytes are one INTERACTION_CREATE's d object, parsed
 * as the gateway parses it (discord_interaction_parse) and answered by a fresh bot on an
 * in-memory database: slash commands with any options (twins and slash-only ones), autocomplete,
 * components and forms (MODAL_SUBMIT: a lore draft's, a story move's), by an admin or not, with a
 * lore draft and an open story round to reach. Invariants: nothing crashes or leaks, at most one
 * initial response per interaction, a form (type 9) only as the first answer to a command or a
 * component, and every answer is valid UTF-8 within Discord's 2,000 characters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "bot/bot.h"
#include "bot/bot_harness.h"
#include "bot/fake_backend.h"
#include "discord/commands.h"
#include "lore/lore.h"
#include "store/games.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const rec *r, const discord_interaction *in) {
  if (r->n_responses > 1) {
    fprintf(stderr, "fuzz_interaction: %d initial responses to one interaction\n", r->n_responses);
    abort();
  }
  /* Discord's rule: a form opens only as the first answer to a command or a component */
  if (r->n_responses && r->responses[0].type == DISCORD_RESPONSE_MODAL &&
      (in->type == 5 || (in->type != 2 && in->type != 3) || r->n_followups)) {
    fprintf(stderr, "fuzz_interaction: a modal in answer to an interaction of type %d\n", in->type);
    abort();
  }
  for (int i = 0; i < r->n_responses; i++) {
    const char *t = r->responses[i].text;
    if (!utf8_valid(t, strlen(t)) || strlen(t) > 2000) {
      fprintf(stderr, "fuzz_interaction: bad response: %s\n", t);
      abort();
    }
  }
  for (int i = 0; i < r->n_followups; i++) {
    const char *t = r->followups[i].text;
    if (!utf8_valid(t, strlen(t)) || strlen(t) > 2000) {
      fprintf(stderr, "fuzz_interaction: bad follow-up: %s\n", t);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  log_set_level(LOG_ERROR);
  discord_event *ev = NULL;
  if (discord_interaction_parse((const char *)data, size, &ev)) {
    err_clear();
    return 0;
  }
  cfg *c = cfg_new();
  store *s = NULL;
  fake_backend *f = fake_new(false);
  rec *r = xcalloc(1, sizeof *r);
  bot_actions act = rec_actions(r);
  bot *b = NULL;
  if (cfg_set(c, "bot.admins", "9", CFG_SRC_FILE) || store_open(":memory:", &s)) abort();
  bot_opts o = {
      .config = c, .db = s, .backend = &f->base, .actions = &act, .now_ms = h_clock, .seed = 1};
  if (bot_new(&o, &b) || h_ready(b, 1000, "mimic")) abort();
  /* something for forms and buttons to reach: lore draft #1 of guild 1 (/drafts edit 1,
   * "draft:edit:1") and story game #1 in channel 100 at round 2 ("game:story:1:2:0",
   * "game:write:1:2", "game:move:1:2") */
  static const char book[] = "{\"entries\":[{\"comment\":\"Tide\",\"content\":\"The sea "
                             "rises.\",\"keys\":[\"Tide\"]}]}";
  if (lore_add_book_json(s, "scheduled:draft:1", book, sizeof book - 1, "draft:guild:1", NULL,
                         NULL))
    abort();
  store_game g = {.guild_id = 1,
                  .channel_id = 100,
                  .round = 2,
                  .rounds = 3,
                  .phase = STORE_GAME_OPEN,
                  .deadline_ms = h_now + 60000,
                  .created_ms = h_now};
  str_lcpy(g.kind, "story", sizeof g.kind);
  str_lcpy(g.question, "A door.", sizeof g.question);
  str_lcpy(g.state, "{\"choices\":[\"Open\",\"Knock\"],\"base\":2}", sizeof g.state);
  if (store_game_start(s, &g) || store_game_vote(s, g.id, 1, 12, 0, h_now)) abort();
  if (bot_handle_event(b, ev)) err_clear();
  for (int i = 0; i < 4 && bot_inflight(b); i++) {
    fake_release(f, 10);
    fake_wait_cancelled(f);
    bot_poll(b);
  }
  check(r, &ev->u.interaction);
  discord_event_free(ev);
  bot_destroy(b);
  llm_backend_destroy(&f->base);
  store_close(s);
  cfg_destroy(c);
  mem_free(r);
  err_clear();
  return 0;
}
