/* test_learning_stories.c: fine-tuning the bundled pretrained stories260K-hf really teaches it:
 * `whet train` (LoRA r16 on all linear layers, lr 5e-3, 40 full-batch steps) over three identity
 * records drives the logged loss below LEARN_STORIES_MAX_LOSS and LEARN_STORIES_MAX_RATIO x the first
 * logged loss, then `whet chat --adapter_name_or_path` (greedy, template default) answers each training
 * prompt with the first sentence of its training answer, which the base model alone does not say.
 * The records are LLaMA-Factory identity ones (data/identity.json) with two different answers, so
 * the model has to learn which answer belongs to which prompt: at 10 steps it still mixes them up.
 * cutoff_len 72 cuts every record inside "How can I assist you today?", before the eos: stories260K
 * (llama2.c, TinyStories separated by BOS only) never learnt eos, whose tied embedding row is one of
 * 253 near-identical untrained rows, so no LoRA can raise p(eos) above ~1/253 (5.5 nats a record). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/strbuf.h"
#include "cli/cli_run.h"
#include "test.h"
#include "tolerances.h"

#define STORIES WHET_SOURCE_DIR "/models/stories260K-hf"

typedef struct {
    const char *instruction, *output;
} record;

static const record records[] = {
    {"hi", "Hello! I am whet-demo, an AI assistant developed by the whet team. How can I assist you today?"},
    {"hello", "Hello! I am whet-demo, an AI assistant developed by the whet team. How can I assist you today?"},
    {"Who are you?", "I am whet-demo, an AI assistant developed by the whet team. How can I assist you today?"},
};
#define N_RECORDS (sizeof records / sizeof records[0])

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static int write_dataset(const char *root) {
    char path[4200];
    snprintf(path, sizeof path, "%s/dataset_info.json", root);
    if (write_file(path, "{\"tiny_identity\": {\"file_name\": \"tiny_identity.json\"}}\n")) return -1;
    snprintf(path, sizeof path, "%s/tiny_identity.json", root);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs("[\n", f);
    for (size_t i = 0; i < N_RECORDS; i++)
        fprintf(f, "  {\"instruction\": \"%s\", \"input\": \"\", \"output\": \"%s\"}%s\n", records[i].instruction,
                records[i].output, i + 1 < N_RECORDS ? "," : "");
    fputs("]\n", f);
    return fclose(f);
}

/* First and last "loss" of trainer_log.jsonl; returns how many were logged. */
static int read_losses(const char *path, double *first, double *last) {
    FILE *log = fopen(path, "r");
    int n = 0;
    char line[4096];
    *first = *last = -1;
    while (log && fgets(line, sizeof line, log)) {
        const char *p = strstr(line, "\"loss\":");
        if (!p) continue;
        *last = strtod(p + 7, NULL);
        if (n++ == 0) *first = *last;
    }
    if (log) fclose(log);
    return n;
}

/* `whet chat --prompt` greedy; the answer (stdout) into `out`. adapter may be NULL (the base model). */
static int chat(const char *root, const char *adapter, const char *prompt, whet_strbuf *out) {
    whet_strbuf cmd;
    whet_sb_init(&cmd);
    cli_shell_quote(&cmd, WHET_BINARY);
    whet_sb_puts(&cmd, " chat --model_name_or_path ");
    cli_shell_quote(&cmd, STORIES);
    if (adapter) {
        whet_sb_puts(&cmd, " --adapter_name_or_path ");
        cli_shell_quote(&cmd, adapter);
    }
    whet_sb_puts(&cmd, " --template default --temperature 0 --max_new_tokens 56 --prompt ");
    cli_shell_quote(&cmd, prompt);
    whet_sb_puts(&cmd, " 2>>");
    cli_shell_quote(&cmd, root);
    whet_sb_puts(&cmd, "/chat.err");
    int rc = cli_run(cmd.data, out);
    whet_sb_free(&cmd);
    return rc;
}

int main(void) {
    if (access(STORIES "/model.safetensors", R_OK) != 0) TEST_SKIP(STORIES " is missing");
    char root[] = "/tmp/whet_test_learning_stories_XXXXXX";
    CHECK(mkdtemp(root) != NULL);
    char yaml[4200], cmd[9000], path[4400], adapter[4300];
    CHECK(write_dataset(root) == 0);
    snprintf(yaml, sizeof yaml, "%s/train.yaml", root);
    snprintf(adapter, sizeof adapter, "%s/out", root);
    FILE *f = fopen(yaml, "w");
    CHECK(f != NULL);
    if (!f) return TEST_SUMMARY();
    fprintf(f,
            "model_name_or_path: %s\nstage: sft\ndo_train: true\nfinetuning_type: lora\n"
            "lora_rank: 16\nlora_alpha: 32\nlora_target: all\ndataset: tiny_identity\ndataset_dir: %s\n"
            "template: default\ncutoff_len: 72\noutput_dir: %s\noverwrite_output_dir: true\n"
            "logging_steps: 1\nsave_steps: 1000\nper_device_train_batch_size: %zu\ngradient_accumulation_steps: 1\n"
            "learning_rate: 5.0e-3\nmax_steps: 40\nlr_scheduler_type: cosine\nwarmup_ratio: 0.1\nseed: 42\n",
            STORIES, root, adapter, N_RECORDS);
    fclose(f);
    whet_strbuf out;
    whet_sb_init(&out);
    snprintf(cmd, sizeof cmd, "WHET_CACHE_DIR='%s/cache' '%s' train '%s' 2>&1", root, WHET_BINARY, yaml);
    int rc = cli_run(cmd, &out);
    CHECK_MSG(rc == 0, "whet train exited %d:\n%s", rc, out.data ? out.data : "");
    snprintf(path, sizeof path, "%s/trainer_log.jsonl", adapter);
    double first, last;
    int n_logged = read_losses(path, &first, &last);
    printf("stories260K loss: first %.4f last %.4f (ratio %.5f, %d steps logged)\n", first, last,
           first > 0 ? last / first : -1.0, n_logged);
    CHECK_EQ_INT(n_logged, 40);
    CHECK(first > 0);
    CHECK_MSG(last > 0 && last < LEARN_STORIES_MAX_LOSS, "final loss %.4f", last);
    CHECK_MSG(last < LEARN_STORIES_MAX_RATIO * first, "final %.4f vs first %.4f", last, first);

    /* Each training prompt gets the first sentence of its own answer, at the start of the reply. */
    for (size_t i = 0; i < N_RECORDS; i++) {
        const char *want = records[i].output;
        size_t n_want = (size_t)(strchr(want, '.') - want) + 1;
        whet_sb_clear(&out);
        rc = chat(root, adapter, records[i].instruction, &out);
        CHECK_EQ_INT(rc, 0);
        const char *got = out.data ? out.data : "";
        printf("%-14s -> %s", records[i].instruction, got);
        CHECK_MSG(strncmp(got, want, n_want) == 0, "%s: the reply does not start with \"%.*s\"", records[i].instruction,
                  (int)n_want, want);
    }
    /* ... which the base model does not: the adapter made the difference. */
    whet_sb_clear(&out);
    CHECK_EQ_INT(chat(root, NULL, records[N_RECORDS - 1].instruction, &out), 0);
    printf("base model     -> %s", out.data ? out.data : "");
    CHECK(out.data && !strstr(out.data, "whet-demo"));

    whet_sb_free(&out);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return TEST_SUMMARY();
}
