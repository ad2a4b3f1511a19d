/* test_core.c: status, arena, threadpool, json, yaml, atomic file, rng, half, suggest. */
#include <stdlib.h>
#include <unistd.h>
#include "core/arena.h"
#include "core/atomic_file.h"
#include "core/file.h"
#include "core/half.h"
#include "core/json.h"
#include "core/rng.h"
#include "core/strbuf.h"
#include "core/suggest.h"
#include "core/threadpool.h"
#include "core/yaml.h"
#include "test.h"

static void sum_range(void *ctx, size_t b, size_t e, int worker) {
    (void)worker;
    long *acc = ctx;
    long s = 0;
    for (size_t i = b; i < e; i++) s += (long)i;
    __atomic_add_fetch(acc, s, __ATOMIC_RELAXED);
}

static void test_threadpool(void) {
    whet_error err = {0};
    whet_threadpool *pool = NULL;
    CHECK_OK(whet_threadpool_create(3, &pool, &err), &err);
    for (int rep = 0; rep < 50; rep++) {
        long acc = 0;
        whet_parallel_for(pool, 10001, sum_range, &acc);
        CHECK_EQ_INT(acc, 10000L * 10001 / 2);
    }
    long acc = 0;
    whet_parallel_for(NULL, 100, sum_range, &acc);
    CHECK_EQ_INT(acc, 4950);
    whet_threadpool_destroy(pool);
}

static void test_arena(void) {
    whet_arena a;
    whet_arena_init(&a, 1024);
    char *p = whet_arena_alloc(&a, 10), *q = whet_arena_alloc(&a, 5000);
    CHECK(p && q && ((uintptr_t)p % 64) == 0 && ((uintptr_t)q % 64) == 0);
    memset(q, 1, 5000);
    CHECK_STR_EQ(whet_arena_strdup(&a, "hello"), "hello");
    whet_arena_reset(&a);
    CHECK_EQ_INT(a.used_total, 0);
    CHECK(a.high_water >= 5010);
    whet_arena_free(&a);
}

static void test_json(void) {
    whet_error err = {0};
    cJSON *j = NULL;
    const char *good = "{\"a\": 3, \"b\": 2.5, \"s\": \"x\", \"t\": true}";
    CHECK_OK(whet_json_parse(good, strlen(good), "good.json", &j, &err), &err);
    int64_t a = 0; double b = 0; const char *s = NULL; bool t = false;
    CHECK_OK(whet_json_get_int(j, "a", "good.json", &a, &err), &err);
    CHECK_OK(whet_json_get_double(j, "b", "good.json", &b, &err), &err);
    CHECK_OK(whet_json_get_string(j, "s", "good.json", &s, &err), &err);
    CHECK_OK(whet_json_get_bool(j, "t", "good.json", &t, &err), &err);
    CHECK(a == 3 && b == 2.5 && t && s && !strcmp(s, "x"));
    CHECK_EQ_INT(whet_json_get_int(j, "b", "good.json", &a, &err), WHET_ERR_FORMAT);
    CHECK(strstr(err.msg, "\"b\"") != NULL);
    CHECK_EQ_INT(whet_json_get_int(j, "zz", "good.json", &a, &err), WHET_ERR_NOT_FOUND);
    CHECK_OK(whet_json_int_or(j, "zz", "good.json", 7, &a, &err), &err);
    CHECK_EQ_INT(a, 7);
    cJSON_Delete(j);
    const char *bad = "{\n  \"a\": 1\n  \"b\": 2\n}";
    CHECK_EQ_INT(whet_json_parse(bad, strlen(bad), "bad.json", &j, &err), WHET_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "bad.json:3:") != NULL, "%s", err.msg);
    const char *trailing = "{} x";
    CHECK_EQ_INT(whet_json_parse(trailing, strlen(trailing), "t.json", &j, &err), WHET_ERR_FORMAT);
}

static void test_yaml(void) {
    whet_error err = {0};
    cJSON *y = NULL;
    const char *text = "model: x/y\nlr: 1.0e-4\nlr2: 5e-5\nepochs: 3\nflag: true\nq: 'true'\nnothing:\nlist: [a, b]\n"
                       "nested:\n  k: 1\nname: identity,alpaca_en_demo\n";
    CHECK_OK(whet_yaml_parse(text, strlen(text), "c.yaml", &y, &err), &err);
    CHECK_STR_EQ(cJSON_GetObjectItem(y, "model")->valuestring, "x/y");
    CHECK_NEAR(cJSON_GetObjectItem(y, "lr")->valuedouble, 1e-4, 0, 1e-12);
    CHECK_NEAR(cJSON_GetObjectItem(y, "lr2")->valuedouble, 5e-5, 0, 1e-12);
    CHECK_EQ_INT(cJSON_GetObjectItem(y, "epochs")->valuedouble, 3);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(y, "flag")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(y, "q")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(y, "nothing")));
    CHECK_EQ_INT(cJSON_GetArraySize(cJSON_GetObjectItem(y, "list")), 2);
    CHECK_EQ_INT(cJSON_GetObjectItem(cJSON_GetObjectItem(y, "nested"), "k")->valuedouble, 1);
    CHECK_STR_EQ(cJSON_GetObjectItem(y, "name")->valuestring, "identity,alpaca_en_demo");
    cJSON_Delete(y);
    const char *bad = "a: 1\n  b: [1, 2\n";
    CHECK(whet_yaml_parse(bad, strlen(bad), "bad.yaml", &y, &err) == WHET_ERR_FORMAT);
    CHECK_MSG(strstr(err.msg, "bad.yaml:") != NULL, "%s", err.msg);
    const char *dup = "a: 1\na: 2\n";
    CHECK(whet_yaml_parse(dup, strlen(dup), "dup.yaml", &y, &err) == WHET_ERR_FORMAT);
    CHECK(strstr(err.msg, "twice") != NULL);
}

static void test_atomic(void) {
    whet_error err = {0};
    char dir[] = "/tmp/whet_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    whet_path_join(path, sizeof path, dir, "f.txt");
    CHECK_OK(whet_atomic_write(path, "old", 3, &err), &err);
    whet_atomic_file af;
    CHECK_OK(whet_atomic_open(&af, path, &err), &err);
    fputs("partial", af.fp);
    whet_atomic_abort(&af);
    char *text; size_t len;
    CHECK_OK(whet_read_file(path, &text, &len, &err), &err);
    CHECK_STR_EQ(text, "old");
    free(text);
    CHECK_OK(whet_atomic_write(path, "new", 3, &err), &err);
    CHECK_OK(whet_read_file(path, &text, &len, &err), &err);
    CHECK_STR_EQ(text, "new");
    free(text);
    unlink(path);
    rmdir(dir);
    CHECK_EQ_INT(whet_read_file("/nonexistent/x", &text, &len, &err), WHET_ERR_NOT_FOUND);
}

static void test_rng(void) {
    whet_rng r1, r2;
    whet_rng_seed(&r1, 42);
    whet_rng_seed(&r2, 42);
    int same = 1;
    double mean = 0, var = 0;
    for (int i = 0; i < 20000; i++) {
        if (whet_rng_u64(&r1) != whet_rng_u64(&r2)) same = 0;
        double x = whet_rng_normal(&r1);
        whet_rng_normal(&r2);
        mean += x; var += x * x;
    }
    CHECK(same);
    mean /= 20000; var = var / 20000 - mean * mean;
    CHECK_NEAR(mean, 0, 0.03, 0);
    CHECK_NEAR(var, 1, 0.05, 0);
    uint32_t idx[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, seen = 0;
    whet_rng_shuffle(&r1, idx, 10);
    for (int i = 0; i < 10; i++) seen |= 1u << idx[i];
    CHECK_EQ_INT(seen, 1023);
}

static void test_half(void) {
    /* values whose fp16 / bf16 encodings are known from the IEEE formats */
    CHECK_EQ_INT(whet_f32_to_fp16(1.0f), 0x3c00);
    CHECK_EQ_INT(whet_f32_to_fp16(-2.0f), 0xc000);
    CHECK_EQ_INT(whet_f32_to_fp16(65504.0f), 0x7bff);
    CHECK_EQ_INT(whet_f32_to_fp16(1e6f), 0x7c00);
    CHECK_EQ_INT(whet_f32_to_fp16(5.9604645e-8f), 0x0001);
    CHECK_EQ_INT(whet_f32_to_bf16(1.0f), 0x3f80);
    CHECK_EQ_INT(whet_f32_to_bf16(3.14159265f), 0x4049);
    int ok = 1;
    for (uint32_t h = 0; h < 0x7c00; h++)
        if (whet_f32_to_fp16(whet_fp16_to_f32((uint16_t)h)) != h) ok = 0;
    CHECK(ok);
    /* halfway 1 + 2^-11 rounds to even (1.0) */
    CHECK_EQ_INT(whet_f32_to_fp16(1.0f + 0x1.0p-11f), 0x3c00);
    CHECK_EQ_INT(whet_f32_to_fp16(1.0f + 3 * 0x1.0p-11f), 0x3c02);
}

static void test_strbuf_suggest(void) {
    whet_strbuf sb;
    whet_sb_init(&sb);
    for (int i = 0; i < 1000; i++) whet_sb_printf(&sb, "%d,", i % 10);
    CHECK_EQ_INT(sb.len, 2000);
    char *s = whet_sb_take(&sb);
    CHECK(s && s[0] == '0' && s[1999] == ',');
    free(s);
    const char *keys[] = {"learning_rate", "lora_rank", "num_train_epochs"};
    CHECK_STR_EQ(whet_suggest("learning_rat", keys, 3), "learning_rate");
    CHECK_STR_EQ(whet_suggest("lora_rnak", keys, 3), "lora_rank");
    CHECK(whet_suggest("completely_else", keys, 3) == NULL);
    CHECK_EQ_INT(whet_edit_distance("kitten", "sitting"), 3);
}

int main(void) {
    whet_error err = {0};
    CHECK_EQ_INT(whet_errorf(&err, WHET_ERR_FORMAT, "x %d", 1), WHET_ERR_FORMAT);
    whet_error_prefix(&err, "loading %s", "f");
    CHECK_STR_EQ(err.msg, "loading f: x 1");
    test_threadpool();
    test_arena();
    test_json();
    test_yaml();
    test_atomic();
    test_rng();
    test_half();
    test_strbuf_suggest();
    return TEST_SUMMARY();
}
