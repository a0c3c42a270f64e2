/* The persona tests' fixture (test_bot_persona.c, test_bot_scenario.c): a bot on an in-memory
 * store with a persona webhook saved for CHAN, the recording actions and the held fake engine;
 * personas added to the store before fx_start; messages said in the channel; persona posts
 * echoed back as webhook messages; drain releases the engine until nothing is in flight. */
#ifndef MIMIC_TESTS_BOT_PERSONA_FIXTURE_H
#define MIMIC_TESTS_BOT_PERSONA_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>

#include "bot/bot.h"
#include "bot_fixture.h"
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

typedef h_fx fx;

static inline void fx_cfg(fx *x, const char *key, const char *val) { h_fx_cfg(x, key, val); }

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
  h_fx_init(x, NULL, false);
  fx_cfg(x, "bot.admins", "9");
  store_hook h = {.channel_id = CHAN, .webhook_id = HOOK};
  str_lcpy(h.token, "token-of-the-hook", sizeof h.token);
  if (store_hook_put(x->s, &h)) abort();
}

static inline void fx_start(fx *x) { h_fx_bot(x, (bot_opts){.seed = 42, .embedder = x->emb}); }

static inline void fx_free(fx *x) { h_fx_free(x); }

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
  h_fx_drain(x);
  bot_poll(x->b);
}

#endif
