/* AVX-512 (F, BW, VL, VNNI) kernel set (placeholder until the SIMD kernels land). */
#include "llm/kernels_int.h"

vec_dot_fn llm__dot_avx512(tensor_type t) {
  (void)t;
  return NULL;
}
