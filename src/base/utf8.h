/* UTF-8 helpers: validation, decoding, repair and safe truncation. Invalid input is never trusted:
 * decoders report it and repair replaces each bad sequence with U+FFFD. */
#ifndef MIMIC_BASE_UTF8_H
#define MIMIC_BASE_UTF8_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes one code point from s[0..n). Returns the sequence length (1..4) and sets *cp, or returns
 * -1 for an invalid, overlong, surrogate or truncated sequence (then *cp = 0xFFFD). n must be > 0.
 */
int utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Writes cp (<= 0x10FFFF, not a surrogate) into out[4]; returns bytes written, 0 if invalid. */
int utf8_encode(uint32_t cp, char out[4]);
bool utf8_valid(const char *s, size_t n);
/* Returns a new NUL-terminated copy with every invalid sequence replaced by U+FFFD; caller frees.
 */
char *utf8_repair(const char *s, size_t n);
/* Largest k <= n such that s[0..k) ends on a code point boundary (s assumed valid UTF-8). */
size_t utf8_floor(const char *s, size_t n, size_t k);
/* Number of code points in s[0..n) (invalid bytes count one each). */
size_t utf8_count(const char *s, size_t n);

#endif
