/* Fuzz target for search and recall queries: every Discord message the bot answers becomes a
 * full-text query (FTS5 MATCH, built from its words) and a vector query, and so does whatever a
 * user types into `mimic lore search`. The first byte picks lore search or community recall (and
 * whether the fake encoder takes part); the rest is the query. Invariants: nothing crashes or
 * leaks; a query is only ever refused for being invalid UTF-8 or over STORE_LORE_QUERY_MAX (lore
 * search; recall cuts it), never with a database error (no input is FTS5 syntax); every result is
 * one of the stored rows with a finite positive score, best first. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "lore/fake_embed.h"
#include "lore/lore.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static store *db;
static lore_embedder emb;

static const char lore_md[] =
    "# Zorblax\n\nZorblax is the three-eyed innkeeper of the Rusty Anchor tavern.\n\n"
    "# Harbor\n\nThe harbor freezes every winter; ships winter in the southern bay.\n\n"
    "# Emoji\n\nWhen someone wins we spam :party_parrot: and \xf0\x9f\x8e\x89 in chat. Caf\xc3\xa9 "
    "na\xc3\xafve \"quoted\" NEAR(a b) AND OR NOT * ^ col:umn.\n";

static const char *const msgs[] = {
    "the pizza place on main street closed down", "my cat knocked over the christmas tree",
    "\"quote\" OR (NEAR AND) * ^ -minus +plus", "<:pepe_hands:123456> \xf0\x9f\x92\x80 lol",
    "r\xc3\xa9sum\xc3\xa9 of the caf\xc3\xa9 night"};

static void setup(void) {
  log_set_level(LOG_ERROR);
  if (store_open(":memory:", &db)) abort();
  emb = fake_embedder(NULL);
  lore_chunks c = {0};
  if (lore_chunk_markdown("fuzz.md", lore_md, sizeof lore_md - 1, &c)) abort();
  int64_t src = 0;
  if (store_lore_source_put(db, "fuzz.md", "w", "markdown", "h", 1, &src)) abort();
  for (size_t i = 0; i < c.n; i++) {
    store_lore_chunk sc = {
        .idx = (int)i, .scope = "w", .title = c.v[i].title, .text = c.v[i].text, .enabled = true};
    if (store_lore_chunk_add(db, src, &sc, NULL)) abort();
  }
  lore_chunks_free(&c);
  int64_t n = 0;
  if (lore_embed_missing(db, &emb, NULL, NULL, &n)) abort();
  for (size_t i = 0; i < sizeof msgs / sizeof msgs[0]; i++) {
    store_msg m = {0};
    m.id = 100 + i;
    m.channel_id = 10;
    m.guild_id = 1;
    m.author_id = 1 + i;
    m.ts_ms = (int64_t)m.id;
    m.content = msgs[i];
    m.source = STORE_SRC_DCE;
    if (store_msg_upsert(db, &m, NULL)) abort();
  }
  if (lore_embed_history(db, &emb, 0, NULL, NULL, NULL, &n)) abort();
}

static void check_items(const lore_items *it, size_t k) {
  if (it->n > k) abort();
  for (size_t i = 0; i < it->n; i++) {
    const lore_item *x = &it->v[i];
    if (!(x->score > 0 && x->score < 1) || (i && x->score > it->v[i - 1].score)) abort();
    if (!x->text || !utf8_valid(x->text, strlen(x->text))) abort();
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > 8192) return 0;
  if (!db) setup();
  char *q = mem_strndup((const char *)data + 1, size - 1);
  if (!q) return 0;
  size_t qn = strlen(q); /* a NUL ends the query, as in a C string from anywhere */
  bool valid = utf8_valid(q, qn);
  lore_retriever *r = lore_retriever_new(db, data[0] & 2 ? &emb : NULL);
  lore_items it = {0};
  int rc;
  if (data[0] & 1) {
    rc = lore_recall(r, q, 1, 0, 4, 0.1, &it);
    /* recall cuts an over-long query at a character boundary first */
    size_t cn = qn > STORE_LORE_QUERY_MAX ? utf8_floor(q, qn, STORE_LORE_QUERY_MAX) : qn;
    bool ok = utf8_valid(q, cn);
    if ((rc != 0) == ok || (rc && rc != MIMIC_EFORMAT)) {
      fprintf(stderr, "fuzz_lore_query: recall rc %d (%s)\n", rc, err_msg());
      abort();
    }
    check_items(&it, 4);
  } else {
    lore_search_opts o = {.k = 3, .min_cos = 0.1};
    rc = lore_search(r, q, &o, &it);
    bool ok = valid && qn <= STORE_LORE_QUERY_MAX;
    if ((rc != 0) == ok || (rc && rc != MIMIC_EFORMAT && rc != MIMIC_ERANGE)) {
      fprintf(stderr, "fuzz_lore_query: search rc %d (%s)\n", rc, err_msg());
      abort();
    }
    check_items(&it, 3);
  }
  lore_items_free(&it);
  lore_retriever_free(r);
  mem_free(q);
  err_clear();
  return 0;
}
