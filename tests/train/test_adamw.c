/* test_adamw.c: one optimizer step against PyTorch on the three tiny models.
 * From tests/fixtures/reference/<name>/{lora,rslora}.safetensors: the adapter
 * weights `init.*` and their gradients `grad.*` (PEFT, before clipping) are
 * gathered into one flat vector (the layout does not matter for an
 * element-wise optimizer; the norm is global), clip_grad_norm_(1.0) then one
 * torch.optim.AdamW step (lr 1e-3, betas 0.9/0.999, eps 1e-8, wd 0.01) must
 * give `after_adamw.*` and the returned norm `grad_norm_before_clip`. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "io/safetensors.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"
#include "train/adamw.h"

typedef struct {
    int64_t n;
    float *init, *grad, *after;
} flat_ref;

/* Gather every init.<key> with its grad.<key> and after_adamw.<key>. */
static bool gather(const whet_safetensors *st, flat_ref *f) {
    f->n = 0;
    for (size_t i = 0; i < whet_safetensors_count(st); i++) {
        const whet_st_tensor *t = whet_safetensors_at(st, i);
        if (strncmp(t->name, "init.", 5) == 0) f->n += t->numel;
    }
    f->init = malloc(sizeof(float) * (size_t)f->n);
    f->grad = malloc(sizeof(float) * (size_t)f->n);
    f->after = malloc(sizeof(float) * (size_t)f->n);
    int64_t off = 0;
    int n_tensors = 0;
    for (size_t i = 0; i < whet_safetensors_count(st); i++) {
        const whet_st_tensor *t = whet_safetensors_at(st, i);
        if (strncmp(t->name, "init.", 5) != 0) continue;
        char name[512];
        float *parts[3];
        parts[0] = ref_read_f32(st, t->name, t->numel);
        snprintf(name, sizeof name, "grad.%s", t->name + 5);
        parts[1] = ref_read_f32(st, name, t->numel);
        snprintf(name, sizeof name, "after_adamw.%s", t->name + 5);
        parts[2] = ref_read_f32(st, name, t->numel);
        const bool ok = parts[0] && parts[1] && parts[2];
        CHECK_MSG(ok, "%s: missing grad./after_adamw. partner", t->name);
        if (ok) {
            memcpy(f->init + off, parts[0], sizeof(float) * (size_t)t->numel);
            memcpy(f->grad + off, parts[1], sizeof(float) * (size_t)t->numel);
            memcpy(f->after + off, parts[2], sizeof(float) * (size_t)t->numel);
        }
        for (int k = 0; k < 3; k++) free(parts[k]);
        if (!ok) return false;
        off += t->numel;
        n_tensors++;
    }
    return n_tensors > 0;
}

static void check_file(const char *model, const char *file) {
    char path[1024];
    snprintf(path, sizeof path, "%s/reference/%s/%s", WHET_FIXTURES, model, file);
    whet_safetensors *st = NULL;
    whet_error err;
    CHECK_OK(whet_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    flat_ref f = {0};
    if (gather(st, &f)) {
        float *ref_norm = ref_read_f32(st, "grad_norm_before_clip", 1);
        CHECK(ref_norm != NULL);
        const double norm = whet_clip_grad_norm(f.grad, f.n, 1.0);
        if (ref_norm) CHECK_NEAR(norm, ref_norm[0], 1e-5 * ref_norm[0], 0);
        /* clipped to max_norm (qwen2-tiny's r=4 norm is below 1: left alone) */
        CHECK_NEAR(whet_grad_norm(f.grad, f.n), norm > 1.0 ? 1.0 : norm, 1e-5, 0);
        whet_adamw opt;
        const whet_adamw_hparams hp = {0.9, 0.999, 1e-8, 0.01};
        CHECK_OK(whet_adamw_init(&opt, f.n, &hp, &err), &err);
        whet_adamw_step(&opt, f.init, f.grad, 1e-3);
        CHECK_EQ_INT(opt.step, 1);
        const double diff = test_max_abs_diff(f.init, f.after, (size_t)f.n);
        printf("%s/%s: %lld params, grad norm %.6f (torch %.6f), max |after - torch| = %.3g\n", model, file,
               (long long)f.n, norm, ref_norm ? ref_norm[0] : NAN, diff);
        CHECK_MSG(diff <= TOL_ADAMW_ATOL, "%s/%s: after_adamw differs by %g", model, file, diff);
        whet_adamw_free(&opt);
        free(ref_norm);
    }
    free(f.init);
    free(f.grad);
    free(f.after);
    whet_safetensors_close(st);
}

/* Clipping below the threshold leaves the gradients alone; several steps
 * keep m, v and the step count (bias correction) going. */
static void test_clip_noop_and_state(void) {
    float g[3] = {0.1f, -0.2f, 0.2f};
    const double n = whet_clip_grad_norm(g, 3, 1.0);
    CHECK_NEAR(n, 0.3, 1e-7, 0);
    CHECK(g[0] == 0.1f && g[1] == -0.2f && g[2] == 0.2f);
    whet_adamw opt;
    whet_error err;
    const whet_adamw_hparams hp = {0.9, 0.999, 1e-8, 0.0};
    CHECK_OK(whet_adamw_init(&opt, 1, &hp, &err), &err);
    float p = 1.0f;
    const float grad = 0.5f;
    /* constant gradient: m̂ = v̂^{1/2} = g at every step, so each step moves lr·g/(|g|+eps) ≈ lr */
    for (int s = 0; s < 5; s++) whet_adamw_step(&opt, &p, &grad, 0.1);
    CHECK_NEAR(p, 0.5, 1e-5, 0);
    CHECK_EQ_INT(opt.step, 5);
    whet_adamw_free(&opt);
}

int main(void) {
    static const char *const models[] = {"llama-tiny", "qwen2-tiny", "llama3-tiny"};
    for (int i = 0; i < 3; i++) {
        check_file(models[i], "lora.safetensors");
        check_file(models[i], "rslora.safetensors");
    }
    test_clip_noop_and_state();
    return TEST_SUMMARY();
}
