/* The bot end to end over mimic's own engine (the local backend) on the tiny Qwen2 test model from
 * the shared test data (MIMIC_SHARED; skipped when absent): a mention is answered through real chat
 * rendering, sampling and post-processing, completions come back from the engine thread through the
 * wake callback, and a second turn in the same channel reuses the channel's KV slot (cached prompt
 * tokens recorded). */
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>

#include "bot/bot.h"
#include "bot_harness.h"
#include "store/store.h"
#include "test.h"

#define SELF 1000
#define CHAN 100

static pthread_mutex_t wake_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cv = PTHREAD_COND_INITIALIZER;
static int wakes;

static void on_wake(void *u) {
  (void)u;
  pthread_mutex_lock(&wake_mu);
  wakes++;
  pthread_cond_broadcast(&wake_cv);
  pthread_mutex_unlock(&wake_mu);
}

/* Waits for the engine's completions and lets the bot handle them until nothing is in flight. */
static void run_until_idle(bot *b) {
  while (bot_inflight(b) > 0) {
    pthread_mutex_lock(&wake_mu);
    while (wakes == 0) pthread_cond_wait(&wake_cv, &wake_mu);
    wakes = 0;
    pthread_mutex_unlock(&wake_mu);
    bot_poll(b);
  }
}

static int64_t sum_cached(store *s) {
  sqlite3_stmt *st;
  int64_t v = -1;
  if (sqlite3_prepare_v2(store_db(s),
                         "SELECT COALESCE(SUM(cached_tokens), 0), COUNT(*) FROM bot_replies", -1,
                         &st, NULL) != SQLITE_OK)
    return -1;
  if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return v;
}

TEST(mention_answered_by_the_local_engine_with_kv_reuse) {
  char path[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", path, sizeof path))
    SKIP("testdata/llm/tiny-qwen2-q8_0.gguf absent from MIMIC_SHARED");
  llm_local_opts lo = {
      .model_path = path, .threads = 2, .slots = 2, .ctx = 512, .batch = 64, .queue_max = 8};
  llm_backend *be = NULL;
  REQUIRE(llm_backend_local_new(&lo, &be) == 0);
  cfg *c = cfg_new();
  CHECK_OK(cfg_set(c, "engine.max_tokens", "12", CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "engine.ctx", "512", CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "bot.response_rate", "0", CFG_SRC_FILE));
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  rec *r = xcalloc(1, sizeof *r);
  bot_actions act = rec_actions(r);
  bot_opts o = {.config = c,
                .db = s,
                .backend = be,
                .actions = &act,
                .wake = on_wake,
                .now_ms = h_clock,
                .seed = 11};
  bot *b = NULL;
  REQUIRE(bot_new(&o, &b) == 0);
  CHECK_OK(h_ready(b, SELF, "mimic"));

  h_user alice = {11, "alice", false};
  h_msg hm;
  h_message(&hm, 1, CHAN, 1, alice, "hello there, how is everyone doing today?");
  CHECK_OK(bot_handle_event(b, &hm.ev));
  h_message(&hm, 2, CHAN, 1, alice, "<@1000> what do you think?");
  h_mention(&hm, SELF);
  CHECK_OK(bot_handle_event(b, &hm.ev));
  run_until_idle(b);
  bot_stats st;
  CHECK_OK(bot_stats_compute(s, h_now, 3600000, &st));
  /* A random-weight model may babble only whitespace twice in a row; then "empty" is recorded. */
  CHECK_INT(st.replies + st.empty, 1);
  CHECK_INT(st.errors, 0);
  if (st.replies) {
    REQUIRE(r->n_sends == 1);
    CHECK(r->sends[0].text[0] != 0);
    CHECK_INT(r->sends[0].reply_to, 2);
    CHECK(utf8_valid(r->sends[0].text, strlen(r->sends[0].text)));
    CHECK(st.gen_tokens > 0);
    printf("     reply: %s\n", r->sends[0].text);
  }
  /* The second turn in the channel starts from the slot that holds the first conversation. */
  h_now += 1000;
  h_message(&hm, 3, CHAN, 1, alice, "<@1000> and now?");
  h_mention(&hm, SELF);
  CHECK_OK(bot_handle_event(b, &hm.ev));
  run_until_idle(b);
  int64_t cached = sum_cached(s);
  printf("     cached prompt tokens over both turns: %" PRId64 "\n", cached);
  CHECK(cached > 10);
  bot_destroy(b);
  llm_backend_destroy(be);
  store_close(s);
  cfg_destroy(c);
  mem_free(r);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(mention_answered_by_the_local_engine_with_kv_reuse);
  TEST_MAIN_END();
}
