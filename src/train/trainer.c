/* trainer.c: the training loop (see trainer.h): data order, accumulation
 * groups, clipping, AdamW, schedule, logging, checkpoints and resume. */
#include "train/trainer.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/file.h"
#include "core/json.h"
#include "core/log.h"
#include "core/rng.h"
#include "model/train_model.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/loss_plot.h"
#include "train/train_batch.h"
#include "train/train_log.h"

int64_t whet_trainer_updates_per_epoch(size_t n_examples, int batch_size, int grad_accum) {
    const int64_t mb = ((int64_t)n_examples + batch_size - 1) / batch_size;
    const int64_t u = mb / grad_accum + (mb % grad_accum > 0);
    return u > 1 ? u : 1;
}

int64_t whet_trainer_total_steps(const whet_trainer_cfg *cfg, size_t n_examples) {
    if (cfg->max_steps > 0) return cfg->max_steps;
    const int64_t upe = whet_trainer_updates_per_epoch(n_examples, cfg->batch_size, cfg->grad_accum);
    return (int64_t)ceil(cfg->num_train_epochs * (double)upe);
}

static int64_t resolve_every(double v, int64_t total) {
    if (!(v > 0)) return 0;
    if (v < 1) return (int64_t)ceil(v * (double)total);
    return (int64_t)v;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t mix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Everything one run holds. */
typedef struct {
    const whet_trainer_cfg *cfg;
    const whet_sft_dataset *ds;
    whet_lora lora;
    whet_adamw opt;
    whet_train_model *tm;
    whet_batch_buf buf;
    whet_lr_schedule sched;
    whet_ckpt_counters c;
    cJSON *log_history;
    uint32_t *order;          /* [n] this epoch's example order */
    int64_t total_steps, upe, n_micro, log_every, save_every, n_epochs;
    double t_start, last_grad_norm, epoch_f;
    int64_t steps_this_run;
    whet_trainer_result *res;
} run_state;

static void epoch_order(run_state *r, int64_t epoch) {
    for (size_t i = 0; i < r->ds->n; i++) r->order[i] = (uint32_t)i;
    whet_rng rng;
    whet_rng_seed(&rng, mix64(r->cfg->data_seed) ^ mix64((uint64_t)epoch + 1));
    whet_rng_shuffle(&rng, r->order, (uint32_t)r->ds->n);
}

static cJSON *state_json(const run_state *r) {
    const whet_trainer_cfg *cfg = r->cfg;
    return whet_trainer_state_json(r->c.global_step, r->total_steps, r->epoch_f, cfg->num_train_epochs, r->log_every,
                                   r->save_every, cfg->batch_size, r->log_history);
}

static whet_status save_checkpoint(run_state *r, whet_error *err) {
    cJSON *st = state_json(r);
    r->c.elapsed_s += now_s() - r->t_start;   /* saved as time so far; restored below */
    whet_status s = whet_ckpt_save(r->cfg->output_dir, &r->lora, r->cfg->base_model, &r->opt, &r->c, st, err);
    r->c.elapsed_s -= now_s() - r->t_start;
    cJSON_Delete(st);
    if (!s && !r->cfg->quiet) whet_log(WHET_LOG_INFO, "saved checkpoint-%lld", (long long)r->c.global_step);
    return s;
}

/* One optimizer step over micro-batches [mb0, mb1) of this epoch's order. */
static whet_status train_step(run_state *r, int64_t mb0, int64_t mb1, double *step_loss, whet_error *err) {
    const whet_trainer_cfg *cfg = r->cfg;
    const int64_t n = (int64_t)r->ds->n;
    int64_t group_labels = 0;
    for (int64_t i = mb0 * cfg->batch_size; i < n && i < mb1 * cfg->batch_size; i++)
        group_labels += whet_example_n_targets(&r->ds->items[r->order[i]]);
    if (group_labels == 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "step %lld: its examples have no label tokens",
                           (long long)r->c.global_step + 1);
    memset(r->lora.grads, 0, sizeof(float) * (size_t)r->lora.n_params);
    double loss_sum = 0;
    for (int64_t mb = mb0; mb < mb1; mb++) {
        const int64_t i0 = mb * cfg->batch_size;
        const int k = (int)(i0 + cfg->batch_size <= n ? cfg->batch_size : n - i0);
        WHET_TRY(whet_batch_pack(&r->buf, r->ds, r->order + i0, k, err));
        const uint64_t noise = mix64(cfg->seed ^ mix64((uint64_t)r->c.global_step * 1024 + (uint64_t)(mb - mb0)));
        const whet_train_batch b = whet_batch_view(&r->buf, noise, true);
        whet_ce_result ce = {0};
        WHET_TRY(whet_train_forward_backward(r->tm, &b, (float)(1.0 / (double)group_labels), &ce, err));
        loss_sum += ce.loss_sum;
    }
    *step_loss = loss_sum / (double)group_labels;
    if (!isfinite(*step_loss))
        return whet_errorf(err, WHET_ERR_NUMERIC, "step %lld: the loss is %g (lower learning_rate?)",
                           (long long)r->c.global_step + 1, *step_loss);
    r->last_grad_norm = whet_clip_grad_norm(r->lora.grads, r->lora.n_params, cfg->max_grad_norm);
    whet_adamw_step(&r->opt, r->lora.params, r->lora.grads, whet_lr_at(&r->sched, r->c.global_step));
    r->c.global_step++;
    return WHET_OK;
}

static whet_status after_step(run_state *r, double step_loss, whet_error *err) {
    whet_trainer_result *res = r->res;
    res->step_losses[res->n_step_losses++] = step_loss;
    r->steps_this_run++;
    r->c.total_loss_sum += step_loss;
    r->c.log_loss_sum += step_loss;
    const int64_t g = r->c.global_step;
    if (r->log_every > 0 && g % r->log_every == 0) {
        const double elapsed = now_s() - r->t_start;
        const whet_log_entry e = {
            .step = g,
            .total_steps = r->total_steps,
            .loss = r->c.log_loss_sum / (double)(g - r->c.last_logged_step),
            .grad_norm = r->last_grad_norm,
            .lr = whet_lr_at(&r->sched, g),
            .epoch = r->epoch_f,
            .elapsed_s = r->c.elapsed_s + elapsed,
            .remaining_s = elapsed / (double)r->steps_this_run * (double)(r->total_steps - g),
        };
        WHET_TRY(whet_train_log_step(r->cfg->output_dir, &e, r->log_history, r->cfg->quiet, err));
        r->c.log_loss_sum = 0;
        r->c.last_logged_step = g;
    }
    const bool stop = (r->cfg->interrupt && *r->cfg->interrupt) ||
                      (r->cfg->stop_after_steps > 0 && r->steps_this_run >= r->cfg->stop_after_steps);
    const bool end = g >= r->total_steps;
    if ((r->save_every > 0 && (g % r->save_every == 0 || end)) || (stop && !end)) WHET_TRY(save_checkpoint(r, err));
    if (stop && !end) res->stopped_early = true;
    return WHET_OK;
}

static whet_status train_loop(run_state *r, whet_error *err) {
    const int64_t start_epoch = r->c.global_step / r->upe, skip = r->c.global_step % r->upe;
    for (int64_t epoch = start_epoch; epoch < r->n_epochs && r->c.global_step < r->total_steps; epoch++) {
        epoch_order(r, epoch);
        for (int64_t u = epoch == start_epoch ? skip : 0; u < r->upe && r->c.global_step < r->total_steps; u++) {
            const int64_t mb0 = u * r->cfg->grad_accum;
            const int64_t mb1 = mb0 + r->cfg->grad_accum < r->n_micro ? mb0 + r->cfg->grad_accum : r->n_micro;
            double loss = 0;
            WHET_TRY(train_step(r, mb0, mb1, &loss, err));
            r->epoch_f = (double)epoch + (double)mb1 / (double)r->n_micro;
            WHET_TRY(after_step(r, loss, err));
            if (r->res->stopped_early) return WHET_OK;
        }
    }
    return WHET_OK;
}

static bool dir_nonempty(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return false;
    struct dirent *e;
    bool any = false;
    while (!any && (e = readdir(d)) != NULL) any = strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return any;
}

static whet_status prepare_output(const whet_trainer_cfg *cfg, bool resuming, whet_error *err) {
    if (!cfg->output_dir[0]) return whet_errorf(err, WHET_ERR_INVALID_ARG, "output_dir: required for training");
    if (!resuming && dir_nonempty(cfg->output_dir) && !cfg->overwrite_output_dir)
        return whet_errorf(err, WHET_ERR_INVALID_ARG,
                           "output_dir %s already exists and is not empty; set overwrite_output_dir: true, or "
                           "resume_from_checkpoint",
                           cfg->output_dir);
    WHET_TRY(whet_mkdirs(cfg->output_dir, err));
    if (!resuming) {  /* LLaMA-Factory's LogCallback starts a fresh trainer_log.jsonl */
        char path[4200];
        whet_path_join(path, sizeof path, cfg->output_dir, "trainer_log.jsonl");
        remove(path);
    }
    return WHET_OK;
}

static whet_status resume(run_state *r, whet_error *err) {
    char dir[4200];
    if (strcmp(r->cfg->resume, "true") == 0) {
        WHET_TRY(whet_ckpt_latest(r->cfg->output_dir, dir, sizeof dir, err));
        if (!dir[0])
            return whet_errorf(err, WHET_ERR_NOT_FOUND, "resume_from_checkpoint: no checkpoint-N folder in %s",
                               r->cfg->output_dir);
    } else {
        snprintf(dir, sizeof dir, "%s", r->cfg->resume);
    }
    cJSON_Delete(r->log_history);
    WHET_TRY(whet_ckpt_load(dir, &r->lora, &r->opt, &r->c, &r->log_history, err));
    if (!r->log_history) r->log_history = cJSON_CreateArray();
    if (!r->cfg->quiet) whet_log(WHET_LOG_INFO, "resuming from %s at step %lld", dir, (long long)r->c.global_step);
    return WHET_OK;
}

static whet_status setup(run_state *r, whet_model *m, whet_error *err) {
    const whet_trainer_cfg *cfg = r->cfg;
    if (r->ds->n == 0) return whet_errorf(err, WHET_ERR_INVALID_ARG, "dataset: no training examples");
    if (cfg->batch_size < 1 || cfg->grad_accum < 1)
        return whet_errorf(err, WHET_ERR_INVALID_ARG,
                           "per_device_train_batch_size and gradient_accumulation_steps must be >= 1");
    const bool resuming = cfg->resume[0] != 0;
    WHET_TRY(prepare_output(cfg, resuming, err));
    WHET_TRY(whet_lora_create(&m->cfg, &cfg->lora, &r->lora, err));
    whet_lora_init_peft(&r->lora, cfg->seed);
    const whet_adamw_hparams hp = {cfg->adam_beta1, cfg->adam_beta2, cfg->adam_epsilon, cfg->weight_decay};
    WHET_TRY(whet_adamw_init(&r->opt, r->lora.n_params, &hp, err));
    const whet_train_opts to = {.gradient_checkpointing = cfg->gradient_checkpointing,
                                .neftune_alpha = cfg->neftune_alpha};
    WHET_TRY(whet_train_model_create(m, &r->lora, &to, &r->tm, err));
    r->order = malloc(sizeof(uint32_t) * r->ds->n);
    r->log_history = cJSON_CreateArray();
    r->total_steps = whet_trainer_total_steps(cfg, r->ds->n);
    r->upe = whet_trainer_updates_per_epoch(r->ds->n, cfg->batch_size, cfg->grad_accum);
    r->n_micro = ((int64_t)r->ds->n + cfg->batch_size - 1) / cfg->batch_size;
    r->n_epochs = cfg->max_steps > 0 ? cfg->max_steps / r->upe + (cfg->max_steps % r->upe > 0)
                                     : (int64_t)ceil(cfg->num_train_epochs);
    r->log_every = resolve_every(cfg->logging_steps, r->total_steps);
    r->save_every = resolve_every(cfg->save_steps, r->total_steps);
    r->sched = (whet_lr_schedule){cfg->lr_kind, cfg->learning_rate,
                                  whet_lr_warmup_steps(r->total_steps, cfg->warmup_steps, cfg->warmup_ratio),
                                  r->total_steps};
    r->res->step_losses = malloc(sizeof(double) * (size_t)(r->total_steps + 1));
    if (!r->order || !r->log_history || !r->res->step_losses)
        return whet_errorf(err, WHET_ERR_NOMEM, "trainer: out of memory");
    if (resuming) WHET_TRY(resume(r, err));
    r->res->first_step = r->c.global_step + 1;
    return WHET_OK;
}

static whet_status finish(run_state *r, whet_error *err) {
    const whet_trainer_cfg *cfg = r->cfg;
    const double runtime = r->c.elapsed_s + now_s() - r->t_start;
    const double train_loss = r->c.global_step > 0 ? r->c.total_loss_sum / (double)r->c.global_step : 0;
    r->res->train_loss = train_loss;
    /* HF's num_train_samples: max_steps × total batch, or examples × epochs */
    const double steps = (double)r->total_steps;
    const double samples = cfg->max_steps > 0 ? steps * cfg->batch_size * cfg->grad_accum
                                              : (double)r->ds->n * cfg->num_train_epochs;
    cJSON_AddItemToArray(r->log_history,
                         whet_train_summary(r->epoch_f, r->c.global_step, train_loss, runtime, samples, steps));
    whet_peft_adapter a;
    WHET_TRY(whet_lora_to_peft(&r->lora, cfg->base_model, &a, err));
    whet_status s = whet_peft_adapter_save(&a, cfg->output_dir, "float32", err);
    whet_peft_adapter_free(&a);
    WHET_TRY(s);
    char path[4200];
    whet_path_join(path, sizeof path, cfg->output_dir, "trainer_state.json");
    cJSON *st = state_json(r);
    s = whet_json_write_file(path, st, err);
    cJSON_Delete(st);
    WHET_TRY(s);
    cJSON *summary = whet_train_summary(r->epoch_f, -1, train_loss, runtime, samples, steps);
    s = whet_write_results(cfg->output_dir, summary, err);
    cJSON_Delete(summary);
    WHET_TRY(s);
    if (cfg->plot_loss) {
        whet_path_join(path, sizeof path, cfg->output_dir, "training_loss.png");
        WHET_TRY(whet_plot_loss(r->log_history, path, err));
    }
    if (!cfg->quiet) printf("train_loss = %.4f, train_runtime = %.1f s\n", train_loss, runtime);
    return WHET_OK;
}

whet_status whet_trainer_run(const whet_trainer_cfg *cfg, whet_model *m, const whet_sft_dataset *ds,
                             whet_trainer_result *res, whet_error *err) {
    memset(res, 0, sizeof *res);
    run_state r = {.cfg = cfg, .ds = ds, .res = res};
    whet_status s = setup(&r, m, err);
    r.t_start = now_s();
    r.epoch_f = (double)r.c.global_step / (double)(r.upe > 0 ? r.upe : 1);
    if (!s && !cfg->quiet)
        whet_log(WHET_LOG_INFO, "training: %zu examples, %lld steps (%lld per epoch), %lld LoRA parameters",
                 ds->n, (long long)r.total_steps, (long long)r.upe, (long long)r.lora.n_params);
    if (!s) s = train_loop(&r, err);
    if (!s && !res->stopped_early) s = finish(&r, err);
    res->global_step = r.c.global_step;
    res->total_steps = r.total_steps;
    if (s == WHET_OK && res->stopped_early && r.steps_this_run > 0)
        res->train_loss = r.c.total_loss_sum / (double)r.c.global_step;
    whet_train_model_free(r.tm);
    whet_lora_free(&r.lora);
    whet_adamw_free(&r.opt);
    whet_batch_buf_free(&r.buf);
    cJSON_Delete(r.log_history);
    free(r.order);
    return s;
}

void whet_trainer_result_free(whet_trainer_result *r) {
    free(r->step_losses);
    r->step_losses = NULL;
}
