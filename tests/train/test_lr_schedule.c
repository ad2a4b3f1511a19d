/* test_lr_schedule.c: the schedules against values worked out by hand from
 * transformers' optimization.py lambdas (quoted in train/lr_schedule.h), at
 * warmup, boundaries and mid-decay, plus get_warmup_steps' ceil. */
#include <math.h>
#include "test.h"
#include "train/lr_schedule.h"

static double f(whet_lr_kind k, int64_t W, int64_t T, int64_t step) {
    const whet_lr_schedule s = {k, 1e-3, W, T};
    return whet_lr_factor(&s, step);
}

int main(void) {
    const double e = 1e-12;
    /* warmup: linear ramp from 0 */
    CHECK_NEAR(f(WHET_LR_LINEAR, 4, 20, 0), 0.0, e, 0);
    CHECK_NEAR(f(WHET_LR_LINEAR, 4, 20, 1), 0.25, e, 0);
    CHECK_NEAR(f(WHET_LR_COSINE, 4, 20, 3), 0.75, e, 0);
    CHECK_NEAR(f(WHET_LR_CONSTANT_WITH_WARMUP, 4, 20, 2), 0.5, e, 0);
    CHECK_NEAR(f(WHET_LR_CONSTANT, 4, 20, 0), 1.0, e, 0);      /* constant has no warmup */
    /* linear: (T - step) / (T - W) */
    CHECK_NEAR(f(WHET_LR_LINEAR, 4, 20, 4), 1.0, e, 0);
    CHECK_NEAR(f(WHET_LR_LINEAR, 4, 20, 12), 0.5, e, 0);
    CHECK_NEAR(f(WHET_LR_LINEAR, 4, 20, 20), 0.0, e, 0);
    CHECK_NEAR(f(WHET_LR_LINEAR, 4, 20, 25), 0.0, e, 0);       /* clamped */
    /* cosine, half a cycle: ½(1+cos(π p)) */
    CHECK_NEAR(f(WHET_LR_COSINE, 0, 10, 5), 0.5, e, 0);
    CHECK_NEAR(f(WHET_LR_COSINE, 2, 10, 4), 0.5 * (1 + cos(M_PI * 0.25)), e, 0);
    CHECK_NEAR(f(WHET_LR_COSINE, 0, 10, 10), 0.0, e, 0);
    /* cosine with one hard restart: same shape over one cycle, 0 after the end */
    CHECK_NEAR(f(WHET_LR_COSINE_WITH_RESTARTS, 0, 10, 5), 0.5, e, 0);
    CHECK_NEAR(f(WHET_LR_COSINE_WITH_RESTARTS, 0, 10, 10), 0.0, e, 0);
    CHECK_NEAR(f(WHET_LR_COSINE_WITH_RESTARTS, 0, 10, 0), 1.0, e, 0);
    /* polynomial, power 1, lr_end 1e-7 */
    CHECK_NEAR(f(WHET_LR_POLYNOMIAL, 0, 10, 5), ((1e-3 - 1e-7) * 0.5 + 1e-7) / 1e-3, e, 0);
    CHECK_NEAR(f(WHET_LR_POLYNOMIAL, 0, 10, 10), 1e-7 / 1e-3, e, 0);
    CHECK_NEAR(f(WHET_LR_POLYNOMIAL, 0, 10, 11), 1e-7 / 1e-3, e, 0);
    /* inverse_sqrt: timescale = W, 1/sqrt(step/W) after warmup; without warmup 1/sqrt((step+10000)/10000) */
    CHECK_NEAR(f(WHET_LR_INVERSE_SQRT, 4, 100, 4), 1.0, e, 0);
    CHECK_NEAR(f(WHET_LR_INVERSE_SQRT, 4, 100, 16), 0.5, e, 0);
    CHECK_NEAR(f(WHET_LR_INVERSE_SQRT, 0, 100, 20000), 1.0 / sqrt(3.0), e, 0);
    /* get_warmup_steps: warmup_steps wins, else ceil(T · ratio) */
    CHECK_EQ_INT(whet_lr_warmup_steps(33, 0, 0.1), 4);
    CHECK_EQ_INT(whet_lr_warmup_steps(30, 0, 0.1), 3);
    CHECK_EQ_INT(whet_lr_warmup_steps(33, 7, 0.1), 7);
    CHECK_EQ_INT(whet_lr_warmup_steps(33, 0, 0.0), 0);
    /* names */
    whet_lr_kind k;
    whet_error err;
    CHECK_OK(whet_lr_kind_parse("cosine_with_restarts", &k, &err), &err);
    CHECK(k == WHET_LR_COSINE_WITH_RESTARTS);
    CHECK(whet_lr_kind_parse("cosine_with_min_lr", &k, &err) != WHET_OK);
    CHECK_STR_EQ(whet_lr_kind_name(WHET_LR_INVERSE_SQRT), "inverse_sqrt");
    const whet_lr_schedule s = {WHET_LR_LINEAR, 2e-3, 0, 4};
    CHECK_NEAR(whet_lr_at(&s, 2), 1e-3, 1e-15, 0);
    return TEST_SUMMARY();
}
