/* Image decoding: llama.cpp's decoded bytes (../shared/testdata/vision), every format and PNG/GIF
 * variant (tests/vision/data, written by make_fixtures.py), bombs refused from their headers,
 * truncated and corrupt files, wrong content, and allocation failure at every point. */
#include "test.h"

#include "base/base.h"
#include "base/fs.h"
#include "vision/image.h"

#define W 16
#define H 12

static const char *data_path(const char *name, char *out, size_t cap) {
  const char *src = getenv("MIMIC_SRC");
  snprintf(out, cap, "%s/tests/vision/data/%s", src ? src : ".", name);
  return out;
}

static char *read_data(const char *name, size_t *n) {
  char p[1024];
  char *d = NULL;
  if (fs_read_file(data_path(name, p, sizeof p), 0, &d, n) != 0) return NULL;
  return d;
}

static void pat(int x, int y, uint8_t px[3]) {
  px[0] = (uint8_t)(16 * x), px[1] = (uint8_t)(20 * y), px[2] = (uint8_t)(8 * (x + y));
}

/* Loads a fixture and checks its size. */
static int load(const char *name, vis_image *img) {
  char p[1024];
  int rc = vis_image_load(data_path(name, p, sizeof p), NULL, img);
  if (rc) printf("  %s: %s\n", name, err_msg());
  return rc;
}

static int max_diff(const uint8_t *a, const uint8_t *b, size_t n, size_t *ndiff) {
  int m = 0;
  *ndiff = 0;
  for (size_t i = 0; i < n; i++) {
    int d = abs((int)a[i] - (int)b[i]);
    if (d) (*ndiff)++;
    if (d > m) m = d;
  }
  return m;
}

TEST(reference_png_is_byte_identical) {
  char p[1024], q[1024];
  if (!test_shared_path("testdata/vision/img-a.png", p, sizeof p) ||
      !test_shared_path("testdata/vision/img-a.decoded.u8", q, sizeof q))
    SKIP("../shared/testdata/vision absent");
  vis_image img;
  CHECK_OK(vis_image_load(p, NULL, &img));
  CHECK_INT(img.width, 100);
  CHECK_INT(img.height, 80);
  char *ref = NULL;
  size_t n = 0;
  CHECK_OK(fs_read_file(q, 0, &ref, &n));
  REQUIRE(ref && img.rgb);
  CHECK_INT(n, (size_t)img.width * img.height * 3);
  if (n == (size_t)img.width * img.height * 3) CHECK(memcmp(ref, img.rgb, n) == 0);
  mem_free(ref);
  vis_image_free(&img);
}

TEST(reference_jpeg_within_two_levels) {
  char p[1024], q[1024];
  if (!test_shared_path("testdata/vision/img-c.jpg", p, sizeof p) ||
      !test_shared_path("testdata/vision/img-c.decoded.u8", q, sizeof q))
    SKIP("../shared/testdata/vision absent");
  vis_image img;
  CHECK_OK(vis_image_load(p, NULL, &img));
  CHECK_INT(img.width, 64);
  CHECK_INT(img.height, 64);
  char *ref = NULL;
  size_t n = 0;
  CHECK_OK(fs_read_file(q, 0, &ref, &n));
  REQUIRE(ref && img.rgb && n == 64 * 64 * 3);
  size_t nd;
  int m = max_diff((const uint8_t *)ref, img.rgb, n, &nd);
  printf("     img-c.jpg: %zu of %zu bytes differ from stb_image, by at most %d\n", nd, n, m);
  CHECK(m <= 2);
  mem_free(ref);
  vis_image_free(&img);
}

/* The fixtures whose pixels are exactly the pattern. */
TEST(lossless_formats_give_the_pattern) {
  const char *names[] = {"rgb.png", "interlaced.png", "rgb16.png", "lossless.webp"};
  for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
    vis_image img;
    if (load(names[k], &img) != 0) {
      TEST_FAIL_("%s did not decode", names[k]);
      continue;
    }
    CHECK_INT(img.width, W);
    CHECK_INT(img.height, H);
    int bad = 0;
    for (int y = 0; y < H && !bad; y++)
      for (int x = 0; x < W && !bad; x++) {
        uint8_t e[3];
        pat(x, y, e);
        if (memcmp(img.rgb + 3 * (y * W + x), e, 3) != 0) {
          bad = 1;
          TEST_FAIL_("%s: pixel (%d,%d) differs", names[k], x, y);
        }
      }
    vis_image_free(&img);
  }
}

TEST(alpha_is_composited_over_white) {
  vis_image img;
  REQUIRE(load("rgba.png", &img) == 0);
  uint8_t e[3];
  for (int y = 0; y < H; y++) {
    /* column 0: alpha 0 -> white; column 1: alpha 128 -> halfway to white; column 2: opaque */
    const uint8_t *p = img.rgb + 3 * (y * W);
    CHECK(p[0] == 255 && p[1] == 255 && p[2] == 255);
    pat(1, y, e);
    for (int c = 0; c < 3; c++) CHECK_INT(p[3 + c], (e[c] * 128 + 255 * 127 + 127) / 255);
    pat(2, y, e);
    CHECK(memcmp(p + 6, e, 3) == 0);
  }
  vis_image_free(&img);
  REQUIRE(load("alpha.webp", &img) == 0);
  CHECK(img.rgb[0] == 255 && img.rgb[1] == 255 && img.rgb[2] == 255);
  vis_image_free(&img);
}

TEST(palette_grey_and_16_bit_png) {
  vis_image img;
  REQUIRE(load("palette.png", &img) == 0);
  /* columns 0-3 red, 4-7 green, 8-11 blue, 12-15 the transparent entry (white) */
  const uint8_t *r0 = img.rgb;
  CHECK(r0[0] == 255 && r0[1] == 0 && r0[2] == 0);
  CHECK(r0[3 * 4 + 1] == 255);
  CHECK(r0[3 * 8 + 2] == 255 && r0[3 * 8] == 0);
  CHECK(r0[3 * 12] == 255 && r0[3 * 12 + 1] == 255 && r0[3 * 12 + 2] == 255);
  vis_image_free(&img);
  REQUIRE(load("grey1.png", &img) == 0);
  CHECK(img.rgb[0] == 255 && img.rgb[1] == 255 && img.rgb[2] == 255);
  vis_image_free(&img);
  REQUIRE(load("grey16.png", &img) == 0);
  for (int x = 0; x < W; x++) {
    const uint8_t *p = img.rgb + 3 * (5 * W + x); /* high byte of x*4096+y */
    CHECK(p[0] == 16 * x && p[1] == 16 * x && p[2] == 16 * x);
  }
  vis_image_free(&img);
}

static int near_rgb(const uint8_t *p, int r, int g, int b, int tol) {
  return abs(p[0] - r) <= tol && abs(p[1] - g) <= tol && abs(p[2] - b) <= tol;
}

TEST(jpeg_variants) {
  vis_image img;
  REQUIRE(load("flat.jpg", &img) == 0);
  CHECK(img.width == W && img.height == H);
  CHECK(near_rgb(img.rgb + 3 * 17, 200, 40, 90, 3));
  vis_image_free(&img);
  REQUIRE(load("progressive.jpg", &img) == 0);
  CHECK(near_rgb(img.rgb + 3 * 17, 200, 40, 90, 3));
  vis_image_free(&img);
  REQUIRE(load("grey.jpg", &img) == 0);
  CHECK(near_rgb(img.rgb + 3 * 17, 77, 77, 77, 2));
  vis_image_free(&img);
  /* CMYK (0, 255, 255, 0) is pure red ink on paper */
  REQUIRE(load("cmyk.jpg", &img) == 0);
  CHECK(near_rgb(img.rgb + 3 * 17, 255, 0, 0, 3));
  vis_image_free(&img);
}

TEST(animations_give_the_first_frame) {
  const char *names[] = {"anim.gif", "anim.webp"};
  for (int k = 0; k < 2; k++) {
    vis_image img;
    if (load(names[k], &img) != 0) {
      TEST_FAIL_("%s did not decode", names[k]);
      continue;
    }
    CHECK(img.width == W && img.height == H);
    CHECK(near_rgb(img.rgb + 3 * (W * H - 1), 255, 0, 0, 0)); /* red, not the blue second frame */
    vis_image_free(&img);
  }
}

TEST(gif_interlace_and_transparency) {
  vis_image a, b;
  REQUIRE(load("interlaced.gif", &a) == 0);
  REQUIRE(load("palette.png", &b) == 0);
  /* the same palette picture: interlaced rows land where they belong; entry 3 is opaque here */
  for (int y = 0; y < H; y++)
    for (int x = 0; x < 12; x++)
      CHECK(memcmp(a.rgb + 3 * (y * W + x), b.rgb + 3 * (y * W + x), 3) == 0);
  CHECK(near_rgb(a.rgb + 3 * 13, 10, 20, 30, 0));
  vis_image_free(&a);
  REQUIRE(load("transparent.gif", &a) == 0);
  CHECK(near_rgb(a.rgb + 3 * 13, 255, 255, 255, 0));
  CHECK(near_rgb(a.rgb, 255, 0, 0, 0));
  vis_image_free(&a);
  vis_image_free(&b);
}

TEST(bombs_are_refused_from_the_header) {
  const char *names[] = {"bomb.png", "bomb.jpg", "bomb.gif"};
  for (int k = 0; k < 3; k++) {
    size_t n;
    char *d = read_data(names[k], &n);
    REQUIRE(d);
    long before = mem_count();
    vis_image img;
    int rc = vis_image_decode(d, n, NULL, &img);
    CHECK_INT(rc, MIMIC_ERANGE);
    CHECK(img.rgb == NULL);
    CHECK(strstr(err_msg(), "over the") != NULL);
    printf("     %s: %s\n", names[k], err_msg());
    CHECK(mem_count() - before < 4); /* no pixel buffer was asked for */
    vis_format f;
    int w, h;
    CHECK_INT(vis_image_probe(d, n, NULL, &f, &w, &h), MIMIC_ERANGE);
    mem_free(d);
  }
  /* A WebP canvas of 16383 x 16383 (VP8X), body absent. */
  uint8_t webp[30] = {'R', 'I', 'F', 'F', 22, 0, 0, 0, 'W', 'E',  'B',  'P', 'V',  'P',  '8',
                      'X', 10,  0,   0,   0,  0, 0, 0, 0,   0xFE, 0x3F, 0,   0xFE, 0x3F, 0};
  vis_image img;
  CHECK_INT(vis_image_decode(webp, sizeof webp, NULL, &img), MIMIC_ERANGE);
  /* Caps given by the caller: each one alone. */
  size_t n;
  char *d = read_data("rgb.png", &n);
  REQUIRE(d);
  vis_limits l = {.max_width = 15};
  CHECK_INT(vis_image_decode(d, n, &l, &img), MIMIC_ERANGE);
  l = (vis_limits){.max_height = 11};
  CHECK_INT(vis_image_decode(d, n, &l, &img), MIMIC_ERANGE);
  l = (vis_limits){.max_pixels = W * H - 1};
  CHECK_INT(vis_image_decode(d, n, &l, &img), MIMIC_ERANGE);
  l = (vis_limits){.max_bytes = n - 1};
  CHECK_INT(vis_image_decode(d, n, &l, &img), MIMIC_ERANGE);
  l = (vis_limits){.max_pixels = W * H};
  CHECK_OK(vis_image_decode(d, n, &l, &img));
  vis_image_free(&img);
  mem_free(d);
}

TEST(truncated_and_corrupt_files_fail_cleanly) {
  const char *names[] = {"rgb.png",       "interlaced.png", "flat.jpg", "progressive.jpg",
                         "lossless.webp", "anim.webp",      "anim.gif", "interlaced.gif"};
  for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
    size_t n;
    char *d = read_data(names[k], &n);
    REQUIRE(d);
    /* every prefix: an error (never a crash or leak), and the whole file decodes */
    int fails = 0;
    for (size_t cut = 0; cut < n; cut++) {
      vis_image img;
      int rc = vis_image_decode(d, cut, NULL, &img);
      if (rc != 0) {
        fails++;
        CHECK(img.rgb == NULL);
        CHECK(rc == MIMIC_EFORMAT || rc == MIMIC_EUNSUPPORTED);
      }
      vis_image_free(&img);
    }
    CHECK(fails > 0);
    vis_image half;
    if (vis_image_decode(d, n / 2, NULL, &half) != 0)
      printf("     %s cut: %s\n", names[k], err_msg());
    vis_image_free(&half);
    mem_free(d);
  }
  /* A flipped CRC in a critical chunk. */
  size_t n;
  char *d = read_data("rgb.png", &n);
  REQUIRE(d);
  d[29] ^= 1; /* IHDR's CRC */
  vis_image img;
  CHECK_INT(vis_image_decode(d, n, NULL, &img), MIMIC_EFORMAT);
  CHECK(strstr(err_msg(), "PNG") != NULL);
  mem_free(d);
}

TEST(wrong_content_is_named) {
  vis_image img;
  const char html[] = "<!DOCTYPE html><html>an error page</html>";
  CHECK_INT(vis_image_decode(html, sizeof html - 1, NULL, &img), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "HTML") != NULL);
  const char bmp[] = "BM\x36\0\0\0\0\0\0\0\x36\0\0\0";
  CHECK_INT(vis_image_decode(bmp, sizeof bmp - 1, NULL, &img), MIMIC_EUNSUPPORTED);
  CHECK(strstr(err_msg(), "BMP") != NULL);
  CHECK_INT(vis_image_decode("", 0, NULL, &img), MIMIC_EFORMAT);
  CHECK_INT(vis_image_sniff("GIF89a", 6), VIS_FMT_GIF);
  CHECK_STR(vis_format_mime(VIS_FMT_WEBP), "image/webp");
  char p[1024];
  CHECK(vis_image_load(data_path("no-such.png", p, sizeof p), NULL, &img) == MIMIC_EIO);
}

static int decode_each(void *ctx) {
  (void)ctx;
  const char *names[] = {"rgba.png", "cmyk.jpg", "alpha.webp", "anim.webp", "transparent.gif"};
  int rc = 0;
  for (int k = 0; k < 5 && rc == 0; k++) {
    vis_image img;
    char p[1024];
    rc = vis_image_load(data_path(names[k], p, sizeof p), NULL, &img);
    vis_image_free(&img);
  }
  return rc;
}

TEST(allocation_failures_are_clean) { CHECK_OOM(decode_each, NULL); }

int main(void) {
  RUN(reference_png_is_byte_identical);
  RUN(reference_jpeg_within_two_levels);
  RUN(lossless_formats_give_the_pattern);
  RUN(alpha_is_composited_over_white);
  RUN(palette_grey_and_16_bit_png);
  RUN(jpeg_variants);
  RUN(animations_give_the_first_frame);
  RUN(gif_interlace_and_transparency);
  RUN(bombs_are_refused_from_the_header);
  RUN(truncated_and_corrupt_files_fail_cleanly);
  RUN(wrong_content_is_named);
  RUN(allocation_failures_are_clean);
  TEST_MAIN_END();
}
