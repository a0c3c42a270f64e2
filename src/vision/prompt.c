/* The image in the prompt: the token layout of llama.cpp's idefics3 template around the image's
 * rows, the chat frame of the family, and the evaluation of such a prompt in the text model (token
 * runs through llm_forward, image rows through llm_forward_embd). Not here: the encoder. */
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/buf.h"
#include "llm/chat.h"
#include "vision/vision_int.h"

#define VIS_MEDIA_MARKER "<__media__>"

typedef struct seq {
  int32_t *ids;
  int n, cap;
} seq;

static void seq_push(seq *s, int32_t id) {
  if (s->n == s->cap) {
    s->cap = s->cap ? s->cap * 2 : 256;
    s->ids = xrealloc(s->ids, (size_t)s->cap * sizeof *s->ids);
  }
  s->ids[s->n++] = id;
}

static int seq_text(seq *s, const tokenizer *t, const char *text, bool add_bos, bool special) {
  if (!text || (!*text && !add_bos)) return 0;
  int32_t *ids = NULL;
  size_t n = 0;
  int rc = tok_encode(t, text, strlen(text), add_bos, special, &ids, &n);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) seq_push(s, ids[i]);
  mem_free(ids);
  return 0;
}

static int find_special(const tokenizer *t, const char *text, int32_t *id) {
  *id = tok_find(t, text, strlen(text));
  if (*id == TOK_NULL)
    return err_set(MIMIC_EUNSUPPORTED,
                   "the text model's vocabulary has no %s token: it is not a SmolVLM/idefics3 "
                   "model",
                   text);
  return 0;
}

int vis_prompt_tokens(const tokenizer *t, const vis_model *m, const vis_tiles *layout,
                      const char *before, const char *user, const char *after, int32_t **ids,
                      int *n) {
  *ids = NULL;
  *n = 0;
  seq s = {0};
  int rc;
  int32_t fake, global;
  const int rows_per_tile = m->hp.n_tile_rows;
  if ((rc = find_special(t, "<fake_token_around_image>", &fake)) ||
      (rc = find_special(t, "<global-img>", &global)))
    goto out;
  if ((rc = seq_text(&s, t, before, true, true))) goto out;
  for (int r = 1; r <= layout->rows; r++) {
    for (int c = 1; c <= layout->cols; c++) {
      char name[48];
      int32_t rc_id;
      snprintf(name, sizeof name, "<row_%d_col_%d>", r, c);
      if ((rc = find_special(t, name, &rc_id))) goto out;
      seq_push(&s, fake);
      seq_push(&s, rc_id);
      for (int i = 0; i < rows_per_tile; i++) seq_push(&s, VIS_EMBD_ROW);
    }
    if (r < layout->rows && (rc = seq_text(&s, t, "\n", false, false))) goto out;
  }
  if (layout->rows && (rc = seq_text(&s, t, "\n\n", false, false))) goto out;
  seq_push(&s, fake);
  seq_push(&s, global);
  for (int i = 0; i < rows_per_tile; i++) seq_push(&s, VIS_EMBD_ROW);
  seq_push(&s, fake);
  if ((rc = seq_text(&s, t, user, false, false)) || (rc = seq_text(&s, t, after, false, true)))
    goto out;
  *ids = s.ids;
  *n = s.n;
  s.ids = NULL;
out:
  mem_free(s.ids);
  return rc;
}

int vis_prompt_frame(const tokenizer *t, char **before, char **after) {
  *before = *after = NULL;
  if (tok_find(t, "<end_of_utterance>", strlen("<end_of_utterance>")) != TOK_NULL) {
    /* SmolVLM's chat template: "<|im_start|>User:<image>TEXT<end_of_utterance>\nAssistant:". */
    *before = xstrdup("<|im_start|>User:");
    *after = xstrdup("<end_of_utterance>\nAssistant:");
    return 0;
  }
  chat_family f = chat_choose(t, NULL);
  chat_msg msg = {.role = "user", .content = VIS_MEDIA_MARKER};
  buf b;
  buf_init(&b, 1 << 16);
  int rc = chat_render(f, &msg, 1, true, &b);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  char *text = buf_steal(&b);
  char *mark = strstr(text, VIS_MEDIA_MARKER);
  MIMIC_ASSERT(mark); /* the renderer writes the content it was given */
  *after = xstrdup(mark + strlen(VIS_MEDIA_MARKER));
  *mark = '\0';
  *before = text;
  return 0;
}

int vis_prompt_eval(llm_ctx *c, int slot, const int32_t *ids, int n, const float *embd,
                    int n_embd_rows, float *logits, llm_logits_mode mode) {
  const llm_hparams *hp = llm_model_hparams(llm_ctx_model(c));
  size_t V = (size_t)hp->n_vocab, E = (size_t)hp->n_embd;
  int row = 0, rc = 0;
  for (int pos = 0; pos < n && !rc;) {
    bool img = ids[pos] == VIS_EMBD_ROW;
    int end = pos;
    while (end < n && (ids[end] == VIS_EMBD_ROW) == img) end++;
    int len = end - pos;
    float *lg = NULL;
    llm_logits_mode m2 = LLM_LOGITS_NONE;
    if (mode == LLM_LOGITS_ALL) {
      lg = logits + (size_t)pos * V;
      m2 = LLM_LOGITS_ALL;
    } else if (mode == LLM_LOGITS_LAST && end == n) {
      lg = logits;
      m2 = LLM_LOGITS_LAST;
    }
    if (img) {
      if (row + len > n_embd_rows)
        return err_set(MIMIC_EINVAL, "the prompt has more image positions than the %d image rows",
                       n_embd_rows);
      rc = llm_forward_embd(c, slot, embd + (size_t)row * E, len, pos, NULL, 0.0f, lg, m2);
      row += len;
    } else {
      rc = llm_forward(c, slot, ids + pos, len, pos, NULL, 0.0f, lg, m2);
    }
    pos = end;
  }
  return rc;
}
