/* The typed actions (see actions.h): typed structs in, api.h calls with JSON bodies out, answers
 * read back into counters and a typed result. The multi-part sends, the webhook dance and the
 * HTTP are api.c's and rest.c's. */
#include "discord/actions.h"

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

int discord_actions_persona_send(discord_actions *a, const discord_persona_send *m) {
  if (!m->channel_id) return err_set(MIMIC_EINVAL, "persona send: no channel");
  if (!len_ok(m->username, 1, 80))
    return err_set(MIMIC_EINVAL, "persona send: the name must be 1-80 characters");
  rest_file rf[REST_FILES_MAX];
  json_t *extra;
  int rc = extra_json(m->rows, m->n_rows, m->files, m->n_files, rf, &extra);
  if (rc) return rc;
  api_hook *h = map_get(&a->hooks_, m->channel_id);
  if (!h) {
    h = xcalloc(1, sizeof *h);
    h->channel_id = m->channel_id;
    str_lcpy(h->name, a->hook_name && *a->hook_name ? a->hook_name : "mimic", sizeof h->name);
    map_put(&a->hooks_, m->channel_id, h);
  }
  api_hook_message hm = {.content = m->content,
                         .username = m->username,
                         .avatar_url = m->avatar_url,
                         .thread_id = m->thread_id,
                         .ping_users = m->ping_users,
                         .n_ping_users = m->n_ping_users,
                         .extra = extra,
                         .files = rf,
                         .n_files = m->n_files};
  rc = api_webhook_send(a->rest, h, &hm, on_done, a);
  json_decref(extra);
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
    api_hook *h = v;
    memset(h->token, 0, sizeof h->token);
    mem_free(h);
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
  DA_EDIT
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
  }
  discord_action_free(x);
  return rc;
}
