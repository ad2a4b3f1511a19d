/* rope_backward.c: RoPE forward (in place) and backward on the CPU. The
 * rotation is orthogonal, so the backward is the same rotation with -sin. */
#include "ops/rope_backward.h"
#include <math.h>
#include <stddef.h>

void whet_rope_tables(float *cos_t, float *sin_t, const int32_t *pos, const float *inv_freq, int64_t T, int hd) {
    const int half = hd / 2;
    for (int64_t t = 0; t < T; t++)
        for (int i = 0; i < half; i++) {
            const float ang = (float)pos[t] * inv_freq[i];
            cos_t[(size_t)t * half + i] = cosf(ang);
            sin_t[(size_t)t * half + i] = sinf(ang);
        }
}

static void rotate(float *x, const float *cos_t, const float *sin_t, int64_t T, int nh, int hd, float sign) {
    const int half = hd / 2;
    for (int64_t t = 0; t < T; t++) {
        const float *c = cos_t + (size_t)t * half, *s = sin_t + (size_t)t * half;
        for (int h = 0; h < nh; h++) {
            float *v = x + ((size_t)t * nh + h) * hd;
            for (int i = 0; i < half; i++) {
                const float a = v[i], b = v[i + half], si = sign * s[i];
                v[i] = a * c[i] - b * si;
                v[i + half] = b * c[i] + a * si;
            }
        }
    }
}

void whet_rope_train_forward(float *x, const float *cos_t, const float *sin_t, int64_t T, int nh, int hd) {
    rotate(x, cos_t, sin_t, T, nh, hd, 1.0f);
}

void whet_rope_backward(float *dx, const float *cos_t, const float *sin_t, int64_t T, int nh, int hd) {
    rotate(dx, cos_t, sin_t, T, nh, hd, -1.0f);
}
