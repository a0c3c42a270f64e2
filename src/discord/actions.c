/* The typed actions (see actions.h): typed structs in, api.h calls with JSON bodies out, answers
 * read back into counters and a typed result. The multi-part sends, the webhook dance and the
 * HTTP are api.c's and rest.c's. */
#include "discord/actions.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "discord/api.h"
#include "discord/rest.h"
#include "discord/split.h"

#define SUB "discord"

_Static_assert(DISCORD_FILES_MAX == REST_FILES_MAX, "one limit on files per message");
_Static_assert(DISCORD_UPLOAD_MAX == REST_UPLOAD_MAX, "one limit on upload bytes");

/* ---- outcomes ---- */

static void report(discord_actions *a, const rest_result *res) {
  discord_actions_result out = {.err = res->err, .message = res->err ? res->message : NULL};
  if (res->err) {
    a->failed++;
    LOG_W(SUB, "Discord refused an action: %s", res->message ? res->message : err_name(res->err));
  } else {
    a->sent++;
    if (json_is_object(res->json)) out.message_id = jv_snowflake(res->json, "id");
  }
  if (a->done) a->done(&out, a->done_user);
}

static void on_done(const rest_result *res, void *user) { report(user, res); }

/* ---- JSON for components and files ---- */

static bool len_ok(const char *s, size_t lo, size_t hi) {
  size_t n = s ? utf8_count(s, strlen(s)) : 0;
  return n >= lo && n <= hi;
}

static json_t *emoji_json(const char *e) {
  const char *colon = strrchr(e, ':');
  json_t *o = json_object();
  if (colon && colon[1]) {
    json_object_set_new(o, "name", json_stringn(e, (size_t)(colon - e)));
    json_object_set_new(o, "id", json_string(colon + 1));
  } else {
    json_object_set_new(o, "name", json_string(e));
  }
  return o;
}

static int component_json(const discord_component *c, size_t row, size_t col, json_t **out) {
  *out = NULL;
  json_t *o = json_object();
  json_object_set_new(o, "type", json_integer(c->type));
  if (c->disabled) json_object_set_new(o, "disabled", json_true());
  bool link = c->type == DISCORD_COMPONENT_BUTTON && c->style == DISCORD_BUTTON_LINK;
  if (!link && !len_ok(c->custom_id, 1, DISCORD_CUSTOM_ID_MAX)) goto bad;
  if (!link) json_object_set_new(o, "custom_id", json_string(c->custom_id));
  if (c->type == DISCORD_COMPONENT_BUTTON) {
    if (c->style < DISCORD_BUTTON_PRIMARY || c->style > DISCORD_BUTTON_LINK) goto bad;
    if (link && (!c->url || !*c->url || (c->custom_id && *c->custom_id))) goto bad;
    if ((!c->label || !*c->label) && (!c->emoji || !*c->emoji)) goto bad;
    if (c->label && !len_ok(c->label, 0, 80)) goto bad;
    json_object_set_new(o, "style", json_integer(c->style));
    if (c->label && *c->label) json_object_set_new(o, "label", json_string(c->label));
    if (c->emoji && *c->emoji) json_object_set_new(o, "emoji", emoji_json(c->emoji));
    if (link) json_object_set_new(o, "url", json_string(c->url));
  } else if (c->type == DISCORD_COMPONENT_STRING_SELECT) {
    if (c->n_options < 1 || c->n_options > DISCORD_SELECT_OPTIONS_MAX) goto bad;
    json_t *opts = json_array();
    json_object_set_new(o, "options", opts);
    for (size_t i = 0; i < c->n_options; i++) {
      const discord_select_option *so = &c->options[i];
      if (!len_ok(so->label, 1, 100) || !len_ok(so->value, 1, 100)) goto bad;
      json_t *jo = json_pack("{s:s,s:s}", "label", so->label, "value", so->value);
      if (so->description && *so->description)
        json_object_set_new(jo, "description", json_string(so->description));
      if (so->is_default) json_object_set_new(jo, "default", json_true());
      json_array_append_new(opts, jo);
    }
    if (c->placeholder && *c->placeholder)
      json_object_set_new(o, "placeholder", json_string(c->placeholder));
    if (c->min_values || c->max_values) {
      if (c->min_values < 0 || c->max_values < 1 || c->min_values > c->max_values ||
          (size_t)c->max_values > c->n_options)
        goto bad;
      json_object_set_new(o, "min_values", json_integer(c->min_values));
      json_object_set_new(o, "max_values", json_integer(c->max_values));
    }
  } else {
    goto bad;
  }
  *out = o;
  return 0;
bad:
  json_decref(o);
  return err_set(MIMIC_EINVAL,
                 "component %zu of row %zu: not a valid button or string select (custom_id "
                 "1-100 characters, a label or emoji, link buttons with a url, 1-25 options)",
                 col + 1, row + 1);
}

/* Adds "components" to body for rows (none: nothing added). */
static int rows_json(json_t *body, const discord_action_row *rows, size_t n) {
  if (!n) return 0;
  if (n > DISCORD_ROW_MAX)
    return err_set(MIMIC_EINVAL, "%zu action rows: a message holds at most %d", n, DISCORD_ROW_MAX);
  json_t *arr = json_array();
  for (size_t r = 0; r < n; r++) {
    const discord_action_row *row = &rows[r];
    bool select = row->n_items && row->items[0].type == DISCORD_COMPONENT_STRING_SELECT;
    if (row->n_items < 1 || row->n_items > DISCORD_ROW_BUTTONS_MAX ||
        (select && row->n_items > 1)) {
      json_decref(arr);
      return err_set(MIMIC_EINVAL, "action row %zu: 1-5 buttons or one select, not %zu items",
                     r + 1, row->n_items);
    }
    json_t *items = json_array();
    for (size_t i = 0; i < row->n_items; i++) {
      json_t *c;
      int rc = component_json(&row->items[i], r, i, &c);
      if (!rc && select != (row->items[i].type == DISCORD_COMPONENT_STRING_SELECT)) {
        json_decref(c);
        rc = err_set(MIMIC_EINVAL, "action row %zu mixes a select with buttons", r + 1);
      }
      if (rc) {
        json_decref(items);
        json_decref(arr);
        return rc;
      }
      json_array_append_new(items, c);
    }
    json_array_append_new(arr, json_pack("{s:i,s:o}", "type", 1, "components", items));
  }
  json_object_set_new(body, "components", arr);
  return 0;
}

/* Adds "attachments" (index, filename, description) to body and fills rf (REST_FILES_MAX). */
static int files_json(json_t *body, const discord_file *files, size_t n, rest_file *rf) {
  if (!n) return 0;
  if (n > REST_FILES_MAX)
    return err_set(MIMIC_EINVAL, "%zu files: a message holds at most %d", n, REST_FILES_MAX);
  json_t *arr = json_array();
  for (size_t i = 0; i < n; i++) {
    const discord_file *f = &files[i];
    rf[i] = (rest_file){
        .name = f->filename, .content_type = f->content_type, .data = f->data, .size = f->size};
    json_t *o =
        json_pack("{s:I,s:s}", "id", (json_int_t)i, "filename", f->filename ? f->filename : "");
    if (f->description && *f->description)
      json_object_set_new(o, "description", json_string(f->description));
    json_array_append_new(arr, o);
  }
  json_object_set_new(body, "attachments", arr);
  return 0;
}

/* The extra body of a message: components and attachment metadata; NULL when there is none. */
static int extra_json(const discord_action_row *rows, size_t n_rows, const discord_file *files,
                      size_t n_files, rest_file *rf, json_t **out) {
  *out = NULL;
  if (!n_rows && !n_files) return 0;
  json_t *b = json_object();
  int rc = rows_json(b, rows, n_rows);
  if (!rc) rc = files_json(b, files, n_files, rf);
  if (rc) {
    json_decref(b);
    return rc;
  }
  *out = b;
  return 0;
}

/* ---- messages ---- */

int discord_actions_send(discord_actions *a, const discord_send *m) {
  rest_file rf[REST_FILES_MAX];
  json_t *extra;
  int rc = extra_json(m->rows, m->n_rows, m->files, m->n_files, rf, &extra);
  if (rc) return rc;
  api_message msg = {.channel_id = m->channel_id,
                     .content = m->content,
                     .reply_to = m->reply_to,
                     .ping_reply = m->reply_to && m->ping_reply,
                     .ping_users = m->ping_users,
                     .n_ping_users = m->n_ping_users,
                     .flags = (m->suppress_embeds ? API_MSG_SUPPRESS_EMBEDS : 0) |
                              (m->silent ? API_MSG_SUPPRESS_NOTIFICATIONS : 0),
                     .extra = extra,
                     .files = rf,
                     .n_files = m->n_files};
  rc = api_message_send(a->rest, &msg, on_done, a);
  json_decref(extra);
  return rc;
}

int discord_actions_typing(discord_actions *a, discord_id channel_id) {
  return api_typing(a->rest, channel_id, on_done, a);
}

int discord_actions_react(discord_actions *a, discord_id channel_id, discord_id message_id,
                          const char *emoji) {
  return api_reaction_add(a->rest, channel_id, message_id, emoji, on_done, a);
}

/* A DM needs its channel first: the message waits here, copied, until the channel is open. */
typedef struct dm_wait {
  discord_actions *a;
  char *content;
  json_t *extra;
  rest_file files[REST_FILES_MAX];
  size_t n_files;
} dm_wait;

static void dm_free(dm_wait *w) {
  mem_free(w->content);
  json_decref(w->extra);
  for (size_t i = 0; i < w->n_files; i++) {
    mem_free((void *)w->files[i].name);
    mem_free((void *)w->files[i].content_type);
    mem_free((void *)w->files[i].data);
  }
  mem_free(w);
}

static void on_dm_open(const rest_result *res, void *user) {
  dm_wait *w = user;
  uint64_t channel = res->err ? 0 : jv_snowflake(res->json, "id");
  if (!channel) {
    rest_result bad = *res;
    if (!bad.err) {
      bad.err = MIMIC_EPROTO;
      bad.message = "open a DM channel: the answer has no channel id";
    }
    report(w->a, &bad);
  } else {
    api_message msg = {.channel_id = channel,
                       .content = w->content,
                       .extra = w->extra,
                       .files = w->files,
                       .n_files = w->n_files};
    if (api_message_send(w->a->rest, &msg, on_done, w->a) != 0) {
      char why[512];
      str_lcpy(why, err_msg(), sizeof why);
      rest_result bad = {.err = MIMIC_EIO, .message = why};
      report(w->a, &bad);
    }
  }
  dm_free(w);
}

int discord_actions_send_dm(discord_actions *a, discord_id user_id, const discord_send *m) {
  if (!user_id) return err_set(MIMIC_EINVAL, "send a DM: no user");
  rest_file rf[REST_FILES_MAX];
  json_t *extra;
  int rc = extra_json(m->rows, m->n_rows, m->files, m->n_files, rf, &extra);
  if (rc) return rc;
  if ((!m->content || !*m->content) && !extra) return err_set(MIMIC_EINVAL, "empty DM");
  dm_wait *w = xcalloc(1, sizeof *w);
  w->a = a;
  w->content = xstrdup(m->content ? m->content : "");
  w->extra = extra;
  for (size_t i = 0; i < m->n_files; i++) {
    void *data = xalloc(rf[i].size ? rf[i].size : 1);
    if (rf[i].size) memcpy(data, rf[i].data, rf[i].size);
    w->files[i] =
        (rest_file){.name = xstrdup(rf[i].name ? rf[i].name : ""),
                    .content_type = rf[i].content_type ? xstrdup(rf[i].content_type) : NULL,
                    .data = data,
                    .size = rf[i].size};
    w->n_files++;
  }
  rc = api_dm_open(a->rest, user_id, on_dm_open, w);
  if (rc) dm_free(w);
  return rc;
}

/* ---- persona webhooks ---- */

/* A channel's webhooks, as mimic knows them. */
typedef struct hook_chan {
  discord_hook_info hooks[DISCORD_HOOKS_PER_CHANNEL];
  size_t n;
  int64_t denied_ms; /* when Manage Webhooks was found missing; 0: not */
  bool denied_told;  /* the log said so for this channel */
} hook_chan;

static int64_t act_now(const discord_actions *a) {
  return a->now_ms ? a->now_ms(a->now_user) : clock_wall_ms();
}

static hook_chan *hchan(discord_actions *a, discord_id channel_id) {
  hook_chan *c = map_get(&a->hooks_, channel_id);
  if (!c) {
    c = xcalloc(1, sizeof *c);
    map_put(&a->hooks_, channel_id, c);
  }
  return c;
}

static discord_hook_info *hfind(hook_chan *c, const char *key) {
  for (size_t i = 0; i < c->n; i++)
    if (strcmp(c->hooks[i].key, key) == 0) return &c->hooks[i];
  return NULL;
}

static void hnote(discord_actions *a, const discord_hook_info *h, discord_hook_event ev) {
  if (a->hook_note) a->hook_note(h, ev, a->hook_user);
}

/* Forgets the webhook id of a channel (wiping its token), telling the caller. */
static void hforget(discord_actions *a, discord_id channel_id, discord_id id) {
  hook_chan *c = hchan(a, channel_id);
  for (size_t i = 0; i < c->n; i++) {
    if (c->hooks[i].id != id) continue;
    hnote(a, &c->hooks[i], DISCORD_HOOK_GONE);
    memset(c->hooks[i].token, 0, sizeof c->hooks[i].token);
    c->hooks[i] = c->hooks[c->n - 1];
    memset(&c->hooks[c->n - 1], 0, sizeof c->hooks[0]);
    c->n--;
    return;
  }
}

/* Keeps a webhook (replacing the key's entry); the least recently used entry makes room. */
static discord_hook_info *hkeep(discord_actions *a, const discord_hook_info *h) {
  hook_chan *c = hchan(a, h->channel_id);
  discord_hook_info *e = hfind(c, h->key);
  if (!e) {
    for (size_t i = 0; i < c->n && !e; i++)
      if (c->hooks[i].id == h->id) e = &c->hooks[i]; /* the same webhook under a new key */
  }
  if (!e && c->n == DISCORD_HOOKS_PER_CHANNEL) {
    e = &c->hooks[0];
    for (size_t i = 1; i < c->n; i++)
      if (c->hooks[i].last_used_ms < e->last_used_ms) e = &c->hooks[i];
  }
  if (!e) e = &c->hooks[c->n++];
  *e = *h;
  return e;
}

void discord_actions_hook_put(discord_actions *a, const discord_hook_info *h) {
  if (!h || !h->channel_id || !h->id || !h->token[0]) return;
  hkeep(a, h);
}

bool discord_actions_hook_is_ours(const discord_actions *a, discord_id id) {
  if (!id) return false;
  uint64_t k;
  void *v;
  for (size_t it = 0; map_next(&a->hooks_, &it, &k, &v);) {
    const hook_chan *c = v;
    for (size_t i = 0; i < c->n; i++)
      if (c->hooks[i].id == id) return true;
  }
  return false;
}

size_t discord_actions_hook_count(const discord_actions *a, discord_id channel_id) {
  const hook_chan *c = map_get(&a->hooks_, channel_id);
  return c ? c->n : 0;
}

bool discord_actions_hook_denied(const discord_actions *a, discord_id channel_id) {
  const hook_chan *c = map_get(&a->hooks_, channel_id);
  return c && c->denied_ms && act_now(a) - c->denied_ms < DISCORD_HOOK_RETRY_MS;
}

/* The name of mimic's webhook for a key: hook_name, or hook_name and the key's first characters
 * (letters and digits only, so Discord's name rules hold). */
static void hook_name_for(const discord_actions *a, const char *key, char out[81]) {
  const char *base = a->hook_name && *a->hook_name ? a->hook_name : "mimic";
  str_lcpy(out, base, 60);
  if (!*key) return;
  size_t n = strlen(out);
  out[n++] = ' ';
  for (const char *p = key; *p && n < 60 + 13; p++)
    if ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))
      out[n++] = *p;
  out[n] = 0;
}

static bool hook_is_mimics(const discord_actions *a, const char *name) {
  const char *base = a->hook_name && *a->hook_name ? a->hook_name : "mimic";
  size_t n = strlen(base);
  return strncmp(name, base, n) == 0 && (name[n] == 0 || name[n] == ' ');
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* "data:image/...;base64,..." for an image file (caller frees), or NULL with err_set. */
static char *avatar_data_uri(const char *path) {
  char *data = NULL;
  size_t n = 0;
  if (fs_read_file(path, DISCORD_AVATAR_MAX, &data, &n) != 0) return NULL;
  const unsigned char *d = (const unsigned char *)data;
  const char *type = NULL;
  if (n >= 8 && memcmp(d, "\x89PNG\r\n\x1a\n", 8) == 0)
    type = "image/png";
  else if (n >= 3 && d[0] == 0xFF && d[1] == 0xD8 && d[2] == 0xFF)
    type = "image/jpeg";
  else if (n >= 6 && memcmp(d, "GIF8", 4) == 0)
    type = "image/gif";
  else if (n >= 12 && memcmp(d, "RIFF", 4) == 0 && memcmp(d + 8, "WEBP", 4) == 0)
    type = "image/webp";
  if (!type) {
    mem_free(data);
    err_set(MIMIC_EFORMAT, "%s: an avatar must be a PNG, JPEG, GIF or WebP image", path);
    return NULL;
  }
  size_t head = strlen("data:;base64,") + strlen(type);
  char *out = xalloc(head + (n + 2) / 3 * 4 + 1);
  size_t o = (size_t)snprintf(out, head + 1, "data:%s;base64,", type);
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
                 (i + 2 < n ? d[i + 2] : 0);
    out[o++] = b64[v >> 18 & 63];
    out[o++] = b64[v >> 12 & 63];
    out[o++] = i + 1 < n ? b64[v >> 6 & 63] : '=';
    out[o++] = i + 2 < n ? b64[v & 63] : '=';
  }
  out[o] = 0;
  mem_free(data);
  return out;
}

typedef enum { PJ_LIST, PJ_CREATE, PJ_DELETE, PJ_EXEC, PJ_FALLBACK } pj_step;

/* One persona message on its way: the parts, the webhook it goes through, and what was posted. */
typedef struct pjob {
  discord_actions *a;
  discord_id channel_id, thread_id, reply_to;
  char key[DISCORD_HOOK_KEY_MAX + 1]; /* the webhook wanted ("" the shared one) */
  char *username, *avatar_url, *avatar_file, *raw;
  char **parts;
  size_t n, i;
  json_t *extra;
  rest_file files[REST_FILES_MAX];
  size_t n_files;
  uint64_t *ping;
  size_t n_ping;
  bool ping_reply;
  uint64_t tag;
  pj_step step;
  bool recreated, evicted, full;
  discord_id hook_id; /* the webhook in use */
  char token[128];
  discord_id *ids; /* parts posted */
  size_t n_ids;
} pjob;

static void pj_free(pjob *j) {
  split_free(j->parts, j->n);
  json_decref(j->extra);
  for (size_t i = 0; i < j->n_files; i++) {
    mem_free((void *)j->files[i].name);
    mem_free((void *)j->files[i].content_type);
    mem_free((void *)j->files[i].data);
  }
  mem_free(j->username);
  mem_free(j->avatar_url);
  mem_free(j->avatar_file);
  mem_free(j->raw);
  mem_free(j->ping);
  mem_free(j->ids);
  memset(j->token, 0, sizeof j->token);
  mem_free(j);
}

static void pj_finish(pjob *j, int err, const char *message, bool fallback) {
  discord_actions *a = j->a;
  discord_actions_result out = {.err = err,
                                .message = err ? (message ? message : err_name(err)) : NULL,
                                .message_id = j->n_ids ? j->ids[j->n_ids - 1] : 0,
                                .persona = true,
                                .fallback = fallback,
                                .channel_id = j->thread_id ? j->thread_id : j->channel_id,
                                .webhook_id = fallback ? 0 : j->hook_id,
                                .tag = j->tag,
                                .part_ids = j->ids,
                                .n_parts = j->n_ids};
  if (err) {
    a->failed++;
    LOG_W(SUB, "channel %" PRIu64 ": a persona message was not posted: %s", j->channel_id,
          out.message);
  } else {
    a->sent++;
    if (fallback) a->fallbacks++;
  }
  if (a->done) a->done(&out, a->done_user);
  pj_free(j);
}

/* Reports an error met while starting the next step. */
static void pj_fail_now(pjob *j, int rc) {
  char why[512];
  str_lcpy(why, err_msg(), sizeof why);
  pj_finish(j, rc, why, false);
}

static bool denied(const rest_result *res) {
  return res->status == 403 || res->code == 50013 || res->code == 50001;
}

static void pj_cb(const rest_result *res, void *user);
static int pj_next(pjob *j);

static int pj_list(pjob *j) {
  j->step = PJ_LIST;
  return api_webhooks_get(j->a->rest, j->channel_id, pj_cb, j);
}

static int pj_create(pjob *j) {
  char name[81];
  hook_name_for(j->a, j->key, name);
  char *avatar = NULL;
  if (j->key[0]) {
    avatar = avatar_data_uri(j->avatar_file);
    if (!avatar) { /* the image cannot be read: the shared webhook carries the persona */
      LOG_W(SUB, "persona %s: %s; posting with the shared webhook's avatar", j->username,
            err_msg());
      err_clear();
      j->key[0] = 0;
      return pj_next(j);
    }
  }
  j->step = PJ_CREATE;
  int rc = api_webhook_create_avatar(j->a->rest, j->channel_id, name, avatar, pj_cb, j);
  mem_free(avatar);
  return rc;
}

/* The message as the bot user, "**Name**: text", a real reply when it answers someone. What the
 * webhook already posted is not repeated. */
static int pj_fallback(pjob *j) {
  j->step = PJ_FALLBACK;
  buf t;
  buf_init(&t, 0);
  int rc = 0;
  if (j->i == 0) {
    rc = buf_printf(&t, "**%s**: %s", j->username, j->raw);
  } else {
    for (size_t k = j->i; k < j->n && !rc; k++)
      rc = buf_printf(&t, "%s%s", k > j->i ? "\n" : "", j->parts[k]);
  }
  if (rc) {
    buf_free(&t);
    return rc;
  }
  api_message msg = {.channel_id = j->thread_id ? j->thread_id : j->channel_id,
                     .content = t.data ? t.data : "",
                     .reply_to = j->i == 0 ? j->reply_to : 0,
                     .ping_reply = j->i == 0 && j->reply_to && j->ping_reply,
                     .ping_users = j->ping,
                     .n_ping_users = j->n_ping,
                     .extra = j->extra,
                     .files = j->files,
                     .n_files = j->n_files};
  rc = api_message_send(j->a->rest, &msg, pj_cb, j);
  buf_free(&t);
  return rc;
}

static int pj_denied(pjob *j) {
  hook_chan *c = hchan(j->a, j->channel_id);
  c->denied_ms = act_now(j->a);
  if (!c->denied_told) {
    c->denied_told = true;
    LOG_W(SUB,
          "channel %" PRIu64 ": mimic lacks the Manage Webhooks permission there, so personas "
          "speak as the bot user with their name in front; grant Manage Webhooks to give them "
          "their own names and avatars",
          j->channel_id);
  }
  return pj_fallback(j);
}

static int pj_exec(pjob *j, discord_hook_info *h) {
  j->step = PJ_EXEC;
  j->hook_id = h->id;
  str_lcpy(j->token, h->token, sizeof j->token);
  json_t *b = json_object();
  const char *text = j->parts[j->i];
  if (*text) json_object_set_new(b, "content", json_string(text));
  json_object_set_new(b, "username", json_string(j->username));
  if (!j->key[0] && j->avatar_url) json_object_set_new(b, "avatar_url", json_string(j->avatar_url));
  json_object_set_new(b, "allowed_mentions", api_allowed_mentions(j->ping, j->n_ping, false));
  bool last = j->i + 1 == j->n;
  if (last && j->extra) json_object_update(b, j->extra);
  int rc = api_webhook_execute(j->a->rest, j->hook_id, j->token, j->thread_id, b,
                               last ? j->files : NULL, last ? j->n_files : 0, pj_cb, j);
  json_decref(b);
  return rc;
}

/* The next step: the next part through the webhook wanted, or the lookup of that webhook. */
static int pj_next(pjob *j) {
  if (j->i == j->n) {
    pj_finish(j, 0, NULL, false);
    return 0;
  }
  hook_chan *c = hchan(j->a, j->channel_id);
  if (c->denied_ms && act_now(j->a) - c->denied_ms < DISCORD_HOOK_RETRY_MS) return pj_fallback(j);
  discord_hook_info *h = hfind(c, j->key);
  return h ? pj_exec(j, h) : pj_list(j);
}

/* The webhook to delete to make room: mimic's least used in the channel (not the shared one, not
 * the one wanted); webhooks of mimic's that the cache does not know count as unused. */
static discord_id pick_victim(pjob *j, const json_t *list) {
  hook_chan *c = hchan(j->a, j->channel_id);
  discord_id best = 0;
  int64_t best_ms = INT64_MAX;
  size_t i;
  json_t *w;
  char shared[81];
  hook_name_for(j->a, "", shared);
  json_array_foreach(list, i, w) {
    const char *name = jv_str(w, "name", "");
    discord_id id = jv_snowflake(w, "id");
    if (!id || !hook_is_mimics(j->a, name) || strcmp(name, shared) == 0) continue;
    int64_t used = 0;
    bool skip = false;
    for (size_t k = 0; k < c->n; k++)
      if (c->hooks[k].id == id) {
        used = c->hooks[k].last_used_ms;
        skip = strcmp(c->hooks[k].key, j->key) == 0;
      }
    if (!skip && used < best_ms) {
      best = id;
      best_ms = used;
    }
  }
  return best;
}

static void on_listed(pjob *j, const json_t *list) {
  char name[81];
  hook_name_for(j->a, j->key, name);
  size_t i;
  json_t *w;
  json_array_foreach(list, i, w) {
    const char *tok = jv_str(w, "token", NULL);
    discord_id id = jv_snowflake(w, "id");
    if (strcmp(jv_str(w, "name", ""), name) != 0 || !tok || !id || strlen(tok) >= 128) continue;
    discord_hook_info h = {.channel_id = j->channel_id, .id = id};
    str_lcpy(h.key, j->key, sizeof h.key);
    str_lcpy(h.token, tok, sizeof h.token);
    discord_hook_info *e = hkeep(j->a, &h);
    hnote(j->a, e, DISCORD_HOOK_SAVED);
    int rc = pj_exec(j, e);
    if (rc) pj_fail_now(j, rc);
    return;
  }
  int rc;
  if (j->full || json_array_size(list) >= DISCORD_HOOKS_PER_CHANNEL) {
    discord_id victim = j->evicted ? 0 : pick_victim(j, list);
    if (victim) {
      j->evicted = true;
      j->step = PJ_DELETE;
      j->hook_id = victim;
      LOG_I(SUB, "channel %" PRIu64 ": %d webhooks (Discord's limit); deleting mimic's least used",
            j->channel_id, DISCORD_HOOKS_PER_CHANNEL);
      rc = api_webhook_delete(j->a->rest, victim, pj_cb, j);
    } else if (j->key[0]) {
      LOG_W(SUB, "channel %" PRIu64 ": no room for %s's own webhook; using the shared one",
            j->channel_id, j->username);
      j->key[0] = 0;
      j->full = false;
      rc = pj_next(j);
    } else {
      LOG_W(SUB,
            "channel %" PRIu64 ": %d webhooks, none of them mimic's to replace; %s speaks as "
            "the bot user",
            j->channel_id, DISCORD_HOOKS_PER_CHANNEL, j->username);
      rc = pj_fallback(j);
    }
  } else {
    rc = pj_create(j);
  }
  if (rc) pj_fail_now(j, rc);
}

static void pj_cb(const rest_result *res, void *user) {
  pjob *j = user;
  int rc = 0;
  if (res->err == MIMIC_ECANCELLED) {
    pj_finish(j, res->err, res->message, j->step == PJ_FALLBACK);
    return;
  }
  switch (j->step) {
  case PJ_LIST:
    if (res->err) {
      if (denied(res))
        rc = pj_denied(j);
      else
        pj_finish(j, res->err, res->message, false);
    } else if (!json_is_array(res->json)) {
      pj_finish(j, MIMIC_EPROTO, "list webhooks: the answer is not a list", false);
    } else {
      on_listed(j, res->json);
    }
    break;
  case PJ_DELETE:
    if (res->err && denied(res)) {
      rc = pj_denied(j);
      break;
    }
    hforget(j->a, j->channel_id, j->hook_id);
    rc = pj_create(j);
    break;
  case PJ_CREATE:
    if (res->err) {
      if (denied(res)) {
        rc = pj_denied(j);
      } else if (res->code == 30007 && !j->evicted) { /* full after all: make room */
        j->full = true;
        rc = pj_list(j);
      } else if (res->code == 30007 && j->key[0]) {
        j->key[0] = 0;
        rc = pj_next(j);
      } else if (res->code == 30007) {
        rc = pj_fallback(j);
      } else {
        pj_finish(j, res->err, res->message, false);
      }
      break;
    }
    {
      const char *tok = jv_str(res->json, "token", NULL);
      discord_id id = jv_snowflake(res->json, "id");
      if (!tok || !id || strlen(tok) >= 128) {
        pj_finish(j, MIMIC_EPROTO, "create webhook: the answer has no id or token", false);
        break;
      }
      discord_hook_info h = {.channel_id = j->channel_id, .id = id};
      str_lcpy(h.key, j->key, sizeof h.key);
      str_lcpy(h.token, tok, sizeof h.token);
      discord_hook_info *e = hkeep(j->a, &h);
      LOG_I(SUB, "channel %" PRIu64 ": created persona webhook %" PRIu64 "%s", j->channel_id, id,
            j->key[0] ? " with an avatar" : "");
      hnote(j->a, e, DISCORD_HOOK_SAVED);
      rc = pj_exec(j, e);
    }
    break;
  case PJ_EXEC:
    if (res->err) {
      if ((res->code == 10015 || (res->status == 404 && res->code != 10003)) && !j->recreated) {
        LOG_W(SUB, "channel %" PRIu64 ": persona webhook %" PRIu64 " is gone; creating a new one",
              j->channel_id, j->hook_id);
        j->recreated = true;
        hforget(j->a, j->channel_id, j->hook_id);
        rc = pj_list(j);
      } else if (denied(res)) {
        rc = pj_denied(j);
      } else {
        pj_finish(j, res->err, res->message, false);
      }
      break;
    }
    {
      discord_id id = json_is_object(res->json) ? jv_snowflake(res->json, "id") : 0;
      if (id) {
        j->ids = xrealloc(j->ids, (j->n_ids + 1) * sizeof *j->ids);
        j->ids[j->n_ids++] = id;
      }
      hook_chan *c = hchan(j->a, j->channel_id);
      c->denied_ms = 0; /* a permission taken away again will be told again */
      c->denied_told = false;
      for (size_t k = 0; k < c->n; k++)
        if (c->hooks[k].id == j->hook_id) {
          c->hooks[k].uses++;
          c->hooks[k].last_used_ms = act_now(j->a);
          hnote(j->a, &c->hooks[k], DISCORD_HOOK_USED);
        }
      j->i++;
      rc = pj_next(j);
    }
    break;
  case PJ_FALLBACK:
    if (!res->err && json_is_object(res->json)) {
      discord_id id = jv_snowflake(res->json, "id");
      if (id) {
        j->ids = xrealloc(j->ids, (j->n_ids + 1) * sizeof *j->ids);
        j->ids[j->n_ids++] = id;
      }
    }
    pj_finish(j, res->err, res->message, true);
    break;
  }
  if (rc) pj_fail_now(j, rc);
}

/* The quote line of a webhook's reply (PluralKit's way): "> <@user> excerpt [jump](link)". */
static int quote_line(buf *t, const discord_persona_send *m) {
  int rc = buf_puts(t, "> ");
  if (!rc && m->reply_user) rc = buf_printf(t, "<@%" PRIu64 "> ", m->reply_user);
  if (!rc && m->reply_excerpt && *m->reply_excerpt) {
    size_t n = strlen(m->reply_excerpt);
    size_t cut = utf8_floor(m->reply_excerpt, n, 90);
    for (size_t i = 0; i < cut && !rc; i++) {
      char ch = m->reply_excerpt[i];
      rc = buf_append(t, ch == '\n' || ch == '\r' ? " " : &m->reply_excerpt[i], 1);
    }
    if (!rc && cut < n) rc = buf_puts(t, "\xE2\x80\xA6");
    if (!rc) rc = buf_puts(t, " ");
  }
  if (!rc && m->guild_id)
    rc = buf_printf(
        t, "[\xE2\x86\xA9](https://discord.com/channels/%" PRIu64 "/%" PRIu64 "/%" PRIu64 ")",
        m->guild_id, m->thread_id ? m->thread_id : m->channel_id, m->reply_to);
  if (!rc) rc = buf_puts(t, "\n");
  return rc;
}

int discord_actions_persona_send(discord_actions *a, const discord_persona_send *m) {
  if (!m->channel_id) return err_set(MIMIC_EINVAL, "persona send: no channel");
  if (!len_ok(m->username, 1, 80))
    return err_set(MIMIC_EINVAL, "persona send: the name must be 1-80 characters");
  rest_file rf[REST_FILES_MAX];
  json_t *extra;
  int rc = extra_json(m->rows, m->n_rows, m->files, m->n_files, rf, &extra);
  if (rc) return rc;
  pjob *j = xcalloc(1, sizeof *j);
  j->a = a;
  j->extra = extra;
  j->channel_id = m->channel_id;
  j->thread_id = m->thread_id;
  j->reply_to = m->reply_to;
  j->ping_reply = m->ping_reply;
  j->tag = m->tag;
  j->username = utf8_repair(m->username, strnlen(m->username, 80 * 4));
  if (m->avatar_url && *m->avatar_url)
    j->avatar_url = utf8_repair(m->avatar_url, strnlen(m->avatar_url, 2048));
  if (m->avatar_file && *m->avatar_file) {
    j->avatar_file = xstrdup(m->avatar_file);
    const char *key = m->avatar_key && *m->avatar_key ? m->avatar_key : m->avatar_file;
    /* a short stable key: the FNV-1a hash of what the caller gave, in hex */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = key; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    snprintf(j->key, sizeof j->key, "%016" PRIx64, h);
  }
  j->raw = xstrdup(m->content ? m->content : "");
  size_t np = m->n_ping_users + (m->ping_reply && m->reply_user ? 1 : 0);
  if (np > 100) np = 100;
  if (np) {
    j->ping = xcalloc(np, sizeof *j->ping);
    for (size_t i = 0; i < m->n_ping_users && j->n_ping < np; i++)
      j->ping[j->n_ping++] = m->ping_users[i];
    if (m->ping_reply && m->reply_user && j->n_ping < np) j->ping[j->n_ping++] = m->reply_user;
  }
  for (size_t i = 0; i < m->n_files; i++) {
    void *data = xalloc(rf[i].size ? rf[i].size : 1);
    if (rf[i].size) memcpy(data, rf[i].data, rf[i].size);
    j->files[i] =
        (rest_file){.name = xstrdup(rf[i].name ? rf[i].name : ""),
                    .content_type = rf[i].content_type ? xstrdup(rf[i].content_type) : NULL,
                    .data = data,
                    .size = rf[i].size};
    j->n_files++;
  }
  buf t;
  buf_init(&t, 0);
  if (m->reply_to) rc = quote_line(&t, m);
  if (!rc && m->content) rc = buf_puts(&t, m->content);
  if (!rc) rc = split_text(t.data ? t.data : "", DISCORD_MESSAGE_MAX, &j->parts, &j->n);
  buf_free(&t);
  if (!rc && j->n == 0) {
    if (!extra && !m->n_files) {
      rc = err_set(MIMIC_EINVAL, "persona send: empty message");
    } else {
      split_free(j->parts, j->n);
      j->parts = xcalloc(1, sizeof *j->parts);
      j->parts[0] = xstrdup("");
      j->n = 1;
    }
  }
  if (!rc) rc = pj_next(j); /* every REST call answers later, never inside this call */
  if (rc == 0) return 0;
  pj_free(j);
  return rc;
}

/* ---- interactions ---- */

/* The first 2,000 characters of content (cut at a boundary), or NULL when it is empty. */
static char *first_part(const char *content, int *rc) {
  char **parts = NULL;
  size_t n = 0;
  *rc = split_text(content ? content : "", DISCORD_MESSAGE_MAX, &parts, &n);
  if (*rc || !n) {
    split_free(parts, n);
    return NULL;
  }
  char *s = xstrdup(parts[0]);
  split_free(parts, n);
  return s;
}

/* The data of a MODAL response: title, custom_id, one action row per text input. */
static int modal_json(const discord_modal *m, json_t **out) {
  *out = NULL;
  if (!m) return err_set(MIMIC_EINVAL, "modal response: no modal");
  if (!len_ok(m->title, 1, DISCORD_MODAL_TITLE_MAX) ||
      !len_ok(m->custom_id, 1, DISCORD_CUSTOM_ID_MAX))
    return err_set(MIMIC_EINVAL, "modal: the title is 1-45 characters and the custom_id 1-100");
  if (m->n_inputs < 1 || m->n_inputs > DISCORD_MODAL_INPUTS_MAX || !m->inputs)
    return err_set(MIMIC_EINVAL, "modal: %zu text inputs, it holds 1-5", m->n_inputs);
  json_t *rows = json_array();
  for (size_t i = 0; i < m->n_inputs; i++) {
    const discord_text_input *t = &m->inputs[i];
    int max = t->max_length ? t->max_length : DISCORD_INPUT_VALUE_MAX;
    bool dup = false;
    for (size_t k = 0; k < i && t->custom_id; k++)
      dup = dup || (m->inputs[k].custom_id && strcmp(m->inputs[k].custom_id, t->custom_id) == 0);
    if (dup || !len_ok(t->custom_id, 1, DISCORD_CUSTOM_ID_MAX) ||
        !len_ok(t->label, 1, DISCORD_INPUT_LABEL_MAX) ||
        (t->style != DISCORD_INPUT_SHORT && t->style != DISCORD_INPUT_PARAGRAPH) ||
        t->min_length < 0 || t->min_length > DISCORD_INPUT_VALUE_MAX || max < 1 ||
        max > DISCORD_INPUT_VALUE_MAX || t->min_length > max ||
        (t->value && !len_ok(t->value, 0, (size_t)max)) ||
        (t->placeholder && !len_ok(t->placeholder, 0, DISCORD_INPUT_PLACEHOLD_MAX))) {
      json_decref(rows);
      return err_set(MIMIC_EINVAL,
                     "modal text input %zu: a unique custom_id of 1-100 characters, a label of "
                     "1-45, style 1 or 2, lengths within 0-4,000, a value within max_length and "
                     "a placeholder of at most 100",
                     i + 1);
    }
    json_t *o =
        json_pack("{s:i,s:s,s:i,s:s,s:b}", "type", DISCORD_COMPONENT_TEXT_INPUT, "custom_id",
                  t->custom_id, "style", (int)t->style, "label", t->label, "required", t->required);
    if (t->min_length) json_object_set_new(o, "min_length", json_integer(t->min_length));
    if (t->max_length) json_object_set_new(o, "max_length", json_integer(t->max_length));
    if (t->value && *t->value) json_object_set_new(o, "value", json_string(t->value));
    if (t->placeholder && *t->placeholder)
      json_object_set_new(o, "placeholder", json_string(t->placeholder));
    json_array_append_new(rows, json_pack("{s:i,s:[o]}", "type", 1, "components", o));
  }
  *out =
      json_pack("{s:s,s:s,s:o}", "title", m->title, "custom_id", m->custom_id, "components", rows);
  return 0;
}

int discord_actions_respond(discord_actions *a, const discord_response *r) {
  json_t *data = NULL;
  int rc = 0;
  switch (r->type) {
  case DISCORD_RESPONSE_MESSAGE:
  case DISCORD_RESPONSE_UPDATE: {
    data = json_object();
    char *text = first_part(r->content, &rc);
    if (text) json_object_set_new(data, "content", json_string(text));
    mem_free(text);
    if (!rc) rc = rows_json(data, r->rows, r->n_rows);
    if (!rc && !json_object_get(data, "content") && !r->n_rows &&
        r->type == DISCORD_RESPONSE_MESSAGE)
      rc = err_set(MIMIC_EINVAL, "interaction response: empty message");
    json_object_set_new(data, "allowed_mentions", api_allowed_mentions(NULL, 0, false));
    if (r->ephemeral) json_object_set_new(data, "flags", json_integer(API_MSG_EPHEMERAL));
    break;
  }
  case DISCORD_RESPONSE_DEFERRED:
    if (r->ephemeral) data = json_pack("{s:i}", "flags", (int)API_MSG_EPHEMERAL);
    break;
  case DISCORD_RESPONSE_DEFERRED_UPDATE: break;
  case DISCORD_RESPONSE_AUTOCOMPLETE: {
    if (r->n_choices > DISCORD_CHOICES_MAX) {
      rc = err_set(MIMIC_EINVAL, "autocomplete: %zu choices, at most %d", r->n_choices,
                   DISCORD_CHOICES_MAX);
      break;
    }
    json_t *ch = json_array();
    for (size_t i = 0; i < r->n_choices && !rc; i++) {
      if (!len_ok(r->choices[i].name, 1, 100) || !len_ok(r->choices[i].value, 1, 100))
        rc = err_set(MIMIC_EINVAL, "autocomplete choice %zu: name and value are 1-100 characters",
                     i + 1);
      else
        json_array_append_new(
            ch, json_pack("{s:s,s:s}", "name", r->choices[i].name, "value", r->choices[i].value));
    }
    data = json_pack("{s:o}", "choices", ch);
    break;
  }
  case DISCORD_RESPONSE_MODAL: rc = modal_json(r->modal, &data); break;
  default:
    rc = err_set(MIMIC_EINVAL, "interaction response type %d is not one mimic sends", r->type);
  }
  if (!rc)
    rc = api_interaction_respond(a->rest, r->interaction_id, r->token, (int)r->type, data, on_done,
                                 a);
  json_decref(data);
  return rc;
}

int discord_actions_followup(discord_actions *a, const discord_followup *f) {
  rest_file rf[REST_FILES_MAX];
  json_t *extra;
  int rc = extra_json(f->rows, f->n_rows, f->files, f->n_files, rf, &extra);
  if (rc) return rc;
  api_followup af = {.app_id = f->application_id,
                     .token = f->token,
                     .content = f->content,
                     .ephemeral = f->ephemeral,
                     .extra = extra,
                     .files = rf,
                     .n_files = f->n_files};
  rc = api_followup_post(a->rest, &af, on_done, a);
  json_decref(extra);
  return rc;
}

int discord_actions_edit_original(discord_actions *a, const discord_followup *f) {
  if (f->n_files) return err_set(MIMIC_EINVAL, "edit original: send files in a follow-up");
  json_t *extra;
  int rc = extra_json(f->rows, f->n_rows, NULL, 0, NULL, &extra);
  if (rc) return rc;
  rc = api_original_patch(a->rest, f->application_id, f->token, f->content, extra, on_done, a);
  json_decref(extra);
  return rc;
}

/* The cached webhook with this id (any channel), or NULL. */
static const discord_hook_info *hook_by_id(const discord_actions *a, discord_id id) {
  uint64_t k;
  void *v;
  for (size_t it = 0; map_next(&a->hooks_, &it, &k, &v);) {
    const hook_chan *c = v;
    for (size_t i = 0; i < c->n; i++)
      if (c->hooks[i].id == id) return &c->hooks[i];
  }
  return NULL;
}

int discord_actions_edit_message(discord_actions *a, const discord_edit *e) {
  if (!e->channel_id || !e->message_id)
    return err_set(MIMIC_EINVAL, "message edit: no channel or message");
  const discord_hook_info *h = e->webhook_id ? hook_by_id(a, e->webhook_id) : NULL;
  if (e->webhook_id && !h)
    return err_set(MIMIC_EINVAL,
                   "message edit: webhook %" PRIu64 " is not one of mimic's (it cannot be edited)",
                   e->webhook_id);
  json_t *body = json_object();
  int rc = 0;
  if (e->content) {
    char *text = first_part(e->content, &rc);
    json_object_set_new(body, "content", json_string(text ? text : ""));
    mem_free(text);
  }
  if (!rc && e->n_rows) rc = rows_json(body, e->rows, e->n_rows);
  if (!rc && !e->n_rows) json_object_set_new(body, "components", json_array());
  if (!rc)
    rc = h ? api_webhook_message_patch(a->rest, h->id, h->token, e->thread_id, e->message_id, body,
                                       on_done, a)
           : api_message_patch(a->rest, e->channel_id, e->message_id, body, on_done, a);
  json_decref(body);
  return rc;
}

/* ---- lifetime ---- */

void discord_actions_init(discord_actions *a, rest *r) {
  memset(a, 0, sizeof *a);
  a->rest = r;
  a->hook_name = "mimic";
  map_init(&a->hooks_);
}

void discord_actions_free(discord_actions *a) {
  if (!a) return;
  uint64_t k;
  void *v;
  for (size_t it = 0; map_next(&a->hooks_, &it, &k, &v);) {
    hook_chan *c = v;
    memset(c->hooks, 0, sizeof c->hooks); /* the tokens */
    mem_free(c);
  }
  map_free(&a->hooks_);
}

/* ---- actions copied for another thread ---- */

typedef enum {
  DA_SEND,
  DA_DM,
  DA_TYPING,
  DA_REACT,
  DA_PERSONA,
  DA_RESPOND,
  DA_FOLLOWUP,
  DA_EDIT,
  DA_EDIT_MESSAGE
} da_kind;

/* Every copy is one allocation in a list: freeing the action frees them all. */
typedef struct da_mem {
  struct da_mem *next;
  max_align_t data[];
} da_mem;

struct discord_action {
  da_kind kind;
  da_mem *mem;
  discord_id a, b; /* DM user; typing/react channel and message */
  const char *emoji;
  union {
    discord_send send;
    discord_persona_send persona;
    discord_response response;
    discord_followup followup;
    discord_edit edit;
  } u;
};

static void *da_alloc(discord_action *x, size_t n) {
  da_mem *m = xcalloc(1, sizeof *m + (n ? n : 1));
  m->next = x->mem;
  x->mem = m;
  return m->data;
}

static void *da_dup(discord_action *x, const void *p, size_t n) {
  if (!p || !n) return NULL;
  void *q = da_alloc(x, n);
  memcpy(q, p, n);
  return q;
}

static const char *da_str(discord_action *x, const char *s) {
  return s ? da_dup(x, s, strlen(s) + 1) : NULL;
}

static const discord_id *da_ids(discord_action *x, const discord_id *ids, size_t n) {
  return da_dup(x, ids, n * sizeof *ids);
}

static const discord_action_row *da_rows(discord_action *x, const discord_action_row *rows,
                                         size_t n) {
  discord_action_row *out = da_dup(x, rows, n * sizeof *rows);
  for (size_t r = 0; r < n; r++) {
    discord_component *items = da_dup(x, rows[r].items, rows[r].n_items * sizeof *items);
    for (size_t i = 0; i < rows[r].n_items; i++) {
      discord_component *c = &items[i];
      c->custom_id = da_str(x, c->custom_id);
      c->label = da_str(x, c->label);
      c->emoji = da_str(x, c->emoji);
      c->url = da_str(x, c->url);
      c->placeholder = da_str(x, c->placeholder);
      discord_select_option *o = da_dup(x, c->options, c->n_options * sizeof *o);
      for (size_t k = 0; k < c->n_options; k++) {
        o[k].label = da_str(x, o[k].label);
        o[k].value = da_str(x, o[k].value);
        o[k].description = da_str(x, o[k].description);
      }
      c->options = o;
    }
    out[r].items = items;
  }
  return out;
}

static const discord_file *da_files(discord_action *x, const discord_file *files, size_t n) {
  discord_file *out = da_dup(x, files, n * sizeof *files);
  for (size_t i = 0; i < n; i++) {
    out[i].filename = da_str(x, out[i].filename);
    out[i].content_type = da_str(x, out[i].content_type);
    out[i].description = da_str(x, out[i].description);
    out[i].data = da_dup(x, out[i].data, out[i].size);
  }
  return out;
}

static discord_action *da_new(da_kind kind) {
  discord_action *x = xcalloc(1, sizeof *x);
  x->kind = kind;
  return x;
}

static void da_send_copy(discord_action *x, const discord_send *m) {
  discord_send *c = &x->u.send;
  *c = *m;
  c->content = da_str(x, m->content);
  c->ping_users = da_ids(x, m->ping_users, m->n_ping_users);
  c->rows = da_rows(x, m->rows, m->n_rows);
  c->files = da_files(x, m->files, m->n_files);
}

discord_action *discord_action_send(const discord_send *m) {
  discord_action *x = da_new(DA_SEND);
  da_send_copy(x, m);
  return x;
}

discord_action *discord_action_send_dm(discord_id user_id, const discord_send *m) {
  discord_action *x = da_new(DA_DM);
  x->a = user_id;
  da_send_copy(x, m);
  return x;
}

discord_action *discord_action_typing(discord_id channel_id) {
  discord_action *x = da_new(DA_TYPING);
  x->a = channel_id;
  return x;
}

discord_action *discord_action_react(discord_id channel_id, discord_id message_id,
                                     const char *emoji) {
  discord_action *x = da_new(DA_REACT);
  x->a = channel_id;
  x->b = message_id;
  x->emoji = da_str(x, emoji ? emoji : "");
  return x;
}

discord_action *discord_action_persona_send(const discord_persona_send *m) {
  discord_action *x = da_new(DA_PERSONA);
  discord_persona_send *c = &x->u.persona;
  *c = *m;
  c->username = da_str(x, m->username);
  c->avatar_url = da_str(x, m->avatar_url);
  c->avatar_file = da_str(x, m->avatar_file);
  c->avatar_key = da_str(x, m->avatar_key);
  c->reply_excerpt = da_str(x, m->reply_excerpt);
  c->content = da_str(x, m->content);
  c->ping_users = da_ids(x, m->ping_users, m->n_ping_users);
  c->rows = da_rows(x, m->rows, m->n_rows);
  c->files = da_files(x, m->files, m->n_files);
  return x;
}

discord_action *discord_action_respond(const discord_response *r) {
  discord_action *x = da_new(DA_RESPOND);
  discord_response *c = &x->u.response;
  *c = *r;
  c->token = da_str(x, r->token);
  c->content = da_str(x, r->content);
  c->rows = da_rows(x, r->rows, r->n_rows);
  discord_choice *ch = da_dup(x, r->choices, r->n_choices * sizeof *ch);
  for (size_t i = 0; i < r->n_choices; i++) {
    ch[i].name = da_str(x, ch[i].name);
    ch[i].value = da_str(x, ch[i].value);
  }
  c->choices = ch;
  if (r->modal) {
    discord_modal *m = da_dup(x, r->modal, sizeof *m);
    m->title = da_str(x, m->title);
    m->custom_id = da_str(x, m->custom_id);
    discord_text_input *t = da_dup(x, m->inputs, m->n_inputs * sizeof *t);
    for (size_t i = 0; i < m->n_inputs; i++) {
      t[i].custom_id = da_str(x, t[i].custom_id);
      t[i].label = da_str(x, t[i].label);
      t[i].value = da_str(x, t[i].value);
      t[i].placeholder = da_str(x, t[i].placeholder);
    }
    m->inputs = t;
    c->modal = m;
  }
  return x;
}

discord_action *discord_action_edit_message(const discord_edit *e) {
  discord_action *x = da_new(DA_EDIT_MESSAGE);
  discord_edit *c = &x->u.edit;
  *c = *e;
  c->content = da_str(x, e->content);
  c->rows = da_rows(x, e->rows, e->n_rows);
  return x;
}

static discord_action *da_followup(da_kind kind, const discord_followup *f) {
  discord_action *x = da_new(kind);
  discord_followup *c = &x->u.followup;
  *c = *f;
  c->token = da_str(x, f->token);
  c->content = da_str(x, f->content);
  c->rows = da_rows(x, f->rows, f->n_rows);
  c->files = da_files(x, f->files, f->n_files);
  return x;
}

discord_action *discord_action_followup(const discord_followup *f) {
  return da_followup(DA_FOLLOWUP, f);
}

discord_action *discord_action_edit_original(const discord_followup *f) {
  return da_followup(DA_EDIT, f);
}

void discord_action_free(discord_action *x) {
  if (!x) return;
  while (x->mem) {
    da_mem *n = x->mem->next;
    mem_free(x->mem);
    x->mem = n;
  }
  mem_free(x);
}

int discord_action_run(discord_actions *a, discord_action *x) {
  int rc = 0;
  switch (x->kind) {
  case DA_SEND: rc = discord_actions_send(a, &x->u.send); break;
  case DA_DM: rc = discord_actions_send_dm(a, x->a, &x->u.send); break;
  case DA_TYPING: rc = discord_actions_typing(a, x->a); break;
  case DA_REACT: rc = discord_actions_react(a, x->a, x->b, x->emoji); break;
  case DA_PERSONA: rc = discord_actions_persona_send(a, &x->u.persona); break;
  case DA_RESPOND: rc = discord_actions_respond(a, &x->u.response); break;
  case DA_FOLLOWUP: rc = discord_actions_followup(a, &x->u.followup); break;
  case DA_EDIT: rc = discord_actions_edit_original(a, &x->u.followup); break;
  case DA_EDIT_MESSAGE: rc = discord_actions_edit_message(a, &x->u.edit); break;
  }
  discord_action_free(x);
  return rc;
}
