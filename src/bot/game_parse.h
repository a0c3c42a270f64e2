/* Parsers for the mini-games' outside input, self-contained (no bot object) so they can be fuzzed:
 * question banks (a file an admin points games.trivia_bank / games.riddle_bank at), the model's
 * trivia question (JSON, checked against the lore chunk it came from) and the model's story passage
 * (JSON with 2-4 choices, or numbered lines). Everything returned is owned by the caller.
 *
 * Bank format, one question per line (blank lines and lines starting with '#' are skipped):
 *   {"question": "...", "answer": "...", "aliases": ["...", ...], "hint": "..."}    JSON lines
 *   What is the capital of France? | Paris | paree, city of light | It has a tower   simple form
 * (question | answer [| aliases separated by commas [| hint]]). A line that is neither, or whose
 * question or answer is empty or too long, is skipped and counted in `bad`. */
#ifndef MIMIC_BOT_GAME_PARSE_H
#define MIMIC_BOT_GAME_PARSE_H
#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define GAME_BANK_FILE_MAX (8u << 20) /* bytes of a bank file read */
#define GAME_BANK_MAX      20000      /* questions kept from one bank */
#define GAME_LINE_MAX      4096       /* bytes of one bank line */
#define GAME_QUESTION_MAX  1000       /* bytes of a question */
#define GAME_ANSWER_MAX    150        /* bytes of an answer or alias */
#define GAME_ALIASES_MAX   8          /* aliases kept per question */
#define GAME_HINT_MAX      250        /* bytes of a hint */
#define GAME_MODEL_MAX     16384      /* bytes of a model reply parsed */
#define GAME_CHOICES_MAX   4
#define GAME_CHOICE_MAX    80 /* bytes of a story choice (a button label) */
#define GAME_PASSAGE_MAX   1800

typedef struct game_item {
  char *question, *answer;
  char *aliases; /* '\n'-separated; "" when none */
  char *hint;    /* "" when none */
} game_item;

void game_item_free(game_item *it); /* accepts a zeroed one; re-zeroes */

typedef struct game_bank {
  game_item *v;
  size_t n;
  size_t bad; /* lines skipped as malformed */
} game_bank;

/* Parses a bank (text[0..n), not NUL-terminated). Errors: MIMIC_ERANGE over GAME_BANK_FILE_MAX;
 * malformed lines are skipped, not errors. *out: free with game_bank_free. */
int game_bank_parse(const char *text, size_t n, game_bank *out) MIMIC_MUST;
void game_bank_free(game_bank *b); /* accepts a zeroed one; re-zeroes */

/* Parses the model's trivia question: the first JSON object in text ({"question", "answer",
 * "aliases", "hint"}; prose or code fences around it are ignored). With chunk, the answer (or one
 * alias, which then becomes the answer) must occur in the chunk as whole words and must not occur
 * in the question. Errors: MIMIC_EFORMAT (no object, a field missing or too long, the answer not
 * grounded in the chunk or given away by the question). */
int game_question_parse(const char *text, size_t n, const char *chunk, game_item *out) MIMIC_MUST;

typedef struct game_passage {
  char *text;
  char *choices[GAME_CHOICES_MAX];
  size_t n_choices;
} game_passage;

void game_passage_free(game_passage *p); /* accepts a zeroed one; re-zeroes */

/* Parses a story passage: {"text": "...", "choices": ["...", ...]} (the first JSON object in the
 * reply), else plain text whose lines "1. ...", "2) ..." are the choices and the rest the passage.
 * Choices are cut to GAME_CHOICE_MAX bytes, at most GAME_CHOICES_MAX; need_choices demands 2..4.
 * Errors: MIMIC_EFORMAT (no passage, or too few choices). */
int game_passage_parse(const char *text, size_t n, bool need_choices, game_passage *out) MIMIC_MUST;

#endif
