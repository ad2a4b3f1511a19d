/* test_rmsnorm_backward.c: RMSNorm backward (dx and dw) against finite
 * differences of L = Σ r ∘ rmsnorm(x; w), and the forward against the formula. */
#include "ops/rmsnorm_backward.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

enum { R = 4, H = 12 };
typedef struct { float x[R * H], w[H], r[R * H], y[R * H], rstd[R]; } ctx_t;

static double loss(void *p) {
    ctx_t *c = p;
    whet_rmsnorm_train_forward(c->y, c->rstd, c->x, c->w, R, H, 1e-6f);
    return fd_dot(c->y, c->r, R * H);
}

int main(void) {
    ctx_t c;
    fd_fill(c.x, R * H, 11, 2.0f);
    fd_fill(c.w, H, 12, 1.0f);
    fd_fill(c.r, R * H, 13, 1.0f);
    loss(&c);
    /* forward: row 0 by hand */
    double ss = 0;
    for (int i = 0; i < H; i++) ss += (double)c.x[i] * c.x[i];
    CHECK_NEAR(c.y[3], c.w[3] * c.x[3] / sqrt(ss / H + 1e-6), 1e-6, 1e-5);
    float dx[R * H] = {0}, dw[H] = {0};
    whet_rmsnorm_backward(dx, dw, c.r, c.x, c.w, c.rstd, R, H);
    CHECK(fd_check("rmsnorm dx", loss, &c, c.x, dx, R * H, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    CHECK(fd_check("rmsnorm dw", loss, &c, c.w, dw, H, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    return TEST_SUMMARY();
}
