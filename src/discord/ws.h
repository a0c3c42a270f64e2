/* mimic's WebSocket client connection: libuv TCP with TLS through OpenSSL memory BIOs (SNI,
 * certificate and hostname verification against the system store), the HTTP upgrade, and frames
 * in and out through the pure codec (ws_codec.h). It is a client only, and plain ws:// is
 * accepted only for loopback hosts. Why own framing rather than a library:
 * docs/internals/gateway.md. */
#ifndef MIMIC_DISCORD_WS_H
#define MIMIC_DISCORD_WS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/base.h"
#include "discord/ws_codec.h"

/* ---- the connection ---------------------------------------------------------------------------
 */

typedef struct ws_conn ws_conn;

typedef struct ws_callbacks {
  /* The upgrade succeeded; sends are allowed from now on. */
  void (*on_open)(ws_conn *c, void *user);
  /* One complete message (binary false: TEXT). data is borrowed for the call. */
  void (*on_message)(ws_conn *c, void *user, bool binary, const uint8_t *data, size_t len);
  /* Called exactly once, last, on the loop thread: code is the peer's close code (or 1006 when the
   * connection ended without one, 1005 when its close frame had none), reason its text (may be "").
   * why is one sentence on what ended it (never NULL). The connection frees itself when this
   * returns: drop every pointer to it. */
  void (*on_closed)(ws_conn *c, void *user, int code, const char *reason, const char *why);
} ws_callbacks;

typedef struct ws_options {
  size_t max_frame;       /* 0: WS_FRAME_MAX */
  size_t max_message;     /* 0: WS_MESSAGE_MAX */
  unsigned timeout_ms;    /* connect + TLS + upgrade; 0: 15000 */
  const char *ca_file;    /* extra trust anchors (PEM), e.g. a test CA; NULL: system store only */
  const char *user_agent; /* NULL: "mimic/<version>" */
} ws_options;

/* Starts connecting to url on loop (DNS, TCP, TLS, upgrade happen asynchronously). Returns 0 and
 * *out, after which exactly one on_closed will follow (and on_open first if the upgrade worked);
 * or a negative code with no callback ever: MIMIC_EINVAL for a bad URL or ws:// to a non-loopback
 * host, MIMIC_ENET when the socket or TLS context cannot be set up. Loop thread only. */
int ws_conn_open(uv_loop_t *loop, const char *url, const ws_options *opt, const ws_callbacks *cb,
                 void *user, ws_conn **out) MIMIC_MUST;

/* Sends one unfragmented TEXT or BINARY message (masked). Returns 0, MIMIC_EIO when the connection
 * is not open, MIMIC_EBUSY when over 4 MiB are already waiting to be written. Loop thread only. */
int ws_conn_send(ws_conn *c, int opcode, const void *data, size_t len) MIMIC_MUST;

/* Starts the closing handshake with code and reason (truncated to 123 bytes); the TCP connection
 * is dropped if the peer does not answer within 2 s. on_closed follows. Loop thread only. */
void ws_conn_close(ws_conn *c, int code, const char *reason);

/* Drops the TCP connection without a closing handshake (a zombie connection). on_closed follows
 * with code 1006 and why. Loop thread only. */
void ws_conn_abort(ws_conn *c, const char *why);

/* True once the upgrade succeeded and until a close starts. */
bool ws_conn_is_open(const ws_conn *c);

#endif
