/* `mimic schedule`: the scheduler's expressions on the terminal. `schedule next` prints the exact
 * instants an expression fires at (no jitter: that is added when a run fires). */
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/cron.h"
#include "base/tz.h"
#include "cli/flags.h"

static int schedule_next(int argc, char **argv) {
  const char *zone = "UTC", *from = NULL;
  int count = 5;
  static cli_opt opts[] = {
      {.name = "tz", .type = CLI_STR, .meta = "ZONE", .help = "IANA time zone (default UTC)"},
      {.name = "from",
       .type = CLI_STR,
       .meta = "ISO-8601",
       .help = "start after this instant (default: now)"},
      {.name = "count",
       .short_name = 'n',
       .type = CLI_INT,
       .meta = "N",
       .help = "how many fire times (default 5)",
       .min = 1,
       .max = 10000},
      {0}};
  opts[0].dest = &zone, opts[1].dest = &from, opts[2].dest = &count;
  static const cli_spec spec = {
      .name = "schedule next",
      .args = "EXPR",
      .min_args = 1,
      .max_args = 1,
      .summary = "Prints the next fire times of a cron expression (5 fields, @daily, ...) or an\n"
                 "interval (@every 15m) as ISO-8601 UTC instants, one per line, following the\n"
                 "zone's daylight-saving changes. Exit status 2 for a bad expression or zone.",
      .example = "schedule next '30 2 * * *' --tz America/New_York --from 2026-03-07T00:00:00Z",
      .opts = opts};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  cron_expr e;
  if (cron_parse(a.pos[0], &e)) return cli_usage_error(&spec, "%s", err_msg());
  tz_zone *z = NULL;
  if (tz_load(zone, &z)) return cli_usage_error(&spec, "%s", err_msg());
  int64_t t;
  if (from) {
    int64_t ms;
    if (clock_parse_iso8601(from, &ms)) {
      tz_free(z);
      return cli_usage_error(&spec, "--from '%s' is not an ISO-8601 instant", from);
    }
    t = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
  } else {
    t = clock_wall_ms() / 1000;
  }
  rc = 0;
  for (int i = 0; i < count; i++) {
    if (cron_next(&e, z, t, &t)) {
      if (i == 0) {
        fprintf(stderr, "mimic schedule next: %s\n", err_msg());
        rc = 2;
      }
      break;
    }
    char iso[32];
    clock_iso8601(t * 1000, iso);
    /* clock_iso8601 prints milliseconds; fire times are whole seconds. */
    char *dot = strchr(iso, '.');
    if (dot) dot[0] = 'Z', dot[1] = 0;
    printf("%s\n", iso);
  }
  tz_free(z);
  return rc;
}

int cmd_schedule(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"next", schedule_next, "the next fire times of a cron expression in a time zone"}, {0}};
  static const cli_spec spec = {.name = "schedule",
                                .args = "next",
                                .summary = "Schedules: cron expressions and intervals.",
                                .example = "schedule next '@daily' --tz Europe/London -n 3",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
