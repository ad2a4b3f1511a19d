/* test_attention_backward.c: causal GQA attention over two packed
 * sequences: forward against a naive softmax, sequence isolation, and dq/dk/dv
 * against finite differences of L = Σ r ∘ attention(q, k, v). */
#include "ops/attention_backward.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

enum { T = 10, NH = 4, NKV = 2, HD = 8 };
static const int32_t CU[3] = {0, 4, 10};
typedef struct { float q[T * NH * HD], k[T * NKV * HD], v[T * NKV * HD], o[T * NH * HD], lse[T * NH], r[T * NH * HD]; } ctx_t;
static const whet_attn_shape SHAPE = {.T = T, .n_seqs = 2, .cu_seqlens = CU, .nh = NH, .nkv = NKV, .hd = HD,
                                      .scale = 0.35355339f};

static double loss(void *p) {
    ctx_t *c = p;
    whet_error err;
    if (whet_attention_train_forward(c->o, c->lse, c->q, c->k, c->v, &SHAPE, NULL, &err)) return NAN;
    return fd_dot(c->o, c->r, T * NH * HD);
}

/* naive output of query token i (in sequence starting at st), head h, dim d */
static double naive(const ctx_t *c, int st, int i, int h, int d) {
    const int kvh = h / (NH / NKV);
    double w[T], mx = -1e30, sum = 0, out = 0;
    for (int j = st; j <= i; j++) {
        double s = 0;
        for (int e = 0; e < HD; e++) s += (double)c->q[(i * NH + h) * HD + e] * c->k[(j * NKV + kvh) * HD + e];
        w[j] = s * SHAPE.scale;
        if (w[j] > mx) mx = w[j];
    }
    for (int j = st; j <= i; j++) sum += (w[j] = exp(w[j] - mx));
    for (int j = st; j <= i; j++) out += w[j] / sum * c->v[(j * NKV + kvh) * HD + d];
    return out;
}

int main(void) {
    static ctx_t c;
    fd_fill(c.q, sizeof c.q / 4, 41, 1.5f);
    fd_fill(c.k, sizeof c.k / 4, 42, 1.5f);
    fd_fill(c.v, sizeof c.v / 4, 43, 1.0f);
    fd_fill(c.r, sizeof c.r / 4, 44, 1.0f);
    loss(&c);
    CHECK_NEAR(c.o[(2 * NH + 3) * HD + 5], naive(&c, 0, 2, 3, 5), 1e-6, 1e-5);
    CHECK_NEAR(c.o[(8 * NH + 1) * HD + 0], naive(&c, 4, 8, 1, 0), 1e-6, 1e-5);
    /* the first token of sequence 2 sees only itself */
    CHECK_NEAR(c.o[(4 * NH + 2) * HD + 3], c.v[(4 * NKV + 1) * HD + 3], 1e-6, 1e-6);
    /* sequence 2 does not see sequence 1 */
    float o_before[T * NH * HD];
    memcpy(o_before, c.o, sizeof o_before);
    c.k[(1 * NKV + 0) * HD] += 1.0f;
    loss(&c);
    CHECK(test_max_abs_diff(o_before + 4 * NH * HD, c.o + 4 * NH * HD, 6 * NH * HD) == 0.0);
    c.k[(1 * NKV + 0) * HD] -= 1.0f;
    loss(&c);

    whet_error err;
    static float dq[T * NH * HD], dk[T * NKV * HD], dv[T * NKV * HD];
    whet_threadpool *pool = NULL;
    CHECK_OK(whet_threadpool_create(2, &pool, &err), &err);
    CHECK_OK(whet_attention_backward(dq, dk, dv, c.r, c.q, c.k, c.v, c.o, c.lse, &SHAPE, pool, &err), &err);
    CHECK(fd_check("attention dq", loss, &c, c.q, dq, T * NH * HD, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    CHECK(fd_check("attention dk", loss, &c, c.k, dk, T * NKV * HD, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    CHECK(fd_check("attention dv", loss, &c, c.v, dv, T * NKV * HD, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);

    whet_attn_shape bad = SHAPE;
    bad.nkv = 3;
    CHECK(whet_attention_train_forward(c.o, c.lse, c.q, c.k, c.v, &bad, NULL, &err) == WHET_ERR_SHAPE);
    whet_threadpool_destroy(pool);
    return TEST_SUMMARY();
}
