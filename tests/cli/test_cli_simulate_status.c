/* Tests for what `mimic simulate` says about its settings (issue 19): !status names each value's
 * true source (a default is "default", a flag's value "command line", not "config file"), and
 * !setrate on the in-memory database does not promise to survive a restart. The real binary
 * (MIMIC_BIN) on the tiny reference model from the shared test data (skipped when absent). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "base/base.h"
#include "test.h"

static char model[512];
static const char *bin;

static int run(const char *cmd, char *out, size_t cap) {
  char full[2048];
  snprintf(full, sizeof full, "%s 2>&1", cmd);
  FILE *p = popen(full, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(status_and_setrate_tell_the_truth) {
  if (!*model) SKIP("tiny-qwen2-q8_0.gguf or MIMIC_BIN absent");
  char cmd[1024], out[32768];
  snprintf(cmd, sizeof cmd,
           "printf '!status\\n!setrate 0.3\\n/quit\\n' | env -u MIMIC_ENGINE_TEMPERATURE "
           "-u MIMIC_ENGINE_TOP_P %s simulate --model %s -n 8 --seed 5",
           bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "engine.max_tokens = 8 (command line)") != NULL);
  CHECK(strstr(out, "engine.temperature = 0.8 (default)") != NULL);
  CHECK(strstr(out, "engine.top_p = ") != NULL);
  CHECK(strstr(out, "(config file)") == NULL);
  CHECK(strstr(out, "Response rate set to 0.3 (was 0.05).") != NULL);
  CHECK(strstr(out, "survives a restart") == NULL);
  CHECK(strstr(out, "lasts until the bot stops") != NULL);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (!bin || !test_shared_path("testdata/llm/tiny-qwen2-q8_0.gguf", model, sizeof model))
    model[0] = 0;
  RUN(status_and_setrate_tell_the_truth);
  TEST_MAIN_END();
}
