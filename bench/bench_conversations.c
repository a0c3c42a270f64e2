/* Conversations arriving together: N distinct prompts of about P tokens submitted at once to the
 * local engine (N slots), each generating G tokens (greedy, never stopping early), as a server sees
 * a burst of channels. Reports the wall time until every reply is complete, the time to the last
 * first token (when the last conversation's prompt is read: the longest anyone waits) and the
 * mean, and memory (peak and current resident set). The issue-20 row: 8 conversations, ~200-token
 * prompts + 64 tokens each, on the Qwen2.5-3B shape (llama-server -np 8: 65.5 s).
 *
 *   bench_conversations --model M.gguf [--conversations 8] [--prompt-tokens 200] [-n 64]
 *                       [--threads 0] [--ctx 0] [--batch 512] [--kv f16|f32] [--reps 1]
 *                       [--serial] [--dump-prompts FILE] [--json]
 * --ctx: positions per slot (0: prompt + generation + 64, rounded up to 64); --serial: the engine
 * without mixed steps (one prompt chunk per turn, decoding apart), for the before/after figure;
 * --dump-prompts: writes round 1's prompts as JSON lines {"prompt": ...} for a peer server
 * (bench/conversations_side_by_side.sh) and exits; the prompts depend only on the options and the
 * model's tokenizer, so a later run sends the same ones. Rounds use distinct prompts, so no slot
 * reuses a prefix. Not run by ctest (build with `cmake --build build --target bench`). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "llm/backend.h"
#include "llm/gguf.h"
#include "llm/tokenizer.h"

#define MAX_CONV 64
#define MAX_REPS 15

static const char *const WORDS[] = {
    "the",     "server",  "channel", "game",    "tonight", "really", "think",     "about",
    "weather", "bread",   "music",   "release", "patch",   "player", "because",   "maybe",
    "build",   "broken",  "again",   "anyone",  "know",    "why",    "moderator", "meme",
    "stream",  "weekend", "plans",   "coffee",  "library", "kernel", "update",    "friends",
    "later",   "message", "picture", "thread",  "vote",    "cat",    "train",     "river"};
#define N_WORDS (sizeof WORDS / sizeof WORDS[0])

typedef struct run {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int left, errors;
  long gen_tokens, prompt_tokens;
  uint64_t t0;
  uint64_t submit_ns[MAX_CONV];
  double first_ms[MAX_CONV];
} run;

typedef struct done_arg {
  run *r;
  int i;
} done_arg;

static void on_done(void *user, llm_result *res) {
  done_arg *d = user;
  run *r = d->r;
  pthread_mutex_lock(&r->mu);
  if (res->finish == LLM_FINISH_ERROR) {
    r->errors++;
    fprintf(stderr, "conversation %d failed: %s\n", d->i, res->error_msg);
  }
  /* The first token is sampled as soon as the prompt is read. */
  r->first_ms[d->i] = (double)(r->submit_ns[d->i] - r->t0) / 1e6 + res->queue_ms + res->prompt_ms;
  r->gen_tokens += res->gen_tokens;
  r->prompt_tokens += res->prompt_tokens;
  r->left--;
  pthread_cond_signal(&r->cv);
  pthread_mutex_unlock(&r->mu);
  llm_result_destroy(res);
}

/* A prompt of at least `tokens` tokens: "Conversation i, round k:" and random words. */
static char *make_prompt(const tokenizer *t, prng *g, int i, int round, int tokens) {
  buf b;
  buf_init(&b, 0);
  int rc = buf_printf(&b, "Conversation %d, round %d:", i, round);
  for (; !rc;) {
    for (int k = 0; k < 8 && !rc; k++) rc = buf_printf(&b, " %s", WORDS[prng_next(g) % N_WORDS]);
    int32_t *ids = NULL;
    size_t n = 0;
    if (tok_encode(t, b.data, b.len, false, false, &ids, &n)) n = (size_t)tokens;
    mem_free(ids);
    if ((int)n >= tokens) break;
  }
  return buf_steal(&b);
}

static long status_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long v = -1;
  size_t kl = strlen(key);
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') v = strtol(line + kl + 1, NULL, 10);
  if (f) fclose(f);
  return v;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv) {
  const char *model = NULL, *dump = NULL, *kv = "f16";
  int64_t conv = 8, ptok = 200, gen = 64, threads = 0, ctx = 0, batch = 512, reps = 1;
  bool serial = false, json = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t *num = NULL, lo = 1, hi = 1 << 20;
    if (strcmp(a, "--serial") == 0) {
      serial = true;
      continue;
    }
    if (strcmp(a, "--json") == 0) {
      json = true;
      continue;
    }
    if (!v) {
      fprintf(stderr, "%s: needs a value (see the comment at the top of bench_conversations.c)\n",
              a);
      return 2;
    }
    i++;
    if (strcmp(a, "--model") == 0 || strcmp(a, "-m") == 0)
      model = v;
    else if (strcmp(a, "--dump-prompts") == 0)
      dump = v;
    else if (strcmp(a, "--kv") == 0)
      kv = v;
    else if (strcmp(a, "--conversations") == 0)
      num = &conv, hi = MAX_CONV;
    else if (strcmp(a, "--prompt-tokens") == 0)
      num = &ptok;
    else if (strcmp(a, "-n") == 0)
      num = &gen;
    else if (strcmp(a, "--threads") == 0)
      num = &threads, lo = 0, hi = 256;
    else if (strcmp(a, "--ctx") == 0)
      num = &ctx, lo = 0;
    else if (strcmp(a, "--batch") == 0)
      num = &batch;
    else if (strcmp(a, "--reps") == 0)
      num = &reps, hi = MAX_REPS;
    else {
      fprintf(stderr, "unknown option %s\n", a);
      return 2;
    }
    if (num && (str_to_i64(v, num) || *num < lo || *num > hi)) {
      fprintf(stderr, "%s: '%s' is not a number in [%lld, %lld]\n", a, v, (long long)lo,
              (long long)hi);
      return 2;
    }
  }
  if (!model || (strcmp(kv, "f16") != 0 && strcmp(kv, "f32") != 0)) {
    fprintf(stderr, "usage: bench_conversations --model M.gguf [--kv f16|f32] [...]\n");
    return 2;
  }
  if (ctx == 0) ctx = (ptok + ptok / 4 + gen + 64 + 63) / 64 * 64;
  log_set_level(LOG_WARN);

  gguf_file *g = NULL;
  tokenizer *tok = NULL;
  if (gguf_open(model, &g) || tok_load(g, &tok)) {
    fprintf(stderr, "%s: %s\n", model, err_msg());
    gguf_close(g);
    return 1;
  }
  prng rng;
  prng_seed(&rng, 20);
  char *prompts[MAX_REPS][MAX_CONV];
  for (int r = 0; r < reps; r++)
    for (int i = 0; i < conv; i++) prompts[r][i] = make_prompt(tok, &rng, i, r + 1, (int)ptok);
  tok_destroy(tok);
  gguf_close(g);
  if (dump) {
    FILE *f = fopen(dump, "w");
    if (!f) {
      fprintf(stderr, "%s: cannot write\n", dump);
      return 1;
    }
    for (int i = 0; i < conv; i++) fprintf(f, "{\"prompt\": \"%s\"}\n", prompts[0][i]);
    fclose(f);
    for (int r = 0; r < reps; r++)
      for (int i = 0; i < conv; i++) mem_free(prompts[r][i]);
    return 0;
  }

  llm_local_opts o = {.model_path = model,
                      .threads = (int)threads,
                      .slots = (int)conv,
                      .ctx = (int)ctx,
                      .batch = (int)batch,
                      .queue_max = (int)conv + 1,
                      .kv_f16 = strcmp(kv, "f16") == 0,
                      .serial_prompts = serial};
  llm_backend *b = NULL;
  uint64_t tl = clock_mono_ns();
  if (llm_backend_local_new(&o, &b)) {
    fprintf(stderr, "%s\n", err_msg());
    return 1;
  }
  /* Warm-up: page every weight in (the file is mmapped), as the peer's warm-up does. */
  llm_request w;
  llm_request_init(&w);
  w.prompt = "warm up";
  w.max_tokens = w.min_tokens = 2;
  w.slot_key = "warm-up";
  llm_result wr;
  if (llm_backend_generate(b, &w, NULL, NULL, &wr)) {
    fprintf(stderr, "warm-up: %s\n", err_msg());
    llm_backend_destroy(b);
    return 1;
  }
  llm_result_free(&wr);
  double load_s = (double)(clock_mono_ns() - tl) / 1e9;

  double wall[MAX_REPS], last[MAX_REPS], mean[MAX_REPS];
  long ptotal = 0, gtotal = 0;
  for (int r = 0; r < reps; r++) {
    run R = {.left = (int)conv};
    pthread_mutex_init(&R.mu, NULL);
    pthread_cond_init(&R.cv, NULL);
    done_arg da[MAX_CONV];
    char keys[MAX_CONV][32];
    R.t0 = clock_mono_ns();
    for (int i = 0; i < conv; i++) {
      llm_request q;
      llm_request_init(&q);
      q.prompt = prompts[r][i];
      q.max_tokens = q.min_tokens = (int)gen; /* random weights: never stop early */
      q.sampling.temperature = 0;
      q.sampling.repeat_penalty = 1;
      snprintf(keys[i], sizeof keys[i], "conv-%d-%d", r, i);
      q.slot_key = keys[i];
      da[i] = (done_arg){&R, i};
      pthread_mutex_lock(&R.mu);
      R.submit_ns[i] = clock_mono_ns();
      pthread_mutex_unlock(&R.mu);
      if (llm_backend_submit(b, &q, NULL, on_done, &da[i], NULL)) {
        fprintf(stderr, "submit: %s\n", err_msg());
        pthread_mutex_lock(&R.mu);
        R.left--;
        R.errors++;
        pthread_mutex_unlock(&R.mu);
      }
    }
    pthread_mutex_lock(&R.mu);
    while (R.left > 0) pthread_cond_wait(&R.cv, &R.mu);
    pthread_mutex_unlock(&R.mu);
    wall[r] = (double)(clock_mono_ns() - R.t0) / 1e9;
    if (R.errors) {
      llm_backend_destroy(b);
      return 1;
    }
    last[r] = 0;
    mean[r] = 0;
    for (int i = 0; i < conv; i++) {
      if (R.first_ms[i] > last[r]) last[r] = R.first_ms[i];
      mean[r] += R.first_ms[i] / (double)conv;
    }
    last[r] /= 1e3;
    mean[r] /= 1e3;
    ptotal = R.prompt_tokens;
    gtotal = R.gen_tokens;
    fprintf(stderr,
            "round %d: wall %.2f s, last first token %.2f s (mean %.2f s), %ld prompt + %ld "
            "generated tokens\n",
            r + 1, wall[r], last[r], mean[r], R.prompt_tokens, R.gen_tokens);
    pthread_cond_destroy(&R.cv);
    pthread_mutex_destroy(&R.mu);
  }
  long hwm = status_kb("VmHWM"), rss = status_kb("VmRSS");
  llm_backend_destroy(b);
  double mw = median(wall, (int)reps), ml = median(last, (int)reps), mm = median(mean, (int)reps);
  printf("mimic%s: %lld conversations x (%ld prompt tokens in all, %lld generated each), %s KV, "
         "ctx %lld/slot, batch %lld: wall %.2f s, last first token %.2f s, mean first token %.2f "
         "s; peak RSS %.0f MiB (now %.0f); load + warm-up %.2f s; median of %lld\n",
         serial ? " (serial prompts)" : "", (long long)conv, ptotal, (long long)gen, kv,
         (long long)ctx, (long long)batch, mw, ml, mm, (double)hwm / 1024, (double)rss / 1024,
         load_s, (long long)reps);
  if (json)
    printf("{\"wall_s\":%.3f,\"last_first_token_s\":%.3f,\"mean_first_token_s\":%.3f,"
           "\"prompt_tokens\":%ld,\"gen_tokens\":%ld,\"peak_rss_mib\":%.1f,\"serial\":%s}\n",
           mw, ml, mm, ptotal, gtotal, (double)hwm / 1024, serial ? "true" : "false");
  for (int r = 0; r < reps; r++)
    for (int i = 0; i < conv; i++) mem_free(prompts[r][i]);
  return 0;
}
