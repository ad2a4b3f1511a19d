/* rmsnorm_backward.c: RMSNorm training forward and backward on the CPU.
 * With g = w·dy and r = rstd: dx = r·g − x·r³·mean(g·x). Sums in double so the
 * backward's cancellation stays below the fp32 reference's own rounding. */
#include "ops/rmsnorm_backward.h"
#include <math.h>
#include <stddef.h>

void whet_rmsnorm_train_forward(float *y, float *rstd, const float *x, const float *w, int64_t R, int64_t H, float eps) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * (size_t)H;
        float *yr = y + (size_t)r * (size_t)H;
        double ss = 0;
        for (int64_t i = 0; i < H; i++) ss += (double)xr[i] * xr[i];
        const float inv = 1.0f / sqrtf((float)(ss / (double)H) + eps);
        rstd[r] = inv;
        for (int64_t i = 0; i < H; i++) yr[i] = w[i] * (xr[i] * inv);
    }
}

void whet_rmsnorm_backward(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                           int64_t R, int64_t H) {
    for (int64_t r = 0; r < R; r++) {
        const float *xr = x + (size_t)r * (size_t)H, *dyr = dy + (size_t)r * (size_t)H;
        float *dxr = dx + (size_t)r * (size_t)H;
        const double inv = rstd[r];
        double gx = 0;
        for (int64_t i = 0; i < H; i++) gx += (double)w[i] * dyr[i] * xr[i];
        const double c = inv * inv * inv * gx / (double)H;
        for (int64_t i = 0; i < H; i++) dxr[i] += (float)(inv * (double)w[i] * dyr[i] - (double)xr[i] * c);
        if (dw)
            for (int64_t i = 0; i < H; i++) dw[i] += (float)((double)dyr[i] * xr[i] * inv);
    }
}
