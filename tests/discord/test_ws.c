/* Pure WebSocket pieces: URL parsing, frame encode/decode, message reassembly (fragments,
 * interleaved control frames, caps, UTF-8, masking rules) and the opening handshake. The
 * connection itself is tested against the Node double in test_gateway*.c. */
#include "discord/ws.h"
#include "test.h"

TEST(url_parse) {
  ws_url u;
  CHECK_OK(ws_url_parse("wss://gateway.discord.gg/?v=10&encoding=json", &u));
  CHECK(u.tls);
  CHECK_STR(u.host, "gateway.discord.gg");
  CHECK_INT(u.port, 443);
  CHECK_STR(u.path, "/?v=10&encoding=json");
  CHECK_OK(ws_url_parse("ws://127.0.0.1:8080", &u));
  CHECK(!u.tls);
  CHECK_INT(u.port, 8080);
  CHECK_STR(u.path, "/");
  CHECK_OK(ws_url_parse("WSS://[::1]:9/x?y#frag", &u));
  CHECK_STR(u.host, "::1");
  CHECK_INT(u.port, 9);
  CHECK_STR(u.path, "/x?y");
  CHECK_OK(ws_url_parse("wss://h?v=10", &u));
  CHECK_STR(u.path, "/?v=10");
  CHECK_INT(ws_url_parse("https://h/", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://user:pw@h/", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://h:0/", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://h:65536/", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://h:/", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://h:12a/", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss:///x", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://[::1/x", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse("wss://h/a b", &u), MIMIC_EINVAL);
  CHECK_INT(ws_url_parse(NULL, &u), MIMIC_EINVAL);
}

TEST(loopback) {
  CHECK(ws_host_is_loopback("localhost"));
  CHECK(ws_host_is_loopback("127.0.0.1"));
  CHECK(ws_host_is_loopback("127.200.3.4"));
  CHECK(ws_host_is_loopback("::1"));
  CHECK(!ws_host_is_loopback("128.0.0.1"));
  CHECK(!ws_host_is_loopback("10.0.0.1"));
  CHECK(!ws_host_is_loopback("gateway.discord.gg"));
  CHECK(!ws_host_is_loopback("127.0.0.1.example.com"));
  CHECK(!ws_host_is_loopback("::2"));
}

TEST(plain_ws_refused_off_loopback) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  ws_callbacks cb = {0};
  ws_conn *c = NULL;
  CHECK_INT(ws_conn_open(&loop, "ws://192.0.2.1:80/", NULL, &cb, NULL, &c), MIMIC_EINVAL);
  CHECK(c == NULL);
  CHECK(strstr(err_msg(), "wss://") != NULL);
  uv_loop_close(&loop);
}

TEST(frame_roundtrip_all_lengths) {
  static uint8_t payload[70000], out[70100];
  for (size_t i = 0; i < sizeof payload; i++) payload[i] = (uint8_t)(i * 31 + 7);
  size_t lens[] = {0, 1, 125, 126, 127, 65535, 65536, 70000};
  const uint8_t mask[4] = {0xde, 0xad, 0xbe, 0xef};
  for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
    for (int masked = 0; masked < 2; masked++) {
      size_t n = ws_frame_encode(out, sizeof out, WS_OP_BINARY, true, masked ? mask : NULL, payload,
                                 lens[k]);
      REQUIRE(n > 0);
      ws_frame f;
      /* every proper prefix needs more bytes */
      CHECK_INT(ws_frame_parse(out, n - 1, 1u << 20, &f), 0);
      CHECK_INT(ws_frame_parse(out, n, 1u << 20, &f), 1);
      CHECK_INT(f.len, lens[k]);
      CHECK_INT(f.header_len + f.len, n);
      CHECK(f.fin && f.opcode == WS_OP_BINARY && f.masked == (masked != 0));
      uint8_t *pl = out + f.header_len;
      if (masked)
        for (size_t i = 0; i < f.len; i++) pl[i] ^= f.mask[i & 3];
      CHECK(memcmp(pl, payload, lens[k]) == 0);
    }
  }
  CHECK_INT(ws_frame_encode(out, 10, WS_OP_TEXT, true, mask, payload, 7), 0); /* too small */
}

TEST(frame_violations) {
  ws_frame f;
  uint8_t rsv[] = {0xC1, 0x00};
  CHECK_INT(ws_frame_parse(rsv, 2, 100, &f), MIMIC_EPROTO);
  uint8_t op3[] = {0x83, 0x00};
  CHECK_INT(ws_frame_parse(op3, 2, 100, &f), MIMIC_EPROTO);
  uint8_t ping_frag[] = {0x09, 0x00};
  CHECK_INT(ws_frame_parse(ping_frag, 2, 100, &f), MIMIC_EPROTO);
  uint8_t ping_long[] = {0x89, 126, 0, 200};
  CHECK_INT(ws_frame_parse(ping_long, 4, 1000, &f), MIMIC_EPROTO);
  uint8_t top[] = {0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1};
  CHECK_INT(ws_frame_parse(top, 10, 100, &f), MIMIC_EPROTO);
  uint8_t big[] = {0x82, 127, 0, 0, 0, 1, 0, 0, 0, 0}; /* 4 GiB: refused from the header alone */
  CHECK_INT(ws_frame_parse(big, 10, 1u << 20, &f), MIMIC_ERANGE);
}

typedef struct got {
  int ops[16];
  char data[16][256];
  size_t lens[16];
  int n;
  int stop_after;
} got;

static int collect(void *user, int op, const uint8_t *d, size_t len) {
  got *g = user;
  if (g->n < 16) {
    g->ops[g->n] = op;
    g->lens[g->n] = len;
    memcpy(g->data[g->n], d, len < 255 ? len : 255);
    g->data[g->n][len < 255 ? len : 255] = 0;
  }
  g->n++;
  return g->stop_after && g->n >= g->stop_after;
}

static size_t put(uint8_t *out, int op, bool fin, const char *s) {
  return ws_frame_encode(out, 512, op, fin, NULL, s, strlen(s));
}

TEST(parser_fragments_and_controls) {
  uint8_t wire[2048];
  size_t n = 0;
  n += put(wire + n, WS_OP_TEXT, false, "hel");
  n += put(wire + n, WS_OP_PING, true, "p1"); /* control frame between fragments */
  n += put(wire + n, WS_OP_CONT, false, "lo ");
  n += put(wire + n, WS_OP_CONT, true, "w\xc3\xb6rld");
  n += put(wire + n, WS_OP_BINARY, true, "\x01\x02");
  n += put(wire + n, WS_OP_PONG, true, "");
  uint8_t close[] = {0x88, 0x05, 0x0f, 0xa4, 'b', 'y', 'e'}; /* 4004 "bye" */
  memcpy(wire + n, close, sizeof close);
  n += sizeof close;
  /* Byte-at-a-time feeding must give the same result as one big feed. */
  for (int mode = 0; mode < 2; mode++) {
    ws_parser p;
    ws_parser_init(&p, 1024, 1024);
    got g = {0};
    if (mode == 0) {
      CHECK_OK(ws_parser_feed(&p, wire, n, collect, &g));
    } else {
      for (size_t i = 0; i < n; i++) CHECK_OK(ws_parser_feed(&p, wire + i, 1, collect, &g));
    }
    REQUIRE(g.n == 5);
    CHECK_INT(g.ops[0], WS_OP_PING);
    CHECK_STR(g.data[0], "p1");
    CHECK_INT(g.ops[1], WS_OP_TEXT);
    CHECK_STR(g.data[1], "hello w\xc3\xb6rld");
    CHECK_INT(g.ops[2], WS_OP_BINARY);
    CHECK_INT(g.lens[2], 2);
    CHECK_INT(g.ops[3], WS_OP_PONG);
    CHECK_INT(g.ops[4], WS_OP_CLOSE);
    CHECK_INT((uint8_t)g.data[4][0] << 8 | (uint8_t)g.data[4][1], 4004);
    ws_parser_free(&p);
  }
}

TEST(parser_stop_drops_rest) {
  uint8_t wire[256];
  size_t n = put(wire, WS_OP_TEXT, true, "a");
  n += put(wire + n, WS_OP_TEXT, true, "b");
  ws_parser p;
  ws_parser_init(&p, 0, 0);
  got g = {.stop_after = 1};
  CHECK_OK(ws_parser_feed(&p, wire, n, collect, &g));
  CHECK_INT(g.n, 1);
  ws_parser_free(&p);
}

static int parser_error(const uint8_t *wire, size_t n, size_t max_frame, size_t max_msg) {
  ws_parser p;
  ws_parser_init(&p, max_frame, max_msg);
  got g = {0};
  int rc = ws_parser_feed(&p, wire, n, collect, &g);
  int code = rc ? p.close_code : 0;
  ws_parser_free(&p);
  return code;
}

TEST(parser_errors_pick_close_codes) {
  uint8_t w[1024];
  size_t n = put(w, WS_OP_TEXT, true, "bad \xff utf8");
  CHECK_INT(parser_error(w, n, 0, 0), WS_CLOSE_BAD_DATA);
  n = put(w, WS_OP_TEXT, false, "caf\xc3"); /* UTF-8 split across fragments is fine */
  n += put(w + n, WS_OP_CONT, true, "\xa9");
  CHECK_INT(parser_error(w, n, 0, 0), 0);
  n = put(w, WS_OP_CONT, true, "orphan");
  CHECK_INT(parser_error(w, n, 0, 0), WS_CLOSE_PROTOCOL);
  n = put(w, WS_OP_TEXT, false, "a");
  n += put(w + n, WS_OP_TEXT, true, "b");
  CHECK_INT(parser_error(w, n, 0, 0), WS_CLOSE_PROTOCOL);
  n = put(w, WS_OP_BINARY, true, "0123456789abcdef0123");
  CHECK_INT(parser_error(w, n, 16, 64), WS_CLOSE_TOO_BIG); /* frame cap */
  n = put(w, WS_OP_BINARY, false, "0123456789");
  n += put(w + n, WS_OP_CONT, true, "0123456789");
  CHECK_INT(parser_error(w, n, 16, 16), WS_CLOSE_TOO_BIG); /* message cap across fragments */
  const uint8_t mask[4] = {1, 2, 3, 4};
  n = ws_frame_encode(w, sizeof w, WS_OP_TEXT, true, mask, "x", 1);
  CHECK_INT(parser_error(w, n, 0, 0), WS_CLOSE_PROTOCOL); /* servers must not mask */
  uint8_t close1[] = {0x88, 0x01, 0x03};
  CHECK_INT(parser_error(close1, 3, 0, 0), WS_CLOSE_PROTOCOL);
  uint8_t close1005[] = {0x88, 0x02, 0x03, 0xed};
  CHECK_INT(parser_error(close1005, 4, 0, 0), WS_CLOSE_PROTOCOL);
  uint8_t close_bad_reason[] = {0x88, 0x03, 0x03, 0xe8, 0xff};
  CHECK_INT(parser_error(close_bad_reason, 5, 0, 0), WS_CLOSE_BAD_DATA);
}

TEST(handshake_accept_rfc_example) {
  char out[29];
  ws_accept_for("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455 section 1.3 */
  CHECK_STR(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  char k1[25], k2[25];
  ws_key_new(k1);
  ws_key_new(k2);
  CHECK_INT(strlen(k1), 24);
  CHECK(strcmp(k1, k2) != 0);
}

TEST(handshake_request_and_response) {
  ws_url u;
  CHECK_OK(ws_url_parse("ws://127.0.0.1:9000/?v=10", &u));
  buf b;
  buf_init(&b, 4096);
  CHECK_OK(ws_request_build(&b, &u, "dGhlIHNhbXBsZSBub25jZQ==", "t/1"));
  CHECK(strstr(b.data, "GET /?v=10 HTTP/1.1\r\nHost: 127.0.0.1:9000\r\n") == b.data);
  CHECK(strstr(b.data, "Sec-WebSocket-Version: 13\r\n") != NULL);
  CHECK(str_ends_with(b.data, "\r\n\r\n"));
  buf_free(&b);

  const char *key = "dGhlIHNhbXBsZSBub25jZQ==";
  const char *ok = "HTTP/1.1 101 Switching Protocols\r\nupgrade: WebSocket\r\nConnection: "
                   "keep-alive, Upgrade\r\n"
                   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x00";
  size_t n = strlen(ok) + 2;
  CHECK_INT(ws_response_check(ok, n, key), (long)(strstr(ok, "\r\n\r\n") - ok) + 4);
  CHECK_INT(ws_response_check(ok, 40, key), 0); /* incomplete */
  const char *wrong =
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
      "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
  CHECK_INT(ws_response_check(wrong, strlen(wrong), key), MIMIC_EPROTO);
  const char *denied = "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n";
  CHECK_INT(ws_response_check(denied, strlen(denied), key), MIMIC_EPROTO);
  CHECK(strstr(err_msg(), "403 Forbidden") != NULL);
  const char *noup =
      "HTTP/1.1 101 OK\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
  CHECK_INT(ws_response_check(noup, strlen(noup), key), MIMIC_EPROTO);
  static char huge[WS_HANDSHAKE_MAX + 10];
  memset(huge, 'a', sizeof huge);
  CHECK_INT(ws_response_check(huge, sizeof huge, key), MIMIC_ERANGE);
}

int main(void) {
  RUN(url_parse);
  RUN(loopback);
  RUN(plain_ws_refused_off_loopback);
  RUN(frame_roundtrip_all_lengths);
  RUN(frame_violations);
  RUN(parser_fragments_and_controls);
  RUN(parser_stop_drops_rest);
  RUN(parser_errors_pick_close_codes);
  RUN(handshake_accept_rfc_example);
  RUN(handshake_request_and_response);
  TEST_MAIN_END();
}
