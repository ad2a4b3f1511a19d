/* test_peft_adapter.c: PEFT adapter folders. Loads PEFT's own save_pretrained
 * output (tests/fixtures/export/llama-tiny/adapter) and checks every pair
 * against the raw tensors in that file; save -> load round trip (f32 exact,
 * bf16 within one rounding); malformed folders give errors naming the
 * problem (missing config, r mismatch, unpaired matrix, DoRA). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../test.h"
#include "../tolerances.h"
#include "core/file.h"
#include "core/json.h"
#include "io/peft_adapter.h"
#include "io/safetensors.h"

#define ADAPTER WHET_FIXTURES "/export/llama-tiny/adapter"

static void check_against_file(const whet_peft_adapter *ad) {
    whet_error err = {0};
    whet_safetensors *st = NULL;
    CHECK_OK(whet_safetensors_open(ADAPTER "/adapter_model.safetensors", &st, &err), &err);
    if (!st) return;
    CHECK_EQ_INT(whet_safetensors_count(st), 2 * ad->n_pairs);
    for (int i = 0; i < ad->n_pairs; i++) {
        const whet_lora_pair *p = &ad->pairs[i];
        const char *blk = strstr("q_proj k_proj v_proj o_proj", p->module) ? "self_attn" : "mlp";
        char name[160];
        snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.%s.lora_A.weight", p->layer, blk, p->module);
        const whet_st_tensor *ta = whet_safetensors_find(st, name);
        snprintf(name, sizeof name, "base_model.model.model.layers.%d.%s.%s.lora_B.weight", p->layer, blk, p->module);
        const whet_st_tensor *tb = whet_safetensors_find(st, name);
        CHECK_MSG(ta && tb, "pair layer %d %s not in the file", p->layer, p->module);
        if (!ta || !tb) continue;
        CHECK_EQ_INT(ta->shape[0], ad->r);
        CHECK_EQ_INT(ta->shape[1], p->in_features);
        CHECK_EQ_INT(tb->shape[0], p->out_features);
        CHECK(memcmp(ta->data, p->a, ta->nbytes) == 0);
        CHECK(memcmp(tb->data, p->b, tb->nbytes) == 0);
    }
    whet_safetensors_close(st);
}

static void test_load_peft(void) {
    whet_error err = {0};
    whet_peft_adapter ad;
    CHECK_OK(whet_peft_adapter_load(ADAPTER, &ad, &err), &err);
    CHECK_EQ_INT(ad.r, 4);
    CHECK_NEAR(ad.lora_alpha, 8.0, 0, 0);
    CHECK_NEAR(whet_peft_adapter_scale(&ad), 2.0, 0, 0);
    CHECK(!ad.use_rslora);
    CHECK_EQ_INT(ad.n_targets, 7);
    CHECK_EQ_INT(ad.n_pairs, 14); /* 2 layers x 7 modules */
    const whet_lora_pair *q = whet_peft_adapter_find(&ad, 1, "down_proj");
    CHECK(q && q->in_features == 160 && q->out_features == 64);
    CHECK(whet_peft_adapter_find(&ad, 2, "q_proj") == NULL);
    check_against_file(&ad);
    whet_peft_adapter rs = ad;
    rs.use_rslora = true;
    CHECK_NEAR(whet_peft_adapter_scale(&rs), 4.0, 1e-6, 0); /* 8 / sqrt(4) */
    whet_peft_adapter_free(&ad);
}

static void test_roundtrip(const char *tmp) {
    whet_error err = {0};
    whet_peft_adapter ad, back;
    CHECK_OK(whet_peft_adapter_load(ADAPTER, &ad, &err), &err);
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/f32", tmp);
    CHECK_OK(whet_peft_adapter_save(&ad, dir, "float32", &err), &err);
    CHECK_OK(whet_peft_adapter_load(dir, &back, &err), &err);
    CHECK_EQ_INT(back.n_pairs, ad.n_pairs);
    CHECK_EQ_INT(back.r, ad.r);
    CHECK_NEAR(back.lora_alpha, ad.lora_alpha, 0, 0);
    CHECK_EQ_INT(back.n_targets, ad.n_targets);
    for (int i = 0; i < ad.n_pairs && i < back.n_pairs; i++) {
        CHECK_STR_EQ(back.pairs[i].module, ad.pairs[i].module);
        CHECK(memcmp(back.pairs[i].a, ad.pairs[i].a, (size_t)(ad.r * ad.pairs[i].in_features) * 4) == 0);
        CHECK(memcmp(back.pairs[i].b, ad.pairs[i].b, (size_t)(ad.r * ad.pairs[i].out_features) * 4) == 0);
    }
    whet_peft_adapter_free(&back);
    snprintf(dir, sizeof dir, "%s/bf16", tmp);
    CHECK_OK(whet_peft_adapter_save(&ad, dir, "bfloat16", &err), &err);
    CHECK_OK(whet_peft_adapter_load(dir, &back, &err), &err);
    double worst = 0;
    for (int i = 0; i < ad.n_pairs && i < back.n_pairs; i++)
        for (int64_t k = 0; k < ad.r * ad.pairs[i].in_features; k++) {
            double rel = fabs(back.pairs[i].a[k] - ad.pairs[i].a[k]) / (fabs(ad.pairs[i].a[k]) + 1e-30);
            if (rel > worst) worst = rel;
        }
    CHECK_MSG(worst <= TOL_BF16_ROUNDTRIP_REL, "bf16 relative error %g", worst);
    whet_peft_adapter_free(&back);
    CHECK(whet_peft_adapter_save(&ad, dir, "int8", &err) == WHET_ERR_INVALID_ARG);
    whet_peft_adapter_free(&ad);
}

/* Copy the fixture adapter into `dir`, then replace the config with `cfg_text`. */
static void make_bad(const char *dir, const char *cfg_text) {
    whet_error err = {0};
    whet_mkdirs(dir, &err);
    char *data = NULL;
    size_t len = 0;
    CHECK_OK(whet_read_file(ADAPTER "/adapter_model.safetensors", &data, &len, &err), &err);
    char path[4096];
    whet_path_join(path, sizeof path, dir, "adapter_model.safetensors");
    FILE *f = fopen(path, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    free(data);
    whet_path_join(path, sizeof path, dir, "adapter_config.json");
    f = fopen(path, "wb");
    if (f) {
        fputs(cfg_text, f);
        fclose(f);
    }
}

static void expect_error(const char *dir, whet_status code, const char *needle) {
    whet_error err = {0};
    whet_peft_adapter ad;
    whet_status s = whet_peft_adapter_load(dir, &ad, &err);
    CHECK_MSG(s == code, "%s: got %d (%s), want %d", dir, s, err.msg, code);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "message \"%s\" lacks \"%s\"", err.msg, needle);
}

static void test_malformed(const char *tmp) {
    char dir[4096];
    expect_error(WHET_FIXTURES "/export/no-such-adapter", WHET_ERR_NOT_FOUND, "does not exist");
    snprintf(dir, sizeof dir, "%s/bad_r", tmp);
    make_bad(dir, "{\"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"q_proj\"]}");
    expect_error(dir, WHET_ERR_SHAPE, "r = 8");
    snprintf(dir, sizeof dir, "%s/no_r", tmp);
    make_bad(dir, "{\"lora_alpha\": 16, \"target_modules\": [\"q_proj\"]}");
    expect_error(dir, WHET_ERR_NOT_FOUND, "r");
    snprintf(dir, sizeof dir, "%s/dora", tmp);
    make_bad(dir, "{\"r\": 4, \"lora_alpha\": 8, \"use_dora\": true, \"target_modules\": [\"q_proj\"]}");
    expect_error(dir, WHET_ERR_UNSUPPORTED, "DoRA");
    snprintf(dir, sizeof dir, "%s/bad_json", tmp);
    make_bad(dir, "{\"r\": 4,");
    expect_error(dir, WHET_ERR_FORMAT, "adapter_config.json");

    /* An adapter with an unpaired lora_A. */
    whet_error err = {0};
    whet_peft_adapter ad;
    CHECK_OK(whet_peft_adapter_load(ADAPTER, &ad, &err), &err);
    snprintf(dir, sizeof dir, "%s/unpaired", tmp);
    CHECK_OK(whet_peft_adapter_save(&ad, dir, "float32", &err), &err);
    whet_peft_adapter_free(&ad);
    whet_safetensors *st = NULL;
    whet_st_writer *w = NULL;
    char path[4096];
    whet_path_join(path, sizeof path, dir, "adapter_model.safetensors");
    CHECK_OK(whet_safetensors_open(path, &st, &err), &err);
    CHECK_OK(whet_st_writer_create(&w, &err), &err);
    if (st && w) {
        for (size_t i = 0; i < whet_safetensors_count(st); i++) {
            const whet_st_tensor *t = whet_safetensors_at(st, i);
            if (strcmp(t->name, "base_model.model.model.layers.1.mlp.up_proj.lora_B.weight") == 0) continue;
            whet_st_writer_add(w, t->name, t->dtype, t->ndim, t->shape, t->data, &err);
        }
        char out[4200];
        snprintf(out, sizeof out, "%s.new", path);
        CHECK_OK(whet_st_writer_write(w, out, &err), &err);
        rename(out, path);
    }
    whet_st_writer_free(w);
    whet_safetensors_close(st);
    expect_error(dir, WHET_ERR_FORMAT, "layer 1 up_proj has lora_A but no lora_B");
}

int main(void) {
    char tmp[] = "/tmp/whet_peft_XXXXXX";
    if (!mkdtemp(tmp)) TEST_SKIP("no temp dir");
    test_load_peft();
    test_roundtrip(tmp);
    test_malformed(tmp);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp);
    return TEST_SUMMARY();
}
