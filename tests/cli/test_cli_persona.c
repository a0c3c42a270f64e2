/* Tests for `mimic persona` as a user runs it (the real binary, MIMIC_BIN, in a fresh data folder):
 * importing a PNG card and a V3 JSON card with a character book, show --json with the card's V2/V3
 * field names and mimic's own, export (JSON and PNG) and re-import giving the same persona, edit,
 * remove, clear refusals; `mimic train --persona --member` refused without the member's opt-in even
 * when collect.require_consent is off; and gen-data writing SFT JSONL the trainer reads (with the
 * tiny reference model from ../shared, skipped when absent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "base/base.h"
#include "base/base64.h"
#include "collect/card.h"
#include "test.h"

static const char *bin;
static char dir[256], model[512];

/* Runs a shell command in dir with a data folder of its own; output (stdout + stderr) in out. */
static int run(const char *args, char *out, size_t cap) {
  char full[4096];
  snprintf(full, sizeof full,
           "cd %s && unset MIMIC_CONFIG MIMIC_STORE_PATH && export MIMIC_DATA_DIR=%s/data && "
           "(%s) 2>&1",
           dir, dir, args);
  FILE *p = popen(full, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
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
static void write_png_card(const char *path, const char *json) {
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
  CHECK_OK(fs_write_atomic(path, b.data, b.len));
  buf_free(&b);
  buf_free(&body);
}

static const char glordon_v2[] =
    "{\"spec\":\"chara_card_v2\",\"spec_version\":\"2.0\",\"data\":{\"name\":\"Glordon\","
    "\"description\":\"A purple potato-shaped alien.\",\"personality\":\"kind, shy\","
    "\"scenario\":\"The Communiverse.\",\"first_mes\":\"Hi, {{user}}!\","
    "\"mes_example\":\"<START>\\n{{char}}: Hello.\",\"creator_notes\":\"notes\","
    "\"system_prompt\":\"You are {{char}}.\",\"post_history_instructions\":\"Stay kind.\","
    "\"alternate_greetings\":[\"Greetings.\"],\"tags\":[\"alien\"],\"creator\":\"me\","
    "\"character_version\":\"2\",\"extensions\":{\"fav\":true}}}";

static const char elio_v3[] =
    "{\"spec\":\"chara_card_v3\",\"spec_version\":\"3.0\",\"data\":{\"name\":\"Elio\","
    "\"description\":\"An 11-year-old boy.\",\"personality\":\"\",\"scenario\":\"\","
    "\"first_mes\":\"\",\"mes_example\":\"\",\"creator_notes\":\"\",\"system_prompt\":\"\","
    "\"post_history_instructions\":\"\",\"alternate_greetings\":[],\"group_only_greetings\":[],"
    "\"tags\":[\"boy\"],\"creator\":\"\",\"character_version\":\"\",\"extensions\":{},"
    "\"character_book\":{\"entries\":[{\"keys\":[\"Olga\"],\"content\":\"Olga is his aunt.\","
    "\"extensions\":{},\"enabled\":true,\"insertion_order\":0,\"use_regex\":false}]}}}";

static json_t *show_json(const char *name) {
  char cmd[512];
  static char out[1 << 16];
  snprintf(cmd, sizeof cmd, "%s persona show %s --json", bin, name);
  if (run(cmd, out, sizeof out) != 0) {
    TEST_FAIL_("show %s failed: %s", name, out);
    return NULL;
  }
  json_error_t e;
  json_t *v = json_loads(out, 0, &e);
  if (!v) TEST_FAIL_("show --json is not JSON: %s: %s", e.text, out);
  return v;
}

TEST(import_show_export_round_trip) {
  if (!bin) SKIP("MIMIC_BIN not set");
  char cmd[1024], out[8192], path[512];
  snprintf(path, sizeof path, "%s/glordon.png", dir);
  write_png_card(path, glordon_v2);
  snprintf(cmd, sizeof cmd, "%s persona import glordon.png", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "persona Glordon imported from a V2 card (PNG; the image is its avatar)"));

  json_t *g = show_json("glordon"); /* any case */
  REQUIRE(g != NULL);
  CHECK_STR(jv_str(g, "name", ""), "Glordon");
  CHECK_STR(jv_str(g, "description", ""), "A purple potato-shaped alien.");
  CHECK_STR(jv_str(g, "personality", ""), "kind, shy");
  CHECK_STR(jv_str(g, "scenario", ""), "The Communiverse.");
  CHECK_STR(jv_str(g, "first_mes", ""), "Hi, {{user}}!");
  CHECK_STR(jv_str(g, "mes_example", ""), "<START>\n{{char}}: Hello.");
  CHECK_STR(jv_str(g, "system_prompt", ""), "You are {{char}}.");
  CHECK_STR(jv_str(g, "post_history_instructions", ""), "Stay kind.");
  CHECK_STR(jv_str(g, "creator_notes", ""), "notes");
  CHECK_STR(json_string_value(json_array_get(json_object_get(g, "alternate_greetings"), 0)),
            "Greetings.");
  CHECK_STR(json_string_value(json_array_get(json_object_get(g, "tags"), 0)), "alien");
  CHECK(json_is_true(json_object_get(json_object_get(g, "extensions"), "fav")));
  CHECK(json_is_null(json_object_get(g, "character_book")));
  CHECK(json_is_array(json_object_get(g, "aliases")));
  CHECK(json_is_object(json_object_get(g, "triggers")));
  CHECK(json_is_null(json_object_get(g, "adapter")));
  CHECK_NEAR(jv_num(g, "freewill", -1), 0, 1e-9);
  /* the PNG became the avatar, copied into the data folder */
  const char *avatar = jv_str(g, "avatar", "");
  char want[512];
  snprintf(want, sizeof want, "%s/data/personas/Glordon/avatar.png", dir);
  CHECK_STR(avatar, want);
  CHECK(access(avatar, R_OK) == 0);

  /* V3 JSON with a character book */
  snprintf(path, sizeof path, "%s/elio.json", dir);
  CHECK_OK(fs_write_atomic(path, elio_v3, strlen(elio_v3)));
  snprintf(cmd, sizeof cmd, "%s persona import elio.json", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "its character book (1 entry) is in the lore scope Elio"));
  /* the book is World Info in the persona's lore scope */
  snprintf(cmd, sizeof cmd, "%s lore list", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "card:Elio") != NULL);
  json_t *e = show_json("Elio");
  REQUIRE(e != NULL);
  json_t *entry =
      json_array_get(json_object_get(json_object_get(e, "character_book"), "entries"), 0);
  CHECK_STR(jv_str(entry, "content", ""), "Olga is his aunt.");
  CHECK(json_is_null(json_object_get(e, "avatar")));
  json_decref(e);
  /* importing it again is refused, with what to do */
  snprintf(cmd, sizeof cmd, "%s persona import elio.json", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "a persona named Elio already exists; remove it, import with --name NEW, or "
                    "use --replace"));
  snprintf(cmd, sizeof cmd, "%s persona import elio.json --name 'Elio Solis'", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  /* removing a persona takes its book out of the lore store; the other copy keeps its own */
  snprintf(cmd, sizeof cmd, "%s persona remove 'Elio Solis' && %s lore list", bin, bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "card:Elio Solis") == NULL);
  CHECK(strstr(out, "card:Elio") != NULL);
  snprintf(cmd, sizeof cmd, "%s persona import elio.json --name 'Elio Solis'", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);

  /* edit mimic's own fields, then export both ways and read them back */
  snprintf(cmd, sizeof cmd,
           "%s persona edit Glordon --set aliases=Glordie,Gordo --set keywords=potato "
           "--set freewill=0.25 --set temperature=0.7",
           bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  snprintf(cmd, sizeof cmd, "%s persona edit Glordon --set nope=1", bin);
  CHECK_INT(run(cmd, out, sizeof out), 2);
  CHECK(strstr(out, "'nope' is not a persona field"));
  snprintf(cmd, sizeof cmd, "%s persona edit Glordon --set freewill=3", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "freewill must be between 0 and 1, not 3"));
  json_decref(g);
  g = show_json("gordo"); /* by alias */
  REQUIRE(g != NULL);

  snprintf(cmd, sizeof cmd,
           "%s persona export Glordon --out g.json && %s persona export Glordon "
           "--png --out g.png",
           bin, bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  char *data = NULL;
  size_t n = 0;
  store_persona p;
  store_persona_init(&p);
  card_meta m;
  snprintf(path, sizeof path, "%s/g.png", dir);
  REQUIRE(fs_read_file(path, CARD_FILE_MAX, &data, &n) == 0);
  CHECK_OK(card_parse(data, n, &p, &m));
  CHECK(m.png && m.both);
  CHECK_INT(m.version, 3);
  CHECK_STR(p.name, "Glordon");
  CHECK_INT(p.aliases.n, 2);
  mem_free(data);
  snprintf(path, sizeof path, "%s/g.json", dir);
  REQUIRE(fs_read_file(path, CARD_FILE_MAX, &data, &n) == 0);
  CHECK(strstr(data, "\"spec\": \"chara_card_v3\"") != NULL);
  CHECK_OK(card_parse(data, n, &p, &m));
  CHECK_INT(m.version, 3);
  mem_free(data);
  store_persona_free(&p);

  /* remove, re-import the exported PNG: the same persona (fields, mimic's own included) */
  snprintf(cmd, sizeof cmd, "%s persona remove Glordon && %s persona import g.png", bin, bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  json_t *g2 = show_json("Glordon");
  REQUIRE(g2 != NULL);
  const char *same[] = {
      "name",          "description", "personality",      "scenario",
      "first_mes",     "mes_example", "system_prompt",    "post_history_instructions",
      "creator_notes", "creator",     "character_version"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
    CHECK_STR(jv_str(g2, same[i], "?"), jv_str(g, same[i], "!"));
  const char *lists[] = {"alternate_greetings", "tags", "aliases", "extensions", "triggers"};
  for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++)
    if (!json_equal(json_object_get(g, lists[i]), json_object_get(g2, lists[i])))
      TEST_FAIL_("%s differs after the round trip", lists[i]);
  CHECK_NEAR(jv_num(g2, "freewill", -1), 0.25, 1e-9);
  CHECK_NEAR(jv_num(g2, "temperature", -1), 0.7, 1e-9);
  json_decref(g2);
  json_decref(g);

  snprintf(cmd, sizeof cmd, "%s persona list", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "Elio ") && strstr(out, "Elio Solis") && strstr(out, "Glordon"));
  snprintf(cmd, sizeof cmd, "%s persona list --json", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  json_t *all = json_loads(out, 0, NULL);
  CHECK_INT(json_array_size(all), 3);
  json_decref(all);
}

TEST(broken_cards_and_unknown_names) {
  if (!bin) SKIP("MIMIC_BIN not set");
  char cmd[1024], out[8192], path[512];
  snprintf(path, sizeof path, "%s/bad.json", dir);
  const char *bad =
      "{\"spec\":\"chara_card_v2\",\"spec_version\":\"3.0\",\"data\":{\"name\":\"x\"}}";
  CHECK_OK(fs_write_atomic(path, bad, strlen(bad)));
  snprintf(cmd, sizeof cmd, "%s persona import bad.json", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "bad.json: the card says chara_card_v2 with spec_version 3; a V2 card is "
                    "version 2.0"));
  snprintf(cmd, sizeof cmd, "%s persona show Nobody", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "no persona is named 'Nobody' (see mimic persona list)"));
  snprintf(cmd, sizeof cmd, "%s persona export Elio --png", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "has no local avatar image to carry the card"));
  snprintf(cmd, sizeof cmd, "%s persona frob", bin);
  CHECK_INT(run(cmd, out, sizeof out), 2);
}

TEST(train_persona_needs_the_members_opt_in) {
  if (!bin) SKIP("MIMIC_BIN not set");
  char cmd[1024], out[8192];
  /* consent not required by the config, still refused: cloning a person needs their opt-in */
  snprintf(cmd, sizeof cmd,
           "MIMIC_COLLECT_REQUIRE_CONSENT=false %s train --persona Elio --member 4242 "
           "--base none.gguf",
           bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "user 4242 has not opted in: training a persona on one member's messages "
                    "clones their voice and needs their consent"));
  /* opted in, then opted out: refused again */
  snprintf(cmd, sizeof cmd,
           "%s privacy opt-in 4242 && %s privacy opt-out 4242 && %s train --persona Elio "
           "--member 4242 --base none.gguf",
           bin, bin, bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "user 4242 has not opted in"));
  /* opted in: goes past consent (and stops at having no messages) */
  snprintf(cmd, sizeof cmd,
           "%s privacy opt-in 4242 && %s train --persona Elio --member 4242 --base none.gguf", bin,
           bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "has not opted in") == NULL);
  CHECK(strstr(out, "user 4242 has no usable messages"));
  snprintf(cmd, sizeof cmd, "%s train --member 4242", bin);
  CHECK_INT(run(cmd, out, sizeof out), 2);
  CHECK(strstr(out, "--member goes with --persona NAME"));
  snprintf(cmd, sizeof cmd, "%s train --persona 'Elio Solis' --base none.gguf", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "Elio Solis has no training data yet: run mimic persona gen-data"));
}

TEST(gen_data_writes_sft_jsonl_and_train_records_the_adapter) {
  if (!bin || !*model) SKIP("tiny-qwen2-q8_0.gguf or MIMIC_BIN absent");
  char cmd[2048], out[16384];
  snprintf(cmd, sizeof cmd,
           "%s persona gen-data Elio --n 2 --turns 1 --model %s -n 8 --seed 11 --out elio.jsonl",
           bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "wrote elio.jsonl: 2 conversations") != NULL);
  char path[512];
  snprintf(path, sizeof path, "%s/elio.jsonl", dir);
  char *data = NULL;
  size_t n = 0;
  REQUIRE(fs_read_file(path, 1 << 20, &data, &n) == 0);
  int lines = 0;
  for (char *line = data, *nl; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    if (nl) *nl = 0;
    json_t *j = json_loads(line, 0, NULL);
    json_t *msgs = json_object_get(j, "messages");
    CHECK_INT(json_array_size(msgs), 3);
    CHECK_STR(jv_str(json_array_get(msgs, 0), "role", ""), "system");
    CHECK(strstr(jv_str(json_array_get(msgs, 0), "content", ""), "You are Elio.") != NULL);
    CHECK(strstr(jv_str(json_array_get(msgs, 0), "content", ""), "Olga is his aunt.") != NULL);
    CHECK_STR(jv_str(json_array_get(msgs, 1), "role", ""), "user");
    CHECK_STR(jv_str(json_array_get(msgs, 2), "role", ""), "assistant");
    CHECK(*jv_str(json_array_get(msgs, 2), "content", "") != 0);
    json_decref(j);
    lines++;
  }
  CHECK_INT(lines, 2);
  mem_free(data);
  /* (b) a character dataset: the adapter lands next to the persona and in its row */
  snprintf(cmd, sizeof cmd,
           "%s train --persona elio --data elio.jsonl --base %s --steps 1 --seq-len 64 "
           "--no-progress --ckpt-every 0",
           bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "Elio now speaks with") != NULL);
  json_t *e = show_json("Elio");
  char want[512];
  snprintf(want, sizeof want, "%s/data/personas/Elio/adapter.gguf", dir);
  CHECK_STR(jv_str(e, "adapter", ""), want);
  CHECK(access(want, R_OK) == 0);
  json_decref(e);

  /* --cast: one adapter for every persona with generated data, recorded in each */
  snprintf(cmd, sizeof cmd, "%s train --cast --base %s --steps 1", bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "no persona has generated data yet") != NULL);
  snprintf(cmd, sizeof cmd,
           "%s persona gen-data Glordon --n 1 --turns 1 --model %s -n 8 --seed 2 && %s train "
           "--cast --base %s --steps 1 --seq-len 64 --no-progress --ckpt-every 0",
           bin, model, bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "the cast adapter leaves out") != NULL); /* Elio has no gen-data.jsonl */
  CHECK(strstr(out, "the cast now speak with") != NULL);
  snprintf(want, sizeof want, "%s/data/personas/cast-adapter.gguf", dir);
  e = show_json("Glordon");
  CHECK_STR(jv_str(e, "adapter", ""), want);
  json_decref(e);
  e = show_json("Elio"); /* left out of the cast: keeps its own adapter */
  snprintf(want, sizeof want, "%s/data/personas/Elio/adapter.gguf", dir);
  CHECK_STR(jv_str(e, "adapter", ""), want);
  json_decref(e);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  snprintf(dir, sizeof dir, "/tmp/mimic_test_persona_XXXXXX");
  if (!mkdtemp(dir)) return 1;
  if (!bin || !test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", model, sizeof model))
    model[0] = 0;
  RUN(import_show_export_round_trip);
  RUN(broken_cards_and_unknown_names);
  RUN(train_persona_needs_the_members_opt_in);
  RUN(gen_data_writes_sft_jsonl_and_train_records_the_adapter);
  char rm[512];
  snprintf(rm, sizeof rm, "rm -rf %s", dir);
  if (system(rm) != 0) printf("could not remove %s\n", dir);
  TEST_MAIN_END();
}
