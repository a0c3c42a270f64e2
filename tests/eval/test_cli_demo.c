/* `mimic demo --no-chat` on the shipped sample community into a scratch folder with a training
 * budget of two steps: every step runs, the datasets, the model, the training log, the stats page
 * and the report (with its metrics table) appear, no checkpoint is left behind, the demo shows what
 * training changed and ends with the path to do it for real; re-running is harmless, a time budget
 * too short for more than one step stops training at its deadline, and a missing sample folder is a
 * clear error. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static long file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

TEST(demo_pipeline) {
  const char *bin = getenv("MIMIC_BIN"), *src = getenv("MIMIC_SRC");
  if (!bin || !src) SKIP("MIMIC_BIN / MIMIC_SRC not set");
  static char text[1 << 16];
  char cmd[2048], path[256];
  snprintf(cmd, sizeof cmd,
           "cd %s && MIMIC_CONFIG=/dev/null %s demo --dir %s/demo --no-chat --steps 2 --n 4 2>&1 "
           "</dev/null",
           tmpdir, bin, tmpdir);
  int rc = run(cmd, text, sizeof text);
  if (rc != 0) printf("%s\n", text);
  REQUIRE(rc == 0);
  CHECK(strstr(text, "[1/6] import") && strstr(text, "[2/6] prepare") &&
        strstr(text, "[3/6] train"));
  CHECK(strstr(text, "[4/6] evaluate") && strstr(text, "[6/6] chat") &&
        strstr(text, "skipped (--no-chat)"));
  CHECK(strstr(text, "trained 2 steps") != NULL);
  CHECK(strstr(text, "total: 3") != NULL); /* a first import stores the ~3,000 messages */
  CHECK(strstr(text, "What training changed") != NULL);
  CHECK(strstr(text, "held-out perplexity") != NULL);
  CHECK(strstr(text, "real:") != NULL && strstr(text, "generated:") != NULL);
  CHECK(strstr(text, "cannot hold a conversation") != NULL);
  CHECK(strstr(text, "mimic train --base") != NULL && strstr(text, "engine.adapter") != NULL);
  CHECK(strstr(text, "Qwen2.5") != NULL && strstr(text, "Llama-3.2") != NULL);
  snprintf(path, sizeof path, "%s/demo/models/scratch.gguf", tmpdir);
  CHECK(file_size(path) > 10000);
  snprintf(path, sizeof path, "%s/demo/models/scratch.gguf.ckpt", tmpdir);
  CHECK(file_size(path) < 0); /* no checkpoint litter */
  snprintf(path, sizeof path, "%s/demo/models/calibrate.gguf", tmpdir);
  CHECK(file_size(path) < 0);
  snprintf(path, sizeof path, "%s/demo/reports/stats.html", tmpdir);
  CHECK(file_size(path) > 0);
  snprintf(path, sizeof path, "%s/demo/models/train-log.csv", tmpdir);
  CHECK(file_size(path) > 0);
  snprintf(path, sizeof path, "%s/demo/reports/report.html", tmpdir);
  CHECK(file_size(path) > 0);
  FILE *f = fopen(path, "rb");
  if (f) {
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
    CHECK(strstr(text, "<table class=\"metrics\">") != NULL);
    CHECK(strstr(text, "<polyline") != NULL); /* the loss curve from the training log */
  }
  snprintf(path, sizeof path, "%s/demo/reports/blind-key.csv", tmpdir);
  CHECK(file_size(path) > 0);
  snprintf(path, sizeof path, "%s/demo/exports/sft-messages.train.jsonl", tmpdir);
  CHECK(file_size(path) > 100000);
  snprintf(path, sizeof path, "%s/demo/exports/sft-messages.valid.jsonl", tmpdir);
  CHECK(file_size(path) > 1000);
  /* again, with a budget of 0.6 s (import and prepare alone take longer): the import adds nothing,
   * training stops at its deadline after its first step, and the steps still pass */
  snprintf(cmd, sizeof cmd,
           "cd %s && MIMIC_CONFIG=/dev/null %s demo --dir %s/demo --no-chat --minutes 0.01 --n 2 "
           "2>&1 </dev/null",
           tmpdir, bin, tmpdir);
  rc = run(cmd, text, sizeof text);
  CHECK_INT(rc, 0);
  CHECK(strstr(text, "total: 0 new messages") != NULL);
  CHECK(strstr(text, "stopped at the time limit after step 1") != NULL);
  snprintf(path, sizeof path, "%s/demo/models/scratch.gguf.ckpt", tmpdir);
  CHECK(file_size(path) < 0);
  snprintf(cmd, sizeof cmd,
           "MIMIC_CONFIG=/dev/null %s demo --dir %s/d2 --sample %s/nowhere --no-chat 2>&1", bin,
           tmpdir, tmpdir);
  CHECK_INT(run(cmd, text, sizeof text), 2);
  CHECK(strstr(text, "nowhere: the sample community was not found") != NULL);
}

int main(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/mimic_demo_XXXXXX");
  if (!mkdtemp(tmpdir)) return 1;
  RUN(demo_pipeline);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
