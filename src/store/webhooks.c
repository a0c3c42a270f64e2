/* Persona webhooks, persona message records and DM choices (see webhooks.h): plain typed rows over
 * three small tables. */
#include "store/webhooks.h"

#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

int store_hook_put(store *s, const store_hook *h) {
  if (!h || !h->channel_id || !h->webhook_id || !h->token[0])
    return err_set(MIMIC_EINVAL, "a persona webhook needs a channel, an id and a token");
  if (strlen(h->key) > STORE_HOOK_KEY_MAX || strlen(h->token) > STORE_HOOK_TOKEN_MAX)
    return err_set(MIMIC_EINVAL, "a persona webhook's key or token is too long");
  int rc = store_tx_begin(s);
  if (rc) return rc;
  sqlite3_stmt *st;
  if ((rc = store_stmt(s,
                       "DELETE FROM persona_webhooks WHERE webhook_id = ?1 AND "
                       "(channel_id <> ?2 OR key <> ?3)",
                       &st)) == 0) {
    sqlite3_bind_int64(st, 1, (sqlite3_int64)h->webhook_id);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)h->channel_id);
    store__bind_text(st, 3, h->key);
    rc = store__step_done(s, st, "saving a persona webhook");
  }
  if (!rc && (rc = store_stmt(s,
                              "INSERT INTO persona_webhooks(channel_id, key, webhook_id, token, "
                              "uses, last_used_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6) "
                              "ON CONFLICT(channel_id, key) DO UPDATE SET "
                              "webhook_id = excluded.webhook_id, token = excluded.token, "
                              "uses = excluded.uses, last_used_ms = excluded.last_used_ms",
                              &st)) == 0) {
    sqlite3_bind_int64(st, 1, (sqlite3_int64)h->channel_id);
    store__bind_text(st, 2, h->key);
    sqlite3_bind_int64(st, 3, (sqlite3_int64)h->webhook_id);
    store__bind_text(st, 4, h->token);
    sqlite3_bind_int64(st, 5, h->uses);
    sqlite3_bind_int64(st, 6, h->last_used_ms);
    rc = store__step_done(s, st, "saving a persona webhook");
  }
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_hook_used(store *s, uint64_t webhook_id, int64_t uses, int64_t at_ms) {
  sqlite3_stmt *st;
  if (store_stmt(
          s, "UPDATE persona_webhooks SET uses = ?2, last_used_ms = ?3 WHERE webhook_id = ?1", &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)webhook_id);
  sqlite3_bind_int64(st, 2, uses);
  sqlite3_bind_int64(st, 3, at_ms);
  return store__step_done(s, st, "counting a persona webhook's use");
}

int store_hook_delete(store *s, uint64_t webhook_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM persona_webhooks WHERE webhook_id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)webhook_id);
  return store__step_done(s, st, "forgetting a persona webhook");
}

int store_hook_each(store *s, store_hook_fn fn, void *user) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT channel_id, key, webhook_id, token, uses, last_used_ms "
                         "FROM persona_webhooks ORDER BY channel_id, key",
                         -1, &st, NULL) != SQLITE_OK)
    return store_err(s, "listing persona webhooks");
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    store_hook h = {.channel_id = store__col_id(st, 0),
                    .webhook_id = store__col_id(st, 2),
                    .uses = sqlite3_column_int64(st, 4),
                    .last_used_ms = sqlite3_column_int64(st, 5)};
    store__col_copy(st, 1, h.key, sizeof h.key);
    store__col_copy(st, 3, h.token, sizeof h.token);
    rc = fn(&h, user);
    memset(h.token, 0, sizeof h.token);
    if (rc) break;
  }
  if (rc == 0 && step != SQLITE_DONE) rc = store_err(s, "listing persona webhooks");
  sqlite3_finalize(st);
  return rc;
}

bool store_hook_is_ours(store *s, uint64_t webhook_id) {
  sqlite3_stmt *st;
  if (!webhook_id ||
      store_stmt(s, "SELECT 1 FROM persona_webhooks WHERE webhook_id = ?1 LIMIT 1", &st)) {
    err_clear();
    return false;
  }
  sqlite3_bind_int64(st, 1, (sqlite3_int64)webhook_id);
  bool found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_reset(st);
  return found;
}

int store_persona_msg_put(store *s, uint64_t message_id, uint64_t channel_id, int64_t persona_id,
                          uint64_t webhook_id, int64_t ts_ms) {
  if (!message_id || !channel_id || persona_id <= 0)
    return err_set(MIMIC_EINVAL, "a persona message needs a message, a channel and a persona");
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT OR REPLACE INTO persona_messages(message_id, channel_id, persona_id, "
                 "webhook_id, ts_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)message_id);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)channel_id);
  sqlite3_bind_int64(st, 3, persona_id);
  sqlite3_bind_int64(st, 4, (sqlite3_int64)webhook_id);
  sqlite3_bind_int64(st, 5, ts_ms);
  return store__step_done(s, st, "recording a persona's message");
}

int store_persona_msg_get(store *s, uint64_t message_id, int64_t *persona_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT persona_id FROM persona_messages WHERE message_id = ?1", &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)message_id);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    *persona_id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading a persona's message");
}

int store_persona_msg_delete(store *s, uint64_t message_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM persona_messages WHERE message_id = ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)message_id);
  return store__step_done(s, st, "forgetting a persona's message");
}

int store_persona_msg_prune(store *s, int64_t before_ms, int64_t *n) {
  sqlite3_stmt *st;
  if (store_stmt(s, "DELETE FROM persona_messages WHERE ts_ms < ?1", &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, before_ms);
  int rc = store__step_done(s, st, "pruning persona messages");
  if (!rc && n) *n = sqlite3_changes(s->db);
  return rc;
}

int store_dm_choice_set(store *s, uint64_t user_id, int64_t persona_id, int64_t at_ms) {
  if (!user_id) return err_set(MIMIC_EINVAL, "a DM choice needs a user");
  sqlite3_stmt *st;
  if (persona_id <= 0) {
    if (store_stmt(s, "DELETE FROM persona_dm_choice WHERE user_id = ?1", &st)) return MIMIC_EDB;
    sqlite3_bind_int64(st, 1, (sqlite3_int64)user_id);
    return store__step_done(s, st, "clearing a DM choice");
  }
  if (store_stmt(s,
                 "INSERT OR REPLACE INTO persona_dm_choice(user_id, persona_id, since_ms) "
                 "VALUES (?1, ?2, ?3)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)user_id);
  sqlite3_bind_int64(st, 2, persona_id);
  sqlite3_bind_int64(st, 3, at_ms);
  return store__step_done(s, st, "saving a DM choice");
}

int64_t store_dm_choice_get(store *s, uint64_t user_id) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT persona_id FROM persona_dm_choice WHERE user_id = ?1", &st)) {
    LOG_W("store", "%s", err_msg());
    err_clear();
    return 0;
  }
  sqlite3_bind_int64(st, 1, (sqlite3_int64)user_id);
  int64_t id = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  return id;
}
