/* Tests for the resource profiles (backend.h: llm_backend_ondemand_new, engine.preload,
 * engine.idle_unload_s) on a tiny model written by mimic's GGUF writer (a from-scratch export):
 * a request loads the model; idle past the limit, by an injected clock, unloads it; the next
 * request loads it again and gives the same text. Requests that arrive while unloaded share one
 * load; a load that fails fails its requests with the reason; preload loads at once; the
 * configuration builds the right profile. No sleeps: the clock is the test's. */
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend.h"
#include "train/train.h"
#include "test.h"

static char model[128];
static int64_t fake_ms = 1000000;
static atomic_int loads;

static int64_t fake_now(void *user) {
  (void)user;
  return fake_ms;
}

typedef struct load_ctx {
  const char *path;
} load_ctx;

static int load_local(void *user, llm_backend **out) {
  load_ctx *lc = user;
  atomic_fetch_add(&loads, 1);
  llm_local_opts o = {.model_path = lc->path, .threads = 1, .slots = 2, .ctx = 64};
  return llm_backend_local_new(&o, out);
}

static llm_backend *ondemand(const char *path, bool preload, int64_t idle_ms) {
  static load_ctx lc;
  lc.path = path;
  llm_ondemand_opts o = {.load = load_local,
                         .user = &lc,
                         .slots = 2,
                         .preload = preload,
                         .idle_unload_ms = idle_ms,
                         .now_ms = fake_now,
                         .manual = true};
  llm_backend *b = NULL;
  if (llm_backend_ondemand_new(&o, &b)) return NULL;
  return b;
}

static void request(llm_request *r) {
  llm_request_init(r);
  r->prompt = "hello there";
  r->max_tokens = 8;
  r->sampling.temperature = 0; /* greedy: the same text every time */
  r->sampling.seed = 7;
}

TEST(load_on_request_unload_when_idle_reload_same_text) {
  atomic_store(&loads, 0);
  llm_backend *b = ondemand(model, false, 60000);
  REQUIRE(b);
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_UNLOADED);
  CHECK_STR(llm_model_state_name(llm_backend_model_state(b)), "unloaded");
  CHECK_INT(atomic_load(&loads), 0);
  llm_request r;
  request(&r);
  llm_result a, c;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK(a.gen_tokens > 0);
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_LOADED);
  CHECK_INT(atomic_load(&loads), 1);
  /* not idle long enough */
  fake_ms += 59999;
  CHECK(!llm_backend_idle_check(b));
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_LOADED);
  fake_ms += 1;
  CHECK(llm_backend_idle_check(b));
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_UNLOADED);
  CHECK(!llm_backend_idle_check(b)); /* nothing left to unload */
  llm_backend_stats st;
  llm_backend_stats_get(b, &st);
  CHECK_INT(st.slots, 2);
  CHECK_INT(st.completed, 1);
  /* the next request loads it again, and the model answers as before */
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c));
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_LOADED);
  CHECK_INT(atomic_load(&loads), 2);
  CHECK_STR(c.text, a.text);
  CHECK_INT(c.gen_tokens, a.gen_tokens);
  llm_result_free(&c);
  /* a request resets the idle time */
  fake_ms += 40000;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c));
  llm_result_free(&c);
  fake_ms += 40000;
  CHECK(!llm_backend_idle_check(b));
  llm_result_free(&a);
  llm_backend_destroy(b);
}

typedef struct counter {
  atomic_int done;
  atomic_int ok;
} counter;

static void on_done(void *user, llm_result *res) {
  counter *k = user;
  if (res->finish != LLM_FINISH_ERROR && res->gen_tokens > 0) atomic_fetch_add(&k->ok, 1);
  atomic_fetch_add(&k->done, 1);
  llm_result_destroy(res);
}

TEST(requests_while_unloaded_share_one_load) {
  atomic_store(&loads, 0);
  llm_backend *b = ondemand(model, false, 1000);
  REQUIRE(b);
  counter k;
  atomic_init(&k.done, 0);
  atomic_init(&k.ok, 0);
  llm_request r;
  request(&r);
  for (int i = 0; i < 3; i++) CHECK_OK(llm_backend_submit(b, &r, NULL, on_done, &k, NULL));
  /* one more, synchronous: it returns after its own, and the others run on the same load */
  llm_result x;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &x));
  llm_result_free(&x);
  llm_backend_destroy(b); /* waits for every on_done */
  CHECK_INT(atomic_load(&k.done), 3);
  CHECK_INT(atomic_load(&k.ok), 3);
  CHECK_INT(atomic_load(&loads), 1);
}

TEST(a_failed_load_fails_its_requests_and_preload_fails_early) {
  char missing[160];
  snprintf(missing, sizeof missing, "%s.missing", model);
  llm_backend *b = ondemand(missing, false, 0);
  REQUIRE(b);
  llm_request r;
  request(&r);
  llm_result x;
  CHECK(llm_backend_generate(b, &r, NULL, NULL, &x) != 0);
  CHECK(strstr(x.error_msg, "missing") != NULL);
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_UNLOADED);
  llm_result_free(&x);
  /* an adapter that cannot be read is refused while unloaded too */
  CHECK_INT(llm_backend_adapter_load(b, "p", missing, 1.0f), MIMIC_ENOTFOUND);
  llm_backend_destroy(b);
  CHECK(ondemand(missing, true, 0) == NULL);
  /* preload: loaded before the first request */
  atomic_store(&loads, 0);
  b = ondemand(model, true, 0);
  REQUIRE(b);
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_LOADED);
  CHECK_INT(atomic_load(&loads), 1);
  fake_ms += 1000000000;
  CHECK(!llm_backend_idle_check(b)); /* idle_unload 0: never */
  llm_backend_destroy(b);
}

TEST(the_thread_unloads_by_itself) {
  /* Not manual: the backend's own thread notices the idle time. With a 1 ms limit it looks every
   * millisecond by the real clock and decides by the test's, so it unloads once the test moves its
   * clock; the test waits for that state (no sleep), with a bound in case it never comes. */
  static load_ctx lc;
  lc.path = model;
  llm_ondemand_opts o = {.load = load_local,
                         .user = &lc,
                         .slots = 2,
                         .preload = true,
                         .idle_unload_ms = 1,
                         .now_ms = fake_now};
  llm_backend *b = NULL;
  REQUIRE(llm_backend_ondemand_new(&o, &b) == 0);
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_LOADED);
  fake_ms += 5;
  long spins = 0;
  while (llm_backend_model_state(b) != LLM_MODEL_UNLOADED && spins < 2000000000L) {
    sched_yield();
    spins++;
  }
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_UNLOADED);
  llm_request r;
  request(&r);
  llm_result x;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &x));
  CHECK(x.gen_tokens > 0);
  llm_result_free(&x);
  llm_backend_destroy(b);
}

TEST(the_configuration_picks_the_profile) {
  cfg *c = cfg_new();
  CHECK_OK(cfg_set(c, "engine.model", model, CFG_SRC_CLI));
  CHECK_OK(cfg_set(c, "engine.threads", "1", CFG_SRC_CLI));
  CHECK_OK(cfg_set(c, "engine.ctx", "128", CFG_SRC_CLI));
  CHECK_OK(cfg_set(c, "engine.slots", "2", CFG_SRC_CLI));
  llm_backend *b = NULL;
  /* the defaults: preloaded, never unloaded */
  CHECK_OK(llm_backend_from_config(c, &b));
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_LOADED);
  CHECK(!llm_backend_idle_check(b));
  llm_backend_destroy(b);
  /* load on first use */
  CHECK_OK(cfg_set(c, "engine.preload", "false", CFG_SRC_CLI));
  CHECK_OK(cfg_set(c, "engine.idle_unload_s", "600", CFG_SRC_CLI));
  CHECK_OK(llm_backend_from_config(c, &b));
  CHECK_INT(llm_backend_model_state(b), LLM_MODEL_UNLOADED);
  CHECK(!llm_backend_idle_check(b));
  llm_backend_destroy(b);
  /* a model that is not there is reported at start, not at the first message */
  char missing[160];
  snprintf(missing, sizeof missing, "%s.missing", model);
  CHECK_OK(cfg_set(c, "engine.model", missing, CFG_SRC_CLI));
  CHECK_INT(llm_backend_from_config(c, &b), MIMIC_ENOTFOUND);
  CHECK(strstr(err_msg(), "engine.model") != NULL);
  cfg_destroy(c);
}

int main(void) {
  snprintf(model, sizeof model, "/tmp/mimic_idle_%d.gguf", (int)getpid());
  train_scratch_opts o = {.arch = "qwen2",
                          .n_layer = 2,
                          .n_embd = 32,
                          .n_head = 4,
                          .n_head_kv = 2,
                          .n_ff = 64,
                          .n_ctx = 64};
  train_model *m = NULL;
  if (train_model_new_scratch(&o, 3, 32, NULL, &m) || train_model_export(m, model)) {
    printf("cannot make the tiny model: %s\n", err_msg());
    return 1;
  }
  train_model_destroy(m);
  RUN(load_on_request_unload_when_idle_reload_same_text);
  RUN(requests_while_unloaded_share_one_load);
  RUN(a_failed_load_fails_its_requests_and_preload_fails_early);
  RUN(the_thread_unloads_by_itself);
  RUN(the_configuration_picks_the_profile);
  unlink(model);
  TEST_MAIN_END();
}
