/* Guilds, channels and users: the named things messages point at. Upserts never erase a known
 * name with an empty one, because many sources (data packages, stub rows) know only the id. */
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

int store_guild_upsert(store *s, const store_guild *g) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO guilds(id, name, updated_ms) VALUES (?1, ?2, ?3) "
                 "ON CONFLICT(id) DO UPDATE SET "
                 "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END, "
                 "updated_ms = excluded.updated_ms",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, g->id, 0);
  store__bind_text(st, 2, g->name);
  sqlite3_bind_int64(st, 3, clock_wall_ms());
  return store__step_done(s, st, "saving a guild");
}

int store_channel_upsert(store *s, const store_channel *c) {
  int rc = store_tx_begin(s);
  if (rc) return rc;
  if (c->guild_id) {
    sqlite3_stmt *g;
    if ((rc = store_stmt(s, "INSERT OR IGNORE INTO guilds(id) VALUES (?1)", &g))) goto out;
    store__bind_id(g, 1, c->guild_id, 0);
    if ((rc = store__step_done(s, g, "saving a guild"))) goto out;
  }
  sqlite3_stmt *st;
  if ((rc = store_stmt(s,
                       "INSERT INTO channels(id, guild_id, parent_id, type, name, updated_ms) "
                       "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT(id) DO UPDATE SET "
                       "guild_id = coalesce(excluded.guild_id, guild_id), "
                       "parent_id = coalesce(excluded.parent_id, parent_id), "
                       "type = excluded.type, "
                       "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END, "
                       "updated_ms = excluded.updated_ms",
                       &st)))
    goto out;
  store__bind_id(st, 1, c->id, 0);
  store__bind_id(st, 2, c->guild_id, 1);
  store__bind_id(st, 3, c->parent_id, 1);
  sqlite3_bind_int(st, 4, c->type);
  store__bind_text(st, 5, c->name);
  sqlite3_bind_int64(st, 6, clock_wall_ms());
  rc = store__step_done(s, st, "saving a channel");
out:
  if (rc) {
    store_tx_rollback(s);
    return rc;
  }
  return store_tx_commit(s);
}

int store_user_upsert(store *s, const store_user *u) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO users(id, name, display_name, bot, updated_ms) "
                 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT(id) DO UPDATE SET "
                 "name = CASE WHEN excluded.name <> '' THEN excluded.name ELSE name END, "
                 "display_name = CASE WHEN excluded.display_name <> '' "
                 "  THEN excluded.display_name ELSE display_name END, "
                 "bot = excluded.bot, updated_ms = excluded.updated_ms",
                 &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, u->id, 0);
  store__bind_text(st, 2, u->name);
  store__bind_text(st, 3, u->display_name);
  sqlite3_bind_int(st, 4, u->bot ? 1 : 0);
  sqlite3_bind_int64(st, 5, clock_wall_ms());
  return store__step_done(s, st, "saving a user");
}

int store_channel_get(store *s, uint64_t id, store_channel *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT guild_id, parent_id, type, name FROM channels WHERE id = ?1", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, id, 0);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    out->id = id;
    out->guild_id = store__col_id(st, 0);
    out->parent_id = store__col_id(st, 1);
    out->type = sqlite3_column_int(st, 2);
    store__col_copy(st, 3, out->name, sizeof out->name);
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading a channel");
}

int store_user_get(store *s, uint64_t id, store_user *out) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT name, display_name, bot FROM users WHERE id = ?1", &st))
    return MIMIC_EDB;
  store__bind_id(st, 1, id, 0);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    memset(out, 0, sizeof *out);
    out->id = id;
    store__col_copy(st, 0, out->name, sizeof out->name);
    store__col_copy(st, 1, out->display_name, sizeof out->display_name);
    out->bot = sqlite3_column_int(st, 2) != 0;
    sqlite3_reset(st);
    return 0;
  }
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? MIMIC_ENOTFOUND : store_err(s, "reading a user");
}

int store_user_named(store *s, const char *name, bool *found) {
  *found = false;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT 1 FROM users WHERE display_name = ?1 COLLATE NOCASE "
                 "OR name = ?1 COLLATE NOCASE LIMIT 1",
                 &st))
    return MIMIC_EDB;
  store__bind_text(st, 1, name);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) *found = true;
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_err(s, "looking up a user by name");
}

const char *store_user_shown(const store_user *u) {
  if (u->display_name[0]) return u->display_name;
  if (u->name[0]) return u->name;
  return "unknown-user";
}
