/* Splitting long replies for Discord (see split.h). Works on a copy of the remaining text; each
 * round finds the longest prefix that fits, then walks back to the best boundary inside it. */
#include "discord/split.h"

#include <ctype.h>
#include <stdbool.h>
#include <string.h>

#include "base/base.h"

size_t split_units(const char *s, size_t n) {
  size_t u = 0;
  for (size_t i = 0; i < n;) {
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    if (k < 0) {
      u++;
      i++;
      continue;
    }
    u += cp >= 0x10000 ? 2 : 1;
    i += (size_t)k;
  }
  return u;
}

/* Largest byte count whose prefix fits `budget` units, on a code point boundary. */
static size_t fit_prefix(const char *s, size_t n, size_t budget) {
  size_t u = 0, i = 0;
  while (i < n) {
    uint32_t cp;
    int k = utf8_decode(s + i, n - i, &cp);
    size_t w = (k > 0 && cp >= 0x10000) ? 2 : 1;
    if (k < 0) k = 1;
    if (u + w > budget) break;
    u += w;
    i += (size_t)k;
  }
  return i;
}

/* Code-fence state at byte c: inside a ``` block? Sets *open to the opening fence's offset and
 * copies its language (letters, digits, + - # _ ., at most 16) into lang. */
static bool in_code_block(const char *s, size_t c, size_t *open, char lang[17]) {
  bool inside = false;
  for (size_t i = 0; i + 3 <= c; i++) {
    if (s[i] == '`' && s[i + 1] == '`' && s[i + 2] == '`') {
      inside = !inside;
      if (inside) *open = i;
      i += 2;
    }
  }
  lang[0] = 0;
  if (inside) {
    size_t j = *open + 3, k = 0;
    while (j < c && k < 16 && (isalnum((unsigned char)s[j]) || strchr("+-#_.", s[j])))
      lang[k++] = s[j++];
    lang[k] = 0;
    if (j < c && s[j] != '\n') lang[0] = 0; /* not a bare language tag */
  }
  return inside;
}

/* If byte c falls inside a Discord token "<...>" (mention, channel, role, emoji, timestamp, slash
 * command), returns the token's start; else c. */
static size_t token_guard(const char *s, size_t n, size_t c) {
  size_t lo = c > 100 ? c - 100 : 0;
  for (size_t i = c; i-- > lo;) {
    if (s[i] == '>' || s[i] == ' ' || s[i] == '\n') return c;
    if (s[i] == '<') {
      if (i + 1 >= n) return c;
      char t = s[i + 1];
      if (t != '@' && t != '#' && t != ':' && t != 'a' && t != 't' && t != '/') return c;
      for (size_t j = c; j < n && j < i + 120; j++) {
        if (s[j] == '>') return i > 0 ? i : c;
        if (s[j] == ' ' || s[j] == '\n') return c;
      }
      return c;
    }
  }
  return c;
}

/* Best cut in s[0..lim): paragraph, line, sentence, word, else lim (guarded). `lo` is the shortest
 * acceptable part for a soft boundary. */
static size_t best_cut(const char *s, size_t n, size_t lim, size_t lo) {
  for (size_t i = lim; i > lo; i--)
    if (i >= 2 && s[i - 1] == '\n' && s[i - 2] == '\n') return i;
  for (size_t i = lim; i > lo; i--)
    if (s[i - 1] == '\n') return i;
  for (size_t i = lim; i > lo; i--)
    if (i < n && (s[i] == ' ' || s[i] == '\n') &&
        (s[i - 1] == '.' || s[i - 1] == '!' || s[i - 1] == '?'))
      return i;
  for (size_t i = lim; i > lo; i--)
    if (s[i - 1] == ' ' || s[i - 1] == '\t') return i;
  size_t c = token_guard(s, n, lim);
  return c > 0 ? c : lim;
}

static bool blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!isspace((unsigned char)s[i])) return false;
  return true;
}

static void push_part(char ***parts, size_t *count, size_t *cap, const char *s, size_t n,
                      const char *suffix) {
  while (n && isspace((unsigned char)s[n - 1])) n--;
  size_t b = 0;
  while (b < n && (s[b] == '\n' || s[b] == '\r')) b++;
  if (blank(s + b, n - b)) return;
  if (*count == *cap) {
    *cap = *cap ? *cap * 2 : 4;
    *parts = xrealloc(*parts, *cap * sizeof **parts);
  }
  size_t sl = suffix ? strlen(suffix) : 0;
  char *p = xalloc(n - b + sl + 1);
  memcpy(p, s + b, n - b);
  if (sl) memcpy(p + n - b, suffix, sl);
  p[n - b + sl] = 0;
  (*parts)[(*count)++] = p;
}

int split_text(const char *text, size_t max, char ***parts, size_t *count) {
  *parts = NULL;
  *count = 0;
  if (max < 64) return err_set(MIMIC_EINVAL, "message parts must allow at least 64 characters");
  if (!text) return 0;
  size_t cap = 0;
  char *cur = utf8_repair(text, strlen(text));
  size_t n = strlen(cur);
  size_t carried = 0; /* length of the reopened fence at the start of cur */
  for (;;) {
    if (split_units(cur, n) <= max) {
      push_part(parts, count, &cap, cur, n, NULL);
      break;
    }
    size_t lim = fit_prefix(cur, n, max);
    size_t lo = lim / 4 > carried ? lim / 4 : carried;
    size_t c = best_cut(cur, n, lim, lo);
    size_t open = 0;
    char lang[17];
    const char *suffix = NULL;
    char prefix[32] = "";
    if (in_code_block(cur, c, &open, lang)) {
      /* Move the whole block to the next part when the text before it is long enough. */
      size_t before = open;
      while (before > 0 && cur[before - 1] != '\n') before--;
      if (before > lo) {
        c = before;
      } else {
        /* Split inside the block: close it here ("\n```", 4 units) and reopen it next. */
        lim = fit_prefix(cur, n, max - 4);
        size_t lo2 = open + 3 > carried ? open + 3 : carried;
        c = best_cut(cur, n, lim, lo2 < lim ? lo2 : lo);
        if (!in_code_block(cur, c, &open, lang)) {
          /* the cut moved out of the block: no fence games needed */
        } else {
          suffix = "\n```";
          snprintf(prefix, sizeof prefix, "```%s\n", lang);
        }
      }
    }
    if (c <= carried) c = lim > carried ? lim : n; /* always consume some of the text */
    push_part(parts, count, &cap, cur, c, suffix);
    /* The next round's text: the reopened fence, then what follows the cut. */
    size_t skip = c;
    while (skip < n && (cur[skip] == '\n' || cur[skip] == '\r' || cur[skip] == ' ')) skip++;
    size_t pl = strlen(prefix), rl = n - skip;
    char *next = xalloc(pl + rl + 1);
    memcpy(next, prefix, pl);
    memcpy(next + pl, cur + skip, rl);
    next[pl + rl] = 0;
    mem_free(cur);
    cur = next;
    n = pl + rl;
    carried = pl;
  }
  mem_free(cur);
  return 0;
}

void split_free(char **parts, size_t count) {
  if (!parts) return;
  for (size_t i = 0; i < count; i++) mem_free(parts[i]);
  mem_free(parts);
}
