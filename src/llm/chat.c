/* Chat templates (see chat.h). One renderer per family writes the prompt as a sequence of pieces,
 * each either a special marker (<|im_start|>) or plain text; chat_render joins them into a string,
 * chat_encode turns markers into their token ids and encodes the text runs between them with
 * special-token parsing off. */
#include "llm/chat.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

typedef int (*emit_fn)(void *ctx, bool special, const char *s, size_t n);

chat_family chat_detect(const char *tmpl) {
  if (tmpl && strstr(tmpl, "<|im_start|>")) return CHAT_CHATML;
  if (tmpl && strstr(tmpl, "<|start_header_id|>")) return CHAT_LLAMA3;
  LOG_W("chat", "%s: rendering prompts as ChatML",
        tmpl ? "unrecognised chat template" : "the model has no chat template");
  return CHAT_CHATML;
}

const char *chat_family_name(chat_family f) { return f == CHAT_LLAMA3 ? "llama3" : "chatml"; }

static int check_msg(const chat_msg *m, size_t i) {
  const char *r = m->role;
  size_t rl = r ? strlen(r) : 0;
  if (rl == 0 || rl > CHAT_MAX_ROLE)
    return err_set(MIMIC_EINVAL, "chat: message %zu: role must be 1..%d characters", i,
                   CHAT_MAX_ROLE);
  for (size_t k = 0; k < rl; k++)
    if (!((r[k] >= 'a' && r[k] <= 'z') || r[k] == '_'))
      return err_set(MIMIC_EINVAL, "chat: message %zu: role '%s' may hold only a-z and '_'", i, r);
  if (m->name) {
    size_t nl = strlen(m->name);
    if (nl > CHAT_MAX_NAME)
      return err_set(MIMIC_EINVAL, "chat: message %zu: speaker name over %d bytes", i,
                     CHAT_MAX_NAME);
    for (size_t k = 0; k < nl; k++)
      if (m->name[k] == '\n' || m->name[k] == '\r')
        return err_set(MIMIC_EINVAL, "chat: message %zu: speaker name holds a line break", i);
  }
  return 0;
}

static bool is_user(const chat_msg *m) { return strcmp(m->role, "user") == 0; }

static int emit_str(emit_fn emit, void *ctx, bool special, const char *s) {
  return emit(ctx, special, s, strlen(s));
}

/* "name: content" for named user turns, else the content. */
static int emit_content(emit_fn emit, void *ctx, const chat_msg *m, bool trim) {
  const char *c = m->content ? m->content : "";
  size_t n = strlen(c);
  int rc;
  if (trim) {
    while (n && (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r')) c++, n--;
    while (n && (c[n - 1] == ' ' || c[n - 1] == '\t' || c[n - 1] == '\n' || c[n - 1] == '\r')) n--;
  }
  if (m->name && m->name[0] && is_user(m)) {
    if ((rc = emit_str(emit, ctx, false, m->name)) || (rc = emit_str(emit, ctx, false, ": ")))
      return rc;
  }
  return emit(ctx, false, c, n);
}

static int render(chat_family f, const chat_msg *msgs, size_t n, bool gen, emit_fn emit,
                  void *ctx) {
  int rc;
  for (size_t i = 0; i < n; i++)
    if ((rc = check_msg(&msgs[i], i))) return rc;
  for (size_t i = 0; i < n; i++) {
    const chat_msg *m = &msgs[i];
    if (f == CHAT_LLAMA3) {
      if ((rc = emit_str(emit, ctx, true, "<|start_header_id|>")) ||
          (rc = emit_str(emit, ctx, false, m->role)) ||
          (rc = emit_str(emit, ctx, true, "<|end_header_id|>")) ||
          (rc = emit_str(emit, ctx, false, "\n\n")) || (rc = emit_content(emit, ctx, m, true)) ||
          (rc = emit_str(emit, ctx, true, "<|eot_id|>")))
        return rc;
    } else {
      if ((rc = emit_str(emit, ctx, true, "<|im_start|>")) ||
          (rc = emit_str(emit, ctx, false, m->role)) || (rc = emit_str(emit, ctx, false, "\n")) ||
          (rc = emit_content(emit, ctx, m, false)) ||
          (rc = emit_str(emit, ctx, true, "<|im_end|>")) || (rc = emit_str(emit, ctx, false, "\n")))
        return rc;
    }
  }
  if (!gen) return 0;
  if (f == CHAT_LLAMA3)
    return (rc = emit_str(emit, ctx, true, "<|start_header_id|>")) ||
                   (rc = emit_str(emit, ctx, false, "assistant")) ||
                   (rc = emit_str(emit, ctx, true, "<|end_header_id|>"))
               ? rc
               : emit_str(emit, ctx, false, "\n\n");
  return (rc = emit_str(emit, ctx, true, "<|im_start|>"))
             ? rc
             : emit_str(emit, ctx, false, "assistant\n");
}

static int emit_text(void *ctx, bool special, const char *s, size_t n) {
  (void)special;
  return buf_append(ctx, s, n);
}

int chat_render(chat_family f, const chat_msg *msgs, size_t n, bool add_generation_prompt,
                buf *out) {
  return render(f, msgs, n, add_generation_prompt, emit_text, out);
}

typedef struct enc_ctx {
  const tokenizer *t;
  buf text; /* the plain-text run since the last marker */
  int32_t *ids;
  size_t n, cap;
  size_t total; /* bytes rendered so far */
} enc_ctx;

static int push_ids(enc_ctx *e, const int32_t *v, size_t k) {
  if (e->n + k > e->cap) {
    size_t nc = e->cap ? e->cap : 256;
    while (nc < e->n + k) nc *= 2;
    int32_t *p = mem_realloc(e->ids, nc * sizeof *p);
    if (!p) return err_set(MIMIC_ENOMEM, "chat: out of memory");
    e->ids = p;
    e->cap = nc;
  }
  memcpy(e->ids + e->n, v, k * sizeof *v);
  e->n += k;
  return 0;
}

static int flush_text(enc_ctx *e) {
  if (e->text.len == 0) return 0;
  int32_t *v = NULL;
  size_t k = 0;
  int rc = tok_encode(e->t, e->text.data, e->text.len, false, false, &v, &k);
  if (!rc) rc = push_ids(e, v, k);
  mem_free(v);
  buf_reset(&e->text);
  return rc;
}

static int emit_tokens(void *ctx, bool special, const char *s, size_t n) {
  enc_ctx *e = ctx;
  e->total += n;
  if (e->total > TOK_MAX_INPUT)
    return err_set(MIMIC_ERANGE, "chat: the prompt is over %u bytes", TOK_MAX_INPUT);
  if (!special) return buf_append(&e->text, s, n);
  int32_t id = tok_find(e->t, s, n);
  if (id == TOK_NULL)
    return err_set(MIMIC_EUNSUPPORTED, "chat: the vocabulary has no %.*s token for this template",
                   (int)n, s);
  int rc = flush_text(e);
  return rc ? rc : push_ids(e, &id, 1);
}

int chat_encode(const tokenizer *t, chat_family f, const chat_msg *msgs, size_t n,
                bool add_generation_prompt, int32_t **ids, size_t *n_ids) {
  enc_ctx e = {.t = t};
  buf_init(&e.text, 0);
  *ids = NULL;
  *n_ids = 0;
  int rc = 0;
  if (tok_adds_bos(t)) {
    int32_t bos = tok_bos(t);
    if ((rc = push_ids(&e, &bos, 1))) goto out;
  }
  if ((rc = render(f, msgs, n, add_generation_prompt, emit_tokens, &e))) goto out;
  if ((rc = flush_text(&e))) goto out;
  *ids = e.ids;
  *n_ids = e.n;
  e.ids = NULL;
out:
  mem_free(e.ids);
  buf_free(&e.text);
  return rc;
}
