/* Lore and recall benchmarks.
 *
 * search: exact vector search over N random unit vectors of width D stored as int8 rows (one
 *   scope per row out of S guild scopes), through store_vec_index: the first load (from SQLite
 *   into the cached matrix), the cache's bytes and the process's RSS, then query latency p50/p95
 *   over Q random queries for top-10, unfiltered and filtered to one scope (rows filtered before
 *   ranking), each twice: exhaustive (the float kernel on every row: the search before the int8
 *   prefilter) and the default search, whose hits are checked identical to the exhaustive ones.
 *   Goal (issue 13): p95 <= 3 ms at 100k rows with a scope filter.
 * ingest: a generated lore folder of about MB megabytes of Markdown added with lore_add_path,
 *   with no encoder (full text only) or the deterministic fake encoder from tests/lore (bag of
 *   hashed words, 64 wide: it measures chunking, storage and FTS, not a real model), or a real
 *   encoder with --model; chunks/s and peak RSS (VmHWM).
 *
 * Usage:
 *   bench_search search [--rows N] [--dim D] [--scopes S] [--queries Q] [--db FILE]
 *   bench_search ingest [--mb MB] [--embed none|fake|PATH.gguf] [--dir DIR]
 * Defaults: 100000 rows, 384 wide, 8 scopes, 1000 queries; 50 MB, no encoder. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/rng.h"
#include "lore/fake_embed.h"
#include "lore/lore.h"
#include "store/store.h"
#include "store/vectors.h"

static long status_kb(const char *field) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  size_t n = strlen(field);
  while (fgets(line, sizeof line, f))
    if (strncmp(line, field, n) == 0) {
      kb = strtol(line + n + 1, NULL, 10);
      break;
    }
  fclose(f);
  return kb;
}

static double now_ms(void) { return (double)clock_mono_ns() / 1e6; }

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void unit(prng *r, float *v, int d) {
  double s = 0;
  for (int i = 0; i < d; i++) {
    v[i] = (float)(prng_uniform(r) * 2 - 1);
    s += (double)v[i] * v[i];
  }
  for (int i = 0; i < d; i++) v[i] = (float)(v[i] / sqrt(s));
}

static const char *arg(int argc, char **argv, const char *name, const char *dflt) {
  for (int i = 2; i + 1 < argc; i++)
    if (strcmp(argv[i], name) == 0) return argv[i + 1];
  return dflt;
}

static long num(int argc, char **argv, const char *name, long dflt) {
  const char *v = arg(argc, argv, name, NULL);
  int64_t x;
  return v && str_to_i64(v, &x) == 0 ? (long)x : dflt;
}

static void report(const char *what, double *lat, int q) {
  qsort(lat, (size_t)q, sizeof *lat, cmp_d);
  printf("  %-28s p50 %.3f ms  p95 %.3f ms  min %.3f ms  max %.3f ms\n", what, lat[q / 2],
         lat[q * 95 / 100], lat[0], lat[q - 1]);
}

static int bench_vectors(int argc, char **argv) {
  long rows = num(argc, argv, "--rows", 100000), qn = num(argc, argv, "--queries", 1000);
  int dim = (int)num(argc, argv, "--dim", 384), scopes = (int)num(argc, argv, "--scopes", 8);
  const char *db = arg(argc, argv, "--db", ":memory:");
  if (rows < 1 || dim < 1 || dim > STORE_VEC_DIM_MAX || scopes < 1 || qn < 1) {
    fprintf(stderr, "bench_search: bad --rows/--dim/--scopes/--queries\n");
    return 2;
  }
  store *s = NULL;
  if (store_open(db, &s)) {
    fprintf(stderr, "bench_search: %s\n", err_msg());
    return 1;
  }
  prng r;
  prng_seed(&r, 7);
  float *v = xalloc((size_t)dim * sizeof *v);
  printf("search: %ld rows x %d (int8 + scale), %d scopes, %ld queries, kernel %s, db %s\n", rows,
         dim, scopes, qn, store_vec_simd() ? "avx2" : "scalar", db);
  int64_t have = 0;
  if (store_vec_count(s, STORE_VEC_MSG, "bench", &have)) return 1;
  double t0 = now_ms();
  if (have != rows) {
    if (store_exec(s, "DELETE FROM vectors") || store_tx_begin(s)) return 1;
    for (long i = 0; i < rows; i++) {
      unit(&r, v, dim);
      char scope[32];
      snprintf(scope, sizeof scope, "guild:%ld", i % scopes + 1);
      if (store_vec_put(s, STORE_VEC_MSG, i + 1, scope, "bench", v, dim)) {
        fprintf(stderr, "bench_search: %s\n", err_msg());
        return 1;
      }
    }
    if (store_tx_commit(s)) return 1;
    printf("  insert        %.0f ms (%.0f rows/s)\n", now_ms() - t0,
           rows / ((now_ms() - t0) / 1e3));
  }
  long rss0 = status_kb("VmRSS:");
  store_vec_index *ix = NULL;
  if (store_vec_index_open(s, STORE_VEC_MSG, "bench", dim, &ix)) return 1;
  t0 = now_ms();
  if (store_vec_index_sync(ix, NULL)) {
    fprintf(stderr, "bench_search: %s\n", err_msg());
    return 1;
  }
  double load = now_ms() - t0;
  long rss1 = status_kb("VmRSS:");
  printf("  load          %.0f ms; cache %.1f MB; RSS +%.1f MB (now %.1f MB)\n", load,
         store_vec_index_bytes(ix) / 1e6, (rss1 - rss0) / 1e3, rss1 / 1e3);
  double *lat = xalloc((size_t)qn * sizeof *lat);
  store_vec_hit hits[10], ref[10];
  size_t n, n_ref;
  /* The exhaustive scan (the float kernel on every eligible row) first, then the default search
   * (int8 prefilter, then the float kernel on the rows that may place) on the same queries: the
   * before and after of the prefilter, and a check that both return the same hits. */
  for (int filtered = 0; filtered < 2; filtered++) {
    for (int exhaustive = 1; exhaustive >= 0; exhaustive--) {
      prng_seed(&r, 1000 + (uint64_t)filtered);
      double scored = 0;
      long differ = 0;
      for (long i = 0; i < qn; i++) {
        unit(&r, v, dim);
        char scope[32];
        snprintf(scope, sizeof scope, "guild:%ld", i % scopes + 1);
        const char *sc[1] = {scope};
        store_vec_query q = {.q = v,
                             .scopes = filtered ? sc : NULL,
                             .n_scopes = filtered ? 1 : 0,
                             .min_score = -INFINITY,
                             .k = 10,
                             .exhaustive = exhaustive};
        double a = now_ms();
        if (store_vec_search(ix, &q, hits, &n)) return 1;
        lat[i] = now_ms() - a;
        scored += (double)store_vec_index_last_scored(ix);
        if (!exhaustive) {
          q.exhaustive = true;
          if (store_vec_search(ix, &q, ref, &n_ref)) return 1;
          bool same = n == n_ref;
          for (size_t j = 0; same && j < n; j++)
            same = hits[j].ref_id == ref[j].ref_id && hits[j].score == ref[j].score &&
                   strcmp(hits[j].scope, ref[j].scope) == 0;
          differ += !same;
        }
      }
      char what[80];
      snprintf(what, sizeof what, "%s, %s", exhaustive ? "exhaustive" : "prefilter",
               filtered ? "1 scope" : "all scopes");
      report(what, lat, (int)qn);
      printf("  %-28s float kernel on %.0f rows/query%s\n", "", scored / (double)qn,
             differ ? "" : (exhaustive ? "" : "; hits identical to exhaustive"));
      if (differ) {
        fprintf(stderr, "bench_search: %ld queries differ from the exhaustive scan\n", differ);
        return 1;
      }
    }
  }
  mem_free(lat);
  mem_free(v);
  store_vec_index_close(ix);
  store_close(s);
  return 0;
}

static void make_folder(const char *dir, long mb) {
  mkdir(dir, 0700);
  prng r;
  prng_seed(&r, 3);
  static const char *const words[] = {"river",  "tower",  "keeper", "boat",  "lantern", "north",
                                      "dragon", "harbor", "winter", "guild", "song",    "market",
                                      "stone",  "bridge", "forest", "crown", "salt",    "festival"};
  buf b;
  buf_init(&b, 0);
  long target = mb << 20, done = 0;
  for (int f = 0; done < target; f++) {
    buf_reset(&b);
    while (b.len < 100000) {
      if (buf_printf(&b, "# Chapter %u\n\n", (unsigned)prng_below(&r, 1000))) break;
      for (int p = 0; p < 6; p++) {
        for (int w = 0; w < 60; w++)
          if (buf_printf(&b, "%s ", words[prng_below(&r, sizeof words / sizeof words[0])])) break;
        if (buf_puts(&b, ".\n\n")) break;
      }
    }
    char path[512];
    snprintf(path, sizeof path, "%s/part%04d.md", dir, f);
    FILE *fp = fopen(path, "wb");
    if (!fp) break;
    fwrite(b.data, 1, b.len, fp);
    fclose(fp);
    done += (long)b.len;
  }
  buf_free(&b);
}

static int bench_ingest(int argc, char **argv) {
  long mb = num(argc, argv, "--mb", 50);
  const char *how = arg(argc, argv, "--embed", "none");
  char dflt[64];
  snprintf(dflt, sizeof dflt, "/tmp/mimic_bench_lore_%d", (int)getpid());
  const char *dir = arg(argc, argv, "--dir", dflt);
  char db[300];
  snprintf(db, sizeof db, "%s.db", dir);
  unlink(db);
  make_folder(dir, mb);
  lore_embedder fake = fake_embedder(NULL), real;
  const lore_embedder *e = NULL;
  if (strcmp(how, "fake") == 0) {
    e = &fake;
  } else if (strcmp(how, "none") != 0) {
    if (lore_embedder_open(how, 0, &real)) {
      fprintf(stderr, "bench_search: %s\n", err_msg());
      return 1;
    }
    e = &real;
  }
  store *s = NULL;
  if (store_open(db, &s)) return 1;
  printf("ingest: %ld MB of Markdown in %s, encoder: %s\n", mb, dir,
         e ? (e == &fake ? "fake (hashed bag of words, 64 wide; not a model)" : e->name)
           : "none (full text only)");
  double t0 = now_ms();
  lore_add_result res = {0};
  lore_add_opts o = {.scope = "bench", .emb = e};
  if (lore_add_path(s, dir, &o, &res)) {
    fprintf(stderr, "bench_search: %s\n", err_msg());
    return 1;
  }
  double ms = now_ms() - t0;
  printf("  %d files, %lld chunks, %lld embedded in %.1f s: %.0f chunks/s, %.1f MB/s; peak RSS "
         "%.1f MB\n",
         res.added, (long long)res.chunks, (long long)res.embedded, ms / 1e3,
         res.chunks / (ms / 1e3), mb / (ms / 1e3), status_kb("VmHWM:") / 1e3);
  store_close(s);
  if (e == &real) lore_embedder_close(&real);
  if (!arg(argc, argv, "--dir", NULL)) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "rm -rf %s %s %s-wal %s-shm", dir, db, db, db);
    if (system(cmd)) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  log_set_level(LOG_WARN);
  if (argc >= 2 && strcmp(argv[1], "search") == 0) return bench_vectors(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "ingest") == 0) return bench_ingest(argc, argv);
  fprintf(stderr, "usage: bench_search search [--rows N] [--dim D] [--scopes S] [--queries Q] "
                  "[--db FILE]\n       bench_search ingest [--mb MB] [--embed none|fake|ENC.gguf] "
                  "[--dir DIR]\n");
  return 2;
}
