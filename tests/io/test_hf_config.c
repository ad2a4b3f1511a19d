/* test_hf_config.c: config.json / generation_config.json of the three tiny
 * fixture models (transformers-5 spelling: rope_parameters) plus hand-written
 * configs in the older spelling (rope_theta + rope_scaling), every rope type,
 * qwen3 / mistral specifics, and the rejections (yarn, unknown model_type,
 * bad head counts, missing keys) with messages that name the key. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "core/file.h"
#include "io/hf_config.h"
#include "test.h"

static char tmpdir[256];

static const char *write_config(const char *sub, const char *file, const char *json) {
    static char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, sub);
    whet_error err = {0};
    whet_mkdirs(dir, &err);
    char p[700];
    snprintf(p, sizeof p, "%s/%s", dir, file);
    FILE *f = fopen(p, "w");
    fputs(json, f);
    fclose(f);
    return dir;
}

#define BASE "\"hidden_size\":64,\"intermediate_size\":160,\"num_hidden_layers\":2,\"num_attention_heads\":4," \
             "\"vocab_size\":512"

static void test_fixtures(void) {
    whet_model_config c;
    whet_error err = {0};
    CHECK_OK(whet_hf_config_load(WHET_FIXTURES "/models/llama-tiny", &c, &err), &err);
    CHECK(c.arch == WHET_ARCH_LLAMA && c.n_kv_heads == 2 && c.head_dim == 16 && !c.tie_word_embeddings);
    CHECK(c.hidden_size == 64 && c.intermediate_size == 160 && c.n_layers == 2 && c.vocab_size == 512);
    CHECK(c.rope_type == WHET_ROPE_DEFAULT && c.rope_theta == 10000.0 && c.bos_token_id == 1);
    CHECK(c.n_eos == 1 && c.eos_token_ids[0] == 2 && c.pad_token_id == -1 && !c.attention_bias);
    CHECK(fabsf(c.rms_norm_eps - 1e-6f) < 1e-12f);
    CHECK_STR_EQ(c.torch_dtype, "float32");

    CHECK_OK(whet_hf_config_load(WHET_FIXTURES "/models/qwen2-tiny", &c, &err), &err);
    CHECK(c.arch == WHET_ARCH_QWEN2 && c.attention_bias && !c.o_bias && c.tie_word_embeddings && c.n_kv_heads == 1);
    CHECK(c.rope_theta == 1e6 && c.bos_token_id == -1 && c.pad_token_id == 480 && c.eos_token_ids[0] == 482);
    CHECK(c.sliding_window == 0);

    CHECK_OK(whet_hf_config_load(WHET_FIXTURES "/models/llama3-tiny", &c, &err), &err);
    CHECK(c.rope_type == WHET_ROPE_LLAMA3 && c.rope_factor == 8.0 && c.rope_theta == 500000.0);
    CHECK(c.rope_low_freq_factor == 1.0 && c.rope_high_freq_factor == 4.0 && c.rope_original_max_pos == 64);
    float f[8], d[8];
    whet_rope_inv_freq(&c, f);
    whet_model_config plain = c;
    plain.rope_type = WHET_ROPE_DEFAULT;
    whet_rope_inv_freq(&plain, d);
    /* wavelength 2pi/f: below 64/4 = 16 untouched, above 64 divided by 8, smoothed between */
    for (int i = 0; i < 8; i++) {
        double wl = 2 * M_PI / d[i];
        if (wl < 16) CHECK(f[i] == d[i]);
        else if (wl > 64) CHECK_NEAR(f[i], d[i] / 8, 0, 1e-6);
        else CHECK(f[i] < d[i] && f[i] > d[i] / 8);
    }
    CHECK(d[0] == 1.0f);
    CHECK_NEAR(d[1], pow(500000.0, -2.0 / 16), 0, 1e-6);

    CHECK_OK(whet_hf_config_load(WHET_SOURCE_DIR "/models/stories260K-hf", &c, &err), &err);
    CHECK(c.n_layers == 5 && c.n_heads == 8 && c.n_kv_heads == 4 && c.head_dim == 8 && c.tie_word_embeddings);
    CHECK(c.rope_type == WHET_ROPE_DEFAULT && fabsf(c.rms_norm_eps - 1e-5f) < 1e-12f);

    whet_generation_config g;
    CHECK_OK(whet_generation_config_load(WHET_FIXTURES "/models/llama3-tiny", &g, &err), &err);
    CHECK(!g.do_sample && g.n_eos == 1 && g.eos_token_ids[0] == 484 && g.top_k == 50 && g.temperature == 1.0f);
}

static void test_old_spelling(void) {
    whet_model_config c;
    whet_error err = {0};
    const char *dir = write_config("linear", "config.json",
        "{\"model_type\":\"llama\"," BASE ",\"num_key_value_heads\":2,\"rope_theta\":10000,"
        "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0},\"eos_token_id\":[7,9],\"torch_dtype\":\"bfloat16\"}");
    CHECK_OK(whet_hf_config_load(dir, &c, &err), &err);
    CHECK(c.rope_type == WHET_ROPE_LINEAR && c.rope_factor == 2.0);
    CHECK(c.n_eos == 2 && c.eos_token_ids[1] == 9);
    CHECK_STR_EQ(c.torch_dtype, "bfloat16");
    CHECK_EQ_INT(c.max_position_embeddings, 2048);
    float f[8], d[8];
    whet_rope_inv_freq(&c, f);
    c.rope_type = WHET_ROPE_DEFAULT;
    whet_rope_inv_freq(&c, d);
    for (int i = 0; i < 8; i++) CHECK(f[i] == d[i] / 2.0f);

    dir = write_config("dynamic", "config.json",
        "{\"model_type\":\"llama\"," BASE ",\"max_position_embeddings\":100,"
        "\"rope_scaling\":{\"rope_type\":\"dynamic\",\"factor\":4.0}}");
    CHECK_OK(whet_hf_config_load(dir, &c, &err), &err);
    CHECK(c.rope_type == WHET_ROPE_DYNAMIC && c.rope_original_max_pos == 100);
    whet_rope_inv_freq_for_len(&c, 50, f);
    whet_rope_inv_freq(&c, d);
    CHECK(memcmp(f, d, sizeof f) == 0);
    whet_rope_inv_freq_for_len(&c, 200, f);
    /* base' = 10000 * (4*200/100 - 3)^(16/14) */
    double base = 10000.0 * pow(5.0, 16.0 / 14.0);
    CHECK_NEAR(f[1], pow(base, -2.0 / 16), 0, 1e-5);
    CHECK(f[0] == 1.0f);
}

static void expect_reject(const char *sub, const char *json, whet_status code, const char *n1, const char *n2) {
    whet_model_config c;
    whet_error err = {0};
    const char *dir = write_config(sub, "config.json", json);
    whet_status s = whet_hf_config_load(dir, &c, &err);
    CHECK_MSG(s == code, "%s: status %d want %d (%s)", sub, s, code, err.msg);
    CHECK_MSG(strstr(err.msg, n1) && (!n2 || strstr(err.msg, n2)), "%s: \"%s\" lacks \"%s\"/\"%s\"", sub, err.msg, n1,
              n2 ? n2 : "");
    CHECK_MSG(strstr(err.msg, "config.json") != NULL, "%s: message does not name the file: %s", sub, err.msg);
    printf("  %-12s -> %s\n", sub, err.msg);
}

static void test_rejections(void) {
    expect_reject("yarn", "{\"model_type\":\"qwen2\"," BASE ",\"rope_scaling\":{\"type\":\"yarn\",\"factor\":4}}",
                  WHET_ERR_UNSUPPORTED, "yarn", "rope_scaling");
    expect_reject("longrope", "{\"model_type\":\"llama\"," BASE ",\"rope_parameters\":{\"rope_type\":\"longrope\"}}",
                  WHET_ERR_UNSUPPORTED, "longrope", "rope_parameters");
    expect_reject("typo", "{\"model_type\":\"lama\"," BASE "}", WHET_ERR_UNSUPPORTED, "\"lama\"", "did you mean \"llama\"");
    expect_reject("gpt2", "{\"model_type\":\"gpt2\"," BASE "}", WHET_ERR_UNSUPPORTED, "gpt2", "supported");
    expect_reject("heads", "{\"model_type\":\"llama\"," BASE ",\"num_key_value_heads\":3}", WHET_ERR_FORMAT,
                  "num_key_value_heads", NULL);
    expect_reject("missing", "{\"model_type\":\"llama\",\"hidden_size\":64}", WHET_ERR_NOT_FOUND, "vocab_size",
                  NULL);
    expect_reject("badtype", "{\"model_type\":\"llama\"," BASE ",\"rms_norm_eps\":\"small\"}", WHET_ERR_FORMAT,
                  "rms_norm_eps", NULL);
    expect_reject("act", "{\"model_type\":\"llama\"," BASE ",\"hidden_act\":\"gelu\"}", WHET_ERR_UNSUPPORTED, "gelu",
                  NULL);
    expect_reject("badjson", "{\"model_type\":\"llama\",,}", WHET_ERR_FORMAT, "malformed JSON", NULL);
    whet_model_config c;
    whet_error err = {0};
    CHECK_EQ_INT(whet_hf_config_load(tmpdir, &c, &err), WHET_ERR_NOT_FOUND);
}

static void test_variants(void) {
    whet_model_config c;
    whet_error err = {0};
    const char *dir = write_config("qwen3", "config.json",
        "{\"model_type\":\"qwen3\"," BASE ",\"head_dim\":32,\"num_key_value_heads\":2,\"attention_bias\":false,"
        "\"rope_theta\":1000000,\"rope_scaling\":null,\"sliding_window\":null,\"use_sliding_window\":false}");
    CHECK_OK(whet_hf_config_load(dir, &c, &err), &err);
    CHECK(c.arch == WHET_ARCH_QWEN3 && c.qk_norm && c.head_dim == 32 && !c.attention_bias && c.sliding_window == 0);
    dir = write_config("mistral", "config.json",
        "{\"model_type\":\"mistral\"," BASE ",\"num_key_value_heads\":1,\"sliding_window\":4096}");
    CHECK_OK(whet_hf_config_load(dir, &c, &err), &err);
    CHECK(c.arch == WHET_ARCH_MISTRAL && c.sliding_window == 4096 && !c.qk_norm);
    dir = write_config("llamabias", "config.json", "{\"model_type\":\"llama\"," BASE ",\"attention_bias\":true}");
    CHECK_OK(whet_hf_config_load(dir, &c, &err), &err);
    CHECK(c.attention_bias && c.o_bias && c.n_kv_heads == 4);

    whet_generation_config g;
    dir = write_config("llamabias", "generation_config.json",
        "{\"do_sample\":true,\"temperature\":0.7,\"top_p\":0.8,\"top_k\":20,\"repetition_penalty\":1.05,"
        "\"eos_token_id\":[151645,151643],\"max_new_tokens\":128}");
    CHECK_OK(whet_generation_config_load(dir, &g, &err), &err);
    CHECK(g.do_sample && fabsf(g.temperature - 0.7f) < 1e-7f && fabsf(g.top_p - 0.8f) < 1e-7f && g.top_k == 20);
    CHECK(fabsf(g.repetition_penalty - 1.05f) < 1e-7f && g.n_eos == 2 && g.eos_token_ids[1] == 151643);
    CHECK(g.max_new_tokens == 128);
    dir = write_config("llamabias", "generation_config.json", "{\"top_p\":1.5}");
    CHECK_EQ_INT(whet_generation_config_load(dir, &g, &err), WHET_ERR_FORMAT);
    CHECK(strstr(err.msg, "generation_config.json") != NULL);
    /* absent file: transformers' defaults */
    CHECK_OK(whet_generation_config_load(tmpdir, &g, &err), &err);
    CHECK(!g.do_sample && g.temperature == 1.0f && g.top_p == 1.0f && g.top_k == 50 && g.n_eos == 0);
}

int main(void) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/whet_test_cfg_XXXXXX");
    if (!mkdtemp(tmpdir)) TEST_SKIP("cannot create a temp dir");
    test_fixtures();
    test_old_spelling();
    test_rejections();
    test_variants();
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmpdir);
    return TEST_SUMMARY();
}
