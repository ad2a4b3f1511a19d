/* bench_forward.c: CPU inference speed, batch 1: prefill tokens/s (one
 * forward over the prompt) and decode tokens/s (one token per step through
 * the paged KV cache), best of --repeat runs, printed as a table and written
 * as JSON. Models: a Hugging Face folder (default: the bundled
 * stories260K-hf), or --shape qwen2.5-0.5b, which writes a random-weight
 * bf16 folder of Qwen2.5-0.5B's exact shape to a temp dir first
 * (whet_model_init_random, as `whet init-model`) (the weights
 * do not change the speed; keep_dtype widens bf16 per tile, --f32 widens at
 * load instead). --gguf q8_0,q4_k_m also exports that folder to GGUF files
 * of those types (whet's exporter, llama-quantize's tensor mixes) and
 * benchmarks each after the bf16 row, so one run prints the whole table.
 * The ISA column is the kernels' (ops/quant_dot.h); run again with
 * WHET_CPU_ISA=scalar for the portable kernels. --keep DIR writes the GGUF
 * files to DIR (model-<type>.gguf) and keeps them, e.g. for
 * bench/llamacpp_decode.mjs (llama.cpp on the same files).
 *
 *   bench_forward [--model DIR|F.gguf | --shape qwen2.5-0.5b] [--gguf T1,T2] [--keep DIR] [--threads 2]
 *                 [--prompt 128] [--decode 32] [--repeat 3] [--f32] [--json out.json] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "export/gguf_export.h"
#include "export/merge.h"
#include "infer/generate.h"
#include "bench_qwen05b.h"
#include "model/init_random.h"
#include "ops/quant_dot.h"

typedef struct {
    const char *model, *shape, *json, *gguf, *keep;
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
        else if (!strcmp(k, "--gguf")) a->gguf = v;
        else if (!strcmp(k, "--keep")) a->keep = v;
        else if (!strcmp(k, "--threads")) a->threads = atoi(v);
        else if (!strcmp(k, "--prompt")) a->prompt = atoi(v);
        else if (!strcmp(k, "--decode")) a->decode = atoi(v);
        else if (!strcmp(k, "--repeat")) a->repeat = atoi(v);
        else return fprintf(stderr, "bench_forward: unknown flag %s (see the header of bench/bench_forward.c)\n", k), 1;
    }
    if (a->shape && strcmp(a->shape, "qwen2.5-0.5b"))
        return fprintf(stderr, "bench_forward: --shape knows only qwen2.5-0.5b\n"), 1;
    if (a->gguf && !a->shape) return fprintf(stderr, "bench_forward: --gguf needs --shape (pass a .gguf to --model)\n"), 1;
    if (a->keep && !a->gguf) return fprintf(stderr, "bench_forward: --keep DIR needs --gguf T1,T2\n"), 1;
    if (a->prompt < 1 || a->decode < 2 || a->repeat < 1 || a->threads < 1)
        return fprintf(stderr, "bench_forward: need --prompt >= 1, --decode >= 2, --repeat >= 1, --threads >= 1\n"), 1;
    return 0;
}

typedef struct {
    double prefill, decode;
} speeds;

/* Best-of-repeat prefill and decode tokens/s of one model file or folder. */
static int bench_model(const bench_args *a, const char *path, bool keep_dtype, speeds *out, char *dtype, size_t cap) {
    whet_error err = {0};
    whet_model *m = NULL;
    whet_model_load_opts lo = {.keep_dtype = keep_dtype, .n_threads = a->threads};
    if (whet_model_load(path, &lo, &m, &err) != WHET_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    snprintf(dtype, cap, "%s", m->cfg.torch_dtype);
    whet_rng r;
    whet_rng_seed(&r, 7);
    int32_t *prompt = malloc((size_t)a->prompt * sizeof *prompt), *toks = malloc((size_t)a->decode * sizeof *toks);
    for (int i = 0; i < a->prompt; i++) prompt[i] = (int32_t)whet_rng_below(&r, (uint64_t)m->cfg.vocab_size);
    whet_generate_opts o = {.max_new_tokens = a->decode, .sampling = whet_sampler_defaults()};
    *out = (speeds){0, 0};
    int rc = 0;
    for (int rep = 0; rep < a->repeat && !rc; rep++) {
        whet_generate_stats st;
        int n = 0;
        if (whet_generate(m, prompt, a->prompt, &o, toks, &n, &st, &err) != WHET_OK) {
            fprintf(stderr, "%s\n", err.msg);
            rc = 1;
            break;
        }
        const double pre = a->prompt / st.prefill_seconds, dec = (n - 1) / st.decode_seconds;
        out->prefill = pre > out->prefill ? pre : out->prefill;
        out->decode = dec > out->decode ? dec : out->decode;
    }
    free(prompt);
    free(toks);
    whet_model_free(m);
    return rc;
}

/* The random folder -> <tmp>/model-<type>.gguf. */
static int export_gguf(const char *folder, const char *tmp, const char *type, char *path, size_t cap) {
    whet_error err = {0};
    whet_gguf_ftype ft;
    whet_export_model em = {0};
    if (whet_gguf_ftype_parse(type, &ft, &err) != WHET_OK || whet_export_load(folder, &em, &err) != WHET_OK)
        return fprintf(stderr, "bench_forward: %s\n", err.msg), 1;
    snprintf(path, cap, "%s/model-%s.gguf", tmp, whet_gguf_ftype_name(ft));
    whet_gguf_export_opts go = {.path = path, .ftype = ft, .name = "bench"};
    whet_status s = whet_export_gguf(&em, &go, &err);
    whet_export_free(&em);
    if (s != WHET_OK) return fprintf(stderr, "bench_forward: %s\n", err.msg), 1;
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
        if (a.gguf && copy_qwen_tokenizer(model_dir)) return 1;
        a.model = model_dir;
    }
    whet_error kerr = {0};
    if (a.keep && whet_mkdirs(a.keep, &kerr) != WHET_OK) return fprintf(stderr, "bench_forward: --keep: %s\n", kerr.msg), 1;
    const char *isa = whet_isa_name(whet_cpu_isa());
    const char *name = a.shape ? "qwen2.5-0.5b-shaped (random)" : a.model;
    FILE *json = a.json ? fopen(a.json, "w") : NULL;
    if (json) fputs("[", json);
    printf("| model | weights | kernels | threads | prompt | prefill tok/s | decode tok/s (after prompt) |\n");
    printf("|---|---|---|---|---|---|---|\n");
    /* row 0 is the folder (or file) itself, then one row per --gguf type */
    char list[256], *types[16];
    int n_rows = 1, rc = 0;
    snprintf(list, sizeof list, "%s", a.gguf ? a.gguf : "");
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n_rows < 16; t = strtok_r(NULL, ",", &save))
        types[n_rows++] = t;
    for (int row = 0; row < n_rows && !rc; row++) {
        char path[256], dtype[64], label[96];
        if (row == 0) snprintf(path, sizeof path, "%s", a.model);
        else if ((rc = export_gguf(model_dir, a.keep ? a.keep : tmp, types[row], path, sizeof path))) break;
        speeds sp;
        rc = bench_model(&a, path, row > 0 || !a.f32, &sp, dtype, sizeof dtype);
        if (row > 0 && !a.keep) unlink(path);
        if (rc) break;
        if (row > 0) snprintf(label, sizeof label, "GGUF %s", types[row]);
        else snprintf(label, sizeof label, "%s", a.shape ? (a.f32 ? "bf16->f32 at load" : "bf16") : dtype[0] ? dtype : "GGUF");
        printf("| %s | %s | %s | %d | %d | %.1f | %.1f |\n", name, label, isa, a.threads, a.prompt, sp.prefill,
               sp.decode);
        fflush(stdout);
        if (json)
            fprintf(json, "%s{\"model\":\"%s\",\"weights\":\"%s\",\"kernels\":\"%s\",\"threads\":%d,\"prompt_tokens\":%d,"
                          "\"decode_tokens\":%d,\"prefill_tok_s\":%.2f,\"decode_tok_s\":%.2f}",
                    row ? "," : "", name, label, isa, a.threads, a.prompt, a.decode, sp.prefill, sp.decode);
    }
    if (json) {
        fputs("]\n", json);
        fclose(json);
    }
    if (tmp[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    }
    return rc;
}
