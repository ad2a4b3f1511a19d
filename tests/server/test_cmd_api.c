/* test_cmd_api.c: the `whet api` command as users run it: a child process
 * on a free loopback port, queried with curl (non-streamed and streamed
 * completions, an Ollama request, /v1/models), API_PORT / API_MODEL_NAME
 * from the environment, a clean exit on SIGINT, and bad command lines
 * refused with exit 2 / 1. The expected completion is the in-process
 * greedy generate text. Skips (77) without the whet binary or curl. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "server_fixture.h"
#include "test_net.h"


static char *run(const char *cmd) {
    FILE *p = popen(cmd, "r");
    if (!p) return strdup("");
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_sb_append(&sb, "", 0);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) whet_sb_append(&sb, buf, n);
    pclose(p);
    return whet_sb_take(&sb);
}

static pid_t launch(int port, const char *const *args, int n_args) {
    pid_t pid = fork();
    if (pid == 0) {
        char portenv[32];
        snprintf(portenv, sizeof portenv, "%d", port);
        setenv("API_PORT", portenv, 1);
        setenv("API_MODEL_NAME", "m", 1);
        const char *argv[24] = {"whet", "api", "--host", "127.0.0.1", "--max_num_seqs", "4", "--kv_blocks", "64",
                                "--threads", "1"};
        for (int i = 0; i < n_args && i < 12; i++) argv[10 + i] = args[i];
        execv(WHET_BINARY, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static bool wait_up(int port) {
    char cmd[256];
    for (int i = 0; i < 300; i++) {
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/health", port);
        char *code = run(cmd);
        bool up = strcmp(code, "200") == 0;
        free(code);
        if (up) return true;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

static void stop_child(pid_t pid) {
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "whet api exit status %d", status);
}

static const char *field_text(cJSON *j, const char *key) {
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    const cJSON *t = cJSON_GetObjectItem(c, key);
    return cJSON_IsString(t) ? t->valuestring : NULL;
}

/* --adapter_name_or_path: greedy output == generate on PEFT's merge_and_unload of the same adapter */
/* vLLM's --gpu_memory_utilization on the CPU: a fraction of MemAvailable, capped at what max_num_seqs
 * (4 here) full-length sequences need: stories260K has 512 positions, 16-token blocks -> 4 x 32 blocks. */
static void test_gpu_memory_utilization(void) {
    char *out = run(WHET_BINARY " api --model_name_or_path " WHET_SOURCE_DIR "/models/stories260K-hf "
                    "--gpu_memory_utilization 1.5 2>&1; echo \"rc=$?\"");
    CHECK_MSG(strstr(out, "(0, 1]") && !strstr(out, "rc=0"), "--gpu_memory_utilization 1.5: %s", out);
    free(out);
    int port = test_free_port();
    const char *args[] = {"--model_name_or_path", WHET_SOURCE_DIR "/models/stories260K-hf", "--gpu_memory_utilization",
                          "0.5"};
    pid_t pid = launch(port, args, 4);
    bool up = wait_up(port);
    CHECK_MSG(up, "whet api --gpu_memory_utilization 0.5 did not come up");
    if (up) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/v1/completions -d '{\"prompt\":\"Once\",\"max_tokens\":2}' "
                 ">/dev/null; curl -s http://127.0.0.1:%d/metrics", port, port);
        out = run(cmd);
        CHECK_MSG(strstr(out, "whet_kv_blocks_total 128\n") != NULL, "expected 128 KV blocks: %s", out);
        free(out);
    }
    stop_child(pid);
}

static void test_adapter(void) {
    const char *merged = WHET_FIXTURES "/export/llama-tiny/merged/model.safetensors";
    CHECK_MSG(access(merged, R_OK) == 0, "%s (PEFT's merged model, a bundled fixture) is missing", merged);
    if (access(merged, R_OK) != 0) return;
    char dir[] = "/tmp/whet_api_merged_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    const char *files[] = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"};
    char src[600], dst[600];
    for (int i = 0; i < 4; i++) {
        snprintf(src, sizeof src, "%s/models/llama-tiny/%s", WHET_FIXTURES, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        CHECK(symlink(src, dst) == 0);
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    CHECK(symlink(merged, dst) == 0);
    fixture f;
    if (start_engine(&f, dir, "m", NULL, 0, true) == 0) {
        /* token by token (random weights make invalid UTF-8, whose text depends on where it is cut) */
        int32_t prompt[] = {1, 17, 42, 99, 7}, out_ids[16];
        whet_error err = {0};
        whet_generate_opts o = {.max_new_tokens = 16, .sampling = whet_sampler_defaults(),
                                .eos_ids = f.m->cfg.eos_token_ids, .n_eos = f.m->cfg.n_eos};
        int n_new = 0;
        CHECK_OK(whet_generate(f.m, prompt, 5, &o, out_ids, &n_new, NULL, &err), &err);
        char *want[16];
        for (int i = 0; i < n_new; i++) {
            whet_strbuf sb;
            whet_sb_init(&sb);
            whet_sb_append(&sb, "", 0);
            CHECK_OK(whet_tokenizer_decode(f.tok, &out_ids[i], 1, false, &sb, &err), &err);
            want[i] = whet_sb_take(&sb);
        }
        stop(&f);
        int port = test_free_port();
        const char *args[] = {"--model_name_or_path", WHET_FIXTURES "/models/llama-tiny", "--adapter_name_or_path",
                              WHET_FIXTURES "/export/llama-tiny/adapter"};
        pid_t pid = launch(port, args, 4);
        CHECK(wait_up(port));
        char cmd[512];
        snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/v1/completions -d '{\"prompt\":[1,17,42,99,7],"
                 "\"max_tokens\":16,\"temperature\":0,\"logprobs\":0}'", port);
        char *out = run(cmd);
        cJSON *j = cJSON_Parse(out);
        const cJSON *toks = cJSON_GetObjectItem(
            cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "logprobs"), "tokens");
        CHECK_EQ_INT(cJSON_GetArraySize(toks), n_new);
        int same = 0;
        for (int i = 0; i < n_new && i < cJSON_GetArraySize(toks); i++)
            same += strcmp(cJSON_GetArrayItem(toks, i)->valuestring, want[i]) == 0;
        CHECK_MSG(same == n_new, "adapter: %d/%d tokens equal to generate on PEFT's merged model", same, n_new);
        printf("--adapter_name_or_path: %d/%d greedy tokens == generate on PEFT's merged model\n", same, n_new);
        for (int i = 0; i < n_new; i++) free(want[i]);
        cJSON_Delete(j);
        free(out);
        stop_child(pid);
    }
    for (int i = 0; i < 4; i++) {
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        unlink(dst);
    }
    snprintf(dst, sizeof dst, "%s/model.safetensors", dir);
    unlink(dst);
    rmdir(dir);
}

int main(void) {
    if (access(WHET_BINARY, X_OK) != 0) TEST_SKIP("the whet binary is not built");
    if (system("curl --version >/dev/null 2>&1") != 0) TEST_SKIP("curl is not installed");
    CHECK_EQ_INT(WEXITSTATUS(system(WHET_BINARY " api --model_name_or_path x --prot 1 2>/dev/null")), 2);
    CHECK_EQ_INT(WEXITSTATUS(system(WHET_BINARY " api --model_name_or_path /nonexistent 2>/dev/null")), 1);
    CHECK_EQ_INT(WEXITSTATUS(system(WHET_BINARY " api --help >/dev/null")), 0);

    /* the reference text, in-process */
    fixture f;
    if (start_engine(&f, WHET_SOURCE_DIR "/models/stories260K-hf", "stories", NULL, 0, true)) return TEST_SUMMARY();
    whet_error err = {0};
    whet_tokens ids = {0};
    const char *prompt = "Once upon a time";
    CHECK_OK(whet_tokenizer_encode(f.tok, prompt, strlen(prompt), true, &ids, &err), &err);
    int n_new;
    char *want = expected_text(&f, &ids, 20, &n_new);
    whet_tokens_free(&ids);
    stop(&f);

    int port = test_free_port();
    const char *args[] = {"--model_name_or_path", WHET_SOURCE_DIR "/models/stories260K-hf"};
    pid_t pid = launch(port, args, 2);
    char cmd[1024], url[128];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    bool up = wait_up(port);
    CHECK_MSG(up, "whet api did not come up on port %d", port);
    if (up) {
        snprintf(cmd, sizeof cmd, "curl -s %s/v1/models", url);
        char *out = run(cmd);
        CHECK(strstr(out, "\"id\":\"m\"") != NULL);
        free(out);
        snprintf(cmd, sizeof cmd, "curl -s %s/v1/completions -H 'Content-Type: application/json' -d "
                 "'{\"model\":\"m\",\"prompt\":\"%s\",\"max_tokens\":20,\"temperature\":0}'", url, prompt);
        out = run(cmd);
        cJSON *j = cJSON_Parse(out);
        CHECK_STR_EQ(field_text(j, "text"), want);
        cJSON_Delete(j);
        free(out);
        snprintf(cmd, sizeof cmd, "curl -sN %s/v1/completions -d '{\"prompt\":\"%s\",\"max_tokens\":20,"
                 "\"temperature\":0,\"stream\":true}'", url, prompt);
        out = run(cmd);
        CHECK(strstr(out, "data: ") == out && strstr(out, "data: [DONE]\n\n") != NULL);
        free(out);
        snprintf(cmd, sizeof cmd, "curl -s %s/api/generate -d '{\"model\":\"m\",\"prompt\":\"%s\",\"raw\":true,"
                 "\"stream\":false,\"options\":{\"temperature\":0,\"num_predict\":20}}'", url, prompt);
        out = run(cmd);
        j = cJSON_Parse(out);
        const cJSON *resp = cJSON_GetObjectItem(j, "response");
        CHECK(cJSON_IsString(resp) && strcmp(resp->valuestring, want) == 0);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "done")));
        cJSON_Delete(j);
        free(out);
        printf("whet api on port %d (API_PORT): curl completion \"%s\" == generate alone\n", port, want);
    }
    stop_child(pid);
    test_gpu_memory_utilization();
    test_adapter();
    free(want);
    return TEST_SUMMARY();
}
