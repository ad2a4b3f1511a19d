/* dtype.c: dtype names and sizes. */
#include "core/dtype.h"
#include <string.h>

typedef struct { const char *name; size_t block_elems, block_bytes; } dtype_info;

static const dtype_info infos[WHET_DT_COUNT] = {
    [WHET_DT_F32] = {"F32", 1, 4},   [WHET_DT_F16] = {"F16", 1, 2},   [WHET_DT_BF16] = {"BF16", 1, 2},
    [WHET_DT_F64] = {"F64", 1, 8},   [WHET_DT_I64] = {"I64", 1, 8},   [WHET_DT_I32] = {"I32", 1, 4},
    [WHET_DT_I16] = {"I16", 1, 2},   [WHET_DT_I8] = {"I8", 1, 1},     [WHET_DT_U8] = {"U8", 1, 1},
    [WHET_DT_BOOL] = {"BOOL", 1, 1},
    [WHET_DT_Q8_0] = {"Q8_0", 32, 34}, [WHET_DT_Q4_0] = {"Q4_0", 32, 18}, [WHET_DT_Q4_K] = {"Q4_K", 256, 144},
    [WHET_DT_Q5_K] = {"Q5_K", 256, 176}, [WHET_DT_Q6_K] = {"Q6_K", 256, 210},
    /* NF4: 64 4-bit codes = 32 bytes; the absmax scales are stored separately */
    [WHET_DT_NF4] = {"NF4", 64, 32},
    [WHET_DT_Q4_1] = {"Q4_1", 32, 20}, [WHET_DT_Q5_0] = {"Q5_0", 32, 22}, [WHET_DT_Q5_1] = {"Q5_1", 32, 24},
    [WHET_DT_Q2_K] = {"Q2_K", 256, 84}, [WHET_DT_Q3_K] = {"Q3_K", 256, 110},
};

const char *whet_dtype_name(whet_dtype t) { return (unsigned)t < WHET_DT_COUNT ? infos[t].name : "?"; }

int whet_dtype_from_safetensors(const char *name) {
    for (int t = 0; t <= WHET_DT_BOOL; t++)
        if (!strcmp(name, infos[t].name)) return t;
    return -1;
}

size_t whet_dtype_block_elems(whet_dtype t) { return infos[t].block_elems; }
size_t whet_dtype_block_bytes(whet_dtype t) { return infos[t].block_bytes; }
size_t whet_dtype_nbytes(whet_dtype t, size_t n) { return n / infos[t].block_elems * infos[t].block_bytes; }
