/* test_generate.c: generation and sampling. Greedy generate() reproduces
 * transformers' greedy_output for the three tiny models (24 new tokens) and
 * stories260K's reference_greedy.json from BOS; eos and callback stops; the
 * sampler's filters follow HF's rules (repetition penalty sign rule, top-k
 * ties, top-p / min-p boundaries), its draws follow the softmax, a seed
 * reproduces a sample, and bad parameters are refused by name. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "infer/generate.h"
#include "infer/sampler.h"
#include "ref_fixture.h"
#include "test.h"

static void test_greedy_reference(const char *name) {
    char mdir[512], rpath[512];
    snprintf(mdir, sizeof mdir, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(rpath, sizeof rpath, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    whet_error err = {0};
    whet_model *m = NULL;
    whet_safetensors *ref = NULL;
    CHECK_OK(whet_model_load(mdir, NULL, &m, &err), &err);
    CHECK_OK(whet_safetensors_open(rpath, &ref, &err), &err);
    if (!m || !ref) return;
    int64_t np, no;
    int32_t *prompt = ref_read_ids(ref, "greedy_prompt", &np), *want = ref_read_ids(ref, "greedy_output", &no);
    whet_generate_opts o = {.max_new_tokens = 24, .sampling = whet_sampler_defaults(), .block_size = 5};
    int32_t got[24];
    int n = 0;
    whet_generate_stats st;
    CHECK_OK(whet_generate(m, prompt, (int)np, &o, got, &n, &st, &err), &err);
    CHECK_EQ_INT(n, 24);
    CHECK(st.n_prompt == np && st.n_new == 24 && !st.stopped_at_eos);
    int same = 0;
    while (same < n && got[same] == want[np + same]) same++;
    CHECK_MSG(same == 24, "%s: greedy differs from transformers at new token %d", name, same);
    printf("%-12s greedy generate: %d/24 equal to transformers\n", name, same);

    /* eos: stop right after the 3rd greedy token, which is emitted */
    int32_t eos = want[np + 2];
    int first = 0;
    while (want[np + first] != eos) first++;
    o.eos_ids = &eos;
    o.n_eos = 1;
    CHECK_OK(whet_generate(m, prompt, (int)np, &o, got, &n, &st, &err), &err);
    CHECK_EQ_INT(n, first + 1);
    CHECK(st.stopped_at_eos && got[n - 1] == eos);

    /* a seed reproduces a sample; another seed gives another one */
    o.n_eos = 0;
    o.sampling.temperature = 1.0f;
    o.sampling.top_p = 0.95f;
    o.sampling.seed = 42;
    int32_t a[24], b[24], c[24];
    int na, nb, nc;
    CHECK_OK(whet_generate(m, prompt, (int)np, &o, a, &na, NULL, &err), &err);
    CHECK_OK(whet_generate(m, prompt, (int)np, &o, b, &nb, NULL, &err), &err);
    o.sampling.seed = 43;
    CHECK_OK(whet_generate(m, prompt, (int)np, &o, c, &nc, NULL, &err), &err);
    CHECK(na == 24 && nb == 24 && memcmp(a, b, sizeof a) == 0);
    CHECK(memcmp(a, c, sizeof a) != 0);
    free(prompt);
    free(want);
    whet_safetensors_close(ref);
    whet_model_free(m);
}

static bool stop_after_5(void *ctx, int32_t id) {
    (void)id;
    return ++*(int *)ctx < 5;
}

static void test_stories(void) {
    whet_error err = {0};
    whet_model *m = NULL;
    cJSON *ref = NULL;
    CHECK_OK(whet_model_load(WHET_SOURCE_DIR "/models/stories260K-hf", NULL, &m, &err), &err);
    CHECK_OK(whet_json_parse_file(WHET_SOURCE_DIR "/models/stories260K-hf/reference_greedy.json", &ref, &err), &err);
    if (!m || !ref) return;
    const cJSON *ids = cJSON_GetObjectItem(ref, "greedy_ids");
    int n_ref = cJSON_GetArraySize(ids), n = 0;
    whet_generation_config gc;
    CHECK_OK(whet_generation_config_load(m->dir, &gc, &err), &err);
    const int32_t *eos;
    int n_eos = whet_generate_default_eos(m, &gc, &eos);
    CHECK(n_eos == 1 && eos[0] == 2);
    whet_generate_opts o = {.max_new_tokens = n_ref, .eos_ids = eos, .n_eos = n_eos,
                            .sampling = whet_sampler_defaults()};
    int32_t prompt[1] = {1}, *got = malloc((size_t)n_ref * sizeof *got);
    CHECK_OK(whet_generate(m, prompt, 1, &o, got, &n, NULL, &err), &err);
    int same = 0;
    while (same < n && same < n_ref && got[same] == cJSON_GetArrayItem(ids, same)->valueint) same++;
    CHECK_MSG(same == n_ref && n == n_ref, "stories260K greedy differs at %d (n=%d)", same, n);
    printf("stories260K  greedy generate from BOS: %d/%d equal to reference_greedy.json\n", same, n_ref);
    int calls = 0;
    o.on_token = stop_after_5;
    o.on_token_ctx = &calls;
    CHECK_OK(whet_generate(m, prompt, 1, &o, got, &n, NULL, &err), &err);
    CHECK(n == 5 && calls == 5);
    CHECK_EQ_INT(whet_generate(m, prompt, 0, &o, got, &n, NULL, &err), WHET_ERR_INVALID_ARG);
    prompt[0] = 9999;
    CHECK_EQ_INT(whet_generate(m, prompt, 1, &o, got, &n, NULL, &err), WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "9999") != NULL);
    free(got);
    cJSON_Delete(ref);
    whet_model_free(m);
}

static whet_sampler *mk(whet_sampler_params p, int V) {
    whet_sampler *s = NULL;
    whet_error err = {0};
    CHECK_OK(whet_sampler_create(&p, V, &s, &err), &err);
    return s;
}

static void test_sampler_rules(void) {
    whet_sampler_params p = whet_sampler_defaults();
    /* greedy: argmax, first index on ties */
    whet_sampler *s = mk(p, 4);
    float l1[4] = {1, 3, 3, 2};
    CHECK_EQ_INT(whet_sampler_sample(s, l1, NULL, 0), 1);
    whet_sampler_free(s);
    /* repetition penalty: positive logits divided, negative multiplied; each seen id once */
    p.repetition_penalty = 2.0f;
    s = mk(p, 4);
    float l2[4] = {4, -1, 3, 2};
    int32_t hist[3] = {0, 1, 0};
    CHECK_EQ_INT(whet_sampler_sample(s, l2, hist, 3), 2);
    CHECK(l2[0] == 2.0f && l2[1] == -2.0f && l2[2] == 3.0f);
    whet_sampler_free(s);

    /* top-k keeps ties with the k-th value; everything else never drawn */
    p = whet_sampler_defaults();
    p.temperature = 1.0f;
    p.top_k = 2;
    p.seed = 7;
    s = mk(p, 6);
    int hits[6] = {0};
    for (int i = 0; i < 3000; i++) {
        float l[6] = {0.5f, 2, 1, 2, -1, 1};
        hits[whet_sampler_sample(s, l, NULL, 0)]++;
    }
    CHECK(hits[1] > 0 && hits[3] > 0 && hits[0] == 0 && hits[2] == 0 && hits[4] == 0 && hits[5] == 0);
    whet_sampler_free(s);
    p.top_k = 3; /* k-th value 1 is shared by ids 2 and 5: both kept */
    s = mk(p, 6);
    memset(hits, 0, sizeof hits);
    for (int i = 0; i < 3000; i++) {
        float l[6] = {0.5f, 2, 1, 2, -1, 1};
        hits[whet_sampler_sample(s, l, NULL, 0)]++;
    }
    CHECK(hits[2] > 0 && hits[5] > 0 && hits[0] == 0 && hits[4] == 0);
    whet_sampler_free(s);

    /* top-p over probs 0.5, 0.3, 0.2: 0.79 keeps {0,1} (HF drops ascending cumsum <= 0.21), 0.81 keeps all */
    float base[3] = {logf(0.5f), logf(0.3f), logf(0.2f)};
    float tps[2] = {0.79f, 0.81f};
    int want_n[2] = {2, 3};
    for (int k = 0; k < 2; k++) {
        p = whet_sampler_defaults();
        p.temperature = 1.0f;
        p.top_p = tps[k];
        s = mk(p, 3);
        int h[3] = {0};
        for (int i = 0; i < 4000; i++) {
            float l[3] = {base[0], base[1], base[2]};
            h[whet_sampler_sample(s, l, NULL, 0)]++;
        }
        int distinct = (h[0] > 0) + (h[1] > 0) + (h[2] > 0);
        CHECK_MSG(distinct == want_n[k], "top_p %.2f: %d distinct tokens drawn", tps[k], distinct);
        whet_sampler_free(s);
    }
    /* min-p 0.5: 0.3 < 0.5*0.5? no (0.3 >= 0.25) kept; 0.2 < 0.25 dropped */
    p = whet_sampler_defaults();
    p.temperature = 1.0f;
    p.min_p = 0.5f;
    s = mk(p, 3);
    int h[3] = {0};
    for (int i = 0; i < 4000; i++) {
        float l[3] = {base[0], base[1], base[2]};
        h[whet_sampler_sample(s, l, NULL, 0)]++;
    }
    CHECK(h[0] > 0 && h[1] > 0 && h[2] == 0);
    whet_sampler_free(s);
}

/* Draws at temperature T follow softmax(l / T); fixed seed, so deterministic. */
static void test_sampler_distribution(void) {
    whet_sampler_params p = whet_sampler_defaults();
    p.temperature = 0.5f;
    p.seed = 123;
    whet_sampler *s = mk(p, 4);
    const float l0[4] = {0.1f, 0.4f, -0.3f, 0.2f};
    int n = 40000, h[4] = {0};
    for (int i = 0; i < n; i++) {
        float l[4];
        memcpy(l, l0, sizeof l);
        h[whet_sampler_sample(s, l, NULL, 0)]++;
    }
    double z = 0, pr[4];
    for (int i = 0; i < 4; i++) z += exp(l0[i] / 0.5);
    for (int i = 0; i < 4; i++) {
        pr[i] = exp(l0[i] / 0.5) / z;
        /* 5 standard deviations of a binomial proportion */
        double sd = sqrt(pr[i] * (1 - pr[i]) / n);
        CHECK_MSG(fabs((double)h[i] / n - pr[i]) < 5 * sd, "token %d: freq %.4f vs p %.4f", i, (double)h[i] / n, pr[i]);
    }
    whet_sampler_free(s);

    whet_error err = {0};
    whet_sampler *bad = NULL;
    whet_sampler_params q = whet_sampler_defaults();
    q.top_p = 0;
    CHECK_EQ_INT(whet_sampler_create(&q, 4, &bad, &err), WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "top_p") != NULL);
    q = whet_sampler_defaults();
    q.temperature = -1;
    CHECK_EQ_INT(whet_sampler_create(&q, 4, &bad, &err), WHET_ERR_INVALID_ARG);
    CHECK(strstr(err.msg, "temperature") != NULL);
    q = whet_sampler_defaults();
    q.repetition_penalty = 0;
    CHECK_EQ_INT(whet_sampler_create(&q, 4, &bad, &err), WHET_ERR_INVALID_ARG);
    q = whet_sampler_defaults();
    q.top_k = -3;
    CHECK_EQ_INT(whet_sampler_create(&q, 4, &bad, &err), WHET_ERR_INVALID_ARG);
    q = whet_sampler_defaults();
    q.min_p = 2;
    CHECK_EQ_INT(whet_sampler_create(&q, 4, &bad, &err), WHET_ERR_INVALID_ARG);
    CHECK(bad == NULL);
}

int main(void) {
    test_greedy_reference("llama-tiny");
    test_greedy_reference("qwen2-tiny");
    test_greedy_reference("llama3-tiny");
    test_stories();
    test_sampler_rules();
    test_sampler_distribution();
    return TEST_SUMMARY();
}
