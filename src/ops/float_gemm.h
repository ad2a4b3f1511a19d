/* float_gemm.h: the batch-invariant linear layer for float weights (F32,
 * F16, BF16) on AVX2: y = x·Wᵀ where every output is summed in one fixed
 * order — 8 lanes over k in steps of 8, a fixed horizontal sum, then the
 * k tail — whatever the number of tokens and whichever tile computes it.
 * BLAS sgemm does not promise that (OpenBLAS 0.3.21 gives a token a
 * different last bit in a batch of 13 than alone for K = 4864), and a
 * server's greedy output must not depend on what else is in the batch.
 * F16/BF16 rows are widened in registers, never copied. */
#ifndef WHET_OPS_FLOAT_GEMM_H
#define WHET_OPS_FLOAT_GEMM_H
#include <stdint.h>
#include "core/dtype.h"
#include "ops/quant_dot.h"

/* y[t·ldy + r] = Σ_k W[r, k]·x[t·cols + k] for t < T, r0 <= r < r1; W is
 * [rows, cols] row-major in `wt` (F32, F16 or BF16). */
typedef void (*whet_float_gemm_fn)(whet_dtype wt, const void *w, int64_t cols, int64_t r0, int64_t r1,
                                   const float *x, int64_t T, float *y, int64_t ldy);
/* NULL where `isa` has no such kernel (scalar: matmul uses BLAS). */
whet_float_gemm_fn whet_float_gemm_kernel(whet_isa isa);
#endif
