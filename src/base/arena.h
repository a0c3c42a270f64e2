/* The one arena: memory for many small objects that die together (one gateway event, one list of
 * stored messages), handed out from blocks and released in one call. Not a general allocator:
 * nothing is freed on its own.
 *
 * Contract:
 * - Blocks: allocated through mem_alloc, at least block_min bytes each (a larger request gets a
 *   block of its own size); a request that does not fit the newest block starts a new one.
 * - Alignment: every pointer is aligned for any type (ARENA_ALIGN, max_align_t) and zeroed.
 * - Cap: the blocks together never exceed cap bytes (0: no cap), so an arena filled from outside
 *   input has a named bound. Past it, or on out-of-memory, arena_alloc returns NULL, sets the
 *   error message ("<what> larger than the N-byte cap", or out of memory), and the arena remembers
 *   the error in err: every later allocation fails too, so a parser may run to its end and check
 *   err once.
 * - Reset: arena_reset forgets every allocation and the error, keeping the newest block for reuse.
 * - Free: arena_free releases every block (the arena can be used again after arena_init);
 *   arena_destroy does the same for one made by arena_new.
 * Not thread-safe: one owner at a time. Not in base.h (yet): include it where an arena is used. */
#ifndef MIMIC_BASE_ARENA_H
#define MIMIC_BASE_ARENA_H
#include <stddef.h>

#include "base/err.h"

#define ARENA_ALIGN _Alignof(max_align_t)

typedef struct arena_block arena_block;

typedef struct arena {
  arena_block *head; /* newest block first */
  const char *what;  /* names the arena in error messages ("gateway event"); borrowed, static */
  size_t block_min;  /* smallest block, in bytes */
  size_t cap;        /* most bytes all blocks may hold; 0: no cap */
  size_t total;      /* bytes held in blocks now */
  int err;           /* 0, or MIMIC_ERANGE / MIMIC_ENOMEM after a failed allocation (sticky) */
} arena;

/* Initialises a (allocates nothing). what: a static string for messages. */
void arena_init(arena *a, const char *what, size_t block_min, size_t cap);
/* Releases every block and re-initialises a with the same settings. Accepts NULL. */
void arena_free(arena *a);
/* Forgets every allocation and the error; keeps the newest block (so a per-request arena reaches a
 * steady state without calling malloc). */
void arena_reset(arena *a);
/* n bytes (0 is allowed: a unique non-NULL pointer), zeroed and ARENA_ALIGN-aligned; NULL on
 * failure (see the contract above). Valid until arena_reset or arena_free. */
void *arena_alloc(arena *a, size_t n);
/* Copies of a string (s NULL copies ""); n bytes at most for strndup. NULL on failure. */
char *arena_strdup(arena *a, const char *s);
char *arena_strndup(arena *a, const char *s, size_t n);

/* A heap arena (arena_init's parameters), NULL on out-of-memory; arena_destroy accepts NULL. */
arena *arena_new(const char *what, size_t block_min, size_t cap);
void arena_destroy(arena *a);

#endif
