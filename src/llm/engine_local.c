/* Binds the engine (engine.h) to mimic's model (model.h, lora.h), tokenizer (tokenizer.h) and chat
 * templates (chat.h): the "local" llm_backend. Prompts come from chat_encode in the model's own
 * template family (chat_choose; message contents tokenized with special-token parsing OFF, so a
 * Discord user who types "<|im_end|>" gets those characters, not a turn boundary). Not here:
 * scheduling (engine.c). */
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/chat.h"
#include "llm/compute_pool.h"
#include "llm/engine.h"
#include "llm/lora.h"
#include "llm/model.h"
#include "llm/tokenizer.h"

typedef struct local {
  llm_model *model;
  tokenizer *tok;
  compute_pool *pool;
  llm_ctx *ctx;
  chat_family tpl;
  llm_batch_item *items;
  llm_mixed_item *mixed;
} local;

static int l_render(void *self, const llm_request *r, int32_t **ids, size_t *n) {
  local *L = self;
  *ids = NULL;
  *n = 0;
  if (!r->n_messages) return tok_encode(L->tok, r->prompt, strlen(r->prompt), true, true, ids, n);
  /* chat.h: markers as special tokens, contents never parsed */
  chat_msg *cm = xcalloc(r->n_messages, sizeof *cm);
  for (size_t i = 0; i < r->n_messages; i++)
    cm[i] = (chat_msg){.role = r->messages[i].role,
                       .name = r->messages[i].name,
                       .content = r->messages[i].content};
  int rc = chat_encode(L->tok, L->tpl, cm, r->n_messages, true, ids, n);
  mem_free(cm);
  return rc;
}

static const char *l_piece(void *self, int32_t id, size_t *n) {
  local *L = self;
  *n = 0;
  if (id < 0 || id >= tok_n_vocab(L->tok) || tok_is_control(L->tok, id)) return "";
  const char *p = tok_token_bytes(L->tok, id, n);
  if (!p) *n = 0;
  return p ? p : "";
}

static bool l_is_eog(void *self, int32_t id) {
  local *L = self;
  return id >= 0 && id < tok_n_vocab(L->tok) && tok_is_eog(L->tok, id);
}

static const int32_t *l_slot_tokens(void *self, int slot, int *n) {
  local *L = self;
  *n = llm_slot_n_past(L->ctx, slot);
  return llm_slot_tokens(L->ctx, slot);
}

static int l_prepare(void *self, int slot, const int32_t *toks, int n, void *lora, float scale,
                     float *logits, int *n_eval) {
  local *L = self;
  return llm_slot_prepare(L->ctx, slot, toks, n, lora, scale, logits, n_eval);
}

static int l_decode(void *self, const llm_lm_item *it, int n) {
  local *L = self;
  for (int i = 0; i < n; i++)
    L->items[i] = (llm_batch_item){.slot = it[i].slot,
                                   .token = it[i].token,
                                   .lora = it[i].lora,
                                   .lora_scale = it[i].scale,
                                   .logits = it[i].logits};
  return llm_forward_batch(L->ctx, L->items, n);
}

static int l_step(void *self, llm_lm_step *it, int n, int *failed) {
  local *L = self;
  for (int i = 0; i < n; i++)
    L->mixed[i] = (llm_mixed_item){.slot = it[i].slot,
                                   .tokens = it[i].toks,
                                   .n = it[i].n,
                                   .append = it[i].append,
                                   .lora = it[i].lora,
                                   .lora_scale = it[i].scale,
                                   .logits = it[i].logits};
  int rc = llm_forward_mixed(L->ctx, L->mixed, n, failed);
  for (int i = 0; i < n; i++) it[i].n_eval = L->mixed[i].n_evaluated;
  return rc;
}

static int l_lora_load(void *self, const char *path, void **out) {
  local *L = self;
  llm_lora *l = NULL;
  int rc = llm_lora_load(L->model, path, &l);
  *out = l;
  return rc;
}

static void l_lora_free(void *self, void *lora) {
  (void)self;
  llm_lora_destroy(lora);
}

static void l_destroy(void *self) {
  local *L = self;
  if (!L) return;
  llm_ctx_destroy(L->ctx);
  compute_pool_destroy(L->pool);
  tok_destroy(L->tok);
  llm_model_destroy(L->model);
  mem_free(L->items);
  mem_free(L->mixed);
  mem_free(L);
}

int llm_backend_local_new(const llm_local_opts *o, llm_backend **out) {
  *out = NULL;
  if (!o->model_path || !*o->model_path)
    return err_set(MIMIC_EINVAL, "no model given (engine.model or --model)");
  local *L = xcalloc(1, sizeof *L);
  int rc;
  if ((rc = llm_model_load(o->model_path, &L->model))) goto fail;
  if ((rc = tok_load(llm_model_gguf(L->model), &L->tok))) {
    err_prefix(rc, "%s", o->model_path);
    goto fail;
  }
  L->pool = compute_pool_new(o->threads);
  if (!L->pool) {
    rc = err_set(MIMIC_ENOMEM, "cannot start the compute threads");
    goto fail;
  }
  int slots = o->slots > 0 ? o->slots : 4;
  llm_ctx_params cp = {.n_ctx = o->ctx > 0 ? o->ctx : 4096,
                       .n_slots = slots,
                       .n_batch = o->batch > 0 ? o->batch : 512,
                       .pool = L->pool,
                       .kv_type = o->kv_f16 ? LLM_KV_F16 : LLM_KV_F32};
  const llm_hparams *hp = llm_model_hparams(L->model);
  if (hp->n_ctx_train > 0 && cp.n_ctx > hp->n_ctx_train) cp.n_ctx = hp->n_ctx_train;
  if (cp.n_ctx < LLM_ENGINE_MIN_CTX) {
    rc = err_set(MIMIC_EINVAL,
                 "%s: a context of %d positions is too small to generate (at least %d); the "
                 "model's context_length is %d%s",
                 o->model_path, cp.n_ctx, LLM_ENGINE_MIN_CTX, hp->n_ctx_train,
                 o->ctx > 0 && o->ctx < LLM_ENGINE_MIN_CTX ? " and engine.ctx asks for less" : "");
    goto fail;
  }
  if ((rc = llm_ctx_new(L->model, &cp, &L->ctx))) goto fail;
  L->items = xcalloc((size_t)slots, sizeof *L->items);
  L->mixed = xcalloc((size_t)slots, sizeof *L->mixed);
  L->tpl = chat_choose(L->tok, NULL);
  LOG_I("engine",
        "%s: %s, %d layers, vocab %d, %d slots x %d positions (%s KV, %zu MiB each), %d compute "
        "threads, %s template",
        o->model_path, hp->arch_name, hp->n_layer, hp->n_vocab, slots, llm_ctx_n_ctx(L->ctx),
        o->kv_f16 ? "F16" : "F32", llm_ctx_kv_bytes(L->ctx) >> 20, compute_pool_threads(L->pool),
        chat_family_name(L->tpl));
  llm_lm lm = {.self = L,
               .n_vocab = hp->n_vocab,
               .n_ctx = llm_ctx_n_ctx(L->ctx),
               .n_slots = slots,
               .batched = true,
               .render = l_render,
               .piece = l_piece,
               .is_eog = l_is_eog,
               .slot_tokens = l_slot_tokens,
               .prepare = l_prepare,
               .decode_batch = l_decode,
               .step = o->serial_prompts ? NULL : l_step,
               .lora_load = l_lora_load,
               .lora_free = l_lora_free,
               .destroy = l_destroy};
  llm_engine_opts eo = {.batch = cp.n_batch, .queue_max = o->queue_max};
  return llm_engine_new(&lm, &eo, out); /* owns L from here, even on failure */
fail:
  l_destroy(L);
  return rc;
}
