/* rmsnorm.c: CPU RMSNorm. The mean of squares is accumulated in double so
 * the result does not depend on H's size or summation order more than
 * float32 rounding of the final value. */
#include "ops/rmsnorm.h"
#include <math.h>

void whet_rmsnorm(float *y, const float *x, const float *w, int64_t R, int64_t H, float eps) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + r * H;
        float *yr = y + r * H;
        double ss = 0;
        for (int64_t i = 0; i < H; i++) ss += (double)xr[i] * xr[i];
        /* transformers: hidden * torch.rsqrt(variance + eps) in float32, then weight * hidden */
        float rstd = 1.0f / sqrtf((float)(ss / (double)H) + eps);
        for (int64_t i = 0; i < H; i++) yr[i] = w[i] * (xr[i] * rstd);
    }
}
