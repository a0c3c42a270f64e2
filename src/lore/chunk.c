/* Chunkers for prose (see lore.h): Markdown split at headings, then paragraphs, packed into
 * passages of about LORE_CHUNK_TARGET bytes with LORE_OVERLAP bytes of overlap; plain text the same
 * way without headings; JSON lines of {"title","text"}. Not here: World Info books (book.c). */
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "lore/lore_int.h"

void lore_chunks_free(lore_chunks *c) {
  if (!c) return;
  for (size_t i = 0; i < c->n; i++) lore__chunk_clear(&c->v[i]);
  mem_free(c->v);
  memset(c, 0, sizeof *c);
}

void lore__chunk_clear(lore_chunk *c) {
  mem_free(c->title);
  mem_free(c->text);
  mem_free(c->keys);
  mem_free(c->keys2);
  memset(c, 0, sizeof *c);
}

lore_chunk *lore__chunk_push(lore_chunks *c) {
  if (c->n == c->cap) {
    c->cap = c->cap ? c->cap * 2 : 16;
    c->v = xrealloc(c->v, c->cap * sizeof *c->v);
  }
  lore_chunk *k = &c->v[c->n++];
  memset(k, 0, sizeof *k);
  k->enabled = true;
  k->order = 100;
  k->depth = 4;
  return k;
}

int lore__count(lore_count_fn count, void *user, const char *text) {
  size_t n = strlen(text);
  if (count) return count(user, text, n);
  return (int)((n + 2) / 3 > 100000000 ? 100000000 : (n + 2) / 3);
}

lore_item *lore__item_push(lore_items *l, int64_t id, const char *source, const char *scope,
                           const char *title, const char *text) {
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  lore_item *it = &l->v[l->n++];
  memset(it, 0, sizeof *it);
  it->id = id;
  it->source = xstrdup(source ? source : "");
  it->scope = xstrdup(scope ? scope : "");
  it->title = xstrdup(title ? title : "");
  it->text = xstrdup(text ? text : "");
  return it;
}

void lore_items_free(lore_items *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    mem_free(l->v[i].source);
    mem_free(l->v[i].scope);
    mem_free(l->v[i].title);
    mem_free(l->v[i].text);
  }
  mem_free(l->v);
  memset(l, 0, sizeof *l);
}

int lore__check_text(const char *name, const char *t, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)t[i];
    if (c == 0)
      return err_set(MIMIC_EFORMAT,
                     "%s: not a text file (a NUL byte at offset %zu): binary data is "
                     "not lore",
                     name, i);
    if (c < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    int l = utf8_decode(t + i, n - i, &cp);
    if (l < 0)
      return err_set(MIMIC_EFORMAT,
                     "%s: not valid UTF-8 at byte %zu; save the file as UTF-8 and add it again",
                     name, i);
    i += (size_t)l;
  }
  return 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* Trims white space at both ends of [*p, *p + *n). */
static void trim(const char **p, size_t *n) {
  while (*n && is_space(**p)) (*p)++, (*n)--;
  while (*n && is_space((*p)[*n - 1])) (*n)--;
}

/* Where to cut s[0..n) (n > limit) at or before limit: the last sentence end or line break in the
 * second half, else the last space there, else a UTF-8 boundary. */
static size_t cut_point(const char *s, size_t n, size_t limit) {
  (void)n;
  size_t lo = limit / 2;
  for (size_t i = limit; i > lo; i--)
    if ((s[i - 1] == '.' || s[i - 1] == '!' || s[i - 1] == '?' || s[i - 1] == '\n') &&
        is_space(s[i]))
      return i;
  for (size_t i = limit; i > lo; i--)
    if (is_space(s[i])) return i;
  size_t k = utf8_floor(s, n, limit);
  return k ? k : limit;
}

/* Packs text into passages: paragraphs (split at blank lines, long ones cut) are joined until the
 * next would pass LORE_CHUNK_TARGET; each passage after the first of a section starts with the
 * tail of the one before (LORE_OVERLAP bytes, from a word start). */
typedef struct packer {
  lore_chunks *out;
  const char *title;
  buf cur;
  bool has_new; /* cur holds text beyond the carried overlap */
} packer;

static void emit(packer *pk) {
  if (!pk->has_new || pk->cur.len == 0) return;
  lore_chunk *c = lore__chunk_push(pk->out);
  c->title = xstrdup(pk->title ? pk->title : "");
  c->text = mem_strndup(pk->cur.data, pk->cur.len);
  if (!c->text) c->text = xstrdup("");
  /* The overlap: the passage's tail, starting after a space. */
  size_t n = pk->cur.len, start = n > LORE_OVERLAP ? n - LORE_OVERLAP : n;
  while (start < n && !is_space(pk->cur.data[start])) start++;
  while (start < n && is_space(pk->cur.data[start])) start++;
  char *tail = mem_strndup(pk->cur.data + start, n - start);
  buf_reset(&pk->cur);
  if (tail && *tail && buf_puts(&pk->cur, tail)) buf_reset(&pk->cur);
  mem_free(tail);
  pk->has_new = false;
}

static void add_unit(packer *pk, const char *p, size_t n) {
  if (n == 0) return;
  if (pk->has_new && pk->cur.len + 2 + n > LORE_CHUNK_TARGET) emit(pk);
  if (pk->cur.len && buf_puts(&pk->cur, "\n\n")) return;
  if (buf_append(&pk->cur, p, n)) return;
  pk->has_new = true;
}

/* Adds one paragraph, cut into pieces that fit a passage with its overlap. */
static void add_para(packer *pk, const char *p, size_t n) {
  trim(&p, &n);
  size_t limit = LORE_CHUNK_HARD - LORE_OVERLAP - 2;
  while (n > limit) {
    size_t k = cut_point(p, n, limit);
    const char *q = p;
    size_t m = k;
    trim(&q, &m);
    add_unit(pk, q, m);
    p += k;
    n -= k;
    trim(&p, &n);
  }
  add_unit(pk, p, n);
}

/* Splits body at blank lines and packs its paragraphs into passages titled title. */
static void pack(lore_chunks *out, const char *title, const char *body, size_t n) {
  packer pk = {.out = out, .title = title};
  buf_init(&pk.cur, 0);
  size_t i = 0, para = 0;
  while (i < n) {
    /* A line break followed by a blank line ends a paragraph. */
    if (body[i] == '\n') {
      size_t j = i + 1;
      while (j < n && (body[j] == ' ' || body[j] == '\t' || body[j] == '\r')) j++;
      if (j < n && body[j] == '\n') {
        add_para(&pk, body + para, i - para);
        while (j < n && is_space(body[j])) j++;
        para = i = j;
        continue;
      }
    }
    i++;
  }
  add_para(&pk, body + para, n - para);
  emit(&pk);
  buf_free(&pk.cur);
}

int lore_chunk_text(const char *name, const char *text, size_t n, lore_chunks *out) {
  int rc = lore__check_text(name, text, n);
  if (rc) return rc;
  pack(out, "", text, n);
  return 0;
}

/* A heading line: 1 to 6 '#' then a space (or the end of the line). Returns its level, 0 if not. */
static int heading(const char *l, size_t n, const char **title, size_t *tn) {
  size_t h = 0;
  while (h < n && l[h] == '#') h++;
  if (h == 0 || h > 6 || (h < n && l[h] != ' ' && l[h] != '\t')) return 0;
  const char *t = l + h;
  size_t m = n - h;
  trim(&t, &m);
  while (m && t[m - 1] == '#') m--; /* closing #s */
  trim(&t, &m);
  *title = t;
  *tn = m;
  return (int)h;
}

int lore_chunk_markdown(const char *name, const char *text, size_t n, lore_chunks *out) {
  int rc = lore__check_text(name, text, n);
  if (rc) return rc;
  /* The heading path ("Kingdoms > The North"), one entry per level. */
  char *path[7] = {0};
  buf title;
  buf_init(&title, 0);
  size_t sec = 0, i = 0;
  bool fence = false;
  while (i <= n) {
    size_t e = i;
    while (e < n && text[e] != '\n') e++;
    const char *l = text + i;
    size_t ln = e - i;
    const char *ls = l;
    size_t lsn = ln;
    trim(&ls, &lsn);
    if (lsn >= 3 && (strncmp(ls, "```", 3) == 0 || strncmp(ls, "~~~", 3) == 0)) fence = !fence;
    const char *t;
    size_t tn;
    int lvl = (!fence && ln && ln < LORE_CHUNK_HARD) ? heading(l, ln, &t, &tn) : 0;
    if (lvl) {
      pack(out, title.data ? title.data : "", text + sec, i - sec);
      for (int k = lvl; k <= 6; k++) {
        mem_free(path[k]);
        path[k] = NULL;
      }
      path[lvl] = mem_strndup(t, tn);
      buf_reset(&title);
      for (int k = 1; k <= 6; k++)
        if (path[k] && *path[k] &&
            (buf_puts(&title, title.len ? " > " : "") || buf_puts(&title, path[k])))
          break;
      sec = e < n ? e + 1 : n;
    }
    i = e + 1;
  }
  pack(out, title.data ? title.data : "", text + sec, n - sec);
  for (int k = 0; k <= 6; k++) mem_free(path[k]);
  buf_free(&title);
  return 0;
}

int lore_chunk_jsonl(const char *name, const char *text, size_t n, lore_chunks *out) {
  int rc = lore__check_text(name, text, n);
  if (rc) return rc;
  size_t i = 0, line = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && text[e] != '\n') e++;
    line++;
    const char *l = text + i;
    size_t ln = e - i;
    i = e + 1;
    trim(&l, &ln);
    if (!ln) continue;
    char what[64];
    snprintf(what, sizeof what, "line %zu", line);
    json_t *o = jv_parse(l, ln, what);
    if (!o) return err_prefix(MIMIC_EFORMAT, "%s", name);
    const char *t = jv_str(o, "text", NULL), *ti = jv_str(o, "title", "");
    if (!json_is_object(o) || !t) {
      json_decref(o);
      return err_set(MIMIC_EFORMAT, "%s: line %zu: expected an object with a \"text\" string", name,
                     line);
    }
    pack(out, ti, t, strlen(t));
    json_decref(o);
  }
  return 0;
}
