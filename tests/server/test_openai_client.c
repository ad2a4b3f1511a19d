/* test_openai_client.c: the official `openai` npm package (a real client)
 * against two in-process servers on loopback, stories260K for completions
 * and qwen2-tiny for chat, both behind an API key. The expected texts are
 * single-sequence whet_generate's greedy output; openai_client.mjs checks
 * the client sees exactly them, streamed and not, and gets its typed
 * errors. Skips (77) when node is missing or the package cannot be
 * installed into tests/server/node_modules (offline machine). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server_fixture.h"
#include "tokenizer/jinja.h"

#define CLIENT_DIR WHET_SOURCE_DIR "/tests/server"

static int have_client(void) {
    if (system("node --version >/dev/null 2>&1") != 0) return 0;
    if (system("test -f " CLIENT_DIR "/node_modules/openai/package.json") == 0) return 1;
    if (system("npm --version >/dev/null 2>&1") != 0) return 0;
    printf("installing the openai npm package into %s/node_modules\n", CLIENT_DIR);
    return system("cd " CLIENT_DIR " && npm install --no-audit --no-fund --no-package-lock >/dev/null 2>&1") == 0;
}

/* Shell-quote s into buf with single quotes. */
static void quote(char *buf, size_t n, const char *s) {
    size_t k = 0;
    buf[k++] = '\'';
    for (; *s && k + 5 < n; s++) {
        if (*s == '\'') {
            memcpy(buf + k, "'\\''", 4);
            k += 4;
        } else {
            buf[k++] = *s;
        }
    }
    buf[k++] = '\'';
    buf[k] = '\0';
}

int main(void) {
    if (!have_client()) TEST_SKIP("node or the openai npm package is not available");
    fixture fc, fchat;
    if (start(&fc, WHET_SOURCE_DIR "/models/stories260K-hf", "stories", "test-key", 0) ||
        start(&fchat, WHET_FIXTURES "/models/qwen2-tiny", "qwen", "test-key", 0))
        return TEST_SUMMARY();
    whet_error err = {0};
    whet_tokens ids = {0}, chat_ids = {0};
    const char *prompt = "Once upon a time, there was a little";
    CHECK_OK(whet_tokenizer_encode(fc.tok, prompt, strlen(prompt), true, &ids, &err), &err);
    int n_new;
    char *want_c = expected_text(&fc, &ids, 24, &n_new);
    cJSON *msgs = cJSON_Parse("[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi!\"}]");
    whet_strbuf text;
    whet_sb_init(&text);
    CHECK_OK(whet_chat_template_apply(whet_tokenizer_chat_template(fchat.tok), msgs, NULL,
                                      whet_tokenizer_bos_token(fchat.tok), whet_tokenizer_eos_token(fchat.tok), true,
                                      &text, &err), &err);
    CHECK_OK(whet_tokenizer_encode_opts(fchat.tok, text.data, text.len, false, true, &chat_ids, &err), &err);
    char *want_chat = expected_text(&fchat, &chat_ids, 10, &n_new);
    char qc[1024], qchat[1024], cmd[4096];
    quote(qc, sizeof qc, want_c);
    quote(qchat, sizeof qchat, want_chat);
    snprintf(cmd, sizeof cmd, "node %s/openai_client.mjs %d stories %s %d qwen %s test-key 2>&1", CLIENT_DIR, fc.port,
             qc, fchat.port, qchat);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL);
    char line[1024];
    int oks = 0;
    while (p && fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        oks += strncmp(line, "ok ", 3) == 0;
    }
    int rc = p ? pclose(p) : -1;
    CHECK_MSG(rc == 0, "openai_client.mjs failed (exit %d)", rc);
    CHECK_MSG(oks >= 12, "only %d client checks passed", oks);
    free(want_c);
    free(want_chat);
    whet_sb_free(&text);
    cJSON_Delete(msgs);
    whet_tokens_free(&ids);
    whet_tokens_free(&chat_ids);
    stop(&fc);
    stop(&fchat);
    return TEST_SUMMARY();
}
