/* Cron expressions and time zones: the grammar, Vixie's day rule, and exact fire times across
 * daylight-saving changes (zones from POSIX rules, so the test does not depend on tzdata; the same
 * cases on the system's zone files when tzdata is installed). */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/cron.h"
#include "base/tz.h"
#include "test.h"

static int64_t at(const char *iso) {
  int64_t ms = 0;
  if (clock_parse_iso8601(iso, &ms)) return -1;
  return ms / 1000;
}

/* The first n fire times after `from`, joined by spaces, as "YYYY-MM-DDTHH:MM:SSZ". */
static void fires(const char *expr, const tz_zone *z, const char *from, int n, char *out,
                  size_t cap) {
  cron_expr e;
  out[0] = 0;
  if (cron_parse(expr, &e)) {
    snprintf(out, cap, "parse error: %s", err_msg());
    return;
  }
  int64_t t = at(from);
  size_t len = 0;
  for (int i = 0; i < n; i++) {
    if (cron_next(&e, z, t, &t)) {
      snprintf(out + len, cap - len, "%snone", i ? " " : "");
      return;
    }
    char iso[32];
    clock_iso8601(t * 1000, iso);
    iso[19] = 'Z', iso[20] = 0;
    len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? " " : "", iso);
  }
}

#define CHECK_FIRES(expr, z, from, n, want)                                                        \
  do {                                                                                             \
    char got_[2048];                                                                               \
    fires(expr, z, from, n, got_, sizeof got_);                                                    \
    CHECK_STR(got_, want);                                                                         \
  } while (0)

static tz_zone *posix(const char *spec) {
  tz_zone *z = NULL;
  if (tz_parse_posix(spec, &z)) return NULL;
  return z;
}

#define NEW_YORK  "EST5EDT,M3.2.0,M11.1.0"
#define LONDON    "GMT0BST,M3.5.0/1,M10.5.0"
#define LORD_HOWE "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0"

/* The cases every zone source must agree on: New York, London and Lord Howe in 2026. */
static void dst_cases(tz_zone *ny, tz_zone *lon, tz_zone *lh) {
  /* Spring forward in New York (8 March 2026, 02:00 -> 03:00): 02:30 does not exist, so the
   * daily job fires once at the first instant after the gap, 03:00 EDT. */
  CHECK_FIRES("30 2 * * *", ny, "2026-03-07T00:00:00Z", 3,
              "2026-03-07T07:30:00Z 2026-03-08T07:00:00Z 2026-03-09T06:30:00Z");
  /* Fall back (1 November 2026, 02:00 -> 01:00): 01:30 happens twice; a fixed time fires once,
   * at its first occurrence (EDT). */
  CHECK_FIRES("30 1 * * *", ny, "2026-10-31T00:00:00Z", 3,
              "2026-10-31T05:30:00Z 2026-11-01T05:30:00Z 2026-11-02T06:30:00Z");
  /* Hourly follows elapsed time: no fire is lost or doubled around either change. */
  CHECK_FIRES("0 * * * *", ny, "2026-03-08T05:30:00Z", 4,
              "2026-03-08T06:00:00Z 2026-03-08T07:00:00Z 2026-03-08T08:00:00Z "
              "2026-03-08T09:00:00Z");
  CHECK_FIRES("30 * * * *", ny, "2026-11-01T04:00:00Z", 4,
              "2026-11-01T04:30:00Z 2026-11-01T05:30:00Z 2026-11-01T06:30:00Z "
              "2026-11-01T07:30:00Z");
  /* A stepped hour field is elapsed time too: 01:00 EDT and 01:00 EST both fire. */
  CHECK_FIRES("0 */1 * * *", ny, "2026-11-01T04:30:00Z", 3,
              "2026-11-01T05:00:00Z 2026-11-01T06:00:00Z 2026-11-01T07:00:00Z");
  /* London: 01:30 is skipped on 29 March 2026 (fires at 02:00 BST = 01:00Z) and repeated on
   * 25 October (fires at 01:30 BST = 00:30Z only). */
  CHECK_FIRES("30 1 * * *", lon, "2026-03-28T12:00:00Z", 2,
              "2026-03-29T01:00:00Z 2026-03-30T00:30:00Z");
  CHECK_FIRES("30 1 * * *", lon, "2026-10-24T12:00:00Z", 2,
              "2026-10-25T00:30:00Z 2026-10-26T01:30:00Z");
  /* Lord Howe moves by half an hour: 02:00 -> 02:30 on 4 October 2026 (02:15 fires at 02:30
   * local = 15:30Z), and 02:00 -> 01:30 on 5 April 2026 (01:45 fires once, at +11). */
  CHECK_FIRES("15 2 * * *", lh, "2026-10-03T00:00:00Z", 2,
              "2026-10-03T15:30:00Z 2026-10-04T15:15:00Z");
  CHECK_FIRES("45 1 * * *", lh, "2026-04-04T00:00:00Z", 2,
              "2026-04-04T14:45:00Z 2026-04-05T15:15:00Z");
  CHECK_FIRES("*/30 * * * *", lh, "2026-04-04T14:00:00Z", 4,
              "2026-04-04T14:30:00Z 2026-04-04T15:00:00Z 2026-04-04T15:30:00Z "
              "2026-04-04T16:00:00Z");
}

TEST(dst_posix_rules) {
  tz_zone *ny = posix(NEW_YORK), *lon = posix(LONDON), *lh = posix(LORD_HOWE);
  REQUIRE(ny && lon && lh);
  dst_cases(ny, lon, lh);
  CHECK_INT(tz_offset_at(ny, at("2026-07-01T12:00:00Z")), -4 * 3600);
  CHECK_INT(tz_offset_at(ny, at("2026-01-01T12:00:00Z")), -5 * 3600);
  CHECK_INT(tz_offset_at(lh, at("2026-07-01T12:00:00Z")), 10 * 3600 + 1800);
  CHECK_INT(tz_offset_at(lh, at("2026-12-01T12:00:00Z")), 11 * 3600);
  int64_t when;
  int32_t before, after;
  CHECK_OK(tz_next_change(ny, at("2026-01-01T00:00:00Z"), &when, &before, &after));
  CHECK(when == at("2026-03-08T07:00:00Z"));
  CHECK_INT(before, -5 * 3600);
  CHECK_INT(after, -4 * 3600);
  tz_free(ny), tz_free(lon), tz_free(lh);
}

TEST(dst_system_zones) {
  tz_zone *ny = NULL, *lon = NULL, *lh = NULL;
  if (tz_load("America/New_York", &ny)) SKIP("tzdata is not installed");
  REQUIRE(tz_load("Europe/London", &lon) == 0 && tz_load("Australia/Lord_Howe", &lh) == 0);
  dst_cases(ny, lon, lh);
  /* Past the zone file's table (2037) the footer's rule takes over. */
  CHECK_FIRES("30 2 * * *", ny, "2040-03-10T12:00:00Z", 2,
              "2040-03-11T07:00:00Z 2040-03-12T06:30:00Z");
  tz_free(ny), tz_free(lon), tz_free(lh);
}

TEST(calendar) {
  /* Leap days: the next 29 February after 2026 is in 2028. */
  CHECK_FIRES("0 0 29 2 *", NULL, "2026-01-01T00:00:00Z", 2,
              "2028-02-29T00:00:00Z 2032-02-29T00:00:00Z");
  /* The 31st skips the months without one. */
  CHECK_FIRES("0 0 31 * *", NULL, "2026-01-31T00:00:00Z", 3,
              "2026-03-31T00:00:00Z 2026-05-31T00:00:00Z 2026-07-31T00:00:00Z");
  /* Both day fields restricted: either matches (13 Feb 2026 is a Friday; then Fridays and the
   * 13th). */
  CHECK_FIRES("0 12 13 * 5", NULL, "2026-02-12T00:00:00Z", 4,
              "2026-02-13T12:00:00Z 2026-02-20T12:00:00Z 2026-02-27T12:00:00Z "
              "2026-03-06T12:00:00Z");
  /* One of them '*': both must match (Fridays only). */
  CHECK_FIRES("0 12 * * fri", NULL, "2026-02-12T00:00:00Z", 2,
              "2026-02-13T12:00:00Z 2026-02-20T12:00:00Z");
  CHECK_FIRES("0 9 1-7 * MON", NULL, "2026-01-01T00:00:00Z", 2,
              "2026-01-01T09:00:00Z 2026-01-02T09:00:00Z");
  /* A day field that starts with '*' (even "*\/10") makes it AND, as in Vixie cron: days 1, 11,
   * 21, 31 that are Sundays (day 7). */
  CHECK_FIRES("0 9 */10 jan-mar 7", NULL, "2026-12-31T00:00:00Z", 3,
              "2027-01-31T09:00:00Z 2027-02-21T09:00:00Z 2027-03-21T09:00:00Z");
  CHECK_FIRES("@weekly", NULL, "2026-12-07T00:00:00Z", 1, "2026-12-13T00:00:00Z");
  CHECK_FIRES("@monthly", NULL, "2026-12-07T00:00:00Z", 1, "2027-01-01T00:00:00Z");
  CHECK_FIRES("@yearly", NULL, "2026-12-07T00:00:00Z", 1, "2027-01-01T00:00:00Z");
  CHECK_FIRES("@hourly", NULL, "2026-12-07T10:00:00Z", 2,
              "2026-12-07T11:00:00Z 2026-12-07T12:00:00Z");
  CHECK_FIRES("5-59/20 * * * *", NULL, "2026-12-07T10:00:00Z", 3,
              "2026-12-07T10:05:00Z 2026-12-07T10:25:00Z 2026-12-07T10:45:00Z");
  CHECK_FIRES("0 0 30 2 *", NULL, "2026-01-01T00:00:00Z", 1, "none");
  /* Strictly after: a fire time equal to `from` is not repeated. */
  CHECK_FIRES("0 10 * * *", NULL, "2026-12-07T10:00:00Z", 1, "2026-12-08T10:00:00Z");
}

TEST(intervals) {
  CHECK_FIRES("@every 15m", NULL, "2026-12-07T10:07:00Z", 3,
              "2026-12-07T10:15:00Z 2026-12-07T10:30:00Z 2026-12-07T10:45:00Z");
  CHECK_FIRES("every 2 hours", NULL, "2026-12-07T10:07:00Z", 2,
              "2026-12-07T12:00:00Z 2026-12-07T14:00:00Z");
  cron_expr e;
  CHECK(cron_parse("@every 0m", &e) != 0);
  CHECK(cron_parse("@every 5 days", &e) != 0);
}

TEST(errors_are_sentences) {
  cron_expr e;
  static const char *const bad[] = {"60 * * * *",
                                    "* 24 * * *",
                                    "* * 0 * *",
                                    "* * * 13 *",
                                    "* * * * 8",
                                    "* * * *",
                                    "* * * * * *",
                                    "5-1 * * * *",
                                    "*/0 * * * *",
                                    "@sometimes",
                                    "a b c d e",
                                    "1,,2 * * * *",
                                    "",
                                    "* * * foo *"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK_INT(cron_parse(bad[i], &e), MIMIC_EINVAL);
    CHECK(strncmp(err_msg(), "cron: ", 6) == 0);
  }
  CHECK_INT(cron_parse("60 * * * *", &e), MIMIC_EINVAL);
  CHECK_STR(err_msg(), "cron: minute 60 is out of range 0-59 in '60 * * * *'");
  tz_zone *z = NULL;
  CHECK(tz_load("../etc/passwd", &z) != 0 && z == NULL);
  CHECK(tz_load("/etc/passwd", &z) != 0 && z == NULL);
  CHECK(tz_load("Mars/Olympus_Mons", &z) != 0 && z == NULL);
  CHECK(tz_parse_posix("EST", &z) != 0);
  CHECK(tz_parse_posix("EST5EDT,M13.1.0,M11.1.0", &z) != 0);
}

TEST(tzif_hostile) {
  tz_zone *z = NULL;
  unsigned char hdr[44] = {'T', 'Z', 'i', 'f', '2'};
  CHECK(tz_parse(hdr, 10, "t", &z) != 0);
  CHECK(tz_parse(hdr, sizeof hdr, "t", &z) != 0); /* no types: refused */
  /* A v1 file claiming 4 billion transitions. */
  unsigned char huge[44] = {'T', 'Z', 'i', 'f', 0};
  memset(huge + 32, 0xff, 4);
  huge[39] = 1;
  CHECK(tz_parse(huge, sizeof huge, "t", &z) != 0);
  /* A minimal valid v1 file: one type, UTC+1, no transitions. */
  unsigned char ok[44 + 6 + 4] = {'T', 'Z', 'i', 'f', 0};
  ok[39] = 1, ok[43] = 4;               /* typecnt 1, charcnt 4 */
  ok[44 + 2] = 0x0e, ok[44 + 3] = 0x10; /* utoff 3600 */
  memcpy(ok + 50, "CET", 4);
  REQUIRE(tz_parse(ok, sizeof ok, "t", &z) == 0);
  CHECK_INT(tz_offset_at(z, 0), 3600);
  tz_free(z);
}

int main(void) {
  RUN(dst_posix_rules);
  RUN(dst_system_zones);
  RUN(calendar);
  RUN(intervals);
  RUN(errors_are_sentences);
  RUN(tzif_hostile);
  TEST_MAIN_END();
}
