/* perplexity.h: perplexity of a model on a token stream (`whet perplexity`,
 * llama.cpp users know llama-perplexity). Sliding windows of ctx tokens
 * advanced by stride, as transformers' perplexity guide does: each token is
 * scored once, by the first window that contains it with at least one token
 * of context before it. With stride < ctx that is every token but the first;
 * with disjoint windows (stride == ctx) the first token of each window has no
 * context and is not scored (as in the guide and llama-perplexity). */
#ifndef WHET_INFER_PERPLEXITY_H
#define WHET_INFER_PERPLEXITY_H
#include <stdint.h>
#include "core/status.h"
#include "model/model.h"

typedef struct {
    int64_t n_scored;      /* tokens with a prediction */
    double nll_sum;        /* Σ -log p(token | context), natural log */
    double mean_nll;
    double ppl;            /* exp(mean_nll) */
    double ppl_stderr;     /* ppl · stderr(mean_nll): first-order error of the estimate */
} whet_perplexity_result;

/* Called after each window with the running result (NULL: none). */
typedef void (*whet_perplexity_progress_fn)(void *ctx, int window, int n_windows, const whet_perplexity_result *so_far);

whet_status whet_perplexity(whet_model *m, const int32_t *ids, int64_t n, int ctx, int stride,
                            whet_perplexity_progress_fn progress, void *progress_ctx, whet_perplexity_result *out,
                            whet_error *err);
#endif
