/* Tests for character cards: V1/V2/V3 JSON, PNGs with `chara`, with both chunks (ccv3 wins), a card
 * with a character_book, mimic's own fields through extensions.mimic, export and re-import, and
 * broken cards (bad base64, truncated PNG, bad CRC, wrong spec version, 10 MB in a field), each
 * either exact fields or one clear sentence. The PNGs are built here with the test's own writer. */
#include <string.h>
#include <zlib.h>

#include "base/base.h"
#include "base/base64.h"
#include "collect/card.h"
#include "test.h"

/* ---- the test's own PNG writer ---- */

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
  /* zlib's crc32 answers its initial value for a NULL buffer: pass "" for empty chunks. */
  uLong crc = crc32(crc32(0L, h + 4, 4), n ? data : (const void *)"", (uInt)n);
  be32(t, (uint32_t)crc);
  CHECK_OK(buf_append(b, h, 8));
  if (n) CHECK_OK(buf_append(b, data, n));
  CHECK_OK(buf_append(b, t, 4));
}

static void text_chunk(buf *b, const char *kw, const char *json) {
  buf body;
  buf_init(&body, 0);
  CHECK_OK(buf_append(&body, kw, strlen(kw) + 1));
  CHECK_OK(b64_encode(json, strlen(json), &body));
  chunk(b, "tEXt", body.data, body.len);
  buf_free(&body);
}

/* A 1x1 RGB PNG, with tEXt chunks for the given keyword/JSON pairs (NULL-terminated) before IEND.
 */
static void make_png(buf *b, const char *const *texts) {
  static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
  CHECK_OK(buf_append(b, sig, 8));
  uint8_t ihdr[13] = {0};
  be32(ihdr, 1);
  be32(ihdr + 4, 1);
  ihdr[8] = 8; /* bit depth */
  ihdr[9] = 2; /* RGB */
  chunk(b, "IHDR", ihdr, sizeof ihdr);
  const uint8_t raw[4] = {0, 200, 100, 50}; /* filter byte, one pixel */
  uint8_t z[64];
  uLongf zn = sizeof z;
  CHECK(compress(z, &zn, raw, sizeof raw) == Z_OK);
  chunk(b, "IDAT", z, zn);
  for (; texts && texts[0]; texts += 2) text_chunk(b, texts[0], texts[1]);
  chunk(b, "IEND", NULL, 0);
}

static const char v2_card[] =
    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"name\":\"Glordon\",\"data\":{"
    "\"name\":\"Glordon\",\"description\":\"A purple potato-shaped alien.\","
    "\"personality\":\"kind, shy\",\"scenario\":\"The Communiverse.\","
    "\"first_mes\":\"Hi, {{user}}!\",\"mes_example\":\"<START>\\n{{char}}: Hello.\","
    "\"creator_notes\":\"for tests\",\"system_prompt\":\"You are {{char}}.\","
    "\"post_history_instructions\":\"Stay in character.\","
    "\"alternate_greetings\":[\"Greetings, earthling.\",\"Hey.\"],\"tags\":[\"alien\",\"film\"],"
    "\"creator\":\"someone\",\"character_version\":\"1.2\","
    "\"extensions\":{\"talkativeness\":\"0.5\",\"depth_prompt\":{\"depth\":4}}}}";

static const char v3_card[] =
    "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{"
    "\"name\":\"Elio\",\"nickname\":\"Earth Ambassador\",\"description\":\"An 11-year-old boy.\","
    "\"personality\":\"curious\",\"scenario\":\"\",\"first_mes\":\"Take me!\",\"mes_example\":\"\","
    "\"creator_notes\":\"\",\"system_prompt\":\"\",\"post_history_instructions\":\"\","
    "\"alternate_greetings\":[],\"group_only_greetings\":[],\"tags\":[],\"creator\":\"\","
    "\"character_version\":\"\",\"extensions\":{},"
    "\"character_book\":{\"name\":\"Elio lore\",\"entries\":[{\"keys\":[\"Olga\"],"
    "\"content\":\"Olga is Elio's aunt, an Air Force major.\",\"extensions\":{},\"enabled\":true,"
    "\"insertion_order\":0,\"use_regex\":false}]}}}";

TEST(v2_json_exact_fields) {
  store_persona p;
  store_persona_init(&p);
  card_meta m;
  CHECK_OK(card_parse(v2_card, strlen(v2_card), &p, &m));
  CHECK_INT(m.version, 2);
  CHECK(!m.png);
  CHECK(!m.has_book);
  CHECK_STR(m.spec, "chara_card_v2");
  CHECK_STR(p.name, "Glordon");
  CHECK_STR(p.description, "A purple potato-shaped alien.");
  CHECK_STR(p.personality, "kind, shy");
  CHECK_STR(p.scenario, "The Communiverse.");
  CHECK_STR(p.first_mes, "Hi, {{user}}!");
  CHECK_STR(p.mes_example, "<START>\n{{char}}: Hello.");
  CHECK_STR(p.creator_notes, "for tests");
  CHECK_STR(p.system_prompt, "You are {{char}}.");
  CHECK_STR(p.post_history_instructions, "Stay in character.");
  CHECK_INT(p.alternate_greetings.n, 2);
  CHECK_STR(p.alternate_greetings.v[1], "Hey.");
  CHECK_INT(p.tags.n, 2);
  CHECK_STR(p.tags.v[0], "alien");
  CHECK_STR(p.creator, "someone");
  CHECK_STR(p.character_version, "1.2");
  CHECK_STR(p.extensions, "{\"talkativeness\":\"0.5\",\"depth_prompt\":{\"depth\":4}}");
  CHECK(p.character_book == NULL);
  CHECK_INT(p.aliases.n, 0);
  store_persona_free(&p);
}

TEST(v3_json_with_book_and_nickname) {
  store_persona p;
  store_persona_init(&p);
  card_meta m;
  CHECK_OK(card_parse(v3_card, strlen(v3_card), &p, &m));
  CHECK_INT(m.version, 3);
  CHECK(m.has_book);
  CHECK_STR(p.name, "Elio");
  CHECK_STR(p.description, "An 11-year-old boy.");
  CHECK(p.scenario == NULL); /* "" reads as none */
  CHECK_INT(p.aliases.n, 1);
  CHECK_STR(p.aliases.v[0], "Earth Ambassador");
  REQUIRE(p.character_book != NULL);
  json_t *book = json_loads(p.character_book, 0, NULL);
  REQUIRE(book != NULL);
  CHECK_STR(jv_str(book, "name", ""), "Elio lore");
  json_t *e = json_array_get(json_object_get(book, "entries"), 0);
  CHECK_STR(jv_str(e, "content", ""), "Olga is Elio's aunt, an Air Force major.");
  json_decref(book);
  CHECK(p.extensions == NULL); /* {} keeps nothing */
  store_persona_free(&p);
}

TEST(v1_json) {
  const char *v1 =
      "{\"name\":\"Bot\",\"description\":\"d\",\"personality\":\"p\",\"scenario\":\"s\","
      "\"first_mes\":\"f\",\"mes_example\":\"m\"}";
  store_persona p;
  store_persona_init(&p);
  card_meta m;
  CHECK_OK(card_parse(v1, strlen(v1), &p, &m));
  CHECK_INT(m.version, 1);
  CHECK_STR(p.name, "Bot");
  CHECK_STR(p.mes_example, "m");
  store_persona_free(&p);
}

TEST(png_with_chara) {
  buf png;
  buf_init(&png, 0);
  const char *texts[] = {"chara", v2_card, NULL};
  make_png(&png, texts);
  store_persona p;
  store_persona_init(&p);
  card_meta m;
  CHECK_OK(card_parse(png.data, png.len, &p, &m));
  CHECK(m.png);
  CHECK(!m.both);
  CHECK_INT(m.version, 2);
  CHECK_STR(p.name, "Glordon");
  CHECK_STR(p.first_mes, "Hi, {{user}}!");
  store_persona_free(&p);
  buf_free(&png);
}

TEST(png_with_both_prefers_ccv3) {
  buf png;
  buf_init(&png, 0);
  const char *texts[] = {"chara", v2_card, "ccv3", v3_card, NULL};
  make_png(&png, texts);
  store_persona p;
  store_persona_init(&p);
  card_meta m;
  CHECK_OK(card_parse(png.data, png.len, &p, &m));
  CHECK(m.png);
  CHECK(m.both);
  CHECK_INT(m.version, 3);
  CHECK_STR(p.name, "Elio");
  CHECK(m.has_book);
  store_persona_free(&p);
  buf_free(&png);
}

/* Expects a refusal with code and a message containing want. */
static void refused(const void *data, size_t n, int code, const char *want) {
  store_persona p;
  store_persona_init(&p);
  int rc = card_parse(data, n, &p, NULL);
  CHECK_INT(rc, code);
  if (!strstr(err_msg(), want)) TEST_FAIL_("message \"%s\" lacks \"%s\"", err_msg(), want);
  CHECK(p.name == NULL);
  store_persona_free(&p);
}

TEST(broken_cards_one_sentence) {
  /* bad base64 */
  buf png;
  buf_init(&png, 0);
  const char *bad64[] = {"chara", NULL};
  make_png(&png, bad64 + 1); /* no card at all */
  refused(png.data, png.len, MIMIC_EFORMAT, "no character card");
  buf_reset(&png);
  {
    static const uint8_t sig[8] = {137, 80, 78, 71, 13, 10, 26, 10};
    CHECK_OK(buf_append(&png, sig, 8));
    uint8_t ihdr[13] = {0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0};
    chunk(&png, "IHDR", ihdr, 13);
    const char body[] = "chara\0eyJu!!!!";
    chunk(&png, "tEXt", body, sizeof body - 1);
    chunk(&png, "IEND", NULL, 0);
  }
  refused(png.data, png.len, MIMIC_EFORMAT, "chara chunk: not valid base64: byte 0x21");

  /* truncated PNG */
  buf_reset(&png);
  const char *texts[] = {"ccv3", v3_card, NULL};
  make_png(&png, texts);
  refused(png.data, png.len - 20, MIMIC_EFORMAT, "truncated PNG");
  refused(png.data, 40, MIMIC_EFORMAT, "truncated PNG");
  /* a flipped byte fails the CRC */
  png.data[60] ^= 1;
  refused(png.data, png.len, MIMIC_EFORMAT, "fails its CRC check");
  buf_free(&png);

  /* wrong spec versions and specs */
  const char *v2_as_3 =
      "{\"spec\":\"chara_card_v2\",\"spec_version\":\"3.0\",\"data\":{\"name\":\"x\"}}";
  refused(v2_as_3, strlen(v2_as_3), MIMIC_EUNSUPPORTED, "a V2 card is version 2.0");
  const char *v3_as_4 =
      "{\"spec\":\"chara_card_v3\",\"spec_version\":\"4.0\",\"data\":{\"name\":\"x\"}}";
  refused(v3_as_4, strlen(v3_as_4), MIMIC_EUNSUPPORTED, "mimic reads V3 versions 3.x");
  const char *other = "{\"spec\":\"chara_card_v9\",\"spec_version\":\"9\",\"data\":{}}";
  refused(other, strlen(other), MIMIC_EUNSUPPORTED, "mimic reads chara_card_v2 and chara_card_v3");
  const char *nodata = "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\"}";
  refused(nodata, strlen(nodata), MIMIC_EFORMAT, "has no data object");
  const char *noname = "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{}}";
  refused(noname, strlen(noname), MIMIC_EFORMAT, "the card has no name");
  const char *badtype = "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":"
                        "{\"name\":\"x\",\"tags\":\"a,b\"}}";
  refused(badtype, strlen(badtype), MIMIC_EFORMAT, "card field tags must be a list of strings");
  refused("{not json", 9, MIMIC_EFORMAT, "the card's JSON");

  /* 10 MB of text in a field */
  size_t big = 10u << 20;
  buf j;
  buf_init(&j, 0);
  CHECK_OK(buf_puts(&j,
                    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{\"name\":\"x\","
                    "\"description\":\""));
  CHECK_OK(buf_reserve(&j, big + 8));
  memset(j.data + j.len, 'a', big);
  j.len += big;
  CHECK_OK(buf_puts(&j, "\"}}"));
  refused(j.data, j.len, MIMIC_ERANGE,
          "card field description is 10485760 bytes; mimic keeps at most 262144 bytes per field");
  buf_free(&j);
}

TEST(export_v3_and_png_round_trip) {
  store_persona p;
  store_persona_init(&p);
  CHECK_OK(card_parse(v3_card, strlen(v3_card), &p, NULL));
  CHECK_OK(store_strv_push(&p.keywords, "alien"));
  CHECK_OK(store_strv_push(&p.regexes, "^elio\\b"));
  p.freewill = 0.5;
  p.has_top_p = true;
  p.top_p = 0.9;
  p.lore_scope = xstrdup("elio-film");
  buf out;
  buf_init(&out, 0);
  CHECK_OK(card_to_json(&p, 3, &out));
  json_t *root = json_loads(out.data, 0, NULL);
  REQUIRE(root != NULL);
  CHECK_STR(jv_str(root, "spec", ""), "chara_card_v3");
  CHECK_STR(jv_str(root, "spec_version", ""), "3.0");
  json_t *d = json_object_get(root, "data");
  CHECK_STR(jv_str(d, "name", ""), "Elio");
  CHECK(json_is_array(json_object_get(d, "group_only_greetings")));
  CHECK(json_is_object(json_object_get(d, "character_book")));
  json_decref(root);

  /* JSON round trip keeps every field, mimic's own included */
  store_persona q;
  store_persona_init(&q);
  CHECK_OK(card_parse(out.data, out.len, &q, NULL));
  CHECK_STR(q.name, "Elio");
  CHECK_INT(q.aliases.n, 1);
  CHECK_STR(q.aliases.v[0], "Earth Ambassador");
  CHECK_STR(q.keywords.v[0], "alien");
  CHECK_STR(q.regexes.v[0], "^elio\\b");
  CHECK_NEAR(q.freewill, 0.5, 1e-9);
  CHECK(q.has_top_p);
  CHECK_STR(q.lore_scope, "elio-film");
  CHECK(q.extensions == NULL); /* extensions.mimic is read back, not kept raw */
  CHECK(strstr(q.character_book, "Air Force major") != NULL);

  /* PNG: an old card is replaced by both chunks; the V3 one is read back */
  buf png, card_png;
  buf_init(&png, 0);
  buf_init(&card_png, 0);
  const char *old[] = {"chara", v2_card, NULL};
  make_png(&png, old);
  CHECK_OK(card_png_embed(png.data, png.len, &p, &card_png));
  card_meta m;
  CHECK_OK(card_parse(card_png.data, card_png.len, &q, &m));
  CHECK(m.both);
  CHECK_INT(m.version, 3);
  CHECK_STR(q.name, "Elio");
  CHECK_STR(q.description, "An 11-year-old boy.");
  /* the V2 chunk alone reads as the same character */
  CHECK_OK(card_to_json(&p, 2, &out));
  CHECK(strstr(out.data, "\"chara_card_v2\"") != NULL);
  /* embedding into something that is not a PNG is one sentence */
  buf_reset(&card_png);
  CHECK_INT(card_png_embed("GIF89a", 6, &p, &card_png), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "not a PNG file") != NULL);
  buf_free(&card_png);
  buf_free(&png);
  buf_free(&out);
  store_persona_free(&q);
  store_persona_free(&p);
}

TEST(base64_strict) {
  buf b;
  buf_init(&b, 0);
  CHECK_OK(b64_encode("hello", 5, &b));
  CHECK_OK(buf_putc(&b, 0));
  CHECK_STR(b.data, "aGVsbG8=");
  buf_reset(&b);
  CHECK_OK(b64_decode("aGVs\nbG8=", 9, &b));
  CHECK_INT(b.len, 5);
  CHECK(memcmp(b.data, "hello", 5) == 0);
  buf_reset(&b);
  CHECK_OK(b64_decode("aGVsbG8", 7, &b)); /* padding may be absent */
  CHECK_INT(b.len, 5);
  buf_reset(&b);
  CHECK_INT(b64_decode("aGVsbG8==", 9, &b), MIMIC_EFORMAT);
  CHECK_INT(b64_decode("aGVsb", 5, &b), MIMIC_EFORMAT);
  CHECK_INT(b64_decode("aG=s", 4, &b), MIMIC_EFORMAT);
  buf_free(&b);
}

TEST(system_prompt_like_sillytavern) {
  store_persona p;
  store_persona_init(&p);
  CHECK_OK(card_parse(v2_card, strlen(v2_card), &p, NULL));
  buf b;
  buf_init(&b, 0);
  CHECK_OK(card_system_prompt(&p, NULL, "Ana", 0, &b));
  CHECK_OK(buf_putc(&b, 0));
  CHECK_STR(b.data, "You are Glordon.\n\nA purple potato-shaped alien.\n\nGlordon's personality: "
                    "kind, shy\n\nScenario: The Communiverse.\n\nHow Glordon talks:\n<START>\n"
                    "Glordon: Hello.");
  CHECK(strstr(b.data, "for tests") == NULL); /* creator_notes never enter a prompt */
  /* {{original}} and the macros in any case; <BOT>/<USER> too */
  mem_free(p.system_prompt);
  p.system_prompt = xstrdup("{{ORIGINAL}} Talk to <USER> as <bot>, {{User}}.");
  mem_free(p.description);
  p.description = NULL;
  mem_free(p.personality);
  p.personality = NULL;
  mem_free(p.scenario);
  p.scenario = NULL;
  mem_free(p.mes_example);
  p.mes_example = NULL;
  buf_reset(&b);
  CHECK_OK(card_system_prompt(&p, "Glordie", NULL, 0, &b));
  CHECK_OK(buf_putc(&b, 0));
  CHECK_STR(b.data, "You are Glordie. Talk to User as Glordie, User.");
  /* lore from the character book, within its budget */
  CHECK_OK(card_parse(v3_card, strlen(v3_card), &p, NULL));
  buf_reset(&b);
  CHECK_OK(card_system_prompt(&p, NULL, NULL, 1000, &b));
  CHECK_OK(buf_putc(&b, 0));
  CHECK(strstr(b.data, "\n\nWhat Elio knows:\n- Olga is Elio's aunt, an Air Force major.") != NULL);
  buf_reset(&b);
  CHECK_OK(card_system_prompt(&p, NULL, NULL, 10, &b)); /* the entry does not fit */
  CHECK_OK(buf_putc(&b, 0));
  CHECK(strstr(b.data, "knows") == NULL);
  buf_free(&b);
  store_persona_free(&p);
}

int main(void) {
  RUN(v2_json_exact_fields);
  RUN(v3_json_with_book_and_nickname);
  RUN(v1_json);
  RUN(png_with_chara);
  RUN(png_with_both_prefers_ccv3);
  RUN(broken_cards_one_sentence);
  RUN(export_v3_and_png_round_trip);
  RUN(base64_strict);
  RUN(system_prompt_like_sillytavern);
  TEST_MAIN_END();
}
