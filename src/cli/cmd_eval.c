/* `mimic eval`: how close a model (and its adapter) comes to the community. Held-out perplexity,
 * replies generated with the local engine for held-out contexts (fixed seed, the real speaker's
 * "Name: " prefilled so each reply is in that person's voice) compared with the real replies, a
 * blind-test kit, and the HTML report under data/reports/. `mimic eval --score SHEET --key KEY`
 * scores a filled-in blind test. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "cli/flags.h"
#include "cli/job.h"
#include "eval/eval.h"
#include "llm/backend.h"
#include "llm/chat.h"
#include "llm/model.h"
#include "llm/tokenizer.h"

static int score_sheet(const char *sheet, const char *key) {
  eval_blind_result r;
  if (eval_blind_score(sheet, key, &r)) {
    cli_error("%s", err_msg());
    return 1;
  }
  printf("items: %d, answered: %d, correct: %d\n", r.items, r.answered, r.correct);
  if (!r.answered) {
    printf("nobody answered yet: fill the 'guess' column with real or generated\n");
    return 0;
  }
  printf("accuracy: %.1f%% (95%% interval %.1f%%-%.1f%%)\n", 100 * r.accuracy, 100 * r.ci_lo,
         100 * r.ci_hi);
  printf("generated replies spotted: %d of %d judged\n", r.gen_caught, r.gen_answered);
  printf("p-value vs guessing (one-sided binomial): %.4g\n", r.p_value);
  printf("%s\n", r.p_value < 0.05
                     ? "verdict: the judges can tell the model from the community"
                     : "verdict: the judges could not reliably tell the model from the community");
  return 0;
}

/* Context turns copied with "<|" defused (prepare already does; other data may not), so the text
 * prompt handed to the engine cannot contain a control token. */
static char *defuse(const char *s) {
  buf b;
  buf_init(&b, 0);
  for (; *s; s++) {
    if (buf_putc(&b, *s)) break;
    if (s[0] == '<' && s[1] == '|' && buf_putc(&b, ' ')) break;
  }
  return buf_steal(&b);
}

typedef struct ppl_view {
  const char *what;
  bool tty;
  cli_job *job; /* the run's row in the jobs table */
} ppl_view;

static void ppl_progress(size_t done, size_t total, void *user) {
  const ppl_view *v = user;
  char msg[96];
  snprintf(msg, sizeof msg, "perplexity (%s) %zu/%zu", v->what, done, total);
  cli_job_step(v->job, (int64_t)done, (int64_t)total, NAN, msg, NULL);
  if (v->tty && (done == total || done % 5 == 0)) {
    fprintf(stderr, "\reval: %s   ", msg);
    if (done == total) fputc('\n', stderr);
    fflush(stderr);
  }
}

/* Replies of a training file without their speaker prefix (for the copy rate); NULL on error. */
static char **train_replies(const char *path, size_t *n) {
  eval_dataset ds;
  *n = 0;
  if (eval_dataset_load(path, 0, &ds)) {
    eval_dataset_free(&ds);
    return NULL;
  }
  char **out = xcalloc(ds.n ? ds.n : 1, sizeof *out);
  for (size_t i = 0; i < ds.n; i++)
    out[i] = xstrdup(eval_strip_speaker(ds.s[i].turns[ds.s[i].n - 1].content));
  *n = ds.n;
  eval_dataset_free(&ds);
  return out;
}

static void free_strs(char **v, size_t n) {
  if (!v) return;
  for (size_t i = 0; i < n; i++) mem_free(v[i]);
  mem_free(v);
}

int cmd_eval(int argc, char **argv) {
  const char *model = NULL, *lora = NULL, *data = NULL, *train = NULL, *out = NULL,
             *loss_log = NULL, *sheet = NULL, *key = NULL, *embed_path = NULL;
  double lora_scale = 1, temp = -1;
  int64_t n_max = 100, seed = 1234, max_tokens = 64, threads = 0, blind = 20;
  bool no_ppl = false, no_gen = false;
  const cli_opt opts[] = {
      {.name = "model",
       .short_name = 'm',
       .type = CLI_PATH,
       .dest = &model,
       .meta = "M.gguf",
       .help = "the model",
       .key = CLI_KEY(CFG_ENGINE_MODEL)},
      {.name = "lora",
       .type = CLI_STR,
       .dest = &lora,
       .meta = "A.gguf",
       .help = "a LoRA adapter over it (perplexity then shows both)",
       .key = CLI_KEY(CFG_ENGINE_ADAPTER)},
      {.name = "lora-scale",
       .type = CLI_DOUBLE,
       .dest = &lora_scale,
       .meta = "S",
       .help = "the adapter's strength",
       .key = CLI_KEY(CFG_ENGINE_ADAPTER_SCALE),
       .min = -16,
       .max = 16},
      {.name = "data",
       .type = CLI_PATH,
       .dest = &data,
       .meta = "VALID.jsonl",
       .help = "held-out samples (default <data.dir>/exports/sft-messages.valid.jsonl)"},
      {.name = "train",
       .type = CLI_PATH,
       .dest = &train,
       .meta = "TRAIN.jsonl|none",
       .help = "training samples, for the copy rate (default: the matching .train.jsonl)"},
      {.name = "count",
       .type = CLI_I64,
       .dest = &n_max,
       .meta = "N",
       .help = "held-out replies evaluated (default 100)",
       .min = 1,
       .max = 100000,
       .alias = "n"},
      {.name = "out",
       .short_name = 'o',
       .type = CLI_PATH,
       .dest = &out,
       .meta = "DIR",
       .help = "where the report goes (default <data.dir>/reports)"},
      {.name = "seed",
       .type = CLI_I64,
       .dest = &seed,
       .meta = "S",
       .help = "generation seed (default 1234)",
       .min = 0,
       .max = (double)INT64_MAX},
      {.name = "max-tokens",
       .short_name = 'n',
       .type = CLI_I64,
       .dest = &max_tokens,
       .meta = "N",
       .help = "most tokens per generated reply (default 64)",
       .min = 1,
       .max = 4096},
      {.name = "temp",
       .type = CLI_DOUBLE,
       .dest = &temp,
       .meta = "T",
       .help = "sampling temperature (default engine.temperature)",
       .min = 0,
       .max = 100},
      {.name = "threads",
       .short_name = 't',
       .type = CLI_I64,
       .dest = &threads,
       .meta = "N",
       .help = "compute threads (0: one per core)",
       .key = CLI_KEY(CFG_ENGINE_THREADS)},
      {.name = "embed-model",
       .type = CLI_PATH,
       .dest = &embed_path,
       .meta = "E.gguf",
       .help = "sentence encoder for the style-embedding cosine (empty: skipped)",
       .key = CLI_KEY(CFG_EMBED_MODEL)},
      {.name = "loss-log",
       .type = CLI_PATH,
       .dest = &loss_log,
       .meta = "LOG.csv",
       .help = "training log whose loss curve goes into the report"},
      {.name = "blind",
       .type = CLI_I64,
       .dest = &blind,
       .meta = "N",
       .help = "contexts in the blind-test kit (default 20; 0: none)",
       .min = 0,
       .max = EVAL_BLIND_MAX / 2},
      {.name = "no-ppl", .type = CLI_BOOL, .dest = &no_ppl, .help = "skip the perplexity"},
      {.name = "no-generate",
       .type = CLI_BOOL,
       .dest = &no_gen,
       .help = "skip generating replies (and the style metrics and blind test)"},
      {.name = "score",
       .type = CLI_PATH,
       .dest = &sheet,
       .meta = "SHEET.csv",
       .help = "score a filled-in blind-test sheet (with --key)"},
      {.name = "key",
       .type = CLI_PATH,
       .dest = &key,
       .meta = "KEY.csv",
       .help = "the blind test's answers"},
      {0}};
  const cli_spec spec = {
      .name = "eval",
      .summary = "How close a model (and its adapter) comes to the community: held-out "
                 "perplexity, replies\ngenerated for held-out contexts compared with the real "
                 "ones, a blind-test kit and an HTML report.\nWith --score SHEET --key KEY: "
                 "scores a filled-in blind test.",
      .example = "eval --model models/base.gguf --lora models/adapter.gguf --count 60\neval "
                 "--score blind-sheet.csv --key blind-key.csv",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 2;
  char data_def[4096], train_def[4096], out_def[4096];
  const char *dd = cfg_str(c, CFG_DATA_DIR);
  snprintf(data_def, sizeof data_def, "%s/exports/sft-messages.valid.jsonl", dd);
  snprintf(train_def, sizeof train_def, "%s/exports/sft-messages.train.jsonl", dd);
  snprintf(out_def, sizeof out_def, "%s/reports", dd);
  if (!data) data = data_def;
  if (!train) train = train_def;
  if (!out) out = out_def;
  bool do_ppl = !no_ppl, do_gen = !no_gen, train_explicit = cli_given(&spec, &a, "train");
  eval_dataset ds = {0};
  eval_ppl pb = {0}, pt = {0};
  eval_loss_curve lc = {0};
  llm_model *m = NULL;
  tokenizer *tok = NULL;
  llm_backend *be = NULL;
  char **ctx = NULL, **real = NULL, **gen = NULL, **real_text = NULL, **gen_text = NULL,
       **tr = NULL;
  size_t n = 0, ntr = 0;
  eval_example *ex = NULL;
  embed_model *enc = NULL;
  cli_job job = {0}; /* opened once the evaluation starts (not for --score) */

  if (sheet || key) {
    if (!sheet || !key) {
      cli_error("--score SHEET.csv needs --key KEY.csv (and the other way round)");
      goto out;
    }
    status = score_sheet(sheet, key);
    goto out;
  }
  status = 1;
  cli_job_open(&job, cfg_str(c, CFG_STORE_PATH), "eval");
  if (lora && !*lora) lora = NULL;
  if (access(model, R_OK) != 0) {
    cli_error("%s: model not found; pass --model M.gguf (a base GGUF, or the model `mimic train "
              "--from-scratch` wrote)",
              model);
    goto out;
  }
  if (eval_dataset_load(data, 0, &ds)) {
    cli_error("%s (make the held-out set with `mimic prepare`, or pass --data)", err_msg());
    goto out;
  }
  if (ds.n == 0) {
    cli_error("%s: no samples to evaluate", data);
    goto out;
  }
  /* n samples spread evenly over the file (it is in time order) */
  if ((size_t)n_max < ds.n) {
    for (size_t i = 0; i < (size_t)n_max; i++) {
      size_t j = i * ds.n / (size_t)n_max;
      if (j != i) {
        eval_sample t = ds.s[i];
        ds.s[i] = ds.s[j];
        ds.s[j] = t;
      }
    }
    for (size_t i = (size_t)n_max; i < ds.n; i++) { /* the samples left out */
      for (size_t k = 0; k < ds.s[i].n; k++) {
        mem_free(ds.s[i].turns[k].role);
        mem_free(ds.s[i].turns[k].content);
      }
      mem_free(ds.s[i].turns);
    }
    ds.n = (size_t)n_max;
  }
  n = ds.n;
  fprintf(stderr, "eval: %zu held-out replies from %s\n", n, data);
  if (do_gen && embed_path && *embed_path) {
    embed_opts eo = {.threads = (int)threads};
    if (!(enc = embed_open(embed_path, &eo))) {
      cli_error("%s (the style-embedding cosine needs a bert sentence encoder; pass "
                "--embed-model '' to skip it)",
                err_msg());
      goto out;
    }
  } else if (do_gen) {
    fprintf(stderr, "eval: no sentence encoder (embed.model or --embed-model): the "
                    "style-embedding cosine is skipped\n");
  }

  if (do_ppl) {
    ppl_view pv = {.what = lora ? "base and tuned" : "base", .tty = isatty(2), .job = &job};
    eval_ppl_opts po = {.model_path = model,
                        .lora_path = lora,
                        .lora_scale = (float)lora_scale,
                        .threads = (int)threads,
                        .progress = ppl_progress,
                        .user = &pv};
    if (eval_perplexity(&po, &ds, &pb, lora ? &pt : NULL)) {
      cli_error("%s", err_msg());
      goto out;
    }
    printf("perplexity: base %.2f", eval_ppl_value(pb.nll, pb.tokens));
    if (lora) printf(", tuned %.2f", eval_ppl_value(pt.nll, pt.tokens));
    printf(" (%lld reply tokens)\n", (long long)pb.tokens);
  }

  double gen_s = 0;
  eval_compare cmp;
  bool have_cmp = false;
  if (do_gen) {
    if (llm_model_load(model, &m) || tok_load(llm_model_gguf(m), &tok)) {
      cli_error("%s", err_msg());
      goto out;
    }
    chat_family fam = chat_choose(tok, NULL);
    llm_local_opts lo = {.model_path = model, .threads = (int)threads, .slots = 1, .ctx = 2048};
    if (llm_backend_local_new(&lo, &be) ||
        (lora && llm_backend_adapter_load(be, "", lora, (float)lora_scale))) {
      cli_error("%s", err_msg());
      goto out;
    }
    ctx = xcalloc(n, sizeof *ctx);
    real = xcalloc(n, sizeof *real);
    gen = xcalloc(n, sizeof *gen);
    real_text = xcalloc(n, sizeof *real_text);
    gen_text = xcalloc(n, sizeof *gen_text);
    double t0 = (double)clock_mono_ms();
    for (size_t i = 0; i < n; i++) {
      const eval_sample *s = &ds.s[i];
      const char *reply = s->turns[s->n - 1].content;
      char name[64] = "";
      eval_speaker(reply, name, sizeof name);
      chat_msg cm[EVAL_MAX_TURNS];
      char *owned[EVAL_MAX_TURNS];
      for (size_t k = 0; k + 1 < s->n; k++) {
        owned[k] = defuse(s->turns[k].content);
        cm[k] = (chat_msg){.role = s->turns[k].role, .content = owned[k]};
      }
      buf prompt;
      buf_init(&prompt, LLM_PROMPT_MAX);
      int rc = chat_render(fam, cm, s->n - 1, true, &prompt);
      for (size_t k = 0; k + 1 < s->n; k++) mem_free(owned[k]);
      if (!rc && *name) rc = buf_printf(&prompt, "%s: ", name);
      if (rc) {
        buf_free(&prompt);
        cli_error("sample %zu: %s", i + 1, err_msg());
        goto out;
      }
      llm_request req;
      llm_request_init(&req);
      llm_request_from_config(&req, c);
      req.prompt = prompt.data;
      req.max_tokens = (int)max_tokens;
      req.min_tokens = 1;
      req.sampling.seed = (uint64_t)seed + i;
      if (temp >= 0) req.sampling.temperature = (float)temp;
      static const char *const stops[] = {"\n"};
      req.stop = stops;
      req.n_stop = 1;
      llm_result res;
      rc = llm_backend_generate(be, &req, NULL, NULL, &res);
      buf_free(&prompt);
      if (rc) {
        cli_error("sample %zu: %s", i + 1, res.error_msg[0] ? res.error_msg : err_msg());
        llm_result_free(&res);
        goto out;
      }
      char *g = xstrdup(res.text);
      llm_result_free(&res);
      str_trim(g);
      gen_text[i] = g;
      real_text[i] = xstrdup(eval_strip_speaker(reply));
      real[i] = xstrdup(reply);
      buf nb;
      buf_init(&nb, 0);
      if (*name ? buf_printf(&nb, "%s: %s", name, g) : buf_puts(&nb, g)) {
        buf_free(&nb);
        cli_error("out of memory");
        goto out;
      }
      gen[i] = buf_steal(&nb);
      /* the context as people see it: the user turn (the conversation lines) */
      ctx[i] = xstrdup(s->n >= 2 ? s->turns[s->n - 2].content : "");
      if (isatty(2)) {
        fprintf(stderr, "\reval: generating %zu/%zu (%.1f s/reply)   ", i + 1, n,
                ((double)clock_mono_ms() - t0) / 1e3 / (double)(i + 1));
        fflush(stderr);
      }
    }
    gen_s = ((double)clock_mono_ms() - t0) / 1e3;
    if (isatty(2)) fputc('\n', stderr);
    fprintf(stderr, "eval: %zu replies generated in %.1f s\n", n, gen_s);
    if (strcmp(train, "none") != 0 && (train_explicit || access(train, R_OK) == 0)) {
      if (!(tr = train_replies(train, &ntr))) {
        cli_error("%s", err_msg());
        goto out;
      }
    }
    if (eval_compare_sets((const char *const *)real_text, n, (const char *const *)gen_text, n,
                          (const char *const *)tr, ntr, 20, &cmp)) {
      cli_error("%s", err_msg());
      goto out;
    }
    if (!tr) cmp.copy_rate = NAN;
    if (enc && eval_embed_cosine(enc, (const char *const *)real_text, (const char *const *)gen_text,
                                 n, &cmp.embed_pair_cos, &cmp.embed_centroid_cos, &cmp.embed_cos)) {
      cli_error("%s", err_msg());
      goto out;
    }
    have_cmp = true;
    printf(
        "style: length JSD %.3f, char TF-IDF cosine %.3f, vocabulary overlap %.3f, distinct-2 %.3f "
        "(real %.3f)",
        cmp.len_jsd, cmp.tfidf_cos, cmp.vocab_jaccard, cmp.gen.distinct2, cmp.real.distinct2);
    if (tr) printf(", copy rate %.3f (%zu verbatim)", cmp.copy_rate, cmp.copies);
    printf("\n");
    if (enc)
      printf("style-embedding cosine %.3f (paired %.3f, centroid %.3f; goal > 0.85) with %s\n",
             cmp.embed_cos, cmp.embed_pair_cos, cmp.embed_centroid_cos, embed_name(enc));
    if (blind > 0) {
      size_t nb = 0;
      if (eval_blind_pick(out, (const char *const *)ctx, (const char *const *)real,
                          (const char *const *)gen, n, (size_t)blind, (uint64_t)seed, &nb)) {
        cli_error("%s", err_msg());
        goto out;
      }
      printf("blind test: %s/blind-sheet.csv (%zu items), answers in %s/blind-key.csv\n", out,
             2 * nb, out);
    }
    ex = xcalloc(n, sizeof *ex);
    for (size_t i = 0; i < n; i++) ex[i] = (eval_example){ctx[i], real[i], gen[i]};
  }
  if (loss_log && eval_loss_curve_read(loss_log, &lc)) {
    cli_error("%s (the report is written without the loss curve)", err_msg());
    memset(&lc, 0, sizeof lc);
  }
  eval_report rep = {.model = model,
                     .lora = lora,
                     .data = data,
                     .cmp = have_cmp ? &cmp : NULL,
                     .ppl_base = do_ppl ? &pb : NULL,
                     .ppl_tuned = do_ppl && lora ? &pt : NULL,
                     .loss = &lc,
                     .examples = ex,
                     .n_examples = ex ? n : 0,
                     .blind_dir = do_gen && blind > 0 ? out : NULL,
                     .gen_seconds = gen_s,
                     .seed = (uint64_t)seed};
  char path[4200], jpath[4200];
  snprintf(path, sizeof path, "%s/report.html", out);
  snprintf(jpath, sizeof jpath, "%s/eval.json", out);
  if (eval_report_write(path, &rep) || eval_report_json(jpath, &rep)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("report: %s (numbers: %s)\n", path, jpath);
  status = 0;
out:
  cli_job_close(&job, status);
  free_strs(ctx, n);
  free_strs(real, n);
  free_strs(gen, n);
  free_strs(real_text, n);
  free_strs(gen_text, n);
  free_strs(tr, ntr);
  mem_free(ex);
  llm_backend_destroy(be);
  embed_close(enc);
  tok_destroy(tok);
  llm_model_destroy(m);
  eval_loss_curve_free(&lc);
  eval_ppl_free(&pb);
  eval_ppl_free(&pt);
  eval_dataset_free(&ds);
  cfg_destroy(c);
  return status;
}
