/* model_gguf.c: load a llama.cpp GGUF file (llama, qwen2, qwen3 archs; what
 * `whet export` and convert_hf_to_gguf.py write) into a whet_model, so
 * generate / chat / perplexity / api run on it. The config comes from the
 * <arch>.* keys and the tensor shapes (io/gguf_config.c); the weights stay in the file's
 * mapping in their stored type (F32/F16/BF16, or Q8_0/Q4_K/... which matmul
 * and embedding read block by block), except Q/K of arch llama, whose rows
 * are un-permuted back to Hugging Face's rotate_half layout (a reorder of
 * whole rows, so quantized rows are moved, not requantized). Llama 3.1's
 * rope_freqs factors divide the base inverse frequencies as llama.cpp does. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/gguf.h"
#include "io/gguf_config.h"
#include "model/model_gguf.h"
#include "ops/quant.h"

typedef struct {
    whet_model *m;
    whet_gguf *g;
    const char *path;
    bool keep_dtype;
} gguf_loader;

/* The tensor `name` with ne = [cols, rows] (rows = 0: a vector of cols). */
static whet_status find(gguf_loader *L, const char *name, int64_t cols, int64_t rows, const whet_gguf_tensor **out,
                        whet_error *err) {
    const whet_gguf_tensor *t = whet_gguf_find_tensor(L->g, name);
    if (!t) return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: tensor %s is missing", L->path, name);
    bool ok = rows ? (t->n_dims == 2 && t->ne[0] == cols && t->ne[1] == rows) : (t->n_dims == 1 && t->ne[0] == cols);
    if (!ok)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: tensor %s has ne [%lld, %lld] but the metadata implies [%lld, %lld]",
                           L->path, name, (long long)t->ne[0], (long long)(t->n_dims > 1 ? t->ne[1] : 1),
                           (long long)cols, (long long)(rows ? rows : 1));
    if (t->dtype < 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor %s has ggml type %d, which whet cannot read (supported: "
                           "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)", L->path, name, t->ggml_type);
    *out = t;
    return WHET_OK;
}

static void *alloc_owned(gguf_loader *L, size_t bytes, const char *name, whet_error *err) {
    void *p = whet_model_owned_alloc(L->m, bytes);
    if (!p) whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %s", L->path, name);
    return p;
}

static whet_status load_vec(gguf_loader *L, const char *name, int64_t n, const float **out, whet_error *err) {
    const whet_gguf_tensor *t;
    WHET_TRY(find(L, name, n, 0, &t, err));
    if (t->dtype == WHET_DT_F32 && (uintptr_t)t->data % sizeof(float) == 0) {
        *out = t->data;
        return WHET_OK;
    }
    float *buf = alloc_owned(L, (size_t)n * sizeof(float), name, err);
    if (!buf) return err->code;
    whet_dequantize_row((whet_dtype)t->dtype, t->data, n, buf);
    *out = buf;
    return WHET_OK;
}

/* A matrix [rows, cols]; `permuted_heads` > 0: rows are llama.cpp's
 * interleaved Q/K layout for that many heads, put back in HF order. */
static whet_status load_mat(gguf_loader *L, const char *name, int64_t rows, int64_t cols, int permuted_heads,
                            whet_weight *w, whet_error *err) {
    const whet_gguf_tensor *t;
    WHET_TRY(find(L, name, cols, rows, &t, err));
    whet_dtype dt = (whet_dtype)t->dtype;
    if (cols % (int64_t)whet_dtype_block_elems(dt))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: %s rows of %lld are not whole %s blocks", L->path, name,
                           (long long)cols, whet_dtype_name(dt));
    size_t row_bytes = whet_dtype_nbytes(dt, (size_t)cols);
    const uint8_t *src = t->data;
    bool widen = !L->keep_dtype && (dt == WHET_DT_F16 || dt == WHET_DT_BF16);
    const void *data = src;
    if (permuted_heads > 0 || widen) {
        size_t out_row = widen ? (size_t)cols * sizeof(float) : row_bytes;
        uint8_t *buf = alloc_owned(L, out_row * (size_t)rows, name, err);
        if (!buf) return err->code;
        const int64_t hd = permuted_heads > 0 ? rows / permuted_heads : rows, half = hd / 2;
        for (int64_t r = 0; r < rows; r++) {
            int64_t from = r;
            if (permuted_heads > 0) {   /* HF row h*hd + j*half + i came from GGUF row h*hd + 2i + j */
                int64_t h = r / hd, k = r % hd, j = k / half, i = k % half;
                from = h * hd + 2 * i + j;
            }
            if (widen) whet_dequantize_row(dt, src + (size_t)from * row_bytes, cols, (float *)(buf + (size_t)r * out_row));
            else memcpy(buf + (size_t)r * out_row, src + (size_t)from * row_bytes, row_bytes);
        }
        data = buf;
        if (widen) dt = WHET_DT_F32;
    }
    *w = (whet_weight){.dtype = dt, .rows = rows, .cols = cols, .data = data, .scales = NULL};
    return WHET_OK;
}

static whet_status load_layer(gguf_loader *L, int li, whet_error *err) {
    const whet_model_config *c = &L->m->cfg;
    whet_layer_weights *W = &L->m->layers[li];
    int64_t H = c->hidden_size, I = c->intermediate_size, qd = (int64_t)c->n_heads * c->head_dim,
            kvd = (int64_t)c->n_kv_heads * c->head_dim;
    bool permute = c->arch == WHET_ARCH_LLAMA;
    char n[96];
#define NAME(s) (snprintf(n, sizeof n, "blk.%d." s, li), n)
    WHET_TRY(load_mat(L, NAME("attn_q.weight"), qd, H, permute ? c->n_heads : 0, &W->q_proj, err));
    WHET_TRY(load_mat(L, NAME("attn_k.weight"), kvd, H, permute ? c->n_kv_heads : 0, &W->k_proj, err));
    WHET_TRY(load_mat(L, NAME("attn_v.weight"), kvd, H, 0, &W->v_proj, err));
    WHET_TRY(load_mat(L, NAME("attn_output.weight"), H, qd, 0, &W->o_proj, err));
    WHET_TRY(load_mat(L, NAME("ffn_gate.weight"), I, H, 0, &W->gate_proj, err));
    WHET_TRY(load_mat(L, NAME("ffn_up.weight"), I, H, 0, &W->up_proj, err));
    WHET_TRY(load_mat(L, NAME("ffn_down.weight"), H, I, 0, &W->down_proj, err));
    WHET_TRY(load_vec(L, NAME("attn_norm.weight"), H, &W->input_norm, err));
    WHET_TRY(load_vec(L, NAME("ffn_norm.weight"), H, &W->post_attn_norm, err));
    if (c->attention_bias) {
        if (permute)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: arch llama with attention biases is not supported", L->path);
        WHET_TRY(load_vec(L, NAME("attn_q.bias"), qd, &W->q_bias, err));
        WHET_TRY(load_vec(L, NAME("attn_k.bias"), kvd, &W->k_bias, err));
        WHET_TRY(load_vec(L, NAME("attn_v.bias"), kvd, &W->v_bias, err));
    }
    if (c->o_bias) WHET_TRY(load_vec(L, NAME("attn_output.bias"), H, &W->o_bias, err));
    if (c->qk_norm) {
        WHET_TRY(load_vec(L, NAME("attn_q_norm.weight"), c->head_dim, &W->q_norm, err));
        WHET_TRY(load_vec(L, NAME("attn_k_norm.weight"), c->head_dim, &W->k_norm, err));
    }
#undef NAME
    return WHET_OK;
}

whet_status whet_model_bind_gguf(whet_model *m, const char *path, bool keep_dtype, whet_error *err) {
    gguf_loader L = {.m = m, .path = path, .keep_dtype = keep_dtype};
    WHET_TRY(whet_gguf_open(path, &L.g, err));
    m->gguf = L.g;
    WHET_TRY(whet_gguf_read_config(L.g, path, &m->cfg, err));
    const whet_model_config *c = &m->cfg;
    WHET_TRY(load_mat(&L, "token_embd.weight", c->vocab_size, c->hidden_size, 0, &m->embed, err));
    if (c->tie_word_embeddings) m->lm_head = m->embed;
    else WHET_TRY(load_mat(&L, "output.weight", c->vocab_size, c->hidden_size, 0, &m->lm_head, err));
    WHET_TRY(load_vec(&L, "output_norm.weight", c->hidden_size, &m->final_norm, err));
    m->layers = calloc((size_t)c->n_layers, sizeof *m->layers);
    if (!m->layers) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    for (int i = 0; i < c->n_layers; i++) WHET_TRY(load_layer(&L, i, err));
    m->rope_inv_freq = alloc_owned(&L, (size_t)(c->head_dim / 2) * sizeof(float), "rope", err);
    if (!m->rope_inv_freq) return err->code;
    whet_rope_inv_freq(c, m->rope_inv_freq);
    const whet_gguf_tensor *rf = whet_gguf_find_tensor(L.g, "rope_freqs.weight");
    if (rf) {   /* Llama 3.1 scaling: llama.cpp divides theta_i by freq_factors[i] */
        const float *f;
        WHET_TRY(load_vec(&L, "rope_freqs.weight", c->head_dim / 2, &f, err));
        for (int i = 0; i < c->head_dim / 2; i++) m->rope_inv_freq[i] /= f[i];
    }
    return WHET_OK;
}
