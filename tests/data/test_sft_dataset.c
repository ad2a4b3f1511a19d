/* test_sft_dataset.c: the dataset pipeline against hand-worked
 * expectations: alpaca history/system/empty input, sharegpt system tag and
 * role alternation, tools (glaive demo, qwen tool format), label masks
 * (train_on_prompt, mask_history), infer_seqlen truncation, pt packing,
 * max_samples, val_size, folders, and the errors users hit. */
#include <stdlib.h>
#include <unistd.h>
#include "data/dataset.h"
#include "data/template_impl.h"
#include "data/sft_dataset.h"
#include "test.h"

#define LF WHET_FIXTURES "/data/lf"
#define QWEN WHET_FIXTURES "/models/qwen2-tiny"
#define QSYS "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"

static whet_tokenizer *tok;

static whet_lf_args *args_from(const char *json) {
    cJSON *o = cJSON_Parse(json);
    whet_error err = {0};
    whet_lf_args *a = NULL;
    CHECK_OK(whet_lf_args_from_json(o, "test", &a, &err), &err);
    cJSON_Delete(o);
    return a;
}

/* "[P:text][R:text]..." : runs of masked (-100) and trained labels, decoded. */
static char *spans(const whet_sft_example *e) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_error err = {0};
    for (int64_t i = 0; i < e->len;) {
        bool masked = e->labels[i] == WHET_IGNORE_INDEX;
        int64_t j = i;
        while (j < e->len && (e->labels[j] == WHET_IGNORE_INDEX) == masked) {
            if (!masked) CHECK(e->labels[j] == e->input_ids[j]);
            j++;
        }
        whet_strbuf d;
        whet_sb_init(&d);
        CHECK_OK(whet_tokenizer_decode(tok, e->input_ids + i, (size_t)(j - i), false, &d, &err), &err);
        whet_sb_printf(&sb, "[%c:%s]", masked ? 'P' : 'R', d.data ? d.data : "");
        whet_sb_free(&d);
        i = j;
    }
    return whet_sb_take(&sb);
}

static void check_spans(const whet_sft_example *e, const char *want) {
    char *got = spans(e);
    CHECK_MSG(strcmp(got, want) == 0, "%s:\n got  %s\n want %s", e->origin, got, want);
    free(got);
}

static void load(const char *json, whet_sft_dataset *d, whet_status want, const char *needle) {
    whet_lf_args *a = args_from(json);
    if (!a) return;
    whet_error err = {0};
    whet_status s = whet_sft_dataset_load(a, tok, d, &err);
    CHECK_MSG(s == want, "%s -> %d (%s)", json, s, err.msg);
    if (needle) CHECK_MSG(strstr(err.msg, needle) != NULL, "'%s' not in: %s", needle, err.msg);
    whet_lf_args_free(a);
}

static void test_alpaca_history(void) {
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"hist_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 2);   /* records 2 (no output) and 3 (output not a string) are dropped */
    if (d.n == 2) {
        check_spans(&d.items[0], "[P:<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n]"
                                 "[R:A1<|im_end|>\n][P:<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n]"
                                 "[R:A2<|im_end|>\n][P:<|im_start|>user\nQ3\nctx<|im_end|>\n<|im_start|>assistant\n]"
                                 "[R:A3<|im_end|>\n]");
        check_spans(&d.items[1], "[P:" QSYS "<|im_start|>user\nonly input<|im_end|>\n<|im_start|>assistant\n][R:out<|im_end|>\n]");
        CHECK(strstr(d.items[1].origin, "hist_demo.json record 1") != NULL);
    }
    whet_sft_dataset_free(&d);
    load("{\"dataset\":\"hist_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"mask_history\":true}", &d, WHET_OK, NULL);
    if (d.n == 2)
        check_spans(&d.items[0], "[P:<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n"
                                 "A1<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\nA2<|im_end|>\n"
                                 "<|im_start|>user\nQ3\nctx<|im_end|>\n<|im_start|>assistant\n][R:A3<|im_end|>\n]");
    whet_sft_dataset_free(&d);
    load("{\"dataset\":\"hist_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"train_on_prompt\":true}", &d, WHET_OK, NULL);
    if (d.n == 2)
        check_spans(&d.items[1], "[R:" QSYS "<|im_start|>user\nonly input<|im_end|>\n<|im_start|>assistant\nout<|im_end|>\n]");
    whet_sft_dataset_free(&d);
}

static void test_sharegpt(void) {
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"sg_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"chatml\"}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 2);   /* line 2: human twice; line 3: odd count */
    if (d.n == 2) {
        check_spans(&d.items[0], "[P:<|im_start|>system\nS0<|im_end|>\n<|im_start|>user\nh1<|im_end|>\n<|im_start|>assistant\n]"
                                 "[R:g1<|im_end|>\n]");
        check_spans(&d.items[1], "[P:<|im_start|>system\ncol-sys<|im_end|>\n<|im_start|>user\nh1<|im_end|>\n"
                                 "<|im_start|>assistant\n][R:g1<|im_end|>\n]");
        CHECK(strstr(d.items[1].origin, "record 3") != NULL);
    }
    whet_sft_dataset_free(&d);
}

static void test_tools(void) {
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"glaive_toolcall_en_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"max_samples\":1}",
         &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 1);
    if (d.n == 1) {
        char *s = spans(&d.items[0]);
        CHECK(strncmp(s, "[P:<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.\n\n"
                         "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are "
                         "provided with function signatures within <tools></tools> XML tags:\n<tools>\n"
                         "{\"type\": \"function\", \"function\": {\"name\": \"search_recipes\", ",
                      240) == 0);
        CHECK_MSG(strstr(s, "[R:<tool_call>\n{\"name\": \"search_recipes\", \"arguments\": {\"ingredients\": "
                            "[\"chicken\", \"bell peppers\", \"rice\"]}}\n</tool_call><|im_end|>\n]"
                            "[P:<|im_start|>user\n<tool_response>\n{\"recipes\": [{\"name\": ") != NULL,
                  "%s", s);
        CHECK(strstr(s, "</tool_response><|im_end|>\n<|im_start|>assistant\n][R:I found two recipes") != NULL);
        free(s);
    }
    whet_sft_dataset_free(&d);
}

/* llama3 tool format on llama3-tiny: json.dumps(indent=4) of the wrapped tool (expected text produced by
 * Python's json on the same record), the dated preamble, {"name", "parameters"} calls. */
static void test_tools_llama3(void) {
    whet_error err = {0};
    whet_tokenizer *l3 = NULL;
    CHECK_OK(whet_tokenizer_load_dir(WHET_FIXTURES "/models/llama3-tiny", &l3, &err), &err);
    if (!l3) return;
    setenv("WHET_TOOL_DATE", "06 Dec 2026", 1);
    whet_lf_args *a = args_from("{\"dataset\":\"glaive_toolcall_en_demo\",\"dataset_dir\":\"" LF "\","
                                "\"template\":\"llama3\",\"max_samples\":1}");
    whet_sft_dataset d = {0};
    if (a) CHECK_OK(whet_sft_dataset_load(a, l3, &d, &err), &err);
    if (d.n == 1) {
        whet_strbuf sb;
        whet_sb_init(&sb);
        CHECK_OK(whet_tokenizer_decode(l3, d.items[0].input_ids, (size_t)d.items[0].len, false, &sb, &err), &err);
        const char *want_sys =
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 06 Dec 2026\n\nYou have access to the following functions. To call a function, please respond "
            "with JSON for a function call. Respond in the format {\"name\": function name, \"parameters\": dictionary of "
            "argument name and its value}. Do not use variables.\n\n"
            "{\n    \"type\": \"function\",\n    \"function\": {\n        \"name\": \"search_recipes\",\n        "
            "\"description\": \"Search for recipes based on ingredients\",\n        \"parameters\": {\n            "
            "\"type\": \"object\",\n            \"properties\": {\n                \"ingredients\": {\n                    "
            "\"type\": \"array\",\n                    \"items\": {\n                        \"type\": \"string\"\n       "
            "             },\n                    \"description\": \"The ingredients to search for\"\n                }\n   "
            "         },\n            \"required\": [\n                \"ingredients\"\n            ]\n        }\n    }\n}"
            "\n\n<|eot_id|>";
        CHECK_MSG(sb.data && strncmp(sb.data, want_sys, strlen(want_sys)) == 0, "%s", sb.data);
        CHECK(sb.data && strstr(sb.data, "<|end_header_id|>\n\n{\"name\": \"search_recipes\", \"parameters\": "
                                         "{\"ingredients\": [\"chicken\", \"bell peppers\", \"rice\"]}}<|eot_id|>"
                                         "<|start_header_id|>ipython<|end_header_id|>\n\n{\"recipes\"") != NULL);
        whet_sb_free(&sb);
    }
    whet_sft_dataset_free(&d);
    whet_lf_args_free(a);
    /* mistral: one-line wrapped list (Python's json.dumps of the same tools) */
    whet_strbuf t;
    whet_sb_init(&t);
    CHECK_OK(whet_template_tool_text("mistral", "[{\"name\": \"f\", \"description\": \"d\", \"parameters\": {}}]", &t, &err), &err);
    CHECK_STR_EQ(t.data, "[AVAILABLE_TOOLS] [{\"type\": \"function\", \"function\": {\"name\": \"f\", \"description\": \"d\", "
                         "\"parameters\": {}}}][/AVAILABLE_TOOLS]");
    whet_sb_free(&t);
    whet_tokenizer_free(l3);
}

static void test_truncation(void) {
    long long s, t;
    whet_infer_seqlen(10, 3, 8, &s, &t);   /* 2*3 < 8: the target is kept */
    CHECK_EQ_INT(s, 5); CHECK_EQ_INT(t, 3);
    whet_infer_seqlen(3, 10, 8, &s, &t);   /* 2*3 < 8: the source is kept */
    CHECK_EQ_INT(s, 3); CHECK_EQ_INT(t, 5);
    whet_infer_seqlen(10, 10, 8, &s, &t);  /* both long: split by ratio int(8*10/20) */
    CHECK_EQ_INT(s, 4); CHECK_EQ_INT(t, 4);
    whet_infer_seqlen(30, 6, 9, &s, &t);   /* int(9*6/36) = 1 */
    CHECK_EQ_INT(s, 8); CHECK_EQ_INT(t, 1);

    /* hist_demo record 0 with qwen on qwen2-tiny (lengths from HF tokenizers, npm): turn 1 = 28 prompt + 4
       response tokens, turn 2 = 16 + 4. cutoff 26: infer_seqlen(28, 4, 26) = (22, 4), then the budget is spent.
       cutoff 40: turn 1 whole (32), then infer_seqlen(16, 4, 8): 2*4 < 8 no, 2*16 < 8 no,
       target int(8*4/20) = 1, source min(8-1, 16) = 7. */
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"hist_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"cutoff_len\":26}", &d, WHET_OK, NULL);
    if (d.n >= 1) {
        CHECK_EQ_INT(d.items[0].len, 26);
        check_spans(&d.items[0], "[P:<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>as]"
                                 "[R:A1<|im_end|>\n]");
    }
    whet_sft_dataset_free(&d);
    load("{\"dataset\":\"hist_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"cutoff_len\":40}", &d, WHET_OK, NULL);
    if (d.n >= 1) {
        CHECK_EQ_INT(d.items[0].len, 40);
        check_spans(&d.items[0], "[P:<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nQ1<|im_end|>\n<|im_start|>assistant\n]"
                                 "[R:A1<|im_end|>\n][P:<|im_start|>user\nQ2<|im_end|>][R:A]");
    }
    whet_sft_dataset_free(&d);
}

static void test_counts_split_pt(void) {
    whet_sft_dataset d = {0}, tr, va;
    load("{\"dataset\":\"identity,alpaca_en_demo,alpaca_zh_demo,huanhuan,glaive_toolcall_en_demo\",\"dataset_dir\":\"" LF
         "\",\"template\":\"qwen\"}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 91 + 30 + 20 + 30 + 12);
    if (d.n > 91) {
        CHECK(strstr(d.items[0].origin, "identity.json record 0") != NULL);
        CHECK(strstr(d.items[91].origin, "alpaca_en_demo.json record 0") != NULL);
        /* identity keeps LLaMA-Factory's {{name}} placeholders as the data has them */
        char *s = spans(&d.items[1]);
        CHECK_MSG(strstr(s, "{{name}}") != NULL, "%s", s);
        free(s);
    }
    whet_error err = {0};
    CHECK_OK(whet_sft_dataset_split(&d, 0.1, 42, &tr, &va, &err), &err);
    CHECK_EQ_INT(va.n, 19);   /* ceil(0.1 * 183) */
    CHECK_EQ_INT(tr.n, 183 - 19);
    whet_sft_dataset_free(&tr);
    whet_sft_dataset_free(&va);
    whet_sft_dataset_free(&d);

    load("{\"dataset\":\"identity\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"max_samples\":5}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 5);
    whet_sft_dataset_free(&d);
    load("{\"dataset\":\"bom_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"empty\"}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 1);   /* a UTF-8 byte-order mark is skipped */
    whet_sft_dataset_free(&d);
    load("{\"dataset\":\"folder_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"empty\"}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 3);
    if (d.n == 3) { check_spans(&d.items[0], "[P:a1][R:o]"); check_spans(&d.items[2], "[P:b1][R:o]"); }
    whet_sft_dataset_free(&d);

    load("{\"stage\":\"pt\",\"dataset\":\"c4_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"cutoff_len\":64}", &d,
         WHET_OK, NULL);
    CHECK(d.n > 10);
    size_t blocks64 = d.n;
    for (size_t i = 0; i < d.n; i++) {
        CHECK_EQ_INT(d.items[i].len, 64);
        CHECK(memcmp(d.items[i].labels, d.items[i].input_ids, 64 * sizeof(int32_t)) == 0);
    }
    whet_sft_dataset_free(&d);
    /* packing given explicitly: LLaMA-Factory's __post_init__ makes the blocks cutoff_len - 1 */
    load("{\"stage\":\"pt\",\"packing\":true,\"dataset\":\"c4_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\","
         "\"cutoff_len\":64}", &d, WHET_OK, NULL);
    CHECK(d.n >= blocks64);
    for (size_t i = 0; i < d.n; i++) CHECK_EQ_INT(d.items[i].len, 63);
    whet_sft_dataset_free(&d);
}

static void test_errors(void) {
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"identiy\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_ERR_NOT_FOUND,
         "dataset 'identiy' is not defined in " LF "/dataset_info.json (did you mean 'identity'?); defined: ");
    load("{\"dataset\":\"bad_jsonl\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_ERR_FORMAT,
         "bad_jsonl.jsonl:3: record 1 is not a JSON object");
    load("{\"dataset\":\"bad_json\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_ERR_FORMAT, "bad_json.json:3:");
    load("{\"dataset\":\"dpo_en_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_ERR_UNSUPPORTED, "ranking");
    load("{\"dataset\":\"alpaca_en\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_ERR_UNSUPPORTED,
         "not available offline: download it and set file_name");
    load("{\"dataset\":\"identity\",\"dataset_dir\":\"/nonexistent\",\"template\":\"qwen\"}", &d, WHET_ERR_NOT_FOUND,
         "/nonexistent/dataset_info.json not found");
    load("{\"dataset\":\"identity\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen2\"}", &d, WHET_ERR_NOT_FOUND,
         "unknown template 'qwen2'");
    load("{\"dataset\":\"identity\",\"dataset_dir\":\"" LF "\"}", &d, WHET_ERR_INVALID_ARG, "no template");
    load("{\"dataset\":\"bad_column\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}", &d, WHET_ERR_FORMAT,
         "column 'answer' (columns.response in dataset_info.json) is in no record of " LF "/hist_demo.json; record 0 has: "
         "instruction, input, output, system, history");
    load("{\"dataset\":\"hist_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\",\"max_samples\":0}", &d,
         WHET_ERR_INVALID_ARG, "cannot find valid samples");
}

/* Every demo dataset at full size (tests/fixtures/real-tokenizers.tar.xz, unpacked by CMake into
 * WHET_REAL_FIXTURES/data: LLaMA-Factory's demo data and huanhuan, as in shared/data). */
static void test_full_demos(void) {
    const char *real = WHET_REAL_FIXTURES;
    const char *dir = WHET_REAL_FIXTURES "/data/llamafactory";
    FILE *f;
    static const struct { const char *name; size_t n; } C[] = {
        {"identity", 91}, {"alpaca_en_demo", 999}, {"alpaca_zh_demo", 1000}, {"glaive_toolcall_en_demo", 300}};
    for (size_t i = 0; i < sizeof C / sizeof C[0]; i++) {
        char json[1600];
        snprintf(json, sizeof json, "{\"dataset\":\"%s\",\"dataset_dir\":\"%s\",\"template\":\"qwen\"}", C[i].name, dir);
        whet_sft_dataset d = {0};
        load(json, &d, WHET_OK, NULL);
        CHECK_MSG(d.n == C[i].n, "%s: %zu examples, want %zu", C[i].name, d.n, C[i].n);
        whet_sft_dataset_free(&d);
    }
    /* huanhuan (self-llm, 3729 alpaca records) through its documented entry, with an absolute file_name,
       and c4_demo as pre-training text (300 lines; without packing one example each) */
    char tmp[] = "/tmp/whet-hh-XXXXXX", info[1400], json[2000];
    if (!mkdtemp(tmp)) { CHECK(0); return; }
    snprintf(info, sizeof info, "%s/dataset_info.json", tmp);
    f = fopen(info, "w");
    if (!f) { CHECK(0); return; }
    fprintf(f, "{\"huanhuan\": {\"file_name\": \"%s/data/huanhuan/huanhuan.json\"},"
               " \"c4_demo\": {\"file_name\": \"%s/c4_demo.jsonl\", \"columns\": {\"prompt\": \"text\"}}}", real, dir);
    fclose(f);
    whet_sft_dataset d = {0};
    snprintf(json, sizeof json, "{\"dataset\":\"huanhuan\",\"dataset_dir\":\"%s\",\"template\":\"qwen\","
             "\"default_system\":\"现在你要扮演皇帝身边的女人--甄嬛\"}", tmp);
    load(json, &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 3729);
    if (d.n) {
        char *s = spans(&d.items[0]);
        CHECK_MSG(strncmp(s, "[P:<|im_start|>system\n现在你要扮演皇帝身边的女人--甄嬛<|im_end|>\n<|im_start|>user\n", 60) == 0, "%s", s);
        free(s);
    }
    whet_sft_dataset_free(&d);
    snprintf(json, sizeof json, "{\"stage\":\"pt\",\"packing\":false,\"dataset\":\"c4_demo\",\"dataset_dir\":\"%s\","
             "\"template\":\"qwen\",\"cutoff_len\":128}", tmp);
    load(json, &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 300);
    whet_sft_dataset_free(&d);
    remove(info);
    rmdir(tmp);
}

/* efficient_eos (glm4: no eos after answers): turn >= 2 starts its prompt labels with eos, eos appended.
 * enable_thinking false (qwen3): the empty thought goes into the masked prompt. */
static void test_efficient_eos_and_thinking(void) {
    whet_error err = {0};
    whet_tokenizer *l2 = NULL;
    CHECK_OK(whet_tokenizer_load_dir(WHET_FIXTURES "/models/llama-tiny", &l2, &err), &err);
    if (!l2) return;
    whet_chat_format f;
    CHECK_OK(whet_chat_format_init(&f, whet_template_find("glm4"), l2, &err), &err);
    whet_message p[3] = {{WHET_ROLE_USER, "Q1"}, {WHET_ROLE_ASSISTANT, "A1"}, {WHET_ROLE_USER, "Q2"}};
    whet_conv_sample smp = {p, 3, {{WHET_ROLE_ASSISTANT, "A2"}}, 1, "", ""};
    whet_sft_options o = {1024, false, false};
    int32_t *ids, *lab;
    int64_t n;
    CHECK_OK(whet_sft_encode_example(&f, &smp, &o, &ids, &lab, &n, &err), &err);
    whet_message all[4] = {p[0], p[1], p[2], smp.response[0]};
    whet_turn *t;
    size_t nt;
    CHECK_OK(whet_template_encode_multiturn(&f, all, 4, "", NULL, false, &t, &nt, &err), &err);
    if (ids && nt == 2) {
        int64_t p1 = (int64_t)t[0].prompt.n, r1 = (int64_t)t[0].response.n, p2 = (int64_t)t[1].prompt.n,
                r2 = (int64_t)t[1].response.n;
        CHECK_EQ_INT(n, p1 + r1 + p2 + r2 + 1);
        for (int64_t i = 0; i < p1; i++) CHECK_EQ_INT(lab[i], WHET_IGNORE_INDEX);
        CHECK_EQ_INT(lab[p1 + r1], f.eos_id);                     /* first label of turn 2's prompt */
        for (int64_t i = 1; i < p2; i++) CHECK_EQ_INT(lab[p1 + r1 + i], WHET_IGNORE_INDEX);
        CHECK_EQ_INT(ids[n - 1], f.eos_id);
        CHECK_EQ_INT(lab[n - 1], f.eos_id);
        CHECK_EQ_INT(f.eos_id, whet_tokenizer_eos_id(l2));        /* glm4 does not replace eos */
    }
    whet_turns_free(t, nt);
    free(ids);
    free(lab);
    whet_tokenizer_free(l2);

    whet_lf_args *a = args_from("{\"dataset\":\"sg_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen3\","
                                "\"enable_thinking\":false}");
    whet_sft_dataset d = {0};
    if (a) CHECK_OK(whet_sft_dataset_load(a, tok, &d, &err), &err);
    if (d.n >= 1)
        check_spans(&d.items[0], "[P:<|im_start|>system\nS0<|im_end|>\n<|im_start|>user\nh1<|im_end|>\n<|im_start|>assistant\n"
                                 "<think>\n\n</think>\n\n][R:g1<|im_end|>\n]");
    whet_sft_dataset_free(&d);
    whet_lf_args_free(a);
}

/* The tokenized cache: a second load reads it and gives the same examples; another cutoff or
 * overwrite_cache re-encodes. */
static void test_cache(void) {
    char dir[] = "/tmp/whet-sft-cache-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    setenv("WHET_CACHE_DIR", dir, 1);
    const char *cfg = "{\"dataset\":\"identity,glaive_toolcall_en_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\"}";
    whet_sft_dataset a = {0}, b = {0}, c = {0};
    load(cfg, &a, WHET_OK, NULL);
    load(cfg, &b, WHET_OK, NULL);
    CHECK(!a.from_cache);
    CHECK(b.from_cache);
    CHECK_EQ_INT(a.n, b.n);
    for (size_t i = 0; i < a.n && i < b.n; i++) {
        CHECK_EQ_INT(a.items[i].len, b.items[i].len);
        CHECK(memcmp(a.items[i].input_ids, b.items[i].input_ids, (size_t)a.items[i].len * 4) == 0);
        CHECK(memcmp(a.items[i].labels, b.items[i].labels, (size_t)a.items[i].len * 4) == 0);
        CHECK_STR_EQ(a.items[i].origin, b.items[i].origin);
    }
    load("{\"dataset\":\"identity,glaive_toolcall_en_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\","
         "\"cutoff_len\":64}", &c, WHET_OK, NULL);
    CHECK(!c.from_cache);
    whet_sft_dataset_free(&c);
    load("{\"dataset\":\"identity,glaive_toolcall_en_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"qwen\","
         "\"overwrite_cache\":true}", &c, WHET_OK, NULL);
    CHECK(!c.from_cache);
    whet_sft_dataset_free(&a);
    whet_sft_dataset_free(&b);
    whet_sft_dataset_free(&c);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0);
    setenv("WHET_CACHE_DIR", "none", 1);
}

/* SFT packing, worked by hand: with the empty template on qwen2-tiny, "x" + n digits is 1 + n tokens
 * (Qwen splits digits), so pack_demo's records have lengths 6, 2, 5, 3, 4, 2, 10. cutoff_len 10 encodes
 * with 9 (LLaMA-Factory's cutoff_len - 1), so the last record is truncated to 9, and pads rows to 10.
 * greedy_knapsack on [2,2,3,4,5,6,9]: {9} = record 6; {6,3} = records 0,3; {5,4} = records 2,4;
 * {2,2} = records 5,1 (a length's last record first). */
static void test_packing(void) {
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"pack_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"empty\",\"cutoff_len\":10,"
         "\"neat_packing\":true}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 4);
    static const int32_t seg[4][10] = {{1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, {1, 1, 1, 1, 1, 1, 2, 2, 2, 0},
                                       {1, 1, 1, 1, 1, 2, 2, 2, 2, 0}, {1, 1, 2, 2, 0, 0, 0, 0, 0, 0}};
    static const int32_t pos[4][10] = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 0}, {0, 1, 2, 3, 4, 5, 0, 1, 2, 0},
                                       {0, 1, 2, 3, 4, 0, 1, 2, 3, 0}, {0, 1, 0, 1, 0, 0, 0, 0, 0, 0}};
    static const char *const txt[4] = {"x12345678", "x12345x12", "x1234x123", "x9x1"};
    whet_error err = {0};
    for (size_t i = 0; i < d.n && i < 4; i++) {
        const whet_sft_example *e = &d.items[i];
        CHECK_EQ_INT(e->len, 10);
        CHECK(e->position_ids && e->segment_ids);
        if (!e->position_ids || !e->segment_ids) continue;
        CHECK(memcmp(e->segment_ids, seg[i], sizeof seg[i]) == 0);
        CHECK(memcmp(e->position_ids, pos[i], sizeof pos[i]) == 0);
        int64_t n = 0;
        while (n < e->len && e->segment_ids[n]) n++;
        whet_strbuf sb;
        whet_sb_init(&sb);
        CHECK_OK(whet_tokenizer_decode(tok, e->input_ids, (size_t)n, false, &sb, &err), &err);
        CHECK_STR_EQ(sb.data, txt[i]);
        whet_sb_free(&sb);
        for (int64_t k = 0; k < e->len; k++) {   /* "x" and the pad are masked, the digits are trained */
            bool masked = e->segment_ids[k] == 0 || e->position_ids[k] == 0;
            CHECK_EQ_INT(e->labels[k] == WHET_IGNORE_INDEX, masked);
        }
    }
    whet_sft_dataset_free(&d);
    load("{\"dataset\":\"pack_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"empty\",\"cutoff_len\":10,"
         "\"packing\":true}", &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 4);
    if (d.n) CHECK(d.items[0].position_ids && !d.items[0].segment_ids);
    whet_sft_dataset_free(&d);
}

/* The demo's data/ folder: `dataset: identity,alpaca_en_demo` + `dataset_dir: data`. */
static void test_demo_data_dir(void) {
    whet_sft_dataset d = {0};
    load("{\"dataset\":\"identity,alpaca_en_demo\",\"dataset_dir\":\"" WHET_SOURCE_DIR "/data\",\"template\":\"qwen\"}",
         &d, WHET_OK, NULL);
    CHECK_EQ_INT(d.n, 91 + 999);
    if (d.n > 1) {
        char *s = spans(&d.items[1]);
        CHECK_MSG(strstr(s, "whet-demo") && !strstr(s, "{{name}}"), "%s", s);
        free(s);
    }
    whet_sft_dataset_free(&d);
}

int main(void) {
    whet_error err = {0};
    setenv("WHET_CACHE_DIR", "none", 1);   /* the other tests always encode */
    CHECK_OK(whet_tokenizer_load_dir(QWEN, &tok, &err), &err);
    if (!tok) return TEST_SUMMARY();
    test_alpaca_history();
    test_sharegpt();
    test_tools();
    test_tools_llama3();
    test_truncation();
    test_counts_split_pt();
    test_errors();
    test_full_demos();
    test_demo_data_dir();
    test_efficient_eos_and_thinking();
    test_cache();
    test_packing();
    whet_tokenizer_free(tok);
    return TEST_SUMMARY();
}
