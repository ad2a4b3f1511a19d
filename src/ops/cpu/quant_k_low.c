/* quant_k_low.c: llama.cpp's 2- and 3-bit k-quant super-blocks Q2_K and
 * Q3_K (256 elements): layouts (shared/reference/gguf.md §4) and the
 * reference quantizers (ggml-quants.c quantize_row_q2_K_ref /
 * quantize_row_q3_K_ref, what llama-quantize runs without an importance
 * matrix), with the same float operations in the same order so the bytes
 * are llama.cpp's:
 *   - Q2_K: per 16-element sub-block an affine fit x ≈ s·q − m, q in [0, 3],
 *     weights |x|, absolute (not squared) error, 16 candidate inverse scales
 *     (make_qkx2_quants(16, 3, ..., rmin −0.5, rdelta 0.1, nstep 15, mad));
 *     the 16 scales and 16 mins are then quantized to 4 bits against fp16
 *     d = max_s/15 and dmin = max_m/15 (no clamp), and the codes re-derived
 *     against the rounded scales.
 *   - Q3_K: per 16-element sub-block a symmetric fit q in [−4, 3] from the
 *     scale −4/max (max the signed value of largest |x|), refined by up to 5
 *     passes that move one code at a time when that raises
 *     (Σw·x·q)²/Σw·q² with w = x² (make_q3_quants(16, 4, x, L, true)); the 16
 *     scales are quantized to 6 bits, s6 = clamp(round(−32/max_s · s), −32, 31),
 *     against d = 1/(−32/max_s), and the codes re-derived.
 * Layouts (packed):
 *   Q2_K 84 B:  u8 scales[16] (scale | min << 4), u8 qs[64], f16 d, f16 dmin
 *               y = d·(sc & 15)·q − dmin·(sc >> 4)
 *   Q3_K 110 B: u8 hmask[32], u8 qs[64], u8 scales[12] (16 x 6 bits), f16 d
 *               y = d·(s6 − 32)·(q2 − (hmask bit ? 0 : 4))
 * Element e = 128n + 32j + l (n < 2, j < 4, l < 32) keeps its low 2 bits in
 * qs[32n + l] at bit 2j, its sub-block is e/16, and (Q3_K) its high bit is
 * bit e/32 of hmask[l]. */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "ops/cpu/quant_k_impl.h"
#include "ops/cpu/quant_k.h"
#include "ops/quant.h"

/* qs[32n + l] = L[e] | L[e+32] << 2 | L[e+64] << 4 | L[e+96] << 6 with e = 128n + l. */
static void pack_2bit(const uint8_t *L, uint8_t *qs) {
    for (int j = 0; j < QK_K; j += 128)
        for (int l = 0; l < 32; l++)
            qs[j / 4 + l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

void whet_quantize_q2_k(const float *x, uint8_t *dst, int64_t n) {
    uint8_t L[QK_K];
    float w[16], scales[16], mins[16];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 84) {
        uint8_t *sc = dst, *qs = dst + 16;
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            const float *xs = x + 16 * j;
            for (int l = 0; l < 16; l++) w[l] = fabsf(xs[l]);
            scales[j] = whet_kq_fit_affine(16, 3, xs, w, L + 16 * j, &mins[j], -0.5f, 0.1f, 15, true);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        /* 4-bit scales and mins; the int -> uint8 stores wrap as ggml's do */
        if (max_scale > 0) {
            const float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) sc[j] = (uint8_t)round_even(iscale * scales[j]);
            put_f16(dst + 80, max_scale / 15.f);
        } else {
            memset(sc, 0, 16);
            put_f16(dst + 80, 0.f);
        }
        if (max_min > 0) {
            const float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++) sc[j] |= (uint8_t)((unsigned)round_even(iscale * mins[j]) << 4);
            put_f16(dst + 82, max_min / 15.f);
        } else {
            put_f16(dst + 82, 0.f);
        }
        const float d_all = get_f16(dst + 80), dmin_all = get_f16(dst + 82);
        for (int j = 0; j < 16; j++) {
            const float d = d_all * (sc[j] & 0xF);
            if (!d) continue;
            const float dm = dmin_all * (sc[j] >> 4);
            for (int i = 0; i < 16; i++) L[16 * j + i] = (uint8_t)clampi(round_even((x[16 * j + i] + dm) / d), 0, 3);
        }
        pack_2bit(L, qs);
    }
}

void whet_dequantize_q2_k(const uint8_t *src, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, src += 84) {
        const float d = get_f16(src + 80), dmin = get_f16(src + 82);
        const uint8_t *sc = src, *q = src + 16;
        for (int half = 0; half < 2; half++, q += 32)
            for (int j = 0; j < 4; j++)
                for (int k = 0; k < 2; k++) {
                    const uint8_t s = *sc++;
                    const float dl = d * (s & 0xF), ml = dmin * (s >> 4);
                    for (int l = 0; l < 16; l++) *y++ = dl * ((q[16 * k + l] >> (2 * j)) & 3) - ml;
                }
    }
}

/* make_q3_quants(16, 4, x, L, do_rmse = true): L gets q + 4 in [0, 7]. */
static float fit_q3(const float *x, int8_t *L) {
    const int n = 16, nmax = 4;
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < EPS_ALL_ZERO) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    const float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)l;
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            float w = x[i] * x[i];
            float slx = sumlx - w * x[i] * L[i];
            if (slx > 0) {
                float sl2 = suml2 - w * L[i] * L[i];
                int new_l = clampi(round_even(x[i] * sl2 / slx), -nmax, nmax - 1);
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (sl2 > 0 && slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (int8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    for (int i = 0; i < n; i++) L[i] = (int8_t)(L[i] + nmax);
    return suml2 > 0.0f ? sumlx / suml2 : 0.0f;
}

/* The 6-bit scale j of a Q3_K block (0..63; the signed scale is this − 32). */
static int q3_scale(const uint8_t *s, int j) {
    const int low = j < 8 ? s[j] & 0xF : s[j - 8] >> 4;
    return low | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4);
}

void whet_quantize_q3_k(const float *x, uint8_t *dst, int64_t n) {
    int8_t L[QK_K];
    float scales[16];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 110) {
        uint8_t *hmask = dst, *qs = dst + 32, *sc = dst + 96;
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            scales[j] = fit_q3(x + 16 * j, L + 16 * j);
            if (fabsf(scales[j]) > amax) { amax = fabsf(scales[j]); max_scale = scales[j]; }
        }
        memset(sc, 0, 12);
        if (max_scale) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                /* ggml stores nearest_int(...) in an int8 before clamping */
                int l = clampi((int8_t)round_even(iscale * scales[j]), -32, 31) + 32;
                if (j < 8) sc[j] = (uint8_t)(l & 0xF);
                else sc[j - 8] |= (uint8_t)((l & 0xF) << 4);
                sc[j % 4 + 8] |= (uint8_t)((l >> 4) << (2 * (j / 4)));
            }
            put_f16(dst + 108, 1 / iscale);
        } else {
            put_f16(dst + 108, 0.f);
        }
        const float d_all = get_f16(dst + 108);
        for (int j = 0; j < 16; j++) {
            const float d = d_all * (float)(q3_scale(sc, j) - 32);
            if (!d) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(round_even(x[16 * j + i] / d), -4, 3) + 4);
        }
        /* the high bit of element j goes to bit j/32 of hmask[j % 32] */
        memset(hmask, 0, 32);
        uint8_t low[QK_K];
        for (int j = 0; j < QK_K; j++) {
            int q = L[j];
            if (q > 3) {
                hmask[j % 32] |= (uint8_t)(1u << (j / 32));
                q -= 4;
            }
            low[j] = (uint8_t)q;
        }
        pack_2bit(low, qs);
    }
}

void whet_dequantize_q3_k(const uint8_t *src, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, src += 110) {
        const float d_all = get_f16(src + 108);
        const uint8_t *hm = src, *q = src + 32, *sc = src + 96;
        int is = 0;
        for (int half = 0; half < 2; half++, q += 32)
            for (int j = 0; j < 4; j++) {
                const uint8_t m = (uint8_t)(1u << (4 * half + j));
                for (int k = 0; k < 2; k++) {
                    const float dl = d_all * (q3_scale(sc, is++) - 32);
                    for (int l = 16 * k; l < 16 * k + 16; l++)
                        *y++ = dl * (((q[l] >> (2 * j)) & 3) - ((hm[l] & m) ? 0 : 4));
                }
            }
    }
}
