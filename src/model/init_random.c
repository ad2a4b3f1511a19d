/* init_random.c: random-weight Hugging Face folders (see init_random.h).
 * The tensor list is derived from the parsed config (so a shape the loader
 * would reject is rejected here too), assigned to shards of at most
 * max_shard_bytes in state-dict order, and each shard is generated, written
 * and freed before the next, so a 7B folder needs one shard of memory. */
#include "model/init_random.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/half.h"
#include "core/json.h"
#include "core/rng.h"
#include "io/hf_config.h"
#include "io/safetensors.h"

typedef enum { INIT_NORMAL, INIT_ZERO, INIT_ONE } init_kind;

typedef struct {
    char name[96];
    int64_t rows, cols;          /* cols = 0: a vector [rows] */
    init_kind kind;
    int shard;
} tensor_plan;

typedef struct {
    tensor_plan *t;
    int n, cap;
} plan_list;

static whet_status plan_add(plan_list *p, const char *name, int64_t rows, int64_t cols, init_kind kind,
                            whet_error *err) {
    if (p->n == p->cap) {
        int cap = p->cap ? p->cap * 2 : 64;
        tensor_plan *t = realloc(p->t, (size_t)cap * sizeof *t);
        if (!t) return whet_errorf(err, WHET_ERR_NOMEM, "out of memory planning tensors");
        p->t = t;
        p->cap = cap;
    }
    tensor_plan *t = &p->t[p->n++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->rows = rows;
    t->cols = cols;
    t->kind = kind;
    t->shard = 0;
    return WHET_OK;
}

static whet_status plan_layer(plan_list *p, const whet_model_config *c, int l, whet_error *err) {
    const int64_t H = c->hidden_size, I = c->intermediate_size, hd = c->head_dim;
    const int64_t q_out = (int64_t)c->n_heads * hd, kv_out = (int64_t)c->n_kv_heads * hd;
    struct { const char *suffix; int64_t rows, cols; init_kind kind; bool present; } items[] = {
        {"input_layernorm.weight", H, 0, INIT_ONE, true},
        {"self_attn.q_proj.weight", q_out, H, INIT_NORMAL, true},
        {"self_attn.q_proj.bias", q_out, 0, INIT_ZERO, c->attention_bias},
        {"self_attn.k_proj.weight", kv_out, H, INIT_NORMAL, true},
        {"self_attn.k_proj.bias", kv_out, 0, INIT_ZERO, c->attention_bias},
        {"self_attn.v_proj.weight", kv_out, H, INIT_NORMAL, true},
        {"self_attn.v_proj.bias", kv_out, 0, INIT_ZERO, c->attention_bias},
        {"self_attn.o_proj.weight", H, q_out, INIT_NORMAL, true},
        {"self_attn.o_proj.bias", H, 0, INIT_ZERO, c->o_bias},
        {"self_attn.q_norm.weight", hd, 0, INIT_ONE, c->qk_norm},
        {"self_attn.k_norm.weight", hd, 0, INIT_ONE, c->qk_norm},
        {"post_attention_layernorm.weight", H, 0, INIT_ONE, true},
        {"mlp.gate_proj.weight", I, H, INIT_NORMAL, true},
        {"mlp.gate_proj.bias", I, 0, INIT_ZERO, c->mlp_bias},
        {"mlp.up_proj.weight", I, H, INIT_NORMAL, true},
        {"mlp.up_proj.bias", I, 0, INIT_ZERO, c->mlp_bias},
        {"mlp.down_proj.weight", H, I, INIT_NORMAL, true},
        {"mlp.down_proj.bias", H, 0, INIT_ZERO, c->mlp_bias},
    };
    for (size_t i = 0; i < sizeof items / sizeof items[0]; i++) {
        if (!items[i].present) continue;
        char name[96];
        snprintf(name, sizeof name, "model.layers.%d.%s", l, items[i].suffix);
        WHET_TRY(plan_add(p, name, items[i].rows, items[i].cols, items[i].kind, err));
    }
    return WHET_OK;
}

static whet_status plan_model(plan_list *p, const whet_model_config *c, whet_error *err) {
    WHET_TRY(plan_add(p, "model.embed_tokens.weight", c->vocab_size, c->hidden_size, INIT_NORMAL, err));
    for (int l = 0; l < c->n_layers; l++) WHET_TRY(plan_layer(p, c, l, err));
    WHET_TRY(plan_add(p, "model.norm.weight", c->hidden_size, 0, INIT_ONE, err));
    if (!c->tie_word_embeddings) WHET_TRY(plan_add(p, "lm_head.weight", c->vocab_size, c->hidden_size, INIT_NORMAL, err));
    return WHET_OK;
}

static int64_t tensor_numel(const tensor_plan *t) { return t->rows * (t->cols ? t->cols : 1); }

/* Greedy in state-dict order, as save_pretrained shards: a new shard starts
 * when the next tensor would overflow the current one. Returns the shard count. */
static int assign_shards(plan_list *p, size_t elem_bytes, int64_t max_bytes) {
    int shard = 0;
    int64_t used = 0;
    for (int i = 0; i < p->n; i++) {
        int64_t b = tensor_numel(&p->t[i]) * (int64_t)elem_bytes;
        if (used > 0 && used + b > max_bytes) shard++, used = 0;
        p->t[i].shard = shard;
        used += b;
    }
    return shard + 1;
}

static void *fill_tensor(const tensor_plan *t, whet_dtype dt, double std, whet_rng *r) {
    int64_t n = tensor_numel(t);
    size_t esz = dt == WHET_DT_F32 ? 4 : 2;
    void *buf = malloc((size_t)n * esz);
    if (!buf) return NULL;
    for (int64_t i = 0; i < n; i++) {
        float v = t->kind == INIT_ONE ? 1.0f : t->kind == INIT_ZERO ? 0.0f : (float)(std * whet_rng_normal(r));
        if (dt == WHET_DT_F32) ((float *)buf)[i] = v;
        else if (dt == WHET_DT_BF16) ((uint16_t *)buf)[i] = whet_f32_to_bf16(v);
        else ((uint16_t *)buf)[i] = whet_f32_to_fp16(v);
    }
    return buf;
}

static void shard_name(char *out, size_t cap, int shard, int n_shards) {
    if (n_shards == 1) snprintf(out, cap, "model.safetensors");
    else snprintf(out, cap, "model-%05d-of-%05d.safetensors", shard + 1, n_shards);
}

static whet_status write_shard(const plan_list *p, int shard, int n_shards, const char *dir,
                               const whet_init_random_opts *o, double std, whet_rng *r, whet_error *err) {
    whet_st_writer *w = NULL;
    WHET_TRY(whet_st_writer_create(&w, err));
    void **bufs = calloc((size_t)p->n, sizeof *bufs);
    whet_status s = bufs ? WHET_OK : whet_errorf(err, WHET_ERR_NOMEM, "out of memory");
    if (s == WHET_OK) s = whet_st_writer_set_metadata(w, "format", "pt", err);
    for (int i = 0; i < p->n && s == WHET_OK; i++) {
        const tensor_plan *t = &p->t[i];
        if (t->shard != shard) continue;
        bufs[i] = fill_tensor(t, o->dtype, std, r);
        if (!bufs[i]) {
            s = whet_errorf(err, WHET_ERR_NOMEM, "out of memory for %s [%lld, %lld]", t->name,
                            (long long)t->rows, (long long)t->cols);
            break;
        }
        int64_t shape[2] = {t->rows, t->cols};
        s = whet_st_writer_add(w, t->name, o->dtype, t->cols ? 2 : 1, shape, bufs[i], err);
    }
    if (s == WHET_OK) {
        char name[64], path[4200];
        shard_name(name, sizeof name, shard, n_shards);
        whet_path_join(path, sizeof path, dir, name);
        s = whet_st_writer_write(w, path, err);
    }
    whet_st_writer_free(w);
    for (int i = 0; bufs && i < p->n; i++) free(bufs[i]);
    free(bufs);
    return s;
}

static whet_status write_index(const plan_list *p, int n_shards, size_t elem_bytes, const char *dir, whet_error *err) {
    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "metadata");
    cJSON *map = cJSON_AddObjectToObject(root, "weight_map");
    int64_t total = 0;
    for (int i = 0; i < p->n; i++) {
        char name[64];
        shard_name(name, sizeof name, p->t[i].shard, n_shards);
        cJSON_AddStringToObject(map, p->t[i].name, name);
        total += tensor_numel(&p->t[i]) * (int64_t)elem_bytes;
    }
    cJSON_AddNumberToObject(meta, "total_size", (double)total);
    char path[4200];
    whet_path_join(path, sizeof path, dir, "model.safetensors.index.json");
    whet_status s = whet_json_write_file(path, root, err);
    cJSON_Delete(root);
    return s;
}

/* config.json as the user gave it, with torch_dtype saying what was written. */
static whet_status write_config(const char *config_path, const char *dir, whet_dtype dt, double *init_range,
                                whet_error *err) {
    cJSON *cfg = NULL;
    WHET_TRY(whet_json_parse_file(config_path, &cfg, err));
    const char *dtype_name = dt == WHET_DT_F32 ? "float32" : dt == WHET_DT_BF16 ? "bfloat16" : "float16";
    cJSON_DeleteItemFromObject(cfg, "torch_dtype");
    cJSON_DeleteItemFromObject(cfg, "dtype");
    cJSON_AddStringToObject(cfg, "torch_dtype", dtype_name);
    const cJSON *ir = cJSON_GetObjectItemCaseSensitive(cfg, "initializer_range");
    *init_range = cJSON_IsNumber(ir) && ir->valuedouble > 0 ? ir->valuedouble : 0.02;
    char path[4200];
    whet_path_join(path, sizeof path, dir, "config.json");
    whet_status s = whet_json_write_file(path, cfg, err);
    cJSON_Delete(cfg);
    return s;
}

static void remove_partial(const char *dir, const plan_list *p, int n_shards) {
    char path[4200], name[64];
    for (int s = 0; s < n_shards; s++) {
        shard_name(name, sizeof name, s, n_shards);
        whet_path_join(path, sizeof path, dir, name);
        unlink(path);
    }
    const char *extra[] = {"config.json", "model.safetensors.index.json"};
    for (int i = 0; i < 2; i++) whet_path_join(path, sizeof path, dir, extra[i]), unlink(path);
    (void)p;
    rmdir(dir);
}

/* The config is parsed from a folder, so stage it as <tmp>/config.json first. */
static whet_status load_config(const char *config_path, const char *tmp, whet_dtype dt, whet_model_config *cfg,
                               double *init_range, whet_error *err) {
    WHET_TRY(write_config(config_path, tmp, dt, init_range, err));
    whet_status s = whet_hf_config_load(tmp, cfg, err);
    if (s != WHET_OK) whet_error_prefix(err, "%s", config_path);
    return s;
}

whet_status whet_model_init_random(const char *config_path, const char *out_dir, const whet_init_random_opts *opts,
                                   whet_error *err) {
    whet_init_random_opts o = opts ? *opts : (whet_init_random_opts){.dtype = WHET_DT_BF16};
    if (o.dtype != WHET_DT_F32 && o.dtype != WHET_DT_BF16 && o.dtype != WHET_DT_F16)
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "dtype must be float32, bfloat16 or float16");
    if (o.max_shard_bytes <= 0) o.max_shard_bytes = 2LL << 30;
    if (whet_file_exists(out_dir) || whet_dir_exists(out_dir))
        return whet_errorf(err, WHET_ERR_INVALID_ARG, "%s already exists; choose a new --out (nothing was written)",
                           out_dir);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_dir, (long)getpid());
    WHET_TRY(whet_mkdirs(tmp, err));
    whet_model_config cfg;
    double init_range = 0.02;
    plan_list plan = {0};
    int n_shards = 0;
    whet_status s = load_config(config_path, tmp, o.dtype, &cfg, &init_range, err);
    if (s == WHET_OK) s = plan_model(&plan, &cfg, err);
    size_t esz = o.dtype == WHET_DT_F32 ? 4 : 2;
    if (s == WHET_OK) n_shards = assign_shards(&plan, esz, o.max_shard_bytes);
    whet_rng r;
    whet_rng_seed(&r, o.seed);
    double std = o.init_std > 0 ? o.init_std : init_range;
    for (int sh = 0; sh < n_shards && s == WHET_OK; sh++) s = write_shard(&plan, sh, n_shards, tmp, &o, std, &r, err);
    if (s == WHET_OK && n_shards > 1) s = write_index(&plan, n_shards, esz, tmp, err);
    if (s == WHET_OK) s = whet_atomic_rename_dir(tmp, out_dir, err);
    if (s != WHET_OK) remove_partial(tmp, &plan, n_shards);
    free(plan.t);
    return s;
}
