/* test_lora_unmerged.c: unmerged LoRA at inference (model/lora_infer.h).
 * - PEFT's own adapter (tests/fixtures/export/<m>/adapter, saved after one
 *   AdamW step) applied unmerged on the base model reproduces PEFT's merged
 *   model's logits (merged_forward.safetensors) on the reference batch, for
 *   llama-tiny, qwen2-tiny and llama3-tiny; the adapter visibly moves the
 *   logits away from the base model's (so the check can fail);
 * - unmerged equals whet's own merged path (lora_apply_infer.h);
 * - a mixed paged batch (sequence 0 base, sequence 1 adapter) gives each
 *   sequence what it gives alone (bit for bit with the AVX2 float GEMM,
 *   ops/float_gemm.h; to TOL_BATCH_ROW_ATOL where BLAS runs, whose
 *   blocking depends on the batch size) and, bit for bit, what an all-base
 *   / all-adapter batch of the same shape gives; the base row equals the
 *   plain model exactly; rows marked -1 everywhere equal the plain model;
 * - two adapters in one set (PEFT's and an rsLoRA copy of it) each give
 *   their own logits in one batch; the rsLoRA scale is alpha/sqrt(r);
 * - an adapter for another base model is refused naming the linear. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ops/float_gemm.h"
#include "io/peft_adapter.h"
#include "model/lora_apply_infer.h"
#include "model/lora_infer.h"
#include "model/model.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

static char tmpdir[256];
static const char *const MODELS[3] = {"llama-tiny", "qwen2-tiny", "llama3-tiny"};

typedef struct {
    int B, L, V;
    int32_t *ids;
    uint8_t *mask;
    int len[2];        /* real tokens per row (right padding) */
} ref_batch;

static bool load_batch(const char *name, ref_batch *rb) {
    char fwd[4096];
    snprintf(fwd, sizeof fwd, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    whet_error err = {0};
    whet_safetensors *ref = NULL;
    CHECK_OK(whet_safetensors_open(fwd, &ref, &err), &err);
    if (!ref) return false;
    int64_t n = 0;
    rb->ids = ref_read_ids(ref, "input_ids", &n);
    int32_t *m32 = ref_read_ids(ref, "attention_mask", &n);
    const whet_st_tensor *ti = whet_safetensors_find(ref, "input_ids");
    rb->B = (int)ti->shape[0], rb->L = (int)ti->shape[1];
    rb->mask = malloc((size_t)n);
    for (int b = 0; b < 2; b++) rb->len[b] = 0;
    for (int64_t i = 0; i < n; i++) {
        rb->mask[i] = (uint8_t)m32[i];
        if (m32[i] && i / rb->L < 2) rb->len[i / rb->L]++;
    }
    free(m32);
    whet_safetensors_close(ref);
    return rb->ids && rb->B >= 2;
}

static whet_model *load_model(const char *name) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/models/%s", WHET_FIXTURES, name);
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = 1};
    CHECK_OK(whet_model_load(dir, &lo, &m, &err), &err);
    return m;
}

/* Logits of `n` tokens of one or two sequences in ONE paged forward step;
 * sequence j owns block j (block_size = L) and uses adapter lora_of_seq[j]. */
static void paged_step(whet_model *m, whet_kv_pool *kv, const whet_lora_set *set, int n_seqs, const int32_t *const *toks,
                       const int *lens, const int32_t *lora_of_seq, const int32_t *blocks, float *logits) {
    int T = 0;
    for (int j = 0; j < n_seqs; j++) T += lens[j];
    int32_t *tok = malloc((size_t)T * 4), *pos = malloc((size_t)T * 4), *seq = malloc((size_t)T * 4),
            *rows = malloc((size_t)T * 4), *lo = malloc((size_t)T * 4);
    const int32_t *tables[2] = {&blocks[0], &blocks[1]};
    int t = 0;
    for (int j = 0; j < n_seqs; j++)
        for (int p = 0; p < lens[j]; p++, t++) {
            tok[t] = toks[j][p], pos[t] = p, seq[t] = j, rows[t] = t;
            lo[t] = lora_of_seq ? lora_of_seq[j] : -1;
        }
    whet_forward_batch fb = {.n_tokens = T, .tokens = tok, .pos = pos, .seq_of = seq, .n_seqs = n_seqs,
                             .block_tables = tables, .n_logits = T, .logit_rows = rows,
                             .lora = lora_of_seq ? set : NULL, .lora_of = lora_of_seq ? lo : NULL};
    whet_forward_ws ws = {0};
    whet_error err = {0};
    CHECK_OK(whet_model_forward(m, kv, &fb, logits, &ws, &err), &err);
    whet_forward_ws_free(&ws);
    free(tok), free(pos), free(seq), free(rows), free(lo);
}

static void test_model(const char *name) {
    whet_error err = {0};
    ref_batch rb = {0};
    whet_model *m = load_model(name);
    if (!m || !load_batch(name, &rb)) return;
    const int B = rb.B, L = rb.L, V = m->cfg.vocab_size;
    const size_t n = (size_t)B * L * V;
    char adapter[4096], mref[4096];
    snprintf(adapter, sizeof adapter, "%s/export/%s/adapter", WHET_FIXTURES, name);
    snprintf(mref, sizeof mref, "%s/export/%s/merged_forward.safetensors", WHET_FIXTURES, name);
    whet_lora_set *set = NULL;
    CHECK_OK(whet_lora_set_create(m, &set, &err), &err);
    int idx = -1;
    CHECK_OK(whet_lora_set_add(set, adapter, &idx, &err), &err);
    CHECK_EQ_INT(idx, 0);
    CHECK_EQ_INT(whet_lora_set_count(set), 1);

    /* 1. unmerged vs PEFT's merged model, and vs the base model */
    int32_t all_a[8], all_base[8];
    for (int b = 0; b < B && b < 8; b++) all_a[b] = 0, all_base[b] = -1;
    float *lu = malloc(n * sizeof *lu), *lb = malloc(n * sizeof *lb), *lm = malloc(n * sizeof *lm);
    CHECK_OK(whet_model_forward_padded_lora(m, rb.ids, rb.mask, B, L, set, all_a, lu, NULL, &err), &err);
    CHECK_OK(whet_model_forward_padded(m, rb.ids, rb.mask, B, L, lb, NULL, &err), &err);
    whet_safetensors *mr = NULL;
    CHECK_OK(whet_safetensors_open(mref, &mr, &err), &err);
    float *want = mr ? ref_read_f32(mr, "logits", (int64_t)n) : NULL;
    CHECK_MSG(want != NULL, "%s: no logits in %s", name, mref);
    if (want) {
        double d = test_max_abs_diff(lu, want, n), moved = test_max_abs_diff(lb, want, n);
        printf("%-12s unmerged LoRA vs PEFT merged logits: max|err| %.3g (base model vs PEFT merged: %.3g)\n", name, d,
               moved);
        CHECK_MSG(d <= TOL_LOGITS_ATOL, "%s: unmerged logits differ from PEFT's merged model by %.3g", name, d);
        CHECK_MSG(moved > 100 * TOL_LOGITS_ATOL, "%s: the adapter barely changes the logits (%.3g): the test proves "
                  "nothing", name, moved);
    }
    /* rows marked -1 are the plain model, exactly */
    CHECK_OK(whet_model_forward_padded_lora(m, rb.ids, rb.mask, B, L, set, all_base, lm, NULL, &err), &err);
    CHECK_MSG(memcmp(lm, lb, n * sizeof *lm) == 0, "%s: base rows (-1) differ from the plain model", name);

    /* 2. unmerged vs whet's merged path */
    whet_model *mm = load_model(name);
    whet_lora_merged *merged = NULL;
    if (mm) CHECK_OK(whet_model_apply_lora(mm, adapter, &merged, &err), &err);
    if (merged) {
        CHECK_OK(whet_model_forward_padded(mm, rb.ids, rb.mask, B, L, lm, NULL, &err), &err);
        double d = test_max_abs_diff(lu, lm, n);
        printf("%-12s unmerged vs whet merged: max|err| %.3g\n", name, d);
        CHECK_MSG(d <= TOL_LOGITS_ATOL, "%s: unmerged vs merged differ by %.3g", name, d);
    }
    whet_model_free(mm);
    whet_lora_merged_free(merged);

    /* 3. mixed paged batch: sequence 0 base, sequence 1 adapter, vs each alone */
    whet_kv_pool kv;
    CHECK_OK(whet_kv_pool_init(&kv, &m->cfg, L, 2, &err), &err);
    const int32_t *toks[2] = {rb.ids, rb.ids + L};
    const int32_t blocks[2] = {0, 1}, lo_mixed[2] = {-1, 0};
    int T = rb.len[0] + rb.len[1];
    float *mix = malloc((size_t)T * V * sizeof *mix), *alone0 = malloc((size_t)rb.len[0] * V * sizeof *alone0),
          *alone1 = malloc((size_t)rb.len[1] * V * sizeof *alone1), *plain0 = malloc((size_t)rb.len[0] * V * 4);
    paged_step(m, &kv, set, 2, toks, rb.len, lo_mixed, blocks, mix);
    const int32_t lo0[1] = {-1}, lo1[1] = {0};
    paged_step(m, &kv, set, 1, &toks[0], &rb.len[0], lo0, blocks, alone0);
    paged_step(m, &kv, set, 1, &toks[1], &rb.len[1], lo1, blocks, alone1);
    paged_step(m, &kv, NULL, 1, &toks[0], &rb.len[0], NULL, blocks, plain0);
    double d0 = test_max_abs_diff(mix, alone0, (size_t)rb.len[0] * V);
    double d1 = test_max_abs_diff(mix + (size_t)rb.len[0] * V, alone1, (size_t)rb.len[1] * V);
    printf("%-12s mixed batch (base + adapter) vs alone: max|diff| base row %.3g, adapter row %.3g\n", name, d0, d1);
    const double batch_tol = whet_float_gemm_kernel(whet_cpu_isa()) ? 0.0 : TOL_BATCH_ROW_ATOL;
    CHECK_MSG(d0 <= batch_tol && d1 <= batch_tol, "%s: mixed batch rows differ from alone (%.3g, %.3g)", name, d0, d1);
    CHECK_MSG(memcmp(alone0, plain0, (size_t)rb.len[0] * V * 4) == 0, "%s: a base sequence with a LoRA set attached "
              "differs from the plain model", name);
    /* at the same batch shape the base sgemm does the same sums, so the rows are exact:
     * the base row equals an all-base batch (and the plain model), the adapter row an all-adapter batch */
    float *same = malloc((size_t)T * V * sizeof *same);
    const int32_t lo_base[2] = {-1, -1}, lo_lora[2] = {0, 0};
    paged_step(m, &kv, NULL, 2, toks, rb.len, NULL, blocks, same);
    CHECK_MSG(memcmp(mix, same, (size_t)rb.len[0] * V * 4) == 0, "%s: base row of a mixed batch != plain model", name);
    paged_step(m, &kv, set, 2, toks, rb.len, lo_base, blocks, same);
    CHECK_MSG(memcmp(mix, same, (size_t)rb.len[0] * V * 4) == 0, "%s: base row of a mixed batch != all-base batch", name);
    paged_step(m, &kv, set, 2, toks, rb.len, lo_lora, blocks, same);
    CHECK_MSG(memcmp(mix + (size_t)rb.len[0] * V, same + (size_t)rb.len[0] * V, (size_t)rb.len[1] * V * 4) == 0,
              "%s: adapter row of a mixed batch != all-adapter batch", name);
    free(same);
    /* the adapter row of the paged batch agrees with the padded reference */
    double dp = 0;
    for (int p = 0; p < rb.len[1]; p++) {
        double d = test_max_abs_diff(alone1 + (size_t)p * V, lu + ((size_t)L + p) * V, (size_t)V);
        dp = d > dp ? d : dp;
    }
    CHECK_MSG(dp <= TOL_LOGITS_ATOL, "%s: paged adapter row vs padded unmerged forward: %.3g", name, dp);
    whet_kv_pool_free(&kv);
    free(mix), free(alone0), free(alone1), free(plain0);
    free(want), free(lu), free(lb), free(lm), free(rb.ids), free(rb.mask);
    whet_safetensors_close(mr);
    whet_lora_set_free(set);
    whet_model_free(m);
}

/* Two adapters in one set: PEFT's (scale alpha/r) and an rsLoRA copy (alpha/sqrt(r)). */
static void test_two_adapters(void) {
    whet_error err = {0};
    char adapter[4096], rs[4096];
    snprintf(adapter, sizeof adapter, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    snprintf(rs, sizeof rs, "%s/rslora", tmpdir);
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    CHECK_OK(whet_peft_adapter_load(adapter, &ad, &err), &err);
    ad.use_rslora = true;
    CHECK_OK(whet_peft_adapter_save(&ad, rs, "float32", &err), &err);
    whet_model *m = load_model("llama-tiny");
    ref_batch rb = {0};
    if (!m || !load_batch("llama-tiny", &rb)) return;
    whet_lora_set *one = NULL, *two = NULL, *rsonly = NULL;
    CHECK_OK(whet_lora_set_create(m, &one, &err), &err);
    CHECK_OK(whet_lora_set_create(m, &two, &err), &err);
    CHECK_OK(whet_lora_set_create(m, &rsonly, &err), &err);
    CHECK_OK(whet_lora_set_add(one, adapter, NULL, &err), &err);
    CHECK_OK(whet_lora_set_add(two, adapter, NULL, &err), &err);
    CHECK_OK(whet_lora_set_add(two, rs, NULL, &err), &err);
    CHECK_OK(whet_lora_set_add(rsonly, rs, NULL, &err), &err);
    CHECK_EQ_INT(whet_lora_set_count(two), 2);
    CHECK_NEAR(whet_lora_set_scale(two, 0), ad.lora_alpha / ad.r, 0, 1e-7);
    CHECK_NEAR(whet_lora_set_scale(two, 1), ad.lora_alpha / sqrt((double)ad.r), 0, 1e-7);
    const int B = rb.B, L = rb.L, V = m->cfg.vocab_size;
    const size_t n = (size_t)B * L * V, row = (size_t)L * V;
    float *both = malloc(n * 4), *ref0 = malloc(n * 4), *ref1 = malloc(n * 4);
    int32_t mixed[2] = {0, 1}, z[2] = {0, 0};
    CHECK_OK(whet_model_forward_padded_lora(m, rb.ids, rb.mask, 2, L, two, mixed, both, NULL, &err), &err);
    CHECK_OK(whet_model_forward_padded_lora(m, rb.ids, rb.mask, 2, L, one, z, ref0, NULL, &err), &err);
    CHECK_OK(whet_model_forward_padded_lora(m, rb.ids, rb.mask, 2, L, rsonly, z, ref1, NULL, &err), &err);
    /* same T and same rows, so the same op order: exact */
    CHECK_MSG(memcmp(both, ref0, row * 4) == 0, "row 0 (adapter 0) differs from the one-adapter set");
    CHECK_MSG(memcmp(both + row, ref1 + row, row * 4) == 0, "row 1 (rsLoRA adapter) differs from the rsLoRA-only set");
    double apart = test_max_abs_diff(ref0 + row, ref1 + row, row);
    printf("two adapters in one batch: each row exact; rsLoRA (scale %g) vs LoRA (scale %g) logits differ by %.3g\n",
           whet_lora_set_scale(two, 1), whet_lora_set_scale(two, 0), apart);
    CHECK(apart > 100 * TOL_LOGITS_ATOL);
    free(both), free(ref0), free(ref1), free(rb.ids), free(rb.mask);
    whet_lora_set_free(one), whet_lora_set_free(two), whet_lora_set_free(rsonly);
    whet_model_free(m);
    whet_peft_adapter_free(&ad);
}

/* llama-tiny's adapter on qwen2-tiny (1 KV head: k_proj is [16, 64]) is refused. */
static void test_wrong_base(void) {
    whet_error err = {0};
    char adapter[4096];
    snprintf(adapter, sizeof adapter, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    whet_model *m = load_model("qwen2-tiny");
    if (!m) return;
    whet_lora_set *set = NULL;
    CHECK_OK(whet_lora_set_create(m, &set, &err), &err);
    whet_status st = whet_lora_set_add(set, adapter, NULL, &err);
    CHECK(st != WHET_OK);
    CHECK_MSG(strstr(err.msg, "k_proj") && strstr(err.msg, "wrong base model"), "message: %s", err.msg);
    CHECK_EQ_INT(whet_lora_set_count(set), 0);
    whet_lora_set_free(set);
    whet_model_free(m);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_lora_unmerged_XXXXXX");
    if (!mkdtemp(tmpdir)) TEST_SKIP("no temp dir");
    for (int i = 0; i < 3; i++) test_model(MODELS[i]);
    test_two_adapters();
    test_wrong_base();
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) printf("could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
