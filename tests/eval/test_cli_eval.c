/* `mimic eval` end to end on the tiny reference Qwen2 and adapter (../shared; skipped when absent):
 * the report, its JSON twin and the blind kit appear; a sheet answered from the key scores 100%;
 * a missing model or dataset fails with a sentence naming it. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "eval/eval.h"
#include "test.h"

static char tmpdir[64];

static int run(const char *cmd, char *out, size_t cap) {
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool has(const char *path, const char *needle) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  static char data[1 << 20];
  size_t n = fread(data, 1, sizeof data - 1, f);
  data[n] = 0;
  fclose(f);
  return strstr(data, needle) != NULL;
}

TEST(eval_end_to_end) {
  char model[512], lora[512];
  const char *bin = getenv("MIMIC_BIN");
  if (!bin || !test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", model, sizeof model) ||
      !test_shared_path("testdata/llm/tiny-qwen2-lora-f32.gguf", lora, sizeof lora))
    SKIP("MIMIC_BIN or the tiny Qwen2 model/adapter absent");
  char data[128], train[128], out[128], cmd[4096], text[16384], path[256];
  snprintf(data, sizeof data, "%s/valid.jsonl", tmpdir);
  snprintf(train, sizeof train, "%s/train.jsonl", tmpdir);
  snprintf(out, sizeof out, "%s/reports", tmpdir);
  FILE *f = fopen(data, "wb");
  REQUIRE(f);
  const char *ctxs[] = {"owl: raid tonight", "DEX: LETS GOOO",
                        "mochi: good morning \xE2\x98\x80\xEF\xB8\x8F", "k: ok"};
  const char *reps[] = {"DEX: I'M IN", "owl: im on in 10", "jay: gm yall", "Benny: waht"};
  for (int i = 0; i < 4; i++)
    fprintf(f,
            "{\"messages\":[{\"role\":\"system\",\"content\":\"chat\"},{\"role\":\"user\","
            "\"content\":\"%s\"},"
            "{\"role\":\"assistant\",\"content\":\"%s\"}]}\n",
            ctxs[i], reps[i]);
  fclose(f);
  f = fopen(train, "wb");
  REQUIRE(f);
  fprintf(f, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\","
             "\"content\":\"owl: b\"}]}\n");
  fclose(f);
  snprintf(
      cmd, sizeof cmd,
      "MIMIC_CONFIG=/dev/null %s eval --model %s --lora %s --data %s --train %s --out %s --n 4 "
      "--max-tokens 8 --blind 3 --threads 1 2>&1",
      bin, model, lora, data, train, out);
  int rc = run(cmd, text, sizeof text);
  if (rc != 0) printf("%s\n", text);
  REQUIRE(rc == 0);
  CHECK(strstr(text, "perplexity: base") && strstr(text, "tuned"));
  CHECK(strstr(text, "copy rate") != NULL);
  /* no encoder configured: said once, and the report says why the row is empty */
  const char *skip = strstr(text, "style-embedding cosine is skipped");
  CHECK(skip && !strstr(skip + 1, "style-embedding cosine is skipped"));
  snprintf(path, sizeof path, "%s/report.html", out);
  CHECK(has(path, "<table class=\"metrics\">"));
  CHECK(has(path, "<table class=\"ppl\">"));
  CHECK(has(path, "DEX: I&#39;M IN"));
  snprintf(path, sizeof path, "%s/eval.json", out);
  CHECK(has(path, "\"tfidf_cos\""));
  /* answer the sheet from the key and score it */
  char key[256], sheet[256], filled[256];
  snprintf(key, sizeof key, "%s/blind-key.csv", out);
  snprintf(sheet, sizeof sheet, "%s/blind-sheet.csv", out);
  snprintf(filled, sizeof filled, "%s/filled.csv", tmpdir);
  CHECK(has(sheet, "id,context,reply,guess"));
  snprintf(cmd, sizeof cmd, "sed 's/,truth/,guess/' %s > %s", key, filled);
  REQUIRE(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "MIMIC_CONFIG=/dev/null %s eval --score %s --key %s 2>&1", bin, filled,
           key);
  CHECK_INT(run(cmd, text, sizeof text), 0);
  CHECK(strstr(text, "items: 6, answered: 6, correct: 6") != NULL);
  CHECK(strstr(text, "accuracy: 100.0%") != NULL);
  /* with the tiny bert from ../shared as the encoder: the cosine and its parts */
  char bert[512];
  if (test_shared_path("testdata/llm/tiny-bert-f16.gguf", bert, sizeof bert)) {
    snprintf(cmd, sizeof cmd,
             "MIMIC_CONFIG=/dev/null MIMIC_EMBED_MODEL=%s %s eval --model %s --data %s --train "
             "none --out %s --n 4 --max-tokens 8 --blind 0 --threads 1 --no-ppl 2>&1",
             bert, bin, model, data, out);
    rc = run(cmd, text, sizeof text);
    if (rc != 0) printf("%s\n", text);
    CHECK_INT(rc, 0);
    CHECK(strstr(text, "style-embedding cosine") && strstr(text, "goal > 0.85"));
    CHECK(!strstr(text, "is skipped"));
    snprintf(path, sizeof path, "%s/eval.json", out);
    CHECK(has(path, "\"embed_pair_cos\": 0.") || has(path, "\"embed_pair_cos\": 1"));
    snprintf(path, sizeof path, "%s/report.html", out);
    CHECK(has(path, "paired reply cosine"));
    snprintf(cmd, sizeof cmd,
             "MIMIC_CONFIG=/dev/null %s eval --model %s --data %s --embed-model %s/none.gguf "
             "--no-ppl --out %s 2>&1",
             bin, model, data, tmpdir, out);
    CHECK_INT(run(cmd, text, sizeof text), 1);
    CHECK(strstr(text, "none.gguf") != NULL);
  }
  /* clear failures */
  snprintf(cmd, sizeof cmd, "MIMIC_CONFIG=/dev/null %s eval --model %s/none.gguf --data %s 2>&1",
           bin, tmpdir, data);
  CHECK_INT(run(cmd, text, sizeof text), 1);
  CHECK(strstr(text, "none.gguf: model not found") != NULL);
  snprintf(cmd, sizeof cmd, "MIMIC_CONFIG=/dev/null %s eval --model %s --data %s/none.jsonl 2>&1",
           bin, model, tmpdir);
  CHECK_INT(run(cmd, text, sizeof text), 1);
  CHECK(strstr(text, "none.jsonl: cannot open") != NULL);
  snprintf(cmd, sizeof cmd, "MIMIC_CONFIG=/dev/null %s eval --score %s 2>&1", bin, filled);
  CHECK_INT(run(cmd, text, sizeof text), 2);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_clieval_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(eval_end_to_end);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
