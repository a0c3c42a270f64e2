/* Image decoding through libpng, libjpeg-turbo, libwebp and giflib into RGB8 (see image.h). Each
 * format's decoder reads the header, checks the caps, allocates the pixels once and converts in
 * place. libpng and libjpeg report errors by longjmp: the function that calls setjmp only ever
 * writes through a pointer to a state struct owned by its caller, so nothing it holds is
 * indeterminate after the jump, and the caller frees what the state owns. */
#include "vision/image.h"

#include <limits.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <gif_lib.h>
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/demux.h>

#include "base/alloc.h"
#include "base/fs.h"

/* libpng's buffer for one ancillary chunk (iCCP, zTXt...): the text inside may be compressed, so
 * this stops a chunk bomb; mimic reads no ancillary chunk anyway. */
#define PNG_CHUNK_CAP ((png_alloc_size_t)4 << 20)
/* A progressive JPEG may have any number of scans, each a pass over the whole image:
 * libjpeg-turbo's own advice is to stop a file with hundreds of them. */
#define JPEG_MAX_SCANS 500

vis_format vis_image_sniff(const void *data, size_t n) {
  const uint8_t *p = data;
  if (!p) return VIS_FMT_UNKNOWN;
  if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) return VIS_FMT_PNG;
  if (n >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return VIS_FMT_JPEG;
  if (n >= 12 && memcmp(p, "RIFF", 4) == 0 && memcmp(p + 8, "WEBP", 4) == 0) return VIS_FMT_WEBP;
  if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 || memcmp(p, "GIF89a", 6) == 0)) return VIS_FMT_GIF;
  return VIS_FMT_UNKNOWN;
}

const char *vis_format_name(vis_format f) {
  switch (f) {
  case VIS_FMT_PNG: return "PNG";
  case VIS_FMT_JPEG: return "JPEG";
  case VIS_FMT_WEBP: return "WebP";
  case VIS_FMT_GIF: return "GIF";
  default: return "unknown";
  }
}

const char *vis_format_mime(vis_format f) {
  switch (f) {
  case VIS_FMT_PNG: return "image/png";
  case VIS_FMT_JPEG: return "image/jpeg";
  case VIS_FMT_WEBP: return "image/webp";
  case VIS_FMT_GIF: return "image/gif";
  default: return NULL;
  }
}

void vis_limits_default(vis_limits *lim) {
  lim->max_bytes = VIS_DEFAULT_MAX_BYTES;
  lim->max_width = VIS_DEFAULT_MAX_SIDE;
  lim->max_height = VIS_DEFAULT_MAX_SIDE;
  lim->max_pixels = VIS_DEFAULT_MAX_PIXELS;
}

/* lim with every zero field replaced by its default. */
static vis_limits limits_of(const vis_limits *lim) {
  vis_limits l;
  vis_limits_default(&l);
  if (lim) {
    if (lim->max_bytes) l.max_bytes = lim->max_bytes;
    if (lim->max_width > 0) l.max_width = lim->max_width;
    if (lim->max_height > 0) l.max_height = lim->max_height;
    if (lim->max_pixels) l.max_pixels = lim->max_pixels;
  }
  return l;
}

/* The cap check every decoder runs on the header's size before allocating anything. */
static int check_size(const vis_limits *l, const char *fmt, uint64_t w, uint64_t h) {
  if (w == 0 || h == 0)
    return err_set(MIMIC_EFORMAT, "%s image has no pixels (%llu x %llu)", fmt,
                   (unsigned long long)w, (unsigned long long)h);
  if (w > (uint64_t)l->max_width || h > (uint64_t)l->max_height)
    return err_set(MIMIC_ERANGE, "%s image is %llu x %llu pixels, over the %d x %d cap", fmt,
                   (unsigned long long)w, (unsigned long long)h, l->max_width, l->max_height);
  if (w * h > l->max_pixels)
    return err_set(MIMIC_ERANGE, "%s image is %llu x %llu = %llu pixels, over the %llu-pixel cap",
                   fmt, (unsigned long long)w, (unsigned long long)h, (unsigned long long)(w * h),
                   (unsigned long long)l->max_pixels);
  return 0;
}

/* Blends a straight-alpha colour over white: c*a/255 + 255*(255-a)/255, rounded. */
static inline uint8_t over_white(unsigned c, unsigned a) {
  return (uint8_t)((c * a + 255u * (255u - a) + 127u) / 255u);
}

/* RGBA (4 bytes a pixel) to RGB over white, in place: the write position never passes the read. */
static void rgba_to_rgb(uint8_t *p, size_t npix) {
  for (size_t i = 0; i < npix; i++) {
    const uint8_t *s = p + 4 * i;
    uint8_t r = s[0], g = s[1], b = s[2], a = s[3];
    uint8_t *d = p + 3 * i;
    if (a == 255) {
      d[0] = r, d[1] = g, d[2] = b;
    } else {
      d[0] = over_white(r, a), d[1] = over_white(g, a), d[2] = over_white(b, a);
    }
  }
}

/* Shrinks a 4-byte-per-pixel buffer to its 3-byte RGB prefix (never fails: keeps it on error). */
static uint8_t *shrink_rgb(uint8_t *p, size_t npix) {
  uint8_t *q = mem_realloc(p, npix * 3);
  return q ? q : p;
}

/* ---- PNG ---------------------------------------------------------------------------------- */

typedef struct png_state {
  const uint8_t *data;
  size_t n, pos;
  png_structp png;
  png_infop info;
  uint8_t *pix;
  png_bytep *rows;
  char msg[200];
  vis_limits lim;
  bool header_only;
  int width, height;
} png_state;

static void png_on_error(png_structp png, png_const_charp msg) {
  png_state *st = png_get_error_ptr(png);
  snprintf(st->msg, sizeof st->msg, "%s", msg ? msg : "error");
  png_longjmp(png, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) {
  (void)png, (void)msg; /* warnings (bad ancillary chunks, profiles) are not the caller's concern */
}

static void png_on_read(png_structp png, png_bytep out, size_t len) {
  png_state *st = png_get_io_ptr(png);
  if (len > st->n - st->pos) png_error(png, "file is truncated");
  memcpy(out, st->data + st->pos, len);
  st->pos += len;
}

/* The part that may longjmp. Returns 0, or a negative code with st->msg or err_msg() set. */
static int png_run(png_state *st) {
  if (setjmp(png_jmpbuf(st->png))) return MIMIC_EFORMAT;
  png_set_read_fn(st->png, st, png_on_read);
  png_set_user_limits(st->png, 0x7fffffffu, 0x7fffffffu); /* our caps below say it in words */
  png_set_chunk_malloc_max(st->png, PNG_CHUNK_CAP);
  png_read_info(st->png, st->info);
  png_uint_32 w = png_get_image_width(st->png, st->info);
  png_uint_32 h = png_get_image_height(st->png, st->info);
  int rc = check_size(&st->lim, "PNG", w, h);
  if (rc) return rc;
  st->width = (int)w, st->height = (int)h;
  if (st->header_only) return 0;

  int color = png_get_color_type(st->png, st->info);
  int depth = png_get_bit_depth(st->png, st->info);
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(st->png);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(st->png);
  if (png_get_valid(st->png, st->info, PNG_INFO_tRNS)) png_set_tRNS_to_alpha(st->png);
  if (depth == 16) png_set_strip_16(st->png); /* high byte, as stb_image */
  if (color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA)
    png_set_gray_to_rgb(st->png);
  png_set_interlace_handling(st->png);
  png_read_update_info(st->png, st->info);
  int ch = png_get_channels(st->png, st->info);
  if (ch != 3 && ch != 4) {
    snprintf(st->msg, sizeof st->msg, "unexpected %d channels after conversion", ch);
    return MIMIC_EFORMAT;
  }
  size_t rowbytes = png_get_rowbytes(st->png, st->info);
  if (rowbytes != (size_t)w * (size_t)ch) {
    snprintf(st->msg, sizeof st->msg, "unexpected row size after conversion");
    return MIMIC_EFORMAT;
  }
  st->pix = mem_alloc(rowbytes * h);
  st->rows = mem_calloc(h, sizeof *st->rows);
  if (!st->pix || !st->rows) return err_set(MIMIC_ENOMEM, "out of memory for a %ux%u PNG", w, h);
  for (png_uint_32 y = 0; y < h; y++) st->rows[y] = st->pix + (size_t)y * rowbytes;
  png_read_image(st->png, st->rows);
  png_read_end(st->png, NULL);
  if (ch == 4) {
    rgba_to_rgb(st->pix, (size_t)w * h);
    st->pix = shrink_rgb(st->pix, (size_t)w * h);
  }
  return 0;
}

static int png_decode(const uint8_t *data, size_t n, const vis_limits *lim, bool header_only,
                      vis_image *out) {
  png_state st = {.data = data, .n = n, .lim = *lim, .header_only = header_only};
  int rc;
  st.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &st, png_on_error, png_on_warning);
  if (st.png) st.info = png_create_info_struct(st.png);
  if (!st.png || !st.info) {
    rc = err_set(MIMIC_ENOMEM, "out of memory starting the PNG decoder");
    goto out;
  }
  err_clear();
  rc = png_run(&st);
  if (rc == MIMIC_EFORMAT && st.msg[0]) {
    rc = err_set(MIMIC_EFORMAT, "PNG image is corrupt or truncated (%s)", st.msg);
    goto out;
  }
  if (rc) goto out;
  out->width = st.width, out->height = st.height;
  out->rgb = st.pix;
  st.pix = NULL;
out:
  png_destroy_read_struct(st.png ? &st.png : NULL, st.info ? &st.info : NULL, NULL);
  mem_free(st.rows);
  mem_free(st.pix);
  return rc;
}

/* ---- JPEG --------------------------------------------------------------------------------- */

typedef struct jpeg_state {
  struct jpeg_error_mgr pub; /* first, so the library's pointer is ours */
  struct jpeg_progress_mgr progress;
  jmp_buf jmp;
  struct jpeg_decompress_struct cinfo;
  bool created;
  uint8_t *pix;
  uint8_t *line; /* one CMYK scanline */
  char msg[JMSG_LENGTH_MAX + 32];
  vis_limits lim;
  bool header_only;
  int width, height;
} jpeg_state;

static void jpeg_on_error(j_common_ptr c) {
  jpeg_state *st = (jpeg_state *)c->err;
  char m[JMSG_LENGTH_MAX];
  c->err->format_message(c, m);
  snprintf(st->msg, sizeof st->msg, "%s", m);
  longjmp(st->jmp, 1);
}

/* Warnings (corrupt data the library recovers from, as stb_image would) are not printed, except
 * that a file ending early is an error: libjpeg would otherwise fill the missing rows with grey. */
static void jpeg_on_message(j_common_ptr c, int level) {
  if (level < 0 && c->err->msg_code == JWRN_JPEG_EOF) {
    jpeg_state *st = (jpeg_state *)c->err;
    snprintf(st->msg, sizeof st->msg, "the file ends before its last scan");
    longjmp(st->jmp, 1);
  }
}

static void jpeg_on_progress(j_common_ptr c) {
  jpeg_state *st = (jpeg_state *)c->err;
  j_decompress_ptr d = (j_decompress_ptr)c;
  if (d->progressive_mode && d->input_scan_number > JPEG_MAX_SCANS) {
    snprintf(st->msg, sizeof st->msg, "more than %d progressive scans", JPEG_MAX_SCANS);
    longjmp(st->jmp, 1);
  }
}

static int jpeg_run(jpeg_state *st, const uint8_t *data, size_t n) {
  j_decompress_ptr ci = &st->cinfo;
  if (setjmp(st->jmp)) return MIMIC_EFORMAT;
  ci->err = jpeg_std_error(&st->pub);
  st->pub.error_exit = jpeg_on_error;
  st->pub.emit_message = jpeg_on_message;
  jpeg_create_decompress(ci);
  st->created = true;
  st->progress.progress_monitor = jpeg_on_progress;
  ci->progress = &st->progress;
  jpeg_mem_src(ci, data, (unsigned long)n);
  jpeg_read_header(ci, TRUE);
  int rc = check_size(&st->lim, "JPEG", ci->image_width, ci->image_height);
  if (rc) return rc;
  st->width = (int)ci->image_width, st->height = (int)ci->image_height;
  if (st->header_only) return 0;
  /* The library's working memory (a progressive file keeps every coefficient) is bounded by the
   * pixel cap: 2 bytes a coefficient, 4 components at most, plus slack for its small tables. */
  uint64_t mem_cap = st->lim.max_pixels * 8 + (16u << 20);
  ci->mem->max_memory_to_use = mem_cap > (uint64_t)LONG_MAX ? LONG_MAX : (long)mem_cap;
  bool cmyk = ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK;
  if (cmyk) {
    ci->out_color_space = JCS_CMYK;
  } else if (ci->num_components == 1 || ci->num_components == 3) {
    ci->out_color_space = JCS_RGB;
  } else {
    snprintf(st->msg, sizeof st->msg, "%d colour components are not supported", ci->num_components);
    return MIMIC_EFORMAT;
  }
  jpeg_start_decompress(ci);
  if ((int)ci->output_width != st->width || (int)ci->output_height != st->height ||
      ci->output_components != (cmyk ? 4 : 3)) {
    snprintf(st->msg, sizeof st->msg, "unexpected output shape");
    return MIMIC_EFORMAT;
  }
  size_t w = (size_t)st->width, h = (size_t)st->height;
  st->pix = mem_alloc(w * h * 3);
  if (cmyk) st->line = mem_alloc(w * 4);
  if (!st->pix || (cmyk && !st->line))
    return err_set(MIMIC_ENOMEM, "out of memory for a %zux%zu JPEG", w, h);
  /* Photoshop (the Adobe marker) stores CMYK inverted: 255 is no ink. */
  bool inverted = ci->saw_Adobe_marker;
  while (ci->output_scanline < ci->output_height) {
    size_t y = ci->output_scanline;
    uint8_t *dst = st->pix + y * w * 3;
    JSAMPROW row = cmyk ? st->line : dst;
    if (jpeg_read_scanlines(ci, &row, 1) != 1) {
      snprintf(st->msg, sizeof st->msg, "no scanline %zu", y);
      return MIMIC_EFORMAT;
    }
    if (cmyk) {
      for (size_t x = 0; x < w; x++) {
        const uint8_t *s = st->line + 4 * x;
        unsigned c = s[0], m = s[1], yy = s[2], k = s[3];
        if (!inverted) c = 255 - c, m = 255 - m, yy = 255 - yy, k = 255 - k;
        dst[3 * x + 0] = (uint8_t)((c * k + 127) / 255);
        dst[3 * x + 1] = (uint8_t)((m * k + 127) / 255);
        dst[3 * x + 2] = (uint8_t)((yy * k + 127) / 255);
      }
    }
  }
  jpeg_finish_decompress(ci);
  return 0;
}

static int jpeg_decode(const uint8_t *data, size_t n, const vis_limits *lim, bool header_only,
                       vis_image *out) {
  jpeg_state *st = mem_calloc(1, sizeof *st); /* jmp_buf and cinfo: keep them off small stacks */
  if (!st) return err_set(MIMIC_ENOMEM, "out of memory starting the JPEG decoder");
  st->lim = *lim;
  st->header_only = header_only;
  err_clear();
  int rc = jpeg_run(st, data, n);
  if (rc == MIMIC_EFORMAT && st->msg[0]) {
    rc = err_set(MIMIC_EFORMAT, "JPEG image is corrupt or truncated (%s)", st->msg);
  } else if (rc == 0) {
    out->width = st->width, out->height = st->height;
    out->rgb = st->pix;
    st->pix = NULL;
  }
  if (st->created) jpeg_destroy_decompress(&st->cinfo);
  mem_free(st->pix);
  mem_free(st->line);
  mem_free(st);
  return rc;
}

/* ---- WebP --------------------------------------------------------------------------------- */

static int webp_decode(const uint8_t *data, size_t n, const vis_limits *lim, bool header_only,
                       vis_image *out) {
  WebPBitstreamFeatures ft;
  VP8StatusCode vs = WebPGetFeatures(data, n, &ft);
  if (vs == VP8_STATUS_NOT_ENOUGH_DATA)
    return err_set(MIMIC_EFORMAT, "WebP image is truncated before its header ends");
  if (vs != VP8_STATUS_OK) return err_set(MIMIC_EFORMAT, "WebP image header is corrupt");
  int rc = check_size(lim, "WebP", (uint64_t)ft.width, (uint64_t)ft.height);
  if (rc) return rc;
  if (header_only) {
    out->width = ft.width, out->height = ft.height;
    return 0;
  }
  size_t w = (size_t)ft.width, h = (size_t)ft.height;
  uint8_t *pix = NULL;
  if (ft.has_animation) {
    /* The first frame as shown: the animation decoder composes it onto the full canvas. */
    WebPData wd = {data, n};
    WebPAnimDecoderOptions opt;
    if (!WebPAnimDecoderOptionsInit(&opt)) return err_set(MIMIC_EUNSUPPORTED, "libwebp mismatch");
    opt.color_mode = MODE_RGBA;
    opt.use_threads = 0;
    WebPAnimDecoder *dec = WebPAnimDecoderNew(&wd, &opt);
    if (!dec) return err_set(MIMIC_EFORMAT, "animated WebP image is corrupt or truncated");
    WebPAnimInfo ai;
    uint8_t *frame = NULL;
    int ts = 0;
    if (!WebPAnimDecoderGetInfo(dec, &ai) || ai.canvas_width != w || ai.canvas_height != h ||
        !WebPAnimDecoderGetNext(dec, &frame, &ts) || !frame) {
      WebPAnimDecoderDelete(dec);
      return err_set(MIMIC_EFORMAT, "animated WebP image is corrupt or truncated (first frame)");
    }
    pix = mem_alloc(w * h * 4);
    if (pix) memcpy(pix, frame, w * h * 4);
    WebPAnimDecoderDelete(dec);
    if (!pix) return err_set(MIMIC_ENOMEM, "out of memory for a %zux%zu WebP", w, h);
    rgba_to_rgb(pix, w * h);
    pix = shrink_rgb(pix, w * h);
  } else if (ft.has_alpha) {
    pix = mem_alloc(w * h * 4);
    if (!pix) return err_set(MIMIC_ENOMEM, "out of memory for a %zux%zu WebP", w, h);
    if (!WebPDecodeRGBAInto(data, n, pix, w * h * 4, (int)(w * 4))) {
      mem_free(pix);
      return err_set(MIMIC_EFORMAT, "WebP image is corrupt or truncated");
    }
    rgba_to_rgb(pix, w * h);
    pix = shrink_rgb(pix, w * h);
  } else {
    pix = mem_alloc(w * h * 3);
    if (!pix) return err_set(MIMIC_ENOMEM, "out of memory for a %zux%zu WebP", w, h);
    if (!WebPDecodeRGBInto(data, n, pix, w * h * 3, (int)(w * 3))) {
      mem_free(pix);
      return err_set(MIMIC_EFORMAT, "WebP image is corrupt or truncated");
    }
  }
  out->width = (int)w, out->height = (int)h;
  out->rgb = pix;
  return 0;
}

/* ---- GIF ---------------------------------------------------------------------------------- */

typedef struct gif_src {
  const uint8_t *data;
  size_t n, pos;
} gif_src;

static int gif_on_read(GifFileType *g, GifByteType *buf, int len) {
  gif_src *s = g->UserData;
  if (len <= 0) return 0;
  size_t k = (size_t)len;
  if (k > s->n - s->pos) k = s->n - s->pos;
  memcpy(buf, s->data + s->pos, k);
  s->pos += k;
  return (int)k;
}

static int gif_fail(int code, const char *what, int gerr) {
  const char *why = GifErrorString(gerr);
  return err_set(code, "GIF image is corrupt or truncated (%s%s%s)", what, why ? ": " : "",
                 why ? why : "");
}

/* Reads records up to the first image, decodes it onto the logical screen (areas it does not cover
 * and its transparent colour are white) and stops: later frames are never read. */
static int gif_run(GifFileType *g, const vis_limits *lim, bool header_only, vis_image *out,
                   uint8_t **pixp, GifPixelType **linep) {
  int transparent = -1;
  for (;;) {
    GifRecordType rt;
    if (DGifGetRecordType(g, &rt) != GIF_OK) return gif_fail(MIMIC_EFORMAT, "record", g->Error);
    if (rt == TERMINATE_RECORD_TYPE) return err_set(MIMIC_EFORMAT, "GIF image has no frame");
    if (rt == EXTENSION_RECORD_TYPE) {
      int code;
      GifByteType *ext;
      if (DGifGetExtension(g, &code, &ext) != GIF_OK)
        return gif_fail(MIMIC_EFORMAT, "extension", g->Error);
      if (code == GRAPHICS_EXT_FUNC_CODE && ext && ext[0] >= 4)
        transparent = (ext[1] & 1) ? ext[4] : -1;
      while (ext) {
        if (DGifGetExtensionNext(g, &ext) != GIF_OK)
          return gif_fail(MIMIC_EFORMAT, "extension", g->Error);
      }
      continue;
    }
    if (rt != IMAGE_DESC_RECORD_TYPE) continue;
    if (DGifGetImageDesc(g) != GIF_OK) return gif_fail(MIMIC_EFORMAT, "frame header", g->Error);
    break;
  }
  GifImageDesc *d = &g->Image;
  /* The logical screen is the canvas; a file that leaves it zero is sized by its first frame. */
  uint64_t sw = (uint64_t)g->SWidth, sh = (uint64_t)g->SHeight;
  if (sw == 0 || sh == 0) {
    sw = (uint64_t)d->Left + (uint64_t)d->Width;
    sh = (uint64_t)d->Top + (uint64_t)d->Height;
  }
  int rc = check_size(lim, "GIF", sw, sh);
  if (rc) return rc;
  rc = check_size(lim, "GIF frame", (uint64_t)d->Width, (uint64_t)d->Height);
  if (rc) return rc;
  out->width = (int)sw, out->height = (int)sh;
  if (header_only) return 0;
  ColorMapObject *cm = d->ColorMap ? d->ColorMap : g->SColorMap;
  if (!cm || cm->ColorCount <= 0) return err_set(MIMIC_EFORMAT, "GIF image has no colour table");
  size_t w = (size_t)sw, h = (size_t)sh, fw = (size_t)d->Width, fh = (size_t)d->Height;
  uint8_t *pix = *pixp = mem_alloc(w * h * 3);
  GifPixelType *line = *linep = mem_alloc(fw);
  if (!pix || !line) return err_set(MIMIC_ENOMEM, "out of memory for a %zux%zu GIF", w, h);
  memset(pix, 255, w * h * 3);
  static const int pass_start[4] = {0, 4, 2, 1}, pass_step[4] = {8, 8, 4, 2};
  int passes = d->Interlace ? 4 : 1;
  for (int p = 0; p < passes; p++) {
    size_t start = d->Interlace ? (size_t)pass_start[p] : 0;
    size_t step = d->Interlace ? (size_t)pass_step[p] : 1;
    for (size_t fy = start; fy < fh; fy += step) {
      if (DGifGetLine(g, line, (int)fw) != GIF_OK)
        return gif_fail(MIMIC_EFORMAT, "pixels", g->Error);
      size_t y = (size_t)d->Top + fy;
      if (y >= h) continue;
      uint8_t *row = pix + y * w * 3;
      for (size_t fx = 0; fx < fw; fx++) {
        size_t x = (size_t)d->Left + fx;
        if (x >= w) break;
        int idx = line[fx];
        if (idx == transparent) continue;
        if (idx >= cm->ColorCount) idx = 0; /* out of the table: as browsers, the first colour */
        GifColorType c = cm->Colors[idx];
        row[3 * x + 0] = c.Red, row[3 * x + 1] = c.Green, row[3 * x + 2] = c.Blue;
      }
    }
  }
  return 0;
}

static int gif_decode(const uint8_t *data, size_t n, const vis_limits *lim, bool header_only,
                      vis_image *out) {
  gif_src src = {data, n, 0};
  int gerr = 0;
  GifFileType *g = DGifOpen(&src, gif_on_read, &gerr);
  if (!g)
    return gif_fail(gerr == D_GIF_ERR_NOT_ENOUGH_MEM ? MIMIC_ENOMEM : MIMIC_EFORMAT, "header",
                    gerr);
  uint8_t *pix = NULL;
  GifPixelType *line = NULL;
  vis_image img = {0};
  int rc = gif_run(g, lim, header_only, &img, &pix, &line);
  DGifCloseFile(g, &gerr);
  mem_free(line);
  if (rc) {
    mem_free(pix);
    return rc;
  }
  *out = img;
  out->rgb = pix;
  return 0;
}

/* ---- entry points ------------------------------------------------------------------------- */

static int decode(const void *data, size_t n, const vis_limits *lim, bool header_only,
                  vis_format *fmt, vis_image *out) {
  vis_limits l = limits_of(lim);
  memset(out, 0, sizeof *out);
  if (!data || n == 0) return err_set(MIMIC_EFORMAT, "image is empty");
  if (n > l.max_bytes)
    return err_set(MIMIC_ERANGE, "image is %zu bytes, over the %zu-byte cap", n, l.max_bytes);
  vis_format f = vis_image_sniff(data, n);
  if (fmt) *fmt = f;
  switch (f) {
  case VIS_FMT_PNG: return png_decode(data, n, &l, header_only, out);
  case VIS_FMT_JPEG: return jpeg_decode(data, n, &l, header_only, out);
  case VIS_FMT_WEBP: return webp_decode(data, n, &l, header_only, out);
  case VIS_FMT_GIF: return gif_decode(data, n, &l, header_only, out);
  default: break;
  }
  const uint8_t *p = data;
  const char *looks = NULL;
  if (n >= 2 && p[0] == 'B' && p[1] == 'M')
    looks = "a BMP image";
  else if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 || memcmp(p, "MM\0*", 4) == 0))
    looks = "a TIFF image";
  else if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0)
    looks = "an HEIF/AVIF image or a video";
  else if (n >= 5 && (memcmp(p, "<?xml", 5) == 0 || memcmp(p, "<svg", 4) == 0))
    looks = "SVG or XML text";
  else if (n >= 1 && (p[0] == '<' || p[0] == '{'))
    looks = "text (HTML or JSON)";
  if (looks)
    return err_set(MIMIC_EUNSUPPORTED,
                   "not a PNG, JPEG, WebP or GIF image (the bytes look like %s)", looks);
  return err_set(MIMIC_EUNSUPPORTED, "not a PNG, JPEG, WebP or GIF image");
}

int vis_image_probe(const void *data, size_t n, const vis_limits *lim, vis_format *fmt, int *width,
                    int *height) {
  vis_image img;
  vis_format f = VIS_FMT_UNKNOWN;
  int rc = decode(data, n, lim, true, &f, &img);
  if (fmt) *fmt = f;
  if (width) *width = rc ? 0 : img.width;
  if (height) *height = rc ? 0 : img.height;
  return rc;
}

int vis_image_decode(const void *data, size_t n, const vis_limits *lim, vis_image *out) {
  int rc = decode(data, n, lim, false, NULL, out);
  if (rc) vis_image_free(out);
  return rc;
}

int vis_image_load(const char *path, const vis_limits *lim, vis_image *out) {
  vis_limits l = limits_of(lim);
  char *data = NULL;
  size_t n = 0;
  memset(out, 0, sizeof *out);
  int rc = fs_read_file(path, l.max_bytes, &data, &n);
  if (rc) return rc; /* fs names the path */
  rc = vis_image_decode(data, n, &l, out);
  mem_free(data);
  if (rc) return err_prefix(rc, "%s", path);
  return 0;
}

void vis_image_free(vis_image *img) {
  if (!img) return;
  mem_free(img->rgb);
  memset(img, 0, sizeof *img);
}
