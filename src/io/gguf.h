/* gguf.h: read and write GGUF v3 files (llama.cpp / Ollama model files,
 * shared/reference/gguf.md). The reader maps the file and validates what a
 * truncated or hostile file can get wrong (magic, version, counts, string
 * and array lengths against the file size, value types, alignment, tensor
 * dims/types, offsets sequential and inside the file) before anything is
 * used. The writer lays out metadata and tensors exactly as llama.cpp's
 * gguf_init_from_file expects (sequential offsets padded to the alignment,
 * padded file end) and writes atomically. */
#ifndef WHET_IO_GGUF_H
#define WHET_IO_GGUF_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "core/dtype.h"
#include "core/status.h"

/* Metadata value types (gguf_type). */
typedef enum {
    WHET_GGUF_UINT8 = 0, WHET_GGUF_INT8 = 1, WHET_GGUF_UINT16 = 2, WHET_GGUF_INT16 = 3,
    WHET_GGUF_UINT32 = 4, WHET_GGUF_INT32 = 5, WHET_GGUF_FLOAT32 = 6, WHET_GGUF_BOOL = 7,
    WHET_GGUF_STRING = 8, WHET_GGUF_ARRAY = 9, WHET_GGUF_UINT64 = 10, WHET_GGUF_INT64 = 11,
    WHET_GGUF_FLOAT64 = 12, WHET_GGUF_TYPE_COUNT = 13
} whet_gguf_type;

#define WHET_GGUF_DEFAULT_ALIGNMENT 32
#define WHET_GGUF_MAX_NAME 63      /* llama.cpp: name length < GGML_MAX_NAME (64) */
#define WHET_GGUF_MAX_DIMS 4

/* ggml tensor type id <-> whet dtype (-1 when whet has no such dtype). */
int whet_gguf_ggml_type(whet_dtype t);
int whet_gguf_dtype_of_ggml(int ggml_type);

typedef struct {
    const char *key;          /* NUL-terminated, owned by the file object */
    whet_gguf_type type;
    /* scalars */
    uint64_t u;               /* unsigned ints and BOOL */
    int64_t i;                /* signed ints */
    double f;                 /* FLOAT32 / FLOAT64 */
    const char *str;          /* STRING: bytes in the mapping, NOT NUL-terminated */
    uint64_t str_len;
    /* ARRAY */
    whet_gguf_type arr_type;
    uint64_t arr_n;
    const uint8_t *arr_data;  /* first element in the mapping (strings: len+bytes each) */
    const uint64_t *arr_str_off; /* STRING arrays: offset of each element's length field from arr_data */
} whet_gguf_kv;

typedef struct {
    const char *name;
    int n_dims;
    int64_t ne[WHET_GGUF_MAX_DIMS];   /* ne[0] = row length (innermost) */
    int ggml_type;
    int dtype;                        /* whet_dtype, or -1 when whet cannot use the type */
    uint64_t offset;                  /* from the start of the data section */
    size_t nbytes;
    const void *data;                 /* in the mapping */
} whet_gguf_tensor;

typedef struct whet_gguf whet_gguf;

/* Open and validate. Errors name the file and the record. */
whet_status whet_gguf_open(const char *path, whet_gguf **out, whet_error *err);
void whet_gguf_close(whet_gguf *g);

uint32_t whet_gguf_version(const whet_gguf *g);
size_t whet_gguf_alignment(const whet_gguf *g);
size_t whet_gguf_n_kv(const whet_gguf *g);
const whet_gguf_kv *whet_gguf_kv_at(const whet_gguf *g, size_t i);
const whet_gguf_kv *whet_gguf_find_kv(const whet_gguf *g, const char *key);
size_t whet_gguf_n_tensors(const whet_gguf *g);
const whet_gguf_tensor *whet_gguf_tensor_at(const whet_gguf *g, size_t i);
const whet_gguf_tensor *whet_gguf_find_tensor(const whet_gguf *g, const char *name);

/* Typed lookups: WHET_ERR_NOT_FOUND when absent, WHET_ERR_FORMAT when the
 * stored type differs (llama.cpp is just as strict). Strings are copied,
 * NUL-terminated, into `buf` (WHET_ERR_FORMAT if longer than cap-1). */
whet_status whet_gguf_get_u32(const whet_gguf *g, const char *key, uint32_t *out, whet_error *err);
whet_status whet_gguf_get_f32(const whet_gguf *g, const char *key, float *out, whet_error *err);
whet_status whet_gguf_get_bool(const whet_gguf *g, const char *key, bool *out, whet_error *err);
whet_status whet_gguf_get_str(const whet_gguf *g, const char *key, char *buf, size_t cap, whet_error *err);
/* Element i of a STRING array (not NUL-terminated). */
const char *whet_gguf_arr_str(const whet_gguf_kv *kv, uint64_t i, uint64_t *len);
/* Element i of an INT32 / FLOAT32 array (types checked by the caller). */
int32_t whet_gguf_arr_i32(const whet_gguf_kv *kv, uint64_t i);
float whet_gguf_arr_f32(const whet_gguf_kv *kv, uint64_t i);

/* ne[0]*ne[1]*... (convert to f32 with ops/quant.h whet_dequantize_row per row). */
int64_t whet_gguf_tensor_numel(const whet_gguf_tensor *t);

/* ---- writer ---- */
typedef struct whet_gguf_writer whet_gguf_writer;

whet_status whet_gguf_writer_create(whet_gguf_writer **out, whet_error *err);
void whet_gguf_writer_free(whet_gguf_writer *w);
/* Metadata in insertion order; a duplicate key is an error. */
whet_status whet_gguf_set_str(whet_gguf_writer *w, const char *key, const char *value, whet_error *err);
whet_status whet_gguf_set_u32(whet_gguf_writer *w, const char *key, uint32_t value, whet_error *err);
whet_status whet_gguf_set_i32(whet_gguf_writer *w, const char *key, int32_t value, whet_error *err);
whet_status whet_gguf_set_f32(whet_gguf_writer *w, const char *key, float value, whet_error *err);
whet_status whet_gguf_set_bool(whet_gguf_writer *w, const char *key, bool value, whet_error *err);
/* Arrays: the values are copied. */
whet_status whet_gguf_set_arr_str(whet_gguf_writer *w, const char *key, const char *const *values, size_t n,
                                  whet_error *err);
whet_status whet_gguf_set_arr_i32(whet_gguf_writer *w, const char *key, const int32_t *values, size_t n,
                                  whet_error *err);
whet_status whet_gguf_set_arr_f32(whet_gguf_writer *w, const char *key, const float *values, size_t n,
                                  whet_error *err);
/* Add a tensor of `dtype` with ggml dims ne[0..n_dims) (ne[0] = row
 * length; an HF [out, in] matrix is ne = {in, out}). `data` holds
 * whet_dtype_nbytes(dtype, numel) bytes; with `take` the writer frees it
 * (it must come from malloc), else it is borrowed until write returns.
 * Names must be unique and at most 63 bytes; ne[0] a multiple of the block. */
whet_status whet_gguf_add_tensor(whet_gguf_writer *w, const char *name, whet_dtype dtype, int n_dims,
                                 const int64_t *ne, void *data, bool take, whet_error *err);
/* Write header, metadata, tensor infos and data (alignment 32) atomically. */
whet_status whet_gguf_writer_write(whet_gguf_writer *w, const char *path, whet_error *err);
#endif
