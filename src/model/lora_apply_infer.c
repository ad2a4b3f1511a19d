/* lora_apply_infer.c: merge a PEFT adapter (a folder, or a GGUF LoRA
 * adapter read by lora_gguf.h) into a loaded model's linears for inference:
 * W' = W + scale·B·A in f32 (B [out, r], A [r, in]), written into fresh
 * buffers so mmapped base weights are never touched. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "core/half.h"
#include "io/peft_adapter.h"
#include "model/lora_apply_infer.h"
#include "model/lora_gguf.h"
#include "model/lora_infer.h"

struct whet_lora_merged {
    int n;
    float **bufs;
    whet_lora_set *resident;   /* a quantized base: the adapter kept unmerged (whet_model.resident_lora) */
};

static whet_weight *module_weight(whet_layer_weights *L, const char *module) {
    static const char *const names[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
    whet_weight *w[] = {&L->q_proj, &L->k_proj, &L->v_proj, &L->o_proj, &L->gate_proj, &L->up_proj, &L->down_proj};
    for (int i = 0; i < 7; i++)
        if (!strcmp(module, names[i])) return w[i];
    return NULL;
}

/* W (any plain dtype) -> f32 copy. */
static float *to_f32(const whet_weight *w) {
    size_t n = (size_t)w->rows * (size_t)w->cols;
    float *o = malloc(n * sizeof *o);
    if (!o) return NULL;
    if (w->dtype == WHET_DT_F32) memcpy(o, w->data, n * sizeof *o);
    else if (w->dtype == WHET_DT_BF16) whet_bf16_to_f32_row(w->data, o, n);
    else whet_fp16_to_f32_row(w->data, o, n);
    return o;
}

/* w[out, in] += scale * b[out, r] @ a[r, in] */
static void add_delta(float *w, const float *b, const float *a, int64_t out, int64_t in, int r, float scale) {
    for (int64_t o = 0; o < out; o++) {
        float *row = w + o * in;
        for (int k = 0; k < r; k++) {
            float s = scale * b[o * r + k];
            const float *arow = a + (int64_t)k * in;
            for (int64_t i = 0; i < in; i++) row[i] += s * arow[i];
        }
    }
}

void whet_lora_merged_free(whet_lora_merged *h) {
    if (!h) return;
    for (int i = 0; i < h->n; i++) free(h->bufs[i]);
    free(h->bufs);
    whet_lora_set_free(h->resident);
    free(h);
}

static whet_status check_pair(const whet_model *m, const whet_peft_adapter *ad, const whet_lora_pair *p, const char *dir,
                              whet_weight **wout, whet_error *err) {
    if (p->layer < 0 || p->layer >= m->cfg.n_layers)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: adapter has layer %d but the model has %d layers (wrong base model?)",
                           dir, p->layer, m->cfg.n_layers);
    whet_weight *w = module_weight(&m->layers[p->layer], p->module);
    if (!w)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: layer %d module '%s' is not a linear whet can adapt", dir,
                           p->layer, p->module);
    if (w->rows != p->out_features || w->cols != p->in_features)
        return whet_errorf(err, WHET_ERR_SHAPE,
                           "%s: layers.%d.%s: adapter is [%lld, %lld] but the base weight is [%lld, %lld] (wrong base model?)",
                           dir, p->layer, p->module, (long long)p->out_features, (long long)p->in_features,
                           (long long)w->rows, (long long)w->cols);
    (void)ad;
    *wout = w;
    return WHET_OK;
}

static bool is_float(whet_dtype t) { return t == WHET_DT_F32 || t == WHET_DT_BF16 || t == WHET_DT_F16; }

/* A quantized base: the adapter stays unmerged, added to every token by the forward. */
static whet_status keep_resident(whet_model *m, const char *adapter_dir, whet_lora_merged *h, whet_error *err) {
    if (m->resident_lora)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: this quantized model already has an adapter applied; merge "
                           "them first (whet export), or serve them with --lora_modules", adapter_dir);
    WHET_TRY(whet_lora_set_create(m, &h->resident, err));
    WHET_TRY(whet_lora_set_add(h->resident, adapter_dir, NULL, err));
    m->resident_lora = h->resident;
    return WHET_OK;
}

whet_status whet_model_apply_lora(whet_model *m, const char *adapter_dir, whet_lora_merged **out, whet_error *err) {
    *out = NULL;
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    size_t len = strlen(adapter_dir);
    bool gguf = whet_is_gguf_file(adapter_dir) ||
                (len > 5 && !strcmp(adapter_dir + len - 5, ".gguf") && !whet_dir_exists(adapter_dir));
    if (gguf) WHET_TRY(whet_lora_gguf_load(adapter_dir, &m->cfg, &ad, err));
    else WHET_TRY(whet_peft_adapter_load(adapter_dir, &ad, err));
    float scale = whet_peft_adapter_scale(&ad);
    whet_lora_merged *h = calloc(1, sizeof *h);
    whet_weight **targets = calloc((size_t)ad.n_pairs + 1, sizeof *targets);
    if (h) h->bufs = calloc((size_t)ad.n_pairs + 1, sizeof *h->bufs);
    whet_status st = (!h || !targets || !h->bufs) ? whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", adapter_dir) : WHET_OK;
    for (int i = 0; st == WHET_OK && i < ad.n_pairs; i++) { /* validate everything before changing the model */
        st = check_pair(m, &ad, &ad.pairs[i], adapter_dir, &targets[i], err);
        for (int j = 0; st == WHET_OK && j < i; j++)
            if (targets[j] == targets[i])
                st = whet_errorf(err, WHET_ERR_FORMAT, "%s: layers.%d.%s appears twice in the adapter", adapter_dir,
                                 ad.pairs[i].layer, ad.pairs[i].module);
    }
    bool quantized = false;
    for (int i = 0; st == WHET_OK && i < ad.n_pairs; i++) quantized = quantized || !is_float(targets[i]->dtype);
    if (st == WHET_OK && quantized) {
        whet_peft_adapter_free(&ad);
        free(targets);
        st = keep_resident(m, adapter_dir, h, err);
        if (st != WHET_OK) {
            whet_lora_merged_free(h);
            return st;
        }
        *out = h;
        return WHET_OK;
    }
    for (int i = 0; st == WHET_OK && i < ad.n_pairs; i++) {
        const whet_lora_pair *p = &ad.pairs[i];
        float *w = to_f32(targets[i]);
        if (!w) { st = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory merging layers.%d.%s", adapter_dir, p->layer, p->module); break; }
        add_delta(w, p->b, p->a, p->out_features, p->in_features, ad.r, scale);
        h->bufs[h->n++] = w;
    }
    if (st == WHET_OK)
        for (int i = 0; i < ad.n_pairs; i++) targets[i]->data = h->bufs[i], targets[i]->dtype = WHET_DT_F32;
    free(targets);
    whet_peft_adapter_free(&ad);
    if (st != WHET_OK) {
        whet_lora_merged_free(h);
        return st;
    }
    *out = h;
    return WHET_OK;
}
