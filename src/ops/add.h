/* add.h: elementwise residual add. */
#ifndef WHET_OPS_ADD_H
#define WHET_OPS_ADD_H
#include <stdint.h>

/* y[n] += x[n]. */
void whet_add_inplace(float *y, const float *x, int64_t n);
/* y[R, N] += b[N] broadcast over rows (biases). */
void whet_add_bias(float *y, const float *b, int64_t R, int64_t N);
#endif
