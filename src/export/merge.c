/* merge.c: load a model's tensors as f32 and merge PEFT LoRA adapters into
 * them (see merge.h). The merge follows PEFT's LoraLayer.merge: delta =
 * (B @ A) * scaling computed in fp32, then W += delta. */
#include "export/merge.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/peft_adapter.h"
#include "io/safetensors.h"

/* Position of a tensor in transformers' state_dict order. */
static long state_dict_rank(const char *name) {
    static const char *const layer_order[] = {
        "self_attn.q_proj.weight", "self_attn.q_proj.bias", "self_attn.k_proj.weight", "self_attn.k_proj.bias",
        "self_attn.v_proj.weight", "self_attn.v_proj.bias", "self_attn.o_proj.weight", "self_attn.o_proj.bias",
        "self_attn.q_norm.weight", "self_attn.k_norm.weight", "mlp.gate_proj.weight", "mlp.gate_proj.bias",
        "mlp.up_proj.weight", "mlp.up_proj.bias", "mlp.down_proj.weight", "mlp.down_proj.bias",
        "input_layernorm.weight", "post_attention_layernorm.weight"};
    const long n_sub = (long)(sizeof layer_order / sizeof layer_order[0]) + 1;
    if (!strcmp(name, "model.embed_tokens.weight")) return 0;
    if (!strncmp(name, "model.layers.", 13)) {
        char *end;
        long layer = strtol(name + 13, &end, 10);
        if (*end == '.') {
            for (long i = 0; i < n_sub - 1; i++)
                if (!strcmp(end + 1, layer_order[i])) return 1 + layer * n_sub + i;
            return 1 + layer * n_sub + n_sub - 1;
        }
    }
    if (!strcmp(name, "model.norm.weight")) return 1L << 40;
    if (!strcmp(name, "lm_head.weight")) return (1L << 40) + 1;
    return (1L << 40) + 2;
}

static int cmp_tensor(const void *pa, const void *pb) {
    const whet_export_tensor *a = pa, *b = pb;
    long ra = state_dict_rank(a->name), rb = state_dict_rank(b->name);
    if (ra != rb) return ra < rb ? -1 : 1;
    return strcmp(a->name, b->name);
}

whet_status whet_export_load(const char *model_dir, whet_export_model *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    snprintf(out->model_dir, sizeof out->model_dir, "%s", model_dir);
    WHET_TRY(whet_hf_config_load(model_dir, &out->cfg, err));
    whet_safetensors *st;
    WHET_TRY(whet_safetensors_open_dir(model_dir, &st, err));
    const size_t n = whet_safetensors_count(st);
    out->t = calloc(n ? n : 1, sizeof *out->t);
    whet_status s = out->t ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", model_dir);
    for (size_t i = 0; s == WHET_OK && i < n; i++) {
        const whet_st_tensor *src = whet_safetensors_at(st, i);
        whet_export_tensor *t = &out->t[out->n];
        if (strlen(src->name) >= sizeof t->name || src->ndim < 1 || src->ndim > 2) {
            s = whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: tensor '%s' (%d dims) is not a weight whet can export",
                            model_dir, src->name, src->ndim);
            break;
        }
        snprintf(t->name, sizeof t->name, "%s", src->name);
        t->ndim = src->ndim;
        t->shape[0] = src->shape[0];
        t->shape[1] = src->ndim == 2 ? src->shape[1] : 1;
        t->numel = src->numel;
        t->data = malloc((size_t)(t->numel ? t->numel : 1) * sizeof(float));
        if (!t->data) {
            s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for '%s'", model_dir, src->name);
            break;
        }
        out->n++;
        s = whet_st_tensor_to_f32(src, t->data, err);
        if (s != WHET_OK) whet_error_prefix(err, "%s", model_dir);
    }
    whet_safetensors_close(st);
    if (s != WHET_OK) {
        whet_export_free(out);
        return s;
    }
    qsort(out->t, out->n, sizeof *out->t, cmp_tensor);
    return WHET_OK;
}

whet_export_tensor *whet_export_find(whet_export_model *m, const char *name) {
    for (size_t i = 0; i < m->n; i++)
        if (!strcmp(m->t[i].name, name)) return &m->t[i];
    return NULL;
}

void whet_export_free(whet_export_model *m) {
    for (size_t i = 0; i < m->n; i++) free(m->t[i].data);
    free(m->t);
    m->t = NULL;
    m->n = 0;
}

/* W[out, in] += scale * B[out, r] @ A[r, in] */
static void add_lora_delta(float *w, const float *b, const float *a, int64_t out, int64_t in, int r, float scale) {
    for (int64_t o = 0; o < out; o++) {
        float *wr = w + o * in;
        for (int64_t i = 0; i < in; i++) {
            float acc = 0.0f;
            for (int k = 0; k < r; k++) acc += b[o * r + k] * a[(int64_t)k * in + i];
            wr[i] += acc * scale;
        }
    }
}

whet_status whet_export_merge_adapter(whet_export_model *m, const char *adapter_dir, whet_error *err) {
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    WHET_TRY(whet_peft_adapter_load(adapter_dir, &ad, err));
    const float scale = whet_peft_adapter_scale(&ad);
    whet_status s = WHET_OK;
    /* check every pair before touching the weights, so a bad adapter merges nothing */
    for (int pass = 0; pass < 2 && s == WHET_OK; pass++) {
        for (int i = 0; i < ad.n_pairs && s == WHET_OK; i++) {
            const whet_lora_pair *p = &ad.pairs[i];
            const bool mlp = !strcmp(p->module, "gate_proj") || !strcmp(p->module, "up_proj") ||
                             !strcmp(p->module, "down_proj");
            char name[160];
            snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", p->layer, mlp ? "mlp" : "self_attn", p->module);
            whet_export_tensor *w = whet_export_find(m, name);
            if (!w) {
                s = whet_errorf(err, WHET_ERR_SHAPE, "%s: adapts '%s', which the base model %s does not have "
                                "(the adapter was trained on another model?)", adapter_dir, name, m->model_dir);
            } else if (w->ndim != 2 || w->shape[0] != p->out_features || w->shape[1] != p->in_features) {
                s = whet_errorf(err, WHET_ERR_SHAPE, "%s: '%s' is [%lld, %lld] in the adapter but [%lld, %lld] in the "
                                "base model %s (the adapter was trained on another model?)", adapter_dir, name,
                                (long long)p->out_features, (long long)p->in_features, (long long)w->shape[0],
                                (long long)w->shape[1], m->model_dir);
            } else if (pass == 1) {
                add_lora_delta(w->data, p->b, p->a, p->out_features, p->in_features, ad.r, scale);
            }
        }
    }
    whet_peft_adapter_free(&ad);
    return s;
}
