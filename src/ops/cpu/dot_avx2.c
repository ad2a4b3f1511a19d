/* dot_avx2.c: AVX2 + FMA + F16C kernels, compiled per function with
 * __attribute__((target)) so the binary still runs on CPUs without them
 * (ops/cpu/quant_dot.c picks these only when cpuid reports the features).
 *  - integer dots of Q8_0 / Q4_0 / Q4_1 / Q5_0 / Q5_1 / Q4_K / Q5_K / Q6_K
 *    weight rows with q8 /
 *    q8_K activations (ops/quant_dot.h): 32 int8 products per
 *    _mm256_maddubs_epi16, scales applied in int32, one float FMA per block;
 *  - the batch-invariant float GEMM of ops/float_gemm.h (F32/F16/BF16
 *    weights, widened 8 at a time in registers).
 * Each computes the same integer sums as its scalar twin in quant_dot.c;
 * only the order of the per-block float additions differs. */
#include "ops/cpu/quant_dot_impl.h"
#include "ops/float_gemm.h"

#if defined(__x86_64__) || defined(__i386__)
#include "ops/cpu/avx2_util.h"

/* Σ x·y over 32 signed bytes per 128-bit half, as 8 int32 lanes. maddubs
 * wants one unsigned operand: |x| and y with x's sign (y is never -128). */
AVX2_FN static inline __m256i dot_i8(__m256i x, __m256i y) {
    const __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* The 32 codes of a 32-element block as bytes in element order. */
AVX2_FN static inline __m256i nibbles32(const uint8_t *qs16) {
    const __m128i packed = _mm_loadu_si128((const __m128i *)qs16);
    /* low 128 bits: low nibbles = elements 0..15; high: elements 16..31 */
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(packed, 4), packed), _mm256_set1_epi8(0xF));
}

/* 0x10 in byte j where bit j of the 32-bit qh word is set (the 5th bit of
 * element j): byte j of a broadcast holds qh byte j/8, tested against bit j%8. */
AVX2_FN static inline __m256i fifth_bits32(const uint8_t *qh4) {
    const __m256i word = _mm256_set1_epi32((int)qdot_u32(qh4));
    const __m256i spread = _mm256_shuffle_epi8(word, _mm256_set_epi64x(0x0303030303030303LL, 0x0202020202020202LL,
                                                                       0x0101010101010101LL, 0));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    const __m256i set = _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
    return _mm256_and_si256(set, _mm256_set1_epi8(0x10));
}

/* The symmetric types (Q8_0, Q4_0, Q5_0): signed codes, two blocks per
 * iteration into two accumulators so the FMA latency overlaps. */
typedef enum { SYM_Q8_0, SYM_Q4_0, SYM_Q5_0 } sym_kind;

AVX2_FN static inline __m256i sym_codes(sym_kind k, const uint8_t *b) {
    switch (k) {
    case SYM_Q8_0: return _mm256_loadu_si256((const __m256i *)(b + 2));
    case SYM_Q4_0: return _mm256_sub_epi8(nibbles32(b + 2), _mm256_set1_epi8(8));
    default: return _mm256_sub_epi8(_mm256_or_si256(nibbles32(b + 6), fifth_bits32(b + 2)), _mm256_set1_epi8(16));
    }
}

#define FG_INLINE __attribute__((always_inline)) inline
#define QN 4   /* activation rows of the multi-row kernels */

/* dot_i8 with |w| already taken (shared by the rows of a multi-row call). */
AVX2_FN static FG_INLINE __m256i dot_i8_abs(__m256i w_abs, __m256i w, const int8_t *qs) {
    const __m256i p = _mm256_maddubs_epi16(w_abs, _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)qs), w));
    return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

/* NT activation rows (`stride` bytes apart) against one weight row of a
 * symmetric type: the weight side is decoded once, and each row gets the
 * very operations of the one-row call (two accumulators over even / odd
 * blocks, then their sum), so a row's result does not depend on NT. */
AVX2_FN static FG_INLINE void dot_sym_n(sym_kind k, const int NT, const uint8_t *b, const uint8_t *a, size_t stride,
                                        int64_t n, size_t bytes, float *out) {
    const int64_t nb = n / QDOT_QK;
    __m256 acc0[QN], acc1[QN];
    const qdot_act_q8 *x[QN];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        acc0[t] = acc1[t] = _mm256_setzero_ps();
        x[t] = (const qdot_act_q8 *)(a + (size_t)t * stride);
    }
    int64_t i = 0;
    for (; i + 2 <= nb; i += 2, b += 2 * bytes) {
        const __m256i w0 = sym_codes(k, b), w1 = sym_codes(k, b + bytes);
        const __m256i u0 = _mm256_sign_epi8(w0, w0), u1 = _mm256_sign_epi8(w1, w1);
        const float d0 = f16_at(b), d1 = f16_at(b + bytes);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const __m256i p0 = dot_i8_abs(u0, w0, x[t][i].qs), p1 = dot_i8_abs(u1, w1, x[t][i + 1].qs);
            acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * x[t][i].d), _mm256_cvtepi32_ps(p0), acc0[t]);
            acc1[t] = _mm256_fmadd_ps(_mm256_set1_ps(d1 * x[t][i + 1].d), _mm256_cvtepi32_ps(p1), acc1[t]);
        }
    }
    for (; i < nb; i++, b += bytes) {
        const __m256i w0 = sym_codes(k, b), u0 = _mm256_sign_epi8(w0, w0);
        const float d0 = f16_at(b);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            acc0[t] = _mm256_fmadd_ps(_mm256_set1_ps(d0 * x[t][i].d), _mm256_cvtepi32_ps(dot_i8_abs(u0, w0, x[t][i].qs)),
                                      acc0[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) out[t] = hsum_ps(_mm256_add_ps(acc0[t], acc1[t]));
}

#define SYM_KERNELS(name, kind, bytes)                                                                   \
    AVX2_FN static float dot_##name(const void *w, const void *a, int64_t n) {                           \
        float out;                                                                                       \
        dot_sym_n(kind, 1, w, a, 0, n, bytes, &out);                                                     \
        return out;                                                                                      \
    }                                                                                                    \
    AVX2_FN static void dot4_##name(const void *w, const void *a, size_t stride, int64_t n, float *out) { \
        dot_sym_n(kind, QN, w, a, stride, n, bytes, out);                                                \
    }
SYM_KERNELS(q8_0, SYM_Q8_0, QDOT_Q8_0_BYTES)
SYM_KERNELS(q4_0, SYM_Q4_0, QDOT_Q4_0_BYTES)
SYM_KERNELS(q5_0, SYM_Q5_0, QDOT_Q5_0_BYTES)

/* Q4_1 / Q5_1: unsigned codes (maddubs takes them as they are), y = d·q + m,
 * so dot = d·dₓ·Σq·qₓ + m·sₓ with sₓ = dₓ·Σqₓ from the activation block. */
AVX2_FN static inline float dot_affine32(const void *w, const void *a, int64_t n, bool five_bit) {
    const uint8_t *b = w;
    const qdot_act_q8 *x = a;
    const size_t bytes = five_bit ? QDOT_Q5_1_BYTES : QDOT_Q4_1_BYTES;
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    float acc_m = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK; i++, b += bytes) {
        __m256i q = nibbles32(b + (five_bit ? 8 : 4));
        if (five_bit) q = _mm256_or_si256(q, fifth_bits32(b + 4));
        const __m256i p =
            _mm256_madd_epi16(_mm256_maddubs_epi16(q, _mm256_loadu_si256((const __m256i *)x[i].qs)), ones);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(f16_at(b) * x[i].d), _mm256_cvtepi32_ps(p), acc);
        acc_m += f16_at(b + 2) * x[i].s;
    }
    return hsum_ps(acc) + acc_m;
}

AVX2_FN static float dot_q4_1(const void *w, const void *a, int64_t n) { return dot_affine32(w, a, n, false); }
AVX2_FN static float dot_q5_1(const void *w, const void *a, int64_t n) { return dot_affine32(w, a, n, true); }

/* Broadcast int16 lane k of a 128-bit vector to all 16 lanes: the pshufb
 * masks pick bytes 2k, 2k+1 in every lane (one table row per k). */
static const int8_t k_bcast16[8][32] __attribute__((aligned(32))) = {
#define B16(k) {2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, \
                2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1, 2*k, 2*k+1}
    B16(0), B16(1), B16(2), B16(3), B16(4), B16(5), B16(6), B16(7)
#undef B16
};

AVX2_FN static inline __m256i bcast16(__m256i both_halves, int k) {
    return _mm256_shuffle_epi8(both_halves, _mm256_load_si256((const __m256i *)k_bcast16[k]));
}

/* Q4_K / Q5_K: codes are unsigned (0..15 / 0..31), so maddubs takes them
 * directly; the 6-bit sub-block scale multiplies in madd_epi16. The 12
 * scale bytes are unpacked with 32-bit word operations (the layout in
 * quant_dot_impl.h: words w0, w1, w2 hold scales 0-3, mins 0-3, and the low
 * / high nibbles of scales and mins 4-7, whose top two bits are the top
 * bits of w0 / w1), and Σ mins·(32-element activation sums) is one madd. */
AVX2_FN static FG_INLINE void dot_affine_k_n(const int NT, const uint8_t *b, const uint8_t *a, size_t stride,
                                             int64_t n, bool five_bit, float *out) {
    const size_t bytes = five_bit ? QDOT_Q5_K_BYTES : QDOT_Q4_K_BYTES;
    const __m256i low4 = _mm256_set1_epi8(0xF), one = _mm256_set1_epi8(1);
    __m256 acc[QN];
    float acc_min[QN];
    const qdot_act_q8k *x[QN];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        acc[t] = _mm256_setzero_ps();
        acc_min[t] = 0.0f;
        x[t] = (const qdot_act_q8k *)(a + (size_t)t * stride);
    }
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += bytes) {
        const uint32_t w0 = qdot_u32(b + 4), w1 = qdot_u32(b + 8), w2 = qdot_u32(b + 12);
        const uint32_t sc_lo = w0 & 0x3F3F3F3Fu, mn_lo = w1 & 0x3F3F3F3Fu;
        const uint32_t sc_hi = (w2 & 0x0F0F0F0Fu) | (((w0 >> 6) & 0x03030303u) << 4);
        const uint32_t mn_hi = ((w2 >> 4) & 0x0F0F0F0Fu) | (((w1 >> 6) & 0x03030303u) << 4);
        const __m128i sc8 = _mm_set_epi32(0, 0, (int)sc_hi, (int)sc_lo), mn8 = _mm_set_epi32(0, 0, (int)mn_hi, (int)mn_lo);
        const __m128i mn16 = _mm_cvtepu8_epi16(mn8);
        const __m256i scales = _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(sc8));
        const float d = f16_at(b), dmin = f16_at(b + 2);
        const uint8_t *q = b + (five_bit ? 48 : 16);
        const __m256i qh = five_bit ? _mm256_loadu_si256((const __m256i *)(b + 16)) : _mm256_setzero_si256();
        __m256i sumi[QN];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) sumi[t] = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++, q += 32) {
            const __m256i packed = _mm256_loadu_si256((const __m256i *)q);
            __m256i lo = _mm256_and_si256(packed, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(packed, 4), low4);
            if (five_bit) {
                lo = _mm256_or_si256(lo, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c), one), 4));
                hi = _mm256_or_si256(hi, _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2 * c + 1), one), 4));
            }
            const __m256i s_lo = bcast16(scales, 2 * c), s_hi = bcast16(scales, 2 * c + 1);
#pragma GCC unroll 4
            for (int t = 0; t < NT; t++) {
                const int8_t *qa = x[t][i].qs + 64 * c;
                const __m256i plo = _mm256_maddubs_epi16(lo, _mm256_loadu_si256((const __m256i *)qa));
                const __m256i phi = _mm256_maddubs_epi16(hi, _mm256_loadu_si256((const __m256i *)(qa + 32)));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(plo, s_lo));
                sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(phi, s_hi));
            }
        }
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            /* 32-element activation sums: pairs of the 16-element bsums */
            const __m128i bs_lo = _mm_loadu_si128((const __m128i *)x[t][i].bsums);
            const __m128i bs_hi = _mm_loadu_si128((const __m128i *)(x[t][i].bsums + 8));
            const int summ = hsum_epi32_128(_mm_madd_epi16(mn16, _mm_hadd_epi16(bs_lo, bs_hi)));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x[t][i].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
            acc_min[t] += dmin * x[t][i].d * (float)summ;
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) out[t] = hsum_ps(acc[t]) - acc_min[t];
}

AVX2_FN static float dot_q4_k(const void *w, const void *a, int64_t n) {
    float out;
    dot_affine_k_n(1, w, a, 0, n, false, &out);
    return out;
}
AVX2_FN static float dot_q5_k(const void *w, const void *a, int64_t n) {
    float out;
    dot_affine_k_n(1, w, a, 0, n, true, &out);
    return out;
}
AVX2_FN static void dot4_q4_k(const void *w, const void *a, size_t stride, int64_t n, float *out) {
    dot_affine_k_n(QN, w, a, stride, n, false, out);
}
AVX2_FN static void dot4_q5_k(const void *w, const void *a, size_t stride, int64_t n, float *out) {
    dot_affine_k_n(QN, w, a, stride, n, true, out);
}

/* Q6_K: 6-bit codes 0..63 (the −32 offset is taken out as 32·Σ sc·bsums,
 * one madd); the 16 int16 lanes of one maddubs cover two 16-element groups,
 * so its scale vector holds sc[2j] in the low 8 lanes and sc[2j+1] in the
 * high 8 (a pshufb of the half's 8 scales, one mask per j). */
static const int8_t k_q6_scale_pick[4][32] __attribute__((aligned(32))) = {
#define PICK(j) {4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, 4*j, 4*j+1, \
                 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3, 4*j+2, 4*j+3}
    PICK(0), PICK(1), PICK(2), PICK(3)
#undef PICK
};

AVX2_FN static FG_INLINE void dot_q6_k_n(const int NT, const uint8_t *b, const uint8_t *a, size_t stride, int64_t n,
                                         float *out) {
    const __m256i low4 = _mm256_set1_epi8(0xF), low2 = _mm256_set1_epi8(3);
    __m256 acc[QN];
    const qdot_act_q8k *x[QN];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) {
        acc[t] = _mm256_setzero_ps();
        x[t] = (const qdot_act_q8k *)(a + (size_t)t * stride);
    }
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += QDOT_Q6_K_BYTES) {
        const __m256i sc16 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(b + 192)));   /* 16 scales */
        __m256i sumi[QN];
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const __m256i offset = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x[t][i].bsums));
            sumi[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(offset, 5));
        }
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + 64 * h;
            const __m256i qh = _mm256_loadu_si256((const __m256i *)(b + 128 + 32 * h));
            const __m256i ql0 = _mm256_loadu_si256((const __m256i *)ql);
            const __m256i ql1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i q[4];
            q[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_slli_epi16(_mm256_and_si256(qh, low2), 4));
            q[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 2), low2), 4));
            q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 4), low2), 4));
            q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(qh, 6), low2), 4));
            /* this half's 8 scales (int16) in both 128-bit lanes */
            const __m256i sch = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1)
                                                              : _mm256_castsi256_si128(sc16));
            for (int j = 0; j < 4; j++) {
                const __m256i s = _mm256_shuffle_epi8(sch, _mm256_load_si256((const __m256i *)k_q6_scale_pick[j]));
#pragma GCC unroll 4
                for (int t = 0; t < NT; t++) {
                    const int8_t *qa = x[t][i].qs + 128 * h + 32 * j;
                    const __m256i p = _mm256_maddubs_epi16(q[j], _mm256_loadu_si256((const __m256i *)qa));
                    sumi[t] = _mm256_add_epi32(sumi[t], _mm256_madd_epi16(p, s));
                }
            }
        }
        const float d = f16_at(b + 208);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++)
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x[t][i].d), _mm256_cvtepi32_ps(sumi[t]), acc[t]);
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++) out[t] = hsum_ps(acc[t]);
}

AVX2_FN static float dot_q6_k(const void *w, const void *a, int64_t n) {
    float out;
    dot_q6_k_n(1, w, a, 0, n, &out);
    return out;
}
AVX2_FN static void dot4_q6_k(const void *w, const void *a, size_t stride, int64_t n, float *out) {
    dot_q6_k_n(QN, w, a, stride, n, out);
}

whet_qdot4_fn whet_qdot4_kernel_avx2(whet_dtype wt) {
    static const whet_qdot4_fn k[WHET_DT_COUNT] = {
        [WHET_DT_Q8_0] = dot4_q8_0, [WHET_DT_Q4_0] = dot4_q4_0, [WHET_DT_Q5_0] = dot4_q5_0,
        [WHET_DT_Q4_K] = dot4_q4_k, [WHET_DT_Q5_K] = dot4_q5_k, [WHET_DT_Q6_K] = dot4_q6_k};
    return (unsigned)wt < WHET_DT_COUNT ? k[wt] : NULL;
}

/* ---- activation quantization ---- */

/* 32 floats -> 32 codes (nearest even, as lrintf) at q; the four int32
 * vectors go to v[0..3] for the sums. */
AVX2_FN static inline void quantize32(const float *x, float id, int8_t *q, __m256i v[4]) {
    const __m256 mul = _mm256_set1_ps(id);
    for (int k = 0; k < 4; k++) v[k] = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), mul));
    const __m256i p16 = _mm256_packs_epi32(v[0], v[1]), p16b = _mm256_packs_epi32(v[2], v[3]);
    const __m256i p8 = _mm256_packs_epi16(p16, p16b);   /* lane-interleaved groups of 4 */
    _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
}

AVX2_FN static inline float absmax(const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 8) m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(x + j)));
    return hmax_ps(m);
}

void whet_qdot_quantize_act_avx2(bool k_format, const float *x, int64_t n, void *act) AVX2_FN;
void whet_qdot_quantize_act_avx2(bool k_format, const float *x, int64_t n, void *act) {
    __m256i v[4];
    if (!k_format) {
        qdot_act_q8 *y = act;
        for (int64_t b = 0; b < n / QDOT_QK; b++, x += QDOT_QK) {
            const float d = absmax(x, QDOT_QK) / 127.0f, id = d ? 1.0f / d : 0.0f;
            quantize32(x, id, y[b].qs, v);
            y[b].d = d;
            y[b].s = d * (float)hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), _mm256_add_epi32(v[2], v[3])));
        }
        return;
    }
    qdot_act_q8k *y = act;
    for (int64_t b = 0; b < n / QDOT_QK_K; b++, x += QDOT_QK_K) {
        const float d = absmax(x, QDOT_QK_K) / 127.0f, id = d ? 1.0f / d : 0.0f;
        for (int c = 0; c < 8; c++) {
            quantize32(x + 32 * c, id, y[b].qs + 32 * c, v);
            y[b].bsums[2 * c] = (int16_t)hsum_epi32(_mm256_add_epi32(v[0], v[1]));
            y[b].bsums[2 * c + 1] = (int16_t)hsum_epi32(_mm256_add_epi32(v[2], v[3]));
        }
        y[b].d = d;
    }
}

whet_qdot_fn whet_qdot_kernel_avx2(whet_dtype wt) {
    static const whet_qdot_fn k[WHET_DT_COUNT] = {
        [WHET_DT_Q8_0] = dot_q8_0, [WHET_DT_Q4_0] = dot_q4_0, [WHET_DT_Q4_1] = dot_q4_1,
        [WHET_DT_Q5_0] = dot_q5_0, [WHET_DT_Q5_1] = dot_q5_1, [WHET_DT_Q2_K] = whet_qdot_q2_k_avx2,
        [WHET_DT_Q3_K] = whet_qdot_q3_k_avx2, [WHET_DT_Q4_K] = dot_q4_k, [WHET_DT_Q5_K] = dot_q5_k,
        [WHET_DT_Q6_K] = dot_q6_k};
    return (unsigned)wt < WHET_DT_COUNT ? k[wt] : NULL;
}

/* ---- float weights (ops/float_gemm.h) ---- */

AVX2_FN static inline __m256 load8(whet_dtype dt, const void *w, int64_t i) {
    if (dt == WHET_DT_F32) return _mm256_loadu_ps((const float *)w + i);
    const __m128i h = _mm_loadu_si128((const __m128i *)((const uint16_t *)w + i));
    if (dt == WHET_DT_BF16) return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    return _mm256_cvtph_ps(h);
}

AVX2_FN static inline float load1(whet_dtype dt, const void *w, int64_t i) {
    if (dt == WHET_DT_F32) return ((const float *)w)[i];
    const uint16_t h = ((const uint16_t *)w)[i];
    if (dt == WHET_DT_F16) return _cvtsh_ss(h);
    const uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Each output's 8-lane accumulator lives in a scratch block between k
 * chunks, so the sum over k runs in one order (float_gemm.h) however the
 * loops are tiled: tokens in blocks of FG_TOKENS, rows in blocks of
 * FG_ROWS, k in chunks of FG_KC (x chunk 32 KB, w chunk 9-18 KB: both stay
 * in L1/L2 while the block's tiles pass over them). Tiles are 4 tokens x 3
 * rows (12 named accumulators: gcc keeps them in registers, an array it
 * would spill; 7 loads per 12 FMAs), then 2 x 4, 1 x 4 and 1 x 1 for the
 * rest. */
#define FG_TOKENS 32
#define FG_ROWS 18
#define FG_KC 256

AVX2_FN static FG_INLINE void tile_2x4(whet_dtype dt, const uint8_t *w0, size_t row_bytes, const float *x0,
                                       const float *x1, int64_t k0, int64_t k1, __m256 *acc0, __m256 *acc1) {
    const uint8_t *w1 = w0 + row_bytes, *w2 = w1 + row_bytes, *w3 = w2 + row_bytes;
    __m256 a00 = acc0[0], a01 = acc0[1], a02 = acc0[2], a03 = acc0[3];
    __m256 a10 = acc1[0], a11 = acc1[1], a12 = acc1[2], a13 = acc1[3];
    for (int64_t k = k0; k < k1; k += 8) {
        const __m256 v0 = _mm256_loadu_ps(x0 + k), v1 = _mm256_loadu_ps(x1 + k);
        __m256 q = load8(dt, w0, k);
        a00 = _mm256_fmadd_ps(q, v0, a00);
        a10 = _mm256_fmadd_ps(q, v1, a10);
        q = load8(dt, w1, k);
        a01 = _mm256_fmadd_ps(q, v0, a01);
        a11 = _mm256_fmadd_ps(q, v1, a11);
        q = load8(dt, w2, k);
        a02 = _mm256_fmadd_ps(q, v0, a02);
        a12 = _mm256_fmadd_ps(q, v1, a12);
        q = load8(dt, w3, k);
        a03 = _mm256_fmadd_ps(q, v0, a03);
        a13 = _mm256_fmadd_ps(q, v1, a13);
    }
    acc0[0] = a00, acc0[1] = a01, acc0[2] = a02, acc0[3] = a03;
    acc1[0] = a10, acc1[1] = a11, acc1[2] = a12, acc1[3] = a13;
}

/* 4 tokens x 3 rows: 12 accumulators, 7 loads per 12 FMAs */
AVX2_FN static FG_INLINE void tile_4x3(whet_dtype dt, const uint8_t *w0, size_t row_bytes, const float *x0, int64_t cols,
                                       int64_t k0, int64_t k1, __m256 *acc, int ld) {
    const uint8_t *w1 = w0 + row_bytes, *w2 = w1 + row_bytes;
    const float *x1 = x0 + cols, *x2 = x1 + cols, *x3 = x2 + cols;
    __m256 a00 = acc[0], a01 = acc[1], a02 = acc[2], a10 = acc[ld], a11 = acc[ld + 1], a12 = acc[ld + 2];
    __m256 a20 = acc[2 * ld], a21 = acc[2 * ld + 1], a22 = acc[2 * ld + 2];
    __m256 a30 = acc[3 * ld], a31 = acc[3 * ld + 1], a32 = acc[3 * ld + 2];
    for (int64_t k = k0; k < k1; k += 8) {
        const __m256 q0 = load8(dt, w0, k), q1 = load8(dt, w1, k), q2 = load8(dt, w2, k);
        __m256 v = _mm256_loadu_ps(x0 + k);
        a00 = _mm256_fmadd_ps(q0, v, a00), a01 = _mm256_fmadd_ps(q1, v, a01), a02 = _mm256_fmadd_ps(q2, v, a02);
        v = _mm256_loadu_ps(x1 + k);
        a10 = _mm256_fmadd_ps(q0, v, a10), a11 = _mm256_fmadd_ps(q1, v, a11), a12 = _mm256_fmadd_ps(q2, v, a12);
        v = _mm256_loadu_ps(x2 + k);
        a20 = _mm256_fmadd_ps(q0, v, a20), a21 = _mm256_fmadd_ps(q1, v, a21), a22 = _mm256_fmadd_ps(q2, v, a22);
        v = _mm256_loadu_ps(x3 + k);
        a30 = _mm256_fmadd_ps(q0, v, a30), a31 = _mm256_fmadd_ps(q1, v, a31), a32 = _mm256_fmadd_ps(q2, v, a32);
    }
    acc[0] = a00, acc[1] = a01, acc[2] = a02, acc[ld] = a10, acc[ld + 1] = a11, acc[ld + 2] = a12;
    acc[2 * ld] = a20, acc[2 * ld + 1] = a21, acc[2 * ld + 2] = a22;
    acc[3 * ld] = a30, acc[3 * ld + 1] = a31, acc[3 * ld + 2] = a32;
}

AVX2_FN static FG_INLINE void tile_1x4(whet_dtype dt, const uint8_t *w0, size_t row_bytes, const float *x0,
                                       int64_t k0, int64_t k1, __m256 *acc) {
    const uint8_t *w1 = w0 + row_bytes, *w2 = w1 + row_bytes, *w3 = w2 + row_bytes;
    __m256 a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3];
    for (int64_t k = k0; k < k1; k += 8) {
        const __m256 v = _mm256_loadu_ps(x0 + k);
        a0 = _mm256_fmadd_ps(load8(dt, w0, k), v, a0);
        a1 = _mm256_fmadd_ps(load8(dt, w1, k), v, a1);
        a2 = _mm256_fmadd_ps(load8(dt, w2, k), v, a2);
        a3 = _mm256_fmadd_ps(load8(dt, w3, k), v, a3);
    }
    acc[0] = a0, acc[1] = a1, acc[2] = a2, acc[3] = a3;
}

AVX2_FN static FG_INLINE void tile_1x1(whet_dtype dt, const uint8_t *w0, const float *x0, int64_t k0, int64_t k1,
                                       __m256 *acc) {
    __m256 a0 = acc[0];
    for (int64_t k = k0; k < k1; k += 8) a0 = _mm256_fmadd_ps(load8(dt, w0, k), _mm256_loadu_ps(x0 + k), a0);
    acc[0] = a0;
}

AVX2_FN static FG_INLINE void float_gemm_dt(whet_dtype dt, const void *w, int64_t cols, int64_t r0, int64_t r1,
                                            const float *x, int64_t T, float *y, int64_t ldy) {
    const size_t row_bytes = (size_t)cols * (dt == WHET_DT_F32 ? 4 : 2);
    const int64_t cols8 = cols / 8 * 8;
    __m256 acc[FG_TOKENS][FG_ROWS];
    for (int64_t t0 = 0; t0 < T; t0 += FG_TOKENS) {
        const int64_t nt = T - t0 < FG_TOKENS ? T - t0 : FG_TOKENS;
        for (int64_t rb = r0; rb < r1; rb += FG_ROWS) {
            const int64_t nr = r1 - rb < FG_ROWS ? r1 - rb : FG_ROWS;
            for (int64_t t = 0; t < nt; t++)
                for (int64_t j = 0; j < nr; j++) acc[t][j] = _mm256_setzero_ps();
            for (int64_t k0 = 0; k0 < cols8; k0 += FG_KC) {
                const int64_t k1 = cols8 - k0 < FG_KC ? cols8 : k0 + FG_KC;
                int64_t t = 0;
                for (; t + 4 <= nt; t += 4) {   /* 4-token tiles */
                    const float *xt = x + (t0 + t) * cols;
                    int64_t j = 0;
                    for (; j + 3 <= nr; j += 3)
                        tile_4x3(dt, (const uint8_t *)w + (size_t)(rb + j) * row_bytes, row_bytes, xt, cols, k0, k1,
                                 &acc[t][j], FG_ROWS);
                    for (; j < nr; j++)
                        for (int64_t u = 0; u < 4; u++)
                            tile_1x1(dt, (const uint8_t *)w + (size_t)(rb + j) * row_bytes, xt + u * cols, k0, k1,
                                     &acc[t + u][j]);
                }
                for (; t < nt; t += 2) {
                    const float *xt = x + (t0 + t) * cols;
                    const bool two = t + 1 < nt;
                    int64_t j = 0;
                    for (; j + 4 <= nr; j += 4) {
                        const uint8_t *wr = (const uint8_t *)w + (size_t)(rb + j) * row_bytes;
                        if (two) tile_2x4(dt, wr, row_bytes, xt, xt + cols, k0, k1, &acc[t][j], &acc[t + 1][j]);
                        else tile_1x4(dt, wr, row_bytes, xt, k0, k1, &acc[t][j]);
                    }
                    for (; j < nr; j++) {
                        const uint8_t *wr = (const uint8_t *)w + (size_t)(rb + j) * row_bytes;
                        tile_1x1(dt, wr, xt, k0, k1, &acc[t][j]);
                        if (two) tile_1x1(dt, wr, xt + cols, k0, k1, &acc[t + 1][j]);
                    }
                }
            }
            for (int64_t t = 0; t < nt; t++) {
                const float *xt = x + (t0 + t) * cols;
                for (int64_t j = 0; j < nr; j++) {
                    const uint8_t *wr = (const uint8_t *)w + (size_t)(rb + j) * row_bytes;
                    float s = hsum_ps(acc[t][j]);
                    for (int64_t k = cols8; k < cols; k++) s += load1(dt, wr, k) * xt[k];
                    y[(t0 + t) * ldy + rb + j] = s;
                }
            }
        }
    }
}

AVX2_FN static void float_gemm_avx2(whet_dtype dt, const void *w, int64_t cols, int64_t r0, int64_t r1,
                                    const float *x, int64_t T, float *y, int64_t ldy) {
    switch (dt) {
    case WHET_DT_F32: float_gemm_dt(WHET_DT_F32, w, cols, r0, r1, x, T, y, ldy); break;
    case WHET_DT_BF16: float_gemm_dt(WHET_DT_BF16, w, cols, r0, r1, x, T, y, ldy); break;
    default: float_gemm_dt(WHET_DT_F16, w, cols, r0, r1, x, T, y, ldy); break;
    }
}

whet_float_gemm_fn whet_float_gemm_kernel(whet_isa isa) { return isa == WHET_ISA_AVX2 ? float_gemm_avx2 : NULL; }

#else /* not x86: the scalar kernels only */
whet_qdot_fn whet_qdot_kernel_avx2(whet_dtype wt) {
    (void)wt;
    return NULL;
}
whet_qdot4_fn whet_qdot4_kernel_avx2(whet_dtype wt) {
    (void)wt;
    return NULL;
}
void whet_qdot_quantize_act_avx2(bool k_format, const float *x, int64_t n, void *act) {
    (void)k_format, (void)x, (void)n, (void)act;   /* never called: whet_cpu_isa() is scalar off x86 */
}
whet_float_gemm_fn whet_float_gemm_kernel(whet_isa isa) {
    (void)isa;
    return NULL;
}
#endif
