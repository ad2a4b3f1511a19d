/* lora_gguf.c: a GGUF LoRA adapter read into PEFT layout (lora_gguf.h).
 * llama.cpp computes y += (alpha / r) · B (A x) with A = lora_a (ne {in, r},
 * i.e. [r, in] row-major, PEFT's lora_A as is) and B = lora_b (ne {r, out},
 * PEFT's lora_B [out, r]); for arch llama the converter stored B's q/k rows
 * in llama.cpp's interleaved rope order (LlamaModel.permute), which is
 * undone here because whet keeps Hugging Face's rotate_half order for both
 * HF and GGUF bases (model_gguf.c un-permutes the base weights the same way). */
#include "model/lora_gguf.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/gguf.h"
#include "ops/quant.h"

/* llama.cpp's per-layer tensor names of the linears whet can adapt. */
static const char *const GG_NAMES[7] = {"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"};
static const char *const HF_MODULES[7] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

static bool ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

/* "blk.<L>.<gg>.weight" -> layer, module index; false for any other base name. */
static bool parse_base(const char *base, int *layer, int *module) {
    int n = 0, used = 0;
    if (sscanf(base, "blk.%d.%n", &n, &used) != 1 || used == 0 || n < 0) return false;
    for (int i = 0; i < 7; i++) {
        size_t len = strlen(GG_NAMES[i]);
        if (!strncmp(base + used, GG_NAMES[i], len) && !strcmp(base + used + len, ".weight")) {
            *layer = n, *module = i;
            return true;
        }
    }
    return false;
}

static const char *model_arch_name(whet_arch a) {
    return a == WHET_ARCH_QWEN2 ? "qwen2" : a == WHET_ARCH_QWEN3 ? "qwen3" : "llama";
}

/* llama.cpp's get_kv_str: "" when absent. */
static whet_status kv_str(const whet_gguf *g, const char *key, char *buf, size_t cap, whet_error *err) {
    buf[0] = 0;
    return whet_gguf_find_kv(g, key) ? whet_gguf_get_str(g, key, buf, cap, err) : WHET_OK;
}

static whet_status check_meta(const whet_gguf *g, const char *path, const whet_model_config *cfg, float *alpha,
                              whet_error *err) {
    char type[64], arch[64], atype[64];
    WHET_TRY(kv_str(g, "general.type", type, sizeof type, err));
    if (strcmp(type, "adapter"))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: general.type is \"%s\", not \"adapter\": this is not a LoRA adapter "
                           "GGUF (a model GGUF goes to --model_name_or_path)", path, type);
    WHET_TRY(kv_str(g, "adapter.type", atype, sizeof atype, err));
    if (strcmp(atype, "lora"))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: adapter.type is \"%s\"; only \"lora\" adapters are supported",
                           path, atype);
    WHET_TRY(kv_str(g, "general.architecture", arch, sizeof arch, err));
    if (strcmp(arch, model_arch_name(cfg->arch)))
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: the adapter is for arch \"%s\" but the model is \"%s\" (model arch and "
                           "LoRA arch mismatch: wrong base model?)", path, arch, model_arch_name(cfg->arch));
    *alpha = 0.0f;
    if (whet_gguf_find_kv(g, "adapter.lora.alpha")) WHET_TRY(whet_gguf_get_f32(g, "adapter.lora.alpha", alpha, err));
    return WHET_OK;
}

/* A 2-D tensor as f32 rows of ne0 (malloc'd). */
static whet_status to_f32(const whet_gguf_tensor *t, const char *path, float **out, whet_error *err) {
    if (t->dtype < 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor %s has ggml type %d, which whet cannot read", path,
                           t->name, t->ggml_type);
    const int64_t cols = t->ne[0], rows = t->ne[1];
    const whet_dtype dt = (whet_dtype)t->dtype;
    if (cols % (int64_t)whet_dtype_block_elems(dt))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor %s rows of %lld are not whole %s blocks", path, t->name,
                           (long long)cols, whet_dtype_name(dt));
    float *f = malloc((size_t)(rows * cols) * sizeof *f + 1);
    if (!f) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %s", path, t->name);
    const size_t row_bytes = whet_dtype_nbytes(dt, (size_t)cols);
    for (int64_t r = 0; r < rows; r++)
        whet_dequantize_row(dt, (const uint8_t *)t->data + (size_t)r * row_bytes, cols, f + r * cols);
    *out = f;
    return WHET_OK;
}

/* B [out, r] rows from llama.cpp's interleaved order (GGUF row h*hd + 2i + j)
 * back to HF's (row h*hd + j*hd/2 + i), in place via a copy. */
static whet_status unpermute_rows(float *b, int64_t out, int64_t r, int heads, const char *path, const char *name,
                                  whet_error *err) {
    if (heads <= 0 || out % heads || (out / heads) % 2)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: %s has %lld rows, not %d heads of an even size (wrong base model?)",
                           path, name, (long long)out, heads);
    float *tmp = malloc((size_t)(out * r) * sizeof *tmp + 1);
    if (!tmp) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for %s", path, name);
    memcpy(tmp, b, (size_t)(out * r) * sizeof *tmp);
    const int64_t hd = out / heads, half = hd / 2;
    for (int64_t row = 0; row < out; row++) {
        int64_t h = row / hd, k = row % hd, j = k / half, i = k % half;
        memcpy(b + row * r, tmp + (h * hd + 2 * i + j) * r, (size_t)r * sizeof *b);
    }
    free(tmp);
    return WHET_OK;
}

static whet_status read_pairs(const whet_gguf *g, const char *path, const whet_model_config *cfg, bool unpermute,
                              whet_peft_adapter *out, whet_error *err) {
    const size_t n = whet_gguf_n_tensors(g);
    out->pairs = calloc(n / 2 + 1, sizeof *out->pairs);
    if (!out->pairs) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < n; i++) {
        const whet_gguf_tensor *t = whet_gguf_tensor_at(g, i);
        bool is_a = ends_with(t->name, ".lora_a"), is_b = ends_with(t->name, ".lora_b");
        if (!is_a && !is_b) {
            if (ends_with(t->name, "_norm.weight")) continue;   /* llama.cpp skips these too */
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: LoRA tensor '%s' has unexpected suffix (want .lora_a or .lora_b)",
                               path, t->name);
        }
        if (!is_a) continue;   /* pairs are found from their lora_a */
        char base[96], bname[112];
        size_t blen = strlen(t->name) - strlen(".lora_a");
        snprintf(base, sizeof base, "%.*s", (int)blen, t->name);
        snprintf(bname, sizeof bname, "%s.lora_b", base);
        int layer = 0, mod = 0;
        if (!parse_base(base, &layer, &mod))
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: LoRA for '%s': whet merges adapters of the decoder layers' "
                               "attn_q/k/v/output and ffn_gate/up/down only", path, base);
        const whet_gguf_tensor *b = whet_gguf_find_tensor(g, bname);
        if (!b) return whet_errorf(err, WHET_ERR_FORMAT, "%s: LoRA tensor pair for '%s' is missing its lora_b", path, base);
        if (t->n_dims != 2 || b->n_dims != 2 || t->ne[1] != b->ne[0])
            return whet_errorf(err, WHET_ERR_SHAPE, "%s: %s ne {%lld, %lld} and %s ne {%lld, %lld} do not make a LoRA pair "
                               "(lora_a is {in, r}, lora_b {r, out})", path, t->name, (long long)t->ne[0],
                               (long long)(t->n_dims > 1 ? t->ne[1] : 1), bname, (long long)b->ne[0],
                               (long long)(b->n_dims > 1 ? b->ne[1] : 1));
        const int64_t r = t->ne[1];
        if (r <= 0 || r > 65536 || (out->r && r != out->r))
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: %s has rank %lld but earlier pairs have %d (one rank per "
                               "adapter is supported)", path, t->name, (long long)r, out->r);
        out->r = (int)r;
        whet_lora_pair *p = &out->pairs[out->n_pairs++];
        p->layer = layer;
        snprintf(p->module, sizeof p->module, "%s", HF_MODULES[mod]);
        p->in_features = t->ne[0];
        p->out_features = b->ne[1];
        WHET_TRY(to_f32(t, path, &p->a, err));   /* [r, in] */
        WHET_TRY(to_f32(b, path, &p->b, err));   /* [out, r] */
        if (unpermute && (mod == 0 || mod == 1))
            WHET_TRY(unpermute_rows(p->b, p->out_features, r, mod == 0 ? cfg->n_heads : cfg->n_kv_heads, path, bname, err));
    }
    /* every lora_b needs its lora_a */
    for (size_t i = 0; i < n; i++) {
        const whet_gguf_tensor *t = whet_gguf_tensor_at(g, i);
        if (!ends_with(t->name, ".lora_b")) continue;
        char aname[112];
        snprintf(aname, sizeof aname, "%.*s.lora_a", (int)(strlen(t->name) - strlen(".lora_b")), t->name);
        if (!whet_gguf_find_tensor(g, aname))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: LoRA tensor pair for '%.*s' is missing its lora_a", path,
                               (int)(strlen(t->name) - strlen(".lora_b")), t->name);
    }
    if (out->n_pairs == 0) return whet_errorf(err, WHET_ERR_FORMAT, "%s: the adapter has no LoRA tensors", path);
    return WHET_OK;
}

whet_status whet_lora_gguf_load(const char *path, const whet_model_config *cfg, whet_peft_adapter *out,
                                whet_error *err) {
    memset(out, 0, sizeof *out);
    whet_gguf *g = NULL;
    WHET_TRY(whet_gguf_open(path, &g, err));
    float alpha = 0.0f;
    whet_status s = check_meta(g, path, cfg, &alpha, err);
    char arch[64] = "";
    if (s == WHET_OK) s = kv_str(g, "general.architecture", arch, sizeof arch, err);
    if (s == WHET_OK) s = read_pairs(g, path, cfg, !strcmp(arch, "llama"), out, err);
    whet_gguf_close(g);
    if (s != WHET_OK) {
        whet_peft_adapter_free(out);
        return s;
    }
    /* llama.cpp: scale = alpha ? alpha / r : 1 */
    out->lora_alpha = alpha != 0.0f ? alpha : (float)out->r;
    out->use_rslora = false;
    return WHET_OK;
}
