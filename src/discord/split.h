/* Outgoing message text: splitting replies longer than Discord's 2,000-character limit at sensible
 * boundaries. It does not decide what to say or where to send it (api.h sends the parts).
 *
 * Length is counted the way Discord's limit is enforced: in UTF-16 code units (a character outside
 * the Basic Multilingual Plane, such as most emoji, counts 2), which is never less than the number
 * of code points, so a part that fits here fits Discord. */
#ifndef MIMIC_DISCORD_SPLIT_H
#define MIMIC_DISCORD_SPLIT_H
#include <stddef.h>

#include "base/err.h"

#define DISCORD_MESSAGE_MAX 2000

/* Length of s[0..n) in UTF-16 code units (invalid bytes count 1 each). */
size_t split_units(const char *s, size_t n);

/* Splits text into parts of at most max units (max >= 64; DISCORD_MESSAGE_MAX for messages).
 * Cuts prefer, in order: a paragraph break, a line break, the end of a sentence, a space, and only
 * then any character boundary; a cut never falls inside a UTF-8 sequence or a mention / channel /
 * role / custom-emoji / timestamp token ("<@123>", "<:name:id>", "<t:1700000000:R>"). A cut inside
 * a ``` code block is avoided when the block can move whole to the next part; otherwise the block
 * is closed at the end of the part and reopened (with its language) at the start of the next.
 * Parts are trimmed of surrounding blank lines; whitespace-only parts are dropped. Invalid UTF-8 is
 * repaired (U+FFFD) first. Returns 0 with *parts (an array of *count NUL-terminated strings; free
 * with split_free) — *count is 0 for empty or whitespace-only text — or MIMIC_EINVAL (max < 64). */
int split_text(const char *text, size_t max, char ***parts, size_t *count) MIMIC_MUST;

void split_free(char **parts, size_t count);

#endif
