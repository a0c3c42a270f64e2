/* Dispatch payload -> typed event (discord.h). Every field is optional-tolerant: the parser never
 * trusts a field's presence or type, and copies what it keeps into one arena per event, so the
 * JSON can be released at once and the event freed in one call. It does no I/O and keeps no
 * state, which makes it the fuzz target for gateway payloads. */
#include <string.h>

#include "base/arena.h"
#include "discord/actions.h"
#include "discord/discord_int.h"

/* ---- names ------------------------------------------------------------------------------------
 */

static const char *const names[DISCORD_EV_COUNT_] = {
    [DISCORD_EV_NONE] = "NONE",
    [DISCORD_EV_READY] = "READY",
    [DISCORD_EV_RESUMED] = "RESUMED",
    [DISCORD_EV_GUILD_CREATE] = "GUILD_CREATE",
    [DISCORD_EV_GUILD_UPDATE] = "GUILD_UPDATE",
    [DISCORD_EV_GUILD_DELETE] = "GUILD_DELETE",
    [DISCORD_EV_CHANNEL_CREATE] = "CHANNEL_CREATE",
    [DISCORD_EV_CHANNEL_UPDATE] = "CHANNEL_UPDATE",
    [DISCORD_EV_CHANNEL_DELETE] = "CHANNEL_DELETE",
    [DISCORD_EV_THREAD_CREATE] = "THREAD_CREATE",
    [DISCORD_EV_THREAD_UPDATE] = "THREAD_UPDATE",
    [DISCORD_EV_THREAD_DELETE] = "THREAD_DELETE",
    [DISCORD_EV_MESSAGE_CREATE] = "MESSAGE_CREATE",
    [DISCORD_EV_MESSAGE_UPDATE] = "MESSAGE_UPDATE",
    [DISCORD_EV_MESSAGE_DELETE] = "MESSAGE_DELETE",
    [DISCORD_EV_MESSAGE_DELETE_BULK] = "MESSAGE_DELETE_BULK",
    [DISCORD_EV_REACTION_ADD] = "MESSAGE_REACTION_ADD",
    [DISCORD_EV_REACTION_REMOVE] = "MESSAGE_REACTION_REMOVE",
    [DISCORD_EV_INTERACTION_CREATE] = "INTERACTION_CREATE",
    [DISCORD_EV_GUILD_MEMBER_ADD] = "GUILD_MEMBER_ADD",
    [DISCORD_EV_STOPPED] = "STOPPED",
};

const char *discord_event_name(discord_event_type t) {
  if ((int)t < 0 || t >= DISCORD_EV_COUNT_ || !names[t]) return "UNKNOWN";
  return names[t];
}

discord_event_type discord_event_type_of(const char *name) {
  if (!name) return DISCORD_EV_NONE;
  for (int i = DISCORD_EV_READY; i < DISCORD_EV_STOPPED; i++)
    if (strcmp(names[i], name) == 0) return (discord_event_type)i;
  return DISCORD_EV_NONE;
}

/* ---- field readers ----------------------------------------------------------------------------
 */

typedef struct pctx {
  arena *a; /* the event's: an allocation failure is checked once, at the end of parsing */
} pctx;

static const char *str_of(pctx *c, const json_t *v) {
  if (!json_is_string(v)) return "";
  size_t n = json_string_length(v);
  const char *s = json_string_value(v);
  /* Jansson accepts \u0000 inside strings (JSON_ALLOW_NUL); cut there so C sees what it gets. */
  size_t k = strnlen(s, n);
  char *p = arena_alloc(c->a, k + 1);
  if (!p) return "";
  memcpy(p, s, k);
  p[k] = 0;
  return p;
}

static const char *str_at(pctx *c, const json_t *obj, const char *key) {
  return str_of(c, json_object_get(obj, key));
}

static discord_id id_of(const json_t *v) { return jv_snowflake_value(v); }

static discord_id id_at(const json_t *obj, const char *key) {
  return id_of(json_object_get(obj, key));
}

static int int_at(const json_t *obj, const char *key, int dflt) {
  int64_t v = jv_int(obj, key, dflt);
  if (v > INT32_MAX || v < INT32_MIN) return dflt;
  return (int)v;
}

static uint64_t u64_at(const json_t *obj, const char *key) {
  const json_t *v = json_object_get(obj, key);
  if (json_is_integer(v)) return json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
  if (json_is_string(v)) return id_of(v); /* permissions are decimal strings */
  return 0;
}

static int64_t time_at(const json_t *obj, const char *key) {
  const char *s = jv_str(obj, key, NULL);
  int64_t ms = 0;
  if (!s || clock_parse_iso8601(s, &ms) != 0) {
    err_clear();
    return 0;
  }
  return ms;
}

/* Array of ids, from strings (or objects with an "id" when by_obj). */
static discord_id *ids_of(pctx *c, const json_t *arr, bool by_obj, size_t *n_out) {
  *n_out = 0;
  if (!json_is_array(arr) || json_array_size(arr) == 0) return NULL;
  size_t n = json_array_size(arr);
  discord_id *ids = arena_alloc(c->a, n * sizeof *ids);
  if (!ids) return NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    const json_t *e = json_array_get(arr, i);
    discord_id id = by_obj ? id_at(e, "id") : id_of(e);
    if (id) ids[k++] = id;
  }
  *n_out = k;
  return ids;
}

static void user_of(pctx *c, const json_t *o, discord_user *u) {
  u->id = id_at(o, "id");
  u->username = str_at(c, o, "username");
  u->global_name = str_at(c, o, "global_name");
  u->discriminator = str_at(c, o, "discriminator");
  u->avatar = str_at(c, o, "avatar");
  u->bot = jv_bool(o, "bot", false);
  u->system = jv_bool(o, "system", false);
}

static void member_of(pctx *c, const json_t *o, discord_member *m) {
  m->nick = str_at(c, o, "nick");
  m->roles = ids_of(c, json_object_get(o, "roles"), false, &m->n_roles);
  m->joined_at_ms = time_at(o, "joined_at");
  m->permissions = u64_at(o, "permissions");
}

static void emoji_of(pctx *c, const json_t *o, discord_emoji *e) {
  e->id = id_at(o, "id");
  e->name = str_at(c, o, "name");
  e->animated = jv_bool(o, "animated", false);
}

/* Allocates an array of n elements of size sz, or NULL (and 0) when n is 0 or allocation fails. */
static void *arr_alloc(pctx *c, const json_t *arr, size_t sz, size_t *n_out) {
  *n_out = 0;
  if (!json_is_array(arr) || json_array_size(arr) == 0) return NULL;
  void *p = arena_alloc(c->a, json_array_size(arr) * sz);
  if (p) *n_out = json_array_size(arr);
  return p;
}

static void channel_of(pctx *c, const json_t *o, discord_channel *ch) {
  ch->id = id_at(o, "id");
  ch->type = int_at(o, "type", 0);
  ch->guild_id = id_at(o, "guild_id");
  ch->parent_id = id_at(o, "parent_id");
  ch->name = str_at(c, o, "name");
  ch->topic = str_at(c, o, "topic");
  ch->position = int_at(o, "position", 0);
  ch->nsfw = jv_bool(o, "nsfw", false);
  ch->last_message_id = id_at(o, "last_message_id");
  ch->has_last_message_id = json_object_get(o, "last_message_id") != NULL;
  ch->rate_limit_per_user = int_at(o, "rate_limit_per_user", 0);
  ch->is_thread = ch->type == 10 || ch->type == 11 || ch->type == 12;
  ch->owner_id = id_at(o, "owner_id");
  const json_t *md = json_object_get(o, "thread_metadata");
  ch->archived = jv_bool(md, "archived", false);
  ch->locked = jv_bool(md, "locked", false);
  ch->archive_ms = time_at(md, "archive_timestamp");
  ch->message_count = int_at(o, "message_count", 0);
  ch->member_count = int_at(o, "member_count", 0);
}

static void embed_media_of(pctx *c, const json_t *o, discord_embed_media *m) {
  m->url = str_at(c, o, "url");
  m->proxy_url = str_at(c, o, "proxy_url");
  m->width = int_at(o, "width", 0);
  m->height = int_at(o, "height", 0);
  if (m->width < 0 || m->height < 0) m->width = m->height = 0;
}

static void embed_of(pctx *c, const json_t *o, discord_embed *e) {
  e->type = str_at(c, o, "type");
  embed_media_of(c, json_object_get(o, "image"), &e->image);
  embed_media_of(c, json_object_get(o, "thumbnail"), &e->thumbnail);
  e->title = str_at(c, o, "title");
  e->description = str_at(c, o, "description");
  e->url = str_at(c, o, "url");
  e->author_name = str_at(c, json_object_get(o, "author"), "name");
  e->footer_text = str_at(c, json_object_get(o, "footer"), "text");
  const json_t *fields = json_object_get(o, "fields");
  e->fields = arr_alloc(c, fields, sizeof *e->fields, &e->n_fields);
  for (size_t i = 0; i < e->n_fields; i++) {
    const json_t *f = json_array_get(fields, i);
    e->fields[i].name = str_at(c, f, "name");
    e->fields[i].value = str_at(c, f, "value");
  }
}

static void message_of(pctx *c, const json_t *o, discord_message *m) {
  m->id = id_at(o, "id");
  m->channel_id = id_at(o, "channel_id");
  m->guild_id = id_at(o, "guild_id");
  m->webhook_id = id_at(o, "webhook_id");
  m->application_id = id_at(o, "application_id");
  const json_t *author = json_object_get(o, "author");
  m->has_author = json_is_object(author);
  user_of(c, author, &m->author);
  const json_t *member = json_object_get(o, "member");
  m->has_member = json_is_object(member);
  member_of(c, member, &m->member);
  const json_t *content = json_object_get(o, "content");
  m->has_content = json_is_string(content);
  m->content = str_of(c, content);
  m->timestamp_ms = time_at(o, "timestamp");
  m->edited_ms = time_at(o, "edited_timestamp");
  m->type = int_at(o, "type", 0);
  m->flags = u64_at(o, "flags");
  m->tts = jv_bool(o, "tts", false);
  m->pinned = jv_bool(o, "pinned", false);
  m->mention_everyone = jv_bool(o, "mention_everyone", false);
  m->channel_type = int_at(o, "channel_type", -1);
  const json_t *ref = json_object_get(o, "message_reference");
  m->ref_message_id = id_at(ref, "message_id");
  m->ref_channel_id = id_at(ref, "channel_id");
  m->ref_guild_id = id_at(ref, "guild_id");
  const json_t *refmsg = json_object_get(o, "referenced_message");
  m->ref_author_id = id_at(json_object_get(refmsg, "author"), "id");
  if (!m->ref_message_id) m->ref_message_id = id_at(refmsg, "id");
  m->mentions = ids_of(c, json_object_get(o, "mentions"), true, &m->n_mentions);
  const json_t *mentions = json_object_get(o, "mentions");
  m->mention_users = arr_alloc(c, mentions, sizeof *m->mention_users, &m->n_mention_users);
  size_t nm = 0;
  for (size_t i = 0; i < m->n_mention_users; i++) {
    const json_t *u = json_array_get(mentions, i);
    if (!json_is_object(u) || !id_at(u, "id")) continue;
    user_of(c, u, &m->mention_users[nm].user);
    m->mention_users[nm].nick = str_at(c, json_object_get(u, "member"), "nick");
    nm++;
  }
  m->n_mention_users = nm;
  const json_t *reactions = json_object_get(o, "reactions");
  m->reactions = arr_alloc(c, reactions, sizeof *m->reactions, &m->n_reactions);
  for (size_t i = 0; i < m->n_reactions; i++) {
    const json_t *r = json_array_get(reactions, i);
    discord_reaction_count *rc = &m->reactions[i];
    emoji_of(c, json_object_get(r, "emoji"), &rc->emoji);
    int64_t n = jv_int(r, "count", 0);
    rc->count = n < 0 ? 0 : n;
    rc->me = jv_bool(r, "me", false);
  }
  m->mention_roles = ids_of(c, json_object_get(o, "mention_roles"), false, &m->n_mention_roles);
  const json_t *atts = json_object_get(o, "attachments");
  m->attachments = arr_alloc(c, atts, sizeof *m->attachments, &m->n_attachments);
  for (size_t i = 0; i < m->n_attachments; i++) {
    const json_t *a = json_array_get(atts, i);
    discord_attachment *at = &m->attachments[i];
    at->id = id_at(a, "id");
    at->url = str_at(c, a, "url");
    at->proxy_url = str_at(c, a, "proxy_url");
    at->filename = str_at(c, a, "filename");
    at->content_type = str_at(c, a, "content_type");
    at->size = u64_at(a, "size");
    at->width = (int)jv_int(a, "width", 0);
    at->height = (int)jv_int(a, "height", 0);
    if (at->width < 0 || at->height < 0) at->width = at->height = 0;
    at->description = str_at(c, a, "description");
  }
  const json_t *embeds = json_object_get(o, "embeds");
  m->embeds = arr_alloc(c, embeds, sizeof *m->embeds, &m->n_embeds);
  for (size_t i = 0; i < m->n_embeds; i++) embed_of(c, json_array_get(embeds, i), &m->embeds[i]);
  const json_t *row0 = json_array_get(json_object_get(o, "components"), 0);
  m->first_custom_id =
      str_at(c, json_array_get(json_object_get(row0, "components"), 0), "custom_id");
}

/* Options nest for sub-command groups; depth is capped so hostile input cannot recurse deeply
 * (Discord's own nesting is at most 3). */
#define OPTION_DEPTH_MAX 4

static discord_option *options_of(pctx *c, const json_t *arr, int depth, size_t *n_out) {
  *n_out = 0;
  if (depth >= OPTION_DEPTH_MAX) return NULL;
  discord_option *opts = arr_alloc(c, arr, sizeof *opts, n_out);
  for (size_t i = 0; i < *n_out; i++) {
    const json_t *o = json_array_get(arr, i);
    discord_option *op = &opts[i];
    op->name = str_at(c, o, "name");
    op->type = int_at(o, "type", 0);
    op->focused = jv_bool(o, "focused", false);
    const json_t *v = json_object_get(o, "value");
    op->str = "";
    if (json_is_string(v)) {
      op->str = str_of(c, v);
      discord_id id = id_of(v);
      if (id) op->i = (int64_t)id;
    } else if (json_is_integer(v)) {
      op->i = json_integer_value(v);
      op->num = (double)op->i;
    } else if (json_is_real(v)) {
      op->num = json_real_value(v);
      op->i = (int64_t)op->num;
    } else if (json_is_boolean(v)) {
      op->i = json_is_true(v);
    }
    op->options = options_of(c, json_object_get(o, "options"), depth + 1, &op->n_options);
  }
  return opts;
}

/* The buttons of the message a component is on (rows of buttons; at most
 * DISCORD_MSG_BUTTONS_MAX). */
static void msg_buttons_of(pctx *c, const json_t *rows, discord_interaction *in) {
  if (!json_is_array(rows)) return;
  size_t total = 0, i, k;
  const json_t *row, *it;
  json_array_foreach(rows, i, row) total += json_array_size(json_object_get(row, "components"));
  if (!total) return;
  if (total > DISCORD_MSG_BUTTONS_MAX) total = DISCORD_MSG_BUTTONS_MAX;
  in->buttons = arena_alloc(c->a, total * sizeof *in->buttons);
  if (!in->buttons) return;
  json_array_foreach(rows, i, row) {
    if (i >= DISCORD_ROW_MAX) break;
    json_array_foreach(json_object_get(row, "components"), k, it) {
      if (in->n_buttons >= total) break;
      if (int_at(it, "type", 0) != 2) continue;
      discord_msg_button *bt = &in->buttons[in->n_buttons++];
      bt->row = (int)i;
      bt->custom_id = str_at(c, it, "custom_id");
      bt->label = str_at(c, it, "label");
      bt->url = str_at(c, it, "url");
      bt->style = int_at(it, "style", 0);
      bt->disabled = jv_bool(it, "disabled", false);
    }
  }
}

/* A string of 1..max characters (0..max when may_be_empty) of valid UTF-8, without NULs. */
static bool text_ok(const json_t *v, size_t max, bool may_be_empty) {
  if (!json_is_string(v)) return false;
  const char *s = json_string_value(v);
  size_t n = json_string_length(v);
  if (strnlen(s, n) != n || !utf8_valid(s, n)) return false;
  size_t chars = utf8_count(s, n);
  return chars <= max && (may_be_empty || chars > 0);
}

/* The text input of one modal row: {type 1, components: [one {type 4}]} or a label (type 18)
 * holding it in "component" (Discord's newer layout). NULL when it is neither. */
static const json_t *modal_input_of(const json_t *row) {
  int t = int_at(row, "type", 0);
  const json_t *input = NULL;
  if (t == 1) {
    const json_t *items = json_object_get(row, "components");
    if (!json_is_array(items) || json_array_size(items) != 1) return NULL;
    input = json_array_get(items, 0);
  } else if (t == 18) {
    input = json_object_get(row, "component");
  }
  return json_is_object(input) && int_at(input, "type", 0) == 4 ? input : NULL;
}

/* data of a MODAL_SUBMIT: the fields, or modal_error saying which of Discord's rules it breaks. */
static void modal_of(pctx *c, const json_t *data, discord_interaction *in) {
  const json_t *rows = json_object_get(data, "components");
  size_t n = json_array_size(rows), i;
  const char *why = NULL;
  if (!text_ok(json_object_get(data, "custom_id"), DISCORD_CUSTOM_ID_MAX, false))
    why = "the form's custom_id is missing or not 1-100 characters";
  else if (!json_is_array(rows) || n < 1 || n > DISCORD_MODAL_INPUTS_MAX)
    why = "a form holds 1-5 text inputs";
  for (i = 0; i < n && !why; i++) {
    const json_t *input = modal_input_of(json_array_get(rows, i));
    if (!input)
      why = "each row of a form holds exactly one text input";
    else if (!text_ok(json_object_get(input, "custom_id"), DISCORD_CUSTOM_ID_MAX, false))
      why = "a text input's custom_id is missing or not 1-100 characters";
    else if (!text_ok(json_object_get(input, "value"), DISCORD_INPUT_VALUE_MAX, true))
      why = "a text input's value is missing, not UTF-8 text or over 4,000 characters";
    for (size_t k = 0; k < i && !why; k++)
      if (json_equal(json_object_get(modal_input_of(json_array_get(rows, k)), "custom_id"),
                     json_object_get(input, "custom_id")))
        why = "two text inputs of the form share a custom_id";
  }
  if (why) {
    in->modal_error = why;
    return;
  }
  in->fields = arena_alloc(c->a, n * sizeof *in->fields);
  if (!in->fields) return;
  in->n_fields = n;
  for (i = 0; i < n; i++) {
    const json_t *input = modal_input_of(json_array_get(rows, i));
    in->fields[i].custom_id = str_at(c, input, "custom_id");
    in->fields[i].value = str_at(c, input, "value");
  }
}

const char *discord_modal_value(const discord_interaction *in, const char *custom_id) {
  for (size_t i = 0; i < in->n_fields; i++)
    if (strcmp(in->fields[i].custom_id, custom_id) == 0) return in->fields[i].value;
  return NULL;
}

static void interaction_of(pctx *c, const json_t *o, discord_interaction *in) {
  in->id = id_at(o, "id");
  in->application_id = id_at(o, "application_id");
  in->type = int_at(o, "type", 0);
  in->token = str_at(c, o, "token");
  in->guild_id = id_at(o, "guild_id");
  in->channel_id = id_at(o, "channel_id");
  if (!in->channel_id) in->channel_id = id_at(json_object_get(o, "channel"), "id");
  const json_t *member = json_object_get(o, "member");
  in->has_member = json_is_object(member);
  member_of(c, member, &in->member);
  const json_t *user = json_object_get(o, "user");
  if (!json_is_object(user)) user = json_object_get(member, "user");
  user_of(c, user, &in->user);
  const json_t *data = json_object_get(o, "data");
  in->command_id = id_at(data, "id");
  in->command_name = str_at(c, data, "name");
  in->command_type = int_at(data, "type", 0);
  in->target_id = id_at(data, "target_id");
  in->custom_id = str_at(c, data, "custom_id");
  in->component_type = int_at(data, "component_type", 0);
  in->options = options_of(c, json_object_get(data, "options"), 0, &in->n_options);
  in->locale = str_at(c, o, "locale");
  in->app_permissions = u64_at(o, "app_permissions");
  const json_t *msg = json_object_get(o, "message");
  in->message_id = id_at(msg, "id");
  in->message_webhook_id = id_at(msg, "webhook_id");
  msg_buttons_of(c, json_object_get(msg, "components"), in);
  if (in->type == 5) modal_of(c, data, in);
}

static void ready_of(pctx *c, const json_t *o, discord_ready *r) {
  r->v = int_at(o, "v", 0);
  user_of(c, json_object_get(o, "user"), &r->user);
  r->session_id = str_at(c, o, "session_id");
  r->resume_gateway_url = str_at(c, o, "resume_gateway_url");
  r->application_id = id_at(json_object_get(o, "application"), "id");
  r->guild_ids = ids_of(c, json_object_get(o, "guilds"), true, &r->n_guild_ids);
  const json_t *shard = json_object_get(o, "shard");
  r->shard_id = 0;
  r->shard_count = 1;
  if (json_is_array(shard) && json_array_size(shard) == 2 &&
      json_is_integer(json_array_get(shard, 0)) && json_is_integer(json_array_get(shard, 1))) {
    int64_t id = json_integer_value(json_array_get(shard, 0));
    int64_t cnt = json_integer_value(json_array_get(shard, 1));
    if (id >= 0 && cnt > 0 && id < cnt && cnt <= 65536) {
      r->shard_id = (int)id;
      r->shard_count = (int)cnt;
    }
  }
}

static void guild_of(pctx *c, const json_t *o, discord_guild *g) {
  g->id = id_at(o, "id");
  g->name = str_at(c, o, "name");
  g->owner_id = id_at(o, "owner_id");
  g->unavailable = jv_bool(o, "unavailable", false);
  g->member_count = int_at(o, "member_count", 0);
  g->joined_at_ms = time_at(o, "joined_at");
  const json_t *chans = json_object_get(o, "channels");
  g->channels = arr_alloc(c, chans, sizeof *g->channels, &g->n_channels);
  for (size_t i = 0; i < g->n_channels; i++) {
    channel_of(c, json_array_get(chans, i), &g->channels[i]);
    if (!g->channels[i].guild_id) g->channels[i].guild_id = g->id;
  }
  const json_t *threads = json_object_get(o, "threads");
  g->threads = arr_alloc(c, threads, sizeof *g->threads, &g->n_threads);
  for (size_t i = 0; i < g->n_threads; i++) {
    channel_of(c, json_array_get(threads, i), &g->threads[i]);
    if (!g->threads[i].guild_id) g->threads[i].guild_id = g->id;
  }
}

static void reaction_of(pctx *c, const json_t *o, discord_reaction *r) {
  r->user_id = id_at(o, "user_id");
  r->channel_id = id_at(o, "channel_id");
  r->message_id = id_at(o, "message_id");
  r->guild_id = id_at(o, "guild_id");
  r->message_author_id = id_at(o, "message_author_id");
  emoji_of(c, json_object_get(o, "emoji"), &r->emoji);
  r->burst = jv_bool(o, "burst", false);
  const json_t *member = json_object_get(o, "member");
  r->has_member = json_is_object(member);
  member_of(c, member, &r->member);
  user_of(c, json_object_get(member, "user"), &r->member_user);
}

/* ---- entry points -----------------------------------------------------------------------------
 */

static discord_event *event_new(discord_event_type t, int64_t seq) {
  arena *a = arena_new("gateway event", 2048, DISCORD_EVENT_ARENA_MAX);
  if (!a) return NULL;
  discord_event *ev = arena_alloc(a, sizeof *ev);
  if (!ev) {
    arena_destroy(a);
    return NULL;
  }
  ev->type = t;
  ev->seq = seq;
  ev->arena_ = a;
  return ev;
}

void discord_event_free(discord_event *ev) {
  if (!ev) return;
  arena_destroy(ev->arena_); /* the event itself lives in its arena */
}

int discord__event_parse(const char *t, const json_t *d, int64_t seq, discord_event **out) {
  *out = NULL;
  discord_event_type type = discord_event_type_of(t);
  if (type == DISCORD_EV_NONE) return 0;
  /* RESUMED carries no useful data (d may be null or {}); everything else needs an object. */
  if (type != DISCORD_EV_RESUMED && !json_is_object(d))
    return err_set(MIMIC_EFORMAT, "%s: dispatch data is not an object", t);
  discord_event *ev = event_new(type, seq);
  if (!ev) return err_set(MIMIC_ENOMEM, "out of memory building a gateway event");
  pctx c = {ev->arena_};
  switch (type) {
  case DISCORD_EV_READY: ready_of(&c, d, &ev->u.ready); break;
  case DISCORD_EV_RESUMED: break;
  case DISCORD_EV_GUILD_CREATE:
  case DISCORD_EV_GUILD_UPDATE:
  case DISCORD_EV_GUILD_DELETE: guild_of(&c, d, &ev->u.guild); break;
  case DISCORD_EV_CHANNEL_CREATE:
  case DISCORD_EV_CHANNEL_UPDATE:
  case DISCORD_EV_CHANNEL_DELETE:
  case DISCORD_EV_THREAD_CREATE:
  case DISCORD_EV_THREAD_UPDATE:
  case DISCORD_EV_THREAD_DELETE: channel_of(&c, d, &ev->u.channel); break;
  case DISCORD_EV_MESSAGE_CREATE:
  case DISCORD_EV_MESSAGE_UPDATE: message_of(&c, d, &ev->u.message); break;
  case DISCORD_EV_MESSAGE_DELETE: {
    discord_message_delete *del = &ev->u.del;
    del->channel_id = id_at(d, "channel_id");
    del->guild_id = id_at(d, "guild_id");
    discord_id id = id_at(d, "id");
    if (id) {
      del->ids = arena_alloc(c.a, sizeof *del->ids);
      if (del->ids) {
        del->ids[0] = id;
        del->n_ids = 1;
      }
    }
    break;
  }
  case DISCORD_EV_MESSAGE_DELETE_BULK:
    ev->u.del.channel_id = id_at(d, "channel_id");
    ev->u.del.guild_id = id_at(d, "guild_id");
    ev->u.del.ids = ids_of(&c, json_object_get(d, "ids"), false, &ev->u.del.n_ids);
    break;
  case DISCORD_EV_REACTION_ADD:
  case DISCORD_EV_REACTION_REMOVE: reaction_of(&c, d, &ev->u.reaction); break;
  case DISCORD_EV_INTERACTION_CREATE: interaction_of(&c, d, &ev->u.interaction); break;
  case DISCORD_EV_GUILD_MEMBER_ADD:
    ev->u.member_add.guild_id = id_at(d, "guild_id");
    user_of(&c, json_object_get(d, "user"), &ev->u.member_add.user);
    member_of(&c, d, &ev->u.member_add.member);
    break;
  default: break;
  }
  if (ev->arena_->err) {
    int rc = ev->arena_->err;
    discord_event_free(ev);
    return err_prefix(rc, "%s", t);
  }
  *out = ev;
  return 0;
}

/* ---- pages (REST answers) ---------------------------------------------------------------------
 */

/* A fresh arena for a page, when arr is an array. */
static int page_arena(const json_t *arr, const char *what, arena **a) {
  *a = NULL;
  if (!json_is_array(arr)) return err_set(MIMIC_EFORMAT, "%s: expected a JSON array", what);
  *a = arena_new(what, 2048, DISCORD_EVENT_ARENA_MAX);
  return *a ? 0 : err_set(MIMIC_ENOMEM, "out of memory reading %s", what);
}

static int page_end(arena *a, const char *what) {
  if (!a->err) return 0;
  int rc = a->err;
  arena_destroy(a);
  return err_prefix(rc, "%s", what);
}

int discord__messages_of(const json_t *arr, discord_messages **out) {
  *out = NULL;
  arena *a;
  int rc = page_arena(arr, "message page", &a);
  if (rc) return rc;
  pctx c = {a};
  discord_messages *p = arena_alloc(a, sizeof *p);
  if (p) {
    p->arena_ = a;
    p->items = arr_alloc(&c, arr, sizeof *p->items, &p->n);
    for (size_t i = 0; i < p->n && p->items; i++)
      message_of(&c, json_array_get(arr, i), &p->items[i]);
  }
  if ((rc = page_end(a, "message page"))) return rc;
  *out = p;
  return 0;
}

int discord__users_of(const json_t *arr, discord_users **out) {
  *out = NULL;
  arena *a;
  int rc = page_arena(arr, "user list", &a);
  if (rc) return rc;
  pctx c = {a};
  discord_users *p = arena_alloc(a, sizeof *p);
  if (p) {
    p->arena_ = a;
    p->items = arr_alloc(&c, arr, sizeof *p->items, &p->n);
    for (size_t i = 0; i < p->n && p->items; i++) user_of(&c, json_array_get(arr, i), &p->items[i]);
  }
  if ((rc = page_end(a, "user list"))) return rc;
  *out = p;
  return 0;
}

int discord__guilds_of(const json_t *arr, discord_guilds **out) {
  *out = NULL;
  arena *a;
  int rc = page_arena(arr, "guild list", &a);
  if (rc) return rc;
  pctx c = {a};
  discord_guilds *p = arena_alloc(a, sizeof *p);
  if (p) {
    p->arena_ = a;
    p->items = arr_alloc(&c, arr, sizeof *p->items, &p->n);
    for (size_t i = 0; i < p->n && p->items; i++)
      guild_of(&c, json_array_get(arr, i), &p->items[i]);
  }
  if ((rc = page_end(a, "guild list"))) return rc;
  *out = p;
  return 0;
}

int discord__channels_of(const json_t *body, discord_channels **out) {
  *out = NULL;
  /* A channel list is an array; a thread list an object {threads, members, has_more}. */
  const json_t *arr = json_is_object(body) ? json_object_get(body, "threads") : body;
  arena *a;
  int rc = page_arena(arr, "channel list", &a);
  if (rc) return rc;
  pctx c = {a};
  discord_channels *p = arena_alloc(a, sizeof *p);
  if (p) {
    p->arena_ = a;
    p->has_more = json_is_true(json_object_get(body, "has_more"));
    p->items = arr_alloc(&c, arr, sizeof *p->items, &p->n);
    for (size_t i = 0; i < p->n && p->items; i++) {
      const json_t *o = json_array_get(arr, i);
      channel_of(&c, o, &p->items[i]);
      if (!json_is_integer(json_object_get(o, "type"))) p->items[i].type = -1;
      p->items[i].message_count = int_at(o, "message_count", -1);
    }
  }
  if ((rc = page_end(a, "channel list"))) return rc;
  *out = p;
  return 0;
}

void discord_guilds_free(discord_guilds *p) { arena_destroy(p ? p->arena_ : NULL); }

void discord_channels_free(discord_channels *p) { arena_destroy(p ? p->arena_ : NULL); }

int discord_messages_parse(const char *json, size_t n, discord_messages **out) {
  *out = NULL;
  json_t *arr = jv_parse(json, n, "message page");
  if (!arr) return MIMIC_EFORMAT;
  int rc = discord__messages_of(arr, out);
  json_decref(arr);
  return rc;
}

int discord_users_parse(const char *json, size_t n, discord_users **out) {
  *out = NULL;
  json_t *arr = jv_parse(json, n, "user list");
  if (!arr) return MIMIC_EFORMAT;
  int rc = discord__users_of(arr, out);
  json_decref(arr);
  return rc;
}

void discord_messages_free(discord_messages *p) { arena_destroy(p ? p->arena_ : NULL); }

void discord_users_free(discord_users *p) { arena_destroy(p ? p->arena_ : NULL); }

discord_event *discord__event_stopped(int close_code, bool fatal, const char *message) {
  discord_event *ev = event_new(DISCORD_EV_STOPPED, 0);
  if (!ev) return NULL;
  pctx c = {ev->arena_};
  size_t n = strlen(message ? message : "");
  char *m = arena_alloc(c.a, n + 1);
  if (!m) {
    discord_event_free(ev);
    return NULL;
  }
  if (n) memcpy(m, message, n);
  m[n] = 0;
  ev->u.stopped.close_code = close_code;
  ev->u.stopped.fatal = fatal;
  ev->u.stopped.message = m;
  return ev;
}
