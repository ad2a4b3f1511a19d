/* trainer.h: LoRA supervised fine-tuning with the semantics of the Hugging
 * Face Trainer that LLaMA-Factory drives: epochs or max_steps, micro-batches
 * of per_device_train_batch_size examples accumulated over
 * gradient_accumulation_steps, clip_grad_norm_, AdamW, the lr schedules of
 * get_scheduler, logging/saving every N steps, resume_from_checkpoint, and the
 * files of output_dir (adapter, trainer_log.jsonl, trainer_state.json,
 * train_results.json, all_results.json, training_loss.png).
 *
 * Loss normalisation (transformers >= 4.46, num_items_in_batch): one
 * optimizer step's loss is the sum of token losses over ALL micro-batches of
 * the accumulation group divided by the group's total label tokens (so a
 * long example weighs as its tokens, not as its micro-batch). The gradient
 * is that of this same token mean. */
#ifndef WHET_TRAIN_TRAINER_H
#define WHET_TRAIN_TRAINER_H
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"
#include "data/sft_dataset.h"
#include "io/lf_args.h"
#include "model/lora.h"
#include "model/model.h"
#include "train/lr_schedule.h"

typedef struct {
    char output_dir[4096];
    char base_model[4096];        /* base_model_name_or_path written into the adapter config */
    char resume[4096];            /* "" = fresh, "true" = latest checkpoint-N of output_dir, else a folder */
    double num_train_epochs;
    int64_t max_steps;            /* > 0 overrides epochs */
    int batch_size;               /* per_device_train_batch_size */
    int grad_accum;               /* gradient_accumulation_steps */
    double max_grad_norm;         /* <= 0: no clipping */
    double learning_rate, weight_decay, adam_beta1, adam_beta2, adam_epsilon;
    whet_lr_kind lr_kind;
    int64_t warmup_steps;
    double warmup_ratio;
    uint64_t seed, data_seed;     /* LoRA init / dropout; data order */
    double logging_steps, save_steps; /* <= 0: never; < 1: that fraction of the total steps (ceil), as HF */
    bool overwrite_output_dir, plot_loss, gradient_checkpointing, quiet;
    float neftune_alpha;
    whet_lora_config lora;
    int64_t stop_after_steps;     /* > 0: save a checkpoint and stop after this many steps of this run (tests) */
    volatile sig_atomic_t *interrupt; /* non-NULL and set: save a checkpoint and stop (Ctrl-C) */
} whet_trainer_cfg;

typedef struct {
    int64_t global_step, total_steps;
    double train_loss;            /* mean step loss of the run (HF's train_loss) */
    double *step_losses;          /* [n_step_losses] loss of each step taken in this call, in order */
    int64_t n_step_losses;
    int64_t first_step;           /* global step of step_losses[0] (1-based) */
    bool stopped_early;           /* interrupt / stop_after_steps */
} whet_trainer_result;

/* Read the training keys of LLaMA-Factory's args (see docs/train.md); any
 * finetuning setting whet cannot train is an error naming the key. */
whet_status whet_trainer_cfg_from_args(const whet_lf_args *args, const whet_model_config *mcfg,
                                       whet_trainer_cfg *cfg, whet_error *err);
/* Train a fresh LoRA (or resume) on `m` over `ds`; writes output_dir. */
whet_status whet_trainer_run(const whet_trainer_cfg *cfg, whet_model *m, const whet_sft_dataset *ds,
                             whet_trainer_result *res, whet_error *err);
void whet_trainer_result_free(whet_trainer_result *r);

/* Updates per epoch and total optimizer steps as the HF Trainer counts them
 * (ceil(n/batch) micro-batches; ceil(that/accum) updates; max_steps wins). */
int64_t whet_trainer_updates_per_epoch(size_t n_examples, int batch_size, int grad_accum);
int64_t whet_trainer_total_steps(const whet_trainer_cfg *cfg, size_t n_examples);
#endif
