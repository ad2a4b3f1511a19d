/* gguf_config.c: whet_model_config from GGUF metadata (gguf_config.h). */
#include "io/gguf_config.h"
#include <stdio.h>
#include <string.h>

typedef struct {
    const whet_gguf *g;
    const char *path;
    char arch[32];
} cfg_reader;

static whet_status arch_u32(cfg_reader *L, const char *key, bool required, uint32_t def, int *out, whet_error *err) {
    char full[96];
    snprintf(full, sizeof full, "%s.%s", L->arch, key);
    uint32_t v = def;
    if (whet_gguf_find_kv(L->g, full)) WHET_TRY(whet_gguf_get_u32(L->g, full, &v, err));
    else if (required)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: metadata key %s is missing (is this a %s GGUF written by llama.cpp's "
                           "converter or whet export?)", L->path, full, L->arch);
    *out = (int)v;
    return WHET_OK;
}

static whet_status arch_f32(cfg_reader *L, const char *key, float def, float *out, whet_error *err) {
    char full[96];
    snprintf(full, sizeof full, "%s.%s", L->arch, key);
    *out = def;
    if (whet_gguf_find_kv(L->g, full)) WHET_TRY(whet_gguf_get_f32(L->g, full, out, err));
    return WHET_OK;
}

whet_status whet_gguf_read_config(const whet_gguf *g, const char *path, whet_model_config *c, whet_error *err) {
    cfg_reader R = {.g = g, .path = path}, *L = &R;
    memset(c, 0, sizeof *c);
    WHET_TRY(whet_gguf_get_str(L->g, "general.architecture", L->arch, sizeof L->arch, err));
    if (!strcmp(L->arch, "llama")) c->arch = WHET_ARCH_LLAMA;
    else if (!strcmp(L->arch, "qwen2")) c->arch = WHET_ARCH_QWEN2;
    else if (!strcmp(L->arch, "qwen3")) c->arch = WHET_ARCH_QWEN3;
    else
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: general.architecture \"%s\" is not supported (whet runs llama, "
                           "qwen2 and qwen3 GGUFs)", L->path, L->arch);
    snprintf(c->model_type, sizeof c->model_type, "%s", L->arch);
    WHET_TRY(arch_u32(L, "block_count", true, 0, &c->n_layers, err));
    WHET_TRY(arch_u32(L, "embedding_length", true, 0, &c->hidden_size, err));
    WHET_TRY(arch_u32(L, "feed_forward_length", true, 0, &c->intermediate_size, err));
    WHET_TRY(arch_u32(L, "attention.head_count", true, 0, &c->n_heads, err));
    WHET_TRY(arch_u32(L, "attention.head_count_kv", false, (uint32_t)c->n_heads, &c->n_kv_heads, err));
    WHET_TRY(arch_u32(L, "context_length", false, 2048, &c->max_position_embeddings, err));
    if (c->n_heads <= 0 || c->n_kv_heads <= 0 || c->n_heads % c->n_kv_heads || c->n_layers <= 0 || c->hidden_size <= 0)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: inconsistent hyperparameters (head_count %d, head_count_kv %d, "
                           "block_count %d)", L->path, c->n_heads, c->n_kv_heads, c->n_layers);
    WHET_TRY(arch_u32(L, "attention.key_length", false, (uint32_t)(c->hidden_size / c->n_heads), &c->head_dim, err));
    float eps, theta;
    WHET_TRY(arch_f32(L, "attention.layer_norm_rms_epsilon", 1e-6f, &eps, err));
    WHET_TRY(arch_f32(L, "rope.freq_base", 10000.0f, &theta, err));
    c->rms_norm_eps = eps;
    c->rope_theta = theta;
    c->rope_type = WHET_ROPE_DEFAULT;
    char key[96], scaling[32] = "";
    snprintf(key, sizeof key, "%s.rope.scaling.type", L->arch);
    if (whet_gguf_find_kv(L->g, key)) WHET_TRY(whet_gguf_get_str(L->g, key, scaling, sizeof scaling, err));
    if (!strcmp(scaling, "linear")) {
        float f;
        WHET_TRY(arch_f32(L, "rope.scaling.factor", 1.0f, &f, err));
        c->rope_type = WHET_ROPE_LINEAR;
        c->rope_factor = f;
    } else if (scaling[0] && strcmp(scaling, "none")) {
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: %s \"%s\" is not supported (linear or none)", L->path, key,
                           scaling);
    }
    const whet_gguf_tensor *emb = whet_gguf_find_tensor(L->g, "token_embd.weight");
    if (!emb || emb->n_dims != 2)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor token_embd.weight is missing or not 2-D", L->path);
    c->vocab_size = (int)emb->ne[1];
    c->tie_word_embeddings = !whet_gguf_find_tensor(L->g, "output.weight");
    c->attention_bias = whet_gguf_find_tensor(L->g, "blk.0.attn_q.bias") != NULL;
    c->o_bias = whet_gguf_find_tensor(L->g, "blk.0.attn_output.bias") != NULL;
    c->qk_norm = whet_gguf_find_tensor(L->g, "blk.0.attn_q_norm.weight") != NULL;
    c->bos_token_id = c->pad_token_id = -1;
    uint32_t id;
    if (whet_gguf_find_kv(L->g, "tokenizer.ggml.bos_token_id")) {
        WHET_TRY(whet_gguf_get_u32(L->g, "tokenizer.ggml.bos_token_id", &id, err));
        c->bos_token_id = (int)id;
    }
    if (whet_gguf_find_kv(L->g, "tokenizer.ggml.padding_token_id")) {
        WHET_TRY(whet_gguf_get_u32(L->g, "tokenizer.ggml.padding_token_id", &id, err));
        c->pad_token_id = (int)id;
    }
    if (whet_gguf_find_kv(L->g, "tokenizer.ggml.eos_token_id")) {
        WHET_TRY(whet_gguf_get_u32(L->g, "tokenizer.ggml.eos_token_id", &id, err));
        c->eos_token_ids[c->n_eos++] = (int)id;
    }
    return WHET_OK;
}
