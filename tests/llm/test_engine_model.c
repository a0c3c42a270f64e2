/* The local backend end to end on the tiny Qwen2 reference model from ../shared (skipped when it is
 * absent): tokenizer + chat rendering + model + slots + sampler + text stream. The first greedy
 * token is checked against llama.cpp's logits for the same prompt, with and without the LoRA
 * adapter; the rest checks the engine's promises on a real model (determinism, concurrency, prefix
 * reuse, cancel). */
#include <pthread.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/backend.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"
#include "test.h"

static char model_path[512], lora_path[512];

static llm_backend *open_backend(int slots) {
  llm_local_opts o = {.model_path = model_path,
                      .threads = 2,
                      .slots = slots,
                      .ctx = 512,
                      .batch = 32,
                      .queue_max = 8};
  llm_backend *b = NULL;
  int rc = llm_backend_local_new(&o, &b);
  if (rc) printf("  open: %s\n", err_msg());
  return b;
}

/* Reads a reference: the prompt's ids (decoded back to text, special tokens rendered) and the
 * argmax of the logits row after the last token, with the gap to the runner-up. */
static int load_ref(const char *name, char **text, int32_t *argmax, float *gap, size_t *n_ids) {
  char p1[512], p2[512], rel[128];
  snprintf(rel, sizeof rel, "testdata/llm/ref-%s.tokens", name);
  if (!test_shared_path(rel, p1, sizeof p1)) return -1;
  snprintf(rel, sizeof rel, "testdata/llm/ref-%s.logits.f32", name);
  if (!test_shared_path(rel, p2, sizeof p2)) return -1;
  int32_t ids[256];
  size_t n = 0;
  FILE *f = fopen(p1, "r");
  long v;
  while (n < 256 && fscanf(f, "%ld", &v) == 1) ids[n++] = (int32_t)v;
  fclose(f);
  *n_ids = n;
  gguf_file *g = NULL;
  tokenizer *t = NULL;
  if (gguf_open(model_path, &g) || tok_load(g, &t)) {
    gguf_close(g);
    return -1;
  }
  size_t len = 0;
  int rc = tok_decode_all(t, ids, n, TOK_DEC_SPECIAL, text, &len);
  int nv = tok_n_vocab(t);
  tok_destroy(t);
  gguf_close(g);
  if (rc) return -1;
  /* The logits file has one row per position; the last row follows the last prompt token. */
  f = fopen(p2, "rb");
  fseek(f, 0, SEEK_END);
  long sz = ftell(f);
  int nrow_vocab = (int)(sz / (long)sizeof(float) / (long)n);
  (void)nv;
  float *row = xalloc((size_t)nrow_vocab * sizeof *row);
  fseek(f, (long)((n - 1) * (size_t)nrow_vocab * sizeof(float)), SEEK_SET);
  size_t got = fread(row, sizeof *row, (size_t)nrow_vocab, f);
  fclose(f);
  if (got != (size_t)nrow_vocab) {
    mem_free(row);
    return -1;
  }
  int32_t best = 0, second = -1;
  for (int i = 1; i < nrow_vocab; i++) {
    if (row[i] > row[best]) {
      second = best;
      best = i;
    } else if (second < 0 || row[i] > row[second]) {
      second = i;
    }
  }
  *argmax = best;
  *gap = row[best] - row[second];
  mem_free(row);
  return 0;
}

static void greedy(llm_request *r) {
  r->sampling.temperature = 0;
  r->sampling.repeat_penalty = 1;
}

static void check_first_token(llm_backend *b, const char *ref, const char *adapter) {
  char *text = NULL;
  int32_t want;
  float gap;
  size_t n_ids = 0;
  if (load_ref(ref, &text, &want, &gap, &n_ids)) {
    printf("  (reference %s unreadable: skipped)\n", ref);
    return;
  }
  llm_request r;
  llm_request_init(&r);
  r.prompt = text;
  r.max_tokens = 1;
  r.adapter = adapter;
  greedy(&r);
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &res));
  CHECK_INT(res.gen_tokens + (res.finish == LLM_FINISH_EOG), 1);
  /* The prompt re-tokenizes to the reference ids (special tokens parsed in a raw prompt). */
  CHECK_INT(res.prompt_tokens, n_ids);
  /* Compare through the token's bytes: the engine reports text, the reference an id. */
  gguf_file *g = NULL;
  tokenizer *t = NULL;
  if (!gguf_open(model_path, &g) && !tok_load(g, &t)) {
    size_t n = 0;
    const char *bytes = tok_token_bytes(t, want, &n);
    printf("     %s: reference argmax %d (gap %.4f), engine \"%s\"\n", ref, want, (double)gap,
           res.text);
    if (gap > 1e-3f && bytes && !tok_is_control(t, want) && !tok_is_eog(t, want)) {
      bool complete = utf8_valid(bytes, n);
      if (complete)
        CHECK(res.text_len == n && memcmp(res.text, bytes, n) == 0);
      else
        CHECK(res.text_len == 0); /* a generation ending inside a character drops it */
    }
  }
  tok_destroy(t);
  gguf_close(g);
  llm_result_free(&res);
  mem_free(text);
}

TEST(first_greedy_token_matches_llama_cpp) {
  if (!test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", model_path, sizeof model_path))
    SKIP("../shared/testdata/llm/tiny-qwen2-f32.gguf absent");
  llm_backend *b = open_backend(2);
  REQUIRE(b);
  check_first_token(b, "qwen2-f32-chat", NULL);
  check_first_token(b, "qwen2-f32-plain", NULL);
  if (test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", lora_path, sizeof lora_path)) {
    CHECK_OK(llm_backend_adapter_load(b, "persona", lora_path, 1.0f));
    check_first_token(b, "qwen2-f32-lora-chat", "persona");
  }
  llm_backend_destroy(b);
}

typedef struct box {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool fired;
  llm_result res;
} box;

static void box_init(box *x) {
  memset(x, 0, sizeof *x);
  pthread_mutex_init(&x->mu, NULL);
  pthread_cond_init(&x->cv, NULL);
}

static void box_done(void *user, llm_result *res) {
  box *x = user;
  pthread_mutex_lock(&x->mu);
  x->res = *res;
  mem_free(res);
  x->fired = true;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
}

static void box_wait(box *x) {
  pthread_mutex_lock(&x->mu);
  while (!x->fired) pthread_cond_wait(&x->cv, &x->mu);
  pthread_mutex_unlock(&x->mu);
}

static int stop_after_two(void *user, const char *t, size_t n) {
  (void)t;
  (void)n;
  return ++*(int *)user >= 2;
}

static const llm_message chat1[] = {{"system", NULL, "You are a regular on this server."},
                                    {"user", "sam", "did anyone watch the game last night? 💀"}};

TEST(deterministic_concurrent_and_reusing_prefixes) {
  if (!*model_path) SKIP("no model");
  llm_backend *b = open_backend(2);
  REQUIRE(b);
  llm_request r;
  llm_request_init(&r);
  r.messages = chat1;
  r.n_messages = 2;
  r.max_tokens = 16;
  r.sampling.seed = 42;
  r.slot_key = "chan-1";
  llm_result a1, a2;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a1));
  r.slot_key = "chan-2";
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a2));
  CHECK_STR(a1.text, a2.text);
  CHECK(utf8_valid(a1.text, a1.text_len));
  CHECK(a1.gen_tokens >= 1);
  CHECK_INT(a1.cached_tokens, 0);

  /* Second turn in chan-1: the slot already holds turn 1 (prompt and reply). */
  llm_message chat2[4] = {
      chat1[0], chat1[1], {"assistant", NULL, a1.text}, {"user", "kim", "lol same"}};
  r.messages = chat2;
  r.n_messages = 4;
  r.slot_key = "chan-1";
  llm_result c;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c));
  CHECK(c.cached_tokens >= a1.prompt_tokens);
  CHECK(c.prompt_tokens - c.cached_tokens <= c.prompt_tokens - a1.prompt_tokens);
  printf("     turn 1: %d prompt + %d generated; turn 2: %d prompt tokens, %d cached\n",
         a1.prompt_tokens, a1.gen_tokens, c.prompt_tokens, c.cached_tokens);
  /* The same request again in the same conversation re-evaluates only its last token. */
  llm_result c2;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c2));
  CHECK_INT(c2.cached_tokens, c2.prompt_tokens - 1);
  CHECK_STR(c2.text, c.text);
  llm_result_free(&c2);

  /* Two at once on different slots both complete, with the texts they give alone. */
  llm_result s1, s2;
  llm_request ra = r, rb = r;
  ra.messages = chat1;
  ra.n_messages = 2;
  ra.slot_key = "x";
  greedy(&ra);
  rb.slot_key = "y";
  greedy(&rb);
  CHECK_OK(llm_backend_generate(b, &ra, NULL, NULL, &s1));
  CHECK_OK(llm_backend_generate(b, &rb, NULL, NULL, &s2));
  box x1, x2;
  box_init(&x1);
  box_init(&x2);
  CHECK_OK(llm_backend_submit(b, &ra, NULL, box_done, &x1, NULL));
  CHECK_OK(llm_backend_submit(b, &rb, NULL, box_done, &x2, NULL));
  box_wait(&x1);
  box_wait(&x2);
  CHECK_INT(x1.res.finish == LLM_FINISH_LENGTH || x1.res.finish == LLM_FINISH_EOG, 1);
  CHECK_INT(x2.res.finish == LLM_FINISH_LENGTH || x2.res.finish == LLM_FINISH_EOG, 1);
  CHECK_STR(x1.res.text, s1.text);
  CHECK_STR(x2.res.text, s2.text);
  llm_result_free(&x1.res);
  llm_result_free(&x2.res);

  /* Cancel from the token callback. */
  llm_request rcan = ra;
  rcan.max_tokens = 64;
  rcan.min_tokens = 8;
  int pieces = 0;
  llm_result cr;
  CHECK_OK(llm_backend_generate(b, &rcan, stop_after_two, &pieces, &cr));
  CHECK_INT(cr.finish, LLM_FINISH_CANCELLED);
  CHECK(cr.gen_tokens < 64);
  llm_result_free(&cr);
  llm_result_free(&s1);
  llm_result_free(&s2);
  llm_result_free(&a1);
  llm_result_free(&a2);
  llm_result_free(&c);
  llm_backend_destroy(b);
}

/* Conversations arriving together share each pass (their prompts' chunks and their decoding in one
 * mixed step), and each still gets exactly the text it gets alone: on the Q4_K_M tiny model, whose
 * repacked weights round differently in a batch's order, with greedy sampling, four conversations
 * with prompts of several chunks against the same four one at a time on a fresh backend. */
TEST(conversations_together_equal_alone) {
  char q4[512];
  if (!test_shared_path("testdata/llm/tiny-qwen2-q4_k_m.gguf", q4, sizeof q4))
    SKIP("../shared absent");
  enum { NC = 4 };
  static const char *const topics[NC] = {"the game last night", "a recipe for bread",
                                         "why the build is red", "plans for the weekend"};
  char text[NC][600];
  llm_message msgs[NC][2];
  llm_request r[NC];
  for (int i = 0; i < NC; i++) {
    size_t at = 0;
    for (int k = 0; k <= 2 * i + 1; k++) /* prompts of about 20 to 90 tokens */
      at += (size_t)snprintf(text[i] + at, sizeof text[i] - at,
                             "%s, part %d, what do you think about %s? ", topics[i], k, topics[i]);
    msgs[i][0] = (llm_message){"system", NULL, "You are a regular on this server."};
    msgs[i][1] = (llm_message){"user", "sam", text[i]};
    llm_request_init(&r[i]);
    r[i].messages = msgs[i];
    r[i].n_messages = 2;
    r[i].max_tokens = r[i].min_tokens = 12 + 3 * i;
    greedy(&r[i]);
  }
  char *alone[NC] = {0};
  int prompt_tokens[NC] = {0};
  for (int pass = 0; pass < 2; pass++) {
    llm_local_opts o = {
        .model_path = q4, .threads = 2, .slots = NC, .ctx = 256, .batch = 32, .queue_max = 8};
    llm_backend *b = NULL;
    CHECK_OK(llm_backend_local_new(&o, &b));
    if (!b) break;
    box x[NC];
    for (int i = 0; i < NC; i++) {
      if (pass == 0) { /* one at a time */
        llm_result res;
        CHECK_OK(llm_backend_generate(b, &r[i], NULL, NULL, &res));
        alone[i] = xstrdup(res.text ? res.text : "");
        prompt_tokens[i] = res.prompt_tokens;
        CHECK_INT(res.gen_tokens, r[i].max_tokens);
        llm_result_free(&res);
      } else { /* all together */
        box_init(&x[i]);
        CHECK_OK(llm_backend_submit(b, &r[i], NULL, box_done, &x[i], NULL));
      }
    }
    if (pass == 1)
      for (int i = 0; i < NC; i++) {
        box_wait(&x[i]);
        CHECK_INT(x[i].res.finish, LLM_FINISH_LENGTH);
        CHECK_INT(x[i].res.prompt_tokens, prompt_tokens[i]);
        CHECK_INT(x[i].res.gen_tokens, r[i].max_tokens);
        CHECK_STR(x[i].res.text, alone[i]);
        llm_result_free(&x[i].res);
      }
    llm_backend_destroy(b);
  }
  printf("     %d conversations together: the texts they give alone (prompts %d..%d tokens)\n", NC,
         prompt_tokens[0], prompt_tokens[NC - 1]);
  for (int i = 0; i < NC; i++) mem_free(alone[i]);
}

/* engine.kv_type: f16 serves from a half-size cache through the configuration; anything else is
 * refused with the valid values named. */
TEST(kv_type_from_config) {
  if (!*model_path) SKIP("../shared absent");
  cfg *c = cfg_new();
  CHECK_OK(cfg_set(c, "engine.model", model_path, CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "engine.slots", "2", CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "engine.ctx", "256", CFG_SRC_FILE));
  CHECK_OK(cfg_set(c, "engine.kv_type", "f8", CFG_SRC_FILE));
  llm_backend *b = NULL;
  CHECK_INT(llm_backend_from_config(c, &b), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "f16") != NULL);
  CHECK_OK(cfg_set(c, "engine.kv_type", "f16", CFG_SRC_FILE));
  CHECK_OK(llm_backend_from_config(c, &b));
  if (b) {
    llm_request r;
    llm_request_init(&r);
    r.prompt = "hello there";
    r.max_tokens = 4;
    r.min_tokens = 4;
    llm_result res;
    CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &res));
    CHECK_INT(res.gen_tokens, 4);
    llm_result_free(&res);
    llm_backend_destroy(b);
  }
  cfg_destroy(c);
}

/* Issue 19: a model whose context is too small to generate used to be refused with "engine:
 * incomplete model binding". A copy of the tiny model with context_length 4 must be refused with
 * the real cause: the file, the context size and the minimum. */
TEST(tiny_context_names_the_cause) {
  if (!*model_path) SKIP("../shared absent");
  char tmp[] = "/tmp/mimic-test-engine-XXXXXX";
  REQUIRE(mkdtemp(tmp));
  char dst[600];
  snprintf(dst, sizeof dst, "%s/tiny-ctx.gguf", tmp);
  gguf_file *src = NULL;
  REQUIRE(gguf_open(model_path, &src) == 0);
  const char *key = "qwen2.context_length"; /* the tiny model is a qwen2 */
  gguf_writer *w = gguf_writer_new();
  gguf_copy_kv(w, src, key);
  gguf_set_u32(w, key, 4);
  int rc = 0;
  for (int64_t i = 0; i < gguf_n_tensors(src) && rc == 0; i++) {
    const gguf_tensor *t = gguf_tensor_at(src, i);
    rc = gguf_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data);
  }
  CHECK_OK(rc);
  CHECK_OK(gguf_writer_save(w, dst));
  gguf_writer_destroy(w);
  gguf_close(src);

  llm_local_opts o = {.model_path = dst, .threads = 1, .slots = 1, .ctx = 512};
  llm_backend *b = NULL;
  CHECK_INT(llm_backend_local_new(&o, &b), MIMIC_EINVAL);
  CHECK(b == NULL);
  printf("     %s\n", err_msg());
  CHECK(strstr(err_msg(), "incomplete model binding") == NULL);
  CHECK(strstr(err_msg(), "tiny-ctx.gguf") != NULL);
  CHECK(strstr(err_msg(), "context of 4 positions is too small") != NULL);
  unlink(dst);
  rmdir(tmp);
}

int main(void) {
  log_set_level(LOG_WARN);
  RUN(first_greedy_token_matches_llama_cpp);
  RUN(deterministic_concurrent_and_reusing_prefixes);
  RUN(conversations_together_equal_alone);
  RUN(kv_type_from_config);
  RUN(tiny_context_names_the_cause);
  TEST_MAIN_END();
}
