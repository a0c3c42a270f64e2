/* The seam between the history fetcher (which pages GET /channels/{id}/messages through the REST
 * client) and the store: one page of typed messages (parsed by the discord layer's one message
 * parser) is stored and the channel's fetch cursor advanced in one transaction, so a fetch killed
 * at any moment resumes without a gap. It reads no JSON. */
#include <string.h>

#include "collect/collect_int.h"

/* Snowflakes the store can hold (it keeps them as SQLite integers). */
static uint64_t sf(discord_id id) { return id > (uint64_t)INT64_MAX ? 0 : id; }

static void user_of(const discord_user *a, const char *nick, store_user *u) {
  memset(u, 0, sizeof *u);
  u->id = sf(a->id);
  str_lcpy(u->name, a->username, sizeof u->name);
  discord_member m = {.nick = nick};
  str_lcpy(u->display_name, discord_display_name(a, &m), sizeof u->display_name);
  u->name[utf8_floor(u->name, strlen(u->name), strlen(u->name))] = 0;
  u->display_name[utf8_floor(u->display_name, strlen(u->display_name), strlen(u->display_name))] =
      0;
  u->bot = a->bot;
}

static int put_line(buf *out, const char *s) {
  if (!s || !*s) return 0;
  if (out->len && buf_putc(out, '\n')) return MIMIC_ERANGE;
  return buf_puts(out, s);
}

/* The text of a message's embeds, one line per part, in collect__embeds_text's order (author,
 * title, description, fields, footer), so fetched and imported messages read the same. */
static int embeds_text(const discord_message *m, buf *out) {
  buf_reset(out);
  for (size_t i = 0; i < m->n_embeds; i++) {
    const discord_embed *e = &m->embeds[i];
    if (put_line(out, e->author_name) || put_line(out, e->title) || put_line(out, e->description))
      goto range;
    for (size_t k = 0; k < e->n_fields; k++)
      if (put_line(out, e->fields[k].name) || put_line(out, e->fields[k].value)) goto range;
    if (put_line(out, e->footer_text)) goto range;
  }
  return 0;
range:
  return err_set(MIMIC_ERANGE, "embeds text longer than %zu bytes", out->limit);
}

static int one(collect_ctx *c, uint64_t channel_id, const discord_message *m, size_t index,
               const collect_reactors *rx, size_t n_rx, buf *embeds, buf *keys, buf *reactors,
               collect_page_result *r) {
  store_msg sm = {0};
  sm.id = sf(m->id);
  sm.author_id = m->has_author ? sf(m->author.id) : 0;
  if (!sm.id || !sm.author_id) return err_set(MIMIC_EFORMAT, "a message without id or author.id");
  r->messages++;
  if (!r->newest_id || sm.id > r->newest_id) r->newest_id = sm.id;
  if (!r->oldest_id || sm.id < r->oldest_id) r->oldest_id = sm.id;
  store_user u;
  user_of(&m->author, m->has_member ? m->member.nick : NULL, &u);
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
  sm.guild_id = sf(m->guild_id);
  sm.webhook_id = sf(m->webhook_id);
  if (sm.webhook_id) sm.flags |= STORE_MSG_WEBHOOK;
  if (m->pinned) sm.flags |= STORE_MSG_PINNED;
  if (m->tts) sm.flags |= STORE_MSG_TTS;
  sm.type = m->type;
  sm.source = STORE_SRC_FETCH;
  sm.ts_ms = m->timestamp_ms ? m->timestamp_ms : collect_snowflake_ms(sm.id);
  sm.edited_ms = m->edited_ms;
  sm.content = m->content;
  if ((rc = embeds_text(m, embeds))) return rc;
  sm.embeds_text = embeds->data ? embeds->data : "";
  for (size_t i = 0; i < m->n_mention_users && sm.n_mentions < 256; i++) {
    store_user mu;
    user_of(&m->mention_users[i].user, m->mention_users[i].nick, &mu);
    if (!mu.id) continue;
    if ((rc = collect__user(c, &mu, &flags))) return rc;
    mentions[sm.n_mentions++] = mu.id;
  }
  for (size_t i = 0; i < m->n_attachments && sm.n_attachments < 64; i++) {
    const discord_attachment *a = &m->attachments[i];
    atts[sm.n_attachments++] = (store_attachment){.id = sf(a->id),
                                                  .filename = a->filename,
                                                  .url = a->url,
                                                  .size = a->size ? (int64_t)a->size : -1,
                                                  .content_type = a->content_type};
  }
  /* Emoji keys live in one buffer: record offsets first, pointers after the last append. */
  size_t offs[64], uoffs[64];
  buf_reset(keys);
  buf_reset(reactors);
  size_t stored_reactors = 0;
  for (size_t i = 0; i < m->n_reactions && sm.n_reactions < 64; i++) {
    const discord_reaction_count *v = &m->reactions[i];
    const char *name = v->emoji.name;
    uint64_t eid = sf(v->emoji.id);
    if (!*name && !eid) continue;
    offs[sm.n_reactions] = keys->len;
    if ((eid ? buf_printf(keys, "%s:%llu", name, (unsigned long long)eid) : buf_puts(keys, name)) ||
        buf_putc(keys, 0))
      return err_set(MIMIC_ERANGE, "message %llu: reaction keys too long",
                     (unsigned long long)sm.id);
    store_reaction *re = &reacts[sm.n_reactions];
    *re = (store_reaction){.emoji_id = eid,
                           .emoji_name = name,
                           .count = v->count > 1000000000 ? 1000000000 : (int)v->count};
    /* Who reacted: found by the fetcher (--reactors), not part of Discord's message object. */
    uoffs[sm.n_reactions] = reactors->len;
    for (size_t k = 0; k < n_rx; k++) {
      if (rx[k].msg != index || rx[k].react != i || !rx[k].users) continue;
      for (size_t q = 0; q < rx[k].users->n && stored_reactors < FETCH_REACTORS_MAX; q++) {
        store_user ru;
        user_of(&rx[k].users->items[q], NULL, &ru);
        if (!ru.id) continue;
        if ((rc = collect__user(c, &ru, &flags))) return rc;
        if (buf_append(reactors, &ru.id, sizeof ru.id))
          return err_set(MIMIC_ERANGE, "message %llu: too many reactors",
                         (unsigned long long)sm.id);
        re->n_users++;
        stored_reactors++;
      }
    }
    sm.n_reactions++;
  }
  for (size_t k = 0; k < sm.n_reactions; k++) {
    reacts[k].emoji = keys->data + offs[k];
    if (reacts[k].n_users) reacts[k].users = (const uint64_t *)(void *)(reactors->data + uoffs[k]);
  }
  sm.ref_message_id = sf(m->ref_message_id);
  sm.ref_channel_id = sf(m->ref_channel_id);
  sm.mentions = mentions;
  sm.attachments = atts;
  sm.reactions = reacts;
  sm.has = STORE_HAS_ALL;
  bool ins = false;
  if ((rc = store_msg_upsert(c->s, &sm, &ins))) return rc;
  if (ins) r->inserted++;
  return 0;
}

int collect__fetch_store_page_typed(store *s, uint64_t channel_id, const discord_messages *page,
                                    const collect_reactors *rx, size_t n_rx, int limit,
                                    bool backward, collect_page_result *out) {
  memset(out, 0, sizeof *out);
  collect_import_stats st;
  collect_ctx c;
  collect__ctx_init(&c, s, NULL, &st);
  buf embeds, keys, reactors;
  buf_init(&embeds, COLLECT_ELEM_MAX);
  buf_init(&keys, 1 << 16);
  buf_init(&reactors, FETCH_REACTORS_MAX * sizeof(uint64_t));
  int rc = store_tx_begin(s);
  if (rc) goto done;
  for (size_t i = 0; i < page->n; i++) {
    if ((rc = one(&c, channel_id, &page->items[i], i, rx, n_rx, &embeds, &keys, &reactors, out))) {
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
  discord_messages *page = NULL;
  int rc = discord_messages_parse(json, n, &page);
  if (rc) return rc;
  rc = collect__fetch_store_page_typed(s, channel_id, page, NULL, 0, limit, backward, out);
  discord_messages_free(page);
  return rc;
}
