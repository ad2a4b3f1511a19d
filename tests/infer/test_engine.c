/* test_engine.c: the continuously batched engine against single-sequence
 * whet_generate (itself checked against transformers' greedy output in
 * test_generate.c): 64 concurrent prompts of different lengths in one
 * batch, with chunked prefill, with a KV pool too small for all of them
 * (preemption), a burst sharing a system prompt (computed once, prefix-cache
 * hits for all the others), seeded sampling, stop ids,
 * cancellation, callback stops and logprobs; after every scenario the block
 * accounting is consistent and every block is back in the pool. The tiny
 * models' 64-wide rows are too narrow for a batch-dependent GEMM to show,
 * so a random model with 1024-wide rows (f32 and bf16) runs the
 * all-at-once and chunked-prefill scenarios too: with OpenBLAS's sgemm
 * (WHET_CPU_ISA=scalar) its batched outputs differ from alone; with the
 * batch-invariant float GEMM (ops/float_gemm.h) they must not. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/rng.h"
#include "model/init_random.h"
#include "ops/float_gemm.h"
#include "infer/engine.h"
#include "infer/generate.h"
#include "test.h"

#define MAX_REQ 64
#define MAX_NEW 40

typedef struct {
    int32_t out[MAX_NEW];
    float logprob[MAX_NEW];
    int n, n_final_events, n_events_after_final;
    whet_finish_reason finish;
    int stop_after;         /* > 0: return false after this many tokens */
    int n_cached_prompt;
    float top_lp[WHET_MAX_TOP_LOGPROBS];
    int32_t top_id[WHET_MAX_TOP_LOGPROBS];
    int n_top;
} collector;

static bool collect(void *ctx, const whet_token_event *ev) {
    collector *c = ctx;
    if (c->n_final_events) c->n_events_after_final++;
    if (ev->id >= 0 && c->n < MAX_NEW) {
        c->logprob[c->n] = ev->logprob;
        if (c->n == 0) {
            c->n_top = ev->n_top;
            memcpy(c->top_lp, ev->top_logprobs, sizeof c->top_lp);
            memcpy(c->top_id, ev->top_ids, sizeof c->top_id);
        }
        c->out[c->n++] = ev->id;
    }
    c->n_cached_prompt = ev->n_cached_prompt;
    if (ev->finish != WHET_FINISH_NONE) {
        c->finish = ev->finish;
        c->n_final_events++;
    }
    return !(c->stop_after > 0 && c->n >= c->stop_after);
}

typedef struct {
    int32_t prompt[MAX_REQ][200];
    int n_prompt[MAX_REQ], max_new[MAX_REQ];
    whet_sampler_params sp[MAX_REQ];
    int32_t want[MAX_REQ][MAX_NEW];
    float got_logprob[MAX_REQ][MAX_NEW];   /* the engine run's per-token logprobs (when want_logprobs) */
    bool want_logprobs;
    int n_want[MAX_REQ];
    int n;
} workload;

/* prompts: BOS, then `shared` common ids, then a per-request tail of mixed length */
static void make_workload(workload *w, const whet_model *m, int n, int shared, uint64_t seed) {
    whet_rng r;
    whet_rng_seed(&r, seed);
    int32_t common[160];
    for (int i = 0; i < shared; i++) common[i] = 3 + (int32_t)whet_rng_below(&r, (uint64_t)m->cfg.vocab_size - 3);
    w->n = n;
    w->want_logprobs = false;
    for (int q = 0; q < n; q++) {
        int len = 1 + shared + (int)((q * 7 + 3) % 29);
        w->prompt[q][0] = 1;
        for (int i = 1; i < len; i++)
            w->prompt[q][i] = i - 1 < shared ? common[i - 1]
                                             : 3 + (int32_t)whet_rng_below(&r, (uint64_t)m->cfg.vocab_size - 3);
        w->n_prompt[q] = len;
        w->max_new[q] = 4 + (q * 5) % (MAX_NEW - 4);
        w->sp[q] = whet_sampler_defaults();
    }
}

static void reference_outputs(whet_model *m, workload *w) {
    whet_error err = {0};
    for (int q = 0; q < w->n; q++) {
        whet_generate_opts o = {.max_new_tokens = w->max_new[q], .sampling = w->sp[q], .block_size = 16};
        CHECK_OK(whet_generate(m, w->prompt[q], w->n_prompt[q], &o, w->want[q], &w->n_want[q], NULL, &err), &err);
    }
}

/* Submit all of w at once, step to idle, compare with the references. */
static whet_engine_stats run_engine(whet_model *m, const whet_engine_opts *eo, workload *w, const char *what) {
    whet_error err = {0};
    whet_engine *e = NULL;
    whet_engine_stats st = {0};
    CHECK_OK(whet_engine_create(m, eo, &e, &err), &err);
    if (!e) return st;
    collector c[MAX_REQ] = {0};
    for (int q = 0; q < w->n; q++) {
        whet_request_params p = {.prompt = w->prompt[q], .n_prompt = w->n_prompt[q], .sampling = w->sp[q],
                                 .max_tokens = w->max_new[q], .logprobs = w->want_logprobs ? 0 : -1, .on_event = collect,
                                 .ctx = &c[q]};
        CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    }
    CHECK_OK(whet_engine_run_until_idle(e, &err), &err);
    int equal = 0;
    for (int q = 0; q < w->n; q++) {
        bool same = c[q].n == w->n_want[q] && memcmp(c[q].out, w->want[q], (size_t)c[q].n * sizeof(int32_t)) == 0;
        CHECK_MSG(same, "%s: request %d (prompt %d, max %d) differs from generate alone", what, q, w->n_prompt[q],
                  w->max_new[q]);
        CHECK_EQ_INT(c[q].n_final_events, 1);
        CHECK_EQ_INT(c[q].n_events_after_final, 0);
        CHECK(c[q].finish == WHET_FINISH_LENGTH);
        equal += same;
        memcpy(w->got_logprob[q], c[q].logprob, sizeof c[q].logprob);
    }
    char why[256] = "";
    CHECK_MSG(whet_engine_check_blocks(e, why, sizeof why), "%s: %s", what, why);
    st = whet_engine_get_stats(e);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK_EQ_INT(st.kv_blocks_free, st.kv_blocks_total);
    CHECK_EQ_INT(st.running + st.waiting, 0);
    CHECK_EQ_INT(st.requests_finished, (uint64_t)w->n);
    printf("%-40s %2d/%2d equal to generate alone; steps %llu, max batch %d seqs, preemptions %llu, "
           "prefix-cache hit tokens %llu\n", what, equal, w->n, (unsigned long long)st.steps, st.max_running_seen,
           (unsigned long long)st.preemptions, (unsigned long long)st.prefix_cache_hit_tokens);
    whet_engine_free(e);
    return st;
}

/* n > 1 samples of one prompt: 6 requests with the same 37-token prompt,
 * block size 8. The first computes it; each other one shares its blocks for
 * positions 0..35 (the prefix cache alone would give only the 4 full blocks,
 * 32 tokens) and computes its last prompt token itself, into a copy of the
 * shared partial block (copy-on-write). Outputs equal generate alone. */
static void test_fork(whet_model *m, const char *name) {
    static workload w;
    make_workload(&w, m, 6, 0, 23);   /* for max_new and the sampler; the prompts are replaced */
    for (int q = 0; q < w.n; q++) {
        w.n_prompt[q] = 37;
        for (int i = 0; i < 37; i++) w.prompt[q][i] = i == 0 ? 1 : 3 + (i * 31) % (m->cfg.vocab_size - 3);
    }
    reference_outputs(m, &w);
    char what[96];
    snprintf(what, sizeof what, "%s n=6 of one prompt", name);
    whet_engine_opts eo = {.max_num_seqs = 8, .max_num_batched_tokens = 256, .block_size = 8, .n_blocks = 200};
    whet_engine_stats st = run_engine(m, &eo, &w, what);
    CHECK_MSG(st.prefix_cache_hit_tokens == 5 * 36, "%s: %llu prompt tokens shared, want 5 x 36", what,
              (unsigned long long)st.prefix_cache_hit_tokens);
    CHECK_MSG(st.kv_cow_copies >= 5, "%s: %llu copy-on-write block copies, want >= 5", what,
              (unsigned long long)st.kv_cow_copies);
}

static void test_batched_equals_alone(whet_model *m, const char *name) {
    static workload w;
    make_workload(&w, m, MAX_REQ, 0, 7);
    reference_outputs(m, &w);
    char what[96];
    snprintf(what, sizeof what, "%s 64 at once", name);
    whet_engine_opts eo = {.max_num_seqs = 64, .max_num_batched_tokens = 4096, .block_size = 4, .n_blocks = 2000};
    whet_engine_stats st = run_engine(m, &eo, &w, what);
    CHECK(st.max_running_seen == 64);
    /* the same 64 with a pool too small for all of them at once: preemption, same outputs */
    snprintf(what, sizeof what, "%s 64, small pool", name);
    eo = (whet_engine_opts){.max_num_seqs = 64, .max_num_batched_tokens = 256, .block_size = 4, .n_blocks = 24};
    st = run_engine(m, &eo, &w, what);
    CHECK_MSG(st.preemptions > 0, "%s: expected preemptions", what);
    make_workload(&w, m, 24, 0, 7);
    reference_outputs(m, &w);
    snprintf(what, sizeof what, "%s chunked prefill", name);
    eo = (whet_engine_opts){.max_num_seqs = 16, .max_num_batched_tokens = 64, .block_size = 4, .n_blocks = 400};
    st = run_engine(m, &eo, &w, what);
    CHECK(st.max_running_seen > 8);

    /* a pool too small for all of them at once: preemption, same outputs */
    snprintf(what, sizeof what, "%s small pool", name);
    eo.n_blocks = 20;  /* 80 tokens; the longest request needs 29 + 39 */
    st = run_engine(m, &eo, &w, what);
    CHECK_MSG(st.preemptions > 0, "%s: expected preemptions", what);

    /* a shared 48-token prefix (a system prompt), all 32 arriving at once:
     * one computes it, the 31 others take its 6 blocks from the prefix cache */
    make_workload(&w, m, 32, 48, 11);
    reference_outputs(m, &w);
    snprintf(what, sizeof what, "%s shared prefix, burst", name);
    eo = (whet_engine_opts){.max_num_seqs = 32, .max_num_batched_tokens = 2048, .block_size = 8, .n_blocks = 400};
    st = run_engine(m, &eo, &w, what);
    /* at least the 48 shared tokens for each of the 31; a request whose prompt but its last token is all of
     * another one's (the 1-token tail after the 48) forks it for one token more (see test_fork) */
    CHECK_MSG(st.prefix_cache_hit_tokens >= 31 * 48 && st.prefix_cache_hit_tokens <= 31 * 48 + 31,
              "%s: %llu prefix-cache hit tokens", what, (unsigned long long)st.prefix_cache_hit_tokens);
    eo.no_prefix_caching = true;
    snprintf(what, sizeof what, "%s shared prefix, no caching", name);
    st = run_engine(m, &eo, &w, what);
    CHECK_EQ_INT(st.prefix_cache_hit_tokens, 0);

    test_fork(m, name);

    /* seeded sampling is per request and survives batching and preemption */
    make_workload(&w, m, 10, 0, 13);
    for (int q = 0; q < w.n; q++) {
        w.sp[q].temperature = 1.0f;
        w.sp[q].top_p = 0.9f;
        w.sp[q].top_k = q % 3 == 0 ? 20 : 0;
        w.sp[q].seed = 100 + (uint64_t)q;
    }
    reference_outputs(m, &w);
    snprintf(what, sizeof what, "%s seeded sampling, small pool", name);
    eo = (whet_engine_opts){.max_num_seqs = 8, .max_num_batched_tokens = 32, .block_size = 4, .n_blocks = 20};
    run_engine(m, &eo, &w, what);
}

static void test_stops_cancel_logprobs(whet_model *m) {
    whet_error err = {0};
    whet_engine *e = NULL;
    whet_engine_opts eo = {.max_num_seqs = 4, .max_num_batched_tokens = 64, .block_size = 4, .n_blocks = 64};
    CHECK_OK(whet_engine_create(m, &eo, &e, &err), &err);
    if (!e) return;
    int32_t prompt[5] = {1, 40, 41, 42, 43}, ref[20];
    int n_ref = 0;
    whet_generate_opts go = {.max_new_tokens = 20, .sampling = whet_sampler_defaults()};
    CHECK_OK(whet_generate(m, prompt, 5, &go, ref, &n_ref, NULL, &err), &err);

    collector stop = {0}, cancel = {0}, cb = {0}, lp = {0};
    int32_t stop_id = ref[4];
    int first = 0;
    while (ref[first] != stop_id) first++;
    whet_request_params p = {.prompt = prompt, .n_prompt = 5, .sampling = whet_sampler_defaults(), .max_tokens = 20,
                             .stop_ids = &stop_id, .n_stop_ids = 1, .logprobs = -1, .on_event = collect, .ctx = &stop};
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    p.n_stop_ids = 0;
    p.ctx = &cancel;
    uint64_t cancel_id = 0;
    CHECK_OK(whet_engine_submit(e, &p, &cancel_id, &err), &err);
    cb.stop_after = 3;
    p.ctx = &cb;
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    p.ctx = &lp;
    p.logprobs = 5;
    CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    for (int i = 0; i < 3; i++) CHECK_OK(whet_engine_step(e, NULL, &err), &err);
    whet_engine_cancel(e, cancel_id);
    CHECK_OK(whet_engine_run_until_idle(e, &err), &err);

    CHECK(stop.finish == WHET_FINISH_STOP && stop.n == first + 1 && stop.out[stop.n - 1] == stop_id);
    CHECK(cancel.finish == WHET_FINISH_ABORT && cancel.n_final_events == 1 && cancel.n < 20);
    CHECK(cb.n == 3 && cb.n_final_events == 0 && memcmp(cb.out, ref, 3 * sizeof(int32_t)) == 0);
    CHECK(lp.n == 20 && memcmp(lp.out, ref, 20 * sizeof(int32_t)) == 0);
    /* greedy: the chosen token is the top-1, logprobs descend, their mass is at most 1 */
    CHECK(lp.n_top == 5 && lp.top_id[0] == ref[0]);
    CHECK_NEAR(lp.logprob[0], lp.top_lp[0], 0, 0);
    double mass = 0;
    for (int k = 0; k < lp.n_top; k++) {
        mass += exp(lp.top_lp[k]);
        if (k) CHECK(lp.top_lp[k] <= lp.top_lp[k - 1]);
    }
    CHECK(mass <= 1.0 + 1e-6 && lp.logprob[0] <= 0);
    char why[256] = "";
    CHECK_MSG(whet_engine_check_blocks(e, why, sizeof why), "%s", why);
    whet_engine_stats st = whet_engine_get_stats(e);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK_EQ_INT(st.requests_aborted, 1);

    /* refusals name the problem */
    int32_t bad[2] = {1, 1 << 20};
    p.prompt = bad;
    p.n_prompt = 2;
    CHECK(whet_engine_submit(e, &p, NULL, &err) == WHET_ERR_INVALID_ARG && strstr(err.msg, "vocabulary"));
    p.n_prompt = 0;
    CHECK(whet_engine_submit(e, &p, NULL, &err) == WHET_ERR_INVALID_ARG && strstr(err.msg, "empty"));
    static int32_t longp[300];  /* the pool of 64 x 4 slots caps max_model_len at 256 */
    for (int i = 0; i < 300; i++) longp[i] = 1;
    p.prompt = longp;
    p.n_prompt = 300;
    CHECK(whet_engine_submit(e, &p, NULL, &err) == WHET_ERR_INVALID_ARG && strstr(err.msg, "context length"));
    p.prompt = prompt;
    p.n_prompt = 5;
    p.sampling.top_p = 2;
    CHECK(whet_engine_submit(e, &p, NULL, &err) == WHET_ERR_INVALID_ARG && strstr(err.msg, "top_p"));
    whet_engine_free(e);
}

/* The engine thread: requests from this thread, events on the engine's. */
static void test_thread(whet_model *m) {
    whet_error err = {0};
    whet_engine *e = NULL;
    CHECK_OK(whet_engine_create(m, NULL, &e, &err), &err);
    if (!e) return;
    CHECK_OK(whet_engine_start(e, &err), &err);
    collector c[4] = {0};
    int32_t prompt[3] = {1, 50, 60};
    for (int q = 0; q < 4; q++) {
        whet_request_params p = {.prompt = prompt, .n_prompt = 3, .sampling = whet_sampler_defaults(),
                                 .max_tokens = 8 + q, .logprobs = -1, .on_event = collect, .ctx = &c[q]};
        CHECK_OK(whet_engine_submit(e, &p, NULL, &err), &err);
    }
    for (int spin = 0; spin < 2000; spin++) {
        whet_engine_stats st = whet_engine_get_stats(e);
        if (st.requests_finished == 4) break;
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
    }
    whet_engine_stop(e);
    for (int q = 0; q < 4; q++) CHECK(c[q].n == 8 + q && c[q].finish == WHET_FINISH_LENGTH);
    CHECK(memcmp(c[0].out, c[3].out, 8 * sizeof(int32_t)) == 0);
    whet_engine_free(e);
}

/* 24 mixed requests all at once and with chunked prefill (decode rows share
 * forwards with other prompts' prefill chunks). */
static void test_wide_batches(whet_model *m, const char *name) {
    static workload w;
    static float alone[MAX_REQ][MAX_NEW];
    make_workload(&w, m, 24, 0, 17);
    w.want_logprobs = true;
    reference_outputs(m, &w);
    char what[96];
    /* one sequence at a time: each token's logprob as it comes out alone */
    snprintf(what, sizeof what, "%s one at a time", name);
    whet_engine_opts eo = {.max_num_seqs = 1, .max_num_batched_tokens = 2048, .block_size = 4, .n_blocks = 800};
    run_engine(m, &eo, &w, what);
    memcpy(alone, w.got_logprob, sizeof alone);
    CHECK_MSG(alone[0][0] < 0 && alone[5][3] < 0, "%s: no logprobs came back (%g, %g)", name, alone[0][0], alone[5][3]);
    const whet_engine_opts batched[2] = {
        {.max_num_seqs = 24, .max_num_batched_tokens = 2048, .block_size = 4, .n_blocks = 800},
        {.max_num_seqs = 16, .max_num_batched_tokens = 40, .block_size = 4, .n_blocks = 800}};
    const char *labels[2] = {"24 at once", "chunked prefill"};
    for (int k = 0; k < 2; k++) {
        snprintf(what, sizeof what, "%s %s", name, labels[k]);
        run_engine(m, &batched[k], &w, what);
        int differ = 0;
        for (int q = 0; q < w.n; q++) differ += memcmp(alone[q], w.got_logprob[q], (size_t)w.n_want[q] * 4) != 0;
        if (whet_float_gemm_kernel(whet_cpu_isa()))
            CHECK_MSG(differ == 0, "%s: %d of %d requests' logprobs differ from the one-at-a-time run", what, differ, w.n);
        else
            printf("%s: %d of %d requests' logprobs differ (BLAS path, not batch-invariant: not asserted)\n", what,
                   differ, w.n);
    }
}

static void test_wide_model(void) {
    char dir[128], cfg[200], model_dir[200];
    snprintf(dir, sizeof dir, "/tmp/whet_test_engine_wide_%d", (int)getpid());
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    snprintf(model_dir, sizeof model_dir, "%s/model", dir);
    mkdir(dir, 0700);
    FILE *f = fopen(cfg, "w");
    CHECK(f != NULL);
    if (!f) return;
    fputs("{\"architectures\":[\"Qwen2ForCausalLM\"],\"model_type\":\"qwen2\",\"hidden_size\":1024,"
          "\"intermediate_size\":1024,\"num_hidden_layers\":2,\"num_attention_heads\":8,\"num_key_value_heads\":2,"
          "\"vocab_size\":384,\"max_position_embeddings\":512,\"rms_norm_eps\":1e-06,\"rope_theta\":10000.0,"
          "\"tie_word_embeddings\":false,\"torch_dtype\":\"bfloat16\",\"bos_token_id\":1,\"eos_token_id\":2,"
          "\"hidden_act\":\"silu\"}", f);
    fclose(f);
    whet_error err = {0};
    const whet_init_random_opts io = {.seed = 5, .dtype = WHET_DT_BF16, .init_std = 0.05};
    CHECK_OK(whet_model_init_random(cfg, model_dir, &io, &err), &err);
    for (int keep = 0; keep < 2; keep++) {
        whet_model *m = NULL;
        whet_model_load_opts lo = {.n_threads = 2, .keep_dtype = keep};
        CHECK_OK(whet_model_load(model_dir, &lo, &m, &err), &err);
        if (!m) continue;
        test_wide_batches(m, keep ? "wide-1024 bf16" : "wide-1024 f32");
        whet_model_free(m);
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

int main(void) {
    whet_error err = {0};
    const char *dirs[] = {WHET_SOURCE_DIR "/models/stories260K-hf", WHET_FIXTURES "/models/llama-tiny",
                          WHET_FIXTURES "/models/qwen2-tiny"};
    const char *names[] = {"stories260K", "llama-tiny", "qwen2-tiny"};
    for (int i = 0; i < 3; i++) {
        whet_model *m = NULL;
        whet_model_load_opts lo = {.n_threads = 1};
        CHECK_OK(whet_model_load(dirs[i], &lo, &m, &err), &err);
        if (!m) continue;
        test_batched_equals_alone(m, names[i]);
        if (i == 0) {
            test_stops_cancel_logprobs(m);
            test_thread(m);
        }
        whet_model_free(m);
    }
    test_wide_model();
    return TEST_SUMMARY();
}
