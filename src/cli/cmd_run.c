/* `mimic run`: the bot. Connects to Discord (GET /gateway/bot, then the gateway), stores what it
 * sees, answers like a regular, runs admin commands, and stops cleanly on SIGINT or SIGTERM
 * (gateway close 1000). !restart re-executes the binary once in-flight replies are sent. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bot/runtime.h"
#include "cli/flags.h"
#include "web/web.h"

static volatile int stop_signal, reload_signal;

static void on_signal(int sig) { stop_signal = sig; }
static void on_hup(int sig) { reload_signal = sig; }

int cmd_run(int argc, char **argv) {
  static const cli_spec spec = {
      .name = "run",
      .summary = "The bot: connects to Discord with DISCORD_TOKEN (or discord.token_file), stores "
                 "what it sees,\nanswers like a regular and runs !commands. Ctrl-C or SIGTERM "
                 "stops it cleanly.",
      .example = "run --config mimic.conf",
      .config = true};
  /* Keep the original arguments for !restart, and the config path for the jobs it starts. */
  char **orig = xcalloc((size_t)argc + 2, sizeof *orig);
  orig[0] = "mimic";
  for (int i = 0; i < argc; i++) orig[i + 1] = argv[i];
  cli_args a;
  int status = 1;
  char *tok = NULL;
  cfg *c = cli_start(&spec, argc, argv, &a, &status);
  if (!c) goto out;
  status = 1;
  const char *config_path = a.config ? a.config : getenv("MIMIC_CONFIG");
  if (!config_path && access("mimic.conf", F_OK) == 0) config_path = "mimic.conf";
  tok = cfg_token(c);
  if (!tok) {
    cli_error("%s", err_msg());
    goto out;
  }
  log_add_secret(tok);
  log_add_secret(cfg_str(c, CFG_WEB_METRICS_TOKEN));
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sa.sa_handler = on_hup; /* the dashboard changed live settings */
  sigaction(SIGHUP, &sa, NULL);
  web_server *ops = NULL;
  const char *listen = cfg_str(c, CFG_WEB_LISTEN);
  if (*listen && web_ops_start(listen, cfg_str(c, CFG_WEB_METRICS_TOKEN), &ops)) {
    cli_error("web.listen: %s", err_msg());
    goto out;
  }
  bot_runtime_opts o = {.config = c,
                        .token = tok,
                        .config_path = config_path,
                        .stop = &stop_signal,
                        .reload = &reload_signal};
  int rc = bot_runtime_run(&o);
  web_server_stop(ops);
  if (rc == BOT_RUNTIME_RESTART) {
    LOG_I("bot", "restarting");
    mem_free(tok);
    cfg_destroy(c);
    execv("/proc/self/exe", orig);
    cli_error("restart failed: %s", strerror(errno));
    mem_free(orig);
    return 1;
  }
  if (rc < 0) cli_error("%s", err_msg());
  status = rc < 0 ? 1 : 0;
out:
  mem_free(tok);
  cfg_destroy(c);
  mem_free(orig);
  return status;
}
