/* Application command definitions to JSON (what a bulk overwrite sends), their checks against
 * Discord's rules, their hash, and the parse of one interaction payload. See commands.h. */
#include "discord/commands.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/hash.h"
#include "discord/discord_int.h"

static json_t *num_or_str(int type, const char *v) {
  if (type == DISCORD_OPT_INTEGER) {
    int64_t i = 0;
    if (str_to_i64(v, &i) == 0) return json_integer(i);
    err_clear();
  } else if (type == DISCORD_OPT_NUMBER) {
    double d = 0;
    if (str_to_double(v, &d) == 0) return json_real(d);
    err_clear();
  }
  return json_string(v);
}

static json_t *option_json(const discord_cmd_option *o) {
  json_t *j = json_object();
  json_object_set_new(j, "type", json_integer(o->type));
  json_object_set_new(j, "name", json_string(o->name));
  json_object_set_new(j, "description", json_string(o->description));
  if (o->type == DISCORD_OPT_SUB || o->type == DISCORD_OPT_GROUP) {
    json_t *sub = json_array();
    for (size_t i = 0; i < o->n_options; i++)
      json_array_append_new(sub, option_json(&o->options[i]));
    json_object_set_new(j, "options", sub);
    return j;
  }
  if (o->required) json_object_set_new(j, "required", json_true());
  if (o->autocomplete) json_object_set_new(j, "autocomplete", json_true());
  if (o->n_choices) {
    json_t *ch = json_array();
    for (size_t i = 0; i < o->n_choices; i++) {
      json_t *c = json_object();
      json_object_set_new(c, "name", json_string(o->choices[i].name));
      json_object_set_new(c, "value", num_or_str(o->type, o->choices[i].value));
      json_array_append_new(ch, c);
    }
    json_object_set_new(j, "choices", ch);
  }
  bool str = o->type == DISCORD_OPT_STRING;
  if (o->has_min)
    json_object_set_new(j, str ? "min_length" : "min_value",
                        o->type == DISCORD_OPT_NUMBER ? json_real(o->min)
                                                      : json_integer((json_int_t)o->min));
  if (o->has_max)
    json_object_set_new(j, str ? "max_length" : "max_value",
                        o->type == DISCORD_OPT_NUMBER ? json_real(o->max)
                                                      : json_integer((json_int_t)o->max));
  return j;
}

json_t *discord_commands_json(const discord_command *cmds, size_t n) {
  json_t *arr = json_array();
  MIMIC_ASSERT(arr);
  for (size_t i = 0; i < n; i++) {
    const discord_command *c = &cmds[i];
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(c->name));
    json_object_set_new(j, "type", json_integer(1));
    json_object_set_new(j, "description", json_string(c->description));
    json_t *opts = json_array();
    for (size_t k = 0; k < c->n_options; k++)
      json_array_append_new(opts, option_json(&c->options[k]));
    json_object_set_new(j, "options", opts);
    if (c->permissions) {
      char p[24];
      snprintf(p, sizeof p, "%" PRIu64, c->permissions);
      json_object_set_new(j, "default_member_permissions", json_string(p));
    } else {
      json_object_set_new(j, "default_member_permissions", json_null());
    }
    /* contexts: 0 GUILD, 1 BOT_DM; integration_types: 0 GUILD_INSTALL */
    json_t *ctx = json_array();
    json_array_append_new(ctx, json_integer(0));
    if (c->dm) json_array_append_new(ctx, json_integer(1));
    json_object_set_new(j, "contexts", ctx);
    json_t *it = json_array();
    json_array_append_new(it, json_integer(0));
    json_object_set_new(j, "integration_types", it);
    json_object_set_new(j, "nsfw", json_false());
    json_array_append_new(arr, j);
  }
  return arr;
}

static bool name_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  if (n < 1 || n > DISCORD_CMD_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (!(islower(ch) || isdigit(ch) || ch == '-' || ch == '_')) return false;
  }
  return true;
}

static bool desc_ok(const char *s) {
  size_t n = s ? strlen(s) : 0;
  return n >= 1 && n <= DISCORD_CMD_DESC_MAX;
}

static int check_options(const char *cmd, const discord_cmd_option *o, size_t n, int depth) {
  if (n > DISCORD_CMD_OPTS_MAX) return err_set(MIMIC_EINVAL, "/%s: more than 25 options", cmd);
  bool optional_seen = false;
  for (size_t i = 0; i < n; i++) {
    const discord_cmd_option *x = &o[i];
    if (!name_ok(x->name) || !desc_ok(x->description))
      return err_set(MIMIC_EINVAL, "/%s: option %zu has a bad name or description", cmd, i);
    for (size_t k = 0; k < i; k++)
      if (strcmp(o[k].name, x->name) == 0)
        return err_set(MIMIC_EINVAL, "/%s: option %s appears twice", cmd, x->name);
    if (x->type == DISCORD_OPT_SUB || x->type == DISCORD_OPT_GROUP) {
      if (depth >= (x->type == DISCORD_OPT_SUB ? 2 : 1))
        return err_set(MIMIC_EINVAL, "/%s: %s is nested too deep", cmd, x->name);
      int rc = check_options(cmd, x->options, x->n_options, depth + 1);
      if (rc) return rc;
      continue;
    }
    if (x->type < DISCORD_OPT_STRING || x->type > DISCORD_OPT_ATTACHMENT || x->type == 9)
      return err_set(MIMIC_EINVAL, "/%s: option %s has an unknown type %d", cmd, x->name, x->type);
    if (x->required && optional_seen)
      return err_set(MIMIC_EINVAL, "/%s: required option %s after an optional one", cmd, x->name);
    if (!x->required) optional_seen = true;
    if (x->autocomplete && x->n_choices)
      return err_set(MIMIC_EINVAL, "/%s: option %s has both choices and autocomplete", cmd,
                     x->name);
    if (x->n_choices > 25)
      return err_set(MIMIC_EINVAL, "/%s: option %s has more than 25 choices", cmd, x->name);
  }
  return 0;
}

int discord_commands_check(const discord_command *cmds, size_t n) {
  if (n > DISCORD_CMDS_MAX) return err_set(MIMIC_EINVAL, "more than %d commands", DISCORD_CMDS_MAX);
  for (size_t i = 0; i < n; i++) {
    const discord_command *c = &cmds[i];
    if (!name_ok(c->name))
      return err_set(MIMIC_EINVAL,
                     "command %zu: name must be 1-32 lowercase letters, digits, - or _", i);
    if (!desc_ok(c->description))
      return err_set(MIMIC_EINVAL, "/%s: description must be 1-100 characters", c->name);
    for (size_t k = 0; k < i; k++)
      if (strcmp(cmds[k].name, c->name) == 0)
        return err_set(MIMIC_EINVAL, "/%s is defined twice", c->name);
    int rc = check_options(c->name, c->options, c->n_options, 0);
    if (rc) return rc;
  }
  return 0;
}

void discord_commands_hash(const json_t *arr, char out[17]) {
  char *s = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  MIMIC_ASSERT(s);
  uint64_t h = hash_fnv64(s, strlen(s));
  free(s); /* Jansson's allocator */
  snprintf(out, 17, "%016" PRIx64, h);
}

int discord_interaction_parse(const char *json, size_t n, discord_event **out) {
  *out = NULL;
  if (n > DISCORD_INTERACTION_MAX)
    return err_set(MIMIC_ERANGE, "interaction payload of %zu bytes is over the %u-byte cap", n,
                   DISCORD_INTERACTION_MAX);
  json_t *d = jv_parse(json, n, "interaction");
  if (!d) return MIMIC_EFORMAT;
  int rc = discord__event_parse("INTERACTION_CREATE", d, 0, out);
  json_decref(d);
  if (rc == 0 && !*out) rc = err_set(MIMIC_EFORMAT, "interaction: not an event");
  return rc;
}
