/* Conversation memory: the last few messages of each channel, per persona, as the bot will show
 * them to the model (mentions already rendered as names). Entries expire after a TTL and each
 * (channel, persona) keeps at most max_msgs of them, so memory is bounded whatever the traffic.
 * It is a cache over the store: after a restart the bot refills a channel from stored messages.
 * Not thread-safe: the bot thread owns it. */
#ifndef MIMIC_BOT_MEMORY_H
#define MIMIC_BOT_MEMORY_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes kept of one message (longer text is cut on a UTF-8 boundary). */
#define MEMORY_TEXT_MAX 8192
/* Most messages per (channel, persona), whatever the setting says. */
#define MEMORY_MSGS_MAX 200

typedef struct memory_entry {
  uint64_t id; /* message id (0 for an entry the bot made up) */
  uint64_t author_id;
  int64_t ts_ms; /* when it was posted */
  bool self;     /* written by the persona this memory belongs to (an assistant turn) */
  char *name;    /* speaker's shown name; owned by the memory */
  char *text;    /* rendered content; owned by the memory */
} memory_entry;

typedef struct memory memory;

/* max_msgs: 1..MEMORY_MSGS_MAX (clamped); ttl_ms <= 0 disables expiry. Never NULL. */
memory *memory_new(int max_msgs, int64_t ttl_ms);
void memory_destroy(memory *m); /* accepts NULL */
/* New limits; takes effect at the next add or prune. */
void memory_set_limits(memory *m, int max_msgs, int64_t ttl_ms);

/* Appends a message (name and text copied; text cut to MEMORY_TEXT_MAX) to (channel, persona),
 * dropping the oldest entries over the cap. persona NULL means "". Entries arrive in time order in
 * practice; an out-of-order one is inserted at its place by id. A second add of the same id
 * replaces the text. */
void memory_add(memory *m, uint64_t channel_id, const char *persona, uint64_t id,
                uint64_t author_id, int64_t ts_ms, bool self, const char *name, const char *text);
/* Updates the text of a message wherever it is remembered (MESSAGE_UPDATE). */
void memory_edit(memory *m, uint64_t channel_id, uint64_t id, const char *text);
/* Removes a message wherever it is remembered (MESSAGE_DELETE). */
void memory_remove(memory *m, uint64_t channel_id, uint64_t id);
/* The gateway echoed one of the persona's own posts: drops the placeholder (id 0) remembered at
 * send time with the same text, else the oldest placeholder (a long reply comes back in parts).
 * The caller then adds the echo with its real id. */
void memory_settle(memory *m, uint64_t channel_id, const char *persona, const char *text);
/* Forgets everything (channel, persona) remembers (!clear); it stays known, so no refill. */
void memory_clear(memory *m, uint64_t channel_id, const char *persona);
/* Removes every message by a user in every channel (!forgetme, opt-out, exclusion). */
void memory_forget_user(memory *m, uint64_t user_id);

/* True when (channel, persona) has been filled or added to since it last expired, so the caller
 * knows whether to refill it from the store after a restart. */
bool memory_known(const memory *m, uint64_t channel_id, const char *persona);
/* Marks (channel, persona) known even when nothing was added (the store had nothing recent). */
void memory_mark_known(memory *m, uint64_t channel_id, const char *persona);

/* The newest remembered messages of (channel, persona) younger than the TTL at now_ms with ids up
 * to until_id (0 = all; placeholders with id 0 always count), oldest first: up to cap pointers into
 * out. Returns how many.
 * The pointers are borrowed until the next change to the memory. */
size_t memory_get(memory *m, uint64_t channel_id, const char *persona, int64_t now_ms,
                  uint64_t until_id, const memory_entry **out, size_t cap);

/* Drops entries older than the TTL and channels left empty; returns the entries dropped. */
size_t memory_prune(memory *m, int64_t now_ms);

/* Channels (per persona) held, entries and bytes of text held. */
void memory_usage(const memory *m, size_t *channels, size_t *entries, size_t *bytes);

#endif
