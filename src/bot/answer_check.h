/* The answer checker of the mini-games: whether what someone typed is the expected answer. It
 * forgives case, common Latin accents (é = e, ß = ss, æ = ae), a leading article (a, an, the),
 * punctuation and spacing, and small typos: an edit distance (insertions, deletions, substitutions
 * and swapped neighbours) that grows with the answer's length, none for answers of one to three
 * letters or with digits in them ("1492" is not "1493"). Any of the accepted aliases counts.
 * Self-contained: no bot object, no allocation beyond the stack, thread-safe. */
#ifndef MIMIC_BOT_ANSWER_CHECK_H
#define MIMIC_BOT_ANSWER_CHECK_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ANSWER_MAX_CPS 256 /* code points of an answer compared; longer input is cut */

/* The comparable form of s: lowercase, accents folded, punctuation dropped (apostrophes vanish,
 * other marks become spaces), runs of spaces collapsed, trimmed, a leading "a ", "an " or "the "
 * removed (unless that is all there is). Writes NUL-terminated UTF-8 into out[cap] (cut on a code
 * point) and returns its length. Invalid UTF-8 bytes are dropped. */
size_t answer_normalize(const char *s, char *out, size_t cap);

/* The edit distance forgiven for a normalized answer of n code points: 0 below 4, 1 below 8, 2
 * below 14, then 3. */
int answer_tolerance(size_t n);

/* Damerau-Levenshtein distance (optimal string alignment) between two UTF-8 strings, counted in
 * code points; stops early and returns cap + 1 once the distance must exceed cap. */
int answer_distance(const char *a, const char *b, int cap);

/* Whether guess is answer or one of aliases ('\n'-separated, NULL: none), under the rules above. */
bool answer_check(const char *guess, const char *answer, const char *aliases);

/* Whether answer (normalized) occurs in text (normalized) as whole words: how a generated trivia
 * question is checked against the lore chunk it came from. Text past ANSWER_TEXT_MAX_CPS code
 * points is not searched. */
#define ANSWER_TEXT_MAX_CPS 4096
bool answer_in_text(const char *answer, const char *text);

#endif
