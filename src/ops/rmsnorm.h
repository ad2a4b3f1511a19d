/* rmsnorm.h: RMSNorm as Llama/Qwen compute it: y = w · x / sqrt(mean(x²) + eps),
 * the mean taken over the last dimension. */
#ifndef WHET_OPS_RMSNORM_H
#define WHET_OPS_RMSNORM_H
#include <stdint.h>

/* y[R, H] = w[H] · x[R, H] · rsqrt(mean_H(x²) + eps). y may alias x. */
void whet_rmsnorm(float *y, const float *x, const float *w, int64_t R, int64_t H, float eps);
#endif
