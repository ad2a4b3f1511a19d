/* test_sft_preview.c: the pieces of `whet data`: span rendering, length
 * statistics (worked by hand on pack_demo), JSON <-> JSONL conversion
 * (round trip keeps every record, unicode unescaped). */
#include <stdlib.h>
#include <unistd.h>
#include "core/file.h"
#include "core/json.h"
#include "data/dataset.h"
#include "data/sft_preview.h"
#include "test.h"

#define LF WHET_FIXTURES "/data/lf"

static void test_render_and_stats(whet_tokenizer *tok) {
    whet_error err = {0};
    cJSON *o = cJSON_Parse("{\"dataset\":\"pack_demo\",\"dataset_dir\":\"" LF "\",\"template\":\"empty\",\"cutoff_len\":9}");
    whet_lf_args *a = NULL;
    CHECK_OK(whet_lf_args_from_json(o, "test", &a, &err), &err);
    cJSON_Delete(o);
    if (!a) return;
    whet_sft_dataset d = {0};
    CHECK_OK(whet_sft_dataset_load(a, tok, &d, &err), &err);
    CHECK_EQ_INT(d.n, 7);
    if (d.n == 7) {
        whet_strbuf sb;
        whet_sb_init(&sb);
        CHECK_OK(whet_sft_render_spans(tok, &d.items[0], false, &sb, &err), &err);
        CHECK_STR_EQ(sb.data, "[P:x][R:12345]");
        whet_sb_clear(&sb);
        CHECK_OK(whet_sft_render_spans(tok, &d.items[1], true, &sb, &err), &err);
        CHECK_STR_EQ(sb.data, "\033[2mx\033[0m\033[32m1\033[0m");
        whet_sb_free(&sb);
        /* lengths 6 2 5 3 4 2 9 (the last truncated from 10): sum 31, labels 31 - 7 prompt "x" tokens */
        whet_sft_stats st;
        whet_sft_compute_stats(&d, 9, &st);
        CHECK_EQ_INT(st.min_len, 2);
        CHECK_EQ_INT(st.max_len, 9);
        CHECK_EQ_INT(st.total_tokens, 31);
        CHECK_EQ_INT(st.label_tokens, 24);
        CHECK_EQ_INT(st.at_cutoff, 1);
        /* bins of [0, 9]: len*10/10 -> 2,2 in bin 2; 3 in 3; 4 in 4; 5 in 5; 6 in 6; 9 in 9 */
        CHECK_EQ_INT(st.hist[2], 2);
        CHECK_EQ_INT(st.hist[9], 1);
        whet_strbuf t;
        whet_sb_init(&t);
        whet_sft_format_stats(&st, 9, &t);
        CHECK(strstr(t.data, "7 examples, 31 tokens (24 trained), length min 2 / mean 4.4 / max 9") != NULL);
        CHECK(strstr(t.data, "1 examples reach cutoff_len 9") != NULL);
        whet_sb_free(&t);
    }
    whet_sft_dataset_free(&d);
    whet_lf_args_free(a);
}

static void test_convert(void) {
    whet_error err = {0};
    char dir[] = "/tmp/whet-convert-XXXXXX";
    if (!mkdtemp(dir)) { CHECK(0); return; }
    char jl[256], js[256];
    snprintf(jl, sizeof jl, "%s/a.jsonl", dir);
    snprintf(js, sizeof js, "%s/b.json", dir);
    size_t n = 0;
    CHECK_OK(whet_data_convert_file(LF "/alpaca_zh_demo.json", jl, "jsonl", &n, &err), &err);
    CHECK_EQ_INT(n, 20);
    CHECK_OK(whet_data_convert_file(jl, js, "json", &n, &err), &err);
    CHECK_EQ_INT(n, 20);
    cJSON *orig, *back;
    CHECK_OK(whet_json_parse_file(LF "/alpaca_zh_demo.json", &orig, &err), &err);
    CHECK_OK(whet_json_parse_file(js, &back, &err), &err);
    CHECK(orig && back && cJSON_Compare(orig, back, true));
    char *text;
    size_t len;
    CHECK_OK(whet_read_file(jl, &text, &len, &err), &err);
    if (text) {
        CHECK(strstr(text, "\\u") == NULL);   /* ensure_ascii=False */
        size_t lines = 0;
        for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
        CHECK_EQ_INT(lines, 20);
        free(text);
    }
    cJSON_Delete(orig);
    cJSON_Delete(back);
    CHECK(whet_data_convert_file(jl, js, "csv", &n, &err) == WHET_ERR_INVALID_ARG);
    remove(jl);
    remove(js);
    rmdir(dir);
}

int main(void) {
    setenv("WHET_CACHE_DIR", "none", 1);
    whet_error err = {0};
    whet_tokenizer *tok = NULL;
    CHECK_OK(whet_tokenizer_load_dir(WHET_FIXTURES "/models/qwen2-tiny", &tok, &err), &err);
    if (tok) test_render_and_stats(tok);
    whet_tokenizer_free(tok);
    test_convert();
    return TEST_SUMMARY();
}
