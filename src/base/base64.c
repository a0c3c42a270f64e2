/* Base64 encode and strict decode (base64.h). */
#include "base/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t b64_encoded_len(size_t n) { return (n + 2) / 3 * 4; }

int b64_encode(const void *data, size_t n, buf *out) {
  const uint8_t *p = data;
  int rc = buf_reserve(out, b64_encoded_len(n) + 1);
  if (rc) return rc;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)p[i] << 16;
    if (i + 1 < n) v |= (uint32_t)p[i + 1] << 8;
    if (i + 2 < n) v |= p[i + 2];
    char q[4] = {alphabet[(v >> 18) & 63], alphabet[(v >> 12) & 63],
                 i + 1 < n ? alphabet[(v >> 6) & 63] : '=', i + 2 < n ? alphabet[v & 63] : '='};
    if ((rc = buf_append(out, q, 4)) != 0) return rc;
  }
  return 0;
}

static int sextet(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

int b64_decode(const char *text, size_t n, buf *out) {
  int rc = buf_reserve(out, n / 4 * 3 + 3);
  if (rc) return rc;
  uint32_t acc = 0;
  int have = 0; /* sextets in acc */
  size_t pad_at = n;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)text[i];
    if (c == '\r' || c == '\n') continue;
    if (c == '=') {
      pad_at = i;
      break;
    }
    int v = sextet(c);
    if (v < 0) return err_set(MIMIC_EFORMAT, "not valid base64: byte 0x%02x at offset %zu", c, i);
    acc = acc << 6 | (uint32_t)v;
    if (++have == 4) {
      char b[3] = {(char)(acc >> 16), (char)(acc >> 8), (char)acc};
      if ((rc = buf_append(out, b, 3)) != 0) return rc;
      acc = 0;
      have = 0;
    }
  }
  if (have == 1) return err_set(MIMIC_EFORMAT, "not valid base64: the text ends mid-byte");
  if (pad_at < n) {
    /* Padding: exactly 4 - have '=' (line breaks allowed), then nothing. */
    size_t pads = 0;
    for (size_t i = pad_at; i < n; i++) {
      if (text[i] == '\r' || text[i] == '\n') continue;
      if (text[i] != '=')
        return err_set(MIMIC_EFORMAT, "not valid base64: data after the padding at offset %zu", i);
      pads++;
    }
    if (have == 0 || pads != (size_t)(4 - have))
      return err_set(MIMIC_EFORMAT, "not valid base64: wrong padding");
  }
  if (have == 2) {
    char b = (char)(acc >> 4);
    return buf_append(out, &b, 1);
  }
  if (have == 3) {
    char b[2] = {(char)(acc >> 10), (char)(acc >> 2)};
    return buf_append(out, b, 2);
  }
  return 0;
}
