/* The real bot_actions: each action becomes REST calls through the discord layer's rate-limited
 * client (api.h). Sends go out with allowed_mentions {"parse": []} plus replied_user only when the
 * bot pings the person it answers, as bot.h's mentions contract requires; long replies are split by
 * api_message_send. Failures are logged (never with the token) and counted; they never reach the
 * bot as crashes. Restart and job requests are passed to the runtime's own hooks. */
#ifndef MIMIC_BOT_ACTIONS_REST_H
#define MIMIC_BOT_ACTIONS_REST_H
#include <stdint.h>

#include "bot/bot.h"
#include "discord/rest.h"

typedef struct actions_rest {
  rest *client; /* borrowed; the loop thread's REST client */
  /* Runtime hooks for !restart and !fetch/!train (may be NULL: the admin is told it is not
   * available). */
  int (*request_restart)(void *hook_user);
  int (*start_job)(void *hook_user, const char *job, uint64_t requested_by, uint64_t channel_id);
  void *hook_user;
  /* Counters, for !status and tests. */
  uint64_t sent, failed;
} actions_rest;

/* Fills *out so that every callback uses ar (which must outlive the bot). */
void actions_rest_bind(actions_rest *ar, bot_actions *out);

#endif
