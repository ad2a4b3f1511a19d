/* gguf_write.c: the GGUF v3 writer (see gguf.h). Metadata is serialized as
 * it is set (insertion order, as gguf-py writes it); tensors are laid out in
 * the order added, each at the running offset padded to 32 bytes, the data
 * section starting 32-aligned and the file end padded, which is what
 * llama.cpp's gguf_init_from_file and Ollama's reader require. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/atomic_file.h"
#include "core/strbuf.h"
#include "io/gguf.h"

typedef struct {
    char name[WHET_GGUF_MAX_NAME + 1];
    whet_dtype dtype;
    int n_dims;
    int64_t ne[WHET_GGUF_MAX_DIMS];
    void *data;
    bool owned;
    size_t nbytes;
} out_tensor;

struct whet_gguf_writer {
    whet_strbuf kv;       /* serialized KV pairs */
    size_t n_kv;
    char **keys;
    size_t keys_cap;
    out_tensor *t;
    size_t n_t, cap_t;
};

whet_status whet_gguf_writer_create(whet_gguf_writer **out, whet_error *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return whet_errorf(err, WHET_ERR_NOMEM, "gguf writer: out of memory");
    whet_sb_init(&(*out)->kv);
    return WHET_OK;
}

void whet_gguf_writer_free(whet_gguf_writer *w) {
    if (!w) return;
    for (size_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    for (size_t i = 0; i < w->n_t; i++)
        if (w->t[i].owned) free(w->t[i].data);
    free(w->t);
    whet_sb_free(&w->kv);
    free(w);
}

static void put_le(whet_strbuf *sb, uint64_t v, int n) {
    char b[8];
    for (int i = 0; i < n; i++) b[i] = (char)(v >> (8 * i));
    whet_sb_append(sb, b, (size_t)n);
}

static void put_str(whet_strbuf *sb, const char *s) {
    size_t n = strlen(s);
    put_le(sb, n, 8);
    whet_sb_append(sb, s, n);
}

/* Start a KV: duplicate check, key, type tag. */
static whet_status begin_kv(whet_gguf_writer *w, const char *key, whet_gguf_type type, whet_error *err) {
    for (size_t i = 0; i < w->n_kv; i++)
        if (!strcmp(w->keys[i], key)) return whet_errorf(err, WHET_ERR_INVALID_ARG, "gguf: duplicate key '%s'", key);
    if (w->n_kv == w->keys_cap) {
        size_t cap = w->keys_cap ? 2 * w->keys_cap : 32;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) return whet_errorf(err, WHET_ERR_NOMEM, "gguf: out of memory");
        w->keys = k;
        w->keys_cap = cap;
    }
    size_t n = strlen(key) + 1;
    if (!(w->keys[w->n_kv] = malloc(n))) return whet_errorf(err, WHET_ERR_NOMEM, "gguf: out of memory");
    memcpy(w->keys[w->n_kv++], key, n);
    put_str(&w->kv, key);
    put_le(&w->kv, (uint64_t)type, 4);
    return WHET_OK;
}

static whet_status end_kv(whet_gguf_writer *w, whet_error *err) {
    return w->kv.oom ? whet_errorf(err, WHET_ERR_NOMEM, "gguf: out of memory") : WHET_OK;
}

whet_status whet_gguf_set_str(whet_gguf_writer *w, const char *key, const char *value, whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_STRING, err));
    put_str(&w->kv, value);
    return end_kv(w, err);
}

whet_status whet_gguf_set_u32(whet_gguf_writer *w, const char *key, uint32_t value, whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_UINT32, err));
    put_le(&w->kv, value, 4);
    return end_kv(w, err);
}

whet_status whet_gguf_set_i32(whet_gguf_writer *w, const char *key, int32_t value, whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_INT32, err));
    put_le(&w->kv, (uint32_t)value, 4);
    return end_kv(w, err);
}

whet_status whet_gguf_set_f32(whet_gguf_writer *w, const char *key, float value, whet_error *err) {
    uint32_t u;
    memcpy(&u, &value, 4);
    WHET_TRY(begin_kv(w, key, WHET_GGUF_FLOAT32, err));
    put_le(&w->kv, u, 4);
    return end_kv(w, err);
}

whet_status whet_gguf_set_bool(whet_gguf_writer *w, const char *key, bool value, whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_BOOL, err));
    put_le(&w->kv, value ? 1 : 0, 1);
    return end_kv(w, err);
}

whet_status whet_gguf_set_arr_str(whet_gguf_writer *w, const char *key, const char *const *values, size_t n,
                                  whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_ARRAY, err));
    put_le(&w->kv, WHET_GGUF_STRING, 4);
    put_le(&w->kv, n, 8);
    for (size_t i = 0; i < n; i++) put_str(&w->kv, values[i]);
    return end_kv(w, err);
}

whet_status whet_gguf_set_arr_i32(whet_gguf_writer *w, const char *key, const int32_t *values, size_t n,
                                  whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_ARRAY, err));
    put_le(&w->kv, WHET_GGUF_INT32, 4);
    put_le(&w->kv, n, 8);
    for (size_t i = 0; i < n; i++) put_le(&w->kv, (uint32_t)values[i], 4);
    return end_kv(w, err);
}

whet_status whet_gguf_set_arr_f32(whet_gguf_writer *w, const char *key, const float *values, size_t n,
                                  whet_error *err) {
    WHET_TRY(begin_kv(w, key, WHET_GGUF_ARRAY, err));
    put_le(&w->kv, WHET_GGUF_FLOAT32, 4);
    put_le(&w->kv, n, 8);
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &values[i], 4);
        put_le(&w->kv, u, 4);
    }
    return end_kv(w, err);
}

whet_status whet_gguf_add_tensor(whet_gguf_writer *w, const char *name, whet_dtype dtype, int n_dims,
                                 const int64_t *ne, void *data, bool take, whet_error *err) {
    whet_status s = WHET_OK;
    size_t len = strlen(name);
    int64_t numel = 1;
    if (len == 0 || len > WHET_GGUF_MAX_NAME)
        s = whet_errorf(err, WHET_ERR_INVALID_ARG, "gguf: tensor name '%s' must be 1..%d bytes", name,
                        WHET_GGUF_MAX_NAME);
    else if (whet_gguf_ggml_type(dtype) < 0)
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "gguf: tensor '%s': dtype %s has no GGUF type", name,
                        whet_dtype_name(dtype));
    else if (n_dims < 1 || n_dims > WHET_GGUF_MAX_DIMS)
        s = whet_errorf(err, WHET_ERR_SHAPE, "gguf: tensor '%s': %d dims (1..4 allowed)", name, n_dims);
    else if (ne[0] % (int64_t)whet_dtype_block_elems(dtype))
        s = whet_errorf(err, WHET_ERR_SHAPE, "gguf: tensor '%s': row length %lld is not a multiple of %s's block "
                        "size %zu", name, (long long)ne[0], whet_dtype_name(dtype), whet_dtype_block_elems(dtype));
    for (size_t i = 0; s == WHET_OK && i < w->n_t; i++)
        if (!strcmp(w->t[i].name, name)) s = whet_errorf(err, WHET_ERR_INVALID_ARG, "gguf: duplicate tensor '%s'", name);
    if (s == WHET_OK && w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? 2 * w->cap_t : 64;
        out_tensor *t = realloc(w->t, cap * sizeof *t);
        if (!t) s = whet_errorf(err, WHET_ERR_NOMEM, "gguf: out of memory");
        else {
            w->t = t;
            w->cap_t = cap;
        }
    }
    if (s != WHET_OK) {
        if (take) free(data);
        return s;
    }
    out_tensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    memcpy(t->name, name, len + 1);
    t->dtype = dtype;
    t->n_dims = n_dims;
    for (int d = 0; d < WHET_GGUF_MAX_DIMS; d++) t->ne[d] = d < n_dims ? ne[d] : 1;
    for (int d = 0; d < n_dims; d++) numel *= ne[d];
    t->nbytes = whet_dtype_nbytes(dtype, (size_t)numel);
    t->data = data;
    t->owned = take;
    return WHET_OK;
}

static size_t pad_to(size_t n, size_t a) { return (n + a - 1) / a * a; }

static whet_status write_all(whet_gguf_writer *w, FILE *fp, const char *path, whet_error *err) {
    static const char zeros[WHET_GGUF_DEFAULT_ALIGNMENT] = {0};
    whet_strbuf head;
    whet_sb_init(&head);
    whet_sb_append(&head, "GGUF", 4);
    put_le(&head, 3, 4);
    put_le(&head, w->n_t, 8);
    put_le(&head, w->n_kv, 8);
    whet_sb_append(&head, w->kv.data ? w->kv.data : "", w->kv.len);
    size_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        const out_tensor *t = &w->t[i];
        put_str(&head, t->name);
        put_le(&head, (uint64_t)t->n_dims, 4);
        for (int d = 0; d < t->n_dims; d++) put_le(&head, (uint64_t)t->ne[d], 8);
        put_le(&head, (uint64_t)whet_gguf_ggml_type(t->dtype), 4);
        put_le(&head, off, 8);
        off += pad_to(t->nbytes, WHET_GGUF_DEFAULT_ALIGNMENT);
    }
    if (head.oom) {
        whet_sb_free(&head);
        return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    }
    const size_t head_len = head.len, head_pad = pad_to(head_len, WHET_GGUF_DEFAULT_ALIGNMENT) - head_len;
    bool ok = fwrite(head.data, 1, head_len, fp) == head_len && fwrite(zeros, 1, head_pad, fp) == head_pad;
    whet_sb_free(&head);
    for (size_t i = 0; ok && i < w->n_t; i++) {
        const out_tensor *t = &w->t[i];
        const size_t pad = pad_to(t->nbytes, WHET_GGUF_DEFAULT_ALIGNMENT) - t->nbytes;
        ok = fwrite(t->data, 1, t->nbytes, fp) == t->nbytes && fwrite(zeros, 1, pad, fp) == pad;
    }
    return ok ? WHET_OK : whet_errorf(err, WHET_ERR_IO, "%s: write failed (disk full?)", path);
}

whet_status whet_gguf_writer_write(whet_gguf_writer *w, const char *path, whet_error *err) {
    whet_atomic_file af;
    WHET_TRY(whet_atomic_open(&af, path, err));
    whet_status s = write_all(w, af.fp, path, err);
    if (s != WHET_OK) {
        whet_atomic_abort(&af);
        return s;
    }
    return whet_atomic_commit(&af, err);
}
