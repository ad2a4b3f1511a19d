/* lora_infer.c: a set of unmerged PEFT LoRA adapters for one base model and
 * the per-row delta y += scale · B·(A·x) of one adapted linear (lora_infer.h).
 * A stays as PEFT stores it ([r, in], f32, owned by the whet_peft_adapter each
 * entry keeps); B is kept transposed, Bᵀ [r, out], so the second product is r
 * contiguous axpys. An index per (layer, linear) points at the pair or is NULL
 * when the adapter leaves it alone. Both products are written as loops the
 * compiler vectorizes, in the same order for every row, so a row's delta never
 * depends on the batch it is in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "io/peft_adapter.h"
#include "model/lora_gguf.h"
#include "model/lora_infer.h"

/* The rank's per-row scratch lives on the stack (lora_row). */
#define LORA_MAX_RANK 512

static const char *const k_module_names[WHET_LORA_N_MODULES] = {"q_proj",    "k_proj",  "v_proj",   "o_proj",
                                                                 "gate_proj", "up_proj", "down_proj"};

typedef struct {
    whet_peft_adapter ad;           /* owns the A / B tensors; each pair's b is turned into Bᵀ [r, out] at load */
    float scale;
    const whet_lora_pair **by;      /* [n_layers * WHET_LORA_N_MODULES] or NULL entries */
} lora_entry;

struct whet_lora_set {
    whet_model_config cfg;          /* the base model's (GGUF adapters are read against it) */
    int n_layers;
    int64_t (*shape)[2];            /* [n_layers * WHET_LORA_N_MODULES] {out, in} of the base linear */
    int n, cap;
    lora_entry *e;                  /* [cap] */
};

static int module_of(const char *name) {
    for (int i = 0; i < WHET_LORA_N_MODULES; i++)
        if (!strcmp(name, k_module_names[i])) return i;
    return -1;
}

whet_status whet_lora_set_create(const whet_model *m, whet_lora_set **out, whet_error *err) {
    *out = NULL;
    whet_lora_set *s = calloc(1, sizeof *s);
    int nl = m->cfg.n_layers;
    if (s) s->shape = calloc((size_t)nl * WHET_LORA_N_MODULES + 1, sizeof *s->shape);
    if (!s || !s->shape) {
        free(s);
        return whet_errorf(err, WHET_ERR_NOMEM, "LoRA: out of memory");
    }
    s->n_layers = nl;
    s->cfg = m->cfg;
    for (int l = 0; l < nl; l++) {
        const whet_layer_weights *L = &m->layers[l];
        const whet_weight *w[WHET_LORA_N_MODULES] = {&L->q_proj,    &L->k_proj,  &L->v_proj,   &L->o_proj,
                                                     &L->gate_proj, &L->up_proj, &L->down_proj};
        for (int k = 0; k < WHET_LORA_N_MODULES; k++) {
            s->shape[l * WHET_LORA_N_MODULES + k][0] = w[k]->rows;
            s->shape[l * WHET_LORA_N_MODULES + k][1] = w[k]->cols;
        }
    }
    *out = s;
    return WHET_OK;
}

void whet_lora_set_free(whet_lora_set *s) {
    if (!s) return;
    for (int i = 0; i < s->n; i++) {
        whet_peft_adapter_free(&s->e[i].ad);
        free(s->e[i].by);
    }
    free(s->e);
    free(s->shape);
    free(s);
}

int whet_lora_set_count(const whet_lora_set *s) { return s ? s->n : 0; }

float whet_lora_set_scale(const whet_lora_set *s, int index) {
    return index >= 0 && index < s->n ? s->e[index].scale : 0.0f;
}

/* Every pair of `ad` fits the base model; fill by[]. */
static whet_status index_pairs(const whet_lora_set *s, const whet_peft_adapter *ad, const char *dir,
                               const whet_lora_pair **by, whet_error *err) {
    if (ad->r > LORA_MAX_RANK)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: rank r=%d is above the %d whet applies unmerged; serve it "
                           "merged (--adapter_name_or_path) instead", dir, ad->r, LORA_MAX_RANK);
    for (int i = 0; i < ad->n_pairs; i++) {
        const whet_lora_pair *p = &ad->pairs[i];
        if (p->layer < 0 || p->layer >= s->n_layers)
            return whet_errorf(err, WHET_ERR_SHAPE, "%s: adapter has layer %d but the model has %d layers (wrong base "
                               "model?)", dir, p->layer, s->n_layers);
        int k = module_of(p->module);
        if (k < 0)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: layer %d module '%s' is not a linear whet can adapt", dir,
                               p->layer, p->module);
        const int64_t *sh = s->shape[p->layer * WHET_LORA_N_MODULES + k];
        if (sh[0] != p->out_features || sh[1] != p->in_features)
            return whet_errorf(err, WHET_ERR_SHAPE, "%s: layers.%d.%s: adapter is [%lld, %lld] but the base weight is "
                               "[%lld, %lld] (wrong base model?)", dir, p->layer, p->module,
                               (long long)p->out_features, (long long)p->in_features, (long long)sh[0],
                               (long long)sh[1]);
        const whet_lora_pair **slot = &by[p->layer * WHET_LORA_N_MODULES + k];
        if (*slot)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: layers.%d.%s appears twice in the adapter", dir, p->layer,
                               p->module);
        *slot = p;
    }
    return WHET_OK;
}

/* p->b [out, r] -> Bᵀ [r, out] in place of it. */
static whet_status transpose_b(whet_lora_pair *p, int r, const char *dir, whet_error *err) {
    float *bt = malloc((size_t)p->out_features * (size_t)r * sizeof *bt);
    if (!bt) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", dir);
    for (int64_t o = 0; o < p->out_features; o++)
        for (int k = 0; k < r; k++) bt[(int64_t)k * p->out_features + o] = p->b[o * r + k];
    free(p->b);
    p->b = bt;
    return WHET_OK;
}

whet_status whet_lora_set_add(whet_lora_set *s, const char *adapter_dir, int *index, whet_error *err) {
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 4;
        lora_entry *e = realloc(s->e, (size_t)cap * sizeof *e);
        if (!e) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", adapter_dir);
        s->e = e;
        s->cap = cap;
    }
    lora_entry *en = &s->e[s->n];
    memset(en, 0, sizeof *en);
    if (whet_is_gguf_file(adapter_dir)) WHET_TRY(whet_lora_gguf_load(adapter_dir, &s->cfg, &en->ad, err));
    else WHET_TRY(whet_peft_adapter_load(adapter_dir, &en->ad, err));
    en->scale = whet_peft_adapter_scale(&en->ad);
    en->by = calloc((size_t)s->n_layers * WHET_LORA_N_MODULES + 1, sizeof *en->by);
    whet_status st = en->by ? index_pairs(s, &en->ad, adapter_dir, en->by, err)
                            : whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", adapter_dir);
    for (int i = 0; st == WHET_OK && i < en->ad.n_pairs; i++) st = transpose_b(&en->ad.pairs[i], en->ad.r, adapter_dir, err);
    if (st != WHET_OK) {
        whet_peft_adapter_free(&en->ad);
        free(en->by);
        return st;
    }
    if (index) *index = s->n;
    s->n++;
    return WHET_OK;
}

typedef struct {
    const whet_lora_set *s;
    int slot;                       /* layer * WHET_LORA_N_MODULES + module */
    const float *x;
    float *y;
    const int32_t *lora_of;
} apply_ctx;

/* a·b over n floats with 8 independent partial sums (vectorized; the same order for every row). */
static float dot8(const float *a, const float *b, int64_t n) {
    float acc[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += a[i + j] * b[i + j];
    float s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* Row t: h = A·x_t [r], then y_t += Σ_k (scale·h_k) · Bᵀ_k (PEFT's lora_B(lora_A(x)) * scaling, summed into y). */
static void lora_rows(void *ctx, size_t begin, size_t end, int worker) {
    (void)worker;
    const apply_ctx *c = ctx;
    float h[LORA_MAX_RANK];
    for (size_t t = begin; t < end; t++) {
        int a = c->lora_of[t];
        if (a < 0) continue;
        const lora_entry *en = &c->s->e[a];
        const whet_lora_pair *p = en->by[c->slot];
        if (!p) continue;
        const int r = en->ad.r;
        const int64_t in = p->in_features, out = p->out_features;
        const float *xr = c->x + (int64_t)t * in;
        float *yr = c->y + (int64_t)t * out;
        for (int k = 0; k < r; k++) h[k] = en->scale * dot8(p->a + (int64_t)k * in, xr, in);
        for (int k = 0; k < r; k++) {
            const float *bk = p->b + (int64_t)k * out, hk = h[k];
            for (int64_t o = 0; o < out; o++) yr[o] += hk * bk[o];
        }
    }
}

void whet_lora_set_apply(const whet_lora_set *s, int layer, whet_lora_module module, const float *x, float *y,
                         int64_t T, const int32_t *lora_of, whet_threadpool *pool) {
    if (!s || !lora_of || T <= 0 || layer < 0 || layer >= s->n_layers) return;
    int slot = layer * WHET_LORA_N_MODULES + (int)module;
    bool any = false;
    for (int64_t t = 0; t < T && !any; t++) any = lora_of[t] >= 0 && s->e[lora_of[t]].by[slot];
    if (!any) return;
    apply_ctx c = {.s = s, .slot = slot, .x = x, .y = y, .lora_of = lora_of};
    /* a parallel-for costs more than a few rows of rank-r dots */
    whet_parallel_for(T >= 8 ? pool : NULL, (size_t)T, lora_rows, &c);
}

whet_status whet_lora_set_apply_all(const whet_lora_set *s, int index, int layer, whet_lora_module module,
                                    const float *x, float *y, int64_t T, whet_threadpool *pool, whet_error *err) {
    if (!s || index < 0 || index >= s->n || T <= 0) return WHET_OK;
    int32_t few[64];
    int32_t *lora_of = T <= 64 ? few : malloc((size_t)T * sizeof *lora_of);
    if (!lora_of) return whet_errorf(err, WHET_ERR_NOMEM, "LoRA: out of memory for %lld rows", (long long)T);
    for (int64_t t = 0; t < T; t++) lora_of[t] = index;
    whet_lora_set_apply(s, layer, module, x, y, T, lora_of, pool);
    if (lora_of != few) free(lora_of);
    return WHET_OK;
}
