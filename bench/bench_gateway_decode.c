/* Benchmark: MESSAGE_CREATE decode throughput, the gateway's per-event CPU cost on the loop thread:
 * JSON parse + typed event build, plain and through zlib-stream (one deflate context, a sync flush
 * per payload, as Discord sends). Usage: bench_gateway_decode [events] (default 200000). */
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "discord/discord_int.h"
#include "discord/zstream.h"

static size_t make_payload(char *out, size_t cap, int i) {
  int n = snprintf(
      out, cap,
      "{\"op\":0,\"s\":%d,\"t\":\"MESSAGE_CREATE\",\"d\":{\"id\":\"11%017d\",\"channel_id\":"
      "\"1100000000000000200\",\"guild_id\":\"1100000000000000300\",\"author\":{\"id\":\"4%d\","
      "\"username\":\"user%d\",\"global_name\":\"User "
      "%d\",\"discriminator\":\"0\",\"avatar\":null},"
      "\"member\":{\"nick\":null,\"roles\":[\"1100000000000000007\"],\"joined_at\":"
      "\"2024-01-02T03:04:05.000000+00:00\"},\"content\":\"message number %d, talking about the "
      "weather and the game last night <@42>\",\"timestamp\":\"2026-11-21T10:00:00.123000+00:00\","
      "\"edited_timestamp\":null,\"type\":0,\"flags\":0,\"tts\":false,\"mention_everyone\":false,"
      "\"mentions\":[{\"id\":\"42\",\"username\":\"bo\"}],\"mention_roles\":[],\"attachments\":[],"
      "\"embeds\":[],\"pinned\":false,\"channel_type\":0}}",
      i, i, i % 50, i % 50, i % 50, i);
  return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int decode(const char *p, size_t n) {
  json_error_t e;
  json_t *v = json_loadb(p, n, JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES, &e);
  if (!v) return -1;
  discord_event *ev = NULL;
  int rc =
      discord__event_parse(jv_str(v, "t", ""), json_object_get(v, "d"), jv_int(v, "s", 0), &ev);
  int ok = rc == 0 && ev && ev->u.message.n_mentions == 1;
  discord_event_free(ev);
  json_decref(v);
  return ok ? 0 : -1;
}

int main(int argc, char **argv) {
  int64_t count = 200000;
  if (argc > 1 && (str_to_i64(argv[1], &count) != 0 || count <= 0)) {
    fprintf(stderr, "usage: bench_gateway_decode [events]\n");
    return 2;
  }
  char payload[2048];
  size_t total = 0;
  uint64_t t0 = clock_mono_ns();
  for (int64_t i = 0; i < count; i++) {
    size_t n = make_payload(payload, sizeof payload, (int)i);
    total += n;
    if (decode(payload, n)) return 1;
  }
  double plain_s = (double)(clock_mono_ns() - t0) / 1e9;
  /* Compress everything first (the server's work), then time inflate + decode. */
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  deflateInit(&zs, 6);
  buf comp;
  buf_init(&comp, 0);
  size_t *lens = xcalloc((size_t)count, sizeof *lens);
  for (int64_t i = 0; i < count; i++) {
    size_t n = make_payload(payload, sizeof payload, (int)i);
    unsigned char out[4096];
    zs.next_in = (Bytef *)payload;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = sizeof out;
    deflate(&zs, Z_SYNC_FLUSH);
    lens[i] = sizeof out - zs.avail_out;
    if (buf_append(&comp, out, lens[i])) return 1;
  }
  deflateEnd(&zs);
  zstream *z = zstream_new(0, 0);
  t0 = clock_mono_ns();
  size_t off = 0;
  for (int64_t i = 0; i < count; i++) {
    const char *p;
    size_t n;
    if (zstream_feed(z, (const uint8_t *)comp.data + off, lens[i], &p, &n) != 1 || decode(p, n))
      return 1;
    off += lens[i];
  }
  double z_s = (double)(clock_mono_ns() - t0) / 1e9;
  printf("MESSAGE_CREATE decode, %lld events, %.0f bytes each (%.0f compressed)\n",
         (long long)count, (double)total / (double)count, (double)comp.len / (double)count);
  printf("  json + typed event:               %10.0f events/s  %7.1f MB/s\n",
         (double)count / plain_s, (double)total / plain_s / 1e6);
  printf("  zlib-stream + json + typed event: %10.0f events/s  %7.1f MB/s (uncompressed)\n",
         (double)count / z_s, (double)total / z_s / 1e6);
  zstream_destroy(z);
  buf_free(&comp);
  mem_free(lens);
  return 0;
}
