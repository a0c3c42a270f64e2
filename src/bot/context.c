/* Prompt building (see context.h). The budget is spent newest first: the system prompt and the
 * current message are always kept (the current message cut when it alone is too long), then
 * history turns are added from the newest back until the next one would not fit. */
#include "bot/context.h"

#include <string.h>

#include "base/base.h"

int context_estimate_tokens(const char *text, size_t n) {
  (void)text;
  size_t t = (n + 2) / 3;
  return t > (size_t)(LLM_MAX_TOKENS * 100) ? LLM_MAX_TOKENS * 100 : (int)t;
}

static int count(const context_opts *o, const char *s) {
  size_t n = strlen(s);
  return o->count ? o->count(o->count_user, s, n) : context_estimate_tokens(s, n);
}

static int turn_cost(const context_opts *o, const memory_entry *e) {
  int c = CONTEXT_TURN_OVERHEAD + count(o, e->text);
  if (!e->self && e->name && *e->name) c += count(o, e->name);
  return c;
}

static const char *own(context *c, char *s) {
  c->owned_ = xrealloc(c->owned_, (c->n_owned_ + 1) * sizeof *c->owned_);
  c->owned_[c->n_owned_++] = s;
  return s;
}

static void push(context *c, const char *role, const char *name, const char *text) {
  llm_message *m = &c->msgs[c->n++];
  m->role = role;
  m->name = name && *name ? own(c, xstrdup(name)) : NULL;
  m->content = own(c, xstrdup(text));
}

/* Cuts text to about `tokens` tokens' worth of bytes on a UTF-8 boundary (estimate-based: a
 * counting callback is only used to check, not to search). */
static char *cut_to(const char *text, int tokens) {
  size_t n = strlen(text);
  size_t keep = tokens > 0 ? (size_t)tokens * 3 : 0;
  if (keep >= n) return xstrdup(text);
  while (keep > 0 && ((unsigned char)text[keep] & 0xC0) == 0x80) keep--;
  char *s = xalloc(keep + 1);
  memcpy(s, text, keep);
  s[keep] = 0;
  return s;
}

static void add_stop(context *c, const char *name) {
  if (!name || !*name || c->n_stops == CONTEXT_STOPS_MAX) return;
  size_t nl = strlen(name);
  if (nl + 3 > LLM_STOP_MAX_LEN) return;
  buf b;
  buf_init(&b, 0);
  if (buf_printf(&b, "\n%s:", name)) {
    buf_free(&b);
    return;
  }
  for (size_t i = 0; i < c->n_stops; i++)
    if (strcmp(c->stops[i], b.data) == 0) {
      buf_free(&b);
      return;
    }
  c->stops[c->n_stops++] = own(c, buf_steal(&b));
}

int context_build(const context_opts *o, const memory_entry *const *hist, size_t n_hist,
                  const memory_entry *current, context *out) {
  memset(out, 0, sizeof *out);
  if (!current) return err_set(MIMIC_EINVAL, "context: no message to answer");
  if (o->budget_tokens < 16)
    return err_set(MIMIC_EINVAL, "context: a budget of %d tokens is too small (16 at least)",
                   o->budget_tokens);
  const char *sys = o->system_prompt && *o->system_prompt ? o->system_prompt : NULL;
  int used = 0;
  if (sys) used += CONTEXT_TURN_OVERHEAD + count(o, sys);
  int cur = turn_cost(o, current);
  char *cur_text = NULL;
  if (used + cur > o->budget_tokens) {
    /* The message alone overflows: keep the system prompt only when the message still gets half
     * of the budget, and cut the message to what is left. */
    if (sys && o->budget_tokens - used < o->budget_tokens / 2) {
      sys = NULL;
      used = 0;
    }
    int room = o->budget_tokens - used - CONTEXT_TURN_OVERHEAD -
               (current->self ? 0 : count(o, current->name ? current->name : ""));
    cur_text = cut_to(current->text, room);
    out->truncated = true;
    memory_entry tmp = *current;
    tmp.text = cur_text;
    cur = turn_cost(o, &tmp);
  }
  used += cur;

  /* Background knowledge: with the system prompt, when it fits beside the current message. */
  char *sys_bg = NULL;
  if (o->background && *o->background && !out->truncated) {
    int bg = count(o, o->background) + (sys ? 1 : CONTEXT_TURN_OVERHEAD);
    if (used + bg <= o->budget_tokens) {
      used += bg;
      buf sb;
      buf_init(&sb, 0);
      if ((sys && (buf_puts(&sb, sys) || buf_puts(&sb, "\n\n"))) || buf_puts(&sb, o->background)) {
        buf_free(&sb);
        used -= bg;
        out->background_dropped = true;
      } else {
        sys_bg = buf_steal(&sb);
        sys = sys_bg;
      }
    } else {
      out->background_dropped = true;
    }
  } else if (o->background && *o->background) {
    out->background_dropped = true;
  }

  /* History from the newest back. */
  size_t max = o->max_messages > 0 ? (size_t)o->max_messages : 0;
  size_t first = n_hist; /* index of the oldest history turn kept */
  size_t kept = 0;
  while (first > 0) {
    const memory_entry *e = hist[first - 1];
    if (e->id && e->id == current->id) {
      first--;
      continue;
    }
    if (kept == max) break;
    int c = turn_cost(o, e);
    if (used + c > o->budget_tokens) break;
    used += c;
    kept++;
    first--;
  }
  size_t total_hist = 0;
  for (size_t i = 0; i < n_hist; i++)
    if (!(hist[i]->id && hist[i]->id == current->id)) total_hist++;
  out->dropped = total_hist - kept;

  out->msgs = xcalloc(kept + 2, sizeof *out->msgs);
  if (sys) push(out, "system", NULL, sys);
  for (size_t i = first; i < n_hist; i++) {
    const memory_entry *e = hist[i];
    if (e->id && e->id == current->id) continue;
    if (e->self)
      push(out, "assistant", NULL, e->text);
    else {
      push(out, "user", e->name, e->text);
      add_stop(out, e->name);
    }
  }
  push(out, current->self ? "assistant" : "user", current->self ? NULL : current->name,
       cur_text ? cur_text : current->text);
  if (!current->self) add_stop(out, current->name);
  mem_free(cur_text);
  mem_free(sys_bg);
  out->tokens = used;
  return 0;
}

void context_free(context *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n_owned_; i++) mem_free(c->owned_[i]);
  mem_free(c->owned_);
  mem_free(c->msgs);
  memset(c, 0, sizeof *c);
}
