/* `mimic bench`: prompt-processing and generation speed of a model on this machine, measured on the
 * model directly (no queue, no sampling), like llama-bench's pp/tg: --prompt-tokens evaluated in
 * one prepare, then -n single-token decode steps; the median of --reps runs is reported. The token
 * ids are random but fixed (seeded), so runs are comparable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/flags.h"
#include "llm/backend.h"
#include "llm/model.h"
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
  int threads, n_prompt, n_gen, reps;
  bool json;
} bench_opts;

int cmd_bench(int argc, char **argv) {
  bench_opts o = {.n_prompt = 512, .n_gen = 128, .reps = 3};
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
  if (llm_model_load(o.model, &m)) goto fail;
  const llm_hparams *hp = llm_model_hparams(m);
  cpool = compute_pool_new(o.threads);
  if (!cpool) {
    err_set(MIMIC_ENOMEM, "cannot start the compute threads");
    goto fail;
  }
  llm_ctx_params cp = {.n_ctx = n_prompt + n_gen + 1,
                       .n_slots = 1,
                       .n_batch = n_prompt < 512 ? n_prompt : 512,
                       .pool = cpool};
  if (llm_ctx_new(m, &cp, &ctx)) goto fail;
  toks = xalloc((size_t)n_prompt * sizeof *toks);
  logits = xalloc((size_t)hp->n_vocab * sizeof *logits);
  pp = xcalloc((size_t)o.reps, sizeof *pp);
  tg = xcalloc((size_t)o.reps, sizeof *tg);
  prng rng;
  prng_seed(&rng, 1);
  for (int i = 0; i < n_prompt; i++) toks[i] = (int32_t)(prng_next(&rng) % (uint64_t)hp->n_vocab);
  for (int r = 0; r < o.reps; r++) {
    llm_slot_clear(ctx, 0);
    uint64_t t0 = clock_mono_ns();
    int ev = 0;
    if (llm_slot_prepare(ctx, 0, toks, n_prompt, NULL, 0, logits, &ev)) goto fail;
    uint64_t t1 = clock_mono_ns();
    for (int i = 0; i < n_gen; i++) {
      int32_t t = llm_argmax(logits, hp->n_vocab);
      if (llm_slot_decode(ctx, 0, &t, 1, NULL, 0, logits)) goto fail;
    }
    uint64_t t2 = clock_mono_ns();
    pp[r] = n_prompt / ((double)(t1 - t0) / 1e9);
    tg[r] = n_gen / ((double)(t2 - t1) / 1e9);
    if (!o.json)
      fprintf(stderr, "rep %d: pp %.1f tokens/s, tg %.1f tokens/s\n", r + 1, pp[r], tg[r]);
  }
  double pps = median(pp, o.reps), tgs = median(tg, o.reps);
  double gb = (double)llm_model_bytes_per_token(m) / 1e9;
  if (o.json) {
    printf("{\"model\":\"%s\",\"arch\":\"%s\",\"threads\":%d,\"kernels\":\"%s\",\"n_prompt\":%d,"
           "\"n_gen\":%d,"
           "\"reps\":%d,\"pp_tokens_per_s\":%.3f,\"tg_tokens_per_s\":%.3f,\"weights_gb_per_token\":"
           "%.4f}\n",
           o.model, hp->arch_name, compute_pool_threads(cpool), qmat_kernels_name(), n_prompt,
           n_gen, o.reps, pps, tgs, gb);
  } else {
    printf("%s (%s, %d threads, %s kernels)\n", o.model, hp->arch_name, compute_pool_threads(cpool),
           qmat_kernels_name());
    printf("pp%d: %.1f tokens/s   tg%d: %.1f tokens/s   (median of %d; %.3f GB of weights per "
           "token, %.1f GB/s)\n",
           n_prompt, pps, n_gen, tgs, o.reps, gb, gb * tgs);
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
