/* The Discord client: the glue that runs mimic's side of Discord on one I/O loop thread of its
 * own. It asks GET /gateway/bot (REST) for the gateway URL, shard recommendation and identify
 * budget, then runs the gateway with the shard, intents, compression and presence from the
 * configuration, and hands typed events (discord.h) to whoever pops them. The bot layer uses this,
 * never the gateway or REST internals, and never sees JSON.
 *
 * Threads: discord_client_start spawns the I/O loop thread; every other call is safe from any
 * thread. REST calls (api.h) must run on the loop thread: pass them through discord_client_call. */
#ifndef MIMIC_DISCORD_CLIENT_H
#define MIMIC_DISCORD_CLIENT_H
#include "base/base.h"
#include "discord/discord.h"
#include "discord/gateway.h"
#include "discord/rest.h"

typedef struct discord_client discord_client;

/* Creates the client from the configuration (discord.api, discord.intents, discord.shard_id,
 * discord.shard_count, discord.compress, discord.status, discord.activity) and the token (copied).
 * Nothing connects yet. Errors: MIMIC_EINVAL (bad configuration, sentence says which key),
 * MIMIC_ENET, MIMIC_ENOMEM. */
int discord_client_new(const cfg *c, const char *token, discord_client **out) MIMIC_MUST;

/* Starts the I/O loop thread: GET /gateway/bot, then the gateway. Returns 0 or MIMIC_EIO. */
int discord_client_start(discord_client *dc) MIMIC_MUST;

/* The next typed event, waiting at most timeout_ms (< 0: forever); NULL on timeout or after the
 * last event (STOPPED) was taken. Caller frees with discord_event_free. When GET /gateway/bot is
 * refused (bad token), STOPPED arrives with fatal = true and the reason. */
discord_event *discord_client_next_event(discord_client *dc, long timeout_ms);

/* Makes a discord_client_next_event that is waiting (or the next one) return NULL at once, so the
 * consumer can do other work (the bot's completions). Any thread; cheap; never blocks. */
void discord_client_wake(discord_client *dc);

/* Runs fn(rest, user) on the loop thread, soon (REST calls from the bot). Returns 0, or
 * MIMIC_ECANCELLED when the client is stopping (fn never runs). */
int discord_client_call(discord_client *dc, void (*fn)(rest *r, void *user), void *user) MIMIC_MUST;

/* Presence change (see gateway_update_presence). */
int discord_client_presence(discord_client *dc, const char *status,
                            const char *activity) MIMIC_MUST;

/* Asks everything to close (gateway close 1000, REST cancelled); STOPPED follows. Any thread. */
void discord_client_stop(discord_client *dc);

/* Stops, waits for the loop thread and frees everything. Accepts NULL. */
void discord_client_destroy(discord_client *dc);

#endif
