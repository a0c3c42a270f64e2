/* Mini-game rows (store/games.h). The unique partial index games_live (channel_id WHERE running)
 * keeps one running game per channel; store_game_win closes a round and writes its award in one
 * transaction. */
#include "store/games.h"

#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "store/points.h"
#include "store/store_int.h"

static int check_text(const char *what, const char *v, size_t cap, bool need) {
  size_t n = strlen(v);
  if (need && n == 0) return err_set(MIMIC_EINVAL, "game: the %s is empty", what);
  if (n >= cap)
    return err_set(MIMIC_EINVAL, "game: the %s is longer than %zu bytes", what, cap - 1);
  if (!utf8_valid(v, n)) return err_set(MIMIC_EINVAL, "game: the %s is not valid UTF-8", what);
  return 0;
}

static int check_game(const store_game *g) {
  int rc = check_text("kind", g->kind, sizeof g->kind, true);
  if (!rc) rc = check_text("topic", g->topic, sizeof g->topic, false);
  if (!rc) rc = check_text("question", g->question, sizeof g->question, false);
  if (!rc) rc = check_text("answer", g->answer, sizeof g->answer, false);
  if (!rc) rc = check_text("aliases", g->aliases, sizeof g->aliases, false);
  if (!rc) rc = check_text("hint", g->hint, sizeof g->hint, false);
  if (!rc) rc = check_text("source", g->source, sizeof g->source, false);
  if (!rc) rc = check_text("state", g->state, sizeof g->state, false);
  if (!rc && !g->channel_id) rc = err_set(MIMIC_EINVAL, "game: no channel given");
  return rc;
}

#define COLS                                                                                       \
  "id, kind, guild_id, channel_id, started_by, persona_id, topic, round, rounds, phase, "          \
  "question, answer, aliases, hint, source, hints, deadline_ms, state, message_id, status, "       \
  "winner_id, created_ms, updated_ms"

static void read_row(sqlite3_stmt *st, store_game *g) {
  memset(g, 0, sizeof *g);
  g->id = sqlite3_column_int64(st, 0);
  store__col_copy(st, 1, g->kind, sizeof g->kind);
  g->guild_id = store__col_id(st, 2);
  g->channel_id = store__col_id(st, 3);
  g->started_by = store__col_id(st, 4);
  g->persona_id = sqlite3_column_int64(st, 5);
  store__col_copy(st, 6, g->topic, sizeof g->topic);
  g->round = sqlite3_column_int(st, 7);
  g->rounds = sqlite3_column_int(st, 8);
  g->phase = (store_game_phase)sqlite3_column_int(st, 9);
  store__col_copy(st, 10, g->question, sizeof g->question);
  store__col_copy(st, 11, g->answer, sizeof g->answer);
  store__col_copy(st, 12, g->aliases, sizeof g->aliases);
  store__col_copy(st, 13, g->hint, sizeof g->hint);
  store__col_copy(st, 14, g->source, sizeof g->source);
  g->hints = sqlite3_column_int(st, 15);
  g->deadline_ms = sqlite3_column_int64(st, 16);
  store__col_copy(st, 17, g->state, sizeof g->state);
  g->message_id = store__col_id(st, 18);
  g->finished = sqlite3_column_int(st, 19) != 0;
  g->winner_id = store__col_id(st, 20);
  g->created_ms = sqlite3_column_int64(st, 21);
  g->updated_ms = sqlite3_column_int64(st, 22);
}

/* Binds the mutable fields as ?1..?17 (started_by .. updated_ms). */
static void bind_mutable(sqlite3_stmt *st, const store_game *g) {
  store__bind_id(st, 1, g->started_by, 0);
  sqlite3_bind_int64(st, 2, g->persona_id);
  store__bind_text(st, 3, g->topic);
  sqlite3_bind_int(st, 4, g->round);
  sqlite3_bind_int(st, 5, g->rounds);
  sqlite3_bind_int(st, 6, (int)g->phase);
  store__bind_text(st, 7, g->question);
  store__bind_text(st, 8, g->answer);
  store__bind_text(st, 9, g->aliases);
  store__bind_text(st, 10, g->hint);
  store__bind_text(st, 11, g->source);
  sqlite3_bind_int(st, 12, g->hints);
  sqlite3_bind_int64(st, 13, g->deadline_ms);
  store__bind_text(st, 14, g->state[0] ? g->state : "{}");
  store__bind_id(st, 15, g->message_id, 0);
  sqlite3_bind_int(st, 16, g->finished ? 1 : 0);
  store__bind_id(st, 17, g->winner_id, 0);
}

int store_game_start(store *s, store_game *g) {
  int rc = check_game(g);
  if (rc) return rc;
  store_game old;
  if (store_game_running(s, g->channel_id, &old) == 0)
    return err_set(MIMIC_EBUSY, "a %s game is already running in this channel", old.kind);
  err_clear();
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO games(started_by, persona_id, topic, round, rounds, phase, question, "
                 "answer, aliases, hint, source, hints, deadline_ms, state, message_id, status, "
                 "winner_id, kind, guild_id, channel_id, created_ms, updated_ms) VALUES (?1, ?2, "
                 "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, "
                 "?20, ?21, ?21)",
                 &st))
    return MIMIC_EDB;
  bind_mutable(st, g);
  store__bind_text(st, 18, g->kind);
  store__bind_id(st, 19, g->guild_id, 0);
  store__bind_id(st, 20, g->channel_id, 0);
  sqlite3_bind_int64(st, 21, g->created_ms);
  rc = store__step_done(s, st, "starting a game");
  if (!rc) {
    g->id = sqlite3_last_insert_rowid(store_db(s));
    g->updated_ms = g->created_ms;
  }
  return rc;
}

int store_game_update(store *s, const store_game *g) {
  int rc = check_game(g);
  if (rc) return rc;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE games SET started_by = ?1, persona_id = ?2, topic = ?3, round = ?4, "
                 "rounds = ?5, phase = ?6, question = ?7, answer = ?8, aliases = ?9, hint = ?10, "
                 "source = ?11, hints = ?12, deadline_ms = ?13, state = ?14, message_id = ?15, "
                 "status = ?16, winner_id = ?17, updated_ms = ?18 WHERE id = ?19",
                 &st))
    return MIMIC_EDB;
  bind_mutable(st, g);
  sqlite3_bind_int64(st, 18, g->updated_ms);
  sqlite3_bind_int64(st, 19, g->id);
  rc = store__step_done(s, st, "saving a game");
  if (!rc && sqlite3_changes(store_db(s)) == 0)
    return err_set(MIMIC_ENOTFOUND, "game %lld is gone", (long long)g->id);
  return rc;
}

static int get_one(store *s, const char *sql, int64_t key, store_game *out, const char *what) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, key);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) read_row(st, out);
  sqlite3_reset(st);
  if (r == SQLITE_ROW) return 0;
  if (r == SQLITE_DONE) return err_set(MIMIC_ENOTFOUND, "no %s", what);
  return store_err(s, what);
}

int store_game_running(store *s, uint64_t channel_id, store_game *out) {
  return get_one(s, "SELECT " COLS " FROM games WHERE channel_id = ?1 AND status = 0",
                 (int64_t)channel_id, out, "game is running in this channel");
}

int store_game_get(store *s, int64_t id, store_game *out) {
  return get_one(s, "SELECT " COLS " FROM games WHERE id = ?1", id, out, "such game");
}

int store_game_list(store *s, int64_t due_ms, int64_t *ids, size_t cap, size_t *n) {
  *n = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT id FROM games WHERE status = 0 AND (?1 = 0 OR (phase = 1 AND "
                 "deadline_ms > 0 AND deadline_ms <= ?1)) ORDER BY id LIMIT ?2",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, due_ms);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW && *n < cap)
    ids[(*n)++] = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : store_err(s, "listing games");
}

int store_game_answer(store *s, int64_t game_id, int round, uint64_t user_id, bool correct,
                      int64_t now, bool *first) {
  *first = false;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT OR IGNORE INTO game_plays(game_id, round, user_id, choice, correct, "
                 "ts_ms) VALUES (?1, ?2, ?3, -1, ?4, ?5)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, game_id);
  sqlite3_bind_int(st, 2, round);
  store__bind_id(st, 3, user_id, 0);
  sqlite3_bind_int(st, 4, correct);
  sqlite3_bind_int64(st, 5, now);
  int rc = store__step_done(s, st, "recording an answer");
  if (!rc) *first = sqlite3_changes(store_db(s)) > 0;
  return rc;
}

int store_game_vote(store *s, int64_t game_id, int round, uint64_t user_id, int choice,
                    int64_t now) {
  if (choice < 0) return err_set(MIMIC_EINVAL, "game: a vote needs a choice");
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "INSERT INTO game_plays(game_id, round, user_id, choice, correct, ts_ms) VALUES "
                 "(?1, ?2, ?3, ?4, 0, ?5) ON CONFLICT(game_id, round, user_id) DO UPDATE SET "
                 "choice = excluded.choice, ts_ms = excluded.ts_ms",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, game_id);
  sqlite3_bind_int(st, 2, round);
  store__bind_id(st, 3, user_id, 0);
  sqlite3_bind_int(st, 4, choice);
  sqlite3_bind_int64(st, 5, now);
  return store__step_done(s, st, "recording a vote");
}

int store_game_tally(store *s, int64_t game_id, int round, int *counts, int cap, int *voters) {
  memset(counts, 0, (size_t)cap * sizeof *counts);
  *voters = 0;
  sqlite3_stmt *st;
  /* the running counts (migration 13): as many rows as choices, whatever the votes */
  if (store_stmt(s, "SELECT choice, n FROM game_tally WHERE game_id = ?1 AND round = ?2 AND n > 0",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, game_id);
  sqlite3_bind_int(st, 2, round);
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    int c = sqlite3_column_int(st, 0), k = sqlite3_column_int(st, 1);
    if (c >= 0 && c < cap) counts[c] += k;
    *voters += k;
  }
  sqlite3_reset(st);
  return r == SQLITE_DONE ? 0 : store_err(s, "counting votes");
}

int store_game_players(store *s, int64_t game_id, uint64_t *ids, size_t cap, size_t *n) {
  *n = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT user_id FROM game_players WHERE game_id = ?1 ORDER BY first_ms, user_id "
                 "LIMIT ?2",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, game_id);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)cap);
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW && *n < cap) ids[(*n)++] = store__col_id(st, 0);
  sqlite3_reset(st);
  return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : store_err(s, "listing players");
}

int store_game_counts(store *s, int64_t game_id, int round, int64_t *voters, int64_t *players) {
  *voters = *players = 0;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT (SELECT COALESCE(SUM(n), 0) FROM game_tally WHERE game_id = ?1 AND round "
                 "= ?2), (SELECT COALESCE(MAX(n), 0) FROM game_player_count WHERE game_id = ?1)",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, game_id);
  sqlite3_bind_int(st, 2, round);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) {
    *voters = sqlite3_column_int64(st, 0);
    *players = sqlite3_column_int64(st, 1);
  }
  sqlite3_reset(st);
  return r == SQLITE_ROW ? 0 : store_err(s, "counting players");
}

int store_game_voted(store *s, int64_t game_id, int round, uint64_t user_id, bool *voted) {
  *voted = false;
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT 1 FROM game_plays WHERE game_id = ?1 AND round = ?2 AND user_id = ?3 "
                 "AND choice >= 0",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, game_id);
  sqlite3_bind_int(st, 2, round);
  store__bind_id(st, 3, user_id, 0);
  int r = sqlite3_step(st);
  sqlite3_reset(st);
  if (r == SQLITE_ROW) *voted = true;
  return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : store_err(s, "reading a vote");
}

int store_game_win(store *s, int64_t game_id, int round, uint64_t user_id, int64_t points,
                   const char *reason, int64_t now, bool *won) {
  *won = false;
  store_game g;
  int rc = store_tx_begin(s);
  if (rc) return rc;
  if ((rc = store_game_get(s, game_id, &g))) goto fail;
  if (g.finished || g.round != round || g.phase != STORE_GAME_OPEN || g.winner_id) {
    store_tx_rollback(s);
    return 0;
  }
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "UPDATE games SET phase = 2, winner_id = ?1, updated_ms = ?2 WHERE id = ?3 AND "
                 "round = ?4 AND phase = 1 AND winner_id = 0 AND status = 0",
                 &st)) {
    rc = MIMIC_EDB;
    goto fail;
  }
  store__bind_id(st, 1, user_id, 0);
  sqlite3_bind_int64(st, 2, now);
  sqlite3_bind_int64(st, 3, game_id);
  sqlite3_bind_int(st, 4, round);
  if ((rc = store__step_done(s, st, "closing a round"))) goto fail;
  if (sqlite3_changes(store_db(s)) == 0) {
    store_tx_rollback(s);
    return 0;
  }
  if (points > 0) {
    char key[STORE_POINTS_KEY_MAX];
    snprintf(key, sizeof key, "game:%lld:%d", (long long)game_id, round);
    store_points_tx t = {.guild_id = g.guild_id,
                         .user_id = user_id,
                         .delta = points,
                         .reason = reason,
                         .game = g.kind,
                         .round_key = key,
                         .ts_ms = now};
    if ((rc = store_points_add(s, &t, NULL))) goto fail;
  }
  if ((rc = store_tx_commit(s))) return rc;
  *won = true;
  return 0;
fail:
  store_tx_rollback(s);
  return rc;
}

int store_game_lore_pick(store *s, uint64_t roll, size_t min_bytes, int64_t *chunk_id, buf *title,
                         buf *text) {
  sqlite3_stmt *st;
  if (store_stmt(s,
                 "SELECT COUNT(*) FROM lore_chunks WHERE wi = 0 AND enabled = 1 AND "
                 "length(text) >= ?1",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)min_bytes);
  int r = sqlite3_step(st);
  int64_t count = r == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
  sqlite3_reset(st);
  if (r != SQLITE_ROW) return store_err(s, "counting lore passages");
  if (count <= 0) return err_set(MIMIC_ENOTFOUND, "the lore has no passages to ask about");
  if (store_stmt(s,
                 "SELECT id, title, text FROM lore_chunks WHERE wi = 0 AND enabled = 1 AND "
                 "length(text) >= ?1 ORDER BY id LIMIT 1 OFFSET ?2",
                 &st))
    return MIMIC_EDB;
  sqlite3_bind_int64(st, 1, (sqlite3_int64)min_bytes);
  sqlite3_bind_int64(st, 2, (sqlite3_int64)(roll % (uint64_t)count));
  r = sqlite3_step(st);
  int rc = 0;
  if (r == SQLITE_ROW) {
    *chunk_id = sqlite3_column_int64(st, 0);
    buf_reset(title);
    buf_reset(text);
    rc = buf_puts(title, store__col_text(st, 1));
    if (!rc) rc = buf_puts(text, store__col_text(st, 2));
  } else {
    rc = r == SQLITE_DONE ? err_set(MIMIC_ENOTFOUND, "the lore passage is gone")
                          : store_err(s, "reading a lore passage");
  }
  sqlite3_reset(st);
  return rc;
}
