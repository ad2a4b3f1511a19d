/* embedding.c: CPU token-embedding lookup and single-row widening of a
 * weight of any dtype (used by the lookup and by tied LM heads). */
#include "ops/embedding.h"
#include <string.h>
#include "core/half.h"
#include "ops/quant.h"
#include "ops/cpu/quant_link.h"

whet_status whet_weight_row_f32(const whet_weight *w, int64_t r, float *dst, whet_error *err) {
    if (r < 0 || r >= w->rows)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "row %lld outside a weight of %lld rows", (long long)r,
                           (long long)w->rows);
    size_t row_bytes = whet_dtype_nbytes(w->dtype, (size_t)w->cols);
    const uint8_t *src = (const uint8_t *)w->data + (size_t)r * row_bytes;
    switch (w->dtype) {
    case WHET_DT_F32: memcpy(dst, src, row_bytes); return WHET_OK;
    case WHET_DT_F16: whet_fp16_to_f32_row((const uint16_t *)src, dst, (size_t)w->cols); return WHET_OK;
    case WHET_DT_BF16: whet_bf16_to_f32_row((const uint16_t *)src, dst, (size_t)w->cols); return WHET_OK;
    case WHET_DT_Q8_0: case WHET_DT_Q4_0: case WHET_DT_Q4_1: case WHET_DT_Q5_0: case WHET_DT_Q5_1: case WHET_DT_Q2_K: case WHET_DT_Q3_K: case WHET_DT_Q4_K: case WHET_DT_Q5_K: case WHET_DT_Q6_K:
        if (!whet_quant_linked())
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s weights need the quantized kernels (ops/cpu/quant.c), "
                               "which this binary was linked without", whet_dtype_name(w->dtype));
        whet_dequantize_row(w->dtype, src, w->cols, dst);
        return WHET_OK;
    default:
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "weight dtype %s cannot be read as float rows",
                           whet_dtype_name(w->dtype));
    }
}

whet_status whet_embedding(float *out, const whet_weight *table, const int32_t *ids, int64_t T, whet_error *err) {
    for (int64_t t = 0; t < T; t++) {
        if (ids[t] < 0 || ids[t] >= table->rows)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "token id %d (at index %lld) is outside the vocabulary [0, %lld)",
                               ids[t], (long long)t, (long long)table->rows);
        WHET_TRY(whet_weight_row_f32(table, ids[t], out + t * table->cols, err));
    }
    return WHET_OK;
}
