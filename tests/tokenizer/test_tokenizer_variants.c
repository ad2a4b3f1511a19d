/* test_tokenizer_variants.c: tokenizer.json variants of the tiny tokenizers
 * with the components real Llama/Qwen tokenizers do not use swapped in
 * (tests/fixtures/tokenizer/variants/, made by make_variant_golden.js):
 * Metaspace, GPT-2 ByteLevel with prefix space, Digits, Punctuation,
 * Whitespace(Split), every Split behaviour and invert, NFKC/NFD/Lowercase/
 * Strip/regex Replace/Prepend, added tokens with lstrip/rstrip/single_word/
 * normalized, Bert/Roberta/Sequence post-processors, no decoder, and the
 * DeepSeek-LLM and DeepSeek-V3 split sequences. Each is
 * compared with the npm `tokenizers` package (HF's Rust core) on 113 texts:
 * ids, ids with special tokens, decode, decode skipping special tokens. */
#include <stdlib.h>
#include <string.h>
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

static bool decodes_to(const whet_tokenizer *t, const whet_tokens *ids, bool skip, const char *want) {
    whet_strbuf out;
    whet_sb_init(&out);
    whet_error err = {0};
    bool ok = whet_tokenizer_decode(t, ids->ids, ids->n, skip, &out, &err) == WHET_OK &&
              strcmp(out.data ? out.data : "", want) == 0;
    if (!ok) fprintf(stderr, "  decoded%s \"%.100s\" want \"%.100s\" %s\n", skip ? " (skip)" : "", out.data ? out.data : "", want, err.msg);
    whet_sb_free(&out);
    return ok;
}

static void print_diff(const whet_tokens *got, const cJSON *want) {
    fprintf(stderr, "  got :");
    for (size_t i = 0; i < got->n && i < 30; i++) fprintf(stderr, " %d", got->ids[i]);
    char *w = cJSON_PrintUnformatted(want);
    fprintf(stderr, "\n  want: %.200s\n", w);
    free(w);
}

int main(void) {
    whet_error err = {0};
    cJSON *root = NULL;
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/tokenizer/variant_golden.json", &root, &err), &err);
    if (!root) return TEST_SUMMARY();
    const cJSON *corpus = cJSON_GetObjectItem(root, "corpus");
    int pass = 0, total = 0;
    for (const cJSON *g = cJSON_GetObjectItem(root, "tokenizers")->child; g; g = g->next) {
        char path[512];
        snprintf(path, sizeof path, "%s/tokenizer/variants/%s.json", WHET_FIXTURES, g->string);
        whet_tokenizer *t = NULL;
        CHECK_OK(whet_tokenizer_load_json(path, &t, &err), &err);
        if (!t) continue;
        const cJSON *a = cJSON_GetObjectItem(g, "ids")->child, *b = cJSON_GetObjectItem(g, "ids_with_special")->child;
        const cJSON *d = cJSON_GetObjectItem(g, "decoded")->child, *ds = cJSON_GetObjectItem(g, "decoded_skip")->child;
        int ok = 0, n = 0, shown = 0;
        for (const cJSON *s = corpus->child; s; s = s->next, a = a->next, b = b->next, d = d->next, ds = ds->next, n++) {
            whet_tokens plain = {0}, special = {0};
            size_t len = strlen(s->valuestring);
            bool enc = whet_tokenizer_encode(t, s->valuestring, len, false, &plain, &err) == WHET_OK &&
                       whet_tokenizer_encode(t, s->valuestring, len, true, &special, &err) == WHET_OK;
            bool e1 = enc && ids_equal(&plain, a), e2 = enc && ids_equal(&special, b);
            bool same = e1 && e2 && decodes_to(t, &plain, false, d->valuestring) && decodes_to(t, &special, true, ds->valuestring);
            CHECK_MSG(same, "%s text %d \"%.50s\" differs from HF (ids %s, with special %s)%s%s", g->string, n, s->valuestring,
                      e1 ? "ok" : "DIFFER", e2 ? "ok" : "DIFFER", enc ? "" : ": ", enc ? "" : err.msg);
            if (!e1 && enc && shown++ < 2) print_diff(&plain, a);
            ok += same;
            whet_tokens_free(&plain);
            whet_tokens_free(&special);
        }
        printf("%-18s %d/%d texts match HF\n", g->string, ok, n);
        pass += ok;
        total += n;
        whet_tokenizer_free(t);
    }
    printf("total: %d/%d\n", pass, total);
    cJSON_Delete(root);
    return TEST_SUMMARY();
}
