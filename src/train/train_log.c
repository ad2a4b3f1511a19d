/* train_log.c: stdout, trainer_log.jsonl, trainer_state.json and results
 * files (see train_log.h). */
#include "train/train_log.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"

void whet_format_duration(double s, char *out, size_t cap) {
    long long t = s > 0 ? (long long)s : 0;
    snprintf(out, cap, "%lld:%02lld:%02lld", t / 3600, t / 60 % 60, t % 60);
}

static double round_to(double v, int digits) {
    const double p = pow(10.0, digits);
    return round(v * p) / p;
}

whet_status whet_train_log_step(const char *output_dir, const whet_log_entry *e, cJSON *log_history, bool quiet,
                                whet_error *err) {
    const double loss = round_to(e->loss, 4);  /* HF rounds the logged loss to 4 digits */
    cJSON *h = cJSON_CreateObject();
    cJSON_AddNumberToObject(h, "loss", loss);
    cJSON_AddNumberToObject(h, "grad_norm", e->grad_norm);
    cJSON_AddNumberToObject(h, "learning_rate", e->lr);
    cJSON_AddNumberToObject(h, "epoch", e->epoch);
    cJSON_AddNumberToObject(h, "step", (double)e->step);
    cJSON_AddItemToArray(log_history, h);
    if (!quiet)
        printf("{'loss': %.4f, 'grad_norm': %.6g, 'learning_rate': %.6g, 'epoch': %.4g}\n", loss, e->grad_norm, e->lr,
               e->epoch);
    char elapsed[32], remaining[32];
    whet_format_duration(e->elapsed_s, elapsed, sizeof elapsed);
    whet_format_duration(e->remaining_s, remaining, sizeof remaining);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "current_steps", (double)e->step);
    cJSON_AddNumberToObject(j, "total_steps", (double)e->total_steps);
    cJSON_AddNumberToObject(j, "loss", loss);
    cJSON_AddNumberToObject(j, "lr", e->lr);
    cJSON_AddNumberToObject(j, "epoch", round_to(e->epoch, 2));
    cJSON_AddNumberToObject(j, "percentage", round_to(100.0 * (double)e->step / (double)e->total_steps, 2));
    cJSON_AddStringToObject(j, "elapsed_time", elapsed);
    cJSON_AddStringToObject(j, "remaining_time", remaining);
    char *line = whet_json_print(j, false);
    cJSON_Delete(j);
    char path[4200];
    whet_path_join(path, sizeof path, output_dir, "trainer_log.jsonl");
    FILE *f = fopen(path, "a");
    const bool ok = f && line && fprintf(f, "%s\n", line) > 0;
    if (f && fclose(f) != 0) return whet_errorf(err, WHET_ERR_IO, "%s: write failed", path);
    cJSON_free(line);
    if (!ok) return whet_errorf(err, WHET_ERR_IO, "%s: cannot append the log line", path);
    if (!quiet) fflush(stdout);
    return WHET_OK;
}

cJSON *whet_trainer_state_json(int64_t global_step, int64_t max_steps, double epoch, double num_train_epochs,
                               int64_t logging_steps, int64_t save_steps, int batch_size, const cJSON *log_history) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNullToObject(s, "best_global_step");
    cJSON_AddNullToObject(s, "best_metric");
    cJSON_AddNullToObject(s, "best_model_checkpoint");
    cJSON_AddNumberToObject(s, "epoch", epoch);
    cJSON_AddNumberToObject(s, "eval_steps", 500);
    cJSON_AddNumberToObject(s, "global_step", (double)global_step);
    cJSON_AddBoolToObject(s, "is_hyper_param_search", 0);
    cJSON_AddBoolToObject(s, "is_local_process_zero", 1);
    cJSON_AddBoolToObject(s, "is_world_process_zero", 1);
    cJSON_AddItemToObject(s, "log_history",
                          log_history ? cJSON_Duplicate(log_history, 1) : cJSON_CreateArray());
    cJSON_AddNumberToObject(s, "logging_steps", (double)logging_steps);
    cJSON_AddNumberToObject(s, "max_steps", (double)max_steps);
    cJSON_AddNumberToObject(s, "num_input_tokens_seen", 0);
    cJSON_AddNumberToObject(s, "num_train_epochs", ceil(num_train_epochs));
    cJSON_AddNumberToObject(s, "save_steps", (double)save_steps);
    cJSON_AddNumberToObject(s, "total_flos", 0);
    cJSON_AddNumberToObject(s, "train_batch_size", batch_size);
    cJSON_AddNullToObject(s, "trial_name");
    cJSON_AddNullToObject(s, "trial_params");
    return s;
}

cJSON *whet_train_summary(double epoch, int64_t step, double train_loss, double runtime_s, double n_samples_run,
                          double n_steps_run) {
    cJSON *r = cJSON_CreateObject();
    cJSON_AddNumberToObject(r, "epoch", epoch);
    if (step >= 0) cJSON_AddNumberToObject(r, "step", (double)step);
    cJSON_AddNumberToObject(r, "total_flos", 0);
    cJSON_AddNumberToObject(r, "train_loss", train_loss);
    cJSON_AddNumberToObject(r, "train_runtime", round_to(runtime_s, 4));
    const double rt = runtime_s > 0 ? runtime_s : 1e-9;
    cJSON_AddNumberToObject(r, "train_samples_per_second", round_to(n_samples_run / rt, 3));
    cJSON_AddNumberToObject(r, "train_steps_per_second", round_to(n_steps_run / rt, 3));
    return r;
}

whet_status whet_write_results(const char *output_dir, const cJSON *summary, whet_error *err) {
    char path[4200];
    whet_path_join(path, sizeof path, output_dir, "train_results.json");
    WHET_TRY(whet_json_write_file(path, summary, err));
    whet_path_join(path, sizeof path, output_dir, "all_results.json");
    return whet_json_write_file(path, summary, err);
}
