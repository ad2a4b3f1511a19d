/* matmul.h: the inference linear layer y = x·Wᵀ + b with W a weight
 * descriptor. f32/f16/bf16 go through the batch-invariant float GEMM of
 * ops/float_gemm.h on AVX2 (BLAS elsewhere; half rows are widened in
 * registers or per tile, never copied whole); quantized dtypes through the
 * integer kernels of ops/quant_dot.h. See ops/cpu/matmul.c. */
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
