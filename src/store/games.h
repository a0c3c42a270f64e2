/* Mini-game state: one row per game (trivia, riddle, story) with its current round, the open
 * question (answer, aliases, hint) or story passage, the deadline and the story's state as JSON,
 * plus one row per member per round for answers and votes. A channel has at most one running game
 * (a unique index). Everything a game needs to go on after a restart is here, and a round's win is
 * one transaction with its award in the points ledger (store/points.h), so a kill at any moment
 * neither loses an awarded point nor awards twice.
 *
 * Not here: game rules, prompts and timing (bot/games.c). */
#ifndef MIMIC_STORE_GAMES_H
#define MIMIC_STORE_GAMES_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_GAME_KIND_MAX     16
#define STORE_GAME_TOPIC_MAX    200
#define STORE_GAME_QUESTION_MAX 1500
#define STORE_GAME_ANSWER_MAX   200
#define STORE_GAME_ALIASES_MAX  600 /* '\n'-separated accepted answers */
#define STORE_GAME_HINT_MAX     300
#define STORE_GAME_SOURCE_MAX   200 /* where the question came from: "bank", "lore:<title>" */
#define STORE_GAME_STATE_MAX    8192

typedef enum store_game_phase {
  STORE_GAME_PREPARING = 0, /* the round's content is being made (a generation may be owed) */
  STORE_GAME_OPEN = 1,      /* the question is asked / the votes are open, until deadline_ms */
  STORE_GAME_CLOSED = 2,    /* the round is decided (won or timed out); the next is not made yet */
} store_game_phase;

typedef struct store_game {
  int64_t id; /* 0 until stored */
  char kind[STORE_GAME_KIND_MAX];
  uint64_t guild_id; /* 0: a DM */
  uint64_t channel_id, started_by;
  int64_t persona_id; /* the narrator or quizmaster; 0: the bot user */
  char topic[STORE_GAME_TOPIC_MAX];
  int round, rounds; /* the current round (1-based once started) and how many are played */
  store_game_phase phase;
  char question[STORE_GAME_QUESTION_MAX];
  char answer[STORE_GAME_ANSWER_MAX];
  char aliases[STORE_GAME_ALIASES_MAX];
  char hint[STORE_GAME_HINT_MAX];
  char source[STORE_GAME_SOURCE_MAX];
  int hints; /* hints given this round */
  int64_t deadline_ms;
  char state[STORE_GAME_STATE_MAX]; /* JSON object (story); "{}" when none */
  uint64_t message_id;              /* the round's message (with buttons), when known */
  bool finished;
  uint64_t winner_id; /* this round's */
  int64_t created_ms, updated_ms;
} store_game;

/* Creates a running game (g->id set). MIMIC_EBUSY when the channel has one already; MIMIC_EINVAL
 * for a field that is empty, too long or not UTF-8. */
int store_game_start(store *s, store_game *g) MIMIC_MUST;
/* Writes every field but id, kind, guild, channel and creation back. MIMIC_ENOTFOUND when gone. */
int store_game_update(store *s, const store_game *g) MIMIC_MUST;
/* The running game of a channel; MIMIC_ENOTFOUND when none. */
int store_game_running(store *s, uint64_t channel_id, store_game *out) MIMIC_MUST;
/* A game by id (running or finished); MIMIC_ENOTFOUND. */
int store_game_get(store *s, int64_t id, store_game *out) MIMIC_MUST;
/* Ids of running games, up to cap: all of them (due_ms 0), or the open ones whose deadline has
 * passed (deadline_ms <= due_ms). *n: how many. */
int store_game_list(store *s, int64_t due_ms, int64_t *ids, size_t cap, size_t *n) MIMIC_MUST;

/* A member's scored answer to a round: only the first counts. *first: whether this was it. */
int store_game_answer(store *s, int64_t game_id, int round, uint64_t user_id, bool correct,
                      int64_t now, bool *first) MIMIC_MUST;
/* A member's vote in a round (choice >= 0); a later vote replaces theirs. */
int store_game_vote(store *s, int64_t game_id, int round, uint64_t user_id, int choice,
                    int64_t now) MIMIC_MUST;
/* The votes of a round: counts[choice] for choice < cap (zeroed first); *voters: how many voted. */
int store_game_tally(store *s, int64_t game_id, int round, int *counts, int cap,
                     int *voters) MIMIC_MUST;
/* Members who took part in the game (answered or voted in any round), up to cap, first comers
 * first. */
int store_game_players(store *s, int64_t game_id, uint64_t *ids, size_t cap, size_t *n) MIMIC_MUST;
/* The running counts of a round, whatever the number of votes (O(1)): *voters who voted in it,
 * *players who took part in the game in any round (answered or voted). */
int store_game_counts(store *s, int64_t game_id, int round, int64_t *voters,
                      int64_t *players) MIMIC_MUST;
/* Whether user voted in (game, round). */
int store_game_voted(store *s, int64_t game_id, int round, uint64_t user_id,
                     bool *voted) MIMIC_MUST;

/* Decides an open round for user in one transaction: when the game is running at that round,
 * open and without a winner, it is closed with user as its winner and `points` are awarded
 * (round key "game:<id>:<round>", unique per member). *won says whether user won it; false when
 * someone else was first or the round is over. */
int store_game_win(store *s, int64_t game_id, int round, uint64_t user_id, int64_t points,
                   const char *reason, int64_t now, bool *won) MIMIC_MUST;

/* A lore passage for a trivia question: the (roll mod count)-th enabled chunk that is not a World
 * Info entry and holds at least min_bytes of text. title and text receive it; MIMIC_ENOTFOUND when
 * the lore has none. */
int store_game_lore_pick(store *s, uint64_t roll, size_t min_bytes, int64_t *chunk_id, buf *title,
                         buf *text) MIMIC_MUST;

#endif
