/* test_export_cli.c: `whet export` as a user runs it, on the llama-tiny
 * fixture and PEFT's reference adapter (tests/fixtures/export/llama-tiny):
 * - export_format both, f32 safetensors sharded by export_shard_size: the
 *   index lists >= 2 shards, the folder's weights equal PEFT's
 *   merge_and_unload (merged/model.safetensors), the folder loads in whet and
 *   `whet generate --prompt_ids` on it prints what it prints on a folder of
 *   PEFT's merged weights; the GGUF (f32) reads back with gguf.h and its
 *   blk.0.ffn_down equals PEFT's merged down_proj; the Modelfile points at it;
 * - export_format gguf, q8_0: export_dir/<base>-q8_0.gguf, file_type Q8_0;
 * - a non-empty export_dir is refused without overwrite_output_dir and left
 *   as it was; with overwrite a failing merge (qwen2 adapter on llama) leaves
 *   it as it was too; an unknown key gets a did-you-mean, a missing adapter
 *   folder is named, export_legacy_format / export_quantization_bit say what
 *   to use; failed exports create no export_dir. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli_run.h"
#include "core/file.h"
#include "core/json.h"
#include "export/gguf_export.h"
#include "io/gguf.h"
#include "io/safetensors.h"
#include "model/model.h"
#include "ref_fixture.h"
#include "test.h"
#include "tolerances.h"

static char root[] = "/tmp/whet_test_export_cli_XXXXXX";
static char base_model[4096], adapter[4096], merged_st[4096];

/* Run `whet export <yaml> <extra>` (stderr folded into `out`). */
static int run_export(const char *yaml, const char *extra, whet_strbuf *out) {
    whet_strbuf cmd;
    whet_sb_init(&cmd);
    whet_sb_printf(&cmd, "%s export ", WHET_BINARY);
    cli_shell_quote(&cmd, yaml);
    whet_sb_printf(&cmd, " %s 2>&1", extra);
    whet_sb_clear(out);
    const int rc = cli_run(cmd.data, out);
    whet_sb_free(&cmd);
    return rc;
}

static void write_yaml(const char *path, const char *export_dir, const char *more) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    fprintf(f, "### model\nmodel_name_or_path: %s\nadapter_name_or_path: %s\ntemplate: llama2\nfinetuning_type: lora\n\n"
               "### export\nexport_dir: %s\nexport_size: 5\nexport_device: cpu\nexport_legacy_format: false\n%s",
            base_model, adapter, export_dir, more);
    fclose(f);
}

static const char *out_text(const whet_strbuf *sb) { return sb->data ? sb->data : ""; }

/* Greedy ids `whet generate` prints for a fixed prompt on `dir`. */
static void generate_ids(const char *dir, whet_strbuf *out) {
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "%s generate --model_name_or_path '%s' --prompt_ids 1,5,9,13 --max_new_tokens 6 "
                              "--temperature 0 --threads 1 2>/dev/null", WHET_BINARY, dir);
    whet_sb_clear(out);
    CHECK_EQ_INT(cli_run(cmd, out), 0);
}

/* A folder holding PEFT's merged weights with the base model's config/tokenizer. */
static void make_peft_merged_folder(const char *dir) {
    char cmd[40000];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp '%s'/config.json '%s'/generation_config.json '%s'/tokenizer.json "
                              "'%s'/tokenizer_config.json '%s' && cp '%s' '%s'/model.safetensors",
             dir, base_model, base_model, base_model, base_model, dir, merged_st, dir);
    whet_strbuf o;
    whet_sb_init(&o);
    CHECK_EQ_INT(cli_run(cmd, &o), 0);
    whet_sb_free(&o);
}

static void test_export_both(void) {
    char yaml[4200], dir[4200], path[4400], ref_dir[4200];
    snprintf(yaml, sizeof yaml, "%s/both.yaml", root);
    snprintf(dir, sizeof dir, "%s/llama-tiny-merged", root);
    write_yaml(yaml, dir, "export_format: both\nexport_dtype: f32\ngguf_type: f32\nexport_shard_size: 200KB\n");
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_MSG(run_export(yaml, "", &out) == 0, "%s", out_text(&out));

    /* sharded: index.json names >= 2 shard files, all present */
    snprintf(path, sizeof path, "%s/model.safetensors.index.json", dir);
    cJSON *index = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(path, &index, &err), &err);
    const cJSON *map = index ? cJSON_GetObjectItemCaseSensitive(index, "weight_map") : NULL;
    int n_shards = 0;
    for (const cJSON *e = map ? map->child : NULL; e; e = e->next) {
        int k, n;
        CHECK(sscanf(e->valuestring, "model-%05d-of-%05d.safetensors", &k, &n) == 2);
        n_shards = n;
        snprintf(path, sizeof path, "%s/%s", dir, e->valuestring);
        CHECK_MSG(whet_file_exists(path), "missing shard %s", path);
    }
    printf("export_shard_size 200KB: %d shards\n", n_shards);
    CHECK(n_shards >= 2);
    cJSON_Delete(index);

    /* the folder's weights are PEFT's merged weights */
    whet_safetensors *got = NULL, *ref = NULL;
    CHECK_OK(whet_safetensors_open_dir(dir, &got, &err), &err);
    CHECK_OK(whet_safetensors_open(merged_st, &ref, &err), &err);
    if (got && ref) {
        CHECK_EQ_INT(whet_safetensors_count(got), whet_safetensors_count(ref));
        double worst = 0;
        for (size_t i = 0; i < whet_safetensors_count(ref); i++) {
            const whet_st_tensor *r = whet_safetensors_at(ref, i);
            float *want = ref_read_f32(ref, r->name, r->numel), *have = ref_read_f32(got, r->name, r->numel);
            CHECK_MSG(want && have, "%s missing from the export", r->name);
            if (want && have) {
                const double d = test_max_abs_diff(have, want, (size_t)r->numel);
                if (d > worst) worst = d;
            }
            free(want);
            free(have);
        }
        printf("exported f32 weights vs PEFT merge_and_unload: max|err| %.3g\n", worst);
        CHECK(worst <= TOL_MERGE_ATOL);
    }

    /* the exported folder loads and generates like PEFT's merged weights */
    whet_model *model = NULL;
    const whet_model_load_opts lo = {.n_threads = 1};
    CHECK_OK(whet_model_load(dir, &lo, &model, &err), &err);
    whet_model_free(model);
    snprintf(ref_dir, sizeof ref_dir, "%s/peft-merged", root);
    make_peft_merged_folder(ref_dir);
    whet_strbuf a, b;
    whet_sb_init(&a);
    whet_sb_init(&b);
    generate_ids(dir, &a);
    generate_ids(ref_dir, &b);
    CHECK_MSG(a.len > 0 && strcmp(out_text(&a), out_text(&b)) == 0, "export: %s\nPEFT merged: %s", out_text(&a),
              out_text(&b));
    whet_sb_free(&a);
    whet_sb_free(&b);

    /* the GGUF sits in the same folder, reads back, and holds the merged weights */
    snprintf(path, sizeof path, "%s/llama-tiny-merged-f32.gguf", dir);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(path, &g, &err), &err);
    if (g && ref) {
        uint32_t ft = 0;
        CHECK_OK(whet_gguf_get_u32(g, "general.file_type", &ft, &err), &err);
        CHECK_EQ_INT(ft, whet_gguf_ftype_id(WHET_GGUF_FT_F32));
        const whet_gguf_tensor *t = whet_gguf_find_tensor(g, "blk.0.ffn_down.weight");
        const whet_st_tensor *r = whet_safetensors_find(ref, "model.layers.0.mlp.down_proj.weight");
        CHECK(t && r && t->dtype == WHET_DT_F32 && whet_gguf_tensor_numel(t) == r->numel);
        if (t && r && t->dtype == WHET_DT_F32 && whet_gguf_tensor_numel(t) == r->numel) {
            float *want = ref_read_f32(ref, r->name, r->numel);
            CHECK(want && test_max_abs_diff((const float *)t->data, want, (size_t)r->numel) <= TOL_MERGE_ATOL);
            free(want);
        }
    }
    whet_gguf_close(g);
    whet_safetensors_close(got);
    whet_safetensors_close(ref);

    /* the Modelfile is LLaMA-Factory's with FROM pointing at the GGUF */
    snprintf(path, sizeof path, "%s/Modelfile", dir);
    char *mf = NULL;
    size_t len;
    CHECK_OK(whet_read_file(path, &mf, &len, &err), &err);
    CHECK(mf && strncmp(mf, "# ollama modelfile auto-generated by llamafactory\n\nFROM ./llama-tiny-merged-f32.gguf\n\n"
                            "TEMPLATE \"\"\"", 95) == 0);
    CHECK(mf && strstr(mf, "PARAMETER num_ctx 4096\n") != NULL);
    free(mf);

    /* refused when non-empty without overwrite; the folder is left as it was */
    snprintf(path, sizeof path, "%s/marker.txt", dir);
    FILE *f = fopen(path, "w");
    if (f) { fputs("keep\n", f); fclose(f); }
    CHECK(run_export(yaml, "", &out) != 0);
    CHECK_MSG(strstr(out_text(&out), "is not empty") && strstr(out_text(&out), "overwrite_output_dir: true"), "%s",
              out_text(&out));
    CHECK(whet_file_exists(path));
    /* overwrite, but the merge fails (a qwen2-tiny adapter on llama-tiny): still as it was */
    char extra[4400];
    snprintf(extra, sizeof extra, "--overwrite_output_dir true --adapter_name_or_path '%s/export/qwen2-tiny/adapter'",
             WHET_FIXTURES);
    CHECK(run_export(yaml, extra, &out) != 0);
    CHECK_MSG(strstr(out_text(&out), "qwen2-tiny/adapter") != NULL, "%s", out_text(&out));
    CHECK(whet_file_exists(path));
    /* overwrite that succeeds replaces the folder */
    CHECK_MSG(run_export(yaml, "--overwrite_output_dir true --export_format hf", &out) == 0, "%s", out_text(&out));
    CHECK(!whet_file_exists(path));
    snprintf(path, sizeof path, "%s/llama-tiny-merged-f32.gguf", dir);
    CHECK(!whet_file_exists(path));
    snprintf(path, sizeof path, "%s/Modelfile", dir);
    CHECK(whet_file_exists(path));
    whet_sb_free(&out);
}

static void test_export_gguf_q8(void) {
    char yaml[4200], dir[4200], path[4400];
    snprintf(yaml, sizeof yaml, "%s/gguf.yaml", root);
    snprintf(dir, sizeof dir, "%s/ollama/", root);
    write_yaml(yaml, dir, "export_format: gguf\n");   /* gguf_type defaults to q8_0 */
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_MSG(run_export(yaml, "", &out) == 0, "%s", out_text(&out));
    snprintf(path, sizeof path, "%s/ollama/model.safetensors", root);
    CHECK(!whet_file_exists(path));
    snprintf(path, sizeof path, "%s/ollama/ollama-q8_0.gguf", root);
    whet_gguf *g = NULL;
    whet_error err = {0};
    CHECK_OK(whet_gguf_open(path, &g, &err), &err);
    if (g) {
        uint32_t ft = 0;
        CHECK_OK(whet_gguf_get_u32(g, "general.file_type", &ft, &err), &err);
        CHECK_EQ_INT(ft, whet_gguf_ftype_id(WHET_GGUF_FT_Q8_0));
        const whet_gguf_tensor *t = whet_gguf_find_tensor(g, "blk.0.attn_q.weight");
        CHECK(t && t->dtype == WHET_DT_Q8_0);
    }
    whet_gguf_close(g);
    snprintf(path, sizeof path, "%s/ollama/Modelfile", root);
    char *mf = NULL;
    size_t len;
    CHECK_OK(whet_read_file(path, &mf, &len, &err), &err);
    CHECK(mf && strstr(mf, "\nFROM ./ollama-q8_0.gguf\n") != NULL);
    free(mf);
    whet_sb_free(&out);
}

/* Errors: exit 1, a message naming the key or folder, no export_dir made. */
static void expect_error(const char *extra, const char *want, const char *want2) {
    char yaml[4200], dir[4200];
    snprintf(yaml, sizeof yaml, "%s/err.yaml", root);
    snprintf(dir, sizeof dir, "%s/never", root);
    write_yaml(yaml, dir, "");
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_EQ_INT(run_export(yaml, extra, &out), 1);
    CHECK_MSG(strstr(out_text(&out), want) != NULL, "'%s': no '%s' in: %s", extra, want, out_text(&out));
    CHECK_MSG(!want2 || strstr(out_text(&out), want2) != NULL, "'%s': no '%s' in: %s", extra, want2, out_text(&out));
    CHECK_MSG(!whet_dir_exists(dir), "'%s' left %s behind", extra, dir);
    whet_sb_free(&out);
}

int main(void) {
    CHECK(mkdtemp(root) != NULL);
    snprintf(base_model, sizeof base_model, "%s/models/llama-tiny", WHET_FIXTURES);
    snprintf(adapter, sizeof adapter, "%s/export/llama-tiny/adapter", WHET_FIXTURES);
    snprintf(merged_st, sizeof merged_st, "%s/export/llama-tiny/merged/model.safetensors", WHET_FIXTURES);
    test_export_both();
    test_export_gguf_q8();
    expect_error("--export_dri x", "unknown key 'export_dri'", "did you mean 'export_dir'");
    char extra[4400];
    snprintf(extra, sizeof extra, "--adapter_name_or_path '%s,%s/no-such-adapter'", adapter, root);
    expect_error(extra, "no-such-adapter is not a folder", "adapter_name_or_path");
    expect_error("--export_legacy_format true", "export_legacy_format", "safetensors only");
    expect_error("--export_quantization_bit 4", "export_quantization_bit", "export_format: gguf");
    expect_error("--export_format onnx", "export_format", "hf|gguf|both");
    expect_error("--gguf_type q3_k", "gguf_type", "q4_k_m");
    expect_error("--export_shard_size lots", "export_shard_size", "500MB");
    expect_error("--finetuning_type full", "finetuning_type", "lora");
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    whet_strbuf o;
    whet_sb_init(&o);
    cli_run(cmd, &o);
    whet_sb_free(&o);
    return TEST_SUMMARY();
}
