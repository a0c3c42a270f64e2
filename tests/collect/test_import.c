/* Tests for the importers: DiscordChatExporter JSON (valid, old/missing fields, 0-7 fractional
 * digits, Unicode, malformed and truncated at many offsets), Discord's data package (JSON and CSV),
 * idempotent re-import, privacy at import, and the fetcher's page-storing seam. The exports are
 * generated here, so every expectation follows from data the test wrote. */
#include <sqlite3.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "collect/collect.h"
#include "collect/collect_int.h"
#include "store/store.h"
#include "test.h"

static char tmpdir[64];

static int64_t q1(store *s, const char *sql) {
  sqlite3_stmt *st;
  if (store_stmt(s, sql, &st)) return -1;
  int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

static store *mem_store(void) {
  store *s = NULL;
  if (store_open(":memory:", &s)) return NULL;
  return s;
}

/* Timestamps with 0..7 fractional digits and different offsets; all mean known instants. */
static const char *const stamps[] = {
    "2021-11-24T16:16:57+00:00",        "2021-11-24T16:16:57.1+00:00",
    "2021-11-24T16:16:57.12+00:00",     "2021-11-24T16:16:57.123+00:00",
    "2021-11-24T12:16:57.1234-04:00",   "2021-11-24T16:16:57.12345Z",
    "2021-11-24T17:16:57.123456+01:00", "2021-11-24T16:16:57.1234567+00:00",
};
static const int64_t stamp_ms[] = {
    1637770617000, 1637770617100, 1637770617120, 1637770617123,
    1637770617123, 1637770617123, 1637770617123, 1637770617123,
};

/* A DCE export with n messages. Message i (1-based) has id 1000+i, author 1 + i % 3 (user 3 is a
 * bot), timestamp stamps[i % 8] plus i minutes, content "msg i ...". Message 2 replies to 1;
 * message 3 has reactions with users; message 4 mentions user 2; message 5 has an attachment and
 * an embed; message 6 lacks optional fields entirely (older export). No trailing newline. */
static void make_dce(buf *b, int n) {
  buf_reset(b);
  int r = buf_puts(
      b, "{\n  \"guild\": {\"id\": \"77\", \"name\": \"Test Guild\", \"iconUrl\": \"x\"},\n"
         "  \"channel\": {\"id\": \"55\", \"type\": \"GuildTextChat\", \"categoryId\": "
         "\"44\", \"category\": \"Text\", \"name\": \"général\", \"topic\": null},\n"
         "  \"dateRange\": {\"after\": null, \"before\": null},\n"
         "  \"exportedAt\": \"2022-01-01T00:00:00+00:00\",\n  \"messages\": [");
  for (int i = 1; i <= n; i++) {
    int author = 1 + i % 3;
    r |= buf_printf(b, "%s\n    {\"id\": \"%d\", \"type\": \"%s\", ", i > 1 ? "," : "", 1000 + i,
                    i == 2 ? "Reply" : "Default");
    if (i != 6) {
      /* add i minutes by rewriting the minute field: stamps are all at 16:16 UTC (12:16 at -4) */
      char ts[64];
      str_lcpy(ts, stamps[i % 8], sizeof ts);
      int minute = 16 + i % 40;
      ts[14] = (char)('0' + minute / 10);
      ts[15] = (char)('0' + minute % 10);
      r |= buf_printf(b, "\"timestamp\": \"%s\", \"timestampEdited\": %s, \"isPinned\": false, ",
                      ts, i == 4 ? "\"2021-11-25T00:00:00+00:00\"" : "null");
    }
    r |= buf_printf(b, "\"content\": \"msg %d héllo 👋 \\\"q\\\" \\n line2\", ", i);
    r |= buf_printf(b,
                    "\"author\": {\"id\": \"%d\", \"name\": \"user%d\", \"discriminator\": "
                    "\"%s\", \"nickname\": \"Nick %d\", \"isBot\": %s%s}",
                    author, author, author == 3 ? "0000" : "1234", author,
                    author == 3 ? "true" : "false",
                    i == 6 ? "" : ", \"roles\": [], \"avatarUrl\": \"a\"");
    if (i != 6 && i != 5) r |= buf_puts(b, ", \"attachments\": [], \"embeds\": []");
    if (i != 6 && i != 4) r |= buf_puts(b, ", \"stickers\": [], \"mentions\": []");
    if (i == 2)
      r |= buf_puts(b, ", \"reference\": {\"messageId\": \"1001\", \"channelId\": \"55\", "
                       "\"guildId\": \"77\"}");
    if (i == 3)
      r |= buf_puts(b, ", \"reactions\": [{\"emoji\": {\"id\": \"\", \"name\": \"😂\", \"code\": "
                       "\"joy\", \"isAnimated\": false}, \"count\": 2, \"users\": [{\"id\": \"1\", "
                       "\"name\": \"user1\"}, {\"id\": \"2\", \"name\": \"user2\"}]}, {\"emoji\": "
                       "{\"id\": \"999\", \"name\": \"pepe\"}, \"count\": 5}]");
    else if (i != 6)
      r |= buf_puts(b, ", \"reactions\": []");
    if (i == 4)
      r |= buf_puts(
          b, ", \"mentions\": [{\"id\": \"2\", \"name\": \"user2\", \"nickname\": \"Nick 2\"}]");
    if (i == 5)
      r |= buf_puts(b,
                    ", \"attachments\": [{\"id\": \"31\", \"url\": \"https://cdn/x.png\", "
                    "\"fileName\": \"x.png\", \"fileSizeBytes\": 1234}], \"embeds\": [{\"title\": "
                    "\"Embed title\", \"description\": \"Embed body\", \"fields\": [{\"name\": "
                    "\"f\", \"value\": \"v\", \"isInline\": false}]}]");
    r |= buf_puts(b, "}");
  }
  r |= buf_printf(b, "\n  ],\n  \"messageCount\": %d\n}", n);
  if (r) abort();
}

TEST(dce_valid_export) {
  store *s = mem_store();
  REQUIRE(s);
  buf b;
  buf_init(&b, 0);
  make_dce(&b, 40);
  collect_import_stats st;
  CHECK_OK(collect_import_dce_mem(s, b.data, b.len, "export.json", NULL, &st));
  CHECK_INT(st.messages, 40);
  CHECK_INT(st.inserted, 40);
  CHECK_INT(st.bytes, b.len);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 40);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages WHERE channel_id = 55 AND guild_id = 77"), 40);
  store_channel ch;
  CHECK_OK(store_channel_get(s, 55, &ch));
  CHECK_STR(ch.name, "général");
  CHECK_INT(ch.parent_id, 44);
  CHECK_INT(ch.guild_id, 77);
  /* Timestamps: 0..7 fractional digits and offsets all parse to the instant they denote. */
  for (int i = 1; i <= 8; i++) {
    if (i == 6) continue;
    store_msg_list l;
    CHECK_OK(store_msg_get(s, (uint64_t)(1000 + i), &l));
    REQUIRE(l.n == 1);
    int64_t want = stamp_ms[i % 8] + (int64_t)(i % 40) * 60000;
    if (l.items[0].ts_ms != want)
      TEST_FAIL_("message %d: ts %lld, want %lld", i, (long long)l.items[0].ts_ms, (long long)want);
    store_msg_list_free(&l);
  }
  store_msg_list l;
  /* Missing timestamp: derived from the snowflake. */
  CHECK_OK(store_msg_get(s, 1006, &l));
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].ts_ms, collect_snowflake_ms(1006));
  CHECK_STR(l.items[0].content, "msg 6 héllo 👋 \"q\" \n line2");
  store_msg_list_free(&l);
  /* Reply reference, type. */
  CHECK_OK(store_msg_get(s, 1002, &l));
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].type, 19);
  CHECK_INT(l.items[0].ref_message_id, 1001);
  store_msg_list_free(&l);
  /* Reactions with reactors; custom emoji keyed name:id. */
  CHECK_OK(store_msg_get(s, 1003, &l));
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].reaction_total, 7);
  REQUIRE(l.items[0].n_reactions == 2);
  CHECK_STR(l.items[0].reactions[0].emoji, "pepe:999");
  CHECK_INT(l.items[0].reactions[0].count, 5);
  CHECK_STR(l.items[0].reactions[1].emoji, "😂");
  CHECK_INT(l.items[0].reactions[1].n_users, 2);
  CHECK(!l.items[0].author_bot);
  CHECK(!(l.items[0].flags & STORE_MSG_WEBHOOK));
  store_msg_list_free(&l);
  CHECK_OK(store_msg_get(s, 1005, &l)); /* author 3: a bot with discriminator 0000 = webhook */
  REQUIRE(l.n == 1);
  CHECK(l.items[0].author_bot);
  CHECK(l.items[0].flags & STORE_MSG_WEBHOOK);
  store_msg_list_free(&l);
  CHECK_OK(store_msg_get(s, 1004, &l));
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].n_mentions, 1);
  CHECK_INT(l.items[0].mentions[0], 2);
  CHECK_INT(l.items[0].edited_ms, 1637798400000);
  CHECK_STR(l.items[0].author_shown, "Nick 2");
  store_msg_list_free(&l);
  CHECK_OK(store_msg_get(s, 1005, &l));
  REQUIRE(l.n == 1);
  REQUIRE(l.items[0].n_attachments == 1);
  CHECK_STR(l.items[0].attachments[0].filename, "x.png");
  CHECK_INT(l.items[0].attachments[0].size, 1234);
  CHECK_STR(l.items[0].embeds_text, "Embed title\nEmbed body\nf\nv");
  store_msg_list_free(&l);

  /* Re-import adds nothing. */
  CHECK_OK(collect_import_dce_mem(s, b.data, b.len, "export.json", NULL, &st));
  CHECK_INT(st.messages, 40);
  CHECK_INT(st.inserted, 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 40);
  CHECK_INT(q1(s, "SELECT count(*) FROM reactions"), 2);
  CHECK_INT(q1(s, "SELECT count(*) FROM import_log"), 2);
  buf_free(&b);
  store_close(s);
}

TEST(dce_streamed_from_file_matches_memory) {
  buf b;
  buf_init(&b, 0);
  make_dce(&b, 3000); /* about 1 MB: several scanner blocks */
  char path[256];
  snprintf(path, sizeof path, "%s/big.json", tmpdir);
  FILE *f = fopen(path, "wb");
  REQUIRE(f);
  fwrite(b.data, 1, b.len, f);
  fclose(f);
  store *s = mem_store();
  REQUIRE(s);
  collect_import_stats st;
  CHECK_OK(collect_import_dce(s, path, NULL, &st));
  CHECK_INT(st.inserted, 3000);
  CHECK_INT(st.total_bytes, b.len);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 3000);
  CHECK_INT(
      q1(s, "SELECT count(*) FROM messages WHERE content LIKE 'msg % héllo 👋 \"q\" \n line2'"),
      3000);
  CHECK_OK(collect_import_path(s, path, NULL, &st));
  CHECK_INT(st.inserted, 0);
  CHECK_INT(collect_import_dce(s, "/nonexistent/x.json", NULL, &st), MIMIC_EIO);
  CHECK(strstr(err_msg(), "/nonexistent/x.json") != NULL);
  unlink(path);
  buf_free(&b);
  store_close(s);
}

static uint64_t reported_byte(const char *msg) {
  const char *p = strstr(msg, "byte ");
  if (!p) return UINT64_MAX;
  uint64_t v = 0;
  for (p += 5; *p >= '0' && *p <= '9'; p++) v = v * 10 + (uint64_t)(*p - '0');
  return v;
}

TEST(dce_truncated_at_many_offsets_commits_nothing) {
  buf b;
  buf_init(&b, 0);
  make_dce(&b, 12);
  store *s = mem_store();
  REQUIRE(s);
  int tried = 0;
  for (size_t cut = 0; cut < b.len; cut += 1 + cut / 8) {
    collect_import_stats st;
    int rc = collect_import_dce_mem(s, b.data, cut, "cut.json", NULL, &st);
    tried++;
    if (rc == 0) {
      TEST_FAIL_("truncated at %zu of %zu bytes: accepted", cut, b.len);
      continue;
    }
    const char *m = err_msg();
    if (!strstr(m, "cut.json") || reported_byte(m) == UINT64_MAX || reported_byte(m) > cut)
      TEST_FAIL_("truncated at %zu: unclear error '%s'", cut, m);
    if (q1(s, "SELECT count(*) FROM messages") != 0) {
      TEST_FAIL_("truncated at %zu: rows committed", cut);
      break;
    }
  }
  CHECK(tried > 30);
  CHECK_INT(q1(s, "SELECT count(*) FROM users"), 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM channels"), 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM import_log"), 0);
  buf_free(&b);
  store_close(s);
}

TEST(dce_malformed_points_at_the_byte) {
  buf b;
  buf_init(&b, 0);
  make_dce(&b, 10);
  store *s = mem_store();
  REQUIRE(s);
  /* Break message 7: replace the colon after its "content" key with a semicolon. */
  char *m7 = strstr(b.data, "\"id\": \"1007\"");
  REQUIRE(m7);
  char *bad = strstr(m7, "\"content\":") + strlen("\"content\"");
  *bad = ';';
  size_t bad_off = (size_t)(bad - b.data);
  size_t m7_start = (size_t)(m7 - b.data) - 1;
  CHECK_INT(collect_import_dce_mem(s, b.data, b.len, "bad.json", NULL, NULL), MIMIC_EFORMAT);
  const char *msg = err_msg();
  CHECK(strstr(msg, "message 7") != NULL);
  uint64_t at = reported_byte(msg);
  if (at < m7_start || at > bad_off + 2)
    TEST_FAIL_("error at byte %llu, bad byte at %zu: %s", (unsigned long long)at, bad_off, msg);
  CHECK(strstr(msg, "(line 13)") != NULL); /* six header lines, then one line per message */
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 0);
  *bad = ':';
  /* Invalid UTF-8 inside a string. */
  char *h = strstr(b.data, "héllo");
  h[1] = (char)0xff;
  CHECK_INT(collect_import_dce_mem(s, b.data, b.len, "utf8.json", NULL, NULL), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "message 1") != NULL);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 0);
  /* Not an export at all. */
  CHECK_INT(collect_import_dce_mem(s, "[1,2]", 5, "arr.json", NULL, NULL), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "not a DiscordChatExporter") != NULL);
  CHECK_INT(collect_import_dce_mem(s, "{\"guild\":{}}", 12, "nomsg.json", NULL, NULL),
            MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "no \"messages\"") != NULL);
  CHECK_INT(collect_import_dce_mem(s, "", 0, "empty.json", NULL, NULL), MIMIC_EFORMAT);
  const char *trailing = "{\"channel\":{\"id\":\"5\"},\"messages\":[]} x";
  CHECK_INT(collect_import_dce_mem(s, trailing, strlen(trailing), "t.json", NULL, NULL),
            MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "after the end") != NULL);
  buf_free(&b);
  store_close(s);
}

TEST(dce_privacy_at_import) {
  buf b;
  buf_init(&b, 0);
  make_dce(&b, 30);
  store *s = mem_store();
  REQUIRE(s);
  CHECK_OK(store_user_flag_set(s, 2, STORE_FLAG_OPTED_OUT, "asked"));
  collect_import_stats st;
  CHECK_OK(collect_import_dce_mem(s, b.data, b.len, "p.json", NULL, &st));
  CHECK_INT(st.skipped_privacy, 10);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages WHERE author_id = 2"), 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 20);
  buf_free(&b);
  store_close(s);
}

/* The importer's per-import user cache is bounded: past its cap it starts over, so an export naming
 * millions of people cannot grow it, and answers stay right across a restart (flags come from the
 * store, every user is stored once). */
TEST(import_user_cache_is_bounded) {
  store *s = mem_store();
  REQUIRE(s);
  CHECK_OK(store_user_flag_set(s, 7, STORE_FLAG_OPTED_OUT, "asked"));
  CHECK_OK(store_user_flag_set(s, 233, STORE_FLAG_EXCLUDED, ""));
  collect_import_stats st;
  collect_ctx c;
  collect__ctx_init(&c, s, NULL, &st);
  c.users_max = 8;
  size_t max_cap = 0;
  for (int round = 0; round < 3; round++) {
    for (uint64_t id = 1; id <= 300; id++) {
      store_user u = {.id = id};
      snprintf(u.name, sizeof u.name, "user%llu", (unsigned long long)id);
      uint32_t flags = 99;
      CHECK_OK(collect__user(&c, &u, &flags));
      uint32_t want = id == 7 ? STORE_FLAG_OPTED_OUT : id == 233 ? STORE_FLAG_EXCLUDED : 0;
      if (flags != want)
        TEST_FAIL_("round %d user %llu: flags %u, want %u", round, (unsigned long long)id, flags,
                   want);
      CHECK_OK(collect__user_flags(&c, id, &flags));
      CHECK_INT(flags, want);
      if (c.users.len > c.users_max)
        TEST_FAIL_("cache holds %zu users, cap %zu", c.users.len, c.users_max);
      if (c.users.cap > max_cap) max_cap = c.users.cap;
    }
  }
  CHECK(c.users_cleared >= 3 * 300 / 8 - 1);
  /* 300 users in an uncapped map would need 512 slots; the capped table stays at its first 16. */
  CHECK(max_cap <= 256);
  CHECK_INT(q1(s, "SELECT count(*) FROM users"), 300);
  CHECK_INT(q1(s, "SELECT count(*) FROM users WHERE name = 'user' || id"), 300);
  collect__ctx_free(&c);
  store_close(s);
}

static void write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "wb");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

TEST(data_package_json_and_csv) {
  char root[256], p[512];
  snprintf(root, sizeof root, "%s/package", tmpdir);
  mkdir(root, 0700);
  snprintf(p, sizeof p, "%s/account", root);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/account/user.json", root);
  write_text(p, "{\"id\": \"4242\", \"username\": \"owner\", \"global_name\": \"The Owner\"}");
  snprintf(p, sizeof p, "%s/Messages", root);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/Messages/index.json", root);
  write_text(p, "{\"111\": \"general in Some Server\", \"222\": \"Direct Message with pal#0\"}");
  snprintf(p, sizeof p, "%s/Messages/c111", root);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/Messages/c111/channel.json", root);
  write_text(p, "{\"id\": \"111\", \"type\": \"GUILD_TEXT\", \"name\": \"general\", \"guild\": "
                "{\"id\": \"9\", \"name\": \"Some Server\"}}");
  snprintf(p, sizeof p, "%s/Messages/c111/messages.json", root);
  write_text(p, "[{\"ID\": 793112643291643904, \"Timestamp\": \"2020-11-30 23:30:03\", "
                "\"Contents\": \"ping me <@123> 🎉\", \"Attachments\": \"\"},\n"
                " {\"ID\": 793112643291643905, \"Timestamp\": \"2020-11-30 23:31:00\", "
                "\"Contents\": \"\", \"Attachments\": \"https://cdn.discordapp.com/attachments/"
                "111/555/cat.png https://cdn.discordapp.com/attachments/111/556/dog.jpg?ex=1\"}]");
  snprintf(p, sizeof p, "%s/Messages/c222", root);
  mkdir(p, 0700);
  snprintf(p, sizeof p, "%s/Messages/c222/channel.json", root);
  write_text(p, "{\"id\": \"222\", \"type\": \"DM\", \"recipients\": [\"4242\", \"17\"]}");
  snprintf(p, sizeof p, "%s/Messages/c222/messages.csv", root);
  write_text(p, "ID,Timestamp,Contents,Attachments\r\n"
                "793112643291643906,2020-11-30 23:30:03.690000+00:00,ping me,\r\n"
                "793112643291643907,2020-12-01 10:00:00.000000+00:00,\"multi\nline, with "
                "\"\"quotes\"\"\",\r\n");
  store *s = mem_store();
  REQUIRE(s);
  collect_import_stats st;
  CHECK_OK(collect_import_path(s, root, NULL, &st));
  CHECK_INT(st.inserted, 4);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages WHERE author_id = 4242"), 4);
  store_msg_list l;
  CHECK_OK(store_msg_get(s, 793112643291643904ULL, &l));
  REQUIRE(l.n == 1);
  CHECK_STR(l.items[0].content, "ping me <@123> 🎉");
  CHECK_INT(l.items[0].ts_ms, 1606779003000);
  CHECK_INT(l.items[0].guild_id, 9);
  CHECK_STR(l.items[0].author_shown, "The Owner");
  store_msg_list_free(&l);
  CHECK_OK(store_msg_get(s, 793112643291643905ULL, &l));
  REQUIRE(l.n == 1);
  REQUIRE(l.items[0].n_attachments == 2);
  CHECK_STR(l.items[0].attachments[0].filename, "cat.png");
  CHECK_INT(l.items[0].attachments[0].id, 555);
  CHECK_STR(l.items[0].attachments[1].url,
            "https://cdn.discordapp.com/attachments/111/556/dog.jpg?ex=1");
  CHECK_STR(l.items[0].attachments[1].filename, "dog.jpg");
  store_msg_list_free(&l);
  CHECK_OK(store_msg_get(s, 793112643291643907ULL, &l));
  REQUIRE(l.n == 1);
  CHECK_STR(l.items[0].content, "multi\nline, with \"quotes\"");
  CHECK_INT(l.items[0].ts_ms, 1606816800000);
  store_msg_list_free(&l);
  store_channel ch;
  CHECK_OK(store_channel_get(s, 222, &ch));
  CHECK_STR(ch.name, "Direct Message with pal#0");
  CHECK_INT(ch.type, STORE_CH_DM);
  /* Re-import adds nothing. */
  CHECK_OK(collect_import_path(s, root, NULL, &st));
  CHECK_INT(st.inserted, 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 4);
  store_close(s);

  /* One folder without the account file: the author must be given. */
  s = mem_store();
  REQUIRE(s);
  char folder[512];
  snprintf(folder, sizeof folder, "%s/Messages/c222", root);
  snprintf(p, sizeof p, "%s/account/user.json", root);
  unlink(p);
  CHECK_INT(collect_import_package(s, folder, NULL, &st), MIMIC_EINVAL);
  CHECK(strstr(err_msg(), "--author") != NULL);
  collect_import_opts o = {.package_author_id = 4242};
  CHECK_OK(collect_import_package(s, folder, &o, &st));
  CHECK_INT(st.inserted, 2);
  /* A truncated CSV commits nothing. */
  snprintf(p, sizeof p, "%s/Messages/c222/messages.csv", root);
  write_text(
      p,
      "ID,Timestamp,Contents,Attachments\n793112643291643999,2020-11-30 23:30:03,\"never closed\n");
  store *s2 = mem_store();
  REQUIRE(s2);
  CHECK_INT(collect_import_package(s2, folder, &o, &st), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "truncated") != NULL);
  CHECK_INT(q1(s2, "SELECT count(*) FROM messages"), 0);
  store_close(s2);
  store_close(s);
}

TEST(fetch_page_seam) {
  store *s = mem_store();
  REQUIRE(s);
  const char *page1 =
      "[{\"id\": \"2003\", \"channel_id\": \"9\", \"author\": {\"id\": \"5\", \"username\": "
      "\"ann\", "
      "\"global_name\": \"Ann\"}, \"content\": \"third\", \"timestamp\": "
      "\"2024-01-01T00:00:03.000000+00:00\", \"edited_timestamp\": null, \"type\": 0, "
      "\"mentions\": [], "
      "\"attachments\": [], \"embeds\": [], \"reactions\": [{\"count\": 3, \"emoji\": {\"id\": "
      "null, "
      "\"name\": \"🔥\"}}], \"message_reference\": {\"message_id\": \"2002\", \"channel_id\": "
      "\"9\"}},"
      " {\"id\": \"2002\", \"author\": {\"id\": \"6\", \"username\": \"bob\", \"bot\": true}, "
      "\"content\": \"second\", \"timestamp\": \"2024-01-01T00:00:02+00:00\"}]";
  collect_page_result r;
  CHECK_OK(collect_fetch_store_page(s, 9, page1, strlen(page1), 2, true, &r));
  CHECK_INT(r.messages, 2);
  CHECK_INT(r.inserted, 2);
  store_fetch_state fs;
  CHECK_OK(store_fetch_state_get(s, 9, &fs));
  CHECK_INT(fs.newest_id, 2003);
  CHECK_INT(fs.oldest_id, 2002);
  CHECK(!fs.complete);
  /* A broken page stores nothing and leaves the cursor. */
  const char *broken =
      "[{\"id\": \"2001\", \"author\": {\"id\": \"5\"}, \"content\": \"first\"}, {\"id\": \"x\"}]";
  CHECK(collect_fetch_store_page(s, 9, broken, strlen(broken), 2, true, &r) != 0);
  CHECK_INT(q1(s, "SELECT count(*) FROM messages"), 2);
  CHECK_OK(store_fetch_state_get(s, 9, &fs));
  CHECK_INT(fs.oldest_id, 2002);
  /* The last page backward is short: the channel is complete. */
  const char *page2 = "[{\"id\": \"2001\", \"author\": {\"id\": \"5\"}, \"content\": \"first\"}]";
  CHECK_OK(collect_fetch_store_page(s, 9, page2, strlen(page2), 2, true, &r));
  CHECK_OK(store_fetch_state_get(s, 9, &fs));
  CHECK_INT(fs.oldest_id, 2001);
  CHECK_INT(fs.newest_id, 2003);
  CHECK(fs.complete);
  store_msg_list l;
  CHECK_OK(store_msg_get(s, 2003, &l));
  REQUIRE(l.n == 1);
  CHECK_INT(l.items[0].reaction_total, 3);
  CHECK_INT(l.items[0].ref_message_id, 2002);
  CHECK_STR(l.items[0].author_shown, "Ann");
  store_msg_list_free(&l);
  CHECK_INT(collect_fetch_store_page(s, 9, "{}", 2, 2, true, &r), MIMIC_EFORMAT);
  store_close(s);
}

TEST(type_tables) {
  CHECK_INT(collect_msg_type_from_name("Default"), 0);
  CHECK_INT(collect_msg_type_from_name("Reply"), 19);
  CHECK_INT(collect_msg_type_from_name("GuildMemberJoin"), 7);
  CHECK_INT(collect_msg_type_from_name("46"), 46);
  CHECK_INT(collect_msg_type_from_name("Nope"), -1);
  CHECK(collect_msg_is_conversational(0));
  CHECK(collect_msg_is_conversational(19));
  CHECK(!collect_msg_is_conversational(7));
  CHECK_INT(collect_channel_type_from_name("GuildPublicThread"), STORE_CH_PUBLIC_THREAD);
  CHECK_INT(collect_channel_type_from_name("DM"), STORE_CH_DM);
  CHECK_INT(collect_snowflake_ms(175928847299117063ULL), 1462015105796);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_import_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(dce_valid_export);
  RUN(dce_streamed_from_file_matches_memory);
  RUN(dce_truncated_at_many_offsets_commits_nothing);
  RUN(dce_malformed_points_at_the_byte);
  RUN(dce_privacy_at_import);
  RUN(import_user_cache_is_bounded);
  RUN(data_package_json_and_csv);
  RUN(fetch_page_seam);
  RUN(type_tables);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
