/* weight.h: a weight matrix is a descriptor, not a float pointer: it carries
 * its dtype and layout so matmul dispatches on it (f32/bf16/f16 today,
 * q8_0/q4_k/nf4 later add a case, not a code path). Row-major [rows, cols]
 * = [out_features, in_features], as Hugging Face stores nn.Linear. */
#ifndef WHET_OPS_WEIGHT_H
#define WHET_OPS_WEIGHT_H
#include <stdint.h>
#include "core/dtype.h"

typedef struct {
    whet_dtype dtype;
    int64_t rows;          /* out_features */
    int64_t cols;          /* in_features */
    const void *data;      /* [rows, cols] in `dtype` (blocks along cols for quantized) */
    const float *scales;   /* per-block scales for NF4 (NULL otherwise) */
} whet_weight;
#endif
