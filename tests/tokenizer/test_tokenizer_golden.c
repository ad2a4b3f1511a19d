/* test_tokenizer_golden.c: every corpus string of the Hugging Face goldens
 * (tokenize_public.json, made with tokenizers 0.23.2) encoded without and
 * with special tokens and decoded, for each tokenizer in it, compared
 * exactly. llama2 and the three tiny tokenizers and their goldens are in
 * tests/fixtures; qwen2.5, qwen3 and llama3 (7-11 MB each) and their goldens
 * travel in tests/fixtures/real-tokenizers.tar.xz, which CMake unpacks. */
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

static void print_ids(const char *what, const whet_tokens *t) {
    fprintf(stderr, "  %s:", what);
    for (size_t i = 0; i < t->n && i < 40; i++) fprintf(stderr, " %d", t->ids[i]);
    fprintf(stderr, "%s\n", t->n > 40 ? " ..." : "");
}

/* Returns the number of corpus strings that matched in all three respects. */
static int check_tokenizer(const char *name, const char *dir, const cJSON *corpus, const cJSON *gold) {
    if (!corpus || !gold) return 0;
    whet_error err = {0};
    whet_tokenizer *t = NULL;
    CHECK_OK(whet_tokenizer_load_dir(dir, &t, &err), &err);
    if (!t) return 0;
    const cJSON *ids = cJSON_GetObjectItem(gold, "ids"), *ids_sp = cJSON_GetObjectItem(gold, "ids_with_special"),
                *dec = cJSON_GetObjectItem(gold, "decoded");
    int pass = 0, i = 0, reported = 0;
    const cJSON *a = ids->child, *b = ids_sp->child, *d = dec->child;
    for (const cJSON *s = corpus->child; s; s = s->next, a = a->next, b = b->next, d = d->next, i++) {
        const char *text = s->valuestring;
        whet_tokens plain = {0}, special = {0};
        whet_strbuf out;
        whet_sb_init(&out);
        bool ok = whet_tokenizer_encode(t, text, strlen(text), false, &plain, &err) == WHET_OK;
        ok = ok && whet_tokenizer_encode(t, text, strlen(text), true, &special, &err) == WHET_OK;
        bool e1 = ok && ids_equal(&plain, a), e2 = ok && ids_equal(&special, b);
        bool e3 = ok && whet_tokenizer_decode(t, plain.ids, plain.n, false, &out, &err) == WHET_OK &&
                  strcmp(out.data ? out.data : "", d->valuestring) == 0;
        CHECK_MSG(e1 && e2 && e3, "%s corpus[%d] \"%.60s\": ids %s, ids_with_special %s, decoded %s%s%s", name, i, text,
                  e1 ? "ok" : "DIFFER", e2 ? "ok" : "DIFFER", e3 ? "ok" : "DIFFER", ok ? "" : ": ", ok ? "" : err.msg);
        if (!(e1 && e2 && e3) && reported++ < 3) {
            print_ids("got ", &plain);
            char *want = cJSON_PrintUnformatted(a);
            fprintf(stderr, "  want: %.300s\n", want);
            free(want);
            if (!e3) fprintf(stderr, "  decoded \"%s\" want \"%s\"\n", out.data ? out.data : "", d->valuestring);
        }
        pass += e1 && e2 && e3;
        whet_tokens_free(&plain);
        whet_tokens_free(&special);
        whet_sb_free(&out);
    }
    printf("%-12s %d/%d corpus strings match HF (ids, ids_with_special, decoded)\n", name, pass, i);
    whet_tokenizer_free(t);
    return pass;
}

int main(void) {
    whet_error err = {0};
    cJSON *local = NULL, *full = NULL;
    CHECK_OK(whet_json_parse_file(WHET_FIXTURES "/tokenizer/tokenize_public.json", &local, &err), &err);
    if (!local) return TEST_SUMMARY();
    const char *full_path = WHET_REAL_FIXTURES "/tokenize_real.json";
    CHECK_OK(whet_json_parse_file(full_path, &full, &err), &err);
    struct { const char *name, *dir; bool real; } cases[] = {
        {"llama2", WHET_FIXTURES "/tokenizer/llama2", false},
        {"llama-tiny", WHET_FIXTURES "/models/llama-tiny", false},
        {"qwen2-tiny", WHET_FIXTURES "/models/qwen2-tiny", false},
        {"llama3-tiny", WHET_FIXTURES "/models/llama3-tiny", false},
        {"qwen2.5", WHET_REAL_FIXTURES "/tokenizers/qwen2.5", true},
        {"llama3", WHET_REAL_FIXTURES "/tokenizers/llama3", true},
        {"qwen3", WHET_REAL_FIXTURES "/tokenizers/qwen3", true},
    };
    int total = 0, pass = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char probe[1100];
        snprintf(probe, sizeof probe, "%s/tokenizer.json", cases[c].dir);
        const cJSON *root = cases[c].real ? full : local;
        if (!whet_file_exists(probe) || !root) {
            CHECK_MSG(false, "%s or %s missing (unpacked from tests/fixtures/real-tokenizers.tar.xz)", probe, full_path);
            continue;
        }
        const cJSON *corpus = cJSON_GetObjectItem(root, "corpus");
        const cJSON *gold = cJSON_GetObjectItem(cJSON_GetObjectItem(root, "tokenizers"), cases[c].name);
        CHECK_MSG(gold != NULL, "golden has no tokenizer %s", cases[c].name);
        pass += check_tokenizer(cases[c].name, cases[c].dir, corpus, gold);
        total += cJSON_GetArraySize(corpus);
    }
    printf("total: %d/%d\n", pass, total);
    cJSON_Delete(local);
    cJSON_Delete(full);
    return TEST_SUMMARY();
}
