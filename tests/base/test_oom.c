/* Allocation-failure tests for base: the test_oom_loop helper itself, and base's parsers (JSON,
 * with Jansson's allocations routed through mem_* so they fail too; config files) and growing
 * buffer under every failure point. */
#include <unistd.h>

#include "base/base.h"
#include "test.h"

/* ---- the helper ---- */

static int three_allocs(void *ctx) {
  int *runs = ctx;
  (*runs)++;
  void *a = mem_alloc(8), *b = NULL, *c = NULL;
  int rc = MIMIC_ENOMEM;
  if (!a || !(b = mem_alloc(8)) || !(c = mem_alloc(8))) goto out;
  rc = 0;
out:
  mem_free(a);
  mem_free(b);
  mem_free(c);
  return rc;
}

static int copes(void *ctx) { /* swallows a failure and carries on: allowed */
  (void)ctx;
  mem_free(mem_alloc(8));
  void *p = mem_alloc(8);
  mem_free(p);
  return 0;
}

static int positive(void *ctx) {
  (void)ctx;
  void *p = mem_alloc(8);
  mem_free(p);
  return p ? 0 : 1;
}

static int fails_anyway(void *ctx) {
  (void)ctx;
  mem_free(mem_alloc(8));
  return MIMIC_EINVAL;
}

TEST(oom_loop_walks_every_allocation) {
  int runs = 0;
  CHECK_INT(test_oom_loop("three", three_allocs, &runs, 100), 3);
  CHECK_INT(runs, 4); /* failing the 1st, 2nd, 3rd, then a clean run */
  CHECK_INT(test_oom_loop("copes", copes, NULL, 100), 2);
  CHECK_INT(test_oom_loop("positive", positive, NULL, 100), -1);
  CHECK_INT(test_oom_loop("fails_anyway", fails_anyway, NULL, 100), -1);
  CHECK_INT(test_oom_loop("three", three_allocs, &runs, 1), -1); /* max_runs reached */
  void *p = mem_alloc(1); /* injection is off again afterwards */
  CHECK(p != NULL);
  mem_free(p);
}

/* ---- JSON ---- */

static int parse_json(void *ctx) {
  const char *text = ctx;
  json_t *v = jv_parse(text, strlen(text), "doc");
  if (!v) return MIMIC_EFORMAT; /* jv_parse reports out-of-memory as a parse error */
  int rc = 0;
  if (jv_snowflake(v, "id") != 1100000000000000001ull || strcmp(jv_str(v, "s", ""), "caf\xc3\xa9"))
    rc = MIMIC_EINVAL;
  char *dump = jv_dump_compact(v);
  if (!dump) rc = MIMIC_ENOMEM;
  free(dump);
  json_decref(v);
  return rc;
}

TEST(json_parse_under_oom) {
  const char *doc = "{\"id\":\"1100000000000000001\",\"s\":\"caf\\u00e9\",\"a\":[1,2.5,true,null,"
                    "{\"k\":[\"x\",\"y\"]}],\"n\":-3}";
  CHECK_OOM(parse_json, (void *)doc);
  /* Malformed input stays an error (not a success) whatever fails first. */
  const char *bad = "{\"id\":\"1\",\"a\":[1,2,";
  CHECK(parse_json((void *)bad) < 0);
}

/* ---- buf ---- */

static int grow_buf(void *ctx) {
  (void)ctx;
  buf b;
  buf_init(&b, 1 << 20);
  int rc = 0;
  for (int i = 0; i < 200 && !rc; i++) rc = buf_printf(&b, "line %d of some text\n", i);
  if (!rc && b.len < 200 * 18) rc = MIMIC_EINVAL;
  buf_free(&b);
  return rc;
}

TEST(buf_under_oom) { CHECK_OOM(grow_buf, NULL); }

/* ---- config files ---- */

static int load_config(void *ctx) {
  cfg *c = cfg_new();
  int rc = cfg_load_file(c, ctx);
  if (!rc && cfg_int(c, CFG_ENGINE_THREADS) != 3) rc = MIMIC_EINVAL;
  cfg_destroy(c);
  return rc;
}

TEST(config_under_oom) {
  char path[] = "/tmp/mimic-test-oom-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  const char *text = "# a comment\n[engine]\nthreads = 3\n";
  REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
  close(fd);
  /* Config allocates through x* (out-of-memory there aborts by design), so the loop may meet no
   * failure point; what it checks is that the load is clean and complete. */
  CHECK(test_oom_loop("load_config", load_config, path, 1000) >= 0);
  unlink(path);
}

int main(void) {
  json_set_alloc_funcs(mem_alloc, mem_free); /* Jansson's allocations fail under injection too */
  RUN(oom_loop_walks_every_allocation);
  RUN(json_parse_under_oom);
  RUN(buf_under_oom);
  RUN(config_under_oom);
  TEST_MAIN_END();
}
