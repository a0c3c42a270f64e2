/* Allocation-failure tests for the GGUF reader (and the writer's save): opening a file from disk
 * and from memory and reading its keys and tensors, under every failure point. */
#include <stdlib.h>
#include <unistd.h>

#include "base/base.h"
#include "llm/gguf.h"
#include "test.h"

static char path[64];

static int write_model(void) {
  gguf_writer *w = gguf_writer_new();
  gguf_set_str(w, "general.architecture", "llama");
  gguf_set_u32(w, "llama.block_count", 2);
  const char *toks[] = {"a", "", "hello world"};
  gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3);
  float sc[] = {0.5f, -1.0f, 3.25f};
  gguf_set_arr_f32(w, "tokenizer.ggml.scores", sc, 3);
  float data[32 * 2];
  for (int i = 0; i < 64; i++) data[i] = (float)i;
  int64_t ne[2] = {32, 2};
  int rc = gguf_add_tensor(w, "w.weight", TT_F32, 2, ne, data);
  if (!rc) rc = gguf_writer_save(w, path);
  gguf_writer_destroy(w);
  return rc;
}

static int check_file(gguf_file *f) {
  char *arch = gguf_get_str_dup(f, "general.architecture");
  int rc = arch && strcmp(arch, "llama") == 0 ? 0 : arch ? MIMIC_EINVAL : MIMIC_ENOMEM;
  mem_free(arch);
  uint32_t n = 0;
  if (!rc) rc = gguf_get_u32(f, "llama.block_count", &n);
  if (!rc && n != 2) rc = MIMIC_EINVAL;
  gguf_str s = gguf_arr_str(f, "tokenizer.ggml.tokens", 2);
  if (!rc && (s.len != 11 || memcmp(s.ptr, "hello world", 11))) rc = MIMIC_EINVAL;
  const gguf_tensor *t = gguf_tensor_find(f, "w.weight");
  if (!rc && (!t || t->ne[1] != 2 || ((const float *)t->data)[63] != 63.0f)) rc = MIMIC_EINVAL;
  return rc;
}

static int open_path(void *ctx) {
  (void)ctx;
  gguf_file *f = NULL;
  int rc = gguf_open(path, &f);
  if (rc) return f ? MIMIC_EINVAL : rc;
  rc = check_file(f);
  gguf_close(f);
  return rc;
}

static int open_memory(void *ctx) {
  const buf *b = ctx;
  gguf_file *f = NULL;
  int rc = gguf_open_memory(b->data, b->len, "m.gguf", &f);
  if (rc) return f ? MIMIC_EINVAL : rc;
  rc = check_file(f);
  gguf_close(f);
  return rc;
}

static int save(void *ctx) {
  (void)ctx;
  int rc = write_model();
  char tmp[96];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  if (access(tmp, F_OK) == 0) return MIMIC_EINVAL; /* a failed save leaves no temporary behind */
  return rc;
}

TEST(reader_under_oom) {
  REQUIRE(write_model() == 0);
  CHECK_OOM(open_path, NULL);
  buf b;
  buf_init(&b, 0);
  FILE *fp = fopen(path, "rb");
  REQUIRE(fp);
  char chunk[4096];
  size_t n;
  int rc = 0;
  while (!rc && (n = fread(chunk, 1, sizeof chunk, fp)) > 0) rc = buf_append(&b, chunk, n);
  fclose(fp);
  REQUIRE(rc == 0);
  CHECK_OOM(open_memory, &b);
  buf_free(&b);
}

TEST(writer_save_under_oom) { CHECK(test_oom_loop("save", save, NULL, 100000) >= 0); }

int main(void) {
  log_set_level(LOG_ERROR); /* every failure run warns; the checks are what count */
  snprintf(path, sizeof path, "/tmp/mimic-gguf-oom-%d.gguf", (int)getpid());
  RUN(reader_under_oom);
  RUN(writer_save_under_oom);
  unlink(path);
  TEST_MAIN_END();
}
