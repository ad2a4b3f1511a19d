/* test_merge.c: LoRA merge and the Hugging Face export folder.
 * - merging PEFT's adapter (tests/fixtures/export/<m>/adapter) into the tiny
 *   base models gives PEFT's merge_and_unload weights
 *   (tests/fixtures/export/<m>/merged/model.safetensors) for llama-tiny,
 *   qwen2-tiny and llama3-tiny;
 * - the exported f32 folder loads in whet and its logits equal PEFT's merged
 *   model's (merged_forward.safetensors) on the reference batch;
 * - rsLoRA scaling alpha/sqrt(r) against a double-precision merge here;
 * - sharding by export_size (index json, shard names, sorted weight_map,
 *   every tensor in exactly its shard), bf16 cast, config dtype,
 *   tokenizer_config padding_side, Modelfile;
 * - a non-empty export_dir is refused, a failed export leaves nothing, bad
 *   adapters (shape mismatch with the base, unknown linear) are refused
 *   before any weight changes. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/file.h"
#include "core/json.h"
#include "export/merge.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

static char tmpdir[256];
static const char *const MODELS[3] = {"llama-tiny", "qwen2-tiny", "llama3-tiny"};

static void test_merge_vs_peft(const char *name) {
    whet_error err = {0};
    char base[4096], adapter[4096], merged[4096];
    snprintf(base, sizeof base, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(adapter, sizeof adapter, "%s/export/%s/adapter", WHET_FIXTURES, name);
    snprintf(merged, sizeof merged, "%s/export/%s/merged/model.safetensors", WHET_FIXTURES, name);
    whet_export_model m;
    CHECK_OK(whet_export_load(base, &m, &err), &err);
    CHECK_OK(whet_export_merge_adapter(&m, adapter, &err), &err);
    whet_safetensors *ref = NULL;
    CHECK_OK(whet_safetensors_open(merged, &ref, &err), &err);
    if (!ref) return;
    CHECK_EQ_INT(whet_safetensors_count(ref), m.n);
    double worst = 0;
    for (size_t i = 0; i < m.n; i++) {
        const whet_export_tensor *t = &m.t[i];
        float *want = ref_read_f32(ref, t->name, t->numel);
        CHECK_MSG(want != NULL, "%s: '%s' missing from PEFT's merged model", name, t->name);
        if (!want) continue;
        double d = test_max_abs_diff(t->data, want, (size_t)t->numel);
        if (d > worst) worst = d;
        free(want);
    }
    printf("%-12s merged weights vs PEFT: max|err| %.3g\n", name, worst);
    CHECK_MSG(worst <= TOL_MERGE_ATOL, "%s: merged weights differ from PEFT's by %.3g", name, worst);
    whet_safetensors_close(ref);
    whet_export_free(&m);
}

/* Export `name` merged in f32, load the folder, compare logits with PEFT's merged model. */
static void test_export_logits(const char *name) {
    whet_error err = {0};
    char base[4096], adapter[4096], out[4096], fwd[4096], mref[4096];
    snprintf(base, sizeof base, "%s/models/%s", WHET_FIXTURES, name);
    snprintf(adapter, sizeof adapter, "%s/export/%s/adapter", WHET_FIXTURES, name);
    snprintf(out, sizeof out, "%s/%s-f32", tmpdir, name);
    snprintf(fwd, sizeof fwd, "%s/reference/%s/forward.safetensors", WHET_FIXTURES, name);
    snprintf(mref, sizeof mref, "%s/export/%s/merged_forward.safetensors", WHET_FIXTURES, name);
    whet_export_model m;
    CHECK_OK(whet_export_load(base, &m, &err), &err);
    CHECK_OK(whet_export_merge_adapter(&m, adapter, &err), &err);
    whet_hf_export_opts o = {.export_dir = out, .export_size_gb = 5, .dtype = WHET_DT_F32};
    CHECK_OK(whet_export_hf(&m, &o, &err), &err);
    whet_export_free(&m);
    whet_model *model = NULL;
    whet_model_load_opts lo = {.n_threads = 1};
    CHECK_OK(whet_model_load(out, &lo, &model, &err), &err);
    whet_safetensors *ref = NULL, *mr = NULL;
    CHECK_OK(whet_safetensors_open(fwd, &ref, &err), &err);
    CHECK_OK(whet_safetensors_open(mref, &mr, &err), &err);
    if (!model || !ref || !mr) return;
    int64_t n = 0;
    int32_t *ids = ref_read_ids(ref, "input_ids", &n), *mask32 = ref_read_ids(ref, "attention_mask", &n);
    const whet_st_tensor *ti = whet_safetensors_find(ref, "input_ids");
    const int B = (int)ti->shape[0], L = (int)ti->shape[1], V = model->cfg.vocab_size;
    uint8_t *mask = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) mask[i] = (uint8_t)mask32[i];
    float *logits = malloc((size_t)B * L * V * sizeof(float));
    CHECK_OK(whet_model_forward_padded(model, ids, mask, B, L, logits, NULL, &err), &err);
    float *want = ref_read_f32(mr, "logits", (int64_t)B * L * V);
    CHECK(want != NULL);
    if (want) {
        double d = test_max_abs_diff(logits, want, (size_t)B * L * V);
        printf("%-12s exported folder logits vs PEFT merged: max|err| %.3g\n", name, d);
        CHECK_MSG(d <= TOL_LOGITS_ATOL, "%s: exported logits differ by %.3g", name, d);
    }
    free(want), free(logits), free(mask), free(ids), free(mask32);
    whet_safetensors_close(ref);
    whet_safetensors_close(mr);
    whet_model_free(model);
}

/* rsLoRA: the same adapter with use_rslora merges with alpha/sqrt(r). */
static void test_rslora(void) {
    whet_error err = {0};
    char base[4096], adapter[4096], rs[4096];
    snprintf(base, sizeof base, "%s/models/llama-tiny", WHET_FIXTURES);
    snprintf(adapter, sizeof adapter, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    snprintf(rs, sizeof rs, "%s/rslora-adapter", tmpdir);
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    CHECK_OK(whet_peft_adapter_load(adapter, &ad, &err), &err);
    ad.use_rslora = true;
    CHECK_OK(whet_peft_adapter_save(&ad, rs, "float32", &err), &err);
    whet_export_model m, b0;
    CHECK_OK(whet_export_load(base, &m, &err), &err);
    CHECK_OK(whet_export_load(base, &b0, &err), &err);
    CHECK_OK(whet_export_merge_adapter(&m, rs, &err), &err);
    const double scale = ad.lora_alpha / sqrt((double)ad.r); /* 8 / 2 = 4 (plain LoRA: 8 / 4 = 2) */
    double worst = 0;
    for (int p = 0; p < ad.n_pairs; p++) {
        const whet_lora_pair *pr = &ad.pairs[p];
        const bool mlp = strstr("gate_proj up_proj down_proj", pr->module) != NULL;
        char name[160];
        snprintf(name, sizeof name, "model.layers.%d.%s.%s.weight", pr->layer, mlp ? "mlp" : "self_attn", pr->module);
        const whet_export_tensor *w = whet_export_find(&m, name), *w0 = whet_export_find(&b0, name);
        CHECK(w && w0);
        if (!w || !w0) continue;
        for (int64_t o = 0; o < pr->out_features; o++)
            for (int64_t i = 0; i < pr->in_features; i++) {
                double acc = 0;
                for (int k = 0; k < ad.r; k++) acc += (double)pr->b[o * ad.r + k] * pr->a[k * pr->in_features + i];
                double want = w0->data[o * pr->in_features + i] + scale * acc;
                double d = fabs(want - w->data[o * pr->in_features + i]);
                if (d > worst) worst = d;
            }
    }
    CHECK_MSG(worst <= TOL_MERGE_ATOL, "rsLoRA merge differs from W + alpha/sqrt(r) BA by %.3g", worst);
    whet_peft_adapter_free(&ad);
    whet_export_free(&m);
    whet_export_free(&b0);
}

static void test_sharding_and_files(void) {
    whet_error err = {0};
    char base[4096], out[4096], path[4200];
    snprintf(base, sizeof base, "%s/models/llama-tiny", WHET_FIXTURES);
    snprintf(out, sizeof out, "%s/llama-tiny-sharded", tmpdir);
    whet_export_model m;
    CHECK_OK(whet_export_load(base, &m, &err), &err);
    /* 100 kB shards of bf16: embed/lm_head are 64 kB each, a layer ~ 90 kB */
    whet_hf_export_opts o = {.export_dir = out, .export_size_gb = 1e-4, .dtype = WHET_DT_BF16,
                             .modelfile = "FROM .\n"};
    CHECK_OK(whet_export_hf(&m, &o, &err), &err);
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", out);
    cJSON *index = NULL;
    CHECK_OK(whet_json_parse_file(path, &index, &err), &err);
    const cJSON *map = index ? cJSON_GetObjectItemCaseSensitive(index, "weight_map") : NULL;
    const cJSON *total = index ? cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(index, "metadata"),
                                                                 "total_size") : NULL;
    CHECK(map && total);
    if (map && total) {
        size_t want_total = 0;
        for (size_t i = 0; i < m.n; i++) want_total += 2 * (size_t)m.t[i].numel;
        CHECK_EQ_INT((long long)total->valuedouble, want_total);
        CHECK_EQ_INT(cJSON_GetArraySize(map), m.n);
        const char *prev = "";
        int n_shards = 0;
        for (const cJSON *e = map->child; e; e = e->next) {
            CHECK_MSG(strcmp(prev, e->string) < 0, "weight_map not sorted at %s", e->string);
            prev = e->string;
            int k, n;
            CHECK(sscanf(e->valuestring, "model-%05d-of-%05d.safetensors", &k, &n) == 2);
            n_shards = n;
        }
        printf("sharded export: %d shards\n", n_shards);
        CHECK(n_shards >= 3);
        /* the first shard holds embed_tokens (state_dict order), the last lm_head */
        char first[64], last[64];
        snprintf(first, sizeof first, "model-%05d-of-%05d.safetensors", 1, n_shards);
        snprintf(last, sizeof last, "model-%05d-of-%05d.safetensors", n_shards, n_shards);
        CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(map, "model.embed_tokens.weight")->valuestring, first);
        CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(map, "lm_head.weight")->valuestring, last);
    }
    cJSON_Delete(index);
    /* the folder reads back (index + shards) and holds the bf16 values */
    whet_safetensors *st = NULL;
    CHECK_OK(whet_safetensors_open_dir(out, &st, &err), &err);
    if (st) {
        double worst = 0;
        for (size_t i = 0; i < m.n; i++) {
            const whet_st_tensor *t = whet_safetensors_find(st, m.t[i].name);
            CHECK_MSG(t && t->dtype == WHET_DT_BF16, "%s", m.t[i].name);
            if (!t) continue;
            float *v = malloc((size_t)t->numel * 4);
            CHECK_OK(whet_st_tensor_to_f32(t, v, &err), &err);
            for (int64_t j = 0; j < t->numel; j++) {
                double rel = fabs(v[j] - m.t[i].data[j]) / (fabs(m.t[i].data[j]) + 1e-30);
                if (rel > worst) worst = rel;
            }
            free(v);
        }
        CHECK_MSG(worst <= TOL_BF16_ROUNDTRIP_REL, "bf16 export rel err %.3g", worst);
        whet_safetensors_close(st);
    }
    cJSON *cfg = NULL, *tc = NULL;
    snprintf(path, sizeof path, "%s/config.json", out);
    CHECK_OK(whet_json_parse_file(path, &cfg, &err), &err);
    if (cfg) CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(cfg, "torch_dtype")->valuestring, "bfloat16");
    cJSON_Delete(cfg);
    snprintf(path, sizeof path, "%s/tokenizer_config.json", out);
    CHECK_OK(whet_json_parse_file(path, &tc, &err), &err);
    if (tc) CHECK_STR_EQ(cJSON_GetObjectItemCaseSensitive(tc, "padding_side")->valuestring, "left");
    cJSON_Delete(tc);
    const char *copied[4] = {"tokenizer.json", "generation_config.json", "chat_template.jinja", "Modelfile"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", out, copied[i]);
        CHECK_MSG(whet_file_exists(path), "%s missing", copied[i]);
    }
    /* non-empty export_dir: refused, then replaced with overwrite */
    o.export_size_gb = 5;
    CHECK(whet_export_hf(&m, &o, &err) == WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "not empty") != NULL, "%s", err.msg);
    o.overwrite = true;
    CHECK_OK(whet_export_hf(&m, &o, &err), &err);
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    CHECK(whet_file_exists(path));
    snprintf(path, sizeof path, "%s/model-00001-of-00003.safetensors", out);
    CHECK(!whet_file_exists(path));
    /* a failed export (export_dir under a regular file) leaves nothing behind */
    snprintf(path, sizeof path, "%s/a-file", tmpdir);
    FILE *fp = fopen(path, "w");
    if (fp) fclose(fp);
    snprintf(out, sizeof out, "%s/a-file/sub", tmpdir);
    o.export_dir = out;
    CHECK(whet_export_hf(&m, &o, &err) != WHET_OK);
    snprintf(path, sizeof path, "%s/a-file/sub.tmp.%ld", tmpdir, (long)getpid());
    CHECK(!whet_dir_exists(path));
    whet_export_free(&m);
}

static void test_bad_adapters(void) {
    whet_error err = {0};
    char base[4096], adapter[4096], bad[4096];
    snprintf(base, sizeof base, "%s/models/llama-tiny", WHET_FIXTURES);
    snprintf(adapter, sizeof adapter, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    whet_peft_adapter ad;
    memset(&ad, 0, sizeof ad);
    CHECK_OK(whet_peft_adapter_load(adapter, &ad, &err), &err);
    /* pair 0 with half the input features: the base's linear is wider */
    whet_lora_pair *p = &ad.pairs[0];
    p->in_features /= 2;
    snprintf(bad, sizeof bad, "%s/bad-shape", tmpdir);
    CHECK_OK(whet_peft_adapter_save(&ad, bad, "float32", &err), &err);
    p->in_features *= 2;
    whet_export_model m;
    CHECK_OK(whet_export_load(base, &m, &err), &err);
    float before = m.t[m.n / 2].data[0];
    CHECK(whet_export_merge_adapter(&m, bad, &err) == WHET_ERR_SHAPE);
    CHECK_MSG(strstr(err.msg, "in the adapter but") != NULL, "%s", err.msg);
    /* layer 7 does not exist in a 2-layer model */
    p->layer = 7;
    snprintf(bad, sizeof bad, "%s/bad-layer", tmpdir);
    CHECK_OK(whet_peft_adapter_save(&ad, bad, "float32", &err), &err);
    CHECK(whet_export_merge_adapter(&m, bad, &err) == WHET_ERR_SHAPE);
    CHECK_MSG(strstr(err.msg, "model.layers.7.") != NULL, "%s", err.msg);
    CHECK(m.t[m.n / 2].data[0] == before); /* nothing merged */
    CHECK(whet_export_merge_adapter(&m, "/nonexistent/adapter", &err) != WHET_OK);
    whet_export_free(&m);
    whet_peft_adapter_free(&ad);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_merge_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    for (int i = 0; i < 3; i++) test_merge_vs_peft(MODELS[i]);
    for (int i = 0; i < 3; i++) test_export_logits(MODELS[i]);
    test_rslora();
    test_sharding_and_files();
    test_bad_adapters();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
