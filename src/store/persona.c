/* Personas and the settings layered over them (persona.h): the personas table, its
 * case-insensitive name index (persona_names: the name and every alias) and layered_settings. Not
 * here: card files (collect/card.c), who answers a message (bot/). */
#include "store/persona.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "base/json.h"
#include "store/store_int.h"

/* ---- lists ---- */

int store_strv_push(store_strv *l, const char *s) {
  if (l->n >= STORE_PERSONA_LIST_MAX)
    return err_set(MIMIC_ERANGE, "a list holds at most %d items", STORE_PERSONA_LIST_MAX);
  l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
  l->v[l->n++] = xstrdup(s ? s : "");
  return 0;
}

void store_strv_free(store_strv *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) mem_free(l->v[i]);
  mem_free(l->v);
  l->v = NULL;
  l->n = 0;
}

static char *strv_json(const store_strv *l) {
  json_t *a = json_array();
  for (size_t i = 0; a && i < l->n; i++) json_array_append_new(a, json_string(l->v[i]));
  char *txt = a ? json_dumps(a, JSON_COMPACT) : NULL;
  json_decref(a);
  return txt; /* free() (Jansson's allocator) */
}

/* Parses a JSON array of strings; anything else reads as an empty list (the column is ours). */
static void strv_parse(const char *txt, store_strv *out) {
  json_t *a = json_loads(txt ? txt : "[]", 0, NULL);
  size_t i;
  json_t *v;
  if (json_is_array(a)) json_array_foreach(a, i, v) {
      if (json_is_string(v) && store_strv_push(out, json_string_value(v))) break;
    }
  json_decref(a);
}

static char *ids_json(const uint64_t *ids, size_t n) {
  json_t *a = json_array();
  char num[24];
  for (size_t i = 0; a && i < n; i++) {
    snprintf(num, sizeof num, "%llu", (unsigned long long)ids[i]);
    json_array_append_new(a, json_string(num));
  }
  char *txt = a ? json_dumps(a, JSON_COMPACT) : NULL;
  json_decref(a);
  return txt;
}

static void ids_parse(const char *txt, uint64_t **ids, size_t *n) {
  json_t *a = json_loads(txt ? txt : "[]", 0, NULL);
  *ids = NULL;
  *n = 0;
  if (json_is_array(a) && json_array_size(a) > 0) {
    *ids = xcalloc(json_array_size(a), sizeof **ids);
    size_t i;
    json_t *v;
    json_array_foreach(a, i, v) {
      uint64_t id = jv_snowflake_value(v);
      if (id) (*ids)[(*n)++] = id;
    }
  }
  json_decref(a);
}

/* ---- the struct ---- */

void store_persona_init(store_persona *p) {
  memset(p, 0, sizeof *p);
  p->adapter_scale = 1.0;
  p->enabled = true;
}

void store_persona_free(store_persona *p) {
  if (!p) return;
  char **strs[] = {&p->name,          &p->avatar,         &p->description,
                   &p->personality,   &p->scenario,       &p->first_mes,
                   &p->mes_example,   &p->system_prompt,  &p->post_history_instructions,
                   &p->creator_notes, &p->creator,        &p->character_version,
                   &p->extensions,    &p->character_book, &p->adapter,
                   &p->lore_scope};
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) mem_free(*strs[i]);
  store_strv_free(&p->aliases);
  store_strv_free(&p->alternate_greetings);
  store_strv_free(&p->tags);
  store_strv_free(&p->keywords);
  store_strv_free(&p->regexes);
  mem_free(p->channels);
  store_persona_init(p);
}

/* ---- checks ---- */

static const char *nz(const char *s) { return s ? s : ""; }

static int check_name(const char *who, const char *what, const char *n) {
  size_t len = strlen(n);
  if (len == 0) return err_set(MIMIC_EINVAL, "persona %s: the %s is empty", who, what);
  if (len > STORE_PERSONA_NAME_MAX)
    return err_set(MIMIC_ERANGE, "persona %s: the %s \"%.40s...\" is %zu bytes; at most %d", who,
                   what, n, len, STORE_PERSONA_NAME_MAX);
  if (!utf8_valid(n, len))
    return err_set(MIMIC_EFORMAT, "persona %s: the %s is not valid UTF-8", who, what);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)n[i] < 0x20 || n[i] == 0x7f)
      return err_set(MIMIC_EINVAL, "persona %s: the %s has a control character", who, what);
  if (n[0] == ' ' || n[len - 1] == ' ')
    return err_set(MIMIC_EINVAL, "persona %s: the %s \"%s\" starts or ends with a space", who, what,
                   n);
  return 0;
}

static int check_text(const char *who, const char *field, const char *t, size_t cap) {
  if (!t) return 0;
  size_t len = strlen(t);
  if (len > cap)
    return err_set(MIMIC_ERANGE, "persona %s: %s is %zu bytes; a field holds at most %zu", who,
                   field, len, cap);
  if (!utf8_valid(t, len))
    return err_set(MIMIC_EFORMAT, "persona %s: %s is not valid UTF-8", who, field);
  return 0;
}

static int check_list(const char *who, const char *field, const store_strv *l) {
  for (size_t i = 0; i < l->n; i++) {
    int rc = check_text(who, field, l->v[i], STORE_PERSONA_FIELD_MAX);
    if (rc) return rc;
  }
  return 0;
}

static int check_raw(const char *who, const char *field, const char *raw) {
  if (!raw) return 0;
  int rc = check_text(who, field, raw, STORE_PERSONA_RAW_MAX);
  if (rc) return rc;
  json_t *v = json_loads(raw, JSON_DECODE_ANY, NULL);
  bool ok = json_is_object(v);
  json_decref(v);
  return ok ? 0 : err_set(MIMIC_EFORMAT, "persona %s: %s is not a JSON object", who, field);
}

int store_persona_check(const store_persona *p) {
  const char *who = p->name && *p->name ? p->name : "(unnamed)";
  int rc = check_name(who, "name", nz(p->name));
  for (size_t i = 0; !rc && i < p->aliases.n; i++) rc = check_name(who, "alias", p->aliases.v[i]);
  if (rc) return rc;
  struct {
    const char *field, *value;
  } texts[] = {{"avatar", p->avatar},
               {"description", p->description},
               {"personality", p->personality},
               {"scenario", p->scenario},
               {"first_mes", p->first_mes},
               {"mes_example", p->mes_example},
               {"system_prompt", p->system_prompt},
               {"post_history_instructions", p->post_history_instructions},
               {"creator_notes", p->creator_notes},
               {"creator", p->creator},
               {"character_version", p->character_version},
               {"adapter", p->adapter},
               {"lore_scope", p->lore_scope}};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
    if ((rc = check_text(who, texts[i].field, texts[i].value, STORE_PERSONA_FIELD_MAX)) != 0)
      return rc;
  if ((rc = check_list(who, "alternate_greetings", &p->alternate_greetings)) ||
      (rc = check_list(who, "tags", &p->tags)) ||
      (rc = check_list(who, "keywords", &p->keywords)) ||
      (rc = check_list(who, "regexes", &p->regexes)))
    return rc;
  if ((rc = check_raw(who, "extensions", p->extensions)) ||
      (rc = check_raw(who, "character_book", p->character_book)))
    return rc;
  if (p->n_channels > STORE_PERSONA_LIST_MAX)
    return err_set(MIMIC_ERANGE, "persona %s: at most %d channels", who, STORE_PERSONA_LIST_MAX);
  if (!(p->freewill >= 0 && p->freewill <= 1))
    return err_set(MIMIC_ERANGE, "persona %s: freewill must be between 0 and 1, not %g", who,
                   p->freewill);
  if (!(p->adapter_scale > 0 && p->adapter_scale <= 4))
    return err_set(MIMIC_ERANGE,
                   "persona %s: the adapter scale must be above 0 and at most 4, not %g", who,
                   p->adapter_scale);
  if (p->has_temperature && !(p->temperature >= 0 && p->temperature <= 2))
    return err_set(MIMIC_ERANGE, "persona %s: temperature must be between 0 and 2, not %g", who,
                   p->temperature);
  if (p->has_top_p && !(p->top_p >= 0 && p->top_p <= 1))
    return err_set(MIMIC_ERANGE, "persona %s: top_p must be between 0 and 1, not %g", who,
                   p->top_p);
  if (p->has_max_tokens && (p->max_tokens < 1 || p->max_tokens > 100000))
    return err_set(MIMIC_ERANGE, "persona %s: max_tokens must be between 1 and 100000, not %lld",
                   who, (long long)p->max_tokens);
  for (size_t i = 0; i < p->regexes.n; i++) {
    regex_t re;
    int e = regcomp(&re, p->regexes.v[i], REG_EXTENDED | REG_ICASE | REG_NOSUB);
    if (e) {
      char why[128];
      regerror(e, &re, why, sizeof why);
      return err_set(MIMIC_EINVAL, "persona %s: the trigger regex \"%s\" does not compile: %s", who,
                     p->regexes.v[i], why);
    }
    regfree(&re);
  }
  return 0;
}

/* ---- reads ---- */

#define PERSONA_COLS                                                                               \
  "id, name, aliases, avatar, description, personality, scenario, first_mes, mes_example, "        \
  "system_prompt, post_history_instructions, alternate_greetings, tags, creator_notes, creator, "  \
  "character_version, extensions, character_book, adapter, adapter_scale, temperature, top_p, "    \
  "max_tokens, keywords, regexes, channels, lore_scope, freewill, enabled, created_ms, updated_ms"

static char *col_dup(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : xstrdup(store__col_text(st, i));
}

static void read_row(sqlite3_stmt *st, store_persona *p) {
  store_persona_free(p);
  int c = 0;
  p->id = sqlite3_column_int64(st, c++);
  p->name = col_dup(st, c++);
  strv_parse(store__col_text(st, c++), &p->aliases);
  p->avatar = col_dup(st, c++);
  p->description = col_dup(st, c++);
  p->personality = col_dup(st, c++);
  p->scenario = col_dup(st, c++);
  p->first_mes = col_dup(st, c++);
  p->mes_example = col_dup(st, c++);
  p->system_prompt = col_dup(st, c++);
  p->post_history_instructions = col_dup(st, c++);
  strv_parse(store__col_text(st, c++), &p->alternate_greetings);
  strv_parse(store__col_text(st, c++), &p->tags);
  p->creator_notes = col_dup(st, c++);
  p->creator = col_dup(st, c++);
  p->character_version = col_dup(st, c++);
  p->extensions = col_dup(st, c++);
  p->character_book = col_dup(st, c++);
  p->adapter = col_dup(st, c++);
  p->adapter_scale = sqlite3_column_double(st, c++);
  if ((p->has_temperature = sqlite3_column_type(st, c) != SQLITE_NULL))
    p->temperature = sqlite3_column_double(st, c);
  c++;
  if ((p->has_top_p = sqlite3_column_type(st, c) != SQLITE_NULL))
    p->top_p = sqlite3_column_double(st, c);
  c++;
  if ((p->has_max_tokens = sqlite3_column_type(st, c) != SQLITE_NULL))
    p->max_tokens = sqlite3_column_int64(st, c);
  c++;
  strv_parse(store__col_text(st, c++), &p->keywords);
  strv_parse(store__col_text(st, c++), &p->regexes);
  ids_parse(store__col_text(st, c++), &p->channels, &p->n_channels);
  p->lore_scope = col_dup(st, c++);
  p->freewill = sqlite3_column_double(st, c++);
  p->enabled = sqlite3_column_int(st, c++) != 0;
  p->created_ms = sqlite3_column_int64(st, c++);
  p->updated_ms = sqlite3_column_int64(st, c++);
}

int store_persona_find(store *s, const char *name_or_alias, int64_t *id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT persona_id FROM persona_names WHERE name = ?1", &st)) return MIMIC_EDB;
  store__bind_text(st, 1, name_or_alias);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "finding a persona");
}

int store_persona_get(store *s, int64_t id, store_persona *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " PERSONA_COLS " FROM personas WHERE id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) read_row(st, out);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading a persona");
}

int store_persona_by_name(store *s, const char *name_or_alias, store_persona *out) {
  int64_t id;
  int rc = store_persona_find(s, name_or_alias, &id);
  return rc ? rc : store_persona_get(s, id, out);
}

int store_persona_each(store *s, bool enabled_only, store_persona_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  /* Its own statement: fn may call back into the store. */
  if (sqlite3_prepare_v2(s->db,
                         "SELECT " PERSONA_COLS " FROM personas WHERE ?1 = 0 OR enabled = 1 "
                         "ORDER BY name COLLATE NOCASE, id",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing personas");
  sqlite3_bind_int(st, 1, enabled_only ? 1 : 0);
  store_persona p;
  store_persona_init(&p);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    read_row(st, &p);
    if ((rc = fn(&p, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing personas");
  store_persona_free(&p);
  sqlite3_finalize(st);
  return rc;
}

int store_persona_count(store *s, int64_t *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM personas", &st)) return MIMIC_EDB;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 0 : store_err(s, "counting personas");
}

/* ---- writes ---- */

static void bind_opt(sqlite3_stmt *st, int i, const char *t) {
  if (t)
    sqlite3_bind_text(st, i, t, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* Claims the name and aliases of persona id, after checking no other persona holds one. */
static int claim_names(store *s, const store_persona *p) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM persona_names WHERE persona_id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, p->id);
  int rc = store__step_done(s, st, "renaming a persona");
  for (size_t i = 0; !rc && i <= p->aliases.n; i++) {
    const char *n = i == 0 ? p->name : p->aliases.v[i - 1];
    int64_t holder = 0;
    int f = store_persona_find(s, n, &holder);
    if (f == 0 && holder == p->id) continue; /* repeated in its own list */
    if (f == 0) {
      store_persona other;
      store_persona_init(&other);
      const char *who = store_persona_get(s, holder, &other) == 0 ? other.name : "another one";
      rc = err_set(MIMIC_EINVAL, "\"%s\" is already the name or an alias of persona %s", n, who);
      store_persona_free(&other);
      break;
    }
    if (f != MIMIC_ENOTFOUND) return f;
    if (store_stmt(s, "INSERT INTO persona_names(name, persona_id, alias) VALUES (?1, ?2, ?3)",
                   &st))
      return MIMIC_EDB;
    store__bind_text(st, 1, n);
    sqlite3_bind_int64(st, 2, p->id);
    sqlite3_bind_int(st, 3, i > 0);
    rc = store__step_done(s, st, "saving a persona's name");
  }
  return rc;
}

/* Binds every column but id, created_ms and updated_ms as ?1..?28 (see the SQL below). */
static void bind_fields(sqlite3_stmt *st, const store_persona *p, char *lists[6]) {
  int c = 1;
  store__bind_text(st, c++, p->name);
  sqlite3_bind_text(st, c++, lists[0], -1, SQLITE_STATIC);
  bind_opt(st, c++, p->avatar);
  store__bind_text(st, c++, p->description);
  store__bind_text(st, c++, p->personality);
  store__bind_text(st, c++, p->scenario);
  store__bind_text(st, c++, p->first_mes);
  store__bind_text(st, c++, p->mes_example);
  store__bind_text(st, c++, p->system_prompt);
  store__bind_text(st, c++, p->post_history_instructions);
  sqlite3_bind_text(st, c++, lists[1], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, c++, lists[2], -1, SQLITE_STATIC);
  store__bind_text(st, c++, p->creator_notes);
  store__bind_text(st, c++, p->creator);
  store__bind_text(st, c++, p->character_version);
  bind_opt(st, c++, p->extensions);
  bind_opt(st, c++, p->character_book);
  bind_opt(st, c++, p->adapter);
  sqlite3_bind_double(st, c++, p->adapter_scale);
  if (p->has_temperature)
    sqlite3_bind_double(st, c++, p->temperature);
  else
    sqlite3_bind_null(st, c++);
  if (p->has_top_p)
    sqlite3_bind_double(st, c++, p->top_p);
  else
    sqlite3_bind_null(st, c++);
  if (p->has_max_tokens)
    sqlite3_bind_int64(st, c++, p->max_tokens);
  else
    sqlite3_bind_null(st, c++);
  sqlite3_bind_text(st, c++, lists[3], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, c++, lists[4], -1, SQLITE_STATIC);
  sqlite3_bind_text(st, c++, lists[5], -1, SQLITE_STATIC);
  bind_opt(st, c++, p->lore_scope);
  sqlite3_bind_double(st, c++, p->freewill);
  sqlite3_bind_int(st, c++, p->enabled ? 1 : 0);
}

static int make_lists(const store_persona *p, char *lists[6]) {
  lists[0] = strv_json(&p->aliases);
  lists[1] = strv_json(&p->alternate_greetings);
  lists[2] = strv_json(&p->tags);
  lists[3] = strv_json(&p->keywords);
  lists[4] = strv_json(&p->regexes);
  lists[5] = ids_json(p->channels, p->n_channels);
  for (int i = 0; i < 6; i++)
    if (!lists[i]) return err_set(MIMIC_ENOMEM, "persona %s: out of memory", nz(p->name));
  return 0;
}

static void free_lists(char *lists[6]) {
  for (int i = 0; i < 6; i++) free(lists[i]); /* Jansson's allocator */
}

static int write_persona(store *s, store_persona *p, bool insert) {
  int rc = store_persona_check(p);
  if (rc) return rc;
  char *lists[6] = {0};
  if ((rc = make_lists(p, lists)) != 0) goto out;
  if ((rc = store_tx_begin(s)) != 0) goto out;
  int64_t now = clock_wall_ms();
  sqlite3_stmt *st;
  if (insert) {
    rc = store_stmt(s,
                    "INSERT INTO personas(name, aliases, avatar, description, personality, "
                    "scenario, first_mes, mes_example, system_prompt, post_history_instructions, "
                    "alternate_greetings, tags, creator_notes, creator, character_version, "
                    "extensions, character_book, adapter, adapter_scale, temperature, top_p, "
                    "max_tokens, keywords, regexes, channels, lore_scope, freewill, enabled, "
                    "created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, "
                    "?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, "
                    "?26, ?27, ?28, ?29, ?29)",
                    &st);
  } else {
    rc = store_stmt(s,
                    "UPDATE personas SET name = ?1, aliases = ?2, avatar = ?3, description = ?4, "
                    "personality = ?5, scenario = ?6, first_mes = ?7, mes_example = ?8, "
                    "system_prompt = ?9, post_history_instructions = ?10, "
                    "alternate_greetings = ?11, tags = ?12, creator_notes = ?13, creator = ?14, "
                    "character_version = ?15, extensions = ?16, character_book = ?17, "
                    "adapter = ?18, adapter_scale = ?19, temperature = ?20, top_p = ?21, "
                    "max_tokens = ?22, keywords = ?23, regexes = ?24, channels = ?25, "
                    "lore_scope = ?26, freewill = ?27, enabled = ?28, updated_ms = ?29 "
                    "WHERE id = ?30",
                    &st);
  }
  if (rc) goto rollback;
  bind_fields(st, p, lists);
  sqlite3_bind_int64(st, 29, now);
  if (!insert) sqlite3_bind_int64(st, 30, p->id);
  if ((rc = store__step_done(s, st, insert ? "adding a persona" : "updating a persona")) != 0)
    goto rollback;
  if (insert) {
    p->id = sqlite3_last_insert_rowid(s->db);
    p->created_ms = now;
  } else if (sqlite3_changes(s->db) == 0) {
    rc = err_set(MIMIC_ENOTFOUND, "no persona with id %lld", (long long)p->id);
    goto rollback;
  }
  if ((rc = claim_names(s, p)) != 0) goto rollback;
  if ((rc = store_tx_commit(s)) != 0) goto out;
  p->updated_ms = now;
  goto out;
rollback:
  store_tx_rollback(s);
  if (insert) p->id = 0;
out:
  free_lists(lists);
  return rc;
}

int store_persona_add(store *s, store_persona *p) {
  p->id = 0;
  return write_persona(s, p, true);
}

int store_persona_update(store *s, store_persona *p) { return write_persona(s, p, false); }

int store_persona_set_adapter(store *s, int64_t id, const char *adapter, double scale) {
  if (!(scale > 0 && scale <= 4))
    return err_set(MIMIC_ERANGE, "the adapter scale must be above 0 and at most 4, not %g", scale);
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE personas SET adapter = ?1, adapter_scale = ?2, updated_ms = ?3 "
                 "WHERE id = ?4",
                 &st))
    return MIMIC_EDB;
  bind_opt(st, 1, adapter);
  sqlite3_bind_double(st, 2, scale);
  sqlite3_bind_int64(st, 3, clock_wall_ms());
  sqlite3_bind_int64(st, 4, id);
  int rc = store__step_done(s, st, "setting a persona's adapter");
  if (rc) return rc;
  return sqlite3_changes(s->db)
             ? 0
             : err_set(MIMIC_ENOTFOUND, "no persona with id %lld", (long long)id);
}

int store_persona_remove(store *s, int64_t id) {
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  if ((rc = store_stmt(s, "DELETE FROM layered_settings WHERE kind = 1 AND scope_id = ?1", &st)))
    goto fail;
  sqlite3_bind_int64(st, 1, id);
  if ((rc = store__step_done(s, st, "removing a persona's settings"))) goto fail;
  if ((rc = store_stmt(s, "DELETE FROM persona_names WHERE persona_id = ?1", &st))) goto fail;
  sqlite3_bind_int64(st, 1, id);
  if ((rc = store__step_done(s, st, "removing a persona's names"))) goto fail;
  if ((rc = store_stmt(s, "DELETE FROM personas WHERE id = ?1", &st))) goto fail;
  sqlite3_bind_int64(st, 1, id);
  if ((rc = store__step_done(s, st, "removing a persona"))) goto fail;
  if (sqlite3_changes(s->db) == 0) {
    rc = err_set(MIMIC_ENOTFOUND, "no persona with id %lld", (long long)id);
    goto fail;
  }
  return store_tx_commit(s);
fail:
  store_tx_rollback(s);
  return rc;
}

/* ---- layered settings ---- */

const char *store_scope_name(store_scope kind) {
  switch (kind) {
  case STORE_SCOPE_PERSONA: return "persona";
  case STORE_SCOPE_CHANNEL: return "channel";
  case STORE_SCOPE_GUILD: return "guild";
  case STORE_SCOPE_GLOBAL: break;
  }
  return "global";
}

void store_layer_src_describe(const store_layer_src *src, char *out, size_t cap) {
  if (src->kind == STORE_SCOPE_GLOBAL)
    snprintf(out, cap, "global (%s)", cfg_source_name(src->cfg_src));
  else
    snprintf(out, cap, "%s %llu", store_scope_name(src->kind), (unsigned long long)src->id);
}

static int check_scope(store_scope kind, uint64_t id) {
  if (kind != STORE_SCOPE_PERSONA && kind != STORE_SCOPE_CHANNEL && kind != STORE_SCOPE_GUILD)
    return err_set(MIMIC_EINVAL, "a layered setting belongs to a persona, a channel or a guild");
  if (id == 0 || id >= (1ull << 63))
    return err_set(MIMIC_EINVAL, "a %s setting needs the %s's id", store_scope_name(kind),
                   store_scope_name(kind));
  return 0;
}

static int check_key(const char *key) {
  const cfg_key *k = key ? cfg_key_find(key) : NULL;
  if (!k) return err_set(MIMIC_EINVAL, "%s is not a setting (see mimic config keys)", nz(key));
  if (k->secret) return err_set(MIMIC_EINVAL, "%s is a secret and cannot be layered", key);
  return 0;
}

int store_layer_set(store *s, store_scope kind, uint64_t id, const char *key, const char *value) {
  int rc = check_scope(kind, id);
  if (!rc) rc = check_key(key);
  if (rc) return rc;
  if (!value) value = "";
  if (strlen(value) > STORE_SETTING_MAX)
    return err_set(MIMIC_ERANGE, "setting %s: value over the %d-byte cap", key, STORE_SETTING_MAX);
  if ((rc = cfg_key_check(cfg_key_id(cfg_key_find(key)), value)) != 0) return rc;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO layered_settings(kind, scope_id, key, value, updated_ms) "
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(kind, scope_id, key) DO UPDATE SET "
                 "value = excluded.value, updated_ms = excluded.updated_ms",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int(st, 1, (int)kind);
  sqlite3_bind_int64(st, 2, (int64_t)id);
  store__bind_text(st, 3, key);
  store__bind_text(st, 4, value);
  sqlite3_bind_int64(st, 5, clock_wall_ms());
  return store__step_done(s, st, "saving a layered setting");
}

int store_layer_get(store *s, store_scope kind, uint64_t id, const char *key, buf *out) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT value FROM layered_settings WHERE kind = ?1 AND scope_id = ?2 AND "
                 "key = ?3",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int(st, 1, (int)kind);
  sqlite3_bind_int64(st, 2, (int64_t)id);
  store__bind_text(st, 3, key);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    buf_reset(out);
    int r = buf_puts(out, store__col_text(st, 0));
    sqlite3_reset(st);
    return r ? err_set(r, "setting %s: value too long for the caller's buffer", key) : 0;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading a layered setting");
}

int store_layer_delete(store *s, store_scope kind, uint64_t id, const char *key) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM layered_settings WHERE kind = ?1 AND scope_id = ?2 AND key = ?3",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int(st, 1, (int)kind);
  sqlite3_bind_int64(st, 2, (int64_t)id);
  store__bind_text(st, 3, key);
  return store__step_done(s, st, "deleting a layered setting");
}

int store_layer_each(store *s, store_scope kind, uint64_t id, store_layer_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT kind, scope_id, key, value FROM layered_settings "
                         "WHERE ?1 = 0 OR (kind = ?1 AND scope_id = ?2) ORDER BY kind, scope_id, "
                         "key",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing layered settings");
  sqlite3_bind_int(st, 1, (int)kind);
  sqlite3_bind_int64(st, 2, (int64_t)id);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW)
    if ((rc = fn((store_scope)sqlite3_column_int(st, 0), store__col_id(st, 1),
                 store__col_text(st, 2), store__col_text(st, 3), user)) != 0)
      break;
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing layered settings");
  sqlite3_finalize(st);
  return rc;
}

/* The persona row's own sampling override for key, if it has one. */
static int persona_override(store *s, int64_t persona_id, cfg_id id, buf *out, bool *found) {
  *found = false;
  const char *col = id == CFG_ENGINE_TEMPERATURE  ? "temperature"
                    : id == CFG_ENGINE_TOP_P      ? "top_p"
                    : id == CFG_ENGINE_MAX_TOKENS ? "max_tokens"
                                                  : NULL;
  if (!col) return 0;
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT temperature, top_p, max_tokens FROM personas WHERE id = ?1", &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, persona_id);
  int rc = sqlite3_step(st), r = 0;
  int c = id == CFG_ENGINE_TEMPERATURE ? 0 : id == CFG_ENGINE_TOP_P ? 1 : 2;
  if (rc == SQLITE_ROW && sqlite3_column_type(st, c) != SQLITE_NULL) {
    *found = true;
    buf_reset(out);
    if (c == 2)
      r = buf_printf(out, "%lld", (long long)sqlite3_column_int64(st, c));
    else
      r = buf_printf(out, "%g", sqlite3_column_double(st, c));
  }
  sqlite3_reset(st);
  if (r) return err_set(r, "setting %s: out of memory", col);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_err(s, "reading a persona's sampling");
}

int store_layer_resolve(store *s, const cfg *c, int64_t persona_id, uint64_t channel_id,
                        uint64_t guild_id, const char *key, buf *out, store_layer_src *src) {
  const cfg_key *k = key ? cfg_key_find(key) : NULL;
  if (!k) return err_set(MIMIC_EINVAL, "%s is not a setting (see mimic config keys)", nz(key));
  store_layer_src where = {STORE_SCOPE_GLOBAL, 0, CFG_SRC_DEFAULT};
  struct {
    store_scope kind;
    uint64_t id;
  } layers[] = {{STORE_SCOPE_PERSONA, (uint64_t)(persona_id > 0 ? persona_id : 0)},
                {STORE_SCOPE_CHANNEL, channel_id},
                {STORE_SCOPE_GUILD, guild_id}};
  for (size_t i = 0; i < 3; i++) {
    if (layers[i].id == 0) continue;
    int rc = store_layer_get(s, layers[i].kind, layers[i].id, key, out);
    if (rc == 0) {
      where.kind = layers[i].kind;
      where.id = layers[i].id;
      goto found;
    }
    if (rc != MIMIC_ENOTFOUND) return rc;
    if (layers[i].kind == STORE_SCOPE_PERSONA) {
      bool have = false;
      if ((rc = persona_override(s, persona_id, cfg_key_id(k), out, &have)) != 0) return rc;
      if (have) {
        where.kind = STORE_SCOPE_PERSONA;
        where.id = layers[i].id;
        goto found;
      }
    }
  }
  buf_reset(out);
  cfg_id id = cfg_key_id(k);
  int rc = buf_puts(out, c ? cfg_str(c, id) : cfg_key_default(id));
  if (rc) return err_set(rc, "setting %s: out of memory", key);
  where.cfg_src = c ? cfg_source_of(c, id) : CFG_SRC_DEFAULT;
found:
  if (src) *src = where;
  return 0;
}
