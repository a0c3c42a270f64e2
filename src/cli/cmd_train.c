/* `mimic train` (LoRA SFT, DPO, ORPO over a base model, or a small model from scratch) and
 * `mimic merge BASE.gguf ADAPTER.gguf OUT.gguf`. Option parsing only: the run itself is train_run
 * (src/train/trainer.c), shown by cli/progress.c. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/flags.h"
#include "cli/progress.h"
#include "llm/quant.h"
#include "store/store.h"
#include "train/train.h"

/* ---- Purge acknowledgement (docs/collect.md): a purge rewrites every dataset file, so a run that
 * read a registered dataset after a purge had finished has left that person out; it says so. */
typedef struct ack_ctx {
  char data[4096];
  bool registered;
  int64_t before_ms;
  int64_t ids[256];
  int n;
} ack_ctx;

static int ack_dataset(const store_dataset *d, void *user) {
  ack_ctx *a = user;
  char rp[4096];
  if (d->path && realpath(d->path, rp) && strcmp(rp, a->data) == 0) a->registered = true;
  return 0;
}

static int ack_purge(const store_purge *p, void *user) {
  ack_ctx *a = user;
  if (p->done_ms != 0 && p->done_ms <= a->before_ms && a->n < 256) a->ids[a->n++] = p->id;
  return 0;
}

static void ack_purges(const cfg *c, const char *data, int64_t started_ms) {
  const char *db = cfg_str(c, CFG_STORE_PATH);
  ack_ctx a = {{0}, false, started_ms, {0}, 0};
  if (strcmp(db, ":memory:") == 0 || access(db, F_OK) != 0 || !realpath(data, a.data)) return;
  store *s = NULL;
  if (store_open(db, &s)) return;
  if (store_dataset_each(s, ack_dataset, &a) == 0 && a.registered &&
      store_purge_each(s, true, ack_purge, &a) == 0)
    for (int i = 0; i < a.n; i++)
      if (store_purge_ack(s, a.ids[i]))
        LOG_W("train", "could not acknowledge purge %lld: %s", (long long)a.ids[i], err_msg());
  store_close(s);
}

/* The run once the options are read: train (cli/progress.c shows it), then acknowledge the purges
 * a finished run has honoured. Returns the exit status. */
static int train_and_ack(const cfg *c, train_run_opts *o, const cli_train_show *show, int threads,
                         bool *finished) {
  train_result res;
  int64_t started_ms = clock_wall_ms();
  if (cli_train_run(o, show, threads, &res)) return 1;
  if (res.finished && !res.already_finished) ack_purges(c, o->data, started_ms);
  *finished = res.finished;
  return 0;
}

int cmd_train(int argc, char **argv) {
  train_run_opts o;
  memset(&o, 0, sizeof o);
  cli_train_show show = {.bar = isatty(2) != 0};
  o.lora.targets = TRAIN_TARGETS_ALL;
  int threads = 0;
  bool no_progress = false;
  double max_minutes = 0;
  const char *stage = "sft", *targets = NULL;
  int rc = 0;
  cli_persona_train pt = {0};
  const cli_opt opts[] = {
      {.name = "data",
       .type = CLI_PATH,
       .dest = &o.data,
       .meta = "FILE",
       .help = "training samples (default <data.dir>/exports/sft-messages.train.jsonl, "
               "dpo.train.jsonl for dpo/orpo)"},
      {.name = "valid",
       .type = CLI_PATH,
       .dest = &o.valid,
       .meta = "FILE",
       .help = "validation samples (default: the matching .valid.jsonl when it exists)"},
      {.name = "out",
       .short_name = 'o',
       .type = CLI_PATH,
       .dest = &o.out,
       .meta = "FILE",
       .help = "the adapter or model written (default models/adapter.gguf, models/scratch.gguf "
               "from scratch); the log, loss curve and checkpoint go beside it"},
      {.name = "base",
       .type = CLI_PATH,
       .dest = &o.base,
       .meta = "M.gguf",
       .help = "train a LoRA adapter over this model (default engine.model)"},
      {.name = "from-scratch",
       .type = CLI_BOOL,
       .dest = &o.from_scratch,
       .help = "train a small model from scratch instead"},
      {.name = "arch",
       .type = CLI_STR,
       .dest = &o.scratch.arch,
       .meta = "qwen2|llama",
       .help = "from scratch: architecture"},
      {.name = "layers",
       .type = CLI_INT,
       .dest = &o.scratch.n_layer,
       .meta = "N",
       .help = "from scratch: layers (default 2)",
       .min = 1,
       .max = 256},
      {.name = "width",
       .type = CLI_INT,
       .dest = &o.scratch.n_embd,
       .meta = "N",
       .help = "from scratch: embedding width (default 128)",
       .min = 8,
       .max = 16384},
      {.name = "heads",
       .type = CLI_INT,
       .dest = &o.scratch.n_head,
       .meta = "N",
       .help = "from scratch: attention heads (default width/32)",
       .min = 1,
       .max = 1024},
      {.name = "kv-heads",
       .type = CLI_INT,
       .dest = &o.scratch.n_head_kv,
       .meta = "N",
       .help = "from scratch: key/value heads",
       .min = 1,
       .max = 1024},
      {.name = "ff",
       .type = CLI_INT,
       .dest = &o.scratch.n_ff,
       .meta = "N",
       .help = "from scratch: feed-forward width (default about 2.75 x width)",
       .min = 8,
       .max = 65536},
      {.name = "ctx",
       .type = CLI_INT,
       .dest = &o.scratch.n_ctx,
       .meta = "N",
       .help = "from scratch: context length (default 512)",
       .min = 16,
       .max = 1 << 20},
      {.name = "vocab",
       .type = CLI_PATH,
       .dest = &o.scratch.vocab,
       .meta = "V.gguf",
       .help = "from scratch: reuse this model's vocabulary (default: built-in byte-level)"},
      {.name = "rank",
       .type = CLI_INT,
       .dest = &o.lora.rank,
       .meta = "R",
       .help = "LoRA rank (default 8)",
       .min = 1,
       .max = TRAIN_MAX_RANK},
      {.name = "alpha",
       .type = CLI_FLOAT,
       .dest = &o.lora.alpha,
       .meta = "A",
       .help = "LoRA alpha (default 2 x rank)",
       .min = 1e-3,
       .max = 1e6},
      {.name = "dropout",
       .type = CLI_FLOAT,
       .dest = &o.lora.dropout,
       .meta = "P",
       .help = "LoRA dropout (default 0)",
       .min = 0,
       .max = 0.95},
      {.name = "recompute-ffn",
       .type = CLI_BOOL,
       .dest = &o.lora.recompute_ffn,
       .help = "LoRA: recompute gate/up in the backward pass instead of keeping them (less "
               "memory, ~1/6 more time)"},
      {.name = "f32-activations",
       .type = CLI_BOOL,
       .dest = &o.lora.f32_activations,
       .help = "LoRA: keep the activations the backward pass reads in float32, not as 16-bit "
               "halves (no 2^-11 rounding; ~350 MB more at 0.5B, --seq-len 512)"},
      {.name = "targets",
       .type = CLI_STR,
       .dest = &targets,
       .meta = "LIST",
       .help = "adapted tensors: all, attn, ffn or q,k,v,o,gate,up,down (default all)"},
      {.name = "init",
       .type = CLI_PATH,
       .dest = &o.lora.init,
       .meta = "ADAPTER.gguf",
       .help = "start from this adapter (e.g. the SFT adapter for DPO)"},
      {.name = "stage",
       .type = CLI_STR,
       .dest = &stage,
       .meta = "sft|dpo|orpo",
       .help = "what is trained (default sft)"},
      {.name = "beta",
       .type = CLI_FLOAT,
       .dest = &o.beta,
       .meta = "B",
       .help = "DPO beta / ORPO lambda (default 0.1)",
       .min = 1e-4,
       .max = 100},
      {.name = "steps",
       .type = CLI_I64,
       .dest = &o.steps,
       .meta = "N",
       .help = "optimizer steps (default: --epochs)",
       .min = 1,
       .max = (double)(INT64_C(1) << 40)},
      {.name = "epochs",
       .type = CLI_DOUBLE,
       .dest = &o.epochs,
       .meta = "E",
       .help = "passes over the data (default 1)",
       .min = 1e-3,
       .max = 1e6},
      {.name = "seq-len",
       .type = CLI_INT,
       .dest = &o.seq_len,
       .meta = "N",
       .help = "tokens per sequence (default 512)",
       .min = 16,
       .max = TRAIN_MAX_SEQ},
      {.name = "accum",
       .type = CLI_INT,
       .dest = &o.accum,
       .meta = "N",
       .help = "gradient accumulation (default 1)",
       .min = 1,
       .max = 1024},
      {.name = "lr",
       .type = CLI_FLOAT,
       .dest = &o.optim.lr,
       .meta = "LR",
       .help = "learning rate (default 1e-3, from scratch 3e-3)",
       .min = 1e-9,
       .max = 10},
      {.name = "min-lr",
       .type = CLI_FLOAT,
       .dest = &o.optim.min_lr,
       .meta = "LR",
       .help = "final learning rate (default lr/10)",
       .min = 0,
       .max = 10},
      {.name = "warmup",
       .type = CLI_I64,
       .dest = &o.optim.warmup,
       .meta = "N",
       .help = "warm-up steps (default 0)",
       .min = 0,
       .max = (double)(INT64_C(1) << 40)},
      {.name = "weight-decay",
       .type = CLI_FLOAT,
       .dest = &o.optim.weight_decay,
       .meta = "W",
       .help = "weight decay (default 0)",
       .min = 0,
       .max = 10},
      {.name = "clip",
       .type = CLI_FLOAT,
       .dest = &o.optim.clip,
       .meta = "C",
       .help = "gradient norm clip (default 1)",
       .min = 0,
       .max = 1e6},
      {.name = "seed", .type = CLI_U64, .dest = &o.seed, .meta = "S", .help = "seed (default 1)"},
      {.name = "eval-every",
       .type = CLI_INT,
       .dest = &o.eval_every,
       .meta = "N",
       .help = "validate every N steps (default 0: at the end)",
       .min = 0,
       .max = 1 << 30},
      {.name = "eval-batches",
       .type = CLI_INT,
       .dest = &o.eval_batches,
       .meta = "N",
       .help = "validation batches (default 20)",
       .min = 1,
       .max = 1 << 30},
      {.name = "ckpt-every",
       .type = CLI_INT,
       .dest = &o.ckpt_every,
       .meta = "N",
       .help = "checkpoint every N steps (default 50; 0: never)",
       .min = 0,
       .max = 1 << 30},
      {.name = "ckpt",
       .type = CLI_PATH,
       .dest = &o.ckpt,
       .meta = "FILE",
       .help = "the checkpoint (default OUT.ckpt)"},
      {.name = "log",
       .type = CLI_PATH,
       .dest = &show.log_csv,
       .meta = "F.csv",
       .help = "the training log (default OUT.csv)"},
      {.name = "svg",
       .type = CLI_PATH,
       .dest = &show.svg,
       .meta = "F.svg",
       .help = "the loss curve (default OUT.svg)"},
      {.name = "max-minutes",
       .type = CLI_DOUBLE,
       .dest = &max_minutes,
       .meta = "M",
       .help = "stop cleanly at the first step boundary after M minutes (default: no limit)",
       .min = 1e-3,
       .max = 1e6},
      {.name = "resume",
       .type = CLI_BOOL,
       .dest = &o.resume,
       .help = "continue from the checkpoint"},
      {.name = "persona",
       .type = CLI_STR,
       .dest = &pt.persona,
       .meta = "NAME",
       .help = "train a persona's voice: data from --member, --data or its gen-data; the adapter "
               "goes to <data.dir>/personas/NAME/adapter.gguf and into the persona"},
      {.name = "cast",
       .type = CLI_BOOL,
       .dest = &pt.cast,
       .help = "one shared adapter for every enabled persona (their gen-data together)"},
      {.name = "member",
       .type = CLI_ID,
       .dest = &pt.member,
       .meta = "USER_ID",
       .help = "with --persona: learn from this member's own messages (they must have opted in)"},
      CLI_OPT_THREADS(&threads),
      {.name = "no-progress", .type = CLI_BOOL, .dest = &no_progress, .help = "no progress bar"},
      {0}};
  const cli_spec spec = {
      .name = "train",
      .summary = "Fine-tunes with LoRA over a base model (SFT, or DPO / ORPO on preference "
                 "pairs), or trains a\nsmall model from scratch.",
      .example = "train --base models/base.gguf --rank 16 --epochs 2\ntrain --stage dpo --base "
                 "models/base.gguf --init models/adapter.gguf --out models/dpo.gguf\ntrain "
                 "--from-scratch --steps 300",
      .config = true,
      .opts = opts};
  cli_args a;
  cfg *c = cli_start(&spec, argc, argv, &a, &rc);
  if (!c) return rc;
  if (no_progress) show.bar = false;
  show.db_path = cfg_str(c, CFG_STORE_PATH);
  bool lr_given = cli_given(&spec, &a, "lr");
  if (cli_given(&spec, &a, "ckpt-every") && o.ckpt_every == 0) o.ckpt_every = -1;
  if (strcmp(stage, "sft") == 0)
    o.stage = TRAIN_SFT;
  else if (strcmp(stage, "dpo") == 0)
    o.stage = TRAIN_DPO;
  else if (strcmp(stage, "orpo") == 0)
    o.stage = TRAIN_ORPO;
  else {
    cli_error("--stage must be sft, dpo or orpo");
    cfg_destroy(c);
    return 2;
  }
  if (targets && train_targets_parse(targets, &o.lora.targets)) {
    cli_error("%s", err_msg());
    cfg_destroy(c);
    return 2;
  }
  if (o.from_scratch && !lr_given) o.optim.lr = 3e-3f;
  char pdata[2200], pvalid[2200], pout[2200];
  if (pt.member && !pt.persona) {
    cli_error("--member goes with --persona NAME");
    cfg_destroy(c);
    return 2;
  }
  if (pt.persona || pt.cast) {
    if (pt.persona && pt.cast) {
      cli_error("--persona and --cast exclude each other (--cast trains every persona at once)");
      cfg_destroy(c);
      return 2;
    }
    if (o.stage != TRAIN_SFT || o.from_scratch) {
      cli_error("a persona's voice is an SFT LoRA adapter: --persona and --cast go without "
                "--stage dpo/orpo and --from-scratch");
      cfg_destroy(c);
      return 2;
    }
    pt.data = o.data;
    if (cli_persona_train_data(c, &pt, pdata, sizeof pdata, pvalid, sizeof pvalid, pout,
                               sizeof pout)) {
      cfg_destroy(c);
      return 1;
    }
    o.data = pdata;
    if (!o.valid && *pvalid) o.valid = pvalid;
    if (!o.out) o.out = pout;
  }
  char data[1024], valid[1024];
  const char *dir = cfg_str(c, CFG_DATA_DIR);
  const char *stem = o.stage == TRAIN_SFT ? "sft-messages" : "dpo";
  if (!o.data) {
    snprintf(data, sizeof data, "%s/exports/%s.train.jsonl", dir, stem);
    o.data = data;
    if (!o.valid) {
      snprintf(valid, sizeof valid, "%s/exports/%s.valid.jsonl", dir, stem);
      if (access(valid, R_OK) == 0) o.valid = valid;
    }
  }
  if (access(o.data, R_OK) != 0) {
    cli_error(
        "%s: cannot read the training data (%s); run 'mimic prepare' first or give --data FILE",
        o.data, strerror(errno));
    cfg_destroy(c);
    return 1;
  }
  if (!o.from_scratch && !o.base) o.base = cfg_str(c, CFG_ENGINE_MODEL);
  if (!o.out) o.out = o.from_scratch ? "models/scratch.gguf" : "models/adapter.gguf";
  if (fs_mkdirs_for(o.out) != 0) {
    cli_error("%s", err_msg());
    cfg_destroy(c);
    return 1;
  }
  if (max_minutes > 0) o.deadline_ns = clock_mono_ns() + (uint64_t)(max_minutes * 60e9);
  bool finished = false;
  rc = train_and_ack(c, &o, &show, (int)threads, &finished);
  if (rc == 0 && finished && (pt.persona || pt.cast)) rc = cli_persona_train_done(c, &pt, o.out);
  cfg_destroy(c);
  return rc;
}

int cmd_merge(int argc, char **argv) {
  double scale = 1.0;
  int threads = 0;
  const cli_opt opts[] = {{.name = "lora-scale",
                           .type = CLI_DOUBLE,
                           .dest = &scale,
                           .meta = "S",
                           .help = "the adapter's strength (default 1)",
                           .min = -100,
                           .max = 100,
                           .alias = "scale"},
                          CLI_OPT_THREADS(&threads),
                          {0}};
  const cli_spec spec = {
      .name = "merge",
      .args = "BASE.gguf ADAPTER.gguf OUT.gguf",
      .min_args = 3,
      .max_args = 3,
      .summary = "Writes a standalone model with the adapter merged in (re-quantized to the base's "
                 "types).",
      .example = "merge models/base.gguf models/adapter.gguf models/merged.gguf",
      .opts = opts};
  cli_args a;
  int prc = cli_parse(&spec, argc, argv, &a);
  if (prc) return prc == CLI_HELP ? 0 : prc;
  char **pos = a.pos;
  if (strcmp(pos[0], pos[2]) == 0 || strcmp(pos[1], pos[2]) == 0) {
    cli_error("the output must be a new file");
    return 2;
  }
  compute_pool *cp = compute_pool_new((int)threads);
  int rc = train_merge(pos[0], pos[1], (float)scale, pos[2], cp);
  compute_pool_destroy(cp);
  if (rc) {
    cli_error("%s", err_msg());
    return 1;
  }
  printf("wrote %s\n", pos[2]);
  return 0;
}
