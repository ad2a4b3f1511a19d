/* quant_k_impl.h: helpers shared by the k-quant files (quant_k.c: Q4_K,
 * Q5_K, Q6_K; quant_k_low.c: Q2_K, Q3_K). Private to ops/cpu. */
#ifndef WHET_OPS_CPU_QUANT_K_IMPL_H
#define WHET_OPS_CPU_QUANT_K_IMPL_H
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/half.h"

#define QK_K 256
/* ggml's GROUP_MAX_EPS: a group whose largest |x| is below it is all zero. */
#define EPS_ALL_ZERO 1e-15f

/* Round half to even (what ggml's nearest_int magic-number trick computes). */
static inline int round_even(float v) { return (int)lrintf(v); }
static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

static inline void put_f16(uint8_t *p, float v) {
    uint16_t h = whet_f32_to_fp16(v);
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}
static inline float get_f16(const uint8_t *p) { return whet_fp16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* llama.cpp's make_qkx2_quants: affine fit x ≈ scale·L − neg_min of x[0..n)
 * (n <= 32) with codes L in [0, nmax], weights w, trying nstep+1 inverse
 * scales (rmin + rdelta·is + nmax)/(max − min) after the min/max one and
 * keeping the least weighted error (squared, or absolute when use_mad).
 * Returns the scale; *neg_min gets the (non-negative) min offset. */
float whet_kq_fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, float rmin,
                         float rdelta, int nstep, bool use_mad);
#endif
