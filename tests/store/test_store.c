/* Tests for the store: migrations, upserts, transactions, settings, flags, full-text search, the
 * fetch cursor, reactions, and a reader running while a writer writes (WAL). */
#include <pthread.h>
#include <stdatomic.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test.h"

static char tmpdir[64];

static void db_path(char *out, size_t cap, const char *name) {
  snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void remove_db(const char *path) {
  char p[512];
  unlink(path);
  snprintf(p, sizeof p, "%s-wal", path);
  unlink(p);
  snprintf(p, sizeof p, "%s-shm", path);
  unlink(p);
}

static store_msg msg(uint64_t id, uint64_t ch, uint64_t author, int64_t ts, const char *content) {
  store_msg m = {0};
  m.id = id;
  m.channel_id = ch;
  m.guild_id = 1;
  m.author_id = author;
  m.ts_ms = ts;
  m.content = content;
  m.source = STORE_SRC_DCE;
  return m;
}

static int64_t count_rows(store *s, const char *sql) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return -1;
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

TEST(migrates_from_empty_and_reopens) {
  char path[256];
  db_path(path, sizeof path, "migrate.db");
  remove_db(path);
  store *s = NULL;
  CHECK_OK(store_open(path, &s));
  REQUIRE(s);
  CHECK_INT(store_db_version(s), store_schema_version());
  CHECK(store_schema_version() >= 1);
  const char *tables[] = {"guilds",           "channels",    "users",       "messages",
                          "message_mentions", "attachments", "reactions",   "reaction_users",
                          "settings",         "user_flags",  "fetch_state", "datasets",
                          "dataset_messages", "purge_log",   "messages_fts"};
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM sqlite_master WHERE name = '%s'", tables[i]);
    if (count_rows(s, sql) != 1) TEST_FAIL_("table %s missing", tables[i]);
  }
  sqlite3_stmt *st;
  CHECK_OK(store_stmt(s, "PRAGMA journal_mode", &st));
  CHECK(sqlite3_step(st) == SQLITE_ROW);
  CHECK_STR((const char *)sqlite3_column_text(st, 0), "wal");
  sqlite3_reset(st);
  CHECK_INT(count_rows(s, "PRAGMA foreign_keys"), 1);
  store_close(s);
  /* Reopening migrates nothing and keeps the version. */
  CHECK_OK(store_open(path, &s));
  CHECK_INT(store_db_version(s), store_schema_version());
  /* A database from a newer mimic is refused with a clear message. */
  CHECK_OK(store_exec(s, "PRAGMA user_version = 999"));
  store_close(s);
  s = NULL;
  CHECK_INT(store_open(path, &s), MIMIC_EDB);
  CHECK(s == NULL);
  CHECK(strstr(err_msg(), "newer") != NULL);
  remove_db(path);
}

TEST(not_a_database_is_a_clear_error) {
  char path[256];
  db_path(path, sizeof path, "garbage.db");
  FILE *f = fopen(path, "wb");
  REQUIRE(f);
  for (int i = 0; i < 400; i++) fputs("this is not sqlite ", f);
  fclose(f);
  store *s = NULL;
  CHECK_INT(store_open(path, &s), MIMIC_EDB);
  CHECK(strstr(err_msg(), path) != NULL);
  remove_db(path);
}

TEST(upsert_is_idempotent_and_updates) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  store_user u = {.id = 10, .bot = false};
  str_lcpy(u.name, "alice", sizeof u.name);
  str_lcpy(u.display_name, "Alice A.", sizeof u.display_name);
  CHECK_OK(store_user_upsert(s, &u));
  store_msg m = msg(100, 5, 10, 1000, "héllo wörld 👋");
  uint64_t mentions[] = {11, 12, 11};
  store_attachment att[] = {{.id = 7,
                             .filename = "a.png",
                             .url = "https://cdn/a.png",
                             .size = 12,
                             .content_type = "image/png"}};
  uint64_t reactors[] = {11, 12};
  store_reaction re[] = {
      {.emoji = "👍", .emoji_name = "👍", .count = 2, .users = reactors, .n_users = 2},
      {.emoji = "pepe:55", .emoji_id = 55, .emoji_name = "pepe", .count = 1}};
  m.mentions = mentions;
  m.n_mentions = 3;
  m.attachments = att;
  m.n_attachments = 1;
  m.reactions = re;
  m.n_reactions = 2;
  m.has = STORE_HAS_ALL;
  bool ins = false;
  CHECK_OK(store_msg_upsert(s, &m, &ins));
  CHECK(ins);
  CHECK_OK(store_msg_upsert(s, &m, &ins));
  CHECK(!ins);
  int64_t n = 0;
  CHECK_OK(store_msg_count(s, 0, &n));
  CHECK_INT(n, 1);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM message_mentions"), 2);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM attachments"), 1);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM reactions"), 2);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM reaction_users"), 2);

  store_msg_list l;
  CHECK_OK(store_msg_get(s, 100, &l));
  REQUIRE(l.n == 1);
  CHECK_STR(l.items[0].content, "héllo wörld 👋");
  CHECK_STR(l.items[0].author_shown, "Alice A.");
  CHECK_INT(l.items[0].reaction_total, 3);
  CHECK_INT(l.items[0].n_mentions, 2);
  CHECK_INT(l.items[0].n_attachments, 1);
  CHECK_STR(l.items[0].attachments[0].url, "https://cdn/a.png");
  CHECK_INT(l.items[0].n_reactions, 2);
  CHECK_STR(l.items[0].reactions[0].emoji, "👍");
  CHECK_INT(l.items[0].reactions[0].n_users, 2);
  store_msg_list_free(&l);

  /* An edit through upsert with content only keeps the children it does not name. */
  store_msg e = msg(100, 5, 10, 1000, "edited");
  e.edited_ms = 2000;
  CHECK_OK(store_msg_upsert(s, &e, &ins));
  CHECK(!ins);
  CHECK_OK(store_msg_get(s, 100, &l));
  REQUIRE(l.n == 1);
  CHECK_STR(l.items[0].content, "edited");
  CHECK_INT(l.items[0].edited_ms, 2000);
  CHECK_INT(l.items[0].reaction_total, 3);
  store_msg_list_free(&l);

  /* An empty name never erases a known one. */
  store_user u2 = {.id = 10};
  CHECK_OK(store_user_upsert(s, &u2));
  store_user got;
  CHECK_OK(store_user_get(s, 10, &got));
  CHECK_STR(got.name, "alice");
  CHECK_STR(store_user_shown(&got), "Alice A.");
  CHECK_INT(store_user_get(s, 999, &got), MIMIC_ENOTFOUND);

  /* Invalid UTF-8 is refused and stores nothing. */
  store_msg bad = msg(101, 5, 10, 1000, "bad \xff\xfe");
  CHECK_INT(store_msg_upsert(s, &bad, NULL), MIMIC_EFORMAT);
  CHECK_INT(store_msg_get(s, 101, &l), MIMIC_ENOTFOUND);

  CHECK_OK(store_msg_delete(s, 100));
  CHECK_INT(count_rows(s, "SELECT count(*) FROM messages"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM reactions"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM reaction_users"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM attachments"), 0);
  store_close(s);
}

TEST(rolled_back_transaction_leaves_nothing) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  CHECK_OK(store_tx_begin(s));
  for (uint64_t i = 1; i <= 50; i++) {
    store_msg m = msg(1000 + i, 5, 10 + i % 3, (int64_t)i, "x");
    CHECK_OK(store_msg_upsert(s, &m, NULL)); /* nested: a savepoint each */
  }
  CHECK_OK(store_setting_set(s, "", "bot.response_rate", "0.5"));
  CHECK_INT(store_tx_depth(s), 1);
  store_tx_rollback(s);
  CHECK_INT(store_tx_depth(s), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM messages"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM users"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM channels"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM settings"), 0);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'x'"), 0);
  /* A nested rollback undoes only the inner part. */
  CHECK_OK(store_tx_begin(s));
  store_msg a = msg(1, 5, 10, 1, "kept");
  CHECK_OK(store_msg_upsert(s, &a, NULL));
  CHECK_OK(store_tx_begin(s));
  store_msg b = msg(2, 5, 10, 2, "dropped");
  CHECK_OK(store_msg_upsert(s, &b, NULL));
  store_tx_rollback(s);
  CHECK_OK(store_tx_commit(s));
  CHECK_INT(count_rows(s, "SELECT count(*) FROM messages"), 1);
  CHECK_INT(count_rows(s, "SELECT count(*) FROM messages WHERE id = 1"), 1);
  store_close(s);
}

static int collect_setting(const char *scope, const char *key, const char *value, int64_t ms,
                           void *user) {
  (void)scope;
  (void)ms;
  buf *b = user;
  return buf_printf(b, "%s=%s;", key, value);
}

TEST(settings_round_trip) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  buf b;
  buf_init(&b, 1 << 20);
  CHECK_INT(store_setting_get(s, "", "bot.prefix", &b), MIMIC_ENOTFOUND);
  CHECK_OK(store_setting_set(s, "", "bot.prefix", "?"));
  CHECK_OK(store_setting_set(s, "channel:5", "bot.prefix", "$"));
  CHECK_OK(store_setting_set(s, "", "bot.system_prompt", "Sé casual 😎\nline two"));
  CHECK_OK(store_setting_get(s, "", "bot.prefix", &b));
  CHECK_STR(b.data, "?");
  CHECK_OK(store_setting_get(s, "channel:5", "bot.prefix", &b));
  CHECK_STR(b.data, "$");
  CHECK_OK(store_setting_set(s, "", "bot.prefix", "!!"));
  CHECK_OK(store_setting_get(s, "", "bot.prefix", &b));
  CHECK_STR(b.data, "!!");
  CHECK_OK(store_setting_get(s, "", "bot.system_prompt", &b));
  CHECK_STR(b.data, "Sé casual 😎\nline two");
  buf list;
  buf_init(&list, 1 << 16);
  CHECK_OK(store_setting_each(s, "", collect_setting, &list));
  CHECK_STR(list.data, "bot.prefix=!!;bot.system_prompt=Sé casual 😎\nline two;");
  CHECK_OK(store_setting_delete(s, "", "bot.prefix"));
  CHECK_INT(store_setting_get(s, "", "bot.prefix", &b), MIMIC_ENOTFOUND);
  CHECK_INT(store_setting_set(s, "", "k", "\xc3"), MIMIC_EFORMAT);
  buf_free(&b);
  buf_free(&list);
  store_close(s);
}

TEST(flags_and_fetch_state) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  uint32_t f = 99;
  CHECK_OK(store_user_flags(s, 42, &f));
  CHECK_INT(f, 0);
  CHECK_OK(store_user_flag_set(s, 42, STORE_FLAG_OPTED_IN, "said yes"));
  CHECK_OK(store_user_flag_set(s, 42, STORE_FLAG_EXCLUDED, "owner"));
  CHECK_OK(store_user_flags(s, 42, &f));
  CHECK_INT(f, STORE_FLAG_OPTED_IN | STORE_FLAG_EXCLUDED);
  CHECK_OK(store_user_flag_set(s, 42, STORE_FLAG_OPTED_OUT, "changed mind"));
  CHECK_OK(store_user_flags(s, 42, &f));
  CHECK_INT(f, STORE_FLAG_OPTED_OUT | STORE_FLAG_EXCLUDED);
  CHECK_OK(store_user_flag_clear(s, 42, STORE_FLAG_EXCLUDED));
  CHECK_OK(store_user_flags(s, 42, &f));
  CHECK_INT(f, STORE_FLAG_OPTED_OUT);
  CHECK_INT(store_user_flag_set(s, 42, 3, ""), MIMIC_EINVAL);

  store_fetch_state fs;
  CHECK_INT(store_fetch_state_get(s, 5, &fs), MIMIC_ENOTFOUND);
  store_fetch_state w = {.channel_id = 5, .newest_id = 900, .oldest_id = 100, .complete = true};
  CHECK_OK(store_fetch_state_set(s, &w));
  CHECK_OK(store_fetch_state_get(s, 5, &fs));
  CHECK_INT(fs.newest_id, 900);
  CHECK_INT(fs.oldest_id, 100);
  CHECK(fs.complete);
  CHECK(fs.updated_ms > 0);
  store_close(s);
}

TEST(full_text_search) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  const char *texts[] = {"the pizza was great", "Café au lait tomorrow?", "pizza AND pasta",
                         "nothing here", "\"quoted\" words OR operators"};
  for (uint64_t i = 0; i < 5; i++) {
    store_msg m = msg(10 + i, i < 3 ? 5 : 6, 7, (int64_t)i, texts[i]);
    CHECK_OK(store_msg_upsert(s, &m, NULL));
  }
  store_msg_list l;
  CHECK_OK(store_msg_search(s, "pizza", false, 0, 10, &l));
  CHECK_INT(l.n, 2);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_search(s, "cafe", false, 0, 10, &l)); /* diacritics folded */
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].id, 11);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_search(s, "pizza pasta", false, 0, 10, &l));
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].id, 12);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_search(s, "pasta nothing", true, 0, 10, &l));
  CHECK_INT(l.n, 2);
  store_msg_list_free(&l);
  /* FTS syntax in user input is taken literally, never an error. */
  CHECK_OK(store_msg_search(s, "\"quoted OR NEAR( *", false, 0, 10, &l));
  store_msg_list_free(&l);
  CHECK_OK(store_msg_search(s, "   ", false, 0, 10, &l));
  CHECK_INT(l.n, 0);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_search(s, "pizza", false, 6, 10, &l)); /* other channel */
  CHECK_INT(l.n, 0);
  store_msg_list_free(&l);
  /* The index follows edits and deletes. */
  CHECK_OK(store_msg_edit(s, 10, "the burger was great", 99));
  CHECK_OK(store_msg_search(s, "pizza", false, 0, 10, &l));
  CHECK_INT(l.n, 1);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_search(s, "burger", false, 0, 10, &l));
  CHECK_INT(l.n, 1);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_delete(s, 12));
  CHECK_OK(store_msg_search(s, "pizza", false, 0, 10, &l));
  CHECK_INT(l.n, 0);
  store_msg_list_free(&l);
  CHECK_INT(store_msg_edit(s, 12345, "x", 1), MIMIC_ENOTFOUND);
  store_close(s);
}

TEST(recent_messages_and_scan) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  for (uint64_t i = 1; i <= 30; i++) {
    char text[32];
    snprintf(text, sizeof text, "m%llu", (unsigned long long)i);
    store_msg m = msg(i * 10, i % 2 ? 5 : 6, 7, (int64_t)i * 1000, text);
    CHECK_OK(store_msg_upsert(s, &m, NULL));
  }
  store_msg_list l;
  CHECK_OK(store_msg_recent(s, 5, 0, 4, &l));
  REQUIRE(l.n == 4);
  CHECK_STR(l.items[0].content, "m23"); /* oldest first, channel 5 is the odd ones */
  CHECK_STR(l.items[3].content, "m29");
  store_msg_list_free(&l);
  CHECK_OK(store_msg_recent(s, 5, 230, 2, &l));
  REQUIRE(l.n == 2);
  CHECK_STR(l.items[0].content, "m19");
  CHECK_STR(l.items[1].content, "m21");
  store_msg_list_free(&l);
  store_msg_list_free(&l); /* twice is harmless */
  CHECK_OK(store_msg_recent(s, 777, 0, 4, &l));
  CHECK_INT(l.n, 0);
  store_msg_list_free(&l);
  store_close(s);
}

TEST(live_reactions) {
  store *s;
  CHECK_OK(store_open(":memory:", &s));
  REQUIRE(s);
  store_msg m = msg(1, 5, 7, 1, "react to me");
  CHECK_OK(store_msg_upsert(s, &m, NULL));
  CHECK_INT(store_reaction_add(s, 2, "👍", 0, "👍", 8), MIMIC_ENOTFOUND);
  CHECK_OK(store_reaction_add(s, 1, "👍", 0, "👍", 8));
  CHECK_OK(store_reaction_add(s, 1, "👍", 0, "👍", 8)); /* same user twice counts once */
  CHECK_OK(store_reaction_add(s, 1, "👍", 0, "👍", 9));
  CHECK_INT(count_rows(s, "SELECT count FROM reactions WHERE message_id = 1"), 2);
  CHECK_OK(store_reaction_remove(s, 1, "👍", 8));
  CHECK_OK(store_reaction_remove(s, 1, "👍", 8));
  CHECK_INT(count_rows(s, "SELECT count FROM reactions WHERE message_id = 1"), 1);
  CHECK_OK(store_reaction_remove(s, 1, "👍", 9));
  CHECK_INT(count_rows(s, "SELECT count(*) FROM reactions"), 0);
  store_close(s);
}

/* A writer commits batches on its own connection while the test thread reads: WAL lets the
 * reader see the last committed state at every moment, never a half-written batch. */
typedef struct writer_arg {
  const char *path;
  int batches;
  int rc;
  _Atomic int done;
} writer_arg;

static void *writer_main(void *p) {
  writer_arg *w = p;
  store *s;
  if ((w->rc = store_open(w->path, &s))) {
    w->done = 1;
    return NULL;
  }
  for (int b = 0; b < w->batches && !w->rc; b++) {
    if ((w->rc = store_tx_begin(s))) break;
    for (int i = 0; i < 10 && !w->rc; i++) {
      store_msg m = msg((uint64_t)(b * 10 + i + 1), 5, 7, b, "batch");
      w->rc = store_msg_upsert(s, &m, NULL);
    }
    if (w->rc)
      store_tx_rollback(s);
    else
      w->rc = store_tx_commit(s);
  }
  store_close(s);
  w->done = 1;
  return NULL;
}

TEST(reader_while_writer_wal) {
  char path[256];
  db_path(path, sizeof path, "wal.db");
  remove_db(path);
  store *r, *w0;
  CHECK_OK(store_open(path, &w0));
  REQUIRE(w0);
  CHECK_OK(store_open(path, &r));
  REQUIRE(r);
  /* Same thread, two connections: an open write transaction does not block the reader, and the
   * reader does not see uncommitted rows. */
  CHECK_OK(store_tx_begin(w0));
  store_msg m = msg(9999, 5, 7, 1, "uncommitted");
  CHECK_OK(store_msg_upsert(w0, &m, NULL));
  CHECK_INT(count_rows(r, "SELECT count(*) FROM messages"), 0);
  CHECK_OK(store_tx_commit(w0));
  CHECK_INT(count_rows(r, "SELECT count(*) FROM messages"), 1);
  store_close(w0);

  writer_arg wa = {.path = path, .batches = 40};
  pthread_t th;
  REQUIRE(pthread_create(&th, NULL, writer_main, &wa) == 0);
  int64_t last = 0;
  int reads = 0;
  for (;;) {
    int64_t n = count_rows(r, "SELECT count(*) FROM messages WHERE content = 'batch'");
    reads++;
    if (n < 0 || n % 10 != 0 || n < last) {
      TEST_FAIL_("reader saw %lld rows (last %lld): a torn batch", (long long)n, (long long)last);
      break;
    }
    last = n;
    if (n == 400 || wa.done) break;
  }
  pthread_join(th, NULL);
  CHECK_OK(wa.rc);
  CHECK_INT(count_rows(r, "SELECT count(*) FROM messages WHERE content = 'batch'"), 400);
  CHECK(reads >= 1);
  store_close(r);
  remove_db(path);
}

/* A big import's WAL must not stay at its peak size while the bot keeps a connection open: every
 * connection asks SQLite to cut the WAL back after a checkpoint. */
TEST(wal_is_cut_back_after_big_transactions) {
  char path[256];
  db_path(path, sizeof path, "limit.db");
  remove_db(path);
  store *s = NULL;
  CHECK_OK(store_open(path, &s));
  REQUIRE(s);
  CHECK_INT(count_rows(s, "PRAGMA journal_size_limit"), STORE_WAL_LIMIT);
  CHECK_INT(count_rows(s, "PRAGMA temp_store"), 2);
  store_close(s);
  remove_db(path);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_store_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(migrates_from_empty_and_reopens);
  RUN(not_a_database_is_a_clear_error);
  RUN(upsert_is_idempotent_and_updates);
  RUN(rolled_back_transaction_leaves_nothing);
  RUN(settings_round_trip);
  RUN(flags_and_fetch_state);
  RUN(full_text_search);
  RUN(recent_messages_and_scan);
  RUN(live_reactions);
  RUN(reader_while_writer_wal);
  RUN(wal_is_cut_back_after_big_transactions);
  rmdir(tmpdir);
  TEST_MAIN_END();
}
