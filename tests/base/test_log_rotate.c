/* Tests for the log file (log.h): rotation at midnight UTC and past the size cap, retention of the
 * rotated files, a file from an earlier day rotated at open, another process's rotation respected,
 * and user ids written as salted hashes (SipHash-2-4 checked against its reference vector). The
 * clock is the test's (log_set_clock); nothing sleeps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "test.h"

#define DAY 86400000LL

static char dir[64], live[128];
static int64_t now_ms;
static int64_t fake_now(void) { return now_ms; }

/* 2026-12-07T00:00:00Z as a day number times DAY. */
static const int64_t D0 = 20794LL * DAY;

static int lines_in(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  int n = 0, ch;
  while ((ch = fgetc(f)) != EOF)
    if (ch == '\n') n++;
  fclose(f);
  return n;
}

static char *rotated(const char *day, const char *suffix) {
  static char p[192];
  snprintf(p, sizeof p, "%s.%s%s", live, day, suffix);
  return p;
}

static void fresh(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  CHECK_INT(system(cmd), 0);
  log_reset();
  log_set_level(LOG_INFO);
  log_set_clock(fake_now);
}

TEST(rotates_at_midnight_and_past_the_size) {
  fresh();
  now_ms = D0 + 10 * 3600000LL;
  log_file_opts o = {.path = live, .max_bytes = 0, .retention_days = 30};
  CHECK_OK(log_file_open(&o));
  LOG_I("test", "first line of the day");
  LOG_I("test", "second line of the day");
  struct stat st;
  REQUIRE(stat(live, &st) == 0);
  CHECK_INT(st.st_mode & 0777, 0600);
  REQUIRE(stat(dir, &st) == 0);
  CHECK_INT(st.st_mode & 0777, 0700);
  CHECK_INT(lines_in(live), 2);
  now_ms = D0 + DAY + 1000; /* just past midnight */
  LOG_I("test", "next day");
  CHECK_INT(lines_in(rotated("2026-12-07", "")), 2);
  CHECK_INT(lines_in(live), 1);
  /* the size cap: each line is about 60 bytes, the cap 200 */
  log_file_close();
  o.max_bytes = 200;
  CHECK_OK(log_file_open(&o));
  for (int i = 0; i < 9; i++) LOG_I("test", "line %d of a busy day", i);
  CHECK(access(rotated("2026-12-08", ""), F_OK) == 0);
  CHECK(access(rotated("2026-12-08", ".1"), F_OK) == 0);
  int total =
      lines_in(live) + lines_in(rotated("2026-12-08", "")) + lines_in(rotated("2026-12-08", ".1")) +
      (access(rotated("2026-12-08", ".2"), F_OK) == 0 ? lines_in(rotated("2026-12-08", ".2")) : 0);
  CHECK_INT(total, 10); /* nothing lost */
  REQUIRE(stat(rotated("2026-12-08", ".1"), &st) == 0);
  CHECK(st.st_size <= 200);
  log_reset();
}

TEST(retention_deletes_only_old_rotated_files) {
  fresh();
  CHECK_OK(fs_mkdirs(dir));
  const char *names[] = {"2026-10-28", "2026-11-06", "2026-11-07", "2026-12-02"};
  for (int i = 0; i < 4; i++)
    CHECK_OK(fs_write_atomic(rotated(names[i], i == 3 ? ".1" : ""), "x\n", 2));
  char other[192], odd[192];
  snprintf(other, sizeof other, "%s/other.log.2020-01-01", dir);
  snprintf(odd, sizeof odd, "%s.notadate-at-all", live);
  CHECK_OK(fs_write_atomic(other, "x\n", 2));
  CHECK_OK(fs_write_atomic(odd, "x\n", 2));
  now_ms = D0 + 3600000LL; /* 2026-12-07: 30 days back is 2026-11-07 */
  log_file_opts o = {.path = live, .max_bytes = 0, .retention_days = 30};
  CHECK_OK(log_file_open(&o));
  CHECK(access(rotated("2026-10-28", ""), F_OK) != 0);
  CHECK(access(rotated("2026-11-06", ""), F_OK) != 0);
  CHECK(access(rotated("2026-11-07", ""), F_OK) == 0);
  CHECK(access(rotated("2026-12-02", ".1"), F_OK) == 0);
  CHECK(access(other, F_OK) == 0);
  CHECK(access(odd, F_OK) == 0);
  /* a day later, at the midnight rotation, 2026-11-07 goes too */
  now_ms += DAY;
  LOG_I("test", "a line");
  CHECK(access(rotated("2026-11-07", ""), F_OK) != 0);
  /* 100 days on: the 12-02 file and the one the midnight rotation made */
  CHECK_INT(log_file_prune(live, 30, now_ms + 100 * DAY), 2);
  log_reset();
}

TEST(an_old_file_is_rotated_at_open_and_another_rotation_respected) {
  fresh();
  CHECK_OK(fs_mkdirs(dir));
  /* a file whose last line is from 2026-12-07 (its timestamp says so, whatever its mtime) */
  const char old[] =
      "2026-12-06T23:00:00.000Z INFO  test: x\n2026-12-07T10:00:00.000Z INFO  test: y\n";
  CHECK_OK(fs_write_atomic(live, old, sizeof old - 1));
  now_ms = D0 + 2 * DAY;
  const char *today = "2026-12-07";
  log_file_opts o = {.path = live, .max_bytes = 100, .retention_days = 0};
  CHECK_OK(log_file_open(&o));
  CHECK_INT(lines_in(rotated(today, "")), 2);
  LOG_I("test", "first");
  CHECK_INT(lines_in(live), 1);
  /* another process moves the live file away; we write past the cap and must not move the new
   * file that process made, only reopen */
  char moved[192];
  snprintf(moved, sizeof moved, "%s/moved-by-another.log", dir);
  REQUIRE(rename(live, moved) == 0);
  CHECK_OK(fs_write_atomic(live, "the other process's line\n", 25));
  LOG_I("test", "a line long enough to pass the cap of one hundred bytes, surely by now");
  CHECK_INT(lines_in(moved), 1);
  CHECK_INT(lines_in(live), 2);
  log_reset();
}

static char seen[1024];
static void sink(log_level lv, const char *line, void *user) {
  (void)lv;
  (void)user;
  str_lcpy(seen, line, sizeof seen);
}

TEST(user_ids_are_hashed_with_the_install_salt) {
  fresh();
  now_ms = D0;
  log_set_sink(sink, NULL);
  LOG_I("audit", "user 123456789012345678 set bot.response_rate");
  CHECK(strstr(seen, "user 123456789012345678 set") != NULL); /* off by default */
  uint8_t key[16];
  for (int i = 0; i < 16; i++) key[i] = (uint8_t)i;
  log_set_user_key(key);
  /* SipHash-2-4's reference vector: key 00..0f, message 00..07 -> 0x93f5f5799a932462 */
  char tag[24];
  log_user_tag(0x0706050403020100ull, tag);
  CHECK_STR(tag, "u-f5799a932462");
  log_user_tag(123456789012345678ull, tag);
  LOG_I("audit", "user 123456789012345678 excluded user 876543210987654321 in channel "
                 "111111111111111111");
  char want[128];
  snprintf(want, sizeof want, "user %s excluded user u-", tag);
  CHECK(strstr(seen, want) != NULL);
  CHECK(strstr(seen, "123456789012345678") == NULL);
  CHECK(strstr(seen, "876543210987654321") == NULL);
  CHECK(strstr(seen, "channel 111111111111111111") != NULL); /* not a user id */
  LOG_I("bot",
        "command from 123456789012345678, mention <@123456789012345678> and <@!22222222222222222>, "
        "user 42, users: 123456789012345678, author_id=123456789012345678");
  CHECK(strstr(seen, "123456789012345678") == NULL);
  CHECK(strstr(seen, "22222222222222222") == NULL);
  CHECK(strstr(seen, "user 42,") != NULL);
  snprintf(want, sizeof want, "author_id=%s", tag);
  CHECK(strstr(seen, want) != NULL);
  /* the salt file: made once (0600, 16 bytes), the same tags after loading it again */
  char salt[128];
  snprintf(salt, sizeof salt, "%s/log.salt", dir);
  CHECK_OK(log_user_key_load(salt));
  struct stat st;
  REQUIRE(stat(salt, &st) == 0);
  CHECK_INT(st.st_mode & 0777, 0600);
  CHECK_INT(st.st_size, 16);
  char a[24], b[24];
  log_user_tag(123456789012345678ull, a);
  CHECK(strcmp(a, tag) != 0); /* a new random salt */
  log_set_user_key(NULL);
  log_user_tag(123456789012345678ull, b);
  CHECK_STR(b, "123456789012345678");
  CHECK_OK(log_user_key_load(salt));
  log_user_tag(123456789012345678ull, b);
  CHECK_STR(b, a);
  /* a damaged salt is an error, never a silent fallback to clear ids */
  CHECK_OK(fs_write_atomic(salt, "short", 5));
  CHECK_INT(log_user_key_load(salt), MIMIC_EIO);
  log_reset();
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/mimic_logrot_%d/logs", (int)getpid());
  snprintf(live, sizeof live, "%s/mimic.log", dir);
  RUN(rotates_at_midnight_and_past_the_size);
  RUN(retention_deletes_only_old_rotated_files);
  RUN(an_old_file_is_rotated_at_open_and_another_rotation_respected);
  RUN(user_ids_are_hashed_with_the_install_salt);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf /tmp/mimic_logrot_%d", (int)getpid());
  if (system(cmd) != 0) return 1;
  TEST_MAIN_END();
}
