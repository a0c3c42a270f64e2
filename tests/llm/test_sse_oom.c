/* Allocation-failure test for the OpenAI-compatible backend's stream parser (llm__openai_parse):
 * every SSE sample of the fuzz corpus, read in small chunks, with Jansson routed through mem_*,
 * under every failure point. A failed run must return an error code and leak nothing. */
#include <dirent.h>

#include "base/base.h"
#include "llm/backend_impl.h"
#include "test.h"

typedef struct sample {
  buf body;
  int expected; /* what the sample gives untouched: 0, or the error of an error event */
} sample;

static const char *const stops[] = {"STOP", "\n\n\n"};

static int parse_raw(const sample *s) {
  const unsigned char mode = (unsigned char)s->body.data[0];
  bool chat = mode & 1, json = mode & 2;
  size_t chunk = 1 + (mode >> 2);
  buf text;
  buf_init(&text, 1u << 24);
  llm_finish fin = LLM_FINISH_EOG;
  int rc = llm__openai_parse(s->body.data + 1, s->body.len - 1, chunk, chat, json, stops, 2, &text,
                             &fin);
  buf_free(&text);
  return rc;
}

/* A sample that fails as it is (an error event) counts as clean when it fails the same way. */
static int parse(void *ctx) {
  const sample *s = ctx;
  int rc = parse_raw(s);
  return rc == s->expected ? 0 : rc ? rc : MIMIC_EINVAL;
}

TEST(corpus_under_oom) {
  const char *src = getenv("MIMIC_SRC");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/tests/fuzz/corpus/sse", src ? src : "..");
  DIR *d = opendir(dir);
  if (!d) SKIP("fuzz corpus not found (MIMIC_SRC)");
  struct dirent *e;
  int files = 0;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    sample s;
    buf_init(&s.body, 0);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    char chunk[4096];
    size_t k;
    int rc = 0;
    while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) rc = buf_append(&s.body, chunk, k);
    fclose(f);
    if (!rc && s.body.len > 1) {
      s.expected = parse_raw(&s);
      if (test_oom_loop(e->d_name, parse, &s, 100000) <= 0)
        TEST_FAIL_("%s: allocation-failure runs broke the contract", e->d_name);
      files++;
    }
    buf_free(&s.body);
  }
  closedir(d);
  CHECK(files > 0);
}

int main(void) {
  log_set_level(LOG_ERROR); /* every failure run warns; the checks are what count */
  json_set_alloc_funcs(mem_alloc, mem_free);
  RUN(corpus_under_oom);
  TEST_MAIN_END();
}
