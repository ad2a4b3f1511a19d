/* train_log.h: the trainer's logs in the formats HF Trainer and
 * LLaMA-Factory write, so their tools read whet's output_dir:
 *   stdout: {'loss': 1.2345, 'grad_norm': 0.87, 'learning_rate': 0.0001, 'epoch': 0.5}
 *   output_dir/trainer_log.jsonl (LLaMA-Factory's LogCallback), one line per log:
 *     {"current_steps", "total_steps", "loss", "lr", "epoch", "percentage", "elapsed_time", "remaining_time"}
 *   trainer_state.json (HF TrainerState with log_history), train_results.json / all_results.json. */
#ifndef WHET_TRAIN_TRAIN_LOG_H
#define WHET_TRAIN_TRAIN_LOG_H
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include "core/status.h"

typedef struct {
    int64_t step, total_steps;
    double loss, grad_norm, lr, epoch;
    double elapsed_s, remaining_s;
} whet_log_entry;

/* "H:MM:SS" as Python's str(timedelta(seconds=int(s))). */
void whet_format_duration(double s, char *out, size_t cap);
/* Append the entry to log_history (HF keys), print it and append a line to
 * output_dir/trainer_log.jsonl. */
whet_status whet_train_log_step(const char *output_dir, const whet_log_entry *e, cJSON *log_history, bool quiet,
                                whet_error *err);
/* HF TrainerState as JSON (log_history is copied). */
cJSON *whet_trainer_state_json(int64_t global_step, int64_t max_steps, double epoch, double num_train_epochs,
                               int64_t logging_steps, int64_t save_steps, int batch_size, const cJSON *log_history);
/* The run summary: log_history's last entry, train_results.json and all_results.json. */
cJSON *whet_train_summary(double epoch, int64_t step, double train_loss, double runtime_s, double n_samples_run,
                          double n_steps_run);
whet_status whet_write_results(const char *output_dir, const cJSON *summary, whet_error *err);
#endif
