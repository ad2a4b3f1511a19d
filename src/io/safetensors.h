/* safetensors.h: read (mmap) and write Hugging Face safetensors files, and
 * open a model folder's weights whether they are one model.safetensors or
 * shards listed in model.safetensors.index.json. Reading validates everything
 * a hostile or truncated file could get wrong (header length, JSON, dtypes,
 * shapes vs byte ranges, ranges inside the file and not overlapping). */
#ifndef WHET_IO_SAFETENSORS_H
#define WHET_IO_SAFETENSORS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>
#include "core/dtype.h"
#include "core/status.h"

#define WHET_MAX_DIMS 8

typedef struct {
    const char *name;
    whet_dtype dtype;
    int ndim;
    int64_t shape[WHET_MAX_DIMS];
    const void *data;     /* points into the read-only mapping */
    size_t nbytes;
    int64_t numel;
} whet_st_tensor;

/* One file or a set of shards, looked up by tensor name. */
typedef struct whet_safetensors whet_safetensors;

/* Open one .safetensors file. */
whet_status whet_safetensors_open(const char *path, whet_safetensors **out, whet_error *err);
/* Open a model folder: model.safetensors.index.json (all shards, each name in
 * exactly the shard the index says) or model.safetensors. */
whet_status whet_safetensors_open_dir(const char *dir, whet_safetensors **out, whet_error *err);
void whet_safetensors_close(whet_safetensors *st);

size_t whet_safetensors_count(const whet_safetensors *st);
const whet_st_tensor *whet_safetensors_at(const whet_safetensors *st, size_t i);
/* NULL when absent. */
const whet_st_tensor *whet_safetensors_find(const whet_safetensors *st, const char *name);
/* The file's "__metadata__" object (NULL if none; of the first shard for a set). */
const cJSON *whet_safetensors_metadata(const whet_safetensors *st);

/* Convert a float tensor (F32/F16/BF16/F64) to f32 into `dst` (numel floats). */
whet_status whet_st_tensor_to_f32(const whet_st_tensor *t, float *dst, whet_error *err);
/* Look up `name`, check its shape equals `shape[0..ndim)` and convert to f32. */
whet_status whet_safetensors_read_f32(const whet_safetensors *st, const char *name, int ndim, const int64_t *shape,
                                      float *dst, whet_error *err);

/* ---- writer ---- */
typedef struct whet_st_writer whet_st_writer;

whet_status whet_st_writer_create(whet_st_writer **out, whet_error *err);
/* Add a tensor; `data` is borrowed until whet_st_writer_write returns. Names must be unique. */
whet_status whet_st_writer_add(whet_st_writer *w, const char *name, whet_dtype dtype, int ndim, const int64_t *shape,
                               const void *data, whet_error *err);
/* Add a "__metadata__" string entry (e.g. "format": "pt"). */
whet_status whet_st_writer_set_metadata(whet_st_writer *w, const char *key, const char *value, whet_error *err);
/* Total data bytes added so far (for sharding decisions). */
size_t whet_st_writer_data_bytes(const whet_st_writer *w);
/* Write the file atomically (temp + fsync + rename). Tensors sorted by name, 8-byte aligned header. */
whet_status whet_st_writer_write(whet_st_writer *w, const char *path, whet_error *err);
void whet_st_writer_free(whet_st_writer *w);
#endif
