/* Tensor types: the table of block sizes for every ggml type id a GGUF file may hold, and (for the
 * types mimic computes with) scalar reference conversion of rows to and from float. The formats are
 * those of ggml (ggml-common.h), written from the specification in
 * ../shared/reference/gguf-engine-facts.md section 2. Not here: dot products and matmul (kernels.c). */
#include "llm/quant.h"

#include <string.h>

/* Sizes for every type id in use by ggml, including the ones mimic cannot compute with, so that the
 * reader can validate (and `mimic model info` can describe) any file. Removed ids stay empty. */
static const tensor_type_info type_table[TT_COUNT] = {
  [TT_F32] = {"F32", 1, 4, true},
  [TT_F16] = {"F16", 1, 2, true},
  [TT_Q4_0] = {"Q4_0", 32, 18, true},
  [TT_Q4_1] = {"Q4_1", 32, 20, true},
  [TT_Q5_0] = {"Q5_0", 32, 22, true},
  [TT_Q5_1] = {"Q5_1", 32, 24, true},
  [TT_Q8_0] = {"Q8_0", 32, 34, true},
  [TT_Q8_1] = {"Q8_1", 32, 36, false},
  [TT_Q2_K] = {"Q2_K", 256, 84, true},
  [TT_Q3_K] = {"Q3_K", 256, 110, true},
  [TT_Q4_K] = {"Q4_K", 256, 144, true},
  [TT_Q5_K] = {"Q5_K", 256, 176, true},
  [TT_Q6_K] = {"Q6_K", 256, 210, true},
  [TT_Q8_K] = {"Q8_K", 256, 292, true},
  [16] = {"IQ2_XXS", 256, 66, false},
  [17] = {"IQ2_XS", 256, 74, false},
  [18] = {"IQ3_XXS", 256, 98, false},
  [19] = {"IQ1_S", 256, 50, false},
  [20] = {"IQ4_NL", 32, 18, false},
  [21] = {"IQ3_S", 256, 110, false},
  [22] = {"IQ2_S", 256, 82, false},
  [23] = {"IQ4_XS", 256, 136, false},
  [24] = {"I8", 1, 1, false},
  [25] = {"I16", 1, 2, false},
  [26] = {"I32", 1, 4, false},
  [27] = {"I64", 1, 8, false},
  [28] = {"F64", 1, 8, false},
  [29] = {"IQ1_M", 256, 56, false},
  [TT_BF16] = {"BF16", 1, 2, true},
  [34] = {"TQ1_0", 256, 54, false},
  [35] = {"TQ2_0", 256, 66, false},
  [39] = {"MXFP4", 32, 17, false},
};

tensor_type_info tensor_type_get(int type) {
  tensor_type_info none = {NULL, 0, 0, false};
  if (type < 0 || type >= TT_COUNT || !type_table[type].name) return none;
  return type_table[type];
}

size_t tensor_row_bytes(tensor_type type, int64_t n) {
  tensor_type_info ti = tensor_type_get((int)type);
  if (!ti.name || n < 0) return 0;
  return (size_t)(n / ti.block) * ti.block_bytes;
}
