/* test_infer_ops.c: the inference ops against straightforward double-
 * precision references written out here: matmul for f32 and f16/bf16
 * weights (widened per tile, including a row count that is not a multiple of
 * the tile, both the few-token row-dot and the many-token tile path), embedding (bad ids refused), rmsnorm, rope (rotate_half pairing,
 * position 0 is the identity, norms preserved), softmax/logsumexp (stable for
 * large inputs, -inf entries), swiglu, and paged attention against a dense
 * causal GQA attention with padding mask and sliding window, through a
 * scrambled block table, single-threaded and on a pool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/half.h"
#include "ops/add.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/softmax.h"
#include "ops/swiglu.h"
#include "test.h"
#include "tolerances.h"


static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static float frand(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 11) * (1.0 / 9007199254740992.0)) * 2.0f - 1.0f;
}
static float *rand_vec(size_t n) {
    float *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++) v[i] = frand();
    return v;
}

/* T = 5: the row-dot path of half weights; T = 12: the widened-tile + sgemm path. */
static void test_matmul(whet_threadpool *pool, int64_t T) {
    whet_error err = {0};
    int64_t rows = 300, cols = 600; /* 300 rows: one full 256-row tile and a partial one; 600 cols: 2 chunks */
    float *x = rand_vec((size_t)(T * cols)), *w = rand_vec((size_t)(rows * cols)), *b = rand_vec((size_t)rows);
    uint16_t *wh = malloc((size_t)(rows * cols) * 2), *wb = malloc((size_t)(rows * cols) * 2);
    whet_f32_to_fp16_row(w, wh, (size_t)(rows * cols));
    whet_f32_to_bf16_row(w, wb, (size_t)(rows * cols));
    float *wh32 = malloc((size_t)(rows * cols) * 4), *wb32 = malloc((size_t)(rows * cols) * 4);
    whet_fp16_to_f32_row(wh, wh32, (size_t)(rows * cols));
    whet_bf16_to_f32_row(wb, wb32, (size_t)(rows * cols));
    const void *datas[3] = {w, wh, wb};
    const float *widened[3] = {w, wh32, wb32};
    whet_dtype dts[3] = {WHET_DT_F32, WHET_DT_F16, WHET_DT_BF16};
    float *y = malloc((size_t)(T * rows) * 4);
    for (int k = 0; k < 3; k++) {
        whet_weight W = {.dtype = dts[k], .rows = rows, .cols = cols, .data = datas[k]};
        CHECK_OK(whet_matmul(y, x, &W, b, T, pool, &err), &err);
        double worst = 0;
        for (int64_t t = 0; t < T; t++)
            for (int64_t r = 0; r < rows; r++) {
                double s = b[r];
                for (int64_t c = 0; c < cols; c++) s += (double)x[t * cols + c] * widened[k][r * cols + c];
                double d = fabs(s - y[t * rows + r]);
                worst = d > worst ? d : worst;
            }
        CHECK_MSG(worst < TOL_OPS_F32, "matmul %s max err %g", whet_dtype_name(dts[k]), worst);
    }
    whet_weight bad = {.dtype = WHET_DT_I32, .rows = rows, .cols = cols, .data = w};
    CHECK_EQ_INT(whet_matmul(y, x, &bad, NULL, T, pool, &err), WHET_ERR_UNSUPPORTED);

    /* embedding: rows widened from each dtype; out-of-range ids refused */
    int32_t ids[3] = {0, 299, 17};
    float *e = malloc(3 * (size_t)cols * 4);
    for (int k = 0; k < 3; k++) {
        whet_weight W = {.dtype = dts[k], .rows = rows, .cols = cols, .data = datas[k]};
        CHECK_OK(whet_embedding(e, &W, ids, 3, &err), &err);
        for (int i = 0; i < 3; i++)
            CHECK(memcmp(e + i * cols, widened[k] + ids[i] * cols, (size_t)cols * 4) == 0);
    }
    whet_weight W = {.dtype = WHET_DT_F32, .rows = rows, .cols = cols, .data = w};
    ids[1] = 300;
    CHECK_EQ_INT(whet_embedding(e, &W, ids, 3, &err), WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "300") != NULL);
    ids[1] = -1;
    CHECK_EQ_INT(whet_embedding(e, &W, ids, 3, &err), WHET_ERR_INVALID_ARG);
    free(x); free(w); free(b); free(wh); free(wb); free(wh32); free(wb32); free(y); free(e);
}

static void test_pointwise(void) {
    float x[2 * 8], w[8], y[2 * 8];
    for (int i = 0; i < 16; i++) x[i] = frand() * 3;
    for (int i = 0; i < 8; i++) w[i] = 1 + frand() * 0.2f;
    whet_rmsnorm(y, x, w, 2, 8, 1e-6f);
    for (int r = 0; r < 2; r++) {
        double ss = 0;
        for (int i = 0; i < 8; i++) ss += (double)x[r * 8 + i] * x[r * 8 + i];
        double rs = 1 / sqrt(ss / 8 + 1e-6);
        for (int i = 0; i < 8; i++) CHECK_NEAR(y[r * 8 + i], w[i] * x[r * 8 + i] * rs, 1e-6, 1e-6);
    }
    float g[5] = {-20, -1, 0, 1, 20}, u[5] = {1, 2, 3, 4, 5}, h[5];
    whet_swiglu(h, g, u, 5);
    for (int i = 0; i < 5; i++) CHECK_NEAR(h[i], g[i] / (1 + exp(-g[i])) * u[i], 1e-6, 1e-6);
    whet_silu(h, g, 5);
    CHECK_NEAR(h[3], 1 / (1 + exp(-1.0)), 1e-7, 0);

    float s[6] = {1000, 1001, 1002, -INFINITY, -INFINITY, -INFINITY};
    CHECK_NEAR(whet_logsumexp(s, 3), 1002 + log(1 + exp(-1.0) + exp(-2.0)), 1e-3, 0);
    whet_softmax_rows(s, 2, 3);
    double z = 1 + exp(-1.0) + exp(-2.0);
    CHECK_NEAR(s[2], 1 / z, 1e-6, 0);
    CHECK_NEAR(s[0], exp(-2.0) / z, 1e-6, 0);
    CHECK(s[3] == 0 && s[4] == 0 && s[5] == 0); /* nothing to attend to */
    CHECK(whet_logsumexp(s + 3, 0) == -INFINITY);

    float a[3] = {1, 2, 3}, bb[3] = {10, 20, 30};
    whet_add_inplace(a, bb, 3);
    CHECK(a[0] == 11 && a[2] == 33);
    whet_add_bias(a, bb, 1, 3);
    CHECK(a[1] == 42);
}

static void test_rope(void) {
    int hd = 8, nh = 2;
    float inv[4] = {1.0f, 0.1f, 0.01f, 0.001f};
    float x[2 * 2 * 8], orig[2 * 2 * 8];
    for (int i = 0; i < 32; i++) orig[i] = x[i] = frand();
    int32_t pos[2] = {0, 5};
    whet_rope(x, pos, inv, 2, nh, hd);
    for (int i = 0; i < 16; i++) CHECK(x[i] == orig[i]); /* position 0 is the identity */
    for (int h = 0; h < nh; h++) {
        const float *o = orig + (nh + h) * hd, *r = x + (nh + h) * hd;
        for (int i = 0; i < 4; i++) {
            /* rotate_half: pair (i, i + hd/2) rotated by 5 * inv[i] */
            double c = cos(5.0 * inv[i]), s = sin(5.0 * inv[i]);
            CHECK_NEAR(r[i], o[i] * c - o[i + 4] * s, 1e-6, 0);
            CHECK_NEAR(r[i + 4], o[i + 4] * c + o[i] * s, 1e-6, 0);
        }
    }
}

/* Dense reference: q [T, nh, hd] of ONE sequence at positions 0..T-1, k/v [T, nkv, hd]. */
static void dense_attention(double *out, const float *q, const float *k, const float *v, const uint8_t *mask, int T,
                            int nh, int nkv, int hd, int window) {
    double *sc = malloc((size_t)T * sizeof *sc);
    for (int t = 0; t < T; t++)
        for (int h = 0; h < nh; h++) {
            int kh = h / (nh / nkv);
            double mx = -INFINITY, sum = 0;
            for (int p = 0; p <= t; p++) {
                sc[p] = -INFINITY;
                if ((mask && !mask[p]) || (window && t - p >= window)) continue;
                double s = 0;
                for (int i = 0; i < hd; i++) s += (double)q[(t * nh + h) * hd + i] * k[(p * nkv + kh) * hd + i];
                sc[p] = s / sqrt((double)hd);
                mx = sc[p] > mx ? sc[p] : mx;
            }
            for (int i = 0; i < hd; i++) out[(t * nh + h) * hd + i] = 0;
            if (mx == -INFINITY) continue;
            for (int p = 0; p <= t; p++) sum += sc[p] == -INFINITY ? 0 : exp(sc[p] - mx);
            for (int p = 0; p <= t; p++) {
                if (sc[p] == -INFINITY) continue;
                double wgt = exp(sc[p] - mx) / sum;
                for (int i = 0; i < hd; i++) out[(t * nh + h) * hd + i] += wgt * v[(p * nkv + kh) * hd + i];
            }
        }
    free(sc);
}

static void test_attention(whet_threadpool *pool) {
    whet_error err = {0};
    int T = 23, nh = 4, nkv = 2, hd = 16, bs = 4, nb = 8; /* 6 blocks used, scrambled */
    int32_t table[6] = {7, 2, 5, 0, 3, 6};
    float *q = rand_vec((size_t)T * nh * hd), *k = rand_vec((size_t)T * nkv * hd), *v = rand_vec((size_t)T * nkv * hd);
    size_t row = (size_t)nkv * hd;
    float *kc = calloc((size_t)nb * bs * row, 4), *vc = calloc((size_t)nb * bs * row, 4);
    for (int p = 0; p < T; p++) {
        size_t slot = ((size_t)table[p / bs] * bs + (size_t)(p % bs)) * row;
        memcpy(kc + slot, k + p * row, row * 4);
        memcpy(vc + slot, v + p * row, row * 4);
    }
    int32_t pos[23], seq[23] = {0};
    for (int t = 0; t < T; t++) pos[t] = t;
    uint8_t mask[23];
    for (int p = 0; p < T; p++) mask[p] = p != 3 && p != 10;
    const int32_t *tables[1] = {table};
    const uint8_t *masks[1] = {mask};
    float *out = malloc((size_t)T * nh * hd * 4);
    double *ref = malloc((size_t)T * nh * hd * sizeof *ref);
    for (int variant = 0; variant < 3; variant++) {
        int window = variant == 2 ? 5 : 0;
        whet_paged_attention a = {.n_tokens = T, .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd, .pos = pos,
                                  .seq_of = seq, .block_tables = tables, .block_size = bs, .n_blocks = nb,
                                  .k_cache = kc, .v_cache = vc, .key_mask = variant == 1 ? masks : NULL,
                                  .sliding_window = window, .scale = 1.0f / sqrtf((float)hd)};
        CHECK_OK(whet_attention_paged(out, q, &a, variant ? pool : NULL, &err), &err);
        dense_attention(ref, q, k, v, variant == 1 ? mask : NULL, T, nh, nkv, hd, window);
        double worst = 0;
        for (size_t i = 0; i < (size_t)T * nh * hd; i++) worst = fmax(worst, fabs(ref[i] - out[i]));
        CHECK_MSG(worst < TOL_OPS_F32, "attention variant %d max err %g", variant, worst);
    }
    /* decode: only the last token as query reads all earlier positions from the pool */
    whet_paged_attention a = {.n_tokens = 1, .n_heads = nh, .n_kv_heads = nkv, .head_dim = hd, .pos = &pos[T - 1],
                              .seq_of = seq, .block_tables = tables, .block_size = bs, .n_blocks = nb, .k_cache = kc,
                              .v_cache = vc, .scale = 1.0f / sqrtf((float)hd)};
    CHECK_OK(whet_attention_paged(out, q + (size_t)(T - 1) * nh * hd, &a, pool, &err), &err);
    dense_attention(ref, q, k, v, NULL, T, nh, nkv, hd, 0);
    double worst = 0;
    for (int i = 0; i < nh * hd; i++) worst = fmax(worst, fabs(ref[(size_t)(T - 1) * nh * hd + i] - out[i]));
    CHECK_MSG(worst < TOL_OPS_F32, "decode attention max err %g", worst);
    table[5] = 8; /* outside the pool */
    a.pos = &pos[T - 1];
    CHECK_EQ_INT(whet_attention_paged(out, q, &a, pool, &err), WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "outside the pool") != NULL);
    free(q); free(k); free(v); free(kc); free(vc); free(out); free(ref);
}

int main(void) {
    whet_error err = {0};
    whet_threadpool *pool = NULL;
    CHECK_OK(whet_threadpool_create(3, &pool, &err), &err);
    test_matmul(NULL, 5);
    test_matmul(pool, 5);
    test_matmul(pool, 12);
    test_pointwise();
    test_rope();
    test_attention(pool);
    whet_threadpool_destroy(pool);
    return TEST_SUMMARY();
}
