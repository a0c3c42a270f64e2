/* The WebSocket connection (see ws.h): DNS, TCP and TLS on libuv, the upgrade, frames in and out
 * through the codec (ws_codec.c), the closing handshake and its timeout. TLS runs through memory
 * BIOs so that libuv owns the socket and OpenSSL never blocks or touches a file descriptor. */
#include "discord/ws.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <string.h>

#define SUB "ws"

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
  char failed[300]; /* set when the peer broke the protocol: the reason on_closed reports */
  char rbuf[65536];
};

typedef struct wreq {
  uv_write_t req;
  char data[];
} wreq;

static void finish(ws_conn *c, const char *fmt, ...) MIMIC_PRINTF(2, 3);
static void on_timer(uv_timer_t *t);

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
  if (c->failed[0]) str_lcpy(c->why, c->failed, sizeof c->why);
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
  size_t n = ws_close_payload(pl, code, reason);
  c->close_sent = true;
  return send_frame(c, WS_OP_CLOSE, pl, n);
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
    c->close_code = ws_close_parse(data, len, c->close_reason, sizeof c->close_reason);
    if (!c->close_sent) (void)send_close(c, c->close_code, NULL); /* echo; best effort */
    finish(c, "the server closed the connection with code %d%s%s", c->close_code,
           c->close_reason[0] ? ": " : "", c->close_reason);
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
  if (c->state == ST_OPEN && send_close(c, c->parser.close_code, "protocol error") == 0) {
    /* Wait for the server's answer (its close, EOF, or CLOSE_WAIT_MS) instead of dropping the
     * socket now: closing with unread bytes sends a reset, and the server may lose our close
     * frame with it. What arrives meanwhile is read and discarded (the parser is done). */
    str_lcpy(c->failed, why, sizeof c->failed);
    c->state = ST_CLOSING;
    uv_timer_start(&c->timer, on_timer, CLOSE_WAIT_MS, 0);
    return;
  }
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
  if (c->failed[0]) return; /* discarding until the server closes */
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
