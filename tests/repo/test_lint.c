/* Tests for scripts/lint.sh, the check that enforces the layer graph, internal headers, banned
 * calls and formatting: each case lays out a small tree with one deliberate mistake and checks that
 * the lint fails and names the file and the rule; a clean tree passes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

static char root[64];
static const char *src_dir;

static void put(const char *rel, const char *text) {
  char p[512];
  snprintf(p, sizeof p, "%s/%s", root, rel);
  if (fs_mkdirs_for(p) != 0) return;
  FILE *f = fopen(p, "w");
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* Runs the lint on the scratch tree; returns its exit status and its output in out. */
static int lint(char *out, size_t cap) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "bash %s/scripts/lint.sh %s 2>&1", src_dir, root);
  FILE *p = popen(cmd, "r");
  if (!p) return -1;
  size_t n = fread(out, 1, cap - 1, p);
  out[n] = 0;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void fresh_tree(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd) != 0) return;
  put("src/base/str.h", "int str_len(const char *s);\n");
  put("src/store/store.h", "#include \"base/str.h\"\n");
  put("src/store/store_int.h", "#include \"store/store.h\"\n");
  put("src/bot/bot.h", "#include \"store/store.h\"\n");
  put("tests/store/test_store.c", "#include \"store/store_int.h\"\n");
}

TEST(clean_tree_passes) {
  fresh_tree();
  char out[4096];
  CHECK(lint(out, sizeof out) == 0);
  CHECK(strstr(out, "lint: ok") != NULL);
}

TEST(include_reaching_up_fails) {
  fresh_tree();
  put("src/store/bad.c", "#include \"store/store.h\"\n#include \"bot/bot.h\"\n");
  char out[4096];
  CHECK(lint(out, sizeof out) == 1);
  CHECK(strstr(out, "src/store/bad.c:2: includes \"bot/bot.h\": store may not depend on bot") !=
        NULL);
}

TEST(include_sideways_fails) {
  fresh_tree();
  put("src/llm/x.c", "#include \"discord/discord.h\"\n");
  char out[4096];
  CHECK(lint(out, sizeof out) == 1);
  CHECK(strstr(out, "llm may not depend on discord") != NULL);
}

TEST(internal_header_of_another_layer_fails) {
  fresh_tree();
  put("src/bot/uses_int.c", "#include \"store/store_int.h\"\n");
  put("tests/bot/test_x.c", "#include \"store/store_int.h\"\n");
  char out[4096];
  CHECK(lint(out, sizeof out) == 1);
  CHECK(strstr(out, "src/bot/uses_int.c:1: includes \"store/store_int.h\": an internal header") !=
        NULL);
  CHECK(strstr(out, "tests/bot/test_x.c:1: includes \"store/store_int.h\": an internal header") !=
        NULL);
}

TEST(unknown_layer_fails) {
  fresh_tree();
  put("src/misc/x.c", "int x;\n");
  char out[4096];
  CHECK(lint(out, sizeof out) == 1);
  CHECK(strstr(out, "src/misc/ is not a known layer") != NULL);
}

TEST(banned_call_fails_but_not_in_a_comment) {
  fresh_tree();
  /* The banned name is split so that this file itself passes the lint. */
  put("src/base/b.c", "/* strc"
                      "py(a, b) is banned */\nvoid f(char *a) { strc"
                      "py(a, \"x\"); }\n");
  char out[4096];
  CHECK(lint(out, sizeof out) == 1);
  CHECK(strstr(out, "src/base/b.c:2:") != NULL);
  CHECK(strstr(out, "src/base/b.c:1:") == NULL);
}

TEST(unformatted_file_fails) {
  if (system("command -v clang-format >/dev/null 2>&1") != 0) SKIP("clang-format not installed");
  fresh_tree();
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "cp %s/.clang-format %s/.clang-format", src_dir, root);
  REQUIRE(system(cmd) == 0);
  put("src/base/ugly.c", "int   f( void ){return 1;}\n");
  char out[4096];
  CHECK(lint(out, sizeof out) == 1);
  CHECK(strstr(out, "src/base/ugly.c: not in .clang-format style") != NULL);
}

/* scripts/circles.sh: two files that call each other make a circle; a stack does not. */
TEST(circles_between_files_fail) {
  if (system("command -v cc >/dev/null 2>&1 && command -v nm >/dev/null 2>&1") != 0)
    SKIP("no C compiler or nm");
  fresh_tree();
  put("c/a.c", "int b(void);\nint a(void) { return b(); }\n");
  put("c/b.c", "int a(void);\nint b(void) { return a(); }\n");
  put("c/s.c", "int a(void);\nint s(void) { return a(); }\n");
  char cmd[1400], out[4096];
  snprintf(cmd, sizeof cmd,
           "cd %s/c && cc -c a.c b.c s.c && ar rc circle.a a.o b.o && ar rc stack.a a.o s.o "
           "2>&1",
           root);
  REQUIRE(system(cmd) == 0);
  snprintf(cmd, sizeof cmd, "bash %s/scripts/circles.sh %s/c/circle.a 2>&1", src_dir, root);
  FILE *p = popen(cmd, "r");
  REQUIRE(p != NULL);
  size_t n = fread(out, 1, sizeof out - 1, p);
  out[n] = 0;
  int st = pclose(p);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1);
  CHECK(strstr(out, "circle.a: circle: ") != NULL);
  CHECK(strstr(out, "a.o") != NULL && strstr(out, "b.o") != NULL);
  snprintf(cmd, sizeof cmd, "bash %s/scripts/circles.sh %s/c/stack.a >/dev/null 2>&1", src_dir,
           root);
  CHECK(system(cmd) == 0);
}

int main(void) {
  src_dir = getenv("MIMIC_SRC");
  if (!src_dir) {
    printf("MIMIC_SRC not set\n");
    return 1;
  }
  snprintf(root, sizeof root, "/tmp/mimic-lint-%d", (int)getpid());
  RUN(clean_tree_passes);
  RUN(include_reaching_up_fails);
  RUN(include_sideways_fails);
  RUN(internal_header_of_another_layer_fails);
  RUN(unknown_layer_fails);
  RUN(banned_call_fails_but_not_in_a_comment);
  RUN(unformatted_file_fails);
  RUN(circles_between_files_fail);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd) != 0) printf("could not remove %s\n", root);
  TEST_MAIN_END();
}
