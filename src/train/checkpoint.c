/* checkpoint.c: saving and loading trainer checkpoints (see checkpoint.h). */
#include "train/checkpoint.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/json.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"

static whet_status set_meta_i64(whet_st_writer *w, const char *key, int64_t v, whet_error *err) {
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return whet_st_writer_set_metadata(w, key, buf, err);
}

static whet_status set_meta_f64(whet_st_writer *w, const char *key, double v, whet_error *err) {
    char buf[64];
    snprintf(buf, sizeof buf, "%a", v);   /* exact */
    return whet_st_writer_set_metadata(w, key, buf, err);
}

static whet_status write_state(const char *path, const whet_lora *l, const whet_adamw *opt,
                               const whet_ckpt_counters *c, whet_error *err) {
    whet_st_writer *w = NULL;
    WHET_TRY(whet_st_writer_create(&w, err));
    const int64_t shape[1] = {l->n_params};
    whet_status s = whet_st_writer_add(w, "params", WHET_DT_F32, 1, shape, l->params, err);
    if (!s) s = whet_st_writer_add(w, "exp_avg", WHET_DT_F32, 1, shape, opt->m, err);
    if (!s) s = whet_st_writer_add(w, "exp_avg_sq", WHET_DT_F32, 1, shape, opt->v, err);
    if (!s) s = set_meta_i64(w, "global_step", c->global_step, err);
    if (!s) s = set_meta_i64(w, "adam_step", opt->step, err);
    if (!s) s = set_meta_i64(w, "last_logged_step", c->last_logged_step, err);
    if (!s) s = set_meta_f64(w, "total_loss_sum", c->total_loss_sum, err);
    if (!s) s = set_meta_f64(w, "log_loss_sum", c->log_loss_sum, err);
    if (!s) s = set_meta_f64(w, "elapsed_s", c->elapsed_s, err);
    if (!s) s = whet_st_writer_write(w, path, err);
    whet_st_writer_free(w);
    return s;
}

whet_status whet_ckpt_save(const char *output_dir, const whet_lora *l, const char *base_model, const whet_adamw *opt,
                           const whet_ckpt_counters *c, const cJSON *trainer_state_json, whet_error *err) {
    char name[64], tmp[4200], final_dir[4200], path[4400];
    snprintf(name, sizeof name, ".checkpoint-%" PRId64 ".tmp", c->global_step);
    whet_path_join(tmp, sizeof tmp, output_dir, name);
    snprintf(name, sizeof name, "checkpoint-%" PRId64, c->global_step);
    whet_path_join(final_dir, sizeof final_dir, output_dir, name);
    WHET_TRY(whet_mkdirs(tmp, err));
    whet_peft_adapter a;
    WHET_TRY(whet_lora_to_peft(l, base_model, &a, err));
    whet_status s = whet_peft_adapter_save(&a, tmp, "float32", err);
    whet_peft_adapter_free(&a);
    whet_path_join(path, sizeof path, tmp, WHET_CKPT_STATE_FILE);
    if (!s) s = write_state(path, l, opt, c, err);
    whet_path_join(path, sizeof path, tmp, "trainer_state.json");
    if (!s) s = whet_json_write_file(path, trainer_state_json, err);
    if (!s) s = whet_atomic_rename_dir(tmp, final_dir, err);
    if (s) return whet_error_prefix(err, "saving checkpoint %s", final_dir);
    return WHET_OK;
}

static whet_status meta(const cJSON *md, const char *key, const char *path, bool is_float, int64_t *i, double *d,
                        whet_error *err) {
    const cJSON *v = md ? cJSON_GetObjectItemCaseSensitive(md, key) : NULL;
    if (!cJSON_IsString(v))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: metadata key '%s' missing (not a whet checkpoint?)", path, key);
    char *end = NULL;
    if (is_float) *d = strtod(v->valuestring, &end);
    else *i = strtoll(v->valuestring, &end, 10);
    if (!end || *end) return whet_errorf(err, WHET_ERR_FORMAT, "%s: metadata '%s' = '%s' is not a number", path, key,
                                         v->valuestring);
    return WHET_OK;
}

static whet_status read_state(const char *path, whet_lora *l, whet_adamw *opt, whet_ckpt_counters *c,
                              whet_error *err) {
    whet_safetensors *st = NULL;
    WHET_TRY(whet_safetensors_open(path, &st, err));
    const int64_t shape[1] = {l->n_params};
    whet_status s = whet_safetensors_read_f32(st, "params", 1, shape, l->params, err);
    if (!s) s = whet_safetensors_read_f32(st, "exp_avg", 1, shape, opt->m, err);
    if (!s) s = whet_safetensors_read_f32(st, "exp_avg_sq", 1, shape, opt->v, err);
    const cJSON *md = whet_safetensors_metadata(st);
    double unused_d;
    int64_t unused_i;
    if (!s) s = meta(md, "global_step", path, false, &c->global_step, &unused_d, err);
    if (!s) s = meta(md, "adam_step", path, false, &opt->step, &unused_d, err);
    if (!s) s = meta(md, "last_logged_step", path, false, &c->last_logged_step, &unused_d, err);
    if (!s) s = meta(md, "total_loss_sum", path, true, &unused_i, &c->total_loss_sum, err);
    if (!s) s = meta(md, "log_loss_sum", path, true, &unused_i, &c->log_loss_sum, err);
    if (!s) s = meta(md, "elapsed_s", path, true, &unused_i, &c->elapsed_s, err);
    whet_safetensors_close(st);
    if (s && s != WHET_ERR_FORMAT)
        whet_error_prefix(err, "%s (does the checkpoint match this model and lora settings?)", path);
    return s;
}

whet_status whet_ckpt_load(const char *dir, whet_lora *l, whet_adamw *opt, whet_ckpt_counters *c,
                           cJSON **log_history, whet_error *err) {
    char path[4400];
    *log_history = NULL;
    whet_peft_adapter a;
    WHET_TRY(whet_peft_adapter_load(dir, &a, err));
    whet_status s = whet_lora_load_peft(l, &a, err);   /* checks r, alpha, rsLoRA, targets */
    whet_peft_adapter_free(&a);
    if (s) return whet_error_prefix(err, "resume_from_checkpoint %s", dir);
    whet_path_join(path, sizeof path, dir, WHET_CKPT_STATE_FILE);
    WHET_TRY(read_state(path, l, opt, c, err));
    whet_path_join(path, sizeof path, dir, "trainer_state.json");
    cJSON *state = NULL;
    WHET_TRY(whet_json_parse_file(path, &state, err));
    cJSON *hist = cJSON_DetachItemFromObjectCaseSensitive(state, "log_history");
    cJSON_Delete(state);
    if (hist && !cJSON_IsArray(hist)) {
        cJSON_Delete(hist);
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: log_history is not an array", path);
    }
    *log_history = hist;
    return WHET_OK;
}

whet_status whet_ckpt_latest(const char *output_dir, char *out, size_t cap, whet_error *err) {
    out[0] = 0;
    DIR *d = opendir(output_dir);
    if (!d) return whet_errorf(err, WHET_ERR_NOT_FOUND, "resume_from_checkpoint: cannot open output_dir %s", output_dir);
    long long best = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long long n;
        char tail;
        if (sscanf(e->d_name, "checkpoint-%lld%c", &n, &tail) == 1 && n > best) best = n;
    }
    closedir(d);
    if (best < 0) return WHET_OK;
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%lld", best);
    whet_path_join(out, cap, output_dir, name);
    return WHET_OK;
}
