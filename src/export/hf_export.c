/* hf_export.c: write a merged model as a Hugging Face folder, the way
 * LLaMA-Factory's export does with model.save_pretrained(export_dir,
 * max_shard_size=f"{export_size}GB", safe_serialization=True):
 *   - tensors cast to the export dtype, split into shards in state_dict
 *     order the way huggingface_hub does (a new shard when the next tensor
 *     would push the current one past max_shard_size; "GB" = 1e9 bytes),
 *     model-0000k-of-0000n.safetensors + model.safetensors.index.json, or
 *     one model.safetensors when it fits;
 *   - config.json with torch_dtype (and dtype, when the config has it) set;
 *   - generation_config.json, tokenizer and chat template files copied,
 *     tokenizer_config.json with padding_side "left" (as LF saves it);
 *   - the Ollama Modelfile.
 * Everything goes into "<export_dir>.tmp.<pid>" first, which is renamed over
 * export_dir at the end, so a failed export leaves no half-written folder. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/half.h"
#include "core/json.h"
#include "export/merge.h"
#include "io/safetensors.h"

const char *whet_export_torch_dtype(whet_dtype t) {
    return t == WHET_DT_BF16 ? "bfloat16" : t == WHET_DT_F16 ? "float16" : "float32";
}

whet_status whet_export_check_dir(const char *dir, bool overwrite, whet_error *err) {
    DIR *d = opendir(dir);
    if (!d) {
        if (whet_file_exists(dir)) return whet_errorf(err, WHET_ERR_INVALID_ARG, "export_dir %s is a file, not a folder", dir);
        return WHET_OK;
    }
    struct dirent *e;
    bool empty = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) empty = false;
    closedir(d);
    if (!empty && !overwrite)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "export_dir %s is not empty; choose a new folder or set "
                           "overwrite_output_dir: true to replace it", dir);
    return WHET_OK;
}

/* One tensor cast to the export dtype (malloc'd). */
static void *cast_tensor(const whet_export_tensor *t, whet_dtype dt) {
    size_t n = (size_t)t->numel;
    if (dt == WHET_DT_F32) {
        float *o = malloc(n * 4 + 1);
        if (o) memcpy(o, t->data, n * 4);
        return o;
    }
    uint16_t *o = malloc(n * 2 + 1);
    if (!o) return NULL;
    if (dt == WHET_DT_BF16) whet_f32_to_bf16_row(t->data, o, n);
    else whet_f32_to_fp16_row(t->data, o, n);
    return o;
}

static whet_status write_shard(const whet_export_model *m, size_t begin, size_t end, whet_dtype dt,
                               const char *path, whet_error *err) {
    whet_st_writer *w;
    WHET_TRY(whet_st_writer_create(&w, err));
    void **bufs = calloc(end - begin + 1, sizeof *bufs);
    whet_status s = bufs ? whet_st_writer_set_metadata(w, "format", "pt", err)
                         : whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = begin; s == WHET_OK && i < end; i++) {
        const whet_export_tensor *t = &m->t[i];
        if (!(bufs[i - begin] = cast_tensor(t, dt))) {
            s = whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for '%s'", path, t->name);
            break;
        }
        s = whet_st_writer_add(w, t->name, dt, t->ndim, t->shape, bufs[i - begin], err);
    }
    if (s == WHET_OK) s = whet_st_writer_write(w, path, err);
    whet_st_writer_free(w);
    if (bufs)
        for (size_t i = 0; i < end - begin; i++) free(bufs[i]);
    free(bufs);
    return s;
}

/* Shard boundaries: shard k holds tensors [cut[k], cut[k+1]). Returns the shard count. */
static size_t plan_shards(const whet_export_model *m, whet_dtype dt, double max_gb, size_t *cut) {
    const double max_bytes = max_gb > 0 ? max_gb * 1e9 : 1e300;
    size_t n_shards = 0, cur = 0;
    cut[0] = 0;
    for (size_t i = 0; i < m->n; i++) {
        size_t bytes = whet_dtype_nbytes(dt, (size_t)m->t[i].numel);
        if (i > cut[n_shards] && (double)(cur + bytes) > max_bytes) {
            cut[++n_shards] = i;
            cur = 0;
        }
        cur += bytes;
    }
    cut[++n_shards] = m->n;
    return n_shards;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static whet_status write_weights(const whet_export_model *m, const whet_hf_export_opts *o, const char *dir,
                                 whet_error *err) {
    size_t *cut = malloc((m->n + 2) * sizeof *cut);
    if (!cut) return whet_errorf(err, WHET_ERR_NOMEM, "export: out of memory");
    const size_t n_shards = plan_shards(m, o->dtype, o->export_size_gb, cut);
    char path[4400], file[64];
    whet_status s = WHET_OK;
    cJSON *index = n_shards > 1 ? cJSON_CreateObject() : NULL, *map = NULL;
    if (index) {
        cJSON *meta = cJSON_AddObjectToObject(index, "metadata");
        size_t total = 0;
        for (size_t i = 0; i < m->n; i++) total += whet_dtype_nbytes(o->dtype, (size_t)m->t[i].numel);
        cJSON_AddNumberToObject(meta, "total_size", (double)total);
        map = cJSON_AddObjectToObject(index, "weight_map");
    }
    for (size_t k = 0; s == WHET_OK && k < n_shards; k++) {
        if (n_shards == 1) snprintf(file, sizeof file, "model.safetensors");
        else snprintf(file, sizeof file, "model-%05zu-of-%05zu.safetensors", k + 1, n_shards);
        snprintf(path, sizeof path, "%s/%s", dir, file);
        s = write_shard(m, cut[k], cut[k + 1], o->dtype, path, err);
        for (size_t i = cut[k]; map && i < cut[k + 1]; i++) cJSON_AddStringToObject(map, m->t[i].name, file);
    }
    if (s == WHET_OK && index) {
        /* transformers writes the weight_map sorted by name */
        const int n = cJSON_GetArraySize(map);
        const char **names = malloc((size_t)(n ? n : 1) * sizeof *names);
        cJSON *sorted = cJSON_CreateObject();
        int j = 0;
        for (cJSON *e = map->child; names && e; e = e->next) names[j++] = e->string;
        if (names) qsort(names, (size_t)n, sizeof *names, cmp_str);
        for (j = 0; names && j < n; j++)
            cJSON_AddStringToObject(sorted, names[j], cJSON_GetObjectItemCaseSensitive(map, names[j])->valuestring);
        free(names);
        cJSON_ReplaceItemInObjectCaseSensitive(index, "weight_map", sorted);
        snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
        s = whet_json_write_file(path, index, err);
    }
    cJSON_Delete(index);
    free(cut);
    return s;
}

static whet_status write_config(const whet_export_model *m, whet_dtype dt, const char *dir, whet_error *err) {
    char path[4400];
    snprintf(path, sizeof path, "%s/config.json", m->model_dir);
    cJSON *cfg;
    WHET_TRY(whet_json_parse_file(path, &cfg, err));
    const char *name = whet_export_torch_dtype(dt);
    if (cJSON_GetObjectItemCaseSensitive(cfg, "dtype")) cJSON_ReplaceItemInObjectCaseSensitive(cfg, "dtype", cJSON_CreateString(name));
    if (cJSON_GetObjectItemCaseSensitive(cfg, "torch_dtype"))
        cJSON_ReplaceItemInObjectCaseSensitive(cfg, "torch_dtype", cJSON_CreateString(name));
    else cJSON_AddStringToObject(cfg, "torch_dtype", name);
    snprintf(path, sizeof path, "%s/config.json", dir);
    whet_status s = whet_json_write_file(path, cfg, err);
    cJSON_Delete(cfg);
    return s;
}

static whet_status copy_file(const char *from, const char *to, whet_error *err) {
    char *data;
    size_t len;
    WHET_TRY(whet_read_file(from, &data, &len, err));
    whet_status s = whet_atomic_write(to, data, len, err);
    free(data);
    return s;
}

/* tokenizer_config.json with padding_side "left" (LLaMA-Factory's export does this). */
static whet_status write_tokenizer_config(const char *from, const char *to, whet_error *err) {
    cJSON *tc;
    WHET_TRY(whet_json_parse_file(from, &tc, err));
    if (cJSON_GetObjectItemCaseSensitive(tc, "padding_side"))
        cJSON_ReplaceItemInObjectCaseSensitive(tc, "padding_side", cJSON_CreateString("left"));
    else cJSON_AddStringToObject(tc, "padding_side", "left");
    whet_status s = whet_json_write_file(to, tc, err);
    cJSON_Delete(tc);
    return s;
}

static whet_status copy_side_files(const whet_export_model *m, const char *dir, whet_error *err) {
    static const char *const files[] = {"generation_config.json", "tokenizer.json", "tokenizer.model",
                                        "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt",
                                        "chat_template.jinja", "chat_template.json", "tokenizer_config.json"};
    char from[4400], to[4400];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(from, sizeof from, "%s/%s", m->model_dir, files[i]);
        if (!whet_file_exists(from)) continue;
        snprintf(to, sizeof to, "%s/%s", dir, files[i]);
        if (!strcmp(files[i], "tokenizer_config.json")) WHET_TRY(write_tokenizer_config(from, to, err));
        else WHET_TRY(copy_file(from, to, err));
    }
    return WHET_OK;
}

whet_status whet_export_hf(const whet_export_model *m, const whet_hf_export_opts *o, whet_error *err) {
    if (o->dtype != WHET_DT_F32 && o->dtype != WHET_DT_BF16 && o->dtype != WHET_DT_F16)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "export: dtype %s is not a safetensors export dtype "
                           "(use export_dtype: bf16, f16 or f32; quantized types go to GGUF)", whet_dtype_name(o->dtype));
    WHET_TRY(whet_export_check_dir(o->export_dir, o->overwrite, err));
    char dir[4096], tmp[4200];
    snprintf(dir, sizeof dir, "%s", o->export_dir);
    for (size_t n = strlen(dir); n > 1 && dir[n - 1] == '/'; n--) dir[n - 1] = 0;
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid());
    whet_remove_flat_dir(tmp);
    WHET_TRY(whet_mkdirs(tmp, err));
    whet_status s = write_weights(m, o, tmp, err);
    if (s == WHET_OK) s = write_config(m, o->dtype, tmp, err);
    if (s == WHET_OK) s = copy_side_files(m, tmp, err);
    if (s == WHET_OK && o->modelfile) {
        char path[4400];
        snprintf(path, sizeof path, "%s/Modelfile", tmp);
        s = whet_atomic_write(path, o->modelfile, strlen(o->modelfile), err);
    }
    if (s == WHET_OK) s = whet_atomic_rename_dir(tmp, dir, err);
    if (s != WHET_OK) whet_remove_flat_dir(tmp);
    return s;
}
