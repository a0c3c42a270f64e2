/* Tests for the one generator (base/rng.h): known answers, so every platform and every caller
 * (sampler, training, jitter) draws the same sequence, and the bounded draw's range and spread. */
#include "base/base.h"
#include "test.h"

TEST(splitmix64_known_answer) {
  uint64_t s = 0;
  CHECK(prng_splitmix64(&s) == 0xe220a8397b1dcdafull);
  CHECK(s == 0x9E3779B97F4A7C15ull);
}

TEST(xoshiro_known_answer) {
  prng r;
  prng_seed(&r, 0);
  CHECK(prng_next(&r) == 0x99ec5f36cb75f2b4ull);
  CHECK(prng_next(&r) == 0xbf6e1f784956452aull);
  CHECK(prng_next(&r) == 0x1a5f849d4933e6e0ull);
}

TEST(seed_reproduces) {
  prng a, b, c;
  prng_seed(&a, 42);
  prng_seed(&b, 42);
  prng_seed(&c, 43);
  int same_c = 0;
  for (int i = 0; i < 100; i++) {
    uint64_t x = prng_next(&a), y = prng_next(&b), z = prng_next(&c);
    CHECK(x == y);
    same_c += x == z;
  }
  CHECK_INT(same_c, 0);
}

TEST(uniform_in_unit_interval) {
  prng r;
  prng_seed(&r, 7);
  double sum = 0;
  for (int i = 0; i < 10000; i++) {
    double u = prng_uniform(&r);
    CHECK(u >= 0 && u < 1);
    sum += u;
  }
  CHECK_NEAR(sum / 10000, 0.5, 0.02);
}

TEST(below_is_in_range_and_spread) {
  prng r;
  prng_seed(&r, 9);
  CHECK(prng_below(&r, 0) == 0);
  CHECK(prng_below(&r, 1) == 0);
  int count[6] = {0};
  for (int i = 0; i < 60000; i++) {
    uint64_t v = prng_below(&r, 6);
    REQUIRE(v < 6);
    count[v]++;
  }
  for (int i = 0; i < 6; i++) CHECK(count[i] > 9000 && count[i] < 11000);
  /* A bound just over half the range (the worst case for rejection) still works. */
  uint64_t big = (UINT64_MAX / 2) + 2;
  for (int i = 0; i < 100; i++) CHECK(prng_below(&r, big) < big);
}

int main(void) {
  RUN(splitmix64_known_answer);
  RUN(xoshiro_known_answer);
  RUN(seed_reproduces);
  RUN(uniform_in_unit_interval);
  RUN(below_is_in_range_and_spread);
  TEST_MAIN_END();
}
