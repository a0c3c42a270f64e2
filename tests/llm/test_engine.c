/* Tests for the engine's scheduler (engine.c) over a small fake model, so queueing, slots, prefix
 * reuse, prompt chunking, batching, cancel and adapters are checked exactly and fast. The fake maps
 * each token to one character, computes logits from (last token, position, adapter) with a hash,
 * counts every token it evaluates and can hold decode calls at a gate, so tests can arrange
 * "A is running while B arrives" without sleeping. (The real model behind the same engine is
 * tested in test_engine_model.c.) */
#include <pthread.h>

#include "base/base.h"
#include "llm/engine.h"
#include "test.h"

#define NV     64
#define NS_MAX 8
static const char CHARS[] = "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,\n";
/* token 0 = end of generation, token 1 = a control token (renders nothing), 2.. = CHARS */

typedef struct fake {
  int n_ctx, n_slots;
  int32_t *tok[NS_MAX];
  int n[NS_MAX];
  void *lora[NS_MAX];
  float scale[NS_MAX];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  bool gate_closed;
  int at_gate;
  uint64_t evaluated;
  int max_batch, max_chunk;
  int eog_pos; /* from this position on, end of generation is certain */
  bool trace_on;
  char trace[4096];
  size_t trace_len;
  bool destroyed;
  /* mixed steps (f_step): per call, prompt items, decode items and rows */
  int n_steps, step_prompts[256], step_decodes[256], step_rows[256];
  /* prompt pieces that neither end their prompt nor fill a chunk (split to fill a step's rows),
   * and how many of those were not a whole number of fours */
  int batch, split_pieces, split_bad;
  int32_t refuse; /* f_step refuses a prompt holding this token (0: none), before evaluating any */
  bool half;      /* every token renders as 0xC3, the first byte of a two-byte character */
  bool
      pairs; /* tokens >= PAIR_FROM render as two lowercase letters: merged tokens that the
              * one-character-per-token render never produces (lowercase letters are < PAIR_FROM) */
} fake;

#define PAIR_FROM 40
static char PAIRS[NV][2];

static int32_t char_tok(char c) {
  const char *p = strchr(CHARS, c);
  return p && c ? (int32_t)(p - CHARS) + 2 : -1;
}

static void push_text(int32_t *ids, size_t *n, const char *s) {
  for (; *s; s++) {
    int32_t t = char_tok(*s);
    if (t >= 0) ids[(*n)++] = t;
  }
}

static int f_render(void *self, const llm_request *r, int32_t **ids, size_t *n) {
  (void)self;
  size_t cap = 16;
  if (r->n_messages)
    for (size_t i = 0; i < r->n_messages; i++)
      cap += strlen(r->messages[i].role) + strlen(r->messages[i].content) + 4;
  else
    cap += strlen(r->prompt);
  int32_t *v = xalloc(cap * sizeof *v);
  *n = 0;
  if (r->n_messages) {
    for (size_t i = 0; i < r->n_messages; i++) {
      v[(*n)++] = 1;
      push_text(v, n, r->messages[i].role);
      push_text(v, n, ":");
      push_text(v, n, r->messages[i].content);
    }
    v[(*n)++] = 1;
    push_text(v, n, "assistant:");
  } else {
    push_text(v, n, r->prompt);
  }
  *ids = v;
  return 0;
}

static const char *f_piece(void *self, int32_t id, size_t *n) {
  if (id < 2) {
    *n = 0;
    return "";
  }
  fake *f = self;
  if (f->half) {
    *n = 1;
    return "\xC3";
  }
  if (f->pairs && id >= PAIR_FROM && id < NV) {
    PAIRS[id][0] = CHARS[(id * 7) % 26];
    PAIRS[id][1] = CHARS[(id * 13 + 5) % 26];
    *n = 2;
    return PAIRS[id];
  }
  *n = 1;
  return &CHARS[id - 2];
}

static bool f_is_eog(void *self, int32_t id) {
  (void)self;
  return id == 0;
}

static const int32_t *f_slot_tokens(void *self, int slot, int *n) {
  fake *f = self;
  *n = f->n[slot];
  return f->tok[slot];
}

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  return x;
}

static void fill_logits(fake *f, int32_t last, int pos, void *lora, float scale, float *l) {
  for (int v = 0; v < NV; v++)
    l[v] = (float)(mix((uint64_t)last * 1000003u + (uint64_t)pos * 7919u + (uint64_t)v) % 1000) /
           250.0f;
  if (lora) {
    uintptr_t id = (uintptr_t)lora;
    for (int v = 0; v < NV; v++) l[v] += scale * (float)((v * (int)id) % 5);
  }
  l[1] = -100;
  l[0] = pos >= f->eog_pos ? 100 : -100;
}

static void trace(fake *f, char c) {
  if (f->trace_on && f->trace_len + 1 < sizeof f->trace) f->trace[f->trace_len++] = c;
}

static int f_prepare(void *self, int slot, const int32_t *toks, int n, void *lora, float scale,
                     float *logits, int *n_eval) {
  fake *f = self;
  if (n > f->n_ctx) return err_set(MIMIC_ERANGE, "fake: %d tokens > context %d", n, f->n_ctx);
  pthread_mutex_lock(&f->mu);
  int cp = 0;
  if (f->lora[slot] == lora && f->scale[slot] == scale)
    while (cp < f->n[slot] && cp < n && f->tok[slot][cp] == toks[cp]) cp++;
  if (cp == n) cp = n - 1;
  memcpy(f->tok[slot], toks, (size_t)n * sizeof *toks);
  f->n[slot] = n;
  f->lora[slot] = lora;
  f->scale[slot] = scale;
  f->evaluated += (uint64_t)(n - cp);
  if (n - cp > f->max_chunk) f->max_chunk = n - cp;
  trace(f, 'P');
  pthread_mutex_unlock(&f->mu);
  if (logits) fill_logits(f, toks[n - 1], n - 1, lora, scale, logits);
  *n_eval = n - cp;
  return 0;
}

static int f_decode(void *self, const llm_lm_item *it, int n) {
  fake *f = self;
  pthread_mutex_lock(&f->mu);
  f->at_gate++;
  pthread_cond_broadcast(&f->cv);
  while (f->gate_closed) pthread_cond_wait(&f->cv, &f->mu);
  f->at_gate--;
  if (n > f->max_batch) f->max_batch = n;
  trace(f, 'D');
  for (int i = 0; i < n; i++) {
    int s = it[i].slot;
    if (f->n[s] == f->n_ctx) { /* context shift: drop the older half */
      int keep = f->n_ctx / 2;
      memmove(f->tok[s], f->tok[s] + f->n_ctx - keep, (size_t)keep * sizeof *f->tok[s]);
      f->n[s] = keep;
    }
    f->tok[s][f->n[s]++] = it[i].token;
    f->evaluated++;
    fill_logits(f, it[i].token, f->n[s] - 1, it[i].lora, it[i].scale, it[i].logits);
  }
  pthread_mutex_unlock(&f->mu);
  return 0;
}

/* The mixed step: every item as prepare or decode would do it, recorded per call. */
static int f_step(void *self, llm_lm_step *it, int n, int *failed) {
  fake *f = self;
  *failed = -1;
  pthread_mutex_lock(&f->mu);
  f->at_gate++;
  pthread_cond_broadcast(&f->cv);
  while (f->gate_closed) pthread_cond_wait(&f->cv, &f->mu);
  f->at_gate--;
  for (int i = 0; i < n && f->refuse; i++)
    for (int t = 0; t < it[i].n && !it[i].append; t++)
      if (it[i].toks[t] == f->refuse) {
        *failed = i;
        pthread_mutex_unlock(&f->mu);
        return err_set(MIMIC_EINVAL, "fake: token %d is refused", f->refuse);
      }
  int k = f->n_steps < 256 ? f->n_steps++ : 255, prompts = 0, decodes = 0;
  uint64_t before = f->evaluated;
  pthread_mutex_unlock(&f->mu);
  for (int i = 0; i < n; i++) {
    if (!it[i].append) {
      int rc = f_prepare(self, it[i].slot, it[i].toks, it[i].n, it[i].lora, it[i].scale,
                         it[i].logits, &it[i].n_eval);
      if (rc) return rc;
      prompts++;
      if (!it[i].logits && it[i].n_eval != f->batch) {
        pthread_mutex_lock(&f->mu);
        f->split_pieces++;
        f->split_bad += it[i].n_eval % 4 != 0;
        pthread_mutex_unlock(&f->mu);
      }
      continue;
    }
    pthread_mutex_lock(&f->mu);
    int s = it[i].slot;
    if (f->n[s] == f->n_ctx) {
      int keep = f->n_ctx / 2;
      memmove(f->tok[s], f->tok[s] + f->n_ctx - keep, (size_t)keep * sizeof *f->tok[s]);
      f->n[s] = keep;
    }
    f->tok[s][f->n[s]++] = it[i].toks[0];
    f->evaluated++;
    it[i].n_eval = 1;
    decodes++;
    pthread_mutex_unlock(&f->mu);
    fill_logits(f, it[i].toks[0], f->n[s] - 1, it[i].lora, it[i].scale, it[i].logits);
  }
  pthread_mutex_lock(&f->mu);
  f->step_prompts[k] = prompts;
  f->step_decodes[k] = decodes;
  f->step_rows[k] = (int)(f->evaluated - before);
  pthread_mutex_unlock(&f->mu);
  return 0;
}

static int f_lora_load(void *self, const char *path, void **lora) {
  (void)self;
  if (strncmp(path, "fake:", 5) != 0)
    return err_set(MIMIC_ENOTFOUND, "%s: no such adapter file", path);
  *lora = (void *)(uintptr_t)(path[5] - '0');
  return 0;
}

static void f_lora_free(void *self, void *lora) {
  (void)self;
  (void)lora;
}

static void f_destroy(void *self) {
  fake *f = self;
  f->destroyed = true;
}

static fake F;

static llm_backend *start_lm(int n_slots, int n_ctx, int batch, int queue_max, bool mixed) {
  for (int i = 0; i < NS_MAX; i++) mem_free(F.tok[i]);
  memset(&F, 0, sizeof F);
  pthread_mutex_init(&F.mu, NULL);
  pthread_cond_init(&F.cv, NULL);
  F.n_ctx = n_ctx;
  F.n_slots = n_slots;
  F.eog_pos = 1 << 30;
  F.batch = batch;
  for (int i = 0; i < n_slots; i++) F.tok[i] = xcalloc((size_t)n_ctx, sizeof(int32_t));
  llm_lm lm = {.self = &F,
               .n_vocab = NV,
               .n_ctx = n_ctx,
               .n_slots = n_slots,
               .batched = true,
               .render = f_render,
               .piece = f_piece,
               .is_eog = f_is_eog,
               .slot_tokens = f_slot_tokens,
               .prepare = f_prepare,
               .decode_batch = f_decode,
               .lora_load = f_lora_load,
               .lora_free = f_lora_free,
               .destroy = f_destroy};
  if (mixed) lm.step = f_step;
  llm_engine_opts o = {.batch = batch, .queue_max = queue_max};
  llm_backend *b = NULL;
  if (llm_engine_new(&lm, &o, &b)) return NULL;
  return b;
}

static llm_backend *start(int n_slots, int n_ctx, int batch, int queue_max) {
  return start_lm(n_slots, n_ctx, batch, queue_max, false);
}

static void gate(bool closed) {
  pthread_mutex_lock(&F.mu);
  F.gate_closed = closed;
  pthread_cond_broadcast(&F.cv);
  pthread_mutex_unlock(&F.mu);
}

static void wait_at_gate(int n) {
  pthread_mutex_lock(&F.mu);
  while (F.at_gate < n) pthread_cond_wait(&F.cv, &F.mu);
  pthread_mutex_unlock(&F.mu);
}

/* Async completion box. */
typedef struct box {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int fired, pieces;
  llm_result res;
  char streamed[2048];
  size_t slen;
  bool trace_on_first; /* turns the fake's trace on at the first piece */
} box;

static void box_init(box *x) {
  memset(x, 0, sizeof *x);
  pthread_mutex_init(&x->mu, NULL);
  pthread_cond_init(&x->cv, NULL);
}

static int box_piece(void *user, const char *t, size_t n) {
  box *x = user;
  if (x->trace_on_first && !x->pieces)
    F.trace_on = true; /* engine thread, like the fake's writes */
  pthread_mutex_lock(&x->mu);
  if (x->slen + n < sizeof x->streamed) {
    memcpy(x->streamed + x->slen, t, n);
    x->slen += n;
  }
  x->pieces++;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
  return 0;
}

static void box_done(void *user, llm_result *res) {
  box *x = user;
  pthread_mutex_lock(&x->mu);
  x->res = *res;
  mem_free(res);
  x->fired++;
  pthread_cond_broadcast(&x->cv);
  pthread_mutex_unlock(&x->mu);
}

static void box_wait(box *x) {
  pthread_mutex_lock(&x->mu);
  while (!x->fired) pthread_cond_wait(&x->cv, &x->mu);
  pthread_mutex_unlock(&x->mu);
}

static void box_free(box *x) { llm_result_free(&x->res); }

static void req_prompt(llm_request *r, const char *prompt, int max_tokens, uint64_t seed) {
  llm_request_init(r);
  r->prompt = prompt;
  r->max_tokens = max_tokens;
  r->sampling.temperature = 1.0f;
  r->sampling.top_k = 0;
  r->sampling.top_p = 1;
  r->sampling.min_p = 0;
  r->sampling.seed = seed;
}

/* ---- tests ---- */

TEST(generation_is_deterministic_for_a_seed) {
  llm_backend *b = start(2, 256, 16, 8);
  REQUIRE(b);
  CHECK_STR(llm_backend_name(b), "local");
  llm_request r;
  req_prompt(&r, "hello there", 24, 1234);
  llm_result a, c, d;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c));
  r.sampling.seed = 999;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &d));
  CHECK_INT(a.finish, LLM_FINISH_LENGTH);
  CHECK_INT(a.gen_tokens, 24);
  CHECK_INT(strlen(a.text), 24);
  CHECK_STR(a.text, c.text);
  CHECK(strcmp(a.text, d.text) != 0);
  CHECK_INT(a.seed, 1234);
  CHECK_INT(a.prompt_tokens, 11);
  llm_result_free(&a);
  llm_result_free(&c);
  llm_result_free(&d);
  llm_backend_destroy(b);
  CHECK(F.destroyed);
}

TEST(streamed_pieces_equal_the_text) {
  llm_backend *b = start(1, 256, 16, 8);
  REQUIRE(b);
  llm_request r;
  req_prompt(&r, "abc", 30, 5);
  box x;
  box_init(&x);
  CHECK_OK(llm_backend_submit(b, &r, box_piece, box_done, &x, NULL));
  box_wait(&x);
  CHECK_INT(x.fired, 1);
  CHECK_INT(x.slen, x.res.text_len);
  CHECK(memcmp(x.streamed, x.res.text, x.slen) == 0);
  box_free(&x);
  llm_backend_destroy(b);
}

TEST(two_concurrent_requests_complete_and_are_batched) {
  llm_backend *b = start(2, 256, 16, 8);
  REQUIRE(b);
  llm_request ra, rb;
  req_prompt(&ra, "first conversation", 20, 1);
  ra.slot_key = "chan-a";
  req_prompt(&rb, "second one", 20, 2);
  rb.slot_key = "chan-b";
  box xa, xb;
  box_init(&xa);
  box_init(&xb);
  gate(true);
  CHECK_OK(llm_backend_submit(b, &ra, NULL, box_done, &xa, NULL));
  wait_at_gate(1); /* A is generating (held in its first decode) */
  CHECK_OK(llm_backend_submit(b, &rb, NULL, box_done, &xb, NULL));
  gate(false);
  box_wait(&xa);
  box_wait(&xb);
  CHECK_INT(xa.res.finish, LLM_FINISH_LENGTH);
  CHECK_INT(xb.res.finish, LLM_FINISH_LENGTH);
  CHECK_INT(xa.res.gen_tokens, 20);
  CHECK_INT(xb.res.gen_tokens, 20);
  CHECK_INT(F.max_batch, 2); /* both advanced in one decode call */
  llm_backend_stats st;
  llm_backend_stats_get(b, &st);
  CHECK_INT(st.completed, 2);
  CHECK_INT(st.gen_tokens, 40);
  CHECK_INT(st.running, 0);
  /* Batching does not change results: B alone with the same seed gives the same text. */
  llm_result solo;
  rb.slot_key = "chan-c";
  CHECK_OK(llm_backend_generate(b, &rb, NULL, NULL, &solo));
  CHECK_STR(solo.text, xb.res.text);
  llm_result_free(&solo);
  box_free(&xa);
  box_free(&xb);
  llm_backend_destroy(b);
}

/* A burst for the mixed-step tests: request 0 is submitted and held inside its first step, the
 * rest arrive meanwhile, then every one runs to its end. */
static void burst(llm_backend *b, llm_request *r, box *x, const char *const *prompts, int n,
                  int max_tokens, uint64_t seed) {
  for (int i = 0; i < n; i++) {
    req_prompt(&r[i], prompts[i], max_tokens, seed + (uint64_t)i);
    box_init(&x[i]);
  }
  gate(true);
  CHECK_OK(llm_backend_submit(b, &r[0], NULL, box_done, &x[0], NULL));
  wait_at_gate(1); /* request 0's prompt is in a step */
  for (int i = 1; i < n; i++) CHECK_OK(llm_backend_submit(b, &r[i], NULL, box_done, &x[i], NULL));
  gate(false);
  for (int i = 0; i < n; i++) box_wait(&x[i]);
}

/* Each request again, alone (its slot's cached prompt reused): the same text. Frees the boxes. */
static void same_alone(llm_backend *b, llm_request *r, box *x, int n) {
  for (int i = 0; i < n; i++) {
    llm_result solo;
    CHECK_OK(llm_backend_generate(b, &r[i], NULL, NULL, &solo));
    CHECK_STR(solo.text, x[i].res.text);
    llm_result_free(&solo);
    box_free(&x[i]);
  }
}

/* With a mixed step, prompts arriving together are read in the same passes as each other and as
 * the running generations (chunks as many as fit `batch` rows, round robin, the last one cut to
 * the rows left in whole fours), and every
 * conversation gets the text it gets alone. */
TEST(mixed_steps_share_passes) {
  llm_backend *b = start_lm(4, 256, 16, 8, true);
  REQUIRE(b);
  static const char *const prompts[4] = {"hello", "second", "a much longer third one", "fourth!"};
  llm_request r[4];
  box x[4];
  burst(b, r, x, prompts, 4, 12, 1);
  int most_prompts = 0, mixed = 0, prompt_tokens = 0, gen = 0;
  for (int i = 0; i < 4; i++) {
    CHECK_INT(x[i].res.finish, LLM_FINISH_LENGTH);
    prompt_tokens += x[i].res.prompt_tokens;
    gen += x[i].res.gen_tokens;
  }
  for (int k = 0; k < F.n_steps; k++) {
    if (F.step_prompts[k] > most_prompts) most_prompts = F.step_prompts[k];
    mixed += F.step_prompts[k] && F.step_decodes[k];
    if (F.step_prompts[k] > 1) CHECK(F.step_rows[k] <= 16); /* more than one chunk only if fits */
  }
  CHECK(most_prompts >= 2);
  CHECK_INT(F.split_bad, 0);
  CHECK(mixed >= 1);
  /* Every token once: the prompts, and each generated token but the last (never decoded). */
  CHECK_INT((int64_t)F.evaluated, prompt_tokens + gen - 4);
  CHECK(F.max_batch == 0); /* decode_batch is not used */
  same_alone(b, r, x, 4);
  llm_backend_destroy(b);
}

/* A chunk that does not fit a step's rows left takes them in whole fours (rather than waiting a
 * turn), and the texts stay what each conversation gets alone. A's first chunk runs alone; then B
 * (6 rows) leaves 10, and C's chunk takes 8 of them. */
TEST(mixed_steps_cut_chunks_in_fours) {
  llm_backend *b = start_lm(3, 256, 16, 8, true);
  REQUIRE(b);
  static const char *const prompts[3] = {"the first prompt, forty characters long.", "second",
                                         "and a third one of thirty ch."};
  llm_request r[3];
  box x[3];
  burst(b, r, x, prompts, 3, 6, 7);
  CHECK(F.split_pieces >= 1);
  CHECK_INT(F.split_bad, 0);
  for (int k = 0; k < F.n_steps; k++)
    if (F.step_prompts[k] > 1) CHECK(F.step_rows[k] <= 16);
  for (int i = 0; i < 3; i++) CHECK_INT(x[i].res.finish, LLM_FINISH_LENGTH);
  same_alone(b, r, x, 3);
  llm_backend_destroy(b);
}

/* An item the model refuses fails its own job only; the others of that step run again without it
 * and finish as they would have. */
TEST(mixed_step_refusal_fails_one_job) {
  llm_backend *b = start_lm(3, 256, 64, 8, true);
  REQUIRE(b);
  llm_request r[3];
  box x[3];
  static const char *const prompts[3] = {"good one", "has a Q in it", "another good"};
  for (int i = 0; i < 3; i++) {
    req_prompt(&r[i], prompts[i], 8, (uint64_t)i + 7);
    box_init(&x[i]);
  }
  F.refuse = char_tok('Q');
  gate(true);
  CHECK_OK(llm_backend_submit(b, &r[0], NULL, box_done, &x[0], NULL));
  wait_at_gate(1);
  for (int i = 1; i < 3; i++) CHECK_OK(llm_backend_submit(b, &r[i], NULL, box_done, &x[i], NULL));
  gate(false);
  for (int i = 0; i < 3; i++) box_wait(&x[i]);
  CHECK_INT(x[0].res.finish, LLM_FINISH_LENGTH);
  CHECK_INT(x[1].res.finish, LLM_FINISH_ERROR);
  CHECK(strstr(x[1].res.error_msg, "refused") != NULL);
  CHECK_INT(x[2].res.finish, LLM_FINISH_LENGTH);
  F.refuse = 0;
  for (int i = 0; i < 3; i += 2) { /* the survivors' texts are their texts alone */
    llm_result solo;
    CHECK_OK(llm_backend_generate(b, &r[i], NULL, NULL, &solo));
    CHECK_STR(solo.text, x[i].res.text);
    llm_result_free(&solo);
  }
  for (int i = 0; i < 3; i++) box_free(&x[i]);
  llm_backend_destroy(b);
}

TEST(second_turn_evaluates_only_new_tokens) {
  llm_backend *b = start(2, 512, 64, 8);
  REQUIRE(b);
  llm_message turn1[] = {{"system", NULL, "be brief"}, {"user", NULL, "hi there"}};
  llm_request r;
  llm_request_init(&r);
  r.messages = turn1;
  r.n_messages = 2;
  r.max_tokens = 12;
  r.sampling.seed = 3;
  r.slot_key = "channel-42";
  llm_result a;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK_INT(a.cached_tokens, 0);
  uint64_t ev_before = F.evaluated;

  llm_message turn2[] = {{"system", NULL, "be brief"},
                         {"user", NULL, "hi there"},
                         {"assistant", NULL, a.text},
                         {"user", NULL, "and now"}};
  r.messages = turn2;
  r.n_messages = 4;
  llm_result c;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c));
  /* The slot held turn 1's prompt and all but the last generated token. */
  CHECK_INT(c.cached_tokens, a.prompt_tokens + a.gen_tokens - 1);
  uint64_t prompt_evaluated = F.evaluated - ev_before - (uint64_t)(c.gen_tokens - 1);
  CHECK_INT(prompt_evaluated, c.prompt_tokens - c.cached_tokens);
  /* New: the reply's last token, "<ctl>userand now" (12) and "<ctl>assistant" (10); the fake's
   * alphabet has no ':'. */
  CHECK_INT(c.prompt_tokens - c.cached_tokens, 1 + 12 + 10);

  /* Another conversation does not reuse channel-42's slot. */
  r.slot_key = "channel-7";
  r.messages = turn1;
  r.n_messages = 2;
  llm_result d;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &d));
  CHECK_INT(d.cached_tokens, 0);
  /* ... and channel-42 still has its slot. */
  r.slot_key = "channel-42";
  r.messages = turn2;
  r.n_messages = 4;
  llm_result e;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &e));
  CHECK(e.cached_tokens >= c.prompt_tokens - 1);
  llm_result_free(&a);
  llm_result_free(&c);
  llm_result_free(&d);
  llm_result_free(&e);
  llm_backend_destroy(b);
}

/* The reply comes back as text and re-tokenizes differently from the generated ids (here: merged
 * two-character tokens come back as single characters); the engine splices the generated ids back
 * in, so the second turn still evaluates only what is new. */
TEST(second_turn_reuses_generated_ids) {
  llm_backend *b = start(2, 512, 64, 8);
  REQUIRE(b);
  F.pairs = true;
  llm_message turn1[] = {{"system", NULL, "be brief"}, {"user", NULL, "hi there"}};
  llm_request r;
  llm_request_init(&r);
  r.messages = turn1;
  r.n_messages = 2;
  r.max_tokens = 12;
  r.min_tokens = 12;
  r.sampling.seed = 5;
  r.slot_key = "channel-9";
  llm_result a;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK_INT(a.gen_tokens, 12);
  CHECK((int)a.text_len > a.gen_tokens); /* some merged tokens: re-tokenizing the text differs */
  uint64_t ev_before = F.evaluated;
  llm_message turn2[] = {{"system", NULL, "be brief"},
                         {"user", NULL, "hi there"},
                         {"assistant", NULL, a.text},
                         {"user", NULL, "and now"}};
  r.messages = turn2;
  r.n_messages = 4;
  r.max_tokens = 2;
  r.min_tokens = 2;
  llm_result c;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &c));
  /* Cached: turn 1's prompt and the 11 decoded generated tokens. */
  CHECK_INT(c.cached_tokens, a.prompt_tokens + a.gen_tokens - 1);
  uint64_t prompt_evaluated = F.evaluated - ev_before - (uint64_t)(c.gen_tokens - 1);
  CHECK_INT(prompt_evaluated, c.prompt_tokens - c.cached_tokens);
  /* New: the last sampled token's one or two characters, "<ctl>userand now" (12) and
   * "<ctl>assistant" (10). */
  int extra = c.prompt_tokens - c.cached_tokens - 22;
  CHECK(extra == 1 || extra == 2);

  /* A reply the bot changed (cut short) is matched as far as it agrees. */
  size_t cut = a.text_len / 2;
  char *shortened = xstrdup(a.text);
  shortened[cut] = '\0';
  turn2[2].content = shortened;
  llm_result d;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &d));
  CHECK(d.cached_tokens >= a.prompt_tokens); /* at least turn 1's prompt, never worse than before */
  mem_free(shortened);
  llm_result_free(&a);
  llm_result_free(&c);
  llm_result_free(&d);
  llm_backend_destroy(b);
}

TEST(long_prompts_are_chunked_between_generation_steps) {
  llm_backend *b = start(2, 512, 4, 8);
  REQUIRE(b);
  llm_request ra, rb;
  req_prompt(&ra, "go", 200, 1);
  req_prompt(&rb, "a much longer prompt that takes ten chunks", 5, 2);
  box xa, xb;
  box_init(&xa);
  box_init(&xb);
  xa.trace_on_first = true;
  gate(true);
  CHECK_OK(llm_backend_submit(b, &ra, box_piece, box_done, &xa, NULL));
  wait_at_gate(1);
  CHECK_OK(llm_backend_submit(b, &rb, NULL, box_done, &xb, NULL));
  gate(false);
  box_wait(&xb);
  box_wait(&xa);
  CHECK_INT(xb.res.finish, LLM_FINISH_LENGTH);
  CHECK_INT(F.max_chunk, 4);
  F.trace[F.trace_len] = 0;
  /* B's ten chunks, each followed by a decode step of A: never two chunks in a row. */
  CHECK(strstr(F.trace, "PP") == NULL);
  size_t p = 0;
  for (size_t i = 0; i < F.trace_len; i++) p += F.trace[i] == 'P';
  CHECK_INT(p, 11); /* ceil(42 / 4) chunks of B's prompt */
  box_free(&xa);
  box_free(&xb);
  llm_backend_destroy(b);
}

TEST(cancel_running_and_queued_jobs) {
  llm_backend *b = start(1, 256, 16, 8);
  REQUIRE(b);
  llm_request r;
  req_prompt(&r, "hello", 100, 1);
  box xa, xb;
  box_init(&xa);
  box_init(&xb);
  uint64_t ida = 0, idb = 0;
  gate(true);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &xa, &ida));
  wait_at_gate(1);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &xb, &idb)); /* waits: one slot */
  CHECK_OK(llm_backend_cancel(b, idb));
  CHECK_OK(llm_backend_cancel(b, ida));
  gate(false);
  box_wait(&xa);
  box_wait(&xb);
  CHECK_INT(xa.res.finish, LLM_FINISH_CANCELLED);
  CHECK(xa.res.gen_tokens >= 1 && xa.res.gen_tokens < 100);
  CHECK_INT(xb.res.finish, LLM_FINISH_CANCELLED);
  CHECK_INT(xb.res.gen_tokens, 0);
  CHECK_INT(llm_backend_cancel(b, ida), MIMIC_ENOTFOUND);
  box_free(&xa);
  box_free(&xb);
  llm_backend_destroy(b);
}

TEST(queue_full_is_busy) {
  llm_backend *b = start(1, 256, 16, 2);
  REQUIRE(b);
  llm_request r;
  req_prompt(&r, "hi", 3, 1);
  box x[4];
  for (int i = 0; i < 4; i++) box_init(&x[i]);
  gate(true);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x[0], NULL));
  wait_at_gate(1); /* running: no longer counts as waiting */
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x[1], NULL));
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x[2], NULL));
  CHECK_INT(llm_backend_submit(b, &r, NULL, box_done, &x[3], NULL), MIMIC_EBUSY);
  CHECK(strstr(err_msg(), "queue is full") != NULL);
  llm_backend_stats st;
  llm_backend_stats_get(b, &st);
  CHECK_INT(st.queued, 2);
  CHECK_INT(st.running, 1);
  gate(false);
  for (int i = 0; i < 3; i++) {
    box_wait(&x[i]);
    CHECK_INT(x[i].res.finish, LLM_FINISH_LENGTH);
    box_free(&x[i]);
  }
  CHECK_INT(x[3].fired, 0);
  llm_backend_destroy(b);
}

TEST(same_conversation_never_runs_twice_at_once) {
  llm_backend *b = start(2, 256, 16, 8);
  REQUIRE(b);
  llm_request r;
  req_prompt(&r, "hey", 10, 1);
  r.slot_key = "same";
  box x1, x2;
  box_init(&x1);
  box_init(&x2);
  gate(true);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x1, NULL));
  wait_at_gate(1);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x2, NULL));
  gate(false);
  box_wait(&x1);
  box_wait(&x2);
  CHECK_INT(F.max_batch, 1); /* the second waited for the slot instead of taking the free one */
  CHECK_STR(x1.res.text, x2.res.text);
  CHECK(x2.res.cached_tokens > 0);
  box_free(&x1);
  box_free(&x2);
  llm_backend_destroy(b);
}

TEST(eog_min_tokens_and_stop_strings) {
  llm_backend *b = start(1, 256, 16, 8);
  REQUIRE(b);
  llm_request r;
  req_prompt(&r, "abcd", 50, 1);
  F.eog_pos = 3; /* certain end of generation right after the 4-token prompt */
  llm_result a;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK_INT(a.finish, LLM_FINISH_EOG);
  CHECK_INT(a.gen_tokens, 0);
  CHECK_STR(a.text, "");
  llm_result_free(&a);
  r.min_tokens = 3; /* never an empty reply */
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK_INT(a.finish, LLM_FINISH_EOG);
  CHECK_INT(a.gen_tokens, 3);
  llm_result_free(&a);

  F.eog_pos = 1 << 30;
  r.min_tokens = 0;
  llm_result full;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &full));
  REQUIRE(full.text_len == 50);
  char stop[3] = {full.text[20], full.text[21], 0}; /* a stop string the model will produce */
  const char *stops[] = {stop};
  r.stop = stops;
  r.n_stop = 1;
  box x;
  box_init(&x);
  CHECK_OK(llm_backend_submit(b, &r, box_piece, box_done, &x, NULL));
  box_wait(&x);
  CHECK_INT(x.res.finish, LLM_FINISH_STOP);
  const char *at = strstr(full.text, stop);
  REQUIRE(at);
  CHECK_INT(x.res.text_len, at - full.text);
  CHECK(strncmp(x.res.text, full.text, x.res.text_len) == 0);
  CHECK_INT(x.slen, x.res.text_len); /* the stop string was never streamed */
  box_free(&x);
  llm_result_free(&full);
  llm_backend_destroy(b);
}

TEST(adapters_by_name) {
  llm_backend *b = start(1, 256, 16, 8);
  REQUIRE(b);
  CHECK_OK(llm_backend_adapter_load(b, "bob", "fake:3", 1.0f));
  CHECK_INT(llm_backend_adapter_load(b, "amy", "missing.gguf", 1.0f), MIMIC_ENOTFOUND);
  CHECK(strstr(err_msg(), "missing.gguf") != NULL);
  llm_request r;
  req_prompt(&r, "same prompt", 20, 77);
  llm_result base, bob, bob0;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &base));
  r.adapter = "bob";
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &bob));
  r.adapter_scale = 0; /* scale 0 is the base model */
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &bob0));
  CHECK(strcmp(base.text, bob.text) != 0);
  CHECK_STR(base.text, bob0.text);
  r.adapter = "nobody";
  llm_result none;
  CHECK_INT(llm_backend_generate(b, &r, NULL, NULL, &none), MIMIC_ENOTFOUND);
  CHECK(strstr(none.error_msg, "nobody") != NULL);
  /* Replacing an adapter under the same name takes effect for the next request. */
  CHECK_OK(llm_backend_adapter_load(b, "bob", "fake:4", 1.0f));
  r.adapter = "bob";
  r.adapter_scale = -1;
  llm_result bob4;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &bob4));
  CHECK(strcmp(bob4.text, bob.text) != 0);
  /* The default adapter ("") applies when a request names none. */
  CHECK_OK(llm_backend_adapter_load(b, "", "fake:3", 1.0f));
  r.adapter = NULL;
  llm_result dflt;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &dflt));
  CHECK_STR(dflt.text, bob.text);
  llm_result_free(&base);
  llm_result_free(&bob);
  llm_result_free(&bob0);
  llm_result_free(&none);
  llm_result_free(&bob4);
  llm_result_free(&dflt);
  llm_backend_destroy(b);
}

TEST(too_long_prompts_drop_old_messages_or_fail) {
  llm_backend *b = start(1, 64, 16, 8);
  REQUIRE(b);
  llm_message m[] = {{"system", NULL, "sys"},
                     {"user", NULL, "an old message that is rather long indeed"},
                     {"user", NULL, "recent"}};
  llm_request r;
  llm_request_init(&r);
  r.messages = m;
  r.n_messages = 3;
  r.max_tokens = 8;
  llm_result a;
  CHECK_OK(llm_backend_generate(b, &r, NULL, NULL, &a));
  CHECK(a.prompt_tokens <= 64 - 8);
  CHECK(a.prompt_tokens > 10); /* system and the recent message are still there */
  llm_result_free(&a);
  char longp[200];
  memset(longp, 'x', sizeof longp - 1);
  longp[sizeof longp - 1] = 0;
  req_prompt(&r, longp, 8, 1);
  CHECK_INT(llm_backend_generate(b, &r, NULL, NULL, &a), MIMIC_ERANGE);
  CHECK(strstr(a.error_msg, "context") != NULL);
  llm_result_free(&a);
  llm_backend_destroy(b);
}

TEST(destroy_cancels_everything) {
  llm_backend *b = start(1, 256, 16, 8);
  REQUIRE(b);
  llm_request r;
  /* As many tokens as a request may ask for: the jobs cannot finish on their own in the moment
   * between opening the gate and destroy (with 1000, a test thread descheduled for a few ms on a
   * busy machine saw all three end by length). */
  req_prompt(&r, "x", LLM_MAX_TOKENS, 1);
  box x[3];
  for (int i = 0; i < 3; i++) box_init(&x[i]);
  gate(true);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x[0], NULL));
  wait_at_gate(1);
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x[1], NULL));
  CHECK_OK(llm_backend_submit(b, &r, NULL, box_done, &x[2], NULL));
  gate(false);
  llm_backend_destroy(b);
  for (int i = 0; i < 3; i++) {
    CHECK_INT(x[i].fired, 1);
    CHECK_INT(x[i].res.finish, LLM_FINISH_CANCELLED);
    box_free(&x[i]);
  }
}

/* A context too small to generate is refused with its size named (issue 19: it used to be
 * "engine: incomplete model binding"), and the binding is destroyed. */
TEST(tiny_context_is_refused_by_name) {
  llm_backend *b = start(1, 4, 8, 4);
  CHECK(b == NULL);
  CHECK(F.destroyed);
  CHECK(strstr(err_msg(), "context of 4 positions is too small") != NULL);
  llm_backend_destroy(b);
}

/* Issue 19: a generation that ends inside a character (here every token is the first byte of one)
 * reports and streams only whole characters: the held byte is dropped at the end, and a byte that
 * can never complete becomes U+FFFD, never raw bytes. */
static int stream_valid(void *user, const char *t, size_t n) {
  (void)user;
  CHECK(utf8_valid(t, n));
  return 0;
}

TEST(generation_ending_inside_a_character_drops_it) {
  llm_backend *b = start(1, 64, 16, 4);
  REQUIRE(b);
  F.half = true;
  llm_request r;
  llm_request_init(&r);
  r.prompt = "abc";
  r.max_tokens = 1;
  r.min_tokens = 1;
  llm_result res;
  CHECK_OK(llm_backend_generate(b, &r, stream_valid, NULL, &res));
  CHECK_INT(res.gen_tokens, 1);
  CHECK_INT(res.text_len, 0);
  llm_result_free(&res);
  r.max_tokens = r.min_tokens = 3;
  CHECK_OK(llm_backend_generate(b, &r, stream_valid, NULL, &res));
  CHECK_INT(res.gen_tokens, 3);
  CHECK_STR(res.text, ""); /* three lone C3: never a character, so nothing (no U+FFFD either) */
  llm_result_free(&res);
  llm_backend_destroy(b);
}

int main(void) {
  log_set_level(LOG_WARN);
  RUN(generation_is_deterministic_for_a_seed);
  RUN(mixed_steps_share_passes);
  RUN(mixed_steps_cut_chunks_in_fours);
  RUN(mixed_step_refusal_fails_one_job);
  RUN(tiny_context_is_refused_by_name);
  RUN(generation_ending_inside_a_character_drops_it);
  RUN(streamed_pieces_equal_the_text);
  RUN(two_concurrent_requests_complete_and_are_batched);
  RUN(second_turn_evaluates_only_new_tokens);
  RUN(second_turn_reuses_generated_ids);
  RUN(long_prompts_are_chunked_between_generation_steps);
  RUN(cancel_running_and_queued_jobs);
  RUN(queue_full_is_busy);
  RUN(same_conversation_never_runs_twice_at_once);
  RUN(eog_min_tokens_and_stop_strings);
  RUN(adapters_by_name);
  RUN(too_long_prompts_drop_old_messages_or_fail);
  RUN(destroy_cancels_everything);
  for (int i = 0; i < NS_MAX; i++) mem_free(F.tok[i]);
  TEST_MAIN_END();
}
