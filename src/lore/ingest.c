/* Ingest (see lore.h): files and folders and World Info books into the store by content hash, one
 * transaction per file; lore chunks and community messages embedded in batches, each batch one
 * transaction, so a kill at any point leaves whole files and whole batches and a rerun goes on
 * where it stopped. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "base/hash.h"
#include "lore/lore_int.h"
#include "store/vectors.h"

/* Bumped when chunking changes, so re-adding an unchanged file re-chunks it once. */
#define CHUNKER_VERSION "lore-chunk-1"

const char *lore_format_of(const char *path) {
  const char *dot = strrchr(path, '.');
  const char *slash = strrchr(path, '/');
  if (!dot || (slash && dot < slash)) return NULL;
  if (str_ieq(dot, ".md") || str_ieq(dot, ".markdown")) return "markdown";
  if (str_ieq(dot, ".txt") || str_ieq(dot, ".text")) return "text";
  if (str_ieq(dot, ".jsonl")) return "jsonl";
  if (str_ieq(dot, ".json")) return "book";
  return NULL;
}

static void content_hash(const char *format, const char *scope, const char *data, size_t n,
                         char out[STORE_LORE_HASH_MAX + 1]) {
  uint64_t h = hash_fnv64(CHUNKER_VERSION, strlen(CHUNKER_VERSION));
  h = hash_fnv64_more(h, format, strlen(format) + 1);
  h = hash_fnv64_more(h, scope, strlen(scope) + 1);
  h = hash_fnv64_more(h, data, n);
  /* A second, differently seeded pass makes an accidental match of two versions unlikely enough
   * (128 bits) that "unchanged" can be trusted. */
  uint64_t h2 = hash_fnv64_more(0x9e3779b97f4a7c15ULL, data, n) ^ (uint64_t)n;
  snprintf(out, STORE_LORE_HASH_MAX + 1, "%016llx%016llx", (unsigned long long)h,
           (unsigned long long)hash_mix64(h2));
}

static int chunk_as(const char *format, const char *name, const char *data, size_t n,
                    lore_chunks *out) {
  if (strcmp(format, "markdown") == 0) return lore_chunk_markdown(name, data, n, out);
  if (strcmp(format, "jsonl") == 0) return lore_chunk_jsonl(name, data, n, out);
  if (strcmp(format, "book") == 0) return lore_parse_book(name, data, n, out);
  return lore_chunk_text(name, data, n, out);
}

typedef enum { ADD_NEW, ADD_REPLACED, ADD_UNCHANGED } add_outcome;

/* Stores the chunks of one source in one transaction (replacing its old chunks). */
static int store_source(store *s, const char *path, const char *scope, const char *format,
                        const char *data, size_t n, add_outcome *outcome, int64_t *chunks,
                        int64_t *source_id) {
  char hash[STORE_LORE_HASH_MAX + 1];
  content_hash(format, scope, data, n, hash);
  store_lore_source *old = xalloc(sizeof *old);
  int rc = store_lore_source_find(s, path, scope, old);
  bool had = rc == 0;
  if (rc == MIMIC_ENOTFOUND) rc = 0, err_clear();
  if (rc) goto out_old;
  if (had && strcmp(old->hash, hash) == 0) {
    *outcome = ADD_UNCHANGED;
    if (source_id) *source_id = old->id;
    goto out_old;
  }
  lore_chunks ch = {0};
  if ((rc = chunk_as(format, path, data, n, &ch))) goto out_old;
  int64_t id = 0;
  if ((rc = store_tx_begin(s))) goto out;
  if ((rc = store_lore_source_put(s, path, scope, format, hash, (int64_t)n, &id))) goto fail;
  for (size_t i = 0; i < ch.n; i++) {
    const lore_chunk *c = &ch.v[i];
    store_lore_chunk sc = {.idx = (int)i,
                           .scope = scope,
                           .title = c->title,
                           .text = c->text,
                           .wi = c->wi,
                           .keys = c->keys,
                           .keys2 = c->keys2,
                           .logic = c->logic,
                           .constant = c->constant,
                           .enabled = c->enabled,
                           .order = c->order,
                           .depth = c->depth};
    if ((rc = store_lore_chunk_add(s, id, &sc, NULL))) {
      rc = err_prefix(rc, "%s: chunk %zu", path, i + 1);
      goto fail;
    }
  }
  if ((rc = store_lore_source_set_chunks(s, id, (int64_t)ch.n))) goto fail;
  if ((rc = store_tx_commit(s))) goto out;
  *outcome = had ? ADD_REPLACED : ADD_NEW;
  *chunks += (int64_t)ch.n;
  if (source_id) *source_id = id;
  goto out;
fail:
  store_tx_rollback(s);
out:
  lore_chunks_free(&ch);
out_old:
  mem_free(old);
  return rc;
}

static void count_outcome(lore_add_result *r, add_outcome o) {
  if (o == ADD_NEW) r->added++;
  if (o == ADD_REPLACED) r->replaced++;
  if (o == ADD_UNCHANGED) r->unchanged++;
}

static int add_file(store *s, const char *path, const char *format, const lore_add_opts *o,
                    lore_add_result *r) {
  struct stat sb;
  if (stat(path, &sb) != 0) return err_set(MIMIC_ENOTFOUND, "%s: no such file", path);
  if ((uint64_t)sb.st_size > LORE_FILE_MAX)
    return err_set(MIMIC_ERANGE,
                   "%s: %.1f MB is over the %u MiB cap for one lore file; split it into smaller "
                   "files",
                   path, (double)sb.st_size / 1e6, LORE_FILE_MAX >> 20);
  char *data = NULL;
  size_t n = 0;
  int rc = fs_read_file(path, LORE_FILE_MAX, &data, &n);
  if (rc) return rc;
  /* Sources are known by their full path, so adding from another folder finds the same one. */
  char *real = realpath(path, NULL);
  add_outcome oc = ADD_UNCHANGED;
  rc = store_source(s, real ? real : path, o->scope ? o->scope : "", format, data ? data : "", n,
                    &oc, &r->chunks, NULL);
  if (!rc) count_outcome(r, oc);
  free(real); /* realpath's malloc */
  mem_free(data);
  return rc;
}

typedef struct paths {
  char **v;
  size_t n;
} paths;

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every lore file under dir (recursively, hidden entries skipped), sorted. */
static int walk(const char *dir, const lore_add_opts *o, paths *out, int depth) {
  if (depth > 32) return err_set(MIMIC_ERANGE, "%s: folders nested deeper than 32", dir);
  DIR *d = opendir(dir);
  if (!d) return err_set(MIMIC_EIO, "%s: cannot open the folder", dir);
  paths here = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    buf p;
    buf_init(&p, 0);
    if (buf_printf(&p, "%s/%s", dir, e->d_name)) {
      buf_free(&p);
      continue;
    }
    here.v = xrealloc(here.v, (here.n + 1) * sizeof *here.v);
    here.v[here.n++] = buf_steal(&p);
  }
  closedir(d);
  if (here.n) qsort(here.v, here.n, sizeof *here.v, cmp_str);
  int rc = 0;
  for (size_t i = 0; i < here.n; i++) {
    struct stat sb;
    if (!rc && stat(here.v[i], &sb) == 0) {
      if (S_ISDIR(sb.st_mode)) {
        rc = walk(here.v[i], o, out, depth + 1);
      } else if (S_ISREG(sb.st_mode) && lore_format_of(here.v[i])) {
        out->v = xrealloc(out->v, (out->n + 1) * sizeof *out->v);
        out->v[out->n++] = here.v[i];
        here.v[i] = NULL;
      } else if (o->skip) {
        o->skip(o->progress_user, here.v[i], "not a lore format (.md, .txt, .jsonl, .json)");
      }
    }
    mem_free(here.v[i]);
  }
  mem_free(here.v);
  return rc;
}

int lore_add_path(store *s, const char *path, const lore_add_opts *o, lore_add_result *r) {
  static const lore_add_opts none = {0};
  if (!o) o = &none;
  struct stat sb;
  if (stat(path, &sb) != 0) return err_set(MIMIC_ENOTFOUND, "%s: no such file or folder", path);
  int rc = 0;
  if (S_ISDIR(sb.st_mode)) {
    paths ps = {0};
    rc = walk(path, o, &ps, 0);
    for (size_t i = 0; i < ps.n && !rc; i++) {
      rc = add_file(s, ps.v[i], lore_format_of(ps.v[i]), o, r);
      if (!rc && o->progress) o->progress(o->progress_user, (int64_t)i + 1, (int64_t)ps.n, ps.v[i]);
    }
    for (size_t i = 0; i < ps.n; i++) mem_free(ps.v[i]);
    mem_free(ps.v);
  } else {
    const char *f = lore_format_of(path);
    rc = add_file(s, path, f ? f : "text", o, r);
    if (!rc && o->progress) o->progress(o->progress_user, 1, 1, path);
  }
  if (!rc && o->emb)
    rc = lore_embed_missing(s, o->emb, o->progress, o->progress_user, &r->embedded);
  return rc;
}

int lore_add_book_json(store *s, const char *name, const char *json, size_t n, const char *scope,
                       const lore_embedder *emb, int64_t *source_id) {
  if (!name || !*name) return err_set(MIMIC_EINVAL, "a lore book needs a name");
  if (n > LORE_FILE_MAX)
    return err_set(MIMIC_ERANGE, "%s: a book of %zu bytes is over the %u MiB cap", name, n,
                   LORE_FILE_MAX >> 20);
  add_outcome oc;
  int64_t chunks = 0, embedded = 0;
  int rc = store_source(s, name, scope ? scope : "", "book", json, n, &oc, &chunks, source_id);
  if (!rc && emb) rc = lore_embed_missing(s, emb, NULL, NULL, &embedded);
  return rc;
}

/* ---- embedding ---- */

typedef struct batch {
  int64_t ids[LORE_EMBED_BATCH];
  uint64_t guild[LORE_EMBED_BATCH];
  char *text[LORE_EMBED_BATCH];
  char *scope[LORE_EMBED_BATCH];
  size_t n;
  size_t want; /* lore chunks: most to take (0: LORE_EMBED_BATCH) */
  int64_t last;
} batch;

static void batch_clear(batch *b) {
  for (size_t i = 0; i < b->n; i++) {
    mem_free(b->text[i]);
    mem_free(b->scope[i]);
  }
  b->n = 0;
}

static int take_chunk(const store_lore_chunk *c, void *user) {
  batch *b = user;
  buf t;
  buf_init(&t, 0);
  if (*c->title && (buf_puts(&t, c->title) || buf_putc(&t, '\n'))) buf_reset(&t);
  if (buf_puts(&t, c->text)) buf_reset(&t);
  b->ids[b->n] = c->id;
  b->text[b->n] = t.data ? buf_steal(&t) : xstrdup("");
  b->scope[b->n] = xstrdup(c->scope);
  b->n++;
  b->last = c->id;
  return b->n == (b->want ? b->want : LORE_EMBED_BATCH) ? 1 : 0; /* 1: enough for one batch */
}

/* Embeds b's texts and stores their vectors (kind) in one transaction, with the cursor when
 * cursor is set. */
static int embed_batch(store *s, const lore_embedder *e, int kind, batch *b, const char *cursor) {
  float *v = xalloc(b->n * (size_t)e->dim * sizeof *v);
  int rc = e->embed(e->user, (const char *const *)b->text, b->n, v);
  if (rc) {
    rc = err_prefix(rc, "embedding");
    goto out;
  }
  if ((rc = store_tx_begin(s))) goto out;
  for (size_t i = 0; i < b->n && !rc; i++)
    rc = store_vec_put(s, kind, b->ids[i], b->scope[i], e->name, v + i * (size_t)e->dim, e->dim);
  if (!rc && cursor) rc = store_embed_cursor_set(s, cursor, b->last);
  if (rc) {
    store_tx_rollback(s);
    goto out;
  }
  rc = store_tx_commit(s);
out:
  mem_free(v);
  return rc;
}

/* Embeds lore chunks without a vector from emb, at most max of them (0: all). */
static int embed_missing(store *s, const lore_embedder *emb, int64_t max, lore_progress_fn progress,
                         void *user, int64_t *n) {
  if (n) *n = 0;
  if (!emb || !emb->embed) return 0;
  int64_t total = 0, done = 0;
  int rc = store_lore_unembedded_count(s, emb->name, &total);
  if (!rc && max > 0 && total > max) total = max;
  batch *b = xcalloc(1, sizeof *b);
  int64_t after = 0;
  while (!rc && (max <= 0 || done < max)) {
    b->want = max > 0 && max - done < LORE_EMBED_BATCH ? (size_t)(max - done) : 0;
    rc = store_lore_unembedded_each(s, emb->name, after, take_chunk, b);
    if (rc == 1) rc = 0;
    if (rc || b->n == 0) break;
    after = b->last;
    rc = embed_batch(s, emb, STORE_VEC_LORE, b, NULL);
    done += (int64_t)b->n;
    batch_clear(b);
    if (!rc && progress) progress(user, done, total, "lore");
  }
  batch_clear(b);
  mem_free(b);
  if (!rc && done) rc = store_vec_log_trim(s);
  if (n) *n = done;
  return rc;
}

int lore_embed_missing(store *s, const lore_embedder *emb, lore_progress_fn progress, void *user,
                       int64_t *n) {
  return embed_missing(s, emb, 0, progress, user, n);
}

int lore_embed_missing_some(store *s, const lore_embedder *emb, int64_t max, int64_t *n) {
  return embed_missing(s, emb, max > 0 ? max : LORE_EMBED_BATCH, NULL, NULL, n);
}

static int take_msg(const store_embed_msg *m, void *user) {
  batch *b = user;
  char scope[48];
  snprintf(scope, sizeof scope, "guild:%llu", (unsigned long long)m->guild_id);
  b->ids[b->n] = (int64_t)m->id;
  b->text[b->n] = xstrdup(m->content);
  b->scope[b->n] = xstrdup(scope);
  b->n++;
  b->last = (int64_t)m->id;
  return 0;
}

int lore_embed_history(store *s, const lore_embedder *emb, int64_t max, const volatile bool *stop,
                       lore_progress_fn progress, void *user, int64_t *n) {
  if (n) *n = 0;
  if (!emb || !emb->embed)
    return err_set(MIMIC_EINVAL,
                   "no sentence encoder: set embed.model (or MIMIC_EMBED_MODEL) to a GGUF "
                   "encoder such as bge-small-en-v1.5");
  char cursor[320];
  snprintf(cursor, sizeof cursor, "messages:%s", emb->name);
  int64_t after = 0, total = 0, done = 0, dropped = 0;
  int rc = store_embed_cursor_get(s, cursor, &after);
  /* Vectors of another encoder are never compared with this one's: a new encoder's first run
   * (its cursor at 0) drops them. */
  if (!rc && after == 0) rc = store_vec_drop_other_models(s, STORE_VEC_MSG, emb->name, &dropped);
  if (!rc) rc = store_embed_msg_count(s, after, &total);
  if (!rc && max > 0 && total > max) total = max;
  batch *b = xcalloc(1, sizeof *b);
  while (!rc && !(stop && *stop) && (max <= 0 || done < max)) {
    size_t want = LORE_EMBED_BATCH, got = 0;
    if (max > 0 && (int64_t)want > max - done) want = (size_t)(max - done);
    if ((rc = store_embed_msg_next(s, after, want, take_msg, b, &got))) break;
    if (b->n == 0) break;
    after = b->last;
    rc = embed_batch(s, emb, STORE_VEC_MSG, b, cursor);
    done += (int64_t)b->n;
    batch_clear(b);
    if (!rc && progress) progress(user, done, total, "messages");
  }
  batch_clear(b);
  mem_free(b);
  if (!rc) rc = store_vec_log_trim(s);
  if (n) *n = done;
  return rc;
}
