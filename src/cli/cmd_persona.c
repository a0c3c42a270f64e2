/* `mimic persona add|import|list|show|edit|remove|export|gen-data`: the personas in the store
 * (store/persona.h), character cards in and out (collect/card.h), and synthetic training
 * conversations generated from a card by the base model. Also the data side of
 * `mimic train --persona` (cli_persona_train_data), which cmd_train.c calls. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/engine_opts.h"
#include "cli/flags.h"
#include "collect/card.h"
#include "collect/collect.h"
#include "store/persona.h"
#include "store/store.h"

#define GEN_LORE_BYTES  8192 /* lore in a gen-data system prompt */
#define GEN_TURNS_MAX   16
#define GEN_SAMPLES_MAX 1000000

/* ---- the fields, by their card (V2/V3) names and mimic's own ---- */

typedef enum { F_TEXT, F_LIST, F_IDS, F_NUM, F_OPTNUM, F_OPTINT, F_BOOL, F_RAW } fkind;

typedef struct field {
  const char *name; /* the card's name, or mimic's; options spell '_' as '-' */
  fkind kind;
  size_t off;     /* of the value in store_persona */
  size_t has_off; /* F_OPTNUM / F_OPTINT: of the has_ flag */
  const char *help;
} field;

#define OFF(m) offsetof(store_persona, m)
static const field fields[] = {
    {"name", F_TEXT, OFF(name), 0, "the name people call it by"},
    {"aliases", F_LIST, OFF(aliases), 0, "other names it answers to"},
    {"avatar", F_TEXT, OFF(avatar), 0, "https URL or local image file"},
    {"description", F_TEXT, OFF(description), 0, "who the character is"},
    {"personality", F_TEXT, OFF(personality), 0, "a short personality summary"},
    {"scenario", F_TEXT, OFF(scenario), 0, "the situation"},
    {"first_mes", F_TEXT, OFF(first_mes), 0, "its greeting"},
    {"mes_example", F_TEXT, OFF(mes_example), 0, "example dialogue (<START> separated)"},
    {"system_prompt", F_TEXT, OFF(system_prompt), 0,
     "template with {{char}} {{user}} {{original}}"},
    {"post_history_instructions", F_TEXT, OFF(post_history_instructions), 0,
     "instructions after the history"},
    {"alternate_greetings", F_LIST, OFF(alternate_greetings), 0, "other greetings"},
    {"tags", F_LIST, OFF(tags), 0, "tags"},
    {"creator_notes", F_TEXT, OFF(creator_notes), 0, "notes for people (never in prompts)"},
    {"creator", F_TEXT, OFF(creator), 0, "who made the card"},
    {"character_version", F_TEXT, OFF(character_version), 0, "the card's version"},
    {"extensions", F_RAW, OFF(extensions), 0, "the card's extensions (JSON object)"},
    {"character_book", F_RAW, OFF(character_book), 0, "the card's lore book (JSON object)"},
    {"adapter", F_TEXT, OFF(adapter), 0, "LoRA adapter .gguf (its voice)"},
    {"adapter_scale", F_NUM, OFF(adapter_scale), 0, "the adapter's strength (0..4]"},
    {"temperature", F_OPTNUM, OFF(temperature), OFF(has_temperature), "sampling temperature"},
    {"top_p", F_OPTNUM, OFF(top_p), OFF(has_top_p), "nucleus sampling"},
    {"max_tokens", F_OPTINT, OFF(max_tokens), OFF(has_max_tokens), "most tokens per reply"},
    {"keywords", F_LIST, OFF(keywords), 0, "trigger words"},
    {"regexes", F_LIST, OFF(regexes), 0, "trigger regular expressions"},
    {"channels", F_IDS, OFF(channels), 0, "channel ids it may speak in (none: all)"},
    {"lore_scope", F_TEXT, OFF(lore_scope), 0, "the lore scope it reads (default: its name)"},
    {"freewill", F_NUM, OFF(freewill), 0, "0..1 chance of an unprompted reply"},
    {"enabled", F_BOOL, OFF(enabled), 0, "whether it speaks at all"},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static const field *field_find(const char *name) {
  char norm[64];
  size_t i = 0;
  for (; name[i] && i + 1 < sizeof norm; i++) norm[i] = name[i] == '-' ? '_' : name[i];
  norm[i] = 0;
  for (size_t k = 0; k < N_FIELDS; k++)
    if (strcmp(fields[k].name, norm) == 0) return &fields[k];
  if (strcmp(norm, "scale") == 0) return field_find("adapter_scale");
  return NULL;
}

#define AT(p, f, T) ((T *)((char *)(p) + (f)->off))

/* Sets one field from text. Lists: a JSON array of strings, or comma-separated items; append adds
 * to the list instead of replacing it. Optional numbers: "" or "none" unsets. */
static int field_set(store_persona *p, const field *f, const char *v, bool append) {
  switch (f->kind) {
  case F_TEXT:
  case F_RAW: {
    char **s = AT(p, f, char *);
    mem_free(*s);
    *s = *v ? xstrdup(v) : NULL;
    return 0;
  }
  case F_LIST: {
    store_strv *l = AT(p, f, store_strv);
    if (!append) store_strv_free(l);
    if (*v == '[') {
      json_t *a = json_loads(v, 0, NULL);
      size_t i;
      json_t *e;
      int rc = json_is_array(a) ? 0 : MIMIC_EINVAL;
      if (!rc) json_array_foreach(a, i, e) {
          if (!json_is_string(e)) rc = MIMIC_EINVAL;
          if (rc || (rc = store_strv_push(l, json_string_value(e)))) break;
        }
      json_decref(a);
      return rc == MIMIC_EINVAL ? err_set(rc, "%s: '%s' is not a JSON list of strings", f->name, v)
                                : rc;
    }
    const char *s = v;
    while (*s) {
      const char *e = strchr(s, ',');
      size_t n = e ? (size_t)(e - s) : strlen(s);
      char *item = mem_strndup(s, n);
      str_trim(item);
      int rc = *item ? store_strv_push(l, item) : 0;
      mem_free(item);
      if (rc) return rc;
      s += n + (e ? 1 : 0);
    }
    return 0;
  }
  case F_IDS: {
    if (!append) {
      mem_free(p->channels);
      p->channels = NULL;
      p->n_channels = 0;
    }
    const char *s = v;
    while (*s) {
      const char *e = strchr(s, ',');
      size_t n = e ? (size_t)(e - s) : strlen(s);
      char *item = mem_strndup(s, n);
      char *t = str_trim(item);
      if (str_starts_with(t, "<#") && str_ends_with(t, ">")) {
        t[strlen(t) - 1] = 0;
        t += 2;
      }
      uint64_t id = 0;
      int rc = *t ? str_to_u64(t, &id) : 0;
      if (rc || (*t && id == 0)) {
        rc = err_set(MIMIC_EINVAL, "channels: '%s' is not a channel id", t);
        mem_free(item);
        return rc;
      }
      mem_free(item);
      if (id) {
        p->channels = xrealloc(p->channels, (p->n_channels + 1) * sizeof *p->channels);
        p->channels[p->n_channels++] = id;
      }
      s += n + (e ? 1 : 0);
    }
    return 0;
  }
  case F_NUM:
    if (str_to_double(v, AT(p, f, double)))
      return err_set(MIMIC_EINVAL, "%s: '%s' is not a number", f->name, v);
    return 0;
  case F_OPTNUM:
  case F_OPTINT: {
    bool *has = (bool *)((char *)p + f->has_off);
    if (!*v || strcmp(v, "none") == 0) {
      *has = false;
      return 0;
    }
    int rc =
        f->kind == F_OPTNUM ? str_to_double(v, AT(p, f, double)) : str_to_i64(v, AT(p, f, int64_t));
    if (rc)
      return err_set(MIMIC_EINVAL, "%s: '%s' is not a %s (or none)", f->name, v,
                     f->kind == F_OPTNUM ? "number" : "whole number");
    *has = true;
    return 0;
  }
  case F_BOOL:
    if (str_to_bool(v, AT(p, f, bool)))
      return err_set(MIMIC_EINVAL, "%s: '%s' is not true or false", f->name, v);
    return 0;
  }
  return 0;
}

/* ---- JSON out ---- */

static json_t *strv_json(const store_strv *l) {
  json_t *a = json_array();
  for (size_t i = 0; i < l->n; i++) json_array_append_new(a, json_string(l->v[i]));
  return a;
}

static json_t *text_json(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *raw_json(const char *s) {
  json_t *v = s ? json_loads(s, 0, NULL) : NULL;
  return v ? v : json_null();
}

/* Every stored field: the card's under their V2/V3 names, then mimic's own. */
static json_t *persona_json(const store_persona *p) {
  json_t *o = json_object();
  json_object_set_new(o, "name", json_string(p->name ? p->name : ""));
  const char *texts[] = {"description",
                         "personality",
                         "scenario",
                         "first_mes",
                         "mes_example",
                         "system_prompt",
                         "post_history_instructions"};
  for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
    const char *v = *AT(p, field_find(texts[i]), char *);
    json_object_set_new(o, texts[i], json_string(v ? v : ""));
  }
  json_object_set_new(o, "alternate_greetings", strv_json(&p->alternate_greetings));
  json_object_set_new(o, "tags", strv_json(&p->tags));
  json_object_set_new(o, "creator_notes", json_string(p->creator_notes ? p->creator_notes : ""));
  json_object_set_new(o, "creator", json_string(p->creator ? p->creator : ""));
  json_object_set_new(o, "character_version",
                      json_string(p->character_version ? p->character_version : ""));
  json_t *ext = raw_json(p->extensions);
  json_object_set_new(o, "extensions", json_is_null(ext) ? json_object() : ext);
  json_object_set_new(o, "character_book", raw_json(p->character_book));
  json_object_set_new(o, "id", json_integer(p->id));
  json_object_set_new(o, "aliases", strv_json(&p->aliases));
  json_object_set_new(o, "avatar", text_json(p->avatar));
  json_object_set_new(o, "adapter", text_json(p->adapter));
  json_object_set_new(o, "adapter_scale", json_real(p->adapter_scale));
  json_object_set_new(o, "temperature",
                      p->has_temperature ? json_real(p->temperature) : json_null());
  json_object_set_new(o, "top_p", p->has_top_p ? json_real(p->top_p) : json_null());
  json_object_set_new(o, "max_tokens",
                      p->has_max_tokens ? json_integer(p->max_tokens) : json_null());
  json_t *trig = json_object();
  json_object_set_new(trig, "keywords", strv_json(&p->keywords));
  json_object_set_new(trig, "regexes", strv_json(&p->regexes));
  json_object_set_new(o, "triggers", trig);
  json_t *ch = json_array();
  char num[24];
  for (size_t i = 0; i < p->n_channels; i++) {
    snprintf(num, sizeof num, "%llu", (unsigned long long)p->channels[i]);
    json_array_append_new(ch, json_string(num));
  }
  json_object_set_new(o, "channels", ch);
  json_object_set_new(o, "lore_scope", json_string(p->lore_scope ? p->lore_scope : p->name));
  json_object_set_new(o, "freewill", json_real(p->freewill));
  json_object_set_new(o, "enabled", json_boolean(p->enabled));
  char when[32];
  clock_iso8601(p->created_ms, when);
  json_object_set_new(o, "created", json_string(when));
  clock_iso8601(p->updated_ms, when);
  json_object_set_new(o, "updated", json_string(when));
  return o;
}

static int print_json(json_t *v) {
  char *txt = json_dumps(v, JSON_INDENT(2));
  json_decref(v);
  if (!txt) {
    cli_error("out of memory");
    return 1;
  }
  puts(txt);
  free(txt);
  return 0;
}

/* ---- helpers ---- */

/* <data.dir>/personas/<name>, the name made safe as one folder name. */
static void persona_dir(const cfg *c, const char *name, char *out, size_t cap) {
  char safe[STORE_PERSONA_NAME_MAX * 2 + 1];
  size_t k = 0;
  for (size_t i = 0; name[i] && k + 1 < sizeof safe; i++) {
    unsigned char ch = (unsigned char)name[i];
    bool bad = ch < 0x20 || ch == '/' || ch == '\\' || ch == ':' || (k == 0 && ch == '.');
    safe[k++] = bad ? '_' : (char)ch;
  }
  safe[k] = 0;
  snprintf(out, cap, "%s/personas/%s", cfg_str(c, CFG_DATA_DIR), safe);
}

/* Opens the store and reads the persona named (or aliased) name; prints why not. */
static store *open_persona(const cfg *c, const char *name, store_persona *p) {
  store *s = cli_store_open(c);
  if (!s) return NULL;
  int rc = store_persona_by_name(s, name, p);
  if (rc == 0) return s;
  if (rc == MIMIC_ENOTFOUND)
    cli_error("no persona is named '%s' (see mimic persona list)", name);
  else
    cli_error("%s", err_msg());
  store_close(s);
  return NULL;
}

/* ---- add ---- */

typedef struct set_ctx {
  store_persona *p;
  const field *f;
} set_ctx;

static int set_each(const char *value, void *user) {
  set_ctx *x = user;
  if (field_set(x->p, x->f, value, true)) {
    cli_error("%s", err_msg());
    return 1;
  }
  return 0;
}

static int persona_add(int argc, char **argv) {
  store_persona p;
  store_persona_init(&p);
  set_ctx ctx[N_FIELDS];
  cli_opt opts[N_FIELDS + 1];
  char names[N_FIELDS][40];
  memset(opts, 0, sizeof opts);
  size_t n = 0;
  for (size_t i = 1; i < N_FIELDS; i++) { /* every field but the name, which is the argument */
    size_t k = 0;
    for (; fields[i].name[k] && k + 1 < sizeof names[0]; k++)
      names[n][k] = fields[i].name[k] == '_' ? '-' : fields[i].name[k];
    names[n][k] = 0;
    ctx[n] = (set_ctx){&p, &fields[i]};
    opts[n] = (cli_opt){.name = names[n],
                        .type = CLI_STR,
                        .meta = "VALUE",
                        .help = fields[i].help,
                        .repeat = fields[i].kind == F_LIST || fields[i].kind == F_IDS,
                        .each = set_each,
                        .user = &ctx[n]};
    n++;
  }
  const cli_spec spec = {
      .name = "persona add",
      .args = "NAME",
      .min_args = 1,
      .max_args = 1,
      .summary = "Adds a persona. Lists take several values (repeat the option, or commas, or a "
                 "JSON list);\nevery field can be changed later with mimic persona edit.",
      .example = "persona add Glordon --description 'A purple alien' --aliases Glordie "
                 "--keywords potato --freewill 0.1",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) {
    store_persona_free(&p);
    return status;
  }
  status = 1;
  p.name = xstrdup(a.pos[0]);
  store *s = cli_store_open(c);
  if (s && store_persona_add(s, &p) == 0) {
    printf("persona %s added (id %lld)\n", p.name, (long long)p.id);
    status = 0;
  } else if (s) {
    cli_error("%s", err_msg());
  }
  store_close(s);
  store_persona_free(&p);
  cfg_destroy(c);
  return status;
}

/* ---- import ---- */

static int persona_import(int argc, char **argv) {
  const char *name = NULL;
  bool replace = false;
  const cli_opt opts[] = {{.name = "name",
                           .type = CLI_STR,
                           .dest = &name,
                           .meta = "NAME",
                           .help = "store it under this name instead of the card's"},
                          {.name = "replace",
                           .type = CLI_BOOL,
                           .dest = &replace,
                           .help = "replace the persona of that name if there is one"},
                          {0}};
  const cli_spec spec = {
      .name = "persona import",
      .args = "FILE",
      .min_args = 1,
      .max_args = 1,
      .summary = "Imports a SillyTavern character card (V2 or V3; JSON, or PNG with a chara/ccv3 "
                 "chunk). A PNG\nbecomes the persona's avatar (copied to "
                 "<data.dir>/personas/NAME/avatar.png); an embedded\ncharacter_book is kept with "
                 "the persona.",
      .example = "persona import glordon.png\npersona import card.json --name Elio",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  const char *path = a.pos[0];
  char *data = NULL;
  size_t n = 0;
  store *s = NULL;
  store_persona p, old;
  store_persona_init(&p);
  store_persona_init(&old);
  card_meta m;
  if (fs_read_file(path, CARD_FILE_MAX, &data, &n)) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (card_parse(data, n, &p, &m)) {
    cli_error("%s: %s", path, err_msg());
    goto out;
  }
  if (name) {
    mem_free(p.name);
    p.name = xstrdup(name);
  }
  if (!(s = cli_store_open(c))) goto out;
  int rc = store_persona_by_name(s, p.name, &old);
  if (rc == 0 && !replace) {
    cli_error("a persona named %s already exists; remove it, import with --name NEW, or use "
              "--replace",
              old.name);
    goto out;
  }
  if (rc && rc != MIMIC_ENOTFOUND) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (m.png) {
    char dir[2048], avatar[2100];
    persona_dir(c, p.name, dir, sizeof dir);
    snprintf(avatar, sizeof avatar, "%s/avatar.png", dir);
    if (fs_mkdirs(dir) || fs_write_atomic(avatar, data, n)) {
      cli_error("%s", err_msg());
      goto out;
    }
    p.avatar = xstrdup(avatar);
  }
  if (rc == 0) {
    /* --replace: the card's fields over the old persona; mimic's local ones (adapter, channels,
     * enabled) stay unless the card set them. */
    p.id = old.id;
    if (!p.adapter && old.adapter) {
      p.adapter = xstrdup(old.adapter);
      p.adapter_scale = old.adapter_scale;
    }
    if (!p.n_channels && old.n_channels) {
      p.channels = xcalloc(old.n_channels, sizeof *p.channels);
      memcpy(p.channels, old.channels, old.n_channels * sizeof *p.channels);
      p.n_channels = old.n_channels;
    }
    if (!p.avatar && old.avatar) p.avatar = xstrdup(old.avatar);
    rc = store_persona_update(s, &p);
  } else {
    rc = store_persona_add(s, &p);
  }
  if (rc) {
    cli_error("%s", err_msg());
    goto out;
  }
  size_t entries = 0;
  if (p.character_book) {
    json_t *b = json_loads(p.character_book, 0, NULL);
    entries = json_array_size(json_object_get(b, "entries"));
    json_decref(b);
  }
  printf("persona %s %s from a V%d card%s%s", p.name, old.id ? "replaced" : "imported", m.version,
         m.png ? " (PNG; the image is its avatar)" : "", m.both ? " (ccv3 chunk read)" : "");
  if (p.character_book)
    printf("; its character book (%zu %s) is kept with it", entries,
           entries == 1 ? "entry" : "entries");
  printf("\n");
  status = 0;
out:
  store_close(s);
  store_persona_free(&old);
  store_persona_free(&p);
  mem_free(data);
  cfg_destroy(c);
  return status;
}

/* ---- list, show ---- */

typedef struct list_ctx {
  bool json;
  json_t *arr;
} list_ctx;

static int list_one(const store_persona *p, void *user) {
  list_ctx *x = user;
  if (x->json) {
    json_array_append_new(x->arr, persona_json(p));
    return 0;
  }
  buf al;
  buf_init(&al, 0);
  for (size_t i = 0; i < p->aliases.n; i++)
    if (buf_printf(&al, "%s%s", i ? ", " : "", p->aliases.v[i])) break;
  printf("%-20s %-8s freewill %.2f  triggers %zu  %s%s%s\n", p->name,
         p->enabled ? "enabled" : "disabled", p->freewill, p->keywords.n + p->regexes.n,
         p->adapter ? "adapter " : "base model", p->adapter ? p->adapter : "", al.len ? "" : "");
  if (al.len) printf("%-20s aliases: %s\n", "", al.data);
  buf_free(&al);
  return 0;
}

static int persona_list(int argc, char **argv) {
  bool json = false;
  const cli_opt opts[] = {
      {.name = "json", .type = CLI_BOOL, .dest = &json, .help = "every field, as JSON"}, {0}};
  const cli_spec spec = {.name = "persona list",
                         .summary = "Lists the personas. The community voice (the bot user "
                                    "itself) is the default persona\nand is not listed.",
                         .example = "persona list --json",
                         .config = true,
                         .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  list_ctx x = {json, json ? json_array() : NULL};
  if (s && store_persona_each(s, false, list_one, &x) == 0) {
    status = json ? print_json(x.arr) : 0;
    x.arr = NULL;
  } else if (s) {
    cli_error("%s", err_msg());
  }
  json_decref(x.arr);
  store_close(s);
  cfg_destroy(c);
  return status;
}

static int print_layer(store_scope kind, uint64_t id, const char *key, const char *value,
                       void *user) {
  (void)kind;
  (void)id;
  (void)user;
  printf("  %s = %s\n", key, value);
  return 0;
}

static void show_text(const char *label, const char *v) {
  if (v && *v) printf("%s: %s\n", label, v);
}

static void show_list(const char *label, const store_strv *l) {
  if (!l->n) return;
  printf("%s:", label);
  for (size_t i = 0; i < l->n; i++) printf("%s %s", i ? "," : "", l->v[i]);
  printf("\n");
}

static int persona_show(int argc, char **argv) {
  bool json = false;
  const cli_opt opts[] = {
      {.name = "json",
       .type = CLI_BOOL,
       .dest = &json,
       .help = "every stored field as JSON (the card's under their V2/V3 names)"},
      {0}};
  const cli_spec spec = {.name = "persona show",
                         .args = "NAME",
                         .min_args = 1,
                         .max_args = 1,
                         .summary = "Shows one persona (by name or alias) and its own settings.",
                         .example = "persona show Glordon --json",
                         .config = true,
                         .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  store_persona p;
  store_persona_init(&p);
  store *s = open_persona(c, a.pos[0], &p);
  status = 1;
  if (!s) goto out;
  if (json) {
    status = print_json(persona_json(&p));
    goto out;
  }
  printf("%s (id %lld, %s)\n", p.name, (long long)p.id, p.enabled ? "enabled" : "disabled");
  show_list("aliases", &p.aliases);
  show_text("avatar", p.avatar);
  show_text("description", p.description);
  show_text("personality", p.personality);
  show_text("scenario", p.scenario);
  show_text("first_mes", p.first_mes);
  show_text("mes_example", p.mes_example);
  show_text("system_prompt", p.system_prompt);
  show_text("post_history_instructions", p.post_history_instructions);
  show_list("alternate_greetings", &p.alternate_greetings);
  show_list("tags", &p.tags);
  show_text("creator_notes", p.creator_notes);
  show_text("creator", p.creator);
  show_text("character_version", p.character_version);
  printf("adapter: %s (scale %g)\n", p.adapter ? p.adapter : "none: the base model with the card",
         p.adapter_scale);
  if (p.has_temperature) printf("temperature: %g\n", p.temperature);
  if (p.has_top_p) printf("top_p: %g\n", p.top_p);
  if (p.has_max_tokens) printf("max_tokens: %lld\n", (long long)p.max_tokens);
  show_list("keywords", &p.keywords);
  show_list("regexes", &p.regexes);
  if (p.n_channels) {
    printf("channels:");
    for (size_t i = 0; i < p.n_channels; i++)
      printf("%s %llu", i ? "," : "", (unsigned long long)p.channels[i]);
    printf("\n");
  } else {
    printf("channels: every channel\n");
  }
  printf("lore_scope: %s\nfreewill: %g\n", p.lore_scope ? p.lore_scope : p.name, p.freewill);
  if (p.character_book) printf("character_book: kept (%zu bytes)\n", strlen(p.character_book));
  printf("settings of this persona:\n");
  if (store_layer_each(s, STORE_SCOPE_PERSONA, (uint64_t)p.id, print_layer, NULL)) {
    cli_error("%s", err_msg());
    goto out;
  }
  status = 0;
out:
  store_close(s);
  store_persona_free(&p);
  cfg_destroy(c);
  return status;
}

/* ---- edit, remove ---- */

typedef struct edit_ctx {
  const char *sets[256];
  int n;
} edit_ctx;

static int edit_each(const char *value, void *user) {
  edit_ctx *x = user;
  if (x->n == 256) {
    cli_error("at most 256 --set options");
    return 1;
  }
  x->sets[x->n++] = value;
  return 0;
}

static int persona_edit(int argc, char **argv) {
  edit_ctx x = {{0}, 0};
  char help[1024];
  size_t k = 0;
  for (size_t i = 0; i < N_FIELDS && k < sizeof help; i++)
    k += (size_t)snprintf(help + k, sizeof help - k, "%s%s", i ? ", " : "", fields[i].name);
  const cli_opt opts[] = {{.name = "set",
                           .type = CLI_STR,
                           .meta = "FIELD=VALUE",
                           .help = "change one field (repeatable); lists take commas or a JSON "
                                   "list, optional numbers take none",
                           .repeat = true,
                           .each = edit_each,
                           .user = &x},
                          {0}};
  char summary[1400];
  snprintf(summary, sizeof summary, "Changes fields of a persona. Fields: %s.", help);
  const cli_spec spec = {.name = "persona edit",
                         .args = "NAME",
                         .min_args = 1,
                         .max_args = 1,
                         .summary = summary,
                         .example = "persona edit Glordon --set freewill=0.2 --set "
                                    "keywords=potato,alien --set temperature=none",
                         .config = true,
                         .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  if (x.n == 0) {
    cfg_destroy(c);
    return cli_usage_error(&spec, "nothing to change: give --set FIELD=VALUE");
  }
  store_persona p;
  store_persona_init(&p);
  store *s = open_persona(c, a.pos[0], &p);
  status = 1;
  if (!s) goto out;
  for (int i = 0; i < x.n; i++) {
    const char *eq = strchr(x.sets[i], '=');
    char fname[64];
    size_t fl = eq ? (size_t)(eq - x.sets[i]) : 0;
    if (!eq || fl == 0 || fl >= sizeof fname) {
      status = cli_usage_error(&spec, "--set needs FIELD=VALUE, not '%s'", x.sets[i]);
      goto out;
    }
    memcpy(fname, x.sets[i], fl);
    fname[fl] = 0;
    const field *f = field_find(fname);
    if (!f) {
      status = cli_usage_error(&spec, "'%s' is not a persona field (fields: %s)", fname, help);
      goto out;
    }
    if (field_set(&p, f, eq + 1, false)) {
      cli_error("%s", err_msg());
      goto out;
    }
  }
  if (store_persona_update(s, &p)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("persona %s updated\n", p.name);
  status = 0;
out:
  store_close(s);
  store_persona_free(&p);
  cfg_destroy(c);
  return status;
}

static int persona_remove(int argc, char **argv) {
  const cli_spec spec = {.name = "persona remove",
                         .args = "NAME",
                         .min_args = 1,
                         .max_args = 1,
                         .summary = "Removes a persona and its settings. Its files under "
                                    "<data.dir>/personas/NAME (avatar,\nadapter, generated data) "
                                    "are left for you to delete.",
                         .example = "persona remove Glordon",
                         .config = true};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  store_persona p;
  store_persona_init(&p);
  store *s = open_persona(c, a.pos[0], &p);
  status = 1;
  if (s && store_persona_remove(s, p.id) == 0) {
    char dir[2048];
    persona_dir(c, p.name, dir, sizeof dir);
    printf("persona %s removed%s%s\n", p.name, access(dir, F_OK) == 0 ? "; its files stay in " : "",
           access(dir, F_OK) == 0 ? dir : "");
    status = 0;
  } else if (s) {
    cli_error("%s", err_msg());
  }
  store_close(s);
  store_persona_free(&p);
  cfg_destroy(c);
  return status;
}

/* ---- export ---- */

static int persona_export(int argc, char **argv) {
  const char *out = NULL;
  bool png = false;
  const cli_opt opts[] = {
      {.name = "out",
       .short_name = 'o',
       .type = CLI_PATH,
       .dest = &out,
       .meta = "FILE",
       .help = "where to write (default: standard output; NAME.png with --png)"},
      {.name = "png",
       .type = CLI_BOOL,
       .dest = &png,
       .help = "a PNG card: the avatar (a local PNG) with chara (V2) and ccv3 "
               "(V3) chunks"},
      {0}};
  const cli_spec spec = {.name = "persona export",
                         .args = "NAME",
                         .min_args = 1,
                         .max_args = 1,
                         .summary = "Writes a persona as a Character Card V3 (JSON), or as a PNG "
                                    "card with both the V2 and\nthe V3 chunk. mimic's own fields "
                                    "travel in extensions.mimic.",
                         .example = "persona export Glordon --out glordon.json\npersona export "
                                    "Glordon --png --out glordon.png",
                         .config = true,
                         .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  store_persona p;
  store_persona_init(&p);
  store *s = open_persona(c, a.pos[0], &p);
  status = 1;
  buf card;
  buf_init(&card, 0);
  char *img = NULL;
  size_t img_n = 0;
  char def[512];
  if (!s) goto out;
  if (png) {
    if (!p.avatar || str_starts_with(p.avatar, "http://") ||
        str_starts_with(p.avatar, "https://")) {
      cli_error("persona %s has no local avatar image to carry the card; export it as JSON, or "
                "set a PNG file with mimic persona edit %s --set avatar=FILE",
                p.name, p.name);
      goto out;
    }
    if (fs_read_file(p.avatar, CARD_FILE_MAX, &img, &img_n)) {
      cli_error("%s", err_msg());
      goto out;
    }
    if (!card_is_png(img, img_n)) {
      cli_error("%s: the avatar is not a PNG image; export the card as JSON instead", p.avatar);
      goto out;
    }
    if (card_png_embed(img, img_n, &p, &card)) {
      cli_error("%s: %s", p.avatar, err_msg());
      goto out;
    }
    if (!out) {
      snprintf(def, sizeof def, "%s.png", p.name);
      for (char *q = def; *q; q++)
        if (*q == '/' || *q == '\\') *q = '_';
      out = def;
    }
  } else if (card_to_json(&p, 3, &card) || buf_putc(&card, '\n')) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (!out) {
    fwrite(card.data, 1, card.len, stdout);
  } else if (fs_write_atomic(out, card.data, card.len)) {
    cli_error("%s", err_msg());
    goto out;
  } else {
    fprintf(stderr, "wrote %s (%s)\n", out, png ? "PNG card, chara + ccv3" : "Character Card V3");
  }
  status = 0;
out:
  mem_free(img);
  buf_free(&card);
  store_close(s);
  store_persona_free(&p);
  cfg_destroy(c);
  return status;
}

/* ---- gen-data ---- */

/* Generic openers for the simulated member, used besides the card's own tags and lore keys. */
static const char *const topics[] = {
    "how their day is going",
    "something they care about",
    "a question about their world",
    "a memory they like to tell",
    "a problem the member has and wants advice on",
    "what they think of the others around them",
    "a joke or a bit of teasing",
    "their plans for tomorrow",
};

/* Cleans a generated turn: trims, drops a leading "Name:" the model may write, keeps one
 * paragraph block. Returns the cleaned text in place (may be empty). */
static char *clean_turn(char *t, const char *speaker) {
  t = str_trim(t);
  size_t sl = strlen(speaker);
  if (sl && strncmp(t, speaker, sl) == 0 && t[sl] == ':') t = str_trim(t + sl + 1);
  char *cut = strstr(t, "\n\n\n");
  if (cut) *cut = 0;
  return str_trim(t);
}

typedef struct gen_ctx {
  llm_backend *b;
  llm_request base; /* sampling and max_tokens */
  const store_persona *p;
  const char *sys;        /* the character's system prompt */
  const char *member_sys; /* the simulated member's */
  const char *member;     /* the member's name */
  prng rng;
} gen_ctx;

/* One turn: as the character (assistant over the conversation) or as the member (roles flipped).
 * *out: caller frees. */
static int gen_turn(gen_ctx *g, bool as_char, const char *const *turns, size_t n,
                    const char *opener, char **out) {
  llm_message m[2 * GEN_TURNS_MAX + 3];
  size_t k = 0;
  m[k++] = (llm_message){.role = "system", .content = as_char ? g->sys : g->member_sys};
  if (opener) m[k++] = (llm_message){.role = "user", .content = opener};
  for (size_t i = 0; i < n; i++) {
    bool char_turn = i % 2 == 1; /* turns alternate member, character, member, ... */
    bool mine = char_turn == as_char;
    m[k++] = (llm_message){.role = mine ? "assistant" : "user",
                           .name = mine ? NULL : (char_turn ? g->p->name : g->member),
                           .content = turns[i]};
  }
  llm_request r = g->base;
  r.messages = m;
  r.n_messages = k;
  r.prompt = NULL;
  r.sampling.seed = prng_next(&g->rng);
  r.min_tokens = 1; /* no empty turns (the local engine; a server may still send one) */
  static const char *const stops[] = {"\n\n\n"};
  r.stop = stops;
  r.n_stop = 1;
  llm_result res;
  int rc = llm_backend_generate(g->b, &r, NULL, NULL, &res);
  if (rc) {
    rc = err_set(rc, "%s", res.error_msg);
  } else {
    char *t = clean_turn(res.text, as_char ? g->p->name : g->member);
    *out = xstrdup(t);
  }
  llm_result_free(&res);
  return rc;
}

/* Gathers opening topics: the card's tags and lore keys, then the generic ones. */
static void gen_topics(const store_persona *p, store_strv *out) {
  for (size_t i = 0; i < p->tags.n; i++)
    if (store_strv_push(out, p->tags.v[i])) return;
  if (p->character_book) {
    json_t *b = json_loads(p->character_book, 0, NULL);
    size_t i;
    json_t *e;
    json_t *entries = json_object_get(b, "entries");
    if (json_is_array(entries)) json_array_foreach(entries, i, e) {
        json_t *keys = json_object_get(e, "keys");
        if (json_is_array(keys) && json_array_size(keys) > 0 &&
            json_is_string(json_array_get(keys, 0)))
          if (store_strv_push(out, json_string_value(json_array_get(keys, 0)))) break;
      }
    json_decref(b);
  }
  for (size_t i = 0; i < sizeof topics / sizeof topics[0]; i++)
    if (store_strv_push(out, topics[i])) return;
}

static int write_sample(FILE *f, const char *sys, const char *member, const char *char_name,
                        char **turns, size_t n) {
  json_t *msgs = json_array();
  json_t *s = json_object();
  json_object_set_new(s, "role", json_string("system"));
  json_object_set_new(s, "content", json_string(sys));
  json_array_append_new(msgs, s);
  for (size_t i = 0; i < n; i++) {
    json_t *m = json_object();
    bool ch = i % 2 == 1;
    json_object_set_new(m, "role", json_string(ch ? "assistant" : "user"));
    json_object_set_new(m, "name", json_string(ch ? char_name : member));
    json_object_set_new(m, "content", json_string(turns[i]));
    json_array_append_new(msgs, m);
  }
  json_t *root = json_object();
  json_object_set_new(root, "messages", msgs);
  char *txt = json_dumps(root, JSON_COMPACT);
  json_decref(root);
  if (!txt) return err_set(MIMIC_ENOMEM, "out of memory writing a sample");
  int rc =
      fprintf(f, "%s\n", txt) < 0 ? err_set(MIMIC_EIO, "writing a sample: %s", strerror(errno)) : 0;
  free(txt);
  return rc;
}

static int persona_gen_data(int argc, char **argv) {
  cli_llm o;
  cli_llm_init(&o);
  int64_t n_samples = 500;
  int turns = 3;
  const char *out = NULL, *member = "Member";
  const cli_opt opts[] = {
      {.name = "count",
       .type = CLI_I64,
       .dest = &n_samples,
       .meta = "N",
       .help = "conversations to write (default 500)",
       .min = 1,
       .max = GEN_SAMPLES_MAX,
       .alias = "n"},
      {.name = "turns",
       .type = CLI_INT,
       .dest = &turns,
       .meta = "T",
       .help = "exchanges (member + character) per conversation (default 3)",
       .min = 1,
       .max = GEN_TURNS_MAX / 2},
      {.name = "out",
       .short_name = 'o',
       .type = CLI_PATH,
       .dest = &out,
       .meta = "F.jsonl",
       .help = "where to write (default <data.dir>/personas/NAME/gen-data.jsonl)"},
      {.name = "member",
       .type = CLI_STR,
       .dest = &member,
       .meta = "NAME",
       .help = "the simulated member's name (default Member)"},
      CLI_LLM_MODEL_OPTS(&o),
      CLI_LLM_SAMPLING_OPTS(&o),
      CLI_LLM_BACKEND_OPTS(&o),
      {0}};
  const cli_spec spec = {
      .name = "persona gen-data",
      .args = "NAME",
      .min_args = 1,
      .max_args = 1,
      .summary = "Writes synthetic conversations with a persona, generated by the base model from "
                 "its card and its\nlore (the character book): a simulated member opens on one of "
                 "the card's tags or lore keys\nand the character answers. The output is SFT JSONL "
                 "({\"messages\": [...]}) for mimic train\n--persona NAME.",
      .example = "persona gen-data Glordon --count 500 --model models/base.gguf",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  store_persona p;
  store_persona_init(&p);
  store *s = NULL;
  llm_backend *b = NULL;
  FILE *f = NULL;
  buf sys, msys;
  buf_init(&sys, 0);
  buf_init(&msys, 0);
  store_strv tops = {0};
  char path[2100], tmp[2200];
  status = 1;
  if ((status = cli_llm_finish(&o, &spec, &a, c)) != 0) goto out;
  status = 1;
  if (!(s = open_persona(c, a.pos[0], &p))) goto out;
  /* The persona's sampling overrides, unless a flag says otherwise. */
  if (p.has_temperature && !cli_given(&spec, &a, "temp"))
    o.req.sampling.temperature = (float)p.temperature;
  if (p.has_top_p && !cli_given(&spec, &a, "top-p")) o.req.sampling.top_p = (float)p.top_p;
  if (p.has_max_tokens && !cli_given(&spec, &a, "max-tokens")) o.req.max_tokens = (int)p.max_tokens;
  if (!out) {
    char dir[2048];
    persona_dir(c, p.name, dir, sizeof dir);
    snprintf(path, sizeof path, "%s/gen-data.jsonl", dir);
    out = path;
  }
  if (card_system_prompt(&p, NULL, member, GEN_LORE_BYTES, &sys) || buf_putc(&sys, 0) ||
      buf_printf(&msys,
                 "You are %s, a member of a Discord server, chatting with %s. About %s: %s\n"
                 "Write only your own next message, casual and short, in your own voice.",
                 member, p.name, p.name,
                 p.description && *p.description ? p.description : "(no description)")) {
    cli_error("%s", err_msg());
    goto out;
  }
  if (!(b = cli_llm_open(&o))) goto out;
  snprintf(tmp, sizeof tmp, "%s.tmp", out);
  if (fs_mkdirs_for(out) || !(f = fopen(tmp, "w"))) {
    cli_error("%s: cannot write (%s)", tmp, err_msg());
    goto out;
  }
  gen_topics(&p, &tops);
  gen_ctx g = {
      .b = b, .base = o.req, .p = &p, .sys = sys.data, .member_sys = msys.data, .member = member};
  prng_seed(&g.rng, o.req.sampling.seed ? o.req.sampling.seed : (uint64_t)clock_wall_ms());
  int64_t written = 0, empty = 0;
  size_t n_turns = (size_t)turns * 2;
  char *conv[GEN_TURNS_MAX];
  for (int64_t i = 0; i < n_samples; i++) {
    size_t k = 0;
    char opener[512];
    const char *topic = tops.v[prng_below(&g.rng, tops.n)];
    snprintf(opener, sizeof opener, "Start a conversation with %s about %s.", p.name, topic);
    int rc = 0;
    bool bad = false;
    for (k = 0; k < n_turns && !rc; k++) {
      bool as_char = k % 2 == 1;
      rc = gen_turn(&g, as_char, (const char *const *)conv, k, as_char ? NULL : opener, &conv[k]);
      if (!rc && !*conv[k]) {
        bad = true; /* an empty turn: the sample is dropped */
        k++;
        break;
      }
    }
    if (rc) {
      for (size_t j = 0; j < k; j++) mem_free(conv[j]);
      cli_error("%s", err_msg());
      goto out;
    }
    if (bad)
      empty++;
    else if (write_sample(f, sys.data, member, p.name, conv, k)) {
      for (size_t j = 0; j < k; j++) mem_free(conv[j]);
      cli_error("%s", err_msg());
      goto out;
    } else {
      written++;
    }
    for (size_t j = 0; j < k; j++) mem_free(conv[j]);
    if (isatty(2))
      fprintf(stderr, "\r%lld/%lld conversations", (long long)i + 1, (long long)n_samples);
  }
  if (isatty(2)) fprintf(stderr, "\n");
  if (fclose(f) != 0) {
    f = NULL;
    cli_error("%s: %s", tmp, strerror(errno));
    goto out;
  }
  f = NULL;
  if (written == 0) {
    unlink(tmp);
    cli_error("every generated conversation had an empty turn; nothing written (try another "
              "--seed, a higher --temp or a larger --max-tokens)");
    goto out;
  }
  if (rename(tmp, out) != 0) {
    cli_error("%s: %s", out, strerror(errno));
    goto out;
  }
  printf("wrote %s: %lld conversations of %d exchanges with %s%s", out, (long long)written, turns,
         p.name, p.character_book ? " (with its lore)" : "");
  if (empty) printf("; %lld dropped for an empty turn", (long long)empty);
  printf("\nnext: mimic train --persona %s\n", p.name);
  status = 0;
out:
  if (f) {
    fclose(f);
    unlink(tmp);
  }
  store_strv_free(&tops);
  buf_free(&sys);
  buf_free(&msys);
  llm_backend_destroy(b);
  store_close(s);
  store_persona_free(&p);
  cfg_destroy(c);
  return status;
}

/* ---- train --persona (the data side; cmd_train.c runs the training) ---- */

/* Appends every line of path to f. */
static int append_file(FILE *f, const char *path) {
  char *data = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, (size_t)1 << 31, &data, &n);
  if (rc) return rc;
  if (n && fwrite(data, 1, n, f) != n) rc = err_set(MIMIC_EIO, "writing: %s", strerror(errno));
  if (!rc && n && data[n - 1] != '\n' && fputc('\n', f) == EOF)
    rc = err_set(MIMIC_EIO, "writing: %s", strerror(errno));
  mem_free(data);
  return rc;
}

typedef struct cast_ctx {
  const cfg *c;
  FILE *f;
  int used;
  buf missing;
} cast_ctx;

static int cast_one(const store_persona *p, void *user) {
  cast_ctx *x = user;
  char dir[2048], path[2100];
  persona_dir(x->c, p->name, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/gen-data.jsonl", dir);
  if (access(path, R_OK) != 0)
    return buf_printf(&x->missing, "%s%s", x->missing.len ? ", " : "", p->name);
  x->used++;
  return append_file(x->f, path);
}

typedef struct adapter_ctx {
  store *s;
  const cfg *c;
  const char *path;
  bool all; /* --data: every enabled persona; otherwise those whose gen-data was used */
} adapter_ctx;

static int set_cast_adapter(const store_persona *p, void *user) {
  adapter_ctx *x = user;
  char dir[2048], path[2100];
  persona_dir(x->c, p->name, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/gen-data.jsonl", dir);
  if (!x->all && access(path, R_OK) != 0) return 0;
  return store_persona_set_adapter(x->s, p->id, x->path, p->adapter_scale);
}

int cli_persona_train_data(const cfg *c, const cli_persona_train *t, char *data, size_t data_cap,
                           char *valid, size_t valid_cap, char *out, size_t out_cap) {
  store *s = cli_store_open(c);
  if (!s) return 1;
  int status = 1;
  store_persona p;
  store_persona_init(&p);
  char dir[2048];
  valid[0] = 0;
  if (t->cast) {
    /* One adapter for the whole cast: every persona's generated conversations (each sample's
     * system prompt names its character) in one file. */
    snprintf(dir, sizeof dir, "%s/personas", cfg_str(c, CFG_DATA_DIR));
    snprintf(out, out_cap, "%s/cast-adapter.gguf", dir);
    if (t->data) {
      snprintf(data, data_cap, "%s", t->data);
    } else {
      snprintf(data, data_cap, "%s/cast.jsonl", dir);
      cast_ctx x = {c, NULL, 0, {0}};
      buf_init(&x.missing, 0);
      if (fs_mkdirs(dir) || !(x.f = fopen(data, "w"))) {
        cli_error("%s: cannot write (%s)", data, err_msg());
        buf_free(&x.missing);
        goto out;
      }
      int rc = store_persona_each(s, true, cast_one, &x);
      if (fclose(x.f) != 0 && !rc) rc = err_set(MIMIC_EIO, "%s: %s", data, strerror(errno));
      if (rc) {
        cli_error("%s", err_msg());
      } else if (x.used == 0) {
        cli_error("no persona has generated data yet; run mimic persona gen-data NAME for each "
                  "(or give --data FILE)");
      } else if (x.missing.len) {
        fprintf(stderr, "mimic: the cast adapter leaves out %s (no gen-data yet)\n",
                x.missing.data);
      }
      buf_free(&x.missing);
      if (rc || x.used == 0) goto out;
    }
    status = 0;
    goto out;
  }
  int rc = store_persona_by_name(s, t->persona, &p);
  if (rc) {
    if (rc == MIMIC_ENOTFOUND)
      cli_error("no persona is named '%s' (see mimic persona list)", t->persona);
    else
      cli_error("%s", err_msg());
    goto out;
  }
  persona_dir(c, p.name, dir, sizeof dir);
  snprintf(out, out_cap, "%s/adapter.gguf", dir);
  if (t->member) {
    /* (a) a member's own messages: their consent always, whatever collect.require_consent says,
     * since this clones one person's voice. */
    uint32_t flags = 0;
    if (store_user_flags(s, t->member, &flags)) {
      cli_error("%s", err_msg());
      goto out;
    }
    if (!(flags & STORE_FLAG_OPTED_IN) || (flags & (STORE_FLAG_OPTED_OUT | STORE_FLAG_EXCLUDED))) {
      cli_error("user %llu has not opted in: training a persona on one member's messages clones "
                "their voice and needs their consent (they opt in with !optin, or the owner "
                "records it with mimic privacy opt-in %llu)",
                (unsigned long long)t->member, (unsigned long long)t->member);
      goto out;
    }
    collect_prepare_opts po;
    collect_prepare_defaults(&po);
    char pdir[2100];
    snprintf(pdir, sizeof pdir, "%s/member-%llu", dir, (unsigned long long)t->member);
    po.out_dir = pdir;
    po.user_id = t->member;
    po.require_consent = cfg_bool(c, CFG_COLLECT_REQUIRE_CONSENT);
    po.per_user_cap = 0;
    buf sys;
    buf_init(&sys, 0);
    if (card_system_prompt(&p, NULL, NULL, 0, &sys) || buf_putc(&sys, 0)) {
      buf_free(&sys);
      cli_error("%s", err_msg());
      goto out;
    }
    po.system_prompt = sys.data;
    collect_prepare_stats st;
    rc = fs_mkdirs(pdir) ? MIMIC_EIO : collect_prepare(s, &po, &st);
    buf_free(&sys);
    if (rc) {
      cli_error("%s", err_msg());
      goto out;
    }
    if (st.sft_train == 0) {
      cli_error("user %llu has no usable messages to learn from (after the filters)",
                (unsigned long long)t->member);
      goto out;
    }
    snprintf(data, data_cap, "%s/sft-messages.train.jsonl", pdir);
    snprintf(valid, valid_cap, "%s/sft-messages.valid.jsonl", pdir);
    if (access(valid, R_OK) != 0) valid[0] = 0;
    fprintf(stderr, "mimic: %lld samples of user %llu's messages (opted in) for %s\n",
            (long long)st.sft_train, (unsigned long long)t->member, p.name);
  } else if (t->data) {
    snprintf(data, data_cap, "%s", t->data); /* (b) a character dataset */
  } else {
    snprintf(data, data_cap, "%s/gen-data.jsonl", dir); /* (c) gen-data's output */
    if (access(data, R_OK) != 0) {
      cli_error("%s has no training data yet: run mimic persona gen-data %s, or give --data FILE "
                "(a character dataset) or --member USER_ID (an opted-in member's messages)",
                p.name, p.name);
      goto out;
    }
  }
  status = 0;
out:
  store_persona_free(&p);
  store_close(s);
  return status;
}

int cli_persona_train_done(const cfg *c, const cli_persona_train *t, const char *adapter) {
  store *s = cli_store_open(c);
  if (!s) return 1;
  int rc;
  store_persona p;
  store_persona_init(&p);
  if (t->cast) {
    adapter_ctx x = {s, c, adapter, t->data != NULL};
    rc = store_persona_each(s, true, set_cast_adapter, &x);
  } else {
    rc = store_persona_by_name(s, t->persona, &p);
    if (!rc) rc = store_persona_set_adapter(s, p.id, adapter, p.adapter_scale);
  }
  store_close(s);
  if (rc) {
    store_persona_free(&p);
    cli_error("the adapter was written to %s but not recorded: %s", adapter, err_msg());
    return 1;
  }
  printf("%s now speak%s with %s\n", t->cast ? "the cast" : p.name, t->cast ? "" : "s", adapter);
  store_persona_free(&p);
  return 0;
}

/* ---- the group ---- */

int cmd_persona(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"add", persona_add, "add a persona: add NAME [--FIELD VALUE...]"},
      {"import", persona_import, "import a character card (V2/V3, JSON or PNG)"},
      {"list", persona_list, "list the personas [--json]"},
      {"show", persona_show, "show one persona [--json]"},
      {"edit", persona_edit, "change fields: edit NAME --set FIELD=VALUE..."},
      {"remove", persona_remove, "remove a persona"},
      {"export", persona_export, "write a V3 card: export NAME [--out F] [--png]"},
      {"gen-data", persona_gen_data,
       "synthetic conversations from the card: gen-data NAME --count N"},
      {0}};
  const cli_spec spec = {.name = "persona",
                         .summary = "Personas: characters mimic can speak as, besides the "
                                    "community voice (the bot user,\nthe default persona).",
                         .example = "persona import glordon.png\npersona list\npersona show "
                                    "Glordon --json",
                         .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
