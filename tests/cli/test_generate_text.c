/* test_generate_text.c: `whet generate --prompt TEXT` end to end through the
 * binary: the qwen2-tiny chat prompt (its tokenizer adds no BOS; the special
 * tokens in the text are parsed as HF does) continued greedily for 24 tokens
 * must print exactly transformers' decoded greedy continuation
 * (tests/fixtures/reference/qwen2-tiny/forward.json), and the ids path must
 * print the stories260K reference ids. Bad flags exit 2 with a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include "core/json.h"
#include "core/strbuf.h"
#include "cli_run.h"
#include "test.h"

static void test_text_prompt(void) {
    cJSON *ref = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/reference/qwen2-tiny/forward.json", &ref, &err), &err);
    if (!ref) return;
    const char *prompt = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "greedy_prompt_text"));
    const char *want = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(ref, "greedy_output_text"));
    whet_strbuf cmd, out;
    whet_sb_init(&cmd);
    whet_sb_init(&out);
    whet_sb_puts(&cmd, WHET_BINARY " generate --model_name_or_path " WHET_FIXTURES
                       "/models/qwen2-tiny --temperature 0 --max_new_tokens 24 --prompt ");
    cli_shell_quote(&cmd, prompt);
    CHECK_EQ_INT(cli_run(cmd.data, &out), 0);
    whet_strbuf expect;
    whet_sb_init(&expect);
    whet_sb_printf(&expect, "%s\n", want);
    CHECK_STR_EQ(out.data ? out.data : "", expect.data);
    whet_sb_free(&cmd);
    whet_sb_free(&out);
    whet_sb_free(&expect);
    cJSON_Delete(ref);
}

static void test_ids_prompt(void) {
    cJSON *ref = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(WHET_SOURCE_DIR "/models/stories260K-hf/reference_greedy.json", &ref, &err), &err);
    if (!ref) return;
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(ref, "greedy_ids");
    whet_strbuf expect, out;
    whet_sb_init(&expect);
    whet_sb_init(&out);
    for (int i = 0; i < 16; i++) whet_sb_printf(&expect, "%s%d", i ? "," : "", cJSON_GetArrayItem(ids, i)->valueint);
    whet_sb_putc(&expect, '\n');
    CHECK_EQ_INT(cli_run(WHET_BINARY " generate --model_name_or_path " WHET_SOURCE_DIR
                                 "/models/stories260K-hf --prompt_ids 1 --max_new_tokens 16 --temperature 0",
                     &out), 0);
    CHECK_STR_EQ(out.data ? out.data : "", expect.data);
    whet_sb_free(&expect);
    whet_sb_free(&out);
    cJSON_Delete(ref);
}

static void test_bad_flags(void) {
    whet_strbuf out;
    whet_sb_init(&out);
    CHECK_EQ_INT(cli_run(WHET_BINARY " generate --model_name_or_path x --promt hi 2>&1", &out), 2);
    CHECK_MSG(out.data && strstr(out.data, "did you mean --prompt"), "got: %s", out.data ? out.data : "");
    whet_sb_clear(&out);
    CHECK_EQ_INT(cli_run(WHET_BINARY " generate --model_name_or_path /nonexistent --prompt hi 2>&1", &out), 1);
    CHECK_MSG(out.data && strstr(out.data, "/nonexistent"), "got: %s", out.data ? out.data : "");
    whet_sb_free(&out);
}

int main(void) {
    test_text_prompt();
    test_ids_prompt();
    test_bad_flags();
    return TEST_SUMMARY();
}
