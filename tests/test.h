/* A tiny test harness: each test file is one executable (one ctest test, its own process); TEST()
 * functions are run by RUN() from main and failures print both operands. TEST_MAIN_END() prints
 * "N passed, N failed" and returns the exit status. */
#ifndef MIMIC_TEST_H
#define MIMIC_TEST_H
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

static int test_failed_checks;
static int test_passed, test_failed, test_skipped;
static int test_skip_flag;

#define TEST(name) static void name(void)

#define RUN(name)                                                                                  \
  do {                                                                                             \
    int before_ = test_failed_checks;                                                              \
    test_skip_flag = 0;                                                                            \
    name();                                                                                        \
    if (test_skip_flag) {                                                                          \
      test_skipped++;                                                                              \
      printf("skip %s\n", #name);                                                                  \
    } else if (test_failed_checks == before_) {                                                    \
      test_passed++;                                                                               \
      printf("ok   %s\n", #name);                                                                  \
    } else {                                                                                       \
      test_failed++;                                                                               \
      printf("FAIL %s\n", #name);                                                                  \
    }                                                                                              \
    fflush(stdout);                                                                                \
  } while (0)

/* Marks the current test skipped (e.g. ../shared absent) and returns from it. */
#define SKIP(why)                                                                                  \
  do {                                                                                             \
    printf("     skipped: %s\n", why);                                                             \
    test_skip_flag = 1;                                                                            \
    return;                                                                                        \
  } while (0)

#define TEST_FAIL_(fmt, ...)                                                                       \
  do {                                                                                             \
    test_failed_checks++;                                                                          \
    fprintf(stdout, "  %s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);                        \
  } while (0)

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) TEST_FAIL_("CHECK(%s) failed", #cond);                                            \
  } while (0)

/* Checks and returns from the test on failure (for preconditions that later checks rely on). */
#define REQUIRE(cond)                                                                              \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      TEST_FAIL_("REQUIRE(%s) failed", #cond);                                                     \
      return;                                                                                      \
    }                                                                                              \
  } while (0)

#define CHECK_INT(a, b)                                                                            \
  do {                                                                                             \
    long long a_ = (long long)(a), b_ = (long long)(b);                                            \
    if (a_ != b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);                            \
  } while (0)

#define CHECK_OK(expr)                                                                             \
  do {                                                                                             \
    int rc_ = (expr);                                                                              \
    if (rc_ != 0) TEST_FAIL_("%s returned %d: %s", #expr, rc_, err_msg());                         \
  } while (0)

#define CHECK_STR(a, b)                                                                            \
  do {                                                                                             \
    const char *a_ = (a), *b_ = (b);                                                               \
    if (!a_ || !b_ || strcmp(a_, b_) != 0)                                                         \
      TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");    \
  } while (0)

#define CHECK_NEAR(a, b, tol)                                                                      \
  do {                                                                                             \
    double a_ = (double)(a), b_ = (double)(b);                                                     \
    if (!(fabs(a_ - b_) <= (tol)))                                                                 \
      TEST_FAIL_("%s ~= %s: %g vs %g (tol %g)", #a, #b, a_, b_, (double)(tol));                    \
  } while (0)

#define TEST_MAIN_END()                                                                            \
  do {                                                                                             \
    printf("%d passed, %d failed, %d skipped\n", test_passed, test_failed, test_skipped);          \
    return test_failed ? 1 : 0;                                                                    \
  } while (0)

/* ---- allocation-failure testing (SQLite's habit) --------------------------------------------
 * test_oom_loop runs body(ctx) with the allocation n (counted from the start of the run, through
 * mem_*: base/alloc.h) and every one after it failing, for n = 0, 1, 2, ... until a run makes no
 * more than n allocations, i.e. completes untouched by the injection. Every run that met a failure
 * must return 0 (it coped) or a negative error code (it failed cleanly); the leak and memory
 * checks are the sanitizers' (ASan reports a leak from any run at exit). The body owns its cleanup
 * in both cases. Returns the number of runs that met a failure (the allocation points covered),
 * or -1 after printing the first n whose run broke the contract, or when more than max_runs runs
 * were needed. test_oom_loop_every tries only every every-th failure point (n = 0, every, 2 every,
 * ...), for bodies with thousands of allocations (SQLite's, routed through mem_*) where walking
 * each one would take minutes. Call it from the main thread with no other threads allocating. */
typedef int (*test_oom_fn)(void *ctx);

static inline long test_oom_loop_every(const char *name, test_oom_fn body, void *ctx, long max_runs,
                                       long every) {
  long runs = 0;
  for (long n = 0; runs <= max_runs; n += every) {
    long start = mem_count();
    mem_fail_after(start + n);
    int rc = body(ctx);
    mem_fail_after(-1);
    long made = mem_count() - start;
    if (rc > 0) {
      printf("  %s: with allocation %ld failing it returned %d (not an error code)\n", name, n, rc);
      return -1;
    }
    if (made <= n) {
      if (rc != 0) {
        printf("  %s: failed with %d although no allocation failed (n = %ld)\n", name, rc, n);
        return -1;
      }
      return runs; /* this run ran clean */
    }
    runs++;
  }
  printf("  %s: still allocating after %ld failure runs\n", name, max_runs);
  return -1;
}

static inline long test_oom_loop(const char *name, test_oom_fn body, void *ctx, long max_runs) {
  return test_oom_loop_every(name, body, ctx, max_runs, 1);
}

/* Runs body(ctx) under test_oom_loop and checks it kept the contract at every failure point and
 * met at least one (a body that allocates nothing through mem_* tests nothing). */
#define CHECK_OOM(body, ctx)                                                                       \
  do {                                                                                             \
    long runs_ = test_oom_loop(#body, body, ctx, 100000);                                          \
    if (runs_ <= 0) TEST_FAIL_("CHECK_OOM(%s): %ld failure runs", #body, runs_);                   \
  } while (0)

/* Path inside ../shared (set by ctest as MIMIC_SHARED), or NULL when it is absent. */
static inline const char *test_shared_path(const char *rel, char *out, size_t cap) {
  const char *root = getenv("MIMIC_SHARED");
  if (!root) root = "../shared";
  snprintf(out, cap, "%s/%s", root, rel);
  FILE *f = fopen(out, "rb");
  if (!f) return NULL;
  fclose(f);
  return out;
}

#endif
