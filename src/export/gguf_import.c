/* gguf_import.c: a GGUF file as a whet_export_model (gguf_import.h). The
 * name mapping is checked against the exporter's own whet_gguf_tensor_name,
 * so a file whet writes always reads back under the names it came from. */
#include "export/gguf_import.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "export/gguf_export.h"
#include "io/gguf.h"
#include "io/gguf_config.h"
#include "ops/quant.h"

/* The per-layer HF tensors of the llama family (transformers' names). */
static const char *const LAYER_HF[] = {
    "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
    "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.o_proj.weight", "self_attn.o_proj.bias",
    "self_attn.q_norm.weight", "self_attn.k_norm.weight", "mlp.gate_proj.weight", "mlp.gate_proj.bias",
    "mlp.up_proj.weight", "mlp.up_proj.bias", "mlp.down_proj.weight", "mlp.down_proj.bias",
    "input_layernorm.weight", "post_attention_layernorm.weight"};
static const char *const GLOBAL_HF[] = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"};

static bool maps_to(const char *hf, const char *gguf_name) {
    char g[128];
    int layer;
    return whet_gguf_tensor_name(hf, g, sizeof g, &layer) && strcmp(g, gguf_name) == 0;
}

bool whet_gguf_tensor_hf_name(const char *gguf_name, char *out, size_t cap) {
    for (size_t i = 0; i < sizeof GLOBAL_HF / sizeof GLOBAL_HF[0]; i++)
        if (maps_to(GLOBAL_HF[i], gguf_name)) return snprintf(out, cap, "%s", GLOBAL_HF[i]), true;
    int layer = -1, consumed = 0;
    if (sscanf(gguf_name, "blk.%d.%n", &layer, &consumed) != 1 || consumed == 0 || layer < 0) return false;
    char hf[160];
    for (size_t i = 0; i < sizeof LAYER_HF / sizeof LAYER_HF[0]; i++) {
        snprintf(hf, sizeof hf, "model.layers.%d.%s", layer, LAYER_HF[i]);
        if (maps_to(hf, gguf_name)) return snprintf(out, cap, "%s", hf), true;
    }
    return false;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

static bool is_block_type(whet_dtype dt) { return dt != WHET_DT_F32 && dt != WHET_DT_F16 && dt != WHET_DT_BF16; }

/* One GGUF tensor -> f32 [rows, cols] (HF layout: Q/K of arch llama un-permuted). */
static whet_status import_tensor(const char *path, const whet_gguf_tensor *gt, const whet_model_config *c,
                                 whet_export_tensor *t, whet_error *err) {
    if (!whet_gguf_tensor_hf_name(gt->name, t->name, sizeof t->name))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: tensor %s has no Hugging Face name (whet converts the llama/qwen2/qwen3 tensors "
                           "token_embd, output_norm, output and blk.N.attn_* / ffn_*)", path, gt->name);
    if (gt->dtype < 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor %s has ggml type %d, which whet cannot dequantize "
                           "(supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K)",
                           path, gt->name, gt->ggml_type);
    for (int d = 2; d < gt->n_dims; d++)
        if (gt->ne[d] != 1)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor %s has %d dims (whet converts matrices and vectors)",
                               path, gt->name, gt->n_dims);
    const whet_dtype dt = (whet_dtype)gt->dtype;
    const int64_t cols = gt->ne[0], rows = gt->n_dims >= 2 ? gt->ne[1] : 1;
    if (cols % (int64_t)whet_dtype_block_elems(dt))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor %s: rows of %lld are not whole %s blocks", path, gt->name,
                           (long long)cols, whet_dtype_name(dt));
    t->ndim = gt->n_dims >= 2 ? 2 : 1;
    t->shape[0] = t->ndim == 2 ? rows : cols;   /* [out, in] or [n] */
    t->shape[1] = t->ndim == 2 ? cols : 1;
    t->numel = rows * cols;
    float *buf = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
    if (!buf) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %s", path, gt->name);
    const size_t row_bytes = whet_dtype_nbytes(dt, (size_t)cols);
    for (int64_t r = 0; r < rows; r++)
        whet_dequantize_row(dt, (const uint8_t *)gt->data + (size_t)r * row_bytes, cols, buf + r * cols);
    bool is_q = ends_with(gt->name, "attn_q.weight") || ends_with(gt->name, "attn_q.bias");
    bool is_k = ends_with(gt->name, "attn_k.weight") || ends_with(gt->name, "attn_k.bias");
    if (c->arch == WHET_ARCH_LLAMA && (is_q || is_k)) {
        /* the exporter permuted the rows (a bias as rows of one element) */
        const int heads = is_q ? c->n_heads : c->n_kv_heads;
        const int64_t prow = t->ndim == 2 ? rows : cols, pin = t->ndim == 2 ? cols : 1;
        if (heads <= 0 || prow % (2 * heads)) {
            free(buf);
            return whet_errorf(err, WHET_ERR_SHAPE, "%s: tensor %s: %lld rows do not split into %d heads of even size",
                               path, gt->name, (long long)prow, heads);
        }
        float *hf = malloc((size_t)t->numel * sizeof(float));
        if (!hf) return free(buf), whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %s", path, gt->name);
        whet_gguf_permute_qk(buf, hf, heads, prow, pin, true);
        free(buf);
        buf = hf;
    }
    t->data = buf;
    return WHET_OK;
}

/* Llama 3.1 rope_freqs.weight [head_dim/2] -> the config's llama3 rope parameters. */
static whet_status import_rope_freqs(const char *path, const whet_gguf_tensor *rf, whet_model_config *c,
                                     whet_error *err) {
    if (rf->dtype < 0 || rf->n_dims != 1)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor rope_freqs.weight must be a vector of F32 (ggml type %d, "
                           "%d dims)", path, rf->ggml_type, rf->n_dims);
    const int n = (int)rf->ne[0];
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    if (!f) return whet_errorf(err, WHET_ERR_NOMEM, "%s: rope_freqs.weight", path);
    whet_dequantize_row((whet_dtype)rf->dtype, rf->data, n, f);
    whet_status s = whet_llama3_rope_from_factors(c, f, n, path, err);
    free(f);
    return s;
}

whet_status whet_export_load_gguf(const char *path, whet_export_model *out, whet_gguf_import_info *info,
                                  whet_error *err) {
    memset(out, 0, sizeof *out);
    whet_gguf_import_info scratch;
    if (!info) info = &scratch;
    memset(info, 0, sizeof *info);
    snprintf(out->model_dir, sizeof out->model_dir, "%s", path);
    whet_gguf *g = NULL;
    WHET_TRY(whet_gguf_open(path, &g, err));
    whet_status s = whet_gguf_read_config(g, path, &out->cfg, err);
    if (!s && whet_gguf_find_kv(g, "general.name"))
        s = whet_gguf_get_str(g, "general.name", info->name, sizeof info->name, err);
    const whet_gguf_tensor *rf = whet_gguf_find_tensor(g, "rope_freqs.weight");
    if (!s && rf) s = import_rope_freqs(path, rf, &out->cfg, err);
    const size_t n = whet_gguf_n_tensors(g);
    if (!s) {
        out->t = calloc(n ? n : 1, sizeof *out->t);
        if (!out->t) s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    }
    for (size_t i = 0; !s && i < n; i++) {
        const whet_gguf_tensor *gt = whet_gguf_tensor_at(g, i);
        if (gt == rf) continue;   /* rebuilt by the writer from the rope parameters */
        s = import_tensor(path, gt, &out->cfg, &out->t[out->n], err);
        if (s) break;
        out->n++;
        const whet_dtype dt = (whet_dtype)gt->dtype;
        if (gt->n_dims >= 2 && is_block_type(dt) && !info->quantized) {
            info->quantized = true;
            snprintf(info->weight_type, sizeof info->weight_type, "%s", whet_dtype_name(dt));
        } else if (!info->quantized && !strcmp(gt->name, "token_embd.weight")) {
            snprintf(info->weight_type, sizeof info->weight_type, "%s", whet_dtype_name(dt));
        }
    }
    whet_gguf_close(g);
    if (s) whet_export_free(out);
    return s;
}
