/* World Info activation (see lore.h): SillyTavern's keyword entries as its users expect them —
 * keys matched case-insensitively as whole words in the recent messages, secondary keys with AND
 * ANY / NOT ANY / AND ALL / NOT ALL, constant entries always in, a token budget spent on constant
 * entries first and then by descending order. Not here: recursive scanning (an entry's text
 * triggering others), regex keys, probability. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "lore/lore_int.h"

static bool word_byte(unsigned char c) {
  return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') ||
         c == '_';
}

static unsigned char fold(unsigned char c) { return c >= 'A' && c <= 'Z' ? c | 0x20 : c; }

static bool match_n(const char *key, size_t kn, const char *text) {
  if (kn == 0) return false;
  size_t tn = strlen(text);
  bool need_l = word_byte((unsigned char)key[0]), need_r = word_byte((unsigned char)key[kn - 1]);
  for (size_t i = 0; i + kn <= tn; i++) {
    size_t j = 0;
    while (j < kn && fold((unsigned char)text[i + j]) == fold((unsigned char)key[j])) j++;
    if (j < kn) continue;
    if (need_l && i > 0 && word_byte((unsigned char)text[i - 1])) {
      /* Inside a multi-byte character or a word: not a start. */
      continue;
    }
    if (need_r && i + kn < tn && word_byte((unsigned char)text[i + kn])) continue;
    return true;
  }
  return false;
}

bool lore_wi_key_match(const char *key, const char *text) {
  const char *k = key;
  size_t n = strlen(k);
  while (n && (*k == ' ' || *k == '\t')) k++, n--;
  while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) n--;
  return match_n(k, n, text);
}

/* How many of the '\n'-separated keys match, and how many there are. */
static void count_keys(const char *keys, const char *text, int *hit, int *total) {
  *hit = *total = 0;
  const char *p = keys;
  while (p && *p) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n) {
      (*total)++;
      if (match_n(p, n, text)) (*hit)++;
    }
    p = e ? e + 1 : NULL;
  }
}

bool lore_wi_fires(const store_lore_chunk *e, const char *text) {
  if (!e->enabled) return false;
  if (e->constant) return true;
  int hit, total;
  count_keys(e->keys, text, &hit, &total);
  if (hit == 0) return false;
  count_keys(e->keys2, text, &hit, &total);
  if (total == 0) return true;
  switch (e->logic) {
  case STORE_WI_NOT_ANY: return hit == 0;
  case STORE_WI_AND_ALL: return hit == total;
  case STORE_WI_NOT_ALL: return hit < total;
  default: return hit > 0; /* AND ANY */
  }
}

typedef struct scan {
  const char *text;
  lore_items all;
  lore_count_fn count;
  void *count_user;
} scan;

static int on_entry(const store_lore_chunk *e, void *user) {
  scan *sc = user;
  if (!lore_wi_fires(e, sc->text)) return 0;
  lore_item *it = lore__item_push(&sc->all, e->id, "", e->scope, e->title, e->text);
  it->order = e->order;
  str_lcpy(it->why, e->constant ? "const" : "key", sizeof it->why);
  it->tokens = lore__count(sc->count, sc->count_user, e->text);
  return 0;
}

/* Budget priority: constant entries first, then higher order, then lower id. */
static int by_priority(const void *a, const void *b) {
  const lore_item *x = a, *y = b;
  bool cx = strcmp(x->why, "const") == 0, cy = strcmp(y->why, "const") == 0;
  if (cx != cy) return cx ? -1 : 1;
  if (x->order != y->order) return x->order > y->order ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Insertion: ascending order, then id. */
static int by_order(const void *a, const void *b) {
  const lore_item *x = a, *y = b;
  if (x->order != y->order) return x->order < y->order ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

int lore_wi_activate(store *s, const char *const *scopes, size_t n_scopes,
                     const char *const *recent, size_t n_recent, int budget_tokens,
                     lore_count_fn count, void *count_user, lore_items *out) {
  memset(out, 0, sizeof *out);
  buf hay;
  buf_init(&hay, 0);
  int rc = 0;
  for (size_t i = 0; i < n_recent && !rc; i++)
    if (recent[i] && (buf_puts(&hay, recent[i]) || buf_putc(&hay, '\n')))
      rc = err_set(MIMIC_ENOMEM, "out of memory scanning for World Info");
  scan sc = {.text = hay.data ? hay.data : "", .count = count, .count_user = count_user};
  if (!rc) rc = store_lore_wi_each(s, scopes, n_scopes, on_entry, &sc);
  buf_free(&hay);
  if (rc) {
    lore_items_free(&sc.all);
    return rc;
  }
  if (sc.all.n) qsort(sc.all.v, sc.all.n, sizeof *sc.all.v, by_priority);
  /* Keep what fits, in priority order; the rest is freed. */
  size_t kept = 0;
  int used = 0;
  for (size_t i = 0; i < sc.all.n; i++) {
    lore_item *it = &sc.all.v[i];
    if (used + it->tokens <= budget_tokens) {
      used += it->tokens;
      lore_item t = *it;
      *it = sc.all.v[kept];
      sc.all.v[kept++] = t;
    }
  }
  lore_items drop = {.v = sc.all.v + kept, .n = sc.all.n - kept};
  for (size_t i = 0; i < drop.n; i++) {
    mem_free(drop.v[i].source);
    mem_free(drop.v[i].scope);
    mem_free(drop.v[i].title);
    mem_free(drop.v[i].text);
  }
  sc.all.n = kept;
  if (kept) qsort(sc.all.v, kept, sizeof *sc.all.v, by_order);
  sc.all.tokens = used;
  *out = sc.all;
  return 0;
}
