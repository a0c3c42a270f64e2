/* `mimic run`: the bot. Connects to Discord (GET /gateway/bot, then the gateway), logs READY and
 * the events it receives, and stops cleanly on SIGINT or SIGTERM (gateway close 1000). The bot
 * layer (router, replies) will take the events from here once it exists. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "discord/client.h"

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig) { stop_signal = sig; }

static void log_event(const discord_event *ev) {
  switch (ev->type) {
  case DISCORD_EV_READY:
    LOG_I("bot", "READY as %s (id %llu), %zu servers, shard %d of %d", ev->u.ready.user.username,
          (unsigned long long)ev->u.ready.user.id, ev->u.ready.n_guild_ids, ev->u.ready.shard_id,
          ev->u.ready.shard_count);
    break;
  case DISCORD_EV_GUILD_CREATE:
    LOG_I("bot", "server %s (id %llu): %zu channels, %zu active threads", ev->u.guild.name,
          (unsigned long long)ev->u.guild.id, ev->u.guild.n_channels, ev->u.guild.n_threads);
    break;
  case DISCORD_EV_MESSAGE_CREATE:
    /* Content stays out of the log at INFO: it is the community's, not ours to spread. */
    LOG_I("bot", "message %llu in channel %llu from %s (%zu chars)", (unsigned long long)ev->u.message.id,
          (unsigned long long)ev->u.message.channel_id, ev->u.message.author.username,
          strlen(ev->u.message.content));
    break;
  default:
    LOG_D("bot", "%s (seq %lld)", discord_event_name(ev->type), (long long)ev->seq);
    break;
  }
}

int cmd_run(int argc, char **argv) {
  cfg *c = cli_config_load(&argc, argv);
  if (!c) return 1;
  int status = 1;
  discord_client *dc = NULL;
  char *tok = cfg_token(c);
  if (!tok) {
    cli_error("%s", err_msg());
    goto out;
  }
  log_add_secret(tok);
  if (discord_client_new(c, tok, &dc) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  if (discord_client_start(dc) != 0) {
    cli_error("%s", err_msg());
    goto out;
  }
  bool stopping = false;
  for (;;) {
    if (stop_signal && !stopping) {
      LOG_I("bot", "signal %d: disconnecting", (int)stop_signal);
      discord_client_stop(dc);
      stopping = true;
    }
    uint64_t t0 = clock_mono_ms();
    discord_event *ev = discord_client_next_event(dc, 200);
    if (!ev) {
      if (clock_mono_ms() - t0 < 100) break; /* the queue closed without STOPPED: nothing more comes */
      continue;
    }
    if (ev->type == DISCORD_EV_STOPPED) {
      if (ev->u.stopped.fatal) cli_error("%s", ev->u.stopped.message);
      status = ev->u.stopped.fatal ? 1 : 0;
      discord_event_free(ev);
      break;
    }
    log_event(ev);
    discord_event_free(ev);
  }
out:
  discord_client_destroy(dc);
  mem_free(tok);
  cfg_destroy(c);
  return status;
}
