/* AVX2+FMA kernel set (placeholder until the SIMD kernels land: every type uses the reference). */
#include "llm/kernels_int.h"

vec_dot_fn llm__dot_avx2(tensor_type t) {
  (void)t;
  return NULL;
}
