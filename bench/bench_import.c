/* Import benchmark: for each N (default 100,000, 300,000 and 1,000,000) generates a
 * DiscordChatExporter JSON export of N messages in /tmp and imports it into a fresh database, in a
 * child process of its own so every N gets its own peak RSS. Reports messages/s, peak RSS, the RSS
 * sampled in each quarter of the file, SQLite's heap high-water mark and the WAL's size, then how
 * much the peak grew from the smallest N to the largest: a streaming importer stays flat.
 *
 * Usage: bench_import [N...] [--keep] [--allow-sanitizers]
 *
 * A sanitizer build measures the sanitizer, not mimic: AddressSanitizer parks up to 256 MB of freed
 * blocks in its quarantine and shadows every byte, so RSS climbs with the number of allocations
 * (415 MB at 100k, 547 MB at 1M messages, against 10-12 MB in a release build) and speed drops
 * about 3x. The benchmark refuses to run in such a build unless --allow-sanitizers is given. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "store/store.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define BENCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define BENCH_SANITIZED 1
#endif
#endif
#ifndef BENCH_SANITIZED
#define BENCH_SANITIZED 0
#endif

#define MAX_RUNS 16

typedef struct result {
  long n;
  int rc;
  double export_mb, seconds;
  int64_t messages, inserted;
  long before_kb, peak_kb;
  long quarter_kb[4];    /* highest RSS sampled while reading each quarter of the file */
  long long sqlite_peak; /* sqlite3_memory_highwater, bytes */
  long long wal_peak;    /* largest size of the -wal file seen, bytes */
  char error[256];
} result;

typedef struct sampler {
  result *r;
  char wal[96];
} sampler;

/* A field of /proc/self/status in kB ("VmRSS"), or -1. */
static long proc_kb(const char *key) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long v = -1;
  size_t kl = strlen(key);
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, key, kl) == 0 && line[kl] == ':') {
      v = strtol(line + kl + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

static long long file_size(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0 ? (long long)sb.st_size : 0;
}

static void sample(const collect_import_stats *st, void *user) {
  sampler *s = user;
  int q = st->total_bytes ? (int)(4 * st->bytes / st->total_bytes) : 3;
  if (q > 3) q = 3;
  long rss = proc_kb("VmRSS");
  if (rss > s->r->quarter_kb[q]) s->r->quarter_kb[q] = rss;
  long long w = file_size(s->wal);
  if (w > s->r->wal_peak) s->r->wal_peak = w;
}

/* Writes the export the earlier versions of this benchmark wrote (so numbers stay comparable):
 * 500 authors, every 5th message a reply, every 10th with a reaction. */
static int generate(const char *path, long n, double *mb) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fprintf(f, "{\"guild\":{\"id\":\"1\",\"name\":\"Bench\"},\"channel\":{\"id\":\"2\",\"type\":"
             "\"GuildTextChat\",\"name\":\"general\"},\"messages\":[\n");
  for (long i = 0; i < n; i++) {
    long a = 10 + (i * 7919) % 500;
    fprintf(
        f,
        "%s{\"id\":\"%ld\",\"type\":\"%s\",\"timestamp\":\"2023-01-%02ldT%02ld:%02ld:%02ld.%03ld+"
        "00:00\","
        "\"timestampEdited\":null,\"isPinned\":false,\"content\":\"message %ld from user %ld, "
        "with some ordinary chat text 🙂 and a bit more to make it realistic\",\"author\":{"
        "\"id\":\"%ld\",\"name\":\"user%ld\",\"discriminator\":\"0000\",\"nickname\":\"User %ld\","
        "\"isBot\":false},\"attachments\":[],\"embeds\":[],\"stickers\":[],\"reactions\":%s,"
        "\"mentions\":[]%s}",
        i ? ",\n" : "", 100000 + i, i % 5 ? "Default" : "Reply", 1 + (i / 86400) % 28,
        (i / 3600) % 24, (i / 60) % 60, i % 60, i % 1000, i, a, a, a, a,
        i % 10 ? "[]" : "[{\"emoji\":{\"id\":\"\",\"name\":\"😂\"},\"count\":2}]",
        i % 5 ? "" : ",\"reference\":{\"messageId\":\"100000\"}");
  }
  fprintf(f, "\n],\"messageCount\":%ld}\n", n);
  *mb = (double)ftell(f) / 1e6;
  return fclose(f) == 0 ? 0 : -1;
}

/* One N, in the calling (child) process. */
static void run_one(long n, bool keep, result *r) {
  memset(r, 0, sizeof *r);
  r->n = n;
  r->rc = -1;
  char json[64], db[64];
  sampler sm = {.r = r};
  snprintf(json, sizeof json, "/tmp/mimic_bench_%d.json", (int)getpid());
  snprintf(db, sizeof db, "/tmp/mimic_bench_%d.db", (int)getpid());
  snprintf(sm.wal, sizeof sm.wal, "%s-wal", db);
  if (generate(json, n, &r->export_mb)) {
    snprintf(r->error, sizeof r->error, "cannot write %s", json);
    unlink(json);
    return;
  }
  log_set_level(LOG_WARN);
  store *s;
  if (store_open(db, &s)) {
    snprintf(r->error, sizeof r->error, "%s", err_msg());
    goto out;
  }
  r->before_kb = proc_kb("VmRSS");
  sqlite3_memory_highwater(1);
  collect_import_opts o = {.progress = sample, .user = &sm};
  collect_import_stats st;
  r->rc = collect_import_dce(s, json, &o, &st);
  if (r->rc) snprintf(r->error, sizeof r->error, "import failed: %s", err_msg());
  long long w = file_size(sm.wal); /* after the commit, before close checkpoints it away */
  if (w > r->wal_peak) r->wal_peak = w;
  r->sqlite_peak = sqlite3_memory_highwater(0);
  store_close(s);
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  r->peak_kb = ru.ru_maxrss;
  r->seconds = st.seconds;
  r->messages = st.messages;
  r->inserted = st.inserted;
out:
  if (!keep) {
    unlink(json);
    unlink(db);
    unlink(sm.wal);
    char p[80];
    snprintf(p, sizeof p, "%s-shm", db);
    unlink(p);
  } else {
    printf("  kept %s and %s\n", json, db);
  }
}

/* Runs one N in a child so that its peak RSS is its own. */
static int run_child(long n, bool keep, result *r) {
  int fds[2];
  if (pipe(fds)) return -1;
  fflush(stdout);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    close(fds[0]);
    result mine;
    run_one(n, keep, &mine);
    ssize_t w = write(fds[1], &mine, sizeof mine);
    fflush(stdout);
    _exit(w == (ssize_t)sizeof mine ? 0 : 1);
  }
  close(fds[1]);
  size_t got = 0;
  while (got < sizeof *r) {
    ssize_t k = read(fds[0], (char *)r + got, sizeof *r - got);
    if (k <= 0) break;
    got += (size_t)k;
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return got == sizeof *r ? 0 : -1;
}

int main(int argc, char **argv) {
  long ns[MAX_RUNS];
  int n_runs = 0;
  bool keep = false, allow_san = false;
  for (int i = 1; i < argc; i++) {
    int64_t v;
    if (strcmp(argv[i], "--keep") == 0)
      keep = true;
    else if (strcmp(argv[i], "--allow-sanitizers") == 0)
      allow_san = true;
    else if (n_runs < MAX_RUNS && str_to_i64(argv[i], &v) == 0 && v >= 1 && v <= 100000000)
      ns[n_runs++] = (long)v;
    else {
      fprintf(stderr, "usage: bench_import [N...] [--keep] [--allow-sanitizers]\n");
      return 2;
    }
  }
  if (!n_runs) {
    ns[n_runs++] = 100000;
    ns[n_runs++] = 300000;
    ns[n_runs++] = 1000000;
  }
  if (BENCH_SANITIZED && !allow_san) {
    fprintf(stderr,
            "bench_import: this binary is built with sanitizers (MIMIC_SANITIZE=ON in this build "
            "directory's CMakeCache.txt). AddressSanitizer keeps up to 256 MB of freed memory in "
            "quarantine and adds shadow memory, so RSS and speed would measure the sanitizer, not "
            "mimic. Build the benchmarks in a release tree:\n"
            "  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIMIC_SANITIZE=OFF && "
            "cmake --build build -j2 --target bench_import\n"
            "or pass --allow-sanitizers to run anyway.\n");
    return 2;
  }
  char kind[96] = "";
  if (BENCH_SANITIZED) str_lcpy(kind, " [sanitizer build: not representative]", sizeof kind);
#ifndef __OPTIMIZE__
  str_lcpy(kind + strlen(kind), " [unoptimised build: speed not representative]",
           sizeof kind - strlen(kind));
#endif
  result res[MAX_RUNS];
  int bad = 0;
  for (int i = 0; i < n_runs; i++) {
    result *r = &res[i];
    if (run_child(ns[i], keep, r)) {
      fprintf(stderr, "bench_import: N=%ld: the child process failed\n", ns[i]);
      return 1;
    }
    if (r->rc) {
      fprintf(stderr, "bench_import: N=%ld: %s\n", ns[i], r->error);
      bad = 1;
      continue;
    }
    printf("bench_import: %ld messages, %.1f MB export: %.2f s, %.0f messages/s, peak RSS %.1f MB "
           "(%.1f MB before the import)%s\n",
           r->n, r->export_mb, r->seconds, r->seconds > 0 ? (double)r->messages / r->seconds : 0,
           r->peak_kb / 1024.0, r->before_kb / 1024.0, kind);
    /* Samples come with the progress callback (every 0.5 s): a short run may miss a quarter. */
    char q[4][16];
    for (int k = 0; k < 4; k++) {
      if (r->quarter_kb[k])
        snprintf(q[k], sizeof q[k], "%.1f", r->quarter_kb[k] / 1024.0);
      else
        str_lcpy(q[k], "-", sizeof q[k]);
    }
    printf("  RSS sampled in each quarter of the file: %s %s %s %s MB; SQLite heap peak %.1f MB; "
           "WAL %.1f MB\n",
           q[0], q[1], q[2], q[3], (double)r->sqlite_peak / 1048576.0,
           (double)r->wal_peak / 1048576.0);
  }
  if (n_runs > 1 && !bad) {
    int lo = 0, hi = 0;
    for (int i = 1; i < n_runs; i++) {
      if (res[i].n < res[lo].n) lo = i;
      if (res[i].n > res[hi].n) hi = i;
    }
    printf("bench_import: peak RSS %.1f MB at %ld messages, %.1f MB at %ld (%+.1f MB for %.0fx the "
           "messages)%s\n",
           res[lo].peak_kb / 1024.0, res[lo].n, res[hi].peak_kb / 1024.0, res[hi].n,
           (res[hi].peak_kb - res[lo].peak_kb) / 1024.0, (double)res[hi].n / (double)res[lo].n,
           kind);
  }
  return bad;
}
