/* UTF-8 (RFC 3629): strict decoding (no overlongs, no surrogates, max U+10FFFF). */
#include "base/utf8.h"

#include "base/alloc.h"
#include "base/buf.h"

int utf8_decode(const char *str, size_t n, uint32_t *cp) {
  const unsigned char *s = (const unsigned char *)str;
  unsigned char c = s[0];
  *cp = 0xFFFD;
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  int len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) {
    len = 2;
    v = c & 0x1F;
    min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3;
    v = c & 0x0F;
    min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4;
    v = c & 0x07;
    min = 0x10000;
  } else
    return -1;
  if ((size_t)len > n) return -1;
  for (int i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return -1;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
  *cp = v;
  return len;
}

int utf8_encode(uint32_t cp, char out[4]) {
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (char)(0xC0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  if (cp < 0x10000) {
    out[0] = (char)(0xE0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  if (cp > 0x10FFFF) return 0;
  out[0] = (char)(0xF0 | (cp >> 18));
  out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

bool utf8_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    if (k < 0) return false;
    i += (size_t)k;
  }
  return true;
}

char *utf8_repair(const char *s, size_t n) {
  buf b;
  buf_init(&b, 0);
  size_t i = 0;
  while (i < n) {
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    if (k < 0) {
      if (buf_append(&b, "\xEF\xBF\xBD", 3)) goto oom;
      i++;
    } else {
      if (buf_append(&b, s + i, (size_t)k)) goto oom;
      i += (size_t)k;
    }
  }
  return buf_steal(&b);
oom:
  buf_free(&b);
  return NULL;
}

size_t utf8_floor(const char *s, size_t n, size_t k) {
  if (k >= n) return n;
  while (k > 0 && (((unsigned char)s[k]) & 0xC0) == 0x80) k--;
  return k;
}

size_t utf8_count(const char *s, size_t n) {
  size_t i = 0, c = 0;
  while (i < n) {
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    i += k < 0 ? 1 : (size_t)k;
    c++;
  }
  return c;
}
