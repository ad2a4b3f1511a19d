/* quant_dot_impl.h: what the scalar (quant_dot.c) and SIMD (dot_avx2.c)
 * integer-dot kernels share: the activation block structs described in
 * ops/quant_dot.h, the weight block sizes, the unpacking of the 6-bit
 * Q4_K/Q5_K/Q3_K sub-block scales, and the Q2_K/Q3_K kernels
 * (quant_dot_low.c, dot_avx2_low.c). */
#ifndef WHET_OPS_CPU_QUANT_DOT_IMPL_H
#define WHET_OPS_CPU_QUANT_DOT_IMPL_H
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "ops/quant_dot.h"

#define QDOT_QK 32    /* elements of a q8 activation block (and of Q8_0..Q5_1) */
#define QDOT_QK_K 256 /* elements of a q8_K activation block (and of a k-quant) */

typedef struct {
    float d;            /* scale: x ≈ d·qs */
    float s;            /* d·Σqs, for the weights' min terms (Q4_1, Q5_1) */
    int8_t qs[QDOT_QK]; /* in [-127, 127] */
} qdot_act_q8;

typedef struct {
    float d;
    int8_t qs[QDOT_QK_K];  /* in [-127, 127] */
    int16_t bsums[16];     /* bsums[k] = Σ qs[16k .. 16k+16) */
} qdot_act_q8k;

/* Weight block bytes (shared/reference/gguf.md §4). */
#define QDOT_Q8_0_BYTES 34
#define QDOT_Q4_0_BYTES 18
#define QDOT_Q4_1_BYTES 20
#define QDOT_Q5_0_BYTES 22
#define QDOT_Q5_1_BYTES 24
#define QDOT_Q4_K_BYTES 144
#define QDOT_Q5_K_BYTES 176
#define QDOT_Q6_K_BYTES 210
#define QDOT_Q2_K_BYTES 84
#define QDOT_Q3_K_BYTES 110

static inline uint16_t qdot_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t qdot_u32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* The 12 scale bytes of Q4_K/Q5_K: 8 six-bit scales and 8 six-bit mins,
 * sub-block j covering elements 32j .. 32j+32. */
static inline void qdot_unpack_k_scales(const uint8_t s[12], uint8_t sc[8], uint8_t mn[8]) {
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        mn[j] = s[j + 4] & 63;
        sc[j + 4] = (uint8_t)((s[j + 8] & 0xF) | ((s[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4));
    }
}

/* The 12 scale bytes of Q3_K: 16 six-bit scales, returned signed (s6 − 32),
 * scale g covering elements 16g .. 16g+16. Bytes 0-7 hold the low nibbles of
 * scales 0-7 (low half) and 8-15 (high half), bytes 8-11 the top two bits
 * (scale g's in byte 8 + g%4 at bit 2·(g/4)); as 32-bit words w0, w1, w2. */
static inline void qdot_unpack_q3k_scales(const uint8_t s[12], int8_t sc[16]) {
    const uint32_t w0 = qdot_u32(s), w1 = qdot_u32(s + 4), w2 = qdot_u32(s + 8);
    const uint32_t lo4 = 0x0F0F0F0Fu, lo2 = 0x03030303u;
    const uint32_t u[4] = {(w0 & lo4) | ((w2 & lo2) << 4), (w1 & lo4) | (((w2 >> 2) & lo2) << 4),
                           ((w0 >> 4) & lo4) | (((w2 >> 4) & lo2) << 4), ((w1 >> 4) & lo4) | (((w2 >> 6) & lo2) << 4)};
    for (int g = 0; g < 16; g++) sc[g] = (int8_t)((int)((u[g / 4] >> (8 * (g % 4))) & 0xFF) - 32);
}

/* The scalar Q2_K / Q3_K kernels (quant_dot_low.c). */
float whet_qdot_q2_k_scalar(const void *w_row, const void *act_row, int64_t n);
float whet_qdot_q3_k_scalar(const void *w_row, const void *act_row, int64_t n);
/* Their AVX2 twins (dot_avx2_low.c, x86 only; call them only when the CPU
 * has AVX2+FMA+F16C). */
float whet_qdot_q2_k_avx2(const void *w_row, const void *act_row, int64_t n);
float whet_qdot_q3_k_avx2(const void *w_row, const void *act_row, int64_t n);

/* AVX2 activation quantization (dot_avx2.c): the same bytes as the scalar
 * quantizers of quant_dot.c; `k` selects the q8_K format. */
void whet_qdot_quantize_act_avx2(bool k, const float *x, int64_t n, void *act);
/* The AVX2 kernels (dot_avx2.c); NULL when `wt` has none. */
whet_qdot_fn whet_qdot_kernel_avx2(whet_dtype wt);
whet_qdot4_fn whet_qdot4_kernel_avx2(whet_dtype wt);
#endif
