/* The dashboard's JSON API (web_int.h): sessions, the bot's control and status, the log stream,
 * statistics from the store, live settings, jobs, privacy and the config file's settings. Every
 * handler here runs on its connection's thread; the store is shared under db_mu. Secrets (the bot
 * token, the metrics token, the password hash) are never read into an answer: the token can only
 * be written. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/metrics.h"
#include "store/jobs.h"
#include "web/web_int.h"

#define HOUR_MS    3600000LL
#define LOSS_ROWS  5000
#define CHILD_PAGE (512 * 1024)

/* Keys the live-settings page changes while the bot runs: the bot re-reads them on SIGHUP
 * (bot_settings_reload) as !setrate, !settemp and !setmaxlen do. */
static const char *const live_keys[] = {"bot.response_rate",
                                        "bot.active_boost",
                                        "bot.active_window_s",
                                        "bot.cooldown_s",
                                        "bot.user_flood_per_min",
                                        "bot.context_messages",
                                        "bot.bot_turns_max",
                                        "engine.temperature",
                                        "engine.max_tokens",
                                        "engine.top_k",
                                        "engine.top_p",
                                        "engine.min_p",
                                        "engine.repeat_penalty",
                                        "engine.repeat_last_n",
                                        "bot.keywords",
                                        "bot.system_prompt",
                                        NULL};

/* Keys the settings page edits in the config file (they take effect when the bot restarts). */
static const char *const file_keys[] = {
    "discord.guilds",     "bot.channels",       "bot.admins",        "bot.prefix",
    "engine.model",       "engine.adapter",     "engine.threads",    "engine.ctx",
    "log.level",          "log.file",           "discord.status",    "discord.activity",
    "engine.backend",     "discord.token_file", "engine.preload",    "engine.idle_unload_s",
    "log.retention_days", "log.max_file_mb",    "log.hash_user_ids", NULL};

static bool in_list(const char *const *list, const char *k) {
  for (size_t i = 0; list[i]; i++)
    if (strcmp(list[i], k) == 0) return true;
  return false;
}

static json_t *body_json(web_req *r) {
  json_error_t je;
  json_t *v = json_loadb(r->body, r->body_len, 0, &je);
  if (!v || !json_is_object(v)) {
    json_decref(v);
    web__send_error(r, 400, "the request body must be a JSON object");
    return NULL;
  }
  return v;
}

static void ok(web_req *r, const char *message) {
  web__send_json(r, 200, json_pack("{s:b,s:s}", "ok", 1, "message", message ? message : ""));
}

static void fail(web_req *r, int status) {
  web__send_error(r, status, err_msg());
  err_clear();
}

void web__api_ok(web_req *r, const char *message) { ok(r, message); }
void web__api_fail(web_req *r, int status) { fail(r, status); }
json_t *web__api_body(web_req *r) { return body_json(r); }

/* ---- session ---- */

static void api_login(web_dash *d, web_req *r) {
  const char *ct = web__header(r, "Content-Type");
  if (!ct || strncmp(ct, "application/json", 16) != 0) {
    web__send_error(r, 415, "send the password as JSON");
    return;
  }
  json_t *b = body_json(r);
  if (!b) return;
  char client[64], sid[WEB_ID_HEX + 1], csrf[WEB_ID_HEX + 1];
  web__client(r, client, sizeof client);
  int retry = 0;
  /* Any session the browser already holds is dropped: a login always starts a new one. */
  web__auth_logout(d->auth, r);
  int rc = web__auth_login(d->auth, d->db, &d->db_mu, client, jv_str(b, "password", ""), sid, csrf,
                           &retry);
  json_decref(b);
  if (rc == MIMIC_EBUSY) {
    char ra[16], body[160];
    snprintf(ra, sizeof ra, "%d", retry);
    json_t *ans = json_pack("{s:s,s:i}", "error", err_msg(), "retry_after", retry);
    char *t = json_dumps(ans, JSON_COMPACT);
    json_decref(ans);
    str_lcpy(body, t ? t : "{}", sizeof body);
    free(t);
    err_clear();
    const char *h[] = {"Retry-After", ra, NULL};
    web__send(r, 429, "application/json; charset=utf-8", body, strlen(body), false, h);
    return;
  }
  if (rc) {
    fail(r, rc == MIMIC_EAUTH ? 401 : rc == MIMIC_ENOTFOUND ? 503 : 500);
    return;
  }
  char cookie[256];
  web__auth_cookie(sid, d->tls, cookie, sizeof cookie);
  json_t *ans = json_pack("{s:b,s:s}", "ok", 1, "csrf", csrf);
  char *t = json_dumps(ans, JSON_COMPACT);
  json_decref(ans);
  const char *h[] = {"Set-Cookie", cookie, NULL};
  web__send(r, 200, "application/json; charset=utf-8", t ? t : "{}", t ? strlen(t) : 2, false, h);
  free(t);
  memset(sid, 0, sizeof sid);
}

static void api_logout(web_dash *d, web_req *r) {
  web__auth_logout(d->auth, r);
  char cookie[256];
  web__auth_cookie("", d->tls, cookie, sizeof cookie);
  const char *h[] = {"Set-Cookie", cookie, NULL};
  web__send(r, 200, "application/json", "{\"ok\":true}", 11, false, h);
}

/* ---- status ---- */

static json_t *child_view(int port) {
  json_t *o = json_object();
  if (port <= 0) return o;
  char *page = xalloc(CHILD_PAGE);
  int st = web__http_get_local(port, "/readyz", page, CHILD_PAGE, 1000);
  if (st > 0) {
    json_object_set_new(o, "ready", json_boolean(st == 200));
    str_trim(page);
    json_object_set_new(o, "ready_text", json_string(page));
  }
  err_clear();
  st = web__http_get_local(port, "/metrics", page, CHILD_PAGE, 1000);
  if (st == 200) {
    static const struct {
      const char *json, *metric;
    } nums[] = {
        {"gateway_connected", "mimic_gateway_connected"},
        {"model_loaded", "mimic_model_loaded"},
        {"model_resident", "mimic_model_resident"},
        {"queue_depth", "mimic_queue_depth"},
        {"rss_bytes", "mimic_process_resident_memory_bytes"},
        {"cpu_seconds", "mimic_process_cpu_seconds_total"},
        {"threads", "mimic_process_threads"},
        {"tokens_per_second", "mimic_generation_tokens_per_second"},
        {"last_reply_s", "mimic_last_reply_timestamp_seconds"},
        {"gateway_connects", "mimic_gateway_connects_total"},
        {"gateway_resumes", "mimic_gateway_resumes_total"},
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
      double v = web__prom_value(page, nums[i].metric, NULL, NULL, 0);
      if (isfinite(v)) json_object_set_new(o, nums[i].json, json_real(v));
    }
    char model[256] = "";
    if (isfinite(web__prom_value(page, "mimic_model_info", NULL, model, sizeof model)))
      json_object_set_new(o, "model", json_string(model));
    const char *outcomes[] = {"sent", "error", "empty", "cancelled", "refused"};
    json_t *rep = json_object();
    for (size_t i = 0; i < 5; i++) {
      double v = web__prom_value(page, "mimic_replies_total", outcomes[i], NULL, 0);
      if (isfinite(v)) json_object_set_new(rep, outcomes[i], json_real(v));
    }
    json_object_set_new(o, "replies", rep);
  }
  err_clear();
  mem_free(page);
  return o;
}

static void api_status(web_dash *d, web_req *r) {
  web_sup_status s;
  web__sup_status(d->sup, &s);
  int64_t now = clock_wall_ms();
  json_t *bot = json_pack("{s:s,s:I,s:I,s:i,s:i,s:s}", "state", web__bot_state_name(s.state), "pid",
                          (json_int_t)s.pid, "uptime_s",
                          (json_int_t)(s.started_ms ? (now - s.started_ms) / 1000 : 0), "restarts",
                          s.restarts, "last_exit", s.last_exit, "last_error", s.last_error);
  if (s.state == WEB_BOT_BACKOFF)
    json_object_set_new(bot, "restart_in_s", json_integer((s.next_start_ms - now + 999) / 1000));
  json_t *child = child_view(s.state == WEB_BOT_RUNNING ? s.ops_port : 0);
  /* The resource profile (engine.preload, engine.idle_unload_s) as the bot was started with. */
  json_t *conf = json_pack("{s:s,s:s,s:s,s:b,s:I}", "model", cfg_str(d->config, CFG_ENGINE_MODEL),
                           "adapter", cfg_str(d->config, CFG_ENGINE_ADAPTER), "backend",
                           cfg_str(d->config, CFG_ENGINE_BACKEND), "preload",
                           cfg_bool(d->config, CFG_ENGINE_PRELOAD), "idle_unload_s",
                           (json_int_t)cfg_int(d->config, CFG_ENGINE_IDLE_UNLOAD_S));
  web__send_json(r, 200,
                 json_pack("{s:o,s:o,s:o,s:I}", "bot", bot, "child", child, "config", conf,
                           "dashboard_uptime_s", (json_int_t)((now - d->started_ms) / 1000)));
}

static void api_bot(web_dash *d, web_req *r, const char *verb) {
  int rc;
  if (strcmp(verb, "start") == 0)
    rc = web__sup_start(d->sup);
  else if (strcmp(verb, "stop") == 0)
    rc = web__sup_stop(d->sup);
  else if (strcmp(verb, "restart") == 0)
    rc = web__sup_restart(d->sup);
  else {
    web__send_error(r, 404, "no such action");
    return;
  }
  if (rc) {
    fail(r, rc == MIMIC_EBUSY || rc == MIMIC_ENOTFOUND ? 409 : 500);
    return;
  }
  LOG_I("audit", "dashboard: bot %s", verb);
  ok(r, verb);
}

/* ---- logs ---- */

static void api_logs_download(web_dash *d, web_req *r) {
  buf b;
  buf_init(&b, (size_t)WEB_RING_LINES * (WEB_LINE_MAX + 1));
  char line[WEB_LINE_MAX + 1];
  uint64_t after = 0, seq;
  web_line_kind kind;
  int rc = 0;
  while (!rc && web__ring_next(d->ring, after, &seq, &kind, line, sizeof line, 0) == 1) {
    after = seq;
    if (kind == WEB_LINE_LOG) rc = buf_printf(&b, "%s\n", line);
  }
  err_clear();
  const char *h[] = {"Content-Disposition", "attachment; filename=\"mimic-bot.log\"", NULL};
  web__send(r, 200, "text/plain; charset=utf-8", b.data ? b.data : "", b.len, false, h);
  buf_free(&b);
}

/* ---- statistics ---- */

static double pct(const double *v, size_t n, double p) {
  if (!n) return 0;
  size_t rank = (size_t)ceil(p / 100.0 * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return v[rank - 1];
}

static int window_json(store *s, int64_t since, int64_t until, json_t *o) {
  static const char *const names[] = {"seen", "replies", "errors", "skipped", "empty"};
  int64_t v[5];
  int rc = 0;
  for (int i = 0; i < 5 && !rc; i++) rc = store_bot_count_sum(s, names[i], since, until, &v[i]);
  double *lat = NULL;
  size_t n = 0;
  int64_t pt = 0, gt = 0;
  if (!rc) rc = store_bot_latencies(s, since, until, &lat, &n, &pt, &gt);
  if (rc) return rc;
  for (int i = 0; i < 5; i++) json_object_set_new(o, names[i], json_integer(v[i]));
  json_object_set_new(o, "rate", json_real(v[0] ? (double)v[1] / (double)v[0] : 0));
  json_object_set_new(o, "p50_ms", json_real(pct(lat, n, 50)));
  json_object_set_new(o, "p95_ms", json_real(pct(lat, n, 95)));
  json_object_set_new(o, "p99_ms", json_real(pct(lat, n, 99)));
  json_object_set_new(o, "gen_tokens", json_integer(gt));
  mem_free(lat);
  return 0;
}

static void api_stats(web_dash *d, web_req *r) {
  const char *w = web__query(r, "window");
  bool week = w && strcmp(w, "7d") == 0;
  int64_t now = clock_wall_ms();
  int64_t span = (week ? 7 * 24 : 24) * HOUR_MS, step = (week ? 6 : 1) * HOUR_MS;
  int64_t end = now - now % HOUR_MS + HOUR_MS; /* the end of the current hour */
  json_t *total = json_object(), *series = json_array();
  pthread_mutex_lock(&d->db_mu);
  int rc = window_json(d->db, now - span, now + 1, total);
  for (int64_t t = end - span; !rc && t < end; t += step) {
    json_t *pt = json_object();
    rc = window_json(d->db, t, t + step, pt);
    json_object_set_new(pt, "t", json_integer(t));
    json_array_append_new(series, pt);
  }
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(total);
    json_decref(series);
    fail(r, 500);
    return;
  }
  web__send_json(r, 200,
                 json_pack("{s:s,s:o,s:o,s:I}", "window", week ? "7d" : "24h", "total", total,
                           "series", series, "bucket_ms", (json_int_t)step));
}

/* ---- live settings ---- */

typedef struct live_ctx {
  json_t *live; /* key -> value set in the store */
} live_ctx;

static int live_row(const char *scope, const char *key, const char *value, int64_t updated,
                    void *user) {
  (void)scope;
  live_ctx *c = user;
  json_object_set_new(c->live, key,
                      json_pack("{s:s,s:I}", "value", value, "updated_ms", (json_int_t)updated));
  return 0;
}

static json_t *key_json(web_dash *d, const char *name, json_t *live) {
  const cfg_key *k = cfg_key_find(name);
  if (!k) return NULL;
  cfg_id id = cfg_key_id(k);
  static const char *const types[] = {"string", "integer", "number", "boolean"};
  json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "key", name, "type", types[k->type], "help", k->help,
                        "default", cfg_key_default(id));
  double lo, hi;
  if (cfg_key_bounds(id, &lo, &hi)) {
    json_object_set_new(o, "min", json_real(lo));
    json_object_set_new(o, "max", json_real(hi));
  }
  json_t *lv = live ? json_object_get(live, name) : NULL;
  if (k->secret) {
    json_object_set_new(o, "set", json_boolean(*cfg_str(d->config, id) != 0));
    json_object_set_new(o, "source", json_string(cfg_source_name(cfg_source_of(d->config, id))));
  } else if (lv) {
    json_object_set_new(o, "value", json_incref(json_object_get(lv, "value")));
    json_object_set_new(o, "source", json_string("live"));
    json_object_set_new(o, "below", json_string(cfg_str(d->config, id)));
    json_object_set_new(o, "below_source",
                        json_string(cfg_source_name(cfg_source_of(d->config, id))));
  } else {
    json_object_set_new(o, "value", json_string(cfg_str(d->config, id)));
    json_object_set_new(o, "source", json_string(cfg_source_name(cfg_source_of(d->config, id))));
  }
  return o;
}

static void api_live_get(web_dash *d, web_req *r) {
  live_ctx c = {.live = json_object()};
  pthread_mutex_lock(&d->db_mu);
  int rc = store_setting_each(d->db, "", live_row, &c);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(c.live);
    fail(r, 500);
    return;
  }
  json_t *arr = json_array();
  for (size_t i = 0; live_keys[i]; i++) {
    json_t *o = key_json(d, live_keys[i], c.live);
    if (o) json_array_append_new(arr, o);
  }
  json_decref(c.live);
  web__send_json(r, 200, json_pack("{s:o}", "keys", arr));
}

/* Tells a running bot to re-read its live settings (and privacy flags). */
static const char *poke_bot(web_dash *d) {
  if (web__sup_signal(d->sup, SIGHUP) == 0) return "applied to the running bot";
  err_clear();
  return "saved; the bot reads it when it starts";
}

static void api_live_set(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  const char *key = jv_str(b, "key", "");
  json_t *jv = json_object_get(b, "value");
  char val[4096];
  if (json_is_string(jv))
    str_lcpy(val, json_string_value(jv), sizeof val);
  else if (json_is_integer(jv))
    snprintf(val, sizeof val, "%lld", (long long)json_integer_value(jv));
  else if (json_is_real(jv))
    snprintf(val, sizeof val, "%g", json_real_value(jv));
  else
    val[0] = 0;
  int rc;
  if (!in_list(live_keys, key)) {
    rc = err_set(MIMIC_EINVAL, "%s is not a live setting", key);
  } else {
    const cfg_key *k = cfg_key_find(key);
    rc = cfg_key_check(cfg_key_id(k), val);
  }
  if (!rc) {
    pthread_mutex_lock(&d->db_mu);
    rc = store_setting_set(d->db, "", key, val);
    pthread_mutex_unlock(&d->db_mu);
  }
  if (rc) {
    json_decref(b);
    fail(r, rc == MIMIC_EDB ? 500 : 400);
    return;
  }
  LOG_I("audit", "dashboard set %s = %s", key, val);
  json_decref(b);
  ok(r, poke_bot(d));
}

/* ---- jobs ---- */

typedef struct job_ctx {
  web_dash *d;
  int64_t id;
  char kind[24];
  bool poke; /* SIGHUP the running bot when the job ends */
} job_ctx;

void web__api_job_done(void *user, pid_t pid, int status) {
  job_ctx *j = user;
  bool good = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  char msg[96];
  if (WIFSIGNALED(status))
    snprintf(msg, sizeof msg, "killed by signal %d", WTERMSIG(status));
  else
    snprintf(msg, sizeof msg, "exited with status %d", WEXITSTATUS(status));
  pthread_mutex_lock(&j->d->db_mu);
  if (store_job_finish(j->d->db, j->id, good ? STORE_JOB_DONE : STORE_JOB_FAILED,
                       good ? "finished" : msg)) {
    LOG_W("web", "job %lld: %s", (long long)j->id, err_msg());
    err_clear();
  }
  pthread_mutex_unlock(&j->d->db_mu);
  char line[256];
  snprintf(line, sizeof line, "job %lld (%s, pid %d) %s", (long long)j->id, j->kind, (int)pid,
           good ? "finished" : msg);
  web__ring_push(j->d->ring, WEB_LINE_NOTICE, line, strlen(line));
  if (j->poke && web__sup_signal(j->d->sup, SIGHUP)) err_clear();
  mem_free(j);
}

int web__api_run_job(web_dash *d, const char *kind, char *const *argv, char *const *env, bool poke,
                     int64_t *id) {
  job_ctx *j = xcalloc(1, sizeof *j);
  j->d = d;
  j->poke = poke;
  str_lcpy(j->kind, kind, sizeof j->kind);
  pthread_mutex_lock(&d->db_mu);
  int rc = store_job_add(d->db, kind, STORE_JOB_RUNNING, 0, &j->id);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    mem_free(j);
    return rc;
  }
  int64_t jid = j->id;
  pid_t pid = web__sup_spawn_job(d->sup, argv, env, web__api_job_done, j);
  pthread_mutex_lock(&d->db_mu);
  if (pid < 0) {
    char why[300];
    str_lcpy(why, err_msg(), sizeof why);
    if (store_job_finish(d->db, jid, STORE_JOB_FAILED, why)) err_clear();
    err_set(MIMIC_EBUSY, "%s", why);
  } else if (store_job_progress(d->db, jid, pid, 0, 0, NAN, "started", NULL)) {
    err_clear();
  }
  pthread_mutex_unlock(&d->db_mu);
  if (pid < 0) {
    mem_free(j);
    return (int)pid;
  }
  *id = jid;
  return 0;
}

static int job_row(const store_job *j, void *user) {
  json_t *arr = user;
  json_t *o =
      json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:b}", "id", (json_int_t)j->id, "kind",
                j->kind, "state", store_job_state_name(j->state), "pid", (json_int_t)j->pid,
                "started_ms", (json_int_t)j->started_ms, "updated_ms", (json_int_t)j->updated_ms,
                "finished_ms", (json_int_t)j->finished_ms, "done", (json_int_t)j->done, "total",
                (json_int_t)j->total, "message", j->message, "has_log", j->log_path[0] != 0);
  if (isfinite(j->loss)) json_object_set_new(o, "loss", json_real(j->loss));
  json_array_append_new(arr, o);
  return 0;
}

static void api_jobs_get(web_dash *d, web_req *r) {
  json_t *arr = json_array();
  pthread_mutex_lock(&d->db_mu);
  int rc = store_job_each(d->db, 20, job_row, arr);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(arr);
    fail(r, 500);
    return;
  }
  web__send_json(r, 200, json_pack("{s:o}", "jobs", arr));
}

static void api_jobs_start(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  const char *kind = jv_str(b, "kind", "");
  json_t *args = json_object_get(b, "args");
  static const char *const kinds[] = {"fetch", "prepare", "train", "eval", NULL};
  if (!in_list(kinds, kind) || (args && !json_is_array(args)) || json_array_size(args) > 32) {
    json_decref(b);
    web__send_error(r, 400, "kind must be fetch, prepare, train or eval; args a list of strings");
    return;
  }
  char *argv[40];
  size_t n = 0;
  argv[n++] = "mimic";
  argv[n++] = (char *)kind;
  if (d->config_path) {
    argv[n++] = "--config";
    argv[n++] = d->config_path;
  }
  for (size_t i = 0; i < json_array_size(args); i++) {
    json_t *a = json_array_get(args, i);
    if (!json_is_string(a) || strlen(json_string_value(a)) > 1024) {
      json_decref(b);
      web__send_error(r, 400, "every argument must be a string of at most 1024 bytes");
      return;
    }
    argv[n++] = (char *)json_string_value(a);
  }
  argv[n] = NULL;
  job_ctx *j = xcalloc(1, sizeof *j);
  j->d = d;
  str_lcpy(j->kind, kind, sizeof j->kind);
  pthread_mutex_lock(&d->db_mu);
  int rc = store_job_add(d->db, kind, STORE_JOB_QUEUED, 0, &j->id);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    mem_free(j);
    json_decref(b);
    fail(r, 500);
    return;
  }
  char envid[48], kind_copy[16];
  str_lcpy(kind_copy, kind, sizeof kind_copy); /* kind lives in b */
  snprintf(envid, sizeof envid, "MIMIC_JOB_ID=%lld", (long long)j->id);
  char *env[] = {envid, NULL};
  int64_t id = j->id;
  pid_t pid = web__sup_spawn_job(d->sup, argv, env, web__api_job_done, j);
  json_decref(b);
  pthread_mutex_lock(&d->db_mu);
  if (pid < 0) {
    char why[300];
    str_lcpy(why, err_msg(), sizeof why);
    if (store_job_finish(d->db, id, STORE_JOB_FAILED, why)) err_clear();
    err_set(MIMIC_EBUSY, "%s", why);
  } else if (store_job_progress(d->db, id, pid, 0, 0, NAN, "started", NULL)) {
    err_clear();
  }
  pthread_mutex_unlock(&d->db_mu);
  if (pid < 0) {
    mem_free(j);
    fail(r, 409);
    return;
  }
  LOG_I("audit", "dashboard started job %lld: mimic %s", (long long)id, kind_copy);
  web__send_json(r, 200,
                 json_pack("{s:b,s:I,s:I}", "ok", 1, "id", (json_int_t)id, "pid", (json_int_t)pid));
}

static void api_jobs_cancel(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  int64_t id = jv_int(b, "id", 0);
  json_decref(b);
  store_job j;
  pthread_mutex_lock(&d->db_mu);
  int rc = store_job_get(d->db, id, &j);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    fail(r, 404);
    return;
  }
  if (j.state > STORE_JOB_RUNNING || j.pid <= 0) {
    web__send_error(r, 409, "the job is not running");
    return;
  }
  if (kill((pid_t)j.pid, SIGTERM) != 0) {
    web__send_error(r, 409, "the job's process is gone");
    return;
  }
  ok(r, "asked to stop");
}

static void api_jobs_loss(web_dash *d, web_req *r) {
  const char *ids = web__query(r, "id");
  int64_t id = 0;
  if (!ids || str_to_i64(ids, &id)) {
    err_clear();
    web__send_error(r, 400, "give ?id=JOB");
    return;
  }
  store_job j;
  pthread_mutex_lock(&d->db_mu);
  int rc = store_job_get(d->db, id, &j);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    fail(r, 404);
    return;
  }
  json_t *steps = json_array(), *loss = json_array(), *val = json_array();
  FILE *f = j.log_path[0] ? fopen(j.log_path, "r") : NULL;
  if (f) {
    char line[512];
    size_t rows = 0;
    while (fgets(line, sizeof line, f) && rows < LOSS_ROWS) {
      /* step,epoch,lr,loss,val_loss,... (cli/progress.c); the header and bad rows are skipped */
      char *fields[6] = {0};
      size_t nf = 0;
      for (char *p = line; nf < 6; nf++) {
        fields[nf] = p;
        char *c = strchr(p, ',');
        if (!c) {
          nf++;
          break;
        }
        *c = 0;
        p = c + 1;
      }
      int64_t st;
      double lv;
      if (nf < 5 || str_to_i64(fields[0], &st) || str_to_double(fields[3], &lv)) {
        err_clear();
        continue;
      }
      double vv;
      json_array_append_new(steps, json_integer(st));
      json_array_append_new(loss, json_real(lv));
      json_array_append_new(val, *fields[4] && str_to_double(fields[4], &vv) == 0 ? json_real(vv)
                                                                                  : json_null());
      err_clear();
      rows++;
    }
    fclose(f);
  }
  web__send_json(r, 200,
                 json_pack("{s:I,s:o,s:o,s:o}", "id", (json_int_t)id, "step", steps, "loss", loss,
                           "val", val));
}

static void api_reports(web_dash *d, web_req *r) {
  char dir[4096];
  snprintf(dir, sizeof dir, "%s/reports", cfg_str(d->config, CFG_DATA_DIR));
  json_t *arr = json_array();
  DIR *dh = opendir(dir);
  struct dirent *e;
  while (dh && (e = readdir(dh)) != NULL && json_array_size(arr) < 200)
    if (e->d_name[0] != '.' && str_ends_with(e->d_name, ".html"))
      json_array_append_new(arr, json_string(e->d_name));
  if (dh) closedir(dh);
  web__send_json(r, 200, json_pack("{s:o}", "reports", arr));
}

/* Hot-loading a trained adapter: engine.adapter in the config file, then a graceful restart (the
 * bot finishes its replies, then comes back with the adapter). */
static void api_adapter_load(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  char path[4096];
  str_lcpy(path, jv_str(b, "path", ""), sizeof path);
  json_decref(b);
  struct stat st;
  if (!*path || stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
    web__send_error(r, 400, "no adapter file at that path");
    return;
  }
  if (web__conf_set(d->config_path, "engine.adapter", path)) {
    fail(r, 400);
    return;
  }
  web_sup_status s;
  web__sup_status(d->sup, &s);
  if (s.state == WEB_BOT_RUNNING && web__sup_restart(d->sup)) err_clear();
  LOG_I("audit", "dashboard loaded adapter %s", path);
  ok(r, s.state == WEB_BOT_RUNNING ? "the bot restarts with the adapter once its replies are sent"
                                   : "the bot uses the adapter when it starts");
}

/* ---- privacy ---- */

static int flag_row(uint64_t user_id, uint32_t flag, const char *reason, int64_t set_ms, void *u) {
  web_dash *d = ((void **)u)[0];
  json_t *arr = ((void **)u)[1];
  char id[24];
  snprintf(id, sizeof id, "%llu", (unsigned long long)user_id);
  store_user su;
  const char *name = "";
  if (store_user_get(d->db, user_id, &su) == 0)
    name = su.display_name[0] ? su.display_name : su.name;
  err_clear();
  json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:s,s:I}", "user", id, "name", name, "flag",
                                       store_flag_name(flag), "reason", reason ? reason : "",
                                       "set_ms", (json_int_t)set_ms));
  return 0;
}

static void api_privacy_get(web_dash *d, web_req *r) {
  json_t *arr = json_array();
  void *u[2] = {d, arr};
  pthread_mutex_lock(&d->db_mu);
  int rc = store_user_flag_each(d->db, flag_row, u);
  pthread_mutex_unlock(&d->db_mu);
  if (rc) {
    json_decref(arr);
    fail(r, 500);
    return;
  }
  web__send_json(r, 200, json_pack("{s:o}", "people", arr));
}

/* exclude/include/opt-out/opt-in/purge run as `mimic privacy VERB ID` (the CLI's code path, with
 * its purge of dataset files); the bot is poked to re-read the flags when it ends. */
static void api_privacy_set(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  const char *verb = jv_str(b, "action", ""), *user = jv_str(b, "user", "");
  const char *reason = jv_str(b, "reason", "");
  static const char *const verbs[] = {"exclude", "include", "opt-out", "opt-in", "purge", NULL};
  uint64_t uid = 0;
  if (!in_list(verbs, verb) || str_to_u64(user, &uid) || uid == 0) {
    err_clear();
    json_decref(b);
    web__send_error(r, 400,
                    "action must be exclude, include, opt-out, opt-in or purge; user an id");
    return;
  }
  if (strcmp(verb, "purge") == 0 && !jv_bool(b, "confirm", false)) {
    json_decref(b);
    web__send_error(r, 400, "a purge deletes messages for good: confirm it");
    return;
  }
  char *argv[10];
  size_t n = 0;
  argv[n++] = "mimic";
  argv[n++] = "privacy";
  argv[n++] = (char *)verb;
  if (d->config_path) {
    argv[n++] = "--config";
    argv[n++] = d->config_path;
  }
  argv[n++] = (char *)user;
  if (*reason && strcmp(verb, "purge") != 0) argv[n++] = (char *)reason;
  argv[n] = NULL;
  int64_t id = 0;
  int rc = web__api_run_job(d, "privacy", argv, NULL, true, &id);
  if (!rc) LOG_I("audit", "dashboard: privacy %s %s", verb, user);
  json_decref(b);
  if (rc) {
    fail(r, rc == MIMIC_EBUSY ? 409 : 500);
    return;
  }
  web__send_json(r, 200,
                 json_pack("{s:b,s:I,s:s}", "ok", 1, "job", (json_int_t)id, "message",
                           "running; the list updates when it ends"));
}

/* ---- settings (the config file) ---- */

static void api_settings_get(web_dash *d, web_req *r) {
  json_t *arr = json_array();
  for (size_t i = 0; file_keys[i]; i++) {
    json_t *o = key_json(d, file_keys[i], NULL);
    if (o) json_array_append_new(arr, o);
  }
  /* The token: only whether one is there and where it comes from. */
  char *tok = cfg_token(d->config);
  json_t *token = json_pack("{s:b,s:s}", "set", tok != NULL, "file",
                            cfg_str(d->config, CFG_DISCORD_TOKEN_FILE));
  if (tok) {
    memset(tok, 0, strlen(tok));
    mem_free(tok);
  }
  err_clear();
  web__send_json(r, 200,
                 json_pack("{s:o,s:o,s:s?,s:b}", "keys", arr, "token", token, "config_path",
                           d->config_path, "editable", d->config_path != NULL));
}

static void api_settings_set(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  const char *key = jv_str(b, "key", ""), *val = jv_str(b, "value", "");
  int rc;
  const cfg_key *k = cfg_key_find(key);
  if (!in_list(file_keys, key) || !k)
    rc = err_set(MIMIC_EINVAL, "%s cannot be changed from the dashboard", key);
  else if ((rc = cfg_key_check(cfg_key_id(k), val)) == 0) {
    log_level lv;
    if (strcmp(key, "log.level") == 0 && log_level_parse(val, &lv))
      rc = err_set(MIMIC_EINVAL, "log.level must be error, warn, info, debug or trace");
    else
      rc = web__conf_set(d->config_path, key, val);
  }
  if (rc) {
    json_decref(b);
    fail(r, 400);
    return;
  }
  LOG_I("audit", "dashboard set %s in %s", key, d->config_path);
  json_decref(b);
  ok(r, "saved in the config file; restart the bot to use it");
}

/* The token is written to discord.token_file (mode 0600), or to <data.dir>/discord.token, which
 * then becomes discord.token_file in the config file. It is never read back. */
static void api_token_set(web_dash *d, web_req *r) {
  json_t *b = body_json(r);
  if (!b) return;
  const char *tok = jv_str(b, "token", "");
  size_t n = strlen(tok);
  int rc = 0;
  if (n < 20 || n > 200 || strpbrk(tok, " \t\r\n"))
    rc = err_set(MIMIC_EINVAL, "that does not look like a bot token");
  char path[4096];
  const char *tf = cfg_str(d->config, CFG_DISCORD_TOKEN_FILE);
  if (*tf)
    str_lcpy(path, tf, sizeof path);
  else
    snprintf(path, sizeof path, "%s/discord.token", cfg_str(d->config, CFG_DATA_DIR));
  if (!rc && !*tf && !d->config_path)
    rc = err_set(MIMIC_EINVAL, "start the dashboard with --config to save a token");
  if (!rc) rc = fs_mkdirs_for(path);
  if (!rc) {
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool good =
        fd >= 0 && write(fd, tok, n) == (ssize_t)n && write(fd, "\n", 1) == 1 && fsync(fd) == 0;
    if (fd >= 0) close(fd);
    if (!good || rename(tmp, path) != 0) {
      unlink(tmp);
      rc = err_set(MIMIC_EIO, "%s: cannot write the token file", path);
    }
  }
  if (!rc && !*tf) rc = web__conf_set(d->config_path, "discord.token_file", path);
  json_decref(b); /* the body's copy of the token goes with it */
  memset(r->body, 0, r->body_len);
  if (rc) {
    fail(r, 400);
    return;
  }
  LOG_I("audit", "dashboard saved a new bot token in %s", path);
  ok(r, "saved; restart the bot to use it");
}

/* ---- dispatch ---- */

bool web__api(web_dash *d, web_req *r, const char *path, bool session, const char *csrf) {
  bool get = strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
  bool post = strcmp(r->method, "POST") == 0;
  if (post && strcmp(path, "/login") == 0) {
    api_login(d, r);
    return true;
  }
  if (!session) {
    web__send_error(r, 401, "log in first");
    return true;
  }
  if (!get && !post) {
    web__send_error(r, 405, "GET or POST");
    return true;
  }
  if (post && !web__csrf_ok(r, csrf)) return true;
  if (get && strcmp(path, "/session") == 0)
    web__send_json(r, 200,
                   json_pack("{s:s,s:b,s:I}", "csrf", csrf, "tls", d->tls, "last_event",
                             (json_int_t)web__ring_last(d->ring)));
  else if (post && strcmp(path, "/logout") == 0)
    api_logout(d, r);
  else if (get && strcmp(path, "/status") == 0)
    api_status(d, r);
  else if (post && strncmp(path, "/bot/", 5) == 0)
    api_bot(d, r, path + 5);
  else if (get && strcmp(path, "/events") == 0) {
    const char *last = web__header(r, "Last-Event-ID");
    if (!last) last = web__query(r, "after");
    int64_t after = 0;
    if (last && (str_to_i64(last, &after) || after < 0)) after = 0;
    err_clear();
    web__sse_serve(r, d->ring, (uint64_t)after);
  } else if (get && strcmp(path, "/logs/download") == 0)
    api_logs_download(d, r);
  else if (get && strcmp(path, "/stats") == 0)
    api_stats(d, r);
  else if (get && strcmp(path, "/live") == 0)
    api_live_get(d, r);
  else if (post && strcmp(path, "/live") == 0)
    api_live_set(d, r);
  else if (get && strcmp(path, "/jobs") == 0)
    api_jobs_get(d, r);
  else if (post && strcmp(path, "/jobs") == 0)
    api_jobs_start(d, r);
  else if (post && strcmp(path, "/jobs/cancel") == 0)
    api_jobs_cancel(d, r);
  else if (get && strcmp(path, "/jobs/loss") == 0)
    api_jobs_loss(d, r);
  else if (get && strcmp(path, "/reports") == 0)
    api_reports(d, r);
  else if (post && strcmp(path, "/adapter") == 0)
    api_adapter_load(d, r);
  else if (get && strcmp(path, "/privacy") == 0)
    api_privacy_get(d, r);
  else if (post && strcmp(path, "/privacy") == 0)
    api_privacy_set(d, r);
  else if (get && strcmp(path, "/settings") == 0)
    api_settings_get(d, r);
  else if (post && strcmp(path, "/settings") == 0)
    api_settings_set(d, r);
  else if (post && strcmp(path, "/token") == 0)
    api_token_set(d, r);
  else
    return false; /* perhaps content.c's */
  return true;
}
