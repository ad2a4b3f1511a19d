/* matmul.h: the inference linear layer y = x·Wᵀ + b with W a weight
 * descriptor. f32 goes straight to OpenBLAS sgemm; f16/bf16 rows are widened
 * per tile of rows into a scratch buffer (so a bf16 model needs no f32 copy);
 * quantized dtypes use the row dot / dequantizer of ops/quant.h. */
#ifndef WHET_OPS_MATMUL_H
#define WHET_OPS_MATMUL_H
#include <stdint.h>
#include "core/status.h"
#include "core/threadpool.h"
#include "ops/weight.h"

/* y[T, rows] = x[T, cols] · W[rows, cols]ᵀ (+ bias[rows] when non-NULL).
 * `pool` (may be NULL) widens tiles and runs the quantized dots. */
whet_status whet_matmul(float *y, const float *x, const whet_weight *w, const float *bias, int64_t T,
                        whet_threadpool *pool, whet_error *err);
#endif
