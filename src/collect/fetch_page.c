/* The seam between the history fetcher (which pages GET /channels/{id}/messages through the REST
 * client) and the store: one page of Discord message objects is stored and the channel's fetch
 * cursor advanced in one transaction, so a fetch killed at any moment resumes without a gap. */
#include <string.h>

#include "collect/collect_int.h"

static uint64_t sf(const json_t *o, const char *key) {
  uint64_t v = json_snowflake(o, key);
  return v > (uint64_t)INT64_MAX ? 0 : v;
}

static int64_t iso(const json_t *o, const char *key, int64_t dflt) {
  const char *t = json_str(o, key, NULL);
  int64_t ms;
  if (t && *t && clock_parse_iso8601(t, &ms) == 0) return ms;
  err_clear();
  return dflt;
}

static void api_user(const json_t *a, const json_t *member, store_user *u) {
  memset(u, 0, sizeof *u);
  u->id = sf(a, "id");
  str_lcpy(u->name, json_str(a, "username", ""), sizeof u->name);
  const char *shown = json_str(member, "nick", NULL);
  if (!shown) shown = json_str(a, "global_name", "");
  str_lcpy(u->display_name, shown, sizeof u->display_name);
  u->name[utf8_floor(u->name, strlen(u->name), strlen(u->name))] = 0;
  u->display_name[utf8_floor(u->display_name, strlen(u->display_name), strlen(u->display_name))] =
      0;
  u->bot = json_bool(a, "bot", false);
}

static int one(collect_ctx *c, uint64_t channel_id, const json_t *m, buf *embeds, buf *keys,
               buf *reactors, collect_page_result *r) {
  store_msg sm = {0};
  const json_t *author = json_object_get(m, "author");
  sm.id = sf(m, "id");
  sm.author_id = sf(author, "id");
  if (!sm.id || !sm.author_id) return err_set(MIMIC_EFORMAT, "a message without id or author.id");
  r->messages++;
  if (!r->newest_id || sm.id > r->newest_id) r->newest_id = sm.id;
  if (!r->oldest_id || sm.id < r->oldest_id) r->oldest_id = sm.id;
  store_user u;
  api_user(author, json_object_get(m, "member"), &u);
  uint32_t flags;
  int rc = collect__user(c, &u, &flags);
  if (rc) return rc;
  if (flags & (STORE_FLAG_EXCLUDED | STORE_FLAG_OPTED_OUT)) {
    r->skipped_privacy++;
    return 0;
  }
  uint64_t mentions[256];
  store_attachment atts[64];
  store_reaction reacts[64];
  sm.channel_id = channel_id;
  sm.guild_id = sf(m, "guild_id");
  sm.webhook_id = sf(m, "webhook_id");
  if (sm.webhook_id) sm.flags |= STORE_MSG_WEBHOOK;
  if (json_bool(m, "pinned", false)) sm.flags |= STORE_MSG_PINNED;
  if (json_bool(m, "tts", false)) sm.flags |= STORE_MSG_TTS;
  sm.type = (int)json_int(m, "type", 0);
  sm.source = STORE_SRC_FETCH;
  sm.ts_ms = iso(m, "timestamp", collect_snowflake_ms(sm.id));
  sm.edited_ms = iso(m, "edited_timestamp", 0);
  sm.content = json_str(m, "content", "");
  if ((rc = collect__embeds_text(json_object_get(m, "embeds"), embeds))) return rc;
  sm.embeds_text = embeds->data ? embeds->data : "";
  size_t i;
  const json_t *v;
  json_array_foreach(json_object_get(m, "mentions"), i, v) {
    store_user mu;
    api_user(v, json_object_get(v, "member"), &mu);
    if (!mu.id || sm.n_mentions == 256) continue;
    if ((rc = collect__user(c, &mu, &flags))) return rc;
    mentions[sm.n_mentions++] = mu.id;
  }
  json_array_foreach(json_object_get(m, "attachments"), i, v) {
    if (sm.n_attachments == 64) break;
    atts[sm.n_attachments++] = (store_attachment){.id = sf(v, "id"),
                                                  .filename = json_str(v, "filename", ""),
                                                  .url = json_str(v, "url", ""),
                                                  .size = json_int(v, "size", -1),
                                                  .content_type = json_str(v, "content_type", "")};
  }
  /* Emoji keys live in one buffer: record offsets first, pointers after the last append. */
  size_t offs[64], uoffs[64];
  buf_reset(keys);
  buf_reset(reactors);
  json_array_foreach(json_object_get(m, "reactions"), i, v) {
    if (sm.n_reactions == 64) break;
    const json_t *e = json_object_get(v, "emoji");
    const char *name = json_str(e, "name", "");
    uint64_t eid = sf(e, "id");
    if (!*name && !eid) continue;
    offs[sm.n_reactions] = keys->len;
    if ((eid ? buf_printf(keys, "%s:%llu", name, (unsigned long long)eid) : buf_puts(keys, name)) ||
        buf_putc(keys, 0))
      return err_set(MIMIC_ERANGE, "message %llu: reaction keys too long",
                     (unsigned long long)sm.id);
    int64_t cnt = json_int(v, "count", 0);
    store_reaction *re = &reacts[sm.n_reactions];
    *re = (store_reaction){.emoji_id = eid,
                           .emoji_name = name,
                           .count = cnt < 0            ? 0
                                    : cnt > 1000000000 ? 1000000000
                                                       : (int)cnt};
    /* "users": who reacted, added by the fetcher (--reactors); not part of Discord's object. */
    const json_t *who = json_object_get(v, "users");
    uoffs[sm.n_reactions] = reactors->len;
    if (json_is_array(who)) {
      size_t k2;
      const json_t *uv;
      json_array_foreach(who, k2, uv) {
        store_user ru;
        api_user(uv, NULL, &ru);
        if (!ru.id) continue;
        if ((rc = collect__user(c, &ru, &flags))) return rc;
        if (buf_append(reactors, &ru.id, sizeof ru.id))
          return err_set(MIMIC_ERANGE, "message %llu: too many reactors",
                         (unsigned long long)sm.id);
        re->n_users++;
      }
    }
    sm.n_reactions++;
  }
  for (size_t k = 0; k < sm.n_reactions; k++) {
    reacts[k].emoji = keys->data + offs[k];
    if (reacts[k].n_users) reacts[k].users = (const uint64_t *)(void *)(reactors->data + uoffs[k]);
  }
  const json_t *ref = json_object_get(m, "message_reference");
  if (json_is_object(ref)) {
    sm.ref_message_id = sf(ref, "message_id");
    sm.ref_channel_id = sf(ref, "channel_id");
  }
  sm.mentions = mentions;
  sm.attachments = atts;
  sm.reactions = reacts;
  sm.has = STORE_HAS_ALL;
  bool ins = false;
  if ((rc = store_msg_upsert(c->s, &sm, &ins))) return rc;
  if (ins) r->inserted++;
  return 0;
}

int collect__fetch_store_page_json(store *s, uint64_t channel_id, const json_t *page, int limit,
                                   bool backward, collect_page_result *out) {
  memset(out, 0, sizeof *out);
  if (!json_is_array(page)) return err_set(MIMIC_EFORMAT, "message page: expected a JSON array");
  collect_import_stats st;
  collect_ctx c;
  collect__ctx_init(&c, s, NULL, &st);
  buf embeds, keys, reactors;
  buf_init(&embeds, COLLECT_ELEM_MAX);
  buf_init(&keys, 1 << 16);
  buf_init(&reactors, FETCH_REACTORS_MAX * sizeof(uint64_t));
  int rc = store_tx_begin(s);
  if (rc) goto done;
  size_t i;
  const json_t *m;
  json_array_foreach(page, i, m) {
    if ((rc = one(&c, channel_id, m, &embeds, &keys, &reactors, out))) {
      rc = err_prefix(rc, "message page: element %zu", i);
      goto out;
    }
  }
  store_fetch_state fs = {.channel_id = channel_id};
  rc = store_fetch_state_get(s, channel_id, &fs);
  if (rc && rc != MIMIC_ENOTFOUND) goto out;
  rc = 0;
  if (out->newest_id > fs.newest_id) fs.newest_id = out->newest_id;
  if (out->oldest_id && (!fs.oldest_id || out->oldest_id < fs.oldest_id))
    fs.oldest_id = out->oldest_id;
  if (backward && (int64_t)out->messages < limit) fs.complete = true;
  fs.channel_id = channel_id;
  rc = store_fetch_state_set(s, &fs);
out:
  if (rc) {
    store_tx_rollback(s);
    memset(out, 0, sizeof *out);
  } else if ((rc = store_tx_commit(s))) {
    memset(out, 0, sizeof *out);
  }
done:
  buf_free(&embeds);
  buf_free(&keys);
  buf_free(&reactors);
  collect__ctx_free(&c);
  return rc;
}

int collect_fetch_store_page(store *s, uint64_t channel_id, const char *json, size_t n, int limit,
                             bool backward, collect_page_result *out) {
  memset(out, 0, sizeof *out);
  json_t *page = json_parse(json, n, "message page");
  if (!page) return MIMIC_EFORMAT;
  int rc = collect__fetch_store_page_json(s, channel_id, page, limit, backward, out);
  json_decref(page);
  return rc;
}
