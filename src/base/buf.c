/* Capped growable buffer (see buf.h). */
#include "base/buf.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

void buf_init(buf *b, size_t limit) {
  b->data = NULL;
  b->len = 0;
  b->cap = 0;
  b->limit = limit ? limit : SIZE_MAX / 2;
  b->fixed = false;
}

void buf_init_fixed(buf *b, char *storage, size_t size) {
  b->data = storage;
  b->len = 0;
  b->cap = size;
  b->limit = size - 1; /* so buf_reserve never needs more than cap */
  b->fixed = true;
  storage[0] = 0;
}

void buf_free(buf *b) {
  if (!b) return;
  if (b->fixed) {
    buf_reset(b);
    return;
  }
  mem_free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void buf_reset(buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = 0;
}

int buf_reserve(buf *b, size_t extra) {
  if (extra > b->limit || b->len > b->limit - extra)
    return err_set(MIMIC_ERANGE, "buffer limit of %zu bytes exceeded", b->limit);
  size_t need = b->len + extra + 1;
  if (need <= b->cap) return 0;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < need) ncap = ncap > SIZE_MAX / 2 ? need : ncap * 2;
  char *p = mem_realloc(b->data, ncap);
  if (!p) return err_set(MIMIC_ENOMEM, "out of memory growing a buffer to %zu bytes", ncap);
  b->data = p;
  b->cap = ncap;
  return 0;
}

int buf_append(buf *b, const void *p, size_t n) {
  int rc = buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = 0;
  return 0;
}

int buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_putc(buf *b, char c) { return buf_append(b, &c, 1); }

int buf_vprintf(buf *b, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return err_set(MIMIC_EINVAL, "bad format string");
  int rc = buf_reserve(b, (size_t)n);
  if (rc) return rc;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

void buf_consume(buf *b, size_t n) {
  if (n >= b->len) {
    buf_reset(b);
    return;
  }
  memmove(b->data, b->data + n, b->len - n);
  b->len -= n;
  b->data[b->len] = 0;
}

char *buf_steal(buf *b) {
  if (b->fixed) {
    char *copy = xstrdup(b->data);
    buf_reset(b);
    return copy;
  }
  char *p = b->data;
  size_t limit = b->limit;
  if (!p) p = xstrdup("");
  buf_init(b, limit);
  return p;
}
