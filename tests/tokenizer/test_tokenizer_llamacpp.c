/* test_tokenizer_llamacpp.c: llama.cpp's tokenizer vectors (models/ggml-vocab-*.gguf
 * with .inp/.out, the ids HF transformers gives): the vocabulary is loaded
 * from the GGUF file and every .inp case must give the .out ids, with
 * add_special and parse_special off as llama.cpp's test-tokenizer-0 runs.
 * llama-spm is in the fixtures (GGUF in tests/fixtures/export, .inp/.out in
 * tests/fixtures/tokenizer/llamacpp); the other vocabularies (up to 8 MB each)
 * travel in tests/fixtures/real-tokenizers.tar.xz, which CMake unpacks. */
#include <stdlib.h>
#include <string.h>
#include "core/file.h"
#include "test.h"
#include "tokenizer/tokenizer.h"

static const char SEP[] = "\n__ggml_vocab_test__\n";

/* One .out line -> ids. */
static size_t parse_ids(const char *line, size_t len, int32_t *ids, size_t cap) {
    size_t n = 0;
    char *end;
    const char *p = line, *stop = line + len;
    while (p < stop && n < cap) {
        while (p < stop && *p == ' ') p++;
        if (p >= stop) break;
        ids[n++] = (int32_t)strtol(p, &end, 10);
        p = end;
    }
    return n;
}

static void run_vocab(const char *name, const char *gguf, const char *inp_path, const char *out_path, int *total, int *pass) {
    whet_error err = {0};
    whet_tokenizer *t = NULL;
    CHECK_OK(whet_tokenizer_load_gguf(gguf, &t, &err), &err);
    char *inp = NULL, *outs = NULL;
    size_t inp_len, out_len;
    CHECK_OK(whet_read_file(inp_path, &inp, &inp_len, &err), &err);
    CHECK_OK(whet_read_file(out_path, &outs, &out_len, &err), &err);
    if (!t || !inp || !outs) goto done;
    int cases = 0, ok = 0;
    const char *p = inp, *line = outs;
    int32_t want[4096];
    while ((size_t)(p - inp) < inp_len) {
        const char *next = strstr(p, SEP);
        if (!next) break;
        const char *eol = strchr(line, '\n');
        size_t ll = eol ? (size_t)(eol - line) : strlen(line);
        size_t nw = parse_ids(line, ll, want, 4096);
        whet_tokens got = {0};
        bool enc = whet_tokenizer_encode_opts(t, p, (size_t)(next - p), false, false, &got, &err) == WHET_OK;
        bool same = enc && got.n == nw && (nw == 0 || memcmp(got.ids, want, nw * sizeof *want) == 0);
        CHECK_MSG(same, "%s case %d \"%.*s\": %s", name, cases, (int)((next - p) > 40 ? 40 : (next - p)), p,
                  enc ? "ids differ" : err.msg);
        if (!same && enc) {
            fprintf(stderr, "  got :");
            for (size_t i = 0; i < got.n && i < 30; i++) fprintf(stderr, " %d", got.ids[i]);
            fprintf(stderr, "\n  want: %.*s\n", (int)(ll > 200 ? 200 : ll), line);
        }
        ok += same;
        cases++;
        whet_tokens_free(&got);
        p = next + sizeof SEP - 1;
        line = eol ? eol + 1 : line + ll;
    }
    printf("%-16s %d/%d llama.cpp vectors match\n", name, ok, cases);
    *total += cases;
    *pass += ok;
done:
    free(inp);
    free(outs);
    whet_tokenizer_free(t);
}

int main(void) {
    static const char *names[] = {"llama-spm", "phi-3", "deepseek-llm", "deepseek-coder", "gpt-2", "falcon", "mpt",
                                  "starcoder", "llama-bpe", "qwen2", "deepseek-r1-qwen"};
    int total = 0, pass = 0, ran = 0;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char dir[1024], gguf[1200], inp[1200], out[1200];
        bool reconstructed = strcmp(names[i], "llama-bpe") == 0 || strcmp(names[i], "qwen2") == 0;
        snprintf(dir, sizeof dir, "%s%s", WHET_REAL_FIXTURES "/llamacpp", reconstructed ? "/reconstructed" : "");
        snprintf(gguf, sizeof gguf, "%s/ggml-vocab-%s.gguf", dir, names[i]);
        if (strcmp(names[i], "llama-spm") == 0) {
            snprintf(gguf, sizeof gguf, "%s", WHET_FIXTURES "/export/ggml-vocab-llama-spm.gguf");
            snprintf(dir, sizeof dir, "%s", WHET_FIXTURES "/tokenizer/llamacpp");
        }
        if (strcmp(names[i], "deepseek-r1-qwen") == 0) /* no GGUF upstream: its vocab and pre-tokenizer are Qwen2's */
            snprintf(gguf, sizeof gguf, "%s", WHET_REAL_FIXTURES "/llamacpp/reconstructed/ggml-vocab-qwen2.gguf");
        snprintf(inp, sizeof inp, "%s/ggml-vocab-%s.gguf.inp", dir, names[i]);
        snprintf(out, sizeof out, "%s/ggml-vocab-%s.gguf.out", dir, names[i]);
        if (!whet_file_exists(gguf) || !whet_file_exists(inp) || !whet_file_exists(out)) {
            CHECK_MSG(false, "%s or its .inp/.out missing (unpacked from tests/fixtures/real-tokenizers.tar.xz)", gguf);
            continue;
        }
        run_vocab(names[i], gguf, inp, out, &total, &pass);
        ran++;
    }
    printf("total: %d/%d over %d vocabularies\n", pass, total, ran);
    CHECK(ran == (int)(sizeof names / sizeof names[0]));
    return TEST_SUMMARY();
}
