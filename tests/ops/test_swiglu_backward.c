/* test_swiglu_backward.c: SwiGLU backward against finite differences of
 * L = Σ r ∘ silu(g)·u. */
#include "ops/swiglu_backward.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

enum { N = 40 };
typedef struct { float g[N], u[N], h[N], r[N]; } ctx_t;

static double loss(void *p) {
    ctx_t *c = p;
    whet_swiglu_train_forward(c->h, c->g, c->u, N);
    return fd_dot(c->h, c->r, N);
}

int main(void) {
    ctx_t c;
    fd_fill(c.g, N, 31, 4.0f);
    fd_fill(c.u, N, 32, 1.0f);
    fd_fill(c.r, N, 33, 1.0f);
    loss(&c);
    CHECK_NEAR(c.h[5], c.g[5] / (1 + exp(-c.g[5])) * c.u[5], 1e-6, 1e-5);
    float dg[N], du[N];
    whet_swiglu_backward(dg, du, c.r, c.g, c.u, N);
    CHECK(fd_check("swiglu dg", loss, &c, c.g, dg, N, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    CHECK(fd_check("swiglu du", loss, &c, c.u, du, N, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    return TEST_SUMMARY();
}
