/* The first run in the dashboard (web_int.h): the page a new owner lands on while the bot has no
 * token. It lists the GGUF files under the config's models/ and data/ folders with this machine's
 * memory, and runs `mimic setup --yes` as a job with the token the page sent (in the job's
 * environment as DISCORD_TOKEN, never on a command line, in a file of ours or in a log): setup
 * verifies it with Discord (GET /users/@me), checks the MESSAGE CONTENT intent and says where to
 * switch it on, prints the invite URL with the permissions mimic needs and why, recommends a model
 * size for this machine and writes mimic.conf (the old one kept as a backup). The page shows that
 * job's output as it comes (the log stream from the line number the answer gives). The Discord
 * calls stay in `mimic setup`: the web layer uses the store only. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "web/web_int.h"

#define MODELS_MAX  64
#define SCAN_DEPTH  2
#define TOKEN_ENV   256 /* bytes of "DISCORD_TOKEN=..." */
#define SETUP_PATHS 4096

bool web__setup_token_set(web_dash *d) {
  /* Without --config, setup writes ./mimic.conf, which `mimic run` then reads. */
  const char *path = d->config_path ? d->config_path : "mimic.conf";
  cfg *fresh = NULL;
  if (access(path, R_OK) == 0) {
    fresh = cfg_new();
    if (cfg_load_file(fresh, path) || cfg_load_env(fresh)) {
      cfg_destroy(fresh);
      fresh = NULL;
    }
  }
  char *tok = cfg_token(fresh ? fresh : d->config);
  bool set = tok && *tok;
  if (tok) {
    memset(tok, 0, strlen(tok));
    mem_free(tok);
  }
  err_clear();
  if (fresh) cfg_destroy(fresh);
  return set;
}

/* The folder the config file is in ("." without one). */
static void base_dir(web_dash *d, char *out, size_t cap) {
  str_lcpy(out, d->config_path ? d->config_path : "mimic.conf", cap);
  char *slash = strrchr(out, '/');
  if (!slash)
    str_lcpy(out, ".", cap);
  else if (slash == out)
    out[1] = 0;
  else
    *slash = 0;
}

static void scan(const char *dir, int depth, json_t *arr) {
  DIR *dh = opendir(dir);
  if (!dh) return;
  struct dirent *e;
  while ((e = readdir(dh)) != NULL && json_array_size(arr) < MODELS_MAX) {
    if (e->d_name[0] == '.') continue;
    char path[SETUP_PATHS];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    struct stat st;
    if (stat(path, &st) != 0) continue;
    if (S_ISDIR(st.st_mode) && depth > 1)
      scan(path, depth - 1, arr);
    else if (S_ISREG(st.st_mode) && str_ends_with(e->d_name, ".gguf"))
      json_array_append_new(arr,
                            json_pack("{s:s,s:I}", "path", path, "bytes", (json_int_t)st.st_size));
  }
  closedir(dh);
}

static int64_t mem_total(void) {
  FILE *f = fopen("/proc/meminfo", "r");
  long long kb = 0;
  char line[256];
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "MemTotal: %lld kB", &kb) == 1) break;
  if (f) fclose(f);
  return (int64_t)kb * 1024;
}

static void setup_get(web_dash *d, web_req *r) {
  char base[SETUP_PATHS], dir[SETUP_PATHS + 16];
  base_dir(d, base, sizeof base);
  json_t *models = json_array();
  static const char *const sub[] = {"models", "data"};
  for (size_t i = 0; i < 2; i++) {
    snprintf(dir, sizeof dir, "%s/%s", base, sub[i]);
    scan(dir, SCAN_DEPTH, models);
  }
  web__send_json(r, 200,
                 json_pack("{s:b,s:s?,s:o,s:I}", "token_set", web__setup_token_set(d),
                           "config_path", d->config_path, "models", models, "ram_bytes",
                           (json_int_t)mem_total()));
}

/* POST /api/setup {"token": T, "model": PATH|"", "replace": bool}. */
static void setup_post(web_dash *d, web_req *r) {
  json_t *b = web__api_body(r);
  if (!b) return;
  const char *tok = jv_str(b, "token", ""), *model = jv_str(b, "model", "");
  size_t n = strlen(tok);
  int rc = 0, status = 400;
  struct stat st;
  if (n < 20 || n > 200 || strpbrk(tok, " \t\r\n"))
    rc = err_set(MIMIC_EINVAL, "that does not look like a bot token (Developer Portal > your "
                               "application > Bot > Reset Token)");
  else if (*model &&
           (!str_ends_with(model, ".gguf") || stat(model, &st) != 0 || !S_ISREG(st.st_mode)))
    rc = err_set(MIMIC_EINVAL, "%s: no GGUF model there", model);
  else if (web__setup_token_set(d) && !jv_bool(b, "replace", false)) {
    rc = err_set(MIMIC_EBUSY, "the bot has a token already: the first run writes mimic.conf anew "
                              "(keeping a backup); confirm to replace it");
    status = 409;
  }
  char env_tok[TOKEN_ENV], env_api[SETUP_PATHS + 32];
  int64_t id = 0;
  uint64_t after = web__ring_last(d->ring);
  if (!rc) {
    snprintf(env_tok, sizeof env_tok, "DISCORD_TOKEN=%s", tok);
    snprintf(env_api, sizeof env_api, "MIMIC_DISCORD_API=%s", cfg_str(d->config, CFG_DISCORD_API));
    char *env[] = {env_tok, env_api, NULL};
    char *argv[10];
    size_t k = 0;
    argv[k++] = "mimic";
    argv[k++] = "setup";
    argv[k++] = "--yes";
    if (d->config_path) {
      argv[k++] = "--config";
      argv[k++] = d->config_path;
    }
    if (*model) {
      argv[k++] = "--model";
      argv[k++] = (char *)model;
    }
    argv[k] = NULL;
    rc = web__api_run_job(d, "setup", argv, env, false, &id);
    status = rc == MIMIC_EBUSY ? 409 : 500;
    memset(env_tok, 0, sizeof env_tok);
  }
  memset((char *)tok, 0, n); /* the body's copy of the token */
  json_decref(b);
  memset(r->body, 0, r->body_len);
  if (rc) {
    web__api_fail(r, status);
    return;
  }
  LOG_I("audit", "dashboard: first run (mimic setup) started as job %lld", (long long)id);
  web__send_json(
      r, 200,
      json_pack("{s:b,s:I,s:I}", "ok", 1, "job", (json_int_t)id, "after", (json_int_t)after));
}

bool web__setup_api(web_dash *d, web_req *r, const char *path, bool get, bool post) {
  if (strcmp(path, "/setup") != 0) return false;
  if (get)
    setup_get(d, r);
  else if (post)
    setup_post(d, r);
  else
    return false;
  return true;
}
