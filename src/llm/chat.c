/* Chat templates (see chat.h). One renderer per family writes the prompt as a sequence of pieces:
 * plain text, a required marker (<|im_start|>), a soft marker (a token when the vocabulary has
 * it, else text: Mistral's [INST]), the vocabulary's EOS (plain rendering only) or a cut (where a
 * generation prompt ends, for families whose prompt ends in text). chat_render joins them into a
 * string; chat_encode turns markers into their token ids and encodes the text runs between them
 * with special-token parsing off. */
#include "llm/chat.h"

#include <string.h>

#include "base/alloc.h"
#include "base/log.h"

typedef enum { P_TEXT, P_MARK, P_SOFT, P_EOS, P_CUT } piece;

typedef int (*emit_fn)(void *ctx, piece k, const char *s, size_t n);

chat_family chat_detect(const char *tmpl) {
  if (!tmpl) return CHAT_PLAIN;
  if (strstr(tmpl, "<|im_start|>")) return CHAT_CHATML;
  if (strstr(tmpl, "<|start_header_id|>")) return CHAT_LLAMA3;
  if (strstr(tmpl, "<start_of_turn>")) return CHAT_GEMMA;
  if (strstr(tmpl, "<|user|>")) return CHAT_PHI3;
  if (strstr(tmpl, "[INST]")) return strstr(tmpl, "<<SYS>>") ? CHAT_LLAMA2 : CHAT_MISTRAL;
  return CHAT_PLAIN;
}

const char *chat_jinja(chat_family f) {
  static const char chatml[] = "{% for message in messages %}{{'<|im_start|>' + "
                               "message['role'] + '\\n' + message['content'] + "
                               "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt "
                               "%}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  return f == CHAT_CHATML ? chatml : NULL;
}

const char *chat_family_name(chat_family f) {
  switch (f) {
  case CHAT_CHATML: return "chatml";
  case CHAT_LLAMA3: return "llama3";
  case CHAT_LLAMA2: return "llama2";
  case CHAT_MISTRAL: return "mistral";
  case CHAT_GEMMA: return "gemma";
  case CHAT_PHI3: return "phi3";
  case CHAT_PLAIN: return "plain";
  }
  return "?";
}

/* The special tokens a family cannot render without (soft markers are not listed). */
static const char *const *required(chat_family f) {
  static const char *const chatml[] = {"<|im_start|>", "<|im_end|>", NULL};
  static const char *const llama3[] = {"<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
                                       NULL};
  static const char *const llama2[] = {"<s>", "</s>", NULL};
  static const char *const mistral[] = {"</s>", NULL};
  static const char *const gemma[] = {"<start_of_turn>", "<end_of_turn>", NULL};
  static const char *const phi3[] = {"<|user|>", "<|assistant|>", "<|end|>", NULL};
  static const char *const none[] = {NULL};
  switch (f) {
  case CHAT_CHATML: return chatml;
  case CHAT_LLAMA3: return llama3;
  case CHAT_LLAMA2: return llama2;
  case CHAT_MISTRAL: return mistral;
  case CHAT_GEMMA: return gemma;
  case CHAT_PHI3: return phi3;
  case CHAT_PLAIN: break;
  }
  return none;
}

bool chat_supported(const tokenizer *t, chat_family f) {
  for (const char *const *s = required(f); *s; s++)
    if (tok_find(t, *s, strlen(*s)) == TOK_NULL) return false;
  return true;
}

chat_family chat_choose(const tokenizer *t, const char **why) {
  static const chat_family by_tokens[] = {CHAT_CHATML, CHAT_LLAMA3, CHAT_GEMMA, CHAT_PHI3};
  const char *tmpl = tok_chat_template(t);
  chat_family f = chat_detect(tmpl);
  const char *w;
  if (f != CHAT_PLAIN && chat_supported(t, f)) {
    w = "from tokenizer.chat_template";
    goto out;
  }
  for (size_t i = 0; i < sizeof by_tokens / sizeof by_tokens[0]; i++)
    if (chat_supported(t, by_tokens[i])) {
      f = by_tokens[i];
      w = tmpl ? "the chat template is not one mimic knows; from the vocabulary's special tokens"
               : "no chat template; from the vocabulary's special tokens";
      goto out;
    }
  f = CHAT_PLAIN;
  w = tmpl ? "the chat template is not one mimic knows and the vocabulary has no chat tokens"
           : "no chat template and no chat tokens in the vocabulary";
out:
  LOG_I("chat", "chat template: %s (%s)", chat_family_name(f), w);
  if (why) *why = w;
  return f;
}

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

static bool is_role(const chat_msg *m, const char *role) { return strcmp(m->role, role) == 0; }

/* The emitter of one render: the callback, its context, and the first error (later pieces are
 * skipped once one failed, so renderers read as straight lines). */
typedef struct emitter {
  emit_fn fn;
  void *ctx;
  int rc;
} emitter;

static void put(emitter *o, piece k, const char *s, size_t n) {
  if (!o->rc) o->rc = o->fn(o->ctx, k, s, n);
}
static void text(emitter *o, const char *s) { put(o, P_TEXT, s, strlen(s)); }
static void mark(emitter *o, const char *s) { put(o, P_MARK, s, strlen(s)); }
static void soft(emitter *o, const char *s) { put(o, P_SOFT, s, strlen(s)); }

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* "name: content" for named user turns, else the content; trimmed when trim. */
static void content(emitter *o, const chat_msg *m, bool trim) {
  const char *c = m->content ? m->content : "";
  size_t n = strlen(c);
  if (trim) {
    while (n && is_space(*c)) c++, n--;
    while (n && is_space(c[n - 1])) n--;
  }
  if (m->name && m->name[0] && is_role(m, "user")) {
    text(o, m->name);
    text(o, ": ");
  }
  put(o, P_TEXT, c, n);
}

static void r_chatml(emitter *o, const chat_msg *m, size_t n, bool gen) {
  for (size_t i = 0; i < n; i++) {
    mark(o, "<|im_start|>");
    text(o, m[i].role);
    text(o, "\n");
    content(o, &m[i], false);
    mark(o, "<|im_end|>");
    text(o, "\n");
  }
  if (gen) {
    mark(o, "<|im_start|>");
    text(o, "assistant\n");
  }
}

static void r_llama3(emitter *o, const chat_msg *m, size_t n, bool gen) {
  for (size_t i = 0; i < n; i++) {
    mark(o, "<|start_header_id|>");
    text(o, m[i].role);
    mark(o, "<|end_header_id|>");
    text(o, "\n\n");
    content(o, &m[i], true);
    mark(o, "<|eot_id|>");
  }
  if (gen) {
    mark(o, "<|start_header_id|>");
    text(o, "assistant");
    mark(o, "<|end_header_id|>");
    text(o, "\n\n");
  }
}

/* Llama-2 (Meta's template: <<SYS>> block, BOS before every later [INST], contents stripped, a
 * space around replies) and Mistral (system text opens the user turn, nothing stripped). A turn
 * left open by a trailing system message is closed with [/INST]. The prompt ends at [/INST]. */
static void r_inst(emitter *o, const chat_msg *m, size_t n, bool llama2) {
  bool open = false, first = true;
  for (size_t i = 0; i < n; i++) {
    bool sys = is_role(&m[i], "system"), user = is_role(&m[i], "user");
    if ((sys || user) && !open) {
      if (!first && llama2) mark(o, "<s>");
      soft(o, "[INST]");
      text(o, " ");
      open = true;
      first = false;
    }
    if (sys) {
      if (llama2) text(o, "<<SYS>>\n");
      content(o, &m[i], llama2);
      text(o, llama2 ? "\n<</SYS>>\n\n" : "\n\n");
      continue;
    }
    if (!user && open) { /* a reply right after a system message */
      text(o, " ");
      soft(o, "[/INST]");
      put(o, P_CUT, "", 0);
      open = false;
    }
    if (user) {
      content(o, &m[i], llama2);
      text(o, " ");
      soft(o, "[/INST]");
      put(o, P_CUT, "", 0);
      open = false;
      continue;
    }
    if (llama2) text(o, " ");
    content(o, &m[i], llama2);
    if (llama2) text(o, " ");
    mark(o, "</s>");
    first = false;
  }
  if (open) {
    text(o, " ");
    soft(o, "[/INST]");
    put(o, P_CUT, "", 0);
  }
}

/* Gemma: no system role. A system message's text opens the next user turn, or is a user turn of
 * its own when no user message follows it. "model" for the assistant. */
static void r_gemma(emitter *o, const chat_msg *m, size_t n, bool gen) {
  const chat_msg *sys = NULL;
  for (size_t i = 0; i <= n; i++) {
    bool user = i < n && is_role(&m[i], "user");
    if (sys && !user) { /* a system message with no user turn after it */
      mark(o, "<start_of_turn>");
      text(o, "user\n");
      content(o, sys, true);
      mark(o, "<end_of_turn>");
      text(o, "\n");
      sys = NULL;
    }
    if (i == n) break;
    if (is_role(&m[i], "system")) {
      sys = &m[i];
      continue;
    }
    mark(o, "<start_of_turn>");
    text(o, is_role(&m[i], "assistant") ? "model" : m[i].role);
    text(o, "\n");
    if (sys) {
      content(o, sys, true);
      text(o, "\n\n");
      sys = NULL;
    }
    content(o, &m[i], true);
    mark(o, "<end_of_turn>");
    text(o, "\n");
  }
  if (gen) {
    mark(o, "<start_of_turn>");
    text(o, "model\n");
  }
}

static void r_phi3(emitter *o, const chat_msg *m, size_t n, bool gen) {
  for (size_t i = 0; i < n; i++) {
    char tag[CHAT_MAX_ROLE + 5];
    size_t rl = strlen(m[i].role);
    memcpy(tag, "<|", 2);
    memcpy(tag + 2, m[i].role, rl);
    memcpy(tag + 2 + rl, "|>", 3);
    if (is_role(&m[i], "user") || is_role(&m[i], "assistant"))
      mark(o, tag);
    else
      soft(o, tag); /* <|system|> is in Phi-3's vocabulary; other roles may not be */
    text(o, "\n");
    content(o, &m[i], false);
    mark(o, "<|end|>");
    text(o, "\n");
  }
  if (gen) {
    mark(o, "<|assistant|>");
    text(o, "\n");
  }
}

/* "role: text" lines; an assistant turn ends with the vocabulary's EOS so a model trained on it
 * learns to stop. The prompt ends at "assistant:". */
static void r_plain(emitter *o, const chat_msg *m, size_t n, bool gen) {
  for (size_t i = 0; i < n; i++) {
    text(o, m[i].role);
    text(o, ":");
    if (is_role(&m[i], "assistant")) put(o, P_CUT, "", 0);
    text(o, " ");
    content(o, &m[i], false);
    if (is_role(&m[i], "assistant")) put(o, P_EOS, "", 0);
    text(o, "\n");
  }
  if (gen) {
    text(o, "assistant:");
    put(o, P_CUT, "", 0);
  }
}

static int render(chat_family f, const chat_msg *msgs, size_t n, bool gen, emit_fn emit,
                  void *ctx) {
  int rc;
  for (size_t i = 0; i < n; i++)
    if ((rc = check_msg(&msgs[i], i))) return rc;
  emitter o = {emit, ctx, 0};
  switch (f) {
  case CHAT_CHATML: r_chatml(&o, msgs, n, gen); break;
  case CHAT_LLAMA3: r_llama3(&o, msgs, n, gen); break;
  case CHAT_LLAMA2: r_inst(&o, msgs, n, true); break;
  case CHAT_MISTRAL: r_inst(&o, msgs, n, false); break;
  case CHAT_GEMMA: r_gemma(&o, msgs, n, gen); break;
  case CHAT_PHI3: r_phi3(&o, msgs, n, gen); break;
  case CHAT_PLAIN: r_plain(&o, msgs, n, gen); break;
  default: return err_set(MIMIC_EINVAL, "chat: unknown template family %d", (int)f);
  }
  return o.rc;
}

static int emit_text(void *ctx, piece k, const char *s, size_t n) {
  if (k == P_EOS || k == P_CUT) return 0;
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

static int emit_tokens(void *ctx, piece k, const char *s, size_t n) {
  enc_ctx *e = ctx;
  e->total += n;
  if (e->total > TOK_MAX_INPUT)
    return err_set(MIMIC_ERANGE, "chat: the prompt is over %u bytes", TOK_MAX_INPUT);
  int32_t id = TOK_NULL;
  switch (k) {
  case P_TEXT: return buf_append(&e->text, s, n);
  case P_CUT: return flush_text(e);
  case P_EOS:
    id = tok_eos(e->t);
    if (id == TOK_NULL) return 0;
    break;
  case P_SOFT:
    id = tok_find(e->t, s, n);
    if (id == TOK_NULL) return buf_append(&e->text, s, n);
    break;
  case P_MARK:
    id = tok_find(e->t, s, n);
    if (id == TOK_NULL)
      return err_set(MIMIC_EUNSUPPORTED, "chat: the vocabulary has no %.*s token for this template",
                     (int)n, s);
    break;
  }
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
