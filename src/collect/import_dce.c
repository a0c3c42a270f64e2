/* DiscordChatExporter JSON import, streamed: the scanner cuts the top-level object into its keys
 * and the "messages" array into one element at a time; each element is parsed by Jansson, turned
 * into a store_msg and upserted. The whole file is one transaction, so an error anywhere commits
 * nothing. The format is described in docs/collect.md; every field is treated as optional except a
 * message's id and its author's id. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "collect/collect_int.h"

typedef struct dce_state {
  collect_ctx *c;
  jscan *j;
  uint64_t channel_id, guild_id;
  buf elem;   /* the current element's bytes */
  buf embeds; /* scratch for embed text */
  int64_t warned;
} dce_state;

static void user_from_json(const json_t *a, store_user *u) {
  memset(u, 0, sizeof *u);
  u->id = jv_snowflake(a, "id");
  const char *name = jv_str(a, "name", "");
  const char *nick = jv_str(a, "nickname", "");
  str_lcpy(u->name, name, sizeof u->name);
  if (strcmp(nick, name) != 0) str_lcpy(u->display_name, nick, sizeof u->display_name);
  u->name[utf8_floor(u->name, strlen(u->name), strlen(u->name))] = 0;
  u->display_name[utf8_floor(u->display_name, strlen(u->display_name), strlen(u->display_name))] =
      0;
  u->bot = jv_bool(a, "isBot", false);
}

/* Upserts a user object found inside a message (mention, reactor) and returns its id (0 if none).
 */
static int side_user(dce_state *d, const json_t *a, uint64_t *id) {
  store_user u;
  user_from_json(a, &u);
  *id = u.id;
  if (!u.id) return 0;
  uint32_t flags;
  return collect__user(d->c, &u, &flags);
}

static int64_t parse_time(const json_t *m, const char *key, int64_t dflt) {
  const char *t = jv_str(m, key, NULL);
  int64_t ms;
  if (t && *t && clock_parse_iso8601(t, &ms) == 0) return ms;
  err_clear();
  return dflt;
}

static void warn_skip(dce_state *d, uint64_t off, uint64_t line, int64_t no, const char *why) {
  d->c->st->skipped_invalid++;
  if (d->warned++ < 10)
    LOG_W("import", "%s: byte %llu (line %llu): message %lld skipped: %s", d->j->name,
          (unsigned long long)off, (unsigned long long)line, (long long)no, why);
}

static int handle_message(dce_state *d, const json_t *m, int64_t no, uint64_t off, uint64_t line) {
  collect_ctx *c = d->c;
  if (!json_is_object(m))
    return jscan_error(d->j, MIMIC_EFORMAT, off, line, "message %lld is not a JSON object",
                       (long long)no);
  const json_t *author = json_object_get(m, "author");
  store_msg sm = {0};
  sm.id = jv_snowflake(m, "id");
  sm.author_id = jv_snowflake(author, "id");
  if (!sm.id || sm.id > (uint64_t)INT64_MAX) {
    warn_skip(d, off, line, no, "no valid \"id\"");
    return 0;
  }
  if (!sm.author_id || sm.author_id > (uint64_t)INT64_MAX) {
    warn_skip(d, off, line, no, "no valid \"author.id\"");
    return 0;
  }
  store_user u;
  user_from_json(author, &u);
  uint32_t flags = 0;
  int rc = collect__user(c, &u, &flags);
  if (rc) return rc;
  if (flags & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) {
    c->st->skipped_privacy++;
    return 0;
  }
  uint64_t *mentions = NULL;
  store_attachment *atts = NULL;
  store_reaction *reacts = NULL;
  uint64_t *reactors = NULL;
  char **keys = NULL;
  size_t n_keys = 0;

  sm.channel_id = d->channel_id;
  sm.guild_id = d->guild_id;
  sm.source = STORE_SRC_DCE;
  const json_t *type = json_object_get(m, "type");
  sm.type = json_is_integer(type)  ? (int)json_integer_value(type)
            : json_is_string(type) ? collect_msg_type_from_name(json_string_value(type))
                                   : 0;
  sm.ts_ms = parse_time(m, "timestamp", collect_snowflake_ms(sm.id));
  sm.edited_ms = parse_time(m, "timestampEdited", 0);
  sm.content = jv_str(m, "content", "");
  if (jv_bool(m, "isPinned", false)) sm.flags |= STORE_MSG_PINNED;
  /* DCE does not mark webhooks; their authors are bots with the discriminator "0000". */
  if (u.bot && strcmp(jv_str(author, "discriminator", ""), "0000") == 0) {
    sm.flags |= STORE_MSG_WEBHOOK;
    sm.webhook_id = sm.author_id;
  }
  if ((rc = collect__embeds_text(json_object_get(m, "embeds"), &d->embeds))) goto out_pos;
  sm.embeds_text = d->embeds.data ? d->embeds.data : "";

  const json_t *arr, *v;
  size_t i;
  /* mentions */
  arr = json_object_get(m, "mentions");
  if (json_is_array(arr) && json_array_size(arr)) {
    mentions = xcalloc(json_array_size(arr), sizeof *mentions);
    json_array_foreach(arr, i, v) {
      uint64_t id;
      if ((rc = side_user(d, v, &id))) goto out;
      if (id && id <= (uint64_t)INT64_MAX) mentions[sm.n_mentions++] = id;
    }
  }
  sm.mentions = mentions;
  /* attachments */
  arr = json_object_get(m, "attachments");
  if (json_is_array(arr) && json_array_size(arr)) {
    atts = xcalloc(json_array_size(arr), sizeof *atts);
    json_array_foreach(arr, i, v) {
      if (!json_is_object(v)) continue;
      store_attachment *a = &atts[sm.n_attachments++];
      a->id = jv_snowflake(v, "id");
      if (a->id > (uint64_t)INT64_MAX) a->id = 0;
      a->url = jv_str(v, "url", "");
      a->filename = jv_str(v, "fileName", "");
      a->size = jv_int(v, "fileSizeBytes", -1);
      a->content_type = "";
    }
  }
  sm.attachments = atts;
  /* reactions, with reactors when the export has them */
  arr = json_object_get(m, "reactions");
  if (json_is_array(arr) && json_array_size(arr)) {
    size_t nr = json_array_size(arr), total_users = 0;
    json_array_foreach(arr, i, v) total_users += json_array_size(json_object_get(v, "users"));
    reacts = xcalloc(nr, sizeof *reacts);
    keys = xcalloc(nr, sizeof *keys);
    reactors = xcalloc(total_users ? total_users : 1, sizeof *reactors);
    size_t used = 0;
    json_array_foreach(arr, i, v) {
      const json_t *e = json_object_get(v, "emoji");
      const char *name = jv_str(e, "name", "");
      uint64_t eid = jv_snowflake(e, "id");
      if (eid > (uint64_t)INT64_MAX) eid = 0;
      if (!*name && !eid) continue;
      buf k;
      buf_init(&k, 1024);
      if (eid ? buf_printf(&k, "%s:%llu", name, (unsigned long long)eid) : buf_puts(&k, name)) {
        buf_free(&k);
        continue; /* an emoji name over 1 KiB is not an emoji */
      }
      keys[n_keys] = buf_steal(&k);
      store_reaction *r = &reacts[sm.n_reactions++];
      r->emoji = keys[n_keys++];
      r->emoji_id = eid;
      r->emoji_name = name;
      int64_t cnt = jv_int(v, "count", 0);
      r->count = cnt < 0 ? 0 : cnt > 1000000000 ? 1000000000 : (int)cnt;
      const json_t *users = json_object_get(v, "users");
      if (json_is_array(users)) {
        r->users = &reactors[used];
        size_t k2;
        const json_t *uv;
        json_array_foreach(users, k2, uv) {
          uint64_t id;
          if ((rc = side_user(d, uv, &id))) goto out;
          if (id && id <= (uint64_t)INT64_MAX) reactors[used + r->n_users++] = id;
        }
        used += r->n_users;
      }
    }
  }
  sm.reactions = reacts;
  /* reply / forward reference */
  const json_t *ref = json_object_get(m, "reference");
  if (json_is_object(ref)) {
    sm.ref_message_id = jv_snowflake(ref, "messageId");
    sm.ref_channel_id = jv_snowflake(ref, "channelId");
    if (sm.ref_message_id > (uint64_t)INT64_MAX) sm.ref_message_id = 0;
    if (sm.ref_channel_id > (uint64_t)INT64_MAX) sm.ref_channel_id = 0;
  }
  sm.has = STORE_HAS_ALL;
  bool inserted = false;
  if ((rc = collect__msg_upsert(c, &sm, &inserted))) goto out_pos;
  if (inserted) c->st->inserted++;
  goto out;
out_pos:
  rc = jscan_error(d->j, rc, off, line, "message %lld (id %llu): %s", (long long)no,
                   (unsigned long long)sm.id, err_msg());
out:
  mem_free(mentions);
  mem_free(atts);
  mem_free(reacts);
  mem_free(reactors);
  for (size_t k = 0; k < n_keys; k++) mem_free(keys[k]);
  mem_free(keys);
  return rc;
}

static int handle_header(dce_state *d, const char *key, const json_t *v) {
  if (strcmp(key, "guild") == 0 && json_is_object(v)) {
    store_guild g = {0};
    g.id = jv_snowflake(v, "id");
    str_lcpy(g.name, jv_str(v, "name", ""), sizeof g.name);
    g.name[utf8_floor(g.name, strlen(g.name), strlen(g.name))] = 0;
    /* Direct messages are exported under a pseudo-guild with id 0. */
    if (g.id && g.id <= (uint64_t)INT64_MAX) {
      d->guild_id = g.id;
      return store_guild_upsert(d->c->s, &g);
    }
    return 0;
  }
  if (strcmp(key, "channel") == 0 && json_is_object(v)) {
    store_channel ch = {0};
    ch.id = jv_snowflake(v, "id");
    if (!ch.id || ch.id > (uint64_t)INT64_MAX)
      return err_set(MIMIC_EFORMAT, "the \"channel\" header has no valid \"id\"");
    ch.guild_id = d->guild_id;
    ch.parent_id = jv_snowflake(v, "categoryId");
    if (ch.parent_id > (uint64_t)INT64_MAX) ch.parent_id = 0;
    int t = collect_channel_type_from_name(jv_str(v, "type", ""));
    ch.type = t < 0 ? STORE_CH_GUILD_TEXT : t;
    str_lcpy(ch.name, jv_str(v, "name", ""), sizeof ch.name);
    ch.name[utf8_floor(ch.name, strlen(ch.name), strlen(ch.name))] = 0;
    d->channel_id = ch.id;
    return store_channel_upsert(d->c->s, &ch);
  }
  return 0;
}

/* Scans the whole export inside the caller's transaction. */
static int scan(dce_state *d) {
  jscan *j = d->j;
  buf key;
  buf_init(&key, 4096);
  json_t *v = NULL;
  int rc, err;
  bool first = true, seen_messages = false;
  uint64_t off, line;
  int c0 = jscan_peek(j, &err);
  if (err) {
    rc = err;
    goto out;
  }
  if (c0 != '{') {
    rc = jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line,
                     c0 < 0 ? "empty file: not a DiscordChatExporter JSON export"
                            : "expected '{': not a DiscordChatExporter JSON export (export with "
                              "--format Json)");
    goto out;
  }
  jscan_advance(j);
  for (;;) {
    int c = jscan_peek(j, &err);
    if (err) {
      rc = err;
      goto out;
    }
    if (c == '}') {
      jscan_advance(j);
      break;
    }
    if (!first && (rc = jscan_expect(j, ',', "between top-level fields"))) goto out;
    first = false;
    if ((rc = jscan_value(j, &key, &off, &line))) goto out;
    json_decref(v);
    v = jscan_parse(j, &key, off, line, "top-level key");
    if (!v) {
      rc = MIMIC_EFORMAT;
      goto out;
    }
    if (!json_is_string(v)) {
      rc = jscan_error(j, MIMIC_EFORMAT, off, line, "expected a field name in quotes");
      goto out;
    }
    char name[64];
    str_lcpy(name, json_string_value(v), sizeof name);
    if ((rc = jscan_expect(j, ':', "after a field name"))) goto out;
    if (strcmp(name, "messages") == 0) {
      if (!d->channel_id) {
        rc = jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line,
                         "\"messages\" comes before the \"channel\" header: not a "
                         "DiscordChatExporter JSON export");
        goto out;
      }
      seen_messages = true;
      if ((rc = jscan_expect(j, '[', "to open the messages array"))) goto out;
      for (int64_t no = 1;; no++) {
        c = jscan_peek(j, &err);
        if (err) {
          rc = err;
          goto out;
        }
        if (c == ']') {
          jscan_advance(j);
          break;
        }
        if (no > 1 && (rc = jscan_expect(j, ',', "between messages"))) goto out;
        if ((rc = jscan_value(j, &d->elem, &off, &line))) goto out;
        char what[48];
        snprintf(what, sizeof what, "message %lld", (long long)no);
        json_decref(v);
        v = jscan_parse(j, &d->elem, off, line, what);
        if (!v) {
          rc = MIMIC_EFORMAT;
          goto out;
        }
        d->c->st->messages++;
        if ((rc = handle_message(d, v, no, off, line))) goto out;
        d->c->st->bytes = jscan_offset(j);
        collect__progress(d->c, false);
      }
    } else {
      if ((rc = jscan_value(j, &d->elem, &off, &line))) goto out;
      json_decref(v);
      v = jscan_parse(j, &d->elem, off, line, name);
      if (!v) {
        rc = MIMIC_EFORMAT;
        goto out;
      }
      if ((rc = handle_header(d, name, v))) {
        rc = jscan_error(j, rc, off, line, "%s", err_msg());
        goto out;
      }
    }
  }
  int c = jscan_peek(j, &err);
  if (err) {
    rc = err;
    goto out;
  }
  if (c >= 0) {
    rc = jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line,
                     "unexpected data after the end of the export");
    goto out;
  }
  if (!seen_messages) {
    rc = jscan_error(j, MIMIC_EFORMAT, jscan_offset(j), j->line,
                     "no \"messages\" array: not a DiscordChatExporter JSON export");
    goto out;
  }
  d->c->st->bytes = jscan_offset(j);
  rc = 0;
out:
  json_decref(v);
  buf_free(&key);
  return rc;
}

static int run(store *s, jscan *j, const char *path, uint64_t total, const collect_import_opts *o,
               collect_import_stats *stats) {
  collect_import_stats local;
  if (!stats) stats = &local;
  collect_ctx c;
  collect__ctx_init(&c, s, o, stats);
  dce_state d = {.c = &c, .j = j};
  buf_init(&d.elem, COLLECT_ELEM_MAX);
  buf_init(&d.embeds, COLLECT_ELEM_MAX);
  stats->total_bytes = total;
  int rc = store_tx_begin(s);
  if (rc) goto out;
  rc = scan(&d);
  if (!rc) rc = store_import_log(s, path, "dce", stats->bytes, stats->messages, stats->inserted);
  if (rc) {
    store_tx_rollback(s);
    stats->inserted = 0;
    goto out;
  }
  rc = store_tx_commit(s);
  if (rc) stats->inserted = 0;
  collect__progress(&c, true);
out:
  buf_free(&d.elem);
  buf_free(&d.embeds);
  collect__ctx_free(&c);
  return rc;
}

int collect_import_dce_mem(store *s, const char *data, size_t n, const char *name,
                           const collect_import_opts *o, collect_import_stats *stats) {
  jscan j;
  jscan_init_mem(&j, data, n, name);
  int rc = run(s, &j, name, n, o, stats);
  jscan_free(&j);
  return rc;
}

int collect_import_dce(store *s, const char *path, const collect_import_opts *o,
                       collect_import_stats *stats) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return err_set(MIMIC_EIO, "%s: cannot open: %s", path, strerror(errno));
  jscan j;
  int rc = jscan_init_fd(&j, fd, path);
  if (rc) {
    close(fd);
    return rc;
  }
  struct stat sb;
  uint64_t total = fstat(fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
  rc = run(s, &j, path, total, o, stats);
  jscan_free(&j);
  close(fd);
  return rc;
}
