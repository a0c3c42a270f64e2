/* zlib-stream: one inflate context per connection; output only when the data ends with
 * 00 00 FF FF; a message split across WebSocket messages; several payloads in one flush; corrupt
 * streams and decompression bombs refused. Compressed input is made here with zlib's deflate and
 * Z_SYNC_FLUSH, the way Discord (and the Node double) make it. */
#include <zlib.h>

#include "discord/zstream.h"
#include "base/base.h"
#include "test.h"

typedef struct deflater {
  z_stream zs;
  uint8_t out[1 << 20];
  size_t len;
} deflater;

static void def_init(deflater *d) {
  memset(&d->zs, 0, sizeof d->zs);
  deflateInit(&d->zs, 6);
}

/* Compresses s with a sync flush into d->out (replacing its contents). */
static void def_msg(deflater *d, const char *s, size_t n) {
  d->zs.next_in = (Bytef *)(uintptr_t)s;
  d->zs.avail_in = (uInt)n;
  d->zs.next_out = d->out;
  d->zs.avail_out = sizeof d->out;
  deflate(&d->zs, Z_SYNC_FLUSH);
  d->len = sizeof d->out - d->zs.avail_out;
}

TEST(one_message_per_flush_shares_context) {
  deflater *d = mem_alloc(sizeof *d);
  def_init(d);
  zstream *z = zstream_new(0, 0);
  const char *out;
  size_t n;
  for (int i = 0; i < 50; i++) {
    char msg[128];
    int len = snprintf(
        msg, sizeof msg,
        "{\"op\":0,\"s\":%d,\"t\":\"MESSAGE_CREATE\",\"d\":{\"content\":\"same words again\"}}", i);
    def_msg(d, msg, (size_t)len);
    CHECK(d->len >= 4 && memcmp(d->out + d->len - 4, "\x00\x00\xff\xff", 4) == 0);
    CHECK_INT(zstream_feed(z, d->out, d->len, &out, &n), 1);
    CHECK_INT(n, len);
    CHECK(memcmp(out, msg, n) == 0);
  }
  /* Shared context: later messages reuse the window, so they compress better than the first. */
  CHECK(zstream_bytes_in(z) < zstream_bytes_out(z));
  zstream_destroy(z);
  deflateEnd(&d->zs);
  mem_free(d);
}

TEST(split_across_messages_waits_for_suffix) {
  deflater *d = mem_alloc(sizeof *d);
  def_init(d);
  zstream *z = zstream_new(0, 0);
  char big[5000];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (char)('a' + (i * 7919) % 26);
  def_msg(d, big, sizeof big);
  const char *out;
  size_t n;
  size_t cut1 = d->len / 3, cut2 = d->len - 2; /* the last cut splits the suffix itself */
  CHECK_INT(zstream_feed(z, d->out, cut1, &out, &n), 0);
  CHECK(out == NULL);
  CHECK_INT(zstream_feed(z, d->out + cut1, cut2 - cut1, &out, &n), 0);
  CHECK_INT(zstream_feed(z, d->out + cut2, d->len - cut2, &out, &n), 1);
  CHECK_INT(n, sizeof big);
  CHECK(memcmp(out, big, n) == 0);
  zstream_destroy(z);
  deflateEnd(&d->zs);
  mem_free(d);
}

TEST(several_payloads_in_one_flush) {
  deflater *d = mem_alloc(sizeof *d);
  def_init(d);
  uint8_t packed[4096];
  size_t plen = 0;
  const char *a = "{\"op\":11}", *b = "{\"op\":0,\"s\":1}";
  def_msg(d, a, strlen(a));
  memcpy(packed, d->out, d->len);
  plen = d->len;
  def_msg(d, b, strlen(b));
  memcpy(packed + plen, d->out, d->len);
  plen += d->len;
  zstream *z = zstream_new(0, 0);
  const char *out;
  size_t n;
  CHECK_INT(zstream_feed(z, packed, plen, &out, &n), 1);
  CHECK_INT(n, strlen(a) + strlen(b));
  CHECK(memcmp(out, "{\"op\":11}{\"op\":0,\"s\":1}", n) == 0);
  zstream_destroy(z);
  deflateEnd(&d->zs);
  mem_free(d);
}

TEST(corrupt_stream_breaks_context) {
  zstream *z = zstream_new(0, 0);
  const uint8_t junk[] = {0x12, 0x34, 0x56, 0x00, 0x00, 0xff, 0xff};
  const char *out;
  size_t n;
  CHECK_INT(zstream_feed(z, junk, sizeof junk, &out, &n), MIMIC_EFORMAT);
  CHECK_INT(zstream_feed(z, junk, sizeof junk, &out, &n), MIMIC_EFORMAT); /* stays broken */
  zstream_destroy(z);
}

TEST(bomb_and_buffer_caps) {
  deflater *d = mem_alloc(sizeof *d);
  def_init(d);
  size_t big = 200000;
  char *zeros = mem_calloc(1, big);
  def_msg(d, zeros, big);
  CHECK(d->len < 2000); /* highly compressible */
  zstream *z = zstream_new(0, 65536);
  const char *out;
  size_t n;
  CHECK_INT(zstream_feed(z, d->out, d->len, &out, &n), MIMIC_ERANGE);
  zstream_destroy(z);
  z = zstream_new(100, 0);
  uint8_t chunk[60] = {0x78, 0x9c};
  CHECK_INT(zstream_feed(z, chunk, sizeof chunk, &out, &n), 0);
  CHECK_INT(zstream_feed(z, chunk, sizeof chunk, &out, &n), MIMIC_ERANGE);
  zstream_destroy(z);
  mem_free(zeros);
  deflateEnd(&d->zs);
  mem_free(d);
}

int main(void) {
  RUN(one_message_per_flush_shares_context);
  RUN(split_across_messages_waits_for_suffix);
  RUN(several_payloads_in_one_flush);
  RUN(corrupt_stream_breaks_context);
  RUN(bomb_and_buffer_caps);
  TEST_MAIN_END();
}
