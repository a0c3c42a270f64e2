/* `mimic demo`: the whole pipeline on the shipped sample community, offline, into a scratch data
 * folder (data/demo/ by default): import -> prepare -> train a tiny model from scratch -> evaluate
 * against the held-out slice -> report -> chat with the result. Each step is the same subcommand a
 * user would run by hand (called in-process with a generated config file), so the demo also shows
 * the commands. Not here: anything the steps do themselves. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "cli/cli.h"
#include "llm/quant.h"
#include "train/train.h"

static const char demo_usage[] =
    "usage: mimic demo [--dir DIR] [--sample DIR] [--minutes M | --steps N] [--n N] [--threads N]\n"
    "                  [--no-chat] [--fresh]\n"
    "  --dir     scratch data folder (default data/demo); --fresh empties it first\n"
    "  --sample  folder of DiscordChatExporter JSON files (default demo/sample-community)\n"
    "  --minutes training time budget (default 4); --steps N trains exactly N steps instead\n"
    "  --n       held-out replies to evaluate (default 60)\n"
    "  --no-chat skip the interactive chat at the end (also skipped when stdin is not a terminal)";

#define DEMO_MAX_FILES 256

typedef struct demo_opts {
  char dir[2048];
  char sample[2048];
  double minutes;
  long steps;
  long n_eval;
  long threads;
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
  str_lcpy(o->dir, "data/demo", sizeof o->dir);
  o->minutes = 4;
  o->n_eval = 60;
  o->chat = true;
  bool sample_given = false;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--no-chat") == 0) {
      o->chat = false;
      continue;
    }
    if (strcmp(a, "--fresh") == 0) {
      o->fresh = true;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      printf("%s\n", demo_usage);
      return 1;
    }
    if (!v) {
      cli_error("%s", demo_usage);
      return 2;
    }
    i++;
    int64_t x;
    double d;
    if (strcmp(a, "--dir") == 0)
      str_lcpy(o->dir, v, sizeof o->dir);
    else if (strcmp(a, "--sample") == 0)
      str_lcpy(o->sample, v, sizeof o->sample), sample_given = true;
    else if (strcmp(a, "--minutes") == 0 && !str_to_double(v, &d) && d > 0 && d <= 600)
      o->minutes = d;
    else if (strcmp(a, "--steps") == 0 && !str_to_i64(v, &x) && x > 0 && x <= 10000000)
      o->steps = (long)x;
    else if (strcmp(a, "--n") == 0 && !str_to_i64(v, &x) && x > 0 && x <= 100000)
      o->n_eval = (long)x;
    else if (strcmp(a, "--threads") == 0 && !str_to_i64(v, &x) && x >= 0 && x <= 1024)
      o->threads = (long)x;
    else {
      cli_error("bad option or value: %s %s\n%s", a, v, demo_usage);
      return 2;
    }
  }
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

/* Steps that fit the time budget on this machine: times a few steps of the same model on the same
 * data (written to a throwaway file), then scales. At least 20 steps. Returns -1 on failure. */
static long calibrate(const demo_opts *o) {
  char data[2100], out[2100], path[2200];
  snprintf(data, sizeof data, "%s/exports/sft-messages.train.jsonl", o->dir);
  snprintf(out, sizeof out, "%s/models/calibrate.gguf", o->dir);
  snprintf(path, sizeof path, "%s/models", o->dir);
  if (fs_mkdirs(path) != 0) {
    cli_error("%s", err_msg());
    return -1;
  }
  train_run_opts t = {
      .from_scratch = true, .data = data, .out = out, .steps = 6, .ckpt_every = -1, .seed = 1};
  compute_pool *cpool = compute_pool_new((int)o->threads);
  t.pool = cpool;
  t.optim.lr = 3e-3f;
  train_result res;
  printf("  timing a few steps to fit %.1f minutes on this machine...\n", o->minutes);
  fflush(stdout);
  int rc = train_run(&t, &res);
  compute_pool_destroy(cpool);
  const char *const ext[] = {"", ".ckpt", ".csv", ".svg"};
  for (size_t i = 0; i < 4; i++) {
    snprintf(path, sizeof path, "%s%s", out, ext[i]);
    unlink(path);
  }
  if (rc) {
    cli_error("%s", err_msg());
    return -1;
  }
  double per_step = res.steps > 0 ? res.seconds / (double)res.steps : 1;
  /* 85%: validation passes and the final save also take time */
  long steps = (long)(0.85 * o->minutes * 60.0 / (per_step > 1e-6 ? per_step : 1e-6));
  if (steps < 20) steps = 20;
  printf("  %.2f s per step here: %ld steps\n", per_step, steps);
  return steps;
}

int cmd_demo(int argc, char **argv) {
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
  char model[2100], log_csv[2100], threads[32], steps_s[32], every[32], n_eval[32];
  snprintf(model, sizeof model, "%s/models/scratch.gguf", o.dir);
  snprintf(log_csv, sizeof log_csv, "%s/models/train-log.csv", o.dir);
  snprintf(threads, sizeof threads, "%ld", o.threads);
  long steps = o.steps;
  if (!steps && (steps = calibrate(&o)) <= 0) {
    rc = 1;
    goto out;
  }
  snprintf(steps_s, sizeof steps_s, "%ld", steps);
  snprintf(every, sizeof every, "%ld", steps >= 10 ? steps / 10 : 1);
  {
    const char *av[] = {"train",          "--config", conf,           "--from-scratch",
                        "--steps",        steps_s,    "--out",        model,
                        "--log",          log_csv,    "--eval-every", every,
                        "--eval-batches", "8",        "--threads",    threads};
    int ac = o.threads ? 16 : 14;
    if ((rc = run_cmd(cmd_train, ac, av))) goto out;
  }
  step(4, N, "evaluate against the held-out replies (perplexity, style metrics, blind-test kit)");
  snprintf(n_eval, sizeof n_eval, "%ld", o.n_eval);
  {
    const char *av[] = {"eval", "--config", conf,         "--model",   model,
                        "--n",  n_eval,     "--loss-log", log_csv,     "--max-tokens",
                        "48",   "--blind",  "10",         "--threads", threads};
    int ac = o.threads ? 15 : 13;
    if ((rc = run_cmd(cmd_eval, ac, av))) goto out;
  }
  step(5, N, "report");
  printf("  open %s/reports/report.html in a browser (the numbers are in eval.json next to it;\n"
         "  the blind test for friends is blind-sheet.html / blind-sheet.csv, answers in "
         "blind-key.csv)\n",
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
  printf("\ndemo finished: %s/\n", o.dir);
  status = 0;
out:
  for (int i = 0; i < nfiles; i++) mem_free(files[i]);
  if (rc && status) cli_error("demo: a step failed (see above); fix it and run `mimic demo` again");
  return rc ? 1 : status;
}
