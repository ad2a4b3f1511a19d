/* swiglu_backward.c: SwiGLU forward/backward on the CPU.
 * silu'(g) = s · (1 + g · (1 − s)) with s = sigmoid(g). */
#include "ops/swiglu_backward.h"
#include <math.h>

void whet_swiglu_train_forward(float *h, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) h[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

void whet_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        const float s = 1.0f / (1.0f + expf(-g[i]));
        const float silu = g[i] * s;
        const float d = dh[i];
        du[i] = d * silu;
        dg[i] = d * u[i] * s * (1.0f + g[i] * (1.0f - s));
    }
}
