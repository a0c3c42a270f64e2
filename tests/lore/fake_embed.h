/* A deterministic stand-in for a sentence encoder: each lower-cased word (letters, digits, '_')
 * hashed into one of FAKE_DIM buckets with a sign, the sum L2-normalised. Texts sharing words get a
 * high cosine, so tests can reason about vector hits without a model. */
#ifndef MIMIC_TESTS_FAKE_EMBED_H
#define MIMIC_TESTS_FAKE_EMBED_H
#include <math.h>
#include <string.h>

#include "base/hash.h"
#include "base/str.h"
#include "lore/lore.h"

#define FAKE_DIM 64

static int fake_embed(void *user, const char *const *texts, size_t n, float *out) {
  int *calls = user;
  if (calls) (*calls)++;
  for (size_t t = 0; t < n; t++) {
    float *v = out + t * FAKE_DIM;
    memset(v, 0, FAKE_DIM * sizeof *v);
    const char *p = texts[t];
    while (*p) {
      char w[64];
      size_t l = 0;
      while (*p && !((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                     (*p >= '0' && *p <= '9') || *p == '_'))
        p++;
      while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
             *p == '_') {
        if (l < sizeof w - 1) w[l++] = (char)(*p >= 'A' && *p <= 'Z' ? *p | 0x20 : *p);
        p++;
      }
      if (!l) continue;
      uint64_t h = hash_fnv64(w, l);
      v[h % FAKE_DIM] += (h >> 32) & 1 ? 1.0f : -1.0f;
    }
    double s = 0;
    for (int i = 0; i < FAKE_DIM; i++) s += (double)v[i] * v[i];
    if (s == 0) v[0] = 1, s = 1;
    for (int i = 0; i < FAKE_DIM; i++) v[i] = (float)(v[i] / sqrt(s));
  }
  return 0;
}

static inline lore_embedder fake_embedder(int *calls) {
  lore_embedder e = {.dim = FAKE_DIM, .embed = fake_embed, .user = calls};
  memcpy(e.name, "fake-bow-64", sizeof "fake-bow-64");
  return e;
}

#endif
