/* zlib-stream inflater (see zstream.h). */
#include "discord/zstream.h"

#include <string.h>
#include <zlib.h>

#include "base/base.h"

struct zstream {
  z_stream zs;
  buf in;  /* compressed bytes waiting for the suffix */
  buf out; /* the last flush, inflated */
  bool broken;
  uint64_t bytes_in, bytes_out;
};

static const uint8_t suffix[4] = {0x00, 0x00, 0xff, 0xff};

zstream *zstream_new(size_t in_max, size_t out_max) {
  zstream *z = mem_calloc(1, sizeof *z);
  if (!z) return NULL;
  if (inflateInit(&z->zs) != Z_OK) {
    mem_free(z);
    return NULL;
  }
  buf_init(&z->in, in_max ? in_max : ZSTREAM_IN_MAX);
  buf_init(&z->out, out_max ? out_max : ZSTREAM_OUT_MAX);
  return z;
}

void zstream_destroy(zstream *z) {
  if (!z) return;
  inflateEnd(&z->zs);
  buf_free(&z->in);
  buf_free(&z->out);
  mem_free(z);
}

static int inflate_all(zstream *z, const uint8_t *p, size_t n) {
  buf_reset(&z->out);
  z->zs.next_in = (Bytef *)(uintptr_t)p;
  z->zs.avail_in = (uInt)n;
  for (;;) {
    if (z->out.len >= z->out.limit) {
      z->broken = true;
      return err_set(MIMIC_ERANGE, "gateway zlib-stream message inflates past the %zu-byte cap",
                     z->out.limit);
    }
    size_t left = z->out.limit - z->out.len;
    size_t room = z->out.cap > z->out.len + 1 ? z->out.cap - z->out.len - 1 : 0;
    if (room < 16384 && room < left) {
      size_t want = z->out.len < 16384 ? 16384 : z->out.len;
      if (want > left) want = left;
      int rc = buf_reserve(&z->out, want);
      if (rc) {
        z->broken = true;
        return rc;
      }
      room = z->out.cap - z->out.len - 1;
    }
    if (room > left) room = left;
    z->zs.next_out = (Bytef *)z->out.data + z->out.len;
    z->zs.avail_out = (uInt)room;
    uInt in_before = z->zs.avail_in;
    int r = inflate(&z->zs, Z_SYNC_FLUSH);
    z->out.len += room - z->zs.avail_out;
    bool progress = z->zs.avail_in != in_before || z->zs.avail_out != room;
    if (r == Z_STREAM_END || r == Z_NEED_DICT || r == Z_DATA_ERROR || r == Z_MEM_ERROR) {
      z->broken = true;
      return err_set(MIMIC_EFORMAT, "gateway zlib-stream is corrupt: %s",
                     z->zs.msg ? z->zs.msg
                               : (r == Z_STREAM_END ? "stream ended" : "inflate error"));
    }
    if (z->zs.avail_in == 0 && z->zs.avail_out > 0) break;
    if (r == Z_BUF_ERROR && z->zs.avail_in == 0) break;
    if (!progress && z->zs.avail_out > 0) {
      z->broken = true;
      return err_set(MIMIC_EFORMAT, "gateway zlib-stream is corrupt: inflate made no progress");
    }
  }
  z->out.data[z->out.len] = 0;
  z->bytes_out += z->out.len;
  return 1;
}

int zstream_feed(zstream *z, const uint8_t *data, size_t n, const char **out, size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (z->broken)
    return err_set(MIMIC_EFORMAT, "gateway zlib-stream already failed on this connection");
  z->bytes_in += n;
  bool ends = false;
  if (z->in.len == 0) {
    ends = n >= 4 && memcmp(data + n - 4, suffix, 4) == 0;
    if (ends) {
      /* The common case: one message, one flush. Inflate straight from the frame. */
      int rc = inflate_all(z, data, n);
      if (rc < 0) return rc;
      *out = z->out.data ? z->out.data : "";
      *out_len = z->out.len;
      return 1;
    }
  }
  if (buf_append(&z->in, data, n)) {
    z->broken = true;
    return err_set(MIMIC_ERANGE,
                   "gateway zlib-stream message exceeds %zu compressed bytes without a flush",
                   z->in.limit);
  }
  if (z->in.len < 4 || memcmp(z->in.data + z->in.len - 4, suffix, 4) != 0) return 0;
  int rc = inflate_all(z, (const uint8_t *)z->in.data, z->in.len);
  buf_reset(&z->in);
  if (rc < 0) return rc;
  *out = z->out.data ? z->out.data : "";
  *out_len = z->out.len;
  return 1;
}

uint64_t zstream_bytes_in(const zstream *z) { return z->bytes_in; }
uint64_t zstream_bytes_out(const zstream *z) { return z->bytes_out; }
