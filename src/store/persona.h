/* Personas: the characters one mimic can speak as (name, face, card fields, voice adapter,
 * triggers, where they may speak), and the settings layered over them persona -> channel -> guild
 * -> global. This is their storage only: who answers a message, webhooks and memory are bot/'s
 * business; card files are read by collect/card.h.
 *
 * The default persona: the community voice (the bot user itself, mimic's behaviour without any
 * persona) has no row. A persona id of 0 means "the bot user" wherever an id is taken, and the
 * layered settings of id 0 skip the persona layer.
 *
 * Names: a persona's name and each alias are unique among every name and alias of every persona,
 * compared without ASCII case ("Glordon" and "glordon" are one name). Other letters compare
 * exactly.
 *
 * Threads: as store.h (one connection per thread). Strings are UTF-8. */
#ifndef MIMIC_STORE_PERSONA_H
#define MIMIC_STORE_PERSONA_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"
#include "store/store.h"

#define STORE_PERSONA_NAME_MAX  80 /* bytes of a name or alias (Discord's webhook name cap) */
#define STORE_PERSONA_FIELD_MAX (256 << 10) /* bytes of one text field (description, ...) */
#define STORE_PERSONA_RAW_MAX   (8 << 20)   /* bytes of the raw extensions / character_book JSON */
#define STORE_PERSONA_LIST_MAX  1024        /* items in one list (aliases, tags, greetings, ...) */

/* A list of owned strings. */
typedef struct store_strv {
  char **v;
  size_t n;
} store_strv;
/* Appends a copy of s. Errors: MIMIC_ERANGE past STORE_PERSONA_LIST_MAX. */
int store_strv_push(store_strv *l, const char *s) MIMIC_MUST;
void store_strv_free(store_strv *l); /* accepts NULL and zeroed lists; re-zeroes */

/* One persona. Every pointer is owned by the struct (store_persona_free releases them); a NULL
 * string reads as "". Fields named as in SillyTavern's Character Card V2/V3 carry the card's
 * meaning; the rest are mimic's own. */
typedef struct store_persona {
  int64_t id; /* > 0; assigned by store_persona_add */
  char *name;
  store_strv aliases;
  char *avatar; /* https URL, or a local image file path; NULL = the bot's avatar */
  /* the card's fields */
  char *description, *personality, *scenario, *first_mes, *mes_example;
  char *system_prompt; /* template: {{char}} is the persona's name, {{user}} the person answered */
  char *post_history_instructions;
  store_strv alternate_greetings, tags;
  char *creator_notes, *creator, *character_version;
  char *extensions;     /* the card's raw `extensions` JSON object text; NULL = none */
  char *character_book; /* the card's raw `character_book` JSON object text; NULL = none */
  /* voice */
  char *adapter;        /* LoRA adapter file (.gguf); NULL = the base model with the card */
  double adapter_scale; /* > 0; 1.0 by default */
  /* sampling overrides; each applies only when its has_ flag is set */
  bool has_temperature, has_top_p, has_max_tokens;
  double temperature, top_p;
  int64_t max_tokens;
  /* when it speaks */
  store_strv keywords; /* trigger words (whole-word, case-insensitive: the router's business) */
  store_strv regexes;  /* trigger regular expressions (POSIX extended) */
  uint64_t *channels;  /* channels it may speak in; n_channels 0 = every channel */
  size_t n_channels;
  char *lore_scope; /* the lore scope it reads; NULL = its own name */
  double freewill;  /* 0..1: chance of an unprompted reply (0 = only when called) */
  bool enabled;
  int64_t created_ms, updated_ms; /* set by the store */
} store_persona;

/* A zeroed persona with the defaults: adapter_scale 1, enabled, freewill 0. */
void store_persona_init(store_persona *p);
/* Frees every owned field and re-initialises (store_persona_init); accepts NULL. */
void store_persona_free(store_persona *p);
/* Checks a persona before it is stored: name 1..STORE_PERSONA_NAME_MAX bytes without control
 * characters or leading/trailing spaces, aliases likewise, fields within their caps and valid
 * UTF-8, raw JSON that parses as an object, freewill and top_p in 0..1, temperature in 0..2,
 * max_tokens >= 1, adapter_scale in (0, 4], regexes that compile. MIMIC_EINVAL / MIMIC_ERANGE /
 * MIMIC_EFORMAT with a sentence naming the persona and field. */
int store_persona_check(const store_persona *p) MIMIC_MUST;

/* Adds a persona (after store_persona_check); sets p->id, created_ms and updated_ms. Atomic.
 * Errors: MIMIC_EINVAL "... is already the name or alias of persona X" when the name or an alias
 * is taken (ASCII case ignored), the check's errors, MIMIC_EDB. */
int store_persona_add(store *s, store_persona *p) MIMIC_MUST;
/* Replaces every field of persona p->id with p's (created_ms kept; updated_ms set). Atomic.
 * MIMIC_ENOTFOUND (message set) when the id is unknown; otherwise as store_persona_add. */
int store_persona_update(store *s, store_persona *p) MIMIC_MUST;
/* Reads one persona into *out (store_persona_free'd first). MIMIC_ENOTFOUND, no message set,
 * when absent. by_name matches the name or an alias, ASCII case ignored. */
int store_persona_get(store *s, int64_t id, store_persona *out) MIMIC_MUST;
int store_persona_by_name(store *s, const char *name_or_alias, store_persona *out) MIMIC_MUST;
/* The id for a name or alias (ASCII case ignored); MIMIC_ENOTFOUND, no message set, when none. */
int store_persona_find(store *s, const char *name_or_alias, int64_t *id) MIMIC_MUST;
/* Sets only the adapter path and scale (training ends with this; the live side reloads it).
 * adapter NULL clears it. MIMIC_ENOTFOUND when the id is unknown. */
int store_persona_set_adapter(store *s, int64_t id, const char *adapter, double scale) MIMIC_MUST;
/* Removes a persona with its names and its persona-scope settings. Atomic. MIMIC_ENOTFOUND (message
 * set) when the id is unknown. */
int store_persona_remove(store *s, int64_t id) MIMIC_MUST;
/* Every persona, by name (ASCII case ignored). The callback gets a borrowed persona valid during
 * the call; non-zero from fn stops the walk and is returned. enabled_only skips disabled ones. */
typedef int (*store_persona_fn)(const store_persona *p, void *user);
int store_persona_each(store *s, bool enabled_only, store_persona_fn fn, void *user) MIMIC_MUST;
/* Number of personas. */
int store_persona_count(store *s, int64_t *out) MIMIC_MUST;

/* ---- layered settings ---------------------------------------------------------------------- */

/* Where a setting is set. A value set for a persona beats one for the channel, which beats one for
 * the guild, which beats the global configuration (file, environment, live, or the key's
 * default). */
typedef enum {
  STORE_SCOPE_GLOBAL = 0, /* the configuration (cfg): only as a resolve answer, never stored */
  STORE_SCOPE_PERSONA = 1,
  STORE_SCOPE_CHANNEL = 2,
  STORE_SCOPE_GUILD = 3
} store_scope;

/* Sets key (a config key name, e.g. "bot.response_rate"; not a secret one) to value for one scope
 * (kind PERSONA/CHANNEL/GUILD, id the persona id or the snowflake). The value is checked against
 * the key's type and bounds (cfg_key_check). Errors: MIMIC_EINVAL naming the key or scope,
 * MIMIC_ERANGE, MIMIC_EDB. */
int store_layer_set(store *s, store_scope kind, uint64_t id, const char *key,
                    const char *value) MIMIC_MUST;
/* The value stored at exactly that scope into out (reset first). MIMIC_ENOTFOUND (no message)
 * when absent. */
int store_layer_get(store *s, store_scope kind, uint64_t id, const char *key, buf *out) MIMIC_MUST;
/* Removes one value (absent is not an error). */
int store_layer_delete(store *s, store_scope kind, uint64_t id, const char *key) MIMIC_MUST;
/* Every value of one scope (kind 0 = every scope), by kind, id, key. Non-zero from fn stops. */
typedef int (*store_layer_fn)(store_scope kind, uint64_t id, const char *key, const char *value,
                              void *user);
int store_layer_each(store *s, store_scope kind, uint64_t id, store_layer_fn fn,
                     void *user) MIMIC_MUST;

/* Where a resolved value came from. */
typedef struct store_layer_src {
  store_scope kind;   /* the scope that set it; STORE_SCOPE_GLOBAL = the configuration */
  uint64_t id;        /* persona id or snowflake; 0 for global */
  cfg_source cfg_src; /* for global: default, file, env, cli or live */
} store_layer_src;

/* The value of key for a persona (0 = the bot user) speaking in channel_id of guild_id (0 = none
 * for either), and where it came from: the first of persona, channel, guild that sets it, else
 * cfg's value. The persona layer also answers engine.temperature, engine.top_p and
 * engine.max_tokens from the persona's sampling overrides when no persona-scope setting names
 * them. For a thread, pass the thread as channel_id: its parent channel is not consulted. cfg may
 * be NULL (then the key's default answers). out is reset first; src may be NULL. Errors:
 * MIMIC_EINVAL for an unknown key, MIMIC_EDB. */
int store_layer_resolve(store *s, const cfg *c, int64_t persona_id, uint64_t channel_id,
                        uint64_t guild_id, const char *key, buf *out,
                        store_layer_src *src) MIMIC_MUST;
/* "persona", "channel", "guild" or "global". */
const char *store_scope_name(store_scope kind);
/* Writes "persona 3", "channel 123", "guild 456" or "global (file)" into out[cap]. */
void store_layer_src_describe(const store_layer_src *src, char *out, size_t cap);

#endif
