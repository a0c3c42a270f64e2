/* Tests for the filesystem helpers: nested folders, parents of a file, atomic replacement, and
 * clear errors when a folder cannot be made. */
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

static char root[64];

static bool is_dir(const char *p) {
  struct stat st;
  return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

TEST(mkdirs_makes_every_level_and_tolerates_existing) {
  char p[256];
  snprintf(p, sizeof p, "%s/a/b/c", root);
  CHECK_OK(fs_mkdirs(p));
  CHECK(is_dir(p));
  CHECK_OK(fs_mkdirs(p)); /* again: nothing to do */
  snprintf(p, sizeof p, "%s/x/y/file.db", root);
  CHECK_OK(fs_mkdirs_for(p));
  snprintf(p, sizeof p, "%s/x/y", root);
  CHECK(is_dir(p));
  snprintf(p, sizeof p, "%s/x/y/file.db", root);
  CHECK(access(p, F_OK) != 0);              /* only the folders */
  CHECK_OK(fs_mkdirs_for("plain-name.db")); /* no folder part */
}

TEST(write_atomic_replaces_whole_file) {
  char p[256];
  snprintf(p, sizeof p, "%s/out.txt", root);
  CHECK_OK(fs_write_atomic(p, "first version", 13));
  CHECK_OK(fs_write_atomic(p, "second", 6));
  FILE *f = fopen(p, "rb");
  REQUIRE(f);
  char got[32] = {0};
  size_t n = fread(got, 1, sizeof got - 1, f);
  fclose(f);
  CHECK_INT(n, 6);
  CHECK_STR(got, "second");
}

TEST(a_file_in_the_way_is_a_clear_error) {
  char p[256];
  snprintf(p, sizeof p, "%s/blocker", root);
  CHECK_OK(fs_write_atomic(p, "x", 1));
  snprintf(p, sizeof p, "%s/blocker/sub", root);
  CHECK_INT(fs_mkdirs(p), MIMIC_EIO);
  CHECK(strstr(err_msg(), "blocker") != NULL);
  snprintf(p, sizeof p, "%s/blocker/sub/out.txt", root);
  CHECK_INT(fs_write_atomic(p, "x", 1), MIMIC_EIO);
}

TEST(read_file_whole_capped_and_named_in_errors) {
  char p[256];
  snprintf(p, sizeof p, "%s/r.txt", root);
  CHECK_OK(fs_write_atomic(p, "hello\0world", 11));
  char *d = NULL;
  size_t n = 0;
  CHECK_OK(fs_read_file(p, 0, &d, &n));
  CHECK(n == 11 && d && memcmp(d, "hello\0world", 11) == 0 && d[11] == 0);
  mem_free(d);
  CHECK_OK(fs_read_file(p, 11, &d, &n)); /* exactly the cap */
  mem_free(d);
  CHECK_INT(fs_read_file(p, 10, &d, &n), MIMIC_ERANGE);
  CHECK(d == NULL && strstr(err_msg(), "r.txt: over the 10-byte cap") != NULL);
  snprintf(p, sizeof p, "%s/empty.txt", root);
  CHECK_OK(fs_write_atomic(p, "", 0));
  CHECK_OK(fs_read_file(p, 4, &d, &n));
  CHECK(n == 0 && d && *d == 0);
  mem_free(d);
  snprintf(p, sizeof p, "%s/missing.txt", root);
  CHECK_INT(fs_read_file(p, 0, &d, &n), MIMIC_EIO);
  CHECK(d == NULL && strstr(err_msg(), "missing.txt: cannot open") != NULL);
}

int main(void) {
  snprintf(root, sizeof root, "/tmp/mimic-fs-XXXXXX");
  if (!mkdtemp(root)) return 1;
  RUN(mkdirs_makes_every_level_and_tolerates_existing);
  RUN(write_atomic_replaces_whole_file);
  RUN(a_file_in_the_way_is_a_clear_error);
  RUN(read_file_whole_capped_and_named_in_errors);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", root);
  if (system(cmd) != 0) printf("could not remove %s\n", root);
  TEST_MAIN_END();
}
