/* The typed actions (see actions.h): typed structs in, api.h calls with JSON bodies out, answers
 * read back into counters and a typed result. The multi-part sends, the webhook dance and the
 * HTTP are api.c's and rest.c's. */
#include "discord/actions.h"

#include <string.h>

#include "base/base.h"
#include "discord/api.h"
#include "discord/split.h"

#define SUB "discord"

/* ---- outcomes ---- */

static void report(discord_actions *a, const rest_result *res) {
  discord_actions_result out = {.err = res->err, .message = res->err ? res->message : NULL};
  if (res->err) {
    a->failed++;
    LOG_W(SUB, "Discord refused an action: %s", res->message ? res->message : err_name(res->err));
  } else {
    a->sent++;
    if (json_is_object(res->json)) out.message_id = json_snowflake(res->json, "id");
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
  uint64_t channel = res->err ? 0 : json_snowflake(res->json, "id");
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
