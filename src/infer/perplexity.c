/* perplexity.c: sliding-window perplexity (see perplexity.h). Each window is
 * one padded forward of batch 1 with no padding; log-probabilities are
 * taken in double from the float logits of that forward. */
#include "infer/perplexity.h"
#include <math.h>
#include <stdlib.h>

static double token_nll(const float *logits, int V, int32_t target) {
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int i = 0; i < V; i++) sum += exp((double)logits[i] - mx);
    return log(sum) + mx - (double)logits[target];
}

static void finish(whet_perplexity_result *r, double nll_sq_sum) {
    r->mean_nll = r->n_scored ? r->nll_sum / (double)r->n_scored : 0;
    r->ppl = exp(r->mean_nll);
    double var = r->n_scored > 1 ? (nll_sq_sum / (double)r->n_scored - r->mean_nll * r->mean_nll) : 0;
    r->ppl_stderr = r->n_scored > 1 && var > 0 ? r->ppl * sqrt(var / (double)(r->n_scored - 1)) : 0;
}

whet_status whet_perplexity(whet_model *m, const int32_t *ids, int64_t n, int ctx, int stride,
                            whet_perplexity_progress_fn progress, void *progress_ctx, whet_perplexity_result *out,
                            whet_error *err) {
    const int V = m->cfg.vocab_size;
    if (n < 2) return whet_errorf(err, WHET_ERR_INVALID_ARG, "perplexity: need at least 2 tokens, got %lld", (long long)n);
    if (ctx < 2) return whet_errorf(err, WHET_ERR_INVALID_ARG, "perplexity: ctx must be >= 2 (got %d)", ctx);
    if (ctx > m->cfg.max_position_embeddings)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "perplexity: ctx %d exceeds the model's max_position_embeddings %d",
                           ctx, m->cfg.max_position_embeddings);
    if (stride < 1 || stride > ctx)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "perplexity: stride must be in 1..ctx (got %d, ctx %d)", stride, ctx);
    for (int64_t i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= V)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "perplexity: token %lld is id %d, outside the vocabulary [0, %d)",
                               (long long)i, ids[i], V);
    int L = (int)(n < ctx ? n : ctx);
    float *logits = malloc((size_t)L * (size_t)V * sizeof *logits);    /* [L, V] */
    uint8_t *mask = malloc((size_t)L);
    if (!logits || !mask) {
        free(logits), free(mask);
        return whet_errorf(err, WHET_ERR_NOMEM, "perplexity: no memory for [%d, %d] logits; use a smaller --ctx", L, V);
    }
    for (int i = 0; i < L; i++) mask[i] = 1;
    int n_windows = 0;
    for (int64_t b = 0;; b += stride) {
        n_windows++;
        if (b + ctx >= n) break;
    }
    whet_perplexity_result r = {0};
    double nll_sq = 0;
    int64_t prev_end = 0;
    whet_status s = WHET_OK;
    int w = 0;
    for (int64_t begin = 0; s == WHET_OK; begin += stride, w++) {
        int64_t end = begin + ctx < n ? begin + ctx : n;
        int len = (int)(end - begin);
        s = whet_model_forward_padded(m, ids + begin, mask, 1, len, logits, NULL, err);
        if (s != WHET_OK) break;
        int64_t first = prev_end > begin + 1 ? prev_end : begin + 1;   /* first target scored here */
        for (int64_t j = first; j < end; j++) {
            double nll = token_nll(logits + (size_t)(j - 1 - begin) * (size_t)V, V, ids[j]);
            r.nll_sum += nll;
            nll_sq += nll * nll;
            r.n_scored++;
        }
        prev_end = end;
        finish(&r, nll_sq);
        if (progress) progress(progress_ctx, w, n_windows, &r);
        if (end == n) break;
    }
    free(logits);
    free(mask);
    if (s == WHET_OK) *out = r;
    return s;
}
