/* loss_plot.h: training_loss.png as LLaMA-Factory's plot_loss draws it: the
 * logged losses against the step (faint) and their smoothed curve (an EMA
 * with weight 1.8/(1+e^{-0.05·n}) − 0.9, LLaMA-Factory's `smooth`), drawn
 * with cairo. */
#ifndef WHET_TRAIN_LOSS_PLOT_H
#define WHET_TRAIN_LOSS_PLOT_H
#include <cjson/cJSON.h>
#include "core/status.h"

/* Plot the "loss" entries of an HF log_history array into `png_path`. */
whet_status whet_plot_loss(const cJSON *log_history, const char *png_path, whet_error *err);
#endif
