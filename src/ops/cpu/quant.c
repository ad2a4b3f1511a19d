/* quant.c: row quantize / dequantize / dot for the plain float types and
 * llama.cpp's 32-element block types (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1), and the
 * dispatch for every type (the 256-element k-quants live in quant_k.c and
 * quant_k_low.c).
 * Block layouts (shared/reference/gguf.md §4), all little-endian, packed:
 *   Q8_0 34 B: f16 d, i8 qs[32]                 y = qs*d
 *   Q4_0 18 B: f16 d, u8 qs[16]                 y = (nibble - 8)*d
 *   Q4_1 20 B: f16 d, f16 m, u8 qs[16]          y = nibble*d + m
 *   Q5_0 22 B: f16 d, u8 qh[4], u8 qs[16]       y = (nibble | bit<<4) - 16)*d
 *   Q5_1 24 B: f16 d, f16 m, u8 qh[4], u8 qs[16] y = (nibble | bit<<4)*d + m
 * Low nibbles hold elements 0..15, high nibbles 16..31; qh bit j is the 5th
 * bit of element j. The quantizers follow llama.cpp's quantize_row_*_ref
 * arithmetic step for step (same float operations in the same order), so
 * their bytes equal llama-quantize's without an importance matrix. */
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include "core/half.h"
#include "ops/cpu/quant_k.h"
#include "ops/quant.h"

#define QK32 32

static void put_f16(uint8_t *p, float v) {
    uint16_t h = whet_f32_to_fp16(v);
    p[0] = (uint8_t)(h & 0xFF);
    p[1] = (uint8_t)(h >> 8);
}
static float get_f16(const uint8_t *p) { return whet_fp16_to_f32((uint16_t)(p[0] | (p[1] << 8))); }

/* The signed value of largest magnitude (the first one on ties). */
static float signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++)
        if (amax < fabsf(x[j])) { amax = fabsf(x[j]); max = x[j]; }
    return max;
}

static void quantize_q8_0(const float *x, uint8_t *b, int64_t nb) {
    for (int64_t i = 0; i < nb; i++, x += QK32, b += 34) {
        float amax = 0.0f;
        for (int j = 0; j < QK32; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127;
        const float id = d ? 1.0f / d : 0.0f;
        put_f16(b, d);
        for (int j = 0; j < QK32; j++) b[2 + j] = (uint8_t)(int8_t)roundf(x[j] * id);
    }
}

/* Q4_0 / Q5_0: symmetric, d = max / -(2^(bits-1)), code = trunc(x/d + half + 0.5). */
static void quantize_sym(const float *x, uint8_t *b, int64_t nb, int bits) {
    const int half = 1 << (bits - 1), qmax = (1 << bits) - 1;
    const size_t bsize = bits == 4 ? 18 : 22;
    for (int64_t i = 0; i < nb; i++, x += QK32, b += bsize) {
        const float d = signed_absmax(x, QK32) / (float)-half;
        const float id = d ? 1.0f / d : 0.0f;
        put_f16(b, d);
        uint8_t *qs = b + (bits == 4 ? 2 : 6);
        uint32_t qh = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            int q0 = (int8_t)(x[j] * id + ((float)half + 0.5f));
            int q1 = (int8_t)(x[j + QK32 / 2] * id + ((float)half + 0.5f));
            q0 = q0 < qmax ? q0 : qmax;
            q1 = q1 < qmax ? q1 : qmax;
            qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + QK32 / 2);
        }
        if (bits == 5) for (int k = 0; k < 4; k++) b[2 + k] = (uint8_t)(qh >> (8 * k));
    }
}

/* Q4_1 / Q5_1: affine, d = (max - min) / (2^bits - 1), m = min. */
static void quantize_affine(const float *x, uint8_t *b, int64_t nb, int bits) {
    const int qmax = (1 << bits) - 1;
    const size_t bsize = bits == 4 ? 20 : 24;
    for (int64_t i = 0; i < nb; i++, x += QK32, b += bsize) {
        float min = INFINITY, max = -INFINITY;
        for (int j = 0; j < QK32; j++) {
            if (x[j] < min) min = x[j];
            if (x[j] > max) max = x[j];
        }
        const float d = (max - min) / (float)qmax;
        const float id = d ? 1.0f / d : 0.0f;
        put_f16(b, d);
        put_f16(b + 2, min);
        uint8_t *qs = b + (bits == 4 ? 4 : 8);
        uint32_t qh = 0;
        for (int j = 0; j < QK32 / 2; j++) {
            int q0, q1;
            if (bits == 4) { /* int8 truncation, then clamp (ggml's q4_1) */
                q0 = (int8_t)((x[j] - min) * id + 0.5f);
                q1 = (int8_t)((x[j + QK32 / 2] - min) * id + 0.5f);
                q0 = q0 < 15 ? q0 : 15;
                q1 = q1 < 15 ? q1 : 15;
            } else {         /* uint8 truncation, no clamp (ggml's q5_1) */
                q0 = (uint8_t)((x[j] - min) * id + 0.5f);
                q1 = (uint8_t)((x[j + QK32 / 2] - min) * id + 0.5f);
            }
            qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)((q0 >> 4) & 1) << j;
            qh |= (uint32_t)((q1 >> 4) & 1) << (j + QK32 / 2);
        }
        if (bits == 5) for (int k = 0; k < 4; k++) b[4 + k] = (uint8_t)(qh >> (8 * k));
    }
}

/* Dequantize the 32-element block types: y[0..32) of block `b`. */
static void dequant_block32(whet_dtype t, const uint8_t *b, float *y) {
    const float d = get_f16(b);
    switch (t) {
    case WHET_DT_Q8_0:
        for (int j = 0; j < QK32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
        break;
    case WHET_DT_Q4_0:
        for (int j = 0; j < 16; j++) {
            y[j] = (float)((b[2 + j] & 0xF) - 8) * d;
            y[j + 16] = (float)((b[2 + j] >> 4) - 8) * d;
        }
        break;
    case WHET_DT_Q4_1: {
        const float m = get_f16(b + 2);
        for (int j = 0; j < 16; j++) {
            y[j] = (float)(b[4 + j] & 0xF) * d + m;
            y[j + 16] = (float)(b[4 + j] >> 4) * d + m;
        }
        break;
    }
    case WHET_DT_Q5_0:
    case WHET_DT_Q5_1: {
        const bool affine = t == WHET_DT_Q5_1;
        const float m = affine ? get_f16(b + 2) : 0.0f;
        const uint8_t *qhp = b + (affine ? 4 : 2), *qs = qhp + 4;
        const uint32_t qh = (uint32_t)qhp[0] | (uint32_t)qhp[1] << 8 | (uint32_t)qhp[2] << 16 | (uint32_t)qhp[3] << 24;
        for (int j = 0; j < 16; j++) {
            int q0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
            int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
            if (affine) {
                y[j] = (float)q0 * d + m;
                y[j + 16] = (float)q1 * d + m;
            } else {
                y[j] = (float)(q0 - 16) * d;
                y[j + 16] = (float)(q1 - 16) * d;
            }
        }
        break;
    }
    default: WHET_ASSERT(!"not a 32-element block type");
    }
}

static bool is_block32(whet_dtype t) {
    return t == WHET_DT_Q8_0 || t == WHET_DT_Q4_0 || t == WHET_DT_Q4_1 || t == WHET_DT_Q5_0 || t == WHET_DT_Q5_1;
}
static bool is_kquant(whet_dtype t) {
    return t == WHET_DT_Q2_K || t == WHET_DT_Q3_K || t == WHET_DT_Q4_K || t == WHET_DT_Q5_K || t == WHET_DT_Q6_K;
}

whet_status whet_quantize_row(whet_dtype dtype, const float *src, int64_t n, void *dst, const float *imatrix,
                              whet_error *err) {
    if (imatrix)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "quantize %s: importance-matrix quantization is not supported; "
                           "quantize without an imatrix (llama.cpp's reference quantizers)", whet_dtype_name(dtype));
    const size_t blk = whet_dtype_block_elems(dtype);
    if (n < 0 || (size_t)n % blk)
        return whet_errorf(err, WHET_ERR_SHAPE, "quantize %s: row length %lld is not a multiple of the block size %zu",
                           whet_dtype_name(dtype), (long long)n, blk);
    uint8_t *out = dst;
    switch (dtype) {
    case WHET_DT_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return WHET_OK;
    case WHET_DT_F16: {
        for (int64_t i = 0; i < n; i++) put_f16(out + 2 * i, src[i]);
        return WHET_OK;
    }
    case WHET_DT_BF16: {
        for (int64_t i = 0; i < n; i++) {
            uint16_t h = whet_f32_to_bf16(src[i]);
            out[2 * i] = (uint8_t)(h & 0xFF);
            out[2 * i + 1] = (uint8_t)(h >> 8);
        }
        return WHET_OK;
    }
    case WHET_DT_Q8_0: quantize_q8_0(src, out, n / QK32); return WHET_OK;
    case WHET_DT_Q4_0: quantize_sym(src, out, n / QK32, 4); return WHET_OK;
    case WHET_DT_Q5_0: quantize_sym(src, out, n / QK32, 5); return WHET_OK;
    case WHET_DT_Q4_1: quantize_affine(src, out, n / QK32, 4); return WHET_OK;
    case WHET_DT_Q5_1: quantize_affine(src, out, n / QK32, 5); return WHET_OK;
    case WHET_DT_Q2_K: whet_quantize_q2_k(src, out, n); return WHET_OK;
    case WHET_DT_Q3_K: whet_quantize_q3_k(src, out, n); return WHET_OK;
    case WHET_DT_Q4_K: whet_quantize_q4_k(src, out, n); return WHET_OK;
    case WHET_DT_Q5_K: whet_quantize_q5_k(src, out, n); return WHET_OK;
    case WHET_DT_Q6_K: whet_quantize_q6_k(src, out, n); return WHET_OK;
    default:
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "quantize: no quantizer for %s (GGUF types: F32, F16, BF16, "
                           "Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)", whet_dtype_name(dtype));
    }
}

void whet_dequantize_row(whet_dtype dtype, const void *src, int64_t n, float *dst) {
    const uint8_t *in = src;
    switch (dtype) {
    case WHET_DT_F32: memcpy(dst, src, (size_t)n * sizeof(float)); return;
    case WHET_DT_F16:
        for (int64_t i = 0; i < n; i++) dst[i] = get_f16(in + 2 * i);
        return;
    case WHET_DT_BF16:
        for (int64_t i = 0; i < n; i++) dst[i] = whet_bf16_to_f32((uint16_t)(in[2 * i] | (in[2 * i + 1] << 8)));
        return;
    case WHET_DT_Q2_K: whet_dequantize_q2_k(in, dst, n); return;
    case WHET_DT_Q3_K: whet_dequantize_q3_k(in, dst, n); return;
    case WHET_DT_Q4_K: whet_dequantize_q4_k(in, dst, n); return;
    case WHET_DT_Q5_K: whet_dequantize_q5_k(in, dst, n); return;
    case WHET_DT_Q6_K: whet_dequantize_q6_k(in, dst, n); return;
    default: break;
    }
    WHET_ASSERT(is_block32(dtype));
    const size_t bb = whet_dtype_block_bytes(dtype);
    for (int64_t i = 0; i < n / QK32; i++) dequant_block32(dtype, in + (size_t)i * bb, dst + i * QK32);
}

/* One block at a time: decode into a small buffer, then a plain dot, so the
 * result equals dequantize_row + dot exactly (same products, same order). */
float whet_quant_dot(whet_dtype dtype, const void *row, const float *x, int64_t n) {
    float buf[256];
    const size_t be = whet_dtype_block_elems(dtype), bb = whet_dtype_block_bytes(dtype);
    const size_t chunk = be >= 256 ? be : 256 / be * be;
    const size_t chunk_bytes = chunk / be * bb;
    WHET_ASSERT(is_block32(dtype) || is_kquant(dtype) || dtype == WHET_DT_F16 || dtype == WHET_DT_BF16 ||
                dtype == WHET_DT_F32);
    const uint8_t *p = row;
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i += (int64_t)chunk, p += chunk_bytes) {
        const int64_t m = n - i < (int64_t)chunk ? n - i : (int64_t)chunk;
        whet_dequantize_row(dtype, p, m, buf);
        for (int64_t j = 0; j < m; j++) acc += buf[j] * x[i + j];
    }
    return acc;
}
