/* swiglu.c: CPU silu and SwiGLU (silu(gate) · up), as torch computes silu:
 * x / (1 + exp(-x)). */
#include "ops/swiglu.h"
#include <math.h>

void whet_silu(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] = x[i] / (1.0f + expf(-x[i]));
}

void whet_swiglu(float *h, const float *gate, const float *up, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        float g = gate[i];
        h[i] = g / (1.0f + expf(-g)) * up[i];
    }
}
