/* generate.c: single-sequence generation over the paged KV cache: the
 * sequence owns ceil((prompt + max_new) / block_size) blocks of a private
 * pool (block table = identity), the prompt is prefilled in one step and
 * each new token costs one decode step that reads all earlier K/V. */
#include "infer/generate.h"
#include <stdlib.h>
#include <time.h>

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool is_eos(const whet_generate_opts *o, int32_t id) {
    for (int i = 0; i < o->n_eos; i++)
        if (o->eos_ids[i] == id) return true;
    return false;
}

int whet_generate_default_eos(const whet_model *m, const whet_generation_config *gc, const int32_t **ids) {
    if (gc && gc->n_eos > 0) {
        *ids = gc->eos_token_ids;
        return gc->n_eos;
    }
    *ids = m->cfg.eos_token_ids;
    return m->cfg.n_eos;
}

typedef struct {
    whet_kv_pool kv;
    int32_t *table, *tokens, *pos, *seq;
    float *logits;
    whet_forward_ws ws;
    whet_sampler *sampler;
} gen_state;

static void gen_free(gen_state *g) {
    whet_kv_pool_free(&g->kv);
    free(g->table);
    free(g->tokens);
    free(g->pos);
    free(g->seq);
    free(g->logits);
    whet_forward_ws_free(&g->ws);
    whet_sampler_free(g->sampler);
}

static whet_status gen_init(gen_state *g, whet_model *m, const int32_t *prompt, int n_prompt,
                            const whet_generate_opts *o, whet_error *err) {
    int total = n_prompt + o->max_new_tokens, bs = o->block_size > 0 ? o->block_size : 16;
    int nb = (total + bs - 1) / bs;
    WHET_TRY(whet_kv_pool_init(&g->kv, &m->cfg, bs, nb, err));
    g->table = malloc((size_t)nb * sizeof *g->table);
    g->tokens = malloc((size_t)total * sizeof *g->tokens);
    g->pos = malloc((size_t)total * sizeof *g->pos);
    g->seq = calloc((size_t)total, sizeof *g->seq);
    g->logits = malloc((size_t)m->cfg.vocab_size * sizeof *g->logits);
    if (!g->table || !g->tokens || !g->pos || !g->seq || !g->logits)
        return whet_errorf(err, WHET_ERR_NOMEM, "generate: out of memory for %d tokens", total);
    for (int i = 0; i < nb; i++) g->table[i] = i;
    for (int i = 0; i < total; i++) g->pos[i] = i;
    for (int i = 0; i < n_prompt; i++) g->tokens[i] = prompt[i];
    return whet_sampler_create(&o->sampling, m->cfg.vocab_size, &g->sampler, err);
}

whet_status whet_generate(whet_model *m, const int32_t *prompt, int n_prompt, const whet_generate_opts *o,
                          int32_t *out, int *n_out, whet_generate_stats *stats, whet_error *err) {
    *n_out = 0;
    if (n_prompt <= 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "generate: the prompt is empty (give at least one token, e.g. BOS)");
    if (o->max_new_tokens < 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "generate: max_new_tokens %d must be >= 0", o->max_new_tokens);
    whet_generate_stats st = {.n_prompt = n_prompt};
    if (o->max_new_tokens == 0) {
        if (stats) *stats = st;
        return WHET_OK;
    }
    gen_state g = {0};
    whet_status s = gen_init(&g, m, prompt, n_prompt, o, err);
    const int32_t *tables[1] = {g.table};
    int done = n_prompt, start = 0;
    while (s == WHET_OK && *n_out < o->max_new_tokens) {
        double t0 = now_seconds();
        int32_t last = done - start - 1;
        whet_forward_batch b = {.n_tokens = done - start, .tokens = g.tokens + start, .pos = g.pos + start,
                                .seq_of = g.seq, .n_seqs = 1, .block_tables = tables, .n_logits = 1,
                                .logit_rows = &last};
        s = whet_model_forward(m, &g.kv, &b, g.logits, &g.ws, err);
        if (s != WHET_OK) break;
        int32_t id = whet_sampler_sample(g.sampler, g.logits, g.tokens, (size_t)done);
        double dt = now_seconds() - t0;
        if (start == 0) st.prefill_seconds += dt;
        else st.decode_seconds += dt;
        out[(*n_out)++] = id;
        g.tokens[done] = id;
        start = done++;
        /* the eos id is reported too, so streaming callers see why it stopped */
        bool go_on = !o->on_token || o->on_token(o->on_token_ctx, id);
        if (is_eos(o, id)) { st.stopped_at_eos = true; break; }
        if (!go_on) break;
    }
    st.n_new = *n_out;
    if (stats) *stats = st;
    gen_free(&g);
    return s;
}
