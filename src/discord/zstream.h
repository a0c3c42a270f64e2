/* Discord's zlib-stream transport compression: one inflate context per connection; incoming
 * WebSocket messages are buffered until the data ends with the Z_SYNC_FLUSH suffix 00 00 FF FF,
 * and only then inflated (Discord docs, "Transport Compression"). One flush may carry one gateway
 * payload or several back to back (a server may pack them); splitting them is the caller's job
 * (gateway.c parses JSON values one after another). zstd-stream is not supported. */
#ifndef MIMIC_DISCORD_ZSTREAM_H
#define MIMIC_DISCORD_ZSTREAM_H
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define ZSTREAM_IN_MAX  (8u << 20)  /* compressed bytes buffered while waiting for the suffix */
#define ZSTREAM_OUT_MAX (16u << 20) /* inflated bytes of one flush (a decompression-bomb cap) */

typedef struct zstream zstream;

/* A fresh context. in_max/out_max of 0 take the defaults above. NULL on OOM. */
zstream *zstream_new(size_t in_max, size_t out_max);
void zstream_destroy(zstream *z); /* accepts NULL */

/* Feeds one WebSocket message. Returns 1 when the buffered data ended with the flush suffix and
 * was inflated: *out / *out_len hold the inflated bytes (borrowed, valid until the next call);
 * 0 when the data was buffered to wait for more; or a negative code: MIMIC_EFORMAT for a corrupt
 * stream, MIMIC_ERANGE past a cap. After an error the context is unusable (a deflate stream cannot
 * resynchronise): the connection must be dropped and a new context made for the next one. */
int zstream_feed(zstream *z, const uint8_t *data, size_t n, const char **out,
                 size_t *out_len) MIMIC_MUST;

/* Counters for the benchmark and logs. */
uint64_t zstream_bytes_in(const zstream *z);
uint64_t zstream_bytes_out(const zstream *z);

#endif
