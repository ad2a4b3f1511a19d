/* model_forward.c: the Llama-family inference forward pass over a batch of
 * tokens from any number of sequences, K/V written to and read from the
 * paged pool through block tables (model.h). Per layer, as transformers'
 * LlamaDecoderLayer / Qwen2 / Qwen3 / Mistral compute it:
 *   x += o_proj(attn(rope(norm_q(q_proj(rms(x)))), rope(norm_k(k_proj(..))), v_proj(..)))
 *   x += down_proj(silu(gate_proj(rms(x))) * up_proj(rms(x)))
 * then the final RMSNorm and the LM head on the requested rows only.
 * With unmerged LoRA (batch.lora) every adapted linear also adds its rows'
 * adapter deltas after the base matmul (lora_infer.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "model/lora_infer.h"
#include "model/model.h"
#include "ops/add.h"
#include "ops/attention.h"
#include "ops/embedding.h"
#include "ops/matmul.h"
#include "ops/rmsnorm.h"
#include "ops/rope.h"
#include "ops/swiglu.h"

typedef struct {
    const uint8_t *const *key_mask;  /* NULL or [n_seqs][positions] */
    float *layer_hidden;             /* NULL or [n_layers + 1, T, H] (HF output_hidden_states) */
    float *final_hidden;             /* NULL or [T, H] after the final norm */
} fwd_extra;

/* Scratch views carved from the workspace, all f32. */
typedef struct {
    float *x, *xn;        /* [T, H] residual stream, normed / projected */
    float *q, *att;       /* [T, nh * hd] */
    float *k, *v;         /* [T, nkv * hd] */
    float *gate, *up;     /* [T, I] */
    float *rows;          /* [n_logits, H] */
    float *inv_freq;      /* [hd / 2] */
} fwd_bufs;

static whet_status carve(whet_forward_ws *ws, const whet_model_config *c, int64_t T, int64_t n_logits, fwd_bufs *b,
                         whet_error *err) {
    int64_t H = c->hidden_size, qd = (int64_t)c->n_heads * c->head_dim, kvd = (int64_t)c->n_kv_heads * c->head_dim;
    int64_t sizes[] = {T * H, T * H, T * qd, T * qd, T * kvd, T * kvd, T * c->intermediate_size,
                       T * c->intermediate_size, n_logits * H, c->head_dim / 2};
    float **dst[] = {&b->x, &b->xn, &b->q, &b->att, &b->k, &b->v, &b->gate, &b->up, &b->rows, &b->inv_freq};
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) total += ((size_t)sizes[i] + 15) / 16 * 16;
    total *= sizeof(float);
    if (ws->cap < total) {
        void *p = realloc(ws->buf, total);
        if (!p) return whet_errorf(err, WHET_ERR_NOMEM, "forward: out of memory for %.1f MiB of activations (%lld tokens); "
                                   "run fewer tokens per step", (double)total / 1048576.0, (long long)T);
        ws->buf = p;
        ws->cap = total;
    }
    float *p = ws->buf;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *dst[i] = p;
        p += ((size_t)sizes[i] + 15) / 16 * 16;
    }
    return WHET_OK;
}

static whet_status check_batch(const whet_model *m, const whet_kv_pool *kv, const whet_forward_batch *b,
                               whet_error *err) {
    const whet_model_config *c = &m->cfg;
    if (kv->n_layers != c->n_layers || kv->n_kv_heads != c->n_kv_heads || kv->head_dim != c->head_dim)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: KV pool shaped for %d layers x %d kv heads x %d, model "
                           "has %d x %d x %d", kv->n_layers, kv->n_kv_heads, kv->head_dim, c->n_layers, c->n_kv_heads,
                           c->head_dim);
    if (b->n_tokens <= 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: empty batch");
    for (int t = 0; t < b->n_tokens; t++) {
        if (b->seq_of[t] < 0 || b->seq_of[t] >= b->n_seqs)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: token %d belongs to sequence %d of %d", t,
                               b->seq_of[t], b->n_seqs);
        if (b->pos[t] < 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: token %d at position %d", t, b->pos[t]);
        int32_t blk = b->block_tables[b->seq_of[t]][b->pos[t] / kv->block_size];
        if (blk < 0 || blk >= kv->n_blocks)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: token %d (sequence %d, position %d) maps to block %d, "
                               "outside the pool of %d blocks", t, b->seq_of[t], b->pos[t], blk, kv->n_blocks);
    }
    int n_lora = whet_lora_set_count(b->lora);
    if (b->lora && !b->lora_of) return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: LoRA set without lora_of");
    for (int t = 0; b->lora && t < b->n_tokens; t++)
        if (b->lora_of[t] < -1 || b->lora_of[t] >= n_lora)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: token %d uses adapter %d of %d", t, b->lora_of[t],
                               n_lora);
    for (int r = 0; r < b->n_logits; r++)
        if (b->logit_rows[r] < 0 || b->logit_rows[r] >= b->n_tokens)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: logit row %d is token %d of %d", r, b->logit_rows[r],
                               b->n_tokens);
    return WHET_OK;
}

/* k, v [T, nkv*hd] of layer `l` into their slots. */
static void write_kv(whet_kv_pool *kv, int l, const whet_forward_batch *b, const float *k, const float *v) {
    size_t row = (size_t)kv->n_kv_heads * kv->head_dim;
    for (int t = 0; t < b->n_tokens; t++) {
        int32_t blk = b->block_tables[b->seq_of[t]][b->pos[t] / kv->block_size];
        size_t slot = (((size_t)l * kv->n_blocks + (size_t)blk) * kv->block_size + (size_t)(b->pos[t] % kv->block_size)) * row;
        memcpy(kv->k + slot, k + (size_t)t * row, row * sizeof(float));
        memcpy(kv->v + slot, v + (size_t)t * row, row * sizeof(float));
    }
}

/* y = x·Wᵀ + b of layer l's linear `mod`, plus the LoRA deltas of the rows that use an adapter. */
static whet_status linear(whet_model *m, const whet_forward_batch *b, int l, whet_lora_module mod, float *y,
                          const float *x, const whet_weight *w, const float *bias, int64_t T, whet_error *err) {
    WHET_TRY(whet_matmul(y, x, w, bias, T, m->pool, err));
    if (m->resident_lora) WHET_TRY(whet_lora_set_apply_all(m->resident_lora, 0, l, mod, x, y, T, m->pool, err));
    if (b->lora) whet_lora_set_apply(b->lora, l, mod, x, y, T, b->lora_of, m->pool);
    return WHET_OK;
}

static whet_status attention_block(whet_model *m, whet_kv_pool *kv, int l, const whet_forward_batch *b,
                                   const fwd_extra *ex, fwd_bufs *f, whet_error *err) {
    const whet_model_config *c = &m->cfg;
    const whet_layer_weights *L = &m->layers[l];
    int64_t T = b->n_tokens, H = c->hidden_size;
    whet_rmsnorm(f->xn, f->x, L->input_norm, T, H, c->rms_norm_eps);
    WHET_TRY(linear(m, b, l, WHET_LORA_Q, f->q, f->xn, &L->q_proj, L->q_bias, T, err));
    WHET_TRY(linear(m, b, l, WHET_LORA_K, f->k, f->xn, &L->k_proj, L->k_bias, T, err));
    WHET_TRY(linear(m, b, l, WHET_LORA_V, f->v, f->xn, &L->v_proj, L->v_bias, T, err));
    if (c->qk_norm) {
        whet_rmsnorm(f->q, f->q, L->q_norm, T * c->n_heads, c->head_dim, c->rms_norm_eps);
        whet_rmsnorm(f->k, f->k, L->k_norm, T * c->n_kv_heads, c->head_dim, c->rms_norm_eps);
    }
    whet_rope(f->q, b->pos, f->inv_freq, T, c->n_heads, c->head_dim);
    whet_rope(f->k, b->pos, f->inv_freq, T, c->n_kv_heads, c->head_dim);
    write_kv(kv, l, b, f->k, f->v);
    size_t layer_off = (size_t)l * kv->n_blocks * kv->block_size * kv->n_kv_heads * kv->head_dim;
    whet_paged_attention a = {
        .n_tokens = b->n_tokens, .n_heads = c->n_heads, .n_kv_heads = c->n_kv_heads, .head_dim = c->head_dim,
        .pos = b->pos, .seq_of = b->seq_of, .block_tables = b->block_tables, .block_size = kv->block_size,
        .n_blocks = kv->n_blocks, .k_cache = kv->k + layer_off, .v_cache = kv->v + layer_off,
        .key_mask = ex->key_mask, .sliding_window = c->sliding_window, .scale = 1.0f / sqrtf((float)c->head_dim),
    };
    WHET_TRY(whet_attention_paged(f->att, f->q, &a, m->pool, err));
    WHET_TRY(linear(m, b, l, WHET_LORA_O, f->xn, f->att, &L->o_proj, L->o_bias, T, err));
    whet_add_inplace(f->x, f->xn, T * H);
    return WHET_OK;
}

static whet_status mlp_block(whet_model *m, int l, const whet_forward_batch *b, fwd_bufs *f, whet_error *err) {
    const whet_model_config *c = &m->cfg;
    const whet_layer_weights *L = &m->layers[l];
    int64_t T = b->n_tokens;
    whet_rmsnorm(f->xn, f->x, L->post_attn_norm, T, c->hidden_size, c->rms_norm_eps);
    WHET_TRY(linear(m, b, l, WHET_LORA_GATE, f->gate, f->xn, &L->gate_proj, NULL, T, err));
    WHET_TRY(linear(m, b, l, WHET_LORA_UP, f->up, f->xn, &L->up_proj, NULL, T, err));
    whet_swiglu(f->gate, f->gate, f->up, T * c->intermediate_size);
    WHET_TRY(linear(m, b, l, WHET_LORA_DOWN, f->xn, f->gate, &L->down_proj, NULL, T, err));
    whet_add_inplace(f->x, f->xn, T * c->hidden_size);
    return WHET_OK;
}

static whet_status forward_core(whet_model *m, whet_kv_pool *kv, const whet_forward_batch *b, const fwd_extra *ex,
                                float *logits, whet_forward_ws *ws, whet_error *err) {
    const whet_model_config *c = &m->cfg;
    WHET_TRY(check_batch(m, kv, b, err));
    int64_t T = b->n_tokens, H = c->hidden_size;
    fwd_bufs f;
    WHET_TRY(carve(ws, c, T, b->n_logits, &f, err));
    int max_pos = 0;
    for (int t = 0; t < b->n_tokens; t++) max_pos = b->pos[t] > max_pos ? b->pos[t] : max_pos;
    /* The frequencies fixed at load (config.json's rope scaling, or a GGUF's rope_freqs), except dynamic NTK,
     * which depends on the sequence length. */
    if (c->rope_type == WHET_ROPE_DYNAMIC) whet_rope_inv_freq_for_len(c, max_pos + 1, f.inv_freq);
    else memcpy(f.inv_freq, m->rope_inv_freq, (size_t)(c->head_dim / 2) * sizeof(float));
    WHET_TRY(whet_embedding(f.x, &m->embed, b->tokens, T, err));
    for (int l = 0; l < c->n_layers; l++) {
        if (ex->layer_hidden) memcpy(ex->layer_hidden + (size_t)l * T * H, f.x, (size_t)(T * H) * sizeof(float));
        WHET_TRY(attention_block(m, kv, l, b, ex, &f, err));
        WHET_TRY(mlp_block(m, l, b, &f, err));
    }
    float *normed = ex->final_hidden ? ex->final_hidden
                                     : ex->layer_hidden ? ex->layer_hidden + (size_t)c->n_layers * T * H : NULL;
    if (normed) whet_rmsnorm(normed, f.x, m->final_norm, T, H, c->rms_norm_eps);
    if (ex->final_hidden && ex->layer_hidden)
        memcpy(ex->layer_hidden + (size_t)c->n_layers * T * H, normed, (size_t)(T * H) * sizeof(float));
    if (!logits || b->n_logits == 0) return WHET_OK;
    for (int r = 0; r < b->n_logits; r++) {
        int64_t t = b->logit_rows[r];
        if (normed) memcpy(f.rows + r * H, normed + t * H, (size_t)H * sizeof(float));
        else whet_rmsnorm(f.rows + r * H, f.x + t * H, m->final_norm, 1, H, c->rms_norm_eps);
    }
    return whet_matmul(logits, f.rows, &m->lm_head, NULL, b->n_logits, m->pool, err);
}

whet_status whet_model_forward(whet_model *m, whet_kv_pool *kv, const whet_forward_batch *b, float *logits,
                               whet_forward_ws *ws, whet_error *err) {
    fwd_extra ex = {0};
    return forward_core(m, kv, b, &ex, logits, ws, err);
}

whet_status whet_model_forward_hidden(whet_model *m, whet_kv_pool *kv, const whet_forward_batch *b, float *logits,
                                      float *hidden, whet_forward_ws *ws, whet_error *err) {
    fwd_extra ex = {.final_hidden = hidden};
    return forward_core(m, kv, b, &ex, logits, ws, err);
}

void whet_forward_ws_free(whet_forward_ws *ws) {
    free(ws->buf);
    ws->buf = NULL;
    ws->cap = 0;
}

whet_status whet_model_forward_padded(whet_model *m, const int32_t *ids, const uint8_t *mask, int B, int L,
                                      float *logits, float *hidden_states, whet_error *err) {
    return whet_model_forward_padded_lora(m, ids, mask, B, L, NULL, NULL, logits, hidden_states, err);
}

whet_status whet_model_forward_padded_lora(whet_model *m, const int32_t *ids, const uint8_t *mask, int B, int L,
                                           const struct whet_lora_set *lora, const int32_t *lora_of_row,
                                           float *logits, float *hidden_states, whet_error *err) {
    if (B <= 0 || L <= 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "forward: empty batch [%d, %d]", B, L);
    whet_kv_pool kv;
    WHET_TRY(whet_kv_pool_init(&kv, &m->cfg, L, B, err));  /* one block of L slots per row */
    size_t n = (size_t)B * L;
    int32_t *pos = malloc(n * sizeof *pos), *seq = malloc(n * sizeof *seq), *rows = malloc(n * sizeof *rows);
    int32_t *blocks = malloc((size_t)B * sizeof *blocks);
    const int32_t **tables = malloc((size_t)B * sizeof *tables);
    const uint8_t **masks = malloc((size_t)B * sizeof *masks);
    int32_t *lora_of = lora && lora_of_row ? malloc(n * sizeof *lora_of) : NULL;
    whet_status s = WHET_OK;
    if (!pos || !seq || !rows || !blocks || !tables || !masks || (lora && lora_of_row && !lora_of)) {
        s = whet_errorf(err, WHET_ERR_NOMEM, "forward: out of memory for a [%d, %d] batch", B, L);
    } else {
        for (int b = 0; b < B; b++) {
            blocks[b] = b;
            tables[b] = &blocks[b];
            masks[b] = mask ? mask + (size_t)b * L : NULL;
            for (int p = 0; p < L; p++) {
                size_t i = (size_t)b * L + p;
                pos[i] = p;
                seq[i] = b;
                rows[i] = (int32_t)i;
                if (lora_of) lora_of[i] = lora_of_row[b];
            }
        }
        whet_forward_batch fb = {.n_tokens = (int)n, .tokens = ids, .pos = pos, .seq_of = seq, .n_seqs = B,
                                 .block_tables = (const int32_t *const *)tables, .n_logits = logits ? (int)n : 0,
                                 .logit_rows = rows, .lora = lora_of ? lora : NULL, .lora_of = lora_of};
        fwd_extra ex = {.key_mask = mask ? (const uint8_t *const *)masks : NULL, .layer_hidden = hidden_states};
        whet_forward_ws ws = {0};
        s = forward_core(m, &kv, &fb, &ex, logits, &ws, err);
        whet_forward_ws_free(&ws);
    }
    free(pos);
    free(seq);
    free(rows);
    free(blocks);
    free(tables);
    free(masks);
    free(lora_of);
    whet_kv_pool_free(&kv);
    return s;
}
