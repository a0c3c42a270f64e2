/* Lookups over the generated Unicode tables (unicode_tables.c): binary search, no allocation. */
#include "llm/tok_int.h"

int tok__ucls(uint32_t cp) {
  size_t lo = 0, hi = tok__n_uclass;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < tok__uclass[mid].first)
      hi = mid;
    else if (cp > tok__uclass[mid].last)
      lo = mid + 1;
    else
      return tok__uclass[mid].cls;
  }
  return UCLASS_UNASSIGNED;
}

int tok__uspace(uint32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= 0x09 && cp <= 0x0D);
  return cp == 0x85 || cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F || cp == 0x3000;
}

static uint32_t map_lookup(const tok__umap *m, size_t n, uint32_t cp) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (cp < m[mid].from)
      hi = mid;
    else if (cp > m[mid].from)
      lo = mid + 1;
    else
      return m[mid].to;
  }
  return cp;
}

uint32_t tok__ulower_of(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  return map_lookup(tok__ulower, tok__ulower_n, cp);
}

uint32_t tok__unfd_first(uint32_t cp) {
  if (cp < 0xC0) return cp;
  if (cp >= 0xAC00 && cp <= 0xD7A3) return 0x1100 + (cp - 0xAC00) / 588; /* Hangul: leading jamo */
  return map_lookup(tok__unfd, tok__unfd_n, cp);
}
