/* The one pseudo-random generator: xoshiro256** seeded through splitmix64 (public-domain
 * algorithms by Blackman and Vigna). Identical sequences on every platform for a given seed, so a
 * seed reproduces a generation, a shuffle or a weight initialisation exactly. Not for secrets (use
 * OpenSSL's RAND_bytes for those). Not thread-safe: each user owns its state. */
#ifndef MIMIC_BASE_RNG_H
#define MIMIC_BASE_RNG_H
#include <stdint.h>

typedef struct prng {
  uint64_t s[4]; /* never all zero once seeded (splitmix64 cannot produce four zeros) */
} prng;

/* One step of splitmix64: advances *state and returns the next output. Also a good seed mixer on
 * its own (every bit of the state affects every bit of the output). */
uint64_t prng_splitmix64(uint64_t *state);
/* Seeds r from seed (any value, 0 included). */
void prng_seed(prng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t prng_next(prng *r);
/* Uniform double in [0, 1), 53 random bits. */
double prng_uniform(prng *r);
/* Uniform integer in [0, n) without modulo bias; 0 when n is 0. */
uint64_t prng_below(prng *r, uint64_t n);

#endif
