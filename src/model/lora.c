/* lora.c: LoRA slabs, target parsing, PEFT init and PEFT conversion. */
#include "model/lora.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "core/suggest.h"

static const char *const MODULE_NAMES[WHET_MOD_COUNT] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                         "gate_proj", "up_proj", "down_proj"};

const char *whet_lora_module_name(whet_lora_module m) { return MODULE_NAMES[m]; }

static int module_index(const char *name) {
    for (int m = 0; m < WHET_MOD_COUNT; m++)
        if (strcmp(name, MODULE_NAMES[m]) == 0) return m;
    return -1;
}

whet_status whet_lora_parse_targets(const char *const *names, bool target[WHET_MOD_COUNT], whet_error *err) {
    memset(target, 0, sizeof(bool) * WHET_MOD_COUNT);
    int n = 0;
    for (const char *const *p = names; p && *p; p++) {
        const char *name = *p;
        if (strcmp(name, "all") == 0) {
            for (int m = 0; m < WHET_MOD_COUNT; m++) target[m] = true;
            n++;
            continue;
        }
        const int m = module_index(name);
        if (m < 0) {
            const char *hint = whet_suggest(name, MODULE_NAMES, WHET_MOD_COUNT);
            char hintbuf[64] = "";
            if (hint) snprintf(hintbuf, sizeof hintbuf, " (did you mean %s?)", hint);
            return whet_errorf(err, WHET_ERR_INVALID_ARG,
                               "lora_target: target module '%s' not found in the model%s; its linear layers are "
                               "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj (or use 'all'; "
                               "lm_head and embed_tokens are not LoRA targets here)",
                               name, hintbuf);
        }
        target[m] = true;
        n++;
    }
    if (n == 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG,
                           "lora_target is empty; give 'all' or a comma list such as q_proj,v_proj");
    return WHET_OK;
}

whet_status whet_lora_create(const whet_model_config *mc, const whet_lora_config *cfg, whet_lora *l, whet_error *err) {
    memset(l, 0, sizeof *l);
    if (cfg->r < 1) return whet_errorf(err, WHET_ERR_INVALID_ARG, "lora_rank must be >= 1 (got %d)", cfg->r);
    if (!(cfg->dropout >= 0.0f && cfg->dropout < 1.0f))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "lora_dropout must be in [0, 1) (got %g)", cfg->dropout);
    bool any = false;
    for (int m = 0; m < WHET_MOD_COUNT; m++) any |= cfg->target[m];
    if (!any) return whet_errorf(err, WHET_ERR_INVALID_ARG, "lora_target selects no module");
    l->cfg = *cfg;
    l->scale = cfg->use_rslora ? cfg->alpha / sqrtf((float)cfg->r) : cfg->alpha / (float)cfg->r;
    l->n_layers = mc->n_layers;
    const int64_t H = mc->hidden_size, I = mc->intermediate_size;
    const int64_t qd = (int64_t)mc->n_heads * mc->head_dim, kvd = (int64_t)mc->n_kv_heads * mc->head_dim;
    const int64_t in[WHET_MOD_COUNT] = {H, H, H, qd, H, H, I}, out[WHET_MOD_COUNT] = {qd, kvd, kvd, H, I, I, H};
    memcpy(l->in, in, sizeof in);
    memcpy(l->out, out, sizeof out);
    const size_t n_slots = (size_t)l->n_layers * WHET_MOD_COUNT;
    l->a_off = malloc(sizeof(int64_t) * n_slots);
    l->b_off = malloc(sizeof(int64_t) * n_slots);
    l->layer_off = malloc(sizeof(int64_t) * (size_t)(l->n_layers + 1));
    if (!l->a_off || !l->b_off || !l->layer_off) goto nomem;
    int64_t off = 0;
    for (int layer = 0; layer < l->n_layers; layer++) {
        l->layer_off[layer] = off;
        for (int m = 0; m < WHET_MOD_COUNT; m++) {
            const size_t slot = (size_t)layer * WHET_MOD_COUNT + m;
            l->a_off[slot] = l->b_off[slot] = -1;
            if (!cfg->target[m]) continue;
            l->a_off[slot] = off;
            off += cfg->r * in[m];
            l->b_off[slot] = off;
            off += out[m] * cfg->r;
        }
    }
    l->layer_off[l->n_layers] = off;
    l->n_params = off;
    l->params = calloc((size_t)off, sizeof(float));
    l->grads = calloc((size_t)off, sizeof(float));
    if (!l->params || !l->grads) goto nomem;
    return WHET_OK;
nomem:
    whet_lora_free(l);
    return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for the LoRA parameters");
}

void whet_lora_free(whet_lora *l) {
    free(l->a_off);
    free(l->b_off);
    free(l->layer_off);
    free(l->params);
    free(l->grads);
    memset(l, 0, sizeof *l);
}

static int64_t slot_off(const int64_t *offs, int layer, whet_lora_module m) {
    return offs[(size_t)layer * WHET_MOD_COUNT + m];
}

float *whet_lora_a(const whet_lora *l, int layer, whet_lora_module m) {
    const int64_t o = slot_off(l->a_off, layer, m);
    return o < 0 ? NULL : l->params + o;
}
float *whet_lora_b(const whet_lora *l, int layer, whet_lora_module m) {
    const int64_t o = slot_off(l->b_off, layer, m);
    return o < 0 ? NULL : l->params + o;
}
float *whet_lora_grad_a(const whet_lora *l, int layer, whet_lora_module m) {
    const int64_t o = slot_off(l->a_off, layer, m);
    return o < 0 ? NULL : l->grads + o;
}
float *whet_lora_grad_b(const whet_lora *l, int layer, whet_lora_module m) {
    const int64_t o = slot_off(l->b_off, layer, m);
    return o < 0 ? NULL : l->grads + o;
}

void whet_lora_init_peft(whet_lora *l, uint64_t seed) {
    whet_rng rng;
    whet_rng_seed(&rng, seed);
    for (int layer = 0; layer < l->n_layers; layer++)
        for (int m = 0; m < WHET_MOD_COUNT; m++) {
            float *a = whet_lora_a(l, layer, m), *b = whet_lora_b(l, layer, m);
            if (!a) continue;
            /* nn.init.kaiming_uniform_(A, a=sqrt(5)): gain sqrt(2/(1+5)), bound = gain*sqrt(3/fan_in) = 1/sqrt(in) */
            const double bound = 1.0 / sqrt((double)l->in[m]);
            const int64_t na = (int64_t)l->cfg.r * l->in[m];
            for (int64_t i = 0; i < na; i++) a[i] = (float)((2.0 * whet_rng_uniform(&rng) - 1.0) * bound);
            memset(b, 0, sizeof(float) * (size_t)(l->out[m] * l->cfg.r));
        }
}

whet_status whet_lora_to_peft(const whet_lora *l, const char *base_model, whet_peft_adapter *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    out->r = l->cfg.r;
    out->lora_alpha = l->cfg.alpha;
    out->lora_dropout = l->cfg.dropout;
    out->use_rslora = l->cfg.use_rslora;
    for (int m = 0; m < WHET_MOD_COUNT; m++)
        if (l->cfg.target[m]) snprintf(out->targets[out->n_targets++], sizeof out->targets[0], "%s", MODULE_NAMES[m]);
    snprintf(out->base_model_name_or_path, sizeof out->base_model_name_or_path, "%s", base_model ? base_model : "");
    out->pairs = calloc((size_t)l->n_layers * WHET_MOD_COUNT, sizeof(whet_lora_pair));
    if (!out->pairs) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for the adapter");
    for (int layer = 0; layer < l->n_layers; layer++)
        for (int m = 0; m < WHET_MOD_COUNT; m++) {
            const float *a = whet_lora_a(l, layer, m), *b = whet_lora_b(l, layer, m);
            if (!a) continue;
            whet_lora_pair *p = &out->pairs[out->n_pairs++];
            p->layer = layer;
            snprintf(p->module, sizeof p->module, "%s", MODULE_NAMES[m]);
            p->in_features = l->in[m];
            p->out_features = l->out[m];
            const size_t na = (size_t)(l->cfg.r * l->in[m]), nb = (size_t)(l->out[m] * l->cfg.r);
            p->a = malloc(sizeof(float) * na);
            p->b = malloc(sizeof(float) * nb);
            if (!p->a || !p->b) {
                whet_peft_adapter_free(out);
                return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for the adapter");
            }
            memcpy(p->a, a, sizeof(float) * na);
            memcpy(p->b, b, sizeof(float) * nb);
        }
    return WHET_OK;
}

whet_status whet_lora_config_from_peft(const whet_peft_adapter *a, whet_lora_config *cfg, whet_error *err) {
    memset(cfg, 0, sizeof *cfg);
    cfg->r = a->r;
    cfg->alpha = a->lora_alpha;
    cfg->dropout = a->lora_dropout;
    cfg->use_rslora = a->use_rslora;
    for (int i = 0; i < a->n_pairs; i++) {
        const int m = module_index(a->pairs[i].module);
        if (m < 0)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "adapter: LoRA on module '%s' is not supported for training",
                               a->pairs[i].module);
        cfg->target[m] = true;
    }
    return WHET_OK;
}

whet_status whet_lora_load_peft(whet_lora *l, const whet_peft_adapter *a, whet_error *err) {
    if (a->r != l->cfg.r || a->use_rslora != l->cfg.use_rslora || fabsf(a->lora_alpha - l->cfg.alpha) > 1e-6f)
        return whet_errorf(err, WHET_ERR_SHAPE,
                           "adapter has r=%d lora_alpha=%g use_rslora=%s but training uses r=%d lora_alpha=%g "
                           "use_rslora=%s; use matching lora_rank/lora_alpha/use_rslora or a new output_dir",
                           a->r, a->lora_alpha, a->use_rslora ? "true" : "false", l->cfg.r, l->cfg.alpha,
                           l->cfg.use_rslora ? "true" : "false");
    int found = 0;
    for (int i = 0; i < a->n_pairs; i++) {
        const whet_lora_pair *p = &a->pairs[i];
        const int m = module_index(p->module);
        float *da = (m >= 0 && p->layer >= 0 && p->layer < l->n_layers) ? whet_lora_a(l, p->layer, m) : NULL;
        if (!da)
            return whet_errorf(err, WHET_ERR_SHAPE,
                               "adapter adapts layers.%d.%s, which this training run does not (check lora_target)",
                               p->layer, p->module);
        if (p->in_features != l->in[m] || p->out_features != l->out[m])
            return whet_errorf(err, WHET_ERR_SHAPE,
                               "adapter layers.%d.%s is [%lld -> %lld] but the model's is [%lld -> %lld]: the adapter "
                               "belongs to another model",
                               p->layer, p->module, (long long)p->in_features, (long long)p->out_features,
                               (long long)l->in[m], (long long)l->out[m]);
        memcpy(da, p->a, sizeof(float) * (size_t)(l->cfg.r * l->in[m]));
        memcpy(whet_lora_b(l, p->layer, m), p->b, sizeof(float) * (size_t)(l->out[m] * l->cfg.r));
        found++;
    }
    int want = 0;
    for (int m = 0; m < WHET_MOD_COUNT; m++) want += l->cfg.target[m] ? l->n_layers : 0;
    if (found != want)
        return whet_errorf(err, WHET_ERR_SHAPE, "adapter holds %d LoRA pairs but training expects %d (check lora_target)",
                           found, want);
    return WHET_OK;
}
