/* matmul.c: CPU inference linear layer, dispatching on the weight's dtype.
 *  - f32/f16/bf16 on AVX2: the batch-invariant float GEMM (ops/float_gemm.h),
 *    rows split over the pool. Without AVX2:
 *  - f32: one cblas_sgemm (OpenBLAS threads it).
 *  - f16/bf16, few tokens (decode): each row is widened chunk by chunk into
 *    a stack buffer and dotted with every token at once, rows split over the
 *    pool; the weight is read once per call, at half the bytes of f32.
 *  - f16/bf16, many tokens (prefill): rows widened per tile of WHET_MM_TILE
 *    rows (the pool splits the widening), then sgemm on the tile; this keeps
 *    a bf16 model at half the memory of an f32 copy.
 *  - quantized with an integer kernel (q8_0, q4_0, q4_1, q5_0, q5_1, q2_k,
 *    q3_k, q4_k, q5_k, q6_k; ops/quant_dot.h): every token row is quantized to 8 bits
 *    once, then each weight row is dotted with each token in integer
 *    arithmetic (AVX2 when the CPU has it), rows split over the pool in
 *    blocks that stay in L1 while the tokens stream past. One code path for
 *    any number of tokens, so a row's result never depends on how many
 *    sequences share the batch (greedy output is batch-invariant). */
#include "ops/matmul.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "core/half.h"
#include "ops/add.h"
#include "ops/float_gemm.h"
#include "ops/quant_dot.h"

#define WHET_MM_TILE 256
/* At or below this many tokens the portable f16/bf16 path dots rows directly. */
#define WHET_MM_QDOT_MAX_T 8
#define WHET_MM_CHUNK 512
/* Weight rows per block of the integer path (16 q8_0 rows of 4096 = 70 KB). */
#define WHET_MM_ROW_BLOCK 16

__attribute__((optimize("O3"))) static void widen_chunk(whet_dtype dt, const uint16_t *src, float *dst, int64_t n) {
    if (dt == WHET_DT_BF16) {
        for (int64_t i = 0; i < n; i++) {
            uint32_t u = (uint32_t)src[i] << 16;
            memcpy(&dst[i], &u, 4);
        }
    } else {
        whet_fp16_to_f32_row(src, dst, (size_t)n);
    }
}

typedef struct {
    const whet_weight *w;
    int64_t row0;
    float *tile;       /* [rows in tile, cols] */
} widen_ctx;

static void widen_rows(void *p, size_t begin, size_t end, int worker) {
    (void)worker;
    const widen_ctx *c = p;
    const whet_weight *w = c->w;
    size_t row_bytes = whet_dtype_nbytes(w->dtype, (size_t)w->cols);
    for (size_t i = begin; i < end; i++) {
        const uint8_t *src = (const uint8_t *)w->data + (size_t)(c->row0 + (int64_t)i) * row_bytes;
        widen_chunk(w->dtype, (const uint16_t *)src, c->tile + i * (size_t)w->cols, w->cols);
    }
}

/* y[:, row0:row0+n] = x · tileᵀ for each tile of rows. */
static whet_status matmul_tiled(float *y, const float *x, const whet_weight *w, int64_t T, whet_threadpool *pool,
                                whet_error *err) {
    int64_t tile_rows = w->rows < WHET_MM_TILE ? w->rows : WHET_MM_TILE;
    float *tile = malloc((size_t)tile_rows * (size_t)w->cols * sizeof(float));
    if (!tile) return whet_errorf(err, WHET_ERR_NOMEM, "matmul: out of memory for a %lld x %lld tile",
                                  (long long)tile_rows, (long long)w->cols);
    for (int64_t r0 = 0; r0 < w->rows; r0 += tile_rows) {
        int64_t n = w->rows - r0 < tile_rows ? w->rows - r0 : tile_rows;
        widen_ctx c = {w, r0, tile};
        whet_parallel_for(pool, (size_t)n, widen_rows, &c);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)n, (int)w->cols, 1.0f, x, (int)w->cols,
                    tile, (int)w->cols, 0.0f, y + r0, (int)w->rows);
    }
    free(tile);
    return WHET_OK;
}

typedef struct {
    float *y;
    const float *x;
    const whet_weight *w;
    int64_t T;
} half_ctx;

/* the hot loop of bf16 decode: O3 lets gcc vectorize the widening and the 8-lane dot */
__attribute__((optimize("O3"))) static void half_dot_rows(void *p, size_t begin, size_t end, int worker) {
    (void)worker;
    const half_ctx *c = p;
    const whet_weight *w = c->w;
    float buf[WHET_MM_CHUNK], acc[WHET_MM_QDOT_MAX_T];
    for (size_t r = begin; r < end; r++) {
        const uint16_t *row = (const uint16_t *)w->data + r * (size_t)w->cols;
        for (int64_t t = 0; t < c->T; t++) acc[t] = 0;
        for (int64_t c0 = 0; c0 < w->cols; c0 += WHET_MM_CHUNK) {
            int64_t n = w->cols - c0 < WHET_MM_CHUNK ? w->cols - c0 : WHET_MM_CHUNK;
            widen_chunk(w->dtype, row + c0, buf, n);
            for (int64_t t = 0; t < c->T; t++) {
                const float *x = c->x + t * w->cols + c0;
                float lanes[8] = {0};
                int64_t i = 0;
                for (; i + 8 <= n; i += 8)
                    for (int j = 0; j < 8; j++) lanes[j] += buf[i + j] * x[i + j];
                for (; i < n; i++) lanes[0] += buf[i] * x[i];
                acc[t] += ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
            }
        }
        for (int64_t t = 0; t < c->T; t++) c->y[t * w->rows + (int64_t)r] = acc[t];
    }
}

typedef struct {
    float *y;
    const float *x;
    const whet_weight *w;
    int64_t T;
    whet_float_gemm_fn gemm;
} fgemm_ctx;

static void fgemm_rows(void *p, size_t begin, size_t end, int worker) {
    (void)worker;
    const fgemm_ctx *c = p;
    c->gemm(c->w->dtype, c->w->data, c->w->cols, (int64_t)begin, (int64_t)end, c->x, c->T, c->y, c->w->rows);
}

typedef struct {
    float *y;
    const float *x;
    const whet_weight *w;
    int64_t T;
    uint8_t *act;          /* [T, act_row_bytes] */
    size_t act_row_bytes;
    whet_qdot_fn dot;
    whet_qdot4_fn dot4;    /* NULL: one token at a time */
} qint_ctx;

static void quantize_act_rows(void *p, size_t begin, size_t end, int worker) {
    (void)worker;
    const qint_ctx *c = p;
    for (size_t t = begin; t < end; t++)
        whet_qdot_quantize_act(c->w->dtype, c->x + t * (size_t)c->w->cols, c->w->cols, c->act + t * c->act_row_bytes);
}

static void qint_rows(void *p, size_t begin, size_t end, int worker) {
    (void)worker;
    const qint_ctx *c = p;
    const whet_weight *w = c->w;
    const size_t row_bytes = whet_dtype_nbytes(w->dtype, (size_t)w->cols);
    for (size_t r0 = begin; r0 < end; r0 += WHET_MM_ROW_BLOCK) {
        const size_t r1 = end - r0 < WHET_MM_ROW_BLOCK ? end : r0 + WHET_MM_ROW_BLOCK;
        int64_t t = 0;
        for (; c->dot4 && t + 4 <= c->T; t += 4) {   /* four tokens per weight-row decode */
            const uint8_t *a = c->act + (size_t)t * c->act_row_bytes;
            for (size_t r = r0; r < r1; r++) {
                float out[4];
                c->dot4((const uint8_t *)w->data + r * row_bytes, a, c->act_row_bytes, w->cols, out);
                for (int k = 0; k < 4; k++) c->y[(t + k) * w->rows + (int64_t)r] = out[k];
            }
        }
        for (; t < c->T; t++) {
            const uint8_t *a = c->act + (size_t)t * c->act_row_bytes;
            float *yt = c->y + t * w->rows;
            for (size_t r = r0; r < r1; r++) yt[r] = c->dot((const uint8_t *)w->data + r * row_bytes, a, w->cols);
        }
    }
}

/* The integer path: quantize the T activation rows, then dot every row. */
static whet_status matmul_qint(float *y, const float *x, const whet_weight *w, int64_t T, whet_qdot_fn dot,
                               whet_threadpool *pool, whet_error *err) {
    qint_ctx c = {y, x, w, T, NULL, whet_qdot_act_bytes(w->dtype, w->cols), dot,
                  whet_qdot4_kernel(w->dtype, whet_cpu_isa())};
    c.act = malloc((size_t)T * c.act_row_bytes);
    if (!c.act) return whet_errorf(err, WHET_ERR_NOMEM, "matmul: out of memory for %lld quantized activation rows",
                                   (long long)T);
    whet_parallel_for(T > 1 ? pool : NULL, (size_t)T, quantize_act_rows, &c);
    whet_parallel_for(pool, (size_t)w->rows, qint_rows, &c);
    free(c.act);
    return WHET_OK;
}

whet_status whet_matmul(float *y, const float *x, const whet_weight *w, const float *bias, int64_t T,
                        whet_threadpool *pool, whet_error *err) {
    if (T <= 0) return WHET_OK;
    if (w->rows > INT32_MAX || w->cols > INT32_MAX || T > INT32_MAX)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "matmul: %lld x %lld weight is too large for BLAS ints",
                           (long long)w->rows, (long long)w->cols);
    whet_status s = WHET_OK;
    const bool is_float = w->dtype == WHET_DT_F32 || w->dtype == WHET_DT_F16 || w->dtype == WHET_DT_BF16;
    const whet_float_gemm_fn gemm = is_float ? whet_float_gemm_kernel(whet_cpu_isa()) : NULL;
    whet_qdot_fn dot;
    if (gemm) {
        fgemm_ctx c = {y, x, w, T, gemm};
        whet_parallel_for(pool, (size_t)w->rows, fgemm_rows, &c);
    } else if (w->dtype == WHET_DT_F32) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)w->rows, (int)w->cols, 1.0f, x, (int)w->cols,
                    (const float *)w->data, (int)w->cols, 0.0f, y, (int)w->rows);
    } else if ((w->dtype == WHET_DT_F16 || w->dtype == WHET_DT_BF16) && T <= WHET_MM_QDOT_MAX_T) {
        half_ctx c = {y, x, w, T};
        whet_parallel_for(pool, (size_t)w->rows, half_dot_rows, &c);
    } else if (w->dtype == WHET_DT_F16 || w->dtype == WHET_DT_BF16) {
        s = matmul_tiled(y, x, w, T, pool, err);
    } else if ((dot = whet_qdot_kernel(w->dtype, whet_cpu_isa()))) {   /* every GGUF block type whet reads */
        if (w->cols % (int64_t)whet_dtype_block_elems(w->dtype))
            return whet_errorf(err, WHET_ERR_SHAPE, "matmul: %s weight with %lld columns (not a multiple of the block)",
                               whet_dtype_name(w->dtype), (long long)w->cols);
        s = matmul_qint(y, x, w, T, dot, pool, err);
    } else {
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "matmul: weight dtype %s is not supported for inference "
                           "(NF4 is a training-only layout; use f32/f16/bf16 or a GGUF quant type)",
                           whet_dtype_name(w->dtype));
    }
    if (s == WHET_OK && bias) whet_add_bias(y, bias, T, w->rows);
    return s;
}
