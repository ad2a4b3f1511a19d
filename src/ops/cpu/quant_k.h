/* quant_k.h: the k-quant row quantizers and dequantizers (quant_k.c: Q4_K,
 * Q5_K, Q6_K; quant_k_low.c: Q2_K, Q3_K) that quant.c dispatches to. n is a
 * multiple of 256; layouts in shared/reference/gguf.md §4. Private to ops/cpu. */
#ifndef WHET_OPS_CPU_QUANT_K_H
#define WHET_OPS_CPU_QUANT_K_H
#include <stdint.h>

void whet_quantize_q2_k(const float *x, uint8_t *dst, int64_t n);
void whet_quantize_q3_k(const float *x, uint8_t *dst, int64_t n);
void whet_quantize_q4_k(const float *x, uint8_t *dst, int64_t n);
void whet_quantize_q5_k(const float *x, uint8_t *dst, int64_t n);
void whet_quantize_q6_k(const float *x, uint8_t *dst, int64_t n);
void whet_dequantize_q2_k(const uint8_t *src, float *y, int64_t n);
void whet_dequantize_q3_k(const uint8_t *src, float *y, int64_t n);
void whet_dequantize_q4_k(const uint8_t *src, float *y, int64_t n);
void whet_dequantize_q5_k(const uint8_t *src, float *y, int64_t n);
void whet_dequantize_q6_k(const uint8_t *src, float *y, int64_t n);
#endif
