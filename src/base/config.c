/* Configuration store (see config.h). Values live as text with their source; typed getters parse
 * on read, which keeps one representation and one validation path. */
#include "base/config.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/alloc.h"
#include "base/assert.h"
#include "base/log.h"
#include "base/str.h"

#define CFG_LINE_MAX  4096
#define CFG_TOKEN_MAX 4096

typedef struct cfg_val {
  char *layer[CFG_SRC_LIVE + 1]; /* value per source; NULL = not set at that level */
} cfg_val;

struct cfg {
  pthread_mutex_t mu;
  int n;
  cfg_val *vals;
};

const cfg_key *cfg_key_find(const char *name) {
  for (const cfg_key *k = cfg_keys(); k->name; k++)
    if (strcmp(k->name, name) == 0) return k;
  return NULL;
}

static void derive_defaults(cfg *c);
static int64_t parse_int(const char *s);
static double parse_num(const char *s);
static bool parse_bool(const char *s);

static int key_index(const char *name) {
  const cfg_key *k = cfg_key_find(name);
  return k ? (int)(k - cfg_keys()) : -1;
}

const cfg_key *cfg_key_get(cfg_id key) {
  MIMIC_ASSERT((unsigned)key < (unsigned)CFG__COUNT);
  return &cfg_keys()[key];
}

cfg_id cfg_key_id(const cfg_key *k) {
  MIMIC_ASSERT(k >= cfg_keys() && k < cfg_keys() + CFG__COUNT);
  return (cfg_id)(k - cfg_keys());
}

const char *cfg_key_default(cfg_id key) {
  const char *d = cfg_key_get(key)->dflt;
  return d ? d : "";
}

int64_t cfg_key_default_int(cfg_id key) { return parse_int(cfg_key_get(key)->dflt); }
double cfg_key_default_num(cfg_id key) { return parse_num(cfg_key_get(key)->dflt); }
bool cfg_key_default_bool(cfg_id key) { return parse_bool(cfg_key_get(key)->dflt); }

bool cfg_key_bounds(cfg_id key, double *min, double *max) {
  const cfg_key *k = cfg_key_get(key);
  if (k->type == CFG_STR || k->type == CFG_BOOL || !(k->min < k->max)) return false;
  *min = k->min;
  *max = k->max;
  return true;
}

cfg *cfg_new(void) {
  cfg *c = xcalloc(1, sizeof *c);
  pthread_mutex_init(&c->mu, NULL);
  for (const cfg_key *k = cfg_keys(); k->name; k++) c->n++;
  c->vals = xcalloc((size_t)c->n, sizeof *c->vals);
  for (int i = 0; i < c->n; i++)
    if (cfg_keys()[i].dflt) c->vals[i].layer[CFG_SRC_DEFAULT] = xstrdup(cfg_keys()[i].dflt);
  derive_defaults(c);
  return c;
}

void cfg_destroy(cfg *c) {
  if (!c) return;
  for (int i = 0; i < c->n; i++)
    for (int s = 0; s <= CFG_SRC_LIVE; s++) free(c->vals[i].layer[s]);
  free(c->vals);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

static int validate_ids(const cfg_key *k, const char *value);

static int validate(const cfg_key *k, const char *value) {
  switch (k->type) {
  case CFG_STR: return 0;
  case CFG_BOOL: {
    bool b;
    return str_to_bool(value, &b);
  }
  case CFG_INT: {
    int64_t v;
    int rc = str_to_i64(value, &v);
    if (rc) return rc;
    if (k->min < k->max && (v < k->min || v > k->max))
      return err_set(MIMIC_ERANGE, "%s must be between %.0f and %.0f, not %s", k->name, k->min,
                     k->max, value);
    return 0;
  }
  case CFG_NUM: {
    double v;
    int rc = str_to_double(value, &v);
    if (rc) return rc;
    if (k->min < k->max && (v < k->min || v > k->max))
      return err_set(MIMIC_ERANGE, "%s must be between %g and %g, not %s", k->name, k->min, k->max,
                     value);
    return 0;
  }
  }
  return 0;
}

/* A comma-separated list of Discord ids: each item, spaces trimmed, a non-zero decimal number.
 * Empty items (a trailing comma) are allowed. */
static int validate_ids(const cfg_key *k, const char *value) {
  const char *p = value;
  while (*p) {
    while (*p == ',' || *p == ' ' || *p == '\t') p++;
    if (!*p) break;
    const char *start = p;
    while (*p && *p != ',') p++;
    size_t n = (size_t)(p - start);
    while (n && (start[n - 1] == ' ' || start[n - 1] == '\t')) n--;
    char item[32];
    uint64_t id = 0;
    bool ok = n < sizeof item;
    if (ok) {
      memcpy(item, start, n);
      item[n] = 0;
      for (size_t i = 0; i < n; i++) ok = ok && isdigit((unsigned char)item[i]);
      ok = ok && str_to_u64(item, &id) == 0 && id != 0;
    }
    if (!ok) {
      err_clear();
      return err_set(MIMIC_EINVAL,
                     "%s: '%.*s' is not a Discord id (a number such as 123456789012345678); "
                     "separate ids with commas",
                     k->name, (int)(n > 40 ? 40 : n), start);
    }
  }
  return 0;
}

/* Recomputes the defaults that live in data.dir (store.path) from data.dir's current value.
 * Called with the lock held (or before the config is shared). */
static void derive_defaults(cfg *c) {
  int d = CFG_DATA_DIR;
  const char *dir = NULL;
  for (int s = CFG_SRC_LIVE; s >= 0 && !dir; s--) dir = c->vals[d].layer[s];
  if (!dir || !*dir) dir = ".";
  for (int i = 0; i < c->n; i++) {
    const cfg_key *k = &cfg_keys()[i];
    if (!(k->flags & CFG_F_IN_DATA_DIR)) continue;
    const char *base = strrchr(k->dflt, '/');
    base = base ? base + 1 : k->dflt;
    size_t len = strlen(dir) + 1 + strlen(base) + 1;
    char *v = xalloc(len);
    snprintf(v, len, "%s/%s", dir, base);
    free(c->vals[i].layer[CFG_SRC_DEFAULT]);
    c->vals[i].layer[CFG_SRC_DEFAULT] = v;
  }
}

int cfg_key_check(cfg_id key, const char *value) {
  const cfg_key *k = cfg_key_get(key);
  int rc = validate(k, value);
  if (rc) {
    if (k->type != CFG_STR && rc == MIMIC_EINVAL) return err_prefix(rc, "%s", k->name);
    return rc;
  }
  if (k->flags & CFG_F_IDS) return validate_ids(k, value);
  return 0;
}

int cfg_set(cfg *c, const char *key, const char *value, cfg_source src) {
  int i = key_index(key);
  if (i < 0) return err_set(MIMIC_ENOTFOUND, "unknown setting '%s'", key);
  int rc = cfg_key_check((cfg_id)i, value);
  if (rc) return rc;
  pthread_mutex_lock(&c->mu);
  /* Old strings stay readable by other threads only until here; the contract says copy. */
  free(c->vals[i].layer[src]);
  c->vals[i].layer[src] = xstrdup(value);
  if (i == CFG_DATA_DIR) derive_defaults(c);
  pthread_mutex_unlock(&c->mu);
  return 0;
}

void cfg_unset_live(cfg *c, const char *key) {
  int i = key_index(key);
  if (i < 0) return;
  pthread_mutex_lock(&c->mu);
  free(c->vals[i].layer[CFG_SRC_LIVE]);
  c->vals[i].layer[CFG_SRC_LIVE] = NULL;
  if (i == CFG_DATA_DIR) derive_defaults(c);
  pthread_mutex_unlock(&c->mu);
}

/* A relative path value from a file in folder dir (dir = the file's name up to its last '/', dlen
 * bytes; 0 when the file is in the working folder): "dir/value". Caller frees; NULL when the value
 * stays as it is. */
static char *resolve_path(const char *path, size_t dlen, const char *value) {
  if (!dlen || !*value || value[0] == '/') return NULL;
  while (value[0] == '.' && value[1] == '/') value += 2;
  if (strcmp(value, ".") == 0) value = "";
  size_t len = dlen + 1 + strlen(value) + 1;
  char *r = xalloc(len);
  if (*value)
    snprintf(r, len, "%.*s/%s", (int)dlen, path, value);
  else
    snprintf(r, len, "%.*s", (int)dlen, path);
  return r;
}

int cfg_load_file(cfg *c, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return err_set(MIMIC_EIO, "%s: cannot open config file: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) != 0) {
    int e = errno;
    fclose(f);
    return err_set(MIMIC_EIO, "%s: cannot read config file: %s", path, strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    fclose(f);
    return err_set(MIMIC_EINVAL,
                   "%s: is a folder, not a config file (give the file, e.g. %s%s"
                   "mimic.conf)",
                   path, path, path[0] && path[strlen(path) - 1] == '/' ? "" : "/");
  }
  const char *slash = strrchr(path, '/');
  size_t dlen = slash ? (slash == path ? 1 : (size_t)(slash - path)) : 0;
  int *seen = xcalloc((size_t)c->n, sizeof *seen); /* line that set each key, 0 = none */
  char line[CFG_LINE_MAX], section[128] = "";
  int lineno = 0, rc = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    if (!strchr(line, '\n') && !feof(f)) {
      rc = err_set(MIMIC_ERANGE, "%s:%d: line longer than %d bytes", path, lineno, CFG_LINE_MAX);
      break;
    }
    char *p = line;
    if (lineno == 1 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) p += 3; /* UTF-8 byte-order mark */
    p = str_trim(p);
    if (!*p || *p == '#' || *p == ';') continue;
    if (*p == '[') {
      char *e = strchr(p, ']');
      if (!e || e - p - 1 >= (long)sizeof section) {
        rc = err_set(MIMIC_EFORMAT, "%s:%d: bad section header", path, lineno);
        break;
      }
      *e = 0;
      str_lcpy(section, str_trim(p + 1), sizeof section);
      continue;
    }
    char *eq = strchr(p, '=');
    if (!eq) {
      rc = err_set(MIMIC_EFORMAT, "%s:%d: expected 'key = value'", path, lineno);
      break;
    }
    *eq = 0;
    bool space_before = eq[1] == ' ' || eq[1] == '\t'; /* str_trim moves the value left */
    char *k = str_trim(p), *v = str_trim(eq + 1);
    if (v[0] == '"') {
      char *close = strchr(v + 1, '"');
      if (!close) {
        rc = err_set(MIMIC_EFORMAT, "%s:%d: unterminated quoted value", path, lineno);
        break;
      }
      *close = 0;
      v++;
    } else {
      /* A '#' after whitespace starts a comment, also right after "= " (an empty value with a
       * comment); quote values that contain " #" or start with '#'. */
      for (char *h = v; *h; h++)
        if (*h == '#' && (h > v ? h[-1] == ' ' || h[-1] == '\t' : space_before)) {
          *h = 0;
          str_trim(v);
          break;
        }
    }
    char full[256];
    if (section[0])
      snprintf(full, sizeof full, "%s.%s", section, k);
    else
      str_lcpy(full, k, sizeof full);
    int i = key_index(full);
    if (i >= 0 && seen[i]) {
      rc = err_set(MIMIC_EINVAL, "%s:%d: %s is set twice (first on line %d); keep one", path,
                   lineno, full, seen[i]);
      break;
    }
    char *resolved =
        i >= 0 && (cfg_keys()[i].flags & CFG_F_PATH) ? resolve_path(path, dlen, v) : NULL;
    rc = cfg_set(c, full, resolved ? resolved : v, CFG_SRC_FILE);
    free(resolved);
    if (rc) {
      rc = err_prefix(rc, "%s:%d", path, lineno);
      break;
    }
    seen[i] = lineno;
  }
  if (!rc && ferror(f))
    rc = err_set(MIMIC_EIO, "%s: cannot read config file: %s", path, strerror(errno));
  int tok = CFG_DISCORD_TOKEN;
  if (!rc && seen[tok] && *c->vals[tok].layer[CFG_SRC_FILE] && (st.st_mode & (S_IRWXG | S_IRWXO)))
    rc = err_set(MIMIC_EAUTH,
                 "%s:%d: discord.token is in a config file that other users can read; run "
                 "'chmod 600 %s', or better, remove it from the file and set DISCORD_TOKEN or "
                 "discord.token_file (a file only you can read)",
                 path, seen[tok], path);
  free(seen);
  fclose(f);
  return rc;
}

int cfg_load_env(cfg *c) {
  char var[300];
  for (const cfg_key *k = cfg_keys(); k->name; k++) {
    size_t j = 0;
    j += (size_t)snprintf(var, sizeof var, "MIMIC_");
    for (const char *p = k->name; *p && j + 1 < sizeof var; p++)
      var[j++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
    var[j] = 0;
    const char *v = getenv(var);
    if (!v) continue;
    int rc = cfg_set(c, k->name, v, CFG_SRC_ENV);
    if (rc) return err_prefix(rc, "environment variable %s", var);
  }
  const char *tok = getenv("DISCORD_TOKEN");
  if (tok && *tok) {
    int rc = cfg_set(c, cfg_key_get(CFG_DISCORD_TOKEN)->name, tok, CFG_SRC_ENV);
    if (rc) return rc;
  }
  return 0;
}

static const char *value_at(const cfg *c, cfg_id key, cfg_source *src) {
  MIMIC_ASSERT((unsigned)key < (unsigned)CFG__COUNT);
  for (int s = CFG_SRC_LIVE; s >= 0; s--)
    if (c->vals[key].layer[s]) {
      if (src) *src = (cfg_source)s;
      return c->vals[key].layer[s];
    }
  if (src) *src = CFG_SRC_DEFAULT;
  return NULL;
}

static int64_t parse_int(const char *s) {
  int64_t v = 0;
  if (s && str_to_i64(s, &v)) v = 0;
  return v;
}

static double parse_num(const char *s) {
  double v = 0;
  if (s && str_to_double(s, &v)) v = 0;
  return v;
}

static bool parse_bool(const char *s) {
  bool v = false;
  if (s && str_to_bool(s, &v)) v = false;
  return v;
}

const char *cfg_str(const cfg *c, cfg_id key) {
  const char *v = value_at(c, key, NULL);
  return v ? v : "";
}

int64_t cfg_int(const cfg *c, cfg_id key) { return parse_int(value_at(c, key, NULL)); }
double cfg_num(const cfg *c, cfg_id key) { return parse_num(value_at(c, key, NULL)); }
bool cfg_bool(const cfg *c, cfg_id key) { return parse_bool(value_at(c, key, NULL)); }

cfg_source cfg_source_of(const cfg *c, cfg_id key) {
  cfg_source s = CFG_SRC_DEFAULT;
  value_at(c, key, &s);
  return s;
}

const char *cfg_source_name(cfg_source s) {
  static const char *names[] = {"default", "config file", "environment", "command line",
                                "live setting"};
  return names[s];
}

char *cfg_token(const cfg *c) {
  const char *t = cfg_str(c, CFG_DISCORD_TOKEN);
  if (*t) return xstrdup(t);
  const char *path = cfg_str(c, CFG_DISCORD_TOKEN_FILE);
  if (!*path) {
    err_set(MIMIC_EAUTH, "no bot token: set DISCORD_TOKEN, or put the token in a file only you can "
                         "read and set discord.token_file (MIMIC_DISCORD_TOKEN_FILE) to its path");
    return NULL;
  }
  FILE *f = fopen(path, "r");
  if (!f) {
    err_set(MIMIC_EAUTH, "%s: cannot read the token file: %s", path, strerror(errno));
    return NULL;
  }
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    err_set(MIMIC_EAUTH, "%s: discord.token_file names a folder; give the file holding the token",
            path);
    return NULL;
  }
  if (fstat(fileno(f), &st) == 0 && (st.st_mode & (S_IRWXG | S_IRWXO))) {
    fclose(f);
    err_set(MIMIC_EAUTH, "%s: the token file is readable by other users; run 'chmod 600 %s'", path,
            path);
    return NULL;
  }
  char tok[CFG_TOKEN_MAX];
  size_t n = fread(tok, 1, sizeof tok - 1, f);
  bool bad = ferror(f) != 0;
  fclose(f);
  if (bad) {
    err_set(MIMIC_EAUTH, "%s: cannot read the token file", path);
    return NULL;
  }
  tok[n] = 0;
  str_trim(tok);
  if (!tok[0]) {
    err_set(MIMIC_EAUTH, "%s: the token file is empty", path);
    return NULL;
  }
  return xstrdup(tok);
}
