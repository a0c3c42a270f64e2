/* The bot's eyes: what the runtime (or a test) plugs in so the bot can describe the images people
 * post. The bot fetches each image attachment or image embed from Discord's CDN (discord/cdn.h,
 * allow-listed), decodes it (vision/image.h, capped), asks `describe` what is in it and puts the
 * answer into the conversation as what that person showed ("[image: ...]"), so any persona and any
 * backend can answer about it. The fetch, the decode and the describe run on the bot's vision
 * worker thread, never on the gateway's or the bot's thread; the message's reply waits for its
 * images (and goes out as text if they fail). See docs/vision.md. */
#ifndef MIMIC_BOT_VISION_H
#define MIMIC_BOT_VISION_H
#include "base/err.h"
#include "discord/cdn.h"
#include "vision/image.h"

typedef struct bot_vision {
  void *user; /* passed to every callback; must outlive the bot */
  /* Describes img (borrowed) answering prompt; *out gets the description (NUL-terminated, caller
   * mem_frees). Runs on the vision worker thread only, one call at a time. Returns 0 or a
   * negative MIMIC_E* code with err_set (the image is then named, not described). Required. */
  int (*describe)(void *user, const vis_image *img, const char *prompt, char **out);
  /* Downloads url; NULL: discord_cdn_fetch (the allow-list is checked either way, first). Runs
   * on the vision worker thread. */
  int (*fetch)(void *user, const discord_cdn_opts *o, const char *url, discord_cdn_file *out);
  /* Called on the worker after vision.idle_unload_s seconds without an image (not again until one
   * more image was described), so the runtime can unload its model; NULL: nothing to unload. */
  void (*idle)(void *user);
  /* Called on the bot thread when the bot stops, while describe may be running on the worker:
   * makes that call, and any later one, return soon with an error, so that stopping never waits
   * for a long encode (tens of seconds on two cores). NULL: stopping waits for it. */
  void (*cancel)(void *user);
  const char *model_name; /* stored with each description; NULL: "vision" (copied) */
} bot_vision;

#endif
