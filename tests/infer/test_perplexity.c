/* test_perplexity.c: whet_perplexity against the negative log-likelihood
 * computed from transformers' own float32 logits (tests/fixtures/reference/
 * <name>/forward.safetensors, row 0 has no padding): one window covering the
 * row must give the same mean NLL. Overlapping windows score every token but
 * the first exactly once, disjoint ones skip each window's first token, and
 * bad arguments are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "infer/perplexity.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

/* Mean over j = 1..L-1 of -log softmax(logits[j-1])[ids[j]], in double. */
static double reference_mean_nll(const float *logits, const int32_t *ids, int L, int V) {
    double sum = 0;
    for (int j = 1; j < L; j++) {
        const float *row = logits + (size_t)(j - 1) * (size_t)V;
        double mx = row[0], z = 0;
        for (int v = 1; v < V; v++) mx = row[v] > mx ? row[v] : mx;
        for (int v = 0; v < V; v++) z += exp(row[v] - mx);
        sum += log(z) + mx - row[ids[j]];
    }
    return sum / (L - 1);
}

static void test_model(const char *name) {
    char mdir[512], rpath[512];
    snprintf(mdir, sizeof mdir, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(rpath, sizeof rpath, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    whet_error err = {0};
    whet_model *m = NULL;
    whet_safetensors *ref = NULL;
    CHECK_OK(whet_model_load(mdir, NULL, &m, &err), &err);
    CHECK_OK(whet_safetensors_open(rpath, &ref, &err), &err);
    if (!m || !ref) return;
    int64_t n_ids = 0;
    int32_t *ids = ref_read_ids(ref, "input_ids", &n_ids);
    const whet_st_tensor *lt = whet_safetensors_find(ref, "logits");
    CHECK(ids && lt && lt->ndim == 3);
    if (!ids || !lt) return;
    int L = (int)lt->shape[1], V = (int)lt->shape[2];
    float *logits = ref_read_f32(ref, "logits", lt->numel);
    double want = reference_mean_nll(logits, ids, L, V);   /* row 0: the first L logits rows */

    whet_perplexity_result r;
    CHECK_OK(whet_perplexity(m, ids, L, L, L, NULL, NULL, &r, &err), &err);
    CHECK_EQ_INT(r.n_scored, L - 1);
    CHECK_NEAR(r.mean_nll, want, 0, TOL_LOSS_RTOL);
    CHECK_NEAR(r.ppl, exp(want), 0, TOL_LOSS_RTOL * 10);
    CHECK(r.ppl_stderr > 0);
    printf("%-12s perplexity %.4f vs transformers' logits %.4f (mean NLL diff %.2e)\n", name, r.ppl, exp(want),
           fabs(r.mean_nll - want));

    /* overlapping windows: every token but the first scored once */
    CHECK_OK(whet_perplexity(m, ids, L, 32, 16, NULL, NULL, &r, &err), &err);
    CHECK_EQ_INT(r.n_scored, L - 1);
    /* disjoint windows of 20: the first token of each of the ceil(L / 20) windows has no context */
    CHECK_OK(whet_perplexity(m, ids, L, 20, 20, NULL, NULL, &r, &err), &err);
    CHECK_EQ_INT(r.n_scored, L - (L + 19) / 20);

    CHECK(whet_perplexity(m, ids, L, 1, 1, NULL, NULL, &r, &err) == WHET_ERR_INVALID_ARG);
    CHECK(whet_perplexity(m, ids, L, 32, 33, NULL, NULL, &r, &err) == WHET_ERR_INVALID_ARG);
    CHECK(whet_perplexity(m, ids, 1, 32, 32, NULL, NULL, &r, &err) == WHET_ERR_INVALID_ARG);
    int32_t bad[3] = {1, V + 5, 2};
    CHECK(whet_perplexity(m, bad, 3, 32, 32, NULL, NULL, &r, &err) == WHET_ERR_INVALID_ARG);
    free(ids);
    free(logits);
    whet_safetensors_close(ref);
    whet_model_free(m);
}

int main(void) {
    test_model("llama-tiny");
    test_model("qwen2-tiny");
    test_model("llama3-tiny");
    return TEST_SUMMARY();
}
