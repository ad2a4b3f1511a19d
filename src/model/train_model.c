/* train_model.c: training forward/backward of the Llama family with LoRA.
 * Per layer (HF LlamaDecoderLayer):
 *   xn1 = rmsnorm(x); q,k,v = lin(xn1) [+ q/k norm] ; rope(q, k)
 *   att = attention(q, k, v); h = x + lin_o(att)
 *   xn2 = rmsnorm(h); act = silu(lin_gate(xn2)) · lin_up(xn2); out = h + lin_down(act)
 * where lin(x) = x·Wᵀ + b + scale·(dropout(x)·Aᵀ)·Bᵀ. The backward walks the
 * same steps in reverse; residual gradients accumulate in one [T, H] buffer. */
#include "model/train_model.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/arena.h"
#include "core/half.h"
#include "core/rng.h"
#include "ops/attention_backward.h"
#include "ops/matmul_backward.h"
#include "ops/rmsnorm_backward.h"
#include "ops/rope_backward.h"
#include "ops/swiglu_backward.h"

typedef struct {
    float *rstd1, *xn1;            /* [T], [T, H] */
    float *q_raw, *k_raw;          /* [T, qd], [T, kvd] before the qwen3 q/k norm (NULL without it) */
    float *rstd_q, *rstd_k;        /* [T * nh], [T * nkv] */
    float *q, *k, *v;              /* [T, qd], [T, kvd], [T, kvd] after rope */
    float *att, *lse;              /* [T, qd], [T, nh] */
    float *h_mid, *rstd2, *xn2;    /* [T, H], [T], [T, H] */
    float *g, *u, *act;            /* [T, I] each */
    float *z[WHET_MOD_COUNT];      /* [T, r] LoRA bottleneck x·Aᵀ */
    float *mask[WHET_MOD_COUNT];   /* [T, in] dropout keep-scale (0 or 1/(1-p)); NULL without dropout */
} layer_acts;

struct whet_train_model {
    whet_model *m;
    whet_lora *lora;
    whet_train_opts opts;
    whet_arena arena;
    size_t peak;
};

typedef struct {
    whet_train_model *tm;
    const whet_train_batch *b;
    int64_t T;
    int nh, nkv, hd;
    int64_t H, I, qd, kvd, max_in;
    bool keep_all, dropout;
    float *cos_t, *sin_t;          /* [T, hd/2] */
    float **xs;                    /* [n_layers + 1] of [T, H]: input of each layer, xs[n_layers] = final */
    layer_acts *acts;              /* [n_layers] or [1] when recomputing */
    float *rstd_f, *hn;            /* [T], [T, H] after the final norm */
    float *tmp_u, *tmp_x;          /* [T, max_in] scratch */
    float *dz;                     /* [T, r] */
    float *layer_out;              /* [T, H] scratch output of a recomputed layer */
} step;

static void *arena_floats(whet_arena *a, int64_t n, bool *fail) {
    void *p = whet_arena_alloc(a, sizeof(float) * (size_t)(n > 0 ? n : 1));
    if (!p) *fail = true;
    return p;
}

static const whet_weight *module_weight(const whet_layer_weights *lw, int m, const float **bias) {
    *bias = NULL;
    switch (m) {
    case WHET_MOD_Q: *bias = lw->q_bias; return &lw->q_proj;
    case WHET_MOD_K: *bias = lw->k_bias; return &lw->k_proj;
    case WHET_MOD_V: *bias = lw->v_bias; return &lw->v_proj;
    case WHET_MOD_O: *bias = lw->o_bias; return &lw->o_proj;
    case WHET_MOD_GATE: return &lw->gate_proj;
    case WHET_MOD_UP: return &lw->up_proj;
    default: return &lw->down_proj;
    }
}

/* Dropout keep-scales of one (micro-batch, layer, module): reproducible from
 * the seed, so a recomputed layer draws the same mask. */
static void fill_mask(float *mask, int64_t n, float p, uint64_t seed, int layer, int m) {
    whet_rng rng;
    whet_rng_seed(&rng, seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(layer * WHET_MOD_COUNT + m + 1)));
    const float keep = 1.0f / (1.0f - p);
    for (int64_t i = 0; i < n; i++) mask[i] = whet_rng_uniform(&rng) < p ? 0.0f : keep;
}

/* y (= or +=) lin(x) for module m of `layer`. */
static whet_status lin_fwd(step *s, layer_acts *a, int layer, int m, const float *x, float *y, bool accumulate,
                           whet_error *err) {
    const whet_layer_weights *lw = &s->tm->m->layers[layer];
    const float *bias;
    const whet_weight *w = module_weight(lw, m, &bias);
    WHET_TRY(whet_linear_train_forward(y, x, w, bias, s->T, 1.0f, accumulate, err));
    const whet_lora *l = s->tm->lora;
    const float *A = whet_lora_a(l, layer, m);
    if (!A) return WHET_OK;
    const int64_t in = l->in[m], out = l->out[m], r = l->cfg.r;
    const float *u = x;
    if (a->mask[m]) {
        fill_mask(a->mask[m], s->T * in, l->cfg.dropout, s->b->noise_seed, layer, m);
        for (int64_t i = 0; i < s->T * in; i++) s->tmp_u[i] = x[i] * a->mask[m][i];
        u = s->tmp_u;
    }
    const whet_weight wa = whet_weight_f32(A, r, in), wb = whet_weight_f32(whet_lora_b(l, layer, m), out, r);
    WHET_TRY(whet_linear_train_forward(a->z[m], u, &wa, NULL, s->T, 1.0f, false, err));
    return whet_linear_train_forward(y, a->z[m], &wb, NULL, s->T, l->scale, true, err);
}

/* dx += ∂/∂x of lin(x)·dy; LoRA grads += their part. */
static whet_status lin_bwd(step *s, layer_acts *a, int layer, int m, const float *x, const float *dy, float *dx,
                           whet_error *err) {
    const whet_layer_weights *lw = &s->tm->m->layers[layer];
    const float *bias;
    WHET_TRY(whet_linear_backward_input(dx, dy, module_weight(lw, m, &bias), s->T, 1.0f, err));
    const whet_lora *l = s->tm->lora;
    const float *A = whet_lora_a(l, layer, m);
    if (!A) return WHET_OK;
    const int64_t in = l->in[m], out = l->out[m], r = l->cfg.r, T = s->T;
    const whet_weight wa = whet_weight_f32(A, r, in), wb = whet_weight_f32(whet_lora_b(l, layer, m), out, r);
    memset(s->dz, 0, sizeof(float) * (size_t)(T * r));
    WHET_TRY(whet_linear_backward_input(s->dz, dy, &wb, T, l->scale, err));            /* dz = scale·dy·B */
    whet_linear_backward_weight(whet_lora_grad_b(l, layer, m), dy, a->z[m], T, out, r, l->scale);
    const float *u = x;
    if (a->mask[m]) {
        for (int64_t i = 0; i < T * in; i++) s->tmp_u[i] = x[i] * a->mask[m][i];
        u = s->tmp_u;
    }
    whet_linear_backward_weight(whet_lora_grad_a(l, layer, m), s->dz, u, T, r, in, 1.0f);
    if (!a->mask[m]) return whet_linear_backward_input(dx, s->dz, &wa, T, 1.0f, err);
    memset(s->tmp_x, 0, sizeof(float) * (size_t)(T * in));
    WHET_TRY(whet_linear_backward_input(s->tmp_x, s->dz, &wa, T, 1.0f, err));
    for (int64_t i = 0; i < T * in; i++) dx[i] += s->tmp_x[i] * a->mask[m][i];
    return WHET_OK;
}

static whet_attn_shape attn_shape(const step *s) {
    whet_attn_shape sh = {.T = s->T, .n_seqs = s->b->n_seqs, .cu_seqlens = s->b->cu_seqlens, .nh = s->nh,
                          .nkv = s->nkv, .hd = s->hd, .scale = 1.0f / sqrtf((float)s->hd)};
    return sh;
}

static whet_status layer_forward(step *s, int layer, layer_acts *a, const float *x, float *out, whet_error *err) {
    const whet_model *m = s->tm->m;
    const whet_layer_weights *lw = &m->layers[layer];
    const float eps = m->cfg.rms_norm_eps;
    const int64_t T = s->T, H = s->H;
    whet_rmsnorm_train_forward(a->xn1, a->rstd1, x, lw->input_norm, T, H, eps);
    const bool qkn = m->cfg.qk_norm;
    WHET_TRY(lin_fwd(s, a, layer, WHET_MOD_Q, a->xn1, qkn ? a->q_raw : a->q, false, err));
    WHET_TRY(lin_fwd(s, a, layer, WHET_MOD_K, a->xn1, qkn ? a->k_raw : a->k, false, err));
    WHET_TRY(lin_fwd(s, a, layer, WHET_MOD_V, a->xn1, a->v, false, err));
    if (qkn) {
        whet_rmsnorm_train_forward(a->q, a->rstd_q, a->q_raw, lw->q_norm, T * s->nh, s->hd, eps);
        whet_rmsnorm_train_forward(a->k, a->rstd_k, a->k_raw, lw->k_norm, T * s->nkv, s->hd, eps);
    }
    whet_rope_train_forward(a->q, s->cos_t, s->sin_t, T, s->nh, s->hd);
    whet_rope_train_forward(a->k, s->cos_t, s->sin_t, T, s->nkv, s->hd);
    const whet_attn_shape sh = attn_shape(s);
    WHET_TRY(whet_attention_train_forward(a->att, a->lse, a->q, a->k, a->v, &sh, m->pool, err));
    memcpy(a->h_mid, x, sizeof(float) * (size_t)(T * H));
    WHET_TRY(lin_fwd(s, a, layer, WHET_MOD_O, a->att, a->h_mid, true, err));
    whet_rmsnorm_train_forward(a->xn2, a->rstd2, a->h_mid, lw->post_attn_norm, T, H, eps);
    WHET_TRY(lin_fwd(s, a, layer, WHET_MOD_GATE, a->xn2, a->g, false, err));
    WHET_TRY(lin_fwd(s, a, layer, WHET_MOD_UP, a->xn2, a->u, false, err));
    whet_swiglu_train_forward(a->act, a->g, a->u, T * s->I);
    memcpy(out, a->h_mid, sizeof(float) * (size_t)(T * H));
    return lin_fwd(s, a, layer, WHET_MOD_DOWN, a->act, out, true, err);
}

typedef struct {
    float *d_act, *dg, *du;        /* [T, I] */
    float *dxn;                    /* [T, H] */
    float *d_att, *dq, *dq_raw;    /* [T, qd] */
    float *dk, *dv, *dk_raw;       /* [T, kvd] */
} bwd_bufs;

/* dres [T, H]: in: ∂L/∂(layer output); out: ∂L/∂(layer input). */
static whet_status layer_backward(step *s, int layer, layer_acts *a, const float *x, float *dres, bwd_bufs *g,
                                  whet_error *err) {
    const whet_model *m = s->tm->m;
    const whet_layer_weights *lw = &m->layers[layer];
    const int64_t T = s->T, H = s->H;
    memset(g->d_act, 0, sizeof(float) * (size_t)(T * s->I));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_DOWN, a->act, dres, g->d_act, err));
    whet_swiglu_backward(g->dg, g->du, g->d_act, a->g, a->u, T * s->I);
    memset(g->dxn, 0, sizeof(float) * (size_t)(T * H));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_GATE, a->xn2, g->dg, g->dxn, err));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_UP, a->xn2, g->du, g->dxn, err));
    whet_rmsnorm_backward(dres, NULL, g->dxn, a->h_mid, lw->post_attn_norm, a->rstd2, T, H);

    memset(g->d_att, 0, sizeof(float) * (size_t)(T * s->qd));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_O, a->att, dres, g->d_att, err));
    const whet_attn_shape sh = attn_shape(s);
    WHET_TRY(whet_attention_backward(g->dq, g->dk, g->dv, g->d_att, a->q, a->k, a->v, a->att, a->lse, &sh, m->pool,
                                     err));
    whet_rope_backward(g->dq, s->cos_t, s->sin_t, T, s->nh, s->hd);
    whet_rope_backward(g->dk, s->cos_t, s->sin_t, T, s->nkv, s->hd);
    float *dq = g->dq, *dk = g->dk;
    if (m->cfg.qk_norm) {
        memset(g->dq_raw, 0, sizeof(float) * (size_t)(T * s->qd));
        memset(g->dk_raw, 0, sizeof(float) * (size_t)(T * s->kvd));
        whet_rmsnorm_backward(g->dq_raw, NULL, g->dq, a->q_raw, lw->q_norm, a->rstd_q, T * s->nh, s->hd);
        whet_rmsnorm_backward(g->dk_raw, NULL, g->dk, a->k_raw, lw->k_norm, a->rstd_k, T * s->nkv, s->hd);
        dq = g->dq_raw;
        dk = g->dk_raw;
    }
    memset(g->dxn, 0, sizeof(float) * (size_t)(T * H));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_Q, a->xn1, dq, g->dxn, err));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_K, a->xn1, dk, g->dxn, err));
    WHET_TRY(lin_bwd(s, a, layer, WHET_MOD_V, a->xn1, g->dv, g->dxn, err));
    whet_rmsnorm_backward(dres, NULL, g->dxn, x, lw->input_norm, a->rstd1, T, H);
    return WHET_OK;
}

static bool alloc_acts(step *s, layer_acts *a, whet_arena *ar) {
    bool fail = false;
    const int64_t T = s->T;
    a->rstd1 = arena_floats(ar, T, &fail);
    a->xn1 = arena_floats(ar, T * s->H, &fail);
    if (s->tm->m->cfg.qk_norm) {
        a->q_raw = arena_floats(ar, T * s->qd, &fail);
        a->k_raw = arena_floats(ar, T * s->kvd, &fail);
        a->rstd_q = arena_floats(ar, T * s->nh, &fail);
        a->rstd_k = arena_floats(ar, T * s->nkv, &fail);
    }
    a->q = arena_floats(ar, T * s->qd, &fail);
    a->k = arena_floats(ar, T * s->kvd, &fail);
    a->v = arena_floats(ar, T * s->kvd, &fail);
    a->att = arena_floats(ar, T * s->qd, &fail);
    a->lse = arena_floats(ar, T * s->nh, &fail);
    a->h_mid = arena_floats(ar, T * s->H, &fail);
    a->rstd2 = arena_floats(ar, T, &fail);
    a->xn2 = arena_floats(ar, T * s->H, &fail);
    a->g = arena_floats(ar, T * s->I, &fail);
    a->u = arena_floats(ar, T * s->I, &fail);
    a->act = arena_floats(ar, T * s->I, &fail);
    const whet_lora *l = s->tm->lora;
    for (int m = 0; m < WHET_MOD_COUNT; m++) {
        a->z[m] = a->mask[m] = NULL;
        if (!l->cfg.target[m]) continue;
        a->z[m] = arena_floats(ar, T * l->cfg.r, &fail);
        if (s->dropout) a->mask[m] = arena_floats(ar, T * l->in[m], &fail);
    }
    return !fail;
}

static whet_status check_batch(const whet_train_model *tm, const whet_train_batch *b, whet_error *err) {
    const whet_model_config *c = &tm->m->cfg;
    if (b->T < 1 || b->n_seqs < 1 || b->cu_seqlens[0] != 0 || b->cu_seqlens[b->n_seqs] != b->T)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "training batch: cu_seqlens must run from 0 to T=%lld",
                           (long long)b->T);
    for (int i = 0; i < b->n_seqs; i++) {
        const int len = b->cu_seqlens[i + 1] - b->cu_seqlens[i];
        if (len < 1) return whet_errorf(err, WHET_ERR_INVALID_ARG, "training batch: sequence %d is empty", i);
        if (c->sliding_window > 0 && len > c->sliding_window)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                               "training batch: a %d-token sequence exceeds the model's sliding_window %d; lower "
                               "cutoff_len to %d",
                               len, c->sliding_window, c->sliding_window);
    }
    for (int64_t t = 0; t < b->T; t++)
        if (b->tokens[t] < 0 || b->tokens[t] >= c->vocab_size)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "training batch: token %lld has id %d outside [0, %d)",
                               (long long)t, b->tokens[t], c->vocab_size);
    return WHET_OK;
}

static whet_status embed(step *s, float *x, whet_error *err) {
    const whet_weight *e = &s->tm->m->embed;
    const int64_t H = s->H;
    for (int64_t t = 0; t < s->T; t++) {
        const size_t row = (size_t)s->b->tokens[t] * (size_t)H;
        float *dst = x + (size_t)t * (size_t)H;
        if (e->dtype == WHET_DT_F32) memcpy(dst, (const float *)e->data + row, sizeof(float) * (size_t)H);
        else if (e->dtype == WHET_DT_BF16) whet_bf16_to_f32_row((const uint16_t *)e->data + row, dst, (size_t)H);
        else if (e->dtype == WHET_DT_F16) whet_fp16_to_f32_row((const uint16_t *)e->data + row, dst, (size_t)H);
        else
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "training with a %s embedding table is not supported",
                               whet_dtype_name(e->dtype));
    }
    const float alpha = s->tm->opts.neftune_alpha;
    if (s->b->training && alpha > 0) {
        /* NEFTune (HF): uniform(-mag, mag), mag = alpha / sqrt(L·H), L = the batch's (longest) sequence length */
        int max_len = 0;
        for (int i = 0; i < s->b->n_seqs; i++)
            if (s->b->cu_seqlens[i + 1] - s->b->cu_seqlens[i] > max_len)
                max_len = s->b->cu_seqlens[i + 1] - s->b->cu_seqlens[i];
        const double mag = alpha / sqrt((double)max_len * (double)H);
        whet_rng rng;
        whet_rng_seed(&rng, s->b->noise_seed ^ 0xC2B2AE3D27D4EB4Full);
        for (int64_t i = 0; i < s->T * H; i++) x[i] += (float)((2.0 * whet_rng_uniform(&rng) - 1.0) * mag);
    }
    return WHET_OK;
}

/* Set up the step: shapes, arena buffers, rope tables. */
static whet_status step_begin(whet_train_model *tm, const whet_train_batch *b, bool keep_all, step *s,
                              whet_error *err) {
    WHET_TRY(check_batch(tm, b, err));
    const whet_model_config *c = &tm->m->cfg;
    memset(s, 0, sizeof *s);
    s->tm = tm;
    s->b = b;
    s->T = b->T;
    s->nh = c->n_heads;
    s->nkv = c->n_kv_heads;
    s->hd = c->head_dim;
    s->H = c->hidden_size;
    s->I = c->intermediate_size;
    s->qd = (int64_t)s->nh * s->hd;
    s->kvd = (int64_t)s->nkv * s->hd;
    s->max_in = s->I > s->qd ? s->I : s->qd;
    if (s->H > s->max_in) s->max_in = s->H;
    s->keep_all = keep_all;
    s->dropout = b->training && tm->lora->cfg.dropout > 0;
    whet_arena *ar = &tm->arena;
    whet_arena_reset(ar);
    bool fail = false;
    const int n_layers = c->n_layers, T = (int)s->T;
    s->cos_t = arena_floats(ar, s->T * s->hd / 2, &fail);
    s->sin_t = arena_floats(ar, s->T * s->hd / 2, &fail);
    s->xs = whet_arena_alloc(ar, sizeof(float *) * (size_t)(n_layers + 1));
    if (!s->xs) fail = true;
    for (int i = 0; !fail && i <= n_layers; i++) s->xs[i] = arena_floats(ar, s->T * s->H, &fail);
    const int n_acts = keep_all ? n_layers : 1;
    s->acts = whet_arena_alloc(ar, sizeof(layer_acts) * (size_t)n_acts);
    if (!s->acts) fail = true;
    for (int i = 0; !fail && i < n_acts; i++) fail = !alloc_acts(s, &s->acts[i], ar);
    s->rstd_f = arena_floats(ar, s->T, &fail);
    s->hn = arena_floats(ar, s->T * s->H, &fail);
    s->tmp_u = arena_floats(ar, s->T * s->max_in, &fail);
    s->tmp_x = arena_floats(ar, s->T * s->max_in, &fail);
    s->dz = arena_floats(ar, s->T * tm->lora->cfg.r, &fail);
    s->layer_out = arena_floats(ar, s->T * s->H, &fail);
    if (fail)
        return whet_errorf(err, WHET_ERR_NOMEM,
                           "out of memory for the activations of a %d-token batch; lower cutoff_len or "
                           "per_device_train_batch_size, or set gradient_checkpointing: true",
                           T);
    whet_rope_tables(s->cos_t, s->sin_t, b->pos, tm->m->rope_inv_freq, s->T, s->hd);
    return WHET_OK;
}

static whet_status run_forward(step *s, whet_error *err) {
    const int n_layers = s->tm->m->cfg.n_layers;
    WHET_TRY(embed(s, s->xs[0], err));
    for (int L = 0; L < n_layers; L++)
        WHET_TRY(layer_forward(s, L, &s->acts[s->keep_all ? L : 0], s->xs[L], s->xs[L + 1], err));
    whet_rmsnorm_train_forward(s->hn, s->rstd_f, s->xs[n_layers], s->tm->m->final_norm, s->T, s->H,
                               s->tm->m->cfg.rms_norm_eps);
    return WHET_OK;
}

static void note_peak(whet_train_model *tm) {
    if (tm->arena.used_total > tm->peak) tm->peak = tm->arena.used_total;
}

whet_status whet_train_forward(whet_train_model *tm, const whet_train_batch *b, whet_ce_result *res, float *logits,
                               whet_error *err) {
    step s;
    WHET_TRY(step_begin(tm, b, false, &s, err));
    note_peak(tm);
    WHET_TRY(run_forward(&s, err));
    whet_ce_args ca = {.hidden = s.hn, .lm_head = &tm->m->lm_head, .targets = b->targets, .T = s.T,
                       .chunk_rows = tm->opts.ce_chunk_rows, .grad_scale = 1.0f};
    WHET_TRY(whet_lm_head_ce(&ca, NULL, res, err));
    if (logits) WHET_TRY(whet_linear_train_forward(logits, s.hn, &tm->m->lm_head, NULL, s.T, 1.0f, false, err));
    return WHET_OK;
}

whet_status whet_train_forward_backward(whet_train_model *tm, const whet_train_batch *b, float grad_scale,
                                        whet_ce_result *res, whet_error *err) {
    step s;
    WHET_TRY(step_begin(tm, b, !tm->opts.gradient_checkpointing, &s, err));
    whet_arena *ar = &tm->arena;
    bool fail = false;
    bwd_bufs g;
    const int64_t T = s.T;
    g.d_act = arena_floats(ar, T * s.I, &fail);
    g.dg = arena_floats(ar, T * s.I, &fail);
    g.du = arena_floats(ar, T * s.I, &fail);
    g.dxn = arena_floats(ar, T * s.H, &fail);
    g.d_att = arena_floats(ar, T * s.qd, &fail);
    g.dq = arena_floats(ar, T * s.qd, &fail);
    g.dq_raw = arena_floats(ar, T * s.qd, &fail);
    g.dk = arena_floats(ar, T * s.kvd, &fail);
    g.dv = arena_floats(ar, T * s.kvd, &fail);
    g.dk_raw = arena_floats(ar, T * s.kvd, &fail);
    float *dhn = arena_floats(ar, T * s.H, &fail), *dres = arena_floats(ar, T * s.H, &fail);
    if (fail) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory for the gradients of a %lld-token batch",
                                 (long long)T);
    note_peak(tm);
    WHET_TRY(run_forward(&s, err));

    memset(dhn, 0, sizeof(float) * (size_t)(T * s.H));
    whet_ce_args ca = {.hidden = s.hn, .lm_head = &tm->m->lm_head, .targets = b->targets, .T = T,
                       .chunk_rows = tm->opts.ce_chunk_rows, .grad_scale = grad_scale};
    WHET_TRY(whet_lm_head_ce(&ca, dhn, res, err));
    const int n_layers = tm->m->cfg.n_layers;
    memset(dres, 0, sizeof(float) * (size_t)(T * s.H));
    whet_rmsnorm_backward(dres, NULL, dhn, s.xs[n_layers], tm->m->final_norm, s.rstd_f, T, s.H);
    const whet_lora *l = tm->lora;
    for (int L = n_layers - 1; L >= 0; L--) {
        layer_acts *a = &s.acts[s.keep_all ? L : 0];
        if (!s.keep_all) WHET_TRY(layer_forward(&s, L, a, s.xs[L], s.layer_out, err));
        WHET_TRY(layer_backward(&s, L, a, s.xs[L], dres, &g, err));
        if (tm->opts.on_layer_grads)
            tm->opts.on_layer_grads(tm->opts.hook_ctx, L, l->grads + l->layer_off[L],
                                    l->layer_off[L + 1] - l->layer_off[L]);
    }
    return WHET_OK;
}

whet_status whet_train_model_create(whet_model *m, whet_lora *lora, const whet_train_opts *opts,
                                    whet_train_model **out, whet_error *err) {
    if (lora->n_layers != m->cfg.n_layers)
        return whet_errorf(err, WHET_ERR_SHAPE, "LoRA was built for %d layers but the model has %d", lora->n_layers,
                           m->cfg.n_layers);
    whet_train_model *tm = calloc(1, sizeof *tm);
    if (!tm) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    tm->m = m;
    tm->lora = lora;
    if (opts) tm->opts = *opts;
    whet_arena_init(&tm->arena, 8u << 20);
    *out = tm;
    return WHET_OK;
}

void whet_train_model_free(whet_train_model *tm) {
    if (!tm) return;
    whet_arena_free(&tm->arena);
    free(tm);
}

size_t whet_train_model_peak_bytes(const whet_train_model *tm) { return tm->peak; }
