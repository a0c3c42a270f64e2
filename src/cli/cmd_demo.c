/* `mimic demo`: the whole pipeline on the shipped sample community, offline, into a scratch data
 * folder (data/demo/ by default): import -> prepare -> train a tiny model from scratch -> evaluate
 * against the held-out slice -> stats and report -> chat with the result, then what the tiny model
 * can and cannot do and how to do it for real. Each step is the subcommand a user would run by hand
 * (called in-process with a generated config file), so the demo also shows the commands. --minutes
 * bounds the whole demo by wall-clock time: training stops at its deadline (a step boundary),
 * whatever the machine's load. Not here: anything the steps do themselves. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "cli/flags.h"
#include "cli/progress.h"
#include "llm/quant.h"
#include "train/train.h"

#define DEMO_MAX_FILES 256

typedef struct demo_opts {
  char dir[2048];
  char sample[2048];
  double minutes;
  long steps;
  long n_eval;
  int threads;
  bool chat, fresh;
} demo_opts;

/* Runs one subcommand in-process: argv is copied because commands edit theirs (--config). */
static int run_cmd(cli_cmd_fn fn, int argc, const char *const *argv) {
  char **av = xcalloc((size_t)argc + 1, sizeof *av), **own = xcalloc((size_t)argc + 1, sizeof *own);
  for (int i = 0; i < argc; i++)
    own[i] = av[i] = xstrdup(argv[i]); /* av is reordered by the command */
  printf("  $ mimic");
  for (int i = 0; i < argc; i++) printf(" %s", strchr(argv[i], ' ') ? "'...'" : argv[i]);
  printf("\n");
  fflush(stdout);
  int rc = fn(argc, av);
  for (int i = 0; i < argc; i++) mem_free(own[i]);
  mem_free(own);
  mem_free(av);
  fflush(stdout);
  return rc;
}

static void step(int k, int n, const char *what) {
  printf("\n[%d/%d] %s\n", k, n, what);
  fflush(stdout);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sample's *.json files, sorted; returns their count (0 when none or unreadable). */
static int list_json(const char *dir, char **out) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < DEMO_MAX_FILES) {
    if (e->d_name[0] == '.' || !str_ends_with(e->d_name, ".json")) continue;
    size_t len = strlen(dir) + strlen(e->d_name) + 2;
    out[n] = xalloc(len);
    snprintf(out[n], len, "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(d);
  qsort(out, (size_t)n, sizeof *out, cmp_str);
  return n;
}

/* Finds the sample community: --sample, ./demo/sample-community, or
 * $MIMIC_SRC/demo/sample-community. */
static bool find_sample(demo_opts *o, bool given) {
  struct stat st;
  if (given) return stat(o->sample, &st) == 0 && S_ISDIR(st.st_mode);
  if (stat("demo/sample-community", &st) == 0 && S_ISDIR(st.st_mode)) {
    str_lcpy(o->sample, "demo/sample-community", sizeof o->sample);
    return true;
  }
  const char *src = getenv("MIMIC_SRC");
  if (src) {
    snprintf(o->sample, sizeof o->sample, "%s/demo/sample-community", src);
    return stat(o->sample, &st) == 0 && S_ISDIR(st.st_mode);
  }
  return false;
}

static int parse(demo_opts *o, int argc, char **argv) {
  memset(o, 0, sizeof *o);
  const char *dir = "data/demo", *sample = NULL;
  int64_t steps = 0, n_eval = 60;
  int threads = 0;
  bool no_chat = false;
  o->minutes = 4;
  const cli_opt opts[] = {
      {.name = "dir",
       .type = CLI_PATH,
       .dest = &dir,
       .meta = "DIR",
       .help = "scratch data folder (default data/demo)"},
      {.name = "sample",
       .type = CLI_PATH,
       .dest = &sample,
       .meta = "DIR",
       .help = "folder of DiscordChatExporter JSON files (default demo/sample-community)"},
      {.name = "minutes",
       .type = CLI_DOUBLE,
       .dest = &o->minutes,
       .meta = "M",
       .help =
           "time budget for the whole demo: import, prepare, training and evaluation (default 4)",
       .min = 1e-3,
       .max = 600},
      {.name = "steps",
       .type = CLI_I64,
       .dest = &steps,
       .meta = "N",
       .help = "train exactly N steps instead",
       .min = 1,
       .max = 10000000},
      {.name = "count",
       .type = CLI_I64,
       .dest = &n_eval,
       .meta = "N",
       .help = "held-out replies to evaluate (default 60)",
       .min = 1,
       .max = 100000,
       .alias = "n"},
      CLI_OPT_THREADS(&threads),
      {.name = "no-chat",
       .type = CLI_BOOL,
       .dest = &no_chat,
       .help = "skip the chat at the end (also skipped when stdin is not a terminal)"},
      {.name = "fresh",
       .type = CLI_BOOL,
       .dest = &o->fresh,
       .help = "empty the scratch folder's database first"},
      {0}};
  const cli_spec spec = {
      .name = "demo",
      .summary = "The whole pipeline on the shipped sample community, offline, in a scratch "
                 "folder: import,\nprepare, train a tiny model from scratch, evaluate, report, "
                 "chat. Each step is the command\nyou would run by hand, and is shown.",
      .example = "demo --minutes 2 --no-chat",
      .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 1 : rc;
  str_lcpy(o->dir, dir, sizeof o->dir);
  bool sample_given = sample != NULL;
  if (sample) str_lcpy(o->sample, sample, sizeof o->sample);
  o->steps = (long)steps;
  o->n_eval = (long)n_eval;
  o->threads = threads;
  o->chat = !no_chat;
  if (!find_sample(o, sample_given)) {
    cli_error("%s: the sample community was not found; run mimic from the repository root or pass "
              "--sample DIR",
              sample_given ? o->sample : "demo/sample-community");
    return 2;
  }
  return 0;
}

/* Writes DIR/demo.conf: this demo's data folder and database, nothing else (the user's own
 * mimic.conf and database are never touched). */
static int write_conf(const demo_opts *o, char *conf, size_t cap) {
  snprintf(conf, cap, "%s/demo.conf", o->dir);
  FILE *f = fopen(conf, "wb");
  if (!f) {
    cli_error("%s: cannot create: %s", conf, strerror(errno));
    return -1;
  }
  fprintf(f, "# written by `mimic demo`: the demo's own data folder, so your data/ is untouched\n"
             "data.dir = .\nengine.model = models/scratch.gguf\n"); /* from this file's folder */
  bool bad = ferror(f) != 0;
  if (fclose(f) != 0 || bad) {
    cli_error("%s: cannot write", conf);
    return -1;
  }
  return 0;
}

/* ---- Time --------------------------------------------------------------------------------------
 * The budget covers the whole demo. Training gets what is left of it once import and prepare are
 * done, minus a reserve for evaluation and the report (8% of the budget, at least 6 s when the
 * budget allows; evaluating the tiny model takes 2-3 s here): it stops at that deadline at a step
 * boundary, with the model written, so the demo ends within about a tenth of its budget. */

static uint64_t train_deadline(const demo_opts *o, uint64_t t0) {
  double budget = o->minutes * 60.0, reserve = budget * 0.08;
  if (reserve < 6 && budget >= 30) reserve = 6;
  return t0 + (uint64_t)((budget - reserve) * 1e9);
}

/* The training step: a tiny model from scratch, bounded by the deadline (or exactly o->steps
 * steps). Prints the command it amounts to. Leaves the model, its log and loss curve, and no
 * checkpoint (the demo never resumes). */
static int demo_train(const demo_opts *o, const char *conf, const char *model, const char *log_csv,
                      uint64_t deadline, train_result *res) {
  char data[2100], valid[2100], ckpt[2200], every[32];
  snprintf(data, sizeof data, "%s/exports/sft-messages.train.jsonl", o->dir);
  snprintf(valid, sizeof valid, "%s/exports/sft-messages.valid.jsonl", o->dir);
  snprintf(ckpt, sizeof ckpt, "%s.ckpt", model);
  long every_n = o->steps ? (o->steps >= 10 ? o->steps / 10 : 1) : 50;
  snprintf(every, sizeof every, "%ld", every_n);
  train_run_opts t = {.from_scratch = true,
                      .data = data,
                      .valid = access(valid, R_OK) == 0 ? valid : NULL,
                      .out = model,
                      .ckpt = ckpt,
                      .eval_every = (int)every_n,
                      .eval_batches = 8,
                      .ckpt_every = -1,
                      .seed = 1};
  cli_train_show show = {.log_csv = log_csv, .bar = isatty(STDERR_FILENO) != 0};
  t.optim.lr = 3e-3f;
  if (o->steps) {
    t.steps = o->steps;
    printf("  $ mimic train --config %s --from-scratch --steps %ld --out %s --log %s --eval-every "
           "%s --eval-batches 8\n",
           conf, o->steps, model, log_csv, every);
  } else {
    /* no step count: the deadline ends the run (the schedule's length only sets the learning rate,
     * which then stays near its peak) */
    t.steps = 100000;
    t.optim.warmup = 20;
    t.deadline_ns = deadline;
    uint64_t now = clock_mono_ns();
    double left = deadline > now ? (double)(deadline - now) / 1e9 : 0;
    printf("  $ mimic train --config %s --from-scratch --out %s --log %s --eval-every %s "
           "--eval-batches 8\n"
           "  (stops at a deadline %.0f s from now: what is left of the %.3g-minute budget, less a "
           "fifth for the evaluation)\n",
           conf, model, log_csv, every, left, o->minutes);
  }
  fflush(stdout);
  if (fs_mkdirs_for(model) != 0) {
    cli_error("%s", err_msg());
    return 1;
  }
  int rc = cli_train_run(&t, &show, o->threads, res);
  unlink(ckpt); /* the demo never resumes: no checkpoint left behind */
  fflush(stdout);
  return rc ? 1 : 0;
}

/* Reads DIR/reports/eval.json (written by the eval step). NULL when absent or unreadable. */
static json_t *read_eval_json(const demo_opts *o) {
  char path[2200];
  snprintf(path, sizeof path, "%s/reports/eval.json", o->dir);
  char *data = NULL;
  size_t n = 0;
  if (fs_read_file(path, 64u << 20, &data, &n)) {
    err_clear();
    return NULL;
  }
  json_t *j = jv_parse(data, n, path);
  mem_free(data);
  return j;
}

/* Prints one line of a conversation shortened to fit a terminal line. */
static void print_line(const char *label, const char *text) {
  char line[96];
  size_t n = 0;
  for (const char *p = text ? text : ""; *p && n + 4 < sizeof line; p++)
    line[n++] = *p == '\n' || *p == '\t' ? ' ' : *p;
  line[n] = '\0';
  if (text && strlen(text) >= sizeof line - 4) {
    /* cut on a UTF-8 boundary and mark the cut */
    while (n > 0 && ((unsigned char)line[n - 1] & 0xC0) == 0x80) n--;
    if (n > 0 && (unsigned char)line[n - 1] >= 0xC0) n--;
    str_lcpy(line + n, "...", sizeof line - n);
  }
  printf("    %-10s %s\n", label, line);
}

/* What training changed, in numbers and in lines: loss before and after, held-out perplexity
 * before (an untrained model: exp of its first loss) and after, and a few generated replies next to
 * the real ones. */
static void show_improvement(const demo_opts *o, const train_result *tr) {
  printf("\n  What training changed:\n");
  if (isfinite(tr->first_loss) && isfinite(tr->loss))
    printf("    training loss     %.3f before the first step -> %.3f after %lld steps\n",
           tr->first_loss, tr->loss, (long long)tr->steps);
  json_t *j = read_eval_json(o);
  double ppl = NAN;
  if (j) ppl = jv_num(json_object_get(json_object_get(j, "perplexity"), "base"), "perplexity", NAN);
  if (isfinite(ppl) && isfinite(tr->first_loss))
    printf("    held-out perplexity  ~%.0f untrained (a guess among that many tokens) -> %.1f "
           "trained (lower is better)\n",
           exp(tr->first_loss), ppl);
  json_t *ex = j ? json_object_get(j, "examples") : NULL;
  size_t n = json_array_size(ex);
  if (n) {
    printf("\n  A few held-out replies, real and generated for the same conversation:\n");
    for (size_t i = 0; i < n && i < 3; i++) {
      json_t *e = json_array_get(ex, i);
      print_line("real:", jv_str(e, "real", ""));
      print_line("generated:", jv_str(e, "generated", ""));
      if (i + 1 < n && i < 2) printf("\n");
    }
  }
  json_decref(j);
}

static void show_honest_summary(const char *conf) {
  printf(
      "\nWhat a tiny model trained for minutes can and cannot do:\n"
      "  It has 0.4 M parameters, reads bytes, and saw a few thousand messages for a few minutes.\n"
      "  It picks up the surface: who speaks (\"Name: \"), message length, lowercase, emoji, the "
      "odd\n"
      "  common word. It cannot hold a conversation: most replies are word-shaped noise, and more\n"
      "  minutes help only a little. The numbers above are the honest measure; the report has "
      "more.\n"
      "\nTo do it for real (a pretrained model that already talks, tuned to your community):\n"
      "  1. download an instruct GGUF into models/, e.g. Qwen2.5-0.5B/1.5B-Instruct "
      "(qwen2.5-*-instruct-q4_k_m.gguf)\n"
      "     or Llama-3.2-1B/3B-Instruct (Q4_K_M), from their pages on huggingface.co\n"
      "  2. mimic import export/          # DiscordChatExporter JSON or a data package\n"
      "     or: DISCORD_TOKEN=... mimic fetch   # your server's history through the API\n"
      "  3. mimic prepare\n"
      "  4. mimic train --base models/qwen2.5-1.5b-instruct-q4_k_m.gguf --out models/adapter.gguf\n"
      "  5. in mimic.conf: engine.model = models/qwen2.5-1.5b-instruct-q4_k_m.gguf\n"
      "                    engine.adapter = models/adapter.gguf\n"
      "  6. mimic eval, then DISCORD_TOKEN=... mimic run\n"
      "  (this demo's own setup stays in %s)\n",
      conf);
}

int cmd_demo(int argc, char **argv) {
  uint64_t t0 = clock_mono_ns();
  demo_opts o;
  int rc = parse(&o, argc, argv), status = 1, nfiles = 0;
  if (rc) return rc == 1 ? 0 : rc;
  char *files[DEMO_MAX_FILES];
  char conf[2200];
  const int N = 6;
  if (o.fresh) {
    char db[2100];
    const char *const exts[] = {"/mimic.db", "/mimic.db-wal", "/mimic.db-shm"};
    for (size_t i = 0; i < 3; i++) {
      snprintf(db, sizeof db, "%s%s", o.dir, exts[i]);
      unlink(db);
    }
  }
  if (fs_mkdirs(o.dir) != 0) {
    cli_error("%s", err_msg());
    return 1;
  }
  if (write_conf(&o, conf, sizeof conf)) return 1;
  if ((nfiles = list_json(o.sample, files)) == 0) {
    cli_error("%s: no .json files in the sample folder", o.sample);
    return 1;
  }
  printf("mimic demo: a sample community -> a tiny model that talks like it, offline.\n"
         "Everything goes into %s/ (config: %s).\n",
         o.dir, conf);
  if (!o.steps) printf("Time budget: %.3g minutes in all.\n", o.minutes);

  step(1, N, "import the sample community (DiscordChatExporter JSON, one file per channel)");
  {
    const char *av[DEMO_MAX_FILES + 4] = {"import", "--config", conf};
    int ac = 3;
    for (int i = 0; i < nfiles; i++) av[ac++] = files[i];
    if ((rc = run_cmd(cmd_import, ac, av))) goto out;
  }
  step(2, N, "prepare datasets (conversations -> SFT/DPO JSONL, newest 5% held out)");
  {
    const char *av[] = {"prepare", "--config", conf};
    if ((rc = run_cmd(cmd_prepare, 3, av))) goto out;
  }
  step(3, N, "train a tiny model from scratch (byte-level vocabulary, 2 layers, width 128)");
  char model[2100], log_csv[2100], threads[32], n_eval[32];
  snprintf(model, sizeof model, "%s/models/scratch.gguf", o.dir);
  snprintf(log_csv, sizeof log_csv, "%s/models/train-log.csv", o.dir);
  snprintf(threads, sizeof threads, "%d", o.threads);
  train_result tr;
  if ((rc = demo_train(&o, conf, model, log_csv, train_deadline(&o, t0), &tr))) goto out;
  step(4, N, "evaluate against the held-out replies (perplexity, style metrics, blind-test kit)");
  snprintf(n_eval, sizeof n_eval, "%ld", o.n_eval);
  {
    const char *av[] = {"eval",    "--config", conf,         "--model",   model,
                        "--count", n_eval,     "--loss-log", log_csv,     "--max-tokens",
                        "48",      "--blind",  "10",         "--threads", threads};
    int ac = o.threads ? 15 : 13;
    if ((rc = run_cmd(cmd_eval, ac, av))) goto out;
  }
  show_improvement(&o, &tr);
  step(5, N, "report: the community's stats page and the evaluation report");
  {
    const char *av[] = {"stats", "--config", conf};
    if ((rc = run_cmd(cmd_stats, 3, av))) goto out;
  }
  printf("  open %s/reports/report.html in a browser (the numbers are in eval.json next to it;\n"
         "  the community's page is stats.html; the blind test for friends is blind-sheet.html /\n"
         "  blind-sheet.csv, answers in blind-key.csv)\n",
         o.dir);
  printf("  as the bot: DISCORD_TOKEN=... mimic run --config %s   (engine.model points at the "
         "model)\n",
         conf);
  step(6, N, "chat with the model");
  if (!o.chat || !isatty(STDIN_FILENO)) {
    printf("  skipped (%s); later: mimic chat --config %s\n",
           o.chat ? "stdin is not a terminal" : "--no-chat", conf);
  } else {
    printf("  It learned from lines like \"owl: anyone up for raid tonight\"; type one (Name: "
           "text) and it\n"
           "  answers as whoever it thinks speaks next. /quit leaves.\n");
    const char *av[] = {"chat", "--config", conf, "--model", model, "-n", "48"};
    if ((rc = run_cmd(cmd_chat, 7, av))) goto out;
  }
  show_honest_summary(conf);
  printf("\ndemo finished in %.0f s: %s/\n", (double)(clock_mono_ns() - t0) / 1e9, o.dir);
  status = 0;
out:
  for (int i = 0; i < nfiles; i++) mem_free(files[i]);
  if (rc && status) cli_error("demo: a step failed (see above); fix it and run `mimic demo` again");
  return rc ? 1 : status;
}
