/* u64 -> pointer hash map (see map.h). */
#include "base/map.h"

#include <ctype.h>
#include <string.h>

#include "base/alloc.h"
#include "base/err.h"
#include "base/str.h"

static size_t slot_of(uint64_t key, size_t cap) {
  key ^= key >> 33;
  key *= 0xff51afd7ed558ccdull; /* a 64-bit finaliser mix: snowflakes share high bits */
  key ^= key >> 33;
  return (size_t)key & (cap - 1);
}

void map_init(map_u64 *m) {
  m->keys = NULL;
  m->vals = NULL;
  m->cap = m->len = 0;
}

void map_free(map_u64 *m) {
  mem_free(m->keys);
  mem_free(m->vals);
  map_init(m);
}

void map_clear(map_u64 *m) {
  if (m->cap) {
    memset(m->keys, 0, m->cap * sizeof *m->keys);
    memset(m->vals, 0, m->cap * sizeof *m->vals);
  }
  m->len = 0;
}

void *map_get(const map_u64 *m, uint64_t key) {
  if (!m->cap || !key) return NULL;
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) return m->vals[i];
    if (m->keys[i] == 0) return NULL;
  }
}

static void grow(map_u64 *m) {
  size_t ncap = m->cap ? m->cap * 2 : 16;
  uint64_t *ok = m->keys;
  void **ov = m->vals;
  size_t ocap = m->cap;
  m->keys = xcalloc(ncap, sizeof *m->keys);
  m->vals = xcalloc(ncap, sizeof *m->vals);
  m->cap = ncap;
  m->len = 0;
  for (size_t i = 0; i < ocap; i++)
    if (ok[i]) map_put(m, ok[i], ov[i]);
  mem_free(ok);
  mem_free(ov);
}

void *map_put(map_u64 *m, uint64_t key, void *val) {
  if (!key) return NULL;
  if ((m->len + 1) * 4 > m->cap * 3) grow(m);
  for (size_t i = slot_of(key, m->cap);; i = (i + 1) & (m->cap - 1)) {
    if (m->keys[i] == key) {
      void *old = m->vals[i];
      m->vals[i] = val;
      return old;
    }
    if (m->keys[i] == 0) {
      m->keys[i] = key;
      m->vals[i] = val;
      m->len++;
      return NULL;
    }
  }
}

void *map_del(map_u64 *m, uint64_t key) {
  if (!m->cap || !key) return NULL;
  size_t mask = m->cap - 1, i = slot_of(key, m->cap);
  while (m->keys[i] != key) {
    if (m->keys[i] == 0) return NULL;
    i = (i + 1) & mask;
  }
  void *old = m->vals[i];
  /* Backward-shift: move later members of the probe run into the hole so lookups stay correct. */
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask;
    if (m->keys[j] == 0) break;
    size_t home = slot_of(m->keys[j], m->cap);
    /* j's entry may move to i only if its home is not cyclically within (i, j]. */
    if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
      m->keys[i] = m->keys[j];
      m->vals[i] = m->vals[j];
      i = j;
    }
  }
  m->keys[i] = 0;
  m->vals[i] = NULL;
  m->len--;
  return old;
}

int map_next(const map_u64 *m, size_t *iter, uint64_t *key, void **val) {
  while (*iter < m->cap) {
    size_t i = (*iter)++;
    if (m->keys[i]) {
      if (key) *key = m->keys[i];
      if (val) *val = m->vals[i];
      return 1;
    }
  }
  return 0;
}

void map_set_ids(map_u64 *m, const char *list) {
  map_clear(m);
  const char *p = list ? list : "";
  while (*p) {
    while (*p == ',' || isspace((unsigned char)*p)) p++;
    char tmp[32];
    size_t n = 0;
    while (*p && *p != ',' && !isspace((unsigned char)*p) && n < sizeof tmp - 1) tmp[n++] = *p++;
    while (*p && *p != ',' && !isspace((unsigned char)*p)) p++;
    tmp[n] = 0;
    uint64_t id;
    if (n && str_to_u64(tmp, &id) == 0 && id)
      map_put_uint(m, id, 1);
    else if (n)
      err_clear();
  }
}
