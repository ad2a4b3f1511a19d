/* gguf.c: the GGUF reader (see gguf.h). Everything is parsed through a
 * bounds-checked cursor over the read-only mapping; a failed check stops
 * with "<file>: <what> at byte <offset>: <why>". */
#include "io/gguf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"

typedef struct { int blck; int size; } ggml_type_size;

/* Block elements and bytes of the ggml types a file may hold (ggml.h ids). */
static ggml_type_size ggml_size(int type) {
    switch (type) {
    case 0: return (ggml_type_size){1, 4};     /* F32 */
    case 1: return (ggml_type_size){1, 2};     /* F16 */
    case 2: return (ggml_type_size){32, 18};   /* Q4_0 */
    case 3: return (ggml_type_size){32, 20};   /* Q4_1 */
    case 6: return (ggml_type_size){32, 22};   /* Q5_0 */
    case 7: return (ggml_type_size){32, 24};   /* Q5_1 */
    case 8: return (ggml_type_size){32, 34};   /* Q8_0 */
    case 9: return (ggml_type_size){32, 36};   /* Q8_1 */
    case 10: return (ggml_type_size){256, 84}; /* Q2_K */
    case 11: return (ggml_type_size){256, 110}; /* Q3_K */
    case 12: return (ggml_type_size){256, 144}; /* Q4_K */
    case 13: return (ggml_type_size){256, 176}; /* Q5_K */
    case 14: return (ggml_type_size){256, 210}; /* Q6_K */
    case 15: return (ggml_type_size){256, 292}; /* Q8_K */
    case 24: return (ggml_type_size){1, 1};    /* I8 */
    case 25: return (ggml_type_size){1, 2};    /* I16 */
    case 26: return (ggml_type_size){1, 4};    /* I32 */
    case 27: return (ggml_type_size){1, 8};    /* I64 */
    case 28: return (ggml_type_size){1, 8};    /* F64 */
    case 30: return (ggml_type_size){1, 2};    /* BF16 */
    default: return (ggml_type_size){0, 0};
    }
}

int whet_gguf_ggml_type(whet_dtype t) {
    switch (t) {
    case WHET_DT_F32: return 0;
    case WHET_DT_F16: return 1;
    case WHET_DT_Q4_0: return 2;
    case WHET_DT_Q4_1: return 3;
    case WHET_DT_Q5_0: return 6;
    case WHET_DT_Q5_1: return 7;
    case WHET_DT_Q8_0: return 8;
    case WHET_DT_Q2_K: return 10;
    case WHET_DT_Q3_K: return 11;
    case WHET_DT_Q4_K: return 12;
    case WHET_DT_Q5_K: return 13;
    case WHET_DT_Q6_K: return 14;
    case WHET_DT_I8: return 24;
    case WHET_DT_I16: return 25;
    case WHET_DT_I32: return 26;
    case WHET_DT_I64: return 27;
    case WHET_DT_F64: return 28;
    case WHET_DT_BF16: return 30;
    default: return -1;
    }
}

int whet_gguf_dtype_of_ggml(int ggml_type) {
    for (int t = 0; t < WHET_DT_COUNT; t++)
        if (whet_gguf_ggml_type((whet_dtype)t) == ggml_type) return t;
    return -1;
}

struct whet_gguf {
    char path[4096];
    whet_mmap map;
    uint32_t version;
    size_t alignment;
    size_t n_kv, n_tensors;
    whet_gguf_kv *kv;
    whet_gguf_tensor *tensors;
    /* keys and tensor names are malloc'd NUL-terminated copies */
};

typedef struct {
    const uint8_t *base;
    size_t size, pos;
    const char *path;
    whet_error *err;
} cursor;

static whet_status fail(cursor *c, const char *what, const char *why) {
    return whet_errorf(c->err, WHET_ERR_FORMAT, "%s: %s at byte %zu: %s (the file is truncated or not a valid GGUF; "
                       "re-download or re-export it)", c->path, what, c->pos, why);
}

static whet_status need(cursor *c, uint64_t n, const char *what) {
    if (n > c->size - c->pos) return fail(c, what, "runs past the end of the file");
    return WHET_OK;
}

static uint64_t rd_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static whet_status rd_u32(cursor *c, uint32_t *v, const char *what) {
    WHET_TRY(need(c, 4, what));
    *v = (uint32_t)rd_le(c->base + c->pos, 4);
    c->pos += 4;
    return WHET_OK;
}

static whet_status rd_u64(cursor *c, uint64_t *v, const char *what) {
    WHET_TRY(need(c, 8, what));
    *v = rd_le(c->base + c->pos, 8);
    c->pos += 8;
    return WHET_OK;
}

static whet_status rd_str(cursor *c, const char **s, uint64_t *len, const char *what) {
    WHET_TRY(rd_u64(c, len, what));
    WHET_TRY(need(c, *len, what));
    *s = (const char *)c->base + c->pos;
    c->pos += *len;
    return WHET_OK;
}

static int scalar_size(whet_gguf_type t) {
    static const int sz[WHET_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return (unsigned)t < WHET_GGUF_TYPE_COUNT ? sz[t] : 0;
}

static void set_scalar(whet_gguf_kv *kv, const uint8_t *p) {
    const int n = scalar_size(kv->type);
    uint64_t raw = rd_le(p, n);
    kv->u = raw;
    switch (kv->type) {
    case WHET_GGUF_INT8: kv->i = (int8_t)raw; break;
    case WHET_GGUF_INT16: kv->i = (int16_t)raw; break;
    case WHET_GGUF_INT32: kv->i = (int32_t)raw; break;
    case WHET_GGUF_INT64: kv->i = (int64_t)raw; break;
    case WHET_GGUF_FLOAT32: { uint32_t u = (uint32_t)raw; float f; memcpy(&f, &u, 4); kv->f = f; break; }
    case WHET_GGUF_FLOAT64: { double d; memcpy(&d, &raw, 8); kv->f = d; break; }
    case WHET_GGUF_BOOL: kv->u = raw != 0; break;
    default: kv->i = (int64_t)raw; break;
    }
}

static whet_status read_array(cursor *c, whet_gguf_kv *kv, const char *what) {
    uint32_t et;
    WHET_TRY(rd_u32(c, &et, what));
    if (et >= WHET_GGUF_TYPE_COUNT || et == WHET_GGUF_ARRAY) return fail(c, what, "invalid array element type");
    kv->arr_type = (whet_gguf_type)et;
    WHET_TRY(rd_u64(c, &kv->arr_n, what));
    kv->arr_data = c->base + c->pos;
    if (et != WHET_GGUF_STRING) {
        const uint64_t esz = (uint64_t)scalar_size(kv->arr_type);
        if (kv->arr_n > (c->size - c->pos) / esz) return fail(c, what, "array runs past the end of the file");
        c->pos += kv->arr_n * esz;
        return WHET_OK;
    }
    if (kv->arr_n > (c->size - c->pos) / 8) return fail(c, what, "string array runs past the end of the file");
    uint64_t *off = malloc((kv->arr_n ? kv->arr_n : 1) * sizeof *off);
    if (!off) return whet_errorf(c->err, WHET_ERR_NOMEM, "%s: %s: out of memory", c->path, what);
    kv->arr_str_off = off;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        off[i] = (uint64_t)(c->base + c->pos - kv->arr_data);
        const char *s;
        uint64_t len;
        WHET_TRY(rd_str(c, &s, &len, what));
    }
    return WHET_OK;
}

static char *dup_n(const char *s, uint64_t n) {
    char *d = malloc((size_t)n + 1);
    if (d) {
        memcpy(d, s, (size_t)n);
        d[n] = 0;
    }
    return d;
}

static whet_status read_kvs(cursor *c, whet_gguf *g) {
    char what[160];
    for (size_t k = 0; k < g->n_kv; k++) {
        whet_gguf_kv *kv = &g->kv[k];
        const char *key;
        uint64_t klen;
        snprintf(what, sizeof what, "metadata entry %zu key", k);
        WHET_TRY(rd_str(c, &key, &klen, what));
        if (klen == 0 || memchr(key, 0, klen)) return fail(c, what, "empty key or NUL byte in key");
        if (!(kv->key = dup_n(key, klen))) return whet_errorf(c->err, WHET_ERR_NOMEM, "%s: out of memory", c->path);
        for (size_t j = 0; j < k; j++)
            if (!strcmp(g->kv[j].key, kv->key)) return fail(c, kv->key, "duplicate metadata key");
        snprintf(what, sizeof what, "metadata '%.100s'", kv->key);
        uint32_t type;
        WHET_TRY(rd_u32(c, &type, what));
        if (type >= WHET_GGUF_TYPE_COUNT) return fail(c, what, "invalid value type");
        kv->type = (whet_gguf_type)type;
        if (type == WHET_GGUF_STRING) {
            WHET_TRY(rd_str(c, &kv->str, &kv->str_len, what));
        } else if (type == WHET_GGUF_ARRAY) {
            WHET_TRY(read_array(c, kv, what));
        } else {
            WHET_TRY(need(c, (uint64_t)scalar_size(kv->type), what));
            set_scalar(kv, c->base + c->pos);
            c->pos += (size_t)scalar_size(kv->type);
        }
    }
    return WHET_OK;
}

static whet_status read_tensor_infos(cursor *c, whet_gguf *g) {
    char what[160];
    uint64_t expect = 0;
    for (size_t k = 0; k < g->n_tensors; k++) {
        whet_gguf_tensor *t = &g->tensors[k];
        const char *name;
        uint64_t nlen;
        snprintf(what, sizeof what, "tensor info %zu name", k);
        WHET_TRY(rd_str(c, &name, &nlen, what));
        if (nlen == 0 || nlen > WHET_GGUF_MAX_NAME || memchr(name, 0, nlen))
            return fail(c, what, "tensor names must be 1..63 bytes without NUL");
        if (!(t->name = dup_n(name, nlen))) return whet_errorf(c->err, WHET_ERR_NOMEM, "%s: out of memory", c->path);
        for (size_t j = 0; j < k; j++)
            if (!strcmp(g->tensors[j].name, t->name)) return fail(c, t->name, "duplicate tensor name");
        snprintf(what, sizeof what, "tensor '%s'", t->name);
        uint32_t nd;
        WHET_TRY(rd_u32(c, &nd, what));
        if (nd < 1 || nd > WHET_GGUF_MAX_DIMS) return fail(c, what, "n_dims must be 1..4");
        t->n_dims = (int)nd;
        int64_t numel = 1;
        for (int d = 0; d < WHET_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < nd; d++) {
            uint64_t ne;
            WHET_TRY(rd_u64(c, &ne, what));
            if (ne > (uint64_t)INT64_MAX || (ne && (uint64_t)numel > (uint64_t)INT64_MAX / ne))
                return fail(c, what, "dimension too large");
            t->ne[d] = (int64_t)ne;
            numel *= (int64_t)ne;
        }
        uint32_t type;
        WHET_TRY(rd_u32(c, &type, what));
        ggml_type_size ts = ggml_size((int)type);
        if (!ts.blck) {
            char why[96];
            snprintf(why, sizeof why, "ggml type %u is not one whet can read", type);
            return fail(c, what, why);
        }
        if (t->ne[0] % ts.blck) return fail(c, what, "row length is not a multiple of the type's block size");
        t->ggml_type = (int)type;
        t->dtype = whet_gguf_dtype_of_ggml((int)type);
        t->nbytes = (size_t)(numel / ts.blck) * (size_t)ts.size;
        WHET_TRY(rd_u64(c, &t->offset, what));
        if (t->offset != expect) {
            char why[128];
            snprintf(why, sizeof why, "data offset %llu, expected %llu (tensor data must be sequential and "
                     "%zu-aligned)", (unsigned long long)t->offset, (unsigned long long)expect, g->alignment);
            return fail(c, what, why);
        }
        expect += (t->nbytes + g->alignment - 1) / g->alignment * g->alignment;
    }
    return WHET_OK;
}

static whet_status check_alignment(cursor *c, whet_gguf *g) {
    g->alignment = WHET_GGUF_DEFAULT_ALIGNMENT;
    const whet_gguf_kv *a = whet_gguf_find_kv(g, "general.alignment");
    if (!a) return WHET_OK;
    if (a->type != WHET_GGUF_UINT32) return fail(c, "general.alignment", "must be UINT32");
    if (a->u == 0 || (a->u & (a->u - 1))) return fail(c, "general.alignment", "must be a power of two");
    g->alignment = (size_t)a->u;
    return WHET_OK;
}

static whet_status parse(cursor *c, whet_gguf *g) {
    if (c->size < 24) return fail(c, "header", "file is smaller than a GGUF header (24 bytes)");
    if (memcmp(c->base, "GGUF", 4)) return fail(c, "header", "magic is not \"GGUF\"");
    c->pos = 4;
    WHET_TRY(rd_u32(c, &g->version, "version"));
    if (g->version < 2 || g->version > 3) {
        c->pos = 4;
        return fail(c, "version", g->version == 1 ? "GGUF v1 is not supported (convert it with a newer llama.cpp)"
                                                  : "unknown GGUF version (whet reads v2 and v3)");
    }
    uint64_t nt, nkv;
    WHET_TRY(rd_u64(c, &nt, "tensor count"));
    WHET_TRY(rd_u64(c, &nkv, "metadata count"));
    /* every KV takes >= 13 bytes and every tensor info >= 28; bounds the allocations */
    if (nkv > (c->size - c->pos) / 13) return fail(c, "metadata count", "larger than the file can hold");
    if (nt > (c->size - c->pos) / 28) return fail(c, "tensor count", "larger than the file can hold");
    g->n_kv = (size_t)nkv;
    g->n_tensors = (size_t)nt;
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors) return whet_errorf(c->err, WHET_ERR_NOMEM, "%s: out of memory", c->path);
    WHET_TRY(read_kvs(c, g));
    WHET_TRY(check_alignment(c, g));
    WHET_TRY(read_tensor_infos(c, g));
    const size_t data_start = (c->pos + g->alignment - 1) / g->alignment * g->alignment;
    for (size_t k = 0; k < g->n_tensors; k++) {
        whet_gguf_tensor *t = &g->tensors[k];
        if (data_start > c->size || t->offset > c->size - data_start || t->nbytes > c->size - data_start - t->offset) {
            c->pos = data_start;
            char what[96];
            snprintf(what, sizeof what, "tensor '%s' data", t->name);
            return fail(c, what, "runs past the end of the file");
        }
        t->data = c->base + data_start + t->offset;
    }
    return WHET_OK;
}

whet_status whet_gguf_open(const char *path, whet_gguf **out, whet_error *err) {
    *out = NULL;
    whet_gguf *g = calloc(1, sizeof *g);
    if (!g) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    snprintf(g->path, sizeof g->path, "%s", path);
    whet_status s = whet_mmap_open(path, &g->map, err);
    if (s == WHET_OK) {
        cursor c = {g->map.data, g->map.size, 0, path, err};
        s = g->map.size ? parse(&c, g) : whet_errorf(err, WHET_ERR_FORMAT, "%s: empty file, not a GGUF", path);
    }
    if (s != WHET_OK) {
        whet_gguf_close(g);
        return s;
    }
    *out = g;
    return WHET_OK;
}

void whet_gguf_close(whet_gguf *g) {
    if (!g) return;
    if (g->kv)
        for (size_t k = 0; k < g->n_kv; k++) {
            free((void *)g->kv[k].arr_str_off);
            free((void *)g->kv[k].key);
        }
    if (g->tensors)
        for (size_t k = 0; k < g->n_tensors; k++) free((void *)g->tensors[k].name);
    free(g->kv);
    free(g->tensors);
    whet_mmap_close(&g->map);
    free(g);
}

uint32_t whet_gguf_version(const whet_gguf *g) { return g->version; }
size_t whet_gguf_alignment(const whet_gguf *g) { return g->alignment; }
size_t whet_gguf_n_kv(const whet_gguf *g) { return g->n_kv; }
const whet_gguf_kv *whet_gguf_kv_at(const whet_gguf *g, size_t i) { return i < g->n_kv ? &g->kv[i] : NULL; }
size_t whet_gguf_n_tensors(const whet_gguf *g) { return g->n_tensors; }
const whet_gguf_tensor *whet_gguf_tensor_at(const whet_gguf *g, size_t i) {
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const whet_gguf_kv *whet_gguf_find_kv(const whet_gguf *g, const char *key) {
    for (size_t k = 0; k < g->n_kv; k++)
        if (g->kv[k].key && !strcmp(g->kv[k].key, key)) return &g->kv[k];
    return NULL;
}

const whet_gguf_tensor *whet_gguf_find_tensor(const whet_gguf *g, const char *name) {
    for (size_t k = 0; k < g->n_tensors; k++)
        if (!strcmp(g->tensors[k].name, name)) return &g->tensors[k];
    return NULL;
}

static const char *type_name(whet_gguf_type t) {
    static const char *n[WHET_GGUF_TYPE_COUNT] = {"UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
                                                  "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64"};
    return (unsigned)t < WHET_GGUF_TYPE_COUNT ? n[t] : "?";
}

static whet_status typed(const whet_gguf *g, const char *key, whet_gguf_type want, const whet_gguf_kv **kv,
                         whet_error *err) {
    *kv = whet_gguf_find_kv(g, key);
    if (!*kv) return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: metadata key '%s' is missing", g->path, key);
    if ((*kv)->type != want)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: metadata key '%s' has type %s, expected %s", g->path, key,
                           type_name((*kv)->type), type_name(want));
    return WHET_OK;
}

whet_status whet_gguf_get_u32(const whet_gguf *g, const char *key, uint32_t *out, whet_error *err) {
    const whet_gguf_kv *kv;
    WHET_TRY(typed(g, key, WHET_GGUF_UINT32, &kv, err));
    *out = (uint32_t)kv->u;
    return WHET_OK;
}

whet_status whet_gguf_get_f32(const whet_gguf *g, const char *key, float *out, whet_error *err) {
    const whet_gguf_kv *kv;
    WHET_TRY(typed(g, key, WHET_GGUF_FLOAT32, &kv, err));
    *out = (float)kv->f;
    return WHET_OK;
}

whet_status whet_gguf_get_bool(const whet_gguf *g, const char *key, bool *out, whet_error *err) {
    const whet_gguf_kv *kv;
    WHET_TRY(typed(g, key, WHET_GGUF_BOOL, &kv, err));
    *out = kv->u != 0;
    return WHET_OK;
}

whet_status whet_gguf_get_str(const whet_gguf *g, const char *key, char *buf, size_t cap, whet_error *err) {
    const whet_gguf_kv *kv;
    WHET_TRY(typed(g, key, WHET_GGUF_STRING, &kv, err));
    if (kv->str_len >= cap)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: metadata '%s' is %llu bytes, longer than the %zu expected",
                           g->path, key, (unsigned long long)kv->str_len, cap - 1);
    memcpy(buf, kv->str, (size_t)kv->str_len);
    buf[kv->str_len] = 0;
    return WHET_OK;
}

const char *whet_gguf_arr_str(const whet_gguf_kv *kv, uint64_t i, uint64_t *len) {
    const uint8_t *p = kv->arr_data + kv->arr_str_off[i];
    *len = rd_le(p, 8);
    return (const char *)p + 8;
}

int32_t whet_gguf_arr_i32(const whet_gguf_kv *kv, uint64_t i) { return (int32_t)rd_le(kv->arr_data + 4 * i, 4); }

float whet_gguf_arr_f32(const whet_gguf_kv *kv, uint64_t i) {
    uint32_t u = (uint32_t)rd_le(kv->arr_data + 4 * i, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

int64_t whet_gguf_tensor_numel(const whet_gguf_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->n_dims; d++) n *= t->ne[d];
    return n;
}
