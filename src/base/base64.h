/* Base64 (RFC 4648, the standard alphabet with '=' padding): encoding, and strict decoding of
 * outside input (character cards in PNG text chunks). Not the URL-safe alphabet. */
#ifndef MIMIC_BASE_BASE64_H
#define MIMIC_BASE_BASE64_H
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Bytes needed to encode n bytes (without a NUL). */
size_t b64_encoded_len(size_t n);
/* Appends the encoding of data[0..n) to out (no NUL is appended beyond buf's own). Errors:
 * MIMIC_ENOMEM / MIMIC_ERANGE from the buf. */
int b64_encode(const void *data, size_t n, buf *out) MIMIC_MUST;
/* Decodes text[0..n) into out (appended). Line breaks (CR, LF) are skipped; padding may be absent
 * but, when present, must be complete and final. Anything else outside the alphabet is
 * MIMIC_EFORMAT "not valid base64: byte 0x.. at offset N". Errors from the buf pass through. */
int b64_decode(const char *text, size_t n, buf *out) MIMIC_MUST;

#endif
