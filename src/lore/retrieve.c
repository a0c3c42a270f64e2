/* The encoder seam and retrieval (see lore.h): hybrid search over lore chunks and community recall
 * over messages, each fusing a vector list (store/vectors.h, scope-filtered exact search) and a
 * BM25 list (store/lore.h) by reciprocal rank. Without an encoder the BM25 list alone is used. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "base/config.h"
#include "embed/embed.h"
#include "lore/lore_int.h"
#include "store/vectors.h"

/* ---- the encoder seam ---- */

static int embed_cb(void *user, const char *const *texts, size_t n, float *out) {
  return embed_texts(user, texts, n, true, out);
}

int lore_embedder_open(const char *path, int threads, lore_embedder *out) {
  memset(out, 0, sizeof *out);
  embed_opts eo = {.threads = threads};
  embed_model *m = embed_open(path, &eo);
  if (!m) return err_prefix(MIMIC_EUNSUPPORTED, "sentence encoder");
  int dim = embed_dim(m);
  if (dim < 1 || dim > STORE_VEC_DIM_MAX) {
    embed_close(m);
    return err_set(MIMIC_EUNSUPPORTED, "%s: an encoder of width %d (1..%d supported)", path, dim,
                   STORE_VEC_DIM_MAX);
  }
  out->dim = dim;
  str_lcpy(out->name, embed_name(m), sizeof out->name);
  out->embed = embed_cb;
  out->user = m;
  return 0;
}

void lore_embedder_close(lore_embedder *e) {
  if (!e) return;
  if (e->embed == embed_cb) embed_close(e->user);
  memset(e, 0, sizeof *e);
}

static atomic_int said_once;

lore_embedder *lore_embedder_from_config(const cfg *c, int threads) {
  const char *path = cfg_str(c, CFG_EMBED_MODEL);
  if (!path || !*path) {
    if (!atomic_exchange(&said_once, 1))
      LOG_I("lore", "no sentence encoder (embed.model): search and recall use full text alone");
    return NULL;
  }
  lore_embedder *e = xcalloc(1, sizeof *e);
  if (lore_embedder_open(path, threads, e)) {
    if (!atomic_exchange(&said_once, 1))
      LOG_W("lore", "%s; search and recall use full text alone", err_msg());
    err_clear();
    mem_free(e);
    return NULL;
  }
  return e;
}

void lore_embedder_destroy(lore_embedder *e) {
  if (!e) return;
  lore_embedder_close(e);
  mem_free(e);
}

/* ---- retrieval ---- */

struct lore_retriever {
  store *s;
  const lore_embedder *emb;
  store_vec_index *lore_ix, *msg_ix;
};

lore_retriever *lore_retriever_new(store *s, const lore_embedder *emb) {
  lore_retriever *r = xcalloc(1, sizeof *r);
  r->s = s;
  r->emb = emb;
  return r;
}

void lore_retriever_free(lore_retriever *r) {
  if (!r) return;
  store_vec_index_close(r->lore_ix);
  store_vec_index_close(r->msg_ix);
  mem_free(r);
}

/* Words that say nothing about a topic: left out of full-text queries (unless nothing else is
 * left), so "what is the castle" matches castles, not every "the". */
static const char *const stop_words[] = {
    "a",     "an",    "and",  "are",   "as",    "at",    "be",   "but", "by",   "can",
    "could", "did",   "do",   "does",  "for",   "from",  "had",  "has", "have", "he",
    "her",   "his",   "how",  "i",     "if",    "in",    "is",   "it",  "its",  "me",
    "my",    "no",    "not",  "of",    "on",    "or",    "our",  "she", "so",   "that",
    "the",   "their", "them", "then",  "there", "they",  "this", "to",  "us",   "was",
    "we",    "were",  "what", "when",  "where", "which", "who",  "why", "will", "with",
    "would", "you",   "your", "about", "just",  "like",  "all",  "any", "some", "tell",
};

static bool stop_word(const char *w, size_t n) {
  char low[16];
  if (n >= sizeof low) return false;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)w[i];
    if (c == '?' || c == '!' || c == '.' || c == ',') {
      n = i;
      break;
    }
    low[i] = (char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
  }
  low[n] = 0;
  for (size_t i = 0; i < sizeof stop_words / sizeof stop_words[0]; i++)
    if (strcmp(low, stop_words[i]) == 0) return true;
  return n == 0;
}

/* The query without stop words, or the query itself when nothing else is left. Caller frees. */
static char *content_words(const char *q) {
  buf b;
  buf_init(&b, 0);
  const char *p = q;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    const char *w = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
    if (p > w && !stop_word(w, (size_t)(p - w)))
      if ((b.len && buf_putc(&b, ' ')) || buf_append(&b, w, (size_t)(p - w))) break;
  }
  if (b.len == 0) {
    buf_free(&b);
    return xstrdup(q);
  }
  return buf_steal(&b);
}

typedef struct cand {
  int64_t id;
  int rank_v, rank_t; /* 1-based; 0 = not in that list */
  double cos, score;
} cand;

typedef struct cands {
  cand *v;
  size_t n;
} cands;

static cand *cand_of(cands *c, int64_t id) {
  for (size_t i = 0; i < c->n; i++)
    if (c->v[i].id == id) return &c->v[i];
  c->v = xrealloc(c->v, (c->n + 1) * sizeof *c->v);
  cand *x = &c->v[c->n++];
  memset(x, 0, sizeof *x);
  x->id = id;
  x->cos = NAN;
  return x;
}

static int by_score(const void *a, const void *b) {
  const cand *x = a, *y = b;
  if (x->score != y->score) return x->score > y->score ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

static void fuse(cands *c, int rrf_k) {
  for (size_t i = 0; i < c->n; i++) {
    cand *x = &c->v[i];
    x->score =
        (x->rank_v ? 1.0 / (rrf_k + x->rank_v) : 0) + (x->rank_t ? 1.0 / (rrf_k + x->rank_t) : 0);
  }
  if (c->n) qsort(c->v, c->n, sizeof *c->v, by_score);
}

static const char *why_of(const cand *x) {
  return x->rank_v && x->rank_t ? "both" : x->rank_v ? "vector" : "text";
}

/* The vector list: the query embedded, the index of (kind, the encoder) searched. */
static int vector_list(lore_retriever *r, int kind, store_vec_index **ix, const char *query,
                       const char *const *scopes, size_t n_scopes, double min_cos, size_t k,
                       uint64_t before_id, cands *out) {
  const lore_embedder *e = r->emb;
  if (!e || !e->embed) return 0;
  int rc;
  if (!*ix && (rc = store_vec_index_open(r->s, kind, e->name, e->dim, ix))) return rc;
  float *q = xalloc((size_t)e->dim * sizeof *q);
  store_vec_hit *hits = xcalloc(k, sizeof *hits);
  size_t n = 0;
  rc = e->embed(e->user, &query, 1, q);
  if (rc) {
    rc = err_prefix(rc, "embedding the query");
    goto out;
  }
  store_vec_query vq = {
      .q = q, .scopes = scopes, .n_scopes = n_scopes, .min_score = (float)min_cos, .k = k};
  if ((rc = store_vec_search(*ix, &vq, hits, &n))) goto out;
  int rank = 0;
  for (size_t i = 0; i < n; i++) {
    if (before_id && (uint64_t)hits[i].ref_id >= before_id) continue;
    cand *x = cand_of(out, hits[i].ref_id);
    x->rank_v = ++rank;
    x->cos = hits[i].score;
  }
out:
  mem_free(q);
  mem_free(hits);
  return rc;
}

static void text_list(const store_fts_hit *h, size_t n, cands *out) {
  for (size_t i = 0; i < n; i++) cand_of(out, h[i].id)->rank_t = (int)i + 1;
}

typedef struct fill_ctx {
  lore_retriever *r;
  const lore_search_opts *o;
  const cand *x;
  lore_items *out;
  bool skipped;
} fill_ctx;

static int fill_chunk(const store_lore_chunk *c, void *user) {
  fill_ctx *f = user;
  if (f->o->no_wi && c->wi) {
    f->skipped = true;
    return 0;
  }
  store_lore_source *src = xalloc(sizeof *src);
  int rc = store_lore_source_get(f->r->s, c->source_id, src);
  if (rc == 0) {
    lore_item *it = lore__item_push(f->out, c->id, src->path, c->scope, c->title, c->text);
    it->score = f->x->score;
    it->cos = f->x->cos;
    it->order = c->order;
    str_lcpy(it->why, why_of(f->x), sizeof it->why);
    it->tokens = lore__count(NULL, NULL, c->text);
    f->out->tokens += it->tokens;
  }
  mem_free(src);
  return rc;
}

int lore_search(lore_retriever *r, const char *query, const lore_search_opts *o, lore_items *out) {
  memset(out, 0, sizeof *out);
  static const lore_search_opts dflt = {.min_cos = 0.5};
  if (!o) o = &dflt;
  size_t k = o->k ? o->k : 10;
  int rrf_k = o->rrf_k > 0 ? o->rrf_k : 60;
  size_t n_pool = k * 4 < 50 ? 50 : k * 4;
  if (!query) query = "";
  size_t qn = strlen(query);
  if (qn > STORE_LORE_QUERY_MAX)
    return err_set(MIMIC_ERANGE, "search query of %zu bytes exceeds the %d-byte cap", qn,
                   STORE_LORE_QUERY_MAX);
  if (!utf8_valid(query, qn)) return err_set(MIMIC_EFORMAT, "search query is not valid UTF-8");
  cands c = {0};
  store_fts_hit *th = xcalloc(n_pool, sizeof *th);
  size_t nt = 0;
  char *words = content_words(query);
  int rc = store_lore_fts(r->s, words, o->scopes, o->n_scopes, n_pool, th, &nt);
  if (!rc) {
    text_list(th, nt, &c);
    rc = vector_list(r, STORE_VEC_LORE, &r->lore_ix, query, o->scopes, o->n_scopes, o->min_cos,
                     n_pool, 0, &c);
  }
  if (!rc) {
    fuse(&c, rrf_k);
    for (size_t i = 0; i < c.n && out->n < k && !rc; i++) {
      fill_ctx f = {.r = r, .o = o, .x = &c.v[i], .out = out};
      rc = store_lore_chunk_get(r->s, c.v[i].id, fill_chunk, &f);
      if (rc == MIMIC_ENOTFOUND) rc = 0, err_clear(); /* deleted since: skip */
    }
  }
  mem_free(words);
  mem_free(th);
  mem_free(c.v);
  if (rc) lore_items_free(out);
  return rc;
}

int lore_recall(lore_retriever *r, const char *query, uint64_t guild_id, uint64_t before_id,
                size_t k, double min_cos, lore_items *out) {
  memset(out, 0, sizeof *out);
  if (k == 0 || guild_id == 0) return 0;
  if (!query) query = "";
  size_t qn = strlen(query);
  if (qn > STORE_LORE_QUERY_MAX) qn = utf8_floor(query, qn, STORE_LORE_QUERY_MAX);
  char *q = mem_strndup(query, qn);
  if (!q) return err_set(MIMIC_ENOMEM, "out of memory recalling");
  if (!utf8_valid(q, qn)) {
    mem_free(q);
    return err_set(MIMIC_EFORMAT, "recall query is not valid UTF-8");
  }
  size_t n_pool = k * 8 < 50 ? 50 : k * 8;
  cands c = {0};
  store_fts_hit *th = xcalloc(n_pool, sizeof *th);
  size_t nt = 0;
  char scope[48];
  snprintf(scope, sizeof scope, "guild:%llu", (unsigned long long)guild_id);
  const char *scopes[1] = {scope};
  char *words = content_words(q);
  int rc = store_msg_fts_recall(r->s, words, guild_id, before_id, n_pool, th, &nt);
  if (!rc) {
    text_list(th, nt, &c);
    rc = vector_list(r, STORE_VEC_MSG, &r->msg_ix, q, scopes, 1, min_cos, n_pool, before_id, &c);
  }
  bool vectors = r->msg_ix && store_vec_index_rows(r->msg_ix) > 0;
  buf text;
  buf_init(&text, 1 << 20);
  if (!rc) {
    fuse(&c, 60);
    for (size_t i = 0; i < c.n && out->n < k && !rc; i++) {
      /* With embedded history, words alone are not enough to bring back a stray message; before
       * `embed-history` has run, they are all there is. */
      if (vectors && !c.v[i].rank_v) continue;
      rc = store_recall_msg(r->s, (uint64_t)c.v[i].id, &text, NULL);
      if (rc == MIMIC_ENOTFOUND) {
        rc = 0; /* purged, opted out or deleted since */
        err_clear();
        continue;
      }
      if (rc) break;
      lore_item *it = lore__item_push(out, c.v[i].id, scope, scope, "", text.data ? text.data : "");
      it->score = c.v[i].score;
      it->cos = c.v[i].cos;
      str_lcpy(it->why, why_of(&c.v[i]), sizeof it->why);
      it->tokens = lore__count(NULL, NULL, it->text);
      out->tokens += it->tokens;
    }
  }
  buf_free(&text);
  mem_free(words);
  mem_free(q);
  mem_free(th);
  mem_free(c.v);
  if (rc) lore_items_free(out);
  return rc;
}
