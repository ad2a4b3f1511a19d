/* bench_tokenizer.c: tokenization throughput (MB/s of UTF-8 input, one
 * thread) of whet's tokenizer on a large mixed Chinese/English text: every
 * string field of LLaMA-Factory's alpaca_en_demo.json, alpaca_zh_demo.json
 * and huanhuan.json (~2 MB), in file and record order. Two ways: the whole
 * text as one encode call, and one call per string (how datasets are
 * tokenized). Best of --repeat runs. bench/tokenizer_baseline.js runs HF
 * tokenizers' Rust core (npm `tokenizers`) on the same strings; docs/tokenizer.md
 * has the table.
 *
 *   bench_tokenizer [--tokenizer DIR]... [--data DIR] [--repeat 3] [--json out.json]
 * Default tokenizers: $WHET_SHARED_DIR/models/tokenizers/qwen2.5 and llama3; default data: $WHET_SHARED_DIR/data. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "core/json.h"
#include "core/strbuf.h"
#include "tokenizer/tokenizer.h"

typedef struct {
    char **s;
    size_t *len;
    size_t n, cap, bytes;
} texts;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int add_text(texts *t, const char *s) {
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 1024;
        t->s = realloc(t->s, t->cap * sizeof *t->s);
        t->len = realloc(t->len, t->cap * sizeof *t->len);
        if (!t->s || !t->len) return 1;
    }
    t->len[t->n] = strlen(s);
    t->s[t->n] = strdup(s);
    t->bytes += t->len[t->n];
    return t->s[t->n++] ? 0 : 1;
}

/* Every string value of every record (array of objects), in order. */
static int load_texts(const char *data_dir, texts *t) {
    static const char *files[] = {"llamafactory/alpaca_en_demo.json", "llamafactory/alpaca_zh_demo.json",
                                  "huanhuan/huanhuan.json"};
    for (size_t f = 0; f < 3; f++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", data_dir, files[f]);
        whet_error err = {0};
        cJSON *root;
        if (whet_json_parse_file(path, &root, &err) != WHET_OK) {
            fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
            return 1;
        }
        for (const cJSON *rec = root->child; rec; rec = rec->next)
            for (const cJSON *v = rec->child; v; v = v->next)
                if (cJSON_IsString(v) && v->valuestring[0] && add_text(t, v->valuestring)) return 1;
        cJSON_Delete(root);
    }
    return 0;
}

typedef struct {
    double whole_mbs, per_string_mbs;
    size_t n_ids;
} result;

static int bench_one(const char *dir, const texts *t, const char *joined, size_t joined_len, int repeat, result *r) {
    whet_error err = {0};
    whet_tokenizer *tok;
    double t0 = now();
    if (whet_tokenizer_load_dir(dir, &tok, &err) != WHET_OK) {
        fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
        return 1;
    }
    double load_s = now() - t0;
    double best_whole = 1e30, best_each = 1e30;
    whet_tokens ids = {0};
    for (int rep = 0; rep < repeat; rep++) {
        ids.n = 0;
        t0 = now();
        if (whet_tokenizer_encode(tok, joined, joined_len, false, &ids, &err) != WHET_OK) goto fail;
        double dt = now() - t0;
        if (dt < best_whole) best_whole = dt;
        r->n_ids = ids.n;
        t0 = now();
        for (size_t i = 0; i < t->n; i++) {
            ids.n = 0;
            if (whet_tokenizer_encode(tok, t->s[i], t->len[i], false, &ids, &err) != WHET_OK) goto fail;
        }
        dt = now() - t0;
        if (dt < best_each) best_each = dt;
    }
    r->whole_mbs = (double)joined_len / 1e6 / best_whole;
    r->per_string_mbs = (double)t->bytes / 1e6 / best_each;
    printf("| %-40s | %8.2f | %8.2f | %9zu | %6.2f |\n", dir, r->whole_mbs, r->per_string_mbs, r->n_ids, load_s);
    whet_tokens_free(&ids);
    whet_tokenizer_free(tok);
    return 0;
fail:
    fprintf(stderr, "bench_tokenizer: %s\n", err.msg);
    whet_tokens_free(&ids);
    whet_tokenizer_free(tok);
    return 1;
}

int main(int argc, char **argv) {
    const char *shared = getenv("WHET_SHARED_DIR") ? getenv("WHET_SHARED_DIR") : "/work/shared";
    char data[1024], llama3[1024], qwen25[1024];
    snprintf(data, sizeof data, "%s/data", shared);
    snprintf(qwen25, sizeof qwen25, "%s/models/tokenizers/qwen2.5", shared);
    snprintf(llama3, sizeof llama3, "%s/models/tokenizers/llama3", shared);
    const char *dirs[16];
    int n_dirs = 0, repeat = 3;
    const char *json = NULL, *data_dir = data;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--tokenizer") && i + 1 < argc && n_dirs < 16) dirs[n_dirs++] = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc) data_dir = argv[++i];
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc) json = argv[++i];
        else {
            fprintf(stderr, "usage: bench_tokenizer [--tokenizer DIR]... [--data DIR] [--repeat N] [--json FILE]\n");
            return 2;
        }
    }
    if (n_dirs == 0) {
        dirs[n_dirs++] = qwen25;
        dirs[n_dirs++] = llama3;
    }
    if (repeat < 1) repeat = 1;
    texts t = {0};
    if (load_texts(data_dir, &t)) return 1;
    whet_strbuf joined;
    whet_sb_init(&joined);
    for (size_t i = 0; i < t.n; i++) {
        whet_sb_append(&joined, t.s[i], t.len[i]);
        whet_sb_putc(&joined, '\n');
    }
    printf("text: %zu strings, %zu bytes (joined with newlines: %zu bytes); best of %d, one thread\n\n", t.n, t.bytes,
           joined.len, repeat);
    printf("| %-40s | %8s | %8s | %9s | %6s |\n", "tokenizer", "whole MB/s", "each MB/s", "ids", "load s");
    printf("|------------------------------------------|----------|----------|-----------|--------|\n");
    FILE *jf = json ? fopen(json, "w") : NULL;
    if (jf) fprintf(jf, "{\"bytes\": %zu, \"strings\": %zu, \"results\": [", joined.len, t.n);
    int rc = 0;
    for (int d = 0; d < n_dirs; d++) {
        result r = {0};
        if (bench_one(dirs[d], &t, joined.data, joined.len, repeat, &r)) {
            rc = 1;
            continue;
        }
        if (jf)
            fprintf(jf, "%s{\"tokenizer\": \"%s\", \"whole_mb_s\": %.3f, \"per_string_mb_s\": %.3f, \"ids\": %zu}",
                    d ? ", " : "", dirs[d], r.whole_mbs, r.per_string_mbs, r.n_ids);
    }
    if (jf) fprintf(jf, "]}\n"), fclose(jf);
    for (size_t i = 0; i < t.n; i++) free(t.s[i]);
    free(t.s);
    free(t.len);
    whet_sb_free(&joined);
    return rc;
}
