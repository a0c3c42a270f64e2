/* An RFC 6455 WebSocket client: URL parsing, frame encode/decode (pure functions, fuzzable), a
 * message reassembler, the HTTP upgrade handshake, and a connection over libuv TCP with TLS through
 * OpenSSL memory BIOs (SNI, certificate and hostname verification against the system store).
 * It is a client only, speaks no extensions (so no permessage-deflate; Discord's zlib-stream is a
 * payload format, see zstream.h), and plain ws:// is accepted only for loopback hosts.
 * Why own framing rather than a library: docs/internals/gateway.md. */
#ifndef MIMIC_DISCORD_WS_H
#define MIMIC_DISCORD_WS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/base.h"

/* Caps on what the peer can make us hold. Discord's largest payloads (GUILD_CREATE of a big guild)
 * are a few MiB; anything past these is refused with close code 1009. */
#define WS_FRAME_MAX     (8u << 20) /* payload of one frame */
#define WS_MESSAGE_MAX   (8u << 20) /* one reassembled (possibly fragmented) message */
#define WS_HANDSHAKE_MAX 16384u     /* the server's HTTP upgrade response */
#define WS_HEADER_MAX    14u        /* largest frame header (client frames are masked) */
#define WS_HOST_MAX      253u
#define WS_PATH_MAX      2048u

enum {
  WS_OP_CONT = 0,
  WS_OP_TEXT = 1,
  WS_OP_BINARY = 2,
  WS_OP_CLOSE = 8,
  WS_OP_PING = 9,
  WS_OP_PONG = 10
};

/* Close codes used by the client itself. */
enum {
  WS_CLOSE_NORMAL = 1000,
  WS_CLOSE_GOING_AWAY = 1001,
  WS_CLOSE_PROTOCOL = 1002,
  WS_CLOSE_NO_STATUS = 1005,
  WS_CLOSE_ABNORMAL = 1006,
  WS_CLOSE_BAD_DATA = 1007,
  WS_CLOSE_TOO_BIG = 1009
};

/* ---- URLs -------------------------------------------------------------------------------------
 */

typedef struct ws_url {
  bool tls;                   /* wss:// */
  char host[WS_HOST_MAX + 1]; /* without brackets for IPv6 literals */
  int port;                   /* explicit or 443/80 */
  char path[WS_PATH_MAX + 1]; /* path and query, "/" at least; the fragment is dropped */
} ws_url;

/* Parses "wss://host[:port][/path][?query]" (or ws://). Errors: MIMIC_EINVAL with a sentence
 * naming what is wrong (scheme, host, port, user info, length). Does not check loopback. */
int ws_url_parse(const char *url, ws_url *out) MIMIC_MUST;

/* True for "localhost", 127.0.0.0/8 and ::1: the only hosts plain ws:// may reach. */
bool ws_host_is_loopback(const char *host);

/* ---- frames (pure) ----------------------------------------------------------------------------
 */

typedef struct ws_frame {
  bool fin;
  int opcode;
  bool masked;
  uint8_t mask[4];
  uint64_t len;      /* payload length */
  size_t header_len; /* the payload starts at p + header_len */
} ws_frame;

/* Parses the frame at p[0..n). Returns 1 when the header and the whole payload are present, 0 when
 * more bytes are needed, or a negative code on a protocol violation: reserved bits set (no
 * extensions are negotiated), unknown opcode, fragmented or over-125-byte control frame, a 64-bit
 * length with the top bit set (MIMIC_EPROTO), or a payload over max_payload (MIMIC_ERANGE, checked
 * from the header alone, before the payload arrives). The payload is not unmasked. */
int ws_frame_parse(const uint8_t *p, size_t n, size_t max_payload, ws_frame *f) MIMIC_MUST;

/* Writes one frame into out[0..cap): header, then payload masked with mask (NULL: unmasked, as a
 * server sends). Returns the bytes written, or 0 when cap < len + WS_HEADER_MAX would not fit. */
size_t ws_frame_encode(uint8_t *out, size_t cap, int opcode, bool fin, const uint8_t mask[4],
                       const void *payload, size_t len);

/* ---- message reassembly (pure) ----------------------------------------------------------------
 */

/* Receives each complete message (TEXT, BINARY; text already checked to be UTF-8) and each control
 * frame (CLOSE, PING, PONG) in order. data is borrowed for the call. Return non-zero to stop the
 * feed (ws_parser_feed then returns 0 and drops the rest of this input). */
typedef int (*ws_msg_fn)(void *user, int opcode, const uint8_t *data, size_t len);

typedef struct ws_parser {
  buf in;     /* unconsumed input: at most one frame */
  buf msg;    /* fragments of the message being reassembled */
  int msg_op; /* TEXT/BINARY while a fragmented message is open, else 0 */
  size_t max_frame, max_message;
  bool accept_masked; /* false for a client: servers must not mask */
  int close_code;     /* after a failed feed: 1002, 1007 or 1009, to send to the peer */
} ws_parser;

void ws_parser_init(ws_parser *p, size_t max_frame, size_t max_message);
void ws_parser_free(ws_parser *p);
/* Feeds bytes received from the peer. Returns 0, or a negative code with err_msg set and
 * p->close_code chosen (1002 protocol error, 1007 invalid UTF-8 in a text message or close reason,
 * 1009 frame or message over its cap); after a failure the parser must not be fed again. */
int ws_parser_feed(ws_parser *p, const uint8_t *data, size_t n, ws_msg_fn fn,
                   void *user) MIMIC_MUST;

/* ---- the opening handshake (pure) -------------------------------------------------------------
 */

/* A fresh random Sec-WebSocket-Key (16 random bytes, base64, NUL-terminated). */
void ws_key_new(char key[25]);
/* The Sec-WebSocket-Accept value a server must answer to key. */
void ws_accept_for(const char *key, char out[29]);
/* Appends the client's upgrade request for u to b. */
int ws_request_build(buf *b, const ws_url *u, const char *key, const char *user_agent) MIMIC_MUST;
/* Checks the server's response in p[0..n). Returns 0 when the header is not complete yet, the
 * header length (> 0) when it is a valid 101 upgrade for key, or a negative code: MIMIC_EPROTO for
 * any other status (the sentence quotes the status line), a missing Upgrade/Connection header or a
 * wrong Sec-WebSocket-Accept; MIMIC_ERANGE over WS_HANDSHAKE_MAX. */
long ws_response_check(const char *p, size_t n, const char *key) MIMIC_MUST;

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
