/* test_safetensors.c: the safetensors reader against a transformers-written
 * file (the tiny llama fixture), writer round trips, a sharded folder, and
 * every malformed-file case the reader must refuse with a clear message:
 * truncated file, header length beyond the file, bad JSON, unknown dtype,
 * offsets outside the data or overlapping, shape/offset disagreement. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "core/half.h"
#include "io/safetensors.h"
#include "test.h"

static char tmpdir[256];

static void tmp_path(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", tmpdir, name); }

/* Write a raw safetensors file: 8-byte length, `header`, then `data_len` bytes of data. */
static void write_raw(const char *path, const char *header, uint64_t declared_len, size_t data_len) {
    FILE *f = fopen(path, "wb");
    uint8_t l[8];
    for (int i = 0; i < 8; i++) l[i] = (uint8_t)(declared_len >> (8 * i));
    fwrite(l, 1, 8, f);
    fwrite(header, 1, strlen(header), f);
    for (size_t i = 0; i < data_len; i++) fputc((int)(i & 0xff), f);
    fclose(f);
}

/* Open a malformed file: must fail with `code` and a message containing `needle`. */
static void expect_fail(const char *name, const char *header, int64_t len_delta, size_t data_len, whet_status code,
                        const char *needle) {
    char path[512];
    tmp_path(path, sizeof path, name);
    write_raw(path, header, (uint64_t)((int64_t)strlen(header) + len_delta), data_len);
    whet_error err = {0};
    whet_safetensors *st = (whet_safetensors *)1;
    whet_status s = whet_safetensors_open(path, &st, &err);
    CHECK_MSG(s == code, "%s: status %d, want %d (%s)", name, s, code, err.msg);
    CHECK(st == NULL);
    CHECK_MSG(strstr(err.msg, needle) != NULL, "%s: message \"%s\" lacks \"%s\"", name, err.msg, needle);
    CHECK_MSG(strstr(err.msg, name) != NULL, "%s: message \"%s\" does not name the file", name, err.msg);
    printf("  %-22s -> %s\n", name, err.msg);
}

static void test_malformed(void) {
    const char *good = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    char path[512];
    tmp_path(path, sizeof path, "tiny.safetensors");
    FILE *f = fopen(path, "wb");
    fwrite("\x01\x02\x03", 1, 3, f);
    fclose(f);
    whet_error err = {0};
    whet_safetensors *st = NULL;
    CHECK_EQ_INT(whet_safetensors_open(path, &st, &err), WHET_ERR_FORMAT);
    CHECK(strstr(err.msg, "too short") != NULL);
    expect_fail("hlen_beyond.safetensors", good, 1000, 8, WHET_ERR_FORMAT, "beyond");
    expect_fail("bad_json.safetensors", "{\"a\":{\"dtype\":\"F32\",", 0, 8, WHET_ERR_FORMAT, "malformed JSON");
    expect_fail("not_object.safetensors", "[1,2]", 0, 8, WHET_ERR_FORMAT, "not a JSON object");
    expect_fail("bad_dtype.safetensors", "{\"a\":{\"dtype\":\"F8_E9\",\"shape\":[2],\"data_offsets\":[0,2]}}", 0, 8,
                WHET_ERR_UNSUPPORTED, "unknown dtype \"F8_E9\"");
    expect_fail("out_of_file.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 0, 8,
                WHET_ERR_FORMAT, "outside");
    expect_fail("truncated_data.safetensors", good, 0, 5, WHET_ERR_FORMAT, "truncated");
    expect_fail("overlap.safetensors",
                "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                0, 16, WHET_ERR_FORMAT, "overlapping");
    expect_fail("shape_mismatch.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 0, 16,
                WHET_ERR_SHAPE, "needs 12 bytes");
    expect_fail("neg_shape.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 0, 8,
                WHET_ERR_FORMAT, "shape[0]");
    expect_fail("bad_offsets.safetensors", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 0, 8,
                WHET_ERR_FORMAT, "data_offsets");
    expect_fail("no_dtype.safetensors", "{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 0, 8, WHET_ERR_FORMAT,
                "dtype");
    /* a well-formed one of the same shape opens */
    tmp_path(path, sizeof path, "good.safetensors");
    write_raw(path, good, strlen(good), 8);
    CHECK_OK(whet_safetensors_open(path, &st, &err), &err);
    if (st) {
        CHECK_EQ_INT(whet_safetensors_count(st), 1);
        whet_safetensors_close(st);
    }
    tmp_path(path, sizeof path, "missing.safetensors");
    CHECK_EQ_INT(whet_safetensors_open(path, &st, &err), WHET_ERR_NOT_FOUND);
}

/* A file transformers wrote: names, shapes, and the embedding values survive. */
static void test_hf_file(void) {
    whet_error err = {0};
    whet_safetensors *st = NULL;
    CHECK_OK(whet_safetensors_open_dir(WHET_FIXTURES "/models/llama-tiny", &st, &err), &err);
    if (!st) return;
    CHECK_EQ_INT(whet_safetensors_count(st), 21);
    const whet_st_tensor *e = whet_safetensors_find(st, "model.embed_tokens.weight");
    CHECK(e && e->dtype == WHET_DT_F32 && e->ndim == 2 && e->shape[0] == 512 && e->shape[1] == 64);
    CHECK(whet_safetensors_find(st, "model.layers.0.self_attn.k_proj.weight") != NULL);
    CHECK(whet_safetensors_find(st, "lm_head.weight") != NULL);
    CHECK(whet_safetensors_find(st, "no.such.tensor") == NULL);
    const cJSON *meta = whet_safetensors_metadata(st);
    CHECK(meta && cJSON_IsString(cJSON_GetObjectItem(meta, "format")));
    float *buf = malloc(512 * 64 * sizeof(float));
    int64_t shape[2] = {512, 64}, wrong[2] = {64, 512};
    CHECK_OK(whet_safetensors_read_f32(st, "model.embed_tokens.weight", 2, shape, buf, &err), &err);
    CHECK(memcmp(buf, e->data, e->nbytes) == 0);
    CHECK_EQ_INT(whet_safetensors_read_f32(st, "model.embed_tokens.weight", 2, wrong, buf, &err), WHET_ERR_SHAPE);
    CHECK(strstr(err.msg, "[512, 64]") && strstr(err.msg, "[64, 512]"));
    CHECK_EQ_INT(whet_safetensors_read_f32(st, "nope", 2, shape, buf, &err), WHET_ERR_NOT_FOUND);
    free(buf);
    whet_safetensors_close(st);
}

/* Writer -> reader round trip, bf16/f16 conversion, sorted 8-byte aligned layout. */
static void test_roundtrip(void) {
    whet_error err = {0};
    whet_st_writer *w = NULL;
    CHECK_OK(whet_st_writer_create(&w, &err), &err);
    float a[6] = {1, -2, 3.5f, 0, 1e-3f, -7};
    uint16_t h[3], b[3];
    float hv[3] = {0.5f, -1.25f, 65504.0f};
    for (int i = 0; i < 3; i++) { h[i] = whet_f32_to_fp16(hv[i]); b[i] = whet_f32_to_bf16(hv[i]); }
    int64_t s23[2] = {2, 3}, s3[1] = {3};
    int64_t ids[2] = {42, -1};
    int64_t s2[1] = {2};
    CHECK_OK(whet_st_writer_add(w, "z.weight", WHET_DT_F32, 2, s23, a, &err), &err);
    CHECK_OK(whet_st_writer_add(w, "h", WHET_DT_F16, 1, s3, h, &err), &err);
    CHECK_OK(whet_st_writer_add(w, "b", WHET_DT_BF16, 1, s3, b, &err), &err);
    CHECK_OK(whet_st_writer_add(w, "ids", WHET_DT_I64, 1, s2, ids, &err), &err);
    CHECK_EQ_INT(whet_st_writer_add(w, "h", WHET_DT_F16, 1, s3, h, &err), WHET_ERR_INVALID_ARG);
    CHECK_OK(whet_st_writer_set_metadata(w, "format", "pt", &err), &err);
    CHECK_EQ_INT(whet_st_writer_data_bytes(w), 24 + 6 + 6 + 16);
    char path[512];
    tmp_path(path, sizeof path, "rt.safetensors");
    CHECK_OK(whet_st_writer_write(w, path, &err), &err);
    whet_st_writer_free(w);
    whet_mmap m;
    CHECK_OK(whet_mmap_open(path, &m, &err), &err);
    uint64_t hlen = 0;
    memcpy(&hlen, m.data, 8);
    CHECK_EQ_INT(hlen % 8, 0);
    whet_mmap_close(&m);
    whet_safetensors *st = NULL;
    CHECK_OK(whet_safetensors_open(path, &st, &err), &err);
    if (!st) return;
    CHECK_EQ_INT(whet_safetensors_count(st), 4);
    CHECK_STR_EQ(whet_safetensors_at(st, 0)->name, "b"); /* data laid out in sorted-name order */
    float out[6];
    CHECK_OK(whet_safetensors_read_f32(st, "z.weight", 2, s23, out, &err), &err);
    CHECK(memcmp(out, a, sizeof a) == 0);
    CHECK_OK(whet_safetensors_read_f32(st, "h", 1, s3, out, &err), &err);
    CHECK(out[0] == 0.5f && out[1] == -1.25f && out[2] == 65504.0f);
    CHECK_OK(whet_safetensors_read_f32(st, "b", 1, s3, out, &err), &err);
    CHECK(out[0] == 0.5f && out[1] == -1.25f && out[2] == 65536.0f); /* 65504 rounds to 2^16 in bf16 */
    const whet_st_tensor *t = whet_safetensors_find(st, "ids");
    int64_t got[2];
    memcpy(got, t->data, 16);
    CHECK(t->dtype == WHET_DT_I64 && got[0] == 42 && got[1] == -1);
    CHECK_EQ_INT(whet_st_tensor_to_f32(t, out, &err), WHET_ERR_UNSUPPORTED);
    const cJSON *meta = whet_safetensors_metadata(st);
    CHECK(meta && !strcmp(cJSON_GetObjectItem(meta, "format")->valuestring, "pt"));
    whet_safetensors_close(st);
}

static void write_index(const char *dir, const char *body) {
    char p[512];
    snprintf(p, sizeof p, "%s/model.safetensors.index.json", dir);
    FILE *f = fopen(p, "w");
    fputs(body, f);
    fclose(f);
}

/* Two shards + index: all tensors found; an index that lies is refused. */
static void test_sharded(void) {
    whet_error err = {0};
    char dir[512], p[600];
    tmp_path(dir, sizeof dir, "sharded");
    CHECK_OK(whet_mkdirs(dir, &err), &err);
    float x[4] = {1, 2, 3, 4}, y[2] = {5, 6};
    int64_t s4[1] = {4}, s2[1] = {2};
    const char *names[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    for (int k = 0; k < 2; k++) {
        whet_st_writer *w = NULL;
        whet_st_writer_create(&w, &err);
        if (k == 0) whet_st_writer_add(w, "x", WHET_DT_F32, 1, s4, x, &err);
        else whet_st_writer_add(w, "y", WHET_DT_F32, 1, s2, y, &err);
        snprintf(p, sizeof p, "%s/%s", dir, names[k]);
        CHECK_OK(whet_st_writer_write(w, p, &err), &err);
        whet_st_writer_free(w);
    }
    write_index(dir, "{\"metadata\":{\"total_size\":24},\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\","
                     "\"y\":\"model-00002-of-00002.safetensors\"}}");
    whet_safetensors *st = NULL;
    CHECK_OK(whet_safetensors_open_dir(dir, &st, &err), &err);
    if (st) {
        CHECK_EQ_INT(whet_safetensors_count(st), 2);
        float out[4];
        CHECK_OK(whet_safetensors_read_f32(st, "y", 1, s2, out, &err), &err);
        CHECK(out[0] == 5 && out[1] == 6);
        CHECK_OK(whet_safetensors_read_f32(st, "x", 1, s4, out, &err), &err);
        CHECK(out[3] == 4);
        whet_safetensors_close(st);
    }
    write_index(dir, "{\"weight_map\":{\"x\":\"model-00002-of-00002.safetensors\","
                     "\"y\":\"model-00002-of-00002.safetensors\"}}");
    CHECK_EQ_INT(whet_safetensors_open_dir(dir, &st, &err), WHET_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "\"x\"") != NULL, "%s", err.msg);
    write_index(dir, "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"../evil.safetensors\"}}");
    CHECK_EQ_INT(whet_safetensors_open_dir(dir, &st, &err), WHET_ERR_FORMAT);
    write_index(dir, "{\"weight_map\":{\"x\":\"model-00001-of-00002.safetensors\",\"y\":\"gone.safetensors\"}}");
    CHECK_EQ_INT(whet_safetensors_open_dir(dir, &st, &err), WHET_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.msg, "gone.safetensors") != NULL, "%s", err.msg);
    CHECK_EQ_INT(whet_safetensors_open_dir(tmpdir, &st, &err), WHET_ERR_NOT_FOUND);
    CHECK(strstr(err.msg, "model.safetensors") != NULL);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_st_XXXXXX");
    if (!mkdtemp(tmpdir)) TEST_SKIP("cannot create a temp dir");
    test_malformed();
    test_hf_file();
    test_roundtrip();
    test_sharded();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
