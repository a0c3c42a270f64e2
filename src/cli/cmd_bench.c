/* `mimic bench`: prompt-processing and generation speed of a model on this machine, measured on the
 * model directly (no queue, no sampling), like llama-bench's pp/tg: --prompt-tokens evaluated in
 * one prepare, then -n single-token decode steps; the median of --reps runs is reported. The token
 * ids are random but fixed (seeded), so runs are comparable. Generation starts after the prompt
 * (KV depth = prompt length) unless --gen-depth says otherwise (0: an empty cache, as llama-bench's
 * tg). One untimed decode step first warms the weights' pages and the threads. --profile adds
 * where the time goes (llm/profile.h), for the prompt and for generation. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "llm/backend.h"
#include "llm/model.h"
#include "llm/profile.h"
#include "llm/quant.h"
#include "llm/sampler.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

typedef struct bench_opts {
  const char *model;
  int threads, n_prompt, n_gen, reps, gen_depth;
  bool json, profile, bandwidth;
} bench_opts;

/* One phase's profile (pp or tg), per forward pass, as a table on stderr: wall-clock categories,
 * with the matrix time split by weight type (busy thread time / threads) and the threads' waiting
 * in the parallel sections as its own line. */
static void print_profile(const char *phase, const llm_profile *p, int nth) {
  if (!p->forwards) return;
  double per = 1e6 * (double)p->forwards, total = (double)p->wall_ns[LLM_PROF_FORWARD] / per;
  fprintf(stderr, "profile %s: %.2f ms per forward pass (%" PRIu64 " passes, %.0f tokens each)\n",
          phase, total, p->forwards, (double)p->tokens / (double)p->forwards);
  double shown = 0;
  uint64_t busy = p->attn_busy_ns;
  for (int t = 0; t < TT_COUNT; t++) busy += p->mm_busy_ns[t];
#define ROW(name, ms)                                                                              \
  do {                                                                                             \
    double v_ = (ms);                                                                              \
    fprintf(stderr, "  %-22s %9.3f ms %5.1f%%\n", name, v_, total > 0 ? 100 * v_ / total : 0);     \
    shown += v_;                                                                                   \
  } while (0)
  char name[64];
  for (int t = 0; t < TT_COUNT; t++)
    if (p->mm_busy_ns[t]) {
      snprintf(name, sizeof name, "matmul %s", tensor_type_get((tensor_type)t).name);
      ROW(name, (double)p->mm_busy_ns[t] / nth / per);
    }
  ROW("attention", (double)p->attn_busy_ns / nth / per);
  ROW("threads waiting",
      p->par_avail_ns > busy ? (double)(p->par_avail_ns - busy) / nth / per : 0.0);
  static const llm_prof_cat serial[] = {LLM_PROF_ACT_QUANT, LLM_PROF_NORM, LLM_PROF_ROPE,
                                        LLM_PROF_SWIGLU,    LLM_PROF_ADD,  LLM_PROF_EMBED};
  for (size_t i = 0; i < sizeof serial / sizeof serial[0]; i++)
    ROW(llm_profile_cat_name(serial[i]), (double)p->wall_ns[serial[i]] / per);
  fprintf(stderr, "  %-22s %9.3f ms %5.1f%%\n", "other", total - shown,
          total > 0 ? 100 * (total - shown) / total : 0);
#undef ROW
}

int cmd_bench(int argc, char **argv) {
  bench_opts o = {.n_prompt = 512, .n_gen = 128, .reps = 3, .gen_depth = -1};
  const cli_opt opts[] = {
      {.name = "model",
       .short_name = 'm',
       .type = CLI_PATH,
       .dest = &o.model,
       .meta = "M.gguf",
       .help = "GGUF model",
       .key = CLI_KEY(CFG_ENGINE_MODEL)},
      {.name = "threads",
       .short_name = 't',
       .type = CLI_INT,
       .dest = &o.threads,
       .meta = "N",
       .help = "compute threads (0: one per core)",
       .key = CLI_KEY(CFG_ENGINE_THREADS)},
      {.name = "prompt-tokens",
       .type = CLI_INT,
       .dest = &o.n_prompt,
       .meta = "N",
       .help = "prompt tokens evaluated at once (default 512)",
       .min = 1,
       .max = 1 << 20},
      {.name = "max-tokens",
       .short_name = 'n',
       .type = CLI_INT,
       .dest = &o.n_gen,
       .meta = "N",
       .help = "tokens generated one by one (default 128)",
       .min = 1,
       .max = LLM_MAX_TOKENS},
      {.name = "reps",
       .type = CLI_INT,
       .dest = &o.reps,
       .meta = "N",
       .help = "runs; the median is reported (default 3)",
       .min = 1,
       .max = 1000},
      {.name = "gen-depth",
       .type = CLI_INT,
       .dest = &o.gen_depth,
       .meta = "N",
       .help = "tokens in the cache when generation starts (default: the prompt; 0 as "
               "llama-bench's tg)",
       .min = 0,
       .max = 1 << 20},
      {.name = "profile",
       .type = CLI_BOOL,
       .dest = &o.profile,
       .help = "also show where the time goes (per forward pass, on stderr)"},
      {.name = "bandwidth",
       .type = CLI_BOOL,
       .dest = &o.bandwidth,
       .help = "also measure the memory read bandwidth with the same threads, and generation's "
               "bound from it"},
      {.name = "json", .type = CLI_BOOL, .dest = &o.json, .help = "one JSON object on stdout"},
      {0}};
  const cli_spec spec = {
      .name = "bench",
      .summary = "Prompt-processing and generation speed of a model on this machine (like "
                 "llama-bench's pp/tg),\non the model directly: no queue, no sampling.",
      .example = "bench --model models/base.gguf --prompt-tokens 512 -n 128 --json",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  llm_model *m = NULL;
  compute_pool *cpool = NULL;
  llm_ctx *ctx = NULL;
  int32_t *toks = NULL;
  float *logits = NULL;
  double *pp = NULL, *tg = NULL;
  int n_gen = o.n_gen, n_prompt = o.n_prompt;
  int depth = o.gen_depth < 0 ? n_prompt : o.gen_depth;
  llm_profile prof_pp, prof_tg;
  if (llm_model_load(o.model, &m)) goto fail;
  const llm_hparams *hp = llm_model_hparams(m);
  cpool = compute_pool_new(o.threads);
  if (!cpool) {
    err_set(MIMIC_ENOMEM, "cannot start the compute threads");
    goto fail;
  }
  llm_ctx_params cp = {.n_ctx = (depth > n_prompt ? depth : n_prompt) + n_gen + 1,
                       .n_slots = 1,
                       .n_batch = n_prompt < 512 ? n_prompt : 512,
                       .pool = cpool};
  if (llm_ctx_new(m, &cp, &ctx)) goto fail;
  int n_toks = depth > n_prompt ? depth : n_prompt;
  toks = xalloc((size_t)n_toks * sizeof *toks);
  logits = xalloc((size_t)hp->n_vocab * sizeof *logits);
  pp = xcalloc((size_t)o.reps, sizeof *pp);
  tg = xcalloc((size_t)o.reps, sizeof *tg);
  prng rng;
  prng_seed(&rng, 1);
  for (int i = 0; i < n_toks; i++) toks[i] = (int32_t)(prng_next(&rng) % (uint64_t)hp->n_vocab);
  /* Warm-up, untimed (as llama-bench's): one decode step reads every weight once, so the timed runs
   * do not pay the first touch of the mapped file's pages or the threads' first wake-up. */
  if (llm_slot_decode(ctx, 0, toks, 1, NULL, 0, logits)) goto fail;
  llm_profile_enable(o.profile);
  memset(&prof_pp, 0, sizeof prof_pp);
  memset(&prof_tg, 0, sizeof prof_tg);
  for (int r = 0; r < o.reps; r++) {
    llm_slot_clear(ctx, 0);
    llm_profile_reset();
    uint64_t t0 = clock_mono_ns();
    int ev = 0;
    if (llm_slot_prepare(ctx, 0, toks, n_prompt, NULL, 0, logits, &ev)) goto fail;
    uint64_t t1 = clock_mono_ns();
    if (r == o.reps / 2) llm_profile_read(&prof_pp); /* the middle run's: not the first */
    if (depth != n_prompt) {                         /* the cache generation starts from, untimed */
      llm_slot_clear(ctx, 0);
      if (depth > 0 && llm_slot_prepare(ctx, 0, toks, depth, NULL, 0, logits, NULL)) goto fail;
      t1 = clock_mono_ns();
    }
    llm_profile_reset();
    for (int i = 0; i < n_gen; i++) {
      int32_t t = depth == 0 && i == 0 ? toks[0] : llm_argmax(logits, hp->n_vocab);
      if (llm_slot_decode(ctx, 0, &t, 1, NULL, 0, logits)) goto fail;
    }
    uint64_t t2 = clock_mono_ns();
    if (r == o.reps / 2) llm_profile_read(&prof_tg);
    pp[r] = n_prompt / ((double)(t1 - t0) / 1e9);
    tg[r] = n_gen / ((double)(t2 - t1) / 1e9);
    if (!o.json)
      fprintf(stderr, "rep %d: pp %.1f tokens/s, tg %.1f tokens/s\n", r + 1, pp[r], tg[r]);
  }
  double pps = median(pp, o.reps), tgs = median(tg, o.reps);
  double gb = (double)llm_model_bytes_per_token(m) / 1e9;
  /* Generation reads every weight once per token: the read bandwidth over those bytes bounds it. */
  double bw = o.bandwidth ? llm_read_bandwidth(cpool, (size_t)1 << 30, 5) / 1e9 : 0;
  double bound = bw > 0 && gb > 0 ? bw / gb : 0;
  if (o.json) {
    printf("{\"model\":\"%s\",\"arch\":\"%s\",\"threads\":%d,\"kernels\":\"%s\",\"n_prompt\":%d,"
           "\"n_gen\":%d,\"gen_depth\":%d,"
           "\"reps\":%d,\"pp_tokens_per_s\":%.3f,\"tg_tokens_per_s\":%.3f,\"weights_gb_per_token\":"
           "%.4f,\"read_gb_per_s\":%.2f,\"tg_bound_tokens_per_s\":%.3f}\n",
           o.model, hp->arch_name, compute_pool_threads(cpool), qmat_kernels_name(), n_prompt,
           n_gen, depth, o.reps, pps, tgs, gb, bw, bound);
  } else {
    printf("%s (%s, %d threads, %s kernels)\n", o.model, hp->arch_name, compute_pool_threads(cpool),
           qmat_kernels_name());
    printf("pp%d: %.1f tokens/s   tg%d: %.1f tokens/s at depth %d   (median of %d; %.3f GB of "
           "weights per token, %.1f GB/s)\n",
           n_prompt, pps, n_gen, tgs, depth, o.reps, gb, gb * tgs);
    if (bound > 0)
      printf("read bandwidth %.1f GB/s: generation's bound %.1f tokens/s, reached %.0f%%\n", bw,
             bound, 100 * tgs / bound);
  }
  if (o.profile) {
    print_profile("pp", &prof_pp, compute_pool_threads(cpool));
    print_profile("tg", &prof_tg, compute_pool_threads(cpool));
  }
  goto out;
fail:
  cli_error("%s", err_msg());
  status = 1;
out:
  mem_free(pp);
  mem_free(tg);
  mem_free(toks);
  mem_free(logits);
  llm_ctx_destroy(ctx);
  compute_pool_destroy(cpool);
  llm_model_destroy(m);
  cfg_destroy(c);
  return status;
}
