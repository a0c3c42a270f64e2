/* Messages and their children (mentions, attachments, reactions and reactors): upsert by id, live
 * edits, deletes and reaction events, and the reads the bot and collect layers need (one message,
 * a channel's recent messages, full-text search, a streaming scan). */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

#define MSG_COLS                                                                                   \
  "m.id, m.channel_id, m.guild_id, m.author_id, m.webhook_id, m.ts_ms, m.edited_ms, m.type, "      \
  "m.flags, m.source, m.content, m.embeds_text, m.ref_message_id, m.ref_channel_id, u.name, "      \
  "u.display_name, u.bot, "                                                                        \
  "(SELECT coalesce(sum(r.count), 0) FROM reactions r WHERE r.message_id = m.id) "

#define MSG_FROM " FROM messages m JOIN users u ON u.id = m.author_id "

/* Longest full-text query accepted (bytes) and most words in it. */
#define SEARCH_QUERY_MAX 1024
#define SEARCH_TERMS_MAX 32

static int stub_rows(store *s, const store_msg *m) {
  sqlite3_stmt *st;
  if (m->guild_id) {
    if (store_stmt(s, "INSERT OR IGNORE INTO guilds(id) VALUES (?1)", &st)) return MIMIC_EDB;
    store__bind_id(st, 1, m->guild_id, 0);
    if (store__step_done(s, st, "saving a guild")) return MIMIC_EDB;
  }
  if (store_stmt(s, "INSERT OR IGNORE INTO channels(id, guild_id) VALUES (?1, ?2)", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, m->channel_id, 0);
  store__bind_id(st, 2, m->guild_id, 1);
  if (store__step_done(s, st, "saving a channel")) return MIMIC_EDB;
  if (store_stmt(s, "INSERT OR IGNORE INTO users(id) VALUES (?1)", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, m->author_id, 0);
  return store__step_done(s, st, "saving a user");
}

/* fresh: the message was just inserted, so it has no children to replace yet. */
static int put_children(store *s, const store_msg *m, bool fresh) {
  sqlite3_stmt *st;
  if (m->has & STORE_HAS_MENTIONS) {
    if (!fresh) {
      if (store_stmt(s, "DELETE FROM message_mentions WHERE message_id = ?1", &st))
        return MIMIC_EDB;
      store__bind_id(st, 1, m->id, 0);
      if (store__step_done(s, st, "saving mentions")) return MIMIC_EDB;
    }
    for (size_t i = 0; i < m->n_mentions; i++) {
      if (store_stmt(s,
                     "INSERT OR IGNORE INTO message_mentions(message_id, user_id) VALUES (?1, ?2)",
                     &st))
        return MIMIC_EDB;
      store__bind_id(st, 1, m->id, 0);
      store__bind_id(st, 2, m->mentions[i], 0);
      if (store__step_done(s, st, "saving mentions")) return MIMIC_EDB;
    }
  }
  if (m->has & STORE_HAS_ATTACHMENTS) {
    if (!fresh) {
      if (store_stmt(s, "DELETE FROM attachments WHERE message_id = ?1", &st)) return MIMIC_EDB;
      store__bind_id(st, 1, m->id, 0);
      if (store__step_done(s, st, "saving attachments")) return MIMIC_EDB;
    }
    for (size_t i = 0; i < m->n_attachments; i++) {
      const store_attachment *a = &m->attachments[i];
      if (store_stmt(
              s,
              "INSERT INTO attachments(message_id, idx, id, filename, url, size, content_type)"
              " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
              &st))
        return MIMIC_EDB;
      store__bind_id(st, 1, m->id, 0);
      sqlite3_bind_int64(st, 2, (sqlite3_int64)i);
      store__bind_id(st, 3, a->id, 1);
      store__bind_text(st, 4, a->filename);
      store__bind_text(st, 5, a->url);
      sqlite3_bind_int64(st, 6, a->size);
      store__bind_text(st, 7, a->content_type);
      if (store__step_done(s, st, "saving attachments")) return MIMIC_EDB;
    }
  }
  if (m->has & STORE_HAS_REACTIONS) {
    if (!fresh) {
      if (store_stmt(s, "DELETE FROM reactions WHERE message_id = ?1", &st)) return MIMIC_EDB;
      store__bind_id(st, 1, m->id, 0);
      if (store__step_done(s, st, "saving reactions")) return MIMIC_EDB;
    }
    for (size_t i = 0; i < m->n_reactions; i++) {
      const store_reaction *r = &m->reactions[i];
      if (!r->emoji || !*r->emoji) continue;
      /* The same emoji twice (a hostile export) adds up instead of failing the whole file. */
      if (store_stmt(s,
                     "INSERT INTO reactions(message_id, emoji, emoji_id, emoji_name, count) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(message_id, emoji) DO UPDATE SET "
                     "count = count + excluded.count",
                     &st))
        return MIMIC_EDB;
      store__bind_id(st, 1, m->id, 0);
      store__bind_text(st, 2, r->emoji);
      store__bind_id(st, 3, r->emoji_id, 1);
      store__bind_text(st, 4, r->emoji_name ? r->emoji_name : r->emoji);
      sqlite3_bind_int(st, 5, r->count < 0 ? 0 : r->count);
      if (store__step_done(s, st, "saving reactions")) return MIMIC_EDB;
      for (size_t k = 0; r->users && k < r->n_users; k++) {
        if (store_stmt(s,
                       "INSERT OR IGNORE INTO reaction_users(message_id, emoji, user_id) "
                       "VALUES (?1, ?2, ?3)",
                       &st))
          return MIMIC_EDB;
        store__bind_id(st, 1, m->id, 0);
        store__bind_text(st, 2, r->emoji);
        store__bind_id(st, 3, r->users[k], 0);
        if (store__step_done(s, st, "saving reactors")) return MIMIC_EDB;
      }
    }
  }
  return 0;
}

int store_msg_upsert(store *s, const store_msg *m, bool *inserted) {
  const char *content = m->content ? m->content : "";
  const char *embeds = m->embeds_text ? m->embeds_text : "";
  if (m->id == 0 || m->channel_id == 0 || m->author_id == 0)
    return err_set(MIMIC_EINVAL, "message %llu: id, channel and author are required",
                   (unsigned long long)m->id);
  if (m->id > (uint64_t)INT64_MAX || m->channel_id > (uint64_t)INT64_MAX ||
      m->author_id > (uint64_t)INT64_MAX)
    return err_set(MIMIC_EINVAL, "message %llu: id out of the snowflake range",
                   (unsigned long long)m->id);
  if (!utf8_valid(content, strlen(content)) || !utf8_valid(embeds, strlen(embeds)))
    return err_set(MIMIC_EFORMAT, "message %llu: content is not valid UTF-8",
                   (unsigned long long)m->id);
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  bool fresh = false;
  if ((rc = stub_rows(s, m))) goto out;
  if ((rc = store_stmt(s, "SELECT 1 FROM messages WHERE id = ?1", &st))) goto out;
  store__bind_id(st, 1, m->id, 0);
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  if (step != SQLITE_ROW && step != SQLITE_DONE) {
    rc = store_err(s, "looking up a message");
    goto out;
  }
  fresh = step == SQLITE_DONE;
  /* The WHERE clause skips rows that would not change, so re-imports write (and re-index) nothing.
   */
  if ((rc =
           store_stmt(s,
                      "INSERT INTO messages(id, channel_id, guild_id, author_id, webhook_id, ts_ms,"
                      " edited_ms, type, flags, source, content, embeds_text, ref_message_id,"
                      " ref_channel_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12,"
                      " ?13, ?14) ON CONFLICT(id) DO UPDATE SET "
                      "channel_id = excluded.channel_id, guild_id = excluded.guild_id,"
                      " author_id = excluded.author_id, webhook_id = excluded.webhook_id,"
                      " ts_ms = excluded.ts_ms, edited_ms = excluded.edited_ms,"
                      " type = excluded.type, flags = excluded.flags, source = excluded.source,"
                      " content = excluded.content, embeds_text = excluded.embeds_text,"
                      " ref_message_id = excluded.ref_message_id,"
                      " ref_channel_id = excluded.ref_channel_id "
                      "WHERE channel_id IS NOT excluded.channel_id"
                      " OR guild_id IS NOT excluded.guild_id OR author_id IS NOT excluded.author_id"
                      " OR webhook_id IS NOT excluded.webhook_id OR ts_ms IS NOT excluded.ts_ms"
                      " OR edited_ms IS NOT excluded.edited_ms OR type IS NOT excluded.type"
                      " OR flags IS NOT excluded.flags OR content IS NOT excluded.content"
                      " OR embeds_text IS NOT excluded.embeds_text"
                      " OR ref_message_id IS NOT excluded.ref_message_id"
                      " OR ref_channel_id IS NOT excluded.ref_channel_id",
                      &st)))
    goto out;
  store__bind_id(st, 1, m->id, 0);
  store__bind_id(st, 2, m->channel_id, 0);
  store__bind_id(st, 3, m->guild_id, 1);
  store__bind_id(st, 4, m->author_id, 0);
  store__bind_id(st, 5, m->webhook_id, 1);
  sqlite3_bind_int64(st, 6, m->ts_ms);
  sqlite3_bind_int64(st, 7, m->edited_ms);
  sqlite3_bind_int(st, 8, m->type);
  sqlite3_bind_int64(st, 9, m->flags);
  sqlite3_bind_int(st, 10, m->source);
  store__bind_text(st, 11, content);
  store__bind_text(st, 12, embeds);
  store__bind_id(st, 13, m->ref_message_id, 1);
  store__bind_id(st, 14, m->ref_channel_id, 1);
  if ((rc = store__step_done(s, st, "saving a message"))) goto out;
  rc = put_children(s, m, fresh);
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  if ((rc = store_tx_commit(s))) return rc;
  if (inserted) *inserted = fresh;
  return 0;
}

int store_msg_edit(store *s, uint64_t id, const char *content, int64_t edited_ms) {
  if (!content) content = "";
  if (!utf8_valid(content, strlen(content)))
    return err_set(MIMIC_EFORMAT, "message %llu: content is not valid UTF-8",
                   (unsigned long long)id);
  sqlite3_stmt *st;
  if (store_stmt(s, "UPDATE messages SET content = ?2, edited_ms = ?3 WHERE id = ?1", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, id, 0);
  store__bind_text(st, 2, content);
  sqlite3_bind_int64(st, 3, edited_ms);
  if (store__step_done(s, st, "editing a message")) return MIMIC_EDB;
  return sqlite3_changes(s->db) ? 0 : MIMIC_ENOTFOUND;
}

int store_msg_delete(store *s, uint64_t id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM messages WHERE id = ?1", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, id, 0);
  return store__step_done(s, st, "deleting a message");
}

int store_msg_count(store *s, uint64_t author_id, int64_t *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM messages WHERE ?1 = 0 OR author_id = ?1", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, author_id, 0);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *out = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? 0 : store_err(s, "counting messages");
}

/* ---- reads -------------------------------------------------------------------------------------
 */

/* Fills m from a row of MSG_COLS. With an arena the strings are copied into it (check a->err after
 * the rows: a failed copy leaves NULL); without, they are borrowed from the statement (valid until
 * the next step). */
static void fill_row(sqlite3_stmt *st, store_msg *m, arena *a) {
  memset(m, 0, sizeof *m);
  m->id = store__col_id(st, 0);
  m->channel_id = store__col_id(st, 1);
  m->guild_id = store__col_id(st, 2);
  m->author_id = store__col_id(st, 3);
  m->webhook_id = store__col_id(st, 4);
  m->ts_ms = sqlite3_column_int64(st, 5);
  m->edited_ms = sqlite3_column_int64(st, 6);
  m->type = sqlite3_column_int(st, 7);
  m->flags = (uint32_t)sqlite3_column_int64(st, 8);
  m->source = sqlite3_column_int(st, 9);
  const char *content = store__col_text(st, 10);
  const char *embeds = store__col_text(st, 11);
  m->ref_message_id = store__col_id(st, 12);
  m->ref_channel_id = store__col_id(st, 13);
  const char *name = store__col_text(st, 14);
  const char *shown = store__col_text(st, 15);
  if (!*shown) shown = *name ? name : "unknown-user";
  m->author_bot = sqlite3_column_int(st, 16) != 0;
  m->reaction_total = sqlite3_column_int(st, 17);
  if (a) {
    m->content = arena_strdup(a, content);
    m->embeds_text = arena_strdup(a, embeds);
    m->author_name = arena_strdup(a, name);
    m->author_shown = arena_strdup(a, shown);
  } else {
    m->content = content;
    m->embeds_text = embeds;
    m->author_name = name;
    m->author_shown = shown;
  }
}

void store_msg_list_free(store_msg_list *l) {
  if (!l) return;
  arena_destroy(l->arena_);
  memset(l, 0, sizeof *l);
}

/* Runs a prepared row query into a fresh list (the statement is reset afterwards). */
static int collect_rows(store *s, sqlite3_stmt *st, size_t limit, bool reverse,
                        store_msg_list *out) {
  memset(out, 0, sizeof *out);
  arena *a = store__arena_new();
  if (!a) return err_set(MIMIC_ENOMEM, "out of memory reading messages");
  size_t cap = limit < 64 ? (limit ? limit : 1) : 64, n = 0;
  store_msg *items = xcalloc(cap, sizeof *items);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap *= 2;
      items = xrealloc(items, cap * sizeof *items);
    }
    fill_row(st, &items[n++], a);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE || a->err) {
    mem_free(items);
    arena_destroy(a);
    return rc != SQLITE_DONE ? store_err(s, "reading messages") : MIMIC_ENOMEM;
  }
  if (reverse)
    for (size_t i = 0; i < n / 2; i++) {
      store_msg t = items[i];
      items[i] = items[n - 1 - i];
      items[n - 1 - i] = t;
    }
  /* Move the array into the arena so the list owns exactly one thing. */
  out->items = arena_alloc(a, (n ? n : 1) * sizeof *items);
  if (out->items && n) memcpy(out->items, items, n * sizeof *items);
  mem_free(items);
  if (!out->items) {
    arena_destroy(a);
    out->items = NULL;
    return MIMIC_ENOMEM;
  }
  out->n = n;
  out->arena_ = a;
  return 0;
}

static int load_children(store *s, store_msg *m, arena *a) {
  sqlite3_stmt *st;
  size_t n = 0;
  int rc;
  /* mentions */
  if (store_stmt(s, "SELECT user_id FROM message_mentions WHERE message_id = ?1 ORDER BY user_id",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, m->id, 0);
  uint64_t tmp_ids[256];
  while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < 256) tmp_ids[n++] = store__col_id(st, 0);
  sqlite3_reset(st);
  uint64_t *ids = arena_alloc(a, (n ? n : 1) * sizeof *ids);
  if (!ids) return a->err;
  memcpy(ids, tmp_ids, n * sizeof *ids);
  m->mentions = ids;
  m->n_mentions = n;
  /* attachments */
  if (store_stmt(s, "SELECT count(*) FROM attachments WHERE message_id = ?1", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, m->id, 0);
  n = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  store_attachment *att = arena_alloc(a, (n ? n : 1) * sizeof *att);
  if (!att) return a->err;
  size_t k = 0;
  if (store_stmt(s,
                 "SELECT id, filename, url, size, content_type FROM attachments "
                 "WHERE message_id = ?1 ORDER BY idx",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, m->id, 0);
  while (k < n && sqlite3_step(st) == SQLITE_ROW) {
    att[k].id = store__col_id(st, 0);
    att[k].filename = arena_strdup(a, store__col_text(st, 1));
    att[k].url = arena_strdup(a, store__col_text(st, 2));
    att[k].size = sqlite3_column_int64(st, 3);
    att[k].content_type = arena_strdup(a, store__col_text(st, 4));
    k++;
  }
  sqlite3_reset(st);
  m->attachments = att;
  m->n_attachments = k;
  /* reactions (with reactors) */
  if (store_stmt(s, "SELECT count(*) FROM reactions WHERE message_id = ?1", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, m->id, 0);
  n = sqlite3_step(st) == SQLITE_ROW ? (size_t)sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  store_reaction *re = arena_alloc(a, (n ? n : 1) * sizeof *re); /* zeroed */
  if (!re) return a->err;
  k = 0;
  if (store_stmt(s,
                 "SELECT emoji, emoji_id, emoji_name, count FROM reactions WHERE message_id = ?1 "
                 "ORDER BY count DESC, emoji",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, m->id, 0);
  while (k < n && sqlite3_step(st) == SQLITE_ROW) {
    re[k].emoji = arena_strdup(a, store__col_text(st, 0));
    re[k].emoji_id = store__col_id(st, 1);
    re[k].emoji_name = arena_strdup(a, store__col_text(st, 2));
    re[k].count = sqlite3_column_int(st, 3);
    k++;
  }
  sqlite3_reset(st);
  for (size_t i = 0; i < k; i++) {
    if (store_stmt(s,
                   "SELECT user_id FROM reaction_users WHERE message_id = ?1 AND emoji = ?2 "
                   "ORDER BY user_id LIMIT 256",
                   &st))
      return MIMIC_EDB;
    store__bind_id(st, 1, m->id, 0);
    store__bind_text(st, 2, re[i].emoji);
    size_t nu = 0;
    while (sqlite3_step(st) == SQLITE_ROW && nu < 256) tmp_ids[nu++] = store__col_id(st, 0);
    sqlite3_reset(st);
    if (nu) {
      uint64_t *u = arena_alloc(a, nu * sizeof *u);
      if (!u) return a->err;
      memcpy(u, tmp_ids, nu * sizeof *u);
      re[i].users = u;
      re[i].n_users = nu;
    }
  }
  m->reactions = re;
  m->n_reactions = k;
  m->has = STORE_HAS_ALL;
  return a->err; /* a string copy that failed */
}

int store_msg_get(store *s, uint64_t id, store_msg_list *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT " MSG_COLS MSG_FROM "WHERE m.id = ?1", &st)) return MIMIC_EDB;
  store__bind_id(st, 1, id, 0);
  int rc = collect_rows(s, st, 1, false, out);
  if (rc) return rc;
  if (out->n == 0) {
    store_msg_list_free(out);
    return MIMIC_ENOTFOUND;
  }
  if ((rc = load_children(s, &out->items[0], out->arena_))) store_msg_list_free(out);
  return rc;
}

int store_msg_recent(store *s, uint64_t channel_id, uint64_t before_id, size_t limit,
                     store_msg_list *out) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT " MSG_COLS MSG_FROM "WHERE m.channel_id = ?1 AND (?2 = 0 OR m.id < ?2) "
                 "ORDER BY m.ts_ms DESC, m.id DESC LIMIT ?3",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, channel_id, 0);
  store__bind_id(st, 2, before_id, 0);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit > 100000 ? 100000 : limit));
  return collect_rows(s, st, limit, true, out);
}

/* Turns plain words into an FTS5 query of quoted strings, so no user input is read as syntax. */
static int fts_query(const char *q, bool any, buf *out) {
  size_t terms = 0;
  const char *p = q;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    if (!*p) break;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
    if (terms == SEARCH_TERMS_MAX) break;
    if (terms && buf_puts(out, any ? " OR " : " ")) return MIMIC_ERANGE;
    if (buf_putc(out, '"')) return MIMIC_ERANGE;
    for (const char *c = start; c < p; c++)
      if ((*c == '"' && buf_putc(out, '"')) || buf_putc(out, *c)) return MIMIC_ERANGE;
    if (buf_putc(out, '"')) return MIMIC_ERANGE;
    terms++;
  }
  return 0;
}

int store_msg_search(store *s, const char *query, bool any, uint64_t channel_id, size_t limit,
                     store_msg_list *out) {
  memset(out, 0, sizeof *out);
  if (!query) query = "";
  size_t qlen = strlen(query);
  if (qlen > SEARCH_QUERY_MAX)
    return err_set(MIMIC_ERANGE, "search query of %zu bytes exceeds the %d-byte cap", qlen,
                   SEARCH_QUERY_MAX);
  if (!utf8_valid(query, qlen)) return err_set(MIMIC_EFORMAT, "search query is not valid UTF-8");
  buf fq;
  buf_init(&fq, 4 * SEARCH_QUERY_MAX);
  int rc = fts_query(query, any, &fq);
  if (rc) goto out;
  if (fq.len == 0) {
    /* Nothing to look for: an empty result, not an error. */
    out->arena_ = store__arena_new();
    out->items = out->arena_ ? arena_alloc(out->arena_, sizeof *out->items) : NULL;
    if (!out->items) {
      arena_destroy(out->arena_);
      out->arena_ = NULL;
      rc = err_set(MIMIC_ENOMEM, "out of memory searching messages");
    }
    goto out;
  }
  sqlite3_stmt *st;
  if ((rc = store_stmt(s,
                       "SELECT " MSG_COLS "FROM messages_fts f JOIN messages m ON m.id = f.rowid "
                       "JOIN users u ON u.id = m.author_id "
                       "WHERE messages_fts MATCH ?1 AND (?2 = 0 OR m.channel_id = ?2) "
                       "ORDER BY f.rank LIMIT ?3",
                       &st)))
    goto out;
  sqlite3_bind_text(st, 1, fq.data, (int)fq.len, SQLITE_STATIC);
  store__bind_id(st, 2, channel_id, 0);
  sqlite3_bind_int64(st, 3, (sqlite3_int64)(limit > 10000 ? 10000 : limit));
  rc = collect_rows(s, st, limit, false, out);
out:
  buf_free(&fq);
  return rc;
}

int store_msg_each(store *s, const store_msg_query *q, store_msg_fn fn, void *user) {
  static const store_msg_query all = {0};
  if (!q) q = &all;
  /* Not from the cache: the callback may call back into the store, even into another scan. */
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT " MSG_COLS MSG_FROM
                         "WHERE (?1 = 0 OR m.channel_id = ?1) AND (?2 = 0 OR m.author_id = ?2) "
                         "AND (?3 = 0 OR m.ts_ms >= ?3) AND (?4 = 0 OR m.ts_ms < ?4) "
                         "ORDER BY m.ts_ms, m.id",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "scanning messages");
  store__bind_id(st, 1, q->channel_id, 0);
  store__bind_id(st, 2, q->author_id, 0);
  sqlite3_bind_int64(st, 3, q->since_ms);
  sqlite3_bind_int64(st, 4, q->until_ms);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    store_msg m;
    fill_row(st, &m, NULL);
    if ((rc = fn(&m, user)) != 0) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "scanning messages");
  sqlite3_finalize(st);
  return rc;
}

/* ---- live reactions
 * ------------------------------------------------------------------------------ */

int store_reaction_add(store *s, uint64_t message_id, const char *emoji, uint64_t emoji_id,
                       const char *emoji_name, uint64_t user_id) {
  if (!emoji || !*emoji) return err_set(MIMIC_EINVAL, "reaction without an emoji");
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  if ((rc = store_stmt(s, "SELECT 1 FROM messages WHERE id = ?1", &st))) goto out;
  store__bind_id(st, 1, message_id, 0);
  int step = sqlite3_step(st);
  sqlite3_reset(st);
  if (step != SQLITE_ROW) {
    rc = step == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "adding a reaction");
    goto out;
  }
  if ((rc = store_stmt(s,
                       "INSERT INTO reactions(message_id, emoji, emoji_id, emoji_name, count) "
                       "VALUES (?1, ?2, ?3, ?4, 0) ON CONFLICT DO NOTHING",
                       &st)))
    goto out;
  store__bind_id(st, 1, message_id, 0);
  store__bind_text(st, 2, emoji);
  store__bind_id(st, 3, emoji_id, 1);
  store__bind_text(st, 4, emoji_name ? emoji_name : emoji);
  if ((rc = store__step_done(s, st, "adding a reaction"))) goto out;
  int added = 1;
  if (user_id) {
    if ((rc = store_stmt(s,
                         "INSERT OR IGNORE INTO reaction_users(message_id, emoji, user_id) "
                         "VALUES (?1, ?2, ?3)",
                         &st)))
      goto out;
    store__bind_id(st, 1, message_id, 0);
    store__bind_text(st, 2, emoji);
    store__bind_id(st, 3, user_id, 0);
    if ((rc = store__step_done(s, st, "adding a reactor"))) goto out;
    added = sqlite3_changes(s->db);
  }
  if (added) {
    if ((rc = store_stmt(
             s, "UPDATE reactions SET count = count + 1 WHERE message_id = ?1 AND emoji = ?2",
             &st)))
      goto out;
    store__bind_id(st, 1, message_id, 0);
    store__bind_text(st, 2, emoji);
    rc = store__step_done(s, st, "adding a reaction");
  }
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_reaction_remove(store *s, uint64_t message_id, const char *emoji, uint64_t user_id) {
  if (!emoji || !*emoji) return err_set(MIMIC_EINVAL, "reaction without an emoji");
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  int removed = 0;
  if (user_id) {
    if ((rc = store_stmt(s,
                         "DELETE FROM reaction_users WHERE message_id = ?1 AND emoji = ?2 "
                         "AND user_id = ?3",
                         &st)))
      goto out;
    store__bind_id(st, 1, message_id, 0);
    store__bind_text(st, 2, emoji);
    store__bind_id(st, 3, user_id, 0);
    if ((rc = store__step_done(s, st, "removing a reactor"))) goto out;
    removed = sqlite3_changes(s->db);
  }
  /* Decrement when that reactor was known, or when reactors were never fetched in full (imports
   * that carry counts only): then the count is all we have. */
  if ((rc =
           store_stmt(s,
                      "UPDATE reactions SET count = count - 1 WHERE message_id = ?1 AND emoji = ?2 "
                      "AND count > 0 AND (?3 OR (SELECT count(*) FROM reaction_users ru "
                      "WHERE ru.message_id = ?1 AND ru.emoji = ?2) < count)",
                      &st)))
    goto out;
  store__bind_id(st, 1, message_id, 0);
  store__bind_text(st, 2, emoji);
  sqlite3_bind_int(st, 3, removed || user_id == 0);
  if ((rc = store__step_done(s, st, "removing a reaction"))) goto out;
  if ((rc = store_stmt(
           s, "DELETE FROM reactions WHERE message_id = ?1 AND emoji = ?2 AND count <= 0", &st)))
    goto out;
  store__bind_id(st, 1, message_id, 0);
  store__bind_text(st, 2, emoji);
  rc = store__step_done(s, st, "removing a reaction");
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}
