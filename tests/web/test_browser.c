/* The dashboard in a real browser: tests/web/browser.js drives headless Chromium (Debian's
 * chromium through puppeteer-core from tests/web/node_modules, installed by
 * scripts/install-deps.sh) against the real dashboard supervising the real bot on the Discord
 * doubles. Skips with one line when chromium or node_modules is missing. */
#include "test.h"
#include "web_rig.h"

static const char sft[] =
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Ann: gg\"}, {\"role\": \"assistant\", "
    "\"content\": \"Ben: ez\"}]}\n"
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Ann: who is up\"}, {\"role\": "
    "\"assistant\", \"content\": \"Cat: me!\"}]}\n"
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Ben: lol\"}, {\"role\": \"assistant\", "
    "\"content\": \"Ann: same\"}]}\n"
    "{\"messages\": [{\"role\": \"user\", \"content\": \"Cat: food?\"}, {\"role\": "
    "\"assistant\", \"content\": \"Ben: brb\"}]}\n";

/* A character card (V3) with a character book. */
static const char card[] =
    "{\"spec\": \"chara_card_v3\", \"spec_version\": \"3.0\", \"data\": {\"name\": \"Elio\", "
    "\"description\": \"A purple alien.\", \"personality\": \"kind\", \"scenario\": \"\", "
    "\"first_mes\": \"Hi\", \"mes_example\": \"\", \"creator_notes\": \"\", \"system_prompt\": "
    "\"\", \"post_history_instructions\": \"\", \"alternate_greetings\": [], \"tags\": [], "
    "\"creator\": \"\", \"character_version\": \"1\", \"extensions\": {}, "
    "\"group_only_greetings\": [], \"character_book\": {\"entries\": [{\"keys\": [\"Olga\"], "
    "\"content\": \"Olga is his aunt.\", \"extensions\": {}, \"enabled\": true, "
    "\"insertion_order\": 0, \"use_regex\": false}]}}}";

TEST(dashboard_in_chromium) {
  const char *src = getenv("MIMIC_SRC");
  const char *chromium = getenv("CHROMIUM") ? getenv("CHROMIUM") : "/usr/bin/chromium";
  char mod[1024], script[1024];
  snprintf(mod, sizeof mod, "%s/tests/web/node_modules/puppeteer-core/package.json",
           src ? src : ".");
  snprintf(script, sizeof script, "%s/tests/web/browser.js", src ? src : ".");
  if (access(chromium, X_OK) != 0) SKIP("chromium is not installed (scripts/install-deps.sh)");
  if (access(mod, R_OK) != 0)
    SKIP("tests/web/node_modules is missing (scripts/install-deps.sh runs npm ci there)");
  web_rig r;
  int st = web_rig_start(&r, true, NULL);
  if (st == 1) SKIP("node, the doubles or the mimic binary are unavailable");
  REQUIRE(st == 0);
  char data[256], out[256], card_path[256], cmd[4096];
  snprintf(data, sizeof data, "%s/sft.jsonl", r.dir);
  snprintf(out, sizeof out, "%s/models/tiny.gguf", r.dir);
  FILE *f = fopen(data, "w");
  REQUIRE(f);
  fputs(sft, f);
  fclose(f);
  snprintf(card_path, sizeof card_path, "%s/elio.json", r.dir);
  f = fopen(card_path, "w");
  REQUIRE(f);
  fputs(card, f);
  fclose(f);
  snprintf(
      cmd, sizeof cmd,
      "CARD=%s node %s http://127.0.0.1:%d '%s' --from-scratch --layers 1 --width 32 --heads 2 "
      "--data %s --valid %s --out %s --steps 12 --seq-len 48 --threads 1 --no-progress",
      card_path, script, r.port, RIG_PASSWORD, data, data, out);
  CHECK_INT(rig_sh(cmd), 0);
  CHECK(access(out, R_OK) == 0); /* the job really trained and wrote the model */
  CHECK_INT(web_rig_stop(&r), 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  RUN(dashboard_in_chromium);
  curl_global_cleanup();
  TEST_MAIN_END();
}
