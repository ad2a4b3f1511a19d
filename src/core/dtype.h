/* dtype.h: element types of tensors on disk and in memory, shared by
 * safetensors, GGUF, the weight descriptors and the quantizers. */
#ifndef WHET_CORE_DTYPE_H
#define WHET_CORE_DTYPE_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    WHET_DT_F32 = 0,
    WHET_DT_F16,
    WHET_DT_BF16,
    WHET_DT_F64,
    WHET_DT_I64,
    WHET_DT_I32,
    WHET_DT_I16,
    WHET_DT_I8,
    WHET_DT_U8,
    WHET_DT_BOOL,
    /* block-quantized (llama.cpp layouts, shared/reference/gguf.md) */
    WHET_DT_Q8_0,
    WHET_DT_Q4_0,
    WHET_DT_Q4_K,
    WHET_DT_Q5_K,
    WHET_DT_Q6_K,
    /* QLoRA: bitsandbytes NF4, block 64 */
    WHET_DT_NF4,
    /* more llama.cpp block types (GGUF export: llama-quantize's fallbacks
     * when a row is not a multiple of 256) */
    WHET_DT_Q4_1,
    WHET_DT_Q5_0,
    WHET_DT_Q5_1,
    /* the 2- and 3-bit k-quants (GGUF Q2_K / Q3_K mixes) */
    WHET_DT_Q2_K,
    WHET_DT_Q3_K,
    WHET_DT_COUNT
} whet_dtype;

/* "F32", "BF16", "Q4_K"... (safetensors spelling for the plain types). */
const char *whet_dtype_name(whet_dtype t);
/* Parse a safetensors dtype string; returns -1 when unknown. */
int whet_dtype_from_safetensors(const char *name);
/* Elements per block and bytes per block (1 and the element size for plain types). */
size_t whet_dtype_block_elems(whet_dtype t);
size_t whet_dtype_block_bytes(whet_dtype t);
/* Bytes taken by `n` elements (n must be a multiple of the block size). */
size_t whet_dtype_nbytes(whet_dtype t, size_t n);
#endif
