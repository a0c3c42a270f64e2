/* Hash map from u64 keys (Discord snowflakes) to pointers or small integers: open addressing with
 * linear probing and backward-shift deletion, at most 3/4 full. Key 0 is reserved (snowflakes are
 * never 0). Growth aborts on out-of-memory (xcalloc), so puts never fail. Not thread-safe: each
 * owner (the bot router on the loop thread, an importer) keeps its own. */
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
/* Empties the map but keeps its table, so a map cleared at a size cap never grows past it. */
void map_clear(map_u64 *m);

/* Replaces the map's contents with the set of ids in list (decimal snowflakes separated by commas
 * and/or white space, as the id-list config keys hold them; NULL is empty), each with value 1.
 * Entries that are not a nonzero id are skipped: `config check` refuses them before this runs. */
void map_set_ids(map_u64 *m, const char *list);

/* Integer values (an index + 1, flags + 1) kept in the value slot: 0 reads as absent, so store
 * only nonzero values. */
static inline uintptr_t map_get_uint(const map_u64 *m, uint64_t key) {
  return (uintptr_t)map_get(m, key);
}
static inline void map_put_uint(map_u64 *m, uint64_t key, uintptr_t val) {
  (void)map_put(m, key, (void *)val);
}

#endif
