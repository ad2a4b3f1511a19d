/* gguf_lora_export.c: a PEFT LoRA adapter as a GGUF LoRA adapter
 * (gguf_lora_export.h), laid out as llama.cpp's convert_lora_to_gguf.py
 * writes it and checked the way llama_adapter_lora_init_impl checks it:
 * metadata general.architecture, general.type, adapter.type, general.name,
 * adapter.lora.alpha (FLOAT32), general.quantization_version; per adapted
 * linear "<name>.lora_a" ne {in, r} and "<name>.lora_b" ne {r, out}, where
 * base.ne0 == a.ne0, base.ne1 == b.ne1 and a.ne1 == b.ne0. The converter's
 * LoraTorchTensor applies LlamaModel.permute of q/k to the B side only
 * (permuting the output rows of B·A permutes the rows of B), so for arch
 * llama lora_b of q_proj/k_proj is row-permuted with n_head / n_head_kv. */
#include "export/gguf_lora_export.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "export/gguf_export.h"
#include "io/gguf.h"
#include "io/hf_config.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "ops/quant.h"

static const char *arch_name(whet_arch a) {
    return a == WHET_ARCH_QWEN2 ? "qwen2" : a == WHET_ARCH_QWEN3 ? "qwen3" : "llama";
}

static bool is_mlp(const char *module) {
    return !strcmp(module, "gate_proj") || !strcmp(module, "up_proj") || !strcmp(module, "down_proj");
}

/* convert_hf_to_gguf's prepare_tensors: the outtype, or F16 where the row
 * (ne0) is not whole Q8_0 blocks (gguf.quants raises QuantError). */
static whet_dtype tensor_dtype(whet_dtype want, int64_t ne0) {
    return ne0 % (int64_t)whet_dtype_block_elems(want) ? WHET_DT_F16 : want;
}

/* rows x cols f32 -> `dt` rows (malloc'd). */
static whet_status encode(const float *src, int64_t rows, int64_t cols, whet_dtype dt, const char *name, void **out,
                          whet_error *err) {
    size_t row_bytes = whet_dtype_nbytes(dt, (size_t)cols);
    uint8_t *buf = malloc(row_bytes * (size_t)rows + 1);
    if (!buf) return whet_errorf(err, WHET_ERR_NOMEM, "GGUF LoRA export: out of memory for %s", name);
    for (int64_t r = 0; r < rows; r++) {
        whet_status s = whet_quantize_row(dt, src + r * cols, cols, buf + (size_t)r * row_bytes, NULL, err);
        if (s != WHET_OK) {
            free(buf);
            return whet_error_prefix(err, "GGUF LoRA export: %s", name), s;
        }
    }
    *out = buf;
    return WHET_OK;
}

/* The base weight of pair p must exist with shape [out, in] (what llama.cpp
 * checks against the base GGUF: base.ne0 == a.ne0, base.ne1 == b.ne1). */
static whet_status check_base(const whet_safetensors *st, const whet_peft_adapter *ad, const whet_lora_pair *p,
                              const char *base_dir, const char *adapter_dir, char *hf_name, size_t cap,
                              whet_error *err) {
    snprintf(hf_name, cap, "model.layers.%d.%s.%s.weight", p->layer, is_mlp(p->module) ? "mlp" : "self_attn",
             p->module);
    const whet_st_tensor *t = whet_safetensors_find(st, hf_name);
    if (!t)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: adapts '%s', which the base model %s does not have (the adapter "
                           "was trained on another model?)", adapter_dir, hf_name, base_dir);
    if (t->ndim != 2 || t->shape[0] != p->out_features || t->shape[1] != p->in_features)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: '%s' is [%lld, %lld] in the adapter (r = %d) but [%lld, %lld] in "
                           "the base model %s (the adapter was trained on another model?)", adapter_dir, hf_name,
                           (long long)p->out_features, (long long)p->in_features, ad->r,
                           (long long)t->shape[0], (long long)(t->ndim == 2 ? t->shape[1] : 1), base_dir);
    return WHET_OK;
}

static whet_status add_pair(whet_gguf_writer *w, const whet_model_config *c, const whet_peft_adapter *ad,
                            const whet_lora_pair *p, const char *hf_name, whet_dtype dtype, whet_error *err) {
    char gname[96], name_a[112], name_b[112];
    int layer;
    if (!whet_gguf_tensor_name(hf_name, gname, sizeof gname, &layer))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "GGUF LoRA export: '%s' has no llama.cpp name", hf_name);
    snprintf(name_a, sizeof name_a, "%s.lora_a", gname);
    snprintf(name_b, sizeof name_b, "%s.lora_b", gname);
    const int64_t r = ad->r, in = p->in_features, out = p->out_features;
    const float *b = p->b;                  /* [out, r] */
    float *perm = NULL;
    bool q = !strcmp(p->module, "q_proj"), k = !strcmp(p->module, "k_proj");
    if ((c->arch == WHET_ARCH_LLAMA || c->arch == WHET_ARCH_MISTRAL) && (q || k)) {
        int heads = q ? c->n_heads : c->n_kv_heads;
        if (heads <= 0 || out % heads || (out / heads) % 2)
            return whet_errorf(err, WHET_ERR_SHAPE, "GGUF LoRA export: %s has %lld rows, not %d heads of an even size",
                               hf_name, (long long)out, heads);
        perm = malloc((size_t)(out * r) * sizeof *perm);
        if (!perm) return whet_errorf(err, WHET_ERR_NOMEM, "GGUF LoRA export: out of memory for %s", name_b);
        whet_gguf_permute_qk(p->b, perm, heads, out, r, false);
        b = perm;
    }
    const whet_dtype dt_a = tensor_dtype(dtype, in), dt_b = tensor_dtype(dtype, r);
    void *da = NULL, *db = NULL;
    whet_status s = encode(p->a, r, in, dt_a, name_a, &da, err);   /* A [r, in] -> ne {in, r} */
    if (s == WHET_OK) s = encode(b, out, r, dt_b, name_b, &db, err); /* B [out, r] -> ne {r, out} */
    free(perm);
    const int64_t ne_a[2] = {in, r}, ne_b[2] = {r, out};
    if (s == WHET_OK) s = whet_gguf_add_tensor(w, name_a, dt_a, 2, ne_a, da, true, err);
    else free(da);
    if (s == WHET_OK) s = whet_gguf_add_tensor(w, name_b, dt_b, 2, ne_b, db, true, err);
    else free(db);
    return s;
}

/* The general.* / adapter.* keys, in the converter's order. */
static whet_status write_meta(whet_gguf_writer *w, const whet_model_config *c, const whet_peft_adapter *ad,
                              const char *base_dir, whet_error *err) {
    /* llama.cpp: scale = alpha / r with r = lora_b.ne0; rsLoRA wants alpha / sqrt(r) */
    const float alpha = ad->use_rslora ? (float)(ad->lora_alpha * sqrt((double)ad->r)) : ad->lora_alpha;
    char name[1024];
    size_t n = strlen(base_dir);
    while (n > 1 && base_dir[n - 1] == '/') n--;
    size_t start = n;
    while (start > 0 && base_dir[start - 1] != '/') start--;
    snprintf(name, sizeof name, "%.*s", (int)(n - start), base_dir + start);
    WHET_TRY(whet_gguf_set_str(w, "general.architecture", arch_name(c->arch), err));
    WHET_TRY(whet_gguf_set_str(w, "general.type", "adapter", err));
    WHET_TRY(whet_gguf_set_str(w, "adapter.type", "lora", err));
    WHET_TRY(whet_gguf_set_str(w, "general.name", name, err));
    WHET_TRY(whet_gguf_set_f32(w, "adapter.lora.alpha", alpha, err));
    return whet_gguf_set_u32(w, "general.quantization_version", 2, err);
}

whet_status whet_export_gguf_lora(const char *base_dir, const char *adapter_dir, const char *out_path, whet_dtype dtype,
                                  bool overwrite, whet_error *err) {
    if (dtype != WHET_DT_F32 && dtype != WHET_DT_F16 && dtype != WHET_DT_BF16 && dtype != WHET_DT_Q8_0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "GGUF LoRA export: type %s is not allowed for an adapter (use f32, "
                           "f16, bf16 or q8_0, as llama.cpp's convert_lora_to_gguf.py)", whet_dtype_name(dtype));
    if (whet_dir_exists(out_path))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s is a folder; give the adapter file's path (e.g. %s/adapter.gguf)",
                           out_path, out_path);
    if (whet_file_exists(out_path) && !overwrite)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s already exists; remove it or ask to overwrite it", out_path);
    if (whet_is_gguf_file(base_dir) || !whet_dir_exists(base_dir))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s: the base model must be a Hugging Face folder (config.json + "
                           "safetensors), as for convert_lora_to_gguf.py --base", base_dir);
    whet_model_config cfg;
    WHET_TRY(whet_hf_config_load(base_dir, &cfg, err));
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    WHET_TRY(whet_peft_adapter_load(adapter_dir, &ad, err));
    whet_safetensors *st = NULL;
    whet_gguf_writer *w = NULL;
    whet_status s = WHET_OK;
    if (ad.lora_alpha == 0.0f)
        s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s/adapter_config.json: lora_alpha 0 has no GGUF form (llama.cpp "
                        "reads adapter.lora.alpha = 0 as 'do not scale')", adapter_dir);
    else if (ad.n_pairs == 0)
        s = whet_errorf(err, WHET_ERR_FORMAT, "%s: the adapter has no LoRA tensors", adapter_dir);
    if (s == WHET_OK) s = whet_safetensors_open_dir(base_dir, &st, err);
    char (*names)[160] = NULL;
    if (s == WHET_OK && !(names = calloc((size_t)ad.n_pairs, sizeof *names)))
        s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", adapter_dir);
    /* every pair checked against the base before anything is written */
    for (int i = 0; s == WHET_OK && i < ad.n_pairs; i++)
        s = check_base(st, &ad, &ad.pairs[i], base_dir, adapter_dir, names[i], sizeof names[i], err);
    if (s == WHET_OK) s = whet_gguf_writer_create(&w, err);
    if (s == WHET_OK) s = write_meta(w, &cfg, &ad, base_dir, err);
    for (int i = 0; s == WHET_OK && i < ad.n_pairs; i++) s = add_pair(w, &cfg, &ad, &ad.pairs[i], names[i], dtype, err);
    if (s == WHET_OK) s = whet_gguf_writer_write(w, out_path, err);
    whet_gguf_writer_free(w);
    free(names);
    if (st) whet_safetensors_close(st);
    whet_peft_adapter_free(&ad);
    return s;
}
