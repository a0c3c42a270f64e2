/* Tests for `mimic simulate` as a user runs it: the real binary (MIMIC_BIN) on the tiny reference
 * model from ../shared (skipped when absent), lines on stdin, checking that a mention is answered
 * as a reply, admin commands work for the simulated admin and are refused (audited) for others, and
 * /quit ends the session; and that it tells the truth about its settings: !status names each
 * value's true source (a default is "default", a flag's value "command line"), and !setrate on the
 * in-memory database does not promise to survive a restart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

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

TEST(simulate_answers_mentions_and_runs_commands) {
  if (!*model) SKIP("tiny-qwen2-q8_0.gguf or MIMIC_BIN absent");
  char cmd[1024], out[32768];
  snprintf(cmd, sizeof cmd,
           "printf 'hi all\\nbob: hey @mimic how are you\\n!setrate 0.3\\nalice: !setrate 1\\n"
           "!status\\n/quit\\nnever read\\n' | MIMIC_LOG_LEVEL=info %s simulate --model %s -n 8 "
           "--seed 5",
           bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "(mimic is typing...)") != NULL);
  CHECK(strstr(out, "mimic (replying to #1000002, with a ping): ") != NULL);
  CHECK(strstr(out, "Response rate set to 0.3 (was 0.05)") != NULL);
  CHECK(strstr(out, "audit: user") != NULL && strstr(out, "(alice) tried !setrate") != NULL);
  CHECK(strstr(out, "bot.response_rate = 0.3 (live setting)") != NULL);
  CHECK(strstr(out, "never read") == NULL);
}

TEST(simulate_rejects_bad_options) {
  if (!bin) SKIP("MIMIC_BIN not set");
  char cmd[1024], out[4096];
  snprintf(cmd, sizeof cmd, "%s simulate --model /nonexistent/m.gguf < /dev/null", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "/nonexistent/m.gguf") != NULL);
  snprintf(cmd, sizeof cmd, "%s simulate --frobnicate 1 < /dev/null", bin);
  CHECK_INT(run(cmd, out, sizeof out), 2);
  CHECK(strstr(out, "unknown option '--frobnicate'") != NULL);
}

/* Issue 19: what simulate says about its settings. */
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
  RUN(simulate_answers_mentions_and_runs_commands);
  RUN(simulate_rejects_bad_options);
  RUN(status_and_setrate_tell_the_truth);
  TEST_MAIN_END();
}
