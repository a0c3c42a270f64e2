/* Image decoding: PNG, JPEG, WebP and GIF (first frame) bytes to 8-bit RGB, through Debian's
 * libpng, libjpeg-turbo, libwebp and giflib. The format is sniffed from the bytes, never from a
 * name or a content type. Not a resizer or a preprocessor: the vision encoder's preprocessing lives
 * elsewhere.
 *
 * Contract:
 * - Every size is checked against vis_limits from the file's header BEFORE pixels are allocated, so
 *   a decompression bomb (a 50,000 x 50,000 PNG of a few kB) is refused from its header.
 * - Output is always RGB8, interleaved, row-major, no padding (stride = 3 * width), like
 * llama.cpp's stb_image with 3 channels forced. Palette, grey, grey+alpha and 16-bit PNGs are
 * converted (16-bit keeps the high byte, as stb_image does); transparency is composited over white;
 * CMYK and YCCK JPEGs are converted to RGB (Adobe's inverted CMYK as Photoshop writes it);
 * interlaced PNG/GIF and progressive JPEG are handled; an animated GIF or WebP gives its first
 * frame. Colour profiles and gamma chunks are ignored (as stb_image does), so PNG decodes are
 * byte-identical to llama.cpp's.
 * - Truncated or corrupt input fails with one sentence (err_msg()), leaking nothing.
 * - Thread-safe: no shared state; any number of threads may decode at once. */
#ifndef MIMIC_VISION_IMAGE_H
#define MIMIC_VISION_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* A decoded image. rgb holds width * height * 3 bytes (R, G, B per pixel, rows top to bottom),
 * owned by the image and freed by vis_image_free. */
typedef struct vis_image {
  int width, height;
  uint8_t *rgb;
} vis_image;

/* Caps on one image. A zero field means the default below. */
typedef struct vis_limits {
  size_t max_bytes;    /* encoded size */
  int max_width;       /* pixels */
  int max_height;      /* pixels */
  uint64_t max_pixels; /* width * height */
} vis_limits;

#define VIS_DEFAULT_MAX_BYTES  ((size_t)32 << 20) /* 32 MiB: above Discord's free upload size */
#define VIS_DEFAULT_MAX_SIDE   16384
#define VIS_DEFAULT_MAX_PIXELS 40000000ull /* 40 MP: 120 MB of RGB at most */

typedef enum vis_format {
  VIS_FMT_UNKNOWN = 0,
  VIS_FMT_PNG,
  VIS_FMT_JPEG,
  VIS_FMT_WEBP,
  VIS_FMT_GIF
} vis_format;

/* The format the bytes start with (magic numbers only), VIS_FMT_UNKNOWN when none. */
vis_format vis_image_sniff(const void *data, size_t n);
/* "PNG", "JPEG", "WebP", "GIF" or "unknown". Never NULL. */
const char *vis_format_name(vis_format f);
/* The MIME type of a format ("image/png"...), NULL for VIS_FMT_UNKNOWN. */
const char *vis_format_mime(vis_format f);

/* Fills *lim with the defaults. */
void vis_limits_default(vis_limits *lim);

/* Reads the format and the (canvas) size from the header only, without decoding pixels, and checks
 * them against lim (NULL: defaults). Errors as vis_image_decode's, except that a file whose header
 * is sound but whose pixel data is broken passes. */
int vis_image_probe(const void *data, size_t n, const vis_limits *lim, vis_format *fmt, int *width,
                    int *height) MIMIC_MUST;

/* Decodes data[0..n) (borrowed) into *out (caller frees with vis_image_free). lim: NULL for the
 * defaults. Errors, each one sentence:
 * - MIMIC_ERANGE: over a cap (bytes, width, height or pixel count), refused before decoding pixels;
 * - MIMIC_EUNSUPPORTED: not a PNG, JPEG, WebP or GIF (names what the bytes look like when it can);
 * - MIMIC_EFORMAT: truncated or corrupt;
 * - MIMIC_ENOMEM.
 * *out is zeroed on failure. */
int vis_image_decode(const void *data, size_t n, const vis_limits *lim, vis_image *out) MIMIC_MUST;

/* vis_image_decode on a file's bytes; errors are prefixed with the path, and a file over
 * lim->max_bytes is refused without reading it all. */
int vis_image_load(const char *path, const vis_limits *lim, vis_image *out) MIMIC_MUST;

/* Frees the pixels and zeroes *img. Accepts NULL and a zeroed image. */
void vis_image_free(vis_image *img);

#endif
