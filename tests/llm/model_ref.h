/* Helpers for the model tests: reading llama.cpp's reference files from ../shared/testdata/llm
 * (ref-MODEL-PROMPT.tokens, ref-MODEL-PROMPT.logits.f32) and comparing logits rows (within a
 * tolerance, or bit for bit). */
#ifndef MIMIC_TESTS_MODEL_REF_H
#define MIMIC_TESTS_MODEL_REF_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/alloc.h"
#include "base/str.h"
#include "test.h"

/* Reads a whole file; caller frees with mem_free. NULL when unreadable. */
static inline char *ref_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *data = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n + 65536 + 1 > cap) {
      cap = (n + 65536 + 1) * 2;
      data = xrealloc(data, cap);
    }
    size_t got = fread(data + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
  }
  fclose(f);
  data[n] = '\0';
  *len = n;
  return data;
}

/* Space-separated token ids. Returns the count (0 on failure); caller frees *ids. */
static inline int ref_read_tokens(const char *path, int32_t **ids) {
  size_t len;
  char *text = ref_slurp(path, &len);
  *ids = NULL;
  if (!text) return 0;
  int n = 0, cap = 0;
  char *p = text;
  while (*p) {
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    if (!*p) break;
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) break;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      *ids = xrealloc(*ids, (size_t)cap * sizeof **ids);
    }
    (*ids)[n++] = (int32_t)v;
    p = end;
  }
  mem_free(text);
  return n;
}

/* ||a - ref||_2 / ||ref||_2 over n values. */
static inline double ref_rel_err(const float *a, const float *ref, size_t n) {
  double d = 0, r = 0;
  for (size_t i = 0; i < n; i++) {
    double e = (double)a[i] - (double)ref[i];
    d += e * e;
    r += (double)ref[i] * ref[i];
  }
  return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* Two rows of V logits are the same bits; otherwise a failure naming what, item i and the first
 * position that differs. */
static inline bool ref_same_logits(const float *a, const float *b, int V, const char *what, int i) {
  if (memcmp(a, b, (size_t)V * sizeof *a) == 0) return true;
  int k = 0;
  while (k < V - 1 && memcmp(a + k, b + k, sizeof *a) == 0) k++;
  TEST_FAIL_("%s, item %d: logits differ at %d (%.9g vs %.9g)", what, i, k, (double)a[k],
             (double)b[k]);
  return false;
}

#endif
