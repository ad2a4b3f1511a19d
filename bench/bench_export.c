/* bench_export.c: `whet export` speed on a Qwen2.5-0.5B-shaped model: the
 * stages of the command timed one by one — load the bf16 folder as f32,
 * write the HF folder (bf16 safetensors, 1 shard), write GGUF f16, q8_0 and
 * q4_k_m — with output bytes and throughput (the LoRA merge itself is r
 * multiply-adds per weight, small next to these). The GGUF rows are
 * quantized on --threads workers (default 2: one row per thread count in
 * the list, e.g. --threads 1,2); loading and the HF writer are one thread
 * (they are bound by memory and the disk). Weights are random
 * (speed does not depend on them); the folder is written to a temp dir by
 * whet_model_init_random (as `whet init-model`).
 *
 *   bench_export [--model DIR] [--threads 1,2] [--keep] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "core/file.h"
#include "export/gguf_export.h"
#include "export/merge.h"
#include "bench_qwen05b.h"
#include "model/init_random.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static long long file_size(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 ? (long long)st.st_size : 0;
}

static int fail(const whet_error *err) {
    fprintf(stderr, "bench_export: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv) {
    const char *model = NULL;
    bool keep = false;
    char threads_arg[64] = "1,2";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--keep")) keep = true;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) snprintf(threads_arg, sizeof threads_arg, "%s", argv[++i]);
        else return fprintf(stderr, "usage: bench_export [--model DIR] [--threads 1,2] [--keep]\n"), 2;
    }
    int threads[8], n_threads = 0;
    for (char *save = NULL, *t = strtok_r(threads_arg, ",", &save); t && n_threads < 8; t = strtok_r(NULL, ",", &save))
        if (atoi(t) > 0) threads[n_threads++] = atoi(t);
    char tmp[] = "/tmp/whet_bench_export_XXXXXX", dir[600], out_hf[600], out_gguf[600];
    if (!mkdtemp(tmp)) return perror("mkdtemp"), 1;
    whet_error err = {0};
    if (!model) {
        printf("writing a random Qwen2.5-0.5B-shaped bf16 folder to %s/model ...\n", tmp);
        if (write_qwen05b(tmp, dir, sizeof dir) || copy_qwen_tokenizer(dir)) return 1;
        model = dir;
    }
    printf("\n%-34s %10s %12s %10s\n", "stage", "seconds", "bytes out", "GB/s out");
    double t0 = now();
    whet_export_model m;
    if (whet_export_load(model, &m, &err) != WHET_OK) return fail(&err);
    double t_load = now() - t0;
    long long params = 0;
    for (size_t i = 0; i < m.n; i++) params += m.t[i].numel;
    printf("%-34s %10.2f %12lld %10s   (%lld parameters)\n", "load bf16 folder as f32 (1 thread)", t_load, params * 4, "-",
           params);

    snprintf(out_hf, sizeof out_hf, "%s/hf", tmp);
    whet_hf_export_opts ho = {.export_dir = out_hf, .export_size_gb = 5, .dtype = WHET_DT_BF16};
    t0 = now();
    if (whet_export_hf(&m, &ho, &err) != WHET_OK) return fail(&err);
    double t_hf = now() - t0;
    char st_path[700];
    snprintf(st_path, sizeof st_path, "%s/model.safetensors", out_hf);
    long long hf_bytes = file_size(st_path);
    printf("%-34s %10.2f %12lld %10.3f\n", "HF folder, bf16 (1 thread)", t_hf, hf_bytes, hf_bytes / t_hf / 1e9);

    static const whet_gguf_ftype types[] = {WHET_GGUF_FT_F16, WHET_GGUF_FT_Q8_0, WHET_GGUF_FT_Q4_K_M};
    for (size_t kk = 0; kk < sizeof types / sizeof types[0] * (size_t)n_threads; kk++) {
        const size_t k = kk / (size_t)n_threads;
        const int nt = threads[kk % (size_t)n_threads];
        snprintf(out_gguf, sizeof out_gguf, "%s/model-%s.gguf", tmp, whet_gguf_ftype_name(types[k]));
        whet_gguf_export_opts go = {.path = out_gguf, .ftype = types[k], .name = "bench", .n_threads = nt};
        t0 = now();
        if (whet_export_gguf(&m, &go, &err) != WHET_OK) return fail(&err);
        double t = now() - t0;
        long long bytes = file_size(out_gguf);
        char label[64];
        snprintf(label, sizeof label, "GGUF %s (%d thread%s)", whet_gguf_ftype_name(types[k]), nt, nt > 1 ? "s" : "");
        printf("%-34s %10.2f %12lld %10.3f   (%.2f GB/s of f32 input)\n", label, t, bytes, bytes / t / 1e9,
               params * 4.0 / t / 1e9);
        if (!keep) unlink(out_gguf);
    }
    whet_export_free(&m);
    if (!keep) {
        char cmd[800];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0) fprintf(stderr, "bench_export: could not remove %s\n", tmp);
    } else {
        printf("kept %s\n", tmp);
    }
    return 0;
}
