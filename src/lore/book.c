/* SillyTavern World Info books and character books (see lore.h, lore_parse_book): every entry
 * becomes one World Info chunk with its keys, secondary keys and logic, constant flag, order, depth
 * and enabled flag. Field names follow SillyTavern's world-info.js (key, keysecondary, comment,
 * content, constant, selective, selectiveLogic, order, depth, disable) and the V2/V3 card spec's
 * CharacterBook (keys, secondary_keys, name, content, constant, selective, insertion_order,
 * enabled, extensions.{selectiveLogic, depth}). Regex keys ("/.../i") are matched as plain text. */
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "lore/lore_int.h"

/* Appends the strings of v (an array of strings, or one string of comma-separated keys) to out,
 * '\n'-separated, trimmed, empty ones skipped. */
static int keys_of(const char *name, size_t entry, const json_t *v, buf *out) {
  if (!v || json_is_null(v)) return 0;
  size_t nk = 0;
  const char *one = json_is_string(v) ? json_string_value(v) : NULL;
  if (!one && !json_is_array(v))
    return err_set(MIMIC_EFORMAT, "%s: entry %zu: keys must be a list of strings", name, entry);
  size_t n = one ? 1 : json_array_size(v);
  for (size_t i = 0; i < n; i++) {
    const char *k = one;
    if (!one) {
      const json_t *e = json_array_get(v, i);
      if (!json_is_string(e))
        return err_set(MIMIC_EFORMAT, "%s: entry %zu: keys must be a list of strings", name, entry);
      k = json_string_value(e);
    }
    /* Each string may itself hold several comma-separated keys (SillyTavern splits them too). */
    const char *p = k;
    while (*p) {
      const char *e = p;
      while (*e && *e != ',') e++;
      const char *s = p;
      size_t l = (size_t)(e - p);
      while (l && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) s++, l--;
      while (l && (s[l - 1] == ' ' || s[l - 1] == '\t' || s[l - 1] == '\n' || s[l - 1] == '\r'))
        l--;
      if (l) {
        if (++nk > LORE_KEYS_MAX)
          return err_set(MIMIC_ERANGE, "%s: entry %zu: more than %d keys", name, entry,
                         LORE_KEYS_MAX);
        if (out->len && buf_putc(out, '\n')) return MIMIC_ENOMEM;
        for (size_t j = 0; j < l; j++)
          if (buf_putc(out, s[j] == '\n' || s[j] == '\r' ? ' ' : s[j])) return MIMIC_ENOMEM;
      }
      p = *e ? e + 1 : e;
    }
  }
  return 0;
}

static int logic_of(const json_t *v) {
  if (json_is_integer(v)) {
    int64_t l = json_integer_value(v);
    return l >= 0 && l <= 3 ? (int)l : STORE_WI_AND_ANY;
  }
  return STORE_WI_AND_ANY;
}

static int entry(const char *name, size_t idx, const json_t *e, bool card, lore_chunks *out) {
  if (!json_is_object(e))
    return err_set(MIMIC_EFORMAT, "%s: entry %zu is not an object", name, idx);
  const json_t *ext = json_object_get(e, "extensions");
  if (!json_is_object(ext)) ext = NULL;
  const char *content = jv_str(e, "content", "");
  if (strlen(content) > STORE_LORE_TEXT_MAX)
    return err_set(MIMIC_ERANGE, "%s: entry %zu: content of %zu bytes exceeds the %d-byte cap",
                   name, idx, strlen(content), STORE_LORE_TEXT_MAX);
  const char *title = jv_str(e, "comment", "");
  if (!*title) title = jv_str(e, "name", "");
  buf k1, k2;
  buf_init(&k1, 0);
  buf_init(&k2, 0);
  /* Either spelling in either shape: converters mix them. */
  const json_t *kv = json_object_get(e, card ? "keys" : "key");
  if (!kv) kv = json_object_get(e, card ? "key" : "keys");
  const json_t *kv2 = json_object_get(e, card ? "secondary_keys" : "keysecondary");
  if (!kv2) kv2 = json_object_get(e, card ? "keysecondary" : "secondary_keys");
  int rc = keys_of(name, idx, kv, &k1);
  if (!rc) rc = keys_of(name, idx, kv2, &k2);
  if (rc) goto out;
  /* selective: false means the secondary keys are ignored. */
  const json_t *sel = json_object_get(e, "selective");
  if (json_is_false(sel)) buf_reset(&k2);
  lore_chunk *c = lore__chunk_push(out);
  c->wi = true;
  c->title = xstrdup(title);
  c->text = xstrdup(content);
  c->keys = xstrdup(k1.data ? k1.data : "");
  c->keys2 = xstrdup(k2.data ? k2.data : "");
  const json_t *lg = json_object_get(e, "selectiveLogic");
  if (!lg && ext) lg = json_object_get(ext, "selectiveLogic");
  c->logic = logic_of(lg);
  c->constant = jv_bool(e, "constant", false);
  if (card) {
    c->enabled = jv_bool(e, "enabled", true);
    c->order = (int)jv_int(e, "insertion_order", 100);
  } else {
    c->enabled = !jv_bool(e, "disable", false);
    c->order = (int)jv_int(e, "order", 100);
  }
  int64_t depth = jv_int(e, "depth", ext ? jv_int(ext, "depth", 4) : 4);
  c->depth = depth < 0 ? 0 : depth > 10000 ? 10000 : (int)depth;
out:
  buf_free(&k1);
  buf_free(&k2);
  return rc;
}

int lore_parse_book(const char *name, const char *json, size_t n, lore_chunks *out) {
  int rc = lore__check_text(name, json, n);
  if (rc) return rc;
  json_t *root = jv_parse(json, n, name);
  if (!root) return err_prefix(MIMIC_EFORMAT, "not a World Info or character book");
  const json_t *book = root;
  /* A V3 lorebook file, a card (V2/V3: data.character_book; V1: character_book), or the book. */
  const json_t *data = json_object_get(book, "data");
  if (json_is_object(data)) {
    const json_t *cb = json_object_get(data, "character_book");
    book = json_is_object(cb) ? cb : data;
  } else if (json_is_object(json_object_get(book, "character_book"))) {
    book = json_object_get(book, "character_book");
  }
  const json_t *entries = json_is_object(book) ? json_object_get(book, "entries") : NULL;
  size_t before = out->n;
  if (json_is_array(entries)) {
    if (json_array_size(entries) > LORE_BOOK_ENTRIES) {
      rc = err_set(MIMIC_ERANGE, "%s: %zu entries (at most %d in one book)", name,
                   json_array_size(entries), LORE_BOOK_ENTRIES);
      goto out;
    }
    for (size_t i = 0; i < json_array_size(entries) && !rc; i++)
      rc = entry(name, i, json_array_get(entries, i), true, out);
  } else if (json_is_object(entries)) {
    if (json_object_size(entries) > LORE_BOOK_ENTRIES) {
      rc = err_set(MIMIC_ERANGE, "%s: %zu entries (at most %d in one book)", name,
                   json_object_size(entries), LORE_BOOK_ENTRIES);
      goto out;
    }
    const char *key;
    json_t *v;
    size_t i = 0;
    /* SillyTavern's files key entries by uid: the object's order is the file's. */
    json_object_foreach((json_t *)entries, key, v) {
      (void)key;
      if ((rc = entry(name, i++, v, false, out))) break;
    }
  } else {
    rc = err_set(MIMIC_EFORMAT,
                 "%s: not a World Info or character book (no \"entries\" list or object)", name);
  }
out:
  if (rc) {
    /* Nothing half-parsed stays behind. */
    while (out->n > before) lore__chunk_clear(&out->v[--out->n]);
  }
  json_decref(root);
  return rc;
}
