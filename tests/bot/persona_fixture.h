/* The persona tests' fixture (test_bot_persona.c, test_bot_scenario.c): a bot on an in-memory
 * store with a persona webhook saved for CHAN, the recording actions and the held fake engine;
 * personas added to the store before fx_start; messages said in the channel; persona posts
 * echoed back as webhook messages; drain releases the engine until nothing is in flight. */
#ifndef MIMIC_TESTS_BOT_PERSONA_FIXTURE_H
#define MIMIC_TESTS_BOT_PERSONA_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>

#include "bot/bot.h"
#include "bot_harness.h"
#include "fake_backend.h"
#include "lore/lore.h"
#include "store/persona.h"
#include "store/store.h"
#include "store/webhooks.h"

#define SELF  1000
#define GUILD 1
#define CHAN  100
#define HOOK  777 /* the channel's persona webhook, as the runtime saved it */

static const h_user ALICE = {11, "alice", false};
static const h_user BOSS = {9, "boss", false};

typedef struct fx {
  cfg *c;
  store *s;
  fake_backend *f;
  rec *r;
  bot_actions act;
  bot *b;
  uint64_t next_id;
  int echoed;               /* persona posts delivered back as webhook messages */
  const lore_embedder *emb; /* the sentence encoder (relevance), or NULL */
} fx;

static inline void fx_cfg(fx *x, const char *key, const char *val) {
  if (cfg_set(x->c, key, val, CFG_SRC_FILE)) {
    printf("cfg_set %s=%s: %s\n", key, val, err_msg());
    abort();
  }
}

static inline int64_t add_persona(fx *x, const char *name, const char *alias, const char *keyword,
                                  double freewill) {
  store_persona p;
  store_persona_init(&p);
  p.name = xstrdup(name);
  p.description = xstrdup("{{char}} is a character from a film, talking to {{user}}.");
  p.avatar = xstrdup("https://example.com/face.png");
  p.freewill = freewill;
  if (alias && store_strv_push(&p.aliases, alias)) abort();
  if (keyword && store_strv_push(&p.keywords, keyword)) abort();
  if (store_persona_add(x->s, &p)) {
    printf("add persona: %s\n", err_msg());
    abort();
  }
  int64_t id = p.id;
  store_persona_free(&p);
  return id;
}

static inline void fx_init(fx *x) {
  memset(x, 0, sizeof *x);
  x->c = cfg_new();
  fx_cfg(x, "bot.admins", "9");
  fx_cfg(x, "bot.response_rate", "0");
  fx_cfg(x, "bot.cooldown_s", "0");
  fx_cfg(x, "bot.user_flood_per_min", "0");
  if (store_open(":memory:", &x->s)) abort();
  store_hook h = {.channel_id = CHAN, .webhook_id = HOOK};
  str_lcpy(h.token, "token-of-the-hook", sizeof h.token);
  if (store_hook_put(x->s, &h)) abort();
  x->f = fake_new(false);
  x->r = xcalloc(1, sizeof *x->r);
  x->r->self_id = SELF;
  x->r->self_name = "mimic";
  x->r->self_bot = true;
  x->next_id = 5000;
  x->r->next_id = &x->next_id;
  x->act = rec_actions(x->r);
}

static inline void fx_start(fx *x) {
  bot_opts o = {.config = x->c,
                .db = x->s,
                .backend = &x->f->base,
                .actions = &x->act,
                .now_ms = h_clock,
                .seed = 42,
                .embedder = x->emb};
  if (bot_new(&o, &x->b) || h_ready(x->b, SELF, "mimic")) {
    printf("bot: %s\n", err_msg());
    abort();
  }
}

static inline void fx_free(fx *x) {
  bot_destroy(x->b);
  llm_backend_destroy(&x->f->base);
  store_close(x->s);
  cfg_destroy(x->c);
  mem_free(x->r);
}

static inline int say_in(fx *x, uint64_t id, uint64_t chan, uint64_t guild, h_user who,
                         const char *text, uint64_t ref) {
  h_msg hm;
  h_message(&hm, id, chan, guild, who, text);
  hm.ev.u.message.ref_message_id = ref;
  return bot_handle_event(x->b, &hm.ev);
}

static inline int say(fx *x, uint64_t id, h_user who, const char *text) {
  return say_in(x, id, CHAN, GUILD, who, text, 0);
}

/* Delivers persona posts not yet echoed as the webhook messages Discord would send back. */
static inline void echo_personas(fx *x) {
  for (; x->echoed < x->r->n_personas; x->echoed++) {
    const rec_persona *p = &x->r->personas[x->echoed];
    h_msg hm;
    h_message(&hm, ++x->next_id, p->thread ? p->thread : p->channel, GUILD,
              (h_user){HOOK, p->username, true}, p->text);
    hm.ev.u.message.webhook_id = HOOK;
    if (bot_handle_event(x->b, &hm.ev)) err_clear();
  }
}

static inline void drain(fx *x) {
  for (int round = 0; round < 50; round++) {
    fake_release(x->f, 1000);
    fake_wait_cancelled(x->f);
    bot_poll(x->b);
    if (bot_inflight(x->b) == 0 && fake_held(x->f) == 0) {
      bot_poll(x->b);
      return;
    }
  }
}

#endif
