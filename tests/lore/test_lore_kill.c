/* kill -9 during `mimic lore add` and during history embedding, then a rerun: the store stays
 * consistent (every source has exactly its chunks, full-text index and foreign keys intact, every
 * message up to the embedding cursor has its vector and none past it) and the rerun completes the
 * work. `mimic embed-history` itself is killed too when ../shared has the tiny BERT encoder. The
 * kill lands right after the child reports progress on a pipe (no sleeps), at a point drawn at
 * random (seeded) each round. */
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "base/rng.h"
#include "fake_embed.h"
#include "lore/lore.h"
#include "store/lore.h"
#include "store/store.h"
#include "store/vectors.h"
#include "test.h"

static char tmpdir[64];

static int64_t q1(store *s, const char *sql) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return -1;
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

static bool consistent(store *s) {
  bool ok = true;
  sqlite3_stmt *st;
  if (store_stmt(s, "PRAGMA integrity_check", &st)) return false;
  if (sqlite3_step(st) != SQLITE_ROW || strcmp((const char *)sqlite3_column_text(st, 0), "ok"))
    ok = false, printf("  integrity_check failed\n");
  sqlite3_reset(st);
  if (store_stmt(s, "PRAGMA foreign_key_check", &st)) return false;
  if (sqlite3_step(st) == SQLITE_ROW) ok = false, printf("  foreign keys broken\n");
  sqlite3_reset(st);
  if (q1(s, "SELECT count(*) FROM lore_sources s WHERE n_chunks <> (SELECT count(*) FROM "
            "lore_chunks c WHERE c.source_id = s.id)") != 0)
    ok = false, printf("  a source without all its chunks\n");
  if (store_exec(s, "INSERT INTO lore_fts(lore_fts) VALUES ('integrity-check')") ||
      store_exec(s, "INSERT INTO messages_fts(messages_fts) VALUES ('integrity-check')"))
    ok = false, printf("  full-text index: %s\n", err_msg());
  if (q1(s, "SELECT count(*) FROM vectors v WHERE v.kind = 2 AND NOT EXISTS (SELECT 1 FROM "
            "messages m WHERE m.id = v.ref_id)") != 0 ||
      q1(s, "SELECT count(*) FROM vectors v WHERE v.kind = 1 AND NOT EXISTS (SELECT 1 FROM "
            "lore_chunks c WHERE c.id = v.ref_id)") != 0)
    ok = false, printf("  a vector of nothing\n");
  /* Batches commit with their cursor: everything up to it has a vector, nothing past it. */
  int64_t cur = q1(s, "SELECT ifnull(max(last_id), 0) FROM embed_cursor");
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT count(*) FROM messages m WHERE m.id <= %lld AND NOT EXISTS (SELECT 1 FROM "
           "vectors v WHERE v.kind = 2 AND v.ref_id = m.id)",
           (long long)cur);
  if (q1(s, sql) != 0) ok = false, printf("  a message before the cursor without its vector\n");
  snprintf(sql, sizeof sql, "SELECT count(*) FROM vectors WHERE kind = 2 AND ref_id > %lld",
           (long long)cur);
  if (q1(s, sql) != 0) ok = false, printf("  a vector past the cursor\n");
  return ok;
}

/* Reads one line from fd (up to the newline). false at the end of the stream. */
static bool read_line(int fd) {
  char c;
  for (;;) {
    ssize_t r = read(fd, &c, 1);
    if (r <= 0) return false;
    if (c == '\n') return true;
  }
}

static void make_books(const char *dir, int files) {
  mkdir(dir, 0700);
  buf b;
  buf_init(&b, 0);
  for (int f = 0; f < files; f++) {
    buf_reset(&b);
    for (int sec = 0; sec < 20; sec++) {
      if (buf_printf(&b, "# Section %d of book %d\n\n", sec, f)) break;
      for (int p = 0; p < 8; p++)
        if (buf_printf(&b,
                       "Paragraph %d: the river %d bends past the tower of book %d, where "
                       "the keepers count the boats and write their names.\n\n",
                       p, sec, f))
          break;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/book%02d.md", dir, f);
    FILE *fp = fopen(path, "wb");
    if (!fp) continue;
    fwrite(b.data, 1, b.len, fp);
    fclose(fp);
  }
  buf_free(&b);
}

TEST(kill_during_lore_add) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin || access(bin, X_OK) != 0) SKIP("MIMIC_BIN (the mimic binary) is not set");
  char dir[128], db[128];
  snprintf(dir, sizeof dir, "%s/books", tmpdir);
  snprintf(db, sizeof db, "%s/add.db", tmpdir);
  enum { FILES = 24 };
  make_books(dir, FILES);
  prng r;
  prng_seed(&r, 1234);
  for (int round = 0; round < 4; round++) {
    int k = 1 + (int)prng_below(&r, FILES - 1); /* progress lines to read before the kill */
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(pfd[1], 2);
      close(pfd[0]);
      close(pfd[1]);
      int nul = open("/dev/null", O_WRONLY);
      if (nul >= 0) dup2(nul, 1);
      setenv("MIMIC_STORE_PATH", db, 1);
      unsetenv("MIMIC_EMBED_MODEL");
      execl(bin, bin, "lore", "add", dir, "--scope", "kill", (char *)NULL);
      _exit(127);
    }
    close(pfd[1]);
    int seen = 0;
    while (seen < k && read_line(pfd[0])) seen++; /* the first may be the "no encoder" note */
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pfd[0]);
    store *s = NULL;
    REQUIRE(store_open(db, &s) == 0);
    CHECK(consistent(s));
    store_close(s);
  }
  /* The rerun completes: every file, every passage. */
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) dup2(nul, 1), dup2(nul, 2);
    setenv("MIMIC_STORE_PATH", db, 1);
    execl(bin, bin, "lore", "add", dir, "--scope", "kill", (char *)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  store *s = NULL;
  REQUIRE(store_open(db, &s) == 0);
  CHECK(consistent(s));
  CHECK_INT(q1(s, "SELECT count(*) FROM lore_sources"), FILES);
  int64_t per = q1(s, "SELECT n_chunks FROM lore_sources LIMIT 1");
  CHECK(per > 1);
  CHECK_INT(q1(s, "SELECT sum(n_chunks) FROM lore_sources"), per * FILES);
  store_close(s);
}

static void progress_line(void *user, int64_t done, int64_t total, const char *label) {
  int fd = *(int *)user;
  char line[96];
  int n = snprintf(line, sizeof line, "%lld/%lld %s\n", (long long)done, (long long)total, label);
  if (write(fd, line, (size_t)n) < 0) _exit(3);
}

TEST(kill_during_history_embedding) {
  char db[128];
  snprintf(db, sizeof db, "%s/hist.db", tmpdir);
  enum { MSGS = 3000 };
  {
    store *s = NULL;
    REQUIRE(store_open(db, &s) == 0);
    CHECK_OK(store_tx_begin(s));
    for (int i = 1; i <= MSGS; i++) {
      char text[96];
      snprintf(text, sizeof text, "message %d about boats %d and rivers %d", i, i % 17, i % 5);
      store_msg m = {.id = (uint64_t)i,
                     .channel_id = 10,
                     .guild_id = 1,
                     .author_id = 100 + (uint64_t)(i % 7),
                     .ts_ms = i,
                     .content = text,
                     .source = STORE_SRC_DCE};
      CHECK_OK(store_msg_upsert(s, &m, NULL));
    }
    CHECK_OK(store_tx_commit(s));
    store_close(s);
  }
  prng r;
  prng_seed(&r, 99);
  int batches = MSGS / LORE_EMBED_BATCH;
  for (int round = 0; round < 5; round++) {
    int k = 1 + (int)prng_below(&r, (uint64_t)batches / 6);
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      close(pfd[0]);
      store *s = NULL;
      if (store_open(db, &s)) _exit(2);
      lore_embedder e = fake_embedder(NULL);
      int64_t n = 0;
      int rc = lore_embed_history(s, &e, 0, NULL, progress_line, &pfd[1], &n);
      _exit(rc ? 1 : 0);
    }
    close(pfd[1]);
    int seen = 0;
    while (seen < k && read_line(pfd[0])) seen++;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pfd[0]);
    store *s = NULL;
    REQUIRE(store_open(db, &s) == 0);
    CHECK(consistent(s));
    CHECK(q1(s, "SELECT count(*) FROM vectors") > 0);
    store_close(s);
  }
  store *s = NULL;
  REQUIRE(store_open(db, &s) == 0);
  lore_embedder e = fake_embedder(NULL);
  int64_t n = 0;
  CHECK_OK(lore_embed_history(s, &e, 0, NULL, NULL, NULL, &n));
  CHECK(consistent(s));
  CHECK_INT(q1(s, "SELECT count(*) FROM vectors WHERE kind = 2"), MSGS);
  store_close(s);
}

/* The real command with the real (tiny) encoder from ../shared: kill -9 mid-run, then rerun. */
TEST(kill_during_embed_history_command) {
  const char *bin = getenv("MIMIC_BIN");
  char model[512];
  if (!bin || access(bin, X_OK) != 0) SKIP("MIMIC_BIN (the mimic binary) is not set");
  if (!test_shared_path("testdata/llm/tiny-bert-f16.gguf", model, sizeof model))
    SKIP("../shared/testdata/llm/tiny-bert-f16.gguf is absent");
  char db[128];
  snprintf(db, sizeof db, "%s/cmd.db", tmpdir);
  enum { MSGS = 600 };
  {
    store *s = NULL;
    REQUIRE(store_open(db, &s) == 0);
    CHECK_OK(store_tx_begin(s));
    for (int i = 1; i <= MSGS; i++) {
      char text[96];
      snprintf(text, sizeof text, "message %d about lanterns %d and bridges %d", i, i % 13, i % 3);
      store_msg m = {.id = (uint64_t)i,
                     .channel_id = 10,
                     .guild_id = 1,
                     .author_id = 100 + (uint64_t)(i % 5),
                     .ts_ms = i,
                     .content = text,
                     .source = STORE_SRC_DCE};
      CHECK_OK(store_msg_upsert(s, &m, NULL));
    }
    CHECK_OK(store_tx_commit(s));
    store_close(s);
  }
  prng r;
  prng_seed(&r, 5);
  for (int round = 0; round < 3; round++) {
    int k = 1 + (int)prng_below(&r, 8);
    int pfd[2];
    REQUIRE(pipe(pfd) == 0);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      dup2(pfd[1], 2);
      close(pfd[0]);
      close(pfd[1]);
      int nul = open("/dev/null", O_WRONLY);
      if (nul >= 0) dup2(nul, 1);
      setenv("MIMIC_STORE_PATH", db, 1);
      setenv("MIMIC_EMBED_MODEL", model, 1);
      execl(bin, bin, "embed-history", "-t", "1", (char *)NULL);
      _exit(127);
    }
    close(pfd[1]);
    int seen = 0;
    while (seen < k && read_line(pfd[0])) seen++;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    close(pfd[0]);
    store *s = NULL;
    REQUIRE(store_open(db, &s) == 0);
    CHECK(consistent(s));
    store_close(s);
  }
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int nul = open("/dev/null", O_WRONLY);
    if (nul >= 0) dup2(nul, 1), dup2(nul, 2);
    setenv("MIMIC_STORE_PATH", db, 1);
    setenv("MIMIC_EMBED_MODEL", model, 1);
    execl(bin, bin, "embed-history", "-t", "1", (char *)NULL);
    _exit(127);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  store *s = NULL;
  REQUIRE(store_open(db, &s) == 0);
  CHECK(consistent(s));
  CHECK_INT(q1(s, "SELECT count(*) FROM vectors WHERE kind = 2"), MSGS);
  store_close(s);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_kill_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  signal(SIGPIPE, SIG_IGN);
  RUN(kill_during_lore_add);
  RUN(kill_during_history_embedding);
  RUN(kill_during_embed_history_command);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) return 1;
  TEST_MAIN_END();
}
