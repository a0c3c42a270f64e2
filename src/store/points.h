/* The points ledger: every change of a member's points is one transaction row (who, how many, why,
 * which game and round, when, and which admin for a grant). A game's award carries a round key and
 * is unique per (round key, member), so a retried or replayed award after a crash or restart never
 * counts twice. Balances, leaderboards and profiles are sums over the ledger, per guild (guild 0
 * holds the points won in DMs), all-time or within a time window (a month, a season).
 *
 * Not here: what a game awards or when (bot/games.c); the game rows (store/games.h). */
#ifndef MIMIC_STORE_POINTS_H
#define MIMIC_STORE_POINTS_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_POINTS_REASON_MAX 200 /* bytes of a reason kept (longer is refused) */
#define STORE_POINTS_KEY_MAX    96  /* bytes of a round key */
#define STORE_POINTS_GAME_MAX   16  /* bytes of a game kind */
#define STORE_POINTS_DELTA_MAX  1000000

typedef struct store_points_tx {
  uint64_t guild_id, user_id;
  int64_t delta;         /* may be negative (a revocation); never 0 */
  const char *reason;    /* shown in the audit and the profile; NULL: "" */
  const char *game;      /* "trivia", "riddle", "story", "" for an admin grant; NULL: "" */
  const char *round_key; /* e.g. "game:12:3"; NULL or "": not idempotent (admin grants) */
  uint64_t by_user;      /* the admin who granted or revoked; 0 for a game's award */
  int64_t ts_ms;
} store_points_tx;

/* Records one transaction. With a round key, a second award for the same (round key, user) is
 * ignored: *added (may be NULL) says whether this call added the row. Errors: MIMIC_EINVAL (a
 * zero or out-of-range delta, a reason, game or key too long or not UTF-8), MIMIC_EDB. */
int store_points_add(store *s, const store_points_tx *t, bool *added) MIMIC_MUST;

/* The sum of a member's points in guild within [since_ms, until_ms) (0, 0: all time). */
int store_points_balance(store *s, uint64_t guild_id, uint64_t user_id, int64_t since_ms,
                         int64_t until_ms, int64_t *out) MIMIC_MUST;

typedef struct store_points_row {
  uint64_t user_id;
  int64_t points;
  int64_t wins; /* rounds won in games within the window */
} store_points_row;

/* The leaderboard of guild within [since_ms, until_ms) (0, 0: all time): members by points, then
 * by rounds won, then by who got there first; members at 0 or below are left out. Up to cap rows
 * into out; *n: how many. */
int store_points_top(store *s, uint64_t guild_id, int64_t since_ms, int64_t until_ms,
                     store_points_row *out, size_t cap, size_t *n) MIMIC_MUST;

typedef struct store_points_profile {
  int64_t points;       /* all time, in the guild */
  int64_t points_month; /* within the window given */
  int64_t rank;         /* 1-based place on the all-time board; 0: not on it */
  int64_t games_played; /* games taken part in (answered or voted) in the guild */
  int64_t rounds_won;   /* rounds won (first correct answer) in the guild */
  int64_t last_ms;      /* the member's latest transaction; 0: none */
} store_points_profile;

/* A member's profile in guild; month_since/month_until bound points_month. */
int store_points_profile_get(store *s, uint64_t guild_id, uint64_t user_id, int64_t month_since,
                             int64_t month_until, store_points_profile *out) MIMIC_MUST;

/* Calls fn for a member's latest transactions in guild, newest first (at most limit). */
typedef int (*store_points_fn)(const store_points_tx *t, void *user);
int store_points_history(store *s, uint64_t guild_id, uint64_t user_id, size_t limit,
                         store_points_fn fn, void *user) MIMIC_MUST;

/* The UTC month holding ms as [since, until): a leaderboard's "this month". */
void store_points_month(int64_t ms, int64_t *since, int64_t *until);
/* The UTC month "YYYY-MM" as [since, until). MIMIC_EINVAL when it is not one. */
int store_points_month_parse(const char *ym, int64_t *since, int64_t *until) MIMIC_MUST;

#endif
