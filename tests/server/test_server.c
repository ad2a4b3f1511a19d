/* test_server.c: `whet api`'s server in-process on a random loopback port,
 * driven with raw HTTP over sockets. Completions (stories260K) and chat
 * (qwen2-tiny, its HF chat template) return exactly the text of
 * single-sequence whet_generate on the same prompt ids (itself checked
 * against transformers), streamed (SSE, [DONE], usage) or not, alone or 8
 * at a time; stop strings, n with seeds, logprobs, Ollama's NDJSON; every
 * bad request gets its status and an OpenAI-shaped error; a client that
 * hangs up cancels its request and frees its KV blocks; a few thousand
 * mutated bodies later the server still answers /health and a request. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <time.h>
#include "core/rng.h"
#include "http_client.h"
#include "server_fixture.h"
#include "tokenizer/jinja.h"

static cJSON *json_of(const http_resp *r) { return r->body ? cJSON_Parse(r->body) : NULL; }

static const cJSON *path(const cJSON *v, const char *p) {
    char key[64];
    while (v && *p) {
        size_t n = strcspn(p, ".");
        snprintf(key, sizeof key, "%.*s", (int)n, p);
        v = (key[0] >= '0' && key[0] <= '9') ? cJSON_GetArrayItem(v, atoi(key)) : cJSON_GetObjectItemCaseSensitive(v, key);
        p += n + (p[n] == '.');
    }
    return v;
}

static const char *str_at(const cJSON *v, const char *p) {
    const cJSON *x = path(v, p);
    return cJSON_IsString(x) ? x->valuestring : NULL;
}

static double num_at(const cJSON *v, const char *p) {
    const cJSON *x = path(v, p);
    return cJSON_IsNumber(x) ? x->valuedouble : -1;
}

/* The OpenAI error object: {"error": {message, type, param, code}}. */
static void check_openai_error(const http_resp *r, int status, const char *param, const char *what) {
    CHECK_MSG(r->status == status, "%s: status %d, want %d (%s)", what, r->status, status, r->body ? r->body : "");
    cJSON *j = json_of(r);
    const cJSON *e = path(j, "error");
    CHECK_MSG(cJSON_IsObject(e) && cJSON_IsString(path(e, "message")) && cJSON_IsString(path(e, "type")) &&
              path(e, "param") && path(e, "code"), "%s: not an OpenAI error object: %s", what, r->body ? r->body : "");
    if (param) CHECK_MSG(str_at(e, "param") && strcmp(str_at(e, "param"), param) == 0, "%s: param %s", what,
                         r->body ? r->body : "");
    cJSON_Delete(j);
}

/* Concatenate the SSE deltas; checks the framing and the final [DONE]. */
static char *sse_text(const char *body, bool chat, cJSON **usage, int *n_events) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    whet_sb_append(&sb, "", 0);
    *n_events = 0;
    bool done = false;
    for (const char *p = body; p && *p;) {
        const char *end = strstr(p, "\n\n");
        if (!end) break;
        CHECK(strncmp(p, "data: ", 6) == 0);
        char *ev = strndup(p + 6, (size_t)(end - p - 6));
        if (strcmp(ev, "[DONE]") == 0) {
            done = true;
        } else {
            CHECK(!done);
            cJSON *j = cJSON_Parse(ev);
            CHECK_MSG(j != NULL, "bad SSE event %s", ev);
            const char *t = str_at(j, chat ? "choices.0.delta.content" : "choices.0.text");
            if (t) whet_sb_puts(&sb, t);
            if (usage && path(j, "usage") && cJSON_IsObject(path(j, "usage")))
                *usage = cJSON_Duplicate(path(j, "usage"), true);
            cJSON_Delete(j);
            (*n_events)++;
        }
        free(ev);
        p = end + 2;
    }
    CHECK(done);
    return whet_sb_take(&sb);
}

static void test_completions(fixture *f) {
    whet_error err = {0};
    whet_tokens ids = {0};
    const char *prompt = "Once upon a time, there was a little";
    CHECK_OK(whet_tokenizer_encode(f->tok, prompt, strlen(prompt), true, &ids, &err), &err);
    int n_new = 0;
    char *want = expected_text(f, &ids, 24, &n_new);
    http_resp r;
    char body[1024];
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"prompt\":\"%s\",\"max_tokens\":24,\"temperature\":0}", prompt);
    CHECK_EQ_INT(http_do(f->port, "POST", "/v1/completions", "", body, &r), 200);
    cJSON *j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "object"), "text_completion");
    CHECK_STR_EQ(str_at(j, "choices.0.text"), want);
    CHECK_EQ_INT(num_at(j, "usage.prompt_tokens"), ids.n);
    CHECK_EQ_INT(num_at(j, "usage.completion_tokens"), n_new);
    CHECK_STR_EQ(str_at(j, "choices.0.finish_reason"), n_new == 24 ? "length" : "stop");
    printf("completion: \"%s\" == generate alone\n", str_at(j, "choices.0.text") ? str_at(j, "choices.0.text") : "");
    cJSON_Delete(j);
    http_resp_free(&r);

    /* streamed: the deltas add up to the same text, then usage, then [DONE] */
    snprintf(body, sizeof body, "{\"model\":\"stories\",\"prompt\":\"%s\",\"max_tokens\":24,\"temperature\":0,"
             "\"stream\":true,\"stream_options\":{\"include_usage\":true}}", prompt);
    CHECK_EQ_INT(http_do(f->port, "POST", "/v1/completions", "", body, &r), 200);
    CHECK(r.headers && strcasestr(r.headers, "text/event-stream"));
    cJSON *usage = NULL;
    int n_events = 0;
    char *got = sse_text(r.body, false, &usage, &n_events);
    CHECK_STR_EQ(got, want);
    CHECK(n_events > 2 && usage && num_at(usage, "completion_tokens") == n_new);
    free(got);
    cJSON_Delete(usage);
    http_resp_free(&r);

    /* a stop string from the middle of the text ends it just before */
    size_t wl = strlen(want);
    if (wl > 12) {
        char stop_s[8];
        snprintf(stop_s, sizeof stop_s, "%.4s", want + wl / 2);
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":24,\"temperature\":0,\"stop\":[\"%s\"]}", prompt,
                 stop_s);
        CHECK_EQ_INT(http_do(f->port, "POST", "/v1/completions", "", body, &r), 200);
        j = json_of(&r);
        size_t cut = (size_t)(strstr(want, stop_s) - want);
        const char *t = str_at(j, "choices.0.text");
        CHECK_MSG(t && strlen(t) == cut && strncmp(t, want, cut) == 0, "stop \"%s\": got \"%s\"", stop_s, t ? t : "");
        CHECK_STR_EQ(str_at(j, "choices.0.finish_reason"), "stop");
        CHECK_STR_EQ(str_at(j, "choices.0.stop_reason"), stop_s);
        cJSON_Delete(j);
        http_resp_free(&r);
    }

    free(want);
    whet_tokens_free(&ids);
}

/* n = 3 with a seed: three samples, reproduced by the same seed; logprobs */
static void test_completion_sampling(fixture *f) {
    const char *prompt = "Once upon a time, there was a little";
    char body[1024];
    http_resp r;
    cJSON *j;
    char *texts[2][3] = {{0}};
    for (int rep = 0; rep < 2; rep++) {
        snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":16,\"temperature\":1.0,\"n\":3,\"seed\":7}", prompt);
        CHECK_EQ_INT(http_do(f->port, "POST", "/v1/completions", "", body, &r), 200);
        j = json_of(&r);
        CHECK_EQ_INT(cJSON_GetArraySize(path(j, "choices")), 3);
        for (int k = 0; k < 3; k++) {
            char p[32];
            snprintf(p, sizeof p, "choices.%d.text", k);
            texts[rep][k] = strdup(str_at(j, p) ? str_at(j, p) : "");
            snprintf(p, sizeof p, "choices.%d.index", k);
            CHECK_EQ_INT(num_at(j, p), k);
        }
        cJSON_Delete(j);
        http_resp_free(&r);
    }
    for (int k = 0; k < 3; k++) CHECK_STR_EQ(texts[0][k], texts[1][k]);
    CHECK(strcmp(texts[0][0], texts[0][1]) != 0 || strcmp(texts[0][1], texts[0][2]) != 0);
    for (int k = 0; k < 3; k++) free(texts[0][k]), free(texts[1][k]);

    /* logprobs: one entry per completion token, at most 3 alternatives, greedy = top-1 */
    snprintf(body, sizeof body, "{\"prompt\":\"%s\",\"max_tokens\":8,\"temperature\":0,\"logprobs\":3}", prompt);
    CHECK_EQ_INT(http_do(f->port, "POST", "/v1/completions", "", body, &r), 200);
    j = json_of(&r);
    const cJSON *lp = path(j, "choices.0.logprobs");
    CHECK(cJSON_GetArraySize(path(lp, "tokens")) == num_at(j, "usage.completion_tokens"));
    CHECK(cJSON_GetArraySize(path(lp, "top_logprobs.0")) <= 3 && num_at(lp, "token_logprobs.0") <= 0);
    cJSON_Delete(j);
    http_resp_free(&r);
}

typedef struct {
    int port;
    char body[512];
    char *text;
    int status;
} conc_req;

static void *conc_thread(void *arg) {
    conc_req *q = arg;
    http_resp r;
    q->status = http_do(q->port, "POST", "/v1/completions", "", q->body, &r);
    cJSON *j = json_of(&r);
    const char *t = str_at(j, "choices.0.text");
    q->text = t ? strdup(t) : NULL;
    cJSON_Delete(j);
    http_resp_free(&r);
    return NULL;
}

/* 8 clients at once, prompts of different lengths: each gets its text alone. */
static void test_concurrent(fixture *f) {
    const char *prompts[8] = {"Lily", "Tom had a big red ball", "The sun", "One day, a cat and a dog went to the park",
                              "She", "Once upon a time", "The little bird sang a song every morning", "Ben"};
    conc_req q[8];
    pthread_t th[8];
    for (int i = 0; i < 8; i++) {
        q[i] = (conc_req){.port = f->port};
        snprintf(q[i].body, sizeof q[i].body, "{\"prompt\":\"%s\",\"max_tokens\":%d,\"temperature\":0}", prompts[i],
                 10 + 3 * i);
        pthread_create(&th[i], NULL, conc_thread, &q[i]);
    }
    for (int i = 0; i < 8; i++) pthread_join(th[i], NULL);
    int same = 0;
    for (int i = 0; i < 8; i++) {
        whet_error err = {0};
        whet_tokens ids = {0};
        CHECK_OK(whet_tokenizer_encode(f->tok, prompts[i], strlen(prompts[i]), true, &ids, &err), &err);
        int n_new;
        char *want = expected_text(f, &ids, 10 + 3 * i, &n_new);
        CHECK_EQ_INT(q[i].status, 200);
        bool eq = q[i].text && strcmp(q[i].text, want) == 0;
        CHECK_MSG(eq, "concurrent request %d: \"%s\" vs alone \"%s\"", i, q[i].text ? q[i].text : "(null)", want);
        same += eq;
        free(want);
        free(q[i].text);
        whet_tokens_free(&ids);
    }
    whet_engine_stats st = whet_engine_get_stats(f->eng);
    printf("8 concurrent completions: %d/8 equal to generate alone (largest batch %d)\n", same, st.max_running_seen);
}

static void test_errors(fixture *f) {
    http_resp r;
    struct { const char *method, *path, *body, *param; int status; } cases[] = {
        {"POST", "/v1/completions", "{\"prompt\": \"a\",", NULL, 400},
        {"POST", "/v1/completions", "[1,2]", NULL, 400},
        {"POST", "/v1/completions", "", NULL, 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"temperature\":\"hot\"}", "temperature", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"temperature\":7}", "temperature", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":1.5}", "max_tokens", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"n\":0}", "n", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"stop\":7}", "stop", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"stream\":\"yes\"}", "stream", 400},
        {"POST", "/v1/completions", "{\"prompt\":[1,2,99999]}", "prompt", 400},
        {"POST", "/v1/completions", "{\"prompt\":{}}", "prompt", 400},
        {"POST", "/v1/completions", "{\"max_tokens\":3}", "prompt", 400},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"model\":\"gpt-4\"}", "model", 404},
        {"POST", "/v1/completions", "{\"prompt\":\"a\",\"max_tokens\":100000}", "messages", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[]}", "messages", 400},
        {"POST", "/v1/chat/completions", "{\"model\":\"stories\"}", "messages", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":\"hi\"}", "messages", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}",
         "messages[0].role", 400},
        {"POST", "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":5}]}", "messages[0].content",
         400},
        {"GET", "/v1/chat/completions", NULL, NULL, 405},
        {"POST", "/v1/models", "{}", NULL, 405},
        {"GET", "/v1/nothing", NULL, NULL, 404},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        http_do(f->port, cases[i].method, cases[i].path, "", cases[i].body, &r);
        char what[160];
        snprintf(what, sizeof what, "%s %s %s", cases[i].method, cases[i].path, cases[i].body ? cases[i].body : "");
        check_openai_error(&r, cases[i].status, cases[i].param, what);
        http_resp_free(&r);
    }
    /* a prompt longer than the model: 400 context_length_exceeded */
    whet_strbuf big;
    whet_sb_init(&big);
    whet_sb_puts(&big, "{\"prompt\":\"");
    for (int i = 0; i < 400; i++) whet_sb_puts(&big, "the cat ");
    whet_sb_puts(&big, "\"}");
    http_do(f->port, "POST", "/v1/completions", "", big.data, &r);
    check_openai_error(&r, 400, "messages", "prompt too long");
    CHECK(r.body && strstr(r.body, "context_length_exceeded"));
    http_resp_free(&r);
    /* over the 64 KiB body limit: 413 */
    whet_sb_clear(&big);
    whet_sb_puts(&big, "{\"prompt\":\"");
    for (int i = 0; i < 9000; i++) whet_sb_puts(&big, "abcdefgh");
    whet_sb_puts(&big, "\"}");
    http_do(f->port, "POST", "/v1/completions", "", big.data, &r);
    check_openai_error(&r, 413, NULL, "oversized body");
    http_resp_free(&r);
    whet_sb_free(&big);
    /* Ollama's format: {"error": "..."} */
    http_do(f->port, "POST", "/api/generate", "", "{\"model\":\"llama9\",\"prompt\":\"x\"}", &r);
    CHECK_EQ_INT(r.status, 404);
    cJSON *j = json_of(&r);
    CHECK(str_at(j, "error") != NULL);
    cJSON_Delete(j);
    http_resp_free(&r);
}

static void test_ollama_and_misc(fixture *f) {
    http_resp r;
    CHECK_EQ_INT(http_do(f->port, "GET", "/health", "", NULL, &r), 200);
    http_resp_free(&r);
    CHECK_EQ_INT(http_do(f->port, "GET", "/v1/models", "", NULL, &r), 200);
    cJSON *j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "object"), "list");
    CHECK_STR_EQ(str_at(j, "data.0.id"), "stories");
    cJSON_Delete(j);
    http_resp_free(&r);
    CHECK_EQ_INT(http_do(f->port, "GET", "/v1/models/stories", "", NULL, &r), 200);
    j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "id"), "stories");
    cJSON_Delete(j);
    http_resp_free(&r);
    http_do(f->port, "GET", "/v1/models/gpt-4", "", NULL, &r);
    check_openai_error(&r, 404, "model", "unknown model id");
    http_resp_free(&r);
    CHECK_EQ_INT(http_do(f->port, "GET", "/api/tags", "", NULL, &r), 200);
    j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "models.0.name"), "stories");
    cJSON_Delete(j);
    http_resp_free(&r);

    /* /api/generate streams NDJSON by default; raw prompt = the completion text */
    whet_error err = {0};
    whet_tokens ids = {0};
    CHECK_OK(whet_tokenizer_encode(f->tok, "The dog", 7, true, &ids, &err), &err);
    int n_new;
    char *want = expected_text(f, &ids, 12, &n_new);
    CHECK_EQ_INT(http_do(f->port, "POST", "/api/generate", "",
                         "{\"model\":\"stories:latest\",\"prompt\":\"The dog\",\"raw\":true,"
                         "\"options\":{\"temperature\":0,\"num_predict\":12}}", &r), 200);
    CHECK(r.headers && strcasestr(r.headers, "application/x-ndjson"));
    whet_strbuf text;
    whet_sb_init(&text);
    whet_sb_append(&text, "", 0);
    int lines = 0, done = 0;
    for (char *line = r.body, *nl; line && (nl = strchr(line, '\n')); line = nl + 1) {
        *nl = '\0';
        cJSON *o = cJSON_Parse(line);
        CHECK(o != NULL);
        if (str_at(o, "response")) whet_sb_puts(&text, str_at(o, "response"));
        if (cJSON_IsTrue(path(o, "done"))) {
            done++;
            CHECK_EQ_INT(num_at(o, "eval_count"), n_new);
            CHECK_EQ_INT(num_at(o, "prompt_eval_count"), ids.n);
            CHECK(str_at(o, "done_reason") != NULL);
        }
        lines++;
        cJSON_Delete(o);
    }
    CHECK(lines >= 2 && done == 1);  /* tokens that arrive together share a line */
    CHECK_STR_EQ(text.data, want);
    whet_sb_free(&text);
    http_resp_free(&r);
    /* stream: false gives one object */
    CHECK_EQ_INT(http_do(f->port, "POST", "/api/generate", "",
                         "{\"prompt\":\"The dog\",\"raw\":true,\"stream\":false,\"options\":{\"temperature\":0,"
                         "\"num_predict\":12}}", &r), 200);
    j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "response"), want);
    CHECK(cJSON_IsTrue(path(j, "done")));
    cJSON_Delete(j);
    http_resp_free(&r);
    free(want);
    whet_tokens_free(&ids);

    CHECK_EQ_INT(http_do(f->port, "GET", "/metrics", "", NULL, &r), 200);
    CHECK(r.body && strstr(r.body, "whet_kv_blocks_used") && strstr(r.body, "whet_generation_tokens_total"));
    http_resp_free(&r);
}

/* A streaming client that hangs up: its request is cancelled, its blocks
 * freed. The engine is stepped here, slowly, so the request is still
 * running when the client goes. */
static void test_disconnect(void) {
    fixture f;
    if (start_engine(&f, WHET_SOURCE_DIR "/models/stories260K-hf", "stories", NULL, 0, true)) return;
    whet_error err = {0};
    int fd = http_connect(f.port);
    const char *body = "{\"prompt\":\"Once\",\"max_tokens\":400,\"temperature\":1,\"stream\":true}";
    http_send_request(fd, "POST", "/v1/completions", "", body, strlen(body));
    whet_engine_stats st = {0};
    for (int i = 0; i < 500 && st.waiting == 0; i++) {  /* until the server queued it */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
        st = whet_engine_get_stats(f.eng);
    }
    for (int i = 0; i < 5; i++) CHECK_OK(whet_engine_step(f.eng, NULL, &err), &err);
    char buf[256];
    CHECK(recv(fd, buf, sizeof buf, 0) > 0);  /* the stream started */
    close(fd);
    int active = 1;
    for (int i = 0; i < 400 && active; i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        CHECK_OK(whet_engine_step(f.eng, &active, &err), &err);
    }
    st = whet_engine_get_stats(f.eng);
    CHECK_MSG(st.requests_aborted == 1, "the disconnected request was not cancelled");
    CHECK_MSG(st.generation_tokens < 400, "it ran to the end (%llu tokens)", (unsigned long long)st.generation_tokens);
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    printf("client hung up after 5 tokens: cancelled after %llu tokens, KV blocks freed\n",
           (unsigned long long)st.generation_tokens);
    stop(&f);
}

/* Random and mutated bodies: every answer is an HTTP status with a JSON body; the server survives. */
static void test_fuzz(fixture *f) {
    const char *seeds[] = {
        "{\"prompt\":\"Once\",\"max_tokens\":3,\"temperature\":0.5,\"stop\":[\"a\",\"b\"],\"n\":2,\"logprobs\":2}",
        "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":2,\"top_p\":0.5,\"seed\":3}",
        "{\"model\":\"stories\",\"prompt\":[1,2,3],\"max_tokens\":2,\"stream\":true}",
    };
    const char *paths[] = {"/v1/completions", "/v1/chat/completions", "/api/generate", "/api/chat"};
    whet_rng rng;
    whet_rng_seed(&rng, 1234);
    int bad_status = 0, bad_json = 0, n = 2000;
    for (int i = 0; i < n; i++) {
        char body[512];
        snprintf(body, sizeof body, "%s", seeds[i % 3]);
        size_t len = strlen(body);
        int edits = 1 + (int)whet_rng_below(&rng, 4);
        for (int e = 0; e < edits && len > 1; e++) {
            size_t at = whet_rng_below(&rng, len);
            switch (whet_rng_below(&rng, 3)) {
            case 0: body[at] = (char)(1 + whet_rng_below(&rng, 255)); break;    /* flip a byte */
            case 1: memmove(body + at, body + at + 1, len - at); len--; break;  /* drop a byte */
            default: body[at] = "{}[]\":,0-9en"[whet_rng_below(&rng, 12)]; break;
            }
        }
        body[len] = '\0';
        http_resp r;
        int st = http_do(f->port, "POST", paths[whet_rng_below(&rng, 4)], "", body, &r);
        if (st != 200 && st != 400 && st != 404) bad_status++;
        if (st != 200 || !strcasestr(r.headers ? r.headers : "", "event-stream")) {
            bool ndjson = r.headers && strcasestr(r.headers, "ndjson");
            cJSON *j = ndjson ? NULL : json_of(&r);
            if (!ndjson && !j) bad_json++;
            cJSON_Delete(j);
        }
        http_resp_free(&r);
    }
    CHECK_MSG(bad_status == 0 && bad_json == 0, "fuzz: %d unexpected statuses, %d non-JSON bodies", bad_status, bad_json);
    http_resp r;
    CHECK_EQ_INT(http_do(f->port, "GET", "/health", "", NULL, &r), 200);
    http_resp_free(&r);
    CHECK_EQ_INT(http_do(f->port, "POST", "/v1/completions", "", "{\"prompt\":\"Once\",\"max_tokens\":4}", &r), 200);
    http_resp_free(&r);
    /* the reply can arrive before the engine ends its step and frees the blocks */
    whet_engine_stats st = whet_engine_get_stats(f->eng);
    for (int i = 0; i < 200 && (st.running || st.waiting || st.kv_blocks_used); i++) {
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
        st = whet_engine_get_stats(f->eng);
    }
    CHECK_EQ_INT(st.kv_blocks_used, 0);
    CHECK_EQ_INT(st.requests_submitted, st.requests_finished);
    printf("fuzz: %d mutated bodies, server still healthy\n", n);
}

static void test_auth(void) {
    fixture f;
    if (start(&f, WHET_SOURCE_DIR "/models/stories260K-hf", "stories", "s3cret", 0)) return;
    http_resp r;
    http_do(f.port, "GET", "/v1/models", "", NULL, &r);
    check_openai_error(&r, 401, NULL, "no key");
    http_resp_free(&r);
    http_do(f.port, "GET", "/v1/models", "Authorization: Bearer nope\r\n", NULL, &r);
    check_openai_error(&r, 401, NULL, "wrong key");
    http_resp_free(&r);
    CHECK_EQ_INT(http_do(f.port, "GET", "/v1/models", "Authorization: Bearer s3cret\r\n", NULL, &r), 200);
    http_resp_free(&r);
    CHECK_EQ_INT(http_do(f.port, "GET", "/health", "", NULL, &r), 200);
    http_resp_free(&r);
    stop(&f);
}

/* Chat through qwen2-tiny's HF template: the text of generate on the rendered prompt. */
static void test_chat(void) {
    fixture f;
    if (start(&f, WHET_FIXTURES "/models/qwen2-tiny", "qwen", NULL, 0)) return;
    whet_error err = {0};
    cJSON *msgs = cJSON_Parse("[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi!\"}]");
    whet_strbuf text;
    whet_sb_init(&text);
    CHECK_OK(whet_chat_template_apply(whet_tokenizer_chat_template(f.tok), msgs, NULL, whet_tokenizer_bos_token(f.tok),
                                      whet_tokenizer_eos_token(f.tok), true, &text, &err), &err);
    whet_tokens ids = {0};
    CHECK_OK(whet_tokenizer_encode_opts(f.tok, text.data, text.len, false, true, &ids, &err), &err);
    int n_new;
    char *want = expected_text(&f, &ids, 10, &n_new);
    http_resp r;
    const char *body = "{\"model\":\"qwen\",\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi!\"}]}],\"max_tokens\":10,"
                       "\"temperature\":0,\"logprobs\":true,\"top_logprobs\":2}";
    CHECK_EQ_INT(http_do(f.port, "POST", "/v1/chat/completions", "", body, &r), 200);
    cJSON *j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "object"), "chat.completion");
    CHECK_STR_EQ(str_at(j, "choices.0.message.role"), "assistant");
    CHECK_STR_EQ(str_at(j, "choices.0.message.content"), want);
    CHECK_EQ_INT(num_at(j, "usage.prompt_tokens"), ids.n);
    CHECK_EQ_INT(cJSON_GetArraySize(path(j, "choices.0.logprobs.content")), n_new);
    CHECK_EQ_INT(cJSON_GetArraySize(path(j, "choices.0.logprobs.content.0.top_logprobs")), 2);
    cJSON_Delete(j);
    http_resp_free(&r);
    /* streamed chat: role first, then content deltas, the same text */
    const char *sbody = "{\"messages\":[{\"role\":\"system\",\"content\":\"Be brief.\"},{\"role\":\"user\",\"content\":"
                        "\"Hi!\"}],\"max_tokens\":10,\"temperature\":0,\"stream\":true}";
    CHECK_EQ_INT(http_do(f.port, "POST", "/v1/chat/completions", "", sbody, &r), 200);
    int n_events;
    char *got = sse_text(r.body, true, NULL, &n_events);
    CHECK_STR_EQ(got, want);
    CHECK(r.body && strstr(r.body, "\"role\":\"assistant\""));
    free(got);
    http_resp_free(&r);
    /* Ollama /api/chat, not streamed */
    const char *obody = "{\"model\":\"qwen\",\"stream\":false,\"messages\":[{\"role\":\"system\",\"content\":"
                        "\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi!\"}],\"options\":{\"temperature\":0,"
                        "\"num_predict\":10}}";
    CHECK_EQ_INT(http_do(f.port, "POST", "/api/chat", "", obody, &r), 200);
    j = json_of(&r);
    CHECK_STR_EQ(str_at(j, "message.content"), want);
    CHECK(cJSON_IsTrue(path(j, "done")) && num_at(j, "eval_count") == n_new);
    cJSON_Delete(j);
    http_resp_free(&r);
    printf("chat (qwen2-tiny template): \"%s\" == generate on the rendered prompt\n", want);
    free(want);
    whet_tokens_free(&ids);
    whet_sb_free(&text);
    cJSON_Delete(msgs);
    stop(&f);
}

int main(void) {
    fixture f;
    if (start(&f, WHET_SOURCE_DIR "/models/stories260K-hf", "stories", NULL, 128) == 0) {
        test_ollama_and_misc(&f);
        test_completions(&f);
        test_completion_sampling(&f);
        test_concurrent(&f);
        test_errors(&f);
        test_fuzz(&f);
        stop(&f);
    }
    test_disconnect();
    test_auth();
    test_chat();
    return TEST_SUMMARY();
}
