/* test_gguf.c: GGUF v3 reader and writer (io/gguf.h).
 * - write every metadata type and tensors of several dtypes, read them back:
 *   values, types, shapes, sequential 32-aligned offsets, bytes, file size;
 * - llama.cpp-written files parse: the vocab-only GGUF of Llama-2's
 *   tokenizer that llama.cpp ships (tests/fixtures/export, from
 *   shared/testdata/tokenizer-llamacpp), with the values llama.cpp's own
 *   tokenizer test relies on (32000 pieces, <unk>/<s>/</s>, types, scores),
 *   and every other vocab GGUF in shared/ when it is present;
 * - malformed files (each a byte-level edit of a good file) give a clear
 *   error naming the problem, never a crash. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include "core/file.h"
#include "io/gguf.h"
#include "test.h"

static char tmpdir[256];

static void path_in_tmp(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

static whet_status write_sample(const char *path, whet_error *err) {
    whet_gguf_writer *w;
    WHET_TRY(whet_gguf_writer_create(&w, err));
    static float f32[2 * 3] = {1, 2, 3, 4, 5, -6};
    static uint16_t f16[32];
    static uint8_t q8[2 * 34];
    for (int i = 0; i < 32; i++) f16[i] = (uint16_t)(0x3C00 + i);
    for (int i = 0; i < 68; i++) q8[i] = (uint8_t)i;
    const char *toks[3] = {"<s>", "hello world", ""};
    const int32_t types[3] = {3, 1, -5};
    const float scores[3] = {0.5f, -1.25f, 1e30f};
    const int64_t ne_a[2] = {3, 2}, ne_b[1] = {32}, ne_c[2] = {32, 2};
    whet_status s = WHET_OK;
    if (!s) s = whet_gguf_set_str(w, "general.architecture", "llama", err);
    if (!s) s = whet_gguf_set_u32(w, "llama.block_count", 7, err);
    if (!s) s = whet_gguf_set_i32(w, "test.i32", -42, err);
    if (!s) s = whet_gguf_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f, err);
    if (!s) s = whet_gguf_set_bool(w, "tokenizer.ggml.add_bos_token", true, err);
    if (!s) s = whet_gguf_set_arr_str(w, "tokenizer.ggml.tokens", toks, 3, err);
    if (!s) s = whet_gguf_set_arr_i32(w, "tokenizer.ggml.token_type", types, 3, err);
    if (!s) s = whet_gguf_set_arr_f32(w, "tokenizer.ggml.scores", scores, 3, err);
    if (!s) s = whet_gguf_add_tensor(w, "a.weight", WHET_DT_F32, 2, ne_a, f32, false, err);
    if (!s) s = whet_gguf_add_tensor(w, "b", WHET_DT_F16, 1, ne_b, f16, false, err);
    if (!s) s = whet_gguf_add_tensor(w, "blk.0.attn_q.weight", WHET_DT_Q8_0, 2, ne_c, q8, false, err);
    if (!s) s = whet_gguf_writer_write(w, path, err);
    whet_gguf_writer_free(w);
    return s;
}

static void test_roundtrip(void) {
    whet_error err = {0};
    char path[512];
    path_in_tmp(path, sizeof path, "sample.gguf");
    CHECK_OK(write_sample(path, &err), &err);
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(path, &g, &err), &err);
    if (!g) return;
    CHECK_EQ_INT(whet_gguf_version(g), 3);
    CHECK_EQ_INT(whet_gguf_alignment(g), 32);
    CHECK_EQ_INT(whet_gguf_n_kv(g), 8);
    CHECK_STR_EQ(whet_gguf_kv_at(g, 0)->key, "general.architecture");
    char buf[64];
    uint32_t u;
    float f;
    bool b;
    CHECK_OK(whet_gguf_get_str(g, "general.architecture", buf, sizeof buf, &err), &err);
    CHECK_STR_EQ(buf, "llama");
    CHECK_OK(whet_gguf_get_u32(g, "llama.block_count", &u, &err), &err);
    CHECK_EQ_INT(u, 7);
    CHECK_EQ_INT(whet_gguf_find_kv(g, "test.i32")->i, -42);
    CHECK_OK(whet_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &err), &err);
    CHECK(f == 1e-5f);
    CHECK_OK(whet_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &b, &err), &err);
    CHECK(b);
    /* type mismatch is an error like llama.cpp's "key has wrong type" */
    CHECK(whet_gguf_get_u32(g, "test.i32", &u, &err) == WHET_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "has type INT32, expected UINT32") != NULL, "%s", err.msg);
    CHECK(whet_gguf_get_u32(g, "nope", &u, &err) == WHET_ERR_NOT_FOUND);
    const whet_gguf_kv *toks = whet_gguf_find_kv(g, "tokenizer.ggml.tokens");
    CHECK(toks && toks->type == WHET_GGUF_ARRAY && toks->arr_type == WHET_GGUF_STRING && toks->arr_n == 3);
    uint64_t len;
    const char *t1 = whet_gguf_arr_str(toks, 1, &len);
    CHECK(len == 11 && !memcmp(t1, "hello world", 11));
    whet_gguf_arr_str(toks, 2, &len);
    CHECK_EQ_INT(len, 0);
    const whet_gguf_kv *ty = whet_gguf_find_kv(g, "tokenizer.ggml.token_type");
    CHECK(ty->arr_type == WHET_GGUF_INT32 && whet_gguf_arr_i32(ty, 2) == -5);
    const whet_gguf_kv *sc = whet_gguf_find_kv(g, "tokenizer.ggml.scores");
    CHECK(sc->arr_type == WHET_GGUF_FLOAT32 && whet_gguf_arr_f32(sc, 1) == -1.25f && whet_gguf_arr_f32(sc, 2) == 1e30f);

    CHECK_EQ_INT(whet_gguf_n_tensors(g), 3);
    const whet_gguf_tensor *a = whet_gguf_find_tensor(g, "a.weight"), *bt = whet_gguf_find_tensor(g, "b"),
                           *c = whet_gguf_find_tensor(g, "blk.0.attn_q.weight");
    CHECK(a && bt && c);
    if (a && bt && c) {
        CHECK(a->n_dims == 2 && a->ne[0] == 3 && a->ne[1] == 2 && a->ggml_type == 0 && a->dtype == WHET_DT_F32);
        CHECK(((const float *)a->data)[5] == -6.0f);
        /* offsets: 0, pad(24) = 32, 32 + pad(64) = 96 */
        CHECK_EQ_INT(a->offset, 0);
        CHECK_EQ_INT(bt->offset, 32);
        CHECK_EQ_INT(c->offset, 96);
        CHECK(bt->ggml_type == 1 && bt->nbytes == 64 && ((const uint16_t *)bt->data)[31] == 0x3C00 + 31);
        CHECK(c->ggml_type == 8 && c->dtype == WHET_DT_Q8_0 && c->nbytes == 68 && ((const uint8_t *)c->data)[67] == 67);
        CHECK_EQ_INT(whet_gguf_tensor_numel(c), 64);
        /* the data section is 32-aligned from the file start and the file end is padded */
        whet_mmap m;
        CHECK_OK(whet_mmap_open(path, &m, &err), &err);
        /* data = 3 tensors padded to 32, 32, 96 bytes at the end of the file */
        CHECK_EQ_INT(m.size % 32, 0);
        const size_t data_start = m.size - 96 - 96;
        CHECK(!memcmp((const uint8_t *)m.data + data_start, a->data, 24));
        CHECK(!memcmp((const uint8_t *)m.data + data_start + 96, c->data, 68));
        CHECK(((const uint8_t *)m.data)[m.size - 1] == 0);
        whet_mmap_close(&m);
    }
    whet_gguf_close(g);
}

static void test_writer_errors(void) {
    whet_error err = {0};
    whet_gguf_writer *w;
    CHECK_OK(whet_gguf_writer_create(&w, &err), &err);
    float x[64] = {0};
    const int64_t ne[2] = {64, 1}, bad[2] = {48, 1};
    CHECK_OK(whet_gguf_set_u32(w, "k", 1, &err), &err);
    CHECK(whet_gguf_set_u32(w, "k", 2, &err) == WHET_ERR_INVALID_ARG);
    CHECK_OK(whet_gguf_add_tensor(w, "t", WHET_DT_F32, 2, ne, x, false, &err), &err);
    CHECK(whet_gguf_add_tensor(w, "t", WHET_DT_F32, 2, ne, x, false, &err) == WHET_ERR_INVALID_ARG);
    CHECK(whet_gguf_add_tensor(w, "q", WHET_DT_Q4_K, 2, ne, x, false, &err) == WHET_ERR_SHAPE);
    CHECK(whet_gguf_add_tensor(w, "q", WHET_DT_Q8_0, 2, bad, x, false, &err) == WHET_ERR_SHAPE);
    CHECK(whet_gguf_add_tensor(w, "blk.0.this_name_is_far_too_long_for_ggml_which_allows_63_bytes.weight",
                               WHET_DT_F32, 2, ne, x, false, &err) == WHET_ERR_INVALID_ARG);
    CHECK(whet_gguf_add_tensor(w, "n", WHET_DT_NF4, 2, ne, x, false, &err) == WHET_ERR_UNSUPPORTED);
    whet_gguf_writer_free(w);
}

/* Write `bytes` to a file and expect whet_gguf_open to fail with `needle` in the message. */
static void expect_bad(const char *what, const uint8_t *bytes, size_t n, const char *needle) {
    char path[512];
    path_in_tmp(path, sizeof path, "bad.gguf");
    FILE *fp = fopen(path, "wb");
    fwrite(bytes, 1, n, fp);
    fclose(fp);
    whet_error err = {0};
    whet_gguf *g = NULL;
    whet_status s = whet_gguf_open(path, &g, &err);
    CHECK_MSG(s == WHET_ERR_FORMAT && !g, "%s: status %d", what, s);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", what, err.msg, needle);
    whet_gguf_close(g);
}

static uint8_t *find(uint8_t *hay, size_t n, const char *needle) {
    size_t m = strlen(needle);
    for (size_t i = 0; i + m <= n; i++)
        if (!memcmp(hay + i, needle, m)) return hay + i;
    return NULL;
}

static void put_u64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static void test_malformed(void) {
    whet_error err = {0};
    char path[512];
    path_in_tmp(path, sizeof path, "sample.gguf");
    uint8_t *good;
    size_t n;
    CHECK_OK(whet_read_file(path, (char **)&good, &n, &err), &err);
    if (!good) return;
    uint8_t *b = malloc(n);
    /* header field offsets: magic 0, version 4, n_tensors 8, n_kv 16, first key length 24 */
    expect_bad("empty", good, 0, "empty file");
    expect_bad("short", good, 20, "smaller than a GGUF header");
    memcpy(b, good, n); b[0] = 'X';
    expect_bad("magic", b, n, "magic is not");
    memcpy(b, good, n); b[4] = 1;
    expect_bad("v1", b, n, "GGUF v1 is not supported");
    memcpy(b, good, n); b[4] = 4;
    expect_bad("v4", b, n, "unknown GGUF version");
    memcpy(b, good, n); put_u64(b + 16, 1ull << 40);
    expect_bad("n_kv", b, n, "metadata count");
    memcpy(b, good, n); put_u64(b + 8, 1ull << 40);
    expect_bad("n_tensors", b, n, "tensor count");
    memcpy(b, good, n); put_u64(b + 24, 1ull << 50);
    expect_bad("key length", b, n, "runs past the end");
    /* "general.architecture" (20 bytes) at 32; its type at 52: make it a bogus type */
    memcpy(b, good, n); b[52] = 99;
    expect_bad("value type", b, n, "invalid value type");
    /* its string value length at 56 */
    memcpy(b, good, n); put_u64(b + 56, n);
    expect_bad("string length", b, n, "runs past the end");
    /* rename "llama.block_count" (UINT32 7) to the same-length "general.alignment": 7 is no power of two */
    memcpy(b, good, n);
    uint8_t *k2 = find(b, n, "llama.block_count");
    if (k2) {
        memcpy(k2, "general.alignment", 17);
        expect_bad("alignment", b, n, "must be a power of two");
    }
    /* rename "tokenizer.ggml.scores" to the same-length "tokenizer.ggml.tokens": a duplicate key */
    memcpy(b, good, n);
    uint8_t *k3 = find(b, n, "tokenizer.ggml.scores");
    if (k3) {
        memcpy(k3, "tokenizer.ggml.tokens", 21);
        expect_bad("duplicate", b, n, "duplicate metadata key");
    }
    memcpy(b, good, n);
    uint8_t *tn = find(b, n, "blk.0.attn_q.weight");
    if (tn) {
        /* tensor offset field: after name, n_dims (4), ne (2*8), type (4) */
        uint8_t *off = tn + 19 + 4 + 16 + 4;
        put_u64(off, 64);
        expect_bad("offset", b, n, "expected 96");
        memcpy(b, good, n);
        tn = find(b, n, "blk.0.attn_q.weight");
        tn[19] = 9; /* n_dims */
        expect_bad("n_dims", b, n, "n_dims must be 1..4");
        memcpy(b, good, n);
        tn = find(b, n, "blk.0.attn_q.weight");
        tn[19 + 4 + 16] = 99; /* type */
        expect_bad("type", b, n, "ggml type 99");
        memcpy(b, good, n);
        tn = find(b, n, "blk.0.attn_q.weight");
        put_u64(tn + 19 + 4, 48); /* ne0 = 48, not a multiple of 32 */
        expect_bad("block", b, n, "multiple of the type's block size");
    }
    /* a truncated data section */
    expect_bad("truncated data", good, n - 40, "data");
    free(b);
    free(good);
}

static void check_vocab_file(const char *path, bool detailed) {
    whet_error err = {0};
    whet_gguf *g = NULL;
    CHECK_OK(whet_gguf_open(path, &g, &err), &err);
    if (!g) return;
    char model[32];
    CHECK_OK(whet_gguf_get_str(g, "tokenizer.ggml.model", model, sizeof model, &err), &err);
    const whet_gguf_kv *toks = whet_gguf_find_kv(g, "tokenizer.ggml.tokens");
    CHECK_MSG(toks && toks->arr_type == WHET_GGUF_STRING && toks->arr_n > 1000, "%s: tokens", path);
    const whet_gguf_kv *ty = whet_gguf_find_kv(g, "tokenizer.ggml.token_type");
    CHECK_MSG(ty && ty->arr_type == WHET_GGUF_INT32 && toks && ty->arr_n == toks->arr_n, "%s: token_type", path);
    if (detailed && toks && ty) {
        CHECK_STR_EQ(model, "llama");
        CHECK_EQ_INT(toks->arr_n, 32000);
        uint64_t len;
        const char *s0 = whet_gguf_arr_str(toks, 0, &len);
        CHECK(len == 5 && !memcmp(s0, "<unk>", 5));
        const char *s1 = whet_gguf_arr_str(toks, 1, &len);
        CHECK(len == 3 && !memcmp(s1, "<s>", 3));
        const char *s2 = whet_gguf_arr_str(toks, 2, &len);
        CHECK(len == 4 && !memcmp(s2, "</s>", 4));
        CHECK_EQ_INT(whet_gguf_arr_i32(ty, 0), 2);  /* UNKNOWN */
        CHECK_EQ_INT(whet_gguf_arr_i32(ty, 1), 3);  /* CONTROL */
        CHECK_EQ_INT(whet_gguf_arr_i32(ty, 3), 6);  /* BYTE <0x00> */
        const whet_gguf_kv *sc = whet_gguf_find_kv(g, "tokenizer.ggml.scores");
        CHECK(sc && sc->arr_type == WHET_GGUF_FLOAT32 && sc->arr_n == 32000);
        uint32_t bos;
        CHECK_OK(whet_gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &bos, &err), &err);
        CHECK_EQ_INT(bos, 1);
        CHECK_EQ_INT(whet_gguf_n_tensors(g), 0);
    }
    whet_gguf_close(g);
}

static void test_llamacpp_files(void) {
    char path[4096];
    snprintf(path, sizeof path, "%s/export/ggml-vocab-llama-spm.gguf", WHET_FIXTURES);
    check_vocab_file(path, true);
    const char *dirs[2] = {WHET_SOURCE_DIR "/../shared/testdata/tokenizer-llamacpp",
                           WHET_SOURCE_DIR "/../shared/testdata/tokenizer-llamacpp/reconstructed"};
    int n = 0;
    for (int d = 0; d < 2; d++) {
        DIR *dir = opendir(dirs[d]);
        if (!dir) continue;
        struct dirent *e;
        while ((e = readdir(dir))) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 5, ".gguf")) continue;
            snprintf(path, sizeof path, "%s/%s", dirs[d], e->d_name);
            check_vocab_file(path, false);
            n++;
        }
        closedir(dir);
    }
    printf("parsed %d more llama.cpp vocab GGUFs from shared/\n", n);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_gguf_%d", (int)getpid());
    mkdir(tmpdir, 0700);
    test_roundtrip();
    test_writer_errors();
    test_malformed();
    test_llamacpp_files();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
