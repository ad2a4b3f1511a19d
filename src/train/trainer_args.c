/* trainer_args.c: LLaMA-Factory arguments -> whet_trainer_cfg, with clear
 * errors for finetuning methods whet does not train. */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "train/trainer.h"

static whet_status check_supported(const whet_lf_args *a, whet_error *err) {
    const char *ft = whet_lf_args_str(a, "finetuning_type");
    if (ft && strcmp(ft, "lora") != 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "finetuning_type: '%s' is not supported; whet trains LoRA adapters only "
                           "(finetuning_type: lora)", ft);
    static const char *const bool_keys[] = {"use_dora", "pissa_init"};
    for (size_t i = 0; i < sizeof bool_keys / sizeof *bool_keys; i++)
        if (whet_lf_args_bool(a, bool_keys[i]))
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: not supported by whet train; remove it (plain LoRA/rsLoRA)",
                               bool_keys[i]);
    if (whet_lf_args_is_set(a, "quantization_bit"))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "quantization_bit: QLoRA is not supported; whet trains on an f32 base model (remove the key)");
    const char *stage = whet_lf_args_str(a, "stage");
    if (stage && strcmp(stage, "sft") != 0 && strcmp(stage, "pt") != 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "stage: '%s' is not supported by whet train (use sft or pt)", stage);
    return WHET_OK;
}

static whet_status lora_cfg(const whet_lf_args *a, whet_lora_config *lc, whet_error *err) {
    memset(lc, 0, sizeof *lc);
    lc->r = (int)whet_lf_args_int(a, "lora_rank");
    if (lc->r < 1) return whet_errorf(err, WHET_ERR_INVALID_ARG, "lora_rank: %d, must be >= 1", lc->r);
    const long long alpha = whet_lf_args_int(a, "lora_alpha");
    lc->alpha = alpha > 0 ? (float)alpha : (float)(2 * lc->r);   /* LLaMA-Factory: lora_rank * 2 */
    lc->dropout = (float)whet_lf_args_double(a, "lora_dropout");
    if (!(lc->dropout >= 0 && lc->dropout < 1))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "lora_dropout: %g, must be in [0, 1)", lc->dropout);
    lc->use_rslora = whet_lf_args_bool(a, "use_rslora");
    char **targets = whet_lf_args_list(a, "lora_target");
    static const char *const all[] = {"all", NULL};
    whet_status s = whet_lora_parse_targets(targets && targets[0] ? (const char *const *)targets : all, lc->target, err);
    whet_lf_args_list_free(targets);
    return s;   /* the message already names lora_target */
}

static void copy_str(char *dst, size_t cap, const char *src) { snprintf(dst, cap, "%s", src ? src : ""); }

whet_status whet_trainer_cfg_from_args(const whet_lf_args *a, const whet_model_config *mcfg, whet_trainer_cfg *cfg,
                                       whet_error *err) {
    (void)mcfg;
    memset(cfg, 0, sizeof *cfg);
    WHET_TRY(check_supported(a, err));
    WHET_TRY(lora_cfg(a, &cfg->lora, err));
    copy_str(cfg->output_dir, sizeof cfg->output_dir, whet_lf_args_str(a, "output_dir"));
    if (!cfg->output_dir[0]) return whet_errorf(err, WHET_ERR_INVALID_ARG, "output_dir: required (where the adapter goes)");
    copy_str(cfg->base_model, sizeof cfg->base_model, whet_lf_args_str(a, "model_name_or_path"));
    copy_str(cfg->resume, sizeof cfg->resume, whet_lf_args_str(a, "resume_from_checkpoint"));
    /* path, or "true" (newest checkpoint); YAML/CLI false reads NULL (lf_args WHET_LF_PATH_OR_BOOL) */
    cfg->num_train_epochs = whet_lf_args_double(a, "num_train_epochs");
    cfg->max_steps = whet_lf_args_int(a, "max_steps");
    if (cfg->max_steps <= 0 && !(cfg->num_train_epochs > 0))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "num_train_epochs: %g, must be > 0 (or set max_steps)",
                           cfg->num_train_epochs);
    cfg->batch_size = (int)whet_lf_args_int(a, "per_device_train_batch_size");
    cfg->grad_accum = (int)whet_lf_args_int(a, "gradient_accumulation_steps");
    if (cfg->batch_size < 1 || cfg->grad_accum < 1)
        return whet_errorf(err, WHET_ERR_INVALID_ARG,
                           "per_device_train_batch_size (%d) and gradient_accumulation_steps (%d) must be >= 1",
                           cfg->batch_size, cfg->grad_accum);
    cfg->max_grad_norm = whet_lf_args_double(a, "max_grad_norm");
    cfg->learning_rate = whet_lf_args_double(a, "learning_rate");
    if (!(cfg->learning_rate > 0))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "learning_rate: %g, must be > 0", cfg->learning_rate);
    cfg->weight_decay = whet_lf_args_double(a, "weight_decay");
    cfg->adam_beta1 = whet_lf_args_double(a, "adam_beta1");
    cfg->adam_beta2 = whet_lf_args_double(a, "adam_beta2");
    cfg->adam_epsilon = whet_lf_args_double(a, "adam_epsilon");
    WHET_TRY(whet_lr_kind_parse(whet_lf_args_str(a, "lr_scheduler_type"), &cfg->lr_kind, err));
    cfg->warmup_steps = whet_lf_args_int(a, "warmup_steps");
    cfg->warmup_ratio = whet_lf_args_double(a, "warmup_ratio");
    const long long seed = whet_lf_args_int(a, "seed"), data_seed = whet_lf_args_int(a, "data_seed");
    cfg->seed = (uint64_t)seed;
    cfg->data_seed = whet_lf_args_is_set(a, "data_seed") ? (uint64_t)data_seed : (uint64_t)seed;
    cfg->logging_steps = whet_lf_args_double(a, "logging_steps");
    cfg->save_steps = whet_lf_args_double(a, "save_steps");
    cfg->overwrite_output_dir = whet_lf_args_bool(a, "overwrite_output_dir");
    cfg->plot_loss = whet_lf_args_bool(a, "plot_loss");
    cfg->gradient_checkpointing = !whet_lf_args_bool(a, "disable_gradient_checkpointing");
    const double neft = whet_lf_args_double(a, "neftune_noise_alpha");
    cfg->neftune_alpha = isfinite(neft) && neft > 0 ? (float)neft : 0.0f;
    return WHET_OK;
}
