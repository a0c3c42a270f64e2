/* The typed Discord REST calls (see api.h): paths, JSON bodies, multi-part sends and the persona
 * webhook's create-and-retry dance. The HTTP, queueing and rate limits are rest.c's. */
#include "discord/api.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "discord/discord_int.h"
#include "discord/split.h"

#define ID_FMT "%" PRIu64

/* ---- small helpers ---- */

static json_t *id_str(uint64_t id) {
  char s[24];
  snprintf(s, sizeof s, ID_FMT, id);
  return json_string(s);
}

/* Percent-encodes a path segment (an emoji): everything but unreserved characters and ':'. */
static int encode_segment(const char *in, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  size_t o = 0;
  for (const unsigned char *p = (const unsigned char *)in; *p; p++) {
    bool keep = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                *p == '-' || *p == '_' || *p == '.' || *p == '~' || *p == ':';
    if (o + (keep ? 1 : 3) + 1 > cap) return err_set(MIMIC_EINVAL, "emoji is too long");
    if (keep) {
      out[o++] = (char)*p;
    } else {
      out[o++] = '%';
      out[o++] = hex[*p >> 4];
      out[o++] = hex[*p & 15];
    }
  }
  out[o] = 0;
  return o ? 0 : err_set(MIMIC_EINVAL, "emoji is empty");
}

/* A token goes into a path: it must be a plain path segment. */
static int check_token(const char *t) {
  if (!t || !*t || strlen(t) > 500) return err_set(MIMIC_EINVAL, "missing or oversized token");
  for (const char *p = t; *p; p++)
    if (*p == '/' || *p == '?' || *p == '#' || *p == '%' || (unsigned char)*p <= ' ')
      return err_set(MIMIC_EINVAL, "token contains characters not allowed in a URL path");
  return 0;
}

static int req(rest *r, const char *method, const json_t *body, rest_cb cb, void *user,
               const char *fmt, ...) MIMIC_PRINTF(6, 7);
static int req(rest *r, const char *method, const json_t *body, rest_cb cb, void *user,
               const char *fmt, ...) {
  char path[REST_URL_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof path) return err_set(MIMIC_EINVAL, "REST path too long");
  return rest_request(r, method, path, body, cb, user);
}

/* ---- gateway, identity ---- */

int api_gateway_bot(rest *r, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/gateway/bot");
}
int api_user_me(rest *r, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/users/@me");
}

int api_gateway_info_parse(const json_t *j, api_gateway_info *out) {
  memset(out, 0, sizeof *out);
  const char *url = jv_str(j, "url", NULL);
  if (!url || !*url || strlen(url) >= sizeof out->url)
    return err_set(MIMIC_EFORMAT, "GET /gateway/bot: answer has no usable url");
  str_lcpy(out->url, url, sizeof out->url);
  out->shards = (int)jv_int(j, "shards", 1);
  if (out->shards < 1 || out->shards > 65536) out->shards = 1;
  const json_t *ssl = json_object_get(j, "session_start_limit");
  out->session_total = (int)jv_int(ssl, "total", 1000);
  out->session_remaining = (int)jv_int(ssl, "remaining", 1000);
  out->session_reset_after_ms = jv_int(ssl, "reset_after", 0);
  out->max_concurrency = (int)jv_int(ssl, "max_concurrency", 1);
  if (out->max_concurrency < 1) out->max_concurrency = 1;
  return 0;
}

/* ---- first run ---- */

int api_application_me(rest *r, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/applications/@me");
}

int api_self_parse(const json_t *j, api_self *out) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(j) || !(out->id = jv_snowflake(j, "id")))
    return err_set(MIMIC_EFORMAT, "GET /users/@me: the answer has no user id");
  str_lcpy(out->username, jv_str(j, "username", "?"), sizeof out->username);
  out->bot = jv_bool(j, "bot", false);
  return 0;
}

int api_application_parse(const json_t *j, api_application *out) {
  memset(out, 0, sizeof *out);
  if (!json_is_object(j) || !(out->id = jv_snowflake(j, "id")))
    return err_set(MIMIC_EFORMAT, "GET /applications/@me: the answer has no application id");
  str_lcpy(out->name, jv_str(j, "name", "?"), sizeof out->name);
  const json_t *f = json_object_get(j, "flags");
  out->has_flags = json_is_integer(f);
  out->flags = out->has_flags && json_integer_value(f) > 0 ? (uint64_t)json_integer_value(f) : 0;
  out->bot_public = jv_bool(j, "bot_public", false);
  out->code_grant = jv_bool(j, "bot_require_code_grant", false);
  if (!json_object_get(j, "team") || json_is_null(json_object_get(j, "team")))
    out->owner_id = jv_snowflake(json_object_get(j, "owner"), "id");
  return 0;
}

bool api_application_message_content(const api_application *a) {
  return (a->flags & (API_APP_GATEWAY_MESSAGE_CONTENT | API_APP_GATEWAY_MESSAGE_CONTENT_LIMITED)) !=
         0;
}

int api_self_get(rest *r, api_self *out) {
  json_t *j = NULL;
  int rc = rest_call_sync(r, "GET", "/users/@me", NULL, &j, NULL, NULL);
  if (!rc) rc = api_self_parse(j, out);
  json_decref(j);
  return rc;
}

int api_application_get(rest *r, api_application *out) {
  json_t *j = NULL;
  int rc = rest_call_sync(r, "GET", "/applications/@me", NULL, &j, NULL, NULL);
  if (!rc) rc = api_application_parse(j, out);
  json_decref(j);
  return rc;
}

int api_invite_url(uint64_t app_id, uint64_t permissions, bool commands, char *out, size_t cap) {
  int n = snprintf(out, cap,
                   "https://discord.com/oauth2/authorize?client_id=" ID_FMT
                   "&scope=bot%s&permissions=%" PRIu64,
                   app_id, commands ? "+applications.commands" : "", permissions);
  if (n < 0 || (size_t)n >= cap) return err_set(MIMIC_ERANGE, "invite URL buffer too small");
  return 0;
}

/* ---- mentions ---- */

json_t *api_allowed_mentions(const uint64_t *users, size_t n_users, bool replied_user) {
  json_t *am = json_object();
  json_object_set_new(am, "parse", json_array());
  if (users && n_users) {
    json_t *u = json_array();
    for (size_t i = 0; i < n_users && i < 100; i++) json_array_append_new(u, id_str(users[i]));
    json_object_set_new(am, "users", u);
  }
  json_object_set_new(am, "replied_user", json_boolean(replied_user));
  return am;
}

/* ---- multi-part sends ---- */

typedef enum { JOB_CHANNEL, JOB_HOOK, JOB_FOLLOWUP } job_kind;
typedef enum { HS_SEND, HS_LIST, HS_CREATE } hook_step;

typedef struct send_job {
  rest *r;
  job_kind kind;
  char **parts;
  size_t n, i;
  rest_cb cb;
  void *user;
  /* channel messages */
  uint64_t channel_id, reply_to;
  bool ping_reply;
  uint64_t *ping_users;
  size_t n_ping;
  unsigned flags;
  uint64_t nonce_base;
  /* webhooks */
  api_hook *hook;
  char *username, *avatar_url;
  uint64_t thread_id;
  hook_step step;
  bool recreated;
  /* follow-ups */
  uint64_t app_id;
  char *token;
  /* the last part only: extra body fields (components, attachments) and files */
  json_t *extra;
  rest_file *files;
  size_t n_files;
} send_job;

static void job_free(send_job *j) {
  split_free(j->parts, j->n);
  json_decref(j->extra);
  for (size_t i = 0; i < j->n_files; i++) {
    mem_free((void *)j->files[i].name);
    mem_free((void *)j->files[i].content_type);
    mem_free((void *)j->files[i].data);
  }
  mem_free(j->files);
  mem_free(j->ping_users);
  mem_free(j->username);
  mem_free(j->avatar_url);
  mem_free(j->token);
  mem_free(j);
}

static int job_send_part(send_job *j);
static void job_cb(const rest_result *res, void *user);

static void job_finish(send_job *j, const rest_result *res) {
  rest_result out = *res;
  out.attempts = (int)j->i;
  j->cb(&out, j->user);
  job_free(j);
}

/* Reports an error found while starting the next step (from inside a callback). */
static void job_fail_now(send_job *j, int rc) {
  char msg[512];
  str_lcpy(msg, err_msg(), sizeof msg);
  rest_result res = {rc, 0, 0, msg, NULL, (int)j->i};
  j->cb(&res, j->user);
  job_free(j);
}

static int hook_list(send_job *j) {
  j->step = HS_LIST;
  return req(j->r, "GET", NULL, job_cb, j, "/channels/" ID_FMT "/webhooks", j->hook->channel_id);
}

static int hook_create(send_job *j) {
  j->step = HS_CREATE;
  json_t *b = json_pack("{s:s}", "name", j->hook->name);
  int rc = req(j->r, "POST", b, job_cb, j, "/channels/" ID_FMT "/webhooks", j->hook->channel_id);
  json_decref(b);
  return rc;
}

static bool hook_take(api_hook *h, const json_t *w) {
  const char *tok = jv_str(w, "token", NULL);
  uint64_t id = jv_snowflake(w, "id");
  if (!tok || !id || strlen(tok) >= sizeof h->token || check_token(tok) != 0) return false;
  h->id = id;
  str_lcpy(h->token, tok, sizeof h->token);
  return true;
}

/* POSTs one part: the last one carries the extra fields and the files. */
static int job_post(send_job *j, json_t *b, const char *fmt, ...) MIMIC_PRINTF(3, 4);
static int job_post(send_job *j, json_t *b, const char *fmt, ...) {
  char path[REST_URL_MAX];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(path, sizeof path, fmt, ap);
  va_end(ap);
  if (n < 0 || (size_t)n >= sizeof path) return err_set(MIMIC_EINVAL, "REST path too long");
  bool last = j->i + 1 == j->n;
  if (last && j->extra) json_object_update(b, j->extra);
  return rest_request_files(j->r, "POST", path, b, last ? j->files : NULL, last ? j->n_files : 0,
                            job_cb, j);
}

static int job_send_part(send_job *j) {
  const char *text = j->parts[j->i];
  json_t *b = json_object();
  int rc;
  if (*text) json_object_set_new(b, "content", json_string(text));
  bool first = j->i == 0;
  if (j->kind == JOB_CHANNEL) {
    bool replying = first && j->reply_to;
    json_object_set_new(b, "allowed_mentions",
                        api_allowed_mentions(j->ping_users, j->n_ping, replying && j->ping_reply));
    if (replying) {
      json_t *ref = json_object();
      json_object_set_new(ref, "message_id", id_str(j->reply_to));
      json_object_set_new(ref, "fail_if_not_exists", json_false());
      json_object_set_new(b, "message_reference", ref);
    }
    char nonce[26];
    snprintf(nonce, sizeof nonce, ID_FMT, j->nonce_base + j->i);
    json_object_set_new(b, "nonce", json_string(nonce));
    json_object_set_new(b, "enforce_nonce", json_true());
    if (j->flags) json_object_set_new(b, "flags", json_integer(j->flags));
    j->step = HS_SEND;
    rc = job_post(j, b, "/channels/" ID_FMT "/messages", j->channel_id);
  } else if (j->kind == JOB_HOOK) {
    json_object_set_new(b, "allowed_mentions",
                        api_allowed_mentions(j->ping_users, j->n_ping, false));
    if (j->username) json_object_set_new(b, "username", json_string(j->username));
    if (j->avatar_url) json_object_set_new(b, "avatar_url", json_string(j->avatar_url));
    j->step = HS_SEND;
    if (j->thread_id)
      rc = job_post(j, b, "/webhooks/" ID_FMT "/%s?wait=true&thread_id=" ID_FMT, j->hook->id,
                    j->hook->token, j->thread_id);
    else
      rc = job_post(j, b, "/webhooks/" ID_FMT "/%s?wait=true", j->hook->id, j->hook->token);
  } else {
    json_object_set_new(b, "allowed_mentions", api_allowed_mentions(NULL, 0, false));
    if (j->flags) json_object_set_new(b, "flags", json_integer(j->flags));
    j->step = HS_SEND;
    rc = job_post(j, b, "/webhooks/" ID_FMT "/%s", j->app_id, j->token);
  }
  json_decref(b);
  return rc;
}

static void job_cb(const rest_result *res, void *user) {
  send_job *j = user;
  int rc;
  if (res->err == MIMIC_ECANCELLED) {
    job_finish(j, res);
    return;
  }
  if (j->kind == JOB_HOOK && j->step == HS_LIST) {
    if (res->err) {
      job_finish(j, res);
      return;
    }
    size_t i;
    json_t *w;
    bool found = false;
    json_array_foreach(res->json, i, w) {
      if (strcmp(jv_str(w, "name", ""), j->hook->name) == 0 && hook_take(j->hook, w)) {
        found = true;
        break;
      }
    }
    rc = found ? job_send_part(j) : hook_create(j);
    if (rc) job_fail_now(j, rc);
    return;
  }
  if (j->kind == JOB_HOOK && j->step == HS_CREATE) {
    if (res->err) {
      job_finish(j, res);
      return;
    }
    if (!hook_take(j->hook, res->json)) {
      rest_result bad = *res;
      bad.err = MIMIC_EPROTO;
      bad.message = "create webhook: the answer has no id or token";
      job_finish(j, &bad);
      return;
    }
    LOG_I("rest", "created webhook %s in channel " ID_FMT, j->hook->name, j->hook->channel_id);
    rc = job_send_part(j);
    if (rc) job_fail_now(j, rc);
    return;
  }
  /* a part was sent */
  if (res->err) {
    if (j->kind == JOB_HOOK && !j->recreated && (res->code == 10015 || res->status == 404)) {
      LOG_W("rest", "webhook for channel " ID_FMT " is gone (%s); creating a new one",
            j->hook->channel_id, res->message);
      j->recreated = true;
      j->hook->id = 0;
      j->hook->token[0] = 0;
      rc = hook_create(j);
      if (rc) job_fail_now(j, rc);
      return;
    }
    job_finish(j, res);
    return;
  }
  j->i++;
  if (j->i == j->n) {
    job_finish(j, res);
    return;
  }
  rc = job_send_part(j);
  if (rc) job_fail_now(j, rc);
}

/* A job for content split into parts; extra (borrowed, copied) and files (copied) go with the last
 * part. Content may be empty only when extra or files carry the message. */
static send_job *job_new(rest *r, const char *content, const json_t *extra, const rest_file *files,
                         size_t n_files, rest_cb cb, void *user, int *rc) {
  send_job *j = xcalloc(1, sizeof *j);
  j->r = r;
  j->cb = cb;
  j->user = user;
  *rc = n_files > REST_FILES_MAX
            ? err_set(MIMIC_EINVAL, "at most %d files per message", REST_FILES_MAX)
            : split_text(content ? content : "", DISCORD_MESSAGE_MAX, &j->parts, &j->n);
  if (*rc == 0 && j->n == 0) {
    if (!extra && !n_files) {
      *rc = err_set(MIMIC_EINVAL, "cannot send an empty message");
    } else {
      split_free(j->parts, j->n);
      j->parts = xcalloc(1, sizeof *j->parts);
      j->parts[0] = xstrdup("");
      j->n = 1;
    }
  }
  if (*rc) {
    job_free(j);
    return NULL;
  }
  if (extra) j->extra = json_deep_copy(extra);
  if (n_files) {
    j->files = xcalloc(n_files, sizeof *j->files);
    for (size_t i = 0; i < n_files; i++) {
      const rest_file *f = &files[i];
      void *data = xalloc(f->size ? f->size : 1);
      if (f->size) memcpy(data, f->data, f->size);
      j->files[i] = (rest_file){.name = xstrdup(f->name ? f->name : ""),
                                .content_type = f->content_type ? xstrdup(f->content_type) : NULL,
                                .data = data,
                                .size = f->size};
    }
    j->n_files = n_files;
  }
  return j;
}

static void job_set_pings(send_job *j, const uint64_t *users, size_t n) {
  if (!users || !n) return;
  if (n > 100) n = 100;
  j->ping_users = xcalloc(n, sizeof *users);
  memcpy(j->ping_users, users, n * sizeof *users);
  j->n_ping = n;
}

static int job_start(send_job *j, int first_rc) {
  if (first_rc) job_free(j);
  return first_rc;
}

int api_message_send(rest *r, const api_message *m, rest_cb cb, void *user) {
  if (!m || !m->channel_id) return err_set(MIMIC_EINVAL, "send message: no channel");
  int rc;
  send_job *j = job_new(r, m->content, m->extra, m->files, m->n_files, cb, user, &rc);
  if (!j) return rc;
  j->kind = JOB_CHANNEL;
  j->channel_id = m->channel_id;
  j->reply_to = m->reply_to;
  j->ping_reply = m->ping_reply;
  j->flags = m->flags & (API_MSG_SUPPRESS_EMBEDS | API_MSG_SUPPRESS_NOTIFICATIONS);
  job_set_pings(j, m->ping_users, m->n_ping_users);
  /* nonces: unique per part, at most 25 characters */
  j->nonce_base = (clock_mono_ns() ^ ((uint64_t)clock_wall_ms() << 20)) % 1000000000000000000ull;
  return job_start(j, job_send_part(j));
}

static bool hook_name_ok(const char *name) {
  size_t n = strlen(name);
  if (n < 1 || n > 80) return false;
  char low[81];
  for (size_t i = 0; i <= n; i++)
    low[i] = (char)((name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i]);
  return !strstr(low, "clyde") && !strstr(low, "discord");
}

int api_webhook_send(rest *r, api_hook *hook, const api_hook_message *m, rest_cb cb, void *user) {
  if (!hook || !hook->channel_id) return err_set(MIMIC_EINVAL, "webhook send: no channel");
  if (!hook_name_ok(hook->name))
    return err_set(MIMIC_EINVAL,
                   "webhook name '%.80s' must be 1-80 characters without 'clyde' or 'discord'",
                   hook->name);
  if (hook->id && check_token(hook->token) != 0) hook->id = 0;
  int rc;
  send_job *j = job_new(r, m->content, m->extra, m->files, m->n_files, cb, user, &rc);
  if (!j) return rc;
  j->kind = JOB_HOOK;
  j->hook = hook;
  j->thread_id = m->thread_id;
  if (m->username && *m->username)
    j->username = utf8_repair(m->username, strnlen(m->username, 80 * 4));
  if (m->avatar_url && *m->avatar_url)
    j->avatar_url = utf8_repair(m->avatar_url, strnlen(m->avatar_url, 2048));
  job_set_pings(j, m->ping_users, m->n_ping_users);
  return job_start(j, hook->id ? job_send_part(j) : hook_list(j));
}

int api_followup_post(rest *r, const api_followup *f, rest_cb cb, void *user) {
  int rc = check_token(f->token);
  if (rc) return rc;
  send_job *j = job_new(r, f->content, f->extra, f->files, f->n_files, cb, user, &rc);
  if (!j) return rc;
  j->kind = JOB_FOLLOWUP;
  j->app_id = f->app_id;
  j->token = xstrdup(f->token);
  j->flags = f->ephemeral ? API_MSG_EPHEMERAL : 0;
  return job_start(j, job_send_part(j));
}

int api_followup_send(rest *r, uint64_t app_id, const char *token, const char *content,
                      bool ephemeral, rest_cb cb, void *user) {
  api_followup f = {.app_id = app_id, .token = token, .content = content, .ephemeral = ephemeral};
  return api_followup_post(r, &f, cb, user);
}

/* ---- single calls ---- */

int api_typing(rest *r, uint64_t channel_id, rest_cb cb, void *user) {
  return req(r, "POST", NULL, cb, user, "/channels/" ID_FMT "/typing", channel_id);
}

int api_messages_get(rest *r, uint64_t channel_id, api_page dir, uint64_t anchor, int limit,
                     rest_cb cb, void *user) {
  if (limit < 1 || limit > 100)
    return err_set(MIMIC_EINVAL, "message page size must be 1..100, not %d", limit);
  static const char *names[] = {NULL, "before", "after", "around"};
  if (dir == API_PAGE_LATEST || !anchor)
    return req(r, "GET", NULL, cb, user, "/channels/" ID_FMT "/messages?limit=%d", channel_id,
               limit);
  if (dir < API_PAGE_BEFORE || dir > API_PAGE_AROUND)
    return err_set(MIMIC_EINVAL, "bad page direction");
  return req(r, "GET", NULL, cb, user, "/channels/" ID_FMT "/messages?%s=" ID_FMT "&limit=%d",
             channel_id, names[dir], anchor, limit);
}

int api_reactions_get(rest *r, uint64_t channel_id, uint64_t message_id, const char *emoji,
                      uint64_t after, int limit, rest_cb cb, void *user) {
  char enc[512];
  int rc = encode_segment(emoji ? emoji : "", enc, sizeof enc);
  if (rc) return rc;
  if (limit < 1 || limit > 100)
    return err_set(MIMIC_EINVAL, "reaction page size must be 1..100, not %d", limit);
  if (after)
    return req(r, "GET", NULL, cb, user,
               "/channels/" ID_FMT "/messages/" ID_FMT "/reactions/%s?after=" ID_FMT "&limit=%d",
               channel_id, message_id, enc, after, limit);
  return req(r, "GET", NULL, cb, user,
             "/channels/" ID_FMT "/messages/" ID_FMT "/reactions/%s?limit=%d", channel_id,
             message_id, enc, limit);
}

int api_reaction_add(rest *r, uint64_t channel_id, uint64_t message_id, const char *emoji,
                     rest_cb cb, void *user) {
  char enc[512];
  int rc = encode_segment(emoji ? emoji : "", enc, sizeof enc);
  if (rc) return rc;
  return req(r, "PUT", NULL, cb, user, "/channels/" ID_FMT "/messages/" ID_FMT "/reactions/%s/@me",
             channel_id, message_id, enc);
}

int api_guild_channels(rest *r, uint64_t guild_id, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/guilds/" ID_FMT "/channels", guild_id);
}

int api_guild_threads_active(rest *r, uint64_t guild_id, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/guilds/" ID_FMT "/threads/active", guild_id);
}

static int threads_archived(rest *r, uint64_t channel_id, const char *which, const char *before,
                            int limit, rest_cb cb, void *user) {
  char q[96] = "";
  if (before) {
    int64_t ms;
    if (clock_parse_iso8601(before, &ms) != 0)
      return err_set(MIMIC_EINVAL, "archived threads: 'before' must be an ISO-8601 timestamp");
    char iso[32];
    clock_iso8601(ms, iso);
    snprintf(q, sizeof q, "?before=%s", iso);
  }
  if (limit < 0 || limit > 100)
    return err_set(MIMIC_EINVAL, "thread page size must be 1..100, not %d", limit);
  if (limit) {
    size_t l = strlen(q);
    snprintf(q + l, sizeof q - l, "%slimit=%d", l ? "&" : "?", limit);
  }
  return req(r, "GET", NULL, cb, user, "/channels/" ID_FMT "/threads/archived/%s%s", channel_id,
             which, q);
}

int api_threads_archived(rest *r, uint64_t channel_id, const char *before, int limit, rest_cb cb,
                         void *user) {
  return threads_archived(r, channel_id, "public", before, limit, cb, user);
}

int api_threads_archived_private(rest *r, uint64_t channel_id, const char *before, int limit,
                                 rest_cb cb, void *user) {
  return threads_archived(r, channel_id, "private", before, limit, cb, user);
}

int api_user_guilds(rest *r, uint64_t after, int limit, rest_cb cb, void *user) {
  if (limit < 1 || limit > 200)
    return err_set(MIMIC_EINVAL, "guild page size must be 1..200, not %d", limit);
  return req(r, "GET", NULL, cb, user, "/users/@me/guilds?after=" ID_FMT "&limit=%d", after, limit);
}

int api_dm_open(rest *r, uint64_t user_id, rest_cb cb, void *user) {
  json_t *b = json_object();
  json_object_set_new(b, "recipient_id", id_str(user_id));
  int rc = req(r, "POST", b, cb, user, "/users/@me/channels");
  json_decref(b);
  return rc;
}

int api_webhook_create(rest *r, uint64_t channel_id, const char *name, rest_cb cb, void *user) {
  if (!name || !hook_name_ok(name))
    return err_set(MIMIC_EINVAL,
                   "webhook name must be 1-80 characters without 'clyde' or 'discord'");
  json_t *b = json_object();
  json_object_set_new(b, "name", json_string(name));
  int rc = req(r, "POST", b, cb, user, "/channels/" ID_FMT "/webhooks", channel_id);
  json_decref(b);
  return rc;
}

int api_webhook_create_avatar(rest *r, uint64_t channel_id, const char *name, const char *avatar,
                              rest_cb cb, void *user) {
  if (!name || !hook_name_ok(name))
    return err_set(MIMIC_EINVAL,
                   "webhook name must be 1-80 characters without 'clyde' or 'discord'");
  json_t *b = json_object();
  json_object_set_new(b, "name", json_string(name));
  if (avatar && *avatar) json_object_set_new(b, "avatar", json_string(avatar));
  int rc = req(r, "POST", b, cb, user, "/channels/" ID_FMT "/webhooks", channel_id);
  json_decref(b);
  return rc;
}

int api_webhook_delete(rest *r, uint64_t webhook_id, rest_cb cb, void *user) {
  return req(r, "DELETE", NULL, cb, user, "/webhooks/" ID_FMT, webhook_id);
}

int api_webhook_execute(rest *r, uint64_t webhook_id, const char *token, uint64_t thread_id,
                        const json_t *body, const rest_file *files, size_t n_files, rest_cb cb,
                        void *user) {
  int rc = check_token(token);
  if (rc) return rc;
  if (!webhook_id) return err_set(MIMIC_EINVAL, "webhook execute: no webhook");
  char path[REST_URL_MAX];
  int n = thread_id
              ? snprintf(path, sizeof path, "/webhooks/" ID_FMT "/%s?wait=true&thread_id=" ID_FMT,
                         webhook_id, token, thread_id)
              : snprintf(path, sizeof path, "/webhooks/" ID_FMT "/%s?wait=true", webhook_id, token);
  if (n < 0 || (size_t)n >= sizeof path) return err_set(MIMIC_EINVAL, "REST path too long");
  return rest_request_files(r, "POST", path, body, files, n_files, cb, user);
}

int api_message_patch(rest *r, uint64_t channel_id, uint64_t message_id, const json_t *body,
                      rest_cb cb, void *user) {
  if (!channel_id || !message_id)
    return err_set(MIMIC_EINVAL, "message edit: no channel or message");
  return req(r, "PATCH", body, cb, user, "/channels/" ID_FMT "/messages/" ID_FMT, channel_id,
             message_id);
}

int api_webhook_message_patch(rest *r, uint64_t webhook_id, const char *token, uint64_t thread_id,
                              uint64_t message_id, const json_t *body, rest_cb cb, void *user) {
  int rc = check_token(token);
  if (rc) return rc;
  if (!webhook_id || !message_id) return err_set(MIMIC_EINVAL, "webhook message edit: no ids");
  char path[REST_URL_MAX];
  int n = thread_id ? snprintf(path, sizeof path,
                               "/webhooks/" ID_FMT "/%s/messages/" ID_FMT "?thread_id=" ID_FMT,
                               webhook_id, token, message_id, thread_id)
                    : snprintf(path, sizeof path, "/webhooks/" ID_FMT "/%s/messages/" ID_FMT,
                               webhook_id, token, message_id);
  if (n < 0 || (size_t)n >= sizeof path) return err_set(MIMIC_EINVAL, "REST path too long");
  return rest_request_files(r, "PATCH", path, body, NULL, 0, cb, user);
}

int api_webhooks_get(rest *r, uint64_t channel_id, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/channels/" ID_FMT "/webhooks", channel_id);
}

int api_webhook_get(rest *r, uint64_t webhook_id, rest_cb cb, void *user) {
  return req(r, "GET", NULL, cb, user, "/webhooks/" ID_FMT, webhook_id);
}

int api_commands_overwrite(rest *r, uint64_t app_id, uint64_t guild_id, const json_t *commands,
                           rest_cb cb, void *user) {
  if (!json_is_array(commands)) return err_set(MIMIC_EINVAL, "commands must be a JSON array");
  if (guild_id)
    return req(r, "PUT", commands, cb, user, "/applications/" ID_FMT "/guilds/" ID_FMT "/commands",
               app_id, guild_id);
  return req(r, "PUT", commands, cb, user, "/applications/" ID_FMT "/commands", app_id);
}

int api_interaction_respond(rest *r, uint64_t interaction_id, const char *token, int type,
                            const json_t *data, rest_cb cb, void *user) {
  int rc = check_token(token);
  if (rc) return rc;
  json_t *b = json_object();
  json_object_set_new(b, "type", json_integer(type));
  if (data) json_object_set(b, "data", (json_t *)data);
  rc = req(r, "POST", b, cb, user, "/interactions/" ID_FMT "/%s/callback", interaction_id, token);
  json_decref(b);
  return rc;
}

int api_interaction_defer(rest *r, uint64_t interaction_id, const char *token, bool ephemeral,
                          rest_cb cb, void *user) {
  json_t *data = ephemeral ? json_pack("{s:i}", "flags", (int)API_MSG_EPHEMERAL) : NULL;
  int rc =
      api_interaction_respond(r, interaction_id, token, API_CB_DEFERRED_MESSAGE, data, cb, user);
  json_decref(data);
  return rc;
}

int api_original_edit(rest *r, uint64_t app_id, const char *token, const char *content, rest_cb cb,
                      void *user) {
  return api_original_patch(r, app_id, token, content, NULL, cb, user);
}

int api_original_patch(rest *r, uint64_t app_id, const char *token, const char *content,
                       const json_t *extra, rest_cb cb, void *user) {
  int rc = check_token(token);
  if (rc) return rc;
  char **parts = NULL;
  size_t n = 0;
  rc = split_text(content ? content : "", DISCORD_MESSAGE_MAX, &parts, &n);
  if (rc) return rc;
  if (n == 0 && !extra) {
    split_free(parts, n);
    return err_set(MIMIC_EINVAL, "cannot edit a response to empty content");
  }
  json_t *b = json_object();
  if (extra) json_object_update(b, (json_t *)extra);
  json_object_set_new(b, "content", json_string(n ? parts[0] : ""));
  json_object_set_new(b, "allowed_mentions", api_allowed_mentions(NULL, 0, false));
  split_free(parts, n);
  rc = req(r, "PATCH", b, cb, user, "/webhooks/" ID_FMT "/%s/messages/@original", app_id, token);
  json_decref(b);
  return rc;
}

/* ---- typed pages ---- */

typedef enum { PW_MESSAGES, PW_USERS, PW_GUILDS, PW_CHANNELS } page_kind;

typedef struct page_wait {
  page_kind kind;
  union {
    api_messages_cb messages;
    api_users_cb users;
    api_guilds_cb guilds;
    api_channels_cb channels;
  } cb;
  void *user;
} page_wait;

static void page_cb(const rest_result *res, void *user) {
  page_wait w = *(page_wait *)user;
  mem_free(user);
  rest_result out = *res;
  void *page = NULL;
  char why[300];
  if (!res->err) {
    int rc = 0;
    switch (w.kind) {
    case PW_MESSAGES: rc = discord__messages_of(res->json, (discord_messages **)&page); break;
    case PW_USERS: rc = discord__users_of(res->json, (discord_users **)&page); break;
    case PW_GUILDS: rc = discord__guilds_of(res->json, (discord_guilds **)&page); break;
    case PW_CHANNELS: rc = discord__channels_of(res->json, (discord_channels **)&page); break;
    }
    if (rc) {
      str_lcpy(why, err_msg(), sizeof why);
      out.err = rc == MIMIC_EFORMAT ? MIMIC_EPROTO : rc;
      out.message = why;
    }
  }
  switch (w.kind) {
  case PW_MESSAGES: w.cb.messages(&out, page, w.user); break;
  case PW_USERS: w.cb.users(&out, page, w.user); break;
  case PW_GUILDS: w.cb.guilds(&out, page, w.user); break;
  case PW_CHANNELS: w.cb.channels(&out, page, w.user); break;
  }
}

static page_wait *wait_new(page_kind kind, void *user) {
  page_wait *w = xcalloc(1, sizeof *w);
  w->kind = kind;
  w->user = user;
  return w;
}

static int wait_end(page_wait *w, int rc) {
  if (rc) mem_free(w);
  return rc;
}

int api_messages_page(rest *r, uint64_t channel_id, api_page dir, uint64_t anchor, int limit,
                      api_messages_cb cb, void *user) {
  page_wait *w = wait_new(PW_MESSAGES, user);
  w->cb.messages = cb;
  return wait_end(w, api_messages_get(r, channel_id, dir, anchor, limit, page_cb, w));
}

int api_reactors_page(rest *r, uint64_t channel_id, uint64_t message_id, const char *emoji,
                      uint64_t after, int limit, api_users_cb cb, void *user) {
  page_wait *w = wait_new(PW_USERS, user);
  w->cb.users = cb;
  return wait_end(w, api_reactions_get(r, channel_id, message_id, emoji, after, limit, page_cb, w));
}

int api_guilds_page(rest *r, uint64_t after, int limit, api_guilds_cb cb, void *user) {
  page_wait *w = wait_new(PW_GUILDS, user);
  w->cb.guilds = cb;
  return wait_end(w, api_user_guilds(r, after, limit, page_cb, w));
}

int api_channels_list(rest *r, api_listing what, uint64_t id, const char *before, int limit,
                      api_channels_cb cb, void *user) {
  page_wait *w = wait_new(PW_CHANNELS, user);
  w->cb.channels = cb;
  int rc;
  switch (what) {
  case API_LIST_CHANNELS: rc = api_guild_channels(r, id, page_cb, w); break;
  case API_LIST_ACTIVE_THREADS: rc = api_guild_threads_active(r, id, page_cb, w); break;
  case API_LIST_ARCHIVED_THREADS:
    rc = api_threads_archived(r, id, before, limit, page_cb, w);
    break;
  case API_LIST_PRIVATE_THREADS:
    rc = api_threads_archived_private(r, id, before, limit, page_cb, w);
    break;
  default: rc = err_set(MIMIC_EINVAL, "unknown channel listing %d", (int)what);
  }
  return wait_end(w, rc);
}
