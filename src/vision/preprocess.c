/* Preprocessing an RGB image into encoder tiles exactly as llama.cpp's idefics3 preprocessor does
 * (mtmd_image_preprocessor_idefics3 and img_tool): the refined size, the bicubic resize into a
 * black-padded canvas, the slices, the bilinear overview and the normalisation, with llama.cpp's
 * float32 arithmetic and roundings, so the tiles equal its encoder input bit for bit. Not here:
 * decoding image files, the encoder. */
#include <math.h>
#include <string.h>

#include "base/alloc.h"
#include "vision/vision_int.h"

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* One cubic step through p[-1], p[0], p[1], p[2] at fraction d (llama.cpp's resize_bicubic: the
 * coefficients are computed in double and stored as float, the rest is float). */
static float cubic(float pm1, float p0, float p1, float p2, float d) {
  float d0 = pm1 - p0, d2 = p1 - p0, d3 = p2 - p0;
  float a1 = (float)(-1.0 / 3 * d0 + d2 - 1.0 / 6 * d3);
  float a2 = (float)(1.0 / 2 * d0 + 1.0 / 2 * d2);
  float a3 = (float)(-1.0 / 6 * d0 - 1.0 / 2 * d2 + 1.0 / 6 * d3);
  return p0 + a1 * d + a2 * d * d + a3 * d * d * d;
}

/* src (sw x sh RGB8) resized bicubically to dw x dh into dst (stride dstride pixels). */
static void resize_bicubic(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh,
                           int dstride) {
  float tx = (float)sw / (float)dw, ty = (float)sh / (float)dh;
  for (int i = 0; i < dh; i++) {
    int y = (int)(ty * (float)i);
    float dy = ty * (float)i - (float)y;
    for (int j = 0; j < dw; j++) {
      int x = (int)(tx * (float)j);
      float dx = tx * (float)j - (float)x;
      int xs[4];
      for (int k = 0; k < 4; k++) xs[k] = clampi(x - 1 + k, 0, sw - 1);
      for (int c = 0; c < 3; c++) {
        float C[4];
        for (int jj = 0; jj < 4; jj++) {
          const uint8_t *row = src + (size_t)clampi(y - 1 + jj, 0, sh - 1) * (size_t)sw * 3;
          C[jj] = cubic(row[xs[0] * 3 + c], row[xs[1] * 3 + c], row[xs[2] * 3 + c],
                        row[xs[3] * 3 + c], dx);
        }
        float v = roundf(cubic(C[0], C[1], C[2], C[3], dy));
        v = v < 0 ? 0 : v > 255 ? 255 : v;
        dst[((size_t)i * (size_t)dstride + (size_t)j) * 3 + c] = (uint8_t)v;
      }
    }
  }
}

/* src stretched to dw x dh with llama.cpp's resize_bilinear (corners aligned, truncated). */
static void resize_bilinear(const uint8_t *src, int sw, int sh, uint8_t *dst, int dw, int dh) {
  float xr = dw > 1 ? (float)(sw - 1) / (float)(dw - 1) : 0.0f;
  float yr = dh > 1 ? (float)(sh - 1) / (float)(dh - 1) : 0.0f;
  for (int y = 0; y < dh; y++) {
    float py = (float)y * yr;
    int y0 = (int)py, y1 = y0 + 1 < sh ? y0 + 1 : sh - 1;
    float yf = py - (float)y0;
    for (int x = 0; x < dw; x++) {
      float px = (float)x * xr;
      int x0 = (int)px, x1 = x0 + 1 < sw ? x0 + 1 : sw - 1;
      float xf = px - (float)x0;
      for (int c = 0; c < 3; c++) {
        float a = src[((size_t)y0 * sw + x0) * 3 + c], b = src[((size_t)y0 * sw + x1) * 3 + c];
        float d = src[((size_t)y1 * sw + x0) * 3 + c], e = src[((size_t)y1 * sw + x1) * 3 + c];
        float top = a + (b - a) * xf, bottom = d + (e - d) * xf;
        dst[((size_t)y * dw + x) * 3 + c] = (uint8_t)(top + (bottom - top) * yf);
      }
    }
  }
}

/* Writes the size x size crop of img (width iw) at (x0, y0) as planar normalised floats. */
static void tile_out(const vis_hparams *hp, const uint8_t *img, int iw, int x0, int y0,
                     float *out) {
  int s = hp->image_size;
  for (int c = 0; c < 3; c++)
    for (int y = 0; y < s; y++)
      for (int x = 0; x < s; x++) {
        float u = img[((size_t)(y0 + y) * iw + (x0 + x)) * 3 + c];
        out[((size_t)c * s + y) * s + x] = (u / 255.0f - hp->mean[c]) / hp->std[c];
      }
}

int vis_preprocess(const vis_model *m, const vis_image *img, vis_tiles *out) {
  return vis__preprocess(m, img, true, out);
}

int vis__preprocess(const vis_model *m, const vis_image *img, bool slices, vis_tiles *out) {
  memset(out, 0, sizeof *out);
  const vis_hparams *hp = &m->hp;
  int W = img->width, H = img->height, S = hp->image_size;
  if (!img->rgb || W < 1 || H < 1 || W > VIS_MAX_SIDE || H > VIS_MAX_SIDE)
    return err_set(MIMIC_EINVAL, "the image is %dx%d: it must be 1..%d pixels on each side", W, H,
                   VIS_MAX_SIDE);
  int RW = 0, RH = 0;
  if (slices && hp->preproc_size > 0) {
    /* img_tool::calc_size_preserved_ratio: the longest edge to preproc_size, each side rounded
     * up to whole tiles (small images are upscaled). */
    float L = (float)hp->preproc_size;
    float sw = L / (float)W, sh = L / (float)H, s = sw < sh ? sw : sh;
    RW = (int)ceilf((float)W * s / (float)S) * S;
    RH = (int)ceilf((float)H * s / (float)S) * S;
    if (RW < S) RW = S;
    if (RH < S) RH = S;
    out->cols = RW / S;
    out->rows = RH / S;
  }
  out->size = S;
  out->n_tiles = out->rows * out->cols + 1;
  size_t tile_floats = (size_t)3 * S * S;
  out->pixels = mem_alloc((size_t)out->n_tiles * tile_floats * sizeof *out->pixels);
  uint8_t *canvas = NULL, *ov = mem_alloc((size_t)S * S * 3);
  int rc = 0;
  if (!out->pixels || !ov) goto oom;
  if (out->rows) {
    canvas = mem_calloc((size_t)RW * RH, 3); /* black padding */
    if (!canvas) goto oom;
    /* img_tool::resize with PAD_CEIL: aspect kept, content centred. */
    float sw = (float)RW / (float)W, sh = (float)RH / (float)H, s = sw < sh ? sw : sh;
    int nw = (int)ceilf((float)W * s), nh = (int)ceilf((float)H * s);
    if (nw > RW) nw = RW;
    if (nh > RH) nh = RH;
    if (nw < 1) nw = 1;
    if (nh < 1) nh = 1;
    int ox = (RW - nw) / 2, oy = (RH - nh) / 2;
    resize_bicubic(img->rgb, W, H, canvas + ((size_t)oy * RW + ox) * 3, nw, nh, RW);
    for (int r = 0; r < out->rows; r++)
      for (int c = 0; c < out->cols; c++)
        tile_out(hp, canvas, RW, c * S, r * S,
                 out->pixels + (size_t)(r * out->cols + c) * tile_floats);
  }
  resize_bilinear(img->rgb, W, H, ov, S, S);
  tile_out(hp, ov, S, 0, 0, out->pixels + (size_t)(out->n_tiles - 1) * tile_floats);
  goto out;
oom:
  rc = err_set(MIMIC_ENOMEM, "out of memory preprocessing a %dx%d image", W, H);
  vis_tiles_free(out);
out:
  mem_free(canvas);
  mem_free(ov);
  return rc;
}

void vis_tiles_free(vis_tiles *t) {
  if (!t) return;
  mem_free(t->pixels);
  memset(t, 0, sizeof *t);
}
