/* model.c: load a Hugging Face Llama-family folder (config.json +
 * safetensors, single file or sharded) into a whet_model, look weights up by
 * their HF names, and manage the paged KV pool. The forward pass is in
 * model_forward.c.
 *
 * Weights point straight into the read-only mapping when their dtype is
 * already what the forward uses (f32, or f16/bf16 with keep_dtype); otherwise
 * they are widened to f32 once at load into buffers the model owns. Widening
 * at load is the default because training (which needs f32 base weights for
 * its backward) and the tests share the loader; keep_dtype halves memory for
 * bf16 inference and widens per tile in matmul instead. */
#include "model/model.h"
#include "core/file.h"
#include "io/gguf.h"
#include "model/model_gguf.h"
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Buffers converted at load, freed with the model. */
typedef struct {
    void **bufs;
    size_t n, cap;
} owned_list;

void *whet_model_owned_alloc(whet_model *m, size_t bytes) {
    owned_list *o = m->owned;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 64;
        void **g = realloc(o->bufs, cap * sizeof *g);
        if (!g) return NULL;
        o->bufs = g;
        o->cap = cap;
    }
    void *p = malloc(bytes ? bytes : 1);
    if (p) o->bufs[o->n++] = p;
    return p;
}

/* Find `name`, check its shape, and return it. */
static whet_status get_tensor(whet_model *m, const char *name, int ndim, const int64_t *shape,
                              const whet_st_tensor **out, whet_error *err) {
    const whet_st_tensor *t = whet_safetensors_find(m->st, name);
    if (!t)
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: tensor \"%s\" is missing from the safetensors files (is this a "
                           "%s checkpoint in Hugging Face layout?)", m->dir, name, m->cfg.model_type);
    bool same = t->ndim == ndim;
    for (int d = 0; same && d < ndim; d++) same = t->shape[d] == shape[d];
    if (!same) {
        char got[128] = "", want[128] = "";
        for (int d = 0; d < t->ndim; d++)
            snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)shape[d]);
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: tensor \"%s\" has shape [%s] but config.json implies [%s]", m->dir,
                           name, got, want);
    }
    if (t->dtype != WHET_DT_F32 && t->dtype != WHET_DT_F16 && t->dtype != WHET_DT_BF16)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor \"%s\" has dtype %s (model weights must be F32, F16 or "
                           "BF16)", m->dir, name, whet_dtype_name(t->dtype));
    *out = t;
    return WHET_OK;
}

static bool aligned(const void *p, size_t a) { return ((uintptr_t)p % a) == 0; }

/* A float vector (norm weight, bias) as f32. */
static whet_status load_vec(whet_model *m, const char *name, int64_t n, const float **out, whet_error *err) {
    const whet_st_tensor *t;
    WHET_TRY(get_tensor(m, name, 1, &n, &t, err));
    if (t->dtype == WHET_DT_F32 && aligned(t->data, sizeof(float))) {
        *out = t->data;
        return WHET_OK;
    }
    float *buf = whet_model_owned_alloc(m, (size_t)n * sizeof(float));
    if (!buf) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for \"%s\"", m->dir, name);
    WHET_TRY(whet_st_tensor_to_f32(t, buf, err));
    *out = buf;
    return WHET_OK;
}

static whet_status load_mat(whet_model *m, const char *name, int64_t rows, int64_t cols, bool keep_dtype,
                            whet_weight *w, whet_error *err) {
    const whet_st_tensor *t;
    int64_t shape[2] = {rows, cols};
    WHET_TRY(get_tensor(m, name, 2, shape, &t, err));
    w->rows = rows;
    w->cols = cols;
    w->scales = NULL;
    size_t esize = t->dtype == WHET_DT_F32 ? 4 : 2;
    if ((t->dtype == WHET_DT_F32 || keep_dtype) && aligned(t->data, esize)) {
        w->dtype = t->dtype;
        w->data = t->data;
        return WHET_OK;
    }
    float *buf = whet_model_owned_alloc(m, (size_t)(rows * cols) * sizeof(float));
    if (!buf)
        return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory widening \"%s\" [%lld, %lld] to f32", m->dir, name,
                           (long long)rows, (long long)cols);
    WHET_TRY(whet_st_tensor_to_f32(t, buf, err));
    w->dtype = WHET_DT_F32;
    w->data = buf;
    return WHET_OK;
}

static whet_status load_layer(whet_model *m, int i, bool keep, whet_error *err) {
    const whet_model_config *c = &m->cfg;
    whet_layer_weights *L = &m->layers[i];
    int64_t H = c->hidden_size, I = c->intermediate_size, qd = (int64_t)c->n_heads * c->head_dim,
            kvd = (int64_t)c->n_kv_heads * c->head_dim;
    char n[160];
#define NAME(fmt) (snprintf(n, sizeof n, "model.layers.%d." fmt, i), n)
    WHET_TRY(load_mat(m, NAME("self_attn.q_proj.weight"), qd, H, keep, &L->q_proj, err));
    WHET_TRY(load_mat(m, NAME("self_attn.k_proj.weight"), kvd, H, keep, &L->k_proj, err));
    WHET_TRY(load_mat(m, NAME("self_attn.v_proj.weight"), kvd, H, keep, &L->v_proj, err));
    WHET_TRY(load_mat(m, NAME("self_attn.o_proj.weight"), H, qd, keep, &L->o_proj, err));
    WHET_TRY(load_mat(m, NAME("mlp.gate_proj.weight"), I, H, keep, &L->gate_proj, err));
    WHET_TRY(load_mat(m, NAME("mlp.up_proj.weight"), I, H, keep, &L->up_proj, err));
    WHET_TRY(load_mat(m, NAME("mlp.down_proj.weight"), H, I, keep, &L->down_proj, err));
    WHET_TRY(load_vec(m, NAME("input_layernorm.weight"), H, &L->input_norm, err));
    WHET_TRY(load_vec(m, NAME("post_attention_layernorm.weight"), H, &L->post_attn_norm, err));
    if (c->attention_bias) {
        WHET_TRY(load_vec(m, NAME("self_attn.q_proj.bias"), qd, &L->q_bias, err));
        WHET_TRY(load_vec(m, NAME("self_attn.k_proj.bias"), kvd, &L->k_bias, err));
        WHET_TRY(load_vec(m, NAME("self_attn.v_proj.bias"), kvd, &L->v_bias, err));
    }
    if (c->o_bias) WHET_TRY(load_vec(m, NAME("self_attn.o_proj.bias"), H, &L->o_bias, err));
    if (c->mlp_bias)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: config.json sets mlp_bias=true, which whet does not support",
                           m->dir);
    if (c->qk_norm) {
        WHET_TRY(load_vec(m, NAME("self_attn.q_norm.weight"), c->head_dim, &L->q_norm, err));
        WHET_TRY(load_vec(m, NAME("self_attn.k_norm.weight"), c->head_dim, &L->k_norm, err));
    }
#undef NAME
    return WHET_OK;
}

static whet_status load_weights(whet_model *m, bool keep, whet_error *err) {
    const whet_model_config *c = &m->cfg;
    WHET_TRY(load_mat(m, "model.embed_tokens.weight", c->vocab_size, c->hidden_size, keep, &m->embed, err));
    if (c->tie_word_embeddings) {
        m->lm_head = m->embed;
    } else if (!whet_safetensors_find(m->st, "lm_head.weight")) {
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: tensor \"lm_head.weight\" is missing and config.json has "
                           "tie_word_embeddings=false (set it to true if the model shares its embedding)", m->dir);
    } else {
        WHET_TRY(load_mat(m, "lm_head.weight", c->vocab_size, c->hidden_size, keep, &m->lm_head, err));
    }
    WHET_TRY(load_vec(m, "model.norm.weight", c->hidden_size, &m->final_norm, err));
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", m->dir);
    for (int i = 0; i < c->n_layers; i++) WHET_TRY(load_layer(m, i, keep, err));
    return WHET_OK;
}

whet_status whet_model_load(const char *dir, const whet_model_load_opts *opts, whet_model **out, whet_error *err) {
    *out = NULL;
    whet_model *m = calloc(1, sizeof *m);
    owned_list *o = calloc(1, sizeof *o);
    if (!m || !o) {
        free(m);
        free(o);
        return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", dir);
    }
    m->owned = o;
    snprintf(m->dir, sizeof m->dir, "%s", dir);
    whet_model_load_opts def = {0};
    if (!opts) opts = &def;
    whet_status s;
    if (whet_is_gguf_file(dir)) {
        s = whet_model_bind_gguf(m, dir, opts->keep_dtype, err);
    } else {
        s = whet_hf_config_load(dir, &m->cfg, err);
        if (s == WHET_OK) s = whet_safetensors_open_dir(dir, &m->st, err);
        if (s == WHET_OK) s = load_weights(m, opts->keep_dtype, err);
    }
    if (s == WHET_OK && !m->rope_inv_freq) {
        m->rope_inv_freq = whet_model_owned_alloc(m, (size_t)(m->cfg.head_dim / 2) * sizeof(float));
        if (!m->rope_inv_freq) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", dir);
        else whet_rope_inv_freq(&m->cfg, m->rope_inv_freq);
    }
    int threads = opts->n_threads > 0 ? opts->n_threads : whet_default_threads();
    if (s == WHET_OK && threads > 1) s = whet_threadpool_create(threads, &m->pool, err);
    if (s != WHET_OK) {
        whet_model_free(m);
        return s;
    }
    *out = m;
    return WHET_OK;
}

void whet_model_free(whet_model *m) {
    if (!m) return;
    owned_list *o = m->owned;
    if (o) {
        for (size_t i = 0; i < o->n; i++) free(o->bufs[i]);
        free(o->bufs);
        free(o);
    }
    free(m->layers);
    whet_threadpool_destroy(m->pool);
    whet_safetensors_close(m->st);
    whet_gguf_close(m->gguf);
    free(m);
}

whet_weight *whet_model_find_weight(whet_model *m, const char *hf_name) {
    if (!strcmp(hf_name, "model.embed_tokens.weight")) return &m->embed;
    if (!strcmp(hf_name, "lm_head.weight")) return &m->lm_head;
    int layer, used = 0;
    if (sscanf(hf_name, "model.layers.%d.%n", &layer, &used) != 1 || used == 0 || layer < 0 ||
        layer >= m->cfg.n_layers)
        return NULL;
    const char *rest = hf_name + used;
    whet_layer_weights *L = &m->layers[layer];
    static const struct { const char *name; size_t off; } k_mats[] = {
        {"self_attn.q_proj.weight", offsetof(whet_layer_weights, q_proj)},
        {"self_attn.k_proj.weight", offsetof(whet_layer_weights, k_proj)},
        {"self_attn.v_proj.weight", offsetof(whet_layer_weights, v_proj)},
        {"self_attn.o_proj.weight", offsetof(whet_layer_weights, o_proj)},
        {"mlp.gate_proj.weight", offsetof(whet_layer_weights, gate_proj)},
        {"mlp.up_proj.weight", offsetof(whet_layer_weights, up_proj)},
        {"mlp.down_proj.weight", offsetof(whet_layer_weights, down_proj)},
    };
    for (size_t i = 0; i < sizeof k_mats / sizeof *k_mats; i++)
        if (!strcmp(rest, k_mats[i].name)) return (whet_weight *)((char *)L + k_mats[i].off);
    return NULL;
}

whet_status whet_kv_pool_init(whet_kv_pool *kv, const whet_model_config *cfg, int block_size, int n_blocks,
                              whet_error *err) {
    memset(kv, 0, sizeof *kv);
    if (block_size <= 0 || n_blocks <= 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "KV pool: block_size %d and n_blocks %d must be positive",
                           block_size, n_blocks);
    size_t n = (size_t)cfg->n_layers * (size_t)n_blocks * (size_t)block_size * (size_t)cfg->n_kv_heads *
               (size_t)cfg->head_dim;
    kv->k = calloc(n, sizeof(float));
    kv->v = calloc(n, sizeof(float));
    if (!kv->k || !kv->v) {
        whet_kv_pool_free(kv);
        return whet_errorf(err, WHET_ERR_NOMEM, "KV pool: cannot allocate 2 x %.1f MiB (%d blocks of %d tokens); use "
                           "fewer blocks", (double)n * 4 / 1048576.0, n_blocks, block_size);
    }
    kv->n_layers = cfg->n_layers;
    kv->n_kv_heads = cfg->n_kv_heads;
    kv->head_dim = cfg->head_dim;
    kv->block_size = block_size;
    kv->n_blocks = n_blocks;
    return WHET_OK;
}

void whet_kv_pool_free(whet_kv_pool *kv) {
    free(kv->k);
    free(kv->v);
    kv->k = kv->v = NULL;
}
