/* `mimic quantize IN.gguf OUT.gguf TYPE`: converts a model to one of the quantization presets. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "llm/quant.h"
#include "llm/quantize.h"

int cmd_quantize(int argc, char **argv) {
  int threads = 0;
  if (argc == 6 && strcmp(argv[4], "--threads") == 0) {
    int64_t t;
    if (str_to_i64(argv[5], &t) || t < 1 || t > 256) {
      cli_error("--threads needs a number between 1 and 256");
      return 2;
    }
    threads = (int)t;
    argc = 4;
  }
  if (argc != 4) {
    cli_error("usage: mimic quantize IN.gguf OUT.gguf TYPE [--threads N]   "
              "(TYPE: q4_0, q8_0, q4_k_m, q5_k_m, q6_k, f16, bf16, f32)");
    return 2;
  }
  quant_preset p;
  if (quant_preset_parse(argv[3], &p)) {
    cli_error("%s", err_msg());
    return 2;
  }
  if (strcmp(argv[1], argv[2]) == 0) {
    cli_error("input and output are the same file");
    return 2;
  }
  compute_pool *cp = compute_pool_new(threads);
  int rc = gguf_quantize(argv[1], argv[2], p, cp);
  compute_pool_destroy(cp);
  if (rc) {
    cli_error("%s", err_msg());
    return 1;
  }
  printf("wrote %s (%s)\n", argv[2], quant_preset_name(p));
  return 0;
}
