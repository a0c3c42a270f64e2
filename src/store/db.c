/* Opening the database, the schema and its migrations, transactions, the statement cache and the
 * small helpers the other store files share. Not here: access to any one table (one file each). */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "store/store_int.h"

/* Migration 1: the initial schema, one statement per string (C caps string literals). */
static const char *const schema_v1[] = {
    "CREATE TABLE guilds("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  updated_ms INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE channels("
    "  id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER REFERENCES guilds(id) ON DELETE SET NULL,"
    "  parent_id INTEGER,"
    "  type INTEGER NOT NULL DEFAULT 0,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  updated_ms INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE users("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL DEFAULT '',"
    "  display_name TEXT NOT NULL DEFAULT '',"
    "  bot INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE messages("
    "  id INTEGER PRIMARY KEY,"
    "  channel_id INTEGER NOT NULL REFERENCES channels(id) ON DELETE CASCADE,"
    "  guild_id INTEGER,"
    "  author_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  webhook_id INTEGER,"
    "  ts_ms INTEGER NOT NULL,"
    "  edited_ms INTEGER NOT NULL DEFAULT 0,"
    "  type INTEGER NOT NULL DEFAULT 0,"
    "  flags INTEGER NOT NULL DEFAULT 0,"
    "  source INTEGER NOT NULL DEFAULT 0,"
    "  content TEXT NOT NULL,"
    "  embeds_text TEXT NOT NULL DEFAULT '',"
    "  ref_message_id INTEGER,"
    "  ref_channel_id INTEGER);",
    "CREATE INDEX messages_channel_ts ON messages(channel_id, ts_ms);",
    "CREATE INDEX messages_author_ts ON messages(author_id, ts_ms);",
    "CREATE INDEX messages_ts ON messages(ts_ms);",
    "CREATE INDEX messages_ref ON messages(ref_message_id) WHERE ref_message_id IS NOT NULL;",
    "CREATE TABLE message_mentions("
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  user_id INTEGER NOT NULL,"
    "  PRIMARY KEY(message_id, user_id)) WITHOUT ROWID;",
    "CREATE INDEX message_mentions_user ON message_mentions(user_id);",
    "CREATE TABLE attachments("
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  id INTEGER,"
    "  filename TEXT NOT NULL DEFAULT '',"
    "  url TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL DEFAULT -1,"
    "  content_type TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY(message_id, idx)) WITHOUT ROWID;",
    "CREATE TABLE reactions("
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  emoji TEXT NOT NULL,"
    "  emoji_id INTEGER,"
    "  emoji_name TEXT NOT NULL DEFAULT '',"
    "  count INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(message_id, emoji)) WITHOUT ROWID;",
    "CREATE TABLE reaction_users("
    "  message_id INTEGER NOT NULL,"
    "  emoji TEXT NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  PRIMARY KEY(message_id, emoji, user_id),"
    "  FOREIGN KEY(message_id, emoji) REFERENCES reactions(message_id, emoji) ON DELETE CASCADE"
    ") WITHOUT ROWID;",
    "CREATE INDEX reaction_users_user ON reaction_users(user_id);",
    "CREATE TABLE settings("
    "  scope TEXT NOT NULL DEFAULT '',"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(scope, key)) WITHOUT ROWID;",
    "CREATE TABLE user_flags("
    "  user_id INTEGER NOT NULL,"
    "  flag INTEGER NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  set_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(user_id, flag)) WITHOUT ROWID;",
    "CREATE TABLE fetch_state("
    "  channel_id INTEGER PRIMARY KEY,"
    "  newest_id INTEGER NOT NULL DEFAULT 0,"
    "  oldest_id INTEGER NOT NULL DEFAULT 0,"
    "  complete INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE datasets("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  path TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL,"
    "  split TEXT NOT NULL,"
    "  n_samples INTEGER NOT NULL DEFAULT 0,"
    "  options TEXT NOT NULL DEFAULT '{}',"
    "  created_ms INTEGER NOT NULL,"
    "  pending_path TEXT);",
    "CREATE TABLE dataset_messages("
    "  dataset_id INTEGER NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,"
    "  sample INTEGER NOT NULL,"
    "  message_id INTEGER NOT NULL,"
    "  role INTEGER NOT NULL,"
    "  PRIMARY KEY(dataset_id, sample, message_id, role)) WITHOUT ROWID;",
    "CREATE INDEX dataset_messages_msg ON dataset_messages(message_id);",
    "CREATE TABLE purge_log("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL,"
    "  requested_ms INTEGER NOT NULL,"
    "  done_ms INTEGER NOT NULL DEFAULT 0,"
    "  messages_deleted INTEGER NOT NULL DEFAULT 0,"
    "  samples_removed INTEGER NOT NULL DEFAULT 0,"
    "  files_rewritten INTEGER NOT NULL DEFAULT 0,"
    "  train_ack INTEGER NOT NULL DEFAULT 0);",
    "CREATE TABLE import_log("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  path TEXT NOT NULL,"
    "  format TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  messages INTEGER NOT NULL,"
    "  inserted INTEGER NOT NULL,"
    "  imported_ms INTEGER NOT NULL);",
    /* Full-text index over content, kept in step by triggers (external content: no second copy). */
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id',"
    "  tokenize='unicode61 remove_diacritics 2');",
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, "
    "old.content);"
    "  END;",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, "
    "old.content);"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;",
    NULL,
};

/* Schema migrations, applied in order, each in its own transaction together with the
 * PRAGMA user_version bump, so a kill mid-migration leaves the previous version intact. Append new
 * migrations at the end; never edit a shipped one. See docs/internals/store.md. */
/* Migration 2: the bot's statistics (bot_log.c): counters per hour and one row per generation. */
static const char *const schema_bot_log[] = {
    "CREATE TABLE bot_counters("
    "  hour_ms INTEGER NOT NULL,"
    "  name TEXT NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY(hour_ms, name)) WITHOUT ROWID;",
    "CREATE TABLE bot_replies("
    "  id INTEGER PRIMARY KEY,"
    "  ts_ms INTEGER NOT NULL,"
    "  channel_id INTEGER NOT NULL,"
    "  message_id INTEGER NOT NULL,"
    "  reason TEXT NOT NULL,"
    "  outcome TEXT NOT NULL,"
    "  latency_ms REAL NOT NULL,"
    "  queue_ms REAL NOT NULL,"
    "  gen_ms REAL NOT NULL,"
    "  prompt_tokens INTEGER NOT NULL,"
    "  cached_tokens INTEGER NOT NULL,"
    "  gen_tokens INTEGER NOT NULL,"
    "  attempts INTEGER NOT NULL,"
    "  error TEXT NOT NULL);",
    "CREATE INDEX bot_replies_ts ON bot_replies(ts_ms);",
    NULL,
};

/* Migration 3: case-insensitive indexes on users' names, so the reply cleaner's "is this a member's
 * name?" lookup (store_user_named) is two index searches, not a scan of every user. */
static const char *const schema_user_names[] = {
    "CREATE INDEX users_display_name ON users(display_name COLLATE NOCASE);",
    "CREATE INDEX users_name ON users(name COLLATE NOCASE);",
    NULL,
};

/* Migration 4: lore and recall (lore.c, vectors.c; docs/internals/store.md "Lore, vectors and
 * full text"). Lore books are sources (a file and a scope, with a content hash) cut into chunks;
 * World Info entries are chunks with keys. `vectors` holds int8 rows with a per-row scale for lore
 * chunks (kind 1) and community messages (kind 2), deleted by triggers in the same transaction as
 * what they index (a message's delete or edit, a chunk's replacement, a person's exclusion or
 * opt-out); every delete leaves a tombstone in vector_log so in-memory matrices catch up without a
 * reload. messages_fts is rebuilt with the tokenizer that keeps emoji and custom-emoji names. */
static const char *const schema_lore[] = {
    "CREATE TABLE lore_sources("
    "  id INTEGER PRIMARY KEY,"
    "  path TEXT NOT NULL,"
    "  scope TEXT NOT NULL DEFAULT '',"
    "  format TEXT NOT NULL,"
    "  hash TEXT NOT NULL,"
    "  bytes INTEGER NOT NULL,"
    "  n_chunks INTEGER NOT NULL DEFAULT 0,"
    "  added_ms INTEGER NOT NULL,"
    "  UNIQUE(path, scope));",
    "CREATE TABLE lore_chunks("
    "  id INTEGER PRIMARY KEY,"
    "  source_id INTEGER NOT NULL REFERENCES lore_sources(id) ON DELETE CASCADE,"
    "  idx INTEGER NOT NULL,"
    "  scope TEXT NOT NULL DEFAULT '',"
    "  title TEXT NOT NULL DEFAULT '',"
    "  text TEXT NOT NULL,"
    "  wi INTEGER NOT NULL DEFAULT 0,"
    "  keys TEXT NOT NULL DEFAULT '',"
    "  keys2 TEXT NOT NULL DEFAULT '',"
    "  logic INTEGER NOT NULL DEFAULT 0,"
    "  constant INTEGER NOT NULL DEFAULT 0,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  ord INTEGER NOT NULL DEFAULT 100,"
    "  depth INTEGER NOT NULL DEFAULT 4);",
    "CREATE INDEX lore_chunks_source ON lore_chunks(source_id, idx);",
    "CREATE INDEX lore_chunks_wi ON lore_chunks(scope) WHERE wi = 1;",
    "CREATE VIRTUAL TABLE lore_fts USING fts5(title, text, content='lore_chunks',"
    "  content_rowid='id',"
    "  tokenize=\"unicode61 remove_diacritics 2 categories 'L* N* Co So' tokenchars '_'\");",
    "CREATE TRIGGER lore_fts_ai AFTER INSERT ON lore_chunks BEGIN"
    "  INSERT INTO lore_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END;",
    "CREATE TRIGGER lore_fts_ad AFTER DELETE ON lore_chunks BEGIN"
    "  INSERT INTO lore_fts(lore_fts, rowid, title, text)"
    "  VALUES ('delete', old.id, old.title, old.text); END;",
    "CREATE TABLE vectors("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind INTEGER NOT NULL,"
    "  ref_id INTEGER NOT NULL,"
    "  scope TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  dim INTEGER NOT NULL,"
    "  scale REAL NOT NULL,"
    "  data BLOB NOT NULL,"
    "  UNIQUE(kind, ref_id));",
    "CREATE INDEX vectors_load ON vectors(kind, model, id);",
    "CREATE TABLE vector_log("
    "  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  kind INTEGER NOT NULL,"
    "  vec_id INTEGER NOT NULL);",
    "CREATE TRIGGER vectors_ad AFTER DELETE ON vectors BEGIN"
    "  INSERT INTO vector_log(kind, vec_id) VALUES (old.kind, old.id); END;",
    "CREATE TRIGGER lore_chunks_vec_ad AFTER DELETE ON lore_chunks BEGIN"
    "  DELETE FROM vectors WHERE kind = 1 AND ref_id = old.id; END;",
    "CREATE TRIGGER messages_vec_ad AFTER DELETE ON messages BEGIN"
    "  DELETE FROM vectors WHERE kind = 2 AND ref_id = old.id; END;",
    "CREATE TABLE embed_cursor("
    "  name TEXT PRIMARY KEY,"
    "  last_id INTEGER NOT NULL DEFAULT 0,"
    "  updated_ms INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID;",
    /* An edit makes the message's vector stale: drop it and send the cursor back to re-embed it. */
    "CREATE TRIGGER messages_vec_au AFTER UPDATE OF content ON messages BEGIN"
    "  DELETE FROM vectors WHERE kind = 2 AND ref_id = old.id;"
    "  UPDATE embed_cursor SET last_id = old.id - 1 WHERE last_id >= old.id; END;",
    "CREATE TRIGGER user_flags_vec_ai AFTER INSERT ON user_flags WHEN new.flag IN (1, 2) BEGIN"
    "  DELETE FROM vectors WHERE kind = 2 AND ref_id IN"
    "  (SELECT id FROM messages WHERE author_id = new.user_id); END;",
    "DROP TRIGGER messages_fts_ai;",
    "DROP TRIGGER messages_fts_ad;",
    "DROP TRIGGER messages_fts_au;",
    "DROP TABLE messages_fts;",
    "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id',"
    "  tokenize=\"unicode61 remove_diacritics 2 categories 'L* N* Co So' tokenchars '_'\");",
    "INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');",
    "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages BEGIN"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;",
    "CREATE TRIGGER messages_fts_ad AFTER DELETE ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, "
    "old.content);"
    "  END;",
    "CREATE TRIGGER messages_fts_au AFTER UPDATE OF content ON messages BEGIN"
    "  INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.id, "
    "old.content);"
    "  INSERT INTO messages_fts(rowid, content) VALUES (new.id, new.content); END;",
    NULL,
};

/* Migration 5: personas (persona.c): one row per character, its names and aliases in one
 * case-insensitive unique index, and settings layered persona -> channel -> guild. Lists are JSON
 * arrays; the card's extensions and character_book are kept as the card's raw JSON. */
static const char *const schema_personas[] = {
    "CREATE TABLE personas("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  aliases TEXT NOT NULL DEFAULT '[]',"
    "  avatar TEXT,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  personality TEXT NOT NULL DEFAULT '',"
    "  scenario TEXT NOT NULL DEFAULT '',"
    "  first_mes TEXT NOT NULL DEFAULT '',"
    "  mes_example TEXT NOT NULL DEFAULT '',"
    "  system_prompt TEXT NOT NULL DEFAULT '',"
    "  post_history_instructions TEXT NOT NULL DEFAULT '',"
    "  alternate_greetings TEXT NOT NULL DEFAULT '[]',"
    "  tags TEXT NOT NULL DEFAULT '[]',"
    "  creator_notes TEXT NOT NULL DEFAULT '',"
    "  creator TEXT NOT NULL DEFAULT '',"
    "  character_version TEXT NOT NULL DEFAULT '',"
    "  extensions TEXT,"
    "  character_book TEXT,"
    "  adapter TEXT,"
    "  adapter_scale REAL NOT NULL DEFAULT 1.0,"
    "  temperature REAL,"
    "  top_p REAL,"
    "  max_tokens INTEGER,"
    "  keywords TEXT NOT NULL DEFAULT '[]',"
    "  regexes TEXT NOT NULL DEFAULT '[]',"
    "  channels TEXT NOT NULL DEFAULT '[]',"
    "  lore_scope TEXT,"
    "  freewill REAL NOT NULL DEFAULT 0,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);",
    "CREATE TABLE persona_names("
    "  name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,"
    "  persona_id INTEGER NOT NULL REFERENCES personas(id) ON DELETE CASCADE,"
    "  alias INTEGER NOT NULL);",
    "CREATE INDEX persona_names_persona ON persona_names(persona_id);",
    "CREATE TABLE layered_settings("
    "  kind INTEGER NOT NULL CHECK(kind IN (1, 2, 3)),"
    "  scope_id INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(kind, scope_id, key)) WITHOUT ROWID;",
    NULL,
};

/* Migration 6: speaking as personas (webhooks.c): the persona webhooks mimic holds
 * per channel (tokens are secrets), which persona posted which message, and whom each person
 * talks to in DMs. */
static const char *const schema_persona_live[] = {
    "CREATE TABLE persona_webhooks("
    "  channel_id INTEGER NOT NULL,"
    "  key TEXT NOT NULL,"
    "  webhook_id INTEGER NOT NULL,"
    "  token TEXT NOT NULL,"
    "  uses INTEGER NOT NULL DEFAULT 0,"
    "  last_used_ms INTEGER NOT NULL DEFAULT 0,"
    "  PRIMARY KEY(channel_id, key)) WITHOUT ROWID;",
    "CREATE INDEX persona_webhooks_id ON persona_webhooks(webhook_id);",
    "CREATE TABLE persona_messages("
    "  message_id INTEGER PRIMARY KEY,"
    "  channel_id INTEGER NOT NULL,"
    "  persona_id INTEGER NOT NULL,"
    "  webhook_id INTEGER NOT NULL,"
    "  ts_ms INTEGER NOT NULL);",
    "CREATE INDEX persona_messages_ts ON persona_messages(ts_ms);",
    "CREATE TABLE persona_dm_choice("
    "  user_id INTEGER PRIMARY KEY,"
    "  persona_id INTEGER NOT NULL,"
    "  since_ms INTEGER NOT NULL);",
    NULL,
};

/* Migration 7: what the bot saw in images (media.c): one description per attachment, cached so an
 * image is described once, kept with its message for the media sweep. */
static const char *const schema_media[] = {
    "CREATE TABLE media("
    "  attachment_id INTEGER PRIMARY KEY,"
    "  message_id INTEGER NOT NULL,"
    "  url TEXT NOT NULL,"
    "  description TEXT NOT NULL,"
    "  model TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL);",
    "CREATE INDEX media_message ON media(message_id);",
    NULL,
};

/* Migration 8: long jobs' progress rows (jobs.c), one truth for the dashboard, !status
 * and the terminal's bars. */
static const char *const schema_jobs[] = {
    "CREATE TABLE jobs("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  state INTEGER NOT NULL,"
    "  pid INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL,"
    "  finished_ms INTEGER NOT NULL,"
    "  done INTEGER NOT NULL,"
    "  total INTEGER NOT NULL,"
    "  loss REAL,"
    "  message TEXT NOT NULL,"
    "  log_path TEXT NOT NULL);",
    NULL,
};

/* Migration 9: the scheduler's jobs and runs (schedule.c). A run's primary key is (job, instant),
 * which is what makes a claim exclusive across processes. */
static const char *const schema_schedule[] = {
    "CREATE TABLE sched_jobs("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE COLLATE NOCASE,"
    "  kind TEXT NOT NULL,"
    "  guild_id INTEGER NOT NULL DEFAULT 0,"
    "  channel_id INTEGER NOT NULL DEFAULT 0,"
    "  expr TEXT NOT NULL,"
    "  tz TEXT NOT NULL DEFAULT 'UTC',"
    "  missed_once INTEGER NOT NULL DEFAULT 0,"
    "  jitter_s INTEGER NOT NULL DEFAULT 0,"
    "  enabled INTEGER NOT NULL DEFAULT 1,"
    "  params TEXT NOT NULL DEFAULT '{}',"
    "  next_ms INTEGER NOT NULL DEFAULT 0,"
    "  last_ms INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL);",
    "CREATE INDEX sched_jobs_next ON sched_jobs(enabled, next_ms);",
    "CREATE TABLE sched_runs("
    "  job_id INTEGER NOT NULL REFERENCES sched_jobs(id) ON DELETE CASCADE,"
    "  scheduled_ms INTEGER NOT NULL,"
    "  claimed_ms INTEGER NOT NULL,"
    "  claimed_by TEXT NOT NULL,"
    "  finished_ms INTEGER,"
    "  status TEXT NOT NULL,"
    "  detail TEXT,"
    "  PRIMARY KEY(job_id, scheduled_ms)) WITHOUT ROWID;",
    NULL,
};

/* Migration 10: image descriptions leave with their message, whatever deletes it (a Discord
 * delete, a user's purge, a retention sweep), so what a person showed goes when they do. Rows
 * left behind by purges before this migration go now. */
static const char *const schema_media_purge[] = {
    "CREATE TRIGGER media_message_gone AFTER DELETE ON messages BEGIN"
    "  DELETE FROM media WHERE message_id = old.id; END;",
    "DELETE FROM media WHERE message_id NOT IN (SELECT id FROM messages);",
    NULL,
};

/* Migration 11: scenes (scenario.c): one per channel, its premise, its cast in speaking order,
 * whose turn it is and how many lines were spoken, so a scene survives a restart. */
static const char *const schema_scenes[] = {
    "CREATE TABLE scenes("
    "  channel_id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER NOT NULL,"
    "  premise TEXT NOT NULL,"
    "  cast_ids TEXT NOT NULL,"
    "  next_idx INTEGER NOT NULL DEFAULT 0,"
    "  lines INTEGER NOT NULL DEFAULT 0,"
    "  started_by INTEGER NOT NULL,"
    "  start_message_id INTEGER NOT NULL,"
    "  started_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);",
    NULL,
};

/* Migration 12: mini-games and points (store/games.c, store/points.c). The ledger's partial unique
 * index (round_key, user_id) makes a game's award idempotent; games_live keeps one running game
 * per channel; game_plays holds each member's one scored answer or current vote per round. */
static const char *const schema_games[] = {
    "CREATE TABLE points_ledger("
    "  id INTEGER PRIMARY KEY,"
    "  guild_id INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  delta INTEGER NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '',"
    "  game TEXT NOT NULL DEFAULT '',"
    "  round_key TEXT,"
    "  by_user INTEGER NOT NULL DEFAULT 0,"
    "  ts_ms INTEGER NOT NULL);",
    "CREATE UNIQUE INDEX points_round ON points_ledger(round_key, user_id) "
    "WHERE round_key IS NOT NULL;",
    "CREATE INDEX points_guild ON points_ledger(guild_id, ts_ms);",
    "CREATE INDEX points_user ON points_ledger(user_id, guild_id);",
    "CREATE TABLE games("
    "  id INTEGER PRIMARY KEY,"
    "  kind TEXT NOT NULL,"
    "  guild_id INTEGER NOT NULL,"
    "  channel_id INTEGER NOT NULL,"
    "  started_by INTEGER NOT NULL DEFAULT 0,"
    "  persona_id INTEGER NOT NULL DEFAULT 0,"
    "  topic TEXT NOT NULL DEFAULT '',"
    "  round INTEGER NOT NULL DEFAULT 0,"
    "  rounds INTEGER NOT NULL DEFAULT 1,"
    "  phase INTEGER NOT NULL DEFAULT 0,"
    "  question TEXT NOT NULL DEFAULT '',"
    "  answer TEXT NOT NULL DEFAULT '',"
    "  aliases TEXT NOT NULL DEFAULT '',"
    "  hint TEXT NOT NULL DEFAULT '',"
    "  source TEXT NOT NULL DEFAULT '',"
    "  hints INTEGER NOT NULL DEFAULT 0,"
    "  deadline_ms INTEGER NOT NULL DEFAULT 0,"
    "  state TEXT NOT NULL DEFAULT '{}',"
    "  message_id INTEGER NOT NULL DEFAULT 0,"
    "  status INTEGER NOT NULL DEFAULT 0,"
    "  winner_id INTEGER NOT NULL DEFAULT 0,"
    "  created_ms INTEGER NOT NULL,"
    "  updated_ms INTEGER NOT NULL);",
    "CREATE UNIQUE INDEX games_live ON games(channel_id) WHERE status = 0;",
    "CREATE INDEX games_due ON games(status, phase, deadline_ms);",
    "CREATE TABLE game_plays("
    "  game_id INTEGER NOT NULL REFERENCES games(id) ON DELETE CASCADE,"
    "  round INTEGER NOT NULL,"
    "  user_id INTEGER NOT NULL,"
    "  choice INTEGER NOT NULL DEFAULT -1,"
    "  correct INTEGER NOT NULL DEFAULT 0,"
    "  ts_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(game_id, round, user_id)) WITHOUT ROWID;",
    NULL,
};

/* Migration 13: running counts for story votes, so a vote click costs the same with 10 or 20,000
 * votes cast: game_tally (votes per choice of a round), game_players (who took part, in order)
 * and game_player_count, all kept by triggers on game_plays (an insert, a changed vote, a delete)
 * and filled from the plays already there. */
static const char *const schema_game_counts[] = {
    "CREATE TABLE game_tally("
    "  game_id INTEGER NOT NULL REFERENCES games(id) ON DELETE CASCADE,"
    "  round INTEGER NOT NULL,"
    "  choice INTEGER NOT NULL,"
    "  n INTEGER NOT NULL,"
    "  PRIMARY KEY(game_id, round, choice)) WITHOUT ROWID;",
    "CREATE TABLE game_players("
    "  game_id INTEGER NOT NULL REFERENCES games(id) ON DELETE CASCADE,"
    "  user_id INTEGER NOT NULL,"
    "  first_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(game_id, user_id)) WITHOUT ROWID;",
    "CREATE INDEX game_players_first ON game_players(game_id, first_ms, user_id);",
    "CREATE TABLE game_player_count("
    "  game_id INTEGER PRIMARY KEY REFERENCES games(id) ON DELETE CASCADE,"
    "  n INTEGER NOT NULL);",
    "INSERT INTO game_tally(game_id, round, choice, n) SELECT game_id, round, choice, COUNT(*) "
    "FROM game_plays WHERE choice >= 0 GROUP BY game_id, round, choice;",
    "INSERT INTO game_players(game_id, user_id, first_ms) SELECT game_id, user_id, MIN(ts_ms) "
    "FROM game_plays GROUP BY game_id, user_id;",
    "INSERT INTO game_player_count(game_id, n) SELECT game_id, COUNT(*) FROM game_players GROUP "
    "BY game_id;",
    "CREATE TRIGGER game_plays_ai AFTER INSERT ON game_plays BEGIN"
    "  INSERT INTO game_tally(game_id, round, choice, n) SELECT NEW.game_id, NEW.round, "
    "NEW.choice, 1 WHERE NEW.choice >= 0 ON CONFLICT(game_id, round, choice) DO UPDATE SET n = n "
    "+ 1;"
    "  INSERT OR IGNORE INTO game_players(game_id, user_id, first_ms) VALUES (NEW.game_id, "
    "NEW.user_id, NEW.ts_ms);"
    " END;",
    "CREATE TRIGGER game_plays_au AFTER UPDATE OF choice ON game_plays WHEN OLD.choice <> "
    "NEW.choice BEGIN"
    "  UPDATE game_tally SET n = n - 1 WHERE game_id = OLD.game_id AND round = OLD.round AND "
    "choice = OLD.choice;"
    "  INSERT INTO game_tally(game_id, round, choice, n) SELECT NEW.game_id, NEW.round, "
    "NEW.choice, 1 WHERE NEW.choice >= 0 ON CONFLICT(game_id, round, choice) DO UPDATE SET n = n "
    "+ 1;"
    " END;",
    "CREATE TRIGGER game_plays_ad AFTER DELETE ON game_plays BEGIN"
    "  UPDATE game_tally SET n = n - 1 WHERE game_id = OLD.game_id AND round = OLD.round AND "
    "choice = OLD.choice;"
    " END;",
    "CREATE TRIGGER game_players_ai AFTER INSERT ON game_players BEGIN"
    "  INSERT INTO game_player_count(game_id, n) VALUES (NEW.game_id, 1) ON CONFLICT(game_id) DO "
    "UPDATE SET n = n + 1;"
    " END;",
    NULL,
};

// clang-format off
static const char *const *const migrations[] = {
    schema_v1,       schema_bot_log,      schema_user_names, schema_lore,
    schema_personas, schema_persona_live, schema_media,      schema_jobs,
    schema_schedule, schema_media_purge,  schema_scenes,     schema_games,
    schema_game_counts,
};
// clang-format on

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int store_schema_version(void) { return N_MIGRATIONS; }

int store_err(store *s, const char *what) {
  int rc = sqlite3_errcode(s->db);
  if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED)
    return err_set(MIMIC_EBUSY,
                   "%s: %s: the database stayed locked for %d ms (another mimic "
                   "process is writing)",
                   s->path, what, STORE_BUSY_MS);
  return err_set(MIMIC_EDB, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

int store_exec(store *s, const char *sql) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    int rc = store_err(s, "exec");
    sqlite3_free(msg);
    return rc;
  }
  return 0;
}

int store_stmt(store *s, const char *sql, sqlite3_stmt **out) {
  for (int i = 0; i < s->n_cached; i++) {
    if (strcmp(s->cache[i].sql, sql) == 0) {
      sqlite3_reset(s->cache[i].stmt);
      sqlite3_clear_bindings(s->cache[i].stmt);
      *out = s->cache[i].stmt;
      return 0;
    }
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
    return store_err(s, "prepare");
  if (s->n_cached == STORE_STMT_CACHE) {
    /* Full: evict the oldest statement that is not in the middle of stepping. */
    int victim = -1;
    for (int i = 0; i < s->n_cached && victim < 0; i++)
      if (!sqlite3_stmt_busy(s->cache[i].stmt)) victim = i;
    if (victim < 0) {
      sqlite3_finalize(st);
      return err_set(MIMIC_EDB, "%s: statement cache full of running statements", s->path);
    }
    sqlite3_finalize(s->cache[victim].stmt);
    mem_free(s->cache[victim].sql);
    memmove(&s->cache[victim], &s->cache[victim + 1],
            (size_t)(s->n_cached - victim - 1) * sizeof s->cache[0]);
    s->n_cached--;
  }
  s->cache[s->n_cached].sql = xstrdup(sql);
  s->cache[s->n_cached].stmt = st;
  s->n_cached++;
  *out = st;
  return 0;
}

int store_db_version(store *s) {
  sqlite3_stmt *st;
  if (store_stmt(s, "PRAGMA user_version", &st)) return -1;
  int v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  return v;
}

static int migrate(store *s) {
  int have = store_db_version(s);
  if (have < 0) return store_err(s, "reading the schema version");
  if (have > N_MIGRATIONS)
    return err_set(MIMIC_EDB,
                   "%s: the database is at schema version %d, newer than this mimic "
                   "understands (%d); upgrade mimic or use another database",
                   s->path, have, N_MIGRATIONS);
  for (int v = have; v < N_MIGRATIONS; v++) {
    if (store_tx_begin(s)) return err_prefix(MIMIC_EDB, "migrating to version %d", v + 1);
    char bump[64];
    snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
    int bad = 0;
    for (const char *const *sql = migrations[v]; *sql && !bad; sql++) bad = store_exec(s, *sql);
    if (bad || store_exec(s, bump)) {
      int rc = err_prefix(MIMIC_EDB, "migrating to schema version %d", v + 1);
      store_tx_rollback(s);
      return rc;
    }
    if (store_tx_commit(s)) return err_prefix(MIMIC_EDB, "migrating to version %d", v + 1);
    LOG_D("store", "%s: schema migrated to version %d", s->path, v + 1);
  }
  return 0;
}

int store_open(const char *path, store **out) {
  *out = NULL;
  store *s = xcalloc(1, sizeof *s);
  s->path = xstrdup(path);
  int rc = 0;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
    rc = err_set(MIMIC_EDB, "%s: cannot open the database: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
    goto out;
  }
  sqlite3_extended_result_codes(s->db, 0);
  sqlite3_busy_timeout(s->db, STORE_BUSY_MS);
  /* journal_mode=WAL reads the file header first, so a file that is not a database fails here. */
  char pragmas[256];
  snprintf(pragmas, sizeof pragmas,
           "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
           "PRAGMA temp_store=MEMORY; PRAGMA journal_size_limit=%d;",
           STORE_WAL_LIMIT);
  if ((rc = store_exec(s, pragmas))) {
    rc = err_set(MIMIC_EDB, "%s: cannot use the database: %s", path, sqlite3_errmsg(s->db));
    goto out;
  }
  if ((rc = migrate(s))) goto out;
out:
  if (rc) {
    store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

void store_close(store *s) {
  if (!s) return;
  if (s->depth > 0) {
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    s->depth = 0;
  }
  for (int i = 0; i < s->n_cached; i++) {
    sqlite3_finalize(s->cache[i].stmt);
    mem_free(s->cache[i].sql);
  }
  if (s->db) sqlite3_close(s->db);
  mem_free(s->path);
  mem_free(s);
}

struct sqlite3 *store_db(store *s) {
  return s->db;
}
const char *store_path(const store *s) { return s->path; }
int store_tx_depth(const store *s) { return s->depth; }

/* Runs one transaction-control statement through the statement cache (they run for every upsert,
 * so parsing them each time would show in import speed). */
static int tx_exec(store *s, const char *sql) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return MIMIC_EDB;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : MIMIC_EDB;
}

int store_tx_begin(store *s) {
  char sql[48];
  if (s->depth == 0)
    str_lcpy(sql, "BEGIN IMMEDIATE", sizeof sql);
  else
    snprintf(sql, sizeof sql, "SAVEPOINT sp%d", s->depth);
  if (tx_exec(s, sql)) return store_err(s, "begin");
  s->depth++;
  return 0;
}

int store_tx_commit(store *s) {
  if (s->depth <= 0) return err_set(MIMIC_EINVAL, "store: commit without a transaction");
  char sql[48];
  if (s->depth == 1)
    str_lcpy(sql, "COMMIT", sizeof sql);
  else
    snprintf(sql, sizeof sql, "RELEASE sp%d", s->depth - 1);
  if (tx_exec(s, sql)) {
    int rc = store_err(s, "commit");
    store_tx_rollback(s);
    return rc;
  }
  s->depth--;
  return 0;
}

void store_tx_rollback(store *s) {
  if (s->depth <= 0) return;
  /* Statements still stepping would make ROLLBACK fail; reset the cached ones first. */
  for (int i = 0; i < s->n_cached; i++) sqlite3_reset(s->cache[i].stmt);
  char sql[48];
  int bad;
  if (s->depth == 1) {
    bad = tx_exec(s, "ROLLBACK");
  } else {
    snprintf(sql, sizeof sql, "ROLLBACK TO sp%d", s->depth - 1);
    bad = tx_exec(s, sql);
    snprintf(sql, sizeof sql, "RELEASE sp%d", s->depth - 1);
    bad |= tx_exec(s, sql);
  }
  if (bad) LOG_W("store", "%s: rollback failed: %s", s->path, sqlite3_errmsg(s->db));
  s->depth--;
}

/* ---- shared helpers ----------------------------------------------------------------------------
 */

void store__bind_id(sqlite3_stmt *st, int i, uint64_t id, int null_zero) {
  if (id == 0 && null_zero)
    sqlite3_bind_null(st, i);
  else
    sqlite3_bind_int64(st, i, (sqlite3_int64)id);
}

void store__bind_text(sqlite3_stmt *st, int i, const char *s) {
  sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_STATIC);
}

uint64_t store__col_id(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? 0 : (uint64_t)sqlite3_column_int64(st, i);
}

const char *store__col_text(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? (const char *)t : "";
}

void store__col_copy(sqlite3_stmt *st, int i, char *out, size_t cap) {
  const char *t = store__col_text(st, i);
  size_t n = strlen(t);
  if (n >= cap) n = utf8_floor(t, n, cap - 1);
  memcpy(out, t, n);
  out[n] = 0;
}

int store__step_done(store *s, sqlite3_stmt *st, const char *what) {
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return store_err(s, what);
  return 0;
}
