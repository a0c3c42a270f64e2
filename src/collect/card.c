/* Character cards (card.h): the JSON mapping between SillyTavern's card fields and a persona, and
 * the PNG chunk walk (signature, length, type, data, CRC-32 per chunk) that finds, drops and adds
 * the `chara` / `ccv3` tEXt chunks. Not here: files, the store, the lore book's entries. */
#include "collect/card.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "base/base.h"
#include "base/base64.h"

static const uint8_t png_sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};

bool card_is_png(const void *data, size_t n) {
  return n >= sizeof png_sig && memcmp(data, png_sig, sizeof png_sig) == 0;
}

/* ---- JSON -> persona ---- */

/* Reads an optional string field into *out (NULL when absent, null or empty). what names it in
 * errors ("description", "extensions.mimic.lore_scope"). */
static int get_text(const json_t *obj, const char *key, const char *what, char **out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v)) return err_set(MIMIC_EFORMAT, "card field %s must be a string", what);
  size_t len = json_string_length(v);
  if (len > STORE_PERSONA_FIELD_MAX)
    return err_set(MIMIC_ERANGE,
                   "card field %s is %zu bytes; mimic keeps at most %d bytes per field", what, len,
                   STORE_PERSONA_FIELD_MAX);
  mem_free(*out);
  *out = len ? xstrdup(json_string_value(v)) : NULL;
  return 0;
}

static int get_list(const json_t *obj, const char *key, const char *what, store_strv *out) {
  json_t *a = json_object_get(obj, key);
  if (!a || json_is_null(a)) return 0;
  if (!json_is_array(a))
    return err_set(MIMIC_EFORMAT, "card field %s must be a list of strings", what);
  if (json_array_size(a) > STORE_PERSONA_LIST_MAX)
    return err_set(MIMIC_ERANGE, "card field %s has %zu items; mimic keeps at most %d", what,
                   json_array_size(a), STORE_PERSONA_LIST_MAX);
  size_t i;
  json_t *v;
  json_array_foreach(a, i, v) {
    if (!json_is_string(v))
      return err_set(MIMIC_EFORMAT, "card field %s must be a list of strings (item %zu is not)",
                     what, i + 1);
    if (json_string_length(v) > STORE_PERSONA_FIELD_MAX)
      return err_set(MIMIC_ERANGE,
                     "card field %s item %zu is %zu bytes; mimic keeps at most %d bytes per field",
                     what, i + 1, json_string_length(v), STORE_PERSONA_FIELD_MAX);
    int rc = store_strv_push(out, json_string_value(v));
    if (rc) return rc;
  }
  return 0;
}

static int get_num(const json_t *obj, const char *key, const char *what, bool *has, double *out) {
  json_t *v = json_object_get(obj, key);
  if (!v || json_is_null(v)) return 0;
  if (!json_is_number(v)) return err_set(MIMIC_EFORMAT, "card field %s must be a number", what);
  *out = json_number_value(v);
  if (has) *has = true;
  return 0;
}

static int raw_object(const json_t *v, const char *what, char **out) {
  char *txt = json_dumps(v, JSON_COMPACT);
  if (!txt) return err_set(MIMIC_ENOMEM, "card field %s: out of memory", what);
  size_t len = strlen(txt);
  int rc = 0;
  if (len > STORE_PERSONA_RAW_MAX)
    rc = err_set(MIMIC_ERANGE, "card field %s is %zu bytes of JSON; mimic keeps at most %d", what,
                 len, STORE_PERSONA_RAW_MAX);
  else
    *out = xstrdup(txt);
  free(txt); /* Jansson's allocator */
  return rc;
}

/* mimic's own fields, from extensions.mimic. */
static int read_mimic_ext(const json_t *m, store_persona *p) {
  if (!json_is_object(m))
    return err_set(MIMIC_EFORMAT, "card field extensions.mimic must be an object");
  double mt = 0;
  bool has_mt = false;
  int rc;
  if ((rc = get_list(m, "aliases", "extensions.mimic.aliases", &p->aliases)) ||
      (rc = get_list(m, "keywords", "extensions.mimic.keywords", &p->keywords)) ||
      (rc = get_list(m, "regexes", "extensions.mimic.regexes", &p->regexes)) ||
      (rc = get_text(m, "lore_scope", "extensions.mimic.lore_scope", &p->lore_scope)) ||
      (rc = get_num(m, "freewill", "extensions.mimic.freewill", NULL, &p->freewill)) ||
      (rc = get_num(m, "temperature", "extensions.mimic.temperature", &p->has_temperature,
                    &p->temperature)) ||
      (rc = get_num(m, "top_p", "extensions.mimic.top_p", &p->has_top_p, &p->top_p)) ||
      (rc = get_num(m, "max_tokens", "extensions.mimic.max_tokens", &has_mt, &mt)))
    return rc;
  if (has_mt) {
    if (!(mt >= 1 && mt <= 100000) || mt != (double)(int64_t)mt)
      return err_set(MIMIC_ERANGE,
                     "card field extensions.mimic.max_tokens must be a whole number from 1 to "
                     "100000");
    p->has_max_tokens = true;
    p->max_tokens = (int64_t)mt;
  }
  return 0;
}

static int spec_version(const json_t *root, double *out) {
  json_t *v = json_object_get(root, "spec_version");
  if (json_is_string(v)) {
    if (str_to_double(json_string_value(v), out) == 0) return 0;
  } else if (json_is_number(v)) {
    *out = json_number_value(v);
    return 0;
  }
  return err_set(MIMIC_EFORMAT, "the card has no readable spec_version");
}

/* The fields of one card object (V2/V3 `data`, or a V1 card itself). */
static int read_fields(const json_t *d, int version, store_persona *p, card_meta *meta) {
  static const struct {
    const char *key;
    size_t off;
  } texts[] = {
      {"name", offsetof(store_persona, name)},
      {"description", offsetof(store_persona, description)},
      {"personality", offsetof(store_persona, personality)},
      {"scenario", offsetof(store_persona, scenario)},
      {"first_mes", offsetof(store_persona, first_mes)},
      {"mes_example", offsetof(store_persona, mes_example)},
      {"system_prompt", offsetof(store_persona, system_prompt)},
      {"post_history_instructions", offsetof(store_persona, post_history_instructions)},
      {"creator_notes", offsetof(store_persona, creator_notes)},
      {"creator", offsetof(store_persona, creator)},
      {"character_version", offsetof(store_persona, character_version)},
  };
  int rc;
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if ((rc = get_text(d, texts[i].key, texts[i].key, (char **)((char *)p + texts[i].off))) != 0)
      return rc;
  if (p->name) str_trim(p->name);
  if (!p->name || !*p->name) return err_set(MIMIC_EFORMAT, "the card has no name");
  if ((rc = get_list(d, "alternate_greetings", "alternate_greetings", &p->alternate_greetings)) ||
      (rc = get_list(d, "tags", "tags", &p->tags)))
    return rc;
  if (version == 3) {
    char *nick = NULL;
    if ((rc = get_text(d, "nickname", "nickname", &nick)) != 0) return rc;
    if (nick) str_trim(nick);
    if (nick && *nick && !str_ieq(nick, p->name)) rc = store_strv_push(&p->aliases, nick);
    mem_free(nick);
    if (rc) return rc;
  }
  json_t *ext = json_object_get(d, "extensions");
  if (ext && !json_is_null(ext)) {
    if (!json_is_object(ext))
      return err_set(MIMIC_EFORMAT, "card field extensions must be an object");
    json_t *mine = json_object_get(ext, "mimic");
    if (mine && (rc = read_mimic_ext(mine, p)) != 0) return rc;
    json_t *rest = json_copy(ext);
    if (!rest) return err_set(MIMIC_ENOMEM, "card field extensions: out of memory");
    json_object_del(rest, "mimic");
    if (json_object_size(rest) > 0) rc = raw_object(rest, "extensions", &p->extensions);
    json_decref(rest);
    if (rc) return rc;
  }
  json_t *book = json_object_get(d, "character_book");
  if (book && !json_is_null(book)) {
    if (!json_is_object(book))
      return err_set(MIMIC_EFORMAT, "card field character_book must be an object");
    json_t *entries = json_object_get(book, "entries");
    if (entries && !json_is_array(entries))
      return err_set(MIMIC_EFORMAT, "card field character_book.entries must be a list");
    if ((rc = raw_object(book, "character_book", &p->character_book)) != 0) return rc;
    if (meta) meta->has_book = true;
  }
  return 0;
}

int card_parse_json(const char *text, size_t n, store_persona *out, card_meta *meta) {
  store_persona_free(out);
  card_meta m = {0};
  if (n >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
    text += 3;
    n -= 3;
  }
  if (n > JV_DOC_MAX)
    return err_set(MIMIC_ERANGE, "the card's JSON is %zu bytes; mimic reads at most %u", n,
                   JV_DOC_MAX);
  if (n == 0) return err_set(MIMIC_EFORMAT, "the card's JSON is empty");
  json_t *root = jv_parse(text, n, "the card's JSON");
  if (!root) return MIMIC_EFORMAT;
  int rc = 0;
  const json_t *fields = root;
  if (!json_is_object(root)) {
    rc = err_set(MIMIC_EFORMAT, "the card's JSON is not an object");
    goto out;
  }
  json_t *spec = json_object_get(root, "spec");
  if (!spec) {
    m.version = 1; /* V1: the fields at the top, no spec */
  } else {
    if (!json_is_string(spec)) {
      rc = err_set(MIMIC_EFORMAT, "the card's spec must be a string");
      goto out;
    }
    str_lcpy(m.spec, json_string_value(spec), sizeof m.spec);
    double ver = 0;
    if (strcmp(json_string_value(spec), "chara_card_v2") == 0) {
      m.version = 2;
      if ((rc = spec_version(root, &ver)) != 0) goto out;
      if (ver < 2.0 || ver >= 3.0) {
        rc = err_set(MIMIC_EUNSUPPORTED,
                     "the card says chara_card_v2 with spec_version %g; a V2 card is version 2.0",
                     ver);
        goto out;
      }
    } else if (strcmp(json_string_value(spec), "chara_card_v3") == 0) {
      m.version = 3;
      if ((rc = spec_version(root, &ver)) != 0) goto out;
      if (ver < 3.0 || ver >= 4.0) {
        rc = err_set(
            MIMIC_EUNSUPPORTED,
            "the card says chara_card_v3 with spec_version %g; mimic reads V3 versions 3.x", ver);
        goto out;
      }
    } else {
      rc = err_set(MIMIC_EUNSUPPORTED,
                   "the card's spec is \"%.40s\"; mimic reads chara_card_v2 and chara_card_v3",
                   json_string_value(spec));
      goto out;
    }
    fields = json_object_get(root, "data");
    if (!json_is_object(fields)) {
      rc = err_set(MIMIC_EFORMAT, "the %s card has no data object", m.spec);
      goto out;
    }
  }
  if ((rc = read_fields(fields, m.version, out, &m)) != 0) goto out;
  rc = store_persona_check(out);
out:
  json_decref(root);
  if (rc)
    store_persona_free(out);
  else if (meta)
    *meta = m;
  return rc;
}

/* ---- PNG chunks ---- */

typedef struct png_chunk {
  size_t off; /* of the length field */
  uint32_t len;
  char type[5];
  const uint8_t *data;
} png_chunk;

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the chunk at *pos and advances past it. */
static int png_next(const uint8_t *d, size_t n, size_t *pos, png_chunk *c) {
  size_t at = *pos;
  if (n - at < 12)
    return err_set(MIMIC_EFORMAT, "truncated PNG: the chunk at byte %zu is cut off at byte %zu", at,
                   n);
  c->off = at;
  c->len = be32(d + at);
  memcpy(c->type, d + at + 4, 4);
  c->type[4] = 0;
  for (int i = 0; i < 4; i++) {
    char t = c->type[i];
    if (!((t >= 'A' && t <= 'Z') || (t >= 'a' && t <= 'z')))
      return err_set(MIMIC_EFORMAT, "broken PNG: the chunk at byte %zu has no valid type", at);
  }
  if (c->len > 0x7fffffffu)
    return err_set(MIMIC_EFORMAT, "broken PNG: chunk %s at byte %zu claims %u bytes", c->type, at,
                   c->len);
  if ((size_t)c->len > n - at - 12)
    return err_set(
        MIMIC_EFORMAT,
        "truncated PNG: chunk %s at byte %zu needs %u bytes but the file ends at byte %zu", c->type,
        at, c->len, n);
  c->data = d + at + 8;
  uLong crc = crc32(0L, d + at + 4, 4);
  crc = crc32(crc, c->data, c->len);
  if ((uint32_t)crc != be32(c->data + c->len))
    return err_set(MIMIC_EFORMAT, "broken PNG: chunk %s at byte %zu fails its CRC check", c->type,
                   at);
  *pos = at + 12 + c->len;
  return 0;
}

/* The card keyword of a tEXt chunk: 2 for "ccv3", 1 for "chara", 0 for other chunks. The text
 * after the keyword's NUL is returned in *text. */
static int card_keyword(const png_chunk *c, const char **text, size_t *tn) {
  if (strcmp(c->type, "tEXt") != 0) return 0;
  const uint8_t *nul = memchr(c->data, 0, c->len);
  if (!nul) return 0;
  size_t kl = (size_t)(nul - c->data);
  char kw[8] = {0};
  if (kl == 0 || kl >= sizeof kw) return 0;
  memcpy(kw, c->data, kl);
  *text = (const char *)nul + 1;
  *tn = c->len - kl - 1;
  return str_ieq(kw, "ccv3") ? 2 : str_ieq(kw, "chara") ? 1 : 0;
}

/* Walks every chunk to IEND; calls fn (may be NULL) for each. */
typedef int (*chunk_fn)(const png_chunk *c, void *user);
static int png_walk(const uint8_t *d, size_t n, chunk_fn fn, void *user) {
  if (!card_is_png(d, n))
    return err_set(MIMIC_EFORMAT, "not a PNG file (the 8-byte PNG signature is missing)");
  size_t pos = sizeof png_sig;
  for (int i = 0; i < CARD_CHUNKS_MAX; i++) {
    if (pos == n)
      return err_set(MIMIC_EFORMAT, "truncated PNG: the file ends at byte %zu before IEND", n);
    png_chunk c;
    int rc = png_next(d, n, &pos, &c);
    if (rc) return rc;
    if (i == 0 && strcmp(c.type, "IHDR") != 0)
      return err_set(MIMIC_EFORMAT, "broken PNG: the first chunk is %s, not IHDR", c.type);
    if (fn && (rc = fn(&c, user)) != 0) return rc;
    if (strcmp(c.type, "IEND") == 0) return 0;
  }
  return err_set(MIMIC_ERANGE, "broken PNG: more than %d chunks before IEND", CARD_CHUNKS_MAX);
}

typedef struct found {
  const char *text[3]; /* by keyword: [1] chara, [2] ccv3 */
  size_t n[3];
} found;

static int find_card(const png_chunk *c, void *user) {
  found *f = user;
  const char *t;
  size_t tn;
  int k = card_keyword(c, &t, &tn);
  if (k && !f->text[k]) {
    f->text[k] = t;
    f->n[k] = tn;
  }
  return 0;
}

int card_parse_png(const void *data, size_t n, store_persona *out, card_meta *meta) {
  store_persona_free(out);
  found f = {0};
  int rc = png_walk(data, n, find_card, &f);
  if (rc) return rc;
  int k = f.text[2] ? 2 : f.text[1] ? 1 : 0;
  if (!k)
    return err_set(MIMIC_EFORMAT,
                   "the PNG holds no character card (no tEXt chunk named ccv3 or chara)");
  const char *kw = k == 2 ? "ccv3" : "chara";
  buf json;
  buf_init(&json, JV_DOC_MAX);
  rc = b64_decode(f.text[k], f.n[k], &json);
  if (rc == MIMIC_ERANGE)
    rc = err_set(MIMIC_ERANGE, "the PNG's %s chunk decodes to more than %u bytes", kw, JV_DOC_MAX);
  else if (rc)
    rc = err_prefix(rc, "the PNG's %s chunk", kw);
  if (!rc) {
    rc = card_parse_json(json.data ? json.data : "", json.len, out, meta);
    if (rc) rc = err_prefix(rc, "the PNG's %s chunk", kw);
  }
  buf_free(&json);
  if (!rc && meta) {
    meta->png = true;
    meta->both = f.text[1] && f.text[2];
  }
  return rc;
}

int card_parse(const void *data, size_t n, store_persona *out, card_meta *meta) {
  if (n > CARD_FILE_MAX) {
    store_persona_free(out);
    return err_set(MIMIC_ERANGE, "the card is %zu bytes; mimic reads cards of at most %u bytes", n,
                   CARD_FILE_MAX);
  }
  return card_is_png(data, n) ? card_parse_png(data, n, out, meta)
                              : card_parse_json(data, n, out, meta);
}

/* ---- persona -> JSON ---- */

static const char *nz(const char *s) { return s ? s : ""; }

static json_t *strv_array(const store_strv *l) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->n; i++) json_array_append_new(a, json_string(l->v[i]));
  return a;
}

/* extensions: the stored ones plus mimic's own fields (when any differ from the defaults). */
static int build_extensions(const store_persona *p, json_t **out) {
  json_t *ext = p->extensions ? json_loads(p->extensions, 0, NULL) : json_object();
  if (!json_is_object(ext)) {
    json_decref(ext);
    return err_set(MIMIC_EFORMAT, "persona %s: the stored extensions are not a JSON object",
                   nz(p->name));
  }
  json_t *m = json_object();
  if (p->aliases.n) json_object_set_new(m, "aliases", strv_array(&p->aliases));
  if (p->keywords.n) json_object_set_new(m, "keywords", strv_array(&p->keywords));
  if (p->regexes.n) json_object_set_new(m, "regexes", strv_array(&p->regexes));
  if (p->freewill > 0) json_object_set_new(m, "freewill", json_real(p->freewill));
  if (p->has_temperature) json_object_set_new(m, "temperature", json_real(p->temperature));
  if (p->has_top_p) json_object_set_new(m, "top_p", json_real(p->top_p));
  if (p->has_max_tokens) json_object_set_new(m, "max_tokens", json_integer(p->max_tokens));
  if (p->lore_scope) json_object_set_new(m, "lore_scope", json_string(p->lore_scope));
  if (json_object_size(m) > 0)
    json_object_set_new(ext, "mimic", m);
  else
    json_decref(m);
  *out = ext;
  return 0;
}

static int build_card(const store_persona *p, int version, json_t **out) {
  json_t *ext = NULL;
  int rc = build_extensions(p, &ext);
  if (rc) return rc;
  json_t *book = NULL;
  if (p->character_book) {
    book = json_loads(p->character_book, 0, NULL);
    if (!json_is_object(book)) {
      json_decref(book);
      json_decref(ext);
      return err_set(MIMIC_EFORMAT, "persona %s: the stored character_book is not a JSON object",
                     nz(p->name));
    }
  }
  json_t *d = json_object();
  json_object_set_new(d, "name", json_string(nz(p->name)));
  json_object_set_new(d, "description", json_string(nz(p->description)));
  json_object_set_new(d, "personality", json_string(nz(p->personality)));
  json_object_set_new(d, "scenario", json_string(nz(p->scenario)));
  json_object_set_new(d, "first_mes", json_string(nz(p->first_mes)));
  json_object_set_new(d, "mes_example", json_string(nz(p->mes_example)));
  json_object_set_new(d, "creator_notes", json_string(nz(p->creator_notes)));
  json_object_set_new(d, "system_prompt", json_string(nz(p->system_prompt)));
  json_object_set_new(d, "post_history_instructions",
                      json_string(nz(p->post_history_instructions)));
  json_object_set_new(d, "alternate_greetings", strv_array(&p->alternate_greetings));
  if (book) json_object_set_new(d, "character_book", book);
  json_object_set_new(d, "tags", strv_array(&p->tags));
  json_object_set_new(d, "creator", json_string(nz(p->creator)));
  json_object_set_new(d, "character_version", json_string(nz(p->character_version)));
  json_object_set_new(d, "extensions", ext);
  if (version == 3) {
    json_object_set_new(d, "group_only_greetings", json_array());
    if (p->created_ms > 0)
      json_object_set_new(d, "creation_date", json_integer(p->created_ms / 1000));
    if (p->updated_ms > 0)
      json_object_set_new(d, "modification_date", json_integer(p->updated_ms / 1000));
  }
  json_t *root = json_object();
  json_object_set_new(root, "spec", json_string(version == 3 ? "chara_card_v3" : "chara_card_v2"));
  json_object_set_new(root, "spec_version", json_string(version == 3 ? "3.0" : "2.0"));
  if (version == 2) {
    /* SillyTavern also writes the V1 fields at the top, for V1-only readers. */
    const char *v1[] = {"name",     "description", "personality",
                        "scenario", "first_mes",   "mes_example"};
    for (size_t i = 0; i < sizeof v1 / sizeof v1[0]; i++)
      json_object_set(root, v1[i], json_object_get(d, v1[i]));
  }
  json_object_set_new(root, "data", d);
  *out = root;
  return 0;
}

int card_to_json(const store_persona *p, int version, buf *out) {
  if (version != 2 && version != 3)
    return err_set(MIMIC_EINVAL, "card version %d: mimic writes versions 2 and 3", version);
  json_t *root = NULL;
  int rc = build_card(p, version, &root);
  if (rc) return rc;
  char *txt = json_dumps(root, JSON_INDENT(2));
  json_decref(root);
  if (!txt) return err_set(MIMIC_ENOMEM, "persona %s: out of memory writing its card", nz(p->name));
  rc = buf_puts(out, txt);
  free(txt);
  return rc;
}

static void put_be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

/* Appends a tEXt chunk "keyword\0base64(text)". */
static int put_text_chunk(buf *out, const char *keyword, const buf *json) {
  buf body;
  buf_init(&body, 0);
  int rc = buf_append(&body, keyword, strlen(keyword) + 1);
  if (!rc) rc = b64_encode(json->data, json->len, &body);
  if (!rc && body.len > 0x7fffffffu) rc = err_set(MIMIC_ERANGE, "the card is too big for a PNG");
  uint8_t hdr[8];
  put_be32(hdr, (uint32_t)body.len);
  memcpy(hdr + 4, "tEXt", 4);
  uLong crc = crc32(0L, hdr + 4, 4);
  crc = crc32(crc, (const Bytef *)body.data, (uInt)body.len);
  uint8_t tail[4];
  put_be32(tail, (uint32_t)crc);
  if (!rc) rc = buf_append(out, hdr, 8);
  if (!rc) rc = buf_append(out, body.data, body.len);
  if (!rc) rc = buf_append(out, tail, 4);
  buf_free(&body);
  return rc;
}

typedef struct embed_ctx {
  buf *out;
  const buf *v2, *v3;
} embed_ctx;

static int copy_chunk(const png_chunk *c, void *user) {
  embed_ctx *e = user;
  const char *t;
  size_t tn;
  if (card_keyword(c, &t, &tn)) return 0; /* an old card: replaced */
  int rc = 0;
  if (strcmp(c->type, "IEND") == 0) {
    if ((rc = put_text_chunk(e->out, "chara", e->v2)) ||
        (rc = put_text_chunk(e->out, "ccv3", e->v3)))
      return rc;
  }
  return buf_append(e->out, c->data - 8, (size_t)c->len + 12);
}

int card_png_embed(const void *png, size_t n, const store_persona *p, buf *out) {
  buf v2, v3;
  buf_init(&v2, 0);
  buf_init(&v3, 0);
  int rc = png_walk(png, n, NULL, NULL); /* check it whole before writing anything */
  if (!rc) rc = card_to_json(p, 2, &v2);
  if (!rc) rc = card_to_json(p, 3, &v3);
  if (!rc) rc = buf_append(out, png_sig, sizeof png_sig);
  embed_ctx e = {out, &v2, &v3};
  if (!rc) rc = png_walk(png, n, copy_chunk, &e);
  buf_free(&v2);
  buf_free(&v3);
  return rc;
}

/* ---- the prompt ---- */

static bool at_macro(const char *s, const char *macro) {
  size_t n = strlen(macro);
  for (size_t i = 0; i < n; i++) {
    char a = s[i], b = macro[i];
    if (!a) return false;
    if (a >= 'A' && a <= 'Z') a = (char)(a - 'A' + 'a');
    if (a != b) return false;
  }
  return true;
}

int card_macros(const char *text, const char *char_name, const char *user_name, buf *out) {
  static const char *const chars[] = {"{{char}}", "<bot>"}, *const users[] = {"{{user}}", "<user>"};
  const char *s = text ? text : "";
  int rc = 0;
  while (*s && !rc) {
    const char *with = NULL;
    size_t skip = 0;
    for (int i = 0; i < 2 && !with; i++) {
      if (at_macro(s, chars[i]))
        with = char_name, skip = strlen(chars[i]);
      else if (at_macro(s, users[i]))
        with = user_name, skip = strlen(users[i]);
    }
    if (with) {
      rc = buf_puts(out, with);
      s += skip;
    } else {
      rc = buf_putc(out, *s++);
    }
  }
  return rc;
}

/* The card's parts after the main prompt, as SillyTavern adds them whatever the system prompt. */
static int card_parts(const store_persona *p, buf *out) {
  int rc = 0;
  if (p->description && *p->description) rc = buf_printf(out, "\n\n%s", p->description);
  if (!rc && p->personality && *p->personality)
    rc = buf_printf(out, "\n\n{{char}}'s personality: %s", p->personality);
  if (!rc && p->scenario && *p->scenario) rc = buf_printf(out, "\n\nScenario: %s", p->scenario);
  if (!rc && p->mes_example && *p->mes_example)
    rc = buf_printf(out, "\n\nHow {{char}} talks:\n%s", p->mes_example);
  return rc;
}

static int book_lines(const store_persona *p, size_t cap, buf *out) {
  if (!p->character_book || cap == 0) return 0;
  json_t *book = json_loads(p->character_book, 0, NULL);
  json_t *entries = json_object_get(book, "entries");
  int rc = 0;
  size_t used = 0, i;
  json_t *e;
  bool head = false;
  if (json_is_array(entries)) json_array_foreach(entries, i, e) {
      const char *content = jv_str(e, "content", "");
      size_t n = strlen(content);
      if (!jv_bool(e, "enabled", true) || n == 0 || used + n > cap) continue;
      if (!head && (rc = buf_puts(out, "\n\nWhat {{char}} knows:")) != 0) break;
      head = true;
      if ((rc = buf_printf(out, "\n- %s", content)) != 0) break;
      used += n;
    }
  json_decref(book);
  return rc;
}

int card_system_prompt(const store_persona *p, const char *char_name, const char *user_name,
                       size_t lore_bytes, buf *out) {
  static const char main_prompt[] = "You are {{char}}.";
  if (!char_name) char_name = nz(p->name);
  if (!user_name) user_name = "User";
  buf tmpl;
  buf_init(&tmpl, 0);
  int rc = 0;
  if (p->system_prompt && *p->system_prompt) {
    /* The card's main prompt; {{original}} is mimic's own in its place. */
    const char *s = p->system_prompt;
    while (*s && !rc) {
      if (at_macro(s, "{{original}}")) {
        rc = buf_puts(&tmpl, main_prompt);
        s += strlen("{{original}}");
      } else {
        rc = buf_putc(&tmpl, *s++);
      }
    }
  } else {
    rc = buf_puts(&tmpl, main_prompt);
  }
  if (!rc) rc = card_parts(p, &tmpl);
  if (!rc) rc = book_lines(p, lore_bytes, &tmpl);
  if (!rc) rc = buf_putc(&tmpl, 0);
  if (!rc) rc = card_macros(tmpl.data, char_name, user_name, out);
  buf_free(&tmpl);
  return rc;
}
