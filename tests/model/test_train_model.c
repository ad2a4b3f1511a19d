/* test_train_model.c: the LoRA training forward/backward against PEFT
 * (tests/fixtures/reference/<name>/lora.safetensors, r=4 alpha=8, and
 * rslora.safetensors, r=8 alpha=16 rsLoRA) on the three tiny models: the
 * reference batch (two chat rows, right-padded) is packed into one batch of
 * two sequences with cu_seqlens, the adapters start from PEFT's `init.*`,
 * and the loss, every `grad.*` tensor and grad_norm_before_clip must match.
 * Also: gradient checkpointing gives the same gradients, training-mode
 * logits equal PEFT's, and a finite-difference check on a few LoRA weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "model/lora.h"
#include "model/train_model.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"
#include "train/fd.h"

static const char *const MODELS[] = {"llama-tiny", "qwen2-tiny", "llama3-tiny"};

typedef struct {
    int64_t T;
    int n_seqs;
    int32_t *tokens, *pos, *targets, cu[3];
    int64_t n_labels;
    int L, B;
    int32_t *row_of;  /* [T] padded row index b*L+p of packed token t */
} packed;

/* The padded [B, L] reference batch as packed sequences (padding dropped). */
static void pack_reference(const whet_safetensors *ref, packed *p) {
    int64_t n = 0;
    int32_t *ids = ref_read_ids(ref, "input_ids", &n), *mask = ref_read_ids(ref, "attention_mask", &n);
    int32_t *labels = ref_read_ids(ref, "labels", &n);
    const whet_st_tensor *t = whet_safetensors_find(ref, "input_ids");
    p->B = (int)t->shape[0];
    p->L = (int)t->shape[1];
    p->tokens = malloc(sizeof(int32_t) * (size_t)n);
    p->pos = malloc(sizeof(int32_t) * (size_t)n);
    p->targets = malloc(sizeof(int32_t) * (size_t)n);
    p->row_of = malloc(sizeof(int32_t) * (size_t)n);
    p->T = 0;
    p->n_labels = 0;
    p->n_seqs = p->B;
    p->cu[0] = 0;
    for (int b = 0; b < p->B; b++) {
        int len = 0;
        while (len < p->L && mask[b * p->L + len]) len++;
        for (int i = 0; i < len; i++) {
            const int64_t k = p->T++;
            p->tokens[k] = ids[b * p->L + i];
            p->pos[k] = i;
            p->targets[k] = i + 1 < len ? labels[b * p->L + i + 1] : WHET_IGNORE_INDEX;
            p->row_of[k] = b * p->L + i;
            p->n_labels += p->targets[k] != WHET_IGNORE_INDEX;
        }
        p->cu[b + 1] = (int32_t)p->T;
    }
    free(ids);
    free(mask);
    free(labels);
}

static void packed_free(packed *p) {
    free(p->tokens);
    free(p->pos);
    free(p->targets);
    free(p->row_of);
}

static void peft_key(char *buf, size_t n, const char *prefix, int layer, whet_lora_module m, char ab) {
    const bool attn = m <= WHET_MOD_O;
    snprintf(buf, n, "%sbase_model.model.model.layers.%d.%s.%s.lora_%c.weight", prefix, layer,
             attn ? "self_attn" : "mlp", whet_lora_module_name(m), ab);
}

/* Copy `prefix`<PEFT key> tensors of the file into (or compare with) the slab. */
static bool load_slab(const whet_safetensors *ref, const whet_lora *l, const char *prefix, float *slab_base,
                      const float *params_base) {
    char key[256];
    for (int layer = 0; layer < l->n_layers; layer++)
        for (int m = 0; m < WHET_MOD_COUNT; m++) {
            const float *a = whet_lora_a(l, layer, m), *b = whet_lora_b(l, layer, m);
            const int64_t na = (int64_t)l->cfg.r * l->in[m], nb = l->out[m] * l->cfg.r;
            peft_key(key, sizeof key, prefix, layer, m, 'A');
            float *ta = ref_read_f32(ref, key, na);
            peft_key(key, sizeof key, prefix, layer, m, 'B');
            float *tb = ref_read_f32(ref, key, nb);
            if (!ta || !tb) {
                fprintf(stderr, "missing or misshapen %s\n", key);
                free(ta);
                free(tb);
                return false;
            }
            memcpy(slab_base + (a - params_base), ta, sizeof(float) * (size_t)na);
            memcpy(slab_base + (b - params_base), tb, sizeof(float) * (size_t)nb);
            free(ta);
            free(tb);
        }
    return true;
}

typedef struct {
    whet_train_model *tm;
    whet_train_batch *b;
} fd_ctx;

static double fd_loss(void *vctx) {
    fd_ctx *c = vctx;
    whet_ce_result res;
    whet_error err = {0};
    if (whet_train_forward(c->tm, c->b, &res, NULL, &err) != WHET_OK) return NAN;
    return res.loss_sum;
}

static void check_variant(const char *name, const char *file, int r, float alpha, bool rslora) {
    char mdir[4096], rpath[4096];
    snprintf(mdir, sizeof mdir, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(rpath, sizeof rpath, "%s/reference/%s/%s", WHET_FIXTURES, name, file);
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts mo = {.n_threads = 2};
    CHECK_OK(whet_model_load(mdir, &mo, &m, &err), &err);
    whet_safetensors *ref = NULL, *fwd = NULL;
    CHECK_OK(whet_safetensors_open(rpath, &ref, &err), &err);
    snprintf(rpath, sizeof rpath, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    CHECK_OK(whet_safetensors_open(rpath, &fwd, &err), &err);
    if (!m || !ref || !fwd) return;
    packed p;
    pack_reference(fwd, &p);

    whet_lora_config cfg = {.r = r, .alpha = alpha, .dropout = 0, .use_rslora = rslora};
    const char *all[] = {"all", NULL};
    CHECK_OK(whet_lora_parse_targets(all, cfg.target, &err), &err);
    whet_lora l;
    CHECK_OK(whet_lora_create(&m->cfg, &cfg, &l, &err), &err);
    CHECK(load_slab(ref, &l, "init.", l.params, l.params));
    float *ref_grad = calloc((size_t)l.n_params, sizeof(float));
    CHECK(load_slab(ref, &l, "grad.", ref_grad, l.params));

    whet_train_batch b = {.T = p.T, .tokens = p.tokens, .pos = p.pos, .targets = p.targets, .n_seqs = p.n_seqs,
                          .cu_seqlens = p.cu, .training = true};
    whet_train_model *tm = NULL;
    whet_train_opts opts = {.ce_chunk_rows = 17};  /* several chunks, one ragged */
    CHECK_OK(whet_train_model_create(m, &l, &opts, &tm, &err), &err);
    whet_ce_result res;
    CHECK_OK(whet_train_forward_backward(tm, &b, 1.0f / (float)p.n_labels, &res, &err), &err);
    CHECK_EQ_INT((int)res.n_tokens, (int)p.n_labels);
    float ref_loss = 0, ref_norm = 0;
    const int64_t one = 1;
    CHECK_OK(whet_safetensors_read_f32(ref, "loss", 1, &one, &ref_loss, &err), &err);
    CHECK_OK(whet_safetensors_read_f32(ref, "grad_norm_before_clip", 1, &one, &ref_norm, &err), &err);
    const double loss = res.loss_sum / (double)res.n_tokens;
    CHECK_NEAR(loss, ref_loss, 0, TOL_LOSS_RTOL);

    /* per tensor: ||g - ref|| / ||ref|| */
    double worst_rel = 0, sq = 0;
    char key[256];
    for (int layer = 0; layer < l.n_layers; layer++)
        for (int mo2 = 0; mo2 < WHET_MOD_COUNT; mo2++)
            for (int ab = 0; ab < 2; ab++) {
                const float *g = ab ? whet_lora_grad_b(&l, layer, mo2) : whet_lora_grad_a(&l, layer, mo2);
                const float *rg = ref_grad + (g - l.grads);
                const int64_t n = ab ? l.out[mo2] * r : (int64_t)r * l.in[mo2];
                double num = 0, den = 0;
                for (int64_t i = 0; i < n; i++) {
                    num += ((double)g[i] - rg[i]) * ((double)g[i] - rg[i]);
                    den += (double)rg[i] * rg[i];
                    sq += (double)g[i] * g[i];
                }
                const double rel = sqrt(num) / (sqrt(den) + 1e-30);
                peft_key(key, sizeof key, "grad.", layer, mo2, ab ? 'B' : 'A');
                CHECK_MSG(rel <= TOL_LORA_GRAD_REL, "%s %s: %s relative error %.3g", name, file, key, rel);
                if (rel > worst_rel) worst_rel = rel;
            }
    const double norm = sqrt(sq);
    CHECK_NEAR(norm, ref_norm, 0, TOL_LOSS_RTOL);
    printf("%s %s: loss %.7f (PEFT %.7f), grad norm %.6f (PEFT %.6f), worst per-tensor grad rel err %.3g\n", name,
           file, loss, ref_loss, norm, ref_norm, worst_rel);

    /* training-mode logits == PEFT's logits (real positions) */
    const int V = m->cfg.vocab_size;
    float *logits = malloc(sizeof(float) * (size_t)(p.T * V));
    float *ref_logits = ref_read_f32(ref, "logits", (int64_t)p.B * p.L * V);
    CHECK(ref_logits != NULL);
    CHECK_OK(whet_train_forward(tm, &b, &res, logits, &err), &err);
    double dl = 0;
    for (int64_t t = 0; ref_logits && t < p.T; t++) {
        const double d = test_max_abs_diff(logits + t * V, ref_logits + (size_t)p.row_of[t] * V, (size_t)V);
        dl = d > dl ? d : dl;
    }
    CHECK_MSG(dl <= TOL_LOGITS_ATOL, "%s %s: logits differ from PEFT by %.3g", name, file, dl);

    /* gradient checkpointing recomputes each layer: the same gradients up to BLAS
     * rounding (buffers sit at other addresses; measured max 2e-7) */
    float *g1 = malloc(sizeof(float) * (size_t)l.n_params);
    memcpy(g1, l.grads, sizeof(float) * (size_t)l.n_params);
    whet_train_model *tm2 = NULL;
    whet_train_opts o2 = {.gradient_checkpointing = true};
    CHECK_OK(whet_train_model_create(m, &l, &o2, &tm2, &err), &err);
    memset(l.grads, 0, sizeof(float) * (size_t)l.n_params);
    CHECK_OK(whet_train_forward_backward(tm2, &b, 1.0f / (float)p.n_labels, &res, &err), &err);
    const double dck = test_max_abs_diff(g1, l.grads, (size_t)l.n_params);
    CHECK_MSG(dck <= TOL_GRAD_ATOL, "%s: gradient checkpointing changed the gradients by %.3g", name, dck);
    CHECK(whet_train_model_peak_bytes(tm2) < whet_train_model_peak_bytes(tm));

    /* finite differences on a few coordinates of layer 0 q_proj A and layer 1 down_proj B
     * (grads of the summed loss, grad_scale 1) */
    if (!rslora && strcmp(name, "llama-tiny") == 0) {
        memset(l.grads, 0, sizeof(float) * (size_t)l.n_params);
        CHECK_OK(whet_train_forward_backward(tm, &b, 1.0f, &res, &err), &err);
        fd_ctx c = {tm, &b};
        double w1 = fd_check("q_proj.lora_A", fd_loss, &c, whet_lora_a(&l, 0, WHET_MOD_Q),
                             whet_lora_grad_a(&l, 0, WHET_MOD_Q), (size_t)(r * l.in[WHET_MOD_Q]), 37, TOL_FD_STEP,
                             TOL_FD_MODEL_ATOL, TOL_FD_RTOL);
        double w2 = fd_check("down_proj.lora_B", fd_loss, &c, whet_lora_b(&l, 1, WHET_MOD_DOWN),
                             whet_lora_grad_b(&l, 1, WHET_MOD_DOWN), (size_t)(l.out[WHET_MOD_DOWN] * r), 23,
                             TOL_FD_STEP, TOL_FD_MODEL_ATOL, TOL_FD_RTOL);
        CHECK_MSG(w1 <= 1 && w2 <= 1, "finite differences disagree (ratios %.3g %.3g)", w1, w2);
    }

    free(g1);
    free(logits);
    free(ref_logits);
    free(ref_grad);
    whet_train_model_free(tm2);
    whet_train_model_free(tm);
    whet_lora_free(&l);
    packed_free(&p);
    whet_safetensors_close(ref);
    whet_safetensors_close(fwd);
    whet_model_free(m);
}

/* lora_target naming a module the model lacks: an error naming it and the valid ones. */
static void test_bad_target(void) {
    bool target[WHET_MOD_COUNT];
    whet_error err = {0};
    const char *bad[] = {"q_proj", "c_attn", NULL};
    CHECK(whet_lora_parse_targets(bad, target, &err) != WHET_OK);
    CHECK(strstr(err.msg, "c_attn") != NULL);
    CHECK(strstr(err.msg, "down_proj") != NULL);
    const char *typo[] = {"v_prj", NULL};
    CHECK(whet_lora_parse_targets(typo, target, &err) != WHET_OK);
    CHECK(strstr(err.msg, "v_proj") != NULL);
    const char *some[] = {"q_proj", "v_proj", NULL};
    CHECK_OK(whet_lora_parse_targets(some, target, &err), &err);
    CHECK(target[WHET_MOD_Q] && target[WHET_MOD_V] && !target[WHET_MOD_K] && !target[WHET_MOD_DOWN]);
}

int main(void) {
    test_bad_target();
    for (size_t i = 0; i < sizeof MODELS / sizeof *MODELS; i++) {
        check_variant(MODELS[i], "lora.safetensors", 4, 8.0f, false);
        check_variant(MODELS[i], "rslora.safetensors", 8, 16.0f, true);
    }
    return TEST_SUMMARY();
}
