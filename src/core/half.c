/* half.c: fp16/bf16 conversions by bit manipulation (no F16C dependency). */
#include "core/half.h"
#include <string.h>

static uint32_t f2u(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float u2f(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

float whet_fp16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    if (exp == 0) {
        if (mant == 0) return u2f(sign);
        float v = (float)mant * 0x1.0p-24f;   /* subnormal */
        return sign ? -v : v;
    }
    if (exp == 31) return u2f(sign | 0x7f800000u | (mant << 13));
    return u2f(sign | ((exp + 112) << 23) | (mant << 13));
}

uint16_t whet_f32_to_fp16(float f) {
    uint32_t u = f2u(f), sign = (u >> 16) & 0x8000;
    uint32_t absu = u & 0x7fffffffu;
    if (absu > 0x7f800000u) return (uint16_t)(sign | 0x7e00);            /* NaN */
    if (absu >= 0x477ff000u) return (uint16_t)(sign | 0x7c00);           /* overflow -> inf */
    if (absu < 0x38800000u) {                                            /* subnormal / zero */
        float a = u2f(absu);
        /* a * 2^24 rounded to nearest even gives the subnormal mantissa */
        float scaled = a * 0x1.0p24f;
        uint32_t m = (uint32_t)scaled;
        float rem = scaled - (float)m;
        if (rem > 0.5f || (rem == 0.5f && (m & 1))) m++;
        return (uint16_t)(sign | m);
    }
    uint32_t mant = absu & 0x7fffff, exp = (absu >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

float whet_bf16_to_f32(uint16_t b) { return u2f((uint32_t)b << 16); }

uint16_t whet_f32_to_bf16(float f) {
    uint32_t u = f2u(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fff + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

void whet_fp16_to_f32_row(const uint16_t *src, float *dst, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = whet_fp16_to_f32(src[i]); }
void whet_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = whet_bf16_to_f32(src[i]); }
void whet_f32_to_fp16_row(const float *src, uint16_t *dst, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = whet_f32_to_fp16(src[i]); }
void whet_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n) { for (size_t i = 0; i < n; i++) dst[i] = whet_f32_to_bf16(src[i]); }
