/* safetensors.c: the safetensors reader (mmap, every header field validated
 * before a byte of data is trusted), sharded folders through
 * model.safetensors.index.json, float conversion to f32, and the writer
 * (sorted names, 8-byte padded header, atomic temp+fsync+rename).
 *
 * File layout: u64 little-endian header length N, N bytes of JSON
 * {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 *  "__metadata__": {"k": "v"}}, then the data buffer the offsets index. */
#include "io/safetensors.h"
#include <stdlib.h>
#include <string.h>
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/half.h"
#include "core/json.h"

/* A header larger than this is not a real model file (HF's own limit is 100 MB). */
#define ST_MAX_HEADER (100u * 1024u * 1024u)

typedef struct {
    char path[4096];
    whet_mmap map;
    cJSON *header;                 /* owns the tensor names */
} st_file;

struct whet_safetensors {
    st_file *files;
    size_t n_files;
    whet_st_tensor *tensors;       /* [n] in file order, shard after shard */
    size_t n;
    size_t *by_name;               /* [n] indices into tensors, sorted by name */
};

/* ---------------------------------------------------------------- reading */

static size_t dtype_elem_bytes(whet_dtype t) { return whet_dtype_block_bytes(t); }

typedef struct { int64_t begin, end; size_t idx; } st_range;

static int cmp_range(const void *a, const void *b) {
    const st_range *x = a, *y = b;
    return x->begin < y->begin ? -1 : x->begin > y->begin ? 1 : (x->end > y->end) - (x->end < y->end);
}

/* Parse one header entry into *t; `data`/`data_size` bound the data buffer. */
static whet_status parse_entry(const char *path, const cJSON *e, const uint8_t *data, uint64_t data_size,
                               whet_st_tensor *t, int64_t *begin_out, whet_error *err) {
    const char *name = e->string;
    if (!cJSON_IsObject(e))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": header entry is not an object", path, name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsString(dt))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": missing or non-string \"dtype\"", path, name);
    int dtype = whet_dtype_from_safetensors(dt->valuestring);
    if (dtype < 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: tensor \"%s\": unknown dtype \"%s\" (supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL)",
                           path, name, dt->valuestring);
    if (!cJSON_IsArray(shape))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": missing or non-array \"shape\"", path, name);
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > WHET_MAX_DIMS)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor \"%s\": %d dimensions (at most %d supported)", path,
                           name, ndim, WHET_MAX_DIMS);
    memset(t, 0, sizeof *t);
    t->name = name;
    t->dtype = (whet_dtype)dtype;
    t->ndim = ndim;
    int64_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(shape, d);
        if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble != (double)(int64_t)v->valuedouble ||
            v->valuedouble > 9e15)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": shape[%d] is not a non-negative integer", path,
                               name, d);
        t->shape[d] = (int64_t)v->valuedouble;
        if (t->shape[d] != 0 && numel > INT64_MAX / 16 / t->shape[d])
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": shape too large", path, name);
        numel *= t->shape[d];
    }
    t->numel = numel;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": \"data_offsets\" must be [begin, end]", path, name);
    double b = cJSON_GetArrayItem(offs, 0)->valuedouble, en = cJSON_GetArrayItem(offs, 1)->valuedouble;
    if (!cJSON_IsNumber(cJSON_GetArrayItem(offs, 0)) || !cJSON_IsNumber(cJSON_GetArrayItem(offs, 1)) || b < 0 ||
        en < b || b != (double)(int64_t)b || en != (double)(int64_t)en)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\": bad data_offsets [%.0f, %.0f]", path, name, b, en);
    int64_t begin = (int64_t)b, end = (int64_t)en;
    if ((uint64_t)end > data_size)
        return whet_errorf(err, WHET_ERR_FORMAT,
                           "%s: tensor \"%s\": data_offsets [%lld, %lld] lie outside the file's %llu data bytes "
                           "(the file is truncated or corrupt; download it again)",
                           path, name, (long long)begin, (long long)end, (unsigned long long)data_size);
    uint64_t want = (uint64_t)numel * dtype_elem_bytes(t->dtype);
    if (want != (uint64_t)(end - begin))
        return whet_errorf(err, WHET_ERR_SHAPE,
                           "%s: tensor \"%s\": shape needs %llu bytes of %s but data_offsets span %lld bytes", path,
                           name, (unsigned long long)want, dt->valuestring, (long long)(end - begin));
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    *begin_out = begin;
    return WHET_OK;
}

/* Validate the header of an opened file and append its tensors to st. */
static whet_status parse_file(whet_safetensors *st, st_file *f, whet_error *err) {
    const uint8_t *p = f->map.data;
    size_t size = f->map.size;
    if (size < 8)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: file is %zu bytes, too short for a safetensors header (truncated?)",
                           f->path, size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | p[i];
    if (hlen > size - 8)
        return whet_errorf(err, WHET_ERR_FORMAT,
                           "%s: header length %llu goes beyond the file's %zu bytes (truncated or not a safetensors file)",
                           f->path, (unsigned long long)hlen, size);
    if (hlen < 2 || hlen > ST_MAX_HEADER)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: implausible header length %llu (not a safetensors file?)", f->path,
                           (unsigned long long)hlen);
    char what[4200];
    snprintf(what, sizeof what, "%s (header)", f->path);
    WHET_TRY(whet_json_parse((const char *)p + 8, (size_t)hlen, what, &f->header, err));
    if (!cJSON_IsObject(f->header))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    const uint8_t *data = p + 8 + hlen;
    uint64_t data_size = size - 8 - hlen;
    size_t count = 0;
    for (const cJSON *e = f->header->child; e; e = e->next)
        if (strcmp(e->string, "__metadata__") != 0) count++;
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(f->header, "__metadata__");
    if (meta && !cJSON_IsObject(meta))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"__metadata__\" is not an object", f->path);
    whet_st_tensor *grown = realloc(st->tensors, (st->n + count + 1) * sizeof *grown);
    st_range *ranges = malloc((count + 1) * sizeof *ranges);
    if (!grown || !ranges) {
        if (grown) st->tensors = grown;
        free(ranges);
        return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %zu tensors", f->path, count);
    }
    st->tensors = grown;
    size_t k = 0;
    whet_status s = WHET_OK;
    for (const cJSON *e = f->header->child; e && s == WHET_OK; e = e->next) {
        if (!strcmp(e->string, "__metadata__")) continue;
        s = parse_entry(f->path, e, data, data_size, &st->tensors[st->n + k], &ranges[k].begin, err);
        if (s == WHET_OK) {
            ranges[k].end = ranges[k].begin + (int64_t)st->tensors[st->n + k].nbytes;
            ranges[k].idx = k;
            k++;
        }
    }
    if (s == WHET_OK) {
        qsort(ranges, count, sizeof *ranges, cmp_range);
        for (size_t i = 1; i < count; i++) {
            if (ranges[i].begin < ranges[i - 1].end && ranges[i].end > ranges[i].begin) {
                s = whet_errorf(err, WHET_ERR_FORMAT, "%s: tensors \"%s\" and \"%s\" have overlapping data ranges "
                                "[%lld, %lld) and [%lld, %lld) (corrupt file)", f->path,
                                st->tensors[st->n + ranges[i - 1].idx].name, st->tensors[st->n + ranges[i].idx].name,
                                (long long)ranges[i - 1].begin, (long long)ranges[i - 1].end,
                                (long long)ranges[i].begin, (long long)ranges[i].end);
                break;
            }
        }
    }
    free(ranges);
    if (s == WHET_OK) st->n += count;
    return s;
}

/* Build the sorted name index; duplicate names (across shards) are an error. */
static whet_status build_index(whet_safetensors *st, whet_error *err) {
    st->by_name = malloc((st->n + 1) * sizeof *st->by_name);
    if (!st->by_name) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory indexing %zu tensors", st->n);
    for (size_t i = 0; i < st->n; i++) st->by_name[i] = i;
    /* qsort has no context argument in C17 and library code keeps no mutable globals: a bottom-up merge sort. */
    size_t n = st->n;
    size_t *tmp = malloc((n + 1) * sizeof *tmp);
    if (!tmp) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory indexing %zu tensors", st->n);
    for (size_t width = 1; width < n; width *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * width) {
            size_t mid = lo + width < n ? lo + width : n, hi = lo + 2 * width < n ? lo + 2 * width : n;
            size_t a = lo, b = mid, o = lo;
            while (a < mid && b < hi)
                tmp[o++] = strcmp(st->tensors[st->by_name[a]].name, st->tensors[st->by_name[b]].name) <= 0
                               ? st->by_name[a++] : st->by_name[b++];
            while (a < mid) tmp[o++] = st->by_name[a++];
            while (b < hi) tmp[o++] = st->by_name[b++];
        }
        memcpy(st->by_name, tmp, n * sizeof *tmp);
    }
    free(tmp);
    for (size_t i = 1; i < n; i++) {
        const char *a = st->tensors[st->by_name[i - 1]].name, *b = st->tensors[st->by_name[i]].name;
        if (!strcmp(a, b)) return whet_errorf(err, WHET_ERR_FORMAT, "tensor \"%s\" appears twice (in two shards?)", a);
    }
    return WHET_OK;
}

static whet_status open_file_into(whet_safetensors *st, const char *path, whet_error *err) {
    st_file *grown = realloc(st->files, (st->n_files + 1) * sizeof *grown);
    if (!grown) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    st->files = grown;
    st_file *f = &st->files[st->n_files];
    memset(f, 0, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s", path);
    WHET_TRY(whet_mmap_open(path, &f->map, err));
    st->n_files++;
    return parse_file(st, f, err);
}

static whet_safetensors *st_new(void) { return calloc(1, sizeof(whet_safetensors)); }

whet_status whet_safetensors_open(const char *path, whet_safetensors **out, whet_error *err) {
    *out = NULL;
    whet_safetensors *st = st_new();
    if (!st) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    whet_status s = open_file_into(st, path, err);
    if (s == WHET_OK) s = build_index(st, err);
    if (s != WHET_OK) {
        whet_safetensors_close(st);
        return s;
    }
    *out = st;
    return WHET_OK;
}

/* Shard file names come from a JSON file: refuse anything that leaves the folder. */
static bool safe_shard_name(const char *name) {
    return name[0] && !strchr(name, '/') && !strchr(name, '\\') && strcmp(name, ".") && strcmp(name, "..");
}

static whet_status open_index(whet_safetensors *st, const char *dir, const char *index_path, whet_error *err) {
    cJSON *idx = NULL;
    WHET_TRY(whet_json_parse_file(index_path, &idx, err));
    whet_status s = WHET_OK;
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(idx, "weight_map");
    if (!cJSON_IsObject(wm)) {
        s = whet_errorf(err, WHET_ERR_FORMAT, "%s: missing object \"weight_map\"", index_path);
        goto done;
    }
    /* open each distinct shard once, in first-mention order */
    for (const cJSON *e = wm->child; e && s == WHET_OK; e = e->next) {
        if (!cJSON_IsString(e) || !safe_shard_name(e->valuestring)) {
            s = whet_errorf(err, WHET_ERR_FORMAT, "%s: weight_map[\"%s\"] must be a shard file name in the same folder",
                            index_path, e->string);
            break;
        }
        char path[4096];
        whet_path_join(path, sizeof path, dir, e->valuestring);
        bool seen = false;
        for (size_t i = 0; i < st->n_files && !seen; i++) seen = !strcmp(st->files[i].path, path);
        if (!seen) {
            s = open_file_into(st, path, err);
            if (s == WHET_ERR_NOT_FOUND) whet_error_prefix(err, "%s lists shard \"%s\"", index_path, e->valuestring);
        }
    }
    if (s == WHET_OK) s = build_index(st, err);
    /* every indexed name lives in exactly the shard the index names */
    for (const cJSON *e = wm->child; e && s == WHET_OK; e = e->next) {
        const whet_st_tensor *t = whet_safetensors_find(st, e->string);
        char path[4096];
        whet_path_join(path, sizeof path, dir, e->valuestring);
        const st_file *owner = NULL;
        for (size_t i = 0; t && i < st->n_files && !owner; i++) {
            const uint8_t *base = st->files[i].map.data;
            if ((const uint8_t *)t->data >= base && (const uint8_t *)t->data + t->nbytes <= base + st->files[i].map.size)
                owner = &st->files[i];
        }
        if (!t || !owner || strcmp(owner->path, path) != 0)
            s = whet_errorf(err, WHET_ERR_FORMAT, "%s: index says tensor \"%s\" is in %s, but it is %s", index_path,
                            e->string, e->valuestring, t ? "in another shard" : "not in any shard");
    }
done:
    cJSON_Delete(idx);
    return s;
}

whet_status whet_safetensors_open_dir(const char *dir, whet_safetensors **out, whet_error *err) {
    *out = NULL;
    char index_path[4096], single[4096];
    whet_path_join(index_path, sizeof index_path, dir, "model.safetensors.index.json");
    whet_path_join(single, sizeof single, dir, "model.safetensors");
    if (!whet_file_exists(index_path)) {
        if (!whet_file_exists(single))
            return whet_errorf(err, WHET_ERR_NOT_FOUND,
                               "%s: no model.safetensors or model.safetensors.index.json (is this a Hugging Face model "
                               "folder? .bin/PyTorch weights are not read: convert them to safetensors)", dir);
        return whet_safetensors_open(single, out, err);
    }
    whet_safetensors *st = st_new();
    if (!st) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", dir);
    whet_status s = open_index(st, dir, index_path, err);
    if (s != WHET_OK) {
        whet_safetensors_close(st);
        return s;
    }
    *out = st;
    return WHET_OK;
}

void whet_safetensors_close(whet_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_files; i++) {
        whet_mmap_close(&st->files[i].map);
        cJSON_Delete(st->files[i].header);
    }
    free(st->files);
    free(st->tensors);
    free(st->by_name);
    free(st);
}

size_t whet_safetensors_count(const whet_safetensors *st) { return st->n; }

const whet_st_tensor *whet_safetensors_at(const whet_safetensors *st, size_t i) {
    return i < st->n ? &st->tensors[i] : NULL;
}

const whet_st_tensor *whet_safetensors_find(const whet_safetensors *st, const char *name) {
    if (!st->by_name) return NULL;
    size_t lo = 0, hi = st->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->tensors[st->by_name[mid]].name, name);
        if (c == 0) return &st->tensors[st->by_name[mid]];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

const cJSON *whet_safetensors_metadata(const whet_safetensors *st) {
    if (st->n_files == 0) return NULL;
    return cJSON_GetObjectItemCaseSensitive(st->files[0].header, "__metadata__");
}

whet_status whet_st_tensor_to_f32(const whet_st_tensor *t, float *dst, whet_error *err) {
    const uint8_t *src = t->data;
    size_t n = (size_t)t->numel;
    switch (t->dtype) {
    case WHET_DT_F32:
        memcpy(dst, src, n * sizeof(float));
        return WHET_OK;
    case WHET_DT_F16:
    case WHET_DT_BF16: {
        /* the mapping need not be 2-byte aligned for odd headers: convert through a small aligned buffer */
        uint16_t buf[1024];
        for (size_t i = 0; i < n; i += 1024) {
            size_t m = n - i < 1024 ? n - i : 1024;
            memcpy(buf, src + 2 * i, 2 * m);
            if (t->dtype == WHET_DT_F16) whet_fp16_to_f32_row(buf, dst + i, m);
            else whet_bf16_to_f32_row(buf, dst + i, m);
        }
        return WHET_OK;
    }
    case WHET_DT_F64:
        for (size_t i = 0; i < n; i++) {
            double d;
            memcpy(&d, src + 8 * i, 8);
            dst[i] = (float)d;
        }
        return WHET_OK;
    default:
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "tensor \"%s\" has dtype %s; a float type (F32/F16/BF16/F64) is needed",
                           t->name, whet_dtype_name(t->dtype));
    }
}

static void shape_str(char *out, size_t cap, int ndim, const int64_t *shape) {
    size_t k = (size_t)snprintf(out, cap, "[");
    for (int d = 0; d < ndim && k < cap; d++)
        k += (size_t)snprintf(out + k, cap - k, "%s%lld", d ? ", " : "", (long long)shape[d]);
    if (k < cap) snprintf(out + k, cap - k, "]");
}

whet_status whet_safetensors_read_f32(const whet_safetensors *st, const char *name, int ndim, const int64_t *shape,
                                      float *dst, whet_error *err) {
    const whet_st_tensor *t = whet_safetensors_find(st, name);
    if (!t) return whet_errorf(err, WHET_ERR_NOT_FOUND, "tensor \"%s\" not found", name);
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char want[160], got[160];
        shape_str(want, sizeof want, ndim, shape);
        shape_str(got, sizeof got, t->ndim, t->shape);
        return whet_errorf(err, WHET_ERR_SHAPE, "tensor \"%s\" has shape %s, expected %s", name, got, want);
    }
    return whet_st_tensor_to_f32(t, dst, err);
}

/* ---------------------------------------------------------------- writing */

typedef struct {
    char *name;
    whet_dtype dtype;
    int ndim;
    int64_t shape[WHET_MAX_DIMS];
    const void *data;
    size_t nbytes;
} st_entry;

struct whet_st_writer {
    st_entry *entries;
    size_t n, cap;
    cJSON *metadata;
    size_t data_bytes;
};

whet_status whet_st_writer_create(whet_st_writer **out, whet_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory creating a safetensors writer");
    return WHET_OK;
}

whet_status whet_st_writer_add(whet_st_writer *w, const char *name, whet_dtype dtype, int ndim, const int64_t *shape,
                               const void *data, whet_error *err) {
    if (!strcmp(name, "__metadata__") || !name[0])
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "safetensors writer: \"%s\" is not a valid tensor name", name);
    if (ndim < 0 || ndim > WHET_MAX_DIMS || dtype > WHET_DT_BOOL)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "safetensors writer: tensor \"%s\": bad ndim %d or dtype", name, ndim);
    for (size_t i = 0; i < w->n; i++)
        if (!strcmp(w->entries[i].name, name))
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "safetensors writer: tensor \"%s\" added twice", name);
    if (w->n == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64;
        st_entry *grown = realloc(w->entries, cap * sizeof *grown);
        if (!grown) return whet_errorf(err, WHET_ERR_NOMEM, "safetensors writer: out of memory");
        w->entries = grown;
        w->cap = cap;
    }
    st_entry *e = &w->entries[w->n];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name) return whet_errorf(err, WHET_ERR_NOMEM, "safetensors writer: out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) {
        e->shape[d] = shape[d];
        numel *= (size_t)shape[d];
    }
    e->data = data;
    e->nbytes = numel * whet_dtype_block_bytes(dtype);
    w->data_bytes += e->nbytes;
    w->n++;
    return WHET_OK;
}

whet_status whet_st_writer_set_metadata(whet_st_writer *w, const char *key, const char *value, whet_error *err) {
    if (!w->metadata && !(w->metadata = cJSON_CreateObject()))
        return whet_errorf(err, WHET_ERR_NOMEM, "safetensors writer: out of memory");
    cJSON_DeleteItemFromObjectCaseSensitive(w->metadata, key);
    if (!cJSON_AddStringToObject(w->metadata, key, value))
        return whet_errorf(err, WHET_ERR_NOMEM, "safetensors writer: out of memory");
    return WHET_OK;
}

size_t whet_st_writer_data_bytes(const whet_st_writer *w) { return w->data_bytes; }

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const st_entry *)a)->name, ((const st_entry *)b)->name);
}

/* The JSON header with offsets in sorted-name order, space-padded to 8 bytes. */
static char *build_header(whet_st_writer *w, size_t *len) {
    cJSON *h = cJSON_CreateObject();
    if (!h) return NULL;
    if (w->metadata) cJSON_AddItemToObject(h, "__metadata__", cJSON_Duplicate(w->metadata, 1));
    size_t off = 0;
    for (size_t i = 0; i < w->n; i++) {
        const st_entry *e = &w->entries[i];
        cJSON *o = cJSON_AddObjectToObject(h, e->name);
        cJSON_AddStringToObject(o, "dtype", whet_dtype_name(e->dtype));
        cJSON *sh = cJSON_AddArrayToObject(o, "shape");
        for (int d = 0; d < e->ndim; d++) cJSON_AddItemToArray(sh, cJSON_CreateNumber((double)e->shape[d]));
        cJSON *of = cJSON_AddArrayToObject(o, "data_offsets");
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(of, cJSON_CreateNumber((double)(off + e->nbytes)));
        off += e->nbytes;
    }
    char *text = cJSON_PrintUnformatted(h);
    cJSON_Delete(h);
    if (!text) return NULL;
    size_t n = strlen(text), padded = (n + 7) / 8 * 8;
    char *out = realloc(text, padded + 1);
    if (!out) { free(text); return NULL; }
    memset(out + n, ' ', padded - n);
    out[padded] = 0;
    *len = padded;
    return out;
}

whet_status whet_st_writer_write(whet_st_writer *w, const char *path, whet_error *err) {
    qsort(w->entries, w->n, sizeof *w->entries, cmp_entry);
    size_t hlen = 0;
    char *header = build_header(w, &hlen);
    if (!header) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory building the safetensors header", path);
    whet_atomic_file af;
    whet_status s = whet_atomic_open(&af, path, err);
    if (s != WHET_OK) { free(header); return s; }
    uint8_t len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    bool ok = fwrite(len8, 1, 8, af.fp) == 8 && fwrite(header, 1, hlen, af.fp) == hlen;
    for (size_t i = 0; ok && i < w->n; i++)
        ok = w->entries[i].nbytes == 0 || fwrite(w->entries[i].data, 1, w->entries[i].nbytes, af.fp) == w->entries[i].nbytes;
    free(header);
    if (!ok) {
        whet_atomic_abort(&af);
        return whet_errorf(err, WHET_ERR_IO, "%s: write failed (disk full?)", path);
    }
    return whet_atomic_commit(&af, err);
}

void whet_st_writer_free(whet_st_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n; i++) free(w->entries[i].name);
    free(w->entries);
    cJSON_Delete(w->metadata);
    free(w);
}
