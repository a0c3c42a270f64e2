/* Fuzz target: everything the WebSocket client parses from the network before any JSON: frames and
 * message reassembly (byte stream split at a data-chosen point, small caps so the cap paths run),
 * the server's upgrade response, and URLs. */
#include <stdint.h>
#include <string.h>

#include "discord/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *user, int op, const uint8_t *d, size_t len) {
  size_t *total = user;
  *total += len + (size_t)op;
  if (len) *total += d[0] + d[len - 1]; /* touch both ends */
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t total = 0;
  ws_frame f;
  int rc = ws_frame_parse(data, size, 4096, &f);
  total += (size_t)(rc + 100);
  ws_parser p;
  ws_parser_init(&p, 4096, 8192);
  size_t cut = size ? data[0] % (size + 1) : 0;
  if (ws_parser_feed(&p, data, cut, sink, &total) == 0 &&
      ws_parser_feed(&p, data + cut, size - cut, sink, &total) != 0)
    total++;
  ws_parser_free(&p);
  if (ws_response_check((const char *)data, size, "dGhlIHNhbXBsZSBub25jZQ==") > 0) total++;
  char url[512];
  size_t n = size < sizeof url - 1 ? size : sizeof url - 1;
  memcpy(url, data, n);
  url[n] = 0;
  ws_url u;
  if (ws_url_parse(url, &u) == 0) total += (size_t)u.port;
  (void)ws_host_is_loopback(url);
  err_clear();
  return total == (size_t)-1; /* keeps total observable */
}
