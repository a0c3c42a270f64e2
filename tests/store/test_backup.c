/* Tests for the online backup (store/backup.h) and `mimic backup`: a copy taken while another
 * connection keeps committing is one snapshot (every transaction whole), passes integrity_check
 * and opens as a store; a backup never overwrites; a damaged copy fails verification; and the
 * command's folder holds the database, the config (0600), the data folder's files and the
 * adapters, with a manifest that --verify checks. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "store/backup.h"
#include "store/store.h"
#include "test.h"

static char dir[64];

typedef struct writer {
  const char *path;
  atomic_int commits;
  atomic_int stop;
  int rc;
} writer;

/* Commits transactions of two messages and a counter of 2 until told to stop. */
static void *writer_main(void *p) {
  writer *w = p;
  store *s = NULL;
  if ((w->rc = store_open(w->path, &s))) return NULL;
  for (uint64_t k = 1; !atomic_load(&w->stop) && k < 200000; k++) {
    if ((w->rc = store_tx_begin(s))) break;
    for (int j = 0; j < 2 && !w->rc; j++) {
      store_msg m = {.id = 1000000 + 2 * k + (uint64_t)j,
                     .channel_id = 7,
                     .guild_id = 1,
                     .author_id = 42,
                     .ts_ms = 1700000000000LL + (int64_t)k,
                     .content = "a message written during the backup",
                     .source = STORE_SRC_DCE};
      w->rc = store_msg_upsert(s, &m, NULL);
    }
    if (!w->rc) w->rc = store_bot_count(s, 1700000000000LL, "seen", 2);
    if (w->rc) {
      store_tx_rollback(s);
      break;
    }
    if ((w->rc = store_tx_commit(s))) break;
    atomic_fetch_add(&w->commits, 1);
  }
  store_close(s);
  return NULL;
}

TEST(backup_while_another_connection_writes) {
  char db[128], copy[128];
  snprintf(db, sizeof db, "%s/live.db", dir);
  snprintf(copy, sizeof copy, "%s/copy.db", dir);
  store *s = NULL;
  REQUIRE(store_open(db, &s) == 0);
  writer w = {.path = db};
  atomic_init(&w.commits, 0);
  atomic_init(&w.stop, 0);
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, writer_main, &w) == 0);
  while (atomic_load(&w.commits) < 50 && !w.rc) sched_yield();
  store_backup_info info;
  CHECK_OK(store_backup(s, copy, &info));
  int at_backup = atomic_load(&w.commits);
  /* the writer goes on after the copy, then stops */
  while (atomic_load(&w.commits) < at_backup + 20 && !w.rc) sched_yield();
  atomic_store(&w.stop, 1);
  pthread_join(th, NULL);
  CHECK_INT(w.rc, 0);
  struct stat st;
  REQUIRE(stat(copy, &st) == 0);
  CHECK_INT(st.st_mode & 0777, 0600);
  CHECK(info.pages > 0 && info.bytes == (int64_t)st.st_size);
  /* one snapshot: whole transactions only, and not the ones after it */
  CHECK(info.messages >= 100 && info.messages % 2 == 0);
  CHECK(info.messages <= 2LL * at_backup + 2);
  int64_t live = 0;
  CHECK_OK(store_msg_count(s, 0, &live));
  CHECK(live > info.messages);
  store_backup_info v;
  CHECK_OK(store_backup_verify(copy, &v));
  CHECK_INT(v.messages, info.messages);
  store *c = NULL;
  REQUIRE(store_open(copy, &c) == 0);
  int64_t n = 0, seen = 0;
  CHECK_OK(store_msg_count(c, 0, &n));
  CHECK_OK(store_bot_count_sum(c, "seen", 0, INT64_MAX, &seen));
  CHECK_INT(n, info.messages);
  CHECK_INT(seen, n);
  store_close(c);
  /* never over an existing file */
  CHECK_INT(store_backup(s, copy, NULL), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "never overwrites") != NULL);
  store_close(s);
}

TEST(verify_refuses_a_damaged_copy) {
  char p[128];
  snprintf(p, sizeof p, "%s/garbage.db", dir);
  const char junk[] = "this is not a database, whatever its name says. ";
  char big[4096];
  for (size_t i = 0; i < sizeof big; i++) big[i] = junk[i % (sizeof junk - 1)];
  CHECK_OK(fs_write_atomic(p, big, sizeof big));
  CHECK_INT(store_backup_verify(p, NULL), MIMIC_EFORMAT);
  snprintf(p, sizeof p, "%s/absent.db", dir);
  CHECK_INT(store_backup_verify(p, NULL), MIMIC_ENOTFOUND);
}

static int sh(const char *fmt, const char *a, const char *b) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, fmt, a, b);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(the_backup_command_holds_what_restores) {
  const char *bin = getenv("MIMIC_BIN");
  if (!bin || access(bin, X_OK) != 0) SKIP("MIMIC_BIN not set");
  char root[128], p[256];
  snprintf(root, sizeof root, "%s/inst", dir);
  snprintf(p, sizeof p, "%s/data/personas", root);
  CHECK_OK(fs_mkdirs(p));
  snprintf(p, sizeof p, "%s/models", root);
  CHECK_OK(fs_mkdirs(p));
  snprintf(p, sizeof p, "%s/data/logs", root);
  CHECK_OK(fs_mkdirs(p));
  snprintf(p, sizeof p, "%s/data/personas/pirate.json", root);
  CHECK_OK(fs_write_atomic(p, "{\"name\": \"pirate\"}", 18));
  snprintf(p, sizeof p, "%s/data/logs/mimic.log", root);
  CHECK_OK(fs_write_atomic(p, "a log line\n", 11));
  const char *types[] = {"model", "adapter"}, *names[] = {"base.gguf", "adapter.gguf"};
  for (int i = 0; i < 2; i++) {
    gguf_writer *w = gguf_writer_new();
    gguf_set_str(w, "general.architecture", "qwen2");
    gguf_set_str(w, "general.type", types[i]);
    snprintf(p, sizeof p, "%s/models/%s", root, names[i]);
    CHECK_OK(gguf_writer_save(w, p));
    gguf_writer_destroy(w);
  }
  snprintf(p, sizeof p, "%s/mimic.conf", root);
  CHECK_OK(fs_write_atomic(p, "[data]\ndir = data\n[engine]\nmodel = models/base.gguf\n", 51));
  CHECK_INT(chmod(p, 0600), 0);
  /* a database with a few messages */
  snprintf(p, sizeof p, "%s/data/mimic.db", root);
  store *s = NULL;
  REQUIRE(store_open(p, &s) == 0);
  for (uint64_t k = 1; k <= 5; k++) {
    store_msg m = {.id = k,
                   .channel_id = 7,
                   .guild_id = 1,
                   .author_id = 42,
                   .ts_ms = 1,
                   .content = "hi",
                   .source = STORE_SRC_DCE};
    CHECK_OK(store_msg_upsert(s, &m, NULL));
  }
  store_close(s);

  CHECK_INT(sh("cd %s && %s backup --out ../bk >/dev/null", root, bin), 0);
  char bk[128];
  snprintf(bk, sizeof bk, "%s/bk", dir);
  CHECK_INT(sh("test -f %s/mimic.db && test -f %s/data/personas/pirate.json", bk, bk), 0);
  CHECK_INT(sh("test -f %s/models/adapter.gguf && test ! -e %s/models/base.gguf", bk, bk), 0);
  CHECK_INT(sh("test ! -e %s/data/logs && test ! -e %s/data/mimic.db", bk, bk), 0);
  CHECK_INT(sh("test \"$(stat -c %%a %s/mimic.conf)\" = 600 && grep -q 'base model, not copied' "
               "%s/MANIFEST.txt",
               bk, bk),
            0);
  CHECK_INT(sh("%s backup --verify %s >/dev/null", bin, bk), 0);
  /* a second backup into the same folder is refused; a missing file fails verification */
  CHECK_INT(sh("cd %s && %s backup --out ../bk >/dev/null 2>&1", root, bin), 1);
  snprintf(p, sizeof p, "%s/data/personas/pirate.json", bk);
  CHECK_INT(unlink(p), 0);
  CHECK_INT(sh("%s backup --verify %s 2>&1 | grep -q 'missing or changed: data/personas/"
               "pirate.json'",
               bin, bk),
            0);
  CHECK_INT(sh("%s backup --verify %s >/dev/null 2>&1", bin, bk), 1);
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mimic_backup_%d", (int)getpid());
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s && mkdir -p %s", dir, dir);
  if (system(cmd) != 0) return 1;
  RUN(backup_while_another_connection_writes);
  RUN(verify_refuses_a_damaged_copy);
  RUN(the_backup_command_holds_what_restores);
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
