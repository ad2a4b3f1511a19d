/* peft_adapter.c: load and save PEFT LoRA adapter folders
 * (adapter_config.json + adapter_model.safetensors) in PEFT's own layout:
 * tensor names base_model.model.model.layers.<L>.<self_attn|mlp>.<module>.lora_<A|B>.weight,
 * lora_A [r, in], lora_B [out, r]. Loading validates the config against the
 * tensors (rank, pairs, shapes); saving writes both files atomically. */
#include "io/peft_adapter.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/file.h"
#include "core/half.h"
#include "core/json.h"
#include "io/safetensors.h"

static const char *const k_modules[] = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
#define N_MODULES ((int)(sizeof k_modules / sizeof k_modules[0]))

static int module_index(const char *m) {
    for (int i = 0; i < N_MODULES; i++)
        if (strcmp(k_modules[i], m) == 0) return i;
    return -1;
}

static const char *module_block(const char *m) {
    int i = module_index(m);
    return i >= 0 && i < 4 ? "self_attn" : "mlp";
}

float whet_peft_adapter_scale(const whet_peft_adapter *a) {
    if (a->r <= 0) return 0.0f;
    return a->use_rslora ? a->lora_alpha / sqrtf((float)a->r) : a->lora_alpha / (float)a->r;
}

const whet_lora_pair *whet_peft_adapter_find(const whet_peft_adapter *a, int layer, const char *module) {
    for (int i = 0; i < a->n_pairs; i++)
        if (a->pairs[i].layer == layer && strcmp(a->pairs[i].module, module) == 0) return &a->pairs[i];
    return NULL;
}

void whet_peft_adapter_free(whet_peft_adapter *a) {
    if (!a) return;
    for (int i = 0; i < a->n_pairs; i++) {
        free(a->pairs[i].a);
        free(a->pairs[i].b);
    }
    free(a->pairs);
    memset(a, 0, sizeof *a);
}

/* ---- config ---- */

static whet_status reject_nonempty_object(const cJSON *cfg, const char *key, const char *path, whet_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(cfg, key);
    if (v && cJSON_IsObject(v) && v->child)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: \"%s\" (per-module rank/alpha) is not supported; retrain with one r and lora_alpha",
                           path, key);
    return WHET_OK;
}

static whet_status parse_targets(const cJSON *cfg, const char *path, whet_peft_adapter *out, whet_error *err) {
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(cfg, "target_modules");
    if (!t || cJSON_IsNull(t)) return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: missing key \"target_modules\"", path);
    if (cJSON_IsString(t)) { /* PEFT also accepts one string (a regex or a name) */
        snprintf(out->targets[0], sizeof out->targets[0], "%s", t->valuestring);
        out->n_targets = 1;
        return WHET_OK;
    }
    if (!cJSON_IsArray(t))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"target_modules\" must be a list of module names", path);
    const cJSON *it;
    cJSON_ArrayForEach(it, t) {
        if (!cJSON_IsString(it))
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"target_modules\" entries must be strings", path);
        if (out->n_targets >= WHET_LORA_MAX_TARGETS)
            return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: more than %d target_modules", path,
                               WHET_LORA_MAX_TARGETS);
        if (strlen(it->valuestring) >= sizeof out->targets[0])
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: target module name \"%s\" is too long", path,
                               it->valuestring);
        snprintf(out->targets[out->n_targets++], sizeof out->targets[0], "%s", it->valuestring);
    }
    return WHET_OK;
}

static whet_status parse_config(const cJSON *cfg, const char *path, whet_peft_adapter *out, whet_error *err) {
    const char *peft_type = NULL;
    WHET_TRY(whet_json_string_or(cfg, "peft_type", path, "LORA", &peft_type, err));
    if (strcmp(peft_type, "LORA") != 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: peft_type \"%s\" is not supported (only LORA)", path,
                           peft_type);
    int64_t r = 0;
    WHET_TRY(whet_json_get_int(cfg, "r", path, &r, err));
    if (r <= 0 || r > 65536) return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"r\" = %lld must be positive", path, (long long)r);
    out->r = (int)r;
    double alpha = 0, dropout = 0;
    WHET_TRY(whet_json_get_double(cfg, "lora_alpha", path, &alpha, err));
    WHET_TRY(whet_json_double_or(cfg, "lora_dropout", path, 0.0, &dropout, err));
    out->lora_alpha = (float)alpha;
    out->lora_dropout = (float)dropout;
    WHET_TRY(whet_json_bool_or(cfg, "use_rslora", path, false, &out->use_rslora, err));
    bool use_dora = false, fan_in_fan_out = false;
    WHET_TRY(whet_json_bool_or(cfg, "use_dora", path, false, &use_dora, err));
    WHET_TRY(whet_json_bool_or(cfg, "fan_in_fan_out", path, false, &fan_in_fan_out, err));
    if (use_dora) return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: DoRA adapters (use_dora: true) are not supported", path);
    if (fan_in_fan_out)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: fan_in_fan_out adapters (GPT-2 Conv1D) are not supported", path);
    WHET_TRY(reject_nonempty_object(cfg, "rank_pattern", path, err));
    WHET_TRY(reject_nonempty_object(cfg, "alpha_pattern", path, err));
    const cJSON *mts = cJSON_GetObjectItemCaseSensitive(cfg, "modules_to_save");
    if (mts && cJSON_IsArray(mts) && cJSON_GetArraySize(mts) > 0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: modules_to_save (fully trained embed_tokens/lm_head) is not supported", path);
    const cJSON *base = cJSON_GetObjectItemCaseSensitive(cfg, "base_model_name_or_path");
    if (base && cJSON_IsString(base))
        snprintf(out->base_model_name_or_path, sizeof out->base_model_name_or_path, "%s", base->valuestring);
    return parse_targets(cfg, path, out, err);
}

/* ---- tensor names ---- */

/* Parse "base_model.model.model.layers.<L>.<block>.<module>.lora_<A|B>[.default].weight". */
static bool parse_name(const char *name, int *layer, char module[32], bool *is_a) {
    static const char prefix[] = "base_model.model.model.layers.";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) return false;
    const char *p = name + sizeof prefix - 1;
    char *end = NULL;
    long l = strtol(p, &end, 10);
    if (end == p || *end != '.' || l < 0 || l > 100000) return false;
    p = end + 1;
    const char *block_end = strchr(p, '.');
    if (!block_end) return false;
    size_t bl = (size_t)(block_end - p);
    if (!((bl == 9 && strncmp(p, "self_attn", 9) == 0) || (bl == 3 && strncmp(p, "mlp", 3) == 0))) return false;
    p = block_end + 1;
    const char *mod_end = strstr(p, ".lora_");
    if (!mod_end || (size_t)(mod_end - p) >= 32) return false;
    memcpy(module, p, (size_t)(mod_end - p));
    module[mod_end - p] = 0;
    if (module_index(module) < 0 || strcmp(module_block(module), bl == 3 ? "mlp" : "self_attn") != 0) return false;
    p = mod_end + 6;
    if (*p != 'A' && *p != 'B') return false;
    *is_a = *p == 'A';
    p++;
    if (strcmp(p, ".weight") != 0 && strcmp(p, ".default.weight") != 0) return false;
    *layer = (int)l;
    return true;
}

static int pair_cmp(const void *x, const void *y) {
    const whet_lora_pair *a = x, *b = y;
    if (a->layer != b->layer) return a->layer < b->layer ? -1 : 1;
    return module_index(a->module) - module_index(b->module);
}

static whet_lora_pair *get_pair(whet_peft_adapter *a, int layer, const char *module, int *cap) {
    for (int i = 0; i < a->n_pairs; i++)
        if (a->pairs[i].layer == layer && strcmp(a->pairs[i].module, module) == 0) return &a->pairs[i];
    if (a->n_pairs == *cap) {
        int nc = *cap ? *cap * 2 : 32;
        whet_lora_pair *np = realloc(a->pairs, (size_t)nc * sizeof *np);
        if (!np) return NULL;
        a->pairs = np;
        *cap = nc;
    }
    whet_lora_pair *p = &a->pairs[a->n_pairs++];
    memset(p, 0, sizeof *p);
    p->layer = layer;
    snprintf(p->module, sizeof p->module, "%s", module);
    return p;
}

static whet_status load_tensor(whet_peft_adapter *out, const whet_st_tensor *t, const char *path, int *cap,
                               whet_error *err) {
    int layer = 0;
    char module[32];
    bool is_a = false;
    if (!parse_name(t->name, &layer, module, &is_a))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: tensor \"%s\" is not a LoRA matrix of a decoder layer's q/k/v/o/gate/up/down_proj "
                           "(embedding/lm_head adapters and modules_to_save are not supported)", path, t->name);
    if (t->ndim != 2)
        return whet_errorf(err, WHET_ERR_SHAPE, "%s: tensor \"%s\" has %d dims, expected 2", path, t->name, t->ndim);
    int64_t rows = t->shape[0], cols = t->shape[1];
    if (is_a ? rows != out->r : cols != out->r)
        return whet_errorf(err, WHET_ERR_SHAPE,
                           "%s: tensor \"%s\" has shape [%lld, %lld] but adapter_config.json says r = %d "
                           "(lora_A is [r, in], lora_B is [out, r])", path, t->name, (long long)rows,
                           (long long)cols, out->r);
    whet_lora_pair *p = get_pair(out, layer, module, cap);
    if (!p) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory", path);
    if ((is_a && p->a) || (!is_a && p->b))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: tensor \"%s\" appears twice", path, t->name);
    float *dst = malloc((size_t)t->numel * sizeof(float));
    if (!dst) return whet_errorf(err, WHET_ERR_NOMEM, "%s: out of memory for \"%s\"", path, t->name);
    whet_status s = whet_st_tensor_to_f32(t, dst, err);
    if (s != WHET_OK) {
        free(dst);
        return whet_error_prefix(err, "%s: tensor \"%s\"", path, t->name);
    }
    if (is_a) {
        p->a = dst;
        p->in_features = cols;
    } else {
        p->b = dst;
        p->out_features = rows;
    }
    return WHET_OK;
}

static whet_status load_tensors(whet_peft_adapter *out, const char *path, whet_error *err) {
    whet_safetensors *st = NULL;
    WHET_TRY(whet_safetensors_open(path, &st, err));
    whet_status s = WHET_OK;
    int cap = 0;
    size_t n = whet_safetensors_count(st);
    for (size_t i = 0; i < n && s == WHET_OK; i++) s = load_tensor(out, whet_safetensors_at(st, i), path, &cap, err);
    whet_safetensors_close(st);
    if (s != WHET_OK) return s;
    if (out->n_pairs == 0) return whet_errorf(err, WHET_ERR_FORMAT, "%s: no LoRA tensors in the file", path);
    for (int i = 0; i < out->n_pairs; i++) {
        const whet_lora_pair *p = &out->pairs[i];
        if (!p->a || !p->b)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: layer %d %s has lora_%s but no lora_%s", path, p->layer,
                               p->module, p->a ? "A" : "B", p->a ? "B" : "A");
    }
    qsort(out->pairs, (size_t)out->n_pairs, sizeof *out->pairs, pair_cmp);
    return WHET_OK;
}

whet_status whet_peft_adapter_load(const char *dir, whet_peft_adapter *out, whet_error *err) {
    memset(out, 0, sizeof *out);
    char cfg_path[4096], st_path[4096];
    whet_path_join(cfg_path, sizeof cfg_path, dir, "adapter_config.json");
    whet_path_join(st_path, sizeof st_path, dir, "adapter_model.safetensors");
    if (!whet_dir_exists(dir))
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "adapter folder %s does not exist (adapter_name_or_path)", dir);
    if (!whet_file_exists(cfg_path))
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s is missing: %s is not a PEFT adapter folder", cfg_path, dir);
    if (!whet_file_exists(st_path)) {
        char bin_path[4096];
        whet_path_join(bin_path, sizeof bin_path, dir, "adapter_model.bin");
        if (whet_file_exists(bin_path))
            return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                               "%s: pickled adapter_model.bin is not supported; re-save it with PEFT's "
                               "save_pretrained(safe_serialization=True)", dir);
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s is missing", st_path);
    }
    cJSON *cfg = NULL;
    WHET_TRY(whet_json_parse_file(cfg_path, &cfg, err));
    whet_status s = cJSON_IsObject(cfg) ? parse_config(cfg, cfg_path, out, err)
                                        : whet_errorf(err, WHET_ERR_FORMAT, "%s: expected a JSON object", cfg_path);
    cJSON_Delete(cfg);
    if (s == WHET_OK) s = load_tensors(out, st_path, err);
    if (s != WHET_OK) whet_peft_adapter_free(out);
    return s;
}

/* ---- save ---- */

static cJSON *make_config(const whet_peft_adapter *a) {
    cJSON *c = cJSON_CreateObject();
    cJSON *tm = cJSON_CreateArray();
    if (!c || !tm) {
        cJSON_Delete(c);
        cJSON_Delete(tm);
        return NULL;
    }
    cJSON_AddItemToObject(c, "alpha_pattern", cJSON_CreateObject());
    cJSON_AddItemToObject(c, "auto_mapping", cJSON_CreateNull());
    if (a->base_model_name_or_path[0]) cJSON_AddStringToObject(c, "base_model_name_or_path", a->base_model_name_or_path);
    else cJSON_AddNullToObject(c, "base_model_name_or_path");
    cJSON_AddStringToObject(c, "bias", "none");
    cJSON_AddFalseToObject(c, "fan_in_fan_out");
    cJSON_AddTrueToObject(c, "inference_mode");
    cJSON_AddTrueToObject(c, "init_lora_weights");
    cJSON_AddNullToObject(c, "layers_pattern");
    cJSON_AddNullToObject(c, "layers_to_transform");
    cJSON_AddNumberToObject(c, "lora_alpha", a->lora_alpha);
    cJSON_AddNumberToObject(c, "lora_dropout", a->lora_dropout);
    cJSON_AddNullToObject(c, "modules_to_save");
    cJSON_AddStringToObject(c, "peft_type", "LORA");
    cJSON_AddNumberToObject(c, "r", a->r);
    cJSON_AddItemToObject(c, "rank_pattern", cJSON_CreateObject());
    cJSON_AddNullToObject(c, "revision");
    for (int i = 0; i < a->n_targets; i++) cJSON_AddItemToArray(tm, cJSON_CreateString(a->targets[i]));
    cJSON_AddItemToObject(c, "target_modules", tm);
    cJSON_AddStringToObject(c, "task_type", "CAUSAL_LM");
    cJSON_AddFalseToObject(c, "use_dora");
    cJSON_AddBoolToObject(c, "use_rslora", a->use_rslora);
    return c;
}

/* Convert one f32 matrix to the save dtype into a malloc'd buffer. */
static void *convert_matrix(const float *src, int64_t n, whet_dtype dt) {
    if (dt == WHET_DT_F32) {
        float *d = malloc((size_t)n * sizeof *d);
        if (d) memcpy(d, src, (size_t)n * sizeof *d);
        return d;
    }
    uint16_t *d = malloc((size_t)n * sizeof *d);
    if (!d) return NULL;
    if (dt == WHET_DT_BF16) whet_f32_to_bf16_row(src, d, (size_t)n);
    else whet_f32_to_fp16_row(src, d, (size_t)n);
    return d;
}

static whet_status add_matrices(whet_st_writer *w, const whet_peft_adapter *a, whet_dtype dt, void **bufs,
                                whet_error *err) {
    for (int i = 0; i < a->n_pairs; i++) {
        const whet_lora_pair *p = &a->pairs[i];
        if (!p->a || !p->b || p->in_features <= 0 || p->out_features <= 0 || module_index(p->module) < 0)
            return whet_errorf(err, WHET_ERR_INVALID_ARG, "saving adapter: pair %d (layer %d %s) is incomplete", i,
                               p->layer, p->module);
        for (int k = 0; k < 2; k++) {
            bool is_a = k == 0;
            int64_t shape[2] = {is_a ? a->r : p->out_features, is_a ? p->in_features : a->r};
            char name[160];
            snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.%s.lora_%c.weight", p->layer,
                     module_block(p->module), p->module, is_a ? 'A' : 'B');
            void *buf = convert_matrix(is_a ? p->a : p->b, shape[0] * shape[1], dt);
            if (!buf) return whet_errorf(err, WHET_ERR_NOMEM, "saving adapter: out of memory");
            bufs[2 * i + k] = buf;
            WHET_TRY(whet_st_writer_add(w, name, dt, 2, shape, buf, err));
        }
    }
    return WHET_OK;
}

static whet_status parse_save_dtype(const char *name, whet_dtype *dt, whet_error *err) {
    if (!name || strcmp(name, "float32") == 0 || strcmp(name, "fp32") == 0) *dt = WHET_DT_F32;
    else if (strcmp(name, "bfloat16") == 0 || strcmp(name, "bf16") == 0) *dt = WHET_DT_BF16;
    else if (strcmp(name, "float16") == 0 || strcmp(name, "fp16") == 0) *dt = WHET_DT_F16;
    else
        return whet_errorf(err, WHET_ERR_INVALID_ARG,
                           "adapter dtype \"%s\" is not one of float32, bfloat16, float16", name);
    return WHET_OK;
}

whet_status whet_peft_adapter_save(const whet_peft_adapter *a, const char *dir, const char *dtype_name,
                                   whet_error *err) {
    whet_dtype dt = WHET_DT_F32;
    WHET_TRY(parse_save_dtype(dtype_name, &dt, err));
    if (a->r <= 0 || a->n_pairs <= 0)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "saving adapter to %s: it has no LoRA pairs (r = %d)", dir, a->r);
    WHET_TRY(whet_mkdirs(dir, err));
    whet_st_writer *w = NULL;
    WHET_TRY(whet_st_writer_create(&w, err));
    void **bufs = calloc((size_t)a->n_pairs * 2, sizeof *bufs);
    whet_status s = bufs ? whet_st_writer_set_metadata(w, "format", "pt", err)
                         : whet_errorf(err, WHET_ERR_NOMEM, "saving adapter: out of memory");
    if (s == WHET_OK) s = add_matrices(w, a, dt, bufs, err);
    char path[4096];
    whet_path_join(path, sizeof path, dir, "adapter_model.safetensors");
    if (s == WHET_OK) s = whet_st_writer_write(w, path, err);
    whet_st_writer_free(w);
    if (bufs)
        for (int i = 0; i < a->n_pairs * 2; i++) free(bufs[i]);
    free(bufs);
    if (s != WHET_OK) return s;
    cJSON *cfg = make_config(a);
    if (!cfg) return whet_errorf(err, WHET_ERR_NOMEM, "saving adapter: out of memory");
    whet_path_join(path, sizeof path, dir, "adapter_config.json");
    s = whet_json_write_file(path, cfg, err);
    cJSON_Delete(cfg);
    return s;
}
