/* bench_data.c: LLaMA-Factory-style supervised encoding throughput, one
 * thread: huanhuan.json (Chinese role-play), alpaca_zh_demo and
 * alpaca_en_demo with the real Qwen2.5 tokenizer, template qwen, cutoff_len
 * 2048 — the full pipeline of `whet train` (dataset_info.json lookup, alpaca
 * conversion, per-piece template encoding, masking, truncation) timed from
 * the files to ready examples, then the second load that hits the tokenized
 * cache (sft_cache.h). A temp dataset_info.json names the three files; the
 * cache goes to a temp WHET_CACHE_DIR.
 *
 *   bench_data [--data_dir DIR]   (default /work/shared/data; needs huanhuan/huanhuan.json and
 *                                  llamafactory/alpaca_{zh,en}_demo.json under it) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "data/sft_dataset.h"
#include "io/lf_args.h"
#include "tokenizer/tokenizer.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Encode dataset `name` once (cache rebuilt) and load it again (cache hit). */
static int run(const char *name, const char *tmp, const whet_tokenizer *tok, double *enc_s, double *cache_s,
               size_t *n, long long *tokens) {
    char *argv[] = {"--dataset", (char *)name, "--dataset_dir", (char *)tmp, "--template", "qwen", "--cutoff_len",
                    "2048", "--stage", "sft", "--overwrite_cache", "true"};
    int argc = (int)(sizeof argv / sizeof argv[0]);
    whet_error err = {0};
    for (int pass = 0; pass < 2; pass++) {
        whet_lf_args *args = NULL;
        if (whet_lf_args_parse(pass ? argc - 2 : argc, argv, &args, &err) != WHET_OK)
            return fprintf(stderr, "bench_data: %s\n", err.msg), 1;
        whet_sft_dataset d;
        double t0 = now();
        whet_status s = whet_sft_dataset_load(args, tok, &d, &err);
        double dt = now() - t0;
        whet_lf_args_free(args);
        if (s != WHET_OK) return fprintf(stderr, "bench_data: %s\n", err.msg), 1;
        if (pass == 0) {
            *enc_s = dt;
            *n = d.n;
            *tokens = 0;
            for (size_t i = 0; i < d.n; i++) *tokens += d.items[i].len;
        } else {
            *cache_s = dt;
            if (!d.from_cache) fprintf(stderr, "bench_data: %s: second load did not hit the cache\n", name);
        }
        whet_sft_dataset_free(&d);
    }
    return 0;
}

int main(int argc, char **argv) {
    const char *data = "/work/shared/data";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data_dir") && i + 1 < argc) data = argv[++i];
        else return fprintf(stderr, "usage: bench_data [--data_dir DIR]\n"), 2;
    }
    char tmp[] = "/tmp/whet_bench_data_XXXXXX", path[700], from[700], cache[800];
    if (!mkdtemp(tmp)) return perror("mkdtemp"), 1;
    static const char *const files[][2] = {{"huanhuan.json", "huanhuan/huanhuan.json"},
                                           {"alpaca_zh_demo.json", "llamafactory/alpaca_zh_demo.json"},
                                           {"alpaca_en_demo.json", "llamafactory/alpaca_en_demo.json"}};
    for (int i = 0; i < 3; i++) {
        snprintf(from, sizeof from, "%s/%s", data, files[i][1]);
        snprintf(path, sizeof path, "%s/%s", tmp, files[i][0]);
        if (access(from, R_OK) != 0 || symlink(from, path) != 0) return perror(from), 1;
    }
    snprintf(path, sizeof path, "%s/dataset_info.json", tmp);
    FILE *f = fopen(path, "w");
    if (!f) return perror(path), 1;
    fputs("{\"huanhuan\": {\"file_name\": \"huanhuan.json\"}, \"alpaca_zh_demo\": {\"file_name\": "
          "\"alpaca_zh_demo.json\"}, \"alpaca_en_demo\": {\"file_name\": \"alpaca_en_demo.json\"}}\n", f);
    fclose(f);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    setenv("WHET_CACHE_DIR", cache, 1);
    whet_tokenizer *tok = NULL;
    whet_error err = {0};
    if (whet_tokenizer_load_dir(WHET_REAL_FIXTURES "/tokenizers/qwen2.5", &tok, &err) != WHET_OK)
        return fprintf(stderr, "bench_data: %s\n", err.msg), 1;
    printf("%-16s %8s %10s %9s %11s %12s %12s\n", "dataset", "samples", "tokens", "seconds", "samples/s", "tokens/s",
           "cached load");
    static const char *const names[] = {"huanhuan", "alpaca_zh_demo", "alpaca_en_demo"};
    for (int i = 0; i < 3; i++) {
        double enc = 0, hit = 0;
        size_t n = 0;
        long long toks = 0;
        if (run(names[i], tmp, tok, &enc, &hit, &n, &toks)) return 1;
        printf("%-16s %8zu %10lld %9.3f %11.0f %12.0f %10.1f ms\n", names[i], n, toks, enc, n / enc, toks / enc,
               hit * 1e3);
    }
    printf("(one thread; Qwen2.5 tokenizer, template qwen, cutoff_len 2048; times include reading the JSON)\n");
    whet_tokenizer_free(tok);
    char cmd[900];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : 1;
}
