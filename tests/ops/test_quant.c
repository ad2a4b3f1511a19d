/* test_quant.c: llama.cpp block quantizers (ops/cpu/quant*.c).
 * 1. Layouts: hand-built blocks dequantize to the values that the format
 *    formulas in shared/reference/gguf.md §4 give (written out here per type).
 * 2. Golden quantizer bytes:
 *    - 32-element types: inputs chosen so d is exact (d = 1) and every code
 *      can be worked out by hand from llama.cpp's quantize_row_*_ref rules
 *      (roundf half-away for Q8_0, trunc(x/d + 8.5) clamped for Q4_0 ...);
 *      the expected codes are literal numbers with the arithmetic in comments.
 *    - k-quants: a block built by hand from codes, 6-bit (Q4_K/Q5_K) or int8
 *      (Q6_K) sub-scales and fp16 super-scales, covering each code range end
 *      to end, is exactly representable; llama.cpp's search starts from the
 *      min/max fit, which is then exact, and its scale quantization maps the
 *      largest sub-scale to 63 (or -128), so the reference quantizer returns
 *      the very same bytes. quantize(dequantize(B)) == B checks that.
 *    - Q2_K / Q3_K the same way: 4-bit scale|min bytes (Q2_K) or 6-bit signed
 *      scales (Q3_K) chosen so the largest is 15 (resp. -32), every
 *      sub-block holding both ends of its code range (Q2_K: 0 and 3; Q3_K:
 *      -4, the value of largest |x| that make_q3_quants scales from), so
 *      quantize_row_q2_K_ref / quantize_row_q3_K_ref reproduce the block.
 *    - an all-zero block gives all-zero bytes (d = 0) for every type.
 * 3. Error bounds per block on random and outlier-heavy rows.
 * 4. whet_quant_dot == dequantize + dot, and close to the f32 dot.
 * 5. llama.cpp's own test-quantize-fns error limits on its synthetic row. */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "core/half.h"
#include "core/rng.h"
#include "ops/quant.h"
#include "test.h"
#include "tolerances.h"

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

#define H_ONE 0x3C00   /* fp16 1.0 */
#define H_HALF 0x3800  /* 0.5 */
#define H_TWO 0x4000   /* 2.0 */
#define H_M4 0xC400    /* -4.0 */
#define H_QUARTER 0x3400 /* 0.25 */

static void test_layout_block32(void) {
    uint8_t b[34];
    float y[32];
    /* Q8_0: d = 0.5, qs = j - 16 -> y = (j - 16) / 2 */
    put16(b, H_HALF);
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)(j - 16);
    whet_dequantize_row(WHET_DT_Q8_0, b, 32, y);
    for (int j = 0; j < 32; j++) CHECK_NEAR(y[j], (j - 16) * 0.5, 0, 0);
    /* Q4_0: d = 2, low nibble j (elements 0..15), high nibble 15-j (16..31) */
    put16(b, H_TWO);
    for (int j = 0; j < 16; j++) b[2 + j] = (uint8_t)(j | ((15 - j) << 4));
    whet_dequantize_row(WHET_DT_Q4_0, b, 32, y);
    for (int j = 0; j < 16; j++) {
        CHECK_NEAR(y[j], (j - 8) * 2.0, 0, 0);
        CHECK_NEAR(y[j + 16], (7 - j) * 2.0, 0, 0);
    }
    /* Q4_1: d = 1, m = -4 */
    put16(b, H_ONE);
    put16(b + 2, H_M4);
    for (int j = 0; j < 16; j++) b[4 + j] = (uint8_t)(j | ((15 - j) << 4));
    whet_dequantize_row(WHET_DT_Q4_1, b, 32, y);
    for (int j = 0; j < 16; j++) {
        CHECK_NEAR(y[j], j - 4.0, 0, 0);
        CHECK_NEAR(y[j + 16], 11.0 - j, 0, 0);
    }
    /* Q5_0: d = 1, qh = 0xAAAA5555 (LE): bit j (j < 16) set for even j, bit
     * 16 + j set for odd j; qs[j] = j | j << 4. */
    put16(b, H_ONE);
    b[2] = 0x55; b[3] = 0x55; b[4] = 0xAA; b[5] = 0xAA;
    for (int j = 0; j < 16; j++) b[6 + j] = (uint8_t)(j | (j << 4));
    whet_dequantize_row(WHET_DT_Q5_0, b, 32, y);
    for (int j = 0; j < 16; j++) {
        CHECK_NEAR(y[j], (j | (j % 2 == 0 ? 16 : 0)) - 16.0, 0, 0);
        CHECK_NEAR(y[j + 16], (j | (j % 2 == 1 ? 16 : 0)) - 16.0, 0, 0);
    }
    /* Q5_1: d = 0.5, m = 1, same bits: y = q/2 + 1 */
    put16(b, H_HALF);
    put16(b + 2, H_ONE);
    b[4] = 0x55; b[5] = 0x55; b[6] = 0xAA; b[7] = 0xAA;
    for (int j = 0; j < 16; j++) b[8 + j] = (uint8_t)(j | (j << 4));
    whet_dequantize_row(WHET_DT_Q5_1, b, 32, y);
    for (int j = 0; j < 16; j++) {
        CHECK_NEAR(y[j], (j | (j % 2 == 0 ? 16 : 0)) * 0.5 + 1, 0, 0);
        CHECK_NEAR(y[j + 16], (j | (j % 2 == 1 ? 16 : 0)) * 0.5 + 1, 0, 0);
    }
}

/* Pack 8 six-bit scales and mins the way gguf.md's get_scale_min_k4 reads them. */
static void pack_scale_min(uint8_t s[12], const int sc[8], const int mn[8]) {
    memset(s, 0, 12);
    for (int j = 0; j < 4; j++) {
        s[j] = (uint8_t)((sc[j] & 63) | ((sc[j + 4] >> 4) << 6));
        s[j + 4] = (uint8_t)((mn[j] & 63) | ((mn[j + 4] >> 4) << 6));
        s[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4));
    }
}

/* A Q4_K / Q5_K block with d = 1/64 (fp16 0x2400), dmin = 1/128 (0x2000),
 * sub-scales sc and mins mn, and codes where sub-block k covers 0..nmax. */
static const int K_SC[8] = {63, 17, 40, 5, 33, 50, 2, 61};
static const int K_MN[8] = {12, 63, 0, 31, 20, 45, 7, 1};
/* Codes of sub-block `sub`: 0 and nmax appear (so its min/max fit is exact), the rest varied. */
static int kcode(int sub, int l, int nmax) { return l == 0 ? 0 : l == 1 ? nmax : (l * 7 + sub * 3) % (nmax + 1); }

static void build_k_affine(uint8_t *b, bool five) {
    const int nmax = five ? 31 : 15;
    memset(b, 0, five ? 176 : 144);
    put16(b, 0x2400);
    put16(b + 2, 0x2000);
    pack_scale_min(b + 4, K_SC, K_MN);
    uint8_t *qh = b + 16, *qs = b + (five ? 48 : 16);
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) {
            int lo = kcode(2 * c, l, nmax), hi = kcode(2 * c + 1, l, nmax);
            qs[32 * c + l] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
            if (five) qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
        }
}

/* Q6_K: d = 0.25, int8 sub-scales S6, 6-bit codes q[i] (code 0 first in
 * each sub-block so the symmetric fit is exact; the zero-scale sub-block
 * has zero codes, which is what a quantizer writes for an all-zero group). */
static const int S6[16] = {-128, 3, 127, -7, 64, 1, -1, 90, -50, 12, 0, 33, -90, 100, 5, -2};
static void build_q6k(uint8_t *b, int q[256]) {
    memset(b, 0, 210);
    for (int i = 0; i < 256; i++) q[i] = i % 16 == 0 || S6[i / 16] == 0 ? 0 : (i * 5 + i / 16) % 64;
    for (int n = 0; n < 2; n++)
        for (int l = 0; l < 32; l++) {
            const int *qq = q + 128 * n;
            b[64 * n + l] = (uint8_t)((qq[l] & 15) | ((qq[l + 64] & 15) << 4));
            b[64 * n + l + 32] = (uint8_t)((qq[l + 32] & 15) | ((qq[l + 96] & 15) << 4));
            b[128 + 32 * n + l] = (uint8_t)((qq[l] >> 4) | ((qq[l + 32] >> 4) << 2) | ((qq[l + 64] >> 4) << 4) |
                                            ((qq[l + 96] >> 4) << 6));
        }
    for (int i = 0; i < 16; i++) b[192 + i] = (uint8_t)(int8_t)S6[i];
    put16(b + 208, H_QUARTER);
}

static void test_layout_k(void) {
    uint8_t b[210];
    float y[256];
    for (int five = 0; five <= 1; five++) {
        const int nmax = five ? 31 : 15;
        build_k_affine(b, five);
        whet_dequantize_row(five ? WHET_DT_Q5_K : WHET_DT_Q4_K, b, 256, y);
        int bad = 0;
        for (int sub = 0; sub < 8; sub++)
            for (int l = 0; l < 32; l++) {
                /* element 32*sub + l: d*sc*q - dmin*m (gguf.md §4 Q4_K/Q5_K) */
                double want = (1.0 / 64) * K_SC[sub] * kcode(sub, l, nmax) - (1.0 / 128) * K_MN[sub];
                bad += y[32 * sub + l] != (float)want;
            }
        CHECK_MSG(bad == 0, "%s: %d elements differ from d*sc*q - dmin*m", five ? "Q5_K" : "Q4_K", bad);
    }
    int q[256];
    build_q6k(b, q);
    whet_dequantize_row(WHET_DT_Q6_K, b, 256, y);
    int bad = 0;
    for (int i = 0; i < 256; i++) bad += y[i] != (float)(0.25 * S6[i / 16] * (q[i] - 32));
    CHECK_MSG(bad == 0, "Q6_K: %d elements differ from d*scale*(q-32)", bad);
}

/* Q2_K (gguf.md §4): element e = 128n + 32j + l has its 2-bit code in
 * qs[32n + l] at bit 2j and uses scales[e/16] = scale | min << 4;
 * y = d*scale*q - dmin*min. Here d = 1/64 (0x2400), dmin = 1/128 (0x2000),
 * scale 15 and min 15 both occur, every sub-block with a nonzero scale holds
 * codes 0 and 3 (its min/max fit is then exact), and the zero-scale one
 * holds code 0 only (what the quantizer writes for a constant group). */
static const int S2[16] = {15, 3, 0, 7, 1, 12, 9, 4, 2, 14, 5, 11, 8, 6, 10, 13};
static const int M2[16] = {0, 15, 4, 9, 1, 2, 13, 0, 7, 3, 11, 5, 15, 8, 6, 10};
static int q2code(int e) {
    const int sub = e / 16, l = e % 16;
    return S2[sub] == 0 ? 0 : l == 0 ? 0 : l == 1 ? 3 : (l * 5 + sub) % 4;
}
static void build_q2k(uint8_t *b) {
    memset(b, 0, 84);
    for (int j = 0; j < 16; j++) b[j] = (uint8_t)(S2[j] | (M2[j] << 4));
    for (int e = 0; e < 256; e++) b[16 + 32 * (e / 128) + e % 32] |= (uint8_t)(q2code(e) << (2 * ((e % 128) / 32)));
    put16(b + 80, 0x2400);
    put16(b + 82, 0x2000);
}

/* Q3_K (gguf.md §4): 16 six-bit scales s (signed value s - 32; low 4 bits
 * in scales[i] (i < 8) or scales[i-8] >> 4, high 2 bits at bit 2(i/4) of
 * scales[8 + i%4]); element e's code c in [0, 7] keeps its low 2 bits in
 * qs[32n + l] at bit 2j (e = 128n + 32j + l) and its bit 2 in bit e/32 of
 * hmask[e % 32]; y = d*(s - 32)*(c - 4). d = 1/64; the largest |scale| is
 * -32 (s = 0), every sub-block with a nonzero scale holds code 0 (value
 * -4*scale, the largest |x|, so make_q3_quants starts from the exact
 * scale), and the zero-scale sub-block (s = 32) holds c = 0. */
static const int S3[16] = {0, 63, 32, 40, 1, 20, 45, 31, 33, 10, 60, 2, 50, 27, 36, 16};
static int q3code(int e) {
    const int sub = e / 16, l = e % 16;
    return S3[sub] == 32 ? 0 : l == 0 ? 0 : (l * 3 + sub) % 8;
}
static void build_q3k(uint8_t *b) {
    memset(b, 0, 110);
    for (int e = 0; e < 256; e++) {
        const int c = q3code(e);
        b[32 + 32 * (e / 128) + e % 32] |= (uint8_t)((c & 3) << (2 * ((e % 128) / 32)));
        if (c & 4) b[e % 32] |= (uint8_t)(1 << (e / 32));
    }
    uint8_t *sc = b + 96;
    for (int i = 0; i < 16; i++) {
        if (i < 8) sc[i] |= (uint8_t)(S3[i] & 15);
        else sc[i - 8] |= (uint8_t)((S3[i] & 15) << 4);
        sc[8 + i % 4] |= (uint8_t)((S3[i] >> 4) << (2 * (i / 4)));
    }
    put16(b + 108, 0x2400);
}

static void test_layout_k_low(void) {
    uint8_t b[110];
    float y[256];
    build_q2k(b);
    whet_dequantize_row(WHET_DT_Q2_K, b, 256, y);
    int bad = 0;
    for (int e = 0; e < 256; e++) bad += y[e] != (float)((1.0 / 64) * S2[e / 16] * q2code(e) - (1.0 / 128) * M2[e / 16]);
    CHECK_MSG(bad == 0, "Q2_K: %d elements differ from d*scale*q - dmin*min", bad);
    build_q3k(b);
    whet_dequantize_row(WHET_DT_Q3_K, b, 256, y);
    bad = 0;
    for (int e = 0; e < 256; e++) bad += y[e] != (float)((1.0 / 64) * (S3[e / 16] - 32) * (q3code(e) - 4));
    CHECK_MSG(bad == 0, "Q3_K: %d elements differ from d*(s-32)*(c-4)", bad);
    /* one byte read by hand: element 200 = 128 + 32*2 + 8 -> qs[32 + 8] bits 4-5, hmask[8] bit 6 */
    const int c200 = q3code(200);
    CHECK_EQ_INT((b[32 + 40] >> 4) & 3, c200 & 3);
    CHECK_EQ_INT((b[8] >> 6) & 1, c200 >> 2);
}

/* Pack 32 codes (0..31) into a 32-element block of `t` with fp16 d (and m). */
static void pack32(whet_dtype t, uint16_t d, uint16_t m, const int code[32], uint8_t *b) {
    memset(b, 0, 34);
    put16(b, d);
    if (t == WHET_DT_Q8_0) {
        for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)code[j];
        return;
    }
    const bool affine = t == WHET_DT_Q4_1 || t == WHET_DT_Q5_1, five = t == WHET_DT_Q5_0 || t == WHET_DT_Q5_1;
    if (affine) put16(b + 2, m);
    uint8_t *qh = b + (affine ? 4 : 2), *qs = qh + (five ? 4 : 0);
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((code[j] & 15) | ((code[j + 16] & 15) << 4));
    if (five)
        for (int j = 0; j < 32; j++) qh[j / 8] |= (uint8_t)(((code[j] >> 4) & 1) << (j % 8));
}

static void check_golden32(const char *what, whet_dtype t, const float x[32], uint16_t d, uint16_t m,
                           const int code[32]) {
    uint8_t want[34], got[34];
    whet_error err = {0};
    pack32(t, d, m, code, want);
    memset(got, 0, sizeof got);
    CHECK_OK(whet_quantize_row(t, x, 32, got, NULL, &err), &err);
    size_t nb = whet_dtype_block_bytes(t);
    int first = -1;
    for (size_t i = 0; i < nb && first < 0; i++)
        if (got[i] != want[i]) first = (int)i;
    CHECK_MSG(first < 0, "%s: byte %d is 0x%02x, expected 0x%02x", what, first, first < 0 ? 0 : got[first],
              first < 0 ? 0 : want[first]);
}

static void test_golden_block32(void) {
    float x[32];
    int c[32];
    /* Q8_0 (d = amax/127, q = roundf(x/d)): amax 127 -> d = 1 exactly;
     * 2.5 -> 3 and -2.5 -> -3 (half away from zero), 0.49 -> 0, -0.5 -> -1,
     * 126.6 -> 127; the rest are the integers j - 40. */
    const float x8[7] = {127, 2.5f, -2.5f, 0.49f, -0.5f, -127, 126.6f};
    const int c8[7] = {127, 3, -3, 0, -1, -127, 127};
    for (int j = 0; j < 32; j++) { x[j] = j < 7 ? x8[j] : (float)(j - 40); c[j] = j < 7 ? c8[j] : j - 40; }
    check_golden32("Q8_0", WHET_DT_Q8_0, x, H_ONE, 0, c);

    /* Q4_0 (d = max/-8 with max the signed value of largest |x|, code =
     * MIN(15, trunc(x/d + 8.5))): x[0] = -8 -> d = 1; 7.9 -> 16 -> 15,
     * 0.5 -> 9, -0.5 -> 8, 1.49 -> 9, -7.6 -> 0, 3 -> 11; the rest
     * (j%16) - 8 -> j%16. */
    const float x4[7] = {-8, 7.9f, 0.5f, -0.5f, 1.49f, -7.6f, 3};
    const int c4[7] = {0, 15, 9, 8, 9, 0, 11};
    for (int j = 0; j < 32; j++) { x[j] = j < 7 ? x4[j] : (float)(j % 16 - 8); c[j] = j < 7 ? c4[j] : j % 16; }
    check_golden32("Q4_0 negative max", WHET_DT_Q4_0, x, H_ONE, 0, c);
    /* max = +8 -> d = -1 (fp16 0xBC00): code = trunc(8.5 - x): 8 -> 0, -7.9 -> 16 -> 15, 0.3 -> 8, 0 -> 8. */
    for (int j = 0; j < 32; j++) { x[j] = 0; c[j] = 8; }
    x[0] = 8; c[0] = 0; x[1] = -7.9f; c[1] = 15; x[2] = 0.3f; c[2] = 8;
    check_golden32("Q4_0 positive max", WHET_DT_Q4_0, x, 0xBC00, 0, c);

    /* Q5_0 (d = max/-16, code = MIN(31, trunc(x/d + 16.5))): x[0] = -16 -> d = 1;
     * 15.7 -> 32 -> 31, 0.5 -> 17, -0.5 -> 16; the rest j - 16 -> j. */
    for (int j = 0; j < 32; j++) { x[j] = (float)(j - 16); c[j] = j; }
    x[0] = -16; c[0] = 0; x[1] = 15.7f; c[1] = 31; x[2] = 0.5f; c[2] = 17; x[3] = -0.5f; c[3] = 16;
    check_golden32("Q5_0", WHET_DT_Q5_0, x, H_ONE, 0, c);

    /* Q4_1 (d = (max-min)/15, m = min, code = MIN(15, trunc((x-m)/d + 0.5))):
     * min 0, max 15 -> d = 1, m = 0; 2.5 -> 3, 2.49 -> 2, 14.9 -> 15; the rest j%16. */
    for (int j = 0; j < 32; j++) { x[j] = (float)(j % 16); c[j] = j % 16; }
    x[2] = 2.5f; c[2] = 3; x[3] = 2.49f; c[3] = 2; x[4] = 14.9f; c[4] = 15;
    check_golden32("Q4_1", WHET_DT_Q4_1, x, H_ONE, 0x0000, c);

    /* Q5_1 (d = (max-min)/31, m = min, code = trunc((x-m)/d + 0.5)):
     * min -1, max 30 -> d = 1, m = -1 (0xBC00); 0 -> 1, 1.5 -> 3, 1.49 -> 2; the rest j - 1 -> j. */
    for (int j = 0; j < 32; j++) { x[j] = (float)(j - 1); c[j] = j; }
    x[2] = 0; c[2] = 1; x[3] = 1.5f; c[3] = 3; x[4] = 1.49f; c[4] = 2;
    check_golden32("Q5_1", WHET_DT_Q5_1, x, H_ONE, 0xBC00, c);
}

/* quantize(dequantize(B)) == B for the exactly representable hand-built k-quant blocks. */
static void test_golden_k(void) {
    whet_error err = {0};
    uint8_t b[272], back[272];   /* the largest: Q8_0, 8 blocks x 34 bytes for 256 values */
    float y[256];
    int q[256];
    const whet_dtype types[5] = {WHET_DT_Q4_K, WHET_DT_Q5_K, WHET_DT_Q6_K, WHET_DT_Q2_K, WHET_DT_Q3_K};
    for (int k = 0; k < 5; k++) {
        whet_dtype t = types[k];
        if (t == WHET_DT_Q6_K) build_q6k(b, q);
        else if (t == WHET_DT_Q2_K) build_q2k(b);
        else if (t == WHET_DT_Q3_K) build_q3k(b);
        else build_k_affine(b, t == WHET_DT_Q5_K);
        whet_dequantize_row(t, b, 256, y);
        memset(back, 0xEE, sizeof back);
        CHECK_OK(whet_quantize_row(t, y, 256, back, NULL, &err), &err);
        size_t nb = whet_dtype_block_bytes(t);
        int first = -1;
        for (size_t i = 0; i < nb && first < 0; i++)
            if (back[i] != b[i]) first = (int)i;
        CHECK_MSG(first < 0, "%s: requantized byte %d is 0x%02x, hand-built 0x%02x", whet_dtype_name(t), first,
                  first < 0 ? 0 : back[first], first < 0 ? 0 : b[first]);
    }
    /* All zeros: every type writes d = 0 and zero codes (Q4_0/Q5_0 write code 8/16 = zero). */
    const whet_dtype all[10] = {WHET_DT_Q8_0, WHET_DT_Q4_0, WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1,
                                WHET_DT_Q4_K, WHET_DT_Q5_K, WHET_DT_Q6_K, WHET_DT_Q2_K, WHET_DT_Q3_K};
    memset(y, 0, sizeof y);
    for (int k = 0; k < 10; k++) {
        memset(back, 0xEE, sizeof back);
        CHECK_OK(whet_quantize_row(all[k], y, 256, back, NULL, &err), &err);
        float z[256];
        whet_dequantize_row(all[k], back, 256, z);
        int nonzero = 0;
        for (int i = 0; i < 256; i++) nonzero += z[i] != 0;
        CHECK_MSG(nonzero == 0, "%s of zeros: %d nonzero", whet_dtype_name(all[k]), nonzero);
        /* Q4_0/Q5_0 store d = 0 / -8 = -0.0 (fp16 0x8000), as llama.cpp's float math does. */
        const bool neg_zero_ok = all[k] == WHET_DT_Q4_0 || all[k] == WHET_DT_Q5_0;
        const int hi = neg_zero_ok ? back[1] & 0x7F : back[1];
        if (all[k] != WHET_DT_Q6_K) CHECK_MSG(back[0] == 0 && hi == 0, "%s of zeros: d != 0", whet_dtype_name(all[k]));
        /* Q2_K / Q3_K: scales, codes, d (and dmin) all zero, as ggml writes them */
        if (all[k] == WHET_DT_Q2_K || all[k] == WHET_DT_Q3_K) {
            int nz = 0;
            for (size_t i = 0; i < whet_dtype_block_bytes(all[k]); i++) nz += back[i] != 0;
            CHECK_MSG(nz == 0, "%s of zeros: %d nonzero bytes", whet_dtype_name(all[k]), nz);
        }
    }
}

/* Rows: uniform [-1, 1), gaussian, and gaussian with 1% outliers x20 (what
 * real weight matrices look like). */
static void fill_row(whet_rng *r, int kind, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (kind == 0) x[i] = (float)(2 * whet_rng_uniform(r) - 1);
        else x[i] = (float)whet_rng_normal(r) * 0.02f;
        if (kind == 2 && whet_rng_below(r, 100) == 0) x[i] *= 20;
    }
}

/* Largest error allowed in one block (see tolerances.h for the derivations). */
static double block_bound(whet_dtype t, const float *x, int n) {
    float lo = x[0], hi = x[0], amax = 0;
    for (int i = 0; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        amax = fmaxf(amax, fabsf(x[i]));
    }
    const double range = (double)hi - (fmin(lo, 0.0)), fp16 = amax * TOL_QUANT_FP16_REL;
    switch (t) {
    case WHET_DT_Q8_0: return amax / 127.0 * 0.5 + fp16;
    case WHET_DT_Q4_0: return amax / 8.0 + fp16;
    case WHET_DT_Q5_0: return amax / 16.0 + fp16;
    case WHET_DT_Q4_1: return (hi - lo) / 15.0 * 0.5 + fp16 * 2;
    case WHET_DT_Q5_1: return (hi - lo) / 31.0 * 0.5 + fp16 * 2;
    case WHET_DT_Q4_K: return range / 15.0 * TOL_QUANT_STEPS_Q4_K + fp16;
    case WHET_DT_Q5_K: return range / 31.0 * TOL_QUANT_STEPS_Q5_K + fp16;
    case WHET_DT_Q6_K: return amax / 32.0 * TOL_QUANT_STEPS_Q6_K + fp16;
    case WHET_DT_Q2_K: return range / 3.0 * TOL_QUANT_STEPS_Q2_K + fp16 * 2;
    case WHET_DT_Q3_K: return amax / 4.0 * TOL_QUANT_STEPS_Q3_K + fp16;
    default: return 0;
    }
}

static void test_error_bounds(void) {
    const whet_dtype types[10] = {WHET_DT_Q8_0, WHET_DT_Q4_0, WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1,
                                  WHET_DT_Q4_K, WHET_DT_Q5_K, WHET_DT_Q6_K, WHET_DT_Q2_K, WHET_DT_Q3_K};
    const double max_rel_rmse[10] = {TOL_QUANT_RMSE_Q8_0, TOL_QUANT_RMSE_Q4_0, TOL_QUANT_RMSE_Q4_1,
                                     TOL_QUANT_RMSE_Q5_0, TOL_QUANT_RMSE_Q5_1, TOL_QUANT_RMSE_Q4_K,
                                     TOL_QUANT_RMSE_Q5_K, TOL_QUANT_RMSE_Q6_K, TOL_QUANT_RMSE_Q2_K,
                                     TOL_QUANT_RMSE_Q3_K};
    const int64_t n = 4096;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t *q = malloc(whet_dtype_nbytes(WHET_DT_F32, (size_t)n));
    whet_rng r;
    whet_rng_seed(&r, 7);
    whet_error err = {0};
    for (int k = 0; k < 10; k++) {
        const whet_dtype t = types[k];
        /* the sub-block the bound is stated over: 32 (16 for Q6_K's, Q2_K's and Q3_K's scales) */
        const int sub = t == WHET_DT_Q6_K || t == WHET_DT_Q2_K || t == WHET_DT_Q3_K ? 16 : 32;
        double worst_ratio = 0, worst_rmse = 0;
        for (int kind = 0; kind < 3; kind++) {
            fill_row(&r, kind, x, n);
            CHECK_OK(whet_quantize_row(t, x, n, q, NULL, &err), &err);
            whet_dequantize_row(t, q, n, y);
            double se = 0, sx = 0;
            for (int64_t b = 0; b < n; b += sub) {
                const double bound = block_bound(t, x + b, sub);
                for (int i = 0; i < sub; i++) {
                    const double e = fabs((double)x[b + i] - y[b + i]);
                    if (bound > 0 && e / bound > worst_ratio) worst_ratio = e / bound;
                    se += e * e;
                    sx += (double)x[b + i] * x[b + i];
                }
            }
            const double rel = sqrt(se / sx);
            if (kind == 1 && rel > worst_rmse) worst_rmse = rel;
        }
        printf("%s: worst |err|/bound %.3f, gaussian rel rmse %.4f\n", whet_dtype_name(t), worst_ratio, worst_rmse);
        CHECK_MSG(worst_ratio <= 1.0, "%s: a block's error is %.3f x its bound", whet_dtype_name(t), worst_ratio);
        CHECK_MSG(worst_rmse <= max_rel_rmse[k], "%s: relative rmse %.4f > %.4f", whet_dtype_name(t), worst_rmse,
                  max_rel_rmse[k]);
    }
    free(x), free(y), free(q);
}

/* whet_quant_dot must equal dequantize + a plain dot (same order), for a
 * row that is not a multiple of the 256-element dot chunk, and be close to
 * the f32 dot (the quantization error only). */
static void test_dot(void) {
    const whet_dtype types[13] = {WHET_DT_F32,  WHET_DT_F16,  WHET_DT_BF16, WHET_DT_Q8_0, WHET_DT_Q4_0,
                                  WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1, WHET_DT_Q4_K, WHET_DT_Q5_K,
                                  WHET_DT_Q6_K, WHET_DT_Q2_K, WHET_DT_Q3_K};
    const int64_t n = 768 + 256; /* 4 k-blocks; 32 small blocks */
    float *w = malloc(n * sizeof *w), *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    uint8_t *q = malloc((size_t)n * 4);
    whet_rng r;
    whet_rng_seed(&r, 11);
    whet_error err = {0};
    fill_row(&r, 1, w, n);
    fill_row(&r, 0, x, n);
    double exact = 0, w2 = 0, x2 = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)w[i] * x[i];
        w2 += (double)w[i] * w[i];
        x2 += (double)x[i] * x[i];
    }
    /* per-element relative error of each type: fp32/fp16/bf16 rounding, then the measured rmse limits */
    const double rel[13] = {1e-7, 1.0 / 2048, 1.0 / 256, TOL_QUANT_RMSE_Q8_0, TOL_QUANT_RMSE_Q4_0,
                            TOL_QUANT_RMSE_Q4_1, TOL_QUANT_RMSE_Q5_0, TOL_QUANT_RMSE_Q5_1, TOL_QUANT_RMSE_Q4_K,
                            TOL_QUANT_RMSE_Q5_K, TOL_QUANT_RMSE_Q6_K, TOL_QUANT_RMSE_Q2_K, TOL_QUANT_RMSE_Q3_K};
    for (int k = 0; k < 13; k++) {
        CHECK_OK(whet_quantize_row(types[k], w, n, q, NULL, &err), &err);
        whet_dequantize_row(types[k], q, n, y);
        float ref = 0;
        for (int64_t i = 0; i < n; i++) ref += y[i] * x[i];
        const float got = whet_quant_dot(types[k], q, x, n);
        CHECK_MSG(got == ref, "%s: dot %.9g != dequantize+dot %.9g", whet_dtype_name(types[k]), got, ref);
        /* sum of n independent errors ~ rel * rms(w) * rms(x) each: TOL_QUANT_DOT_SIGMAS standard deviations */
        const double bound = TOL_QUANT_DOT_SIGMAS * rel[k] * sqrt(w2 * x2 / (double)n) + 1e-6;
        CHECK_MSG(fabs(got - exact) <= bound, "%s: dot %.6g vs f32 %.6g (bound %.3g)", whet_dtype_name(types[k]),
                  got, exact, bound);
    }
    free(w), free(x), free(y), free(q);
}

/* llama.cpp's tests/test-quantize-fns.cpp "total quantization error":
 * x[i] = 0.1 + 2*cosf(i), 4096 values, quantize + dequantize, and
 * sqrt(Σ (x - y)²) / n under upstream's per-type limit. */
static void test_upstream_total_error(void) {
    const whet_dtype types[10] = {WHET_DT_Q8_0, WHET_DT_Q4_0, WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1,
                                  WHET_DT_Q4_K, WHET_DT_Q5_K, WHET_DT_Q6_K, WHET_DT_Q2_K, WHET_DT_Q3_K};
    enum { N = 32 * 128 };
    static float x[N], y[N];
    static uint8_t q[N * 2];
    whet_error err = {0};
    for (int i = 0; i < N; i++) x[i] = (float)(0.1 + 2 * cosf((float)i));
    for (int k = 0; k < 10; k++) {
        CHECK_OK(whet_quantize_row(types[k], x, N, q, NULL, &err), &err);
        whet_dequantize_row(types[k], q, N, y);
        double sum = 0;
        for (int i = 0; i < N; i++) sum += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
        const double total = sqrt(sum) / N;
        const double limit = types[k] == WHET_DT_Q2_K   ? TOL_UPSTREAM_TOTAL_ERROR_2BITS
                             : types[k] == WHET_DT_Q3_K ? TOL_UPSTREAM_TOTAL_ERROR_3BITS
                                                        : TOL_UPSTREAM_TOTAL_ERROR;
        printf("%s: test-quantize-fns total error %.5f (limit %.4f)\n", whet_dtype_name(types[k]), total, limit);
        CHECK_MSG(total < limit, "%s: total error %.5f >= llama.cpp's %.4f", whet_dtype_name(types[k]), total, limit);
    }
}

static void test_plain_types(void) {
    whet_error err = {0};
    const float x[4] = {1.0f, -2.5f, 65504.0f, 1.00048828125f /* 1 + 2^-11: a tie, rounds to even = 1.0 in fp16 */};
    uint8_t b[16];
    float y[4];
    CHECK_OK(whet_quantize_row(WHET_DT_F16, x, 4, b, NULL, &err), &err);
    whet_dequantize_row(WHET_DT_F16, b, 4, y);
    CHECK(y[0] == 1.0f && y[1] == -2.5f && y[2] == 65504.0f && y[3] == 1.0f);
    CHECK(b[0] == 0x00 && b[1] == 0x3C);
    /* bf16: 1 + 2^-8 is a tie between 1 and 1 + 2^-7 -> even (1.0); 1 + 3*2^-9 rounds up */
    const float xb[2] = {1.00390625f, 1.005859375f};
    CHECK_OK(whet_quantize_row(WHET_DT_BF16, xb, 2, b, NULL, &err), &err);
    whet_dequantize_row(WHET_DT_BF16, b, 2, y);
    CHECK(y[0] == 1.0f && y[1] == 1.0078125f);
}

static void test_errors(void) {
    whet_error err = {0};
    float x[64] = {0}, imat[64] = {0};
    uint8_t b[256];
    CHECK(whet_quantize_row(WHET_DT_Q4_K, x, 64, b, NULL, &err) == WHET_ERR_SHAPE);
    CHECK_MSG(strstr(err.msg, "multiple of the block size 256") != NULL, "%s", err.msg);
    CHECK(whet_quantize_row(WHET_DT_Q2_K, x, 64, b, NULL, &err) == WHET_ERR_SHAPE);
    CHECK(whet_quantize_row(WHET_DT_Q3_K, x, 64, b, NULL, &err) == WHET_ERR_SHAPE);
    CHECK(whet_quantize_row(WHET_DT_Q8_0, x, 33, b, NULL, &err) == WHET_ERR_SHAPE);
    CHECK(whet_quantize_row(WHET_DT_Q8_0, x, 64, b, imat, &err) == WHET_ERR_UNSUPPORTED);
    CHECK(whet_quantize_row(WHET_DT_NF4, x, 64, b, NULL, &err) == WHET_ERR_UNSUPPORTED);
    CHECK(whet_quantize_row(WHET_DT_I32, x, 64, b, NULL, &err) == WHET_ERR_UNSUPPORTED);
}

int main(void) {
    test_layout_block32();
    test_layout_k();
    test_layout_k_low();
    test_golden_block32();
    test_golden_k();
    test_error_bounds();
    test_dot();
    test_upstream_total_error();
    test_plain_types();
    test_errors();
    return TEST_SUMMARY();
}
