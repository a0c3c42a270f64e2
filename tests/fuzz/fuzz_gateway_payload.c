/* Fuzz target: a gateway message as the gateway sees it. The bytes go through zlib-stream (which
 * must refuse garbage cleanly), then are split into JSON payloads the way gateway.c splits a
 * message holding several, and every payload's d is built into every typed event mimic knows, so
 * each field reader meets every shape. Each payload (and its d) is also read as each REST page
 * the discord layer types: messages, users, guilds, channels and thread lists. */
#include <stdint.h>
#include <string.h>

#include "discord/discord_int.h"
#include "discord/zstream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int payloads = 0;
  zstream *z = zstream_new(1 << 16, 1 << 18);
  if (z) {
    const char *out;
    size_t n;
    size_t cut = size / 2;
    if (zstream_feed(z, data, cut, &out, &n) >= 0 &&
        zstream_feed(z, data + cut, size - cut, &out, &n) > 0 && n)
      payloads += out[0] == '{';
    zstream_destroy(z);
  }
  size_t off = 0;
  payloads = 0;
  while (off < size && payloads < 8) {
    json_error_t e;
    json_t *v = json_loadb((const char *)data + off, size - off,
                           JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &e);
    if (!v) break;
    payloads++;
    off += e.position > 0 ? (size_t)e.position : size - off;
    const json_t *d = json_object_get(v, "d");
    const char *t = jv_str(v, "t", NULL);
    discord_event *ev = NULL;
    if (t && discord__event_parse(t, d, jv_int(v, "s", 0), &ev) == 0) discord_event_free(ev);
    for (int k = 0; k < 2; k++) {
      const json_t *x = k ? d : v;
      discord_messages *pm = NULL;
      discord_users *pu = NULL;
      discord_guilds *pg = NULL;
      discord_channels *pc = NULL;
      if (discord__messages_of(x, &pm) == 0) discord_messages_free(pm);
      if (discord__users_of(x, &pu) == 0) discord_users_free(pu);
      if (discord__guilds_of(x, &pg) == 0) discord_guilds_free(pg);
      if (discord__channels_of(x, &pc) == 0) discord_channels_free(pc);
    }
    for (int ty = DISCORD_EV_READY; ty < DISCORD_EV_STOPPED; ty++) {
      ev = NULL;
      if (discord__event_parse(discord_event_name((discord_event_type)ty), d ? d : v, 1, &ev) == 0)
        discord_event_free(ev);
    }
    json_decref(v);
  }
  err_clear();
  return 0;
}
