/* adamw.h: AdamW over one flat f32 parameter vector (the LoRA slab), with
 * torch.optim.AdamW's semantics (the default, non-amsgrad, non-fused path):
 *   p ← p − lr·wd·p                       (decoupled weight decay, first)
 *   m ← β1·m + (1−β1)·g,  v ← β2·v + (1−β2)·g²
 *   p ← p − (lr / (1−β1ᵗ)) · m / (√v / √(1−β2ᵗ) + eps)
 * plus the global-norm gradient clipping of torch.nn.utils.clip_grad_norm_. */
#ifndef WHET_TRAIN_ADAMW_H
#define WHET_TRAIN_ADAMW_H
#include <stdint.h>
#include "core/status.h"

typedef struct {
    double beta1, beta2, eps, weight_decay;
} whet_adamw_hparams;

typedef struct {
    whet_adamw_hparams hp;
    int64_t n;
    int64_t step;   /* steps taken so far (torch's state["step"]) */
    float *m;       /* [n] exp_avg */
    float *v;       /* [n] exp_avg_sq */
} whet_adamw;

whet_status whet_adamw_init(whet_adamw *opt, int64_t n, const whet_adamw_hparams *hp, whet_error *err);
void whet_adamw_free(whet_adamw *opt);
/* One step at learning rate lr: params[0..n) updated from grads[0..n). */
void whet_adamw_step(whet_adamw *opt, float *params, const float *grads, double lr);

/* L2 norm of grads[0..n) (accumulated in double). */
double whet_grad_norm(const float *grads, int64_t n);
/* clip_grad_norm_: scale grads by max_norm/(norm+1e-6) when norm > max_norm
 * (max_norm <= 0: no clipping). Returns the norm before clipping. */
double whet_clip_grad_norm(float *grads, int64_t n, double max_norm);
#endif
