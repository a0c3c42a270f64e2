/* `mimic dashboard`: the web dashboard that supervises the bot (src/web/, docs/dashboard.md), and
 * `mimic dashboard passwd`, which sets its password (read from standard input when that is not a
 * terminal, else asked twice without echo). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/flags.h"
#include "store/store.h"
#include "web/web.h"

static volatile int stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

/* Reads one line into out without echo on a terminal. Returns 0, or -1 at end of input. */
static int read_secret(const char *prompt, bool tty, char *out, size_t cap) {
  struct termios old, quiet;
  if (tty) {
    fputs(prompt, stderr);
    fflush(stderr);
    tcgetattr(0, &old);
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(0, TCSAFLUSH, &quiet);
  }
  char *got = fgets(out, (int)cap, stdin);
  if (tty) {
    tcsetattr(0, TCSAFLUSH, &old);
    fputc('\n', stderr);
  }
  if (!got) return -1;
  out[strcspn(out, "\r\n")] = 0;
  return 0;
}

static int dashboard_passwd(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "dashboard passwd",
      .summary = "Sets the dashboard's password (at least 10 characters), stored as an Argon2id "
                 "hash in the\ndatabase. Reads it from standard input when that is not a "
                 "terminal.",
      .example = "dashboard passwd\necho 'a long passphrase' | mimic dashboard passwd",
      .config = true};
  cli_args a;
  int status = 1;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  status = 1;
  char pw[1100] = "", again[1100] = "";
  store *s = NULL;
  bool tty = isatty(0) != 0;
  if (read_secret("new dashboard password: ", tty, pw, sizeof pw)) {
    cli_error("no password given on standard input");
    goto out;
  }
  if (tty && (read_secret("again: ", tty, again, sizeof again) || strcmp(pw, again) != 0)) {
    cli_error("the two passwords differ; nothing changed");
    goto out;
  }
  s = cli_store_open(c);
  if (!s) goto out;
  if (web_password_set(s, pw)) {
    cli_error("%s", err_msg());
    goto out;
  }
  printf("dashboard password set (sessions already open stay open until the dashboard restarts)\n");
  status = 0;
out:
  memset(pw, 0, sizeof pw);
  memset(again, 0, sizeof again);
  store_close(s);
  cfg_destroy(c);
  return status;
}

int cmd_dashboard(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "passwd") == 0) return dashboard_passwd(argc - 1, argv + 1);
  const char *listen = NULL, *cert = NULL, *key = NULL, *assets = NULL;
  bool remote = false;
  const cli_opt opts[] = {
      {.name = "listen",
       .type = CLI_STR,
       .dest = &listen,
       .meta = "HOST:PORT",
       .help = "where to serve (default dashboard.listen, 127.0.0.1:8377)"},
      {.name = "tls-cert",
       .type = CLI_PATH,
       .dest = &cert,
       .meta = "FILE",
       .help = "TLS certificate (PEM); with --tls-key serves HTTPS"},
      {.name = "tls-key", .type = CLI_PATH, .dest = &key, .meta = "FILE", .help = "TLS key (PEM)"},
      {.name = "allow-remote",
       .type = CLI_BOOL,
       .dest = &remote,
       .help = "allow an address beyond loopback (TLS required)"},
      {.name = "assets",
       .type = CLI_PATH,
       .dest = &assets,
       .meta = "DIR",
       .help = "the pages' folder (default: found beside the binary or installed)"},
      {0}};
  const cli_spec spec = {
      .name = "dashboard",
      .summary = "The web dashboard: starts, stops and watches the bot (`mimic run`, same config), "
                 "live logs,\nstatistics, live settings, training jobs, privacy and settings. "
                 "Loopback only unless\n--allow-remote with TLS. Set its password first: `mimic "
                 "dashboard passwd`.",
      .example = "dashboard --config mimic.conf\ndashboard passwd --config mimic.conf",
      .config = true,
      .opts = opts};
  cli_args a;
  int status = 1;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) return status;
  const char *config_path = a.config ? a.config : getenv("MIMIC_CONFIG");
  if (!config_path && access("mimic.conf", F_OK) == 0) config_path = "mimic.conf";
  char abs[4096];
  if (config_path && realpath(config_path, abs)) config_path = abs;
  log_add_secret(cfg_str(c, CFG_WEB_METRICS_TOKEN));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  web_dashboard_opts o = {.config = c,
                          .config_path = config_path,
                          .listen = listen,
                          .tls_cert = cert,
                          .tls_key = key,
                          .allow_remote = remote,
                          .assets_dir = assets,
                          .stop = &stop_signal};
  status = 0;
  if (web_dashboard_run(&o)) {
    cli_error("%s", err_msg());
    status = 1;
  }
  cfg_destroy(c);
  return status;
}
