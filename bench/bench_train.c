/* bench_train.c: LoRA training speed and memory: trained tokens per second
 * (forward + backward + AdamW, through whet_trainer_run) and the peak RSS of
 * the process, on stories260K and on a random-weight model of Qwen2.5-0.5B's
 * exact shape (written by whet_model_init_random to a temp dir; loaded as
 * f32 as whet train does). The data are random token sequences, all labels
 * on. Prints a table.
 *   bench_train [--stories DIR] [--skip-qwen] [--steps N] [--seq N] [--batch N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "core/rng.h"
#include "bench_qwen05b.h"
#include "model/init_random.h"
#include "model/model.h"
#include "train/trainer.h"

typedef struct {
    int steps, seq, batch;
} bench_opts;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double peak_rss_mib(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static void make_data(whet_sft_dataset *ds, int n, int len, int vocab) {
    ds->items = calloc((size_t)n, sizeof *ds->items);
    ds->n = (size_t)n;
    whet_rng r;
    whet_rng_seed(&r, 5);
    for (int i = 0; i < n; i++) {
        whet_sft_example *e = &ds->items[i];
        e->len = len;
        e->input_ids = malloc(sizeof(int32_t) * (size_t)len);
        e->labels = malloc(sizeof(int32_t) * (size_t)len);
        for (int t = 0; t < len; t++) e->labels[t] = e->input_ids[t] = (int32_t)whet_rng_below(&r, (uint64_t)vocab);
        e->origin = "random";
    }
}

static void free_data(whet_sft_dataset *ds) {
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->items[i].input_ids);
        free(ds->items[i].labels);
    }
    free(ds->items);
}

/* Train `steps` steps on `model_dir`; print one table row. */
static int bench_model(const char *name, const char *model_dir, const bench_opts *o, const char *tmp) {
    whet_error err = {0};
    whet_model *m = NULL;
    const whet_model_load_opts mo = {.keep_dtype = false, .n_threads = 0};
    if (whet_model_load(model_dir, &mo, &m, &err) != WHET_OK) return fprintf(stderr, "%s\n", err.msg), 1;
    whet_sft_dataset ds;
    make_data(&ds, o->steps * o->batch, o->seq, (int)m->cfg.vocab_size);
    whet_trainer_cfg c = {0};
    snprintf(c.output_dir, sizeof c.output_dir, "%s/out-%s", tmp, name);
    c.max_steps = o->steps;
    c.batch_size = o->batch;
    c.grad_accum = 1;
    c.max_grad_norm = 1.0;
    c.learning_rate = 1e-4;
    c.adam_beta1 = 0.9;
    c.adam_beta2 = 0.999;
    c.adam_epsilon = 1e-8;
    c.lr_kind = WHET_LR_CONSTANT;
    c.overwrite_output_dir = true;
    c.gradient_checkpointing = true;
    c.quiet = true;
    c.lora = (whet_lora_config){.r = 8, .alpha = 16};
    for (int k = 0; k < WHET_MOD_COUNT; k++) c.lora.target[k] = true;
    whet_trainer_result res = {0};
    const double t0 = now_s();
    const whet_status s = whet_trainer_run(&c, m, &ds, &res, &err);
    const double dt = now_s() - t0;
    if (s != WHET_OK) fprintf(stderr, "%s\n", err.msg);
    else
        printf("| %-28s | %5d | %5d | %4d | %10.1f | %8.2f | %9.0f |\n", name, o->steps, o->batch, o->seq,
               (double)o->steps * o->batch * o->seq / dt, dt, peak_rss_mib());
    whet_trainer_result_free(&res);
    free_data(&ds);
    whet_model_free(m);
    return s != WHET_OK;
}

int main(int argc, char **argv) {
    const char *stories = "models/stories260K-hf";
    bench_opts o = {.steps = 4, .seq = 256, .batch = 4};
    int skip_qwen = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--stories") && i + 1 < argc) stories = argv[++i];
        else if (!strcmp(argv[i], "--skip-qwen")) skip_qwen = 1;
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) o.steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seq") && i + 1 < argc) o.seq = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc) o.batch = atoi(argv[++i]);
        else return fprintf(stderr, "usage: bench_train [--stories DIR] [--skip-qwen] [--steps N] [--seq N] [--batch N]\n"), 2;
    }
    if (o.steps < 1 || o.seq < 2 || o.batch < 1) return fprintf(stderr, "bench_train: bad --steps/--seq/--batch\n"), 2;
    char tmp[] = "/tmp/whet_bench_train_XXXXXX";
    if (!mkdtemp(tmp)) return perror("mkdtemp"), 1;
    printf("LoRA r=8 on all linears, gradient checkpointing, AdamW; peak RSS is of the whole process so far\n");
    printf("| %-28s | steps | batch |  seq | tokens/s   | time s   | peak MiB  |\n", "model");
    printf("|------------------------------|-------|-------|------|------------|----------|-----------|\n");
    int rc = bench_model("stories260K", stories, &o, tmp);
    if (!skip_qwen) {
        char dir[600];
        const bench_opts q = {.steps = o.steps > 2 ? 2 : o.steps, .seq = o.seq > 128 ? 128 : o.seq, .batch = 1};
        rc |= write_qwen05b(tmp, dir, sizeof dir) || bench_model("qwen2.5-0.5b-shaped (random)", dir, &q, tmp);
    }
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "bench_train: could not remove %s\n", tmp);
    return rc;
}
