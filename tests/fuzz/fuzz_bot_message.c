/* Fuzz target for the bot's handling of message text: command parsing and argument validation
 * (anyone on a server can type them; two personas exist, for !persona and !scenario), mention
 * rendering, prompt building and the reply path. The first byte picks the author (an admin or
 * not), whether the bot is mentioned, and the scripted model output, or (bit 3) an engine that
 * answers with the message itself, so the reply cleaner's speaker tags ("k: ...", members known to
 * the store) see fuzzed text; the rest is the content. Invariants: nothing crashes or leaks, every
 * post is valid UTF-8 and never carries a live
 * @everyone/@here. A fresh bot on an in-memory database per input, so state (a !restart, an
 * opt-out) never leaks between inputs. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "bot/bot.h"
#include "bot/bot_harness.h"
#include "bot/fake_backend.h"
#include "store/persona.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_posts(const rec *r) {
  for (int i = 0; i < r->n_sends + r->n_personas; i++) {
    const char *t = i < r->n_sends ? r->sends[i].text : r->personas[i - r->n_sends].text;
    if (!utf8_valid(t, strlen(t)) || strstr(t, "@everyone") || strstr(t, "@here")) {
      fprintf(stderr, "fuzz_bot_message: bad post: %s\n", t);
      abort();
    }
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  log_set_level(LOG_ERROR);
  uint8_t mode = data[0];
  /* The discord layer hands over valid UTF-8; repair what the fuzzer made so the bot sees the
   * same kind of text. */
  char *content = utf8_repair((const char *)data + 1, size - 1);
  if (!content) return 0;
  static const char *outputs[] = {"@everyone hi <@&1> @here",
                                  "",
                                  "<think>x</think>",
                                  "fine",
                                  "mimic: \xF0\x9F\x98\x82",
                                  "<|im_end|>junk",
                                  "!ERR",
                                  "a\nb"};
  cfg *c = cfg_new();
  store *s = NULL;
  fake_backend *f = fake_new(false);
  f->dflt = (mode & 8) ? content : outputs[(mode >> 4) & 7];
  rec *r = xcalloc(1, sizeof *r);
  bot_actions act = rec_actions(r);
  bot *b = NULL;
  if (cfg_set(c, "bot.admins", "9", CFG_SRC_FILE) ||
      cfg_set(c, "bot.response_rate", "1", CFG_SRC_FILE) || store_open(":memory:", &s))
    abort();
  store_user k = {.id = 77777, .name = "k", .display_name = "Dr: Who"};
  if (store_user_upsert(s, &k)) abort();
  /* two personas, so persona and scene commands (!persona, !scenario) parse their arguments */
  static const char *const cast[] = {"Glordon", "Elio"};
  for (int i = 0; i < 2; i++) {
    store_persona p;
    store_persona_init(&p);
    p.name = xstrdup(cast[i]);
    if ((i == 0 && store_strv_push(&p.aliases, "the potato")) || store_persona_add(s, &p)) abort();
    store_persona_free(&p);
  }
  bot_opts o = {
      .config = c, .db = s, .backend = &f->base, .actions = &act, .now_ms = h_clock, .seed = 1};
  if (bot_new(&o, &b) || h_ready(b, 1000, "mimic")) abort();
  h_msg hm;
  h_user who = {(mode & 1) ? 9 : 11, (mode & 1) ? "boss" : "alice", false};
  h_message(&hm, 77, 100, (mode & 4) ? 0 : 1, who, content);
  if (mode & 2) h_mention(&hm, 1000);
  if (bot_handle_event(b, &hm.ev)) err_clear();
  for (int i = 0; i < 4 && bot_inflight(b); i++) {
    fake_release(f, 10);
    fake_wait_cancelled(f);
    bot_poll(b);
  }
  check_posts(r);
  bot_destroy(b);
  llm_backend_destroy(&f->base);
  store_close(s);
  cfg_destroy(c);
  mem_free(r);
  mem_free(content);
  err_clear();
  return 0;
}
