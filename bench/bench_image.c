/* Image decoding benchmark: decode time (median of N) and peak memory for one image of a given
 * size and format, as the bot decodes what people post. The image is made here (a gradient with
 * noise, so it compresses like a photo rather than like a flat colour) and encoded in memory with
 * the same Debian libraries, so the benchmark needs no files.
 *
 * Peak memory is the process's maximum resident set (getrusage) before and after the decodes; the
 * difference is what decoding added (the encoded file and the bench's own buffers are counted
 * separately and printed). Run one size per process, so one run's peak does not hide the next's.
 *
 * Usage: bench_image [--format png|jpeg|webp] [--side N] [--reps N]
 *   defaults: png, 512, 20. At the default caps (40 MP): --side 6324. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "base/base.h"
#include "vision/image.h"

static long peak_kib(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

/* ---- encoders (bench only) ---- */

typedef struct membuf {
  uint8_t *p;
  size_t n, cap;
} membuf;

static void png_write(png_structp png, png_bytep d, size_t n) {
  membuf *m = png_get_io_ptr(png);
  if (m->n + n > m->cap) {
    m->cap = (m->n + n) * 2;
    m->p = xrealloc(m->p, m->cap);
  }
  memcpy(m->p + m->n, d, n);
  m->n += n;
}

static void png_flush(png_structp png) { (void)png; }

static int encode_png(const uint8_t *rgb, int w, int h, membuf *out) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct(png);
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    return -1;
  }
  png_set_write_fn(png, out, png_write, png_flush);
  png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(png, info);
  for (int y = 0; y < h; y++) png_write_row(png, (png_bytep)(rgb + (size_t)y * w * 3));
  png_write_end(png, NULL);
  png_destroy_write_struct(&png, &info);
  return 0;
}

static int encode_jpeg(const uint8_t *rgb, int w, int h, membuf *out) {
  struct jpeg_compress_struct c;
  struct jpeg_error_mgr e;
  c.err = jpeg_std_error(&e);
  jpeg_create_compress(&c);
  unsigned char *mem = NULL;
  unsigned long n = 0;
  jpeg_mem_dest(&c, &mem, &n);
  c.image_width = (JDIMENSION)w;
  c.image_height = (JDIMENSION)h;
  c.input_components = 3;
  c.in_color_space = JCS_RGB;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  while (c.next_scanline < c.image_height) {
    JSAMPROW row = (JSAMPROW)(rgb + (size_t)c.next_scanline * w * 3);
    jpeg_write_scanlines(&c, &row, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  out->p = xalloc(n);
  memcpy(out->p, mem, n);
  out->n = n;
  free(mem);
  return 0;
}

static int encode_webp(const uint8_t *rgb, int w, int h, membuf *out) {
  uint8_t *mem = NULL;
  size_t n = WebPEncodeRGB(rgb, w, h, w * 3, 90, &mem);
  if (!n) return -1;
  out->p = xalloc(n);
  memcpy(out->p, mem, n);
  out->n = n;
  WebPFree(mem);
  return 0;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  const char *fmt = "png";
  int side = 512, reps = 20;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--format") && i + 1 < argc)
      fmt = argv[++i];
    else if (!strcmp(argv[i], "--side") && i + 1 < argc)
      side = (int)strtol(argv[++i], NULL, 10);
    else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
      reps = (int)strtol(argv[++i], NULL, 10);
    else {
      fprintf(stderr, "usage: bench_image [--format png|jpeg|webp] [--side N] [--reps N]\n");
      return 2;
    }
  }
  if (side < 16 || side > 16383 || reps < 1) {
    fprintf(stderr, "bench_image: --side 16..16383, --reps >= 1\n");
    return 2;
  }
  size_t npix = (size_t)side * side;
  uint8_t *rgb = xalloc(npix * 3);
  prng r;
  prng_seed(&r, 7);
  for (size_t y = 0; y < (size_t)side; y++)
    for (size_t x = 0; x < (size_t)side; x++) {
      uint8_t *p = rgb + 3 * (y * side + x);
      uint8_t noise = (uint8_t)(prng_next(&r) & 15);
      p[0] = (uint8_t)(x * 255 / side + noise);
      p[1] = (uint8_t)(y * 255 / side + noise);
      p[2] = (uint8_t)((x + y) * 127 / side + noise);
    }
  membuf enc = {0};
  int rc = !strcmp(fmt, "png")    ? encode_png(rgb, side, side, &enc)
           : !strcmp(fmt, "jpeg") ? encode_jpeg(rgb, side, side, &enc)
           : !strcmp(fmt, "webp") ? encode_webp(rgb, side, side, &enc)
                                  : -2;
  mem_free(rgb);
  if (rc) {
    fprintf(stderr, "bench_image: cannot encode %s\n", fmt);
    return 1;
  }
  long before = peak_kib();
  double *ms = xcalloc((size_t)reps, sizeof *ms);
  for (int i = 0; i < reps; i++) {
    vis_image img;
    uint64_t t0 = clock_mono_ns();
    if (vis_image_decode(enc.p, enc.n, NULL, &img)) {
      fprintf(stderr, "bench_image: %s\n", err_msg());
      return 1;
    }
    ms[i] = (double)(clock_mono_ns() - t0) / 1e6;
    vis_image_free(&img);
  }
  long after = peak_kib();
  qsort(ms, (size_t)reps, sizeof *ms, cmp_double);
  printf("%s %dx%d (%.1f MP), file %zu bytes: decode median %.2f ms, min %.2f ms (%d reps); "
         "peak RSS %ld KiB, +%ld KiB while decoding (RGB output %.1f MiB)\n",
         fmt, side, side, (double)npix / 1e6, enc.n, ms[reps / 2], ms[0], reps, after,
         after - before, (double)npix * 3 / (1 << 20));
  mem_free(ms);
  mem_free(enc.p);
  return 0;
}
