/* swiglu.h: the Llama MLP activation: h = silu(gate) · up, silu(x) = x·σ(x). */
#ifndef WHET_OPS_SWIGLU_H
#define WHET_OPS_SWIGLU_H
#include <stdint.h>

/* y[n] = silu(x[n]); y may alias x. */
void whet_silu(float *y, const float *x, int64_t n);
/* h[n] = silu(gate[n]) · up[n]; h may alias gate or up. */
void whet_swiglu(float *h, const float *gate, const float *up, int64_t n);
#endif
