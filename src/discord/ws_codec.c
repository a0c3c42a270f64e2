/* The pure half of the WebSocket client (see ws_codec.h): URLs, frame encode/decode, message
 * reassembly with its caps and close-code checks, close payloads and the upgrade handshake's text.
 * No sockets, no timers, no callbacks into a connection: everything here is a function of its
 * arguments, which is what lets the fuzzers drive it. The connection is ws.c. */
#include "discord/ws_codec.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include <strings.h>

/* ---- URLs -------------------------------------------------------------------------------------
 */

int ws_url_parse(const char *url, ws_url *out) {
  memset(out, 0, sizeof *out);
  if (!url) return err_set(MIMIC_EINVAL, "no WebSocket URL given");
  const char *p;
  if (strncasecmp(url, "wss://", 6) == 0) {
    out->tls = true;
    p = url + 6;
  } else if (strncasecmp(url, "ws://", 5) == 0) {
    p = url + 5;
  } else {
    return err_set(MIMIC_EINVAL, "'%.80s' is not a WebSocket URL (it must start with wss://)", url);
  }
  size_t auth_len = strcspn(p, "/?#");
  if (memchr(p, '@', auth_len))
    return err_set(MIMIC_EINVAL, "WebSocket URL must not carry a user name or password");
  const char *host = p, *port = NULL;
  size_t host_len;
  if (*p == '[') {
    const char *end = memchr(p, ']', auth_len);
    if (!end) return err_set(MIMIC_EINVAL, "WebSocket URL has an unterminated [IPv6] host");
    host = p + 1;
    host_len = (size_t)(end - host);
    if (end + 1 < p + auth_len) {
      if (end[1] != ':') return err_set(MIMIC_EINVAL, "WebSocket URL: junk after the [IPv6] host");
      port = end + 2;
    }
  } else {
    const char *colon = memchr(p, ':', auth_len);
    host_len = colon ? (size_t)(colon - p) : auth_len;
    if (colon) port = colon + 1;
  }
  if (host_len == 0) return err_set(MIMIC_EINVAL, "WebSocket URL has no host");
  if (host_len > WS_HOST_MAX) return err_set(MIMIC_EINVAL, "WebSocket URL host is too long");
  for (size_t i = 0; i < host_len; i++) {
    unsigned char ch = (unsigned char)host[i];
    if (ch <= 0x20 || ch >= 0x7f)
      return err_set(MIMIC_EINVAL, "WebSocket URL host has a bad character");
  }
  memcpy(out->host, host, host_len);
  out->host[host_len] = 0;
  out->port = out->tls ? 443 : 80;
  if (port) {
    const char *pend = p + auth_len;
    long v = 0;
    if (port == pend) return err_set(MIMIC_EINVAL, "WebSocket URL has an empty port");
    for (const char *q = port; q < pend; q++) {
      if (*q < '0' || *q > '9' || v > 65535)
        return err_set(MIMIC_EINVAL, "WebSocket URL has a bad port");
      v = v * 10 + (*q - '0');
    }
    if (v < 1 || v > 65535) return err_set(MIMIC_EINVAL, "WebSocket URL port out of range");
    out->port = (int)v;
  }
  const char *rest = p + auth_len;
  size_t rest_len = strcspn(rest, "#");
  if (rest_len + 1 > WS_PATH_MAX) return err_set(MIMIC_EINVAL, "WebSocket URL path is too long");
  size_t k = 0;
  if (rest_len == 0 || rest[0] != '/') out->path[k++] = '/';
  for (size_t i = 0; i < rest_len; i++) {
    unsigned char ch = (unsigned char)rest[i];
    if (ch <= 0x20 || ch >= 0x7f)
      return err_set(MIMIC_EINVAL, "WebSocket URL path has a bad character");
    out->path[k++] = (char)ch;
  }
  out->path[k] = 0;
  return 0;
}

bool ws_host_is_loopback(const char *host) {
  if (!host) return false;
  if (strcasecmp(host, "localhost") == 0) return true;
  struct in_addr a4;
  if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  struct in6_addr a6;
  if (inet_pton(AF_INET6, host, &a6) == 1) return memcmp(&a6, &in6addr_loopback, sizeof a6) == 0;
  return false;
}

/* ---- frames -----------------------------------------------------------------------------------
 */

int ws_frame_parse(const uint8_t *p, size_t n, size_t max_payload, ws_frame *f) {
  if (n < 2) return 0;
  uint8_t b0 = p[0], b1 = p[1];
  if (b0 & 0x70) return err_set(MIMIC_EPROTO, "WebSocket frame has reserved bits set");
  int op = b0 & 0x0f;
  if (!(op <= WS_OP_BINARY || (op >= WS_OP_CLOSE && op <= WS_OP_PONG)))
    return err_set(MIMIC_EPROTO, "WebSocket frame has unknown opcode %d", op);
  f->fin = (b0 & 0x80) != 0;
  f->opcode = op;
  f->masked = (b1 & 0x80) != 0;
  uint64_t len = b1 & 0x7f;
  size_t h = 2;
  if (len == 126) {
    if (n < 4) return 0;
    len = ((uint64_t)p[2] << 8) | p[3];
    h = 4;
  } else if (len == 127) {
    if (n < 10) return 0;
    len = 0;
    for (int i = 0; i < 8; i++) len = (len << 8) | p[2 + i];
    if (len >> 63) return err_set(MIMIC_EPROTO, "WebSocket frame length has its top bit set");
    h = 10;
  }
  if (op >= WS_OP_CLOSE) {
    if (!f->fin) return err_set(MIMIC_EPROTO, "WebSocket control frame is fragmented");
    if (len > 125) return err_set(MIMIC_EPROTO, "WebSocket control frame longer than 125 bytes");
  }
  if (len > max_payload)
    return err_set(MIMIC_ERANGE, "WebSocket frame of %llu bytes exceeds the %zu-byte cap",
                   (unsigned long long)len, max_payload);
  if (f->masked) {
    if (n < h + 4) return 0;
    memcpy(f->mask, p + h, 4);
    h += 4;
  } else {
    memset(f->mask, 0, 4);
  }
  f->len = len;
  f->header_len = h;
  if (n - h < len) return 0;
  return 1;
}

size_t ws_frame_encode(uint8_t *out, size_t cap, int opcode, bool fin, const uint8_t mask[4],
                       const void *payload, size_t len) {
  size_t h = 2 + (len > 65535 ? 8 : len > 125 ? 2 : 0) + (mask ? 4 : 0);
  if (cap < h || cap - h < len) return 0;
  out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
  uint8_t mbit = mask ? 0x80 : 0;
  size_t i = 2;
  if (len > 65535) {
    out[1] = mbit | 127;
    for (int k = 7; k >= 0; k--) out[i++] = (uint8_t)((uint64_t)len >> (8 * k));
  } else if (len > 125) {
    out[1] = mbit | 126;
    out[i++] = (uint8_t)(len >> 8);
    out[i++] = (uint8_t)len;
  } else {
    out[1] = (uint8_t)(mbit | len);
  }
  const uint8_t *src = payload;
  if (mask) {
    memcpy(out + i, mask, 4);
    i += 4;
    for (size_t k = 0; k < len; k++) out[i + k] = src[k] ^ mask[k & 3];
  } else if (len) {
    memcpy(out + i, src, len);
  }
  return i + len;
}

/* ---- message reassembly -----------------------------------------------------------------------
 */

/* Input is taken in slices so the input buffer never holds more than one frame plus one slice. */
#define FEED_SLICE 65536u

void ws_parser_init(ws_parser *p, size_t max_frame, size_t max_message) {
  memset(p, 0, sizeof *p);
  p->max_frame = max_frame ? max_frame : WS_FRAME_MAX;
  p->max_message = max_message ? max_message : WS_MESSAGE_MAX;
  buf_init(&p->in, p->max_frame + WS_HEADER_MAX + FEED_SLICE);
  buf_init(&p->msg, p->max_message);
}

void ws_parser_free(ws_parser *p) {
  if (!p) return;
  buf_free(&p->in);
  buf_free(&p->msg);
}

static int parser_fail(ws_parser *p, int code, int rc) {
  p->close_code = code;
  return rc;
}

static bool close_code_valid(int code) {
  if (code >= 3000 && code <= 4999) return true;
  return code >= 1000 && code <= 1014 && code != 1004 && code != 1005 && code != 1006;
}

/* Handles one complete frame; returns 1 to stop (the callback asked), 0 to go on, < 0 on error. */
static int parser_frame(ws_parser *p, const ws_frame *f, uint8_t *pl, ws_msg_fn fn, void *user) {
  size_t len = (size_t)f->len;
  if (f->masked)
    for (size_t k = 0; k < len; k++) pl[k] ^= f->mask[k & 3];
  switch (f->opcode) {
  case WS_OP_CLOSE:
    if (len == 1)
      return parser_fail(p, WS_CLOSE_PROTOCOL,
                         err_set(MIMIC_EPROTO, "WebSocket close frame of 1 byte"));
    if (len >= 2) {
      int code = (pl[0] << 8) | pl[1];
      if (!close_code_valid(code))
        return parser_fail(p, WS_CLOSE_PROTOCOL,
                           err_set(MIMIC_EPROTO, "WebSocket close code %d is not valid", code));
      if (!utf8_valid((const char *)pl + 2, len - 2))
        return parser_fail(p, WS_CLOSE_BAD_DATA,
                           err_set(MIMIC_EFORMAT, "WebSocket close reason is not UTF-8"));
    }
    return fn(user, WS_OP_CLOSE, pl, len) ? 1 : 0;
  case WS_OP_PING:
  case WS_OP_PONG: return fn(user, f->opcode, pl, len) ? 1 : 0;
  case WS_OP_TEXT:
  case WS_OP_BINARY:
    if (p->msg_op)
      return parser_fail(
          p, WS_CLOSE_PROTOCOL,
          err_set(MIMIC_EPROTO, "WebSocket message started inside a fragmented one"));
    if (f->fin) {
      if (len > p->max_message)
        return parser_fail(p, WS_CLOSE_TOO_BIG,
                           err_set(MIMIC_ERANGE,
                                   "WebSocket message of %zu bytes exceeds the %zu-byte cap", len,
                                   p->max_message));
      if (f->opcode == WS_OP_TEXT && !utf8_valid((const char *)pl, len))
        return parser_fail(p, WS_CLOSE_BAD_DATA,
                           err_set(MIMIC_EFORMAT, "WebSocket text message is not valid UTF-8"));
      return fn(user, f->opcode, pl, len) ? 1 : 0;
    }
    p->msg_op = f->opcode;
    buf_reset(&p->msg);
    /* fall through: the first fragment is appended like a continuation */
    /* FALLTHROUGH */
  case WS_OP_CONT: {
    if (!p->msg_op)
      return parser_fail(p, WS_CLOSE_PROTOCOL,
                         err_set(MIMIC_EPROTO, "WebSocket continuation frame without a message"));
    if (buf_append(&p->msg, pl, len))
      return parser_fail(p, WS_CLOSE_TOO_BIG,
                         err_set(MIMIC_ERANGE,
                                 "fragmented WebSocket message exceeds the %zu-byte cap",
                                 p->max_message));
    if (!f->fin) return 0;
    int op = p->msg_op;
    p->msg_op = 0;
    if (op == WS_OP_TEXT && !utf8_valid(p->msg.data ? p->msg.data : "", p->msg.len))
      return parser_fail(p, WS_CLOSE_BAD_DATA,
                         err_set(MIMIC_EFORMAT, "WebSocket text message is not valid UTF-8"));
    int stop = fn(user, op, (const uint8_t *)(p->msg.data ? p->msg.data : ""), p->msg.len);
    buf_reset(&p->msg);
    return stop ? 1 : 0;
  }
  default:
    return parser_fail(p, WS_CLOSE_PROTOCOL, err_set(MIMIC_EPROTO, "unknown WebSocket opcode"));
  }
}

int ws_parser_feed(ws_parser *p, const uint8_t *data, size_t n, ws_msg_fn fn, void *user) {
  while (n > 0) {
    size_t take = n < FEED_SLICE ? n : FEED_SLICE;
    if (buf_append(&p->in, data, take)) return parser_fail(p, WS_CLOSE_TOO_BIG, MIMIC_ERANGE);
    data += take;
    n -= take;
    size_t off = 0;
    for (;;) {
      ws_frame f;
      int rc = ws_frame_parse((const uint8_t *)p->in.data + off, p->in.len - off, p->max_frame, &f);
      if (rc == 0) break;
      if (rc < 0)
        return parser_fail(p, rc == MIMIC_ERANGE ? WS_CLOSE_TOO_BIG : WS_CLOSE_PROTOCOL, rc);
      if (f.masked && !p->accept_masked)
        return parser_fail(p, WS_CLOSE_PROTOCOL,
                           err_set(MIMIC_EPROTO, "the server sent a masked WebSocket frame"));
      uint8_t *pl = (uint8_t *)p->in.data + off + f.header_len;
      off += f.header_len + (size_t)f.len;
      rc = parser_frame(p, &f, pl, fn, user);
      if (rc < 0) return rc;
      if (rc > 0) {
        buf_reset(&p->in);
        return 0;
      }
    }
    buf_consume(&p->in, off);
  }
  return 0;
}

/* ---- handshake --------------------------------------------------------------------------------
 */

static void b64(const unsigned char *in, int n, char *out) {
  EVP_EncodeBlock((unsigned char *)out, in, n);
}

void ws_key_new(char key[25]) {
  unsigned char raw[16];
  if (RAND_bytes(raw, sizeof raw) != 1) {
    /* RAND_bytes failing means the process has no entropy source; the key only has to be
     * unpredictable to intermediaries, so fall back to the monotonic clock rather than fail. */
    uint64_t t = clock_mono_ns();
    for (int i = 0; i < 16; i++)
      raw[i] = (unsigned char)(t >> ((i % 8) * 8)) ^ (unsigned char)(i * 37);
  }
  b64(raw, 16, key);
}

void ws_accept_for(const char *key, char out[29]) {
  static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  char in[128];
  int n = snprintf(in, sizeof in, "%s%s", key, guid);
  EVP_Digest(in, (size_t)n, md, &mdlen, EVP_sha1(), NULL);
  b64(md, (int)mdlen, out);
}

int ws_request_build(buf *b, const ws_url *u, const char *key, const char *user_agent) {
  bool v6 = strchr(u->host, ':') != NULL;
  bool dflt_port = u->port == (u->tls ? 443 : 80);
  int rc = buf_printf(b, "GET %s HTTP/1.1\r\nHost: %s%s%s", u->path, v6 ? "[" : "", u->host,
                      v6 ? "]" : "");
  if (!rc && !dflt_port) rc = buf_printf(b, ":%d", u->port);
  if (!rc)
    rc = buf_printf(b,
                    "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                    "Sec-WebSocket-Version: 13\r\nUser-Agent: %s\r\n\r\n",
                    key, user_agent ? user_agent : "mimic/" MIMIC_VERSION);
  return rc;
}

/* True when the comma-separated header value v (length n) holds token, case-insensitively. */
static bool has_token(const char *v, size_t n, const char *token) {
  size_t tl = strlen(token);
  size_t i = 0;
  while (i < n) {
    while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
    size_t s = i;
    while (i < n && v[i] != ',') i++;
    size_t e = i;
    while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
    if (e - s == tl && strncasecmp(v + s, token, tl) == 0) return true;
  }
  return false;
}

long ws_response_check(const char *p, size_t n, const char *key) {
  const char *end = NULL;
  for (size_t i = 0; i + 3 < n; i++)
    if (p[i] == '\r' && p[i + 1] == '\n' && p[i + 2] == '\r' && p[i + 3] == '\n') {
      end = p + i;
      break;
    }
  if (!end) {
    if (n > WS_HANDSHAKE_MAX)
      return err_set(MIMIC_ERANGE, "WebSocket upgrade response exceeds %u bytes", WS_HANDSHAKE_MAX);
    return 0;
  }
  if ((size_t)(end - p) > WS_HANDSHAKE_MAX)
    return err_set(MIMIC_ERANGE, "WebSocket upgrade response exceeds %u bytes", WS_HANDSHAKE_MAX);
  const char *line_end = memchr(p, '\r', (size_t)(end - p) + 1);
  size_t sl_len = (size_t)(line_end - p);
  char status[101];
  size_t k = 0;
  for (size_t i = 0; i < sl_len && k < 100; i++)
    status[k++] = (p[i] >= 0x20 && p[i] < 0x7f) ? p[i] : '?';
  status[k] = 0;
  if (sl_len < 12 || strncmp(p, "HTTP/1.1 101", 12) != 0 || (sl_len > 12 && p[12] != ' '))
    return err_set(MIMIC_EPROTO, "the server refused the WebSocket upgrade: '%s'", status);
  char want[29];
  ws_accept_for(key, want);
  bool upgrade = false, connection = false, accept = false;
  const char *q = line_end + 2;
  while (q < end) {
    const char *le = memchr(q, '\r', (size_t)(end - q) + 1);
    if (!le) le = end;
    const char *colon = memchr(q, ':', (size_t)(le - q));
    if (colon) {
      size_t nl = (size_t)(colon - q);
      const char *v = colon + 1;
      while (v < le && (*v == ' ' || *v == '\t')) v++;
      size_t vl = (size_t)(le - v);
      while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
      if (nl == 7 && strncasecmp(q, "upgrade", 7) == 0)
        upgrade = has_token(v, vl, "websocket");
      else if (nl == 10 && strncasecmp(q, "connection", 10) == 0)
        connection = has_token(v, vl, "upgrade");
      else if (nl == 20 && strncasecmp(q, "sec-websocket-accept", 20) == 0)
        accept = vl == 28 && memcmp(v, want, 28) == 0;
      else if (nl == 24 && strncasecmp(q, "sec-websocket-extensions", 24) == 0)
        return err_set(MIMIC_EPROTO,
                       "the server enabled a WebSocket extension mimic did not offer");
    }
    q = le + 2;
  }
  if (!upgrade || !connection)
    return err_set(MIMIC_EPROTO, "the server's 101 response lacks the Upgrade: websocket headers");
  if (!accept)
    return err_set(MIMIC_EPROTO, "the server's Sec-WebSocket-Accept does not match the key");
  return (long)(end - p) + 4;
}

/* ---- close frames ---------------------------------------------------------------------------
 */

size_t ws_close_payload(uint8_t out[125], int code, const char *reason) {
  if (code == WS_CLOSE_NO_STATUS) return 0;
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > 123) rl = utf8_floor(reason, rl, 123);
  out[0] = (uint8_t)(code >> 8);
  out[1] = (uint8_t)code;
  if (rl) memcpy(out + 2, reason, rl);
  return 2 + rl;
}

int ws_close_parse(const uint8_t *data, size_t len, char *reason, size_t cap) {
  size_t rl = len > 2 ? len - 2 : 0;
  if (cap) {
    if (rl >= cap) rl = utf8_floor((const char *)data + 2, rl, cap - 1);
    if (rl) memcpy(reason, data + 2, rl);
    reason[rl] = 0;
  }
  return len >= 2 ? (data[0] << 8) | data[1] : WS_CLOSE_NO_STATUS;
}
