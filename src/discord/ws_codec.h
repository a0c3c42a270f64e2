/* The pure half of mimic's RFC 6455 WebSocket client: URL parsing, frame encode/decode (masking,
 * fragmentation, the 7/16/64-bit lengths), a message reassembler with named caps and close-code
 * checks, close payloads, and the text of the HTTP upgrade handshake. It does no I/O and keeps no
 * connection state beyond a ws_parser's buffers, so every function here is fuzzed directly
 * (tests/fuzz/fuzz_ws_frame.c, fuzz_ws_codec.c). The connection over libuv and OpenSSL is ws.h.
 * It is a client codec: it speaks no extensions (no permessage-deflate; Discord's zlib-stream is a
 * payload format, see zstream.h). */
#ifndef MIMIC_DISCORD_WS_CODEC_H
#define MIMIC_DISCORD_WS_CODEC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* ---- close frames (pure) ---------------------------------------------------------------------
 */

/* Writes a CLOSE payload: the code (big-endian) and reason cut to 123 bytes at a UTF-8 boundary.
 * Returns its length; 0 for WS_CLOSE_NO_STATUS (1005 is never sent, only reported). */
size_t ws_close_payload(uint8_t out[125], int code, const char *reason);

/* Reads a CLOSE payload already checked by the parser: returns the code (WS_CLOSE_NO_STATUS when
 * the payload is empty) and copies the reason into reason[0..cap), cut at a UTF-8 boundary and
 * NUL-terminated (cap 0: not copied). */
int ws_close_parse(const uint8_t *data, size_t len, char *reason, size_t cap);

#endif
