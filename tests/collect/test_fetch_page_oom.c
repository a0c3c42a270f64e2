/* Allocation-failure test for the history fetcher's page parser and store step
 * (collect_fetch_store_page): a rich page (replies, mentions, attachments, embeds, reactions with
 * their users) from the fuzz corpus, with Jansson routed through mem_*, under every failure point.
 * A failed run must store nothing; the clean run stores the page. */
#include <sqlite3.h>

#include "base/base.h"
#include "collect/collect.h"
#include "store/store.h"
#include "test.h"

static buf page;

static int store_page(void *ctx) {
  (void)ctx;
  store *s = NULL;
  int rc = store_open(":memory:", &s);
  if (rc) return rc;
  bool backward = page.data[0] & 1;
  int limit = 1 + ((unsigned char)page.data[0] >> 1) % 100;
  collect_page_result r;
  rc = collect_fetch_store_page(s, 77, page.data + 1, page.len - 1, limit, backward, &r);
  int64_t n = -1;
  if (store_msg_count(s, 0, &n) == 0) {
    if (rc && n != 0) rc = MIMIC_EINVAL; /* an error committed something */
    if (!rc && n != 1) rc = MIMIC_EINVAL;
  }
  store_close(s);
  return rc;
}

TEST(rich_page_under_oom) {
  const char *src = getenv("MIMIC_SRC");
  char path[512];
  snprintf(path, sizeof path, "%s/tests/fuzz/corpus/fetch_page/rich", src ? src : "..");
  FILE *f = fopen(path, "rb");
  if (!f) SKIP("fuzz corpus not found (MIMIC_SRC)");
  buf_init(&page, 0);
  char chunk[4096];
  size_t k;
  int rc = 0;
  while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) rc = buf_append(&page, chunk, k);
  fclose(f);
  REQUIRE(rc == 0 && page.len > 1);
  CHECK_OK(store_page(NULL));
  CHECK_OOM(store_page, NULL);
  buf_free(&page);
}

int main(void) {
  log_set_level(LOG_ERROR); /* every failure run warns; the checks are what count */
  json_set_alloc_funcs(mem_alloc, mem_free);
  RUN(rich_page_under_oom);
  TEST_MAIN_END();
}
