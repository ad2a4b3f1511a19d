/* test_tokenizer_extra.c: tests/fixtures/tokenizer/extra_golden.json, made
 * with the npm `tokenizers` package (HF tokenizers' Rust core) by
 * make_extra_golden.js: seeded random unicode strings with literal special
 * tokens, long inputs, and random id sequences to decode. For every text:
 * ids, ids_with_special, decode(ids) and decode(ids_with_special,
 * skip_special_tokens); for every random sequence its decode. Includes the
 * stories260K demo tokenizer and the real Qwen2.5 and Llama-3 tokenizers
 * (tests/fixtures/real-tokenizers.tar.xz, unpacked by CMake). */
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "core/json.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

static bool ids_equal(const whet_tokens *got, const cJSON *want) {
    if (!cJSON_IsArray(want) || (size_t)cJSON_GetArraySize(want) != got->n) return false;
    size_t i = 0;
    for (const cJSON *e = want->child; e; e = e->next, i++)
        if (e->valueint != got->ids[i]) return false;
    return true;
}

static bool decodes_to(const whet_tokenizer *t, const int32_t *ids, size_t n, bool skip, const char *want) {
    whet_strbuf out;
    whet_sb_init(&out);
    whet_error err = {0};
    bool ok = whet_tokenizer_decode(t, ids, n, skip, &out, &err) == WHET_OK && strcmp(out.data ? out.data : "", want) == 0;
    if (!ok) fprintf(stderr, "  decoded \"%.120s\" want \"%.120s\" %s\n", out.data ? out.data : "", want, err.msg);
    whet_sb_free(&out);
    return ok;
}

/* The streaming detokenizer fed the ids one at a time: every piece it emits
 * is valid UTF-8 and the pieces plus the flush are HF's decode of the whole
 * sequence (random ids are full of lone byte-fallback tokens and partial
 * UTF-8: the llama-tiny "\xe6\x82\xa8E" case of `whet chat`). */
static bool streams_to(const whet_tokenizer *t, const int32_t *ids, size_t n, bool skip, const char *want) {
    whet_detok_stream st;
    whet_detok_init(&st, t, skip);
    whet_strbuf all, piece;
    whet_sb_init(&all);
    whet_sb_init(&piece);
    whet_error err = {0};
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        whet_sb_clear(&piece);
        ok = whet_detok_feed(&st, ids[i], &piece, &err) == WHET_OK && test_utf8_valid(piece.data ? piece.data : "", piece.len);
        whet_sb_append(&all, piece.data ? piece.data : "", piece.len);
    }
    ok = ok && whet_detok_flush(&st, &all, &err) == WHET_OK;
    whet_sb_append(&all, "", 0);
    ok = ok && strcmp(all.data, want) == 0;
    if (!ok) fprintf(stderr, "  streamed \"%.120s\" want \"%.120s\" %s\n", all.data ? all.data : "", want, err.msg);
    whet_detok_free(&st);
    whet_sb_free(&all);
    whet_sb_free(&piece);
    return ok;
}

static void check_one(const char *name, const char *dir, const cJSON *corpus, const cJSON *g, int *pass, int *total) {
    whet_error err = {0};
    whet_tokenizer *t = NULL;
    CHECK_OK(whet_tokenizer_load_dir(dir, &t, &err), &err);
    if (!t) return;
    const cJSON *a = cJSON_GetObjectItem(g, "ids")->child, *b = cJSON_GetObjectItem(g, "ids_with_special")->child;
    const cJSON *d = cJSON_GetObjectItem(g, "decoded")->child, *ds = cJSON_GetObjectItem(g, "decoded_skip")->child;
    int ok = 0, n = 0;
    for (const cJSON *s = corpus->child; s; s = s->next, a = a->next, b = b->next, d = d->next, ds = ds->next, n++) {
        whet_tokens plain = {0}, special = {0};
        size_t len = strlen(s->valuestring);
        bool enc = whet_tokenizer_encode(t, s->valuestring, len, false, &plain, &err) == WHET_OK &&
                   whet_tokenizer_encode(t, s->valuestring, len, true, &special, &err) == WHET_OK;
        bool same = enc && ids_equal(&plain, a) && ids_equal(&special, b) &&
                    decodes_to(t, plain.ids, plain.n, false, d->valuestring) &&
                    decodes_to(t, special.ids, special.n, true, ds->valuestring);
        CHECK_MSG(same, "%s text %d \"%.50s\" differs from HF%s%s", name, n, s->valuestring, enc ? "" : ": ", enc ? "" : err.msg);
        ok += same;
        whet_tokens_free(&plain);
        whet_tokens_free(&special);
    }
    const cJSON *ri = cJSON_GetObjectItem(g, "random_ids")->child, *rd = cJSON_GetObjectItem(g, "random_decoded")->child;
    int rok = 0, rn = 0;
    for (; ri && rd; ri = ri->next, rd = rd->next, rn++) {
        int32_t ids[64];
        size_t k = 0;
        for (const cJSON *e = ri->child; e && k < 64; e = e->next) ids[k++] = e->valueint;
        bool same = decodes_to(t, ids, k, rn % 2 == 1, rd->valuestring) &&
                    streams_to(t, ids, k, rn % 2 == 1, rd->valuestring);
        CHECK_MSG(same, "%s random id sequence %d decodes (or streams) differently from HF", name, rn);
        rok += same;
    }
    printf("%-12s %d/%d texts, %d/%d random id sequences match HF (decode and streamed)\n", name, ok, n, rok, rn);
    *pass += ok + rok;
    *total += n + rn;
    whet_tokenizer_free(t);
}

int main(void) {
    whet_error err = {0};
    cJSON *root = NULL;
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/tokenizer/extra_golden.json", &root, &err), &err);
    if (!root) return TEST_SUMMARY();
    struct { const char *name, *dir; } cases[] = {
        {"llama2", WHET_FIXTURES "/tokenizer/llama2"},
        {"llama-tiny", WHET_FIXTURES "/models/llama-tiny"},
        {"qwen2-tiny", WHET_FIXTURES "/models/qwen2-tiny"},
        {"llama3-tiny", WHET_FIXTURES "/models/llama3-tiny"},
        {"stories260K", WHET_SOURCE_DIR "/models/stories260K-hf"},
        {"qwen2.5", WHET_REAL_FIXTURES "/tokenizers/qwen2.5"},
        {"llama3", WHET_REAL_FIXTURES "/tokenizers/llama3"},
    };
    const cJSON *corpus = cJSON_GetObjectItem(root, "corpus"), *toks = cJSON_GetObjectItem(root, "tokenizers");
    int pass = 0, total = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        const cJSON *g = cJSON_GetObjectItem(toks, cases[c].name);
        char probe[1100];
        snprintf(probe, sizeof probe, "%s/tokenizer.json", cases[c].dir);
        if (!g || !whet_file_exists(probe)) {
            CHECK_MSG(false, "%s: golden or %s missing", cases[c].name, probe);
            printf("%-12s skipped: %s not found\n", cases[c].name, probe);
            continue;
        }
        check_one(cases[c].name, cases[c].dir, corpus, g, &pass, &total);
    }
    printf("total: %d/%d\n", pass, total);
    cJSON_Delete(root);
    return TEST_SUMMARY();
}
