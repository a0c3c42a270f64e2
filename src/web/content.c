/* The API of the personas, lore and schedule pages (web_int.h). Reads go straight to the store
 * through its public headers (store/persona.h, store/lore.h, store/schedule.h). Changes that the
 * CLI owns, because they need layers above the store (a character card is parsed by collect/, a
 * lore file chunked by lore/, a persona's removal takes its character book out of the lore store),
 * run as `mimic persona ...` / `mimic lore add ...` jobs, the privacy page's pattern: the jobs
 * table and the log show how they went. Uploads arrive as the raw bytes of one file (at most
 * WEB_UPLOAD_MAX) with its name in ?file=, and are kept under <data.dir>/cards or
 * <data.dir>/lore with mode 0600. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/lore.h"
#include "store/persona.h"
#include "store/schedule.h"
#include "web/web_int.h"

#define FILE_NAME_MAX   100 /* bytes of an uploaded file's name */
#define SEARCH_K        20  /* lore search results */
#define EXCERPT_MAX     600 /* bytes of a passage or description shown in a list */
#define SCHED_RUNS_SHOW 5   /* runs shown per scheduled job */

/* ---- helpers ---- */

/* A copy of s cut at cap bytes, at a UTF-8 boundary, with "…" when cut. */
static json_t *excerpt(const char *s, size_t cap) {
  if (!s) s = "";
  size_t n = strlen(s);
  if (n <= cap) return json_string(s);
  while (cap > 0 && ((unsigned char)s[cap] & 0xC0) == 0x80) cap--;
  char *t = xalloc(cap + 4);
  memcpy(t, s, cap);
  memcpy(t + cap, "\xE2\x80\xA6", 4);
  json_t *v = json_string(t);
  mem_free(t);
  return v;
}

static bool ext_in(const char *name, const char *const *exts) {
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && exts[i]; i++)
    if (str_ieq(dot, exts[i])) return true;
  return false;
}

/* An uploaded file's name: a plain name of letters, digits, '.', '-', '_' and spaces, not hidden,
 * ending in one of exts. */
static int check_file_name(const char *name, const char *const *exts, const char *what) {
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > FILE_NAME_MAX || name[0] == '.' || name[0] == ' ')
    return err_set(MIMIC_EINVAL, "give the %s's file name (?file=NAME, at most %d bytes)", what,
                   FILE_NAME_MAX);
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '-' || c == '_' || c == ' ';
    if (!okc)
      return err_set(MIMIC_EINVAL,
                     "%s: a file name may hold only letters, digits, '.', '-', '_' and spaces",
                     name);
  }
  if (!ext_in(name, exts)) {
    char list[128] = "";
    for (size_t i = 0; exts[i]; i++) {
      size_t k = strlen(list);
      snprintf(list + k, sizeof list - k, "%s%s", i ? ", " : "", exts[i]);
    }
    return err_set(MIMIC_EINVAL, "%s: a %s must be one of %s", name, what, list);
  }
  return 0;
}

/* Writes the request body to <data.dir>/<sub>/<name> (mode 0600, through a temporary file). */
static int save_upload(web_dash *d, web_req *r, const char *sub, const char *name, char *path,
                       size_t cap) {
  if (r->body_len == 0) return err_set(MIMIC_EINVAL, "the upload is empty: send the file's bytes");
  snprintf(path, cap, "%s/%s/%s", cfg_str(d->config, CFG_DATA_DIR), sub, name);
  int rc = fs_mkdirs_for(path);
  if (rc) return rc;
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.up.%d", path, (int)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool good = fd >= 0;
  for (size_t off = 0; good && off < r->body_len;) {
    ssize_t k = write(fd, r->body + off, r->body_len - off);
    if (k < 0 && errno == EINTR) continue;
    good = k > 0;
    if (good) off += (size_t)k;
  }
  good = good && fsync(fd) == 0;
  if (fd >= 0 && close(fd) != 0) good = false;
  if (!good || rename(tmp, path) != 0) {
    unlink(tmp);
    return err_set(MIMIC_EIO, "%s: cannot save the upload (%s)", path, strerror(errno));
  }
  return 0;
}

/* Appends --config PATH to argv at *n when the dashboard has a config file. */
static void add_config(web_dash *d, char **argv, size_t *n) {
  if (!d->config_path) return;
  argv[(*n)++] = "--config";
  argv[(*n)++] = d->config_path;
}

static void job_started(web_req *r, int rc, int64_t id, const char *message) {
  if (rc) {
    web__api_fail(r, rc == MIMIC_EBUSY ? 409 : 500);
    return;
  }
  web__send_json(r, 200,
                 json_pack("{s:b,s:I,s:s}", "ok", 1, "job", (json_int_t)id, "message", message));
}

/* ---- personas ---- */

static int persona_row(const store_persona *p, void *user) {
  json_t *arr = user;
  json_t *aliases = json_array(), *tags = json_array();
  for (size_t i = 0; i < p->aliases.n; i++)
    json_array_append_new(aliases, json_string(p->aliases.v[i]));
  for (size_t i = 0; i < p->tags.n; i++) json_array_append_new(tags, json_string(p->tags.v[i]));
  json_t *o = json_pack(
      "{s:I,s:s,s:o,s:o,s:b,s:s,s:f,s:f,s:I,s:I,s:s,s:s,s:s,s:b,s:I}", "id", (json_int_t)p->id,
      "name", p->name ? p->name : "", "aliases", aliases, "tags", tags, "enabled", p->enabled,
      "adapter", p->adapter ? p->adapter : "", "adapter_scale", p->adapter_scale, "freewill",
      p->freewill, "triggers", (json_int_t)(p->keywords.n + p->regexes.n), "channels",
      (json_int_t)p->n_channels, "lore_scope", p->lore_scope ? p->lore_scope : "", "creator",
      p->creator ? p->creator : "", "version", p->character_version ? p->character_version : "",
      "has_book", p->character_book != NULL, "updated_ms", (json_int_t)p->updated_ms);
  json_object_set_new(o, "description", excerpt(p->description, EXCERPT_MAX));
  json_array_append_new(arr, o);
  return 0;
}

static void personas_get(web_dash *d, web_req *r) {
  json_t *arr = json_array();
  pthread_mutex_lock(&d->db_mu);
  int rc = store_persona_each(d->db, false, persona_row, arr);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(arr);
    web__api_fail(r, 500);
    return;
  }
  web__send_json(r, 200, json_pack("{s:o}", "personas", arr));
}

/* POST /api/personas/import?file=NAME.png[&name=AS][&replace=1], the card's bytes as the body:
 * `mimic persona import`. */
static void personas_import(web_dash *d, web_req *r) {
  static const char *const exts[] = {".json", ".png", NULL};
  const char *file = web__query(r, "file"), *as = web__query(r, "name");
  const char *replace = web__query(r, "replace");
  char path[4300];
  int rc = check_file_name(file, exts, "character card");
  if (!rc && as && (!*as || strlen(as) > STORE_PERSONA_NAME_MAX || strpbrk(as, "\r\n\t")))
    rc = err_set(MIMIC_EINVAL, "a persona's name is 1 to %d bytes on one line",
                 STORE_PERSONA_NAME_MAX);
  if (!rc) rc = save_upload(d, r, "cards", file, path, sizeof path);
  if (rc) {
    web__api_fail(r, rc == MIMIC_EIO ? 500 : 400);
    return;
  }
  char *argv[12];
  size_t n = 0;
  argv[n++] = "mimic";
  argv[n++] = "persona";
  argv[n++] = "import";
  add_config(d, argv, &n);
  if (as) {
    argv[n++] = "--name";
    argv[n++] = (char *)as;
  }
  if (replace && strcmp(replace, "1") == 0) argv[n++] = "--replace";
  argv[n++] = path;
  argv[n] = NULL;
  int64_t id = 0;
  rc = web__api_run_job(d, "persona import", argv, NULL, true, &id);
  if (!rc) LOG_I("audit", "dashboard: persona import %s", file);
  job_started(r, rc, id, "importing; the list updates when it ends");
}

/* POST /api/personas {"action": "enable"|"disable"|"remove", "name": N, "confirm": true}:
 * `mimic persona edit N --set enabled=...` or `mimic persona remove N`. */
static void personas_set(web_dash *d, web_req *r) {
  json_t *b = web__api_body(r);
  if (!b) return;
  const char *action = jv_str(b, "action", ""), *name = jv_str(b, "name", "");
  bool remove = strcmp(action, "remove") == 0;
  bool enable = strcmp(action, "enable") == 0, disable = strcmp(action, "disable") == 0;
  int64_t pid = 0;
  int rc = 0;
  if (!remove && !enable && !disable)
    rc = err_set(MIMIC_EINVAL, "action must be enable, disable or remove");
  else if (remove && !jv_bool(b, "confirm", false))
    rc = err_set(MIMIC_EINVAL, "removing a persona deletes its settings and lore: confirm it");
  if (rc) {
    json_decref(b);
    web__api_fail(r, 400);
    return;
  }
  pthread_mutex_lock(&d->db_mu);
  rc = store_persona_find(d->db, name, &pid);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(b);
    if (rc == MIMIC_ENOTFOUND) {
      err_clear();
      web__send_error(r, 404, "no persona has that name");
    } else {
      web__api_fail(r, 500);
    }
    return;
  }
  char *argv[12];
  size_t n = 0;
  argv[n++] = "mimic";
  argv[n++] = "persona";
  argv[n++] = remove ? "remove" : "edit";
  add_config(d, argv, &n);
  if (!remove) {
    argv[n++] = "--set";
    argv[n++] = enable ? "enabled=true" : "enabled=false";
  }
  argv[n++] = "--"; /* a name is never read as an option */
  argv[n++] = (char *)name;
  argv[n] = NULL;
  int64_t id = 0;
  rc = web__api_run_job(d, remove ? "persona remove" : "persona edit", argv, NULL, true, &id);
  if (!rc) LOG_I("audit", "dashboard: persona %s %s", action, name);
  json_decref(b);
  job_started(r, rc, id, "running; the list updates when it ends");
}

/* ---- lore ---- */

static int source_row(const store_lore_source *src, void *user) {
  json_t *arr = user;
  const char *base = strrchr(src->path, '/');
  json_array_append_new(
      arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:I,s:I,s:I}", "id", (json_int_t)src->id, "path",
                     src->path, "file", base ? base + 1 : src->path, "scope", src->scope, "format",
                     src->format, "bytes", (json_int_t)src->bytes, "passages",
                     (json_int_t)src->n_chunks, "added_ms", (json_int_t)src->added_ms));
  return 0;
}

static void lore_get(web_dash *d, web_req *r) {
  json_t *arr = json_array();
  int64_t chunks = 0;
  pthread_mutex_lock(&d->db_mu);
  int rc = store_lore_source_each(d->db, source_row, arr);
  if (!rc) rc = store_lore_chunk_count(d->db, &chunks);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(arr);
    web__api_fail(r, 500);
    return;
  }
  web__send_json(r, 200, json_pack("{s:o,s:I}", "sources", arr, "passages", (json_int_t)chunks));
}

typedef struct hit_ctx {
  json_t *o;
} hit_ctx;

static int hit_chunk(const store_lore_chunk *c, void *user) {
  hit_ctx *h = user;
  json_object_set_new(h->o, "source_id", json_integer(c->source_id));
  json_object_set_new(h->o, "scope", json_string(c->scope ? c->scope : ""));
  json_object_set_new(h->o, "title", json_string(c->title ? c->title : ""));
  json_object_set_new(h->o, "text", excerpt(c->text, EXCERPT_MAX));
  json_object_set_new(h->o, "world_info", json_boolean(c->wi));
  if (c->wi) json_object_set_new(h->o, "keys", json_string(c->keys ? c->keys : ""));
  return 0;
}

/* GET /api/lore/search?q=WORDS[&scope=S]: the store's full-text search (BM25) over the passages. */
static void lore_search(web_dash *d, web_req *r) {
  const char *q = web__query(r, "q"), *scope = web__query(r, "scope");
  if (!q || !*q) {
    web__send_error(r, 400, "give the words to search for (?q=...)");
    return;
  }
  const char *scopes[1] = {scope};
  store_fts_hit hits[SEARCH_K];
  size_t n = 0;
  json_t *arr = json_array();
  pthread_mutex_lock(&d->db_mu);
  int rc = store_lore_fts(d->db, q, scopes, scope && *scope ? 1 : 0, SEARCH_K, hits, &n);
  for (size_t i = 0; !rc && i < n; i++) {
    hit_ctx h = {.o = json_pack("{s:I,s:f}", "id", (json_int_t)hits[i].id, "rank", hits[i].rank)};
    rc = store_lore_chunk_get(d->db, hits[i].id, hit_chunk, &h);
    if (rc == MIMIC_ENOTFOUND) { /* removed meanwhile */
      err_clear();
      rc = 0;
      json_decref(h.o);
      continue;
    }
    json_array_append_new(arr, h.o);
  }
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(arr);
    web__api_fail(r, rc == MIMIC_EDB ? 500 : 400);
    return;
  }
  web__send_json(r, 200, json_pack("{s:s,s:o}", "query", q, "results", arr));
}

/* POST /api/lore/upload?file=NAME.md[&scope=S], the file's bytes as the body: `mimic lore add`.
 * The same name and scope again replaces that source. */
static void lore_upload(web_dash *d, web_req *r) {
  static const char *const exts[] = {".md", ".markdown", ".txt", ".text", ".json", ".jsonl", NULL};
  const char *file = web__query(r, "file"), *scope = web__query(r, "scope");
  char path[4300];
  int rc = check_file_name(file, exts, "lore file");
  if (!rc && scope && *scope && (strlen(scope) >= STORE_LORE_SCOPE_MAX || strpbrk(scope, "\r\n\t")))
    rc = err_set(MIMIC_EINVAL, "a lore scope is at most %d bytes on one line",
                 STORE_LORE_SCOPE_MAX - 1);
  if (!rc) rc = save_upload(d, r, "lore", file, path, sizeof path);
  if (rc) {
    web__api_fail(r, rc == MIMIC_EIO ? 500 : 400);
    return;
  }
  char *argv[12];
  size_t n = 0;
  argv[n++] = "mimic";
  argv[n++] = "lore";
  argv[n++] = "add";
  add_config(d, argv, &n);
  if (scope && *scope) {
    argv[n++] = "--scope";
    argv[n++] = (char *)scope;
  }
  argv[n++] = path;
  argv[n] = NULL;
  int64_t id = 0;
  rc = web__api_run_job(d, "lore add", argv, NULL, false, &id);
  if (!rc) LOG_I("audit", "dashboard: lore add %s", file);
  job_started(r, rc, id, "adding; the list updates when it ends");
}

/* POST /api/lore/remove {"id": N, "confirm": true}: the source with its passages and vectors. */
static void lore_remove(web_dash *d, web_req *r) {
  json_t *b = web__api_body(r);
  if (!b) return;
  int64_t id = jv_int(b, "id", 0);
  bool confirm = jv_bool(b, "confirm", false);
  json_decref(b);
  if (!confirm) {
    web__send_error(r, 400, "removing a lore source deletes its passages: confirm it");
    return;
  }
  pthread_mutex_lock(&d->db_mu);
  int rc = store_lore_source_delete(d->db, id);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    if (rc == MIMIC_ENOTFOUND) {
      err_clear();
      web__send_error(r, 404, "no lore source has that id");
    } else {
      web__api_fail(r, 500);
    }
    return;
  }
  LOG_I("audit", "dashboard: lore source %lld removed", (long long)id);
  web__api_ok(r, "removed");
}

/* ---- schedule ---- */

static int run_row(const store_sched_run *x, void *user) {
  json_array_append_new(user, json_pack("{s:I,s:I,s:I,s:s,s:s,s:s}", "scheduled_ms",
                                        (json_int_t)x->scheduled_ms, "claimed_ms",
                                        (json_int_t)x->claimed_ms, "finished_ms",
                                        (json_int_t)x->finished_ms, "by", x->claimed_by, "status",
                                        x->status, "detail", x->detail));
  return 0;
}

static int sched_row(const store_sched_job *j, void *user) {
  json_t *arr = user;
  char g[24], c[24];
  snprintf(g, sizeof g, "%llu", (unsigned long long)j->guild_id);
  snprintf(c, sizeof c, "%llu", (unsigned long long)j->channel_id);
  json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:i,s:b,s:s,s:I,s:I,s:[]}",
                                       "id", (json_int_t)j->id, "name", j->name, "kind", j->kind,
                                       "guild", g, "channel", c, "expr", j->expr, "tz", j->tz,
                                       "missed", j->missed == SCHED_MISSED_ONCE ? "once" : "skip",
                                       "jitter_s", j->jitter_s, "enabled", j->enabled, "params",
                                       j->params, "next_ms", (json_int_t)j->next_ms, "last_ms",
                                       (json_int_t)j->last_ms, "runs"));
  return 0;
}

static void schedule_get(web_dash *d, web_req *r) {
  json_t *arr = json_array();
  pthread_mutex_lock(&d->db_mu);
  int rc = store_sched_each(d->db, 0, sched_row, arr);
  for (size_t i = 0; !rc && i < json_array_size(arr); i++) {
    json_t *o = json_array_get(arr, i);
    rc = store_sched_runs(d->db, json_integer_value(json_object_get(o, "id")), SCHED_RUNS_SHOW,
                          run_row, json_object_get(o, "runs"));
  }
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(arr);
    web__api_fail(r, 500);
    return;
  }
  web__send_json(r, 200, json_pack("{s:o}", "jobs", arr));
}

/* POST /api/schedule {"name": N, "enabled": bool}. A job switched on starts from its next instant
 * after now (next_ms 0 asks the scheduler to compute it), so runs missed while it was off never
 * fire. */
static void schedule_set(web_dash *d, web_req *r) {
  json_t *b = web__api_body(r);
  if (!b) return;
  json_t *en = json_object_get(b, "enabled");
  char name[SCHED_NAME_MAX];
  str_lcpy(name, jv_str(b, "name", ""), sizeof name);
  bool on = json_is_true(en);
  json_decref(b);
  if (!json_is_boolean(en)) {
    web__send_error(r, 400, "give the job's name and enabled: true or false");
    return;
  }
  store_sched_job j;
  pthread_mutex_lock(&d->db_mu);
  int rc = store_sched_get(d->db, name, &j);
  if (!rc && j.enabled != on) {
    j.enabled = on;
    if (on) j.next_ms = 0;
    rc = store_sched_update(d->db, &j);
  }
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    if (rc == MIMIC_ENOTFOUND) {
      err_clear();
      web__send_error(r, 404, "no scheduled job has that name");
    } else {
      web__api_fail(r, 500);
    }
    return;
  }
  LOG_I("audit", "dashboard: scheduled job %s %s", name, on ? "enabled" : "disabled");
  web__api_ok(r, on ? "enabled: it runs from its next instant" : "disabled");
}

/* ---- dispatch ---- */

bool web__content_api(web_dash *d, web_req *r, const char *path, bool get, bool post) {
  if (get && strcmp(path, "/personas") == 0)
    personas_get(d, r);
  else if (post && strcmp(path, "/personas") == 0)
    personas_set(d, r);
  else if (post && strcmp(path, "/personas/import") == 0)
    personas_import(d, r);
  else if (get && strcmp(path, "/lore") == 0)
    lore_get(d, r);
  else if (get && strcmp(path, "/lore/search") == 0)
    lore_search(d, r);
  else if (post && strcmp(path, "/lore/upload") == 0)
    lore_upload(d, r);
  else if (post && strcmp(path, "/lore/remove") == 0)
    lore_remove(d, r);
  else if (get && strcmp(path, "/schedule") == 0)
    schedule_get(d, r);
  else if (post && strcmp(path, "/schedule") == 0)
    schedule_set(d, r);
  else
    return false;
  return true;
}
