/* quant_k.c: llama.cpp's 256-element "k-quant" super-blocks Q4_K, Q5_K and
 * Q6_K (Q2_K and Q3_K: quant_k_low.c, sharing the affine fit through
 * quant_k_impl.h): layouts (shared/reference/gguf.md §4) and the reference quantizers
 * (ggml-quants.c quantize_row_q{4,5,6}_K_ref, the path llama-quantize takes
 * without an importance matrix). The scale searches below are the same
 * algorithms with the same float operations in the same order, because
 * bit-identical blocks are the point:
 *   - Q4_K/Q5_K: per 32-element sub-block, an affine fit x ≈ s·q − m with
 *     q in [0, 15] / [0, 31], found by trying nstep+1 candidate inverse
 *     scales around nmax/(max−min) and keeping the one with the least
 *     weighted squared error (weights av_x + |x|) after a closed-form least
 *     squares refit (the "qkx2" search); then the 8 scales and 8 mins are
 *     quantized to 6 bits against fp16 super-scales d = max_s/63, dmin = max_m/63.
 *   - Q6_K: per 16-element sub-block, a symmetric fit q in [−32, 31] from
 *     19 candidate scales −(32 + 0.1·k)/max, weight x² (the "qx" search),
 *     then the 16 scales are quantized to int8 against d = max_s / −128.
 * Layouts (packed):
 *   Q4_K 144 B: f16 d, f16 dmin, u8 scales[12], u8 qs[128]
 *   Q5_K 176 B: f16 d, f16 dmin, u8 scales[12], u8 qh[32], u8 qs[128]
 *   Q6_K 210 B: u8 ql[128], u8 qh[64], i8 scales[16], f16 d */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "ops/cpu/quant_k_impl.h"
#include "ops/cpu/quant_k.h"
#include "ops/quant.h"

/* Affine fit of x[0..n) (see the file comment and quant_k_impl.h). Returns
 * the scale, writes the (positive) min offset to *neg_min and the codes to L. */
float whet_kq_fit_affine(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, float rmin,
                         float rdelta, int nstep, bool use_mad) {
    uint8_t trial[32];
    float lo = x[0], hi = x[0];
    float sum_w = w[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < lo) lo = x[i];
        if (x[i] > hi) hi = x[i];
        sum_w += w[i];
        sum_x += w[i] * x[i];
    }
    if (lo > 0) lo = 0;
    if (hi == lo) {
        memset(L, 0, (size_t)n);
        *neg_min = -lo;
        return 0.0f;
    }
    float iscale = (float)nmax / (hi - lo);
    float scale = 1 / iscale;
    float best_err = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(round_even(iscale * (x[i] - lo)), 0, nmax);
        float diff = scale * L[i] + lo - x[i];
        best_err += w[i] * (use_mad ? fabsf(diff) : diff * diff);
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (hi - lo);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(round_even(iscale * (x[i] - lo)), 0, nmax);
            trial[i] = (uint8_t)l;
            sum_l += w[i] * l;
            sum_l2 += w[i] * l * l;
            sum_xl += w[i] * l * x[i];
        }
        float det = sum_w * sum_l2 - sum_l * sum_l;
        if (!(det > 0)) continue;
        float s = (sum_w * sum_xl - sum_x * sum_l) / det;
        float m = (sum_l2 * sum_x - sum_l * sum_xl) / det;
        if (m > 0) {
            m = 0;
            s = sum_xl / sum_l2;
        }
        float e = 0;
        for (int i = 0; i < n; i++) {
            float diff = s * trial[i] + m - x[i];
            e += w[i] * (use_mad ? fabsf(diff) : diff * diff);
        }
        if (e < best_err) {
            memcpy(L, trial, (size_t)n);
            best_err = e;
            scale = s;
            lo = m;
        }
    }
    *neg_min = -lo;
    return scale;
}

/* Symmetric fit with weights x² (see the file comment); L gets q + nmax. */
static float fit_symmetric(int n, int nmax, const float *x, int8_t *L) {
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++)
        if (fabsf(x[i]) > amax) { amax = fabsf(x[i]); max = x[i]; }
    if (amax < EPS_ALL_ZERO) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(round_even(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (int8_t)(nmax + clampi(round_even(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* The 12 scale bytes of Q4_K/Q5_K hold 8 six-bit scales and 8 six-bit mins. */
static void get_scale_min(int j, const uint8_t *s, int *sc, int *mn) {
    if (j < 4) {
        *sc = s[j] & 63;
        *mn = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        *mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fills d, dmin, scales[12]
 * at blk and the codes L[256]. */
static void kquant_affine_block(const float *x, uint8_t *blk, uint8_t *L, int nmax, float rmin, int nstep) {
    float scales[8], mins[8], w[32];
    float max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float sum_x2 = 0;
        for (int l = 0; l < 32; l++) sum_x2 += xs[l] * xs[l];
        const float av_x = sqrtf(sum_x2 / 32);
        for (int l = 0; l < 32; l++) w[l] = av_x + fabsf(xs[l]);
        scales[j] = whet_kq_fit_affine(32, nmax, xs, w, L + 32 * j, &mins[j], rmin, 0.1f, nstep, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
    }
    const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
    const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
    uint8_t *sc = blk + 4;
    memset(sc, 0, 12);
    for (int j = 0; j < 8; j++) {
        uint8_t ls = (uint8_t)round_even(inv_scale * scales[j]);
        uint8_t lm = (uint8_t)round_even(inv_min * mins[j]);
        if (ls > 63) ls = 63;
        if (lm > 63) lm = 63;
        if (j < 4) {
            sc[j] = ls;
            sc[j + 4] = lm;
        } else {
            sc[j + 4] = (uint8_t)((ls & 0xF) | ((lm & 0xF) << 4));
            sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
            sc[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    put_f16(blk, max_scale / 63.f);
    put_f16(blk + 2, max_min / 63.f);
    /* Re-derive the codes against the rounded 6-bit scales. */
    const float d_all = get_f16(blk), dmin_all = get_f16(blk + 2);
    for (int j = 0; j < 8; j++) {
        int s, m;
        get_scale_min(j, sc, &s, &m);
        const float d = d_all * s;
        if (!d) continue;
        const float dm = dmin_all * m;
        for (int i = 0; i < 32; i++) L[32 * j + i] = (uint8_t)clampi(round_even((x[32 * j + i] + dm) / d), 0, nmax);
    }
}

void whet_quantize_q4_k(const float *x, uint8_t *dst, int64_t n) {
    uint8_t L[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 144) {
        kquant_affine_block(x, dst, L, 15, -1.f, 20);
        uint8_t *q = dst + 16;
        for (int j = 0; j < QK_K; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

void whet_quantize_q5_k(const float *x, uint8_t *dst, int64_t n) {
    uint8_t L[QK_K];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 176) {
        kquant_affine_block(x, dst, L, 31, -0.5f, 15);
        uint8_t *qh = dst + 16, *ql = dst + 48;
        memset(qh, 0, 32);
        uint8_t m1 = 1, m2 = 2;
        for (int j = 0; j < QK_K; j += 64, ql += 32, m1 <<= 2, m2 <<= 2) {
            for (int l = 0; l < 32; l++) {
                int lo = L[j + l], hi = L[j + l + 32];
                if (lo > 15) { lo -= 16; qh[l] |= m1; }
                if (hi > 15) { hi -= 16; qh[l] |= m2; }
                ql[l] = (uint8_t)(lo | (hi << 4));
            }
        }
    }
}

void whet_quantize_q6_k(const float *x, uint8_t *dst, int64_t n) {
    int8_t L[QK_K];
    float scales[16];
    for (int64_t b = 0; b < n / QK_K; b++, x += QK_K, dst += 210) {
        uint8_t *ql = dst, *qh = dst + 128, *blk_scales = dst + 192;
        float max_scale = 0, max_abs = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = fit_symmetric(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs) { max_abs = fabsf(scales[ib]); max_scale = scales[ib]; }
        }
        if (max_abs < EPS_ALL_ZERO) {
            memset(dst, 0, 210);
            continue;
        }
        const float iscale = -128.f / max_scale;
        put_f16(dst + 208, 1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            int v = round_even(iscale * scales[ib]);
            blk_scales[ib] = (uint8_t)(int8_t)(v < 127 ? v : 127);
        }
        const float d_all = get_f16(dst + 208);
        for (int j = 0; j < 16; j++) {
            const float d = d_all * (float)(int8_t)blk_scales[j];
            if (!d) continue;
            for (int i = 0; i < 16; i++) L[16 * j + i] = (int8_t)(clampi(round_even(x[16 * j + i] / d), -32, 31) + 32);
        }
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                const int q1 = L[j + l], q2 = L[j + l + 32], q3 = L[j + l + 64], q4 = L[j + l + 96];
                ql[l] = (uint8_t)((q1 & 0xF) | ((q3 & 0xF) << 4));
                ql[l + 32] = (uint8_t)((q2 & 0xF) | ((q4 & 0xF) << 4));
                qh[l] = (uint8_t)((q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6));
            }
        }
    }
}

static void dequant_affine_k(const uint8_t *src, float *y, int64_t n, bool five_bit) {
    const size_t bsize = five_bit ? 176 : 144;
    for (int64_t b = 0; b < n / QK_K; b++, src += bsize) {
        const float d = get_f16(src), dmin = get_f16(src + 2);
        const uint8_t *sc = src + 4, *qh = src + 16, *q = src + (five_bit ? 48 : 16);
        for (int c = 0; c < 4; c++, q += 32) {
            int s1, m1, s2, m2;
            get_scale_min(2 * c, sc, &s1, &m1);
            get_scale_min(2 * c + 1, sc, &s2, &m2);
            const float d1 = d * s1, mm1 = dmin * m1, d2 = d * s2, mm2 = dmin * m2;
            for (int l = 0; l < 32; l++) {
                int lo = q[l] & 0xF, hi = q[l] >> 4;
                if (five_bit) {
                    lo += ((qh[l] >> (2 * c)) & 1) << 4;
                    hi += ((qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                y[l] = d1 * lo - mm1;
                y[l + 32] = d2 * hi - mm2;
            }
            y += 64;
        }
    }
}

void whet_dequantize_q4_k(const uint8_t *src, float *y, int64_t n) { dequant_affine_k(src, y, n, false); }
void whet_dequantize_q5_k(const uint8_t *src, float *y, int64_t n) { dequant_affine_k(src, y, n, true); }

void whet_dequantize_q6_k(const uint8_t *src, float *y, int64_t n) {
    for (int64_t b = 0; b < n / QK_K; b++, src += 210) {
        const float d = get_f16(src + 208);
        const uint8_t *ql = src, *qh = src + 128;
        const int8_t *sc = (const int8_t *)(src + 192);
        for (int half = 0; half < 2; half++, y += 128, ql += 64, qh += 32, sc += 8) {
            for (int l = 0; l < 32; l++) {
                const int is = l / 16;
                const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
                const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
                const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l] = d * sc[is] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}
