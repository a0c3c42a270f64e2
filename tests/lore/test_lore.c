/* Tests for the lore layer: chunkers (Markdown headings, paragraphs and overlap, plain text, JSON
 * lines), World Info books (SillyTavern files, character books, cards, V3 lorebooks, hostile
 * input), World Info activation, ingest by content hash, bad files (binary, invalid UTF-8, over the
 * cap, one huge line), hybrid search on a small written corpus, and community recall with privacy.
 */
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/config.h"
#include "fake_embed.h"
#include "lore/lore.h"
#include "store/lore.h"
#include "store/store.h"
#include "store/vectors.h"
#include "test.h"

static char tmpdir[64];

static void write_file(const char *name, const char *data, size_t n) {
  char p[256];
  snprintf(p, sizeof p, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "wb");
  if (!f) return;
  fwrite(data, 1, n, f);
  fclose(f);
}

static const char *tpath(const char *name) {
  static char p[4][256];
  static int i;
  i = (i + 1) % 4;
  snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
  return p[i];
}

TEST(markdown_splits_at_headings_with_titles) {
  const char *md = "Intro line.\n\n# Kingdoms\n\nThe north is cold.\n\n## The North\n\nWolves "
                   "live here.\n\n```\n# not a heading\n```\n\n# Seas\nSalt.\n";
  lore_chunks c = {0};
  CHECK_OK(lore_chunk_markdown("t.md", md, strlen(md), &c));
  REQUIRE(c.n == 4);
  CHECK_STR(c.v[0].title, "");
  CHECK_STR(c.v[0].text, "Intro line.");
  CHECK_STR(c.v[1].title, "Kingdoms");
  CHECK_STR(c.v[1].text, "The north is cold.");
  CHECK_STR(c.v[2].title, "Kingdoms > The North");
  CHECK(strstr(c.v[2].text, "# not a heading") != NULL);
  CHECK_STR(c.v[3].title, "Seas");
  CHECK_STR(c.v[3].text, "Salt.");
  CHECK(!c.v[0].wi);
  lore_chunks_free(&c);
}

TEST(paragraphs_pack_with_overlap_and_cap) {
  /* 30 paragraphs of ~100 bytes: several passages, each starting with the tail of the last. */
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < 30; i++)
    CHECK_OK(buf_printf(&b,
                        "Paragraph %d tells of the realm and its many rivers and hills, "
                        "and the people who live by them.\n\n",
                        i));
  lore_chunks c = {0};
  CHECK_OK(lore_chunk_text("t.txt", b.data, b.len, &c));
  REQUIRE(c.n >= 3);
  for (size_t i = 0; i < c.n; i++) CHECK(strlen(c.v[i].text) <= LORE_CHUNK_HARD);
  /* Overlap: the second passage starts with words that ended the first. */
  const char *first = c.v[0].text;
  char head[24] = {0};
  memcpy(head, c.v[1].text, 20);
  CHECK(strstr(first, head) != NULL);
  CHECK(strstr(c.v[c.n - 1].text, "Paragraph 29") != NULL);
  lore_chunks_free(&c);
  /* One huge line (no break at all): cut on UTF-8 boundaries, every passage under the cap. */
  buf_reset(&b);
  for (int i = 0; i < 100000; i++) CHECK_OK(buf_puts(&b, i % 3 ? "é" : "x"));
  CHECK_OK(lore_chunk_text("line.txt", b.data, b.len, &c));
  CHECK(c.n > 50);
  for (size_t i = 0; i < c.n; i++) {
    CHECK(strlen(c.v[i].text) <= LORE_CHUNK_HARD);
    CHECK(utf8_valid(c.v[i].text, strlen(c.v[i].text)));
  }
  lore_chunks_free(&c);
  buf_free(&b);
}

TEST(jsonl_and_bad_text) {
  const char *j = "{\"title\":\"A\",\"text\":\"alpha\"}\n\n{\"text\":\"beta\"}\n";
  lore_chunks c = {0};
  CHECK_OK(lore_chunk_jsonl("t.jsonl", j, strlen(j), &c));
  REQUIRE(c.n == 2);
  CHECK_STR(c.v[0].title, "A");
  CHECK_STR(c.v[1].text, "beta");
  lore_chunks_free(&c);
  const char *bad = "{\"text\":\"ok\"}\n{\"title\":3}\n";
  CHECK(lore_chunk_jsonl("b.jsonl", bad, strlen(bad), &c) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "line 2") != NULL);
  lore_chunks_free(&c);
  const char bin[] = "abc\0def";
  CHECK(lore_chunk_text("bin", bin, sizeof bin - 1, &c) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "binary") != NULL);
  const char inv[] = "caf\xc3 au lait";
  CHECK(lore_chunk_markdown("inv.md", inv, sizeof inv - 1, &c) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "UTF-8 at byte 3") != NULL);
  CHECK_INT(c.n, 0);
  err_clear();
}

static const char *wi_file =
    "{\"entries\":{"
    "\"0\":{\"uid\":0,\"key\":[\"dragon\",\"wyrm\"],\"keysecondary\":[],\"comment\":\"Dragons\","
    "\"content\":\"Dragons sleep under the mountain.\",\"constant\":false,\"selective\":true,"
    "\"selectiveLogic\":0,\"order\":100,\"depth\":4,\"disable\":false},"
    "\"1\":{\"uid\":1,\"key\":[\"king\"],\"keysecondary\":[\"castle\",\"crown\"],"
    "\"content\":\"The king is old.\",\"selective\":true,\"selectiveLogic\":3,\"order\":50},"
    "\"2\":{\"uid\":2,\"key\":[],\"content\":\"The world is flat.\",\"constant\":true,"
    "\"order\":10},"
    "\"3\":{\"uid\":3,\"key\":[\"ghost\"],\"content\":\"Hidden.\",\"disable\":true},"
    "\"4\":{\"uid\":4,\"key\":[\"sword\"],\"keysecondary\":[\"broken\"],\"selectiveLogic\":2,"
    "\"content\":\"The sword is whole.\",\"order\":200}}}";

TEST(world_info_file_parses) {
  lore_chunks c = {0};
  CHECK_OK(lore_parse_book("w.json", wi_file, strlen(wi_file), &c));
  REQUIRE(c.n == 5);
  CHECK(c.v[0].wi);
  CHECK_STR(c.v[0].keys, "dragon\nwyrm");
  CHECK_STR(c.v[0].title, "Dragons");
  CHECK_INT(c.v[1].logic, STORE_WI_AND_ALL);
  CHECK_STR(c.v[1].keys2, "castle\ncrown");
  CHECK(c.v[2].constant);
  CHECK(!c.v[3].enabled);
  CHECK_INT(c.v[4].order, 200);
  lore_chunks_free(&c);
  /* A card's character_book (V2 spelling), and a V3 lorebook file. */
  const char *card = "{\"spec\":\"chara_card_v2\",\"data\":{\"name\":\"A\",\"character_book\":{"
                     "\"entries\":[{\"keys\":[\"moon\"],\"secondary_keys\":[\"night\"],"
                     "\"content\":\"The moon is a lamp.\",\"enabled\":true,\"insertion_order\":7,"
                     "\"selective\":true,\"extensions\":{\"selectiveLogic\":1,\"depth\":2}},"
                     "{\"keys\":[\"sun\"],\"content\":\"Sun.\",\"enabled\":false,"
                     "\"insertion_order\":1}]}}}";
  CHECK_OK(lore_parse_book("card.json", card, strlen(card), &c));
  REQUIRE(c.n == 2);
  CHECK_STR(c.v[0].keys, "moon");
  CHECK_INT(c.v[0].order, 7);
  CHECK_INT(c.v[0].logic, STORE_WI_NOT_ALL);
  CHECK_INT(c.v[0].depth, 2);
  CHECK(!c.v[1].enabled);
  lore_chunks_free(&c);
  const char *v3 = "{\"spec\":\"lorebook_v3\",\"data\":{\"entries\":[{\"keys\":\"a, b\","
                   "\"content\":\"x\",\"selective\":false,\"secondary_keys\":[\"c\"]}]}}";
  CHECK_OK(lore_parse_book("v3.json", v3, strlen(v3), &c));
  REQUIRE(c.n == 1);
  CHECK_STR(c.v[0].keys, "a\nb");
  CHECK_STR(c.v[0].keys2, ""); /* not selective: secondary keys ignored */
  lore_chunks_free(&c);
}

TEST(hostile_books_refused_whole) {
  static const char *const bad[] = {
      "not json at all",
      "[1,2,3]",
      "{\"entries\": 5}",
      "{\"entries\": [1]}",
      "{\"entries\": [{\"keys\": [1, 2], \"content\": \"x\"}]}",
      "{\"entries\": [{\"keys\": {\"a\": 1}}]}",
      "{\"entries\": {\"0\": {\"key\": [\"a\"], \"content\": \"ok\"}, \"1\": \"nope\"}}",
      "{\"entries\": [" /* truncated */,
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    lore_chunks c = {0};
    int rc = lore_parse_book("bad.json", bad[i], strlen(bad[i]), &c);
    CHECK(rc == MIMIC_EFORMAT);
    CHECK_INT(c.n, 0); /* nothing half-parsed */
    CHECK(strstr(err_msg(), "bad.json") != NULL);
    lore_chunks_free(&c);
  }
  /* Too many keys in one entry. */
  buf b;
  buf_init(&b, 0);
  CHECK_OK(buf_puts(&b, "{\"entries\":[{\"content\":\"x\",\"keys\":["));
  for (int i = 0; i <= LORE_KEYS_MAX; i++) CHECK_OK(buf_printf(&b, "%s\"k%d\"", i ? "," : "", i));
  CHECK_OK(buf_puts(&b, "]}]}"));
  lore_chunks c = {0};
  CHECK(lore_parse_book("many.json", b.data, b.len, &c) == MIMIC_ERANGE);
  CHECK_INT(c.n, 0);
  buf_free(&b);
  err_clear();
}

static store_lore_chunk entry_of(const char *keys, const char *keys2, int logic) {
  store_lore_chunk e = {.keys = keys, .keys2 = keys2, .logic = logic, .enabled = true};
  return e;
}

TEST(world_info_matching) {
  CHECK(lore_wi_key_match("dragon", "A DRAGON appears"));
  CHECK(lore_wi_key_match("dragon", "dragon"));
  CHECK(!lore_wi_key_match("cat", "a category"));
  CHECK(!lore_wi_key_match("cat", "bobcat"));
  CHECK(lore_wi_key_match("cat", "the cat, sleeping"));
  CHECK(lore_wi_key_match("black cat", "a Black Cat crossed"));
  CHECK(!lore_wi_key_match("black cat", "a black catalogue"));
  CHECK(lore_wi_key_match("C++", "I write c++ daily"));
  CHECK(!lore_wi_key_match("café", "cafés"));
  CHECK(lore_wi_key_match("café", "un café noir"));
  CHECK(!lore_wi_key_match("", "anything"));
  const char *t = "the king rode to the castle";
  store_lore_chunk e = entry_of("king", "castle\ncrown", STORE_WI_AND_ANY);
  CHECK(lore_wi_fires(&e, t));
  e.logic = STORE_WI_AND_ALL;
  CHECK(!lore_wi_fires(&e, t));
  CHECK(lore_wi_fires(&e, "king, castle and crown"));
  e.logic = STORE_WI_NOT_ANY;
  CHECK(!lore_wi_fires(&e, t));
  CHECK(lore_wi_fires(&e, "the king sleeps"));
  e.logic = STORE_WI_NOT_ALL;
  CHECK(lore_wi_fires(&e, t));
  CHECK(!lore_wi_fires(&e, "king castle crown"));
  CHECK(!lore_wi_fires(&e, "no royalty here"));
  store_lore_chunk k = entry_of("", "", 0);
  k.constant = true;
  CHECK(lore_wi_fires(&k, ""));
  k.enabled = false;
  CHECK(!lore_wi_fires(&k, ""));
}

TEST(world_info_activation_in_store) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  int64_t src = 0;
  CHECK_OK(lore_add_book_json(s, "book:w", wi_file, strlen(wi_file), "w", NULL, &src));
  CHECK(src > 0);
  const char *recent[] = {"did you see the wyrm?", "the King is in his castle with his crown",
                          "my sword is broken"};
  const char *w[1] = {"w"};
  lore_items it = {0};
  CHECK_OK(lore_wi_activate(s, w, 1, recent, 3, 1000, NULL, NULL, &it));
  /* constant (10), king AND ALL (50), dragon (100); sword NOT ANY broken: out; ghost disabled. */
  REQUIRE(it.n == 3);
  CHECK_STR(it.v[0].text, "The world is flat.");
  CHECK_STR(it.v[0].why, "const");
  CHECK_STR(it.v[1].text, "The king is old.");
  CHECK_STR(it.v[2].text, "Dragons sleep under the mountain.");
  CHECK_STR(it.v[2].why, "key");
  lore_items_free(&it);
  /* A budget that holds two: the constant first, then the highest order. */
  int t_flat = (int)(strlen("The world is flat.") + 2) / 3;
  int t_dragon = (int)(strlen("Dragons sleep under the mountain.") + 2) / 3;
  CHECK_OK(lore_wi_activate(s, w, 1, recent, 3, t_flat + t_dragon, NULL, NULL, &it));
  REQUIRE(it.n == 2);
  CHECK_STR(it.v[0].text, "The world is flat.");
  CHECK_STR(it.v[1].text, "Dragons sleep under the mountain.");
  CHECK_INT(it.tokens, t_flat + t_dragon);
  lore_items_free(&it);
  /* Another scope sees none of it. */
  const char *x[1] = {"x"};
  CHECK_OK(lore_wi_activate(s, x, 1, recent, 3, 1000, NULL, NULL, &it));
  CHECK_INT(it.n, 0);
  lore_items_free(&it);
  /* Re-adding the same book changes nothing; a changed one replaces it. */
  int64_t again = 0, n = 0;
  CHECK_OK(lore_add_book_json(s, "book:w", wi_file, strlen(wi_file), "w", NULL, &again));
  CHECK_INT(again, src);
  CHECK_OK(store_lore_chunk_count(s, &n));
  CHECK_INT(n, 5);
  const char *small = "{\"entries\":[{\"keys\":[\"a\"],\"content\":\"only\"}]}";
  CHECK_OK(lore_add_book_json(s, "book:w", small, strlen(small), "w", NULL, &again));
  CHECK_OK(store_lore_chunk_count(s, &n));
  CHECK_INT(n, 1);
  /* A hostile book leaves the old one untouched. */
  CHECK(lore_add_book_json(s, "book:w", "{\"entries\":7}", 13, "w", NULL, NULL) == MIMIC_EFORMAT);
  CHECK_OK(store_lore_chunk_count(s, &n));
  CHECK_INT(n, 1);
  err_clear();
  store_close(s);
}

static void skip_cb(void *user, const char *path, const char *why) {
  (void)path, (void)why;
  (*(int *)user)++;
}

TEST(add_files_by_hash_and_bad_files) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  char dir[256];
  snprintf(dir, sizeof dir, "%s/books", tmpdir);
  REQUIRE(mkdir(dir, 0700) == 0);
  const char *md = "# Ships\n\nThe Argo sails at dawn.\n";
  write_file("books/ships.md", md, strlen(md));
  write_file("books/notes.txt", "Plain notes about ravens.", 25);
  write_file("books/image.png", "\x89PNG", 4);
  write_file("books/.hidden.md", "secret", 6);
  int skipped = 0;
  lore_add_opts o = {.scope = "w", .skip = skip_cb, .progress_user = &skipped};
  lore_add_result r = {0};
  CHECK_OK(lore_add_path(s, dir, &o, &r));
  CHECK_INT(r.added, 2);
  CHECK_INT(skipped, 1);
  CHECK_INT(r.chunks, 2);
  memset(&r, 0, sizeof r);
  CHECK_OK(lore_add_path(s, dir, &o, &r));
  CHECK_INT(r.unchanged, 2);
  CHECK_INT(r.chunks, 0);
  const char *md2 = "# Ships\n\nThe Argo sails at dusk.\n\n# Crew\n\nJason leads.\n";
  write_file("books/ships.md", md2, strlen(md2));
  memset(&r, 0, sizeof r);
  CHECK_OK(lore_add_path(s, dir, &o, &r));
  CHECK_INT(r.replaced, 1);
  CHECK_INT(r.unchanged, 1);
  int64_t n = 0;
  CHECK_OK(store_lore_chunk_count(s, &n));
  CHECK_INT(n, 3);
  /* Bad files: one sentence each, nothing written. */
  write_file("bin.txt", "ab\0cd", 5);
  CHECK(lore_add_path(s, tpath("bin.txt"), &o, &r) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "binary") != NULL);
  write_file("bad.md", "ok \xff\xfe", 5);
  CHECK(lore_add_path(s, tpath("bad.md"), &o, &r) == MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "UTF-8") != NULL);
  write_file("bad.json", "{\"entries\": [1]}", 16);
  CHECK(lore_add_path(s, tpath("bad.json"), &o, &r) == MIMIC_EFORMAT);
  CHECK(lore_add_path(s, tpath("missing.md"), &o, &r) == MIMIC_ENOTFOUND);
  /* A 200 MB file (sparse: costs no disk) is refused by its size before anything is read. */
  int fd = open(tpath("huge.txt"), O_CREAT | O_WRONLY | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  CHECK(ftruncate(fd, 200LL << 20) == 0);
  close(fd);
  CHECK(lore_add_path(s, tpath("huge.txt"), &o, &r) == MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "cap") != NULL);
  unlink(tpath("huge.txt"));
  CHECK_OK(store_lore_chunk_count(s, &n));
  CHECK_INT(n, 3);
  /* A 1 MB single-line file (the proportional case): accepted, chunked under the cap. */
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < (1 << 20) / 8; i++) CHECK_OK(buf_puts(&b, "wordy a "));
  write_file("line.txt", b.data, b.len);
  buf_free(&b);
  memset(&r, 0, sizeof r);
  CHECK_OK(lore_add_path(s, tpath("line.txt"), &o, &r));
  CHECK(r.chunks > 500);
  err_clear();
  store_close(s);
}

/* A small written corpus: lexical queries must find their own chunk first. */
static const char *corpus =
    "# Zorblax\n\nZorblax is the three-eyed innkeeper of the Rusty Anchor tavern.\n\n"
    "# Harbor\n\nThe harbor freezes every winter, so ships winter in the southern bay.\n\n"
    "# Guild rules\n\nNo posting memes in #general before noon. Spoilers go in #spoilers.\n\n"
    "# Festival\n\nThe lantern festival happens on the first full moon of spring.\n\n"
    "# Emoji\n\nWhen someone wins we spam :party_parrot: and 🎉 in chat.\n";

static int search_first(lore_retriever *r, const char *q, const char *want, const char *why) {
  lore_items it = {0};
  lore_search_opts o = {.k = 3, .min_cos = 0.3}; /* the fake encoder is crude */
  int ok = lore_search(r, q, &o, &it) == 0 && it.n > 0 && strstr(it.v[0].text, want) != NULL;
  if (ok && why) ok = strcmp(it.v[0].why, why) == 0;
  if (!ok)
    printf("  query \"%s\": got %s (%s)\n", q, it.n ? it.v[0].text : "nothing",
           it.n ? it.v[0].why : "");
  lore_items_free(&it);
  return ok;
}

TEST(hybrid_search_finds_lexical_matches_first) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  write_file("corpus.md", corpus, strlen(corpus));
  /* Full text alone (no encoder). */
  lore_add_result r = {0};
  CHECK_OK(lore_add_path(s, tpath("corpus.md"), &(lore_add_opts){.scope = "w"}, &r));
  CHECK_INT(r.chunks, 5);
  lore_retriever *rt = lore_retriever_new(s, NULL);
  CHECK(search_first(rt, "who is Zorblax?", "innkeeper", "text"));
  CHECK(search_first(rt, "when does the harbor freeze", "southern bay", "text"));
  CHECK(search_first(rt, "lantern festival", "full moon", "text"));
  CHECK(search_first(rt, "party_parrot", "spam", "text"));
  CHECK(search_first(rt, "🎉", "spam", "text"));
  CHECK(search_first(rt, "the rules about memes", "noon", "text"));
  lore_retriever_free(rt);
  /* With an encoder: the chunks get vectors; both lists agree on the first result. */
  int calls = 0;
  lore_embedder e = fake_embedder(&calls);
  /* A bounded step first (the bot's background work): two of the five, oldest first. */
  int64_t step = 0, left = 0;
  CHECK_OK(lore_embed_missing_some(s, &e, 2, &step));
  CHECK_INT(step, 2);
  CHECK_OK(store_lore_unembedded_count(s, e.name, &left));
  CHECK_INT(left, 3);
  memset(&r, 0, sizeof r);
  CHECK_OK(lore_add_path(s, tpath("corpus.md"), &(lore_add_opts){.scope = "w", .emb = &e}, &r));
  CHECK_INT(r.unchanged, 1);
  CHECK_INT(r.embedded, 3);
  int64_t nv = 0;
  CHECK_OK(store_vec_count(s, STORE_VEC_LORE, e.name, &nv));
  CHECK_INT(nv, 5);
  rt = lore_retriever_new(s, &e);
  CHECK(search_first(rt, "Zorblax innkeeper", "innkeeper", "both"));
  CHECK(search_first(rt, "lantern festival spring", "full moon", "both"));
  /* Scope filter: nothing in another scope, and results say their scope and source. */
  lore_items it = {0};
  const char *x[1] = {"x"};
  CHECK_OK(
      lore_search(rt, "Zorblax", &(lore_search_opts){.scopes = x, .n_scopes = 1, .k = 5}, &it));
  CHECK_INT(it.n, 0);
  lore_items_free(&it);
  CHECK_OK(lore_search(rt, "Zorblax", &(lore_search_opts){.k = 5, .min_cos = 0.5}, &it));
  REQUIRE(it.n >= 1);
  CHECK_STR(it.v[0].scope, "w");
  CHECK(strstr(it.v[0].source, "corpus.md") != NULL);
  CHECK(it.v[0].score > 0);
  lore_items_free(&it);
  /* Bad queries: one sentence. */
  CHECK(lore_search(rt, "\xff", NULL, &it) == MIMIC_EFORMAT);
  err_clear();
  lore_retriever_free(rt);
  store_close(s);
}

static void add_msg(store *s, uint64_t id, uint64_t author, const char *text) {
  store_msg m = {0};
  m.id = id;
  m.channel_id = 10;
  m.guild_id = 1;
  m.author_id = author;
  m.ts_ms = (int64_t)id;
  m.content = text;
  m.source = STORE_SRC_DCE;
  if (store_msg_upsert(s, &m, NULL)) printf("  upsert: %s\n", err_msg());
}

TEST(history_embedding_and_recall) {
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  add_msg(s, 100, 1, "the pizza place on main street closed down");
  add_msg(s, 101, 2, "my cat knocked over the christmas tree again");
  add_msg(s, 102, 3, "secret pizza opinion from someone who opted out");
  add_msg(s, 103, 1, "anyone up for a movie night on friday");
  for (uint64_t i = 200; i < 240; i++) add_msg(s, i, 4, "filler chatter about nothing much");
  CHECK_OK(store_user_flag_set(s, 3, STORE_FLAG_OPTED_OUT, "test"));
  int calls = 0;
  lore_embedder e = fake_embedder(&calls);
  int64_t n = 0;
  /* Resumable: 10 now, the rest later, nothing twice. */
  CHECK_OK(lore_embed_history(s, &e, 10, NULL, NULL, NULL, &n));
  CHECK_INT(n, 10);
  CHECK_OK(lore_embed_history(s, &e, 0, NULL, NULL, NULL, &n));
  CHECK_INT(n, 33); /* 43 eligible (the opted-out message never is) */
  CHECK_OK(lore_embed_history(s, &e, 0, NULL, NULL, NULL, &n));
  CHECK_INT(n, 0);
  int64_t nv = 0;
  CHECK_OK(store_vec_count(s, STORE_VEC_MSG, NULL, &nv));
  CHECK_INT(nv, 43);
  lore_retriever *rt = lore_retriever_new(s, &e);
  lore_items it = {0};
  CHECK_OK(lore_recall(rt, "where can we get pizza on main street", 1, 0, 3, 0.3, &it));
  REQUIRE(it.n >= 1);
  CHECK(strstr(it.v[0].text, "main street") != NULL);
  for (size_t i = 0; i < it.n; i++) CHECK(strstr(it.v[i].text, "secret") == NULL);
  lore_items_free(&it);
  /* Only messages older than the conversation. */
  CHECK_OK(lore_recall(rt, "pizza main street", 1, 100, 3, 0.3, &it));
  for (size_t i = 0; i < it.n; i++) CHECK(it.v[i].id < 100);
  lore_items_free(&it);
  /* A purge removes the person's vectors: they are never recalled again. */
  int64_t pid = 0, del = 0;
  CHECK_OK(store_purge_begin(s, 1, &pid));
  CHECK_OK(store_purge_finish(s, pid, 1, 0, 0, &del));
  CHECK_OK(store_vec_count(s, STORE_VEC_MSG, NULL, &nv));
  CHECK_INT(nv, 41);
  CHECK_OK(lore_recall(rt, "pizza main street", 1, 0, 3, 0.3, &it));
  for (size_t i = 0; i < it.n; i++) CHECK(strstr(it.v[i].text, "main street") == NULL);
  lore_items_free(&it);
  /* Without an encoder recall runs on words alone. */
  lore_retriever_free(rt);
  rt = lore_retriever_new(s, NULL);
  CHECK_OK(lore_recall(rt, "christmas tree", 1, 0, 3, 0.5, &it));
  REQUIRE(it.n == 1);
  CHECK_STR(it.v[0].why, "text");
  lore_items_free(&it);
  CHECK(lore_embed_history(s, NULL, 0, NULL, NULL, NULL, &n) == MIMIC_EINVAL);
  err_clear();
  lore_retriever_free(rt);
  store_close(s);
}

static int said_no_encoder;

static void count_sink(log_level lv, const char *line, void *user) {
  (void)lv;
  (void)user;
  if (strstr(line, "full text alone")) said_no_encoder++;
}

/* Without an encoder (none configured, or one that does not open) everything runs on full text,
 * and the process says so once, however many times it asks. */
TEST(no_encoder_from_config_means_full_text) {
  lore_embedder e;
  CHECK(lore_embedder_open("/nonexistent/enc.gguf", 1, &e) != 0);
  CHECK(strlen(err_msg()) > 0);
  err_clear();
  cfg *c = cfg_new();
  REQUIRE(c);
  log_set_sink(count_sink, NULL);
  CHECK(lore_embedder_from_config(c, 1) == NULL);
  CHECK(lore_embedder_from_config(c, 1) == NULL);
  CHECK_OK(cfg_set(c, "embed.model", "/nonexistent/enc.gguf", CFG_SRC_FILE));
  CHECK(lore_embedder_from_config(c, 1) == NULL);
  log_set_sink(NULL, NULL);
  CHECK_INT(said_no_encoder, 1);
  CHECK_STR(err_msg(), "ok"); /* a missing encoder is not an error */
  /* ... and search still answers from full text. */
  store *s = NULL;
  REQUIRE(store_open(":memory:", &s) == 0);
  const char *md = "# Ravens\n\nThe ravens carry letters between the castles.\n";
  write_file("ravens.md", md, strlen(md));
  lore_add_result r = {0};
  CHECK_OK(lore_add_path(s, tpath("ravens.md"), NULL, &r));
  lore_retriever *rt = lore_retriever_new(s, lore_embedder_from_config(c, 1));
  lore_items it = {0};
  CHECK_OK(lore_search(rt, "who carries letters?", NULL, &it));
  CHECK_INT(it.n, 1);
  if (it.n) CHECK_STR(it.v[0].why, "text");
  lore_items_free(&it);
  lore_retriever_free(rt);
  store_close(s);
  cfg_destroy(c);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_lore_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(markdown_splits_at_headings_with_titles);
  RUN(paragraphs_pack_with_overlap_and_cap);
  RUN(jsonl_and_bad_text);
  RUN(world_info_file_parses);
  RUN(hostile_books_refused_whole);
  RUN(world_info_matching);
  RUN(world_info_activation_in_store);
  RUN(add_files_by_hash_and_bad_files);
  RUN(hybrid_search_finds_lexical_matches_first);
  RUN(history_embedding_and_recall);
  RUN(no_encoder_from_config_means_full_text);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd)) return 1;
  TEST_MAIN_END();
}
