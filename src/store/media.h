/* What the bot saw in the images people posted: one description per attachment (or image embed),
 * written by the bot's vision path so that an image is described once, read back when a channel's
 * memory is refilled, and listed for the media sweep. Not the images themselves: mimic never
 * stores image bytes. */
#ifndef MIMIC_STORE_MEDIA_H
#define MIMIC_STORE_MEDIA_H
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "store/store.h"

#define STORE_MEDIA_TEXT_MAX 4096 /* bytes of a description kept */

typedef struct store_media {
  uint64_t attachment_id; /* the attachment's snowflake (an embed's image: a hash of its URL) */
  uint64_t message_id;
  char url[1024];                         /* the CDN URL it was fetched from (signed: expires) */
  char description[STORE_MEDIA_TEXT_MAX]; /* what the vision model said */
  char model[128];                        /* which model said it */
  int64_t created_ms;
  /* Where its message was posted and by whom, when the message is stored (0 otherwise; guild 0
   * is a direct message). Read only: store_media_put ignores them. */
  uint64_t channel_id, guild_id, author_id;
} store_media;

/* Inserts or replaces the row of m->attachment_id. description is cut to STORE_MEDIA_TEXT_MAX
 * bytes on a UTF-8 boundary. Errors: MIMIC_EINVAL (attachment id 0), MIMIC_EDB. */
int store_media_put(store *s, const store_media *m) MIMIC_MUST;

/* The row of an attachment. MIMIC_ENOTFOUND when there is none, MIMIC_EDB. */
int store_media_get(store *s, uint64_t attachment_id, store_media *out) MIMIC_MUST;

/* Calls fn for each description of a message, oldest first (at most `max`); fn returning non-zero
 * stops and is returned. Returns 0, fn's value or MIMIC_EDB. */
typedef int (*store_media_fn)(const store_media *m, void *user);
int store_media_of_message(store *s, uint64_t message_id, size_t max, store_media_fn fn,
                           void *user) MIMIC_MUST;

/* Rows created before before_ms (the media sweep: oldest first, at most max); fn as above. */
int store_media_older(store *s, int64_t before_ms, size_t max, store_media_fn fn,
                      void *user) MIMIC_MUST;

/* The media sweep's feed for one server: descriptions of messages stored in guild_id (0: direct
 * messages) that come after the cursor (after_ms, after_id) in (created_ms, attachment_id) order,
 * oldest first, at most max; fn as above. A sweep starts at (0, 0) and keeps the last row's
 * (created_ms, attachment_id) as its next cursor. Descriptions of deleted messages are gone. */
int store_media_since(store *s, uint64_t guild_id, int64_t after_ms, uint64_t after_id, size_t max,
                      store_media_fn fn, void *user) MIMIC_MUST;

/* Deletes the descriptions of a message (it was deleted). Returns 0 or MIMIC_EDB. */
int store_media_delete_message(store *s, uint64_t message_id) MIMIC_MUST;

#endif
