/* What the bot saw in images (store/media.h): descriptions by attachment, per message, for the
 * media sweep, cut on a UTF-8 boundary, and gone with their message whatever deletes it (a
 * Discord delete, a user's purge), so what a person showed goes when they do. */
#include <string.h>

#include "base/base.h"
#include "store/media.h"
#include "store/store_int.h"
#include "test.h"

static store *open_mem(void) {
  store *s = NULL;
  if (store_open(":memory:", &s)) return NULL;
  return s;
}

static store_media row(uint64_t att, uint64_t msg, int64_t ms, const char *desc) {
  store_media m = {.attachment_id = att, .message_id = msg, .created_ms = ms};
  str_lcpy(m.url, "https://cdn.discordapp.com/attachments/1/2/cat.png?ex=1&is=2&hm=3",
           sizeof m.url);
  str_lcpy(m.description, desc, sizeof m.description);
  str_lcpy(m.model, "SmolVLM-256M", sizeof m.model);
  return m;
}

static int add_message_in(store *s, uint64_t id, uint64_t author, uint64_t guild) {
  store_msg m = {.id = id,
                 .channel_id = guild ? 10 * guild : 99,
                 .guild_id = guild,
                 .author_id = author,
                 .ts_ms = 1000 + (int64_t)id,
                 .content = "look",
                 .source = STORE_SRC_GATEWAY};
  return store_msg_upsert(s, &m, NULL);
}

static int add_message(store *s, uint64_t id, uint64_t author) {
  return add_message_in(s, id, author, 1);
}

typedef struct seen {
  int n;
  uint64_t ids[8];
} seen;

static int collect(const store_media *m, void *user) {
  seen *w = user;
  if (w->n < 8) w->ids[w->n] = m->attachment_id;
  w->n++;
  return 0;
}

static int count_media(store *s) {
  sqlite3_stmt *st;
  if (store_stmt(s, "SELECT count(*) FROM media", &st)) return -1;
  int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
  sqlite3_reset(st);
  return n;
}

TEST(descriptions_round_trip_by_attachment_and_message) {
  store *s = open_mem();
  REQUIRE(s);
  store_media m = row(501, 100, 2000, "a tabby cat asleep on a keyboard");
  CHECK_OK(store_media_put(s, &m));
  store_media b = row(502, 100, 1000, "a mug of tea");
  CHECK_OK(store_media_put(s, &b));
  store_media got;
  CHECK_OK(store_media_get(s, 501, &got));
  CHECK_STR(got.description, "a tabby cat asleep on a keyboard");
  CHECK_STR(got.model, "SmolVLM-256M");
  CHECK(got.message_id == 100 && got.created_ms == 2000);
  /* the same attachment again: replaced, not doubled */
  m = row(501, 100, 2000, "a cat");
  CHECK_OK(store_media_put(s, &m));
  CHECK_OK(store_media_get(s, 501, &got));
  CHECK_STR(got.description, "a cat");
  CHECK_INT(count_media(s), 2);
  /* per message, oldest first; max respected */
  seen w = {0};
  CHECK_OK(store_media_of_message(s, 100, 8, collect, &w));
  CHECK_INT(w.n, 2);
  CHECK(w.ids[0] == 502 && w.ids[1] == 501);
  w = (seen){0};
  CHECK_OK(store_media_of_message(s, 100, 1, collect, &w));
  CHECK_INT(w.n, 1);
  /* the media sweep's list: created before a time */
  w = (seen){0};
  CHECK_OK(store_media_older(s, 1500, 8, collect, &w));
  CHECK_INT(w.n, 1);
  CHECK(w.ids[0] == 502);
  /* errors: no id, no row */
  store_media z = row(0, 100, 1, "x");
  CHECK_INT(store_media_put(s, &z), MIMIC_EINVAL);
  CHECK_INT(store_media_get(s, 999, &got), MIMIC_ENOTFOUND);
  CHECK_OK(store_media_delete_message(s, 100));
  CHECK_INT(count_media(s), 0);
  store_close(s);
}

TEST(long_descriptions_are_cut_on_a_character_boundary) {
  store *s = open_mem();
  REQUIRE(s);
  store_media m = row(7, 1, 1, "");
  /* "é" (2 bytes) repeated past the cap, with an odd offset so a byte cut would split one */
  size_t o = 0;
  m.description[o++] = 'x';
  while (o + 2 < sizeof m.description) {
    m.description[o++] = (char)0xC3;
    m.description[o++] = (char)0xA9;
  }
  m.description[o] = 0;
  CHECK_OK(store_media_put(s, &m));
  store_media got;
  CHECK_OK(store_media_get(s, 7, &got));
  size_t n = strlen(got.description);
  CHECK(n < STORE_MEDIA_TEXT_MAX);
  CHECK(n % 2 == 1); /* 'x' then whole two-byte characters */
  CHECK(utf8_valid(got.description, n));
  store_close(s);
}

TEST(descriptions_leave_with_their_message) {
  store *s = open_mem();
  REQUIRE(s);
  REQUIRE(add_message(s, 100, 42) == 0);
  REQUIRE(add_message(s, 101, 42) == 0);
  REQUIRE(add_message(s, 102, 43) == 0);
  store_media a = row(1, 100, 1, "alice's cat"), b = row(2, 101, 1, "alice's receipt"),
              c = row(3, 102, 1, "bob's dog");
  CHECK_OK(store_media_put(s, &a));
  CHECK_OK(store_media_put(s, &b));
  CHECK_OK(store_media_put(s, &c));
  /* a Discord delete through the messages table (whatever path deletes the row) */
  CHECK_OK(store_msg_delete(s, 100));
  store_media got;
  CHECK_INT(store_media_get(s, 1, &got), MIMIC_ENOTFOUND);
  CHECK_INT(count_media(s), 2);
  /* a user's purge: every description of their messages goes, nobody else's */
  int64_t pid = 0;
  CHECK_OK(store_purge_begin(s, 42, &pid));
  int64_t deleted = 0;
  CHECK_OK(store_purge_finish(s, pid, 42, 0, 0, &deleted));
  CHECK(deleted == 1);
  CHECK_INT(store_media_get(s, 2, &got), MIMIC_ENOTFOUND);
  CHECK_OK(store_media_get(s, 3, &got));
  CHECK_STR(got.description, "bob's dog");
  CHECK_INT(count_media(s), 1);
  store_close(s);
}

typedef struct sweep {
  int n;
  uint64_t ids[8];
  int64_t last_ms;
  uint64_t last_id, chan, author;
} sweep;

static int swept(const store_media *m, void *user) {
  sweep *w = user;
  if (w->n < 8) w->ids[w->n] = m->attachment_id;
  w->n++;
  w->last_ms = m->created_ms;
  w->last_id = m->attachment_id;
  w->chan = m->channel_id;
  w->author = m->author_id;
  return 0;
}

/* The media sweep's feed: one server's descriptions after a cursor, in order, resumable when cut by
 * max (rows of the same millisecond included), never another server's or a direct message's. */
TEST(the_sweep_takes_one_server_after_its_cursor) {
  store *s = open_mem();
  REQUIRE(s);
  REQUIRE(add_message_in(s, 100, 42, 1) == 0);
  REQUIRE(add_message_in(s, 101, 43, 1) == 0);
  REQUIRE(add_message_in(s, 200, 42, 2) == 0);
  REQUIRE(add_message_in(s, 300, 42, 0) == 0); /* a direct message */
  store_media rows[] = {row(11, 100, 5000, "a"),    row(12, 100, 5000, "b"),
                        row(13, 101, 6000, "c"),    row(21, 200, 5500, "other server"),
                        row(31, 300, 5500, "a DM"), row(41, 999, 5500, "message not stored")};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) CHECK_OK(store_media_put(s, &rows[i]));
  sweep w = {0};
  CHECK_OK(store_media_since(s, 1, 0, 0, 2, swept, &w));
  CHECK_INT(w.n, 2);
  CHECK(w.ids[0] == 11 && w.ids[1] == 12);
  CHECK(w.chan == 10 && w.author == 42);
  /* resumed from the cursor: only what came after, even within one millisecond */
  sweep w2 = {0};
  CHECK_OK(store_media_since(s, 1, w.last_ms, w.last_id, 8, swept, &w2));
  CHECK_INT(w2.n, 1);
  CHECK(w2.ids[0] == 13 && w2.author == 43);
  sweep w3 = {0};
  CHECK_OK(store_media_since(s, 1, w2.last_ms, w2.last_id, 8, swept, &w3));
  CHECK_INT(w3.n, 0);
  /* another server, and direct messages (guild 0) */
  sweep w4 = {0};
  CHECK_OK(store_media_since(s, 2, 0, 0, 8, swept, &w4));
  CHECK(w4.n == 1 && w4.ids[0] == 21);
  sweep w5 = {0};
  CHECK_OK(store_media_since(s, 0, 0, 0, 8, swept, &w5));
  CHECK(w5.n == 1 && w5.ids[0] == 31 && w5.chan == 99);
  store_close(s);
}

int main(void) {
  RUN(descriptions_round_trip_by_attachment_and_message);
  RUN(long_descriptions_are_cut_on_a_character_boundary);
  RUN(descriptions_leave_with_their_message);
  RUN(the_sweep_takes_one_server_after_its_cursor);
  TEST_MAIN_END();
}
