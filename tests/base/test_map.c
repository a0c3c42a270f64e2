/* Tests for the u64 hash map against a brute-force model under random inserts and deletes. */
#include "base/base.h"
#include "test.h"

static prng rng;
static uint64_t next(void) { return prng_next(&rng); }

TEST(map_matches_model) {
  enum { N = 512 };
  uint64_t keys[N];
  long model[N] = {0};                                                    /* 0 = absent */
  for (int i = 0; i < N; i++) keys[i] = (next() % 5000) * 4194304ull + 1; /* snowflake-like */
  map_u64 m;
  map_init(&m);
  for (int step = 0; step < 20000; step++) {
    int i = (int)(next() % N);
    /* Duplicate keys in the array share a model slot: use the first index holding that key. */
    for (int j = 0; j < i; j++)
      if (keys[j] == keys[i]) {
        i = j;
        break;
      }
    if (next() % 3) {
      long v = (long)(next() % 1000) + 1;
      map_put(&m, keys[i], (void *)v);
      model[i] = v;
    } else {
      void *old = map_del(&m, keys[i]);
      CHECK_INT((long)old, model[i]);
      model[i] = 0;
    }
    if (step % 997 == 0)
      for (int k = 0; k < N; k++) {
        int first = k;
        for (int j = 0; j < k; j++)
          if (keys[j] == keys[k]) {
            first = j;
            break;
          }
        if ((long)map_get(&m, keys[k]) != model[first]) {
          CHECK_INT((long)map_get(&m, keys[k]), model[first]);
          break;
        }
      }
  }
  size_t count = 0, it = 0;
  uint64_t k;
  void *v;
  while (map_next(&m, &it, &k, &v)) count++;
  CHECK_INT(count, m.len);
  CHECK(map_get(&m, 0) == NULL);
  map_free(&m);
}

/* Integer values and clearing (what collect's importers use: index + 1, flags + 1). */
TEST(map_uint_values_and_clear) {
  map_u64 m;
  map_init(&m);
  for (uint64_t k = 1; k <= 100; k++) map_put_uint(&m, k << 22, (uintptr_t)k + 1);
  CHECK_INT(m.len, 100);
  for (uint64_t k = 1; k <= 100; k++) CHECK_INT(map_get_uint(&m, k << 22), k + 1);
  CHECK_INT(map_get_uint(&m, 12345), 0);
  size_t cap = m.cap;
  map_clear(&m);
  CHECK_INT(m.len, 0);
  CHECK_INT(m.cap, cap); /* storage kept */
  CHECK_INT(map_get_uint(&m, 5 << 22), 0);
  map_put_uint(&m, 7, 3);
  CHECK_INT(map_get_uint(&m, 7), 3);
  CHECK_INT(m.cap, cap);
  map_free(&m);
}

TEST(set_ids_parses_an_id_list_and_replaces_the_set) {
  map_u64 m;
  map_init(&m);
  map_put_uint(&m, 7, 1);
  map_set_ids(&m, " 123456789012345678, 42 ,x,0,,  99\t100");
  CHECK_INT(m.len, 4);
  CHECK(map_get_uint(&m, 123456789012345678ull) == 1 && map_get_uint(&m, 42) == 1);
  CHECK(map_get_uint(&m, 99) == 1 && map_get_uint(&m, 100) == 1);
  CHECK(map_get_uint(&m, 7) == 0); /* replaced, not added to */
  map_set_ids(&m, NULL);
  CHECK_INT(m.len, 0);
  map_free(&m);
}

int main(void) {
  prng_seed(&rng, 88172645463325252ull);
  RUN(map_matches_model);
  RUN(map_uint_values_and_clear);
  RUN(set_ids_parses_an_id_list_and_replaces_the_set);
  TEST_MAIN_END();
}
