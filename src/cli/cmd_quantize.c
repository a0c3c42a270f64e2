/* `mimic quantize IN.gguf OUT.gguf TYPE`: converts a model to one of the quantization presets. */
#include <stdio.h>
#include <string.h>

#include "cli/flags.h"
#include "llm/quant.h"
#include "llm/quantize.h"

int cmd_quantize(int argc, char **argv) {
  int threads = 0;
  const cli_opt opts[] = {CLI_OPT_THREADS(&threads), {0}};
  const cli_spec spec = {
      .name = "quantize",
      .args = "IN.gguf OUT.gguf TYPE",
      .min_args = 3,
      .max_args = 3,
      .summary = "Converts a model to a quantization preset. TYPE: q4_0, q8_0, q4_k_m, q5_k_m, "
                 "q6_k, f16, bf16, f32.",
      .example = "quantize models/base-f16.gguf models/base-q4.gguf q4_k_m",
      .opts = opts};
  cli_args a;
  int prc = cli_parse(&spec, argc, argv, &a);
  if (prc) return prc == CLI_HELP ? 0 : prc;
  /* argv[1..3]: IN OUT TYPE (cli_parse put them there) */
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
