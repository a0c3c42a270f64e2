/* Fuzz target: the WebSocket codec's round trip. The input chooses an opcode, a fragment size, a
 * mask and a payload; the payload is encoded as a (possibly fragmented, masked) message, with a
 * PING between fragments, fed to a parser that accepts masked frames in input-chosen slices, and
 * must come back byte for byte (a TEXT payload that is not UTF-8 must be refused with 1007). Also
 * a close payload must read back as written. A mismatch aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "discord/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct got {
  buf msg;
  int op;
  int messages, pings;
} got;

static int sink(void *user, int op, const uint8_t *d, size_t len) {
  got *g = user;
  if (op == WS_OP_PING) {
    g->pings++;
    return 0;
  }
  g->messages++;
  g->op = op;
  buf_reset(&g->msg);
  if (buf_append(&g->msg, d, len)) abort();
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 7) return 0;
  int op = (data[0] & 1) ? WS_OP_BINARY : WS_OP_TEXT;
  size_t frag = 1 + data[1] % 64;  /* bytes per fragment */
  size_t slice = 1 + data[2] % 32; /* bytes per feed */
  const uint8_t *mask = data + 3;
  const uint8_t *pl = data + 7;
  size_t n = size - 7;

  /* Encode: fragments of frag bytes, a PING after the first one when there are several. */
  size_t cap = n + (n / frag + 2) * (WS_HEADER_MAX + 8) + 64;
  uint8_t *wire = malloc(cap);
  size_t w = 0, off = 0;
  int pings_sent = 0;
  do {
    size_t take = n - off < frag ? n - off : frag;
    bool fin = off + take == n;
    int fop = off == 0 ? op : WS_OP_CONT;
    size_t k = ws_frame_encode(wire + w, cap - w, fop, fin, mask, pl + off, take);
    if (!k) abort();
    w += k;
    off += take;
    if (off == take && !fin) {
      k = ws_frame_encode(wire + w, cap - w, WS_OP_PING, true, mask, "p", 1);
      if (!k) abort();
      w += k;
      pings_sent++;
    }
  } while (off < n);

  got g = {.op = 0};
  buf_init(&g.msg, 1 << 20);
  ws_parser p;
  ws_parser_init(&p, 4096, 1 << 20);
  p.accept_masked = true;
  int rc = 0;
  for (size_t i = 0; i < w && rc == 0; i += slice)
    rc = ws_parser_feed(&p, wire + i, w - i < slice ? w - i : slice, sink, &g);
  bool text_ok = op == WS_OP_BINARY || utf8_valid((const char *)pl, n);
  if (text_ok) {
    if (rc != 0 || g.messages != 1 || g.op != op || g.pings != pings_sent || g.msg.len != n ||
        (n && memcmp(g.msg.data, pl, n) != 0))
      abort();
  } else if (rc == 0 || p.close_code != WS_CLOSE_BAD_DATA) {
    abort();
  }
  ws_parser_free(&p);
  buf_free(&g.msg);
  free(wire);

  /* Close payloads: code and reason (cut at 123 bytes on a UTF-8 boundary) read back. */
  int code = 1000 + (int)((data[4] << 8 | data[5]) % 4000);
  char reason[200];
  size_t rl = n < sizeof reason - 1 ? n : sizeof reason - 1;
  memcpy(reason, pl, rl);
  reason[rl] = 0;
  uint8_t cp[125];
  size_t cn = ws_close_payload(cp, code, reason);
  char back[124];
  int code2 = ws_close_parse(cp, cn, back, sizeof back);
  if (code != WS_CLOSE_NO_STATUS &&
      (code2 != code || cn > 125 || strncmp(back, reason, strlen(back)) != 0))
    abort();
  err_clear();
  return 0;
}
