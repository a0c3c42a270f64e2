/* Fuzz target for loading an mmproj (the vision encoder and projector GGUF an operator downloads):
 * any byte string must be refused with a message, or give a model whose every weight the encoder
 * can read within the file. A model that loads and is small is also preprocessed (an 8x6 image)
 * and run on its first tile, fast and scalar paths, so that metadata the loader accepted cannot
 * make the encoder read or write out of bounds. Bigger models are only loaded, to keep the pace.
 * The corpus (tests/fuzz/corpus/mmproj/) holds tiny idefics3 files written with mimic's GGUF
 * writer: F32 and F16 weights, without slicing, GELU-quick, and refusals (an mlp projector, a
 * tensor of the wrong shape, a missing tensor, a truncated file). */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "vision/vision.h"
#include "vision/vision_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vis_model *m = NULL;
  int rc = vis__model_load_memory(data, size, "fuzz.gguf", &m);
  if (rc) {
    if (!err_msg()[0] || m) __builtin_trap();
    err_clear();
    return 0;
  }
  const vis_hparams *hp = vis_model_hparams(m);
  double work =
      (double)hp->n_patches * hp->n_embd * (hp->n_embd + hp->n_ff + hp->n_patches) * hp->n_layer;
  if (work <= 2e6 && (double)hp->n_tile_rows * hp->proj_dim <= 1e5 &&
      hp->preproc_size <= 4 * hp->image_size) {
    uint8_t px[8 * 6 * 3];
    for (size_t i = 0; i < sizeof px; i++) px[i] = (uint8_t)(i * 37);
    vis_image img = {.width = 8, .height = 6, .rgb = px};
    vis_tiles t = {0};
    if (vis_preprocess(m, &img, &t) == 0) {
      if (t.n_tiles < 1 || t.n_tiles != t.rows * t.cols + 1) __builtin_trap();
      size_t n = (size_t)hp->n_tile_rows * hp->proj_dim;
      float *a = mem_alloc(n * sizeof *a), *b = mem_alloc(n * sizeof *b);
      if (a && b) {
        if (vis_encode_tile(m, NULL, VIS_PATH_FAST, t.pixels, a, NULL, NULL)) err_clear();
        if (vis_encode_tile(m, NULL, VIS_PATH_SCALAR, t.pixels, b, NULL, NULL)) err_clear();
      }
      mem_free(a);
      mem_free(b);
    } else {
      err_clear();
    }
    vis_tiles_free(&t);
  }
  vis_model_destroy(m);
  return 0;
}
