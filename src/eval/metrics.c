/* Style metrics between two sets of messages: length distributions (JSD, KS), distinct-n, character
 * 3-5-gram TF-IDF cosine, vocabulary overlap, surface-marker rates and the verbatim copy rate.
 * Pure functions over strings; n-grams and words are compared through 64-bit hashes (a collision
 * between two distinct grams has odds around 2^-64 per pair, far below the metrics' noise), except
 * the copy rate, which confirms every hash hit by comparing the texts. Not here: perplexity
 * (perplexity.c) or anything that needs a model. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/hash.h"
#include "eval/eval.h"

const int eval_len_bin_lo[EVAL_LEN_BINS] = {0, 5, 10, 20, 30, 50, 80, 120, 200, 300, 500, 1000};

/* ---- code points ------------------------------------------------------------------------------
 */

bool eval_cp_is_emoji(uint32_t cp) {
  if (cp >= 0x1F3FB && cp <= 0x1F3FF) return false; /* skin tones modify the emoji before them */
  return (cp >= 0x1F000 && cp <= 0x1FAFF) || (cp >= 0x2600 && cp <= 0x27BF) ||
         (cp >= 0x2300 && cp <= 0x23FF) || (cp >= 0x2B00 && cp <= 0x2BFF);
}

/* Latin Extended-A pairs: upper case is the even member in U+0100-0137 and U+014A-0177, the odd
 * member in U+0139-0148 and U+0179-017E; U+0178 (Ÿ) is upper. U+0138 and U+0149 are lower only. */
static int latin_ext_a(uint32_t cp) { /* 1 upper, -1 lower, 0 none */
  if (cp < 0x100 || cp > 0x17F) return 0;
  if (cp == 0x178) return 1;
  if (cp == 0x138 || cp == 0x149 || cp == 0x17F) return -1;
  bool even = (cp & 1) == 0;
  if (cp <= 0x137 || (cp >= 0x14A && cp <= 0x177)) return even ? 1 : -1;
  return even ? -1 : 1;
}

bool eval_cp_is_upper(uint32_t cp) {
  if (cp < 0x80) return cp >= 'A' && cp <= 'Z';
  if (cp >= 0xC0 && cp <= 0xDE) return cp != 0xD7;
  if (cp >= 0x100 && cp <= 0x17F) return latin_ext_a(cp) > 0;
  if (cp >= 0x391 && cp <= 0x3A9) return cp != 0x3A2;
  return cp >= 0x400 && cp <= 0x42F;
}

bool eval_cp_is_lower(uint32_t cp) {
  if (cp < 0x80) return cp >= 'a' && cp <= 'z';
  if (cp >= 0xDF && cp <= 0xFF) return cp != 0xF7;
  if (cp >= 0x100 && cp <= 0x17F) return latin_ext_a(cp) < 0;
  if (cp >= 0x3AC && cp <= 0x3CE) return true;
  return cp >= 0x430 && cp <= 0x45F;
}

static uint32_t cp_fold(uint32_t cp) {
  if (!eval_cp_is_upper(cp)) return cp;
  if (cp < 0x80 || (cp >= 0xC0 && cp <= 0xDE) || (cp >= 0x391 && cp <= 0x3A9) ||
      (cp >= 0x410 && cp <= 0x42F))
    return cp + 0x20;
  if (cp >= 0x400 && cp <= 0x40F) return cp + 0x50;
  if (cp == 0x178) return 0xFF;
  return cp + 1; /* Latin Extended-A pair */
}

/* Letters, digits and apostrophes make words; symbols, punctuation, spaces and emoji do not. */
static bool cp_is_wordch(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9') ||
           cp == '\'';
  if (cp == 0x2019) return true; /* ’ typed as an apostrophe */
  if (cp < 0xC0 || cp == 0xD7 || cp == 0xF7) return false;
  if (cp < 0x2000) return true;
  if (cp <= 0x2BFF || (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE00 && cp <= 0xFE0F) ||
      (cp >= 0xFF00 && cp <= 0xFF0F) || cp == 0xFFFD || (cp >= 0xE0000))
    return false;
  return !eval_cp_is_emoji(cp);
}

static bool cp_is_space(uint32_t cp) {
  return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' ||
         cp == 0xA0 || cp == 0x3000 || (cp >= 0x2000 && cp <= 0x200A);
}

/* Decodes up to EVAL_MSG_MAX bytes of s into cps (room for EVAL_MSG_MAX); returns the count. */
static size_t decode(const char *s, uint32_t *cps) {
  size_t len = strnlen(s, EVAL_MSG_MAX), n = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    int k = utf8_decode(s + i, len - i, &cp);
    if (k < 0) k = 1; /* cp is U+FFFD */
    cps[n++] = cp;
    i += (size_t)k;
  }
  return n;
}

size_t eval_msg_len(const char *s) { return utf8_count(s, strnlen(s, EVAL_MSG_MAX)); }

const char *eval_strip_speaker(const char *s) {
  const char *c = strstr(s, ": ");
  if (!c || c == s || c - s > 64 || memchr(s, '\n', (size_t)(c - s))) return s;
  return c + 2;
}

bool eval_speaker(const char *s, char *out, size_t cap) {
  const char *t = eval_strip_speaker(s);
  if (t == s || cap == 0) return false;
  size_t n = (size_t)(t - 2 - s);
  if (n >= cap) n = cap - 1;
  memcpy(out, s, n);
  out[n] = 0;
  return true;
}

/* ---- hashing ------------------------------------------------------------------------------------
 */

static uint64_t mix64(uint64_t x) { /* splitmix64 finaliser */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static uint64_t hash_cps(const uint32_t *cp, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL ^ n;
  for (size_t i = 0; i < n; i++) h = mix64(h ^ cp[i]) + 0x9e3779b97f4a7c15ULL;
  return h ? h : 1;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* A growing array of hashes. */
typedef struct hvec {
  uint64_t *v;
  size_t n, cap;
} hvec;

static void hvec_push(hvec *h, uint64_t x) {
  if (h->n == h->cap) {
    h->cap = h->cap ? h->cap * 2 : 256;
    h->v = xrealloc(h->v, h->cap * sizeof *h->v);
  }
  h->v[h->n++] = x;
}

/* Sorts and removes duplicates; returns the number of distinct values. */
static size_t hvec_uniq(hvec *h) {
  if (!h->n) return 0;
  qsort(h->v, h->n, sizeof *h->v, cmp_u64);
  size_t k = 1;
  for (size_t i = 1; i < h->n; i++)
    if (h->v[i] != h->v[k - 1]) h->v[k++] = h->v[i];
  h->n = k;
  return k;
}

/* ---- words
 * ---------------------------------------------------------------------------------------- */

/* Hashes the words of s into out (room for EVAL_MSG_MAX); cps is scratch of EVAL_MSG_MAX. */
static size_t words_of(const char *s, uint32_t *cps, uint64_t *out) {
  size_t n = decode(s, cps), nw = 0;
  for (size_t i = 0; i < n;) {
    if (eval_cp_is_emoji(cps[i])) {
      out[nw++] = hash_cps(&cps[i], 1);
      i++;
    } else if (cp_is_wordch(cps[i])) {
      size_t j = i;
      while (j < n && cp_is_wordch(cps[j])) {
        cps[j] = cps[j] == 0x2019 ? '\'' : cp_fold(cps[j]);
        j++;
      }
      out[nw++] = hash_cps(&cps[i], j - i);
      i = j;
    } else {
      i++;
    }
  }
  return nw;
}

static int check_set(size_t n, const char *what) {
  if (n > EVAL_MAX_ITEMS)
    return err_set(MIMIC_ERANGE, "%s: %zu messages is over the %u-message cap", what, n,
                   EVAL_MAX_ITEMS);
  return 0;
}

int eval_distinct(const char *const *msgs, size_t n, int order, double *out) {
  *out = 0;
  if (order < 1 || order > 8)
    return err_set(MIMIC_EINVAL, "distinct-n: order %d is not in 1..8", order);
  int rc = check_set(n, "distinct-n");
  if (rc) return rc;
  uint32_t *cps = xalloc(EVAL_MSG_MAX * sizeof *cps);
  uint64_t *w = xalloc(EVAL_MSG_MAX * sizeof *w);
  hvec all = {0};
  size_t total = 0;
  for (size_t m = 0; m < n; m++) {
    size_t nw = words_of(msgs[m], cps, w);
    for (size_t i = 0; i + (size_t)order <= nw; i++) {
      uint64_t h = 0x8a5cd789635d2dffULL + (uint64_t)order;
      for (int k = 0; k < order; k++) h = mix64(h ^ w[i + (size_t)k]);
      hvec_push(&all, h);
      total++;
    }
  }
  if (total) *out = (double)hvec_uniq(&all) / (double)total;
  mem_free(all.v);
  mem_free(w);
  mem_free(cps);
  return 0;
}

static void vocab_of(const char *const *msgs, size_t n, hvec *v) {
  uint32_t *cps = xalloc(EVAL_MSG_MAX * sizeof *cps);
  uint64_t *w = xalloc(EVAL_MSG_MAX * sizeof *w);
  for (size_t m = 0; m < n; m++) {
    size_t nw = words_of(msgs[m], cps, w);
    for (size_t i = 0; i < nw; i++) hvec_push(v, w[i]);
  }
  hvec_uniq(v);
  mem_free(w);
  mem_free(cps);
}

int eval_vocab_jaccard(const char *const *a, size_t na, const char *const *b, size_t nb,
                       double *out) {
  *out = 0;
  int rc;
  if ((rc = check_set(na, "vocabulary overlap")) || (rc = check_set(nb, "vocabulary overlap")))
    return rc;
  hvec va = {0}, vb = {0};
  vocab_of(a, na, &va);
  vocab_of(b, nb, &vb);
  size_t i = 0, j = 0, inter = 0;
  while (i < va.n && j < vb.n) {
    if (va.v[i] == vb.v[j])
      inter++, i++, j++;
    else if (va.v[i] < vb.v[j])
      i++;
    else
      j++;
  }
  size_t uni = va.n + vb.n - inter;
  if (uni) *out = (double)inter / (double)uni;
  mem_free(va.v);
  mem_free(vb.v);
  return 0;
}

/* ---- lengths ----------------------------------------------------------------------------------
 */

static int len_bin(size_t len) {
  int b = 0;
  while (b + 1 < EVAL_LEN_BINS && len >= (size_t)eval_len_bin_lo[b + 1]) b++;
  return b;
}

double eval_jsd(const double *p, const double *q, size_t n) {
  double sp = 0, sq = 0;
  for (size_t i = 0; i < n; i++) {
    sp += p[i] > 0 ? p[i] : 0;
    sq += q[i] > 0 ? q[i] : 0;
  }
  if (sp <= 0 && sq <= 0) return 0;
  if (sp <= 0 || sq <= 0) return 1;
  double d = 0;
  for (size_t i = 0; i < n; i++) {
    double a = p[i] > 0 ? p[i] / sp : 0, b = q[i] > 0 ? q[i] / sq : 0, m = (a + b) / 2;
    if (a > 0) d += 0.5 * a * log2(a / m);
    if (b > 0) d += 0.5 * b * log2(b / m);
  }
  if (d < 0) d = 0; /* rounding */
  return d > 1 ? 1 : d;
}

static int cmp_size(const void *a, const void *b) {
  size_t x = *(const size_t *)a, y = *(const size_t *)b;
  return x < y ? -1 : x > y;
}

double eval_len_ks(const char *const *a, size_t na, const char *const *b, size_t nb) {
  if (!na || !nb || na > EVAL_MAX_ITEMS || nb > EVAL_MAX_ITEMS) return 0;
  size_t *la = xalloc(na * sizeof *la), *lb = xalloc(nb * sizeof *lb);
  for (size_t i = 0; i < na; i++) la[i] = eval_msg_len(a[i]);
  for (size_t i = 0; i < nb; i++) lb[i] = eval_msg_len(b[i]);
  qsort(la, na, sizeof *la, cmp_size);
  qsort(lb, nb, sizeof *lb, cmp_size);
  size_t i = 0, j = 0;
  double d = 0;
  while (i < na && j < nb) {
    size_t x = la[i] < lb[j] ? la[i] : lb[j];
    while (i < na && la[i] == x) i++;
    while (j < nb && lb[j] == x) j++;
    double diff = fabs((double)i / (double)na - (double)j / (double)nb);
    if (diff > d) d = diff;
  }
  mem_free(la);
  mem_free(lb);
  return d;
}

/* ---- style profile ----------------------------------------------------------------------------
 */

/* ":name:" shortcode (prepare renders custom emoji so) or raw "<:name:id>" / "<a:name:id>". */
static bool has_custom_emoji(const char *s, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (s[i] != ':') continue;
    size_t j = i + 1;
    bool letter = false;
    while (j < len && j - i <= 33 &&
           ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z') ||
            (s[j] >= '0' && s[j] <= '9') || s[j] == '_')) {
      letter |= (s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z');
      j++;
    }
    if (j < len && s[j] == ':' && j - i - 1 >= 2 && letter) return true;
  }
  return false;
}

/* When cps[i] starts Discord markup whose letters are not the writer's casing (<:name:id>, <@id>,
 * <#id>, :shortcode:), returns the index of its last code point; else i. */
static size_t skip_markup(const uint32_t *cps, size_t nc, size_t i) {
  if (cps[i] == '<' && i + 1 < nc &&
      (cps[i + 1] == ':' || cps[i + 1] == 'a' || cps[i + 1] == '@' || cps[i + 1] == '#')) {
    for (size_t j = i + 1; j < nc && j - i < 100; j++) {
      if (cps[j] == '>') return j;
      if (cp_is_space(cps[j])) break;
    }
  }
  if (cps[i] == ':') {
    size_t j = i + 1;
    while (j < nc && j - i <= 33 && cps[j] < 0x80 && (cp_is_wordch(cps[j]) || cps[j] == '_') &&
           cps[j] != '\'')
      j++;
    if (j < nc && cps[j] == ':' && j - i - 1 >= 2) return j;
  }
  return i;
}

static bool is_punct_run_ch(uint32_t cp) { return cp == '!' || cp == '?' || cp == '.'; }

int eval_style_compute(const char *const *msgs, size_t n, eval_style *out) {
  memset(out, 0, sizeof *out);
  int rc = check_set(n, "style");
  if (rc) return rc;
  out->n = n;
  if (!n) return 0;
  uint32_t *cps = xalloc(EVAL_MSG_MAX * sizeof *cps);
  uint64_t *w = xalloc(EVAL_MSG_MAX * sizeof *w);
  double len_sum = 0, words_sum = 0;
  size_t emoji = 0, caps = 0, lower = 0, prun = 0, quest = 0, endp = 0;
  for (size_t m = 0; m < n; m++) {
    const char *s = msgs[m];
    size_t nc = decode(s, cps);
    len_sum += (double)nc;
    out->len_hist[len_bin(nc)] += 1;
    bool has_emoji = has_custom_emoji(s, strnlen(s, EVAL_MSG_MAX)), first_seen = false, run = false,
         asks = false;
    size_t up = 0, low = 0;
    for (size_t i = 0; i < nc; i++) {
      uint32_t cp = cps[i];
      if (eval_cp_is_emoji(cp)) has_emoji = true;
      if (cp == '@' && (i == 0 || cp_is_space(cps[i - 1]))) { /* a mention's name is not style */
        while (i + 1 < nc && !cp_is_space(cps[i + 1])) i++;
        continue;
      }
      size_t j = skip_markup(cps, nc, i);
      if (j != i) {
        i = j;
        continue;
      }
      if (eval_cp_is_upper(cp)) {
        up++;
        first_seen = true;
      } else if (eval_cp_is_lower(cp)) {
        if (!first_seen) lower++;
        low++;
        first_seen = true;
      }
      if (cp == 0x2026 || (i + 1 < nc && is_punct_run_ch(cp) && is_punct_run_ch(cps[i + 1])))
        run = true;
      if (cp == '?' || cp == 0xFF1F) asks = true;
    }
    emoji += has_emoji;
    quest += asks;
    caps += up >= 2 && low == 0;
    prun += run;
    size_t e = nc;
    while (e > 0 && (cp_is_space(cps[e - 1]) || eval_cp_is_emoji(cps[e - 1]) ||
                     (cps[e - 1] >= 0x1F3FB && cps[e - 1] <= 0x1F3FF) || cps[e - 1] == 0xFE0F ||
                     cps[e - 1] == 0x200D))
      e--;
    endp += e > 0 && (cps[e - 1] == '.' || cps[e - 1] == '!' || cps[e - 1] == '?');
    words_sum += (double)words_of(s, cps, w);
  }
  double dn = (double)n;
  out->len_mean = len_sum / dn;
  out->words_mean = words_sum / dn;
  for (int b = 0; b < EVAL_LEN_BINS; b++) out->len_hist[b] /= dn;
  out->rate_emoji = (double)emoji / dn;
  out->rate_caps = (double)caps / dn;
  out->rate_lower_start = (double)lower / dn;
  out->rate_punct_run = (double)prun / dn;
  out->rate_question = (double)quest / dn;
  out->rate_end_punct = (double)endp / dn;
  mem_free(w);
  mem_free(cps);
  if ((rc = eval_distinct(msgs, n, 1, &out->distinct1)) ||
      (rc = eval_distinct(msgs, n, 2, &out->distinct2)))
    return rc;
  return 0;
}

/* ---- character n-gram TF-IDF --------------------------------------------------------------------
 */

typedef struct gram {
  uint64_t key; /* 0 = empty */
  uint32_t df;
  double tf[2]; /* summed tf per set */
} gram;

typedef struct gtab {
  gram *g;
  size_t cap, len;
} gtab;

static gram *gtab_get(gtab *t, uint64_t key) {
  if ((t->len + 1) * 10 > t->cap * 7) {
    size_t ncap = t->cap ? t->cap * 2 : 1024;
    gram *ng = xcalloc(ncap, sizeof *ng);
    for (size_t i = 0; i < t->cap; i++) {
      if (!t->g[i].key) continue;
      size_t j = mix64(t->g[i].key) & (ncap - 1);
      while (ng[j].key) j = (j + 1) & (ncap - 1);
      ng[j] = t->g[i];
    }
    mem_free(t->g);
    t->g = ng;
    t->cap = ncap;
  }
  size_t j = mix64(key) & (t->cap - 1);
  while (t->g[j].key && t->g[j].key != key) j = (j + 1) & (t->cap - 1);
  if (!t->g[j].key) {
    t->g[j].key = key;
    t->len++;
  }
  return &t->g[j];
}

static void tfidf_add_set(gtab *t, const char *const *msgs, size_t n, int side, uint32_t *cps,
                          uint64_t *grams) {
  for (size_t m = 0; m < n; m++) {
    cps[0] = ' ';
    size_t nc = decode(msgs[m], cps + 1) + 1;
    cps[nc++] = ' ';
    size_t ng = 0;
    for (size_t len = 3; len <= 5; len++)
      for (size_t i = 0; i + len <= nc; i++) grams[ng++] = hash_cps(&cps[i], len);
    if (!ng) continue;
    qsort(grams, ng, sizeof *grams, cmp_u64);
    for (size_t i = 0; i < ng;) {
      size_t j = i;
      while (j < ng && grams[j] == grams[i]) j++;
      gram *g = gtab_get(t, grams[i]);
      g->df++;
      g->tf[side] += (double)(j - i) / (double)ng;
      i = j;
    }
  }
}

int eval_tfidf_cosine(const char *const *a, size_t na, const char *const *b, size_t nb,
                      double *out) {
  *out = 0;
  int rc;
  if ((rc = check_set(na, "tf-idf")) || (rc = check_set(nb, "tf-idf"))) return rc;
  if (!na || !nb) return 0;
  uint32_t *cps = xalloc((EVAL_MSG_MAX + 2) * sizeof *cps);
  uint64_t *grams = xalloc(3 * (EVAL_MSG_MAX + 2) * sizeof *grams);
  gtab t = {0};
  tfidf_add_set(&t, a, na, 0, cps, grams);
  tfidf_add_set(&t, b, nb, 1, cps, grams);
  double N = (double)(na + nb), dot = 0, qa = 0, qb = 0;
  for (size_t i = 0; i < t.cap; i++) {
    const gram *g = &t.g[i];
    if (!g->key) continue;
    double idf = log((1 + N) / (1 + (double)g->df)) + 1;
    double x = idf * g->tf[0] / (double)na, y = idf * g->tf[1] / (double)nb;
    dot += x * y;
    qa += x * x;
    qb += y * y;
  }
  if (qa > 0 && qb > 0) *out = dot / (sqrt(qa) * sqrt(qb));
  if (*out > 1) *out = 1;
  mem_free(t.g);
  mem_free(grams);
  mem_free(cps);
  return 0;
}

/* ---- copy rate
 * ------------------------------------------------------------------------------------ */

/* Trimmed, whitespace-collapsed copy of s (up to EVAL_MSG_MAX bytes) into out (EVAL_MSG_MAX + 1).
 */
static size_t normalize(const char *s, char *out) {
  size_t len = strnlen(s, EVAL_MSG_MAX), k = 0;
  bool space = false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f') {
      space = k > 0;
      continue;
    }
    if (space) out[k++] = ' ';
    space = false;
    out[k++] = c;
  }
  out[k] = 0;
  return k;
}

typedef struct hidx {
  uint64_t h;
  size_t i;
} hidx;

static int cmp_hidx(const void *a, const void *b) {
  const hidx *x = a, *y = b;
  return x->h < y->h ? -1 : x->h > y->h;
}

int eval_copy_rate(const char *const *gen, size_t ngen, const char *const *train, size_t ntrain,
                   size_t min_chars, double *rate, size_t *copies) {
  *rate = 0;
  if (copies) *copies = 0;
  int rc;
  if ((rc = check_set(ngen, "copy rate")) || (rc = check_set(ntrain, "copy rate (training set)")))
    return rc;
  if (!ngen) return 0;
  char *na = xalloc(EVAL_MSG_MAX + 1), *nb = xalloc(EVAL_MSG_MAX + 1);
  hidx *idx = xalloc((ntrain ? ntrain : 1) * sizeof *idx);
  for (size_t i = 0; i < ntrain; i++) {
    size_t k = normalize(train[i], na);
    idx[i] = (hidx){hash_fnv64(na, k), i};
  }
  qsort(idx, ntrain, sizeof *idx, cmp_hidx);
  size_t hits = 0;
  for (size_t g = 0; g < ngen; g++) {
    size_t k = normalize(gen[g], na);
    if (!k || utf8_count(na, k) < min_chars) continue;
    uint64_t h = hash_fnv64(na, k);
    size_t lo = 0, hi = ntrain; /* first index with idx.h >= h */
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (idx[mid].h < h)
        lo = mid + 1;
      else
        hi = mid;
    }
    for (; lo < ntrain && idx[lo].h == h; lo++) {
      size_t k2 = normalize(train[idx[lo].i], nb);
      if (k2 == k && memcmp(na, nb, k) == 0) {
        hits++;
        break;
      }
    }
  }
  *rate = (double)hits / (double)ngen;
  if (copies) *copies = hits;
  mem_free(idx);
  mem_free(na);
  mem_free(nb);
  return 0;
}

/* ---- all of it ---------------------------------------------------------------------------------
 */

int eval_compare_sets(const char *const *real, size_t nr, const char *const *gen, size_t ng,
                      const char *const *train, size_t ntrain, size_t min_chars,
                      eval_compare *out) {
  memset(out, 0, sizeof *out);
  out->copy_rate = NAN;
  out->embed_cos = NAN;
  out->embed_pair_cos = NAN;
  out->embed_centroid_cos = NAN;
  int rc;
  if ((rc = eval_style_compute(real, nr, &out->real)) ||
      (rc = eval_style_compute(gen, ng, &out->gen)))
    return rc;
  out->len_jsd = eval_jsd(out->real.len_hist, out->gen.len_hist, EVAL_LEN_BINS);
  out->len_ks = eval_len_ks(real, nr, gen, ng);
  if ((rc = eval_tfidf_cosine(real, nr, gen, ng, &out->tfidf_cos)) ||
      (rc = eval_vocab_jaccard(real, nr, gen, ng, &out->vocab_jaccard)))
    return rc;
  if (train &&
      (rc = eval_copy_rate(gen, ng, train, ntrain, min_chars, &out->copy_rate, &out->copies)))
    return rc;
  return 0;
}
