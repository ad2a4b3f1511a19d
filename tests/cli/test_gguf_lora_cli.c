/* test_gguf_lora_cli.c: `--adapter_name_or_path adapter.gguf` (a GGUF LoRA
 * adapter, as llama.cpp's --lora takes) in whet chat, generate and api, as
 * users run them. llama-tiny's PEFT adapter is written as an f32 GGUF
 * adapter (whet_export_gguf_lora) and the base as an f32 GGUF; then
 * - generate --prompt_ids: the new ids with x.gguf on the HF folder and on
 *   the GGUF base equal those with the PEFT folder (and differ from the
 *   base model's, so the adapter is in effect);
 * - chat --prompt: x.gguf gives the PEFT folder's answer, on the HF folder
 *   and on the GGUF base;
 * - api: a greedy /v1/completions with x.gguf on the GGUF base equals the
 *   one with the PEFT folder on the HF base (skipped without curl);
 * - a model GGUF passed as the adapter is an error naming the file, exit 1;
 * - `whet convert --lora_only` writes the very bytes whet_export_gguf_lora
 *   writes, and refuses two adapters, a k-quant outtype and an existing file. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "cli_run.h"
#include "core/file.h"
#include "export/gguf_export.h"
#include "export/gguf_lora_export.h"
#include "export/merge.h"
#include "test.h"
#include "test_net.h"

#define BASE WHET_FIXTURES "/models/llama-tiny"
#define ADAPTER WHET_FIXTURES "/export/llama-tiny/adapter"

static char tmpdir[256], ad_gguf[512], base_gguf[512];

static char *run(const char *cmd, int *rc) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_sb_append(&sb, "", 0);
    *rc = cli_run(cmd, &sb);
    return whet_sb_take(&sb);
}

/* `whet <args>` with `adapter` (NULL: none) on `model`; stdout, or NULL when the exit code is not 0. */
static char *whet(const char *sub, const char *model, const char *adapter, const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s --model_name_or_path '%s' %s%s%s --threads 1 %s 2>/dev/null", WHET_BINARY, sub,
             model, adapter ? "--adapter_name_or_path '" : "", adapter ? adapter : "", adapter ? "'" : "", args);
    int rc = 0;
    char *out = run(cmd, &rc);
    CHECK_MSG(rc == 0, "%s -> exit %d", cmd, rc);
    if (rc != 0) free(out), out = NULL;
    return out;
}

static void check_generate_and_chat(void) {
    const char *gen = "--prompt_ids 1,17,42,99,7 --max_new_tokens 16 --temperature 0";
    char *plain = whet("generate", BASE, NULL, gen), *folder = whet("generate", BASE, ADAPTER, gen);
    char *hf = whet("generate", BASE, ad_gguf, gen), *gg = whet("generate", base_gguf, ad_gguf, gen);
    if (plain && folder && hf && gg) {
        CHECK_MSG(strcmp(folder, plain) != 0, "the adapter changes nothing (%s)", plain);
        CHECK_MSG(!strcmp(hf, folder), "generate: x.gguf on the folder gives %s, the PEFT folder %s", hf, folder);
        CHECK_MSG(!strcmp(gg, folder), "generate: x.gguf on the GGUF base gives %s, the PEFT folder %s", gg, folder);
        printf("generate --adapter_name_or_path x.gguf (HF and GGUF base) == PEFT folder: %s", folder);
    }
    free(plain), free(folder), free(hf), free(gg);
    const char *chat = "--prompt hi --max_new_tokens 12";
    char *c_folder = whet("chat", BASE, ADAPTER, chat), *c_hf = whet("chat", BASE, ad_gguf, chat);
    /* on the GGUF base against the folder on the same base: the GGUF's vocabulary decodes
     * llama-tiny's unused ids as "[PADi]" where the folder's tokenizer prints nothing */
    char *c_gg = whet("chat", base_gguf, ad_gguf, chat), *c_gg_folder = whet("chat", base_gguf, ADAPTER, chat);
    if (c_folder && c_hf && c_gg && c_gg_folder) {
        CHECK_MSG(!strcmp(c_hf, c_folder), "chat: \"%s\" vs \"%s\"", c_hf, c_folder);
        CHECK_MSG(!strcmp(c_gg, c_gg_folder), "chat on the GGUF base: \"%s\" vs \"%s\"", c_gg, c_gg_folder);
        printf("chat --adapter_name_or_path x.gguf == PEFT folder, on the HF base and on the GGUF base\n");
    }
    free(c_folder), free(c_hf), free(c_gg), free(c_gg_folder);
    /* a model GGUF is not an adapter */
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s' generate --model_name_or_path '%s' --adapter_name_or_path '%s' --prompt_ids 1,2 "
             "--threads 1 2>&1", WHET_BINARY, BASE, base_gguf);
    int rc = 0;
    char *out = run(cmd, &rc);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(out, "base-f32.gguf") && strstr(out, "general.type"), "%s", out);
    free(out);
}

/* ---- api ---- */


/* One greedy completion from `whet api` on `model` + `adapter`; NULL when the server does not answer. */
static char *api_completion(const char *model, const char *adapter) {
    int port = test_free_port();
    pid_t pid = fork();
    if (pid == 0) {
        char p[16];
        snprintf(p, sizeof p, "%d", port);
        execl(WHET_BINARY, "whet", "api", "--host", "127.0.0.1", "--port", p, "--threads", "1", "--kv_blocks", "64",
              "--model_name_or_path", model, "--adapter_name_or_path", adapter, (char *)NULL);
        _exit(127);
    }
    char cmd[512];
    int rc = 0;
    bool up = false;
    for (int i = 0; i < 300 && !up; i++) {
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/health", port);
        char *code = run(cmd, &rc);
        up = !strcmp(code, "200");
        free(code);
        if (!up) nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    CHECK_MSG(up, "whet api with %s did not come up", adapter);
    char *out = NULL;
    if (up) {
        snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/v1/completions -d '{\"prompt\":[1,17,42,99,7],"
                 "\"max_tokens\":16,\"temperature\":0}'", port);
        out = run(cmd, &rc);
        char *text = strstr(out, "\"text\"");
        if (text) memmove(out, text, strlen(text) + 1);   /* drop the id/created fields, which differ per run */
        char *end = text ? strstr(out, "\"finish_reason\"") : NULL;
        if (end) *end = 0;
        CHECK_MSG(text && end, "api answer: %s", out);
    }
    kill(pid, SIGINT);
    int status = 0;
    waitpid(pid, &status, 0);
    return out;
}

static void check_api(void) {
    if (system("command -v curl >/dev/null 2>&1") != 0) {
        printf("SKIP api check: no curl\n");
        return;
    }
    char *folder = api_completion(BASE, ADAPTER), *gg = api_completion(base_gguf, ad_gguf);
    if (folder && gg) {
        CHECK_MSG(!strcmp(folder, gg), "api: x.gguf on the GGUF base answers %s, the PEFT folder %s", gg, folder);
        printf("api --adapter_name_or_path x.gguf on the GGUF base == PEFT folder on the HF base: %s\n", gg);
    }
    free(folder), free(gg);
}

static bool same_file(const char *a, const char *b) {
    char *x = NULL, *y = NULL;
    size_t nx = 0, ny = 0;
    whet_error err = {0};
    bool same = whet_read_file(a, &x, &nx, &err) == WHET_OK && whet_read_file(b, &y, &ny, &err) == WHET_OK &&
                nx == ny && memcmp(x, y, nx) == 0;
    free(x);
    free(y);
    return same;
}

static void check_convert_lora_only(void) {
    char out[600], cmd[4096];
    snprintf(out, sizeof out, "%s/convert-lora.gguf", tmpdir);
    snprintf(cmd, sizeof cmd, "'%s' convert --model_name_or_path '%s' --adapter_name_or_path '%s' --lora_only "
             "--outtype f32 --outfile '%s' 2>&1", WHET_BINARY, BASE, ADAPTER, out);
    int rc = 0;
    char *log = run(cmd, &rc);
    CHECK_MSG(rc == 0, "%s -> %d: %s", cmd, rc, log);
    free(log);
    CHECK_MSG(same_file(out, ad_gguf), "convert --lora_only wrote other bytes than whet_export_gguf_lora");
    static const struct { const char *args, *needle; } bad[] = {
        {"--adapter_name_or_path '" ADAPTER "," ADAPTER "' --lora_only", "exactly one"},
        {"--adapter_name_or_path '" ADAPTER "' --lora_only --outtype q4_k_m", "f32, f16, bf16 or q8_0"},
        {"--adapter_name_or_path '" ADAPTER "' --lora_only --outtype f32", "already exists"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(cmd, sizeof cmd, "'%s' convert --model_name_or_path '%s' %s --outfile '%s' 2>&1", WHET_BINARY, BASE,
                 bad[i].args, out);
        log = run(cmd, &rc);
        CHECK_MSG(rc != 0 && strstr(log, bad[i].needle), "%s -> %d: %s (want \"%s\")", cmd, rc, log, bad[i].needle);
        free(log);
    }
    CHECK_MSG(same_file(out, ad_gguf), "a refused convert changed the existing file");
}

int main(void) {
    if (access(WHET_BINARY, X_OK) != 0) TEST_SKIP("no whet binary");
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_gguf_lora_cli_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    snprintf(ad_gguf, sizeof ad_gguf, "%s/adapter-f32.gguf", tmpdir);
    snprintf(base_gguf, sizeof base_gguf, "%s/llama-tiny-base-f32.gguf", tmpdir);
    whet_error err = {0};
    CHECK_OK(whet_export_gguf_lora(BASE, ADAPTER, ad_gguf, WHET_DT_F32, false, &err), &err);
    whet_export_model em;
    CHECK_OK(whet_export_load(BASE, &em, &err), &err);
    whet_gguf_export_opts go = {.path = base_gguf, .ftype = WHET_GGUF_FT_F32, .name = "llama-tiny"};
    CHECK_OK(whet_export_gguf(&em, &go, &err), &err);
    whet_export_free(&em);
    check_generate_and_chat();
    check_api();
    check_convert_lora_only();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
