/* quant_dot.h: integer dot products of quantized weight rows with
 * activations quantized to 8 bits, the way llama.cpp's CPU backend runs
 * GGUF models: each activation row is quantized once per matmul (to
 * 32-element q8 blocks for Q8_0/Q4_0/Q4_1/Q5_0/Q5_1 weights, to 256-element
 * q8_K blocks for the k-quants), then every weight row is dotted with it in
 * integer arithmetic, one float multiply per block. There is a scalar kernel
 * for every type and AVX2 kernels (chosen at run time from cpuid) for the
 * types GGUF models ship in: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K (float weights: ops/float_gemm.h).
 *
 * The activation formats are whet's own (not GGUF types):
 *   q8 block  (32 elements, 40 B): f32 d, f32 s = d·Σqs, i8 qs[32]
 *   q8_K block (256 elements, 292 B): f32 d, i8 qs[256], i16 bsums[16]
 *   (bsums[k] = Σ qs[16k..16k+16), for the k-quants' min/offset terms). */
#ifndef WHET_OPS_QUANT_DOT_H
#define WHET_OPS_QUANT_DOT_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"

typedef enum { WHET_ISA_SCALAR, WHET_ISA_AVX2 } whet_isa;

/* The best instruction set this CPU runs (AVX2+FMA+F16C or scalar). The
 * environment variable WHET_CPU_ISA=scalar forces the scalar kernels. */
whet_isa whet_cpu_isa(void);
const char *whet_isa_name(whet_isa isa);
/* Use `isa`'s kernels from now on (benchmarks and tests compare them); an
 * ISA this CPU lacks is refused (returns false). */
bool whet_cpu_isa_force(whet_isa isa);

/* dot(weight row, quantized activation row), n elements (a multiple of the
 * weight's block size). */
typedef float (*whet_qdot_fn)(const void *w_row, const void *act_row, int64_t n);

/* The kernel for weights of `wt` on `isa`; NULL when `wt` has no integer
 * kernel (f32/f16/bf16/NF4: use ops/matmul.h's float paths). When `isa`
 * has no kernel of its own for `wt`, the scalar one is returned. */
whet_qdot_fn whet_qdot_kernel(whet_dtype wt, whet_isa isa);
/* Four activation rows `act_stride` bytes apart against one weight row, the
 * weight decoded once: out[t] equals the one-row kernel's result for row t
 * bit for bit, so a token's output never depends on its neighbours. NULL
 * when `isa` has none for `wt` (use the one-row kernel per row). */
typedef void (*whet_qdot4_fn)(const void *w_row, const void *act, size_t act_stride, int64_t n, float out[4]);
whet_qdot4_fn whet_qdot4_kernel(whet_dtype wt, whet_isa isa);
/* Bytes of one activation row of n elements quantized for weights of `wt`. */
size_t whet_qdot_act_bytes(whet_dtype wt, int64_t n);
/* Quantize x[n] into the activation format `wt`'s kernels read. */
void whet_qdot_quantize_act(whet_dtype wt, const float *x, int64_t n, void *act);

#endif
