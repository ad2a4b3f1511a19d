/* matmul_backward.c: training linear forward/backward on the CPU through
 * OpenBLAS sgemm. f32 weights go straight to sgemm; bf16/f16 weights are
 * widened WHET_ROWS_BLOCK rows at a time into a scratch buffer, so a frozen
 * half-precision base never needs a full f32 copy. */
#include "ops/matmul_backward.h"
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include "core/half.h"

enum { WHET_ROWS_BLOCK = 256 };

whet_weight whet_weight_f32(const float *data, int64_t rows, int64_t cols) {
    whet_weight w = {.dtype = WHET_DT_F32, .rows = rows, .cols = cols, .data = data, .scales = NULL};
    return w;
}

static whet_status check_dtype(const whet_weight *w, whet_error *err) {
    if (w->dtype == WHET_DT_F32 || w->dtype == WHET_DT_BF16 || w->dtype == WHET_DT_F16) return WHET_OK;
    return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                       "training through a %s weight [%lld, %lld] is not supported; load the base model in "
                       "f32/bf16/f16",
                       whet_dtype_name(w->dtype), (long long)w->rows, (long long)w->cols);
}

/* Rows [r0, r0+n) of w as f32: either a pointer into w or `scratch`. */
static const float *rows_f32(const whet_weight *w, int64_t r0, int64_t n, float *scratch) {
    const size_t cols = (size_t)w->cols;
    if (w->dtype == WHET_DT_F32) return (const float *)w->data + (size_t)r0 * cols;
    const uint16_t *src = (const uint16_t *)w->data + (size_t)r0 * cols;
    if (w->dtype == WHET_DT_BF16) whet_bf16_to_f32_row(src, scratch, (size_t)n * cols);
    else whet_fp16_to_f32_row(src, scratch, (size_t)n * cols);
    return scratch;
}

whet_status whet_linear_train_forward(float *y, const float *x, const whet_weight *w, const float *bias, int64_t T,
                                      float scale, bool accumulate, whet_error *err) {
    WHET_TRY(check_dtype(w, err));
    const int64_t out = w->rows, in = w->cols;
    const int64_t blk = w->dtype == WHET_DT_F32 ? out : (out < WHET_ROWS_BLOCK ? out : WHET_ROWS_BLOCK);
    float *scratch = NULL;
    if (w->dtype != WHET_DT_F32) {
        scratch = malloc(sizeof(float) * (size_t)blk * (size_t)in);
        if (!scratch) return whet_errorf(err, WHET_ERR_NOMEM, "linear forward: out of memory for a weight block");
    }
    for (int64_t r0 = 0; r0 < out; r0 += blk) {
        const int64_t n = out - r0 < blk ? out - r0 : blk;
        const float *wr = rows_f32(w, r0, n, scratch);
        /* y[:, r0:r0+n] = scale * x · wrᵀ (+ y) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)n, (int)in, scale, x, (int)in, wr, (int)in,
                    accumulate ? 1.0f : 0.0f, y + r0, (int)out);
    }
    free(scratch);
    if (bias) {
        for (int64_t t = 0; t < T; t++) {
            float *yr = y + (size_t)t * (size_t)out;
            for (int64_t o = 0; o < out; o++) yr[o] += bias[o];
        }
    }
    return WHET_OK;
}

whet_status whet_linear_backward_input(float *dx, const float *dy, const whet_weight *w, int64_t T, float scale,
                                       whet_error *err) {
    WHET_TRY(check_dtype(w, err));
    const int64_t out = w->rows, in = w->cols;
    const int64_t blk = w->dtype == WHET_DT_F32 ? out : (out < WHET_ROWS_BLOCK ? out : WHET_ROWS_BLOCK);
    float *scratch = NULL;
    if (w->dtype != WHET_DT_F32) {
        scratch = malloc(sizeof(float) * (size_t)blk * (size_t)in);
        if (!scratch) return whet_errorf(err, WHET_ERR_NOMEM, "linear backward: out of memory for a weight block");
    }
    for (int64_t r0 = 0; r0 < out; r0 += blk) {
        const int64_t n = out - r0 < blk ? out - r0 : blk;
        const float *wr = rows_f32(w, r0, n, scratch);
        /* dx += scale * dy[:, r0:r0+n] · wr */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)in, (int)n, scale, dy + r0, (int)out, wr,
                    (int)in, 1.0f, dx, (int)in);
    }
    free(scratch);
    return WHET_OK;
}

void whet_linear_backward_weight(float *dw, const float *dy, const float *x, int64_t T, int64_t out, int64_t in,
                                 float scale) {
    /* dW[out, in] += scale * dyᵀ · x */
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)T, scale, dy, (int)out, x, (int)in,
                1.0f, dw, (int)in);
}
