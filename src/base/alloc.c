/* The allocation wrapper (see alloc.h). Counting and failure injection are for tests. */
#include "base/alloc.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long alloc_count;
static atomic_long fail_after = -1;

void mem_fail_after(long n) { atomic_store(&fail_after, n); }
long mem_count(void) { return atomic_load(&alloc_count); }

/* True when this allocation should fail by injection. */
static int injected_failure(void) {
  long n = atomic_fetch_add(&alloc_count, 1);
  long f = atomic_load(&fail_after);
  return f >= 0 && n >= f;
}

void *mem_alloc(size_t n) {
  if (injected_failure()) return NULL;
  return malloc(n ? n : 1);
}

void *mem_calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  if (injected_failure()) return NULL;
  return calloc(count ? count : 1, size ? size : 1);
}

void *mem_realloc(void *p, size_t n) {
  if (injected_failure()) return NULL;
  return realloc(p, n ? n : 1);
}

void mem_free(void *p) { free(p); }

char *mem_strdup(const char *s) {
  if (!s) return NULL;
  return mem_strndup(s, strlen(s));
}

char *mem_strndup(const char *s, size_t n) {
  if (!s) return NULL;
  size_t len = strnlen(s, n);
  char *d = mem_alloc(len + 1);
  if (!d) return NULL;
  memcpy(d, s, len);
  d[len] = 0;
  return d;
}

static void oom(size_t n) {
  fprintf(stderr, "mimic: out of memory allocating %zu bytes\n", n);
  abort();
}

void *xalloc(size_t n) {
  atomic_fetch_add(&alloc_count, 1);
  void *p = malloc(n ? n : 1);
  if (!p) oom(n);
  return p;
}

void *xcalloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) oom(SIZE_MAX);
  atomic_fetch_add(&alloc_count, 1);
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) oom(count * size);
  return p;
}

void *xrealloc(void *p, size_t n) {
  atomic_fetch_add(&alloc_count, 1);
  void *q = realloc(p, n ? n : 1);
  if (!q) oom(n);
  return q;
}

char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = xalloc(n);
  memcpy(d, s, n);
  return d;
}
