/* avx2_util.h: the AVX2 building blocks the x86 kernels share (dot_avx2.c,
 * dot_avx2_low.c, attention.c): the target attribute they compile under
 * (the set whet_cpu_isa() checks: AVX2 + FMA + F16C) and horizontal
 * reductions. Include only inside #if defined(__x86_64__) || defined(__i386__). */
#ifndef WHET_OPS_CPU_AVX2_UTIL_H
#define WHET_OPS_CPU_AVX2_UTIL_H
#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX2_FN __attribute__((target("avx2,fma,f16c")))

AVX2_FN static inline float hsum_ps(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

AVX2_FN static inline float hmax_ps(__m256 v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

AVX2_FN static inline int hsum_epi32_128(__m128i v) {
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(1, 0, 3, 2)));
    v = _mm_add_epi32(v, _mm_shuffle_epi32(v, _MM_SHUFFLE(2, 3, 0, 1)));
    return _mm_cvtsi128_si32(v);
}

AVX2_FN static inline int hsum_epi32(__m256i v) {
    return hsum_epi32_128(_mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1)));
}

/* The little-endian fp16 at p as a float. */
AVX2_FN static inline float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}
#endif
