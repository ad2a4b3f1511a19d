/* quant.h: block quantizers and dequantizers for the llama.cpp layouts
 * (Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K; shared/reference/gguf.md) and bitsandbytes
 * NF4 (QLoRA). Used by the GGUF exporter (quantize) and by matmul when a
 * weight descriptor holds a quantized dtype (dequantize a row on the fly). */
#ifndef WHET_OPS_QUANT_H
#define WHET_OPS_QUANT_H
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/status.h"

/* Quantize `n` floats (n a multiple of the dtype's block size) into `dst`
 * (whet_dtype_nbytes(dtype, n) bytes). `imatrix` may be NULL (importance
 * weights per column, as llama.cpp's quantize takes). */
whet_status whet_quantize_row(whet_dtype dtype, const float *src, int64_t n, void *dst, const float *imatrix,
                              whet_error *err);
/* Dequantize `n` elements of `dtype` (any float or block type) into f32. */
void whet_dequantize_row(whet_dtype dtype, const void *src, int64_t n, float *dst);
/* Dot product of a quantized row with an f32 vector (n elements) without
 * materialising the row; the matmul fast path for quantized weights. */
float whet_quant_dot(whet_dtype dtype, const void *row, const float *x, int64_t n);
#endif
