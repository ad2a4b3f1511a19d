/* test_train_cli.c: `whet train` as a user runs it: a tiny YAML (llama-tiny
 * fixture, identity slice of tests/fixtures/data/lf, 4 steps) finishes and
 * writes the adapter, logs and results; a misspelt key and an unsupported
 * finetuning method exit non-zero with a message naming the key. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "test.h"

static int run(const char *cmd, char *out, size_t cap) {
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = 0;
    const int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void write_yaml(const char *path, const char *outdir) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f,
            "model_name_or_path: %s/models/llama-tiny\n"
            "stage: sft\ndo_train: true\nfinetuning_type: lora\nlora_rank: 4\nlora_target: all\n"
            "dataset: identity\ndataset_dir: %s/data/lf\ntemplate: default\ncutoff_len: 64\nmax_samples: 16\n"
            "output_dir: %s\noverwrite_output_dir: true\nlogging_steps: 2\nsave_steps: 2\nplot_loss: true\n"
            "per_device_train_batch_size: 2\ngradient_accumulation_steps: 2\nlearning_rate: 1.0e-3\n"
            "max_steps: 4\nlr_scheduler_type: cosine\nwarmup_ratio: 0.1\n",
            WHET_FIXTURES, WHET_FIXTURES, outdir);
    fclose(f);
}

int main(void) {
    char root[] = "/tmp/whet_test_train_cli_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char yaml[4200], outdir[4200], cmd[9000], path[4300];
    static char out[1 << 16];
    snprintf(yaml, sizeof yaml, "%s/train.yaml", root);
    snprintf(outdir, sizeof outdir, "%s/out", root);
    write_yaml(yaml, outdir);
    snprintf(cmd, sizeof cmd, "WHET_CACHE_DIR=%s/cache %s train %s 2>&1", root, WHET_BINARY, yaml);
    CHECK_EQ_INT(run(cmd, out, sizeof out), 0);
    CHECK_MSG(strstr(out, "'loss':") != NULL, "no loss line in:\n%s", out);
    static const char *const files[] = {"adapter_config.json", "adapter_model.safetensors", "trainer_log.jsonl",
                                        "trainer_state.json", "train_results.json", "all_results.json",
                                        "training_loss.png", "checkpoint-2/adapter_model.safetensors",
                                        "checkpoint-4/whet_trainer_state.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        snprintf(path, sizeof path, "%s/%s", outdir, files[i]);
        CHECK_MSG(whet_file_exists(path), "missing %s", path);
    }
    /* resume_from_checkpoint a folder: runs steps 3-4 again from checkpoint-2 */
    snprintf(cmd, sizeof cmd, "WHET_CACHE_DIR=%s/cache %s train %s --resume_from_checkpoint %s/checkpoint-2 2>&1",
             root, WHET_BINARY, yaml, outdir);
    CHECK_EQ_INT(run(cmd, out, sizeof out), 0);
    snprintf(cmd, sizeof cmd, "%s train %s --lora_rnak 8 2>&1", WHET_BINARY, yaml);
    CHECK(run(cmd, out, sizeof out) != 0);
    CHECK_MSG(strstr(out, "lora_rnak") != NULL && strstr(out, "lora_rank") != NULL, "message: %s", out);
    snprintf(cmd, sizeof cmd, "%s train %s --finetuning_type full 2>&1", WHET_BINARY, yaml);
    CHECK(run(cmd, out, sizeof out) != 0);
    CHECK_MSG(strstr(out, "finetuning_type") != NULL, "message: %s", out);
    snprintf(cmd, sizeof cmd, "%s train %s --overwrite_output_dir false 2>&1", WHET_BINARY, yaml);
    CHECK(run(cmd, out, sizeof out) != 0);
    CHECK_MSG(strstr(out, "overwrite_output_dir") != NULL, "message: %s", out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return TEST_SUMMARY();
}
