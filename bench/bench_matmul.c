/* bench_matmul.c: the CPU inference linear layer (ops/matmul.h) alone, per
 * weight type and kernel set: for Qwen2.5-0.5B's ffn_down weight (896 x
 * 4864: its rows are a multiple of 256, so every k-quant applies; the
 * 151936 x 896 LM head with --lm_head, where they do not) and T tokens per
 * call, the
 * time per call, the weight bytes streamed per second (decode is bound by
 * this) and GFLOP/s, with the AVX2 kernels and with the scalar ones side by
 * side. The weights are random; the speed does not depend on them. Times
 * are wall clock; on a busy machine use --threads 1 --cpu_time.
 *
 *   bench_matmul [--threads 2] [--tokens 1,8,64] [--lm_head] [--ms 300] [--cpu_time] [--type q8_0] */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "core/rng.h"
#include "core/threadpool.h"
#include "ops/matmul.h"
#include "ops/quant.h"
#include "ops/quant_dot.h"

static bool g_cpu_time;

/* Wall clock, or with --cpu_time the calling thread's CPU time (with
 * --threads 1 the pool runs inline, so that is all of the work and a busy
 * machine's other processes do not count). */
static double now(void) {
    struct timespec ts;
    clock_gettime(g_cpu_time ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 2, ms = 300;
    int64_t rows = 896, cols = 4864;
    char tokens_arg[64] = "1,8,64";
    const char *only_type = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--cpu_time")) { g_cpu_time = true; continue; }
        if (!strcmp(argv[i], "--lm_head")) { rows = 151936; cols = 896; continue; }
        if (i + 1 >= argc) return fprintf(stderr, "bench_matmul: %s needs a value\n", argv[i]), 2;
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ms")) ms = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--type")) only_type = argv[++i];
        else if (!strcmp(argv[i], "--tokens")) snprintf(tokens_arg, sizeof tokens_arg, "%s", argv[++i]);
        else return fprintf(stderr, "bench_matmul: unknown flag %s (see bench/bench_matmul.c)\n", argv[i]), 2;
    }
    int tokens[8], n_tok = 0;
    for (char *save = NULL, *t = strtok_r(tokens_arg, ",", &save); t && n_tok < 8; t = strtok_r(NULL, ",", &save))
        tokens[n_tok++] = atoi(t);
    if (g_cpu_time && threads != 1) return fprintf(stderr, "bench_matmul: --cpu_time needs --threads 1\n"), 2;
    whet_error err = {0};
    whet_threadpool *pool = NULL;
    if (whet_threadpool_create(threads, &pool, &err) != WHET_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    int max_t = 1;
    for (int k = 0; k < n_tok; k++) max_t = tokens[k] > max_t ? tokens[k] : max_t;
    float *w = malloc((size_t)(rows * cols) * sizeof(float)), *x = malloc((size_t)(max_t * cols) * sizeof(float));
    float *y = malloc((size_t)(max_t * rows) * sizeof(float));
    whet_rng r;
    whet_rng_seed(&r, 3);
    for (int64_t i = 0; i < rows * cols; i++) w[i] = (float)whet_rng_normal(&r) * 0.02f;
    for (int64_t i = 0; i < max_t * cols; i++) x[i] = (float)whet_rng_normal(&r);
    static const whet_dtype types[] = {WHET_DT_F32,  WHET_DT_BF16, WHET_DT_F16,  WHET_DT_Q8_0, WHET_DT_Q4_0,
                                       WHET_DT_Q4_1, WHET_DT_Q5_0, WHET_DT_Q5_1, WHET_DT_Q4_K, WHET_DT_Q5_K,
                                       WHET_DT_Q6_K, WHET_DT_Q2_K, WHET_DT_Q3_K};
    printf("weight %lld x %lld, %d threads, %s\n\n", (long long)rows, (long long)cols, threads,
           g_cpu_time ? "thread CPU time" : "wall clock");
    printf("| weights | tokens | kernels | ms/call | weight GB/s | GFLOP/s | speed-up vs scalar |\n");
    printf("|---|---|---|---|---|---|---|\n");
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        const whet_dtype dt = types[k];
        if (cols % (int64_t)whet_dtype_block_elems(dt)) continue;
        if (only_type && strcasecmp(only_type, whet_dtype_name(dt))) continue;   /* llama-quantize falls back for such rows */
        const size_t bytes = whet_dtype_nbytes(dt, (size_t)(rows * cols));
        void *wq = malloc(bytes);
        for (int64_t i = 0; i < rows; i++)
            if (whet_quantize_row(dt, w + i * cols, cols, (uint8_t *)wq + (size_t)i * whet_dtype_nbytes(dt, (size_t)cols),
                                  NULL, &err) != WHET_OK)
                return fprintf(stderr, "%s\n", err.msg), 1;
        const whet_weight W = {dt, rows, cols, wq, NULL};
        for (int ti = 0; ti < n_tok; ti++) {
            double per_call[2] = {0, 0};
            for (int isa = WHET_ISA_AVX2; isa >= WHET_ISA_SCALAR; isa--) {
                if (!whet_cpu_isa_force((whet_isa)isa)) continue;
                int calls = 0;
                whet_matmul(y, x, &W, NULL, tokens[ti], pool, &err);   /* warm-up */
                const double t0 = now();
                double t1 = t0;
                while ((t1 = now()) - t0 < ms * 1e-3 || calls < 2) {
                    if (whet_matmul(y, x, &W, NULL, tokens[ti], pool, &err) != WHET_OK)
                        return fprintf(stderr, "%s\n", err.msg), 1;
                    calls++;
                }
                per_call[isa] = (t1 - t0) / calls;
            }
            for (int isa = WHET_ISA_AVX2; isa >= WHET_ISA_SCALAR; isa--) {
                if (per_call[isa] <= 0) continue;
                char speedup[32] = "";
                if (isa == WHET_ISA_AVX2 && per_call[WHET_ISA_SCALAR] > 0)
                    snprintf(speedup, sizeof speedup, "%.2fx", per_call[WHET_ISA_SCALAR] / per_call[isa]);
                printf("| %s | %d | %s | %.3f | %.2f | %.1f | %s |\n", whet_dtype_name(dt), tokens[ti],
                       whet_isa_name((whet_isa)isa), per_call[isa] * 1e3, bytes / per_call[isa] / 1e9,
                       2.0 * rows * cols * tokens[ti] / per_call[isa] / 1e9, speedup);
            }
            fflush(stdout);
        }
        free(wq);
    }
    free(w);
    free(x);
    free(y);
    whet_threadpool_destroy(pool);
    return 0;
}
