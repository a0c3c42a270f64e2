/* The AVX2 kernel files' shared pieces (kernels_avx2.c, kernels_avx2_gemv.c, kernels_avx2_gemm8.c,
 * gemm_float_avx2.c; model.c's attention takes hsum_ps): the target attribute and the small inline
 * helpers more than one of them uses. Private to llm, like kernels_int.h; included only inside each
 * file's x86 guard. */
#ifndef MIMIC_LLM_KERNELS_AVX2_INT_H
#define MIMIC_LLM_KERNELS_AVX2_INT_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define TGT __attribute__((target("avx2,fma,f16c")))

TGT static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* The reference's final reduction of eight lanes (llm__hsum8), of one register. */
TGT static inline float hsum_ps(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

TGT static inline int32_t load_i32(const void *p) {
  int32_t v;
  memcpy(&v, p, 4);
  return v;
}

/* Four rows' half-precision scales times dy, as four floats (h2f(h) * dy each). */
TGT static inline __m128 w4_scales(uint16_t h0, uint16_t h1, uint16_t h2, uint16_t h3, float dy) {
  uint64_t hh = h0 | (uint64_t)h1 << 16 | (uint64_t)h2 << 32 | (uint64_t)h3 << 48;
  return _mm_mul_ps(_mm_cvtph_ps(_mm_cvtsi64_si128((long long)hh)), _mm_set1_ps(dy));
}

/* Element r of s in all 8 lanes. */
TGT static inline __m256 w4_lane(__m128 s, int r) {
  return _mm256_permutevar8x32_ps(_mm256_castps128_ps256(s), _mm256_set1_epi32(r));
}

/* A Q4_K / Q5_K block's scales (bytes 0-7) and mins (8-15), per 128-bit lane of v holding the
 * block's 12-byte packing (kernels_int.h) in its low bytes, by vector shifts and masks. With a0,
 * a1, a2 its three dwords: [a0 & 3F, (a2 & 0F) | (a0 >> 2 & 30), a1 & 3F, (a2 >> 4 & 0F) |
 * (a1 >> 2 & 30)], per byte. */
TGT static inline __m256i k4_unpack(__m256i v) {
  __m256i lo =
      _mm256_srlv_epi32(_mm256_shuffle_epi32(v, 0x98), _mm256_setr_epi32(0, 0, 0, 4, 0, 0, 0, 4));
  lo = _mm256_and_si256(lo, _mm256_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F,
                                              0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
  __m256i hi = _mm256_srli_epi32(_mm256_shuffle_epi32(v, 0x40), 2);
  hi = _mm256_and_si256(
      hi, _mm256_setr_epi32(0, 0x30303030, 0, 0x30303030, 0, 0x30303030, 0, 0x30303030));
  return _mm256_or_si256(lo, hi);
}

/* One block's scales and mins in both 128-bit lanes (so that vpshufb can pick any of them as a
 * zero-extended word), from one broadcast load. */
TGT static inline __m256i k4_scales2(const uint8_t *q) {
  return k4_unpack(_mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)q)));
}

/* Bit `bit` of every byte of v moved to bit 4 (16-bit shifts: for shifts of at most 4 left or 3
 * right, bit 4 of a byte comes from the same byte), other bits cleared: Q5_K's fifth bits as 16. */
TGT static inline __m256i bit_to_16(__m256i v, int bit) {
  const __m256i b16 = _mm256_set1_epi8(16);
  if (bit < 4) return _mm256_and_si256(_mm256_slli_epi16(v, 4 - bit), b16);
  if (bit > 4) return _mm256_and_si256(_mm256_srli_epi16(v, bit - 4), b16);
  return _mm256_and_si256(v, b16);
}

/* Q6_K's scale words for pair g of a half's sixteen-bit scales (sch), in both 128-bit lanes. */
TGT static inline __m256i q6_K_scale_pair(__m256i sch, int g) {
  return _mm256_shuffle_epi8(sch, _mm256_set_m128i(_mm_set1_epi16((short)(0x0302 + 0x0404 * g)),
                                                   _mm_set1_epi16((short)(0x0100 + 0x0404 * g))));
}

/* Transposes eight rows of eight dwords in place: dword g of row r goes to dword r of row g. */
TGT static inline void transpose8_epi32(__m256i v[8]) {
  __m256i t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  for (int i = 0; i < 2; i++) {
    u[4 * i] = _mm256_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm256_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm256_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm256_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  for (int g = 0; g < 4; g++) {
    v[g] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x20);
    v[g + 4] = _mm256_permute2x128_si256(u[g], u[g + 4], 0x31);
  }
}

#endif
