/* test_rope_backward.c: RoPE in the HF rotate_half layout: forward against
 * the formula, backward against finite differences, and forward∘backward = id. */
#include "ops/rope_backward.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

enum { T = 5, NH = 3, HD = 8 };
typedef struct { float x[T * NH * HD], y[T * NH * HD], r[T * NH * HD], c[T * HD / 2], s[T * HD / 2]; } ctx_t;

static double loss(void *p) {
    ctx_t *c = p;
    memcpy(c->y, c->x, sizeof c->x);
    whet_rope_train_forward(c->y, c->c, c->s, T, NH, HD);
    return fd_dot(c->y, c->r, T * NH * HD);
}

int main(void) {
    ctx_t c;
    const int32_t pos[T] = {0, 1, 2, 7, 30};
    float inv[HD / 2];
    for (int i = 0; i < HD / 2; i++) inv[i] = powf(10000.0f, -2.0f * i / HD);
    whet_rope_tables(c.c, c.s, pos, inv, T, HD);
    fd_fill(c.x, T * NH * HD, 21, 1.0f);
    fd_fill(c.r, T * NH * HD, 22, 1.0f);
    loss(&c);
    /* token 3, head 1, pair (1, 1 + HD/2): rotate_half formula */
    const float *x = c.x + (3 * NH + 1) * HD, *y = c.y + (3 * NH + 1) * HD;
    const double a = 7.0 * inv[1];
    CHECK_NEAR(y[1], x[1] * cos(a) - x[1 + HD / 2] * sin(a), 1e-5, 1e-5);
    CHECK_NEAR(y[1 + HD / 2], x[1 + HD / 2] * cos(a) + x[1] * sin(a), 1e-5, 1e-5);
    /* position 0 is the identity */
    CHECK(test_max_abs_diff(c.x, c.y, NH * HD) < 1e-7);
    float dx[T * NH * HD];
    memcpy(dx, c.r, sizeof dx);
    whet_rope_backward(dx, c.c, c.s, T, NH, HD);
    CHECK(fd_check("rope dx", loss, &c, c.x, dx, T * NH * HD, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    loss(&c); /* fd_check left c.y at a perturbed point */
    float z[T * NH * HD];
    memcpy(z, c.y, sizeof z);
    whet_rope_backward(z, c.c, c.s, T, NH, HD);
    CHECK(test_max_abs_diff(z, c.x, T * NH * HD) < 1e-5);
    return TEST_SUMMARY();
}
