/* test_tokenize_cli.c: `whet tokenize` through the binary against the HF
 * tokenizers goldens (tests/fixtures/tokenizer/tokenize_public.json): for a
 * few corpus strings of each tiny tokenizer (SPM llama-tiny, byte-level
 * qwen2-tiny and llama3-tiny) --text prints HF's ids_with_special and
 * --decode of HF's plain ids prints HF's decoded text. Bad flags are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "core/json.h"
#include "core/strbuf.h"
#include "cli_run.h"
#include "test.h"

static void ids_line(const cJSON *ids, whet_strbuf *sb) {
    int i = 0;
    for (const cJSON *v = ids->child; v; v = v->next) whet_sb_printf(sb, "%s%d", i++ ? "," : "", v->valueint);
    whet_sb_putc(sb, '\n');
}

/* Strings 10..39 of the corpus: a spread of ASCII, CJK, emoji and whitespace cases. */
static void test_tokenizer(const cJSON *gold, const char *name, int *checked) {
    const cJSON *corpus = cJSON_GetObjectItem(gold, "corpus");
    const cJSON *tk = cJSON_GetObjectItem(cJSON_GetObjectItem(gold, "tokenizers"), name);
    const cJSON *ids = cJSON_GetObjectItem(tk, "ids_with_special"), *dec = cJSON_GetObjectItem(tk, "decoded");
    const cJSON *plain = cJSON_GetObjectItem(tk, "ids");
    CHECK(corpus && ids && dec && plain);
    if (!corpus || !ids || !dec || !plain) return;
    for (int i = 10; i < 40 && i < cJSON_GetArraySize(corpus); i++) {
        const char *text = cJSON_GetArrayItem(corpus, i)->valuestring;
        whet_strbuf cmd, out, want;
        whet_sb_init(&cmd), whet_sb_init(&out), whet_sb_init(&want);
        whet_sb_printf(&cmd, "%s tokenize --model_name_or_path %s/models/%s --text ", WHET_BINARY, WHET_FIXTURES, name);
        cli_shell_quote(&cmd, text);
        ids_line(cJSON_GetArrayItem(ids, i), &want);
        CHECK_EQ_INT(cli_run(cmd.data, &out), 0);
        CHECK_MSG(out.data && !strcmp(out.data, want.data), "%s string %d: got %s want %s", name, i, out.data, want.data);
        whet_sb_clear(&cmd);
        whet_sb_clear(&out);
        whet_sb_clear(&want);
        ids_line(cJSON_GetArrayItem(plain, i), &want);
        want.data[want.len - 1] = 0;   /* the ids without the newline */
        whet_sb_printf(&cmd, "%s tokenize --model_name_or_path %s/models/%s --decode %s", WHET_BINARY, WHET_FIXTURES,
                       name, want.data);
        whet_sb_clear(&want);
        whet_sb_printf(&want, "%s\n", cJSON_GetArrayItem(dec, i)->valuestring);
        CHECK_EQ_INT(cli_run(cmd.data, &out), 0);
        CHECK_MSG(out.data && !strcmp(out.data, want.data), "%s decode %d: got %s want %s", name, i, out.data, want.data);
        (*checked)++;
        whet_sb_free(&cmd), whet_sb_free(&out), whet_sb_free(&want);
    }
}

int main(void) {
    cJSON *gold = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/tokenizer/tokenize_public.json", &gold, &err), &err);
    if (!gold) return TEST_SUMMARY();
    int checked = 0;
    test_tokenizer(gold, "llama-tiny", &checked);
    test_tokenizer(gold, "qwen2-tiny", &checked);
    test_tokenizer(gold, "llama3-tiny", &checked);
    printf("whet tokenize: %d strings encoded and decoded as HF tokenizers does\n", checked);
    cJSON_Delete(gold);
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_EQ_INT(cli_run(WHET_BINARY " tokenize --model_name_or_path x --txt hi 2>&1", &out), 2);
    CHECK_MSG(out.data && strstr(out.data, "did you mean --text"), "got %s", out.data ? out.data : "");
    whet_sb_clear(&out);
    CHECK_EQ_INT(cli_run(WHET_BINARY " tokenize --model_name_or_path /nonexistent --text hi 2>&1", &out), 1);
    whet_sb_free(&out);
    return TEST_SUMMARY();
}
