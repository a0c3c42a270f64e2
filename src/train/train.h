/* Training on the CPU: LoRA fine-tuning of a frozen (possibly quantized) qwen2/llama base, and
 * from-scratch training of tiny models, with forward and backward passes written for training
 * (activations kept for the backward pass), AdamW, SFT on chat data with the loss on assistant
 * turns only, DPO/ORPO on preference pairs, exact checkpoints, and export to llama.cpp's adapter
 * format or a full GGUF model. Not here: inference (llm/), building the datasets (collect/), the
 * command line.
 *
 * Threads: a train_model is used by one thread at a time; its matrix work runs on the compute_pool
 * it was given. Results do not depend on the pool's size. */
#ifndef MIMIC_TRAIN_TRAIN_H
#define MIMIC_TRAIN_TRAIN_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "llm/model.h"
#include "llm/quant.h"
#include "llm/tokenizer.h"

#define TRAIN_MAX_SEQ  65536 /* tokens in one packed sequence */
#define TRAIN_MAX_RANK 1024  /* LoRA rank */

/* The adaptable projections of a layer, in llama.cpp's order and names (attn_q ... ffn_down). */
enum {
  TRAIN_W_Q,
  TRAIN_W_K,
  TRAIN_W_V,
  TRAIN_W_O,
  TRAIN_W_GATE,
  TRAIN_W_UP,
  TRAIN_W_DOWN,
  TRAIN_W_COUNT
};
#define TRAIN_TARGETS_ALL 0x7fu
extern const char *const train_w_names[TRAIN_W_COUNT]; /* "attn_q", ..., "ffn_down" */

/* Parses a comma-separated list of q, k, v, o, gate, up, down (or attn_q, ..., ffn_down), or "all",
 * "attn" (q,k,v,o), "ffn" (gate,up,down) into a bit mask (1 << TRAIN_W_*). MIMIC_EINVAL names the
 * unknown word. */
int train_targets_parse(const char *s, unsigned *mask) MIMIC_MUST;

/* ---- Models ---------------------------------------------------------------------------------- */
typedef struct train_model train_model;

typedef struct train_lora_opts {
  int rank;         /* default 8 */
  float alpha;      /* default 2 * rank; scale = alpha / rank, as llama.cpp applies it */
  float dropout;    /* on the LoRA branch's input, [0, 1); default 0 */
  unsigned targets; /* default TRAIN_TARGETS_ALL */
  const char
      *init;            /* an adapter GGUF to start from (e.g. the SFT adapter for DPO), or NULL;
                           train_run loads it (train_model_load_adapter), train_model_new_lora does not */
  bool recompute_ffn;   /* keep no gate/up activations: the backward pass recomputes them (with
                           f32_activations, with the same bits), so 2 n_ff values per token and
                           layer less (228 MiB as halves at the 0.5B shape, T = 512) for about a
                           sixth more time per step */
  bool f32_activations; /* keep the activations the backward pass reads in float32, as computed;
                           by default they are kept as 16-bit halves scaled per row (2^-11
                           relative error; peak 1,248 -> 935 MiB at the 0.5B shape, T = 512). The
                           forward pass is the same either way. */
} train_lora_opts;

typedef struct train_scratch_opts {
  const char *arch;  /* "qwen2" (NEOX RoPE, tied embeddings; default) or "llama" (NORM RoPE) */
  int n_layer;       /* default 2 */
  int n_embd;        /* default 128 */
  int n_head;        /* default n_embd / 32 */
  int n_head_kv;     /* default n_head */
  int n_ff;          /* default ~2.75 n_embd, a multiple of 32 */
  int n_ctx;         /* context length written to the model; default 512 */
  float rope_base;   /* default 10000 */
  const char *vocab; /* a GGUF file whose vocabulary to reuse, or NULL for the built-in
                        byte-level one (256 bytes, a few merges, ChatML specials) */
} train_scratch_opts;

/* A LoRA model over the base at path (mapped read-only, weights dequantized tile by tile; never
 * converted as a whole). A is Kaiming-uniform (PEFT's default), B zero, from seed. max_T: the
 * longest packed sequence a batch may hold (activation memory is sized for it). pool is borrowed.
 * Caller destroys. Errors name the file and tensor. */
int train_model_new_lora(const char *path, const train_lora_opts *o, uint64_t seed, int max_T,
                         compute_pool *pool, train_model **out) MIMIC_MUST;
/* A new model with every weight trainable in F32 (normal(0, 0.02), output projections scaled down
 * by sqrt(2 n_layer), norms 1). */
int train_model_new_scratch(const train_scratch_opts *o, uint64_t seed, int max_T,
                            compute_pool *pool, train_model **out) MIMIC_MUST;
void train_model_destroy(train_model *m); /* accepts NULL */

const llm_hparams *train_model_hparams(const train_model *m);
const tokenizer *train_model_tokenizer(const train_model *m); /* borrowed */
bool train_model_is_lora(const train_model *m);
int train_model_max_T(const train_model *m);
/* FLOPs of the matrix work of one forward+backward over T tokens whose n_target carry a loss. */
double train_model_flops(const train_model *m, int T, int n_target);

/* Trainable tensors, named as they are written to GGUF ("blk.0.attn_q.weight.lora_a",
 * "token_embd.weight"); w and g have n floats in row-major order, ne is the GGUF shape. */
typedef struct train_param {
  char name[96];
  float *w, *g;
  size_t n;
  int n_dims;
  int64_t ne[2];
  bool decay; /* weight decay applies (matrices, not norms) */
} train_param;
int train_model_n_params(const train_model *m);
train_param *train_model_param(train_model *m, int i);
size_t train_model_n_trainable(const train_model *m); /* floats */
void train_model_zero_grad(train_model *m);

/* One packed sequence of T tokens holding one or more samples. targets[t] is the token the model
 * should predict after position t (-1: no loss there); pos[t] the position inside its sample
 * (RoPE); seg[t] the row where t's sample starts (attention never crosses samples). */
typedef struct train_batch {
  int T;
  const int32_t *tokens, *targets, *pos, *seg;
  uint64_t dropout_key; /* LoRA dropout masks derive from it; 0 = no dropout (evaluation) */
} train_batch;

/* Runs the forward pass, keeping activations for train_model_backward. logp (T, may be NULL)
 * receives log p(targets[t]) (0 where there is no target). logits (T, n_vocab, may be NULL)
 * receives every row's logits (tests). Errors: MIMIC_EINVAL (T out of 1..max_T, a token or target
 * out of the vocabulary, seg/pos inconsistent). */
int train_model_forward(train_model *m, const train_batch *b, float *logp,
                        float *logits) MIMIC_MUST;
/* Adds to every trainable tensor's gradient the gradient of sum_t dlogp[t] * logp[t] for the batch
 * of the last train_model_forward (so dlogp = -1/N on target rows gives the mean NLL's gradient).
 */
void train_model_backward(train_model *m, const train_batch *b, const float *dlogp);
/* As train_model_backward, for a forward pass run with logp NULL: logp (T, may be NULL) receives
 * log p(targets[t]) on every row with a target (0 elsewhere), computed in this pass. When dlogp
 * does not depend on logp (SFT: -1/N on target rows), this saves the lm head's forward product:
 * with a frozen output matrix the log-sum-exp and the head's gradient come from one pass over the
 * vocabulary (two products per block instead of three). logp must be NULL when the forward pass
 * filled its own (an assertion). */
void train_model_backward_logp(train_model *m, const train_batch *b, const float *dlogp,
                               float *logp);

/* ---- Datasets --------------------------------------------------------------------------------
 * JSONL files as mimic prepare writes them (docs/collect.md), one sample per line:
 *   SFT:   {"messages": [{"role", "content", "name"?}, ...]}  loss on every assistant turn
 *          {"prompt": [...], "completion": [...]}              loss on the completion's turns
 *          {"text": "..."}                                     loss on every token (specials
 * parsed) pairs: {"prompt": [...], "chosen": [...], "rejected": [...]}  (message lists or plain
 * strings) Conversations are rendered and tokenized with chat_encode (the model's template; user
 * text can never inject control tokens). An assistant turn's loss covers its content and its
 * end-of-turn token, not the template's header. Samples longer than max_len keep their last max_len
 * tokens (the reply is at the end); samples left with nothing to learn are dropped and counted.
 * Lines over TRAIN_MAX_LINE or malformed lines are errors naming the file and line (nothing is
 * silently skipped). */
#define TRAIN_MAX_LINE    (8u << 20)
#define TRAIN_MAX_SAMPLES 50000000u

typedef struct train_sample {
  int32_t *tok;
  uint8_t *mask; /* mask[i] = 1: token i is a target (predicted from tokens before it) */
  int n;
  int n_target;
} train_sample;

typedef struct train_data {
  train_sample *s; /* pairs: s[2i] chosen, s[2i+1] rejected */
  size_t n;        /* samples (pairs: 2 x pairs) */
  bool pairs;
  size_t n_lines, n_truncated, n_dropped;
  uint64_t n_tokens, n_target;
} train_data;

/* Loads path for tokenizer t. pairs selects the preference format. Caller frees with
 * train_data_destroy. Errors: MIMIC_EIO, MIMIC_EFORMAT ("file:line: ..."), MIMIC_ERANGE (caps). */
int train_data_load(const char *path, const tokenizer *t, bool pairs, int max_len,
                    train_data **out) MIMIC_MUST;
void train_data_destroy(train_data *d);
/* Items: samples, or pairs. */
size_t train_data_items(const train_data *d);

/* A packed sequence of whole items (samples, or both halves of pairs) built from an order. */
typedef struct train_pack {
  int cap;                        /* max_T */
  int T;                          /* rows used by the last fill */
  int32_t *tok, *tgt, *pos, *seg; /* max_T each */
  int n_items;
  int *item_seg; /* start row of each packed sample, in order (pairs: chosen, rejected) */
  int n_target;
  train_batch b; /* views of the arrays above */
} train_pack;

int train_pack_init(train_pack *p, int max_T) MIMIC_MUST;
void train_pack_free(train_pack *p);
/* Packs items order[*cursor], order[*cursor + 1], ... while they fit in max_T tokens (at least one:
 * every item fits, since samples were cut to max_len <= max_T) and advances *cursor. Returns the
 * number of items packed (0 when *cursor == n_order). */
int train_pack_fill(train_pack *p, const train_data *d, const uint32_t *order, size_t n_order,
                    size_t *cursor);
/* A seeded permutation of the items for an epoch (Fisher-Yates on the run's RNG). Caller frees. */
uint32_t *train_data_order(const train_data *d, uint64_t seed, uint64_t epoch);

/* ---- Optimizer -------------------------------------------------------------------------------
 * AdamW (decoupled weight decay, bias-corrected moments as ggml's opt_step_adamw), gradient
 * clipping by global norm, linear warmup then cosine decay to min_lr. */
typedef struct train_optim_opts {
  float lr;                /* peak learning rate; default 1e-3 (LoRA) */
  float min_lr;            /* end of the cosine; default lr / 10 */
  float beta1, beta2, eps; /* defaults 0.9, 0.999, 1e-8 */
  float weight_decay;      /* default 0 */
  float clip;              /* max global gradient norm; 0 = no clipping; default 1 */
  int64_t warmup;          /* steps of linear warmup; default 0 */
  int64_t total;           /* steps of the whole run (the cosine's length) */
} train_optim_opts;

/* Learning rate for step (0-based). */
double train_lr_at(const train_optim_opts *o, int64_t step);

typedef struct train_optim train_optim;
/* Moments for every trainable tensor of m, zeroed. Caller destroys. */
int train_optim_new(const train_model *m, const train_optim_opts *o, train_optim **out) MIMIC_MUST;
void train_optim_destroy(train_optim *o);
/* One update from the gradients held in m (the caller averaged them); clips first. Returns the
 * gradient's global norm before clipping (a non-finite norm skips the update: MIMIC_ERANGE). */
int train_optim_step(train_optim *o, train_model *m, double *grad_norm) MIMIC_MUST;
int64_t train_optim_steps(const train_optim *o);       /* updates done so far */
void train_optim_set_steps(train_optim *o, int64_t t); /* checkpoint restore */
/* which 0: m, 1: v; n floats of param i */
float *train_optim_moment(train_optim *o, int i, int which);
const train_optim_opts *train_optim_opts_get(const train_optim *o);

/* ---- Checkpoints: the trainable tensors, the optimizer's moments and step, the data position and
 * any per-run extras (DPO reference log-probs), in one GGUF file written atomically (tmp + fsync +
 * rename), so a kill at any instant leaves the previous checkpoint or the new one, never a mix.
 * The fingerprint (the settings that change the math) must match on load. */
typedef struct train_ckpt {
  int64_t step;            /* optimizer steps done */
  uint64_t epoch, cursor;  /* next item: order(epoch)[cursor] */
  const char *fingerprint; /* save: the run's; load: compared with it */
} train_ckpt;

int train_ckpt_save(const char *path, train_model *m, train_optim *o, const train_ckpt *st,
                    const float *extra, size_t n_extra) MIMIC_MUST;
/* Restores m's tensors and o's state from path; extra (n_extra floats, may be NULL) is filled from
 * the file's extras. Errors: MIMIC_ENOTFOUND (no file), MIMIC_EINVAL (fingerprint or tensors
 * differ). */
int train_ckpt_load(const char *path, train_model *m, train_optim *o, train_ckpt *st, float *extra,
                    size_t n_extra) MIMIC_MUST;

/* ---- Preference losses ------------------------------------------------------------------------
 * One pair's loss from summed completion log-probs pc (chosen) and pr (rejected) over nc and nr
 * tokens. DPO (sigmoid, beta): -log sigmoid(beta ((pc - rc) - (pr - rr))) with rc, rr the reference
 * policy's sums. ORPO (lambda = beta): -pc/nc - beta log sigmoid(log_odds), log_odds computed on
 * the length-averaged log-probs a = pc/nc, b = pr/nr as (a - b) - (log1p(-e^a) - log1p(-e^b)). *dpc
 * and *dpr receive dL/dpc and dL/dpr. */
typedef enum { TRAIN_SFT = 0, TRAIN_DPO = 1, TRAIN_ORPO = 2 } train_stage;
double train_pref_loss(train_stage stage, double beta, double pc, double pr, double rc, double rr,
                       int nc, int nr, double *dpc, double *dpr);

/* ---- The training run (what `mimic train` does) ----------------------------------------------
 * train_run writes the model, its checkpoint, and nothing else: it draws no progress bar and writes
 * no log. It reports through a progress callback instead, which the caller turns into a bar, a CSV
 * log and a loss curve (cli/progress.c) or anything else (the dashboard reads the same values). */

typedef enum {
  TRAIN_EV_BEGIN, /* set up, before the first step: step = steps already done (resumed) */
  TRAIN_EV_STEP,  /* after each optimizer step */
  TRAIN_EV_END    /* the run finished or stopped cleanly; the model file is written */
} train_event;

/* Why a run ended before its last step. */
typedef enum {
  TRAIN_STOP_NONE = 0, /* it did not: the run reached its last step */
  TRAIN_STOP_AFTER, /* stop_after steps, as if killed: nothing written after the last checkpoint */
  TRAIN_STOP_DEADLINE, /* the deadline passed; stopped at a step boundary, everything written */
  TRAIN_STOP_ASKED /* the stop callback said so; stopped at a step boundary, everything written */
} train_stop;

typedef struct train_progress {
  train_event ev;
  train_stage stage;
  int64_t step;        /* optimizer steps done in all (including before a resume) */
  int64_t total;       /* steps of the whole run */
  int64_t session;     /* steps done by this call of train_run */
  bool resumed;        /* BEGIN: continuing from a checkpoint at step */
  double epoch;        /* epochs done, fractional */
  double lr;           /* STEP: the learning rate of this step */
  double loss;         /* STEP: this step's training loss (END: the last one; NAN if none) */
  double grad_norm;    /* STEP: global gradient norm before clipping */
  double val_loss;     /* validation loss computed at this step, NAN when none was */
  double accuracy;     /* DPO/ORPO: share of the step's pairs preferring the chosen reply; NAN */
  uint64_t tokens;     /* tokens forwarded this session */
  double tokens_per_s; /* this session */
  double elapsed_s;    /* seconds since this session's first step began */
  double eta_s;        /* estimated seconds to the last step */
  train_stop stopped;  /* END: why the run ended early (TRAIN_STOP_NONE: it finished) */
} train_progress;

/* Called on the training thread; p is valid during the call only. Returning non-zero ends the run
 * with that code (set err first: the caller reports err_msg()). */
typedef int (*train_progress_fn)(const train_progress *p, void *user);

typedef struct train_run_opts {
  train_stage stage;
  const char *base;  /* LoRA: the base model GGUF */
  bool from_scratch; /* else LoRA over base */
  train_scratch_opts scratch;
  train_lora_opts lora;
  const char *data;  /* training JSONL */
  const char *valid; /* validation JSONL, or NULL */
  const char *out;   /* the adapter / model written at the end (and at each checkpoint) */
  const char *ckpt;  /* default "<out>.ckpt" */
  bool resume;       /* continue from ckpt when it exists */
  int seq_len;       /* tokens per packed sequence; default 512 */
  int accum;         /* sequences per optimizer step; default 1 */
  int64_t steps;     /* optimizer steps; 0 = from epochs */
  double epochs;     /* default 1 */
  int eval_every;    /* steps; 0 = only at the end */
  int eval_batches;  /* most validation sequences per evaluation; default 20 */
  int ckpt_every;    /* steps; default 50; 0 = only at the end */
  train_optim_opts optim;
  float beta;                    /* DPO beta / ORPO lambda; default 0.1 */
  uint64_t seed;                 /* default 1 */
  compute_pool *pool;            /* borrowed */
  train_progress_fn on_progress; /* may be NULL */
  void *progress_user;
  /* Stopping early at a step boundary, with the model and checkpoint written as at the end of a
   * run (so it can be resumed; the schedule does not change) but no extra validation: after the
   * step during which clock_mono_ns() passed deadline_ns (0: none), or after the step at which
   * stop(stop_user) first returned true (NULL: none). At least one step runs. */
  uint64_t deadline_ns;
  bool (*stop)(void *user);
  void *stop_user;
  int64_t stop_after; /* stop after this many steps of this session, as if killed (tests) */
} train_run_opts;

typedef struct train_result {
  int64_t steps;         /* optimizer steps done in all (including before a resume) */
  double loss, val_loss; /* last step's training loss; last validation loss (NAN if none) */
  double first_loss;     /* first step's loss of this session */
  double tokens_per_s;   /* tokens forwarded per second this session */
  double gflops;         /* matrix GFLOP/s this session */
  uint64_t tokens;       /* tokens forwarded this session */
  double seconds;
  bool finished;         /* reached the last step (false: stopped early, see stopped) */
  train_stop stopped;    /* why it stopped before the last step */
  bool already_finished; /* resume found a checkpoint at the last step: nothing was done */
} train_result;

/* Runs a training (see train_run_opts). Resuming a run whose checkpoint is already at its last step
 * does nothing and says so in res->already_finished (no events are reported). Errors name the file,
 * line or step. */
int train_run(const train_run_opts *o, train_result *res) MIMIC_MUST;

/* ---- Export ---------------------------------------------------------------------------------- */
/* LoRA model: llama.cpp's adapter GGUF (general.type=adapter, adapter.type=lora,
 * adapter.lora.alpha, "<base>.lora_a" {in, r} / ".lora_b" {r, out}, F32). From-scratch model: a
 * full GGUF model with its vocabulary that llm_model_load and llama.cpp accept (F32, or F16 / other
 * presets via quantize). Written atomically (tmp + fsync + rename). */
int train_model_export(const train_model *m, const char *path) MIMIC_MUST;
/* Loads an adapter's tensors into a LoRA model's A and B (same targets and rank). */
int train_model_load_adapter(train_model *m, const char *path) MIMIC_MUST;
/* Writes base with adapter merged in (W + scale B A per adapted weight, each tensor rewritten in
 * its own type) as a standalone model at out. */
int train_merge(const char *base, const char *adapter, float scale, const char *out,
                compute_pool *pool) MIMIC_MUST;

#endif
