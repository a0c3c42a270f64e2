/* Internals shared by the discord layer's files (not for the bot layer): JSON -> typed event
 * parsing and the per-event arena. */
#ifndef MIMIC_DISCORD_INT_H
#define MIMIC_DISCORD_INT_H
#include <jansson.h>

#include "base/base.h"
#include "discord/discord.h"
#include "discord/gateway.h"

/* Most bytes one event's arena may hold (strings and arrays copied out of one dispatch). A
 * GUILD_CREATE of a very large guild stays well under this; anything above is refused. */
#define DISCORD_EVENT_ARENA_MAX (32u << 20)

/* Builds a typed event from a dispatch: t is the dispatch name, d its data, seq its sequence
 * number. On success *out is the event (caller frees with discord_event_free), or NULL when t is
 * not an event mimic handles (that is not an error). Every field is optional: absent, null or
 * mistyped fields read as zero or "". Invalid UTF-8 cannot reach here (Jansson rejects it).
 * Errors: MIMIC_EFORMAT when d is not an object, MIMIC_ERANGE over the arena cap, MIMIC_ENOMEM. */
int discord__event_parse(const char *t, const json_t *d, int64_t seq,
                         discord_event **out) MIMIC_MUST;

/* discord_messages_parse / discord_users_parse over parsed JSON (borrowed): for REST answers. */
int discord__messages_of(const json_t *arr, discord_messages **out) MIMIC_MUST;
int discord__users_of(const json_t *arr, discord_users **out) MIMIC_MUST;
int discord__guilds_of(const json_t *arr, discord_guilds **out) MIMIC_MUST;
/* A channel array, or a thread list object {threads, has_more}. */
int discord__channels_of(const json_t *body, discord_channels **out) MIMIC_MUST;

/* A STOPPED event carrying message (copied). NULL on OOM. */
discord_event *discord__event_stopped(int close_code, bool fatal, const char *message);

/* The outgoing gateway rate limit as pure logic (gateway.c drives it with the loop's clock; tests
 * with their own): GATEWAY_SEND_LIMIT payloads per GATEWAY_SEND_WINDOW_MS per connection, of which
 * GATEWAY_HEARTBEAT_RESERVE are kept for heartbeats so a burst of presence updates can never make
 * a heartbeat late. */
typedef struct gw_ratelimit {
  uint64_t t[GATEWAY_SEND_LIMIT]; /* send times, oldest at head */
  size_t head, n;
} gw_ratelimit;

void gw__rl_reset(gw_ratelimit *r);
/* Milliseconds to wait before one more payload may be sent (0: now). */
uint64_t gw__rl_wait(gw_ratelimit *r, uint64_t now_ms, bool heartbeat);
/* Records one send at now_ms (call only when gw__rl_wait said 0). */
void gw__rl_record(gw_ratelimit *r, uint64_t now_ms);

#endif
