/* Tests for the one arena (base/arena.h): its contract of blocks, alignment, zeroing, cap, sticky
 * errors, reset and free, and its behaviour under every allocation failure. */
#include <stdint.h>

#include "base/arena.h"
#include "base/base.h"
#include "test.h"

TEST(aligned_zeroed_and_distinct) {
  arena a;
  arena_init(&a, "test", 64, 0);
  char *prev = NULL;
  for (size_t n = 0; n < 200; n += 7) {
    unsigned char *p = arena_alloc(&a, n);
    REQUIRE(p);
    CHECK((uintptr_t)p % ARENA_ALIGN == 0);
    for (size_t i = 0; i < n; i++) CHECK(p[i] == 0);
    memset(p, 0xAB, n);
    CHECK((char *)p != prev);
    prev = (char *)p;
  }
  CHECK(a.err == 0);
  arena_free(&a);
  CHECK(a.head == NULL && a.total == 0 && a.block_min == 64);
}

TEST(strings) {
  arena a;
  arena_init(&a, "test", 0, 0);
  CHECK_STR(arena_strdup(&a, "hello"), "hello");
  CHECK_STR(arena_strdup(&a, NULL), "");
  CHECK_STR(arena_strndup(&a, "hello", 3), "hel");
  CHECK_STR(arena_strndup(&a, "hi", 10), "hi");
  arena_free(&a);
}

TEST(cap_is_sticky_and_reset_clears_it) {
  arena a;
  arena_init(&a, "widget", 1024, 4096);
  for (int i = 0; i < 4; i++) CHECK(arena_alloc(&a, 1000) != NULL);
  CHECK(a.total <= 4096);
  CHECK(arena_alloc(&a, 1000) == NULL);
  CHECK_INT(a.err, MIMIC_ERANGE);
  CHECK(strstr(err_msg(), "widget larger than the 4096-byte cap") != NULL);
  CHECK(arena_alloc(&a, 1) == NULL); /* sticky: a parser checks err once at the end */
  CHECK(arena_alloc(&a, 100000) == NULL);
  arena_reset(&a);
  CHECK_INT(a.err, 0);
  CHECK(a.total == 1024); /* the newest block is kept */
  long before = mem_count();
  CHECK(arena_alloc(&a, 500) != NULL);
  CHECK_INT(mem_count(), before); /* served from the kept block */
  arena_free(&a);
  arena_init(&a, "widget", 16, 100);
  CHECK(arena_alloc(&a, 200) == NULL); /* a single request over the cap */
  CHECK(arena_alloc(&a, SIZE_MAX) == NULL);
  arena_free(&a);
}

static int fill(void *ctx) {
  (void)ctx;
  arena *a = arena_new("oom", 32, 0);
  if (!a) return MIMIC_ENOMEM;
  for (int i = 0; i < 20; i++) {
    char *s = arena_strdup(a, "some text to copy");
    if (!s) break;
  }
  int rc = a->err;
  if (!rc && strcmp(arena_strdup(a, "x") ? "x" : "", "x") != 0) rc = MIMIC_EINVAL;
  arena_destroy(a);
  return rc;
}

TEST(every_allocation_failure_is_clean) {
  CHECK_OOM(fill, NULL);
  arena_destroy(NULL);
  arena_free(NULL);
}

int main(void) {
  RUN(aligned_zeroed_and_distinct);
  RUN(strings);
  RUN(cap_is_sticky_and_reset_clears_it);
  RUN(every_allocation_failure_is_clean);
  TEST_MAIN_END();
}
