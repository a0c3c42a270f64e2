/* RFC 6455 WebSocket client (see ws.h): pure frame/handshake code first, then the libuv + OpenSSL
 * connection. The connection drives TLS through memory BIOs so that libuv owns the socket and
 * OpenSSL never blocks or touches a file descriptor. */
#include "discord/ws.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <strings.h>

#define SUB "ws"

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

/* ---- the connection ---------------------------------------------------------------------------
 */

enum { ST_RESOLVE, ST_CONNECT, ST_TLS, ST_UPGRADE, ST_OPEN, ST_CLOSING, ST_DONE };

#define WRITE_QUEUE_MAX (4u << 20)
#define CLOSE_WAIT_MS   2000u

struct ws_conn {
  uv_loop_t *loop;
  ws_url url;
  ws_callbacks cb;
  void *user;
  int state;
  unsigned timeout_ms;
  char user_agent[128];
  uv_getaddrinfo_t gai;
  bool gai_pending;
  uv_tcp_t tcp;
  uv_connect_t connect_req;
  uv_timer_t timer;
  SSL_CTX *ctx;
  SSL *ssl;
  BIO *rbio, *wbio; /* owned by ssl */
  bool tls_done;
  char key[25];
  buf hs;
  ws_parser parser;
  int pending; /* handles still closing */
  bool finishing;
  bool close_sent;
  int close_code;
  char close_reason[124];
  char why[300];
  char rbuf[65536];
};

typedef struct wreq {
  uv_write_t req;
  char data[];
} wreq;

static void finish(ws_conn *c, const char *fmt, ...) MIMIC_PRINTF(2, 3);

static void complete(ws_conn *c) {
  if (c->cb.on_closed) c->cb.on_closed(c, c->user, c->close_code, c->close_reason, c->why);
  if (c->ssl) SSL_free(c->ssl);
  if (c->ctx) SSL_CTX_free(c->ctx);
  buf_free(&c->hs);
  ws_parser_free(&c->parser);
  mem_free(c);
}

static void on_handle_closed(uv_handle_t *h) {
  ws_conn *c = h->data;
  if (--c->pending == 0) complete(c);
}

static void finish(ws_conn *c, const char *fmt, ...) {
  if (c->finishing) return;
  c->finishing = true;
  c->state = ST_DONE;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(c->why, sizeof c->why, fmt, ap);
  va_end(ap);
  LOG_D(SUB, "%s:%d: connection ends: %s", c->url.host, c->url.port, c->why);
  if (c->gai_pending) {
    c->pending++;
    uv_cancel((uv_req_t *)&c->gai);
  }
  c->pending += 2;
  uv_close((uv_handle_t *)&c->timer, on_handle_closed);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

static void on_write(uv_write_t *req, int status) {
  wreq *w = (wreq *)req;
  ws_conn *c = req->handle->data;
  mem_free(w);
  if (status < 0 && status != UV_ECANCELED)
    finish(c, "writing to the server failed: %s", uv_strerror(status));
}

static int raw_write(ws_conn *c, const void *p, size_t n) {
  wreq *w = mem_alloc(sizeof *w + n);
  if (!w) return err_set(MIMIC_ENOMEM, "out of memory sending %zu bytes", n);
  memcpy(w->data, p, n);
  uv_buf_t b = uv_buf_init(w->data, (unsigned)n);
  int rc = uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc) {
    mem_free(w);
    return err_set(MIMIC_EIO, "writing to the server failed: %s", uv_strerror(rc));
  }
  return 0;
}

static int tls_flush(ws_conn *c) {
  char tmp[16384];
  while (BIO_ctrl_pending(c->wbio) > 0) {
    int n = BIO_read(c->wbio, tmp, sizeof tmp);
    if (n <= 0) break;
    int rc = raw_write(c, tmp, (size_t)n);
    if (rc) return rc;
  }
  return 0;
}

/* Sends plaintext bytes: through TLS when the URL is wss://. */
static int out(ws_conn *c, const void *p, size_t n) {
  if (!c->ssl) return raw_write(c, p, n);
  if (n && SSL_write(c->ssl, p, (int)n) <= 0) {
    ERR_clear_error();
    return err_set(MIMIC_EIO, "TLS write to %s failed", c->url.host);
  }
  return tls_flush(c);
}

static int send_frame(ws_conn *c, int opcode, const void *data, size_t len) {
  uint8_t mask[4];
  if (RAND_bytes(mask, 4) != 1) {
    uint64_t t = clock_mono_ns();
    memcpy(mask, &t, 4);
  }
  size_t cap = len + WS_HEADER_MAX;
  uint8_t *f = mem_alloc(cap);
  if (!f) return err_set(MIMIC_ENOMEM, "out of memory sending a WebSocket frame");
  size_t n = ws_frame_encode(f, cap, opcode, true, mask, data, len);
  int rc = out(c, f, n);
  mem_free(f);
  return rc;
}

static int send_close(ws_conn *c, int code, const char *reason) {
  uint8_t pl[125];
  size_t rl = reason ? strlen(reason) : 0;
  if (rl > 123) rl = utf8_floor(reason, rl, 123);
  pl[0] = (uint8_t)(code >> 8);
  pl[1] = (uint8_t)code;
  if (rl) memcpy(pl + 2, reason, rl);
  c->close_sent = true;
  return send_frame(c, WS_OP_CLOSE, pl, code == WS_CLOSE_NO_STATUS ? 0 : 2 + rl);
}

static int on_frame(void *user, int opcode, const uint8_t *data, size_t len) {
  ws_conn *c = user;
  switch (opcode) {
  case WS_OP_TEXT:
  case WS_OP_BINARY:
    if (c->state == ST_OPEN && c->cb.on_message)
      c->cb.on_message(c, c->user, opcode == WS_OP_BINARY, data, len);
    break;
  case WS_OP_PING:
    if (c->state == ST_OPEN && send_frame(c, WS_OP_PONG, data, len)) finish(c, "%s", err_msg());
    break;
  case WS_OP_PONG: break;
  case WS_OP_CLOSE: {
    c->close_code = len >= 2 ? (data[0] << 8) | data[1] : WS_CLOSE_NO_STATUS;
    size_t rl = len > 2 ? len - 2 : 0;
    if (rl >= sizeof c->close_reason) rl = sizeof c->close_reason - 1;
    if (rl) memcpy(c->close_reason, data + 2, rl);
    c->close_reason[rl] = 0;
    if (!c->close_sent) (void)send_close(c, c->close_code, NULL); /* echo; best effort */
    finish(c, "the server closed the connection with code %d%s%s", c->close_code, rl ? ": " : "",
           c->close_reason);
    return 1;
  }
  default: break;
  }
  return c->finishing;
}

static void feed(ws_conn *c, const uint8_t *p, size_t n) {
  if (ws_parser_feed(&c->parser, p, n, on_frame, c) == 0) return;
  char why[300];
  str_lcpy(why, err_msg(), sizeof why);
  LOG_W(SUB, "%s: %s; closing with %d", c->url.host, why, c->parser.close_code);
  if (c->state == ST_OPEN) (void)send_close(c, c->parser.close_code, "protocol error");
  finish(c, "%s", why);
}

static void handle_plain(ws_conn *c, const uint8_t *p, size_t n) {
  if (c->state == ST_UPGRADE) {
    if (buf_append(&c->hs, p, n)) {
      finish(c, "WebSocket upgrade response from %s exceeds %u bytes", c->url.host,
             WS_HANDSHAKE_MAX);
      return;
    }
    long r = ws_response_check(c->hs.data, c->hs.len, c->key);
    if (r < 0) {
      finish(c, "%s", err_msg());
      return;
    }
    if (r == 0) return;
    c->state = ST_OPEN;
    uv_timer_stop(&c->timer);
    LOG_D(SUB, "%s:%d: WebSocket open", c->url.host, c->url.port);
    if (c->cb.on_open) c->cb.on_open(c, c->user);
    if (!c->finishing && c->hs.len > (size_t)r)
      feed(c, (const uint8_t *)c->hs.data + r, c->hs.len - (size_t)r);
    buf_free(&c->hs);
    return;
  }
  if (c->state == ST_OPEN || c->state == ST_CLOSING) feed(c, p, n);
}

static void start_upgrade(ws_conn *c) {
  buf req;
  buf_init(&req, 8192);
  ws_key_new(c->key);
  c->state = ST_UPGRADE;
  if (ws_request_build(&req, &c->url, c->key, c->user_agent) || out(c, req.data, req.len))
    finish(c, "%s", err_msg());
  buf_free(&req);
}

static void tls_fail(ws_conn *c, const char *what) {
  long vr = SSL_get_verify_result(c->ssl);
  unsigned long e = ERR_get_error();
  char eb[256] = "";
  if (e) ERR_error_string_n(e, eb, sizeof eb);
  ERR_clear_error();
  if (vr != X509_V_OK)
    finish(c, "the TLS certificate of %s is not trusted: %s", c->url.host,
           X509_verify_cert_error_string(vr));
  else
    finish(c, "TLS %s with %s failed%s%s", what, c->url.host, *eb ? ": " : "", eb);
}

static void tls_pump(ws_conn *c) {
  if (!c->tls_done) {
    int r = SSL_do_handshake(c->ssl);
    if (tls_flush(c)) {
      finish(c, "%s", err_msg());
      return;
    }
    if (r != 1) {
      int e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return;
      tls_fail(c, "handshake");
      return;
    }
    c->tls_done = true;
    start_upgrade(c);
  }
  uint8_t pbuf[16384];
  while (!c->finishing) {
    int r = SSL_read(c->ssl, pbuf, sizeof pbuf);
    if (r > 0) {
      handle_plain(c, pbuf, (size_t)r);
      continue;
    }
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) break;
    if (e == SSL_ERROR_ZERO_RETURN) {
      finish(c, "the server ended the TLS session");
      return;
    }
    tls_fail(c, "read");
    return;
  }
  if (!c->finishing && tls_flush(c)) finish(c, "%s", err_msg());
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b) {
  (void)suggested;
  ws_conn *c = h->data;
  *b = uv_buf_init(c->rbuf, sizeof c->rbuf);
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  ws_conn *c = s->data;
  if (c->finishing) return;
  if (nread < 0) {
    if (nread == UV_EOF)
      finish(c, "the server dropped the connection without a closing handshake");
    else
      finish(c, "reading from the server failed: %s", uv_strerror((int)nread));
    return;
  }
  if (nread == 0) return;
  if (c->ssl) {
    if (BIO_write(c->rbio, b->base, (int)nread) != (int)nread) {
      finish(c, "out of memory buffering TLS input");
      return;
    }
    tls_pump(c);
  } else {
    handle_plain(c, (const uint8_t *)b->base, (size_t)nread);
  }
}

static void on_connected(uv_connect_t *req, int status) {
  ws_conn *c = req->handle->data;
  if (status == UV_ECANCELED || c->finishing) return;
  if (status < 0) {
    finish(c, "cannot connect to %s port %d: %s", c->url.host, c->url.port, uv_strerror(status));
    return;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  int rc = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (rc) {
    finish(c, "cannot read from %s: %s", c->url.host, uv_strerror(rc));
    return;
  }
  if (c->ssl) {
    c->state = ST_TLS;
    tls_pump(c);
  } else {
    start_upgrade(c);
  }
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res) {
  ws_conn *c = req->data;
  c->gai_pending = false;
  if (c->finishing) {
    if (res) uv_freeaddrinfo(res);
    if (--c->pending == 0) complete(c);
    return;
  }
  if (status < 0) {
    finish(c, "cannot resolve %s: %s", c->url.host, uv_strerror(status));
    if (res) uv_freeaddrinfo(res);
    return;
  }
  struct addrinfo *pick = res;
  for (struct addrinfo *a = res; a; a = a->ai_next)
    if (a->ai_family == AF_INET) {
      pick = a;
      break;
    }
  c->state = ST_CONNECT;
  int rc =
      pick ? uv_tcp_connect(&c->connect_req, &c->tcp, pick->ai_addr, on_connected) : UV_EAI_NONAME;
  uv_freeaddrinfo(res);
  if (rc) finish(c, "cannot connect to %s: %s", c->url.host, uv_strerror(rc));
}

static void on_timer(uv_timer_t *t) {
  ws_conn *c = t->data;
  if (c->state == ST_CLOSING)
    finish(c, "the server did not answer the closing handshake within %u ms", CLOSE_WAIT_MS);
  else if (c->state < ST_OPEN)
    finish(c, "timed out after %u ms connecting to %s port %d", c->timeout_ms, c->url.host,
           c->url.port);
}

static int tls_setup(ws_conn *c, const char *ca_file) {
  c->ctx = SSL_CTX_new(TLS_client_method());
  if (!c->ctx) goto fail;
  SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
  if (SSL_CTX_set_default_verify_paths(c->ctx) != 1) goto fail;
  if (ca_file && *ca_file && SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
    ERR_clear_error();
    return err_set(MIMIC_ENET, "%s: cannot load the CA certificates", ca_file);
  }
  c->ssl = SSL_new(c->ctx);
  if (!c->ssl) goto fail;
  struct in6_addr a6;
  struct in_addr a4;
  bool is_ip =
      inet_pton(AF_INET, c->url.host, &a4) == 1 || inet_pton(AF_INET6, c->url.host, &a6) == 1;
  if (is_ip) {
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->url.host) != 1) goto fail;
  } else {
    /* SNI, and the name the certificate must match. */
    if (SSL_set_tlsext_host_name(c->ssl, c->url.host) != 1) goto fail;
    if (SSL_set1_host(c->ssl, c->url.host) != 1) goto fail;
  }
  c->rbio = BIO_new(BIO_s_mem());
  c->wbio = BIO_new(BIO_s_mem());
  if (!c->rbio || !c->wbio) {
    BIO_free(c->rbio);
    BIO_free(c->wbio);
    c->rbio = c->wbio = NULL;
    goto fail;
  }
  SSL_set_bio(c->ssl, c->rbio, c->wbio);
  SSL_set_connect_state(c->ssl);
  return 0;
fail:;
  unsigned long e = ERR_get_error();
  char eb[256] = "unknown error";
  if (e) ERR_error_string_n(e, eb, sizeof eb);
  ERR_clear_error();
  return err_set(MIMIC_ENET, "cannot set up TLS for %s: %s", c->url.host, eb);
}

int ws_conn_open(uv_loop_t *loop, const char *url, const ws_options *opt, const ws_callbacks *cb,
                 void *user, ws_conn **out_conn) {
  *out_conn = NULL;
  ws_options dflt = {0};
  if (!opt) opt = &dflt;
  ws_url u;
  int rc = ws_url_parse(url, &u);
  if (rc) return rc;
  if (!u.tls && !ws_host_is_loopback(u.host))
    return err_set(MIMIC_EINVAL,
                   "refusing plain ws:// to %s: only loopback hosts may go without TLS; use wss://",
                   u.host);
  ws_conn *c = mem_calloc(1, sizeof *c);
  if (!c) return err_set(MIMIC_ENOMEM, "out of memory opening a WebSocket");
  c->loop = loop;
  c->url = u;
  c->cb = *cb;
  c->user = user;
  c->timeout_ms = opt->timeout_ms ? opt->timeout_ms : 15000;
  c->close_code = WS_CLOSE_ABNORMAL;
  str_lcpy(c->user_agent, opt->user_agent ? opt->user_agent : "mimic/" MIMIC_VERSION,
           sizeof c->user_agent);
  buf_init(&c->hs, WS_HANDSHAKE_MAX + sizeof c->rbuf);
  ws_parser_init(&c->parser, opt->max_frame, opt->max_message);
  if (u.tls && (rc = tls_setup(c, opt->ca_file)) != 0) goto fail;
  if ((rc = uv_tcp_init(loop, &c->tcp)) != 0) {
    rc = err_set(MIMIC_ENET, "cannot create a socket: %s", uv_strerror(rc));
    goto fail;
  }
  c->tcp.data = c;
  uv_timer_init(loop, &c->timer);
  c->timer.data = c;
  c->gai.data = c;
  char port[8];
  snprintf(port, sizeof port, "%d", u.port);
  struct addrinfo hints;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  c->state = ST_RESOLVE;
  uv_timer_start(&c->timer, on_timer, c->timeout_ms, 0);
  rc = uv_getaddrinfo(loop, &c->gai, on_resolved, u.host, port, &hints);
  if (rc) {
    /* The handles exist now: close them asynchronously; on_closed reports the failure. */
    finish(c, "cannot resolve %s: %s", u.host, uv_strerror(rc));
  } else {
    c->gai_pending = true;
  }
  *out_conn = c;
  return 0;
fail:
  if (c->ssl) SSL_free(c->ssl);
  if (c->ctx) SSL_CTX_free(c->ctx);
  buf_free(&c->hs);
  ws_parser_free(&c->parser);
  mem_free(c);
  return rc;
}

int ws_conn_send(ws_conn *c, int opcode, const void *data, size_t len) {
  if (!c || c->state != ST_OPEN) return err_set(MIMIC_EIO, "the WebSocket is not open");
  if (uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > WRITE_QUEUE_MAX)
    return err_set(MIMIC_EBUSY, "the server is not reading: over %u bytes wait to be sent",
                   WRITE_QUEUE_MAX);
  int rc = send_frame(c, opcode, data, len);
  if (rc) finish(c, "%s", err_msg());
  return rc;
}

void ws_conn_close(ws_conn *c, int code, const char *reason) {
  if (!c || c->finishing || c->state == ST_CLOSING) return;
  if (c->state != ST_OPEN) {
    finish(c, "closed before the WebSocket opened");
    return;
  }
  if (send_close(c, code, reason)) {
    finish(c, "%s", err_msg());
    return;
  }
  c->state = ST_CLOSING;
  uv_timer_start(&c->timer, on_timer, CLOSE_WAIT_MS, 0);
}

void ws_conn_abort(ws_conn *c, const char *why) {
  if (!c) return;
  finish(c, "%s", why ? why : "connection dropped");
}

bool ws_conn_is_open(const ws_conn *c) { return c && c->state == ST_OPEN; }
