/* Hash map from u64 keys (Discord snowflakes) to pointers: open addressing with linear probing and
 * backward-shift deletion. Key 0 is reserved (snowflakes are never 0). Not thread-safe: each owner
 * (the bot router on the loop thread, say) keeps its own. */
#ifndef MIMIC_BASE_MAP_H
#define MIMIC_BASE_MAP_H
#include <stddef.h>
#include <stdint.h>

typedef struct map_u64 {
  uint64_t *keys;
  void **vals;
  size_t cap; /* power of two, or 0 */
  size_t len;
} map_u64;

void map_init(map_u64 *m);
/* Frees the table; values are the caller's (free them first with map_each if owned). */
void map_free(map_u64 *m);
void *map_get(const map_u64 *m, uint64_t key);
/* Inserts or replaces; returns the previous value (or NULL). key must not be 0. */
void *map_put(map_u64 *m, uint64_t key, void *val);
/* Removes key; returns its value (or NULL). */
void *map_del(map_u64 *m, uint64_t key);
/* Iteration: for (size_t i = 0; map_next(m, &i, &k, &v);) ...  Do not insert while iterating;
 * deleting the current key is not allowed either (collect keys first). */
int map_next(const map_u64 *m, size_t *iter, uint64_t *key, void **val);

#endif
