/* The fixture the bot tests share: a config, a store (in memory, or a database file so a test can
 * "kill" the bot and start it again), the fake engine, the recording actions
 * (with echoes of the bot's own posts queued under ids from next_id) and a bot made READY as SELF
 * "mimic". Use: h_fx_init, then h_fx_cfg for the keys the test needs and anything the store should
 * hold before the bot starts, then h_fx_bot; h_fx_free at the end. Every step aborts with the error
 * on failure: a broken fixture is not a test result. Header-only, like bot_harness.h. */
#ifndef MIMIC_TESTS_BOT_FIXTURE_H
#define MIMIC_TESTS_BOT_FIXTURE_H
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bot/bot.h"
#include "bot_harness.h"
#include "fake_backend.h"
#include "lore/lore.h"
#include "store/store.h"

#ifndef SELF
#define SELF 1000
#endif

typedef struct h_fx {
  cfg *c;
  store *s;
  fake_backend *f;
  rec *r;
  bot_actions act;
  bot *b;
  uint64_t next_id; /* the last message id handed out (people's and the echoes of the bot's) */
  char dir[64];     /* the fresh folder made for the database, else "" */
  char db[128];     /* the database: a file, or ":memory:" */
  const lore_embedder *emb; /* the sentence encoder a test hands the bot, or NULL */
  int echoed;               /* persona posts delivered back so far (persona_fixture.h) */
} h_fx;

static inline void h_fx_cfg(h_fx *x, const char *key, const char *val) {
  if (cfg_set(x->c, key, val, CFG_SRC_FILE)) {
    printf("config %s=%s: %s\n", key, val, err_msg());
    abort();
  }
}

/* A config with the tests' common knobs: no chance replies, no cooldown, no flood limit. */
static inline cfg *h_fx_config(void) {
  cfg *c = cfg_new();
  if (cfg_set(c, "bot.response_rate", "0", CFG_SRC_FILE) ||
      cfg_set(c, "bot.cooldown_s", "0", CFG_SRC_FILE) ||
      cfg_set(c, "bot.user_flood_per_min", "0", CFG_SRC_FILE))
    abort();
  return c;
}

/* Opens h_fx_config(), the store (db: NULL in memory, "" a fresh folder's mimic.db, else that
 * file), the fake engine (answering on its own thread when auto_reply, else holding each job
 * until released) and the recorder. */
static inline void h_fx_init(h_fx *x, const char *db, bool auto_reply) {
  memset(x, 0, sizeof *x);
  x->c = h_fx_config();
  str_lcpy(x->db, db && db[0] ? db : ":memory:", sizeof x->db);
  if (db && !db[0]) {
    str_lcpy(x->dir, "/tmp/mimic-botfx-XXXXXX", sizeof x->dir);
    if (!mkdtemp(x->dir)) abort();
    snprintf(x->db, sizeof x->db, "%s/mimic.db", x->dir);
  }
  if (store_open(x->db, &x->s)) {
    printf("store_open %s: %s\n", x->db, err_msg());
    abort();
  }
  x->f = fake_new(auto_reply);
  x->r = xcalloc(1, sizeof *x->r);
  x->r->self_id = SELF;
  x->r->self_name = "mimic";
  x->r->self_bot = true;
  x->next_id = 5000;
  x->r->next_id = &x->next_id;
  x->act = rec_actions(x->r);
}

/* Starts the bot with o's other fields (seed, persona, model name, embedder, vision, wake...);
 * the config, store, engine, actions and clock are the fixture's. */
static inline void h_fx_bot(h_fx *x, bot_opts o) {
  o.config = x->c;
  o.db = x->s;
  o.backend = &x->f->base;
  o.actions = &x->act;
  o.now_ms = h_clock;
  if (bot_new(&o, &x->b) || h_ready(x->b, SELF, "mimic")) {
    printf("bot: %s\n", err_msg());
    abort();
  }
}

/* The process dies and comes back: the bot goes (its generations cancelled), the store closes,
 * and a new bot with o opens the same database (fixtures with a database file). */
static inline void h_fx_restart(h_fx *x, bot_opts o) {
  bot_destroy(x->b);
  store_close(x->s);
  if (store_open(x->db, &x->s)) abort();
  h_fx_bot(x, o);
}

/* Releases every held generation and polls until nothing is in flight (bounded rounds). */
static inline void h_fx_drain(h_fx *x) {
  for (int round = 0; round < 50; round++) {
    fake_release(x->f, 1000);
    fake_wait_cancelled(x->f);
    bot_poll(x->b);
    if (bot_inflight(x->b) == 0 && fake_held(x->f) == 0) return;
  }
}

static inline void h_fx_free(h_fx *x) {
  bot_destroy(x->b);
  llm_backend_destroy(&x->f->base);
  store_close(x->s);
  cfg_destroy(x->c);
  mem_free(x->r);
  if (x->dir[0]) {
    const char *files[] = {"mimic.db", "mimic.db-wal", "mimic.db-shm"};
    for (size_t i = 0; i < 3; i++) {
      char p[160];
      snprintf(p, sizeof p, "%s/%s", x->dir, files[i]);
      unlink(p);
    }
    rmdir(x->dir);
  }
}

#endif
