/* quant_link.h: the quantized row kernels (whet_dequantize_row,
 * whet_quant_dot in ops/cpu/quant.c) are referenced weakly by the embedding
 * lookup (matmul uses the integer kernels of quant_dot.c), so a binary that
 * never links the quantizers (a test of the f32 model) still links, and a
 * quantized weight there gets a clear error instead of a crash. Any binary that also quantizes (export, the whet CLI) pulls them in. */
#ifndef WHET_OPS_CPU_QUANT_LINK_H
#define WHET_OPS_CPU_QUANT_LINK_H
#include <stdbool.h>
#include "ops/quant.h"

#pragma weak whet_dequantize_row
#pragma weak whet_quant_dot

static inline bool whet_quant_linked(void) { return &whet_dequantize_row != 0 && &whet_quant_dot != 0; }
#endif
