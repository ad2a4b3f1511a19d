/* bench_forward.c: CPU inference speed, batch 1: prefill tokens/s (one
 * forward over the prompt) and decode tokens/s (one token per step through
 * the paged KV cache), best of --repeat runs, printed as a table and written
 * as JSON. Models: a Hugging Face folder (default: the bundled
 * stories260K-hf), or --shape qwen2.5-0.5b, which writes a random-weight
 * bf16 folder of Qwen2.5-0.5B's exact shape to a temp dir first
 * (whet_model_init_random, as `whet init-model`) (the weights
 * do not change the speed; keep_dtype widens bf16 per tile, --f32 widens at
 * load instead).
 *
 *   bench_forward [--model DIR | --shape qwen2.5-0.5b] [--threads 2] [--prompt 128] [--decode 32]
 *                 [--repeat 3] [--f32] [--json out.json] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "infer/generate.h"
#include "bench_qwen05b.h"
#include "model/init_random.h"

typedef struct {
    const char *model, *shape, *json;
    int threads, prompt, decode, repeat;
    bool f32;
} bench_args;

static int parse(int argc, char **argv, bench_args *a) {
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(k, "--f32")) { a->f32 = true; continue; }
        if (!v) return fprintf(stderr, "bench_forward: %s needs a value\n", k), 1;
        i++;
        if (!strcmp(k, "--model")) a->model = v;
        else if (!strcmp(k, "--shape")) a->shape = v;
        else if (!strcmp(k, "--json")) a->json = v;
        else if (!strcmp(k, "--threads")) a->threads = atoi(v);
        else if (!strcmp(k, "--prompt")) a->prompt = atoi(v);
        else if (!strcmp(k, "--decode")) a->decode = atoi(v);
        else if (!strcmp(k, "--repeat")) a->repeat = atoi(v);
        else return fprintf(stderr, "bench_forward: unknown flag %s (see the header of bench/bench_forward.c)\n", k), 1;
    }
    if (a->shape && strcmp(a->shape, "qwen2.5-0.5b"))
        return fprintf(stderr, "bench_forward: --shape knows only qwen2.5-0.5b\n"), 1;
    if (a->prompt < 1 || a->decode < 2 || a->repeat < 1 || a->threads < 1)
        return fprintf(stderr, "bench_forward: need --prompt >= 1, --decode >= 2, --repeat >= 1, --threads >= 1\n"), 1;
    return 0;
}

int main(int argc, char **argv) {
    bench_args a = {.model = WHET_SOURCE_DIR "/models/stories260K-hf", .threads = 2, .prompt = 128, .decode = 32,
                    .repeat = 3};
    if (parse(argc, argv, &a)) return 2;
    char tmp[64] = "", model_dir[128];
    if (a.shape) {
        snprintf(tmp, sizeof tmp, "/tmp/whet_bench_XXXXXX");
        if (!mkdtemp(tmp) || write_qwen05b(tmp, model_dir, sizeof model_dir)) return 1;
        a.model = model_dir;
    }
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.keep_dtype = !a.f32, .n_threads = a.threads};
    if (whet_model_load(a.model, &lo, &m, &err) != WHET_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    whet_rng r;
    whet_rng_seed(&r, 7);
    int32_t *prompt = malloc((size_t)a.prompt * sizeof *prompt), *out = malloc((size_t)a.decode * sizeof *out);
    for (int i = 0; i < a.prompt; i++) prompt[i] = (int32_t)whet_rng_below(&r, (uint64_t)m->cfg.vocab_size);
    whet_generate_opts o = {.max_new_tokens = a.decode, .sampling = whet_sampler_defaults()};
    double best_pre = 0, best_dec = 0;
    for (int rep = 0; rep < a.repeat; rep++) {
        whet_generate_stats st;
        int n = 0;
        if (whet_generate(m, prompt, a.prompt, &o, out, &n, &st, &err) != WHET_OK)
            return fprintf(stderr, "%s\n", err.msg), 1;
        double pre = a.prompt / st.prefill_seconds, dec = (n - 1) / st.decode_seconds;
        best_pre = pre > best_pre ? pre : best_pre;
        best_dec = dec > best_dec ? dec : best_dec;
    }
    const char *name = a.shape ? "qwen2.5-0.5b-shaped (random)" : a.model;
    const char *dtype = a.shape ? (a.f32 ? "bf16->f32 at load" : "bf16 per tile") : m->cfg.torch_dtype;
    printf("| model | weights | threads | prompt | prefill tok/s | decode tok/s (after prompt) |\n");
    printf("|---|---|---|---|---|---|\n");
    printf("| %s | %s | %d | %d | %.1f | %.1f |\n", name, dtype, a.threads, a.prompt, best_pre, best_dec);
    if (a.json) {
        FILE *f = fopen(a.json, "w");
        if (f) {
            fprintf(f, "{\"model\":\"%s\",\"weights\":\"%s\",\"threads\":%d,\"prompt_tokens\":%d,\"decode_tokens\":%d,"
                       "\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}\n",
                    name, dtype, a.threads, a.prompt, a.decode, best_pre, best_dec);
            fclose(f);
        }
    }
    free(prompt);
    free(out);
    whet_model_free(m);
    if (tmp[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    return 0;
}
