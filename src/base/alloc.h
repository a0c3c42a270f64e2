/* The one allocation wrapper. mem_* return NULL on failure (and tests can make the Nth allocation
 * fail to prove every caller cleans up); x* abort with a message on failure, for the places where
 * out-of-memory cannot be handled sensibly (the allocation wrapper may abort:
 * docs/architecture.md). */
#ifndef MIMIC_BASE_ALLOC_H
#define MIMIC_BASE_ALLOC_H
#include <stddef.h>

void *mem_alloc(size_t n);
void *mem_calloc(size_t count, size_t size); /* overflow-checked */
void *mem_realloc(void *p, size_t n);
void mem_free(void *p);          /* accepts NULL */
char *mem_strdup(const char *s); /* NULL in -> NULL out */
char *mem_strndup(const char *s, size_t n);

void *xalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Test hooks: after mem_fail_after(n), the (n+1)th allocation through mem_* fails (n < 0 disables).
 * mem_count() is the number of mem_* and x* allocations made so far. Not thread-safe by design:
 * tests set them from the main thread before starting work. */
void mem_fail_after(long n);
long mem_count(void);

#endif
