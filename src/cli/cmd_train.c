/* `mimic train` (LoRA SFT, DPO, ORPO over a base model, or a small model from scratch) and
 * `mimic merge BASE.gguf ADAPTER.gguf OUT.gguf`. Option parsing only: the run itself is train_run
 * (src/train/trainer.c). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "llm/quant.h"
#include "store/store.h"
#include "train/train.h"

static const char usage[] =
    "usage: mimic train [--data FILE] [--valid FILE] [--out FILE] [options]\n"
    "  model:    --base M.gguf (LoRA over it; default engine.model) | --from-scratch [--arch "
    "qwen2|llama]\n"
    "            [--layers 2] [--width 128] [--heads W/32] [--kv-heads H] [--ff ~2.75W] [--ctx "
    "512]\n"
    "            [--vocab V.gguf (reuse its vocabulary; default: built-in byte-level)]\n"
    "  LoRA:     [--rank 8] [--alpha 2*rank] [--dropout 0] [--targets "
    "all|attn|ffn|q,k,v,o,gate,up,down]\n"
    "            [--init ADAPTER.gguf (start from it, e.g. the SFT adapter for DPO)]\n"
    "  stage:    [--stage sft|dpo|orpo] [--beta 0.1 (DPO beta / ORPO lambda)]\n"
    "  schedule: [--steps N | --epochs 1] [--seq-len 512] [--accum 1] [--lr 1e-3 (scratch 3e-3)] "
    "[--min-lr lr/10]\n"
    "            [--warmup 0] [--weight-decay 0] [--clip 1] [--seed 1]\n"
    "  outputs:  [--eval-every 0] [--eval-batches 20] [--ckpt-every 50] [--ckpt F] [--log F.csv] "
    "[--svg F.svg]\n"
    "            [--resume] [--threads N] [--no-progress]\n"
    "Data defaults to <data.dir>/exports/sft-messages.train.jsonl (dpo.train.jsonl for dpo/orpo), "
    "with the\n"
    "matching .valid.jsonl for validation when it exists. The output defaults to "
    "models/adapter.gguf\n"
    "(models/scratch.gguf from scratch); the log, loss curve and checkpoint are written beside it.";

static int num_i(const char *flag, const char *v, int64_t lo, int64_t hi, int64_t *out) {
  if (!v || str_to_i64(v, out) || *out < lo || *out > hi) {
    cli_error("%s needs a whole number between %lld and %lld", flag, (long long)lo, (long long)hi);
    return -1;
  }
  return 0;
}

static int num_f(const char *flag, const char *v, double lo, double hi, double *out) {
  if (!v || str_to_double(v, out) || !(*out >= lo && *out <= hi)) {
    cli_error("%s needs a number between %g and %g", flag, lo, hi);
    return -1;
  }
  return 0;
}

/* mkdir -p of path's folder. */
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

int cmd_train(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 2;
  train_run_opts o;
  memset(&o, 0, sizeof o);
  o.progress = isatty(2);
  o.lora.targets = TRAIN_TARGETS_ALL;
  int64_t threads = 0, iv;
  double fv;
  bool lr_given = false;
  const char *stage = "sft", *targets = NULL;
  int rc = 0;
  for (int i = 1; i < argc && !rc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    /* flags without a value */
    if (strcmp(a, "--from-scratch") == 0) {
      o.from_scratch = true;
      continue;
    }
    if (strcmp(a, "--resume") == 0) {
      o.resume = true;
      continue;
    }
    if (strcmp(a, "--no-progress") == 0) {
      o.progress = false;
      continue;
    }
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      puts(usage);
      cfg_destroy(c);
      return 0;
    }
    if (!v) {
      cli_error("%s needs a value (or is unknown); 'mimic train --help' lists the options", a);
      rc = -1;
      break;
    }
    i++;
    if (strcmp(a, "--data") == 0)
      o.data = v;
    else if (strcmp(a, "--valid") == 0)
      o.valid = v;
    else if (strcmp(a, "--out") == 0)
      o.out = v;
    else if (strcmp(a, "--base") == 0)
      o.base = v;
    else if (strcmp(a, "--arch") == 0)
      o.scratch.arch = v;
    else if (strcmp(a, "--vocab") == 0)
      o.scratch.vocab = v;
    else if (strcmp(a, "--layers") == 0)
      rc = num_i(a, v, 1, 256, &iv), o.scratch.n_layer = (int)iv;
    else if (strcmp(a, "--width") == 0)
      rc = num_i(a, v, 8, 16384, &iv), o.scratch.n_embd = (int)iv;
    else if (strcmp(a, "--heads") == 0)
      rc = num_i(a, v, 1, 1024, &iv), o.scratch.n_head = (int)iv;
    else if (strcmp(a, "--kv-heads") == 0)
      rc = num_i(a, v, 1, 1024, &iv), o.scratch.n_head_kv = (int)iv;
    else if (strcmp(a, "--ff") == 0)
      rc = num_i(a, v, 8, 65536, &iv), o.scratch.n_ff = (int)iv;
    else if (strcmp(a, "--ctx") == 0)
      rc = num_i(a, v, 16, 1 << 20, &iv), o.scratch.n_ctx = (int)iv;
    else if (strcmp(a, "--rank") == 0)
      rc = num_i(a, v, 1, TRAIN_MAX_RANK, &iv), o.lora.rank = (int)iv;
    else if (strcmp(a, "--alpha") == 0)
      rc = num_f(a, v, 1e-3, 1e6, &fv), o.lora.alpha = (float)fv;
    else if (strcmp(a, "--dropout") == 0)
      rc = num_f(a, v, 0, 0.95, &fv), o.lora.dropout = (float)fv;
    else if (strcmp(a, "--targets") == 0)
      targets = v;
    else if (strcmp(a, "--init") == 0)
      o.lora.init = v;
    else if (strcmp(a, "--stage") == 0)
      stage = v;
    else if (strcmp(a, "--beta") == 0)
      rc = num_f(a, v, 1e-4, 100, &fv), o.beta = (float)fv;
    else if (strcmp(a, "--steps") == 0)
      rc = num_i(a, v, 1, INT64_C(1) << 40, &o.steps);
    else if (strcmp(a, "--epochs") == 0)
      rc = num_f(a, v, 1e-3, 1e6, &o.epochs);
    else if (strcmp(a, "--seq-len") == 0)
      rc = num_i(a, v, 16, TRAIN_MAX_SEQ, &iv), o.seq_len = (int)iv;
    else if (strcmp(a, "--accum") == 0)
      rc = num_i(a, v, 1, 1024, &iv), o.accum = (int)iv;
    else if (strcmp(a, "--lr") == 0)
      rc = num_f(a, v, 1e-9, 10, &fv), o.optim.lr = (float)fv, lr_given = true;
    else if (strcmp(a, "--min-lr") == 0)
      rc = num_f(a, v, 0, 10, &fv), o.optim.min_lr = (float)fv;
    else if (strcmp(a, "--warmup") == 0)
      rc = num_i(a, v, 0, INT64_C(1) << 40, &o.optim.warmup);
    else if (strcmp(a, "--weight-decay") == 0)
      rc = num_f(a, v, 0, 10, &fv), o.optim.weight_decay = (float)fv;
    else if (strcmp(a, "--clip") == 0)
      rc = num_f(a, v, 0, 1e6, &fv), o.optim.clip = (float)fv;
    else if (strcmp(a, "--seed") == 0)
      rc = num_i(a, v, 1, INT64_MAX, &iv), o.seed = (uint64_t)iv;
    else if (strcmp(a, "--eval-every") == 0)
      rc = num_i(a, v, 0, 1 << 30, &iv), o.eval_every = (int)iv;
    else if (strcmp(a, "--eval-batches") == 0)
      rc = num_i(a, v, 1, 1 << 30, &iv), o.eval_batches = (int)iv;
    else if (strcmp(a, "--ckpt-every") == 0)
      rc = num_i(a, v, 0, 1 << 30, &iv), o.ckpt_every = iv ? (int)iv : -1;
    else if (strcmp(a, "--ckpt") == 0)
      o.ckpt = v;
    else if (strcmp(a, "--log") == 0)
      o.log_csv = v;
    else if (strcmp(a, "--svg") == 0)
      o.svg = v;
    else if (strcmp(a, "--threads") == 0)
      rc = num_i(a, v, 1, 256, &threads);
    else {
      cli_error("unknown option '%s'; 'mimic train --help' lists the options", a);
      rc = -1;
    }
  }
  if (rc) {
    cfg_destroy(c);
    return 2;
  }
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
  compute_pool *cp = compute_pool_new((int)threads);
  o.pool = cp;
  train_result res;
  int64_t started_ms = clock_wall_ms();
  rc = train_run(&o, &res);
  compute_pool_destroy(cp);
  if (rc) {
    if (o.progress) fputc('\n', stderr);
    cli_error("%s", err_msg());
    cfg_destroy(c);
    return 1;
  }
  if (res.finished) ack_purges(c, o.data, started_ms);
  printf("trained %lld steps: loss %.4f", (long long)res.steps, res.loss);
  if (isfinite(res.val_loss)) printf(", validation %.4f", res.val_loss);
  printf(" (%.0f tokens/s, %.2f GFLOP/s, %.1f s)\nwrote %s\n", res.tokens_per_s, res.gflops,
         res.seconds, o.out);
  cfg_destroy(c);
  return 0;
}

int cmd_merge(int argc, char **argv) {
  double scale = 1.0;
  int64_t threads = 0;
  const char *pos[3] = {NULL, NULL, NULL};
  int np = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--scale") == 0) {
      if (num_f(a, v, -100, 100, &scale)) return 2;
      i++;
    } else if (strcmp(a, "--threads") == 0) {
      if (num_i(a, v, 1, 256, &threads)) return 2;
      i++;
    } else if (np < 3 && a[0] != '-') {
      pos[np++] = a;
    } else {
      np = 99;
      break;
    }
  }
  if (np != 3) {
    cli_error("usage: mimic merge BASE.gguf ADAPTER.gguf OUT.gguf [--scale 1] [--threads N]");
    return 2;
  }
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
