/* test_cross_entropy_backward.c: the fused chunked LM head + cross-entropy:
 * loss against a naive log-softmax, ignore_index, chunking invariance, and
 * dhidden against finite differences of the mean loss. */
#include "ops/cross_entropy_backward.h"
#include "ops/matmul_backward.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

enum { T = 7, H = 6, V = 13 };
typedef struct { float h[T * H], w[V * H]; int32_t tgt[T]; int64_t chunk; } ctx_t;

static double loss(void *p) {
    ctx_t *c = p;
    whet_weight w = whet_weight_f32(c->w, V, H);
    whet_ce_args a = {.hidden = c->h, .lm_head = &w, .targets = c->tgt, .T = T, .chunk_rows = c->chunk, .grad_scale = 1};
    whet_ce_result r;
    whet_error err;
    if (whet_lm_head_ce(&a, NULL, &r, &err)) return NAN;
    return r.loss_sum / (double)r.n_tokens;
}

int main(void) {
    ctx_t c = {.tgt = {3, WHET_IGNORE_INDEX, 12, 0, WHET_IGNORE_INDEX, 7, 7}, .chunk = 2};
    fd_fill(c.h, T * H, 51, 1.0f);
    fd_fill(c.w, V * H, 52, 1.0f);
    /* naive mean over the 5 counted tokens */
    double ref = 0;
    for (int t = 0; t < T; t++) {
        if (c.tgt[t] == WHET_IGNORE_INDEX) continue;
        double z[V], mx = -1e30, s = 0;
        for (int v = 0; v < V; v++) {
            z[v] = fd_dot(c.h + t * H, c.w + v * H, H);
            if (z[v] > mx) mx = z[v];
        }
        for (int v = 0; v < V; v++) s += exp(z[v] - mx);
        ref += mx + log(s) - z[c.tgt[t]];
    }
    ref /= 5;
    CHECK_NEAR(loss(&c), ref, 1e-6, TOL_LOSS_RTOL);
    c.chunk = 0;
    const double whole = loss(&c);
    c.chunk = 3;
    CHECK_NEAR(loss(&c), whole, 0, 1e-7);

    whet_weight w = whet_weight_f32(c.w, V, H);
    whet_ce_args a = {.hidden = c.h, .lm_head = &w, .targets = c.tgt, .T = T, .chunk_rows = 3, .grad_scale = 1.0f / 5};
    whet_ce_result r;
    whet_error err;
    float dh[T * H] = {0};
    CHECK_OK(whet_lm_head_ce(&a, dh, &r, &err), &err);
    CHECK_EQ_INT(r.n_tokens, 5);
    CHECK(fabs(dh[1 * H + 2]) == 0.0f); /* ignored token: no gradient */
    CHECK(fd_check("lm_head+ce dhidden", loss, &c, c.h, dh, T * H, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);

    c.tgt[2] = V;
    a.targets = c.tgt;
    CHECK(whet_lm_head_ce(&a, dh, &r, &err) == WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "token 2") != NULL);
    return TEST_SUMMARY();
}
