/* xoshiro256** and splitmix64 (see rng.h). */
#include "base/rng.h"

uint64_t prng_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

void prng_seed(prng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = prng_splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t prng_next(prng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double prng_uniform(prng *r) { return (double)(prng_next(r) >> 11) * 0x1.0p-53; }

uint64_t prng_below(prng *r, uint64_t n) {
  if (n == 0) return 0;
  /* Rejects the 2^64 mod n smallest outputs, so the rest is a whole number of copies of [0, n)
   * (OpenBSD's arc4random_uniform); at most one retry in two even in the worst case. */
  uint64_t min = (0 - n) % n, x;
  do x = prng_next(r);
  while (x < min);
  return x % n;
}
