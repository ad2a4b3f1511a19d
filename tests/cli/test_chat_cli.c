/* test_chat_cli.c: `whet chat` end to end on the tiny models. --prompt's
 * answer must be exactly what the library pipeline gives: the model's chat
 * template rendered for [{user: prompt}] (checked byte for byte against
 * transformers' rendering in tests/fixtures/chat/chat_golden.json), encoded
 * without special tokens, generated greedily (generation_config: do_sample
 * false) to an eos, decoded skipping specials. The REPL keeps history
 * (a second turn sees the first), `clear` resets it (same answer again),
 * `exit` quits; bad input is a clear error and exit code. */
#include <stdlib.h>
#include <string.h>
#include "core/json.h"
#include "infer/generate.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"
#include "test.h"

#define MODELS WHET_FIXTURES "/models"

/* Run a shell command, capture stdout (and its exit code). */
static char *run(const char *cmd, int *rc) {
    FILE *p = popen(cmd, "r");
    if (!p) return NULL;
    whet_strbuf sb;
    whet_sb_init(&sb);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) whet_sb_append(&sb, buf, n);
    int st = pclose(p);
    *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    whet_sb_putc(&sb, 0);
    return whet_sb_take(&sb);
}

/* The golden transformers rendering of conversation 1 for this tiny model. */
static const char *golden_text(const cJSON *golden, const char *tname, const char *user) {
    const cJSON *cases = cJSON_GetObjectItemCaseSensitive(golden, "cases");
    for (const cJSON *c = cases ? cases->child : NULL; c; c = c->next) {
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(c, "messages");
        if (strcmp(cJSON_GetObjectItemCaseSensitive(c, "template")->valuestring, tname) || cJSON_GetArraySize(msgs) != 1)
            continue;
        if (!strcmp(cJSON_GetObjectItemCaseSensitive(msgs->child, "content")->valuestring, user))
            return cJSON_GetObjectItemCaseSensitive(c, "text")->valuestring;
    }
    return NULL;
}

/* Expected answer of `whet chat --prompt user` from the library. */
static char *expected_answer(const char *model, const char *user, const char *golden, int max_new) {
    char dir[1024];
    snprintf(dir, sizeof dir, MODELS "/%s", model);
    whet_error err = {0};
    whet_tokenizer *tok = NULL;
    whet_model *m = NULL;
    whet_generation_config gc;
    CHECK_OK(whet_tokenizer_load_dir(dir, &tok, &err), &err);
    CHECK_OK(whet_model_load(dir, &(whet_model_load_opts){.n_threads = 1}, &m, &err), &err);
    CHECK_OK(whet_generation_config_load(dir, &gc, &err), &err);
    if (!tok || !m) return NULL;
    cJSON *msgs = cJSON_CreateArray(), *msg = cJSON_CreateObject();
    cJSON_AddStringToObject(msg, "role", "user");
    cJSON_AddStringToObject(msg, "content", user);
    cJSON_AddItemToArray(msgs, msg);
    whet_strbuf text, ans;
    whet_sb_init(&text), whet_sb_init(&ans);
    CHECK_OK(whet_chat_template_apply(whet_tokenizer_chat_template(tok), msgs, NULL, whet_tokenizer_bos_token(tok),
                                      whet_tokenizer_eos_token(tok), true, &text, &err), &err);
    if (golden) CHECK_STR_EQ(text.data, golden);
    whet_tokens ids = {0};
    CHECK_OK(whet_tokenizer_encode(tok, text.data, text.len, false, &ids, &err), &err);
    whet_generate_opts o = {.max_new_tokens = max_new, .sampling = whet_sampler_defaults()};
    o.sampling.temperature = 0;
    o.n_eos = whet_generate_default_eos(m, &gc, &o.eos_ids);
    int32_t *out = malloc(sizeof(int32_t) * (size_t)max_new);
    int n_out = 0;
    CHECK_OK(whet_generate(m, ids.ids, (int)ids.n, &o, out, &n_out, NULL, &err), &err);
    int kept = 0;
    for (int i = 0; i < n_out; i++) {
        bool eos = false;
        for (int k = 0; k < o.n_eos; k++) eos |= out[i] == o.eos_ids[k];
        if (!eos && out[i] < whet_tokenizer_vocab_size(tok)) out[kept++] = out[i];
    }
    CHECK_OK(whet_tokenizer_decode(tok, out, (size_t)kept, true, &ans, &err), &err);
    whet_sb_putc(&ans, '\n');
    free(out);
    whet_tokens_free(&ids);
    whet_sb_free(&text);
    cJSON_Delete(msgs);
    whet_model_free(m);
    whet_tokenizer_free(tok);
    return whet_sb_take(&ans);
}

static void check_prompt_turn(const cJSON *golden, const char *model) {
    const char *user = "你好，请介绍一下你自己。";
    char *want = expected_answer(model, user, golden_text(golden, model, user), 24);
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '" MODELS "/%s' --prompt '%s' --max_new_tokens 24 --threads 1",
             WHET_BINARY, model, user);
    int rc;
    char *got = run(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(got && want && !strcmp(got, want), "%s: chat --prompt printed \"%s\", library gives \"%s\"", model,
              got ? got : "", want ? want : "");
    printf("%s: --prompt answer == template+encode+greedy+decode (%zu bytes)\n", model, want ? strlen(want) : 0);
    free(got), free(want);
}

static void check_repl(void) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "printf 'Hi\\n\\nThere\\nclear\\nHi\\n/exit\\nnot read\\n' | '%s' chat --model_name_or_path '"
             MODELS "/qwen2-tiny' --max_new_tokens 6 --threads 1", WHET_BINARY);
    int rc;
    char *got = run(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    if (!got) return;
    CHECK(strstr(got, "use `clear` to remove the history") != NULL);
    CHECK(strstr(got, "History has been removed.") != NULL);
    /* Answers: turn 1 "Hi", turn 2 "There" (with history), after clear "Hi" again = turn 1. */
    char *ans[3] = {0};
    int n = 0;
    for (char *p = got; n < 3 && (p = strstr(p, "Assistant: ")); n++) {
        p += strlen("Assistant: ");
        char *e = strchr(p, '\n');
        ans[n] = strndup(p, e ? (size_t)(e - p) : strlen(p));
    }
    CHECK_EQ_INT(n, 3);
    if (n == 3) CHECK_STR_EQ(ans[0], ans[2]);
    int users = 0;
    for (char *p = got; (p = strstr(p, "User: ")); p++) users++;
    CHECK_EQ_INT(users, 6); /* Hi, (empty), There, clear, Hi, /exit prompts; "not read" is after exit */
    for (int i = 0; i < n; i++) free(ans[i]);
    free(got);
}

static void check_errors(void) {
    char cmd[2048];
    int rc;
    snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '%s/models/stories260K-hf' --prompt hi 2>&1", WHET_BINARY,
             WHET_SOURCE_DIR);
    char *out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(out && strstr(out, "has no chat template") && strstr(out, "--template"), "%s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '" MODELS "/qwen2-tiny' --template qwen9 --prompt hi 2>&1", WHET_BINARY);
    out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(out && strstr(out, "qwen9") && strstr(out, "did you mean 'qwen'"), "%s", out ? out : "");
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '" MODELS "/qwen2-tiny' --max_new_tokenz 3 2>&1", WHET_BINARY);
    out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 2);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat --prompt hi 2>&1", WHET_BINARY);
    out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK(out && strstr(out, "--model_name_or_path"));
    free(out);
}

static void check_template_and_adapter(void) {
    char cmd[2048];
    int rc;
    /* LLaMA-Factory's qwen template and the adapter path both run to an answer. */
    snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '" MODELS "/qwen2-tiny' --template qwen --system 'Be brief.' "
             "--prompt hi --max_new_tokens 4 --threads 1", WHET_BINARY);
    char *out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    CHECK(out && strchr(out, '\n'));
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '" MODELS "/llama-tiny' --adapter_name_or_path '%s/chat/llama-tiny-lora' "
             "--prompt hi --max_new_tokens 4 --threads 1", WHET_BINARY, WHET_FIXTURES);
    out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 0);
    free(out);
}

int main(void) {
    cJSON *golden = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/chat/chat_golden.json", &golden, &err), &err);
    check_prompt_turn(golden, "qwen2-tiny");
    check_prompt_turn(golden, "llama3-tiny");
    check_prompt_turn(golden, "llama-tiny");
    check_repl();
    check_errors();
    check_template_and_adapter();
    cJSON_Delete(golden);
    return TEST_SUMMARY();
}
