/* A vision-language model in one object: the text model, its tokenizer, the mmproj, a compute pool
 * and one context; vis_describe turns an image and a prompt into a description. This is the
 * entry point the bot uses. Not here: image decoding, caching descriptions. */
#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "base/str.h"
#include "llm/sampler.h"
#include "vision/vision_int.h"

#define VIS_DESC_MAX_BYTES (64u << 10) /* cap on a description's text */

struct vis_vlm {
  llm_model *text;
  tokenizer *tok;
  vis_model *mm;
  compute_pool *pool;
  llm_ctx *ctx;
  vis_vlm_params p;
  pthread_mutex_t mu;
  atomic_bool cancel; /* vis_vlm_cancel: every description from now on stops */
};

int vis_vlm_open(const char *model_path, const char *mmproj_path, const vis_vlm_params *p,
                 vis_vlm **out) {
  *out = NULL;
  vis_vlm *v = xcalloc(1, sizeof *v);
  if (p) v->p = *p;
  if (v->p.max_tokens <= 0) v->p.max_tokens = 160;
  if (v->p.n_ctx <= 0) v->p.n_ctx = 4096;
  pthread_mutex_init(&v->mu, NULL);
  int rc;
  if ((rc = llm_model_load(model_path, &v->text)) ||
      (rc = tok_load(llm_model_gguf(v->text), &v->tok)) ||
      (rc = vis_model_load(mmproj_path, &v->mm)) || (rc = vis_model_check_text(v->mm, v->text)))
    goto fail;
  int n_ctx = v->p.n_ctx;
  const llm_hparams *hp = llm_model_hparams(v->text);
  if (n_ctx > hp->n_ctx_train && hp->n_ctx_train > 0) n_ctx = hp->n_ctx_train;
  v->p.n_ctx = n_ctx;
  v->pool = compute_pool_new(v->p.n_threads);
  llm_ctx_params cp = {.n_ctx = n_ctx, .n_slots = 1, .n_batch = 512, .pool = v->pool};
  if ((rc = llm_ctx_new(v->text, &cp, &v->ctx))) goto fail;
  *out = v;
  return 0;
fail:
  vis_vlm_close(v);
  return rc;
}

void vis_vlm_close(vis_vlm *v) {
  if (!v) return;
  llm_ctx_destroy(v->ctx);
  compute_pool_destroy(v->pool);
  vis_model_destroy(v->mm);
  tok_destroy(v->tok);
  llm_model_destroy(v->text);
  pthread_mutex_destroy(&v->mu);
  mem_free(v);
}

void vis_vlm_cancel(vis_vlm *v) {
  if (v) atomic_store(&v->cancel, true);
}

static int cancelled(void) {
  return err_set(MIMIC_ECANCELLED, "the image description was cancelled");
}

const vis_model *vis_vlm_mmproj(const vis_vlm *v) { return v->mm; }
const llm_model *vis_vlm_text(const vis_vlm *v) { return v->text; }

static int describe_locked(vis_vlm *v, const vis_image *img, const char *prompt, vis_piece_fn piece,
                           void *user, char **out) {
  float *embd = NULL, *logits = NULL;
  int n_rows = 0, n = 0, rc;
  int32_t *ids = NULL;
  char *before = NULL, *after = NULL;
  llm_sampler *smp = NULL;
  vis_tiles layout = {0};
  buf text;
  buf_init(&text, VIS_DESC_MAX_BYTES);
  if ((rc = vis__embed(v->mm, v->pool, img, !v->p.low_detail, &v->cancel, &embd, &n_rows, &layout)))
    goto out;
  if ((rc = vis_prompt_frame(v->tok, &before, &after))) goto out;
  if ((rc = vis_prompt_tokens(v->tok, v->mm, &layout, before,
                              prompt ? prompt : "Describe this image.", after, &ids, &n)))
    goto out;
  if (n + 1 > v->p.n_ctx) {
    rc = err_set(MIMIC_ERANGE,
                 "the image takes %d positions with its prompt, more than the context of %d", n,
                 v->p.n_ctx);
    goto out;
  }
  const llm_hparams *hp = llm_model_hparams(v->text);
  logits = mem_alloc((size_t)hp->n_vocab * sizeof *logits);
  if (!logits) {
    rc = err_set(MIMIC_ENOMEM, "out of memory for the logits");
    goto out;
  }
  llm_slot_clear(v->ctx, 0);
  if (atomic_load(&v->cancel)) {
    rc = cancelled();
    goto out;
  }
  if ((rc = vis_prompt_eval(v->ctx, 0, ids, n, embd, n_rows, logits, LLM_LOGITS_LAST))) goto out;
  llm_sampling sp;
  llm_sampling_default(&sp);
  sp.temperature = v->p.temp;
  sp.seed = v->p.seed;
  sp.repeat_penalty = 1.0f; /* the defaults' penalty window would span the image's positions */
  sp.repeat_last_n = 0;
  if ((rc = llm_sampler_new(&sp, hp->n_vocab, &smp))) goto out;
  tok_decoder dec;
  tok_decoder_init(&dec, v->tok, TOK_DEC_DROP_INVALID);
  int pos = n;
  for (int i = 0; i < v->p.max_tokens && pos < v->p.n_ctx; i++) {
    int32_t id = llm_sampler_sample(smp, logits);
    if (tok_is_eog(v->tok, id)) break;
    llm_sampler_accept(smp, id);
    size_t before_len = text.len;
    if ((rc = tok_decoder_push(&dec, id, &text))) goto out;
    if (piece && text.len > before_len &&
        piece(user, text.data + before_len, text.len - before_len))
      break;
    if (i + 1 == v->p.max_tokens || pos + 1 >= v->p.n_ctx) break;
    if (atomic_load(&v->cancel)) {
      rc = cancelled();
      goto out;
    }
    if ((rc = llm_forward(v->ctx, 0, &id, 1, pos, NULL, 0.0f, logits, LLM_LOGITS_LAST))) goto out;
    pos++;
  }
  tok_decoder_drop(&dec);
  char *s = buf_steal(&text);
  str_trim(s);
  *out = s;
out:
  buf_free(&text);
  llm_sampler_destroy(smp);
  mem_free(logits);
  mem_free(ids);
  mem_free(before);
  mem_free(after);
  mem_free(embd);
  vis_tiles_free(&layout);
  return rc;
}

int vis_describe_stream(vis_vlm *v, const vis_image *img, const char *prompt, vis_piece_fn piece,
                        void *user, char **out) {
  *out = NULL;
  pthread_mutex_lock(&v->mu);
  int rc = describe_locked(v, img, prompt, piece, user, out);
  pthread_mutex_unlock(&v->mu);
  return rc;
}

int vis_describe(vis_vlm *v, const vis_image *img, const char *prompt, char **out) {
  return vis_describe_stream(v, img, prompt, NULL, NULL, out);
}
