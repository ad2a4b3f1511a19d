/* cmd_train.c: `whet train config.yaml [--key value ...]`: LoRA SFT with
 * LLaMA-Factory's keys (docs/train.md): loads the model (f32), its tokenizer
 * and the dataset, then runs the trainer. Ctrl-C stops after the current
 * step with a checkpoint that resume_from_checkpoint continues. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "cli/command.h"
#include "core/log.h"
#include "data/sft_dataset.h"
#include "io/lf_args.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"
#include "train/trainer.h"

static volatile sig_atomic_t g_interrupt = 0;

static void on_sigint(int sig) {
    (void)sig;
    if (g_interrupt) signal(SIGINT, SIG_DFL);  /* second Ctrl-C: quit at once */
    g_interrupt = 1;
}

static void usage(void) {
    printf("usage: whet train CONFIG.yaml [--key value ...]\n"
           "  LoRA supervised fine-tuning with LLaMA-Factory's keys (model_name_or_path, dataset, template,\n"
           "  lora_rank, learning_rate, num_train_epochs, output_dir, ...; see docs/train.md).\n"
           "  Ctrl-C saves a checkpoint; resume with --resume_from_checkpoint true.\n");
}

static whet_status train(whet_lf_args *args, whet_error *err) {
    const char *model_dir = whet_lf_args_str(args, "model_name_or_path");
    if (!model_dir) return whet_errorf(err, WHET_ERR_INVALID_ARG, "model_name_or_path: required (a model folder)");
    if (!whet_lf_args_str(args, "dataset"))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "dataset: required (names from dataset_dir/dataset_info.json)");
    whet_trainer_cfg cfg;
    whet_model *m = NULL;
    whet_tokenizer *tok = NULL;
    whet_sft_dataset ds = {0};
    whet_trainer_result res = {0};
    const whet_model_load_opts mo = {.keep_dtype = false, .n_threads = 0};
    whet_status s = whet_model_load(model_dir, &mo, &m, err);
    if (!s) s = whet_trainer_cfg_from_args(args, &m->cfg, &cfg, err);
    if (!s) s = whet_tokenizer_load_dir(model_dir, &tok, err);
    if (!s) s = whet_sft_dataset_load(args, tok, &ds, err);
    if (!s) {
        cfg.interrupt = &g_interrupt;
        signal(SIGINT, on_sigint);
        s = whet_trainer_run(&cfg, m, &ds, &res, err);
        signal(SIGINT, SIG_DFL);
    }
    if (!s && res.stopped_early)
        fprintf(stderr, "whet train: interrupted at step %lld; checkpoint saved in %s (resume_from_checkpoint: true)\n",
                (long long)res.global_step, cfg.output_dir);
    else if (!s)
        printf("adapter saved to %s\n", cfg.output_dir);
    whet_trainer_result_free(&res);
    whet_sft_dataset_free(&ds);
    whet_tokenizer_free(tok);
    whet_model_free(m);
    return s;
}

static int run(int argc, char **argv) {
    if (whet_cli_wants_help(argc, argv) || argc < 2) {
        usage();
        return argc < 2 ? 2 : 0;
    }
    whet_error err = {0};
    whet_lf_args *args = NULL;
    if (whet_lf_args_parse(argc - 1, argv + 1, &args, &err) != WHET_OK) return whet_cli_fail("train", err.msg);
    const whet_status s = train(args, &err);
    whet_lf_args_free(args);
    if (s != WHET_OK) return whet_cli_fail("train", err.msg);
    return 0;
}

const whet_command whet_cmd_train = {"train", "LoRA fine-tune with a LLaMA-Factory YAML (whet train cfg.yaml)", run};
