/* Speaking as personas, what the store keeps of it: the persona webhooks mimic holds per channel
 * (a cache of Discord's: their tokens are secrets, never logged or shown), which persona posted
 * which message (so a reply to it goes to that persona and the bot never answers its own
 * personas), and whom each person chose to talk to in DMs. The persona rows themselves are
 * store/persona.h's. Threads: as store.h (one connection per thread). */
#ifndef MIMIC_STORE_WEBHOOKS_H
#define MIMIC_STORE_WEBHOOKS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_HOOK_KEY_MAX   64  /* bytes of a webhook's key ("" the channel's shared one) */
#define STORE_HOOK_TOKEN_MAX 127 /* bytes of a webhook token */

typedef struct store_hook {
  uint64_t channel_id;
  char key[STORE_HOOK_KEY_MAX + 1];
  uint64_t webhook_id;
  char token[STORE_HOOK_TOKEN_MAX + 1];
  int64_t uses, last_used_ms;
} store_hook;

/* Saves (or replaces) the webhook of (channel_id, key); a webhook id saved under another key or
 * channel is moved. Errors: MIMIC_EINVAL (no channel, id or token; a key or token too long),
 * MIMIC_EDB. */
int store_hook_put(store *s, const store_hook *h) MIMIC_MUST;
/* Counts one use (uses + 1, last_used_ms). Absent is not an error. */
int store_hook_used(store *s, uint64_t webhook_id, int64_t uses, int64_t at_ms) MIMIC_MUST;
/* Forgets a webhook by id (deleted on Discord). Absent is not an error. */
int store_hook_delete(store *s, uint64_t webhook_id) MIMIC_MUST;
/* Every saved webhook, by channel and key. Non-zero from fn stops the walk and is returned. */
typedef int (*store_hook_fn)(const store_hook *h, void *user);
int store_hook_each(store *s, store_hook_fn fn, void *user) MIMIC_MUST;
/* Whether webhook_id is one of mimic's persona webhooks. */
bool store_hook_is_ours(store *s, uint64_t webhook_id);

/* Records that persona_id posted message_id in channel_id (through webhook_id; 0 = as the bot
 * user, with its name in front). A second record of the same message replaces the first. */
int store_persona_msg_put(store *s, uint64_t message_id, uint64_t channel_id, int64_t persona_id,
                          uint64_t webhook_id, int64_t ts_ms) MIMIC_MUST;
/* The persona that posted message_id: 0 and *persona_id set, or MIMIC_ENOTFOUND (no message) when
 * no persona did. */
int store_persona_msg_get(store *s, uint64_t message_id, int64_t *persona_id) MIMIC_MUST;
/* Forgets a message's record (it was deleted). Absent is not an error. */
int store_persona_msg_delete(store *s, uint64_t message_id) MIMIC_MUST;
/* Drops the records older than before_ms; *n (may be NULL) gets how many. */
int store_persona_msg_prune(store *s, int64_t before_ms, int64_t *n) MIMIC_MUST;

/* Whom user_id talks to in DMs: sets (persona_id > 0) or clears (0, the bot user). */
int store_dm_choice_set(store *s, uint64_t user_id, int64_t persona_id, int64_t at_ms) MIMIC_MUST;
/* The chosen persona id, or 0 when none was chosen (a store error also answers 0, logged). */
int64_t store_dm_choice_get(store *s, uint64_t user_id);

#endif
