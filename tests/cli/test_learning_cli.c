/* test_learning_cli.c: `whet train` really learns: LoRA (r16, lr 2e-2, 200 full-batch steps) on
 * qwen2-tiny over 4 identity records drives the logged training loss below LEARN_QWEN2_MAX_LOSS and
 * below LEARN_QWEN2_MAX_RATIO x the first logged loss (trainer_log.jsonl). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/strbuf.h"
#include "cli/cli_run.h"
#include "test.h"
#include "tolerances.h"

int main(void) {
    char root[] = "/tmp/whet_test_learning_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char yaml[4200], cmd[9000], path[4300];
    snprintf(yaml, sizeof yaml, "%s/q.yaml", root);
    FILE *f = fopen(yaml, "w");
    CHECK(f != NULL);
    if (!f) return TEST_SUMMARY();
    fprintf(f,
            "model_name_or_path: %s/models/qwen2-tiny\nstage: sft\ndo_train: true\nfinetuning_type: lora\n"
            "lora_rank: 16\nlora_alpha: 32\nlora_target: all\ndataset: identity\ndataset_dir: %s/data/lf\n"
            "template: default\ncutoff_len: 64\nmax_samples: 4\noutput_dir: %s/out\noverwrite_output_dir: true\n"
            "logging_steps: 1\nsave_steps: 1000\nper_device_train_batch_size: 4\ngradient_accumulation_steps: 1\n"
            "learning_rate: 2.0e-2\nmax_steps: 200\nlr_scheduler_type: cosine\nwarmup_ratio: 0.1\nseed: 42\n",
            WHET_FIXTURES, WHET_FIXTURES, root);
    fclose(f);
    whet_strbuf out;
    whet_sb_init(&out);
    snprintf(cmd, sizeof cmd, "WHET_CACHE_DIR=%s/cache %s train %s 2>&1", root, WHET_BINARY, yaml);
    CHECK_EQ_INT(cli_run(cmd, &out), 0);
    snprintf(path, sizeof path, "%s/out/trainer_log.jsonl", root);
    FILE *log = fopen(path, "r");
    CHECK_MSG(log != NULL, "missing %s", path);
    double first = -1, last = -1;
    char line[4096];
    while (log && fgets(line, sizeof line, log)) {
        const char *p = strstr(line, "\"loss\":");
        if (!p) continue;
        last = strtod(p + 7, NULL);
        if (first < 0) first = last;
    }
    if (log) fclose(log);
    printf("qwen2-tiny loss: first %.4f last %.4f\n", first, last);
    CHECK(first > 0);
    CHECK_MSG(last > 0 && last < LEARN_QWEN2_MAX_LOSS, "final loss %.4f", last);
    CHECK_MSG(last < LEARN_QWEN2_MAX_RATIO * first, "final %.4f vs first %.4f", last, first);
    whet_sb_free(&out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return TEST_SUMMARY();
}
