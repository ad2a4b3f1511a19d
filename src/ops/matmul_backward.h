/* matmul_backward.h: the linear layer of training, forward and backward,
 * with the weight as a descriptor (ops/weight.h) so a frozen bf16/f16 base
 * weight is used as stored (converted a block of rows at a time), the same
 * call serving f32 LoRA factors. Convention (as llm.c): gradients of
 * parameters and of activations are accumulated with +=, so the residual
 * stream and gradient accumulation need no extra adds.
 *   T = tokens, in = in_features, out = out_features */
#ifndef WHET_OPS_MATMUL_BACKWARD_H
#define WHET_OPS_MATMUL_BACKWARD_H
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "ops/weight.h"

/* y[T, out] (= or +=, by `accumulate`) x[T, in] · Wᵀ (+ bias[out] when non-NULL).
 * `scale` multiplies the product (not the bias). Unsupported dtypes
 * (block-quantized) are an error naming the dtype. */
whet_status whet_linear_train_forward(float *y, const float *x, const whet_weight *w, const float *bias, int64_t T,
                                      float scale, bool accumulate, whet_error *err);

/* dx[T, in] += scale · dy[T, out] · W. */
whet_status whet_linear_backward_input(float *dx, const float *dy, const whet_weight *w, int64_t T, float scale,
                                       whet_error *err);

/* dW[out, in] += scale · dy[T, out]ᵀ · x[T, in] (f32 parameters only). */
void whet_linear_backward_weight(float *dw, const float *dy, const float *x, int64_t T, int64_t out, int64_t in,
                                 float scale);

/* A plain f32 weight descriptor over `data` [rows, cols]. */
whet_weight whet_weight_f32(const float *data, int64_t rows, int64_t cols);
#endif
