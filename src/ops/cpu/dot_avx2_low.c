/* dot_avx2_low.c: AVX2 + FMA + F16C integer-dot kernels of Q2_K and Q3_K
 * weight rows with q8_K activations (ops/quant_dot.h), compiled per function
 * with __attribute__((target)) like dot_avx2.c (whet_qdot_kernel_avx2 hands
 * them out only when cpuid reports the features). The codes stay unsigned
 * (Q2_K 0..3, Q3_K's 3-bit code c = q2 | hbit << 2 in 0..7) so
 * _mm256_maddubs_epi16 takes them directly, 32 products per instruction; the
 * offsets come out through the activation's 16-element sums:
 *   Q2_K: dot = d·dₓ·Σ_g sc_g·Σ q·qₓ − dmin·dₓ·Σ_g m_g·bsums_g
 *   Q3_K: dot = d·dₓ·Σ_g s_g·(Σ c·qₓ − 4·bsums_g)
 * Element 128h + 32j + l is bits 2j of qs[32h + l] (quant_k_low.c), so one
 * 32-byte load of a half's qs, shifted by 2j, holds the 32 consecutive codes
 * of elements 128h + 32j .. +32: groups 8h + 2j (low 128-bit lane of the
 * maddubs result) and 8h + 2j + 1 (high lane). The integer sums equal
 * quant_dot_low.c's; only the order of the per-block float additions
 * differs. */
#include "ops/cpu/quant_dot_impl.h"

#if defined(__x86_64__) || defined(__i386__)
#include "ops/cpu/avx2_util.h"

/* pshufb masks over a half's 8 int16 scales (in both 128-bit lanes): mask j
 * puts scale 2j in the low lane's 8 int16s and scale 2j + 1 in the high
 * lane's, matching the two groups of one maddubs result. */
static const int8_t k_pair_pick[4][32] __attribute__((aligned(32))) = {
#define PICK(j) {4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, \
                 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3}
    PICK(0), PICK(1), PICK(2), PICK(3)
#undef PICK
};

/* Half h's 8 int16 scales of a 16-lane vector, in both 128-bit lanes. */
AVX2_FN static inline __m256i half_scales(__m256i sc16, int h) {
    return _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
}

AVX2_FN float whet_qdot_q2_k_avx2(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8k *x = a;
    const __m256i low2 = _mm256_set1_epi8(3);
    const __m128i low4 = _mm_set1_epi8(0xF);
    __m256 acc = _mm256_setzero_ps(), acc_min = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += QDOT_Q2_K_BYTES) {
        const __m128i sc8 = _mm_loadu_si128((const __m128i *)b);
        const __m256i sc16 = _mm256_cvtepu8_epi16(_mm_and_si128(sc8, low4));
        const __m256i mn16 = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sc8, 4), low4));
        const __m256i summ = _mm256_madd_epi16(mn16, _mm256_loadu_si256((const __m256i *)x[i].bsums));
        __m256i sumi = _mm256_setzero_si256();
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m256i packed = _mm256_loadu_si256((const __m256i *)(b + 16 + 32 * h));
            const __m256i sch = half_scales(sc16, h);
            const int8_t *qa = x[i].qs + 128 * h;
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                const __m256i q = _mm256_and_si256(_mm256_srli_epi16(packed, 2 * j), low2);
                const __m256i p = _mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)(qa + 32 * j)));
                const __m256i s = _mm256_shuffle_epi8(sch, _mm256_load_si256((const __m256i *)k_pair_pick[j]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
            }
        }
        const float dx = x[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_at(b + 80) * dx), _mm256_cvtepi32_ps(sumi), acc);
        acc_min = _mm256_fmadd_ps(_mm256_set1_ps(f16_at(b + 82) * dx), _mm256_cvtepi32_ps(summ), acc_min);
    }
    return hsum_ps(acc) - hsum_ps(acc_min);
}

AVX2_FN float whet_qdot_q3_k_avx2(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8k *x = a;
    const __m256i low2 = _mm256_set1_epi8(3), four = _mm256_set1_epi8(4);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += QDOT_Q3_K_BYTES) {
        /* the 16 six-bit scales as bytes (quant_dot_impl.h's unpacking, in
         * 32-bit words), then signed int16 s_g = s6 − 32 */
        const uint32_t w0 = qdot_u32(b + 96), w1 = qdot_u32(b + 100), w2 = qdot_u32(b + 104);
        const uint32_t lo4 = 0x0F0F0F0Fu, lo2 = 0x03030303u;
        const __m128i sc8 = _mm_set_epi32((int)(((w1 >> 4) & lo4) | (((w2 >> 6) & lo2) << 4)),
                                          (int)(((w0 >> 4) & lo4) | (((w2 >> 4) & lo2) << 4)),
                                          (int)((w1 & lo4) | (((w2 >> 2) & lo2) << 4)), (int)((w0 & lo4) | ((w2 & lo2) << 4)));
        const __m256i sc16 = _mm256_sub_epi16(_mm256_cvtepu8_epi16(sc8), _mm256_set1_epi16(32));
        /* −4·Σ s_g·bsums_g, spread over the 8 int32 lanes */
        const __m256i offset = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x[i].bsums));
        __m256i sumi = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 2));
        const __m256i hm = _mm256_loadu_si256((const __m256i *)b);
#pragma GCC unroll 2
        for (int h = 0; h < 2; h++) {
            const __m256i packed = _mm256_loadu_si256((const __m256i *)(b + 32 + 32 * h));
            const __m256i sch = half_scales(sc16, h);
            const int8_t *qa = x[i].qs + 128 * h;
#pragma GCC unroll 4
            for (int j = 0; j < 4; j++) {
                /* bit 4h + j of hmask[l] moved to bit 2 (value 4); after the & each
                 * byte holds only its own bit although the shift is 16-bit */
                const int bit = 4 * h + j;
                const __m256i moved = bit >= 2 ? _mm256_srli_epi16(hm, bit - 2) : _mm256_slli_epi16(hm, 2 - bit);
                const __m256i hb = _mm256_and_si256(moved, four);
                const __m256i c = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(packed, 2 * j), low2), hb);
                const __m256i p = _mm256_maddubs_epi16(c, _mm256_loadu_si256((const __m256i *)(qa + 32 * j)));
                const __m256i s = _mm256_shuffle_epi8(sch, _mm256_load_si256((const __m256i *)k_pair_pick[j]));
                sumi = _mm256_add_epi32(sumi, _mm256_madd_epi16(p, s));
            }
        }
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_at(b + 108) * x[i].d), _mm256_cvtepi32_ps(sumi), acc);
    }
    return hsum_ps(acc);
}
#endif
