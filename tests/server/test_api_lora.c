/* test_api_lora.c: `whet api --lora_modules` (vLLM's multi-LoRA serving) as
 * users run it. A real adapter is trained here first: `whet train` (LoRA r8,
 * 30 steps on the identity records) on stories260K-hf, given a one-line
 * chat template ("Human: ...\nAssistant:") so its answers are readable
 * text; an rsLoRA copy of it is a second adapter. Then `whet api` serves
 * the base as "base" and the adapters as "a" and "b" (space-separated
 * values, vLLM's form):
 * - /v1/models lists base, a, b with "parent" = base; /api/tags lists all three;
 * - greedy chat completions for base / a / b sent concurrently (curl
 *   processes started together) each equal the same request sent alone;
 * - model=a equals `whet chat --adapter_name_or_path <adapter>` on the same
 *   prompt, model=base equals `whet chat` without it, and the adapters'
 *   answers differ from the base's (so the checks can fail);
 * - Ollama's /api/chat with "a:latest" gives a's answer;
 * - an unknown model is a 404 OpenAI error "The model `X` does not exist."
 *   and the server keeps serving; GET /v1/models/a works, /v1/models/zz 404s;
 * - bad --lora_modules (no '=', a missing folder, an adapter for another
 *   base model, a name given twice) are refused with a message.
 * Skips (77) without the whet binary or curl. */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "core/file.h"
#include "core/json.h"
#include "core/strbuf.h"
#include "test.h"
#include "test_net.h"

static char root[] = "/tmp/whet_test_api_lora_XXXXXX";
static char model_dir[256], adapter[256], rs_adapter[256];


static char *run(const char *cmd, int *rc) {
    FILE *p = popen(cmd, "r");
    if (!p) return strdup("");
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_sb_append(&sb, "", 0);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, p)) > 0) whet_sb_append(&sb, buf, n);
    int st = pclose(p);
    if (rc) *rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return whet_sb_take(&sb);
}

static char *slurp(const char *path) {
    char *s = NULL;
    size_t n = 0;
    whet_error err = {0};
    return whet_read_file(path, &s, &n, &err) == WHET_OK ? s : strdup("");
}

static bool write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return false;
    fputs(text, f);
    return fclose(f) == 0;
}

/* stories260K-hf with a chat template, and a LoRA adapter trained on it. */
static bool make_model_and_adapter(void) {
    char p[600], q[600];
    snprintf(model_dir, sizeof model_dir, "%s/stories", root);
    CHECK(mkdir(model_dir, 0755) == 0);
    const char *files[] = {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"};
    for (int i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/models/stories260K-hf/%s", WHET_SOURCE_DIR, files[i]);
        snprintf(q, sizeof q, "%s/%s", model_dir, files[i]);
        CHECK(symlink(p, q) == 0);
    }
    snprintf(p, sizeof p, "%s/models/stories260K-hf/tokenizer_config.json", WHET_SOURCE_DIR);
    cJSON *tc = NULL;
    whet_error err = {0};
    CHECK_OK(whet_json_parse_file(p, &tc, &err), &err);
    if (!tc) return false;
    cJSON_AddStringToObject(tc, "chat_template",
                            "{{ bos_token }}{% for m in messages %}Human: {{ m['content'] }}\nAssistant:{% endfor %}");
    char *txt = cJSON_Print(tc);
    snprintf(q, sizeof q, "%s/tokenizer_config.json", model_dir);
    CHECK(write_text(q, txt));
    free(txt);
    cJSON_Delete(tc);

    snprintf(adapter, sizeof adapter, "%s/lora", root);
    char yaml[8192];
    snprintf(yaml, sizeof yaml,
             "model_name_or_path: %s\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_rank: 8\n"
             "lora_target: all\ndataset: identity\ndataset_dir: %s/data/lf\ntemplate: default\ncutoff_len: 64\n"
             "max_samples: 8\noutput_dir: %s\noverwrite_output_dir: true\nlogging_steps: 10\nsave_steps: 1000\n"
             "per_device_train_batch_size: 8\nlearning_rate: 2.0e-2\nmax_steps: 30\nseed: 42\n",
             model_dir, WHET_FIXTURES, adapter);
    snprintf(p, sizeof p, "%s/train.yaml", root);
    CHECK(write_text(p, yaml));
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "WHET_CACHE_DIR=%s/cache WHET_NUM_THREADS=1 '%s' train '%s' >/dev/null 2>&1", root,
             WHET_BINARY, p);
    int rc = system(cmd);
    CHECK_MSG(rc == 0, "whet train of the test adapter failed (%d)", rc);
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", adapter);
    if (rc != 0 || access(p, R_OK) != 0) return false;

    /* the rsLoRA copy: same tensors, scale alpha/sqrt(r) instead of alpha/r */
    snprintf(rs_adapter, sizeof rs_adapter, "%s/lora-rs", root);
    CHECK(mkdir(rs_adapter, 0755) == 0);
    snprintf(q, sizeof q, "%s/adapter_model.safetensors", rs_adapter);
    CHECK(symlink(p, q) == 0);
    snprintf(p, sizeof p, "%s/adapter_config.json", adapter);
    cJSON *ac = NULL;
    CHECK_OK(whet_json_parse_file(p, &ac, &err), &err);
    if (!ac) return false;
    cJSON_ReplaceItemInObject(ac, "use_rslora", cJSON_CreateTrue());
    txt = cJSON_Print(ac);
    snprintf(q, sizeof q, "%s/adapter_config.json", rs_adapter);
    CHECK(write_text(q, txt));
    free(txt);
    cJSON_Delete(ac);
    return true;
}

static pid_t launch(int port, const char *const *extra, int n_extra) {
    pid_t pid = fork();
    if (pid == 0) {
        char ps[32];
        snprintf(ps, sizeof ps, "%d", port);
        const char *argv[32] = {"whet", "api", "--model_name_or_path", model_dir, "--served_model_name", "base",
                                "--host", "127.0.0.1", "--port", ps, "--threads", "1", "--max_num_seqs", "8"};
        int n = 14;
        for (int i = 0; i < n_extra && n < 31; i++) argv[n++] = extra[i];
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) dup2(devnull, 2);
        execv(WHET_BINARY, (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static bool wait_up(int port, pid_t pid) {
    char cmd[256];
    for (int i = 0; i < 300; i++) {
        snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' http://127.0.0.1:%d/health", port);
        char *code = run(cmd, NULL);
        bool up = strcmp(code, "200") == 0;
        free(code);
        if (up) return true;
        if (waitpid(pid, NULL, WNOHANG) == pid) return false;
        struct timespec ts = {0, 100000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

#define N_PROMPTS 2
static const char *const PROMPTS[N_PROMPTS] = {"hi", "Who are you?"};
static const char *const MODELS[3] = {"base", "a", "b"};
#define MAX_TOKENS 48

static void chat_body(char *buf, size_t n, const char *model, const char *prompt) {
    snprintf(buf, n, "{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}],\"max_tokens\":%d,"
             "\"temperature\":0}", model, prompt, MAX_TOKENS);
}

/* The answer text of a chat completion reply, or NULL. */
static char *content_of(const char *reply) {
    cJSON *j = cJSON_Parse(reply);
    const cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0),
                                                            "message"), "content");
    char *out = cJSON_IsString(c) ? strdup(c->valuestring) : NULL;
    cJSON_Delete(j);
    return out;
}

/* leading spaces dropped (whet chat prints the answer without the SentencePiece space), trailing newline too */
static const char *trimmed(char *s) {
    if (!s) return "";
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
    while (*s == ' ') s++;
    return s;
}

static double metric(int port, const char *name) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "curl -s http://127.0.0.1:%d/metrics", port);
    char *t = run(cmd, NULL);
    double v = -1;
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(t, key);
    if (p) v = strtod(p + strlen(key), NULL);
    free(t);
    return v;
}

static void test_serving(int port) {
    char cmd[4096], body[512], url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    /* /v1/models and /api/tags */
    snprintf(cmd, sizeof cmd, "curl -s %s/v1/models", url);
    char *out = run(cmd, NULL);
    cJSON *j = cJSON_Parse(out);
    const cJSON *data = cJSON_GetObjectItem(j, "data");
    CHECK_EQ_INT(cJSON_GetArraySize(data), 3);
    for (int k = 0; k < 3 && k < cJSON_GetArraySize(data); k++) {
        const cJSON *m = cJSON_GetArrayItem(data, k), *parent = cJSON_GetObjectItem(m, "parent");
        CHECK_STR_EQ(cJSON_GetObjectItem(m, "id")->valuestring, MODELS[k]);
        if (k == 0) CHECK(cJSON_IsNull(parent));
        else CHECK(cJSON_IsString(parent) && !strcmp(parent->valuestring, "base"));
    }
    CHECK(strstr(out, adapter) != NULL);  /* a LoRA module's root is its folder */
    cJSON_Delete(j);
    free(out);
    snprintf(cmd, sizeof cmd, "curl -s %s/api/tags", url);
    out = run(cmd, NULL);
    CHECK(strstr(out, "\"name\":\"base\"") && strstr(out, "\"name\":\"a\"") && strstr(out, "\"name\":\"b\"") &&
          strstr(out, "\"parent_model\":\"base\""));
    free(out);

    /* each request alone */
    char *alone[3][N_PROMPTS];
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < N_PROMPTS; p++) {
            chat_body(body, sizeof body, MODELS[k], PROMPTS[p]);
            snprintf(cmd, sizeof cmd, "curl -s %s/v1/chat/completions -d '%s'", url, body);
            char *r = run(cmd, NULL);
            alone[k][p] = content_of(r);
            CHECK_MSG(alone[k][p] != NULL, "no answer: %s", r);
            free(r);
        }
    /* all of them at once, twice over (12 requests started together) */
    double steps0 = metric(port, "whet_engine_steps_total"), toks0 = metric(port, "whet_generation_tokens_total");
    whet_strbuf sh;
    whet_sb_init(&sh);
    for (int rep = 0; rep < 2; rep++)
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < N_PROMPTS; p++) {
                chat_body(body, sizeof body, MODELS[k], PROMPTS[p]);
                whet_sb_printf(&sh, "curl -s %s/v1/chat/completions -d '%s' > %s/c%d%d%d.json & ", url, body, root, rep,
                               k, p);
            }
    whet_sb_puts(&sh, "wait");
    CHECK(system(sh.data) == 0);
    whet_sb_free(&sh);
    double steps = metric(port, "whet_engine_steps_total") - steps0;
    double toks = metric(port, "whet_generation_tokens_total") - toks0;
    int same = 0;
    for (int rep = 0; rep < 2; rep++)
        for (int k = 0; k < 3; k++)
            for (int p = 0; p < N_PROMPTS; p++) {
                char path[600];
                snprintf(path, sizeof path, "%s/c%d%d%d.json", root, rep, k, p);
                char *r = slurp(path), *c = content_of(r);
                bool eq = c && alone[k][p] && !strcmp(c, alone[k][p]);
                CHECK_MSG(eq, "concurrent %s \"%s\": \"%s\" != alone \"%s\"", MODELS[k], PROMPTS[p], c ? c : r,
                          alone[k][p] ? alone[k][p] : "");
                same += eq;
                free(r), free(c);
            }
    printf("12 concurrent greedy chat requests (base, a, b): %d/12 equal to alone; %.0f tokens in %.0f engine steps "
           "(%.2f sequences per step)\n", same, toks, steps, steps > 0 ? toks / steps : 0);

    /* the adapters change the answers; a == whet chat --adapter_name_or_path, base == whet chat */
    for (int p = 0; p < N_PROMPTS; p++) {
        CHECK_MSG(alone[0][p] && alone[1][p] && strcmp(alone[0][p], alone[1][p]) != 0,
                  "adapter a does not change the answer to \"%s\"", PROMPTS[p]);
        CHECK_MSG(alone[1][p] && alone[2][p] && strcmp(alone[1][p], alone[2][p]) != 0,
                  "the rsLoRA copy answers \"%s\" as the plain adapter does", PROMPTS[p]);
        for (int k = 0; k < 2; k++) {
            snprintf(cmd, sizeof cmd, "'%s' chat --model_name_or_path '%s' %s%s --prompt '%s' --max_new_tokens %d "
                     "--temperature 0 --threads 1 2>/dev/null", WHET_BINARY, model_dir,
                     k ? "--adapter_name_or_path " : "", k ? adapter : "", PROMPTS[p], MAX_TOKENS);
            char *c = run(cmd, NULL), *api = alone[k][p] ? strdup(alone[k][p]) : NULL;
            CHECK_MSG(!strcmp(trimmed(c), trimmed(api)), "%s \"%s\": whet chat%s says \"%s\", the api \"%s\"",
                      MODELS[k], PROMPTS[p], k ? " --adapter_name_or_path" : "", c, api ? api : "");
            if (k && p == 0) printf("model=a \"%s\" -> \"%s\" == whet chat --adapter_name_or_path; base -> \"%s\"\n",
                                    PROMPTS[p], trimmed(api), alone[0][p] ? alone[0][p] : "");
            free(c), free(api);
        }
    }
    /* Ollama names carry a tag */
    snprintf(cmd, sizeof cmd, "curl -s %s/api/chat -d '{\"model\":\"a:latest\",\"messages\":[{\"role\":\"user\","
             "\"content\":\"hi\"}],\"stream\":false,\"options\":{\"temperature\":0,\"num_predict\":%d}}'", url,
             MAX_TOKENS);
    out = run(cmd, NULL);
    j = cJSON_Parse(out);
    const cJSON *oc = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "message"), "content");
    CHECK_MSG(cJSON_IsString(oc) && alone[1][0] && !strcmp(oc->valuestring, alone[1][0]), "ollama a:latest: %s", out);
    cJSON_Delete(j);
    free(out);

    /* unknown model: 404, OpenAI error, and the server keeps serving */
    chat_body(body, sizeof body, "zz", "hi");
    snprintf(cmd, sizeof cmd, "curl -s -w '\\n%%{http_code}' %s/v1/chat/completions -d '%s'", url, body);
    out = run(cmd, NULL);
    CHECK_MSG(strstr(out, "The model `zz` does not exist.") && strstr(out, "\"code\":\"model_not_found\"") &&
              strstr(out, "\n404"), "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "curl -s -o /dev/null -w '%%{http_code}' %s/v1/models/zz", url);
    out = run(cmd, NULL);
    CHECK_STR_EQ(out, "404");
    free(out);
    snprintf(cmd, sizeof cmd, "curl -s %s/v1/models/a", url);
    out = run(cmd, NULL);
    CHECK(strstr(out, "\"id\":\"a\"") && strstr(out, "\"parent\":\"base\""));
    free(out);
    chat_body(body, sizeof body, "a", PROMPTS[0]);
    snprintf(cmd, sizeof cmd, "curl -s %s/v1/chat/completions -d '%s'", url, body);
    out = run(cmd, NULL);
    char *c = content_of(out);
    CHECK_MSG(c && alone[1][0] && !strcmp(c, alone[1][0]), "after the 404: %s", out);
    free(c), free(out);
    for (int k = 0; k < 3; k++)
        for (int p = 0; p < N_PROMPTS; p++) free(alone[k][p]);
}

static void test_bad_flags(void) {
    char cmd[2048];
    int rc;
    struct { const char *flags, *want; int rc; } cases[] = {
        {"--lora_modules a", "is not NAME=PATH", 2},
        {"--lora_modules", "needs NAME=PATH", 2},
        {"--lora_modules a=/nonexistent/lora", "a:", 1},
        {"--lora_modules a=" WHET_FIXTURES "/export/llama-tiny/adapter", "wrong base model", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        snprintf(cmd, sizeof cmd, "'%s' api --model_name_or_path '%s' --served_model_name base --port 1 %s 2>&1",
                 WHET_BINARY, model_dir, cases[i].flags);
        char *out = run(cmd, &rc);
        CHECK_MSG(rc == cases[i].rc && strstr(out, cases[i].want), "%s: exit %d, \"%s\"", cases[i].flags, rc, out);
        free(out);
    }
    /* a name given twice (comma form), the base model's name */
    snprintf(cmd, sizeof cmd, "'%s' api --model_name_or_path '%s' --port 1 --lora_modules=x=%s,x=%s 2>&1", WHET_BINARY,
             model_dir, adapter, adapter);
    char *out = run(cmd, &rc);
    CHECK_MSG(rc == 1 && strstr(out, "given twice"), "exit %d: %s", rc, out);
    free(out);
    snprintf(cmd, sizeof cmd, "'%s' api --model_name_or_path '%s' --served_model_name base --port 1 --lora_modules "
             "base=%s 2>&1", WHET_BINARY, model_dir, adapter);
    out = run(cmd, &rc);
    CHECK_MSG(rc == 1 && strstr(out, "base model's served name"), "exit %d: %s", rc, out);
    free(out);
}

int main(void) {
    if (access(WHET_BINARY, X_OK) != 0) TEST_SKIP("the whet binary is not built");
    if (system("curl --version >/dev/null 2>&1") != 0) TEST_SKIP("curl is not installed");
    if (!mkdtemp(root)) TEST_SKIP("no temp dir");
    if (make_model_and_adapter()) {
        test_bad_flags();
        int port = test_free_port();
        char a_arg[300], b_arg[300];
        snprintf(a_arg, sizeof a_arg, "a=%s", adapter);
        snprintf(b_arg, sizeof b_arg, "b=%s", rs_adapter);
        const char *extra[] = {"--lora_modules", a_arg, b_arg};
        pid_t pid = launch(port, extra, 3);
        bool up = wait_up(port, pid);
        CHECK_MSG(up, "whet api --lora_modules did not come up on port %d", port);
        if (up) test_serving(port);
        kill(pid, SIGINT);
        int status = 0;
        waitpid(pid, &status, 0);
        CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "whet api exit status %d", status);
    }
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK(system(cmd) == 0);
    return TEST_SUMMARY();
}
