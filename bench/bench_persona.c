/* Persona benchmark, two parts.
 *
 * Routing (bot/persona_route.h): the cost of deciding who answers one message with --personas
 * personas (default 50: a name, two aliases, three keywords and a regex each), over --messages
 * random chat lines (some addressing a persona, some with a keyword, most neither), p50/p99/max
 * in microseconds, without relevance and with it (random --dim vectors, 384 as bge-small's).
 * Goals: p99 < 0.5 ms without relevance, < 5 ms with it. The relevance stage in the bot also
 * embeds the message with its context (persona.relevance_context lines, 3) with the sentence
 * encoder: the third pass (--enc-messages, default 300; 0 skips it) does that too, with a
 * random-weight BERT at bge-small-en-v1.5's shapes (F16, or Q8_0 with --enc-q8; --enc-tiny for a
 * smoke run at toy size) on --threads threads, and reports the whole per-message cost.
 *
 * Adapters (the engine, llm_backend local): --conv conversations at once (default 8), each with a
 * different LoRA adapter, against the same conversations all with one adapter, in generated
 * tokens/s (median of --reps rounds). Goal: within 10%. The model is tiny and made here with
 * mimic's GGUF writer (gguf_make_random, qwen2 shapes --width/--layers/--ff, F32, the tokenizer of
 * ../shared/testdata/tokenizer) and the adapters too (random rank --rank A/B on q, k, v and o of
 * every layer); both are deleted at the end. Without ../shared this part is skipped.
 *
 *   bench_persona [--personas 50] [--messages 20000] [--dim 384] [--conv 8] [--tokens 32]
 *                 [--reps 3] [--width 256] [--layers 4] [--ff 768] [--rank 8] [--threads 0]
 *                 [--enc-messages 300] [--enc-q8] [--enc-tiny] [--no-engine]
 * Not run by ctest (build with `cmake --build build --target bench_persona`). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "bot/persona_route.h"
#include "embed/embed.h"
#include "embed/tiny_bert.h"
#include "llm/backend.h"
#include "llm/compute_pool.h"
#include "llm/gguf.h"
#include "llm/quantize.h"

static double now_us(void) { return (double)clock_mono_ns() / 1e3; }

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) {
  if (!n) return 0;
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return v[i < n ? i : n - 1];
}

/* ---- Routing --------------------------------------------------------------------------------- */

static const char *const words[] = {
    "the",   "a",       "space", "ship",  "is",    "really", "cool",     "what",    "do",
    "you",   "think",   "about", "lunch", "today", "lol",    "maybe",    "we",      "should",
    "go",    "outside", "later", "game",  "night", "again",  "honestly", "weather", "movie",
    "music", "and",     "then",  "it",    "was",   "like",   "so",       "much",    "fun"};
#define N_WORDS (sizeof words / sizeof words[0])

typedef struct cast {
  proute_persona *p;
  char (*names)[32];
  char (*aliases)[2][32];
  const char *(*alias_ptrs)[2];
  char (*kw)[3][32];
  const char *(*kw_ptrs)[3];
  char (*re)[64];
  const char **re_ptrs;
  float *vecs;
} cast;

static void random_vec(prng *r, float *v, int dim) {
  for (int d = 0; d < dim; d++) v[d] = (float)(prng_uniform(r) * 2 - 1);
}

static void make_cast(cast *c, int n, int dim, prng *r) {
  c->p = xcalloc((size_t)n, sizeof *c->p);
  c->names = xcalloc((size_t)n, sizeof *c->names);
  c->aliases = xcalloc((size_t)n, sizeof *c->aliases);
  c->alias_ptrs = xcalloc((size_t)n, sizeof *c->alias_ptrs);
  c->kw = xcalloc((size_t)n, sizeof *c->kw);
  c->kw_ptrs = xcalloc((size_t)n, sizeof *c->kw_ptrs);
  c->re = xcalloc((size_t)n, sizeof *c->re);
  c->re_ptrs = xcalloc((size_t)n, sizeof *c->re_ptrs);
  c->vecs = xcalloc((size_t)n * (size_t)dim, sizeof *c->vecs);
  for (int i = 0; i < n; i++) {
    snprintf(c->names[i], sizeof c->names[i], "Persona%02d", i);
    snprintf(c->aliases[i][0], sizeof c->aliases[i][0], "p%02d", i);
    snprintf(c->aliases[i][1], sizeof c->aliases[i][1], "the number %d", i);
    c->alias_ptrs[i][0] = c->aliases[i][0];
    c->alias_ptrs[i][1] = c->aliases[i][1];
    for (int k = 0; k < 3; k++) {
      snprintf(c->kw[i][k], sizeof c->kw[i][k], "topic%d_%d", i, k);
      c->kw_ptrs[i][k] = c->kw[i][k];
    }
    snprintf(c->re[i], sizeof c->re[i], "\\bcatch(phrase|word)%d\\b", i);
    c->re_ptrs[i] = c->re[i];
    random_vec(r, c->vecs + (size_t)i * (size_t)dim, dim);
    c->p[i] = (proute_persona){.id = i + 1,
                               .name = c->names[i],
                               .aliases = c->alias_ptrs[i],
                               .n_aliases = 2,
                               .keywords = c->kw_ptrs[i],
                               .n_keywords = 3,
                               .regexes = &c->re_ptrs[i],
                               .n_regexes = 1,
                               .freewill = 0.02,
                               .vec = c->vecs + (size_t)i * (size_t)dim};
  }
}

static void free_cast(cast *c) {
  mem_free(c->p);
  mem_free(c->names);
  mem_free(c->aliases);
  mem_free(c->alias_ptrs);
  mem_free(c->kw);
  mem_free(c->kw_ptrs);
  mem_free(c->re);
  mem_free(c->re_ptrs);
  mem_free(c->vecs);
}

/* A chat line of 6-30 words; one in 10 addresses a persona, one in 20 has a keyword. */
static void random_line(prng *r, int n_personas, char *out, size_t cap) {
  size_t o = 0;
  uint64_t kind = prng_below(r, 20);
  if (kind < 2)
    o += (size_t)snprintf(out, cap, "Persona%02d, ", (int)prng_below(r, (uint64_t)n_personas));
  int n = 6 + (int)prng_below(r, 25);
  for (int i = 0; i < n && o + 40 < cap; i++) {
    if (kind == 2 && i == n / 2)
      o += (size_t)snprintf(out + o, cap - o, "topic%d_1 ",
                            (int)prng_below(r, (uint64_t)n_personas));
    else
      o += (size_t)snprintf(out + o, cap - o, "%s ", words[prng_below(r, N_WORDS)]);
  }
  out[o] = 0;
}

/* A line of 6-30 words of the synthetic encoder's vocabulary (as bench_embed writes them: one
 * token each, as English words are for bge's), so the encoder sees Discord-length input. */
static void enc_line(prng *r, int n_vocab, char *out, size_t cap) {
  size_t o = 0;
  int n = 6 + (int)prng_below(r, 25);
  for (int i = 0; i < n && o + 20 < cap; i++) {
    char rev[16], w[16];
    int len = 0;
    for (long x = (long)prng_below(r, (uint64_t)(n_vocab - 5 - 2 * 94)) + 27; x > 0;
         x = (x - 1) / 26)
      rev[len++] = (char)('a' + (x - 1) % 26);
    for (int k = 0; k < len; k++) w[k] = rev[len - 1 - k];
    w[len] = 0;
    o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? " " : "", w);
  }
  out[o] = 0;
}

/* Relevance as the bot runs it: the message and the 3 lines before it embedded, then the decision,
 * for n_messages messages (each one reaching the relevance stage is the worst case). */
static int bench_encoded(proute_set *s, int n_personas, int n_messages, bool q8, bool tiny,
                         int threads, prng *r) {
  tiny_bert_spec sp = {.n_embd = 384,
                       .n_layer = 12,
                       .n_head = 12,
                       .n_ff = 1536,
                       .n_ctx = 512,
                       .n_vocab = 30522,
                       .wtype = q8 ? TT_Q8_0 : TT_F16,
                       .pooling = 2,
                       .seed = 42};
  if (tiny) {
    sp.n_embd = 64;
    sp.n_layer = 2;
    sp.n_head = 2;
    sp.n_ff = 256;
    sp.n_vocab = 2000;
  }
  if (proute_set_dim(s) != sp.n_embd) {
    fprintf(stderr, "bench_persona: the encoder pass needs --dim %d\n", sp.n_embd);
    return 1;
  }
  char path[] = "/tmp/bench_persona_enc_XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    perror("bench_persona: mkstemp");
    return 1;
  }
  close(fd);
  int rc = tiny_bert_write(path, &sp);
  embed_opts eo = {.threads = threads};
  embed_model *m = rc ? NULL : embed_open(path, &eo);
  if (!m) {
    fprintf(stderr, "bench_persona: %s\n", err_msg());
    unlink(path);
    return 1;
  }
  double *lat = xcalloc((size_t)n_messages, sizeof *lat);
  float *mvec = xcalloc((size_t)sp.n_embd, sizeof *mvec);
  char lines[4][1024], line[1024];
  for (int k = 0; k < 3; k++) enc_line(r, sp.n_vocab, lines[k], sizeof lines[k]);
  size_t answered = 0;
  for (int i = 0; i < n_messages && !rc; i++) {
    enc_line(r, sp.n_vocab, lines[(i + 3) % 4], sizeof lines[0]);
    random_line(r, n_personas, line, sizeof line);
    char text[4200];
    snprintf(text, sizeof text, "%s\n%s\n%s\n%s", lines[(i + 0) % 4], lines[(i + 1) % 4],
             lines[(i + 2) % 4], lines[(i + 3) % 4]);
    const char *t = text;
    double a = now_us();
    rc = embed_texts(m, &t, 1, true, mvec);
    proute_msg pm = {.channel_id = 11,
                     .content = line,
                     .vec = mvec,
                     .relevance_threshold = 0.3,
                     .max_answer = 1};
    proute_pick pk[1];
    answered += proute_decide(s, &pm, r, pk, 1);
    lat[i] = now_us() - a;
  }
  if (rc) {
    fprintf(stderr, "bench_persona: %s\n", err_msg());
  } else {
    qsort(lat, (size_t)n_messages, sizeof *lat, cmp_double);
    char th[32];
    if (threads > 0)
      snprintf(th, sizeof th, "%d thread%s", threads, threads == 1 ? "" : "s");
    else
      snprintf(th, sizeof th, "every core");
    printf("routing    with relevance and the encoder (%s %s, %s), %d messages: p50 %.1f "
           "us, p99 %.1f us, max %.1f us (%.0f%% answered; goal p99 < 5 ms)\n",
           tiny ? "toy BERT" : "bge-small shapes", q8 ? "Q8_0" : "F16", th, n_messages,
           pct(lat, (size_t)n_messages, 0.5), pct(lat, (size_t)n_messages, 0.99),
           lat[n_messages - 1], 100.0 * (double)answered / n_messages);
  }
  mem_free(lat);
  mem_free(mvec);
  embed_close(m);
  unlink(path);
  return rc ? 1 : 0;
}

static int bench_routing(int n_personas, int n_messages, int dim, int enc_messages, bool enc_q8,
                         bool enc_tiny, int threads) {
  prng r;
  prng_seed(&r, 1);
  cast c;
  make_cast(&c, n_personas, dim, &r);
  proute_set *s = NULL;
  double t0 = now_us();
  if (proute_set_new(c.p, (size_t)n_personas, dim, &s)) {
    fprintf(stderr, "bench_persona: %s\n", err_msg());
    free_cast(&c);
    return 1;
  }
  printf("routing    snapshot of %d personas (regexes compiled, vectors normalised): %.0f us\n",
         n_personas, now_us() - t0);
  double *lat = xcalloc((size_t)n_messages, sizeof *lat);
  float *mvec = xcalloc((size_t)dim, sizeof *mvec);
  char line[1024];
  for (int pass = 0; pass < 2; pass++) {
    bool rel = pass == 1;
    size_t answered = 0;
    for (int i = 0; i < n_messages; i++) {
      random_line(&r, n_personas, line, sizeof line);
      if (rel) random_vec(&r, mvec, dim);
      proute_msg m = {.channel_id = 11,
                      .content = line,
                      .vec = rel ? mvec : NULL,
                      .relevance_threshold = 0.3,
                      .max_answer = 1};
      proute_pick pk[1];
      double a = now_us();
      answered += proute_decide(s, &m, &r, pk, 1);
      lat[i] = now_us() - a;
    }
    qsort(lat, (size_t)n_messages, sizeof *lat, cmp_double);
    printf("routing    %-17s %d messages: p50 %.1f us, p99 %.1f us, max %.1f us "
           "(%.0f%% answered; goal p99 < %s)\n",
           rel ? "with relevance," : "no relevance,", n_messages, pct(lat, (size_t)n_messages, 0.5),
           pct(lat, (size_t)n_messages, 0.99), lat[n_messages - 1],
           100.0 * (double)answered / n_messages, rel ? "5 ms" : "0.5 ms");
  }
  mem_free(lat);
  mem_free(mvec);
  int rc = enc_messages > 0
               ? bench_encoded(s, n_personas, enc_messages, enc_q8, enc_tiny, threads, &r)
               : 0;
  proute_set_destroy(s);
  free_cast(&c);
  return rc;
}

/* ---- Adapters in the engine ------------------------------------------------------------------ */

/* A LoRA adapter for the random qwen2 model: A {n_in, r}, B {r, n_out} on q, k, v, o. */
static int write_adapter(const char *path, int width, int layers, int heads, int kv_heads, int rank,
                         uint64_t seed) {
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.type", "adapter");
  gguf_set_str(w, "general.architecture", "qwen2");
  gguf_set_str(w, "adapter.type", "lora");
  gguf_set_f32(w, "adapter.lora.alpha", (float)rank * 2);
  prng r;
  prng_seed(&r, seed);
  int head_dim = width / heads, kvd = kv_heads * head_dim;
  static const char *const names[] = {"attn_q", "attn_k", "attn_v", "attn_output"};
  int outs[] = {width, kvd, kvd, width};
  float *bufs[64];
  int nb = 0, rc = 0;
  for (int l = 0; l < layers && !rc; l++) {
    for (int k = 0; k < 4 && !rc && nb + 2 <= 64; k++) {
      size_t na = (size_t)width * (size_t)rank, nbb = (size_t)rank * (size_t)outs[k];
      float *a = xcalloc(na, sizeof *a), *b = xcalloc(nbb, sizeof *b);
      for (size_t i = 0; i < na; i++) a[i] = (float)(prng_uniform(&r) - 0.5) * 0.02f;
      for (size_t i = 0; i < nbb; i++) b[i] = (float)(prng_uniform(&r) - 0.5) * 0.02f;
      bufs[nb++] = a;
      bufs[nb++] = b;
      char na_name[64], nb_name[64];
      snprintf(na_name, sizeof na_name, "blk.%d.%s.weight.lora_a", l, names[k]);
      snprintf(nb_name, sizeof nb_name, "blk.%d.%s.weight.lora_b", l, names[k]);
      int64_t ne_a[4] = {width, rank, 1, 1}, ne_b[4] = {rank, outs[k], 1, 1};
      rc = gguf_add_tensor(w, na_name, TT_F32, 2, ne_a, a);
      if (!rc) rc = gguf_add_tensor(w, nb_name, TT_F32, 2, ne_b, b);
    }
  }
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  for (int i = 0; i < nb; i++) mem_free(bufs[i]);
  return rc;
}

typedef struct waitall {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int left, errors;
  long tokens;
} waitall;

static void on_done(void *user, llm_result *res) {
  waitall *w = user;
  pthread_mutex_lock(&w->mu);
  w->tokens += res->gen_tokens;
  if (res->finish == LLM_FINISH_ERROR) {
    w->errors++;
    fprintf(stderr, "generation failed: %s\n", res->error_msg);
  }
  w->left--;
  pthread_cond_signal(&w->cv);
  pthread_mutex_unlock(&w->mu);
  llm_result_destroy(res);
}

/* n conversations at once, conversation i with adapter "a<i>" (or all "a0"); tokens/s. */
static double run_round(llm_backend *b, int n, int tokens, bool distinct, int round) {
  waitall w = {.left = n};
  pthread_mutex_init(&w.mu, NULL);
  pthread_cond_init(&w.cv, NULL);
  double t0 = now_us();
  for (int i = 0; i < n; i++) {
    char prompt[200], key[32], ad[16];
    snprintf(prompt, sizeof prompt, "persona %d, round %d: what do you think of the weather?", i,
             round);
    snprintf(key, sizeof key, "chan:p%d:%s", i, distinct ? "d" : "s");
    snprintf(ad, sizeof ad, "a%d", distinct ? i : 0);
    llm_request r;
    llm_request_init(&r);
    r.prompt = prompt;
    r.max_tokens = tokens;
    r.min_tokens = tokens; /* random weights: never stop early */
    r.sampling.seed = (uint64_t)(i + 1);
    r.slot_key = key;
    r.adapter = ad;
    if (llm_backend_submit(b, &r, NULL, on_done, &w, NULL)) {
      fprintf(stderr, "submit: %s\n", err_msg());
      pthread_mutex_lock(&w.mu);
      w.left--;
      w.errors++;
      pthread_mutex_unlock(&w.mu);
    }
  }
  pthread_mutex_lock(&w.mu);
  while (w.left > 0) pthread_cond_wait(&w.cv, &w.mu);
  pthread_mutex_unlock(&w.mu);
  double s = (now_us() - t0) / 1e6;
  pthread_mutex_destroy(&w.mu);
  pthread_cond_destroy(&w.cv);
  return w.errors ? 0 : (double)w.tokens / s;
}

static int bench_adapters(int conv, int tokens, int reps, int width, int layers, int ff, int rank,
                          int threads) {
  char tok[512];
  const char *root = getenv("MIMIC_SHARED") ? getenv("MIMIC_SHARED") : "../shared";
  snprintf(tok, sizeof tok, "%s/testdata/tokenizer/ggml-vocab-gpt-2-pre-qwen2.gguf", root);
  if (access(tok, R_OK) != 0) {
    printf("adapters   skipped: %s is missing (set MIMIC_SHARED)\n", tok);
    return 0;
  }
  char dir[] = "/tmp/mimic-bench-persona-XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  char model[600], ads[16][600];
  snprintf(model, sizeof model, "%s/base.gguf", dir);
  int heads = width / 64 > 0 ? width / 64 : 1, kv_heads = heads > 1 ? heads / 2 : 1;
  random_model_opts o = {"qwen2", width, layers, heads, kv_heads, ff, 512, 1, QP_F32, tok, 0};
  int rc = gguf_make_random(&o, model, NULL);
  llm_backend *b = NULL;
  if (!rc) {
    llm_local_opts lo = {
        .model_path = model, .threads = threads, .slots = conv * 2, .ctx = 256, .batch = 512};
    rc = llm_backend_local_new(&lo, &b);
  }
  for (int i = 0; i < conv && !rc; i++) {
    char name[16];
    snprintf(ads[i], sizeof ads[i], "%s/a%d.gguf", dir, i);
    snprintf(name, sizeof name, "a%d", i);
    rc = write_adapter(ads[i], width, layers, heads, kv_heads, rank, (uint64_t)i + 7);
    if (!rc) rc = llm_backend_adapter_load(b, name, ads[i], 1.0f);
  }
  if (rc) {
    fprintf(stderr, "bench_persona: %s\n", err_msg());
  } else {
    printf("adapters   model qwen2 %dx%d ff %d F32, %d adapters of rank %d, %d conversations x "
           "%d tokens, %d rounds\n",
           width, layers, ff, conv, rank, conv, tokens, reps);
    double one[16], many[16];
    run_round(b, conv, tokens, false, -1); /* warm the slots and the caches */
    run_round(b, conv, tokens, true, -1);
    for (int k = 0; k < reps; k++) {
      one[k] = run_round(b, conv, tokens, false, k);
      many[k] = run_round(b, conv, tokens, true, k);
    }
    qsort(one, (size_t)reps, sizeof one[0], cmp_double);
    qsort(many, (size_t)reps, sizeof many[0], cmp_double);
    double a = one[reps / 2], d = many[reps / 2];
    printf("adapters   %d conversations, one adapter: %.1f tokens/s; %d different adapters: %.1f "
           "tokens/s (%.1f%%; goal within 10%%)\n",
           conv, a, conv, d, a > 0 ? 100.0 * (d - a) / a : 0.0);
  }
  llm_backend_destroy(b);
  for (int i = 0; i < conv; i++) unlink(ads[i]);
  unlink(model);
  rmdir(dir);
  return rc ? 1 : 0;
}

int main(int argc, char **argv) {
  int64_t personas = 50, messages = 20000, dim = 384, conv = 8, tokens = 32, reps = 3, width = 256,
          layers = 4, ff = 768, rank = 8, threads = 0, enc_messages = 300;
  bool engine = true, enc_q8 = false, enc_tiny = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t *dst = NULL;
    int64_t lo = 1, hi = 1000000;
    if (strcmp(a, "--no-engine") == 0) {
      engine = false;
      continue;
    }
    if (strcmp(a, "--enc-q8") == 0 || strcmp(a, "--enc-tiny") == 0) {
      *(a[6] == 'q' ? &enc_q8 : &enc_tiny) = true;
      continue;
    }
    if (strcmp(a, "--enc-messages") == 0)
      dst = &enc_messages, lo = 0;
    else if (strcmp(a, "--personas") == 0)
      dst = &personas, hi = 10000;
    else if (strcmp(a, "--messages") == 0)
      dst = &messages;
    else if (strcmp(a, "--dim") == 0)
      dst = &dim, hi = 4096;
    else if (strcmp(a, "--conv") == 0)
      dst = &conv, hi = 16;
    else if (strcmp(a, "--tokens") == 0)
      dst = &tokens, hi = 256;
    else if (strcmp(a, "--reps") == 0)
      dst = &reps, hi = 15;
    else if (strcmp(a, "--width") == 0)
      dst = &width, lo = 64, hi = 4096;
    else if (strcmp(a, "--layers") == 0)
      dst = &layers, hi = 16;
    else if (strcmp(a, "--ff") == 0)
      dst = &ff, lo = 64, hi = 16384;
    else if (strcmp(a, "--rank") == 0)
      dst = &rank, hi = 64;
    else if (strcmp(a, "--threads") == 0)
      dst = &threads, lo = 0, hi = 256;
    if (!dst || !v || str_to_i64(v, dst) || *dst < lo || *dst > hi) {
      fprintf(stderr,
              "usage: bench_persona [--personas 50] [--messages 20000] [--dim 384] [--conv 8] "
              "[--tokens 32] [--reps 3] [--width 256] [--layers 4] [--ff 768] [--rank 8] "
              "[--threads 0] [--enc-messages 300] [--enc-q8] [--enc-tiny] [--no-engine]\n");
      return 2;
    }
    i++;
  }
  log_set_level(LOG_WARN);
  if (enc_tiny && dim == 384) dim = 64; /* the toy encoder's width */
  if (bench_routing((int)personas, (int)messages, (int)dim, (int)enc_messages, enc_q8, enc_tiny,
                    (int)threads))
    return 1;
  if (engine && bench_adapters((int)conv, (int)tokens, (int)reps, (int)width, (int)layers, (int)ff,
                               (int)rank, (int)threads))
    return 1;
  return 0;
}
