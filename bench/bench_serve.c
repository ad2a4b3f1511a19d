/* bench_serve.c: serving throughput on the CPU: N requests (random prompt
 * ids of --prompt tokens, --gen new tokens each, greedy, no eos stop) run
 * (a) one after another with single-sequence whet_generate, and (b) all at
 * once through the continuously batched engine (one forward per step for
 * every running sequence). Prints output tokens/s of both, the speed-up,
 * the engine's mean TTFT and per-token latency, steps and preemptions, and
 * checks that the batched outputs equal the sequential ones.
 *
 *   bench_serve [--model DIR] [--requests 32] [--prompt 64] [--gen 64] [--max_num_seqs 32]
 *               [--kv_blocks 0] [--threads 2] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/rng.h"
#include "infer/engine.h"
#include "infer/generate.h"

typedef struct {
    const char *model;
    int requests, prompt, gen, max_num_seqs, kv_blocks, threads;
} bench_args;

typedef struct {
    int32_t *out;
    int n;
    double t_first, t_last;
} bench_req;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static bool on_token(void *ctx, const whet_token_event *ev) {
    bench_req *r = ctx;
    if (ev->id >= 0) {
        r->out[r->n++] = ev->id;
        double t = now();
        if (r->n == 1) r->t_first = t;
        r->t_last = t;
    }
    return true;
}

static int parse(int argc, char **argv, bench_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) return fprintf(stderr, "bench_serve: %s needs a value\n", k), 2;
        if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--requests")) a->requests = atoi(v);
        else if (!strcmp(k, "--prompt")) a->prompt = atoi(v);
        else if (!strcmp(k, "--gen")) a->gen = atoi(v);
        else if (!strcmp(k, "--max_num_seqs")) a->max_num_seqs = atoi(v);
        else if (!strcmp(k, "--kv_blocks")) a->kv_blocks = atoi(v);
        else if (!strcmp(k, "--threads")) a->threads = atoi(v);
        else return fprintf(stderr, "bench_serve: unknown flag %s\n", k), 2;
        i++;
    }
    if (a->requests <= 0 || a->prompt <= 0 || a->gen <= 0)
        return fprintf(stderr, "bench_serve: --requests, --prompt and --gen must be positive\n"), 2;
    return 0;
}

int main(int argc, char **argv) {
    bench_args a = {.model = WHET_SOURCE_DIR "/models/stories260K-hf", .requests = 32, .prompt = 64, .gen = 64,
                    .max_num_seqs = 32, .threads = 2};
    if (parse(argc, argv, &a)) return 2;
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.n_threads = a.threads};
    if (whet_model_load(a.model, &lo, &m, &err) != WHET_OK) return fprintf(stderr, "bench_serve: %s\n", err.msg), 1;
    int N = a.requests, V = m->cfg.vocab_size;
    int32_t *prompts = malloc((size_t)N * a.prompt * sizeof *prompts);
    int32_t *seq_out = malloc((size_t)N * a.gen * sizeof *seq_out), *bat_out = malloc((size_t)N * a.gen * sizeof *bat_out);
    bench_req *reqs = calloc((size_t)N, sizeof *reqs);
    whet_rng rng;
    whet_rng_seed(&rng, 42);
    for (int i = 0; i < N * a.prompt; i++) prompts[i] = (int32_t)whet_rng_below(&rng, (uint64_t)V);

    /* (a) sequential */
    whet_generate_opts go = {.max_new_tokens = a.gen, .sampling = whet_sampler_defaults()};
    double t0 = now();
    long seq_tokens = 0;
    for (int i = 0; i < N; i++) {
        int n = 0;
        if (whet_generate(m, prompts + (size_t)i * a.prompt, a.prompt, &go, seq_out + (size_t)i * a.gen, &n, NULL,
                          &err) != WHET_OK)
            return fprintf(stderr, "bench_serve: %s\n", err.msg), 1;
        seq_tokens += n;
    }
    double t_seq = now() - t0;

    /* (b) continuous batching */
    whet_engine_opts eo = {.max_num_seqs = a.max_num_seqs, .max_num_batched_tokens = 2048, .n_blocks = a.kv_blocks,
                           .max_model_len = a.prompt + a.gen};
    if (eo.max_num_batched_tokens < eo.max_num_seqs) eo.max_num_batched_tokens = eo.max_num_seqs;
    whet_engine *e = NULL;
    if (whet_engine_create(m, &eo, &e, &err) != WHET_OK) return fprintf(stderr, "bench_serve: %s\n", err.msg), 1;
    double t1 = now();
    for (int i = 0; i < N; i++) {
        reqs[i].out = bat_out + (size_t)i * a.gen;
        whet_request_params p = {.prompt = prompts + (size_t)i * a.prompt, .n_prompt = a.prompt,
                                 .sampling = whet_sampler_defaults(), .max_tokens = a.gen, .logprobs = -1,
                                 .on_event = on_token, .ctx = &reqs[i]};
        if (whet_engine_submit(e, &p, NULL, &err) != WHET_OK) return fprintf(stderr, "bench_serve: %s\n", err.msg), 1;
    }
    if (whet_engine_run_until_idle(e, &err) != WHET_OK) return fprintf(stderr, "bench_serve: %s\n", err.msg), 1;
    double t_bat = now() - t1;
    whet_engine_stats st = whet_engine_get_stats(e);
    long bat_tokens = 0, same = 0;
    double ttft = 0, tpot = 0;
    for (int i = 0; i < N; i++) {
        bat_tokens += reqs[i].n;
        same += memcmp(reqs[i].out, seq_out + (size_t)i * a.gen, (size_t)a.gen * sizeof(int32_t)) == 0;
        ttft += reqs[i].t_first - t1;
        if (reqs[i].n > 1) tpot += (reqs[i].t_last - reqs[i].t_first) / (reqs[i].n - 1);
    }
    printf("model %s: %d requests x (%d prompt + %d new tokens), %d threads\n", a.model, N, a.prompt, a.gen, a.threads);
    printf("| mode                      | output tok/s | wall s | mean TTFT ms | mean TPOT ms |\n");
    printf("|---------------------------|-------------:|-------:|-------------:|-------------:|\n");
    printf("| sequential (generate)     | %12.1f | %6.2f |            - |            - |\n", seq_tokens / t_seq, t_seq);
    printf("| continuous batching (%3d) | %12.1f | %6.2f | %12.2f | %12.3f |\n", a.max_num_seqs, bat_tokens / t_bat,
           t_bat, 1e3 * ttft / N, 1e3 * tpot / N);
    printf("speed-up %.2fx; %llu steps, largest batch %d, %llu preemptions; batched == sequential for %ld/%d\n",
           (bat_tokens / t_bat) / (seq_tokens / t_seq), (unsigned long long)st.steps, st.max_running_seen,
           (unsigned long long)st.preemptions, same, N);
    whet_engine_free(e);
    whet_model_free(m);
    free(prompts);
    free(seq_out);
    free(bat_out);
    free(reqs);
    return same == N ? 0 : 1;
}
