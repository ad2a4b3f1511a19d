/* add.c: CPU residual add and bias broadcast. */
#include "ops/add.h"

void whet_add_inplace(float *y, const float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) y[i] += x[i];
}

void whet_add_bias(float *y, const float *b, int64_t R, int64_t N) {
    for (int64_t r = 0; r < R; r++)
        for (int64_t i = 0; i < N; i++) y[r * N + i] += b[i];
}
