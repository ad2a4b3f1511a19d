/* lr_schedule.h: the learning-rate schedules of transformers'
 * get_scheduler (optimization.py), as multipliers of the base learning rate
 * at optimizer step `step` (0-based: the step about to be taken; HF logs the
 * multiplier of the step count AFTER the update). W = warmup steps, T = total.
 *   warmup (all but constant):  step / max(1, W)              for step < W
 *   linear:                     max(0, (T−step) / max(1, T−W))
 *   cosine:                     max(0, ½(1 + cos(π·2c·p))), c = 0.5, p = (step−W)/max(1, T−W)
 *   cosine_with_restarts:       0 if p ≥ 1 else max(0, ½(1 + cos(π·((c·p) mod 1)))), c = 1
 *   polynomial:                 ((lr−lr_end)·(1 − (step−W)/(T−W))^power + lr_end)/lr, lr_end 1e-7, power 1;
 *                               lr_end/lr once step > T
 *   constant:                   1;  constant_with_warmup: 1 after warmup
 *   inverse_sqrt:               1/√((step + s − W)/s), timescale s = W or 10000 */
#ifndef WHET_TRAIN_LR_SCHEDULE_H
#define WHET_TRAIN_LR_SCHEDULE_H
#include <stdint.h>
#include "core/status.h"

typedef enum {
    WHET_LR_LINEAR,
    WHET_LR_COSINE,
    WHET_LR_COSINE_WITH_RESTARTS,
    WHET_LR_POLYNOMIAL,
    WHET_LR_CONSTANT,
    WHET_LR_CONSTANT_WITH_WARMUP,
    WHET_LR_INVERSE_SQRT,
} whet_lr_kind;

typedef struct {
    whet_lr_kind kind;
    double base_lr;
    int64_t warmup_steps;
    int64_t total_steps;
} whet_lr_schedule;

/* "linear", "cosine", ... (the lr_scheduler_type values); an unknown name is
 * an error listing the supported ones. */
whet_status whet_lr_kind_parse(const char *name, whet_lr_kind *out, whet_error *err);
const char *whet_lr_kind_name(whet_lr_kind k);
/* TrainingArguments.get_warmup_steps: warmup_steps if > 0, else ceil(total · warmup_ratio). */
int64_t whet_lr_warmup_steps(int64_t total_steps, int64_t warmup_steps, double warmup_ratio);
/* Multiplier of base_lr at 0-based step `step` (LambdaLR's lr_lambda(step)). */
double whet_lr_factor(const whet_lr_schedule *s, int64_t step);
/* base_lr · whet_lr_factor. */
double whet_lr_at(const whet_lr_schedule *s, int64_t step);
#endif
