/* test_lf_args.c: LLaMA-Factory argument parsing: the upstream example
 * YAMLs (examples/train_lora/qwen3_lora_sft.yaml, examples/merge_lora/...)
 * load with LLaMA-Factory's defaults filled, command-line overrides win,
 * and every kind of bad input gives an error naming key, file and fix. */
#include <math.h>
#include <stdlib.h>
#include "core/file.h"
#include "io/lf_args.h"
#include "test.h"

#define CFG WHET_FIXTURES "/data/configs/"

static whet_status parse(whet_lf_args **a, whet_error *err, int argc, ...) {
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    return whet_lf_args_parse(argc, argv, a, err);
}

static void test_train_example(void) {
    whet_error err = {0};
    whet_lf_args *a = NULL;
    CHECK_OK(parse(&a, &err, 1, CFG "qwen3_lora_sft.yaml"), &err);
    if (!a) return;
    CHECK_STR_EQ(whet_lf_args_str(a, "model_name_or_path"), "Qwen/Qwen3-4B-Instruct-2507");
    CHECK_STR_EQ(whet_lf_args_str(a, "stage"), "sft");
    CHECK_STR_EQ(whet_lf_args_str(a, "template"), "qwen3_nothink");
    CHECK_EQ_INT(whet_lf_args_int(a, "lora_rank"), 8);
    CHECK_EQ_INT(whet_lf_args_int(a, "lora_alpha"), 16);   /* None -> lora_rank*2 */
    CHECK(!whet_lf_args_is_set(a, "lora_alpha"));
    CHECK_NEAR(whet_lf_args_double(a, "learning_rate"), 1e-4, 0, 0);
    CHECK_NEAR(whet_lf_args_double(a, "num_train_epochs"), 3.0, 0, 0);
    CHECK_NEAR(whet_lf_args_double(a, "warmup_ratio"), 0.1, 0, 0);
    CHECK_EQ_INT(whet_lf_args_int(a, "cutoff_len"), 2048);
    CHECK_EQ_INT(whet_lf_args_int(a, "max_samples"), 1000);
    CHECK(whet_lf_args_bool(a, "bf16"));
    CHECK(!whet_lf_args_bool(a, "fp16"));
    CHECK(!whet_lf_args_bool(a, "packing"));              /* None -> stage == pt */
    CHECK_STR_EQ(whet_lf_args_str(a, "dataset_dir"), "data");
    CHECK_STR_EQ(whet_lf_args_str(a, "lr_scheduler_type"), "cosine");
    CHECK_STR_EQ(whet_lf_args_str(a, "lora_target"), "all");
    CHECK(!whet_lf_args_is_set(a, "resume_from_checkpoint"));   /* null = unset */
    CHECK(whet_lf_args_str(a, "resume_from_checkpoint") == NULL);
    CHECK(isnan(whet_lf_args_double(a, "neftune_noise_alpha")));
    CHECK_EQ_INT(whet_lf_args_int(a, "save_total_limit"), -1);
    CHECK_NEAR(whet_lf_args_double(a, "temperature"), 0.95, 0, 0);
    CHECK_NEAR(whet_lf_args_double(a, "top_p"), 0.7, 0, 0);
    CHECK_EQ_INT(whet_lf_args_int(a, "top_k"), 50);
    CHECK_EQ_INT(whet_lf_args_int(a, "max_new_tokens"), 1024);
    CHECK(whet_lf_args_bool(a, "do_sample"));
    char **ds = whet_lf_args_list(a, "dataset");
    CHECK(ds && ds[0] && ds[1] && !ds[2]);
    if (ds && ds[0] && ds[1]) { CHECK_STR_EQ(ds[0], "identity"); CHECK_STR_EQ(ds[1], "alpaca_en_demo"); }
    whet_lf_args_list_free(ds);
    whet_lf_args_free(a);
}

static void test_merge_example_and_overrides(void) {
    whet_error err = {0};
    whet_lf_args *a = NULL;
    CHECK(parse(&a, &err, 9, CFG "qwen3_lora_sft_merge.yaml", "--export_size", "2", "--export_gguf=q8_0",
                   "export_dir=out/merged", "--do_sample", "--temperature", "0.3", "--max-new-tokens") != WHET_OK);
    CHECK(a == NULL);   /* --max-new-tokens without a value */
    CHECK_MSG(strstr(err.msg, "max_new_tokens needs a value") != NULL, "%s", err.msg);
    CHECK_OK(parse(&a, &err, 10, CFG "qwen3_lora_sft_merge.yaml", "--export_size", "2", "--export_gguf=q8_0",
                   "export_dir=out/merged", "--do_sample", "false", "--temperature", "0.3", "--skip_special_tokens"),
             &err);
    if (!a) return;
    CHECK_STR_EQ(whet_lf_args_str(a, "adapter_name_or_path"), "saves/qwen3-4b/lora/sft");
    CHECK_STR_EQ(whet_lf_args_str(a, "export_dir"), "out/merged");
    CHECK_EQ_INT(whet_lf_args_int(a, "export_size"), 2);
    CHECK_STR_EQ(whet_lf_args_str(a, "export_device"), "cpu");
    CHECK_STR_EQ(whet_lf_args_str(a, "export_gguf"), "q8_0");
    CHECK(!whet_lf_args_bool(a, "export_legacy_format"));
    CHECK(!whet_lf_args_bool(a, "do_sample"));
    CHECK(whet_lf_args_bool(a, "skip_special_tokens"));
    CHECK_NEAR(whet_lf_args_double(a, "temperature"), 0.3, 0, 0);
    CHECK(whet_lf_args_is_set(a, "export_size"));
    CHECK(whet_lf_args_is_set(a, "export_device"));
    CHECK(!whet_lf_args_is_set(a, "infer_dtype"));
    CHECK_STR_EQ(whet_lf_args_str(a, "infer_dtype"), "auto");
    whet_lf_args_free(a);
}

static void expect_error(whet_status want, const char *needle1, const char *needle2, int argc, ...) {
    char *argv[16];
    va_list ap;
    va_start(ap, argc);
    for (int i = 0; i < argc; i++) argv[i] = va_arg(ap, char *);
    va_end(ap);
    whet_error err = {0};
    whet_lf_args *a = NULL;
    whet_status s = whet_lf_args_parse(argc, argv, &a, &err);
    CHECK_MSG(s == want, "status %d, want %d: %s", s, want, err.msg);
    CHECK_MSG(strstr(err.msg, needle1) != NULL, "'%s' not in: %s", needle1, err.msg);
    CHECK_MSG(!needle2 || strstr(err.msg, needle2) != NULL, "'%s' not in: %s", needle2, err.msg);
    CHECK(a == NULL);
    whet_lf_args_free(a);
}

static void test_errors(void) {
    expect_error(WHET_ERR_INVALID_ARG, "bad_unknown_key.yaml: unknown key 'lerning_rate'",
                 "did you mean 'learning_rate'", 1, CFG "bad_unknown_key.yaml");
    expect_error(WHET_ERR_INVALID_ARG, "command line: unknown key 'lora_rnak'", "'lora_rank'", 2, "--lora_rnak", "4");
    expect_error(WHET_ERR_UNSUPPORTED, "stage: dpo", "whet supports pt|sft", 1, CFG "bad_stage_dpo.yaml");
    expect_error(WHET_ERR_INVALID_ARG, "key 'lora_rank' expects integer", "\"eight\"", 1, CFG "bad_type.yaml");
    expect_error(WHET_ERR_INVALID_ARG, "key 'learning_rate' expects number", "abc", 1, "--learning_rate=abc");
    expect_error(WHET_ERR_INVALID_ARG, "key 'bf16' expects boolean", NULL, 1, "bf16=maybe");
    expect_error(WHET_ERR_INVALID_ARG, "'sigmoidal' is not a valid value", "lr_scheduler_type", 2,
                 "--lr_scheduler_type", "sigmoidal");
    expect_error(WHET_ERR_UNSUPPORTED, "'use_dora'", "does not support", 1, "--use_dora");
    expect_error(WHET_ERR_UNSUPPORTED, "'quantization_bit'", "does not support", 2, "--quantization_bit", "4");
    expect_error(WHET_ERR_UNSUPPORTED, "'export_quantization_bit'", "does not support", 1, "export_quantization_bit=4");
    expect_error(WHET_ERR_UNSUPPORTED, "'export_hub_model_id'", "does not support", 1, "export_hub_model_id=me/m");
    expect_error(WHET_ERR_INVALID_ARG, "export_gguf: 'q3_k' is not a valid value", "q4_k_m", 1, "--export_gguf=q3_k");
    expect_error(WHET_ERR_UNSUPPORTED, "finetuning_type: full", "whet supports lora", 1, "finetuning_type=full");
    expect_error(WHET_ERR_UNSUPPORTED, "mix_strategy: interleave_under", "concat", 1, "mix_strategy=interleave_under");
    expect_error(WHET_ERR_UNSUPPORTED, "report_to: wandb", NULL, 1, "report_to=tensorboard,wandb");
    expect_error(WHET_ERR_INVALID_ARG, "train_on_prompt and mask_history", NULL, 2, "--train_on_prompt", "--mask_history");
    expect_error(WHET_ERR_INVALID_ARG, "unexpected argument 'oops'", NULL, 1, "oops");
    expect_error(WHET_ERR_INVALID_ARG, "two config files", NULL, 2, CFG "bad_type.yaml", CFG "bad_stage_dpo.yaml");
    expect_error(WHET_ERR_NOT_FOUND, "nope.yaml", NULL, 1, CFG "nope.yaml");
    expect_error(WHET_ERR_INVALID_ARG, "deepspeed_zero_stage", "read from the file", 1, "deepspeed_zero_stage=3");
    expect_error(WHET_ERR_INVALID_ARG, "val_size", NULL, 1, "val_size=2.5");
}

static void test_unsupported_at_default_and_deepspeed(void) {
    whet_error err = {0};
    whet_lf_args *a = NULL;
    /* unsupported keys at LLaMA-Factory's default value are fine */
    CHECK_OK(parse(&a, &err, 6, "use_dora=false", "--quantization_type", "nf4", "--deepspeed",
                   CFG "ds_z2_offload_config.json", "stage=pt"),
             &err);
    if (!a) return;
    CHECK_EQ_INT(whet_lf_args_int(a, "deepspeed_zero_stage"), 2);
    CHECK_STR_EQ(whet_lf_args_str(a, "deepspeed_offload_optimizer"), "cpu");
    CHECK_STR_EQ(whet_lf_args_str(a, "deepspeed_offload_param"), "none");
    CHECK(whet_lf_args_bool(a, "packing"));   /* pt packs by default */
    whet_lf_args_free(a);

    cJSON *obj = cJSON_Parse("{\"lora_target\": [\"q_proj\", \"v_proj\"], \"lora_alpha\": 32, \"val_size\": 0.1,"
                             " \"learning_rate\": \"5e-4\", \"cutoff_len\": 1024.0}");
    CHECK_OK(whet_lf_args_from_json(obj, "api request", &a, &err), &err);
    if (a) {
        char **t = whet_lf_args_list(a, "lora_target");
        CHECK(t && t[0] && t[1] && !t[2]);
        if (t && t[0] && t[1]) { CHECK_STR_EQ(t[0], "q_proj"); CHECK_STR_EQ(t[1], "v_proj"); }
        whet_lf_args_list_free(t);
        CHECK_EQ_INT(whet_lf_args_int(a, "lora_alpha"), 32);
        CHECK_NEAR(whet_lf_args_double(a, "learning_rate"), 5e-4, 0, 0);
        CHECK_EQ_INT(whet_lf_args_int(a, "cutoff_len"), 1024);
        CHECK(cJSON_GetObjectItem(whet_lf_args_json(a), "lora_dropout") != NULL);
        whet_lf_args_free(a);
    }
    cJSON_Delete(obj);
    obj = cJSON_Parse("{\"num_beams\": 4}");
    whet_status s = whet_lf_args_from_json(obj, "api request", &a, &err);
    CHECK_EQ_INT(s, WHET_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.msg, "api request: num_beams: 4") != NULL, "%s", err.msg);
    cJSON_Delete(obj);
}

static void test_registry(void) {
    size_t n;
    const whet_lf_key *reg = whet_lf_args_registry(&n);
    CHECK(n > 200);
    for (size_t i = 0; i < n; i++) {
        CHECK_MSG(whet_lf_args_find_key(reg[i].name) == &reg[i], "duplicate key %s", reg[i].name);
        CHECK_MSG(reg[i].help && reg[i].help[0], "%s has no help", reg[i].name);
    }
    static const char *const must[] = {"export_dir", "export_size", "export_device", "export_legacy_format",
                                       "export_quantization_bit", "export_quantization_dataset",
                                       "export_hub_model_id", "export_gguf", "max_new_tokens", "temperature",
                                       "top_p", "top_k", "repetition_penalty", "do_sample"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        CHECK_MSG(whet_lf_args_find_key(must[i]) != NULL, "missing %s", must[i]);
}

/* docs/config.md lists every registry key with its type and default. */
static void test_docs_list_every_key(void) {
    char *doc;
    size_t len;
    whet_error err = {0};
    CHECK_OK(whet_read_file(WHET_SOURCE_DIR "/docs/config.md", &doc, &len, &err), &err);
    if (err.code) return;
    size_t n;
    const whet_lf_key *reg = whet_lf_args_registry(&n);
    for (size_t i = 0; i < n; i++) {
        char row[160];
        snprintf(row, sizeof row, "| `%s` | %s |", reg[i].name,
                 reg[i].type == WHET_LF_STR ? "string" : reg[i].type == WHET_LF_INT ? "integer" :
                 reg[i].type == WHET_LF_FLOAT ? "number" : reg[i].type == WHET_LF_BOOL ? "bool" :
                 reg[i].type == WHET_LF_PATH_OR_BOOL ? "path or bool" : "list");
        CHECK_MSG(strstr(doc, row) != NULL, "docs/config.md has no row '%s'", row);
    }
    free(doc);
}

/* resume_from_checkpoint is a path or a bool, as in transformers. */
static void test_resume_path_or_bool(void) {
    static const char *const CASES[][2] = {
        {"{\"output_dir\": \"o\", \"resume_from_checkpoint\": true}", "true"},
        {"{\"output_dir\": \"o\", \"resume_from_checkpoint\": \"True\"}", "true"},
        {"{\"output_dir\": \"o\", \"resume_from_checkpoint\": false}", NULL},
        {"{\"output_dir\": \"o\", \"resume_from_checkpoint\": \"o/checkpoint-2\"}", "o/checkpoint-2"},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        cJSON *obj = cJSON_Parse(CASES[i][0]);
        whet_lf_args *a = NULL;
        whet_error err = {0};
        CHECK_OK(whet_lf_args_from_json(obj, "case", &a, &err), &err);
        if (a) {
            const char *got = whet_lf_args_str(a, "resume_from_checkpoint");
            if (CASES[i][1]) CHECK_STR_EQ(got ? got : "(null)", CASES[i][1]);
            else CHECK_MSG(got == NULL, "case %zu: expected NULL, got %s", i, got);
        }
        whet_lf_args_free(a);
        cJSON_Delete(obj);
    }
    /* a list is a clear type error naming the key */
    cJSON *obj = cJSON_Parse("{\"resume_from_checkpoint\": [\"a\", \"b\"]}");
    whet_lf_args *a = NULL;
    whet_error err = {0};
    CHECK(whet_lf_args_from_json(obj, "cfg.yaml", &a, &err) == WHET_ERR_INVALID_ARG);
    CHECK_MSG(strstr(err.msg, "resume_from_checkpoint") && strstr(err.msg, "path or boolean"), "msg: %s", err.msg);
    whet_lf_args_free(a);
    cJSON_Delete(obj);
    /* command line: --resume_from_checkpoint true */
    char *argv[] = {"--output_dir", "o", "--resume_from_checkpoint", "true"};
    a = NULL;
    CHECK_OK(whet_lf_args_parse(4, argv, &a, &err), &err);
    if (a) CHECK_STR_EQ(whet_lf_args_str(a, "resume_from_checkpoint"), "true");
    whet_lf_args_free(a);
}

static void test_help(void) {
    char *h = whet_lf_args_help("model,data,finetuning,training");
    CHECK(h != NULL);
    if (!h) return;
    CHECK(strstr(h, "  --learning_rate FLOAT") != NULL);
    CHECK(strstr(h, "(default: 5e-5)") != NULL);
    CHECK(strstr(h, "  --stage STR") && strstr(h, "{pt|sft}"));
    CHECK(strstr(h, "--use_dora") == NULL);      /* unsupported keys are only counted */
    CHECK(strstr(h, "--temperature") == NULL);   /* generating group not asked for */
    CHECK(strstr(h, "not supported (docs/config.md)") != NULL);
    free(h);
}

int main(void) {
    test_train_example();
    test_resume_path_or_bool();
    test_merge_example_and_overrides();
    test_errors();
    test_unsupported_at_default_and_deepspeed();
    test_registry();
    test_docs_list_every_key();
    test_help();
    return TEST_SUMMARY();
}
