/* test_quant_dot.c: the integer dot kernels of ops/quant_dot.h and the
 * matmul paths built on them.
 * 1. Activation quantization: the blocks have the documented layout
 *    (f32 d, f32 s, i8 qs[32] / f32 d, i8 qs[256], i16 bsums[16]), every
 *    element is within half a step of x (d = amax/127), s and bsums are the
 *    sums of the codes.
 * 2. Each kernel (scalar, and AVX2 when this CPU has it) equals the exact dot
 *    of the dequantized weight row (whet_dequantize_row) with the
 *    dequantized activation (d·qs), summed in double. The kernels add one
 *    float term per block, so the allowed difference is the worst-case float
 *    summation error (nblocks + 4)·2^-24·Σ|w·x| (derived, not measured); a
 *    wrong nibble order, scale index or offset is off by O(Σ|w·x|).
 *    The AVX2 four-row kernels give each row the one-row kernel's bits.
 *    The AVX2 activation quantizer writes the scalar one's bytes.
 * 3. A hand-built Q8_0 block with code -128 (llama.cpp never writes it, a
 *    foreign file may) dots correctly through the AVX2 sign trick.
 * 4. whet_matmul on quantized weights: each token row of a T = 13 batch is
 *    bit-identical to the same token alone (batch invariance), and close to
 *    the f32 matmul of the dequantized weights within the activation
 *    quantization bound Σ_i |w_i|·d_block(i)/2.
 * 5. Float weights (f32/bf16/f16, ops/float_gemm.h): the same batch
 *    invariance on AVX2, and the double dot of the widened row. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "core/threadpool.h"
#include "ops/matmul.h"
#include "ops/quant.h"
#include "ops/quant_dot.h"
#include "test.h"

static const whet_dtype TYPES[] = {WHET_DT_Q8_0, WHET_DT_Q4_0, WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1,
                                   WHET_DT_Q2_K, WHET_DT_Q3_K, WHET_DT_Q4_K, WHET_DT_Q5_K, WHET_DT_Q6_K};
#define N_TYPES (sizeof TYPES / sizeof TYPES[0])

static bool is_k(whet_dtype t) {
    return t == WHET_DT_Q2_K || t == WHET_DT_Q3_K || t == WHET_DT_Q4_K || t == WHET_DT_Q5_K || t == WHET_DT_Q6_K;
}

/* The documented activation layouts, decoded independently of the kernels. */
static size_t act_block_elems(whet_dtype wt) { return is_k(wt) ? 256 : 32; }
static size_t act_block_bytes(whet_dtype wt) { return is_k(wt) ? 4 + 256 + 32 : 4 + 4 + 32; }
static float act_d(whet_dtype wt, const uint8_t *blk) {
    (void)wt;
    float d;
    memcpy(&d, blk, 4);
    return d;
}
static const int8_t *act_qs(whet_dtype wt, const uint8_t *blk) {
    return (const int8_t *)(blk + (is_k(wt) ? 4 : 8));
}

static void fill_row(whet_rng *r, float *x, int64_t n, int kind) {
    for (int64_t i = 0; i < n; i++) {
        double v = whet_rng_normal(r);
        if (kind == 1 && whet_rng_below(r, 50) == 0) v *= 20;   /* outliers */
        if (kind == 2) v = whet_rng_uniform(r) * 2 - 1;
        x[i] = (float)v;
    }
}

/* Dequantized activation x̂ = d·qs, and the activation bound per element. */
static void act_dequant(whet_dtype wt, const uint8_t *act, int64_t n, float *xq, float *half_step) {
    const size_t be = act_block_elems(wt), bb = act_block_bytes(wt);
    for (int64_t b = 0; b < n / (int64_t)be; b++) {
        const uint8_t *blk = act + (size_t)b * bb;
        const float d = act_d(wt, blk);
        const int8_t *qs = act_qs(wt, blk);
        for (size_t j = 0; j < be; j++) {
            xq[(size_t)b * be + j] = d * qs[j];
            half_step[(size_t)b * be + j] = d * 0.5f;
        }
    }
}

static void test_act_layout(whet_rng *r) {
    enum { N = 1024 };
    float x[N], xq[N], hs[N];
    const whet_dtype kinds[] = {WHET_DT_Q8_0, WHET_DT_Q4_K};
    for (int k = 0; k < 2; k++) {
        const whet_dtype wt = kinds[k];
        fill_row(r, x, N, 1);
        x[5] = 0;
        CHECK_EQ_INT(whet_qdot_act_bytes(wt, N), N / act_block_elems(wt) * act_block_bytes(wt));
        uint8_t *act = malloc(whet_qdot_act_bytes(wt, N));
        whet_qdot_quantize_act(wt, x, N, act);
        act_dequant(wt, act, N, xq, hs);
        int bad = 0;
        for (int i = 0; i < N; i++) bad += fabsf(x[i] - xq[i]) > hs[i] * (1 + 1e-5f) + 1e-30f;
        CHECK_MSG(bad == 0, "%s activations: %d elements off by more than half a step", whet_dtype_name(wt), bad);
        const size_t be = act_block_elems(wt), bb = act_block_bytes(wt);
        for (int b = 0; b < N / (int)be; b++) {
            const uint8_t *blk = act + b * bb;
            const int8_t *qs = act_qs(wt, blk);
            float amax = 0;
            for (size_t j = 0; j < be; j++) amax = fmaxf(amax, fabsf(x[b * be + j]));
            CHECK_NEAR(act_d(wt, blk), amax / 127.0f, 0, 1e-6);
            if (is_k(wt)) {
                int16_t bs[16];
                memcpy(bs, blk + 4 + 256, sizeof bs);
                for (int g = 0; g < 16; g++) {
                    int s = 0;
                    for (int j = 0; j < 16; j++) s += qs[16 * g + j];
                    CHECK_EQ_INT(bs[g], s);
                }
            } else {
                float s;
                int sum = 0;
                memcpy(&s, blk + 4, 4);
                for (int j = 0; j < 32; j++) sum += qs[j];
                CHECK_NEAR(s, act_d(wt, blk) * sum, 0, 1e-6);
            }
        }
        free(act);
    }
    /* an all-zero row: d = 0, codes 0, no NaN */
    memset(x, 0, sizeof x);
    uint8_t *act = malloc(whet_qdot_act_bytes(WHET_DT_Q8_0, N));
    whet_qdot_quantize_act(WHET_DT_Q8_0, x, N, act);
    CHECK(act_d(WHET_DT_Q8_0, act) == 0 && act_qs(WHET_DT_Q8_0, act)[0] == 0);
    free(act);
}

/* Exact dot of dequant(w) with x̂ in double, and Σ|w·x̂|. */
static double exact_dot(const float *wd, const float *xq, int64_t n, double *abs_sum) {
    double s = 0, a = 0;
    for (int64_t i = 0; i < n; i++) {
        s += (double)wd[i] * xq[i];
        a += fabs((double)wd[i] * xq[i]);
    }
    *abs_sum = a;
    return s;
}

static void test_kernels(whet_rng *r) {
    enum { N = 4096 };
    static float x[N], w[N], wd[N], xq[N], hs[N];
    const bool have_avx2 = whet_cpu_isa() == WHET_ISA_AVX2;
    printf("cpu isa: %s\n", whet_isa_name(whet_cpu_isa()));
    for (size_t k = 0; k < N_TYPES; k++) {
        const whet_dtype wt = TYPES[k];
        whet_error err = {0};
        uint8_t *wq = malloc(whet_dtype_nbytes(wt, N)), *act = malloc(whet_qdot_act_bytes(wt, N));
        double worst = 0;
        for (int trial = 0; trial < 6; trial++) {
            fill_row(r, w, N, trial % 3);
            fill_row(r, x, N, (trial + 1) % 3);
            CHECK_OK(whet_quantize_row(wt, w, N, wq, NULL, &err), &err);
            whet_dequantize_row(wt, wq, N, wd);
            whet_qdot_quantize_act(wt, x, N, act);
            act_dequant(wt, act, N, xq, hs);
            double abs_sum;
            const double want = exact_dot(wd, xq, N, &abs_sum);
            const double nblocks = (double)N / (double)whet_dtype_block_elems(wt);
            const double bound = (nblocks + 4) * ldexp(1.0, -24) * abs_sum;
            const whet_qdot_fn scalar = whet_qdot_kernel(wt, WHET_ISA_SCALAR);
            CHECK(scalar != NULL);
            if (!scalar) continue;
            const float got = scalar(wq, act, N);
            CHECK_MSG(fabs(got - want) <= bound, "%s scalar: %.9g vs exact %.9g (bound %.3g)", whet_dtype_name(wt),
                      got, want, bound);
            worst = fmax(worst, fabs(got - want) / abs_sum);
            if (have_avx2) {
                const float simd = whet_qdot_kernel(wt, WHET_ISA_AVX2)(wq, act, N);
                /* the four-row kernel: row 2 of four copies of other activations is this one */
                const whet_qdot4_fn four = whet_qdot4_kernel(wt, WHET_ISA_AVX2);
                if (four) {
                    const size_t ab = whet_qdot_act_bytes(wt, N);
                    uint8_t *acts = malloc(4 * ab);
                    float out[4];
                    for (int k = 0; k < 4; k++) {
                        for (int j = 0; j < N; j++) hs[j] = x[(j + 97 * k) % N] * (float)(k + 1);
                        whet_qdot_quantize_act(wt, k == 2 ? x : hs, N, acts + k * ab);
                    }
                    four(wq, acts, ab, N, out);
                    bool same = memcmp(&out[2], &simd, sizeof simd) == 0;
                    for (int k = 0; k < 4; k++)
                        same = same && out[k] == whet_qdot_kernel(wt, WHET_ISA_AVX2)(wq, acts + k * ab, N);
                    CHECK_MSG(same, "%s: the four-row kernel differs from the one-row kernel", whet_dtype_name(wt));
                    free(acts);
                }
                CHECK_MSG(fabs(simd - want) <= bound, "%s avx2: %.9g vs exact %.9g (bound %.3g)", whet_dtype_name(wt),
                          simd, want, bound);
                worst = fmax(worst, fabs(simd - want) / abs_sum);
            }
        }
        printf("%-5s worst |kernel - exact| / sum|w x| = %.2e\n", whet_dtype_name(wt), worst);
        free(wq);
        free(act);
    }
    CHECK(whet_qdot_kernel(WHET_DT_F32, WHET_ISA_SCALAR) == NULL);
    CHECK(whet_qdot_kernel(WHET_DT_BF16, WHET_ISA_AVX2) == NULL);
}

/* The AVX2 activation quantizer writes the scalar one's bytes (same codes,
 * sums and scales), for both formats, on rows with zeros, ties and outliers. */
static void test_act_same_across_isas(whet_rng *r) {
    if (whet_cpu_isa() != WHET_ISA_AVX2) return;
    enum { N = 2048 };
    static float x[N];
    const whet_dtype kinds[] = {WHET_DT_Q8_0, WHET_DT_Q4_K};
    for (int k = 0; k < 2; k++)
        for (int trial = 0; trial < 3; trial++) {
            fill_row(r, x, N, trial);
            for (int i = 0; i < N; i += 37) x[i] = 0.0f;
            for (int i = 5; i < N; i += 101) x[i] = 0.5f * (float)(i % 7);   /* exact halves after scaling, sometimes */
            const size_t ab = whet_qdot_act_bytes(kinds[k], N);
            uint8_t *a = malloc(ab), *b = malloc(ab);
            whet_cpu_isa_force(WHET_ISA_SCALAR);
            whet_qdot_quantize_act(kinds[k], x, N, a);
            whet_cpu_isa_force(WHET_ISA_AVX2);
            whet_qdot_quantize_act(kinds[k], x, N, b);
            CHECK_MSG(memcmp(a, b, ab) == 0, "%s activations: AVX2 bytes differ from scalar (trial %d)",
                      whet_dtype_name(kinds[k]), trial);
            free(a);
            free(b);
        }
}

static void test_q8_0_code_minus_128(void) {
    uint8_t blk[34];
    blk[0] = 0x00; blk[1] = 0x3C;   /* fp16 1.0 */
    float x[32];
    for (int j = 0; j < 32; j++) {
        blk[2 + j] = (uint8_t)(int8_t)(j % 2 ? -128 : 127 - j);
        x[j] = (float)(j % 5) - 2.0f;
    }
    uint8_t act[40];
    whet_qdot_quantize_act(WHET_DT_Q8_0, x, 32, act);
    float xq[32], hs[32], wd[32];
    act_dequant(WHET_DT_Q8_0, act, 32, xq, hs);
    whet_dequantize_row(WHET_DT_Q8_0, blk, 32, wd);
    double abs_sum;
    const double want = exact_dot(wd, xq, 32, &abs_sum);
    for (int isa = WHET_ISA_SCALAR; isa <= (int)whet_cpu_isa(); isa++) {
        const float got = whet_qdot_kernel(WHET_DT_Q8_0, (whet_isa)isa)(blk, act, 32);
        CHECK_MSG(fabs(got - want) <= 5 * ldexp(1.0, -24) * abs_sum, "%s: code -128: %.9g vs %.9g",
                  whet_isa_name((whet_isa)isa), got, want);
    }
}

static void test_matmul_batch_invariance(whet_rng *r) {
    enum { ROWS = 37, COLS = 512, T = 13 };
    static float w[ROWS * COLS], wd[ROWS * COLS], x[T * COLS], y_batch[T * ROWS], y_one[ROWS], y_ref[T * ROWS];
    whet_threadpool *pool = NULL;
    whet_error err = {0};
    CHECK_OK(whet_threadpool_create(2, &pool, &err), &err);
    for (size_t k = 0; k < N_TYPES; k++) {
        const whet_dtype wt = TYPES[k];
        const size_t rb = whet_dtype_nbytes(wt, COLS);
        uint8_t *wq = malloc(rb * ROWS);
        fill_row(r, w, ROWS * COLS, 0);
        fill_row(r, x, T * COLS, 1);
        for (int i = 0; i < ROWS; i++) {
            CHECK_OK(whet_quantize_row(wt, w + i * COLS, COLS, wq + i * rb, NULL, &err), &err);
            whet_dequantize_row(wt, wq + i * rb, COLS, wd + i * COLS);
        }
        whet_weight W = {wt, ROWS, COLS, wq, NULL};
        whet_weight Wf = {WHET_DT_F32, ROWS, COLS, wd, NULL};
        CHECK_OK(whet_matmul(y_batch, x, &W, NULL, T, pool, &err), &err);
        CHECK_OK(whet_matmul(y_ref, x, &Wf, NULL, T, NULL, &err), &err);
        int differ = 0, outside = 0;
        for (int t = 0; t < T; t++) {
            CHECK_OK(whet_matmul(y_one, x + t * COLS, &W, NULL, 1, pool, &err), &err);
            differ += memcmp(y_one, y_batch + t * ROWS, sizeof y_one) != 0;
            /* activation rounding: |Σ w (x - x̂)| <= Σ |w| d/2 per block */
            uint8_t *act = malloc(whet_qdot_act_bytes(wt, COLS));
            static float xq[COLS], hs[COLS];
            whet_qdot_quantize_act(wt, x + t * COLS, COLS, act);
            act_dequant(wt, act, COLS, xq, hs);
            for (int i = 0; i < ROWS; i++) {
                double bound = 0, abs_sum = 0;
                for (int c = 0; c < COLS; c++) {
                    bound += fabs(wd[i * COLS + c]) * hs[c];
                    abs_sum += fabs(wd[i * COLS + c] * x[t * COLS + c]);
                }
                bound += (COLS / 32.0 + 8) * ldexp(1.0, -24) * abs_sum * 2;
                outside += fabs(y_batch[t * ROWS + i] - y_ref[t * ROWS + i]) > bound;
            }
            free(act);
        }
        CHECK_MSG(differ == 0, "%s: %d of %d token rows differ between the batch of %d and alone",
                  whet_dtype_name(wt), differ, T, T);
        CHECK_MSG(outside == 0, "%s: %d outputs beyond the activation-quantization bound", whet_dtype_name(wt), outside);
        free(wq);
    }
    whet_threadpool_destroy(pool);
}

/* Float weights: with the AVX2 GEMM each token's row is bit-identical in a
 * batch of 13 (2 threads) and alone, and close to a double dot; without
 * AVX2 (BLAS) only the accuracy is checked. */
static void test_float_weights(whet_rng *r) {
    enum { ROWS = 19, COLS = 1000, T = 13 };   /* COLS not a multiple of 8: the tail runs */
    static uint16_t wh[ROWS * COLS];
    static float wf[ROWS * COLS], wd[ROWS * COLS], x[T * COLS], y[T * ROWS], y1[ROWS];
    const whet_dtype types[] = {WHET_DT_F32, WHET_DT_BF16, WHET_DT_F16};
    const bool invariant = whet_cpu_isa() == WHET_ISA_AVX2;
    whet_threadpool *pool = NULL;
    whet_error err = {0};
    CHECK_OK(whet_threadpool_create(2, &pool, &err), &err);
    for (int k = 0; k < 3; k++) {
        fill_row(r, wf, ROWS * COLS, 0);
        const void *data = wf;
        if (types[k] != WHET_DT_F32) {
            CHECK_OK(whet_quantize_row(types[k], wf, ROWS * COLS, wh, NULL, &err), &err);
            whet_dequantize_row(types[k], wh, ROWS * COLS, wd);
            data = wh;
        } else {
            memcpy(wd, wf, sizeof wd);
        }
        fill_row(r, x, T * COLS, 2);
        whet_weight W = {types[k], ROWS, COLS, data, NULL};
        CHECK_OK(whet_matmul(y, x, &W, NULL, T, pool, &err), &err);
        int bad = 0, differ = 0;
        for (int t = 0; t < T; t++) {
            CHECK_OK(whet_matmul(y1, x + t * COLS, &W, NULL, 1, pool, &err), &err);
            differ += memcmp(y1, y + t * ROWS, sizeof y1) != 0;
            for (int i = 0; i < ROWS; i++) {
                double abs_sum;
                const double want = exact_dot(wd + i * COLS, x + t * COLS, COLS, &abs_sum);
                bad += fabs(y[t * ROWS + i] - want) > (COLS / 8.0 + 8) * ldexp(1.0, -24) * abs_sum;
            }
        }
        CHECK_MSG(bad == 0, "%s: %d outputs off the double dot", whet_dtype_name(types[k]), bad);
        if (invariant)
            CHECK_MSG(differ == 0, "%s: %d of %d token rows differ between the batch and alone",
                      whet_dtype_name(types[k]), differ, T);
    }
    whet_threadpool_destroy(pool);
}

int main(void) {
    whet_rng r;
    whet_rng_seed(&r, 1234);
    test_act_layout(&r);
    test_kernels(&r);
    test_act_same_across_isas(&r);
    test_q8_0_code_minus_128();
    test_matmul_batch_invariance(&r);
    test_float_weights(&r);
    return TEST_SUMMARY();
}
