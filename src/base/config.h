/* Configuration: every configurable value has one home. Precedence, lowest to highest: the default
 * in the key table (config.c), the config file, the environment (MIMIC_<KEY> with '.' as '_', upper
 * case; DISCORD_TOKEN for the token), a command's own flags, then live settings (from the database,
 * set by admin commands or the dashboard). Each value remembers where it came from, so `!status`
 * can say.
 *
 * File format: `key = value` lines, `#` comments, optional `[section]` headers that prefix keys
 * ("[discord]" then "api = ..." is "discord.api"). Values may be double-quoted.
 * Thread-safety: reads may happen from any thread; sets take a lock. */
#ifndef MIMIC_BASE_CONFIG_H
#define MIMIC_BASE_CONFIG_H
#include <stdbool.h>
#include <stdint.h>
#include "base/config_ids.h"
#include "base/err.h"

typedef enum {
  CFG_SRC_DEFAULT = 0,
  CFG_SRC_FILE,
  CFG_SRC_ENV,
  CFG_SRC_CLI,
  CFG_SRC_LIVE
} cfg_source;
typedef enum { CFG_STR, CFG_INT, CFG_NUM, CFG_BOOL } cfg_type;

/* Flags of a key (cfg_key.flags). */
enum {
  CFG_F_PATH = 1 << 0,       /* a file or folder: relative values in a config file are resolved from
                              * the file's folder */
  CFG_F_IDS = 1 << 1,        /* comma-separated Discord ids (snowflakes) */
  CFG_F_IN_DATA_DIR = 1 << 2 /* the default lives in data.dir (store.path): setting data.dir moves
                              * it unless the key itself is set */
};

typedef struct cfg_key {
  const char *name; /* "discord.api" */
  cfg_type type;
  const char *dflt;   /* default as text; NULL = unset */
  double min, max;    /* for INT/NUM when min < max */
  bool secret;        /* never printed (the token) */
  const char *help;   /* one line for docs and `mimic config check` */
  unsigned flags;     /* CFG_F_* */
  const char *handle; /* "CFG_DISCORD_API": the spelling of its cfg_id (checked by a test) */
} cfg_key;

typedef struct cfg cfg;

/* The table of every known key, indexed by cfg_id (CFG__COUNT rows, then a NULL-name row). */
const cfg_key *cfg_keys(void);
/* The row of a key named at run time (admin commands, live settings), or NULL. */
const cfg_key *cfg_key_find(const char *name);
/* The row of a handle. key must be a cfg_id (checked always). */
const cfg_key *cfg_key_get(cfg_id key);
/* The handle of a row from cfg_keys() or cfg_key_find(). */
cfg_id cfg_key_id(const cfg_key *k);

/* Defaults and bounds, for code that must not repeat them (option defaults, flag checks): the
 * default as text ("" when the key has none), and parsed. A store.path-like default (in data.dir)
 * is its value with the default data.dir. */
const char *cfg_key_default(cfg_id key);
int64_t cfg_key_default_int(cfg_id key);
double cfg_key_default_num(cfg_id key);
bool cfg_key_default_bool(cfg_id key);
/* The key's bounds when it has them (INT and NUM keys with min < max): true and *min, *max. */
bool cfg_key_bounds(cfg_id key, double *min, double *max);
/* Checks value against key's type, bounds and rules (id lists) without setting anything, for
 * command-line flags that override a key: `if (cfg_key_check(CFG_COLLECT_WINDOW, v)) return
 * err_prefix(MIMIC_EINVAL, "--window");`. MIMIC_EINVAL or MIMIC_ERANGE with the message naming the
 * key ("collect.window must be between 2 and 64, not 99"). */
int cfg_key_check(cfg_id key, const char *value) MIMIC_MUST;

/* Creates a config holding the defaults. Never NULL. */
cfg *cfg_new(void);
void cfg_destroy(cfg *c);
/* Loads a file; unknown keys, bad values, a key set twice and unreadable files are errors naming
 * file:line. A leading UTF-8 byte-order mark is skipped. Relative values of path keys (CFG_F_PATH)
 * are resolved from the file's folder. A folder is refused, and so is discord.token in a file that
 * group or others may read (MIMIC_EAUTH, saying where the token should go). */
int cfg_load_file(cfg *c, const char *path) MIMIC_MUST;
/* Applies MIMIC_* environment overrides (and DISCORD_TOKEN); a bad value is an error naming the
 * variable. */
int cfg_load_env(cfg *c) MIMIC_MUST;
/* Sets a value from a given source after validating it against the key's type and range. */
int cfg_set(cfg *c, const char *key, const char *value, cfg_source src) MIMIC_MUST;
/* Unsets a live value, falling back to env/file/default. */
void cfg_unset_live(cfg *c, const char *key);

/* Getters, by handle: cfg_num(c, CFG_BOT_RESPONSE_RATE). A misspelt handle does not compile; an
 * out-of-range value aborts (MIMIC_ASSERT). Strings are borrowed until the next cfg_set of that
 * key (or of data.dir, for store.path): copy them if kept. */
const char *cfg_str(const cfg *c, cfg_id key);
int64_t cfg_int(const cfg *c, cfg_id key);
double cfg_num(const cfg *c, cfg_id key);
bool cfg_bool(const cfg *c, cfg_id key);
cfg_source cfg_source_of(const cfg *c, cfg_id key);
const char *cfg_source_name(cfg_source s);

/* Reads the bot token: DISCORD_TOKEN, else the file named by discord.token_file, which must be a
 * regular file not readable by group or others. Returns a copy (caller frees), or NULL with the
 * error set (MIMIC_EAUTH with a sentence telling the user what to do). */
char *cfg_token(const cfg *c);

#endif
