/* cross_entropy_backward.c: chunked LM head + softmax cross-entropy on the CPU.
 * Per chunk: gather the rows with a target, logits = x·Wᵀ (sgemm), then per
 * row lse and loss, then the logits buffer is overwritten in place with
 * grad_scale·(softmax − onehot) and dx = that · W is scattered back. */
#include "ops/cross_entropy_backward.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "ops/matmul_backward.h"

static double row_softmax_grad(float *logits, int64_t V, int32_t target, float grad_scale, int want_grad) {
    float mx = -INFINITY;
    for (int64_t j = 0; j < V; j++)
        if (logits[j] > mx) mx = logits[j];
    double sum = 0;
    for (int64_t j = 0; j < V; j++) sum += exp((double)logits[j] - mx);
    const double lse = mx + log(sum);
    const double loss = lse - logits[target];
    if (want_grad) {
        for (int64_t j = 0; j < V; j++) logits[j] = (float)(exp((double)logits[j] - lse) * grad_scale);
        logits[target] -= grad_scale;
    }
    return loss;
}

whet_status whet_lm_head_ce(const whet_ce_args *a, float *dhidden, whet_ce_result *res, whet_error *err) {
    const int64_t V = a->lm_head->rows, H = a->lm_head->cols;
    res->loss_sum = 0;
    res->n_tokens = 0;
    int64_t n_valid = 0;
    for (int64_t t = 0; t < a->T; t++) {
        const int32_t y = a->targets[t];
        if (y == WHET_IGNORE_INDEX) continue;
        if (y < 0 || y >= V)
            return whet_errorf(err, WHET_ERR_INVALID_ARG,
                               "cross-entropy: target %d of token %lld is outside the vocabulary [0, %lld)", y,
                               (long long)t, (long long)V);
        n_valid++;
    }
    if (n_valid == 0) return WHET_OK;
    int64_t chunk = a->chunk_rows > 0 ? a->chunk_rows : (int64_t)((64u << 20) / sizeof(float)) / V;
    if (chunk < 1) chunk = 1;
    if (chunk > n_valid) chunk = n_valid;
    float *x = malloc(sizeof(float) * (size_t)(chunk * H));
    float *dx = malloc(sizeof(float) * (size_t)(chunk * H));
    float *logits = malloc(sizeof(float) * (size_t)(chunk * V));
    int64_t *rows = malloc(sizeof(int64_t) * (size_t)chunk);
    whet_status st = WHET_OK;
    if (!x || !dx || !logits || !rows) {
        st = whet_errorf(err, WHET_ERR_NOMEM, "cross-entropy: out of memory for a %lld-row chunk", (long long)chunk);
        goto done;
    }
    int64_t t = 0;
    while (t < a->T) {
        int64_t n = 0;
        for (; t < a->T && n < chunk; t++) {
            if (a->targets[t] == WHET_IGNORE_INDEX) continue;
            rows[n] = t;
            memcpy(x + n * H, a->hidden + t * H, sizeof(float) * (size_t)H);
            n++;
        }
        if (n == 0) break;
        st = whet_linear_train_forward(logits, x, a->lm_head, NULL, n, 1.0f, false, err);
        if (st) goto done;
        for (int64_t r = 0; r < n; r++)
            res->loss_sum += row_softmax_grad(logits + r * V, V, a->targets[rows[r]], a->grad_scale, dhidden != NULL);
        res->n_tokens += n;
        if (!dhidden) continue;
        memset(dx, 0, sizeof(float) * (size_t)(n * H));
        st = whet_linear_backward_input(dx, logits, a->lm_head, n, 1.0f, err);
        if (st) goto done;
        for (int64_t r = 0; r < n; r++) {
            float *dst = dhidden + rows[r] * H;
            const float *src = dx + r * H;
            for (int64_t i = 0; i < H; i++) dst[i] += src[i];
        }
    }
done:
    free(x);
    free(dx);
    free(logits);
    free(rows);
    return st;
}
