/* Fuzz target for image decoding: any byte string must decode to an image of the size the caps
 * allow or fail with a message, never crash, leak or allocate past the caps (kept small here so
 * the fuzzer spends its time in the decoders, not in memset). */
#include <stdint.h>
#include <string.h>

#include "base/base.h"
#include "vision/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  vis_limits lim = {
      .max_bytes = 1 << 20, .max_width = 4096, .max_height = 4096, .max_pixels = 1 << 20};
  vis_format f;
  int w = 0, h = 0;
  int prc = vis_image_probe(data, size, &lim, &f, &w, &h);
  vis_image img;
  if (vis_image_decode(data, size, &lim, &img) == 0) {
    /* a decodable file has a sound header, and the header's size is the image's */
    if (prc != 0 || w != img.width || h != img.height) __builtin_trap();
    if ((uint64_t)img.width * (uint64_t)img.height > lim.max_pixels) __builtin_trap();
    volatile uint8_t sink = img.rgb[(size_t)img.width * img.height * 3 - 1];
    (void)sink;
  } else if (!err_msg()[0]) {
    __builtin_trap();
  }
  vis_image_free(&img);
  return 0;
}
