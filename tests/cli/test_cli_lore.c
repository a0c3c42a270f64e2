/* Tests for `mimic lore` and `mimic embed-history` as a user runs them (the real binary, MIMIC_BIN,
 * in a fresh data folder): add (Markdown and a World Info book) without an encoder says so once and
 * works on full text; re-adding changes nothing; list; search in text and --json
 * ({"results": [{"id", "source", "scope", "text", "score", ...}]}) with --k and --scope; remove by
 * id and by --source with their refusals; a PNG card's character_book; set and --unset with their
 * refusals; embed-history refused without an encoder; and, with the tiny BERT of ../shared (skipped
 * when absent), passages embedded as they are added and vector matches in the results. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "base/base.h"
#include "base/base64.h"
#include "base/json.h"
#include "test.h"

static const char *bin;
static char dir[256];

/* Runs a shell command in dir with a data folder of its own; output (stdout + stderr) in out. */
static int run(const char *args, char *out, size_t cap) {
  char full[4096];
  snprintf(full, sizeof full,
           "cd %s && unset MIMIC_CONFIG MIMIC_STORE_PATH MIMIC_EMBED_MODEL && export "
           "MIMIC_DATA_DIR=%s/data && (%s) 2>&1",
           dir, dir, args);
  FILE *p = popen(full, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int mimic(char *out, size_t cap, const char *args) {
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "%s %s", bin, args);
  return run(cmd, out, cap);
}

static void write_file(const char *name, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  CHECK_OK(fs_write_atomic(p, text, strlen(text)));
}

static size_t count_of(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

static const char notes[] = "# Zorblax\n\nZorblax is the three-eyed innkeeper of the Rusty Anchor "
                            "tavern.\n\n# Harbor\n\nThe harbor freezes every winter, so ships "
                            "winter in the southern bay.\n";
static const char book[] =
    "{\"entries\": {\"0\": {\"uid\": 0, \"key\": [\"dragon\"], \"keysecondary\": [], "
    "\"content\": \"Dragons sleep under the glacier of Vorn.\", \"comment\": \"Dragons\", "
    "\"constant\": false, \"order\": 100, \"disable\": false}}}";

/* The results of `lore search ARGS --json`, parsed (NULL on failure). */
static json_t *search_json(const char *args) {
  static char out[1 << 16];
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "lore search %s --json 2>/dev/null", args);
  if (mimic(out, sizeof out, cmd) != 0) {
    printf("  lore search %s: %s\n", args, out);
    return NULL;
  }
  json_error_t e;
  json_t *v = json_loads(out, 0, &e);
  if (!v) printf("  not JSON: %s\n", out);
  return v;
}

TEST(add_list_search_remove_without_an_encoder) {
  static char out[1 << 16];
  write_file("notes.md", notes);
  write_file("book.json", book);
  CHECK_INT(mimic(out, sizeof out, "lore add notes.md book.json --scope world"), 0);
  CHECK(strstr(out, "2 added") != NULL);
  CHECK(strstr(out, "3 passages written") != NULL);
  /* No encoder configured: it says so, once. */
  CHECK_INT(count_of(out, "no sentence encoder"), 1);
  CHECK_INT(mimic(out, sizeof out, "lore add notes.md book.json --scope world"), 0);
  CHECK(strstr(out, "2 unchanged") != NULL);
  CHECK(strstr(out, "0 passages written") != NULL);

  CHECK_INT(mimic(out, sizeof out, "lore list"), 0);
  CHECK(strstr(out, "markdown") != NULL && strstr(out, "book") != NULL);
  CHECK(strstr(out, "world") != NULL && strstr(out, "notes.md") != NULL);

  CHECK_INT(mimic(out, sizeof out, "lore search 'who is the innkeeper'"), 0);
  CHECK(strstr(out, "1. [") != NULL && strstr(out, "Zorblax") != NULL);
  CHECK(strstr(out, "(text)") != NULL);

  json_t *v = search_json("'three-eyed innkeeper'");
  REQUIRE(v);
  json_t *res = json_object_get(v, "results");
  REQUIRE(json_is_array(res));
  CHECK(json_array_size(res) >= 1);
  json_t *r0 = json_array_get(res, 0);
  CHECK(json_is_integer(json_object_get(r0, "id")));
  CHECK(strstr(jv_str(r0, "source", ""), "notes.md") != NULL);
  CHECK_STR(jv_str(r0, "scope", ""), "world");
  CHECK(strstr(jv_str(r0, "text", ""), "innkeeper") != NULL);
  CHECK(jv_num(r0, "score", 0) > 0);
  CHECK_STR(jv_str(r0, "why", ""), "text");
  CHECK(json_object_get(r0, "cosine") == NULL); /* no vectors without an encoder */
  int64_t id = jv_int(r0, "id", 0);
  json_decref(v);
  /* World Info entries are searchable too; --k and --scope filter. */
  v = search_json("'dragons glacier harbor' --k 1");
  REQUIRE(v);
  CHECK_INT(json_array_size(json_object_get(v, "results")), 1);
  json_decref(v);
  v = search_json("'dragons glacier' --scope elsewhere");
  REQUIRE(v);
  CHECK_INT(json_array_size(json_object_get(v, "results")), 0);
  json_decref(v);
  v = search_json("'dragons glacier' --scope world");
  REQUIRE(v);
  CHECK(strstr(jv_str(json_array_get(json_object_get(v, "results"), 0), "text", ""), "Vorn"));
  json_decref(v);
  /* Bad queries: one sentence, status 1. */
  CHECK_INT(mimic(out, sizeof out, "lore search \"$(printf 'ok \\377')\""), 1);
  CHECK(strstr(out, "UTF-8") != NULL);
  CHECK_INT(mimic(out, sizeof out, "lore search \"$(head -c 3000 /dev/zero | tr '\\0' a)\""), 1);
  CHECK(strstr(out, "cap") != NULL);

  /* remove: by --source (relative or full path), then by id; refusals. */
  CHECK_INT(mimic(out, sizeof out, "lore remove --source notes.md"), 0);
  CHECK(strstr(out, "1 lore source removed") != NULL);
  v = search_json("innkeeper");
  REQUIRE(v);
  CHECK_INT(json_array_size(json_object_get(v, "results")), 0);
  json_decref(v);
  CHECK_INT(mimic(out, sizeof out, "lore remove --source notes.md"), 1);
  CHECK(strstr(out, "no lore was added from notes.md") != NULL);
  char args[64];
  snprintf(args, sizeof args, "lore remove %lld", (long long)id); /* already gone with its source */
  CHECK(mimic(out, sizeof out, args) != 0);
  CHECK_INT(mimic(out, sizeof out, "lore remove"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore remove 1 --source book.json"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore remove abc"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore list"), 0);
  CHECK(strstr(out, "notes.md") == NULL && strstr(out, "book.json") != NULL);
  long long book_id = strtoll(out, NULL, 10);
  snprintf(args, sizeof args, "lore remove %lld", book_id);
  CHECK_INT(mimic(out, sizeof out, args), 0);
  CHECK_INT(mimic(out, sizeof out, "lore list"), 0);
  CHECK(strstr(out, "no lore yet") != NULL);
}

static void be32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}

static void chunk(buf *b, const char *type, const void *data, size_t n) {
  uint8_t h[8], t[4];
  be32(h, (uint32_t)n);
  memcpy(h + 4, type, 4);
  uLong crc = crc32(crc32(0L, h + 4, 4), n ? data : (const void *)"", (uInt)n);
  be32(t, (uint32_t)crc);
  CHECK_OK(buf_append(b, h, 8));
  if (n) CHECK_OK(buf_append(b, data, n));
  CHECK_OK(buf_append(b, t, 4));
}

/* A 1x1 PNG carrying a `chara` chunk with json. */
static void write_png_card(const char *name, const char *json) {
  buf b, body;
  buf_init(&b, 0);
  buf_init(&body, 0);
  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  CHECK_OK(buf_append(&b, sig, 8));
  uint8_t ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0};
  chunk(&b, "IHDR", ihdr, 13);
  const uint8_t raw[4] = {0, 1, 2, 3};
  uint8_t z[64];
  uLongf zn = sizeof z;
  CHECK(compress(z, &zn, raw, sizeof raw) == Z_OK);
  chunk(&b, "IDAT", z, zn);
  CHECK_OK(buf_append(&body, "chara", 6));
  CHECK_OK(b64_encode(json, strlen(json), &body));
  chunk(&b, "tEXt", body.data, body.len);
  chunk(&b, "IEND", NULL, 0);
  char p[512];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  CHECK_OK(fs_write_atomic(p, b.data, b.len));
  buf_free(&b);
  buf_free(&body);
}

static const char card_with_book[] =
    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{\"name\":\"Glordon\","
    "\"description\":\"A purple potato-shaped alien.\",\"personality\":\"\",\"scenario\":\"\","
    "\"first_mes\":\"Hi!\",\"mes_example\":\"\",\"character_book\":{\"entries\":[{\"keys\":"
    "[\"communiverse\"],\"content\":\"The Communiverse hides behind the moon.\","
    "\"enabled\":true,\"insertion_order\":10}]}}}";
static const char card_without_book[] =
    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{\"name\":\"Plain\","
    "\"description\":\"Nobody much.\",\"personality\":\"\",\"scenario\":\"\","
    "\"first_mes\":\"Hi!\",\"mes_example\":\"\"}}";

/* A PNG card named directly adds its character_book; again changes nothing; a card without a
 * book, or a PNG that is no card, is refused with one sentence. */
TEST(png_card_book) {
  static char out[1 << 16];
  write_png_card("glordon.png", card_with_book);
  CHECK_INT(mimic(out, sizeof out, "lore add glordon.png --scope glordon"), 0);
  CHECK(strstr(out, "1 added") != NULL && strstr(out, "1 passages written") != NULL);
  CHECK_INT(mimic(out, sizeof out, "lore add glordon.png --scope glordon"), 0);
  CHECK(strstr(out, "1 unchanged") != NULL && strstr(out, "0 passages written") != NULL);
  json_t *v = search_json("communiverse --scope glordon");
  REQUIRE(v);
  json_t *r0 = json_array_get(json_object_get(v, "results"), 0);
  CHECK(strstr(jv_str(r0, "text", ""), "behind the moon") != NULL);
  CHECK(strstr(jv_str(r0, "source", ""), "glordon.png") != NULL);
  json_decref(v);
  write_png_card("plain.png", card_without_book);
  CHECK_INT(mimic(out, sizeof out, "lore add plain.png"), 1);
  CHECK(strstr(out, "no character_book") != NULL);
  write_file("fake.png", "not a png at all");
  CHECK_INT(mimic(out, sizeof out, "lore add fake.png"), 1);
  CHECK(strstr(out, "fake.png") != NULL);
  CHECK_INT(mimic(out, sizeof out, "lore remove --source glordon.png"), 0);
}

TEST(set_per_guild_and_persona) {
  char out[4096];
  CHECK_INT(mimic(out, sizeof out, "lore set lore.recall false --guild 81384788765712384"), 0);
  CHECK(strstr(out, "guild:81384788765712384: lore.recall = false") != NULL);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.scopes middle-earth,shire --persona gandalf"), 0);
  CHECK(strstr(out, "persona:gandalf: lore.scopes = middle-earth,shire") != NULL);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.recall --unset --guild 81384788765712384"), 0);
  CHECK(strstr(out, "unset") != NULL);
  /* refusals: not a lore key, out of range, not a boolean, neither or both targets, no value */
  CHECK_INT(mimic(out, sizeof out, "lore set engine.ctx 5 --guild 1"), 2);
  CHECK(strstr(out, "not a lore.* key") != NULL);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.min_score 7 --guild 1"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.recall maybe --guild 1"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.recall false"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.recall false --guild 1 --persona x"), 2);
  CHECK_INT(mimic(out, sizeof out, "lore set lore.recall --guild 1"), 2);
}

TEST(embed_history_needs_an_encoder) {
  char out[4096];
  CHECK_INT(mimic(out, sizeof out, "embed-history"), 1);
  CHECK(strstr(out, "embed.model") != NULL);
  CHECK_INT(mimic(out, sizeof out, "embed-history --model /nonexistent/enc.gguf"), 1);
  CHECK(strstr(out, "/nonexistent/enc.gguf") != NULL);
}

TEST(with_an_encoder_passages_get_vectors) {
  char model[1024];
  if (!test_shared_path("testdata/llm/tiny-bert-f16.gguf", model, sizeof model))
    SKIP("../shared/testdata/llm/tiny-bert-f16.gguf absent");
  if (model[0] != '/') {
    char cwd[512], abs[1600];
    REQUIRE(getcwd(cwd, sizeof cwd));
    snprintf(abs, sizeof abs, "%s/%s", cwd, model);
    str_lcpy(model, abs, sizeof model);
  }
  static char out[1 << 16];
  write_file("notes2.md", notes);
  /* Added without an encoder first: the next add with one embeds what is missing. */
  CHECK_INT(mimic(out, sizeof out, "lore add notes2.md --no-embed"), 0);
  CHECK(strstr(out, "0 embedded") != NULL);
  char cmd[2048];
  snprintf(cmd, sizeof cmd, "MIMIC_EMBED_MODEL=%s %s lore add notes2.md -t 1", model, bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "1 unchanged") != NULL && strstr(out, "2 embedded") != NULL);
  CHECK(strstr(out, "no sentence encoder") == NULL);
  /* The query embedded too: vector matches (every cosine passes -1) carry their cosine. */
  snprintf(cmd, sizeof cmd,
           "%s lore search 'frozen harbor' --model %s --min-score -1 -t 1 --json 2>/dev/null", bin,
           model);
  REQUIRE(run(cmd, out, sizeof out) == 0);
  json_t *v = json_loads(out, 0, NULL);
  REQUIRE(v);
  json_t *res = json_object_get(v, "results");
  CHECK_INT(json_array_size(res), 2);
  for (size_t i = 0; i < json_array_size(res); i++) {
    json_t *r = json_array_get(res, i);
    const char *why = jv_str(r, "why", "");
    CHECK(strcmp(why, "vector") == 0 || strcmp(why, "both") == 0);
    double c = jv_num(r, "cosine", 9);
    CHECK(c >= -1.0001 && c <= 1.0001);
  }
  /* "harbor" is a word of the second passage only: it matched both ways and ranks first. */
  CHECK_STR(jv_str(json_array_get(res, 0), "why", ""), "both");
  CHECK(strstr(jv_str(json_array_get(res, 0), "text", ""), "harbor") != NULL);
  json_decref(v);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (!bin) {
    printf("skip: MIMIC_BIN not set\n");
    return 0;
  }
  snprintf(dir, sizeof dir, "/tmp/mimic-cli-lore-XXXXXX");
  if (!mkdtemp(dir)) return 1;
  RUN(add_list_search_remove_without_an_encoder);
  RUN(png_card_book);
  RUN(set_per_guild_and_persona);
  RUN(embed_history_needs_an_encoder);
  RUN(with_an_encoder_passages_get_vectors);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
