/* test_chat_template.c: whet_chat_template_apply against HF transformers'
 * apply_chat_template (every row of shared/testdata/goldens/chat_templates.json,
 * copied into tests/fixtures/chat/chat_golden.json with their templates) and
 * against jinja2 3.1.6 set up as transformers sets it up (tools, tool calls,
 * reasoning, enable_thinking, feature templates, raise_exception); see
 * tests/fixtures/chat/make_chat_golden.py. Every case must match byte for byte. */
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "tokenizer/jinja.h"
#include "test.h"

/* Print the first differing byte of two renderings. */
static void show_diff(const char *name, size_t idx, const char *got, const char *want) {
    size_t i = 0;
    while (got[i] && got[i] == want[i]) i++;
    size_t from = i > 40 ? i - 40 : 0;
    fprintf(stderr, "case %zu (%s) differs at byte %zu:\n  got:  ...%.80s\n  want: ...%.80s\n", idx, name, i, got + from,
            want + from);
}

int main(void) {
    cJSON *root = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/chat/chat_golden.json", &root, &err), &err);
    if (!root) return TEST_SUMMARY();
    const cJSON *templates = cJSON_GetObjectItemCaseSensitive(root, "templates");
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(root, "cases");
    int n_hf = 0, ok_hf = 0, n_j2 = 0, ok_j2 = 0;
    size_t idx = 0;
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next, idx++) {
        const char *tname = cJSON_GetObjectItemCaseSensitive(c, "template")->valuestring;
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(templates, tname);
        const char *src = cJSON_GetObjectItemCaseSensitive(t, "source")->valuestring;
        const char *bos = cJSON_GetObjectItemCaseSensitive(t, "bos_token")->valuestring;
        const char *eos = cJSON_GetObjectItemCaseSensitive(t, "eos_token")->valuestring;
        const cJSON *tools = cJSON_GetObjectItemCaseSensitive(c, "tools");
        if (cJSON_IsNull(tools)) tools = NULL;
        bool agp = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(c, "add_generation_prompt"));
        const cJSON *text = cJSON_GetObjectItemCaseSensitive(c, "text");
        const cJSON *want_err = cJSON_GetObjectItemCaseSensitive(c, "error");
        bool from_hf = strcmp(cJSON_GetObjectItemCaseSensitive(c, "source")->valuestring, "transformers") == 0;
        whet_strbuf out;
        whet_sb_init(&out);
        whet_error e = {0};
        whet_status st = whet_chat_template_apply_ext(src, cJSON_GetObjectItemCaseSensitive(c, "messages"), tools, bos, eos,
                                                      agp, cJSON_GetObjectItemCaseSensitive(c, "extra"), &out, &e);
        bool pass;
        if (want_err) {
            pass = st != WHET_OK && strstr(e.msg, want_err->valuestring) != NULL;
            CHECK_MSG(pass, "case %zu (%s): want an error containing \"%s\", got status %d \"%s\"", idx, tname,
                      want_err->valuestring, st, e.msg);
        } else {
            const char *got = out.data ? out.data : "";
            pass = st == WHET_OK && strcmp(got, text->valuestring) == 0;
            CHECK_MSG(st == WHET_OK, "case %zu (%s): %s", idx, tname, e.msg);
            if (st == WHET_OK && !pass) show_diff(tname, idx, got, text->valuestring);
            CHECK(pass);
        }
        if (from_hf) n_hf++, ok_hf += pass;
        else n_j2++, ok_j2 += pass;
        whet_sb_free(&out);
    }
    printf("transformers apply_chat_template goldens: %d/%d byte-exact\n", ok_hf, n_hf);
    printf("jinja2 3.1.6 goldens (tools, reasoning, features, errors): %d/%d\n", ok_j2, n_j2);
    CHECK(n_hf == 44);
    cJSON_Delete(root);
    return TEST_SUMMARY();
}
