/* lr_schedule.c: transformers' learning-rate lambdas (see lr_schedule.h). */
#include "train/lr_schedule.h"

#include <math.h>
#include <string.h>

static const char *const KIND_NAMES[] = {"linear",   "cosine",   "cosine_with_restarts", "polynomial",
                                         "constant", "constant_with_warmup", "inverse_sqrt"};
#define N_KINDS ((int)(sizeof KIND_NAMES / sizeof KIND_NAMES[0]))

whet_status whet_lr_kind_parse(const char *name, whet_lr_kind *out, whet_error *err) {
    for (int i = 0; i < N_KINDS; i++)
        if (name && strcmp(name, KIND_NAMES[i]) == 0) {
            *out = (whet_lr_kind)i;
            return WHET_OK;
        }
    return whet_errorf(err, WHET_ERR_INVALID_ARG,
                       "lr_scheduler_type: '%s' is not supported; use one of linear, cosine, cosine_with_restarts, "
                       "polynomial, constant, constant_with_warmup, inverse_sqrt",
                       name ? name : "(null)");
}

const char *whet_lr_kind_name(whet_lr_kind k) { return (int)k >= 0 && (int)k < N_KINDS ? KIND_NAMES[k] : "?"; }

int64_t whet_lr_warmup_steps(int64_t total_steps, int64_t warmup_steps, double warmup_ratio) {
    if (warmup_steps > 0) return warmup_steps;
    if (!(warmup_ratio > 0)) return 0;
    return (int64_t)ceil((double)total_steps * warmup_ratio);
}

static double max1(int64_t x) { return (double)(x > 1 ? x : 1); }

static double polynomial(const whet_lr_schedule *s, int64_t step) {
    const double lr_end = 1e-7, power = 1.0, lr = s->base_lr;
    if (step > s->total_steps) return lr_end / lr;
    const double decay_steps = (double)(s->total_steps - s->warmup_steps);
    const double remaining = 1.0 - (double)(step - s->warmup_steps) / decay_steps;
    return ((lr - lr_end) * pow(remaining, power) + lr_end) / lr;
}

double whet_lr_factor(const whet_lr_schedule *s, int64_t step) {
    const int64_t W = s->warmup_steps, T = s->total_steps;
    if (s->kind == WHET_LR_CONSTANT) return 1.0;
    if (step < W) return (double)step / max1(W);
    const double progress = (double)(step - W) / max1(T - W);
    switch (s->kind) {
    case WHET_LR_LINEAR: return fmax(0.0, (double)(T - step) / max1(T - W));
    case WHET_LR_COSINE: return fmax(0.0, 0.5 * (1.0 + cos(M_PI * 2.0 * 0.5 * progress)));
    case WHET_LR_COSINE_WITH_RESTARTS:
        if (progress >= 1.0) return 0.0;
        return fmax(0.0, 0.5 * (1.0 + cos(M_PI * fmod(1.0 * progress, 1.0))));
    case WHET_LR_POLYNOMIAL: return polynomial(s, step);
    case WHET_LR_CONSTANT_WITH_WARMUP: return 1.0;
    case WHET_LR_INVERSE_SQRT: {
        const double timescale = W > 0 ? (double)W : 10000.0;
        const double shift = timescale - (double)W;
        return 1.0 / sqrt(((double)step + shift) / timescale);
    }
    case WHET_LR_CONSTANT: break;
    }
    return 1.0;
}

double whet_lr_at(const whet_lr_schedule *s, int64_t step) { return s->base_lr * whet_lr_factor(s, step); }
