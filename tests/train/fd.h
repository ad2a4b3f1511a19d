/* fd.h: finite-difference gradient checks for the backward tests. The loss
 * is a scalar L(params) computed by a callback; each checked coordinate is
 * perturbed by ±h and (L(+h) − L(−h)) / 2h is compared with the analytic
 * gradient. Returns the worst ratio |fd − an| / (atol + rtol·|an|) (≤ 1
 * passes) and the worst absolute difference. */
#ifndef WHET_TESTS_FD_H
#define WHET_TESTS_FD_H
#include <math.h>
#include <stddef.h>
#include <stdio.h>

typedef double (*fd_loss_fn)(void *ctx);

static inline double fd_check(const char *what, fd_loss_fn loss, void *ctx, float *param, const float *analytic,
                              size_t n, size_t stride, double h, double atol, double rtol) {
    double worst = 0, worst_abs = 0;
    if (stride == 0) stride = 1;
    for (size_t i = 0; i < n; i += stride) {
        const float keep = param[i];
        param[i] = (float)(keep + h);
        const double lp = loss(ctx);
        param[i] = (float)(keep - h);
        const double lm = loss(ctx);
        param[i] = keep;
        /* the perturbation actually applied, after rounding to float */
        const double dh = (double)(float)(keep + h) - (double)(float)(keep - h);
        const double fd = (lp - lm) / dh;
        const double d = fabs(fd - analytic[i]);
        const double ratio = d / (atol + rtol * fabs(analytic[i]));
        if (d > worst_abs || d != d) worst_abs = d;
        if (ratio > worst || ratio != ratio) worst = ratio != ratio ? INFINITY : ratio;
    }
    printf("%-28s max |fd - analytic| = %.3g (worst ratio to tolerance %.3f)\n", what, worst_abs, worst);
    return worst;
}

/* Deterministic pseudo-random floats in [-1, 1) (LCG) so tests need no rng state. */
static inline void fd_fill(float *x, size_t n, unsigned seed, float amp) {
    unsigned s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = amp * ((float)(s >> 8) / 8388608.0f - 1.0f);
    }
}

static inline double fd_dot(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}
#endif
