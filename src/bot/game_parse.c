/* The mini-games' parsers (game_parse.h): question banks, the model's trivia question and story
 * passages. Self-contained below the bot's stack; every length from outside is capped. */
#include "bot/game_parse.h"

#include <ctype.h>
#include <string.h>

#include "base/base.h"
#include "bot/answer_check.h"

void game_item_free(game_item *it) {
  if (!it) return;
  mem_free(it->question);
  mem_free(it->answer);
  mem_free(it->aliases);
  mem_free(it->hint);
  memset(it, 0, sizeof *it);
}

void game_bank_free(game_bank *b) {
  if (!b) return;
  for (size_t i = 0; i < b->n; i++) game_item_free(&b->v[i]);
  mem_free(b->v);
  memset(b, 0, sizeof *b);
}

void game_passage_free(game_passage *p) {
  if (!p) return;
  mem_free(p->text);
  for (size_t i = 0; i < p->n_choices; i++) mem_free(p->choices[i]);
  memset(p, 0, sizeof *p);
}

/* A trimmed copy of s[0..n) (caller frees), or NULL when empty, over cap bytes or not UTF-8. */
static char *field_any(const char *s, size_t n, size_t cap, bool one_line) {
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  if (!n || n > cap || !utf8_valid(s, n) || memchr(s, 0, n)) return NULL;
  char *o = xalloc(n + 1);
  memcpy(o, s, n);
  o[n] = 0;
  /* one line: newlines inside a field become spaces */
  for (char *p = o; *p && one_line; p++)
    if (*p == '\n' || *p == '\r' || *p == '\t') *p = ' ';
  return o;
}

static char *field(const char *s, size_t n, size_t cap) { return field_any(s, n, cap, true); }

/* Appends an alias (s[0..n)) to the '\n'-separated list *al; false when it is not one. */
static bool alias_add(buf *al, const char *s, size_t n, size_t *count) {
  if (*count >= GAME_ALIASES_MAX) return false;
  char *a = field(s, n, GAME_ANSWER_MAX);
  if (!a) return false;
  int rc = buf_printf(al, "%s%s", al->len ? "\n" : "", a);
  mem_free(a);
  if (rc) {
    err_clear();
    return false;
  }
  (*count)++;
  return true;
}

/* Fills it from a JSON object (keys question/q, answer/a, aliases (array or string), hint). */
static bool item_from_json(const json_t *o, game_item *it) {
  const char *q = jv_str(o, "question", NULL);
  if (!q) q = jv_str(o, "q", NULL);
  const char *a = jv_str(o, "answer", NULL);
  if (!a) a = jv_str(o, "a", NULL);
  if (!q || !a) return false;
  it->question = field(q, strlen(q), GAME_QUESTION_MAX);
  it->answer = field(a, strlen(a), GAME_ANSWER_MAX);
  if (!it->question || !it->answer) return false;
  buf al;
  buf_init(&al, GAME_ALIASES_MAX * (GAME_ANSWER_MAX + 1) + 1);
  size_t count = 0;
  const json_t *arr = json_object_get(o, "aliases");
  if (json_is_array(arr)) {
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v) {
      if (json_is_string(v)) alias_add(&al, json_string_value(v), json_string_length(v), &count);
    }
  } else if (json_is_string(arr)) {
    alias_add(&al, json_string_value(arr), json_string_length(arr), &count);
  }
  it->aliases = xstrdup(al.data ? al.data : "");
  buf_free(&al);
  const char *h = jv_str(o, "hint", "");
  it->hint = field(h, strlen(h), GAME_HINT_MAX);
  if (!it->hint) it->hint = xstrdup("");
  return true;
}

/* "question | answer | alias, alias | hint" */
static bool item_from_simple(const char *s, size_t n, game_item *it) {
  const char *parts[4];
  size_t lens[4], np = 0;
  const char *p = s, *end = s + n;
  while (np < 4) {
    const char *bar = memchr(p, '|', (size_t)(end - p));
    parts[np] = p;
    if (!bar || np == 3) {
      lens[np++] = (size_t)(end - p);
      break;
    }
    lens[np++] = (size_t)(bar - p);
    p = bar + 1;
  }
  if (np < 2) return false;
  it->question = field(parts[0], lens[0], GAME_QUESTION_MAX);
  it->answer = field(parts[1], lens[1], GAME_ANSWER_MAX);
  if (!it->question || !it->answer) return false;
  buf al;
  buf_init(&al, GAME_ALIASES_MAX * (GAME_ANSWER_MAX + 1) + 1);
  size_t count = 0;
  if (np > 2) {
    const char *a = parts[2], *ae = parts[2] + lens[2];
    while (a < ae) {
      const char *c = memchr(a, ',', (size_t)(ae - a));
      size_t l = c ? (size_t)(c - a) : (size_t)(ae - a);
      alias_add(&al, a, l, &count);
      a += l + (c ? 1 : 0);
    }
  }
  it->aliases = xstrdup(al.data ? al.data : "");
  buf_free(&al);
  it->hint = np > 3 ? field(parts[3], lens[3], GAME_HINT_MAX) : NULL;
  if (!it->hint) it->hint = xstrdup("");
  return true;
}

int game_bank_parse(const char *text, size_t n, game_bank *out) {
  memset(out, 0, sizeof *out);
  if (n > GAME_BANK_FILE_MAX)
    return err_set(MIMIC_ERANGE, "the question bank is larger than %u bytes", GAME_BANK_FILE_MAX);
  size_t cap = 0;
  for (size_t i = 0; i < n && out->n < GAME_BANK_MAX;) {
    const char *nl = memchr(text + i, '\n', n - i);
    size_t len = nl ? (size_t)(nl - (text + i)) : n - i;
    const char *line = text + i;
    i += len + 1;
    size_t k = 0;
    while (k < len && isspace((unsigned char)line[k])) k++;
    if (k == len || line[k] == '#') continue;
    if (len > GAME_LINE_MAX) {
      out->bad++;
      continue;
    }
    game_item it = {0};
    bool ok;
    if (line[k] == '{') {
      json_t *o = jv_parse(line + k, len - k, "bank line");
      ok = o && json_is_object(o) && item_from_json(o, &it);
      if (!o) err_clear();
      json_decref(o);
    } else {
      ok = item_from_simple(line + k, len - k, &it);
    }
    if (!ok) {
      game_item_free(&it);
      out->bad++;
      continue;
    }
    if (out->n == cap) {
      cap = cap ? cap * 2 : 16;
      out->v = xrealloc(out->v, cap * sizeof *out->v);
    }
    out->v[out->n++] = it;
  }
  return 0;
}

/* The first balanced JSON object in text[0..n), parsed; NULL when none. */
static json_t *first_object(const char *text, size_t n) {
  if (n > GAME_MODEL_MAX) n = GAME_MODEL_MAX;
  for (size_t i = 0; i < n; i++) {
    if (text[i] != '{') continue;
    int depth = 0;
    bool str = false, esc = false;
    for (size_t j = i; j < n; j++) {
      char c = text[j];
      if (str) {
        if (esc)
          esc = false;
        else if (c == '\\')
          esc = true;
        else if (c == '"')
          str = false;
        continue;
      }
      if (c == '"') str = true;
      if (c == '{') depth++;
      if (c == '}' && --depth == 0) {
        json_t *o = jv_parse(text + i, j - i + 1, "model reply");
        if (o && json_is_object(o)) return o;
        json_decref(o);
        err_clear();
        break;
      }
    }
  }
  return NULL;
}

int game_question_parse(const char *text, size_t n, const char *chunk, game_item *out) {
  memset(out, 0, sizeof *out);
  json_t *o = first_object(text, n);
  if (!o) return err_set(MIMIC_EFORMAT, "the model wrote no JSON question");
  bool ok = item_from_json(o, out);
  json_decref(o);
  if (!ok) {
    game_item_free(out);
    return err_set(MIMIC_EFORMAT, "the model's question lacks a question or an answer");
  }
  if (chunk) {
    if (!answer_in_text(out->answer, chunk)) {
      /* an alias that the chunk holds becomes the answer (the model may have reworded it) */
      char *found = NULL;
      for (const char *p = out->aliases; *p && !found;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char one[GAME_ANSWER_MAX + 1];
        str_lcpy(one, p, len + 1 < sizeof one ? len + 1 : sizeof one);
        if (answer_in_text(one, chunk)) found = xstrdup(one);
        p = nl ? nl + 1 : p + len;
      }
      if (!found) {
        game_item_free(out);
        return err_set(MIMIC_EFORMAT, "the model's answer does not occur in the lore passage");
      }
      mem_free(out->answer);
      out->answer = found;
    }
    if (answer_in_text(out->answer, out->question)) {
      game_item_free(out);
      return err_set(MIMIC_EFORMAT, "the model's question gives its answer away");
    }
  }
  return 0;
}

static void add_choice(game_passage *p, const char *s, size_t n) {
  if (p->n_choices >= GAME_CHOICES_MAX) return;
  while (n && isspace((unsigned char)*s)) s++, n--;
  while (n && isspace((unsigned char)s[n - 1])) n--;
  if (n > GAME_CHOICE_MAX) n = utf8_floor(s, n, GAME_CHOICE_MAX);
  char *c = field(s, n, GAME_CHOICE_MAX);
  if (c) p->choices[p->n_choices++] = c;
}

int game_passage_parse(const char *text, size_t n, bool need_choices, game_passage *out) {
  memset(out, 0, sizeof *out);
  if (n > GAME_MODEL_MAX) n = GAME_MODEL_MAX;
  json_t *o = first_object(text, n);
  if (o) {
    const char *t = jv_str(o, "text", NULL);
    if (!t) t = jv_str(o, "passage", "");
    size_t tl = strlen(t);
    if (tl > GAME_PASSAGE_MAX) tl = utf8_floor(t, tl, GAME_PASSAGE_MAX);
    out->text = field_any(t, tl, GAME_PASSAGE_MAX, false);
    const json_t *arr = json_object_get(o, "choices");
    size_t i;
    const json_t *v;
    if (json_is_array(arr)) json_array_foreach(arr, i, v) {
        if (json_is_string(v)) add_choice(out, json_string_value(v), json_string_length(v));
      }
    json_decref(o);
  } else if (utf8_valid(text, n)) {
    /* plain text: numbered lines are the choices, the rest the passage */
    buf body;
    buf_init(&body, GAME_PASSAGE_MAX + 1);
    for (size_t i = 0; i < n;) {
      const char *nl = memchr(text + i, '\n', n - i);
      size_t len = nl ? (size_t)(nl - (text + i)) : n - i;
      const char *line = text + i;
      i += len + 1;
      size_t k = 0;
      while (k < len && (isspace((unsigned char)line[k]) || line[k] == '*')) k++;
      if (k + 1 < len && line[k] >= '1' && line[k] <= '9' &&
          (line[k + 1] == '.' || line[k + 1] == ')')) {
        add_choice(out, line + k + 2, len - k - 2);
        continue;
      }
      if (len && !out->n_choices && buf_append(&body, line, len) == 0 && buf_puts(&body, "\n"))
        err_clear();
    }
    err_clear();
    size_t bl = body.len;
    if (bl > GAME_PASSAGE_MAX) bl = utf8_floor(body.data, bl, GAME_PASSAGE_MAX);
    if (body.data) out->text = field_any(body.data, bl, GAME_PASSAGE_MAX, false);
    buf_free(&body);
  }
  if (!out->text || (need_choices && out->n_choices < 2)) {
    game_passage_free(out);
    return err_set(MIMIC_EFORMAT, need_choices ? "the model's passage lacks a text or 2-4 choices"
                                               : "the model wrote no passage");
  }
  return 0;
}
