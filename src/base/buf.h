/* Growable byte buffer with a hard cap. Every buffer filled from outside input names its cap
 * (STYLE: "every growing buffer has a cap"); appends past the cap fail with MIMIC_ERANGE and leave
 * the buffer unchanged. The data is always NUL-terminated (the NUL is not counted in len). */
#ifndef MIMIC_BASE_BUF_H
#define MIMIC_BASE_BUF_H
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include "base/err.h"

typedef struct buf {
  char *data;   /* NULL until the first append; owned (borrowed when fixed) */
  size_t len;   /* bytes used */
  size_t cap;   /* bytes allocated */
  size_t limit; /* most bytes it may ever hold; 0 means SIZE_MAX/2 */
  bool fixed;   /* data is the caller's storage (buf_init_fixed): never reallocated or freed */
} buf;

void buf_init(buf *b, size_t limit);
/* A buf over caller storage of size bytes (size >= 1): it never allocates, holds at most size - 1
 * bytes plus the NUL (appends past that fail with MIMIC_ERANGE and change nothing), and buf_free
 * only empties it. For short strings built on the stack or into a struct's array. */
void buf_init_fixed(buf *b, char *storage, size_t size);
void buf_free(buf *b);  /* releases data; the buf can be reused after buf_init */
void buf_reset(buf *b); /* len = 0, keeps memory */
int buf_reserve(buf *b, size_t extra) MIMIC_MUST;
int buf_append(buf *b, const void *p, size_t n) MIMIC_MUST;
int buf_puts(buf *b, const char *s) MIMIC_MUST;
int buf_putc(buf *b, char c) MIMIC_MUST;
int buf_printf(buf *b, const char *fmt, ...) MIMIC_PRINTF(2, 3) MIMIC_MUST;
int buf_vprintf(buf *b, const char *fmt, va_list ap) MIMIC_MUST;
void buf_consume(buf *b, size_t n); /* drop the first n bytes */
/* Hands the data to the caller (caller frees with mem_free) and re-initialises b. Never NULL. A
 * fixed buf hands over a copy and keeps its storage. */
char *buf_steal(buf *b);

#endif
