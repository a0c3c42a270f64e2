/* `mimic fetch`: the configured guilds' whole history through the Discord API into the store
 * (collect_fetch_run), with a progress bar per channel and overall, and a summary at the end.
 * Ctrl-C stops cleanly (a second one at once); either way the next run continues where it stopped.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli/flags.h"
#include "cli/job.h"
#include "collect/collect.h"
#include "discord/rest.h"
#include "store/store.h"

#define GUILDS_MAX 64
#define SHOWN_MAX  12 /* channel lines under the overall bar */
#define NAME_COLS  20
#define BAR_COLS   16

static volatile sig_atomic_t g_stop;

static void on_signal(int sig) {
  (void)sig;
  g_stop = 1;
}

typedef struct view {
  bool tty, quiet;
  int drawn;          /* lines of the last redraw */
  int cols;           /* terminal width: longer lines are cut so the redraw stays aligned */
  double last_line_s; /* non-tty: time of the last progress line */
  collect_fetch_chan *problems;
  size_t n_problems;
  cli_job job; /* the run's row in the jobs table (the dashboard's bar) */
} view;

static void bar(char *out, double f) {
  int full = (int)(f * BAR_COLS + 0.5);
  if (full < 0) full = 0;
  if (full > BAR_COLS) full = BAR_COLS;
  for (int i = 0; i < BAR_COLS; i++) out[i] = i < full ? '#' : '.';
  out[BAR_COLS] = 0;
}

static void duration(char *out, size_t cap, double s) {
  if (s < 0) {
    snprintf(out, cap, "?");
  } else if (s < 60) {
    snprintf(out, cap, "%.0fs", s);
  } else if (s < 3600) {
    snprintf(out, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
  } else {
    snprintf(out, cap, "%dh%02dm", (int)(s / 3600), ((int)s / 60) % 60);
  }
}

/* n with thousands separators */
static const char *num(char *out, size_t cap, int64_t n) {
  char raw[32];
  snprintf(raw, sizeof raw, "%lld", (long long)(n < 0 ? -n : n));
  size_t len = strlen(raw), o = 0;
  if (n < 0 && o + 1 < cap) out[o++] = '-';
  for (size_t i = 0; i < len && o + 2 < cap; i++) {
    if (i && (len - i) % 3 == 0) out[o++] = ',';
    out[o++] = raw[i];
  }
  out[o] = 0;
  return out;
}

/* "#name" cut or padded to NAME_COLS code points (display width of wide characters aside). */
static void name_col(char *out, size_t cap, const collect_fetch_chan *c) {
  char tmp[STORE_NAME_MAX + 32];
  if (c->name[0])
    snprintf(tmp, sizeof tmp, "#%s", c->name);
  else
    snprintf(tmp, sizeof tmp, "#%llu", (unsigned long long)c->id);
  size_t o = 0, cols = 0;
  for (size_t i = 0; tmp[i] && o + 1 < cap; i++) {
    bool start = ((unsigned char)tmp[i] & 0xC0) != 0x80;
    if (start && cols == NAME_COLS) break;
    cols += start;
    out[o++] = tmp[i];
  }
  while (cols++ < NAME_COLS && o + 1 < cap) out[o++] = ' ';
  out[o] = 0;
}

/* One progress line on the terminal, cut to its width. */
static void line(const view *v, const char *fmt, ...) MIMIC_PRINTF(2, 3);
static void line(const view *v, const char *fmt, ...) {
  char text[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(text, sizeof text, fmt, ap);
  va_end(ap);
  size_t n = strlen(text), cols = 0, cut = n;
  for (size_t i = 0; i < n; i++) {
    if (((unsigned char)text[i] & 0xC0) == 0x80) continue;
    if (cols++ == (size_t)(v->cols - 1)) {
      cut = i;
      break;
    }
  }
  text[cut] = 0;
  fprintf(stderr, "\x1b[2K%s\n", text);
}

static void keep_problems(view *v, const collect_fetch_stats *st) {
  v->problems = xcalloc(st->n_list + 1, sizeof *v->problems);
  for (size_t i = 0; i < st->n_list; i++) v->problems[i] = *st->list[i];
  v->n_problems = st->n_list;
}

static void progress(const collect_fetch_stats *st, void *user) {
  view *v = user;
  if (st->final) {
    keep_problems(v, st);
    if (v->tty && !v->quiet && v->drawn) { /* clear the bars: the summary follows */
      fprintf(stderr, "\x1b[%dF", v->drawn);
      for (int i = 0; i < v->drawn; i++) fprintf(stderr, "\x1b[2K\n");
      fprintf(stderr, "\x1b[%dF", v->drawn);
      fflush(stderr);
    }
    return;
  }
  char row[96];
  snprintf(row, sizeof row, "%d of %d channels, %lld messages", st->done, st->channels,
           (long long)st->messages);
  cli_job_step(&v->job, (int64_t)(st->fraction * 1000), 1000, NAN, row, NULL);
  if (v->quiet) return;
  char b[BAR_COLS + 1], eta[32], n1[32], n2[32];
  bar(b, st->fraction);
  duration(eta, sizeof eta, st->eta_s);
  if (!v->tty) {
    if (st->seconds - v->last_line_s < 5) return;
    v->last_line_s = st->seconds;
    fprintf(stderr, "fetch: %3.0f%%  %d of %d channels  %s messages  %s msg/s  ETA %s\n",
            100 * st->fraction, st->done + st->unreadable + st->failed, st->channels,
            num(n1, sizeof n1, st->messages), num(n2, sizeof n2, (int64_t)st->rate), eta);
    return;
  }
  if (v->drawn) fprintf(stderr, "\x1b[%dF", v->drawn);
  int lines = 0;
  line(v, "fetch [%s] %3.0f%%  %d/%d channels  %s msgs  %s/s  ETA %s", b, 100 * st->fraction,
       st->done + st->unreadable + st->failed, st->channels, num(n1, sizeof n1, st->messages),
       num(n2, sizeof n2, (int64_t)st->rate), eta);
  lines++;
  for (size_t i = 0; i < st->n_list && i < SHOWN_MAX; i++) {
    const collect_fetch_chan *c = st->list[i];
    char name[NAME_COLS * 4 + 8];
    name_col(name, sizeof name, c);
    bar(b, c->fraction);
    line(v, "  %s [%s] %3.0f%%  %s msgs%s", name, b, 100 * c->fraction,
         num(n1, sizeof n1, c->messages), c->state == COLLECT_FETCH_FORWARD ? " (new)" : "");
    lines++;
  }
  if (st->n_list > SHOWN_MAX) {
    line(v, "  ... and %zu more", st->n_list - SHOWN_MAX);
    lines++;
  }
  for (int i = lines; i < v->drawn; i++) fprintf(stderr, "\x1b[2K\n"); /* wipe leftovers */
  if (v->drawn > lines) fprintf(stderr, "\x1b[%dF", v->drawn - lines);
  v->drawn = lines;
  fflush(stderr);
}

static void summary(const collect_fetch_stats *st, const view *v) {
  char n1[32], n2[32], n3[32], t[32];
  duration(t, sizeof t, st->seconds);
  printf("fetched %s messages (%s new) from %d channels and threads in %d guild%s in %.1f s "
         "(%s msg/s)\n",
         num(n1, sizeof n1, st->messages), num(n2, sizeof n2, st->inserted), st->channels,
         st->guilds, st->guilds == 1 ? "" : "s", st->seconds,
         num(n3, sizeof n3, st->seconds > 0 ? (int64_t)((double)st->messages / st->seconds) : 0));
  printf("  %d done (%d had nothing new), %d unreadable, %d failed; %lld requests", st->done,
         st->up_to_date, st->unreadable, st->failed, (long long)st->requests);
  if (st->skipped_privacy)
    printf("; %lld messages by excluded or opted-out people not stored",
           (long long)st->skipped_privacy);
  printf("\n");
  if (st->private_lists_denied)
    printf(
        "  private archived threads: not listed in %lld channels (the bot needs Manage Threads)\n",
        (long long)st->private_lists_denied);
  for (size_t i = 0; i < v->n_problems; i++) {
    const collect_fetch_chan *c = &v->problems[i];
    if (c->type < 0)
      printf("  %s: %s\n", c->name, c->error);
    else
      printf("  %s #%s (%llu): %s\n",
             c->state == COLLECT_FETCH_UNREADABLE ? "unreadable" : "failed",
             c->name[0] ? c->name : "?", (unsigned long long)c->id, c->error);
  }
}

/* Guild ids from a comma-separated list. */
static int parse_guilds(const char *list, uint64_t *out, size_t *n) {
  char tmp[2048];
  if (strlen(list) >= sizeof tmp) return err_set(MIMIC_ERANGE, "discord.guilds is too long");
  str_lcpy(tmp, list, sizeof tmp);
  char *save = NULL;
  for (char *p = strtok_r(tmp, ", \t", &save); p; p = strtok_r(NULL, ", \t", &save)) {
    if (*n == GUILDS_MAX) return err_set(MIMIC_ERANGE, "more than %d guilds", GUILDS_MAX);
    uint64_t id;
    if (str_to_u64(p, &id) || !id) return err_set(MIMIC_EINVAL, "'%s' is not a guild id", p);
    out[(*n)++] = id;
  }
  return 0;
}

typedef struct guild_list {
  uint64_t ids[GUILDS_MAX];
  size_t n;
} guild_list;

static int guild_opt(const char *value, void *user) {
  guild_list *g = user;
  if (parse_guilds(value, g->ids, &g->n) == 0) return 0;
  cli_error("fetch: --guild: %s; see 'mimic fetch --help'", err_msg());
  return 2;
}

int cmd_fetch(int argc, char **argv) {
  guild_list gl = {.n = 0};
  collect_fetch_opts o;
  collect_fetch_opts_default(&o);
  bool no_threads = false;
  view v = {.tty = isatty(2) != 0, .cols = 80};
  const cli_opt opts[] = {
      {.name = "guild",
       .type = CLI_STR,
       .meta = "ID[,ID...]",
       .repeat = true,
       .each = guild_opt,
       .user = &gl,
       .help = "this guild (default discord.guilds, else every guild the bot is in)"},
      {.name = "concurrency",
       .type = CLI_INT,
       .dest = &o.concurrency,
       .meta = "N",
       .help = "channels fetched at once",
       .key = CLI_KEY(CFG_COLLECT_FETCH_CONCURRENCY)},
      {.name = "reactors",
       .type = CLI_BOOL,
       .dest = &o.reactors,
       .help = "also store who reacted (one request per emoji: slow)"},
      {.name = "no-threads",
       .type = CLI_BOOL,
       .dest = &no_threads,
       .help = "leave threads and forum posts out"},
      {.name = "quiet",
       .short_name = 'q',
       .type = CLI_BOOL,
       .dest = &v.quiet,
       .help = "no progress bars"},
      {0}};
  const cli_spec spec = {
      .name = "fetch",
      .summary = "Fetches every text and announcement channel, thread and forum post of the "
                 "guilds into the store\nthrough the Discord API: all of the history the first "
                 "time, what is new afterwards.\nCtrl-C stops; run it again to continue.",
      .example = "fetch --guild 81384788765712384 --concurrency 4",
      .config = true,
      .opts = opts};
  cli_args a;
  int status;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  if (no_threads) o.threads = false;
  char *tok = NULL;
  rest *r = NULL;
  store *s = NULL;
  struct winsize ws;
  if (v.tty && ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20) v.cols = ws.ws_col;
  uint64_t *guilds = gl.ids;
  size_t n_guilds = gl.n;
  if (!n_guilds && parse_guilds(cfg_str(c, CFG_DISCORD_GUILDS), guilds, &n_guilds)) {
    cli_error("discord.guilds: %s", err_msg());
    goto out;
  }
  o.guilds = guilds;
  o.n_guilds = n_guilds;
  tok = cfg_token(c);
  if (!tok) {
    cli_error("%s", err_msg());
    goto out;
  }
  log_add_secret(tok);
  rest_opts ro;
  if (rest_opts_from_cfg(c, tok, &ro) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  ro.rl.global_limit = (int)cfg_int(c, CFG_COLLECT_FETCH_GLOBAL_LIMIT);
  if (rest_new(NULL, &ro, &r) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  s = cli_store_open(c);
  if (!s) goto out;
  cli_job_open(&v.job, cfg_str(c, CFG_STORE_PATH), "fetch");
  o.progress = progress;
  o.user = &v;
  o.progress_ms = v.tty ? 250 : 1000;
  o.stop = (const volatile int *)&g_stop;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the process at once (still safe) */
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  collect_fetch_stats st;
  int rc = collect_fetch_run(s, r, &o, &st);
  char why[512];
  str_lcpy(why, err_msg(), sizeof why);
  cli_job_close(&v.job, rc);
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  /* A run that failed before fetching anything (a refused token, an unreachable API) has no
   * summary to give: the error says it all. */
  if (st.final && (rc == 0 || st.messages > 0)) summary(&st, &v);
  if (rc) {
    cli_error("%s", why);
    goto out;
  }
  status = 0;
out:
  store_close(s);
  rest_destroy(r);
  mem_free(v.problems);
  mem_free(tok);
  cfg_destroy(c);
  return status;
}
