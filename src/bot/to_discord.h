/* The bot's requests (bot.h: bot_send, bot_persona_send, bot_response, bot_followup) as copied
 * Discord actions (discord/actions.h: discord_action): made on the bot thread, run on the loop
 * thread with discord_action_run. Each maker copies everything the request points to (strings,
 * rows, options, choices, file bytes), so the bot's buffers may go away as soon as it returns; it
 * never fails (allocation failure aborts). A request the Discord layer finds invalid is refused
 * when the action runs. The runtime (runtime.c) is the caller; tests run the copies against the
 * REST double. */
#ifndef MIMIC_BOT_TO_DISCORD_H
#define MIMIC_BOT_TO_DISCORD_H
#include "bot/bot.h"
#include "discord/actions.h"

/* A message (reply reference, rows and files included); allowed_mentions pings nobody but the
 * replied user when m->ping_replied_user. */
discord_action *bot_action_send(const bot_send *m);
/* A direct message to user_id (the DM channel is opened when the action runs). */
discord_action *bot_action_dm(uint64_t user_id, const char *text);
/* A post through the channel's persona webhook. */
discord_action *bot_action_persona_send(const bot_persona_send *m);
/* The answer to an interaction. */
discord_action *bot_action_respond(const bot_response *r);
/* A follow-up to an interaction. */
discord_action *bot_action_followup(const bot_followup *f);
/* The edit of an interaction's original response. */
discord_action *bot_action_edit_original(const bot_followup *f);

#endif
