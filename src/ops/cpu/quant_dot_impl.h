/* quant_dot_impl.h: what the scalar (quant_dot.c) and SIMD (dot_avx2.c)
 * integer-dot kernels share: the activation block structs described in
 * ops/quant_dot.h, the weight block sizes, and the unpacking of the 6-bit
 * Q4_K/Q5_K sub-block scales. */
#ifndef WHET_OPS_CPU_QUANT_DOT_IMPL_H
#define WHET_OPS_CPU_QUANT_DOT_IMPL_H
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

/* The AVX2 kernels (dot_avx2.c); NULL when `wt` has none. */
whet_qdot_fn whet_qdot_kernel_avx2(whet_dtype wt);
whet_qdot4_fn whet_qdot4_kernel_avx2(whet_dtype wt);
#endif
