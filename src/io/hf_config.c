/* hf_config.c: read a Hugging Face folder's config.json (Llama family) and
 * generation_config.json into plain structs, and compute RoPE inverse
 * frequencies exactly as transformers does (float32 arithmetic, so angles
 * match HF to the last bit where it matters). Every rejection names the file
 * and key and says what is supported. */
#include "io/hf_config.h"
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"
#include "core/suggest.h"

static const char *const k_model_types[] = {"llama", "qwen2", "mistral", "qwen3"};

static whet_status get_pos_int(const cJSON *c, const char *key, const char *where, int64_t def, int *out,
                               whet_error *err) {
    int64_t v;
    if (def < 0) WHET_TRY(whet_json_get_int(c, key, where, &v, err));
    else WHET_TRY(whet_json_int_or(c, key, where, def, &v, err));
    if (v <= 0 || v > (1 << 30))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"%s\" = %lld must be a positive integer", where, key, (long long)v);
    *out = (int)v;
    return WHET_OK;
}

/* An id that may be null/absent (-1); eos may also be a list. */
static whet_status get_ids(const cJSON *c, const char *key, const char *where, int *ids, int max, int *n,
                           whet_error *err) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(c, key);
    *n = 0;
    if (!v || cJSON_IsNull(v)) return WHET_OK;
    if (cJSON_IsNumber(v)) {
        ids[(*n)++] = (int)v->valuedouble;
        return WHET_OK;
    }
    if (!cJSON_IsArray(v)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"%s\" must be an integer or a list", where, key);
    for (const cJSON *e = v->child; e; e = e->next) {
        if (!cJSON_IsNumber(e)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"%s\" has a non-integer entry", where, key);
        if (*n == max) return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: \"%s\" lists more than %d ids", where, key, max);
        ids[(*n)++] = (int)e->valuedouble;
    }
    return WHET_OK;
}

static whet_status single_id(const cJSON *c, const char *key, const char *where, int *out, whet_error *err) {
    int ids[WHET_MAX_EOS], n;
    WHET_TRY(get_ids(c, key, where, ids, WHET_MAX_EOS, &n, err));
    *out = n ? ids[0] : -1;
    return WHET_OK;
}

/* rope_parameters (transformers >= 5) or rope_theta + rope_scaling (older). */
static whet_status read_rope(const cJSON *c, const char *where, whet_model_config *cfg, whet_error *err) {
    const cJSON *rp = cJSON_GetObjectItemCaseSensitive(c, "rope_parameters");
    const cJSON *rs = cJSON_GetObjectItemCaseSensitive(c, "rope_scaling");
    const char *key = "rope_parameters";
    const cJSON *params = rp;
    if (!params || cJSON_IsNull(params)) { params = rs; key = "rope_scaling"; }
    if (params && cJSON_IsNull(params)) params = NULL;
    if (params && !cJSON_IsObject(params))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"%s\" must be an object or null", where, key);
    WHET_TRY(whet_json_double_or(c, "rope_theta", where, 10000.0, &cfg->rope_theta, err));
    cfg->rope_type = WHET_ROPE_DEFAULT;
    cfg->rope_factor = 1.0;
    cfg->rope_low_freq_factor = 1.0;
    cfg->rope_high_freq_factor = 4.0;
    cfg->rope_original_max_pos = cfg->max_position_embeddings;
    if (!params) return WHET_OK;
    char pwhere[4400];
    snprintf(pwhere, sizeof pwhere, "%s: %s", where, key);
    WHET_TRY(whet_json_double_or(params, "rope_theta", pwhere, cfg->rope_theta, &cfg->rope_theta, err));
    const char *type = NULL;
    WHET_TRY(whet_json_string_or(params, "rope_type", pwhere, NULL, &type, err));
    if (!type) WHET_TRY(whet_json_string_or(params, "type", pwhere, "default", &type, err));
    double partial = 1.0;
    WHET_TRY(whet_json_double_or(c, "partial_rotary_factor", where, 1.0, &partial, err));
    if (partial != 1.0)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: partial_rotary_factor %g is not supported (only 1.0)", where, partial);
    if (!strcmp(type, "default")) return WHET_OK;
    if (!strcmp(type, "linear")) cfg->rope_type = WHET_ROPE_LINEAR;
    else if (!strcmp(type, "dynamic")) cfg->rope_type = WHET_ROPE_DYNAMIC;
    else if (!strcmp(type, "llama3")) cfg->rope_type = WHET_ROPE_LLAMA3;
    else
        return whet_errorf(err, WHET_ERR_UNSUPPORTED,
                           "%s: rope_type \"%s\" is not supported yet (supported: default, linear, dynamic, llama3)",
                           pwhere, type);
    int64_t orig;
    WHET_TRY(whet_json_double_or(params, "factor", pwhere, 1.0, &cfg->rope_factor, err));
    if (!(cfg->rope_factor >= 1.0))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: \"factor\" must be >= 1 (got %g)", pwhere, cfg->rope_factor);
    WHET_TRY(whet_json_int_or(params, "original_max_position_embeddings", pwhere, cfg->max_position_embeddings, &orig, err));
    cfg->rope_original_max_pos = (int)orig;
    if (cfg->rope_type == WHET_ROPE_LLAMA3) {
        WHET_TRY(whet_json_double_or(params, "low_freq_factor", pwhere, 1.0, &cfg->rope_low_freq_factor, err));
        WHET_TRY(whet_json_double_or(params, "high_freq_factor", pwhere, 4.0, &cfg->rope_high_freq_factor, err));
        if (!(cfg->rope_high_freq_factor > cfg->rope_low_freq_factor) || orig <= 0)
            return whet_errorf(err, WHET_ERR_FORMAT, "%s: llama3 rope needs high_freq_factor > low_freq_factor and "
                               "original_max_position_embeddings > 0", pwhere);
    }
    return WHET_OK;
}

static whet_status read_arch(const cJSON *c, const char *where, whet_model_config *cfg, whet_error *err) {
    const char *mt;
    WHET_TRY(whet_json_get_string(c, "model_type", where, &mt, err));
    snprintf(cfg->model_type, sizeof cfg->model_type, "%s", mt);
    size_t n = sizeof k_model_types / sizeof *k_model_types;
    size_t i = 0;
    while (i < n && strcmp(mt, k_model_types[i])) i++;
    if (i == n) {
        const char *s = whet_suggest(mt, k_model_types, n);
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: model_type \"%s\" is not supported (supported: llama, qwen2, "
                           "mistral, qwen3)%s%s%s", where, mt, s ? "; did you mean \"" : "", s ? s : "", s ? "\"?" : "");
    }
    cfg->arch = (whet_arch)i;
    const char *act;
    WHET_TRY(whet_json_string_or(c, "hidden_act", where, "silu", &act, err));
    if (strcmp(act, "silu") && strcmp(act, "swish"))
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: hidden_act \"%s\" is not supported (only silu)", where, act);
    return WHET_OK;
}

static whet_status read_dims(const cJSON *c, const char *where, whet_model_config *cfg, whet_error *err) {
    WHET_TRY(get_pos_int(c, "vocab_size", where, -1, &cfg->vocab_size, err));
    WHET_TRY(get_pos_int(c, "hidden_size", where, -1, &cfg->hidden_size, err));
    WHET_TRY(get_pos_int(c, "intermediate_size", where, -1, &cfg->intermediate_size, err));
    WHET_TRY(get_pos_int(c, "num_hidden_layers", where, -1, &cfg->n_layers, err));
    WHET_TRY(get_pos_int(c, "num_attention_heads", where, -1, &cfg->n_heads, err));
    WHET_TRY(get_pos_int(c, "num_key_value_heads", where, cfg->n_heads, &cfg->n_kv_heads, err));
    if (cfg->n_heads % cfg->n_kv_heads)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: num_attention_heads %d is not a multiple of num_key_value_heads %d",
                           where, cfg->n_heads, cfg->n_kv_heads);
    if (cfg->hidden_size % cfg->n_heads && !cJSON_GetObjectItemCaseSensitive(c, "head_dim"))
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: hidden_size %d is not a multiple of num_attention_heads %d and no "
                           "head_dim is given", where, cfg->hidden_size, cfg->n_heads);
    WHET_TRY(get_pos_int(c, "head_dim", where, cfg->hidden_size / cfg->n_heads ? cfg->hidden_size / cfg->n_heads : 1,
                         &cfg->head_dim, err));
    if (cfg->head_dim % 2)
        return whet_errorf(err, WHET_ERR_FORMAT, "%s: head_dim %d must be even for RoPE", where, cfg->head_dim);
    WHET_TRY(get_pos_int(c, "max_position_embeddings", where, 2048, &cfg->max_position_embeddings, err));
    double eps;
    WHET_TRY(whet_json_double_or(c, "rms_norm_eps", where, 1e-6, &eps, err));
    if (!(eps > 0)) return whet_errorf(err, WHET_ERR_FORMAT, "%s: rms_norm_eps must be positive", where);
    cfg->rms_norm_eps = (float)eps;
    return WHET_OK;
}

static whet_status read_flags(const cJSON *c, const char *where, whet_model_config *cfg, whet_error *err) {
    WHET_TRY(whet_json_bool_or(c, "tie_word_embeddings", where, false, &cfg->tie_word_embeddings, err));
    bool attn_bias = false;
    WHET_TRY(whet_json_bool_or(c, "attention_bias", where, false, &attn_bias, err));
    WHET_TRY(whet_json_bool_or(c, "mlp_bias", where, false, &cfg->mlp_bias, err));
    /* qwen2 always has q/k/v biases and never an o_proj bias; llama/mistral/qwen3 use attention_bias for all four */
    cfg->attention_bias = cfg->arch == WHET_ARCH_QWEN2 ? true : attn_bias;
    cfg->o_bias = cfg->arch == WHET_ARCH_QWEN2 ? false : attn_bias;
    if (cfg->arch == WHET_ARCH_MISTRAL || cfg->arch == WHET_ARCH_QWEN2) cfg->mlp_bias = false;
    cfg->qk_norm = cfg->arch == WHET_ARCH_QWEN3;
    int64_t sw = 0;
    bool use_sw = cfg->arch == WHET_ARCH_MISTRAL;
    if (cfg->arch != WHET_ARCH_MISTRAL && cfg->arch != WHET_ARCH_LLAMA)
        WHET_TRY(whet_json_bool_or(c, "use_sliding_window", where, false, &use_sw, err));
    if (use_sw) WHET_TRY(whet_json_int_or(c, "sliding_window", where, 0, &sw, err));
    if (sw < 0) return whet_errorf(err, WHET_ERR_FORMAT, "%s: sliding_window must be >= 0", where);
    if (use_sw && sw > 0 && cfg->arch != WHET_ARCH_MISTRAL)
        return whet_errorf(err, WHET_ERR_UNSUPPORTED, "%s: use_sliding_window with max_window_layers is not supported "
                           "(set use_sliding_window to false, as Qwen's own checkpoints do)", where);
    cfg->sliding_window = (int)sw;
    return WHET_OK;
}

whet_status whet_hf_config_load(const char *model_dir, whet_model_config *cfg, whet_error *err) {
    memset(cfg, 0, sizeof *cfg);
    char path[4200];
    whet_path_join(path, sizeof path, model_dir, "config.json");
    if (!whet_file_exists(path))
        return whet_errorf(err, WHET_ERR_NOT_FOUND, "%s: no config.json (pass a Hugging Face model folder)", model_dir);
    cJSON *c = NULL;
    WHET_TRY(whet_json_parse_file(path, &c, err));
    whet_status s = cJSON_IsObject(c) ? WHET_OK : whet_errorf(err, WHET_ERR_FORMAT, "%s: not a JSON object", path);
    if (s == WHET_OK) s = read_arch(c, path, cfg, err);
    if (s == WHET_OK) s = read_dims(c, path, cfg, err);
    if (s == WHET_OK) s = read_flags(c, path, cfg, err);
    if (s == WHET_OK) s = read_rope(c, path, cfg, err);
    if (s == WHET_OK) s = single_id(c, "bos_token_id", path, &cfg->bos_token_id, err);
    if (s == WHET_OK) s = single_id(c, "pad_token_id", path, &cfg->pad_token_id, err);
    if (s == WHET_OK) s = get_ids(c, "eos_token_id", path, cfg->eos_token_ids, WHET_MAX_EOS, &cfg->n_eos, err);
    if (s == WHET_OK) {
        const char *dt = NULL;
        s = whet_json_string_or(c, "dtype", path, NULL, &dt, err);
        if (s == WHET_OK && !dt) s = whet_json_string_or(c, "torch_dtype", path, "", &dt, err);
        if (s == WHET_OK) snprintf(cfg->torch_dtype, sizeof cfg->torch_dtype, "%s", dt);
    }
    cJSON_Delete(c);
    return s;
}

/* transformers computes 1 / base^(arange(0, d, 2).float() / d) in float32. */
static void default_inv_freq(double base, int head_dim, float *inv_freq) {
    for (int i = 0; i < head_dim / 2; i++) {
        float expo = (float)(2 * i) / (float)head_dim;
        inv_freq[i] = 1.0f / powf((float)base, expo);
    }
}

static void llama3_inv_freq(const whet_model_config *cfg, float *inv_freq) {
    const double pi = 3.14159265358979323846;
    float factor = (float)cfg->rope_factor, lo = (float)cfg->rope_low_freq_factor, hi = (float)cfg->rope_high_freq_factor;
    float old_ctx = (float)cfg->rope_original_max_pos;
    float low_wavelen = old_ctx / lo, high_wavelen = old_ctx / hi;
    for (int i = 0; i < cfg->head_dim / 2; i++) {
        float f = inv_freq[i];
        float wavelen = (float)(2 * pi) / f;
        float scaled = wavelen > low_wavelen ? f / factor : f;
        float smooth = (old_ctx / wavelen - lo) / (hi - lo);
        float smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
        bool medium = !(wavelen < high_wavelen) && !(wavelen > low_wavelen);
        inv_freq[i] = medium ? smoothed : scaled;
    }
}

void whet_rope_inv_freq(const whet_model_config *cfg, float *inv_freq) {
    default_inv_freq(cfg->rope_theta, cfg->head_dim, inv_freq);
    if (cfg->rope_type == WHET_ROPE_LINEAR)
        for (int i = 0; i < cfg->head_dim / 2; i++) inv_freq[i] /= (float)cfg->rope_factor;
    else if (cfg->rope_type == WHET_ROPE_LLAMA3)
        llama3_inv_freq(cfg, inv_freq);
}

void whet_rope_inv_freq_for_len(const whet_model_config *cfg, int seq_len, float *inv_freq) {
    if (cfg->rope_type != WHET_ROPE_DYNAMIC || seq_len <= cfg->rope_original_max_pos) {
        whet_rope_inv_freq(cfg, inv_freq);
        return;
    }
    /* dynamic NTK: base * ((factor * L / L0) - (factor - 1)) ^ (d / (d - 2)) */
    double d = cfg->head_dim, f = cfg->rope_factor;
    double base = cfg->rope_theta * pow(f * seq_len / cfg->rope_original_max_pos - (f - 1), d / (d - 2));
    default_inv_freq(base, cfg->head_dim, inv_freq);
}

whet_status whet_generation_config_load(const char *model_dir, whet_generation_config *gc, whet_error *err) {
    memset(gc, 0, sizeof *gc);
    gc->temperature = 1.0f;
    gc->top_p = 1.0f;
    gc->top_k = 50;
    gc->repetition_penalty = 1.0f;
    char path[4200];
    whet_path_join(path, sizeof path, model_dir, "generation_config.json");
    if (!whet_file_exists(path)) return WHET_OK;
    cJSON *c = NULL;
    WHET_TRY(whet_json_parse_file(path, &c, err));
    whet_status s = cJSON_IsObject(c) ? WHET_OK : whet_errorf(err, WHET_ERR_FORMAT, "%s: not a JSON object", path);
    double t = 1, p = 1, rp = 1;
    int64_t k = 50, mnt = 0;
    if (s == WHET_OK) s = whet_json_bool_or(c, "do_sample", path, false, &gc->do_sample, err);
    if (s == WHET_OK) s = whet_json_double_or(c, "temperature", path, 1.0, &t, err);
    if (s == WHET_OK) s = whet_json_double_or(c, "top_p", path, 1.0, &p, err);
    if (s == WHET_OK) s = whet_json_int_or(c, "top_k", path, 50, &k, err);
    if (s == WHET_OK) s = whet_json_double_or(c, "repetition_penalty", path, 1.0, &rp, err);
    if (s == WHET_OK) s = whet_json_int_or(c, "max_new_tokens", path, 0, &mnt, err);
    if (s == WHET_OK) s = get_ids(c, "eos_token_id", path, gc->eos_token_ids, WHET_MAX_EOS, &gc->n_eos, err);
    if (s == WHET_OK && (t < 0 || p <= 0 || p > 1 || k < 0 || rp <= 0 || mnt < 0))
        s = whet_errorf(err, WHET_ERR_FORMAT, "%s: out-of-range sampling value (need temperature >= 0, 0 < top_p <= 1, "
                        "top_k >= 0, repetition_penalty > 0, max_new_tokens >= 0)", path);
    gc->temperature = (float)t;
    gc->top_p = (float)p;
    gc->top_k = (int)k;
    gc->repetition_penalty = (float)rp;
    gc->max_new_tokens = (int)mnt;
    cJSON_Delete(c);
    return s;
}
