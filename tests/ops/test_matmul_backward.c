/* test_matmul_backward.c: linear forward/backward (f32 and bf16 weights)
 * against finite differences of L = Σ r ∘ (x·Wᵀ·scale + b). */
#include <stdlib.h>
#include "core/half.h"
#include "ops/matmul_backward.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

enum { T = 5, IN = 7, OUT = 6 };
typedef struct { float x[T * IN], w[OUT * IN], b[OUT], r[T * OUT], y[T * OUT]; float scale; } ctx_t;

static double loss(void *p) {
    ctx_t *c = p;
    whet_weight w = whet_weight_f32(c->w, OUT, IN);
    whet_error err;
    if (whet_linear_train_forward(c->y, c->x, &w, c->b, T, c->scale, false, &err)) return NAN;
    return fd_dot(c->y, c->r, T * OUT);
}

int main(void) {
    ctx_t c;
    fd_fill(c.x, T * IN, 1, 1.0f);
    fd_fill(c.w, OUT * IN, 2, 0.5f);
    fd_fill(c.b, OUT, 3, 0.1f);
    fd_fill(c.r, T * OUT, 4, 1.0f);
    c.scale = 1.5f;
    whet_error err;
    whet_weight w = whet_weight_f32(c.w, OUT, IN);
    float dx[T * IN] = {0}, dw[OUT * IN] = {0};
    CHECK_OK(whet_linear_backward_input(dx, c.r, &w, T, c.scale, &err), &err);
    whet_linear_backward_weight(dw, c.r, c.x, T, OUT, IN, c.scale);
    CHECK(fd_check("linear dx", loss, &c, c.x, dx, T * IN, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);
    CHECK(fd_check("linear dW", loss, &c, c.w, dw, OUT * IN, 1, TOL_FD_STEP, TOL_FD_ATOL, TOL_FD_RTOL) <= 1.0);

    /* accumulate semantics: a second backward doubles the gradient */
    float dx2[T * IN];
    for (int i = 0; i < T * IN; i++) dx2[i] = dx[i];
    CHECK_OK(whet_linear_backward_input(dx2, c.r, &w, T, c.scale, &err), &err);
    double worst = 0;
    for (int i = 0; i < T * IN; i++) worst = fmax(worst, fabs(dx2[i] - 2 * dx[i]));
    CHECK(worst < 1e-6);

    /* a bf16 weight gives the f32 result of its widened values */
    uint16_t wb[OUT * IN];
    float wf[OUT * IN], y1[T * OUT], y2[T * OUT];
    whet_f32_to_bf16_row(c.w, wb, OUT * IN);
    whet_bf16_to_f32_row(wb, wf, OUT * IN);
    whet_weight wbd = {.dtype = WHET_DT_BF16, .rows = OUT, .cols = IN, .data = wb};
    whet_weight wfd = whet_weight_f32(wf, OUT, IN);
    CHECK_OK(whet_linear_train_forward(y1, c.x, &wbd, NULL, T, 1.0f, false, &err), &err);
    CHECK_OK(whet_linear_train_forward(y2, c.x, &wfd, NULL, T, 1.0f, false, &err), &err);
    CHECK(test_max_abs_diff(y1, y2, T * OUT) < 1e-6);
    float dxb[T * IN] = {0}, dxf[T * IN] = {0};
    CHECK_OK(whet_linear_backward_input(dxb, c.r, &wbd, T, 1.0f, &err), &err);
    CHECK_OK(whet_linear_backward_input(dxf, c.r, &wfd, T, 1.0f, &err), &err);
    CHECK(test_max_abs_diff(dxb, dxf, T * IN) < 1e-6);

    /* quantized weights are refused with a message naming the dtype */
    whet_weight wq = {.dtype = WHET_DT_Q4_K, .rows = OUT, .cols = 256, .data = wb};
    CHECK(whet_linear_train_forward(y1, c.x, &wq, NULL, 1, 1.0f, false, &err) == WHET_ERR_UNSUPPORTED);
    CHECK(strstr(err.msg, "Q4_K") != NULL);
    return TEST_SUMMARY();
}
