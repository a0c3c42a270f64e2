/* Tests for the one hash (base/hash.h): FNV-1a known answers (a changed hash would move stored
 * slot keys and rate-limit buckets) and the finaliser's spread over low bits. */
#include "base/hash.h"
#include "test.h"

TEST(fnv64_known_answers) {
  CHECK(hash_fnv64("", 0) == 0xcbf29ce484222325ull);
  CHECK(hash_fnv64("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(hash_fnv64("foobar", 6) == 0x85944171f73967e8ull);
  /* Continuing a hash is the same as hashing the concatenation. */
  CHECK(hash_fnv64_more(hash_fnv64("foo", 3), "bar", 3) == hash_fnv64("foobar", 6));
}

TEST(fnv32_known_answers) {
  CHECK(hash_fnv32("", 0) == 2166136261u);
  CHECK(hash_fnv32("a", 1) == 0xe40c292cu);
  CHECK(hash_fnv32("foobar", 6) == 0xbf9cf968u);
}

TEST(mix_spreads_low_bits) {
  /* Keys differing only in high bits (snowflakes) land in different low-bit slots. */
  int used[64] = {0}, distinct = 0;
  for (uint64_t i = 0; i < 64; i++) {
    uint64_t slot = hash_mix64(i << 40) & 63;
    if (!used[slot]++) distinct++;
  }
  CHECK(distinct > 30);
  CHECK(hash_mix64(0) == 0); /* bijective: 0 maps to 0, nothing else does */
  CHECK(hash_fnv64_mixed("a", 1) == hash_mix64(hash_fnv64("a", 1)));
}

int main(void) {
  RUN(fnv64_known_answers);
  RUN(fnv32_known_answers);
  RUN(mix_spreads_low_bits);
  TEST_MAIN_END();
}
