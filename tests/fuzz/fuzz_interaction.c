/* Fuzz target for interaction payloads: the bytes are one INTERACTION_CREATE's d object, parsed
 * as the gateway parses it (discord_interaction_parse) and answered by a fresh bot on an
 * in-memory database: slash commands with any options (twins and slash-only ones), autocomplete,
 * components and modals, by an admin or not. Invariants: nothing crashes or leaks, at most one
 * initial response per interaction, and every answer is valid UTF-8 within Discord's 2,000
 * characters. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "bot/bot.h"
#include "bot/bot_harness.h"
#include "bot/fake_backend.h"
#include "discord/commands.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const rec *r) {
  if (r->n_responses > 1) {
    fprintf(stderr, "fuzz_interaction: %d initial responses to one interaction\n", r->n_responses);
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
  if (bot_handle_event(b, ev)) err_clear();
  for (int i = 0; i < 4 && bot_inflight(b); i++) {
    fake_release(f, 10);
    fake_wait_cancelled(f);
    bot_poll(b);
  }
  check(r);
  discord_event_free(ev);
  bot_destroy(b);
  llm_backend_destroy(&f->base);
  store_close(s);
  cfg_destroy(c);
  mem_free(r);
  err_clear();
  return 0;
}
