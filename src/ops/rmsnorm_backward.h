/* rmsnorm_backward.h: RMSNorm as Llama/Qwen compute it (fp32 mean of
 * squares, y = w · x · rsqrt(mean(x²) + eps)), the training forward that keeps
 * the per-row rstd the backward needs, and the backward.
 *   R = rows (tokens, or tokens·heads for Qwen3's per-head q/k norm), H = width */
#ifndef WHET_OPS_RMSNORM_BACKWARD_H
#define WHET_OPS_RMSNORM_BACKWARD_H
#include <stdint.h>

/* y[R, H] = w[H] · x[R, H] · rstd; rstd[R] saved. y may alias x. */
void whet_rmsnorm_train_forward(float *y, float *rstd, const float *x, const float *w, int64_t R, int64_t H, float eps);

/* dx[R, H] += ∂L/∂x given dy[R, H]; dw[H] += ∂L/∂w when dw is non-NULL
 * (a frozen base norm passes NULL). x is the forward's input. */
void whet_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                           int64_t R, int64_t H);
#endif
