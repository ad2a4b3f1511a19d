/* swiglu_backward.h: the Llama MLP gate, h = silu(g) · u, training forward
 * and backward (elementwise over n = T · intermediate_size values). */
#ifndef WHET_OPS_SWIGLU_BACKWARD_H
#define WHET_OPS_SWIGLU_BACKWARD_H
#include <stdint.h>

/* h[n] = silu(g[n]) · u[n]. */
void whet_swiglu_train_forward(float *h, const float *g, const float *u, int64_t n);
/* dg[n] = dh · u · silu'(g), du[n] = dh · silu(g) (both overwritten). */
void whet_swiglu_backward(float *dg, float *du, const float *dh, const float *g, const float *u, int64_t n);
#endif
