/* test_gguf_vocab_types.c: tokenizer.ggml.token_type of added tokens in a
 * GGUF export, as convert_hf_to_gguf's get_vocab_base /
 * _set_vocab_sentencepiece write them: CONTROL (3) when the added token is
 * special or does_token_look_special (spelled <|...|>, <｜...｜>, <unused...>,
 * or exactly <pad>, <mask>, <2mass>, [@BOS@]), USER_DEFINED (4) otherwise.
 * Qwen2.5's tokenizer.json has <|fim_prefix|>, <|repo_name|>, ... as
 * non-special added tokens; written USER_DEFINED, llama.cpp warns
 * "control-looking token ... was not control-type; this is probably a bug in
 * the model" for each. The tokenizer is qwen2-tiny's tokenizer.json with such
 * added tokens appended (ids 483.., inside the model's 512 rows).
 * A SentencePiece vocabulary keeps its own spelling of the specials:
 * stories260K-hf's "<unk>", "<s>", "</s>" are normalized added tokens, which
 * the tokenizer names "▁</s>" etc.; convert_hf_to_gguf writes the vocabulary's
 * "</s>", and llama.cpp only recognizes that one as the end of generation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "export/gguf_export.h"
#include "export/merge.h"
#include "io/gguf.h"
#include "tokenizer/tokenizer.h"
#include "test.h"

static const struct { const char *content; int type; } ADDED[] = {
    {"<|fim_prefix|>", 3},          {"<|repo_name|>", 3},     {"<\xef\xbd\x9c" "fim\xe2\x96\x81hole\xef\xbd\x9c>", 3},
    {"<pad>", 3},                   {"<unused7>", 3},         {"[@BOS@]", 3},
    {"<|not closed", 4},            {"plain_added", 4},       {"<mask>x", 4},
};
#define N_ADDED (sizeof ADDED / sizeof ADDED[0])

static void test_spm_specials(void) {
    whet_error err = {0};
    char dir[] = "/tmp/whet_vocab_spm_XXXXXX", path[256];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/s.gguf", dir);
    whet_export_model em = {0};
    CHECK_OK(whet_export_load(WHET_SOURCE_DIR "/models/stories260K-hf", &em, &err), &err);
    whet_gguf_export_opts o = {.path = path, .ftype = WHET_GGUF_FT_F32, .name = "s"};
    CHECK_OK(whet_export_gguf(&em, &o, &err), &err);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(path, &g, &err), &err);
    const whet_gguf_kv *ts = g ? whet_gguf_find_kv(g, "tokenizer.ggml.tokens") : NULL;
    static const char *const want[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; ts && i < 3; i++) {
        uint64_t n = 0;
        const char *s = whet_gguf_arr_str(ts, (uint64_t)i, &n);
        CHECK_MSG(s && n == strlen(want[i]) && !memcmp(s, want[i], n), "stories260K token %d is %.*s, not %s", i,
                  (int)n, s ? s : "", want[i]);
    }
    whet_gguf_close(g);
    whet_export_free(&em);
    unlink(path), rmdir(dir);
}

int main(void) {
    test_spm_specials();
    whet_error err = {0};
    char dir[] = "/tmp/whet_vocab_types_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char *json = NULL;
    size_t len = 0;
    CHECK_OK(whet_read_file(WHET_FIXTURES "/models/qwen2-tiny/tokenizer.json", &json, &len, &err), &err);
    const char *at = json ? strstr(json, "\"added_tokens\": [") : NULL;
    CHECK_MSG(at != NULL, "qwen2-tiny tokenizer.json has no \"added_tokens\": [");
    if (!at) return TEST_SUMMARY();
    at += strlen("\"added_tokens\": [");
    char tok_path[256], gguf_path[256];
    snprintf(tok_path, sizeof tok_path, "%s/tokenizer.json", dir);
    snprintf(gguf_path, sizeof gguf_path, "%s/m.gguf", dir);
    FILE *f = fopen(tok_path, "w");
    CHECK(f != NULL);
    if (!f) return TEST_SUMMARY();
    fwrite(json, 1, (size_t)(at - json), f);
    for (size_t i = 0; i < N_ADDED; i++)
        fprintf(f, "{\"id\": %zu, \"content\": \"%s\", \"single_word\": false, \"lstrip\": false, \"rstrip\": false, "
                   "\"normalized\": false, \"special\": false},", 483 + i, ADDED[i].content);
    fwrite(at, 1, len - (size_t)(at - json), f);
    fclose(f);
    free(json);

    whet_tokenizer *tok = NULL;
    whet_export_model em = {0};
    CHECK_OK(whet_tokenizer_load_json(tok_path, &tok, &err), &err);
    CHECK_OK(whet_export_load(WHET_FIXTURES "/models/qwen2-tiny", &em, &err), &err);
    whet_gguf_export_opts o = {.path = gguf_path, .ftype = WHET_GGUF_FT_F32, .name = "t", .tok = tok};
    CHECK_OK(whet_export_gguf(&em, &o, &err), &err);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(gguf_path, &g, &err), &err);
    const whet_gguf_kv *tt = g ? whet_gguf_find_kv(g, "tokenizer.ggml.token_type") : NULL;
    const whet_gguf_kv *ts = g ? whet_gguf_find_kv(g, "tokenizer.ggml.tokens") : NULL;
    CHECK(tt != NULL && ts != NULL);
    for (size_t i = 0; tt && ts && i < N_ADDED; i++) {
        uint64_t n = 0;
        const char *s = whet_gguf_arr_str(ts, 483 + i, &n);
        CHECK_MSG(s && n == strlen(ADDED[i].content) && !memcmp(s, ADDED[i].content, n), "token %zu is not %s", 483 + i,
                  ADDED[i].content);
        int32_t t = whet_gguf_arr_i32(tt, 483 + i);
        CHECK_MSG(t == ADDED[i].type, "%s: token_type %d, convert_hf_to_gguf writes %d", ADDED[i].content, t,
                  ADDED[i].type);
    }
    /* the special added tokens (480..482) stay CONTROL, the model vocab NORMAL */
    for (int i = 480; tt && i < 483; i++) CHECK_MSG(whet_gguf_arr_i32(tt, (uint64_t)i) == 3, "token %d not CONTROL", i);
    if (tt) CHECK(whet_gguf_arr_i32(tt, 100) == 1);
    /* whet's GGUF tokenizer still matches the retyped tokens in text, as the folder's does */
    whet_tokenizer *gt = NULL;
    CHECK_OK(whet_tokenizer_load_gguf(gguf_path, &gt, &err), &err);
    const char *text = "a<|fim_prefix|>b plain_added<pad>";
    whet_tokens a = {0}, b = {0};
    if (gt) {
        CHECK_OK(whet_tokenizer_encode(tok, text, strlen(text), true, &a, &err), &err);
        CHECK_OK(whet_tokenizer_encode(gt, text, strlen(text), true, &b, &err), &err);
        CHECK(a.n == b.n && a.n > 0 && !memcmp(a.ids, b.ids, a.n * sizeof *a.ids));
    }
    whet_tokens_free(&a), whet_tokens_free(&b);
    whet_tokenizer_free(gt);
    whet_gguf_close(g);
    whet_export_free(&em);
    whet_tokenizer_free(tok);
    unlink(gguf_path), unlink(tok_path), rmdir(dir);
    return TEST_SUMMARY();
}
