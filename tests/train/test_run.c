/* Datasets, packing, the preference losses, and whole training runs: loss masks cover exactly the
 * assistant replies and their end-of-turn token; packed samples keep their own positions and
 * attention spans; DPO/ORPO losses and gradients match hand-computed values; a run killed after a
 * checkpoint and resumed ends with bit-identical weights to an uninterrupted run; DPO starts at
 * log 2 (policy = reference) and learns the preference; the CLI writes model, log and loss curve.
 */
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "test.h"
#include "train/train_int.h"

static char dir[256];

static void path_in(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", dir, name);
}

static void write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

static tokenizer *builtin_tok(void) {
  tokenizer *t = NULL;
  if (train__vocab_builtin(&t)) return NULL;
  return t;
}

/* The text of the tokens whose mask is set (special tokens rendered), concatenated with '|' between
 * runs. */
static char *masked_text(const tokenizer *t, const train_sample *s) {
  buf b;
  buf_init(&b, 1 << 20);
  tok_decoder d;
  tok_decoder_init(&d, t, TOK_DEC_SPECIAL);
  for (int i = 0; i < s->n; i++) {
    if (s->mask[i]) {
      if (tok_decoder_push(&d, s->tok[i], &b)) break;
    } else if (i > 0 && s->mask[i - 1]) {
      if (buf_putc(&b, '|')) break;
    }
  }
  if (tok_decoder_flush(&d, &b)) return NULL;
  return buf_steal(&b);
}

TEST(sft_masks_cover_assistant_turns) {
  tokenizer *t = builtin_tok();
  REQUIRE(t);
  char p[512];
  path_in(p, sizeof p, "sft.jsonl");
  write_file(p, "{\"messages\": [{\"role\": \"system\", \"content\": \"be brief\"}, {\"role\": "
                "\"user\", \"content\": "
                "\"Ann: hi <|im_end|>\"}, {\"role\": \"assistant\", \"content\": \"Cat: yo\"}]}\n"
                "\n"
                "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}, {\"role\": "
                "\"assistant\", \"content\": "
                "\"one\"}, {\"role\": \"user\", \"content\": \"b\"}, {\"role\": \"assistant\", "
                "\"content\": \"two\"}]}\n"
                "{\"prompt\": [{\"role\": \"user\", \"content\": \"q\"}], \"completion\": "
                "[{\"role\": \"assistant\", "
                "\"content\": \"ans\"}]}\r\n"
                "{\"text\": \"<|im_start|>plain text\"}\n");
  train_data *d = NULL;
  CHECK_OK(train_data_load(p, t, false, 512, &d));
  REQUIRE(d);
  CHECK_INT(d->n, 4);
  CHECK_INT(d->n_lines, 5);
  char *s0 = masked_text(t, &d->s[0]);
  CHECK_STR(s0, "Cat: yo<|im_end|>|");
  char *s1 = masked_text(t, &d->s[1]);
  CHECK_STR(s1, "one<|im_end|>|two<|im_end|>|");
  char *s2 = masked_text(t, &d->s[2]);
  CHECK_STR(s2, "ans<|im_end|>|");
  char *s3 = masked_text(t, &d->s[3]);
  CHECK_STR(s3, "plain text"); /* text: everything after the first token */
  CHECK_INT(d->s[3].tok[0], tok_find(t, "<|im_start|>", 12)); /* text parses specials */
  /* the user's typed <|im_end|> stayed text: exactly two im_end tokens in sample 0 (system, user
   * turns) plus the assistant's */
  int n_end = 0;
  for (int i = 0; i < d->s[0].n; i++) n_end += d->s[0].tok[i] == tok_find(t, "<|im_end|>", 10);
  CHECK_INT(n_end, 3);
  mem_free(s0), mem_free(s1), mem_free(s2), mem_free(s3);
  train_data_destroy(d);

  /* too long: the end (the reply) is kept */
  CHECK_OK(train_data_load(p, t, false, 8, &d));
  REQUIRE(d);
  CHECK(d->n_truncated > 0);
  s0 = masked_text(t, &d->s[0]);
  CHECK(s0 && strstr(s0, "<|im_end|>") != NULL);
  CHECK(d->s[0].n == 8);
  mem_free(s0);
  train_data_destroy(d);
  tok_destroy(t);
}

TEST(malformed_data_is_refused_with_its_line) {
  tokenizer *t = builtin_tok();
  REQUIRE(t);
  char p[512];
  path_in(p, sizeof p, "bad.jsonl");
  const char *bad[] = {
      "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n{\"messages\": [{\"role\": "
      "\"user\"}]}\n",
      "{\"messages\": []}\n{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]\n",
      "{\"messages\": [{\"role\": \"User!\", \"content\": \"a\"}]}\n",
      "[1, 2]\n",
      "{\"other\": 1}\n",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    write_file(p, bad[i]);
    train_data *d = NULL;
    int rc = train_data_load(p, t, false, 64, &d);
    CHECK(rc != 0);
    CHECK(d == NULL);
    CHECK(strstr(err_msg(), "bad.jsonl:") != NULL);
  }
  write_file(p, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n{\"messages\": "
                "[{\"role\": \"user\"}]}\n");
  train_data *d = NULL;
  CHECK(train_data_load(p, t, false, 64, &d) != 0);
  CHECK(strstr(err_msg(), "bad.jsonl:2") != NULL);
  /* only prompts: nothing to learn anywhere */
  write_file(p, "{\"messages\": [{\"role\": \"user\", \"content\": \"a\"}]}\n");
  CHECK(train_data_load(p, t, false, 64, &d) == MIMIC_EFORMAT);
  path_in(p, sizeof p, "absent.jsonl");
  CHECK(train_data_load(p, t, false, 64, &d) == MIMIC_EIO);
  tok_destroy(t);
}

TEST(packing_keeps_samples_apart) {
  tokenizer *t = builtin_tok();
  REQUIRE(t);
  char p[512];
  path_in(p, sizeof p, "pack.jsonl");
  write_file(p, "{\"text\": \"aaaa\"}\n{\"text\": \"bbbbbb\"}\n{\"text\": \"cc\"}\n{\"text\": "
                "\"dddddddd\"}\n");
  train_data *d = NULL;
  CHECK_OK(train_data_load(p, t, false, 10, &d));
  REQUIRE(d);
  train_pack pk;
  CHECK_OK(train_pack_init(&pk, 10));
  uint32_t order[4] = {0, 1, 2, 3};
  size_t cur = 0;
  CHECK_INT(train_pack_fill(&pk, d, order, 4, &cur), 2); /* 4 + 6 tokens */
  CHECK_INT(pk.T, 10);
  CHECK_INT(pk.seg[3], 0);
  CHECK_INT(pk.seg[4], 4);
  CHECK_INT(pk.pos[4], 0);
  CHECK_INT(pk.pos[9], 5);
  CHECK_INT(pk.tgt[3], -1); /* a sample's last token predicts nothing */
  CHECK_INT(pk.tgt[4], pk.tok[5]);
  CHECK_INT(pk.n_target, 3 + 5);
  CHECK_INT(train_pack_fill(&pk, d, order, 4, &cur), 2); /* 2 + 8 */
  CHECK_INT(train_pack_fill(&pk, d, order, 4, &cur), 0);
  uint32_t *o1 = train_data_order(d, 5, 0), *o2 = train_data_order(d, 5, 0),
           *o3 = train_data_order(d, 5, 1);
  CHECK(memcmp(o1, o2, 4 * sizeof *o1) == 0);
  int sum = 0;
  for (int i = 0; i < 4; i++) sum += (int)o3[i];
  CHECK_INT(sum, 6); /* a permutation */
  mem_free(o1), mem_free(o2), mem_free(o3);
  train_pack_free(&pk);
  train_data_destroy(d);
  tok_destroy(t);
}

TEST(preference_losses_by_hand) {
  double dc, dr;
  /* policy = reference: -log sigmoid(0) = log 2, gradients -beta/2 and +beta/2 */
  CHECK_NEAR(train_pref_loss(TRAIN_DPO, 0.1, -5, -7, -5, -7, 3, 4, &dc, &dr), log(2.0), 1e-12);
  CHECK_NEAR(dc, -0.05, 1e-12);
  CHECK_NEAR(dr, 0.05, 1e-12);
  /* z = 0.1 * ((-10 + 11) - (-12 + 11)) = 0.2: loss = log(1 + e^-0.2), dL/dpc = -0.1 sigmoid(-0.2)
   */
  CHECK_NEAR(train_pref_loss(TRAIN_DPO, 0.1, -10, -12, -11, -11, 5, 5, &dc, &dr),
             0.5981388693815918, 1e-12);
  CHECK_NEAR(dc, -0.04501660026875222, 1e-12);
  CHECK_NEAR(dr, 0.04501660026875222, 1e-12);
  /* ORPO, lambda 0.1: a = -3/3 = -1, b = -4/2 = -2, log_odds = 1 - (log(1-e^-1) - log(1-e^-2)) */
  CHECK_NEAR(train_pref_loss(TRAIN_ORPO, 0.1, -3, -4, 0, 0, 3, 2, &dc, &dr), 1.0238183026413827,
             1e-12);
  CHECK_NEAR(dc, -0.34450955357892776, 1e-12);
  CHECK_NEAR(dr, 0.012255707530800209, 1e-12);
  /* and the gradients agree with finite differences */
  for (int st = 1; st <= 2; st++) {
    double pc = -6.5, pr = -3.2, h = 1e-6;
    train_pref_loss((train_stage)st, 0.3, pc, pr, -6, -4, 4, 3, &dc, &dr);
    double d1, d2;
    double lp = train_pref_loss((train_stage)st, 0.3, pc + h, pr, -6, -4, 4, 3, &d1, &d2);
    double lm = train_pref_loss((train_stage)st, 0.3, pc - h, pr, -6, -4, 4, 3, &d1, &d2);
    CHECK_NEAR((lp - lm) / (2 * h), dc, 1e-6);
    lp = train_pref_loss((train_stage)st, 0.3, pc, pr + h, -6, -4, 4, 3, &d1, &d2);
    lm = train_pref_loss((train_stage)st, 0.3, pc, pr - h, -6, -4, 4, 3, &d1, &d2);
    CHECK_NEAR((lp - lm) / (2 * h), dr, 1e-6);
  }
}

static const char sft_lines[] = "{\"messages\": [{\"role\": \"user\", \"content\": \"Ann: gg\"}, "
                                "{\"role\": \"assistant\", \"content\": \"Ben: ez\"}]}\n"
                                "{\"messages\": [{\"role\": \"user\", \"content\": \"Ann: who is "
                                "up\"}, {\"role\": \"assistant\", \"content\": \"Cat: me!\"}]}\n"
                                "{\"messages\": [{\"role\": \"user\", \"content\": \"Ben: lol\"}, "
                                "{\"role\": \"assistant\", \"content\": \"Ann: same\"}]}\n"
                                "{\"messages\": [{\"role\": \"user\", \"content\": \"Cat: "
                                "food?\"}, {\"role\": \"assistant\", \"content\": \"Ben: brb\"}]}\n"
                                "{\"messages\": [{\"role\": \"user\", \"content\": \"Ann: wait\"}, "
                                "{\"role\": \"assistant\", \"content\": \"Cat: what\"}]}\n";

static train_run_opts tiny_run(const char *data, const char *out) {
  train_run_opts o;
  memset(&o, 0, sizeof o);
  o.from_scratch = true;
  o.scratch.n_layer = 1;
  o.scratch.n_embd = 32;
  o.scratch.n_head = 2;
  o.scratch.n_ff = 64;
  o.data = data;
  o.out = out;
  o.seq_len = 48;
  o.steps = 6;
  o.optim.lr = 3e-3f;
  o.optim.warmup = 2;
  o.seed = 3;
  return o;
}

static bool same_params(const char *a, const char *b) {
  gguf_file *fa = NULL, *fb = NULL;
  bool same =
      gguf_open(a, &fa) == 0 && gguf_open(b, &fb) == 0 && gguf_n_tensors(fa) == gguf_n_tensors(fb);
  for (int64_t i = 0; same && i < gguf_n_tensors(fa); i++) {
    const gguf_tensor *ta = gguf_tensor_at(fa, i), *tb = gguf_tensor_find(fb, ta->name);
    same = tb && ta->nbytes == tb->nbytes && memcmp(ta->data, tb->data, ta->nbytes) == 0;
  }
  gguf_close(fa);
  gguf_close(fb);
  return same;
}

/* Records the progress events of a run. */
typedef struct events {
  int n, begin, end;
  int64_t first_step, last_step, begin_step;
  bool resumed;
  train_stop stopped;
  int stop_at; /* the stop callback says stop at its stop_at-th call (0: never) */
  int stop_calls;
} events;

static int count_events(const train_progress *p, void *user) {
  events *e = user;
  e->n++;
  if (p->ev == TRAIN_EV_BEGIN) e->begin++, e->begin_step = p->step, e->resumed = p->resumed;
  if (p->ev == TRAIN_EV_STEP) {
    if (!e->first_step) e->first_step = p->step;
    e->last_step = p->step;
  }
  if (p->ev == TRAIN_EV_END) e->end++, e->stopped = p->stopped;
  return 0;
}

static bool stop_when_told(void *user) {
  events *e = user;
  return e->stop_at > 0 && ++e->stop_calls >= e->stop_at;
}

/* Uninterrupted vs. killed one step after a checkpoint and resumed: identical weights. Both a
 * from-scratch run and a LoRA run with dropout and gradient accumulation. */
TEST(resume_is_exact) {
  char data[512], a[512], b[512], base[512];
  path_in(data, sizeof data, "run.jsonl");
  write_file(data, sft_lines);
  path_in(a, sizeof a, "a.gguf");
  path_in(b, sizeof b, "b.gguf");
  path_in(base, sizeof base, "runbase.gguf");
  compute_pool *cp = compute_pool_new(2);
  for (int lora = 0; lora < 2; lora++) {
    train_run_opts o = tiny_run(data, a);
    o.pool = cp;
    if (lora) {
      train_model *s = NULL;
      CHECK_OK(train_model_new_scratch(&o.scratch, 4, 48, NULL, &s));
      REQUIRE(s);
      CHECK_OK(train_model_export(s, base));
      train_model_destroy(s);
      o.from_scratch = false;
      o.base = base;
      o.lora.rank = 4;
      o.lora.dropout = 0.1f;
      o.accum = 2;
    }
    train_result r1, r2, r3;
    o.ckpt_every = 100;
    CHECK_OK(train_run(&o, &r1));
    CHECK(r1.finished);
    CHECK_INT(r1.steps, 6);
    o.out = b;
    o.ckpt_every = 3;
    o.stop_after = 4; /* "killed" during step 5: step 4 is lost with it */
    CHECK_OK(train_run(&o, &r2));
    CHECK(!r2.finished);
    o.stop_after = 0;
    o.resume = true;
    events ev3 = {0};
    o.on_progress = count_events;
    o.progress_user = &ev3;
    CHECK_OK(train_run(&o, &r3));
    o.on_progress = NULL;
    o.progress_user = NULL;
    CHECK(r3.finished);
    CHECK_INT(ev3.begin, 1);
    CHECK(ev3.resumed);
    CHECK_INT(ev3.begin_step, 3);
    CHECK_INT(ev3.first_step, 4);
    CHECK_INT(ev3.last_step, 6);
    CHECK_INT(ev3.end, 1);
    CHECK_INT(ev3.n, 1 + 3 + 1);
    CHECK_INT(r3.steps, 6);
    CHECK(same_params(a, b));
    CHECK_NEAR(r3.loss, r1.loss, 0);
    /* the resumed session reports from its checkpoint on: begin at step 3, then steps 4..6 */
    CHECK_INT(r3.steps, 6);
    /* resuming the finished run does nothing and says so */
    o.on_progress = count_events;
    events ev = {0};
    o.progress_user = &ev;
    CHECK_OK(train_run(&o, &r3));
    CHECK(r3.already_finished);
    CHECK(r3.finished);
    CHECK_INT(r3.steps, 6);
    CHECK_INT((int64_t)r3.tokens, 0);
    CHECK_INT(ev.n, 0);
    o.on_progress = NULL;
    o.progress_user = NULL;
    /* another setting refuses the checkpoint */
    o.optim.lr = 1e-2f;
    CHECK(train_run(&o, &r3) == MIMIC_EINVAL);
  }
  compute_pool_destroy(cp);
}

/* A run bounded by a deadline (already passed: no timing involved) or a stop callback stops at a
 * step boundary, says why, and leaves a loadable adapter and its checkpoint. */
TEST(deadline_and_stop_end_cleanly) {
  char data[512], base[512], out[512], ck[600];
  path_in(data, sizeof data, "run.jsonl");
  write_file(data, sft_lines);
  path_in(base, sizeof base, "dlbase.gguf");
  path_in(out, sizeof out, "dl.gguf");
  snprintf(ck, sizeof ck, "%s.ckpt", out);
  train_run_opts o = tiny_run(data, out);
  train_model *s = NULL;
  CHECK_OK(train_model_new_scratch(&o.scratch, 4, 48, NULL, &s));
  REQUIRE(s);
  CHECK_OK(train_model_export(s, base));
  train_model_destroy(s);
  o.from_scratch = false;
  o.base = base;
  o.lora.rank = 4;
  o.valid = data;
  o.steps = 100000; /* never reached */
  o.ckpt_every = -1;
  o.deadline_ns = 1; /* long past */
  events ev = {0};
  o.on_progress = count_events;
  o.progress_user = &ev;
  train_result r;
  CHECK_OK(train_run(&o, &r));
  CHECK(!r.finished);
  CHECK_INT(r.stopped, TRAIN_STOP_DEADLINE);
  CHECK_INT(r.steps, 1);    /* the step boundary right after the first step */
  CHECK(isnan(r.val_loss)); /* no validation once the time is up */
  CHECK_INT(ev.end, 1);
  CHECK_INT(ev.stopped, TRAIN_STOP_DEADLINE);
  CHECK(access(ck, R_OK) == 0);
  llm_model *bm = NULL;
  CHECK_OK(llm_model_load(base, &bm));
  REQUIRE(bm);
  llm_lora *lo = NULL;
  CHECK_OK(llm_lora_load(bm, out, &lo));
  CHECK(lo != NULL);
  llm_lora_destroy(lo);
  unlink(out);

  /* the stop callback, asked after each step, says stop at its third call: after step 3 */
  o.deadline_ns = 0;
  events ev2 = {.stop_at = 3};
  o.progress_user = &ev2;
  o.stop = stop_when_told;
  o.stop_user = &ev2;
  CHECK_OK(train_run(&o, &r));
  CHECK_INT(r.stopped, TRAIN_STOP_ASKED);
  CHECK_INT(ev2.last_step, 3);
  CHECK_INT(r.steps, 3);
  CHECK_OK(llm_lora_load(bm, out, &lo));
  CHECK(lo != NULL);
  llm_lora_destroy(lo);
  llm_model_destroy(bm);
}

/* SFT from scratch, then DPO as LoRA over it: DPO's first loss is log 2 and it learns to prefer the
 * chosen replies; ORPO runs too. */
TEST(dpo_and_orpo_learn_preferences) {
  char data[512], pairs[512], sft[512], dpo[512];
  path_in(data, sizeof data, "run.jsonl");
  write_file(data, sft_lines);
  path_in(pairs, sizeof pairs, "pairs.jsonl");
  write_file(pairs,
             "{\"prompt\": [{\"role\": \"user\", \"content\": \"Ann: gg\"}], \"chosen\": "
             "[{\"role\": \"assistant\", "
             "\"content\": \"Ben: ez\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": "
             "\"Ben: Indeed.\"}]}\n"
             "{\"prompt\": [{\"role\": \"user\", \"content\": \"Cat: lol\"}], \"chosen\": "
             "[{\"role\": \"assistant\", "
             "\"content\": \"Ann: lmao\"}], \"rejected\": [{\"role\": \"assistant\", \"content\": "
             "\"Ann: Indeed.\"}]}\n"
             "{\"prompt\": \"plain prompt\", \"chosen\": \" yes\", \"rejected\": \" Indeed.\"}\n");
  path_in(sft, sizeof sft, "sft.gguf");
  path_in(dpo, sizeof dpo, "dpo.gguf");
  train_run_opts o = tiny_run(data, sft);
  o.steps = 10;
  train_result r;
  CHECK_OK(train_run(&o, &r));
  CHECK(r.loss < r.first_loss);
  for (int st = 1; st <= 2; st++) {
    train_run_opts p;
    memset(&p, 0, sizeof p);
    p.stage = (train_stage)st;
    p.base = sft;
    p.data = pairs;
    p.valid = pairs;
    p.out = dpo;
    p.seq_len = 96;
    p.steps = 25;
    p.lora.rank = 4;
    p.optim.lr = 1e-2f;
    p.beta = st == 1 ? 0.5f : 0.1f;
    p.eval_every = 25;
    CHECK_OK(train_run(&p, &r));
    printf("     %s: loss %.4f -> %.4f, validation %.4f\n", st == 1 ? "DPO" : "ORPO", r.first_loss,
           r.loss, r.val_loss);
    if (st == 1) {
      CHECK_NEAR(r.first_loss, log(2.0), 1e-4);
      CHECK(r.val_loss < 0.5);
    }
    CHECK(r.loss < r.first_loss);
  }
  train_run_opts bad = tiny_run(pairs, dpo);
  bad.stage = TRAIN_DPO;
  CHECK(train_run(&bad, &r) == MIMIC_EINVAL); /* DPO is LoRA over a model */
}

TEST(cli_trains_from_scratch) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin) SKIP("MIMIC_BIN not set (run through ctest)");
  char data[512], out[512], cmd[2048];
  path_in(data, sizeof data, "run.jsonl");
  write_file(data, sft_lines);
  path_in(out, sizeof out, "cli/model.gguf");
  snprintf(cmd, sizeof cmd,
           "%s train --from-scratch --layers 1 --width 32 --heads 2 --data %s --valid %s --out %s "
           "--steps 4 "
           "--seq-len 48 --eval-every 2 --threads 2 --no-progress > %s/cli.out 2>&1",
           bin, data, data, out, dir);
  int st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  llm_model *m = NULL;
  CHECK_OK(llm_model_load(out, &m));
  llm_model_destroy(m);
  char p[600];
  snprintf(p, sizeof p, "%s.svg", out);
  CHECK(access(p, R_OK) == 0);
  snprintf(p, sizeof p, "%s.csv", out);
  CHECK(access(p, R_OK) == 0);
  /* --resume on the finished run: says so, reports no "loss nan ... 0 tokens/s" */
  snprintf(cmd, sizeof cmd,
           "%s train --from-scratch --layers 1 --width 32 --heads 2 --data %s --valid %s --out %s "
           "--steps 4 --seq-len 48 --eval-every 2 --threads 2 --no-progress --resume > %s/cli2.out "
           "2>&1",
           bin, data, data, out, dir);
  st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  snprintf(p, sizeof p, "%s/cli2.out", dir);
  char text[4096] = "";
  FILE *tf = fopen(p, "r");
  REQUIRE(tf);
  size_t tn = fread(text, 1, sizeof text - 1, tf);
  fclose(tf);
  text[tn] = '\0';
  CHECK(strstr(text, "already finished") != NULL);
  CHECK(strstr(text, "nan") == NULL);
  CHECK(strstr(text, "tokens/s") == NULL);
  snprintf(cmd, sizeof cmd,
           "%s train --from-scratch --data %s/none.jsonl --out %s > /dev/null 2>&1", bin, dir, out);
  st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  snprintf(cmd, sizeof cmd, "%s train --bogus 1 > /dev/null 2>&1", bin);
  st = system(cmd);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 2);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mimic-test-run-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  log_set_level(LOG_WARN);
  RUN(sft_masks_cover_assistant_turns);
  RUN(malformed_data_is_refused_with_its_line);
  RUN(packing_keeps_samples_apart);
  RUN(preference_losses_by_hand);
  RUN(resume_is_exact);
  RUN(deadline_and_stop_end_cleanly);
  RUN(dpo_and_orpo_learn_preferences);
  RUN(cli_trains_from_scratch);
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) printf("could not remove %s\n", dir);
  TEST_MAIN_END();
}
