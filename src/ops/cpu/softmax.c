/* softmax.c: CPU row softmax and logsumexp with the max subtracted first;
 * sums in double so long rows (vocab 152k) lose no precision. */
#include "ops/softmax.h"
#include <math.h>

void whet_softmax_rows(float *x, int64_t R, int64_t N) {
    for (int64_t r = 0; r < R; r++) {
        float *v = x + r * N;
        float m = -INFINITY;
        for (int64_t i = 0; i < N; i++) m = v[i] > m ? v[i] : m;
        if (m == -INFINITY) {
            for (int64_t i = 0; i < N; i++) v[i] = 0;
            continue;
        }
        double sum = 0;
        for (int64_t i = 0; i < N; i++) {
            v[i] = expf(v[i] - m);
            sum += v[i];
        }
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < N; i++) v[i] *= inv;
    }
}

float whet_logsumexp(const float *x, int64_t N) {
    float m = -INFINITY;
    for (int64_t i = 0; i < N; i++) m = x[i] > m ? x[i] : m;
    if (m == -INFINITY) return -INFINITY;
    double sum = 0;
    for (int64_t i = 0; i < N; i++) sum += exp((double)x[i] - m);
    return (float)(m + log(sum));
}
