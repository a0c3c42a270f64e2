/* Allocation-failure tests for the store: open (with every migration), a message upsert with all
 * its children, and the reads (by id, recent, search, each) under every failure point. First with
 * only mimic's own allocations failing (arena, buffers), then with SQLite's allocator routed
 * through mem_* too, so SQLITE_NOMEM anywhere must come back as a clean error. */
#include <malloc.h>
#include <sqlite3.h>

#include "base/base.h"
#include "store/store.h"
#include "test.h"

static int count_msg(const store_msg *m, void *user) {
  (void)m;
  (*(int *)user)++;
  return 0;
}

/* One session against a fresh in-memory database; returns 0 only when every step worked and read
 * back what was written. */
static int session(void *ctx) {
  (void)ctx;
  store *s = NULL;
  store_msg_list l = {0};
  int rc = store_open(":memory:", &s);
  if (rc) return rc;
  store_user u = {.id = 10};
  str_lcpy(u.name, "alice", sizeof u.name);
  if ((rc = store_user_upsert(s, &u))) goto out;
  uint64_t mentions[] = {11, 12};
  uint64_t reactors[] = {11, 12};
  store_attachment att[] = {{.id = 7,
                             .filename = "a.png",
                             .url = "https://cdn/a.png",
                             .size = 3,
                             .content_type = "image/png"}};
  store_reaction re[] = {{.emoji = "\xf0\x9f\x91\x8d",
                          .emoji_name = "\xf0\x9f\x91\x8d",
                          .count = 2,
                          .users = reactors,
                          .n_users = 2}};
  store_msg m = {.id = 100,
                 .channel_id = 5,
                 .guild_id = 1,
                 .author_id = 10,
                 .ts_ms = 1000,
                 .content = "hello wide world",
                 .embeds_text = "",
                 .has = STORE_HAS_ALL,
                 .mentions = mentions,
                 .n_mentions = 2,
                 .attachments = att,
                 .n_attachments = 1,
                 .reactions = re,
                 .n_reactions = 1};
  bool inserted = false;
  if ((rc = store_msg_upsert(s, &m, &inserted))) goto out;
  m.id = 101;
  m.ts_ms = 2000;
  m.content = "second message";
  if ((rc = store_msg_upsert(s, &m, NULL))) goto out;
  if ((rc = store_msg_get(s, 100, &l))) goto out;
  if (l.n != 1 || strcmp(l.items[0].content, "hello wide world") || l.items[0].n_reactions != 1 ||
      l.items[0].reactions[0].n_users != 2 || l.items[0].n_attachments != 1 ||
      strcmp(l.items[0].attachments[0].url, "https://cdn/a.png")) {
    rc = MIMIC_EINVAL;
    goto out;
  }
  store_msg_list_free(&l);
  if ((rc = store_msg_recent(s, 5, 0, 10, &l))) goto out;
  if (l.n != 2) rc = MIMIC_EINVAL;
  store_msg_list_free(&l);
  if (rc) goto out;
  if ((rc = store_msg_search(s, "wide", false, 0, 10, &l))) goto out;
  if (l.n != 1) rc = MIMIC_EINVAL;
  store_msg_list_free(&l);
  if (rc) goto out;
  int n = 0;
  store_msg_query q = {.channel_id = 5};
  if ((rc = store_msg_each(s, &q, count_msg, &n))) goto out;
  if (n != 2) rc = MIMIC_EINVAL;
out:
  store_msg_list_free(&l);
  store_close(s);
  return rc;
}

TEST(session_works) { CHECK_OK(session(NULL)); }

TEST(mimic_allocations_fail) { CHECK_OOM(session, NULL); }

/* ---- SQLite through mem_* ---- */

static void *sq_malloc(int n) { return n > 0 ? mem_alloc((size_t)n) : NULL; }
static void sq_free(void *p) { mem_free(p); }
static void *sq_realloc(void *p, int n) { return n > 0 ? mem_realloc(p, (size_t)n) : NULL; }
static int sq_size(void *p) { return p ? (int)malloc_usable_size(p) : 0; }
static int sq_roundup(int n) { return (n + 7) & ~7; }
static int sq_init(void *a) {
  (void)a;
  return SQLITE_OK;
}
static void sq_shutdown(void *a) { (void)a; }

/* SQLite makes thousands of allocations per session (the migrations above all), and every run
 * starts over, so this walks every 11th failure point: one in each stretch of eleven. */
TEST(sqlite_allocations_fail_too) {
  long runs = test_oom_loop_every("session", session, NULL, 100000, 11);
  CHECK(runs > 0);
  printf("     %ld failure runs\n", runs);
}

int main(void) {
  log_set_level(LOG_ERROR); /* every failure run warns; the checks are what count */
  RUN(session_works);
  RUN(mimic_allocations_fail);
  static const sqlite3_mem_methods methods = {sq_malloc,  sq_free, sq_realloc,  sq_size,
                                              sq_roundup, sq_init, sq_shutdown, NULL};
  sqlite3_shutdown();
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &methods) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK) {
    printf("  could not route SQLite's allocator\n");
    return 1;
  }
  RUN(sqlite_allocations_fail_too);
  TEST_MAIN_END();
}
