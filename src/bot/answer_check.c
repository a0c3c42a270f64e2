/* The mini-games' answer checker (answer_check.h): normalisation, then an edit distance scaled by
 * the answer's length. Self-contained below the bot's stack: it knows nothing of `bot`. */
#include "bot/answer_check.h"

#include <string.h>

#include "base/utf8.h"

/* Latin-1 Supplement and Latin Extended-A (U+00C0..U+017F) folded to ASCII letters; "" keeps the
 * code point as it is. Two-letter folds (ß, æ, œ, þ, ĳ) come from the table too. */
static const char *const fold_c0[] = {
    /* C0 */ "a",  "a", "a",  "a",  "a", "a", "ae", "c",
    "e",           "e", "e",  "e",  "i", "i", "i",  "i",
    /* D0 */ "d",  "n", "o",  "o",  "o", "o", "o",  "",
    "o",           "u", "u",  "u",  "u", "y", "th", "ss",
    /* E0 */ "a",  "a", "a",  "a",  "a", "a", "ae", "c",
    "e",           "e", "e",  "e",  "i", "i", "i",  "i",
    /* F0 */ "d",  "n", "o",  "o",  "o", "o", "o",  "",
    "o",           "u", "u",  "u",  "u", "y", "th", "y",
    /* 100 */ "a", "a", "a",  "a",  "a", "a", "c",  "c",
    "c",           "c", "c",  "c",  "c", "c", "d",  "d",
    /* 110 */ "d", "d", "e",  "e",  "e", "e", "e",  "e",
    "e",           "e", "e",  "e",  "g", "g", "g",  "g",
    /* 120 */ "g", "g", "g",  "g",  "h", "h", "h",  "h",
    "i",           "i", "i",  "i",  "i", "i", "i",  "i",
    /* 130 */ "i", "i", "ij", "ij", "j", "j", "k",  "k",
    "k",           "l", "l",  "l",  "l", "l", "l",  "l",
    /* 140 */ "l", "l", "l",  "n",  "n", "n", "n",  "n",
    "n",           "n", "n",  "n",  "o", "o", "o",  "o",
    /* 150 */ "o", "o", "oe", "oe", "r", "r", "r",  "r",
    "r",           "r", "s",  "s",  "s", "s", "s",  "s",
    /* 160 */ "s", "s", "t",  "t",  "t", "t", "t",  "t",
    "u",           "u", "u",  "u",  "u", "u", "u",  "u",
    /* 170 */ "u", "u", "u",  "u",  "w", "w", "y",  "y",
    "y",           "z", "z",  "z",  "z", "z", "z",  "s",
};

/* Punctuation and symbols outside ASCII that separate words: general punctuation (U+2000..U+206F),
 * Latin-1 punctuation, CJK and full-width marks are treated as spaces. */
static bool is_space_cp(uint32_t c) {
  if (c < 0x80)
    return !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  return (c >= 0xA0 && c <= 0xBF) || c == 0xD7 || c == 0xF7 || (c >= 0x2000 && c <= 0x206F) ||
         (c >= 0x3000 && c <= 0x303F) || (c >= 0xFF01 && c <= 0xFF0F);
}

static bool is_apostrophe(uint32_t c) {
  return c == '\'' || c == 0x2019 || c == 0x2018 || c == '`';
}

/* Appends the folded form of c to out (code points), returning the new count. */
static size_t put_cp(uint32_t c, uint32_t *out, size_t n, size_t cap) {
  if (c >= 'A' && c <= 'Z') c += 32;
  if (c >= 0xC0 && c <= 0x17F && fold_c0[c - 0xC0][0]) {
    for (const char *f = fold_c0[c - 0xC0]; *f && n < cap; f++) out[n++] = (uint32_t)*f;
    return n;
  }
  if (c >= 0x391 && c <= 0x3A9) c += 32; /* Greek capitals */
  if (c >= 0x410 && c <= 0x42F) c += 32; /* Cyrillic capitals */
  if (n < cap) out[n++] = c;
  return n;
}

/* The normalized code points of s into out[cap]; returns the count. */
static size_t norm_cps(const char *s, uint32_t *out, size_t cap) {
  size_t n = 0, len = strlen(s);
  bool space = true; /* drops leading spaces and collapses runs */
  for (size_t i = 0; i < len && n < cap;) {
    uint32_t c;
    int k = utf8_decode(s + i, len - i, &c);
    if (k < 0) {
      i++;
      continue;
    }
    i += (size_t)k;
    if (is_apostrophe(c)) continue;
    if (is_space_cp(c) || c == 0x300 || (c >= 0x300 && c <= 0x36F)) {
      if (c >= 0x300 && c <= 0x36F) continue; /* combining marks: the base letter stays */
      if (!space && n < cap) out[n++] = ' ';
      space = true;
      continue;
    }
    n = put_cp(c, out, n, cap);
    space = false;
  }
  while (n && out[n - 1] == ' ') n--;
  /* a leading article, unless it is the whole answer */
  static const char *const articles[] = {"the ", "an ", "a "};
  for (size_t a = 0; a < 3; a++) {
    size_t al = strlen(articles[a]);
    if (n <= al) continue;
    bool m = true;
    for (size_t k = 0; k < al && m; k++) m = out[k] == (uint32_t)(unsigned char)articles[a][k];
    if (m) {
      memmove(out, out + al, (n - al) * sizeof *out);
      n -= al;
      break;
    }
  }
  return n;
}

size_t answer_normalize(const char *s, char *out, size_t cap) {
  uint32_t cps[ANSWER_MAX_CPS];
  size_t n = norm_cps(s ? s : "", cps, ANSWER_MAX_CPS), o = 0;
  if (!cap) return 0;
  for (size_t i = 0; i < n; i++) {
    char b[4];
    int k = utf8_encode(cps[i], b);
    if (k <= 0 || o + (size_t)k >= cap) break;
    memcpy(out + o, b, (size_t)k);
    o += (size_t)k;
  }
  out[o] = 0;
  return o;
}

int answer_tolerance(size_t n) {
  if (n < 4) return 0;
  if (n < 8) return 1;
  if (n < 14) return 2;
  return 3;
}

/* Optimal string alignment distance over code points, with an early exit above cap. */
static int osa(const uint32_t *a, size_t na, const uint32_t *b, size_t nb, int cap) {
  if ((na > nb ? na - nb : nb - na) > (size_t)cap) return cap + 1;
  int rows[3][ANSWER_MAX_CPS + 1];
  int *pp = rows[0], *p = rows[1], *c = rows[2];
  for (size_t j = 0; j <= nb; j++) p[j] = (int)j;
  for (size_t i = 1; i <= na; i++) {
    c[0] = (int)i;
    int best = c[0];
    for (size_t j = 1; j <= nb; j++) {
      int cost = a[i - 1] != b[j - 1];
      int v = p[j] + 1;
      if (c[j - 1] + 1 < v) v = c[j - 1] + 1;
      if (p[j - 1] + cost < v) v = p[j - 1] + cost;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < v)
        v = pp[j - 2] + 1;
      c[j] = v;
      if (v < best) best = v;
    }
    if (best > cap) return cap + 1;
    int *t = pp;
    pp = p;
    p = c;
    c = t;
  }
  return p[nb] > cap ? cap + 1 : p[nb];
}

int answer_distance(const char *a, const char *b, int cap) {
  uint32_t ca[ANSWER_MAX_CPS], cb[ANSWER_MAX_CPS];
  size_t na = 0, nb = 0, la = strlen(a), lb = strlen(b);
  for (size_t i = 0; i < la && na < ANSWER_MAX_CPS;) {
    int k = utf8_decode(a + i, la - i, &ca[na]);
    i += k > 0 ? (size_t)k : 1;
    if (k > 0) na++;
  }
  for (size_t i = 0; i < lb && nb < ANSWER_MAX_CPS;) {
    int k = utf8_decode(b + i, lb - i, &cb[nb]);
    i += k > 0 ? (size_t)k : 1;
    if (k > 0) nb++;
  }
  return osa(ca, na, cb, nb, cap < 0 ? 0 : cap);
}

static bool match_one(const uint32_t *g, size_t ng, const char *expected, size_t elen) {
  char tmp[1024];
  if (elen >= sizeof tmp) elen = utf8_floor(expected, elen, sizeof tmp - 1);
  memcpy(tmp, expected, elen);
  tmp[elen] = 0;
  uint32_t e[ANSWER_MAX_CPS];
  size_t ne = norm_cps(tmp, e, ANSWER_MAX_CPS);
  if (!ne) return false;
  bool digits = false;
  size_t letters = 0;
  for (size_t i = 0; i < ne; i++) {
    if (e[i] >= '0' && e[i] <= '9') digits = true;
    if (e[i] != ' ') letters++;
  }
  int tol = digits ? 0 : answer_tolerance(letters);
  return osa(g, ng, e, ne, tol) <= tol;
}

bool answer_check(const char *guess, const char *answer, const char *aliases) {
  if (!guess || !answer) return false;
  uint32_t g[ANSWER_MAX_CPS];
  size_t ng = norm_cps(guess, g, ANSWER_MAX_CPS);
  if (!ng) return false;
  if (match_one(g, ng, answer, strlen(answer))) return true;
  for (const char *p = aliases; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t len = nl ? (size_t)(nl - p) : strlen(p);
    if (len && match_one(g, ng, p, len)) return true;
    p = nl ? nl + 1 : p + len;
  }
  return false;
}

bool answer_in_text(const char *answer, const char *text) {
  uint32_t a[ANSWER_MAX_CPS];
  static _Thread_local uint32_t t[ANSWER_TEXT_MAX_CPS]; /* 16 KiB: off the stack */
  size_t na = norm_cps(answer ? answer : "", a, ANSWER_MAX_CPS);
  size_t nt = norm_cps(text ? text : "", t, ANSWER_TEXT_MAX_CPS);
  if (!na || na > nt) return false;
  for (size_t i = 0; i + na <= nt; i++) {
    if (i > 0 && t[i - 1] != ' ') continue;
    if (i + na < nt && t[i + na] != ' ') continue;
    if (memcmp(t + i, a, na * sizeof *a) == 0) return true;
  }
  return false;
}
