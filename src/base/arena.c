/* Block arena (see arena.h for the contract). */
#include "base/arena.h"

#include <stdint.h>
#include <string.h>

#include "base/alloc.h"

struct arena_block {
  arena_block *next;
  size_t used, size;
  max_align_t data[]; /* aligned storage follows */
};

void arena_init(arena *a, const char *what, size_t block_min, size_t cap) {
  memset(a, 0, sizeof *a);
  a->what = what ? what : "arena";
  a->block_min = block_min ? block_min : 4096;
  a->cap = cap;
}

static void free_blocks(arena_block *b) {
  while (b) {
    arena_block *n = b->next;
    mem_free(b);
    b = n;
  }
}

void arena_free(arena *a) {
  if (!a) return;
  free_blocks(a->head);
  arena_init(a, a->what, a->block_min, a->cap);
}

void arena_reset(arena *a) {
  if (a->head) {
    free_blocks(a->head->next);
    a->head->next = NULL;
    a->head->used = 0;
    a->total = a->head->size;
  }
  a->err = 0;
}

static void *fail(arena *a, int code) {
  a->err = code;
  if (code == MIMIC_ERANGE)
    err_set(code, "%s larger than the %zu-byte cap", a->what, a->cap);
  else
    err_set(code, "out of memory building a %s", a->what);
  return NULL;
}

void *arena_alloc(arena *a, size_t n) {
  if (a->err) return NULL;
  if (n > SIZE_MAX / 2) return fail(a, MIMIC_ERANGE);
  n = n ? (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN : ARENA_ALIGN;
  arena_block *b = a->head;
  if (!b || b->size - b->used < n) {
    size_t sz = n > a->block_min ? n : a->block_min;
    if (a->cap && (sz > a->cap || a->total > a->cap - sz)) return fail(a, MIMIC_ERANGE);
    b = mem_alloc(sizeof *b + sz);
    if (!b) return fail(a, MIMIC_ENOMEM);
    b->size = sz;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    a->total += sz;
  }
  void *p = (char *)b->data + b->used;
  b->used += n;
  memset(p, 0, n);
  return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
  if (!s) s = "";
  n = strnlen(s, n);
  char *p = arena_alloc(a, n + 1);
  if (p && n) memcpy(p, s, n);
  return p; /* zeroed, so already terminated */
}

char *arena_strdup(arena *a, const char *s) { return arena_strndup(a, s, SIZE_MAX); }

arena *arena_new(const char *what, size_t block_min, size_t cap) {
  arena *a = mem_alloc(sizeof *a);
  if (a) arena_init(a, what, block_min, cap);
  return a;
}

void arena_destroy(arena *a) {
  if (!a) return;
  free_blocks(a->head);
  mem_free(a);
}
