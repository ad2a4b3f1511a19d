/* checkpoint.h: the trainer's checkpoints, output_dir/checkpoint-N/:
 * the PEFT adapter (adapter_config.json + adapter_model.safetensors, f32, so
 * it reloads exactly), trainer_state.json (HF's, with log_history) and
 * whet_trainer_state.safetensors: the LoRA slab, AdamW's exp_avg/exp_avg_sq
 * [n_params] and, in its metadata, the step counters and the running loss
 * sums as exact hex floats. The data order and every dropout/NEFTune mask
 * are functions of (seed, data_seed, epoch, step), so these numbers are all
 * a resume needs to continue bit-exactly. A checkpoint is written into
 * output_dir/.checkpoint-N.tmp and renamed into place. */
#ifndef WHET_TRAIN_CHECKPOINT_H
#define WHET_TRAIN_CHECKPOINT_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include "core/status.h"
#include "model/lora.h"
#include "train/adamw.h"

typedef struct {
    int64_t global_step;
    double total_loss_sum;   /* Σ step losses so far */
    double log_loss_sum;     /* Σ step losses since the last log line */
    int64_t last_logged_step;
    double elapsed_s;        /* training time before this run */
} whet_ckpt_counters;

#define WHET_CKPT_STATE_FILE "whet_trainer_state.safetensors"

/* Write output_dir/checkpoint-<step>/ (trainer_state_json: the HF state). */
whet_status whet_ckpt_save(const char *output_dir, const whet_lora *l, const char *base_model, const whet_adamw *opt,
                           const whet_ckpt_counters *c, const cJSON *trainer_state_json, whet_error *err);
/* Read a checkpoint folder back into the slab, the optimizer and counters;
 * *log_history gets trainer_state.json's log_history (owned, may be NULL). */
whet_status whet_ckpt_load(const char *dir, whet_lora *l, whet_adamw *opt, whet_ckpt_counters *c,
                           cJSON **log_history, whet_error *err);
/* The checkpoint-N folder of output_dir with the largest N ("" if none). */
whet_status whet_ckpt_latest(const char *output_dir, char *out, size_t cap, whet_error *err);
#endif
