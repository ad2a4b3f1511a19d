/* half.h: IEEE fp16 and bfloat16 <-> float32, round-to-nearest-even, as
 * torch does (so converted weights match HF bit for bit). */
#ifndef WHET_CORE_HALF_H
#define WHET_CORE_HALF_H
#include <stdint.h>
#include <stddef.h>

float whet_fp16_to_f32(uint16_t h);
uint16_t whet_f32_to_fp16(float f);
float whet_bf16_to_f32(uint16_t b);
uint16_t whet_f32_to_bf16(float f);
void whet_fp16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void whet_bf16_to_f32_row(const uint16_t *src, float *dst, size_t n);
void whet_f32_to_fp16_row(const float *src, uint16_t *dst, size_t n);
void whet_f32_to_bf16_row(const float *src, uint16_t *dst, size_t n);
#endif
