/* The dataset filters and the rendering of Discord markup into what people see: which messages may
 * enter a dataset at all (no bots, webhooks, excluded or opted-out people, system messages or
 * link-only messages), and mentions and custom emoji turned into learnable text. Everything else in
 * a message is kept exactly. */
#include <string.h>

#include "collect/collect_int.h"

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

static size_t url_len(const char *p) {
  if (!str_starts_with(p, "http://") && !str_starts_with(p, "https://")) return 0;
  size_t n = 0;
  while (p[n] && !is_space(p[n])) n++;
  return n;
}

bool collect_is_link_only(const char *content) {
  const char *p = content ? content : "";
  for (;;) {
    while (is_space(*p)) p++;
    if (!*p) return true;
    size_t n = url_len(p);
    if (p[0] == '<' && (n = url_len(p + 1)) > 0) n++; /* <https://...> (embed suppressed) */
    if (!n) return false;
    p += n;
  }
}

int collect_filter(const store_msg *m, uint32_t author_flags, bool require_consent) {
  if (m->author_bot || (m->flags & STORE_MSG_WEBHOOK) || m->webhook_id) return COLLECT_DROP_BOT;
  if (author_flags & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) return COLLECT_DROP_PRIVACY;
  if (require_consent && !(author_flags & STORE_FLAG_OPTED_IN)) return COLLECT_DROP_PRIVACY;
  if (!collect_msg_is_conversational(m->type)) return COLLECT_DROP_SYSTEM;
  if (collect_is_link_only(m->content)) return COLLECT_DROP_EMPTY;
  return COLLECT_KEEP;
}

/* Parses a decimal id of at most 20 digits at p; returns digits consumed (0 if none). */
static size_t parse_id(const char *p, uint64_t *id) {
  size_t n = 0;
  uint64_t v = 0;
  while (p[n] >= '0' && p[n] <= '9' && n < 20) {
    v = v * 10 + (uint64_t)(p[n] - '0');
    n++;
  }
  *id = v;
  return n;
}

int collect_render(const char *content, collect_name_fn names, void *user, buf *out) {
  buf_reset(out);
  const char *p = content ? content : "";
  const char *lit = p; /* start of the pending literal run */
  while (*p) {
    if (*p != '<') {
      p++;
      continue;
    }
    const char *q = p + 1;
    char kind = 0; /* 'u' user, 'c' channel, 'r' role, 'e' emoji */
    const char *ename = NULL;
    size_t elen = 0;
    uint64_t id = 0;
    if (q[0] == '@' && q[1] == '&') {
      kind = 'r';
      q += 2;
    } else if (q[0] == '@') {
      kind = 'u';
      q += 1 + (q[1] == '!');
    } else if (q[0] == '#') {
      kind = 'c';
      q += 1;
    } else if (q[0] == ':' || (q[0] == 'a' && q[1] == ':')) {
      kind = 'e';
      q += q[0] == 'a' ? 2 : 1;
      ename = q;
      while (*q && *q != ':' && *q != '>' && !is_space(*q) && q - ename < 64) q++;
      elen = (size_t)(q - ename);
      if (*q != ':' || elen == 0)
        kind = 0;
      else
        q++;
    }
    size_t nd = kind ? parse_id(q, &id) : 0;
    if (!kind || !nd || q[nd] != '>') {
      p++;
      continue;
    }
    if (buf_append(out, lit, (size_t)(p - lit))) goto range;
    int rc = 0;
    switch (kind) {
    case 'u': {
      const char *n = names ? names('u', id, user) : NULL;
      rc = buf_printf(out, "@%s", n ? n : "unknown-user");
      break;
    }
    case 'c': {
      const char *n = names ? names('c', id, user) : NULL;
      rc = buf_printf(out, "#%s", n && *n ? n : "unknown-channel");
      break;
    }
    case 'r': rc = buf_puts(out, "@role"); break;
    default: rc = buf_putc(out, ':') || buf_append(out, ename, elen) || buf_putc(out, ':'); break;
    }
    if (rc) goto range;
    p = q + nd + 1;
    lit = p;
  }
  if (buf_append(out, lit, (size_t)(p - lit))) goto range;
  if (!out->data && buf_puts(out, "")) goto range;
  return 0;
range:
  return err_set(MIMIC_ERANGE, "rendered message longer than %zu bytes", out->limit);
}
