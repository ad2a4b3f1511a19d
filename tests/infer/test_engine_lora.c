/* test_engine_lora.c: multi-LoRA serving in the engine (vLLM's idea): one
 * llama-tiny base with PEFT's adapter (tests/fixtures/export/llama-tiny/
 * adapter) loaded unmerged as lora_id 1.
 * - 16 concurrent greedy requests, base and adapter interleaved, sharing a
 *   40-token prefix, run in the same batches and each returns exactly what
 *   it returns alone; adapter requests equal whet_generate on the model with
 *   the adapter merged (lora_apply_infer.h), base ones whet_generate on the
 *   base; the adapter changes the outputs;
 * - prefix caching never hands a base block to an adapter request: a prompt
 *   computed for the base has 0 cached tokens under the adapter; under the
 *   same adapter (or the base) again its full blocks are hits;
 * - a lora_id the engine does not have is refused. */
#include <stdlib.h>
#include <string.h>
#include "core/rng.h"
#include "infer/engine.h"
#include "infer/generate.h"
#include "model/lora_apply_infer.h"
#include "model/lora_infer.h"
#include "test.h"

#define N_REQ 16
#define MAX_NEW 24
#define SHARED 40

typedef struct {
    int32_t out[MAX_NEW];
    int n, n_cached;
    whet_finish_reason finish;
} collector;

static bool collect(void *ctx, const whet_token_event *ev) {
    collector *c = ctx;
    if (ev->id >= 0 && c->n < MAX_NEW) c->out[c->n++] = ev->id;
    c->n_cached = ev->n_cached_prompt;
    if (ev->finish != WHET_FINISH_NONE) c->finish = ev->finish;
    return true;
}

static int32_t prompts[N_REQ][SHARED + 32];
static int n_prompt[N_REQ], max_new[N_REQ];

static void make_prompts(int V) {
    whet_rng r;
    whet_rng_seed(&r, 7);
    int32_t common[SHARED];
    for (int i = 0; i < SHARED; i++) common[i] = 3 + (int32_t)whet_rng_below(&r, (uint64_t)V - 3);
    for (int q = 0; q < N_REQ; q++) {
        int len = 1 + SHARED + (q * 5 + 2) % 23;
        prompts[q][0] = 1;
        for (int i = 1; i < len; i++)
            prompts[q][i] = i - 1 < SHARED ? common[i - 1] : 3 + (int32_t)whet_rng_below(&r, (uint64_t)V - 3);
        n_prompt[q] = len;
        max_new[q] = 8 + (q * 3) % (MAX_NEW - 8);
    }
}

static whet_request_params req(int q, int lora_id, collector *c) {
    whet_request_params p = {.prompt = prompts[q], .n_prompt = n_prompt[q], .sampling = whet_sampler_defaults(),
                             .max_tokens = max_new[q], .logprobs = -1, .lora_id = lora_id, .on_event = collect,
                             .ctx = c};
    return p;
}

int main(void) {
    whet_error err = {0};
    char base[4096], adapter[4096];
    snprintf(base, sizeof base, "%s/models/llama-tiny", WHET_FIXTURES);
    snprintf(adapter, sizeof adapter, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    whet_model_load_opts lo = {.n_threads = 1};
    whet_model *m = NULL, *merged = NULL;
    whet_lora_merged *mh = NULL;
    whet_lora_set *set = NULL;
    CHECK_OK(whet_model_load(base, &lo, &m, &err), &err);
    CHECK_OK(whet_model_load(base, &lo, &merged, &err), &err);
    if (!m || !merged) return TEST_SUMMARY();
    CHECK_OK(whet_model_apply_lora(merged, adapter, &mh, &err), &err);
    CHECK_OK(whet_lora_set_create(m, &set, &err), &err);
    CHECK_OK(whet_lora_set_add(set, adapter, NULL, &err), &err);
    make_prompts(m->cfg.vocab_size);

    /* references: generate alone on the base / merged model */
    int32_t want[N_REQ][MAX_NEW];
    int n_want[N_REQ];
    int differ = 0;
    for (int q = 0; q < N_REQ; q++) {
        whet_generate_opts o = {.max_new_tokens = max_new[q], .sampling = whet_sampler_defaults(), .block_size = 16};
        CHECK_OK(whet_generate(q % 2 ? merged : m, prompts[q], n_prompt[q], &o, want[q], &n_want[q], NULL, &err),
                 &err);
        if (q % 2) {  /* does the adapter change this request's output? */
            int32_t b[MAX_NEW];
            int nb = 0;
            CHECK_OK(whet_generate(m, prompts[q], n_prompt[q], &o, b, &nb, NULL, &err), &err);
            differ += nb != n_want[q] || memcmp(b, want[q], (size_t)nb * sizeof *b) != 0;
        }
    }
    printf("adapter changes the greedy output of %d/%d adapter requests\n", differ, N_REQ / 2);
    CHECK_MSG(differ >= N_REQ / 4, "the adapter changes only %d/%d outputs: the test proves little", differ, N_REQ / 2);

    /* each request alone in a fresh engine */
    whet_engine_opts eo = {.max_num_seqs = N_REQ, .max_num_batched_tokens = 256, .lora = set};
    int32_t alone[N_REQ][MAX_NEW];
    int n_alone[N_REQ];
    for (int q = 0; q < N_REQ; q++) {
        whet_engine *e = NULL;
        CHECK_OK(whet_engine_create(m, &eo, &e, &err), &err);
        if (!e) break;
        collector c = {0};
        whet_request_params p = req(q, q % 2, &c);
        CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
        CHECK_OK(whet_engine_run_until_idle(e, &err), &err);
        memcpy(alone[q], c.out, sizeof c.out);
        n_alone[q] = c.n;
        whet_engine_free(e);
    }

    /* all at once, base and adapter interleaved */
    whet_engine *e = NULL;
    CHECK_OK(whet_engine_create(m, &eo, &e, &err), &err);
    if (!e) return TEST_SUMMARY();
    collector c[N_REQ] = {0};
    for (int q = 0; q < N_REQ; q++) {
        whet_request_params p = req(q, q % 2, &c[q]);
        CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    }
    CHECK_OK(whet_engine_run_until_idle(e, &err), &err);
    int same_alone = 0, same_ref = 0;
    for (int q = 0; q < N_REQ; q++) {
        bool a = c[q].n == n_alone[q] && memcmp(c[q].out, alone[q], (size_t)c[q].n * sizeof(int32_t)) == 0;
        bool r = c[q].n == n_want[q] && memcmp(c[q].out, want[q], (size_t)c[q].n * sizeof(int32_t)) == 0;
        CHECK_MSG(a, "request %d (lora_id %d) in the mixed batch differs from alone", q, q % 2);
        CHECK_MSG(r, "request %d (lora_id %d) differs from generate on the %s model", q, q % 2,
                  q % 2 ? "merged" : "base");
        same_alone += a, same_ref += r;
    }
    whet_engine_stats st = whet_engine_get_stats(e);
    printf("mixed batch: %d/%d equal to alone, %d/%d equal to generate (merged for the adapter); max batch %d seqs, "
           "prefix-cache hit tokens %llu\n", same_alone, N_REQ, same_ref, N_REQ, st.max_running_seen,
           (unsigned long long)st.prefix_cache_hit_tokens);
    CHECK(st.max_running_seen >= 4);
    char why[256] = "";
    CHECK_MSG(whet_engine_check_blocks(e, why, sizeof why), "%s", why);

    /* prefix cache and adapters, on a prompt none of the above shares: computed for the base first */
    for (int i = 1; i < n_prompt[0]; i++) prompts[0][i] = 3 + (prompts[0][i] * 7 + i) % (m->cfg.vocab_size - 3);
    collector w = {0}, x = {0}, y = {0}, z = {0};
    whet_request_params p = req(0, 0, &w);
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    CHECK_OK(whet_engine_run_until_idle(e, &err), &err);
    CHECK_EQ_INT(w.n_cached, 0);
    p = req(0, 1, &x);                      /* the same prompt under the adapter: nothing cached for it */
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    CHECK_OK(whet_engine_run_until_idle(e, &err), &err);
    int full = (n_prompt[0] - 1) / 16 * 16;
    CHECK_MSG(x.n_cached == 0, "the adapter request reused %d tokens computed for the base", x.n_cached);
    p = req(0, 1, &y);                      /* again under the adapter: its own blocks are hits */
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    p = req(0, 0, &z);                      /* and under the base: the base blocks */
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    CHECK_OK(whet_engine_run_until_idle(e, &err), &err);
    CHECK_EQ_INT(y.n_cached, full);
    CHECK_EQ_INT(z.n_cached, full);
    CHECK(x.n == y.n && memcmp(x.out, y.out, (size_t)x.n * sizeof(int32_t)) == 0);
    CHECK(w.n == z.n && memcmp(w.out, z.out, (size_t)w.n * sizeof(int32_t)) == 0);
    CHECK(x.n != w.n || memcmp(x.out, w.out, (size_t)x.n * sizeof(int32_t)) != 0);
    printf("prefix cache: a base-computed prompt under the adapter: %d cached tokens; again under the adapter %d, "
           "under the base %d (of %d)\n", x.n_cached, y.n_cached, z.n_cached, n_prompt[0]);

    /* an unknown adapter id */
    p = req(0, 2, &x);
    CHECK(whet_engine_submit(e, &p, NULL, &err) == WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "lora_id 2") != NULL, "message: %s", err.msg);
    whet_engine_free(e);
    whet_lora_set_free(set);
    whet_model_free(merged);
    whet_lora_merged_free(mh);
    whet_model_free(m);
    return TEST_SUMMARY();
}
