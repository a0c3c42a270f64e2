/* The one non-cryptographic hash: FNV-1a (64- and 32-bit) over bytes, and a 64-bit finaliser for
 * callers that index tables with the low bits (FNV's low bits mix poorly on short keys). Stable
 * across platforms and runs, so a hash may be stored or shown (a rate-limit bucket, a slot key).
 * Not for anything an attacker may choose to collide on purpose where that would matter. */
#ifndef MIMIC_BASE_HASH_H
#define MIMIC_BASE_HASH_H
#include <stddef.h>
#include <stdint.h>

#define HASH_FNV64_OFFSET 0xcbf29ce484222325ull
#define HASH_FNV64_PRIME  0x100000001b3ull
#define HASH_FNV32_OFFSET 2166136261u
#define HASH_FNV32_PRIME  16777619u

/* FNV-1a 64 of p[0..n), continuing from h (start with HASH_FNV64_OFFSET). */
static inline uint64_t hash_fnv64_more(uint64_t h, const void *p, size_t n) {
  const unsigned char *s = p;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * HASH_FNV64_PRIME;
  return h;
}
static inline uint64_t hash_fnv64(const void *p, size_t n) {
  return hash_fnv64_more(HASH_FNV64_OFFSET, p, n);
}
/* FNV-1a 32 of p[0..n). */
static inline uint32_t hash_fnv32(const void *p, size_t n) {
  const unsigned char *s = p;
  uint32_t h = HASH_FNV32_OFFSET;
  for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * HASH_FNV32_PRIME;
  return h;
}
/* A bijective 64-bit finaliser (splitmix64's): every input bit reaches every output bit, so the
 * low bits of hash_mix64(h) are fit for a power-of-two table. */
static inline uint64_t hash_mix64(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
/* FNV-1a 64 then hash_mix64: for hash tables keyed by strings. */
static inline uint64_t hash_fnv64_mixed(const void *p, size_t n) {
  return hash_mix64(hash_fnv64(p, n));
}

#endif
