/* Who answers among the personas (see persona_route.h). The snapshot keeps every name, alias and
 * keyword lower-cased (ASCII) and every regex compiled (PCRE2, JIT when available), and the
 * message is lower-cased once, so a decision is a few substring scans per persona. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "bot/persona_route.h"

#include <math.h>
#include <pcre2.h>
#include <string.h>

#include "base/base.h"

#define PROUTE_TEXT_MAX 4096 /* bytes of a message scanned for names and keywords */

typedef struct pr_item {
  int64_t id;
  char *name;   /* as given */
  char **names; /* lower-cased name and aliases */
  size_t n_names;
  char **keywords; /* lower-cased */
  size_t n_keywords;
  pcre2_code **res;
  size_t n_res;
  uint64_t *channels;
  size_t n_channels;
  double freewill;
  float *vec; /* unit length; NULL: none */
} pr_item;

struct proute_set {
  pr_item *items;
  size_t n;
  int dim;
  size_t bad;
  pcre2_match_data *md;
};

static char lower(char c) { return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c; }

static char *lower_dup(const char *s) {
  char *d = xstrdup(s ? s : "");
  for (char *p = d; *p; p++) *p = lower(*p);
  return d;
}

static bool word_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c >= 0x80;
}

static char **dup_list(const char *const *v, size_t n, size_t *out_n) {
  char **d = n ? xcalloc(n, sizeof *d) : NULL;
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (v[i] && *v[i]) d[k++] = lower_dup(v[i]);
  *out_n = k;
  return d;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) mem_free(v[i]);
  mem_free(v);
}

int proute_set_new(const proute_persona *p, size_t n, int dim, proute_set **out) {
  *out = NULL;
  for (size_t i = 0; i < n; i++)
    if (p[i].id <= 0 || !p[i].name || !*p[i].name)
      return err_set(MIMIC_EINVAL, "persona %zu of the snapshot has no id or no name", i + 1);
  proute_set *s = xcalloc(1, sizeof *s);
  s->items = n ? xcalloc(n, sizeof *s->items) : NULL;
  s->n = n;
  s->dim = dim > 0 ? dim : 0;
  s->md = pcre2_match_data_create(8, NULL);
  if (!s->md) abort();
  for (size_t i = 0; i < n; i++) {
    pr_item *it = &s->items[i];
    const proute_persona *q = &p[i];
    it->id = q->id;
    it->name = xstrdup(q->name);
    it->names = xcalloc(1 + q->n_aliases, sizeof *it->names);
    it->names[it->n_names++] = lower_dup(q->name);
    for (size_t a = 0; a < q->n_aliases; a++)
      if (q->aliases[a] && *q->aliases[a]) it->names[it->n_names++] = lower_dup(q->aliases[a]);
    it->keywords = dup_list(q->keywords, q->n_keywords, &it->n_keywords);
    it->res = q->n_regexes ? xcalloc(q->n_regexes, sizeof *it->res) : NULL;
    for (size_t r = 0; r < q->n_regexes; r++) {
      int ec;
      PCRE2_SIZE eo;
      pcre2_code *re = pcre2_compile((PCRE2_SPTR)q->regexes[r], PCRE2_ZERO_TERMINATED,
                                     PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
      if (!re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ec, msg, sizeof msg);
        LOG_W("bot", "persona %s: trigger /%.100s/ left out: %s at offset %zu", q->name,
              q->regexes[r], (const char *)msg, (size_t)eo);
        s->bad++;
        continue;
      }
      (void)pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* optional: plain matching works too */
      it->res[it->n_res++] = re;
    }
    if (q->n_channels) {
      it->channels = xcalloc(q->n_channels, sizeof *it->channels);
      memcpy(it->channels, q->channels, q->n_channels * sizeof *it->channels);
      it->n_channels = q->n_channels;
    }
    it->freewill = q->freewill < 0 ? 0 : q->freewill > 1 ? 1 : q->freewill;
    if (s->dim && q->vec) {
      double norm = 0;
      for (int d = 0; d < s->dim; d++) norm += (double)q->vec[d] * q->vec[d];
      if (norm > 0) {
        it->vec = xcalloc((size_t)s->dim, sizeof *it->vec);
        float inv = (float)(1.0 / sqrt(norm));
        for (int d = 0; d < s->dim; d++) it->vec[d] = q->vec[d] * inv;
      }
    }
  }
  *out = s;
  return 0;
}

void proute_set_destroy(proute_set *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) {
    pr_item *it = &s->items[i];
    mem_free(it->name);
    free_list(it->names, it->n_names);
    free_list(it->keywords, it->n_keywords);
    for (size_t r = 0; r < it->n_res; r++) pcre2_code_free(it->res[r]);
    mem_free(it->res);
    mem_free(it->channels);
    mem_free(it->vec);
  }
  mem_free(s->items);
  pcre2_match_data_free(s->md);
  mem_free(s);
}

size_t proute_set_count(const proute_set *s) { return s ? s->n : 0; }
int proute_set_dim(const proute_set *s) { return s ? s->dim : 0; }
size_t proute_set_bad_patterns(const proute_set *s) { return s ? s->bad : 0; }

static bool ieq(const char *a, const char *lower_b) {
  for (; *a && *lower_b; a++, lower_b++)
    if (lower(*a) != *lower_b) return false;
  return !*a && !*lower_b;
}

int64_t proute_set_find(const proute_set *s, const char *name) {
  if (!s || !name) return 0;
  for (size_t i = 0; i < s->n; i++)
    for (size_t k = 0; k < s->items[i].n_names; k++)
      if (ieq(name, s->items[i].names[k])) return s->items[i].id;
  return 0;
}

const char *proute_set_name(const proute_set *s, int64_t id) {
  for (size_t i = 0; s && i < s->n; i++)
    if (s->items[i].id == id) return s->items[i].name;
  return NULL;
}

const char *proute_why_name(proute_why w) {
  static const char *names[] = {"none",  "reply",     "name",     "dm",   "keyword",
                                "regex", "relevance", "freewill", "scene"};
  return (unsigned)w < sizeof names / sizeof names[0] ? names[w] : "?";
}

/* ---- text tests over lower-cased text ---- */

static bool whole_at(const char *t, size_t n, size_t at, size_t len) {
  return (at == 0 || !word_char((unsigned char)t[at - 1])) &&
         (at + len >= n || !word_char((unsigned char)t[at + len]));
}

static bool has_word(const char *t, size_t n, const char *w) {
  size_t len = strlen(w);
  if (!len || len > n) return false;
  for (const char *p = t; (p = strstr(p, w)) != NULL; p++)
    if (whole_at(t, n, (size_t)(p - t), len)) return true;
  return false;
}

static const char *const greetings[] = {"hey", "hi",   "hello", "yo",  "ok",     "okay",
                                        "oh",  "dear", "hiya",  "sup", "thanks", "thank you"};

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Whether name (lower-cased) is addressed in t (lower-cased, n bytes). */
static bool addressed_lower(const char *t, size_t n, const char *name) {
  size_t len = strlen(name);
  if (!len || len > n) return false;
  for (const char *p = t; (p = strstr(p, name)) != NULL; p++) {
    size_t at = (size_t)(p - t);
    if (!whole_at(t, n, at, len)) continue;
    /* @name */
    if (at > 0 && t[at - 1] == '@') return true;
    /* what comes before, spaces skipped: nothing, a greeting, or a comma */
    size_t b = at;
    while (b > 0 && (t[b - 1] == ' ' || t[b - 1] == '\t')) b--;
    if (b == 0 || t[b - 1] == '\n') return true; /* "glordon, ..." at the start of a line */
    /* a greeting alone before it on its line: "hey glordon", "ok, glordon" */
    size_t e = b;
    while (e > 0 && (t[e - 1] == ',' || t[e - 1] == '!' || t[e - 1] == ' ' || t[e - 1] == '\t'))
      e--;
    size_t s0 = e;
    while (s0 > 0 && t[s0 - 1] != '\n') s0--;
    for (size_t g = 0; g < sizeof greetings / sizeof greetings[0]; g++) {
      size_t gl = strlen(greetings[g]);
      if (e - s0 == gl && strncmp(t + s0, greetings[g], gl) == 0) return true;
    }
    /* "..., glordon?" : a comma before and only punctuation after */
    if (t[b - 1] == ',') {
      size_t f = at + len;
      while (f < n && (t[f] == '?' || t[f] == '!' || t[f] == '.' || is_space(t[f]))) f++;
      if (f >= n) return true;
    }
  }
  return false;
}

/* Lower-cases up to PROUTE_TEXT_MAX bytes of text into out; returns the length. */
static size_t lower_into(const char *text, char *out) {
  size_t n = 0;
  for (const char *p = text ? text : ""; *p && n < PROUTE_TEXT_MAX; p++) out[n++] = lower(*p);
  out[n] = 0;
  return n;
}

bool proute_addressed(const char *text, const char *name) {
  char t[PROUTE_TEXT_MAX + 1], nm[256];
  size_t n = lower_into(text, t);
  str_lcpy(nm, name ? name : "", sizeof nm);
  for (char *p = nm; *p; p++) *p = lower(*p);
  return addressed_lower(t, n, nm);
}

/* ---- the decision ---- */

static bool may_speak(const pr_item *it, const proute_msg *m) {
  if (it->id == m->author_persona) return false;
  if (m->is_dm || !it->n_channels) return true;
  for (size_t i = 0; i < it->n_channels; i++)
    if (it->channels[i] == m->channel_id || (m->parent_id && it->channels[i] == m->parent_id))
      return true;
  return false;
}

typedef struct picks {
  proute_pick *out;
  size_t n, cap;
} picks;

static bool picked(const picks *p, int64_t id) {
  for (size_t i = 0; i < p->n; i++)
    if (p->out[i].id == id) return true;
  return false;
}

static bool add(picks *p, int64_t id, proute_why why, double score) {
  if (p->n >= p->cap || picked(p, id)) return p->n >= p->cap;
  p->out[p->n++] = (proute_pick){.id = id, .why = why, .score = score};
  return p->n >= p->cap;
}

static const pr_item *by_id(const proute_set *s, int64_t id) {
  for (size_t i = 0; i < s->n; i++)
    if (s->items[i].id == id) return &s->items[i];
  return NULL;
}

static bool regex_hit(const proute_set *s, const pr_item *it, const char *text, size_t n) {
  for (size_t r = 0; r < it->n_res; r++)
    if (pcre2_match(it->res[r], (PCRE2_SPTR)text, n, 0, 0, s->md, NULL) >= 0) return true;
  return false;
}

typedef struct cand {
  size_t idx;
  double score;
  int64_t quiet;
} cand;

size_t proute_decide(const proute_set *s, const proute_msg *m, prng *rng, proute_pick *out,
                     size_t cap) {
  if (!s || !s->n || !cap || m->max_answer < 1) return 0;
  picks p = {.out = out, .cap = cap < (size_t)m->max_answer ? cap : (size_t)m->max_answer};
  const char *content = m->content ? m->content : "";
  /* 1. a reply to a persona's message */
  if (m->reply_to_persona) {
    const pr_item *it = by_id(s, m->reply_to_persona);
    if (it && may_speak(it, m) && add(&p, it->id, PROUTE_REPLY, 1)) return p.n;
  }
  /* 2. addressed by name */
  char t[PROUTE_TEXT_MAX + 1];
  size_t n = lower_into(content, t);
  for (size_t i = 0; i < s->n; i++) {
    const pr_item *it = &s->items[i];
    if (!may_speak(it, m)) continue;
    for (size_t k = 0; k < it->n_names; k++)
      if (addressed_lower(t, n, it->names[k])) {
        if (add(&p, it->id, PROUTE_NAME, 1)) return p.n;
        break;
      }
  }
  /* 3. the persona chosen in this DM */
  if (m->is_dm) {
    const pr_item *it = m->dm_choice ? by_id(s, m->dm_choice) : NULL;
    if (it) add(&p, it->id, PROUTE_DM, 1);
    return p.n; /* in DMs nothing else calls a persona */
  }
  if (m->triggers_only_addressed) return p.n;
  /* 4. keywords, then regexes */
  for (size_t i = 0; i < s->n; i++) {
    const pr_item *it = &s->items[i];
    if (!it->n_keywords || !may_speak(it, m)) continue;
    for (size_t k = 0; k < it->n_keywords; k++)
      if (has_word(t, n, it->keywords[k])) {
        if (add(&p, it->id, PROUTE_KEYWORD, 1)) return p.n;
        break;
      }
  }
  size_t full = strlen(content);
  for (size_t i = 0; i < s->n; i++) {
    const pr_item *it = &s->items[i];
    if (it->n_res && may_speak(it, m) && regex_hit(s, it, content, full) &&
        add(&p, it->id, PROUTE_REGEX, 1))
      return p.n;
  }
  /* candidates for stages 5 and 6 */
  cand stack[64];
  cand *c = s->n <= 64 ? stack : xcalloc(s->n, sizeof *c);
  size_t nc = 0;
  /* 5. relevance, best first */
  bool any_vec = false;
  for (size_t i = 0; i < s->n && !any_vec; i++) any_vec = s->items[i].vec != NULL;
  const float *mv = !any_vec ? NULL : m->vec ? m->vec : m->vec_fn ? m->vec_fn(m->vec_user) : NULL;
  if (mv && s->dim) {
    double norm = 0;
    for (int d = 0; d < s->dim; d++) norm += (double)mv[d] * mv[d];
    double inv = norm > 0 ? 1.0 / sqrt(norm) : 0;
    for (size_t i = 0; inv > 0 && i < s->n; i++) {
      const pr_item *it = &s->items[i];
      if (!it->vec || !may_speak(it, m) || picked(&p, it->id)) continue;
      float dot = 0;
      for (int d = 0; d < s->dim; d++) dot += it->vec[d] * mv[d];
      double cos = dot * inv;
      if (cos > m->relevance_threshold) c[nc++] = (cand){.idx = i, .score = cos};
    }
    /* insertion sort: a handful of candidates */
    for (size_t i = 1; i < nc; i++)
      for (size_t j = i; j > 0 && c[j].score > c[j - 1].score; j--) {
        cand x = c[j];
        c[j] = c[j - 1];
        c[j - 1] = x;
      }
    for (size_t i = 0; i < nc; i++)
      if (add(&p, s->items[c[i].idx].id, PROUTE_RELEVANCE, c[i].score)) goto out;
  }
  /* 6. freewill: everyone rolls; the quietest winners first */
  nc = 0;
  for (size_t i = 0; i < s->n; i++) {
    const pr_item *it = &s->items[i];
    if (it->freewill <= 0 || !may_speak(it, m) || picked(&p, it->id)) continue;
    double roll = rng ? prng_uniform(rng) : 1.0;
    if (roll < it->freewill)
      c[nc++] = (cand){
          .idx = i, .score = roll, .quiet = m->last_spoke ? m->last_spoke(m->user, it->id) : 0};
  }
  for (size_t i = 1; i < nc; i++)
    for (size_t j = i; j > 0 && c[j].quiet < c[j - 1].quiet; j--) {
      cand x = c[j];
      c[j] = c[j - 1];
      c[j - 1] = x;
    }
  for (size_t i = 0; i < nc; i++)
    if (add(&p, s->items[c[i].idx].id, PROUTE_FREEWILL, c[i].score)) break;
out:
  if (c != stack) mem_free(c);
  return p.n;
}
