/* quant_dot_low.c: the scalar integer-dot kernels of the 2- and 3-bit
 * k-quants Q2_K and Q3_K against q8_K activations (ops/quant_dot.h); the
 * arithmetic of llama.cpp's ggml_vec_dot_q2_K_q8_K / q3_K_q8_K reference
 * loops: exact integer sums per 16-element group, one or two float
 * multiply-adds per 256-element block. Element order (quant_k_low.c): element
 * e = 128h + 32j + l (h < 2, j < 4, l < 32) is bits 2j..2j+1 of qs[32h + l],
 * its group is e/16 = 8h + 2j + l/16, and (Q3_K) its third bit is bit 4h + j
 * of hmask[l].
 *   Q2_K: y = d·(sc & 15)·q − dmin·(sc >> 4), q in [0, 3], so
 *         dot = d·dₓ·Σ_g (sc_g & 15)·Σ q·qₓ − dmin·dₓ·Σ_g (sc_g >> 4)·bsums_g.
 *   Q3_K: y = d·s_g·(c − 4), c = q2 | hbit << 2 in [0, 7], s_g the signed
 *         6-bit scale, so dot = d·dₓ·Σ_g s_g·(Σ c·qₓ − 4·bsums_g). */
#include "core/half.h"
#include "ops/cpu/quant_dot_impl.h"

static float f16(const uint8_t *p) { return whet_fp16_to_f32(qdot_u16(p)); }

/* Layout: u8 scales[16], u8 qs[64], f16 d, f16 dmin (84 B). */
float whet_qdot_q2_k_scalar(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8k *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += QDOT_Q2_K_BYTES) {
        const uint8_t *sc = b, *qs = b + 16;
        int sumi = 0, summ = 0;
        for (int g = 0; g < 16; g++) summ += (sc[g] >> 4) * x[i].bsums[g];
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++) {
                    const uint8_t *q = qs + 32 * h + 16 * k;
                    const int8_t *qa = x[i].qs + 128 * h + 32 * j + 16 * k;
                    int s = 0;
                    for (int l = 0; l < 16; l++) s += ((q[l] >> (2 * j)) & 3) * qa[l];
                    sumi += (sc[8 * h + 2 * j + k] & 0xF) * s;
                }
        acc += f16(b + 80) * x[i].d * (float)sumi - f16(b + 82) * x[i].d * (float)summ;
    }
    return acc;
}

/* Layout: u8 hmask[32], u8 qs[64], u8 scales[12], f16 d (110 B). */
float whet_qdot_q3_k_scalar(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8k *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += QDOT_Q3_K_BYTES) {
        const uint8_t *hm = b, *qs = b + 32;
        int8_t sc[16];
        qdot_unpack_q3k_scales(b + 96, sc);
        int sumi = 0;
        for (int h = 0; h < 2; h++)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++) {
                    const int g = 8 * h + 2 * j + k;
                    const int8_t *qa = x[i].qs + 16 * g;
                    int s = 0;
                    for (int l = 16 * k; l < 16 * k + 16; l++) {
                        const int c = ((qs[32 * h + l] >> (2 * j)) & 3) | (((hm[l] >> (4 * h + j)) & 1) << 2);
                        s += c * qa[l - 16 * k];
                    }
                    sumi += sc[g] * (s - 4 * x[i].bsums[g]);
                }
        acc += f16(b + 108) * x[i].d * (float)sumi;
    }
    return acc;
}
