/* quant_dot.c: activation quantization, the scalar integer-dot kernels for
 * every GGUF block type whet runs, and the choice of kernel per CPU
 * (ops/quant_dot.h). Each kernel sums integer products per block (exact)
 * and does one float multiply-add per block or sub-block, the arithmetic of
 * llama.cpp's ggml_vec_dot_*_q8_* reference loops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/half.h"
#include "ops/cpu/quant_dot_impl.h"

static float f16(const uint8_t *p) { return whet_fp16_to_f32(qdot_u16(p)); }

/* ---- activations ----
 * d = amax/127, codes = x·(1/d) rounded to nearest even (lrintf, as the
 * AVX2 twin's cvtps_epi32), so every ISA gets the same bytes. */

static void quantize_act_q8(const float *x, int64_t n, qdot_act_q8 *y) {
    for (int64_t b = 0; b < n / QDOT_QK; b++, x += QDOT_QK) {
        float amax = 0.0f;
        for (int j = 0; j < QDOT_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QDOT_QK; j++) {
            int q = (int)lrintf(x[j] * id);
            y[b].qs[j] = (int8_t)q;
            sum += q;
        }
        y[b].d = d;
        y[b].s = d * (float)sum;
    }
}

static void quantize_act_q8k(const float *x, int64_t n, qdot_act_q8k *y) {
    for (int64_t b = 0; b < n / QDOT_QK_K; b++, x += QDOT_QK_K) {
        float amax = 0.0f;
        for (int j = 0; j < QDOT_QK_K; j++) amax = fmaxf(amax, fabsf(x[j]));
        const float d = amax / 127.0f, id = d ? 1.0f / d : 0.0f;
        for (int j = 0; j < QDOT_QK_K; j++) y[b].qs[j] = (int8_t)lrintf(x[j] * id);
        for (int k = 0; k < 16; k++) {
            int s = 0;
            for (int j = 0; j < 16; j++) s += y[b].qs[16 * k + j];
            y[b].bsums[k] = (int16_t)s;
        }
        y[b].d = d;
    }
}

static bool is_kquant(whet_dtype wt) {
    return wt == WHET_DT_Q2_K || wt == WHET_DT_Q3_K || wt == WHET_DT_Q4_K || wt == WHET_DT_Q5_K || wt == WHET_DT_Q6_K;
}
static bool is_q32(whet_dtype wt) {
    return wt == WHET_DT_Q8_0 || wt == WHET_DT_Q4_0 || wt == WHET_DT_Q4_1 || wt == WHET_DT_Q5_0 || wt == WHET_DT_Q5_1;
}

size_t whet_qdot_act_bytes(whet_dtype wt, int64_t n) {
    if (is_kquant(wt)) return (size_t)(n / QDOT_QK_K) * sizeof(qdot_act_q8k);
    return (size_t)(n / QDOT_QK) * sizeof(qdot_act_q8);
}

void whet_qdot_quantize_act(whet_dtype wt, const float *x, int64_t n, void *act) {
    if (whet_cpu_isa() == WHET_ISA_AVX2) whet_qdot_quantize_act_avx2(is_kquant(wt), x, n, act);
    else if (is_kquant(wt)) quantize_act_q8k(x, n, act);
    else quantize_act_q8(x, n, act);
}

/* ---- scalar kernels: 32-element blocks ---- */

static float dot_q8_0(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8 *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK; i++, b += QDOT_Q8_0_BYTES) {
        int s = 0;
        for (int j = 0; j < QDOT_QK; j++) s += (int8_t)b[2 + j] * x[i].qs[j];
        acc += f16(b) * x[i].d * (float)s;
    }
    return acc;
}

/* Q4_0 / Q4_1: nibble codes, low nibbles elements 0..15, high 16..31. */
static int nibble_dot(const uint8_t *qs, const int8_t *a, int offset) {
    int s = 0;
    for (int j = 0; j < 16; j++) s += ((qs[j] & 0xF) - offset) * a[j] + ((qs[j] >> 4) - offset) * a[j + 16];
    return s;
}

static float dot_q4_0(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8 *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK; i++, b += QDOT_Q4_0_BYTES)
        acc += f16(b) * x[i].d * (float)nibble_dot(b + 2, x[i].qs, 8);
    return acc;
}

static float dot_q4_1(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8 *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK; i++, b += QDOT_Q4_1_BYTES)
        acc += f16(b) * x[i].d * (float)nibble_dot(b + 4, x[i].qs, 0) + f16(b + 2) * x[i].s;
    return acc;
}

/* Q5_0 / Q5_1: a nibble plus the 5th bit from qh (bit j of element j). */
static int five_bit_dot(const uint8_t *qh4, const uint8_t *qs, const int8_t *a, int offset) {
    const uint32_t qh = qdot_u32(qh4);
    int s = 0;
    for (int j = 0; j < 16; j++) {
        const int q0 = (qs[j] & 0xF) | (int)(((qh >> j) & 1) << 4);
        const int q1 = (qs[j] >> 4) | (int)(((qh >> (j + 16)) & 1) << 4);
        s += (q0 - offset) * a[j] + (q1 - offset) * a[j + 16];
    }
    return s;
}

static float dot_q5_0(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8 *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK; i++, b += QDOT_Q5_0_BYTES)
        acc += f16(b) * x[i].d * (float)five_bit_dot(b + 2, b + 6, x[i].qs, 16);
    return acc;
}

static float dot_q5_1(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8 *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK; i++, b += QDOT_Q5_1_BYTES)
        acc += f16(b) * x[i].d * (float)five_bit_dot(b + 4, b + 8, x[i].qs, 0) + f16(b + 2) * x[i].s;
    return acc;
}

/* ---- scalar kernels: 256-element k-quants ----
 * Q4_K/Q5_K element 64c + l (l < 32) is the low nibble of qs[32c + l]
 * (sub-block 2c), element 64c + 32 + l its high nibble (sub-block 2c + 1);
 * y = d·sc·q − dmin·m, so dot = d·Σ sc·Σq·a − dmin·Σ m·Σa. */
static float dot_affine_k(const void *w, const void *a, int64_t n, bool five_bit) {
    const uint8_t *b = w;
    const qdot_act_q8k *x = a;
    const size_t bytes = five_bit ? QDOT_Q5_K_BYTES : QDOT_Q4_K_BYTES;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += bytes) {
        uint8_t sc[8], mn[8];
        qdot_unpack_k_scales(b + 4, sc, mn);
        const uint8_t *qh = b + 16, *q = b + (five_bit ? 48 : 16);
        const int8_t *qa = x[i].qs;
        int sumi = 0, summ = 0;
        for (int c = 0; c < 4; c++, q += 32, qa += 64) {
            int lo = 0, hi = 0;
            for (int l = 0; l < 32; l++) {
                int ql = q[l] & 0xF, qu = q[l] >> 4;
                if (five_bit) {
                    ql |= ((qh[l] >> (2 * c)) & 1) << 4;
                    qu |= ((qh[l] >> (2 * c + 1)) & 1) << 4;
                }
                lo += ql * qa[l];
                hi += qu * qa[l + 32];
            }
            sumi += sc[2 * c] * lo + sc[2 * c + 1] * hi;
        }
        for (int j = 0; j < 8; j++) summ += mn[j] * (x[i].bsums[2 * j] + x[i].bsums[2 * j + 1]);
        acc += f16(b) * x[i].d * (float)sumi - f16(b + 2) * x[i].d * (float)summ;
    }
    return acc;
}

static float dot_q4_k(const void *w, const void *a, int64_t n) { return dot_affine_k(w, a, n, false); }
static float dot_q5_k(const void *w, const void *a, int64_t n) { return dot_affine_k(w, a, n, true); }

/* Q6_K: 6-bit codes q in [0, 63], y = d·sc[e/16]·(q − 32); the −32 comes
 * out as −32·Σ sc·bsums. Per 128-element half: element l, l+32, l+64, l+96
 * take ql[l] low, ql[l+32] low, ql[l] high, ql[l+32] high and qh[l] bits
 * 0-1, 2-3, 4-5, 6-7. */
static float dot_q6_k(const void *w, const void *a, int64_t n) {
    const uint8_t *b = w;
    const qdot_act_q8k *x = a;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QDOT_QK_K; i++, b += QDOT_Q6_K_BYTES) {
        const int8_t *sc = (const int8_t *)(b + 192);
        int sumi = 0;
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = b + 64 * h, *qh = b + 128 + 32 * h;
            const int8_t *qa = x[i].qs + 128 * h;
            int g[8] = {0};
            for (int l = 0; l < 32; l++) {
                const int q1 = (ql[l] & 0xF) | ((qh[l] & 3) << 4);
                const int q2 = (ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4);
                const int q3 = (ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4);
                const int q4 = (ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4);
                const int is = l / 16;
                g[is] += q1 * qa[l];
                g[is + 2] += q2 * qa[l + 32];
                g[is + 4] += q3 * qa[l + 64];
                g[is + 6] += q4 * qa[l + 96];
            }
            for (int k = 0; k < 8; k++) sumi += sc[8 * h + k] * (g[k] - 32 * x[i].bsums[8 * h + k]);
        }
        acc += f16(b + 208) * x[i].d * (float)sumi;
    }
    return acc;
}

/* ---- dispatch ---- */

static whet_qdot_fn scalar_kernel(whet_dtype wt) {
    static const whet_qdot_fn k[WHET_DT_COUNT] = {
        [WHET_DT_Q8_0] = dot_q8_0, [WHET_DT_Q4_0] = dot_q4_0, [WHET_DT_Q4_1] = dot_q4_1,
        [WHET_DT_Q5_0] = dot_q5_0, [WHET_DT_Q5_1] = dot_q5_1, [WHET_DT_Q2_K] = whet_qdot_q2_k_scalar,
        [WHET_DT_Q3_K] = whet_qdot_q3_k_scalar, [WHET_DT_Q4_K] = dot_q4_k, [WHET_DT_Q5_K] = dot_q5_k,
        [WHET_DT_Q6_K] = dot_q6_k};
    return (unsigned)wt < WHET_DT_COUNT ? k[wt] : NULL;
}

whet_qdot_fn whet_qdot_kernel(whet_dtype wt, whet_isa isa) {
    if (!is_q32(wt) && !is_kquant(wt)) return NULL;
    if (isa == WHET_ISA_AVX2) {
        whet_qdot_fn f = whet_qdot_kernel_avx2(wt);
        if (f) return f;
    }
    return scalar_kernel(wt);
}

static int g_isa = -1;   /* every thread that races to set it computes the same value */

static bool cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return false;
#endif
}

bool whet_cpu_isa_force(whet_isa isa) {
    if (isa == WHET_ISA_AVX2 && !cpu_has_avx2()) return false;
    __atomic_store_n(&g_isa, (int)isa, __ATOMIC_RELAXED);
    return true;
}

whet_qdot4_fn whet_qdot4_kernel(whet_dtype wt, whet_isa isa) {
    return isa == WHET_ISA_AVX2 ? whet_qdot4_kernel_avx2(wt) : NULL;
}

whet_isa whet_cpu_isa(void) {
    int isa = __atomic_load_n(&g_isa, __ATOMIC_RELAXED);
    if (isa < 0) {
        const char *force = getenv("WHET_CPU_ISA");
        const bool avx2 = cpu_has_avx2() && !(force && strcmp(force, "scalar") == 0);
        isa = avx2 ? WHET_ISA_AVX2 : WHET_ISA_SCALAR;
        __atomic_store_n(&g_isa, isa, __ATOMIC_RELAXED);
    }
    return (whet_isa)isa;
}

const char *whet_isa_name(whet_isa isa) { return isa == WHET_ISA_AVX2 ? "avx2" : "scalar"; }
