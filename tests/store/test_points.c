/* Tests for the points ledger and the game rows: awards idempotent per round (a retry or a replay
 * after a restart adds nothing), a round won exactly once, leaderboards all-time and per month,
 * profiles, months, one running game per channel, answers and votes. */
#include <sqlite3.h>
#include <unistd.h>

#include "base/base.h"
#include "store/games.h"
#include "store/points.h"
#include "store/store.h"
#include "test.h"

#define DAY 86400000LL
static const int64_t MAR_2026 = 1772323200000LL; /* 2026-03-01T00:00:00Z */

static store_points_tx tx(uint64_t guild, uint64_t user, int64_t delta, const char *key,
                          int64_t ts) {
  store_points_tx t = {.guild_id = guild,
                       .user_id = user,
                       .delta = delta,
                       .reason = "test",
                       .game = key ? "trivia" : "",
                       .round_key = key,
                       .ts_ms = ts};
  return t;
}

TEST(months) {
  int64_t a, b;
  store_points_month(MAR_2026 + 15 * DAY + 5, &a, &b);
  CHECK(a == MAR_2026);
  CHECK(b == MAR_2026 + 31 * DAY);
  store_points_month(MAR_2026 - 1, &a, &b); /* the last ms of February */
  CHECK(a == MAR_2026 - 28 * DAY);
  CHECK(b == MAR_2026);
  CHECK_OK(store_points_month_parse("2026-03", &a, &b));
  CHECK(a == MAR_2026);
  CHECK_OK(store_points_month_parse("2024-02", &a, &b));
  CHECK(b - a == 29 * DAY); /* leap year */
  CHECK_OK(store_points_month_parse("2025-12", &a, &b));
  CHECK(b == 1767225600000LL); /* 2026-01-01 */
  CHECK_INT(store_points_month_parse("2026-13", &a, &b), MIMIC_EINVAL);
  CHECK_INT(store_points_month_parse("march", &a, &b), MIMIC_EINVAL);
  CHECK_INT(store_points_month_parse("2026-3", &a, &b), MIMIC_EINVAL);
  err_clear();
}

TEST(a_retried_award_counts_once) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  store_points_tx t = tx(1, 11, 10, "game:1:1", MAR_2026);
  bool added = false;
  CHECK_OK(store_points_add(s, &t, &added));
  CHECK(added);
  CHECK_OK(store_points_add(s, &t, &added)); /* the retry */
  CHECK(!added);
  t.delta = 99; /* even with another amount */
  CHECK_OK(store_points_add(s, &t, &added));
  CHECK(!added);
  int64_t bal;
  CHECK_OK(store_points_balance(s, 1, 11, 0, 0, &bal));
  CHECK_INT(bal, 10);
  /* the same round for someone else, and admin grants without a key, each count */
  store_points_tx o = tx(1, 12, 10, "game:1:1", MAR_2026);
  CHECK_OK(store_points_add(s, &o, &added));
  CHECK(added);
  store_points_tx g = tx(1, 11, 5, NULL, MAR_2026);
  g.by_user = 9;
  CHECK_OK(store_points_add(s, &g, &added));
  CHECK_OK(store_points_add(s, &g, &added));
  CHECK_OK(store_points_balance(s, 1, 11, 0, 0, &bal));
  CHECK_INT(bal, 20);
  /* other guilds are apart */
  CHECK_OK(store_points_balance(s, 2, 11, 0, 0, &bal));
  CHECK_INT(bal, 0);
  /* bad transactions */
  store_points_tx bad = tx(1, 11, 0, NULL, MAR_2026);
  CHECK_INT(store_points_add(s, &bad, NULL), MIMIC_EINVAL);
  bad.delta = STORE_POINTS_DELTA_MAX + 1;
  CHECK_INT(store_points_add(s, &bad, NULL), MIMIC_EINVAL);
  bad.delta = 1;
  bad.reason = "\xFF\xFE";
  CHECK_INT(store_points_add(s, &bad, NULL), MIMIC_EINVAL);
  err_clear();
  store_close(s);
}

TEST(an_award_survives_a_restart_and_its_replay_adds_nothing) {
  char dir[] = "/tmp/mimic-points-XXXXXX";
  REQUIRE(mkdtemp(dir) != NULL);
  char db[128];
  snprintf(db, sizeof db, "%s/mimic.db", dir);
  store *s;
  CHECK_OK(store_open(db, &s));
  store_points_tx t = tx(1, 11, 10, "game:7:2", MAR_2026);
  CHECK_OK(store_points_add(s, &t, NULL));
  store_close(s);
  CHECK_OK(store_open(db, &s));
  bool added = true;
  CHECK_OK(store_points_add(s, &t, &added));
  CHECK(!added);
  int64_t bal;
  CHECK_OK(store_points_balance(s, 1, 11, 0, 0, &bal));
  CHECK_INT(bal, 10);
  store_close(s);
  unlink(db);
  char side[160];
  snprintf(side, sizeof side, "%s-wal", db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", db);
  unlink(side);
  rmdir(dir);
}

TEST(leaderboard_all_time_and_per_month) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  int64_t feb = MAR_2026 - 10 * DAY, mar = MAR_2026 + 2 * DAY;
  /* alice: 30 in February; bob: 10 + 10 in March; carol: 15 in March then -20 revoked */
  store_points_tx list[] = {
      tx(1, 11, 30, "game:1:1", feb),     tx(1, 12, 10, "game:2:1", mar),
      tx(1, 12, 10, "game:2:2", mar + 1), tx(1, 13, 15, NULL, mar),
      tx(1, 13, -20, NULL, mar + 2),      tx(2, 14, 50, NULL, mar), /* another guild */
  };
  for (size_t i = 0; i < sizeof list / sizeof list[0]; i++)
    CHECK_OK(store_points_add(s, &list[i], NULL));
  store_points_row r[10];
  size_t n;
  CHECK_OK(store_points_top(s, 1, 0, 0, r, 10, &n));
  REQUIRE(n == 2); /* carol is below zero: left out */
  CHECK_INT(r[0].user_id, 11);
  CHECK_INT(r[0].points, 30);
  CHECK_INT(r[0].wins, 1);
  CHECK_INT(r[1].user_id, 12);
  CHECK_INT(r[1].points, 20);
  CHECK_INT(r[1].wins, 2);
  int64_t a, b;
  store_points_month(mar, &a, &b);
  CHECK_OK(store_points_top(s, 1, a, b, r, 10, &n));
  REQUIRE(n == 1);
  CHECK_INT(r[0].user_id, 12);
  CHECK_OK(store_points_top(s, 1, 0, 0, r, 1, &n)); /* the cap */
  CHECK_INT(n, 1);
  store_points_profile p;
  CHECK_OK(store_points_profile_get(s, 1, 12, a, b, &p));
  CHECK_INT(p.points, 20);
  CHECK_INT(p.points_month, 20);
  CHECK_INT(p.rank, 2);
  CHECK_INT(p.rounds_won, 2);
  CHECK_OK(store_points_profile_get(s, 1, 11, a, b, &p));
  CHECK_INT(p.rank, 1);
  CHECK_INT(p.points_month, 0);
  CHECK_OK(store_points_profile_get(s, 1, 99, a, b, &p));
  CHECK_INT(p.points, 0);
  CHECK_INT(p.rank, 0);
  store_close(s);
}

static store_game new_game(uint64_t channel, const char *kind) {
  store_game g;
  memset(&g, 0, sizeof g);
  str_lcpy(g.kind, kind, sizeof g.kind);
  g.guild_id = 1;
  g.channel_id = channel;
  g.started_by = 11;
  g.rounds = 3;
  g.round = 1;
  g.created_ms = MAR_2026;
  return g;
}

TEST(one_running_game_per_channel_and_a_round_is_won_once) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  store_game *g = xcalloc(1, sizeof *g), *h = xcalloc(1, sizeof *h);
  *g = new_game(100, "trivia");
  CHECK_OK(store_game_start(s, g));
  *h = new_game(100, "riddle");
  CHECK_INT(store_game_start(s, h), MIMIC_EBUSY);
  err_clear();
  *h = new_game(101, "riddle");
  CHECK_OK(store_game_start(s, h));
  /* a round not open yet cannot be won */
  bool won = true;
  CHECK_OK(store_game_win(s, g->id, 1, 11, 10, "q1", MAR_2026, &won));
  CHECK(!won);
  g->phase = STORE_GAME_OPEN;
  str_lcpy(g->question, "Q?", sizeof g->question);
  str_lcpy(g->answer, "A", sizeof g->answer);
  g->deadline_ms = MAR_2026 + 60000;
  CHECK_OK(store_game_update(s, g));
  /* one scored answer per person */
  bool first;
  CHECK_OK(store_game_answer(s, g->id, 1, 12, false, MAR_2026, &first));
  CHECK(first);
  CHECK_OK(store_game_answer(s, g->id, 1, 12, true, MAR_2026, &first));
  CHECK(!first);
  /* three racing: exactly one wins, once */
  int wins = 0;
  for (uint64_t u = 11; u <= 13; u++) {
    CHECK_OK(store_game_win(s, g->id, 1, u, 10, "q1", MAR_2026, &won));
    wins += won;
  }
  CHECK_INT(wins, 1);
  CHECK_OK(store_game_win(s, g->id, 1, 11, 10, "q1", MAR_2026, &won)); /* the retry */
  CHECK(!won);
  int64_t bal;
  CHECK_OK(store_points_balance(s, 1, 11, 0, 0, &bal));
  CHECK_INT(bal, 10);
  store_game *r = xcalloc(1, sizeof *r);
  CHECK_OK(store_game_running(s, 100, r));
  CHECK_INT(r->winner_id, 11);
  CHECK_INT(r->phase, STORE_GAME_CLOSED);
  /* deadlines: the riddle is open and due; the trivia round is closed */
  h->phase = STORE_GAME_OPEN;
  h->deadline_ms = MAR_2026 + 1000;
  CHECK_OK(store_game_update(s, h));
  int64_t ids[8];
  size_t n;
  CHECK_OK(store_game_list(s, MAR_2026 + 2000, ids, 8, &n));
  REQUIRE(n == 1);
  CHECK(ids[0] == h->id);
  CHECK_OK(store_game_list(s, 0, ids, 8, &n));
  CHECK_INT(n, 2);
  /* finished: the channel is free again */
  g->finished = true;
  CHECK_OK(store_game_update(s, g));
  CHECK_INT(store_game_running(s, 100, r), MIMIC_ENOTFOUND);
  err_clear();
  *r = new_game(100, "story");
  CHECK_OK(store_game_start(s, r));
  store_points_profile p;
  CHECK_OK(store_points_profile_get(s, 1, 12, 0, 0, &p));
  CHECK_INT(p.games_played, 1);
  mem_free(g);
  mem_free(h);
  mem_free(r);
  store_close(s);
}

TEST(votes_are_replaced_and_tallied) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  store_game *g = xcalloc(1, sizeof *g);
  *g = new_game(100, "story");
  CHECK_OK(store_game_start(s, g));
  CHECK_OK(store_game_vote(s, g->id, 1, 11, 0, MAR_2026));
  CHECK_OK(store_game_vote(s, g->id, 1, 12, 1, MAR_2026));
  CHECK_OK(store_game_vote(s, g->id, 1, 11, 1, MAR_2026 + 1)); /* changed their mind */
  CHECK_INT(store_game_vote(s, g->id, 1, 11, -1, MAR_2026), MIMIC_EINVAL);
  err_clear();
  int counts[4], voters;
  CHECK_OK(store_game_tally(s, g->id, 1, counts, 4, &voters));
  CHECK_INT(voters, 2);
  CHECK_INT(counts[0], 0);
  CHECK_INT(counts[1], 2);
  bool v;
  CHECK_OK(store_game_voted(s, g->id, 1, 12, &v));
  CHECK(v);
  CHECK_OK(store_game_voted(s, g->id, 2, 12, &v));
  CHECK(!v);
  uint64_t ids[4];
  size_t n;
  CHECK_OK(store_game_players(s, g->id, ids, 4, &n));
  CHECK_INT(n, 2);
  /* the story's state survives as written */
  str_lcpy(g->state, "{\"log\":[\"Once\"]}", sizeof g->state);
  CHECK_OK(store_game_update(s, g));
  store_game *r = xcalloc(1, sizeof *r);
  CHECK_OK(store_game_get(s, g->id, r));
  CHECK_STR(r->state, "{\"log\":[\"Once\"]}");
  /* bad text is refused */
  str_lcpy(g->question, "\xC3", sizeof g->question);
  CHECK_INT(store_game_update(s, g), MIMIC_EINVAL);
  err_clear();
  mem_free(g);
  mem_free(r);
  store_close(s);
}

/* The running counts (migration 13) against a recount of game_plays, through votes, changed
 * votes, scored answers, a deleted play and a deleted game, with a seeded random walk. */
static int recount(store *s, const char *sql, int64_t a, int64_t b, int64_t c) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) abort();
  sqlite3_bind_int64(st, 1, a);
  sqlite3_bind_int64(st, 2, b);
  if (sqlite3_bind_parameter_count(st) >= 3) sqlite3_bind_int64(st, 3, c);
  int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

TEST(running_vote_counts_match_a_recount) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  store_game *g = xcalloc(1, sizeof *g), *h = xcalloc(1, sizeof *h);
  *g = new_game(100, "story");
  *h = new_game(101, "trivia");
  CHECK_OK(store_game_start(s, g));
  CHECK_OK(store_game_start(s, h));
  uint64_t rng = 42;
  for (int i = 0; i < 600; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    int round = 1 + (int)((rng >> 33) % 3), choice = (int)((rng >> 40) % 5);
    uint64_t user = 1000 + (rng >> 50) % 40;
    CHECK_OK(store_game_vote(s, g->id, round, user, choice, MAR_2026 + i));
    bool first;
    CHECK_OK(store_game_answer(s, h->id, round, user, choice == 0, MAR_2026 + i, &first));
  }
  CHECK_OK(store_exec(s, "DELETE FROM game_plays WHERE user_id = 1003"));
  for (int round = 1; round <= 3; round++) {
    int counts[5], voters;
    CHECK_OK(store_game_tally(s, g->id, round, counts, 5, &voters));
    CHECK_INT(voters, recount(s,
                              "SELECT COUNT(*) FROM game_plays WHERE game_id = ?1 AND round = ?2 "
                              "AND choice >= 0",
                              g->id, round, 0));
    for (int c = 0; c < 5; c++)
      CHECK_INT(counts[c], recount(s,
                                   "SELECT COUNT(*) FROM game_plays WHERE game_id = ?1 AND "
                                   "round = ?2 AND choice = ?3",
                                   g->id, round, c));
    int64_t v = 0, players = 0;
    CHECK_OK(store_game_counts(s, g->id, round, &v, &players));
    CHECK_INT(v, voters);
    CHECK_INT(players, 40); /* took part once: a deleted play does not un-take part */
  }
  /* trivia answers are plays, not votes */
  int64_t v = 0, players = 0;
  CHECK_OK(store_game_counts(s, h->id, 1, &v, &players));
  CHECK_INT(v, 0);
  CHECK_INT(players, 40);
  uint64_t ids[64];
  size_t n;
  CHECK_OK(store_game_players(s, g->id, ids, 64, &n));
  CHECK_INT(n, 40);
  /* a deleted game takes its counts with it */
  CHECK_OK(store_exec(s, "DELETE FROM games"));
  CHECK_INT(recount(s, "SELECT COUNT(*) FROM game_tally WHERE ?1 = ?2", 0, 0, 0), 0);
  CHECK_INT(recount(s, "SELECT COUNT(*) FROM game_players WHERE ?1 = ?2", 0, 0, 0), 0);
  CHECK_INT(recount(s, "SELECT COUNT(*) FROM game_player_count WHERE ?1 = ?2", 0, 0, 0), 0);
  mem_free(g);
  mem_free(h);
  store_close(s);
}

int main(void) {
  log_set_level(LOG_ERROR);
  RUN(months);
  RUN(a_retried_award_counts_once);
  RUN(an_award_survives_a_restart_and_its_replay_adds_nothing);
  RUN(leaderboard_all_time_and_per_month);
  RUN(one_running_game_per_channel_and_a_round_is_won_once);
  RUN(votes_are_replaced_and_tallied);
  RUN(running_vote_counts_match_a_recount);
  TEST_MAIN_END();
}
