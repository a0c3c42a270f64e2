/* Tests for `mimic chat`, `mimic generate` and `mimic bench` as a user runs them: the real binary
 * (MIMIC_BIN) on the tiny reference model from ../shared (skipped when absent), input on stdin,
 * checking exit codes, the streamed text and the statistics lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

static char model[512];
static const char *bin;

/* Runs a shell command line built by the test from fixed paths, capturing stdout+stderr into out
 * (NUL-terminated; stderr too unless the command redirects it); returns the exit status. */
static int run(const char *cmd, char *out, size_t cap) {
  char full[2048];
  snprintf(full, sizeof full, "%s%s", cmd, strstr(cmd, "2>") ? "" : " 2>&1");
  FILE *p = popen(full, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

TEST(chat_streams_replies_and_reports_speed) {
  if (!*model) SKIP("tiny-qwen2-f32.gguf or MIMIC_BIN absent");
  char cmd[1024], out[16384];
  snprintf(cmd, sizeof cmd,
           "printf 'hello there\\n/reset\\nwhat is up\\n' | %s chat --model %s -n 8 --seed 3", bin,
           model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  /* Two replies, each followed by its statistics line. */
  size_t stats = 0;
  for (const char *p = out; (p = strstr(p, "tokens/s; prompt")); p++) stats++;
  CHECK_INT(stats, 2);
  CHECK(strstr(out, "(conversation forgotten)") != NULL);
  CHECK(strstr(out, "(0 cached)") != NULL);
}

TEST(generate_is_reproducible_with_a_seed) {
  if (!*model) SKIP("tiny-qwen2-f32.gguf or MIMIC_BIN absent");
  char cmd[1024], a[8192], b[8192];
  snprintf(cmd, sizeof cmd,
           "%s generate --model %s -p 'say something' -n 12 --seed 7 --temp 0.9 2>/dev/null", bin,
           model);
  CHECK_INT(run(cmd, a, sizeof a), 0);
  CHECK_INT(run(cmd, b, sizeof b), 0);
  CHECK(strlen(a) > 1);
  CHECK_STR(a, b);
}

TEST(bench_json_has_both_speeds) {
  if (!*model) SKIP("tiny-qwen2-f32.gguf or MIMIC_BIN absent");
  char cmd[1024], out[4096];
  snprintf(cmd, sizeof cmd,
           "%s bench --model %s --prompt-tokens 16 -n 4 --reps 1 --threads 1 --json 2>/dev/null",
           bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  json_t *j = jv_parse(out, strlen(out), "bench output");
  REQUIRE(j);
  CHECK(jv_num(j, "pp_tokens_per_s", 0) > 0);
  CHECK(jv_num(j, "tg_tokens_per_s", 0) > 0);
  CHECK_INT(jv_int(j, "n_prompt", 0), 16);
  CHECK_INT(jv_int(j, "threads", 0), 1);
  json_decref(j);
}

/* llama-bench's tg (an empty cache), the bandwidth bound, and the profile on stderr. */
TEST(bench_depth_bandwidth_profile) {
  if (!*model) SKIP("tiny-qwen2-f32.gguf or MIMIC_BIN absent");
  char cmd[1024], out[8192];
  snprintf(cmd, sizeof cmd,
           "%s bench --model %s --prompt-tokens 16 -n 4 --reps 1 --threads 2 --gen-depth 0 "
           "--bandwidth --json 2>/dev/null",
           bin, model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  json_t *j = jv_parse(out, strlen(out), "bench output");
  REQUIRE(j);
  CHECK_INT(jv_int(j, "gen_depth", -1), 0);
  CHECK(jv_num(j, "read_gb_per_s", 0) > 0);
  CHECK(jv_num(j, "tg_bound_tokens_per_s", 0) > 0);
  json_decref(j);
  snprintf(cmd, sizeof cmd,
           "%s bench --model %s --prompt-tokens 16 -n 2 --reps 1 --threads 1 --profile 2>&1", bin,
           model);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "profile pp:") != NULL);
  CHECK(strstr(out, "profile tg:") != NULL);
  CHECK(strstr(out, "matmul F32") != NULL);
  CHECK(strstr(out, "attention") != NULL);
  CHECK(strstr(out, "at depth 16") != NULL);
}

TEST(bad_arguments_and_missing_files_are_clear) {
  if (!bin) SKIP("MIMIC_BIN not set");
  char cmd[1024], out[4096];
  snprintf(cmd, sizeof cmd, "%s chat --model /nonexistent/m.gguf < /dev/null", bin);
  CHECK_INT(run(cmd, out, sizeof out), 1);
  CHECK(strstr(out, "/nonexistent/m.gguf") != NULL);
  snprintf(cmd, sizeof cmd, "%s bench --model x.gguf --reps zero", bin);
  CHECK_INT(run(cmd, out, sizeof out), 2);
  CHECK(strstr(out, "--reps") != NULL);
  snprintf(cmd, sizeof cmd, "%s generate --backend carrier-pigeon -p hi", bin);
  CHECK_INT(run(cmd, out, sizeof out), 2);
  CHECK(strstr(out, "local or openai") != NULL);
  /* Nothing listens on port 1: the failed turn is reported and the chat ends normally. */
  snprintf(cmd, sizeof cmd,
           "printf 'hi\\n' | %s chat --backend openai --url http://127.0.0.1:1/v1 -n 4", bin);
  CHECK_INT(run(cmd, out, sizeof out), 0);
  CHECK(strstr(out, "is the server running") != NULL);
}

int main(void) {
  bin = getenv("MIMIC_BIN");
  if (!bin || !test_shared_path("testdata/llm/tiny-qwen2-f32.gguf", model, sizeof model))
    model[0] = 0;
  RUN(chat_streams_replies_and_reports_speed);
  RUN(generate_is_reproducible_with_a_seed);
  RUN(bench_json_has_both_speeds);
  RUN(bench_depth_bandwidth_profile);
  RUN(bad_arguments_and_missing_files_are_clear);
  TEST_MAIN_END();
}
