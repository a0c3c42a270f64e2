/* `mimic schedule`: the scheduler on the terminal. `schedule next` prints the exact instants an
 * expression fires at (no jitter: that is added when a run fires); `kinds`, `list`, `add`,
 * `remove`, `run`, `enable`, `disable` and `runs` manage the jobs in the store that the running bot
 * fires (bot/scheduler.h, bot/proactive.h). */
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/cron.h"
#include "base/tz.h"
#include "bot/proactive.h"
#include "bot/scheduler.h"
#include "cli/cli.h"
#include "cli/flags.h"
#include "store/schedule.h"
#include "store/store.h"

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

static void iso_or_dash(int64_t ms, char out[32]) {
  if (ms <= 0) {
    snprintf(out, 32, "-");
    return;
  }
  clock_iso8601(ms, out);
  char *dot = strchr(out, '.');
  if (dot) dot[0] = 'Z', dot[1] = 0;
}

static int schedule_kinds(int argc, char **argv) {
  static const cli_spec spec = {.name = "schedule kinds",
                                .summary =
                                    "Lists the job kinds with their default cadence and what "
                                    "each does.",
                                .example = "schedule kinds"};
  cli_args a;
  int rc = cli_parse(&spec, argc, argv, &a);
  if (rc) return rc == CLI_HELP ? 0 : rc;
  size_t n;
  const proactive_kind *k = proactive_kinds(&n);
  for (size_t i = 0; i < n; i++)
    printf("%-18s %-14s %s%s\n", k[i].name, k[i].cadence, k[i].what,
           k[i].posts ? "" : " (lore only)");
  return 0;
}

static int print_job(const store_sched_job *j, void *user) {
  json_t *arr = user;
  char next[32], last[32];
  iso_or_dash(j->next_ms, next);
  iso_or_dash(j->last_ms, last);
  if (arr) {
    json_array_append_new(
        arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:i, s:b, s:s, s:s, s:s}", "name",
                       j->name, "kind", j->kind, "expr", j->expr, "tz", j->tz, "guild_id",
                       (json_int_t)j->guild_id, "channel_id", (json_int_t)j->channel_id, "missed",
                       j->missed == SCHED_MISSED_ONCE ? "once" : "skip", "jitter_s", j->jitter_s,
                       "enabled", j->enabled, "next", next, "last", last, "params", j->params));
    return 0;
  }
  printf("%-28s %-17s %-16s %-18s guild %-20" PRIu64 " channel %-20" PRIu64 " %s next %s%s\n",
         j->name, j->kind, j->expr, j->tz, j->guild_id, j->channel_id,
         j->missed == SCHED_MISSED_ONCE ? "once" : "skip", next, j->enabled ? "" : " (disabled)");
  return 0;
}

static int schedule_list(int argc, char **argv) {
  bool as_json = false;
  static cli_opt opts[] = {{.name = "json", .type = CLI_BOOL, .help = "one JSON array"}, {0}};
  opts[0].dest = &as_json;
  static const cli_spec spec = {.name = "schedule list",
                                .summary =
                                    "Lists the scheduled jobs: name, kind, expression, zone, "
                                    "guild, channel, missed-run policy, next run.",
                                .example = "schedule list --json",
                                .config = true,
                                .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  json_t *arr = as_json ? json_array() : NULL;
  if (s && store_sched_each(s, 0, print_job, arr) == 0) {
    status = 0;
    if (arr) {
      char *js = json_dumps(arr, JSON_INDENT(2));
      printf("%s\n", js ? js : "[]");
      free(js);
    }
  } else if (s) {
    cli_error("%s", err_msg());
  }
  json_decref(arr);
  store_close(s);
  cfg_destroy(c);
  return status;
}

static int schedule_add(int argc, char **argv) {
  const char *kind = NULL, *expr = NULL, *zone = NULL, *missed = "skip", *persona = NULL,
             *with = NULL;
  uint64_t guild = 0, channel = 0;
  int jitter = 120;
  bool disabled = false;
  static cli_opt opts[] = {
      {.name = "kind", .type = CLI_STR, .meta = "KIND", .help = "what it does (schedule kinds)"},
      {.name = "guild", .type = CLI_U64, .meta = "ID", .help = "the server it belongs to"},
      {.name = "channel", .type = CLI_U64, .meta = "ID", .help = "where it posts"},
      {.name = "cron",
       .type = CLI_STR,
       .meta = "EXPR",
       .help = "cron expression or interval (default: the kind's cadence)"},
      {.name = "tz", .type = CLI_STR, .meta = "ZONE", .help = "IANA zone (default proactive.tz)"},
      {.name = "missed",
       .type = CLI_STR,
       .meta = "skip|once",
       .help = "runs missed while mimic was down: skip them, or run the latest once"},
      {.name = "jitter",
       .type = CLI_INT,
       .meta = "S",
       .help = "fire up to S seconds after the instant (default 120)",
       .min = 0,
       .max = 3600},
      {.name = "persona", .type = CLI_STR, .meta = "NAME", .help = "who speaks (default the bot)"},
      {.name = "with",
       .type = CLI_STR,
       .meta = "NAME",
       .help = "persona_chat: the other persona (default: one chosen per run)"},
      {.name = "disabled", .type = CLI_BOOL, .help = "add it switched off"},
      {0}};
  opts[0].dest = &kind, opts[1].dest = &guild, opts[2].dest = &channel, opts[3].dest = &expr;
  opts[4].dest = &zone, opts[5].dest = &missed, opts[6].dest = &jitter, opts[7].dest = &persona;
  opts[8].dest = &with, opts[9].dest = &disabled;
  static const cli_spec spec = {
      .name = "schedule add",
      .args = "NAME",
      .min_args = 1,
      .max_args = 1,
      .summary = "Adds a scheduled job. It runs only while the guild has proactive posts on and\n"
                 "its channel is on the guild's allow-list (!config-proactive), outside quiet\n"
                 "hours and under the daily cap.",
      .example = "schedule add digest --kind daily_digest --guild 81 --channel 82 --tz "
                 "Europe/London",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 2;
  const proactive_kind *k = kind ? proactive_kind_find(kind) : NULL;
  store_sched_job j;
  memset(&j, 0, sizeof j);
  if (!k) {
    cli_error("--kind must be one of the kinds `mimic schedule kinds` lists");
    goto out;
  }
  if (!guild || !channel) {
    cli_error("--guild and --channel are required (the server and the channel it posts in)");
    goto out;
  }
  if (strcmp(missed, "skip") != 0 && strcmp(missed, "once") != 0) {
    cli_error("--missed takes skip or once");
    goto out;
  }
  str_lcpy(j.name, a.pos[0], sizeof j.name);
  str_lcpy(j.kind, k->name, sizeof j.kind);
  j.guild_id = guild;
  j.channel_id = channel;
  str_lcpy(j.expr, expr ? expr : k->cadence, sizeof j.expr);
  str_lcpy(j.tz, zone ? zone : cfg_str(c, CFG_PROACTIVE_TZ), sizeof j.tz);
  j.missed = strcmp(missed, "once") == 0 ? SCHED_MISSED_ONCE : SCHED_MISSED_SKIP;
  j.jitter_s = jitter;
  j.enabled = !disabled;
  json_t *p = json_object();
  if (persona) json_object_set_new(p, "persona", json_string(persona));
  if (with) json_object_set_new(p, "with", json_string(with));
  char *ps = json_dumps(p, JSON_COMPACT);
  json_decref(p);
  str_lcpy(j.params, ps ? ps : "{}", sizeof j.params);
  free(ps);
  cron_expr e;
  tz_zone *z = NULL;
  if (cron_parse(j.expr, &e) || tz_load(j.tz, &z)) {
    cli_error("%s", err_msg());
    goto out;
  }
  int64_t t;
  int crc = cron_next(&e, z, clock_wall_ms() / 1000, &t);
  tz_free(z);
  if (crc) {
    cli_error("%s", err_msg());
    goto out;
  }
  j.next_ms = t * 1000;
  status = 1;
  store *s = cli_store_open(c);
  if (s && store_sched_add(s, &j) == 0) {
    char next[32];
    iso_or_dash(j.next_ms, next);
    printf("job %s added (%s, %s in %s); next run %s\n", j.name, j.kind, j.expr, j.tz, next);
    status = 0;
  } else if (s) {
    cli_error("%s", err_msg());
  }
  store_close(s);
out:
  cfg_destroy(c);
  return status;
}

/* remove / run / enable / disable NAME */
static int schedule_one(int argc, char **argv, const char *verb) {
  char name[64], summary[256], example[96];
  snprintf(name, sizeof name, "schedule %s", verb);
  if (strcmp(verb, "remove") == 0)
    snprintf(summary, sizeof summary, "Removes a scheduled job and its run history.");
  else if (strcmp(verb, "run") == 0)
    snprintf(summary, sizeof summary,
             "Asks the running bot to run a job now (its next run becomes now; the bot\n"
             "fires it within a second and the store makes sure it runs once).");
  else
    snprintf(summary, sizeof summary, "Switches a scheduled job %s.",
             strcmp(verb, "enable") == 0 ? "on" : "off");
  snprintf(example, sizeof example, "schedule %s digest", verb);
  const cli_spec spec = {.name = name,
                         .args = "NAME",
                         .min_args = 1,
                         .max_args = 1,
                         .summary = summary,
                         .example = example,
                         .config = true};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  store_sched_job j;
  int rc = s ? store_sched_get(s, a.pos[0], &j) : MIMIC_EINVAL;
  if (s && !rc) {
    if (strcmp(verb, "remove") == 0) {
      rc = store_sched_remove(s, j.name);
    } else if (strcmp(verb, "run") == 0) {
      rc = store_sched_set_next(s, j.id, clock_wall_ms());
    } else {
      j.enabled = strcmp(verb, "enable") == 0;
      if (j.enabled && j.next_ms < clock_wall_ms()) j.next_ms = 0; /* recomputed by the bot */
      rc = store_sched_update(s, &j);
    }
  }
  if (s && !rc) {
    printf("job %s %s\n", j.name,
           strcmp(verb, "remove") == 0 ? "removed"
           : strcmp(verb, "run") == 0  ? "will run at the running bot's next tick"
           : j.enabled                 ? "enabled"
                                       : "disabled");
    status = 0;
  } else if (s) {
    cli_error("%s", err_msg());
  }
  store_close(s);
  cfg_destroy(c);
  return status;
}

static int schedule_remove(int argc, char **argv) { return schedule_one(argc, argv, "remove"); }
static int schedule_run(int argc, char **argv) { return schedule_one(argc, argv, "run"); }
static int schedule_enable(int argc, char **argv) { return schedule_one(argc, argv, "enable"); }
static int schedule_disable(int argc, char **argv) { return schedule_one(argc, argv, "disable"); }

static int print_run(const store_sched_run *r, void *user) {
  (void)user;
  char at[32], done[32];
  iso_or_dash(r->scheduled_ms, at);
  iso_or_dash(r->finished_ms, done);
  printf("%s  %-8s finished %s  by %s%s%s\n", at, r->status, done, r->claimed_by,
         r->detail[0] ? "  " : "", r->detail);
  return 0;
}

static int schedule_runs(int argc, char **argv) {
  int limit = 20;
  static cli_opt opts[] = {{.name = "count",
                            .short_name = 'n',
                            .type = CLI_INT,
                            .meta = "N",
                            .help = "how many (default 20)",
                            .min = 1,
                            .max = 10000},
                           {0}};
  opts[0].dest = &limit;
  static const cli_spec spec = {.name = "schedule runs",
                                .args = "NAME",
                                .min_args = 1,
                                .max_args = 1,
                                .summary = "The latest runs of a job, newest first: instant, "
                                           "outcome, who ran it, what it did.",
                                .example = "schedule runs digest -n 5",
                                .config = true,
                                .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  store *s = cli_store_open(c);
  store_sched_job j;
  if (s && store_sched_get(s, a.pos[0], &j) == 0 &&
      store_sched_runs(s, j.id, limit, print_run, NULL) == 0)
    status = 0;
  else if (s)
    cli_error("%s", err_msg());
  store_close(s);
  cfg_destroy(c);
  return status;
}

int cmd_schedule(int argc, char **argv) {
  static const cli_sub subs[] = {
      {"next", schedule_next, "the next fire times of a cron expression in a time zone"},
      {"kinds", schedule_kinds, "the job kinds and their default cadences"},
      {"list", schedule_list, "the scheduled jobs"},
      {"add", schedule_add, "NAME --kind K --guild ID --channel ID [--cron EXPR]: add a job"},
      {"remove", schedule_remove, "NAME: remove a job"},
      {"run", schedule_run, "NAME: have the running bot run it now"},
      {"enable", schedule_enable, "NAME: switch a job on"},
      {"disable", schedule_disable, "NAME: switch a job off"},
      {"runs", schedule_runs, "NAME: a job's latest runs"},
      {0}};
  static const cli_spec spec = {.name = "schedule",
                                .args = "next|kinds|list|add|remove|run|enable|disable|runs",
                                .summary = "The scheduler: cron expressions, and the jobs the bot "
                                           "runs on them.",
                                .example = "schedule next '@daily' --tz Europe/London -n 3",
                                .subs = subs};
  return cli_dispatch(&spec, argc, argv);
}
