/* The bot runtime behind `mimic run`: the Discord client's I/O loop thread (gateway + REST), the
 * bot on the calling thread, the engine's workers, and the jobs the admins start. It wires the
 * pieces that know nothing of each other:
 *   discord_client --typed events--> bot (this thread) --bot_actions--> discord_client_call -->
 *   discord_actions (typed REST calls) on the loop thread;
 *   engine workers --completion--> discord_client_wake --> bot_poll on this thread.
 * !fetch and !train run `mimic fetch` / `mimic train` as child processes (training must never
 * share the bot's process); when one ends the admin's channel is told. !restart ends
 * the run after in-flight replies with BOT_RUNTIME_RESTART so the caller re-executes itself. */
#ifndef MIMIC_BOT_RUNTIME_H
#define MIMIC_BOT_RUNTIME_H
#include "base/base.h"

#define BOT_RUNTIME_RESTART 75 /* bot_runtime_run's answer to !restart */
/* Where !train writes the adapter (passed to `mimic train --out`) and where it is reloaded from. */
#define BOT_RUNTIME_ADAPTER "models/adapter.gguf"

typedef struct bot_runtime_opts {
  cfg *config;             /* borrowed */
  const char *token;       /* borrowed */
  const char *self_exe;    /* path of the mimic binary for jobs ("/proc/self/exe" when NULL) */
  const char *config_path; /* passed to jobs as --config (NULL: none) */
  volatile int *stop;      /* set non-zero (from a signal handler) to finish the replies in flight,
                            * disconnect and return */
  volatile int *reload;    /* set non-zero (SIGHUP) to re-read live settings (may be NULL) */
} bot_runtime_opts;

/* Runs until *stop, a fatal gateway close (one sentence printed by the caller from err_msg()), or
 * !restart. Returns 0 after a clean stop, BOT_RUNTIME_RESTART for !restart, or a negative
 * MIMIC_E* code with err_msg() set. Without a usable model the bot still stores history and runs
 * commands (collect-only), and says so in the log. */
int bot_runtime_run(const bot_runtime_opts *o);

#endif
