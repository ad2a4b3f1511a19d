/* adamw.c: torch.optim.AdamW (single-tensor path) and clip_grad_norm_ over
 * the flat LoRA slab; see adamw.h for the update rule. */
#include "train/adamw.h"

#include <math.h>
#include <stdlib.h>

whet_status whet_adamw_init(whet_adamw *opt, int64_t n, const whet_adamw_hparams *hp, whet_error *err) {
    opt->hp = *hp;
    opt->n = n;
    opt->step = 0;
    opt->m = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    opt->v = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!opt->m || !opt->v) {
        whet_adamw_free(opt);
        return whet_errorf(err, WHET_ERR_NOMEM, "adamw: cannot allocate state for %lld parameters", (long long)n);
    }
    return WHET_OK;
}

void whet_adamw_free(whet_adamw *opt) {
    free(opt->m);
    free(opt->v);
    opt->m = opt->v = NULL;
}

void whet_adamw_step(whet_adamw *opt, float *params, const float *grads, double lr) {
    opt->step++;
    const whet_adamw_hparams *hp = &opt->hp;
    const float decay = (float)(1.0 - lr * hp->weight_decay);
    const float b1 = (float)hp->beta1, b2 = (float)hp->beta2;
    const double bc1 = 1.0 - pow(hp->beta1, (double)opt->step);
    const double bc2 = 1.0 - pow(hp->beta2, (double)opt->step);
    const float step_size = (float)(lr / bc1);
    const float bc2_sqrt = (float)sqrt(bc2);
    const float eps = (float)hp->eps;
    const float w1 = 1.0f - b1, w2 = 1.0f - b2;
    for (int64_t i = 0; i < opt->n; i++) {
        const float g = grads[i];
        float p = params[i] * decay;
        /* exp_avg.lerp_(grad, 1-β1); exp_avg_sq.mul_(β2).addcmul_(g, g, 1-β2) */
        const float m = opt->m[i] + w1 * (g - opt->m[i]);
        const float v = opt->v[i] * b2 + w2 * g * g;
        opt->m[i] = m;
        opt->v[i] = v;
        const float denom = sqrtf(v) / bc2_sqrt + eps;
        p -= step_size * (m / denom);
        params[i] = p;
    }
}

double whet_grad_norm(const float *grads, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)grads[i] * grads[i];
    return sqrt(s);
}

double whet_clip_grad_norm(float *grads, int64_t n, double max_norm) {
    const double norm = whet_grad_norm(grads, n);
    if (max_norm <= 0 || !(norm > max_norm)) return norm;
    const float coef = (float)(max_norm / (norm + 1e-6));
    for (int64_t i = 0; i < n; i++) grads[i] *= coef;
    return norm;
}
