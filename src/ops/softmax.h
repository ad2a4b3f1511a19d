/* softmax.h: numerically stable softmax over rows (max subtracted first). */
#ifndef WHET_OPS_SOFTMAX_H
#define WHET_OPS_SOFTMAX_H
#include <stdint.h>

/* x[R, N] replaced by softmax along N. Entries equal to -INFINITY get 0; a
 * row that is all -INFINITY becomes all 0 (nothing to attend to). */
void whet_softmax_rows(float *x, int64_t R, int64_t N);
/* log(sum(exp(x[N]))) computed stably. */
float whet_logsumexp(const float *x, int64_t N);
#endif
